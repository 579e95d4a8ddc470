package chart_test

import (
	"fmt"

	"github.com/memif-wasm/memif-wasm/deploy/chart"
)

// Render is `helm template`: here the chart with a ServiceMonitor, in
// install order.
func ExampleRender() {
	ms, err := chart.Render("../helm/memif-wasm", chart.Options{
		Release: "edge",
		Values:  map[string]any{"metrics": map[string]any{"serviceMonitor": map[string]any{"enabled": true}}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range ms {
		fmt.Println(m.Source)
	}
	// Output:
	// memif-wasm/templates/serviceaccount.yaml
	// memif-wasm/templates/configmap.yaml
	// memif-wasm/templates/service.yaml
	// memif-wasm/templates/daemonset.yaml
	// memif-wasm/templates/servicemonitor.yaml
}
