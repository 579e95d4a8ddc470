package memif_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

// burstsUntilDisconnect connects a master and a slave with two queues each
// way, starts on every queue of both sides the workers start adds (each
// calls its function until that returns an error, yielding in between), waits
// until traffic flows both ways and closes the side named closer. It returns
// the pair and every error a worker ended on other than ErrDisconnected,
// including a worker still running 5 s after the disconnect.
func burstsUntilDisconnect(t *testing.T, closer string, start func(worker func(func() error), side *memif.Interface, q int)) (master, slave *memif.Interface, errs []error) {
	return burstsUntilDisconnectRx(t, closer, memif.RxModeInterrupt, 0, start)
}

// burstsUntilDisconnectRx is burstsUntilDisconnect with both sides' rx
// mode and interrupt moderation set.
func burstsUntilDisconnectRx(t *testing.T, closer string, mode memif.RxMode, delay time.Duration, start func(worker func(func() error), side *memif.Interface, q int)) (master, slave *memif.Interface, errs []error) {
	t.Helper()
	master, slave = memiftest.Pair(t, &memiftest.Options{
		Master: memif.InterfaceConfig{RxQueues: 2, TxQueues: 2, RxMode: mode, RxDelay: delay},
		Slave:  memif.InterfaceConfig{RxQueues: 2, TxQueues: 2, BufferSize: 512, RxMode: mode, RxDelay: delay},
	})
	var wg sync.WaitGroup
	ended := make(chan error, 16)
	worker := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) {
				if err := f(); err != nil {
					if !errors.Is(err, memif.ErrDisconnected) {
						ended <- err
					}
					return
				}
				runtime.Gosched()
			}
			ended <- errors.New("worker still running 5 s after the disconnect")
		}()
	}
	for _, side := range []*memif.Interface{master, slave} {
		for q := range 2 {
			start(worker, side, q)
		}
	}
	waitFor(t, func() bool { return master.Stats().RxPackets > 0 && slave.Stats().RxPackets > 0 })
	if closer == "master" {
		master.Close()
	} else {
		slave.Close()
	}
	wg.Wait()
	close(ended)
	for err := range ended {
		errs = append(errs, err)
	}
	return master, slave, errs
}

// TestDisconnectDuringBursts runs bursts on every queue of both sides
// while the connection is torn down from either end. Teardown must wait
// for running bursts (no access to unmapped memory, which would crash the
// test) and every worker must then see ErrDisconnected promptly.
func TestDisconnectDuringBursts(t *testing.T) {
	memiftest.CheckFDLeaks(t)
	pkts := [][]byte{make([]byte, 64), make([]byte, 1500), make([]byte, 100)}
	for round, closer := range []string{"master", "slave", "master", "slave"} {
		master, _, errs := burstsUntilDisconnect(t, closer, func(worker func(func() error), side *memif.Interface, q int) {
			tx, rx := txq(t, side, q), rxq(t, side, q)
			worker(func() error {
				_, err := tx.WritePackets(pkts)
				if errors.Is(err, memif.ErrRingFull) {
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
		})
		for _, err := range errs {
			t.Errorf("round %d (%s closes): %v", round, closer, err)
		}
		if st := master.Stats(); st.RxPackets == 0 || st.BadDescriptors != 0 || st.ProtocolErrors != 0 {
			t.Errorf("round %d: master stats %+v", round, st)
		}
	}
}

// TestDisconnectDuringAdaptiveBursts is TestDisconnectDuringBursts with the
// paths of this issue: AllocBurst, adaptive rx (Wait masking, polling and
// unmasking the ring) and moderated wake-ups (the timerfd), while the
// connection is torn down from either end: no access to unmapped memory, no
// Wait left blocked, every worker sees ErrDisconnected, no fd leaks.
func TestDisconnectDuringAdaptiveBursts(t *testing.T) {
	memiftest.CheckFDLeaks(t)
	sizes := []int{64, 1500, 100}
	for round, closer := range []string{"master", "slave"} {
		master, _, errs := burstsUntilDisconnectRx(t, closer, memif.RxModeAdaptive, 30*time.Microsecond, func(worker func(func() error), side *memif.Interface, q int) {
			tx, rx := txq(t, side, q), rxq(t, side, q)
			txbufs := make([]memif.Buffer, 16)
			worker(func() error {
				_, nb, err := tx.AllocBurst(txbufs, sizes)
				for i := range txbufs[:nb] {
					clear(txbufs[i].Data)
				}
				if nb > 0 {
					if _, terr := tx.TxBurst(txbufs[:nb]); terr != nil {
						return terr
					}
				}
				if errors.Is(err, memif.ErrRingFull) {
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
				if n > 0 {
					return rx.Release(n)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
				defer cancel()
				err = rx.Wait(ctx)
				if errors.Is(err, context.DeadlineExceeded) {
					return nil
				}
				return err
			})
		})
		for _, err := range errs {
			t.Errorf("round %d (%s closes): %v", round, closer, err)
		}
		if st := master.Stats(); st.RxPackets == 0 || st.BadDescriptors != 0 || st.ProtocolErrors != 0 {
			t.Errorf("round %d: master stats %+v", round, st)
		}
	}
}
