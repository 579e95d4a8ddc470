package host

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
	"github.com/memif-wasm/memif-wasm/host/internal/mmap"
)

// passBurst processes n packets that script.wat passes on (each stage counts them).
func passBurst(t *testing.T, p *Pipeline, n int) {
	t.Helper()
	pkts := make([]Packet, n)
	for i := range pkts {
		pkts[i] = packet(byte(abi.Pass), hosttest.ActNone)
	}
	p.Process(&Burst{Packets: pkts})
}

// TestReshapeKeepsStages: stages that stay in a reshaped pipeline keep their
// instance (the guest's packet counter goes on) and counters; new stages
// start afresh; dropped stages' final counters are returned and stay in the
// tenant's totals.
func TestReshapeKeepsStages(t *testing.T) {
	e, _ := newEngine(t)
	ten, err := NewTenant(TenantConfig{Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	wasm := hosttest.Script(t, hosttest.ScriptOpts{})
	a, b, c := load(t, e, wasm, &PluginConfig{Tenant: ten}), load(t, e, wasm, &PluginConfig{Tenant: ten}), load(t, e, wasm, &PluginConfig{Tenant: ten})
	p := pipeline(t, a, b)
	passBurst(t, p, 5)
	ctx := context.Background()

	// Insert c in front: a and b go on.
	dropped, err := p.Reshape(ctx, []*Module{c, nil, b}, []int{-1, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(dropped) != 2 || dropped[0].Packets != 0 || dropped[1].Packets != 0 {
		t.Fatalf("dropped = %+v, want nothing dropped", dropped)
	}
	for i, want := range []uint64{0, 5, 5} {
		if _, n := control(t, p, i); n != want {
			t.Fatalf("after insert: stage %d counted %d packets, want %d", i, n, want)
		}
	}
	passBurst(t, p, 3)
	st := p.ReadStats(nil)
	if st[0].Packets != 3 || st[1].Packets != 8 || st[2].Packets != 8 || st[1].Reloads != 0 || st[2].Reloads != 0 {
		t.Fatalf("stats after insert: %+v", st)
	}

	// Drop a (stage 1): its final counters come back, and the tenant keeps them.
	dropped, err = p.Reshape(ctx, []*Module{c, b}, []int{0, 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(dropped) != 3 || dropped[1].Packets != 8 || dropped[0].Packets != 0 || dropped[2].Packets != 0 {
		t.Fatalf("dropped = %+v, want stage 1's 8 packets", dropped)
	}
	if _, n := control(t, p, 1); n != 8 {
		t.Fatalf("b counted %d packets after a was dropped, want 8", n)
	}
	if got := ten.ReadStats().Plugins.Packets; got != 3+8+8 {
		t.Fatalf("tenant packets %d after the drop, want 19", got)
	}
	if st := ten.ReadStats(); st.Instances != 2 {
		t.Fatalf("tenant instances %d, want 2 (the dropped one closed)", st.Instances)
	}
}

// TestReshapeReloadsChangedModule: a position that continues a stage with
// another module reloads it: state handed over, counters
// carried, one reload counted.
func TestReshapeReloadsChangedModule(t *testing.T) {
	e, _ := newEngine(t)
	wasm := hosttest.Script(t, hosttest.ScriptOpts{})
	a, b := load(t, e, wasm, nil), load(t, e, wasm, nil)
	p := pipeline(t, a, b)
	passBurst(t, p, 4)
	a2 := load(t, e, wasm, nil)
	if _, err := p.Reshape(context.Background(), []*Module{b, a2}, []int{1, 0}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []uint64{4, 4} {
		if _, n := control(t, p, i); n != want {
			t.Fatalf("stage %d counted %d packets, want %d", i, n, want)
		}
	}
	st := p.ReadStats(nil)
	if st[0].Reloads != 0 || st[1].Reloads != 1 || st[1].Packets != 4 {
		t.Fatalf("stats %+v: want b kept, a reloaded with its counters", st)
	}
}

// refusingWAT is script.wat whose mw_state_load refuses a state with a
// count above 2.
func refusingWAT(t *testing.T) []byte {
	t.Helper()
	src := hosttest.ScriptSource(hosttest.ScriptOpts{})
	const check = `(if (i32.ne (local.get 1) (i32.const 8)) (then (return (i32.const -1))))`
	if !strings.Contains(src, check) {
		t.Fatal("script.wat changed: no state length check to extend")
	}
	src = strings.Replace(src, check, check+`
    (if (i64.gt_u (i64.load (local.get 0)) (i64.const 2)) (then (return (i32.const -5))))`, 1)
	return hosttest.WAT(t, src)
}

// TestReshapeAllOrNothing: a reshape of several pipelines that fails on one
// of them (a module that cannot start, a state the new version refuses)
// changes none of them.
func TestReshapeAllOrNothing(t *testing.T) {
	e, _ := newEngine(t)
	wasm := hosttest.Script(t, hosttest.ScriptOpts{})
	a, b := load(t, e, wasm, nil), load(t, e, wasm, nil)
	ps := []*Pipeline{pipeline(t, a, b), pipeline(t, a, b), pipeline(t, a, b)}
	for k, p := range ps {
		passBurst(t, p, k+1) // counts 1, 2, 3: the third refuses below
	}
	ctx := context.Background()
	unchanged := func(what string) {
		t.Helper()
		for k, p := range ps {
			st := p.ReadStats(nil)
			if len(st) != 2 || st[0].Reloads != 0 || st[1].Reloads != 0 {
				t.Fatalf("%s: pipeline %d changed: %+v", what, k, st)
			}
			for i := range 2 {
				if _, n := control(t, p, i); n != uint64(k+1) {
					t.Fatalf("%s: pipeline %d stage %d counted %d, want %d", what, k, i, n, k+1)
				}
			}
		}
	}

	bad := load(t, e, wasm, nil)
	bad.cfg.Config = []byte{0xff} // mw_init refuses
	if _, err := ReshapeAll(ctx, ps, []*Module{nil, nil, bad}, []int{0, 1, -1}); err == nil {
		t.Fatal("a reshape with a module that cannot start succeeded")
	}
	unchanged("after a module that cannot start")

	refusing := load(t, e, refusingWAT(t), nil)
	_, err := ReshapeAll(ctx, ps, []*Module{refusing, nil}, []int{0, 1})
	var ge *GuestError
	if !errors.As(err, &ge) || ge.Op != abi.ExportStateLoad {
		t.Fatalf("reshape with a refused state: %v, want a *GuestError from %s", err, abi.ExportStateLoad)
	}
	unchanged("after a refused state")

	if _, err := ReshapeAll(ctx, ps[:2], []*Module{refusing, nil}, []int{0, 1}); err != nil {
		t.Fatalf("reshape of the pipelines whose state the new version takes: %v", err)
	}
	for k, p := range ps[:2] {
		if st := p.ReadStats(nil); st[0].Reloads != 1 {
			t.Fatalf("pipeline %d: reloads %d, want 1", k, st[0].Reloads)
		}
	}
}

// TestReshapeUnderTraffic: bursts keep flowing while a stage in front is
// inserted, reloaded and dropped: every packet passes both stages, none is
// lost, and the stage that stays counts them all.
func TestReshapeUnderTraffic(t *testing.T) {
	e, _ := newEngine(t)
	wasm := hosttest.Script(t, hosttest.ScriptOpts{})
	keep := load(t, e, wasm, nil)
	p := pipeline(t, keep)
	stop := burstsInBackground(p, abi.Pass)
	ctx := context.Background()
	for range 20 {
		// A new pass-through stage in front, reloaded once, then dropped.
		if _, err := p.Reshape(ctx, []*Module{load(t, e, hosttest.Script(t, hosttest.ScriptOpts{}), nil), nil}, []int{-1, 0}); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Reshape(ctx, []*Module{load(t, e, wasm, nil), nil}, []int{0, 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Reshape(ctx, []*Module{nil}, []int{1}); err != nil {
			t.Fatal(err)
		}
	}
	bursts, lost := stop()
	sent := 4 * bursts
	if lost != 0 {
		t.Fatalf("%d of %d packets lost across reshapes", lost, sent)
	}
	if _, n := control(t, p, 0); n != sent {
		t.Fatalf("the kept stage counted %d packets, want %d", n, sent)
	}
	if st := p.ReadStats(nil)[0]; st.Reloads != 0 || st.Packets != sent {
		t.Fatalf("kept stage stats %+v", st)
	}
}

// TestReshapeErrors: malformed reshapes and stale preparations are refused
// and change nothing.
func TestReshapeErrors(t *testing.T) {
	e, _ := newEngine(t)
	wasm := hosttest.Script(t, hosttest.ScriptOpts{})
	a, b := load(t, e, wasm, nil), load(t, e, wasm, nil)
	p := pipeline(t, a, b)
	other := pipeline(t, a)
	blue, _ := NewTenant(TenantConfig{Name: "blue"})
	foreign := load(t, e, wasm, &PluginConfig{Tenant: blue})
	ctx := context.Background()
	tests := []struct {
		name  string
		pipes []*Pipeline
		mods  []*Module
		from  []int
		want  string
	}{
		{"lengths differ", []*Pipeline{p}, []*Module{a}, []int{0, 1}, "origins"},
		{"no such stage", []*Pipeline{p}, []*Module{nil}, []int{2}, "no stage 2"},
		{"stage continued twice", []*Pipeline{p}, []*Module{nil, nil}, []int{0, 0}, "twice"},
		{"new stage without module", []*Pipeline{p}, []*Module{nil}, []int{-1}, "needs a module"},
		{"pipelines differ", []*Pipeline{p, other}, []*Module{nil}, []int{0}, "same plugins"},
		{"foreign tenant", []*Pipeline{p}, []*Module{nil, foreign}, []int{0, -1}, "belongs to tenant blue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ReshapeAll(ctx, tt.pipes, tt.mods, tt.from); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if st := p.ReadStats(nil); len(st) != 2 {
				t.Fatalf("pipeline changed: %d stages", len(st))
			}
		})
	}

	// A Replace between preparation and commit makes the preparation stale.
	r, err := PrepareReshape(ctx, []*Pipeline{p}, []*Module{nil}, []int{0})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Replace(ctx, 1, load(t, e, wasm, nil)); err != nil {
		t.Fatal(err)
	}
	if err := r.Commit(ctx); !errors.Is(err, ErrReshapeStale) {
		t.Fatalf("commit after a Replace: %v, want ErrReshapeStale", err)
	}
	if err := r.Commit(ctx); err == nil {
		t.Fatal("a second commit succeeded")
	}
	if st := p.ReadStats(nil); len(st) != 2 {
		t.Fatalf("a stale commit changed the pipeline: %d stages", len(st))
	}
	// So does closing the pipeline; Abort after a commit does nothing.
	closed := pipeline(t, a)
	r, err = PrepareReshape(ctx, []*Pipeline{closed}, []*Module{}, []int{})
	if err != nil {
		t.Fatal(err)
	}
	closed.Close(ctx)
	if err := r.Commit(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("commit on a closed pipeline: %v, want ErrClosed", err)
	}
	r.Abort(ctx)
	if _, err := closed.Reshape(ctx, nil, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("reshape of a closed pipeline: %v, want ErrClosed", err)
	}
}

// TestReshapeEmptyPipeline: an empty pipeline made without modules takes
// its first plugins' tenant, and the tenant counts it.
func TestReshapeEmptyPipeline(t *testing.T) {
	e, _ := newEngine(t)
	ten, _ := NewTenant(TenantConfig{Name: "t"})
	m := load(t, e, hosttest.Script(t, hosttest.ScriptOpts{}), &PluginConfig{Tenant: ten})
	p := pipeline(t)
	if _, err := p.Reshape(context.Background(), []*Module{m}, []int{-1}); err != nil {
		t.Fatal(err)
	}
	if p.Tenant() != ten {
		t.Fatalf("tenant %v, want t", p.Tenant())
	}
	passBurst(t, p, 2)
	if got := ten.ReadStats().Plugins.Packets; got != 2 {
		t.Fatalf("tenant packets %d, want 2", got)
	}
}

// TestReshapeMapsRegion: a stage added to a pipeline with a zero-copy
// region attached gets the region mapped too.
func TestReshapeMapsRegion(t *testing.T) {
	e, _ := newEngine(t)
	wasm := hosttest.Script(t, hosttest.ScriptOpts{})
	p := pipeline(t, load(t, e, wasm, nil))
	const region = 1 << 20
	fd, err := mmap.Memfd("buffers", region)
	if err != nil {
		t.Skipf("no memfd: %v", err)
	}
	defer mmap.Close(fd)
	if pl, err := p.AttachRegion(1, fd, RegionFacts{Size: region}); err != nil || pl != PlacementZeroCopy {
		t.Fatalf("AttachRegion = %v, %v", pl, err)
	}
	if _, err := p.Reshape(context.Background(), []*Module{nil, load(t, e, wasm, nil)}, []int{0, -1}); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, s := range p.stages {
		if !s.inst.mapped {
			t.Errorf("stage %d: region not mapped", i)
		}
	}
}
