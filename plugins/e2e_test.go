package plugins_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
	"github.com/memif-wasm/memif-wasm/host/table"
	"github.com/memif-wasm/memif-wasm/sdk/sdktest"
)

// End-to-end: each plugin, built to wasm, runs in the real host on packets
// built with gopacket; the tests check the host-validated verdicts and the
// bytes the host hands back.

var (
	engineOnce sync.Once
	engine     *host.Engine
	engineErr  error
	guestLogs  hosttest.SyncBuffer
)

func TestMain(m *testing.M) {
	code := m.Run()
	if engine != nil {
		engine.Close(context.Background())
	}
	os.Exit(code)
}

func getEngine(t testing.TB) *host.Engine {
	t.Helper()
	engineOnce.Do(func() {
		dir := filepath.Join(cacheDir(t), "wazero")
		engine, engineErr = host.NewEngine(context.Background(), &host.EngineConfig{
			CacheDir: dir,
			Logger:   slog.New(slog.NewTextHandler(&guestLogs, nil)),
		})
	})
	if engineErr != nil {
		t.Fatalf("engine: %v", engineErr)
	}
	return engine
}

// pluginConfig is the host configuration the tests load plugins with: the
// host's defaults (fuel included: a Go plugin's cost per packet, printed by
// TestE2EFuelPerPacket, fits the default budget of a Go guest's call), plus
// the plugin's config, and a stack budget of e2eStack: every example plugin
// does all its end-to-end work within a sixteenth of the default.
func pluginConfig(config string) *host.PluginConfig {
	return &host.PluginConfig{Config: []byte(config), Stack: e2eStack}
}

const e2eStack = host.DefaultStack / 16

// run loads wasm with config into a one-plugin pipeline.
func run(t *testing.T, name string, wasm []byte, config string) *host.Pipeline {
	t.Helper()
	ctx := context.Background()
	m, err := getEngine(t).Load(ctx, name, wasm, pluginConfig(config))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	t.Cleanup(func() { m.Close(ctx) })
	p, err := host.NewPipeline(ctx, m)
	if err != nil {
		t.Fatalf("pipeline %s: %v", name, err)
	}
	t.Cleanup(func() { p.Close(ctx) })
	return p
}

const room = 128

// burst wraps frames as received packets with headroom and tailroom.
func burst(frames ...[]byte) *host.Burst {
	b := &host.Burst{Packets: make([]host.Packet, len(frames))}
	for i, f := range frames {
		buf := make([]byte, room+len(f)+room)
		copy(buf[room:], f)
		b.Packets[i] = host.Packet{Buf: buf, Off: room, Len: uint32(len(f))}
	}
	return b
}

func verdicts(b *host.Burst) []abi.Verdict {
	v := make([]abi.Verdict, len(b.Packets))
	for i := range v {
		v[i] = b.Packets[i].Verdict
	}
	return v
}

func wantVerdicts(t *testing.T, b *host.Burst, want ...abi.Verdict) {
	t.Helper()
	if got := verdicts(b); !equal(got, want) {
		t.Fatalf("verdicts %v, want %v", got, want)
	}
}

func equal(a, b []abi.Verdict) bool { return string(asBytes(a)) == string(asBytes(b)) }

func asBytes(v []abi.Verdict) []byte {
	b := make([]byte, len(v))
	for i := range v {
		b[i] = byte(v[i])
	}
	return b
}

func noInvalid(t *testing.T, p *host.Pipeline) {
	t.Helper()
	for i, s := range p.ReadStats(nil) {
		if s.Invalid != [host.NumReasons]uint64{} || s.Faults != 0 {
			t.Fatalf("plugin %d: invalid verdicts %v, faults %d", i, s.Invalid, s.Faults)
		}
	}
}

var (
	macA = sdktest.MAC("02:00:00:00:00:0a")
	macB = sdktest.MAC("02:00:00:00:00:0b")
)

func eth(src, dst []byte, et layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: et}
}

func udp4(t testing.TB, src, dst string, sport, dport layers.UDPPort) []byte {
	return sdktest.Frame(t, eth(macA, macB, layers.EthernetTypeIPv4),
		&layers.IPv4{Version: 4, IHL: 5, TTL: 9, Protocol: layers.IPProtocolUDP, SrcIP: sdktest.IP(src), DstIP: sdktest.IP(dst)},
		&layers.UDP{SrcPort: sport, DstPort: dport}, gopacket.Payload("payload that makes the frame longer than sixty bytes"))
}

func tcp6(t testing.TB, src, dst string, sport, dport layers.TCPPort) []byte {
	return sdktest.Frame(t, eth(macA, macB, layers.EthernetTypeIPv6),
		&layers.IPv6{Version: 6, HopLimit: 9, NextHeader: layers.IPProtocolTCP, SrcIP: sdktest.IP(src), DstIP: sdktest.IP(dst)},
		&layers.TCP{SrcPort: sport, DstPort: dport, SYN: true})
}

func arpFrame(t testing.TB) []byte {
	return sdktest.Frame(t, eth(macA, sdktest.MAC("ff:ff:ff:ff:ff:ff"), layers.EthernetTypeARP),
		&layers.ARP{AddrType: 1, Protocol: 0x0800, HwAddressSize: 6, ProtAddressSize: 4, Operation: 1,
			SourceHwAddress: macA, SourceProtAddress: []byte{10, 0, 0, 9}, DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 0, 0, 1}})
}

func TestE2EPassDrop(t *testing.T) {
	frames := func() [][]byte { return [][]byte{udp4(t, "1.1.1.1", "2.2.2.2", 1, 2), arpFrame(t), {1, 2, 3}} }
	for _, tc := range []struct {
		name, lang string
		wasm       func(testing.TB, string) []byte
		want       abi.Verdict
	}{{"pass", "go", goPlugin, abi.Pass}, {"pass", "c", cPlugin, abi.Pass}, {"pass", "rust", rustPlugin, abi.Pass},
		{"drop", "go", goPlugin, abi.Drop}} {
		t.Run(tc.name+"-"+tc.lang, func(t *testing.T) {
			p := run(t, tc.name, tc.wasm(t, tc.name), "")
			fs := frames()
			b := burst(fs...)
			p.Process(b)
			wantVerdicts(t, b, tc.want, tc.want, tc.want)
			for i := range fs {
				if !bytes.Equal(b.Packets[i].Data(), fs[i]) {
					t.Fatalf("packet %d changed", i)
				}
			}
			noInvalid(t, p)
		})
	}
}

func TestE2EMacswap(t *testing.T) {
	for _, tc := range []struct {
		lang string
		wasm func(testing.TB, string) []byte
	}{{"go", goPlugin}, {"rust", rustPlugin}} {
		t.Run(tc.lang, func(t *testing.T) {
			p := run(t, "macswap", tc.wasm(t, "macswap"), "")
			f := udp4(t, "1.1.1.1", "2.2.2.2", 1, 2)
			b := burst(f, f[:13])
			p.Process(b)
			wantVerdicts(t, b, abi.TX, abi.Drop)
			got := b.Packets[0].Data()
			if !bytes.Equal(got[:6], macA) || !bytes.Equal(got[6:12], macB) || !bytes.Equal(got[12:], f[12:]) {
				t.Fatalf("reflected % x", got)
			}
			noInvalid(t, p)
		})
	}
}

func control(t *testing.T, p *host.Pipeline, msg string) []byte {
	t.Helper()
	reply := make([]byte, 64<<10)
	n, err := p.Control(0, []byte(msg), reply)
	if err != nil {
		t.Fatalf("control %s: %v", msg, err)
	}
	return reply[:n]
}

func TestE2ECounterAndReload(t *testing.T) {
	wasm := goPlugin(t, "counter")
	p := run(t, "counter", wasm, "")
	b := burst(udp4(t, "1.1.1.1", "2.2.2.2", 1, 2), tcp6(t, "fd00::1", "fd00::2", 1, 2), arpFrame(t))
	p.Process(b)
	wantVerdicts(t, b, abi.Pass, abi.Pass, abi.Pass)
	var c struct {
		Packets     uint64            `json:"packets"`
		EtherTypes  map[string]uint64 `json:"ethertypes"`
		IPProtocols map[string]uint64 `json:"ip_protocols"`
	}
	if err := json.Unmarshal(control(t, p, `{"op":"get"}`), &c); err != nil {
		t.Fatal(err)
	}
	if c.Packets != 3 || c.EtherTypes["0x0800"] != 1 || c.EtherTypes["0x86dd"] != 1 || c.EtherTypes["0x0806"] != 1 ||
		c.IPProtocols["6"] != 1 || c.IPProtocols["17"] != 1 {
		t.Fatalf("counts %+v", c)
	}
	// Reload: the new instance takes the counts over through the state hooks.
	ctx := context.Background()
	m, err := getEngine(t).Load(ctx, "counter-v2", wasm, pluginConfig(""))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	if err := p.Replace(ctx, 0, m); err != nil {
		t.Fatalf("replace: %v", err)
	}
	p.Process(burst(arpFrame(t)))
	c.Packets = 0
	json.Unmarshal(control(t, p, ``), &c)
	if c.Packets != 4 || c.EtherTypes["0x0806"] != 2 {
		t.Fatalf("counts after reload %+v", c)
	}
	if _, err := p.Control(0, []byte(`{"op":"explode"}`), make([]byte, 100)); !errors.Is(err, abi.ErrInval) {
		t.Fatalf("bad control: %v", err)
	}
}

func TestE2EACL(t *testing.T) {
	cfg := `{"default":"deny","rules":[
		{"id":1,"action":"allow","proto":"udp","src":"10.0.0.0/8","dport":"53"},
		{"id":2,"action":"allow","proto":"tcp","dst":"fd00::/16","dport":"443"}]}`
	p := run(t, "acl", goPlugin(t, "acl"), cfg)
	frames := [][]byte{
		udp4(t, "10.1.1.1", "8.8.8.8", 40000, 53), udp4(t, "11.1.1.1", "8.8.8.8", 40000, 53),
		tcp6(t, "2001:db8::1", "fd00::5", 40000, 443), tcp6(t, "2001:db8::1", "fd00::5", 40000, 80), arpFrame(t),
	}
	b := burst(frames...)
	p.Process(b)
	wantVerdicts(t, b, abi.Pass, abi.Drop, abi.Pass, abi.Drop, abi.Pass)
	control(t, p, `{"op":"add","rule":{"id":3,"action":"allow","proto":"tcp","dport":"80"}}`)
	b = burst(frames...)
	p.Process(b)
	wantVerdicts(t, b, abi.Pass, abi.Drop, abi.Pass, abi.Pass, abi.Pass)
	var l struct {
		Rules []struct {
			ID   uint32 `json:"id"`
			Hits uint64 `json:"hits"`
		} `json:"rules"`
		DefaultHits uint64 `json:"default_hits"`
	}
	if err := json.Unmarshal(control(t, p, `{"op":"list"}`), &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Rules) != 3 || l.Rules[0].Hits != 2 || l.Rules[1].Hits != 2 || l.Rules[2].Hits != 1 || l.DefaultHits != 3 {
		t.Fatalf("list %+v", l)
	}
	noInvalid(t, p)
}

func TestE2EACLBadConfigRefused(t *testing.T) {
	_, err := getEngine(t).Load(context.Background(), "acl-bad", goPlugin(t, "acl"),
		pluginConfig(`{"rules":[{"action":"allow","src":"10.0.0.0/40"}]}`))
	var ge *host.GuestError
	if !errors.As(err, &ge) || !errors.Is(err, abi.ErrInval) {
		t.Fatalf("load with a bad config: %v", err)
	}
	if !strings.Contains(guestLogs.String(), "10.0.0.0/40") {
		t.Fatalf("the guest's reason is not in the host log:\n%s", guestLogs.String())
	}
}

// cACLConfig encodes the C acl's binary format (plugins/README.md).
type cRule struct {
	allow, family, proto, matchProto, srcLen, dstLen uint8
	sport, dport                                     [2]uint16
	src, dst                                         []byte
}

func cACLConfig(def, nonIP uint8, rules ...cRule) []byte {
	b := []byte{'M', 'W', 'A', '1', def, nonIP}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(rules)))
	for _, r := range rules {
		b = append(b, r.allow, r.family, r.proto, r.matchProto, r.srcLen, r.dstLen, 0, 0)
		for _, v := range []uint16{r.sport[0], r.sport[1], r.dport[0], r.dport[1]} {
			b = binary.LittleEndian.AppendUint16(b, v)
		}
		var src, dst [16]byte
		copy(src[:], r.src)
		copy(dst[:], r.dst)
		b = append(append(b, src[:]...), dst[:]...)
	}
	return b
}

var anyPort = [2]uint16{0, 65535}

// TestE2ECACL runs the acl twins with the binary configuration: C and Rust.
func TestE2ECACL(t *testing.T) {
	for _, tc := range []struct {
		lang string
		wasm func(testing.TB, string) []byte
	}{{"c", cPlugin}, {"rust", rustPlugin}} {
		t.Run(tc.lang, func(t *testing.T) { testBinaryACL(t, "acl-"+tc.lang, tc.wasm(t, "acl")) })
	}
}

func testBinaryACL(t *testing.T, name string, wasm []byte) {
	cfg := cACLConfig(0, 1,
		cRule{allow: 1, family: 4, proto: 17, matchProto: 1, srcLen: 8, src: []byte{10}, sport: anyPort, dport: [2]uint16{53, 53}},
		cRule{allow: 1, family: 6, proto: 6, matchProto: 1, dstLen: 16, dst: sdktest.IP("fd00::"), sport: anyPort, dport: [2]uint16{443, 443}},
	)
	p := run(t, name, wasm, string(cfg))
	frames := [][]byte{
		udp4(t, "10.1.1.1", "8.8.8.8", 40000, 53), udp4(t, "11.1.1.1", "8.8.8.8", 40000, 53),
		tcp6(t, "2001:db8::1", "fd00::5", 40000, 443), tcp6(t, "2001:db8::1", "fd00::5", 40000, 80), arpFrame(t),
	}
	b := burst(frames...)
	p.Process(b)
	wantVerdicts(t, b, abi.Pass, abi.Drop, abi.Pass, abi.Drop, abi.Pass)

	hits := control(t, p, "MWH1")
	if len(hits) != 32 || binary.LittleEndian.Uint64(hits) != 2 || binary.LittleEndian.Uint64(hits[8:]) != 1 ||
		binary.LittleEndian.Uint64(hits[16:]) != 1 || binary.LittleEndian.Uint64(hits[24:]) != 1 {
		t.Fatalf("hits % x", hits)
	}
	// Replace the rules: allow everything but port 53.
	reply := control(t, p, string(cACLConfig(1, 1, cRule{allow: 0, sport: anyPort, dport: [2]uint16{53, 53}})))
	if binary.LittleEndian.Uint32(reply) != 1 {
		t.Fatalf("replace reply % x", reply)
	}
	b = burst(frames...)
	p.Process(b)
	wantVerdicts(t, b, abi.Drop, abi.Drop, abi.Pass, abi.Pass, abi.Pass)
	for _, bad := range [][]byte{[]byte("MWA1"), cACLConfig(2, 0), cACLConfig(0, 0, cRule{family: 4, srcLen: 33}),
		cACLConfig(0, 0, cRule{sport: [2]uint16{5, 4}, dport: anyPort}), cACLConfig(0, 0, cRule{proto: 1, matchProto: 1, sport: anyPort, dport: [2]uint16{1, 1}})} {
		if _, err := p.Control(0, bad, make([]byte, 16)); !errors.Is(err, abi.ErrInval) {
			t.Errorf("bad config % x: %v", bad, err)
		}
	}
	// The refused replacements left the running rules alone.
	b = burst(frames...)
	p.Process(b)
	wantVerdicts(t, b, abi.Drop, abi.Drop, abi.Pass, abi.Pass, abi.Pass)
	noInvalid(t, p)

	// A bad config refuses the module at load, with the guest's reason in the log.
	_, err := getEngine(t).Load(context.Background(), name+"-bad", wasm, pluginConfig(string(cACLConfig(0, 0, cRule{family: 4, srcLen: 33}))))
	var ge *host.GuestError
	if !errors.As(err, &ge) || !errors.Is(err, abi.ErrInval) {
		t.Fatalf("load with a bad config: %v", err)
	}
	if !logged(name+"-bad", "prefix length too long") {
		t.Fatalf("the guest's reason is not in the host log:\n%s", guestLogs.String())
	}
}

// logged reports whether the host logged a line from plugin that contains msg.
func logged(plugin, msg string) bool {
	for _, l := range strings.Split(guestLogs.String(), "\n") {
		if strings.Contains(l, msg) && strings.Contains(l, "plugin="+plugin+" ") {
			return true
		}
	}
	return false
}

func TestE2EICMPResponder(t *testing.T) {
	ours := sdktest.MAC("02:00:00:00:00:01")
	p := run(t, "icmp-responder", goPlugin(t, "icmp-responder"), `{"mac":"02:00:00:00:00:01","ips":["10.0.0.1","fd00::1"]}`)
	echo := func(src, dst []byte, s, d string, ttl uint8, typ uint8) []byte {
		return sdktest.Frame(t, eth(src, dst, layers.EthernetTypeIPv4),
			&layers.IPv4{Version: 4, IHL: 5, TTL: ttl, Id: 7, Protocol: layers.IPProtocolICMPv4, SrcIP: sdktest.IP(s), DstIP: sdktest.IP(d)},
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0), Id: 1, Seq: 2}, gopacket.Payload("abcdefghijklmnopqrstuvwxyz0123456789"))
	}
	ns := sdktest.Frame(t, eth(macA, sdktest.MAC("33:33:ff:00:00:01"), layers.EthernetTypeIPv6),
		&layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: sdktest.IP("fd00::9"), DstIP: sdktest.IP("ff02::1:ff00:1")},
		&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborSolicitation, 0)},
		&layers.ICMPv6NeighborSolicitation{TargetAddress: sdktest.IP("fd00::1")})
	na := sdktest.Frame(t, eth(ours, macA, layers.EthernetTypeIPv6),
		&layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: sdktest.IP("fd00::1"), DstIP: sdktest.IP("fd00::9")},
		&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborAdvertisement, 0)},
		&layers.ICMPv6NeighborAdvertisement{Flags: 0x60, TargetAddress: sdktest.IP("fd00::1"),
			Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptTargetAddress, Data: ours}}})
	arpReply := sdktest.Frame(t, eth(ours, macA, layers.EthernetTypeARP),
		&layers.ARP{AddrType: 1, Protocol: 0x0800, HwAddressSize: 6, ProtAddressSize: 4, Operation: 2,
			SourceHwAddress: ours, SourceProtAddress: []byte{10, 0, 0, 1}, DstHwAddress: macA, DstProtAddress: []byte{10, 0, 0, 9}})
	other := udp4(t, "1.1.1.1", "2.2.2.2", 1, 2)

	b := burst(arpFrame(t), echo(macA, ours, "10.0.0.9", "10.0.0.1", 3, 8), ns, other)
	p.Process(b)
	wantVerdicts(t, b, abi.TX, abi.TX, abi.TX, abi.Pass)
	// The NS had no options (78 bytes); the NA has a target link-layer
	// option (86 bytes): the packet grew into its tailroom through the host.
	for i, want := range [][]byte{arpReply, echo(ours, macA, "10.0.0.1", "10.0.0.9", 64, 0), na, other} {
		if got := b.Packets[i].Data(); !bytes.Equal(got, want) {
			t.Errorf("packet %d\n got % x\nwant % x", i, got, want)
		}
	}
	noInvalid(t, p)
}

func TestE2EVLAN(t *testing.T) {
	untagged := udp4(t, "1.1.1.1", "2.2.2.2", 1, 2)
	tagged := sdktest.Frame(t, eth(macA, macB, layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 100, Priority: 3, Type: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, IHL: 5, TTL: 9, Protocol: layers.IPProtocolUDP, SrcIP: sdktest.IP("1.1.1.1"), DstIP: sdktest.IP("2.2.2.2")},
		&layers.UDP{SrcPort: 1, DstPort: 2}, gopacket.Payload("payload that makes the frame longer than sixty bytes"))
	wasm := goPlugin(t, "vlan")

	push := run(t, "vlan-push", wasm, `{"action":"push","vid":100,"pcp":3}`)
	b := burst(untagged)
	push.Process(b)
	wantVerdicts(t, b, abi.Pass)
	// The host moved the packet's start into the headroom by the tag's 4 bytes.
	if pk := b.Packets[0]; pk.Off != room-4 || !bytes.Equal(pk.Data(), tagged) {
		t.Fatalf("pushed: off %d\n got % x\nwant % x", pk.Off, pk.Data(), tagged)
	}

	pop := run(t, "vlan-pop", wasm, `{"action":"pop","verdict":"tx"}`)
	b = burst(tagged)
	pop.Process(b)
	wantVerdicts(t, b, abi.TX)
	if pk := b.Packets[0]; pk.Off != room+4 || !bytes.Equal(pk.Data(), untagged) {
		t.Fatalf("popped: off %d % x", pk.Off, pk.Data())
	}
	noInvalid(t, push)
	noInvalid(t, pop)
}

func TestE2ERateLimitSurvivesReload(t *testing.T) {
	wasm := goPlugin(t, "ratelimit")
	// The host's clock runs on: a deep bucket and a slow rate keep the test
	// independent of how long the reload takes (under -race, seconds).
	cfg := `{"rate":1,"burst":100}`
	p := run(t, "ratelimit", wasm, cfg)
	a, z := udp4(t, "10.0.0.1", "2.2.2.2", 1, 2), udp4(t, "10.0.0.2", "2.2.2.2", 1, 2)
	frames := make([][]byte, 0, 102)
	for range 101 {
		frames = append(frames, a)
	}
	b := burst(append(frames, z)...)
	p.Process(b)
	want := make([]abi.Verdict, 102)
	for i := range want {
		want[i] = abi.Pass
	}
	want[100] = abi.Drop
	wantVerdicts(t, b, want...)

	ctx := context.Background()
	m, err := getEngine(t).Load(ctx, "ratelimit-v2", wasm, pluginConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	if err := p.Replace(ctx, 0, m); err != nil {
		t.Fatalf("replace: %v", err)
	}
	// A fresh limiter would pass 50 packets of a; the inherited bucket was
	// empty and refills at one token per second.
	b = burst(frames[:50]...)
	p.Process(b)
	passed := 0
	for _, v := range verdicts(b) {
		if v == abi.Pass {
			passed++
		}
	}
	if passed >= 50 {
		t.Fatalf("all %d packets passed after the reload: the buckets were not handed over", passed)
	}
	var s struct{ Passed, Dropped, Sources uint64 }
	json.Unmarshal(control(t, p, `{"op":"stats"}`), &s)
	if s.Sources != 2 || s.Passed != uint64(101+passed) || s.Dropped != uint64(1+50-passed) {
		t.Fatalf("stats after reload %+v (passed %d of 50)", s, passed)
	}
}

// tablePlugin loads the C plugin name with its tables scoped to the test
// ("e2e-"+name), closed when the test ends, and returns it with a lookup of
// its tables that fails the test on a missing one.
func tablePlugin(t *testing.T, name string) (*host.Module, func(table string) *table.Table) {
	t.Helper()
	ctx := context.Background()
	e := getEngine(t)
	cfg := pluginConfig("")
	cfg.TableScope = "e2e-" + name
	m, err := e.Load(ctx, name, cPlugin(t, name), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(ctx) })
	return m, func(tn string) *table.Table {
		t.Helper()
		tb := e.Tables().Get(m.TableKey(tn))
		if tb == nil {
			t.Fatalf("%s: no table %s", name, tn)
		}
		return tb
	}
}
