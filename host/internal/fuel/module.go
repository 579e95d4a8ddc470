package fuel

import (
	"bytes"
	"fmt"
	"math"
	"math/bits"
	"strings"

	"github.com/memif-wasm/memif-wasm/host/internal/leb128"
)

// Section ids and their rank in the order the binary format requires. The
// tag section (13, exception handling) is known but refused: no toolchain we
// host emits it by default and it would bring in opcodes we do not meter.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

var sectionNames = [...]string{"custom", "type", "import", "function", "table", "memory",
	"global", "export", "start", "element", "code", "data", "datacount", "tag"}

// sectionRank orders the known non-custom sections; 0 means unknown.
var sectionRank = [...]int{secType: 1, secImport: 2, secFunction: 3, secTable: 4,
	secMemory: 5, secGlobal: 7, secExport: 8, secStart: 9, secElement: 10,
	secDataCount: 11, secCode: 12, secData: 13, secTag: 0}

// Value type bytes (the single-byte encodings; typed references are refused).
const (
	valI32       = 0x7F
	valI64       = 0x7E
	valF32       = 0x7D
	valF64       = 0x7C
	valV128      = 0x7B
	valFuncref   = 0x70
	valExternref = 0x6F
)

func isValType(b byte) bool {
	switch b {
	case valI32, valI64, valF32, valF64, valV128, valFuncref, valExternref:
		return true
	}
	return false
}

// rewriter holds the state of one Instrument call.
type rewriter struct {
	in  []byte
	out []byte

	instrCost  int64
	regionCost int64
	callCost   int64
	byteShift  uint8 // log2(BytesPerFuel)
	initial    int64
	section    string // for errors
	fn         int    // for errors; -1 outside code
	typeParams []uint32
	funcTypes  []uint32
	// typeResults are the result types of each type, as in the binary;
	// wrapperType is, for types with several results, the index of a type
	// with no parameters and the same results, the block type that wraps
	// such a function's body (-1 where none is needed).
	typeResults  [][]byte
	wrapperType  []int64
	typesWritten bool
	stackInit    int64

	importedFuncs   uint32
	importedGlobals uint32
	fuelGlobal      uint32 // the stack global follows it
	globalDone      bool
	exportDone      bool
	stats           Stats

	code codeWalker
}

func (r *rewriter) errorf(off int, sentinel error, format string, args ...any) error {
	return &Error{Section: r.section, Func: r.fn, Offset: off, Reason: fmt.Sprintf(format, args...), Err: sentinel}
}

func (r *rewriter) init(wasm []byte, cfg Config) error {
	r.in, r.fn = wasm, -1
	c := cfg.Costs
	r.instrCost = c.Instruction
	if r.instrCost == 0 {
		r.instrCost = 1
	}
	if r.instrCost < 0 || r.instrCost > maxInstructionCost {
		return r.errorf(0, ErrConfig, "instruction cost %d outside 1..%d", c.Instruction, maxInstructionCost)
	}
	r.regionCost = c.Region
	if r.regionCost < 0 || r.regionCost > maxInstructionCost {
		return r.errorf(0, ErrConfig, "region cost %d outside 0..%d", c.Region, maxInstructionCost)
	}
	r.callCost = c.Call
	if r.callCost < 0 || r.callCost > maxInstructionCost {
		return r.errorf(0, ErrConfig, "call cost %d outside 0..%d", c.Call, maxInstructionCost)
	}
	bpf := c.BytesPerFuel
	if bpf == 0 {
		bpf = DefaultBytesPerFuel
	}
	if bpf < 0 || bpf > 65536 || bpf&(bpf-1) != 0 {
		return r.errorf(0, ErrConfig, "bytes per fuel %d is not a power of two in 1..65536", c.BytesPerFuel)
	}
	r.byteShift = uint8(bits.TrailingZeros64(uint64(bpf)))
	r.initial = cfg.InitialFuel
	if r.initial == 0 {
		r.initial = DefaultInitialFuel
	}
	if r.initial < 0 {
		return r.errorf(0, ErrConfig, "initial fuel %d is negative", cfg.InitialFuel)
	}
	r.stackInit = cfg.Stack
	if r.stackInit == 0 {
		r.stackInit = DefaultStack
	}
	if r.stackInit < 0 || r.stackInit > math.MaxInt32 {
		return r.errorf(0, ErrConfig, "stack budget %d outside 1..%d", cfg.Stack, math.MaxInt32)
	}
	// Instrumented code is only inserted, never removed: a little headroom
	// avoids growing the output while appending.
	r.out = make([]byte, 0, len(wasm)+len(wasm)/16+64)
	return nil
}

// module walks the sections in order, copying or rewriting each.
func (r *rewriter) module() error {
	in := r.in
	if len(in) < 8 || string(in[:4]) != "\x00asm" {
		return r.errorf(0, ErrMalformed, "missing the \\0asm magic")
	}
	if v := uint32(in[4]) | uint32(in[5])<<8 | uint32(in[6])<<16 | uint32(in[7])<<24; v != 1 {
		return r.errorf(4, ErrUnsupported, "binary version %#x (only core modules, version 1)", v)
	}
	r.out = append(r.out, in[:8]...)
	lastRank := 0
	for off := 8; off < len(in); {
		start := off
		id := in[off]
		r.section = fmt.Sprintf("id %d", id)
		if int(id) < len(sectionNames) {
			r.section = sectionNames[id]
		}
		size, n, err := leb128.U32(in, off+1)
		if err != nil {
			return r.errorf(off+1, ErrMalformed, "section size: %v", err)
		}
		off += 1 + n
		if uint64(size) > uint64(len(in)-off) {
			return r.errorf(start, ErrMalformed, "section of %d bytes overruns the module (%d left)", size, len(in)-off)
		}
		end := off + int(size)
		if id == secCustom {
			if err := r.custom(start, off, end); err != nil {
				return err
			}
			off = end
			continue
		}
		if int(id) >= len(sectionRank) || sectionRank[id] == 0 {
			if id == secTag {
				return r.errorf(start, ErrUnsupported, "tag section (exception handling)")
			}
			return r.errorf(start, ErrUnsupported, "unknown section id %d", id)
		}
		rank := sectionRank[id]
		if rank <= lastRank {
			return r.errorf(start, ErrMalformed, "section out of order or repeated")
		}
		lastRank = rank
		if rank > sectionRank[secGlobal] && !r.globalDone {
			r.appendGlobalSection(nil, 0)
		}
		if rank > sectionRank[secExport] && !r.exportDone {
			r.appendExportSection(nil, 0)
		}
		switch id {
		case secType:
			err = r.typeSection(off, end)
		case secImport:
			err = r.importSection(off, end)
		case secFunction:
			err = r.functionSection(off, end)
		case secGlobal:
			err = r.globalSection(off, end)
		case secExport:
			err = r.exportSection(off, end)
		case secCode:
			err = r.codeSection(off, end)
		case secTable:
			err = r.tableSection(off, end)
		case secMemory:
			err = r.memorySection(off, end)
		case secElement:
			err = r.elementSection(off, end)
		case secData:
			err = r.dataSection(off, end)
		}
		if err != nil {
			return err
		}
		if id != secGlobal && id != secExport && id != secCode && !(id == secType && r.typesWritten) {
			r.out = append(r.out, in[start:end]...)
		}
		off = end
	}
	r.section = ""
	if !r.globalDone {
		r.appendGlobalSection(nil, 0)
	}
	if !r.exportDone {
		r.appendExportSection(nil, 0)
	}
	return nil
}

// custom copies a custom section unless it is debug information, which
// addresses code-section offsets that the inserted code shifts.
func (r *rewriter) custom(start, off, end int) error {
	nameLen, n, err := leb128.U32(r.in[:end], off)
	if err != nil || uint64(nameLen) > uint64(end-off-n) {
		return r.errorf(off, ErrMalformed, "custom section name does not fit the section")
	}
	name := string(r.in[off+n : off+n+int(nameLen)])
	if name == "name" {
		if err := r.nameSection(off+n+int(nameLen), end); err != nil {
			return err
		}
	}
	if strings.HasPrefix(name, ".debug_") || name == "sourceMappingURL" || name == "external_debug_info" {
		r.stats.StrippedSections++
		return nil
	}
	r.out = append(r.out, r.in[start:end]...)
	return nil
}

// reader is a bounds-checked cursor over one section's payload.
type reader struct {
	r   *rewriter
	b   []byte
	off int
	end int
}

func (r *rewriter) reader(off, end int) reader { return reader{r: r, b: r.in, off: off, end: end} }

func (d *reader) u32(what string) (uint32, error) {
	v, n, err := leb128.U32(d.b[:d.end], d.off)
	if err != nil {
		return 0, d.r.errorf(d.off, ErrMalformed, "%s: %v", what, err)
	}
	d.off += n
	return v, nil
}

func (d *reader) byte(what string) (byte, error) {
	if d.off >= d.end {
		return 0, d.r.errorf(d.off, ErrMalformed, "%s: unexpected end of section", what)
	}
	d.off++
	return d.b[d.off-1], nil
}

func (d *reader) skip(n uint32, what string) error {
	if uint64(n) > uint64(d.end-d.off) {
		return d.r.errorf(d.off, ErrMalformed, "%s of %d bytes overruns the section", what, n)
	}
	d.off += int(n)
	return nil
}

// name returns a name's bytes (a view of the input, not a copy).
func (d *reader) name(what string) ([]byte, error) {
	n, err := d.u32(what)
	if err != nil {
		return nil, err
	}
	start := d.off
	if err := d.skip(n, what); err != nil {
		return nil, err
	}
	return d.b[start:d.off], nil
}

func (d *reader) valType(what string) (byte, error) {
	at := d.off
	t, err := d.byte(what)
	if err == nil && !isValType(t) {
		err = d.r.errorf(at, ErrUnsupported, "%s: value type %#x", what, t)
	}
	return t, err
}

// count reads a vector length, refusing one that cannot fit in what is left
// of the section (each element takes at least one byte), so a hostile count
// cannot make us allocate.
func (d *reader) count(what string) (uint32, error) {
	at := d.off
	n, err := d.u32(what)
	if err == nil && uint64(n) > uint64(d.end-d.off) {
		err = d.r.errorf(at, ErrMalformed, "%s %d exceeds the section's remaining %d bytes", what, n, d.end-d.off)
	}
	return n, err
}

func (d *reader) done() error {
	if d.off != d.end {
		return d.r.errorf(d.off, ErrMalformed, "%d unread bytes at the end of the section", d.end-d.off)
	}
	return nil
}

func (r *rewriter) typeSection(off, end int) error {
	d := r.reader(off, end)
	n, err := d.count("type count")
	if err != nil {
		return err
	}
	entries := d.off
	r.typeParams = make([]uint32, 0, n)
	r.typeResults = make([][]byte, 0, n)
	for i := uint32(0); i < n; i++ {
		at := d.off
		form, err := d.byte("type form")
		if err != nil {
			return err
		}
		if form != 0x60 {
			return r.errorf(at, ErrUnsupported, "type %d has form %#x, not a function type", i, form)
		}
		var params uint32
		for k := 0; k < 2; k++ {
			c, err := d.count("value type count")
			if err != nil {
				return err
			}
			from := d.off
			for j := uint32(0); j < c; j++ {
				if _, err := d.valType("parameter or result"); err != nil {
					return err
				}
			}
			if k == 0 {
				params = c
			} else {
				r.typeResults = append(r.typeResults, r.in[from:d.off])
			}
		}
		r.typeParams = append(r.typeParams, params)
	}
	if err := d.done(); err != nil {
		return err
	}
	// A body is wrapped in a block of its function's results; with several
	// results that block needs a type index with no parameters. Types added
	// for it go after the existing ones, so no index moves.
	var extra []byte
	added := uint32(0)
	r.wrapperType = make([]int64, n)
	for t := range r.wrapperType {
		r.wrapperType[t] = -1
		if len(r.typeResults[t]) < 2 {
			continue
		}
		for u := range r.typeResults {
			if r.typeParams[u] == 0 && bytes.Equal(r.typeResults[u], r.typeResults[t]) {
				r.wrapperType[t] = int64(u)
				break
			}
		}
		if r.wrapperType[t] < 0 {
			r.wrapperType[t] = int64(n + added)
			r.typeParams = append(r.typeParams, 0)
			r.typeResults = append(r.typeResults, r.typeResults[t])
			extra = append(extra, 0x60, 0)
			extra = leb128.AppendU32(extra, uint32(len(r.typeResults[t])))
			extra = append(extra, r.typeResults[t]...)
			added++
		}
	}
	if added > 0 {
		r.out = append(r.out, secType)
		r.out = leb128.AppendU32(r.out, uint32(leb128.SizeU32(n+added)+end-entries+len(extra)))
		r.out = leb128.AppendU32(r.out, n+added)
		r.out = append(r.out, r.in[entries:end]...)
		r.out = append(r.out, extra...)
		r.typesWritten = true
	}
	return nil
}

func (r *rewriter) limits(d *reader) error {
	at := d.off
	flags, err := d.byte("limits flags")
	if err != nil {
		return err
	}
	if flags > 3 {
		return r.errorf(at, ErrUnsupported, "limits flags %#x (memory64 or custom page sizes)", flags)
	}
	if _, err := d.u32("limits minimum"); err != nil {
		return err
	}
	if flags&1 != 0 {
		_, err = d.u32("limits maximum")
	}
	return err
}

func (r *rewriter) importSection(off, end int) error {
	d := r.reader(off, end)
	n, err := d.count("import count")
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		if _, err := d.name("import module name"); err != nil {
			return err
		}
		if _, err := d.name("import name"); err != nil {
			return err
		}
		at := d.off
		kind, err := d.byte("import kind")
		if err != nil {
			return err
		}
		switch kind {
		case 0:
			_, err = d.u32("imported function type")
			r.importedFuncs++
		case 1:
			if _, err = d.valType("table element type"); err == nil {
				err = r.limits(&d)
			}
		case 2:
			err = r.limits(&d)
		case 3:
			if _, err = d.valType("global type"); err == nil {
				err = r.mutability(&d)
			}
			r.importedGlobals++
		case 4:
			return r.errorf(at, ErrUnsupported, "tag import (exception handling)")
		default:
			return r.errorf(at, ErrMalformed, "import kind %#x", kind)
		}
		if err != nil {
			return err
		}
	}
	return d.done()
}

func (r *rewriter) mutability(d *reader) error {
	at := d.off
	m, err := d.byte("global mutability")
	if err == nil && m > 1 {
		err = r.errorf(at, ErrMalformed, "global mutability %#x", m)
	}
	return err
}

func (r *rewriter) functionSection(off, end int) error {
	d := r.reader(off, end)
	n, err := d.count("function count")
	if err != nil {
		return err
	}
	r.funcTypes = make([]uint32, 0, n)
	for i := uint32(0); i < n; i++ {
		at := d.off
		t, err := d.u32("function type")
		if err != nil {
			return err
		}
		if t >= uint32(len(r.wrapperType)) {
			return r.errorf(at, ErrIndex, "function %d has type %d of %d", r.importedFuncs+i, t, len(r.wrapperType))
		}
		r.funcTypes = append(r.funcTypes, t)
	}
	return d.done()
}

// globalSection parses every global so that an initialiser cannot name the
// fuel global, then appends the fuel global.
func (r *rewriter) globalSection(off, end int) error {
	d := r.reader(off, end)
	n, err := d.count("global count")
	if err != nil {
		return err
	}
	entries := d.off
	for i := uint32(0); i < n; i++ {
		if _, err := d.valType("global type"); err != nil {
			return err
		}
		if err := r.mutability(&d); err != nil {
			return err
		}
		// Only imported and earlier globals may be read by an initialiser.
		if d.off, err = r.constExpr(d.off, end, r.importedGlobals+i); err != nil {
			return err
		}
	}
	if err := d.done(); err != nil {
		return err
	}
	r.appendGlobalSection(r.in[entries:end], n)
	return nil
}

// appendGlobalSection writes a global section holding the given entries
// followed by the fuel global and the stack global, whose indexes are
// therefore the number of globals before them: no existing index moves.
func (r *rewriter) appendGlobalSection(entries []byte, n uint32) {
	r.fuelGlobal = r.importedGlobals + n
	r.stats.FuelGlobal = r.fuelGlobal
	r.stats.StackGlobal = r.fuelGlobal + 1
	var added [32]byte
	g := append(added[:0], valI64, 1, 0x42)
	g = leb128.AppendS64(g, r.initial)
	g = append(g, 0x0B, valI32, 1, 0x41)
	g = leb128.AppendS64(g, r.stackInit)
	g = append(g, 0x0B)
	size := leb128.SizeU32(n+2) + len(entries) + len(g)
	r.out = append(r.out, secGlobal)
	r.out = leb128.AppendU32(r.out, uint32(size))
	r.out = leb128.AppendU32(r.out, n+2)
	r.out = append(r.out, entries...)
	r.out = append(r.out, g...)
	r.globalDone = true
}

func (r *rewriter) exportSection(off, end int) error {
	d := r.reader(off, end)
	n, err := d.count("export count")
	if err != nil {
		return err
	}
	entries := d.off
	for i := uint32(0); i < n; i++ {
		at := d.off
		name, err := d.name("export name")
		if err != nil {
			return err
		}
		if string(name) == ExportName || string(name) == StackExportName {
			return r.errorf(at, ErrExportClash, "export %q", name)
		}
		at = d.off
		kind, err := d.byte("export kind")
		if err != nil {
			return err
		}
		idx, err := d.u32("export index")
		if err != nil {
			return err
		}
		switch {
		case kind == 3 && idx >= r.fuelGlobal:
			return r.errorf(at, ErrIndex, "export %q names global %d of %d", name, idx, r.fuelGlobal)
		case kind == 4:
			return r.errorf(at, ErrUnsupported, "tag export (exception handling)")
		case kind > 4:
			return r.errorf(at, ErrMalformed, "export kind %#x", kind)
		}
	}
	if err := d.done(); err != nil {
		return err
	}
	r.appendExportSection(r.in[entries:end], n)
	return nil
}

func (r *rewriter) appendExportSection(entries []byte, n uint32) {
	var added [32]byte
	e := leb128.AppendU32(added[:0], uint32(len(ExportName)))
	e = append(e, ExportName...)
	e = append(e, 3)
	e = leb128.AppendU32(e, r.fuelGlobal)
	e = leb128.AppendU32(e, uint32(len(StackExportName)))
	e = append(e, StackExportName...)
	e = append(e, 3)
	e = leb128.AppendU32(e, r.fuelGlobal+1)
	r.out = append(r.out, secExport)
	r.out = leb128.AppendU32(r.out, uint32(leb128.SizeU32(n+2)+len(entries)+len(e)))
	r.out = leb128.AppendU32(r.out, n+2)
	r.out = append(r.out, entries...)
	r.out = append(r.out, e...)
	r.exportDone = true
}

// constExpr checks a constant expression starting at off and returns the
// offset after its end opcode. It accepts the constant instructions of
// wasm 2.0 plus extended-const arithmetic; global.get must name a global
// below maxGlobal.
func (r *rewriter) constExpr(off, end int, maxGlobal uint32) (int, error) {
	b := r.in[:end]
	for off < end {
		at := off
		op := b[off]
		off++
		var err error
		var n int
		switch op {
		case 0x0B:
			return off, nil
		case 0x41:
			_, n, err = leb128.Signed(b, off, 32)
		case 0x42:
			_, n, err = leb128.Signed(b, off, 64)
		case 0x43:
			n = 4
		case 0x44:
			n = 8
		case 0xD0:
			if off < end && (b[off] == valFuncref || b[off] == valExternref) {
				n = 1
			} else {
				return 0, r.errorf(off, ErrUnsupported, "ref.null heap type")
			}
		case 0xD2:
			_, n, err = leb128.U32(b, off)
		case 0x23:
			var g uint32
			g, n, err = leb128.U32(b, off)
			if err == nil && g >= maxGlobal {
				return 0, r.errorf(at, ErrIndex, "constant expression reads global %d of %d", g, maxGlobal)
			}
		case 0x6A, 0x6B, 0x6C, 0x7C, 0x7D, 0x7E: // extended-const add/sub/mul
		case 0xFD:
			var sub uint32
			sub, n, err = leb128.U32(b, off)
			if err == nil && sub != 12 {
				return 0, r.errorf(at, ErrUnsupported, "opcode 0xfd %d in a constant expression", sub)
			}
			n += 16
		default:
			return 0, r.errorf(at, ErrUnsupported, "opcode %#x in a constant expression", op)
		}
		if err != nil {
			return 0, r.errorf(off, ErrMalformed, "constant expression immediate: %v", err)
		}
		if n > end-off {
			return 0, r.errorf(at, ErrMalformed, "constant expression overruns the section")
		}
		off += n
	}
	return 0, r.errorf(off, ErrMalformed, "constant expression has no end")
}

// The sections below are copied verbatim, but parsed first: every vector
// length must fit in the bytes that remain, because wazero's decoder
// allocates by the declared length before reading, and a 20-byte module
// could otherwise make the host allocate gigabytes.

func (r *rewriter) tableSection(off, end int) error {
	d := r.reader(off, end)
	n, err := d.count("table count")
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		if _, err := d.valType("table element type"); err != nil {
			return err
		}
		if err := r.limits(&d); err != nil {
			return err
		}
	}
	return d.done()
}

func (r *rewriter) memorySection(off, end int) error {
	d := r.reader(off, end)
	n, err := d.count("memory count")
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		if err := r.limits(&d); err != nil {
			return err
		}
	}
	return d.done()
}

// elementSection checks the segments' framing, vector lengths and constant
// expressions (which must not read the fuel global).
func (r *rewriter) elementSection(off, end int) error {
	d := r.reader(off, end)
	n, err := d.count("element segment count")
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		at := d.off
		flags, err := d.u32("element segment flags")
		if err != nil {
			return err
		}
		if flags > 7 {
			return r.errorf(at, ErrMalformed, "element segment flags %d", flags)
		}
		if flags&2 != 0 && flags&1 == 0 { // explicit table index
			if _, err := d.u32("element table index"); err != nil {
				return err
			}
		}
		if flags&1 == 0 { // active: offset expression
			if d.off, err = r.constExpr(d.off, end, r.fuelGlobal); err != nil {
				return err
			}
		}
		if flags&3 != 0 { // element kind (0x00) or reference type
			at := d.off
			k, err := d.byte("element kind")
			if err != nil {
				return err
			}
			if (flags&4 == 0 && k != 0) || (flags&4 != 0 && k != valFuncref && k != valExternref) {
				return r.errorf(at, ErrUnsupported, "element kind or type %#x", k)
			}
		}
		c, err := d.count("element count")
		if err != nil {
			return err
		}
		for j := uint32(0); j < c; j++ {
			if flags&4 == 0 {
				_, err = d.u32("element function index")
			} else {
				d.off, err = r.constExpr(d.off, end, r.fuelGlobal)
			}
			if err != nil {
				return err
			}
		}
	}
	return d.done()
}

func (r *rewriter) dataSection(off, end int) error {
	d := r.reader(off, end)
	n, err := d.count("data segment count")
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		at := d.off
		flags, err := d.u32("data segment flags")
		if err != nil {
			return err
		}
		switch flags {
		case 0, 2:
			if flags == 2 {
				if _, err := d.u32("data memory index"); err != nil {
					return err
				}
			}
			if d.off, err = r.constExpr(d.off, end, r.fuelGlobal); err != nil {
				return err
			}
		case 1:
		default:
			return r.errorf(at, ErrMalformed, "data segment flags %d", flags)
		}
		size, err := d.u32("data segment size")
		if err != nil {
			return err
		}
		if err := d.skip(size, "data segment"); err != nil {
			return err
		}
	}
	return d.done()
}

// nameSection checks the function and local name maps that wazero decodes;
// other subsections are skipped by both.
func (r *rewriter) nameSection(off, end int) error {
	saved := r.section
	r.section = "name"
	defer func() { r.section = saved }()
	d := r.reader(off, end)
	for d.off < d.end {
		id, err := d.byte("name subsection id")
		if err != nil {
			return err
		}
		size, err := d.u32("name subsection size")
		if err != nil {
			return err
		}
		start := d.off
		if err := d.skip(size, "name subsection"); err != nil {
			return err
		}
		if id != 1 && id != 2 {
			continue
		}
		sub := r.reader(start, d.off)
		n, err := sub.count("name map length")
		if err != nil {
			return err
		}
		for i := uint32(0); i < n; i++ {
			if _, err := sub.u32("function index"); err != nil {
				return err
			}
			if id == 1 {
				_, err = sub.name("function name")
			} else {
				err = r.nameMap(&sub)
			}
			if err != nil {
				return err
			}
		}
		if err := sub.done(); err != nil {
			return err
		}
	}
	return nil
}

func (r *rewriter) nameMap(d *reader) error {
	n, err := d.count("local name map length")
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		if _, err := d.u32("local index"); err != nil {
			return err
		}
		if _, err := d.name("local name"); err != nil {
			return err
		}
	}
	return nil
}
