package dataplane

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
)

// TestWorkerTrace: a trace of 3 records the next 3 packets only: headers as
// received, the plugin's verdict, length change and time, and where each
// left or why it did not.
func TestWorkerTrace(t *testing.T) {
	master, _, _, w := scriptWorker(t, WorkerConfig{})
	w.cfg.In.Name = "host"
	tr, err := NewTrace(3)
	if err != nil {
		t.Fatal(err)
	}
	w.cfg.In.SetTrace(tr)
	runWorker(t, w)
	sendVerdicts(t, master, abi.TX, abi.Drop, abi.Pass, abi.TX, abi.TX)
	waitStats(t, w, func(ws WorkerStats) bool { return ws.RxPackets == 5 })
	pkts, pending := tr.Packets()
	if len(pkts) != 3 || pending != 0 {
		t.Fatalf("%d packets traced, %d pending; want 3 and 0", len(pkts), pending)
	}
	if w.cfg.In.Trace() != nil {
		t.Error("a trace that has all its packets stays on the port")
	}
	want := []struct {
		v            abi.Verdict
		egress, drop string
	}{
		{abi.TX, "tx host", ""},
		{abi.Drop, "", "drop: plugin script"},
		{abi.Pass, "", "no_egress"},
	}
	for i, tp := range pkts {
		if tp.Verdict != want[i].v.String() || tp.Egress != want[i].egress || tp.Drop != want[i].drop {
			t.Errorf("packet %d: verdict %v egress %q drop %q, want %+v", i, tp.Verdict, tp.Egress, tp.Drop, want[i])
		}
		if tp.Len != 64 || len(tp.Head) != 64 || tp.Head[0] != byte(want[i].v) || tp.Head[3] != byte(i) || tp.LenOut != 64 {
			t.Errorf("packet %d: len %d head %x len out %d", i, tp.Len, tp.Head[:4], tp.LenOut)
		}
		if len(tp.Stages) != 1 {
			t.Fatalf("packet %d: %d stages", i, len(tp.Stages))
		}
		s := tp.Stages[0]
		if s.Plugin != "script" || s.Verdict != want[i].v.String() || s.LenIn != 64 || s.LenOut != 64 || s.Took <= 0 || s.CallPackets < 1 || s.Faulted {
			t.Errorf("packet %d: stage %+v", i, s)
		}
	}
}

// TestNewTraceBounds: a trace of no packets or of more than the bound is
// refused with the bounds.
func TestNewTraceBounds(t *testing.T) {
	for _, n := range []int{0, -1, MaxTracePackets + 1} {
		if _, err := NewTrace(n); err == nil {
			t.Errorf("NewTrace(%d) accepted", n)
		}
	}
}

// TestNewCaptureRefuses: a capture without a direction, count or with a
// snaplen out of range is refused, naming what is wrong.
func TestNewCaptureRefuses(t *testing.T) {
	for _, cfg := range []CaptureConfig{
		{Count: 1},
		{Rx: true},
		{Rx: true, Count: MaxCapturePackets + 1},
		{Rx: true, Count: 1, Snaplen: -1},
		{Rx: true, Count: 1, Snaplen: DefaultSnaplen + 1},
	} {
		if _, err := NewCapture(cfg); err == nil {
			t.Errorf("NewCapture(%+v) accepted", cfg)
		}
	}
	c, err := NewCapture(CaptureConfig{Tx: true, Count: 1})
	if err != nil || c.Config().Snaplen != DefaultSnaplen {
		t.Fatalf("NewCapture: %v, snaplen %d", err, c.Config().Snaplen)
	}
}

// TestWorkerCapture: rx packets are captured as received, tx packets as
// sent (after the plugin rewrote them), drops with their reason, each with
// its verdict as the comment, up to the count and truncated to snaplen.
func TestWorkerCapture(t *testing.T) {
	master, _, _, w := scriptWorker(t, WorkerConfig{})
	w.cfg.In.Name = "host"
	c, err := NewCapture(CaptureConfig{Rx: true, Tx: true, Drop: true, Count: 4, Snaplen: 32})
	if err != nil {
		t.Fatal(err)
	}
	w.cfg.In.SetCapture(c)
	runWorker(t, w)
	pkts := [][]byte{
		append([]byte{byte(abi.TX), hosttest.ActWrite, 0, 0}, make([]byte, 60)...),
		append([]byte{byte(abi.Drop), hosttest.ActNone, 0, 1}, make([]byte, 60)...),
	}
	mtx, _ := master.TxQueue(0)
	if _, err := mtx.WritePackets(pkts); err != nil {
		t.Fatal(err)
	}
	var got []Captured
	timeout := time.After(5 * time.Second)
	for !c.Done(len(got)) {
		select {
		case p := <-c.Packets():
			got = append(got, p)
		case <-timeout:
			t.Fatalf("captured %d of 4 (lost %d): %+v", len(got), c.Lost(), got)
		}
	}
	// The count is reached: later packets are not captured.
	sendVerdicts(t, master, abi.TX, abi.Drop)
	waitStats(t, w, func(ws WorkerStats) bool { return ws.RxPackets == 4 })
	// In the order they happened: each packet as received, then as sent
	// or dropped.
	if order := []Direction{got[0].Dir, got[1].Dir, got[2].Dir, got[3].Dir}; !slices.Equal(order, []Direction{DirRx, DirTx, DirRx, DirDrop}) {
		t.Errorf("captured in the order %v, want rx tx rx drop", order)
	}
	byDir := map[Direction][]Captured{}
	for _, p := range got {
		if p.OrigLen != 64 || len(p.Data) != 32 || p.Queue != 0 || p.Time.IsZero() {
			t.Errorf("%v packet: orig %d, %d bytes kept, queue %d", p.Dir, p.OrigLen, len(p.Data), p.Queue)
		}
		byDir[p.Dir] = append(byDir[p.Dir], p)
	}
	if len(byDir[DirRx]) != 2 || len(byDir[DirTx]) != 1 || len(byDir[DirDrop]) != 1 {
		t.Fatalf("captured rx %d tx %d drop %d, want 2 1 1", len(byDir[DirRx]), len(byDir[DirTx]), len(byDir[DirDrop]))
	}
	rx0, tx := byDir[DirRx][0], byDir[DirTx][0]
	if !bytes.Equal(rx0.Data, pkts[0][:32]) || rx0.Comment != "verdict tx, sent: tx host" {
		t.Errorf("rx packet %x %q: want it as received, with its verdict", rx0.Data[:4], rx0.Comment)
	}
	if tx.Data[2] != 0xee || tx.Comment != "verdict tx from host" {
		t.Errorf("tx packet %x %q: want it as the plugin rewrote it", tx.Data[:4], tx.Comment)
	}
	if d := byDir[DirDrop][0]; d.Data[3] != 1 || d.Comment != "verdict drop, dropped: drop: plugin script" {
		t.Errorf("drop packet %x %q", d.Data[:4], d.Comment)
	}
	select {
	case p := <-c.Packets():
		t.Errorf("captured beyond the count: %+v", p)
	default:
	}
	if w.cfg.In.Capture() != nil {
		t.Error("a capture that has all its packets stays on the port")
	}
}
