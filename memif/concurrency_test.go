package memif_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/internal/memiftest"
)

// TestDisconnectDuringBursts runs bursts on every queue of both sides
// while the connection is torn down from either end. Teardown must wait
// for running bursts (no access to unmapped memory, which would crash the
// test) and every worker must then see ErrDisconnected promptly.
func TestDisconnectDuringBursts(t *testing.T) {
	memiftest.CheckFDLeaks(t)
	for round, closer := range []string{"master", "slave", "master", "slave"} {
		master, slave := memiftest.Pair(t, &memiftest.Options{
			Master: memif.InterfaceConfig{RxQueues: 2, TxQueues: 2},
			Slave:  memif.InterfaceConfig{RxQueues: 2, TxQueues: 2, BufferSize: 512},
		})
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		worker := func(f func() error) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				deadline := time.Now().Add(5 * time.Second)
				for time.Now().Before(deadline) {
					if err := f(); err != nil {
						if !errors.Is(err, memif.ErrDisconnected) {
							errs <- err
						}
						return
					}
					runtime.Gosched()
				}
				errs <- errors.New("worker still running 5 s after the disconnect")
			}()
		}
		pkts := [][]byte{make([]byte, 64), make([]byte, 1500), make([]byte, 100)}
		for _, side := range []*memif.Interface{master, slave} {
			for q := range 2 {
				tx, rx := txq(t, side, q), rxq(t, side, q)
				worker(func() error {
					_, err := tx.WritePackets(pkts)
					if errors.Is(err, memif.ErrNoBufRing) {
						return nil
					}
					return err
				})
				bufs := make([]memif.Buffer, 32)
				worker(func() error {
					n, err := rx.RxBurst(bufs)
					if err != nil {
						return err
					}
					return rx.Release(n)
				})
				worker(func() error {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
					defer cancel()
					err := rx.Wait(ctx)
					if errors.Is(err, context.DeadlineExceeded) {
						return nil
					}
					return err
				})
			}
		}
		// Traffic must flow both ways before the teardown.
		waitFor(t, func() bool { return master.Stats().RxPackets > 0 && slave.Stats().RxPackets > 0 })
		if closer == "master" {
			master.Close()
		} else {
			slave.Close()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("round %d (%s closes): %v", round, closer, err)
		}
		if st := master.Stats(); st.RxPackets == 0 || st.BadDescriptors != 0 || st.ProtocolErrors != 0 {
			t.Errorf("round %d: master stats %+v", round, st)
		}
	}
}
