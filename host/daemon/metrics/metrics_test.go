package metrics

import (
	"context"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/host/daemon"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
	"github.com/memif-wasm/memif-wasm/host/dataplane"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/gen"
)

// synthetic is a snapshot with one of everything and distinct numbers.
func synthetic() *daemon.Snapshot {
	var q daemon.QueueStats
	q.RxPackets, q.RxBursts, q.TxRingFull, q.Connections, q.ZeroCopyConns = 10, 2, 4, 2, 1
	q.Tx[abi.TX] = 7
	q.Dropped[abi.TX] = 3
	q.TxDrops[dataplane.TxDropRingFull], q.TxDrops[dataplane.TxDropLinkDown] = 2, 1
	q.RxBytes, q.TxBytes[abi.TX] = 640, 448
	q.BurstSizes[2], q.BurstSizes[3] = 1, 1 // a burst of 3..4 and one of 5..8: 10 packets
	q.Busy, q.EmptyPolls = 1500*time.Microsecond, 42
	ps := host.PluginStats{Bursts: 4, Packets: 10, Faults: 1, FaultPackets: 2, FuelUsed: 1234}
	ps.CallDurations[0], ps.CallDurations[3], ps.CallDurations[host.NumCallDurationBuckets-1] = 2, 1, 1
	ps.CallTime = 50 * time.Millisecond
	ps.MemoryBytes = 3 << 16
	ps.Verdicts[abi.TX] = 7
	ps.Verdicts[abi.Drop] = 3
	ps.Invalid[host.ReasonLen] = 1
	ps.FaultReasons[host.FaultFuel] = 1
	return &daemon.Snapshot{
		Tenants: []daemon.TenantSnapshot{{Name: "blue", Instances: 1, MemoryPages: 16, Interfaces: []daemon.InterfaceSnapshot{{
			Name: "eth0", Role: "master", Connected: true,
			Memif:   memif.Stats{Connects: 2, Disconnects: 1, RxBytes: 640},
			Queues:  []daemon.QueueStats{q},
			Plugins: []daemon.PluginSnapshot{{Name: "acl", SHA256: "ab12", ABIVersion: 1, Instances: 1, MemoryMax: 1 << 20, Stats: ps}},
		}}}},
		Loads:         map[string]map[string]uint64{"blue": {"ok": 1, "malformed": 2}},
		Reloads:       map[string]map[string]uint64{"blue": {"ok": 5}},
		ConfigReloads: map[string]uint64{"ok": 3, "failed": 1},
		Pulls:         map[string]uint64{"ok": 2, "network": 4},
		// The last reload failed: the running config is not the file's.
		LastReloadAt: time.Unix(1700000000, 500000000), LastReloadFailed: true,
		CompileHist: make([]uint64, len(daemon.CompileBuckets)+1),
	}
}

func TestCollectorValues(t *testing.T) {
	c := NewCollector(synthetic)
	want := `
# HELP memif_wasm_interface_receive_packets_total Packets received, by rx queue (counted by the queue's workers).
# TYPE memif_wasm_interface_receive_packets_total counter
memif_wasm_interface_receive_packets_total{interface="eth0",queue="0",tenant="blue"} 10
# HELP memif_wasm_plugin_verdicts_total Packet verdicts after validation.
# TYPE memif_wasm_plugin_verdicts_total counter
memif_wasm_plugin_verdicts_total{interface="eth0",plugin="acl",tenant="blue",verdict="aborted"} 0
memif_wasm_plugin_verdicts_total{interface="eth0",plugin="acl",tenant="blue",verdict="drop"} 3
memif_wasm_plugin_verdicts_total{interface="eth0",plugin="acl",tenant="blue",verdict="pass"} 0
memif_wasm_plugin_verdicts_total{interface="eth0",plugin="acl",tenant="blue",verdict="redirect"} 0
memif_wasm_plugin_verdicts_total{interface="eth0",plugin="acl",tenant="blue",verdict="tx"} 7
# HELP memif_wasm_plugin_calls_total mw_process calls by result: ok, or the fault reason.
# TYPE memif_wasm_plugin_calls_total counter
memif_wasm_plugin_calls_total{interface="eth0",plugin="acl",result="abi",tenant="blue"} 0
memif_wasm_plugin_calls_total{interface="eth0",plugin="acl",result="errno",tenant="blue"} 0
memif_wasm_plugin_calls_total{interface="eth0",plugin="acl",result="exit",tenant="blue"} 0
memif_wasm_plugin_calls_total{interface="eth0",plugin="acl",result="fuel",tenant="blue"} 1
memif_wasm_plugin_calls_total{interface="eth0",plugin="acl",result="memory",tenant="blue"} 0
memif_wasm_plugin_calls_total{interface="eth0",plugin="acl",result="ok",tenant="blue"} 3
memif_wasm_plugin_calls_total{interface="eth0",plugin="acl",result="stack",tenant="blue"} 0
memif_wasm_plugin_calls_total{interface="eth0",plugin="acl",result="trap",tenant="blue"} 0
# HELP memif_wasm_plugin_loads_total Plugin loads by result (ok or the admission code).
# TYPE memif_wasm_plugin_loads_total counter
memif_wasm_plugin_loads_total{result="malformed",tenant="blue"} 2
memif_wasm_plugin_loads_total{result="ok",tenant="blue"} 1
# HELP memif_wasm_config_reloads_total Config reloads (SIGHUP, ctl reload-config) by result: ok, or failed (nothing of it applied).
# TYPE memif_wasm_config_reloads_total counter
memif_wasm_config_reloads_total{result="failed"} 1
memif_wasm_config_reloads_total{result="ok"} 3
# HELP memif_wasm_config_last_reload_successful 1 when the running config is the file's: no config reload has failed since the last one that succeeded (1 before any reload).
# TYPE memif_wasm_config_last_reload_successful gauge
memif_wasm_config_last_reload_successful 0
# HELP memif_wasm_config_last_reload_timestamp_seconds When the last config reload ended (Unix time; 0 before any), whatever its result.
# TYPE memif_wasm_config_last_reload_timestamp_seconds gauge
memif_wasm_config_last_reload_timestamp_seconds 1.7000000005e+09
# HELP memif_wasm_plugin_pulls_total Plugin module fetches from sources (oci, https, signed files) by result: ok, cached, or the failure (network, not_found, digest, too_large, format, signature, error).
# TYPE memif_wasm_plugin_pulls_total counter
memif_wasm_plugin_pulls_total{result="network"} 4
memif_wasm_plugin_pulls_total{result="ok"} 2
# HELP memif_wasm_interface_transmit_drops_total Packets with a sending verdict the queue's workers dropped, by reason: no_egress (no egress or redirect port), link_down, ring_full (the ring stayed full for the retry time), too_big.
# TYPE memif_wasm_interface_transmit_drops_total counter
memif_wasm_interface_transmit_drops_total{interface="eth0",queue="0",reason="link_down",tenant="blue"} 1
memif_wasm_interface_transmit_drops_total{interface="eth0",queue="0",reason="no_egress",tenant="blue"} 0
memif_wasm_interface_transmit_drops_total{interface="eth0",queue="0",reason="ring_full",tenant="blue"} 2
memif_wasm_interface_transmit_drops_total{interface="eth0",queue="0",reason="too_big",tenant="blue"} 0
# HELP memif_wasm_worker_receive_bytes_total Bytes the queue's workers received (chained buffers included).
# TYPE memif_wasm_worker_receive_bytes_total counter
memif_wasm_worker_receive_bytes_total{interface="eth0",queue="0",tenant="blue"} 640
# HELP memif_wasm_worker_transmit_bytes_total Bytes the queue's workers sent, by the verdict that sent them.
# TYPE memif_wasm_worker_transmit_bytes_total counter
memif_wasm_worker_transmit_bytes_total{interface="eth0",queue="0",tenant="blue",verdict="pass"} 0
memif_wasm_worker_transmit_bytes_total{interface="eth0",queue="0",tenant="blue",verdict="redirect"} 0
memif_wasm_worker_transmit_bytes_total{interface="eth0",queue="0",tenant="blue",verdict="tx"} 448
# HELP memif_wasm_interface_receive_burst_packets Packets per rx burst.
# TYPE memif_wasm_interface_receive_burst_packets histogram
memif_wasm_interface_receive_burst_packets_bucket{interface="eth0",queue="0",tenant="blue",le="1"} 0
memif_wasm_interface_receive_burst_packets_bucket{interface="eth0",queue="0",tenant="blue",le="2"} 0
memif_wasm_interface_receive_burst_packets_bucket{interface="eth0",queue="0",tenant="blue",le="4"} 1
memif_wasm_interface_receive_burst_packets_bucket{interface="eth0",queue="0",tenant="blue",le="8"} 2
memif_wasm_interface_receive_burst_packets_bucket{interface="eth0",queue="0",tenant="blue",le="16"} 2
memif_wasm_interface_receive_burst_packets_bucket{interface="eth0",queue="0",tenant="blue",le="32"} 2
memif_wasm_interface_receive_burst_packets_bucket{interface="eth0",queue="0",tenant="blue",le="64"} 2
memif_wasm_interface_receive_burst_packets_bucket{interface="eth0",queue="0",tenant="blue",le="128"} 2
memif_wasm_interface_receive_burst_packets_bucket{interface="eth0",queue="0",tenant="blue",le="256"} 2
memif_wasm_interface_receive_burst_packets_bucket{interface="eth0",queue="0",tenant="blue",le="+Inf"} 2
memif_wasm_interface_receive_burst_packets_sum{interface="eth0",queue="0",tenant="blue"} 10
memif_wasm_interface_receive_burst_packets_count{interface="eth0",queue="0",tenant="blue"} 2
# HELP memif_wasm_worker_busy_seconds_total Time the queue's workers spent on bursts (plugins and transmit).
# TYPE memif_wasm_worker_busy_seconds_total counter
memif_wasm_worker_busy_seconds_total{interface="eth0",queue="0",tenant="blue"} 0.0015
# HELP memif_wasm_worker_empty_polls_total Rx bursts that found the ring empty (in polling mode, idle spins).
# TYPE memif_wasm_worker_empty_polls_total counter
memif_wasm_worker_empty_polls_total{interface="eth0",queue="0",tenant="blue"} 42
# HELP memif_wasm_plugin_memory_bytes Linear memory of the plugin's live instances, summed over workers.
# TYPE memif_wasm_plugin_memory_bytes gauge
memif_wasm_plugin_memory_bytes{interface="eth0",plugin="acl",tenant="blue"} 196608
# HELP memif_wasm_interface_receive_bytes_total Bytes received (memif totals over every connection).
# TYPE memif_wasm_interface_receive_bytes_total counter
memif_wasm_interface_receive_bytes_total{interface="eth0",tenant="blue"} 640
# HELP memif_wasm_tenant_memory_bytes Linear memory reserved by the tenant's live instances.
# TYPE memif_wasm_tenant_memory_bytes gauge
memif_wasm_tenant_memory_bytes{tenant="blue"} 1.048576e+06
# HELP memif_wasm_interface_up 1 when the interface is connected.
# TYPE memif_wasm_interface_up gauge
memif_wasm_interface_up{interface="eth0",role="master",tenant="blue"} 1
# HELP memif_wasm_plugin_info The loaded plugin version (always 1).
# TYPE memif_wasm_plugin_info gauge
memif_wasm_plugin_info{abi_version="1",interface="eth0",plugin="acl",sha256="ab12",tenant="blue"} 1
`
	err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"memif_wasm_interface_receive_packets_total", "memif_wasm_plugin_verdicts_total", "memif_wasm_plugin_calls_total",
		"memif_wasm_plugin_loads_total", "memif_wasm_config_reloads_total", "memif_wasm_plugin_pulls_total", "memif_wasm_config_last_reload_successful", "memif_wasm_config_last_reload_timestamp_seconds", "memif_wasm_interface_receive_bytes_total",
		"memif_wasm_tenant_memory_bytes", "memif_wasm_interface_up", "memif_wasm_plugin_info",
		"memif_wasm_interface_transmit_drops_total", "memif_wasm_worker_receive_bytes_total", "memif_wasm_worker_transmit_bytes_total",
		"memif_wasm_interface_receive_burst_packets", "memif_wasm_worker_busy_seconds_total", "memif_wasm_worker_empty_polls_total",
		"memif_wasm_plugin_memory_bytes")
	if err != nil {
		t.Fatal(err)
	}
	// The call-duration histogram's bounds are host's, in seconds: check
	// the buckets by their counts rather than by 17 printed floats.
	fams := gather(t, c)
	h := fams["memif_wasm_plugin_call_duration_seconds"].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 4 || h.GetSampleSum() != 0.05 || len(h.Bucket) != host.NumCallDurationBuckets-1 {
		t.Fatalf("call durations: count %d sum %v, %d buckets", h.GetSampleCount(), h.GetSampleSum(), len(h.Bucket))
	}
	for i, b := range h.Bucket {
		want := uint64(2)
		if i >= 3 {
			want = 3 // the fourth call is past every bound
		}
		if b.GetCumulativeCount() != want || b.GetUpperBound() != host.CallDurationBound(i).Seconds() {
			t.Fatalf("bucket %d: le %v count %d, want le %v count %d", i, b.GetUpperBound(), b.GetCumulativeCount(), host.CallDurationBound(i).Seconds(), want)
		}
	}
	// Every descriptor is valid and every metric is consistent with its descriptor.
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %+v", err, problems)
	}
}

// TestRxDropsByReason: the memif's refused descriptors and the workers'
// drops by reason, summed over the interface's queues, under one metric.
func TestRxDropsByReason(t *testing.T) {
	s := synthetic()
	in := &s.Tenants[0].Interfaces[0]
	in.Memif.BadDescriptors = 5
	q1 := in.Queues[0]
	in.Queues[0].RxDrops = [dataplane.NumRxDropReasons]uint64{dataplane.RxDropVerdict: 3, dataplane.RxDropAborted: 1}
	q1.RxDrops = [dataplane.NumRxDropReasons]uint64{dataplane.RxDropVerdict: 4, dataplane.RxDropFailClosed: 7, dataplane.RxDropPipelineClosed: 2}
	in.Queues = append(in.Queues, q1)
	want := `
# HELP memif_wasm_interface_receive_drops_total ` + helpOf(t, dRxDrops) + `
# TYPE memif_wasm_interface_receive_drops_total counter
memif_wasm_interface_receive_drops_total{interface="eth0",reason="aborted",tenant="blue"} 1
memif_wasm_interface_receive_drops_total{interface="eth0",reason="bad_descriptor",tenant="blue"} 5
memif_wasm_interface_receive_drops_total{interface="eth0",reason="drop",tenant="blue"} 7
memif_wasm_interface_receive_drops_total{interface="eth0",reason="fail_closed",tenant="blue"} 7
memif_wasm_interface_receive_drops_total{interface="eth0",reason="pipeline_closed",tenant="blue"} 2
`
	c := NewCollector(func() *daemon.Snapshot { return s })
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "memif_wasm_interface_receive_drops_total"); err != nil {
		t.Fatal(err)
	}
}

// helpOf is d's help text.
func helpOf(t *testing.T, d *prometheus.Desc) string {
	t.Helper()
	m := regexp.MustCompile(`help: "((?:[^"\\]|\\.)*)"`).FindStringSubmatch(d.String())
	if m == nil {
		t.Fatalf("cannot read the help of %v", d)
	}
	return m[1]
}

func TestCollectorNilSnapshot(t *testing.T) {
	c := NewCollector(func() *daemon.Snapshot { return nil })
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Fatalf("%d metrics from no snapshot", n)
	}
}

// TestScrapeAfterTraffic runs the daemon with a reflecting plugin, sends
// traffic with gen, scrapes /metrics over HTTP and checks the numbers
// against what gen sent and received.
func TestScrapeAfterTraffic(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	plugin := hosttest.Build(t, dir, "reflect", int(abi.TX), 0)
	cfg := &config.Config{Tenants: []config.Tenant{{Name: "t", Interfaces: []config.Interface{{
		Name: "memif0", Socket: sock, Role: "master", Plugins: []config.Plugin{{File: plugin}},
	}}}}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := daemon.New(ctx, cfg, daemon.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	srv := httptest.NewServer(Handler(NewRegistry(d.Snapshot)))
	defer srv.Close()

	const count = 4000
	rep, err := gen.Run(ctx, gen.Config{Socket: sock, Count: count, Size: 100, Rate: 40000})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != count || rep.Unique+rep.Lost != count {
		t.Fatalf("gen: sent %d unique %d lost %d; daemon: %+v", rep.Sent, rep.Unique, rep.Lost, d.Snapshot().Tenants[0].Interfaces[0].Queues)
	}

	// A worker folds its counters in after the burst's transmit: wait for the last one.
	deadline := time.Now().Add(10 * time.Second)
	for d.Snapshot().Tenants[0].Interfaces[0].Queues[0].RxPackets != rep.Sent && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	fams := scrape(t, srv.URL)
	i := map[string]string{"tenant": "t", "interface": "memif0"}
	q := with(i, "queue", "0")
	m := with(i, "plugin", "reflect")
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"memif_wasm_interface_receive_packets_total", q, float64(rep.Sent)},
		{"memif_wasm_interface_receive_bytes_total", i, float64(rep.SentBytes)},
		{"memif_wasm_interface_transmit_packets_total", i, float64(rep.Received)},
		{"memif_wasm_interface_transmit_bytes_total", i, float64(rep.ReceivedBytes)},
		{"memif_wasm_worker_transmit_packets_total", with(q, "verdict", "tx"), float64(rep.Received)},
		{"memif_wasm_interface_transmit_drops_total", with(q, "reason", "no_egress"), 0}, // TX needs no egress
		{"memif_wasm_plugin_verdicts_total", with(m, "verdict", "tx"), count},
		{"memif_wasm_plugin_verdicts_total", with(m, "verdict", "aborted"), 0},
		{"memif_wasm_plugin_packets_total", m, count},
		{"memif_wasm_plugin_instances", m, 1},
		{"memif_wasm_tenant_instances", map[string]string{"tenant": "t"}, 1},
		{"memif_wasm_plugin_loads_total", map[string]string{"tenant": "t", "result": "ok"}, 1},
		// gen has hung up by now.
		{"memif_wasm_interface_up", with(i, "role", "master"), 0},
		{"memif_wasm_interface_connects_total", i, 1},
		{"memif_wasm_interface_disconnects_total", i, 1},
		{"memif_wasm_worker_connections_total", with(q, "placement", "zero-copy"), 1},
		{"memif_wasm_plugin_copied_bytes_total", with(m, "placement", "zero-copy"), 0},
		{"memif_wasm_plugin_placed_packets_total", with(m, "placement", "zero-copy"), count},
		{"memif_wasm_worker_receive_bytes_total", q, float64(rep.SentBytes)},
		{"memif_wasm_worker_transmit_bytes_total", with(q, "verdict", "tx"), float64(rep.ReceivedBytes)},
		// Every packet got TX: none was dropped on the receive side.
		{"memif_wasm_interface_receive_drops_total", with(i, "reason", "bad_descriptor"), 0},
		{"memif_wasm_interface_receive_drops_total", with(i, "reason", "drop"), 0},
		{"memif_wasm_interface_receive_drops_total", with(i, "reason", "aborted"), 0},
		{"memif_wasm_interface_receive_drops_total", with(i, "reason", "fail_closed"), 0},
		{"memif_wasm_interface_receive_drops_total", with(i, "reason", "pipeline_closed"), 0},
	}
	for _, c := range checks {
		got, ok := value(fams, c.name, c.labels)
		if !ok {
			t.Errorf("%s%v missing", c.name, c.labels)
			continue
		}
		if got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if calls, _ := value(fams, "memif_wasm_plugin_calls_total", with(m, "result", "ok")); calls < 1 {
		t.Errorf("guest calls ok = %v", calls)
	}
	// The numbers host/ measures, against the same traffic.
	bursts, _ := value(fams, "memif_wasm_interface_receive_bursts_total", q)
	if bursts < 1 {
		t.Errorf("rx bursts = %v", bursts)
	}
	if h := histo(fams, "memif_wasm_interface_receive_burst_packets", q); h == nil || float64(h.GetSampleCount()) != bursts || h.GetSampleSum() != float64(rep.Sent) {
		t.Errorf("burst-size histogram %v, want %v bursts of %d packets in all", h, bursts, rep.Sent)
	}
	// One plugin, bursts within its MaxBurst: one guest call per rx burst.
	if h := histo(fams, "memif_wasm_plugin_call_duration_seconds", m); h == nil || float64(h.GetSampleCount()) != bursts || h.GetSampleSum() <= 0 {
		t.Errorf("guest call durations %v, want %v calls taking > 0 s", h, bursts)
	}
	if busy, _ := value(fams, "memif_wasm_worker_busy_seconds_total", q); busy <= 0 {
		t.Errorf("worker busy = %v s after %d packets", busy, rep.Sent)
	}
	if mem, _ := value(fams, "memif_wasm_plugin_memory_bytes", m); mem <= 0 || int(mem)%65536 != 0 {
		t.Errorf("guest memory = %v bytes, want whole pages", mem)
	}
	var whyLost float64
	for _, r := range []string{"no_egress", "link_down", "ring_full", "too_big"} {
		n, ok := value(fams, "memif_wasm_interface_transmit_drops_total", with(q, "reason", r))
		if !ok {
			t.Errorf("tx drops reason %s missing", r)
		}
		whyLost += n
	}
	if whyLost != float64(rep.Lost) {
		t.Errorf("tx drops by reason add up to %v, gen lost %d", whyLost, rep.Lost)
	}
	if fuel, _ := value(fams, "memif_wasm_plugin_fuel_consumed_total", m); fuel <= 0 {
		t.Errorf("fuel consumed = %v, want > 0 (plugins are metered)", fuel)
	}
	for _, name := range []string{"go_goroutines", "go_gc_duration_seconds", "process_open_fds", "memif_wasm_plugin_info", "memif_wasm_plugin_compile_duration_seconds"} {
		if fams[name] == nil {
			t.Errorf("%s not exported", name)
		}
	}
}

// gather collects c into metric families by name.
func gather(t *testing.T, c prometheus.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	r := prometheus.NewPedanticRegistry()
	r.MustRegister(c)
	got, err := r.Gather()
	if err != nil {
		t.Fatal(err)
	}
	fams := map[string]*dto.MetricFamily{}
	for _, f := range got {
		fams[f.GetName()] = f
	}
	return fams
}

// matching yields the samples of family name whose labels include labels.
func matching(fams map[string]*dto.MetricFamily, name string, labels map[string]string) iter.Seq[*dto.Metric] {
	return func(yield func(*dto.Metric) bool) {
		f := fams[name]
		if f == nil {
			return
		}
	next:
		for _, m := range f.Metric {
			have := map[string]string{}
			for _, l := range m.Label {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			if !yield(m) {
				return
			}
		}
	}
}

// histo finds the histogram of family name whose labels include labels.
func histo(fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Histogram {
	for m := range matching(fams, name, labels) {
		return m.Histogram
	}
	return nil
}

func with(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range m {
		out[a] = b
	}
	return out
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value finds the sample of family name whose labels include labels.
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	for m := range matching(fams, name, labels) {
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		}
	}
	return 0, false
}

// BenchmarkCollect measures a scrape's collection over a daemon of 4
// tenants × 4 interfaces × 3 plugins × 2 queues.
func BenchmarkCollect(b *testing.B) {
	one := synthetic()
	big := *one
	tn := one.Tenants[0]
	in := tn.Interfaces[0]
	in.Queues = append(in.Queues, in.Queues[0])
	in.Plugins = append(in.Plugins, in.Plugins[0], in.Plugins[0])
	for range 4 {
		t := daemon.TenantSnapshot{Name: tn.Name}
		for range 4 {
			t.Interfaces = append(t.Interfaces, in)
		}
		big.Tenants = append(big.Tenants, t)
	}
	c := NewCollector(func() *daemon.Snapshot { return &big })
	ch := make(chan prometheus.Metric, 4096)
	b.ReportAllocs()
	for b.Loop() {
		c.Collect(ch)
		for len(ch) > 0 {
			<-ch
		}
	}
}
