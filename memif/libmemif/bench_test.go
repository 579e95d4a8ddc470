package libmemif

import (
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

const benchBurst = 32

// reportMpps reports packets per second of wall time, and of CPU time:
// the machine is shared, and CPU time (which includes the garbage
// collector's background work) is what the API layer costs.
func reportMpps(b *testing.B, cpuStart time.Duration) {
	pkts := float64(b.N) * benchBurst
	b.ReportMetric(pkts/b.Elapsed().Seconds()/1e6, "Mpps")
	b.ReportMetric(pkts/(memiftest.CPUTime(b)-cpuStart).Seconds()/1e6, "Mpps-cpu")
}

// sink keeps benchmark results alive so the compiler cannot drop them.
var sink [][]byte

// BenchmarkBurst64 moves bursts of 32 64-byte packets from a slave to a
// master in one process, once through this package (TxBurst, RxBurst) and
// once through package memif directly, to price the API layer. The memif
// "alloc" variant copies every received packet into freshly allocated
// memory, the work RxBurst's API obliges it to do; "copy" copies into one
// reused buffer; "zerocopy" only looks.
// The receive queue polls, so no eventfd system call blurs the comparison.
//
//	go test -run '^$' -bench Burst64 -benchtime 2s ./memif/libmemif
func BenchmarkBurst64(b *testing.B) {
	b.Run("libmemif", func(b *testing.B) {
		initLib(b)
		path := memiftest.SocketPath(b)
		master, _ := pair(b, MemifConfig{MemifMeta: MemifMeta{SocketFilename: path, IsMaster: true}}, memif.InterfaceConfig{}, nil)
		// Replace the native peer with a second Memif: both ends use the
		// adapter.
		master.Close()
		up := make(chan *Memif, 2)
		cb := &MemifCallbacks{OnConnect: func(m *Memif) error { up <- m; return nil }}
		rxm, err := CreateInterface(&MemifConfig{MemifMeta: MemifMeta{SocketFilename: path + "2", IsMaster: true}}, cb)
		if err != nil {
			b.Fatal(err)
		}
		defer rxm.Close()
		txm, err := CreateInterface(&MemifConfig{MemifMeta: MemifMeta{SocketFilename: path + "2"}}, cb)
		if err != nil {
			b.Fatal(err)
		}
		defer txm.Close()
		<-up
		<-up
		// Polling: no eventfd system call per burst, so the numbers price
		// the data path itself.
		if err := rxm.SetRxMode(0, RxModePolling); err != nil {
			b.Fatal(err)
		}
		pkts := make([]RawPacketData, benchBurst)
		for i := range pkts {
			pkts[i] = pattern(64, byte(i))
		}
		b.ReportAllocs()
		b.ResetTimer()
		cpu := memiftest.CPUTime(b)
		for range b.N {
			if n, err := txm.TxBurst(0, pkts); err != nil || n != benchBurst {
				b.Fatalf("TxBurst: %d, %v", n, err)
			}
			for got := 0; got < benchBurst; {
				rx, err := rxm.RxBurst(0, benchBurst)
				if err != nil {
					b.Fatal(err)
				}
				got += len(rx)
			}
		}
		reportMpps(b, cpu)
	})
	for _, mode := range []string{"memif-alloc", "memif-copy", "memif-zerocopy"} {
		b.Run(mode, func(b *testing.B) {
			master, slave := memiftest.Pair(b, nil)
			tx, _ := slave.TxQueue(0)
			rx, _ := master.RxQueue(0)
			if err := rx.SetMode(memif.RxModePolling); err != nil {
				b.Fatal(err)
			}
			pkts := make([][]byte, benchBurst)
			for i := range pkts {
				pkts[i] = pattern(64, byte(i))
			}
			bufs := make([]memif.Buffer, rx.RingSize())
			dst := make([]byte, benchBurst*2048)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := memiftest.CPUTime(b)
			for range b.N {
				if n, err := tx.WritePackets(pkts); err != nil || n != benchBurst {
					b.Fatalf("WritePackets: %d, %v", n, err)
				}
				for got := 0; got < benchBurst; {
					n, err := rx.RxBurst(bufs[:benchBurst])
					if err != nil {
						b.Fatal(err)
					}
					switch mode {
					case "memif-copy":
						off := 0
						for i := range bufs[:n] {
							off += copy(dst[off:], bufs[i].Data)
						}
					case "memif-alloc":
						// What RxBurst's contract costs anywhere: copies
						// the caller may keep, in fresh memory.
						total := 0
						for i := range bufs[:n] {
							total += len(bufs[i].Data)
						}
						data, out := make([]byte, total), make([][]byte, 0, n)
						off := 0
						for i := range bufs[:n] {
							end := off + copy(data[off:], bufs[i].Data)
							out = append(out, data[off:end:end])
							off = end
						}
						sink = out
					}
					if err := rx.Release(n); err != nil {
						b.Fatal(err)
					}
					got += n
				}
			}
			reportMpps(b, cpu)
		})
	}
}
