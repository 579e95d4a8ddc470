package demo

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/daemon"
	"github.com/memif-wasm/memif-wasm/host/daemon/admin"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
	"github.com/memif-wasm/memif-wasm/host/daemon/metrics"
	"github.com/memif-wasm/memif-wasm/memif/gen"
)

// ACLDeniedPort is the UDP source port the default pipeline's acl denies:
// flow 7 of the generator's 8.
const ACLDeniedPort = 1031

// DefaultFiles are the default pipeline's modules, in order, as `make
// plugins` names them in plugins/build.
var DefaultFiles = []string{"counter.wasm", "acl-c.wasm", "macswap.wasm"}

// Options describe one demo run. The zero value of a field is its default
// where one is stated.
type Options struct {
	Pipeline    []config.Plugin // the plugins, in order (DefaultPipeline or UserPipeline)
	Duration    time.Duration   // how long traffic flows (required, > 0)
	Interval    time.Duration   // how often live rates are shown (default 1s)
	Rate        float64         // frames per second (0: as fast as the host takes them)
	Size        int             // frame bytes (default gen.DefaultSize)
	Flows       int             // distinct flows
	Proto       gen.Proto       // frame type
	Queues      int             // queue pairs (default 1)
	MetricsAddr string          // HOST:PORT to serve /metrics on while the demo runs; "" for none
	CacheDir    string          // compiled-plugin cache; "" for none
	Fuel, Stack int64           // per-burst budgets of the tenant (0: the host's defaults)
	Terminal    bool            // out is a terminal: live lines are redrawn in place
	Logger      *slog.Logger    // warnings of the daemon and generator (default: discarded)
}

// Run runs the demo, writing progress, live rates and the summary to out.
// A generator error after frames were sent is returned after the summary.
func Run(ctx context.Context, o Options, out io.Writer) error {
	if o.Duration <= 0 {
		return fmt.Errorf("demo: duration %v: want a positive duration", o.Duration)
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	dir, err := os.MkdirTemp("", "memif-wasm-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "memif.sock")
	cfg := &config.Config{
		Engine: config.Engine{CacheDir: o.CacheDir},
		Tenants: []config.Tenant{{Name: "demo", Fuel: o.Fuel, Stack: o.Stack, Interfaces: []config.Interface{{
			Name: "demo0", Socket: sock, Role: "master", Queues: o.Queues, Plugins: o.Pipeline,
		}}}},
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	fmt.Fprintf(out, "memif-wasm demo: loading %s\n", pipelineNames(o.Pipeline))
	start := time.Now()
	d, err := daemon.New(ctx, cfg, daemon.Options{Logger: o.Logger})
	if err != nil {
		return err
	}
	defer d.Close()
	fmt.Fprintf(out, "pipeline ready in %v on %s (interface demo0, master)\n", time.Since(start).Round(time.Millisecond), sock)

	var metricsURL string
	if o.MetricsAddr != "" {
		ln, err := net.Listen("tcp", o.MetricsAddr)
		if err != nil {
			return fmt.Errorf("metrics address %s: %w", o.MetricsAddr, err)
		}
		mux := metrics.Mux(metrics.NewRegistry(d.Snapshot, metrics.NewTableCollector(d.Tables)), d.Ready)
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		metricsURL = "http://" + ln.Addr().String() + "/metrics"
		fmt.Fprintf(out, "metrics: %s (while the demo runs)\n", metricsURL)
	}

	live := newLiveRates(d, out, o.Terminal)
	size := o.Size
	if size == 0 {
		size = gen.DefaultSize
	}
	fmt.Fprintf(out, "traffic: %s, %d-byte frames, %d flows, for %v\n", rateText(o.Rate), size, o.Flows, o.Duration)
	rep, genErr := gen.Run(ctx, gen.Config{
		Socket: sock, Queues: o.Queues, Rate: o.Rate, Duration: o.Duration, Size: size,
		Flows: o.Flows, Proto: o.Proto, Drain: 500 * time.Millisecond, Logger: o.Logger,
		ProgressInterval: o.Interval, Progress: live.update,
	})
	live.finish()
	if genErr != nil && rep.Sent == 0 {
		return fmt.Errorf("traffic generator: %w", genErr)
	}

	snap := d.Snapshot()
	fmt.Fprintln(out)
	if in := demoInterface(snap); in != nil {
		admin.WritePipeline(out, in)
	}
	fmt.Fprintln(out, "\ngenerator:")
	rep.WriteText(out)
	if dropped := Dropped(snap); rep.Lost > 0 {
		fmt.Fprintf(out, "of the %d lost, the host dropped %d on purpose (drop/aborted verdicts, tx drops); unexplained: %d\n",
			rep.Lost, dropped, int64(rep.Lost)-int64(dropped))
	}
	if metricsURL != "" {
		fmt.Fprintf(out, "\nmetrics were served at %s; run `memif-wasm run` to keep a host up.\n", metricsURL)
	}
	if genErr != nil {
		return fmt.Errorf("traffic generator: %w", genErr)
	}
	return nil
}

// UserPipeline is a pipeline of the given files, in order; the same module
// twice gets a second name (name-2), since names must differ.
func UserPipeline(files []string) ([]config.Plugin, error) {
	var ps []config.Plugin
	seen := map[string]int{}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("plugin %s: %w", f, errors.Unwrap(err))
		}
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		p := config.Plugin{File: abs}
		name := p.PluginName()
		if seen[name]++; seen[name] > 1 {
			p.Name = fmt.Sprintf("%s-%d", name, seen[name])
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// DefaultPipeline is counter -> acl -> macswap from dir (DefaultFiles), the
// acl configured by ACLConfig. A missing file is reported with what builds it.
func DefaultPipeline(dir string) ([]config.Plugin, error) {
	var ps []config.Plugin
	for _, n := range DefaultFiles {
		f := filepath.Join(dir, n)
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("%s: %w: the default pipeline needs %s (run make plugins first in a checkout of "+
				"github.com/memif-wasm/memif-wasm and give its plugins/build as --plugins-dir, or pass --plugin FILE)",
				f, errors.Unwrap(err), strings.Join(DefaultFiles, ", "))
		}
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		ps = append(ps, config.Plugin{File: abs})
	}
	ps[1].Name = "acl"
	ps[1].Config = string(ACLConfig())
	return ps, nil
}

// ACLConfig is the C acl's binary configuration (plugins/acl/c/acl.c): allow
// by default, deny UDP from source port ACLDeniedPort.
func ACLConfig() []byte {
	b := make([]byte, 8+48)
	copy(b, "MWA1")
	b[4], b[5] = 1, 1 // default allow, non-IP allow
	binary.LittleEndian.PutUint16(b[6:], 1)
	r := b[8:]
	r[0], r[1], r[2], r[3] = 0, 4, 17, 1 // deny, IPv4, UDP, match proto
	binary.LittleEndian.PutUint16(r[8:], ACLDeniedPort)
	binary.LittleEndian.PutUint16(r[10:], ACLDeniedPort)
	binary.LittleEndian.PutUint16(r[12:], 0)
	binary.LittleEndian.PutUint16(r[14:], 0xffff)
	return b
}

func pipelineNames(ps []config.Plugin) string {
	names := make([]string, len(ps))
	for i := range ps {
		names[i] = ps[i].PluginName()
	}
	return strings.Join(names, " -> ")
}

func rateText(r float64) string {
	if r == 0 {
		return "as fast as the host takes them"
	}
	return gen.Rate(r, "pps")
}

// liveRates prints per-plugin verdict rates from daemon snapshots, one line
// per interval (redrawn in place on a terminal).
type liveRates struct {
	d        *daemon.Daemon
	w        io.Writer
	terminal bool

	mu   sync.Mutex
	last map[string][abi.NumVerdicts]uint64
	at   time.Time
	sent uint64
	n    int
}

func newLiveRates(d *daemon.Daemon, w io.Writer, terminal bool) *liveRates {
	return &liveRates{d: d, w: w, terminal: terminal, last: map[string][abi.NumVerdicts]uint64{}, at: time.Now()}
}

func (l *liveRates) update(p gen.Progress) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	secs := now.Sub(l.at).Seconds()
	l.at = now
	var parts []string
	var plugins []daemon.PluginSnapshot
	if in := demoInterface(l.d.Snapshot()); in != nil {
		plugins = in.Plugins
	}
	for _, ps := range plugins {
		prev := l.last[ps.Name]
		var vs []string
		for v := range abi.NumVerdicts {
			if d := ps.Stats.Verdicts[v] - prev[v]; d > 0 && secs > 0 {
				vs = append(vs, fmt.Sprintf("%s %s", abi.Verdict(v), gen.Rate(float64(d)/secs, "/s")))
			}
		}
		if len(vs) == 0 {
			vs = append(vs, "idle")
		}
		l.last[ps.Name] = ps.Stats.Verdicts
		parts = append(parts, ps.Name+": "+strings.Join(vs, ", "))
	}
	sent := p.Sent - l.sent
	l.sent = p.Sent
	line := fmt.Sprintf("%5.1fs  gen %s  |  %s", p.Elapsed.Seconds(), gen.Rate(float64(sent)/secs, "pps"), strings.Join(parts, "  |  "))
	if l.terminal {
		fmt.Fprintf(l.w, "\r%s\x1b[K", line)
	} else {
		fmt.Fprintln(l.w, line)
	}
	l.n++
}

func (l *liveRates) finish() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.terminal && l.n > 0 {
		fmt.Fprintln(l.w)
	}
}

// demoInterface is the demo's one interface in a snapshot, or nil.
func demoInterface(s *daemon.Snapshot) *daemon.InterfaceSnapshot {
	if len(s.Tenants) == 0 || len(s.Tenants[0].Interfaces) == 0 {
		return nil
	}
	return &s.Tenants[0].Interfaces[0]
}

// Dropped is what the demo interface dropped on purpose: drop and aborted
// verdicts and fail-policy drops of every plugin, and transmit drops (which
// include PASS without an egress).
func Dropped(s *daemon.Snapshot) uint64 {
	in := demoInterface(s)
	if in == nil {
		return 0
	}
	var n uint64
	for _, p := range in.Plugins {
		n += p.Stats.Verdicts[abi.Drop] + p.Stats.Verdicts[abi.Aborted] + p.Stats.FaultPackets
	}
	for _, q := range in.Queues {
		for _, d := range q.Drops {
			n += d
		}
	}
	return n
}
