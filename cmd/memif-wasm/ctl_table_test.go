package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
	"github.com/memif-wasm/memif-wasm/host/daemon/admin"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
)

// TestCtlTable runs a daemon whose plugin (the C route example) declares
// tables, and drives them with ctl table: list, put, get, bad input, bulk
// loads (a bad file applies nothing), dump, delete, clear; a plugin reload
// keeps the entries; /metrics shows them.
func TestCtlTable(t *testing.T) {
	dir := t.TempDir()
	route := hosttest.Built(t, "route-c.wasm")
	admin := filepath.Join(dir, "admin.sock")
	cfgFile := filepath.Join(dir, "memif-wasm.yaml")
	y := fmt.Sprintf(`
tenants:
  - name: blue
    interfaces:
      - name: north
        socket: %s/memif.sock
        role: master
        plugins:
          - file: %s
            name: route
`, dir, route)
	if err := os.WriteFile(cfgFile, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	metricsAddr := freePort(t)
	bg := startRun(t, "run", "--config", cfgFile, "--admin-socket", admin, "--watch=false", "--metrics-addr", metricsAddr)
	bg.waitAdmin(t, admin)

	must := func(args ...string) string {
		t.Helper()
		code, out, e := ctl(t, admin, append([]string{"table"}, args...)...)
		if code != cli.ExitOK {
			t.Fatalf("ctl table %v: %d %q %q", args, code, out, e)
		}
		return out
	}
	fails := func(want string, args ...string) {
		t.Helper()
		code, out, e := ctl(t, admin, append([]string{"table"}, args...)...)
		if code == cli.ExitOK || !strings.Contains(e, want) {
			t.Fatalf("ctl table %v: %d %q %q, want a failure saying %q", args, code, out, e, want)
		}
	}
	if out := must("list"); !strings.Contains(out, "blue/north/routes") || !strings.Contains(out, "blue/north/ports") {
		t.Fatalf("list:\n%s", out)
	}
	must("put", "blue/north/routes", "ip4:10.0.0.1/32", "01000000")
	if out := must("get", "blue/north/routes", "ip4:10.0.0.1/32"); out != "01000000\n" {
		t.Fatalf("get: %q", out)
	}
	fails("no such entry", "get", "blue/north/routes", "ip4:10.0.0.2/32")
	fails("host bits set", "put", "blue/north/routes", "ip4:10.0.0.2/8", "01000000")
	fails("not an IPv4 prefix", "put", "blue/north/routes", "ip4:10.0.0.2/33", "01000000")
	fails("wrong value size", "put", "blue/north/routes", "ip4:10.0.0.2/32", "01")
	fails("wrong key size", "put", "blue/north/routes", "ip6:::1/128", "01000000")
	fails("no table", "show", "blue/north/nope")
	fails("want TENANT/INTERFACE/TABLE", "show", "blue/north")
	fails("no such entry", "delete", "blue/north/routes", "ip4:10.9.9.9/32")

	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("ip4:10.0.1.1/32,02000000\nip4:10.0.1.2/32,0200\n"), 0o644)
	fails("nothing applied", "load", "blue/north/routes", bad)
	good := filepath.Join(dir, "good.jsonl")
	var lines strings.Builder
	for i := range 200 {
		fmt.Fprintf(&lines, "{\"key\":\"ip4:10.0.2.%d/32\",\"value\":\"02000000\"}\n", i)
	}
	os.WriteFile(good, []byte(lines.String()), 0o644)
	if out := must("load", "blue/north/routes", good); out != "applied 200\n" {
		t.Fatalf("load: %q", out)
	}
	var info struct {
		Entries uint64 `json:"entries"`
		Updates uint64 `json:"updates"`
	}
	if err := json.Unmarshal([]byte(must("show", "blue/north/routes", "--json")), &info); err != nil || info.Entries != 201 {
		t.Fatalf("show --json: %+v %v", info, err)
	}
	if out := must("dump", "blue/north/routes"); strings.Count(out, "\n") != 201 || !strings.Contains(out, "0a00000120 01000000") {
		t.Fatalf("dump: %d lines", strings.Count(out, "\n"))
	}
	if code, out, e := ctl(t, admin, "reload", "blue/north/route"); code != cli.ExitOK {
		t.Fatalf("reload: %d %q %q", code, out, e)
	}
	if out := must("get", "blue/north/routes", "ip4:10.0.2.7/32"); out != "02000000\n" {
		t.Fatalf("after reload: %q", out)
	}
	must("delete", "blue/north/routes", "ip4:10.0.0.1/32")
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `memif_wasm_table_entries{interface="north",table="routes",tenant="blue"} 200`) {
		t.Fatalf("/metrics lacks the table's entries:\n%s", grepLines(string(body), "table"))
	}
	must("clear", "blue/north/routes")
	if out := must("list", "--json"); !strings.Contains(out, `"entries": 0`) {
		t.Fatalf("list --json after clear:\n%s", out)
	}
	if code := bg.stop(t); code != cli.ExitOK {
		t.Fatalf("exit %d", code)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestInspectTables: inspect lists a plugin's table declarations.
func TestInspectTables(t *testing.T) {
	route := hosttest.Built(t, "route-c.wasm")
	var out, errb strings.Builder
	if code := run(t.Context(), []string{"inspect", route, "--json"}, &out, &errb); code != cli.ExitOK {
		t.Fatalf("inspect: %d %s", code, errb.String())
	}
	var rep admin.InspectReport
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
		t.Fatal(err)
	}
	want := []string{"routes lpm4 key=4 value=4 max=100000", "ports array key=4 value=4 max=64"}
	if fmt.Sprint(rep.Tables) != fmt.Sprint(want) {
		t.Fatalf("tables %q, want %q", rep.Tables, want)
	}
}
