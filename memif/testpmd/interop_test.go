package testpmd

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// loopbackConfig is testpmd's own one-process memif loopback: a server and
// a client vdev on one socket, io forwarding between them, 64-byte frames.
func loopbackConfig(tb testing.TB, queues int) *Config {
	// Not tb.TempDir: sub-benchmark names such as "queues=1" end up in its
	// path, and '=' cannot be carried in devargs.
	dir, err := os.MkdirTemp("", "testpmd")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	socket := dir + "/loop.sock"
	return &Config{
		Ports: []Port{
			{Role: RoleServer, Socket: socket},
			{Role: RoleClient, Socket: socket},
		},
		ForwardMode: "io",
		RxQueues:    queues,
		TxQueues:    queues,
		TxPacketLen: 64,
	}
}

func waitLinks(tb testing.TB, p *Process, ports int) {
	tb.Helper()
	for port := 0; port < ports; port++ {
		if err := p.WaitLinkUp(context.Background(), port); err != nil {
			tb.Fatal(err)
		}
	}
}

// TestInteropTestpmdLoopback checks this package against the real thing:
// start, link up, forward, per-port and per-queue counters, stop, quit.
func TestInteropTestpmdLoopback(t *testing.T) {
	Require(t)
	for _, queues := range []int{1, 2} {
		t.Run(fmt.Sprintf("%dq", queues), func(t *testing.T) {
			p := StartT(t, loopbackConfig(t, queues))
			ctx := context.Background()
			waitLinks(t, p, 2)
			if err := p.StartForwarding(ctx, true); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
			fwd, err := p.StopForwarding(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var stats [2]PortStats
			for port := range stats {
				if stats[port], err = p.PortStats(ctx, port); err != nil {
					t.Fatal(err)
				}
			}
			// Each port received what the other sent, except what was still
			// in the rings when forwarding stopped.
			inFlight := uint64(queues * 1024)
			for rx := 0; rx < 2; rx++ {
				tx := 1 - rx
				r, s := stats[rx], stats[tx]
				if r.RxPackets == 0 || r.RxPackets > s.TxPackets || s.TxPackets-r.RxPackets > inFlight {
					t.Errorf("port %d received %d of the %d packets port %d sent", rx, r.RxPackets, s.TxPackets, tx)
				}
				if r.RxBytes != 64*r.RxPackets {
					t.Errorf("port %d: %d bytes in %d packets, want 64 each", rx, r.RxBytes, r.RxPackets)
				}
				if r.RxErrors+r.RxMissed+r.RxNoMbuf+s.TxErrors != 0 {
					t.Errorf("errors: port %d %+v, port %d %+v", rx, r, tx, s)
				}
				if f := fwd[rx]; f.RxPackets == 0 || f.RxPackets > r.RxPackets {
					t.Errorf("port %d forward stats %+v disagree with port stats %+v", rx, f, r)
				}
			}
			xs, err := p.XStats(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			var sum uint64
			for q := 0; q < queues; q++ {
				n := xs[fmt.Sprintf("rx_q%d_packets", q)]
				if n == 0 {
					t.Errorf("queue %d of port 0 received nothing: %v", q, xs)
				}
				sum += n
			}
			if sum != stats[0].RxPackets {
				t.Errorf("port 0 queues received %d packets in total, port stats say %d", sum, stats[0].RxPackets)
			}
		})
	}
}

// BenchmarkTestpmdLoopback measures testpmd's own memif loopback (io
// forwarding between a server and a client vdev of one process, 64-byte
// frames, one forwarding lcore that serves both directions) as a baseline
// for memif-wasm's BenchmarkLoopback. One op is one packet received by
// port 0, i.e. moved through the rings in one direction; Mpps is per
// direction, Mpps-both counts both directions. Run with
//
//	MEMIF_INTEROP=1 go test -run '^$' -bench TestpmdLoopback -count 5 ./memif/testpmd/
func BenchmarkTestpmdLoopback(b *testing.B) {
	Require(b)
	for _, queues := range []int{1, 2} {
		b.Run(fmt.Sprintf("queues=%d", queues), func(b *testing.B) {
			p := StartT(b, loopbackConfig(b, queues))
			ctx := context.Background()
			waitLinks(b, p, 2)
			// Seed several bursts per queue so that the rings never run dry.
			if _, err := p.Exec(ctx, "start tx_first 8"); err != nil {
				b.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond) // warm up
			stats := func(port int) PortStats {
				s, err := p.PortStats(ctx, port)
				if err != nil {
					b.Fatal(err)
				}
				return s
			}
			first0, first1 := stats(0), stats(1)
			b.ResetTimer()
			start := time.Now()
			var last0 PortStats
			for {
				// Polling costs a command round trip on the main lcore; every
				// 10ms keeps it well below 1% of a 1s run.
				if last0 = stats(0); last0.RxPackets-first0.RxPackets >= uint64(b.N) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			elapsed := time.Since(start)
			last1 := stats(1)
			b.StopTimer()
			if _, err := p.StopForwarding(ctx); err != nil {
				b.Fatal(err)
			}
			dir := last0.RxPackets - first0.RxPackets
			both := dir + last1.RxPackets - first1.RxPackets
			b.ReportMetric(float64(dir)/elapsed.Seconds()/1e6, "Mpps")
			b.ReportMetric(float64(both)/elapsed.Seconds()/1e6, "Mpps-both")
		})
	}
}
