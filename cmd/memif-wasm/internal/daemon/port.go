package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/config"
	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/memif"
)

// drainTimeout bounds how long stopping an interface waits for its workers
// to finish the bursts in flight.
const drainTimeout = 5 * time.Second

// tenant is one running tenant. ports never changes after start: a change
// of the interface list restarts the tenant, so port numbers stay stable
// for the workers that index by them.
type tenant struct {
	name  string
	cfg   config.Tenant
	ports []*port
}

// port is one running interface: its memif interface, its plugins (compiled
// once) and one worker (with its own pipeline instances) per configured queue.
type port struct {
	d     *Daemon
	t     *tenant
	index int
	cfg   config.Interface

	sock    *socketRef
	iface   *memif.Interface
	plugins []*plugin // guarded by d.mu
	workers []*worker

	egress atomic.Pointer[port]
	tx     atomic.Pointer[txSet]

	mu        sync.Mutex // lifecycle: connect/disconnect/stop
	runCtx    context.Context
	runCancel context.CancelFunc
	running   sync.WaitGroup
	stopped   bool
	placement atomic.Value // string
}

// txSet is a connection's tx queues, each shared by the workers that send to it.
type txSet struct{ qs []*txq }

type txq struct {
	mu sync.Mutex
	q  *memif.TxQueue
}

// plugin is one pipeline stage: its config and its compiled module.
type plugin struct {
	cfg      config.Plugin
	name     string
	mod      *host.Module
	pcfg     host.PluginConfig
	loadedAt time.Time
}

func (p *port) ringSize() int { return 1 << p.cfg.RingLog2() }

func (p *port) label() string { return p.t.name + "/" + p.cfg.Name }

// modules lists the compiled modules in pipeline order.
func (p *port) modules() []*host.Module {
	ms := make([]*host.Module, len(p.plugins))
	for i, pl := range p.plugins {
		ms[i] = pl.mod
	}
	return ms
}

// newPipelines instantiates one pipeline per worker; on error nothing is left open.
func (p *port) newPipelines(ctx context.Context, mods []*host.Module) ([]*host.Pipeline, error) {
	pipes := make([]*host.Pipeline, p.cfg.NumQueues())
	for q := range pipes {
		pl, err := host.NewPipeline(ctx, mods...)
		if err != nil {
			for _, o := range pipes[:q] {
				o.Close(ctx)
			}
			return nil, fmt.Errorf("tenant %q interface %q: instantiate pipeline: %w", p.t.name, p.cfg.Name, err)
		}
		pipes[q] = pl
	}
	return pipes, nil
}

// open creates the memif interface; workers start when it connects.
func (p *port) open() error {
	c := &p.cfg
	role := memif.RoleSlave
	if c.IsMaster() {
		role = memif.RoleMaster
	}
	mode := memif.ModeEthernet
	switch c.Mode {
	case "ip":
		mode = memif.ModeIP
	case "punt-inject":
		mode = memif.ModePuntInject
	}
	rxMode := memif.RxModeInterrupt
	if c.RxMode == "polling" {
		rxMode = memif.RxModePolling
	}
	p.runCtx, p.runCancel = context.WithCancel(context.Background())
	p.placement.Store(host.PlacementCopy.String())
	ifc, err := p.sock.s.NewInterface(memif.InterfaceConfig{
		ID:           c.ID,
		Role:         role,
		Mode:         mode,
		Name:         c.Name,
		Secret:       c.Secret,
		RxQueues:     c.NumQueues(),
		TxQueues:     c.NumQueues(),
		Log2RingSize: c.RingLog2(),
		BufferSize:   uint16(max(c.BufferSize, 0)),
		RxMode:       rxMode,
		OnConnect:    p.onConnect,
		OnDisconnect: p.onDisconnect,
	})
	if err != nil {
		return fmt.Errorf("tenant %q interface %q (socket %s, id %d): %w", p.t.name, c.Name, p.sock.path, c.ID, err)
	}
	p.mu.Lock()
	p.iface = ifc
	p.mu.Unlock()
	return nil
}

// onConnect runs on memif's control goroutine: it must not block for long.
// The previous connection's workers have already seen ErrDisconnected.
func (p *port) onConnect(ifc *memif.Interface) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.running.Wait()

	var set txSet
	for i := range ifc.NumTxQueues() {
		q, err := ifc.TxQueue(i)
		if err != nil {
			return
		}
		set.qs = append(set.qs, &txq{q: q})
	}
	p.tx.Store(&set)

	placement := p.attachRegions(ifc)
	p.placement.Store(placement.String())
	for qi := range min(ifc.NumRxQueues(), len(p.workers)) {
		rxq, err := ifc.RxQueue(qi)
		if err != nil {
			break
		}
		w := p.workers[qi]
		p.running.Add(1)
		go func() {
			defer p.running.Done()
			w.run(p.runCtx, rxq)
		}()
	}
	p.d.log.Info("interface up", "tenant", p.t.name, "interface", p.cfg.Name, "rx_queues", ifc.NumRxQueues(), "tx_queues", ifc.NumTxQueues(), "placement", placement.String())
}

// attachRegions shows the connection's buffer region to every pipeline, for
// zero-copy placement where the host allows it.
func (p *port) attachRegions(ifc *memif.Interface) host.Placement {
	regions := ifc.Regions()
	pick := -1
	for i, r := range regions {
		if !r.Rings {
			pick = i
			break
		}
	}
	if pick < 0 {
		return host.PlacementCopy
	}
	r := regions[pick]
	facts := host.RegionFacts{Size: int(r.Size), HoldsRings: r.Rings}
	placement := host.PlacementCopy
	for _, w := range p.workers {
		w.mu.Lock()
		if w.pipe == nil {
			w.mu.Unlock()
			continue
		}
		pl, err := w.pipe.AttachRegion(r.Index, r.FD, facts)
		w.mu.Unlock()
		if err != nil {
			p.d.log.Warn("zero-copy not possible, copying", "tenant", p.t.name, "interface", p.cfg.Name, "err", err)
			continue
		}
		placement = pl
	}
	return placement
}

func (p *port) onDisconnect(_ *memif.Interface, err error) {
	p.tx.Store(nil)
	for _, w := range p.workers {
		w.mu.Lock()
		if w.pipe != nil { // nil once the interface is closed
			w.pipe.DetachRegion()
		}
		w.mu.Unlock()
	}
	p.placement.Store(host.PlacementCopy.String())
	if !p.isStopped() {
		p.d.log.Info("interface down", "tenant", p.t.name, "interface", p.cfg.Name, "err", err)
	}
}

func (p *port) isStopped() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopped
}

// stopWorkers stops rx: every worker drains what its ring holds and returns.
// The interface stays open (so other ports' workers draining into it can
// still send) until closeInterface.
func (p *port) stopWorkers() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	if p.runCancel != nil {
		p.runCancel()
	}
	done := make(chan struct{})
	go func() { p.running.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(drainTimeout):
		p.d.log.Warn("workers did not drain in time", "tenant", p.t.name, "interface", p.cfg.Name)
	}
}

// closeInterface sends DISCONNECT and releases the interface, then closes the pipelines.
func (p *port) closeInterface(ctx context.Context) error {
	p.mu.Lock()
	ifc := p.iface
	p.iface = nil
	p.mu.Unlock()
	var errs []error
	if ifc != nil {
		errs = append(errs, ifc.Close())
	}
	// Close is synchronous with respect to OnDisconnect only from other
	// goroutines; wait for workers once more in case a connect raced the stop.
	p.running.Wait()
	for _, w := range p.workers {
		if old := w.swapPipe(nil); old != nil {
			errs = append(errs, old.Close(ctx))
		}
	}
	if p.sock != nil {
		errs = append(errs, p.d.releaseSocket(p.sock))
		p.sock = nil
	}
	return errors.Join(errs...)
}

// stage returns the index of the plugin called name, or an error wrapping ErrNotFound.
func (p *port) stage(name string) (int, error) {
	for i, pl := range p.plugins {
		if pl.name == name {
			return i, nil
		}
	}
	return -1, fmt.Errorf("%w: no plugin %q on interface %q of tenant %q", ErrNotFound, name, p.cfg.Name, p.t.name)
}
