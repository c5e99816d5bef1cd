package proxy_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cloakroom/cloakroom/detect"
	"github.com/cloakroom/cloakroom/internal/audit"
	"github.com/cloakroom/cloakroom/internal/fakeapi"
	"github.com/cloakroom/cloakroom/proxy"
	"github.com/cloakroom/cloakroom/resolver"
	"github.com/cloakroom/cloakroom/tokenize"
)

// syncBuffer is a bytes.Buffer safe for concurrent writers and readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness runs a real proxy in front of the fake upstream, with the real detector,
// vault and an embedded (or given) store.
type harness struct {
	t        *testing.T
	up       *fakeapi.Server
	p        *proxy.Proxy
	srv      *httptest.Server
	caPool   *x509.CertPool
	vault    *tokenize.Vault
	store    tokenize.Store
	logs     *syncBuffer
	audit    *syncBuffer
	reg      *prometheus.Registry
	canaries []string
	// injectHost is an egress host where values are meant to arrive (after
	// approval); its requests are checked by the tests themselves.
	injectHost string
}

type harnessOpts struct {
	cfg       proxy.Config
	det       detect.Config // detector configuration (zero: the built-in catalog)
	store     tokenize.Store
	up        fakeapi.Options
	policy    resolver.Policy // nil: resolver.SubmitterOnly
	approvals resolver.ApprovalStore
	captures  proxy.Captures // prompt capture, for the console (nil: off)
}

var testMasterKey = bytes.Repeat([]byte{7}, 32)

func newHarness(t *testing.T, o harnessOpts) *harness {
	t.Helper()
	h := &harness{t: t, logs: &syncBuffer{}, audit: &syncBuffer{}, reg: prometheus.NewRegistry()}
	h.up = fakeapi.Start(t, o.up)
	certPEM, keyPEM, err := proxy.GenerateCA("cloakroom test CA")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := proxy.NewCA(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	h.caPool = x509.NewCertPool()
	h.caPool.AppendCertsFromPEM(certPEM)
	det, err := detect.New(o.det)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := tokenize.NewKeys(testMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	h.store = o.store
	if h.store == nil {
		s, err := tokenize.OpenBolt(filepath.Join(t.TempDir(), "vault.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		h.store = s
	}
	h.vault, err = tokenize.NewVault(tokenize.VaultConfig{Keys: keys, Store: h.store})
	if err != nil {
		t.Fatal(err)
	}
	cfg := o.cfg
	cfg.CA = ca
	if cfg.Dial == nil { // else the test brings its own upstream
		cfg.UpstreamRootCAs = h.up.RootCAs
		cfg.Dial = h.up.Dial
	}
	logger := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.p, err = proxy.New(cfg, proxy.Deps{
		Detector: det, Known: detect.NewKnownSet(0), Vault: h.vault,
		Policy: o.policy, Approvals: o.approvals,
		Audit: audit.New(h.audit), Logger: logger, Registerer: h.reg,
		Captures: o.captures,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(h.p.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.p.Drain(ctx); err != nil {
			t.Error(err)
		}
		h.srv.Close()
		h.p.Close()
		h.assertNoLeaks()
	})
	return h
}

// client returns an HTTP client that goes through the proxy as principal (empty:
// anonymous), trusting only the proxy's CA, as an agent with HTTPS_PROXY would.
func (h *harness) client(principal string) *http.Client {
	return clientAs(h.t, h.srv, principal, tlsConfig(h.caPool))
}

// plant registers secret values that must never show up in logs, audit, metrics or
// upstream requests.
func (h *harness) plant(values ...string) { h.canaries = append(h.canaries, values...) }

// assertNoLeaks greps every sink the secrets could reach.
func (h *harness) assertNoLeaks() {
	h.t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(h.reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	sinks := map[string]string{"logs": h.logs.String(), "audit": h.audit.String(), "metrics": rec.Body.String()}
	var upstream strings.Builder
	for _, r := range h.up.Requests() {
		if h.injectHost != "" && r.Host == h.injectHost {
			continue
		}
		upstream.WriteString(r.RawQuery)
		for k, vs := range r.Header {
			upstream.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
		}
		upstream.Write(r.Body)
	}
	sinks["upstream"] = upstream.String()
	for name, text := range sinks {
		for _, c := range h.canaries {
			for _, form := range leakForms(c) {
				if strings.Contains(text, form) {
					h.t.Errorf("planted secret (%d bytes) reached the %s", len(c), name)
				}
			}
		}
	}
}

// leakForms are the ways a secret could appear in text: as is, JSON-escaped, and for
// multi-line secrets each long line alone.
func leakForms(secret string) []string {
	forms := []string{secret}
	esc, _ := json.Marshal(secret)
	forms = append(forms, string(esc[1:len(esc)-1]))
	for _, line := range strings.Split(secret, "\n") {
		if len(line) >= 24 && !strings.HasPrefix(line, "-----") {
			forms = append(forms, line)
		}
	}
	return forms
}

// tokenFor returns the token the vault holds for value.
func (h *harness) tokenFor(value string) string {
	h.t.Helper()
	tok, err := h.vault.Tokenize(context.Background(), []byte(value), "secret", "test", "test-lookup")
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// drain waits until every request the proxy took is finished, audit record and log
// line included (they are written when the response body ends, which may trail the
// client a little).
func (h *harness) drain() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.p.Wait(ctx); err != nil {
		h.t.Fatal(err)
	}
}

// auditRecords returns the audit records of every finished request.
func (h *harness) auditRecords() []audit.Record {
	h.t.Helper()
	h.drain()
	var out []audit.Record
	for _, line := range strings.Split(strings.TrimSpace(h.audit.String()), "\n") {
		if line == "" {
			continue
		}
		var r audit.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			h.t.Fatalf("audit line is not JSON: %v", err)
		}
		if r.Type == audit.TypeRequest {
			out = append(out, r)
		}
	}
	return out
}

func post(t *testing.T, c *http.Client, u string, header http.Header, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// secrets are realistic values of the kinds the foundation catalog must catch.
type secrets struct {
	AWSKeyID, AWSSecret, GitHub, PEM, PGPassword string
}

func (s secrets) all() []string {
	return []string{s.AWSKeyID, s.AWSSecret, s.GitHub, s.PEM, s.PGPassword}
}

// prompt is the text an agent sends: every secret in its usual context.
func (s secrets) prompt() string {
	return "Deploy with these settings:\n" +
		"AWS_ACCESS_KEY_ID=" + s.AWSKeyID + "\n" +
		"AWS_SECRET_ACCESS_KEY=" + s.AWSSecret + "\n" +
		"GITHUB_TOKEN=" + s.GitHub + "\n" +
		"DATABASE_URL=postgres://app:" + s.PGPassword + "@db.internal:5432/prod\n" +
		"and this key:\n" + s.PEM + "\nThanks!"
}

func newSecrets(t *testing.T) secrets {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return secrets{
		AWSKeyID:   "AKIA" + randomFrom(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
		AWSSecret:  randomFrom(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 40),
		GitHub:     githubToken(t),
		PEM:        strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))),
		PGPassword: randomFrom(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 20),
	}
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// githubToken makes a classic token with a valid checksum, as GitHub's own are.
func githubToken(t *testing.T) string {
	body := randomFrom(t, base62, 30)
	return "ghp_" + body + detect.GitHubChecksum(body)
}

func randomFrom(t *testing.T, alphabet string, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func mustDetector(t *testing.T) *detect.Detector {
	t.Helper()
	d, err := detect.New(detect.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func newKnown() *detect.KnownSet { return detect.NewKnownSet(0) }

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// clientVia returns an anonymous client that uses srv as its HTTPS proxy with the
// given TLS config.
func clientVia(t *testing.T, srv *httptest.Server, cfg *tls.Config) *http.Client {
	return clientAs(t, srv, "", cfg)
}

// clientAs is clientVia for principal (empty: anonymous).
func clientAs(t *testing.T, srv *httptest.Server, principal string, cfg *tls.Config) *http.Client {
	u, _ := url.Parse(srv.URL)
	if principal != "" {
		u.User = url.UserPassword(principal, "agent-password")
	}
	tr := &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}
