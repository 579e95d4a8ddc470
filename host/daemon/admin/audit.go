package admin

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"

	"github.com/memif-wasm/memif-wasm/host/daemon/admin/internal/peercred"
)

// peer says who is on the other end of a connection, for the audit log and
// for auth: a unix socket's peer is guarded by the file's permissions and
// needs no token.
type peer struct {
	unix bool
	who  string // "unix uid=0 gid=0 pid=42" or "tcp 127.0.0.1:5555"
}

type peerKey struct{}

// connContext tags each connection with its peer.
func connContext(ctx context.Context, c net.Conn) context.Context {
	p := peer{who: "tcp " + c.RemoteAddr().String()}
	if uc, ok := c.(*net.UnixConn); ok {
		p = peer{unix: true, who: "unix"}
		if cred, err := peercred.Of(uc); err == nil {
			p.who = "unix " + cred.String()
		}
	}
	return context.WithValue(ctx, peerKey{}, p)
}

func peerOf(r *http.Request) peer {
	p, ok := r.Context().Value(peerKey{}).(peer)
	if !ok { // served by Handler outside Listen
		return peer{who: "http " + r.RemoteAddr}
	}
	return p
}

// auditRec is filled by the handlers with what the middleware cannot see.
type auditRec struct {
	plugin string // the plugin a load added (its name comes from the body)
	// logged: the error was logged already (config reloads log their own
	// outcome), so the audit line names the request but not the error again.
	logged bool
}

type auditKey struct{}

func auditOf(r *http.Request) *auditRec {
	if a, ok := r.Context().Value(auditKey{}).(*auditRec); ok {
		return a
	}
	return &auditRec{}
}

// recorder keeps the status and, for errors, the message of a response.
type recorder struct {
	http.ResponseWriter
	status int
	body   []byte
}

// Unwrap lets http.ResponseController reach the connection's writer, so a
// streamed answer (a capture) is flushed as it is written.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *recorder) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.status >= 400 && len(w.body) < 4096 {
		w.body = append(w.body, b[:min(len(b), 4096-len(w.body))]...)
	}
	return w.ResponseWriter.Write(b)
}

// audit logs, once each, every mutation (any method but GET: load, unload,
// reload, control, reload-config) with who, what, the plugin's sha256 and
// the result, and every refused request (status 400 and up) with why.
func (s *Server) audit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &auditRec{}
		r = r.WithContext(context.WithValue(r.Context(), auditKey{}, rec))
		rw := &recorder{ResponseWriter: w}
		next.ServeHTTP(rw, r)
		mutation := r.Method != http.MethodGet && r.Method != http.MethodHead
		if !mutation && rw.status < 400 {
			return
		}
		attrs := []any{"who", peerOf(r).who, "method", r.Method, "path", r.URL.Path, "status", rw.status}
		t, i, p := pathNames(r.URL.Path)
		if p == "" {
			p = rec.plugin
		}
		if t != "" {
			attrs = append(attrs, "tenant", t, "interface", i)
		}
		if p != "" {
			attrs = append(attrs, "plugin", p)
			if sha := s.pluginSHA(t, i, p); sha != "" && rw.status < 400 {
				attrs = append(attrs, "sha256", sha)
			}
		}
		if rw.status >= 400 {
			attrs = append(attrs, "result", "refused")
			if !rec.logged {
				attrs = append(attrs, "err", errorMessage(rw.body))
			}
			s.opts.Logger.Warn("admin request refused", attrs...)
			return
		}
		s.opts.Logger.Info("admin change", append(attrs, "result", "ok")...)
	})
}

// pathNames picks tenant, interface and plugin out of an API path.
func pathNames(path string) (t, i, p string) {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	at := func(k int) string {
		if k < len(seg) {
			return seg[k]
		}
		return ""
	}
	if at(0) == "v1" && at(1) == "tenants" && at(3) == "interfaces" {
		t, i = at(2), at(4)
		if at(5) == "plugins" {
			p = at(6)
		}
	}
	return t, i, p
}

// pluginSHA is the running module's sha256, or "".
func (s *Server) pluginSHA(t, i, p string) string {
	if s.b == nil {
		return ""
	}
	for _, ts := range s.b.Snapshot().Tenants {
		for _, in := range ts.Interfaces {
			for _, pl := range in.Plugins {
				if ts.Name == t && in.Name == i && pl.Name == p {
					return pl.SHA256
				}
			}
		}
	}
	return ""
}

// errorMessage is the "error" of an error body, or the body itself.
func errorMessage(body []byte) string {
	var e ErrorBody
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	return strings.TrimSpace(string(body))
}
