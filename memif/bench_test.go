package memif_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

// BenchmarkLoopback moves packets from a slave to a master in one process:
// per queue one goroutine copies packets in with WritePackets (tx) and one
// takes them out with RxBurst+Release (rx); both poll (MASK_INT set, no
// system calls). One op is one packet through tx and rx.
func BenchmarkLoopback(b *testing.B) {
	for _, size := range []int{64, 1500} {
		for _, burst := range []int{32, 256} {
			for _, queues := range []int{1, 2} {
				b.Run(fmt.Sprintf("size=%d/burst=%d/queues=%d", size, burst, queues), func(b *testing.B) {
					benchLoopback(b, size, burst, queues)
				})
			}
		}
	}
}

func benchLoopback(b *testing.B, size, burst, queues int) {
	master, slave := memiftest.Pair(b, &memiftest.Options{
		Master: memif.InterfaceConfig{RxQueues: queues, TxQueues: queues, RxMode: memif.RxModePolling},
		Slave:  memif.InterfaceConfig{RxQueues: queues, TxQueues: queues, RxMode: memif.RxModePolling},
	})
	pkt := make([]byte, size)
	pkts := make([][]byte, burst)
	for i := range pkts {
		pkts[i] = pkt
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	var wg sync.WaitGroup
	errs := make(chan error, 2*queues)
	b.ResetTimer()
	start, cpu0 := time.Now(), memiftest.CPUTime(b)
	for q := range queues {
		share := b.N / queues
		if q == 0 {
			share += b.N % queues
		}
		tx, err := slave.TxQueue(q)
		if err != nil {
			b.Fatal(err)
		}
		rx, err := master.RxQueue(q)
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			for sent := 0; sent < share; {
				n, err := tx.WritePackets(pkts[:min(burst, share-sent)])
				if err != nil && err != memif.ErrRingFull {
					errs <- err
					return
				}
				sent += n
				if n == 0 {
					runtime.Gosched()
				}
			}
		}()
		go func() {
			defer wg.Done()
			bufs := make([]memif.Buffer, burst)
			for got := 0; got < share; {
				n, err := rx.RxBurst(bufs)
				if err != nil {
					errs <- err
					return
				}
				if n == 0 {
					runtime.Gosched()
					continue
				}
				got += n
				if err := rx.Release(n); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), memiftest.CPUTime(b)-cpu0
	b.StopTimer()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N), "ns/pkt")
	b.ReportMetric(float64(b.N)/elapsed.Seconds()/1e6, "Mpps")
	// CPU time of both sides (and any polling) per packet: steadier than
	// wall time when other processes share the cores.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/pkt")
}

// BenchmarkRxTxBurst measures one goroutine doing tx then rx of a burst on
// the same pair, without any concurrency: the per-packet cost of the
// ring code alone.
func BenchmarkRxTxBurst(b *testing.B) {
	for _, burst := range []int{32, 256} {
		b.Run(fmt.Sprintf("size=64/burst=%d", burst), func(b *testing.B) {
			master, slave := memiftest.Pair(b, &memiftest.Options{
				Master: memif.InterfaceConfig{RxMode: memif.RxModePolling},
				Slave:  memif.InterfaceConfig{RxMode: memif.RxModePolling},
			})
			tx, _ := slave.TxQueue(0)
			rx, _ := master.RxQueue(0)
			pkts := make([][]byte, burst)
			for i := range pkts {
				pkts[i] = make([]byte, 64)
			}
			bufs := make([]memif.Buffer, burst)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := memiftest.CPUTime(b)
			for range b.N {
				tx.WritePackets(pkts)
				n, _ := rx.RxBurst(bufs)
				rx.Release(n)
			}
			cpu := memiftest.CPUTime(b) - cpu0
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*burst), "ns/pkt")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*burst), "cpu-ns/pkt")
		})
	}
}

// BenchmarkAllocTxBurst is BenchmarkRxTxBurst with the transmit side
// as host workers drive it: one Alloc per packet, a copy into the
// allocated buffer, one TxBurst per burst.
func BenchmarkAllocTxBurst(b *testing.B) {
	for _, burst := range []int{32, 256} {
		b.Run(fmt.Sprintf("size=64/burst=%d", burst), func(b *testing.B) {
			master, slave := memiftest.Pair(b, &memiftest.Options{
				Master: memif.InterfaceConfig{RxMode: memif.RxModePolling},
				Slave:  memif.InterfaceConfig{RxMode: memif.RxModePolling},
			})
			tx, _ := slave.TxQueue(0)
			rx, _ := master.RxQueue(0)
			pkt := make([]byte, 64)
			txbufs := make([]memif.Buffer, burst)
			bufs := make([]memif.Buffer, burst)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := memiftest.CPUTime(b)
			for range b.N {
				k := 0
				for range burst {
					n, err := tx.Alloc(txbufs[k:], len(pkt))
					if err != nil {
						b.Fatal(err)
					}
					copy(txbufs[k].Data, pkt)
					k += n
				}
				tx.TxBurst(txbufs[:k])
				n, _ := rx.RxBurst(bufs)
				rx.Release(n)
			}
			cpu := memiftest.CPUTime(b) - cpu0
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*burst), "ns/pkt")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*burst), "cpu-ns/pkt")
		})
	}
}

// BenchmarkAllocBurstTxBurst is BenchmarkAllocTxBurst with the whole
// burst allocated by one AllocBurst (one queue lock instead of one per
// packet): compare the two side by side.
func BenchmarkAllocBurstTxBurst(b *testing.B) {
	for _, burst := range []int{32, 256} {
		b.Run(fmt.Sprintf("size=64/burst=%d", burst), func(b *testing.B) {
			master, slave := memiftest.Pair(b, &memiftest.Options{
				Master: memif.InterfaceConfig{RxMode: memif.RxModePolling},
				Slave:  memif.InterfaceConfig{RxMode: memif.RxModePolling},
			})
			tx, _ := slave.TxQueue(0)
			rx, _ := master.RxQueue(0)
			pkt := make([]byte, 64)
			sizes := make([]int, burst)
			for i := range sizes {
				sizes[i] = len(pkt)
			}
			txbufs := make([]memif.Buffer, burst)
			bufs := make([]memif.Buffer, burst)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := memiftest.CPUTime(b)
			for range b.N {
				np, k, err := tx.AllocBurst(txbufs, sizes)
				if err != nil || np != burst {
					b.Fatal(np, err)
				}
				for i := range txbufs[:k] {
					copy(txbufs[i].Data, pkt)
				}
				tx.TxBurst(txbufs[:k])
				n, _ := rx.RxBurst(bufs)
				rx.Release(n)
			}
			cpu := memiftest.CPUTime(b) - cpu0
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*burst), "ns/pkt")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*burst), "cpu-ns/pkt")
		})
	}
}

// BenchmarkLoopbackInterrupt is BenchmarkLoopback's 64-byte case in
// interrupt mode: the receiver sleeps in RxQueue.Wait when its ring is
// empty and the sender writes the eventfd after every burst, so it
// measures what the wake-ups cost.
func BenchmarkLoopbackInterrupt(b *testing.B) {
	for _, burst := range []int{32, 256} {
		b.Run(fmt.Sprintf("size=64/burst=%d", burst), func(b *testing.B) {
			master, slave := memiftest.Pair(b, nil)
			tx, _ := slave.TxQueue(0)
			rx, _ := master.RxQueue(0)
			pkts := make([][]byte, burst)
			for i := range pkts {
				pkts[i] = make([]byte, 64)
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			sendAndReceive(b, tx, rx, pkts, burst)
			elapsed := time.Since(start)
			b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N), "ns/pkt")
			b.ReportMetric(float64(b.N)/elapsed.Seconds()/1e6, "Mpps")
		})
	}
}

// BenchmarkLoopbackRxModes is BenchmarkLoopbackInterrupt's 64-byte, burst-32
// case for each way the receiver can wait: interrupt, adaptive, and
// interrupt with moderation (RxDelay). Besides time and CPU per packet it
// reports the signals the sender made and the wake-ups the receiver took,
// per packet.
func BenchmarkLoopbackRxModes(b *testing.B) {
	for _, c := range []struct {
		name  string
		mode  memif.RxMode
		delay time.Duration
	}{
		{"interrupt", memif.RxModeInterrupt, 0},
		{"adaptive", memif.RxModeAdaptive, 0},
		{"interrupt+20us", memif.RxModeInterrupt, 20 * time.Microsecond},
	} {
		b.Run(c.name, func(b *testing.B) {
			const burst = 32
			master, slave := memiftest.Pair(b, &memiftest.Options{Master: memif.InterfaceConfig{RxMode: c.mode, RxDelay: c.delay}})
			tx, _ := slave.TxQueue(0)
			rx, _ := master.RxQueue(0)
			pkts := make([][]byte, burst)
			for i := range pkts {
				pkts[i] = make([]byte, 64)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := memiftest.CPUTime(b)
			sendAndReceive(b, tx, rx, pkts, 256)
			cpu := memiftest.CPUTime(b) - cpu0
			ss, ms := slave.Stats(), master.Stats()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/pkt")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/pkt")
			b.ReportMetric(float64(ss.TxSignals)/float64(b.N), "signals/pkt")
			b.ReportMetric(float64(ms.RxWakeups)/float64(b.N), "wakeups/pkt")
		})
	}
}

// sendAndReceive sends b.N packets from pkts, a burst at a time, on tx and
// receives them on rx (which waits in interrupt or adaptive mode) into rxBufs
// buffers at a time; the sender sleeps rather than spins on a full ring: a
// spinning goroutine would keep the scheduler from polling the eventfd the
// receiver waits on (there is no "space freed" signal in memif).
func sendAndReceive(b *testing.B, tx *memif.TxQueue, rx *memif.RxQueue, pkts [][]byte, rxBufs int) {
	b.Helper()
	done := make(chan error, 1)
	go func() {
		bufs := make([]memif.Buffer, rxBufs)
		for got := 0; got < b.N; {
			n, err := rx.RxBurst(bufs)
			if err != nil {
				done <- err
				return
			}
			if n == 0 {
				if err := rx.Wait(context.Background()); err != nil {
					done <- err
					return
				}
				continue
			}
			got += n
			rx.Release(n)
		}
		done <- nil
	}()
	for sent := 0; sent < b.N; {
		n, err := tx.WritePackets(pkts[:min(len(pkts), b.N-sent)])
		if err != nil && err != memif.ErrRingFull {
			b.Fatal(err)
		}
		sent += n
		if n == 0 {
			time.Sleep(time.Microsecond)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
