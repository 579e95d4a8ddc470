package daemon

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
)

// TestPollingMode: an interface in polling mode (the peer never signals)
// forwards like one in interrupt mode, and stops cleanly.
func TestPollingMode(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	cfg := oneInterface(sock, buildPlugin(t, dir, "tx", int(abi.TX), 0))
	cfg.Tenants[0].Interfaces[0].RxMode = "polling"
	d := startDaemon(t, cfg, Options{})
	p := newPeer(t, sock, 0, false)
	tr := &traffic{tx: p, rx: p, count: 3000}
	tr.run(t, 10*time.Second)
	if lost, dup := tr.check(); lost != 0 || dup != 0 {
		t.Fatalf("polling: lost %d, duplicated %d", lost, dup)
	}
	// The worker kept polling while the ring was empty, and says so.
	qs := d.Snapshot().Tenants[0].Interfaces[0].Queues[0]
	if qs.EmptyPolls == 0 || qs.Busy <= 0 || qs.RxBytes == 0 {
		t.Fatalf("polling: %d empty polls, busy %v, %d bytes received", qs.EmptyPolls, qs.Busy, qs.RxBytes)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}
