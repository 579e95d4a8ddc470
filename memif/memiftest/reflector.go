package memiftest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
)

// Reflector is a test memif peer that sends back (on the same interface, or on another one)
// what it receives with its MAC addresses swapped, optionally misbehaving, so that a
// sink's numbers can be checked exactly. The zero value reflects everything in order.
// A Reflector must not be copied after its first Start.
type Reflector struct {
	// DropEvery drops every n-th frame (counted per queue from 1); 0: none.
	DropEvery int
	// DupEvery sends every n-th frame twice; 0: none.
	DupEvery int
	// SwapPairs swaps frames 2k and 2k+1 within each burst (reordering).
	SwapPairs bool
	// NoRx never takes frames: the ring fills up and stays full.
	NoRx bool

	received atomic.Uint64
}

// Received is how many frames the peer has taken from its receive rings so far, over
// every Start of p (and every Up of its Link).
func (p *Reflector) Received() uint64 { return p.received.Load() }

// Start creates the peer's interfaces on path in role: id, and id out when out >= 0
// (frames arriving on id then leave on out), each with queues queue pairs. It returns
// once they exist, closes them when the test ends, and returns the socket so that the
// test can close it early (a vanishing peer). A slave peer retries every 20 ms.
func (p *Reflector) Start(t testing.TB, path string, role memif.Role, id uint32, out int64, queues int) *memif.Socket {
	t.Helper()
	sock, _ := p.start(t, path, role, id, out, queues)
	return sock
}

// start is Start; it also returns the interface the peer receives on.
func (p *Reflector) start(t testing.TB, path string, role memif.Role, id uint32, out int64, queues int) (*memif.Socket, *memif.Interface) {
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
	return sock, in
}

func (p *Reflector) loop(ctx context.Context, in, out *memif.Interface, q int) {
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
			if p.NoRx {
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
				p.received.Add(1)
				if p.DropEvery > 0 && seen%p.DropEvery == 0 {
					continue
				}
				var mac [6]byte
				copy(mac[:], f[0:6])
				copy(f[0:6], f[6:12])
				copy(f[6:12], mac[:])
				pkts = append(pkts, f)
				if p.DupEvery > 0 && seen%p.DupEvery == 0 {
					pkts = append(pkts, f)
				}
			}
			if p.SwapPairs {
				for i := 0; i+1 < len(pkts); i += 2 {
					pkts[i], pkts[i+1] = pkts[i+1], pkts[i]
				}
			}
			rx.Release(n)
			for len(pkts) > 0 && ctx.Err() == nil {
				k, err := tx.WritePackets(pkts)
				pkts = pkts[k:]
				if err != nil && !errors.Is(err, memif.ErrRingFull) {
					break
				}
				if len(pkts) > 0 {
					time.Sleep(50 * time.Microsecond)
				}
			}
		}
	}
}

// Link is a Reflector whose link a test takes down and brings back, as a peer process that
// dies and restarts does, or DPDK testpmd while it sets up its ports. Each Up is a new
// peer socket on the same path, with a queue count of its own.
type Link struct {
	t    testing.TB
	p    *Reflector
	path string
	role memif.Role
	id   uint32
	out  int64

	mu   sync.Mutex
	sock *memif.Socket
	in   *memif.Interface
}

// StartLink starts p as Start does and returns its Link, which the test drives with
// Down and Up.
func (p *Reflector) StartLink(t testing.TB, path string, role memif.Role, id uint32, out int64, queues int) *Link {
	t.Helper()
	l := &Link{t: t, p: p, path: path, role: role, id: id, out: out}
	l.Up(queues)
	return l
}

// Down closes the peer's socket: the link drops (the peer sends DISCONNECT) and stays
// down until Up. It returns once the peer's side is torn down. Frames the peer held
// are gone.
func (l *Link) Down() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sock != nil {
		l.sock.Close()
		l.sock, l.in = nil, nil
	}
}

// Up starts the peer again (a no-op while it runs) with queues queue pairs, which
// may differ from the last connection's.
func (l *Link) Up(queues int) {
	l.t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sock == nil {
		l.sock, l.in = l.p.start(l.t, l.path, l.role, l.id, l.out, queues)
	}
}

// WaitUp fails the test unless the peer's interface is connected within timeout.
func (l *Link) WaitUp(timeout time.Duration) {
	l.t.Helper()
	l.mu.Lock()
	in := l.in
	l.mu.Unlock()
	if in == nil {
		l.t.Fatal("WaitUp on a link that is down: call Up first")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := in.WaitConnected(ctx); err != nil {
		l.t.Fatalf("peer link not up within %v: %v", timeout, err)
	}
}

// Connected reports whether the peer's link is up.
func (l *Link) Connected() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.in != nil && l.in.Connected()
}

// WaitFor polls cond every millisecond until it holds, and fails t naming what when it
// does not within timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}
