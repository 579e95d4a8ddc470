package dataplane

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/host/dataplane/internal/affinity"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

// scriptWorker is a Worker running the scripted plugin on the slave side of
// a memif pair; cfg's host.Pipeline and In are filled in.
func scriptWorker(t *testing.T, cfg WorkerConfig) (master, slave *memif.Interface, p *host.Pipeline, w *Worker) {
	t.Helper()
	master, slave = memifPair(t, nil)
	p = scriptPipeline(t, nil)
	cfg.Pipeline, cfg.In = p, &Port{If: slave}
	w, err := NewWorker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return master, slave, p, w
}

// TestWorkerZeroCopyOverMemif runs the scripted plugin on the slave side of a
// real memif connection: the guest sees the peer's bytes in place (0 bytes
// copied by the host), rewrites them, and TX sends them back to the peer.
func TestWorkerZeroCopyOverMemif(t *testing.T) {
	master, _, p, w := scriptWorker(t, WorkerConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	const n = 40
	pkts := make([][]byte, n)
	for i := range pkts {
		v := byte(abi.TX)
		if i%4 == 3 {
			v = byte(abi.Drop)
		}
		pkts[i] = append([]byte{v, hosttest.ActWrite, 0, byte(i)}, make([]byte, 60)...)
	}
	mtx, err := master.TxQueue(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mtx.WritePackets(pkts); err != nil {
		t.Fatal(err)
	}
	mrx, err := master.RxQueue(0)
	if err != nil {
		t.Fatal(err)
	}
	bufs := make([]memif.Buffer, 64)
	got := 0
	for got < n-n/4 {
		if err := mrx.Wait(ctx); err != nil {
			t.Fatalf("after %d packets back: %v", got, err)
		}
		k, err := mrx.RxBurst(bufs)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bufs[:k] {
			if len(b.Data) != 64 || b.Data[0] != byte(abi.TX) || b.Data[2] != 0xee || b.Data[3]%4 == 3 {
				t.Fatalf("packet back: %x", b.Data[:4])
			}
		}
		got += k
		mrx.Release(k)
	}
	// The worker merges its counters after it transmits: wait for them.
	ws := w.ReadStats()
	for deadline := time.Now().Add(5 * time.Second); ws.RxPackets < n && time.Now().Before(deadline); ws = w.ReadStats() {
		time.Sleep(time.Millisecond)
	}
	st := p.ReadStats(nil)[0]
	if ws.ZeroCopyConns != 1 || st.PacketsPlaced[host.PlacementZeroCopy] != n || st.BytesCopied[host.PlacementZeroCopy] != 0 {
		t.Fatalf("placement: worker %+v, plugin placed %v copied %v", ws, st.PacketsPlaced, st.BytesCopied)
	}
	if ws.Tx[abi.TX] != n-n/4 || ws.Dropped[abi.Drop] != n/4 || ws.RxPackets != n {
		t.Fatalf("worker stats %+v", ws)
	}
	if ws.RxBytes != n*64 || ws.TxBytes[abi.TX] != (n-n/4)*64 || ws.TxDrops != [NumTxDropReasons]uint64{} {
		t.Fatalf("bytes: rx %d tx %v, tx drops %v", ws.RxBytes, ws.TxBytes, ws.TxDrops)
	}
	checkBurstSizes(t, ws)
	if ws.Busy <= 0 {
		t.Fatalf("busy %v after %d bursts", ws.Busy, ws.RxBursts)
	}
	checkCalls(t, st, ws.RxBursts)
	if st.MemoryBytes == 0 || st.MemoryBytes%65536 != 0 {
		t.Fatalf("guest memory %d bytes, want whole pages > 0", st.MemoryBytes)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestWorkerConfig(t *testing.T) {
	if _, err := NewWorker(WorkerConfig{}); err == nil {
		t.Fatal("NewWorker accepted an empty config")
	}
}

func TestWorkerBurstAllocs(t *testing.T) {
	master, slave, p, w := scriptWorker(t, WorkerConfig{Burst: 32})
	for _, r := range slave.Regions() {
		if !r.Rings {
			if pl, err := p.AttachRegion(r.Index, r.FD, host.RegionFacts{Size: int(r.Size)}); err != nil || pl != host.PlacementZeroCopy {
				t.Fatalf("attach: %v %v", pl, err)
			}
		}
	}
	pkts := make([][]byte, 32)
	for i := range pkts {
		pkts[i] = append([]byte{byte(abi.TX), hosttest.ActWrite}, make([]byte, 62)...)
	}
	mtx, _ := master.TxQueue(0)
	if _, err := mtx.WritePackets(pkts); err != nil {
		t.Fatal(err)
	}
	rx, _ := slave.RxQueue(0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n := 0
	for n < 32 {
		if err := rx.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		k, _ := rx.RxBurst(w.bufs[n:])
		n += k
	}
	mrx, _ := master.RxQueue(0)
	drain := make([]memif.Buffer, 64)
	// Each run transmits the 32 packets back; the master drains them so the
	// ring never fills.
	allocs := testing.AllocsPerRun(50, func() {
		w.burst(0, n)
		for got, spins := 0, 0; got < n && spins < 1e6; spins++ {
			k, _ := mrx.RxBurst(drain)
			mrx.Release(k)
			got += k
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per worker burst", allocs)
	}
	if ws := w.ReadStats(); ws.Tx[abi.TX] != 51*32 {
		t.Fatalf("sent %d, want %d", ws.Tx[abi.TX], 51*32)
	}
	rx.Release(n)
}

// TestWorkerChainedOverMemif: a jumbo frame arrives as a chain of memif
// buffers, is linearised for the guest, rewritten, and leaves whole.
func TestWorkerChainedOverMemif(t *testing.T) {
	master, _, p, w := scriptWorker(t, WorkerConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	jumbo := make([]byte, 5000)
	for i := range jumbo {
		jumbo[i] = byte(i * 7)
	}
	jumbo[0], jumbo[1] = byte(abi.TX), hosttest.ActWrite
	mtx, _ := master.TxQueue(0)
	if _, err := mtx.WritePackets([][]byte{jumbo}); err != nil {
		t.Fatal(err)
	}
	mrx, _ := master.RxQueue(0)
	bufs := make([]memif.Buffer, 16)
	var got []byte
	for len(got) < len(jumbo) {
		if err := mrx.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		k, err := mrx.RxBurst(bufs)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bufs[:k] {
			got = append(got, b.Data...)
		}
		mrx.Release(k)
	}
	want := append([]byte(nil), jumbo...)
	want[2] = 0xee
	if string(got) != string(want) {
		t.Fatalf("jumbo back: %d bytes, first diff at %d", len(got), firstDiff(got, want))
	}
	if st := p.ReadStats(nil)[0]; st.BytesCopied[host.PlacementZeroCopy] != 2*5000 {
		t.Fatalf("chain copied %d bytes, want 10000 (in and back)", st.BytesCopied[host.PlacementZeroCopy])
	}
	// Byte counts cover the whole chain; a chain is one packet in one burst.
	ws := waitStats(t, w, func(ws WorkerStats) bool { return ws.RxPackets == 1 })
	if ws.RxBytes != 5000 || ws.TxBytes[abi.TX] != 5000 || ws.BurstSizes[0] != 1 {
		t.Fatalf("chain: rx %d bytes, tx %v bytes, burst sizes %v", ws.RxBytes, ws.TxBytes, ws.BurstSizes)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestWorkerChainLongerThanBurst (issue #9 case 2): a packet of more
// buffers than the worker's burst once stopped the worker for good ("worker
// stuck: a chained packet needs more than 4 buffers") while the connection
// stayed up. It is received whole, with the packets around it, in order.
func TestWorkerChainLongerThanBurst(t *testing.T) {
	master, slave := memifPair(t, func(c *memif.InterfaceConfig) { c.BufferSize = 256 })
	p := scriptPipeline(t, nil)
	w, err := NewWorker(WorkerConfig{Pipeline: p, In: &Port{If: slave}, Burst: 4})
	if err != nil {
		t.Fatal(err)
	}
	runWorker(t, w)

	// 64 B, 5000 B (20 buffers), 64 B, 9000 B (36 buffers), 64 B x 6.
	sizes := []int{64, 5000, 64, 9000, 64, 64, 64, 64, 64, 64}
	var pkts [][]byte
	for i, n := range sizes {
		b := make([]byte, n)
		for k := range b {
			b[k] = byte(k*7 + i)
		}
		b[0], b[1], b[3] = byte(abi.TX), 0, byte(i)
		pkts = append(pkts, b)
	}
	mtx, _ := master.TxQueue(0)
	if n, err := mtx.WritePackets(pkts); n != len(pkts) || err != nil {
		t.Fatalf("peer wrote %d of %d: %v", n, len(pkts), err)
	}
	mrx, _ := master.RxQueue(0)
	bufs := make([]memif.Buffer, 64)
	var got [][]byte
	var cur []byte
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(got) < len(pkts) {
		k, err := mrx.RxBurst(bufs)
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			if err := mrx.Wait(ctx); err != nil {
				t.Fatalf("after %d packets back: %v (worker stats %+v)", len(got), err, w.ReadStats())
			}
			continue
		}
		for _, b := range bufs[:k] {
			cur = append(cur, b.Data...)
			if b.Flags&memif.BufferNext == 0 {
				got = append(got, cur)
				cur = nil
			}
		}
		mrx.Release(k)
	}
	for i := range pkts {
		if string(got[i]) != string(pkts[i]) {
			t.Fatalf("packet %d back: %d bytes, want %d (first diff at %d)", i, len(got[i]), len(pkts[i]), firstDiff(got[i], pkts[i]))
		}
	}
	ws := waitStats(t, w, func(ws WorkerStats) bool { return ws.RxPackets == uint64(len(pkts)) })
	if ws.Tx[abi.TX] != uint64(len(pkts)) || ws.RxBytes != 5000+9000+8*64 {
		t.Errorf("stats %+v", ws)
	}
	// Bursts never hold more than host.Burst packets, also after a long chain.
	for b := burstSizeBucket(5); b < NumBurstSizeBuckets; b++ {
		if ws.BurstSizes[b] != 0 {
			t.Errorf("bursts of more than 4 packets: %v", ws.BurstSizes)
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// checkBurstSizes checks the burst-size histogram against the worker's
// packet and burst counts: the buckets add up to the bursts, and the packets
// lie between what the buckets' lower and upper bounds allow.
func checkBurstSizes(t *testing.T, ws WorkerStats) {
	t.Helper()
	var bursts, lo, hi uint64
	for i, c := range ws.BurstSizes {
		bursts += c
		hi += c * uint64(BurstSizeBound(i))
		if i > 0 {
			lo += c * uint64(BurstSizeBound(i-1)+1)
		} else {
			lo += c
		}
	}
	if bursts != ws.RxBursts || ws.RxPackets < lo || ws.RxPackets > hi {
		t.Fatalf("burst sizes %v: %d bursts holding %d..%d packets; counted %d bursts of %d packets",
			ws.BurstSizes, bursts, lo, hi, ws.RxBursts, ws.RxPackets)
	}
}

// checkCalls checks the guest-call duration histogram: one entry per
// mw_process call, one call per burst with a single plugin stage.
func checkCalls(t *testing.T, st host.PluginStats, bursts uint64) {
	t.Helper()
	var calls uint64
	var hi time.Duration
	for i, c := range st.CallDurations {
		calls += c
		if c > 0 && i < host.NumCallDurationBuckets-1 {
			hi += time.Duration(c) * host.CallDurationBound(i)
		}
	}
	if calls != st.Bursts || calls != bursts || st.CallTime <= 0 {
		t.Fatalf("guest calls: histogram %v (%d) vs %d mw_process calls vs %d bursts; total %v", st.CallDurations, calls, st.Bursts, bursts, st.CallTime)
	}
	if st.CallDurations[host.NumCallDurationBuckets-1] == 0 && st.CallTime > hi {
		t.Fatalf("call time %v exceeds the buckets' bounds (%v)", st.CallTime, hi)
	}
}

func TestBucketBounds(t *testing.T) {
	if got := BurstSizeBound(NumBurstSizeBuckets - 1); got != abi.MaxBurst {
		t.Fatalf("largest burst bucket %d, want abi.MaxBurst %d", got, abi.MaxBurst)
	}
	for _, n := range []int{1, 2, 3, 4, 5, 63, 64, 65, 255, 256} {
		i := burstSizeBucket(n)
		if n > BurstSizeBound(i) || (i > 0 && n <= BurstSizeBound(i-1)) {
			t.Errorf("burst of %d in bucket %d (bound %d)", n, i, BurstSizeBound(i))
		}
	}
	for r := range NumTxDropReasons + 1 {
		if r.String() == "" {
			t.Errorf("reason %d has no name", r)
		}
	}
}

// runWorker starts w and stops it at cleanup, failing on a Run error.
func runWorker(t *testing.T, w *Worker) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
}

// waitStats polls the worker's counters until ok holds or 5 s pass.
func waitStats(t *testing.T, w *Worker, ok func(WorkerStats) bool) WorkerStats {
	t.Helper()
	ws := w.ReadStats()
	for deadline := time.Now().Add(5 * time.Second); !ok(ws) && time.Now().Before(deadline); ws = w.ReadStats() {
		time.Sleep(time.Millisecond)
	}
	if !ok(ws) {
		t.Fatalf("worker stats never got there: %+v", ws)
	}
	return ws
}

// sendVerdicts has the peer send one 64-byte packet per verdict byte.
func sendVerdicts(t *testing.T, master *memif.Interface, verdicts ...abi.Verdict) {
	t.Helper()
	pkts := make([][]byte, len(verdicts))
	for i, v := range verdicts {
		pkts[i] = append([]byte{byte(v), 0, 0, byte(i)}, make([]byte, 60)...)
		if v == abi.Redirect {
			// To port 3 (little-endian u16 at data[2:4]).
			pkts[i][1], pkts[i][2], pkts[i][3] = hosttest.ActRedirect, 3, 0
		}
	}
	mtx, err := master.TxQueue(0)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := mtx.WritePackets(pkts); err != nil || n != len(pkts) {
		t.Fatalf("peer wrote %d of %d: %v", n, len(pkts), err)
	}
}

func repeat(v abi.Verdict, n int) []abi.Verdict {
	out := make([]abi.Verdict, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// TestWorkerTxDropReasons sends packets the worker cannot send and checks
// each lands under its reason: PASS without egress and REDIRECT to a
// missing port are no_egress, PASS to an egress whose link is down is
// link_down.
func TestWorkerTxDropReasons(t *testing.T) {
	master, slave := memifPair(t, nil)
	// A second interface on its own socket that no peer ever connects to.
	dir := t.TempDir()
	sock, err := memif.NewSocket(memif.SocketConfig{Path: filepath.Join(dir, "d")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sock.Close() })
	down, err := sock.NewInterface(memif.InterfaceConfig{ID: 7, Name: "down"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		egress *Port
		v      abi.Verdict
		reason TxDropReason
	}{
		{"pass without egress", nil, abi.Pass, TxDropNoEgress},
		{"redirect to no port", nil, abi.Redirect, TxDropNoEgress},
		{"pass to a link that is down", &Port{If: down}, abi.Pass, TxDropLinkDown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The plugin may name port 3; the worker has ports 0 and 1 only.
			p := scriptPipeline(t, &host.PluginConfig{Redirect: []uint16{3}})
			w, err := NewWorker(WorkerConfig{Pipeline: p, In: &Port{If: slave}, Egress: tc.egress, Ports: []*Port{nil, {If: down}}})
			if err != nil {
				t.Fatal(err)
			}
			runWorker(t, w)
			const n = 20
			sendVerdicts(t, master, repeat(tc.v, n)...)
			ws := waitStats(t, w, func(ws WorkerStats) bool { return ws.RxPackets == n })
			var want [NumTxDropReasons]uint64
			want[tc.reason] = n
			if ws.TxDrops != want || ws.Dropped[tc.v] != n || ws.Tx[tc.v] != 0 {
				t.Fatalf("%v: tx drops %v (want %v), dropped %v, sent %v", tc.v, ws.TxDrops, want, ws.Dropped, ws.Tx)
			}
		})
	}
}

// TestWorkerRingFull: the peer never drains what the worker sends back, so
// after the ring fills every further TX is dropped as ring_full once the
// retry time has passed; each packet is either sent or dropped.
func TestWorkerRingFull(t *testing.T) {
	const log2Ring = 4 // 16 slots
	master, slave := memifPair(t, func(c *memif.InterfaceConfig) { c.Log2RingSize = log2Ring })
	p := scriptPipeline(t, nil)
	w, err := NewWorker(WorkerConfig{Pipeline: p, In: &Port{If: slave}, TxRetryTime: 200 * time.Microsecond})
	if err != nil {
		t.Fatal(err)
	}
	runWorker(t, w)
	const n = 3 << log2Ring
	for sent := 0; sent < n; sent += 1 << (log2Ring - 1) {
		sendVerdicts(t, master, repeat(abi.TX, 1<<(log2Ring-1))...)
		waitStats(t, w, func(ws WorkerStats) bool { return ws.RxPackets == uint64(sent+1<<(log2Ring-1)) })
	}
	ws := w.ReadStats()
	full := ws.TxDrops[TxDropRingFull]
	if ws.Tx[abi.TX] != 1<<log2Ring || full != n-1<<log2Ring || ws.Dropped[abi.TX] != full || ws.TxRingFull == 0 {
		t.Fatalf("sent %d (ring %d), ring_full drops %d, dropped %v, full-ring retries %d",
			ws.Tx[abi.TX], 1<<log2Ring, full, ws.Dropped, ws.TxRingFull)
	}
	if other := ws.TxDrops[TxDropNoEgress] + ws.TxDrops[TxDropLinkDown] + ws.TxDrops[TxDropTooBig]; other != 0 {
		t.Fatalf("drops under other reasons: %v", ws.TxDrops)
	}
}

// TestWorkerRingFullOnItsClock: the retry bound is measured on the
// worker's clock. With the ring full and the clock held, a burst that does
// not fit is still retrying ten times TxRetryTime later (a worker's counters
// are published when its burst ends, so none of it shows); once the clock
// passes TxRetryTime, what does not fit is dropped as ring_full.
func TestWorkerRingFullOnItsClock(t *testing.T) {
	const log2Ring = 4 // 16 slots
	const retry = 10 * time.Millisecond
	master, slave := memifPair(t, func(c *memif.InterfaceConfig) { c.Log2RingSize = log2Ring })
	clock := memiftest.NewClock()
	w, err := NewWorker(WorkerConfig{Pipeline: scriptPipeline(t, nil), In: &Port{If: slave}, TxRetryTime: retry, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	runWorker(t, w)
	const half = 1 << (log2Ring - 1)
	for sent := half; sent <= 2*half; sent += half { // the ring's worth: sent, never drained
		sendVerdicts(t, master, repeat(abi.TX, half)...)
		waitStats(t, w, func(ws WorkerStats) bool { return ws.RxPackets == uint64(sent) })
	}
	sendVerdicts(t, master, repeat(abi.TX, half)...)
	time.Sleep(10 * retry) // on the system's clock, the bound would have passed long ago
	if ws := w.ReadStats(); ws.RxPackets != 2*half || ws.TxDrops[TxDropRingFull] != 0 {
		t.Fatalf("with the clock held: %d packets done, %d ring_full drops; want the burst still retrying", ws.RxPackets, ws.TxDrops[TxDropRingFull])
	}
	clock.Advance(retry)
	ws := waitStats(t, w, func(ws WorkerStats) bool { return ws.RxPackets == 3*half })
	if ws.Tx[abi.TX] != 1<<log2Ring || ws.TxDrops[TxDropRingFull] != half || ws.TxRingFull == 0 {
		t.Fatalf("after the bound: sent %d, ring_full drops %d, retries %d", ws.Tx[abi.TX], ws.TxDrops[TxDropRingFull], ws.TxRingFull)
	}
}

// TestWorkerEmptyPolls: an idle queue in polling mode is polled again and
// again, each poll counted; interrupt mode counts only wake-ups.
func TestWorkerEmptyPolls(t *testing.T) {
	_, slave := memifPair(t, func(c *memif.InterfaceConfig) { c.RxMode = memif.RxModePolling })
	p := scriptPipeline(t, nil)
	w, err := NewWorker(WorkerConfig{Pipeline: p, In: &Port{If: slave}})
	if err != nil {
		t.Fatal(err)
	}
	runWorker(t, w)
	ws := waitStats(t, w, func(ws WorkerStats) bool { return ws.EmptyPolls > 100 })
	if ws.RxBursts != 0 || ws.Busy != 0 {
		t.Fatalf("idle worker counted bursts %d, busy %v", ws.RxBursts, ws.Busy)
	}
}

// BenchmarkWorkerBurst measures the worker's whole burst over memif: the
// plugin call, the transmit back to the peer and the counters (with the
// clock reads for busy time and guest-call duration). The peer's draining
// is timed too, so compare runs, not absolute numbers. taps=off is the
// data plane as it runs; trace=on and capture=on keep a tap set on the
// port (a trace re-armed whenever it has its packets, a capture whose
// reader keeps up) to show what looking costs while one looks.
func BenchmarkWorkerBurst(b *testing.B) {
	for _, tap := range []string{"taps=off", "trace=on", "capture=on"} {
		b.Run(tap, func(b *testing.B) { benchWorkerBurst(b, tap) })
	}
}

func benchWorkerBurst(b *testing.B, tap string) {
	master, slave := memifPair(b, nil)
	p := scriptPipeline(b, nil)
	const n = 32
	in := &Port{If: slave, Name: "bench"}
	w, err := NewWorker(WorkerConfig{Pipeline: p, In: in, Burst: n})
	if err != nil {
		b.Fatal(err)
	}
	pkts := make([][]byte, n)
	for i := range pkts {
		pkts[i] = append([]byte{byte(abi.TX), 0}, make([]byte, 62)...)
	}
	mtx, _ := master.TxQueue(0)
	if _, err := mtx.WritePackets(pkts); err != nil {
		b.Fatal(err)
	}
	rx, _ := slave.RxQueue(0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got := 0
	for got < n {
		if err := rx.Wait(ctx); err != nil {
			b.Fatal(err)
		}
		k, _ := rx.RxBurst(w.bufs[got:])
		got += k
	}
	mrx, _ := master.RxQueue(0)
	drain := make([]memif.Buffer, 64)
	var arm func()
	switch tap {
	case "trace=on":
		arm = func() {
			if in.Trace() == nil {
				tr, _ := NewTrace(MaxTracePackets)
				in.SetTrace(tr)
			}
		}
	case "capture=on":
		c, _ := NewCapture(CaptureConfig{Rx: true, Tx: true, Drop: true, Count: MaxCapturePackets})
		in.SetCapture(c)
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for {
				select {
				case <-c.Packets():
				case <-stop:
					return
				}
			}
		}()
	}
	b.ReportAllocs()
	for b.Loop() {
		if arm != nil {
			arm()
		}
		w.burst(0, n)
		for back, spins := 0, 0; back < n && spins < 1e6; spins++ {
			k, _ := mrx.RxBurst(drain)
			mrx.Release(k)
			back += k
		}
	}
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / n
	b.ReportMetric(ns, "ns/pkt")
	if ws := w.ReadStats(); ws.TxDrops != [NumTxDropReasons]uint64{} {
		b.Fatalf("drops %v", ws.TxDrops)
	}
	rx.Release(n)
}

// TestWorkerRingFullSleeps: a worker waiting for room on a full ring yields
// only for its first retries and then sleeps, so it does not spin through
// TxRetryTime (a spinning goroutine keeps the Go scheduler from polling the
// network, which delays the wake-up of a peer in the same process: see
// RATIONALE "Why does a worker sleep on a full tx ring?"). Spinning would
// retry hundreds of thousands of times in 30 ms; sleeping at most
// txRetryYields + 30 ms / txRetryPause.
func TestWorkerRingFullSleeps(t *testing.T) {
	const log2Ring = 4 // 16 slots
	const retryTime = 30 * time.Millisecond
	master, slave := memifPair(t, func(c *memif.InterfaceConfig) { c.Log2RingSize = log2Ring })
	p := scriptPipeline(t, nil)
	w, err := NewWorker(WorkerConfig{Pipeline: p, In: &Port{If: slave}, TxRetryTime: retryTime})
	if err != nil {
		t.Fatal(err)
	}
	runWorker(t, w)
	// One burst fills the ring (the peer never drains it); the next finds it
	// full and waits out the retry time before dropping.
	const half = 1 << (log2Ring - 1)
	for sent := 0; sent < 3*half; sent += half {
		sendVerdicts(t, master, repeat(abi.TX, half)...)
		waitStats(t, w, func(ws WorkerStats) bool { return ws.RxPackets == uint64(sent+half) })
	}
	ws := w.ReadStats()
	if ws.Tx[abi.TX] != 1<<log2Ring || ws.TxDrops[TxDropRingFull] != half {
		t.Fatalf("sent %d, ring_full drops %d: want %d and %d", ws.Tx[abi.TX], ws.TxDrops[TxDropRingFull], 1<<log2Ring, half)
	}
	// The waiting burst must have slept: its retries are bounded by the
	// pauses that fit in the retry time, plus the first yields.
	limit := uint64(txRetryYields) + uint64(retryTime/txRetryPause) + 1
	if ws.TxRingFull <= txRetryYields || ws.TxRingFull > limit {
		t.Fatalf("%d full-ring retries in %v: want more than %d (it waited) and at most %d (it slept)",
			ws.TxRingFull, retryTime, txRetryYields, limit)
	}
	if ws.Busy < retryTime {
		t.Fatalf("busy %v: the full ring was not waited on for %v", ws.Busy, retryTime)
	}
}

// TestWorkerRxDropReasons: the packets no verdict sends are counted by who
// dropped them: a plugin's DROP, ABORTED (the plugin's own, or the host's
// for a verdict code it does not know), a fail-closed plugin that traps,
// and a pipeline closed under the worker. The reasons always add up to
// Dropped[Drop] + Dropped[Aborted].
func TestWorkerRxDropReasons(t *testing.T) {
	master, _, p, w := scriptWorker(t, WorkerConfig{})
	runWorker(t, w)
	mtx, err := master.TxQueue(0)
	if err != nil {
		t.Fatal(err)
	}
	// send has the peer send packets of the given verdict byte and action.
	sent := uint64(0)
	send := func(v byte, act byte, n int) WorkerStats {
		t.Helper()
		pkts := make([][]byte, n)
		for i := range pkts {
			pkts[i] = append([]byte{v, act}, make([]byte, 62)...)
		}
		if k, err := mtx.WritePackets(pkts); err != nil || k != n {
			t.Fatalf("peer wrote %d of %d: %v", k, n, err)
		}
		sent += uint64(n)
		return waitStats(t, w, func(ws WorkerStats) bool { return ws.RxPackets == sent })
	}
	check := func(ws WorkerStats, want [NumRxDropReasons]uint64) {
		t.Helper()
		if ws.RxDrops != want {
			t.Errorf("rx drops %v, want %v", ws.RxDrops, want)
		}
		var sum uint64
		for _, n := range ws.RxDrops {
			sum += n
		}
		if sum != ws.Dropped[abi.Drop]+ws.Dropped[abi.Aborted] {
			t.Errorf("rx drops add up to %d, dropped drop+aborted %d", sum, ws.Dropped[abi.Drop]+ws.Dropped[abi.Aborted])
		}
	}
	var want [NumRxDropReasons]uint64
	send(byte(abi.Drop), hosttest.ActNone, 3)
	want[RxDropVerdict] = 3
	send(byte(abi.Aborted), hosttest.ActNone, 2)
	want[RxDropAborted] = 2
	ws := send(byte(abi.TX), hosttest.ActNone, 4)
	check(ws, want)
	// An unknown verdict code is the host's ABORTED (and an ABI fault).
	ws = send(200, hosttest.ActNone, 1)
	want[RxDropAborted]++
	check(ws, want)
	// Every packet traps: each is dropped by the fail-closed policy,
	// whether its burst found the instance restarted (and trapped) or still
	// waiting for its restart.
	ws = send(byte(abi.TX), hosttest.ActTrap, 5)
	want[RxDropFailClosed] = 5
	check(ws, want)
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	ws = send(byte(abi.TX), hosttest.ActNone, 6)
	want[RxDropPipelineClosed] = 6
	check(ws, want)
	if ws.Tx[abi.TX] != 4 {
		t.Errorf("sent %d TX, want 4", ws.Tx[abi.TX])
	}
	double := ws
	double.Add(&ws)
	for r := range double.RxDrops {
		if double.RxDrops[r] != 2*ws.RxDrops[r] {
			t.Errorf("Add: %v is not twice %v", double.RxDrops, ws.RxDrops)
			break
		}
	}
	for r, name := range []string{"drop", "aborted", "fail_closed", "pipeline_closed"} {
		if got := RxDropReason(r).String(); got != name {
			t.Errorf("reason %d is %q, want %q", r, got, name)
		}
	}
	if got := NumRxDropReasons.String(); got != "unknown" {
		t.Errorf("reason out of range is %q", got)
	}
}

// TestWorkerTenantPorts: a worker of a tenant's pipeline takes only that
// tenant's ports, so its plugins' packets (and, zero-copy, their buffer
// regions) never reach another tenant.
func TestWorkerTenantPorts(t *testing.T) {
	red, err := host.NewTenant(host.TenantConfig{Name: "red", Ports: []uint16{0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	blue, err := host.NewTenant(host.TenantConfig{Name: "blue"})
	if err != nil {
		t.Fatal(err)
	}
	p := scriptPipeline(t, &host.PluginConfig{Tenant: red})
	master, slave := memifPair(t, nil)
	_, err = NewWorker(WorkerConfig{Pipeline: p, In: &Port{If: slave, Tenant: red}, Egress: &Port{If: master, Tenant: blue}})
	if err == nil || !strings.Contains(err.Error(), `egress port belongs to tenant blue`) {
		t.Fatalf("worker with another tenant's egress: %v", err)
	}
	_, err = NewWorker(WorkerConfig{Pipeline: p, In: &Port{If: slave, Tenant: red}, Ports: []*Port{nil, {If: master}}})
	if err == nil || !strings.Contains(err.Error(), "port 1 belongs to tenant none") {
		t.Fatalf("worker with a port of no tenant: %v", err)
	}
	if _, err := NewWorker(WorkerConfig{Pipeline: p, In: &Port{If: slave, Tenant: red}, Egress: &Port{If: master, Tenant: red}}); err != nil {
		t.Fatal(err)
	}
}

// TestWorkerAdaptive: a worker in adaptive mode echoes bursts that follow
// each other closer than its poll budget (served while masked, without a
// wake-up) in blocks separated by longer gaps (each unmasks and sleeps),
// loses none, and counts its wake-ups: about one per block.
func TestWorkerAdaptive(t *testing.T) {
	master, slave := memifPair(t, func(c *memif.InterfaceConfig) {
		c.RxMode, c.AdaptivePoll = memif.RxModeAdaptive, 5*time.Millisecond
	})
	p := scriptPipeline(t, nil)
	w, err := NewWorker(WorkerConfig{Pipeline: p, In: &Port{If: slave}, Burst: 32})
	if err != nil {
		t.Fatal(err)
	}
	runWorker(t, w)
	mtx, _ := master.TxQueue(0)
	mrx, _ := master.RxQueue(0)
	pkts := make([][]byte, 16)
	for i := range pkts {
		pkts[i] = append([]byte{byte(abi.TX), 0}, make([]byte, 62)...)
	}
	bufs := make([]memif.Buffer, 64)
	const rounds = 100
	got := 0
	for r := range rounds {
		if _, err := mtx.WritePackets(pkts); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); got < (r+1)*len(pkts); {
			k, err := mrx.RxBurst(bufs)
			if err != nil {
				t.Fatal(err)
			}
			mrx.Release(k)
			got += k
			if k == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("round %d: %d of %d packets back", r, got, (r+1)*len(pkts))
				}
				runtime.Gosched()
			}
		}
		if r%10 == 9 {
			time.Sleep(20 * time.Millisecond) // idle past the poll budget
		}
	}
	ws := waitStats(t, w, func(ws WorkerStats) bool { return ws.RxPackets == rounds*16 })
	wakeups := slave.Stats().RxWakeups
	if ws.Tx[abi.TX] != rounds*16 || wakeups == 0 || wakeups > ws.RxBursts/2 {
		t.Fatalf("sent %d of %d, %d wake-ups for %d bursts: adaptive mode should sleep only after idle gaps", ws.Tx[abi.TX], rounds*16, wakeups, ws.RxBursts)
	}
	if st := master.Stats(); st.TxMasked == 0 {
		t.Fatalf("the peer never found the worker's ring masked (%d signals)", st.TxSignals)
	}
}

// pinnedThreads counts this process's threads whose allowed CPUs are
// exactly list (as /proc writes it, e.g. "1"), the main thread only if
// withMain: a goroutine that ends locked to the main thread does not end
// that thread (the runtime parks it for good), so it keeps the mask
// without running any goroutine again.
func pinnedThreads(t *testing.T, list string, withMain bool) int {
	t.Helper()
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil {
		t.Fatal(err)
	}
	main := fmt.Sprintf("/proc/self/task/%d/status", os.Getpid())
	n := 0
	for _, f := range tasks {
		if f == main && !withMain {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok && strings.TrimSpace(v) == list {
				n++
			}
		}
	}
	return n
}

// TestWorkerPinnedToCPU: a worker with CPUs runs on a thread of its own
// restricted to them, forwards as any other, and its thread ends with Run
// (the restriction does not reach other goroutines). A CPU the process may
// not use is refused by NewWorker.
func TestWorkerPinnedToCPU(t *testing.T) {
	allowed, err := affinity.Allowed()
	if err != nil {
		t.Skipf("no CPU affinity here: %v", err)
	}
	if len(allowed) < 2 {
		t.Skipf("the process may run on %v only: a pinned thread would look like any other", allowed)
	}
	cpu := allowed[len(allowed)-1]
	list := strconv.Itoa(cpu)
	master, slave := memifPair(t, nil)
	p := scriptPipeline(t, nil)
	if _, err := NewWorker(WorkerConfig{Pipeline: p, In: &Port{If: slave}, CPUs: []int{affinity.MaxCPU - 1}}); err == nil && !slices.Contains(allowed, affinity.MaxCPU-1) {
		t.Fatal("NewWorker accepted a CPU the process may not run on")
	}
	before := pinnedThreads(t, list, true)
	w, err := NewWorker(WorkerConfig{Pipeline: p, In: &Port{If: slave}, CPUs: []int{cpu}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	sendVerdicts(t, master, abi.TX, abi.TX)
	waitStats(t, w, func(ws WorkerStats) bool { return ws.Tx[abi.TX] == 2 })
	if n := pinnedThreads(t, list, true); n != before+1 {
		t.Errorf("%d threads restricted to CPU %d while the worker runs, want %d", n, cpu, before+1)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	memiftest.WaitFor(t, 5*time.Second, "the pinned thread to end", func() bool { return pinnedThreads(t, list, false) <= before })
}
