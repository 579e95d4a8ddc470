package abi

// Tables (ABI.md §11). A plugin declares tables in a custom section; the host
// creates them, and maps each over the range mw_table returns. Guests read
// them with plain loads through the layout below.

// SectionTables is the name of the custom section holding table declarations:
// a concatenation of records (DeclFixedSize bytes, then the NUL-terminated name).
const SectionTables = "memif_wasm.tables"

// ExportTable is the export a module that declares tables must have:
// (index i32, bytes i32) -> i32, the WindowAlign-aligned address of bytes
// bytes the guest never writes, where the host maps table index.
const ExportTable = "mw_table"

// TableKind is what a table maps keys to.
type TableKind uint8

const (
	TableHash  TableKind = 1 // exact match: key of KeySize bytes -> value
	TableArray TableKind = 2 // key is a u32 index below MaxEntries -> value
	TableLPM4  TableKind = 3 // longest prefix match over IPv4 (KeySize 4) -> value
	TableLPM6  TableKind = 4 // longest prefix match over IPv6 (KeySize 16) -> value
	// TableCounters is a u64 counter per index (KeySize 4, ValueSize 8) and
	// per worker: each instance gets a row of its own, which only it writes,
	// and the host sums the rows on read.
	TableCounters TableKind = 5
)

// Counter tables: the mapping an instance gets is its own row, a header
// then MaxEntries u64 counters; the row size is a multiple of WindowAlign.
const (
	CounterMagic      = 0x5243574d // "MWCR"
	CounterHeaderSize = 64
	MaxCounterRows    = 64 // instances that may map one counter table at once

	RowMagic      = 0  // u32: CounterMagic
	RowVersion    = 4  // u32: DeclVersion
	RowKind       = 8  // u32: TableCounters
	RowMaxEntries = 12 // u32
	RowIndex      = 16 // u32: which row this is (for diagnostics)
)

// CounterRowBytes is the size of one row of a counter table of maxEntries.
func CounterRowBytes(maxEntries uint32) uint64 {
	return (CounterHeaderSize + 8*uint64(maxEntries) + WindowAlign - 1) &^ (WindowAlign - 1)
}

// IsLPM reports whether k is a longest-prefix-match kind.
func (k TableKind) IsLPM() bool { return k == TableLPM4 || k == TableLPM6 }

// SlotKeySize is the key a hash slot of kind k holds for declared keySize
// bytes: an LPM slot's key is the prefix length (1 byte) then the address
// with its host bits zero.
func SlotKeySize(k TableKind, keySize uint32) uint32 {
	if k.IsLPM() {
		return keySize + 1
	}
	return keySize
}

// String names the kind as the control plane does.
func (k TableKind) String() string {
	switch k {
	case TableHash:
		return "hash"
	case TableArray:
		return "array"
	case TableLPM4:
		return "lpm4"
	case TableLPM6:
		return "lpm6"
	case TableCounters:
		return "counters"
	}
	return "invalid"
}

// Declaration record, at any offset of the section. All fields little-endian.
const (
	DeclVersion   = 1
	DeclFixedSize = 16

	DeclRecVersion = 0  // u8: DeclVersion
	DeclKind       = 1  // u8: TableKind
	DeclFlags      = 2  // u8: DeclFlag*
	DeclReserved   = 3  // u8: 0
	DeclKeySize    = 4  // u32: bytes; 4 for arrays
	DeclValueSize  = 8  // u32: bytes
	DeclMaxEntries = 12 // u32
	// The name follows: 1..MaxTableName bytes of [a-z0-9_.-], then a NUL.
)

// Declaration flags.
const (
	// DeclFlagWrite: the plugin writes the table through HostTablePut and
	// HostTableDelete (hash, array and LPM kinds). Without it those calls
	// fail: a plugin cannot write a table it only reads.
	DeclFlagWrite uint8 = 1 << 0
)

// Limits of a declaration.
const (
	MaxTableName       = 31
	MaxTableKey        = 64
	MaxTableValue      = 1024
	MaxTableEntries    = 1 << 24
	MaxTablesPerPlugin = 16
)

// Table header, at the address mw_table returned (the start of the mapping).
const (
	TableHeaderSize = 64
	TableMagic      = 0x4254574d // "MWTB"

	TblMagic      = 0  // u32: TableMagic
	TblVersion    = 4  // u32: DeclVersion
	TblKind       = 8  // u32: TableKind
	TblKeySize    = 12 // u32
	TblValueSize  = 16 // u32
	TblMaxEntries = 20 // u32
	TblSlots      = 24 // u32: slots per copy (hash: a power of two; array: MaxEntries)
	TblSlotSize   = 28 // u32: bytes per slot
	TblSeed       = 32 // u32: hash seed
	TblActive     = 36 // u32: 0 or 1, the copy readers use
	TblCopy0      = 40 // u32: offset of copy 0 from the header
	TblCopy1      = 44 // u32: offset of copy 1 from the header
	TblGeneration = 48 // u64: publications so far
	// 56..64 reserved (0)
)

// Copy header, at the start of each copy; slots follow at CopyHeaderSize.
const (
	CopyHeaderSize = 64
	CopyCount      = 0 // u32: entries in this copy
	// CopyLengths is, in LPM tables, a bitmap of the prefix lengths present:
	// bit L%8 of byte CopyLengths+L/8 for length L (0..128, 17 bytes).
	CopyLengths = 8
)

// Hash slot: a tag (0 = empty, else the key's hash with bit 31 set), the key,
// and the value at SlotValueOffset.
const (
	SlotTag = 0 // u32
	SlotKey = 4
	// TagFull is ORed into a hash to make a slot's tag, so no full slot reads as empty.
	TagFull uint32 = 1 << 31
)

// SlotValueOffset is where the value starts in a hash slot of keySize-byte keys.
func SlotValueOffset(keySize uint32) uint32 { return align8(SlotKey + keySize) }

// HashSlotSize is the size of a hash slot.
func HashSlotSize(keySize, valueSize uint32) uint32 {
	return align8(SlotValueOffset(keySize) + valueSize)
}

// ArraySlotSize is the size of an array slot: the value, 4-byte aligned.
func ArraySlotSize(valueSize uint32) uint32 { return (valueSize + 3) &^ 3 }

// HashSlots is the number of slots of a hash table of maxEntries: the least
// power of two that is at least twice maxEntries, and at least 8.
func HashSlots(maxEntries uint32) uint32 {
	n := uint32(8)
	for n < 2*maxEntries {
		n <<= 1
	}
	return n
}

func align8(n uint32) uint32 { return (n + 7) &^ 7 }

// Hash multipliers (ABI.md §11.4).
const (
	hashWordMul = 0x9e3779b1
	hashMix1    = 0x85ebca6b
	hashMix2    = 0xc2b2ae35
)

// Hash is the table hash of key under seed: the host, the Go SDK and the C
// header compute it the same way. Bytes are taken 4 at a time as little-endian
// words, the last partial word zero-padded.
func Hash(seed uint32, key []byte) uint32 {
	h := seed ^ uint32(len(key))*hashWordMul
	i := 0
	for ; i+4 <= len(key); i += 4 {
		w := uint32(key[i]) | uint32(key[i+1])<<8 | uint32(key[i+2])<<16 | uint32(key[i+3])<<24
		h = (h ^ w) * hashWordMul
		h ^= h >> 15
	}
	if i < len(key) {
		var w uint32
		for j := 0; i+j < len(key); j++ {
			w |= uint32(key[i+j]) << (8 * j)
		}
		h = (h ^ w) * hashWordMul
		h ^= h >> 15
	}
	h ^= h >> 16
	h *= hashMix1
	h ^= h >> 13
	h *= hashMix2
	h ^= h >> 16
	return h
}
