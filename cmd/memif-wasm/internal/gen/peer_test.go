package gen

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
)

// peer is a test memif peer that sends back (on the same interface, or on out) what it
// receives, optionally misbehaving, so the sink's numbers can be checked exactly.
type peer struct {
	// dropEvery drops every n-th frame (counted per queue from 1); 0: none.
	dropEvery int
	// dupEvery sends every n-th frame twice; 0: none.
	dupEvery int
	// swapPairs swaps frames 2k and 2k+1 within each burst (reordering).
	swapPairs bool
	// noRx never takes frames: the ring fills up and stays full.
	noRx bool
}

// start creates the peer's interfaces on path: id in, and id out when out >= 0 (frames
// arriving on in leave on out). It returns when they exist, closes them at the end of the
// test, and reports the socket so the test can close it early (a vanishing peer).
func (p *peer) start(t *testing.T, path string, role memif.Role, id uint32, out int64, queues int) *memif.Socket {
	t.Helper()
	sock, err := memif.NewSocket(memif.SocketConfig{Path: path, AppName: "test-peer", ReconnectInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(id uint32) memif.InterfaceConfig {
		return memif.InterfaceConfig{ID: id, Role: role, RxQueues: queues, TxQueues: queues}
	}
	in, err := sock.NewInterface(cfg(id))
	if err != nil {
		t.Fatal(err)
	}
	egress := in
	if out >= 0 {
		if egress, err = sock.NewInterface(cfg(uint32(out))); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for q := range queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.loop(ctx, in, egress, q)
		}()
	}
	t.Cleanup(func() {
		cancel()
		sock.Close()
		wg.Wait()
	})
	return sock
}

func (p *peer) loop(ctx context.Context, in, out *memif.Interface, q int) {
	bufs := make([]memif.Buffer, 256)
	pkts := make([][]byte, 0, 512)
	seen := 0
	for ctx.Err() == nil {
		if in.WaitConnected(ctx) != nil || out.WaitConnected(ctx) != nil {
			return
		}
		rx, err1 := in.RxQueue(q)
		tx, err2 := out.TxQueue(q)
		if err1 != nil || err2 != nil {
			time.Sleep(time.Millisecond)
			continue
		}
		for ctx.Err() == nil {
			if p.noRx {
				time.Sleep(time.Millisecond)
				continue
			}
			n, err := rx.RxBurst(bufs)
			if err != nil {
				break
			}
			if n == 0 {
				wctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
				rx.Wait(wctx)
				cancel()
				continue
			}
			pkts = pkts[:0]
			for i := 0; i < n; i++ {
				f := append([]byte(nil), bufs[i].Data...)
				for bufs[i].Flags&memif.BufferNext != 0 && i+1 < n {
					i++
					f = append(f, bufs[i].Data...)
				}
				seen++
				if p.dropEvery > 0 && seen%p.dropEvery == 0 {
					continue
				}
				var mac [6]byte
				copy(mac[:], f[0:6])
				copy(f[0:6], f[6:12])
				copy(f[6:12], mac[:])
				pkts = append(pkts, f)
				if p.dupEvery > 0 && seen%p.dupEvery == 0 {
					pkts = append(pkts, f)
				}
			}
			if p.swapPairs {
				for i := 0; i+1 < len(pkts); i += 2 {
					pkts[i], pkts[i+1] = pkts[i+1], pkts[i]
				}
			}
			rx.Release(n)
			for len(pkts) > 0 && ctx.Err() == nil {
				k, err := tx.WritePackets(pkts)
				pkts = pkts[k:]
				if err != nil && !errors.Is(err, memif.ErrNoBufRing) {
					break
				}
				if len(pkts) > 0 {
					time.Sleep(50 * time.Microsecond)
				}
			}
		}
	}
}

// socketPath is a fresh socket path in a temporary directory.
func socketPath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "memif.sock")
}

// checkFDLeaks fails t if, after its cleanups, more descriptors are open than now
// (allowing two seconds for asynchronous closes).
func checkFDLeaks(t *testing.T) {
	before := openFDs(t)
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for {
			n := openFDs(t)
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%d descriptors leaked", n-before)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func openFDs(t testing.TB) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", os.Getpid()))
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(ents)
}
