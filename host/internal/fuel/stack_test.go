package fuel

import (
	"bytes"
	"context"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/memif-wasm/memif-wasm/host/internal/leb128"
)

// exitsModule leaves its functions every way wasm has: falling off the end,
// return from nested blocks, br, br_if and br_table to the function's label,
// tail calls, and several results. Each function calls, so each takes from
// the stack budget. "br_table" and "$two" have a br_table that reaches the
// function's label, so their bodies are wrapped; "$two"'s wrapper needs a
// block type with no parameters and its results, which $pairT is.
const exitsModule = `(module
  (type $ii (func (param i32) (result i32)))
  (type $pairT (func (result i32 i64)))
  (table 1 funcref)
  (elem (i32.const 0) $id)
  (func $id (type $ii) (local.get 0))
  (func (export "end") (param i32) (result i32) (drop (call $id (i32.const 0)))
    (i32.add (local.get 0) (i32.const 1)))
  (func (export "ret") (param i32) (result i32) (drop (call $id (i32.const 0)))
    (block (block (if (local.get 0) (then (return (i32.const 7))))))
    (i32.const 8))
  (func (export "br") (param i32) (result i32) (drop (call $id (i32.const 0)))
    (block (loop (if (local.get 0) (then (br 3 (i32.const 9))))))
    (i32.const 10))
  (func (export "br_if") (param i32) (result i32) (drop (call $id (i32.const 0)))
    (block (br_if 1 (i32.const 11) (local.get 0)) (drop))
    (i32.const 12))
  (func (export "br_table") (param i32) (result i32) (drop (call $id (i32.const 0)))
    (block $a (result i32)
      (block $b (result i32) (br_table $b $a 2 (i32.const 13) (local.get 0)))
      (i32.const 1) (i32.add) (return))
    (i32.const 2) (i32.add))
  (func $down (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 16))
      (else (return_call $down (i32.sub (local.get 0) (i32.const 1))))))
  (func (export "tail") (param i32) (result i32) (return_call $down (local.get 0)))
  (func (export "tail_indirect") (param i32) (result i32)
    (return_call_indirect (type $ii) (local.get 0) (i32.const 0)))
  (func $two (export "two") (param i32) (result i32 i64) (drop (call $id (i32.const 0)))
    (if (i32.eq (local.get 0) (i32.const 1)) (then (return (i32.const 17) (i64.const 18))))
    (i32.const 19) (i64.const 20)
    (block (param i32 i64) (result i32 i64) (br_table 0 1 (local.get 0))))
  (func $pair (export "pair") (type $pairT) (i32.const 21) (i64.const 22))
  (func (export "calls") (param i32) (result i32)
    (call $two (local.get 0)) (drop)
    (local.get 0) (i32.add)
    (i32.const 0) (call_indirect (type $ii))
    (call $id))
)`

// TestStackGivenBackOnEveryExit runs every way out of a function and checks
// that the results are the original's and that the stack global ends where
// it started: a frame not given back would shrink the budget call by call.
func TestStackGivenBackOnEveryExit(t *testing.T) {
	orig := wat(t, exitsModule)
	inst, st := instrument(t, orig, Config{})
	if st.StackGlobal != st.FuelGlobal+1 {
		t.Errorf("stack global %d, want the one after the fuel global %d", st.StackGlobal, st.FuelGlobal)
	}
	// All but $id and $pair call; "br_table" and "$two" are wrapped.
	if st.Accounted != 10 || st.Wrapped != 2 {
		t.Errorf("%d functions accounted, %d wrapped; want 10 and 2", st.Accounted, st.Wrapped)
	}
	rt := newRuntime(t)
	a, b := instantiate(t, rt, orig), instantiate(t, rt, inst)
	fuelOf(t, b).Set(1 << 40)
	stack := stackOf(t, b)
	if got := int32(stack.Get()); got != DefaultStack {
		t.Fatalf("stack global starts at %d, want DefaultStack %d", got, DefaultStack)
	}
	for _, name := range []string{"end", "ret", "br", "br_if", "br_table", "tail", "tail_indirect", "two", "calls"} {
		for _, arg := range []uint64{0, 1, 2, 5} {
			want, werr := call(t, a, name, arg)
			got, gerr := call(t, b, name, arg)
			if werr != nil || gerr != nil || !slices.Equal(got, want) {
				t.Errorf("%s(%d) = %v, %v; original %v, %v", name, arg, got, gerr, want, werr)
			}
			if left := int32(stack.Get()); left != DefaultStack {
				t.Fatalf("%s(%d) left the stack global at %d, want %d", name, arg, left, DefaultStack)
			}
		}
	}
	if got, err := call(t, b, "pair"); err != nil || !slices.Equal(got, []uint64{21, 22}) {
		t.Errorf("pair() = %v, %v", got, err)
	}
}

// TestWrapperTypes: a function with several results and parameters gets a
// block type with no parameters appended to the type section, once per
// distinct result list, unless the module has one.
func TestWrapperTypes(t *testing.T) {
	orig := wat(t, exitsModule)
	out, _ := instrument(t, orig, Config{})
	_, inRaw := sections(t, orig)
	outIDs, outRaw := sections(t, out)
	if outIDs[0] != secType {
		t.Fatalf("first section %d, want the type section", outIDs[0])
	}
	// $two is (i32) -> (i32 i64); $pairT is () -> (i32 i64), the block
	// type $two's wrapped body needs, so nothing is added.
	if !bytes.Equal(outRaw[0], inRaw[0]) {
		t.Errorf("type section changed although a matching type exists:\n% x\n% x", inRaw[0], outRaw[0])
	}
	// Without $pairT the rewrite must add it.
	noPair := strings.Replace(exitsModule, `(type $pairT (func (result i32 i64)))`, ``, 1)
	noPair = strings.Replace(noPair, `(func $pair (export "pair") (type $pairT) (i32.const 21) (i64.const 22))`, ``, 1)
	orig2 := wat(t, noPair)
	out2, _ := instrument(t, orig2, Config{})
	_, in2 := sections(t, orig2)
	_, o2 := sections(t, out2)
	inCount, n, _ := leb128.U32(in2[0], 2)
	outCount, m, _ := leb128.U32(o2[0], 2)
	if outCount != inCount+1 {
		t.Fatalf("type count %d, want %d + 1", outCount, inCount)
	}
	added := []byte{0x60, 0, 2, valI32, valI64}
	if !bytes.Equal(o2[0][2+m:], append(slices.Clone(in2[0][2+n:]), added...)) {
		t.Errorf("type section % x, want the original entries then % x", o2[0], added)
	}
	b := instantiate(t, newRuntime(t), out2)
	fuelOf(t, b).Set(1 << 40)
	for arg, want := range [][]uint64{{19, 20}, {17, 18}, {19, 20}} {
		if got, err := call(t, b, "two", uint64(arg)); err != nil || !slices.Equal(got, want) {
			t.Errorf("two(%d) = %v, %v; want %v", arg, got, err, want)
		}
	}
}

// TestStackExhaustion: recursion traps when the frames it took exceed the
// budget, with the global negative, whatever the fuel; the trap comes at
// exactly budget/frame frames deep; and the host can set another budget
// between calls.
func TestStackExhaustion(t *testing.T) {
	const src = `(module (global $depth (export "depth") (mut i32) (i32.const 0))
	  (func $down (export "down") (param i32)
	    (global.set $depth (local.get 0))
	    (call $down (i32.add (local.get 0) (i32.const 1))))
	  (func (export "own") unreachable))`
	frame := frameBytes(1) // one parameter, no locals
	for _, budget := range []int64{0, frame - 1, frame, 1000 * frame, 1000*frame + frame - 1, DefaultStack} {
		mod := instantiate(t, newRuntime(t), mustInstrument(t, wat(t, src), Config{}))
		fuelOf(t, mod).Set(1 << 40)
		stack := stackOf(t, mod)
		stack.Set(uint64(budget))
		_, err := call(t, mod, "down", 0)
		if err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("budget %d: err %v, want an unreachable trap", budget, err)
		}
		if left := int32(stack.Get()); left >= 0 {
			t.Errorf("budget %d: stack global %d after the trap, want negative", budget, left)
		}
		if fuel := int64(fuelOf(t, mod).Get()); fuel < 0 {
			t.Errorf("budget %d: fuel %d, want the stack to stop it first", budget, fuel)
		}
		frames := budget / frame // the calls that fit; the next one traps
		depth := int64(int32(mod.ExportedGlobal("depth").Get()))
		if frames > 0 && depth != frames-1 {
			t.Errorf("budget %d: deepest frame %d, want %d (%d frames of %d bytes)", budget, depth, frames-1, frames, frame)
		}
	}
	mod := instantiate(t, newRuntime(t), mustInstrument(t, wat(t, src), Config{Stack: 7 * frame}))
	stack := stackOf(t, mod)
	if _, err := call(t, mod, "own"); err == nil || int32(stack.Get()) < 0 {
		t.Errorf("the guest's own trap: err %v, stack global %d; want the trap with the global non-negative", err, int32(stack.Get()))
	}
}

// TestStackRecursionThroughEveryExit: recursion stays bounded however the
// recursing function could leave: a br_if to its label that is not taken
// (the frame, given back before it, must be taken again after it), a
// return that is not taken, and a br_table to its label (a wrapped body).
func TestStackRecursionThroughEveryExit(t *testing.T) {
	const src = `(module
	  (func $brif (export "brif") (param i32) (br_if 0 (i32.const 0)) (call $brif (local.get 0)))
	  (func $ret (export "ret") (param i32) (if (i32.const 0) (then return)) (call $ret (local.get 0)))
	  (func $table (export "table") (param i32) (block (br_table 0 1 (i32.const 0))) (call $table (local.get 0))))`
	mod := instantiate(t, newRuntime(t), mustInstrument(t, wat(t, src), Config{}))
	fuel, stack := fuelOf(t, mod), stackOf(t, mod)
	for _, name := range []string{"brif", "ret", "table"} {
		fuel.Set(1 << 40)
		stack.Set(DefaultStack)
		_, err := call(t, mod, name, 0)
		if err == nil || !strings.Contains(err.Error(), "unreachable") || int32(stack.Get()) >= 0 {
			t.Errorf("%s: err %q, stack global %d; want the stack budget's trap", name, firstLine(err), int32(stack.Get()))
		}
	}
}

// TestStackBoundsHostMemory: wazero keeps a guest's call stack on the Go heap
// and grows it by doubling up to hundreds of MB; under the default stack
// budget a runaway recursion with all the fuel it wants makes it allocate
// little. This is the allocation the budget exists to bound.
func TestStackBoundsHostMemory(t *testing.T) {
	const src = `(module (func $down (export "down") (param i32) (result i32)
	    (i32.add (call $down (i32.add (local.get 0) (i32.const 1))) (i32.const 1))))`
	rt := newRuntime(t)
	wasm := mustInstrument(t, wat(t, src), Config{})
	for _, tt := range []struct {
		stack    int64
		maxAlloc uint64
	}{{DefaultStack, 16 << 20}, {math.MaxInt32, 0}} {
		mod := instantiate(t, rt, wasm)
		fuelOf(t, mod).Set(1 << 40)
		stackOf(t, mod).Set(uint64(tt.stack))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := mod.ExportedFunction("down").Call(context.Background(), 0)
		runtime.ReadMemStats(&after)
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("stack budget %d: %q after %d MB allocated", tt.stack, firstLine(err), alloc>>20)
		if err == nil {
			t.Fatalf("stack budget %d: runaway recursion returned", tt.stack)
		}
		if tt.maxAlloc > 0 && alloc > tt.maxAlloc {
			t.Errorf("stack budget %d: %d MB allocated, want at most %d MB", tt.stack, alloc>>20, tt.maxAlloc>>20)
		}
	}
}

func firstLine(err error) string {
	if err == nil {
		return ""
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
