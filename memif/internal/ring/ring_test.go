package ring

import (
	"encoding/binary"
	"errors"
	"runtime"
	"sync"
	"testing"
	"unsafe"
)

func mem(n int) []byte {
	// uint64 backing keeps the ring 8-byte aligned, as an mmap would.
	w := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), n)
}

// TestGoldenLayout pins the ring header and descriptor offsets of memif.h
// for both cache-line sizes.
func TestGoldenLayout(t *testing.T) {
	if unsafe.Sizeof(Desc{}) != DescSize || unsafe.Offsetof(Desc{}.Region) != 2 || unsafe.Offsetof(Desc{}.Length) != 4 ||
		unsafe.Offsetof(Desc{}.Offset) != 8 || unsafe.Offsetof(Desc{}.Metadata) != 12 {
		t.Fatal("descriptor layout differs from memif_desc_t")
	}
	for _, cl := range []int{64, 128} {
		b := mem(Bytes(cl, 2))
		if len(b) != 2*cl+4*16 {
			t.Fatalf("cl %d: ring of 4 takes %d bytes", cl, len(b))
		}
		r, err := New(b, cl, 2)
		if err != nil {
			t.Fatal(err)
		}
		r.Init(FlagMaskInt)
		if f := r.SetHead(0xBEEF); f != FlagMaskInt {
			t.Errorf("cl %d: SetHead reports flags %#x, want MASK_INT", cl, f)
		}
		r.SetTail(0xCAFE)
		*r.Desc(5) = Desc{Flags: DescFlagNext, Region: 0x0102, Length: 0x03040506, Offset: 0x0708090A, Metadata: 0x0B0C0D0E}
		le := binary.LittleEndian
		if le.Uint32(b[0:]) != Cookie || le.Uint16(b[4:]) != FlagMaskInt || le.Uint16(b[6:]) != 0xBEEF || le.Uint16(b[cl:]) != 0xCAFE {
			t.Errorf("cl %d: header % x", cl, b[:8])
		}
		d := b[2*cl+16:] // index 5 & mask 3 = slot 1
		if le.Uint16(d) != 1 || le.Uint16(d[2:]) != 0x0102 || le.Uint32(d[4:]) != 0x03040506 || le.Uint32(d[8:]) != 0x0708090A || le.Uint32(d[12:]) != 0x0B0C0D0E {
			t.Errorf("cl %d: descriptor % x", cl, d[:16])
		}
		if r.Head() != 0xBEEF || r.Tail() != 0xCAFE || r.Flags() != FlagMaskInt || r.Size() != 4 || r.Mask() != 3 {
			t.Errorf("cl %d: accessors disagree with the bytes", cl)
		}
	}
}

func TestNewRejects(t *testing.T) {
	b := mem(Bytes(64, 4))
	tests := []struct {
		name string
		mem  []byte
		cl   int
		log2 uint8
		want error
	}{
		{"too small", b[:len(b)-1], 64, 4, ErrTooSmall},
		{"misaligned", b[2:], 64, 1, ErrAlignment},
		{"log2 15", b, 64, 15, ErrLog2},
		{"cache line 32", b, 32, 1, ErrCacheLine},
	}
	for _, tt := range tests {
		if _, err := New(tt.mem, tt.cl, tt.log2); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

// TestHeadFlagsHammer: the slave's head and the master's flags share a
// 32-bit word; concurrent updates of one must never erase the other.
func TestHeadFlagsHammer(t *testing.T) {
	r, _ := New(mem(Bytes(64, 1)), 64, 1)
	r.Init(0)
	n := 20000
	if testing.Short() {
		n = 2000
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 1; i <= n; i++ {
			r.SetHead(uint16(i))
		}
	}()
	go func() {
		defer wg.Done()
		for i := 1; i <= n; i++ {
			r.SetFlags(uint16(i) | 0x8000)
			if f := r.Flags(); f&0x8000 == 0 {
				t.Error("flags lost")
				return
			}
		}
	}()
	wg.Wait()
	if r.Head() != uint16(n) || r.Flags() != uint16(n)|0x8000 {
		t.Fatalf("head %d flags %#x after hammer, want %d and %#x", r.Head(), r.Flags(), uint16(n), uint16(n)|0x8000)
	}
}

// TestProducerConsumerHammer runs a one-slot-at-a-time producer and
// consumer over a ring, checking every descriptor arrives intact and in
// order across index wrap-around.
func TestProducerConsumerHammer(t *testing.T) {
	r, _ := New(mem(Bytes(64, 3)), 64, 3)
	r.Init(0)
	n := 20000
	if testing.Short() {
		n = 2000
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var head uint16
		for i := 0; i < n; {
			if uint32(uint16(head-r.Tail())) == r.Size() {
				runtime.Gosched() // two cores shared with other work: spin politely
				continue
			}
			r.Desc(head).Length = uint32(i)
			r.Desc(head).Offset = ^uint32(i)
			head++
			r.SetHead(head)
			i++
		}
	}()
	var tail uint16
	for i := 0; i < n; {
		if r.Head() == tail {
			runtime.Gosched()
			continue
		}
		d := *r.Desc(tail)
		if d.Length != uint32(i) || d.Offset != ^uint32(i) {
			t.Fatalf("descriptor %d: %+v", i, d)
		}
		tail++
		r.SetTail(tail)
		i++
	}
	<-done
}

func TestView(t *testing.T) {
	regions := [][]byte{make([]byte, 100), make([]byte, 4096)}
	tests := []struct {
		name string
		d    Desc
		want error
	}{
		{"ok", Desc{Region: 1, Offset: 4000, Length: 96}, nil},
		{"empty at end", Desc{Region: 0, Offset: 100, Length: 0}, nil},
		{"region out of range", Desc{Region: 2, Length: 1}, ErrDescRegion},
		{"one past end", Desc{Region: 0, Offset: 1, Length: 100}, ErrDescBounds},
		{"u32 overflow", Desc{Region: 1, Offset: 0xFFFFFFFF, Length: 2}, ErrDescBounds},
	}
	for _, tt := range tests {
		v, err := View(regions, &tt.d)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
		if err == nil && (len(v) != int(tt.d.Length) || cap(v) != len(v)) {
			t.Errorf("%s: view len %d cap %d", tt.name, len(v), cap(v))
		}
	}
}

func TestChainLen(t *testing.T) {
	r, _ := New(mem(Bytes(64, 2)), 64, 2)
	for i, f := range []uint16{DescFlagNext, DescFlagNext, 0, DescFlagNext} {
		r.Desc(uint16(i)).Flags = f
	}
	if n, ok := ChainLen(&r, 0, 4); n != 3 || !ok {
		t.Errorf("ChainLen(0) = %d, %v", n, ok)
	}
	if n, ok := ChainLen(&r, 0, 2); n != 2 || ok {
		t.Errorf("ChainLen(0, avail 2) = %d, %v; want incomplete", n, ok)
	}
	if n, ok := ChainLen(&r, 0xFFFF, 4); n != 4 || !ok { // wraps: slots 3,0,1,2
		t.Errorf("ChainLen across wrap = %d, %v", n, ok)
	}
}

func TestViewAllocations(t *testing.T) {
	regions := [][]byte{make([]byte, 2048)}
	d := Desc{Offset: 64, Length: 1500}
	if a := testing.AllocsPerRun(100, func() { View(regions, &d) }); a != 0 {
		t.Errorf("View allocates %v", a)
	}
}

// FuzzView: the descriptor validator never panics and never returns bytes
// outside the region the descriptor names.
func FuzzView(f *testing.F) {
	f.Add(uint16(0), uint32(0), uint32(64), uint16(2), uint32(4096))
	f.Add(uint16(1), uint32(4000), uint32(200), uint16(2), uint32(4096))
	f.Add(uint16(7), uint32(0), uint32(1), uint16(1), uint32(1))
	f.Add(uint16(0), uint32(0xFFFFFFFF), uint32(0xFFFFFFFF), uint16(1), uint32(4096))
	f.Fuzz(func(t *testing.T, region uint16, off, length uint32, nregions uint16, size uint32) {
		nregions %= 8
		size %= 1 << 16
		regions := make([][]byte, nregions)
		for i := range regions {
			regions[i] = make([]byte, size+uint32(i))
		}
		d := Desc{Region: region, Offset: off, Length: length}
		v, err := View(regions, &d)
		if err != nil {
			return
		}
		mem := regions[region]
		if len(v) != int(length) || uint64(off)+uint64(length) > uint64(len(mem)) {
			t.Fatalf("accepted %+v for %d regions of %d bytes", d, nregions, size)
		}
		if length > 0 && &v[0] != &mem[off] {
			t.Fatal("view does not start at the offset")
		}
	})
}

// FuzzChainLen: chain walking over arbitrary flags stays within avail
// and within the ring.
func FuzzChainLen(f *testing.F) {
	f.Add([]byte{1, 1, 0, 1}, uint16(0), uint32(4))
	f.Add([]byte{1, 1, 1, 1, 1, 1, 1, 1}, uint16(65535), uint32(100))
	f.Fuzz(func(t *testing.T, flags []byte, start uint16, avail uint32) {
		r, _ := New(mem(Bytes(64, 3)), 64, 3)
		for i := range min(len(flags), 8) {
			r.Desc(uint16(i)).Flags = uint16(flags[i])
		}
		n, complete := ChainLen(&r, start, avail)
		if n > avail || (!complete && n != avail) {
			t.Fatalf("ChainLen = %d, %v for avail %d", n, complete, avail)
		}
	})
}

// TestDescStaysInRing: Desc indexes without a bounds check, so every
// free-running index must land on one of the ring's own slots.
func TestDescStaysInRing(t *testing.T) {
	b := mem(Bytes(64, 3))
	r, _ := New(b, 64, 3)
	first := uintptr(unsafe.Pointer(&b[HeaderSize(64)]))
	for i := range 1 << 16 {
		off := uintptr(unsafe.Pointer(r.Desc(uint16(i)))) - first
		if off != uintptr(i&7)*DescSize {
			t.Fatalf("Desc(%d) at descriptor offset %d, want %d", i, off, (i&7)*DescSize)
		}
	}
}
