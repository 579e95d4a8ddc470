package memif_test

// Interrupt masking against DPDK testpmd (make interop): the MASK_INT flag
// of a ring is its receiver's, and the producer must not signal while it
// is set, in both directions and both roles.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/testpmd"
)

// TestInteropMaskHonouredByTestpmd: testpmd generates (txonly) into a ring
// memif-wasm receives on. While memif-wasm polls (MASK_INT set) testpmd
// writes its eventfd not once; in interrupt mode it does; in adaptive mode
// every packet arrives through Wait and some of them while the ring was
// masked.
func TestInteropMaskHonouredByTestpmd(t *testing.T) {
	testpmd.Require(t)
	for _, role := range pmdRoles {
		t.Run("testpmd-"+role.String(), func(t *testing.T) {
			ifc, pmd := startPair(t, role, echoCase{queues: 1, mode: "txonly"}, func(c *testpmd.Config) { c.TxPacketLen = 64 })
			ctx := context.Background()
			rx, err := ifc.RxQueue(0)
			if err != nil {
				t.Fatal(err)
			}
			bufs := make([]memif.Buffer, 256)
			var got uint64
			// poll receives for d without waiting on the eventfd.
			poll := func(d time.Duration) {
				for end := time.Now().Add(d); time.Now().Before(end); {
					n, err := rx.RxBurst(bufs)
					if err != nil {
						t.Fatalf("RxBurst: %v", err)
					}
					got += uint64(n)
					rx.Release(n)
					if n == 0 {
						time.Sleep(20 * time.Microsecond)
					}
				}
			}
			if err := rx.SetMode(memif.RxModePolling); err != nil {
				t.Fatal(err)
			}
			signalsPending(t, rx) // what the handshake may have left
			if err := pmd.StartForwarding(ctx, false); err != nil {
				t.Fatal(err)
			}
			poll(300 * time.Millisecond)
			if n := signalsPending(t, rx); n != 0 || got == 0 {
				t.Errorf("polling (MASK_INT set): testpmd signalled %d times for %d packets, want none", n, got)
			}
			if err := rx.SetMode(memif.RxModeInterrupt); err != nil {
				t.Fatal(err)
			}
			before := got
			poll(300 * time.Millisecond)
			if n := signalsPending(t, rx); n == 0 || got == before {
				t.Errorf("interrupt mode: testpmd signalled %d times for %d packets, want signals", n, got-before)
			}
			if err := rx.SetMode(memif.RxModeAdaptive); err != nil {
				t.Fatal(err)
			}
			signalsPending(t, rx)
			before = got
			wctx, cancel := context.WithTimeout(ctx, interopWait)
			defer cancel()
			for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
				n, err := rx.RxBurst(bufs)
				if err != nil {
					t.Fatalf("RxBurst: %v", err)
				}
				got += uint64(n)
				rx.Release(n)
				if n == 0 {
					if err := rx.Wait(wctx); err != nil {
						t.Fatalf("adaptive Wait with testpmd sending: %v", err)
					}
				}
			}
			if _, err := pmd.StopForwarding(ctx); err != nil {
				t.Fatal(err)
			}
			// Everything testpmd put in the ring arrives: after its stop the
			// ring holds the rest, and an adaptive Wait on a masked ring
			// unmasks and finds it without a signal.
			for {
				n, err := rx.RxBurst(bufs)
				if err != nil {
					t.Fatal(err)
				}
				got += uint64(n)
				rx.Release(n)
				if n > 0 {
					continue
				}
				short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
				err = rx.Wait(short)
				cancel()
				if errors.Is(err, context.DeadlineExceeded) {
					break
				}
			}
			ps, err := pmd.PortStats(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got != ps.TxPackets {
				t.Errorf("received %d packets, testpmd sent %d", got, ps.TxPackets)
			}
			t.Logf("testpmd txonly → memif-wasm: %d packets, %d of them in adaptive mode, %d wake-ups", got, got-before, ifc.Stats().RxWakeups)
		})
	}
}

// TestInteropMaskHonouredTowardsTestpmd: memif-wasm sends to testpmd
// (rxonly), whose PMD polls: memif-wasm signals exactly the bursts it
// published while testpmd's ring was unmasked, and none while it was
// masked; every packet arrives.
func TestInteropMaskHonouredTowardsTestpmd(t *testing.T) {
	testpmd.Require(t)
	for _, role := range pmdRoles {
		t.Run("testpmd-"+role.String(), func(t *testing.T) {
			const total = 20000
			ifc, pmd := startPair(t, role, echoCase{queues: 1, mode: "rxonly"}, nil)
			ctx := context.Background()
			tx, err := ifc.TxQueue(0)
			if err != nil {
				t.Fatal(err)
			}
			if err := pmd.StartForwarding(ctx, false); err != nil {
				t.Fatal(err)
			}
			pkts := make([][]byte, 32)
			for i := range pkts {
				pkts[i] = make([]byte, 64)
			}
			var bursts, maskedBursts uint64
			deadline := time.Now().Add(interopWait)
			for sent := 0; sent < total; {
				masked := ifc.Details().TxQueues[0].Flags&1 != 0
				n, err := tx.WritePackets(pkts[:min(len(pkts), total-sent)])
				if n > 0 {
					bursts++
					if masked {
						maskedBursts++
					}
				}
				sent += n
				switch {
				case errors.Is(err, memif.ErrRingFull):
					if time.Now().After(deadline) {
						t.Fatalf("ring stayed full: testpmd took %d of %d packets", sent, total)
					}
					time.Sleep(50 * time.Microsecond)
				case err != nil:
					t.Fatal(err)
				}
			}
			var ps testpmd.PortStats
			for {
				if ps, err = pmd.PortStats(ctx, 0); err != nil {
					t.Fatal(err)
				}
				if ps.RxPackets >= total || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if _, err := pmd.StopForwarding(ctx); err != nil {
				t.Fatal(err)
			}
			st := ifc.Stats()
			if ps.RxPackets != total {
				t.Errorf("testpmd received %d of %d packets", ps.RxPackets, total)
			}
			if st.TxSignals+st.TxMasked != bursts || st.TxMasked < maskedBursts {
				t.Errorf("%d bursts (%d seen masked beforehand): %d signalled, %d not (masked)", bursts, maskedBursts, st.TxSignals, st.TxMasked)
			}
			t.Logf("memif-wasm → testpmd rxonly: %d bursts, %d signalled, %d spared by MASK_INT (ring flags %#x)", bursts, st.TxSignals, st.TxMasked, ifc.Details().TxQueues[0].Flags)
		})
	}
}
