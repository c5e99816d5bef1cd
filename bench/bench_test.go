package bench

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/cloakroom/cloakroom/internal/fakeapi"
	"github.com/cloakroom/cloakroom/proxy"
	"github.com/cloakroom/cloakroom/tokenize"
)

// seed fixes the corpus of every benchmark.
const seed = 20250303

const messagesURL = "https://api.anthropic.com/v1/messages"

var sizes = []struct {
	name  string
	bytes int
}{{"10KB", 10 << 10}, {"100KB", 100 << 10}, {"1MB", 1 << 20}, {"10MB", 10 << 20}}

// rig is the fake upstream with a real proxy in front of it (real detector, vault on
// an embedded bbolt store, audit and log writing to io.Discard), and a client for
// each path.
type rig struct {
	fake    *fakeapi.Server
	vault   *tokenize.Vault
	clients map[string]*http.Client // "direct" and "proxy"
}

// modes are the two paths compared by every benchmark, in this order.
var modes = []string{"direct", "proxy"}

func newRig(tb testing.TB) *rig {
	tb.Helper()
	fake := fakeapi.Start(tb, fakeapi.Options{Chunk: 4096, WholeWrites: true})
	ca, pool := newBenchCA(tb)
	vault := newBenchVault(tb)
	proxyURL := serveProxy(tb, proxy.Config{CA: ca, UpstreamRootCAs: fake.RootCAs, Dial: fake.Dial}, quietDeps(newDetector(tb), vault))
	// Both clients speak HTTP/1.1 with keep-alive, as agents do through HTTPS_PROXY.
	direct := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: fake.RootCAs}, DialContext: fake.Dial}
	proxied := &http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: pool}}
	tb.Cleanup(direct.CloseIdleConnections)
	tb.Cleanup(proxied.CloseIdleConnections)
	return &rig{fake: fake, vault: vault, clients: map[string]*http.Client{
		"direct": {Transport: direct},
		"proxy":  {Transport: proxied},
	}}
}

// result is one finished request.
type result struct {
	ttfb  time.Duration // until the first byte of the response body
	total time.Duration // until the last byte of the response body
	body  []byte
}

// send posts body to the Anthropic Messages endpoint and reads the whole response.
// It first clears the fake's records, so that long runs do not pile up bodies and
// r.fake.Last() is this request as the upstream received it.
func (r *rig) send(mode string, body []byte) (result, error) {
	r.fake.Reset()
	req, err := http.NewRequest(http.MethodPost, messagesURL, bytes.NewReader(body))
	if err != nil {
		return result{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("anthropic-version", "2023-06-01")
	start := time.Now()
	resp, err := r.clients[mode].Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	var first [1]byte
	if _, err := io.ReadFull(resp.Body, first[:]); err != nil {
		return result{}, fmt.Errorf("read first byte: %w", err)
	}
	ttfb := time.Since(start)
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, fmt.Errorf("read body: %w", err)
	}
	total := time.Since(start)
	if resp.StatusCode != http.StatusOK {
		return result{}, fmt.Errorf("status %d (X-Cloakroom-Error %q)", resp.StatusCode, resp.Header.Get("X-Cloakroom-Error"))
	}
	return result{ttfb: ttfb, total: total, body: append(first[:], rest...)}, nil
}

// quantileMS returns the q-quantile (nearest rank) of ds in milliseconds.
func quantileMS(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(max(int(math.Ceil(q*float64(len(s))))-1, 0), len(s)-1)
	return float64(s[i]) / float64(time.Millisecond)
}

// warmUp sends body once on mode (connections, leaf certificate, vault entries) and
// collects the garbage of earlier benchmarks, so that neither is measured.
func (r *rig) warmUp(b *testing.B, mode string, body []byte) {
	b.Helper()
	if _, err := r.send(mode, body); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
}

func reportLatency(b *testing.B, prefix string, ds []time.Duration) {
	b.ReportMetric(quantileMS(ds, 0.50), prefix+"p50-ms")
	b.ReportMetric(quantileMS(ds, 0.99), prefix+"p99-ms")
}

// BenchmarkProxyRoundTrip sends the same non-streaming request straight to the fake
// upstream and through the proxy. The difference is what the proxy adds: TLS
// termination and a second TLS hop, reading the whole body, walking and scanning it,
// tokenizing the planted secrets (vault cache hits after the warm-up request),
// splicing, and restoring the (small) response.
func BenchmarkProxyRoundTrip(b *testing.B) {
	rg := newRig(b)
	c := New(seed)
	for _, sz := range sizes {
		b.Run(sz.name, func(b *testing.B) {
			body := c.Request(sz.bytes, false)
			for _, mode := range modes {
				b.Run(mode, func(b *testing.B) {
					rg.warmUp(b, mode, body)
					b.SetBytes(int64(len(body)))
					b.ReportAllocs()
					var lat []time.Duration
					for b.Loop() {
						r, err := rg.send(mode, body)
						if err != nil {
							b.Fatal(err)
						}
						lat = append(lat, r.total)
					}
					reportLatency(b, "", lat)
				})
			}
		})
	}
}

// BenchmarkProxyResentHistory replays a 50-turn session in which every request
// resends the whole history plus one new exchange, the last body about 1 MB. One op
// is the whole session (50 requests); p50-ms and p99-ms are per request (turn), and
// last-turn-ms is the median latency of the 1 MB turn. Through the proxy every turn
// rescans the whole history.
func BenchmarkProxyResentHistory(b *testing.B) {
	rg := newRig(b)
	bodies := New(seed).Session(50, 1<<20, false)
	var total int64
	for _, body := range bodies {
		total += int64(len(body))
	}
	for _, mode := range modes {
		b.Run(mode, func(b *testing.B) {
			rg.warmUp(b, mode, bodies[len(bodies)-1])
			b.SetBytes(total)
			b.ReportAllocs()
			var lat, last []time.Duration
			for b.Loop() {
				for _, body := range bodies {
					r, err := rg.send(mode, body)
					if err != nil {
						b.Fatal(err)
					}
					lat = append(lat, r.total)
				}
				last = append(last, lat[len(lat)-1])
			}
			reportLatency(b, "", lat)
			b.ReportMetric(quantileMS(last, 0.5), "last-turn-ms")
		})
	}
}

// BenchmarkProxyStreamTTFB sends a streaming request of about 100 KB and measures the
// time to the first byte of the SSE stream (ttfb-p50-ms, ttfb-p99-ms); ns/op is the
// whole stream.
func BenchmarkProxyStreamTTFB(b *testing.B) {
	rg := newRig(b)
	body := New(seed).Request(100<<10, true)
	for _, mode := range modes {
		b.Run(mode, func(b *testing.B) {
			rg.warmUp(b, mode, body)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			var ttfb []time.Duration
			for b.Loop() {
				r, err := rg.send(mode, body)
				if err != nil {
					b.Fatal(err)
				}
				ttfb = append(ttfb, r.ttfb)
			}
			reportLatency(b, "ttfb-", ttfb)
		})
	}
}
