package plugins_test

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/host/table"
)

// TestE2EConntrack: the C conntrack plugin records inside flows itself
// (mw_table_put, published by the host after the burst), passes replies to
// recorded flows on another worker, drops the rest, and counts; the control
// plane sees and expires flows.
func TestE2EConntrack(t *testing.T) {
	ctx := context.Background()
	m, get := tablePlugin(t, "conntrack")
	flows, stats := get("flows"), get("stats")
	if flows.Clear() != nil || stats.Clear() != nil { // the engine, and so the tables, outlive one run (-count)
		t.Fatal("clear")
	}
	inside, outside := make([]*host.Pipeline, 2), make([]*host.Pipeline, 2)
	var err error
	for i := range inside {
		if inside[i], err = host.NewPipeline(ctx, m); err != nil {
			t.Fatal(err)
		}
		defer inside[i].Close(ctx)
		if outside[i], err = host.NewPipeline(ctx, m); err != nil {
			t.Fatal(err)
		}
		defer outside[i].Close(ctx)
	}
	from := func(port uint16, frames ...[]byte) *host.Burst {
		b := burst(frames...)
		for i := range b.Packets {
			b.Packets[i].InPort = port
		}
		return b
	}
	out := udp4(t, "10.0.0.5", "192.0.2.9", 40000, 53)
	reply := udp4(t, "192.0.2.9", "10.0.0.5", 53, 40000)
	stranger := udp4(t, "192.0.2.9", "10.0.0.5", 53, 40001)

	b := from(1, reply)
	outside[0].Process(b)
	wantVerdicts(t, b, abi.Drop) // no flow yet

	b = from(0, out)
	inside[0].Process(b)
	wantVerdicts(t, b, abi.Pass)
	flows.Flush()
	if got := flows.Stats().Entries; got != 1 {
		t.Fatalf("%d flows recorded, want 1", got)
	}
	for _, p := range outside { // every worker sees the flow
		b = from(1, reply, stranger)
		p.Process(b)
		wantVerdicts(t, b, abi.Pass, abi.Drop)
	}
	b = from(0, out)
	inside[1].Process(b) // known now: no new put
	flows.Flush()

	key := append(netip.MustParseAddr("10.0.0.5").AsSlice(), netip.MustParseAddr("192.0.2.9").AsSlice()...)
	key = binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(append(key, 17), 40000), 53)
	val := make([]byte, 8)
	if ok, err := flows.Get(key, val); !ok || err != nil || binary.LittleEndian.Uint64(val) == 0 {
		t.Fatalf("flow as the control plane reads it: %v %v %x", ok, err, val)
	}
	counters := func() [5]uint64 {
		var c [5]uint64
		for i := range c {
			if _, err := stats.Get(binary.LittleEndian.AppendUint32(nil, uint32(i)), val); err != nil {
				t.Fatal(err)
			}
			c[i] = binary.LittleEndian.Uint64(val)
		}
		return c
	}
	// inside 2, recorded 1, replies 2, dropped 3, queue full 0.
	if got, want := counters(), [5]uint64{2, 1, 2, 3, 0}; got != want {
		t.Fatalf("stats %v, want %v", got, want)
	}
	// The control plane expires the flow: replies drop again.
	if err := flows.Apply([]table.Op{{Delete: true, Key: key}}); err != nil {
		t.Fatal(err)
	}
	b = from(1, reply)
	outside[1].Process(b)
	wantVerdicts(t, b, abi.Drop)
	noInvalid(t, inside[0])
}
