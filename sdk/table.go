package sdk

import (
	"errors"

	"github.com/memif-wasm/memif-wasm/abi"
)

// ErrTableLayout is returned by OpenTable for memory that does not hold a
// table of this ABI version.
var ErrTableLayout = errors.New("sdk: not a memif-wasm table")

// Table is a read-only view of a table the host mapped into the guest's
// memory (ABI.md §11). Lookups are plain loads: no host call. A value slice
// a lookup returns stays valid until the guest call (mw_process, mw_control)
// returns; the host publishes a change only in a copy no running call reads.
type Table struct {
	mem                []byte
	kind               abi.TableKind
	keySize, valueSize uint32
	slots, slotSize    uint32
	seed, voff         uint32
	slotKey            uint32 // key bytes in a slot: LPM adds the prefix length
	copyOff            [2]uint32
	max                uint32
}

// OpenTable checks the header of the table whose mapping is mem and returns
// its view.
func OpenTable(mem []byte) (Table, error) {
	var le littleEndian
	if len(mem) < abi.TableHeaderSize || le.Uint32(mem[abi.TblMagic:]) != abi.TableMagic ||
		le.Uint32(mem[abi.TblVersion:]) != abi.DeclVersion {
		return Table{}, ErrTableLayout
	}
	t := Table{mem: mem,
		kind:      abi.TableKind(le.Uint32(mem[abi.TblKind:])),
		keySize:   le.Uint32(mem[abi.TblKeySize:]),
		valueSize: le.Uint32(mem[abi.TblValueSize:]),
		max:       le.Uint32(mem[abi.TblMaxEntries:]),
		slots:     le.Uint32(mem[abi.TblSlots:]),
		slotSize:  le.Uint32(mem[abi.TblSlotSize:]),
		seed:      le.Uint32(mem[abi.TblSeed:]),
		copyOff:   [2]uint32{le.Uint32(mem[abi.TblCopy0:]), le.Uint32(mem[abi.TblCopy1:])},
	}
	t.slotKey = abi.SlotKeySize(t.kind, t.keySize)
	t.voff = abi.SlotValueOffset(t.slotKey)
	if t.slotKey > abi.MaxTableKey+1 {
		return Table{}, ErrTableLayout
	}
	for _, c := range t.copyOff {
		if uint64(c)+abi.CopyHeaderSize+uint64(t.slots)*uint64(t.slotSize) > uint64(len(mem)) {
			return Table{}, ErrTableLayout
		}
	}
	if t.slots == 0 || (t.kind != abi.TableArray && t.slots&(t.slots-1) != 0) {
		return Table{}, ErrTableLayout
	}
	return t, nil
}

// Kind, KeySize, ValueSize and MaxEntries describe the table.
func (t *Table) Kind() abi.TableKind { return t.kind }
func (t *Table) KeySize() int        { return int(t.keySize) }
func (t *Table) ValueSize() int      { return int(t.valueSize) }
func (t *Table) MaxEntries() int     { return int(t.max) }

// active returns the slots of the copy readers use now.
func (t *Table) active() []byte {
	off := t.copyOff[littleEndian{}.Uint32(t.mem[abi.TblActive:])&1]
	return t.mem[off+abi.CopyHeaderSize:]
}

// Len is the number of entries of the copy readers use.
func (t *Table) Len() int {
	off := t.copyOff[littleEndian{}.Uint32(t.mem[abi.TblActive:])&1]
	return int(littleEndian{}.Uint32(t.mem[off+abi.CopyCount:]))
}

// Lookup returns the value of key in a hash table, or nil if it is absent
// (or key has the wrong size). In an LPM table key is a prefix: the address
// then its length (1 byte), and Lookup finds exactly that prefix; Match
// finds the longest that covers an address. It does not allocate.
func (t *Table) Lookup(key []byte) []byte {
	switch {
	case t.kind == abi.TableHash && uint32(len(key)) == t.keySize:
		return t.find(t.active(), key)
	case t.kind.IsLPM() && uint32(len(key)) == t.keySize+1:
		var k [17]byte
		k[0] = key[t.keySize]
		copy(k[1:], key[:t.keySize])
		return t.find(t.active(), k[:t.slotKey])
	}
	return nil
}

// Match returns the value of the longest prefix in an LPM table that
// covers addr (4 or 16 bytes, as the table's kind), or nil. It probes once
// per prefix length present in the table, longest first.
func (t *Table) Match(addr []byte) []byte {
	if !t.kind.IsLPM() || uint32(len(addr)) != t.keySize {
		return nil
	}
	var le littleEndian
	off := t.copyOff[le.Uint32(t.mem[abi.TblActive:])&1]
	bm := t.mem[off+abi.CopyLengths : off+abi.CopyLengths+17]
	slots := t.mem[off+abi.CopyHeaderSize:]
	var k [17]byte
	for l := int(8 * t.keySize); l >= 0; l-- {
		if bm[l/8]&(1<<(l%8)) == 0 {
			continue
		}
		k[0] = byte(l)
		for i := range int(t.keySize) {
			keep := min(max(l-8*i, 0), 8)
			k[1+i] = addr[i] & byte(uint16(0xff00)>>keep)
		}
		if v := t.find(slots, k[:t.slotKey]); v != nil {
			return v
		}
	}
	return nil
}

// find probes slots for a key in slot form.
func (t *Table) find(slots, key []byte) []byte {
	var le littleEndian
	h := abi.Hash(t.seed, key)
	tag, mask := h|abi.TagFull, t.slots-1
	i := h & mask
	for range t.slots {
		s := slots[i*t.slotSize : (i+1)*t.slotSize]
		st := le.Uint32(s)
		if st == 0 {
			return nil
		}
		if st == tag && string(s[abi.SlotKey:abi.SlotKey+t.slotKey]) == string(key) {
			return s[t.voff : t.voff+t.valueSize]
		}
		i = (i + 1) & mask
	}
	return nil
}

// At returns the value at index i of an array table, or nil when i is out of range.
func (t *Table) At(i uint32) []byte {
	if t.kind != abi.TableArray || i >= t.max {
		return nil
	}
	s := t.active()[i*t.slotSize:]
	return s[:t.valueSize]
}

// Range calls fn with every entry of a hash table (in slot order) until it
// returns false; for an array, with every index (key: 4 bytes little-endian);
// for an LPM table, with every prefix (key: address then length).
func (t *Table) Range(fn func(key, value []byte) bool) {
	var le littleEndian
	slots := t.active()
	var k [4]byte
	var pk [17]byte
	for i := range t.slots {
		s := slots[i*t.slotSize : (i+1)*t.slotSize]
		if t.kind == abi.TableArray {
			le.PutUint32(k[:], i)
			if !fn(k[:], s[:t.valueSize]) {
				return
			}
			continue
		}
		if le.Uint32(s) == 0 {
			continue
		}
		key := s[abi.SlotKey : abi.SlotKey+t.slotKey]
		if t.kind.IsLPM() {
			copy(pk[:], key[1:])
			pk[t.keySize] = key[0]
			key = pk[:t.keySize+1]
		}
		if !fn(key, s[t.voff:t.voff+t.valueSize]) {
			return
		}
	}
}
