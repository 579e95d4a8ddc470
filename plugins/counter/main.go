// Command counter counts packets and bytes per ethertype and per IP protocol
// and passes every packet on. The counts are read and reset through control
// messages (see plugins/README.md):
//
//	{"op":"get"}    reply: {"packets":..,"bytes":..,"ethertypes":{"0x0800":..},...}
//	{"op":"reset"}  reply: the counts before the reset
//
// An empty message is "get". The counts survive a reload (mw_state_save/load).
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/memif-wasm/memif-wasm/sdk"
)

// etherSlots bounds the per-ethertype table: a flood of random ethertypes fills
// it and the rest is counted as "other", instead of growing memory per packet.
const etherSlots = 64

type counter struct {
	packets, bytes uint64
	vlanTagged     uint64
	etherOther     uint64 // ethertypes that did not fit the table
	nonEthernet    uint64 // frames shorter than an Ethernet header
	ether          [etherSlots]struct {
		typ   uint16
		used  bool
		count uint64
	}
	proto [256]uint64
}

func (c *counter) Process(b *sdk.Burst) error {
	var h sdk.Headers // on the stack: no write barriers (see acl)
	for i := range b.Len() {
		p := b.Packet(i)
		p.Pass()
		c.packets++
		c.bytes += uint64(p.Len())
		if !h.Decode(p.Data()) {
			c.nonEthernet++
			continue
		}
		if h.NumVLANs > 0 {
			c.vlanTagged++
		}
		c.countEtherType(h.EtherType)
		if h.IPv4 != nil || h.IPv6 != nil {
			c.proto[h.Proto]++
		}
	}
	return nil
}

func (c *counter) countEtherType(t uint16) {
	// Linear probing from a multiplicative hash; the table never shrinks.
	s := int(uint32(t)*0x9e3779b1>>26) % etherSlots
	for range etherSlots {
		e := &c.ether[s]
		if e.used && e.typ == t {
			e.count++
			return
		}
		if !e.used {
			e.used, e.typ, e.count = true, t, 1
			return
		}
		s = (s + 1) % etherSlots
	}
	c.etherOther++
}

// Counts is the control reply.
type Counts struct {
	Packets     uint64            `json:"packets"`
	Bytes       uint64            `json:"bytes"`
	VLANTagged  uint64            `json:"vlan_tagged"`
	NonEthernet uint64            `json:"non_ethernet"`
	EtherTypes  map[string]uint64 `json:"ethertypes"`   // "0x0800" -> packets; "other" for overflow
	IPProtocols map[string]uint64 `json:"ip_protocols"` // "6" -> packets
}

func (c *counter) counts() Counts {
	r := Counts{Packets: c.packets, Bytes: c.bytes, VLANTagged: c.vlanTagged, NonEthernet: c.nonEthernet,
		EtherTypes: map[string]uint64{}, IPProtocols: map[string]uint64{}}
	for _, e := range c.ether {
		if e.used {
			r.EtherTypes[fmt.Sprintf("0x%04x", e.typ)] = e.count
		}
	}
	if c.etherOther > 0 {
		r.EtherTypes["other"] = c.etherOther
	}
	for p, n := range c.proto {
		if n > 0 {
			r.IPProtocols[strconv.Itoa(p)] = n
		}
	}
	return r
}

type request struct {
	Op string `json:"op"`
}

func (c *counter) Control(req, reply []byte) ([]byte, error) {
	r := request{Op: "get"}
	if len(req) > 0 {
		if err := json.Unmarshal(req, &r); err != nil {
			return nil, fmt.Errorf("control message: %w", err)
		}
	}
	out, err := json.Marshal(c.counts())
	if err != nil {
		return nil, err
	}
	switch r.Op {
	case "get":
	case "reset":
		*c = counter{}
	default:
		return nil, fmt.Errorf("control op %q: want get or reset", r.Op)
	}
	return append(reply, out...), nil
}

// State format, little-endian: "CNT1", packets, bytes, vlan tagged, ether
// other, non-ethernet (u64 each), the 256 protocol counts (u64), then n (u16)
// ethertype entries of type (u16) and count (u64).
var stateMagic = []byte("CNT1")

const stateFixed = 4 + 5*8 + 256*8 + 2

func (c *counter) SaveState(dst []byte) ([]byte, error) {
	le := binary.LittleEndian
	dst = append(dst, stateMagic...)
	for _, v := range []uint64{c.packets, c.bytes, c.vlanTagged, c.etherOther, c.nonEthernet} {
		dst = le.AppendUint64(dst, v)
	}
	for _, v := range c.proto {
		dst = le.AppendUint64(dst, v)
	}
	n := 0
	for _, e := range c.ether {
		if e.used {
			n++
		}
	}
	dst = le.AppendUint16(dst, uint16(n))
	for _, e := range c.ether {
		if e.used {
			dst = le.AppendUint16(dst, e.typ)
			dst = le.AppendUint64(dst, e.count)
		}
	}
	return dst, nil
}

var errState = errors.New("counter state: not a CNT1 state of the right length")

func (c *counter) LoadState(st []byte) error {
	le := binary.LittleEndian
	if len(st) == 0 {
		return nil
	}
	if len(st) < stateFixed || string(st[:4]) != string(stateMagic) {
		return errState
	}
	n := int(le.Uint16(st[stateFixed-2:]))
	if n > etherSlots || len(st) != stateFixed+n*10 {
		return errState
	}
	var fresh counter
	v := st[4:]
	for _, f := range []*uint64{&fresh.packets, &fresh.bytes, &fresh.vlanTagged, &fresh.etherOther, &fresh.nonEthernet} {
		*f, v = le.Uint64(v), v[8:]
	}
	for i := range fresh.proto {
		fresh.proto[i], v = le.Uint64(v), v[8:]
	}
	v = v[2:]
	for range n {
		t, cnt := le.Uint16(v), le.Uint64(v[2:])
		v = v[10:]
		fresh.countEtherType(t) // places it; then set the real count
		for i := range fresh.ether {
			if fresh.ether[i].used && fresh.ether[i].typ == t {
				fresh.ether[i].count = cnt
			}
		}
	}
	*c = fresh
	return nil
}

func init() { sdk.Register(new(counter)) }

func main() {}
