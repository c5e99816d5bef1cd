package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"
)

// PathSize is a request body size and the number of requests measured on each mode
// at that size (per client count).
type PathSize struct {
	Name  string // "10KB"
	Bytes int    // size asked of Corpus.Request
	N     int    // requests per mode
}

// Plan says what Compare measures.
type Plan struct {
	// Sizes are the non-streaming request bodies.
	Sizes []PathSize
	// Stream are the streaming request bodies, sent by one client.
	Stream []PathSize
	// Clients are the client counts the non-streaming sizes are measured with.
	Clients []int
	// Rounds is the number of blocks each cell's requests are cut into; the modes'
	// blocks take turns (in a rotating order), so that drift in the machine's load
	// hits every mode alike. Zero means 1.
	Rounds int
}

// DefaultPlan is the plan of cmd/pathbench: 10 KB, 100 KB and 1 MB bodies with 1
// and 8 clients, streaming at 10 KB and 100 KB, in 10 rounds. It takes about a
// minute and a half on two cores.
func DefaultPlan() Plan {
	return Plan{
		Sizes: []PathSize{
			{"10KB", 10 << 10, 3000},
			{"100KB", 100 << 10, 1500},
			{"1MB", 1 << 20, 300},
		},
		Stream: []PathSize{
			{"10KB", 10 << 10, 2000},
			{"100KB", 100 << 10, 1500},
		},
		Clients: []int{1, 8},
		Rounds:  10,
	}
}

// Scale returns the plan with every N multiplied by f (at least Rounds requests).
func (p Plan) Scale(f float64) Plan {
	scale := func(in []PathSize) []PathSize {
		out := slices.Clone(in)
		for i := range out {
			out[i].N = max(int(math.Round(float64(out[i].N)*f)), max(p.Rounds, 1))
		}
		return out
	}
	p.Sizes, p.Stream = scale(p.Sizes), scale(p.Stream)
	return p
}

// Cell is one measured combination of body, client count and streaming, with a Run
// per mode.
type Cell struct {
	Size      PathSize
	BodyBytes int // exact length of the body sent
	Clients   int
	Stream    bool
	Runs      map[Mode]*Run
}

// Report is the outcome of Compare.
type Report struct {
	Cells   []Cell
	Elapsed time.Duration
}

// Compare measures every cell of plan on r with bodies of corpus c. Each cell's
// modes are warmed up first; each block of requests starts after a garbage
// collection, so that one mode's garbage is not collected in another's time.
func Compare(ctx context.Context, r *PathRig, c *Corpus, plan Plan) (*Report, error) {
	start := time.Now()
	rounds := max(plan.Rounds, 1)
	rep := &Report{}
	type job struct {
		size    PathSize
		clients int
		stream  bool
	}
	var jobs []job
	for _, sz := range plan.Sizes {
		for _, n := range plan.Clients {
			jobs = append(jobs, job{sz, min(n, r.Clients()), false})
		}
	}
	for _, sz := range plan.Stream {
		jobs = append(jobs, job{sz, 1, true})
	}
	for _, j := range jobs {
		body := c.Request(j.size.Bytes, j.stream)
		cell := Cell{Size: j.size, BodyBytes: len(body), Clients: j.clients, Stream: j.stream, Runs: map[Mode]*Run{}}
		for _, m := range Modes {
			if err := r.WarmUp(ctx, m, body); err != nil {
				return nil, fmt.Errorf("%s %s: %w", j.size.Name, m, err)
			}
			cell.Runs[m] = &Run{}
		}
		for k := range rounds {
			n := j.size.N/rounds + boolInt(k < j.size.N%rounds)
			for i := range Modes {
				m := Modes[(i+k)%len(Modes)]
				runtime.GC()
				run, err := r.Measure(ctx, m, body, n, j.clients)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", j.size.Name, m, err)
				}
				cell.Runs[m].add(run)
			}
		}
		rep.Cells = append(rep.Cells, cell)
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Percentile returns the q-quantile (nearest rank) of ds in milliseconds, 0 for no
// samples.
func Percentile(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(max(int(math.Ceil(q*float64(len(s))))-1, 0), len(s)-1)
	return float64(s[i]) / float64(time.Millisecond)
}

// Target is one of issue 3's goals, checked against a report.
type Target struct {
	Name  string  // what is measured
	Limit float64 // bound
	Got   float64
	Unit  string // "ms" (at most Limit) or "× direct" (at least Limit)
	Met   bool
}

// Targets checks the targets for cloakroom against direct: added p50 ≤ 0.7 ms
// and p99 ≤ 1.5 ms at 100 KB, added p99 ≤ 6 ms at 1 MB (one client), streaming
// time-to-first-event added p50 ≤ 0.5 ms, and throughput at 100 KB with the most
// clients ≥ 0.8× direct. Targets whose cell is not in the report are left out.
func (rep *Report) Targets() []Target {
	var out []Target
	atMost := func(name string, limit, got float64) {
		out = append(out, Target{name, limit, got, "ms", got <= limit})
	}
	if c := rep.cell("100KB", 1, false); c != nil {
		atMost("added p50, 100 KB", 0.7, c.added(Cloakroom, 0.5, false))
		atMost("added p99, 100 KB", 1.5, c.added(Cloakroom, 0.99, false))
	}
	if c := rep.cell("1MB", 1, false); c != nil {
		atMost("added p99, 1 MB", 6, c.added(Cloakroom, 0.99, false))
	}
	for _, c := range rep.Cells {
		if c.Stream {
			atMost("streaming TTFE added p50, "+spaced(c.Size.Name), 0.5, c.added(Cloakroom, 0.5, true))
		}
	}
	if c := rep.mostClients("100KB"); c != nil && c.Clients > 1 {
		got := c.ratio(Cloakroom)
		out = append(out, Target{fmt.Sprintf("throughput, 100 KB, %d clients", c.Clients), 0.8, got, "× direct", got >= 0.8})
	}
	return out
}

func (rep *Report) cell(name string, clients int, stream bool) *Cell {
	for i, c := range rep.Cells {
		if c.Size.Name == name && c.Clients == clients && c.Stream == stream {
			return &rep.Cells[i]
		}
	}
	return nil
}

func (rep *Report) mostClients(name string) *Cell {
	var best *Cell
	for i, c := range rep.Cells {
		if c.Size.Name == name && !c.Stream && (best == nil || c.Clients > best.Clients) {
			best = &rep.Cells[i]
		}
	}
	return best
}

// lat returns mode's q-quantile of Total (or of First) in ms.
func (c *Cell) lat(m Mode, q float64, first bool) float64 {
	if first {
		return Percentile(c.Runs[m].Firsts(), q)
	}
	return Percentile(c.Runs[m].Totals(), q)
}

// added returns mode's q-quantile minus direct's.
func (c *Cell) added(m Mode, q float64, first bool) float64 {
	return c.lat(m, q, first) - c.lat(Direct, q, first)
}

// ratio returns mode's throughput over direct's.
func (c *Cell) ratio(m Mode) float64 {
	d := c.Runs[Direct].Throughput()
	if d == 0 {
		return 0
	}
	return c.Runs[m].Throughput() / d
}

// spaced writes "100KB" as "100 KB".
func spaced(name string) string {
	i := strings.IndexFunc(name, func(r rune) bool { return r < '0' || r > '9' })
	if i <= 0 {
		return name
	}
	return name[:i] + " " + name[i:]
}

func ms(v float64) string {
	if v >= 10 || v <= -10 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func plusMS(v float64) string {
	if v >= 0 {
		return "+" + ms(v)
	}
	return ms(v)
}

// Markdown writes the report as markdown tables: latency and throughput, streaming
// time to first event, and the targets.
func (rep *Report) Markdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| body | clients | path | p50 ms | p99 ms | added p50 | added p99 | req/s | × direct | requests |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	newConns := 0
	for _, c := range rep.Cells {
		if c.Stream {
			continue
		}
		for _, m := range Modes {
			run := c.Runs[m]
			newConns += run.NewConns()
			added := [2]string{"", ""}
			if m != Direct {
				added = [2]string{plusMS(c.added(m, 0.5, false)), plusMS(c.added(m, 0.99, false))}
			}
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %.0f | %.2f | %d |\n",
				spaced(c.Size.Name), c.Clients, m, ms(c.lat(m, 0.5, false)), ms(c.lat(m, 0.99, false)),
				added[0], added[1], run.Throughput(), c.ratio(m), len(run.Samples))
		}
	}
	var stream strings.Builder
	for _, c := range rep.Cells {
		if !c.Stream {
			continue
		}
		for _, m := range Modes {
			run := c.Runs[m]
			newConns += run.NewConns()
			added := [2]string{"", ""}
			if m != Direct {
				added = [2]string{plusMS(c.added(m, 0.5, true)), plusMS(c.added(m, 0.99, true))}
			}
			fmt.Fprintf(&stream, "| %s | %s | %s | %s | %s | %s | %s | %d |\n",
				spaced(c.Size.Name), m, ms(c.lat(m, 0.5, true)), ms(c.lat(m, 0.99, true)),
				added[0], added[1], ms(c.lat(m, 0.5, false)), len(run.Samples))
		}
	}
	if stream.Len() > 0 {
		b.WriteString("\nStreaming (one client): time to the first SSE event\n\n")
		b.WriteString("| body | path | TTFE p50 ms | TTFE p99 ms | added p50 | added p99 | whole stream p50 ms | requests |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|\n")
		b.WriteString(stream.String())
	}
	if ts := rep.Targets(); len(ts) > 0 {
		b.WriteString("\nIssue 3 targets (cloakroom against direct)\n\n")
		b.WriteString("| target | bound | measured | met |\n|---|---|---|---|\n")
		for _, t := range ts {
			bound, got := "≤ "+ms(t.Limit)+" ms", plusMS(t.Got)+" ms"
			if t.Unit != "ms" {
				bound, got = fmt.Sprintf("≥ %.2f%s", t.Limit, t.Unit), fmt.Sprintf("%.2f%s", t.Got, t.Unit)
			}
			met := "no"
			if t.Met {
				met = "yes"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", t.Name, bound, got, met)
		}
	}
	fmt.Fprintf(&b, "\nRequests that opened a new connection during measurement: %d. Measured in %s.\n",
		newConns, rep.Elapsed.Round(time.Second))
	_, err := io.WriteString(w, b.String())
	return err
}
