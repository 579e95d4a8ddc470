package fuel

import (
	"slices"

	"github.com/memif-wasm/memif-wasm/host/internal/leb128"
)

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

// Kinds of charges. A static charge pays for the code that can run from its
// place to the next charge; the others are inserted before an operation so
// that its size operand, on top of the stack, can be read.
const (
	insRegion  = iota // static charge: function entry, loop header, or join
	insTable          // before a br_table: a charge that depends on its target
	insEntry          // before a dispatch loop: its br_table's charge, by the local it reads
	insSource         // before a br back to a dispatch loop: the charge of the target it set
	insBytes          // memory.copy/fill/init: size in bytes
	insPages          // memory.grow: size in 64 KiB pages
	insElems          // table.copy/fill/init/grow: size in elements
	insReturn         // at a return: give the frame's stack back (or branch to the wrapping block)
	insTail           // before return_call(_indirect): give the frame's stack back
	insExit           // before a br to the function's label: give the frame's stack back
	insExitIf         // before a br_if to the function's label: give it back...
	insRetake         // ...and after it, take it again (the branch was not taken)
	insNothing        // placeholder kind never emitted
)

// insertion is code to insert before the original byte at pos.
type insertion struct {
	pos  int
	kind uint8
	join bool // insRegion placed after the end of a block that branches reach
	loop bool // insRegion at a loop header
	// ended is set once a path from this charge has stopped; folded when
	// a loop header's charge moved to the br_table its path ends in;
	// virtual when the charge is paid where control comes from instead
	// (by the br_table that jumps here, or by the path that falls in).
	ended, folded, virtual bool
	depth                  int   // loop: index of its frame in ctl
	base                   int64 // fixed part (Costs.Region, Costs.Call; insTable: a folded loop header's charge)
	cost                   int64 // insRegion: the most fuel any path from here to the next charge spends
	labels, nlabels        int   // insTable: its targets' frame ids are tabs[labels:labels+nlabels]

	// A loop header's path may be a dispatch: blocks, local.get local,
	// br_table (table, the index of its insTable). mixed is set when a
	// branch back to it does not first set local to a constant.
	shape uint8 // 0: only blocks so far, 1: then local.get, 2: neither
	local uint32
	table int
	mixed bool

	loopCP int    // insEntry, insSource: the loop header's charge
	target uint32 // insSource: the index the dispatch will read; insReturn: the label of the wrapping block
}

// fallIn records that the path from charge from, at cost, falls into the
// virtual charge to: from must also pay for the code after to.
type fallIn struct {
	from, to int
	cost     int64
}

// path is the straight-line code run since the last static charge: the
// index in ins of that charge and the fuel of the instructions since. cp < 0
// marks code no path reaches (after br, return, unreachable and the like).
type path struct {
	cp   int
	cost int64
}

var deadPath = path{cp: -1}

// frame is an open block, loop, if or else.
type frame struct {
	op byte // 0x02 block, 0x03 loop, 0x04 if, 0x05 else
	id int  // index in codeWalker.joinOf
	cp int  // loop: its header's charge
	// tabled is set when a br_table that runs jumps to this block's end,
	// other when another branch does (never set for loops).
	tabled, other bool
	outer         path // if: the path at the if (a false condition skips the arm); loop: the path that continues after its end
	then          path // else: the path at the end of the then-arm
}

// codeWalker is the per-body state, reused across bodies.
type codeWalker struct {
	ctl    []frame
	labels []uint32 // scratch: the targets of one br_table
	// sourced is set while branch handles a br right after
	// "i32.const setVal; local.set setLocal".
	sourced bool
	cur     path
	ins     []insertion
	tabs    []int    // insTable targets: frame ids, -1 for a loop or the function
	joinOf  []int    // by frame id: the charge after the block's end, -1 if none
	falls   []fallIn // paths that fall into virtual charges
	costs   []int64  // scratch: one br_table's charge per target
	body    []byte   // scratch output of one body

	// Whether the previous instruction was i32.const constVal, or was
	// local.set setLocal right after i32.const setVal: the way Go's
	// compiler jumps, "i32.const k; local.set x; br dispatch".
	afterConst, afterSet bool

	// calls is set when the body calls: only then can its frame be under
	// another, so only then does it take from the stack budget. tableToFn
	// is set when a br_table can jump to the function's label, an exit
	// that only a block around the body can catch.
	calls, tableToFn           bool
	constVal, setLocal, setVal uint32
}

// charge starts a static charge at pos and returns the path that begins there.
func (w *codeWalker) charge(pos int, base int64, join bool) path {
	w.ins = append(w.ins, insertion{pos: pos, kind: insRegion, base: base, join: join, loop: !join && len(w.ctl) > 0, depth: len(w.ctl)})
	return path{cp: len(w.ins) - 1}
}

// end records that a path stops here: control leaves it through a branch, a
// return or a trap, or falls into the next charge. Its charge must cover it.
func (w *codeWalker) end(p path) {
	if p.cp < 0 {
		return
	}
	in := &w.ins[p.cp]
	in.ended = true
	in.cost = max(in.cost, p.cost)
}

// merge joins two paths that meet at the end of an if. Paths from the same
// charge continue as the longer one, so a short arm is charged the longer
// arm's difference; paths from different charges need a new charge at the
// join, which merge reports by returning ok false.
func (w *codeWalker) merge(a, b path) (p path, ok bool) {
	switch {
	case a.cp < 0:
		return b, true
	case b.cp < 0, a.cp == b.cp && a.cost >= b.cost:
		return a, true
	case a.cp == b.cp:
		return b, true
	}
	w.end(a)
	w.end(b)
	return deadPath, false
}

// branch checks the labels of a branch, marks their targets and ends the
// path taken: a loop's header charges, and so does a block's end, or the
// br_table that jumps to it.
func (r *rewriter) branch(at int, labels []uint32, table bool) error {
	w := &r.code
	for _, x := range labels {
		if uint64(x) >= uint64(len(w.ctl)) {
			return r.errorf(at, ErrMalformed, "branch to label %d with %d blocks open", x, len(w.ctl))
		}
	}
	if w.cur.cp < 0 { // never runs
		return nil
	}
	if table {
		t := insertion{pos: at, kind: insTable, labels: len(w.tabs), nlabels: len(labels), loopCP: -1}
		if w.foldable() {
			lp := &w.ins[w.cur.cp]
			lp.folded, t.base = true, lp.base+w.cur.cost
			if lp.shape == 1 {
				lp.table, t.loopCP = len(w.ins), w.cur.cp
			}
		}
		w.ins = append(w.ins, t)
	}
	for _, x := range labels {
		f := &w.ctl[len(w.ctl)-1-int(x)]
		if table {
			id := -1
			if f.op == 0x02 && len(w.ctl)-1-int(x) > 0 {
				id = f.id
			}
			w.tabs = append(w.tabs, id)
		}
		if f.op == 0x03 {
			// A br back to a dispatch loop that first sets the local the
			// dispatch reads to a constant knows where it lands: it pays
			// for that target (insSource). Other branches back make the
			// dispatch charge at its br_table.
			lp := &w.ins[f.cp]
			if w.sourced && lp.table >= 0 && w.setLocal == lp.local {
				w.ins = append(w.ins, insertion{pos: at, kind: insSource, loopCP: f.cp, target: w.setVal})
			} else {
				lp.mixed = true
			}
			continue
		}
		if table {
			f.tabled = true
			continue
		}
		f.other = true
	}
	w.end(w.cur)
	return nil
}

// foldable reports whether the current path, which ends in a br_table, is
// the only path from a loop header: the dispatch that Go's compiler puts at
// the top of every function (a loop around a br_table on the resume
// address). The header's charge then moves to the br_table, which charges
// anyway, so a taken branch in such code pays one charge instead of two.
func (w *codeWalker) foldable() bool {
	in := &w.ins[w.cur.cp]
	if !in.loop || in.ended {
		return false
	}
	for _, f := range w.ctl[in.depth+1:] {
		if f.op != 0x02 { // an if's other arm is still a path from the header
			return false
		}
	}
	return true
}

// weight is the fuel of one instruction: block, loop, end and nop compile
// to no code of their own and are free; anything else costs instrCost.
func (r *rewriter) weight(op byte) int64 {
	switch op {
	case 0x01, 0x02, 0x03, 0x0B:
		return 0
	}
	return r.instrCost
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
//
// Static charges sit at the function entry, at each loop header, and after
// the end of each block or if that a branch targets (or whose arms were
// charged separately). Every edge into the middle of straight-line code is
// one of those, so a path from a charge runs forward, and the charge is the
// fuel of its longest path to the next charge. The code after a loop belongs
// to the path that entered the loop: the loop is left by falling out of its
// end at most once per entry.
func (r *rewriter) body(start, end int, params uint32) error {
	w := &r.code
	w.ctl, w.ins, w.tabs, w.joinOf, w.falls = w.ctl[:0], w.ins[:0], w.tabs[:0], w.joinOf[:0], w.falls[:0]
	w.calls, w.tableToFn = false, false
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

	w.cur = w.charge(codeStart, r.regionCost+r.callCost, false)
	w.ctl = append(w.ctl, frame{op: 0x02, id: len(w.joinOf)}) // the function's own block
	w.joinOf = append(w.joinOf, -1)
	off := codeStart
	for len(w.ctl) > 0 {
		if off >= end {
			return r.errorf(off, ErrMalformed, "function body ends inside a block")
		}
		at := off
		op := in[off]
		off++
		if w.cur.cp >= 0 {
			w.cur.cost += r.weight(op)
			if lp := &w.ins[w.cur.cp]; lp.loop && lp.shape < 2 && !lp.ended {
				switch {
				case op == 0x02 && lp.shape == 0:
				case op == 0x20 && lp.shape == 0:
					lp.shape = 1
					lp.local, _, _ = leb128.U32(in, off)
				case op == 0x0E && lp.shape == 1:
				default:
					lp.shape = 2
				}
			}
		}
		afterConst, afterSet := w.afterConst, w.afterSet
		w.afterConst, w.afterSet = false, false
		kind := opImm[op]
		var n int
		switch kind {
		case immUnknown:
			return r.errorf(at, ErrUnsupported, "opcode %#x", op)
		case immNone:
			switch op {
			case 0x00, 0x0F: // unreachable, return
				w.end(w.cur)
				w.cur = deadPath
				if op == 0x0F {
					w.ins = append(w.ins, insertion{pos: at, kind: insReturn, target: uint32(len(w.ctl) - 1)})
				}
			case 0x05: // else
				f := &w.ctl[len(w.ctl)-1]
				if f.op != 0x04 {
					return r.errorf(at, ErrMalformed, "else outside if")
				}
				f.op, f.then, w.cur = 0x05, w.cur, f.outer
			case 0x0B: // end
				r.endBlock(off)
			}
		case immBlock:
			if n, err = r.blockType(in, off); err != nil {
				return err
			}
			f := frame{op: op, id: len(w.joinOf)}
			w.joinOf = append(w.joinOf, -1)
			switch op {
			case 0x03: // loop: its header charges
				f.outer = w.cur
				w.end(w.cur)
				entry := len(w.ins)
				w.ins = append(w.ins, insertion{pos: at, kind: insEntry})
				w.cur = w.charge(off+n, r.regionCost, false)
				f.cp = w.cur.cp
				w.ins[entry].loopCP = f.cp
				w.ins[f.cp].table = -1
				r.stats.Loops++
			case 0x04: // if
				f.outer = w.cur
			}
			w.ctl = append(w.ctl, f)
		case immU32:
			var x uint32
			x, n, err = leb128.U32(in, off)
			switch {
			case err != nil:
			case op == 0x0C || op == 0x0D: // br, br_if
				if int(x) == len(w.ctl)-1 { // to the function's label: an exit
					if op == 0x0C {
						w.ins = append(w.ins, insertion{pos: at, kind: insExit})
					} else {
						w.ins = append(w.ins, insertion{pos: at, kind: insExitIf}, insertion{pos: off + n, kind: insRetake})
					}
				}
				w.labels = append(w.labels[:0], x)
				w.sourced = op == 0x0C && afterSet
				err = r.branch(at, w.labels, false)
				w.sourced = false
				if err == nil && op == 0x0C {
					w.cur = deadPath
				}
			case op == 0x10: // call
				w.calls = true
			case op == 0x12: // return_call
				w.calls = true
				w.end(w.cur)
				w.cur = deadPath
				w.ins = append(w.ins, insertion{pos: at, kind: insTail})
			case op == 0x40: // memory.grow
				w.ins = append(w.ins, insertion{pos: at, kind: insPages})
				r.stats.BulkOps++
			}
		case immU32x2:
			var x uint32
			if x, n, err = leb128.U32(in, off); err == nil {
				var m int
				_, m, err = leb128.U32(in, off+n)
				n += m
			}
			w.calls = true
			if err == nil && uint64(x) >= uint64(len(r.wrapperType)) {
				return r.errorf(at, ErrIndex, "call_indirect type %d of %d", x, len(r.wrapperType))
			}
			if op == 0x13 { // return_call_indirect
				w.end(w.cur)
				w.cur = deadPath
				w.ins = append(w.ins, insertion{pos: at, kind: insTail})
			}
		case immLocal:
			var x uint32
			if x, n, err = leb128.U32(in, off); err == nil && uint64(x) >= locals {
				return r.errorf(at, ErrIndex, "local %d of %d", x, locals)
			}
			if op == 0x21 && afterConst {
				w.afterSet, w.setLocal, w.setVal = true, x, w.constVal
			}
		case immGlobal:
			var x uint32
			if x, n, err = leb128.U32(in, off); err == nil && x >= r.fuelGlobal {
				return r.errorf(at, ErrIndex, "global %d of %d", x, r.fuelGlobal)
			}
		case immBrTable:
			w.labels = w.labels[:0]
			n, err = r.vector(in, off, 1, func(p int) (int, error) {
				x, m, err := leb128.U32(in, p)
				w.labels = append(w.labels, x)
				return m, err
			})
			if err == nil {
				err = r.branch(at, w.labels, true)
			}
			w.tableToFn = w.tableToFn || slices.Contains(w.labels, uint32(len(w.ctl)-1))
			w.cur = deadPath
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
			var v int64
			v, n, err = leb128.Signed(in, off, 32)
			w.afterConst, w.constVal = true, uint32(v)
		case immI64:
			_, n, err = leb128.Signed(in, off, 64)
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

// endBlock closes the innermost block at an end opcode; next is the offset
// after it, where a join charge goes.
func (r *rewriter) endBlock(next int) {
	w := &r.code
	f := w.ctl[len(w.ctl)-1]
	w.ctl = w.ctl[:len(w.ctl)-1]
	if len(w.ctl) == 0 { // the function's end returns
		w.end(w.cur)
		return
	}
	ok := true
	switch f.op {
	case 0x03: // loop: the path that entered it goes on after it
		w.end(w.cur)
		if w.cur.cp >= 0 {
			w.cur = f.outer
		}
		return
	case 0x04: // if without else: a false condition skips the arm
		w.cur, ok = w.merge(w.cur, f.outer)
	case 0x05:
		w.cur, ok = w.merge(f.then, w.cur)
	}
	switch {
	case !ok: // the arms come from different charges
	case f.op == 0x02 && f.tabled && !f.other:
		// Only br_tables and the path that falls in arrive here, so they
		// can pay for what follows instead: each br_table charges by its
		// target, and the falling path adds it to its own charge. Go's
		// functions reach every resume point this way, most of them by
		// falling in after a call.
		p := w.charge(next, 0, true)
		w.ins[p.cp].virtual = true
		if w.cur.cp >= 0 {
			w.ins[w.cur.cp].ended = true
			w.falls = append(w.falls, fallIn{from: w.cur.cp, to: p.cp, cost: w.cur.cost})
		}
		w.joinOf[f.id], w.cur = p.cp, p
		return
	case !f.tabled && !f.other: // no branch that runs lands here
		return
	}
	w.end(w.cur)
	w.cur = w.charge(next, 0, true)
	w.joinOf[f.id] = w.cur.cp
}

// vector walks a vector of count+extra elements read by elem and returns its
// length in bytes.
func (r *rewriter) vector(in []byte, off int, extra uint32, elem func(int) (int, error)) (int, error) {
	c, n, err := leb128.U32(in, off)
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
	v, n, err := leb128.Signed(in, off, 33)
	if err != nil {
		return 0, r.errorf(off, ErrMalformed, "block type: %v", err)
	}
	if v < 0 {
		return 0, r.errorf(off, ErrUnsupported, "block type %#x", in[off])
	}
	if v >= int64(len(r.wrapperType)) { // the module's own types, not the ones added
		return 0, r.errorf(off, ErrIndex, "block type %d of %d", v, len(r.wrapperType))
	}
	return n, nil
}

// memarg returns the length of a memory argument. Multi-memory (bit 6 of the
// alignment) is refused: wazero does not support it.
func (r *rewriter) memarg(in []byte, off int) (int, error) {
	align, n, err := leb128.U32(in, off)
	if err != nil {
		return 0, err
	}
	if align >= 1<<6 {
		return 0, r.errorf(off, ErrUnsupported, "memory argument flags %#x (multiple memories)", align)
	}
	_, m, err := leb128.U32(in, off+n)
	return n + m, err
}

// prefixed returns the length of the sub-opcode and immediates of a 0xFC,
// 0xFD or 0xFE instruction at at, and records size-dependent charges.
func (r *rewriter) prefixed(in []byte, at int, prefix byte) (int, error) {
	off := at + 1
	sub, n, err := leb128.U32(in, off)
	if err != nil {
		return 0, err
	}
	p := off + n
	u32s := func(k int) (int, error) { // k index immediates
		q := p
		for ; k > 0; k-- {
			_, m, err := leb128.U32(in, q)
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

// emitBody appends the instrumented body: its size, its locals (plus, in a
// function that calls, an i32 that holds the stack global at entry, and an
// i32 scratch local when a size-dependent charge needs it) and its code with
// the charges and the stack accounting inserted.
//
// A function that calls takes its frame's estimate (frameBytes) from the
// stack global at entry and gives it back on every way out: before a
// return, a tail call, a br to the function's label and the body's end, and
// around a br_if to that label (given back before, taken again after, for
// when the branch is not taken). A br_table that can jump to the
// function's label cannot be caught so; such a body is wrapped in a block
// of the function's results that every way out goes through, returns
// becoming branches to it. (The wrapper is not the general case because it
// slows Go guests, whose every return leaves a dispatch loop: RATIONALE.md,
// "Why a stack budget in the rewriter".) A function that does not call is always the innermost frame, so its
// frame cannot pile up: it skips the accounting.
func (r *rewriter) emitBody(start, codeStart, end int, locals uint32) {
	w := &r.code
	// A path that falls into a virtual charge pays for the code after it.
	// Such paths only fall forward, into charges made later: settle the
	// last ones first.
	slices.SortFunc(w.falls, func(a, b fallIn) int { return b.from - a.from })
	for _, f := range w.falls {
		w.ins[f.from].cost = max(w.ins[f.from].cost, f.cost+w.ins[f.to].cost)
	}
	b := w.body[:0]
	groups, n, _ := leb128.U32(r.in, start) // already validated by body
	scratch := false
	for i := range w.ins {
		switch ins := &w.ins[i]; ins.kind {
		case insRegion, insEntry, insSource, insReturn, insTail, insExit, insExitIf, insRetake:
		case insTable:
			scratch = scratch || (!w.paidAtSource(ins) && len(r.tableCosts(ins)) > 1)
		default:
			scratch = true
		}
	}
	account, wrap := w.calls, w.calls && w.tableToFn
	saved, scratchLocal := locals, locals
	var added byte
	if account {
		scratchLocal++
		added++
	}
	if scratch {
		added++
	}
	if added > 0 {
		b = leb128.AppendU32(b, groups+1)
		b = append(b, r.in[start+n:codeStart]...)
		b = append(b, added, valI32)
	} else {
		b = append(b, r.in[start:codeStart]...)
	}

	stack := r.fuelGlobal + 1
	frame := frameBytes(uint64(locals))
	giveBack := func(b []byte) []byte { // stack = saved
		b = appendOp(b, 0x20, saved)
		return appendOp(b, 0x24, stack)
	}
	take := func(b []byte) []byte { // stack = saved - frame
		b = appendOp(b, 0x20, saved)
		b = append(b, 0x41)
		b = leb128.AppendS64(b, frame)
		b = append(b, 0x6B) // i32.sub
		return appendOp(b, 0x24, stack)
	}
	if account {
		r.stats.Accounted++
		r.stats.StackBytes = max(r.stats.StackBytes, frame)
		// saved = stack; take the frame; trap if that went negative.
		b = appendOp(b, 0x23, stack)
		b = appendOp(b, 0x21, saved)
		b = take(b)
		b = appendOp(b, 0x20, saved)
		b = append(b, 0x41)
		b = leb128.AppendS64(b, frame)
		b = append(b, 0x48, 0x04, 0x40, 0x00, 0x0B) // i32.lt_s if unreachable end
	}
	if wrap {
		r.stats.Wrapped++
		b = append(b, 0x02)
		switch res := r.typeResults[r.funcTypes[r.fn-int(r.importedFuncs)]]; {
		case len(res) == 0:
			b = append(b, 0x40)
		case len(res) == 1:
			b = append(b, res[0])
		default:
			b = leb128.AppendS64(b, r.wrapperType[r.funcTypes[r.fn-int(r.importedFuncs)]])
		}
	}

	g := r.fuelGlobal
	prev := codeStart
	for i := range w.ins {
		ins := &w.ins[i]
		b = append(b, r.in[prev:ins.pos]...)
		prev = ins.pos
		cost := int64(-1) // a static charge; -1 when the code below computes it
		switch ins.kind {
		case insReturn:
			switch {
			case wrap:
				b = append(b, 0x0C)
				b = leb128.AppendU32(b, ins.target)
				prev++ // drop the return itself
			case account:
				b = giveBack(b)
			}
			continue
		case insTail:
			if account {
				b = giveBack(b)
			}
			continue
		case insExit, insExitIf:
			if account && !wrap {
				b = giveBack(b)
			}
			continue
		case insRetake:
			if account && !wrap {
				// The frame was taken at entry without trapping, so
				// taking it again cannot go negative: no check.
				b = take(b)
			}
			continue
		case insRegion:
			if ins.folded || ins.virtual {
				continue
			}
			cost = ins.base + ins.cost
			if ins.join && cost > 0 {
				r.stats.Joins++
			}
		case insTable:
			if w.paidAtSource(ins) {
				continue
			}
			costs := r.tableCosts(ins)
			if len(costs) == 1 {
				cost = costs[0]
				break
			}
			// The target index is on top of the stack: keep it there.
			b = append(b, 0x22)
			b = leb128.AppendU32(b, scratchLocal)
			b = r.appendLookup(b, costs, scratchLocal)
		case insEntry:
			lp := &w.ins[ins.loopCP]
			if lp.table < 0 || lp.mixed {
				continue
			}
			costs := r.tableCosts(&w.ins[lp.table])
			if len(costs) == 1 {
				cost = costs[0]
				break
			}
			b = r.appendLookup(b, costs, lp.local)
		case insSource:
			lp := &w.ins[ins.loopCP]
			if lp.mixed {
				continue
			}
			t := &w.ins[lp.table]
			costs := r.tableCosts(t)
			k := t.nlabels - 1 // the default
			if uint64(ins.target) < uint64(k) {
				k = int(ins.target)
			}
			cost = costs[w.labels[k]]
		default:
			// The size is on top of the stack: keep it there and
			// fuel -= size (scaled).
			b = append(b, 0x22)
			b = leb128.AppendU32(b, scratchLocal)
			b = append(b, 0x23)
			b = leb128.AppendU32(b, g)
			b = append(b, 0x20)
			b = leb128.AppendU32(b, scratchLocal)
			b = append(b, 0xAD) // i64.extend_i32_u
			switch {
			case ins.kind == insBytes && r.byteShift > 0:
				b = append(b, 0x42, r.byteShift, 0x88) // i64.shr_u
			case ins.kind == insPages && r.byteShift < 16:
				b = append(b, 0x42, 16-r.byteShift, 0x86) // i64.shl
			}
			b = append(b, 0x7D)
		}
		if cost == 0 {
			continue
		}
		if cost > 0 {
			// fuel -= cost
			b = append(b, 0x23)
			b = leb128.AppendU32(b, g)
			b = append(b, 0x42)
			b = leb128.AppendS64(b, cost)
			b = append(b, 0x7D)
		}
		// global.set; trap if fuel < 0. Subtracting before the check
		// leaves the global negative, which is how the host tells a
		// fuel trap from the guest's own unreachable.
		b = append(b, 0x24)
		b = leb128.AppendU32(b, g)
		b = append(b, 0x23)
		b = leb128.AppendU32(b, g)
		b = append(b, 0x42, 0x00, 0x53, 0x04, 0x40, 0x00, 0x0B)
	}
	// The frame is given back before the body's final end; when wrapped,
	// that end closes the wrapping block, the frame is given back after
	// it and a new end closes the function.
	switch {
	case wrap:
		b = append(b, r.in[prev:end]...)
		b = giveBack(b)
		b = append(b, 0x0B)
	case account:
		b = append(b, r.in[prev:end-1]...)
		b = giveBack(b)
		b = append(b, 0x0B)
	default:
		b = append(b, r.in[prev:end]...)
	}
	r.out = leb128.AppendU32(r.out, uint32(len(b)))
	r.out = append(r.out, b...)
	w.body = b
}

// appendOp appends an instruction with one index immediate.
func appendOp(b []byte, op byte, index uint32) []byte {
	return leb128.AppendU32(append(b, op), index)
}

// paidAtSource reports whether the br_table t is a dispatch whose charge is paid
// by the branches that reach it instead (insEntry, insSource).
func (w *codeWalker) paidAtSource(t *insertion) bool {
	return t.loopCP >= 0 && !w.ins[t.loopCP].mixed
}

// appendLookup appends "fuel - costs[i]" where i is the index, in the
// costs, of the target that a br_table with w.labels would take for the
// value of local: a br_table of our own picks the constant.
//
//	global.get fuel
//	block (result i64)
//	  block ... block  ;; one per cost
//	    br_table w.labels (local.get local)
//	  end i64.const costs[0] br n-1 ... end i64.const costs[n-1] br 0
//	end
//	i64.sub
func (r *rewriter) appendLookup(b []byte, costs []int64, local uint32) []byte {
	w := &r.code
	r.stats.Dispatches++
	b = append(b, 0x23)
	b = leb128.AppendU32(b, r.fuelGlobal)
	b = append(b, 0x02, valI64)
	for range costs {
		b = append(b, 0x02, 0x40)
	}
	b = append(b, 0x20)
	b = leb128.AppendU32(b, local)
	b = append(b, 0x0E)
	b = leb128.AppendU32(b, uint32(len(w.labels)-1))
	for _, k := range w.labels {
		b = leb128.AppendU32(b, k)
	}
	for j, c := range costs {
		b = append(b, 0x0B, 0x42)
		b = leb128.AppendS64(b, c)
		b = append(b, 0x0C)
		b = leb128.AppendU32(b, uint32(len(costs)-1-j))
	}
	return append(b, 0x0B, 0x7D)
}

// tableCosts returns the distinct charges of a br_table's targets, and
// leaves in w.labels the index in them of each target's charge. A target
// pays its folded loop header and, when its charge is virtual, the code
// after it.
func (r *rewriter) tableCosts(t *insertion) []int64 {
	w := &r.code
	w.costs, w.labels = w.costs[:0], w.labels[:0]
	for _, id := range w.tabs[t.labels : t.labels+t.nlabels] {
		c := t.base
		if id >= 0 {
			if cp := w.joinOf[id]; cp >= 0 && w.ins[cp].virtual {
				c += w.ins[cp].cost
			}
		}
		k := slices.Index(w.costs, c)
		if k < 0 {
			k = len(w.costs)
			w.costs = append(w.costs, c)
		}
		w.labels = append(w.labels, uint32(k))
	}
	return w.costs
}
