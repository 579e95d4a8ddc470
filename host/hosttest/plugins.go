package hosttest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// verdictWAT is a plugin that gives every packet one verdict (VERDICT below).
// It also exports mw_control, which echoes the message back, and counts
// bursts in a global; BuildStateful adds the state hooks that hand the count
// to the next version.
const verdictWAT = `(module
  (memory (export "memory") 288 288)
  (global $bursts (mut i32) (i32.const 0))
  (func (export "mw_abi_version") (result i32) i32.const 1)
  (func (export "mw_batch") (param i32) (result i32) i32.const 65536)
  (func (export "mw_msgbuf") (param i32) (result i32) i32.const 131072)
  (func (export "mw_window") (param i32) (result i32) i32.const 1048576)
  (func (export "mw_init") (param i32 i32) (result i32) INIT)
  (func (export "mw_control") (param $p i32) (param $n i32) (result i32) local.get $n)
  (func $recurse (param $depth i32) (result i32)
    (if (result i32) (i32.eqz (local.get $depth))
      (then (i32.const 0))
      (else (call $recurse (i32.sub (local.get $depth) (i32.const 1))))))
  (func (export "mw_process") (param $n i32) (result i32)
    (local $d i32) (local $end i32)
    (global.set $bursts (i32.add (global.get $bursts) (i32.const 1)))
    TRAP
    RECURSE
    (local.set $d (i32.const 65568))
    (local.set $end (i32.add (i32.const 65568) (i32.shl (local.get $n) (i32.const 4))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $d) (local.get $end)))
      (i32.store8 offset=8 (local.get $d) (i32.const VERDICT))
      (i32.store offset=12 (local.get $d) (i32.const PORT))
      (local.set $d (i32.add (local.get $d) (i32.const 16)))
      (br $next)))
    i32.const 0)
  STATE)`

// stateWAT exports the state hooks: the burst count is the state, and
// mw_state_load returns LOAD (0: it takes the state).
const stateWAT = `(func (export "mw_state_save") (result i32)
    (i32.store (i32.const 131072) (global.get $bursts))
    i32.const 4)
  (func (export "mw_state_load") (param $p i32) (param $n i32) (result i32)
    (if (i32.ne (i32.const LOAD) (i32.const 0)) (then (return (i32.const LOAD))))
    (global.set $bursts (i32.load (local.get $p)))
    i32.const 0)`

// Trap as the verdict builds a plugin whose mw_process traps on every burst.
const Trap = -1

// Build assembles a verdict plugin into dir/name.wasm and returns its path.
// initResult is what mw_init returns (non-zero: the instance refuses to start).
func Build(t testing.TB, dir, name string, verdict, initResult int) string {
	t.Helper()
	return BuildRedirect(t, dir, name, verdict, initResult, 0)
}

// BuildRedirect is Build for a plugin that also names port as every
// packet's REDIRECT target (descriptor meta).
func BuildRedirect(t testing.TB, dir, name string, verdict, initResult, port int) string {
	t.Helper()
	return writePlugin(t, dir, name, verdict, initResult, port, 0, "")
}

// BuildStateful is Build for a plugin that exports mw_state_save and
// mw_state_load; its mw_state_load returns loadResult (non-zero: it refuses
// the previous version's state, failing the hand-over of a reload).
func BuildStateful(t testing.TB, dir, name string, verdict, loadResult int) string {
	t.Helper()
	return writePlugin(t, dir, name, verdict, 0, 0, 0, strings.ReplaceAll(stateWAT, "LOAD", strconv.Itoa(loadResult)))
}

// BuildDeep is Build for a plugin whose mw_process first nests depth calls
// of a one-parameter function (about 72 bytes each as the host estimates
// frames), to try stack budgets.
func BuildDeep(t testing.TB, dir, name string, verdict, depth int) string {
	t.Helper()
	return writePlugin(t, dir, name, verdict, 0, 0, depth, "")
}

// writePlugin fills in the verdict plugin's template, assembles it (with
// WAT's cache) and writes it to dir/name.wasm.
func writePlugin(t testing.TB, dir, name string, verdict, initResult, port, depth int, state string) string {
	t.Helper()
	src := strings.ReplaceAll(verdictWAT, "VERDICT", strconv.Itoa(verdict))
	src = strings.ReplaceAll(src, "INIT", "i32.const "+strconv.Itoa(initResult))
	src = strings.ReplaceAll(src, "PORT", strconv.Itoa(port))
	trap := ""
	if verdict == Trap {
		trap = "unreachable"
	}
	src = strings.ReplaceAll(src, "TRAP", trap)
	recurse := ""
	if depth > 0 {
		recurse = "(drop (call $recurse (i32.const " + strconv.Itoa(depth) + ")))"
	}
	src = strings.ReplaceAll(src, "RECURSE", recurse)
	src = strings.ReplaceAll(src, "STATE", state)
	out := filepath.Join(dir, name+".wasm")
	// Written whole, then renamed: a file watcher must never see half a module.
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, WAT(t, src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// Built returns the path of plugins/build/name, an example plugin as `make
// plugins` builds it, running that make target when the file is missing. It
// skips the test, saying why, when the build is impossible here (no
// toolchain).
func Built(t testing.TB, name string) string {
	t.Helper()
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testplugin: cannot locate the source tree")
	}
	root := filepath.Join(filepath.Dir(self), "..", "..")
	p := filepath.Join(root, "plugins", "build", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	cmd := exec.Command("make", "-C", filepath.Join(root, "plugins"), "build/"+name)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("plugins/build/%s is missing and `make -C plugins build/%s` failed (run make plugins): %v\n%s", name, name, err, b)
	}
	return p
}
