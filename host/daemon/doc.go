// Package daemon runs what a memif-wasm configuration describes: per tenant,
// memif interfaces, a pipeline of wasm plugins per interface, and one
// dataplane.Worker per rx queue (the packet loop lives in host/) that takes a
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
// Every change is all or nothing. Reload compiles a plugin again and swaps
// it in on every worker between two bursts, handing its state over;
// LoadPlugin and UnloadPlugin add or remove a plugin the same way; Apply
// (and ReloadConfig, which reads the config first: SIGHUP, ctl
// reload-config) moves to a new config by difference. In each, the plugins
// that did not change keep their instance and state whatever changes beside
// them in the pipeline (host.Pipeline.Reshape): only a changed plugin gets a
// new instance, with the old one's state (a tenant whose budgets or list of
// interfaces change is rebuilt from scratch). Everything new is prepared before
// anything running is touched (files read, plugins compiled and
// instantiated, new tenants built, sockets taken, new interfaces opened
// where they do not need an old one's socket and id); a failure there
// changes nothing. What can only happen in place comes last: interfaces
// that go are closed and those that take their socket and id opened, then
// every pipeline is switched at once with the state hand-overs; a failure
// there reopens the old interfaces with their old settings, leaves the
// pipelines as they were, and says the change was rolled back. Config
// reloads are counted by result, the last failure kept (Snapshot), and
// logged once, by the daemon. Control sends a message to every instance of
// a plugin, and Options.Watch reloads plugins whose file changes.
// Compilation for Reload, LoadPlugin and Watch runs without the daemon's
// lock. All methods are safe to call from any goroutine.
//
// # Plugin sources
//
// A plugin with a source (oci://, https://), a pinned sha256 or a tenant
// signature policy is fetched and verified by package source before
// admission: digest, size, and signature against the tenant's keys; a
// failure refuses the plugin with the reason, counted as a load by its
// result and in Snapshot.Pulls. A plugin with pull policy Always and a pull
// interval has its tag resolved again every interval; when it moved, the
// plugin is reloaded with Reload, so a new version that fails verification
// or admission leaves the running one running, and a registry that cannot
// be reached changes nothing (the failure is counted and logged). A change
// of a tenant's signature policy verifies its plugins again, all or
// nothing. No fetch holds the daemon's lock: Apply fetches the source
// plugins a change adds or changes before it takes it (and uses what it
// fetched), and Reload, LoadPlugin and the tag poller fetch where they
// compile, without it; a registry that does not answer delays only the
// change that needs it, by at most registry.attempts connection timeouts
// (source.DialTimeout) and their backoff.
//
// # Ports
//
// Within a tenant, an interface's port number is its position in the
// tenant's interfaces list (0, 1, ...), fixed while the tenant runs (a
// change of the list rebuilds the tenant). Plugins see the port a packet
// came in by as its ingress port and name a port as a REDIRECT target; an
// interface's redirect list says which ports its plugins may redirect to
// (host.TenantConfig.Ports and PluginConfig.Redirect enforce it), and its
// egress is where PASSed packets leave.
//
// # Counters
//
// The data plane counts in plain per-worker fields (dataplane.WorkerStats,
// host.PluginStats, memif.Stats); Snapshot copies them, folding in the
// counters of workers and pipelines that were replaced so nothing goes
// backwards, for metrics and the admin API. Plugin faults are also logged,
// at most once per second per plugin.
//
// # Operator views
//
// What an operator of VPP or DPDK reaches for (views.go, ready.go,
// version.go): AddTrace, Traces and ClearTraces (VPP's trace add, show and
// clear trace) record the next packets of an interface with each plugin's
// verdict; StartCapture and StopCapture copy its packets for a pcapng file;
// Runtime and ClearRuntime are show and clear runtime per worker and
// plugin; Ready says whether every interface is open and every plugin
// loaded; LogStartup and ReadBuildInfo say what runs. None of them costs
// the packet path anything while unused.
package daemon
