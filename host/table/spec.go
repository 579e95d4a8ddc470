package table

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/memif-wasm/memif-wasm/abi"
)

// MaxBytes bounds one table's shared memory (both copies and the header).
const MaxBytes = 1 << 30

// ErrDecl is wrapped by every error about a declaration.
var ErrDecl = errors.New("bad table declaration")

// Spec is a table's shape, as a plugin declares it.
type Spec struct {
	Name       string
	Kind       abi.TableKind
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32
}

// String renders the spec as the control plane shows it.
func (s Spec) String() string {
	return fmt.Sprintf("%s %s key=%d value=%d max=%d", s.Name, s.Kind, s.KeySize, s.ValueSize, s.MaxEntries)
}

// Validate checks the spec against the ABI's limits.
func (s Spec) Validate() error {
	if err := validName(s.Name); err != nil {
		return err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: table %q: %s", ErrDecl, s.Name, fmt.Sprintf(format, args...))
	}
	switch s.Kind {
	case abi.TableHash:
		if s.KeySize == 0 || s.KeySize > abi.MaxTableKey {
			return bad("key size %d outside 1..%d", s.KeySize, abi.MaxTableKey)
		}
	case abi.TableArray:
		if s.KeySize != 4 {
			return bad("an array's key is a 4-byte index, not %d bytes", s.KeySize)
		}
	case abi.TableLPM4:
		if s.KeySize != 4 {
			return bad("an lpm4 table's key is a 4-byte IPv4 address, not %d bytes", s.KeySize)
		}
	case abi.TableLPM6:
		if s.KeySize != 16 {
			return bad("an lpm6 table's key is a 16-byte IPv6 address, not %d bytes", s.KeySize)
		}
	case abi.TableCounters:
		if s.KeySize != 4 || s.ValueSize != 8 {
			return bad("a counters table has 4-byte indexes and 8-byte counters, not %d and %d", s.KeySize, s.ValueSize)
		}
	default:
		return bad("unknown kind %d", s.Kind)
	}
	if s.ValueSize == 0 || s.ValueSize > abi.MaxTableValue {
		return bad("value size %d outside 1..%d", s.ValueSize, abi.MaxTableValue)
	}
	if s.MaxEntries == 0 || s.MaxEntries > abi.MaxTableEntries {
		return bad("max entries %d outside 1..%d", s.MaxEntries, abi.MaxTableEntries)
	}
	if b := s.Layout().Bytes; b > MaxBytes {
		return bad("needs %d bytes of memory, more than the %d a table may take", b, MaxBytes)
	}
	return nil
}

func validName(n string) error {
	if len(n) == 0 || len(n) > abi.MaxTableName {
		return fmt.Errorf("%w: table name %q: length %d outside 1..%d", ErrDecl, n, len(n), abi.MaxTableName)
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("%w: table name %q: byte %d (%q) is not one of [a-z0-9_.-]", ErrDecl, n, i, c)
		}
	}
	return nil
}

// Layout is where a table's parts lie in its shared memory.
type Layout struct {
	Slots, SlotSize uint32
	CopyBytes       uint64    // one copy: its header and slots
	Copy            [2]uint64 // offsets of the copies from the table header
	Bytes           uint64    // the whole memory file, a multiple of abi.WindowAlign
	// GuestBytes is what an instance maps: the whole file, or for a
	// counters table its own row.
	GuestBytes uint64
}

// Layout computes the spec's layout. It is meaningful only for a valid spec.
func (s Spec) Layout() Layout {
	var l Layout
	if s.Kind == abi.TableCounters {
		l.Slots, l.SlotSize = s.MaxEntries, 8
		l.GuestBytes = abi.CounterRowBytes(s.MaxEntries)
		l.CopyBytes = l.GuestBytes
		l.Bytes = abi.MaxCounterRows * l.GuestBytes
		return l
	}
	switch s.Kind {
	case abi.TableHash, abi.TableLPM4, abi.TableLPM6:
		l.Slots, l.SlotSize = abi.HashSlots(s.MaxEntries), abi.HashSlotSize(abi.SlotKeySize(s.Kind, s.KeySize), s.ValueSize)
	default:
		l.Slots, l.SlotSize = s.MaxEntries, abi.ArraySlotSize(s.ValueSize)
	}
	l.CopyBytes = abi.CopyHeaderSize + uint64(l.Slots)*uint64(l.SlotSize)
	l.Copy[0] = abi.TableHeaderSize
	l.Copy[1] = l.Copy[0] + (l.CopyBytes+63)&^63
	l.Bytes = (l.Copy[1] + l.CopyBytes + abi.WindowAlign - 1) &^ (abi.WindowAlign - 1)
	l.GuestBytes = l.Bytes
	return l
}

// Pages is the table's size in 64 KiB pages, what it is charged to a budget.
func (s Spec) Pages() uint64 { return s.Layout().Bytes / abi.WindowAlign }

// Decl is one table as a plugin declares it: its shape, and whether this
// plugin writes it (the shape alone decides whether two declarations name
// the same table).
type Decl struct {
	Spec
	Write bool // abi.DeclFlagWrite
}

// String renders the declaration as inspect shows it.
func (d Decl) String() string {
	if d.Write {
		return d.Spec.String() + " (plugin writes)"
	}
	return d.Spec.String()
}

// ParseDecls reads the records of a memif_wasm.tables custom section. Every
// spec is validated, and names must be unique.
func ParseDecls(b []byte) ([]Decl, error) {
	var specs []Decl
	for off := 0; off < len(b); {
		i := len(specs)
		if i == abi.MaxTablesPerPlugin {
			return nil, fmt.Errorf("%w: more than %d tables", ErrDecl, abi.MaxTablesPerPlugin)
		}
		r := b[off:]
		if len(r) < abi.DeclFixedSize+2 {
			return nil, fmt.Errorf("%w: record %d at byte %d: %d bytes left, a record takes at least %d", ErrDecl, i, off, len(r), abi.DeclFixedSize+2)
		}
		if r[abi.DeclRecVersion] != abi.DeclVersion {
			return nil, fmt.Errorf("%w: record %d at byte %d: version %d, this host reads %d", ErrDecl, i, off, r[abi.DeclRecVersion], abi.DeclVersion)
		}
		if r[abi.DeclFlags]&^abi.DeclFlagWrite != 0 || r[abi.DeclReserved] != 0 {
			return nil, fmt.Errorf("%w: record %d at byte %d: unknown flags or reserved bytes not 0", ErrDecl, i, off)
		}
		name := r[abi.DeclFixedSize:]
		n := 0
		for n < len(name) && n <= abi.MaxTableName && name[n] != 0 {
			n++
		}
		if n == len(name) || name[n] != 0 {
			return nil, fmt.Errorf("%w: record %d at byte %d: name not NUL-terminated within %d bytes", ErrDecl, i, off, abi.MaxTableName+1)
		}
		s := Spec{
			Name:       string(name[:n]),
			Kind:       abi.TableKind(r[abi.DeclKind]),
			KeySize:    binary.LittleEndian.Uint32(r[abi.DeclKeySize:]),
			ValueSize:  binary.LittleEndian.Uint32(r[abi.DeclValueSize:]),
			MaxEntries: binary.LittleEndian.Uint32(r[abi.DeclMaxEntries:]),
		}
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		if s.Kind == abi.TableCounters && r[abi.DeclFlags] != 0 {
			return nil, fmt.Errorf("%w: record %d: counters are written by adding to the plugin's own row, not declared writable", ErrDecl, i)
		}
		for _, o := range specs {
			if o.Name == s.Name {
				return nil, fmt.Errorf("%w: record %d: table %q declared twice", ErrDecl, i, s.Name)
			}
		}
		specs = append(specs, Decl{Spec: s, Write: r[abi.DeclFlags]&abi.DeclFlagWrite != 0})
		off += abi.DeclFixedSize + n + 1
	}
	return specs, nil
}

// AppendDecl appends d's record to b: what MW_TABLE_DECLARE emits in C, for
// tools and tests that build the section in Go.
func AppendDecl(b []byte, d Decl) []byte {
	s := d.Spec
	var r [abi.DeclFixedSize]byte
	r[abi.DeclRecVersion] = abi.DeclVersion
	if d.Write {
		r[abi.DeclFlags] = abi.DeclFlagWrite
	}
	r[abi.DeclKind] = byte(s.Kind)
	binary.LittleEndian.PutUint32(r[abi.DeclKeySize:], s.KeySize)
	binary.LittleEndian.PutUint32(r[abi.DeclValueSize:], s.ValueSize)
	binary.LittleEndian.PutUint32(r[abi.DeclMaxEntries:], s.MaxEntries)
	b = append(b, r[:]...)
	b = append(b, s.Name...)
	return append(b, 0)
}
