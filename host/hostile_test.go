package host

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
	"github.com/memif-wasm/memif-wasm/host/internal/mmap"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

// evilByte marks the first packet of a burst that makes a hostile.wat guest
// misbehave; other bursts it passes, so a fresh instance is visible.
const evilByte = 0xee

// hostileWAT builds testdata/hostile.wat with bad as the misdeed mw_process
// commits when the burst's first packet starts with evilByte, and init as
// mw_init's body ("" returns 0).
func hostileWAT(t testing.TB, init, bad string) []byte {
	t.Helper()
	return hosttest.WAT(t, replaceHostile(readTestdata(t, "hostile.wat"), init, bad))
}

// aclWasm builds the C acl plugin from plugins/acl/c with the SDK header
// inlined, so the build cache key covers both files.
func aclWasm(t testing.TB) []byte {
	t.Helper()
	hdr, err := os.ReadFile("../sdk/c/memif_wasm.h")
	if err != nil {
		t.Skipf("C SDK header not found: %v", err)
	}
	src, err := os.ReadFile("../plugins/acl/c/acl.c")
	if err != nil {
		t.Skipf("acl plugin source not found: %v", err)
	}
	src = bytes.Replace(src, []byte(`#include "memif_wasm.h"`), hdr, 1)
	return hosttest.C(t, string(src), "-mbulk-memory", "-Wl,--max-memory=67108864")
}

// aclConfig is one rule: deny UDP to port 53; everything else is allowed.
func aclConfig() []byte {
	c := []byte("MWA1")
	c = append(c, 1, 1, 1, 0) // default allow, non-IP allow, 1 rule
	r := make([]byte, 48)
	r[0], r[1], r[2], r[3] = 0, 4, 17, 1 // deny, IPv4, UDP, match proto
	binary.LittleEndian.PutUint16(r[8:], 0)
	binary.LittleEndian.PutUint16(r[10:], 0xffff)
	binary.LittleEndian.PutUint16(r[12:], 53)
	binary.LittleEndian.PutUint16(r[14:], 53)
	return append(c, r...)
}

func evilBurst(k int, first byte, act byte) *Burst {
	pkts := make([]Packet, k)
	for i := range pkts {
		pkts[i] = packet(first, act, 1, 2, 3, 4)
	}
	return &Burst{Packets: pkts}
}

type hostileCase struct {
	name     string
	wasm     func(t *testing.T) []byte
	cfg      PluginConfig
	evil     *Burst // the burst that triggers the misdeed
	reason   FaultReason
	wantErr  error        // the fault wraps it, when set
	verdicts *abi.Verdict // per-packet verdict of the evil burst; nil: the fail policy
	invalid  Reason       // with verdicts: the Invalid counter that must move
	benign   func() *Burst
}

// TestHostileSuite runs each hostile plugin in tenant red while tenant blue
// runs acl at the same time. For each it asserts that the host stays up, the
// fault is counted under its reason, the burst gets the policy, a fresh
// instance handles the next burst, blue loses no packet, and blue keeps
// minNeighbourRatio of its throughput while the plugin faults again and
// again.
func TestHostileSuite(t *testing.T) {
	e, _ := newEngine(t)
	blue := newNeighbour(t, e)
	aborted := abi.Aborted
	wat := func(bad string) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { return hostileWAT(t, "", bad) }
	}
	evil := func() *Burst { return evilBurst(4, evilByte, 0) }
	cases := []hostileCase{
		{name: "infinite loop in mw_process", wasm: wat(`(call $spin)`), reason: FaultFuel, wantErr: ErrFuelExhausted},
		// The stack budget stops recursion before the fuel does, and still
		// does with fuel to spare. Before it existed, wazero grew the guest's
		// stack on the Go heap to its 400 MB limit, 161 MB allocated per
		// fault, and the GC work that followed cost blue 5-15% of its
		// throughput. With the stack budget raised, fuel stops it (the call
		// cost bounds the depth a budget can buy: 1e6 buys about 7,000
		// frames; the default 5e6 buys 35,000, whose 2.5 MB of stack per
		// fault, under -race, cost blue 14-17%).
		{name: "unbounded recursion", wasm: wat(`(drop (call $recurse (i32.const 0)))`), reason: FaultStack, wantErr: ErrStackExhausted},
		{name: "unbounded recursion with fuel to spare", wasm: wat(`(drop (call $recurse (i32.const 0)))`), cfg: PluginConfig{Fuel: 1 << 30}, reason: FaultStack, wantErr: ErrStackExhausted},
		{name: "unbounded recursion with stack to spare", wasm: wat(`(drop (call $recurse (i32.const 0)))`), cfg: PluginConfig{Stack: 1 << 30, Fuel: 1_000_000}, reason: FaultFuel, wantErr: ErrFuelExhausted},
		// memory.grow costs one fuel per 4 bytes added, so the default budget
		// stops the bomb at 8 MB per burst; with more fuel it meets the cap.
		{name: "memory.grow bomb", wasm: wat(`(call $growbomb)`), reason: FaultFuel, wantErr: ErrFuelExhausted},
		{name: "memory.grow bomb to the cap", wasm: wat(`(call $growbomb)`), cfg: PluginConfig{Fuel: 1 << 26}, reason: FaultMemory, wantErr: ErrMemoryCap},
		{name: "out-of-bounds load", wasm: wat(`(drop (i32.load (i32.const -4)))`), reason: FaultTrap},
		{name: "out-of-bounds store", wasm: wat(`(i32.store (i32.const 0x7ffffff0) (i32.const 1))`), reason: FaultTrap},
		{name: "unreachable", wasm: wat(`unreachable`), reason: FaultTrap},
		{name: "proc_exit", wasm: wat(`(call $exit (i32.const 7))`), reason: FaultExit},
		{name: "stdout flood", wasm: wat(`(call $flood)`), reason: FaultFuel, wantErr: ErrFuelExhausted},
		{name: "errno", wasm: wat(`(return (i32.const -5))`), reason: FaultErrno},
		{name: "fail-open trap", wasm: wat(`unreachable`), cfg: PluginConfig{FailOpen: true}, reason: FaultTrap},
		{name: "garbage verdicts", wasm: wat(`(call $all (local.get $n) (i32.const 77)) (return (i32.const 0))`),
			reason: FaultABI, wantErr: ErrABIViolation, verdicts: &aborted, invalid: ReasonVerdict},
		{name: "len over cap", wasm: wat(`(call $all (local.get $n) (i32.const 2))
			(i32.store16 offset=4 (call $desc (i32.const 0)) (i32.add (i32.load16_u offset=6 (call $desc (i32.const 0))) (i32.const 1)))
			(return (i32.const 0))`), reason: FaultABI, wantErr: ErrABIViolation, invalid: ReasonLen},
		{name: "data outside its packet", wasm: wat(`(call $all (local.get $n) (i32.const 2))
			(i32.store (call $desc (i32.const 0)) (i32.const 65536))
			(return (i32.const 0))`), reason: FaultABI, wantErr: ErrABIViolation, invalid: ReasonData},
		{name: "redirect to another tenant's port", wasm: wat(`(call $redirect (local.get $n) (i32.const 1)) (return (i32.const 0))`),
			reason: FaultABI, wantErr: ErrABIViolation, verdicts: &aborted, invalid: ReasonRedirect},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			red, err := NewTenant(TenantConfig{Name: "red", Ports: []uint16{2}})
			if err != nil {
				t.Fatal(err)
			}
			cfg := c.cfg
			cfg.Tenant = red
			wasm := c.wasm(t)
			m, err := e.Load(context.Background(), "red/"+c.name, wasm, &cfg)
			if err != nil {
				t.Fatal(err)
			}
			p := pipeline(t, m)
			stop := blue.background()
			b := c.evil
			if b == nil {
				b = evil()
			}
			p.Process(b)
			st := p.ReadStats(nil)[0]
			ferr := p.Fault(0)
			if st.Faults != 1 || st.FaultReasons[c.reason] != 1 || ferr == nil {
				t.Errorf("faults %d, reasons %v, fault %v; want one %v fault", st.Faults, st.FaultReasons, ferr, c.reason)
			}
			if c.wantErr != nil && !errors.Is(ferr, c.wantErr) {
				t.Errorf("fault %v does not wrap %v", ferr, c.wantErr)
			}
			if c.reason == FaultABI {
				if st.Invalid[c.invalid] == 0 {
					t.Errorf("invalid %v: %v not counted", st.Invalid, c.invalid)
				}
				if b.Packets[0].Verdict != abi.Aborted {
					t.Errorf("refused packet got %v, want aborted", b.Packets[0].Verdict)
				}
				if c.verdicts != nil {
					for i := range b.Packets {
						if b.Packets[i].Verdict != *c.verdicts {
							t.Errorf("packet %d: %v, want %v", i, b.Packets[i].Verdict, *c.verdicts)
						}
					}
				}
			} else {
				want := abi.Drop
				if cfg.FailOpen {
					want = abi.Pass
				}
				for i := range b.Packets {
					if b.Packets[i].Verdict != want {
						t.Errorf("packet %d: %v, want the policy's %v", i, b.Packets[i].Verdict, want)
					}
				}
				if st.FaultPackets != uint64(len(b.Packets)) {
					t.Errorf("fault packets %d, want %d", st.FaultPackets, len(b.Packets))
				}
			}
			// The next burst after the backoff: a fresh instance passes it.
			time.Sleep(restartBackoffMin + 20*time.Millisecond)
			next := evilBurst(3, 9, 0)
			p.Process(next)
			st = p.ReadStats(nil)[0]
			for i := range next.Packets {
				if next.Packets[i].Verdict != abi.Pass {
					t.Errorf("after restart packet %d: %v", i, next.Packets[i].Verdict)
				}
			}
			if st.Restarts != 1 || st.Faults != 1 || p.Fault(0) != nil {
				t.Errorf("after restart: restarts %d faults %d fault %v", st.Restarts, st.Faults, p.Fault(0))
			}
			bursts, lost := stop()
			if lost != 0 || bursts == 0 {
				t.Errorf("neighbour: %d bursts, %d packets lost", bursts, lost)
			}
			if ts := red.ReadStats(); ts.Plugins.Faults != 1 || ts.Instances != 1 {
				t.Errorf("tenant stats %+v", ts)
			}
			// The same plugin faulting as often as the host lets it (never
			// quarantined): blue keeps its throughput.
			a := startAttack([]*Pipeline{pipeline(t, loadAttacker(t, e, red, c.name, wasm, c.cfg))})
			defer a.stop()
			assertNeighbourKeepsUp(t, blue, a)
		})
	}
}

// TestHostileInitLoop: an mw_init that never returns is cut off by the cold
// budget and the module is refused, naming fuel.
func TestHostileInitLoop(t *testing.T) {
	e, _ := newEngine(t)
	_, err := e.Load(context.Background(), "test", hostileWAT(t, "(call $spin) (i32.const 0)", "unreachable"), &PluginConfig{ColdFuel: 1 << 22})
	ae := wantRefusal(t, err, AdmitInstantiate, "probe")
	if !errors.Is(ae, ErrFuelExhausted) {
		t.Fatalf("refusal %v does not name fuel", ae)
	}
}

// TestHostileInitializeAndStartLoops: a runaway _initialize is cut off by
// the cold budget, set before the call, and the refusal names fuel; a
// runaway start function runs on the budget baked into the module at
// instrumentation and is refused as a failed instantiation.
func TestHostileInitializeAndStartLoops(t *testing.T) {
	e, _ := newEngine(t)
	src := replaceHostile(readTestdata(t, "hostile.wat"), "", "unreachable")
	i := strings.LastIndex(src, ")")
	initialize := hosttest.WAT(t, src[:i]+`(func (export "_initialize") (call $spin)))`)
	_, err := e.Load(context.Background(), "test", initialize, &PluginConfig{ColdFuel: 1 << 22})
	if ae := wantRefusal(t, err, AdmitInstantiate, "_initialize"); !errors.Is(ae, ErrFuelExhausted) {
		t.Fatalf("refusal %v does not name fuel", ae)
	}
	start := hosttest.WAT(t, src[:i]+`(start $spin))`)
	_, err = e.Load(context.Background(), "test", start, &PluginConfig{ColdFuel: 1 << 22})
	wantRefusal(t, err, AdmitInstantiate, "instantiate")
}

// TestHostileInitLoopOnRestart: a plugin whose mw_init starts looping after
// a deadline (read from the WASI clock, so only restarts see it) fails its
// restart on fuel; the failure is counted as an init fault, backs off
// exponentially, and quarantines the plugin after QuarantineFaults.
func TestHostileInitLoopOnRestart(t *testing.T) {
	clock := memiftest.NewClock()
	e, _ := newEngineWith(t, clock)
	wasm := hostileWAT(t, `(if (i64.gt_u (call $now) (i64.load (local.get $p))) (then (call $spin))) (i32.const 0)`, "unreachable")
	deadline := time.Now().Add(300 * time.Millisecond)
	cfg := make([]byte, 8)
	binary.LittleEndian.PutUint64(cfg, uint64(deadline.UnixNano()))
	m := load(t, e, wasm, &PluginConfig{Config: cfg, ColdFuel: 1 << 22, QuarantineFaults: 3})
	p := pipeline(t, m)
	if time.Now().After(deadline) {
		t.Skip("loading took longer than the 300 ms deadline on this machine")
	}
	time.Sleep(time.Until(deadline) + 10*time.Millisecond)
	p.Process(evilBurst(2, evilByte, 0)) // fault 1: trap
	clock.Advance(restartBackoffMin)
	b := evilBurst(2, 9, 0)
	p.Process(b) // restart fails: fault 2, init
	st := p.ReadStats(nil)[0]
	if st.RestartFailures != 1 || st.FaultReasons[FaultInit] != 1 || st.FaultReasons[FaultTrap] != 1 || b.Packets[0].Verdict != abi.Drop {
		t.Fatalf("stats %+v, verdict %v", st, b.Packets[0].Verdict)
	}
	if err := p.Fault(0); !errors.Is(err, ErrFuelExhausted) {
		t.Fatalf("fault %v, want fuel", err)
	}
	// The second backoff is twice the first: a retry after one minimum
	// backoff finds the plugin still waiting.
	clock.Advance(restartBackoffMin)
	p.Process(b)
	if st := p.ReadStats(nil)[0]; st.RestartFailures != 1 {
		t.Fatalf("retried before the doubled backoff: %+v", st)
	}
	clock.Advance(restartBackoffMin)
	p.Process(b) // fault 3 within the window: quarantined
	st = p.ReadStats(nil)[0]
	if !p.Quarantined(0) || st.Quarantines != 1 || st.Quarantined != 1 || !errors.Is(p.Fault(0), ErrQuarantined) {
		t.Fatalf("not quarantined: %+v, fault %v", st, p.Fault(0))
	}
}

// TestQuarantine: repeated faults quarantine a plugin, its bursts get the
// policy without restarts, and Unquarantine or Replace brings it back.
func TestQuarantine(t *testing.T) {
	clock := memiftest.NewClock()
	e, _ := newEngineWith(t, clock)
	m := load(t, e, hostileWAT(t, "", "unreachable"), &PluginConfig{QuarantineFaults: 2, FailOpen: true})
	p := pipeline(t, m)
	p.Process(evilBurst(1, evilByte, 0))
	clock.Advance(restartBackoffMin)
	p.Process(evilBurst(1, evilByte, 0))
	if !p.Quarantined(0) {
		t.Fatalf("not quarantined after 2 faults: %+v", p.ReadStats(nil)[0])
	}
	clock.Advance(restartBackoffMin)
	b := evilBurst(2, 9, 0)
	p.Process(b)
	st := p.ReadStats(nil)[0]
	if b.Packets[0].Verdict != abi.Pass || st.Restarts != 1 || st.FaultPackets != 4 {
		t.Fatalf("quarantined burst: verdict %v, stats %+v", b.Packets[0].Verdict, st)
	}
	if err := p.Unquarantine(0); err != nil {
		t.Fatal(err)
	}
	b = evilBurst(2, 9, 0)
	p.Process(b)
	if st := p.ReadStats(nil)[0]; st.Restarts != 2 || st.Quarantined != 0 || p.Fault(0) != nil {
		t.Fatalf("after Unquarantine: %+v", st)
	}
	// Quarantine again, then a reload lifts it.
	p.Process(evilBurst(1, evilByte, 0))
	clock.Advance(restartBackoffMin)
	p.Process(evilBurst(1, evilByte, 0))
	if !p.Quarantined(0) {
		t.Fatal("not quarantined again")
	}
	if err := p.Replace(context.Background(), 0, m); err != nil {
		t.Fatal(err)
	}
	if p.Quarantined(0) || p.Fault(0) != nil {
		t.Fatal("Replace did not lift the quarantine")
	}
}

// TestHostileGoGuest: a Go guest that blocks on a channel (the Go runtime
// detects the deadlock and exits), spins, allocates without bound, exits or
// panics: each is the right fault, a fresh instance follows, and tenant
// blue's acl keeps minNeighbourRatio of its throughput while it faults again
// and again.
func TestHostileGoGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("building and compiling a Go guest takes seconds")
	}
	e, _ := newCachedEngine(t, nil)
	wasm := hosttest.Go(t, readTestdata(t, "gohostile.go.txt"))
	cfg := PluginConfig{MaxMemoryPages: 512, Fuel: 1 << 27}
	m := load(t, e, wasm, &cfg)
	blue := newNeighbour(t, e)
	cases := []struct {
		name   string
		act    byte
		reason FaultReason
	}{
		{"blocks on a channel", 1, FaultTrap}, // "all goroutines are asleep": the runtime aborts
		{"spins", 2, FaultFuel},
		{"allocates without bound", 3, FaultMemory},
		{"os.Exit", 4, FaultExit},
		{"panics", 5, FaultTrap}, // the runtime aborts with unreachable
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := pipeline(t, m)
			stop := blue.background()
			b := evilBurst(2, 0, c.act)
			p.Process(b)
			st := p.ReadStats(nil)[0]
			if st.Faults != 1 || st.FaultReasons[c.reason] != 1 || b.Packets[0].Verdict != abi.Drop {
				t.Errorf("reasons %v (fault %v), verdict %v; want %v", st.FaultReasons, p.Fault(0), b.Packets[0].Verdict, c.reason)
			}
			time.Sleep(restartBackoffMin + 20*time.Millisecond)
			b = evilBurst(2, 0, 0)
			p.Process(b)
			if st := p.ReadStats(nil)[0]; st.Restarts != 1 || b.Packets[0].Verdict != abi.Pass {
				t.Errorf("after restart: verdict %v, stats %+v, fault %v", b.Packets[0].Verdict, st, p.Fault(0))
			}
			if bursts, lost := stop(); lost != 0 || bursts == 0 {
				t.Errorf("neighbour: %d bursts, %d packets lost", bursts, lost)
			}
			red, _ := NewTenant(TenantConfig{Name: "red"})
			a := startAttackWith(0, c.act, []*Pipeline{pipeline(t, loadAttacker(t, e, red, c.name, wasm, cfg))})
			defer a.stop()
			assertNeighbourKeepsUp(t, blue, a)
		})
	}
}

// TestHostileModules: huge, wide and deep modules are admitted or refused
// with an *AdmissionError, never a panic, while the neighbour keeps going.
func TestHostileModules(t *testing.T) {
	e, _ := newEngine(t)
	blue := newNeighbour(t, e)
	base := hostileWAT(t, "", "unreachable")

	var funcs strings.Builder
	nf := 3000
	if testing.Short() {
		nf = 1000
	}
	for i := 0; i < nf; i++ {
		fmt.Fprintf(&funcs, "(func $f%d (param i32) (result i32) (i32.add (local.get 0) (i32.const %d)))\n", i, i)
	}
	var deep strings.Builder
	depth := 5000
	for i := 0; i < depth; i++ {
		deep.WriteString("(block ")
	}
	deep.WriteString("nop")
	for i := 0; i < depth; i++ {
		deep.WriteString(")")
	}
	src := readTestdata(t, "hostile.wat")
	withExtra := func(extra string) []byte {
		s := strings.NewReplacer("{{MAX}}", "1024", "{{INIT}}", "(i32.const 0)",
			"{{PROCESS}}", "(call $all (local.get $n) (i32.const 2)) (i32.const 0)").Replace(src)
		i := strings.LastIndex(s, ")")
		return hosttest.WAT(t, s[:i]+extra+")")
	}
	cases := []struct {
		name   string
		wasm   []byte
		cfg    *PluginConfig
		refuse AdmissionCode // 0: admitted
	}{
		{"50 MB custom section", appendCustomSection(base, 50<<20), nil, 0},
		{"50 MB over the engine's size limit", appendCustomSection(base, 50<<20), nil, AdmitTooLarge},
		{"thousands of functions", withExtra(funcs.String()), nil, 0},
		{"deeply nested blocks", withExtra("(func $deep " + deep.String() + ")"), nil, 0},
	}
	stop := blue.background()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			eng := e
			if c.refuse == AdmitTooLarge {
				small, err := NewEngine(context.Background(), &EngineConfig{MaxModuleBytes: 16 << 20})
				if err != nil {
					t.Fatal(err)
				}
				defer small.Close(context.Background())
				eng = small
			}
			m, err := eng.Load(context.Background(), "test", c.wasm, c.cfg)
			if c.refuse != 0 {
				wantRefusal(t, err, c.refuse, "")
				return
			}
			if err != nil {
				var ae *AdmissionError
				if !errors.As(err, &ae) {
					t.Fatalf("not an admission error: %v", err)
				}
				t.Fatalf("refused: %v", err)
			}
			p := pipeline(t, m)
			b := evilBurst(2, 9, 0)
			p.Process(b)
			if b.Packets[0].Verdict != abi.Pass {
				t.Fatalf("verdict %v, fault %v", b.Packets[0].Verdict, p.Fault(0))
			}
		})
	}
	if bursts, lost := stop(); lost != 0 || bursts == 0 {
		t.Errorf("neighbour: %d bursts, %d packets lost", bursts, lost)
	}
}

// appendCustomSection appends a custom section of about n bytes to wasm.
func appendCustomSection(wasm []byte, n int) []byte {
	name := "junk"
	body := binary.AppendUvarint(nil, uint64(len(name)))
	body = append(body, name...)
	out := append([]byte(nil), wasm...)
	out = append(out, 0)
	out = binary.AppendUvarint(out, uint64(len(body)+n))
	out = append(out, body...)
	return append(out, make([]byte, n)...)
}

// TestTenantIsolation: a tenant's plugins may not name another tenant's
// ports, its pipeline maps only its own regions, its worker takes only its
// own ports, and its budgets bound instances and memory.
func TestTenantIsolation(t *testing.T) {
	e, _ := newEngine(t)
	wasm := hostileWAT(t, "", "unreachable")
	red, _ := NewTenant(TenantConfig{Name: "red", Ports: []uint16{2}, MaxInstances: 2, MaxMemoryPages: 1500})
	blue, _ := NewTenant(TenantConfig{Name: "blue", Ports: []uint16{1}})

	_, err := e.Load(context.Background(), "test", wasm, &PluginConfig{Tenant: red, Redirect: []uint16{1}})
	wantRefusal(t, err, AdmitConfig, "plugin config")
	if !strings.Contains(err.Error(), `not on tenant "red"'s allow-list`) {
		t.Fatalf("refusal %v", err)
	}
	_, err = e.Load(context.Background(), "test", wasm, &PluginConfig{Tenant: red, MaxMemoryPages: 4096})
	wantRefusal(t, err, AdmitMemory, "plugin config")

	m := load(t, e, wasm, &PluginConfig{Tenant: red})
	if m.cfg.Redirect[0] != 2 {
		t.Fatalf("redirect list %v, want the tenant's", m.cfg.Redirect)
	}
	green, _ := NewTenant(TenantConfig{Name: "green", Fuel: 12345, ColdFuel: 1 << 24})
	if mg := load(t, e, wasm, &PluginConfig{Tenant: green}); mg.cfg.Fuel != 12345 || mg.cfg.ColdFuel != 1<<24 {
		t.Fatalf("tenant budgets not applied: fuel %d cold %d", mg.cfg.Fuel, mg.cfg.ColdFuel)
	}
	mb := load(t, e, wasm, &PluginConfig{Tenant: blue})
	if _, err := NewPipeline(context.Background(), m, mb); err == nil {
		t.Fatal("a pipeline mixed two tenants' plugins")
	}
	p1 := pipeline(t, m)
	_, err = NewPipeline(context.Background(), m) // 2 instances of 1024 pages: memory budget
	if !errors.Is(err, ErrBudget) {
		t.Fatalf("third instance over the memory budget: %v", err)
	}
	if ts := red.ReadStats(); ts.Instances != 1 || ts.MemoryPages != 1024 || ts.Refused != 1 {
		t.Fatalf("tenant budget use %+v", ts)
	}
	if err := p1.Replace(context.Background(), 0, mb); err == nil {
		t.Fatal("Replace took another tenant's module")
	}

	// Regions: blue's region is refused by red's pipeline, red's is mapped.
	fd, err := mmap.Memfd("region", 1<<20)
	if err != nil {
		t.Skipf("no memfd: %v", err)
	}
	defer mmap.Close(fd)
	if pl, err := p1.AttachRegion(1, fd, RegionFacts{Size: 1 << 20, Tenant: blue}); !errors.Is(err, ErrForeignRegion) || pl != PlacementCopy {
		t.Fatalf("foreign region: %v %v", pl, err)
	}
	if _, err := p1.AttachRegion(1, fd, RegionFacts{Size: 1 << 20}); !errors.Is(err, ErrForeignRegion) {
		t.Fatalf("region of no tenant: %v", err)
	}
	if pl, err := p1.AttachRegion(1, fd, RegionFacts{Size: 1 << 20, Tenant: red}); err != nil || pl != PlacementZeroCopy {
		t.Fatalf("own region: %v %v", pl, err)
	}
	// Instance count: MaxInstances of the plugin.
	m1 := load(t, e, wasm, &PluginConfig{MaxInstances: 1})
	pipeline(t, m1)
	if _, err := m1.Instantiate(context.Background()); !errors.Is(err, ErrBudget) {
		t.Fatalf("second instance of a 1-instance plugin: %v", err)
	}
	if err := p1.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ts := red.ReadStats(); ts.Instances != 0 || ts.MemoryPages != 0 {
		t.Fatalf("budget not released: %+v", ts)
	}
}

// TestNeighbourUnderAttack: tenant blue's acl keeps minNeighbourRatio of
// its throughput and loses no packet while tenant red's plugins fault over
// and over, each on a thread of its own: each kind alone, then all four at
// once (five busy threads on two cores).
//
// What the attackers cost blue is mostly the GC: every fault discards an
// instance, and a fresh one allocates on the Go heap (BenchmarkFaultGarbage:
// 77 KB per restart for a spin or memory.grow bomb, 94 KB for the stdout
// flood, 414 KB for the recursion, most of it wazero growing the guest
// stack up to the stack budget). Each stop-the-world phase waits for the guest
// calls in flight, which cannot be preempted. Before the stack budget
// (when only fuel bounded the recursion) the four together cost blue
// 3-17% (0.83-0.97); with it, 0.95-0.97 here.
func TestNeighbourUnderAttack(t *testing.T) {
	e, _ := newEngine(t)
	blue := newNeighbour(t, e)
	for _, kind := range append(slices.Clone(hostileKinds), "all") {
		t.Run(kind, func(t *testing.T) {
			red, _ := NewTenant(TenantConfig{Name: "red"})
			kinds := []string{kind}
			if kind == "all" {
				kinds = hostileKinds
			}
			var groups [][]*Pipeline
			for _, k := range kinds {
				m := loadAttacker(t, e, red, k, hostileWAT(t, "", hostileCode[k]), PluginConfig{})
				groups = append(groups, []*Pipeline{pipeline(t, m)})
			}
			a := startAttack(groups...)
			defer a.stop()
			assertNeighbourKeepsUp(t, blue, a)
		})
	}
}

// TestMeteredCacheKey: instrumented bytes are reused for the same input and
// config, and kept apart when the config (here the init budget baked into
// the module) differs.
func TestMeteredCacheKey(t *testing.T) {
	e, _ := newEngine(t)
	wasm := hostileWAT(t, "", "unreachable")
	load(t, e, wasm, nil)
	load(t, e, wasm, &PluginConfig{Fuel: 777}) // Fuel is set per call, not baked in
	e.mu.Lock()
	n := len(e.metered)
	e.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d cache entries after loading one module twice, want 1", n)
	}
	load(t, e, wasm, &PluginConfig{ColdFuel: 1 << 24})
	e.mu.Lock()
	n = len(e.metered)
	e.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d cache entries after a second init budget, want 2", n)
	}
}
