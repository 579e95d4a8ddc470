// Command vlan pushes, pops or rewrites the outer 802.1Q/802.1ad tag of every
// frame, as its JSON configuration says (see plugins/README.md):
//
//	{"action":"push","vid":100,"pcp":3,"tpid":"0x8100"}
//	{"action":"pop","match_vid":100}
//	{"action":"rewrite","match_vid":100,"vid":200,"pcp":5}
//
// match_vid 0 (or absent) matches any tag. Frames the action does not apply to
// (pop or rewrite of an untagged frame, a tag that does not match) are passed
// unchanged. Rewritten frames get the configured verdict, "pass" (default) or
// "tx". A push that finds neither headroom nor tailroom, and a push or pop
// of a frame the host truncated or linearised (which it cannot resize), drop
// the frame.
// {"op":"stats"} over control returns the counts per outcome.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/memif-wasm/memif-wasm/sdk"
)

// Config is the plugin's JSON configuration.
type Config struct {
	Action   string `json:"action"`    // push, pop or rewrite
	VID      uint16 `json:"vid"`       // push/rewrite: the new VLAN ID, 1..4094
	PCP      *uint8 `json:"pcp"`       // push/rewrite: priority 0..7; push default 0, rewrite keeps it
	TPID     string `json:"tpid"`      // push: "0x8100" (default) or "0x88a8"
	MatchVID uint16 `json:"match_vid"` // pop/rewrite: only this VID; 0 = any
	Verdict  string `json:"verdict"`   // pass (default) or tx
}

type action uint8

const (
	actPush action = iota + 1
	actPop
	actRewrite
)

type vlan struct {
	act      action
	vid      uint16
	pcp      int // -1 = keep
	tpid     uint16
	matchVID uint16
	verdict  sdk.Verdict
	stats    Stats
}

// Stats counts outcomes per packet.
type Stats struct {
	Pushed    uint64 `json:"pushed"`
	Popped    uint64 `json:"popped"`
	Rewritten uint64 `json:"rewritten"`
	Unchanged uint64 `json:"unchanged"`
	Dropped   uint64 `json:"dropped"` // no room to push, or a runt frame
}

func (v *vlan) Init(cfg []byte) error {
	var c Config
	if err := json.Unmarshal(cfg, &c); err != nil {
		return fmt.Errorf("vlan config: %w", err)
	}
	n := vlan{pcp: -1, tpid: sdk.EtherTypeVLAN, verdict: sdk.Pass}
	switch c.Action {
	case "push":
		n.act, n.pcp = actPush, 0
	case "pop":
		n.act = actPop
	case "rewrite":
		n.act = actRewrite
	default:
		return fmt.Errorf("vlan config: action %q: want push, pop or rewrite", c.Action)
	}
	if n.act != actPop && (c.VID == 0 || c.VID > 4094) {
		return fmt.Errorf("vlan config: vid %d: want 1..4094", c.VID)
	}
	if c.MatchVID > 4094 {
		return fmt.Errorf("vlan config: match_vid %d: want 0..4094", c.MatchVID)
	}
	if c.PCP != nil {
		if *c.PCP > 7 {
			return fmt.Errorf("vlan config: pcp %d: want 0..7", *c.PCP)
		}
		n.pcp = int(*c.PCP)
	}
	if c.TPID != "" {
		t, err := strconv.ParseUint(c.TPID, 0, 16)
		if err != nil || (uint16(t) != sdk.EtherTypeVLAN && uint16(t) != sdk.EtherTypeQinQ) {
			return fmt.Errorf("vlan config: tpid %q: want 0x8100 or 0x88a8", c.TPID)
		}
		n.tpid = uint16(t)
	}
	switch c.Verdict {
	case "", "pass":
	case "tx":
		n.verdict = sdk.TX
	default:
		return fmt.Errorf("vlan config: verdict %q: want pass or tx", c.Verdict)
	}
	n.vid, n.matchVID = c.VID, c.MatchVID
	*v = n
	return nil
}

func (v *vlan) Process(b *sdk.Burst) error {
	if v.act == 0 {
		return errors.New("vlan: not configured")
	}
	for i := range b.Len() {
		p := b.Packet(i)
		d := p.Data()
		if len(d) < sdk.EthernetLen {
			p.Drop()
			v.stats.Dropped++
			continue
		}
		et := uint16(d[12])<<8 | uint16(d[13])
		tagged := (et == sdk.EtherTypeVLAN || et == sdk.EtherTypeQinQ) && len(d) >= sdk.EthernetLen+sdk.VLANLen
		matches := tagged && (v.matchVID == 0 || sdk.VLAN(d[14:18]).VID() == v.matchVID)
		switch {
		case v.act == actPush:
			if !v.push(p) {
				p.Drop()
				v.stats.Dropped++
				continue
			}
			v.stats.Pushed++
		case v.act == actPop && matches:
			if !p.AdjustHead(sdk.VLANLen) {
				p.Drop() // a truncated or chained frame cannot lose its head
				v.stats.Dropped++
				continue
			}
			copy(d[4:16], d[0:12]) // the MACs move up over the tag
			v.stats.Popped++
		case v.act == actRewrite && matches:
			tag := sdk.VLAN(d[14:18])
			tag.SetVID(v.vid)
			if v.pcp >= 0 {
				tag.SetTCI(tag.TCI()&0x1fff | uint16(v.pcp)<<13)
			}
			p.MarkModified()
			v.stats.Rewritten++
		default:
			p.Pass()
			v.stats.Unchanged++
			continue
		}
		p.SetVerdict(v.verdict)
	}
	return nil
}

// push inserts the tag after the MACs: in the headroom when there is some (12
// bytes move), else at the cost of moving the rest of the frame back by 4.
func (v *vlan) push(p *sdk.Packet) bool {
	tci := uint16(v.pcp)<<13 | v.vid
	if p.AdjustHead(-sdk.VLANLen) {
		d := p.Data()
		copy(d[0:12], d[4:16])
		d[12], d[13] = byte(v.tpid>>8), byte(v.tpid)
		d[14], d[15] = byte(tci>>8), byte(tci)
		return true
	}
	if p.Truncated() || !p.SetLen(p.Len()+sdk.VLANLen) {
		return false // the tail is not all here, or there is no room for it
	}
	d := p.Data()
	copy(d[16:], d[12:len(d)-sdk.VLANLen])
	d[12], d[13] = byte(v.tpid>>8), byte(v.tpid)
	d[14], d[15] = byte(tci>>8), byte(tci)
	return true
}

func (v *vlan) Control(req, reply []byte) ([]byte, error) {
	var r struct {
		Op string `json:"op"`
	}
	if err := json.Unmarshal(req, &r); err != nil {
		return nil, fmt.Errorf("control message: %w", err)
	}
	if r.Op != "stats" {
		return nil, fmt.Errorf("control op %q: want stats", r.Op)
	}
	out, err := json.Marshal(v.stats)
	return append(reply, out...), err
}

func init() { sdk.Register(new(vlan)) }

func main() {}
