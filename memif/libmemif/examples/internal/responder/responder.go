// Package responder answers ARP requests and ICMPv4 echo requests by
// rewriting frames byte by byte, without allocating. It is shared by the
// icmp-responder and multi-queue examples; every frame it reads is
// untrusted and is checked before a reply is built.
package responder

import (
	"encoding/binary"

	"github.com/memif-wasm/memif-wasm/sdk"
)

// Frame layout constants (Ethernet II, ARP for IPv4, IPv4, ICMPv4).
const (
	ethLen       = 14
	arpLen       = 28
	ethTypeIPv4  = 0x0800
	ethTypeARP   = 0x0806
	protoICMP    = 1
	icmpEcho     = 8
	icmpEchoRepl = 0
	replyTTL     = 64
	// MinFrame is the shortest frame that can get a reply (an ARP request).
	MinFrame = ethLen + arpLen
	// MinReply is the Ethernet minimum frame length without FCS: shorter
	// replies are padded with zeros to it, as gopacket and NICs do.
	MinReply = 60
)

var broadcast = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// Responder answers for one Ethernet and IPv4 address.
type Responder struct {
	MAC [6]byte
	IP  [4]byte
}

// Reply writes the reply to frame into dst and returns its length, or 0
// when frame gets no reply: not addressed to r (Ethernet destination
// other than r.MAC or broadcast, ARP target or IPv4 destination other
// than r.IP), malformed, a fragment, a bad checksum, or not a request.
// dst needs max(len(frame), MinReply) bytes (a shorter dst gets no reply)
// and may be frame itself.
//
// An ARP reply is 42 bytes padded with zeros to 60. An echo reply keeps
// the request's IPv4 header (options, TOS, ID, flags) with the addresses
// swapped and TTL 64, and its ICMP identifier, sequence and data; the
// request's Ethernet padding is replaced by zero padding up to 60 bytes.
// Both checksums are recomputed.
func (r *Responder) Reply(dst, frame []byte) int {
	if len(frame) < MinFrame || len(dst) < max(len(frame), MinReply) {
		return 0
	}
	if [6]byte(frame[0:6]) != r.MAC && [6]byte(frame[0:6]) != broadcast {
		return 0
	}
	switch binary.BigEndian.Uint16(frame[12:14]) {
	case ethTypeARP:
		return r.arp(dst, frame)
	case ethTypeIPv4:
		return r.icmp(dst, frame)
	}
	return 0
}

func (r *Responder) arp(dst, frame []byte) int {
	a := frame[ethLen : ethLen+arpLen]
	if binary.BigEndian.Uint16(a[0:2]) != 1 || binary.BigEndian.Uint16(a[2:4]) != ethTypeIPv4 ||
		a[4] != 6 || a[5] != 4 || binary.BigEndian.Uint16(a[6:8]) != 1 || [4]byte(a[24:28]) != r.IP {
		return 0
	}
	out := dst[:ethLen+arpLen]
	copy(out[0:6], a[8:14]) // to the requester's hardware address
	copy(out[6:12], r.MAC[:])
	binary.BigEndian.PutUint16(out[12:14], ethTypeARP)
	o := out[ethLen:]
	copy(o[0:6], a[0:6])
	binary.BigEndian.PutUint16(o[6:8], 2)
	// Copy the requester's addresses before writing ours: dst may be frame.
	var sha [6]byte
	var spa [4]byte
	copy(sha[:], a[8:14])
	copy(spa[:], a[14:18])
	copy(o[8:14], r.MAC[:])
	copy(o[14:18], r.IP[:])
	copy(o[18:24], sha[:])
	copy(o[24:28], spa[:])
	return pad(dst, len(out))
}

// pad zero-fills dst from n up to MinReply and returns the frame length.
func pad(dst []byte, n int) int {
	if n >= MinReply {
		return n
	}
	clear(dst[n:MinReply])
	return MinReply
}

func (r *Responder) icmp(dst, frame []byte) int {
	ip := frame[ethLen:]
	if len(ip) < 20 || ip[0]>>4 != 4 {
		return 0
	}
	ihl := int(ip[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(ip[2:4]))
	if ihl < 20 || total < ihl+8 || total > len(ip) {
		return 0
	}
	if binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 { // MF or a fragment offset
		return 0
	}
	if ip[9] != protoICMP || [4]byte(ip[16:20]) != r.IP || sdk.Checksum(ip[:ihl], 0) != 0 {
		return 0
	}
	icmp := ip[ihl:total]
	if icmp[0] != icmpEcho || icmp[1] != 0 || sdk.Checksum(icmp, 0) != 0 {
		return 0
	}
	n := ethLen + total
	out := dst[:n]
	var src [6]byte
	copy(src[:], frame[6:12])
	copy(out[ethLen:], ip[:total])
	copy(out[0:6], src[:])
	copy(out[6:12], r.MAC[:])
	binary.BigEndian.PutUint16(out[12:14], ethTypeIPv4)
	oip := out[ethLen:]
	copy(oip[16:20], oip[12:16]) // reply goes to the requester
	copy(oip[12:16], r.IP[:])
	oip[8] = replyTTL
	oip[10], oip[11] = 0, 0
	binary.BigEndian.PutUint16(oip[10:12], sdk.Checksum(oip[:ihl], 0))
	oicmp := oip[ihl:total]
	oicmp[0] = icmpEchoRepl
	oicmp[2], oicmp[3] = 0, 0
	binary.BigEndian.PutUint16(oicmp[2:4], sdk.Checksum(oicmp, 0))
	return pad(dst, n)
}
