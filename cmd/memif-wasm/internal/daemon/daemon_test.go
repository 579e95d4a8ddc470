package daemon

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
)

// TestReflect runs a single master interface with a TX plugin: every packet
// the peer sends comes back on the same interface, once.
func TestReflect(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	d := startDaemon(t, oneInterface(sock, buildPlugin(t, dir, "tx", int(abi.TX), 0)), Options{})
	p := newPeer(t, sock, 0, false)
	tr := &traffic{tx: p, rx: p, count: 5000}
	tr.run(t, 10*time.Second)
	if lost, dup := tr.check(); lost != 0 || dup != 0 || tr.other != 0 {
		t.Fatalf("lost %d, duplicated %d, foreign %d of %d", lost, dup, tr.other, tr.count)
	}
	s := d.Snapshot()
	in := s.Tenants[0].Interfaces[0]
	if !in.Connected || in.Queues[0].RxPackets != 5000 || in.Queues[0].TxPackets != 5000 {
		t.Errorf("interface snapshot: connected=%v rx=%d tx=%d", in.Connected, in.Queues[0].RxPackets, in.Queues[0].TxPackets)
	}
	if got := in.Plugins[0].Stats.Verdicts[abi.TX]; got != 5000 {
		t.Errorf("TX verdicts = %d, want 5000", got)
	}
	_ = context.Background
}
