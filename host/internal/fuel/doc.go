// Package fuel adds fuel metering to WebAssembly modules by rewriting their
// binary before compilation, because wazero has no instruction metering and
// its context-based interruption costs far more per call and per loop
// iteration than a counter in the guest.
//
// # What the rewrite adds
//
// Instrument appends one mutable i64 global, initialised to
// Config.InitialFuel, and exports it as ExportName. Nothing is prepended, so
// no existing function, global, table, memory or type index moves, and calls,
// element segments, the start function and the name section stay valid.
//
// Fuel is charged at two kinds of points ("region" metering):
//   - at every function entry and at the top of every loop body, the weight
//     of all instructions that can run before control next reaches such a
//     point. Between two passes through one of these points control only
//     moves forward, so each instruction runs at most once per charge, and
//     fuel spent is at least the weight of the instructions executed.
//   - before memory.copy, memory.fill, memory.init, memory.grow and the table
//     bulk operations, a charge proportional to their size operand, read
//     through one added i32 local in the functions that use them.
//
// Each charge subtracts first and then traps with unreachable if the global
// is negative. Code of the original module is checked to reference only
// globals and locals that existed before the rewrite, so it can neither read
// nor refill its fuel.
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
