package libmemif

import (
	"bytes"
	"errors"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/memif-wasm/memif-wasm/memif"
)

// TestCopyPacketsUnmapped: a disconnect may unmap shared memory while
// RxBurst copies from it; the fault must become an error, not a crash.
func TestCopyPacketsUnmapped(t *testing.T) {
	mem, err := syscall.Mmap(-1, 0, 8192, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_SHARED)
	if err != nil {
		t.Skipf("cannot map memory for the test: %v", err)
	}
	copy(mem, "hello")
	bufs := []memif.Buffer{{Data: mem[:3], Flags: memif.BufferNext}, {Data: mem[3:5]}, {Data: mem[4096:4100]}}
	pkts, faulted := copyPackets(&arena{}, bufs)
	if faulted || len(pkts) != 2 || string(pkts[0]) != "hello" || len(pkts[1]) != 4 || cap(pkts[0]) != 5 {
		t.Fatalf("mapped copy: %q, faulted %v", pkts, faulted)
	}
	if err := syscall.Munmap(mem); err != nil {
		t.Fatal(err)
	}
	pkts, faulted = copyPackets(&arena{}, bufs)
	if !faulted || pkts != nil {
		t.Fatalf("copy from unmapped memory: %q, faulted %v", pkts, faulted)
	}
}

func TestRxBurstAllocations(t *testing.T) {
	initLib(t)
	m, p := pair(t, MemifConfig{}, memif.InterfaceConfig{}, nil)
	in := make([][]byte, 32)
	for i := range in {
		in[i] = pattern(64, byte(i))
	}
	tx, _ := p.TxQueue(0)
	var bad error
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := tx.WritePackets(in); err != nil {
			bad = err
		}
		pkts, err := m.RxBurst(0, 32)
		if err != nil || len(pkts) != 32 {
			bad = errors.Join(bad, err, errors.New("short burst"))
		}
	})
	if bad != nil {
		t.Fatal(bad)
	}
	// 32 64-byte packets per burst: a 64 KiB data block lasts 32 bursts
	// and a header block 16, so 50 bursts allocate about 5 blocks.
	if allocs > 0.2 {
		t.Fatalf("RxBurst: %.2f allocations per burst, want at most 0.2", allocs)
	}
}

func TestTxBurstAllocations(t *testing.T) {
	initLib(t)
	m, p := pair(t, MemifConfig{MemifMeta: MemifMeta{IsMaster: true}}, memif.InterfaceConfig{}, nil)
	out := make([]RawPacketData, 32)
	for i := range out {
		out[i] = pattern(64, byte(i))
	}
	rx, _ := p.RxQueue(0)
	bufs := make([]memif.Buffer, 64)
	var bad error
	allocs := testing.AllocsPerRun(50, func() {
		if n, err := m.TxBurst(0, out); err != nil || n != 32 {
			bad = errors.Join(bad, err, errors.New("short burst"))
		}
		n, _ := rx.RxBurst(bufs)
		rx.Release(n)
	})
	if bad != nil {
		t.Fatal(bad)
	}
	if allocs != 0 {
		t.Fatalf("TxBurst: %.1f allocations per burst, want 0", allocs)
	}
}

// TestRxBurstCarry: with count 1 and a chain longer than one buffer, the
// whole ring is read and the surplus packets come back in later calls, in
// order.
func TestRxBurstCarry(t *testing.T) {
	initLib(t)
	m, p := pair(t, MemifConfig{}, memif.InterfaceConfig{}, nil)
	in := [][]byte{pattern(5000, 1), pattern(10, 2), pattern(20, 3), pattern(30, 4)}
	peerSend(t, p, 0, in)
	time.Sleep(10 * time.Millisecond) // let all four land before the first burst
	for i := range in {
		pkts, err := m.RxBurst(0, 1)
		if err != nil || len(pkts) != 1 {
			t.Fatalf("burst %d: %d packets, %v", i, len(pkts), err)
		}
		if !bytes.Equal(pkts[0], in[i]) {
			t.Fatalf("burst %d: got %d bytes, want %d", i, len(pkts[0]), len(in[i]))
		}
	}
}

func TestPacketHandle(t *testing.T) {
	initLib(t)
	m, p := pair(t, MemifConfig{}, memif.InterfaceConfig{}, nil)
	h := m.NewPacketHandle(0, 0) // 0 means 1
	if h.rxCount != 1 {
		t.Fatalf("rxCount %d", h.rxCount)
	}
	h = m.NewPacketHandle(0, 2)
	if _, _, err := h.ReadPacketData(); err != io.EOF {
		t.Fatalf("empty queue: %v, want io.EOF", err)
	}
	// Layer decoding is the gopacket example's business: importing
	// gopacket/layers here would put megabytes of pointer-holding global
	// tables into this package's benchmark binary, for the garbage
	// collector to scan on every cycle.
	frame := pattern(60, 0x42)
	in := [][]byte{frame, pattern(70, 1), pattern(80, 2)}
	peerSend(t, p, 0, in)
	src := gopacket.NewPacketSource(h, gopacket.DecodePayload)
	var got [][]byte
	deadline := time.Now().Add(testWait)
	for len(got) < len(in) && time.Now().Before(deadline) {
		pkt, err := src.NextPacket()
		if err == io.EOF {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if ci := pkt.Metadata().CaptureInfo; ci.Length != len(pkt.Data()) || ci.CaptureLength != ci.Length || ci.Timestamp.IsZero() {
			t.Fatalf("capture info %+v for %d bytes", ci, len(pkt.Data()))
		}
		got = append(got, pkt.Data())
		if len(got) == 1 {
			if app := pkt.ApplicationLayer(); app == nil || !bytes.Equal(app.Payload(), frame) {
				t.Fatalf("decoded %v", pkt)
			}
		}
	}
	for i := range in {
		if i >= len(got) || !bytes.Equal(got[i], in[i]) {
			t.Fatalf("packet %d not received intact", i)
		}
	}
	if err := h.WritePacketData(frame); err != nil {
		t.Fatal(err)
	}
	if out := peerRecv(t, p, 0, 1); !bytes.Equal(out[0], frame) {
		t.Fatal("written packet differs")
	}
	if err := h.WritePacketData(make([]byte, 70000)); err != ErrInvalArgs {
		t.Fatalf("oversized write: %v", err)
	}
	h.Close()
	h.Close()
	if _, _, err := h.ReadPacketData(); err != io.EOF {
		t.Fatalf("read after Close: %v", err)
	}
	if err := h.WritePacketData(frame); err != io.EOF {
		t.Fatalf("write after Close: %v", err)
	}
}

func TestPacketHandleRingFull(t *testing.T) {
	initLib(t)
	m, _ := pair(t, MemifConfig{MemifShmSpecs: MemifShmSpecs{Log2RingSize: 1}}, memif.InterfaceConfig{}, nil)
	h := m.NewPacketHandle(0, 1)
	for i := range 2 {
		if err := h.WritePacketData(pattern(60, byte(i))); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if err := h.WritePacketData(pattern(60, 9)); err != io.EOF {
		t.Fatalf("write into a full ring: %v, want io.EOF", err)
	}
}
