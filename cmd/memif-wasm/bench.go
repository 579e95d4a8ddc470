package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
	"github.com/memif-wasm/memif-wasm/host/daemon/bench"
	"github.com/memif-wasm/memif-wasm/memif/gen"
)

func init() {
	program.Register(cli.Command{Name: "bench", Summary: "print the side-by-side performance table (native vs C vs Go vs Rust plugin, zero-copy vs copy)", Run: benchMain})
}

const benchUsage = "memif-wasm bench [--json] [--duration D] [--repeat N] [--size 64,1500] [--queues 1,2] [--handlers native,c,go,rust] [--placements zero-copy,copy]\n       memif-wasm bench --forward [--json] [--duration D] [--repeat N] [--rates 500000,2000000] [--rx-modes interrupt,adaptive] [--rx-delay D] [--handlers native,c,go,acl-c] [--testpmd]"

const benchDescription = `Measures the whole data plane in one process: a memif-wasm host (the same daemon
'memif-wasm run' starts) on a memif interface whose PASSed packets go back out the
same interface, and the built-in generator as its peer, sending as fast as the host
takes frames. Each cell of the table runs for --duration:

  handler     native: no plugin (the host's own Go code passes every packet);
              c: plugins/build/pass-c.wasm; go: plugins/build/pass.wasm;
              rust: plugins/build/pass-rust.wasm
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
memif-wasm bench --duration 300ms --size 64 --queues 1 --handlers native,c
memif-wasm bench --forward --repeat 5 --testpmd   # the README's forwarding table
memif-wasm bench --forward --handlers native --rx-modes interrupt,adaptive --rates 500000 --search=false`

func benchMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("memif-wasm bench", benchUsage, benchDescription, benchExamples)
	logFormat := logFormatFlag(fs)
	jsonOut := fs.Bool("json", false, "print the rows as JSON")
	cellTime := fs.Duration("duration", time.Second, "how long each cell sends")
	sizesF := fs.String("size", "64,1500", "frame sizes in bytes, comma-separated")
	fs.Alias("time", "duration") // the names before flags were unified
	fs.Alias("sizes", "size")
	queuesF := fs.String("queues", "1,2", "queue pair counts, comma-separated")
	handlersF := fs.String("handlers", "native,c,go,rust", "handlers: native, c, go, rust")
	placementsF := fs.String("placements", "zero-copy,copy", "placements for plugins: zero-copy, copy")
	pluginsDir := fs.String("plugins-dir", "plugins/build", "where pass-c.wasm, pass.wasm and pass-rust.wasm are")
	cFile := fs.String("c-plugin", "", "the C plugin (default PLUGINS-DIR/pass-c.wasm)")
	goFile := fs.String("go-plugin", "", "the Go plugin (default PLUGINS-DIR/pass.wasm)")
	rustFile := fs.String("rust-plugin", "", "the Rust plugin (default PLUGINS-DIR/pass-rust.wasm)")
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
	if code, done := fs.ParseNoArgs(args, stdout, stderr); done {
		return code
	}
	logger, ok := warnLogger(*logFormat, stderr)
	if !ok {
		return fs.UsageError(stderr, "--log-format %q: want text or json", *logFormat)
	}
	if *cellTime <= 0 {
		return fs.UsageError(stderr, "--duration %v: want a positive duration", *cellTime)
	}
	if *repeat < 1 || *repeat > 99 {
		return fs.UsageError(stderr, "--repeat %d: want 1..99", *repeat)
	}
	if *forward {
		return benchForward(ctx, fs, stdout, stderr, bench.ForwardOptions{
			Time: *cellTime, TimeSet: fs.Changed("duration") || fs.Changed("time"), Repeat: *repeat,
			Sizes: *sizesF, SizesSet: fs.Changed("size") || fs.Changed("sizes"),
			Handlers: *handlersF, HandlersSet: fs.Changed("handlers"), PluginsDir: *pluginsDir, CacheDir: *cacheDir,
			Rates: *ratesF, RxModes: *rxModesF, RxDelay: *rxDelay, Search: *search, Testpmd: *withTestpmd, Exe: *exeF}, *jsonOut)
	}
	sizes, err := bench.ParseInts("--size", *sizesF, gen.MinSize, 9000)
	if err != nil {
		return fs.UsageError(stderr, "%v", err)
	}
	queues, err := bench.ParseInts("--queues", *queuesF, 1, 8)
	if err != nil {
		return fs.UsageError(stderr, "%v", err)
	}
	handlerNames, err := bench.ParseWords("--handlers", *handlersF, "native", "c", "go", "rust")
	if err != nil {
		return fs.UsageError(stderr, "%v", err)
	}
	placements, err := bench.ParseWords("--placements", *placementsF, "zero-copy", "copy")
	if err != nil {
		return fs.UsageError(stderr, "%v", err)
	}
	handlers, err := bench.Handlers(handlerNames, *pluginsDir, map[string]string{"c": *cFile, "go": *goFile, "rust": *rustFile})
	if err != nil {
		return cli.Fail(stderr, "memif-wasm bench", err)
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "memif-wasm bench: --cpuprofile: %v\n", err)
			return cli.ExitFailure
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "memif-wasm bench: --cpuprofile: %v\n", err)
			return cli.ExitFailure
		}
		defer pprof.StopCPUProfile()
	}
	if !*jsonOut {
		fmt.Fprintf(stdout, "memif-wasm bench: %v per cell, generator in the same process\n", *cellTime)
	}
	rows, err := bench.RunTable(ctx, bench.Table{
		Base:     bench.Cell{CacheDir: *cacheDir, Fuel: *fuelBudget, Stack: *stackBudget, Logger: logger, Time: *cellTime},
		Handlers: handlers, Placements: placements, Sizes: sizes, Queues: queues, Repeat: *repeat,
		Done: func(n int) {
			if !*jsonOut && isTerminal(stderr) {
				fmt.Fprintf(stderr, "\r%d cells done\x1b[K", n)
			}
		},
	})
	if err != nil {
		return cli.Fail(stderr, "memif-wasm bench", err)
	}
	if !*jsonOut && isTerminal(stderr) {
		fmt.Fprint(stderr, "\r\x1b[K")
	}
	if *jsonOut {
		return cli.PrintJSON(stdout, rows)
	}
	bench.WriteTable(stdout, rows)
	return cli.ExitOK
}
