package daemon

import (
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/host/dataplane"
	"github.com/memif-wasm/memif-wasm/memif"
)

// Transmit drop reasons (QueueStats.Drops index): packets whose verdict
// sends them (PASS, TX, REDIRECT) that were not sent, because there was no
// egress or port, the link was down, or the tx ring stayed full.
const (
	DropPass     = iota // PASS not sent (no egress, link down, ring full)
	DropTX              // TX not sent back out the ingress interface
	DropRedirect        // REDIRECT not sent (no such port, link down, ring full)
	NumDropReasons
)

var dropNames = [NumDropReasons]string{"pass", "tx", "redirect"}

// DropName returns the metric label of a drop reason.
func DropName(r int) string {
	if r >= 0 && r < NumDropReasons {
		return dropNames[r]
	}
	return "unknown"
}

// QueueStats are one rx queue's worker counters, summed over every
// dataplane.Worker that served it, so they survive reconnects, plugin loads and
// egress changes.
type QueueStats struct {
	dataplane.WorkerStats
	// TxPackets is the sum of WorkerStats.Tx over the verdicts that send.
	TxPackets uint64
	// Drops are the WorkerStats.Dropped of the sending verdicts, by reason.
	Drops [NumDropReasons]uint64
}

func newQueueStats(ws dataplane.WorkerStats) QueueStats {
	q := QueueStats{WorkerStats: ws}
	q.TxPackets = ws.Tx[abi.Pass] + ws.Tx[abi.TX] + ws.Tx[abi.Redirect]
	q.Drops = [NumDropReasons]uint64{ws.Dropped[abi.Pass], ws.Dropped[abi.TX], ws.Dropped[abi.Redirect]}
	return q
}

// Add adds o to q.
func (q *QueueStats) Add(o *QueueStats) {
	addWorkerStats(&q.WorkerStats, o.WorkerStats)
	q.TxPackets += o.TxPackets
	for i := range q.Drops {
		q.Drops[i] += o.Drops[i]
	}
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
	// ConfigReloads counts config changes (Apply: SIGHUP, ctl reload-config)
	// by result, "ok" or "failed".
	ConfigReloads map[string]uint64 `json:"config_reloads"`
	// Pulls counts module fetches from plugin sources by result
	// (source.Fetcher.Counts): ok, cached, or the failure.
	Pulls map[string]uint64 `json:"pulls"`
	// LastReloadError is the error of the last config change that failed
	// (nothing of it was applied), LastReloadErrorAt when it failed; empty
	// while none has.
	LastReloadError   string    `json:"last_reload_error,omitempty"`
	LastReloadErrorAt time.Time `json:"last_reload_error_at,omitzero"`
	// LastReloadAt is when the last config change ended, zero while none
	// has; LastReloadFailed says whether it failed.
	LastReloadAt     time.Time `json:"last_reload_at,omitzero"`
	LastReloadFailed bool      `json:"last_reload_failed"`
}

// TenantSnapshot is one tenant.
type TenantSnapshot struct {
	Name       string              `json:"name"`
	Interfaces []InterfaceSnapshot `json:"interfaces"`
	// Instances and MemoryPages are the tenant's budget use now; Refused
	// counts instantiations its budgets refused.
	Instances   int    `json:"instances"`
	MemoryPages uint64 `json:"memory_pages"`
	Refused     uint64 `json:"refused"`
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
	Name string `json:"name"`
	File string `json:"file"`
	// Source is the plugin's oci:// or https:// source, Digest the
	// manifest digest it was loaded from (oci), SignedBy the key that
	// verified its signature (empty when none did).
	Source     string           `json:"source,omitempty"`
	Digest     string           `json:"digest,omitempty"`
	SignedBy   string           `json:"signed_by,omitempty"`
	SHA256     string           `json:"sha256"`
	ABIVersion uint32           `json:"abi_version"`
	Instances  int              `json:"instances"`
	MemoryMax  uint64           `json:"memory_limit_bytes"`
	FailOpen   bool             `json:"fail_open"`
	Fault      string           `json:"fault,omitempty"`
	LoadedAt   time.Time        `json:"loaded_at"`
	Stats      host.PluginStats `json:"stats"`
}
