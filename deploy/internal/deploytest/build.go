package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// RepoRoot is the main module's directory, found from this file's path.
var RepoRoot = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}()

var build struct {
	once sync.Once
	dir  string
	out  []byte
	err  error
}

// Binary returns memif-wasm built once per test binary by the Makefile's
// own build target, so that tests check what `make build` makes. Call
// Cleanup from TestMain to remove it.
func Binary(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		SkipOrFail(t, "make is not installed: cannot run the Makefile's build target")
	}
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "memif-wasm-deploy-")
		if build.err != nil {
			return
		}
		cmd := exec.Command("make", "-C", RepoRoot, "--no-print-directory", "build", "BIN="+filepath.Join(build.dir, "memif-wasm"))
		// The environment's CGO_ENABLED must not matter: the target sets it.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		build.out, build.err = cmd.CombinedOutput()
	})
	if build.err != nil {
		t.Fatalf("make build: %v\n%s", build.err, build.out)
	}
	return filepath.Join(build.dir, "memif-wasm")
}

// Cleanup removes what Binary built.
func Cleanup() {
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
}

// Plugins returns the example plugins `make plugins` built.
func Plugins(t testing.TB) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(RepoRoot, "plugins", "build", "*.wasm"))
	if len(m) == 0 {
		SkipOrFail(t, "no plugins in plugins/build: run make plugins")
	}
	return m
}

// TinyStatic builds a static Go program that does nothing, in dir: a
// binary for tests of the image's wiring that need no memif-wasm (and
// compress a few MB instead of tens).
func TinyStatic(t testing.TB, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "tiny")
	cmd := exec.Command("go", "build", "-o", bin, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
