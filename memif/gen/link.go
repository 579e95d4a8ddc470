package gen

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
)

// ErrLinkDown is returned when the link went down and did not come back within its
// bound: Config.LinkTimeout when it dropped before the first frame was sent,
// Config.Stall after that.
var ErrLinkDown = errors.New("gen: link down and the peer did not come back")

// reconnectInterval is how often gen as slave tries to reach a vanished master: well
// below the default Stall, so a master that is back is found in time.
const reconnectInterval = 100 * time.Millisecond

// phase is how far a run got; a link drop is bounded and reported by the phase in
// which it happened.
type phase int

const (
	phaseWaiting  phase = iota // link up, first frame not yet sent (settle, Started)
	phaseSending               // senders running
	phaseDraining              // waiting for frames in flight
)

func (p phase) String() string {
	switch p {
	case phaseWaiting:
		return "before sending"
	case phaseSending:
		return "while sending"
	}
	return "during the drain"
}

// linkWatch follows the link of gen's interfaces (one, or two with SeparateRx) through
// their OnConnect and OnDisconnect callbacks: how often it dropped, how long it was
// down, and a channel closed on every change, so that no goroutine polls for it. The
// link is up while every interface is.
//
// The callbacks run on memif's control goroutines after the interface's state changed,
// so a queue fetched after waitUp returned belongs to a live connection or fails with
// ErrDisconnected, and the disconnect's callback then wakes the waiters. On a master,
// the next connection's OnConnect may run before the previous one's OnDisconnect;
// conns counts both, so the order does not matter.
type linkWatch struct {
	linkTimeout, stall time.Duration

	mu        sync.Mutex
	ifs       [2]*memif.Interface // for error messages; set once created
	n         int                 // interfaces watched
	conns     [2]int              // per interface: OnConnect minus OnDisconnect calls; > 0: up
	everUp    bool                // the link was up at least once
	ups       uint64              // times the link came up, the first included
	drops     uint64              // OnDisconnect calls after the link was first up
	phase     phase
	downSince time.Time     // when the link went down; zero while up or before it was first up
	downPhase phase         // the phase when it went down
	downFor   time.Duration // total time down, the current period excluded
	changed   chan struct{} // closed and replaced on every change
	stopped   bool          // the run is over: changes are no longer counted
}

func newLinkWatch(n int, linkTimeout, stall time.Duration) *linkWatch {
	return &linkWatch{n: n, linkTimeout: linkTimeout, stall: stall, changed: make(chan struct{})}
}

// callbacks returns the OnConnect and OnDisconnect functions of interface k.
func (w *linkWatch) callbacks(k int) (func(*memif.Interface), func(*memif.Interface, error)) {
	return func(*memif.Interface) { w.change(k, 1) }, func(*memif.Interface, error) { w.change(k, -1) }
}

func (w *linkWatch) change(k, delta int) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.changed)
	w.changed = make(chan struct{})
	if w.stopped {
		return
	}
	wasUp := w.upLocked()
	w.conns[k] += delta
	isUp := w.upLocked()
	if delta < 0 && w.everUp {
		w.drops++
	}
	switch {
	case isUp && !wasUp:
		w.ups++
		if w.everUp && !w.downSince.IsZero() {
			w.downFor += now.Sub(w.downSince)
		}
		w.everUp, w.downSince = true, time.Time{}
	case wasUp && !isUp:
		w.downSince, w.downPhase = now, w.phase
	}
}

func (w *linkWatch) upLocked() bool {
	for k := range w.n {
		if w.conns[k] <= 0 {
			return false
		}
	}
	return true
}

// state returns whether the link is up, how many times it came up, and a channel that
// is closed at the next change.
func (w *linkWatch) state() (up bool, ups uint64, changed <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.upLocked(), w.ups, w.changed
}

// waitUp returns once the link is up, or ctx's error.
func (w *linkWatch) waitUp(ctx context.Context) error {
	for {
		up, _, ch := w.state()
		if up {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

func (w *linkWatch) setPhase(p phase) {
	w.mu.Lock()
	w.phase = p
	w.mu.Unlock()
}

// deadline returns when the current down period exceeds its bound (zero while up) and
// a channel closed at the next change.
func (w *linkWatch) deadline() (time.Time, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.downSince.IsZero() {
		return time.Time{}, w.changed
	}
	return w.downSince.Add(w.boundLocked()), w.changed
}

func (w *linkWatch) boundLocked() time.Duration {
	if w.downPhase == phaseWaiting {
		return w.linkTimeout
	}
	return w.stall
}

// downErr describes the current down period, which outlasted its bound.
func (w *linkWatch) downErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	what := "link"
	for k := range w.n {
		if i := w.ifs[k]; w.conns[k] <= 0 && i != nil {
			d := i.Details()
			what = fmt.Sprintf("link of interface %d (%s) on %s", d.ID, d.Role, d.Socket)
			break
		}
	}
	return fmt.Errorf("%s went down %s and did not come back within %v: %w", what, w.downPhase, w.boundLocked(), ErrLinkDown)
}

// stats returns the drops and the time the link was down, up to now.
func (w *linkWatch) stats(now time.Time) (drops uint64, down time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	down = w.downFor
	if !w.downSince.IsZero() {
		down += now.Sub(w.downSince)
	}
	return w.drops, down
}

// stop ends the counting: the disconnects gen causes itself when it closes are not
// link drops.
func (w *linkWatch) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}

// watch aborts the run with ErrLinkDown once a down period outlasts its bound. It
// returns when done is closed.
func (r *run) watch(done <-chan struct{}) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		at, changed := r.link.deadline()
		var fire <-chan time.Time
		if !at.IsZero() {
			t.Reset(time.Until(at))
			fire = t.C
		}
		select {
		case <-done:
			return
		case <-changed:
		case <-fire:
			// A change may have raced the timer: fail only if this period is still on.
			if now, _ := r.link.deadline(); !now.IsZero() && !time.Now().Before(now) {
				r.abort(r.link.downErr())
				return
			}
		}
		t.Stop()
	}
}

// queuesInUse is how many transmit queues send on a connection: the configured number,
// or fewer when the peer negotiated fewer (0 while the link is down).
func queuesInUse(configured, negotiated int) int {
	return max(0, min(configured, negotiated))
}

// queueRate is one queue's share of the total rate when queues queues send. A count
// below 1 (the link dropped while it was read) yields the total: the connection it was
// read from is gone, and the next one divides again.
func queueRate(total float64, queues int) float64 {
	if queues < 1 {
		return total
	}
	return total / float64(queues)
}

// queueShare is the most frames one of queues transmit queues sends in total so that
// together they send count: count/queues rounded up. A count of 0 (no limit) yields 0;
// a queue count below 1 (the link dropped while it was read) yields count.
func queueShare(count uint64, queues int) uint64 {
	if count == 0 || queues < 1 {
		return count
	}
	n := uint64(queues)
	share := count / n
	if count%n != 0 {
		share++
	}
	return share
}
