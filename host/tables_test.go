package host

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
	"github.com/memif-wasm/memif-wasm/host/table"
)

// tablesGuest builds testdata/tables.c with extra clang flags (-D...).
func tablesGuest(t testing.TB, flags ...string) []byte {
	t.Helper()
	inc, err := filepath.Abs("../sdk/c")
	if err != nil {
		t.Fatal(err)
	}
	return hosttest.C(t, readTestdata(t, "tables.c"), append([]string{"-I" + inc}, flags...)...)
}

func kvKey(k uint64) []byte { return binary.LittleEndian.AppendUint64(nil, k) }

func kvValue(k uint64, ver byte) []byte {
	return append(kvKey(k), bytes.Repeat([]byte{ver}, 24)...)
}

// tablePacket makes a packet for tables.c: op, then the 8 argument bytes.
func tablePacket(op byte, arg []byte) Packet {
	buf := make([]byte, 64+32+64)
	buf[64] = op
	copy(buf[65:], arg)
	return Packet{Buf: buf, Off: 64, Len: 32}
}

func kvTable(t testing.TB, e *Engine, m *Module, name string) *table.Table {
	t.Helper()
	tb := e.Tables().Get(m.TableKey(name))
	if tb == nil {
		t.Fatalf("no table %s", m.TableKey(name))
	}
	return tb
}

func TestTablesEndToEnd(t *testing.T) {
	e, _ := newEngine(t)
	cfg := &PluginConfig{TableScope: "memif0"}
	m := load(t, e, tablesGuest(t), cfg)
	if got := m.Info().Tables; len(got) != 6 || got[0].Name != "kv" || got[1].Kind != abi.TableArray || got[3].Kind != abi.TableLPM6 {
		t.Fatalf("declared tables = %v", got)
	}
	kv, arr := kvTable(t, e, m, "kv"), kvTable(t, e, m, "arr")
	p := pipeline(t, m)
	if err := kv.Apply([]table.Op{{Key: kvKey(7), Value: kvValue(7, 3)}}); err != nil {
		t.Fatal(err)
	}
	if err := arr.Apply([]table.Op{{Key: []byte{5, 0, 0, 0}, Value: []byte{1, 2, 3, 4}}}); err != nil {
		t.Fatal(err)
	}
	pk := []Packet{tablePacket('h', kvKey(7)), tablePacket('h', kvKey(8)), tablePacket('a', []byte{5}), tablePacket('a', []byte{16})}
	p.Process(&Burst{Packets: pk})
	want := []abi.Verdict{abi.Pass, abi.TX, abi.Pass, abi.TX}
	for i := range pk {
		if pk[i].Verdict != want[i] {
			t.Errorf("packet %d: verdict %v, want %v", i, pk[i].Verdict, want[i])
		}
	}
	if got := pk[2].Data()[2:6]; !bytes.Equal(got, []byte{1, 2, 3, 4}) {
		t.Errorf("arr[5] as the guest read it: %v", got)
	}
	if kv.Readers() != 1 {
		t.Errorf("kv has %d readers, want the pipeline's instance", kv.Readers())
	}
	p.Close(context.Background())
	if kv.Readers() != 0 {
		t.Errorf("kv has %d readers after the pipeline closed", kv.Readers())
	}
}

// TestTablesOutliveReload: a new version that declares the same tables gets
// the same data, without state hooks, and a second plugin of the tenant that
// declares the table shares it.
func TestTablesOutliveReload(t *testing.T) {
	e, _ := newEngine(t)
	ten, err := NewTenant(TenantConfig{Name: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &PluginConfig{TableScope: "memif0", Tenant: ten}
	m1 := load(t, e, tablesGuest(t), cfg)
	kv := kvTable(t, e, m1, "kv")
	if err := kv.Apply([]table.Op{{Key: kvKey(1), Value: kvValue(1, 9)}}); err != nil {
		t.Fatal(err)
	}
	p := pipeline(t, m1)
	m2 := load(t, e, tablesGuest(t, "-DVERSION2"), cfg) // another build, same declarations
	if kvTable(t, e, m2, "kv") != kv {
		t.Fatal("the new version got another table")
	}
	if err := p.Replace(context.Background(), 0, m2); err != nil {
		t.Fatal(err)
	}
	pk := []Packet{tablePacket('h', kvKey(1))}
	p.Process(&Burst{Packets: pk})
	if pk[0].Verdict != abi.Pass {
		t.Fatalf("after reload: verdict %v, want pass (the entry kept)", pk[0].Verdict)
	}
	other := load(t, e, tablesGuest(t), &PluginConfig{TableScope: "memif1", Tenant: ten})
	if kvTable(t, e, other, "kv") == kv {
		t.Fatal("another scope shares the table")
	}
	ten2, _ := NewTenant(TenantConfig{Name: "t2"})
	foreign := load(t, e, tablesGuest(t), &PluginConfig{TableScope: "memif0", Tenant: ten2})
	if kvTable(t, e, foreign, "kv") == kv {
		t.Fatal("another tenant shares the table")
	}
}

// withSection returns wasm with a memif_wasm.tables custom section of body
// appended (the host refuses a second one).
func withSection(wasm, body []byte) []byte {
	name := abi.SectionTables
	payload := append(binary.AppendUvarint(nil, uint64(len(name))), name...)
	payload = append(payload, body...)
	out := append(bytes.Clone(wasm), 0)
	out = binary.AppendUvarint(out, uint64(len(payload)))
	return append(out, payload...)
}

func TestTableAdmissionRefusals(t *testing.T) {
	e, _ := newEngine(t)
	small, _ := NewTenant(TenantConfig{Name: "small", MaxMemoryPages: 1024 + 2})
	nop := hosttest.C(t, `#include "memif_wasm.h"
MW_EXPORT("mw_init") int32_t mw_init(uint32_t p, uint32_t n) { (void)p; (void)n; return 0; }
MW_EXPORT("mw_process") int32_t mw_process(uint32_t n) { (void)n; return 0; }`, "-I"+must(filepath.Abs("../sdk/c")))
	good := table.Spec{Name: "x", Kind: abi.TableHash, KeySize: 4, ValueSize: 4, MaxEntries: 10}
	cases := []struct {
		name   string
		wasm   []byte
		cfg    *PluginConfig
		reason string
	}{
		{"two sections", withSection(tablesGuest(t), nil), nil, "appears twice"},
		{"max entries 0", tablesGuest(t, "-DKV_MAX=0"), nil, "max entries 0"},
		{"no mw_table", withSection(nop, table.AppendDecl(nil, table.Decl{Spec: good})), nil, "does not export mw_table"},
		{"garbage record", withSection(nop, []byte{1, 1, 0}), nil, "bad table declaration"},
		{"over the memory cap", tablesGuest(t, "-DKV_MAX=1000000"), nil, "over its memory"},
		{"over the tenant's budget", tablesGuest(t, "-DKV_MAX=100000"), &PluginConfig{Tenant: small}, "budget"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(e.Tables().List())
			_, err := e.Load(context.Background(), "bad", c.wasm, c.cfg)
			var ae *AdmissionError
			if !errors.As(err, &ae) || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("Load = %v, want a refusal mentioning %q", err, c.reason)
			}
			if after := len(e.Tables().List()); after != before {
				t.Fatalf("a refused module left %d tables behind", after-before)
			}
		})
	}
	if st := small.ReadStats(); st.MemoryPages != 0 {
		t.Fatalf("refusals left %d pages charged to the tenant", st.MemoryPages)
	}
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

// TestTableIncompatibleDeclaration: a version declaring kv with another
// size is refused while kv exists, unless FreshTables; the refused load
// leaves the table and its data alone.
func TestTableIncompatibleDeclaration(t *testing.T) {
	e, _ := newEngine(t)
	cfg := &PluginConfig{TableScope: "s"}
	m := load(t, e, tablesGuest(t), cfg)
	kv := kvTable(t, e, m, "kv")
	if err := kv.Apply([]table.Op{{Key: kvKey(1), Value: kvValue(1, 1)}}); err != nil {
		t.Fatal(err)
	}
	_, err := e.Load(context.Background(), "v2", tablesGuest(t, "-DKV_MAX=2048"), cfg)
	if !errors.Is(err, table.ErrIncompatible) {
		t.Fatalf("incompatible declaration: %v", err)
	}
	if kvTable(t, e, m, "kv") != kv || kv.Stats().Entries != 1 {
		t.Fatal("the refused load changed the table")
	}
	fresh := *cfg
	fresh.FreshTables = true
	m2 := load(t, e, tablesGuest(t, "-DKV_MAX=2048"), &fresh)
	if nt := kvTable(t, e, m2, "kv"); nt == kv || nt.Stats().Entries != 0 || nt.Spec().MaxEntries != 2048 {
		t.Fatalf("fresh table: %v entries %d", nt.Spec(), nt.Stats().Entries)
	}
	// An instance of the old version made now (a restart) cannot map the
	// replaced table: a clear error, never a closed descriptor's number.
	if in, err := m.Instantiate(context.Background()); !errors.Is(err, table.ErrClosed) {
		if in != nil {
			in.Close(context.Background())
		}
		t.Fatalf("instance of the old version after the fresh table: %v", err)
	}
}

// TestTablePlacementRefused: mw_table answers that the host must refuse.
func TestTablePlacementRefused(t *testing.T) {
	e, _ := newEngine(t)
	inc := "-I" + must(filepath.Abs("../sdk/c"))
	for _, c := range []struct{ name, body, reason string }{
		{"zero", "return 0;", "returned 0"},
		{"unaligned", "return 4096;", "not 65536-byte aligned"},
		{"outside memory", "return 0x7fff0000;", "outside the guest's"},
		{"over the window", "return mw__window;", "overlaps mw_window"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := `#include "memif_wasm.h"
MW_TABLE_DECLARE(x, MW_TABLE_HASH, 4, 4, 10);
MW_EXPORT("mw_table") uint32_t mw_table(uint32_t i, uint32_t b) { (void)i; (void)b; ` + c.body + ` }
MW_EXPORT("mw_init") int32_t mw_init(uint32_t p, uint32_t n) { (void)p; (void)n; return 0; }
MW_EXPORT("mw_process") int32_t mw_process(uint32_t n) { (void)n; return 0; }`
			_, err := e.Load(context.Background(), "bad", hosttest.C(t, src, inc), nil)
			var le *LayoutError
			if !errors.As(err, &le) || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("Load = %v, want a layout error mentioning %q", err, c.reason)
			}
		})
	}
}

// TestTableUpdatesUnderTraffic: the control plane rewrites, deletes and
// re-inserts entries while two pipelines (two workers) look them up from C
// with plain loads. No lookup may see a torn value (DROP), and keys that
// are never deleted must always be found (TX).
func TestTableUpdatesUnderTraffic(t *testing.T) {
	e, _ := newEngine(t)
	m := load(t, e, tablesGuest(t), &PluginConfig{TableScope: "s"})
	kv := kvTable(t, e, m, "kv")
	const stable, churn = 256, 256
	var ops []table.Op
	for k := range uint64(stable + churn) {
		ops = append(ops, table.Op{Key: kvKey(k), Value: kvValue(k, 0)})
	}
	if err := kv.Apply(ops); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var lookups, torn, missing atomic.Uint64
	for w := range 2 {
		p := pipeline(t, m)
		wg.Add(1)
		go func() {
			defer wg.Done()
			pk := make([]Packet, 64)
			for b := uint64(0); !stop.Load(); b++ {
				for i := range pk {
					pk[i] = tablePacket('h', kvKey((b*64+uint64(i)+uint64(w)*7)%(stable+churn)))
				}
				p.Process(&Burst{Packets: pk})
				for i := range pk {
					k := (b*64 + uint64(i) + uint64(w)*7) % (stable + churn)
					switch pk[i].Verdict {
					case abi.Drop:
						torn.Add(1)
					case abi.TX:
						if k < stable {
							missing.Add(1)
						}
					case abi.Pass:
					default:
						t.Errorf("verdict %v", pk[i].Verdict)
					}
				}
				lookups.Add(uint64(len(pk)))
			}
		}()
	}
	dur := time.Second
	if testing.Short() {
		dur = 200 * time.Millisecond
	}
	var updates int
	for ver, end := byte(1), time.Now().Add(dur); time.Now().Before(end); ver++ {
		k := uint64(ver) % stable
		c := stable + uint64(ver)%churn
		for _, batch := range [][]table.Op{
			{{Key: kvKey(k), Value: kvValue(k, ver)}},
			{{Delete: true, Key: kvKey(c)}},
			{{Key: kvKey(c), Value: kvValue(c, ver)}},
		} {
			if err := kv.Apply(batch); err != nil {
				t.Fatal(err)
			}
			updates++
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d updates, %d lookups from the guests", updates, lookups.Load())
	if torn.Load() != 0 || missing.Load() != 0 {
		t.Fatalf("%d torn values and %d missing stable keys seen by the guests", torn.Load(), missing.Load())
	}
	if updates == 0 || lookups.Load() == 0 {
		t.Fatal("nothing ran")
	}
}

// TestCHashMatchesGo: the C header's mw_hash32 computes abi.Hash, for every
// key length up to 20 (whole words and each partial tail).
func TestCHashMatchesGo(t *testing.T) {
	e, _ := newEngine(t)
	src := `#include "memif_wasm.h"
MW_EXPORT("mw_init") int32_t mw_init(uint32_t p, uint32_t n) { (void)p; (void)n; return 0; }
MW_EXPORT("mw_process") int32_t mw_process(uint32_t n) {
	for (uint32_t i = 0; i < n; i++) {
		struct mw_desc *d = mw_desc(i);
		uint8_t *p = mw_data(d);
		uint32_t h = mw_hash32(mw_le32(p), p + 5, p[4]);
		__builtin_memcpy(p, &h, 4);
		d->verdict = MW_PASS;
	}
	return 0;
}`
	p := pipeline(t, load(t, e, hosttest.C(t, src, "-I"+must(filepath.Abs("../sdk/c"))), nil))
	key := []byte("0123456789abcdefghij")
	for n := range len(key) + 1 {
		buf := make([]byte, 64+5+len(key)+64)
		binary.LittleEndian.PutUint32(buf[64:], 0x01020304)
		buf[68] = byte(n)
		copy(buf[69:], key[:n])
		pk := []Packet{{Buf: buf, Off: 64, Len: uint32(5 + n)}}
		p.Process(&Burst{Packets: pk})
		if got, want := binary.LittleEndian.Uint32(pk[0].Data()), abi.Hash(0x01020304, key[:n]); got != want {
			t.Errorf("key of %d bytes: C says %#08x, Go %#08x", n, got, want)
		}
	}
}

// TestTablesLPMFromC: the C header's mw_table_match finds the longest
// prefix the control plane put, for IPv4 and IPv6.
func TestTablesLPMFromC(t *testing.T) {
	e, _ := newEngine(t)
	m := load(t, e, tablesGuest(t), &PluginConfig{TableScope: "lpm"})
	p := pipeline(t, m)
	put := func(name, prefix string, val byte) {
		t.Helper()
		pf := netip.MustParsePrefix(prefix)
		k := append(pf.Addr().AsSlice(), byte(pf.Bits()))
		if err := kvTable(t, e, m, name).Apply([]table.Op{{Key: k, Value: []byte{val, 0, 0, 0}}}); err != nil {
			t.Fatal(err)
		}
	}
	put("pfx4", "10.0.0.0/8", 1)
	put("pfx4", "10.1.0.0/16", 2)
	put("pfx4", "10.1.2.3/32", 3)
	put("pfx4", "0.0.0.0/0", 9)
	put("pfx6", "2001:db8::/32", 4)
	put("pfx6", "2001:db8:1::/48", 5)
	cases := []struct {
		op   byte
		addr string
		want byte // 0: no match (TX)
	}{
		{'4', "10.9.9.9", 1}, {'4', "10.1.9.9", 2}, {'4', "10.1.2.3", 3}, {'4', "10.1.2.4", 2}, {'4', "192.0.2.1", 9},
		{'6', "2001:db8::1", 4}, {'6', "2001:db8:1::1", 5}, {'6', "2001:db9::1", 0},
	}
	pk := make([]Packet, len(cases))
	for i, c := range cases {
		pk[i] = tablePacket(c.op, netip.MustParseAddr(c.addr).AsSlice())
	}
	p.Process(&Burst{Packets: pk})
	for i, c := range cases {
		switch {
		case c.want == 0 && pk[i].Verdict != abi.TX:
			t.Errorf("%s: verdict %v, want no match", c.addr, pk[i].Verdict)
		case c.want != 0 && (pk[i].Verdict != abi.Pass || pk[i].Data()[20] != c.want):
			t.Errorf("%s: verdict %v value %d, want %d", c.addr, pk[i].Verdict, pk[i].Data()[20], c.want)
		}
	}
}

// TestTablesCountersPerWorker: two workers' instances add to a counters
// table, each in its own row; the host's sum sees every add, keeps the adds
// of an instance that closed, and a Clear moves the baseline. The control
// plane cannot write counters.
func TestTablesCountersPerWorker(t *testing.T) {
	e, _ := newEngine(t)
	m := load(t, e, tablesGuest(t), &PluginConfig{TableScope: "ctr"})
	hits := kvTable(t, e, m, "hits")
	p1, p2 := pipeline(t, m), pipeline(t, m)
	burstOf := func(n int, idx, delta byte) *Burst {
		pk := make([]Packet, n)
		for i := range pk {
			pk[i] = tablePacket('c', []byte{idx, delta})
		}
		return &Burst{Packets: pk}
	}
	get := func(i byte) uint64 {
		t.Helper()
		v := make([]byte, 8)
		if ok, err := hits.Get([]byte{i, 0, 0, 0}, v); !ok || err != nil {
			t.Fatalf("get %d: %v %v", i, ok, err)
		}
		return binary.LittleEndian.Uint64(v)
	}
	var wg sync.WaitGroup
	for _, p := range []*Pipeline{p1, p2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				p.Process(burstOf(10, 3, 2))
			}
		}()
	}
	wg.Wait()
	if got := get(3); got != 2*100*10*2 {
		t.Fatalf("counter 3 = %d, want %d", got, 2*100*10*2)
	}
	p1.Close(context.Background())
	if got := get(3); got != 4000 {
		t.Fatalf("after a worker closed: %d, want 4000 (its adds kept)", got)
	}
	if err := hits.Clear(); err != nil {
		t.Fatal(err)
	}
	p2.Process(burstOf(5, 3, 1))
	if got := get(3); got != 5 {
		t.Fatalf("after clear and 5 adds: %d", got)
	}
	if err := hits.Apply([]table.Op{{Key: []byte{3, 0, 0, 0}, Value: make([]byte, 8)}}); !errors.Is(err, table.ErrReadOnly) {
		t.Fatalf("a put into counters: %v", err)
	}
}

// TestTablesGuestWrites: a plugin writes a table it declared writable
// through the host (queued, published after the call); it cannot write a
// table it only reads, nor past an array's end; a put the full table cannot
// take is dropped and counted.
func TestTablesGuestWrites(t *testing.T) {
	e, _ := newEngine(t)
	m := load(t, e, tablesGuest(t), &PluginConfig{TableScope: "wr"})
	wr := kvTable(t, e, m, "wr")
	p := pipeline(t, m)
	call := func(op byte, index byte, key, val string) int32 {
		t.Helper()
		arg := make([]byte, 9)
		copy(arg, key)
		copy(arg[4:], val)
		arg[8] = index
		pk := []Packet{tablePacket(op, arg)}
		p.Process(&Burst{Packets: pk})
		if pk[0].Verdict != abi.Pass {
			t.Fatalf("verdict %v", pk[0].Verdict)
		}
		return int32(binary.LittleEndian.Uint32(pk[0].Data()[20:]))
	}
	if r := call('p', 5, "aaaa", "1111"); r != 0 {
		t.Fatalf("put: %d", r)
	}
	if r := call('p', 5, "bbbb", "2222"); r != 0 {
		t.Fatalf("put: %d", r)
	}
	failed := wr.Stats().FailedUpdate
	if r := call('p', 5, "cccc", "3333"); r != 0 { // queued; the table is full when published
		t.Fatalf("put: %d", r)
	}
	wr.Flush()
	val := make([]byte, 4)
	if ok, _ := wr.Get([]byte("aaaa"), val); !ok || string(val) != "1111" {
		t.Fatalf("aaaa: %v %q", ok, val)
	}
	if ok, _ := wr.Get([]byte("cccc"), val); ok || wr.Stats().FailedUpdate != failed+1 || wr.Stats().Entries != 2 {
		t.Fatalf("the put into a full table: present %v, stats %+v", ok, wr.Stats())
	}
	if r := call('d', 5, "aaaa", ""); r != 0 {
		t.Fatalf("delete: %d", r)
	}
	wr.Flush()
	if ok, _ := wr.Get([]byte("aaaa"), val); ok {
		t.Fatal("deleted key still there")
	}
	for _, c := range []struct {
		name  string
		op    byte
		index byte
		want  int32
	}{
		{"read-only hash", 'p', 0, -int32(abi.ErrInval)},
		{"read-only array", 'p', 1, -int32(abi.ErrInval)},
		{"counters", 'p', 4, -int32(abi.ErrInval)},
		{"no such table", 'p', 9, -int32(abi.ErrInval)},
		{"delete in read-only", 'd', 0, -int32(abi.ErrInval)},
	} {
		if r := call(c.op, c.index, "aaaa", "1111"); r != c.want {
			t.Errorf("%s: %d, want %d", c.name, r, c.want)
		}
	}
	if kvTable(t, e, m, "kv").Stats().Updates != 0 {
		t.Fatal("a read-only table was written")
	}
}
