// Package metrics exposes the daemon's counters to Prometheus.
//
// Collector is a prometheus.Collector over daemon.Snapshot: the data plane
// keeps plain per-worker counters (no atomics per packet), and a scrape
// copies and sums them, so metrics cost nothing between scrapes. Names
// follow the project's metric set (memif_wasm_*, base units, _total
// counters) and labels are bounded: tenant, interface, queue, module,
// verdict, reason, result, never a flow or an address.
package metrics

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/daemon"
	"github.com/memif-wasm/memif-wasm/host"
)

const ns = "memif_wasm"

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(ns+"_"+name, help, labels, nil)
}

var (
	ifLabels = []string{"tenant", "interface"}
	qLabels  = []string{"tenant", "interface", "queue"}
	modLabel = []string{"tenant", "interface", "module"}

	dRxPackets   = desc("interface_receive_packets_total", "Packets received.", qLabels...)
	dRxBytes     = desc("interface_receive_bytes_total", "Bytes received.", qLabels...)
	dTxPackets   = desc("interface_transmit_packets_total", "Packets transmitted by this interface's workers (labelled by the ingress interface and queue; the destination may be another interface).", qLabels...)
	dTxBytes     = desc("interface_transmit_bytes_total", "Bytes transmitted by this interface's workers.", qLabels...)
	dTxDrops     = desc("interface_transmit_drops_total", "Packets with a transmitting verdict that were dropped, by reason.", append(qLabels, "reason")...)
	dRxDrops     = desc("interface_receive_drops_total", "Descriptors refused from the peer (bad descriptors).", ifLabels...)
	dUp          = desc("interface_up", "1 when the interface is connected and forwarding.", append(ifLabels, "role")...)
	dConnects    = desc("interface_connects_total", "Connections established.", ifLabels...)
	dDisconnects = desc("interface_disconnects_total", "Connections ended.", ifLabels...)
	dProtoErrs   = desc("interface_protocol_errors_total", "Connections ended for a peer's protocol violation.", ifLabels...)
	dTxRingFull  = desc("interface_transmit_ring_full_total", "Transmit allocations refused for a full ring (before retries).", ifLabels...)
	dBurstSize   = desc("rx_burst_packets", "Packets per received burst.", ifLabels...)
	dBurstDur    = desc("pipeline_burst_duration_seconds", "Time from a received burst to its release (pipeline and transmit).", ifLabels...)
	dBusy        = desc("worker_busy_seconds_total", "Time workers spent on bursts.", qLabels...)
	dEmpty       = desc("worker_empty_polls_total", "Receive attempts that found no packet.", qLabels...)

	dVerdicts     = desc("verdicts_total", "Packet verdicts after validation.", append(modLabel, "verdict")...)
	dInvalid      = desc("invalid_verdicts_total", "Guest verdicts the host turned into aborted, by reason.", append(modLabel, "reason")...)
	dCalls        = desc("guest_calls_total", "mw_process calls by result (fault: trap, exit or error return).", append(modLabel, "result")...)
	dPackets      = desc("guest_packets_total", "Packets handed to the plugin.", modLabel...)
	dFaultPackets = desc("guest_fault_packets_total", "Packets that got the plugin's fail policy instead of a verdict.", modLabel...)
	dRestarts     = desc("module_restarts_total", "Instances re-created after a fault, by result.", append(modLabel, "result")...)
	dCopied       = desc("guest_copied_bytes_total", "Bytes copied into and out of guests, by placement.", append(modLabel, "placement")...)
	dPlaced       = desc("guest_placed_packets_total", "Packets shown to guests, by placement.", append(modLabel, "placement")...)
	dMemLimit     = desc("guest_memory_limit_bytes", "Linear memory limit of each instance.", modLabel...)
	dInstances    = desc("module_instances", "Running instances (one per worker).", modLabel...)
	dInfo         = desc("module_info", "The loaded module version (always 1).", append(modLabel, "sha256", "abi_version")...)
	dFaulted      = desc("module_faulted", "Instances currently awaiting a restart after a fault.", modLabel...)

	dLoads   = desc("module_loads_total", "Module loads by result (ok or the admission code).", "tenant", "result")
	dReloads = desc("module_reloads_total", "Module reloads by result.", "tenant", "result")
	dCompile = desc("module_compile_duration_seconds", "Time to admit and compile a module.")
)

// Source returns the current snapshot. It is called once per scrape.
type Source func() *daemon.Snapshot

// Collector is a prometheus.Collector over a daemon snapshot.
type Collector struct{ src Source }

// NewCollector returns a collector reading src at each scrape.
func NewCollector(src Source) *Collector { return &Collector{src: src} }

var _ prometheus.Collector = (*Collector)(nil)

// Describe sends every descriptor.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dRxPackets, dRxBytes, dTxPackets, dTxBytes, dTxDrops, dRxDrops, dUp,
		dConnects, dDisconnects, dProtoErrs, dTxRingFull, dBurstSize, dBurstDur, dBusy, dEmpty,
		dVerdicts, dInvalid, dCalls, dPackets, dFaultPackets, dRestarts, dCopied, dPlaced, dMemLimit,
		dInstances, dInfo, dFaulted, dLoads, dReloads, dCompile} {
		ch <- d
	}
}

// Collect sends the current values.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src()
	if s == nil {
		return
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, t := range s.Tenants {
		for _, in := range t.Interfaces {
			il := []string{t.Name, in.Name}
			up := 0.0
			if in.Connected {
				up = 1
			}
			gauge(dUp, up, t.Name, in.Name, in.Role)
			counter(dConnects, in.Memif.Connects, il...)
			counter(dDisconnects, in.Memif.Disconnects, il...)
			counter(dProtoErrs, in.Memif.ProtocolErrors, il...)
			counter(dTxRingFull, in.Memif.TxRingFull, il...)
			counter(dRxDrops, in.Memif.BadDescriptors, il...)
			var sum daemon.QueueStats
			for q := range in.Queues {
				qs := &in.Queues[q]
				sum.Add(qs)
				ql := []string{t.Name, in.Name, strconv.Itoa(q)}
				counter(dRxPackets, qs.RxPackets, ql...)
				counter(dRxBytes, qs.RxBytes, ql...)
				counter(dTxPackets, qs.TxPackets, ql...)
				counter(dTxBytes, qs.TxBytes, ql...)
				for r, v := range qs.Drops {
					counter(dTxDrops, v, t.Name, in.Name, ql[2], daemon.DropName(r))
				}
				ch <- prometheus.MustNewConstMetric(dBusy, prometheus.CounterValue, float64(qs.BusyNanos)/1e9, ql...)
				counter(dEmpty, qs.EmptyPolls, ql...)
			}
			ch <- prometheus.MustNewConstHistogram(dBurstSize, sum.RxBursts, float64(sum.BurstPacketsSum),
				cumulative(daemon.BurstSizeBuckets[:], sum.BurstSize[:]), il...)
			ch <- prometheus.MustNewConstHistogram(dBurstDur, sum.RxBursts, float64(sum.BurstNanosSum)/1e9,
				cumulative(daemon.BurstBuckets[:], sum.BurstDuration[:]), il...)
			for _, p := range in.Plugins {
				ml := []string{t.Name, in.Name, p.Name}
				st := &p.Stats
				for v, n := range st.Verdicts {
					counter(dVerdicts, n, t.Name, in.Name, p.Name, abi.Verdict(v).String())
				}
				for r, n := range st.Invalid {
					counter(dInvalid, n, t.Name, in.Name, p.Name, host.Reason(r).String())
				}
				counter(dCalls, st.Bursts-min(st.Faults, st.Bursts), t.Name, in.Name, p.Name, "ok")
				counter(dCalls, st.Faults, t.Name, in.Name, p.Name, "fault")
				counter(dPackets, st.Packets, ml...)
				counter(dFaultPackets, st.FaultPackets, ml...)
				counter(dRestarts, st.Restarts, t.Name, in.Name, p.Name, "ok")
				counter(dRestarts, st.RestartFailures, t.Name, in.Name, p.Name, "failed")
				for pl, n := range st.BytesCopied {
					counter(dCopied, n, t.Name, in.Name, p.Name, host.Placement(pl).String())
					counter(dPlaced, st.PacketsPlaced[pl], t.Name, in.Name, p.Name, host.Placement(pl).String())
				}
				gauge(dMemLimit, float64(p.MemoryMax), ml...)
				gauge(dInstances, float64(p.Instances), ml...)
				gauge(dInfo, 1, t.Name, in.Name, p.Name, p.SHA256, strconv.FormatUint(uint64(p.ABIVersion), 10))
				faulted := 0.0
				if p.Fault != "" {
					faulted = 1
				}
				gauge(dFaulted, faulted, ml...)
			}
		}
	}
	for tenant, results := range s.Loads {
		for r, n := range results {
			counter(dLoads, n, tenant, r)
		}
	}
	for tenant, results := range s.Reloads {
		for r, n := range results {
			counter(dReloads, n, tenant, r)
		}
	}
	if len(s.CompileHist) == len(daemon.CompileBuckets)+1 {
		ch <- prometheus.MustNewConstHistogram(dCompile, s.CompileCount, s.CompileSum,
			cumulative(daemon.CompileBuckets[:], s.CompileHist))
	}
}

// cumulative turns per-bucket counts (last one +Inf) into Prometheus's
// cumulative upper-bound map.
func cumulative(bounds []float64, counts []uint64) map[float64]uint64 {
	m := make(map[float64]uint64, len(bounds))
	var acc uint64
	for i, b := range bounds {
		acc += counts[i]
		m[b] = acc
	}
	return m
}

// NewRegistry returns a private registry with the collector plus the Go
// runtime and process collectors.
func NewRegistry(src Source) *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(NewCollector(src), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Handler serves the registry in the Prometheus exposition format.
func Handler(r *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(r, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
