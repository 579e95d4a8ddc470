package host

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// reshapeMu serialises commits, which lock several pipelines at once: two of
// them locking the same pipelines in different orders would deadlock.
var reshapeMu sync.Mutex

// A Reshaping is a prepared change of the list of plugins of one or more
// pipelines (typically the pipelines of an interface's workers, which all run
// the same plugins). PrepareReshape makes it; Commit (or CommitReshapes, for
// several at once) applies it between two bursts of every pipeline, or Abort
// drops it. A Reshaping is not safe for concurrent use.
type Reshaping struct {
	pipes   []*Pipeline
	mods    []*Module     // the new stages' modules, nil entries resolved
	from    []int         // the old stage each position continues, or -1
	olds    []*Module     // the stages' modules when prepared
	ins     [][]*Instance // [pipeline][position]: new instances, nil for kept stages
	dropped []PluginStats
	state   reshapeState
	reload  int // a position reloaded even if its module stays (Replace), or -1
}

type reshapeState uint8

const (
	reshapePrepared reshapeState = iota
	reshapeCommitted
	reshapeAborted
)

// PrepareReshape prepares the change of every pipeline's stages to mods. The
// pipelines must run the same modules in the same order. from[i] says where
// position i comes from:
//
//   - from[i] = j, with mods[i] nil or stage j's module: stage j is kept as it
//     is, with its instance, counters, fault and quarantine state and mapped
//     region;
//   - from[i] = j, with another module: stage j is reloaded: a new instance of mods[i] gets the old instance's state through
//     mw_state_save/mw_state_load (when both export them), and the stage keeps
//     its counters (Reloads counts one more) and loses its quarantine;
//   - from[i] = -1: a new stage of mods[i], with a fresh instance.
//
// Old stages no position continues are dropped. Each old stage may be
// continued once. Every new instance is created here, off the packet path,
// once per pipeline; on error none is left and the pipelines are untouched.
// May return ErrClosed, ErrBudget or the errors of Module.Instantiate.
func PrepareReshape(ctx context.Context, pipelines []*Pipeline, mods []*Module, from []int) (*Reshaping, error) {
	return prepareReshape(ctx, pipelines, mods, from, -1)
}

func prepareReshape(ctx context.Context, pipelines []*Pipeline, mods []*Module, from []int, reload int) (*Reshaping, error) {
	if len(mods) != len(from) {
		return nil, fmt.Errorf("host: reshape: %d modules but %d origins", len(mods), len(from))
	}
	r := &Reshaping{pipes: slices.Clone(pipelines), mods: slices.Clone(mods), from: slices.Clone(from), reload: reload}
	for k, p := range pipelines {
		old, err := p.modules()
		if err != nil {
			return nil, err
		}
		if k == 0 {
			r.olds = old
		} else if !slices.Equal(old, r.olds) {
			return nil, errors.New("host: reshape: the pipelines do not run the same plugins")
		}
	}
	seen := make([]bool, len(r.olds))
	for i, j := range r.from {
		switch {
		case j < -1 || j >= len(r.olds):
			return nil, fmt.Errorf("host: reshape: position %d: no stage %d in a pipeline of %d", i, j, len(r.olds))
		case j >= 0 && seen[j]:
			return nil, fmt.Errorf("host: reshape: stage %d is continued twice", j)
		case j >= 0:
			seen[j] = true
			if r.mods[i] == nil {
				r.mods[i] = r.olds[j]
			}
		case r.mods[i] == nil:
			return nil, fmt.Errorf("host: reshape: position %d: a new stage needs a module", i)
		}
	}
	for _, p := range pipelines {
		p.mu.Lock()
		_, err := p.reshapeTenant(r.mods)
		p.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	r.dropped = make([]PluginStats, len(r.olds))
	r.ins = make([][]*Instance, len(pipelines))
	for k := range pipelines {
		r.ins[k] = make([]*Instance, len(r.mods))
		for i, m := range r.mods {
			if r.keeps(i) {
				continue
			}
			in, err := m.Instantiate(ctx)
			if err != nil {
				r.Abort(ctx)
				return nil, err
			}
			r.ins[k][i] = in
		}
	}
	return r, nil
}

// keeps reports whether position i keeps its old stage as it is.
func (r *Reshaping) keeps(i int) bool {
	j := r.from[i]
	return j >= 0 && r.mods[i] == r.olds[j] && i != r.reload
}

// Commit applies the reshaping to every pipeline between two of its bursts,
// or to none: see CommitReshapes.
func (r *Reshaping) Commit(ctx context.Context) error { return CommitReshapes(ctx, r) }

// Abort closes the instances the reshaping prepared; the pipelines were never
// touched. It does nothing after Commit and is idempotent.
func (r *Reshaping) Abort(ctx context.Context) {
	if r.state != reshapePrepared {
		return
	}
	r.state = reshapeAborted
	for _, ins := range r.ins {
		for _, in := range ins {
			if in != nil {
				in.Close(ctx)
			}
		}
	}
	r.ins = nil
}

// Dropped returns, after a Commit, the final counters of the old stages that
// no position continued, indexed by their old position and summed over the
// pipelines (zero for the stages that continue; the gauges MemoryBytes and
// Quarantined are zero), so that a caller keeping totals can fold them in.
// The pipelines' Tenant has folded them in already.
func (r *Reshaping) Dropped() []PluginStats {
	if r.state != reshapeCommitted {
		return nil
	}
	return r.dropped
}

// CommitReshapes applies every reshaping to all of its pipelines, or changes
// nothing. It locks every pipeline at once (each worker pauses after its
// burst in flight), checks that none changed since its preparation, maps the
// attached buffer region into the new instances and hands over the state of
// every reloaded stage; only when all of that succeeded are the stages
// switched, then the locks released and the replaced instances closed. On
// error every reshaping is aborted. A pipeline may be in one of the
// reshapings only. May return ErrReshapeStale, ErrClosed or the error of a
// state hook.
func CommitReshapes(ctx context.Context, rs ...*Reshaping) error {
	abort := func(err error) error {
		for _, r := range rs {
			r.Abort(ctx)
		}
		return err
	}
	seen := map[*Pipeline]bool{}
	for _, r := range rs {
		if r.state != reshapePrepared {
			return abort(errors.New("host: reshape: already committed or aborted"))
		}
		for _, p := range r.pipes {
			if seen[p] {
				return abort(errors.New("host: reshape: a pipeline is in two reshapings"))
			}
			seen[p] = true
		}
	}
	reshapeMu.Lock()
	defer reshapeMu.Unlock()
	for _, r := range rs {
		for _, p := range r.pipes {
			p.mu.Lock()
		}
	}
	unlock := func() {
		for _, r := range rs {
			for _, p := range r.pipes {
				p.mu.Unlock()
			}
		}
	}
	if err := handOver(rs); err != nil {
		unlock()
		return abort(err)
	}
	var stale []*Instance
	for _, r := range rs {
		for k, p := range r.pipes {
			stale = r.switchLocked(p, r.ins[k], stale)
		}
		r.ins = nil
		r.state = reshapeCommitted
	}
	unlock()
	for _, in := range stale {
		in.Close(ctx)
	}
	return nil
}

// handOver checks every locked pipeline, maps the region into the new
// instances and moves the state of reloaded stages into them.
func handOver(rs []*Reshaping) error {
	for _, r := range rs {
		for k, p := range r.pipes {
			if p.closed {
				return fmt.Errorf("%w: %w", ErrReshapeStale, ErrClosed)
			}
			if len(p.stages) != len(r.olds) {
				return ErrReshapeStale
			}
			for j, s := range p.stages {
				if s.mod != r.olds[j] {
					return ErrReshapeStale
				}
			}
			target, err := p.reshapeTenant(r.mods)
			if err != nil {
				return err
			}
			mapped := !p.zc.on || p.tenant != nil || p.zc.tenant == target
			for i, in := range r.ins[k] {
				if in == nil {
					continue
				}
				if mapped {
					p.mapInto(in)
				}
				j := r.from[i]
				if j < 0 {
					continue
				}
				s := p.stages[j]
				if s.inst == nil || s.inst.stateSave == nil || in.stateLoad == nil {
					continue
				}
				state, err := s.inst.SaveState()
				if err == nil {
					err = in.LoadState(state)
				}
				if err != nil {
					return fmt.Errorf("host: reload plugin %q: state hand-over: %w", s.mod.name, err)
				}
			}
		}
	}
	return nil
}

// switchLocked installs the new stages in p (locked, checked by handOver)
// and appends the instances it replaced to stale.
func (r *Reshaping) switchLocked(p *Pipeline, ins []*Instance, stale []*Instance) []*Instance {
	target, _ := p.reshapeTenant(r.mods)
	stages := make([]*stage, len(r.mods))
	used := make([]bool, len(p.stages))
	for i, m := range r.mods {
		j := r.from[i]
		switch {
		case ins[i] == nil:
			stages[i] = p.stages[j]
		case j >= 0:
			s := p.stages[j]
			if s.inst != nil {
				stale = append(stale, s.inst)
			}
			s.mod, s.inst, s.fault = m, ins[i], nil
			s.unquarantine()
			s.stats.Reloads++
			stages[i] = s
		default:
			stages[i] = &stage{mod: m, inst: ins[i]}
		}
		if j >= 0 {
			used[j] = true
		}
	}
	for j, s := range p.stages {
		if used[j] {
			continue
		}
		if s.inst != nil {
			stale = append(stale, s.inst)
			s.inst = nil
		}
		final := s.stats
		final.MemoryBytes, final.Quarantined = 0, 0
		r.dropped[j].Add(&final)
		if p.tenant != nil {
			p.tenant.retire(&final)
		}
	}
	p.stages = stages
	if p.tenant == nil && target != nil {
		// An empty pipeline made without modules takes its first plugins'
		// tenant. A region attached meanwhile that is not the tenant's was
		// not mapped into them and is let go.
		if p.zc.on && p.zc.tenant != target {
			p.detachLocked()
		}
		p.tenant = target
		target.addPipeline(p)
	}
	return stale
}

// reshapeTenant returns the tenant p has once its stages are mods: its own,
// or for an empty pipeline without one, the modules'. Call with p.mu held.
func (p *Pipeline) reshapeTenant(mods []*Module) (*Tenant, error) {
	target := p.tenant
	if target == nil && len(p.stages) == 0 && len(mods) > 0 {
		target = mods[0].cfg.Tenant
	}
	for _, m := range mods {
		if m.cfg.Tenant != target {
			return nil, fmt.Errorf("host: plugin %q belongs to tenant %v, the pipeline to %v", m.name, m.cfg.Tenant, target)
		}
	}
	return target, nil
}

// modules lists the stages' modules in order.
func (p *Pipeline) modules() ([]*Module, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	ms := make([]*Module, len(p.stages))
	for i, s := range p.stages {
		ms[i] = s.mod
	}
	return ms, nil
}

// Reshape changes the pipeline's stages to mods between two bursts, keeping
// the stages that stay: PrepareReshape and Commit for one pipeline. It
// returns the final counters of the stages it dropped (see Dropped).
func (p *Pipeline) Reshape(ctx context.Context, mods []*Module, from []int) ([]PluginStats, error) {
	return ReshapeAll(ctx, []*Pipeline{p}, mods, from)
}

// Replace reloads plugin i with m between two bursts: the Reshape that
// continues every stage and gives stage i a new instance of m, with the old
// instance's state handed over through the state hooks. Unlike Reshape it
// reloads even when m is the module the stage runs, which is how an operator
// restarts a plugin and lifts its quarantine. On error the old version keeps
// running.
func (p *Pipeline) Replace(ctx context.Context, i int, m *Module) error {
	mods, err := p.modules()
	if err != nil {
		return err
	}
	if i < 0 || i >= len(mods) {
		return fmt.Errorf("host: no plugin %d in a pipeline of %d", i, len(mods))
	}
	from := make([]int, len(mods))
	for j := range from {
		from[j] = j
	}
	mods[i] = m
	r, err := prepareReshape(ctx, []*Pipeline{p}, mods, from, i)
	if err != nil {
		return err
	}
	return r.Commit(ctx)
}

// ReshapeAll changes the stages of every pipeline (one per worker, all
// running the same plugins) alike, all or nothing: it instantiates the new
// stages for every pipeline first, then switches them all at once (see
// CommitReshapes). It returns the final counters of the dropped stages summed
// over the pipelines (see Dropped).
func ReshapeAll(ctx context.Context, pipelines []*Pipeline, mods []*Module, from []int) ([]PluginStats, error) {
	r, err := PrepareReshape(ctx, pipelines, mods, from)
	if err != nil {
		return nil, err
	}
	if err := r.Commit(ctx); err != nil {
		return nil, err
	}
	return r.Dropped(), nil
}
