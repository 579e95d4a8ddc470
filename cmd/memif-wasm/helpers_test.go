package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/memif-wasm/memif-wasm/host/hosttest"
)

var watCache sync.Map // source text -> built .wasm path

// watPlugin builds testdata/verdict.wat with the given ABI version and verdict ("trap":
// mw_process traps whenever it sees a packet) using
// wat2wasm and returns the .wasm path. It skips the test, saying why, when wat2wasm is
// not installed (`make deps-plugins` installs it).
func watPlugin(t testing.TB, abiVersion, verdict string) string {
	t.Helper()
	src, err := os.ReadFile("testdata/verdict.wat")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	if verdict == "trap" { // every burst traps: a plugin that faults
		text = strings.Replace(text, "(i32.store8 offset=8 (local.get $desc) (i32.const VERDICT))", "unreachable", 1)
	}
	text = strings.NewReplacer("ABI", abiVersion, "VERDICT", verdict).Replace(text)
	if p, ok := watCache.Load(text); ok {
		return p.(string)
	}
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		t.Skip("wat2wasm not installed (make deps-plugins installs wabt): cannot build the test plugin")
	}
	dir, err := os.MkdirTemp("", "memif-wasm-cmd-test")
	if err != nil {
		t.Fatal(err)
	}
	watPath := filepath.Join(dir, "p.wat")
	out := filepath.Join(dir, "p.wasm")
	if err := os.WriteFile(watPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("wat2wasm", watPath, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, b)
	}
	watCache.Store(text, out)
	return out
}

// builtPlugin returns plugins/build/name (see hosttest.Built).
func builtPlugin(t testing.TB, name string) string {
	t.Helper()
	return hosttest.Built(t, name)
}
