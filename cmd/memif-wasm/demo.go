package main

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

func init() {
	register(command{name: "demo", summary: "run a host with example plugins against a built-in traffic generator", run: demoMain})
}

const demoUsage = "memif-wasm demo [--duration D] [--plugin FILE]..."

const demoDescription = `Starts a memif-wasm host in this process with a pipeline of example plugins on one
memif interface (master, on a temporary socket) and a built-in traffic generator as
its peer (slave). Live per-plugin verdict rates while traffic flows, then a summary
table, the generator's loss and latency report, and where /metrics was served.

The default pipeline is counter -> acl -> macswap from plugins/build (run make plugins
first): counter passes and counts everything, acl drops one flow in eight (UDP source
port 1031) and macswap sends the rest back: so about 12.5% "loss" is the acl at work.
With --plugin, the pipeline is your modules instead, in the order given; the packets
they TX come back to the generator.`

const demoExamples = `make demo                       # = go run ./cmd/memif-wasm demo
memif-wasm demo --duration 10s --rate 200000
memif-wasm demo --plugin plugins/build/icmp-responder.wasm --proto icmp
memif-wasm demo --plugin my-filter.wasm --plugin plugins/build/macswap.wasm`

// demoAclDeniedPort is the UDP source port the demo's acl denies: flow 7 of gen's 8.
const demoAclDeniedPort = 1031

func demoMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", demoUsage, demoDescription, demoExamples)
	duration := fs.Duration("duration", 5*time.Second, "how long traffic flows")
	plugins := fs.StringArray("plugin", nil, "a .wasm plugin for the pipeline (repeatable, in order; replaces the default pipeline)")
	pluginsDir := fs.String("plugins-dir", "plugins/build", "where the default pipeline's plugins are")
	rate := fs.Float64("rate", 50000, "frames per second the generator sends (0: as fast as possible)")
	size := fs.Int("size", gen.DefaultSize, "frame size in bytes")
	flows := fs.Int("flows", 8, "distinct flows (UDP source ports 1024..)")
	proto := fs.String("proto", "udp", "frame type: udp, or icmp (for icmp-responder)")
	queues := fs.Int("queues", 1, "queue pairs (one host worker per rx queue)")
	metricsAddr := fs.String("metrics-addr", "127.0.0.1:0", `HOST:PORT to serve /metrics on while the demo runs ("" for none)`)
	cacheDir := fs.String("cache-dir", defaultCacheDir(), `compiled-plugin cache, so later runs start faster ("" for none)`)
	interval := fs.Duration("interval", time.Second, "how often live rates are shown")
	fuelBudget := fs.Int64("fuel", 0, "fuel budget of one burst per plugin (0: the host's default)")
	stackBudget := fs.Int64("stack", 0, "bytes of call stack one plugin call may take (0: the host's default, 256 KiB)")
	if code, done := fs.parse(args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		return fs.usageError(stderr, "unexpected argument %q", fs.Arg(0))
	}
	if *duration <= 0 {
		return fs.usageError(stderr, "--duration %v: want a positive duration", *duration)
	}
	if *interval <= 0 {
		return fs.usageError(stderr, "--interval %v: want a positive duration", *interval)
	}
	protoV, err := gen.ParseProto(*proto)
	if err != nil {
		return fs.usageError(stderr, "--proto: %v", err)
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "memif-wasm demo: %v\n", err)
		return exitFailure
	}

	pipeline, err := demoPipeline(*plugins, *pluginsDir)
	if err != nil {
		return fail(err)
	}
	dir, err := os.MkdirTemp("", "memif-wasm-demo")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "memif.sock")
	cfg := &config.Config{
		Engine: config.Engine{CacheDir: *cacheDir},
		Tenants: []config.Tenant{{Name: "demo", Fuel: *fuelBudget, Stack: *stackBudget, Interfaces: []config.Interface{{
			Name: "demo0", Socket: sock, Role: "master", Queues: *queues, Plugins: pipeline,
		}}}},
	}
	if err := cfg.Validate(); err != nil {
		return fail(err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	fmt.Fprintf(stdout, "memif-wasm demo: loading %s\n", pipelineNames(pipeline))
	start := time.Now()
	d, err := daemon.New(ctx, cfg, daemon.Options{Logger: logger})
	if err != nil {
		return fail(err)
	}
	defer d.Close()
	fmt.Fprintf(stdout, "pipeline ready in %v on %s (interface demo0, master)\n", time.Since(start).Round(time.Millisecond), sock)

	var metricsURL string
	if *metricsAddr != "" {
		ln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			return fail(fmt.Errorf("--metrics-addr %s: %w", *metricsAddr, err))
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", metrics.Handler(metrics.NewRegistry(d.Snapshot, metrics.NewTableCollector(d.Tables))))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		metricsURL = "http://" + ln.Addr().String() + "/metrics"
		fmt.Fprintf(stdout, "metrics: %s (while the demo runs)\n", metricsURL)
	}

	live := newLiveRates(d, stdout, isTerminal(stdout))
	fmt.Fprintf(stdout, "traffic: %s, %d-byte frames, %d flows, for %v\n",
		rateText(*rate), *size, *flows, *duration)
	rep, genErr := gen.Run(ctx, gen.Config{
		Socket: sock, Queues: *queues, Rate: *rate, Duration: *duration, Size: *size,
		Flows: *flows, Proto: protoV, Drain: 500 * time.Millisecond, Logger: logger,
		ProgressInterval: *interval, Progress: live.update,
	})
	live.finish()
	if genErr != nil && rep.Sent == 0 {
		return fail(fmt.Errorf("traffic generator: %w", genErr))
	}

	snap := d.Snapshot()
	fmt.Fprintln(stdout)
	writeDemoSummary(stdout, snap)
	fmt.Fprintln(stdout, "\ngenerator:")
	rep.WriteText(stdout)
	if dropped := demoDropped(snap); rep.Lost > 0 {
		fmt.Fprintf(stdout, "of the %d lost, the host dropped %d on purpose (drop/aborted verdicts, tx drops); unexplained: %d\n",
			rep.Lost, dropped, int64(rep.Lost)-int64(dropped))
	}
	if metricsURL != "" {
		fmt.Fprintf(stdout, "\nmetrics were served at %s; run `memif-wasm run` to keep a host up.\n", metricsURL)
	}
	if genErr != nil {
		return fail(fmt.Errorf("traffic generator: %w", genErr))
	}
	return exitOK
}

// demoPipeline is the user's plugins, or counter -> acl -> macswap from dir.
func demoPipeline(files []string, dir string) ([]config.Plugin, error) {
	if len(files) > 0 {
		var ps []config.Plugin
		seen := map[string]int{}
		for _, f := range files {
			if _, err := os.Stat(f); err != nil {
				return nil, fmt.Errorf("--plugin %s: %w", f, errors.Unwrap(err))
			}
			abs, err := filepath.Abs(f)
			if err != nil {
				return nil, err
			}
			p := config.Plugin{File: abs}
			name := p.PluginName()
			if seen[name]++; seen[name] > 1 { // the same module twice: names must differ
				p.Name = fmt.Sprintf("%s-%d", name, seen[name])
			}
			ps = append(ps, p)
		}
		return ps, nil
	}
	names := []string{"counter.wasm", "acl-c.wasm", "macswap.wasm"}
	var ps []config.Plugin
	for _, n := range names {
		f := filepath.Join(dir, n)
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("%s: %w (run make plugins first, or pass --plugin FILE)", f, errors.Unwrap(err))
		}
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		ps = append(ps, config.Plugin{File: abs})
	}
	ps[1].Name = "acl"
	ps[1].Config = string(demoACLConfig())
	return ps, nil
}

// demoACLConfig is the C acl's binary configuration (plugins/acl/c/acl.c): allow by
// default, deny UDP from source port demoAclDeniedPort.
func demoACLConfig() []byte {
	b := make([]byte, 8+48)
	copy(b, "MWA1")
	b[4], b[5] = 1, 1 // default allow, non-IP allow
	binary.LittleEndian.PutUint16(b[6:], 1)
	r := b[8:]
	r[0], r[1], r[2], r[3] = 0, 4, 17, 1 // deny, IPv4, UDP, match proto
	binary.LittleEndian.PutUint16(r[8:], demoAclDeniedPort)
	binary.LittleEndian.PutUint16(r[10:], demoAclDeniedPort)
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

func defaultCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "memif-wasm")
}

func rateText(r float64) string {
	if r == 0 {
		return "as fast as the host takes them"
	}
	return gen.Rate(r, "pps")
}

// liveRates prints per-plugin verdict rates from daemon snapshots, one line per
// interval (redrawn in place on a terminal).
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
	for _, ps := range demoPlugins(l.d.Snapshot()) {
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

// demoPlugins is the demo interface's pipeline in a snapshot.
func demoPlugins(s *daemon.Snapshot) []daemon.PluginSnapshot {
	if len(s.Tenants) == 0 || len(s.Tenants[0].Interfaces) == 0 {
		return nil
	}
	return s.Tenants[0].Interfaces[0].Plugins
}

func writeDemoSummary(w io.Writer, s *daemon.Snapshot) {
	if len(s.Tenants) > 0 && len(s.Tenants[0].Interfaces) > 0 {
		admin.WritePipeline(w, &s.Tenants[0].Interfaces[0])
	}
}

// demoDropped is what the demo interface dropped on purpose: drop and aborted verdicts
// of every plugin, and transmit drops (which include PASS without an egress).
func demoDropped(s *daemon.Snapshot) uint64 {
	var n uint64
	for _, p := range demoPlugins(s) {
		n += p.Stats.Verdicts[abi.Drop] + p.Stats.Verdicts[abi.Aborted] + p.Stats.FaultPackets
	}
	if len(s.Tenants) > 0 && len(s.Tenants[0].Interfaces) > 0 {
		for _, q := range s.Tenants[0].Interfaces[0].Queues {
			for _, d := range q.Drops {
				n += d
			}
		}
	}
	return n
}
