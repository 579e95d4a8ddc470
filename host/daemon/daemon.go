package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
	"github.com/memif-wasm/memif-wasm/host/daemon/source"
	"github.com/memif-wasm/memif-wasm/memif"
)

// Errors the daemon's methods may wrap.
var (
	// ErrNotFound: no tenant, interface or plugin by that name.
	ErrNotFound = errors.New("not found")
	// ErrExists: a plugin by that name is already in the pipeline.
	ErrExists = errors.New("already exists")
	// ErrClosed: the daemon was closed.
	ErrClosed = errors.New("daemon closed")
)

// Options are the daemon's settings that are not in the config file. The
// zero value is the default.
type Options struct {
	// Logger receives the daemon's events. nil: slog.Default().
	Logger *slog.Logger
	// ReconnectInterval is how often a slave interface retries its master.
	// 0: memif's default (2 s).
	ReconnectInterval time.Duration
	// Watch reloads plugins whose file changes (for plugins with watch on).
	Watch bool
	// Clock tells the time to the plugins' restart backoff and quarantine,
	// the log rate limits of memif sockets, the workers' bound on waiting
	// for room on a full tx ring (tx_retry_time) and the times the views
	// show (start, plugin loads, the last failed reload), so that tests can
	// move it by hand (memiftest.Clock). nil means the system clock.
	// Durations measured for metrics (compile time) use the system clock.
	Clock host.Clock
}

// Daemon runs tenants' interfaces and pipelines as a config describes.
type Daemon struct {
	log  *slog.Logger
	opts Options

	mu      sync.Mutex // control plane: config, tenants, sockets, reloads
	cfg     *config.Config
	engine  *host.Engine
	tenants []*tenant
	sockets map[string]*socketRef
	closed  bool
	started time.Time
	watch   *watcher

	faultsStop chan struct{}
	faultsDone chan struct{}

	// src fetches and verifies the modules of plugins with a source or a
	// signature policy; pollStop/pollDone stop the loop that watches tags.
	src      *source.Fetcher
	pollStop chan struct{}
	pollDone chan struct{}

	counters counters

	// views holds the operator views' own state (views.go).
	views struct {
		sync.Mutex
		runtimeBase *Runtime // subtracted by Runtime; nil: since the start
	}
}

// counters are control-plane counts, guarded by their own lock so a scrape
// never waits for a compilation.
type counters struct {
	mu           sync.Mutex
	loads        map[string]map[string]uint64 // tenant → result
	reloads      map[string]map[string]uint64
	compileCount uint64
	compileSum   float64
	compileHist  [len(CompileBuckets) + 1]uint64
	// Config changes (Apply, ReloadConfig) by result, and the last failure.
	configReloads   map[string]uint64
	lastReloadErr   string
	lastReloadErrAt time.Time
	// The last config change, whatever its result.
	lastReloadAt     time.Time
	lastReloadFailed bool
}

// CompileBuckets are the upper bounds (seconds) of the compile duration histogram.
var CompileBuckets = [...]float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

type socketRef struct {
	path string
	s    *memif.Socket
	refs int
}

// New validates cfg, compiles every plugin, instantiates every pipeline,
// opens every interface and starts one worker per queue (each waits for its
// interface's link). Nothing is
// left running when it fails, and the error names the tenant, interface,
// plugin or file at fault.
func New(ctx context.Context, cfg *config.Config, opts Options) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = host.SystemClock
	}
	d := &Daemon{
		log:     opts.Logger,
		opts:    opts,
		sockets: map[string]*socketRef{},
		started: opts.Clock.Now(),
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	d.counters.loads = map[string]map[string]uint64{}
	d.counters.reloads = map[string]map[string]uint64{}
	d.counters.configReloads = map[string]uint64{}
	src, err := newFetcher(cfg.Registry)
	if err != nil {
		return nil, err
	}
	d.src = src
	eng, err := host.NewEngine(ctx, &host.EngineConfig{
		CacheDir:       cfg.Engine.CacheDir,
		MaxMemoryPages: cfg.Engine.MaxMemoryPages,
		Logger:         d.log,
		Clock:          opts.Clock,
	})
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	d.engine = eng
	d.cfg = cfg
	// Held while building: a peer may connect at once, and the connect
	// callback fits the workers under d.mu.
	d.mu.Lock()
	var tenants []*tenant
	for i := range cfg.Tenants {
		t, err := d.buildTenant(ctx, cfg.Tenants[i])
		if err != nil {
			for _, t := range tenants {
				d.closeTenant(ctx, t)
			}
			d.closed = true
			d.mu.Unlock()
			eng.Close(ctx)
			return nil, err
		}
		tenants = append(tenants, t)
	}
	d.tenants = tenants
	d.mu.Unlock()
	if opts.Watch {
		w, err := newWatcher(d)
		if err != nil {
			d.Close()
			return nil, err
		}
		d.watch = w
		d.watch.sync(d.watchList())
	}
	d.faultsStop, d.faultsDone = make(chan struct{}), make(chan struct{})
	go d.watchFaults(d.faultsStop)
	d.pollStop, d.pollDone = make(chan struct{}), make(chan struct{})
	go d.pollSources(d.pollStop)
	return d, nil
}

// buildTenant compiles, instantiates, opens and starts one tenant. On error
// nothing of it stays open.
func (d *Daemon) buildTenant(ctx context.Context, tc config.Tenant) (*tenant, error) {
	t, err := d.prepareTenant(ctx, tc)
	if err != nil {
		return nil, err
	}
	for _, p := range t.ports {
		if err := d.openPort(p); err != nil {
			d.closeTenant(ctx, t)
			return nil, err
		}
	}
	for _, p := range t.ports {
		if err := p.startWorkers(); err != nil {
			d.closeTenant(ctx, t)
			return nil, err
		}
	}
	return t, nil
}

// prepareTenant compiles and instantiates one tenant: every port with its
// plugins and pipelines, no interface open and no worker running yet. On
// error nothing of it stays.
func (d *Daemon) prepareTenant(ctx context.Context, tc config.Tenant) (*tenant, error) {
	ht, err := host.NewTenant(hostTenantConfig(tc))
	if err != nil {
		return nil, err
	}
	t := &tenant{name: tc.Name, cfg: tc, host: ht}
	t.ports = make([]*port, len(tc.Interfaces))
	for i := range tc.Interfaces {
		t.ports[i] = &port{d: d, t: t, index: i, cfg: tc.Interfaces[i], retired: map[string]host.PluginStats{}}
	}
	fail := func(err error) (*tenant, error) {
		d.closeTenant(ctx, t)
		return nil, err
	}
	for _, p := range t.ports {
		for _, pc := range p.cfg.Plugins {
			pl, err := d.loadPlugin(ctx, t, p, pc)
			if err != nil {
				return fail(err)
			}
			p.plugins = append(p.plugins, pl)
		}
		pipes, err := p.newPipelines(ctx, modules(p.plugins), p.cfg.NumQueues())
		if err != nil {
			return fail(err)
		}
		for q, pipe := range pipes {
			p.workers = append(p.workers, &worker{p: p, q: q, pipe: pipe})
		}
		if p.cfg.Egress != "" {
			p.egress = t.ports[tc.Port(p.cfg.Egress)]
		}
	}
	return t, nil
}

// hostTenantConfig is the sandbox's view of tenant tc: its budgets, and its
// interfaces as ports 0, 1, ... in list order.
func hostTenantConfig(tc config.Tenant) host.TenantConfig {
	ports := make([]uint16, len(tc.Interfaces))
	for i := range ports {
		ports[i] = uint16(i)
	}
	return host.TenantConfig{
		Name:           tc.Name,
		Ports:          ports,
		MaxInstances:   tc.MaxInstances,
		MaxMemoryPages: tc.MaxMemoryPages,
		Fuel:           tc.Fuel,
		ColdFuel:       tc.ColdFuel,
		Stack:          tc.Stack,
	}
}

// openPort takes a reference on the port's socket and opens its interface.
// On error the caller closes the tenant, which releases the reference.
func (d *Daemon) openPort(p *port) error {
	if p.sock == nil {
		ref, err := d.socket(p.cfg.SocketPath(), p.cfg.SocketFile())
		if err != nil {
			return fmt.Errorf("tenant %q interface %q: %w", p.t.name, p.cfg.Name, err)
		}
		p.sock = ref
	}
	return p.open()
}

// closeTenant stops every worker of the tenant (each finishes its burst in
// flight), then closes the interfaces (DISCONNECT), pipelines and modules.
func (d *Daemon) closeTenant(ctx context.Context, t *tenant) error {
	for _, p := range t.ports {
		p.stopWorkers()
	}
	var errs []error
	for _, p := range t.ports {
		errs = append(errs, p.closeInterface(ctx))
		for _, pl := range p.plugins {
			if pl.mod != nil {
				errs = append(errs, pl.mod.Close(ctx))
			}
		}
		p.plugins = nil
	}
	return errors.Join(errs...)
}

// pluginConfig turns a plugin's config on interface ic into the host's,
// reading config_file.
func pluginConfig(t *tenant, ic config.Interface, pc config.Plugin) (host.PluginConfig, error) {
	hc := host.PluginConfig{
		MaxMemoryPages: pc.MemoryPages,
		WindowSize:     pc.WindowSize,
		MaxFrame:       pc.MaxFrame,
		Snaplen:        pc.Snaplen,
		MaxBurst:       pc.MaxBurst,
		FailOpen:       pc.FailPolicy == "open",
		Fuel:           pc.Fuel,
		ColdFuel:       pc.ColdFuel,
		Stack:          pc.Stack,
		Tenant:         t.host,
		TableScope:     ic.Name,
	}
	hc.Redirect = redirectPorts(t, ic)
	switch {
	case pc.ConfigFile != "":
		b, err := os.ReadFile(pc.ConfigFile)
		if err != nil {
			return hc, fmt.Errorf("config_file: %w", err)
		}
		hc.Config = b
	case pc.Config != "":
		hc.Config = []byte(pc.Config)
	}
	return hc, nil
}

// redirectPorts lists the port numbers interface ic may REDIRECT to.
func redirectPorts(t *tenant, ic config.Interface) []uint16 {
	var ports []uint16
	for _, r := range ic.Redirect {
		ports = append(ports, uint16(t.cfg.Port(r)))
	}
	return ports
}

// loadSpec is what compiling a plugin needs, captured under d.mu so that
// the compilation itself (seconds for a Go guest) can run without it and
// never holds up a scrape, an admin request or a connecting peer.
type loadSpec struct {
	tenant string
	label  string // module name: tenant/interface/plugin
	where  string // for errors
	name   string
	pc     config.Plugin
	sig    config.Signatures // the tenant's signature policy
	hc     host.PluginConfig
	err    error
}

// prepareLoad captures the settings of plugin pc on interface ic of t. Call
// with d.mu held.
func (d *Daemon) prepareLoad(t *tenant, ic config.Interface, pc config.Plugin) loadSpec {
	s := loadSpec{tenant: t.name, name: pc.PluginName(), pc: pc, sig: t.cfg.Signatures}
	s.where = fmt.Sprintf("tenant %q interface %q plugin %q", t.name, ic.Name, s.name)
	s.label = t.name + "/" + ic.Name + "/" + s.name
	s.hc, s.err = pluginConfig(t, ic, pc)
	// The guest's own lines carry the keys of every daemon line.
	s.hc.Logger = d.log.With("tenant", t.name, "interface", ic.Name, "plugin", s.name)
	return s
}

// compile reads, admits and compiles a prepared plugin, counting the
// result. It needs no lock.
func (d *Daemon) compile(ctx context.Context, s loadSpec) (*plugin, error) {
	if s.err != nil {
		d.countLoad(s.tenant, "io_error")
		return nil, fmt.Errorf("%s: %w", s.where, s.err)
	}
	wasm, fetched, err := d.readModule(ctx, s)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	mod, err := d.engine.Load(ctx, s.label, wasm, &s.hc)
	d.observeCompile(time.Since(start))
	if err != nil {
		var ae *host.AdmissionError
		if errors.As(err, &ae) {
			d.countLoad(s.tenant, ae.Code.String())
		} else {
			d.countLoad(s.tenant, "error")
		}
		return nil, fmt.Errorf("%s (%s): %w", s.where, cmp.Or(s.pc.File, fetched.Ref.Raw), err)
	}
	d.countLoad(s.tenant, "ok")
	return &plugin{cfg: s.pc, name: s.name, mod: mod, pcfg: s.hc, loadedAt: d.opts.Clock.Now(),
		sig: s.sig, digest: fetched.Digest, signedBy: fetched.SignedBy}, nil
}

// loadPlugin prepares and compiles one plugin in one go. Call with d.mu held.
func (d *Daemon) loadPlugin(ctx context.Context, t *tenant, p *port, pc config.Plugin) (*plugin, error) {
	return d.compile(ctx, d.prepareLoad(t, p.cfg, pc))
}

func (d *Daemon) countLoad(tenant, result string) { d.counters.add(d.counters.loads, tenant, result) }

func (d *Daemon) countReload(tenant, result string) {
	d.counters.add(d.counters.reloads, tenant, result)
}

func (c *counters) add(m map[string]map[string]uint64, tenant, result string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := m[tenant]
	if r == nil {
		r = map[string]uint64{}
		m[tenant] = r
	}
	r[result]++
}

func (d *Daemon) observeCompile(dt time.Duration) {
	c := &d.counters
	c.mu.Lock()
	c.compileCount++
	c.compileSum += dt.Seconds()
	c.compileHist[bucket(CompileBuckets[:], dt.Seconds())]++
	c.mu.Unlock()
}

// socket returns the shared memif socket for path, creating it.
// file is the socket file's settings (validation keeps the masters sharing a
// path in agreement).
func (d *Daemon) socket(path string, file memif.SocketFile) (*socketRef, error) {
	if r := d.sockets[path]; r != nil {
		r.refs++
		return r, nil
	}
	s, err := memif.NewSocket(memif.SocketConfig{
		Path:              path,
		ReconnectInterval: d.opts.ReconnectInterval,
		File:              file,
		Logger:            d.log, // memif names the socket in its own lines
		Clock:             d.opts.Clock,
	})
	if err != nil {
		return nil, fmt.Errorf("socket %s: %w", path, err)
	}
	r := &socketRef{path: path, s: s, refs: 1}
	d.sockets[path] = r
	return r, nil
}

func (d *Daemon) releaseSocket(r *socketRef) error {
	r.refs--
	if r.refs > 0 {
		return nil
	}
	delete(d.sockets, r.path)
	return r.s.Close()
}

// Close stops rx everywhere, lets every worker drain the bursts in flight,
// sends DISCONNECT on every interface, and frees everything. It is idempotent.
func (d *Daemon) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	w := d.watch
	d.watch = nil
	d.mu.Unlock()
	var errs []error
	if w != nil {
		// Outside d.mu: the watcher may be waiting for it to reload a file.
		errs = append(errs, w.close())
	}
	if d.faultsStop != nil {
		close(d.faultsStop) // the fault logger takes d.mu too
		<-d.faultsDone
	}
	if d.pollStop != nil {
		close(d.pollStop) // the tag poller reloads, which takes d.mu
		<-d.pollDone
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	ctx := context.Background()
	// Stop every worker of every tenant first: a worker finishing its burst
	// may still transmit to another interface of its tenant, which must
	// still be open.
	for _, t := range d.tenants {
		for _, p := range t.ports {
			p.stopWorkers()
		}
	}
	for _, t := range d.tenants {
		errs = append(errs, d.closeTenant(ctx, t))
	}
	d.tenants = nil
	for _, r := range d.sockets {
		errs = append(errs, r.s.Close())
	}
	errs = append(errs, d.engine.Close(ctx))
	return errors.Join(errs...)
}

// Config returns the running configuration. The caller must not modify it.
func (d *Daemon) Config() *config.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// find returns the running interface tenant/iface. Call with d.mu held.
func (d *Daemon) find(tenantName, ifaceName string) (*port, error) {
	if d.closed {
		return nil, ErrClosed
	}
	for _, t := range d.tenants {
		if t.name != tenantName {
			continue
		}
		for _, p := range t.ports {
			if p.cfg.Name == ifaceName {
				return p, nil
			}
		}
		return nil, fmt.Errorf("%w: no interface %q in tenant %q", ErrNotFound, ifaceName, tenantName)
	}
	return nil, fmt.Errorf("%w: no tenant %q", ErrNotFound, tenantName)
}

// Details returns memif details of one interface.
func (d *Daemon) Details(tenantName, ifaceName string) (memif.Details, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, err := d.find(tenantName, ifaceName)
	if err != nil {
		return memif.Details{}, err
	}
	if p.iface == nil {
		return memif.Details{}, ErrClosed
	}
	return p.iface.Details(), nil
}

// WaitConnected blocks until every interface is connected or ctx is done.
func (d *Daemon) WaitConnected(ctx context.Context) error {
	d.mu.Lock()
	var ifcs []*memif.Interface
	for _, t := range d.tenants {
		for _, p := range t.ports {
			if p.iface != nil {
				ifcs = append(ifcs, p.iface)
			}
		}
	}
	d.mu.Unlock()
	for _, ifc := range ifcs {
		if err := ifc.WaitConnected(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Snapshot copies every counter and state.
func (d *Daemon) Snapshot() *Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := &Snapshot{Started: d.started}
	var ps []host.PluginStats
	for _, t := range d.tenants {
		ts := TenantSnapshot{Name: t.name}
		hs := t.host.ReadStats()
		ts.Instances, ts.MemoryPages, ts.Refused = hs.Instances, hs.MemoryPages, hs.Refused
		for _, p := range t.ports {
			is := InterfaceSnapshot{
				Name:      p.cfg.Name,
				Port:      p.index,
				Socket:    p.cfg.SocketPath(),
				Role:      p.cfg.MemifRole().String(),
				ID:        p.cfg.ID,
				Placement: host.PlacementCopy.String(),
			}
			if p.egress != nil {
				is.Egress = p.egress.cfg.Name
			}
			if ifc := p.iface; ifc != nil {
				is.Connected = ifc.Connected()
				is.Memif = ifc.Stats()
				if err := ifc.LastError(); err != nil {
					is.LastError = err.Error()
				}
				for _, r := range ifc.Regions() {
					if !r.Rings && r.Size > 0 {
						is.Placement = host.ChoosePlacement(host.RegionFacts{Size: int(r.Size), Unsealed: !r.Sealed}).String()
						break
					}
				}
			}
			is.Plugins = make([]PluginSnapshot, len(p.plugins))
			for i, pl := range p.plugins {
				info := pl.mod.Info()
				is.Plugins[i] = PluginSnapshot{
					Name:       pl.name,
					File:       pl.cfg.File,
					Source:     pl.cfg.Source,
					Digest:     pl.digest,
					SignedBy:   pl.signedBy,
					SHA256:     info.SHA256,
					ABIVersion: info.ABIVersion,
					MemoryMax:  uint64(info.MemoryMax) << 16,
					FailOpen:   pl.pcfg.FailOpen,
					LoadedAt:   pl.loadedAt,
					Stats:      p.retired[pl.name],
				}
			}
			for _, w := range p.workers {
				is.Queues = append(is.Queues, newQueueStats(w.stats()))
				if w.pipe == nil {
					continue
				}
				ps = w.pipe.ReadStats(ps[:0])
				for i := range min(len(ps), len(is.Plugins)) {
					is.Plugins[i].Stats.Add(&ps[i])
					is.Plugins[i].Instances++
					if f := w.pipe.Fault(i); f != nil {
						is.Plugins[i].Fault = oneLine(f.Error())
					}
				}
			}
			ts.Interfaces = append(ts.Interfaces, is)
		}
		s.Tenants = append(s.Tenants, ts)
	}
	c := &d.counters
	c.mu.Lock()
	s.Loads = copyCounts(c.loads)
	s.Reloads = copyCounts(c.reloads)
	s.CompileCount = c.compileCount
	s.CompileSum = c.compileSum
	s.CompileHist = append([]uint64(nil), c.compileHist[:]...)
	s.ConfigReloads = maps.Clone(c.configReloads)
	s.Pulls = d.src.Counts()
	s.LastReloadError, s.LastReloadErrorAt = c.lastReloadErr, c.lastReloadErrAt
	s.LastReloadAt, s.LastReloadFailed = c.lastReloadAt, c.lastReloadFailed
	c.mu.Unlock()
	return s
}

func copyCounts(m map[string]map[string]uint64) map[string]map[string]uint64 {
	out := make(map[string]map[string]uint64, len(m))
	for k, v := range m {
		r := make(map[string]uint64, len(v))
		for k2, v2 := range v {
			r[k2] = v2
		}
		out[k] = r
	}
	return out
}

// bucket returns the index of the first bound v fits under; len(bounds) for +Inf.
func bucket(bounds []float64, v float64) int {
	for i, b := range bounds {
		if v <= b {
			return i
		}
	}
	return len(bounds)
}

// oneLine folds a multi-line message (a trap's wasm stack trace) into one
// line, frames separated by " | ", so that it stays one log line, one
// table cell and one JSON string a person can read.
func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(slices.DeleteFunc(lines, func(l string) bool { return l == "" }), " | ")
}
