package daemon

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
)

// TestPollingModeRefused: host.Worker only waits for interrupts, so a
// polling interface would never be served; the daemon refuses it up front
// with an error naming the interface, instead of starting a dead queue.
func TestPollingModeRefused(t *testing.T) {
	dir := t.TempDir()
	cfg := oneInterface(filepath.Join(dir, "memif.sock"), buildPlugin(t, dir, "tx", int(abi.TX), 0))
	cfg.Tenants[0].Interfaces[0].RxMode = "polling"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := New(ctx, cfg, Options{Logger: quietLogger()})
	if err == nil {
		d.Close()
		t.Fatal("a polling interface was accepted")
	}
	if !errors.Is(err, ErrPollingUnsupported) {
		t.Fatalf("err = %v, want ErrPollingUnsupported", err)
	}
}
