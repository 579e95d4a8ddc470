package memif_test

import (
	"bytes"
	"testing"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

// recvOne polls q for one single-buffer packet and returns its buffer,
// unreleased.
func recvOne(t *testing.T, q *memif.RxQueue) memif.Buffer {
	t.Helper()
	bufs := make([]memif.Buffer, 1)
	waitFor(t, func() bool {
		n, err := q.RxBurst(bufs)
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	})
	return bufs[0]
}

func checkCap(t *testing.T, what string, b memif.Buffer, want int) {
	t.Helper()
	if b.Cap() != want || cap(b.Data) != want {
		t.Errorf("%s: Cap %d, cap(Data) %d; want %d", what, b.Cap(), cap(b.Data), want)
	}
}

// TestBufferCap: each kind of buffer reports the bytes writable from
// Data[0] to the end of its memif buffer, and a packet grown up to Cap
// arrives whole.
func TestBufferCap(t *testing.T) {
	const size, headroom = 1024, 128
	master, slave := memiftest.Pair(t, &memiftest.Options{Slave: memif.InterfaceConfig{BufferSize: size, Headroom: headroom}})
	mrx, mtx, srx, stx := rxq(t, master, 0), txq(t, master, 0), rxq(t, slave, 0), txq(t, slave, 0)
	bufs := make([]memif.Buffer, 4)

	// Slave tx: the whole buffer. Grown to Cap, all of it arrives.
	if n, err := stx.Alloc(bufs, 10); n != 1 || err != nil {
		t.Fatalf("slave Alloc = %d, %v", n, err)
	}
	checkCap(t, "slave tx", bufs[0], size)
	bufs[0].Data = bufs[0].Data[:bufs[0].Cap()]
	copy(bufs[0].Data, pattern(size, 1))
	if _, err := stx.TxBurst(bufs[:1]); err != nil {
		t.Fatal(err)
	}
	// Master rx: the slave's buffer size is unknown, so only the length.
	b := recvOne(t, mrx)
	checkCap(t, "master rx", b, size)
	if !bytes.Equal(b.Data, pattern(size, 1)) {
		t.Error("packet grown to Cap on the slave did not arrive whole")
	}
	mrx.Release(1)

	// Master tx: the length the slave posted, its buffer minus headroom.
	if n, err := mtx.Alloc(bufs, 10); n != 1 || err != nil {
		t.Fatalf("master Alloc = %d, %v", n, err)
	}
	checkCap(t, "master tx", bufs[0], size-headroom)
	bufs[0].Data = bufs[0].Data[:bufs[0].Cap()]
	copy(bufs[0].Data, pattern(size-headroom, 2))
	if _, err := mtx.TxBurst(bufs[:1]); err != nil {
		t.Fatal(err)
	}
	// Slave rx: its own buffer past the headroom, whatever the length.
	b = recvOne(t, srx)
	checkCap(t, "slave rx", b, size-headroom)
	if b.Offset%size != headroom || !bytes.Equal(b.Data, pattern(size-headroom, 2)) {
		t.Errorf("slave rx at offset %d with %d bytes", b.Offset, len(b.Data))
	}
	srx.Release(1)

	// Slave rx of a short packet, grown in place and forwarded zero-copy:
	// the tx buffer keeps the headroom and the capacity.
	if _, err := mtx.WritePackets([][]byte{pattern(60, 3)}); err != nil {
		t.Fatal(err)
	}
	bufs[0] = recvOne(t, srx)
	checkCap(t, "slave rx (short)", bufs[0], size-headroom)
	if n, err := stx.EnqueueRx(bufs[:1]); n != 1 || err != nil {
		t.Fatalf("EnqueueRx = %d, %v", n, err)
	}
	checkCap(t, "slave tx after EnqueueRx", bufs[0], size-headroom)
	grown := append(pattern(60, 3), bytes.Repeat([]byte{0xEE}, 40)...)
	bufs[0].Data = bufs[0].Data[:100]
	copy(bufs[0].Data[60:], grown[60:])
	if _, err := stx.TxBurst(bufs[:1]); err != nil {
		t.Fatal(err)
	}
	srx.Release(1)
	b = recvOne(t, mrx)
	if !bytes.Equal(b.Data, grown) {
		t.Errorf("forwarded packet grown in place arrived as % x", b.Data)
	}
	mrx.Release(1)
}
