package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/memif-wasm/memif-wasm/host/daemon"
	"github.com/memif-wasm/memif-wasm/host/daemon/pcapng"
	"github.com/memif-wasm/memif-wasm/host/dataplane"
)

// The operator's views (VPP's `trace add`/`show trace`/`clear trace`,
// `pcap trace`, `show runtime`/`clear runtime`) and profiling:
//
//	POST   /v1/tenants/{t}/interfaces/{i}/trace     {"packets": N}: trace the next N received packets
//	GET    /v1/trace                                every interface's trace ([]daemon.TraceView)
//	DELETE /v1/trace                                stop every trace and forget it
//	POST   /v1/tenants/{t}/interfaces/{i}/capture   a CaptureRequest → a pcapng stream (application/x-pcapng)
//	GET    /v1/runtime                              per worker and plugin, since the start or the last clear (daemon.Runtime)
//	POST   /v1/runtime/clear                        count the runtime view from now on
//	GET    /debug/pprof/...                         net/http/pprof

// ViewBackend is what the views need of the daemon; *daemon.Daemon
// implements it. A Backend without it answers the views with 501.
type ViewBackend interface {
	AddTrace(tenant, iface string, n int) error
	Traces() []daemon.TraceView
	ClearTraces()
	StartCapture(tenant, iface string, cfg dataplane.CaptureConfig) (*dataplane.Capture, error)
	StopCapture(tenant, iface string, c *dataplane.Capture)
	Runtime() *daemon.Runtime
	ClearRuntime() time.Time
}

var _ ViewBackend = (*daemon.Daemon)(nil)

// TraceRequest is the body of a trace add.
type TraceRequest struct {
	Packets int `json:"packets"`
}

// CaptureRequest is the body of a capture: the directions to capture (at
// least one), how many packets in all, the bytes kept of each (0: all, up
// to 65535), and how long to wait for them (0: until the count is
// reached or the client goes away).
type CaptureRequest struct {
	Rx        bool  `json:"rx"`
	Tx        bool  `json:"tx"`
	Drop      bool  `json:"drop"`
	Count     int   `json:"count"`
	Snaplen   int   `json:"snaplen,omitempty"`
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
}

// MaxCaptureTimeout bounds CaptureRequest.TimeoutMS.
const MaxCaptureTimeout = 24 * time.Hour

// Trailers of a capture's answer: how many packets it wrote, and how many
// it lost because the client read too slowly.
const (
	TrailerCapturePackets = "Memif-Wasm-Capture-Packets"
	TrailerCaptureLost    = "Memif-Wasm-Capture-Lost"
)

// RuntimeClearReply is the answer of a runtime clear.
type RuntimeClearReply struct {
	Since time.Time `json:"since"`
}

// views adds the operator's views to the API's routes.
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

	mux.HandleFunc("POST /v1/tenants/{t}/interfaces/{i}/trace", s.view(s.traceAdd))
	mux.HandleFunc("GET /v1/trace", s.view(func(vb ViewBackend, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, vb.Traces())
	}))
	mux.HandleFunc("DELETE /v1/trace", s.view(func(vb ViewBackend, w http.ResponseWriter, r *http.Request) {
		vb.ClearTraces()
		writeJSON(w, http.StatusOK, map[string]bool{"cleared": true})
	}))
	mux.HandleFunc("POST /v1/tenants/{t}/interfaces/{i}/capture", s.view(s.capture))
	mux.HandleFunc("GET /v1/runtime", s.view(func(vb ViewBackend, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, vb.Runtime())
	}))
	mux.HandleFunc("POST /v1/runtime/clear", s.view(func(vb ViewBackend, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, RuntimeClearReply{Since: vb.ClearRuntime()})
	}))
}

func (s *Server) view(h func(ViewBackend, http.ResponseWriter, *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		vb, ok := s.b.(ViewBackend)
		if !ok {
			writeError(w, http.StatusNotImplemented, "this backend has no trace, capture or runtime views")
			return
		}
		h(vb, w, r)
	}
}

// viewFail answers a view's error: bad arguments 400, a busy interface
// 409, the rest as every route does.
func (s *Server) viewFail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, daemon.ErrInvalidRequest):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, daemon.ErrBusy):
		writeError(w, http.StatusConflict, err.Error())
	default:
		s.fail(w, r, err)
	}
}

func (s *Server) traceAdd(vb ViewBackend, w http.ResponseWriter, r *http.Request) {
	var req TraceRequest
	if !decode(w, r, &req) {
		return
	}
	if err := vb.AddTrace(r.PathValue("t"), r.PathValue("i"), req.Packets); err != nil {
		s.viewFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"tracing": req.Packets})
}

// capture streams a pcapng file: a section header, an interface per
// requested direction ("TENANT/IFACE rx", "... tx", "... drop"), then the
// packets as the workers capture them, each flushed at once, until the
// count is reached, the timeout passes or the client goes away. The
// capture then leaves the interface.
func (s *Server) capture(vb ViewBackend, w http.ResponseWriter, r *http.Request) {
	var req CaptureRequest
	if !decode(w, r, &req) {
		return
	}
	if req.TimeoutMS < 0 || time.Duration(req.TimeoutMS)*time.Millisecond > MaxCaptureTimeout {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("timeout_ms %d: want 0 (none) to %d", req.TimeoutMS, MaxCaptureTimeout.Milliseconds()))
		return
	}
	t, i := r.PathValue("t"), r.PathValue("i")
	c, err := vb.StartCapture(t, i, dataplane.CaptureConfig{Rx: req.Rx, Tx: req.Tx, Drop: req.Drop, Count: req.Count, Snaplen: req.Snaplen})
	if err != nil {
		s.viewFail(w, r, err)
		return
	}
	defer vb.StopCapture(t, i, c)
	ctx := r.Context()
	if req.TimeoutMS > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.TimeoutMS)*time.Millisecond)
		defer cancel()
	}
	w.Header().Set("Content-Type", "application/x-pcapng")
	w.Header().Set("Trailer", TrailerCapturePackets+", "+TrailerCaptureLost)
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	pw, err := pcapng.NewWriter(w, daemon.ReadBuildInfo().String())
	if err != nil {
		return // the client went away
	}
	snaplen := c.Config().Snaplen
	ifaces := map[dataplane.Direction]int{}
	for _, d := range []dataplane.Direction{dataplane.DirRx, dataplane.DirTx, dataplane.DirDrop} {
		if d == dataplane.DirRx && !req.Rx || d == dataplane.DirTx && !req.Tx || d == dataplane.DirDrop && !req.Drop {
			continue
		}
		id, err := pw.AddInterface(t+"/"+i+" "+d.String(), pcapng.LinkTypeEthernet, snaplen)
		if err != nil {
			return
		}
		ifaces[d] = id
	}
	rc.Flush()
	got := 0
loop:
	for !c.Done(got) {
		select {
		case p := <-c.Packets():
			dir := pcapng.DirInbound
			if p.Dir == dataplane.DirTx {
				dir = pcapng.DirOutbound
			}
			comment := fmt.Sprintf("queue %d: %s", p.Queue, p.Comment)
			if err := pw.WritePacket(ifaces[p.Dir], p.Time, p.Data, p.OrigLen, comment, dir); err != nil {
				return
			}
			got++
			if len(c.Packets()) == 0 {
				rc.Flush()
			}
		case <-ctx.Done():
			break loop
		}
	}
	w.Header().Set(TrailerCapturePackets, strconv.Itoa(got))
	w.Header().Set(TrailerCaptureLost, strconv.Itoa(c.Lost()))
}
