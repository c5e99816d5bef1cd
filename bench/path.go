package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloakroom/cloakroom/detect"
	"github.com/cloakroom/cloakroom/internal/audit"
	"github.com/cloakroom/cloakroom/internal/fakeapi"
	"github.com/cloakroom/cloakroom/proxy"
	"github.com/cloakroom/cloakroom/tokenize"
)

// Mode is one path from a client to the fake upstream.
type Mode string

// The paths a PathRig compares.
const (
	// Direct: client → fake upstream over TLS.
	Direct Mode = "direct"
	// Tunnel: client → a cloakroom proxy that does not intercept the host (a plain
	// CONNECT tunnel, the client's TLS goes through to the fake) → fake.
	Tunnel Mode = "tunnel"
	// Cloakroom: client → cloakroom intercepting the host (TLS termination, redact,
	// vault, restore, a second TLS hop) → fake.
	Cloakroom Mode = "cloakroom"
)

// Modes are the paths in the order they are reported.
var Modes = []Mode{Direct, Tunnel, Cloakroom}

// Seed is the corpus seed of the path benchmarks and of cmd/pathbench.
const Seed = 20250303

// MessagesURL is the endpoint every path request posts to.
const MessagesURL = "https://api.anthropic.com/v1/messages"

// notIntercepted is the only host the tunnel proxy intercepts, so that
// api.anthropic.com is tunnelled.
const notIntercepted = "nothing-intercepted.invalid"

// PathRig is the fake upstream (internal/fakeapi), a cloakroom proxy intercepting
// it, a cloakroom proxy tunnelling it, and keep-alive clients for every Mode. Both
// proxies are the production ones: default detector catalog, known-value set, vault
// on an embedded bbolt store in a temp directory, audit and text logs to io.Discard,
// fresh Prometheus registries. Its methods are safe for concurrent use as long as
// concurrent callers use different client numbers.
type PathRig struct {
	// Fake is the upstream.
	Fake *fakeapi.Server
	// Vault is the intercepting proxy's vault.
	Vault *tokenize.Vault

	clients map[Mode][]*http.Client
}

// PathOptions tune a PathRig.
type PathOptions struct {
	// Clients is the number of clients per mode, each with its own transport and
	// connection (as separate agents would have). Zero means 1.
	Clients int
	// MaxBodyBytes is the proxies' body limit. Zero means proxy.DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// NoScanCache turns the proxy's scan cache off, so every request is scanned
	// cold, as a body never seen before is (the rig resends the same bodies).
	NoScanCache bool
}

// NewPathRig starts the fake upstream and both proxies, and stops them in
// tb.Cleanup. It fails tb if something cannot be set up.
func NewPathRig(tb testing.TB, opts PathOptions) *PathRig {
	tb.Helper()
	n := max(opts.Clients, 1)
	fake := fakeapi.Start(tb, fakeapi.Options{Chunk: 4096, WholeWrites: true})
	ca, pool := newBenchCA(tb)
	det := newDetector(tb)
	vault := newBenchVault(tb)
	deps := func() proxy.Deps { return quietDeps(det, vault) }
	base := proxy.Config{CA: ca, UpstreamRootCAs: fake.RootCAs, Dial: fake.Dial, MaxBodyBytes: opts.MaxBodyBytes}
	if opts.NoScanCache {
		base.ScanCacheEntries = -1
	}
	intercepting := base
	tunnelling := base
	tunnelling.Intercept = []string{notIntercepted}
	tunnelling.OtherHosts = proxy.Tunnel
	interceptURL := serveProxy(tb, intercepting, deps())
	tunnelURL := serveProxy(tb, tunnelling, deps())

	r := &PathRig{Fake: fake, Vault: vault, clients: map[Mode][]*http.Client{}}
	for range n {
		// HTTP/1.1 with keep-alive everywhere, as agents speak through HTTPS_PROXY. The
		// tunnel client trusts only the fake's CA and the cloakroom client only
		// cloakroom's, so a tunnel that intercepted, or an intercept that tunnelled,
		// fails its TLS handshake.
		r.clients[Direct] = append(r.clients[Direct], newClient(tb, &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: fake.RootCAs}, DialContext: fake.Dial}))
		r.clients[Tunnel] = append(r.clients[Tunnel], newClient(tb, &http.Transport{
			Proxy: http.ProxyURL(tunnelURL), TLSClientConfig: &tls.Config{RootCAs: fake.RootCAs}}))
		r.clients[Cloakroom] = append(r.clients[Cloakroom], newClient(tb, &http.Transport{
			Proxy: http.ProxyURL(interceptURL), TLSClientConfig: &tls.Config{RootCAs: pool}}))
	}
	return r
}

// newBenchCA returns a fresh CA for the proxies of a rig and a pool trusting it.
func newBenchCA(tb testing.TB) (*proxy.CA, *x509.CertPool) {
	tb.Helper()
	certPEM, keyPEM, err := proxy.GenerateCA("cloakroom bench CA")
	if err != nil {
		tb.Fatal(err)
	}
	ca, err := proxy.NewCA(certPEM, keyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return ca, pool
}

func newDetector(tb testing.TB) *detect.Detector {
	tb.Helper()
	det, err := detect.New(detect.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	return det
}

// benchMasterKey is the master key of every bench vault.
var benchMasterKey = bytes.Repeat([]byte{7}, 32)

// newBenchVault returns a vault on a fresh embedded store, closed at cleanup.
func newBenchVault(tb testing.TB) *tokenize.Vault {
	tb.Helper()
	keys, err := tokenize.NewKeys(benchMasterKey)
	if err != nil {
		tb.Fatal(err)
	}
	store, err := tokenize.OpenBolt(filepath.Join(tb.TempDir(), "vault.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = store.Close() })
	vault, err := tokenize.NewVault(tokenize.VaultConfig{Keys: keys, Store: store})
	if err != nil {
		tb.Fatal(err)
	}
	return vault
}

// quietDeps are a proxy's parts for benchmarks: audit and logs discarded, a
// registry of its own.
func quietDeps(det *detect.Detector, vault *tokenize.Vault) proxy.Deps {
	return proxy.Deps{
		Detector: det, Known: detect.NewKnownSet(0), Vault: vault,
		Audit:      audit.New(io.Discard),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registerer: prometheus.NewRegistry(),
	}
}

func serveProxy(tb testing.TB, cfg proxy.Config, deps proxy.Deps) *url.URL {
	tb.Helper()
	p, err := proxy.New(cfg, deps)
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(p.Handler())
	tb.Cleanup(func() {
		srv.Close()
		p.Close()
	})
	u, err := url.Parse(srv.URL)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

func newClient(tb testing.TB, tr *http.Transport) *http.Client {
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// Clients returns the number of clients per mode.
func (r *PathRig) Clients() int { return len(r.clients[Direct]) }

// Sample is one finished request.
type Sample struct {
	// First is the time from sending to the end of the first SSE event (streams) or
	// to the first byte of the response body (anything else).
	First time.Duration
	// Total is the time from sending to the last byte of the response body.
	Total time.Duration
	// NewConn is true when the request could not reuse a kept-alive connection.
	NewConn bool
}

// Send posts body to MessagesURL on mode with client number client (0 to
// Clients()-1) and reads the whole response. It first clears the fake's records, so
// that long runs do not pile up bodies.
func (r *PathRig) Send(ctx context.Context, mode Mode, client int, body []byte) (Sample, error) {
	cs := r.clients[mode]
	if client < 0 || client >= len(cs) {
		return Sample{}, fmt.Errorf("no client %d of mode %q", client, mode)
	}
	r.Fake.Reset()
	var reused atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { reused.Store(i.Reused) },
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, MessagesURL, bytes.NewReader(body))
	if err != nil {
		return Sample{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("anthropic-version", "2023-06-01")
	start := time.Now()
	resp, err := cs[client].Do(req)
	if err != nil {
		return Sample{}, err
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if err := readFirst(br, resp.Header.Get("Content-Type")); err != nil {
		return Sample{}, err
	}
	first := time.Since(start)
	if _, err := io.Copy(io.Discard, br); err != nil {
		return Sample{}, fmt.Errorf("read body: %w", err)
	}
	total := time.Since(start)
	if resp.StatusCode != http.StatusOK {
		return Sample{}, fmt.Errorf("%s: status %d (X-Cloakroom-Error %q)", mode, resp.StatusCode, resp.Header.Get("X-Cloakroom-Error"))
	}
	return Sample{First: first, Total: total, NewConn: !reused.Load()}, nil
}

// readFirst reads the first SSE event (up to its blank line) of an event stream, or
// the first byte of any other body.
func readFirst(br *bufio.Reader, contentType string) error {
	if !strings.HasPrefix(contentType, "text/event-stream") {
		if _, err := br.Peek(1); err != nil {
			return fmt.Errorf("read first byte: %w", err)
		}
		return nil
	}
	for midLine := false; ; {
		line, err := br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("read first event: %w", err)
		}
		if err == nil && !midLine && len(bytes.TrimRight(line, "\r\n")) == 0 {
			return nil
		}
		midLine = err != nil // the line goes on past the buffer
	}
}

// Run is what a batch of requests on one mode measured.
type Run struct {
	// Samples are the requests, in the order they finished.
	Samples []Sample
	// Wall is the wall time of the batches, summed.
	Wall time.Duration
}

// add appends the samples and wall time of o.
func (r *Run) add(o Run) {
	r.Samples = append(r.Samples, o.Samples...)
	r.Wall += o.Wall
}

// Throughput returns requests per second over the run's wall time.
func (r Run) Throughput() float64 {
	if r.Wall <= 0 {
		return 0
	}
	return float64(len(r.Samples)) / r.Wall.Seconds()
}

// NewConns returns how many requests opened a new connection.
func (r Run) NewConns() int {
	n := 0
	for _, s := range r.Samples {
		if s.NewConn {
			n++
		}
	}
	return n
}

// Totals returns the Total of every sample.
func (r Run) Totals() []time.Duration {
	out := make([]time.Duration, len(r.Samples))
	for i, s := range r.Samples {
		out[i] = s.Total
	}
	return out
}

// Firsts returns the First of every sample.
func (r Run) Firsts() []time.Duration {
	out := make([]time.Duration, len(r.Samples))
	for i, s := range r.Samples {
		out[i] = s.First
	}
	return out
}

// Measure sends body n times on mode from clients concurrent clients (clients 0 to
// clients-1, each sending its share in turn) and returns the samples and the wall
// time from the first send to the last response. It stops at the first error.
func (r *PathRig) Measure(ctx context.Context, mode Mode, body []byte, n, clients int) (Run, error) {
	clients = min(max(clients, 1), r.Clients())
	var (
		mu      sync.Mutex
		samples = make([]Sample, 0, n)
		next    atomic.Int64
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				s, err := r.Send(ctx, mode, c, body)
				if err != nil {
					errOnce.Do(func() { first = err; cancel() })
					return
				}
				mu.Lock()
				samples = append(samples, s)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	if first != nil {
		return Run{}, first
	}
	return Run{Samples: samples, Wall: wall}, nil
}

// WarmUp sends body a few times on every client of mode, so that connections, the
// proxy's leaf certificate, vault entries and known values are in place before
// anything is measured (the first sight of a secret writes to the store).
func (r *PathRig) WarmUp(ctx context.Context, mode Mode, body []byte) error {
	for c := range r.Clients() {
		for range 3 {
			if _, err := r.Send(ctx, mode, c, body); err != nil {
				return fmt.Errorf("warm up: %w", err)
			}
		}
	}
	return nil
}
