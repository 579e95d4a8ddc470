package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/host/daemon"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
	"github.com/memif-wasm/memif-wasm/host/dataplane"
	"github.com/memif-wasm/memif-wasm/memif"
)

// fakeBackend answers without a daemon: names other than t/i/p are unknown.
type fakeBackend struct{}

func known(t, i string) error {
	if t != "t" || i != "i" {
		return daemon.ErrNotFound
	}
	return nil
}

func (fakeBackend) Snapshot() *daemon.Snapshot { return &daemon.Snapshot{} }
func (fakeBackend) Details(t, i string) (memif.Details, error) {
	return memif.Details{Name: i}, known(t, i)
}
func (fakeBackend) Reload(_ context.Context, t, i, p string) error { return known(t, i) }
func (fakeBackend) LoadPlugin(_ context.Context, t, i string, p config.Plugin, _ int) error {
	return known(t, i)
}
func (fakeBackend) UnloadPlugin(_ context.Context, t, i, p string) error { return known(t, i) }
func (fakeBackend) Control(_ context.Context, t, i, p string, msg []byte) ([]byte, error) {
	return msg, known(t, i)
}

// The views: requests are validated as the daemon does; a valid capture
// answers busy (a fake has no packets to stream).
func (fakeBackend) AddTrace(t, i string, n int) error {
	if _, err := dataplane.NewTrace(n); err != nil {
		return fmt.Errorf("%w: %w", daemon.ErrInvalidRequest, err)
	}
	return known(t, i)
}
func (fakeBackend) Traces() []daemon.TraceView { return []daemon.TraceView{} }
func (fakeBackend) ClearTraces()               {}
func (fakeBackend) StartCapture(t, i string, cfg dataplane.CaptureConfig) (*dataplane.Capture, error) {
	if _, err := dataplane.NewCapture(cfg); err != nil {
		return nil, fmt.Errorf("%w: %w", daemon.ErrInvalidRequest, err)
	}
	if err := known(t, i); err != nil {
		return nil, err
	}
	return nil, daemon.ErrBusy
}
func (fakeBackend) StopCapture(t, i string, c *dataplane.Capture) {}
func (fakeBackend) Runtime() *daemon.Runtime                      { return daemon.RuntimeOf(&daemon.Snapshot{}) }
func (fakeBackend) ClearRuntime() time.Time                       { return time.Time{} }

// FuzzRequest sends arbitrary methods, paths and bodies: the API never
// panics and never answers 500 for input a client controls.
func FuzzRequest(f *testing.F) {
	f.Add("POST", "/v1/tenants/t/interfaces/i/plugins", `{"file":"x.wasm","index":2}`)
	f.Add("POST", "/v1/tenants/t/interfaces/i/plugins/p/control", `{"message":"{\"op\":\"list\"}"}`)
	f.Add("GET", "/v1/tenants/t/interfaces/i", "")
	f.Add("DELETE", "/v1/tenants/%2e%2e/interfaces/i/plugins/p", "")
	f.Add("POST", "/v1/config/reload", "{}")
	f.Add("POST", "/v1/tenants/t/interfaces/i/trace", `{"packets":10}`)
	f.Add("POST", "/v1/tenants/t/interfaces/i/capture", `{"rx":true,"count":5,"snaplen":128,"timeout_ms":100}`)
	f.Add("GET", "/v1/runtime", "")
	f.Add("DELETE", "/v1/trace", "")
	s := &Server{b: fakeBackend{}, opts: Options{Logger: quiet()}}
	h := s.Handler()
	f.Fuzz(func(t *testing.T, method, path, body string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#?") || method == "" || strings.ContainsAny(method, " \r\n\t") {
			return // not a request line an HTTP client can send
		}
		if strings.HasPrefix(path, "/debug/pprof/profile") || strings.HasPrefix(path, "/debug/pprof/trace") {
			return // profiles for 30 s by design
		}
		req, err := http.NewRequest(method, "http://x"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusNotImplemented {
			t.Fatalf("%s %s %q: %d %s", method, path, body, rec.Code, rec.Body)
		}
	})
}
