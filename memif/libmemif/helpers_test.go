package libmemif

import (
	"context"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/libmemif/internal/exampletest"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

// testWait bounds every wait in this package's tests.
const testWait = 10 * time.Second

// initLib runs Init for one test and Cleanup after it. Tests of this
// package share the global context and so never run in parallel.
func initLib(t testing.TB) {
	t.Helper()
	if err := Init("libmemif-test"); err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() {
		if err := Cleanup(); err != nil {
			t.Errorf("Cleanup: %v", err)
		}
	})
}

// peer is a native memif endpoint on its own socket object.
func peer(t testing.TB, path string, cfg memif.InterfaceConfig) *memif.Interface {
	return exampletest.Peer(t, path, cfg)
}

// pair connects a Memif made from cfg with a native memif peer of the
// opposite role and waits until both have link. Callbacks in cb are
// wrapped, not replaced.
func pair(t testing.TB, cfg MemifConfig, peerCfg memif.InterfaceConfig, cb *MemifCallbacks) (*Memif, *memif.Interface) {
	t.Helper()
	if cfg.SocketFilename == "" {
		cfg.SocketFilename = memiftest.SocketPath(t)
	}
	up := make(chan struct{}, 16)
	calls := MemifCallbacks{OnConnect: func(m *Memif) error {
		var err error
		if cb != nil && cb.OnConnect != nil {
			err = cb.OnConnect(m)
		}
		up <- struct{}{}
		return err
	}}
	if cb != nil {
		calls.OnDisconnect = cb.OnDisconnect
	}
	peerCfg.ID = cfg.ConnID
	var m *Memif
	var p *memif.Interface
	var err error
	if cfg.IsMaster {
		if m, err = CreateInterface(&cfg, &calls); err != nil {
			t.Fatalf("CreateInterface: %v", err)
		}
		peerCfg.Role = memif.RoleSlave
		p = peer(t, cfg.SocketFilename, peerCfg)
	} else {
		peerCfg.Role = memif.RoleMaster
		p = peer(t, cfg.SocketFilename, peerCfg)
		if m, err = CreateInterface(&cfg, &calls); err != nil {
			t.Fatalf("CreateInterface: %v", err)
		}
	}
	t.Cleanup(func() { m.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if err := p.WaitConnected(ctx); err != nil {
		t.Fatalf("peer did not connect: %v (last error %v)", err, p.LastError())
	}
	select {
	case <-up:
	case <-ctx.Done():
		t.Fatal("OnConnect did not run")
	}
	return m, p
}

// peerRecv receives n packets on the peer's rx queue q, joining chains.
func peerRecv(t testing.TB, p *memif.Interface, q, n int) [][]byte {
	t.Helper()
	return exampletest.Recv(t, p, q, n)
}

// peerSend sends every packet from the peer's tx queue q.
func peerSend(t testing.TB, p *memif.Interface, q int, pkts [][]byte) {
	t.Helper()
	exampletest.Send(t, p, q, pkts...)
}

// recvN calls RxBurst on m until n packets arrived.
func recvN(t testing.TB, m *Memif, q uint8, n int, count uint16) []RawPacketData {
	t.Helper()
	var out []RawPacketData
	deadline := time.Now().Add(testWait)
	for len(out) < n {
		pkts, err := m.RxBurst(q, count)
		if err != nil {
			t.Fatalf("RxBurst: %v", err)
		}
		if len(pkts) > int(count) {
			t.Fatalf("RxBurst returned %d packets for count %d", len(pkts), count)
		}
		out = append(out, pkts...)
		if len(pkts) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("received %d of %d packets", len(out), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return out
}

// sendAll calls TxBurst until every packet is queued.
func sendAll(t testing.TB, m *Memif, q uint8, pkts []RawPacketData) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for len(pkts) > 0 {
		n, err := m.TxBurst(q, pkts)
		if err != nil {
			t.Fatalf("TxBurst: %v", err)
		}
		pkts = pkts[n:]
		if n == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("could not send %d packets", len(pkts))
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// pattern is a packet of n bytes whose content depends on seed.
func pattern(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7) ^ seed
	}
	return p
}

func contextWithTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), testWait)
}
