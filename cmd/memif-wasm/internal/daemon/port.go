package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/config"
	"github.com/memif-wasm/memif-wasm/host"
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
	hp      *host.Port
	plugins []*plugin
	workers []*worker
	egress  *port

	// retired holds the counters of pipelines replaced by a rebuild, by
	// plugin name, so a plugin's counters never go backwards.
	retired map[string]host.PluginStats
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

// modules lists the compiled modules of plugins in pipeline order.
func modules(plugins []*plugin) []*host.Module {
	ms := make([]*host.Module, len(plugins))
	for i, pl := range plugins {
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

// open creates the memif interface. Workers are started separately, once
// every port of the tenant is open (they name each other as egress).
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
	ifc, err := p.sock.s.NewInterface(memif.InterfaceConfig{
		ID:                   c.ID,
		Role:                 role,
		Mode:                 mode,
		Name:                 c.Name,
		Secret:               c.Secret,
		RxQueues:             c.NumQueues(),
		TxQueues:             c.NumQueues(),
		Log2RingSize:         c.RingLog2(),
		BufferSize:           uint16(max(c.BufferSize, 0)),
		RxMode:               rxMode,
		AllowUnsealedRegions: c.AllowUnsealedRegions,
		OnConnect: func(ifc *memif.Interface) {
			p.d.log.Info("interface up", "tenant", p.t.name, "interface", p.cfg.Name, "rx_queues", ifc.NumRxQueues(), "tx_queues", ifc.NumTxQueues())
			// Not here: the callback must not block, and fitting takes d.mu.
			go p.d.fitWorkers(p)
		},
		OnDisconnect: func(_ *memif.Interface, err error) {
			p.d.log.Info("interface down", "tenant", p.t.name, "interface", p.cfg.Name, "err", err)
		},
	})
	if err != nil {
		return fmt.Errorf("tenant %q interface %q (socket %s, id %d): %w", p.t.name, c.Name, p.sock.path, c.ID, err)
	}
	p.iface = ifc
	p.hp = &host.Port{If: ifc, Tenant: p.t.host}
	return nil
}

// serves reports whether slot q has a queue to serve: every slot while
// the link is down (its worker waits for the link), only the negotiated
// queues while it is up. A host.Worker on a queue the peer did not
// negotiate would find no queue and retry at once, spinning.
func (p *port) serves(q int) bool {
	if p.iface == nil || !p.iface.Connected() {
		return true
	}
	return q < p.iface.NumRxQueues()
}

// startWorkers starts a host.Worker on every slot that has a queue to serve.
func (p *port) startWorkers() error {
	if p.hp == nil {
		return nil // the interface could not be opened
	}
	for _, w := range p.workers {
		if !p.serves(w.q) {
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

// closeInterface sends DISCONNECT and releases the interface, then closes
// the pipelines. The workers must be stopped.
func (p *port) closeInterface(ctx context.Context) error {
	var errs []error
	if p.iface != nil {
		errs = append(errs, p.iface.Close())
		p.iface = nil
	}
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

// rebuild instantiates new pipelines for plugins and moves every worker
// slot to them: the old host.Worker finishes its burst and stops, a new one
// starts on the new pipeline (packets wait in the ring meanwhile, none is
// lost), then the old pipelines are closed. On error the old pipelines keep
// running.
func (p *port) rebuild(ctx context.Context, plugins []*plugin) error {
	pipes, err := p.newPipelines(ctx, modules(plugins))
	if err != nil {
		return err
	}
	var buf []host.PluginStats
	for q, w := range p.workers {
		w.stop()
		old := w.pipe
		buf = old.ReadStats(buf[:0])
		for i := range min(len(buf), len(p.plugins)) {
			r := p.retired[p.plugins[i].name]
			r.Add(&buf[i])
			// Gauges describe live instances; the retired ones have none.
			r.MemoryBytes, r.Quarantined = 0, 0
			p.retired[p.plugins[i].name] = r
		}
		w.pipe = pipes[q]
		var err error
		if p.serves(q) {
			err = w.start()
		}
		old.Close(ctx)
		if err != nil {
			return fmt.Errorf("tenant %q interface %q queue %d: %w", p.t.name, p.cfg.Name, q, err)
		}
	}
	p.plugins = plugins
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
