// Command icmp-responder answers, on behalf of configured addresses, ARP
// requests, ICMPv4 and ICMPv6 echo requests and IPv6 neighbour solicitations,
// by rewriting the request into the reply in place and sending it back (TX).
// Configuration (JSON, see plugins/README.md):
//
//	{"mac":"02:00:00:00:00:01","ips":["10.0.0.1","fd00::1"],"others":"pass"}
//
// The plugin avoids package net (net.ParseMAC): it would link WASI socket and
// file imports that the host refuses. "others" is the verdict for every packet it does not answer: "pass"
// (default) or "drop". Requests with a bad checksum are dropped, as a host
// stack would. VLAN tags are kept. {"op":"stats"} over control returns counts.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"

	"github.com/memif-wasm/memif-wasm/sdk"
)

// Config is the plugin's JSON configuration.
type Config struct {
	MAC    string   `json:"mac"`
	IPs    []string `json:"ips"`
	Others string   `json:"others"`
}

// Stats counts what the responder did.
type Stats struct {
	ARPReplies  uint64 `json:"arp_replies"`
	Echo4       uint64 `json:"echo4_replies"`
	Echo6       uint64 `json:"echo6_replies"`
	NA          uint64 `json:"neighbor_adverts"`
	BadChecksum uint64 `json:"bad_checksum"`
	Others      uint64 `json:"others"`
}

type responder struct {
	mac    sdk.MAC
	v4     [][4]byte
	v6     [][16]byte
	others sdk.Verdict
	stats  Stats
}

const replyTTL = 64

var allNodes = [16]byte{0xff, 0x02, 15: 1}

func (r *responder) Init(cfg []byte) error {
	var c Config
	if err := json.Unmarshal(cfg, &c); err != nil {
		return fmt.Errorf("icmp-responder config: %w", err)
	}
	hw, err := sdk.ParseMAC(c.MAC)
	if err != nil {
		return fmt.Errorf("icmp-responder config: %w", err)
	}
	if hw.IsMulticast() {
		return fmt.Errorf("icmp-responder config: mac %q is a multicast address", c.MAC)
	}
	if len(c.IPs) == 0 {
		return errors.New("icmp-responder config: ips is empty: nothing to answer for")
	}
	n := responder{mac: hw, others: sdk.Pass}
	for _, s := range c.IPs {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" || a.IsMulticast() || a.IsUnspecified() {
			return fmt.Errorf("icmp-responder config: ip %q is not a unicast address", s)
		}
		if a.Is4() || a.Is4In6() {
			n.v4 = append(n.v4, a.Unmap().As4())
		} else {
			n.v6 = append(n.v6, a.As16())
		}
	}
	switch c.Others {
	case "", "pass":
	case "drop":
		n.others = sdk.Drop
	default:
		return fmt.Errorf("icmp-responder config: others %q: want pass or drop", c.Others)
	}
	*r = n
	return nil
}

func (r *responder) Process(b *sdk.Burst) error {
	for i := range b.Len() {
		p := b.Packet(i)
		if !p.Truncated() && r.answer(p) {
			p.MarkModified()
			p.TX()
			continue
		}
		p.SetVerdict(r.others)
		r.stats.Others++
	}
	return nil
}

// answer rewrites p into the reply and reports true, or leaves it untouched and
// reports false.
func (r *responder) answer(p *sdk.Packet) bool {
	var h sdk.Headers // on the stack: no write barriers (see acl)
	pkt := p.Data()
	if !h.Decode(pkt) {
		return false
	}
	switch {
	case h.ARP != nil:
		return r.arp(&h)
	case h.ICMP != nil && h.IPv4 != nil:
		return r.echo4(&h, pkt)
	case h.ICMP != nil && h.IPv6 != nil && h.L4Off == h.L3Off+sdk.IPv6Len:
		switch h.ICMP.Type() {
		case sdk.ICMPv6EchoRequest:
			return r.echo6(&h, pkt)
		case sdk.ICMPv6NeighborSolicitation:
			return r.neighbor(&h, p)
		}
	}
	return false
}

func (r *responder) arp(h *sdk.Headers) bool {
	a := h.ARP
	if a.Op() != sdk.ARPRequest || !r.ours4(a.TargetIP()) {
		return false
	}
	ip, mac := a.TargetIP(), a.SenderMAC()
	a.SetOp(sdk.ARPReply)
	a.SetTargetMAC(mac)
	a.SetTargetIP(a.SenderIP())
	a.SetSenderMAC(r.mac)
	a.SetSenderIP(ip)
	h.Eth.SetDst(mac)
	h.Eth.SetSrc(r.mac)
	r.stats.ARPReplies++
	return true
}

func (r *responder) echo4(h *sdk.Headers, pkt []byte) bool {
	ip, icmp := h.IPv4, h.ICMP
	if icmp.Type() != sdk.ICMPv4EchoRequest || icmp.Code() != 0 || ip.IsFragment() || !r.ours4(ip.Dst()) {
		return false
	}
	msg := h.L4(pkt)
	if !ip.ChecksumValid() || len(msg) < sdk.ICMPLen || sdk.Checksum(msg, 0) != 0 {
		r.stats.BadChecksum++
		return false
	}
	// Swapping the addresses leaves every sum unchanged; the TTL and the type
	// are patched incrementally.
	ip.SwapAddrs()
	old := uint16(ip.TTL())<<8 | uint16(ip.Protocol())
	ip.SetTTL(replyTTL)
	ip.SetChecksum(sdk.ChecksumUpdate16(ip.Checksum(), old, uint16(replyTTL)<<8|uint16(ip.Protocol())))
	icmp.SetTypeIncremental(sdk.ICMPv4EchoReply)
	r.swapMACs(h)
	r.stats.Echo4++
	return true
}

func (r *responder) echo6(h *sdk.Headers, pkt []byte) bool {
	ip, icmp := h.IPv6, h.ICMP
	if icmp.Code() != 0 || !r.ours6(ip.Dst()) {
		return false
	}
	msg := h.L4(pkt)
	if sdk.Checksum(msg, sdk.PseudoSum6(ip.Src(), ip.Dst(), sdk.ProtoICMPv6, uint32(len(msg)))) != 0 {
		r.stats.BadChecksum++
		return false
	}
	ip.SwapAddrs()
	ip.SetHopLimit(replyTTL)
	icmp.SetTypeIncremental(sdk.ICMPv6EchoReply)
	r.swapMACs(h)
	r.stats.Echo6++
	return true
}

// Neighbour discovery layout (RFC 4861 §4.3, §4.4): after the 4-byte ICMPv6
// header, 4 bytes of reserved/flags, the 16-byte target, then options.
const (
	ndTargetOff = 8
	ndOptsOff   = 24
	naLen       = 32 // header, flags, target and one target link-layer option
	optTLLA     = 2
	naSolicited = 0x40
	naOverride  = 0x20
)

func (r *responder) neighbor(h *sdk.Headers, p *sdk.Packet) bool {
	ip := h.IPv6
	msg := h.L4(p.Data())
	if h.ICMP.Code() != 0 || ip.HopLimit() != 255 || len(msg) < ndOptsOff {
		return false
	}
	target := [16]byte(msg[ndTargetOff:ndOptsOff])
	if !r.ours6(target) {
		return false
	}
	if sdk.Checksum(msg, sdk.PseudoSum6(ip.Src(), ip.Dst(), sdk.ProtoICMPv6, uint32(len(msg)))) != 0 {
		r.stats.BadChecksum++
		return false
	}
	src := ip.Src()
	dad := src == [16]byte{}
	if !p.SetLen(h.L4Off + naLen) {
		return false
	}
	pkt := p.Data()
	msg = pkt[h.L4Off:]
	ethDst := h.Eth.Src()
	flags := byte(naSolicited | naOverride)
	if dad {
		// RFC 4861 §7.2.4: answer a duplicate address check to all-nodes, unsolicited.
		src, ethDst, flags = allNodes, sdk.MAC{0x33, 0x33, 0, 0, 0, 1}, naOverride
	}
	h.Eth.SetDst(ethDst)
	h.Eth.SetSrc(r.mac)
	ip.SetDst(src)
	ip.SetSrc(target)
	ip.SetPayloadLen(naLen)
	ip.SetHopLimit(255)
	msg[0], msg[1], msg[2], msg[3] = sdk.ICMPv6NeighborAdvert, 0, 0, 0
	msg[4], msg[5], msg[6], msg[7] = flags, 0, 0, 0
	copy(msg[ndTargetOff:], target[:])
	msg[ndOptsOff], msg[ndOptsOff+1] = optTLLA, 1
	copy(msg[ndOptsOff+2:naLen], r.mac[:])
	sdk.ICMP(msg).SetChecksum(sdk.ICMPv6Checksum(ip.Src(), ip.Dst(), msg[:naLen]))
	r.stats.NA++
	return true
}

func (r *responder) swapMACs(h *sdk.Headers) {
	h.Eth.SetDst(h.Eth.Src())
	h.Eth.SetSrc(r.mac)
}

func (r *responder) ours4(a [4]byte) bool {
	for _, o := range r.v4 {
		if o == a {
			return true
		}
	}
	return false
}

func (r *responder) ours6(a [16]byte) bool {
	for _, o := range r.v6 {
		if o == a {
			return true
		}
	}
	return false
}

func (r *responder) Control(req, reply []byte) ([]byte, error) {
	var c struct {
		Op string `json:"op"`
	}
	if err := json.Unmarshal(req, &c); err != nil {
		return nil, fmt.Errorf("control message: %w", err)
	}
	if c.Op != "stats" {
		return nil, fmt.Errorf("control op %q: want stats", c.Op)
	}
	out, err := json.Marshal(r.stats)
	return append(reply, out...), err
}

func init() { sdk.Register(new(responder)) }

func main() {}
