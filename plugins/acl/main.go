// Command acl filters IPv4 and IPv6 packets by 5-tuple rules: source and
// destination prefixes, protocol, and source and destination port ranges. The
// first matching rule decides (allow = PASS, deny = DROP); packets no rule
// matches get the default action; non-IP packets get the non_ip action.
// Lookup does not scan the rules: see classifier.go.
//
// Configuration (JSON; plugins/README.md has the full format):
//
//	{"default":"deny","non_ip":"allow","rules":[
//	  {"id":1,"action":"allow","proto":"tcp","src":"10.0.0.0/8","dport":"80"},
//	  {"id":2,"action":"allow","proto":"udp","dst":"fd00::/8","dport":"1000-2000"}]}
//
// Control messages change the rules between bursts:
//
//	{"op":"add","rule":{...},"index":0}   insert (index: position; default last)
//	{"op":"delete","id":1}
//	{"op":"replace","rules":[...],"default":"allow","non_ip":"deny"}
//	{"op":"list"}                        the configuration with per-rule hits
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/memif-wasm/memif-wasm/sdk"
)

// MaxRules bounds the rule set. The classifier's memory grows with the
// square of the rule count (intervals times bitset words): 4096 rules cost at
// most a few MiB per dimension.
const MaxRules = 4096

// Config is the JSON configuration, and the reply to {"op":"list"}.
type Config struct {
	Default     string `json:"default"` // allow or deny (default deny)
	NonIP       string `json:"non_ip"`  // allow (default) or deny
	Rules       []Rule `json:"rules"`
	DefaultHits uint64 `json:"default_hits,omitempty"` // list only
	NonIPHits   uint64 `json:"non_ip_hits,omitempty"`  // list only
}

// Rule is one rule. Absent fields match anything.
type Rule struct {
	ID     uint32 `json:"id,omitempty"` // unique; assigned when 0
	Action string `json:"action"`       // allow or deny
	Proto  flex   `json:"proto,omitempty"`
	Src    string `json:"src,omitempty"`   // prefix or address
	Dst    string `json:"dst,omitempty"`   // prefix or address
	SPort  flex   `json:"sport,omitempty"` // "N" or "N-M"; needs tcp, udp or any proto
	DPort  flex   `json:"dport,omitempty"`
	Hits   uint64 `json:"hits,omitempty"` // list only
}

// flex is a JSON string or number, kept as a string.
type flex string

func (f *flex) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flex(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a string or a number, got %s", b)
	}
	*f = flex(n)
	return nil
}

// rule is a Rule compiled to ranges.
type rule struct {
	spec               Rule
	allow              bool
	v4, v6             bool
	src4, dst4         span
	src6, dst6         span
	sport, dport, prot span
	needPorts          bool
}

type acl struct {
	rules        []rule
	hits         []uint64
	defaultAllow bool
	nonIPAllow   bool
	c4, c6       *classifier
	defaultHits  uint64
	nonIPHits    uint64
	configured   bool
}

var (
	full32  = span{key{}, key{lo: 0xffffffff}}
	full128 = span{key{}, key{^uint64(0), ^uint64(0)}}
	full16  = span{key{}, key{lo: 0xffff}}
	full8   = span{key{}, key{lo: 0xff}}
)

func (a *acl) Init(cfg []byte) error {
	var c Config
	if err := json.Unmarshal(cfg, &c); err != nil {
		return fmt.Errorf("acl config: %w", err)
	}
	n := acl{}
	if err := n.setActions(c.Default, c.NonIP, "deny", "allow"); err != nil {
		return err
	}
	if err := n.setRules(c.Rules, nil); err != nil {
		return err
	}
	*a = n
	return nil
}

func (a *acl) setActions(def, nonIP, defDefault, nonIPDefault string) error {
	if def == "" {
		def = defDefault
	}
	if nonIP == "" {
		nonIP = nonIPDefault
	}
	var err error
	if a.defaultAllow, err = parseAction(def); err != nil {
		return fmt.Errorf("acl default: %w", err)
	}
	if a.nonIPAllow, err = parseAction(nonIP); err != nil {
		return fmt.Errorf("acl non_ip: %w", err)
	}
	return nil
}

func parseAction(s string) (bool, error) {
	switch s {
	case "allow":
		return true, nil
	case "deny":
		return false, nil
	}
	return false, fmt.Errorf("action %q: want allow or deny", s)
}

// setRules compiles specs, keeps the hit counts of rules whose id survives
// (from prev), and rebuilds the classifiers. On error nothing changes.
func (a *acl) setRules(specs []Rule, prev map[uint32]uint64) error {
	if len(specs) > MaxRules {
		return fmt.Errorf("acl: %d rules, at most %d", len(specs), MaxRules)
	}
	rules := make([]rule, len(specs))
	ids := make(map[uint32]bool, len(specs))
	next := uint32(1)
	for _, s := range specs {
		next = max(next, s.ID+1)
	}
	for i, s := range specs {
		if s.ID == 0 {
			s.ID = next
			next++
		}
		if ids[s.ID] {
			return fmt.Errorf("acl rule %d: id %d is used twice", i, s.ID)
		}
		ids[s.ID] = true
		s.Hits = 0
		r, err := compile(s)
		if err != nil {
			return fmt.Errorf("acl rule %d (id %d): %w", i, s.ID, err)
		}
		rules[i] = r
	}
	var r4, r6 []ruleSpan
	for i, r := range rules {
		if r.v4 {
			r4 = append(r4, ruleSpan{r.src4, r.dst4, r.sport, r.dport, r.prot, r.needPorts, i})
		}
		if r.v6 {
			r6 = append(r6, ruleSpan{r.src6, r.dst6, r.sport, r.dport, r.prot, r.needPorts, i})
		}
	}
	hits := make([]uint64, len(rules))
	for i, r := range rules {
		hits[i] = prev[r.spec.ID]
	}
	a.rules, a.hits = rules, hits
	a.c4, a.c6 = buildClassifier(r4), buildClassifier(r6)
	a.configured = true
	return nil
}

var protoNames = map[string]uint8{"icmp": sdk.ProtoICMPv4, "tcp": sdk.ProtoTCP, "udp": sdk.ProtoUDP, "icmpv6": sdk.ProtoICMPv6}

func compile(s Rule) (rule, error) {
	r := rule{spec: s, v4: true, v6: true, src4: full32, dst4: full32, src6: full128, dst6: full128,
		sport: full16, dport: full16, prot: full8}
	var err error
	if r.allow, err = parseAction(s.Action); err != nil {
		return r, err
	}
	switch p := strings.ToLower(string(s.Proto)); p {
	case "", "any":
	default:
		n, ok := protoNames[p]
		if !ok {
			v, err := strconv.ParseUint(p, 10, 8)
			if err != nil {
				return r, fmt.Errorf("proto %q: want tcp, udp, icmp, icmpv6, any or 0..255", s.Proto)
			}
			n = uint8(v)
		}
		r.prot = span{key{lo: uint64(n)}, key{lo: uint64(n)}}
	}
	for _, f := range []struct {
		name   string
		val    string
		v4, v6 *span
	}{{"src", s.Src, &r.src4, &r.src6}, {"dst", s.Dst, &r.dst4, &r.dst6}} {
		if f.val == "" {
			continue
		}
		p, err := parsePrefix(f.val)
		if err != nil {
			return r, fmt.Errorf("%s %q: %w", f.name, f.val, err)
		}
		if p.Addr().Is4() {
			if !r.v4 {
				return r, errors.New("src and dst are of different address families")
			}
			*f.v4, r.v6 = prefixSpan(p), false
		} else {
			if !r.v6 {
				return r, errors.New("src and dst are of different address families")
			}
			*f.v6, r.v4 = prefixSpan(p), false
		}
	}
	for _, f := range []struct {
		name string
		val  flex
		out  *span
	}{{"sport", s.SPort, &r.sport}, {"dport", s.DPort, &r.dport}} {
		if f.val == "" {
			continue
		}
		lo, hi, err := parsePorts(string(f.val))
		if err != nil {
			return r, fmt.Errorf("%s %q: %w", f.name, f.val, err)
		}
		*f.out = span{key{lo: uint64(lo)}, key{lo: uint64(hi)}}
		r.needPorts = true
	}
	if r.needPorts && r.prot != full8 && r.prot.lo.lo != uint64(sdk.ProtoTCP) && r.prot.lo.lo != uint64(sdk.ProtoUDP) {
		return r, fmt.Errorf("ports need proto tcp, udp or any, not %q", s.Proto)
	}
	return r, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, err
		}
		if p.Addr().Zone() != "" {
			return p, errors.New("zones are not allowed")
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, errors.New("zones are not allowed")
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func prefixSpan(p netip.Prefix) span {
	if p.Addr().Is4() {
		a := p.Addr().As4()
		lo := uint64(binary.BigEndian.Uint32(a[:]))
		host := uint64(1)<<(32-p.Bits()) - 1
		return span{key{lo: lo}, key{lo: lo | host}}
	}
	lo := addrKey6(p.Addr().As16())
	hi := lo
	host := 128 - p.Bits()
	switch {
	case host >= 64:
		hi.lo = ^uint64(0)
		if host == 128 {
			hi.hi = ^uint64(0)
		} else {
			hi.hi |= uint64(1)<<(host-64) - 1
		}
	case host > 0:
		hi.lo |= uint64(1)<<host - 1
	}
	return span{lo, hi}
}

func parsePorts(s string) (lo, hi uint16, err error) {
	a, b, isRange := strings.Cut(s, "-")
	l, err := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
	if err != nil {
		return 0, 0, errors.New("want a port 0..65535 or a range N-M")
	}
	h := l
	if isRange {
		if h, err = strconv.ParseUint(strings.TrimSpace(b), 10, 16); err != nil || h < l {
			return 0, 0, errors.New("want a range N-M with N <= M <= 65535")
		}
	}
	return uint16(l), uint16(h), nil
}

func addrKey4(a [4]byte) key { return key{lo: uint64(binary.BigEndian.Uint32(a[:]))} }

func addrKey6(a [16]byte) key {
	return key{binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:])}
}

func (a *acl) Process(b *sdk.Burst) error {
	if !a.configured {
		return errors.New("acl: not configured")
	}
	// Headers on the stack: stores into it need no GC write barrier, which
	// a Go guest may have on between calls (see sdk's guest.load).
	var h sdk.Headers
	var t tuple
	for i := range b.Len() {
		p := b.Packet(i)
		h.Decode(p.Data())
		var c *classifier
		switch {
		case h.IPv4 != nil:
			t.src, t.dst, c = addrKey4(h.IPv4.Src()), addrKey4(h.IPv4.Dst()), a.c4
		case h.IPv6 != nil:
			t.src, t.dst, c = addrKey6(h.IPv6.Src()), addrKey6(h.IPv6.Dst()), a.c6
		default:
			a.nonIPHits++
			p.SetVerdict(verdict(a.nonIPAllow))
			continue
		}
		t.proto = h.Proto
		t.sport, t.dport, t.hasPorts = h.Ports()
		if r := c.match(&t); r >= 0 {
			a.hits[r]++
			p.SetVerdict(verdict(a.rules[r].allow))
			continue
		}
		a.defaultHits++
		p.SetVerdict(verdict(a.defaultAllow))
	}
	return nil
}

func verdict(allow bool) sdk.Verdict {
	if allow {
		return sdk.Pass
	}
	return sdk.Drop
}

type controlReq struct {
	Op      string `json:"op"`
	Rule    *Rule  `json:"rule"`
	Index   *int   `json:"index"`
	ID      uint32 `json:"id"`
	Rules   []Rule `json:"rules"`
	Default string `json:"default"`
	NonIP   string `json:"non_ip"`
}

func (a *acl) Control(req, reply []byte) ([]byte, error) {
	var c controlReq
	// json.Unmarshal rather than a Decoder with DisallowUnknownFields: the
	// Decoder's io.Reader call links os.File.Read and the WASI fd_read
	// import, which a packet filter has no use for.
	if err := json.Unmarshal(req, &c); err != nil {
		return nil, fmt.Errorf("acl control message: %w", err)
	}
	prev := make(map[uint32]uint64, len(a.rules))
	specs := make([]Rule, len(a.rules))
	for i, r := range a.rules {
		prev[r.spec.ID] = a.hits[i]
		specs[i] = r.spec
	}
	switch c.Op {
	case "list":
		out, err := json.Marshal(a.list())
		return append(reply, out...), err
	case "add":
		if c.Rule == nil {
			return nil, errors.New("acl add: no rule")
		}
		at := len(specs)
		if c.Index != nil {
			if *c.Index < 0 || *c.Index > len(specs) {
				return nil, fmt.Errorf("acl add: index %d: want 0..%d", *c.Index, len(specs))
			}
			at = *c.Index
		}
		specs = append(specs[:at], append([]Rule{*c.Rule}, specs[at:]...)...)
	case "delete":
		i := a.find(c.ID)
		if i < 0 {
			return nil, fmt.Errorf("acl delete: no rule with id %d", c.ID)
		}
		specs = append(specs[:i], specs[i+1:]...)
	case "replace":
		n := *a
		if err := n.setActions(c.Default, c.NonIP, actionName(a.defaultAllow), actionName(a.nonIPAllow)); err != nil {
			return nil, err
		}
		if err := n.setRules(c.Rules, prev); err != nil {
			return nil, err
		}
		*a = n
		return a.ok(reply)
	default:
		return nil, fmt.Errorf("acl control op %q: want add, delete, replace or list", c.Op)
	}
	if err := a.setRules(specs, prev); err != nil {
		return nil, err
	}
	return a.ok(reply)
}

func (a *acl) ok(reply []byte) ([]byte, error) {
	return fmt.Appendf(reply, `{"ok":true,"rules":%d}`, len(a.rules)), nil
}

func (a *acl) find(id uint32) int {
	for i, r := range a.rules {
		if r.spec.ID == id {
			return i
		}
	}
	return -1
}

func actionName(allow bool) string {
	if allow {
		return "allow"
	}
	return "deny"
}

func (a *acl) list() Config {
	c := Config{Default: actionName(a.defaultAllow), NonIP: actionName(a.nonIPAllow), Rules: make([]Rule, len(a.rules)),
		DefaultHits: a.defaultHits, NonIPHits: a.nonIPHits}
	for i, r := range a.rules {
		c.Rules[i] = r.spec
		c.Rules[i].Hits = a.hits[i]
	}
	return c
}

func init() { sdk.Register(new(acl)) }

func main() {}
