package gen

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

// The tests of a link that flaps (issue #9 item 6). Every peer here is a memiftest.Link
// that the test takes down (its socket closes, as when a peer process dies) and brings
// back; each test says in which phase of the run.

// runAsync runs gen in a goroutine; the result arrives on the returned channel.
func runAsync(t *testing.T, cfg Config) <-chan runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	res := make(chan runResult, 1)
	go func() {
		defer cancel()
		start := time.Now()
		rep, err := Run(ctx, cfg)
		res <- runResult{rep, err, time.Now().Sub(start)}
	}()
	return res
}

type runResult struct {
	rep     Report
	err     error
	elapsed time.Duration
}

// wantExact fails t unless every frame sent is either back once or lost: no duplicates,
// nothing late or foreign, nothing counted twice across a reconnect.
func wantExact(t *testing.T, rep Report) {
	t.Helper()
	if rep.Unique+rep.Lost != rep.Sent || rep.Duplicates != 0 || rep.Late != 0 || rep.Foreign != 0 {
		t.Fatalf("sent %d = unique %d + lost %d? duplicates %d late %d foreign %d",
			rep.Sent, rep.Unique, rep.Lost, rep.Duplicates, rep.Late, rep.Foreign)
	}
}

// msgWatch is a slog.Handler that closes seen when a record with message msg arrives:
// it tells a test that gen's memif interface saw an event.
type msgWatch struct {
	msg  string
	seen chan struct{}
	once sync.Once
}

func newMsgWatch(msg string) *msgWatch { return &msgWatch{msg: msg, seen: make(chan struct{})} }

func (h *msgWatch) Enabled(context.Context, slog.Level) bool { return true }
func (h *msgWatch) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *msgWatch) WithGroup(string) slog.Handler            { return h }
func (h *msgWatch) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() { close(h.seen) })
	}
	return nil
}

func (h *msgWatch) happened() bool {
	select {
	case <-h.seen:
		return true
	default:
		return false
	}
}

// Regression: newRun read the number of transmit queues from the link and divided the
// count by it; on a link already down again that number is 0 (integer divide by zero).
// newRun must not depend on the link at all.
func TestNewRunLinkDown(t *testing.T) {
	sock, err := memif.NewSocket(memif.SocketConfig{Path: memiftest.SocketPath(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	down, err := sock.NewInterface(memif.InterfaceConfig{TxQueues: 3, RxQueues: 3}) // a slave with no master: never up
	if err != nil {
		t.Fatal(err)
	}
	if n := down.NumTxQueues(); n != 0 {
		t.Fatalf("NumTxQueues of a link that is down = %d; the test needs 0", n)
	}
	c, err := Config{Socket: "unused", Queues: 3, Count: 1000}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := newTemplate(c.Proto, c.Size, *c.Addresses)
	if err != nil {
		t.Fatal(err)
	}
	r := newRun(&c, tmpl, down, down, newLinkWatch(1, c.LinkTimeout, c.Stall))
	if len(r.senders) != 3 || len(r.sink.trackers) != 3 || r.budget.limit != 1000 {
		t.Fatalf("%d senders, %d trackers, count %d; want 3, 3, 1000", len(r.senders), len(r.sink.trackers), r.budget.limit)
	}
}

// Regression (the DPDK testpmd case): the link drops right after it came up, before
// the first frame. gen waits for it, sends everything on the next connection and
// reports the drop.
func TestRunLinkDropBeforeSending(t *testing.T) {
	memiftest.CheckFDLeaks(t)
	path := memiftest.SocketPath(t)
	peer := &memiftest.Reflector{}
	disconnected := newMsgWatch("memif disconnected")
	started := make(chan bool, 1)
	link := peer.StartLink(t, path, memif.RoleSlave, 0, -1, 2)
	res := runAsync(t, Config{Socket: path, Role: memif.RoleMaster, Queues: 2, Count: 3000,
		// Settle holds gen between link up and its first frame, long enough for the
		// drop to arrive in that window.
		Settle: time.Second, Logger: slog.New(disconnected),
		Started: func() { started <- disconnected.happened() }})
	link.WaitUp(10 * time.Second)
	link.Down()
	var r runResult
	select {
	case seen := <-started:
		if !seen {
			t.Fatal("gen reached its first frame before it saw the link drop: the test did not test the window it is for (machine overloaded?)")
		}
		link.Up(2)
		r = <-res
	case r = <-res:
		t.Fatalf("Run returned before sending: %v", r.err)
	}
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	wantCounts(t, r.rep, 3000, 3000, 0, 0)
	if r.rep.LinkDrops != 1 || r.rep.LinkDown <= 0 || r.rep.Queues != 2 {
		t.Fatalf("link drops %d, down %v, queues %d; want 1 drop, some time down, 2 queues", r.rep.LinkDrops, r.rep.LinkDown, r.rep.Queues)
	}
}

// Regression: the link flaps three times while gen sends, in either role. The run
// completes; every frame is back once or lost (what the drops took down), each queue
// continuing its sequence, and the report counts the three drops.
func TestRunLinkFlapsWhileSending(t *testing.T) {
	for _, genRole := range []memif.Role{memif.RoleMaster, memif.RoleSlave} {
		t.Run("gen "+genRole.String(), func(t *testing.T) {
			memiftest.CheckFDLeaks(t)
			path := memiftest.SocketPath(t)
			peerRole := memif.RoleMaster
			if genRole == memif.RoleMaster {
				peerRole = memif.RoleSlave
			}
			const count, flaps = 24000, 3
			peer := &memiftest.Reflector{}
			link := peer.StartLink(t, path, peerRole, 0, -1, 2)
			res := runAsync(t, Config{Socket: path, Role: genRole, Queues: 2, Count: count, Rate: 20000})
			for i := 1; i <= flaps; i++ {
				memiftest.WaitFor(t, 20*time.Second, "the peer to take more frames", func() bool {
					return peer.Received() >= uint64(i*count/(flaps+1))
				})
				link.Down()
				link.Up(2)
			}
			r := <-res
			if r.err != nil {
				t.Fatalf("Run: %v", r.err)
			}
			t.Logf("sent %d, lost %d over %d drops, down %v in total, elapsed %v",
				r.rep.Sent, r.rep.Lost, r.rep.LinkDrops, r.rep.LinkDown, r.rep.Elapsed)
			wantExact(t, r.rep)
			if r.rep.Sent != count || r.rep.LinkDrops != flaps || r.rep.LinkDown <= 0 || r.rep.Queues != 2 {
				t.Fatalf("sent %d, link drops %d, down %v, queues %d; want %d, %d, some, 2",
					r.rep.Sent, r.rep.LinkDrops, r.rep.LinkDown, r.rep.Queues, count, flaps)
			}
			// What a drop takes down is at most what was in flight: two rings' worth
			// per queue. More would mean gen stopped sending or counting after a flap.
			if limit := uint64(flaps * 2 * 2 * 1024); r.rep.Lost > limit {
				t.Fatalf("lost %d of %d over %d flaps; at most %d were in flight", r.rep.Lost, r.rep.Sent, flaps, limit)
			}
			if r.rep.Reordered != 0 {
				t.Fatalf("%d reordered: a queue's sequence went back across a reconnect", r.rep.Reordered)
			}
		})
	}
}

// Regression: the peer renegotiates another number of queues on each reconnect (as a
// DPDK client may). gen, as master offering 2, sends on min(2, negotiated) queues per
// connection, each queue continuing its own sequence, and still sends exactly Count.
func TestRunPeerRenegotiatesQueues(t *testing.T) {
	path := memiftest.SocketPath(t)
	const count = 20000
	peer := &memiftest.Reflector{}
	link := peer.StartLink(t, path, memif.RoleSlave, 0, -1, 1)
	res := runAsync(t, Config{Socket: path, Role: memif.RoleMaster, Queues: 2, Count: count, Rate: 20000})
	for i, queues := range []int{2, 1} {
		memiftest.WaitFor(t, 20*time.Second, "the peer to take more frames", func() bool {
			return peer.Received() >= uint64((i+1)*count/3)
		})
		link.Down()
		link.Up(queues)
	}
	r := <-res
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	wantExact(t, r.rep)
	if r.rep.Sent != count || r.rep.LinkDrops != 2 || r.rep.Queues != 2 {
		t.Fatalf("sent %d, link drops %d, queues %d; want %d, 2, 2 (the second queue sends on the 2-queue connection)",
			r.rep.Sent, r.rep.LinkDrops, r.rep.Queues, count)
	}
}

// Regression: the link drops during the drain and stays down longer than Drain. gen
// waits for it (a forwarder may still deliver), gives the peer a full Drain once it is
// back, calls BeforeDisconnect with the link up, and counts what the peer held as lost.
func TestRunLinkDropDuringDrain(t *testing.T) {
	path := memiftest.SocketPath(t)
	const count, drain = 2000, 100 * time.Millisecond
	peer := &memiftest.Reflector{DropEvery: 1} // takes every frame, returns none: all in flight
	var upBeforeDisconnect atomic.Bool
	link := peer.StartLink(t, path, memif.RoleSlave, 0, -1, 1) // a slave: it dials until gen listens
	var mu sync.Mutex
	var last Progress
	res := runAsync(t, Config{Socket: path, Role: memif.RoleMaster, Count: count, Drain: drain, Stall: 10 * time.Second,
		ProgressInterval: 5 * time.Millisecond,
		Progress: func(p Progress) {
			mu.Lock()
			last = p
			mu.Unlock()
		},
		BeforeDisconnect: func() { upBeforeDisconnect.Store(link.Connected()) }})
	memiftest.WaitFor(t, 20*time.Second, "the peer to take every frame", func() bool { return peer.Received() == count })
	link.Down()
	// gen's own progress reports say when it has been waiting with the link down for
	// several times Drain: a gen that ended the drain regardless would have returned.
	var downAt time.Duration
	memiftest.WaitFor(t, 10*time.Second, "gen to report the link down for 3 x Drain", func() bool {
		mu.Lock()
		p := last
		mu.Unlock()
		if !p.LinkDown {
			return false
		}
		if downAt == 0 {
			downAt = p.Elapsed
		}
		return p.Elapsed-downAt > 3*drain
	})
	select {
	case r := <-res:
		t.Fatalf("gen returned while the link was down (err %v, %+v)", r.err, r.rep)
	default:
	}
	link.Up(1)
	r := <-res
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	wantCounts(t, r.rep, count, 0, count, 0)
	if r.rep.LinkDrops != 1 || r.rep.LinkDown < 3*drain {
		t.Fatalf("link drops %d, down %v; want 1, at least %v", r.rep.LinkDrops, r.rep.LinkDown, 3*drain)
	}
	if !upBeforeDisconnect.Load() {
		t.Fatal("BeforeDisconnect ran while the link was down")
	}
}

// Regression: a peer that goes away for good, in each phase of a run. The run fails
// with ErrLinkDown naming the phase, within its bound (LinkTimeout before the first
// frame, Stall after), neither hanging until Settle, Duration or Drain ends nor
// panicking.
func TestRunLinkNeverReturns(t *testing.T) {
	const bound = 300 * time.Millisecond
	tests := []struct {
		name      string
		dropEvery int // the peer's DropEvery
		cfg       Config
		phase     string
		// drop waits until the run is in the phase.
		drop func(t *testing.T, p *memiftest.Reflector, l *memiftest.Link)
	}{
		{"before sending", 0, Config{Count: 100, Settle: time.Minute, LinkTimeout: bound}, "before sending",
			func(t *testing.T, p *memiftest.Reflector, l *memiftest.Link) { l.WaitUp(10 * time.Second) }},
		{"while sending", 0, Config{Rate: 10000, Duration: time.Minute, Stall: bound}, "while sending",
			func(t *testing.T, p *memiftest.Reflector, l *memiftest.Link) {
				memiftest.WaitFor(t, 20*time.Second, "frames", func() bool { return p.Received() >= 1000 })
			}},
		{"during the drain", 1, Config{Count: 1000, Drain: time.Minute, Stall: bound}, "during the drain",
			func(t *testing.T, p *memiftest.Reflector, l *memiftest.Link) {
				memiftest.WaitFor(t, 20*time.Second, "every frame", func() bool { return p.Received() == 1000 })
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := memiftest.SocketPath(t)
			peer := &memiftest.Reflector{DropEvery: tt.dropEvery}
			link := peer.StartLink(t, path, memif.RoleSlave, 0, -1, 1)
			cfg := tt.cfg
			cfg.Socket, cfg.Role = path, memif.RoleMaster
			res := runAsync(t, cfg)
			tt.drop(t, peer, link)
			link.Down()
			downAt := time.Now()
			r := <-res
			waited := time.Since(downAt)
			if !errors.Is(r.err, ErrLinkDown) || !strings.Contains(r.err.Error(), tt.phase) ||
				!strings.Contains(r.err.Error(), "did not come back within "+bound.String()) {
				t.Fatalf("err = %v; want ErrLinkDown, %q and the bound", r.err, tt.phase)
			}
			if waited > bound+5*time.Second {
				t.Fatalf("the run ended %v after the drop; want its bound %v (plus scheduling)", waited, bound)
			}
			if r.rep.LinkDrops != 1 || r.rep.LinkDown < bound {
				t.Fatalf("link drops %d, down %v; want 1, at least %v", r.rep.LinkDrops, r.rep.LinkDown, bound)
			}
			wantExact(t, r.rep)
		})
	}
}

// The count is shared out exactly, whatever the queues claim and manage to publish,
// and exactly one publication completes it.
func TestBudget(t *testing.T) {
	t.Run("unlimited", func(t *testing.T) {
		var b budget
		if n := b.claim(32); n != 32 {
			t.Fatalf("claim(32) = %d without a limit", n)
		}
		if b.settle(32, 5) {
			t.Fatal("an unlimited budget completed")
		}
	})
	t.Run("sequential", func(t *testing.T) {
		b := budget{limit: 10}
		b.left.Store(10)
		steps := []struct {
			want, claimed, published uint64
			complete                 bool
		}{
			{4, 4, 4, false},
			{8, 6, 2, false}, // ring full after 2: 4 handed back
			{0, 0, 0, false},
			{5, 4, 0, false}, // link gone: all handed back
			{9, 4, 4, true},
			{1, 0, 0, false},
		}
		for i, s := range steps {
			if got := b.claim(s.want); got != s.claimed {
				t.Fatalf("step %d: claim(%d) = %d, want %d", i, s.want, got, s.claimed)
			}
			if got := b.settle(s.claimed, s.published); got != s.complete {
				t.Fatalf("step %d: settle(%d, %d) = %v, want %v", i, s.claimed, s.published, got, s.complete)
			}
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		const limit, workers = 100003, 4
		b := budget{limit: limit}
		b.left.Store(limit)
		var published, completions atomic.Uint64
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := uint64(w); published.Load() < limit; i++ {
					n := b.claim(1 + i%37)
					p := n - min(n, i%3) // publish all, all but 1 or all but 2
					published.Add(p)
					if b.settle(n, p) {
						completions.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if published.Load() != limit || completions.Load() != 1 || b.left.Load() != 0 {
			t.Fatalf("published %d of %d, %d completions, %d left", published.Load(), uint64(limit), completions.Load(), b.left.Load())
		}
	})
}

// The queue count, per-queue rate and per-queue share of the count of a connection,
// for every queue count the link can report, including 0 from a link that dropped as
// it was read.
func TestQueueArithmetic(t *testing.T) {
	tests := []struct {
		configured, negotiated, inUse int
		rate                          float64 // of 1000 pps in total
		share                         uint64  // of 4001 frames
	}{
		{2, 2, 2, 500, 2001},
		{2, 1, 1, 1000, 4001},
		{1, 2, 1, 1000, 4001},
		{3, 3, 3, 1000.0 / 3, 1334},
		{4, 0, 0, 1000, 4001},
		{3, -1, 0, 1000, 4001},
	}
	for _, tt := range tests {
		n := queuesInUse(tt.configured, tt.negotiated)
		if n != tt.inUse {
			t.Errorf("queuesInUse(%d, %d) = %d, want %d", tt.configured, tt.negotiated, n, tt.inUse)
		}
		if r := queueRate(1000, n); r != tt.rate {
			t.Errorf("queueRate(1000, %d) = %v, want %v", n, r, tt.rate)
		}
		if s := queueShare(4001, n); s != tt.share {
			t.Errorf("queueShare(4001, %d) = %d, want %d", n, s, tt.share)
		}
	}
	// No limit stays no limit; the largest count does not overflow.
	if s := queueShare(0, 2); s != 0 {
		t.Errorf("queueShare(0, 2) = %d, want 0", s)
	}
	if s := queueShare(math.MaxUint64, 2); s != math.MaxUint64/2+1 {
		t.Errorf("queueShare(MaxUint64, 2) = %d", s)
	}
}

// The link watch's bookkeeping, driven by hand: drops and down time count only after
// the link first came up, a master's callbacks out of order lose no drop, either
// interface down is the link down, and gen's own close is not a drop.
func TestLinkWatch(t *testing.T) {
	w := newLinkWatch(2, time.Minute, time.Second)
	tx, rx := 0, 1
	w.change(tx, 1)
	w.change(tx, -1) // before the link was ever up (rx not yet): not a drop
	w.change(tx, 1)
	if up, ups, _ := w.state(); up || ups != 0 {
		t.Fatalf("up %v ups %d with rx never connected", up, ups)
	}
	w.change(rx, 1)
	if up, ups, _ := w.state(); !up || ups != 1 {
		t.Fatalf("up %v ups %d with both connected", up, ups)
	}
	if at, _ := w.deadline(); !at.IsZero() {
		t.Fatal("a deadline while up")
	}
	w.setPhase(phaseSending)
	w.change(rx, -1)
	at, changed := w.deadline()
	if d := time.Until(at); at.IsZero() || d > time.Second {
		t.Fatalf("deadline in %v while sending, want within Stall (1s)", d)
	}
	w.change(rx, 1)
	select {
	case <-changed:
	default:
		t.Fatal("changed not closed on a change")
	}
	// A master's next connection may call OnConnect before the last one's OnDisconnect.
	w.change(tx, 1)
	w.change(tx, -1)
	if up, ups, _ := w.state(); !up || ups != 2 {
		t.Fatalf("up %v ups %d after an out-of-order reconnect", up, ups)
	}
	drops, down := w.stats(time.Now())
	if drops != 2 || down <= 0 {
		t.Fatalf("drops %d down %v, want 2 and some", drops, down)
	}
	w.setPhase(phaseWaiting)
	w.change(tx, -1)
	if err := w.downErr(); !errors.Is(err, ErrLinkDown) || !strings.Contains(err.Error(), "before sending") ||
		!strings.Contains(err.Error(), "within 1m0s") {
		t.Fatalf("downErr = %v; want ErrLinkDown, the phase and LinkTimeout", err)
	}
	w.stop()
	w.change(rx, -1) // gen closing its interfaces
	if d, _ := w.stats(time.Now()); d != 3 {
		t.Fatalf("drops %d after stop, want 3", d)
	}
}

// Regression: the link drops while the sink reads a burst. memif then replaces the
// burst's buffers with zero pages, so the frames read as zeros; they were counted as
// foreign (a frame that arrived without this run's header), while the frame they stood
// for is lost. Such a burst's unparsable frames are no arrivals at all. A burst whose
// link stays up is counted as before.
func TestSinkTornBurst(t *testing.T) {
	tmpl, err := newTemplate(ProtoUDP, 128, defaultAddresses)
	if err != nil {
		t.Fatal(err)
	}
	for _, drop := range []bool{false, true} {
		name := "link up"
		if drop {
			name = "link drops"
		}
		t.Run(name, func(t *testing.T) {
			sock, err := memif.NewSocket(memif.SocketConfig{Path: memiftest.SocketPath(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer sock.Close()
			tornDown := make(chan struct{}) // OnDisconnect runs once the buffers are zero pages
			master, err := sock.NewInterface(memif.InterfaceConfig{Role: memif.RoleMaster,
				OnDisconnect: func(*memif.Interface, error) { close(tornDown) }})
			if err != nil {
				t.Fatal(err)
			}
			slave, err := sock.NewInterface(memif.InterfaceConfig{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if master.WaitConnected(ctx) != nil || slave.WaitConnected(ctx) != nil {
				t.Fatal("pair not up")
			}
			k := newSink(7, 1, time.Now())
			ours := make([]byte, 128)
			tmpl.write(ours, 0, &header{stream: 7, seq: 0})
			foreign := make([]byte, 100) // no gen header: foreign in any case
			tx, err := slave.TxQueue(0)
			if err != nil {
				t.Fatal(err)
			}
			if n, err := tx.WritePackets([][]byte{ours, foreign}); n != 2 || err != nil {
				t.Fatalf("WritePackets = %d, %v", n, err)
			}
			rx, err := master.RxQueue(0)
			if err != nil {
				t.Fatal(err)
			}
			bufs := make([]memif.Buffer, 8)
			n, err := rx.RxBurst(bufs)
			if n != 2 || err != nil {
				t.Fatalf("RxBurst = %d, %v", n, err)
			}
			if drop {
				slave.Close()
				select {
				case <-tornDown:
				case <-ctx.Done():
					t.Fatal("the master did not see the disconnect")
				}
			}
			err = k.count(rx, bufs[:n])
			p := k.progress()
			if !drop {
				if err != nil || p.Received != 1 || p.Foreign != 1 || k.frames != 2 || k.bytes != 228 {
					t.Fatalf("err %v, received %d, foreign %d, frames %d, bytes %d; want nil, 1, 1, 2, 228",
						err, p.Received, p.Foreign, k.frames, k.bytes)
				}
				return
			}
			if !errors.Is(err, memif.ErrDisconnected) || p.Received != 0 || p.Foreign != 0 || k.frames != 0 || k.bytes != 0 {
				t.Fatalf("err %v, received %d, foreign %d, frames %d, bytes %d; want ErrDisconnected and nothing counted",
					err, p.Received, p.Foreign, k.frames, k.bytes)
			}
		})
	}
}
