package sdk

import (
	"errors"
	"net/netip"
	"strconv"
)

// Ethertypes and IP protocol numbers the header views know.
const (
	EtherTypeIPv4 uint16 = 0x0800
	EtherTypeARP  uint16 = 0x0806
	EtherTypeVLAN uint16 = 0x8100 // IEEE 802.1Q
	EtherTypeQinQ uint16 = 0x88a8 // IEEE 802.1ad service tag
	EtherTypeIPv6 uint16 = 0x86dd

	ProtoICMPv4 uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoICMPv6 uint8 = 58
)

// Header lengths.
const (
	EthernetLen = 14
	VLANLen     = 4 // one 802.1Q tag: TCI and the inner ethertype
	ARPLen      = 28
	IPv4MinLen  = 20
	IPv6Len     = 40
	UDPLen      = 8
	TCPMinLen   = 20
	ICMPLen     = 8 // ICMPv4 and ICMPv6 echo: type, code, checksum, id, seq
)

var be bigEndian

// MAC is an Ethernet address.
type MAC [6]byte

// ParseMAC parses an Ethernet address written as six hex pairs separated by
// colons or hyphens ("02:00:5e:10:00:01"). It exists so plugins need not
// import package net, which links WASI imports the host refuses.
func ParseMAC(s string) (MAC, error) {
	var m MAC
	if len(s) != 17 {
		return m, errors.New("mac " + strconv.Quote(s) + ": want six hex pairs like 02:00:00:00:00:01")
	}
	for i := range 6 {
		if i > 0 && s[3*i-1] != s[2] || s[2] != ':' && s[2] != '-' {
			return m, errors.New("mac " + strconv.Quote(s) + ": pairs must be separated by ':' or '-' throughout")
		}
		hi, ok1 := unhex(s[3*i])
		lo, ok2 := unhex(s[3*i+1])
		if !ok1 || !ok2 {
			return m, errors.New("mac " + strconv.Quote(s) + ": " + strconv.Quote(s[3*i:3*i+2]) + " is not a hex byte")
		}
		m[i] = hi<<4 | lo
	}
	return m, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// String formats m as six colon-separated hex pairs.
func (m MAC) String() string {
	const digits = "0123456789abcdef"
	b := make([]byte, 0, 17)
	for i, x := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, digits[x>>4], digits[x&15])
	}
	return string(b)
}

// Ethernet is a view of an Ethernet II header: the first 14 bytes of a frame.
type Ethernet []byte

// AsEthernet returns b as an Ethernet view, or false when b is too short.
func AsEthernet(b []byte) (Ethernet, bool) {
	if len(b) < EthernetLen {
		return nil, false
	}
	return Ethernet(b[:EthernetLen]), true
}

func (e Ethernet) Dst() MAC              { return MAC(e[0:6]) }
func (e Ethernet) Src() MAC              { return MAC(e[6:12]) }
func (e Ethernet) EtherType() uint16     { return be.Uint16(e[12:]) }
func (e Ethernet) SetDst(m MAC)          { copy(e[0:6], m[:]) }
func (e Ethernet) SetSrc(m MAC)          { copy(e[6:12], m[:]) }
func (e Ethernet) SetEtherType(t uint16) { be.PutUint16(e[12:], t) }
func (e Ethernet) SwapAddrs()            { d := e.Dst(); copy(e[0:6], e[6:12]); copy(e[6:12], d[:]) }
func (m MAC) IsBroadcast() bool          { return m == MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} }
func (m MAC) IsMulticast() bool          { return m[0]&1 != 0 }

// VLAN is a view of one 802.1Q tag as it follows a TPID: the TCI (PCP, DEI, VID)
// and the ethertype of what comes next.
type VLAN []byte

// AsVLAN returns b as a VLAN view, or false when b is too short.
func AsVLAN(b []byte) (VLAN, bool) {
	if len(b) < VLANLen {
		return nil, false
	}
	return VLAN(b[:VLANLen]), true
}

func (v VLAN) TCI() uint16           { return be.Uint16(v[0:]) }
func (v VLAN) VID() uint16           { return v.TCI() & 0x0fff }
func (v VLAN) PCP() uint8            { return v[0] >> 5 }
func (v VLAN) EtherType() uint16     { return be.Uint16(v[2:]) }
func (v VLAN) SetTCI(tci uint16)     { be.PutUint16(v[0:], tci) }
func (v VLAN) SetVID(vid uint16)     { v.SetTCI(v.TCI()&0xf000 | vid&0x0fff) }
func (v VLAN) SetEtherType(t uint16) { be.PutUint16(v[2:], t) }

// ARP is a view of an ARP packet for IPv4 over Ethernet (28 bytes).
type ARP []byte

// ARP operations.
const (
	ARPRequest uint16 = 1
	ARPReply   uint16 = 2
)

// AsARP returns b as an ARP view, or false when b is too short or is not
// Ethernet/IPv4 ARP (hardware type 1, protocol 0x0800, lengths 6 and 4).
func AsARP(b []byte) (ARP, bool) {
	if len(b) < ARPLen || be.Uint16(b[0:]) != 1 || be.Uint16(b[2:]) != EtherTypeIPv4 || b[4] != 6 || b[5] != 4 {
		return nil, false
	}
	return ARP(b[:ARPLen]), true
}

func (a ARP) Op() uint16             { return be.Uint16(a[6:]) }
func (a ARP) SenderMAC() MAC         { return MAC(a[8:14]) }
func (a ARP) SenderIP() [4]byte      { return [4]byte(a[14:18]) }
func (a ARP) TargetMAC() MAC         { return MAC(a[18:24]) }
func (a ARP) TargetIP() [4]byte      { return [4]byte(a[24:28]) }
func (a ARP) SetOp(op uint16)        { be.PutUint16(a[6:], op) }
func (a ARP) SetSenderMAC(m MAC)     { copy(a[8:14], m[:]) }
func (a ARP) SetSenderIP(ip [4]byte) { copy(a[14:18], ip[:]) }
func (a ARP) SetTargetMAC(m MAC)     { copy(a[18:24], m[:]) }
func (a ARP) SetTargetIP(ip [4]byte) { copy(a[24:28], ip[:]) }

// IPv4 is a view of an IPv4 header including its options (IHL*4 bytes).
type IPv4 []byte

// AsIPv4 returns the IPv4 header at the start of b, or false when b is too short
// for the header its IHL announces, or the version or IHL is wrong.
func AsIPv4(b []byte) (IPv4, bool) {
	if len(b) < IPv4MinLen || b[0]>>4 != 4 {
		return nil, false
	}
	hl := int(b[0]&0x0f) * 4
	if hl < IPv4MinLen || len(b) < hl {
		return nil, false
	}
	return IPv4(b[:hl]), true
}

func (ip IPv4) HeaderLen() int       { return len(ip) }
func (ip IPv4) TOS() uint8           { return ip[1] }
func (ip IPv4) TotalLen() uint16     { return be.Uint16(ip[2:]) }
func (ip IPv4) ID() uint16           { return be.Uint16(ip[4:]) }
func (ip IPv4) FragOffset() uint16   { return be.Uint16(ip[6:]) & 0x1fff } // in 8-byte units
func (ip IPv4) MoreFragments() bool  { return ip[6]&0x20 != 0 }
func (ip IPv4) TTL() uint8           { return ip[8] }
func (ip IPv4) Protocol() uint8      { return ip[9] }
func (ip IPv4) Checksum() uint16     { return be.Uint16(ip[10:]) }
func (ip IPv4) Src() [4]byte         { return [4]byte(ip[12:16]) }
func (ip IPv4) Dst() [4]byte         { return [4]byte(ip[16:20]) }
func (ip IPv4) SrcAddr() netip.Addr  { return netip.AddrFrom4(ip.Src()) }
func (ip IPv4) DstAddr() netip.Addr  { return netip.AddrFrom4(ip.Dst()) }
func (ip IPv4) SetTotalLen(n uint16) { be.PutUint16(ip[2:], n) }
func (ip IPv4) SetChecksum(c uint16) { be.PutUint16(ip[10:], c) }
func (ip IPv4) SetSrc(a [4]byte)     { copy(ip[12:16], a[:]) }
func (ip IPv4) SetDst(a [4]byte)     { copy(ip[16:20], a[:]) }
func (ip IPv4) SetTTL(ttl uint8)     { ip[8] = ttl }
func (ip IPv4) SetProtocol(p uint8)  { ip[9] = p }
func (ip IPv4) SetTOS(tos uint8)     { ip[1] = tos }
func (ip IPv4) SetID(id uint16)      { be.PutUint16(ip[4:], id) }
func (ip IPv4) IsFragment() bool     { return ip.FragOffset() != 0 || ip.MoreFragments() }
func (ip IPv4) SwapAddrs()           { s := ip.Src(); copy(ip[12:16], ip[16:20]); copy(ip[16:20], s[:]) }

// ChecksumValid reports whether the header checksum verifies.
func (ip IPv4) ChecksumValid() bool { return Checksum(ip, 0) == 0 }

// UpdateChecksum recomputes the header checksum from scratch.
func (ip IPv4) UpdateChecksum() {
	ip.SetChecksum(0)
	ip.SetChecksum(Checksum(ip, 0))
}

// DecTTL decrements the TTL and patches the checksum incrementally (RFC 1624).
// It reports false, and changes nothing, when the TTL is already 0.
func (ip IPv4) DecTTL() bool {
	if ip[8] == 0 {
		return false
	}
	old := be.Uint16(ip[8:])
	ip[8]--
	ip.SetChecksum(ChecksumUpdate16(ip.Checksum(), old, be.Uint16(ip[8:])))
	return true
}

// IPv6 is a view of the fixed 40-byte IPv6 header.
type IPv6 []byte

// AsIPv6 returns the IPv6 header at the start of b, or false when b is too short
// or the version is not 6.
func AsIPv6(b []byte) (IPv6, bool) {
	if len(b) < IPv6Len || b[0]>>4 != 6 {
		return nil, false
	}
	return IPv6(b[:IPv6Len]), true
}

func (ip IPv6) TrafficClass() uint8    { return ip[0]<<4 | ip[1]>>4 }
func (ip IPv6) FlowLabel() uint32      { return be.Uint32(ip[0:]) & 0x000fffff }
func (ip IPv6) PayloadLen() uint16     { return be.Uint16(ip[4:]) }
func (ip IPv6) NextHeader() uint8      { return ip[6] }
func (ip IPv6) HopLimit() uint8        { return ip[7] }
func (ip IPv6) Src() [16]byte          { return [16]byte(ip[8:24]) }
func (ip IPv6) Dst() [16]byte          { return [16]byte(ip[24:40]) }
func (ip IPv6) SrcAddr() netip.Addr    { return netip.AddrFrom16(ip.Src()) }
func (ip IPv6) DstAddr() netip.Addr    { return netip.AddrFrom16(ip.Dst()) }
func (ip IPv6) SetPayloadLen(n uint16) { be.PutUint16(ip[4:], n) }
func (ip IPv6) SetNextHeader(p uint8)  { ip[6] = p }
func (ip IPv6) SetHopLimit(h uint8)    { ip[7] = h }
func (ip IPv6) SetSrc(a [16]byte)      { copy(ip[8:24], a[:]) }
func (ip IPv6) SetDst(a [16]byte)      { copy(ip[24:40], a[:]) }
func (ip IPv6) SwapAddrs()             { s := ip.Src(); copy(ip[8:24], ip[24:40]); copy(ip[24:40], s[:]) }

// UDP is a view of a UDP header.
type UDP []byte

// AsUDP returns the UDP header at the start of b, or false when b is too short.
func AsUDP(b []byte) (UDP, bool) {
	if len(b) < UDPLen {
		return nil, false
	}
	return UDP(b[:UDPLen]), true
}

func (u UDP) SrcPort() uint16      { return be.Uint16(u[0:]) }
func (u UDP) DstPort() uint16      { return be.Uint16(u[2:]) }
func (u UDP) Length() uint16       { return be.Uint16(u[4:]) }
func (u UDP) Checksum() uint16     { return be.Uint16(u[6:]) }
func (u UDP) SetSrcPort(p uint16)  { be.PutUint16(u[0:], p) }
func (u UDP) SetDstPort(p uint16)  { be.PutUint16(u[2:], p) }
func (u UDP) SetLength(n uint16)   { be.PutUint16(u[4:], n) }
func (u UDP) SetChecksum(c uint16) { be.PutUint16(u[6:], c) }

// TCP is a view of a TCP header including its options (data offset*4 bytes).
type TCP []byte

// TCP flags, in the low byte of Flags.
const (
	TCPFlagFIN uint8 = 1 << iota
	TCPFlagSYN
	TCPFlagRST
	TCPFlagPSH
	TCPFlagACK
	TCPFlagURG
	TCPFlagECE
	TCPFlagCWR
)

// AsTCP returns the TCP header at the start of b, or false when b is too short
// for the header its data offset announces or the data offset is below 5.
func AsTCP(b []byte) (TCP, bool) {
	if len(b) < TCPMinLen {
		return nil, false
	}
	hl := int(b[12]>>4) * 4
	if hl < TCPMinLen || len(b) < hl {
		return nil, false
	}
	return TCP(b[:hl]), true
}

func (t TCP) SrcPort() uint16      { return be.Uint16(t[0:]) }
func (t TCP) DstPort() uint16      { return be.Uint16(t[2:]) }
func (t TCP) Seq() uint32          { return be.Uint32(t[4:]) }
func (t TCP) Ack() uint32          { return be.Uint32(t[8:]) }
func (t TCP) HeaderLen() int       { return len(t) }
func (t TCP) Flags() uint8         { return t[13] }
func (t TCP) Window() uint16       { return be.Uint16(t[14:]) }
func (t TCP) Checksum() uint16     { return be.Uint16(t[16:]) }
func (t TCP) SetSrcPort(p uint16)  { be.PutUint16(t[0:], p) }
func (t TCP) SetDstPort(p uint16)  { be.PutUint16(t[2:], p) }
func (t TCP) SetChecksum(c uint16) { be.PutUint16(t[16:], c) }

// ICMP is a view of the first 8 bytes of an ICMPv4 or ICMPv6 message: type,
// code, checksum and, for echo messages, identifier and sequence number.
type ICMP []byte

// ICMPv4 and ICMPv6 are ICMP views of the respective protocol.
type (
	ICMPv4 = ICMP
	ICMPv6 = ICMP
)

// ICMP types the SDK's users answer.
const (
	ICMPv4EchoReply            uint8 = 0
	ICMPv4EchoRequest          uint8 = 8
	ICMPv6EchoRequest          uint8 = 128
	ICMPv6EchoReply            uint8 = 129
	ICMPv6RouterSolicitation   uint8 = 133
	ICMPv6NeighborSolicitation uint8 = 135
	ICMPv6NeighborAdvert       uint8 = 136
)

// AsICMP returns the ICMP header at the start of b, or false when b is too short.
func AsICMP(b []byte) (ICMP, bool) {
	if len(b) < ICMPLen {
		return nil, false
	}
	return ICMP(b[:ICMPLen]), true
}

func (c ICMP) Type() uint8          { return c[0] }
func (c ICMP) Code() uint8          { return c[1] }
func (c ICMP) Checksum() uint16     { return be.Uint16(c[2:]) }
func (c ICMP) ID() uint16           { return be.Uint16(c[4:]) }
func (c ICMP) Seq() uint16          { return be.Uint16(c[6:]) }
func (c ICMP) SetType(t uint8)      { c[0] = t }
func (c ICMP) SetCode(code uint8)   { c[1] = code }
func (c ICMP) SetChecksum(s uint16) { be.PutUint16(c[2:], s) }

// SetTypeIncremental sets the type and patches the checksum (RFC 1624), which
// is all an echo reply needs: the pseudo-header of ICMPv6 does not change when
// the addresses are swapped.
func (c ICMP) SetTypeIncremental(t uint8) {
	old := be.Uint16(c[0:])
	c[0] = t
	c.SetChecksum(ChecksumUpdate16(c.Checksum(), old, be.Uint16(c[0:])))
}
