package memif_test

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

// signalsPending reads (and so resets) rx's eventfd counter: how many
// signals the producer sent since the last read. The fd is non-blocking.
func signalsPending(t *testing.T, rx *memif.RxQueue) uint64 {
	t.Helper()
	var b [8]byte
	n, err := syscall.Read(rx.EventFD(), b[:])
	if errors.Is(err, syscall.EAGAIN) {
		return 0
	}
	if err != nil || n != 8 {
		t.Fatalf("reading the eventfd: %d, %v", n, err)
	}
	return binary.NativeEndian.Uint64(b[:])
}

func ringMasked(t *testing.T, tx *memif.Interface) bool {
	t.Helper()
	d := tx.Details()
	return d.TxQueues[0].Flags&1 != 0
}

// TestOneSignalPerBurst: a burst of 32 packets, published by TxBurst or
// WritePackets, writes the eventfd once; a ring whose receiver masked
// interrupts gets none, and the producer counts both.
func TestOneSignalPerBurst(t *testing.T) {
	master, slave := memiftest.Pair(t, nil)
	tx, rx := txq(t, slave, 0), rxq(t, master, 0)
	bufs := make([]memif.Buffer, 64)
	sizes := make([]int, 32)
	pkts := make([][]byte, 32)
	for i := range sizes {
		sizes[i], pkts[i] = 64, make([]byte, 64)
	}
	_, k, err := tx.AllocBurst(bufs, sizes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.TxBurst(bufs[:k]); err != nil {
		t.Fatal(err)
	}
	if n := signalsPending(t, rx); n != 1 {
		t.Errorf("AllocBurst+TxBurst of 32 packets: %d signals, want 1", n)
	}
	if _, err := tx.WritePackets(pkts); err != nil {
		t.Fatal(err)
	}
	if n := signalsPending(t, rx); n != 1 {
		t.Errorf("WritePackets of 32 packets: %d signals, want 1", n)
	}
	recvPackets(t, rx, 64)
	if err := rx.SetMode(memif.RxModePolling); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.WritePackets(pkts); err != nil {
		t.Fatal(err)
	}
	if n := signalsPending(t, rx); n != 0 {
		t.Errorf("masked ring: %d signals, want none", n)
	}
	if st := slave.Stats(); st.TxSignals != 2 || st.TxMasked != 1 {
		t.Errorf("slave counted %d signals and %d masked bursts, want 2 and 1", st.TxSignals, st.TxMasked)
	}
}

// TestAdaptiveMasksWhileBusy: in adaptive mode a burst that finds packets
// masks the ring, so the producer stops signalling; a Wait on an empty ring
// unmasks it after polling and sleeps until the next signal.
func TestAdaptiveMasksWhileBusy(t *testing.T) {
	master, slave := memiftest.Pair(t, &memiftest.Options{Master: memif.InterfaceConfig{RxMode: memif.RxModeAdaptive}})
	tx, rx := txq(t, slave, 0), rxq(t, master, 0)
	if ringMasked(t, slave) || rx.Mode() != memif.RxModeAdaptive {
		t.Fatalf("adaptive ring starts masked (%v) or in mode %v", ringMasked(t, slave), rx.Mode())
	}
	send := func() {
		if _, err := tx.WritePackets([][]byte{{1}, {2}}); err != nil {
			t.Fatal(err)
		}
	}
	send()
	if err := rx.Wait(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	recvPackets(t, rx, 2)
	if !ringMasked(t, slave) {
		t.Fatal("a burst with packets left the adaptive ring unmasked")
	}
	send() // masked: not signalled
	if st := slave.Stats(); st.TxSignals != 1 || st.TxMasked != 1 {
		t.Errorf("slave counted %d signals and %d masked bursts, want 1 and 1", st.TxSignals, st.TxMasked)
	}
	if err := rx.Wait(ctxT(t)); err != nil {
		t.Fatalf("Wait on a masked ring with packets: %v", err)
	}
	recvPackets(t, rx, 2)
	short, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := rx.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait on an idle ring = %v, want the deadline", err)
	}
	if ringMasked(t, slave) {
		t.Fatal("an idle adaptive ring stayed masked")
	}
	send()
	if err := rx.Wait(ctxT(t)); err != nil {
		t.Fatalf("Wait after unmasking: %v", err)
	}
	if st := master.Stats(); st.RxWakeups != 2 {
		t.Errorf("receiver counted %d wake-ups, want 2", st.RxWakeups)
	}
}

// TestAdaptiveNoLostWakeup: a packet published while the ring was masked
// is not signalled, so a Wait that unmasks and then sleeps without looking
// at the ring again would never return. With AdaptivePoll negative Wait
// does not poll first: only the look after unmasking can find the packet.
// Without it this test waits for its 5 s deadline and fails.
func TestAdaptiveNoLostWakeup(t *testing.T) {
	for _, role := range []string{"master receives", "slave receives"} {
		t.Run(role, func(t *testing.T) {
			cfg := memif.InterfaceConfig{RxMode: memif.RxModeAdaptive, AdaptivePoll: -1}
			opts := &memiftest.Options{Master: cfg}
			if role == "slave receives" {
				opts = &memiftest.Options{Slave: cfg}
			}
			master, slave := memiftest.Pair(t, opts)
			from, to := slave, master
			if role == "slave receives" {
				from, to = master, slave
			}
			tx, rx := txq(t, from, 0), rxq(t, to, 0)
			bufs := make([]memif.Buffer, 8)
			for i := range 100 {
				if _, err := tx.WritePackets([][]byte{{byte(i)}}); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				start := time.Now()
				err := rx.Wait(ctx)
				cancel()
				if err != nil {
					t.Fatalf("round %d: Wait = %v after %v: the unsignalled packet was never seen", i, err, time.Since(start))
				}
				n, err := rx.RxBurst(bufs) // masks the ring: the next packet is not signalled
				if err != nil || n != 1 || bufs[0].Data[0] != byte(i) {
					t.Fatalf("round %d: RxBurst = %d, %v", i, n, err)
				}
				rx.Release(n)
			}
			if st := from.Stats(); st.TxMasked < 99 {
				t.Errorf("only %d of 100 packets were published on a masked ring: the test did not test the race", st.TxMasked)
			}
		})
	}
}

// TestAdaptiveUnderIrregularTraffic: a producer sends bursts with gaps
// shorter and longer than the poll budget while an adaptive receiver
// masks and unmasks; every packet arrives and nothing waits for a deadline.
func TestAdaptiveUnderIrregularTraffic(t *testing.T) {
	master, slave := memiftest.Pair(t, &memiftest.Options{Master: memif.InterfaceConfig{RxMode: memif.RxModeAdaptive, AdaptivePoll: 50 * time.Microsecond}})
	tx, rx := txq(t, slave, 0), rxq(t, master, 0)
	const total = 20000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		pkts := make([][]byte, 16)
		for i := range pkts {
			pkts[i] = make([]byte, 60)
		}
		for sent, round := 0, 0; sent < total; round++ {
			n, err := tx.WritePackets(pkts[:min(1+round%16, total-sent)])
			if err != nil && !errors.Is(err, memif.ErrRingFull) {
				t.Error(err)
				return
			}
			sent += n
			switch round % 7 {
			case 0:
				time.Sleep(200 * time.Microsecond) // past the poll budget: the ring unmasks
			case 3:
				time.Sleep(time.Microsecond)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	bufs := make([]memif.Buffer, 64)
	for got := 0; got < total; {
		n, err := rx.RxBurst(bufs)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			if err := rx.Wait(ctx); err != nil {
				t.Fatalf("after %d of %d packets: %v", got, total, err)
			}
			continue
		}
		got += n
		rx.Release(n)
	}
	wg.Wait()
	ss, ms := slave.Stats(), master.Stats()
	t.Logf("%d packets, %d signals, %d masked bursts, %d wake-ups", total, ss.TxSignals, ss.TxMasked, ms.RxWakeups)
	if ss.TxMasked == 0 || ss.TxSignals == 0 {
		t.Errorf("traffic never masked (%d) or never signalled (%d): adaptive mode did not switch", ss.TxMasked, ss.TxSignals)
	}
}

// TestRxDelayDefersWakeups: with interrupt moderation a signalled Wait
// returns RxDelay later with the ring masked, so what the producer
// publishes meanwhile is not signalled; the next Wait unmasks and finds a
// packet published while masked without waiting for a signal. Deferrals
// are counted with their time, and the timer's descriptor is closed with
// the connection.
func TestRxDelayDefersWakeups(t *testing.T) {
	memiftest.CheckFDLeaks(t)
	const delay = memif.MaxRxDelay
	master, slave := memiftest.Pair(t, &memiftest.Options{Master: memif.InterfaceConfig{RxDelay: delay}})
	tx, rx := txq(t, slave, 0), rxq(t, master, 0)
	send := func(b byte) {
		if _, err := tx.WritePackets([][]byte{{b}}); err != nil {
			t.Fatal(err)
		}
	}
	send(1)
	start := time.Now()
	if err := rx.Wait(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < delay {
		t.Errorf("a moderated Wait returned after %v, before its %v delay", took, delay)
	}
	if !ringMasked(t, slave) {
		t.Fatal("the ring is not masked after a deferred wake-up")
	}
	send(2) // masked: not signalled
	recvPackets(t, rx, 2)
	send(3) // still masked
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start = time.Now()
	if err := rx.Wait(ctx); err != nil || time.Since(start) > time.Second {
		t.Fatalf("Wait after a deferral with a packet waiting: %v after %v", err, time.Since(start))
	}
	if ringMasked(t, slave) {
		t.Error("the ring stayed masked in interrupt mode after the next Wait")
	}
	recvPackets(t, rx, 1)
	ss, ms := slave.Stats(), master.Stats()
	if ss.TxSignals != 1 || ss.TxMasked != 2 {
		t.Errorf("producer: %d signals, %d masked bursts; want 1 and 2", ss.TxSignals, ss.TxMasked)
	}
	if ms.RxDeferred != 1 || ms.RxDeferredTime < delay || ms.RxQueues[0].Deferred != 1 {
		t.Errorf("receiver: %d deferrals, %v deferred; want 1 and at least %v", ms.RxDeferred, ms.RxDeferredTime, delay)
	}
}

// TestRxDelayGathersBursts: a producer that sends single packets a few
// microseconds apart wakes a moderated receiver far less often than once
// per packet, and every packet arrives.
func TestRxDelayGathersBursts(t *testing.T) {
	for _, mode := range []memif.RxMode{memif.RxModeInterrupt, memif.RxModeAdaptive} {
		t.Run(mode.String(), func(t *testing.T) {
			master, slave := memiftest.Pair(t, &memiftest.Options{Master: memif.InterfaceConfig{RxMode: mode, RxDelay: 200 * time.Microsecond, AdaptivePoll: -1}})
			tx, rx := txq(t, slave, 0), rxq(t, master, 0)
			const total = 5000
			go func() {
				pkt := [][]byte{make([]byte, 60)}
				for sent := 0; sent < total; {
					n, _ := tx.WritePackets(pkt)
					sent += n
					for end := time.Now().Add(5 * time.Microsecond); time.Now().Before(end); {
					}
				}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			bufs := make([]memif.Buffer, 256)
			for got := 0; got < total; {
				n, err := rx.RxBurst(bufs)
				if err != nil {
					t.Fatal(err)
				}
				got += n
				rx.Release(n)
				if n == 0 {
					if err := rx.Wait(ctx); err != nil {
						t.Fatalf("after %d of %d packets: %v", got, total, err)
					}
				}
			}
			ms := master.Stats()
			t.Logf("%d packets, %d wake-ups, %d deferred for %v", total, ms.RxWakeups, ms.RxDeferred, ms.RxDeferredTime)
			// A wake-up that finds a burst's worth waiting is not deferred.
			if ms.RxWakeups == 0 || ms.RxWakeups > total/4 || ms.RxDeferred == 0 || ms.RxDeferred > ms.RxWakeups {
				t.Errorf("%d wake-ups (%d deferred) for %d packets: moderation did not gather bursts", ms.RxWakeups, ms.RxDeferred, total)
			}
		})
	}
}

// TestWaitKeepsOneWakeup: Waits with the same context allocate nothing
// (the context's wake-up is registered once), a Wait with another context
// is not cut short by the first one's, and a context cancelled while a Wait
// blocks still ends it.
func TestWaitKeepsOneWakeup(t *testing.T) {
	master, slave := memiftest.Pair(t, nil)
	tx, rx := txq(t, slave, 0), rxq(t, master, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bufs := make([]memif.Buffer, 4)
	pkt := [][]byte{{1}}
	round := func() {
		tx.WritePackets(pkt)
		if err := rx.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		n, _ := rx.RxBurst(bufs)
		rx.Release(n)
	}
	round()
	if a := testing.AllocsPerRun(100, round); a != 0 {
		t.Errorf("%v allocations per signalled Wait with the same context", a)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 5*time.Millisecond)
	err := rx.Wait(short)
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait on an idle queue = %v", err)
	}
	other, cancelOther := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelOther()
	start := time.Now()
	if err := rx.Wait(other); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 40*time.Millisecond {
		t.Fatalf("Wait after an ended context = %v after %v: cut short", err, time.Since(start))
	}
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	if err := rx.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait whose context is cancelled meanwhile = %v", err)
	}
}

// TestRxDelaySkipsFullBursts: a wake-up that finds a burst's worth of
// packets waiting is not deferred (moderation would only add latency).
func TestRxDelaySkipsFullBursts(t *testing.T) {
	master, slave := memiftest.Pair(t, &memiftest.Options{Master: memif.InterfaceConfig{RxDelay: memif.MaxRxDelay}})
	tx, rx := txq(t, slave, 0), rxq(t, master, 0)
	pkts := make([][]byte, 100)
	for i := range pkts {
		pkts[i] = []byte{byte(i)}
	}
	if _, err := tx.WritePackets(pkts); err != nil {
		t.Fatal(err)
	}
	if err := rx.Wait(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	recvPackets(t, rx, 100)
	if st := master.Stats(); st.RxWakeups != 1 || st.RxDeferred != 0 {
		t.Errorf("%d wake-ups, %d deferred; want 1 and none for a wake-up with 100 packets waiting", st.RxWakeups, st.RxDeferred)
	}
}
