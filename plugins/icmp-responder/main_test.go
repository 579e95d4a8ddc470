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
	ours   = sdktest.MAC("02:00:00:00:00:01")
	peer   = sdktest.MAC("02:00:00:00:00:99")
	bcast  = sdktest.MAC("ff:ff:ff:ff:ff:ff")
	config = `{"mac":"02:00:00:00:00:01","ips":["10.0.0.1","fd00::1"]}`
)

func newResponder(t *testing.T, cfg string) *responder {
	t.Helper()
	r := new(responder)
	if err := r.Init([]byte(cfg)); err != nil {
		t.Fatalf("Init: %v", err)
	}
	return r
}

func eth(src, dst []byte, et layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: et}
}

func arp(op uint16, sha []byte, spa string, tha []byte, tpa string) *layers.ARP {
	return &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: op, SourceHwAddress: sha, SourceProtAddress: sdktest.IP(spa), DstHwAddress: tha, DstProtAddress: sdktest.IP(tpa)}
}

func run(t *testing.T, r *responder, frame []byte) *sdk.Packet {
	t.Helper()
	b := sdktest.Burst(1, frame)
	if err := r.Process(b); err != nil {
		t.Fatal(err)
	}
	return b.Packet(0)
}

func expect(t *testing.T, p *sdk.Packet, v sdk.Verdict, want []byte) {
	t.Helper()
	if p.Verdict() != v {
		t.Fatalf("verdict %v, want %v", p.Verdict(), v)
	}
	if want != nil && !bytes.Equal(p.Data(), want) {
		t.Fatalf("reply\n got % x\nwant % x", p.Data(), want)
	}
}

func TestARP(t *testing.T) {
	r := newResponder(t, config)
	req := sdktest.Frame(t, eth(peer, bcast, layers.EthernetTypeARP), arp(layers.ARPRequest, peer, "10.0.0.9", make([]byte, 6), "10.0.0.1"))
	want := sdktest.Frame(t, eth(ours, peer, layers.EthernetTypeARP), arp(layers.ARPReply, ours, "10.0.0.1", peer, "10.0.0.9"))
	expect(t, run(t, r, req), sdk.TX, want)

	other := sdktest.Frame(t, eth(peer, bcast, layers.EthernetTypeARP), arp(layers.ARPRequest, peer, "10.0.0.9", make([]byte, 6), "10.0.0.2"))
	expect(t, run(t, r, other), sdk.Pass, other)
	reply := sdktest.Frame(t, eth(peer, ours, layers.EthernetTypeARP), arp(layers.ARPReply, peer, "10.0.0.9", ours, "10.0.0.1"))
	expect(t, run(t, r, reply), sdk.Pass, reply)
}

func echo4(t *testing.T, src, dst []byte, s, d string, ttl uint8, typ uint8, vlan bool) []byte {
	ls := []gopacket.SerializableLayer{eth(src, dst, layers.EthernetTypeIPv4)}
	if vlan {
		ls = []gopacket.SerializableLayer{eth(src, dst, layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 10, Type: layers.EthernetTypeIPv4}}
	}
	ls = append(ls, &layers.IPv4{Version: 4, IHL: 5, TTL: ttl, Id: 0x1234, Flags: layers.IPv4DontFragment, Protocol: layers.IPProtocolICMPv4,
		SrcIP: sdktest.IP(s), DstIP: sdktest.IP(d)},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0), Id: 0x4242, Seq: 7}, gopacket.Payload("0123456789abcdefghijklmnopqrstuvwxyz"))
	return sdktest.Frame(t, ls...)
}

func TestEcho4(t *testing.T) {
	r := newResponder(t, config)
	for _, vlan := range []bool{false, true} {
		req := echo4(t, peer, ours, "10.0.0.9", "10.0.0.1", 3, layers.ICMPv4TypeEchoRequest, vlan)
		want := echo4(t, ours, peer, "10.0.0.1", "10.0.0.9", replyTTL, layers.ICMPv4TypeEchoReply, vlan)
		expect(t, run(t, r, req), sdk.TX, want)
	}
	notOurs := echo4(t, peer, ours, "10.0.0.9", "10.0.0.5", 3, layers.ICMPv4TypeEchoRequest, false)
	expect(t, run(t, r, notOurs), sdk.Pass, notOurs)
	bad := echo4(t, peer, ours, "10.0.0.9", "10.0.0.1", 3, layers.ICMPv4TypeEchoRequest, false)
	bad[len(bad)-1] ^= 1
	expect(t, run(t, r, bad), sdk.Pass, nil)
	if r.stats.BadChecksum != 1 || r.stats.Echo4 != 2 {
		t.Fatalf("stats %+v", r.stats)
	}
}

func echo6(t *testing.T, src, dst []byte, s, d string, hop uint8, typ uint8) []byte {
	return sdktest.Frame(t, eth(src, dst, layers.EthernetTypeIPv6),
		&layers.IPv6{Version: 6, HopLimit: hop, NextHeader: layers.IPProtocolICMPv6, SrcIP: sdktest.IP(s), DstIP: sdktest.IP(d)},
		&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, 0)}, &layers.ICMPv6Echo{Identifier: 99, SeqNumber: 3},
		gopacket.Payload("ping payload"))
}

func TestEcho6(t *testing.T) {
	r := newResponder(t, config)
	req := echo6(t, peer, ours, "fd00::9", "fd00::1", 5, layers.ICMPv6TypeEchoRequest)
	want := echo6(t, ours, peer, "fd00::1", "fd00::9", replyTTL, layers.ICMPv6TypeEchoReply)
	expect(t, run(t, r, req), sdk.TX, want)
	notOurs := echo6(t, peer, ours, "fd00::9", "fd00::2", 5, layers.ICMPv6TypeEchoRequest)
	expect(t, run(t, r, notOurs), sdk.Pass, notOurs)
	bad := echo6(t, peer, ours, "fd00::9", "fd00::1", 5, layers.ICMPv6TypeEchoRequest)
	bad[len(bad)-2] ^= 0x80
	expect(t, run(t, r, bad), sdk.Pass, nil)
}

func ns(t *testing.T, src, dstIP string, target string, hop uint8) []byte {
	return sdktest.Frame(t, eth(peer, sdktest.MAC("33:33:ff:00:00:01"), layers.EthernetTypeIPv6),
		&layers.IPv6{Version: 6, HopLimit: hop, NextHeader: layers.IPProtocolICMPv6, SrcIP: sdktest.IP(src), DstIP: sdktest.IP(dstIP)},
		&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborSolicitation, 0)},
		&layers.ICMPv6NeighborSolicitation{TargetAddress: sdktest.IP(target),
			Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: peer}}})
}

func na(t *testing.T, dstMAC []byte, dst string, flags uint8) []byte {
	return sdktest.Frame(t, eth(ours, dstMAC, layers.EthernetTypeIPv6),
		&layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: sdktest.IP("fd00::1"), DstIP: sdktest.IP(dst)},
		&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborAdvertisement, 0)},
		&layers.ICMPv6NeighborAdvertisement{Flags: flags, TargetAddress: sdktest.IP("fd00::1"),
			Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptTargetAddress, Data: ours}}})
}

func TestNeighborSolicitation(t *testing.T) {
	r := newResponder(t, config)
	expect(t, run(t, r, ns(t, "fd00::9", "ff02::1:ff00:1", "fd00::1", 255)), sdk.TX, na(t, peer, "fd00::9", 0x60))
	// Duplicate address detection: from ::, answered to all-nodes.
	dad := ns(t, "::", "ff02::1:ff00:1", "fd00::1", 255)
	expect(t, run(t, r, dad), sdk.TX, na(t, sdktest.MAC("33:33:00:00:00:01"), "ff02::1", 0x20))
	// Not our target, or a hop limit that shows it was routed: ignored.
	for _, f := range [][]byte{ns(t, "fd00::9", "ff02::1:ff00:2", "fd00::2", 255), ns(t, "fd00::9", "fd00::1", "fd00::1", 64)} {
		expect(t, run(t, r, f), sdk.Pass, f)
	}
	if r.stats.NA != 2 {
		t.Fatalf("stats %+v", r.stats)
	}
}

func TestOthersAndTruncated(t *testing.T) {
	r := newResponder(t, `{"mac":"02:00:00:00:00:01","ips":["10.0.0.1"],"others":"drop"}`)
	b := sdktest.Burst(1, []byte{1, 2}, echo6(t, peer, ours, "fd00::9", "fd00::1", 5, layers.ICMPv6TypeEchoRequest))
	req := echo4(t, peer, ours, "10.0.0.9", "10.0.0.1", 3, layers.ICMPv4TypeEchoRequest, false)
	buf := append(make([]byte, 0, len(req)), req...)
	b.Add(buf)
	// A request the host cut at snaplen must not be answered: the reply would
	// go out short.
	b.Add(append([]byte(nil), req...)).SetFlags(abi.FlagTruncated)
	r.Process(b)
	if v := sdktest.Verdicts(b); v[0] != sdk.Drop || v[1] != sdk.Drop || v[2] != sdk.TX || v[3] != sdk.Drop {
		t.Fatalf("verdicts %v", v)
	}
	out, err := r.Control([]byte(`{"op":"stats"}`), nil)
	var s Stats
	if err != nil || json.Unmarshal(out, &s) != nil || s.Others != 3 || s.Echo4 != 1 {
		t.Fatalf("stats %s %v", out, err)
	}
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []string{``, `{}`, `{"mac":"zz","ips":["10.0.0.1"]}`, `{"mac":"01:00:5e:00:00:01","ips":["10.0.0.1"]}`,
		`{"mac":"02:00:00:00:00:01"}`, `{"mac":"02:00:00:00:00:01","ips":["10.0.0.300"]}`, `{"mac":"02:00:00:00:00:01","ips":["ff02::1"]}`,
		`{"mac":"02:00:00:00:00:01","ips":["0.0.0.0"]}`, `{"mac":"02:00:00:00:00:01","ips":["10.0.0.1"],"others":"tx"}`} {
		if err := new(responder).Init([]byte(cfg)); err == nil {
			t.Errorf("Init(%s) accepted", cfg)
		}
	}
}

func TestProcessAllocations(t *testing.T) {
	r := newResponder(t, config)
	req := echo4(t, peer, ours, "10.0.0.9", "10.0.0.1", 3, layers.ICMPv4TypeEchoRequest, false)
	b := sdktest.Burst(1, req)
	if n := testing.AllocsPerRun(100, func() { r.Process(b) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func FuzzConfig(f *testing.F) {
	f.Add([]byte(config))
	f.Add([]byte(`{"mac":"02-00-00-00-00-01","ips":["::ffff:10.0.0.1"],"others":"drop"}`))
	f.Fuzz(func(t *testing.T, cfg []byte) {
		r := new(responder)
		if r.Init(cfg) != nil {
			return
		}
		if len(r.v4)+len(r.v6) == 0 || r.mac.IsMulticast() {
			t.Fatalf("accepted a config that answers for nothing or from a multicast MAC: %s", cfg)
		}
	})
}
