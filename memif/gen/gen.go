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
	"github.com/memif-wasm/memif-wasm/memif/internal/shm"
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

// ErrStalled is returned when the transmit ring stayed full for Config.Stall: the peer
// stopped taking frames. A link that stays down is ErrLinkDown.
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
	// Queues is the number of queue pairs each interface asks for as slave, or accepts
	// at most as master (default 1). Each transmit queue sends its own sequence; a
	// connection with fewer queues sends on those it has (see "Link drops" in the
	// package doc); every receive queue is counted.
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
	// Count is the total number of frames to send, shared by the transmit queues;
	// Duration bounds the sending time (wall clock, link drops included).
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
	// LinkTimeout bounds the wait for the link(s) to come up, and for a link that
	// drops again before the first frame was sent (default 10 s).
	LinkTimeout time.Duration
	// Settle is how long to wait after the link came up before sending (default 0),
	// again after each reconnect. Some peers accept frames only a moment after the
	// link is up on this side: a DPDK memif client loses what arrives before it has
	// processed CONNECTED.
	Settle time.Duration
	// Drain is how long gen waits for frames still in flight after the last one was
	// sent, or after the link came back during the drain; it stops earlier once every
	// frame came back (default 1 s).
	Drain time.Duration
	// Stall is how long the transmit ring may stay full before the run fails with
	// ErrStalled, and how long the link may stay down once sending started before it
	// fails with ErrLinkDown (default 5 s).
	Stall time.Duration
	// Progress, when set, is called every ProgressInterval (default 1 s) with the
	// counters so far, from a goroutine of its own.
	Progress         func(Progress)
	ProgressInterval time.Duration
	// Logger receives link events (default: discarded). It is also memif's logger.
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
	// LinkDrops counts the link drops so far; LinkDown is set while the link is down.
	LinkDrops uint64
	LinkDown  bool
}

// Run connects to the peer, waits for the link, sends frames as cfg says, counts what
// comes back and returns the report. Cancelling ctx stops sending early; the frames in
// flight are still drained and reported. A link that drops is waited for (see "Link
// drops" in the package doc). The error is for a run that could not happen or could
// not go on (bad config, socket in use, link never up or not back in time, peer
// stalled); the report is valid as far as the run got.
func Run(ctx context.Context, cfg Config) (Report, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return Report{}, err
	}
	tmpl, err := newTemplate(c.Proto, c.Size, *c.Addresses)
	if err != nil {
		return Report{}, err
	}
	sock, err := memif.NewSocket(memif.SocketConfig{Path: c.Socket, AppName: "memif-wasm-gen", Logger: c.Logger,
		ReconnectInterval: reconnectInterval})
	if err != nil {
		return Report{}, fmt.Errorf("socket %s: %w", c.Socket, err)
	}
	defer sock.Close()
	n := 1
	if c.SeparateRx {
		n = 2
	}
	link := newLinkWatch(n, c.LinkTimeout, c.Stall)
	defer link.stop() // before sock.Close: closing is no link drop
	ifc := func(id uint32, k int) memif.InterfaceConfig {
		up, down := link.callbacks(k)
		return memif.InterfaceConfig{
			ID: id, Role: c.Role, Name: fmt.Sprintf("gen%d", id), Secret: c.Secret,
			RxQueues: c.Queues, TxQueues: c.Queues, Log2RingSize: c.Log2RingSize,
			BufferSize: c.BufferSize, RxMode: c.RxMode, OnConnect: up, OnDisconnect: down,
		}
	}
	txIf, err := sock.NewInterface(ifc(c.ID, 0))
	if err != nil {
		return Report{}, fmt.Errorf("interface %d on %s: %w", c.ID, c.Socket, err)
	}
	rxIf := txIf
	if c.SeparateRx {
		if rxIf, err = sock.NewInterface(ifc(c.RxID, 1)); err != nil {
			return Report{}, fmt.Errorf("rx interface %d on %s: %w", c.RxID, c.Socket, err)
		}
	}
	link.mu.Lock()
	link.ifs = [2]*memif.Interface{txIf, rxIf}
	link.mu.Unlock()
	if err := waitLink(ctx, link, []*memif.Interface{txIf, rxIf}, c.LinkTimeout); err != nil {
		return Report{}, err
	}
	return newRun(&c, tmpl, txIf, rxIf, link).run(ctx)
}

// waitLink waits up to timeout for the link to be up: every interface at once. An
// interface that comes up and drops again meanwhile is waited for within the same
// timeout.
func waitLink(ctx context.Context, link *linkWatch, ifs []*memif.Interface, timeout time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if link.waitUp(wctx) == nil {
		return nil
	}
	i := ifs[0]
	for _, f := range ifs {
		if !f.Connected() {
			i = f
			break
		}
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
	link       *linkWatch
	stream     uint16
	epoch      time.Time
	senders    []*sender
	sink       *sink
	budget     budget

	// aborted is cancelled, with ErrLinkDown as its cause, when the link stayed down
	// too long; stopSending ends the senders (the count was reached, or aborted).
	aborted     context.Context
	abort       context.CancelCauseFunc
	stopSending context.CancelFunc
}

// newRun prepares a run over c.Queues transmit queues. It does not look at the link,
// which may be down already.
func newRun(c *Config, t *template, txIf, rxIf *memif.Interface, link *linkWatch) *run {
	r := &run{cfg: c, tmpl: t, txIf: txIf, rxIf: rxIf, link: link, stream: uint16(rand.Uint32()), epoch: time.Now()}
	r.budget.limit = c.Count
	r.budget.left.Store(c.Count)
	r.sink = newSink(r.stream, c.Queues, r.epoch)
	for q := range c.Queues {
		r.senders = append(r.senders, newSender(r, q))
	}
	r.aborted, r.abort = context.WithCancelCause(context.Background())
	r.stopSending = func() {}
	return r
}

func (r *run) run(ctx context.Context) (Report, error) {
	defer r.abort(nil)
	watchDone := make(chan struct{})
	var watchWG sync.WaitGroup
	watchWG.Add(1)
	go func() {
		defer watchWG.Done()
		r.watch(watchDone)
	}()
	defer func() {
		close(watchDone)
		watchWG.Wait()
	}()

	if r.cfg.Settle > 0 {
		select {
		case <-ctx.Done():
			return Report{}, fmt.Errorf("cancelled while settling after link up: %w", ctx.Err())
		case <-r.aborted.Done():
			return r.report(0, 0), context.Cause(r.aborted)
		case <-time.After(r.cfg.Settle):
		}
	}
	_, settled, _ := r.link.state()
	for _, s := range r.senders {
		s.settledUps = settled
	}

	rxCtx, stopRx := context.WithCancel(context.Background())
	defer stopRx()
	var rxWG sync.WaitGroup
	for q := range r.cfg.Queues {
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
	r.stopSending = stopTx
	stopOnAbort := context.AfterFunc(r.aborted, stopTx)
	defer stopOnAbort()
	progressDone := make(chan struct{})
	stopProgress := make(chan struct{})
	go func() {
		defer close(progressDone)
		r.progressLoop(stopProgress)
	}()

	if r.cfg.Started != nil {
		r.cfg.Started()
	}
	cpu0, cpuErr := shm.CPUTime()
	r.link.setPhase(phaseSending)
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
	r.link.setPhase(phaseDraining)
	r.drain(ctx)
	stopRx()
	rxWG.Wait()
	cpu1, cpuErr1 := shm.CPUTime()
	if r.cfg.BeforeDisconnect != nil {
		r.cfg.BeforeDisconnect()
	}
	close(stopProgress)
	<-progressDone

	r.link.stop()
	rep := r.report(sendTime, time.Since(start))
	if cpuErr == nil && cpuErr1 == nil {
		rep.ProcessCPU = cpu1 - cpu0
	}
	if err := context.Cause(r.aborted); err != nil {
		errs = append([]error{err}, errs...)
	}
	return rep, errors.Join(errs...)
}

// drain waits until every frame sent came back, or nothing new arrived for Drain while
// the link was up. While the link is down it waits for it to come back (the watchdog
// bounds that wait), unless ctx was cancelled: then the frames in flight are lost.
func (r *run) drain(ctx context.Context) {
	sent := r.sent()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(r.cfg.Drain)
	last := r.sink.progress().Received
	for {
		p := r.sink.progress()
		if p.Received >= sent {
			return
		}
		if p.Received != last {
			last = p.Received
			deadline = time.Now().Add(r.cfg.Drain)
		}
		up, _, changed := r.link.state()
		if !up {
			if ctx.Err() != nil {
				return
			}
			select {
			case <-r.aborted.Done():
				return
			case <-ctx.Done():
				return
			case <-changed:
			}
			deadline = time.Now().Add(r.cfg.Drain) // the peer is back: give it a full Drain
			continue
		}
		if !time.Now().Before(deadline) {
			return
		}
		select {
		case <-r.aborted.Done():
			return
		case <-tick.C:
		}
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
			up, _, _ := r.link.state()
			p.LinkDown = !up
			p.LinkDrops, _ = r.link.stats(time.Now())
			r.cfg.Progress(p)
		}
	}
}

// receive counts frames on one receive queue until ctx ends, following reconnects. A
// connection with fewer queues than this one's index leaves it idle until the next.
func (r *run) receive(ctx context.Context, q int) {
	bufs := make([]memif.Buffer, MaxBurst)
	polling := r.cfg.RxMode == memif.RxModePolling
	for ctx.Err() == nil {
		_, _, changed := r.link.state()
		if r.rxIf.WaitConnected(ctx) != nil {
			return
		}
		rx, err := r.rxIf.RxQueue(q)
		if err != nil {
			// Down again, or fewer queues on this connection: wait for the link to change.
			select {
			case <-ctx.Done():
			case <-changed:
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

// budget shares Config.Count among the transmit queues: a queue claims frames before a
// burst and hands back what the burst did not publish, so the total is exact whichever
// queues the peer negotiated on each connection. A zero limit is no limit.
type budget struct {
	limit     uint64
	left      atomic.Uint64 // not yet claimed
	published atomic.Uint64
}

// claim takes up to want frames; 0 means every remaining frame is claimed (or sent).
func (b *budget) claim(want uint64) uint64 {
	if b.limit == 0 {
		return want
	}
	for {
		left := b.left.Load()
		n := min(want, left)
		if n == 0 || b.left.CompareAndSwap(left, left-n) {
			return n
		}
	}
}

// settle hands back the frames of a claim that were not published and reports whether
// this publication completed the count.
func (b *budget) settle(claimed, published uint64) (complete bool) {
	if b.limit == 0 {
		return false
	}
	if published < claimed {
		b.left.Add(claimed - published)
	}
	return published > 0 && b.published.Add(published) == b.limit
}

// sender sends one transmit queue's sequence, across connections: after a reconnect it
// continues where it stopped, so the sink counts what the old connection took down as
// lost, never as duplicates.
type sender struct {
	r          *run
	q          int
	rate       float64         // frames per second on the current connection
	share      uint64          // most frames this queue sends in total, for this connection's queue count; 0: no limit
	changed    <-chan struct{} // closed at the first link change after the queue was fetched
	settledUps uint64          // the link-up count Settle was last waited for
	seq        uint64
	flow       uint16
	bufs       []memif.Buffer
	sizes      []int  // a burst of frame lengths, AllocBurst's input
	scratch    []byte // a chained frame is built here, then spread over its buffers
	sent       atomic.Uint64
	bytes      atomic.Uint64
	full       atomic.Uint64 // times the ring was found full
	bursts     atomic.Uint64 // TxBurst calls that published frames
	timer      *time.Timer   // reused by wait, so pacing does not allocate
}

func newSender(r *run, q int) *sender {
	return &sender{
		r: r, q: q,
		rate:    queueRate(r.cfg.Rate, r.cfg.Queues),
		share:   queueShare(r.cfg.Count, r.cfg.Queues),
		bufs:    make([]memif.Buffer, r.cfg.Burst*4),
		sizes:   make([]int, r.cfg.Burst),
		scratch: make([]byte, r.cfg.Size),
	}
}

func (s *sender) run(ctx context.Context) error {
	var tx *memif.TxQueue
	// The schedule and the stall clock start again on every connection: time with the
	// link down is neither made up for with a burst nor counted as a stall.
	var connStart, lastProgress time.Time
	var connBase uint64
	for {
		if ctx.Err() != nil {
			return nil
		}
		if tx == nil {
			t, err := s.reconnect(ctx)
			if err != nil || t == nil {
				return err
			}
			tx = t
			connStart, connBase = time.Now(), s.seq
			lastProgress = connStart
		}
		want := uint64(s.r.cfg.Burst)
		if s.share > 0 {
			if s.seq >= s.share {
				// This queue sent its share; the other queues of the connection send the
				// rest. A later connection with fewer queues has a larger share.
				select {
				case <-ctx.Done():
				case <-s.changed:
					tx = nil
				}
				continue
			}
			want = min(want, s.share-s.seq)
		}
		if s.rate > 0 {
			done := s.seq - connBase
			due := uint64(time.Since(connStart).Seconds()*s.rate) + 1
			if due <= done {
				// Ahead of schedule: sleep until the next frame is due. The rate holds on
				// average however coarse the sleep, since due is computed from the clock.
				next := time.Duration(float64(done) / s.rate * float64(time.Second))
				s.wait(ctx, time.Until(connStart.Add(next)))
				continue
			}
			want = min(want, due-done)
		}
		if want = s.r.budget.claim(want); want == 0 {
			// The rest is claimed by other queues' bursts in progress: they end the run
			// when they publish it, or hand back what they could not.
			s.wait(ctx, 20*time.Microsecond)
			continue
		}
		n, err := s.burst(tx, int(want))
		if s.r.budget.settle(want, uint64(n)) {
			// The last frame is out: what follows is the drain, for a link that drops now.
			s.r.link.setPhase(phaseDraining)
			s.r.stopSending()
		}
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

// reconnect waits until the link is up with this sender's queue, waits Settle if the
// link came up again since it last did, sets the rate and share for the connection and
// returns the queue; nil, nil when ctx ended. How long the link may stay down is the
// watchdog's business (run.watch). While the link is up without this queue (the peer
// negotiated fewer), the sender idles until the link changes.
func (s *sender) reconnect(ctx context.Context) (*memif.TxQueue, error) {
	for {
		_, _, changed := s.r.link.state()
		s.changed = changed
		if s.r.link.waitUp(ctx) != nil {
			return nil, nil
		}
		tx, err := s.r.txIf.TxQueue(s.q)
		switch {
		case err == nil:
		case errors.Is(err, memif.ErrDisconnected) || errors.Is(err, memif.ErrNoQueue):
			select {
			case <-ctx.Done():
				return nil, nil
			case <-changed:
			}
			continue
		default:
			return nil, fmt.Errorf("queue %d: %w", s.q, err)
		}
		if _, ups, _ := s.r.link.state(); s.r.cfg.Settle > 0 && ups != s.settledUps {
			// A peer that drops what arrives before it has processed the link
			// (Config.Settle) does so on every connection.
			s.settledUps = ups
			s.wait(ctx, s.r.cfg.Settle)
			continue // and look again: the link may have dropped meanwhile
		}
		k := queuesInUse(s.r.cfg.Queues, s.r.txIf.NumTxQueues())
		s.rate, s.share = queueRate(s.r.cfg.Rate, k), queueShare(s.r.cfg.Count, k)
		return tx, nil
	}
}

// burst queues up to want frames and publishes them; it returns how many were sent.
// It does not allocate. A full ring ends the burst early with ErrRingFull.
func (s *sender) burst(tx *memif.TxQueue, want int) (int, error) {
	t := s.r.tmpl
	stamp := uint64(time.Since(s.r.epoch))
	h := header{stream: s.r.stream, queue: uint16(s.q), stamp: stamp}
	// The whole burst is allocated at once (one lock of the queue), then written.
	sizes := s.sizes[:want]
	for i := range sizes {
		sizes[i] = len(t.frame)
	}
	frames, nb, allocErr := tx.AllocBurst(s.bufs, sizes)
	for frames == 0 && errors.Is(allocErr, memif.ErrShortBuffer) && len(s.bufs) < 1<<16 {
		s.bufs = make([]memif.Buffer, 2*len(s.bufs)) // tiny buffers, long chains: grow once
		frames, nb, allocErr = tx.AllocBurst(s.bufs, sizes)
	}
	for f, bi := 0, 0; f < frames; f++ {
		m := 1 // the frame's buffers: up to the first without NEXT
		for s.bufs[bi+m-1].Flags&memif.BufferNext != 0 {
			m++
		}
		h.seq = s.seq + uint64(f)
		if m == 1 {
			t.write(s.bufs[bi].Data, s.flow, &h)
		} else {
			t.write(s.scratch, s.flow, &h)
			rest := s.scratch
			for i := bi; i < bi+m; i++ {
				rest = rest[copy(s.bufs[i].Data, rest):]
			}
		}
		bi += m
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
