package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/config"
	"github.com/memif-wasm/memif-wasm/host"
)

// Reload compiles the plugin's file again and swaps the new version in on
// every worker between two bursts. A version that fails admission or init
// leaves the old one running on every worker, and the error says why. The
// compilation runs without the daemon's lock.
func (d *Daemon) Reload(ctx context.Context, tenantName, ifaceName, pluginName string) error {
	d.mu.Lock()
	p, err := d.find(tenantName, ifaceName)
	if err != nil {
		d.mu.Unlock()
		return err
	}
	i, err := p.stage(pluginName)
	if err != nil {
		d.mu.Unlock()
		return err
	}
	old := p.plugins[i]
	spec := d.prepareLoad(p.t, p, old.cfg)
	d.mu.Unlock()

	np, err := d.compile(ctx, spec)
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.swapIn(ctx, p, old, np, err)
}

// swapIn installs np (compiled from old's stage, or failed with loadErr) in
// place of old, if old is still running. Call with d.mu held.
func (d *Daemon) swapIn(ctx context.Context, p *port, old, np *plugin, loadErr error) error {
	if loadErr != nil {
		d.countReload(p.t.name, "load_failed")
		return fmt.Errorf("reload: %w (the old version keeps running)", loadErr)
	}
	i := slices.Index(p.plugins, old)
	if d.closed || i < 0 {
		np.mod.Close(ctx)
		if d.closed {
			return ErrClosed
		}
		return fmt.Errorf("reload %s/%s: %w: the plugin was replaced or removed meanwhile", p.label(), old.name, ErrNotFound)
	}
	if err := host.ReplaceAll(ctx, p.pipelines(), i, np.mod); err != nil {
		np.mod.Close(ctx)
		d.countReload(p.t.name, "init_failed")
		return fmt.Errorf("reload tenant %q interface %q plugin %q: %w (the old version keeps running)", p.t.name, p.cfg.Name, np.name, err)
	}
	p.plugins[i] = np
	old.mod.Close(ctx)
	d.countReload(p.t.name, "ok")
	d.log.Info("plugin reloaded", "tenant", p.t.name, "interface", p.cfg.Name, "plugin", np.name, "sha256", np.mod.Info().SHA256)
	return nil
}

// reloadStage replaces stage i of p with a fresh load of pc, compiling under
// the lock (Apply's path, which holds it throughout). Call with d.mu held.
func (d *Daemon) reloadStage(ctx context.Context, p *port, i int, pc config.Plugin) error {
	old := p.plugins[i]
	np, err := d.loadPlugin(ctx, p.t, p, pc)
	return d.swapIn(ctx, p, old, np, err)
}

// Control sends msg to the plugin's mw_control on every worker (each has its
// own instance, so a table update must reach all of them) and returns the
// first worker's reply.
func (d *Daemon) Control(ctx context.Context, tenantName, ifaceName, pluginName string, msg []byte) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, err := d.find(tenantName, ifaceName)
	if err != nil {
		return nil, err
	}
	i, err := p.stage(pluginName)
	if err != nil {
		return nil, err
	}
	size := p.plugins[i].pcfg.MsgBufSize
	if size == 0 {
		size = host.DefaultMsgBufSize
	}
	var first []byte
	for q, w := range p.workers {
		reply := make([]byte, size)
		n, err := w.pipe.Control(i, msg, reply)
		if err != nil {
			return nil, fmt.Errorf("control tenant %q interface %q plugin %q (worker %d): %w", p.t.name, p.cfg.Name, pluginName, q, err)
		}
		if q == 0 {
			first = reply[:n]
		}
	}
	return first, nil
}

// LoadPlugin adds a plugin to an interface's pipeline at position index
// (negative or past the end: last). The other plugins are instantiated
// afresh in the new pipelines, which replace the old ones between bursts.
func (d *Daemon) LoadPlugin(ctx context.Context, tenantName, ifaceName string, pc config.Plugin, index int) error {
	d.mu.Lock()
	p, err := d.find(tenantName, ifaceName)
	if err != nil {
		d.mu.Unlock()
		return err
	}
	name := pc.PluginName()
	if _, err := p.stage(name); err == nil {
		d.mu.Unlock()
		return fmt.Errorf("load plugin: %w: %q is already in the pipeline of %s", ErrExists, name, p.label())
	}
	probe := config.Config{Tenants: []config.Tenant{{Name: p.t.name, Interfaces: []config.Interface{{Name: p.cfg.Name, Plugins: []config.Plugin{pc}}}}}}
	if err := probe.Validate(); err != nil {
		d.mu.Unlock()
		return err
	}
	spec := d.prepareLoad(p.t, p, pc)
	d.mu.Unlock()

	np, err := d.compile(ctx, spec) // without the lock: seconds for a Go guest
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	fail := func(err error) error {
		np.mod.Close(ctx)
		return err
	}
	if d.closed {
		return fail(ErrClosed)
	}
	if p.iface == nil || !slices.Contains(p.t.ports, p) {
		return fail(fmt.Errorf("load plugin: %w: interface %s was reopened or removed meanwhile", ErrNotFound, p.label()))
	}
	if _, err := p.stage(name); err == nil {
		return fail(fmt.Errorf("load plugin: %w: %q is already in the pipeline of %s", ErrExists, name, p.label()))
	}
	if len(p.plugins) >= config.MaxPluginsPerPipe {
		return fail(fmt.Errorf("load plugin: %s already has %d plugins", p.label(), len(p.plugins)))
	}
	if index < 0 || index > len(p.plugins) {
		index = len(p.plugins)
	}
	plugins := slices.Insert(slices.Clone(p.plugins), index, np)
	if err := p.rebuild(ctx, plugins); err != nil {
		return fail(err)
	}
	d.syncConfig(p)
	return nil
}

// UnloadPlugin removes a plugin from an interface's pipeline.
func (d *Daemon) UnloadPlugin(ctx context.Context, tenantName, ifaceName, pluginName string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, err := d.find(tenantName, ifaceName)
	if err != nil {
		return err
	}
	i, err := p.stage(pluginName)
	if err != nil {
		return err
	}
	old := p.plugins[i]
	if err := p.rebuild(ctx, slices.Delete(slices.Clone(p.plugins), i, i+1)); err != nil {
		return err
	}
	old.mod.Close(ctx)
	d.syncConfig(p)
	return nil
}

// syncConfig writes p's plugin list back into the running config, so a
// later diff starts from what runs. Call with d.mu held.
func (d *Daemon) syncConfig(p *port) {
	c := *d.cfg
	c.Tenants = slices.Clone(c.Tenants)
	for ti := range c.Tenants {
		if c.Tenants[ti].Name != p.t.name {
			continue
		}
		ifs := slices.Clone(c.Tenants[ti].Interfaces)
		for ii := range ifs {
			if ifs[ii].Name == p.cfg.Name {
				ifs[ii].Plugins = make([]config.Plugin, len(p.plugins))
				for k, pl := range p.plugins {
					ifs[ii].Plugins[k] = pl.cfg
				}
				p.cfg.Plugins = ifs[ii].Plugins
			}
		}
		c.Tenants[ti].Interfaces = ifs
	}
	d.cfg = &c
	if d.watch != nil {
		d.watch.sync(d.watchList())
	}
}

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

// Apply moves the daemon to cfg by difference: tenants and interfaces that
// did not change keep running undisturbed; a changed plugin (config or file
// content) is reloaded in place; a changed egress restarts only the
// interface's workers; a changed interface (memif settings, redirect list)
// reopens only that interface, pausing the tenant's workers meanwhile; a
// changed interface list or tenant budget rebuilds the tenant. Settings
// outside tenants (log, metrics, admin, engine) take effect on restart only.
// It returns what it changed; on error the changes before it stay applied
// and the error names what failed.
func (d *Daemon) Apply(ctx context.Context, cfg *config.Config) ([]Change, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	var changes []Change
	var errs []error
	next := make([]*tenant, 0, len(cfg.Tenants))
	kept := map[*tenant]bool{}
	for _, tc := range cfg.Tenants {
		var cur *tenant
		for _, t := range d.tenants {
			if t.name == tc.Name {
				cur = t
			}
		}
		if cur == nil {
			t, err := d.buildTenant(ctx, tc)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			changes = append(changes, Change{Tenant: tc.Name, Action: "add"})
			next = append(next, t)
			continue
		}
		kept[cur] = true
		if needsRestart(&cur.cfg, &tc) {
			d.closeTenant(ctx, cur)
			t, err := d.buildTenant(ctx, tc)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			changes = append(changes, Change{Tenant: tc.Name, Action: "restart"})
			next = append(next, t)
			continue
		}
		ch, err := d.applyTenant(ctx, cur, tc)
		changes = append(changes, ch...)
		if err != nil {
			errs = append(errs, err)
		}
		next = append(next, cur)
	}
	for _, t := range d.tenants {
		if !kept[t] {
			errs = append(errs, d.closeTenant(ctx, t))
			changes = append(changes, Change{Tenant: t.name, Action: "remove"})
		}
	}
	d.tenants = next
	d.cfg = cfg
	if d.watch != nil {
		d.watch.sync(d.watchList())
	}
	for _, c := range changes {
		d.log.Info("config change applied", "change", c.String())
	}
	return changes, errors.Join(errs...)
}

// needsRestart reports whether a tenant changed in a way that needs all of
// it rebuilt: its budgets (every instance is accounted to them) or its list
// of interfaces (port numbers are positions).
func needsRestart(a, b *config.Tenant) bool {
	if a.MaxMemoryPages != b.MaxMemoryPages || a.MaxInstances != b.MaxInstances || a.Fuel != b.Fuel || a.Stack != b.Stack || len(a.Interfaces) != len(b.Interfaces) {
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

// replacePort closes port i of t and opens it again as nc. The tenant's
// other interfaces keep their connections; their workers pause while the
// port is swapped (every worker can send to every port), and packets wait
// in their rings meanwhile. On error the port stays closed (traffic to it
// is dropped and counted) and the error says why. Call with d.mu held.
func (d *Daemon) replacePort(ctx context.Context, t *tenant, i int, nc config.Interface) error {
	for _, p := range t.ports {
		p.stopWorkers()
	}
	defer func() {
		for _, p := range t.ports {
			if err := p.startWorkers(); err != nil {
				d.log.Error("restart workers", "tenant", t.name, "interface", p.cfg.Name, "err", err)
			}
		}
	}()
	old := t.ports[i]
	errClose := old.closeInterface(ctx)
	for _, pl := range old.plugins {
		pl.mod.Close(ctx)
	}
	np := &port{d: d, t: t, index: i, cfg: nc, retired: old.retired}
	t.ports[i] = np
	for _, p := range t.ports {
		if p.egress == old {
			p.egress = np
		}
		if nc.Egress != "" && p.cfg.Name == nc.Egress {
			np.egress = p
		}
	}
	for _, pc := range nc.Plugins {
		pl, err := d.loadPlugin(ctx, t, np, pc)
		if err != nil {
			return errors.Join(errClose, err)
		}
		np.plugins = append(np.plugins, pl)
	}
	pipes, err := np.newPipelines(ctx, modules(np.plugins))
	if err != nil {
		return errors.Join(errClose, err)
	}
	for q, pipe := range pipes {
		w := &worker{p: np, q: q, pipe: pipe}
		if q < len(old.workers) {
			w.base = old.workers[q].base // counters carry over
		}
		np.workers = append(np.workers, w)
	}
	ref, err := d.socket(nc.SocketPath())
	if err != nil {
		return errors.Join(errClose, fmt.Errorf("tenant %q interface %q: %w", t.name, nc.Name, err))
	}
	np.sock = ref
	return errors.Join(errClose, np.open())
}

// applyTenant applies plugin and egress changes to a running tenant. Call with d.mu held.
func (d *Daemon) applyTenant(ctx context.Context, t *tenant, tc config.Tenant) ([]Change, error) {
	var changes []Change
	var errs []error
	for i := range t.ports {
		nc := tc.Interfaces[i]
		if portChanged(t.ports[i].cfg, nc) {
			if err := d.replacePort(ctx, t, i, nc); err != nil {
				errs = append(errs, err)
			}
			changes = append(changes, Change{Tenant: t.name, Interface: nc.Name, Action: "restart"})
		}
		p := t.ports[i]
		if nc.Egress != p.cfg.Egress {
			p.egress = nil
			if nc.Egress != "" {
				p.egress = t.ports[tc.Port(nc.Egress)]
			}
			p.cfg.Egress = nc.Egress
			if err := p.restartWorkers(); err != nil {
				errs = append(errs, err)
			}
			changes = append(changes, Change{Tenant: t.name, Interface: p.cfg.Name, Action: "egress"})
		}
		ch, err := d.applyPlugins(ctx, p, nc.Plugins)
		changes = append(changes, ch...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	t.cfg = tc
	return changes, errors.Join(errs...)
}

// applyPlugins brings p's pipeline to want. Same names in the same order:
// each changed plugin is reloaded in place and the others keep running with
// their state. Otherwise the pipelines are rebuilt, reusing compiled modules
// of unchanged plugins.
func (d *Daemon) applyPlugins(ctx context.Context, p *port, want []config.Plugin) ([]Change, error) {
	sameShape := len(want) == len(p.plugins)
	for i := 0; sameShape && i < len(want); i++ {
		sameShape = want[i].PluginName() == p.plugins[i].name
	}
	var changes []Change
	if sameShape {
		var errs []error
		for i, pc := range want {
			if !pluginChanged(p.plugins[i], pc) {
				continue
			}
			if err := d.reloadStage(ctx, p, i, pc); err != nil {
				errs = append(errs, err)
				continue
			}
			changes = append(changes, Change{Tenant: p.t.name, Interface: p.cfg.Name, Plugin: pc.PluginName(), Action: "reload"})
		}
		p.cfg.Plugins = want
		return changes, errors.Join(errs...)
	}
	var fresh []*plugin
	plugins := make([]*plugin, len(want))
	for i, pc := range want {
		for _, pl := range p.plugins {
			if pl.name == pc.PluginName() && !pluginChanged(pl, pc) {
				plugins[i] = pl
			}
		}
		if plugins[i] != nil {
			continue
		}
		np, err := d.loadPlugin(ctx, p.t, p, pc)
		if err != nil {
			for _, f := range fresh {
				f.mod.Close(ctx)
			}
			return nil, err
		}
		fresh = append(fresh, np)
		plugins[i] = np
	}
	old := p.plugins
	if err := p.rebuild(ctx, plugins); err != nil {
		for _, f := range fresh {
			f.mod.Close(ctx)
		}
		return nil, err
	}
	for _, o := range old {
		if !slices.Contains(plugins, o) {
			o.mod.Close(ctx)
		}
	}
	p.cfg.Plugins = want
	return []Change{{Tenant: p.t.name, Interface: p.cfg.Name, Action: "rebuild"}}, nil
}

// pluginChanged reports whether pc differs from what runs: its settings or
// its file's content.
func pluginChanged(pl *plugin, pc config.Plugin) bool {
	if !reflect.DeepEqual(pl.cfg, pc) {
		return true
	}
	sum, err := fileSHA256(pc.File)
	return err != nil || sum != pl.mod.Info().SHA256
}

func fileSHA256(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), nil
}
