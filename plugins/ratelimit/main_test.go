package main

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/memif-wasm/memif-wasm/sdk"
	"github.com/memif-wasm/memif-wasm/sdk/sdktest"
)

const ms = 1_000_000

func newLimiter(t testing.TB, cfg string) *limiter {
	t.Helper()
	l := new(limiter)
	if err := l.Init([]byte(cfg)); err != nil {
		t.Fatalf("Init(%s): %v", cfg, err)
	}
	return l
}

func from(t testing.TB, src string) []byte {
	eth := &layers.Ethernet{SrcMAC: sdktest.MAC("02:00:00:00:00:01"), DstMAC: sdktest.MAC("02:00:00:00:00:02")}
	ip := sdktest.IP(src)
	if len(ip) == 4 {
		eth.EthernetType = layers.EthernetTypeIPv4
		return sdktest.Frame(t, eth, &layers.IPv4{Version: 4, IHL: 5, TTL: 9, Protocol: layers.IPProtocolUDP, SrcIP: ip, DstIP: sdktest.IP("9.9.9.9")},
			&layers.UDP{SrcPort: 40000, DstPort: 40001})
	}
	eth.EthernetType = layers.EthernetTypeIPv6
	return sdktest.Frame(t, eth, &layers.IPv6{Version: 6, HopLimit: 9, NextHeader: layers.IPProtocolUDP, SrcIP: ip, DstIP: sdktest.IP("fd00::9")},
		&layers.UDP{SrcPort: 40000, DstPort: 40001})
}

func run(t testing.TB, l *limiter, now uint64, frames ...[]byte) []sdk.Verdict {
	t.Helper()
	b := sdktest.Burst(now, frames...)
	if err := l.Process(b); err != nil {
		t.Fatal(err)
	}
	return sdktest.Verdicts(b)
}

func repeat(f []byte, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = f
	}
	return out
}

var (
	P = sdk.Pass
	D = sdk.Drop
)

func TestTokenBucket(t *testing.T) {
	l := newLimiter(t, `{"rate":10,"burst":3}`)
	a, z := from(t, "10.0.0.1"), from(t, "fd00::1")
	const t0 = 5_000 * ms
	if v := run(t, l, t0, repeat(a, 5)...); !slices.Equal(v, []sdk.Verdict{P, P, P, D, D}) {
		t.Fatalf("burst: %v", v)
	}
	if v := run(t, l, t0, z, z); !slices.Equal(v, []sdk.Verdict{P, P}) {
		t.Fatalf("another source shares the bucket: %v", v)
	}
	// 10 pps: one token per 100 ms.
	if v := run(t, l, t0+99*ms, a); !slices.Equal(v, []sdk.Verdict{D}) {
		t.Fatalf("after 99 ms: %v", v)
	}
	if v := run(t, l, t0+100*ms, a, a); !slices.Equal(v, []sdk.Verdict{P, D}) {
		t.Fatalf("after 100 ms: %v", v)
	}
	// An idle hour fills the bucket to burst, not beyond.
	if v := run(t, l, t0+3600_000*ms, repeat(a, 4)...); !slices.Equal(v, []sdk.Verdict{P, P, P, D}) {
		t.Fatalf("after an hour: %v", v)
	}
	if l.stats.Sources != 2 || l.stats.Passed != 9 || l.stats.Dropped != 5 {
		t.Fatalf("stats %+v", l.stats)
	}
}

func TestClockBehindState(t *testing.T) {
	l := newLimiter(t, `{"rate":10,"burst":1}`)
	a := from(t, "10.0.0.1")
	run(t, l, 1000*ms, a)
	// A clock that went back (a successor in another process) refills from
	// the new time on instead of never.
	if v := run(t, l, 10*ms, a); !slices.Equal(v, []sdk.Verdict{D}) {
		t.Fatalf("at the earlier time: %v", v)
	}
	if v := run(t, l, 110*ms, a); !slices.Equal(v, []sdk.Verdict{P}) {
		t.Fatalf("100 ms later: %v", v)
	}
}

func TestNonIP(t *testing.T) {
	arp := make([]byte, 60)
	arp[12], arp[13] = 0x08, 0x06
	if v := run(t, newLimiter(t, `{"rate":1,"burst":1}`), 1, arp, arp); !slices.Equal(v, []sdk.Verdict{P, P}) {
		t.Fatalf("non-IP default: %v", v)
	}
	if v := run(t, newLimiter(t, `{"rate":1,"non_ip":"drop"}`), 1, arp); !slices.Equal(v, []sdk.Verdict{D}) {
		t.Fatalf("non-IP drop: %v", v)
	}
}

func TestEviction(t *testing.T) {
	l := newLimiter(t, `{"rate":1,"burst":1,"max_sources":4}`)
	var frames [][]byte
	for i := range 100 {
		frames = append(frames, from(t, "10.1."+itoa(i/250)+"."+itoa(i%250+1)))
	}
	for i, v := range run(t, l, 1, frames...) {
		if v != P {
			t.Fatalf("first packet of source %d: %v", i, v)
		}
	}
	if l.stats.Sources > len(l.table) || l.stats.Evicted == 0 || l.stats.Sources+int(l.stats.Evicted) != 100 {
		t.Fatalf("table of %d: %+v", len(l.table), l.stats)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestStateSurvivesReload(t *testing.T) {
	cfg := `{"rate":10,"burst":2}`
	old := newLimiter(t, cfg)
	a, z := from(t, "10.0.0.1"), from(t, "fd00::7")
	run(t, old, 1000*ms, a, a, a, z)
	st, err := old.SaveState(nil)
	if err != nil {
		t.Fatal(err)
	}
	next := newLimiter(t, cfg)
	if err := next.LoadState(st); err != nil {
		t.Fatal(err)
	}
	// a spent its bucket; z has one token left: a fresh limiter would pass both.
	if v := run(t, next, 1000*ms, a, z, z); !slices.Equal(v, []sdk.Verdict{D, P, D}) {
		t.Fatalf("after reload: %v", v)
	}
	if next.stats.Sources != 2 || next.stats.Passed != 4 || next.stats.Dropped != 3 {
		t.Fatalf("stats after reload %+v", next.stats)
	}
	// A successor with a shallower bucket caps the tokens it inherits.
	shallow := newLimiter(t, `{"rate":10,"burst":1}`)
	st2, _ := newLimiterState(t, `{"rate":10,"burst":5}`, z)
	if err := shallow.LoadState(st2); err != nil {
		t.Fatal(err)
	}
	if v := run(t, shallow, 1000*ms, z, z); !slices.Equal(v, []sdk.Verdict{P, D}) {
		t.Fatalf("capped tokens: %v", v)
	}
}

func newLimiterState(t testing.TB, cfg string, frames ...[]byte) ([]byte, *limiter) {
	l := newLimiter(t, cfg)
	run(t, l, 1000*ms, frames...)
	st, err := l.SaveState(nil)
	if err != nil {
		t.Fatal(err)
	}
	return st, l
}

func TestBadState(t *testing.T) {
	st, _ := newLimiterState(t, `{"rate":10}`, from(t, "10.0.0.1"))
	l := newLimiter(t, `{"rate":10}`)
	for name, bad := range map[string][]byte{
		"magic":     append([]byte("XXXX"), st[4:]...),
		"short":     st[:len(st)-1],
		"long":      append(st, 0),
		"header":    st[:10],
		"count":     append(append([]byte(nil), st[:20]...), 0xff, 0xff, 0xff, 0x7f),
		"no config": nil,
	} {
		target := l
		if name == "no config" {
			target, bad = new(limiter), st
		}
		if err := target.LoadState(bad); err == nil {
			t.Errorf("%s: corrupt state accepted", name)
		}
	}
	if err := l.LoadState(nil); err != nil {
		t.Errorf("empty state: %v", err)
	}
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []string{``, `{}`, `{"rate":0}`, `{"rate":2000000000}`, `{"rate":1,"burst":2000000}`,
		`{"rate":1,"max_sources":-1}`, `{"rate":1,"max_sources":100000000}`, `{"rate":1,"non_ip":"tx"}`, `{"rate":-5}`} {
		if err := new(limiter).Init([]byte(cfg)); err == nil {
			t.Errorf("Init(%s) accepted", cfg)
		}
	}
	if err := new(limiter).Process(sdktest.Burst(1)); err == nil {
		t.Error("Process without config succeeded")
	}
}

func TestControlStats(t *testing.T) {
	l := newLimiter(t, `{"rate":1,"burst":1}`)
	run(t, l, 1, from(t, "10.0.0.1"), from(t, "10.0.0.1"))
	out, err := l.Control([]byte(`{"op":"stats"}`), nil)
	var s Stats
	if err != nil || json.Unmarshal(out, &s) != nil || s != (Stats{Sources: 1, Passed: 1, Dropped: 1}) {
		t.Fatalf("stats %s %v", out, err)
	}
	if _, err := l.Control([]byte(`{"op":"reset"}`), nil); err == nil {
		t.Fatal("unknown op accepted")
	}
}

func TestProcessAllocations(t *testing.T) {
	l := newLimiter(t, `{"rate":1000}`)
	b := sdktest.Burst(1, from(t, "10.0.0.1"), from(t, "fd00::1"))
	if n := testing.AllocsPerRun(100, func() { l.Process(b) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func BenchmarkProcess256Sources(b *testing.B) {
	l := newLimiter(b, `{"rate":1000000000,"burst":1000000}`)
	var frames [][]byte
	for i := range 256 {
		frames = append(frames, from(b, "10.2."+itoa(i/200)+"."+itoa(i%200+1)))
	}
	burst := sdktest.Burst(1, frames...)
	b.ReportAllocs()
	for b.Loop() {
		l.Process(burst)
	}
}

func FuzzLoadState(f *testing.F) {
	st, _ := newLimiterState(f, `{"rate":10}`, nil...)
	f.Add(st)
	f.Add([]byte("RLS1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l := new(limiter)
		if err := l.Init([]byte(`{"rate":10,"max_sources":16}`)); err != nil {
			t.Fatal(err)
		}
		if l.LoadState(b) == nil && l.stats.Sources > len(l.table) {
			t.Fatal("more sources than slots")
		}
	})
}

func FuzzConfig(f *testing.F) {
	f.Add([]byte(`{"rate":1000,"burst":100,"max_sources":16,"non_ip":"drop"}`))
	f.Add([]byte(`{"rate":1000000000,"burst":1000000}`))
	f.Fuzz(func(t *testing.T, cfg []byte) {
		l := new(limiter)
		if l.Init(cfg) != nil {
			return
		}
		if l.rate == 0 || l.capacity == 0 || len(l.table) == 0 || len(l.table)&(len(l.table)-1) != 0 {
			t.Fatalf("accepted %s into rate %d capacity %d table %d", cfg, l.rate, l.capacity, len(l.table))
		}
		if len(l.table) > 2*maxSources {
			t.Fatalf("table of %d slots", len(l.table))
		}
	})
}
