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
	"text/tabwriter"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/host/daemon"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
	"github.com/memif-wasm/memif-wasm/memif/gen"
)

func init() {
	register(command{name: "bench", summary: "print the side-by-side performance table (native vs C vs Go plugin, zero-copy vs copy)", run: benchMain})
}

const benchUsage = "memif-wasm bench [--json] [--time D] [--repeat N] [--sizes 64,1500] [--queues 1,2] [--handlers native,c,go] [--placements zero-copy,copy]"

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
ring was full). Run it on an idle machine: the generator shares the CPUs.`

const benchExamples = `memif-wasm bench --repeat 3           # the README's table (median of 3 runs per cell)
memif-wasm bench --json > bench.json
memif-wasm bench --time 300ms --sizes 64 --queues 1 --handlers native,c`

// benchRow is one cell of the table (and one element of --json's array).
type benchRow struct {
	Handler        string  `json:"handler"`
	Placement      string  `json:"placement"`
	Size           int     `json:"size"`
	Queues         int     `json:"queues"`
	Sent           uint64  `json:"sent"`
	Received       uint64  `json:"received"`
	RoundTripPPS   float64 `json:"round_trip_pps"`
	CPUNsPerPkt    float64 `json:"cpu_ns_per_packet"`
	CopiedPerPkt   float64 `json:"bytes_copied_per_packet"`
	LossPercent    float64 `json:"loss_percent"`
	ZeroCopyPkts   uint64  `json:"zero_copy_packets"`
	HostRxPackets  uint64  `json:"host_rx_packets"`
	HostDrops      uint64  `json:"host_tx_drops"`
	LatencyP50Nano int64   `json:"latency_p50_ns"`

	// Where the per-burst costs went: bursts, empty polls and full rings on
	// each side (see dataplane.WorkerStats and gen.Report). Frames per burst
	// explain rows whose per-frame work alone does not.
	HostRxBursts   uint64 `json:"host_rx_bursts"`
	HostEmptyPolls uint64 `json:"host_empty_polls"`
	HostTxRingFull uint64 `json:"host_tx_ring_full"`
	HostBusyNanos  int64  `json:"host_busy_ns"`
	GenTxBursts    uint64 `json:"gen_tx_bursts"`
	GenTxRingFull  uint64 `json:"gen_tx_ring_full"`
	GenRxBursts    uint64 `json:"gen_rx_bursts"`
	GenRxEmpty     uint64 `json:"gen_rx_empty_polls"`

	// The generator's link drops and the time its link was down during the cell;
	// both 0 on a healthy run. The cell's rates include the time down.
	GenLinkDrops  uint64 `json:"gen_link_drops"`
	GenLinkDownNs int64  `json:"gen_link_down_ns"`
}

type benchHandler struct {
	name string
	file string // "" for native
}

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
	var handlers []benchHandler
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
		handlers = append(handlers, benchHandler{name: h, file: f})
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
	var rows []benchRow
	if !*jsonOut {
		fmt.Fprintf(stdout, "memif-wasm bench: %v per cell, generator in the same process\n", *cellTime)
	}
	for _, h := range handlers {
		pls := placements
		if h.file == "" {
			pls = []string{"-"} // no guest: nothing to place
		}
		for _, pl := range pls {
			for _, size := range sizes {
				for _, q := range queues {
					if ctx.Err() != nil {
						fmt.Fprintln(stderr, "memif-wasm bench: interrupted")
						return exitFailure
					}
					var runs []benchRow
					for range *repeat {
						row, err := benchCell(ctx, dir, *cacheDir, budgets{*fuelBudget, *stackBudget}, logger, h, pl, size, q, *cellTime)
						if err != nil {
							fmt.Fprintf(stderr, "memif-wasm bench: %s/%s/%dB/%dq: %v\n", h.name, pl, size, q, err)
							return exitFailure
						}
						runs = append(runs, row)
					}
					// The median run: one machine hiccup does not make a row.
					slices.SortFunc(runs, func(a, b benchRow) int { return cmp.Compare(a.RoundTripPPS, b.RoundTripPPS) })
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
	writeBenchTable(stdout, rows)
	return exitOK
}

// benchCell runs one cell: a fresh daemon and a generator run.
// budgets are the per-plugin budgets a bench run sets for its tenant.
type budgets struct{ fuel, stack int64 }

func benchCell(ctx context.Context, dir, cacheDir string, b budgets, logger *slog.Logger, h benchHandler, placement string, size, queues int, d time.Duration) (benchRow, error) {
	sock := filepath.Join(dir, fmt.Sprintf("%s-%s-%d-%d.sock", h.name, placement, size, queues))
	in := config.Interface{Name: "bench0", Socket: sock, Role: "master", Queues: queues, Egress: "bench0"}
	if h.file != "" {
		p := config.Plugin{File: h.file, MaxFrame: 2048}
		if placement == "copy" {
			// A window with room for the copy slots only: no buffer region fits, so
			// the host copies.
			p.WindowSize = abi.MaxBurst * (host.DefaultHeadroom + 2048)
		}
		in.Plugins = []config.Plugin{p}
	}
	cfg := &config.Config{Engine: config.Engine{CacheDir: cacheDir},
		Tenants: []config.Tenant{{Name: "bench", Fuel: b.fuel, Stack: b.stack, Interfaces: []config.Interface{in}}}}
	if err := cfg.Validate(); err != nil {
		return benchRow{}, err
	}
	dm, err := daemon.New(ctx, cfg, daemon.Options{Logger: logger})
	if err != nil {
		return benchRow{}, err
	}
	defer dm.Close()
	rep, err := gen.Run(ctx, gen.Config{Socket: sock, Queues: queues, Size: size, Flows: 8,
		Duration: d, Drain: 200 * time.Millisecond, Logger: logger})
	if err != nil {
		return benchRow{}, fmt.Errorf("generator: %w", err)
	}
	row := benchRow{Handler: h.name, Placement: placement, Size: size, Queues: queues,
		Sent: rep.Sent, Received: rep.Unique, RoundTripPPS: float64(rep.Unique) / rep.SendTime.Seconds(),
		LatencyP50Nano: int64(rep.Latency.P50)}
	if rep.Sent > 0 {
		row.LossPercent = 100 * float64(rep.Lost) / float64(rep.Sent)
	}
	ifs, qs := settledStats(ctx, dm, rep.Sent)
	row.HostRxPackets = qs.RxPackets
	row.HostRxBursts, row.HostEmptyPolls, row.HostTxRingFull = qs.RxBursts, qs.EmptyPolls, qs.TxRingFull
	row.HostBusyNanos = int64(qs.Busy)
	row.GenTxBursts, row.GenTxRingFull, row.GenRxBursts, row.GenRxEmpty = rep.TxBursts, rep.TxRingFull, rep.RxBursts, rep.RxEmpty
	row.GenLinkDrops, row.GenLinkDownNs = rep.LinkDrops, int64(rep.LinkDown)
	for _, n := range qs.Drops {
		row.HostDrops += n
	}
	if rep.Sent > 0 {
		// From the first frame to the end of the drain, not the setup.
		row.CPUNsPerPkt = float64(rep.ProcessCPU) / float64(rep.Sent)
	}
	if len(ifs.Plugins) > 0 {
		st := ifs.Plugins[0].Stats
		var copied uint64
		for _, c := range st.BytesCopied {
			copied += c
		}
		row.ZeroCopyPkts = st.PacketsPlaced[host.PlacementZeroCopy]
		if st.Packets > 0 {
			row.CopiedPerPkt = float64(copied) / float64(st.Packets)
		}
		if st.Faults > 0 {
			return row, fmt.Errorf("the plugin faulted %d times (last: %s); raise --fuel?", st.Faults, ifs.Plugins[0].Fault)
		}
		if placement == "zero-copy" && row.ZeroCopyPkts == 0 && st.Packets > 0 {
			return row, errors.New("zero-copy asked for, but the host copied every packet")
		}
	}
	return row, nil
}

// How long benchCell waits for the host to count the generator's last frames.
const (
	settleLimit = 2 * time.Second        // the whole wait
	settleQuiet = 200 * time.Millisecond // no progress for this long: nothing more is coming
	settlePoll  = time.Millisecond
)

// settledStats returns the bench interface's snapshot and its queues' summed
// counters once the host has counted every frame the generator sent. A worker
// folds a burst's counters in after transmitting it, and the generator stops
// draining as soon as its last frame is back, so a snapshot taken right after
// gen.Run can miss the last burst.
func settledStats(ctx context.Context, dm *daemon.Daemon, sent uint64) (daemon.InterfaceSnapshot, daemon.QueueStats) {
	var ifs daemon.InterfaceSnapshot
	var qs daemon.QueueStats
	waitCount(ctx, sent, settleQuiet, settleLimit, func() uint64 {
		ifs, qs = dm.Snapshot().Tenants[0].Interfaces[0], daemon.QueueStats{}
		for i := range ifs.Queues {
			qs.Add(&ifs.Queues[i])
		}
		return qs.RxPackets
	})
	return ifs, qs
}

// waitCount calls read until it returns at least want. Frames lost with the
// link never arrive, so it also gives up when the count has not moved for
// quiet, after limit, or when ctx is done. The caller keeps what the last
// read saw.
func waitCount(ctx context.Context, want uint64, quiet, limit time.Duration, read func() uint64) {
	n := read()
	if n >= want {
		return
	}
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(settlePoll)
	defer tick.Stop()
	moved := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-tick.C:
		}
		m := read()
		if m >= want {
			return
		}
		if m != n {
			n, moved = m, time.Now()
		} else if time.Since(moved) >= quiet {
			return
		}
	}
}

func writeBenchTable(w io.Writer, rows []benchRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "handler\tplacement\tsize\tqueues\tround trip\tCPU ns/frame\tcopied B/frame\tp50 latency\tloss\t\n")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d B\t%d\t%s\t%.0f\t%.0f\t%v\t%.2f%%\t\n", r.Handler, r.Placement, r.Size, r.Queues,
			gen.Rate(r.RoundTripPPS, "pps"), r.CPUNsPerPkt, r.CopiedPerPkt,
			time.Duration(r.LatencyP50Nano).Round(100*time.Nanosecond), r.LossPercent)
	}
	tw.Flush()
	for _, r := range rows {
		if r.GenLinkDrops > 0 {
			fmt.Fprintf(w, "%s/%s/%d B/%d queues: the link dropped %d times (down %v); that row's rates and loss include it\n",
				r.Handler, r.Placement, r.Size, r.Queues, r.GenLinkDrops, time.Duration(r.GenLinkDownNs).Round(time.Millisecond))
		}
	}
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
