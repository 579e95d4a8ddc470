// Package metrics exposes the daemon's counters to Prometheus.
//
// Collector is a prometheus.Collector over daemon.Snapshot: the data plane
// keeps plain per-worker counters (no atomics per packet), and a scrape
// copies and sums them, so metrics cost nothing between scrapes. Names
// follow the project's metric set (memif_wasm_*, base units, _total
// counters) and labels are bounded: tenant, interface, queue, module,
// verdict, reason, result, never a flow or an address.
package metrics
