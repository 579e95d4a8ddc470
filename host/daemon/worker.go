package daemon

import (
	"context"
	"errors"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/host/dataplane"
	"github.com/memif-wasm/memif-wasm/memif"
)

// stopTimeout bounds how long stopping a worker waits for its burst in flight.
const stopTimeout = 5 * time.Second

// worker is one rx queue of one interface: a dataplane.Worker (the packet loop
// lives in host/) with its own pipeline, started and stopped by the daemon.
// The slot outlives the dataplane.Worker: an egress change or a reopened
// interface starts a new one on the same slot (a pipeline change does not:
// the pipeline is reshaped in place), and the counters of the old one are
// kept in base so they never go backwards.
type worker struct {
	p    *port
	q    int
	pipe *host.Pipeline // guarded by p.d.mu

	hw     *dataplane.Worker
	cancel context.CancelFunc
	done   chan struct{}

	base dataplane.WorkerStats // counters of host workers that ran on this slot before
}

// start runs a dataplane.Worker for the slot with its current pipeline and the
// port's current egress. Call with p.d.mu held.
func (w *worker) start() error {
	p := w.p
	cfg := dataplane.WorkerConfig{
		Pipeline:    w.pipe,
		In:          p.hp,
		Queue:       w.q,
		IfIndex:     uint32(p.index),
		Burst:       min(p.ringSize(), abi.MaxBurst),
		TxRetries:   p.cfg.TxRetries,   // 0: no count cap
		TxRetryTime: p.cfg.TxRetryTime, // 0: dataplane.DefaultTxRetryTime
		Clock:       p.d.opts.Clock,
		Ports:       make([]*dataplane.Port, len(p.t.ports)),
		// The worker keeps its OS thread (and so its CPU caches and, with
		// cpus or an external affinity setting, its core).
		LockOSThread: p.cfg.PinWorkers,
	}
	if cpus := p.cfg.CPUs; len(cpus) > 0 {
		// Queue q on the q-th CPU of the list (round robin): N queues on
		// N listed CPUs get a core each.
		cfg.CPUs = []int{cpus[w.q%len(cpus)]}
	}
	if e := p.egress; e != nil {
		cfg.Egress = e.hp
	}
	for i, o := range p.t.ports {
		cfg.Ports[i] = o.hp
	}
	hw, err := dataplane.NewWorker(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.hw, w.cancel, w.done = hw, cancel, make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		err := hw.Run(ctx)
		if err != nil && !errors.Is(err, memif.ErrClosed) {
			p.d.log.Error("worker stopped", "tenant", p.t.name, "interface", p.cfg.Name, "queue", w.q, "err", err)
		}
	}(w.done)
	return nil
}

// stop ends the dataplane.Worker after the burst in flight and folds its
// counters into base. Call with p.d.mu held.
func (w *worker) stop() {
	if w.hw == nil {
		return
	}
	w.cancel()
	select {
	case <-w.done:
	case <-time.After(stopTimeout):
		w.p.d.log.Warn("worker did not stop in time", "tenant", w.p.t.name, "interface", w.p.cfg.Name, "queue", w.q)
	}
	addWorkerStats(&w.base, w.hw.ReadStats())
	w.hw = nil
}

// stats returns the slot's counters over every dataplane.Worker it ran.
func (w *worker) stats() dataplane.WorkerStats {
	s := w.base
	if w.hw != nil {
		addWorkerStats(&s, w.hw.ReadStats())
	}
	return s
}

func addWorkerStats(s *dataplane.WorkerStats, o dataplane.WorkerStats) { s.Add(&o) }
