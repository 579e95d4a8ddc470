//go:build wasip1

package sdk

import (
	"runtime"
	"unsafe"
)

// view returns the n bytes of linear memory at addr. The caller has checked that
// addr is not 0 and that the range does not wrap; a range beyond the memory's
// end traps on access, which is the sandbox's job.
func view(addr uint32, n int) []byte {
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(nil), addr)), n)
}

// alloc returns size bytes aligned to align (a power of two) from the Go heap,
// and their address. The bytes hold no pointers, so the collector never reads
// them, and the caller keeps the slice to keep them alive: the host may copy
// or map packet data over them at any time.
func alloc(size, align int) ([]byte, uint32) {
	raw := make([]byte, size+align-1)
	base := uintptr(unsafe.Pointer(unsafe.SliceData(raw)))
	skip := int((uintptr(align) - base%uintptr(align)) % uintptr(align))
	buf := raw[skip : skip+size : skip+size]
	return buf, uint32(base) + uint32(skip)
}

// settle finishes any garbage collection cycle in progress. A Go guest's
// background mark workers only run while an export is executing and nothing
// else is runnable, so a cycle started by an allocation on a cold path (setup,
// a control message) could stay open across every later burst, keeping write
// barriers and mark assists on. The cold paths call settle before returning.
func settle() { runtime.GC() }
