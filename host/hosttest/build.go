// Package hosttest holds test helpers for code built on the host: it builds
// test guests from source (WAT with wat2wasm, C with clang, Go with the
// running toolchain for GOOS=wasip1), the script guest whose packets say what
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
