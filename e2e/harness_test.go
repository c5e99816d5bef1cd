package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
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

// harness is a real cloakroom proxy, served on loopback, in front of the fake
// upstream, with the real detector, vault (embedded store), audit and metrics.
type harness struct {
	t      *testing.T
	up     *fakeapi.Server
	p      *proxy.Proxy
	srv    *httptest.Server
	keys   *tokenize.Keys
	caPool *x509.CertPool
	// CAFile is cloakroom's CA alone (NODE_EXTRA_CA_CERTS); BundleFile is the system
	// roots plus that CA (SSL_CERT_FILE, CODEX_CA_CERTIFICATE), as `cloakroom serve`
	// writes them into its data directory.
	CAFile, BundleFile string
	logs, audit        *syncBuffer
	reg                *prometheus.Registry

	mu       sync.Mutex
	seen     []string // what the proxy listener was asked, in order
	canaries []string
}

// masterKey is the deployment key of every harness.
var masterKey = bytes.Repeat([]byte{7}, 32)

// systemRoots are the places Debian and friends keep their root bundle.
var systemRoots = []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"}

// newHarness starts the fake upstream and a proxy in front of it, built exactly as
// proxy/harness_test.go builds one. Hosts outside the intercept list are refused
// (Block) so that a client's side traffic (telemetry, update checks) fails fast on
// this offline machine instead of reaching the fake through the shared dialer.
func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, logs: &syncBuffer{}, audit: &syncBuffer{}, reg: prometheus.NewRegistry()}
	h.up = fakeapi.Start(t, fakeapi.Options{})
	certPEM, keyPEM, err := proxy.GenerateCA("cloakroom e2e CA")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := proxy.NewCA(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	h.caPool = x509.NewCertPool()
	h.caPool.AppendCertsFromPEM(certPEM)
	h.writeCAFiles(certPEM)

	det, err := detect.New(detect.Config{})
	if err != nil {
		t.Fatal(err)
	}
	h.keys, err = tokenize.NewKeys(masterKey)
	if err != nil {
		t.Fatal(err)
	}
	store, err := tokenize.OpenBolt(filepath.Join(t.TempDir(), "vault.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	vault, err := tokenize.NewVault(tokenize.VaultConfig{Keys: h.keys, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.p, err = proxy.New(proxy.Config{
		CA:              ca,
		Dial:            h.up.Dial,
		UpstreamRootCAs: h.up.RootCAs,
		OtherHosts:      proxy.Block,
	}, proxy.Deps{
		Detector: det, Known: detect.NewKnownSet(0), Vault: vault,
		Audit: audit.New(h.audit), Logger: logger, Registerer: h.reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	inner := h.p.Handler()
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.note(r)
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.p.Drain(ctx); err != nil {
			t.Errorf("drain: %v", err)
		}
		h.srv.Close()
		h.p.Close()
		h.assertNoLeaks()
	})
	return h
}

// writeCAFiles writes the CA and the bundle into a temporary directory.
func (h *harness) writeCAFiles(certPEM []byte) {
	dir := h.t.TempDir()
	h.CAFile = filepath.Join(dir, "ca.pem")
	h.BundleFile = filepath.Join(dir, "ca-bundle.pem")
	var bundle []byte
	for _, f := range systemRoots {
		if b, err := os.ReadFile(f); err == nil {
			bundle = append(b, '\n')
			break
		}
	}
	bundle = append(bundle, certPEM...)
	if err := os.WriteFile(h.CAFile, certPEM, 0o644); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(h.BundleFile, bundle, 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// note records what the proxy listener was asked: "CONNECT host:port" for tunnels,
// "METHOD host/path" for plain requests (gateway routes). Query strings are cut.
func (h *harness) note(r *http.Request) {
	s := r.Method + " " + r.Host
	if r.Method != http.MethodConnect {
		s += r.URL.Path
	}
	h.mu.Lock()
	h.seen = append(h.seen, s)
	h.mu.Unlock()
}

// Seen returns what the proxy listener was asked, in order.
func (h *harness) Seen() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.seen...)
}

// ProxyURL is the proxy listener's address as HTTPS_PROXY takes it.
func (h *harness) ProxyURL() string { return h.srv.URL }

// plant registers secret values that must never show up upstream, nor in logs, audit
// records or metrics.
func (h *harness) plant(values ...string) {
	h.mu.Lock()
	h.canaries = append(h.canaries, values...)
	h.mu.Unlock()
}

// upstreamText is everything the fake upstream received: paths, queries, headers and
// raw bodies.
func (h *harness) upstreamText() string {
	var b strings.Builder
	for _, r := range h.up.Requests() {
		b.WriteString(r.Method + " " + r.Host + r.Path + "?" + r.RawQuery + "\n")
		for k, vs := range r.Header {
			b.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
		}
		b.Write(r.Body)
		b.WriteString("\n")
	}
	return b.String()
}

// assertNoLeaks greps every sink a secret could reach for the planted values.
func (h *harness) assertNoLeaks() {
	h.t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(h.reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	sinks := map[string]string{
		"upstream": h.upstreamText(),
		"logs":     h.logs.String(),
		"audit":    h.audit.String(),
		"metrics":  rec.Body.String(),
	}
	h.mu.Lock()
	canaries := append([]string(nil), h.canaries...)
	h.mu.Unlock()
	for name, text := range sinks {
		for _, c := range canaries {
			for _, form := range leakForms(c) {
				if strings.Contains(text, form) {
					h.t.Errorf("planted secret (%d bytes) reached the %s", len(c), name)
				}
			}
		}
	}
}

// leakForms are the ways a secret could appear in text: as is and JSON-escaped.
func leakForms(secret string) []string {
	esc, _ := json.Marshal(secret)
	if e := string(esc[1 : len(esc)-1]); e != secret {
		return []string{secret, e}
	}
	return []string{secret}
}

// token is the token cloakroom mints for value in class.
func (h *harness) token(class, value string) string {
	return tokenize.Token{Class: class, ID: h.keys.ID([]byte(value))}.String()
}

// assertTokenized checks that the upstream received both of c's tokens in at least one
// request whose path contains path. (assertNoLeaks checks that it never saw the values.)
func (h *harness) assertTokenized(c canary, path string) {
	h.t.Helper()
	found := false
	for _, r := range h.up.Requests() {
		if !strings.Contains(r.Path, path) {
			continue
		}
		if bytes.Contains(r.Body, []byte(h.token(detect.ClassGitHub, c.GitHub))) &&
			bytes.Contains(r.Body, []byte(h.token(detect.ClassAWS, c.AWSSecret))) {
			found = true
		}
	}
	if !found {
		h.t.Errorf("no upstream request to %s carried both tokens; upstream saw %q", path, h.upstreamPaths())
	}
}

// assertKeySent checks that every upstream request whose path contains path carried
// the client's API key (Authorization, X-Api-Key or X-Goog-Api-Key), as a client
// configured the way a user configures it must send it, and that there was one.
func (h *harness) assertKeySent(path string) {
	h.t.Helper()
	n := 0
	for _, r := range h.up.Requests() {
		if !strings.Contains(r.Path, path) {
			continue
		}
		n++
		if got := r.Header.Get("Authorization") + r.Header.Get("X-Api-Key") + r.Header.Get("X-Goog-Api-Key"); !strings.Contains(got, fakeAPIKey) {
			h.t.Errorf("%s %s reached the upstream without the API key (got %q)", r.Method, r.Path, got)
		}
	}
	if n == 0 {
		h.t.Errorf("no upstream request to %s; upstream saw %q", path, h.upstreamPaths())
	}
}

// upstreamPaths lists "METHOD host/path" of every request the fake received.
func (h *harness) upstreamPaths() []string {
	var out []string
	for _, r := range h.up.Requests() {
		out = append(out, r.Method+" "+r.Host+r.Path)
	}
	return out
}

// auditRecords returns the audit records of every finished request.
func (h *harness) auditRecords() []audit.Record {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.p.Drain(ctx); err != nil {
		h.t.Fatal(err)
	}
	var out []audit.Record
	for _, line := range strings.Split(strings.TrimSpace(h.audit.String()), "\n") {
		if line == "" {
			continue
		}
		var r audit.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			h.t.Fatalf("audit line is not JSON: %v", err)
		}
		if r.Type == audit.TypeRequest { // decision records are checked elsewhere
			out = append(out, r)
		}
	}
	return out
}

// canary is a pair of realistic secrets in the places a user pastes them.
type canary struct {
	GitHub    string // classic personal access token with a valid checksum
	AWSSecret string // AWS secret access key
}

// newCanary makes fresh secrets and plants them in h.
func newCanary(h *harness) canary {
	h.t.Helper()
	body := randomFrom(h.t, base62, 30)
	c := canary{
		GitHub:    "ghp_" + body + detect.GitHubChecksum(body),
		AWSSecret: randomFrom(h.t, base62+"+/", 40),
	}
	h.plant(c.GitHub, c.AWSSecret)
	return c
}

// Prompt is the user text holding both secrets.
func (c canary) Prompt() string {
	return "Deploy with GITHUB_TOKEN=" + c.GitHub + " and AWS_SECRET_ACCESS_KEY=" + c.AWSSecret + " then say done."
}

// assertRestored checks that text holds both real values and no token.
func (c canary) assertRestored(t *testing.T, what, text string) {
	t.Helper()
	if !strings.Contains(text, c.GitHub) || !strings.Contains(text, c.AWSSecret) {
		t.Errorf("%s: the real secrets are not in what the client received (%d bytes, tokens: %v)", what, len(text), tokenize.Contains([]byte(text)))
	}
	if spans := tokenize.Find([]byte(text)); len(spans) > 0 {
		t.Errorf("%s: got %d tokens left in what the client received, want 0", what, len(spans))
	}
}

// redact replaces the canary's values in s, for failure messages.
func (c canary) redact(s string) string {
	return strings.NewReplacer(c.GitHub, "<github canary>", c.AWSSecret, "<aws canary>").Replace(s)
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

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
