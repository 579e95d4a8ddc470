package fuel

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// features is what the tests' runtimes enable: wasm 2.0 plus the proposals
// the rewriter accepts.
const features = api.CoreFeaturesV2 | experimental.CoreFeaturesThreads | experimental.CoreFeaturesTailCall | experimental.CoreFeaturesExtendedConst

func newRuntime(t testing.TB) wazero.Runtime {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCoreFeatures(features))
	t.Cleanup(func() { rt.Close(ctx) })
	return rt
}

// wat assembles WebAssembly text with wabt's wat2wasm.
func wat(t testing.TB, src string, flags ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		t.Skip("wat2wasm (wabt) is not installed; `make deps-plugins` installs it")
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "m.wat"), filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(in, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--enable-threads", "--enable-tail-call", "--enable-extended-const", in, "-o", out}, flags...)
	if b, err := exec.Command("wat2wasm", args...).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// clangWasm compiles C to a wasm32 module without libc.
func clangWasm(t testing.TB, src string, flags ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("clang"); err != nil {
		t.Skip("clang is not installed; `make deps-plugins` installs it")
	}
	if _, err := exec.LookPath("wasm-ld"); err != nil {
		t.Skip("wasm-ld (lld) is not installed; `make deps-plugins` installs it")
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "m.c"), filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(in, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--target=wasm32", "-nostdlib", "-O2", "-Wl,--no-entry", "-Wl,--export-dynamic", "-o", out, in}, flags...)
	if b, err := exec.Command("clang", args...).CombinedOutput(); err != nil {
		t.Fatalf("clang: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// instrument is Instrument that fails the test on error.
func instrument(t testing.TB, wasm []byte, cfg Config) ([]byte, Stats) {
	t.Helper()
	out, st, err := InstrumentStats(wasm, cfg)
	if err != nil {
		t.Fatalf("Instrument: %v", err)
	}
	return out, st
}

// instantiate compiles and instantiates wasm under a unique name.
func instantiate(t testing.TB, rt wazero.Runtime, wasm []byte) api.Module {
	t.Helper()
	ctx := context.Background()
	cm, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	mod, err := rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	t.Cleanup(func() { mod.Close(ctx) })
	return mod
}

func fuelOf(t testing.TB, mod api.Module) api.MutableGlobal {
	t.Helper()
	return exportedMutable(t, mod, ExportName)
}

func stackOf(t testing.TB, mod api.Module) api.MutableGlobal {
	t.Helper()
	return exportedMutable(t, mod, StackExportName)
}

func exportedMutable(t testing.TB, mod api.Module, name string) api.MutableGlobal {
	t.Helper()
	g, ok := mod.ExportedGlobal(name).(api.MutableGlobal)
	if !ok {
		t.Fatalf("no mutable global exported as %q", name)
	}
	return g
}

func wazeroConfig() wazero.ModuleConfig { return wazero.NewModuleConfig().WithName("") }
