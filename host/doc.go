// Package host runs memif-wasm packet plugins: WebAssembly modules that
// follow the ABI in package abi (see abi/ABI.md), on wazero's compiler
// engine.
//
// # Lifecycle
//
// An Engine is one wazero runtime with the host module (abi.HostModule) and
// the WASI subset Go guests need. Engine.Load admits a .wasm file — it
// parses the imports and memory limits, refuses anything outside the host
// module and the WASI allow-list, requires the ABI exports with their exact
// signatures, caps the memory, compiles, and runs a probe instance through
// mw_abi_version, the layout calls and mw_init — and returns a compiled
// Module, or an *AdmissionError naming the module and the reason. Inspect
// reports the same facts without failing.
//
// A Pipeline is one worker's chain of plugins, one Instance of each. Every
// Instance's linear memory is one mmap reservation of the module's maximum,
// never moved and freed by Close, so the host keeps plain slices into it and
// can map a memif buffer region over the guest's packet window.
//
// # Bursts
//
// Pipeline.Process hands a caller-owned Burst to each plugin with one
// mw_process call, validates every verdict it writes (unknown code, len over
// cap, data moved out of bounds, REDIRECT outside the allow-list all become
// ABORTED with a Reason counter), copies rewritten bytes back in copy
// placement, and passes the PASSed packets on. It allocates nothing.
// Placement is per connection: AttachRegion maps a buffer region into every
// plugin's window when ChoosePlacement allows (no rings, page-aligned); chained
// packets, packets in other regions and copy placement go through per-packet
// slots at the end of the window. PluginStats count bytes copied per placement,
// so zero-copy is measured, not assumed. A Burst's Observer (StageObserver),
// when set, sees each plugin call's packets, verdicts and time, for packet
// traces and captures; unset it costs one comparison per call.
//
// # Faults and reloads
//
// A plugin faults when mw_process traps (unreachable, out-of-bounds access,
// stack overflow), runs out of fuel, calls proc_exit (Go's os.Exit),
// fails after growing its memory to the cap, returns -errno, or writes
// descriptors the host refuses (an ABI violation); re-creating its instance
// fails on _initialize, mw_init, the layout calls or a budget. Each is counted
// in PluginStats.FaultReasons under its FaultReason. The burst gets the
// plugin's fail policy (drop, or pass with FailOpen), except after an ABI
// violation, where the refused packets are ABORTED and the rest keep their
// validated verdicts. The instance is always discarded (a trap unwinds the
// guest without its cleanup) and re-created on a later burst after an
// exponential backoff (50 ms doubling to 10 s); QuarantineFaults faults
// within QuarantineWindow quarantine the plugin until Replace or
// Pipeline.Unquarantine, its bursts getting the policy meanwhile. Replace
// swaps a plugin for a new version between two bursts, handing state over
// through mw_state_save/mw_state_load when both versions export them.
//
// # Changing a pipeline
//
// Reshape changes a pipeline's list of plugins between two bursts while
// keeping the stages that stay: for each new position it is told which old
// stage the position continues (or -1 for a new plugin). A continued stage
// with the same module keeps its instance (and so the guest's state), its
// counters, its fault and quarantine state and its mapped region; one with
// another module is reloaded: a new instance takes the old one's state
// through the state hooks, the counters stay and the quarantine is lifted
// (Replace is that reload for one stage, even with the same module); old stages nobody continues
// are closed and their final counters returned (and kept in their Tenant's
// totals), so a caller summing counters by plugin never goes backwards.
// ReshapeAll does the same to every pipeline of an interface's workers, all
// or nothing: PrepareReshape creates every new instance first, off the
// packet path, and CommitReshapes (for any number of prepared reshapings)
// locks every pipeline concerned, hands the state of reloaded stages over and
// only then switches them all; a failure anywhere leaves every pipeline as it
// was. Until the commit the old and the new instances both count against the
// budgets.
//
// # Budgets
//
// wazero cannot interrupt compiled wasm cheaply, and a guest call that never
// returns also holds off every stop-the-world phase of Go's GC for the whole
// process. So every module is metered unless PluginConfig.Unmetered says it
// is trusted: host/internal/fuel rewrites it at load (cached by the input's
// SHA-256, the rewriter's version and its config), the host sets the budget
// before each call and reads back what was spent (PluginStats.FuelUsed), and
// a call that runs out traps as a FaultFuel. The cost model: one unit per
// instruction run (block, loop, end and nop are free; each charge pays for
// the block of code it starts, so Go's dispatch loops pay per block run, not
// per function), per byte of memory.copy/fill/init and per byte memory.grow
// adds, plus 8 per function entry and loop pass (the check and the branch)
// and 128 more per function entry (a call grows the host-allocated call
// stack, and a trap unwinds every frame, so this bounds the depth a budget
// reaches). Guest log lines and WASI writes are charged too (1000 per call
// plus one per byte).
//
// Budgets per plugin (PluginConfig, defaulting to its Tenant's): Fuel per
// mw_process call (DefaultFuel), ColdFuel for the start function,
// _initialize, mw_init, mw_control and the state hooks (DefaultColdFuel:
// larger, because a Go guest may run its garbage collector in these calls;
// they are rare and off the packet path), Stack for the call depth of every
// call (DefaultStack, in frames as the rewriter estimates them: 64 bytes plus
// 8 per parameter and local, taken by each function that calls and given
// back on its way out; deeper nesting traps as a FaultStack),
// MaxMemoryPages, and MaxInstances. A Tenant bounds the instances and pages
// of all its plugins together.
//
// DefaultFuel is 1 ms at DefaultFuelPerMicrosecond, below the slowest code
// per unit of fuel measured. The measurements behind every default (the
// fuel rates, BenchmarkFuelRate; the GC pause while a guest burns its whole
// budget, BenchmarkGCPauseUnderHostileLoop; the fuel per packet of each
// example plugin, TestE2EFuelPerPacket; the stack every example needs; the
// cost of metering, BenchmarkFuelOverhead) are in README.md's "Sandbox"
// tables, with the commands that print them, and only there, so that this
// documentation cannot drift from them. Go guests pay per block of code they
// run, far more per packet than C; a module that imports WASI gets
// DefaultWASIMaxBurst-packet calls unless MaxBurst says otherwise.
//
// What fuel does not see, and what bounds it instead (README.md, "Sandbox
// budgets", has the costs as measured; RATIONALE.md, "Why are page faults
// and trap unwinding outside the fuel model?", the reasoning):
//   - First touches of a page: a page fault costs microseconds per 4 KiB,
//     so a budget spent on fresh pages takes longer than the 1 ms aim. Pages
//     a guest grows are populated by the host in Go (MADV_POPULATE_WRITE),
//     where the GC can stop it; pages of the initial memory fault in wasm, at
//     most once per instance, and faults back off and quarantine.
//   - The guest's call stack: wazero allocates it on the Go heap, outside
//     the linear memory, and grows it by doubling. The stack budget bounds it
//     whatever the fuel (BenchmarkFaultGarbage reports what a runaway
//     recursion leaves per fault).
//   - The unwinding of a trap: wazero walks every live frame in Go, where the
//     GC can stop it; the stack budget bounds the number of frames.
//   - WASI's poll_oneoff does not sleep (no nanosleep is configured).
//
// # Tenants
//
// A Tenant owns plugins (PluginConfig.Tenant), the pipelines made of them,
// and interfaces (dataplane.Port.Tenant). A pipeline takes plugins of one tenant only,
// maps only its own tenant's buffer regions for zero-copy (RegionFacts.Tenant,
// else ErrForeignRegion), and its worker (package host/dataplane) accepts
// only the tenant's ports; a
// plugin's REDIRECT allow-list must lie within the tenant's Ports. Budgets
// and aggregate counters (Tenant.ReadStats) are kept per tenant. Workers of
// different tenants share no lock on the packet path.
package host
