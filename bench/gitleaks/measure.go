package main

import (
	"math"
	"runtime"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// result is the measurement of one engine on one body.
type result struct {
	engine       string
	size         string
	bytes        int
	iters        int
	p50, p99     time.Duration   // wall clock per scan
	cpu          time.Duration   // process CPU time per scan (GC included): the median round's
	cpus         []time.Duration // CPU time per scan of each round, the first included
	allocs       float64         // heap allocations per scan
	allocBytes   float64         // bytes allocated per scan
	findings     int
	found, total int            // planted secret occurrences found, planted
	missed       []string       // names of the planted secrets with an occurrence not found
	other        map[string]int // findings holding no planted secret, by rule
	res          any            // the last scan's result, for the planted check
}

// mbps returns the throughput per core: bytes over CPU time, in MB (10^6 bytes) per
// second, as Go's benchmarks count them.
func (r result) mbps() float64 {
	if r.cpu <= 0 {
		return math.Inf(1)
	}
	return float64(r.bytes) / 1e6 / r.cpu.Seconds()
}

// settle makes cpu the median of the rounds' CPU times (the lower middle one of an
// even number).
func (r *result) settle() {
	if len(r.cpus) == 0 {
		return
	}
	s := slices.Clone(r.cpus)
	slices.Sort(s)
	r.cpu = s[(len(s)-1)/2]
}

// limits bound the runs of one cell: at least min, at most max, and no new run
// once budget has passed.
type limits struct {
	budget   time.Duration
	min, max int
}

// measure times e.scan on body. When warm is set, one run first, untimed, warms
// caches and pools. Wall time is taken per run; CPU time and allocations over all runs.
func measure(e engine, size string, body []byte, lim limits, warm bool) result {
	if warm {
		e.scan(body)
	}
	runtime.GC()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := cpuTime()
	start := time.Now()
	var walls []time.Duration
	var res any
	for len(walls) < lim.max && (len(walls) < lim.min || time.Since(start) < lim.budget) {
		t := time.Now()
		res = e.scan(body)
		walls = append(walls, time.Since(t))
	}
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&ms1)
	n := len(walls)
	slices.Sort(walls)
	return result{
		engine:     e.name,
		size:       size,
		bytes:      len(body),
		iters:      n,
		p50:        percentile(walls, 0.50),
		p99:        percentile(walls, 0.99),
		cpu:        cpu / time.Duration(n),
		cpus:       []time.Duration{cpu / time.Duration(n)},
		allocs:     float64(ms1.Mallocs-ms0.Mallocs) / float64(n),
		allocBytes: float64(ms1.TotalAlloc-ms0.TotalAlloc) / float64(n),
		findings:   e.count(res),
		res:        res,
	}
}

// percentile returns the nearest-rank percentile p of sorted durations: with fewer
// than 100 runs, p99 is the slowest.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// cpuTime returns the CPU time the process has used: with GOMAXPROCS 1, one core's
// work on the scans and the garbage collector, and none of the time other processes
// on the machine take.
func cpuTime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
