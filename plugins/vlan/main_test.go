package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/sdk"
	"github.com/memif-wasm/memif-wasm/sdk/sdktest"
)

var (
	macA = sdktest.MAC("02:00:00:00:00:0a")
	macB = sdktest.MAC("02:00:00:00:00:0b")
)

func ipUDP() []gopacket.SerializableLayer {
	return []gopacket.SerializableLayer{
		&layers.IPv4{Version: 4, IHL: 5, TTL: 9, Protocol: layers.IPProtocolUDP, SrcIP: sdktest.IP("1.1.1.1"), DstIP: sdktest.IP("2.2.2.2")},
		&layers.UDP{SrcPort: 40000, DstPort: 40001}, gopacket.Payload("a payload long enough that no frame needs ethernet padding"),
	}
}

func untagged(t testing.TB) []byte {
	return sdktest.Frame(t, append([]gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}}, ipUDP()...)...)
}

func tagged(t testing.TB, tpid layers.EthernetType, vid uint16, pcp uint8) []byte {
	return sdktest.Frame(t, append([]gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: tpid},
		&layers.Dot1Q{VLANIdentifier: vid, Priority: pcp, Type: layers.EthernetTypeIPv4}}, ipUDP()...)...)
}

func configured(t *testing.T, cfg string) *vlan {
	t.Helper()
	v := new(vlan)
	if err := v.Init([]byte(cfg)); err != nil {
		t.Fatalf("Init(%s): %v", cfg, err)
	}
	return v
}

func TestPush(t *testing.T) {
	v := configured(t, `{"action":"push","vid":100,"pcp":3}`)
	b := sdktest.Burst(1, untagged(t))
	// The same frame without headroom: the push must move the tail instead.
	noRoom := untagged(t)
	b.Add(append(make([]byte, 0, len(noRoom)+4), noRoom...))
	// And one with no room at all.
	f := untagged(t)
	b.Add(f[:len(f):len(f)])
	v.Process(b)
	want := tagged(t, layers.EthernetTypeDot1Q, 100, 3)
	for i := range 2 {
		p := b.Packet(i)
		if p.Verdict() != sdk.Pass || !bytes.Equal(p.Data(), want) {
			t.Fatalf("packet %d (%v):\n got % x\nwant % x", i, p.Verdict(), p.Data(), want)
		}
	}
	if b.Packet(2).Verdict() != sdk.Drop || v.stats.Dropped != 1 || v.stats.Pushed != 2 {
		t.Fatalf("no-room push: %v, stats %+v", b.Packet(2).Verdict(), v.stats)
	}
	sdktest.Decode(t, b.Packet(0).Data())
}

func TestPushQinQ(t *testing.T) {
	v := configured(t, `{"action":"push","vid":7,"tpid":"0x88a8","verdict":"tx"}`)
	b := sdktest.Burst(1, tagged(t, layers.EthernetTypeDot1Q, 100, 0))
	v.Process(b)
	want := sdktest.Frame(t, append([]gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeQinQ},
		&layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv4}}, ipUDP()...)...)
	if p := b.Packet(0); p.Verdict() != sdk.TX || !bytes.Equal(p.Data(), want) {
		t.Fatalf("got % x\nwant % x", p.Data(), want)
	}
}

func TestPop(t *testing.T) {
	v := configured(t, `{"action":"pop","match_vid":100}`)
	b := sdktest.Burst(1, tagged(t, layers.EthernetTypeDot1Q, 100, 2), tagged(t, layers.EthernetTypeDot1Q, 101, 0), untagged(t))
	v.Process(b)
	if p := b.Packet(0); p.Verdict() != sdk.Pass || !bytes.Equal(p.Data(), untagged(t)) {
		t.Fatalf("popped % x", p.Data())
	}
	if !bytes.Equal(b.Packet(1).Data(), tagged(t, layers.EthernetTypeDot1Q, 101, 0)) || !bytes.Equal(b.Packet(2).Data(), untagged(t)) {
		t.Fatal("frames the pop does not match changed")
	}
	if v.stats.Popped != 1 || v.stats.Unchanged != 2 {
		t.Fatalf("stats %+v", v.stats)
	}
}

func TestRewrite(t *testing.T) {
	v := configured(t, `{"action":"rewrite","vid":200,"pcp":5}`)
	b := sdktest.Burst(1, tagged(t, layers.EthernetTypeQinQ, 100, 1), untagged(t))
	v.Process(b)
	if p := b.Packet(0); !bytes.Equal(p.Data(), tagged(t, layers.EthernetTypeQinQ, 200, 5)) {
		t.Fatalf("rewritten % x", p.Data())
	}
	keep := configured(t, `{"action":"rewrite","vid":300}`)
	b = sdktest.Burst(1, tagged(t, layers.EthernetTypeDot1Q, 100, 6))
	keep.Process(b)
	if !bytes.Equal(b.Packet(0).Data(), tagged(t, layers.EthernetTypeDot1Q, 300, 6)) {
		t.Fatal("rewrite without pcp changed the priority")
	}
	out, err := v.Control([]byte(`{"op":"stats"}`), nil)
	var s Stats
	if err != nil || json.Unmarshal(out, &s) != nil || s.Rewritten != 1 || s.Unchanged != 1 {
		t.Fatalf("stats %s %v", out, err)
	}
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []string{``, `{}`, `{"action":"flip"}`, `{"action":"push"}`, `{"action":"push","vid":4095}`,
		`{"action":"push","vid":1,"pcp":8}`, `{"action":"push","vid":1,"tpid":"0x0800"}`, `{"action":"pop","match_vid":5000}`,
		`{"action":"pop","verdict":"redirect"}`, `{"action":"push","vid":-1}`} {
		if err := new(vlan).Init([]byte(cfg)); err == nil {
			t.Errorf("Init(%s) accepted", cfg)
		}
	}
	if err := new(vlan).Process(sdktest.Burst(1)); err == nil {
		t.Error("Process without config succeeded")
	}
}

func TestTruncatedFramesAreNotResized(t *testing.T) {
	for _, cfg := range []string{`{"action":"pop"}`, `{"action":"push","vid":5}`} {
		v := configured(t, cfg)
		f := tagged(t, layers.EthernetTypeDot1Q, 100, 0)
		b := sdktest.Burst(1, f)
		b.Packet(0).SetFlags(abi.FlagTruncated)
		v.Process(b)
		if p := b.Packet(0); p.Verdict() != sdk.Drop || !bytes.Equal(p.Data(), f) {
			t.Fatalf("%s on a truncated frame: %v % x", cfg, p.Verdict(), p.Data())
		}
	}
}

func TestRunt(t *testing.T) {
	v := configured(t, `{"action":"pop"}`)
	b := sdktest.Burst(1, []byte{1, 2, 3}, append(make([]byte, 12), 0x81, 0, 0))
	v.Process(b)
	if b.Packet(0).Verdict() != sdk.Drop || b.Packet(1).Verdict() != sdk.Pass {
		t.Fatalf("verdicts %v", sdktest.Verdicts(b))
	}
}

func TestProcessAllocations(t *testing.T) {
	v := configured(t, `{"action":"rewrite","vid":200}`)
	b := sdktest.Burst(1, tagged(t, layers.EthernetTypeDot1Q, 100, 0))
	if n := testing.AllocsPerRun(100, func() { v.Process(b) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func FuzzConfig(f *testing.F) {
	f.Add([]byte(`{"action":"push","vid":100,"pcp":3,"tpid":"0x88a8","verdict":"tx"}`))
	f.Add([]byte(`{"action":"rewrite","match_vid":5,"vid":6}`))
	frames := [][]byte{untagged(f), tagged(f, layers.EthernetTypeDot1Q, 5, 1), {1, 2, 3}}
	f.Fuzz(func(t *testing.T, cfg []byte) {
		v := new(vlan)
		if v.Init(cfg) != nil {
			return
		}
		b := sdktest.Burst(1, frames...)
		v.Process(b)
		for i, vd := range sdktest.Verdicts(b) {
			if vd == sdk.Aborted {
				t.Fatalf("packet %d left without a verdict", i)
			}
		}
	})
}
