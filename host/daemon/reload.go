package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"reflect"
	"slices"

	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
)

// Reload compiles the plugin's file again and swaps the new version in on
// every worker between two bursts, handing the old version's state over. A
// version that fails admission, init or the state hand-over on any worker
// leaves the old one running on every worker, and the error says why. The
// other plugins of the pipeline keep running as they are. The compilation
// runs without the daemon's lock.
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
	spec := d.prepareLoad(p.t, p.cfg, old.cfg)
	d.mu.Unlock()

	np, err := d.compile(ctx, spec)
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.swapIn(ctx, p, old, np, err)
}

// swapIn installs np (compiled from old's stage, or failed with loadErr) in
// place of old on every worker, if old is still running. Call with d.mu held.
func (d *Daemon) swapIn(ctx context.Context, p *port, old, np *plugin, loadErr error) error {
	if loadErr != nil {
		d.countReload(p.t.name, "load_failed")
		return fmt.Errorf("reload: %w (the old version keeps running)", loadErr)
	}
	i := slices.Index(p.plugins, old)
	if err := d.live(p); err != nil || i < 0 || !slices.Equal(np.pcfg.Redirect, redirectPorts(p.t, p.cfg)) {
		np.mod.Close(ctx)
		if err == nil {
			err = fmt.Errorf("reload %s/%s: %w: the plugin or its interface was changed or removed meanwhile", p.label(), old.name, ErrNotFound)
		}
		return err
	}
	next := slices.Clone(p.plugins)
	next[i] = np
	if err := p.reshape(ctx, next); err != nil {
		np.mod.Close(ctx)
		d.countReload(p.t.name, "init_failed")
		return fmt.Errorf("reload plugin %q: %w (the old version keeps running)", np.name, err)
	}
	d.countReload(p.t.name, "ok")
	d.log.Info("plugin reloaded", "tenant", p.t.name, "interface", p.cfg.Name, "plugin", np.name, "sha256", np.mod.Info().SHA256)
	return nil
}

// live returns nil if p is a running interface: its tenant was neither
// removed nor rebuilt since p was looked up. Call with d.mu held.
func (d *Daemon) live(p *port) error {
	if d.closed {
		return ErrClosed
	}
	if !slices.Contains(d.tenants, p.t) || p.iface == nil {
		return fmt.Errorf("%w: interface %s was removed or its tenant rebuilt meanwhile", ErrNotFound, p.label())
	}
	return nil
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
// (negative: last; past the end: refused, wrapping config.ErrInvalid), on every worker between two bursts. The
// other plugins keep running as they are (their instances and state stay).
// A plugin that fails admission or init changes nothing. The compilation
// runs without the daemon's lock.
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
	if err := indexIn(index, p); err != nil { // before seconds of compiling
		d.mu.Unlock()
		return err
	}
	spec := d.prepareLoad(p.t, p.cfg, pc)
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
	if err := d.live(p); err != nil {
		return fail(err)
	}
	if !slices.Equal(np.pcfg.Redirect, redirectPorts(p.t, p.cfg)) {
		return fail(fmt.Errorf("load plugin: %w: the redirect list of %s changed meanwhile", ErrNotFound, p.label()))
	}
	if _, err := p.stage(name); err == nil {
		return fail(fmt.Errorf("load plugin: %w: %q is already in the pipeline of %s", ErrExists, name, p.label()))
	}
	if len(p.plugins) >= config.MaxPluginsPerPipe {
		return fail(fmt.Errorf("load plugin: %s already has %d plugins", p.label(), len(p.plugins)))
	}
	if err := indexIn(index, p); err != nil { // the pipeline may have shrunk meanwhile
		return fail(err)
	}
	if index < 0 {
		index = len(p.plugins)
	}
	if err := p.reshape(ctx, slices.Insert(slices.Clone(p.plugins), index, np)); err != nil {
		return fail(fmt.Errorf("load plugin %q: %w", name, err))
	}
	d.syncConfig(p)
	return nil
}

// UnloadPlugin removes a plugin from an interface's pipeline, on every
// worker between two bursts; the other plugins keep running as they are.
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
	if err := p.reshape(ctx, slices.Delete(slices.Clone(p.plugins), i, i+1)); err != nil {
		return fmt.Errorf("unload plugin %q: %w", pluginName, err)
	}
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

// pluginChanged reports whether pc differs from what runs: its settings or
// its file's content.
func pluginChanged(pl *plugin, pc config.Plugin) bool {
	if !reflect.DeepEqual(pl.cfg, pc) {
		return true
	}
	if pc.Source != "" {
		// Pinned by its settings; a moved tag is the tag poller's to notice.
		return false
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

// indexIn checks a load position against p's pipeline: 0..len, or negative
// for last.
func indexIn(index int, p *port) error {
	if index > len(p.plugins) {
		return fmt.Errorf("load plugin: %w: index %d is past the end of %s's pipeline of %d plugin(s): want 0..%d, or none for last",
			config.ErrInvalid, index, p.label(), len(p.plugins), len(p.plugins))
	}
	return nil
}
