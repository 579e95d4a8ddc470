package daemon

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif/memiftest"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/dataplane"
)

// sendFrames has the peer send n test frames on queue 0.
func sendFrames(t *testing.T, p *peer, n int) {
	t.Helper()
	txq, err := p.ifc.TxQueue(0)
	if err != nil {
		t.Fatal(err)
	}
	pkts := make([][]byte, n)
	for i := range pkts {
		pkts[i] = frame(uint64(i))
	}
	if k, err := txq.WritePackets(pkts); err != nil || k != n {
		t.Fatalf("peer sent %d of %d: %v", k, n, err)
	}
}

// waitRx waits until the interface's workers have counted n packets.
func waitRx(t *testing.T, d *Daemon, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got uint64
		for _, q := range d.Snapshot().Tenants[0].Interfaces[0].Queues {
			got += q.RxPackets
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("workers counted %d of %d packets", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDaemonTrace: ctl trace add/show/clear through the daemon: the next n
// packets of the interface are traced with headers, each plugin's verdict
// and the port they left by; clear forgets them.
func TestDaemonTrace(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	pass := buildPlugin(t, dir, "pass", int(abi.Pass), 0)
	reflect := buildPlugin(t, dir, "reflect", int(abi.TX), 0)
	d := startDaemon(t, oneInterface(sock, pass, reflect), Options{})
	if err := d.AddTrace("t", "memif0", 0); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("trace of 0 packets: %v", err)
	}
	if err := d.AddTrace("t", "nope", 3); !errors.Is(err, ErrNotFound) {
		t.Errorf("trace of an unknown interface: %v", err)
	}
	if err := d.AddTrace("t", "memif0", 3); err != nil {
		t.Fatal(err)
	}
	peer := newPeer(t, sock, 0, false)
	sendFrames(t, peer, 5)
	waitRx(t, d, 5)
	views := d.Traces()
	if len(views) != 1 || views[0].Tenant != "t" || views[0].Interface != "memif0" || views[0].Pending != 0 || len(views[0].Packets) != 3 {
		t.Fatalf("traces %+v", views)
	}
	for i, p := range views[0].Packets {
		if len(p.Stages) != 2 || p.Stages[0].Plugin != "t/memif0/pass" || p.Stages[0].Verdict != "pass" || p.Stages[1].Plugin != "t/memif0/reflect" ||
			p.Stages[1].Verdict != "tx" || p.Egress != "tx t/memif0" || p.Drop != "" {
			t.Errorf("packet %d: %+v", i, p)
		}
		if len(p.Headers) != 1 || p.Headers[0] != "ethernet 02:00:00:00:00:02 -> 02:00:00:00:00:01 type 0x88b5" {
			t.Errorf("packet %d headers %q", i, p.Headers)
		}
	}
	d.ClearTraces()
	if v := d.Traces(); len(v) != 0 {
		t.Errorf("after clear: %+v", v)
	}
}

// TestDaemonCapture: a capture takes the interface's packets; a second one
// on the same interface is refused while the first runs, and allowed
// after StopCapture.
func TestDaemonCapture(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	d := startDaemon(t, oneInterface(sock, buildPlugin(t, dir, "reflect", int(abi.TX), 0)), Options{})
	c, err := d.StartCapture("t", "memif0", dataplane.CaptureConfig{Rx: true, Tx: true, Count: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.StartCapture("t", "memif0", dataplane.CaptureConfig{Rx: true, Count: 1}); !errors.Is(err, ErrBusy) {
		t.Errorf("second capture: %v, want ErrBusy", err)
	}
	if _, err := d.StartCapture("t", "memif0", dataplane.CaptureConfig{Count: 1}); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("capture without a direction: %v", err)
	}
	peer := newPeer(t, sock, 0, false)
	sendFrames(t, peer, 2)
	got := map[dataplane.Direction]int{}
	timeout := time.After(10 * time.Second)
	for n := 0; !c.Done(n); n++ {
		select {
		case p := <-c.Packets():
			got[p.Dir]++
		case <-timeout:
			t.Fatalf("captured %v", got)
		}
	}
	if got[dataplane.DirRx] != 2 || got[dataplane.DirTx] != 2 {
		t.Errorf("captured %v, want 2 rx and 2 tx", got)
	}
	d.StopCapture("t", "memif0", c)
	c2, err := d.StartCapture("t", "memif0", dataplane.CaptureConfig{Rx: true, Count: 1})
	if err != nil {
		t.Fatalf("capture after the first stopped: %v", err)
	}
	d.StopCapture("t", "memif0", c2)
}

// TestDaemonRuntimeClear: the runtime view counts bursts and packets per
// worker and calls per plugin; ClearRuntime zeroes the view, not the
// counters behind it.
func TestDaemonRuntimeClear(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	d := startDaemon(t, oneInterface(sock, buildPlugin(t, dir, "reflect", int(abi.TX), 0)), Options{})
	peer := newPeer(t, sock, 0, false)
	sendFrames(t, peer, 10)
	waitRx(t, d, 10)
	rt := d.Runtime()
	if len(rt.Workers) != 1 || len(rt.Plugins) != 1 {
		t.Fatalf("runtime %+v", rt)
	}
	w, p := rt.Workers[0], rt.Plugins[0]
	if w.Packets != 10 || w.Bursts == 0 || w.Busy <= 0 || w.NsPerPacket <= 0 || w.PacketsPerBurst != float64(w.Packets)/float64(w.Bursts) {
		t.Errorf("worker %+v", w)
	}
	if p.Plugin != "reflect" || p.Packets != 10 || p.Calls == 0 || p.NsPerPacket <= 0 {
		t.Errorf("plugin %+v", p)
	}
	since := d.ClearRuntime()
	rt = d.Runtime()
	if rt.Workers[0].Packets != 0 || rt.Workers[0].Bursts != 0 || rt.Plugins[0].Packets != 0 || !rt.Since.Equal(since) {
		t.Errorf("after clear: %+v", rt)
	}
	if q := d.Snapshot().Tenants[0].Interfaces[0].Queues[0]; q.RxPackets != 10 {
		t.Errorf("clear changed the counters: %d packets", q.RxPackets)
	}
	sendFrames(t, peer, 3)
	waitRx(t, d, 13)
	if rt = d.Runtime(); rt.Workers[0].Packets != 3 || rt.Plugins[0].Packets != 3 {
		t.Errorf("after 3 more: worker %d plugin %d packets", rt.Workers[0].Packets, rt.Plugins[0].Packets)
	}
}

// TestRuntimeFromReplacedWorker: a worker whose counters went below the
// base (it was replaced since the clear) counts from zero, never wraps.
func TestRuntimeFromReplacedWorker(t *testing.T) {
	base := &Runtime{Workers: []WorkerRuntime{{Tenant: "t", Interface: "i", Packets: 100, Bursts: 10}}}
	cur := &Runtime{Workers: []WorkerRuntime{{Tenant: "t", Interface: "i", Packets: 5, Bursts: 1}}}
	if w := cur.From(base, time.Now()).Workers[0]; w.Packets != 5 || w.Bursts != 1 {
		t.Errorf("%+v", w)
	}
}

// TestRuntimeSinceOnTheDaemonsClock: the runtime view's start and length
// are on the daemon's clock, from its start and then from the last clear.
func TestRuntimeSinceOnTheDaemonsClock(t *testing.T) {
	dir := t.TempDir()
	clk := memiftest.NewClock()
	d := startDaemon(t, oneInterface(filepath.Join(dir, "memif.sock"), buildPlugin(t, dir, "pass", int(abi.Pass), 0)), Options{Clock: clk})
	start := clk.Now()
	clk.Advance(90 * time.Second)
	if rt := d.Runtime(); !rt.Since.Equal(start) || rt.Seconds != 90 {
		t.Errorf("since %v (%vs), want the start %v and 90s", rt.Since, rt.Seconds, start)
	}
	cleared := d.ClearRuntime()
	clk.Advance(5 * time.Second)
	if rt := d.Runtime(); !cleared.Equal(start.Add(90*time.Second)) || !rt.Since.Equal(cleared) || rt.Seconds != 5 {
		t.Errorf("after clear: since %v (%vs), cleared at %v", rt.Since, rt.Seconds, cleared)
	}
}
