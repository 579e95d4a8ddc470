package daemon

import (
	"time"

	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/memif"
)

// Drop reasons of transmit drops (DropStats index).
const (
	DropRingFull     = iota // the tx ring stayed full through the bounded retry
	DropDisconnected        // the destination interface is down
	DropNoEgress            // PASS on an interface without egress
	DropTooBig              // the packet needs more buffers than a burst holds
	DropError               // the tx queue returned another error
	NumDropReasons
)

var dropNames = [NumDropReasons]string{"ring_full", "disconnected", "no_egress", "too_big", "error"}

// DropName returns the metric label of a drop reason.
func DropName(r int) string {
	if r >= 0 && r < NumDropReasons {
		return dropNames[r]
	}
	return "unknown"
}

// BurstBuckets are the upper bounds (seconds) of the pipeline burst duration histogram.
var BurstBuckets = [...]float64{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 1e-2}

// BurstSizeBuckets are the upper bounds of the rx burst size histogram (packets).
var BurstSizeBuckets = [...]float64{1, 2, 4, 8, 16, 32, 64, 128, 256}

// QueueStats are one worker's counters (one rx queue of one interface). They
// survive reconnects: the worker for queue q of an interface is the same
// object across connections, so the counters only grow.
type QueueStats struct {
	RxPackets, RxBytes uint64
	RxBursts           uint64
	// TxPackets and TxBytes count what this worker sent, on whichever
	// interface the verdict named.
	TxPackets, TxBytes uint64
	Drops              [NumDropReasons]uint64
	// BusyNanos is time spent on bursts (rx to release); EmptyPolls counts
	// RxBursts that found nothing.
	BusyNanos  uint64
	EmptyPolls uint64
	// Duration and size histograms: per-bucket counts (not cumulative), the
	// last bucket is +Inf.
	BurstNanosSum   uint64
	BurstDuration   [len(BurstBuckets) + 1]uint64
	BurstSize       [len(BurstSizeBuckets) + 1]uint64
	BurstPacketsSum uint64
}

// Add adds o to s.
func (s *QueueStats) Add(o *QueueStats) {
	s.RxPackets += o.RxPackets
	s.RxBytes += o.RxBytes
	s.RxBursts += o.RxBursts
	s.TxPackets += o.TxPackets
	s.TxBytes += o.TxBytes
	for i := range s.Drops {
		s.Drops[i] += o.Drops[i]
	}
	s.BusyNanos += o.BusyNanos
	s.EmptyPolls += o.EmptyPolls
	s.BurstNanosSum += o.BurstNanosSum
	for i := range s.BurstDuration {
		s.BurstDuration[i] += o.BurstDuration[i]
	}
	for i := range s.BurstSize {
		s.BurstSize[i] += o.BurstSize[i]
	}
	s.BurstPacketsSum += o.BurstPacketsSum
}

// Snapshot is a consistent-enough copy of every counter and state the daemon
// has, for metrics and the admin API. Each worker's counters are copied under
// its lock; different workers are copied one after the other.
type Snapshot struct {
	Tenants []TenantSnapshot `json:"tenants"`
	// Loads counts module loads by tenant and result (admission code or "ok").
	Loads   map[string]map[string]uint64 `json:"loads"`
	Reloads map[string]map[string]uint64 `json:"reloads"`
	// CompileSeconds are the durations of recent compilations (for the histogram).
	CompileCount uint64    `json:"compile_count"`
	CompileSum   float64   `json:"compile_seconds_sum"`
	CompileHist  []uint64  `json:"-"`
	Started      time.Time `json:"started"`
}

// TenantSnapshot is one tenant.
type TenantSnapshot struct {
	Name       string              `json:"name"`
	Interfaces []InterfaceSnapshot `json:"interfaces"`
}

// InterfaceSnapshot is one interface with its pipeline and workers.
type InterfaceSnapshot struct {
	Name      string           `json:"name"`
	Port      int              `json:"port"`
	Socket    string           `json:"socket"`
	Role      string           `json:"role"`
	ID        uint32           `json:"id"`
	Egress    string           `json:"egress,omitempty"`
	Connected bool             `json:"connected"`
	Placement string           `json:"placement"`
	LastError string           `json:"last_error,omitempty"`
	Memif     memif.Stats      `json:"memif"`
	Queues    []QueueStats     `json:"queues"`
	Plugins   []PluginSnapshot `json:"plugins"`
}

// PluginSnapshot is one pipeline stage summed over the interface's workers.
type PluginSnapshot struct {
	Name       string           `json:"name"`
	File       string           `json:"file"`
	SHA256     string           `json:"sha256"`
	ABIVersion uint32           `json:"abi_version"`
	Instances  int              `json:"instances"`
	MemoryMax  uint64           `json:"memory_limit_bytes"`
	FailOpen   bool             `json:"fail_open"`
	Fault      string           `json:"fault,omitempty"`
	LoadedAt   time.Time        `json:"loaded_at"`
	Stats      host.PluginStats `json:"stats"`
}
