package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDashboardUsesExportedMetrics keeps the Grafana dashboard honest: every
// memif_wasm_* series it queries is one the collector describes.
func TestDashboardUsesExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	known := map[string]bool{}
	fq := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for _, d := range allDescs {
		m := fq.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read the name of %v", d)
		}
		known[m[1]] = true
	}
	name := regexp.MustCompile(`memif_wasm_[a-z_]+`)
	used := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				used++
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")
				if !known[base] {
					t.Errorf("panel %q queries %s, which the collector does not export", p.Title, n)
				}
			}
		}
	}
	if used < 10 {
		t.Errorf("only %d memif_wasm series used", used)
	}
}

// TestDashboardVariablesAndAxes: every query follows the instance variable
// (and the interface one where the series has that label), titles say
// plugin as the CLI does, and no panel mixes cores and bytes on one axis.
func TestDashboardVariablesAndAxes(t *testing.T) {
	raw, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title       string
			Targets     []struct{ Expr string }
			FieldConfig struct {
				Defaults  struct{ Unit string }
				Overrides []json.RawMessage
			}
		}
		Templating struct{ List []struct{ Name string } }
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	for _, v := range dash.Templating.List {
		vars[v.Name] = true
	}
	for _, v := range []string{"datasource", "instance", "tenant", "interface"} {
		if !vars[v] {
			t.Errorf("no %q variable", v)
		}
	}
	fams := gather(t, NewCollector(synthetic))
	hasIface := func(name string) bool {
		f := fams[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")]
		if f == nil || len(f.GetMetric()) == 0 {
			return false
		}
		for _, l := range f.GetMetric()[0].GetLabel() {
			if l.GetName() == "interface" {
				return true
			}
		}
		return false
	}
	sel := regexp.MustCompile(`\b((?:memif_wasm|process|go)_[a-z_]+)(\{[^}]*\})?`)
	for _, p := range dash.Panels {
		if strings.Contains(p.Title, "Guest") || strings.Contains(p.Title, "Module") {
			t.Errorf("panel %q: say plugin", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range sel.FindAllStringSubmatch(tg.Expr, -1) {
				if !strings.Contains(m[2], `instance=~"$instance"`) {
					t.Errorf("panel %q: %s ignores $instance", p.Title, m[1])
				}
				if hasIface(m[1]) && !strings.Contains(m[2], `interface=~"$interface"`) {
					t.Errorf("panel %q: %s ignores $interface", p.Title, m[1])
				}
			}
			if strings.Contains(tg.Expr, "process_resident_memory_bytes") && len(p.FieldConfig.Overrides) == 0 {
				t.Errorf("panel %q puts memory on the CPU axis", p.Title)
			}
		}
	}
}
