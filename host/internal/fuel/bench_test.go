package fuel

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero/api"
)

const loopModule = `(module (func (export "count") (param $n i32) (result i32) (local $i i32) (local $s i32)
  (loop $l
    (local.set $s (i32.add (local.get $s) (i32.xor (local.get $i) (i32.const 0x55))))
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
  (local.get $s)))`

// burst runs fn once per iteration as the host would per burst: set the
// budget, call with a caller-owned stack, read the fuel back.
func burst(b *testing.B, mod api.Module, fn string, g api.MutableGlobal, args ...uint64) {
	ctx := context.Background()
	f := mod.ExportedFunction(fn)
	stack := make([]uint64, 2)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if g != nil {
			g.Set(1 << 40)
		}
		copy(stack, args)
		if err := f.CallWithStack(ctx, stack); err != nil {
			b.Fatal(err)
		}
		if g != nil && int64(g.Get()) < 0 {
			b.Fatal("out of fuel")
		}
	}
}

// BenchmarkOverhead compares a tight WAT loop (10,000 iterations, the worst
// case: one charge per 12 instructions) and a C checksum over 4 KiB,
// uninstrumented and instrumented.
func BenchmarkOverhead(b *testing.B) {
	guests := []struct {
		name string
		wasm func(testing.TB) []byte
		fn   string
		args []uint64
	}{
		{"wat-loop-10k", func(t testing.TB) []byte { return wat(t, loopModule) }, "count", []uint64{10000}},
		{"c-checksum-4k", func(t testing.TB) []byte { return clangWasm(t, cSource, "-msimd128", "-mbulk-memory") }, "checksum", []uint64{4096}},
		{"c-ack-2-6", func(t testing.TB) []byte { return clangWasm(t, cSource, "-msimd128", "-mbulk-memory") }, "ack", []uint64{2, 6}},
	}
	for _, gu := range guests {
		b.Run(gu.name, func(b *testing.B) {
			orig := gu.wasm(b)
			inst, _ := instrument(b, orig, Config{})
			rt := newRuntime(b)
			b.Run("original", func(b *testing.B) { burst(b, instantiate(b, rt, orig), gu.fn, nil, gu.args...) })
			b.Run("instrumented", func(b *testing.B) {
				mod := instantiate(b, rt, inst)
				burst(b, mod, gu.fn, fuelOf(b, mod), gu.args...)
			})
		})
	}
}

// BenchmarkInstrument measures the rewrite itself on a Go guest (1.9 MB) and
// a clang guest.
func BenchmarkInstrument(b *testing.B) {
	guests := []struct {
		name string
		wasm func(testing.TB) []byte
	}{
		{"c", func(t testing.TB) []byte { return clangWasm(t, cSource, "-msimd128", "-mbulk-memory") }},
		{"go", goWasm},
	}
	for _, gu := range guests {
		b.Run(gu.name, func(b *testing.B) {
			in := gu.wasm(b)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Instrument(in, Config{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestBurstProtocolAllocations: setting the budget, calling and reading the
// fuel back allocates nothing, so metering adds no garbage per burst.
func TestBurstProtocolAllocations(t *testing.T) {
	mod := instantiate(t, newRuntime(t), mustInstrument(t, wat(t, loopModule), Config{}))
	g := fuelOf(t, mod)
	f := mod.ExportedFunction("count")
	ctx := context.Background()
	stack := make([]uint64, 1)
	allocs := testing.AllocsPerRun(100, func() {
		g.Set(1 << 20)
		stack[0] = 100
		if err := f.CallWithStack(ctx, stack); err != nil {
			t.Fatal(err)
		}
		if int64(g.Get()) < 0 {
			t.Fatal("out of fuel")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per burst, want 0", allocs)
	}
}
