package fuel

// ExportName is the name under which an instrumented module exports its fuel
// global: a mutable i64 the host sets to the budget before a call and reads
// back afterwards. A module that already exports this name is refused.
const ExportName = "mw_fuel"

// StackExportName is the name under which an instrumented module exports its
// stack global: a mutable i32 holding how many bytes of call stack, as
// estimated by frameBytes, the guest may still take. Every function takes its
// frame's estimate at entry and gives it back on the way out, and traps when
// the global would drop below zero, so the call depth is bounded whatever the
// fuel. Calls end with it back where they started; after a trap it is
// negative when the stack ran out. A module that already exports this name is
// refused.
const StackExportName = "mw_stack"

// Version identifies the rewrite: it changes whenever the output for the same
// input and Config may change. Key caches of instrumented modules by the
// input's hash, Version and the Config.
const Version = 3

// DefaultInitialFuel is the fuel global's value at instantiation when
// Config.InitialFuel is 0. It is the budget of the start function, which runs
// inside instantiation before the host can set anything, and of _initialize
// unless the host sets a budget before calling it. A Go guest's _initialize
// needs about 1.1e6 (measured with Version 2), so the default leaves ample
// room for that and still bounds a runaway start function to milliseconds.
const DefaultInitialFuel int64 = 1 << 26

// DefaultStack is Config.Stack when it is 0: 256 KiB of estimated frames,
// 3,640 nested calls of a function with one parameter. Every example plugin,
// Go and C, passes its end-to-end tests under 16 KiB (plugins/e2e_test.go),
// so this leaves 16 times that for deeper code while keeping what a runaway
// recursion makes wazero allocate small.
const DefaultStack = 1 << 18

// A frame is estimated at frameBase bytes plus frameLocal per parameter and
// local: the return address, saved registers and spill slots that wazero's
// compiler gives every call, and the locals it may spill.
const (
	frameBase  = 64
	frameLocal = 8
)

func frameBytes(locals uint64) int64 { return int64(frameBase + frameLocal*locals) }

// DefaultBytesPerFuel is Costs.BytesPerFuel when it is 0.
const DefaultBytesPerFuel = 4

// maxInstructionCost keeps every charge far from overflowing an i64: a region
// has fewer than 2^32 instructions, so its charge stays below 2^52.
const maxInstructionCost = 1 << 20

// Config says how to instrument a module. The zero value is the default.
type Config struct {
	// InitialFuel is the fuel global's value when the module is
	// instantiated (see DefaultInitialFuel). 0 means DefaultInitialFuel;
	// negative values are invalid.
	InitialFuel int64
	// Stack is the stack global's value when the module is instantiated:
	// the bytes of call stack, as estimated per frame, the guest may take
	// (see StackExportName). The host may set the global to another budget
	// between calls. 0 means DefaultStack; at most 2^31-1.
	Stack int64
	// Costs is the cost model; its zero value is the default model.
	Costs Costs
}

// Costs is the cost model. Each field's zero value means its default.
type Costs struct {
	// Instruction is the fuel charged for each instruction other than
	// block, loop, end and nop, which are free. 0 means 1; at most 2^20.
	Instruction int64
	// BytesPerFuel makes memory.copy, memory.fill and memory.init charge
	// one more unit of fuel per BytesPerFuel bytes they touch, and
	// memory.grow one per BytesPerFuel bytes it adds, because their work
	// grows with an operand rather than with the code. table.copy,
	// table.fill, table.init and table.grow charge one unit per element.
	// It must be a power of two, at most 65536. 0 means DefaultBytesPerFuel.
	BytesPerFuel int64
	// Region is charged on top at each function entry (so each call) and
	// each pass through a loop header (for a dispatch loop: each jump
	// through it). It prices the check and the call or back edge that
	// reaches it, so an empty loop or a bare recursion burns fuel at a rate
	// closer to other code. Joins do not pay it. 0 means none; at most 2^20.
	Region int64
	// Call is charged on top at every function entry, so each call. Deep
	// recursion costs the host more than its instructions: the runtime grows
	// the call stack on the host's heap, and a trap unwinds every frame.
	// (The stack budget bounds the depth itself; this prices it.) 0 means
	// none; at most 2^20.
	Call int64
}

// Stats describes what Instrument did.
type Stats struct {
	Functions        int    // function bodies instrumented (each charges at entry)
	Loops            int    // loop headers (each charges, or its dispatch's jumps do)
	Joins            int    // charges after the end of a block or if that branches reach
	Dispatches       int    // charges looked up by the target of a br_table
	BulkOps          int    // bulk memory and table operations that charge by size
	StrippedSections int    // debug custom sections removed
	FuelGlobal       uint32 // index of the fuel global in the global index space
	StackGlobal      uint32 // index of the stack global (FuelGlobal+1)
	StackBytes       int64  // the largest frame estimate of any function that calls
	Accounted        int    // functions that take from the stack budget (those that call)
	Wrapped          int    // of those, bodies wrapped in a block (a br_table reaches the function's label)
}

// Instrument returns a copy of the wasm binary with fuel metering added: a
// mutable i64 global, exported as ExportName, that function entries, loop
// headers and the places branches join decrement by the fuel of the code
// that can run before the next charge (see the package documentation), and
// that bulk memory and table operations decrement by their size. When the global drops below zero the module traps with
// "unreachable"; a negative global after a failed call tells this apart from
// the guest's own unreachable.
//
// The input is not modified. Untouched sections are copied byte for byte;
// DWARF and source-map custom sections are removed because inserted code makes
// them stale. Instrument refuses, with an *Error, any input it cannot fully
// parse, any opcode or section it does not know, and any reference to a global
// or local index that does not exist (so original code can never reach the
// fuel global). It does not otherwise validate the module: compile the output
// with wazero, which does.
func Instrument(wasm []byte, cfg Config) ([]byte, error) {
	out, _, err := InstrumentStats(wasm, cfg)
	return out, err
}

// InstrumentStats is Instrument that also reports what it did.
func InstrumentStats(wasm []byte, cfg Config) ([]byte, Stats, error) {
	var r rewriter
	if err := r.init(wasm, cfg); err != nil {
		return nil, Stats{}, err
	}
	if err := r.module(); err != nil {
		return nil, Stats{}, err
	}
	return r.out, r.stats, nil
}
