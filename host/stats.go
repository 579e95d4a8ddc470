package host

import "github.com/memif-wasm/memif-wasm/abi"

// Reason is why the host turned a guest's verdict into ABORTED.
type Reason uint8

const (
	ReasonVerdict  Reason = iota // unknown verdict code
	ReasonLen                    // len beyond cap, or changed on a packet that may not be resized
	ReasonData                   // data moved outside [data-headroom, data+cap], or moved on a fixed packet
	ReasonRedirect               // REDIRECT to a port outside the plugin's allow-list
	ReasonInput                  // the host could not hand the packet over (malformed Packet)
	NumReasons
)

var reasonNames = [NumReasons]string{"bad_code", "len", "data_ptr", "redirect_target", "input"}

// String returns the reason's metric label value.
func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// FaultReason is why a plugin failed a burst or a restart.
type FaultReason uint8

const (
	FaultTrap   FaultReason = iota // the guest trapped: unreachable, out-of-bounds access, stack overflow, ...
	FaultFuel                      // the call ran out of fuel
	FaultABI                       // the guest wrote descriptors the host refused (see Reason)
	FaultInit                      // re-creating the instance failed (_initialize, mw_init, layout, budget)
	FaultExit                      // the guest called proc_exit (a Go guest's panic or deadlock ends so)
	FaultMemory                    // the call failed after memory.grow hit the cap
	FaultErrno                     // mw_process returned -errno
	NumFaultReasons
)

var faultNames = [NumFaultReasons]string{"trap", "fuel", "abi", "init", "exit", "memory", "errno"}

// String returns the fault reason's metric label value.
func (r FaultReason) String() string {
	if r < NumFaultReasons {
		return faultNames[r]
	}
	return "unknown"
}

// PluginStats are one plugin stage's counters in one pipeline. They are plain
// fields: the pipeline owning them updates them under its lock; read them
// with Pipeline.ReadStats and sum across workers with Add.
type PluginStats struct {
	Bursts  uint64 // mw_process calls
	Packets uint64 // packets handed to the plugin
	// Verdicts counts outcomes after validation, by abi.Verdict; invalid
	// verdicts are counted as Aborted and in Invalid.
	Verdicts [abi.NumVerdicts]uint64
	Invalid  [NumReasons]uint64
	// Faults counts bursts the plugin failed (trap, exit, or a negative return
	// from mw_process); FaultPackets the packets that got the fail policy
	// instead of a verdict (also while the plugin awaits a restart).
	Faults, FaultPackets uint64
	// FaultReasons counts Faults and RestartFailures by reason.
	FaultReasons [NumFaultReasons]uint64
	// Restarts and RestartFailures count re-instantiations after faults.
	Restarts, RestartFailures uint64
	// Quarantines counts the times the plugin was quarantined; Quarantined
	// is 1 while it is (summed over pipelines: how many hold it quarantined).
	Quarantines, Quarantined uint64
	// Reloads counts successful Replace calls.
	Reloads uint64
	// FuelUsed sums the fuel mw_process spent; FuelExhausted counts bursts
	// that ran out (also counted in Faults). Zero with PluginConfig.Unmetered.
	FuelUsed, FuelExhausted uint64
	// PacketsPlaced and BytesCopied are indexed by the connection's
	// Placement. Bytes copied into and back out of the guest are both counted;
	// with zero-copy they stay 0 unless packets are chained or outside the
	// mapped region.
	PacketsPlaced [numPlacements]uint64
	BytesCopied   [numPlacements]uint64
}

// Add adds o's counters to s.
func (s *PluginStats) Add(o *PluginStats) {
	s.Bursts += o.Bursts
	s.Packets += o.Packets
	for i := range s.Verdicts {
		s.Verdicts[i] += o.Verdicts[i]
	}
	for i := range s.Invalid {
		s.Invalid[i] += o.Invalid[i]
	}
	s.Faults += o.Faults
	s.FaultPackets += o.FaultPackets
	for i := range s.FaultReasons {
		s.FaultReasons[i] += o.FaultReasons[i]
	}
	s.Restarts += o.Restarts
	s.RestartFailures += o.RestartFailures
	s.Quarantines += o.Quarantines
	s.Quarantined += o.Quarantined
	s.Reloads += o.Reloads
	s.FuelUsed += o.FuelUsed
	s.FuelExhausted += o.FuelExhausted
	for i := range s.PacketsPlaced {
		s.PacketsPlaced[i] += o.PacketsPlaced[i]
		s.BytesCopied[i] += o.BytesCopied[i]
	}
}
