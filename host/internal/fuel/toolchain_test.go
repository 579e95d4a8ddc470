package fuel

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

const cSource = `
typedef unsigned char u8;
typedef unsigned int u32;
static u8 data[4096];
static int va[256], vb[256];

__attribute__((export_name("buf"))) u8 *buf(void) { return data; }

__attribute__((export_name("checksum"))) u32 checksum(u32 n) {
	u32 h = 2166136261u;
	for (u32 i = 0; i < n && i < sizeof data; i++) h = (h ^ data[i]) * 16777619u;
	return h;
}

__attribute__((export_name("shuffle"))) u32 shuffle(u32 n) {
	if (n > 2048) n = 2048;
	__builtin_memcpy(data + 2048, data, n);
	__builtin_memset(data, 0x5a, n / 2);
	return checksum(4096);
}

__attribute__((export_name("vsum"))) int vsum(int k) {
	for (int i = 0; i < 256; i++) { va[i] = i * k; vb[i] = i ^ k; }
	for (int i = 0; i < 256; i++) va[i] = va[i] * 3 + vb[i];
	int s = 0;
	for (int i = 0; i < 256; i++) s += va[i];
	return s;
}

__attribute__((export_name("ack"))) u32 ack(u32 m, u32 n) {
	if (m == 0) return n + 1;
	if (n == 0) return ack(m - 1, 1);
	return ack(m - 1, ack(m, n - 1));
}
`

// TestClangModule runs a clang module with SIMD (0xFD), bulk memory (0xFC)
// and DWARF through the rewriter and compares it with the original.
func TestClangModule(t *testing.T) {
	t.Parallel()
	orig := clangWasm(t, cSource, "-g", "-msimd128", "-mbulk-memory")
	if !bytes.Contains(orig, []byte(".debug_info")) {
		t.Fatal("clang -g produced no DWARF; the strip check below would prove nothing")
	}
	inst, st := instrument(t, orig, Config{})
	if st.StrippedSections == 0 || bytes.Contains(inst, []byte(".debug_")) {
		t.Errorf("DWARF not stripped: %+v", st)
	}
	if st.BulkOps == 0 {
		t.Errorf("no memory.copy/fill found in clang -mbulk-memory output: %+v", st)
	}
	if !bytes.Contains(inst, []byte("\x04name")) {
		t.Error("name section was removed")
	}
	requireSIMD(t, orig)

	rt := newRuntime(t)
	a, b := instantiate(t, rt, orig), instantiate(t, rt, inst)
	g := fuelOf(t, b)
	input := make([]byte, 4096)
	for i := range input {
		input[i] = byte(i*7 + i>>8)
	}
	for _, m := range []api.Module{a, b} {
		p, err := call(t, m, "buf")
		if err != nil || !m.Memory().Write(uint32(p[0]), input) {
			t.Fatalf("writing input: %v", err)
		}
	}
	calls := []struct {
		name string
		args []uint64
	}{
		{"checksum", []uint64{0}}, {"checksum", []uint64{4096}}, {"vsum", []uint64{3}}, {"vsum", []uint64{1000}},
		{"shuffle", []uint64{100}}, {"shuffle", []uint64{2048}}, {"ack", []uint64{2, 3}}, {"ack", []uint64{3, 3}},
	}
	for _, c := range calls {
		want, werr := call(t, a, c.name, c.args...)
		g.Set(1 << 40)
		got, gerr := call(t, b, c.name, c.args...)
		if werr != nil || gerr != nil || got[0] != want[0] {
			t.Errorf("%s%v = %v (%v), original %v (%v)", c.name, c.args, got, gerr, want, werr)
		}
		if used := 1<<40 - int64(g.Get()); used <= 0 {
			t.Errorf("%s%v used %d fuel", c.name, c.args, used)
		}
	}
	g.Set(100)
	if _, err := call(t, b, "ack", 3, 3); err == nil || int64(g.Get()) >= 0 {
		t.Errorf("ack(3,3) on 100 fuel: err %v, fuel %d; want a fuel trap", err, int64(g.Get()))
	}
}

// requireSIMD fails unless the module's disassembly shows SIMD instructions,
// so the test really covers the 0xFD prefix.
func requireSIMD(t *testing.T, wasm []byte) {
	t.Helper()
	if _, err := exec.LookPath("wasm-objdump"); err != nil {
		t.Log("wasm-objdump (wabt) not installed: not checking that clang emitted SIMD")
		return
	}
	f := filepath.Join(t.TempDir(), "m.wasm")
	if err := os.WriteFile(f, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("wasm-objdump", "-d", f).CombinedOutput()
	if err != nil {
		t.Fatalf("wasm-objdump: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("i32x4.")) || !bytes.Contains(out, []byte("v128.")) {
		t.Fatal("clang -msimd128 emitted no SIMD; adjust the C source")
	}
}

const goSource = `package main

//go:wasmexport sum
func sum(n int32) int64 {
	var s int64
	for i := int32(0); i < n; i++ {
		s += int64(i) * int64(i) % 7
	}
	return s
}

//go:wasmexport work
func work(n int32) int32 {
	m := map[int32][]byte{}
	for i := int32(0); i < n; i++ {
		b := make([]byte, int(i)%100+1)
		for j := range b {
			b[j] = byte(i)
		}
		m[i%17] = append(m[i%17], b...)
	}
	var c []byte
	for k := int32(0); k < 17; k++ {
		c = append(c, m[k]...)
	}
	h := uint32(2166136261)
	for _, x := range c {
		h = (h ^ uint32(x)) * 16777619
	}
	f := float64(n) * 1.5e10
	return int32(h) + int32(int64(f)>>20) + int32(int8(n))
}

func main() {}
`

// goWasm builds goSource with GOOS=wasip1 -buildmode=c-shared.
func goWasm(t testing.TB) []byte {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not in PATH")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module guest\n\ngo 1.24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(goSource), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gobin, "build", "-buildmode=c-shared", "-o", "g.wasm", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "g.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGoModule proves the rewriter on Go's own output (runtime, GC, maps,
// memory.copy/fill, saturating conversions), started through _initialize.
func TestGoModule(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: building and compiling a 1.9 MB Go guest takes seconds")
	}
	t.Parallel()
	orig := goWasm(t)
	inst, st := instrument(t, orig, Config{})
	if st.BulkOps == 0 {
		t.Errorf("no 0xFC bulk memory ops found in the Go module: %+v", st)
	}
	t.Logf("Go module: %d -> %d bytes (+%.1f%%), %+v", len(orig), len(inst), 100*float64(len(inst)-len(orig))/float64(len(orig)), st)

	ctx := context.Background()
	// wazero's compiler takes tens of seconds on a 1.9 MB module under
	// -race; the interpreter validates the same way and compiles at once.
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(features))
	t.Cleanup(func() { rt.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	start := func(wasm []byte, budget int64) (api.Module, api.MutableGlobal) {
		cm, err := rt.CompileModule(ctx, wasm)
		if err != nil {
			t.Fatalf("compile: %v", err)
		}
		mod, err := rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
		if err != nil {
			t.Fatalf("instantiate: %v", err)
		}
		t.Cleanup(func() { mod.Close(ctx) })
		var g api.MutableGlobal
		if budget > 0 {
			g = fuelOf(t, mod)
			g.Set(uint64(budget))
		}
		if _, err := mod.ExportedFunction("_initialize").Call(ctx); err != nil {
			t.Fatalf("_initialize: %v", err)
		}
		if g != nil {
			t.Logf("_initialize used %d fuel", budget-int64(g.Get()))
		}
		return mod, g
	}
	a, _ := start(orig, 0)
	b, g := start(inst, 1<<40)
	calls := []struct {
		name string
		arg  uint64
	}{{"sum", 0}, {"sum", 10000}, {"work", 0}, {"work", 100}}
	for _, c := range calls {
		want, werr := call(t, a, c.name, c.arg)
		g.Set(1 << 40)
		got, gerr := call(t, b, c.name, c.arg)
		if werr != nil || gerr != nil || got[0] != want[0] {
			t.Errorf("%s(%d) = %v (%v), original %v (%v)", c.name, c.arg, got, gerr, want, werr)
		}
		t.Logf("%s(%d) used %d fuel", c.name, c.arg, 1<<40-int64(g.Get()))
	}
	// A runaway call is stopped; the instance is then discarded (see doc.go).
	g.Set(10_000)
	_, err := call(t, b, "sum", 1<<30)
	if err == nil || int64(g.Get()) >= 0 || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("sum(2^30) on 10000 fuel: err %v, fuel %d; want a fuel trap", err, int64(g.Get()))
	}
}
