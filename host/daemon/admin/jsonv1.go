package admin

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/host/daemon"
	"github.com/memif-wasm/memif-wasm/host/dataplane"
	"github.com/memif-wasm/memif-wasm/memif"
)

// SchemaVersion is the version of the JSON `memif-wasm ctl --json stats`
// prints (docs/json.md). It changes only when a field changes meaning or
// goes; new fields may appear within a version.
const SchemaVersion = 1

// StatsV1 is `ctl --json stats`: every counter with named keys in
// snake_case, enums as their names, units in the key names.
type StatsV1 struct {
	SchemaVersion int                          `json:"schema_version"`
	StartedAt     time.Time                    `json:"started_at"`
	Tenants       []TenantStatsV1              `json:"tenants"`
	PluginLoads   map[string]map[string]uint64 `json:"plugin_loads_by_tenant_and_result"`
	PluginReloads map[string]map[string]uint64 `json:"plugin_reloads_by_tenant_and_result"`
	ConfigReloads ConfigReloadsV1              `json:"config_reloads"`
}

// ConfigReloadsV1 counts config reloads and says how the last ones went.
type ConfigReloadsV1 struct {
	OK               uint64    `json:"ok"`
	Failed           uint64    `json:"failed"`
	LastAt           time.Time `json:"last_at,omitzero"`
	LastFailed       bool      `json:"last_failed"`
	LastError        string    `json:"last_error,omitempty"`
	LastErrorAt      time.Time `json:"last_error_at,omitzero"`
	RunningIsTheFile bool      `json:"running_config_is_the_file"`
}

// TenantStatsV1 is one tenant.
type TenantStatsV1 struct {
	Name                  string             `json:"name"`
	Instances             int                `json:"instances"`
	MemoryBytes           uint64             `json:"memory_bytes"`
	RefusedInstantiations uint64             `json:"refused_instantiations"`
	Interfaces            []InterfaceStatsV1 `json:"interfaces"`
}

// InterfaceStatsV1 is one interface: memif's totals, its queues' workers
// and its pipeline.
type InterfaceStatsV1 struct {
	Name      string `json:"name"`
	Port      int    `json:"port"`
	Socket    string `json:"socket"`
	Role      string `json:"role"`
	ID        uint32 `json:"id"`
	Egress    string `json:"egress,omitempty"`
	Connected bool   `json:"connected"`
	Placement string `json:"placement"`
	LastError string `json:"last_error,omitempty"`

	Connects         uint64 `json:"connects"`
	Disconnects      uint64 `json:"disconnects"`
	ProtocolErrors   uint64 `json:"protocol_errors"`
	RxPackets        uint64 `json:"rx_packets"`
	RxBytes          uint64 `json:"rx_bytes"`
	TxPackets        uint64 `json:"tx_packets"`
	TxBytes          uint64 `json:"tx_bytes"`
	BadDescriptors   uint64 `json:"bad_descriptors"`
	TxRingFullAllocs uint64 `json:"tx_ring_full_allocations"`
	// Drops lists every packet the interface dropped, by reason: a
	// plugin's drop_verdict, aborted_verdict or fail_policy (fail-closed
	// faults), and pass_not_sent, tx_not_sent, redirect_not_sent.
	Drops   []DropV1        `json:"drops"`
	Queues  []QueueStatsV1  `json:"queues"`
	Plugins []PluginStatsV1 `json:"plugins"`
}

// QueueStatsV1 is one rx queue's workers.
type QueueStatsV1 struct {
	Queue               int               `json:"queue"`
	RxPackets           uint64            `json:"rx_packets"`
	RxBursts            uint64            `json:"rx_bursts"`
	RxBytes             uint64            `json:"rx_bytes"`
	TxPacketsByVerdict  map[string]uint64 `json:"tx_packets_by_verdict"`
	TxBytesByVerdict    map[string]uint64 `json:"tx_bytes_by_verdict"`
	TxDropsByReason     map[string]uint64 `json:"tx_drops_by_reason"`
	RxDropsByReason     map[string]uint64 `json:"rx_drops_by_reason"`
	TxRingFullRetries   uint64            `json:"tx_ring_full_retries"`
	BusySeconds         float64           `json:"busy_seconds"`
	EmptyPolls          uint64            `json:"empty_polls"`
	Connections         uint64            `json:"connections"`
	ZeroCopyConnections uint64            `json:"zero_copy_connections"`
}

// PluginStatsV1 is one pipeline stage, summed over the interface's workers.
type PluginStatsV1 struct {
	Name             string            `json:"name"`
	File             string            `json:"file"`
	Source           string            `json:"source,omitempty"`    // oci:// or https:// source
	Digest           string            `json:"digest,omitempty"`    // manifest digest of an oci source
	SignedBy         string            `json:"signed_by,omitempty"` // key that verified its signature
	SHA256           string            `json:"sha256"`
	ABIVersion       uint32            `json:"abi_version"`
	Instances        int               `json:"instances"`
	MemoryLimitBytes uint64            `json:"memory_limit_bytes"`
	MemoryBytes      uint64            `json:"memory_bytes"`
	FailPolicy       string            `json:"fail_policy"`
	LastFault        string            `json:"last_fault,omitempty"`
	LoadedAt         time.Time         `json:"loaded_at"`
	Calls            uint64            `json:"calls"`
	Packets          uint64            `json:"packets"`
	Verdicts         map[string]uint64 `json:"verdicts"`
	InvalidVerdicts  map[string]uint64 `json:"invalid_verdicts_by_reason"`
	Faults           uint64            `json:"faults"`
	FaultsByReason   map[string]uint64 `json:"faults_by_reason"`
	FailPolicyPkts   uint64            `json:"fail_policy_packets"`
	Restarts         uint64            `json:"restarts"`
	RestartFailures  uint64            `json:"restart_failures"`
	Quarantines      uint64            `json:"quarantines"`
	Quarantined      uint64            `json:"quarantined_instances"`
	Reloads          uint64            `json:"reloads"`
	FuelConsumed     uint64            `json:"fuel_consumed"`
	FuelExhausted    uint64            `json:"fuel_exhausted_calls"`
	CallSeconds      float64           `json:"call_seconds"`
	PacketsPlaced    map[string]uint64 `json:"packets_by_placement"`
	BytesCopied      map[string]uint64 `json:"bytes_copied_by_placement"`
}

// NewStatsV1 turns a snapshot into the documented JSON view.
func NewStatsV1(s *daemon.Snapshot) StatsV1 {
	out := StatsV1{
		SchemaVersion: SchemaVersion, StartedAt: s.Started, Tenants: []TenantStatsV1{},
		PluginLoads: nonNilMap(s.Loads), PluginReloads: nonNilMap(s.Reloads),
		ConfigReloads: ConfigReloadsV1{
			OK: s.ConfigReloads["ok"], Failed: s.ConfigReloads["failed"],
			LastAt: s.LastReloadAt, LastFailed: s.LastReloadFailed,
			LastError: s.LastReloadError, LastErrorAt: s.LastReloadErrorAt,
			RunningIsTheFile: !s.LastReloadFailed,
		},
	}
	for _, t := range s.Tenants {
		tv := TenantStatsV1{Name: t.Name, Instances: t.Instances, MemoryBytes: t.MemoryPages * 65536,
			RefusedInstantiations: t.Refused, Interfaces: []InterfaceStatsV1{}}
		for i := range t.Interfaces {
			tv.Interfaces = append(tv.Interfaces, newInterfaceStatsV1(&t.Interfaces[i]))
		}
		out.Tenants = append(out.Tenants, tv)
	}
	return out
}

func newInterfaceStatsV1(in *daemon.InterfaceSnapshot) InterfaceStatsV1 {
	m := &in.Memif
	iv := InterfaceStatsV1{
		Name: in.Name, Port: in.Port, Socket: in.Socket, Role: in.Role, ID: in.ID, Egress: in.Egress,
		Connected: in.Connected, Placement: in.Placement, LastError: in.LastError,
		Connects: m.Connects, Disconnects: m.Disconnects, ProtocolErrors: m.ProtocolErrors,
		RxPackets: m.RxPackets, RxBytes: m.RxBytes, TxPackets: m.TxPackets, TxBytes: m.TxBytes,
		BadDescriptors: m.BadDescriptors, TxRingFullAllocs: m.TxRingFull,
		Drops: []DropV1{}, Queues: []QueueStatsV1{}, Plugins: []PluginStatsV1{},
	}
	for q := range in.Queues {
		qs := &in.Queues[q]
		qv := QueueStatsV1{
			Queue: q, RxPackets: qs.RxPackets, RxBursts: qs.RxBursts, RxBytes: qs.RxBytes,
			TxPacketsByVerdict: map[string]uint64{}, TxBytesByVerdict: map[string]uint64{},
			TxDropsByReason: map[string]uint64{}, RxDropsByReason: map[string]uint64{},
			TxRingFullRetries: qs.TxRingFull, BusySeconds: qs.Busy.Seconds(), EmptyPolls: qs.EmptyPolls,
			Connections: qs.Connections, ZeroCopyConnections: qs.ZeroCopyConns,
		}
		for _, v := range []abi.Verdict{abi.Pass, abi.TX, abi.Redirect} {
			qv.TxPacketsByVerdict[v.String()] = qs.Tx[v]
			qv.TxBytesByVerdict[v.String()] = qs.TxBytes[v]
		}
		for r, n := range qs.TxDrops {
			qv.TxDropsByReason[dataplane.TxDropReason(r).String()] = n
		}
		for r, n := range qs.RxDrops {
			qv.RxDropsByReason[dataplane.RxDropReason(r).String()] = n
		}
		iv.Queues = append(iv.Queues, qv)
	}
	for _, p := range in.Plugins {
		st := &p.Stats
		pv := PluginStatsV1{
			Name: p.Name, File: p.File, Source: p.Source, Digest: p.Digest, SignedBy: p.SignedBy,
			SHA256: p.SHA256, ABIVersion: p.ABIVersion, Instances: p.Instances,
			MemoryLimitBytes: p.MemoryMax, MemoryBytes: st.MemoryBytes, FailPolicy: "closed", LastFault: p.Fault,
			LoadedAt: p.LoadedAt, Calls: st.Bursts, Packets: st.Packets,
			Verdicts: map[string]uint64{}, InvalidVerdicts: map[string]uint64{}, FaultsByReason: map[string]uint64{},
			Faults: st.Faults, FailPolicyPkts: st.FaultPackets, Restarts: st.Restarts, RestartFailures: st.RestartFailures,
			Quarantines: st.Quarantines, Quarantined: st.Quarantined, Reloads: st.Reloads,
			FuelConsumed: st.FuelUsed, FuelExhausted: st.FuelExhausted, CallSeconds: st.CallTime.Seconds(),
			PacketsPlaced: map[string]uint64{}, BytesCopied: map[string]uint64{},
		}
		if p.FailOpen {
			pv.FailPolicy = "open"
		}
		for v, n := range st.Verdicts {
			pv.Verdicts[abi.Verdict(v).String()] = n
		}
		for r, n := range st.Invalid {
			pv.InvalidVerdicts[host.Reason(r).String()] = n
		}
		for r, n := range st.FaultReasons {
			pv.FaultsByReason[host.FaultReason(r).String()] = n
		}
		for pl := range st.PacketsPlaced {
			k := strings.ReplaceAll(host.Placement(pl).String(), "-", "_") // zero_copy
			pv.PacketsPlaced[k] = st.PacketsPlaced[pl]
			pv.BytesCopied[k] = st.BytesCopied[pl]
		}
		iv.Drops = append(iv.Drops, DropV1{Plugin: p.Name, Reason: "drop_verdict", Packets: st.Verdicts[abi.Drop]},
			DropV1{Plugin: p.Name, Reason: "aborted_verdict", Packets: st.Verdicts[abi.Aborted]})
		if !p.FailOpen { // fail-open passes a faulting burst's packets on
			iv.Drops = append(iv.Drops, DropV1{Plugin: p.Name, Reason: "fail_policy", Packets: st.FaultPackets})
		}
		iv.Plugins = append(iv.Plugins, pv)
	}
	var q daemon.QueueStats
	for i := range in.Queues {
		q.Add(&in.Queues[i])
	}
	for r, n := range q.Drops {
		iv.Drops = append(iv.Drops, DropV1{Reason: daemon.DropName(r) + "_not_sent", Packets: n})
	}
	return iv
}

// DropV1 is one reason an interface dropped packets.
type DropV1 struct {
	Reason  string `json:"reason"`
	Plugin  string `json:"plugin,omitempty"` // the plugin whose decision it was
	Packets uint64 `json:"packets"`
}

func nonNilMap(m map[string]map[string]uint64) map[string]map[string]uint64 {
	if m == nil {
		return map[string]map[string]uint64{}
	}
	return m
}

// ListV1 is `ctl --json list`.
type ListV1 struct {
	SchemaVersion int      `json:"schema_version"`
	Tenants       []Tenant `json:"tenants"`
}

// ShowV1 is `ctl --json show TENANT/IFACE`: memif's view of the link and
// the interface's counters.
type ShowV1 struct {
	SchemaVersion int              `json:"schema_version"`
	Memif         MemifDetailsV1   `json:"memif"`
	Stats         InterfaceStatsV1 `json:"stats"`
}

// MemifDetailsV1 is memif.Details with named, snake_case keys.
type MemifDetailsV1 struct {
	Name      string          `json:"name"`
	AppName   string          `json:"app_name"`
	PeerName  string          `json:"peer_name"`
	PeerApp   string          `json:"peer_app"`
	Role      string          `json:"role"`
	Mode      string          `json:"mode"`
	ID        uint32          `json:"id"`
	Socket    string          `json:"socket"`
	HasSecret bool            `json:"has_secret"`
	Connected bool            `json:"connected"`
	Regions   []RegionV1      `json:"regions"`
	RxQueues  []RingDetailsV1 `json:"rx_queues"`
	TxQueues  []RingDetailsV1 `json:"tx_queues"`
}

// RegionV1 is one shared memory region.
type RegionV1 struct {
	Index     uint16 `json:"index"`
	SizeBytes uint64 `json:"size_bytes"`
	Rings     bool   `json:"holds_rings"`
	Sealed    bool   `json:"sealed"`
}

// RingDetailsV1 is one queue's ring and its counters on this connection.
type RingDetailsV1 struct {
	Queue int `json:"queue"`
	// RingSize is in descriptors; BufferSizeBytes is 0 on a master, whose
	// buffers its slave sizes descriptor by descriptor.
	RingSize        int    `json:"ring_size"`
	BufferSizeBytes uint16 `json:"buffer_size_bytes"`
	RxMode          string `json:"rx_mode,omitempty"`
	Head            uint16 `json:"head"`
	Tail            uint16 `json:"tail"`
	Flags           uint16 `json:"flags"`
	Packets         uint64 `json:"packets"`
	Bytes           uint64 `json:"bytes"`
	RingFull        uint64 `json:"ring_full"`
	BadDescriptors  uint64 `json:"bad_descriptors"`
}

// NewShowV1 turns an interface's details into the documented view.
func NewShowV1(d *InterfaceDetails) ShowV1 {
	m := &d.Memif
	mv := MemifDetailsV1{
		Name: m.Name, AppName: m.AppName, PeerName: m.PeerName, PeerApp: m.PeerApp, Role: m.Role.String(),
		Mode: m.Mode.String(), ID: m.ID, Socket: m.Socket, HasSecret: m.HasSecret, Connected: m.Connected,
		Regions: []RegionV1{}, RxQueues: []RingDetailsV1{}, TxQueues: []RingDetailsV1{},
	}
	for _, r := range m.Regions {
		mv.Regions = append(mv.Regions, RegionV1{Index: r.Index, SizeBytes: r.Size, Rings: r.Rings, Sealed: r.Sealed})
	}
	ring := func(q memif.QueueDetails, stats []memif.QueueStats, rx bool) RingDetailsV1 {
		rv := RingDetailsV1{Queue: q.Index, RingSize: q.RingSize, BufferSizeBytes: q.BufferSize, Head: q.Head, Tail: q.Tail, Flags: q.Flags}
		if rx {
			rv.RxMode = q.Mode.String()
		}
		if q.Index < len(stats) {
			st := stats[q.Index]
			rv.Packets, rv.Bytes, rv.RingFull, rv.BadDescriptors = st.Packets, st.Bytes, st.RingFull, st.BadDescriptors
		}
		return rv
	}
	for _, q := range m.RxQueues {
		mv.RxQueues = append(mv.RxQueues, ring(q, d.Stats.Memif.RxQueues, true))
	}
	for _, q := range m.TxQueues {
		mv.TxQueues = append(mv.TxQueues, ring(q, d.Stats.Memif.TxQueues, false))
	}
	return ShowV1{SchemaVersion: SchemaVersion, Memif: mv, Stats: newInterfaceStatsV1(&d.Stats)}
}

// ControlV1 is `ctl --json control`: the plugin's reply as JSON when it
// is JSON, else as text when it is UTF-8, else base64.
type ControlV1 struct {
	SchemaVersion int             `json:"schema_version"`
	ReplyJSON     json.RawMessage `json:"reply_json,omitempty"`
	ReplyText     *string         `json:"reply_text,omitempty"`
	ReplyBase64   []byte          `json:"reply_base64,omitempty"`
}

// NewControlV1 places a reply where it survives JSON best.
func NewControlV1(reply []byte) ControlV1 {
	out := ControlV1{SchemaVersion: SchemaVersion}
	switch {
	case json.Valid(reply) && len(bytes.TrimSpace(reply)) > 0:
		out.ReplyJSON = json.RawMessage(reply)
	case utf8.Valid(reply):
		s := string(reply)
		out.ReplyText = &s
	default:
		out.ReplyBase64 = reply
	}
	return out
}

// ChangeV1 is `ctl --json load|unload|reload`: what was done, to what.
type ChangeV1 struct {
	SchemaVersion int    `json:"schema_version"`
	Action        string `json:"action"` // loaded, unloaded, reloaded
	Plugin        string `json:"plugin"` // TENANT/INTERFACE/PLUGIN
}

// ConfigReloadV1 is `ctl --json reload-config`: the changes applied.
type ConfigReloadV1 struct {
	SchemaVersion int      `json:"schema_version"`
	Changes       []string `json:"changes"`
}

// ErrorV1 is every `ctl --json` failure, on stdout.
type ErrorV1 struct {
	SchemaVersion int    `json:"schema_version"`
	Error         string `json:"error"`
	ExitCode      int    `json:"exit_code"`
}
