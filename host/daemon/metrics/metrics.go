package metrics

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/host/daemon"
	"github.com/memif-wasm/memif-wasm/host/dataplane"
)

const ns = "memif_wasm"

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(ns+"_"+name, help, labels, nil)
}

var (
	ifLabels = []string{"tenant", "interface"}
	qLabels  = []string{"tenant", "interface", "queue"}
	modLabel = []string{"tenant", "interface", "plugin"}

	dRxPackets   = desc("interface_receive_packets_total", "Packets received, by rx queue (counted by the queue's workers).", qLabels...)
	dRxBursts    = desc("interface_receive_bursts_total", "Bursts received, by rx queue.", qLabels...)
	dRxBytes     = desc("interface_receive_bytes_total", "Bytes received (memif totals over every connection).", ifLabels...)
	dTxPackets   = desc("interface_transmit_packets_total", "Packets transmitted on the interface (memif totals).", ifLabels...)
	dTxBytes     = desc("interface_transmit_bytes_total", "Bytes transmitted on the interface (memif totals).", ifLabels...)
	dTxSent      = desc("worker_transmit_packets_total", "Packets the queue's workers sent, by the verdict that sent them (tx: back out, pass: egress, redirect).", append(qLabels, "verdict")...)
	dTxRetries   = desc("worker_transmit_ring_full_total", "Times a worker found a tx ring full and retried.", qLabels...)
	dWorkerConns = desc("worker_connections_total", "Connections the queue's worker served, by placement: per queue, so an interface with N negotiated queues counts N per connect (interface_connects_total counts each once).", append(qLabels, "placement")...)
	dRxDrops     = desc("interface_receive_drops_total", "Packets received and dropped, by reason: bad_descriptor (refused from the peer before any worker saw it), and, summed over the queues' workers, drop (a plugin's DROP verdict), aborted (ABORTED, the plugin's or the host's for a refused descriptor), fail_closed (a faulting, restarting or quarantined plugin that fails closed), pipeline_closed (the pipeline was being replaced or stopped).", append(ifLabels, "reason")...)
	dUp          = desc("interface_up", "1 when the interface is connected.", append(ifLabels, "role")...)
	dConnects    = desc("interface_connects_total", "Connections established.", ifLabels...)
	dDisconnects = desc("interface_disconnects_total", "Connections ended.", ifLabels...)
	dProtoErrs   = desc("interface_protocol_errors_total", "Connections ended for a peer's protocol violation.", ifLabels...)
	dTxRingFull  = desc("interface_transmit_ring_full_total", "Transmit allocations memif refused for a full ring.", ifLabels...)
	dTxDropWhy   = desc("interface_transmit_drops_total", "Packets with a sending verdict the queue's workers dropped, by reason: no_egress (no egress or redirect port), link_down, ring_full (the ring stayed full for the retry time), too_big.", append(qLabels, "reason")...)
	dRxQBytes    = desc("worker_receive_bytes_total", "Bytes the queue's workers received (chained buffers included).", qLabels...)
	dTxQBytes    = desc("worker_transmit_bytes_total", "Bytes the queue's workers sent, by the verdict that sent them.", append(qLabels, "verdict")...)
	dBurstSize   = desc("interface_receive_burst_packets", "Packets per rx burst.", qLabels...)
	dBusy        = desc("worker_busy_seconds_total", "Time the queue's workers spent on bursts (plugins and transmit).", qLabels...)
	dEmptyPolls  = desc("worker_empty_polls_total", "Rx bursts that found the ring empty (in polling mode, idle spins).", qLabels...)
	dWakeups     = desc("interface_receive_wakeups_total", "Times a receive queue slept on its eventfd and was woken by the peer (interrupt and adaptive rx modes): received packets over wake-ups is the packets per wake-up.", ifLabels...)
	dSignals     = desc("interface_transmit_signals_total", "Eventfd writes that woke the peer (at most one per published burst).", ifLabels...)
	dDeferred    = desc("interface_receive_deferred_seconds_total", "Time receive queues deferred their wake-ups to gather bursts (rx_delay, interrupt moderation): the latency it added, summed.", ifLabels...)
	dMasked      = desc("interface_transmit_masked_total", "Published bursts not signalled because the peer had masked interrupts (it polls).", ifLabels...)

	dVerdicts     = desc("plugin_verdicts_total", "Packet verdicts after validation.", append(modLabel, "verdict")...)
	dInvalid      = desc("plugin_invalid_verdicts_total", "Guest verdicts the host turned into aborted, by reason.", append(modLabel, "reason")...)
	dCalls        = desc("plugin_calls_total", "mw_process calls by result: ok, or the fault reason.", append(modLabel, "result")...)
	dPackets      = desc("plugin_packets_total", "Packets handed to the plugin.", modLabel...)
	dFaultPackets = desc("plugin_fault_packets_total", "Packets that got the plugin's fail policy instead of a verdict.", modLabel...)
	dFuel         = desc("plugin_fuel_consumed_total", "Fuel the plugin's bursts spent (about one unit per wasm instruction).", modLabel...)
	dRestarts     = desc("plugin_restarts_total", "Instances re-created after a fault, by result.", append(modLabel, "result")...)
	dQuarantined  = desc("plugin_quarantined", "Instances quarantined after repeated faults.", modLabel...)
	dCopied       = desc("plugin_copied_bytes_total", "Bytes copied into and out of guests, by placement.", append(modLabel, "placement")...)
	dPlaced       = desc("plugin_placed_packets_total", "Packets shown to guests, by placement.", append(modLabel, "placement")...)
	dMemLimit     = desc("plugin_memory_limit_bytes", "Linear memory limit of each instance.", modLabel...)
	dMemory       = desc("plugin_memory_bytes", "Linear memory of the plugin's live instances, summed over workers.", modLabel...)
	dCallDuration = desc("plugin_call_duration_seconds", "Duration of mw_process calls, with the host's hand-over of packets and verdicts.", modLabel...)
	dInstances    = desc("plugin_instances", "Running instances (one per worker).", modLabel...)
	dInfo         = desc("plugin_info", "The loaded plugin version (always 1).", append(modLabel, "sha256", "abi_version")...)
	dReloadsPipe  = desc("plugin_swaps_total", "Successful in-place version swaps, summed over the pipelines holding the plugin.", modLabel...)

	dTenantInst  = desc("tenant_instances", "Live plugin instances of the tenant.", "tenant")
	dTenantMem   = desc("tenant_memory_bytes", "Linear memory reserved by the tenant's live instances.", "tenant")
	dTenantRefus = desc("tenant_refused_instantiations_total", "Instantiations the tenant's budgets refused.", "tenant")

	dLoads   = desc("plugin_loads_total", "Plugin loads by result (ok or the admission code).", "tenant", "result")
	dReloads = desc("plugin_reloads_total", "Plugin reloads by result.", "tenant", "result")
	dCompile = desc("plugin_compile_duration_seconds", "Time to admit and compile a plugin.")

	dConfigStatus  = desc("config_last_reload_successful", "1 when the running config is the file's: no config reload has failed since the last one that succeeded (1 before any reload).")
	dConfigReloadT = desc("config_last_reload_timestamp_seconds", "When the last config reload ended (Unix time; 0 before any), whatever its result.")
	dConfigReloads = desc("config_reloads_total", "Config reloads (SIGHUP, ctl reload-config) by result: ok, or failed (nothing of it applied).", "result")
	dPulls         = desc("plugin_pulls_total", "Plugin module fetches from sources (oci, https, signed files) by result: ok, cached, or the failure (network, not_found, digest, too_large, format, signature, error).", "result")
)

// Source returns the current snapshot. It is called once per scrape.
type Source func() *daemon.Snapshot

// Collector is a prometheus.Collector over a daemon snapshot.
type Collector struct{ src Source }

// NewCollector returns a collector reading src at each scrape.
func NewCollector(src Source) *Collector { return &Collector{src: src} }

var _ prometheus.Collector = (*Collector)(nil)

var allDescs = []*prometheus.Desc{dRxPackets, dRxBursts, dRxBytes, dTxPackets, dTxBytes, dTxSent,
	dTxRetries, dWorkerConns, dRxDrops, dUp, dConnects, dDisconnects, dProtoErrs, dTxRingFull,
	dTxDropWhy, dRxQBytes, dTxQBytes, dBurstSize, dBusy, dEmptyPolls, dWakeups, dSignals, dMasked, dDeferred,
	dVerdicts, dInvalid, dCalls, dPackets, dFaultPackets, dFuel, dRestarts, dQuarantined, dCopied, dPlaced,
	dMemLimit, dMemory, dCallDuration, dInstances, dInfo, dReloadsPipe, dTenantInst, dTenantMem, dTenantRefus, dLoads, dReloads, dCompile, dConfigReloads, dConfigStatus, dConfigReloadT, dPulls}

// sendingVerdicts are the verdicts that make a worker transmit.
var sendingVerdicts = []abi.Verdict{abi.Pass, abi.TX, abi.Redirect}

// Histogram upper bounds: burst sizes in packets, call durations in seconds
// (host's last bucket is unbounded, and Prometheus adds +Inf itself).
var burstBounds, callBounds = func() ([]float64, []float64) {
	b := make([]float64, dataplane.NumBurstSizeBuckets)
	for i := range b {
		b[i] = float64(dataplane.BurstSizeBound(i))
	}
	c := make([]float64, host.NumCallDurationBuckets-1)
	for i := range c {
		c[i] = host.CallDurationBound(i).Seconds()
	}
	return b, c
}()

// histogram sends a histogram from per-bucket counts (any beyond bounds
// fall in +Inf); its count is the buckets' total.
func histogram(ch chan<- prometheus.Metric, d *prometheus.Desc, bounds []float64, counts []uint64, sum float64, labels ...string) {
	var total uint64
	for _, n := range counts {
		total += n
	}
	ch <- prometheus.MustNewConstHistogram(d, total, sum, cumulative(bounds, counts), labels...)
}

// Describe sends every descriptor.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
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
		gauge(dTenantInst, float64(t.Instances), t.Name)
		gauge(dTenantMem, float64(t.MemoryPages)*65536, t.Name)
		counter(dTenantRefus, t.Refused, t.Name)
		for _, in := range t.Interfaces {
			il := []string{t.Name, in.Name}
			up := 0.0
			if in.Connected {
				up = 1
			}
			gauge(dUp, up, t.Name, in.Name, in.Role)
			m := &in.Memif
			counter(dConnects, m.Connects, il...)
			counter(dDisconnects, m.Disconnects, il...)
			counter(dProtoErrs, m.ProtocolErrors, il...)
			counter(dTxRingFull, m.TxRingFull, il...)
			counter(dWakeups, m.RxWakeups, il...)
			counter(dSignals, m.TxSignals, il...)
			counter(dMasked, m.TxMasked, il...)
			ch <- prometheus.MustNewConstMetric(dDeferred, prometheus.CounterValue, m.RxDeferredTime.Seconds(), il...)
			counter(dRxDrops, m.BadDescriptors, t.Name, in.Name, "bad_descriptor")
			var rxDrops [dataplane.NumRxDropReasons]uint64
			for q := range in.Queues {
				for r, n := range in.Queues[q].RxDrops {
					rxDrops[r] += n
				}
			}
			for r, n := range rxDrops {
				counter(dRxDrops, n, t.Name, in.Name, dataplane.RxDropReason(r).String())
			}
			counter(dRxBytes, m.RxBytes, il...)
			counter(dTxPackets, m.TxPackets, il...)
			counter(dTxBytes, m.TxBytes, il...)
			for q := range in.Queues {
				qs := &in.Queues[q]
				qn := strconv.Itoa(q)
				counter(dRxPackets, qs.RxPackets, t.Name, in.Name, qn)
				counter(dRxBursts, qs.RxBursts, t.Name, in.Name, qn)
				for _, v := range sendingVerdicts {
					counter(dTxSent, qs.Tx[v], t.Name, in.Name, qn, v.String())
				}
				counter(dTxRetries, qs.TxRingFull, t.Name, in.Name, qn)
				for r, n := range qs.TxDrops {
					counter(dTxDropWhy, n, t.Name, in.Name, qn, dataplane.TxDropReason(r).String())
				}
				counter(dRxQBytes, qs.RxBytes, t.Name, in.Name, qn)
				for _, v := range sendingVerdicts {
					counter(dTxQBytes, qs.TxBytes[v], t.Name, in.Name, qn, v.String())
				}
				histogram(ch, dBurstSize, burstBounds, qs.BurstSizes[:], float64(qs.RxPackets), t.Name, in.Name, qn)
				ch <- prometheus.MustNewConstMetric(dBusy, prometheus.CounterValue, qs.Busy.Seconds(), t.Name, in.Name, qn)
				counter(dEmptyPolls, qs.EmptyPolls, t.Name, in.Name, qn)
				counter(dWorkerConns, qs.ZeroCopyConns, t.Name, in.Name, qn, host.PlacementZeroCopy.String())
				counter(dWorkerConns, qs.Connections-min(qs.ZeroCopyConns, qs.Connections), t.Name, in.Name, qn, host.PlacementCopy.String())
			}
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
				for r, n := range st.FaultReasons {
					if host.FaultReason(r) == host.FaultInit {
						continue // restart failures, not calls
					}
					counter(dCalls, n, t.Name, in.Name, p.Name, host.FaultReason(r).String())
				}
				counter(dPackets, st.Packets, ml...)
				counter(dFaultPackets, st.FaultPackets, ml...)
				counter(dFuel, st.FuelUsed, ml...)
				counter(dRestarts, st.Restarts, t.Name, in.Name, p.Name, "ok")
				counter(dRestarts, st.RestartFailures, t.Name, in.Name, p.Name, "failed")
				gauge(dQuarantined, float64(st.Quarantined), ml...)
				for pl, n := range st.BytesCopied {
					counter(dCopied, n, t.Name, in.Name, p.Name, host.Placement(pl).String())
					counter(dPlaced, st.PacketsPlaced[pl], t.Name, in.Name, p.Name, host.Placement(pl).String())
				}
				counter(dReloadsPipe, st.Reloads, ml...)
				gauge(dMemLimit, float64(p.MemoryMax), ml...)
				gauge(dMemory, float64(st.MemoryBytes), ml...)
				histogram(ch, dCallDuration, callBounds, st.CallDurations[:], st.CallTime.Seconds(), ml...)
				gauge(dInstances, float64(p.Instances), ml...)
				gauge(dInfo, 1, t.Name, in.Name, p.Name, p.SHA256, strconv.FormatUint(uint64(p.ABIVersion), 10))
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
	for _, r := range []string{"ok", "failed"} {
		counter(dConfigReloads, s.ConfigReloads[r], r)
	}
	for r, n := range s.Pulls {
		counter(dPulls, n, r)
	}
	ok, at := 1.0, 0.0
	if s.LastReloadFailed {
		ok = 0
	}
	if !s.LastReloadAt.IsZero() {
		at = float64(s.LastReloadAt.UnixNano()) / 1e9
	}
	gauge(dConfigStatus, ok)
	gauge(dConfigReloadT, at)
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
// runtime and process collectors, and extra ones (a TableCollector).
func NewRegistry(src Source, extra ...prometheus.Collector) *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(NewCollector(src), buildInfoCollector{daemon.ReadBuildInfo()}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.MustRegister(extra...)
	return r
}

// Handler serves the registry in the Prometheus exposition format.
func Handler(r *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(r, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
