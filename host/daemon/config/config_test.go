package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
)

func TestLoadFull(t *testing.T) {
	c, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Log.Format != "json" || c.Metrics.Addr != "127.0.0.1:9190" || c.Engine.MaxMemoryPages != 4096 {
		t.Errorf("top-level values not read: %+v", c)
	}
	if len(c.Tenants) != 1 || len(c.Tenants[0].Interfaces) != 2 {
		t.Fatalf("tenants/interfaces: %+v", c.Tenants)
	}
	tn := c.Tenants[0]
	n := tn.Interfaces[0]
	if !n.IsMaster() || n.ID != 1 || n.Secret != "s3cret" || n.NumQueues() != 2 || n.RingLog2() != 11 ||
		n.BufferSize != 4096 || n.RxMode != "polling" || n.Egress != "south" || !n.PinWorkers || n.TxRetries != 1000 ||
		n.TxRetryTime != 250*time.Microsecond {
		t.Errorf("north: %+v", n)
	}
	if tn.Port("south") != 1 || tn.Port("nowhere") != -1 {
		t.Errorf("ports: south=%d nowhere=%d", tn.Port("south"), tn.Port("nowhere"))
	}
	acl := n.Plugins[0]
	if tn.MaxMemoryPages != 8192 || tn.MaxInstances != 32 || tn.Fuel != 4000000 || tn.Stack != 131072 {
		t.Errorf("tenant budgets: %+v", tn)
	}
	if acl.PluginName() != "acl" || acl.Watched() || acl.FailPolicy != "open" || acl.MaxBurst != 64 || acl.Fuel != 1000000 || acl.Stack != 16384 {
		t.Errorf("acl plugin: %+v", acl)
	}
	// Relative paths are relative to the config file.
	if want := filepath.Join("testdata", "plugins", "acl.wasm"); acl.File != want {
		t.Errorf("file = %q, want %q", acl.File, want)
	}
	if want := filepath.Join("testdata", "acl.rules"); acl.ConfigFile != want {
		t.Errorf("config_file = %q, want %q", acl.ConfigFile, want)
	}
	if got := n.Plugins[1]; got.PluginName() != "count" || got.File != "/opt/counter.wasm" || !got.Watched() {
		t.Errorf("count plugin: %+v", got)
	}
	s := tn.Interfaces[1]
	if s.IsMaster() || s.SocketPath() != "@memif-south" || s.RingLog2() != 10 || s.NumQueues() != 1 || s.TxRetryTime != 0 {
		t.Errorf("south defaults: %+v", s)
	}
}

func TestLoadExample(t *testing.T) {
	for _, f := range []string{"testdata/example.yaml", "memif-wasm.example.yaml"} {
		if _, err := Load(f); err != nil {
			t.Error(err)
		}
	}
}

// TestSmallRingCarriesItsMTU: a small ring is fine when its buffers hold a
// frame of the interface's mtu, and a master's ring is the slave's to size.
func TestSmallRingCarriesItsMTU(t *testing.T) {
	for _, y := range []string{
		strings.Replace(good, "id: 1", "id: 1\n        ring_size: 4\n        mtu: 1500", 1),
		strings.Replace(good, "id: 1", "id: 1\n        ring_size: 8", 1),
		strings.Replace(good, "role: master", "role: master\n        ring_size: 2", 1),
	} {
		if _, err := Parse([]byte(y), "small.yaml"); err != nil {
			t.Errorf("%v", err)
		}
	}
}

// TestRoleAndModesParsedByMemif: roles and modes are parsed by memif's own
// parser (the one flags use), so DPDK's names work in a file too.
func TestRoleAndModesParsedByMemif(t *testing.T) {
	c, err := Parse([]byte(strings.Replace(strings.Replace(good, "role: master", "role: server\n        mode: punt/inject\n        rx_mode: polling", 1), "id: 1", "id: 1\n        role: client", 1)), "dpdk.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, b := &c.Tenants[0].Interfaces[0], &c.Tenants[0].Interfaces[1]
	if !a.IsMaster() || a.MemifMode() != memif.ModePuntInject || a.MemifRxMode() != memif.RxModePolling || b.IsMaster() || b.MemifRole() != memif.RoleSlave {
		t.Errorf("server/punt/polling and client parsed as %v/%v/%v and %v", a.MemifRole(), a.MemifMode(), a.MemifRxMode(), b.MemifRole())
	}
}

func TestEmptyIsValid(t *testing.T) {
	c, err := Parse(nil, "empty.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Tenants) != 0 {
		t.Errorf("tenants = %v", c.Tenants)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("err = %v, want a not-exist error naming the file", err)
	}
}

const good = `
tenants:
  - name: t
    interfaces:
      - name: a
        socket: /tmp/x.sock
        role: master
        egress: b
        plugins:
          - file: p.wasm
      - name: b
        socket: /tmp/x.sock
        id: 1
`

// TestBadConfigs feeds one broken file per rule and checks that the error
// names the field and the reason.
func TestBadConfigs(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error
	}{
		{"unknown top-level key", "tenant: []\n", []string{"config bad.yaml: tenant: unknown key (line 1); known keys here: admin, engine, log, metrics, registry, tenants"}},
		{"unknown interface key", strings.Replace(good, "role: master", "role: master\n        colour: red", 1), []string{"tenants[0].interfaces[0].colour: unknown key (line", "known keys here: allow_unsealed_regions, buffer_size,"}},
		{"duplicate key", strings.Replace(good, "role: master", "role: master\n        role: slave", 1), []string{"already defined"}},
		{"not yaml", "tenants: [\n", []string{"config bad.yaml"}},
		{"wrong type", strings.Replace(good, "role: master", "role: master\n        queues: lots", 1), []string{`tenants[0].interfaces[0].queues: "lots" (line`, "want an integer in"}},
		{"two documents", good + "---\ntenants: []\n", []string{"more than one YAML document"}},
		{"bad role", strings.Replace(good, "role: master", "role: boss", 1), []string{"tenants[0].interfaces[0].role", `role "boss" is not one of slave, master, client, server`}},
		{"bad ring size", strings.Replace(good, "role: master", "role: master\n        ring_size: 1000", 1), []string{"interfaces[0].ring_size", "1000 is not a power of two"}},
		{"ring too big", strings.Replace(good, "role: master", "role: master\n        ring_size: 32768", 1), []string{"ring_size", "32768"}},
		// Issue #9 case 2: a slave whose ring cannot hold one frame drops them all.
		{"ring cannot hold a frame", strings.Replace(good, "id: 1", "id: 1\n        ring_size: 4", 1), []string{"interfaces[1].ring_size", "4 buffers of 2048 bytes cannot hold one 9216-byte frame (mtu): it needs 5"}},
		{"ring cannot hold the mtu", strings.Replace(good, "id: 1", "id: 1\n        ring_size: 2\n        buffer_size: 1024\n        mtu: 2049", 1), []string{"interfaces[1].ring_size", "2 buffers of 1024 bytes cannot hold one 2049-byte frame (mtu): it needs 3"}},
		{"unsealed on a slave", strings.Replace(good, "id: 1", "id: 1\n        allow_unsealed_regions: true", 1), []string{"interfaces[1].allow_unsealed_regions", "only a master maps its peer's memory"}},
		{"bad mtu", strings.Replace(good, "id: 1", "id: 1\n        mtu: 63", 1), []string{"interfaces[1].mtu", "63 is outside 64..65535"}},
		{"bad queues", strings.Replace(good, "role: master", "role: master\n        queues: 256", 1), []string{"interfaces[0].queues", "256 is outside 1..255"}},
		{"negative queues", strings.Replace(good, "role: master", "role: master\n        queues: -1", 1), []string{"queues", "-1"}},
		{"bad buffer size", strings.Replace(good, "role: master", "role: master\n        buffer_size: 70000", 1), []string{"buffer_size", "70000"}},
		{"bad mode", strings.Replace(good, "role: master", "role: master\n        mode: tun", 1), []string{"interfaces[0].mode", `"tun"`}},
		{"bad rx mode", strings.Replace(good, "role: master", "role: master\n        rx_mode: busy", 1), []string{"rx_mode", `"busy"`}},
		{"long secret", strings.Replace(good, "role: master", "role: master\n        secret: "+strings.Repeat("s", 25), 1), []string{"secret", "25 bytes, at most 24"}},
		{"duplicate id", strings.Replace(good, "id: 1", "id: 0", 1), []string{"interfaces[1].id", "duplicate id 0 on socket /tmp/x.sock"}},
		{"duplicate interface", strings.Replace(good, "name: b", "name: a", 1), []string{"interfaces[1].name", `duplicate interface "a"`}},
		{"duplicate tenant", good + strings.TrimPrefix(strings.Replace(strings.Replace(good, "/tmp/x.sock", "/tmp/y.sock", -1), "tenants:\n", "", 1), "\n"), []string{"tenants[1].name", `duplicate tenant "t"`}},
		{"unknown egress", strings.Replace(good, "egress: b", "egress: c", 1), []string{"interfaces[0].egress", `no interface "c" in tenant "t"`}},
		{"unknown redirect", strings.Replace(good, "egress: b", "redirect: [b, z]", 1), []string{"interfaces[0].redirect[1]", `no interface "z"`}},
		{"missing plugin file", strings.Replace(good, "- file: p.wasm", "- name: p", 1), []string{"plugins[0].file", "required"}},
		{"both configs", strings.Replace(good, "- file: p.wasm", "- file: p.wasm\n            config: x\n            config_file: y", 1), []string{"plugins[0].config_file", "not both"}},
		{"bad fail policy", strings.Replace(good, "- file: p.wasm", "- file: p.wasm\n            fail_policy: maybe", 1), []string{"fail_policy", `"maybe"`}},
		{"bad max burst", strings.Replace(good, "- file: p.wasm", "- file: p.wasm\n            max_burst: 300", 1), []string{"max_burst", "300"}},
		{"duplicate plugin", strings.Replace(good, "- file: p.wasm", "- file: p.wasm\n          - file: dir/p.wasm", 1), []string{"plugins[1].name", `duplicate plugin "p"`}},
		{"tenant without name", strings.Replace(good, "- name: t\n    interfaces", "- interfaces", 1), []string{"tenants[0].name", "required"}},
		{"tenant without interfaces", "tenants:\n  - name: t\n", []string{"tenants[0].interfaces", "at least one"}},
		{"bad name characters", strings.Replace(good, "name: a", "name: a/b", 1), []string{"interfaces[0].name", "use only letters"}},
		{"long name", strings.Replace(good, "name: a", "name: "+strings.Repeat("a", 32), 1), []string{"interfaces[0].name", "at most 31"}},
		{"bad metrics addr", "metrics:\n  addr: nowhere\n", []string{"metrics.addr", "not HOST:PORT"}},
		{"admin tcp not loopback", "admin:\n  tcp: 0.0.0.0:9000\n  token_file: t\n", []string{"admin.tcp", "not a loopback"}},
		{"admin tcp without token", "admin:\n  tcp: 127.0.0.1:9000\n", []string{"admin.token_file", "required"}},
		{"bad log level", "log:\n  level: loud\n", []string{"log.level", `"loud"`}},
		{"memory over wasm32", "engine:\n  max_memory_pages: 70000\n", []string{"engine.max_memory_pages", "70000"}},
		{"bad tx retries", strings.Replace(good, "role: master", "role: master\n        tx_retries: -1", 1), []string{"interfaces[0].tx_retries", "-1"}},
		{"negative tx retry time", withMaster("tx_retry_time: -1ms"), []string{"tenants[0].interfaces[0].tx_retry_time", "-1ms is outside 0s..1s"}},
		{"tx retry time over 1s", withMaster("tx_retry_time: 1.5s"), []string{"tenants[0].interfaces[0].tx_retry_time", "1.5s is outside 0s..1s"}},
		{"tx retry time without unit", withMaster("tx_retry_time: 5"), []string{`tenants[0].interfaces[0].tx_retry_time: "5" (line`, "want a duration with its unit, such as 500us or 2ms"}},
		{"tx retry time not a duration", withMaster("tx_retry_time: soon"), []string{`tenants[0].interfaces[0].tx_retry_time: "soon" (line`, "want a duration with its unit"}},
		{"negative fuel", strings.Replace(good, "- file: p.wasm", "- file: p.wasm\n            fuel: -1", 1), []string{"plugins[0].fuel", "-1"}},
		{"negative plugin stack", withPlugin("stack: -1"), []string{"tenants[0].interfaces[0].plugins[0].stack", "-1 is outside 0..2147483647"}},
		{"plugin stack over 2^31-1", withPlugin("stack: 2147483648"), []string{"plugins[0].stack", "2147483648 is outside 0..2147483647"}},
		{"negative tenant stack", withTenant("stack: -4096"), []string{"tenants[0].stack", "-4096 is outside 0..2147483647"}},
		{"negative plugin cold fuel", withPlugin("cold_fuel: -1"), []string{"tenants[0].interfaces[0].plugins[0].cold_fuel", "-1 is outside"}},
		{"tenant cold fuel over max", withTenant("cold_fuel: 4611686018427387905"), []string{"tenants[0].cold_fuel", "4611686018427387905 is outside 0..4611686018427387904"}},
		{"tenant stack over 2^31-1", withTenant("stack: 4294967296"), []string{"tenants[0].stack", "4294967296 is outside"}},
		{"stack not a number", withPlugin("stack: 64k"), []string{`tenants[0].interfaces[0].plugins[0].stack: "64k" (line`, "want an integer in -9223372036854775808..9223372036854775807"}},
		{"every shape problem at once", withMaster("colour: red\n        queues: [1]\n        tx_retries: yes"), []string{"colour: unknown key", "queues: a list (line", "tx_retries: \"yes\" (line"}},
		{"plugins not a list", strings.Replace(good, "plugins:\n          - file: p.wasm\n", "plugins: p.wasm\n", 1), []string{"plugins: \"p.wasm\"", "want a list"}},
		{"uint out of range", withMaster("id: 4294967296"), []string{"interfaces[0].id", "want an integer in 0..4294967295"}},
		{"negative instances", strings.Replace(good, "name: t\n", "name: t\n    max_instances: -2\n", 1), []string{"tenants[0].max_instances", "-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "bad.yaml")
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "config bad.yaml") {
				t.Errorf("error %q does not name the file", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

// withMaster adds lines (indented as interface keys) after the first
// interface's role in good.
func withMaster(lines string) string {
	return strings.Replace(good, "role: master", "role: master\n        "+lines, 1)
}

// withPlugin adds lines (indented as plugin keys) to the first plugin in good.
func withPlugin(lines string) string {
	return strings.Replace(good, "- file: p.wasm", "- file: p.wasm\n            "+lines, 1)
}

// withTenant adds lines (indented as tenant keys) to the tenant in good.
func withTenant(lines string) string {
	return strings.Replace(good, "name: t\n", "name: t\n    "+lines+"\n", 1)
}

// TestStack reads the stack budgets' accepted values, bounds included, and
// that a plugin's and its tenant's are read apart.
func TestStack(t *testing.T) {
	tests := []struct {
		tenant, plugin string
		wantT, wantP   int64
	}{
		{"", "", 0, 0},
		{"stack: 0", "stack: 0", 0, 0},
		{"stack: 1", "", 1, 0},
		{"", "stack: 2147483647", 0, MaxStack},
		{"stack: 65536", "stack: 4096", 65536, 4096},
		{"stack: 0x10000", "", 65536, 0},
	}
	for _, tt := range tests {
		y := good
		if tt.tenant != "" {
			y = strings.Replace(y, "name: t\n", "name: t\n    "+tt.tenant+"\n", 1)
		}
		if tt.plugin != "" {
			y = strings.Replace(y, "- file: p.wasm", "- file: p.wasm\n            "+tt.plugin, 1)
		}
		c, err := Parse([]byte(y), "")
		if err != nil {
			t.Errorf("%q/%q: %v", tt.tenant, tt.plugin, err)
			continue
		}
		tn := c.Tenants[0]
		if tn.Stack != tt.wantT || tn.Interfaces[0].Plugins[0].Stack != tt.wantP {
			t.Errorf("%q/%q: tenant %d plugin %d, want %d and %d", tt.tenant, tt.plugin, tn.Stack, tn.Interfaces[0].Plugins[0].Stack, tt.wantT, tt.wantP)
		}
	}
}

// TestTxRetryTime reads tx_retry_time's accepted forms, bounds included.
func TestTxRetryTime(t *testing.T) {
	tests := []struct {
		yaml string
		want time.Duration
	}{
		{"", 0},
		{"tx_retry_time: 0s", 0},
		{"tx_retry_time: 1s", time.Second},
		{"tx_retry_time: 1ns", time.Nanosecond},
		{"tx_retry_time: 1.5ms", 1500 * time.Microsecond},
		{"tx_retry_time: 100us", 100 * time.Microsecond},
		{`tx_retry_time: "2ms"`, 2 * time.Millisecond},
	}
	for _, tt := range tests {
		c, err := Parse([]byte(withMaster(tt.yaml)), "")
		if err != nil {
			t.Errorf("%q: %v", tt.yaml, err)
			continue
		}
		if got := c.Tenants[0].Interfaces[0].TxRetryTime; got != tt.want {
			t.Errorf("%q: %v, want %v", tt.yaml, got, tt.want)
		}
	}
}

// TestAllErrorsReported checks that one run reports every problem, not just the first.
func TestAllErrorsReported(t *testing.T) {
	y := strings.Replace(strings.Replace(good, "role: master", "role: boss\n        ring_size: 3", 1), "egress: b", "egress: q", 1)
	_, err := Parse([]byte(y), "")
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{".role", ".ring_size", ".egress"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

func TestGoodParses(t *testing.T) {
	if _, err := Parse([]byte(good), "good.yaml"); err != nil {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	for _, name := range []string{"testdata/full.yaml", "testdata/example.yaml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		// Whatever parses must be self-consistent.
		for _, tn := range c.Tenants {
			if tn.Stack < 0 || tn.Stack > MaxStack {
				t.Fatalf("accepted tenant stack %d", tn.Stack)
			}
			for _, in := range tn.Interfaces {
				if l := in.RingLog2(); l < 1 || l > 14 {
					t.Fatalf("accepted ring log2 %d", l)
				}
				if in.Egress != "" && tn.Port(in.Egress) < 0 {
					t.Fatalf("accepted unknown egress %q", in.Egress)
				}
				if in.TxRetryTime < 0 || in.TxRetryTime > MaxTxRetryTime {
					t.Fatalf("accepted tx_retry_time %v", in.TxRetryTime)
				}
				for _, p := range in.Plugins {
					if p.Stack < 0 || p.Stack > MaxStack {
						t.Fatalf("accepted plugin stack %d", p.Stack)
					}
				}
			}
		}
	})
}

// A self-referencing alias is refused, never looped on (the shape check
// walks the tree before the decoder does, leaving aliases to it).
func TestShapeAliases(t *testing.T) {
	for _, doc := range []string{
		"tenants: &t [*t]\n",
		"log: &l {format: *l}\n",
		"tenants:\n- &x {name: t, interfaces: [{name: a, plugins: [*x]}]}\n",
	} {
		if _, err := Parse([]byte(doc), "a.yaml"); err == nil {
			t.Errorf("%q: accepted", doc)
		}
	}
}

// TestEveryKeyDocumented: docs/config.md names every key the YAML accepts
// (six once existed only in the code).
func TestEveryKeyDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	var walk func(reflect.Type, string)
	n := 0
	walk = func(typ reflect.Type, path string) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ == reflect.TypeFor[time.Duration]() {
			return
		}
		for _, k := range yamlKeys(typ) {
			n++
			if !strings.Contains(string(doc), "| `"+k+"` |") && !strings.Contains(string(doc), "\n## "+k) {
				t.Errorf("docs/config.md lacks key %s%s", path, k)
			}
			f, _ := fieldByKey(typ, k)
			walk(f.Type, path+k+".")
		}
	}
	walk(reflect.TypeFor[Config](), "")
	if n < 50 {
		t.Errorf("walked only %d keys", n)
	}
}

func TestWarnings(t *testing.T) {
	if w := (&Config{}).Warnings(); len(w) != 1 || !strings.Contains(w[0], "no tenants") {
		t.Errorf("empty config: %q", w)
	}
	c, err := Parse([]byte(good), "")
	if err != nil {
		t.Fatal(err)
	}
	// a has a plugin; b has neither a plugin nor an egress.
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], "tenants[0].interfaces[1] (t/b): no plugin and no egress") {
		t.Errorf("warnings %q", w)
	}
}
