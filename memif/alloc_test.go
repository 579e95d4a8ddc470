package memif_test

import (
	"testing"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

// TestBurstAllocations proves the burst API allocates nothing per burst,
// in both roles and both directions, including chains and the slave's
// zero-copy forward.
func TestBurstAllocations(t *testing.T) {
	master, slave := memiftest.Pair(t, &memiftest.Options{Slave: memif.InterfaceConfig{BufferSize: 1024}})
	pkts := make([][]byte, 32)
	for i := range pkts {
		pkts[i] = make([]byte, 64+i*100) // up to 3 chained buffers
	}
	bufs := make([]memif.Buffer, 256)
	sizes := make([]int, len(pkts))
	for i, p := range pkts {
		sizes[i] = len(p)
	}
	cases := []struct {
		name string
		fn   func()
	}{
		{"slave WritePackets, master RxBurst+Release", func() {
			tx, _ := slave.TxQueue(0)
			rx, _ := master.RxQueue(0)
			tx.WritePackets(pkts)
			n, _ := rx.RxBurst(bufs)
			rx.Release(n)
		}},
		{"master WritePackets, slave RxBurst+Release", func() {
			tx, _ := master.TxQueue(0)
			rx, _ := slave.RxQueue(0)
			tx.WritePackets(pkts)
			n, _ := rx.RxBurst(bufs)
			rx.Release(n)
		}},
		{"Alloc+TxBurst, RxBurst+Release", func() {
			tx, _ := slave.TxQueue(0)
			rx, _ := master.RxQueue(0)
			k := 0
			for range 8 {
				n, _ := tx.Alloc(bufs[k:], 3000)
				k += n
			}
			tx.TxBurst(bufs[:k])
			n, _ := rx.RxBurst(bufs)
			rx.Release(n)
		}},
		{"AllocBurst+TxBurst, RxBurst+Release", func() {
			tx, _ := slave.TxQueue(0)
			rx, _ := master.RxQueue(0)
			_, k, _ := tx.AllocBurst(bufs, sizes)
			tx.TxBurst(bufs[:k])
			n, _ := rx.RxBurst(bufs)
			rx.Release(n)
		}},
		{"master AllocBurst+TxBurst, slave RxBurst+Release", func() {
			tx, _ := master.TxQueue(0)
			rx, _ := slave.RxQueue(0)
			_, k, _ := tx.AllocBurst(bufs, sizes)
			tx.TxBurst(bufs[:k])
			n, _ := rx.RxBurst(bufs)
			rx.Release(n)
		}},
		{"slave EnqueueRx zero-copy forward", func() {
			mtx, _ := master.TxQueue(0)
			srx, _ := slave.RxQueue(0)
			stx, _ := slave.TxQueue(0)
			mrx, _ := master.RxQueue(0)
			mtx.WritePackets(pkts)
			n, _ := srx.RxBurst(bufs)
			m, _ := stx.EnqueueRx(bufs[:n])
			srx.Release(m)
			stx.TxBurst(bufs[:m])
			n, _ = mrx.RxBurst(bufs)
			mrx.Release(n)
		}},
	}
	for _, c := range cases {
		c.fn() // warm up
		if a := testing.AllocsPerRun(200, c.fn); a != 0 {
			t.Errorf("%s: %v allocations per burst", c.name, a)
		}
	}
	if st := master.Stats(); st.RxPackets == 0 || st.BadDescriptors != 0 {
		t.Errorf("stats after allocation runs: %+v", st)
	}
}
