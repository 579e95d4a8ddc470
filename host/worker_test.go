package host

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/memif"
)

// memifPair connects a master (the test's peer) and a slave (the side
// hosting plugins) on a temporary socket.
func memifPair(t *testing.T) (master, slave *memif.Interface) {
	t.Helper()
	dir, err := os.MkdirTemp("", "mw") // short: sun_path is 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock, err := memif.NewSocket(memif.SocketConfig{Path: filepath.Join(dir, "s")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sock.Close() })
	if master, err = sock.NewInterface(memif.InterfaceConfig{ID: 1, Role: memif.RoleMaster, Name: "peer"}); err != nil {
		t.Fatal(err)
	}
	if slave, err = sock.NewInterface(memif.InterfaceConfig{ID: 1, Name: "host"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := master.WaitConnected(ctx); err != nil {
		t.Fatalf("master: %v (%v)", err, master.LastError())
	}
	if err := slave.WaitConnected(ctx); err != nil {
		t.Fatalf("slave: %v (%v)", err, slave.LastError())
	}
	return master, slave
}

// TestWorkerZeroCopyOverMemif runs the scripted plugin on the slave side of a
// real memif connection: the guest sees the peer's bytes in place (0 bytes
// copied by the host), rewrites them, and TX sends them back to the peer.
func TestWorkerZeroCopyOverMemif(t *testing.T) {
	master, slave := memifPair(t)
	e, _ := newEngine(t)
	p := pipeline(t, load(t, e, scriptWAT(t, scriptOpts{}), nil))
	w, err := NewWorker(WorkerConfig{Pipeline: p, In: &Port{If: slave}})
	if err != nil {
		t.Fatal(err)
	}
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
		pkts[i] = append([]byte{v, actWrite, 0, byte(i)}, make([]byte, 60)...)
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
	if ws.ZeroCopyConns != 1 || st.PacketsPlaced[PlacementZeroCopy] != n || st.BytesCopied[PlacementZeroCopy] != 0 {
		t.Fatalf("placement: worker %+v, plugin placed %v copied %v", ws, st.PacketsPlaced, st.BytesCopied)
	}
	if ws.Tx[abi.TX] != n-n/4 || ws.Dropped[abi.Drop] != n/4 || ws.RxPackets != n {
		t.Fatalf("worker stats %+v", ws)
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
	master, slave := memifPair(t)
	e, _ := newEngine(t)
	p := pipeline(t, load(t, e, scriptWAT(t, scriptOpts{}), nil))
	w, err := NewWorker(WorkerConfig{Pipeline: p, In: &Port{If: slave}, Burst: 32})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range slave.Regions() {
		if !r.Rings {
			if pl, err := p.AttachRegion(r.Index, r.FD, RegionFacts{Size: int(r.Size)}); err != nil || pl != PlacementZeroCopy {
				t.Fatalf("attach: %v %v", pl, err)
			}
		}
	}
	pkts := make([][]byte, 32)
	for i := range pkts {
		pkts[i] = append([]byte{byte(abi.TX), actWrite}, make([]byte, 62)...)
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
		w.burst(n)
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
	master, slave := memifPair(t)
	e, _ := newEngine(t)
	p := pipeline(t, load(t, e, scriptWAT(t, scriptOpts{}), nil))
	w, err := NewWorker(WorkerConfig{Pipeline: p, In: &Port{If: slave}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	jumbo := make([]byte, 5000)
	for i := range jumbo {
		jumbo[i] = byte(i * 7)
	}
	jumbo[0], jumbo[1] = byte(abi.TX), actWrite
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
	if st := p.ReadStats(nil)[0]; st.BytesCopied[PlacementZeroCopy] != 2*5000 {
		t.Fatalf("chain copied %d bytes, want 10000 (in and back)", st.BytesCopied[PlacementZeroCopy])
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
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
