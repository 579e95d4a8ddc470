package main

import (
	"encoding/json"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/memif-wasm/memif-wasm/sdk/sdktest"
)

var (
	macA = sdktest.MAC("02:00:00:00:00:0a")
	macB = sdktest.MAC("02:00:00:00:00:0b")
)

func frames(t *testing.T) [][]byte {
	eth := func(et layers.EthernetType) *layers.Ethernet {
		return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: et}
	}
	v4 := func(p layers.IPProtocol) *layers.IPv4 {
		return &layers.IPv4{Version: 4, IHL: 5, TTL: 9, Protocol: p, SrcIP: sdktest.IP("1.1.1.1"), DstIP: sdktest.IP("2.2.2.2")}
	}
	v6 := &layers.IPv6{Version: 6, HopLimit: 9, NextHeader: layers.IPProtocolUDP, SrcIP: sdktest.IP("fd00::1"), DstIP: sdktest.IP("fd00::2")}
	return [][]byte{
		sdktest.Frame(t, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolTCP), &layers.TCP{SrcPort: 1, DstPort: 2}),
		sdktest.Frame(t, eth(layers.EthernetTypeIPv4), v4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 2}),
		sdktest.Frame(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 5, Type: layers.EthernetTypeIPv6}, v6, &layers.UDP{SrcPort: 1, DstPort: 2}),
		sdktest.Frame(t, eth(layers.EthernetTypeARP), &layers.ARP{AddrType: 1, Protocol: 0x0800, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: 1, SourceHwAddress: macA, SourceProtAddress: []byte{1, 1, 1, 1}, DstHwAddress: make([]byte, 6), DstProtAddress: []byte{2, 2, 2, 2}}),
		{1, 2, 3},
	}
}

func get(t *testing.T, c *counter, req string) Counts {
	t.Helper()
	out, err := c.Control([]byte(req), nil)
	if err != nil {
		t.Fatalf("Control(%q): %v", req, err)
	}
	var r Counts
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("reply %q: %v", out, err)
	}
	return r
}

func TestCounts(t *testing.T) {
	c := new(counter)
	fs := frames(t)
	var total uint64
	for _, f := range fs {
		total += uint64(len(f))
	}
	for range 2 {
		b := sdktest.Burst(1, fs...)
		if err := c.Process(b); err != nil {
			t.Fatal(err)
		}
		for i, v := range sdktest.Verdicts(b) {
			if v != 2 {
				t.Fatalf("packet %d verdict %v", i, v)
			}
		}
	}
	r := get(t, c, `{"op":"get"}`)
	if r.Packets != 10 || r.Bytes != 2*total || r.VLANTagged != 2 || r.NonEthernet != 2 {
		t.Fatalf("totals %+v", r)
	}
	want := map[string]uint64{"0x0800": 4, "0x86dd": 2, "0x0806": 2}
	for k, v := range want {
		if r.EtherTypes[k] != v {
			t.Errorf("ethertype %s = %d, want %d (%v)", k, r.EtherTypes[k], v, r.EtherTypes)
		}
	}
	if len(r.EtherTypes) != len(want) || r.IPProtocols["6"] != 2 || r.IPProtocols["17"] != 4 || len(r.IPProtocols) != 2 {
		t.Errorf("ethertypes %v protocols %v", r.EtherTypes, r.IPProtocols)
	}
	if got := get(t, c, ""); got.Packets != 10 {
		t.Fatal("empty message is not get")
	}
	if got := get(t, c, `{"op":"reset"}`); got.Packets != 10 {
		t.Fatal("reset does not return the counts before it")
	}
	if got := get(t, c, `{"op":"get"}`); got.Packets != 0 || len(got.EtherTypes) != 0 {
		t.Fatalf("after reset %+v", got)
	}
}

func TestEtherTypeTableOverflow(t *testing.T) {
	c := new(counter)
	b := sdktest.Burst(1)
	for i := range 200 {
		f := make([]byte, 14)
		f[12], f[13] = byte(0x90+i/256), byte(i)
		b.Add(f)
	}
	c.Process(b)
	r := get(t, c, "")
	if len(r.EtherTypes) != etherSlots+1 || r.EtherTypes["other"] != 200-etherSlots {
		t.Fatalf("%d ethertypes, other %d", len(r.EtherTypes), r.EtherTypes["other"])
	}
}

func TestBadControl(t *testing.T) {
	c := new(counter)
	for _, req := range []string{`{"op":"delete"}`, `not json`, `{"op":`} {
		if _, err := c.Control([]byte(req), nil); err == nil {
			t.Errorf("Control(%q) accepted", req)
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	c := new(counter)
	c.Process(sdktest.Burst(1, frames(t)...))
	st, err := c.SaveState(nil)
	if err != nil {
		t.Fatal(err)
	}
	next := new(counter)
	if err := next.LoadState(st); err != nil {
		t.Fatal(err)
	}
	a, _ := c.Control(nil, nil)
	z, _ := next.Control(nil, nil)
	if string(a) != string(z) {
		t.Fatalf("state lost:\n%s\n%s", a, z)
	}
	for _, bad := range [][]byte{[]byte("CNT2"), st[:len(st)-1], append([]byte("XXXX"), st[4:]...), append(st, 0)} {
		if err := next.LoadState(bad); err == nil {
			t.Errorf("LoadState accepted %d corrupt bytes", len(bad))
		}
	}
}

func TestProcessAllocations(t *testing.T) {
	c := new(counter)
	b := sdktest.Burst(1, frames(t)...)
	if n := testing.AllocsPerRun(100, func() { c.Process(b) }); n != 0 {
		t.Fatalf("Process allocates %v times", n)
	}
}

func FuzzLoadState(f *testing.F) {
	c := new(counter)
	st, _ := c.SaveState(nil)
	f.Add(st)
	f.Add([]byte("CNT1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c counter
		_ = c.LoadState(b)
	})
}
