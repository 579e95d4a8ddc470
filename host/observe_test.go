package host

import (
	"slices"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
)

type stageEvent struct {
	stage    int
	plugin   string
	packets  []int // indices into the whole burst
	verdicts []abi.Verdict
	lens     []uint32
	took     time.Duration
	faulted  bool
}

type recorder struct{ events []stageEvent }

func (r *recorder) ObserveStage(stage int, plugin string, b *Burst, first int, idx []uint16, took time.Duration, faulted bool) {
	ev := stageEvent{stage: stage, plugin: plugin, took: took, faulted: faulted}
	for _, i := range idx {
		p := &b.Packets[first+int(i)]
		ev.packets = append(ev.packets, first+int(i))
		ev.verdicts = append(ev.verdicts, p.Verdict)
		ev.lens = append(ev.lens, p.Len)
	}
	r.events = append(r.events, ev)
}

// TestStageObserver: the observer sees every plugin call with the packets it
// was given, their verdicts and lengths as that plugin left them, the
// call's time, and whether a fail policy decided instead of the plugin.
func TestStageObserver(t *testing.T) {
	e, _ := newEngine(t)
	script := hosttest.Script(t, hosttest.ScriptOpts{})
	a, err := e.Load(t.Context(), "first", script, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Load(t.Context(), "second", script, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := pipeline(t, a, b)
	pkts := []Packet{
		packet(byte(abi.Pass), hosttest.ActShrink, 1, 2, 3), // len 5, then 4 and 3
		packet(byte(abi.Drop), hosttest.ActNone),
		packet(byte(abi.TX), hosttest.ActPush4, 9), // len 3 + 4
	}
	var rec recorder
	p.ProcessBurst(&Burst{Packets: pkts, Observer: &rec})
	if len(rec.events) != 2 {
		t.Fatalf("%d events, want one per plugin: %+v", len(rec.events), rec.events)
	}
	e0, e1 := rec.events[0], rec.events[1]
	if e0.stage != 0 || e0.plugin != "first" || e0.faulted || !slices.Equal(e0.packets, []int{0, 1, 2}) ||
		!slices.Equal(e0.verdicts, []abi.Verdict{abi.Pass, abi.Drop, abi.TX}) || !slices.Equal(e0.lens, []uint32{4, 2, 7}) || e0.took <= 0 {
		t.Errorf("first plugin's event %+v", e0)
	}
	if e1.stage != 1 || e1.plugin != "second" || !slices.Equal(e1.packets, []int{0}) || !slices.Equal(e1.verdicts, []abi.Verdict{abi.Pass}) || !slices.Equal(e1.lens, []uint32{3}) {
		t.Errorf("second plugin's event %+v", e1)
	}

	// A fault: the first plugin traps, its fail policy (closed) drops the
	// burst, and the observer is told the plugin did not decide.
	rec.events = nil
	pkts = []Packet{packet(byte(abi.Pass), hosttest.ActTrap)}
	p.ProcessBurst(&Burst{Packets: pkts, Observer: &rec})
	if len(rec.events) != 1 || !rec.events[0].faulted || rec.events[0].verdicts[0] != abi.Drop {
		t.Errorf("faulting call's events %+v", rec.events)
	}
}

// TestStageObserverChunks: a burst longer than abi.MaxBurst is processed in
// chunks, and the observer still gets indices into the whole burst.
func TestStageObserverChunks(t *testing.T) {
	e, _ := newEngine(t)
	p := pipeline(t, load(t, e, hosttest.Script(t, hosttest.ScriptOpts{}), nil))
	pkts := make([]Packet, abi.MaxBurst+3)
	for i := range pkts {
		pkts[i] = packet(byte(abi.Pass), hosttest.ActNone)
	}
	pkts[abi.MaxBurst+1] = packet(byte(abi.Drop), hosttest.ActNone)
	var rec recorder
	p.ProcessBurst(&Burst{Packets: pkts, Observer: &rec})
	seen := map[int]abi.Verdict{}
	for _, ev := range rec.events {
		for k, i := range ev.packets {
			seen[i] = ev.verdicts[k]
		}
	}
	if len(seen) != len(pkts) || seen[abi.MaxBurst+1] != abi.Drop || seen[abi.MaxBurst] != abi.Pass {
		t.Errorf("observer saw %d of %d packets; packet %d: %v", len(seen), len(pkts), abi.MaxBurst+1, seen[abi.MaxBurst+1])
	}
}
