package table

import (
	"errors"
	"fmt"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
)

// MaxPending bounds the changes a table holds queued for publication.
const MaxPending = 4096

// ErrQueueFull is returned by Enqueue while MaxPending changes wait.
var ErrQueueFull = errors.New("table's queue of changes is full")

// queue is the changes plugins asked for (Enqueue) and not yet published.
type queue struct {
	pending  []Op
	flushing bool // a goroutine is publishing; it runs until pending is empty
	closed   bool
}

// Enqueue queues op for publication without waiting: the plugin that asks
// is inside a guest call, a reader the publication itself must wait for.
// A goroutine publishes what is queued, in batches, each change on its own
// (one that fails, as a put into a full table, is counted in FailedUpdate
// and dropped; the rest are published). The change is checked (sizes,
// index, prefix) now. It does not block.
func (t *Table) Enqueue(op Op) error {
	if t.spec.Kind == abi.TableCounters {
		return fmt.Errorf("table %q: %w", t.spec.Name, ErrReadOnly)
	}
	if err := t.check(&op); err != nil {
		t.failed.Add(1)
		return err
	}
	t.qmu.Lock()
	switch {
	case t.q.closed:
		t.qmu.Unlock()
		return ErrClosed
	case len(t.q.pending) >= MaxPending:
		t.qmu.Unlock()
		t.failed.Add(1)
		return fmt.Errorf("table %q: %w (%d changes)", t.spec.Name, ErrQueueFull, MaxPending)
	}
	t.q.pending = append(t.q.pending, op)
	start := !t.q.flushing
	t.q.flushing = true
	t.qmu.Unlock()
	if start {
		go t.flush()
	}
	return nil
}

// flush publishes queued changes until none is left.
func (t *Table) flush() {
	for {
		t.qmu.Lock()
		batch := t.q.pending
		t.q.pending = nil
		if len(batch) == 0 || t.q.closed {
			t.q.flushing = false
			t.qmu.Unlock()
			return
		}
		t.qmu.Unlock()
		t.applyEach(batch)
	}
}

// applyEach applies each op that succeeds and publishes them together.
func (t *Table) applyEach(ops []Op) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	cur := int(t.active.Load())
	next := 1 - cur
	n := t.state
	done := ops[:0]
	for i := range ops {
		// A failing apply changes nothing (a full table, a missing key).
		if t.apply(next, &ops[i], &n) != nil {
			t.failed.Add(1)
			continue
		}
		done = append(done, ops[i])
	}
	if len(done) > 0 {
		t.commit(cur, next, n, done)
	}
}

// Flush waits until every queued change is published (or dropped): for
// tests and for a control plane that wants to read what plugins wrote.
func (t *Table) Flush() {
	for {
		t.qmu.Lock()
		idle := !t.q.flushing && len(t.q.pending) == 0
		t.qmu.Unlock()
		if idle {
			return
		}
		time.Sleep(50 * time.Microsecond)
	}
}
