// Package daemon runs what a memif-wasm configuration describes: per tenant,
// memif interfaces, a pipeline of wasm plugins per interface, and one worker
// per rx queue that takes a burst, runs the pipeline and transmits per
// verdict (TX back out the ingress interface, PASS to the interface's egress
// or dropped, REDIRECT to the named port of the tenant).
//
// # Lifecycle
//
// New validates the config, compiles every plugin once, instantiates one
// pipeline per worker and opens every interface; a worker starts when its
// interface connects and stops when it disconnects (a slave reconnects by
// itself). Close stops rx everywhere, lets the workers drain the bursts in
// flight, sends DISCONNECT on every interface and frees everything.
//
// # Changes while running
//
// Reload compiles a plugin again and swaps it in between two bursts on every
// worker; a version that fails admission or init leaves the old one running.
// Apply moves to a new config by difference (unchanged interfaces and plugins
// keep running), LoadPlugin and UnloadPlugin change a pipeline, Control sends
// a message to a plugin's instances, and Options.Watch reloads plugins whose
// file changes. All of these are safe to call from any goroutine.
//
// # Counters
//
// Workers count in plain fields under a lock taken once per burst (never
// per packet); Snapshot copies them, with memif's and the host's counters,
// for metrics and the admin API.
package daemon
