package gen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
)

// Defaults of Config.
const (
	DefaultSize        = 64
	DefaultBurst       = 32
	DefaultLinkTimeout = 10 * time.Second
	DefaultDrain       = time.Second
	DefaultStall       = 5 * time.Second
	DefaultProgress    = time.Second
	MaxBurst           = 256
	MaxFlows           = 1 << 16
)

// ErrStalled is returned when the transmit ring stayed full (or the link down) for
// Config.Stall: the peer stopped taking frames.
var ErrStalled = errors.New("gen: peer stopped taking frames")

// Config describes one run. The zero value of every field but Socket selects the default
// given in its comment.
type Config struct {
	// Socket is the memif control socket path ("@name": abstract). Required.
	Socket string
	// Role is gen's side: RoleSlave (default) connects, RoleMaster listens.
	Role memif.Role
	// ID is the memif interface id gen sends on, and by default counts on.
	ID uint32
	// SeparateRx counts returning frames on a second interface with id RxID on the
	// same socket and in the same role, for peers that forward between two interfaces.
	SeparateRx bool
	RxID       uint32
	// Secret is the memif secret of both interfaces (default none).
	Secret string
	// Queues is the number of queue pairs each interface asks for (default 1).
	// Each transmit queue sends its own sequence; every receive queue is counted.
	Queues int
	// Log2RingSize and BufferSize are the ring and buffer sizes used as slave
	// (defaults: memif's, 1024 slots of 2048 bytes).
	Log2RingSize uint8
	BufferSize   uint16
	// RxMode is how gen learns of returning frames (default interrupt).
	RxMode memif.RxMode
	// Rate is the total frames per second over all queues; 0 sends as fast as the
	// peer takes them.
	Rate float64
	// Count is the total number of frames to send; Duration bounds the sending time.
	// With both zero gen sends until ctx is cancelled; with both set, whichever ends
	// first.
	Count    uint64
	Duration time.Duration
	// Size is the frame length in bytes, MinSize..MaxSize (default 64). Frames
	// larger than the buffer size are sent as chains.
	Size int
	// Flows is the number of distinct flows (UDP source ports or ICMP identifiers),
	// 1..MaxFlows (default 1). Frames go round-robin over the flows.
	Flows int
	// Burst is the most frames handed to the ring at once, 1..MaxBurst (default 32).
	Burst int
	// Proto is the frame type (default UDP).
	Proto Proto
	// Addresses of the frames; nil selects locally administered MACs and
	// 198.18.0.1 -> 198.19.0.1.
	Addresses *Addresses
	// LinkTimeout bounds the wait for the link(s) to come up (default 10 s).
	LinkTimeout time.Duration
	// Settle is how long to wait after the link came up before sending (default 0).
	// Some peers accept frames only a moment after the link is up on this side: a
	// DPDK memif client loses what arrives before it has processed CONNECTED.
	Settle time.Duration
	// Drain is how long gen waits for frames still in flight after the last one was
	// sent; it stops earlier once every frame came back (default 1 s).
	Drain time.Duration
	// Stall is how long the transmit ring may stay full, or the link down, before the
	// run fails with ErrStalled (default 5 s).
	Stall time.Duration
	// Progress, when set, is called every ProgressInterval (default 1 s) with the
	// counters so far, from a goroutine of its own.
	Progress         func(Progress)
	ProgressInterval time.Duration
	// Logger receives link events (default: discarded).
	Logger *slog.Logger
	// Started, when set, is called once the link is up and just before the first
	// frame is sent.
	Started func()
	// BeforeDisconnect, when set, is called after the drain while the link is still
	// up: the moment to read a peer's counters (DPDK's memif PMD resets them when its
	// peer disconnects) or stop its forwarding.
	BeforeDisconnect func()
}

// withDefaults validates c and returns a copy with the defaults filled in. Every error
// names the field and the reason.
func (c Config) withDefaults() (Config, error) {
	if c.Socket == "" {
		return c, errors.New("socket: a control socket path is required")
	}
	if c.Role != memif.RoleSlave && c.Role != memif.RoleMaster {
		return c, fmt.Errorf("role %d: want master or slave", c.Role)
	}
	if c.SeparateRx && c.RxID == c.ID {
		return c, fmt.Errorf("rx id %d: must differ from the transmit interface id", c.RxID)
	}
	def := func(v *int, d, lo, hi int, name, unit string) error {
		if *v == 0 {
			*v = d
		}
		if *v < lo || *v > hi {
			return fmt.Errorf("%s %d: want %d..%d%s", name, *v, lo, hi, unit)
		}
		return nil
	}
	for _, e := range []error{
		def(&c.Queues, 1, 1, memif.MaxQueues, "queues", ""),
		def(&c.Size, DefaultSize, MinSize, MaxSize, "size", " bytes (headers and the gen header need 64)"),
		def(&c.Flows, 1, 1, MaxFlows, "flows", ""),
		def(&c.Burst, DefaultBurst, 1, MaxBurst, "burst", " frames"),
	} {
		if e != nil {
			return c, e
		}
	}
	if c.Rate < 0 || c.Rate != c.Rate {
		return c, fmt.Errorf("rate %v: want a non-negative number of frames per second", c.Rate)
	}
	if c.Duration < 0 {
		return c, fmt.Errorf("duration %v: want a positive duration", c.Duration)
	}
	if c.Proto != ProtoUDP && c.Proto != ProtoICMP {
		return c, fmt.Errorf("proto %v: want udp or icmp", c.Proto)
	}
	durs := []struct {
		v    *time.Duration
		d    time.Duration
		name string
	}{
		{&c.LinkTimeout, DefaultLinkTimeout, "link timeout"},
		{&c.Drain, DefaultDrain, "drain"},
		{&c.Stall, DefaultStall, "stall"},
		{&c.ProgressInterval, DefaultProgress, "progress interval"},
		{&c.Settle, 0, "settle"},
	}
	for _, d := range durs {
		if *d.v == 0 {
			*d.v = d.d
		}
		if *d.v < 0 {
			return c, fmt.Errorf("%s %v: want a positive duration", d.name, *d.v)
		}
	}
	if c.Addresses == nil {
		a := defaultAddresses
		c.Addresses = &a
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c, nil
}

// Progress is a live snapshot of a run.
type Progress struct {
	Elapsed  time.Duration
	Sent     uint64
	Received uint64 // frames of this run that arrived (first arrivals)
	Foreign  uint64
}

// Run connects to the peer, waits for the link, sends frames as cfg says, counts what
// comes back and returns the report. Cancelling ctx stops sending early; the frames in
// flight are still drained and reported. The error is for a run that could not happen
// (bad config, socket in use, link never up, peer stalled); the report is valid as far
// as the run got.
func Run(ctx context.Context, cfg Config) (Report, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return Report{}, err
	}
	tmpl, err := newTemplate(c.Proto, c.Size, *c.Addresses)
	if err != nil {
		return Report{}, err
	}
	sock, err := memif.NewSocket(memif.SocketConfig{Path: c.Socket, AppName: "memif-wasm-gen", Logger: c.Logger})
	if err != nil {
		return Report{}, fmt.Errorf("socket %s: %w", c.Socket, err)
	}
	defer sock.Close()
	ifc := func(id uint32) memif.InterfaceConfig {
		return memif.InterfaceConfig{
			ID: id, Role: c.Role, Name: fmt.Sprintf("gen%d", id), Secret: c.Secret,
			RxQueues: c.Queues, TxQueues: c.Queues, Log2RingSize: c.Log2RingSize,
			BufferSize: c.BufferSize, RxMode: c.RxMode,
		}
	}
	txIf, err := sock.NewInterface(ifc(c.ID))
	if err != nil {
		return Report{}, fmt.Errorf("interface %d on %s: %w", c.ID, c.Socket, err)
	}
	rxIf := txIf
	if c.SeparateRx {
		if rxIf, err = sock.NewInterface(ifc(c.RxID)); err != nil {
			return Report{}, fmt.Errorf("rx interface %d on %s: %w", c.RxID, c.Socket, err)
		}
	}
	for _, i := range []*memif.Interface{txIf, rxIf} {
		if err := waitLink(ctx, i, c.LinkTimeout); err != nil {
			return Report{}, err
		}
	}

	if c.Settle > 0 {
		select {
		case <-ctx.Done():
			return Report{}, fmt.Errorf("cancelled while settling after link up: %w", ctx.Err())
		case <-time.After(c.Settle):
		}
	}
	r := newRun(&c, tmpl, txIf, rxIf)
	return r.run(ctx)
}

func waitLink(ctx context.Context, i *memif.Interface, timeout time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := i.WaitConnected(wctx)
	if err == nil {
		return nil
	}
	d := i.Details()
	what := fmt.Sprintf("link of interface %d (%s) on %s", d.ID, d.Role, d.Socket)
	if ctx.Err() != nil {
		return fmt.Errorf("%s: cancelled while waiting for the peer", what)
	}
	if last := i.LastError(); last != nil {
		return fmt.Errorf("%s not up after %v: %w", what, timeout, last)
	}
	return fmt.Errorf("%s not up after %v: no peer connected", what, timeout)
}

// run is one run's shared state.
type run struct {
	cfg        *Config
	tmpl       *template
	txIf, rxIf *memif.Interface
	stream     uint16
	epoch      time.Time
	numTx      int
	senders    []*sender
	sink       *sink
}

func newRun(c *Config, t *template, txIf, rxIf *memif.Interface) *run {
	r := &run{cfg: c, tmpl: t, txIf: txIf, rxIf: rxIf, stream: uint16(rand.Uint32()), epoch: time.Now()}
	r.numTx = txIf.NumTxQueues()
	r.sink = newSink(r.stream, r.numTx, r.epoch)
	per, extra := c.Count/uint64(r.numTx), c.Count%uint64(r.numTx)
	for q := range r.numTx {
		quota := per
		if uint64(q) < extra {
			quota++
		}
		r.senders = append(r.senders, newSender(r, q, quota))
	}
	return r
}

func (r *run) run(ctx context.Context) (Report, error) {
	rxCtx, stopRx := context.WithCancel(context.Background())
	defer stopRx()
	var rxWG sync.WaitGroup
	for q := range r.rxIf.NumRxQueues() {
		rxWG.Add(1)
		go func() {
			defer rxWG.Done()
			r.receive(rxCtx, q)
		}()
	}

	sendCtx, stopTx := context.WithCancel(ctx)
	defer stopTx()
	if r.cfg.Duration > 0 {
		var cancel context.CancelFunc
		sendCtx, cancel = context.WithTimeout(sendCtx, r.cfg.Duration)
		defer cancel()
	}
	progressDone := make(chan struct{})
	stopProgress := make(chan struct{})
	go func() {
		defer close(progressDone)
		r.progressLoop(stopProgress)
	}()

	if r.cfg.Started != nil {
		r.cfg.Started()
	}
	start := time.Now()
	errs := make([]error, len(r.senders))
	var txWG sync.WaitGroup
	for i, s := range r.senders {
		txWG.Add(1)
		go func() {
			defer txWG.Done()
			errs[i] = s.run(sendCtx)
			if errs[i] != nil {
				stopTx() // one stalled queue ends the run
			}
		}()
	}
	txWG.Wait()
	sendTime := time.Since(start)
	r.drain()
	stopRx()
	rxWG.Wait()
	if r.cfg.BeforeDisconnect != nil {
		r.cfg.BeforeDisconnect()
	}
	close(stopProgress)
	<-progressDone

	rep := r.report(sendTime, time.Since(start))
	return rep, errors.Join(errs...)
}

// drain waits until every frame sent came back, or nothing new arrived for Drain.
func (r *run) drain() {
	sent := r.sent()
	deadline := time.Now().Add(r.cfg.Drain)
	last := r.sink.progress().Received
	for time.Now().Before(deadline) {
		p := r.sink.progress()
		if p.Received >= sent {
			return
		}
		if p.Received != last {
			last = p.Received
			deadline = time.Now().Add(r.cfg.Drain)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (r *run) sent() uint64 {
	var n uint64
	for _, s := range r.senders {
		n += s.sent.Load()
	}
	return n
}

func (r *run) progressLoop(stop <-chan struct{}) {
	if r.cfg.Progress == nil {
		return
	}
	t := time.NewTicker(r.cfg.ProgressInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p := r.sink.progress()
			p.Sent = r.sent()
			p.Elapsed = time.Since(r.epoch)
			r.cfg.Progress(p)
		}
	}
}

// receive counts frames on one receive queue until ctx ends, following reconnects.
func (r *run) receive(ctx context.Context, q int) {
	bufs := make([]memif.Buffer, MaxBurst)
	polling := r.cfg.RxMode == memif.RxModePolling
	for ctx.Err() == nil {
		if r.rxIf.WaitConnected(ctx) != nil {
			return
		}
		rx, err := r.rxIf.RxQueue(q)
		if err != nil {
			// Down again, or fewer queues on this connection: look again shortly
			// rather than spin while the link stays up without this queue.
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		for ctx.Err() == nil {
			n, err := r.sink.poll(rx, bufs)
			if errors.Is(err, memif.ErrShortBuffer) && len(bufs) < 1<<16 {
				bufs = make([]memif.Buffer, 2*len(bufs)) // a chain longer than bufs: rare, grow once
				continue
			}
			if err != nil {
				break // disconnected or broken by the peer: wait for the next link
			}
			if n > 0 {
				continue
			}
			r.sink.countWait()
			if polling {
				runtime.Gosched()
			} else if rx.Wait(ctx) != nil && ctx.Err() == nil {
				break
			}
		}
	}
}

// sender sends one transmit queue's sequence.
type sender struct {
	r       *run
	q       int
	quota   uint64 // 0: unlimited
	rate    float64
	seq     uint64
	flow    uint16
	bufs    []memif.Buffer
	scratch []byte // a chained frame is built here, then spread over its buffers
	sent    atomic.Uint64
	bytes   atomic.Uint64
	full    atomic.Uint64 // times the ring was found full
	bursts  atomic.Uint64 // TxBurst calls that published frames
	timer   *time.Timer   // reused by wait, so pacing does not allocate
}

func newSender(r *run, q int, quota uint64) *sender {
	return &sender{
		r: r, q: q, quota: quota,
		rate:    r.cfg.Rate / float64(r.numTx),
		bufs:    make([]memif.Buffer, r.cfg.Burst*4),
		scratch: make([]byte, r.cfg.Size),
	}
}

func (s *sender) run(ctx context.Context) error {
	if s.r.cfg.Count > 0 && s.quota == 0 {
		return nil // fewer frames than queues
	}
	start := time.Now()
	lastProgress := start
	var tx *memif.TxQueue
	for {
		if ctx.Err() != nil {
			return nil
		}
		if s.quota > 0 && s.seq >= s.quota {
			return nil
		}
		if tx == nil {
			t, err := s.reconnect(ctx)
			if err != nil || t == nil {
				return err
			}
			tx = t
		}
		want := uint64(s.r.cfg.Burst)
		if s.quota > 0 {
			want = min(want, s.quota-s.seq)
		}
		if s.rate > 0 {
			due := uint64(time.Since(start).Seconds()*s.rate) + 1
			if due <= s.seq {
				// Ahead of schedule: sleep until the next frame is due. The rate holds on
				// average however coarse the sleep, since due is computed from the clock.
				next := time.Duration(float64(s.seq) / s.rate * float64(time.Second))
				s.wait(ctx, time.Until(start.Add(next)))
				continue
			}
			want = min(want, due-s.seq)
		}
		n, err := s.burst(tx, int(want))
		now := time.Now()
		switch {
		case n > 0:
			lastProgress = now
		case errors.Is(err, memif.ErrDisconnected):
			tx = nil
		case err != nil && !errors.Is(err, memif.ErrRingFull):
			return fmt.Errorf("queue %d: %w", s.q, err)
		default:
			// The ring is full: the peer has not caught up. Yield, then retry.
			if now.Sub(lastProgress) > s.r.cfg.Stall {
				return fmt.Errorf("queue %d: transmit ring full for %v: %w", s.q, s.r.cfg.Stall, ErrStalled)
			}
			s.wait(ctx, 20*time.Microsecond)
		}
	}
}

// reconnect waits for the link (up to Stall) and returns the queue; nil, nil when ctx ended.
func (s *sender) reconnect(ctx context.Context) (*memif.TxQueue, error) {
	wctx, cancel := context.WithTimeout(ctx, s.r.cfg.Stall)
	defer cancel()
	for {
		if err := s.r.txIf.WaitConnected(wctx); err != nil {
			if ctx.Err() != nil {
				return nil, nil
			}
			return nil, fmt.Errorf("queue %d: link down for %v: %w", s.q, s.r.cfg.Stall, ErrStalled)
		}
		tx, err := s.r.txIf.TxQueue(s.q)
		if err == nil {
			return tx, nil
		}
		if !errors.Is(err, memif.ErrDisconnected) {
			return nil, fmt.Errorf("queue %d: %w", s.q, err)
		}
	}
}

// burst queues up to want frames and publishes them; it returns how many were sent.
// It does not allocate. A full ring ends the burst early with ErrRingFull.
func (s *sender) burst(tx *memif.TxQueue, want int) (int, error) {
	t := s.r.tmpl
	stamp := uint64(time.Since(s.r.epoch))
	h := header{stream: s.r.stream, queue: uint16(s.q), stamp: stamp}
	nb, frames := 0, 0
	var allocErr error
	for frames < want {
		m, err := tx.Alloc(s.bufs[nb:], len(t.frame))
		if errors.Is(err, memif.ErrShortBuffer) && nb == 0 {
			s.bufs = make([]memif.Buffer, 2*len(s.bufs)) // tiny buffers, long chains: grow once
			continue
		}
		if err != nil {
			allocErr = err
			break
		}
		h.seq = s.seq + uint64(frames)
		if m == 1 {
			t.write(s.bufs[nb].Data, s.flow, &h)
		} else {
			t.write(s.scratch, s.flow, &h)
			rest := s.scratch
			for i := nb; i < nb+m; i++ {
				rest = rest[copy(s.bufs[i].Data, rest):]
			}
		}
		nb += m
		frames++
		if s.flow++; int(s.flow) >= s.r.cfg.Flows {
			s.flow = 0
		}
	}
	if errors.Is(allocErr, memif.ErrRingFull) {
		s.full.Add(1)
	}
	if nb == 0 {
		return 0, allocErr
	}
	if _, err := tx.TxBurst(s.bufs[:nb]); err != nil {
		// Nothing was published: the flows and sequence numbers are reused.
		s.flow = uint16((int(s.flow) - frames%s.r.cfg.Flows + s.r.cfg.Flows) % s.r.cfg.Flows)
		return 0, err
	}
	s.seq += uint64(frames)
	s.sent.Store(s.seq)
	s.bursts.Add(1)
	s.bytes.Add(uint64(frames * len(t.frame)))
	return frames, nil
}

// wait sleeps for d or until ctx ends.
func (s *sender) wait(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	if s.timer == nil {
		s.timer = time.NewTimer(d)
	} else {
		s.timer.Reset(d)
	}
	select {
	case <-ctx.Done():
		s.timer.Stop()
	case <-s.timer.C:
	}
}
