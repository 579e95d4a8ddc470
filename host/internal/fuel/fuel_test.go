package fuel

import (
	"bytes"
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero/api"
)

// call runs an export and returns its results and the error text.
func call(t *testing.T, mod api.Module, name string, args ...uint64) ([]uint64, error) {
	t.Helper()
	f := mod.ExportedFunction(name)
	if f == nil {
		t.Fatalf("no export %q", name)
	}
	return f.Call(context.Background(), args...)
}

// equivalenceModule exercises control flow, memory, bulk memory, tables,
// SIMD, multi-value, tail calls and atomics; each export is run on the same
// inputs before and after instrumentation.
const equivalenceModule = `(module
  (type $ii (func (param i32) (result i32)))
  (memory (export "memory") 1 1 shared)
  (table $t 4 funcref)
  (global $g (mut i32) (i32.const 7))
  (global $c i64 (i64.add (i64.const 40) (i64.const 2)))
  (elem (i32.const 0) $sq $fact)
  (data $d "memif-wasm fuel")
  (func $sq (type $ii) (i32.mul (local.get 0) (local.get 0)))
  (func $fact (export "fact") (param $n i32) (result i32) (local $acc i32)
    (local.set $acc (i32.const 1))
    (block $done
      (loop $l
        (br_if $done (i32.le_s (local.get $n) (i32.const 1)))
        (local.set $acc (i32.mul (local.get $acc) (local.get $n)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l)))
    (local.get $acc))
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  (func (export "dispatch") (param $i i32) (param $x i32) (result i32)
    (block $b2 (block $b1 (block $b0
      (br_table $b0 $b1 $b2 (local.get $i)))
      (return (call_indirect (type $ii) (local.get $x) (i32.const 0))))
      (return (call_indirect (type $ii) (local.get $x) (i32.const 1))))
    (i32.const -1))
  (func (export "pairsum") (param $n i32) (result i32)
    ;; a loop with block parameters: the charge must stay stack-neutral
    (i32.const 0) (local.get $n)
    (loop $l (param i32 i32) (result i32 i32)
      (local.set $n)
      (i32.add (local.get $n))
      (local.get $n) (i32.const 1) (i32.sub)
      (local.tee $n)
      (br_if $l (i32.ne (local.get $n) (i32.const 0))))
    (drop))
  (func (export "bulk") (param $n i32) (result i32) (local $i i32) (local $s i32)
    (memory.fill (i32.const 100) (i32.const 3) (local.get $n))
    (memory.init $d (i32.const 200) (i32.const 0) (i32.const 15))
    (memory.copy (i32.const 300) (i32.const 200) (i32.const 15))
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load8_u offset=100 (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 400))))
    (i32.add (local.get $s) (i32.load offset=304 (i32.const 0))))
  (func (export "tables") (result i32)
    (drop (table.grow $t (ref.null func) (i32.const 2)))
    (table.fill $t (i32.const 4) (ref.func $sq) (i32.const 2))
    (table.copy $t $t (i32.const 2) (i32.const 0) (i32.const 2))
    (i32.add (table.size $t) (call_indirect $t (type $ii) (i32.const 5) (i32.const 3))))
  (func (export "simd") (param $x i32) (result i32)
    (i32x4.extract_lane 2
      (i32x4.add (i32x4.splat (local.get $x))
        (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15
          (v128.const i32x4 1 2 3 4) (v128.load offset=16 (i32.const 0))))))
  (func (export "numeric") (param $f f64) (result i64)
    (i64.add (i64.trunc_sat_f64_s (local.get $f))
      (i64.add (i64.extend8_s (i64.const 0x1ff)) (global.get $c))))
  (func (export "selects") (param $a i32) (result i32)
    (global.set $g (i32.add (global.get $g) (local.get $a)))
    (select (result i32) (global.get $g) (i32.const 9) (local.get $a)))
  (func $even (export "even") (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n)) (then (i32.const 1))
      (else (return_call $odd (i32.sub (local.get $n) (i32.const 1))))))
  (func $odd (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n)) (then (i32.const 0))
      (else (return_call $even (i32.sub (local.get $n) (i32.const 1))))))
  (func (export "atomics") (param $x i32) (result i32)
    (drop (i32.atomic.rmw.add (i32.const 64) (local.get $x)))
    (atomic.fence)
    (i32.atomic.load (i32.const 64)))
  (func (export "trap") (param $x i32) (result i32)
    (if (local.get $x) (then unreachable))
    (i32.div_u (i32.const 1) (local.get $x)))
)`

func TestInstrumentedBehavesLikeOriginal(t *testing.T) {
	orig := wat(t, equivalenceModule)
	inst, st := instrument(t, orig, Config{})
	if st.Functions != 14 || st.Loops != 3 || st.BulkOps != 6 {
		t.Errorf("stats %+v, want 14 functions, 3 loops, 6 bulk ops", st)
	}
	rt := newRuntime(t)
	a, b := instantiate(t, rt, orig), instantiate(t, rt, inst)
	fuelOf(t, b).Set(1 << 40)
	calls := []struct {
		name string
		args [][]uint64
	}{
		{"fact", [][]uint64{{0}, {1}, {5}, {12}}},
		{"fib", [][]uint64{{0}, {1}, {15}}},
		{"dispatch", [][]uint64{{0, 7}, {1, 6}, {2, 1}, {9, 1}}},
		{"pairsum", [][]uint64{{1}, {100}}},
		{"bulk", [][]uint64{{0}, {17}, {400}, {70000}}}, // the last traps out of bounds in both
		{"tables", [][]uint64{{}, {}}},
		{"simd", [][]uint64{{5}}},
		{"numeric", [][]uint64{{api.EncodeF64(-3.9)}, {api.EncodeF64(1e300)}}},
		{"selects", [][]uint64{{0}, {4}, {1}}},
		{"even", [][]uint64{{10}, {100001}}},
		{"atomics", [][]uint64{{3}, {4}}},
		{"trap", [][]uint64{{0}, {1}}},
	}
	stack := stackOf(t, b)
	for _, c := range calls {
		for _, args := range c.args {
			want, werr := call(t, a, c.name, args...)
			stack.Set(DefaultStack) // a trap leaves its frames taken
			got, gerr := call(t, b, c.name, args...)
			if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
				t.Errorf("%s%v: error %v, original %v", c.name, args, gerr, werr)
				continue
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s%v = %v, original %v", c.name, args, got, want)
			}
			if left := int32(stack.Get()); gerr == nil && left != DefaultStack {
				t.Errorf("%s%v left the stack global at %d, want it given back to %d", c.name, args, left, DefaultStack)
			}
		}
	}
	if fuel := int64(fuelOf(t, b).Get()); fuel <= 0 || fuel == 1<<40 {
		t.Errorf("fuel after the calls = %d, want spent but positive", fuel)
	}
}

// TestFuelAccounting pins the cost model: one unit per instruction except
// block, loop, end and nop (free), charged at function entry and loop
// headers for the code that runs up to the next charge. The code after a
// loop belongs to the function entry's charge and is paid once, not on
// every pass of the loop.
func TestFuelAccounting(t *testing.T) {
	const src = `(module (func (export "count") (param $n i32) (result i32) (local $i i32)
	  (loop $l
	    (local.set $i (i32.add (local.get $i) (i32.const 1)))
	    (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
	  (local.get $i))
	  (func (export "fill") (param $n i32) (memory.fill (i32.const 0) (i32.const 0) (local.get $n)))
	  (memory 1))`
	// entry: local.get after the loop = 1; loop body: 8 instructions.
	// fill: 4 instructions + size/BytesPerFuel.
	tests := []struct {
		name string
		cfg  Config
		fn   string
		arg  uint64
		want int64
	}{
		{"one iteration", Config{}, "count", 0, 1 + 8},
		{"ten iterations", Config{}, "count", 10, 1 + 10*8},
		{"instruction cost 5", Config{Costs: Costs{Instruction: 5}}, "count", 10, 5 * (1 + 10*8)},
		{"fill 1000 bytes", Config{}, "fill", 1000, 4 + 1000/DefaultBytesPerFuel},
		{"fill 1000 bytes, 1 per fuel", Config{Costs: Costs{BytesPerFuel: 1}}, "fill", 1000, 4 + 1000},
		{"fill 1000 bytes, 64 per fuel", Config{Costs: Costs{BytesPerFuel: 64}}, "fill", 1000, 4 + 1000/64},
		// Region 7: the entry and each of the ten loop passes charge 7 more.
		{"region cost 7", Config{Costs: Costs{Region: 7}}, "count", 10, 1 + 10*8 + 7*(1+10)},
		{"region cost on a loop-free function", Config{Costs: Costs{Region: 7}}, "fill", 1000, 4 + 1000/DefaultBytesPerFuel + 7},
		// Call 100: only the entry charges it, not the loop passes.
		{"call cost 100", Config{Costs: Costs{Call: 100}}, "count", 10, 1 + 10*8 + 100},
		{"call and region", Config{Costs: Costs{Call: 100, Region: 7}}, "count", 10, 1 + 10*8 + 100 + 7*(1+10)},
	}
	orig := wat(t, src)
	rt := newRuntime(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mod := instantiate(t, rt, mustInstrument(t, orig, tt.cfg))
			g := fuelOf(t, mod)
			const budget = 1 << 30
			g.Set(budget)
			if _, err := call(t, mod, tt.fn, tt.arg); err != nil {
				t.Fatal(err)
			}
			if used := budget - int64(g.Get()); used != tt.want {
				t.Errorf("used %d fuel, want %d", used, tt.want)
			}
		})
	}
}

func mustInstrument(t *testing.T, wasm []byte, cfg Config) []byte {
	out, _ := instrument(t, wasm, cfg)
	return out
}

// TestExhaustion shows that runaway guests trap with the global negative,
// that a guest's own unreachable leaves it non-negative, and that the
// instance stays usable for a well-behaved guest.
func TestExhaustion(t *testing.T) {
	const src = `(module
	  (func (export "spin") (loop $l (br $l)))
	  (func $down (export "down") (call $down))
	  (func (export "grow") (result i32) (memory.grow (i32.const 1000)))
	  (func (export "fill") (memory.fill (i32.const 0) (i32.const 1) (i32.const 65536)))
	  (func (export "own") (unreachable))
	  (func (export "ok") (result i32) (i32.const 42))
	  (memory 1 2000))`
	mod := instantiate(t, newRuntime(t), mustInstrument(t, wat(t, src), Config{}))
	g := fuelOf(t, mod)
	// A trap leaves the stack global short of the trapped frames; the
	// host discards such an instance, this test resets the global. Its
	// budget here lets fuel, not stack, stop the recursion.
	stack := stackOf(t, mod)
	tests := []struct {
		name    string
		fn      string
		budget  int64
		outOf   bool // want a fuel trap
		ownTrap bool // want the guest's own trap
	}{
		{"infinite loop", "spin", 1_000_000, true, false},
		{"deep recursion", "down", 100_000, true, false},
		{"memory.grow by 1000 pages", "grow", 1_000_000, true, false},
		{"memory.fill of 64 KiB", "fill", 1_000, true, false},
		{"guest unreachable", "own", 1_000, false, true},
		{"fits the budget", "ok", 100, false, false},
		{"zero budget", "ok", 0, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g.Set(uint64(tt.budget))
			stack.Set(math.MaxInt32)
			_, err := call(t, mod, tt.fn)
			left := int64(g.Get())
			switch {
			case tt.outOf && (err == nil || left >= 0):
				t.Fatalf("err %v, fuel left %d; want a fuel trap", err, left)
			case tt.ownTrap && (err == nil || left < 0):
				t.Fatalf("err %v, fuel left %d; want the guest's trap with fuel left", err, left)
			case !tt.outOf && !tt.ownTrap && (err != nil || left < 0):
				t.Fatalf("err %v, fuel left %d; want success", err, left)
			}
			if err != nil && !strings.Contains(err.Error(), "unreachable") {
				t.Errorf("error %q does not mention unreachable", err)
			}
		})
	}
}

// TestInitialFuelBudgetsStart shows the start function runs on InitialFuel.
func TestInitialFuelBudgetsStart(t *testing.T) {
	const src = `(module (global $i (mut i32) (i32.const 0))
	  (func $start (loop $l (global.set $i (i32.add (global.get $i) (i32.const 1)))
	    (br_if $l (i32.lt_u (global.get $i) (i32.const 1000)))))
	  (start $start))`
	orig := wat(t, src)
	rt := newRuntime(t)
	ctx := context.Background()
	// entry: nothing but the (free) loop and end; loop body: 8 instructions.
	const need = 1000 * 8
	cm, err := rt.CompileModule(ctx, mustInstrument(t, orig, Config{InitialFuel: need - 1}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.InstantiateModule(ctx, cm, wazeroConfig()); err == nil {
		t.Fatal("start function ran on too little initial fuel")
	}
	mod := instantiate(t, rt, mustInstrument(t, orig, Config{InitialFuel: need + 7}))
	if left := int64(fuelOf(t, mod).Get()); left != 7 {
		t.Errorf("fuel left after start = %d, want 7", left)
	}
	mod = instantiate(t, rt, mustInstrument(t, orig, Config{}))
	if left := int64(fuelOf(t, mod).Get()); left != DefaultInitialFuel-need {
		t.Errorf("fuel left after start = %d, want %d", left, DefaultInitialFuel-need)
	}
}

// TestDeterministicAndPure checks the rewrite does not touch its input and
// gives the same bytes every time.
func TestDeterministicAndPure(t *testing.T) {
	orig := wat(t, equivalenceModule)
	keep := bytes.Clone(orig)
	a := mustInstrument(t, orig, Config{})
	b := mustInstrument(t, orig, Config{})
	if !bytes.Equal(a, b) {
		t.Error("two rewrites of the same input differ")
	}
	if !bytes.Equal(orig, keep) {
		t.Error("Instrument modified its input")
	}
}

// TestReinstrumentRefused: an instrumented module exports the fuel global,
// so instrumenting it again is an export clash, not a second counter.
func TestReinstrumentRefused(t *testing.T) {
	once := mustInstrument(t, wat(t, `(module (func (export "f")))`), Config{})
	if _, err := Instrument(once, Config{}); !errors.Is(err, ErrExportClash) {
		t.Fatalf("err = %v, want ErrExportClash", err)
	}
}
