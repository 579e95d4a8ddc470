package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary builds the real memif-wasm once per test run and returns its path.
func realBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "memif-wasm-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "memif-wasm")
		out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = err
			binPath = string(out)
		}
	})
	if binErr != nil {
		t.Fatalf("go build: %v\n%s", binErr, binPath)
	}
	return binPath
}

// runBinary runs the real binary to completion and returns its exit code and output.
func runBinary(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(realBinary(t), args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// startBinary starts the real binary and stops it by its PID (SIGTERM) when
// the test ends; stderr is collected in the returned buffer.
func startBinary(t *testing.T, args ...string) (*exec.Cmd, *hosttest.SyncBuffer) {
	t.Helper()
	cmd := exec.Command(realBinary(t), args...)
	var errb hosttest.SyncBuffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Error("memif-wasm did not stop on SIGTERM")
		}
	})
	return cmd, &errb
}

// waitSocket waits until a unix socket accepts connections at path.
func waitSocket(t *testing.T, network, path string, errb *hosttest.SyncBuffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.Dial(network, path); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never accepted; stderr:\n%s", path, errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// run --check-config compiles and probes every plugin and lists every problem.
func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := hosttest.Build(t, dir, "tx", int(abi.TX), 0)
	garbage := writeFile(t, filepath.Join(dir, "garbage.wasm"), "\x00asm\x01\x00\x00\x00\x05\x80")
	cfg := func(name string, plugins ...string) string {
		var b strings.Builder
		b.WriteString("tenants:\n- name: t\n  interfaces:\n  - name: m0\n    socket: " + filepath.Join(dir, "never.sock") + "\n    role: master\n    plugins:\n")
		for _, p := range plugins {
			b.WriteString("    - file: " + p + "\n")
		}
		return writeFile(t, filepath.Join(dir, name), b.String())
	}
	okCfg := cfg("ok.yaml", good)
	code, out, errs := runBinary(t, "run", "--check-config", "--config", okCfg)
	if code != exitOK || !strings.Contains(out, "config OK: 1 tenant(s), 1 interface(s), 1 plugin(s) compiled and probed") {
		t.Fatalf("good config: exit %d\n%s\n%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "never.sock")); !os.IsNotExist(err) {
		t.Errorf("--check-config created the interface's socket: %v", err)
	}

	bad := cfg("bad.yaml", filepath.Join(dir, "missing.wasm"), garbage, good)
	code, out, errs = runBinary(t, "run", "--check-config", "--config", bad)
	if code != exitFailure {
		t.Fatalf("bad plugins: exit %d, want 1\n%s\n%s", code, out, errs)
	}
	for _, w := range []string{"2 problem(s)", `plugin "missing"`, "no such file", `plugin "garbage"`, "not a valid wasm module"} {
		if !strings.Contains(errs, w) {
			t.Errorf("bad plugins: stderr lacks %q:\n%s", w, errs)
		}
	}

	invalid := writeFile(t, filepath.Join(dir, "invalid.yaml"), "tenants:\n- name: t\n  interfaces:\n  - name: m0\n    role: boss\n    ring_size: 1000\n")
	code, _, errs = runBinary(t, "run", "--check-config", "--config", invalid)
	if code != exitFailure || !strings.Contains(errs, "2 problem(s)") || !strings.Contains(errs, "interfaces[0].role") || !strings.Contains(errs, "interfaces[0].ring_size") {
		t.Fatalf("invalid config: exit %d\n%s", code, errs)
	}
	code, _, errs = runBinary(t, "run", "--check-config", "--config", filepath.Join(dir, "nope.yaml"))
	if code != exitFailure || !strings.Contains(errs, "nope.yaml") {
		t.Fatalf("missing config: exit %d\n%s", code, errs)
	}
}

// The memif socket file and the admin socket get the mode, owner and group
// asked for, so a peer of another user (VPP as user vpp) can connect.
func TestSocketPermissions(t *testing.T) {
	dir, err := os.MkdirTemp("", "mw-perm") // short: sun_path holds 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock, adm := filepath.Join(dir, "memif.sock"), filepath.Join(dir, "admin.sock")
	uid, gid := strconv.Itoa(os.Getuid()), strconv.Itoa(os.Getgid())
	_, errb := startBinary(t, "run", "--socket", sock, "--role", "master",
		"--socket-mode", "0660", "--socket-owner", uid, "--socket-group", gid,
		"--admin-socket", adm, "--admin-socket-mode", "0640", "--admin-socket-group", gid)
	waitSocket(t, "unix", adm, errb)
	waitSocket(t, "unixpacket", sock, errb)
	for path, want := range map[string]os.FileMode{sock: 0o660, adm: 0o640} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != want || fi.Mode()&os.ModeSocket == 0 || strconv.Itoa(int(st.Gid)) != gid || strconv.Itoa(int(st.Uid)) != uid {
			t.Errorf("%s: %v uid %d gid %d, want socket %v uid %s gid %s", path, fi.Mode(), st.Uid, st.Gid, want, uid, gid)
		}
	}

	// Bad settings are refused before anything starts, naming the key.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--socket-mode", "0999"}, "socket_mode"},
		{[]string{"--socket-owner", "no-such-user-mw"}, `user "no-such-user-mw"`},
		{[]string{"--socket-group", "no-such-group-mw"}, `group "no-such-group-mw"`},
		{[]string{"--admin-socket-mode", "rw"}, "admin.socket_mode"},
	} {
		args := append([]string{"run", "--socket", filepath.Join(dir, "x.sock"), "--role", "master", "--admin-socket", filepath.Join(dir, "x-admin.sock")}, tt.args...)
		code, _, errs := runBinary(t, args...)
		if code != exitUsage || !strings.Contains(errs, tt.want) {
			t.Errorf("%v: exit %d, want 2 naming %q:\n%s", tt.args, code, tt.want, errs)
		}
	}
	code, _, errs := runBinary(t, "run", "--socket", filepath.Join(dir, "y.sock"), "--role", "slave", "--socket-mode", "0660", "--admin-socket", "")
	if code != exitUsage || !strings.Contains(errs, "apply to a master") {
		t.Errorf("slave with --socket-mode: exit %d:\n%s", code, errs)
	}
}
