package metrics

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// TestMetricNames keeps one name per concept: every family is
// memif_wasm_ followed by the thing it is about (interface, worker, plugin,
// tenant, config), counters end in _total, histograms and gauges name their
// unit or what they count, and "module" or "guest" (the CLI says plugin)
// appear in no name or label.
func TestMetricNames(t *testing.T) {
	fams := gather(t, NewCollector(synthetic))
	if len(fams) < 40 {
		t.Fatalf("only %d families", len(fams))
	}
	prefix := regexp.MustCompile(`^memif_wasm_(interface|worker|plugin|tenant|config)_[a-z0-9_]+$`)
	unit := regexp.MustCompile(`_(seconds|bytes|packets|instances|info|up|quarantined|successful)$`)
	for name, f := range fams {
		if !prefix.MatchString(name) {
			t.Errorf("%s: want memif_wasm_{interface,worker,plugin,tenant,config}_...", name)
		}
		for _, bad := range []string{"module", "guest", "rx_", "tx_"} {
			if strings.Contains(name, bad) {
				t.Errorf("%s contains %q: say plugin, receive, transmit", name, bad)
			}
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			if !strings.HasSuffix(name, "_total") {
				t.Errorf("counter %s does not end in _total", name)
			}
		case dto.MetricType_GAUGE, dto.MetricType_HISTOGRAM:
			if strings.HasSuffix(name, "_total") || !unit.MatchString(name) && !strings.HasSuffix(name, "_timestamp_seconds") {
				t.Errorf("%s %s: want its unit or what it counts as the suffix", f.GetType(), name)
			}
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "module" || l.GetName() == "guest" {
					t.Errorf("%s has label %q: say plugin", name, l.GetName())
				}
			}
		}
	}
}

// TestPromtoolCheckMetrics runs Prometheus's own linter (promtool, from
// Debian's prometheus package: make deps-ops) over a real scrape.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (make deps-ops installs Debian's prometheus package)")
	}
	srv := httptest.NewServer(Handler(NewRegistry(synthetic)))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	if !strings.Contains(body.String(), "memif_wasm_plugin_verdicts_total") {
		t.Fatalf("scrape lacks the plugin families:\n%.2000s", body.String())
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = &body
	out, err := cmd.CombinedOutput()
	var problems []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			problems = append(problems, l)
		}
	}
	slices.Sort(problems)
	if err != nil || len(problems) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, strings.Join(problems, "\n"))
	}
}
