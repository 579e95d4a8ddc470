package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/memif-wasm/memif-wasm/host/daemon"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMuxHealthReady: /healthz always answers, /readyz follows the ready
// function with its reason, /metrics carries build_info, and no profiling
// is served on the metrics address.
func TestMuxHealthReady(t *testing.T) {
	var notReady error
	srv := httptest.NewServer(Mux(NewRegistry(func() *daemon.Snapshot { return &daemon.Snapshot{} }), func() error { return notReady }))
	defer srv.Close()
	if code, body := get(t, srv.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get(t, srv.URL+"/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz = %d %q", code, body)
	}
	notReady = errors.New("interface t/memif0 is not open")
	if code, body := get(t, srv.URL+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "interface t/memif0 is not open") {
		t.Errorf("/readyz when not ready = %d %q", code, body)
	}
	if code, _ := get(t, srv.URL+"/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("/debug/pprof/ on the metrics server = %d, want 404 (admin API only)", code)
	}
	code, body := get(t, srv.URL+"/metrics")
	bi := daemon.ReadBuildInfo()
	if code != 200 || !strings.Contains(body, `memif_wasm_build_info{go_version="`+bi.GoVersion+`"`) {
		t.Errorf("/metrics lacks memif_wasm_build_info for %s", bi.GoVersion)
	}
}
