package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloakroom/cloakroom/detect"
	"github.com/cloakroom/cloakroom/internal/audit"
	"github.com/cloakroom/cloakroom/internal/fakeapi"
	"github.com/cloakroom/cloakroom/proxy"
)

// scanRecorder keeps the scan time of every audit record a proxy writes, and the
// part of it spent in vault calls.
type scanRecorder struct {
	mu          sync.Mutex
	scan, vault []float64
	buf         []byte
}

func (s *scanRecorder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, p...)
	for {
		i := bytes.IndexByte(s.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		var r audit.Record
		if err := json.Unmarshal(s.buf[:i], &r); err != nil {
			return 0, err
		}
		s.scan, s.vault = append(s.scan, r.ScanMS), append(s.vault, r.VaultMS)
		s.buf = s.buf[i+1:]
	}
}

// take returns the scan times recorded so far and their vault times, and forgets
// them.
func (s *scanRecorder) take() (scan, vault []float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	scan, vault = s.scan, s.vault
	s.scan, s.vault = nil, nil
	return scan, vault
}

// scanProxy is a production proxy in front of fake whose audit records feed rec, and
// a client that goes through it.
type scanProxy struct {
	p      *proxy.Proxy
	rec    *scanRecorder
	client *http.Client
}

func newScanProxy(tb testing.TB, fake *fakeapi.Server, cacheEntries int) *scanProxy {
	tb.Helper()
	ca, pool := newBenchCA(tb)
	rec := &scanRecorder{}
	p, err := proxy.New(proxy.Config{CA: ca, UpstreamRootCAs: fake.RootCAs, Dial: fake.Dial, ScanCacheEntries: cacheEntries}, proxy.Deps{
		Detector: newDetector(tb), Known: detect.NewKnownSet(0), Vault: newBenchVault(tb),
		Audit: audit.New(rec), Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(p.Handler())
	tb.Cleanup(func() { srv.Close(); p.Close() })
	u, _ := url.Parse(srv.URL)
	tr := &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: pool}}
	return &scanProxy{p: p, rec: rec, client: newClient(tb, tr)}
}

func (s *scanProxy) send(body []byte) error {
	req, err := http.NewRequest(http.MethodPost, messagesURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d (X-Cloakroom-Error %q)", resp.StatusCode, resp.Header.Get("X-Cloakroom-Error"))
	}
	return nil
}

// scans waits until every request s took has its audit record and returns their scan
// times and the vault times within them, in order.
func (s *scanProxy) scans() (scan, vault []float64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.p.Wait(ctx); err != nil {
		return nil, nil, err
	}
	scan, vault = s.rec.take()
	return scan, vault, nil
}

// BenchmarkResentScan measures what the issue 4 target "resent-history turns at least
// 10x cheaper than a cold scan" is about: the proxy's scan time (the audit record's
// scan_ms: decoding, walking and scanning the body, tokenizing, splicing) on each
// turn of a 50-turn session growing to 1 MB, through a proxy with its scan cache on
// (warm: the previous turns were seen) and one with it off (cold: every body scanned
// from scratch). Both get every turn, one after the other in alternating order. One op
// is a whole session; each op uses a new session (another seed), so no body is ever
// seen twice by the warm proxy. Metrics: warm-ms and cold-ms, the median scan time per
// resent turn (turns 2 to 50); last-warm-ms and last-cold-ms, the median of the 1 MB
// turn; x-median, the median over resent turns of cold/warm; x-last, the same for the
// last turn; x-session, the scan time of all resent turns cold over warm (what a
// session's resent turns cost together); x-session-scan, the same less the time in
// vault calls (audit vault_ms: storing the secrets a turn brings, the same warm and
// cold, which a durable store pays in a sync). With -v it logs the medians by body
// size.
func BenchmarkResentScan(b *testing.B) {
	fake := fakeapi.Start(b, fakeapi.Options{Chunk: 4096, WholeWrites: true})
	warm, cold := newScanProxy(b, fake, 0), newScanProxy(b, fake, -1)
	var warmMS, coldMS, ratios, lastWarm, lastCold, lastRatio []float64
	var warmSum, coldSum, warmVault, coldVault float64
	type bucket struct{ warm, cold []float64 }
	buckets := make([]bucket, 4) // resent turns by body size: quarters of 1 MB
	iter := uint64(0)
	for b.Loop() {
		b.StopTimer()
		bodies := New(seed+iter).Session(50, 1<<20, false)
		iter++
		b.StartTimer()
		for k, body := range bodies {
			first, second := warm, cold
			if k%2 == 1 {
				first, second = cold, warm
			}
			if err := first.send(body); err != nil {
				b.Fatal(err)
			}
			if err := second.send(body); err != nil {
				b.Fatal(err)
			}
		}
		w, wv, err := warm.scans()
		if err != nil {
			b.Fatal(err)
		}
		c, cv, err := cold.scans()
		if err != nil {
			b.Fatal(err)
		}
		if len(w) != len(bodies) || len(c) != len(bodies) {
			b.Fatalf("got %d and %d audit records, want %d each", len(w), len(c), len(bodies))
		}
		for k := 1; k < len(bodies); k++ {
			bk := &buckets[min(len(bodies[k])/(1<<18), 3)]
			bk.warm, bk.cold = append(bk.warm, w[k]), append(bk.cold, c[k])
			warmMS, coldMS = append(warmMS, w[k]), append(coldMS, c[k])
			warmSum, coldSum = warmSum+w[k], coldSum+c[k]
			warmVault, coldVault = warmVault+wv[k], coldVault+cv[k]
			ratios = append(ratios, c[k]/max(w[k], 0.001))
		}
		n := len(bodies) - 1
		lastWarm, lastCold = append(lastWarm, w[n]), append(lastCold, c[n])
		lastRatio = append(lastRatio, c[n]/max(w[n], 0.001))
	}
	b.ReportMetric(median(warmMS), "warm-ms")
	b.ReportMetric(median(coldMS), "cold-ms")
	b.ReportMetric(median(lastWarm), "last-warm-ms")
	b.ReportMetric(median(lastCold), "last-cold-ms")
	b.ReportMetric(median(ratios), "x-median")
	b.ReportMetric(median(lastRatio), "x-last")
	b.ReportMetric(coldSum/max(warmSum, 0.001), "x-session")
	b.ReportMetric((coldSum-coldVault)/max(warmSum-warmVault, 0.001), "x-session-scan")
	for k, bk := range buckets {
		b.Logf("bodies %4d-%4d KB: %3d resent turns, scan p50 warm %.3f ms, cold %.3f ms, x %.1f",
			k*256, (k+1)*256, len(bk.warm), median(bk.warm), median(bk.cold), median(bk.cold)/max(median(bk.warm), 0.001))
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
