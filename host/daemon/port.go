package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
	"github.com/memif-wasm/memif-wasm/host/dataplane"
	"github.com/memif-wasm/memif-wasm/memif"
)

// tenant is one running tenant. ports never changes after start: a change
// of the interface list restarts the tenant, so port numbers stay stable.
type tenant struct {
	name  string
	cfg   config.Tenant
	host  *host.Tenant
	ports []*port
}

// port is one running interface: its memif interface, its plugins (compiled
// once) and one worker slot (with its own pipeline) per configured queue.
// Every field is guarded by d.mu.
type port struct {
	d     *Daemon
	t     *tenant
	index int
	cfg   config.Interface

	sock    *socketRef
	iface   *memif.Interface
	hp      *dataplane.Port
	plugins []*plugin
	workers []*worker
	egress  *port

	// retired holds the counters of stages and worker slots that were
	// dropped (an unload, fewer queues), by plugin name, so a plugin's
	// counters never go backwards.
	retired map[string]host.PluginStats

	// trace and capt are the port's taps (see views.go), set again on the
	// dataplane.Port of every interface the port opens.
	trace *dataplane.Trace
	capt  *dataplane.Capture
}

// plugin is one pipeline stage: its config and its compiled module.
type plugin struct {
	cfg      config.Plugin
	name     string
	mod      *host.Module
	pcfg     host.PluginConfig
	loadedAt time.Time
	// sig is the signature policy it was verified under; digest the
	// manifest digest of an oci source, signedBy the key that verified it.
	sig      config.Signatures
	digest   string
	signedBy string
}

func (p *port) ringSize() int { return 1 << p.cfg.RingLog2() }

func (p *port) label() string { return p.t.name + "/" + p.cfg.Name }

// modules lists the compiled modules of plugins in pipeline order.
func modules(plugins []*plugin) []*host.Module {
	ms := make([]*host.Module, len(plugins))
	for i, pl := range plugins {
		ms[i] = pl.mod
	}
	return ms
}

// newPipelines instantiates n pipelines (one per worker slot); on error
// nothing is left open.
func (p *port) newPipelines(ctx context.Context, mods []*host.Module, n int) ([]*host.Pipeline, error) {
	pipes := make([]*host.Pipeline, n)
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

// open creates the memif interface of p.cfg on p.sock. Workers are started
// separately, once every port of the tenant is open (they name each other
// as egress).
func (p *port) open() error {
	ifc, err := p.openIface(p.cfg, p.sock)
	if err != nil {
		return err
	}
	p.install(ifc)
	return nil
}

// install makes ifc the port's interface.
func (p *port) install(ifc *memif.Interface) {
	p.iface = ifc
	p.hp = &dataplane.Port{If: ifc, Tenant: p.t.host, Name: p.label()}
	p.hp.SetTrace(p.trace)
	p.hp.SetCapture(p.capt)
}

// openIface creates a memif interface for the port with settings c on sock,
// without installing it (a config change opens the new one beside the old).
func (p *port) openIface(c config.Interface, sock *socketRef) (*memif.Interface, error) {
	ifc, err := sock.s.NewInterface(memif.InterfaceConfig{
		LogAttrs:             []any{"tenant", p.t.name, "interface", c.Name},
		ID:                   c.ID,
		Role:                 c.MemifRole(),
		Mode:                 c.MemifMode(),
		Name:                 c.Name,
		Secret:               c.Secret,
		RxQueues:             c.NumQueues(),
		TxQueues:             c.NumQueues(),
		Log2RingSize:         c.RingLog2(),
		BufferSize:           uint16(max(c.BufferSize, 0)),
		RxMode:               c.MemifRxMode(),
		AllowUnsealedRegions: c.AllowUnsealedRegions,
		OnConnect: func(ifc *memif.Interface) {
			p.d.log.Info("interface up", "tenant", p.t.name, "interface", c.Name, "rx_queues", ifc.NumRxQueues(), "tx_queues", ifc.NumTxQueues())
			// Not here: the callback must not block, and fitting takes d.mu.
			go p.d.fitWorkers(p)
		},
		OnDisconnect: func(_ *memif.Interface, err error) {
			p.d.log.Info("interface down", "tenant", p.t.name, "interface", c.Name, "err", err)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("tenant %q interface %q (socket %s, id %d): %w", p.t.name, c.Name, sock.path, c.ID, err)
	}
	return ifc, nil
}

// serves reports whether slot q has a queue to serve: every slot while
// the link is down (its worker waits for the link), only the negotiated
// queues while it is up. A dataplane.Worker on a queue the peer did not
// negotiate would find no queue and retry at once, spinning.
func (p *port) serves(q int) bool {
	if p.iface == nil || !p.iface.Connected() {
		return true
	}
	return q < p.iface.NumRxQueues()
}

// startWorkers starts a dataplane.Worker on every slot that has a queue to serve.
func (p *port) startWorkers() error {
	if p.hp == nil {
		return nil // the interface could not be opened
	}
	for _, w := range p.workers {
		if !p.serves(w.q) || w.hw != nil {
			continue
		}
		if err := w.start(); err != nil {
			return fmt.Errorf("tenant %q interface %q queue %d: %w", p.t.name, p.cfg.Name, w.q, err)
		}
	}
	return nil
}

// fitWorkers runs workers on exactly the queues the new connection has.
func (d *Daemon) fitWorkers(p *port) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || p.iface == nil {
		return
	}
	for _, w := range p.workers {
		switch {
		case p.serves(w.q) && w.hw == nil:
			if err := w.start(); err != nil {
				d.log.Error("start worker", "tenant", p.t.name, "interface", p.cfg.Name, "queue", w.q, "err", err)
			}
		case !p.serves(w.q) && w.hw != nil:
			w.stop()
		}
	}
}

// stopWorkers stops rx: every worker finishes its burst in flight and returns.
func (p *port) stopWorkers() {
	for _, w := range p.workers {
		w.stop()
	}
}

// closeIface sends DISCONNECT and releases the memif interface, keeping the
// pipelines and the socket reference (a config change may reopen it). The
// workers must be stopped.
func (p *port) closeIface() error {
	if p.iface == nil {
		return nil
	}
	err := p.iface.Close()
	p.iface, p.hp = nil, nil
	return err
}

// closeInterface closes the interface, the pipelines and the socket
// reference. The workers must be stopped.
func (p *port) closeInterface(ctx context.Context) error {
	errs := []error{p.closeIface()}
	for _, w := range p.workers {
		if w.pipe != nil {
			errs = append(errs, w.pipe.Close(ctx))
			w.pipe = nil
		}
	}
	if p.sock != nil {
		errs = append(errs, p.d.releaseSocket(p.sock))
		p.sock = nil
	}
	return errors.Join(errs...)
}

// retireSlot closes the pipeline of a worker slot that goes away (its
// worker stopped), keeping its plugins' counters in retired.
func (p *port) retireSlot(ctx context.Context, w *worker) {
	if w.pipe == nil {
		return
	}
	p.retire(w.pipe.ReadStats(nil))
	w.pipe.Close(ctx)
	w.pipe = nil
}

// retire adds the final counters of p.plugins' stages (in that order) to
// retired, so a plugin's counters never go backwards.
func (p *port) retire(stats []host.PluginStats) {
	for i := range min(len(stats), len(p.plugins)) {
		p.retireStage(p.plugins[i].name, &stats[i])
	}
}

func (p *port) retireStage(name string, st *host.PluginStats) {
	r := p.retired[name]
	r.Add(st)
	// Gauges describe live instances; the retired ones have none.
	r.MemoryBytes, r.Quarantined = 0, 0
	p.retired[name] = r
}

// prepareReshape prepares pipes (the port's, or those of the slots a new
// interface config keeps) for the plugin list next: a plugin of next that
// is in p.plugins keeps its stage as it runs; one with the name of a running
// plugin but another module continues that stage as its new version (its
// state handed over); any other is a new stage. Nothing changes until the
// reshaping is committed.
func (p *port) prepareReshape(ctx context.Context, pipes []*host.Pipeline, next []*plugin) (*host.Reshaping, error) {
	from := make([]int, len(next))
	for i, pl := range next {
		from[i] = slices.IndexFunc(p.plugins, func(o *plugin) bool { return o.name == pl.name })
	}
	r, err := host.PrepareReshape(ctx, pipes, modules(next), from)
	if err != nil {
		return nil, fmt.Errorf("tenant %q interface %q: %w", p.t.name, p.cfg.Name, err)
	}
	return r, nil
}

// finishReshape records a committed reshaping to next: the counters of the
// stages it dropped go to retired, and the modules no stage runs any more
// are closed.
func (p *port) finishReshape(ctx context.Context, r *host.Reshaping, next []*plugin) {
	for j, st := range r.Dropped() {
		name := p.plugins[j].name
		if slices.ContainsFunc(next, func(pl *plugin) bool { return pl.name == name }) {
			continue // continued under a new version: its counters went on
		}
		p.retireStage(name, &st)
	}
	for _, o := range p.plugins {
		if !slices.Contains(next, o) {
			o.mod.Close(ctx)
		}
	}
	p.plugins = next
}

// reshape moves every worker's pipeline to the plugin list next between two
// bursts, all or nothing (see prepareReshape); the workers keep running.
func (p *port) reshape(ctx context.Context, next []*plugin) error {
	r, err := p.prepareReshape(ctx, p.pipelines(), next)
	if err != nil {
		return err
	}
	if err := r.Commit(ctx); err != nil {
		return fmt.Errorf("tenant %q interface %q: %w", p.t.name, p.cfg.Name, err)
	}
	p.finishReshape(ctx, r, next)
	return nil
}

// restartWorkers starts new host workers on the same pipelines, for a new egress.
func (p *port) restartWorkers() error {
	for _, w := range p.workers {
		w.stop()
	}
	return p.startWorkers()
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

// pipelines lists the slots' pipelines.
func (p *port) pipelines() []*host.Pipeline {
	ps := make([]*host.Pipeline, len(p.workers))
	for i, w := range p.workers {
		ps[i] = w.pipe
	}
	return ps
}
