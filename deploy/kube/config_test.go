package kube_test

import (
	"os"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/memif-wasm/memif-wasm/deploy/chart"
	"github.com/memif-wasm/memif-wasm/deploy/kube"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
)

// TestConfigsParse runs memif-wasm's own config parser (the main module,
// through the replace directive in deploy/go.mod) on every config this
// directory ships: the ConfigMap of each chart rendering and the systemd
// example. Unknown keys, bad values, a metrics address the probes cannot
// use: refused here, not on a node.
func TestConfigsParse(t *testing.T) {
	sets := [][]string{nil, {chartDir + "/ci/master-root-values.yaml"}}
	// The OCI example uses plugin sources (source:, registry:, signatures:),
	// which the main module's config gains with the registry change.
	if _, ok := reflect.TypeFor[config.Plugin]().FieldByName("Source"); ok {
		sets = append(sets, []string{chartDir + "/ci/oci-plugins-values.yaml"})
	} else {
		t.Log("not parsing ci/oci-plugins-values.yaml: this config package has no plugin sources yet")
	}
	for _, vf := range sets {
		for _, o := range render(t, chart.Options{ValuesFiles: vf}) {
			cm, ok := o.Obj.(*corev1.ConfigMap)
			if !ok {
				continue
			}
			text, ok := cm.Data[kube.ConfigKey]
			if !ok {
				continue
			}
			if _, err := config.Parse([]byte(text), o.Name()); err != nil {
				t.Errorf("values %v: %v\n%s", vf, err, text)
			}
		}
	}
	data, err := os.ReadFile("../systemd/memif-wasm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Parse(data, "deploy/systemd/memif-wasm.yaml"); err != nil {
		t.Error(err)
	}
}
