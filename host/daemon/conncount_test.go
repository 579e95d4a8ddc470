package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

// Two connections are two connections served by each queue's worker, not
// one per time a worker started (issue #13 saw 10 for 2 connects: the
// per-queue series summed over queues and placements).
func TestConnectionsCountedOncePerConnect(t *testing.T) {
	path := memiftest.SocketPath(t)
	d := startDaemon(t, oneInterface(path), Options{})
	for i := range 2 {
		p := newPeer(t, path, 0, false)
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			s := d.Snapshot().Tenants[0].Interfaces[0]
			if s.Queues[0].Connections == uint64(i+1) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		p.close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for d.Snapshot().Tenants[0].Interfaces[0].Connected && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}
	time.Sleep(200 * time.Millisecond) // anything late would show now
	s := d.Snapshot().Tenants[0].Interfaces[0]
	if s.Memif.Connects != 2 || s.Queues[0].Connections != 2 {
		t.Fatalf("memif connects %d, worker connections %d; want 2 and 2", s.Memif.Connects, s.Queues[0].Connections)
	}
}
