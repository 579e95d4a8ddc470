//go:build wasip1

package sdk

import (
	"runtime"
	"runtime/debug"
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

// A Go guest's collector advances only inside calls into the guest (its mark
// workers run when the calling goroutine is preempted or blocks), so a cycle
// that an allocation starts would be finished piecemeal during later bursts,
// on their small fuel budget, and would keep write barriers on meanwhile. And
// one collection costs a Go guest tens of millions of fuel units under the
// host's metering. So the SDK turns automatic collection off and collects
// itself, on a cold path and only when the heap has grown by gcEvery since the
// last collection. Plugins that allocate only in Init and Control (the
// documented practice) never collect during a burst; the memory limit is the
// safety net for one that allocates per packet.
const (
	gcEvery     = 16 << 20
	memoryLimit = 48 << 20
)

var lastHeap uint64

func init() {
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(memoryLimit)
}

// settle collects when the heap grew by gcEvery since the last collection.
func settle() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc < lastHeap+gcEvery {
		return
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	lastHeap = ms.HeapAlloc
}
