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
// so zero-copy is measured, not assumed.
//
// # Faults and reloads
//
// A trap or a negative return from mw_process gives the burst the plugin's
// fail policy (drop, or pass with FailOpen), closes the instance and
// re-creates it on a later burst after a backoff. Replace swaps a plugin for
// a new version between two bursts, handing state over through
// mw_state_save/mw_state_load when both versions export them.
//
// # Workers
//
// A Worker is the packet loop for one memif rx queue: it waits for the
// connection, attaches the connection's buffer region (zero-copy when it holds
// no rings, which is always so when this side is the memif slave), takes rx
// bursts, runs its Pipeline, and transmits by verdict — TX out of the ingress
// interface, PASS to the configured egress, REDIRECT to a numbered Port — with a
// bounded retry on a full ring and counted drops. Cancel its context to stop it.
//
// Metering is opt-in per plugin (PluginConfig.Fuel): the module is rewritten
// at load by host/internal/fuel, every mw_process call gets the budget, and
// running out is a fault like a trap. An unmetered guest that loops forever
// blocks its worker and, because compiled wasm cannot be preempted, the
// garbage collector of the whole process.
package host
