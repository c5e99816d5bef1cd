// Command cloakroom runs the cloakroom proxy and its helper commands.
//
//	cloakroom serve [flags]     run the proxy (zero config: loopback, embedded store)
//	cloakroom env [flags]       print the environment an agent needs
//	cloakroom run [flags] -- CMD  run a command in that environment
//	cloakroom scan [flags] [PATH...|-]  scan files or stdin for secrets
//	cloakroom approvals ...     see and decide approval requests
//	cloakroom policy ...        evaluate and test a Rego policy
//	cloakroom audit ...         verify and read the audit trail
//	cloakroom version           print the version
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/cloakroom/cloakroom/detect"
	"github.com/cloakroom/cloakroom/internal/redactlog"
	"github.com/cloakroom/cloakroom/proxy"
	"github.com/cloakroom/cloakroom/resolver"
	"github.com/cloakroom/cloakroom/tokenize"
)

// shutdownGrace is how long a stopping proxy waits for requests in flight.
const shutdownGrace = 30 * time.Second

// approvalSweep is how often pending approvals past their time are expired.
const approvalSweep = 10 * time.Second

// builtinPolicyName names the embedded policy in logs and errors.
const builtinPolicyName = "configs/policy.rego (built in)"

// watchPolicy reloads the policy file on SIGHUP and when it changes, until ctx
// ends; a broken edit keeps the last good policy (apply logs it loudly).
func watchPolicy(ctx context.Context, path string, e *resolver.Engine, apply func(error), log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if path != "" {
		go e.Watch(ctx, path, time.Second, apply)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if path == "" {
				log.Info("SIGHUP: the built-in policy is in use (no --policy file), nothing to reload")
				continue
			}
			apply(e.LoadFile(path))
		}
	}
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage: cloakroom <command> [flags]

commands:
  serve     run the proxy (zero config: 127.0.0.1:8080, admin 127.0.0.1:9090, embedded store)
  env [--shell bash|zsh|fish] [--agent NAME --token-file F]
            print the environment lines an agent needs to use the proxy
  run [env flags] [--no-register] -- CMD [ARGS...]
            run a command in that environment; its secret-looking variables
            are registered with the proxy as known values first
  agent add NAME
            make credentials for an agent (a token, and the hash to configure)
  vault export|import [serve flags]
            move tokens between stores, sealed (stdout / stdin)
  scan [--format text|json|sarif] [--config FILE] [--show-secrets] [PATH...|-]
            scan files, directories or stdin for secrets (exit 1 on findings)
  approvals list|show|approve|deny
            see and decide approval requests (through the admin API)
  audit verify|tail
            check the audit trail's hash chain, or read it as a person would
  policy eval|test
            evaluate a policy on an input document, or run its Rego tests
  version   print the version

Run 'cloakroom <command> -h' for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err = serve(ctx, args[1:], stderr)
	case "env":
		err = envCmd(args[1:], stdout, stderr)
	case "run":
		return runCmd(args[1:], stderr)
	case "agent":
		err = agentCmd(args[1:], stdout)
	case "vault":
		err = vaultCmd(context.Background(), args[1:], os.Stdin, stdout, stderr)
	case "scan":
		return scanCmd(args[1:], os.Stdin, stdout, stderr)
	case "policy":
		return policyCmd(args[1:], os.Stdin, stdout, stderr)
	case "approvals":
		return approvalsCmd(args[1:], stdout, stderr)
	case "audit":
		return auditCmd(args[1:], os.Stdin, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "cloakroom", version)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "cloakroom: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "cloakroom:", err)
		return 1
	}
	return 0
}

func agentCmd(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return errors.New("usage: cloakroom agent add [--listen ADDR] NAME")
	}
	fs := flag.NewFlagSet("agent add", flag.ContinueOnError)
	listen := fs.String("listen", defaultListen, "the proxy's listen address, for the proxy URL printed")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: cloakroom agent add [--listen ADDR] NAME")
	}
	name := fs.Arg(0)
	if err := proxy.ValidateAgentName(name); err != nil {
		return fmt.Errorf("agent %q: %w", name, err)
	}
	token, sum, err := proxy.GenerateAgentToken()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, `New credentials for agent %q. The token is shown only here; cloakroom keeps its hash.

1. Add to the agents: list of the config file (then restart cloakroom):

  - name: %s
    token_sha256: %s

2. Give the agent its proxy URL:

  HTTPS_PROXY=http://%s:%s@%s

   or, in gateway mode, the header  %s: %s:%s
`, name, name, sum, name, token, *listen, proxy.AgentHeader, name, token)
	return nil
}

func newLogger(cfg serveConfig, w io.Writer, det *detect.Detector) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	// Second line of defence: whatever the catalog recognises never reaches the log.
	return slog.New(redactlog.New(h, func(s []byte) [][2]int {
		fs := det.Scan(s)
		spans := make([][2]int, len(fs))
		for i, f := range fs {
			spans[i] = [2]int{f.Start, f.End}
		}
		return spans
	}))
}

// serve runs the proxy until ctx ends.
func serve(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, err := parseServe(args)
	if err != nil {
		return err
	}
	det, detectWarnings, err := loadDetector(cfg.Detect)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr, det)
	for _, w := range detectWarnings {
		log.Warn("detection rules", "warning", w)
	}

	dir, err := openDataDir(cfg.DataDir, keySources{
		caCert: cfg.CACert, caKey: cfg.CAKey,
		masterKeyFile: cfg.MasterKeyFile, masterKeyEnv: os.Getenv(masterKeyEnv),
	})
	if err != nil {
		return err
	}
	roots, err := upstreamRoots(cfg.UpstreamCA)
	if err != nil {
		return err
	}
	keys, err := tokenize.NewKeys(dir.master)
	if err != nil {
		return err
	}
	clear(dir.master)
	redis.SetLogger(redisLogger{log})
	st, err := openStore(ctx, cfg, dir)
	if err != nil {
		return err
	}
	defer st.close()
	store := st.vault
	// A replica (or a restart) with another master key would mint tokens the others
	// cannot read: the store remembers the key it was sealed with.
	kctx, kcancel := context.WithTimeout(ctx, 5*time.Second)
	err = tokenize.CheckKey(kctx, store, keys)
	kcancel()
	if errors.Is(err, tokenize.ErrKeyMismatch) {
		return fmt.Errorf("%w. Every replica sharing a store must use the same master key (--master-key-file or %s; see README, Replicas); refusing to start", err, masterKeyEnv)
	}
	if err != nil {
		return err
	}
	vault, err := tokenize.NewVault(tokenize.VaultConfig{Keys: keys, Store: store, CacheSize: cfg.CacheSize})
	if err != nil {
		return err
	}
	auditW, closeAudit, err := openAudit(cfg, st.redis, log)
	if err != nil {
		return err
	}
	defer closeAudit()

	adminToken, err := loadOrCreateAdminToken(cfg.AdminTokenFile, cfg.AdminTokenFile == filepath.Join(cfg.DataDir, adminTokenFile))
	if err != nil {
		return err
	}
	policy := resolver.NewEngine(resolver.EngineOptions{})
	policyErr := loadPolicy(policy, cfg.Policy)
	if policyErr != nil {
		log.Error("POLICY NOT LOADED: every restore, egress and resolve is denied until a valid policy is loaded (fix the file; it is reloaded on change and on SIGHUP)", "err", policyErr)
	}
	captures, err := openCaptures(cfg)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	p, err := proxy.New(proxy.Config{
		Intercept:       cfg.Intercept,
		OtherHosts:      proxy.OtherHosts(cfg.OtherHosts),
		MaxBodyBytes:    cfg.MaxBodyBytes,
		UpstreamRootCAs: roots,
		CA:              dir.ca,
		Agents:          cfg.Agents,
		RequireAuth:     cfg.RequireAuth,
		Gateway:         cfg.Gateway,
		ApprovalHold:    cfg.ApprovalHold,
		ApprovalTTL:     cfg.ApprovalTTL,
		ApprovalWebhook: cfg.Webhook,
		AdminToken:      adminToken,
		AdminAddr:       cfg.Admin,
		ListenAddr:      cfg.Listen,
		DataDir:         cfg.DataDir,
	}, proxy.Deps{
		Detector: det, Known: detect.NewKnownSet(0), Vault: vault,
		Policy: policy, Approvals: st.approvals, Captures: captures,
		Audit: auditW, Logger: log, Registerer: reg,
	})
	if err != nil {
		return err
	}
	defer p.Close()
	applyPolicy := func(err error) {
		p.ObservePolicyLoad(err)
		if err != nil {
			log.Error("POLICY RELOAD FAILED: keeping the last good policy", "version", policy.Version(), "err", err)
			return
		}
		if err := p.SetEgressHosts(policy.EgressHosts()); err != nil {
			log.Error("policy egress_hosts refused", "err", err)
		}
		log.Info("policy loaded", "name", policy.Name(), "version", policy.Version(), "egress_hosts", policy.EgressHosts())
	}
	if policyErr == nil {
		applyPolicy(nil)
	} else {
		p.ObservePolicyLoad(policyErr) // logged above; everything is denied
	}
	go watchPolicy(ctx, cfg.Policy, policy, applyPolicy, log)
	go p.ExpireApprovals(ctx, approvalSweep)
	// Values other replicas tokenize from now on join the known-value set; start
	// listening before loading the ones already stored, so none falls in between.
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() {
		if err := p.WatchKnown(watchCtx); err != nil {
			log.Warn("not hearing of values other replicas tokenize; restart to load them", "err", err)
		}
	}()
	n, err := p.LoadKnown(ctx)
	if err != nil {
		return err
	}

	proxyLn, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("proxy listener: %w", err)
	}
	adminLn, err := net.Listen("tcp", cfg.Admin)
	if err == nil {
		p.SetAdminAddr(adminLn.Addr().String())
	}
	if err != nil {
		proxyLn.Close()
		return fmt.Errorf("admin listener: %w", err)
	}
	errLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	proxySrv := &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 30 * time.Second, ErrorLog: errLog}
	adminSrv := &http.Server{Handler: p.AdminHandler(reg), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
	errc := make(chan error, 2)
	go func() { errc <- proxySrv.Serve(proxyLn) }()
	go func() { errc <- adminSrv.Serve(adminLn) }()

	log.Info("cloakroom serving", "proxy", proxyLn.Addr().String(), "admin", adminLn.Addr().String(),
		"data_dir", cfg.DataDir, "store", storeName(cfg), "known_values", n,
		"intercepted_hosts", len(cfg.Intercept), "other_hosts", cfg.OtherHosts)
	if dir.created {
		fmt.Fprintf(stderr, "\nA new CA was created in %s. Point agents at cloakroom with:\n\n  %s\n\n(the same lines: cloakroom env)\n\n",
			cfg.DataDir, strings.Join(envLines(proxyLn.Addr().String(), cfg.DataDir), "\n  "))
	}

	select {
	case <-ctx.Done():
	case err = <-errc:
		log.Error("listener stopped", "err", err)
	}
	// Stop taking requests, then let the ones in flight (streams included) finish and
	// write their audit records before the store and the audit log close.
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	_ = proxySrv.Shutdown(shutCtx)
	if derr := p.Drain(shutCtx); derr != nil {
		log.Warn("stopping with requests still in flight", "err", derr)
	}
	_ = adminSrv.Shutdown(shutCtx)
	log.Info("cloakroom stopped")
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func storeName(cfg serveConfig) string {
	if cfg.RedisURL != "" {
		return "redis"
	}
	return "embedded"
}

// stores are what openStore opens: the vault's store and the approval store, on
// Redis when configured, else embedded in the data dir.
type stores struct {
	vault     tokenize.Store
	approvals resolver.ApprovalStore
	redis     redis.UniversalClient // the client both use, nil for the embedded stores
	close     func()
}

// openStore opens Redis when configured, else the embedded stores in the data dir.
func openStore(ctx context.Context, cfg serveConfig, dir *dataDir) (stores, error) {
	if cfg.RedisURL == "" {
		s, err := tokenize.OpenBolt(dir.file(storeFile))
		if err != nil {
			return stores{}, err
		}
		a, err := resolver.NewBoltApprovals(dir.file(approvalsFile))
		if err != nil {
			_ = s.Close()
			return stores{}, err
		}
		return stores{vault: s, approvals: a, close: func() { _ = a.Close(); _ = s.Close() }}, nil
	}
	client, addr, err := redisClient(cfg.RedisMode, cfg.RedisURL)
	if err != nil {
		return stores{}, err
	}
	s := tokenize.NewRedisStore(client, cfg.RedisPrefix)
	s.TTL = cfg.TokenTTL
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.Ping(pctx); err != nil {
		_ = client.Close()
		return stores{}, fmt.Errorf("redis at %s does not answer: %w", addr, err)
	}
	a := resolver.NewRedisApprovals(client, cfg.RedisPrefix)
	return stores{vault: s, approvals: a, redis: client, close: func() { _ = s.Close() }}, nil
}

// redisClient builds the client of a Redis deployment from its URL. Parse errors
// are described without the URL, which may hold a password.
func redisClient(mode, rawURL string) (redis.UniversalClient, string, error) {
	switch mode {
	case "sentinel":
		o, err := redis.ParseFailoverURL(rawURL)
		if err != nil || o.MasterName == "" {
			return nil, "", errors.New("redis: a sentinel URL names the sentinels and the master: redis://[user:password@]sentinel:26379/0?master_name=NAME&addr=sentinel2:26379")
		}
		o.ContextTimeoutEnabled = true
		o.DialTimeout, o.MaxRetries, o.DialerRetries = orDefault(o.DialTimeout, redisDialTimeout), orRetries(o.MaxRetries), orRetries(o.DialerRetries)
		return redis.NewFailoverClient(o), strings.Join(o.SentinelAddrs, ","), nil
	case "cluster":
		o, err := redis.ParseClusterURL(rawURL)
		if err != nil {
			return nil, "", errors.New("redis: a cluster URL names seed nodes: redis://[user:password@]node1:6379?addr=node2:6379&addr=node3:6379")
		}
		o.ContextTimeoutEnabled = true
		o.DialTimeout, o.MaxRetries, o.DialerRetries = orDefault(o.DialTimeout, redisDialTimeout), orRetries(o.MaxRetries), orRetries(o.DialerRetries)
		return redis.NewClusterClient(o), strings.Join(o.Addrs, ","), nil
	default:
		o, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, "", errors.New("redis: the URL does not parse (redis://[user:password@]host:port/db, rediss:// for TLS)")
		}
		o.ContextTimeoutEnabled = true
		o.DialTimeout, o.MaxRetries, o.DialerRetries = orDefault(o.DialTimeout, redisDialTimeout), orRetries(o.MaxRetries), orRetries(o.DialerRetries)
		return redis.NewClient(o), o.Addr, nil
	}
}

// Redis client settings when the URL sets none. Requests wait on the vault, so an
// unreachable Redis must be told quickly (a refusal in about a second, not the
// library's default of several retries of several dials), and every call honours
// its context's deadline (the proxy gives each one vault call timeout).
const (
	redisDialTimeout = time.Second
	redisRetries     = 1
)

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func orRetries(n int) int {
	if n == 0 {
		return redisRetries
	}
	return n
}

// redisLogger sends go-redis's own messages (reconnects, dial failures: addresses,
// never values) to slog at debug level instead of its global stderr logger.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.Debug("redis", "msg", fmt.Sprintf(format, v...))
}

// upstreamRoots returns the system roots (SSL_CERT_FILE honoured by crypto/x509) plus
// any --upstream-ca files.
func upstreamRoots(files []string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("upstream CA: %w", err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("upstream CA %s: no PEM certificate found", f)
		}
	}
	return pool, nil
}
