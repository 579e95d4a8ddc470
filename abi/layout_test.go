package abi_test

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"github.com/memif-wasm/memif-wasm/abi"
)

// batchHeader and desc mirror ABI.md's C structs; the test pins the constants
// to the offsets a C compiler (and Go) would give those structs.
type batchHeader struct {
	Version  uint32
	Count    uint32
	NowNanos uint64
	IfIndex  uint32
	Queue    uint16
	Flags    uint16
	Snaplen  uint32
	Headroom uint32
}

type desc struct {
	Data    uint32
	Len     uint16
	Cap     uint16
	Verdict uint8
	Flags   uint8
	InPort  uint16
	Meta    uint32
}

func TestHeaderLayout(t *testing.T) {
	var h batchHeader
	cases := []struct {
		name      string
		got, want uintptr
	}{
		{"size", unsafe.Sizeof(h), abi.HeaderSize},
		{"version", unsafe.Offsetof(h.Version), abi.HdrVersion},
		{"count", unsafe.Offsetof(h.Count), abi.HdrCount},
		{"now", unsafe.Offsetof(h.NowNanos), abi.HdrNowNanos},
		{"ifindex", unsafe.Offsetof(h.IfIndex), abi.HdrIfIndex},
		{"queue", unsafe.Offsetof(h.Queue), abi.HdrQueue},
		{"flags", unsafe.Offsetof(h.Flags), abi.HdrFlags},
		{"snaplen", unsafe.Offsetof(h.Snaplen), abi.HdrSnaplen},
		{"headroom", unsafe.Offsetof(h.Headroom), abi.HdrHeadroom},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("header %s: struct says %d, constant says %d", c.name, c.got, c.want)
		}
	}
	// Golden values: changing any of these is an ABI break.
	if abi.HeaderSize != 32 || abi.HdrNowNanos != 8 || abi.HdrHeadroom != 28 {
		t.Fatal("batch header layout changed: that needs a new ABI version")
	}
}

func TestDescLayout(t *testing.T) {
	var d desc
	cases := []struct {
		name      string
		got, want uintptr
	}{
		{"size", unsafe.Sizeof(d), abi.DescSize},
		{"data", unsafe.Offsetof(d.Data), abi.DescData},
		{"len", unsafe.Offsetof(d.Len), abi.DescLen},
		{"cap", unsafe.Offsetof(d.Cap), abi.DescCap},
		{"verdict", unsafe.Offsetof(d.Verdict), abi.DescVerdict},
		{"flags", unsafe.Offsetof(d.Flags), abi.DescFlags},
		{"in_port", unsafe.Offsetof(d.InPort), abi.DescInPort},
		{"meta", unsafe.Offsetof(d.Meta), abi.DescMeta},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("desc %s: struct says %d, constant says %d", c.name, c.got, c.want)
		}
	}
	if abi.DescSize != 16 || abi.DescMeta != 12 || abi.DescVerdict != 8 {
		t.Fatal("descriptor layout changed: that needs a new ABI version")
	}
}

// TestDescBytes pins the wire form byte by byte, as a guest written in any
// language sees it.
func TestDescBytes(t *testing.T) {
	b := make([]byte, abi.DescSize)
	binary.LittleEndian.PutUint32(b[abi.DescData:], 0x01020304)
	binary.LittleEndian.PutUint16(b[abi.DescLen:], 0x0506)
	binary.LittleEndian.PutUint16(b[abi.DescCap:], 0x0708)
	b[abi.DescVerdict] = byte(abi.TX)
	b[abi.DescFlags] = abi.FlagModified
	binary.LittleEndian.PutUint16(b[abi.DescInPort:], 0x090a)
	binary.LittleEndian.PutUint32(b[abi.DescMeta:], 0x0b0c0d0e)
	want := []byte{4, 3, 2, 1, 6, 5, 8, 7, 3, 0x10, 0x0a, 0x09, 0x0e, 0x0d, 0x0c, 0x0b}
	if string(b) != string(want) {
		t.Fatalf("descriptor bytes\n got %x\nwant %x", b, want)
	}
}

func TestVerdicts(t *testing.T) {
	want := map[abi.Verdict]string{0: "aborted", 1: "drop", 2: "pass", 3: "tx", 4: "redirect", 5: "invalid", 255: "invalid"}
	for v, name := range want {
		if v.String() != name {
			t.Errorf("Verdict(%d) = %q, want %q", v, v.String(), name)
		}
		if v.Valid() != (v < 5) {
			t.Errorf("Verdict(%d).Valid() = %v", v, v.Valid())
		}
	}
}

func TestFromReturn(t *testing.T) {
	if n, err := abi.FromReturn(42); n != 42 || err != nil {
		t.Fatalf("FromReturn(42) = %d, %v", n, err)
	}
	if _, err := abi.FromReturn(-int32(abi.ErrInval)); err != abi.ErrInval {
		t.Fatalf("FromReturn(-1) err = %v, want ErrInval", err)
	}
	if _, err := abi.FromReturn(-1 << 31); err == nil || err.Error() != "unknown plugin error" {
		t.Fatalf("FromReturn(min) err = %v", err)
	}
	if abi.BatchSize(256) != 32+256*16 {
		t.Fatal("BatchSize")
	}
}
