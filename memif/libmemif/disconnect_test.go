package libmemif

import (
	"encoding/binary"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
)

// TestDisconnectUnderTraffic: the peer leaves while bursts run on both
// queues; every burst afterwards returns ErrDisconnected, nothing panics
// (run with -race), and the per-queue channel closes.
func TestDisconnectUnderTraffic(t *testing.T) {
	initLib(t)
	m, p := pair(t, MemifConfig{MemifMeta: MemifMeta{IsMaster: true}}, memif.InterfaceConfig{}, nil)
	qch, err := m.GetQueueInterruptChan(0)
	if err != nil {
		t.Fatal(err)
	}
	stopPeer := make(chan struct{})
	peerDone := make(chan struct{})
	go func() {
		defer close(peerDone)
		tx, err := p.TxQueue(0)
		if err != nil {
			return
		}
		pkts := [][]byte{pattern(1500, 1), pattern(60, 2), pattern(5000, 3)}
		for {
			select {
			case <-stopPeer:
				return
			default:
			}
			if _, err := tx.WritePackets(pkts); errors.Is(err, memif.ErrDisconnected) {
				return
			}
		}
	}()
	results := make(chan error, 2)
	for _, rx := range []bool{true, false} {
		go func() {
			deadline := time.Now().Add(testWait)
			for time.Now().Before(deadline) {
				var err error
				if rx {
					_, err = m.RxBurst(0, 64)
				} else {
					_, err = m.TxBurst(0, []RawPacketData{pattern(3000, 4)})
				}
				if err == ErrDisconnected {
					results <- nil
					return
				}
				if err != nil {
					results <- err
					return
				}
			}
			results <- errors.New("bursts never saw the disconnect")
		}()
	}
	time.Sleep(20 * time.Millisecond)
	close(stopPeer)
	<-peerDone
	p.Close()
	for range 2 {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.After(testWait)
	for {
		select {
		case _, ok := <-qch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("queue channel not closed")
		}
	}
}

// TestPeerViolation: a peer that moves its ring index beyond the ring
// ends the link; RxBurst says ErrDisconnected and the error channel
// reports why.
func TestPeerViolation(t *testing.T) {
	initLib(t)
	disconnected := make(chan struct{}, 1)
	m, p := pair(t, MemifConfig{MemifMeta: MemifMeta{IsMaster: true}}, memif.InterfaceConfig{},
		&MemifCallbacks{OnDisconnect: func(*Memif) error { disconnected <- struct{}{}; return nil }})
	// The native slave allocated the rings in region 0; our rx ring is the
	// first S2M ring at offset 0. Scribble its head (offset 6) as a hostile
	// slave would.
	var region memif.Region
	for _, r := range p.Regions() {
		if r.Rings {
			region = r
		}
	}
	mem, err := syscall.Mmap(region.FD, 0, int(region.Size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		t.Skipf("cannot map the peer's ring region: %v", err)
	}
	defer syscall.Munmap(mem)
	head := binary.LittleEndian.Uint16(mem[6:8])
	binary.LittleEndian.PutUint16(mem[6:8], head+5000)
	if _, err := m.RxBurst(0, 32); err != ErrDisconnected {
		t.Fatalf("RxBurst after a bad head: %v, want ErrDisconnected", err)
	}
	select {
	case <-disconnected:
	case <-time.After(testWait):
		t.Fatal("OnDisconnect did not run")
	}
	select {
	case err := <-m.GetInterruptErrorChan():
		if !errors.Is(err, ErrDisconnected) {
			t.Fatalf("error channel: %v", err)
		}
		t.Logf("error channel: %v", err)
	case <-time.After(testWait):
		t.Fatal("nothing on the error channel")
	}
}

// TestReconnect: after the peer leaves and a new one connects, the Memif
// has fresh queues and channels, keeps its rx mode, and traffic flows.
func TestReconnect(t *testing.T) {
	initLib(t)
	connects := make(chan struct{}, 4)
	disconnects := make(chan struct{}, 4)
	cb := &MemifCallbacks{
		OnConnect:    func(*Memif) error { connects <- struct{}{}; return nil },
		OnDisconnect: func(*Memif) error { disconnects <- struct{}{}; return nil },
	}
	m, p := pair(t, MemifConfig{MemifMeta: MemifMeta{IsMaster: true, ConnID: 2}}, memif.InterfaceConfig{}, cb)
	<-connects // the first connection
	if err := m.SetRxMode(0, RxModePolling); err != nil {
		t.Fatal(err)
	}
	old, _ := m.GetQueueInterruptChan(0)
	p.Close()
	select {
	case <-disconnects:
	case <-time.After(testWait):
		t.Fatal("no OnDisconnect")
	}
	if _, err := m.RxBurst(0, 1); err != ErrDisconnected {
		t.Fatalf("RxBurst while down: %v", err)
	}
	p2 := peer(t, m.SocketFilename, memif.InterfaceConfig{ID: 2})
	select {
	case <-connects:
	case <-time.After(testWait):
		t.Fatal("no second OnConnect")
	}
	ch, err := m.GetQueueInterruptChan(0)
	if err != nil || ch == old {
		t.Fatalf("queue channel after reconnect: %v (same as before: %v)", err, ch == old)
	}
	if _, ok := <-old; ok {
		t.Fatal("old queue channel still open")
	}
	ctx, cancel := contextWithTimeout()
	defer cancel()
	if err := p2.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if f := p2.Details().TxQueues[0].Flags; f&1 == 0 {
		t.Fatal("polling mode lost across the reconnect")
	}
	peerSend(t, p2, 0, [][]byte{pattern(99, 9)})
	if got := recvN(t, m, 0, 1, 4); string(got[0]) != string(pattern(99, 9)) {
		t.Fatal("packet after reconnect differs")
	}
}
