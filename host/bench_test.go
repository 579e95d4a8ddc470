package host

import (
	"context"
	"fmt"
	"testing"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
	"github.com/memif-wasm/memif-wasm/host/internal/mmap"
)

// benchBurst lays n packets of size bytes out in a memfd-backed region the way
// a memif slave's buffer region looks (2 KiB buffers, or 64 KiB... no: one
// buffer per packet, rounded to 2 KiB).
func benchBurst(b *testing.B, n, size int) (*Burst, int, []byte) {
	b.Helper()
	stride := (size + 128 + 2047) &^ 2047
	region := mmap.RoundUp(n * stride)
	fd, err := mmap.Memfd("bench", region)
	if err != nil {
		b.Skipf("no memfd: %v", err)
	}
	b.Cleanup(func() { mmap.Close(fd) })
	peer, err := mmap.MapFile(fd, region)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { mmap.UnmapFile(peer) })
	pkts := make([]Packet, n)
	for i := range pkts {
		off := uint32(i * stride)
		pkts[i] = Packet{Buf: peer[off : off+uint32(stride)], Off: 128, Len: uint32(size), Region: 1, BufOffset: off}
		copy(pkts[i].Buf[128:], udpFrame(uint16(80+i%4*-9)))
	}
	return &Burst{Packets: pkts}, fd, peer
}

func reportPerPacket(b *testing.B, n int) {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(n)
	b.ReportMetric(ns, "ns/pkt")
	b.ReportMetric(1e3/ns, "Mpps")
}

type benchGuest struct {
	name string
	wasm func(b *testing.B) []byte
	cfg  *PluginConfig
}

func BenchmarkBurst(b *testing.B) {
	guests := []benchGuest{
		{"wat-nop", func(b *testing.B) []byte { return hosttest.WAT(b, readTestdata(b, "nop.wat")) }, nil},
		{"c-filter", func(b *testing.B) []byte {
			return hosttest.C(b, readTestdata(b, "filter.c"), "-Wl,--max-memory=33554432")
		}, &PluginConfig{MaxMemoryPages: 512}},
		{"go-nop", func(b *testing.B) []byte { return hosttest.Go(b, readTestdata(b, "goguest.go.txt")) }, nil},
		{"rust-filter", func(b *testing.B) []byte { return hosttest.Rust(b, readTestdata(b, "filter.rs")) }, nil},
	}
	for _, n := range []int{32, 256} {
		for _, size := range []int{64, 1500} {
			b.Run(fmt.Sprintf("native-go/n=%d/%dB", n, size), func(b *testing.B) {
				burst, _, _ := benchBurst(b, n, size)
				b.ReportAllocs()
				for b.Loop() {
					nativeFilter(burst)
				}
				reportPerPacket(b, n)
			})
			for _, g := range guests {
				for _, placement := range []Placement{PlacementCopy, PlacementZeroCopy} {
					b.Run(fmt.Sprintf("%s/%s/n=%d/%dB", g.name, placement, n, size), func(b *testing.B) {
						e, _ := newCachedEngine(b, nil)
						p := pipeline(b, load(b, e, g.wasm(b), g.cfg))
						burst, fd, peer := benchBurst(b, n, size)
						if placement == PlacementZeroCopy {
							if pl, err := p.AttachRegion(1, fd, RegionFacts{Size: len(peer)}); err != nil || pl != PlacementZeroCopy {
								b.Fatalf("attach: %v %v", pl, err)
							}
						}
						b.ReportAllocs()
						for b.Loop() {
							p.Process(burst)
						}
						reportPerPacket(b, n)
						if burst.Packets[0].Verdict != abi.Pass {
							b.Fatalf("verdict %v", burst.Packets[0].Verdict)
						}
					})
				}
			}
		}
	}
}

// nativeFilter is the C filter's logic as a Go function: the baseline cost
// of deciding a verdict without any sandbox.
func nativeFilter(b *Burst) {
	for i := range b.Packets {
		p := &b.Packets[i]
		d := p.Buf[p.Off : p.Off+p.Len]
		p.Verdict = abi.Pass
		if len(d) >= 38 && d[12] == 8 && d[13] == 0 && d[23] == 17 && d[36] == 0 && d[37] == 53 {
			p.Verdict = abi.Drop
		}
	}
}

func BenchmarkInstantiate(b *testing.B) {
	e, _ := newEngine(b)
	m := load(b, e, hosttest.C(b, readTestdata(b, "filter.c"), "-Wl,--max-memory=33554432"), &PluginConfig{MaxMemoryPages: 512})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		in, err := m.Instantiate(ctx)
		if err != nil {
			b.Fatal(err)
		}
		in.Close(ctx)
	}
}
