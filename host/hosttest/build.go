// Package hosttest holds test helpers for code built on the host: it builds
// test guests from source (WAT with wat2wasm, C with clang, Go with the
// running toolchain for GOOS=wasip1, Rust with Debian's rustc and the SDK in
// sdk/rust), the script guest whose packets say what
// it should do (Script), tiny verdict plugins written to files for a daemon
// to load (Build, BuildStateful, BuildDeep), the example plugins `make
// plugins` builds (Built), a compilation cache that outlives a test run
// (CacheDir), and a real OCI registry on loopback for the plugin-source
// tests (Registry). Built guests are cached by a hash of the source and the tool's
// command line under the user cache directory, so a second run costs a file
// read; a missing tool skips the test with the reason. It is for tests only.
package hosttest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
)

var mu sync.Mutex // serialises builds so parallel tests don't race on one cache file

func cacheDir(t testing.TB) string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	dir = filepath.Join(dir, "memif-wasm", "wasmtest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("hosttest: cache dir: %v", err)
	}
	return dir
}

// CacheDir returns a directory for the host's compiled machine code
// (EngineConfig.CacheDir) that outlives the test run, keyed by the wazero
// version the test binary links: compiling a Go guest takes 15-60 s under
// the race detector, reading it back well under one.
func CacheDir(t testing.TB) string {
	ver := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/tetratelabs/wazero" {
				ver = d.Version
			}
		}
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return t.TempDir()
	}
	return filepath.Join(dir, "memif-wasm", "wazero-"+ver)
}

// build runs argv (with "$IN" and "$OUT" replaced) on src written to a file
// named srcName, and returns the output bytes.
func build(t testing.TB, tool string, env []string, src []byte, srcName string, argv ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("hosttest: %s not installed: %v", tool, err)
	}
	h := sha256.New()
	h.Write(src)
	h.Write([]byte(tool + "\x00" + strings.Join(env, "\x00") + "\x00" + strings.Join(argv, "\x00")))
	h.Write([]byte(runtime.Version()))
	key := hex.EncodeToString(h.Sum(nil))[:24]
	mu.Lock()
	defer mu.Unlock()
	out := filepath.Join(cacheDir(t), key+".wasm")
	if b, err := os.ReadFile(out); err == nil {
		return b
	}
	work := t.TempDir()
	in := filepath.Join(work, srcName)
	if err := os.WriteFile(in, src, 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(work, "out.wasm")
	args := make([]string, len(argv))
	for i, a := range argv {
		args[i] = strings.NewReplacer("$IN", in, "$OUT", tmp).Replace(a)
	}
	cmd := exec.Command(tool, args...)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hosttest: %s %s: %v\n%s", tool, strings.Join(args, " "), err, b)
	}
	b, err := os.ReadFile(tmp)
	if err != nil {
		t.Fatal(err)
	}
	// Rename makes the cache entry appear whole or not at all.
	part := out + ".part"
	if os.WriteFile(part, b, 0o644) == nil {
		os.Rename(part, out)
	}
	return b
}

// WAT assembles WebAssembly text.
func WAT(t testing.TB, src string) []byte {
	t.Helper()
	return build(t, "wat2wasm", nil, []byte(src), "m.wat", "--enable-all", "-o", "$OUT", "$IN")
}

// C compiles a freestanding C guest (no libc) with clang for wasm32. Extra
// linker or compiler flags go in flags.
func C(t testing.TB, src string, flags ...string) []byte {
	t.Helper()
	args := append([]string{"--target=wasm32", "-nostdlib", "-O2", "-Wl,--no-entry", "-Wl,--export-dynamic"}, flags...)
	args = append(args, "-o", "$OUT", "$IN")
	for _, clang := range []string{"clang", "clang-14"} {
		if _, err := exec.LookPath(clang); err == nil {
			return build(t, clang, nil, []byte(src), "m.c", args...)
		}
	}
	t.Skip("hosttest: clang not installed")
	return nil
}

// Go builds a Go reactor guest (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared)
// from the single-file main package src. It may import only the standard
// library.
func Go(t testing.TB, src string) []byte {
	t.Helper()
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	// A lone file needs no module; GOFLAGS and GOWORK of the caller must not leak in.
	env := []string{"GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off", "GO111MODULE=off"}
	return build(t, gobin, env, []byte(src), "main.go", "build", "-buildmode=c-shared", "-trimpath", "-o", "$OUT", "$IN")
}

// debianRustc is the Rust compiler plugins/Makefile uses: Debian's, by path,
// because a rustup toolchain earlier on PATH may lack the wasm32 target.
const debianRustc = "/usr/bin/rustc"

// Rust compiles a single-file Rust guest for wasm32-unknown-unknown that
// uses the Rust SDK (sdk/rust, crate memif_wasm), as the example plugins are
// built: optimised, panic=abort, with link-time optimisation.
func Rust(t testing.TB, src string) []byte {
	t.Helper()
	if _, err := os.Stat(debianRustc); err != nil {
		t.Skip("hosttest: Debian's rustc not installed (make plugins installs it)")
	}
	if _, err := os.Stat("/usr/lib/rustlib/wasm32-unknown-unknown"); err != nil {
		t.Skip("hosttest: libstd-rust-dev-wasm32 not installed (make plugins installs it)")
	}
	flags := []string{"--edition", "2021", "--target", "wasm32-unknown-unknown", "-C", "opt-level=3", "-C", "panic=abort"}
	sdk := rustSDK(t, flags)
	args := append(flags, "--crate-type", "cdylib", "-C", "lto", "--extern", "memif_wasm="+sdk, "-o", "$OUT", "$IN")
	return build(t, debianRustc, nil, []byte(src), "plugin.rs", args...)
}

// rustSDK builds sdk/rust as an rlib, cached under a hash of its sources and
// the flags, and returns its path.
func rustSDK(t testing.TB, flags []string) string {
	t.Helper()
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("hosttest: cannot locate the source tree")
	}
	dir := filepath.Join(filepath.Dir(self), "..", "..", "sdk", "rust", "src")
	srcs, err := filepath.Glob(filepath.Join(dir, "*.rs"))
	if err != nil || len(srcs) == 0 {
		t.Fatalf("hosttest: no Rust SDK sources in %s: %v", dir, err)
	}
	h := sha256.New()
	for _, f := range srcs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		h.Write([]byte(filepath.Base(f) + "\x00"))
		h.Write(b)
	}
	ver, _ := exec.Command(debianRustc, "--version").Output()
	h.Write([]byte(strings.Join(flags, "\x00") + string(ver)))
	mu.Lock()
	defer mu.Unlock()
	out := filepath.Join(cacheDir(t), "libmemif_wasm-"+hex.EncodeToString(h.Sum(nil))[:24]+".rlib")
	if _, err := os.Stat(out); err == nil {
		return out
	}
	tmp := out + ".part"
	args := append(append([]string{}, flags...), "--crate-type", "rlib", "--crate-name", "memif_wasm", "-o", tmp, filepath.Join(dir, "lib.rs"))
	if b, err := exec.Command(debianRustc, args...).CombinedOutput(); err != nil {
		t.Fatalf("hosttest: rustc %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		t.Fatal(err)
	}
	return out
}
