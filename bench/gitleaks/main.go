// Command gitleaks measures the scan latency of cloakroom's detector and of the
// gitleaks v8 library side by side, in one run, on the same realistic agent request
// bodies (github.com/cloakroom/cloakroom/bench: Claude-Code-like Anthropic Messages
// bodies with planted secrets) of 10 KB, 100 KB, 1 MB and 10 MB, and prints a
// markdown table: wall-clock p50 and p99 per scan, CPU time per scan and MB/s per
// core, allocations, findings, and how many planted secrets each engine found.
//
// It lives in its own module so that cloakroom's module never depends on gitleaks.
// Run it from this directory:
//
//	go run . [-sizes 10KB,100KB,1MB,10MB] [-budget 1s] [-gitleaks-budget 5s]
//
// By default it runs with GOMAXPROCS 1 and reads the process CPU time around the
// runs, so MB/s per core does not count other processes' time; wall latencies do.
// Each cell runs until its time budget is spent (at least 5 runs for cloakroom, 1
// for gitleaks). Other work on the machine still slows a core for seconds at a time
// (shared caches and the physical core: the same cell moves by a third), so the
// cloakroom cells are measured again in further rounds (-rounds), taken in turn
// across all sizes after the first pass, and their CPU time is the median of the
// rounds. The whole run takes two to four minutes, about 50 s of it the single
// gitleaks run on 10 MB.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/cloakroom/cloakroom/bench"
)

// seed is the corpus seed of cloakroom's own benchmarks (bench/bench_test.go).
const seed = 20250303

var sizeBytes = map[string]int{"10KB": 10 << 10, "100KB": 100 << 10, "1MB": 1 << 20, "10MB": 10 << 20}

func main() {
	sizes := flag.String("sizes", "10KB,100KB,1MB,10MB", "body sizes, comma-separated, of 10KB, 100KB, 1MB, 10MB")
	budget := flag.Duration("budget", time.Second, "time budget per cloakroom cell and round")
	rounds := flag.Int("rounds", 5, "rounds of each cloakroom cell; its CPU time is their median")
	maxIters := flag.Int("max-iters", 5000, "most runs per cloakroom cell")
	glBudget := flag.Duration("gitleaks-budget", 5*time.Second, "time budget per gitleaks cell (a run started before it ends is finished)")
	glMin := flag.Int("gitleaks-min-iters", 1, "fewest runs per gitleaks cell (one 10 MB run takes about 50 s of CPU)")
	glMax := flag.Int("gitleaks-max-iters", 500, "most runs per gitleaks cell")
	decode := flag.Int("gitleaks-decode", 0, "gitleaks MaxDecodeDepth (0 = library default; the gitleaks CLI uses 5)")
	procs := flag.Int("procs", 1, "GOMAXPROCS")
	flag.Parse()
	if *rounds < 1 {
		fmt.Fprintln(os.Stderr, "gitleaks bench: -rounds must be at least 1")
		os.Exit(2)
	}
	if err := run(os.Stdout, *sizes, *budget, *maxIters, *rounds, *glBudget, *glMin, *glMax, *decode, *procs); err != nil {
		fmt.Fprintln(os.Stderr, "gitleaks bench:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, sizeList string, budget time.Duration, maxIters, rounds int, glBudget time.Duration, glMin, glMax, decode, procs int) error {
	var names []string
	for _, s := range strings.Split(sizeList, ",") {
		if _, ok := sizeBytes[s]; !ok {
			return fmt.Errorf("unknown size %q", s)
		}
		names = append(names, s)
	}
	runtime.GOMAXPROCS(procs)
	c := bench.New(seed)
	engs, m, err := engines(c, decode)
	if err != nil {
		return err
	}
	load0 := loadavg()
	t0 := time.Now()
	var results []result
	perByte := map[string]float64{} // CPU seconds per byte of the last cell, per engine
	bodies := map[string][]byte{}
	for _, size := range names {
		body := c.Request(sizeBytes[size], false)
		bodies[size] = body
		for _, e := range engs {
			lim := limits{budget: budget, min: 5, max: maxIters}
			if e.name == engineGitleaks {
				lim = limits{budget: glBudget, min: glMin, max: glMax}
			}
			// Warm up unless one run is expected to take a tenth of the budget.
			est := perByte[e.name] * float64(len(body))
			warm := est < lim.budget.Seconds()/10
			r := measure(e, size, body, lim, warm)
			vals, rules := e.values(body, r.res)
			r.found, r.total, r.missed, r.other = planted(body, c.Secrets.All(), vals, rules)
			r.res = nil
			perByte[e.name] = r.cpu.Seconds() / float64(len(body))
			results = append(results, r)
			fmt.Fprintf(os.Stderr, "%s %s: %d runs, %.1f MB/s per core\n", size, e.name, r.iters, r.mbps())
		}
	}
	for round := 2; round <= rounds; round++ {
		for i := range results {
			r := &results[i]
			e := engs[slices.IndexFunc(engs, func(e engine) bool { return e.name == r.engine })]
			if e.name == engineGitleaks {
				continue
			}
			again := measure(e, r.size, bodies[r.size], limits{budget: budget, min: 5, max: maxIters}, true)
			r.cpus = append(r.cpus, again.cpu)
			fmt.Fprintf(os.Stderr, "round %d: %s %s: %.1f MB/s per core\n", round, r.size, r.engine, again.mbps())
		}
	}
	for i := range results {
		results[i].settle()
	}
	writeReport(w, results, m, load0, loadavg(), time.Since(t0), procs, decode, rounds)
	return nil
}

func writeReport(w io.Writer, rs []result, m meta, load0, load1 string, took time.Duration, procs, decode, rounds int) {
	fmt.Fprintf(w, "%s %s/%s, %s, %d CPUs, GOMAXPROCS %d; load average %s at the start, %s at the end; run took %s.\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, cpuModel(), runtime.NumCPU(), procs, load0, load1, took.Round(time.Second))
	fmt.Fprintf(w, "cloakroom: %d rules (default catalog), known-value set holding the 5 planted values. "+
		"gitleaks %s: %d rules (default config), MaxDecodeDepth %d.\n", m.cloakroomRules, gitleaksVersion(), m.gitleaksRules, decode)
	fmt.Fprintf(w, "cloakroom cells: %d rounds; CPU ms/scan and MB/s per core are the median round's, the range the slowest and fastest round's. "+
		"Runs, p50, p99 and allocations are the first round's.\n\n", rounds)
	fmt.Fprintln(w, "| body | engine | runs | p50 ms | p99 ms | CPU ms/scan | MB/s per core | MB/s range | × gitleaks | allocs/scan | KB alloc/scan | findings | planted found | other findings (rule ×n) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	gl := map[string]result{}
	for _, r := range rs {
		if r.engine == engineGitleaks {
			gl[r.size] = r
		}
	}
	for _, r := range rs {
		ratio := ""
		if g, ok := gl[r.size]; ok && r.engine != engineGitleaks && r.cpu > 0 {
			ratio = fmt.Sprintf("%.0f×", g.cpu.Seconds()/r.cpu.Seconds())
		}
		missed := ""
		if len(r.missed) > 0 {
			missed = " (missed " + strings.Join(r.missed, ", ") + ")"
		}
		spread := ""
		if len(r.cpus) > 1 {
			spread = num(float64(r.bytes)/1e6/slices.Max(r.cpus).Seconds()) + "–" + num(float64(r.bytes)/1e6/slices.Min(r.cpus).Seconds())
		}
		fmt.Fprintf(w, "| %s (%d B) | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %d | %d/%d%s | %s |\n",
			r.size, r.bytes, r.engine, r.iters, ms(r.p50), ms(r.p99), ms(r.cpu), num(r.mbps()), spread, ratio,
			num(r.allocs), num(r.allocBytes/1024), r.findings, r.found, r.total, missed, others(r.other))
	}
	fmt.Fprintln(w)
	targets(w, rs)
}

// targets states the two latency targets against the JSON-aware engine.
func targets(w io.Writer, rs []result) {
	var speeds []string
	met, all := 0, 0
	for _, r := range rs {
		if r.engine != engineJSON {
			continue
		}
		ok := r.mbps() >= 200
		speeds = append(speeds, fmt.Sprintf("%s %.1f MB/s (%s)", r.size, r.mbps(), yes(ok)))
		all++
		if ok {
			met++
		}
		if r.size == "1MB" {
			fmt.Fprintf(w, "- p99 under 10 ms for a 1 MB body (JSON-aware): p99 %s ms wall over %d runs, %s ms of CPU per scan: **%s**.\n",
				ms(r.p99), r.iters, ms(r.cpu), yes(r.p99 < 10*time.Millisecond))
		}
	}
	fmt.Fprintf(w, "- at least 200 MB/s per core with the full catalog (JSON-aware): %s: **%s** (met at %d of %d sizes).\n",
		strings.Join(speeds, ", "), yes(met == all), met, all)
}

func yes(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

func ms(d time.Duration) string { return num(d.Seconds() * 1000) }

// num prints 3 significant digits, without exponent.
func num(f float64) string {
	switch {
	case f >= 100:
		return fmt.Sprintf("%.0f", f)
	case f >= 10:
		return fmt.Sprintf("%.1f", f)
	case f >= 1:
		return fmt.Sprintf("%.2f", f)
	default:
		return fmt.Sprintf("%.3f", f)
	}
}

func others(m map[string]int) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func gitleaksVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/zricethezav/gitleaks/v8" {
				return d.Version
			}
		}
	}
	return "v8"
}
