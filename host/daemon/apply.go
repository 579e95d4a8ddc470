package daemon

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
	"github.com/memif-wasm/memif-wasm/memif"
)

// Change is one difference Apply acted on.
type Change struct {
	Tenant, Interface, Plugin string
	Action                    string // "add", "remove", "restart", "reload", "egress", "rebuild"
}

func (c Change) String() string {
	s := c.Action + " tenant " + c.Tenant
	if c.Interface != "" {
		s += " interface " + c.Interface
	}
	if c.Plugin != "" {
		s += " plugin " + c.Plugin
	}
	return s
}

// Apply moves the daemon to cfg by difference, all or nothing. Tenants and
// interfaces that did not change keep running undisturbed, and so do the
// plugins that did not change, whatever changes beside them in their
// pipeline (their instances keep their state). A changed plugin (its
// settings, its config_file's content or its file's) is reloaded in place,
// its state handed to the new version; a new list of plugins ("rebuild")
// adds and removes stages around the ones that stay; a changed egress
// restarts only the interface's workers; a changed interface (memif
// settings, redirect list) reopens only that interface, pausing the tenant's
// workers meanwhile; a changed interface list or tenant budget rebuilds the
// tenant. Settings outside tenants (log, metrics, admin, engine) take effect
// on restart only.
//
// Everything new is prepared before anything running is touched: files
// read, plugins compiled and instantiated, new tenants built, sockets taken
// and new interfaces opened unless they need the socket and id of one the
// change closes. If any of that fails, nothing changed and the error (which
// names the tenant, interface, plugin or file) says so. The steps that can
// only happen in place come next: closing the interfaces that go, opening
// the ones that take their place, handing the state of reloaded plugins to
// their new versions. If one of them fails, the old interfaces are reopened
// with their old settings, the pipelines were not changed, and the error
// says the change was rolled back.
//
// It returns what it changed. Every call is counted and logged as
// ReloadConfig says.
func (d *Daemon) Apply(ctx context.Context, cfg *config.Config) ([]Change, error) {
	return d.ReloadConfig(ctx, func() (*config.Config, error) { return cfg, nil })
}

// ReloadConfig applies the config load returns (typically the config file
// read again), as Apply does; load runs first, without the daemon's lock.
// Each call is a config reload: it is counted by result (Snapshot.
// ConfigReloads, "ok" or "failed", the errors of load included), a failure
// is kept with its time (Snapshot.LastReloadError), and the outcome is
// logged here, once: a caller returns the error without logging it again.
func (d *Daemon) ReloadConfig(ctx context.Context, load func() (*config.Config, error)) ([]Change, error) {
	cfg, err := load()
	var changes []Change
	if err == nil {
		changes, err = d.apply(ctx, cfg)
	}
	c := &d.counters
	c.mu.Lock()
	c.lastReloadAt = d.opts.Clock.Now()
	c.lastReloadFailed = err != nil
	if err != nil {
		c.configReloads["failed"]++
		c.lastReloadErr, c.lastReloadErrAt = err.Error(), c.lastReloadAt
	} else {
		c.configReloads["ok"]++
	}
	c.mu.Unlock()
	if err != nil {
		d.log.Error("config reload failed; the running config stays", "err", err)
		return nil, err
	}
	for _, ch := range changes {
		d.log.Info("config change applied", "change", ch.String())
	}
	d.log.Info("config reloaded", "changes", len(changes))
	return changes, nil
}

// apply is Apply without the counting and logging.
func (d *Daemon) apply(ctx context.Context, cfg *config.Config) ([]Change, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, err := d.prefetch(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w (nothing was changed)", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	tx := &txn{d: d, cfg: cfg}
	if err := tx.prepare(ctx); err != nil {
		tx.abort(ctx)
		return nil, fmt.Errorf("%w (nothing was changed)", err)
	}
	if err := tx.commit(ctx); err != nil {
		return nil, err
	}
	return tx.changes, nil
}

// txn is one config change on its way: prepare builds everything new
// without touching what runs, commit puts it in place (or rolls back), abort
// throws away what prepare built.
type txn struct {
	d       *Daemon
	cfg     *config.Config
	changes []Change
	next    []*tenant // d.tenants after the change

	added    []*tenant // new tenants, built, their workers not started
	restarts []restart
	removed  []*tenant
	swaps    []*swap
	shapes   []*shape
	egress   []*port // ports whose egress changes to cfg.Egress of their shape
	kept     []keptTenant
	fresh    []*plugin    // compiled for this change
	socks    []*socketRef // socket references taken for this change
	deferred []opening    // interfaces that can only open once the old ones closed

	// outgoing are the interfaces the change closes, by socket, role and id:
	// a new interface with the same key can only open after them.
	outgoing map[ifaceKey]bool
}

// restart is a tenant rebuilt from scratch.
type restart struct{ old, new *tenant }

// keptTenant is a running tenant and its new config.
type keptTenant struct {
	t  *tenant
	tc config.Tenant
}

// swap is a running interface reopened with new memif settings. The port
// (its pipelines, workers and counters) stays; its memif interface is
// replaced.
type swap struct {
	p     *port
	cfg   config.Interface
	sock  *socketRef       // the new settings' socket: a reference of its own
	iface *memif.Interface // the new interface, once opened
	pipes []*host.Pipeline // pipelines of the worker slots the new settings add
}

func (sw *swap) open() (err error) {
	sw.iface, err = sw.p.openIface(sw.cfg, sw.sock)
	return err
}

func (sw *swap) closeNew() {
	if sw.iface != nil {
		sw.iface.Close()
		sw.iface = nil
	}
}

// shape is a running interface's plugin list moving to next (r is nil when
// it stays the same).
type shape struct {
	p    *port
	nc   config.Interface
	next []*plugin
	r    *host.Reshaping
}

// opening opens an interface of the change in commit, and closes it again
// on a rollback.
type opening struct {
	open  func() error
	close func()
}

type ifaceKey struct {
	path   string
	master bool
	id     uint32
}

func keyOf(c config.Interface) ifaceKey { return ifaceKey{c.SocketPath(), c.IsMaster(), c.ID} }

// prepare builds everything the change needs without touching what runs.
// On error the caller aborts.
func (tx *txn) prepare(ctx context.Context) error {
	d := tx.d
	cur := map[string]*tenant{}
	for _, t := range d.tenants {
		cur[t.name] = t
	}
	// What goes away first: a new interface that needs the socket and id
	// of one of these can only be opened in commit, once the old is closed.
	tx.outgoing = map[ifaceKey]bool{}
	want := map[string]bool{}
	for _, tc := range tx.cfg.Tenants {
		want[tc.Name] = true
		t := cur[tc.Name]
		switch {
		case t == nil:
		case needsRestart(&t.cfg, &tc):
			for _, p := range t.ports {
				tx.outgoing[keyOf(p.cfg)] = true
			}
		default:
			for i, p := range t.ports {
				if portChanged(p.cfg, tc.Interfaces[i]) {
					tx.outgoing[keyOf(p.cfg)] = true
				}
			}
		}
	}
	for _, t := range d.tenants {
		if !want[t.name] {
			tx.removed = append(tx.removed, t)
			for _, p := range t.ports {
				tx.outgoing[keyOf(p.cfg)] = true
			}
		}
	}
	for _, tc := range tx.cfg.Tenants {
		t := cur[tc.Name]
		switch {
		case t == nil:
			nt, err := tx.newTenant(ctx, tc)
			if err != nil {
				return err
			}
			tx.added = append(tx.added, nt)
			tx.next = append(tx.next, nt)
			tx.changes = append(tx.changes, Change{Tenant: tc.Name, Action: "add"})
		case needsRestart(&t.cfg, &tc):
			nt, err := tx.newTenant(ctx, tc)
			if err != nil {
				return err
			}
			tx.restarts = append(tx.restarts, restart{old: t, new: nt})
			tx.next = append(tx.next, nt)
			tx.changes = append(tx.changes, Change{Tenant: tc.Name, Action: "restart"})
		default:
			if err := tx.prepareKept(ctx, t, tc); err != nil {
				return err
			}
			tx.next = append(tx.next, t)
		}
	}
	for _, t := range tx.removed {
		tx.changes = append(tx.changes, Change{Tenant: t.name, Action: "remove"})
	}
	return nil
}

// newTenant builds a tenant and opens its interfaces, but those that take
// the place of an outgoing one, which it defers to commit.
func (tx *txn) newTenant(ctx context.Context, tc config.Tenant) (*tenant, error) {
	d := tx.d
	t, err := d.prepareTenant(ctx, tc)
	if err != nil {
		return nil, err
	}
	for _, p := range t.ports {
		if !tx.outgoing[keyOf(p.cfg)] {
			err = d.openPort(p)
		} else if p.sock, err = d.socket(p.cfg.SocketPath(), p.cfg.SocketFile()); err == nil {
			tx.deferred = append(tx.deferred, opening{open: p.open, close: func() { p.closeIface() }})
		}
		if err != nil {
			d.closeTenant(ctx, t)
			return nil, err
		}
	}
	return t, nil
}

// prepareKept prepares the changes of a tenant that keeps running: new
// plugin lists, reopened interfaces, egress.
func (tx *txn) prepareKept(ctx context.Context, t *tenant, tc config.Tenant) error {
	d := tx.d
	for i, p := range t.ports {
		nc := tc.Interfaces[i]
		next, changes, err := tx.planPlugins(ctx, t, p, nc, tc.Signatures)
		if err != nil {
			return err
		}
		pipes := p.pipelines()
		if portChanged(p.cfg, nc) {
			sw := &swap{p: p, cfg: nc}
			tx.swaps = append(tx.swaps, sw)
			ref, err := d.socket(nc.SocketPath(), nc.SocketFile())
			if err != nil {
				return fmt.Errorf("tenant %q interface %q: %w", t.name, nc.Name, err)
			}
			tx.socks = append(tx.socks, ref)
			sw.sock = ref
			if n := nc.NumQueues(); n > len(pipes) {
				if sw.pipes, err = p.newPipelines(ctx, modules(next), n-len(pipes)); err != nil {
					return err
				}
			}
			pipes = pipes[:min(len(pipes), nc.NumQueues())]
			if tx.outgoing[keyOf(nc)] {
				tx.deferred = append(tx.deferred, opening{open: sw.open, close: sw.closeNew})
			} else if err := sw.open(); err != nil {
				return err
			}
			tx.changes = append(tx.changes, Change{Tenant: t.name, Interface: nc.Name, Action: "restart"})
		}
		sh := &shape{p: p, nc: nc, next: next}
		tx.shapes = append(tx.shapes, sh)
		if !slices.Equal(next, p.plugins) {
			if sh.r, err = p.prepareReshape(ctx, pipes, next); err != nil {
				return err
			}
		}
		tx.changes = append(tx.changes, changes...)
		if nc.Egress != p.cfg.Egress {
			tx.egress = append(tx.egress, p)
			tx.changes = append(tx.changes, Change{Tenant: t.name, Interface: nc.Name, Action: "egress"})
		}
	}
	tx.kept = append(tx.kept, keptTenant{t, tc})
	return nil
}

// planPlugins returns the plugins nc asks p to run: the running one where a
// plugin did not change (same settings, same config_file content, same file
// content, same redirect list), a new compilation where it did or is new.
func (tx *txn) planPlugins(ctx context.Context, t *tenant, p *port, nc config.Interface, sig config.Signatures) ([]*plugin, []Change, error) {
	next := make([]*plugin, len(nc.Plugins))
	var reloaded []string
	for i, pc := range nc.Plugins {
		spec := tx.d.prepareLoad(t, nc, pc)
		// The new signature policy: a plugin verified under another one is
		// verified again (all or nothing, like any change).
		spec.sig = sig
		var old *plugin
		if k, err := p.stage(spec.name); err == nil {
			old = p.plugins[k]
		}
		if old != nil && spec.err == nil && !stageChanged(old, pc, spec.hc) && reflect.DeepEqual(old.sig, sig) {
			next[i] = old
			continue
		}
		np, err := tx.d.compile(ctx, spec)
		if err != nil {
			return nil, nil, err
		}
		tx.fresh = append(tx.fresh, np)
		next[i] = np
		if old != nil {
			reloaded = append(reloaded, np.name)
		}
	}
	sameNames := len(next) == len(p.plugins)
	for i := 0; sameNames && i < len(next); i++ {
		sameNames = next[i].name == p.plugins[i].name
	}
	var changes []Change
	switch {
	case !sameNames:
		changes = append(changes, Change{Tenant: t.name, Interface: nc.Name, Action: "rebuild"})
	default:
		for _, name := range reloaded {
			changes = append(changes, Change{Tenant: t.name, Interface: nc.Name, Plugin: name, Action: "reload"})
		}
	}
	return next, changes, nil
}

// commit puts the prepared change in place: the tenants that lose an
// interface stop their workers, the outgoing interfaces close, the deferred
// ones open, every pipeline is reshaped in one step; then nothing can fail
// any more and the rest is bookkeeping. A failure before that point rolls
// everything back.
func (tx *txn) commit(ctx context.Context) error {
	var stopped []*tenant
	stop := func(t *tenant) {
		if slices.Contains(stopped, t) {
			return
		}
		stopped = append(stopped, t)
		for _, p := range t.ports {
			p.stopWorkers() // any of them may send to the interface that goes
		}
	}
	var outgoing []*port
	for _, t := range tx.removed {
		stop(t)
		outgoing = append(outgoing, t.ports...)
	}
	for _, r := range tx.restarts {
		stop(r.old)
		outgoing = append(outgoing, r.old.ports...)
	}
	for _, sw := range tx.swaps {
		stop(sw.p.t)
		outgoing = append(outgoing, sw.p)
	}
	var closed []*port
	for _, p := range outgoing {
		if p.iface != nil {
			p.closeIface()
			closed = append(closed, p)
		}
	}
	var opened []opening
	err := func() error {
		for _, o := range tx.deferred {
			if err := o.open(); err != nil {
				return err
			}
			opened = append(opened, o)
		}
		var rs []*host.Reshaping
		for _, sh := range tx.shapes {
			if sh.r != nil {
				rs = append(rs, sh.r)
			}
		}
		return host.CommitReshapes(ctx, rs...)
	}()
	if err != nil {
		return tx.rollback(ctx, err, stopped, closed, opened)
	}
	tx.finish(ctx, stopped)
	return nil
}

// rollback restores what commit changed before it failed with cause: the
// new interfaces close, the old ones reopen with their old settings, the
// stopped workers start again; then the change is aborted.
func (tx *txn) rollback(ctx context.Context, cause error, stopped []*tenant, closed []*port, opened []opening) error {
	d := tx.d
	for _, o := range opened {
		o.close()
	}
	for _, sw := range tx.swaps {
		sw.closeNew()
	}
	var errs []error
	for _, p := range closed {
		if err := p.open(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, t := range stopped {
		for _, p := range t.ports {
			if err := p.startWorkers(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	tx.abort(ctx)
	err := fmt.Errorf("config change rolled back, the old interfaces and pipelines were restored: %w", cause)
	if len(errs) > 0 {
		err = fmt.Errorf("config change rolled back after: %w; restoring the old interfaces failed: %w", cause, errors.Join(errs...))
		d.log.Error("config rollback incomplete", "err", errors.Join(errs...))
	}
	return err
}

// abort throws away what prepare built; what runs was never touched (or
// was restored by rollback).
func (tx *txn) abort(ctx context.Context) {
	d := tx.d
	for _, sh := range tx.shapes {
		if sh.r != nil {
			sh.r.Abort(ctx)
		}
	}
	for _, sw := range tx.swaps {
		sw.closeNew()
		for _, pl := range sw.pipes {
			pl.Close(ctx)
		}
	}
	for _, t := range tx.added {
		d.closeTenant(ctx, t)
	}
	for _, r := range tx.restarts {
		d.closeTenant(ctx, r.new)
	}
	for _, pl := range tx.fresh {
		pl.mod.Close(ctx)
	}
	for _, ref := range tx.socks {
		d.releaseSocket(ref)
	}
}

// finish completes a committed change: the old tenants close, the reopened
// interfaces take their new settings and worker slots, the plugin lists and
// configs are updated and the workers start. Nothing here can undo the
// change; what fails is logged.
func (tx *txn) finish(ctx context.Context, stopped []*tenant) {
	d := tx.d
	for _, t := range tx.removed {
		d.closeTenant(ctx, t)
	}
	for _, r := range tx.restarts {
		d.closeTenant(ctx, r.old)
	}
	for _, sw := range tx.swaps {
		p := sw.p
		n := sw.cfg.NumQueues()
		for _, w := range p.workers[min(n, len(p.workers)):] {
			p.retireSlot(ctx, w)
		}
		p.workers = p.workers[:min(n, len(p.workers))]
		for _, pipe := range sw.pipes {
			p.workers = append(p.workers, &worker{p: p, q: len(p.workers), pipe: pipe})
		}
		old := p.sock
		p.cfg, p.sock = sw.cfg, sw.sock
		p.install(sw.iface)
		d.releaseSocket(old)
	}
	for _, sh := range tx.shapes {
		if sh.r != nil {
			sh.p.finishReshape(ctx, sh.r, sh.next)
		}
		sh.p.cfg.Plugins = sh.nc.Plugins
	}
	for _, p := range tx.egress {
		for _, sh := range tx.shapes {
			if sh.p == p {
				p.cfg.Egress = sh.nc.Egress
			}
		}
		p.egress = nil
		if p.cfg.Egress != "" {
			p.egress = p.t.ports[p.t.cfg.Port(p.cfg.Egress)]
		}
	}
	for _, k := range tx.kept {
		k.t.cfg = k.tc
	}
	d.tenants = tx.next
	d.cfg = tx.cfg
	if d.watch != nil {
		d.watch.sync(d.watchList())
	}
	start := func(t *tenant, p *port, restart bool) {
		var err error
		if restart {
			err = p.restartWorkers()
		} else {
			err = p.startWorkers()
		}
		if err != nil {
			d.log.Error("start workers", "tenant", t.name, "interface", p.cfg.Name, "err", err)
		}
	}
	started := slices.Clone(tx.added)
	for _, r := range tx.restarts {
		started = append(started, r.new)
	}
	for _, t := range stopped {
		if slices.Contains(tx.next, t) {
			started = append(started, t)
		}
	}
	for _, t := range started {
		for _, p := range t.ports {
			start(t, p, false)
		}
	}
	for _, p := range tx.egress {
		if !slices.Contains(started, p.t) {
			start(p.t, p, true)
		}
	}
}

// needsRestart reports whether a tenant changed in a way that needs all of
// it rebuilt: its budgets (every instance is accounted to them) or its list
// of interfaces (port numbers are positions).
func needsRestart(a, b *config.Tenant) bool {
	if a.MaxMemoryPages != b.MaxMemoryPages || a.MaxInstances != b.MaxInstances || a.Fuel != b.Fuel || a.ColdFuel != b.ColdFuel || a.Stack != b.Stack || len(a.Interfaces) != len(b.Interfaces) {
		return true
	}
	for i := range a.Interfaces {
		if a.Interfaces[i].Name != b.Interfaces[i].Name {
			return true
		}
	}
	return false
}

// portChanged reports whether an interface changed in a way that needs a
// new memif interface: anything but its plugins and egress.
func portChanged(a, b config.Interface) bool {
	a.Plugins, b.Plugins = nil, nil
	a.Egress, b.Egress = "", ""
	return !reflect.DeepEqual(a, b)
}

// stageChanged reports whether plugin pc, with host settings hc, differs
// from the running pl: its settings, its host settings (config_file
// content, redirect list, tenant) or its file's content.
func stageChanged(pl *plugin, pc config.Plugin, hc host.PluginConfig) bool {
	old := pl.pcfg
	old.Logger, hc.Logger = nil, nil // a new logger each time, with the same keys
	return !reflect.DeepEqual(old, hc) || pluginChanged(pl, pc)
}
