package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
	"github.com/memif-wasm/memif-wasm/memif/gen"
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
	if code != cli.ExitOK || !strings.Contains(out, "config OK: 1 tenant(s), 1 interface(s), 1 plugin(s) compiled and probed") {
		t.Fatalf("good config: exit %d\n%s\n%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "never.sock")); !os.IsNotExist(err) {
		t.Errorf("--check-config created the interface's socket: %v", err)
	}

	// Valid but probably not meant: warned about, still exit 0.
	code, _, errs = runBinary(t, "run", "--check-config", "--config", cfg("empty-pipeline.yaml"))
	if code != cli.ExitOK || !strings.Contains(errs, "warning: tenants[0].interfaces[0] (t/m0): no plugin and no egress") {
		t.Errorf("pipeline that drops everything: exit %d\n%s", code, errs)
	}

	bad := cfg("bad.yaml", filepath.Join(dir, "missing.wasm"), garbage, good)
	code, out, errs = runBinary(t, "run", "--check-config", "--config", bad)
	if code != cli.ExitFailure {
		t.Fatalf("bad plugins: exit %d, want 1\n%s\n%s", code, out, errs)
	}
	for _, w := range []string{"2 problem(s)", `plugin "missing"`, "no such file", `plugin "garbage"`, "not a valid wasm module"} {
		if !strings.Contains(errs, w) {
			t.Errorf("bad plugins: stderr lacks %q:\n%s", w, errs)
		}
	}

	invalid := writeFile(t, filepath.Join(dir, "invalid.yaml"), "tenants:\n- name: t\n  interfaces:\n  - name: m0\n    role: boss\n    ring_size: 1000\n")
	code, _, errs = runBinary(t, "run", "--check-config", "--config", invalid)
	if code != cli.ExitFailure || !strings.Contains(errs, "2 problem(s)") || !strings.Contains(errs, "interfaces[0].role") || !strings.Contains(errs, "interfaces[0].ring_size") {
		t.Fatalf("invalid config: exit %d\n%s", code, errs)
	}
	code, _, errs = runBinary(t, "run", "--check-config", "--config", filepath.Join(dir, "nope.yaml"))
	if code != cli.ExitFailure || !strings.Contains(errs, "nope.yaml") {
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
		if code != cli.ExitUsage || !strings.Contains(errs, tt.want) {
			t.Errorf("%v: exit %d, want 2 naming %q:\n%s", tt.args, code, tt.want, errs)
		}
	}
	code, _, errs := runBinary(t, "run", "--socket", filepath.Join(dir, "y.sock"), "--role", "slave", "--socket-mode", "0660", "--admin-socket", "")
	if code != cli.ExitUsage || !strings.Contains(errs, "apply to a master") {
		t.Errorf("slave with --socket-mode: exit %d:\n%s", code, errs)
	}
}

// With the TCP listener on, the unix socket still needs no token (its file's
// permissions guard it); every change and every refused request is logged
// once with who, what, the plugin's sha256 and the result.
func TestAdminTokenTCPOnlyAndAudit(t *testing.T) {
	dir, err := os.MkdirTemp("", "mw-audit")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	plugin := hosttest.Build(t, dir, "tx", int(abi.TX), 0)
	adm := filepath.Join(dir, "admin.sock")
	tok := writeFile(t, filepath.Join(dir, "token"), "s3cret\n")
	tcp := freePort(t)
	_, errb := startBinary(t, "run", "--socket", filepath.Join(dir, "m.sock"), "--role", "master", "--plugin", plugin,
		"--admin-socket", adm, "--admin-tcp", tcp, "--admin-token-file", tok)
	waitSocket(t, "unix", adm, errb)

	if code, out, errs := runBinary(t, "ctl", "--admin-socket", adm, "reload", "default/memif0/tx"); code != cli.ExitOK {
		t.Fatalf("unix socket without token: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := runBinary(t, "ctl", "--admin-url", tcp, "list"); code != cli.ExitFailure || !strings.Contains(errs, "bearer token") {
		t.Errorf("TCP without token: exit %d: %s", code, errs)
	}
	if code, out, errs := runBinary(t, "ctl", "--admin-url", "http://"+tcp, "--admin-token-file", tok, "list"); code != cli.ExitOK || !strings.Contains(out, "tx") {
		t.Errorf("TCP with token: exit %d\n%s%s", code, out, errs)
	}
	if code, _, _ := runBinary(t, "ctl", "--admin-socket", adm, "unload", "default/memif0/nope"); code != cli.ExitFailure {
		t.Errorf("unload of a missing plugin: exit %d", code)
	}
	deadline := time.Now().Add(10 * time.Second)
	var log string
	for time.Now().Before(deadline) {
		if log = errb.String(); strings.Contains(log, "plugin=nope") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	lines := func(sub ...string) int {
		n := 0
		for _, l := range strings.Split(log, "\n") {
			all := true
			for _, s := range sub {
				all = all && strings.Contains(l, s)
			}
			if all {
				n++
			}
		}
		return n
	}
	if n := lines(`msg="admin change"`, "who=\"unix uid="+strconv.Itoa(os.Getuid()), "method=POST", "plugin=tx", "sha256=", "result=ok"); n != 1 {
		t.Errorf("%d audit lines for the reload, want 1:\n%s", n, log)
	}
	if n := lines(`msg="admin request refused"`, `who="tcp 127.0.0.1:`, "status=401", "result=refused"); n != 1 {
		t.Errorf("%d audit lines for the refused TCP request, want 1:\n%s", n, log)
	}
	if n := lines(`msg="admin request refused"`, "method=DELETE", "plugin=nope", "status=404"); n != 1 {
		t.Errorf("%d audit lines for the refused unload, want 1:\n%s", n, log)
	}
	if n := lines(`msg="admin change"`, "GET"); n != 0 {
		t.Errorf("reads are not changes:\n%s", log)
	}
}

// ctl: help, stats of one interface with drops by reason, --index bounds,
// errors as JSON under --json, and the old flag names as aliases.
func TestCtlOperatorFixes(t *testing.T) {
	dir, err := os.MkdirTemp("", "mw-ctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	tx := hosttest.Build(t, dir, "tx", int(abi.TX), 0)
	drop := hosttest.Build(t, dir, "drop", int(abi.Drop), 0)
	adm := filepath.Join(dir, "admin.sock")
	sock := filepath.Join(dir, "m.sock")
	_, errb := startBinary(t, "run", "--socket", sock, "--role", "master", "--id", "0", "--plugin", drop, "--admin-socket", adm)
	waitSocket(t, "unix", adm, errb)

	if code, out, _ := runBinary(t, "ctl", "help"); code != cli.ExitOK || !strings.Contains(out, "stats [TENANT/IFACE]") {
		t.Errorf("ctl help: exit %d\n%s", code, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := gen.Run(ctx, gen.Config{Socket: sock, Count: 100, Drain: 200 * time.Millisecond}); err != nil {
		t.Logf("gen (every frame is dropped, so loss is expected): %v", err)
	}
	code, out, errs := runBinary(t, "ctl", "--admin-socket", adm, "stats", "default/memif0")
	if code != cli.ExitOK || !strings.Contains(out, "DROPS BY REASON") || !regexp.MustCompile(`default\s+memif0\s+plugin drop: drop verdict\s+100`).MatchString(out) {
		t.Errorf("stats TENANT/IFACE: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := runBinary(t, "ctl", "--admin-socket", adm, "stats", "default/nope"); code != cli.ExitFailure || !strings.Contains(errs, "default/nope") {
		t.Errorf("stats of a missing interface: exit %d %s", code, errs)
	}
	code, out, errs = runBinary(t, "ctl", "--admin-socket", adm, "load", "default/memif0", tx, "--index", "99")
	if code != cli.ExitFailure || !strings.Contains(errs, "index 99 is past the end") {
		t.Errorf("--index 99: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := runBinary(t, "ctl", "--admin-socket", adm, "load", "default/memif0", tx, "--index", "-2"); code != cli.ExitUsage {
		t.Errorf("--index -2: exit %d %s", code, errs)
	}
	code, out, _ = runBinary(t, "ctl", "--admin-socket", adm, "--json", "unload", "default/memif0/nope")
	var jerr struct {
		Error    string `json:"error"`
		ExitCode int    `json:"exit_code"`
	}
	if code != cli.ExitFailure || json.Unmarshal([]byte(out), &jerr) != nil || !strings.Contains(jerr.Error, "nope") || jerr.ExitCode != cli.ExitFailure {
		t.Errorf("--json error: exit %d, stdout %q", code, out)
	}
	// The old names still work: --plugin-config-file for --plugin-config.
	cfgFile := writeFile(t, filepath.Join(dir, "tx.cfg"), "x")
	if code, out, errs := runBinary(t, "ctl", "--admin-socket", adm, "load", "default/memif0", tx, "--index", "0", "--plugin-config-file", cfgFile); code != cli.ExitOK ||
		!strings.Contains(errs, "--plugin-config-file is deprecated, use --plugin-config") {
		t.Errorf("load with the old flag name: exit %d\n%s%s", code, out, errs)
	}
}

// A plugin's own reason for refusing its config or a control message reaches
// run and ctl, not only its errno.
func TestPluginRefusalReason(t *testing.T) {
	dir, err := os.MkdirTemp("", "mw-reason")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	acl := builtPlugin(t, "acl-c.wasm")
	bad := writeFile(t, filepath.Join(dir, "bad.cfg"), "not rules")
	good := writeFile(t, filepath.Join(dir, "good.cfg"), string(aclC(true)))
	const reason = "acl config: not an MWA1 config"
	code, _, errs := runBinary(t, "run", "--socket", filepath.Join(dir, "x.sock"), "--role", "master", "--plugin", acl, "--plugin-config", bad, "--admin-socket", "")
	if code != cli.ExitFailure || !strings.Contains(errs, reason) {
		t.Errorf("run with a config the plugin refuses: exit %d, stderr lacks %q:\n%s", code, reason, errs)
	}
	// The guest's own log line carries the daemon's keys.
	if !regexp.MustCompile(`level=ERROR msg="acl config: not an MWA1 config" tenant=default interface=memif0 plugin=acl-c source=guest`).MatchString(errs) {
		t.Errorf("guest log line lacks tenant, interface and plugin:\n%s", errs)
	}
	adm := filepath.Join(dir, "admin.sock")
	_, errb := startBinary(t, "run", "--socket", filepath.Join(dir, "m.sock"), "--role", "master", "--plugin", acl, "--plugin-config", good, "--admin-socket", adm)
	waitSocket(t, "unix", adm, errb)
	code, _, errs = runBinary(t, "ctl", "--admin-socket", adm, "control", "default/memif0/acl-c", "garbage")
	if code != cli.ExitFailure || !strings.Contains(errs, "mw_control: invalid argument: "+reason) {
		t.Errorf("ctl control refused: exit %d, stderr lacks the reason:\n%s", code, errs)
	}
}

// Every `ctl --json` output follows schema 1 (docs/json.md): an object with
// schema_version 1, snake_case keys, no positional arrays of counters, and
// a control reply that is JSON embedded as JSON, not as a string.
func TestCtlJSONSchema(t *testing.T) {
	dir, err := os.MkdirTemp("", "mw-json")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	tx := hosttest.Build(t, dir, "tx", int(abi.TX), 0)
	adm := filepath.Join(dir, "admin.sock")
	_, errb := startBinary(t, "run", "--socket", filepath.Join(dir, "m.sock"), "--role", "master", "--plugin", tx, "--admin-socket", adm)
	waitSocket(t, "unix", adm, errb)

	snake := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	var check func(path string, v any)
	check = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if !snake.MatchString(k) {
					t.Errorf("%s: key %q is not snake_case", path, k)
				}
				if k == "plugin_loads_by_tenant_and_result" || k == "plugin_reloads_by_tenant_and_result" || k == "reply_json" {
					continue // keyed by tenant names, or the plugin's own JSON
				}
				check(path+"."+k, e)
			}
		case []any:
			if len(x) > 0 {
				if _, num := x[0].(float64); num {
					t.Errorf("%s: a positional array of numbers; want named keys", path)
				}
			}
			for i, e := range x {
				check(fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	}
	for _, args := range [][]string{
		{"list"}, {"stats"}, {"stats", "default/memif0"}, {"show", "default/memif0"},
		{"control", "default/memif0/tx", `{"op":"list"}`}, {"reload", "default/memif0/tx"},
		{"unload", "default/memif0/nope"},
	} {
		code, out, errs := runBinary(t, append([]string{"ctl", "--admin-socket", adm, "--json"}, args...)...)
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Errorf("%v: exit %d, not a JSON object: %v\n%s%s", args, code, err, out, errs)
			continue
		}
		if v["schema_version"] != float64(1) {
			t.Errorf("%v: schema_version %v", args, v["schema_version"])
		}
		check(strings.Join(args, " "), v)
		if args[0] == "control" {
			if r, ok := v["reply_json"].(map[string]any); !ok || r["op"] != "list" {
				t.Errorf("control: the JSON reply is not embedded as JSON: %s", out)
			}
		}
		if args[0] == "unload" && (code != cli.ExitFailure || v["error"] == nil || v["exit_code"] != float64(1)) {
			t.Errorf("unload of a missing plugin: exit %d %s", code, out)
		}
	}
}

// memif's own lines about an interface carry the daemon's keys too: socket,
// id, role, tenant, interface.
func TestMemifLogKeys(t *testing.T) {
	dir, err := os.MkdirTemp("", "mw-keys")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "m.sock")
	_, errb := startBinary(t, "run", "--socket", sock, "--role", "master", "--admin-socket", "", "--log-level", "debug")
	waitSocket(t, "unixpacket", sock, errb)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := gen.Run(ctx, gen.Config{Socket: sock, Count: 10, Drain: 100 * time.Millisecond}); err != nil {
		t.Logf("gen: %v (no plugin and no egress: every packet is dropped)", err)
	}
	re := regexp.MustCompile(`(?m)^.*socket=\S+ id=0 role=master tenant=default interface=memif0.*$`)
	deadline := time.Now().Add(5 * time.Second)
	for !re.MatchString(errb.String()) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !re.MatchString(errb.String()) {
		t.Errorf("no memif line with socket, id, role, tenant and interface:\n%s", errb.String())
	}
}
