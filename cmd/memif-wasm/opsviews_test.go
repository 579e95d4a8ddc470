package main

import (
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
	"github.com/memif-wasm/memif-wasm/host/daemon"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
)

var builtBin struct {
	once sync.Once
	path string
	err  error
}

// builtBinary builds memif-wasm once per test run, as `go build` does for a
// user: build information (VCS stamp, dependency versions) is recorded only
// in a real build, not in the test binary (-buildvcs=auto overrides a
// GOFLAGS=-buildvcs=false in the environment).
func builtBinary(t *testing.T) string {
	t.Helper()
	builtBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "memif-wasm-bin")
		if err != nil {
			builtBin.err = err
			return
		}
		builtBin.path = filepath.Join(dir, "memif-wasm")
		out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-buildvcs=auto", "-o", builtBin.path, ".").CombinedOutput()
		if err != nil {
			builtBin.err = err
			builtBin.path = string(out)
		}
	})
	if builtBin.err != nil {
		t.Fatalf("go build: %v\n%s", builtBin.err, builtBin.path)
	}
	return builtBin.path
}

// TestVersionOfBuiltBinary: `memif-wasm --version` and `version --json` of
// a real build report the module version, the checkout's revision, and the
// Go and wazero versions that went into it.
func TestVersionOfBuiltBinary(t *testing.T) {
	bin := builtBinary(t)
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("--version: %v", err)
	}
	line := strings.TrimSpace(string(out))
	out, err = exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatalf("version --json: %v", err)
	}
	var bi daemon.BuildInfo
	if err := json.Unmarshal(out, &bi); err != nil {
		t.Fatalf("version --json: %v\n%s", err, out)
	}
	if line != bi.String() {
		t.Errorf("--version %q differs from version --json's %q", line, bi.String())
	}
	if bi.GoVersion != runtime.Version() {
		t.Errorf("go_version %q, want %q", bi.GoVersion, runtime.Version())
	}
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`github.com/tetratelabs/wazero (v\S+)`).FindSubmatch(gomod)
	if want == nil || bi.WazeroVersion != string(want[1]) {
		t.Errorf("wazero_version %q, go.mod requires %q", bi.WazeroVersion, want)
	}
	if bi.Version == "" {
		t.Error("no module version")
	}
	// The revision is what the toolchain stamped into the binary: a
	// checkout's HEAD, or none where Go records no VCS state (no git,
	// -buildvcs=false, some worktree layouts).
	rec, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	stamped := ""
	for _, s := range rec.Settings {
		if s.Key == "vcs.revision" {
			stamped = s.Value
		}
	}
	if bi.Revision != stamped {
		t.Errorf("revision %q, the binary records %q", bi.Revision, stamped)
	}
	if stamped == "" {
		t.Logf("this build has no VCS stamp: revision and time are not checked against git")
	} else if rev, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		if r := strings.TrimSpace(string(rev)); bi.Revision != r || bi.Time.IsZero() {
			t.Errorf("revision %q time %v, want the checkout's %q and its commit time", bi.Revision, bi.Time, r)
		}
	}
}

// httpGet fetches url with client, returning the status and body.
func httpGet(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// unixClient speaks HTTP over the admin socket.
func unixClient(sock string) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
}

// TestRunHealthReadyProfiling: a running daemon answers /healthz and
// /readyz on its metrics address, exports memif_wasm_build_info there,
// serves /debug/pprof on the admin socket only, and its startup log names
// the version, the interface and the plugin with its sha256.
func TestRunHealthReadyProfiling(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	plugin := hosttest.Build(t, dir, "reflect", int(abi.TX), 0)
	maddr := freePort(t)
	adminSock := filepath.Join(dir, "admin.sock")
	bg := startRun(t, "run", "--socket", sock, "--role", "slave", "--id", "3", "--plugin", plugin,
		"--metrics-addr", maddr, "--admin-socket", adminSock, "--log-format", "json")
	bg.waitAdmin(t, adminSock)

	c := &http.Client{Timeout: 10 * time.Second}
	if code, body := httpGet(t, c, "http://"+maddr+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	// A slave whose master is absent is connecting: ready.
	if code, body := httpGet(t, c, "http://"+maddr+"/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz = %d %q", code, body)
	}
	if code, _ := httpGet(t, c, "http://"+maddr+"/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("/debug/pprof/ on the metrics address = %d, want 404", code)
	}
	if _, body := httpGet(t, c, "http://"+maddr+"/metrics"); !strings.Contains(body, "memif_wasm_build_info{") {
		t.Error("/metrics lacks memif_wasm_build_info")
	}
	ac := unixClient(adminSock)
	if code, body := httpGet(t, ac, "http://memif-wasm/debug/pprof/cmdline"); code != 200 || !strings.Contains(body, os.Args[0]) {
		t.Errorf("admin /debug/pprof/cmdline = %d %q", code, body)
	}
	if code, body := httpGet(t, ac, "http://memif-wasm/debug/pprof/goroutine?debug=1"); code != 200 || !strings.Contains(body, "goroutine profile:") {
		t.Errorf("admin /debug/pprof/goroutine = %d %.100q", code, body)
	}
	if code := bg.stop(t); code != cli.ExitOK {
		t.Fatalf("exit %d", code)
	}
	sum, err := fileSHA256Hex(plugin)
	if err != nil {
		t.Fatal(err)
	}
	log := bg.stderr.String()
	for _, want := range []string{`"msg":"memif-wasm running","version":`, `"wazero":"`, `"interfaces":1,"plugins":1`,
		`"msg":"interface","tenant":"default","interface":"memif0","socket":"` + sock + `","role":"slave","id":3`,
		`"msg":"plugin","tenant":"default","interface":"memif0","plugin":"reflect","position":0`, `"sha256":"` + sum + `"`} {
		if !strings.Contains(log, want) {
			t.Errorf("startup log lacks %s:\n%s", want, log)
		}
	}
}

func fileSHA256Hex(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", sha256.Sum256(b)), nil
}

// TestVersionCommandLine: version takes no argument (exit 2, as every usage
// error), and --version is the version command.
func TestVersionCommandLine(t *testing.T) {
	code, _, errOut := runArgs(t, "version", "extra")
	if code != cli.ExitUsage || !strings.Contains(errOut, `unexpected argument "extra"`) {
		t.Errorf("version extra: %d %q", code, errOut)
	}
	code, out, _ := runArgs(t, "--version")
	if code != cli.ExitOK || out != daemon.ReadBuildInfo().String()+"\n" {
		t.Errorf("--version: %d %q", code, out)
	}
}
