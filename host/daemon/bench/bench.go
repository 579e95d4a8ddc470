// Package bench measures the whole data plane in one process, as memif-wasm
// bench prints it: a daemon (package host/daemon) whose memif interface
// sends every packet its handler passes back out, and memif/gen as its peer,
// sending as fast as the host takes frames. A Row reports the round-trip
// rate, the process's CPU time per frame, the bytes the host copied per
// frame, latency and loss, and where the per-burst costs went.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/host/daemon"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
	"github.com/memif-wasm/memif-wasm/memif/gen"
)

// Row is one cell of the table (and one element of memif-wasm bench --json's array).
type Row struct {
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

// Handler is what runs on the bench interface's bursts.
type Handler struct {
	Name string // the row's label: native, c, go
	File string // the plugin; "" for none (native: the host passes every packet)
}

// Cell is one cell of the table.
type Cell struct {
	Dir         string // where the cell's memif socket is created
	CacheDir    string // the daemon's compiled-plugin cache ("": none)
	Fuel, Stack int64  // the tenant's budgets (0: the host's defaults)
	Logger      *slog.Logger
	Handler     Handler
	Placement   string // "zero-copy", "copy", or "-" without a plugin
	Size        int    // frame bytes
	Queues      int    // queue pairs, one worker each
	Time        time.Duration
}

// Run runs one cell: a fresh daemon whose interface sends every packet the
// handler passes back out, and a generator run against it for c.Time.
func Run(ctx context.Context, c Cell) (Row, error) {
	h, placement, size, queues, d, logger := c.Handler, c.Placement, c.Size, c.Queues, c.Time, c.Logger
	dir, cacheDir := c.Dir, c.CacheDir
	sock := filepath.Join(dir, fmt.Sprintf("%s-%s-%d-%d.sock", h.Name, placement, size, queues))
	in := config.Interface{Name: "bench0", Socket: sock, Role: "master", Queues: queues, Egress: "bench0"}
	if h.File != "" {
		p := config.Plugin{File: h.File, MaxFrame: 2048}
		if placement == "copy" {
			// A window with room for the copy slots only: no buffer region fits, so
			// the host copies.
			p.WindowSize = abi.MaxBurst * (host.DefaultHeadroom + 2048)
		}
		in.Plugins = []config.Plugin{p}
	}
	cfg := &config.Config{Engine: config.Engine{CacheDir: cacheDir},
		Tenants: []config.Tenant{{Name: "bench", Fuel: c.Fuel, Stack: c.Stack, Interfaces: []config.Interface{in}}}}
	if err := cfg.Validate(); err != nil {
		return Row{}, err
	}
	dm, err := daemon.New(ctx, cfg, daemon.Options{Logger: logger})
	if err != nil {
		return Row{}, err
	}
	defer dm.Close()
	rep, err := gen.Run(ctx, gen.Config{Socket: sock, Queues: queues, Size: size, Flows: 8,
		Duration: d, Drain: 200 * time.Millisecond, Logger: logger})
	if err != nil {
		return Row{}, fmt.Errorf("generator: %w", err)
	}
	row := Row{Handler: h.Name, Placement: placement, Size: size, Queues: queues,
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

// WriteTable writes rows as memif-wasm bench prints them.
func WriteTable(w io.Writer, rows []Row) {
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
