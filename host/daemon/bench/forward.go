package bench

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/memif-wasm/memif-wasm/host/daemon"
	"github.com/memif-wasm/memif-wasm/host/daemon/admin"
	"github.com/memif-wasm/memif-wasm/memif/gen"
	"github.com/memif-wasm/memif-wasm/memif/testpmd"
)

// The forwarding benchmark runs the host as users run it: `memif-wasm run`
// is one process, a middle box with two master interfaces on one socket
// (ids 0 and 1, each the other's egress), and `memif-wasm gen` another, a
// slave that sends on id 0 and counts what comes back on id 1. The host's
// CPU time is read from /proc for its process alone, so the generator's
// work is not in it.

// TestpmdHandler names the reference row: DPDK testpmd in io mode between
// the same two interfaces, instead of memif-wasm.
const TestpmdHandler = "testpmd-io"

// ForwardCell is one run of the forwarding benchmark.
type ForwardCell struct {
	// Exe is the memif-wasm binary: it runs the daemon (run) and the
	// generator (gen) as separate processes.
	Exe string
	// Dir holds the run's config, sockets and plugin configs.
	Dir string
	// CacheDir is the daemon's compiled-plugin cache ("": none; every
	// cell then compiles its plugin again before it starts).
	CacheDir string
	// Handler runs on both interfaces; Name TestpmdHandler runs testpmd
	// instead of the daemon. Name "acl-c" gets a 16-rule config that
	// passes the generator's flows.
	Handler Handler
	RxMode  string        // the daemon's rx_mode: interrupt, polling, adaptive
	RxDelay time.Duration // the daemon's rx_delay (interrupt moderation)
	Size    int           // frame bytes
	// Rate is the offered rate in frames per second; 0: as fast as the
	// middle box takes frames.
	Rate float64
	Time time.Duration // how long the generator sends
	// Stderr gets the child processes' logs (nil: discarded).
	Stderr io.Writer
}

// ForwardRow is one row of memif-wasm bench --forward.
type ForwardRow struct {
	Handler    string  `json:"handler"`
	RxMode     string  `json:"rx_mode"`
	RxDelayNs  int64   `json:"rx_delay_ns"`
	Size       int     `json:"size"`
	OfferedPPS float64 `json:"offered_pps"` // 0: as fast as the middle box takes frames
	// ZeroLoss marks the row of the highest zero-loss rate a search found.
	ZeroLoss     bool    `json:"zero_loss_search"`
	Sent         uint64  `json:"sent"`
	Forwarded    uint64  `json:"forwarded"`
	SentPPS      float64 `json:"sent_pps"`
	ForwardedPPS float64 `json:"forwarded_pps"`
	LossPercent  float64 `json:"loss_percent"`
	// HostCPUNsPerPkt is the middle box process's CPU time (user and
	// system, every thread) while the generator ran, per forwarded frame.
	HostCPUNsPerPkt float64 `json:"host_cpu_ns_per_packet"`
	LatencyP50Ns    int64   `json:"latency_p50_ns"`
	LatencyP99Ns    int64   `json:"latency_p99_ns"`
	// PktsPerWakeup is frames received per wake-up of the host's rx
	// queues (0: none slept, as in polling mode, or testpmd).
	PktsPerWakeup float64 `json:"packets_per_wakeup"`
	// GenTxRingFull counts the generator's waits for room: the middle box
	// did not take frames as fast as they were offered.
	GenTxRingFull uint64 `json:"gen_tx_ring_full"`
}

// lossless reports whether the row forwarded everything it was offered:
// nothing lost, and the generator sent at least 99% of the offered rate
// (a middle box that makes the generator wait is not keeping up either).
func (r ForwardRow) lossless() bool {
	return r.Sent > 0 && r.Forwarded >= r.Sent && (r.OfferedPPS == 0 || r.SentPPS >= 0.99*r.OfferedPPS)
}

// middleBox is the process between the generator's two interfaces.
type middleBox struct {
	pid    int
	socket string
	stop   func() error
	// wakeups returns frames received and wake-ups of the host's rx queues.
	wakeups func(context.Context) (rx, wakeups uint64, err error)
}

// Forward runs one cell: a fresh middle box, the generator against it for
// c.Time, and the row.
func Forward(ctx context.Context, c ForwardCell) (ForwardRow, error) {
	row := ForwardRow{Handler: c.Handler.Name, RxMode: c.RxMode, RxDelayNs: int64(c.RxDelay), Size: c.Size, OfferedPPS: c.Rate}
	var mb *middleBox
	var err error
	if c.Handler.Name == TestpmdHandler {
		row.RxMode, row.RxDelayNs = "polling", 0
		mb, err = startTestpmd(ctx, c)
	} else {
		mb, err = startDaemon(ctx, c)
	}
	if err != nil {
		return row, err
	}
	defer mb.stop()
	cpu0, err := ProcessCPU(mb.pid)
	if err != nil {
		return row, err
	}
	rep, err := runGen(ctx, c, mb.socket)
	if err != nil {
		return row, err
	}
	cpu1, err := ProcessCPU(mb.pid)
	if err != nil {
		return row, err
	}
	row.Sent, row.Forwarded, row.GenTxRingFull = rep.Sent, rep.Unique, rep.TxRingFull
	if s := rep.SendTime.Seconds(); s > 0 {
		row.SentPPS, row.ForwardedPPS = float64(rep.Sent)/s, float64(rep.Unique)/s
	}
	if rep.Sent > 0 {
		row.LossPercent = 100 * float64(rep.Lost) / float64(rep.Sent)
	}
	if rep.Unique > 0 {
		row.HostCPUNsPerPkt = float64(cpu1-cpu0) / float64(rep.Unique)
	}
	row.LatencyP50Ns, row.LatencyP99Ns = int64(rep.Latency.P50), int64(rep.Latency.P99)
	if mb.wakeups != nil {
		rx, w, err := mb.wakeups(ctx)
		if err != nil {
			return row, err
		}
		if w > 0 {
			row.PktsPerWakeup = float64(rx) / float64(w)
		}
	}
	return row, mb.stop()
}

// SearchZeroLoss finds the highest rate c's middle box forwards without
// loss: a run as fast as the generator can send first (its forwarded rate
// is the ceiling, and the answer when it lost nothing), then steps of
// bisection between lo and that ceiling. The row returned is the best
// lossless run, marked ZeroLoss (with Sent 0 if none was).
func SearchZeroLoss(ctx context.Context, c ForwardCell, lo float64, steps int) (ForwardRow, error) {
	c.Rate = 0
	top, err := Forward(ctx, c)
	if err != nil {
		return top, err
	}
	best := ForwardRow{Handler: top.Handler, RxMode: top.RxMode, RxDelayNs: top.RxDelayNs, Size: top.Size}
	if top.lossless() {
		best = top
		best.OfferedPPS = top.SentPPS
	} else {
		hi := top.ForwardedPPS
		for range steps {
			if hi <= lo {
				break
			}
			c.Rate = (lo + hi) / 2
			r, err := Forward(ctx, c)
			if err != nil {
				return r, err
			}
			if r.lossless() {
				best, lo = r, c.Rate
			} else {
				hi = c.Rate
			}
		}
	}
	best.ZeroLoss = true
	return best, nil
}

// startDaemon writes the cell's config and starts memif-wasm run on it.
func startDaemon(ctx context.Context, c ForwardCell) (*middleBox, error) {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, err
	}
	sock := filepath.Join(c.Dir, "fwd.sock")
	adminSock := filepath.Join(c.Dir, "admin.sock")
	os.Remove(sock)
	os.Remove(adminSock)
	var plugin string
	if c.Handler.File != "" {
		plugin = fmt.Sprintf("        plugins:\n          - file: %q\n", c.Handler.File)
		if c.Handler.Name == "acl-c" {
			rules := filepath.Join(c.Dir, "acl-rules.bin")
			if err := os.WriteFile(rules, ACLRules(16), 0o644); err != nil {
				return nil, err
			}
			plugin += fmt.Sprintf("            config_file: %q\n", rules)
		}
	}
	mode := fmt.Sprintf("        rx_mode: %s\n", c.RxMode)
	if c.RxDelay > 0 {
		// Only when set: an older build (--exe, to compare) lacks the key.
		mode += fmt.Sprintf("        rx_delay: %v\n", c.RxDelay)
	}
	iface := func(name, egress string, id int) string {
		return fmt.Sprintf("      - name: %s\n        socket: %q\n        role: master\n        id: %d\n        egress: %s\n%s%s",
			name, sock, id, egress, mode, plugin)
	}
	cfg := fmt.Sprintf("log:\n  level: warn\nadmin:\n  socket: %q\nengine:\n  cache_dir: %q\ntenants:\n  - name: fwd\n    interfaces:\n%s%s",
		adminSock, c.CacheDir, iface("west", "east", 0), iface("east", "west", 1))
	path := filepath.Join(c.Dir, "fwd.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(c.Exe, "run", "--config", path)
	cmd.Stdout, cmd.Stderr = c.Stderr, c.Stderr
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the daemon: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	var stopErr error
	stop := func() error {
		if stopped {
			return stopErr
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				stopErr = fmt.Errorf("daemon: %w", err)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
			stopErr = errors.New("daemon did not stop within 10 s of SIGTERM; killed")
		}
		return stopErr
	}
	client := admin.NewClient(adminSock, "")
	// Up when the admin API answers with both interfaces listening.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			if _, err := client.Stats(ctx); err == nil {
				break
			}
		}
		select {
		case err := <-exited:
			stopped, stopErr = true, err
			return nil, fmt.Errorf("the daemon exited at start: %v", err)
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return nil, errors.New("the daemon did not come up within 60 s")
		}
	}
	return &middleBox{pid: cmd.Process.Pid, socket: sock, stop: stop, wakeups: func(ctx context.Context) (uint64, uint64, error) {
		return daemonWakeups(ctx, client)
	}}, nil
}

// daemonWakeups sums the memif receive counters of every interface.
func daemonWakeups(ctx context.Context, client *admin.Client) (rx, wakeups uint64, err error) {
	snap, err := client.Stats(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("daemon stats: %w", err)
	}
	forEachInterface(snap, func(ifs *daemon.InterfaceSnapshot) {
		rx += ifs.Memif.RxPackets
		wakeups += ifs.Memif.RxWakeups
	})
	return rx, wakeups, nil
}

func forEachInterface(s *daemon.Snapshot, f func(*daemon.InterfaceSnapshot)) {
	for t := range s.Tenants {
		for i := range s.Tenants[t].Interfaces {
			f(&s.Tenants[t].Interfaces[i])
		}
	}
}

// startTestpmd starts testpmd in io mode with two server ports, 0 ↔ 1.
func startTestpmd(ctx context.Context, c ForwardCell) (*middleBox, error) {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, err
	}
	sock := filepath.Join(c.Dir, "testpmd.sock")
	os.Remove(sock)
	pmd, err := testpmd.Start(ctx, &testpmd.Config{
		Ports: []testpmd.Port{
			{Role: testpmd.RoleServer, Socket: sock, ID: 0, BufferSize: 2048},
			{Role: testpmd.RoleServer, Socket: sock, ID: 1, BufferSize: 2048},
		},
		ForwardMode: "io",
	})
	if err != nil {
		return nil, err
	}
	if err := pmd.StartForwarding(ctx, false); err != nil {
		pmd.Close()
		return nil, err
	}
	return &middleBox{pid: pmd.PID(), socket: sock, stop: pmd.Close}, nil
}

// runGen runs memif-wasm gen against the middle box's socket and returns its report.
func runGen(ctx context.Context, c ForwardCell, sock string) (gen.Report, error) {
	args := []string{"gen", "--socket", sock, "--role", "slave", "--id", "0", "--rx-id", "1",
		"--size", strconv.Itoa(c.Size), "--flows", "8", "--duration", c.Time.String(),
		"--drain", "300ms", "--json", "--quiet"}
	if c.Rate > 0 {
		args = append(args, "--rate", strconv.FormatFloat(c.Rate, 'f', 0, 64))
	}
	if c.Handler.Name == TestpmdHandler {
		args = append(args, "--settle", "1s") // testpmd's ports start forwarding a moment after link up
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, c.Exe, args...)
	cmd.Stdout, cmd.Stderr = &out, c.Stderr
	cmd.SysProcAttr = childAttr()
	runErr := cmd.Run()
	var rep struct {
		gen.Report
		Error string `json:"error"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return gen.Report{}, fmt.Errorf("generator: %v (exit: %v)", err, runErr)
	}
	if rep.Error != "" {
		return rep.Report, fmt.Errorf("generator: %s", rep.Error)
	}
	if runErr != nil {
		return rep.Report, fmt.Errorf("generator: %w", runErr)
	}
	return rep.Report, nil
}

// clockTick is the unit of /proc/PID/stat's CPU times: USER_HZ, 100 on
// every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// ProcessCPU returns the user and system CPU time process pid has used,
// every thread, from /proc/PID/stat (10 ms resolution: run cells of a few
// seconds).
func ProcessCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a /proc/PID/stat
// line. The command name (field 2) is in parentheses and may hold spaces
// and parentheses itself, so fields are counted after its last ')'.
func parseStatCPU(s string) (time.Duration, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat %q: no command name", s)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): utime is field 14, f[11].
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields after the command name, want at least 13", len(f))
	}
	var ticks uint64
	for _, s := range f[11:13] {
		n, err := strconv.ParseUint(s, 10, 63)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: CPU time %q: %w", s, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// ACLRules returns a config for the C acl plugin (plugins/README.md): n
// rules that deny UDP to addresses of TEST-NET-3 (203.0.113.0/24), which
// the generator's flows never use, and allow everything else: every packet
// is checked against every rule and passed.
func ACLRules(n int) []byte {
	b := []byte("MWA1")
	b = append(b, 1, 1) // default allow, non-IP allow
	b = binary.LittleEndian.AppendUint16(b, uint16(n))
	for i := range n {
		var r [48]byte
		r[0], r[1], r[2], r[3] = 0, 4, 17, 1 // deny, IPv4, UDP, match proto
		r[4], r[5] = 0, 32                   // any source, one destination
		binary.LittleEndian.PutUint16(r[10:], 0xffff)
		binary.LittleEndian.PutUint16(r[14:], 0xffff)
		r[32], r[33], r[34], r[35] = 203, 0, 113, byte(i)
		b = append(b, r[:]...)
	}
	return b
}

// WriteForwardTable writes rows as memif-wasm bench --forward prints them.
func WriteForwardTable(w io.Writer, rows []ForwardRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "handler\trx mode\toffered\tforwarded\tloss\thost CPU ns/pkt\tp50\tp99\tpkts/wake-up\t\n")
	for _, r := range rows {
		mode := r.RxMode
		if r.RxDelayNs > 0 {
			mode += "+" + time.Duration(r.RxDelayNs).String()
		}
		offered := gen.Rate(r.OfferedPPS, "pps")
		switch {
		case r.ZeroLoss && r.Sent == 0:
			offered = "none lossless"
		case r.ZeroLoss:
			offered = "max 0-loss " + offered
		case r.OfferedPPS == 0:
			offered = "max"
		}
		wake := "-"
		if r.PktsPerWakeup > 0 {
			wake = fmt.Sprintf("%.1f", r.PktsPerWakeup)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.3f%%\t%.0f\t%v\t%v\t%s\t\n", r.Handler, mode, offered,
			gen.Rate(r.ForwardedPPS, "pps"), r.LossPercent, r.HostCPUNsPerPkt,
			time.Duration(r.LatencyP50Ns).Round(100*time.Nanosecond), time.Duration(r.LatencyP99Ns).Round(100*time.Nanosecond), wake)
	}
	tw.Flush()
}

// ForwardPlan is a whole memif-wasm bench --forward run.
type ForwardPlan struct {
	Exe, Dir, CacheDir string
	Handlers           []Handler // each with every rx mode; TestpmdHandler is added by Testpmd
	RxModes            []string
	RxDelay            time.Duration
	Size               int
	Rates              []float64 // fixed offered rates, frames per second
	// Search adds, per handler and rx mode, the highest zero-loss rate
	// (SearchZeroLoss from SearchFloor, SearchSteps bisections).
	Search      bool
	SearchFloor float64
	SearchSteps int
	// Testpmd adds testpmd io's highest zero-loss rate as the reference row.
	Testpmd bool
	Time    time.Duration
	// Repeat runs each fixed-rate cell this many times, interleaved (every
	// cell once, then again), and keeps the run with the median host CPU
	// per packet; a search runs once.
	Repeat int
	Stderr io.Writer
	// Progress, if set, is called after each run with the runs done so far.
	Progress func(done int)
}

// RunForward runs the plan's cells and returns their rows: per handler and
// rx mode the fixed rates, then the zero-loss search; testpmd last.
func RunForward(ctx context.Context, p ForwardPlan) ([]ForwardRow, error) {
	var cells []ForwardCell
	for _, h := range p.Handlers {
		for _, m := range p.RxModes {
			cells = append(cells, ForwardCell{Exe: p.Exe, Dir: p.Dir, CacheDir: p.CacheDir, Handler: h, RxMode: m,
				RxDelay: p.RxDelay, Size: p.Size, Time: p.Time, Stderr: p.Stderr})
		}
	}
	done := 0
	step := func() {
		done++
		if p.Progress != nil {
			p.Progress(done)
		}
	}
	runs := make([][]ForwardRow, len(cells)*len(p.Rates))
	for range max(p.Repeat, 1) {
		for i, c := range cells {
			for j, rate := range p.Rates {
				c.Rate = rate
				r, err := Forward(ctx, c)
				if err != nil {
					return nil, fmt.Errorf("%s/%s at %s: %w", c.Handler.Name, c.RxMode, gen.Rate(rate, "pps"), err)
				}
				runs[i*len(p.Rates)+j] = append(runs[i*len(p.Rates)+j], r)
				step()
			}
		}
	}
	var rows []ForwardRow
	for i, c := range cells {
		for j := range p.Rates {
			rows = append(rows, medianCPU(runs[i*len(p.Rates)+j]))
		}
		if p.Search {
			r, err := SearchZeroLoss(ctx, c, p.SearchFloor, p.SearchSteps)
			if err != nil {
				return nil, fmt.Errorf("%s/%s zero-loss search: %w", c.Handler.Name, c.RxMode, err)
			}
			rows = append(rows, r)
			step()
		}
	}
	if p.Testpmd {
		c := ForwardCell{Exe: p.Exe, Dir: p.Dir, Handler: Handler{Name: TestpmdHandler}, Size: p.Size, Time: p.Time, Stderr: p.Stderr}
		r, err := SearchZeroLoss(ctx, c, p.SearchFloor, p.SearchSteps)
		if err != nil {
			return nil, fmt.Errorf("testpmd io: %w", err)
		}
		rows = append(rows, r)
		step()
	}
	return rows, nil
}

// medianCPU returns the run with the median host CPU per packet.
func medianCPU(runs []ForwardRow) ForwardRow {
	s := append([]ForwardRow(nil), runs...)
	slices.SortFunc(s, func(a, b ForwardRow) int { return cmp.Compare(a.HostCPUNsPerPkt, b.HostCPUNsPerPkt) })
	return s[len(s)/2]
}
