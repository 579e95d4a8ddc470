// Package wasmbin reads the few parts of a WebAssembly binary that admission
// needs before handing the module to wazero: imports of every kind, the
// limits of defined memories, exports and whether a start function is set.
// It validates framing only; wazero validates everything else when it
// compiles. All input is treated as hostile: every length is checked, and a
// malformed module is an error, never a panic.
package wasmbin

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/memif-wasm/memif-wasm/host/internal/leb128"
)

// Kinds of imports and exports.
const (
	KindFunc   byte = 0
	KindTable  byte = 1
	KindMemory byte = 2
	KindGlobal byte = 3
	KindTag    byte = 4
)

// KindName names an import or export kind.
func KindName(k byte) string {
	switch k {
	case KindFunc:
		return "func"
	case KindTable:
		return "table"
	case KindMemory:
		return "memory"
	case KindGlobal:
		return "global"
	case KindTag:
		return "tag"
	}
	return "unknown"
}

// Limits are a memory's size bounds in 64 KiB pages.
type Limits struct {
	Min, Max uint64
	HasMax   bool
	Shared   bool
	Mem64    bool
}

// Import is one entry of the import section.
type Import struct {
	Module, Name string
	Kind         byte
	Memory       Limits // when Kind == KindMemory
}

// Export is one entry of the export section.
type Export struct {
	Name  string
	Kind  byte
	Index uint32
}

// Module is what Parse found.
type Module struct {
	Imports  []Import
	Exports  []Export
	Memories []Limits // defined (not imported) memories
	HasStart bool
	// Tables is the content of the memif_wasm.tables custom section (the
	// plugin's table declarations), nil when there is none. A second section of
	// that name is refused: the linker merges declarations into one.
	Tables []byte
}

// TablesSection is the custom section Parse keeps (abi.SectionTables; this
// package imports nothing of the project).
const TablesSection = "memif_wasm.tables"

// ErrMalformed is wrapped by every error Parse returns.
var ErrMalformed = errors.New("malformed wasm binary")

const (
	secCustom = 0
	secImport = 2
	secMemory = 5
	secExport = 7
	secStart  = 8
	maxNames  = 1 << 16 // more imports or exports than this is not a plugin
)

// Parse reads the module's header and the import, memory, export and start
// sections.
func Parse(b []byte) (*Module, error) {
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		return nil, fmt.Errorf("%w: no wasm magic number", ErrMalformed)
	}
	if b[4] != 1 || b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return nil, fmt.Errorf("%w: binary version %x is not 1 (a component or a future format)", ErrMalformed, b[4:8])
	}
	m := &Module{}
	r := reader{b: b, off: 8}
	seen := map[byte]bool{}
	for r.off < len(r.b) {
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		size, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("section %d size: %w", id, err)
		}
		if int(size) > len(r.b)-r.off {
			return nil, fmt.Errorf("%w: section %d of %d bytes runs past the end of the module", ErrMalformed, id, size)
		}
		sec := reader{b: r.b[:r.off+int(size)], off: r.off}
		r.off += int(size)
		if id != secCustom {
			if seen[id] {
				return nil, fmt.Errorf("%w: section %d appears twice", ErrMalformed, id)
			}
			seen[id] = true
		}
		switch id {
		case secCustom:
			err = m.parseCustom(&sec)
			if err == nil {
				continue // any other custom section is skipped unread
			}
		case secImport:
			err = m.parseImports(&sec)
		case secMemory:
			err = m.parseMemories(&sec)
		case secExport:
			err = m.parseExports(&sec)
		case secStart:
			m.HasStart = true
			_, err = sec.u32()
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		if sec.off != len(sec.b) {
			return nil, fmt.Errorf("%w: section %d has %d trailing bytes", ErrMalformed, id, len(sec.b)-sec.off)
		}
	}
	return m, nil
}

func (m *Module) parseCustom(r *reader) error {
	name, err := r.name()
	if err != nil || name != TablesSection {
		// Other custom sections, well-formed or not, are not the host's
		// business (wazero validates their names).
		return nil
	}
	if m.Tables != nil {
		return fmt.Errorf("%w: custom section %s appears twice", ErrMalformed, name)
	}
	m.Tables = r.b[r.off:len(r.b):len(r.b)]
	if m.Tables == nil {
		m.Tables = []byte{}
	}
	r.off = len(r.b)
	return nil
}

func (m *Module) parseImports(r *reader) error {
	n, err := r.count()
	if err != nil {
		return fmt.Errorf("import count: %w", err)
	}
	for i := 0; i < n; i++ {
		var im Import
		if im.Module, err = r.name(); err != nil {
			return fmt.Errorf("import %d module: %w", i, err)
		}
		if im.Name, err = r.name(); err != nil {
			return fmt.Errorf("import %d name: %w", i, err)
		}
		if im.Kind, err = r.byte(); err != nil {
			return fmt.Errorf("import %d kind: %w", i, err)
		}
		switch im.Kind {
		case KindFunc:
			_, err = r.u32()
		case KindTable:
			if _, err = r.byte(); err == nil {
				_, err = r.limits()
			}
		case KindMemory:
			im.Memory, err = r.limits()
		case KindGlobal:
			if _, err = r.byte(); err == nil {
				_, err = r.byte()
			}
		case KindTag:
			if _, err = r.byte(); err == nil {
				_, err = r.u32()
			}
		default:
			err = fmt.Errorf("%w: unknown kind %d", ErrMalformed, im.Kind)
		}
		if err != nil {
			return fmt.Errorf("import %d (%s.%s): %w", i, im.Module, im.Name, err)
		}
		m.Imports = append(m.Imports, im)
	}
	return nil
}

func (m *Module) parseMemories(r *reader) error {
	n, err := r.count()
	if err != nil {
		return fmt.Errorf("memory count: %w", err)
	}
	for i := 0; i < n; i++ {
		l, err := r.limits()
		if err != nil {
			return fmt.Errorf("memory %d: %w", i, err)
		}
		m.Memories = append(m.Memories, l)
	}
	return nil
}

func (m *Module) parseExports(r *reader) error {
	n, err := r.count()
	if err != nil {
		return fmt.Errorf("export count: %w", err)
	}
	for i := 0; i < n; i++ {
		var e Export
		if e.Name, err = r.name(); err != nil {
			return fmt.Errorf("export %d name: %w", i, err)
		}
		if e.Kind, err = r.byte(); err != nil {
			return fmt.Errorf("export %q kind: %w", e.Name, err)
		}
		if e.Index, err = r.u32(); err != nil {
			return fmt.Errorf("export %q index: %w", e.Name, err)
		}
		m.Exports = append(m.Exports, e)
	}
	return nil
}

type reader struct {
	b   []byte
	off int
}

var errEOF = fmt.Errorf("%w: unexpected end", ErrMalformed)

func (r *reader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, errEOF
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

// uleb reads an unsigned LEB128 of at most bits (32 or 64) bits.
func (r *reader) uleb(bits uint) (uint64, error) {
	v, n, err := leb128.Unsigned(r.b, r.off, bits)
	if err != nil {
		return 0, fmt.Errorf("%w: %d-bit integer: %w", ErrMalformed, bits, err)
	}
	r.off += n
	return v, nil
}

func (r *reader) u32() (uint32, error) {
	v, err := r.uleb(32)
	return uint32(v), err
}

func (r *reader) count() (int, error) {
	v, err := r.u32()
	if err != nil {
		return 0, err
	}
	// Each entry takes at least one byte; anything larger is a lie.
	if v > maxNames || int(v) > len(r.b)-r.off {
		return 0, fmt.Errorf("%w: count %d larger than its section", ErrMalformed, v)
	}
	return int(v), nil
}

func (r *reader) name() (string, error) {
	n, err := r.u32()
	if err != nil {
		return "", err
	}
	if int(n) > len(r.b)-r.off {
		return "", fmt.Errorf("%w: name of %d bytes runs past its section", ErrMalformed, n)
	}
	s := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	if !utf8.Valid(s) {
		return "", fmt.Errorf("%w: name is not UTF-8", ErrMalformed)
	}
	return string(s), nil
}

func (r *reader) limits() (Limits, error) {
	flags, err := r.byte()
	if err != nil {
		return Limits{}, err
	}
	if flags > 7 {
		return Limits{}, fmt.Errorf("%w: limits flags %#x", ErrMalformed, flags)
	}
	l := Limits{HasMax: flags&1 != 0, Shared: flags&2 != 0, Mem64: flags&4 != 0}
	bits := uint(32)
	if l.Mem64 {
		bits = 64
	}
	if l.Min, err = r.uleb(bits); err != nil {
		return l, err
	}
	if l.HasMax {
		if l.Max, err = r.uleb(bits); err != nil {
			return l, err
		}
	}
	return l, nil
}
