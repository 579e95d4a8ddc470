package dataplane

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
)

// DecodeHeaders describes the headers at the start of an Ethernet frame,
// one line per layer, as a packet trace shows them: Ethernet and its VLAN
// tags, ARP, IPv4 and IPv6, then UDP, TCP, ICMP or ICMPv6. It reads only
// what b holds (a truncated header says so) and never fails: what it does
// not know it names by number.
func DecodeHeaders(b []byte) []string {
	var out []string
	if len(b) < 14 {
		return append(out, fmt.Sprintf("ethernet: truncated (%d bytes)", len(b)))
	}
	typ := binary.BigEndian.Uint16(b[12:14])
	out = append(out, fmt.Sprintf("ethernet %s -> %s type 0x%04x", mac(b[6:12]), mac(b[0:6]), typ))
	b = b[14:]
	for tags := 0; (typ == 0x8100 || typ == 0x88a8) && tags < 2; tags++ {
		if len(b) < 4 {
			return append(out, "vlan: truncated")
		}
		tci := binary.BigEndian.Uint16(b[0:2])
		typ = binary.BigEndian.Uint16(b[2:4])
		out = append(out, fmt.Sprintf("vlan %d priority %d type 0x%04x", tci&0xfff, tci>>13, typ))
		b = b[4:]
	}
	var proto byte
	switch typ {
	case 0x0800:
		if len(b) < 20 || b[0]>>4 != 4 {
			return append(out, "ipv4: truncated or not version 4")
		}
		ihl := int(b[0]&0xf) * 4
		src, _ := netip.AddrFromSlice(b[12:16])
		dst, _ := netip.AddrFromSlice(b[16:20])
		proto = b[9]
		frag := binary.BigEndian.Uint16(b[6:8])
		out = append(out, fmt.Sprintf("ipv4 %s -> %s proto %d ttl %d len %d id %d%s", src, dst, proto, b[8],
			binary.BigEndian.Uint16(b[2:4]), binary.BigEndian.Uint16(b[4:6]), fragment(frag)))
		if ihl < 20 || len(b) < ihl {
			return append(out, fmt.Sprintf("ipv4: header length %d beyond the bytes kept", ihl))
		}
		if frag&0x1fff != 0 {
			return out // a later fragment: no transport header
		}
		b = b[ihl:]
	case 0x86dd:
		if len(b) < 40 || b[0]>>4 != 6 {
			return append(out, "ipv6: truncated or not version 6")
		}
		src, _ := netip.AddrFromSlice(b[8:24])
		dst, _ := netip.AddrFromSlice(b[24:40])
		proto = b[6]
		out = append(out, fmt.Sprintf("ipv6 %s -> %s next %d hop limit %d payload %d", src, dst, proto, b[7], binary.BigEndian.Uint16(b[4:6])))
		b = b[40:]
	case 0x0806:
		if len(b) < 28 {
			return append(out, "arp: truncated")
		}
		op := binary.BigEndian.Uint16(b[6:8])
		spa, _ := netip.AddrFromSlice(b[14:18])
		tpa, _ := netip.AddrFromSlice(b[24:28])
		return append(out, fmt.Sprintf("arp op %d %s (%s) -> %s (%s)", op, spa, mac(b[8:14]), tpa, mac(b[18:24])))
	default:
		return out
	}
	switch proto {
	case 17:
		if len(b) < 8 {
			return append(out, "udp: truncated")
		}
		out = append(out, fmt.Sprintf("udp %d -> %d len %d", binary.BigEndian.Uint16(b[0:2]), binary.BigEndian.Uint16(b[2:4]), binary.BigEndian.Uint16(b[4:6])))
	case 6:
		if len(b) < 14 {
			return append(out, "tcp: truncated")
		}
		out = append(out, fmt.Sprintf("tcp %d -> %d seq %d flags %s", binary.BigEndian.Uint16(b[0:2]), binary.BigEndian.Uint16(b[2:4]),
			binary.BigEndian.Uint32(b[4:8]), tcpFlags(b[13])))
	case 1, 58:
		name := "icmp"
		if proto == 58 {
			name = "icmpv6"
		}
		if len(b) < 2 {
			return append(out, name+": truncated")
		}
		out = append(out, fmt.Sprintf("%s type %d code %d", name, b[0], b[1]))
	}
	return out
}

func mac(b []byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5])
}

func fragment(f uint16) string {
	var s string
	if f&0x4000 != 0 {
		s += " DF"
	}
	if f&0x2000 != 0 {
		s += " MF"
	}
	if off := f & 0x1fff; off != 0 {
		s += fmt.Sprintf(" frag offset %d", int(off)*8)
	}
	return s
}

func tcpFlags(f byte) string {
	var s strings.Builder
	for i, n := range []string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"} {
		if f&(1<<i) != 0 {
			if s.Len() > 0 {
				s.WriteByte('|')
			}
			s.WriteString(n)
		}
	}
	if s.Len() == 0 {
		return "none"
	}
	return s.String()
}
