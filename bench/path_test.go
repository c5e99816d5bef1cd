package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
)

// pathSizes are the bodies of BenchmarkPath.
var pathSizes = []struct {
	name  string
	bytes int
}{{"10KB", 10 << 10}, {"100KB", 100 << 10}, {"1MB", 1 << 20}}

// TestPathModes checks that each mode takes the path it names: direct and tunnel
// deliver the body untouched (the tunnel client trusts only the fake's CA, so an
// intercepting tunnel would fail its handshake), cloakroom delivers it with every
// planted secret tokenized; and that every client reuses its connection.
func TestPathModes(t *testing.T) {
	rg := NewPathRig(t, PathOptions{Clients: 2})
	c := New(Seed)
	body := c.Request(100<<10, false)
	ctx := context.Background()
	for _, m := range Modes {
		t.Run(string(m), func(t *testing.T) {
			for client := range rg.Clients() {
				for i := range 2 {
					s, err := rg.Send(ctx, m, client, body)
					if err != nil {
						t.Fatal(err)
					}
					if i == 1 && s.NewConn {
						t.Errorf("client %d: second request opened a new connection", client)
					}
					if s.First <= 0 || s.First > s.Total {
						t.Errorf("client %d: got first %v and total %v, want 0 < first <= total", client, s.First, s.Total)
					}
				}
			}
			got := rg.Fake.Last().Body
			if m != Cloakroom {
				if !bytes.Equal(got, body) {
					t.Errorf("upstream got a %d-byte body different from the %d bytes sent", len(got), len(body))
				}
				return
			}
			for i, s := range c.Secrets.All() {
				if bytes.Contains(got, []byte(jsonText(s))) {
					t.Errorf("planted secret %d reached the upstream", i)
				}
			}
			if !bytes.Contains(got, []byte("cloak_")) {
				t.Error("upstream body holds no token")
			}
		})
	}
}

// TestReadFirst checks that readFirst stops right after the first SSE event of a
// stream (and after the first byte of anything else).
func TestReadFirst(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, body, wantRest string
	}{
		{"sse", "text/event-stream; charset=utf-8", "event: a\ndata: {\"x\":1}\n\nevent: b\ndata: {}\n\n", "event: b\ndata: {}\n\n"},
		{"sse crlf", "text/event-stream", "event: a\r\ndata: 1\r\n\r\nevent: b\r\n", "event: b\r\n"},
		{"sse long line", "text/event-stream", "data: " + strings.Repeat("x", 10000) + "\n\nrest", "rest"},
		{"sse line ends at the buffer's end", "text/event-stream", "data: 0123456789\n\nrest", "rest"},
		{"json", "application/json", `{"a":1}`, `{"a":1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tc.body), 16)
			if err := readFirst(br, tc.contentType); err != nil {
				t.Fatal(err)
			}
			rest, _ := io.ReadAll(br)
			if string(rest) != tc.wantRest {
				t.Errorf("got rest %q, want %q", rest, tc.wantRest)
			}
		})
	}
	if err := readFirst(bufio.NewReader(strings.NewReader("data: 1\n")), "text/event-stream"); err == nil {
		t.Error("got no error for a stream ending inside its first event")
	}
}

// TestPathStreamFirstEvent sends a streaming request on every mode and checks its
// First is set and no later than its Total.
func TestPathStreamFirstEvent(t *testing.T) {
	rg := NewPathRig(t, PathOptions{})
	body := New(Seed).Request(10<<10, true)
	for _, m := range Modes {
		s, err := rg.Send(context.Background(), m, 0, body)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		if s.First <= 0 || s.First > s.Total {
			t.Errorf("%s: got first %v and total %v, want 0 < first <= total", m, s.First, s.Total)
		}
	}
}

// TestCompareSmall runs Compare on a tiny plan and checks the report has a row for
// every mode and cell, and every target it can check.
func TestCompareSmall(t *testing.T) {
	rg := NewPathRig(t, PathOptions{Clients: 2})
	plan := Plan{
		Sizes:   []PathSize{{"100KB", 100 << 10, 6}},
		Stream:  []PathSize{{"10KB", 10 << 10, 4}},
		Clients: []int{1, 2},
		Rounds:  2,
	}
	rep, err := Compare(context.Background(), rg, New(Seed), plan)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Cells) != 3 {
		t.Fatalf("got %d cells, want 3", len(rep.Cells))
	}
	for _, c := range rep.Cells {
		for _, m := range Modes {
			if n := len(c.Runs[m].Samples); n != c.Size.N {
				t.Errorf("%s clients=%d stream=%v %s: got %d samples, want %d", c.Size.Name, c.Clients, c.Stream, m, n, c.Size.N)
			}
		}
	}
	var md strings.Builder
	if err := rep.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| 100 KB | 1 | direct |", "| 100 KB | 2 | cloakroom |", "| 10 KB | tunnel |",
		"added p50, 100 KB", "throughput, 100 KB, 2 clients", "streaming TTFE added p50, 10 KB"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	if got := len(rep.Targets()); got != 4 {
		t.Errorf("got %d targets, want 4 (no 1 MB cell)", got)
	}
}

func TestPlanScale(t *testing.T) {
	p := Plan{Sizes: []PathSize{{"a", 1, 100}, {"b", 1, 3}}, Rounds: 10}.Scale(0.5)
	if got := []int{p.Sizes[0].N, p.Sizes[1].N}; got[0] != 50 || got[1] != 10 {
		t.Errorf("got N %v, want [50 10]", got)
	}
}

// BenchmarkPath sends non-streaming corpus bodies (planted secrets included) on each
// mode, from one client and from 8 concurrent clients (each with its own keep-alive
// connection). One op is one request; p50-ms and p99-ms are per-request latency,
// req/s the throughput over the whole run. cmd/pathbench prints the side-by-side
// table with the differences.
func BenchmarkPath(b *testing.B) {
	rg := NewPathRig(b, PathOptions{Clients: 8})
	c := New(Seed)
	ctx := context.Background()
	for _, sz := range pathSizes {
		body := c.Request(sz.bytes, false)
		for _, clients := range []int{1, 8} {
			for _, m := range Modes {
				b.Run(fmt.Sprintf("%s/c%d/%s", sz.name, clients, m), func(b *testing.B) {
					if err := rg.WarmUp(ctx, m, body); err != nil {
						b.Fatal(err)
					}
					runtime.GC()
					b.SetBytes(int64(len(body)))
					b.ReportAllocs()
					b.ResetTimer()
					run, err := rg.Measure(ctx, m, body, b.N, clients)
					b.StopTimer()
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(Percentile(run.Totals(), 0.5), "p50-ms")
					b.ReportMetric(Percentile(run.Totals(), 0.99), "p99-ms")
					b.ReportMetric(run.Throughput(), "req/s")
				})
			}
		}
	}
}

// BenchmarkPathStreamTTFE sends streaming corpus bodies on each mode from one client
// and measures the time to the first SSE event (ttfe-p50-ms, ttfe-p99-ms); ns/op is
// the whole stream.
func BenchmarkPathStreamTTFE(b *testing.B) {
	rg := NewPathRig(b, PathOptions{})
	c := New(Seed)
	ctx := context.Background()
	for _, sz := range pathSizes[:2] {
		body := c.Request(sz.bytes, true)
		for _, m := range Modes {
			b.Run(sz.name+"/"+string(m), func(b *testing.B) {
				if err := rg.WarmUp(ctx, m, body); err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				b.ResetTimer()
				run, err := rg.Measure(ctx, m, body, b.N, 1)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(Percentile(run.Firsts(), 0.5), "ttfe-p50-ms")
				b.ReportMetric(Percentile(run.Firsts(), 0.99), "ttfe-p99-ms")
			})
		}
	}
}

// BenchmarkPathLargeBody sends a 32 MiB corpus body direct and through cloakroom
// (body limit 96 MiB). Its B/op counts the client's and the fake's allocations too;
// run with -memprofile to see the proxy's allocation sites. cmd/pathbench measures
// the proxy's peak RSS on the real binary instead.
func BenchmarkPathLargeBody(b *testing.B) {
	rg := NewPathRig(b, PathOptions{MaxBodyBytes: 96 << 20})
	body := New(Seed).Request(32<<20, false)
	ctx := context.Background()
	for _, m := range []Mode{Direct, Cloakroom} {
		b.Run("32MiB/"+string(m), func(b *testing.B) {
			if _, err := rg.Send(ctx, m, 0, body); err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			run, err := rg.Measure(ctx, m, body, b.N, 1)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(Percentile(run.Totals(), 0.5), "p50-ms")
		})
	}
}
