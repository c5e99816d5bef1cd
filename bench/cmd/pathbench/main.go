// Command pathbench measures what cloakroom adds on the request path and prints the
// comparison as markdown (the tables of bench/README.md).
//
// It compares, side by side in one run, three paths to the fake upstream of
// internal/fakeapi: direct (client → fake over TLS), tunnel (through a cloakroom proxy
// that does not intercept the host) and cloakroom (intercepted: redact, vault,
// restore), with corpus bodies of 10 KB, 100 KB and 1 MB holding planted secrets,
// from one client and from 8 concurrent keep-alive clients, plus the time to the
// first SSE event of streaming requests. Then it measures the peak resident memory of
// the real cloakroom binary forwarding 32 MiB and 64 MiB bodies.
//
// Run it from the module root:
//
//	go run ./bench/cmd/pathbench
//
// Flags: -scale multiplies the request counts (0.1 for a quick look), -latency=false
// or -mem=false skip a part, -bin names a cloakroom binary (by default it is built
// with `go build` into a temporary directory).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cloakroom/cloakroom/bench"
	"github.com/cloakroom/cloakroom/internal/fakeapi"
)

func main() {
	scale := flag.Float64("scale", 1, "multiply every request count by this factor")
	latency := flag.Bool("latency", true, "measure latency, throughput and streaming time to first event")
	mem := flag.Bool("mem", true, "measure the peak RSS of the cloakroom binary with large bodies")
	memSizes := flag.String("mem-sizes", "32,64", "body sizes in MiB for -mem, comma-separated")
	bin := flag.String("bin", "", "cloakroom binary for -mem; empty: go build ./cmd/cloakroom into a temp dir")
	sizes := flag.String("sizes", "10KB,100KB,1MB", "non-streaming body sizes to measure (of 10KB, 100KB, 1MB)")
	stream := flag.String("stream", "10KB,100KB", "streaming body sizes to measure (of 10KB, 100KB)")
	clients := flag.String("clients", "1,8", "client counts (at most 8)")
	cold := flag.Bool("cold", false, "turn cloakroom's scan cache off: every request scanned as if never seen (the rig resends the same bodies)")
	flag.Parse()

	plan, err := makePlan(*scale, *sizes, *stream, *clients)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pathbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	t := &tb{name: "pathbench"}
	err = run(ctx, t, os.Stdout, plan, *latency, *cold, *mem, *memSizes, *bin)
	stop()
	t.runCleanups()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pathbench:", err)
		os.Exit(1)
	}
}

// makePlan returns bench.DefaultPlan scaled by scale and cut down to the named sizes
// and client counts.
func makePlan(scale float64, sizes, stream, clients string) (bench.Plan, error) {
	if scale <= 0 {
		return bench.Plan{}, fmt.Errorf("-scale must be positive, not %g", scale)
	}
	plan := bench.DefaultPlan().Scale(scale)
	pick := func(flagName, list string, from []bench.PathSize) ([]bench.PathSize, error) {
		var out []bench.PathSize
		for _, name := range strings.Split(list, ",") {
			if name = strings.TrimSpace(name); name == "" {
				continue
			}
			i := slices.IndexFunc(from, func(s bench.PathSize) bool { return strings.EqualFold(s.Name, name) })
			if i < 0 {
				return nil, fmt.Errorf("-%s: no size %q in the plan", flagName, name)
			}
			out = append(out, from[i])
		}
		return out, nil
	}
	var err error
	if plan.Sizes, err = pick("sizes", sizes, plan.Sizes); err != nil {
		return plan, err
	}
	if plan.Stream, err = pick("stream", stream, plan.Stream); err != nil {
		return plan, err
	}
	plan.Clients = nil
	for _, f := range strings.Split(clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > maxClients {
			return plan, fmt.Errorf("-clients: %q is not a client count from 1 to %d", f, maxClients)
		}
		plan.Clients = append(plan.Clients, n)
	}
	return plan, nil
}

// maxClients is the number of clients per mode of the rig.
const maxClients = 8

func run(ctx context.Context, t *tb, w io.Writer, plan bench.Plan, latency, cold, mem bool, memSizes, bin string) error {
	fmt.Fprintf(w, "Machine: %d CPUs (%s), GOMAXPROCS %d, %s %s/%s, %s.\n\n",
		runtime.NumCPU(), cpuModel(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH,
		time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "Load average (1, 5, 15 min) at the start: %s.\n\n", loadAvg())
	c := bench.New(bench.Seed)
	if latency {
		fmt.Fprintln(os.Stderr, "pathbench: measuring latency and throughput...")
		rg := bench.NewPathRig(t, bench.PathOptions{Clients: maxClients, NoScanCache: cold})
		rep, err := bench.Compare(ctx, rg, c, plan)
		if err != nil {
			return err
		}
		if err := rep.Markdown(w); err != nil {
			return err
		}
	}
	if mem {
		sizes, err := parseSizes(memSizes)
		if err != nil {
			return err
		}
		if bin == "" {
			fmt.Fprintln(os.Stderr, "pathbench: building cloakroom...")
			if bin, err = buildCloakroom(ctx, t.TempDir()); err != nil {
				return err
			}
		}
		fake := fakeapi.Start(t, fakeapi.Options{Chunk: 4096, WholeWrites: true})
		var rows []memResult
		for _, mib := range sizes {
			fmt.Fprintf(os.Stderr, "pathbench: peak RSS with a %d MiB body...\n", mib)
			r, err := measureMemory(ctx, t, bin, fake, c, mib)
			if err != nil {
				return fmt.Errorf("memory at %d MiB: %w", mib, err)
			}
			rows = append(rows, r)
		}
		writeMemory(w, rows)
	}
	fmt.Fprintf(w, "\nLoad average at the end: %s.\n", loadAvg())
	return nil
}

// loadAvg returns the first three fields of /proc/loadavg, or "unknown".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], ", ")
	}
	return "unknown"
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-mem-sizes: %q is not a positive number of MiB", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// cpuModel returns the first "model name" of /proc/cpuinfo, or "unknown CPU".
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

func buildCloakroom(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "cloakroom")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/cloakroom/cloakroom/cmd/cloakroom")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/cloakroom (run from the module root, or pass -bin): %w", err)
	}
	return bin, nil
}
