package main

import (
	"bytes"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/memif-wasm/memif-wasm/sdk"
	"github.com/memif-wasm/memif-wasm/sdk/sdktest"
)

func TestSwapsAndReflects(t *testing.T) {
	a, z := sdktest.MAC("02:00:00:00:00:0a"), sdktest.MAC("02:00:00:00:00:0b")
	frame := sdktest.Frame(t, &layers.Ethernet{SrcMAC: a, DstMAC: z, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, IHL: 5, TTL: 9, Protocol: layers.IPProtocolUDP, SrcIP: sdktest.IP("1.1.1.1"), DstIP: sdktest.IP("2.2.2.2")},
		&layers.UDP{SrcPort: 40000, DstPort: 40001}, gopacket.Payload("data"))
	b := sdktest.Burst(1, frame, []byte{1, 2, 3})
	process(b)
	p := b.Packet(0)
	if p.Verdict() != sdk.TX {
		t.Fatalf("verdict %v", p.Verdict())
	}
	got := p.Data()
	if !bytes.Equal(got[0:6], a) || !bytes.Equal(got[6:12], z) || !bytes.Equal(got[12:], frame[12:]) {
		t.Fatalf("reflected\n % x\nfrom\n % x", got, frame)
	}
	if b.Packet(1).Verdict() != sdk.Drop {
		t.Fatal("runt frame not dropped")
	}
}

func BenchmarkMacswap256(b *testing.B) {
	frames := make([][]byte, 256)
	for i := range frames {
		frames[i] = make([]byte, 64)
	}
	burst := sdktest.Burst(1, frames...)
	b.ReportAllocs()
	for b.Loop() {
		process(burst)
	}
}
