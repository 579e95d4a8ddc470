package table_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/internal/mmap"
	"github.com/memif-wasm/memif-wasm/host/table"
	"github.com/memif-wasm/memif-wasm/sdk"
)

func newTable(t testing.TB, s table.Spec) *table.Table {
	t.Helper()
	tb, err := table.New(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tb.Close() })
	return tb
}

// view maps the table's file as an instance would and opens it with the SDK.
func view(t testing.TB, tb *table.Table) sdk.Table {
	t.Helper()
	var b []byte
	err := tb.MapFD(func(fd int) (err error) { b, err = mmap.MapFile(fd, int(tb.Layout().Bytes)); return err })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mmap.UnmapFile(b) })
	v, err := sdk.OpenTable(b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func key8(i uint64) []byte { return binary.LittleEndian.AppendUint64(nil, i) }

func TestSpecValidate(t *testing.T) {
	ok := table.Spec{Name: "flows", Kind: abi.TableHash, KeySize: 16, ValueSize: 8, MaxEntries: 1000}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		edit func(*table.Spec)
	}{
		{"empty name", func(s *table.Spec) { s.Name = "" }},
		{"long name", func(s *table.Spec) { s.Name = "abcdefghijklmnopqrstuvwxyz0123456" }},
		{"upper case name", func(s *table.Spec) { s.Name = "Flows" }},
		{"slash in name", func(s *table.Spec) { s.Name = "a/b" }},
		{"unknown kind", func(s *table.Spec) { s.Kind = 9 }},
		{"zero key", func(s *table.Spec) { s.KeySize = 0 }},
		{"key too long", func(s *table.Spec) { s.KeySize = abi.MaxTableKey + 1 }},
		{"array key not 4", func(s *table.Spec) { s.Kind = abi.TableArray }},
		{"zero value", func(s *table.Spec) { s.ValueSize = 0 }},
		{"value too long", func(s *table.Spec) { s.ValueSize = abi.MaxTableValue + 1 }},
		{"zero entries", func(s *table.Spec) { s.MaxEntries = 0 }},
		{"too many entries", func(s *table.Spec) { s.MaxEntries = abi.MaxTableEntries + 1 }},
		{"over MaxBytes", func(s *table.Spec) { s.ValueSize, s.MaxEntries = 1024, 1<<20 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := ok
			c.edit(&s)
			err := s.Validate()
			if !errors.Is(err, table.ErrDecl) {
				t.Fatalf("Validate(%v) = %v, want ErrDecl", s, err)
			}
			if _, err := table.New(s); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
}

func TestParseDecls(t *testing.T) {
	specs := []table.Decl{
		{Spec: table.Spec{Name: "flows", Kind: abi.TableHash, KeySize: 13, ValueSize: 8, MaxEntries: 100000}, Write: true},
		{Spec: table.Spec{Name: "ports.v4", Kind: abi.TableArray, KeySize: 4, ValueSize: 2, MaxEntries: 65536}},
	}
	var sec []byte
	for _, s := range specs {
		sec = table.AppendDecl(sec, s)
	}
	got, err := table.ParseDecls(sec)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(specs) {
		t.Fatalf("got %v, want %v", got, specs)
	}
	if got, err := table.ParseDecls(nil); err != nil || got != nil {
		t.Fatalf("empty section: %v, %v", got, err)
	}
	one := table.AppendDecl(nil, specs[1])
	bad := []struct {
		name string
		b    []byte
	}{
		{"truncated fixed part", one[:10]},
		{"no NUL", one[:len(one)-1]},
		{"version 2", func() []byte { b := bytes.Clone(one); b[0] = 2; return b }()},
		{"unknown flag", func() []byte { b := bytes.Clone(one); b[abi.DeclFlags] = 2; return b }()},
		{"writable counters", table.AppendDecl(nil, table.Decl{Spec: table.Spec{Name: "c", Kind: abi.TableCounters, KeySize: 4, ValueSize: 8, MaxEntries: 1}, Write: true})},
		{"reserved set", func() []byte { b := bytes.Clone(one); b[abi.DeclReserved] = 1; return b }()},
		{"duplicate", append(bytes.Clone(one), one...)},
		{"bad sizes", table.AppendDecl(nil, table.Decl{Spec: table.Spec{Name: "x", Kind: abi.TableHash, KeySize: 0, ValueSize: 1, MaxEntries: 1}})},
		{"name too long", append(one[:abi.DeclFixedSize:abi.DeclFixedSize], append(bytes.Repeat([]byte("a"), 40), 0)...)},
		{"too many", func() []byte {
			var b []byte
			for i := range abi.MaxTablesPerPlugin + 1 {
				b = table.AppendDecl(b, table.Decl{Spec: table.Spec{Name: fmt.Sprint("t", i), Kind: abi.TableArray, KeySize: 4, ValueSize: 4, MaxEntries: 1}})
			}
			return b
		}()},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			if _, err := table.ParseDecls(c.b); !errors.Is(err, table.ErrDecl) {
				t.Fatalf("got %v, want ErrDecl", err)
			}
		})
	}
}

func FuzzParseDecls(f *testing.F) {
	f.Add(table.AppendDecl(nil, table.Decl{Spec: table.Spec{Name: "flows", Kind: abi.TableHash, KeySize: 16, ValueSize: 8, MaxEntries: 10}}))
	f.Add(table.AppendDecl(table.AppendDecl(nil, table.Decl{Spec: table.Spec{Name: "a", Kind: abi.TableArray, KeySize: 4, ValueSize: 4, MaxEntries: 3}}),
		table.Decl{Spec: table.Spec{Name: "b", Kind: abi.TableHash, KeySize: 1, ValueSize: 1, MaxEntries: 1}, Write: true}))
	f.Fuzz(func(t *testing.T, b []byte) {
		specs, err := table.ParseDecls(b)
		if err != nil {
			return
		}
		var again []byte
		for _, s := range specs {
			if err := s.Validate(); err != nil {
				t.Fatalf("accepted invalid %v: %v", s, err)
			}
			again = table.AppendDecl(again, s)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", again, b)
		}
	})
}

// FuzzApply runs a byte-driven sequence of control-plane operations, of
// any sizes, against a model map and the SDK's view.
func FuzzApply(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add(bytes.Repeat([]byte{0x81, 3, 0x40}, 30))
	f.Fuzz(func(t *testing.T, prog []byte) {
		tb := newTable(t, table.Spec{Name: "f", Kind: abi.TableHash, KeySize: 2, ValueSize: 1, MaxEntries: 20})
		v := view(t, tb)
		model := map[string]byte{}
		for i := 0; i+2 < len(prog); i += 3 {
			op := table.Op{Delete: prog[i]&0x80 != 0, Key: []byte{prog[i] & 0x3f, 0}, Value: []byte{prog[i+1]}}
			if prog[i+2] == 0xff { // a wrong size
				op.Key = op.Key[:1]
			}
			err := tb.Apply([]table.Op{op})
			_, had := model[string(op.Key)]
			switch {
			case len(op.Key) != 2:
				if !errors.Is(err, table.ErrKeySize) {
					t.Fatalf("short key: %v", err)
				}
			case op.Delete && !had:
				if !errors.Is(err, table.ErrNotFound) {
					t.Fatalf("delete missing: %v", err)
				}
			case op.Delete:
				if err != nil {
					t.Fatal(err)
				}
				delete(model, string(op.Key))
			case !had && len(model) == 20:
				if !errors.Is(err, table.ErrFull) {
					t.Fatalf("full: %v", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				model[string(op.Key)] = op.Value[0]
			}
		}
		checkModel(t, tb, &v, model)
	})
}

func checkModel(t *testing.T, tb *table.Table, v *sdk.Table, model map[string]byte) {
	t.Helper()
	if v.Len() != len(model) || tb.Stats().Entries != uint64(len(model)) {
		t.Fatalf("len: view %d, table %d, model %d", v.Len(), tb.Stats().Entries, len(model))
	}
	for k, want := range model {
		got := v.Lookup([]byte(k))
		if got == nil || got[0] != want {
			t.Fatalf("key %x: view has %v, want %d", k, got, want)
		}
		val := make([]byte, tb.Spec().ValueSize)
		if ok, err := tb.Get([]byte(k), val); !ok || err != nil || val[0] != want {
			t.Fatalf("key %x: Get = %v %v %v", k, ok, err, val)
		}
	}
	n := 0
	v.Range(func(k, val []byte) bool {
		if model[string(k)] != val[0] {
			t.Fatalf("range: %x = %d, model %d", k, val[0], model[string(k)])
		}
		n++
		return true
	})
	if n != len(model) {
		t.Fatalf("range saw %d, model has %d", n, len(model))
	}
}

// TestHashModel checks random puts and deletes, against a map, on a table
// small enough that probe chains wrap around and deletions shift entries.
func TestHashModel(t *testing.T) {
	tb := newTable(t, table.Spec{Name: "m", Kind: abi.TableHash, KeySize: 2, ValueSize: 1, MaxEntries: 60})
	v := view(t, tb)
	model := map[string]byte{}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		k := []byte{byte(rng.IntN(100)), 7}
		_, had := model[string(k)]
		if rng.IntN(3) == 0 {
			err := tb.Apply([]table.Op{{Delete: true, Key: k}})
			if had != (err == nil) {
				t.Fatalf("delete %x: had %v, err %v", k, had, err)
			}
			delete(model, string(k))
			continue
		}
		val := byte(rng.Uint32())
		err := tb.Apply([]table.Op{{Key: k, Value: []byte{val}}})
		if !had && len(model) == 60 {
			if !errors.Is(err, table.ErrFull) {
				t.Fatalf("put into full table: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		model[string(k)] = val
	}
	checkModel(t, tb, &v, model)
}

// TestApplyAllOrNothing: a batch whose last op fails changes nothing.
func TestApplyAllOrNothing(t *testing.T) {
	tb := newTable(t, table.Spec{Name: "a", Kind: abi.TableHash, KeySize: 8, ValueSize: 4, MaxEntries: 3})
	v := view(t, tb)
	if err := tb.Apply([]table.Op{{Key: key8(1), Value: []byte{1, 1, 1, 1}}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		ops  []table.Op
		want error
	}{
		{"full", []table.Op{{Key: key8(2), Value: make([]byte, 4)}, {Key: key8(3), Value: make([]byte, 4)}, {Key: key8(4), Value: make([]byte, 4)}}, table.ErrFull},
		{"missing delete", []table.Op{{Key: key8(1), Value: []byte{9, 9, 9, 9}}, {Delete: true, Key: key8(5)}}, table.ErrNotFound},
		{"value size", []table.Op{{Delete: true, Key: key8(1)}, {Key: key8(2), Value: make([]byte, 5)}}, table.ErrValSize},
		{"key size", []table.Op{{Delete: true, Key: key8(1)}, {Key: make([]byte, 7), Value: make([]byte, 4)}}, table.ErrKeySize},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := tb.Stats()
			if err := tb.Apply(c.ops); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			checkModel(t, tb, &v, map[string]byte{string(key8(1)): 1})
			if after := tb.Stats(); after.Publications != before.Publications || after.FailedUpdate != before.FailedUpdate+1 {
				t.Fatalf("stats %+v after %+v", after, before)
			}
		})
	}
}

func TestArray(t *testing.T) {
	tb := newTable(t, table.Spec{Name: "arr", Kind: abi.TableArray, KeySize: 4, ValueSize: 3, MaxEntries: 10})
	v := view(t, tb)
	idx := func(i uint32) []byte { return binary.LittleEndian.AppendUint32(nil, i) }
	if err := tb.Apply([]table.Op{{Key: idx(9), Value: []byte{1, 2, 3}}}); err != nil {
		t.Fatal(err)
	}
	if got := v.At(9); !bytes.Equal(got, []byte{1, 2, 3}) {
		t.Fatalf("At(9) = %v", got)
	}
	if v.At(10) != nil || v.Len() != 10 {
		t.Fatalf("At(10) = %v, Len %d", v.At(10), v.Len())
	}
	if err := tb.Apply([]table.Op{{Key: idx(10), Value: []byte{1, 2, 3}}}); !errors.Is(err, table.ErrIndex) {
		t.Fatalf("index 10: %v", err)
	}
	if err := tb.Apply([]table.Op{{Delete: true, Key: idx(9)}}); err != nil || !bytes.Equal(v.At(9), []byte{0, 0, 0}) {
		t.Fatalf("delete: %v, %v", err, v.At(9))
	}
	if err := tb.Apply([]table.Op{{Key: idx(2), Value: []byte{4, 5, 6}}}); err != nil {
		t.Fatal(err)
	}
	if err := tb.Clear(); err != nil || !bytes.Equal(v.At(2), []byte{0, 0, 0}) {
		t.Fatalf("clear: %v, %v", err, v.At(2))
	}
}

// TestTornReadHammer runs readers that follow the guest's protocol (enter,
// look up through the SDK with plain loads, exit) against a writer that
// rewrites values, deletes and re-inserts keys. Every value is 8 bytes of key
// then 24 copies of one version byte: a torn entry shows mixed bytes, and a
// key that is never deleted must never be missing. (The race detector does
// not watch the shared mapping, which is outside Go's heap; it checks the
// host's own bookkeeping here.)
func TestTornReadHammer(t *testing.T) {
	const stable, churn = 500, 500
	tb := newTable(t, table.Spec{Name: "h", Kind: abi.TableHash, KeySize: 8, ValueSize: 32, MaxEntries: stable + churn})
	val := func(k uint64, ver byte) []byte {
		v := key8(k)
		return append(v, bytes.Repeat([]byte{ver}, 24)...)
	}
	var ops []table.Op
	for k := range uint64(stable + churn) {
		ops = append(ops, table.Op{Key: key8(k), Value: val(k, 0)})
	}
	if err := tb.Apply(ops); err != nil {
		t.Fatal(err)
	}
	dur := 2 * time.Second
	if testing.Short() {
		dur = 300 * time.Millisecond
	}
	var stop atomic.Bool
	var lookups, torn, missing atomic.Uint64
	var wg sync.WaitGroup
	for r := range max(2, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := view(t, tb)
			var rd table.Reader
			tb.AddReader(&rd)
			defer tb.RemoveReader(&rd)
			rng := rand.New(rand.NewPCG(uint64(r), 9))
			for !stop.Load() {
				rd.Enter()
				for range 64 { // a burst's worth of lookups in one "call"
					k := rng.Uint64N(stable + churn)
					got := v.Lookup(key8(k))
					lookups.Add(1)
					if got == nil {
						if k < stable {
							missing.Add(1)
						}
						continue
					}
					if !bytes.Equal(got[:8], key8(k)) || !bytes.Equal(got[8:], bytes.Repeat(got[8:9], 24)) {
						torn.Add(1)
					}
				}
				rd.Exit()
			}
		}()
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var updates int
	deadline := time.Now().Add(dur)
	for ver := byte(1); time.Now().Before(deadline); ver++ {
		ops = ops[:0]
		for range 16 {
			k := rng.Uint64N(stable + churn)
			ops = append(ops, table.Op{Key: key8(k), Value: val(k, ver)})
		}
		if err := tb.Apply(ops); err != nil {
			t.Fatal(err)
		}
		k := stable + rng.Uint64N(churn)
		if err := tb.Apply([]table.Op{{Delete: true, Key: key8(k)}}); err != nil {
			t.Fatal(err)
		}
		if err := tb.Apply([]table.Op{{Key: key8(k), Value: val(k, ver)}}); err != nil {
			t.Fatal(err)
		}
		updates += 18
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d lookups, %d updates", lookups.Load(), updates)
	if torn.Load() != 0 || missing.Load() != 0 {
		t.Fatalf("%d torn entries, %d stable keys missing", torn.Load(), missing.Load())
	}
	if lookups.Load() == 0 || updates == 0 {
		t.Fatal("the hammer did nothing")
	}
}

func TestStore(t *testing.T) {
	s := table.NewStore()
	defer s.Close()
	spec := table.Spec{Name: "flows", Kind: abi.TableHash, KeySize: 4, ValueSize: 4, MaxEntries: 10}
	k := table.Key{Tenant: "t", Scope: "memif0", Name: "flows"}
	var charged uint64
	charge := func(p uint64) (func(), error) {
		if charged+p > 4 {
			return nil, errors.New("over budget")
		}
		charged += p
		return func() { charged -= p }, nil
	}
	a, err := s.Acquire(k, spec, false, charge)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Apply([]table.Op{{Key: []byte("abcd"), Value: []byte("1234")}}); err != nil {
		t.Fatal(err)
	}
	b, err := s.Acquire(k, spec, false, charge)
	if err != nil || b != a || charged != spec.Pages() {
		t.Fatalf("same declaration: %p %p %v, charged %d", a, b, err, charged)
	}
	other := spec
	other.ValueSize = 8
	if _, err := s.Acquire(k, other, false, charge); !errors.Is(err, table.ErrIncompatible) {
		t.Fatalf("incompatible: %v", err)
	}
	big := other
	big.MaxEntries = 100000
	if _, err := s.Acquire(k, big, true, charge); err == nil || s.Get(k) != a {
		t.Fatalf("over budget: %v; the old table must stay", err)
	}
	c, err := s.Acquire(k, other, true, charge)
	if err != nil || c == a || c.Stats().Entries != 0 || charged != other.Pages() {
		t.Fatalf("fresh: %v, entries %d, charged %d", err, c.Stats().Entries, charged)
	}
	if err := a.Apply(nil); !errors.Is(err, table.ErrClosed) {
		t.Fatalf("old table after fresh: %v", err)
	}
	if s.Close() != nil || charged != 0 || s.Close() != nil {
		t.Fatalf("close: charged %d", charged)
	}
}

func TestCountersRows(t *testing.T) {
	tb := newTable(t, table.Spec{Name: "c", Kind: abi.TableCounters, KeySize: 4, ValueSize: 8, MaxEntries: 3})
	if tb.Layout().GuestBytes != abi.WindowAlign || tb.Layout().Bytes != abi.MaxCounterRows*abi.WindowAlign {
		t.Fatalf("layout %+v", tb.Layout())
	}
	var mem []byte
	err := tb.MapFD(func(fd int) (err error) { mem, err = mmap.MapFile(fd, int(tb.Layout().Bytes)); return err })
	if err != nil {
		t.Fatal(err)
	}
	defer mmap.UnmapFile(mem)
	var rows []int
	for range abi.MaxCounterRows {
		r, off, err := tb.AcquireRow()
		if err != nil {
			t.Fatal(err)
		}
		if off != int64(r)*abi.WindowAlign || binary.LittleEndian.Uint32(mem[off+abi.RowIndex:]) != uint32(r) {
			t.Fatalf("row %d at %d", r, off)
		}
		binary.LittleEndian.PutUint64(mem[off+abi.CounterHeaderSize+8:], 5) // counter 1 += 5
		rows = append(rows, r)
	}
	if _, _, err := tb.AcquireRow(); !errors.Is(err, table.ErrNoRow) {
		t.Fatalf("row %d: %v", abi.MaxCounterRows+1, err)
	}
	val := make([]byte, 8)
	sum := func() uint64 {
		if ok, err := tb.Get([]byte{1, 0, 0, 0}, val); !ok || err != nil {
			t.Fatal(ok, err)
		}
		return binary.LittleEndian.Uint64(val)
	}
	if got := sum(); got != 5*abi.MaxCounterRows {
		t.Fatalf("sum %d", got)
	}
	tb.ReleaseRow(rows[0])
	tb.ReleaseRow(rows[0]) // twice: no double count
	if got := sum(); got != 5*abi.MaxCounterRows {
		t.Fatalf("sum after a release %d", got)
	}
	if r, off, err := tb.AcquireRow(); err != nil || r != rows[0] || binary.LittleEndian.Uint64(mem[off+abi.CounterHeaderSize+8:]) != 0 {
		t.Fatalf("reacquired row %d: %v, not zeroed", r, err)
	}
	if tb.Clear() != nil || sum() != 0 {
		t.Fatalf("after clear: %d", sum())
	}
	if _, err := tb.Get([]byte{3, 0, 0, 0}, val); !errors.Is(err, table.ErrIndex) {
		t.Fatalf("index 3: %v", err)
	}
	if err := tb.Apply([]table.Op{{Delete: true, Key: []byte{1, 0, 0, 0}}}); !errors.Is(err, table.ErrReadOnly) {
		t.Fatalf("delete: %v", err)
	}
}

// TestEnqueue: changes a plugin queues are published by the host without
// the plugin waiting, each on its own; the queue is bounded while a reader
// holds a publication up.
func TestEnqueue(t *testing.T) {
	tb := newTable(t, table.Spec{Name: "q", Kind: abi.TableHash, KeySize: 8, ValueSize: 1, MaxEntries: table.MaxPending + 1})
	var rd table.Reader
	tb.AddReader(&rd)
	rd.Enter() // a guest call in progress: the first publication waits for it
	if err := tb.Enqueue(table.Op{Key: key8(0), Value: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	for tb.Stats().Publications == 0 { // the flusher flipped and now waits for rd
		time.Sleep(50 * time.Microsecond)
	}
	for i := range table.MaxPending {
		if err := tb.Enqueue(table.Op{Key: key8(uint64(i + 1)), Value: []byte{1}}); err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
	}
	if err := tb.Enqueue(table.Op{Key: key8(1 << 40), Value: []byte{1}}); !errors.Is(err, table.ErrQueueFull) {
		t.Fatalf("past MaxPending: %v", err)
	}
	if err := tb.Enqueue(table.Op{Key: key8(1), Value: []byte{1, 2}}); !errors.Is(err, table.ErrValSize) {
		t.Fatalf("bad size: %v", err)
	}
	rd.Exit()
	tb.Flush()
	if got := tb.Stats().Entries; got != table.MaxPending+1 {
		t.Fatalf("%d entries, want %d", got, table.MaxPending+1)
	}
	// A delete of a missing key is dropped alone; the rest of its batch lands.
	failed := tb.Stats().FailedUpdate
	tb.Enqueue(table.Op{Delete: true, Key: key8(1 << 41)})
	tb.Enqueue(table.Op{Delete: true, Key: key8(0)})
	tb.Flush()
	if st := tb.Stats(); st.Entries != table.MaxPending || st.FailedUpdate != failed+1 {
		t.Fatalf("stats %+v", st)
	}
	tb.Close()
	if err := tb.Enqueue(table.Op{Key: key8(5), Value: []byte{1}}); !errors.Is(err, table.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}
