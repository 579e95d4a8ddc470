package host

import (
	"encoding/binary"
	"testing"

	"github.com/memif-wasm/memif-wasm/host/internal/mmap"
	"github.com/memif-wasm/memif-wasm/host/table"
	"github.com/memif-wasm/memif-wasm/sdk"
)

// BenchmarkTableLookup compares a hash lookup in a table of 100,000 entries
// (8-byte keys, 32-byte values: 12.5 MB per copy) from a C guest, with plain
// loads through memif_wasm.h, with the same lookup compiled into native Go
// (sdk.Table on the host's own mapping of the same table) and with a Go map.
// Keys come from one xorshift sequence, over all entries (each lookup
// likely a cache miss) or over 4096 of them (cache-resident). Each reports
// ns/lookup; the guest runs 4096 lookups per mw_process call, so the call's
// own cost is spread over them.
//
//	go test -run XXX -bench TableLookup -count 5 ./host/
func BenchmarkTableLookup(b *testing.B) {
	for _, set := range []struct {
		name string
		keys uint64
	}{{"all-100k", 100000}, {"hot-4k", 4096}} {
		b.Run(set.name, func(b *testing.B) { benchLookup(b, set.keys) })
	}
}

func benchLookup(b *testing.B, keys uint64) {
	const entries, perCall = 100000, 4096
	e, _ := newEngine(b)
	wasm := tablesGuest(b, "-DKV_MAX=100000")
	fill := func(tb *table.Table) {
		if tb.Stats().Entries == entries {
			return
		}
		ops := make([]table.Op, entries)
		for k := range uint64(entries) {
			ops[k] = table.Op{Key: kvKey(k), Value: kvValue(k, 1)}
		}
		if err := tb.Apply(ops); err != nil {
			b.Fatal(err)
		}
	}
	for _, metered := range []bool{false, true} {
		name := "c-guest-unmetered"
		if metered {
			name = "c-guest-metered"
		}
		b.Run(name, func(b *testing.B) {
			m := load(b, e, wasm, &PluginConfig{TableScope: "bench", Unmetered: !metered})
			fill(kvTable(b, e, m, "kv"))
			p := pipeline(b, m)
			arg := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, perCall), uint32(keys))
			pk := []Packet{tablePacket('b', arg)}
			b.ResetTimer()
			for range b.N {
				pk[0] = tablePacket('b', arg)
				p.Process(&Burst{Packets: pk})
			}
			b.StopTimer()
			if pk[0].Verdict.String() != "pass" {
				b.Fatalf("guest verdict %v: some keys were not found", pk[0].Verdict)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/perCall, "ns/lookup")
		})
	}
	b.Run("go-native-same-table", func(b *testing.B) {
		m := load(b, e, wasm, &PluginConfig{TableScope: "bench"})
		tb := kvTable(b, e, m, "kv")
		fill(tb)
		var mem []byte
		err := tb.MapFD(func(fd int) (err error) { mem, err = mmap.MapFile(fd, int(tb.Layout().Bytes)); return err })
		if err != nil {
			b.Fatal(err)
		}
		defer mmap.UnmapFile(mem)
		v, err := sdk.OpenTable(mem)
		if err != nil {
			b.Fatal(err)
		}
		var key [8]byte
		x, found := uint64(88172645463325252), 0
		b.ResetTimer()
		for range b.N {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			binary.LittleEndian.PutUint64(key[:], x%keys)
			if v.Lookup(key[:]) != nil {
				found++
			}
		}
		b.StopTimer()
		if found != b.N {
			b.Fatalf("found %d of %d", found, b.N)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/lookup")
	})
	b.Run("go-map", func(b *testing.B) {
		mp := make(map[uint64][32]byte, entries)
		for k := range uint64(entries) {
			mp[k] = [32]byte(kvValue(k, 1))
		}
		x, found := uint64(88172645463325252), 0
		b.ResetTimer()
		for range b.N {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			if _, ok := mp[x%keys]; ok {
				found++
			}
		}
		b.StopTimer()
		if found != b.N {
			b.Fatalf("found %d of %d", found, b.N)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/lookup")
	})
}

// BenchmarkTableMatch is BenchmarkTableLookup for an lpm4 table of 100,000
// prefixes (a /8, its 256 /16s and 99,743 /24s: three lengths to probe, as
// a FIB has few), looked up at random addresses in 10.0.0.0/8 (about 60%
// hit a /24, the rest a /16), from a C guest and from native Go on the same
// table.
//
//	go test -run XXX -bench TableMatch -count 5 ./host/
func BenchmarkTableMatch(b *testing.B) {
	const perCall = 4096
	const span = 1 << 24
	e, _ := newEngine(b)
	wasm := tablesGuest(b, "-DPFX_MAX=100000")
	m := load(b, e, wasm, &PluginConfig{TableScope: "bench", Unmetered: true})
	tb := kvTable(b, e, m, "pfx4")
	ops := []table.Op{{Key: []byte{10, 0, 0, 0, 8}, Value: []byte{1, 0, 0, 0}}}
	for i := range 256 { // every /16 of 10/8 (a FIB has few lengths, not few prefixes per length)
		ops = append(ops, table.Op{Key: []byte{10, byte(i), 0, 0, 16}, Value: []byte{2, 0, 0, 0}})
	}
	for i := range 100000 - 257 {
		ops = append(ops, table.Op{Key: []byte{10, byte(i >> 8), byte(i), 0, 24}, Value: []byte{3, 0, 0, 0}})
	}
	if err := tb.Apply(ops); err != nil {
		b.Fatal(err)
	}
	b.Run("c-guest-unmetered", func(b *testing.B) {
		p := pipeline(b, m)
		arg := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, perCall), span)
		pk := []Packet{tablePacket('l', arg)}
		b.ResetTimer()
		for range b.N {
			pk[0] = tablePacket('l', arg)
			p.Process(&Burst{Packets: pk})
		}
		b.StopTimer()
		if pk[0].Verdict.String() != "pass" {
			b.Fatalf("guest verdict %v: some addresses did not match", pk[0].Verdict)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/perCall, "ns/lookup")
	})
	b.Run("go-native-same-table", func(b *testing.B) {
		var mem []byte
		err := tb.MapFD(func(fd int) (err error) { mem, err = mmap.MapFile(fd, int(tb.Layout().Bytes)); return err })
		if err != nil {
			b.Fatal(err)
		}
		defer mmap.UnmapFile(mem)
		v, err := sdk.OpenTable(mem)
		if err != nil {
			b.Fatal(err)
		}
		x, found := uint64(88172645463325252), 0
		var a [4]byte
		b.ResetTimer()
		for range b.N {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			binary.BigEndian.PutUint32(a[:], 0x0a000000+uint32(x%span))
			if v.Match(a[:]) != nil {
				found++
			}
		}
		b.StopTimer()
		if found != b.N {
			b.Fatalf("matched %d of %d", found, b.N)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/lookup")
	})
}
