package daemon

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/memif/gen"
)

// TestJumboOverSmallMasterRing (issue #9 case 2): a master with ring_size 4
// behind a slave that sends 9000-byte frames in 2048-byte buffers (chains
// of 5, longer than the worker's burst of 4). The worker used to stop for
// good ("worker stuck") and lose 100 of 100 frames while the link stayed
// up; every frame comes back now.
func TestJumboOverSmallMasterRing(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	cfg := oneInterface(sock, buildPlugin(t, dir, "tx", int(abi.TX), 0))
	cfg.Tenants[0].Interfaces[0].RingSize = 4
	d := startDaemon(t, cfg, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := gen.Run(ctx, gen.Config{Socket: sock, Size: 9000, Count: 100, Rate: 2000})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 100 || rep.Unique != 100 || rep.Lost != 0 || rep.Duplicates != 0 {
		t.Fatalf("sent %d, back %d, lost %d, duplicated %d", rep.Sent, rep.Unique, rep.Lost, rep.Duplicates)
	}
	q := d.Snapshot().Tenants[0].Interfaces[0].Queues[0]
	if q.RxPackets != 100 || q.Tx[abi.TX] != 100 {
		t.Errorf("worker: rx %d, tx %d", q.RxPackets, q.Tx[abi.TX])
	}
}
