package sdk_test

import (
	"testing"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/sdk"
)

func TestPacketBounds(t *testing.T) {
	var b sdk.Burst
	b.Reset(sdk.Header{})
	buf := make([]byte, 100)
	p := b.AddWithHeadroom(buf, 10, 50)
	if p == nil || p.Len() != 50 || p.Cap() != 90 || p.Headroom() != 10 {
		t.Fatalf("packet %+v", p)
	}
	if p.SetLen(91) || p.SetLen(-1) || p.Len() != 50 {
		t.Fatal("SetLen accepted a length beyond cap")
	}
	if p.Flags()&abi.FlagModified != 0 {
		t.Fatal("failed SetLen marked the packet modified")
	}
	if !p.SetLen(90) || len(p.Data()) != 90 {
		t.Fatal("SetLen(cap)")
	}
	if p.AdjustHead(-11) || p.AdjustHead(91) {
		t.Fatal("AdjustHead left the buffer")
	}
	if !p.AdjustHead(-10) || p.Len() != 100 || p.Headroom() != 0 || &p.Data()[0] != &buf[0] {
		t.Fatal("AdjustHead(-10)")
	}
	if !p.AdjustHead(100) || p.Len() != 0 {
		t.Fatal("AdjustHead to the end")
	}
	if p.AdjustHead(1) {
		t.Fatal("AdjustHead past the end")
	}
	if cap(p.Data()) != p.Len() {
		t.Fatal("Data's capacity lets append write past the packet")
	}
	for _, bad := range []struct{ room, n int }{{-1, 1}, {101, 0}, {10, 91}, {0, -1}} {
		if b.AddWithHeadroom(buf, bad.room, bad.n) != nil {
			t.Errorf("AddWithHeadroom(%d, %d) accepted", bad.room, bad.n)
		}
	}
	if b.AddWithHeadroom(make([]byte, abi.MaxPacket+1), 0, 1) != nil {
		t.Error("packet larger than the ABI allows accepted")
	}
	for range abi.MaxBurst - 1 {
		if b.Add(make([]byte, 1)) == nil {
			t.Fatal("burst full early")
		}
	}
	if b.Add(make([]byte, 1)) != nil || b.Len() != abi.MaxBurst {
		t.Fatal("burst took more than MaxBurst packets")
	}
}

func TestVerdictSetters(t *testing.T) {
	var b sdk.Burst
	for _, tc := range []struct {
		set  func(*sdk.Packet)
		want abi.Verdict
	}{
		{(*sdk.Packet).Drop, abi.Drop}, {(*sdk.Packet).Pass, abi.Pass}, {(*sdk.Packet).TX, abi.TX},
		{func(p *sdk.Packet) { p.Redirect(5) }, abi.Redirect},
	} {
		b.Reset(sdk.Header{})
		p := b.Add(make([]byte, 4))
		if p.Verdict() != abi.Aborted {
			t.Fatal("a new packet has a verdict")
		}
		tc.set(p)
		if p.Verdict() != tc.want {
			t.Fatalf("verdict %v, want %v", p.Verdict(), tc.want)
		}
	}
	if b.Packet(0).Meta() != 5 {
		t.Fatal("Redirect did not set meta")
	}
	b.SetAll(abi.Drop)
	if b.Packet(0).Verdict() != abi.Drop {
		t.Fatal("SetAll")
	}
}

func TestFixedPackets(t *testing.T) {
	for _, f := range []uint8{abi.FlagTruncated, abi.FlagChained} {
		var b sdk.Burst
		b.Reset(sdk.Header{})
		p := b.AddWithHeadroom(make([]byte, 100), 10, 50)
		p.SetFlags(f)
		if p.SetLen(40) || p.SetLen(60) || p.AdjustHead(-1) || p.AdjustHead(1) {
			t.Fatalf("flags %#x: a packet the host cannot resize was resized", f)
		}
		if !p.SetLen(50) || !p.AdjustHead(0) || p.Len() != 50 {
			t.Fatalf("flags %#x: no-op resizes refused", f)
		}
	}
}
