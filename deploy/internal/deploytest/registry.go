// Package deploytest holds the deploy module's test helpers: the static
// binary built by the Makefile, the example plugins, and Debian's
// docker-registry (CNCF distribution 2.8) on a loopback port, stopped by PID
// when the test ends.
package deploytest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Strict reports whether a missing prerequisite (the registry binary, the
// built plugins, make) fails a test instead of skipping it: `make test`
// sets MEMIF_DEPLOY=1 after installing them.
func Strict() bool { return os.Getenv("MEMIF_DEPLOY") == "1" }

// SkipOrFail skips t with reason, or fails it under Strict.
func SkipOrFail(t testing.TB, reason string) {
	t.Helper()
	if Strict() {
		t.Fatalf("%s (MEMIF_DEPLOY=1: required)", reason)
	}
	t.Skip(reason + " (set MEMIF_DEPLOY=1 to make this an error; `make test` installs it)")
}

// StartRegistry runs docker-registry with its storage in a temporary directory on
// 127.0.0.1 and returns its host:port once it answers /v2/.
func StartRegistry(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		SkipOrFail(t, "docker-registry is not installed (Debian package docker-registry)")
	}
	dir := t.TempDir()
	addr := freeLoopbackAddr(t)
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "data"), addr)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting docker-registry: %v", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		// By PID: only the process this test started.
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		select {
		case <-exited:
			t.Fatalf("docker-registry exited: %v\n%s", waitErr, out.String())
		case <-ctx.Done():
			t.Fatalf("docker-registry did not answer on %s: %v\n%s", addr, err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freeLoopbackAddr returns a 127.0.0.1 port that was free a moment ago.
func freeLoopbackAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strings.TrimSpace(ln.Addr().String())
}
