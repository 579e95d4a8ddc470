package daemon

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/memif-wasm/memif-wasm/host/daemon/source"
)

// readModule returns the module of a prepared plugin: its file read as it
// is, or, for a plugin with a source, a pinned sha256 or a tenant
// signature policy, fetched and verified by the daemon's source.Fetcher.
// Failures are counted as loads by their result and name the plugin.
func (d *Daemon) readModule(ctx context.Context, s loadSpec) ([]byte, *source.Module, error) {
	none := &source.Module{}
	pol, err := source.ParseSignaturePolicy(s.sig.Policy)
	if err != nil {
		d.countLoad(s.tenant, "error")
		return nil, none, fmt.Errorf("%s: %w", s.where, err)
	}
	if s.pc.Source == "" && s.pc.SHA256 == "" && pol == source.SignaturesOff {
		wasm, err := os.ReadFile(s.pc.File)
		if err != nil {
			d.countLoad(s.tenant, "io_error")
			return nil, none, fmt.Errorf("%s: %w", s.where, err)
		}
		return wasm, none, nil
	}
	req := source.Request{Source: s.pc.Source, SHA256: s.pc.SHA256, Signatures: pol, Signature: s.pc.Signature}
	if req.Source == "" {
		req.Source = s.pc.File
	}
	req.Pull, _ = source.ParsePullPolicy(s.pc.PullPolicy) // validated with the config
	if pol != source.SignaturesOff {
		// Read at every load, so a rotated key takes effect with the next
		// reload; a missing key file fails the load rather than the policy.
		for _, k := range s.sig.Keys {
			pk, err := source.LoadPublicKey(k)
			if err != nil {
				d.countLoad(s.tenant, "io_error")
				return nil, none, fmt.Errorf("%s: tenant signatures: %w", s.where, err)
			}
			req.Keys = append(req.Keys, pk)
		}
	}
	m, err := d.src.Fetch(ctx, req)
	if err != nil {
		d.countLoad(s.tenant, source.Result(err))
		return nil, none, fmt.Errorf("%s: %w", s.where, err)
	}
	if m.Unverified != nil {
		d.log.Warn("plugin loaded without a verified signature (signature policy warn)", "plugin", s.label, "source", req.Source, "reason", m.Unverified)
	}
	return m.Wasm, m, nil
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
