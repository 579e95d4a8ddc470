package metrics

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/memif-wasm/memif-wasm/host/daemon"
)

var dBuildInfo = desc("build_info", "The running build (always 1): module version, VCS revision, Go and wazero versions.",
	"version", "revision", "go_version", "wazero_version")

// buildInfoCollector exports daemon.ReadBuildInfo as memif_wasm_build_info,
// the usual Prometheus way to join a version onto any other series.
type buildInfoCollector struct{ bi daemon.BuildInfo }

func (c buildInfoCollector) Describe(ch chan<- *prometheus.Desc) { ch <- dBuildInfo }

func (c buildInfoCollector) Collect(ch chan<- prometheus.Metric) {
	rev := c.bi.Revision
	if c.bi.Modified {
		rev += "+modified"
	}
	ch <- prometheus.MustNewConstMetric(dBuildInfo, prometheus.GaugeValue, 1, c.bi.Version, rev, c.bi.GoVersion, c.bi.WazeroVersion)
}

// Mux serves the metrics server's routes: /metrics (the registry), /healthz
// (200 while the process serves HTTP at all: a liveness probe) and /readyz
// (200 when ready returns nil, else 503 with its reason: a readiness probe).
// Profiling is deliberately not here: the metrics address is often
// reachable from the network, the admin API is not (see admin.Options).
func Mux(r *prometheus.Registry, ready func() error) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", Handler(r))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if ready != nil {
			if err := ready(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintf(w, "not ready: %v\n", err)
				return
			}
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}
