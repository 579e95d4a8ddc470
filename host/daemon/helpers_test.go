package daemon

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/host/daemon/config"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
	"github.com/memif-wasm/memif-wasm/memif"
)

func buildPlugin(t testing.TB, dir, name string, verdict, initResult int) string {
	t.Helper()
	return hosttest.Build(t, dir, name, verdict, initResult)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startDaemon runs cfg and closes it at the end of the test.
func startDaemon(t testing.TB, cfg *config.Config, opts Options) *Daemon {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	if opts.ReconnectInterval == 0 {
		opts.ReconnectInterval = 50 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := New(ctx, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// peer is the far end of a daemon interface, driven by the test.
type peer struct {
	sock *memif.Socket
	ifc  *memif.Interface
}

// newPeer opens the opposite role on path with id and waits for the link.
func newPeer(t testing.TB, path string, id uint32, master bool) *peer {
	t.Helper()
	s, err := memif.NewSocket(memif.SocketConfig{Path: path, ReconnectInterval: 50 * time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	role := memif.RoleSlave
	if master {
		role = memif.RoleMaster
	}
	ifc, err := s.NewInterface(memif.InterfaceConfig{ID: id, Role: role, Name: "peer"})
	if err != nil {
		s.Close()
		t.Fatal(err)
	}
	p := &peer{sock: s, ifc: ifc}
	t.Cleanup(func() { p.close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ifc.WaitConnected(ctx); err != nil {
		t.Fatalf("peer on %s id %d: %v", path, id, err)
	}
	return p
}

func (p *peer) close() { p.sock.Close() }

// frame is a 64-byte test packet carrying a sequence number at offset 14.
func frame(seq uint64) []byte {
	b := make([]byte, 64)
	copy(b[0:6], []byte{2, 0, 0, 0, 0, 1})
	copy(b[6:12], []byte{2, 0, 0, 0, 0, 2})
	binary.BigEndian.PutUint16(b[12:], 0x88b5) // local experimental ethertype
	binary.LittleEndian.PutUint64(b[14:], seq)
	return b
}

// traffic sends count sequence-numbered packets from tx and counts each
// sequence number seen on rx, keeping at most window packets in flight.
// It returns the number of times each sequence number arrived.
type traffic struct {
	tx, rx *peer
	count  int
	window int

	mu       sync.Mutex
	seen     []uint32
	received int
	other    int
}

func (tr *traffic) run(t testing.TB, timeout time.Duration) {
	t.Helper()
	tr.seen = make([]uint32, tr.count)
	if tr.window == 0 {
		tr.window = 256
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	txq, err := tr.tx.ifc.TxQueue(0)
	if err != nil {
		t.Fatal(err)
	}
	rxq, err := tr.rx.ifc.RxQueue(0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		bufs := make([]memif.Buffer, 512)
		seqs := make([]uint64, 0, len(bufs))
		for {
			n, err := rxq.RxBurst(bufs)
			if err != nil {
				return
			}
			if n == 0 {
				tr.mu.Lock()
				all := tr.received >= tr.count
				tr.mu.Unlock()
				if all || ctx.Err() != nil {
					return
				}
				wctx, wcancel := context.WithTimeout(ctx, 20*time.Millisecond)
				rxq.Wait(wctx)
				wcancel()
				continue
			}
			// Read the sequence numbers, give the buffers back, then count:
			// a frame counted as received no longer holds a ring slot, so
			// the in-flight window bounds ring use exactly.
			seqs = seqs[:0]
			for _, b := range bufs[:n] {
				seq := uint64(1<<64 - 1)
				if len(b.Data) >= 22 && binary.BigEndian.Uint16(b.Data[12:]) == 0x88b5 {
					seq = binary.LittleEndian.Uint64(b.Data[14:])
				}
				seqs = append(seqs, seq)
			}
			rxq.Release(n)
			tr.mu.Lock()
			for _, seq := range seqs {
				if seq < uint64(tr.count) {
					tr.seen[seq]++
					tr.received++
				} else {
					tr.other++
				}
			}
			tr.mu.Unlock()
		}
	}()
	pkts := make([][]byte, 0, 32)
	for sent := 0; sent < tr.count && ctx.Err() == nil; {
		tr.mu.Lock()
		inflight := sent - tr.received
		tr.mu.Unlock()
		if inflight >= tr.window {
			time.Sleep(50 * time.Microsecond)
			continue
		}
		pkts = pkts[:0]
		for i := 0; i < 32 && sent+i < tr.count; i++ {
			pkts = append(pkts, frame(uint64(sent+i)))
		}
		n, err := txq.WritePackets(pkts)
		sent += n
		if err != nil && !errors.Is(err, memif.ErrRingFull) {
			t.Errorf("send: %v", err)
			break
		}
		if n < len(pkts) {
			time.Sleep(50 * time.Microsecond)
		}
	}
	<-done
}

// check reports lost and duplicated sequence numbers.
func (tr *traffic) check() (lost, dup int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, c := range tr.seen {
		switch {
		case c == 0:
			lost++
		case c > 1:
			dup += int(c - 1)
		}
	}
	return lost, dup
}

// oneInterface is a config with one master interface on path running plugins.
func oneInterface(path string, plugins ...string) *config.Config {
	in := config.Interface{Name: "memif0", Socket: path, Role: "master", RingSize: 1024}
	for _, p := range plugins {
		in.Plugins = append(in.Plugins, config.Plugin{File: p})
	}
	return &config.Config{Tenants: []config.Tenant{{Name: "t", Interfaces: []config.Interface{in}}}}
}
