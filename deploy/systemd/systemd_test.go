package systemd_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/deploy/internal/deploytest"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	deploytest.Cleanup()
	os.Exit(code)
}

// unit is a parsed unit file: section -> key -> values in order.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	sec := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";"):
		case strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]"):
			sec = l[1 : len(l)-1]
			u[sec] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok || sec == "" {
				t.Fatalf("%s:%d: not KEY=VALUE in a section: %q", path, n, l)
			}
			u[sec][k] = append(u[sec][k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

func (u unit) get(t *testing.T, sec, key string) string {
	t.Helper()
	v := u[sec][key]
	if len(v) != 1 {
		t.Fatalf("[%s] %s set %d times, want once", sec, key, len(v))
	}
	return v[0]
}

// verify runs systemd-analyze verify on path and returns what it printed.
func verify(t *testing.T, path string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		deploytest.SkipOrFail(t, "systemd-analyze is not installed (Debian package systemd)")
	}
	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// TestUnitVerifies: systemd itself reads the unit without a warning (it
// ignores unknown keys with only a message, so any message fails). Its
// ExecStart is pointed at an executable that exists here.
func TestUnitVerifies(t *testing.T) {
	src, err := os.ReadFile("memif-wasm.service")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "memif-wasm.service")
	text := strings.ReplaceAll(string(src), "/usr/local/bin/memif-wasm", "/bin/true")
	if err := os.WriteFile(good, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := verify(t, good); err != nil || out != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The check itself notices a misspelt key.
	bad := filepath.Join(dir, "bad", "memif-wasm.service")
	os.Mkdir(filepath.Dir(bad), 0o755)
	if err := os.WriteFile(bad, []byte(strings.Replace(text, "UMask=", "UMaks=", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _ := verify(t, bad); !strings.Contains(out, "UMaks") {
		t.Errorf("a misspelt key went unnoticed: %q", out)
	}
}

// TestUnitSettings holds the unit to the permissions deploy/README.md
// describes, and to the config it starts: the admin socket and cache live in
// the directories the unit gives the service.
func TestUnitSettings(t *testing.T) {
	u := parseUnit(t, "memif-wasm.service")
	want := map[string]string{
		"User": "memif-wasm", "Group": "vpp", "UMask": "0007",
		"RuntimeDirectory": "memif-wasm", "RuntimeDirectoryMode": "0750",
		"CacheDirectory": "memif-wasm", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
		"CapabilityBoundingSet": "", "AmbientCapabilities": "", "PrivateDevices": "yes",
		"ExecReload": "/bin/kill -HUP $MAINPID", "KillSignal": "SIGTERM",
	}
	for k, v := range want {
		if got := u.get(t, "Service", k); got != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
	if _, ok := u["Service"]["MemoryDenyWriteExecute"]; ok {
		t.Error("MemoryDenyWriteExecute would stop wazero's compiler")
	}
	if _, ok := u["Service"]["DynamicUser"]; ok {
		t.Error("DynamicUser: the sockets' group must be vpp, a static group")
	}
	if !slices.Contains(strings.Fields(u.get(t, "Unit", "After")), "vpp.service") {
		t.Error("not ordered after vpp.service")
	}
	exec := strings.Fields(u.get(t, "Service", "ExecStart"))
	if len(exec) != 4 || exec[1] != "run" || exec[2] != "--config" {
		t.Fatalf("ExecStart %q", exec)
	}
	if exec[3] != "/etc/memif-wasm/memif-wasm.yaml" {
		t.Errorf("config %s: the README installs memif-wasm.yaml at /etc/memif-wasm/memif-wasm.yaml", exec[3])
	}
	data, err := os.ReadFile("memif-wasm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(data, "memif-wasm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if d := filepath.Dir(cfg.Admin.Socket); d != "/run/"+u.get(t, "Service", "RuntimeDirectory") {
		t.Errorf("admin socket %s is not in the unit's RuntimeDirectory", cfg.Admin.Socket)
	}
	if cfg.Engine.CacheDir != "/var/cache/"+u.get(t, "Service", "CacheDirectory") {
		t.Errorf("engine.cache_dir %s is not the unit's CacheDirectory", cfg.Engine.CacheDir)
	}
	if host, _, err := net.SplitHostPort(cfg.Metrics.Addr); err != nil || !net.ParseIP(host).IsLoopback() {
		t.Errorf("metrics.addr %q: on a host, metrics stay on loopback", cfg.Metrics.Addr)
	}
	users, err := os.ReadFile("memif-wasm.sysusers")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(users), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && !strings.HasPrefix(f[0], "#") {
			lines = append(lines, strings.Join(f[:min(3, len(f))], " "))
		}
	}
	for _, want := range []string{"g vpp -", "u memif-wasm -", "m memif-wasm vpp"} {
		if !slices.Contains(lines, want) {
			t.Errorf("memif-wasm.sysusers lacks %q (has %q)", want, lines)
		}
	}
}

// TestSocketGroupPermissions runs the real binary as the unit does (its
// own user, VPP's group, umask 0007) as a memif master, and checks that its
// socket is VPP's group's alone: srwxrwx--- owned by that user and group; a
// process in the group connects, one outside it is refused; the admin
// socket stays the user's alone.
func TestSocketGroupPermissions(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: it runs memif-wasm as another user and group")
	}
	const uid, vppGID, otherGID = 65534, 4242, 4343
	bin := deploytest.Binary(t)
	var pass string
	for _, p := range deploytest.Plugins(t) {
		if filepath.Base(p) == "pass.wasm" {
			pass = p
		}
	}
	if pass == "" {
		t.Fatal("no pass.wasm among the example plugins")
	}
	// A directory the service's user may use, as RuntimeDirectory is, with
	// its own copies of the binary and plugin (the build directory is 0700).
	dir, err := os.MkdirTemp("", "memif-wasm-unit-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	for src, dst := range map[string]string{bin: "memif-wasm", pass: "pass.wasm"} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(dir, "memif.sock")
	admin := filepath.Join(dir, "admin.sock")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", `umask 0007 && exec "$0" "$@"`,
		filepath.Join(dir, "memif-wasm"), "run", "--socket", sock, "--role", "master", "--id", "0",
		"--plugin", filepath.Join(dir, "pass.wasm"), "--admin-socket", admin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: vppGID, Groups: []uint32{}}}
	var out hosttest.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		// By PID: the daemon this test started.
		syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	// The startup line comes after both listeners have their mode, owner
	// and group; the files exist a moment earlier, with the umask's mode.
	for !strings.Contains(out.String(), "memif-wasm running") {
		select {
		case <-exited:
			t.Fatalf("memif-wasm exited:\n%s", out.String())
		case <-ctx.Done():
			t.Fatalf("no sockets after a minute:\n%s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	check := func(path string, mode os.FileMode, gid int) {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != mode || int(st.Uid) != uid || int(st.Gid) != gid {
			t.Errorf("%s: %v %d:%d, want socket %v %d:%d", path, fi.Mode(), st.Uid, st.Gid, mode, uid, gid)
		}
	}
	check(sock, 0o770, vppGID)
	check(admin, 0o600, vppGID)
	if err := deploytest.DialAs(sock, 65533, vppGID); err != nil {
		t.Errorf("a process in the socket's group cannot connect: %v", err)
	}
	if err := deploytest.DialAs(sock, 65533, otherGID); !errors.Is(err, syscall.EACCES) {
		t.Errorf("a process outside the socket's group: %v, want permission denied", err)
	}
	if err := deploytest.DialAs(admin, 65533, vppGID); !errors.Is(err, syscall.EACCES) {
		t.Errorf("the admin socket to a group member: %v, want permission denied", err)
	}
}
