package fuel

// maxLocals bounds a function's parameters plus locals, as wasmtime and V8
// do: wazero allocates a byte per local before checking anything else.
const maxLocals = 50000

// Immediate kinds of the single-byte opcodes; 0 marks an opcode we refuse.
const (
	immUnknown = iota
	immNone
	immBlock    // block, loop, if: block type
	immU32      // one index
	immU32x2    // call_indirect, return_call_indirect: type, table
	immLocal    // local.get/set/tee
	immGlobal   // global.get/set
	immBrTable  // vector of labels plus default
	immSelectT  // vector of value types
	immMemarg   // alignment (+ memory index), offset
	immI32      // signed LEB, 32 bits
	immI64      // signed LEB, 64 bits
	immFixed4   // f32.const
	immFixed8   // f64.const
	immRefNull  // reference type
	immPrefixFC // misc: saturating truncation, bulk memory, tables
	immPrefixFD // SIMD
	immPrefixFE // threads: atomics
)

var opImm = func() (t [256]uint8) {
	set := func(lo, hi int, k uint8) {
		for op := lo; op <= hi; op++ {
			t[op] = k
		}
	}
	set(0x00, 0x01, immNone)   // unreachable, nop
	set(0x02, 0x04, immBlock)  // block, loop, if
	t[0x05] = immNone          // else
	t[0x0B] = immNone          // end
	set(0x0C, 0x0D, immU32)    // br, br_if
	t[0x0E] = immBrTable       // br_table
	t[0x0F] = immNone          // return
	t[0x10] = immU32           // call
	t[0x11] = immU32x2         // call_indirect
	t[0x12] = immU32           // return_call
	t[0x13] = immU32x2         // return_call_indirect
	set(0x1A, 0x1B, immNone)   // drop, select
	t[0x1C] = immSelectT       // select t*
	set(0x20, 0x22, immLocal)  // local.get/set/tee
	set(0x23, 0x24, immGlobal) // global.get/set
	set(0x25, 0x26, immU32)    // table.get/set
	set(0x28, 0x3E, immMemarg) // loads and stores
	set(0x3F, 0x40, immU32)    // memory.size/grow
	t[0x41] = immI32
	t[0x42] = immI64
	t[0x43] = immFixed4
	t[0x44] = immFixed8
	set(0x45, 0xC4, immNone) // numeric, incl. sign extension 0xC0-0xC4
	t[0xD0] = immRefNull
	t[0xD1] = immNone // ref.is_null
	t[0xD2] = immU32  // ref.func
	t[0xFC] = immPrefixFC
	t[0xFD] = immPrefixFD
	t[0xFE] = immPrefixFE
	return t
}()

// simdKnown marks the 0xFD sub-opcodes of the fixed-width SIMD proposal
// (wasm 2.0); the gaps in its numbering and relaxed SIMD are refused.
var simdKnown = func() (t [256]bool) {
	for op := 0; op < 256; op++ {
		t[op] = true
	}
	for _, op := range []int{0x9A, 0xA2, 0xA5, 0xA6, 0xAF, 0xB0, 0xB2, 0xB3, 0xB4, 0xBB,
		0xC2, 0xC5, 0xC6, 0xCF, 0xD0, 0xD2, 0xD3, 0xD4, 0xE2, 0xEE} {
		t[op] = false
	}
	return t
}()

// Kinds of size-dependent charges, inserted before the operation so that its
// size operand, on top of the stack, can be read.
const (
	insRegion  = iota // static charge at function entry or loop header
	insBytes          // memory.copy/fill/init: size in bytes
	insPages          // memory.grow: size in 64 KiB pages
	insElems          // table.copy/fill/init/grow: size in elements
	insNothing        // placeholder kind never emitted
)

// insertion is code to insert before the original byte at pos.
type insertion struct {
	pos  int
	kind uint8
	cost int64 // insRegion: the region's fuel
}

// codeWalker is the per-body state, reused across bodies.
type codeWalker struct {
	ctl     []byte // open blocks: the opcode that opened them (0x02, 0x03, 0x04) or 0x05 for else
	regions []int  // indexes in ins of the charges that enclosing loops (and the entry) pay into
	ins     []insertion
	body    []byte // scratch output of one body
}

func (r *rewriter) codeSection(off, end int) error {
	d := r.reader(off, end)
	n, err := d.count("function body count")
	if err != nil {
		return err
	}
	if n != uint32(len(r.funcTypes)) {
		return r.errorf(off, ErrMalformed, "%d function bodies for %d functions", n, len(r.funcTypes))
	}
	// The section only grows; build its payload after the header's place.
	hdr := len(r.out)
	r.out = append(r.out, secCode, 0, 0, 0, 0, 0)
	r.out = append(r.out, r.in[off:d.off]...)
	for i := uint32(0); i < n; i++ {
		r.fn = int(r.importedFuncs + i)
		size, err := d.u32("function body size")
		if err != nil {
			return err
		}
		start := d.off
		if err := d.skip(size, "function body"); err != nil {
			return err
		}
		if err := r.body(start, d.off, r.typeParams[r.funcTypes[i]]); err != nil {
			return err
		}
	}
	r.fn = -1
	if err := d.done(); err != nil {
		return err
	}
	// Write the section size as a padded 5-byte LEB into the reserved room:
	// it is valid and avoids moving the payload.
	size := len(r.out) - hdr - 6
	if uint64(size) > 0xFFFFFFFF {
		return r.errorf(off, ErrUnsupported, "instrumented code section exceeds 4 GiB")
	}
	p := r.out[hdr+1 : hdr+6]
	for k := 0; k < 5; k++ {
		p[k] = byte(size>>(7*k)) & 0x7F
		if k < 4 {
			p[k] |= 0x80
		}
	}
	return nil
}

// body walks one function body in[start:end], decides where to charge, and
// appends the instrumented body (with its size) to r.out.
func (r *rewriter) body(start, end int, params uint32) error {
	w := &r.code
	w.ctl, w.regions, w.ins = w.ctl[:0], w.regions[:0], w.ins[:0]
	in := r.in[:end]

	// Locals: copied verbatim, counted so local indexes can be checked.
	d := r.reader(start, end)
	groups, err := d.count("local group count")
	if err != nil {
		return err
	}
	locals := uint64(params)
	for i := uint32(0); i < groups; i++ {
		c, err := d.u32("local count")
		if err != nil {
			return err
		}
		if _, err := d.valType("local type"); err != nil {
			return err
		}
		locals += uint64(c)
	}
	if locals > maxLocals {
		return r.errorf(start, ErrUnsupported, "%d parameters and locals, more than %d", locals, maxLocals)
	}
	codeStart := d.off

	w.ins = append(w.ins, insertion{pos: codeStart, kind: insRegion, cost: r.regionCost + r.callCost})
	w.regions = append(w.regions, 0)
	w.ctl = append(w.ctl, 0x02) // the function's own block
	off := codeStart
	for len(w.ctl) > 0 {
		if off >= end {
			return r.errorf(off, ErrMalformed, "function body ends inside a block")
		}
		at := off
		op := in[off]
		off++
		w.ins[w.regions[len(w.regions)-1]].cost += r.instrCost
		kind := opImm[op]
		var n int
		switch kind {
		case immUnknown:
			return r.errorf(at, ErrUnsupported, "opcode %#x", op)
		case immNone:
			switch op {
			case 0x05: // else
				if w.ctl[len(w.ctl)-1] != 0x04 {
					return r.errorf(at, ErrMalformed, "else outside if")
				}
				w.ctl[len(w.ctl)-1] = 0x05
			case 0x0B: // end
				if w.ctl[len(w.ctl)-1] == 0x03 {
					w.regions = w.regions[:len(w.regions)-1]
				}
				w.ctl = w.ctl[:len(w.ctl)-1]
			}
		case immBlock:
			if n, err = r.blockType(in, off); err != nil {
				return err
			}
			w.ctl = append(w.ctl, op)
			if op == 0x03 {
				w.regions = append(w.regions, len(w.ins))
				w.ins = append(w.ins, insertion{pos: off + n, kind: insRegion, cost: r.regionCost})
				r.stats.Loops++
			}
		case immU32:
			_, n, err = readU32(in, off)
			if op == 0x40 { // memory.grow
				w.ins = append(w.ins, insertion{pos: at, kind: insPages})
				r.stats.BulkOps++
			}
		case immU32x2:
			if _, n, err = readU32(in, off); err == nil {
				var m int
				_, m, err = readU32(in, off+n)
				n += m
			}
		case immLocal:
			var x uint32
			if x, n, err = readU32(in, off); err == nil && uint64(x) >= locals {
				return r.errorf(at, ErrIndex, "local %d of %d", x, locals)
			}
		case immGlobal:
			var x uint32
			if x, n, err = readU32(in, off); err == nil && x >= r.fuelGlobal {
				return r.errorf(at, ErrIndex, "global %d of %d", x, r.fuelGlobal)
			}
		case immBrTable:
			n, err = r.vector(in, off, 1, func(p int) (int, error) { _, m, err := readU32(in, p); return m, err })
		case immSelectT:
			n, err = r.vector(in, off, 0, func(p int) (int, error) {
				if p < len(in) && isValType(in[p]) {
					return 1, nil
				}
				return 0, r.errorf(p, ErrUnsupported, "select value type")
			})
		case immMemarg:
			n, err = r.memarg(in, off)
		case immI32:
			_, n, err = readSigned(in, off, 32)
		case immI64:
			_, n, err = readSigned(in, off, 64)
		case immFixed4:
			n = 4
		case immFixed8:
			n = 8
		case immRefNull:
			if off >= len(in) || (in[off] != valFuncref && in[off] != valExternref) {
				return r.errorf(off, ErrUnsupported, "ref.null heap type")
			}
			n = 1
		case immPrefixFC, immPrefixFD, immPrefixFE:
			n, err = r.prefixed(in, at, op)
		}
		if err != nil {
			if _, ok := err.(*Error); ok {
				return err
			}
			return r.errorf(at, ErrMalformed, "immediate of opcode %#x: %v", op, err)
		}
		if n > end-off {
			return r.errorf(at, ErrMalformed, "immediate of opcode %#x overruns the body", op)
		}
		off += n
	}
	if off != end {
		return r.errorf(off, ErrMalformed, "%d bytes after the function's final end", end-off)
	}
	r.emitBody(start, codeStart, end, uint32(locals))
	r.stats.Functions++
	return nil
}

// vector walks a vector of count+extra elements read by elem and returns its
// length in bytes.
func (r *rewriter) vector(in []byte, off int, extra uint32, elem func(int) (int, error)) (int, error) {
	c, n, err := readU32(in, off)
	if err != nil {
		return 0, err
	}
	if uint64(c) > uint64(len(in)-off) {
		return 0, r.errorf(off, ErrMalformed, "vector of %d elements overruns the body", c)
	}
	p := off + n
	for i := uint64(0); i < uint64(c)+uint64(extra); i++ {
		m, err := elem(p)
		if err != nil {
			return 0, err
		}
		p += m
	}
	return p - off, nil
}

// blockType returns the length of a block type: empty, one value type, or a
// non-negative type index (s33).
func (r *rewriter) blockType(in []byte, off int) (int, error) {
	if off < len(in) && (in[off] == 0x40 || isValType(in[off])) {
		return 1, nil
	}
	v, n, err := readSigned(in, off, 33)
	if err != nil {
		return 0, r.errorf(off, ErrMalformed, "block type: %v", err)
	}
	if v < 0 {
		return 0, r.errorf(off, ErrUnsupported, "block type %#x", in[off])
	}
	if v >= int64(len(r.typeParams)) {
		return 0, r.errorf(off, ErrIndex, "block type %d of %d", v, len(r.typeParams))
	}
	return n, nil
}

// memarg returns the length of a memory argument. Multi-memory (bit 6 of the
// alignment) is refused: wazero does not support it.
func (r *rewriter) memarg(in []byte, off int) (int, error) {
	align, n, err := readU32(in, off)
	if err != nil {
		return 0, err
	}
	if align >= 1<<6 {
		return 0, r.errorf(off, ErrUnsupported, "memory argument flags %#x (multiple memories)", align)
	}
	_, m, err := readU32(in, off+n)
	return n + m, err
}

// prefixed returns the length of the sub-opcode and immediates of a 0xFC,
// 0xFD or 0xFE instruction at at, and records size-dependent charges.
func (r *rewriter) prefixed(in []byte, at int, prefix byte) (int, error) {
	off := at + 1
	sub, n, err := readU32(in, off)
	if err != nil {
		return 0, err
	}
	p := off + n
	u32s := func(k int) (int, error) { // k index immediates
		q := p
		for ; k > 0; k-- {
			_, m, err := readU32(in, q)
			if err != nil {
				return 0, err
			}
			q += m
		}
		return q - off, nil
	}
	unknown := func() (int, error) {
		return 0, r.errorf(at, ErrUnsupported, "opcode %#x %d", prefix, sub)
	}
	w := &r.code
	switch prefix {
	case 0xFC:
		switch {
		case sub <= 7: // saturating truncation
			return n, nil
		case sub == 8 || sub == 10: // memory.init data mem, memory.copy mem mem
			w.ins = append(w.ins, insertion{pos: at, kind: insBytes})
			r.stats.BulkOps++
			return u32s(2)
		case sub == 11: // memory.fill mem
			w.ins = append(w.ins, insertion{pos: at, kind: insBytes})
			r.stats.BulkOps++
			return u32s(1)
		case sub == 9 || sub == 13 || sub == 16: // data.drop, elem.drop, table.size
			return u32s(1)
		case sub == 12 || sub == 14: // table.init elem table, table.copy table table
			w.ins = append(w.ins, insertion{pos: at, kind: insElems})
			r.stats.BulkOps++
			return u32s(2)
		case sub == 15 || sub == 17: // table.grow, table.fill
			w.ins = append(w.ins, insertion{pos: at, kind: insElems})
			r.stats.BulkOps++
			return u32s(1)
		}
		return unknown()
	case 0xFD:
		switch {
		case sub <= 11 || sub == 92 || sub == 93: // loads, stores
			m, err := r.memarg(in, p)
			return n + m, err
		case sub == 12 || sub == 13: // v128.const, i8x16.shuffle
			return n + 16, nil
		case sub >= 21 && sub <= 34: // extract/replace lane
			return n + 1, nil
		case sub >= 84 && sub <= 91: // load/store lane
			m, err := r.memarg(in, p)
			return n + m + 1, err
		case sub < 256 && simdKnown[sub]:
			return n, nil
		}
		return unknown()
	default: // 0xFE
		switch {
		case sub == 3: // atomic.fence
			if p >= len(in) || in[p] != 0 {
				return 0, r.errorf(p, ErrMalformed, "atomic.fence flags")
			}
			return n + 1, nil
		case sub == 1 || sub == 2:
			// A wait can block for ever, and no fuel check runs while it does.
			return 0, r.errorf(at, ErrUnsupported, "memory.atomic.wait (blocks without a bound fuel can enforce)")
		case sub == 0 || (sub >= 0x10 && sub <= 0x4E):
			m, err := r.memarg(in, p)
			return n + m, err
		}
		return unknown()
	}
}

// emitBody appends the instrumented body: its size, its locals (plus one i32
// scratch local when a size-dependent charge needs it) and its code with the
// charges inserted.
func (r *rewriter) emitBody(start, codeStart, end int, locals uint32) {
	w := &r.code
	b := w.body[:0]
	groups, n, _ := readU32(r.in, start) // already validated by body
	scratch := false
	for _, ins := range w.ins {
		scratch = scratch || ins.kind != insRegion
	}
	if scratch {
		b = appendU32(b, groups+1)
		b = append(b, r.in[start+n:codeStart]...)
		b = append(b, 1, valI32)
	} else {
		b = append(b, r.in[start:codeStart]...)
	}
	g := r.fuelGlobal
	prev := codeStart
	for _, ins := range w.ins {
		b = append(b, r.in[prev:ins.pos]...)
		prev = ins.pos
		switch ins.kind {
		case insRegion:
			if ins.cost == 0 {
				continue
			}
			// fuel -= cost
			b = append(b, 0x23)
			b = appendU32(b, g)
			b = append(b, 0x42)
			b = appendS64(b, ins.cost)
			b = append(b, 0x7D)
		default:
			// The size is on top of the stack: keep it there and
			// fuel -= size (scaled).
			b = append(b, 0x22)
			b = appendU32(b, locals)
			b = append(b, 0x23)
			b = appendU32(b, g)
			b = append(b, 0x20)
			b = appendU32(b, locals)
			b = append(b, 0xAD) // i64.extend_i32_u
			switch {
			case ins.kind == insBytes && r.byteShift > 0:
				b = append(b, 0x42, r.byteShift, 0x88) // i64.shr_u
			case ins.kind == insPages && r.byteShift < 16:
				b = append(b, 0x42, 16-r.byteShift, 0x86) // i64.shl
			}
			b = append(b, 0x7D)
		}
		// global.set; trap if fuel < 0. Subtracting before the check
		// leaves the global negative, which is how the host tells a
		// fuel trap from the guest's own unreachable.
		b = append(b, 0x24)
		b = appendU32(b, g)
		b = append(b, 0x23)
		b = appendU32(b, g)
		b = append(b, 0x42, 0x00, 0x53, 0x04, 0x40, 0x00, 0x0B)
	}
	b = append(b, r.in[prev:end]...)
	r.out = appendU32(r.out, uint32(len(b)))
	r.out = append(r.out, b...)
	w.body = b
}
