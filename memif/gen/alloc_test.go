package gen

import (
	"context"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

// loop is a sender on a slave's queue 0 and a sink on its master's queue 0, in one
// process, for the allocation test and the benchmark.
type loop struct {
	r    *run
	tx   *memif.TxQueue
	rx   *memif.RxQueue
	bufs []memif.Buffer
}

func newLoop(tb testing.TB, size int) *loop {
	tb.Helper()
	sock, err := memif.NewSocket(memif.SocketConfig{Path: memiftest.SocketPath(tb)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sock.Close() })
	master, err := sock.NewInterface(memif.InterfaceConfig{Role: memif.RoleMaster, RxMode: memif.RxModePolling})
	if err != nil {
		tb.Fatal(err)
	}
	slave, err := sock.NewInterface(memif.InterfaceConfig{RxMode: memif.RxModePolling})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := master.WaitConnected(ctx); err != nil {
		tb.Fatal(err)
	}
	if err := slave.WaitConnected(ctx); err != nil {
		tb.Fatal(err)
	}
	c, err := Config{Socket: "unused", Size: size, Flows: 16, Proto: ProtoICMP}.withDefaults()
	if err != nil {
		tb.Fatal(err)
	}
	tmpl, err := newTemplate(c.Proto, c.Size, *c.Addresses)
	if err != nil {
		tb.Fatal(err)
	}
	l := &loop{r: newRun(&c, tmpl, slave, master, newLinkWatch(1, c.LinkTimeout, c.Stall)), bufs: make([]memif.Buffer, MaxBurst)}
	if l.tx, err = slave.TxQueue(0); err != nil {
		tb.Fatal(err)
	}
	if l.rx, err = master.RxQueue(0); err != nil {
		tb.Fatal(err)
	}
	return l
}

// once sends one burst and counts it on the other side.
func (l *loop) once(tb testing.TB) {
	n, err := l.r.senders[0].burst(l.tx, DefaultBurst)
	if err != nil || n != DefaultBurst {
		tb.Fatalf("burst = %d, %v", n, err)
	}
	for got := 0; got < n; {
		k, err := l.r.sink.poll(l.rx, l.bufs)
		if err != nil {
			tb.Fatal(err)
		}
		got += k
	}
}

// Sending and counting a burst allocates nothing.
func TestBurstAllocations(t *testing.T) {
	for _, size := range []int{64, 1500, 4000} { // 4000: chained in 2048-byte buffers
		l := newLoop(t, size)
		l.once(t) // warm up
		if a := testing.AllocsPerRun(200, func() { l.once(t) }); a != 0 {
			t.Errorf("size %d: %v allocations per burst, want 0", size, a)
		}
		if l.r.sink.ours != 202*DefaultBurst || l.r.sink.trackers[0].unique != 202*DefaultBurst {
			t.Errorf("size %d: counted %d frames, want %d", size, l.r.sink.ours, 202*DefaultBurst) // AllocsPerRun runs once more
		}
	}
}

// BenchmarkSendReceive measures gen's own cost per frame: building, publishing,
// receiving and counting, over one memif queue pair in one process.
func BenchmarkSendReceive(b *testing.B) {
	for _, size := range []int{64, 1500} {
		b.Run(sizeName(size), func(b *testing.B) {
			l := newLoop(b, size)
			b.ReportAllocs()
			b.SetBytes(int64(size * DefaultBurst))
			b.ResetTimer()
			for range b.N {
				l.once(b)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*DefaultBurst), "ns/frame")
		})
	}
}

func sizeName(n int) string {
	switch n {
	case 64:
		return "64B"
	case 1500:
		return "1500B"
	}
	return "other"
}
