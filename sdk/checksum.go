package sdk

// Checksum returns the Internet checksum (RFC 1071) of b, starting from the
// partial sum initial (for example a pseudo-header sum, or 0). A buffer that
// includes a correct checksum field sums to 0.
func Checksum(b []byte, initial uint32) uint16 {
	return ^Fold(Sum(b, initial))
}

// Sum adds b to the partial ones'-complement sum s, as 16-bit big-endian words
// (an odd last byte is padded with zero), and returns the unfolded sum.
func Sum(b []byte, s uint32) uint32 {
	acc := uint64(s)
	for len(b) >= 8 {
		acc += uint64(be.Uint32(b)) + uint64(be.Uint32(b[4:]))
		b = b[8:]
	}
	if len(b) >= 4 {
		acc += uint64(be.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		acc += uint64(be.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	acc = acc&0xffffffff + acc>>32
	acc = acc&0xffffffff + acc>>32
	return uint32(acc&0xffff + acc>>16)
}

// Fold folds a partial sum into 16 bits (without complementing it).
func Fold(s uint32) uint16 {
	s = s&0xffff + s>>16
	s = s&0xffff + s>>16
	return uint16(s)
}

// PseudoSum4 returns the partial sum of the IPv4 pseudo-header of a transport
// segment of length bytes.
func PseudoSum4(src, dst [4]byte, proto uint8, length uint16) uint32 {
	return Sum(src[:], 0) + Sum(dst[:], 0) + uint32(proto) + uint32(length)
}

// PseudoSum6 returns the partial sum of the IPv6 pseudo-header (RFC 8200 §8.1)
// of an upper-layer packet of length bytes.
func PseudoSum6(src, dst [16]byte, proto uint8, length uint32) uint32 {
	return Sum(src[:], 0) + Sum(dst[:], 0) + length>>16 + length&0xffff + uint32(proto)
}

// ChecksumUpdate16 returns checksum c patched for a 16-bit field that changed
// from old to new, by RFC 1624's equation 3: HC' = ~(~HC + ~m + m'). Unlike
// the older RFC 1141 form it never yields 0xffff's complement ambiguity.
func ChecksumUpdate16(c, old, new uint16) uint16 {
	s := uint32(^c) + uint32(^old) + uint32(new)
	return ^Fold(s)
}

// ChecksumUpdate32 is ChecksumUpdate16 for a 32-bit field (an IPv4 address).
func ChecksumUpdate32(c uint16, old, new uint32) uint16 {
	s := uint32(^c) + uint32(^uint16(old>>16)) + uint32(^uint16(old)) + new>>16 + new&0xffff
	return ^Fold(s)
}

// ChecksumUpdateBytes is ChecksumUpdate16 for a field of even length that
// changed from old to new (an IPv6 address, a MAC inside a checksummed area).
// old and new must have the same, even, length.
func ChecksumUpdateBytes(c uint16, old, new []byte) uint16 {
	s := uint32(^c)
	for i := 0; i+1 < len(old) && i+1 < len(new); i += 2 {
		s += uint32(^be.Uint16(old[i:])) + uint32(be.Uint16(new[i:]))
		s = s&0xffff + s>>16
	}
	return ^Fold(s)
}

// UDP4Checksum returns the checksum of the UDP datagram seg (header and
// payload, with its checksum field zero or not: it is skipped) sent from src to
// dst over IPv4. A result of 0 is sent as 0xffff (RFC 768).
func UDP4Checksum(src, dst [4]byte, seg []byte) uint16 {
	return l4Checksum(PseudoSum4(src, dst, ProtoUDP, uint16(len(seg))), seg, 6, true)
}

// UDP6Checksum is UDP4Checksum over IPv6, where the checksum is mandatory.
func UDP6Checksum(src, dst [16]byte, seg []byte) uint16 {
	return l4Checksum(PseudoSum6(src, dst, ProtoUDP, uint32(len(seg))), seg, 6, true)
}

// TCP4Checksum returns the checksum of the TCP segment seg over IPv4, skipping
// seg's own checksum field.
func TCP4Checksum(src, dst [4]byte, seg []byte) uint16 {
	return l4Checksum(PseudoSum4(src, dst, ProtoTCP, uint16(len(seg))), seg, 16, false)
}

// TCP6Checksum is TCP4Checksum over IPv6.
func TCP6Checksum(src, dst [16]byte, seg []byte) uint16 {
	return l4Checksum(PseudoSum6(src, dst, ProtoTCP, uint32(len(seg))), seg, 16, false)
}

// ICMPv4Checksum returns the checksum of the ICMPv4 message msg, skipping its
// own checksum field. ICMPv4 has no pseudo-header.
func ICMPv4Checksum(msg []byte) uint16 { return l4Checksum(0, msg, 2, false) }

// ICMPv6Checksum returns the checksum of the ICMPv6 message msg from src to dst,
// skipping its own checksum field.
func ICMPv6Checksum(src, dst [16]byte, msg []byte) uint16 {
	return l4Checksum(PseudoSum6(src, dst, ProtoICMPv6, uint32(len(msg))), msg, 2, false)
}

// l4Checksum sums seg except the 2-byte field at csumOff.
func l4Checksum(pseudo uint32, seg []byte, csumOff int, udp bool) uint16 {
	if len(seg) < csumOff+2 {
		return ^Fold(Sum(seg, pseudo))
	}
	s := Sum(seg[:csumOff], pseudo)
	s = Sum(seg[csumOff+2:], uint32(Fold(s)))
	// The part after the field starts at an even offset, so summing it
	// separately keeps the byte alignment of 16-bit words.
	c := ^Fold(s)
	if udp && c == 0 {
		return 0xffff
	}
	return c
}
