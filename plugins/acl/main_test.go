package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/memif-wasm/memif-wasm/sdk"
	"github.com/memif-wasm/memif-wasm/sdk/sdktest"
)

var (
	macA = sdktest.MAC("02:00:00:00:00:0a")
	macB = sdktest.MAC("02:00:00:00:00:0b")
)

func newACL(t testing.TB, cfg string) *acl {
	t.Helper()
	a := new(acl)
	if err := a.Init([]byte(cfg)); err != nil {
		t.Fatalf("Init(%s): %v", cfg, err)
	}
	return a
}

func v4(t testing.TB, src, dst string, l4 ...gopacket.SerializableLayer) []byte {
	proto := layers.IPProtocolTCP
	switch l4[0].(type) {
	case *layers.UDP:
		proto = layers.IPProtocolUDP
	case *layers.ICMPv4:
		proto = layers.IPProtocolICMPv4
	}
	return sdktest.Frame(t, append([]gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, IHL: 5, TTL: 9, Protocol: proto, SrcIP: sdktest.IP(src), DstIP: sdktest.IP(dst)}}, l4...)...)
}

func v6(t testing.TB, src, dst string, l4 ...gopacket.SerializableLayer) []byte {
	proto := layers.IPProtocolTCP
	switch l4[0].(type) {
	case *layers.UDP:
		proto = layers.IPProtocolUDP
	case *layers.ICMPv6:
		proto = layers.IPProtocolICMPv6
	}
	return sdktest.Frame(t, append([]gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv6},
		&layers.IPv6{Version: 6, HopLimit: 9, NextHeader: proto, SrcIP: sdktest.IP(src), DstIP: sdktest.IP(dst)}}, l4...)...)
}

func tcp(s, d layers.TCPPort) *layers.TCP { return &layers.TCP{SrcPort: s, DstPort: d} }
func udp(s, d layers.UDPPort) *layers.UDP { return &layers.UDP{SrcPort: s, DstPort: d} }

const webConfig = `{"default":"deny","rules":[
	{"id":1,"action":"deny","src":"10.0.0.66"},
	{"id":2,"action":"allow","proto":"tcp","src":"10.0.0.0/8","dst":"192.168.1.0/24","dport":"80"},
	{"id":3,"action":"allow","proto":"udp","dst":"fd00::/16","dport":"1000-2000"},
	{"id":4,"action":"allow","proto":"icmp"},
	{"id":5,"action":"allow","sport":53}]}`

func TestRulesOnPackets(t *testing.T) {
	a := newACL(t, webConfig)
	arp := sdktest.Frame(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: 1, Protocol: 0x0800, HwAddressSize: 6, ProtAddressSize: 4, Operation: 1,
			SourceHwAddress: macA, SourceProtAddress: []byte{1, 1, 1, 1}, DstHwAddress: make([]byte, 6), DstProtAddress: []byte{2, 2, 2, 2}})
	tests := []struct {
		name  string
		frame []byte
		want  sdk.Verdict
		rule  int // index whose hit count rises; -1 = default, -2 = non-IP
	}{
		{"tcp 80 from 10/8 to the web net", v4(t, "10.1.2.3", "192.168.1.10", tcp(40000, 80)), sdk.Pass, 1},
		{"same but port 81", v4(t, "10.1.2.3", "192.168.1.10", tcp(40000, 81)), sdk.Drop, -1},
		{"same but udp", v4(t, "10.1.2.3", "192.168.1.10", udp(40000, 80)), sdk.Drop, -1},
		{"blocked host first", v4(t, "10.0.0.66", "192.168.1.10", tcp(40000, 80)), sdk.Drop, 0},
		{"from outside 10/8", v4(t, "11.0.0.1", "192.168.1.10", tcp(40000, 80)), sdk.Drop, -1},
		{"udp v6 in range", v6(t, "2001:db8::1", "fd00:1::5", udp(5, 1500)), sdk.Pass, 2},
		{"udp v6 range end", v6(t, "2001:db8::1", "fd00:1::5", udp(5, 2000)), sdk.Pass, 2},
		{"udp v6 past range", v6(t, "2001:db8::1", "fd00:1::5", udp(5, 2001)), sdk.Drop, -1},
		{"udp v6 outside prefix", v6(t, "2001:db8::1", "fd01::5", udp(5, 1500)), sdk.Drop, -1},
		{"icmp v4 any", v4(t, "8.8.8.8", "1.1.1.1", &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}), sdk.Pass, 3},
		{"dns reply v6 by sport, any proto", v6(t, "2001:db8::1", "2001:db8::2", udp(53, 3333)), sdk.Pass, 4},
		{"dns reply v4 over tcp", v4(t, "1.1.1.1", "2.2.2.2", tcp(53, 3333)), sdk.Pass, 4},
		{"icmpv6 has no ports: the sport rule does not apply", v6(t, "2001:db8::1", "2001:db8::2", &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}), sdk.Drop, -1},
		{"arp is non-IP", arp, sdk.Pass, -2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := append([]uint64(nil), a.hits...)
			dh, nh := a.defaultHits, a.nonIPHits
			b := sdktest.Burst(1, tc.frame)
			if err := a.Process(b); err != nil {
				t.Fatal(err)
			}
			if v := b.Packet(0).Verdict(); v != tc.want {
				t.Fatalf("verdict %v, want %v", v, tc.want)
			}
			switch tc.rule {
			case -1:
				if a.defaultHits != dh+1 {
					t.Fatal("default not counted")
				}
			case -2:
				if a.nonIPHits != nh+1 {
					t.Fatal("non-IP not counted")
				}
			default:
				if a.hits[tc.rule] != before[tc.rule]+1 {
					t.Fatalf("rule %d not counted: %v -> %v", tc.rule, before, a.hits)
				}
			}
		})
	}
}

// naive is the obvious first-match scan the classifier must agree with.
func naive(a *acl, v6 bool, t *tuple) int {
	for i, r := range a.rules {
		src, dst := r.src4, r.dst4
		if v6 {
			src, dst = r.src6, r.dst6
		}
		in := func(s span, k key) bool { return !k.less(s.lo) && !s.hi.less(k) }
		if v6 && !r.v6 || !v6 && !r.v4 || !in(src, t.src) || !in(dst, t.dst) || !in(r.prot, key{lo: uint64(t.proto)}) {
			continue
		}
		if r.needPorts && (!t.hasPorts || !in(r.sport, key{lo: uint64(t.sport)}) || !in(r.dport, key{lo: uint64(t.dport)})) {
			continue
		}
		return i
	}
	return -1
}

func randomRules(r *rand.Rand, n int) []Rule {
	rules := make([]Rule, n)
	for i := range rules {
		ru := Rule{Action: []string{"allow", "deny"}[r.IntN(2)]}
		six := r.IntN(2) == 0
		pfx := func() string {
			if six {
				var a [16]byte
				binary.BigEndian.PutUint64(a[:], 0xfd00<<48|uint64(r.IntN(4))<<40|r.Uint64()&0xffffffffff)
				binary.BigEndian.PutUint64(a[8:], r.Uint64()%4)
				return fmt.Sprintf("%x:%x:%x:%x::%x/%d", a[0:2], a[2:4], a[4:6], a[6:8], a[15], []int{8, 16, 24, 64, 70, 127, 128}[r.IntN(7)])
			}
			return fmt.Sprintf("10.%d.%d.%d/%d", r.IntN(4), r.IntN(4), r.IntN(4), []int{0, 8, 14, 16, 24, 30, 32}[r.IntN(7)])
		}
		if r.IntN(3) > 0 {
			ru.Src = pfx()
		}
		if r.IntN(3) > 0 {
			ru.Dst = pfx()
		}
		switch r.IntN(4) {
		case 0:
			ru.Proto = "tcp"
		case 1:
			ru.Proto = "udp"
		case 2:
			ru.Proto = flex(fmt.Sprint(r.IntN(3)))
		}
		if ru.Proto == "" || ru.Proto == "tcp" || ru.Proto == "udp" {
			if r.IntN(2) == 0 {
				lo := r.IntN(100)
				ru.DPort = flex(fmt.Sprintf("%d-%d", lo, lo+r.IntN(50)))
			}
			if r.IntN(4) == 0 {
				ru.SPort = flex(fmt.Sprint(r.IntN(100)))
			}
		}
		rules[i] = ru
	}
	return rules
}

func randomTuple(r *rand.Rand, six bool) tuple {
	t := tuple{proto: []uint8{0, 1, 2, 6, 17}[r.IntN(5)]}
	if six {
		t.src = key{0xfd00<<48 | uint64(r.IntN(4))<<40 | r.Uint64()&0xffffffffff, r.Uint64() % 4}
		t.dst = key{0xfd00<<48 | uint64(r.IntN(4))<<40 | r.Uint64()&0xffffffffff, r.Uint64() % 4}
	} else {
		t.src = key{lo: 10<<24 | uint64(r.IntN(4))<<16 | uint64(r.IntN(4))<<8 | uint64(r.IntN(4))}
		t.dst = key{lo: 10<<24 | uint64(r.IntN(4))<<16 | uint64(r.IntN(4))<<8 | uint64(r.IntN(4))}
	}
	if t.proto == 6 || t.proto == 17 {
		t.hasPorts, t.sport, t.dport = true, uint16(r.IntN(150)), uint16(r.IntN(150))
	}
	return t
}

// TestClassifierMatchesLinearScan checks the classifier against a plain
// first-match scan on random rule sets and packets.
func TestClassifierMatchesLinearScan(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{0, 1, 5, 63, 64, 65, 300} {
		a := new(acl)
		if err := a.setRules(randomRules(r, n), nil); err != nil {
			t.Fatalf("%d rules: %v", n, err)
		}
		hits := 0
		for range 3000 {
			six := r.IntN(2) == 0
			tp := randomTuple(r, six)
			c := a.c4
			if six {
				c = a.c6
			}
			got, want := c.match(&tp), naive(a, six, &tp)
			if got != want {
				t.Fatalf("%d rules, tuple %+v: classifier says rule %d, scan says %d", n, tp, got, want)
			}
			if got >= 0 {
				hits++
			}
		}
		if n >= 64 && hits == 0 {
			t.Fatalf("%d rules: no tuple matched anything; the test exercises nothing", n)
		}
	}
}

func TestPrefixSpans(t *testing.T) {
	for _, tc := range []struct {
		pfx    string
		lo, hi key
	}{
		{"0.0.0.0/0", key{}, key{lo: 0xffffffff}},
		{"10.1.2.3/32", key{lo: 0x0a010203}, key{lo: 0x0a010203}},
		{"10.1.2.3/8", key{lo: 0x0a000000}, key{lo: 0x0affffff}},
		{"::/0", key{}, key{^uint64(0), ^uint64(0)}},
		{"fd00::/8", key{hi: 0xfd << 56}, key{0xfdffffffffffffff, ^uint64(0)}},
		{"fd00::/64", key{hi: 0xfd << 56}, key{0xfd << 56, ^uint64(0)}},
		{"fd00::1:0/112", key{0xfd << 56, 0x10000}, key{0xfd << 56, 0x1ffff}},
		{"::1", key{lo: 1}, key{lo: 1}},
	} {
		p, err := parsePrefix(tc.pfx)
		if err != nil {
			t.Fatal(err)
		}
		if s := prefixSpan(p); s.lo != tc.lo || s.hi != tc.hi {
			t.Errorf("%s: %x..%x, want %x..%x", tc.pfx, s.lo, s.hi, tc.lo, tc.hi)
		}
	}
}

func TestBadConfig(t *testing.T) {
	for _, tc := range []struct{ cfg, msg string }{
		{`[`, "acl config"},
		{`{"default":"maybe"}`, "default"},
		{`{"non_ip":"tx"}`, "non_ip"},
		{`{"rules":[{"action":"permit"}]}`, "rule 0"},
		{`{"rules":[{"action":"allow","src":"10.0.0.0/33"}]}`, "src"},
		{`{"rules":[{"action":"allow","dst":"fe80::1%eth0"}]}`, "zones"},
		{`{"rules":[{"action":"allow","src":"10.0.0.1","dst":"fd00::1"}]}`, "families"},
		{`{"rules":[{"action":"allow","proto":"sctp"}]}`, "proto"},
		{`{"rules":[{"action":"allow","proto":300}]}`, "proto"},
		{`{"rules":[{"action":"allow","dport":"80-70"}]}`, "dport"},
		{`{"rules":[{"action":"allow","dport":"70000"}]}`, "dport"},
		{`{"rules":[{"action":"allow","proto":"icmp","dport":"80"}]}`, "ports need"},
		{`{"rules":[{"action":"allow","sport":true}]}`, "string or a number"},
		{`{"rules":[{"id":3,"action":"allow"},{"id":3,"action":"deny"}]}`, "used twice"},
	} {
		err := new(acl).Init([]byte(tc.cfg))
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Init(%s) = %v, want an error about %q", tc.cfg, err, tc.msg)
		}
	}
	many := `{"rules":[` + strings.Repeat(`{"action":"allow"},`, MaxRules) + `{"action":"allow"}]}`
	if err := new(acl).Init([]byte(many)); err == nil {
		t.Error("more than MaxRules accepted")
	}
	if err := new(acl).Process(sdktest.Burst(1)); err == nil {
		t.Error("Process without config succeeded")
	}
}

func control(t *testing.T, a *acl, req string) string {
	t.Helper()
	out, err := a.Control([]byte(req), nil)
	if err != nil {
		t.Fatalf("Control(%s): %v", req, err)
	}
	return string(out)
}

func verdictOf(t *testing.T, a *acl, f []byte) sdk.Verdict {
	b := sdktest.Burst(1, f)
	a.Process(b)
	return b.Packet(0).Verdict()
}

func TestControl(t *testing.T) {
	a := newACL(t, `{"rules":[{"id":1,"action":"allow","proto":"tcp","dport":22}]}`)
	ssh, web := v4(t, "1.1.1.1", "2.2.2.2", tcp(40000, 22)), v4(t, "1.1.1.1", "2.2.2.2", tcp(40000, 80))
	if verdictOf(t, a, ssh) != sdk.Pass || verdictOf(t, a, web) != sdk.Drop {
		t.Fatal("initial rules")
	}
	if out := control(t, a, `{"op":"add","rule":{"action":"allow","proto":"tcp","dport":"80"}}`); out != `{"ok":true,"rules":2}` {
		t.Fatalf("add reply %s", out)
	}
	if verdictOf(t, a, web) != sdk.Pass {
		t.Fatal("added rule not in effect")
	}
	control(t, a, `{"op":"add","index":0,"rule":{"id":9,"action":"deny","src":"1.1.1.1"}}`)
	if verdictOf(t, a, ssh) != sdk.Drop {
		t.Fatal("rule inserted first does not win")
	}
	var l Config
	if err := json.Unmarshal([]byte(control(t, a, `{"op":"list"}`)), &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Rules) != 3 || l.Rules[0].ID != 9 || l.Rules[1].ID != 1 || l.Rules[2].ID != 2 || l.Rules[0].Hits != 1 || l.Rules[1].Hits != 1 {
		t.Fatalf("list %+v", l)
	}
	control(t, a, `{"op":"delete","id":9}`)
	if verdictOf(t, a, ssh) != sdk.Pass {
		t.Fatal("deleted rule still in effect")
	}
	json.Unmarshal([]byte(control(t, a, `{"op":"list"}`)), &l)
	if l.Rules[0].ID != 1 || l.Rules[0].Hits != 2 {
		t.Fatalf("hits lost across an update: %+v", l.Rules)
	}
	control(t, a, `{"op":"replace","default":"allow","rules":[{"action":"deny","proto":"tcp","dport":"22"}]}`)
	if verdictOf(t, a, ssh) != sdk.Drop || verdictOf(t, a, web) != sdk.Pass {
		t.Fatal("replace not in effect")
	}
	for _, bad := range []string{`{"op":"delete","id":77}`, `{"op":"add"}`, `{"op":"add","index":5,"rule":{"action":"allow"}}`,
		`{"op":"add","rule":{"action":"allow","src":"nope"}}`, `{"op":"replace","default":"x"}`, `{"op":"flush"}`, `{`} {
		if _, err := a.Control([]byte(bad), nil); err == nil {
			t.Errorf("Control(%s) accepted", bad)
		}
	}
	// Failed updates change nothing.
	if verdictOf(t, a, ssh) != sdk.Drop || verdictOf(t, a, web) != sdk.Pass || len(a.rules) != 1 {
		t.Fatal("a failed update changed the rules")
	}
}

func thousandRules(t testing.TB) *acl {
	var sb strings.Builder
	sb.WriteString(`{"default":"deny","rules":[`)
	for i := range 1000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"action":"allow","proto":"tcp","src":"10.%d.%d.0/24","dport":"%d"}`, i/256, i%256, 1000+i)
	}
	sb.WriteString(`]}`)
	return newACL(t, sb.String())
}

func TestProcessAllocations(t *testing.T) {
	a := thousandRules(t)
	b := sdktest.Burst(1, v4(t, "10.3.231.1", "2.2.2.2", tcp(1, 1999)), v6(t, "fd00::1", "fd00::2", udp(1, 2)))
	if n := testing.AllocsPerRun(100, func() { a.Process(b) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
	if v := sdktest.Verdicts(b); v[0] != sdk.Pass || v[1] != sdk.Drop {
		t.Fatalf("verdicts %v", v)
	}
}

// BenchmarkLookup1000Rules measures the classifier where a linear scan is
// slowest: the matching rule is the last of 1000, or none matches.
func BenchmarkLookup1000Rules(b *testing.B) {
	a := thousandRules(b)
	for _, bc := range []struct {
		name string
		tp   tuple
	}{
		{"last", tuple{src: key{lo: 10<<24 | 3<<16 | 231<<8 | 1}, dst: key{lo: 1}, proto: 6, hasPorts: true, sport: 1, dport: 1999}},
		{"none", tuple{src: key{lo: 11 << 24}, dst: key{lo: 1}, proto: 6, hasPorts: true, sport: 1, dport: 80}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				a.c4.match(&bc.tp)
			}
		})
		b.Run(bc.name+"-linear", func(b *testing.B) {
			for b.Loop() {
				naive(a, false, &bc.tp)
			}
		})
	}
}

func FuzzConfig(f *testing.F) {
	f.Add([]byte(webConfig))
	f.Add([]byte(`{"rules":[{"action":"allow","src":"::/0","dport":"0-65535"}]}`))
	frame := v4(f, "10.0.0.1", "10.0.0.2", tcp(1, 2))
	f.Fuzz(func(t *testing.T, cfg []byte) {
		a := new(acl)
		if a.Init(cfg) != nil {
			return
		}
		// Whatever was accepted must classify without panicking.
		b := sdktest.Burst(1, frame)
		a.Process(b)
		a.Control([]byte(`{"op":"list"}`), nil)
	})
}

// FuzzControl sends arbitrary control messages: a message either fails and
// changes nothing, or leaves a rule set that still classifies.
func FuzzControl(f *testing.F) {
	f.Add([]byte(`{"op":"add","rule":{"action":"allow","proto":"tcp","dport":"80"},"index":0}`))
	f.Add([]byte(`{"op":"delete","id":1}`))
	f.Add([]byte(`{"op":"replace","rules":[{"action":"deny","src":"fd00::/8"}],"default":"allow"}`))
	f.Add([]byte(`{"op":"list"}`))
	frame := v4(f, "10.0.0.1", "10.0.0.2", tcp(1, 80))
	f.Fuzz(func(t *testing.T, msg []byte) {
		a := newACL(t, webConfig)
		before, _ := a.Control([]byte(`{"op":"list"}`), nil)
		if _, err := a.Control(msg, nil); err != nil {
			after, _ := a.Control([]byte(`{"op":"list"}`), nil)
			if string(before) != string(after) {
				t.Fatalf("failed control %q changed the rules", msg)
			}
			return
		}
		a.Process(sdktest.Burst(1, frame))
	})
}

// BenchmarkInit1000Rules measures parsing and indexing a 1000-rule config,
// the cost of a full control update.
func BenchmarkInit1000Rules(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"default":"deny","rules":[`)
	for i := range 1000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"action":"allow","proto":"tcp","src":"10.%d.%d.0/24","dport":"%d"}`, i/256, i%256, 1000+i)
	}
	sb.WriteString(`]}`)
	cfg := []byte(sb.String())
	b.ReportAllocs()
	for b.Loop() {
		var a acl
		if err := a.Init(cfg); err != nil {
			b.Fatal(err)
		}
	}
}
