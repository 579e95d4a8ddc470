package dataplane

import (
	"math/bits"

	"github.com/memif-wasm/memif-wasm/abi"
)

// TxDropReason is why a worker did not send a packet whose verdict sends it
// (PASS, TX, REDIRECT).
type TxDropReason uint8

const (
	TxDropNoEgress TxDropReason = iota // PASS without an egress port, REDIRECT to a port the worker does not have
	TxDropLinkDown                     // the port's interface is not connected (no tx queue, or it went away)
	TxDropRingFull                     // the tx ring stayed full for WorkerConfig.TxRetryTime
	TxDropTooBig                       // the packet needs more buffers than the port's whole tx ring
	NumTxDropReasons
)

var txDropNames = [NumTxDropReasons]string{"no_egress", "link_down", "ring_full", "too_big"}

// String returns the drop reason's metric label value.
func (r TxDropReason) String() string {
	if r < NumTxDropReasons {
		return txDropNames[r]
	}
	return "unknown"
}

// RxDropReason is why a worker dropped a received packet that no verdict
// sent: the verdicts Drop and Aborted, split by who decided.
type RxDropReason uint8

const (
	RxDropVerdict        RxDropReason = iota // a plugin's DROP verdict
	RxDropAborted                            // ABORTED: a plugin's own, or the host's for a descriptor it refused (see Reason)
	RxDropFailClosed                         // a plugin faulted, awaited a restart or was quarantined, and fails closed
	RxDropPipelineClosed                     // the pipeline was closed under the worker (it is being stopped or replaced)
	NumRxDropReasons
)

var rxDropNames = [NumRxDropReasons]string{"drop", "aborted", "fail_closed", "pipeline_closed"}

// String returns the drop reason's metric label value.
func (r RxDropReason) String() string {
	if r < NumRxDropReasons {
		return rxDropNames[r]
	}
	return "unknown"
}

// NumBurstSizeBuckets is the size of WorkerStats.BurstSizes: bucket i counts
// bursts of at most BurstSizeBound(i) = 1<<i packets, up to abi.MaxBurst.
const NumBurstSizeBuckets = 9

// BurstSizeBound returns the largest packet count of BurstSizes bucket i.
func BurstSizeBound(i int) int {
	if i < 0 || i >= NumBurstSizeBuckets {
		return abi.MaxBurst
	}
	return 1 << i
}

func burstSizeBucket(n int) int {
	if n <= 1 {
		return 0
	}
	return min(bits.Len(uint(n-1)), NumBurstSizeBuckets-1)
}

// Add adds o's counters to s.
func (s *WorkerStats) Add(o *WorkerStats) {
	s.RxPackets += o.RxPackets
	s.RxBursts += o.RxBursts
	s.RxBytes += o.RxBytes
	for i := range s.Tx {
		s.Tx[i] += o.Tx[i]
		s.TxBytes[i] += o.TxBytes[i]
		s.Dropped[i] += o.Dropped[i]
	}
	for i := range s.TxDrops {
		s.TxDrops[i] += o.TxDrops[i]
	}
	for i := range s.RxDrops {
		s.RxDrops[i] += o.RxDrops[i]
	}
	for i := range s.BurstSizes {
		s.BurstSizes[i] += o.BurstSizes[i]
	}
	s.TxRingFull += o.TxRingFull
	s.Connections += o.Connections
	s.ZeroCopyConns += o.ZeroCopyConns
	s.Busy += o.Busy
	s.EmptyPolls += o.EmptyPolls
}
