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

// staticWindow holds the packet window for windows up to the host's default
// size. Being static data rather than a heap object keeps the Go heap small: a
// 16 MiB heap object makes every later collection and heap growth cost the
// plugin fuel on calls the host meters. Untouched pages cost the host nothing
// (its linear memory is a lazy reservation), and the bytes are not in the
// .wasm file.
var staticWindow [staticWindowSize + windowAlign]byte

const (
	staticWindowSize = 16 << 20
	windowAlign      = 65536
)

// alloc returns size bytes aligned to align (a power of two), and their
// address. Window-sized requests are served from staticWindow once; others
// from the Go heap. The bytes hold no pointers, so the collector never reads
// them, and the caller keeps the slice to keep them alive: the host may copy
// or map packet data over them at any time.
func alloc(size, align int) ([]byte, uint32) {
	if align == windowAlign && size <= staticWindowSize && !staticWindowUsed {
		staticWindowUsed = true
		return alignIn(staticWindow[:], size, align)
	}
	return alignIn(make([]byte, size+align-1), size, align)
}

var staticWindowUsed bool

func alignIn(raw []byte, size, align int) ([]byte, uint32) {
	base := uintptr(unsafe.Pointer(unsafe.SliceData(raw)))
	skip := int((uintptr(align) - base%uintptr(align)) % uintptr(align))
	return raw[skip : skip+size : skip+size], uint32(base) + uint32(skip)
}

// settle finishes any garbage collection cycle in progress. A Go guest's
// collector only advances inside calls into the guest (its workers run when
// the calling goroutine is preempted or blocks), so a cycle started by an
// allocation on a cold path (configuration, a control message) would
// otherwise be finished piecemeal during later bursts, on their fuel. The cold
// paths call settle before returning, on their own, larger budget.
func settle() { runtime.GC() }
