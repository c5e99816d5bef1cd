// Package proxy wires cloakroom together: a goproxy forward proxy that intercepts TLS
// to model API hosts with cloakroom's own CA, redacts request bodies (decode, walk,
// scan, tokenize, splice), restores allowed tokens in responses (JSON and SSE, event
// by event), and serves the admin endpoints. It refuses, in the provider's own error
// format, anything it cannot decode, parse, scan or store: nothing unscanned leaves.
package proxy

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/elazarl/goproxy"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloakroom/cloakroom/detect"
	"github.com/cloakroom/cloakroom/internal/audit"
	"github.com/cloakroom/cloakroom/resolver"
	"github.com/cloakroom/cloakroom/tokenize"
)

// Defaults for Config fields left zero.
const (
	DefaultMaxBodyBytes = 64 << 20
	DefaultPrincipal    = "default"
	// KnownRuleID names findings of values already in the vault that no pattern matched.
	KnownRuleID = "known-value"
	// VaultCallTimeout bounds each vault call a request makes: a store that does not
	// answer in time refuses the request (503 vault) rather than holding it.
	VaultCallTimeout = 2 * time.Second
)

// Config is the proxy's runtime configuration.
type Config struct {
	// Intercept lists the hosts whose TLS is intercepted and whose bodies are redacted.
	// Nil means DefaultIntercept.
	Intercept []string
	// OtherHosts says what happens to every other host. Empty means Tunnel.
	OtherHosts OtherHosts
	// MaxBodyBytes caps a request body, encoded and decoded. Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// UpstreamRootCAs verifies upstream TLS. Nil means the system roots.
	UpstreamRootCAs *x509.CertPool
	// CA signs the certificates presented to agents. Required.
	CA *CA
	// Dial, when set, opens every upstream connection (intercepted requests and
	// tunnels) instead of a plain net.Dialer. Tests point it at a fake upstream;
	// zero means dial the real host.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Agents are the agent credentials the proxy accepts. Empty: none configured,
	// and a user name in the proxy URL is taken as the principal as declared.
	Agents []Agent
	// RequireAuth refuses requests without valid agent credentials (407 on the
	// proxy, 401 on gateway routes). It needs Agents.
	RequireAuth bool
	// ScanCacheEntries sizes the cache of scan results for long strings, which makes a
	// resent conversation cost only its new content. Zero means
	// DefaultScanCacheEntries; negative turns the cache off.
	ScanCacheEntries int
	// Gateway maps base-URL routes on the proxy listener to upstream https origins.
	// Nil means DefaultGateway; an empty map turns gateway mode off.
	Gateway map[string]string
	// ApprovalHold is how long a request whose token needs a human approval waits
	// for one before it is refused; zero refuses at once (the agent retries).
	ApprovalHold time.Duration
	// ApprovalTTL is how long an approval request stays pending. Zero means
	// resolver's default.
	ApprovalTTL time.Duration
	// ApprovalWebhook, when set, receives a Slack-compatible JSON POST for every new
	// approval request. It may hold a secret (Slack's URLs do): it is never logged.
	ApprovalWebhook string
	// AdminToken is the credential of approvers on the admin API (Bearer). Empty
	// turns the approvals API off. Agent credentials never pass for it.
	AdminToken string
	// AdminAddr is the admin listener's address: the proxy refuses to carry
	// requests to it, so an agent cannot reach the admin API through the proxy.
	AdminAddr string
	// ListenAddr and DataDir are the proxy listener's address and the data
	// directory, shown on the console's setup page. Empty: the defaults are shown.
	ListenAddr string
	DataDir    string
}

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.CA == nil {
		errs = append(errs, errors.New("proxy: a CA is required"))
	}
	if c.MaxBodyBytes < 0 {
		errs = append(errs, errors.New("proxy: max body bytes must not be negative"))
	}
	switch c.OtherHosts {
	case "", Tunnel, Block:
	default:
		errs = append(errs, fmt.Errorf("proxy: other hosts must be %q or %q, not %q", Tunnel, Block, c.OtherHosts))
	}
	if _, err := newHostMatcher(c.intercept()); err != nil {
		errs = append(errs, err)
	}
	_, gwErrs := parseGateway(c.gateway())
	errs = append(errs, gwErrs...)
	errs = append(errs, validateAgents(c.Agents, c.RequireAuth)...)
	if c.ApprovalHold < 0 || c.ApprovalTTL < 0 {
		errs = append(errs, errors.New("proxy: approval hold and approval TTL must not be negative"))
	}
	if c.ApprovalWebhook != "" {
		if err := validWebhook(c.ApprovalWebhook); err != nil {
			errs = append(errs, err)
		}
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		errs = append(errs, errors.New("proxy: the admin token must be at least 16 characters"))
	}
	return errors.Join(errs...)
}

func (c Config) intercept() []string {
	if c.Intercept == nil {
		return DefaultIntercept
	}
	return c.Intercept
}

// Deps are the parts the proxy uses. Detector, Known and Vault are required.
type Deps struct {
	Detector *detect.Detector
	Known    *detect.KnownSet
	Vault    *tokenize.Vault
	// Policy decides restores, egress injection and the leak guard. Nil means
	// resolver.SubmitterOnly.
	Policy resolver.Policy
	// Approvals keeps approval requests and grants. Nil: a decision that asks for
	// an approval is a refusal, and the approvals API is off.
	Approvals resolver.ApprovalStore
	// Audit receives one record per intercepted request. Nil discards them.
	Audit *audit.Writer
	// Logger receives one line per intercepted request. Nil discards.
	Logger *slog.Logger
	// Registerer receives the proxy's metrics. Nil means a private registry.
	Registerer prometheus.Registerer
	// Captures, when set, keeps every model request's body as it went upstream
	// (tokens, never secrets), for the console. Nil: prompt capture is off.
	Captures Captures
}

// Proxy is cloakroom's forward proxy. It is safe for concurrent use.
type Proxy struct {
	cfg         Config
	maxBody     int64
	hosts       *hostMatcher
	gp          *goproxy.ProxyHttpServer
	transport   *http.Transport   // upstreams[0]: goproxy's plain-HTTP path, clones
	upstreams   []*http.Transport // requests spread over these (see upstreamPool)
	next        atomic.Uint32
	wsTransport *http.Transport
	detector    *detect.Detector
	known       *detect.KnownSet
	vault       *tokenize.Vault
	policy      resolver.Policy
	resolver    *resolver.Resolver
	approvals   resolver.ApprovalStore
	egress      atomic.Pointer[hostMatcher]
	knownQuota  knownQuota
	adminAddr   atomic.Pointer[adminTarget]
	audit       *audit.Writer
	log         *slog.Logger
	metrics     *metrics
	auth        *authenticator
	scans       *scanCache // nil: off
	gw          map[string]gatewayRoute
	mitm        *mitm
	inflight    sync.WaitGroup // intercepted requests not yet finished
	feed        feed           // recent traffic, for the console
	captures    Captures
}

// New builds a Proxy.
func New(cfg Config, deps Deps) (*Proxy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Detector == nil || deps.Known == nil || deps.Vault == nil {
		return nil, errors.New("proxy: detector, known-value set and vault are required")
	}
	hosts, _ := newHostMatcher(cfg.intercept())
	gw, _ := parseGateway(cfg.gateway())
	p := &Proxy{
		cfg:       cfg,
		maxBody:   cfg.MaxBodyBytes,
		hosts:     hosts,
		detector:  deps.Detector,
		known:     deps.Known,
		vault:     deps.Vault,
		policy:    deps.Policy,
		approvals: deps.Approvals,
		audit:     deps.Audit,
		log:       deps.Logger,
		auth:      newAuthenticator(cfg.Agents, cfg.RequireAuth),
		gw:        gw,
		captures:  deps.Captures,
	}
	if p.maxBody == 0 {
		p.maxBody = DefaultMaxBodyBytes
	}
	if p.cfg.OtherHosts == "" {
		p.cfg.OtherHosts = Tunnel
	}
	if p.policy == nil {
		p.policy = resolver.SubmitterOnly
	}
	if p.audit == nil {
		p.audit = audit.Discard()
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	reg := deps.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	p.metrics = newMetrics(reg)
	registerVaultMetrics(reg, p.vault)
	p.registerStateMetrics(reg)
	res, err := resolver.NewResolver(resolver.ResolverConfig{
		Policy:      p.policy,
		Approvals:   deps.Approvals,
		Hold:        cfg.ApprovalHold,
		ApprovalTTL: cfg.ApprovalTTL,
		OnEvent:     p.onDecision,
		Announce:    p.newAnnouncer(cfg.ApprovalWebhook),
		OnError: func(err error) {
			p.log.Warn("resolver: a policy evaluation or approvals background work failed", "err", err)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	p.resolver = res
	p.SetAdminAddr(cfg.AdminAddr)
	for range upstreamPool {
		p.upstreams = append(p.upstreams, newTransport(cfg.UpstreamRootCAs, p.dial))
	}
	p.transport = p.upstreams[0]
	// WebSocket handshakes are HTTP/1.1 upgrades: a transport that never offers h2.
	p.wsTransport = p.transport.Clone()
	p.wsTransport.ForceAttemptHTTP2 = false
	p.wsTransport.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	p.wsTransport.TLSClientConfig.NextProtos = []string{"http/1.1"}
	p.gp = p.newGoproxy()
	switch n := cfg.ScanCacheEntries; {
	case n == 0:
		p.scans = newScanCache(DefaultScanCacheEntries)
	case n > 0:
		p.scans = newScanCache(n)
	}
	p.mitm = p.newMITM()
	return p, nil
}

// upstreamPool is how many upstream transports requests are spread over. Each
// speaks HTTP/2 on one connection per host, and every agent's requests multiplexed
// on a single connection queue behind each other's bodies: a few connections let
// concurrent agents upload in parallel, as they would without the proxy.
const upstreamPool = 4

// upstream returns the transport for the next request.
func (p *Proxy) upstream() *http.Transport {
	return p.upstreams[p.next.Add(1)%uint32(len(p.upstreams))]
}

// newTransport returns the upstream transport: TLS always verified, no proxy from
// the environment (an agent's HTTPS_PROXY pointing at us must not loop).
func newTransport(roots *x509.CertPool, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           dial,
		TLSClientConfig:       &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   15 * time.Second,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

func (p *Proxy) newGoproxy() *goproxy.ProxyHttpServer {
	gp := goproxy.NewProxyHttpServer()
	gp.Logger = goproxyLogger{p.log}
	gp.Tr = p.transport
	gp.ConnectDial = nil // dial directly, never through an environment proxy
	gp.ConnectDialWithReq = func(req *http.Request, network, addr string) (net.Conn, error) {
		return p.dial(req.Context(), network, addr)
	}
	gp.NonproxyHandler = http.HandlerFunc(p.serveGateway)
	gp.OnRequest().HandleConnectFunc(p.onConnect)
	gp.OnRequest().DoFunc(p.onRequest)
	return gp
}

// Handler returns the proxy's HTTP handler, to be served on the proxy listener.
func (p *Proxy) Handler() http.Handler { return p.gp }

// Close closes every decrypted agent connection at once and releases idle upstream
// connections. Drain first for a graceful stop.
func (p *Proxy) Close() {
	_ = p.resolver.Close()
	p.mitm.ln.Close()
	_ = p.mitm.srv.Close()
	<-p.mitm.done
	for _, t := range p.upstreams {
		t.CloseIdleConnections()
	}
	p.wsTransport.CloseIdleConnections()
}

// Drain stops taking new intercepted tunnels, closes idle decrypted connections and
// waits until every intercepted request has finished (its response fully relayed
// and its audit record written) or ctx ends. Call it after the listener has stopped
// and before closing the store and the audit log.
func (p *Proxy) Drain(ctx context.Context) error {
	if err := p.mitm.shutdown(ctx); err != nil {
		return fmt.Errorf("drain: agent connections still busy: %w", err)
	}
	return p.Wait(ctx)
}

// Wait waits until no intercepted request is in flight: every response fully
// relayed and its audit record written. The proxy keeps serving.
func (p *Proxy) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { p.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("drain: requests still in flight: %w", ctx.Err())
	}
}

// LoadKnown fills the known-value set from the vault, so values tokenized before a
// restart are still replaced wherever they appear.
func (p *Proxy) LoadKnown(ctx context.Context) (int, error) {
	n := 0
	err := p.vault.Each(ctx, func(e tokenize.Entry) error {
		p.known.Add(e.Value.Bytes(), e.Class, KnownRuleID)
		n++
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("load known values: %w", err)
	}
	return n, nil
}

// WatchKnown adds to the known-value set every value another replica sharing the
// store tokenizes from now on, until ctx ends. It returns at once when the store is
// not shared.
func (p *Proxy) WatchKnown(ctx context.Context) error {
	return p.vault.Watch(ctx, func(e tokenize.Entry) {
		p.known.Add(e.Value.Bytes(), e.Class, KnownRuleID)
		e.Value.Zero()
	}, func(err error) {
		p.log.Warn("a value tokenized by another replica could not be loaded", "err", err)
	})
}

// dial opens an upstream connection.
func (p *Proxy) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if p.cfg.Dial != nil {
		return p.cfg.Dial(ctx, network, addr)
	}
	d := net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second,
		// Checked again on the address actually dialled: a name that resolved
		// elsewhere when the request was checked (DNS rebinding) must not reach
		// the admin listener either.
		Control: func(_, address string, _ syscall.RawConn) error {
			if p.adminAddr.Load().is(address) {
				return errAdminTarget
			}
			return nil
		}}
	return d.DialContext(ctx, network, addr)
}

// connState is what a CONNECT leaves for the requests inside its tunnel.
type connState struct {
	principal string
	label     string // metrics label of the principal
	client    string
	target    string // host:port the agent CONNECTed to
	egress    bool   // an egress host: tokens injected, leak guard, no redaction
}

func (p *Proxy) onConnect(host string, pctx *goproxy.ProxyCtx) (*goproxy.ConnectAction, string) {
	id, err := p.auth.identify(pctx.Req.Header, false)
	if err != nil {
		p.metrics.requests.WithLabelValues(hostLabel(p.hosts, host), labelRefused, outcomeRefused).Inc()
		p.log.Warn("agent credentials refused", "client", pctx.Req.RemoteAddr, "host", normalizeHost(host), "reason", err.Error())
		return &goproxy.ConnectAction{Action: goproxy.ConnectHijack, Hijack: func(_ *http.Request, c net.Conn, _ *goproxy.ProxyCtx) {
			writeRaw(c, http.StatusProxyAuthRequired, err.Error()+"\n", http.Header{"Proxy-Authenticate": {proxyAuthChallenge}})
		}}, host
	}
	if p.adminAddr.Load().is(host) {
		p.metrics.requests.WithLabelValues("other", id.label, outcomeBlocked).Inc()
		p.log.Warn("refused a tunnel to the admin listener", "client", pctx.Req.RemoteAddr, "principal", id.principal)
		return &goproxy.ConnectAction{Action: goproxy.ConnectHijack, Hijack: func(_ *http.Request, c net.Conn, _ *goproxy.ProxyCtx) {
			writeRaw(c, http.StatusForbidden, adminRefusedMessage, nil)
		}}, host
	}
	if _, ok := p.hosts.match(host); ok || p.isEgress(host) {
		cs := &connState{principal: id.principal, label: id.label, client: pctx.Req.RemoteAddr, target: host, egress: !ok}
		return &goproxy.ConnectAction{Action: goproxy.ConnectHijack, Hijack: p.hijackIntercept(cs)}, host
	}
	if p.cfg.OtherHosts == Block {
		p.metrics.requests.WithLabelValues("other", id.label, outcomeBlocked).Inc()
		return &goproxy.ConnectAction{Action: goproxy.ConnectHijack, Hijack: func(_ *http.Request, c net.Conn, _ *goproxy.ProxyCtx) {
			writeRaw(c, http.StatusForbidden, blockedMessage, nil)
		}}, host
	}
	p.metrics.requests.WithLabelValues("other", id.label, outcomeTunnelled).Inc()
	return goproxy.OkConnect, host
}

const blockedMessage = "cloakroom: this host is not on the intercept list and other hosts are blocked\n"

// hostLabel is the metrics label of a host: its intercept pattern, or "other".
func hostLabel(m *hostMatcher, host string) string {
	if pattern, ok := m.match(host); ok {
		return pattern
	}
	return "other"
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

// goproxyLogger sends goproxy's own messages to slog at debug level with query
// strings cut out (some providers take API keys in the query).
type goproxyLogger struct{ log *slog.Logger }

var queryPart = regexp.MustCompile(`\?[^\s"']*`)

func (l goproxyLogger) Printf(format string, v ...any) {
	if !l.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	l.log.Debug("goproxy", "msg", queryPart.ReplaceAllString(fmt.Sprintf(format, v...), "?[query removed]"))
}
