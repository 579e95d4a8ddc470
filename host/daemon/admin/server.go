package admin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/host/daemon"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
	"github.com/memif-wasm/memif-wasm/memif"
)

// MaxBody bounds request bodies.
const MaxBody = 1 << 20

// Backend is what the API controls: *daemon.Daemon implements it.
type Backend interface {
	Snapshot() *daemon.Snapshot
	Details(tenant, iface string) (memif.Details, error)
	Reload(ctx context.Context, tenant, iface, plugin string) error
	LoadPlugin(ctx context.Context, tenant, iface string, p config.Plugin, index int) error
	UnloadPlugin(ctx context.Context, tenant, iface, plugin string) error
	Control(ctx context.Context, tenant, iface, plugin string, msg []byte) ([]byte, error)
}

var _ Backend = (*daemon.Daemon)(nil)

// Options configure a Server. The zero value serves nothing.
type Options struct {
	// Socket is the unix socket path. Empty: none. Requests on it need no
	// token: whoever may write the file (SocketFile) may use the API.
	Socket string
	// SocketFile is the socket file's mode (0: 0600), owner and group.
	SocketFile memif.SocketFile
	// TCP is a loopback HOST:PORT. Requires Token.
	TCP string
	// Token is the bearer token every request over TCP must carry
	// (required with TCP); requests on the unix socket need none.
	Token string
	// ReloadConfig re-reads the config file and applies it; nil: the route
	// answers 501. It logs its own failures: the server does not log them.
	ReloadConfig func(ctx context.Context) ([]daemon.Change, error)
	// Logger receives request errors. nil: slog.Default().
	Logger *slog.Logger
}

// Server serves the admin API.
type Server struct {
	b    Backend
	opts Options
	srv  *http.Server
	lns  []net.Listener
	wg   sync.WaitGroup

	mu     sync.Mutex
	closed bool
}

// Errors of Listen.
var (
	ErrTokenRequired = errors.New("admin: a bearer token is required on TCP")
	ErrNotLoopback   = errors.New("admin: TCP address is not loopback")
	ErrSocketInUse   = errors.New("admin: socket in use by a running process")
)

// Listen opens the listeners and starts serving. Close stops it.
func Listen(b Backend, opts Options) (*Server, error) {
	s := &Server{b: b, opts: opts}
	if opts.Logger == nil {
		s.opts.Logger = slog.Default()
	}
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second, ConnContext: connContext}
	if opts.Socket != "" {
		ln, err := listenUnix(opts.Socket, opts.SocketFile)
		if err != nil {
			return nil, err
		}
		s.lns = append(s.lns, ln)
	}
	if opts.TCP != "" {
		if opts.Token == "" {
			s.closeListeners()
			return nil, ErrTokenRequired
		}
		host, _, err := net.SplitHostPort(opts.TCP)
		ip := net.ParseIP(host)
		if err != nil || !(host == "localhost" || ip != nil && ip.IsLoopback()) {
			s.closeListeners()
			return nil, fmt.Errorf("%w: %q", ErrNotLoopback, opts.TCP)
		}
		ln, err := net.Listen("tcp", opts.TCP)
		if err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("admin: %w", err)
		}
		s.lns = append(s.lns, ln)
	}
	for _, ln := range s.lns {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.srv.Serve(ln)
		}()
	}
	return s, nil
}

// listenUnix creates the socket with file's mode (default 0600), owner and group, replacing a stale file left
// by a process that is gone, never one that still answers.
func listenUnix(path string, file memif.SocketFile) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("admin socket %s: exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("%w: %s", ErrSocketInUse, path)
		}
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	// The kernel checks write permission at connect, so for the moment
	// between listen and this call the file has the umask's mode: a process
	// umask at least as strict as the mode closes that window (the systemd
	// unit's UMask=0007 leaves the socket's group in it).
	if file.Mode == 0 {
		file.Mode = 0o600
	}
	if err := file.Apply(path); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	return ln, nil
}

// Addrs lists the listening addresses.
func (s *Server) Addrs() []net.Addr {
	var out []net.Addr
	for _, ln := range s.lns {
		out = append(out, ln.Addr())
	}
	return out
}

func (s *Server) closeListeners() {
	for _, ln := range s.lns {
		ln.Close()
	}
}

// Close stops serving, ends open requests and removes the socket file. It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	s.wg.Wait()
	return nil
}

// Handler returns the API's routes with authentication; exported for tests
// and for serving it elsewhere.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/tenants", s.tenants)
	mux.HandleFunc("GET /v1/stats", s.stats)
	mux.HandleFunc("GET /v1/tenants/{t}/interfaces/{i}", s.iface)
	mux.HandleFunc("POST /v1/tenants/{t}/interfaces/{i}/plugins", s.load)
	mux.HandleFunc("DELETE /v1/tenants/{t}/interfaces/{i}/plugins/{p}", s.unload)
	mux.HandleFunc("POST /v1/tenants/{t}/interfaces/{i}/plugins/{p}/reload", s.reload)
	mux.HandleFunc("POST /v1/tenants/{t}/interfaces/{i}/plugins/{p}/control", s.control)
	mux.HandleFunc("POST /v1/config/reload", s.reloadConfig)
	s.views(mux)
	s.tableRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no route %s %s", r.Method, r.URL.Path))
	})
	return s.audit(s.auth(mux))
}

func (s *Server) auth(next http.Handler) http.Handler {
	if s.opts.Token == "" {
		return next
	}
	want := []byte("Bearer " + s.opts.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if peerOf(r).unix { // the socket file's permissions decided
			next.ServeHTTP(w, r)
			return
		}
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="memif-wasm"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Tenant is one entry of GET /v1/tenants.
type Tenant struct {
	Name       string      `json:"name"`
	Interfaces []Interface `json:"interfaces"`
}

// Interface is one interface in a Tenant listing.
type Interface struct {
	Name      string   `json:"name"`
	Socket    string   `json:"socket"`
	Role      string   `json:"role"`
	ID        uint32   `json:"id"`
	Connected bool     `json:"connected"`
	Egress    string   `json:"egress,omitempty"`
	Placement string   `json:"placement"`
	Plugins   []Plugin `json:"plugins"`
}

// Plugin is one pipeline stage in a listing.
type Plugin struct {
	Name   string `json:"name"`
	File   string `json:"file"`
	Source string `json:"source,omitempty"`
	SHA256 string `json:"sha256"`
	Fault  string `json:"fault,omitempty"`
}

// InterfaceDetails is GET /v1/tenants/{t}/interfaces/{i}.
type InterfaceDetails struct {
	Memif memif.Details            `json:"memif"`
	Stats daemon.InterfaceSnapshot `json:"stats"`
}

// LoadRequest is the body of a plugin load.
type LoadRequest struct {
	config.Plugin
	// Index is the position in the pipeline; absent or negative: last.
	Index *int `json:"index,omitempty"`
}

// ControlRequest carries a plugin control message: text in Message, or
// binary in Data (base64 in JSON), not both.
type ControlRequest struct {
	Message string `json:"message,omitempty"`
	Data    []byte `json:"data,omitempty"`
}

// ControlReply is the plugin's answer: in Reply when it is UTF-8 text,
// else in Data (base64 in JSON).
type ControlReply struct {
	Reply string `json:"reply"`
	Data  []byte `json:"data,omitempty"`
}

// NewControlReply puts b where it survives JSON.
func NewControlReply(b []byte) ControlReply {
	if utf8.Valid(b) {
		return ControlReply{Reply: string(b)}
	}
	return ControlReply{Data: b}
}

// ConfigReloadReply lists what a config reload changed.
type ConfigReloadReply struct {
	Changes []string `json:"changes"`
}

func (s *Server) tenants(w http.ResponseWriter, r *http.Request) {
	snap := s.b.Snapshot()
	out := make([]Tenant, 0, len(snap.Tenants))
	for _, t := range snap.Tenants {
		tt := Tenant{Name: t.Name, Interfaces: []Interface{}}
		for _, in := range t.Interfaces {
			ii := Interface{Name: in.Name, Socket: in.Socket, Role: in.Role, ID: in.ID, Connected: in.Connected,
				Egress: in.Egress, Placement: in.Placement, Plugins: []Plugin{}}
			for _, p := range in.Plugins {
				ii.Plugins = append(ii.Plugins, Plugin{Name: p.Name, File: p.File, Source: p.Source, SHA256: p.SHA256, Fault: p.Fault})
			}
			tt.Interfaces = append(tt.Interfaces, ii)
		}
		out = append(out, tt)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.b.Snapshot())
}

func (s *Server) iface(w http.ResponseWriter, r *http.Request) {
	t, i := r.PathValue("t"), r.PathValue("i")
	det, err := s.b.Details(t, i)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := InterfaceDetails{Memif: det}
	for _, ts := range s.b.Snapshot().Tenants {
		for _, in := range ts.Interfaces {
			if ts.Name == t && in.Name == i {
				out.Stats = in
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) load(w http.ResponseWriter, r *http.Request) {
	var req LoadRequest
	if !decode(w, r, &req) {
		return
	}
	if req.File == "" && req.Source == "" {
		writeError(w, http.StatusBadRequest, `file: required, or source (the .wasm module to load)`)
		return
	}
	idx := -1
	if req.Index != nil {
		idx = *req.Index
	}
	if err := s.b.LoadPlugin(r.Context(), r.PathValue("t"), r.PathValue("i"), req.Plugin, idx); err != nil {
		s.fail(w, r, err)
		return
	}
	auditOf(r).plugin = req.PluginName()
	writeJSON(w, http.StatusOK, map[string]string{"loaded": req.PluginName()})
}

func (s *Server) unload(w http.ResponseWriter, r *http.Request) {
	if err := s.b.UnloadPlugin(r.Context(), r.PathValue("t"), r.PathValue("i"), r.PathValue("p")); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"unloaded": r.PathValue("p")})
}

func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	if err := s.b.Reload(r.Context(), r.PathValue("t"), r.PathValue("i"), r.PathValue("p")); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"reloaded": r.PathValue("p")})
}

func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	var req ControlRequest
	if !decode(w, r, &req) {
		return
	}
	msg := []byte(req.Message)
	if req.Data != nil {
		if req.Message != "" {
			writeError(w, http.StatusBadRequest, "set message (text) or data (base64), not both")
			return
		}
		msg = req.Data
	}
	reply, err := s.b.Control(r.Context(), r.PathValue("t"), r.PathValue("i"), r.PathValue("p"), msg)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewControlReply(reply))
}

func (s *Server) reloadConfig(w http.ResponseWriter, r *http.Request) {
	if s.opts.ReloadConfig == nil {
		writeError(w, http.StatusNotImplemented, "this daemon runs without a config file (started from flags)")
		return
	}
	changes, err := s.opts.ReloadConfig(r.Context())
	if err != nil {
		// The daemon logged it already: answer without logging it again.
		auditOf(r).logged = true
		writeError(w, statusOf(err), err.Error())
		return
	}
	out := ConfigReloadReply{Changes: []string{}}
	for _, c := range changes {
		out.Changes = append(out.Changes, c.String())
	}
	writeJSON(w, http.StatusOK, out)
}

// decode reads a JSON body, refusing unknown fields, trailing data and
// oversized bodies; on failure it has answered 400.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	return decodeLimit(w, r, v, MaxBody)
}

// decodeLimit is decode with a body limit of its own.
func decodeLimit(w http.ResponseWriter, r *http.Request, v any, limit int64) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "bad JSON body: data after the object")
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		writeError(w, http.StatusBadRequest, "bad JSON body: data after the object")
		return false
	}
	return true
}

// fail answers with err's status (see statusOf); audit logs it.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, statusOf(err), err.Error())
}

// statusOf maps an error to a status: unknown names 404, bad config 400,
// refused modules 422, anything else 500.
func statusOf(err error) int {
	var ae *host.AdmissionError
	var ge *host.GuestError
	switch {
	case errors.Is(err, daemon.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, config.ErrInvalid), errors.Is(err, os.ErrNotExist):
		return http.StatusBadRequest
	case errors.As(err, &ae), errors.As(err, &ge), errors.Is(err, host.ErrNotSupported), errors.Is(err, host.ErrTooLarge):
		return http.StatusUnprocessableEntity
	case errors.Is(err, daemon.ErrClosed):
		return http.StatusServiceUnavailable
	case errors.Is(err, daemon.ErrExists):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, ErrorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
