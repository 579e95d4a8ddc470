package host

import (
	"math"
	"math/bits"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
)

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
	FaultStack                     // the call nested deeper than its stack budget
	NumFaultReasons
)

var faultNames = [NumFaultReasons]string{"trap", "fuel", "abi", "init", "exit", "memory", "errno", "stack"}

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
	// CallTime sums the wall time of every mw_process call, faulted ones
	// included, with the host's hand-over around it (copying packets in and
	// out, validating verdicts); CallDurations is their histogram: bucket i
	// counts calls that took at most CallDurationBound(i) and more than the
	// bound below. The buckets add up to Bursts.
	CallTime      time.Duration
	CallDurations [NumCallDurationBuckets]uint64
	// MemoryBytes is a gauge, not a counter: the linear memory of the
	// plugin's live instance when the stats were read (0 while it is down or
	// the pipeline is closed). Add sums it, giving the memory over pipelines.
	MemoryBytes uint64
}

// NumCallDurationBuckets is the size of PluginStats.CallDurations: bounds of
// 1.024 µs doubling up to about 33.6 ms, and one bucket for longer calls.
const NumCallDurationBuckets = 17

// callBucketShift makes the smallest bound 1<<10 ns, so a bucket index is a
// bit length rather than a search over bounds.
const callBucketShift = 10

// CallDurationBound returns the upper bound of CallDurations bucket i; the
// last bucket's is math.MaxInt64 (no bound).
func CallDurationBound(i int) time.Duration {
	if i < 0 || i >= NumCallDurationBuckets-1 {
		return math.MaxInt64
	}
	return time.Duration(1) << (callBucketShift + i)
}

// recordCall counts one mw_process call that took d.
func (s *PluginStats) recordCall(d time.Duration) {
	s.CallTime += d
	s.CallDurations[callBucket(d)]++
}

func callBucket(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return min(bits.Len64(uint64(d-1)>>callBucketShift), NumCallDurationBuckets-1)
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
	s.CallTime += o.CallTime
	for i := range s.CallDurations {
		s.CallDurations[i] += o.CallDurations[i]
	}
	s.MemoryBytes += o.MemoryBytes
}
