package gen

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Frame layout. Every generated frame is Ethernet + IPv4 + an 8-byte L4 header (UDP, or
// an ICMP echo request for responders) followed by the gen header and a byte pattern.
// UDP and ICMP echo headers are both 8 bytes, so the gen header sits at the same offset
// in both, and a reflector that answers an echo request with the same payload (as
// icmp-responder does) hands it back intact.
const (
	ethLen    = 14
	ipv4Len   = 20
	l4Len     = 8
	hdrOffset = ethLen + ipv4Len + l4Len // 42: where the gen header starts in an untagged frame

	// HeaderLen is the size of the gen header carried in every frame.
	HeaderLen = 22
	// MinSize is the smallest frame gen sends: the headers and the gen header.
	MinSize = hdrOffset + HeaderLen
	// MaxSize is the largest frame gen sends: what an IPv4 total length can describe
	// plus the Ethernet header.
	MaxSize = ethLen + 65535

	magic        = 0x4d57 // "MW": the first two bytes of every gen header
	etherIPv4    = 0x0800
	etherVLAN    = 0x8100
	etherQinQ    = 0x88a8
	protoICMP    = 1
	protoUDP     = 17
	icmpEchoReq  = 8
	icmpEchoRepl = 0
	udpDstPort   = 9 // discard: a frame that leaks somewhere real is thrown away there
	udpSrcBase   = 1024
)

// Proto is the L4 protocol of generated frames.
type Proto uint8

const (
	// ProtoUDP sends UDP datagrams; flows differ in their source port. The default.
	ProtoUDP Proto = iota
	// ProtoICMP sends ICMP echo requests; flows differ in their identifier.
	ProtoICMP
)

func (p Proto) String() string {
	switch p {
	case ProtoUDP:
		return "udp"
	case ProtoICMP:
		return "icmp"
	}
	return fmt.Sprintf("Proto(%d)", uint8(p))
}

// ParseProto parses "udp" or "icmp".
func ParseProto(s string) (Proto, error) {
	switch s {
	case "udp", "":
		return ProtoUDP, nil
	case "icmp":
		return ProtoICMP, nil
	}
	return 0, fmt.Errorf("protocol %q: want udp or icmp", s)
}

// header is what gen writes at hdrOffset of each frame:
//
//	0  magic  u16   "MW"
//	2  stream u16   random per run: frames of an earlier run or another gen are foreign
//	4  seq    u64   per transmit queue, from 0
//	12 stamp  u64   nanoseconds since the run's epoch when the frame was queued
//	20 queue  u16   the transmit queue, so each queue is its own sequence
//
// Big-endian like the headers before it.
type header struct {
	stream uint16
	queue  uint16
	seq    uint64
	stamp  uint64
}

func (h *header) put(b []byte) {
	_ = b[HeaderLen-1]
	binary.BigEndian.PutUint16(b[0:], magic)
	binary.BigEndian.PutUint16(b[2:], h.stream)
	binary.BigEndian.PutUint64(b[4:], h.seq)
	binary.BigEndian.PutUint64(b[12:], h.stamp)
	binary.BigEndian.PutUint16(b[20:], h.queue)
}

// parseFrame finds the gen header in a received frame. It accepts up to two VLAN tags
// (a plugin may have pushed one), IPv4 with options, and UDP or ICMP echo request or
// reply. ok is false for anything else: those frames are counted as foreign.
func parseFrame(b []byte) (h header, ok bool) {
	if len(b) < MinSize {
		return h, false
	}
	off := 12
	for range 2 {
		t := binary.BigEndian.Uint16(b[off:])
		if t != etherVLAN && t != etherQinQ {
			break
		}
		off += 4
	}
	if off+2+ipv4Len > len(b) || binary.BigEndian.Uint16(b[off:]) != etherIPv4 {
		return h, false
	}
	ip := off + 2
	if b[ip]>>4 != 4 {
		return h, false
	}
	ihl := int(b[ip]&0x0f) * 4
	if ihl < ipv4Len {
		return h, false
	}
	l4 := ip + ihl
	switch b[ip+9] {
	case protoUDP:
	case protoICMP:
		if l4 >= len(b) || (b[l4] != icmpEchoReq && b[l4] != icmpEchoRepl) {
			return h, false
		}
	default:
		return h, false
	}
	p := l4 + l4Len
	if p+HeaderLen > len(b) || binary.BigEndian.Uint16(b[p:]) != magic {
		return h, false
	}
	h.stream = binary.BigEndian.Uint16(b[p+2:])
	h.seq = binary.BigEndian.Uint64(b[p+4:])
	h.stamp = binary.BigEndian.Uint64(b[p+12:])
	h.queue = binary.BigEndian.Uint16(b[p+20:])
	return h, true
}

// template is a frame of one size with the per-packet fields (flow, gen header and, for
// ICMP, the echo sequence) zero, and the checksum sums that stay constant.
type template struct {
	proto Proto
	frame []byte
	// icmpSum is the ones' complement sum of the ICMP message with its variable fields
	// zero: adding those fields' words and complementing gives the checksum, so a
	// packet's checksum costs a few additions instead of a pass over the payload.
	icmpSum uint32
}

// Addresses of generated frames. The defaults are locally administered MACs and the
// 198.18.0.0/15 benchmarking range (RFC 2544), which no real network routes.
type Addresses struct {
	SrcMAC, DstMAC [6]byte
	SrcIP, DstIP   netip.Addr
}

var defaultAddresses = Addresses{
	SrcMAC: [6]byte{0x02, 0, 0, 0, 0, 0x01},
	DstMAC: [6]byte{0x02, 0, 0, 0, 0, 0x02},
	SrcIP:  netip.AddrFrom4([4]byte{198, 18, 0, 1}),
	DstIP:  netip.AddrFrom4([4]byte{198, 19, 0, 1}),
}

func newTemplate(proto Proto, size int, a Addresses) (*template, error) {
	if size < MinSize || size > MaxSize {
		return nil, fmt.Errorf("frame size %d: want %d..%d bytes (Ethernet+IPv4+L4 headers take %d, the gen header %d)",
			size, MinSize, MaxSize, hdrOffset, HeaderLen)
	}
	if !a.SrcIP.Is4() || !a.DstIP.Is4() {
		return nil, fmt.Errorf("addresses %v -> %v: want IPv4", a.SrcIP, a.DstIP)
	}
	f := make([]byte, size)
	copy(f[0:], a.DstMAC[:])
	copy(f[6:], a.SrcMAC[:])
	binary.BigEndian.PutUint16(f[12:], etherIPv4)
	ip := f[ethLen:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(size-ethLen))
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // don't fragment
	ip[8] = 64
	src, dst := a.SrcIP.As4(), a.DstIP.As4()
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	l4 := f[ethLen+ipv4Len:]
	t := &template{proto: proto, frame: f}
	for i := hdrOffset + HeaderLen; i < size; i++ {
		f[i] = byte(i)
	}
	switch proto {
	case ProtoUDP:
		ip[9] = protoUDP
		binary.BigEndian.PutUint16(l4[2:], udpDstPort)
		binary.BigEndian.PutUint16(l4[4:], uint16(size-ethLen-ipv4Len))
		// UDP checksum 0: none, which IPv4 allows, so nothing changes per packet.
	case ProtoICMP:
		ip[9] = protoICMP
		l4[0] = icmpEchoReq
		t.icmpSum = sum16(0, l4)
	default:
		return nil, fmt.Errorf("protocol %v: want udp or icmp", proto)
	}
	binary.BigEndian.PutUint16(ip[10:], ^fold(sum16(0, ip[:ipv4Len])))
	return t, nil
}

// write fills dst (len(dst) == len(t.frame)) with the frame of flow and h.
func (t *template) write(dst []byte, flow uint16, h *header) {
	copy(dst, t.frame)
	h.put(dst[hdrOffset:])
	l4 := dst[ethLen+ipv4Len:]
	switch t.proto {
	case ProtoUDP:
		binary.BigEndian.PutUint16(l4[0:], udpSrcBase+flow)
	case ProtoICMP:
		binary.BigEndian.PutUint16(l4[4:], flow)
		binary.BigEndian.PutUint16(l4[6:], uint16(h.seq))
		s := t.icmpSum + uint32(flow) + uint32(uint16(h.seq))
		s = sum16(s, dst[hdrOffset:hdrOffset+HeaderLen])
		binary.BigEndian.PutUint16(l4[2:], ^fold(s))
	}
}

// sum16 adds b as big-endian 16-bit words to s (a trailing odd byte is padded with 0).
func sum16(s uint32, b []byte) uint32 {
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return fold32(s)
}

// fold32 keeps a running sum from overflowing: the carries are added back.
func fold32(s uint32) uint32 {
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return s
}

func fold(s uint32) uint16 { return uint16(fold32(s)) }
