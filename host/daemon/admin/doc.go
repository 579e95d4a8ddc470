// Package admin is the daemon's HTTP/JSON admin API and its client.
//
// The server listens on a unix socket created with mode 0600 (only the
// daemon's user can connect) and, optionally, on a loopback TCP address
// where every request must carry "Authorization: Bearer TOKEN". Routes (all
// JSON; errors are {"error": "..."} with a status that says what kind):
//
//	GET    /v1/tenants                                  tenants, interfaces and plugins
//	GET    /v1/stats                                    every counter (a daemon.Snapshot)
//	GET    /v1/tenants/{t}/interfaces/{i}               memif details and counters of one interface
//	POST   /v1/tenants/{t}/interfaces/{i}/plugins       load a plugin   {"file":..., "name":..., "config":..., "index":...}
//	DELETE /v1/tenants/{t}/interfaces/{i}/plugins/{p}   unload a plugin
//	POST   /v1/tenants/{t}/interfaces/{i}/plugins/{p}/reload
//	POST   /v1/tenants/{t}/interfaces/{i}/plugins/{p}/control   {"message": "..."} or {"data": BASE64} → {"reply": "..."} or {"data": BASE64}
//	POST   /v1/config/reload                            re-read the config file (as SIGHUP)
//	POST   /v1/tenants/{t}/interfaces/{i}/trace         trace the next packets   {"packets": N}
//	GET    /v1/trace                                    every interface's trace (headers, plugins' verdicts, egress)
//	DELETE /v1/trace                                    stop and forget every trace
//	POST   /v1/tenants/{t}/interfaces/{i}/capture       a CaptureRequest → a pcapng stream
//	GET    /v1/runtime                                  per worker and plugin since the start or the last clear
//	POST   /v1/runtime/clear                            count the runtime view from now on
//	GET    /debug/pprof/...                             Go profiles (here only, never on the metrics address)
//
// Client speaks the same API; memif-wasm ctl is built on it.
package admin
