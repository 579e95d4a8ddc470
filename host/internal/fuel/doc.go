// Package fuel adds fuel metering to WebAssembly modules by rewriting their
// binary before compilation, because wazero has no instruction metering and
// its context-based interruption costs far more per call and per loop
// iteration than a counter in the guest.
//
// # What the rewrite adds
//
// Instrument appends two mutable globals: an i64 initialised to
// Config.InitialFuel, exported as ExportName, and an i32 initialised to
// Config.Stack, exported as StackExportName. Nothing is prepended, so no
// existing function, global, table, memory or type index moves, and calls,
// element segments, the start function and the name section stay valid.
// (A function type with no parameters may be appended for the block that
// wraps a body with several results, below.)
//
// Fuel is charged where control flow can arrive other than by running
// straight on, each charge paying for the code that can run before the next
// one (the longest such path, so fuel spent is at least the weight of the
// instructions executed):
//   - at every function entry, and at the top of every loop body. The code
//     after a loop is paid by the charge that entered the loop, since it
//     runs at most once per entry, not once per pass.
//   - after the end of a block or if that a branch jumps to (a join), and
//     after an if whose arms come from different charges.
//   - in a dispatch loop, the shape Go's compiler gives every function (a
//     loop whose body opens blocks and ends in local.get; br_table), each
//     jump pays for the dispatch and the block it lands in: a jump of the
//     form "i32.const k; local.set; br loop" pays a constant for target k,
//     the entry into the loop looks the target's charge up by the local's
//     value, and if any other branch goes back to the loop, the br_table
//     looks it up instead. The blocks it lands in charge nothing when only
//     br_tables and straight-line code arrive there: code that falls into
//     one pays for what follows as part of its own charge. So a Go guest
//     pays per block it runs, not per function.
//   - before memory.copy, memory.fill, memory.init, memory.grow and the table
//     bulk operations, a charge proportional to their size operand, read
//     through one added i32 local in the functions that use them.
//
// Every instruction weighs Costs.Instruction except block, loop, end and
// nop, which compile to no code of their own. Between two charges control
// only moves forward, so nothing runs twice on one charge; a path pays
// more than it ran only when it takes the shorter arm of an if or a branch
// that skips code its charge covered.
//
// Each charge subtracts first and then traps with unreachable if the global
// is negative. Code of the original module is checked to reference only
// globals and locals that existed before the rewrite, so it can neither read
// nor refill its fuel.
//
// # The stack budget
//
// Fuel bounds time, and the call depth only as far as the fuel allows;
// wazero keeps the guest's call stack on the host's heap and grows it by
// doubling, up to hundreds of MB. So each function that calls takes an
// estimate of its frame (64 bytes plus 8 per parameter and local) from the
// stack global at entry, trapping when the global would drop below zero, and
// gives it back on every way out: before each return, tail call and br to
// the function's label, before the body's end, and around a br_if to the
// function's label (given back before it and taken again after it, for when
// it is not taken). The global's value at entry is kept in an added local
// for that. A body that a br_table can leave through the function's label is
// wrapped in a block of its results, returns becoming branches to it, so
// that its end is the one way out. A function that makes no call is always
// the innermost frame: it takes nothing. A call that returns leaves the
// global where it found it; after a trap it is negative if the stack budget
// ran out.
//
// # Host protocol
//
//	g := mod.ExportedGlobal(fuel.ExportName).(api.MutableGlobal) // once per instance
//	g.Set(uint64(budget))                                        // before each call
//	_, err := fn.Call(ctx, ...)
//	used := budget - int64(g.Get())
//	if err != nil && int64(g.Get()) < 0 { /* out of fuel, not a guest trap */ }
//
// The error text is "wasm error: unreachable" in both cases; only the sign of
// the global tells them apart. Discard an instance after a fuel trap: the trap
// unwinds the guest without running its cleanup, and a Go guest's runtime
// state may be inconsistent afterwards.
//
// The start function runs inside instantiation, before the host can set the
// global, so it runs on Config.InitialFuel. Set the global before calling
// _initialize (or rely on InitialFuel). Host functions are not metered by
// the inserted code; charge them host-side through the same global.
//
// # What is refused
//
// Instrument accepts the core wasm 2.0 binary format (bulk memory,
// reference types, multi-value, saturating conversions, sign extension,
// fixed-width SIMD) plus threads, tail calls and extended constant
// expressions. It refuses with an *Error naming the section, function and
// byte offset: anything malformed, unknown section ids and opcodes,
// exception handling, typed function references and GC types, multiple
// memories and memory64, memory.atomic.wait (it can block beyond any fuel
// check), more than 50,000 locals in a function, vector lengths larger than
// the bytes that hold them, a module that already exports ExportName, and
// references to globals or locals that do not exist. DWARF (.debug_*)
// and source-map custom sections are removed, since the inserted code shifts
// the offsets they describe.
//
// The rewrite is deterministic: the output depends only on the input and the
// Config, so it can be cached by the hash of both.
package fuel
