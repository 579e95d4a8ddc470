package gen

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Frames decode as what they claim to be, with valid IPv4 and ICMP checksums, and the
// sink finds the header again.
func TestFrameDecodes(t *testing.T) {
	for _, proto := range []Proto{ProtoUDP, ProtoICMP} {
		for _, size := range []int{MinSize, 65, 128, 1500, 9000} {
			tmpl, err := newTemplate(proto, size, defaultAddresses)
			if err != nil {
				t.Fatal(err)
			}
			f := make([]byte, size)
			h := header{stream: 0xbeef, queue: 3, seq: 0x0102030405060708, stamp: 123456789}
			tmpl.write(f, 41, &h)

			pkt := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
			if el := pkt.ErrorLayer(); el != nil {
				t.Fatalf("%v/%d: decode: %v", proto, size, el.Error())
			}
			ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			if ip == nil || int(ip.Length) != size-ethLen {
				t.Fatalf("%v/%d: ipv4 layer %+v", proto, size, ip)
			}
			if ^fold(sum16(0, f[ethLen:ethLen+ipv4Len])) != 0 {
				t.Fatalf("%v/%d: bad IPv4 checksum", proto, size)
			}
			switch proto {
			case ProtoUDP:
				udp, _ := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
				if udp == nil || udp.SrcPort != udpSrcBase+41 || int(udp.Length) != size-ethLen-ipv4Len {
					t.Fatalf("%d: udp layer %+v", size, udp)
				}
			case ProtoICMP:
				icmp, _ := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
				if icmp == nil || icmp.TypeCode.Type() != layers.ICMPv4TypeEchoRequest || icmp.Id != 41 || icmp.Seq != 0x0708 {
					t.Fatalf("%d: icmp layer %+v", size, icmp)
				}
				if ^fold(sum16(0, f[ethLen+ipv4Len:])) != 0 {
					t.Fatalf("%d: bad ICMP checksum", size)
				}
			}
			got, ok := parseFrame(f)
			if !ok || got != h {
				t.Fatalf("%v/%d: parse = %+v %v, want %+v", proto, size, got, ok, h)
			}
		}
	}
}

// A reflector's rewrites (swapped MACs, echo reply, a pushed VLAN tag) keep the header.
func TestParseAfterRewrites(t *testing.T) {
	tmpl, _ := newTemplate(ProtoICMP, 100, defaultAddresses)
	h := header{stream: 7, queue: 1, seq: 99, stamp: 5}
	f := make([]byte, 100)
	tmpl.write(f, 0, &h)
	f[ethLen+ipv4Len] = icmpEchoRepl
	if got, ok := parseFrame(f); !ok || got != h {
		t.Fatalf("echo reply: %+v %v", got, ok)
	}
	tagged := append(append(append([]byte{}, f[:12]...), 0x81, 0x00, 0x00, 0x64), f[12:]...)
	if got, ok := parseFrame(tagged); !ok || got != h {
		t.Fatalf("vlan tagged: %+v %v", got, ok)
	}
}

// Frames that are not gen's are refused, each for its own reason.
func TestParseRefuses(t *testing.T) {
	tmpl, _ := newTemplate(ProtoUDP, 80, defaultAddresses)
	good := make([]byte, 80)
	tmpl.write(good, 0, &header{stream: 1})
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short", good[:MinSize-1]},
		{"truncated header", good[:hdrOffset+HeaderLen-1+0]},
		{"ipv6 ethertype", mod(func(b []byte) []byte { binary.BigEndian.PutUint16(b[12:], 0x86dd); return b })},
		{"ip version 6", mod(func(b []byte) []byte { b[ethLen] = 0x65; return b })},
		{"ihl below 5", mod(func(b []byte) []byte { b[ethLen] = 0x44; return b })},
		{"ihl beyond frame", mod(func(b []byte) []byte { b[ethLen] = 0x4f; return b[:MinSize] })},
		{"tcp", mod(func(b []byte) []byte { b[ethLen+9] = 6; return b })},
		{"icmp not echo", mod(func(b []byte) []byte { b[ethLen+9] = protoICMP; b[ethLen+ipv4Len] = 3; return b })},
		{"bad magic", mod(func(b []byte) []byte { b[hdrOffset] ^= 1; return b })},
		{"three vlan tags", append(append([]byte{}, good[:12]...), 0x81, 0, 0, 1, 0x81, 0, 0, 1, 0x81, 0, 0, 1, 0x08, 0x00)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if h, ok := parseFrame(tt.b); ok {
				t.Fatalf("parsed %+v", h)
			}
		})
	}
}

func TestTemplateErrors(t *testing.T) {
	if _, err := newTemplate(ProtoUDP, MinSize-1, defaultAddresses); err == nil {
		t.Fatal("frame below MinSize accepted")
	}
	if _, err := newTemplate(ProtoUDP, MaxSize+1, defaultAddresses); err == nil {
		t.Fatal("frame above MaxSize accepted")
	}
	if _, err := newTemplate(Proto(5), 64, defaultAddresses); err == nil {
		t.Fatal("unknown protocol accepted")
	}
	a := defaultAddresses
	a.SrcIP = netip.MustParseAddr("2001:db8::1")
	if _, err := newTemplate(ProtoUDP, 64, a); err == nil {
		t.Fatal("IPv6 source accepted")
	}
}

func TestParseProto(t *testing.T) {
	for s, want := range map[string]Proto{"udp": ProtoUDP, "": ProtoUDP, "icmp": ProtoICMP} {
		if p, err := ParseProto(s); err != nil || p != want {
			t.Errorf("ParseProto(%q) = %v, %v", s, p, err)
		}
	}
	if _, err := ParseProto("tcp"); err == nil {
		t.Error("ParseProto(tcp) succeeded")
	}
}

// FuzzParseFrame: no input makes the sink's parser panic or read out of bounds, and a
// header it accepts is really in the frame.
func FuzzParseFrame(f *testing.F) {
	for _, p := range []Proto{ProtoUDP, ProtoICMP} {
		tmpl, _ := newTemplate(p, 96, defaultAddresses)
		b := make([]byte, 96)
		tmpl.write(b, 2, &header{stream: 5, queue: 1, seq: 10, stamp: 20})
		f.Add(b)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, ok := parseFrame(b)
		if !ok {
			return
		}
		var enc [HeaderLen]byte
		h.put(enc[:])
		if !bytes.Contains(b, enc[:]) {
			t.Fatalf("parsed %+v, which is not in the frame", h)
		}
	})
}
