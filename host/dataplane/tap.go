package dataplane

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host"
)

// Taps: a Trace (VPP's `trace add`) or a Capture (VPP's `pcap trace`,
// dpdk-dumpcap) set on a Port sees the packets its workers receive and, for
// a Capture, those sent out of it. A worker loads the port's two tap
// pointers once per burst and once per transmitting port; with none set it
// does nothing more, so the packet path costs the same as without taps
// (BenchmarkWorkerBurst/taps=off). While a tap is set the worker copies what
// it records, which allocates: taps are for looking, not for running.

// TraceHeadBytes is how much of a traced packet is kept, as received: enough
// for Ethernet, two VLAN tags, IPv6 and a transport header.
const TraceHeadBytes = 128

// MaxTracePackets bounds a Trace, as VPP bounds `trace add`.
const MaxTracePackets = 10000

// Trace records the next packets received on a Port: their headers as
// received, what each plugin decided and how long it took, and how they
// left. Create it with NewTrace and set it with Port.SetTrace.
type Trace struct {
	mu      sync.Mutex
	want    int
	packets []TracedPacket
}

// TracedPacket is one packet of a Trace.
type TracedPacket struct {
	Time  time.Time `json:"time"`
	Queue int       `json:"queue"`
	// Len is the packet's length as received (chained buffers included);
	// Head its first bytes, at most TraceHeadBytes.
	Len  int    `json:"len"`
	Head []byte `json:"head"`
	// Headers is Head decoded (see DecodeHeaders), one line per layer.
	Headers []string `json:"headers"`
	// Stages are the plugins that saw the packet, in order.
	Stages []TracedStage `json:"stages"`
	// Verdict is the final verdict (abi.Verdict's name), LenOut the length
	// the plugins left.
	Verdict string `json:"verdict"`
	LenOut  int    `json:"len_out"`
	// Egress says where the packet left ("tx memif0", "pass north",
	// "redirect 2 south"), or Drop why it did not.
	Egress string `json:"egress,omitempty"`
	Drop   string `json:"drop,omitempty"`
}

// TracedStage is one plugin's part in a TracedPacket.
type TracedStage struct {
	Plugin  string `json:"plugin"`
	Verdict string `json:"verdict"`
	// LenIn and LenOut are the packet's length before and after the plugin.
	LenIn  uint32 `json:"len_in"`
	LenOut uint32 `json:"len_out"`
	// Took is the plugin call's time (host hand-over included); the call
	// handled CallPackets packets, this one among them.
	Took        time.Duration `json:"took_ns"`
	CallPackets int           `json:"call_packets"`
	// Faulted: the plugin faulted, awaited a restart or was quarantined, and
	// its fail policy gave the verdict.
	Faulted bool `json:"faulted,omitempty"`
}

// NewTrace returns a trace of the next n packets (1 to MaxTracePackets).
func NewTrace(n int) (*Trace, error) {
	if n < 1 || n > MaxTracePackets {
		return nil, fmt.Errorf("dataplane: trace of %d packets: want 1 to %d", n, MaxTracePackets)
	}
	return &Trace{want: n}, nil
}

// Packets returns a copy of the packets recorded so far, with their
// headers decoded (here rather than on the worker), and how many more the
// trace waits for.
func (t *Trace) Packets() (pkts []TracedPacket, pending int) {
	t.mu.Lock()
	pkts, pending = append([]TracedPacket(nil), t.packets...), t.want
	t.mu.Unlock()
	for i := range pkts {
		pkts[i].Headers = DecodeHeaders(pkts[i].Head)
	}
	return pkts, pending
}

// reserve takes up to n of the packets the trace still wants.
func (t *Trace) reserve(n int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := min(n, t.want)
	t.want -= k
	return k
}

func (t *Trace) pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.want
}

func (t *Trace) add(p []TracedPacket) {
	t.mu.Lock()
	t.packets = append(t.packets, p...)
	t.mu.Unlock()
}

// SetTrace starts tracing the port's received packets into t (nil stops),
// replacing any trace set before.
func (p *Port) SetTrace(t *Trace) { p.trace.Store(t) }

// Trace returns the port's trace, or nil.
func (p *Port) Trace() *Trace { return p.trace.Load() }

// Direction is which way a captured packet went.
type Direction uint8

const (
	DirRx   Direction = iota // received on the port, as received
	DirTx                    // sent out of the port, as sent
	DirDrop                  // received on the port and not sent anywhere, as received
	NumDirections
)

var dirNames = [NumDirections]string{"rx", "tx", "drop"}

func (d Direction) String() string {
	if d < NumDirections {
		return dirNames[d]
	}
	return "unknown"
}

// CaptureConfig says what a Capture takes. At least one direction must be
// set.
type CaptureConfig struct {
	Rx, Tx, Drop bool
	// Count is how many packets to capture, 1 to MaxCapturePackets.
	Count int
	// Snaplen is how many bytes of each packet are kept; 0: DefaultSnaplen.
	Snaplen int
}

// Bounds of a CaptureConfig.
const (
	MaxCapturePackets = 1 << 24
	DefaultSnaplen    = 65535
	// captureBacklog is how many captured packets wait for their reader;
	// beyond it packets are not captured (counted by Lost) rather than
	// slowing the data plane down.
	captureBacklog = 4096
)

// Captured is one captured packet.
type Captured struct {
	Time  time.Time
	Dir   Direction
	Queue int
	// OrigLen is the packet's whole length; Data its first Snaplen bytes.
	OrigLen int
	Data    []byte
	// Comment says what became of it: its verdict and where it went, or why
	// it was dropped.
	Comment string
}

// Capture copies packets received on, sent out of or dropped by a Port to
// a reader (Packets). Create it with NewCapture and set it with
// Port.SetCapture.
type Capture struct {
	cfg  CaptureConfig
	left atomic.Int64
	lost atomic.Int64
	ch   chan Captured
}

// NewCapture validates cfg.
func NewCapture(cfg CaptureConfig) (*Capture, error) {
	if !cfg.Rx && !cfg.Tx && !cfg.Drop {
		return nil, fmt.Errorf("dataplane: capture: no direction (rx, tx or drop)")
	}
	if cfg.Count < 1 || cfg.Count > MaxCapturePackets {
		return nil, fmt.Errorf("dataplane: capture of %d packets: want 1 to %d", cfg.Count, MaxCapturePackets)
	}
	if cfg.Snaplen == 0 {
		cfg.Snaplen = DefaultSnaplen
	}
	if cfg.Snaplen < 1 || cfg.Snaplen > DefaultSnaplen {
		return nil, fmt.Errorf("dataplane: capture snaplen %d: want 1 to %d", cfg.Snaplen, DefaultSnaplen)
	}
	c := &Capture{cfg: cfg, ch: make(chan Captured, min(cfg.Count, captureBacklog))}
	c.left.Store(int64(cfg.Count))
	return c, nil
}

// Config returns the capture's settings (with defaults filled in).
func (c *Capture) Config() CaptureConfig { return c.cfg }

// Packets delivers the captured packets. Count of them are delivered or
// lost in all; the channel is never closed (workers may still hold the
// capture), so read until Done says so.
func (c *Capture) Packets() <-chan Captured { return c.ch }

// Lost counts packets the capture took but could not deliver because its
// reader fell captureBacklog packets behind.
func (c *Capture) Lost() int { return int(c.lost.Load()) }

// Done reports whether got delivered packets account for the whole count.
func (c *Capture) Done(got int) bool { return got+c.Lost() >= c.cfg.Count }

// take reserves one packet of the count.
func (c *Capture) take() bool {
	if c.left.Load() <= 0 {
		return false
	}
	return c.left.Add(-1) >= 0
}

// wants reports whether the capture may still take packets of direction d.
func (c *Capture) wants(d Direction) bool {
	if c.left.Load() <= 0 {
		return false
	}
	switch d {
	case DirRx:
		return c.cfg.Rx
	case DirTx:
		return c.cfg.Tx
	}
	return c.cfg.Drop
}

func (c *Capture) deliver(p Captured) {
	select {
	case c.ch <- p:
	default:
		c.lost.Add(1)
	}
}

// SetCapture starts capturing on the port into c (nil stops), replacing
// any capture set before.
func (p *Port) SetCapture(c *Capture) { p.capture.Store(c) }

// Capture returns the port's capture, or nil.
func (p *Port) Capture() *Capture { return p.capture.Load() }

// snap copies the first n bytes of a packet's data and chain.
func snap(p *host.Packet, n int) (data []byte, orig int) {
	orig = int(p.Len)
	for _, s := range p.Chain {
		orig += len(s)
	}
	data = make([]byte, 0, min(n, orig))
	data = append(data, p.Data()[:min(len(p.Data()), n)]...)
	for _, s := range p.Chain {
		if len(data) >= n {
			break
		}
		data = append(data, s[:min(len(s), n-len(data))]...)
	}
	return data, orig
}

// burstTap is a worker's state for one burst while its ingress port has a
// trace or a capture (see Worker.burst). It is the pipeline's
// StageObserver for that burst.
type burstTap struct {
	w     *Worker
	trace *Trace
	capt  *Capture
	// traced are the burst's first len(traced) packets' records.
	traced []TracedPacket
	// rx holds each packet's first bytes as received, for the capture.
	rx    [][]byte
	rxLen []int
	now   time.Time
	// why is each packet's drop reason ("" while none), decided by a
	// plugin (DROP, ABORTED, its fail policy) or by the transmit.
	why []string
}

var _ host.StageObserver = (*burstTap)(nil)

// start records the burst's packets as received. np is the burst's size.
func (bt *burstTap) start(np int) {
	w := bt.w
	bt.now = time.Now()
	bt.traced = bt.traced[:0]
	if bt.trace != nil {
		k := bt.trace.reserve(np)
		for i := range k {
			p := &w.pkts[i]
			head, n := snap(p, TraceHeadBytes)
			bt.traced = append(bt.traced, TracedPacket{Time: bt.now, Queue: w.cfg.Queue, Len: n, Head: head, LenOut: n})
		}
	}
	bt.why = grow(bt.why, np)
	clear(bt.why)
	bt.rx, bt.rxLen = grow(bt.rx, np), grow(bt.rxLen, np)
	clear(bt.rx) // no copy of an earlier burst's packets lingers
	if bt.capt != nil && (bt.capt.wants(DirRx) || bt.capt.wants(DirDrop)) {
		for i := range np {
			bt.rx[i], bt.rxLen[i] = snap(&w.pkts[i], bt.capt.cfg.Snaplen)
		}
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// ObserveStage records one plugin call for the traced packets and the drop
// reasons it decided.
func (bt *burstTap) ObserveStage(stage int, plugin string, b *host.Burst, first int, idx []uint16, took time.Duration, faulted bool) {
	for _, k := range idx {
		i := first + int(k)
		p := &b.Packets[i]
		if i < len(bt.traced) {
			tp := &bt.traced[i]
			in := uint32(tp.Len)
			if n := len(tp.Stages); n > 0 {
				in = tp.Stages[n-1].LenOut
			}
			tp.Stages = append(tp.Stages, TracedStage{Plugin: plugin, Verdict: p.Verdict.String(), LenIn: in, LenOut: p.Len,
				Took: took, CallPackets: len(idx), Faulted: faulted})
		}
		switch {
		case faulted && p.Verdict == abi.Drop:
			bt.why[i] = "fail_closed: plugin " + plugin + " faulted"
		case p.Verdict == abi.Drop:
			bt.why[i] = "drop: plugin " + plugin
		case p.Verdict == abi.Aborted:
			bt.why[i] = "aborted: plugin " + plugin
		}
	}
}

// txDrop notes that packet i, which a verdict sends, was not sent.
func (bt *burstTap) txDrop(i int, r TxDropReason) { bt.why[i] = r.String() }

// finish hands the burst's records over once it has been transmitted.
// closed says the pipeline was closed: no plugin saw the packets.
func (bt *burstTap) finish(np int, closed bool) {
	w := bt.w
	for i := range np {
		p := &w.pkts[i]
		if closed && bt.why[i] == "" && p.Verdict == abi.Drop {
			bt.why[i] = RxDropPipelineClosed.String()
		}
	}
	for i := range bt.traced {
		tp := &bt.traced[i]
		p := &w.pkts[i]
		tp.Verdict, tp.LenOut, tp.Drop = p.Verdict.String(), int(p.Len), bt.why[i]
		for _, s := range p.Chain {
			tp.LenOut += len(s)
		}
		if tp.Drop == "" {
			tp.Egress = w.egressOf(p)
		}
	}
	if len(bt.traced) > 0 {
		bt.trace.add(bt.traced)
		bt.traced = nil // handed over
	}
	// A tap that has all it wants leaves the port, so the bursts after it
	// cost nothing again; its owner still holds it for its results.
	if bt.trace != nil && bt.trace.pending() == 0 {
		w.cfg.In.trace.CompareAndSwap(bt.trace, nil)
	}
	if bt.capt != nil && bt.capt.left.Load() <= 0 {
		w.cfg.In.capture.CompareAndSwap(bt.capt, nil)
	}
}

// captureRx delivers packet i of the burst as received (and as dropped)
// to the ingress port's capture.
func (bt *burstTap) captureRx(i int) {
	w := bt.w
	p := &w.pkts[i]
	comment := "verdict " + p.Verdict.String()
	if bt.why[i] != "" {
		comment += ", dropped: " + bt.why[i]
	} else {
		comment += ", sent: " + w.egressOf(p)
	}
	if bt.capt.wants(DirRx) && bt.capt.take() {
		bt.capt.deliver(Captured{Time: bt.now, Dir: DirRx, Queue: w.cfg.Queue, OrigLen: bt.rxLen[i], Data: bt.rx[i], Comment: comment})
	}
	if bt.why[i] != "" && bt.capt.wants(DirDrop) && bt.capt.take() {
		bt.capt.deliver(Captured{Time: bt.now, Dir: DirDrop, Queue: w.cfg.Queue, OrigLen: bt.rxLen[i], Data: bt.rx[i], Comment: comment})
	}
}

// pendingTx is a packet sent to a port with a capture, held until the
// burst ends so that a capture of both directions takes each packet's rx
// before its tx, as they happened.
type pendingTx struct {
	dst *Port
	c   *Capture
	i   int // the packet's index in the burst
	p   Captured
}

// flushCaptures delivers the burst's captured packets in packet order: for
// each, as received (and dropped) to the ingress port's capture, then as
// sent to the capture of the port it left by. bt may be nil (the ingress
// port has no tap, a port it sends to has a capture).
func (w *Worker) flushCaptures(bt *burstTap, np int) {
	slices.SortStableFunc(w.pendTx, func(a, b pendingTx) int { return a.i - b.i })
	k := 0
	for i := range np {
		if bt != nil && bt.capt != nil {
			bt.captureRx(i)
		}
		for ; k < len(w.pendTx) && w.pendTx[k].i == i; k++ {
			e := &w.pendTx[k]
			if e.c.take() {
				e.c.deliver(e.p)
			} else {
				e.dst.capture.CompareAndSwap(e.c, nil) // see finish
			}
		}
	}
	clear(w.pendTx)
	w.pendTx = w.pendTx[:0]
}

// egressOf says where a packet with a sending verdict goes.
func (w *Worker) egressOf(p *host.Packet) string {
	switch p.Verdict {
	case abi.TX:
		return "tx " + w.cfg.In.Name
	case abi.Pass:
		if w.cfg.Egress != nil {
			return "pass " + w.cfg.Egress.Name
		}
		return "pass (no egress)"
	case abi.Redirect:
		if int(p.Port) < len(w.cfg.Ports) && w.cfg.Ports[p.Port] != nil {
			return fmt.Sprintf("redirect %d %s", p.Port, w.cfg.Ports[p.Port].Name)
		}
		return fmt.Sprintf("redirect %d (no such port)", p.Port)
	}
	return p.Verdict.String()
}

// captureTx copies packet i, just queued on dst's tx ring, for dst's
// capture c; flushCaptures delivers it.
func (w *Worker) captureTx(dst *Port, c *Capture, i int) {
	if !c.wants(DirTx) {
		if c.left.Load() <= 0 {
			dst.capture.CompareAndSwap(c, nil) // see finish
		}
		return
	}
	p := &w.pkts[i]
	data, n := snap(p, c.cfg.Snaplen)
	w.pendTx = append(w.pendTx, pendingTx{dst: dst, c: c, i: i, p: Captured{Time: time.Now(), Dir: DirTx, Queue: w.cfg.Queue,
		OrigLen: n, Data: data, Comment: "verdict " + p.Verdict.String() + " from " + w.cfg.In.Name}})
}
