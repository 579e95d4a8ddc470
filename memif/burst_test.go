package memif_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

// allocBurstSend allocates pkts with one AllocBurst, copies them in and
// publishes them, returning how many packets went out.
func allocBurstSend(t *testing.T, tx *memif.TxQueue, pkts [][]byte, bufs []memif.Buffer) (int, error) {
	t.Helper()
	sizes := make([]int, len(pkts))
	for i, p := range pkts {
		sizes[i] = len(p)
	}
	np, nb, err := tx.AllocBurst(bufs, sizes)
	bi := 0
	for _, p := range pkts[:np] {
		for {
			n := copy(bufs[bi].Data, p)
			p = p[n:]
			last := bufs[bi].Flags&memif.BufferNext == 0
			bi++
			if last {
				break
			}
		}
		if len(p) != 0 {
			t.Fatalf("AllocBurst left %d bytes without a buffer", len(p))
		}
	}
	if bi != nb {
		t.Fatalf("AllocBurst: %d packets use %d buffers, it reported %d", np, bi, nb)
	}
	if nb > 0 {
		if _, terr := tx.TxBurst(bufs[:nb]); terr != nil {
			t.Fatalf("TxBurst: %v", terr)
		}
	}
	return np, err
}

// TestAllocBurstBothDirections: packets of mixed sizes, chains among them,
// allocated with one AllocBurst arrive byte for byte, in both roles.
func TestAllocBurstBothDirections(t *testing.T) {
	master, slave := memiftest.Pair(t, &memiftest.Options{Slave: memif.InterfaceConfig{BufferSize: 1024}})
	for _, dir := range []struct {
		name     string
		from, to *memif.Interface
	}{{"slave-to-master", slave, master}, {"master-to-slave", master, slave}} {
		t.Run(dir.name, func(t *testing.T) {
			var pkts [][]byte
			for i := range 40 {
				pkts = append(pkts, pattern(i*97%3100, i)) // 0 to 3 buffers, one empty
			}
			n, err := allocBurstSend(t, txq(t, dir.from, 0), pkts, make([]memif.Buffer, 256))
			if err != nil || n != len(pkts) {
				t.Fatalf("AllocBurst = %d, %v", n, err)
			}
			got := recvPackets(t, rxq(t, dir.to, 0), len(pkts))
			for i := range pkts {
				if !bytes.Equal(got[i], pkts[i]) {
					t.Fatalf("packet %d: got %d bytes, want %d (content differs)", i, len(got[i]), len(pkts[i]))
				}
			}
		})
	}
}

// TestAllocBurstStops: AllocBurst stops at the first packet that does not
// fit, keeps the ones before it allocated, and says why.
func TestAllocBurstStops(t *testing.T) {
	master, slave := memiftest.Pair(t, &memiftest.Options{Slave: memif.InterfaceConfig{BufferSize: 128, Log2RingSize: 3}})
	for _, side := range []struct {
		name string
		i    *memif.Interface
	}{{"slave", slave}, {"master", master}} {
		t.Run(side.name, func(t *testing.T) {
			tx := txq(t, side.i, 0)
			bufs := make([]memif.Buffer, 16)
			// 8 slots: 3 + 3 buffers fit, the next 3 do not.
			np, nb, err := tx.AllocBurst(bufs, []int{300, 384, 300, 1})
			if np != 2 || nb != 6 || !errors.Is(err, memif.ErrRingFull) {
				t.Fatalf("AllocBurst on 8 slots = %d, %d, %v; want 2, 6, ErrRingFull", np, nb, err)
			}
			if tx.Pending() != 6 {
				t.Fatalf("Pending = %d, want the 6 buffers of the packets that fit", tx.Pending())
			}
			// The rest of the ring is still usable for a packet that fits.
			if np, nb, err := tx.AllocBurst(bufs[6:], []int{200}); np != 1 || nb != 2 || err != nil {
				t.Fatalf("AllocBurst of the last 2 slots = %d, %d, %v", np, nb, err)
			}
			if _, err := tx.TxBurst(bufs[:8]); err != nil {
				t.Fatal(err)
			}
			var rx *memif.RxQueue
			if side.i == slave {
				rx = rxq(t, master, 0)
			} else {
				rx = rxq(t, slave, 0)
			}
			if got := recvPackets(t, rx, 3); len(got[0]) != 300 || len(got[1]) != 384 || len(got[2]) != 200 {
				t.Fatalf("received %d, %d, %d bytes", len(got[0]), len(got[1]), len(got[2]))
			}
			// bufs too short for the second packet's chain.
			if np, nb, err := tx.AllocBurst(bufs[:3], []int{100, 300}); np != 1 || nb != 1 || !errors.Is(err, memif.ErrShortBuffer) {
				t.Fatalf("AllocBurst into a short slice = %d, %d, %v; want 1, 1, ErrShortBuffer", np, nb, err)
			}
			tx.Rewind()
			if np, _, err := tx.AllocBurst(bufs, []int{10, -1}); np != 1 || !errors.Is(err, memif.ErrInvalid) {
				t.Fatalf("AllocBurst of a negative size = %d, %v; want 1, ErrInvalid", np, err)
			}
			tx.Rewind()
			// Larger than the whole ring: 8 × 128 bytes.
			if np, _, err := tx.AllocBurst(bufs, []int{8*128 + 1}); np != 0 || !errors.Is(err, memif.ErrTooLarge) {
				t.Fatalf("AllocBurst larger than the ring = %d, %v; want 0, ErrTooLarge", np, err)
			}
			if np, nb, err := tx.AllocBurst(bufs, nil); np != 0 || nb != 0 || err != nil {
				t.Fatalf("AllocBurst of nothing = %d, %d, %v", np, nb, err)
			}
			tx.Rewind()
		})
	}
}

// TestAllocBurstMixesWithAlloc: buffers from Alloc and AllocBurst publish
// together in allocation order.
func TestAllocBurstMixesWithAlloc(t *testing.T) {
	master, slave := memiftest.Pair(t, nil)
	tx := txq(t, slave, 0)
	bufs := make([]memif.Buffer, 8)
	k, err := tx.Alloc(bufs, 3)
	if err != nil {
		t.Fatal(err)
	}
	np, nb, err := tx.AllocBurst(bufs[k:], []int{4, 5})
	if np != 2 || err != nil {
		t.Fatalf("AllocBurst after Alloc = %d, %v", np, err)
	}
	k += nb
	for i := range bufs[:k] {
		for j := range bufs[i].Data {
			bufs[i].Data[j] = byte(i)
		}
	}
	if _, err := tx.TxBurst(bufs[:k]); err != nil {
		t.Fatal(err)
	}
	got := recvPackets(t, rxq(t, master, 0), 3)
	for i, want := range [][]byte{{0, 0, 0}, {1, 1, 1, 1}, {2, 2, 2, 2, 2}} {
		if !bytes.Equal(got[i], want) {
			t.Fatalf("packet %d = %v, want %v", i, got[i], want)
		}
	}
}
