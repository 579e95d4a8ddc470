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

// aclKey is the acl-tables flows key: source, destination, protocol, 0,
// destination port (network order).
func aclKey(src, dst string, proto byte, dport uint16) []byte {
	k := append(netip.MustParseAddr(src).AsSlice(), netip.MustParseAddr(dst).AsSlice()...)
	return binary.BigEndian.AppendUint16(append(k, proto, 0), dport)
}

func aclRule(action byte, id uint16) []byte {
	return binary.LittleEndian.AppendUint16([]byte{action, 0}, id)
}

// TestE2EACLTables: the C acl-tables plugin with 100,000 exact rules and
// a few source prefixes: exact rules first, then the longest source prefix,
// else pass; per-rule hit counters summed over two workers.
func TestE2EACLTables(t *testing.T) {
	ctx := context.Background()
	m, get := tablePlugin(t, "acl-tables")
	flows, sources, hits := get("flows"), get("sources"), get("hits")
	if flows.Clear() != nil || sources.Clear() != nil || hits.Clear() != nil { // the tables outlive one run (-count)
		t.Fatal("clear")
	}

	// 100,000 exact rules: UDP from 99,999 sources in 10.1.0.0/15 to
	// 192.0.2.1 port 53 denied (rule id 7), and one allow for 10.0.0.1 (id 8)
	// that overrides the prefix below.
	ops := make([]table.Op, 0, 100000)
	for i := range 99999 {
		src := netip.AddrFrom4([4]byte{10, 1 + byte(i>>16), byte(i >> 8), byte(i)}).String()
		ops = append(ops, table.Op{Key: aclKey(src, "192.0.2.1", 17, 53), Value: aclRule(2, 7)})
	}
	ops = append(ops, table.Op{Key: aclKey("10.0.0.1", "192.0.2.1", 17, 53), Value: aclRule(1, 8)})
	if err := flows.Apply(ops); err != nil {
		t.Fatal(err)
	}
	if err := sources.Apply([]table.Op{{Key: []byte{10, 0, 0, 0, 16}, Value: aclRule(2, 9)}}); err != nil {
		t.Fatal(err)
	}
	p1, err := host.NewPipeline(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	defer p1.Close(ctx)
	p2, err := host.NewPipeline(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close(ctx)

	frames := func() *host.Burst {
		return burst(
			udp4(t, "10.1.0.5", "192.0.2.1", 1000, 53),  // exact deny, id 7
			udp4(t, "10.3.0.1", "192.0.2.1", 1000, 53),  // no rule: pass, id 0
			udp4(t, "10.1.0.5", "192.0.2.1", 1000, 54),  // other port: pass, id 0
			udp4(t, "10.0.0.1", "192.0.2.1", 1000, 53),  // exact allow beats the prefix, id 8
			udp4(t, "10.0.0.2", "192.0.2.1", 1000, 53),  // prefix deny, id 9
			tcp6(t, "2001:db8::1", "2001:db8::2", 1, 2), // not IPv4: pass, uncounted
		)
	}
	want := []abi.Verdict{abi.Drop, abi.Pass, abi.Pass, abi.Pass, abi.Drop, abi.Pass}
	for range 3 {
		for _, p := range []*host.Pipeline{p1, p2} {
			b := frames()
			p.Process(b)
			wantVerdicts(t, b, want...)
		}
	}
	noInvalid(t, p1)
	count := func(id uint32) uint64 {
		v := make([]byte, 8)
		if ok, err := hits.Get(binary.LittleEndian.AppendUint32(nil, id), v); !ok || err != nil {
			t.Fatalf("hits %d: %v %v", id, ok, err)
		}
		return binary.LittleEndian.Uint64(v)
	}
	for id, want := range map[uint32]uint64{0: 12, 7: 6, 8: 6, 9: 6, 1: 0} {
		if got := count(id); got != want {
			t.Errorf("hits[%d] = %d, want %d", id, got, want)
		}
	}
}
