package abi_test

import (
	"testing"
	"unsafe"

	"github.com/memif-wasm/memif-wasm/abi"
)

// tableHeader mirrors ABI.md §11.2's C struct.
type tableHeader struct {
	Magic, Version, Kind, KeySize, ValueSize, MaxEntries, Slots, SlotSize, Seed, Active, Copy0, Copy1 uint32
	Generation                                                                                        uint64
	Reserved                                                                                          [8]byte
}

func TestTableHeaderLayout(t *testing.T) {
	var h tableHeader
	cases := []struct {
		name      string
		got, want uintptr
	}{
		{"size", unsafe.Sizeof(h), abi.TableHeaderSize},
		{"magic", unsafe.Offsetof(h.Magic), abi.TblMagic},
		{"version", unsafe.Offsetof(h.Version), abi.TblVersion},
		{"kind", unsafe.Offsetof(h.Kind), abi.TblKind},
		{"key size", unsafe.Offsetof(h.KeySize), abi.TblKeySize},
		{"value size", unsafe.Offsetof(h.ValueSize), abi.TblValueSize},
		{"max entries", unsafe.Offsetof(h.MaxEntries), abi.TblMaxEntries},
		{"slots", unsafe.Offsetof(h.Slots), abi.TblSlots},
		{"slot size", unsafe.Offsetof(h.SlotSize), abi.TblSlotSize},
		{"seed", unsafe.Offsetof(h.Seed), abi.TblSeed},
		{"active", unsafe.Offsetof(h.Active), abi.TblActive},
		{"copy0", unsafe.Offsetof(h.Copy0), abi.TblCopy0},
		{"copy1", unsafe.Offsetof(h.Copy1), abi.TblCopy1},
		{"generation", unsafe.Offsetof(h.Generation), abi.TblGeneration},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("table header %s: struct says %d, constant says %d", c.name, c.got, c.want)
		}
	}
	// Golden values: changing any of these is an ABI break.
	if abi.TableHeaderSize != 64 || abi.TblActive != 36 || abi.TblSeed != 32 || abi.CopyHeaderSize != 64 ||
		abi.TableMagic != 0x4254574d || abi.DeclFixedSize != 16 || abi.DeclMaxEntries != 12 ||
		abi.SectionTables != "memif_wasm.tables" || abi.ExportTable != "mw_table" ||
		abi.TableHash != 1 || abi.TableArray != 2 || abi.TableLPM4 != 3 || abi.TableLPM6 != 4 ||
		abi.CopyLengths != 8 || abi.TableCounters != 5 || abi.CounterMagic != 0x5243574d || abi.CounterHeaderSize != 64 ||
		abi.MaxCounterRows != 64 || abi.RowIndex != 16 || abi.CounterRowBytes(3) != 65536 || abi.CounterRowBytes(8184) != 65536 || abi.CounterRowBytes(8185) != 131072 || abi.SlotKeySize(abi.TableLPM6, 16) != 17 || abi.TagFull != 1<<31 {
		t.Fatal("table layout changed: that needs a new ABI version")
	}
}

func TestTableSlotLayout(t *testing.T) {
	cases := []struct{ key, value, voff, slot uint32 }{
		{4, 4, 8, 16},
		{8, 32, 16, 48},
		{13, 8, 24, 32},
		{16, 8, 24, 32},
		{64, 1024, 72, 1096},
	}
	for _, c := range cases {
		if v, s := abi.SlotValueOffset(c.key), abi.HashSlotSize(c.key, c.value); v != c.voff || s != c.slot {
			t.Errorf("key %d value %d: value offset %d slot %d, want %d %d", c.key, c.value, v, s, c.voff, c.slot)
		}
	}
	if abi.ArraySlotSize(3) != 4 || abi.ArraySlotSize(8) != 8 {
		t.Error("array slot sizes changed")
	}
	for _, c := range []struct{ max, slots uint32 }{{1, 8}, {4, 8}, {5, 16}, {100000, 262144}} {
		if got := abi.HashSlots(c.max); got != c.slots {
			t.Errorf("HashSlots(%d) = %d, want %d", c.max, got, c.slots)
		}
	}
}

// TestHashGolden pins the table hash: the C header (mw_hash32) and every
// guest compute these same values, so a change breaks every plugin.
func TestHashGolden(t *testing.T) {
	cases := []struct {
		key          string
		seed0, seedX uint32
	}{
		{"", 0x00000000, 0x0de5c6a9},
		{"a", 0xd67ca5b8, 0x5468e201},
		{"abcd", 0x68051afb, 0x840f688e},
		{"abcde", 0x05c12e6b, 0x629e5270},
		{"0123456789abcdef", 0xea4d7cfa, 0xe27e7941},
	}
	for _, c := range cases {
		if got := abi.Hash(0, []byte(c.key)); got != c.seed0 {
			t.Errorf("Hash(0, %q) = %#08x, want %#08x", c.key, got, c.seed0)
		}
		if got := abi.Hash(0xdeadbeef, []byte(c.key)); got != c.seedX {
			t.Errorf("Hash(0xdeadbeef, %q) = %#08x, want %#08x", c.key, got, c.seedX)
		}
	}
}
