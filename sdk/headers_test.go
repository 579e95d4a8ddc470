package sdk_test

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/memif-wasm/memif-wasm/sdk"
	"github.com/memif-wasm/memif-wasm/sdk/sdktest"
)

var (
	macA = sdktest.MAC("02:00:00:00:00:0a")
	macB = sdktest.MAC("02:00:00:00:00:0b")
)

func eth(t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: t}
}

func TestDecodeIPv4TCP(t *testing.T) {
	ip := &layers.IPv4{Version: 4, IHL: 6, TTL: 64, Protocol: layers.IPProtocolTCP,
		SrcIP: sdktest.IP("10.0.0.1"), DstIP: sdktest.IP("192.168.1.2"),
		Options: []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}}}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 443, Seq: 7, Ack: 9, SYN: true, ACK: true, Window: 1000,
		Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{5, 0xb4}}}}
	frame := sdktest.Frame(t, eth(layers.EthernetTypeIPv4), ip, tcp, gopacket.Payload("hello"))

	var h sdk.Headers
	if !h.Decode(frame) {
		t.Fatal("Decode = false")
	}
	if h.EtherType != sdk.EtherTypeIPv4 || h.L3Off != 14 || h.IPv4 == nil || h.IPv4.HeaderLen() != 24 {
		t.Fatalf("L3: ethertype %#x off %d ipv4 %x", h.EtherType, h.L3Off, h.IPv4)
	}
	if h.Eth.Src() != sdk.MAC(macA) || h.Eth.Dst() != sdk.MAC(macB) {
		t.Fatalf("MACs %x %x", h.Eth.Src(), h.Eth.Dst())
	}
	if h.IPv4.SrcAddr() != netip.MustParseAddr("10.0.0.1") || h.IPv4.DstAddr() != netip.MustParseAddr("192.168.1.2") {
		t.Fatalf("addrs %v %v", h.IPv4.SrcAddr(), h.IPv4.DstAddr())
	}
	if !h.IPv4.ChecksumValid() || h.IPv4.TTL() != 64 || int(h.IPv4.TotalLen()) != len(frame)-14 {
		t.Fatalf("ipv4 fields: csum ok %v ttl %d total %d", h.IPv4.ChecksumValid(), h.IPv4.TTL(), h.IPv4.TotalLen())
	}
	if h.Proto != sdk.ProtoTCP || h.L4Off != 38 || h.TCP == nil || h.TCP.HeaderLen() != 24 {
		t.Fatalf("L4: proto %d off %d tcp %x", h.Proto, h.L4Off, h.TCP)
	}
	if h.TCP.SrcPort() != 40000 || h.TCP.DstPort() != 443 || h.TCP.Seq() != 7 || h.TCP.Ack() != 9 ||
		h.TCP.Flags() != sdk.TCPFlagSYN|sdk.TCPFlagACK || h.TCP.Window() != 1000 {
		t.Fatalf("tcp fields %x", h.TCP)
	}
	seg := h.L4(frame)
	if got := sdk.TCP4Checksum(h.IPv4.Src(), h.IPv4.Dst(), seg); got != h.TCP.Checksum() {
		t.Fatalf("TCP4Checksum = %#04x, gopacket wrote %#04x", got, h.TCP.Checksum())
	}
	if s, d, ok := h.Ports(); !ok || s != 40000 || d != 443 {
		t.Fatalf("Ports = %d %d %v", s, d, ok)
	}
}

func TestDecodeQinQIPv6UDP(t *testing.T) {
	outer := &layers.Dot1Q{VLANIdentifier: 100, Priority: 5, Type: layers.EthernetTypeDot1Q}
	inner := &layers.Dot1Q{VLANIdentifier: 200, Type: layers.EthernetTypeIPv6}
	ip := &layers.IPv6{Version: 6, HopLimit: 9, NextHeader: layers.IPProtocolIPv6HopByHop,
		SrcIP: sdktest.IP("fd00::1"), DstIP: sdktest.IP("fd00::2")}
	hbh := &layers.IPv6HopByHop{}
	hbh.NextHeader = layers.IPProtocolUDP
	hbh.Options = []*layers.IPv6HopByHopOption{{OptionType: 1, OptionLength: 4, OptionData: []byte{0, 0, 0, 0}}}
	udp := &layers.UDP{SrcPort: 53, DstPort: 5353}
	frame := sdktest.Frame(t, eth(layers.EthernetTypeQinQ), outer, inner, ip, hbh, udp, gopacket.Payload("dns!"))

	var h sdk.Headers
	h.Decode(frame)
	if h.NumVLANs != 2 || h.VLANs[0].VID() != 100 || h.VLANs[0].PCP() != 5 || h.VLANs[1].VID() != 200 {
		t.Fatalf("vlans %d %x %x", h.NumVLANs, h.VLANs[0], h.VLANs[1])
	}
	if h.EtherType != sdk.EtherTypeIPv6 || h.L3Off != 22 || h.IPv6 == nil || h.IPv6.HopLimit() != 9 {
		t.Fatalf("L3 %#x %d %x", h.EtherType, h.L3Off, h.IPv6)
	}
	if h.Proto != sdk.ProtoUDP || h.L4Off != 22+40+8 || h.UDP == nil || h.UDP.DstPort() != 5353 {
		t.Fatalf("L4 proto %d off %d udp %x", h.Proto, h.L4Off, h.UDP)
	}
	if got := sdk.UDP6Checksum(h.IPv6.Src(), h.IPv6.Dst(), h.L4(frame)); got != h.UDP.Checksum() {
		t.Fatalf("UDP6Checksum = %#04x, gopacket wrote %#04x", got, h.UDP.Checksum())
	}
}

func TestDecodeARP(t *testing.T) {
	arp := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6,
		ProtAddressSize: 4, Operation: layers.ARPRequest, SourceHwAddress: macA,
		SourceProtAddress: sdktest.IP("10.0.0.1"), DstHwAddress: make([]byte, 6), DstProtAddress: sdktest.IP("10.0.0.2")}
	frame := sdktest.Frame(t, eth(layers.EthernetTypeARP), arp)
	var h sdk.Headers
	h.Decode(frame)
	if h.ARP == nil || h.ARP.Op() != sdk.ARPRequest || h.ARP.SenderMAC() != sdk.MAC(macA) ||
		h.ARP.SenderIP() != [4]byte{10, 0, 0, 1} || h.ARP.TargetIP() != [4]byte{10, 0, 0, 2} {
		t.Fatalf("arp %x", h.ARP)
	}
	if h.IPv4 != nil || h.Proto != 0 || h.L4Off != 0 {
		t.Fatal("ARP decoded as IP")
	}
}

func TestDecodeICMP(t *testing.T) {
	icmp4 := sdktest.Frame(t, eth(layers.EthernetTypeIPv4),
		&layers.IPv4{Version: 4, IHL: 5, TTL: 1, Protocol: layers.IPProtocolICMPv4, SrcIP: sdktest.IP("1.2.3.4"), DstIP: sdktest.IP("5.6.7.8")},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 77, Seq: 3}, gopacket.Payload("ping"))
	var h sdk.Headers
	h.Decode(icmp4)
	if h.ICMP == nil || h.ICMP.Type() != sdk.ICMPv4EchoRequest || h.ICMP.ID() != 77 || h.ICMP.Seq() != 3 {
		t.Fatalf("icmpv4 %x", h.ICMP)
	}
	if got := sdk.ICMPv4Checksum(h.L4(icmp4)); got != h.ICMP.Checksum() {
		t.Fatalf("ICMPv4Checksum %#04x, want %#04x", got, h.ICMP.Checksum())
	}

	ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolICMPv6, SrcIP: sdktest.IP("fe80::1"), DstIP: sdktest.IP("fe80::2")}
	icmp6 := sdktest.Frame(t, eth(layers.EthernetTypeIPv6), ip6,
		&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}, &layers.ICMPv6Echo{Identifier: 5, SeqNumber: 6})
	h.Decode(icmp6)
	if h.ICMP == nil || h.ICMP.Type() != sdk.ICMPv6EchoRequest || h.ICMP.ID() != 5 || h.ICMP.Seq() != 6 {
		t.Fatalf("icmpv6 %x", h.ICMP)
	}
	if got := sdk.ICMPv6Checksum(h.IPv6.Src(), h.IPv6.Dst(), h.L4(icmp6)); got != h.ICMP.Checksum() {
		t.Fatalf("ICMPv6Checksum %#04x, want %#04x", got, h.ICMP.Checksum())
	}
	// Echo reply by rewriting the type alone keeps the checksum right.
	h.IPv6.SwapAddrs()
	h.ICMP.SetTypeIncremental(sdk.ICMPv6EchoReply)
	p := sdktest.Decode(t, icmp6)
	if l := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6); l.TypeCode.Type() != 129 {
		t.Fatalf("type %d", l.TypeCode.Type())
	}
	if got := sdk.ICMPv6Checksum(h.IPv6.Src(), h.IPv6.Dst(), h.L4(icmp6)); got != h.ICMP.Checksum() {
		t.Fatalf("after SetTypeIncremental the checksum is %#04x, a full sum says %#04x", h.ICMP.Checksum(), got)
	}
}

func TestDecodeFragments(t *testing.T) {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 1, Protocol: layers.IPProtocolUDP, FragOffset: 100,
		SrcIP: sdktest.IP("1.2.3.4"), DstIP: sdktest.IP("5.6.7.8")}
	frame := sdktest.Frame(t, eth(layers.EthernetTypeIPv4), ip, gopacket.Payload(make([]byte, 16)))
	var h sdk.Headers
	h.Decode(frame)
	if !h.Fragment || h.UDP != nil || h.L4Off != 0 || h.Proto != sdk.ProtoUDP {
		t.Fatalf("non-first v4 fragment: frag %v udp %x l4 %d", h.Fragment, h.UDP, h.L4Off)
	}
	if _, _, ok := h.Ports(); ok {
		t.Fatal("a non-first fragment has no ports")
	}

	ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolIPv6Fragment, SrcIP: sdktest.IP("fd00::1"), DstIP: sdktest.IP("fd00::2")}
	frag := &layers.IPv6Fragment{NextHeader: layers.IPProtocolUDP, FragmentOffset: 0, MoreFragments: true, Identification: 1}
	first := sdktest.Frame(t, eth(layers.EthernetTypeIPv6), ip6, frag, &layers.UDP{SrcPort: 1, DstPort: 2})
	h.Decode(first)
	if h.Fragment || h.UDP == nil || h.UDP.DstPort() != 2 {
		t.Fatalf("first v6 fragment: frag %v udp %x", h.Fragment, h.UDP)
	}
	frag.FragmentOffset = 10
	later := sdktest.Frame(t, eth(layers.EthernetTypeIPv6), ip6, frag, gopacket.Payload(make([]byte, 8)))
	h.Decode(later)
	if !h.Fragment || h.UDP != nil {
		t.Fatalf("later v6 fragment: frag %v udp %x", h.Fragment, h.UDP)
	}
}

// TestDecodeTruncated cuts a full TCP/IPv4 frame at every length: Decode must
// never read past the end and must expose only complete headers.
func TestDecodeTruncated(t *testing.T) {
	frame := sdktest.Frame(t, eth(layers.EthernetTypeIPv4),
		&layers.IPv4{Version: 4, IHL: 5, TTL: 1, Protocol: layers.IPProtocolTCP, SrcIP: sdktest.IP("1.2.3.4"), DstIP: sdktest.IP("5.6.7.8")},
		&layers.TCP{SrcPort: 1, DstPort: 2})
	var h sdk.Headers
	for n := range len(frame) {
		ok := h.Decode(frame[:n])
		if ok != (n >= 14) {
			t.Fatalf("len %d: Decode = %v", n, ok)
		}
		if (h.IPv4 != nil) != (n >= 34) || (h.TCP != nil) != (n >= 54) {
			t.Fatalf("len %d: ipv4 %v tcp %v", n, h.IPv4 != nil, h.TCP != nil)
		}
	}
}

func TestDecodeBadHeaders(t *testing.T) {
	tests := []struct {
		name  string
		frame []byte
		check func(*sdk.Headers) bool
	}{
		{"ipv4 version 6 in a v4 frame", append(ethHdr(0x0800), ipv4Hdr(0x65)...), func(h *sdk.Headers) bool { return h.IPv4 == nil }},
		{"ipv4 ihl below 5", append(ethHdr(0x0800), ipv4Hdr(0x44)...), func(h *sdk.Headers) bool { return h.IPv4 == nil }},
		{"ipv4 ihl past the end", append(ethHdr(0x0800), ipv4Hdr(0x4f)...), func(h *sdk.Headers) bool { return h.IPv4 == nil }},
		{"ipv6 version 4 in a v6 frame", append(ethHdr(0x86dd), make([]byte, 40)...), func(h *sdk.Headers) bool { return h.IPv6 == nil }},
		{"arp for another protocol", append(ethHdr(0x0806), 0, 1, 0x86, 0xdd, 6, 4, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), func(h *sdk.Headers) bool { return h.ARP == nil }},
		{"vlan tag cut short", append(ethHdr(0x8100), 0, 1), func(h *sdk.Headers) bool { return h.NumVLANs == 0 && h.EtherType == 0x8100 }},
		{"three vlan tags", append(ethHdr(0x8100), 0, 1, 0x81, 0, 0, 2, 0x81, 0, 0, 3, 0x08, 0), func(h *sdk.Headers) bool { return h.NumVLANs == 2 && h.EtherType == 0x8100 && h.IPv4 == nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h sdk.Headers
			h.Decode(tc.frame)
			if !tc.check(&h) {
				t.Fatalf("decoded %+v", h)
			}
		})
	}
}

func ethHdr(et uint16) []byte {
	return []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, byte(et >> 8), byte(et)}
}

func ipv4Hdr(verIHL byte) []byte {
	b := make([]byte, 20)
	b[0] = verIHL
	return b
}

func TestViewsWrite(t *testing.T) {
	frame := sdktest.Frame(t, eth(layers.EthernetTypeIPv4),
		&layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: sdktest.IP("10.1.1.1"), DstIP: sdktest.IP("10.2.2.2")},
		&layers.UDP{SrcPort: 41000, DstPort: 42000}, gopacket.Payload("x"))
	var h sdk.Headers
	h.Decode(frame)
	h.Eth.SwapAddrs()
	h.IPv4.SwapAddrs()
	if !h.IPv4.DecTTL() {
		t.Fatal("DecTTL")
	}
	h.UDP.SetSrcPort(42000)
	h.UDP.SetDstPort(41000)
	h.UDP.SetChecksum(sdk.UDP4Checksum(h.IPv4.Src(), h.IPv4.Dst(), h.L4(frame)))
	p := sdktest.Decode(t, frame)
	ip := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if !bytes.Equal(ip.SrcIP, sdktest.IP("10.2.2.2")) || ip.TTL != 63 {
		t.Fatalf("ip %v ttl %d", ip.SrcIP, ip.TTL)
	}
	if !h.IPv4.ChecksumValid() {
		t.Fatal("DecTTL left a wrong IPv4 checksum")
	}
	e := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if !bytes.Equal(e.SrcMAC, macB) || !bytes.Equal(e.DstMAC, macA) {
		t.Fatalf("eth %v %v", e.SrcMAC, e.DstMAC)
	}
	// Re-serialising with gopacket gives the checksum a stack would compute.
	want := sdktest.Frame(t, eth(layers.EthernetTypeIPv4),
		&layers.IPv4{Version: 4, IHL: 5, TTL: 63, Protocol: layers.IPProtocolUDP, SrcIP: sdktest.IP("10.2.2.2"), DstIP: sdktest.IP("10.1.1.1")},
		&layers.UDP{SrcPort: 42000, DstPort: 41000}, gopacket.Payload("x"))
	if !bytes.Equal(frame[14:], want[14:]) {
		t.Fatalf("rewritten\n got % x\nwant % x", frame[14:], want[14:])
	}
}

func TestDecodeAllocations(t *testing.T) {
	frame := sdktest.Frame(t, eth(layers.EthernetTypeIPv6),
		&layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: sdktest.IP("fd00::1"), DstIP: sdktest.IP("fd00::2")},
		&layers.TCP{SrcPort: 1, DstPort: 2})
	var h sdk.Headers
	if n := testing.AllocsPerRun(100, func() {
		h.Decode(frame)
		_ = h.IPv6.SrcAddr()
	}); n != 0 {
		t.Fatalf("Decode allocates %v times", n)
	}
}

func BenchmarkDecodeIPv4TCP(b *testing.B) {
	frame := sdktest.Frame(b, eth(layers.EthernetTypeIPv4),
		&layers.IPv4{Version: 4, IHL: 5, TTL: 1, Protocol: layers.IPProtocolTCP, SrcIP: sdktest.IP("1.2.3.4"), DstIP: sdktest.IP("5.6.7.8")},
		&layers.TCP{SrcPort: 1, DstPort: 2})
	var h sdk.Headers
	b.ReportAllocs()
	for b.Loop() {
		h.Decode(frame)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(append(ethHdr(0x0800), ipv4Hdr(0x45)...))
	f.Add(append(ethHdr(0x86dd), 0x60, 0, 0, 0, 0, 8, 0, 64))
	f.Add(append(ethHdr(0x8100), 0, 5, 0x86, 0xdd))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h sdk.Headers
		if !h.Decode(b) {
			return
		}
		// Every view lies inside the packet and the offsets agree with them.
		if h.L3Off > len(b) || h.L4Off > len(b) || (h.L4Off != 0 && h.L4Off < h.L3Off) {
			t.Fatalf("offsets l3 %d l4 %d len %d", h.L3Off, h.L4Off, len(b))
		}
		if h.UDP != nil && len(h.UDP) != sdk.UDPLen || h.TCP != nil && len(h.TCP) < sdk.TCPMinLen {
			t.Fatal("short L4 view")
		}
		if (h.UDP != nil || h.TCP != nil || h.ICMP != nil) && (h.Fragment || h.L4Off == 0) {
			t.Fatal("L4 view on a fragment or without an offset")
		}
		_, _, _ = h.Ports()
		_ = h.L4(b)
	})
}

func TestParseMAC(t *testing.T) {
	for _, s := range []string{"02:00:5e:10:00:0A", "02-00-5E-10-00-0a"} {
		m, err := sdk.ParseMAC(s)
		if err != nil || m != (sdk.MAC{2, 0, 0x5e, 0x10, 0, 10}) || m.String() != "02:00:5e:10:00:0a" {
			t.Errorf("ParseMAC(%q) = %v, %v", s, m, err)
		}
	}
	for _, s := range []string{"", "02:00:5e:10:00", "02:00:5e:10:00:0g", "02:00-5e:10:00:0a", "02.00.5e.10.00.0a", "02:00:5e:10:00:0a:"} {
		if _, err := sdk.ParseMAC(s); err == nil {
			t.Errorf("ParseMAC(%q) accepted", s)
		}
	}
}

func FuzzParseMAC(f *testing.F) {
	f.Add("02:00:5e:10:00:0a")
	f.Add("ff-ff-ff-ff-ff-ff")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := sdk.ParseMAC(s)
		if err != nil {
			return
		}
		// Whatever parses round-trips through String (lower case, colons).
		if back, err := sdk.ParseMAC(m.String()); err != nil || back != m {
			t.Fatalf("%q parsed to %v, which does not round-trip", s, m)
		}
	})
}
