// Package serve supervises a daemon the way `memif-wasm run` does: it
// opens the metrics listener, starts the daemon (host/daemon), serves the
// admin API (host/daemon/admin) and /metrics (host/daemon/metrics), re-reads
// the config file on SIGHUP and on the admin API's reload-config, and on
// cancellation drains and closes everything.
//
// It holds the wiring that used to live in the binary, so another program
// can run the same service with its own config and logger; the binary only
// parses flags into a config.Config and calls Run.
package serve
