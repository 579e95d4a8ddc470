package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/daemon"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startAPI runs a daemon with one interface and a TX plugin behind the API
// on a unix socket.
func startAPI(t *testing.T, opts Options) (*daemon.Daemon, *Server, string) {
	t.Helper()
	dir := t.TempDir()
	plugin := hosttest.Build(t, dir, "tx", int(abi.TX), 0)
	cfg := &config.Config{Tenants: []config.Tenant{{Name: "t", Interfaces: []config.Interface{{
		Name: "memif0", Socket: filepath.Join(dir, "memif.sock"), Role: "master", Plugins: []config.Plugin{{File: plugin}},
	}}}}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := daemon.New(ctx, cfg, daemon.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if opts.Socket == "" {
		opts.Socket = filepath.Join(dir, "admin.sock")
	}
	opts.Logger = quiet()
	s, err := Listen(d, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return d, s, dir
}

func TestRoundTrip(t *testing.T) {
	_, s, dir := startAPI(t, Options{})
	sock := filepath.Join(dir, "admin.sock")
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("admin socket mode %o, want 600", perm)
	}
	c := NewClient(sock, "")
	ctx := context.Background()
	ts, err := c.Tenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].Name != "t" || len(ts[0].Interfaces) != 1 || ts[0].Interfaces[0].Plugins[0].Name != "tx" {
		t.Fatalf("tenants = %+v", ts)
	}
	if reply, err := c.Control(ctx, "t", "memif0", "tx", []byte(`{"op":"get"}`)); err != nil || string(reply) != `{"op":"get"}` {
		t.Errorf("control: %q, %v", reply, err)
	}
	bin := []byte{'M', 'W', 0, 0xff, 0xfe, 1}
	if reply, err := c.Control(ctx, "t", "memif0", "tx", bin); err != nil || string(reply) != string(bin) {
		t.Errorf("binary control: %q, %v", reply, err)
	}
	if err := c.Reload(ctx, "t", "memif0", "tx"); err != nil {
		t.Errorf("reload: %v", err)
	}
	st, err := c.Stats(ctx)
	if err != nil || st.Reloads["t"]["ok"] != 1 {
		t.Errorf("stats: %+v, %v", st, err)
	}
	det, err := c.Interface(ctx, "t", "memif0")
	if err != nil || det.Memif.Name != "memif0" || det.Stats.Name != "memif0" {
		t.Errorf("interface: %+v, %v", det, err)
	}
	drop := hosttest.Build(t, dir, "drop", int(abi.Drop), 0)
	if err := c.Load(ctx, "t", "memif0", config.Plugin{File: drop, Config: "x"}, 0); err != nil {
		t.Fatalf("load: %v", err)
	}
	ts, _ = c.Tenants(ctx)
	if ps := ts[0].Interfaces[0].Plugins; len(ps) != 2 || ps[0].Name != "drop" {
		t.Errorf("after load: %+v", ps)
	}
	var ae *APIError
	if err := c.Load(ctx, "t", "memif0", config.Plugin{File: drop}, 0); !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		t.Errorf("duplicate load: %v", err)
	}
	if err := c.Unload(ctx, "t", "memif0", "drop"); err != nil {
		t.Errorf("unload: %v", err)
	}
	if _, err := c.ReloadConfig(ctx); !errors.As(err, &ae) || ae.Status != http.StatusNotImplemented {
		t.Errorf("config reload without a file: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

// TestBadRequests: each bad request gets its status and an error that says why.
func TestBadRequests(t *testing.T) {
	_, _, dir := startAPI(t, Options{})
	c := NewClient(filepath.Join(dir, "admin.sock"), "")
	hc := c.http
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"bad JSON", "POST", "/v1/tenants/t/interfaces/memif0/plugins/tx/control", `{"message":`, 400, "bad JSON body"},
		{"message and data", "POST", "/v1/tenants/t/interfaces/memif0/plugins/tx/control", `{"message":"x","data":"eA=="}`, 400, "not both"},
		{"data not base64", "POST", "/v1/tenants/t/interfaces/memif0/plugins/tx/control", `{"data":"%%%"}`, 400, "bad JSON body"},
		{"unknown field", "POST", "/v1/tenants/t/interfaces/memif0/plugins/tx/control", `{"msg":"x"}`, 400, "unknown field"},
		{"trailing data", "POST", "/v1/tenants/t/interfaces/memif0/plugins/tx/control", `{"message":"x"} {}`, 400, "data after"},
		{"load without file", "POST", "/v1/tenants/t/interfaces/memif0/plugins", `{"name":"x"}`, 400, "file: required"},
		{"load missing file", "POST", "/v1/tenants/t/interfaces/memif0/plugins", `{"file":"/nonexistent.wasm"}`, 400, "no such file"},
		{"load garbage", "POST", "/v1/tenants/t/interfaces/memif0/plugins", `{"file":"` + filepath.Join(dir, "garbage.wasm") + `"}`, 422, "garbage"},
		{"load bad config", "POST", "/v1/tenants/t/interfaces/memif0/plugins", `{"file":"x.wasm","fail_policy":"maybe"}`, 400, "fail_policy"},
		{"unknown tenant", "POST", "/v1/tenants/nope/interfaces/memif0/plugins/tx/reload", ``, 404, `no tenant "nope"`},
		{"unknown interface", "GET", "/v1/tenants/t/interfaces/nope", ``, 404, `no interface "nope"`},
		{"unknown plugin", "POST", "/v1/tenants/t/interfaces/memif0/plugins/nope/control", `{"message":""}`, 404, `no plugin "nope"`},
		{"unknown route", "GET", "/v2/everything", ``, 404, "no route"},
		{"wrong method", "DELETE", "/v1/stats", ``, 404, "no route DELETE /v1/stats"},
		{"body too large", "POST", "/v1/tenants/t/interfaces/memif0/plugins/tx/control", `{"message":"` + strings.Repeat("a", MaxBody) + `"}`, 400, "too large"},
	}
	os.WriteFile(filepath.Join(dir, "garbage.wasm"), []byte("garbage"), 0o644)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, c.base+tt.path, strings.NewReader(tt.body))
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var eb ErrorBody
			json.Unmarshal(raw, &eb)
			body := eb.Error
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if !strings.Contains(string(body), tt.want) {
				t.Errorf("body %s lacks %q", body, tt.want)
			}
		})
	}
}

func TestTCPToken(t *testing.T) {
	_, s, _ := startAPI(t, Options{TCP: "127.0.0.1:0", Token: "s3cret"})
	var addr string
	for _, a := range s.Addrs() {
		if a.Network() == "tcp" {
			addr = "http://" + a.String()
		}
	}
	ctx := context.Background()
	var ae *APIError
	for _, tok := range []string{"", "wrong"} {
		if _, err := NewClient(addr, tok).Tenants(ctx); !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
			t.Errorf("token %q: %v, want 401", tok, err)
		}
	}
	if _, err := NewClient(addr, "s3cret").Tenants(ctx); err != nil {
		t.Errorf("right token: %v", err)
	}
}

func TestListenRefuses(t *testing.T) {
	dir := t.TempDir()
	if _, err := Listen(nil, Options{TCP: "127.0.0.1:0"}); !errors.Is(err, ErrTokenRequired) {
		t.Errorf("TCP without token: %v", err)
	}
	if _, err := Listen(nil, Options{TCP: "0.0.0.0:0", Token: "x"}); !errors.Is(err, ErrNotLoopback) {
		t.Errorf("TCP on all addresses: %v", err)
	}
	// A socket someone still answers on is not taken over.
	busy := filepath.Join(dir, "busy.sock")
	ln, err := net.Listen("unix", busy)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := Listen(nil, Options{Socket: busy}); !errors.Is(err, ErrSocketInUse) {
		t.Errorf("socket in use: %v", err)
	}
	// A regular file is not removed.
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := Listen(nil, Options{Socket: file}); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("regular file: %v", err)
	}
	// A stale socket (nobody listening) is replaced.
	stale := filepath.Join(dir, "stale.sock")
	l2, _ := net.Listen("unix", stale)
	l2.(*net.UnixListener).SetUnlinkOnClose(false)
	l2.Close()
	s, err := Listen(nil, Options{Socket: stale})
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	s.Close()
}
