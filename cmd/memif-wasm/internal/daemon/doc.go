// Package daemon runs what a memif-wasm configuration describes: per tenant,
// memif interfaces, a pipeline of wasm plugins per interface, and one
// host.Worker per rx queue (the packet loop lives in host/) that takes a
// burst, runs the pipeline and transmits per verdict: TX back out the
// ingress interface, PASS to the interface's egress (or dropped), REDIRECT
// to the named port of the tenant.
//
// # Lifecycle
//
// New validates the config, compiles every plugin once, instantiates one
// pipeline per queue, opens every interface and starts the workers, which
// wait for their links and serve them across reconnects (a slave reconnects
// by itself); only the queues a connection negotiated get a worker. Close
// stops every worker after its burst in flight, sends DISCONNECT on every
// interface and frees everything; it is idempotent.
//
// # Changes while running
//
// Reload compiles a plugin again and swaps it in between two bursts on every
// worker (host.ReplaceAll); a version that fails admission or init leaves the
// old one running. Apply moves to a new config by difference (unchanged
// interfaces and plugins keep running), LoadPlugin and UnloadPlugin change a
// pipeline, Control sends a message to every instance of a plugin, and
// Options.Watch reloads plugins whose file changes. Compilation runs
// without the daemon's lock. All methods are safe to call from any goroutine.
//
// # Counters
//
// The data plane counts in plain per-worker fields (host.WorkerStats,
// host.PluginStats, memif.Stats); Snapshot copies them, folding in the
// counters of workers and pipelines that were replaced so nothing goes
// backwards, for metrics and the admin API. Plugin faults are also logged,
// at most once per second per plugin.
package daemon
