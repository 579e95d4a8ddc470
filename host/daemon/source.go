package daemon

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/memif-wasm/memif-wasm/host/daemon/config"
	"github.com/memif-wasm/memif-wasm/host/daemon/source"
)

// newFetcher is the plugin source fetcher the registry section describes.
func newFetcher(r config.Registry) (*source.Fetcher, error) {
	f, err := source.New(source.Options{
		CacheDir:     r.CacheDir,
		DockerConfig: r.DockerConfig,
		CAFile:       r.CAFile,
		Insecure:     r.Insecure,
		MaxSize:      r.MaxModuleSize,
		Attempts:     r.Attempts,
		Backoff:      r.Backoff,
	})
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	return f, nil
}

// request is the fetch that loads plugin pc under the signature settings
// sig; ok is false for a plain file read (no source, sha256 or policy).
func request(pc config.Plugin, sig config.Signatures) (req source.Request, ok bool, err error) {
	pol, err := source.ParseSignaturePolicy(sig.Policy)
	if err != nil || pc.Source == "" && pc.SHA256 == "" && pol == source.SignaturesOff {
		return req, false, err
	}
	req = source.Request{Source: cmp.Or(pc.Source, pc.File), SHA256: pc.SHA256, Signatures: pol, Signature: pc.Signature}
	req.Pull, _ = source.ParsePullPolicy(pc.PullPolicy) // validated with the config
	return req, true, nil
}

// loadKeys reads the tenant's public keys when its policy looks at
// signatures. They are read at every load, so a rotated key takes effect
// with the next reload; a missing key file fails the load.
func loadKeys(req *source.Request, sig config.Signatures) error {
	if req.Signatures == source.SignaturesOff {
		return nil
	}
	for _, k := range sig.Keys {
		pk, err := source.LoadPublicKey(k)
		if err != nil {
			return fmt.Errorf("tenant signatures: %w", err)
		}
		req.Keys = append(req.Keys, pk)
	}
	return nil
}

// readModule returns the module of a prepared plugin: its file read as it
// is, or, for a plugin with a source, a pinned sha256 or a tenant
// signature policy, fetched and verified by the daemon's source.Fetcher
// (or taken from what Apply prefetched). Failures are counted as loads by
// their result and name the plugin.
func (d *Daemon) readModule(ctx context.Context, s loadSpec) ([]byte, *source.Module, error) {
	none := &source.Module{}
	req, fetch, err := request(s.pc, s.sig)
	if err != nil {
		d.countLoad(s.tenant, "error")
		return nil, none, fmt.Errorf("%s: %w", s.where, err)
	}
	if !fetch {
		wasm, err := os.ReadFile(s.pc.File)
		if err != nil {
			d.countLoad(s.tenant, "io_error")
			return nil, none, fmt.Errorf("%s: %w", s.where, err)
		}
		return wasm, none, nil
	}
	if err := loadKeys(&req, s.sig); err != nil {
		d.countLoad(s.tenant, "io_error")
		return nil, none, fmt.Errorf("%s: %w", s.where, err)
	}
	m, ok := prefetched(ctx, fetchKey(req, s.sig))
	if !ok {
		m, err = d.src.Fetch(ctx, req)
	}
	if err != nil {
		d.countLoad(s.tenant, source.Result(err))
		return nil, none, fmt.Errorf("%s: %w", s.where, err)
	}
	if m.Unverified != nil {
		d.log.Warn("plugin loaded without a verified signature (signature policy warn)", "plugin", s.label, "source", req.Source, "reason", m.Unverified)
	}
	return m.Wasm, m, nil
}

// prefetchKey carries, in a context, the modules a config change fetched
// before it took the daemon's lock.
type prefetchKey struct{}

// fetchKey names a fetch by everything that decides its outcome.
func fetchKey(r source.Request, sig config.Signatures) string {
	return fmt.Sprintf("%q %q %v %q %q %q", r.Source, r.SHA256, r.Pull, r.Signature, sig.Policy, sig.Keys)
}

func prefetched(ctx context.Context, key string) (*source.Module, bool) {
	mods, _ := ctx.Value(prefetchKey{}).(map[string]*source.Module)
	m, ok := mods[key]
	return m, ok
}

// prefetch fetches and verifies, without the daemon's lock, the modules of
// cfg's source plugins that the change will load (those that differ from
// the running plugin of the same name, or whose tenant's signature policy
// changed), so that a slow or unreachable registry does not hold the lock.
// A failure, counted as a load by its result, fails the change before
// anything was touched. The modules ride in the returned context to
// readModule.
func (d *Daemon) prefetch(ctx context.Context, cfg *config.Config) (context.Context, error) {
	type job struct {
		key, where string
		tc         *config.Tenant
		req        source.Request
	}
	var jobs []job
	d.mu.Lock()
	running := map[string]*plugin{}
	for _, t := range d.tenants {
		for _, p := range t.ports {
			for _, pl := range p.plugins {
				running[t.name+"/"+p.cfg.Name+"/"+pl.name] = pl
			}
		}
	}
	d.mu.Unlock()
	for ti := range cfg.Tenants {
		tc := &cfg.Tenants[ti]
		for _, ic := range tc.Interfaces {
			for _, pc := range ic.Plugins {
				req, fetch, err := request(pc, tc.Signatures)
				if err != nil {
					return ctx, err
				}
				// What needs the network: a source, or a signature at an
				// https URL. A file is read where it is compiled.
				if !fetch || pc.Source == "" && !strings.HasPrefix(pc.Signature, "https://") {
					continue
				}
				label := tc.Name + "/" + ic.Name + "/" + pc.PluginName()
				if pl := running[label]; pl != nil && reflect.DeepEqual(pl.cfg, pc) && reflect.DeepEqual(pl.sig, tc.Signatures) {
					continue // stays as it runs
				}
				jobs = append(jobs, job{key: fetchKey(req, tc.Signatures), where: label, tc: tc, req: req})
			}
		}
	}
	if len(jobs) == 0 {
		return ctx, nil
	}
	mods := map[string]*source.Module{}
	for _, j := range jobs {
		if _, done := mods[j.key]; done {
			continue
		}
		if err := loadKeys(&j.req, j.tc.Signatures); err != nil {
			return ctx, fmt.Errorf("plugin %s: %w", j.where, err)
		}
		m, err := d.src.Fetch(ctx, j.req)
		if err != nil {
			d.countLoad(j.tc.Name, source.Result(err))
			return ctx, fmt.Errorf("plugin %s: %w", j.where, err)
		}
		mods[j.key] = m // readModule logs a warn-policy module when it takes it
	}
	return context.WithValue(ctx, prefetchKey{}, mods), nil
}

// pollTick is how often the tag poller looks for plugins whose pull
// interval is due; the intervals themselves are at least a second.
const pollTick = 200 * time.Millisecond

// pollJob is one running plugin whose tag is watched.
type pollJob struct {
	key                   string // tenant/interface/plugin source
	tenant, iface, plugin string
	source, digest        string
	interval              time.Duration
}

// pollState is what the poller remembers of a job between ticks.
type pollState struct {
	next   time.Time
	failed string // a digest whose reload failed: not tried again until the tag moves on
}

// pollSources resolves the tags of plugins with pull policy Always and a
// pull interval, and reloads a plugin whose tag moved (Reload: all or
// nothing, the old version keeps running if the new one is refused). A
// registry that cannot be reached leaves the running version running; the
// fetcher retried with backoff and counted the failure.
func (d *Daemon) pollSources(stop chan struct{}) {
	defer close(d.pollDone)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-stop
		cancel()
	}()
	state := map[string]*pollState{}
	tick := time.NewTicker(pollTick)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		d.pollOnce(ctx, state, time.Now())
	}
}

func (d *Daemon) pollOnce(ctx context.Context, state map[string]*pollState, now time.Time) {
	jobs := d.pollJobs()
	seen := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		seen[j.key] = true
		st := state[j.key]
		if st == nil {
			// Just loaded: the load resolved the tag.
			state[j.key] = &pollState{next: now.Add(j.interval)}
			continue
		}
		if now.Before(st.next) {
			continue
		}
		st.next = now.Add(j.interval)
		dg, err := d.src.Resolve(ctx, j.source)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			d.log.Warn("plugin source not reachable; the running version keeps running", "plugin", j.tenant+"/"+j.iface+"/"+j.plugin, "err", err)
			continue
		}
		if dg == j.digest || dg == st.failed {
			continue
		}
		if err := d.Reload(ctx, j.tenant, j.iface, j.plugin); err != nil {
			st.failed = dg
			d.log.Error("plugin tag moved but the new version was refused; the running version keeps running", "plugin", j.tenant+"/"+j.iface+"/"+j.plugin, "digest", dg, "err", err)
			continue
		}
		st.failed = ""
		d.log.Info("plugin tag moved; reloaded", "plugin", j.tenant+"/"+j.iface+"/"+j.plugin, "digest", dg)
	}
	for k := range state {
		if !seen[k] {
			delete(state, k)
		}
	}
}

// pollJobs lists the running plugins whose tag is watched.
func (d *Daemon) pollJobs() []pollJob {
	d.mu.Lock()
	defer d.mu.Unlock()
	var jobs []pollJob
	for _, t := range d.tenants {
		for _, p := range t.ports {
			for _, pl := range p.plugins {
				c := pl.cfg
				if c.Source == "" || c.PullInterval <= 0 || c.PullPolicy != "Always" {
					continue
				}
				jobs = append(jobs, pollJob{
					key:    t.name + "/" + p.cfg.Name + "/" + pl.name + " " + c.Source,
					tenant: t.name, iface: p.cfg.Name, plugin: pl.name,
					source: c.Source, digest: pl.digest, interval: c.PullInterval,
				})
			}
		}
	}
	return jobs
}
