package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cloakroom/cloakroom/detect"
	"github.com/cloakroom/cloakroom/proxy"
)

// Defaults of `cloakroom serve`.
const (
	defaultTokenTTL  = 30 * 24 * time.Hour
	defaultListen    = "127.0.0.1:8080"
	defaultAdmin     = "127.0.0.1:9090"
	defaultCacheSize = 10000
	defaultLogLevel  = "info"
	defaultLogFormat = "text"
	defaultApprTTL   = time.Hour
)

// fileConfig is the YAML schema of --config. Pointer fields tell "unset" from "zero".
type fileConfig struct {
	Listen       *string  `yaml:"listen"`
	Admin        *string  `yaml:"admin"`
	DataDir      *string  `yaml:"data_dir"`
	UpstreamCA   []string `yaml:"upstream_ca"`
	MaxBodyBytes *int64   `yaml:"max_body_bytes"`
	Hosts        struct {
		Intercept []string `yaml:"intercept"`
		Add       []string `yaml:"add"`
		Other     *string  `yaml:"other"`
	} `yaml:"hosts"`
	Redis struct {
		URL      *string `yaml:"url"`
		Prefix   *string `yaml:"prefix"`
		Mode     *string `yaml:"mode"`
		TokenTTL *string `yaml:"token_ttl"`
	} `yaml:"redis"`
	CacheSize *int `yaml:"cache_size"`
	Log       struct {
		Level  *string `yaml:"level"`
		Format *string `yaml:"format"`
	} `yaml:"log"`
	AuditLog      *string           `yaml:"audit_log"`
	CACert        *string           `yaml:"ca_cert"`
	CAKey         *string           `yaml:"ca_key"`
	MasterKeyFile *string           `yaml:"master_key_file"`
	Agents        []fileAgent       `yaml:"agents"`
	RequireAuth   *bool             `yaml:"require_auth"`
	Gateway       map[string]string `yaml:"gateway"`
	Detect        detect.FileConfig `yaml:"detect"`
	Policy        *string           `yaml:"policy"`
	Approvals     struct {
		Hold    *string `yaml:"hold"`
		TTL     *string `yaml:"ttl"`
		Webhook *string `yaml:"webhook"`
	} `yaml:"approvals"`
	AdminTokenFile *string `yaml:"admin_token_file"`

	fileAudit `yaml:",inline"` // audit_max_bytes, audit_keep, audit_redis, audit_redis_maxlen, capture
}

// fileAgent is one entry of agents: in the config file.
type fileAgent struct {
	Name        string `yaml:"name"`
	TokenSHA256 string `yaml:"token_sha256"`
}

// serveConfig is the resolved configuration of `cloakroom serve`.
type serveConfig struct {
	Listen         string
	Admin          string
	DataDir        string
	UpstreamCA     []string
	MaxBodyBytes   int64
	Intercept      []string
	OtherHosts     string
	RedisURL       string
	RedisPrefix    string
	RedisMode      string        // standalone, sentinel or cluster
	TokenTTL       time.Duration // Redis: a token unused this long expires; 0 never
	CacheSize      int
	LogLevel       string
	LogFormat      string
	AuditLog       string
	CACert         string // shared CA instead of the data directory's
	CAKey          string
	MasterKeyFile  string // shared master key instead of the data directory's
	Agents         []proxy.Agent
	RequireAuth    bool
	Gateway        map[string]string
	Detect         detect.FileConfig // gitleaks_config resolved against the config file's directory
	Policy         string            // Rego policy file; empty: the embedded default
	ApprovalHold   time.Duration     // how long a request waits for an approval
	ApprovalTTL    time.Duration     // how long an approval request stays pending
	Webhook        string            // approval announcements (Slack-compatible)
	AdminTokenFile string            // approvers' admin API token

	// The audit trail and prompt capture (flags and checks in audit.go).
	AuditMaxBytes    int64         // rotate the audit file before it passes this size; 0 never
	AuditKeep        int           // rotated audit files kept
	AuditRedis       bool          // with Redis configured, also append to the stream <prefix>audit
	AuditRedisMaxLen int64         // about how many entries the stream keeps
	Capture          bool          // keep each request body as it went upstream (redacted)
	CaptureMaxAge    time.Duration // captures older than this are deleted
	CaptureMaxBytes  int64         // past this total, the oldest captures are deleted
}

// stringList is a repeatable or comma-separated flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*s = append(*s, part)
		}
	}
	return nil
}

// parseServe reads flags, then the YAML file they name, and merges: flags set on the
// command line win over the file, the file wins over defaults.
func parseServe(args []string) (serveConfig, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var (
		cfgPath    = fs.String("config", "", "YAML config file (see configs/cloakroom.yaml)")
		listen     = fs.String("listen", defaultListen, "proxy listen address")
		admin      = fs.String("admin", defaultAdmin, "admin listen address (/healthz, /readyz, /metrics)")
		dataDir    = fs.String("data-dir", defaultDataDir(), "data directory (CA, master key, embedded store, audit log)")
		maxBody    = fs.Int64("max-body-bytes", proxy.DefaultMaxBodyBytes, "largest request body scanned, in bytes; larger ones are refused with 413")
		other      = fs.String("other-hosts", string(proxy.Tunnel), "what to do with hosts that are not intercepted: tunnel or block")
		redisURL   = fs.String("redis", "", "Redis URL (redis:// or rediss://) for a store shared by replicas; empty = embedded store in the data dir")
		redisPfx   = fs.String("redis-prefix", "cloakroom:", "prefix of every Redis key")
		redisMode  = fs.String("redis-mode", "standalone", "standalone, sentinel (the URL names the sentinels and ?master_name=) or cluster (the URL names seed nodes, more with &addr=)")
		tokenTTL   = fs.String("token-ttl", defaultTokenTTL.String(), "Redis: a token neither stored nor read for this long expires (refreshed on use); 0 keeps tokens forever")
		cacheSize  = fs.Int("cache-size", defaultCacheSize, "entries in the in-memory token cache")
		logLevel   = fs.String("log-level", defaultLogLevel, "debug, info, warn or error")
		logFormat  = fs.String("log-format", defaultLogFormat, "text or json")
		auditLog   = fs.String("audit-log", "", "audit log file (JSON lines); default <data-dir>/audit.jsonl, '-' for stdout")
		caCert     = fs.String("ca-cert", "", "CA certificate (PEM) shared by replicas, instead of the data directory's own; needs --ca-key")
		caKey      = fs.String("ca-key", "", "CA private key (PEM, owner-only file) for --ca-cert")
		masterFile = fs.String("master-key-file", "", "master key file (base64 of 32 bytes, owner-only) shared by replicas; default: "+masterKeyEnv+" if set, else <data-dir>/master.key")
		reqAuth    = fs.Bool("require-auth", false, "refuse requests without valid agent credentials (407); agents are configured in the --config file")
		policy     = fs.String("policy", "", "Rego policy file, reloaded on SIGHUP and on change; default: the built-in policy (configs/policy.rego)")
		apprHold   = fs.String("approval-hold", "0s", "how long a request whose token needs an approval waits for one before it is refused (403 naming the approval); 0 answers at once")
		apprTTL    = fs.String("approval-ttl", defaultApprTTL.String(), "how long an approval request stays pending before it expires")
		webhook    = fs.String("approval-webhook", "", "URL that receives a Slack-compatible JSON POST for every new approval request")
		adminTok   = fs.String("admin-token-file", "", "file holding the approvers' admin API token (owner-only); default <data-dir>/admin.token, made on first start")
		upstreamCA stringList
		intercept  stringList
	)
	fs.Var(&upstreamCA, "upstream-ca", "extra PEM CA file trusted for upstream TLS (repeatable)")
	fs.Var(&intercept, "intercept", "extra host to intercept, e.g. llm.internal.example or *.example.ai (repeatable, comma-separated)")
	auditFlags := addAuditFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: cloakroom serve [flags]\n\nRuns the proxy. Every flag can also be set in the --config file.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return serveConfig{}, err
	}
	if fs.NArg() > 0 {
		return serveConfig{}, fmt.Errorf("serve takes no arguments, got %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var fc fileConfig
	if *cfgPath != "" {
		b, err := os.ReadFile(*cfgPath)
		if err != nil {
			return serveConfig{}, fmt.Errorf("read config: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
			return serveConfig{}, fmt.Errorf("config %s: %w", *cfgPath, err)
		}
	}
	c := serveConfig{
		Listen:         pick(set, "listen", *listen, fc.Listen),
		Admin:          pick(set, "admin", *admin, fc.Admin),
		DataDir:        pick(set, "data-dir", *dataDir, fc.DataDir),
		OtherHosts:     pick(set, "other-hosts", *other, fc.Hosts.Other),
		RedisURL:       pick(set, "redis", *redisURL, fc.Redis.URL),
		RedisPrefix:    pick(set, "redis-prefix", *redisPfx, fc.Redis.Prefix),
		RedisMode:      pick(set, "redis-mode", *redisMode, fc.Redis.Mode),
		LogLevel:       pick(set, "log-level", *logLevel, fc.Log.Level),
		LogFormat:      pick(set, "log-format", *logFormat, fc.Log.Format),
		AuditLog:       pick(set, "audit-log", *auditLog, fc.AuditLog),
		CACert:         pick(set, "ca-cert", *caCert, fc.CACert),
		CAKey:          pick(set, "ca-key", *caKey, fc.CAKey),
		MasterKeyFile:  pick(set, "master-key-file", *masterFile, fc.MasterKeyFile),
		Policy:         pick(set, "policy", *policy, fc.Policy),
		Webhook:        pick(set, "approval-webhook", *webhook, fc.Approvals.Webhook),
		AdminTokenFile: pick(set, "admin-token-file", *adminTok, fc.AdminTokenFile),
		MaxBodyBytes:   pick(set, "max-body-bytes", *maxBody, fc.MaxBodyBytes),
		CacheSize:      pick(set, "cache-size", *cacheSize, fc.CacheSize),
	}
	ttlText := pick(set, "token-ttl", *tokenTTL, fc.Redis.TokenTTL)
	ttl, err := time.ParseDuration(ttlText)
	if err != nil || ttl < 0 {
		return serveConfig{}, fmt.Errorf("token_ttl: want a duration such as 720h or 0 (never), got %q", ttlText)
	}
	c.TokenTTL = ttl
	for _, d := range []struct {
		key, flagName, flagVal string
		file                   *string
		dst                    *time.Duration
	}{
		{"approvals.hold", "approval-hold", *apprHold, fc.Approvals.Hold, &c.ApprovalHold},
		{"approvals.ttl", "approval-ttl", *apprTTL, fc.Approvals.TTL, &c.ApprovalTTL},
	} {
		text := pick(set, d.flagName, d.flagVal, d.file)
		v, err := time.ParseDuration(text)
		if err != nil || v < 0 {
			return serveConfig{}, fmt.Errorf("%s: want a duration such as 30s or 1h, got %q", d.key, text)
		}
		*d.dst = v
	}
	if err := auditFlags.resolve(&c, set, fc.fileAudit); err != nil {
		return serveConfig{}, err
	}
	c.RequireAuth = pick(set, "require-auth", *reqAuth, fc.RequireAuth)
	for _, a := range fc.Agents {
		c.Agents = append(c.Agents, proxy.Agent{Name: a.Name, TokenSHA256: strings.ToLower(a.TokenSHA256)})
	}
	// Gateway entries add to the built-in routes or replace one; "" removes a route.
	c.Gateway = maps.Clone(proxy.DefaultGateway)
	for name, origin := range fc.Gateway {
		if origin == "" {
			delete(c.Gateway, name)
		} else {
			c.Gateway[name] = origin
		}
	}
	c.Detect = resolveDetectPaths(*cfgPath, fc.Detect)
	c.UpstreamCA = append(append([]string{}, fc.UpstreamCA...), upstreamCA...)
	if fc.Hosts.Intercept != nil {
		c.Intercept = append([]string{}, fc.Hosts.Intercept...)
	} else {
		c.Intercept = append([]string{}, proxy.DefaultIntercept...)
	}
	c.Intercept = append(append(c.Intercept, fc.Hosts.Add...), intercept...)
	c.DataDir = expandHome(c.DataDir)
	c.CACert, c.CAKey, c.MasterKeyFile = expandHome(c.CACert), expandHome(c.CAKey), expandHome(c.MasterKeyFile)
	c.Policy, c.AdminTokenFile = expandHome(c.Policy), expandHome(c.AdminTokenFile)
	if c.AdminTokenFile == "" {
		c.AdminTokenFile = filepath.Join(c.DataDir, adminTokenFile)
	}
	if c.AuditLog == "" {
		c.AuditLog = filepath.Join(c.DataDir, "audit.jsonl")
	}
	return c, c.validate()
}

func (c serveConfig) validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("listen: an address is required"))
	}
	if c.Admin == "" {
		errs = append(errs, errors.New("admin: an address is required"))
	}
	if (c.CACert == "") != (c.CAKey == "") {
		errs = append(errs, errors.New("ca_cert and ca_key go together: give both or neither"))
	}
	if c.Listen != "" && c.Listen == c.Admin && !strings.HasSuffix(c.Listen, ":0") { // two ":0" are two ports
		errs = append(errs, errors.New("listen and admin must differ"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir: no directory given and no home directory found"))
	}
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, fmt.Errorf("max_body_bytes must be positive, got %d", c.MaxBodyBytes))
	}
	if c.CacheSize <= 0 {
		errs = append(errs, fmt.Errorf("cache_size must be positive, got %d", c.CacheSize))
	}
	if len(c.Intercept) == 0 {
		errs = append(errs, errors.New("hosts.intercept is empty: cloakroom would intercept nothing (leave it out for the built-in list)"))
	}
	if c.OtherHosts != string(proxy.Tunnel) && c.OtherHosts != string(proxy.Block) {
		errs = append(errs, fmt.Errorf("other hosts must be tunnel or block, got %q", c.OtherHosts))
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") && !strings.HasPrefix(c.RedisURL, "unix://") {
		errs = append(errs, errors.New("redis: URL must start with redis://, rediss:// or unix://"))
	}
	switch c.RedisMode {
	case "standalone", "sentinel", "cluster":
	default:
		errs = append(errs, fmt.Errorf("redis mode must be standalone, sentinel or cluster, got %q", c.RedisMode))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log level must be debug, info, warn or error, got %q", c.LogLevel))
	}
	if c.ApprovalTTL == 0 {
		errs = append(errs, errors.New("approvals.ttl must be positive"))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log format must be text or json, got %q", c.LogFormat))
	}
	errs = append(errs, c.validateAudit()...)
	return errors.Join(errs...)
}

// defaultDataDir is $XDG_DATA_HOME/cloakroom, else ~/.local/share/cloakroom.
func defaultDataDir() string {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "cloakroom")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".local", "share", "cloakroom")
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	return p
}

// pick is a setting's value: the flag's when it was given on the command line (set
// holds the names of those) or the config file has none, else the file's.
func pick[T any](set map[string]bool, name string, flagVal T, fileVal *T) T {
	if !set[name] && fileVal != nil {
		return *fileVal
	}
	return flagVal
}
