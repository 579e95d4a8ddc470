package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/memif-wasm/memif-wasm/host/daemon/bench"
	"github.com/memif-wasm/memif-wasm/memif/gen"
)

func init() {
	register(command{name: "bench", summary: "print the side-by-side performance table (native vs C vs Go plugin, zero-copy vs copy)", run: benchMain})
}

const benchUsage = "memif-wasm bench [--json] [--time D] [--repeat N] [--sizes 64,1500] [--queues 1,2] [--handlers native,c,go] [--placements zero-copy,copy]\n       memif-wasm bench --forward [--json] [--time D] [--repeat N] [--rates 500000,2000000] [--rx-modes interrupt,adaptive] [--rx-delay D] [--handlers native,c,go,acl-c] [--testpmd]"

const benchDescription = `Measures the whole data plane in one process: a memif-wasm host (the same daemon
'memif-wasm run' starts) on a memif interface whose PASSed packets go back out the
same interface, and the built-in generator as its peer, sending as fast as the host
takes frames. Each cell of the table runs for --time:

  handler     native: no plugin (the host's own Go code passes every packet);
              c: plugins/build/pass-c.wasm; go: plugins/build/pass.wasm
  placement   zero-copy (the memif buffers mapped into the guest) or copy
  size        frame bytes
  queues      queue pairs, one host worker each

Columns: round-trip frames per second the generator got back; the process's CPU time
per frame (host and generator together: the generator's share is the same in every
row, so differences between rows are the handlers'); bytes the host copied per frame;
median round-trip latency; and loss (frames the host dropped because the generator's
ring was full). Run it on an idle machine: the generator shares the CPUs.

With --forward it measures forwarding as users run it, in separate processes: this
binary's 'run' as a middle box (two master interfaces on one socket, ids 0 and 1,
each the other's egress, the handler on both) and its 'gen' as a slave that sends
64-byte frames on id 0 and counts them on id 1. Per handler (native, c: pass-c.wasm,
go: pass.wasm, acl-c: acl-c.wasm with 16 rules every frame is checked against) and rx
mode, it offers each --rates rate, then searches the highest rate forwarded without
loss; with --testpmd, DPDK testpmd in io mode between the same two interfaces is the
reference row. Columns: offered and forwarded rate, loss, the middle box process's
CPU time per forwarded frame (the generator's is not in it), p50/p99 latency, and
frames per wake-up of the host's rx queues.`

const benchExamples = `memif-wasm bench --repeat 3           # the README's table (median of 3 runs per cell)
memif-wasm bench --json > bench.json
memif-wasm bench --time 300ms --sizes 64 --queues 1 --handlers native,c
memif-wasm bench --forward --repeat 5 --testpmd   # the README's forwarding table
memif-wasm bench --forward --handlers native --rx-modes interrupt,adaptive --rates 500000 --search=false`

func benchMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench", benchUsage, benchDescription, benchExamples)
	jsonOut := fs.Bool("json", false, "print the rows as JSON")
	cellTime := fs.Duration("time", time.Second, "how long each cell sends")
	sizesF := fs.String("sizes", "64,1500", "frame sizes in bytes, comma-separated")
	queuesF := fs.String("queues", "1,2", "queue pair counts, comma-separated")
	handlersF := fs.String("handlers", "native,c,go", "handlers: native, c, go")
	placementsF := fs.String("placements", "zero-copy,copy", "placements for plugins: zero-copy, copy")
	pluginsDir := fs.String("plugins-dir", "plugins/build", "where pass-c.wasm and pass.wasm are")
	cFile := fs.String("c-plugin", "", "the C plugin (default PLUGINS-DIR/pass-c.wasm)")
	goFile := fs.String("go-plugin", "", "the Go plugin (default PLUGINS-DIR/pass.wasm)")
	cacheDir := fs.String("cache-dir", defaultCacheDir(), `compiled-plugin cache ("" for none)`)
	fuelBudget := fs.Int64("fuel", 0, "fuel budget of one burst per plugin (0: the host's default)")
	stackBudget := fs.Int64("stack", 0, "bytes of call stack one plugin call may take (0: the host's default, 256 KiB)")
	repeat := fs.Int("repeat", 1, "runs per cell; the row is the run with the median round-trip rate")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run (every cell) to this file")
	forward := fs.Bool("forward", false, "the forwarding benchmark: daemon and generator as separate processes")
	ratesF := fs.String("rates", "500000,2000000", "--forward: offered rates in frames per second, comma-separated")
	rxModesF := fs.String("rx-modes", "interrupt,adaptive,polling", "--forward: the daemon's rx modes, comma-separated")
	rxDelay := fs.Duration("rx-delay", 0, "--forward: the daemon's rx_delay (interrupt moderation), 0s..1ms")
	search := fs.Bool("search", true, "--forward: also search the highest zero-loss rate per handler and rx mode")
	withTestpmd := fs.Bool("testpmd", false, "--forward: add DPDK testpmd io's highest zero-loss rate as the reference row")
	exeF := fs.String("exe", "", "--forward: the memif-wasm binary to run as daemon and generator (default: this one; an older build to compare side by side)")
	if code, done := fs.parse(args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		return fs.usageError(stderr, "unexpected argument %q", fs.Arg(0))
	}
	if *cellTime <= 0 {
		return fs.usageError(stderr, "--time %v: want a positive duration", *cellTime)
	}
	if *repeat < 1 || *repeat > 99 {
		return fs.usageError(stderr, "--repeat %d: want 1..99", *repeat)
	}
	if *forward {
		return benchForward(ctx, fs, stdout, stderr, forwardFlags{
			jsonOut: *jsonOut, time: *cellTime, timeSet: fs.Changed("time"), repeat: *repeat, sizes: *sizesF, sizesSet: fs.Changed("sizes"),
			handlers: *handlersF, handlersSet: fs.Changed("handlers"), pluginsDir: *pluginsDir, cacheDir: *cacheDir,
			rates: *ratesF, rxModes: *rxModesF, rxDelay: *rxDelay, search: *search, testpmd: *withTestpmd, exe: *exeF})
	}
	sizes, err := parseIntList("--sizes", *sizesF, gen.MinSize, 9000)
	if err != nil {
		return fs.usageError(stderr, "%v", err)
	}
	queues, err := parseIntList("--queues", *queuesF, 1, 8)
	if err != nil {
		return fs.usageError(stderr, "%v", err)
	}
	handlerNames, err := parseWordList("--handlers", *handlersF, "native", "c", "go")
	if err != nil {
		return fs.usageError(stderr, "%v", err)
	}
	placements, err := parseWordList("--placements", *placementsF, "zero-copy", "copy")
	if err != nil {
		return fs.usageError(stderr, "%v", err)
	}
	if *cFile == "" {
		*cFile = filepath.Join(*pluginsDir, "pass-c.wasm")
	}
	if *goFile == "" {
		*goFile = filepath.Join(*pluginsDir, "pass.wasm")
	}
	var handlers []bench.Handler
	for _, h := range handlerNames {
		f := map[string]string{"native": "", "c": *cFile, "go": *goFile}[h]
		if f != "" {
			if _, err := os.Stat(f); err != nil {
				fmt.Fprintf(stderr, "memif-wasm bench: %s plugin %s: %v (run make plugins first)\n", h, f, errors.Unwrap(err))
				return exitFailure
			}
			if f, err = filepath.Abs(f); err != nil {
				fmt.Fprintf(stderr, "memif-wasm bench: %v\n", err)
				return exitFailure
			}
		}
		handlers = append(handlers, bench.Handler{Name: h, File: f})
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "memif-wasm bench: --cpuprofile: %v\n", err)
			return exitFailure
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "memif-wasm bench: --cpuprofile: %v\n", err)
			return exitFailure
		}
		defer pprof.StopCPUProfile()
	}
	dir, err := os.MkdirTemp("", "memif-wasm-bench")
	if err != nil {
		fmt.Fprintf(stderr, "memif-wasm bench: %v\n", err)
		return exitFailure
	}
	defer os.RemoveAll(dir)
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var rows []bench.Row
	if !*jsonOut {
		fmt.Fprintf(stdout, "memif-wasm bench: %v per cell, generator in the same process\n", *cellTime)
	}
	for _, h := range handlers {
		pls := placements
		if h.File == "" {
			pls = []string{"-"} // no guest: nothing to place
		}
		for _, pl := range pls {
			for _, size := range sizes {
				for _, q := range queues {
					if ctx.Err() != nil {
						fmt.Fprintln(stderr, "memif-wasm bench: interrupted")
						return exitFailure
					}
					var runs []bench.Row
					for range *repeat {
						row, err := bench.Run(ctx, bench.Cell{Dir: dir, CacheDir: *cacheDir, Fuel: *fuelBudget, Stack: *stackBudget,
							Logger: logger, Handler: h, Placement: pl, Size: size, Queues: q, Time: *cellTime})
						if err != nil {
							fmt.Fprintf(stderr, "memif-wasm bench: %s/%s/%dB/%dq: %v\n", h.Name, pl, size, q, err)
							return exitFailure
						}
						runs = append(runs, row)
					}
					// The median run: one machine hiccup does not make a row.
					slices.SortFunc(runs, func(a, b bench.Row) int { return cmp.Compare(a.RoundTripPPS, b.RoundTripPPS) })
					rows = append(rows, runs[len(runs)/2])
					if !*jsonOut && isTerminal(stderr) {
						fmt.Fprintf(stderr, "\r%d cells done\x1b[K", len(rows))
					}
				}
			}
		}
	}
	if !*jsonOut && isTerminal(stderr) {
		fmt.Fprint(stderr, "\r\x1b[K")
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rows)
		return exitOK
	}
	bench.WriteTable(stdout, rows)
	return exitOK
}

func parseIntList(flag, s string, lo, hi int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < lo || n > hi {
			return nil, fmt.Errorf("%s %q: %q is not a number in %d..%d", flag, s, f, lo, hi)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

func parseWordList(flag, s string, allowed ...string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(allowed, f) {
			return nil, fmt.Errorf("%s %q: %q is not one of %s", flag, s, f, strings.Join(allowed, ", "))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}
