package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
	"github.com/memif-wasm/memif-wasm/memif/gen"
)

// background runs the CLI until the test cancels it; wait returns the exit code.
type background struct {
	cancel context.CancelFunc
	done   chan int
	stdout hosttest.SyncBuffer
	stderr hosttest.SyncBuffer
}

func startRun(t *testing.T, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	bg := &background{cancel: cancel, done: make(chan int, 1)}
	go func() { bg.done <- run(ctx, args, &bg.stdout, &bg.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-bg.done:
		case <-time.After(10 * time.Second):
			t.Error("run did not stop")
		}
	})
	return bg
}

// stop cancels the run (as SIGINT does) and returns its exit code.
func (bg *background) stop(t *testing.T) int {
	t.Helper()
	bg.cancel()
	select {
	case code := <-bg.done:
		bg.done <- code // for the cleanup
		return code
	case <-time.After(10 * time.Second):
		t.Fatalf("run did not stop; stderr:\n%s", bg.stderr.String())
		return -1
	}
}

// waitAdmin waits for the admin socket at path to accept connections (the
// file appears at bind, a moment before listen), failing with the run's log.
func (bg *background) waitAdmin(t *testing.T, path string) {
	t.Helper()
	// Go plugins take seconds to compile, more under the race detector.
	deadline := time.Now().Add(90 * time.Second)
	for {
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return
		}
		select {
		case code := <-bg.done:
			bg.done <- code
			t.Fatalf("run exited with %d before %s appeared; stderr:\n%s", code, path, bg.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared; stderr:\n%s", path, bg.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// ctl runs memif-wasm ctl against sock.
func ctl(t *testing.T, sock string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"ctl", "--admin-socket", sock}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// TestRunQuick: the single-interface form with only --socket/--role/--id/--plugin
// reflects gen's traffic, serves /metrics, and exits 0 on cancel with the socket removed.
func TestRunQuick(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	plugin := hosttest.Build(t, dir, "reflect", int(abi.TX), 0)
	maddr := freePort(t)
	bg := startRun(t, "run", "--socket", sock, "--role", "master", "--id", "3", "--plugin", plugin,
		"--metrics-addr", maddr, "--admin-socket", filepath.Join(dir, "admin.sock"), "--log-format", "json")
	bg.waitAdmin(t, filepath.Join(dir, "admin.sock"))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rep, err := gen.Run(ctx, gen.Config{Socket: sock, ID: 3, Count: 2000, Rate: 40000})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unique+rep.Lost != 2000 || rep.Unique == 0 {
		t.Fatalf("gen: %+v", rep)
	}
	resp, err := http.Get("http://" + maddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := fmt.Sprintf(`memif_wasm_interface_receive_packets_total{interface="memif0",queue="0",tenant="default"} %d`, rep.Sent)
	if !strings.Contains(string(body), want) {
		t.Errorf("/metrics lacks %q", want)
	}
	if code := bg.stop(t); code != cli.ExitOK {
		t.Fatalf("exit code %d; stderr:\n%s", code, bg.stderr.String())
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("memif socket left behind: %v", err)
	}
	if !strings.Contains(bg.stderr.String(), `"msg":"memif-wasm running"`) {
		t.Errorf("no JSON start log line:\n%s", bg.stderr.String())
	}
}

// TestRunConfigCtl runs from a config file and drives it with ctl: list,
// stats, show, control, reload, load, unload, reload-config and SIGHUP.
func TestRunConfigCtl(t *testing.T) {
	dir := t.TempDir()
	hosttest.Build(t, dir, "tx", int(abi.TX), 0)
	hosttest.Build(t, dir, "drop", int(abi.Drop), 0)
	admin := filepath.Join(dir, "admin.sock")
	cfgFile := filepath.Join(dir, "memif-wasm.yaml")
	writeCfg := func(pluginConfig string) {
		y := fmt.Sprintf(`
tenants:
  - name: blue
    interfaces:
      - name: north
        socket: %s/memif.sock
        role: master
        plugins:
          - file: tx.wasm
            config: %q
`, dir, pluginConfig)
		if err := os.WriteFile(cfgFile, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg("one")
	bg := startRun(t, "run", "--config", cfgFile, "--admin-socket", admin, "--watch=false")
	bg.waitAdmin(t, admin)

	code, out, errs := ctl(t, admin, "list")
	if code != cli.ExitOK || !strings.Contains(out, "blue") || !strings.Contains(out, "north") || !strings.Contains(out, "tx") {
		t.Fatalf("ctl list: %d\n%s%s\nrun stderr:\n%s", code, out, errs, bg.stderr.String())
	}
	code, out, _ = ctl(t, admin, "list", "--json")
	var ts struct {
		SchemaVersion int `json:"schema_version"`
		Tenants       []struct{ Name string }
	}
	if code != cli.ExitOK || json.Unmarshal([]byte(out), &ts) != nil || ts.SchemaVersion != 1 || len(ts.Tenants) != 1 || ts.Tenants[0].Name != "blue" {
		t.Errorf("ctl list --json: %d %s", code, out)
	}
	if code, out, _ := ctl(t, admin, "stats"); code != cli.ExitOK || !strings.Contains(out, "RX PKTS") || !strings.Contains(out, "TX") {
		t.Errorf("ctl stats: %d\n%s", code, out)
	}
	if code, out, _ := ctl(t, admin, "show", "blue/north"); code != cli.ExitOK || !strings.Contains(out, "north (id 0, master") {
		t.Errorf("ctl show: %d\n%s", code, out)
	}
	if code, out, _ := ctl(t, admin, "control", "blue/north/tx", "hello"); code != cli.ExitOK || out != "hello\n" {
		t.Errorf("ctl control: %d %q", code, out)
	}
	if code, out, _ := ctl(t, admin, "reload", "blue/north/tx"); code != cli.ExitOK || !strings.Contains(out, "reloaded blue/north/tx") {
		t.Errorf("ctl reload: %d %q", code, out)
	}
	if code, out, e := ctl(t, admin, "load", "blue/north", filepath.Join(dir, "drop.wasm"), "--index", "0"); code != cli.ExitOK {
		t.Errorf("ctl load: %d %q %q", code, out, e)
	}
	if code, _, e := ctl(t, admin, "unload", "blue/north/drop"); code != cli.ExitOK {
		t.Errorf("ctl unload: %d %q", code, e)
	}

	writeCfg("two")
	if code, out, e := ctl(t, admin, "reload-config"); code != cli.ExitOK || !strings.Contains(out, "reload tenant blue interface north plugin tx") {
		t.Errorf("ctl reload-config: %d %q %q", code, out, e)
	}
	// SIGHUP does the same; the handler is installed before the admin socket
	// exists. The ctl reload above logged "config reloaded" already: wait
	// for the SIGHUP's own line, or the run could stop (and give SIGHUP its
	// default action, which ends the test binary) before the signal arrives.
	writeCfg("three")
	reloads := strings.Count(bg.stderr.String(), "config reloaded")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(bg.stderr.String(), "config reloaded") == reloads {
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP did not reload; stderr:\n%s", bg.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Contains(bg.stderr.String(), "take effect at the next start") {
		t.Errorf("a reload of an unchanged file warned about settings outside tenants:\n%s", bg.stderr.String())
	}
	if code := bg.stop(t); code != cli.ExitOK {
		t.Fatalf("exit %d", code)
	}
}

// TestRunFailedReloadLoggedOnce: a config reload that would reopen the
// interface but names a missing plugin file fails as one error, printed
// once by ctl and logged once by the daemon, whether it came from ctl or
// SIGHUP; the interface and its socket stay, and ctl stats shows the count
// and the last error.
func TestRunFailedReloadLoggedOnce(t *testing.T) {
	dir := t.TempDir()
	hosttest.Build(t, dir, "tx", int(abi.TX), 0)
	admin := filepath.Join(dir, "admin.sock")
	sock := filepath.Join(dir, "memif.sock")
	cfgFile := filepath.Join(dir, "memif-wasm.yaml")
	writeCfg := func(extra string) {
		y := fmt.Sprintf(`
tenants:
  - name: blue
    interfaces:
      - name: north
        socket: %s
        role: master
%s        plugins:
          - file: tx.wasm
`, sock, extra)
		if extra != "" {
			y += "          - file: nope.wasm\n"
		}
		if err := os.WriteFile(cfgFile, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg("")
	bg := startRun(t, "run", "--config", cfgFile, "--admin-socket", admin, "--watch=false")
	bg.waitAdmin(t, admin)

	writeCfg("        ring_size: 512\n")
	code, out, e := ctl(t, admin, "reload-config")
	if code != cli.ExitFailure || out != "" || strings.Count(e, "nope.wasm") != 1 {
		t.Fatalf("ctl reload-config of a broken config: exit %d, stdout %q, stderr %q; want 1 and the error once", code, out, e)
	}
	if n := strings.Count(bg.stderr.String(), "nope.wasm"); n != 1 {
		t.Errorf("the daemon logged the error %d times, want once:\n%s", n, bg.stderr.String())
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(bg.stderr.String(), "config reload failed") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP did not try to reload; stderr:\n%s", bg.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	log := bg.stderr.String()
	if n := strings.Count(log, "nope.wasm"); n != 2 || strings.Contains(log, "config change applied") {
		t.Errorf("after a failed ctl reload-config and a failed SIGHUP: the error logged %d times (want 2), or a change logged as applied:\n%s", n, log)
	}
	if _, err := os.Stat(sock); err != nil {
		t.Errorf("the memif socket is gone: %v", err)
	}
	if code, out, e := ctl(t, admin, "show", "blue/north"); code != cli.ExitOK || !strings.Contains(out, "north (id 0, master") {
		t.Errorf("ctl show after failed reloads: %d %q %q", code, out, e)
	}
	code, out, _ = ctl(t, admin, "stats")
	if code != cli.ExitOK || !strings.Contains(out, "config reloads: 0 ok, 2 failed") || !strings.Contains(out, "last failed config reload") || !strings.Contains(out, "nope.wasm") {
		t.Errorf("ctl stats: %d\n%s", code, out)
	}
	writeCfg("")
	if code, out, e := ctl(t, admin, "reload-config"); code != cli.ExitOK || out != "no changes\n" {
		t.Errorf("ctl reload-config of the running config: %d %q %q", code, out, e)
	}
	if code, out, _ := ctl(t, admin, "stats", "--json"); code != cli.ExitOK || !strings.Contains(out, `"ok": 1`) || !strings.Contains(out, `"failed": 2`) {
		t.Errorf("ctl stats --json: %d\n%s", code, out)
	}
}

// TestRunBadInput: each mistake is refused with an exit code and an error
// that names the field or file, and nothing keeps running.
func TestRunBadInput(t *testing.T) {
	dir := t.TempDir()
	plugin := hosttest.Build(t, dir, "tx", int(abi.TX), 0)
	garbage := filepath.Join(dir, "garbage.wasm")
	os.WriteFile(garbage, []byte("\x00asm\x01\x00\x00\x00\x05"), 0o644)
	badCfg := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badCfg, []byte("tenants:\n  - name: t\n    interfaces:\n      - name: i\n        ring_size: 1000\n"), 0o644)
	busy := filepath.Join(dir, "busy.sock")
	l, err := net.Listen("unixpacket", busy)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	adm := []string{"--admin-socket", ""}
	emptyToken := filepath.Join(dir, "empty-token")
	os.WriteFile(emptyToken, []byte("\n"), 0o600)
	quick := func(extra ...string) []string {
		return append(append([]string{"run", "--socket", filepath.Join(dir, "q.sock"), "--role", "master"}, adm...), extra...)
	}
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"broken config", append([]string{"run", "--config", badCfg}, adm...), cli.ExitUsage, []string{"bad.yaml", "interfaces[0].ring_size", "1000 is not a power of two"}},
		{"missing config", append([]string{"run", "--config", filepath.Join(dir, "nope.yaml")}, adm...), cli.ExitUsage, []string{"nope.yaml", "no such file"}},
		{"missing plugin", quick("--plugin", filepath.Join(dir, "nope.wasm")), cli.ExitFailure, []string{"nope.wasm", "no such file"}},
		{"plugin fails admission", quick("--plugin", garbage), cli.ExitFailure, []string{`plugin \"garbage\"`}},
		{"socket path in use", append([]string{"run", "--socket", busy, "--role", "master", "--plugin", plugin}, adm...), cli.ExitFailure, []string{busy}},
		{"metrics address in use", quick("--metrics-addr", taken.Addr().String()), cli.ExitFailure, []string{"metrics listener", "address already in use"}},
		{"config and flags", append([]string{"run", "--config", badCfg, "--socket", "x"}, adm...), cli.ExitUsage, []string{"exclude each other"}},
		{"nothing to run", append([]string{"run"}, adm...), cli.ExitUsage, []string{"give --config FILE"}},
		{"bad role", quick("--role", "boss"), cli.ExitUsage, []string{"interfaces[0].role", `"boss"`}},
		{"bad queues", quick("--queues", "300"), cli.ExitUsage, []string{"interfaces[0].queues"}},
		{"extra plugin config", quick("--plugin-config", "x"), cli.ExitUsage, []string{"1 --plugin-config for 0 --plugin"}},
		{"admin tcp without token", quick("--admin-tcp", "127.0.0.1:0"), cli.ExitUsage, []string{"admin.token_file"}},
		{"missing token file", quick("--admin-tcp", "127.0.0.1:0", "--admin-token-file", filepath.Join(dir, "no-token")), cli.ExitFailure, []string{"token file", "no-token"}},
		{"empty token file", quick("--admin-tcp", "127.0.0.1:0", "--admin-token-file", emptyToken), cli.ExitFailure, []string{"token file", "empty"}},
		{"admin tcp not loopback", quick("--admin-tcp", "0.0.0.0:0", "--admin-token-file", emptyToken), cli.ExitUsage, []string{"admin.tcp", "not a loopback"}},
		{"negative stack", quick("--plugin", plugin, "--stack", "-1"), cli.ExitUsage, []string{"plugins[0].stack", "-1 is outside", "the i-th --plugin"}},
		{"stack over 2^31-1", quick("--plugin", plugin, "--stack", "2147483648"), cli.ExitUsage, []string{"plugins[0].stack", "2147483648 is outside"}},
		{"tx retry time over 1s", quick("--tx-retry-time", "2s"), cli.ExitUsage, []string{"interfaces[0].tx_retry_time", "2s is outside 0s..1s", "the --socket flags"}},
		{"negative tx retry time", quick("--tx-retry-time", "-1ms"), cli.ExitUsage, []string{"interfaces[0].tx_retry_time", "-1ms is outside"}},
		{"tx retry time without unit", quick("--tx-retry-time", "5"), cli.ExitUsage, []string{"tx-retry-time", "missing unit"}},
		{"extra argument", quick("extra"), cli.ExitUsage, []string{`unexpected argument "extra"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var out, errb bytes.Buffer
			code := run(ctx, tt.args, &out, &errb)
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.code, errb.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
		})
	}
}

func TestCtlErrors(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	if code, _, e := ctl(t, sock, "list"); code != cli.ExitFailure || !strings.Contains(e, "is 'memif-wasm run' running") {
		t.Errorf("no daemon: %d %q", code, e)
	}
	for _, args := range [][]string{{}, {"frob"}, {"show"}, {"show", "a"}, {"reload", "a/b"}, {"control", "a/b/c"}, {"unload", "a//c"}} {
		if code, _, e := ctl(t, sock, args...); code != cli.ExitUsage || !strings.Contains(e, "Usage:") {
			t.Errorf("ctl %v: %d %q", args, code, e)
		}
	}
	plugin := hosttest.Build(t, dir, "tx", int(abi.TX), 0)
	bg := startRun(t, "run", "--socket", filepath.Join(dir, "m.sock"), "--role", "master", "--plugin", plugin, "--admin-socket", sock)
	bg.waitAdmin(t, sock)
	if code, _, e := ctl(t, sock, "reload", "default/memif0/nope"); code != cli.ExitFailure || !strings.Contains(e, `no plugin "nope"`) {
		t.Errorf("unknown plugin: %d %q\nrun stderr:\n%s", code, e, bg.stderr.String())
	}
	if code, _, e := ctl(t, sock, "show", "nope/memif0"); code != cli.ExitFailure || !strings.Contains(e, `no tenant "nope"`) {
		t.Errorf("unknown tenant: %d %q", code, e)
	}
	if code, _, e := ctl(t, sock, "load", "default/memif0", filepath.Join(dir, "missing.wasm")); code != cli.ExitFailure || !strings.Contains(e, "no such file") {
		t.Errorf("load missing: %d %q", code, e)
	}
	if code, _, e := ctl(t, sock, "reload-config"); code != cli.ExitFailure || !strings.Contains(e, "without a config file") {
		t.Errorf("reload-config without file: %d %q", code, e)
	}
}

// aclC builds a configuration or control message of the C acl plugin
// (plugins/acl/c/acl.c): default allow, and when denyUDP one rule denying UDP.
func aclC(denyUDP bool) []byte {
	b := []byte{'M', 'W', 'A', '1', 1, 1, 0, 0}
	if denyUDP {
		b[6] = 1
		rule := make([]byte, 48)
		rule[0], rule[2], rule[3] = 0, 17, 1 // deny, proto 17, match proto
		binary.LittleEndian.PutUint16(rule[10:], 0xffff)
		binary.LittleEndian.PutUint16(rule[14:], 0xffff)
		b = append(b, rule...)
	}
	return b
}

// TestRunACLControl runs the C acl plugin in front of a reflector: gen's
// frames come back until `ctl control` installs a deny-UDP rule set, after
// which none does and the acl counts the drops.
func TestRunACLControl(t *testing.T) {
	acl := builtPlugin(t, "acl-c.wasm")
	dir := t.TempDir()
	tx := hosttest.Build(t, dir, "reflect", int(abi.TX), 0)
	sock, adm := filepath.Join(dir, "memif.sock"), filepath.Join(dir, "admin.sock")
	aclCfg, rules := filepath.Join(dir, "acl.bin"), filepath.Join(dir, "deny-udp.bin")
	os.WriteFile(aclCfg, aclC(false), 0o644)
	os.WriteFile(rules, aclC(true), 0o644)
	bg := startRun(t, "run", "--socket", sock, "--role", "master", "--plugin", acl, "--plugin-config", aclCfg,
		"--plugin", tx, "--admin-socket", adm, "--watch=false")
	bg.waitAdmin(t, adm)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := gen.Run(ctx, gen.Config{Socket: sock, Count: 500, Rate: 20000})
	if err != nil || rep.Unique == 0 {
		t.Fatalf("before the rule: %+v, %v", rep, err)
	}
	code, out, e := ctl(t, adm, "control", "default/memif0/acl-c", "@"+rules)
	if code != cli.ExitOK || out != "4 bytes: 01000000\n" {
		t.Fatalf("ctl control: %d %q %s", code, out, e)
	}
	rep, err = gen.Run(ctx, gen.Config{Socket: sock, Count: 500, Rate: 20000, Drain: 300 * time.Millisecond})
	if err != nil || rep.Sent != 500 || rep.Received != 0 {
		t.Fatalf("after the deny rule: sent %d received %d, %v", rep.Sent, rep.Received, err)
	}
	code, out, _ = ctl(t, adm, "stats", "--json")
	var s struct {
		Tenants []struct {
			Interfaces []struct {
				Plugins []struct {
					Name     string
					Verdicts map[string]uint64
				}
			}
		}
	}
	if code != cli.ExitOK || json.Unmarshal([]byte(out), &s) != nil {
		t.Fatalf("ctl stats --json: %d %s", code, out)
	}
	if v := s.Tenants[0].Interfaces[0].Plugins[0].Verdicts; v["drop"] != 500 {
		t.Errorf("acl verdicts %v, want 500 drops", v)
	}
}

// TestRunReload100UnderTraffic is the reload test end to end: gen
// sends sequence-numbered frames through `run` while `ctl reload` swaps the
// plugin 100 times; gen sees none lost or duplicated, and every reload is counted.
func TestRunReload100UnderTraffic(t *testing.T) {
	dir := t.TempDir()
	sock, adm := filepath.Join(dir, "memif.sock"), filepath.Join(dir, "admin.sock")
	plugin := hosttest.Build(t, dir, "reflect", int(abi.TX), 0)
	bg := startRun(t, "run", "--socket", sock, "--role", "master", "--plugin", plugin, "--admin-socket", adm, "--watch=false")
	bg.waitAdmin(t, adm)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	type result struct {
		rep gen.Report
		err error
	}
	done := make(chan result, 1)
	reloading := make(chan struct{})
	go func() {
		rep, err := gen.Run(ctx, gen.Config{Socket: sock, Duration: 30 * time.Second, Rate: 10000,
			Started: func() { close(reloading) }, Drain: 2 * time.Second})
		done <- result{rep, err}
	}()
	select {
	case <-reloading:
	case r := <-done:
		t.Fatalf("gen ended before it started: %+v %v", r.rep, r.err)
	}
	for i := 0; i < 100; i++ {
		if code, _, e := ctl(t, adm, "reload", "default/memif0/reflect"); code != cli.ExitOK {
			t.Fatalf("reload %d: %d %s", i, code, e)
		}
	}
	cancel() // stop sending; gen drains what is in flight and reports
	r := <-done
	if r.rep.Sent == 0 || r.rep.Lost != 0 || r.rep.Duplicates != 0 || r.rep.Unique != r.rep.Sent {
		_, stats, _ := ctl(t, adm, "stats")
		t.Fatalf("gen: sent %d unique %d lost %d duplicates %d (%v)\n%s", r.rep.Sent, r.rep.Unique, r.rep.Lost, r.rep.Duplicates, r.err, stats)
	}
	code, out, _ := ctl(t, adm, "stats", "--json")
	var s struct {
		Reloads map[string]map[string]uint64 `json:"plugin_reloads_by_tenant_and_result"`
	}
	if code != cli.ExitOK || json.Unmarshal([]byte(out), &s) != nil || s.Reloads["default"]["ok"] != 100 {
		t.Fatalf("reloads counted: %d %s", code, out)
	}
	t.Logf("%d frames through 100 reloads, none lost or duplicated", r.rep.Sent)
}

// TestQuickConfigTxRetry: the quick run's tx retry flags reach the
// interface, and their defaults defer to the host (0: no count cap, and
// dataplane.DefaultTxRetryTime).
func TestQuickConfigTxRetry(t *testing.T) {
	tests := []struct {
		args        []string
		wantRetries int
		wantTime    time.Duration
	}{
		{nil, 0, 0},
		{[]string{"--tx-retry-time", "300us"}, 0, 300 * time.Microsecond},
		{[]string{"--tx-retry-time", "1s", "--tx-retries", "7"}, 7, time.Second},
		{[]string{"--tx-retry-time", "0s"}, 0, 0},
	}
	for _, tt := range tests {
		fs, f := newRunFlags()
		if err := fs.Parse(append([]string{"--socket", "/tmp/x.sock"}, tt.args...)); err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		c, err := f.quickConfig()
		if err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		if in := c.Tenants[0].Interfaces[0]; in.TxRetries != tt.wantRetries || in.TxRetryTime != tt.wantTime {
			t.Errorf("%q: tx_retries %d, tx_retry_time %v; want %d and %v", tt.args, in.TxRetries, in.TxRetryTime, tt.wantRetries, tt.wantTime)
		}
	}
}
