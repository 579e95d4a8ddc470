package daemon

import (
	"bytes"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memif-wasm/memif-wasm/abi"
)

// TestReady: a daemon whose interfaces are open and plugins loaded is ready
// before any peer connects; a closed one is not, and says why.
func TestReady(t *testing.T) {
	dir := t.TempDir()
	p := buildPlugin(t, dir, "pass", int(abi.Pass), 0)
	d := startDaemon(t, oneInterface(filepath.Join(dir, "memif.sock"), p), Options{})
	if err := d.Ready(); err != nil {
		t.Fatalf("Ready with no peer connected: %v (a listening master is ready)", err)
	}
	d.Close()
	err := d.Ready()
	if !errors.Is(err, ErrNotReady) || !errors.Is(err, ErrClosed) {
		t.Fatalf("Ready after Close = %v, want ErrNotReady wrapping ErrClosed", err)
	}
}

// TestReadyLostInterface: an interface that is not open (as after a failed
// reopen) makes the daemon not ready, naming the interface.
func TestReadyLostInterface(t *testing.T) {
	dir := t.TempDir()
	p := buildPlugin(t, dir, "pass", int(abi.Pass), 0)
	d := startDaemon(t, oneInterface(filepath.Join(dir, "memif.sock"), p), Options{})
	d.mu.Lock()
	port := d.tenants[0].ports[0]
	port.stopWorkers()
	port.closeIface()
	d.mu.Unlock()
	err := d.Ready()
	if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "interface t/memif0 is not open") {
		t.Fatalf("Ready = %v", err)
	}
}

// TestLogStartup: the startup lines carry the version, and every interface
// and plugin with its tenant and sha256.
func TestLogStartup(t *testing.T) {
	dir := t.TempDir()
	p := buildPlugin(t, dir, "pass", int(abi.Pass), 0)
	d := startDaemon(t, oneInterface(filepath.Join(dir, "memif.sock"), p), Options{})
	var buf bytes.Buffer
	d.LogStartup(slog.New(slog.NewTextHandler(&buf, nil)), "admin_socket", "/x")
	sum := d.Snapshot().Tenants[0].Interfaces[0].Plugins[0].SHA256
	out := buf.String()
	for _, want := range []string{"msg=\"memif-wasm running\" version=", "tenants=1 interfaces=1 plugins=1 admin_socket=/x",
		"msg=interface tenant=t interface=memif0", "role=master",
		"msg=plugin tenant=t interface=memif0 plugin=pass position=0", "sha256=" + sum} {
		if !strings.Contains(out, want) {
			t.Errorf("startup log lacks %q:\n%s", want, out)
		}
	}
	if len(sum) != 64 {
		t.Errorf("sha256 %q", sum)
	}
}
