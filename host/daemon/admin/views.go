package admin

import (
	"net/http"
	"net/http/pprof"
)

// views adds the operator's views to the API's routes: profiling here.
//
// /debug/pprof is served on the admin API only, behind its socket's 0600
// mode or its bearer token: a profile shows plugin names, file paths and
// memory contents' shapes, and a CPU profile costs the data plane while it
// runs, so it is not for whoever can reach the metrics address.
func (s *Server) views(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}
