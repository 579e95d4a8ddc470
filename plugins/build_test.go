package plugins_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The end-to-end tests build the plugins themselves, so `go test ./...` needs
// no `make plugins` first. Outputs are cached under the user cache directory
// by a hash of every input (sources, SDK, ABI, go.mod, toolchain, flags): a
// second run reads a file instead of linking a 2 MB module.

var buildMu sync.Mutex

func cacheDir(t testing.TB) string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "memif-wasm", "plugins")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("cache dir: %v", err)
	}
	return dir
}

// hashInputs hashes the named files (globs, relative to plugins/) and extra.
func hashInputs(t testing.TB, globs []string, extra ...string) string {
	h := sha256.New()
	var files []string
	for _, g := range globs {
		m, err := filepath.Glob(g)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(h, f+"\x00")
		io.Copy(h, fh)
		fh.Close()
	}
	for _, e := range extra {
		io.WriteString(h, e+"\x00")
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}

// cached returns the output for key, running build(out) on a miss.
func cached(t testing.TB, key string, build func(out string) error) []byte {
	buildMu.Lock()
	defer buildMu.Unlock()
	path := filepath.Join(cacheDir(t), key+".wasm")
	if b, err := os.ReadFile(path); err == nil {
		return b
	}
	tmp := path + ".tmp" + hex.EncodeToString([]byte{byte(os.Getpid()), byte(os.Getpid() >> 8)})
	if err := build(tmp); err != nil {
		os.Remove(tmp)
		t.Fatalf("build %s: %v", key, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goPlugin builds plugins/<name> with GOOS=wasip1 -buildmode=c-shared.
func goPlugin(t testing.TB, name string) []byte {
	t.Helper()
	key := "go-" + name + "-" + hashInputs(t, []string{name + "/*.go", "../sdk/*.go", "../abi/*.go", "../go.mod", "../go.sum"}, runtime.Version())
	return cached(t, key, func(out string) error {
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, "./"+name)
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if msg, err := cmd.CombinedOutput(); err != nil {
			return &buildError{err, string(msg)}
		}
		return nil
	})
}

// cPlugin builds plugins/<name>/c/*.c as plugins/Makefile does.
func cPlugin(t testing.TB, name string) []byte {
	t.Helper()
	clang, err := exec.LookPath("clang")
	if err != nil {
		t.Skip("clang not installed (make plugins installs it): cannot build the C plugins")
	}
	if _, err := exec.LookPath("wasm-ld"); err != nil {
		t.Skip("wasm-ld (lld) not installed (make plugins installs it): cannot link the C plugins")
	}
	srcs, _ := filepath.Glob(name + "/c/*.c")
	args := []string{"--target=wasm32", "-nostdlib", "-O2", "-mbulk-memory", "-Wall", "-Wextra", "-Werror", "-I../sdk/c",
		"-Wl,--no-entry", "-Wl,--max-memory=67108864"}
	ver, _ := exec.Command(clang, "--version").Output()
	key := "c-" + name + "-" + hashInputs(t, []string{name + "/c/*.c", "../sdk/c/*.h"}, append(args, string(ver))...)
	return cached(t, key, func(out string) error {
		cmd := exec.Command(clang, append(append(args, "-o", out), srcs...)...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return &buildError{err, string(msg)}
		}
		return nil
	})
}

// Debian's Rust toolchain, by path as plugins/Makefile calls it: a rustup
// toolchain earlier on PATH may lack the wasm32 target.
const (
	debianCargo = "/usr/bin/cargo"
	debianRustc = "/usr/bin/rustc"
	rustTarget  = "wasm32-unknown-unknown"
)

// rustPlugin builds the crate plugins/<name>/rust as plugins/Makefile does.
func rustPlugin(t testing.TB, name string) []byte {
	t.Helper()
	for _, tool := range []string{debianCargo, debianRustc} {
		if _, err := os.Stat(tool); err != nil {
			t.Skipf("%s not installed (make plugins installs Debian's rustc and cargo): cannot build the Rust plugins", tool)
		}
	}
	if _, err := os.Stat("/usr/lib/rustlib/" + rustTarget); err != nil {
		t.Skip("libstd-rust-dev-wasm32 not installed (make plugins installs it): cannot build the Rust plugins")
	}
	ver, _ := exec.Command(debianRustc, "--version").Output()
	args := []string{"build", "--offline", "--locked", "--release", "--target", rustTarget, "-p", name + "-rust"}
	key := "rust-" + name + "-" + hashInputs(t, []string{name + "/rust/Cargo.toml", name + "/rust/src/*.rs",
		"../sdk/rust/Cargo.toml", "../sdk/rust/src/*.rs", "Cargo.toml", "Cargo.lock"}, append(args, string(ver))...)
	return cached(t, key, func(out string) error {
		targetDir := filepath.Join(cacheDir(t), "rust-target")
		cmd := exec.Command(debianCargo, append(args, "--target-dir", targetDir)...)
		cmd.Env = append(os.Environ(), "RUSTC="+debianRustc)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return &buildError{err, string(msg)}
		}
		b, err := os.ReadFile(filepath.Join(targetDir, rustTarget, "release", strings.ReplaceAll(name, "-", "_")+"_rust.wasm"))
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }
