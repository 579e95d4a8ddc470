package plugins_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/host/table"
)

// TestE2ERoute: the C route plugin forwards by tables the control plane
// fills: the longest IPv4 prefix first, then the ingress port's default; a
// change is seen at the next burst, a reload keeps the tables, and 100,000
// routes load at once.
func TestE2ERoute(t *testing.T) {
	ctx := context.Background()
	load := func() *host.Module { m, _ := tablePlugin(t, "route"); return m }
	m, get := tablePlugin(t, "route")
	routes, ports := get("routes"), get("ports")
	if routes.Spec().MaxEntries != 100000 {
		t.Fatalf("tables: %v %v", routes, ports)
	}
	if routes.Clear() != nil || ports.Clear() != nil { // the engine, and so the tables, outlive one run (-count)
		t.Fatal("clear")
	}
	p, err := host.NewPipeline(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	pfx := func(s string) []byte {
		p := netip.MustParsePrefix(s)
		return append(p.Addr().AsSlice(), byte(p.Bits()))
	}
	put := func(tb *table.Table, key []byte, action ...byte) {
		t.Helper()
		if err := tb.Apply([]table.Op{{Key: key, Value: append(action, make([]byte, 4-len(action))...)}}); err != nil {
			t.Fatal(err)
		}
	}
	put(routes, pfx("10.0.0.0/8"), 1)
	put(routes, pfx("10.0.0.2/32"), 2)
	put(routes, pfx("10.0.0.3/32"), 0) // pass, before port 0's default
	frames := func() *host.Burst {
		return burst(udp4(t, "10.9.9.9", "10.0.0.1", 1, 2), udp4(t, "10.9.9.9", "10.0.0.2", 1, 2),
			udp4(t, "10.9.9.9", "10.0.0.3", 1, 2), arpFrame(t))
	}
	b := frames()
	p.Process(b)
	wantVerdicts(t, b, abi.Drop, abi.TX, abi.Pass, abi.Pass)

	put(ports, []byte{0, 0, 0, 0}, 1) // port 0's default: drop
	b = frames()
	p.Process(b)
	wantVerdicts(t, b, abi.Drop, abi.TX, abi.Pass, abi.Drop)

	if err := p.Replace(ctx, 0, load()); err != nil {
		t.Fatal(err)
	}
	b = frames()
	p.Process(b)
	wantVerdicts(t, b, abi.Drop, abi.TX, abi.Pass, abi.Drop) // the tables outlived the reload
	noInvalid(t, p)

	// 100,000 routes in one all-or-nothing batch: 99,999 /32s under
	// 10.1.0.0/16 -> TX, and 10.0.0.0/8 -> DROP.
	if err := routes.Clear(); err != nil {
		t.Fatal(err)
	}
	ops := make([]table.Op, 100000)
	for i := range ops[:99999] {
		ops[i] = table.Op{Key: append(binary.BigEndian.AppendUint32(nil, 0x0a010000+uint32(i)), 32), Value: []byte{2, 0, 0, 0}}
	}
	ops[99999] = table.Op{Key: pfx("10.0.0.0/8"), Value: []byte{1, 0, 0, 0}}
	if err := routes.Apply(ops); err != nil {
		t.Fatal(err)
	}
	if err := routes.Apply([]table.Op{{Key: pfx("10.0.0.1/32"), Value: []byte{1, 0, 0, 0}}}); err == nil {
		t.Fatal("a put into the full table was accepted")
	}
	var fs [][]byte
	for _, i := range []int{0, 1, 4242, 65535, 65536, 99998} {
		fs = append(fs, udp4(t, "10.9.9.9", fmt.Sprintf("10.%d.%d.%d", 1+(i>>16), (i>>8)&255, i&255), 1, 2))
	}
	fs = append(fs, udp4(t, "10.9.9.9", "10.2.255.255", 1, 2)) // only the /8 covers it
	fs = append(fs, udp4(t, "10.9.9.9", "192.0.2.1", 1, 2))    // no route: port 0's default
	b = burst(fs...)
	p.Process(b)
	wantVerdicts(t, b, abi.TX, abi.TX, abi.TX, abi.TX, abi.TX, abi.TX, abi.Drop, abi.Drop)
}
