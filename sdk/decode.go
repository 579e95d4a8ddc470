package sdk

// MaxVLANs is how many stacked VLAN tags Decode walks through.
const MaxVLANs = 2

// Headers is the result of Decode: views of every header it recognised and
// their offsets. The zero value is empty. Views alias the packet's bytes, so
// writes through them rewrite the packet.
type Headers struct {
	Eth       Ethernet
	VLANs     [MaxVLANs]VLAN
	NumVLANs  int
	EtherType uint16 // innermost ethertype, after the VLAN tags
	L3Off     int    // offset of the network header (or ARP), = 14 + 4*NumVLANs

	ARP  ARP  // non-nil for an Ethernet/IPv4 ARP packet
	IPv4 IPv4 // non-nil for IPv4 with a complete header
	IPv6 IPv6 // non-nil for IPv6 with a complete fixed header

	// Proto is the transport protocol: IPv4's protocol, or IPv6's last next
	// header after the extension headers Decode skips (hop-by-hop, routing,
	// fragment, destination options). 0 with IPv4 and IPv6 both nil.
	Proto    uint8
	L4Off    int  // offset of the transport header; 0 when there is none
	Fragment bool // not the first fragment: no transport header is present

	UDP  UDP  // non-nil when Proto is UDP and 8 bytes are present
	TCP  TCP  // non-nil when Proto is TCP and its whole header is present
	ICMP ICMP // non-nil when Proto is ICMPv4 or ICMPv6 and 8 bytes are present
}

// IPv6 extension headers Decode skips.
const (
	ipv6HopByHop = 0
	ipv6Routing  = 43
	ipv6Fragment = 44
	ipv6DestOpts = 60
	// maxIPv6Ext bounds the walk: a chain of tiny extension headers must not
	// cost the plugin more than a few steps per packet.
	maxIPv6Ext = 8
)

// Decode parses the packet's headers into h, reusing it, without allocating.
// It stops quietly at the first header it does not know or that is cut short,
// leaving the later views nil: callers check the views they need. It reports
// whether at least an Ethernet header was present.
//
// Decode is split into small functions so that each stays cheap to compile
// and easy to read; Go's wasm code routes every taken branch through its
// function's dispatch loop, and small functions keep those loops short.
func (h *Headers) Decode(pkt []byte) bool {
	*h = Headers{}
	if !h.decodeL2(pkt) {
		return false
	}
	var off int
	switch h.EtherType {
	case EtherTypeARP:
		h.ARP, _ = AsARP(pkt[h.L3Off:])
		return true
	case EtherTypeIPv4:
		off = h.decodeIPv4(pkt)
	case EtherTypeIPv6:
		off = h.decodeIPv6(pkt)
	}
	if off > 0 && off <= len(pkt) {
		h.decodeL4(pkt, off)
	}
	return true
}

// decodeL2 sets the Ethernet view, the VLAN tags and the L3 offset.
//
//go:noinline
func (h *Headers) decodeL2(pkt []byte) bool {
	eth, ok := AsEthernet(pkt)
	if !ok {
		return false
	}
	h.Eth = eth
	off := EthernetLen
	et := eth.EtherType()
	for (et == EtherTypeVLAN || et == EtherTypeQinQ) && h.NumVLANs < MaxVLANs && len(pkt)-off >= VLANLen {
		v := VLAN(pkt[off : off+VLANLen])
		h.VLANs[h.NumVLANs] = v
		h.NumVLANs++
		off += VLANLen
		et = v.EtherType()
	}
	h.EtherType, h.L3Off = et, off
	return true
}

// decodeIPv4 returns the transport offset, or 0 when there is no transport
// header to parse.
//
//go:noinline
func (h *Headers) decodeIPv4(pkt []byte) int {
	ip, ok := AsIPv4(pkt[h.L3Off:])
	if !ok {
		return 0
	}
	h.IPv4, h.Proto = ip, ip.Protocol()
	if ip.FragOffset() != 0 {
		h.Fragment = true
		return 0
	}
	return h.L3Off + ip.HeaderLen()
}

// decodeIPv6 returns the transport offset after the extension headers it
// skips, or 0.
//
//go:noinline
func (h *Headers) decodeIPv6(pkt []byte) int {
	ip, ok := AsIPv6(pkt[h.L3Off:])
	if !ok {
		return 0
	}
	h.IPv6 = ip
	off := h.L3Off + IPv6Len
	nh := ip.NextHeader()
	if isIPv6Ext(nh) {
		return h.skipIPv6Ext(pkt, off, nh)
	}
	h.Proto = nh
	return off
}

func isIPv6Ext(nh uint8) bool {
	return nh == ipv6HopByHop || nh == ipv6Routing || nh == ipv6Fragment || nh == ipv6DestOpts
}

//go:noinline
func (h *Headers) skipIPv6Ext(pkt []byte, off int, nh uint8) int {
	for range maxIPv6Ext {
		if !isIPv6Ext(nh) {
			break
		}
		if len(pkt)-off < 8 {
			h.Proto = nh
			return 0
		}
		ext := pkt[off:]
		if nh == ipv6Fragment {
			if be.Uint16(ext[2:])&0xfff8 != 0 {
				h.Proto, h.Fragment = ext[0], true
				return 0
			}
			nh, off = ext[0], off+8
			continue
		}
		nh, off = ext[0], off+8+int(ext[1])*8
		if off > len(pkt) {
			h.Proto = nh
			return 0
		}
	}
	h.Proto = nh
	return off
}

// decodeL4 sets the transport view for Proto at off.
//
//go:noinline
func (h *Headers) decodeL4(pkt []byte, off int) {
	l4 := pkt[off:]
	h.L4Off = off
	switch h.Proto {
	case ProtoUDP:
		h.UDP, _ = AsUDP(l4)
	case ProtoTCP:
		h.TCP, _ = AsTCP(l4)
	case ProtoICMPv4:
		if h.IPv4 != nil {
			h.ICMP, _ = AsICMP(l4)
		}
	case ProtoICMPv6:
		if h.IPv6 != nil {
			h.ICMP, _ = AsICMP(l4)
		}
	}
}

// Ports returns the transport ports of a UDP or TCP packet, and false for any
// other packet.
func (h *Headers) Ports() (src, dst uint16, ok bool) {
	switch {
	case h.UDP != nil:
		return h.UDP.SrcPort(), h.UDP.DstPort(), true
	case h.TCP != nil:
		return h.TCP.SrcPort(), h.TCP.DstPort(), true
	}
	return 0, 0, false
}

// L4 returns the transport segment of pkt, the packet Decode parsed: from the
// transport header to the end the IP header announces (Ethernet padding is not
// part of it), cut at the end of pkt. It is nil when there is no transport
// header or the IP length ends before it.
func (h *Headers) L4(pkt []byte) []byte {
	if h.L4Off == 0 || h.L4Off > len(pkt) {
		return nil
	}
	end := len(pkt)
	switch {
	case h.IPv4 != nil:
		end = min(end, h.L3Off+int(h.IPv4.TotalLen()))
	case h.IPv6 != nil && h.IPv6.PayloadLen() != 0:
		end = min(end, h.L3Off+IPv6Len+int(h.IPv6.PayloadLen()))
	}
	if end < h.L4Off {
		return nil
	}
	return pkt[h.L4Off:end]
}
