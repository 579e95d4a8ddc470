package host

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
	"github.com/memif-wasm/memif-wasm/host/internal/mmap"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

func TestVerdictsCopy(t *testing.T) {
	e, _ := newEngine(t)
	p := pipeline(t, load(t, e, hosttest.Script(t, hosttest.ScriptOpts{}), &PluginConfig{Redirect: []uint16{7}}))
	pkts := []Packet{
		packet(byte(abi.Pass), hosttest.ActWrite, 1, 2, 3),
		packet(byte(abi.Drop), hosttest.ActWrite, 1, 2, 3),
		packet(byte(abi.TX), hosttest.ActPush4, 9),
		packet(byte(abi.Redirect), hosttest.ActRedirect, 7, 0),
		packet(byte(abi.Redirect), hosttest.ActRedirect, 8, 0),
		packet(9, hosttest.ActNone),
		packet(byte(abi.TX), hosttest.ActLenOver),
		packet(byte(abi.TX), hosttest.ActDataZero),
		packet(byte(abi.Pass), hosttest.ActShrink, 5, 6),
		packet(byte(abi.Aborted), hosttest.ActNone),
		{Buf: make([]byte, 8), Off: 4, Len: 8}, // malformed input
	}
	p.Process(&Burst{Packets: pkts})
	want := []struct {
		v    abi.Verdict
		data []byte
	}{
		{abi.Pass, []byte{2, 1, 0xee, 2, 3}},
		{abi.Drop, []byte{1, 1, 1, 2, 3}}, // dropped: the rewrite is not copied back
		{abi.TX, []byte{0xab, 0xab, 0xab, 0xab, 3, 2, 9}},
		{abi.Redirect, []byte{4, 5, 7, 0}},
		{abi.Aborted, nil},
		{abi.Aborted, nil},
		{abi.Aborted, nil},
		{abi.Aborted, nil},
		{abi.Pass, []byte{2, 7, 5}},
		{abi.Aborted, nil},
		{abi.Aborted, nil},
	}
	for i, w := range want {
		if pkts[i].Verdict != w.v {
			t.Errorf("packet %d: verdict %v, want %v", i, pkts[i].Verdict, w.v)
		}
		if w.data != nil && string(pkts[i].Data()) != string(w.data) {
			t.Errorf("packet %d: data %x, want %x", i, pkts[i].Data(), w.data)
		}
	}
	if pkts[3].Port != 7 {
		t.Errorf("redirect port %d, want 7", pkts[3].Port)
	}
	st := p.ReadStats(nil)[0]
	wantInvalid := [NumReasons]uint64{ReasonVerdict: 1, ReasonLen: 1, ReasonData: 1, ReasonRedirect: 1, ReasonInput: 1}
	if st.Invalid != wantInvalid {
		t.Errorf("invalid = %v, want %v", st.Invalid, wantInvalid)
	}
	if st.Verdicts != [abi.NumVerdicts]uint64{6, 1, 2, 1, 1} || st.Packets != 11 || st.Bursts != 1 {
		t.Errorf("stats = %+v", st)
	}
	if st.BytesCopied[PlacementZeroCopy] != 0 || st.BytesCopied[PlacementCopy] == 0 {
		t.Errorf("bytes copied = %v", st.BytesCopied)
	}
}

// control returns the header of the last burst and the packet counter, as script.wat reports them.
func control(t *testing.T, p *Pipeline, i int) ([]byte, uint64) {
	t.Helper()
	reply := make([]byte, 64)
	n, err := p.Control(i, []byte("x"), reply)
	if err != nil || n != 40 {
		t.Fatalf("Control = %d, %v", n, err)
	}
	return reply[:32], binary.LittleEndian.Uint64(reply[32:40])
}

func TestHeaderAndStages(t *testing.T) {
	e, _ := newEngine(t)
	wasm := hosttest.Script(t, hosttest.ScriptOpts{})
	p := pipeline(t, load(t, e, wasm, &PluginConfig{Snaplen: 3}), load(t, e, wasm, nil))
	pkts := []Packet{packet(2, 0, 1, 2, 3), packet(1, 0), packet(2, 0), packet(2, 0)}
	pkts[0].InPort, pkts[0].Meta = 5, 6
	p.Process(&Burst{Packets: pkts, IfIndex: 3, Queue: 2})
	h, count := control(t, p, 0)
	if count != 4 || le.Uint32(h[abi.HdrVersion:]) != 1 || le.Uint32(h[abi.HdrCount:]) != 4 ||
		le.Uint32(h[abi.HdrIfIndex:]) != 3 || le.Uint16(h[abi.HdrQueue:]) != 2 || le.Uint16(h[abi.HdrFlags:]) != 0 ||
		le.Uint32(h[abi.HdrSnaplen:]) != 3 || le.Uint32(h[abi.HdrHeadroom:]) != 64 {
		t.Fatalf("stage 1 header %x, count %d", h, count)
	}
	if _, count := control(t, p, 1); count != 3 {
		t.Fatalf("stage 2 saw %d packets, want the 3 survivors", count)
	}
	st := p.ReadStats(nil)
	if st[0].Verdicts[abi.Drop] != 1 || st[1].Packets != 3 || st[1].Verdicts[abi.Pass] != 3 {
		t.Fatalf("stats %+v", st)
	}
	if pkts[0].Verdict != abi.Pass || pkts[1].Verdict != abi.Drop {
		t.Fatalf("verdicts %v %v", pkts[0].Verdict, pkts[1].Verdict)
	}
}

func TestChainedAndTruncated(t *testing.T) {
	e, _ := newEngine(t)
	p := pipeline(t, load(t, e, hosttest.Script(t, hosttest.ScriptOpts{}), &PluginConfig{MaxFrame: 6}))
	seg2, seg3 := []byte{3, 4}, []byte{5, 6, 7, 8}
	chained := Packet{Buf: []byte{2, hosttest.ActWrite, 0}, Len: 3, Chain: [][]byte{seg2, seg3}}
	moved := Packet{Buf: make([]byte, 16), Off: 8, Len: 2, Chain: [][]byte{{1}}}
	moved.Buf[8], moved.Buf[9] = 2, hosttest.ActPush4
	long := packet(2, hosttest.ActShrink, 1, 2, 3, 4, 5, 6, 7, 8) // 10 bytes, truncated to 6
	pkts := []Packet{chained, moved, long}
	p.Process(&Burst{Packets: pkts})
	if pkts[0].Verdict != abi.Pass || pkts[0].Buf[2] != 0xee || string(seg2) != "\x03\x04" || string(seg3) != "\x05\x06\x07\x08" {
		t.Fatalf("chained: %v %x %x %x", pkts[0].Verdict, pkts[0].Buf, seg2, seg3)
	}
	if pkts[1].Verdict != abi.Aborted || pkts[2].Verdict != abi.Aborted {
		t.Fatalf("moving a chained or resizing a truncated packet: %v %v, want aborted", pkts[1].Verdict, pkts[2].Verdict)
	}
	st := p.ReadStats(nil)[0]
	if st.Invalid[ReasonData] != 1 || st.Invalid[ReasonLen] != 1 {
		t.Fatalf("invalid %v", st.Invalid)
	}
}

func TestFaultsAndRestart(t *testing.T) {
	clock := memiftest.NewClock()
	e, _ := newEngineWith(t, clock)
	wasm := hosttest.Script(t, hosttest.ScriptOpts{})
	for _, failOpen := range []bool{false, true} {
		for _, act := range []byte{hosttest.ActTrap, hosttest.ActErrno} {
			p := pipeline(t, load(t, e, wasm, &PluginConfig{FailOpen: failOpen}))
			pkts := []Packet{packet(2, 0), packet(2, act), packet(3, 0)}
			p.Process(&Burst{Packets: pkts})
			want := abi.Drop
			if failOpen {
				want = abi.Pass
			}
			for i := range pkts {
				if pkts[i].Verdict != want {
					t.Fatalf("failOpen=%v act=%d: packet %d verdict %v, want %v", failOpen, act, i, pkts[i].Verdict, want)
				}
			}
			if p.Fault(0) == nil {
				t.Fatal("no fault recorded")
			}
			// While the plugin awaits its restart, bursts get the policy too.
			pkts = []Packet{packet(3, 0)}
			p.Process(&Burst{Packets: pkts})
			if pkts[0].Verdict != want {
				t.Fatalf("during backoff: %v", pkts[0].Verdict)
			}
			clock.Advance(restartBackoffMin - time.Millisecond)
			p.Process(&Burst{Packets: pkts})
			if pkts[0].Verdict != want {
				t.Fatalf("a millisecond before the backoff ends: %v", pkts[0].Verdict)
			}
			clock.Advance(time.Millisecond)
			p.Process(&Burst{Packets: pkts})
			st := p.ReadStats(nil)[0]
			if pkts[0].Verdict != abi.TX || st.Faults != 1 || st.FaultPackets != 5 || st.Restarts != 1 || p.Fault(0) != nil {
				t.Fatalf("after restart: verdict %v, stats %+v", pkts[0].Verdict, st)
			}
		}
	}
}

func TestReloadHandsOverState(t *testing.T) {
	e, _ := newEngine(t)
	wasm := hosttest.Script(t, hosttest.ScriptOpts{})
	p := pipeline(t, load(t, e, wasm, nil))
	pkts := []Packet{packet(2, 0), packet(2, 0)}
	p.Process(&Burst{Packets: pkts})

	// Bursts keep flowing while the plugin is replaced: none may be lost.
	stop := burstsInBackground(p, abi.TX)
	for i := 0; i < 3; i++ {
		if err := p.Replace(context.Background(), 0, load(t, e, wasm, nil)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(5 * time.Millisecond)
	bursts, lost := stop()
	if lost != 0 {
		t.Fatalf("%d packets lost across reloads", lost)
	}
	if _, count := control(t, p, 0); count != 2+4*bursts {
		t.Fatalf("counter %d after reloads, want %d: state not handed over", count, 2+4*bursts)
	}
	if st := p.ReadStats(nil)[0]; st.Reloads != 3 {
		t.Fatalf("reloads %d", st.Reloads)
	}
	if err := p.Replace(context.Background(), 5, load(t, e, wasm, nil)); err == nil {
		t.Fatal("Replace of a missing stage succeeded")
	}
}

func TestZeroCopy(t *testing.T) {
	e, _ := newEngine(t)
	p := pipeline(t, load(t, e, hosttest.Script(t, hosttest.ScriptOpts{}), nil))
	const region, bufSize = 1 << 20, 2048
	fd, err := mmap.Memfd("buffers", region)
	if err != nil {
		t.Skipf("no memfd: %v", err)
	}
	defer mmap.Close(fd)
	peer, err := mmap.MapFile(fd, region)
	if err != nil {
		t.Fatal(err)
	}
	defer mmap.UnmapFile(peer)
	if pl, err := p.AttachRegion(1, fd, RegionFacts{Size: region}); err != nil || pl != PlacementZeroCopy {
		t.Fatalf("AttachRegion = %v, %v", pl, err)
	}
	pkts := make([]Packet, 3)
	for i, act := range []byte{hosttest.ActWrite, hosttest.ActPush4, hosttest.ActWrite} {
		off := uint32(i+3) * bufSize
		pkts[i] = Packet{Buf: peer[off : off+bufSize], Off: 128, Len: 60, Region: 1, BufOffset: off}
		pkts[i].Buf[128], pkts[i].Buf[129] = byte(abi.TX), act
	}
	pkts[2].Region = 0 // another region: copied into a slot
	p.Process(&Burst{Packets: pkts})
	if pkts[0].Verdict != abi.TX || peer[3*bufSize+128+2] != 0xee {
		t.Fatalf("guest write not seen in the peer's mapping: %v %x", pkts[0].Verdict, peer[3*bufSize+128:3*bufSize+132])
	}
	if pkts[1].Verdict != abi.TX || pkts[1].Off != 124 || pkts[1].Len != 64 || le.Uint32(peer[4*bufSize+124:]) != 0xabababab {
		t.Fatalf("push in place: %v off %d len %d", pkts[1].Verdict, pkts[1].Off, pkts[1].Len)
	}
	if pkts[2].Verdict != abi.TX || pkts[2].Buf[130] != 0xee {
		t.Fatalf("foreign-region packet: %v", pkts[2].Verdict)
	}
	st := p.ReadStats(nil)[0]
	if st.PacketsPlaced[PlacementZeroCopy] != 3 || st.BytesCopied[PlacementZeroCopy] != 120 {
		t.Fatalf("zero-copy stats: placed %v copied %v (want 120 = one foreign packet in and out)", st.PacketsPlaced, st.BytesCopied)
	}
	h, _ := control(t, p, 0)
	if le.Uint16(h[abi.HdrFlags:])&abi.BatchFlagZeroCopy == 0 {
		t.Fatal("batch flag ZERO_COPY not set")
	}

	// Only single-buffer packets in the region: zero bytes copied.
	before := st.BytesCopied[PlacementZeroCopy]
	p.Process(&Burst{Packets: pkts[:1]})
	if got := p.ReadStats(nil)[0].BytesCopied[PlacementZeroCopy]; got != before {
		t.Fatalf("zero-copy burst copied %d bytes", got-before)
	}

	p.DetachRegion()
	peer[3*bufSize+130] = 0
	p.Process(&Burst{Packets: pkts[:1]})
	if peer[3*bufSize+130] != 0xee || p.ReadStats(nil)[0].BytesCopied[PlacementCopy] == 0 {
		t.Fatal("after DetachRegion the packet was not copied and copied back")
	}
}

func TestChoosePlacement(t *testing.T) {
	cases := []struct {
		r    RegionFacts
		want Placement
	}{
		{RegionFacts{Size: 1 << 20}, PlacementZeroCopy},
		{RegionFacts{Size: 1 << 20, HoldsRings: true}, PlacementCopy},
		{RegionFacts{Size: 1 << 20, FileOffset: 100}, PlacementCopy},
		{RegionFacts{Size: 1 << 20, FileOffset: int64(mmap.PageSize)}, PlacementZeroCopy},
		{RegionFacts{}, PlacementCopy},
	}
	for _, c := range cases {
		if got := ChoosePlacement(c.r); got != c.want {
			t.Errorf("ChoosePlacement(%+v) = %v, want %v", c.r, got, c.want)
		}
	}
}

func TestRegionTooLargeFallsBackToCopy(t *testing.T) {
	e, _ := newEngine(t)
	p := pipeline(t, load(t, e, hosttest.Script(t, hosttest.ScriptOpts{}), nil))
	fd, err := mmap.Memfd("big", 32<<20)
	if err != nil {
		t.Skipf("no memfd: %v", err)
	}
	defer mmap.Close(fd)
	if pl, err := p.AttachRegion(1, fd, RegionFacts{Size: 32 << 20}); err != nil || pl != PlacementCopy {
		t.Fatalf("AttachRegion = %v, %v; want copy", pl, err)
	}
}

func TestAllocsPerBurst(t *testing.T) {
	e, _ := newEngine(t)
	p := pipeline(t, load(t, e, hosttest.Script(t, hosttest.ScriptOpts{}), nil))
	fd, err := mmap.Memfd("buffers", 1<<20)
	if err != nil {
		t.Skipf("no memfd: %v", err)
	}
	defer mmap.Close(fd)
	peer, err := mmap.MapFile(fd, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer mmap.UnmapFile(peer)
	pkts := make([]Packet, 32)
	b := &Burst{Packets: pkts}
	for i := range pkts {
		off := uint32(i) * 2048
		pkts[i] = Packet{Buf: peer[off : off+2048], Off: 128, Len: 64, Region: 1, BufOffset: off}
		pkts[i].Buf[128], pkts[i].Buf[129] = byte(abi.TX), hosttest.ActWrite
	}
	if a := testing.AllocsPerRun(100, func() { p.Process(b) }); a != 0 {
		t.Fatalf("copy placement: %v allocations per burst", a)
	}
	if _, err := p.AttachRegion(1, fd, RegionFacts{Size: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(100, func() { p.Process(b) }); a != 0 {
		t.Fatalf("zero-copy placement: %v allocations per burst", a)
	}
	if pkts[0].Verdict != abi.TX {
		t.Fatal("burst not processed")
	}
}

func TestCGuest(t *testing.T) {
	e, _ := newEngine(t)
	wasm := hosttest.C(t, readTestdata(t, "filter.c"), "-Wl,--max-memory=33554432")
	m := load(t, e, wasm, &PluginConfig{MaxMemoryPages: 512})
	p := pipeline(t, m)
	dns, web := udpFrame(53), udpFrame(80)
	pkts := []Packet{{Buf: dns, Len: uint32(len(dns))}, {Buf: web, Len: uint32(len(web))}}
	p.Process(&Burst{Packets: pkts})
	if pkts[0].Verdict != abi.Drop || pkts[1].Verdict != abi.Pass {
		t.Fatalf("verdicts %v %v, want drop pass", pkts[0].Verdict, pkts[1].Verdict)
	}
}

func TestGoGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("building and compiling a Go guest takes seconds")
	}
	e, logs := newCachedEngine(t, nil)
	m := load(t, e, hosttest.Go(t, readTestdata(t, "goguest.go.txt")), nil)
	if info := m.Info(); !info.WASI || info.MaxDeclared || info.MemoryMax != DefaultPluginPages {
		t.Fatalf("info %+v", info)
	}
	p := pipeline(t, m)
	pkts := []Packet{packet(9, 9), packet(9, 9)}
	p.Process(&Burst{Packets: pkts})
	if pkts[0].Verdict != abi.Pass || pkts[1].Verdict != abi.Pass {
		t.Fatalf("verdicts %v %v", pkts[0].Verdict, pkts[1].Verdict)
	}
	if !strings.Contains(logs.String(), "go guest up") {
		t.Fatalf("WASI stdout did not reach the logger: %q", logs.String())
	}
}

func TestGuestLogRateLimited(t *testing.T) {
	e, logs := newEngine(t)
	wasm := hosttest.WAT(t, `(module
	  (import "memif_wasm" "log" (func $log (param i32 i32 i32)))
	  (memory (export "memory") 288 1024)
	  (data (i32.const 16) "hello")
	  (func (export "mw_abi_version") (result i32) i32.const 1)
	  (func (export "mw_batch") (param i32) (result i32) i32.const 65536)
	  (func (export "mw_msgbuf") (param i32) (result i32) i32.const 131072)
	  (func (export "mw_window") (param i32) (result i32) i32.const 1048576)
	  (func (export "mw_init") (param i32 i32) (result i32)
	    (local $i i32)
	    (loop $l
	      (call $log (i32.const 0) (i32.const 16) (i32.const 5))
	      (local.set $i (i32.add (local.get $i) (i32.const 1)))
	      (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))
	    (call $log (i32.const 2) (i32.const -16) (i32.const 100))
	    i32.const 0)
	  (func (export "mw_process") (param i32) (result i32) i32.const 0))`)
	load(t, e, wasm, nil)
	n := strings.Count(logs.String(), "msg=hello")
	if n == 0 || n > DefaultLogBurst+5 {
		t.Fatalf("%d of 1000 lines logged, want at most about %d", n, DefaultLogBurst)
	}
}

// udpFrame builds an Ethernet/IPv4/UDP frame to dport.
func udpFrame(dport uint16) []byte {
	f := make([]byte, 64)
	f[12], f[13] = 0x08, 0x00
	f[14] = 0x45
	f[23] = 17
	binary.BigEndian.PutUint16(f[36:], dport)
	return f
}

// TestDescriptorWords pins the 8-byte words runBurst uses to the abi offsets.
func TestDescriptorWords(t *testing.T) {
	if abi.DescData != 0 || abi.DescLen != 4 || abi.DescCap != 6 || abi.DescVerdict != 8 ||
		abi.DescFlags != 9 || abi.DescInPort != 10 || abi.DescMeta != 12 || abi.DescSize != 16 {
		t.Fatal("descriptor layout changed: update runBurst's word packing")
	}
}

// TestFuelStopsRunawayGuest: a guest that loops forever in mw_process is cut
// off by its fuel budget; the burst gets the fail policy, the fault says fuel,
// and the plugin comes back.
func TestFuelStopsRunawayGuest(t *testing.T) {
	clock := memiftest.NewClock()
	e, _ := newEngineWith(t, clock)
	m := load(t, e, hosttest.Script(t, hosttest.ScriptOpts{}), &PluginConfig{Fuel: 1_000_000})
	p := pipeline(t, m)
	pkts := []Packet{packet(2, 0), packet(2, hosttest.ActSpin)}
	p.Process(&Burst{Packets: pkts})
	if pkts[0].Verdict != abi.Drop || pkts[1].Verdict != abi.Drop {
		t.Fatalf("verdicts %v %v, want the fail-closed drop", pkts[0].Verdict, pkts[1].Verdict)
	}
	if err := p.Fault(0); !errors.Is(err, ErrFuelExhausted) {
		t.Fatalf("fault = %v, want ErrFuelExhausted", err)
	}
	st := p.ReadStats(nil)[0]
	if st.FuelExhausted != 1 || st.Faults != 1 || st.FuelUsed < 1_000_000 {
		t.Fatalf("stats %+v", st)
	}
	clock.Advance(restartBackoffMin)
	pkts = []Packet{packet(3, hosttest.ActWrite, 1, 2, 3)}
	p.Process(&Burst{Packets: pkts})
	if pkts[0].Verdict != abi.TX || pkts[0].Buf[66] != 0xee {
		t.Fatalf("after restart: %v", pkts[0].Verdict)
	}
	if st := p.ReadStats(nil)[0]; st.FuelUsed == 0 || st.FuelExhausted != 1 {
		t.Fatalf("metered burst: %+v", st)
	}
}

func TestFuelRefusesClash(t *testing.T) {
	e, _ := newEngine(t)
	wasm := hosttest.Script(t, hosttest.ScriptOpts{Imports: `(global (export "mw_fuel") (mut i64) (i64.const 1))`})
	_, err := e.Load(context.Background(), "test", wasm, &PluginConfig{Fuel: 1000})
	wantRefusal(t, err, AdmitFuel, "fuel")
}

func TestAllocsPerMeteredBurst(t *testing.T) {
	e, _ := newEngine(t)
	p := pipeline(t, load(t, e, hosttest.Script(t, hosttest.ScriptOpts{}), &PluginConfig{Fuel: 1 << 20}))
	pkts := make([]Packet, 32)
	for i := range pkts {
		pkts[i] = packet(byte(abi.TX), hosttest.ActWrite, 1, 2, 3)
	}
	b := &Burst{Packets: pkts}
	if a := testing.AllocsPerRun(100, func() { p.Process(b) }); a != 0 {
		t.Fatalf("%v allocations per metered burst", a)
	}
	if st := p.ReadStats(nil)[0]; st.FuelUsed == 0 || pkts[0].Verdict != abi.TX {
		t.Fatalf("not metered: %+v", st)
	}
}

func TestLongBurstIsChunked(t *testing.T) {
	e, _ := newEngine(t)
	p := pipeline(t, load(t, e, hosttest.Script(t, hosttest.ScriptOpts{}), &PluginConfig{MaxBurst: 32}))
	pkts := make([]Packet, 70000) // more than a u16 index can name
	for i := range pkts {
		pkts[i] = packet(byte(abi.TX), hosttest.ActNone)
	}
	pkts[69999] = packet(byte(abi.Drop), hosttest.ActNone)
	p.Process(&Burst{Packets: pkts})
	if pkts[0].Verdict != abi.TX || pkts[69998].Verdict != abi.TX || pkts[69999].Verdict != abi.Drop {
		t.Fatalf("verdicts %v %v %v", pkts[0].Verdict, pkts[69998].Verdict, pkts[69999].Verdict)
	}
	if st := p.ReadStats(nil)[0]; st.Packets != 70000 || st.Bursts != (70000+31)/32 {
		t.Fatalf("stats %+v", st)
	}
}

// TestReshapeAllReloadsEveryPipeline: a new version of a plugin reaches every
// worker's pipeline with its state, or, when it cannot start, none.
func TestReshapeAllReloadsEveryPipeline(t *testing.T) {
	e, _ := newEngine(t)
	wasm := hosttest.Script(t, hosttest.ScriptOpts{})
	m := load(t, e, wasm, nil)
	ps := []*Pipeline{pipeline(t, m), pipeline(t, m), pipeline(t, m)}
	for k, p := range ps {
		pkts := make([]Packet, k+1)
		for i := range pkts {
			pkts[i] = packet(2, 0)
		}
		p.Process(&Burst{Packets: pkts})
	}
	if _, err := ReshapeAll(context.Background(), ps, []*Module{load(t, e, wasm, nil)}, []int{0}); err != nil {
		t.Fatal(err)
	}
	for k, p := range ps {
		if _, count := control(t, p, 0); count != uint64(k+1) {
			t.Fatalf("pipeline %d: counter %d after reload, want %d", k, count, k+1)
		}
		if st := p.ReadStats(nil)[0]; st.Reloads != 1 {
			t.Fatalf("pipeline %d: reloads %d", k, st.Reloads)
		}
	}
	// A version whose mw_init refuses its config never reaches any pipeline.
	bad := load(t, e, wasm, nil)
	bad.cfg.Config = []byte{0xff}
	if _, err := ReshapeAll(context.Background(), ps, []*Module{bad}, []int{0}); err == nil {
		t.Fatal("ReshapeAll with a failing module succeeded")
	}
	for _, p := range ps {
		if st := p.ReadStats(nil)[0]; st.Reloads != 1 {
			t.Fatal("a failed ReshapeAll swapped a pipeline")
		}
	}
}

// TestControlFaults: a plugin's own refusal of a control message leaves its
// instance running; a trap in mw_control faults it like a trap in a burst, and
// the next burst after the backoff runs on a fresh instance.
func TestControlFaults(t *testing.T) {
	clock := memiftest.NewClock()
	e, _ := newEngineWith(t, clock)
	p := pipeline(t, load(t, e, hosttest.Script(t, hosttest.ScriptOpts{}), nil))
	reply := make([]byte, 64)

	_, err := p.Control(0, []byte{0xff}, reply)
	var ge *GuestError
	if !errors.As(err, &ge) || ge.Errno != -1 {
		t.Fatalf("refused control = %v, want a *GuestError with errno -1", err)
	}
	if st := p.ReadStats(nil)[0]; st.Faults != 0 {
		t.Fatalf("a refusal counted as a fault: %+v", st.FaultReasons)
	}
	control(t, p, 0) // still up

	if _, err := p.Control(0, []byte{0xfe}, reply); err == nil {
		t.Fatal("trapping control returned no error")
	}
	st := p.ReadStats(nil)[0]
	if st.Faults != 1 || st.FaultReasons[FaultTrap] != 1 {
		t.Fatalf("after a trap in mw_control: faults %d, reasons %v", st.Faults, st.FaultReasons)
	}
	if _, err := p.Control(0, []byte("x"), reply); err == nil || !strings.Contains(err.Error(), "is down") {
		t.Fatalf("control on a faulted plugin = %v, want 'is down'", err)
	}
	clock.Advance(restartBackoffMin)
	pkts := []Packet{packet(2, 0)}
	p.Process(&Burst{Packets: pkts})
	if pkts[0].Verdict != abi.Pass {
		t.Fatalf("verdict after restart = %v, want pass", pkts[0].Verdict)
	}
	if st := p.ReadStats(nil)[0]; st.Restarts != 1 {
		t.Fatalf("restarts = %d, want 1", st.Restarts)
	}
	if _, count := control(t, p, 0); count != 1 {
		t.Fatalf("fresh instance counted %d packets, want 1", count)
	}
}
