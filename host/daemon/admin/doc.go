// Package admin is the daemon's HTTP/JSON admin API and its client.
//
// The server listens on a unix socket, created with mode 0600 unless
// Options.SocketFile says otherwise (connecting needs write permission on
// the file, so the file's mode, owner and group decide who may use it; no
// token is asked there), and, optionally, on a loopback TCP address where
// every request must carry "Authorization: Bearer TOKEN". Every change
// (load, unload, reload, control, config reload) and every refused request
// is logged once, with who (a unix peer's uid, gid and pid from
// SO_PEERCRED, a TCP peer's address), what, the plugin's sha256 and the
// result. docs/admin-api.md is the reference. Routes (all JSON; errors are
// {"error": "..."} with a status that says what kind):
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
