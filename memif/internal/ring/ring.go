//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm

package ring

import (
	"errors"
	"sync/atomic"
	"unsafe"
)

// Wire constants of the ring layout (memif protocol 2.0).
const (
	Cookie       uint32 = 0x3E31F20 // written by the slave at offset 0 of every ring
	FlagMaskInt  uint16 = 1         // ring flags bit 0: receiver polls, producer must not signal
	DescFlagNext uint16 = 1         // descriptor flags bit 0: packet continues in the next slot
	DescSize            = 16        // bytes per descriptor
	MaxLog2             = 14        // largest log2 ring size any implementation accepts

	cookieOff    = 0
	flagsHeadOff = 4 // flags u16 @4, head u16 @6: one 32-bit word
)

// Desc is one 16-byte ring descriptor exactly as laid out in shared memory.
type Desc struct {
	Flags    uint16
	Region   uint16
	Length   uint32
	Offset   uint32
	Metadata uint32
}

// HeaderSize is the ring header size for a cache-line size: head and tail
// each get their own line.
func HeaderSize(cacheLine int) int { return 2 * cacheLine }

// Bytes is the size of a ring with 2^log2 descriptors.
func Bytes(cacheLine int, log2 uint8) int { return HeaderSize(cacheLine) + DescSize<<log2 }

// Errors returned by New.
var (
	ErrTooSmall  = errors.New("ring does not fit in its memory")
	ErrAlignment = errors.New("ring is not 4-byte aligned")
	ErrLog2      = errors.New("log2 ring size above 14")
	ErrCacheLine = errors.New("cache line must be 64 or 128")
)

// Ring is a typed view of one ring in a shared mapping. All loads and
// stores of head, tail and flags go through its methods so the memory
// ordering lives in one place. The zero Ring is unusable.
type Ring struct {
	cookie    *uint32
	flagsHead *uint32
	tail      *uint32
	descs     unsafe.Pointer // descriptor 0; Desc indexes with & mask, so no bounds check is needed
	mask      uint16
	size      uint32
}

// New returns a view of the ring at the start of mem. mem must stay mapped
// for as long as the Ring is used.
func New(mem []byte, cacheLine int, log2 uint8) (Ring, error) {
	if cacheLine != 64 && cacheLine != 128 {
		return Ring{}, ErrCacheLine
	}
	if log2 > MaxLog2 {
		return Ring{}, ErrLog2
	}
	if len(mem) < Bytes(cacheLine, log2) {
		return Ring{}, ErrTooSmall
	}
	base := unsafe.Pointer(unsafe.SliceData(mem))
	if uintptr(base)%4 != 0 {
		return Ring{}, ErrAlignment
	}
	size := uint32(1) << log2
	return Ring{
		cookie:    (*uint32)(unsafe.Add(base, cookieOff)),
		flagsHead: (*uint32)(unsafe.Add(base, flagsHeadOff)),
		tail:      (*uint32)(unsafe.Add(base, cacheLine)),
		descs:     unsafe.Add(base, HeaderSize(cacheLine)),
		mask:      uint16(size - 1),
		size:      size,
	}, nil
}

// Size is the number of descriptors.
func (r *Ring) Size() uint32 { return r.size }

// Mask is Size-1: slot = index & Mask.
func (r *Ring) Mask() uint16 { return r.mask }

// Cookie loads the ring cookie.
func (r *Ring) Cookie() uint32 { return atomic.LoadUint32(r.cookie) }

// Init writes a fresh header: cookie, flags, head = tail = 0. Only the
// slave calls it, before handing the ring to the peer.
func (r *Ring) Init(flags uint16) {
	atomic.StoreUint32(r.flagsHead, uint32(flags))
	atomic.StoreUint32(r.tail, 0)
	atomic.StoreUint32(r.cookie, Cookie)
}

// Head loads the slave's index with acquire semantics (Go atomics are
// sequentially consistent, which is stronger). Pairs with VPP/DPDK
// __atomic_store_n(&ring->head, ..., RELEASE) and libmemif's barrier+store.
func (r *Ring) Head() uint16 { return uint16(atomic.LoadUint32(r.flagsHead) >> 16) }

// SetHead publishes the slave's index with release semantics. head shares
// its 32-bit word with flags, which the other side owns on S2M rings, so a
// plain 32-bit store could erase a concurrent flags update: a CAS loop
// replaces only the upper half. See RATIONALE.md "Why CAS-loop ring-index
// atomics?".
//
// It returns the flags the update left in place, so a producer learns
// whether to signal without loading the word again.
func (r *Ring) SetHead(h uint16) (flags uint16) {
	for {
		old := atomic.LoadUint32(r.flagsHead)
		if atomic.CompareAndSwapUint32(r.flagsHead, old, old&0xffff|uint32(h)<<16) {
			return uint16(old)
		}
	}
}

// Flags loads the ring flags.
func (r *Ring) Flags() uint16 { return uint16(atomic.LoadUint32(r.flagsHead)) }

// SetFlags replaces the ring flags, leaving head untouched (CAS loop, as
// for SetHead, because the slave writes head on every ring).
func (r *Ring) SetFlags(f uint16) {
	for {
		old := atomic.LoadUint32(r.flagsHead)
		if atomic.CompareAndSwapUint32(r.flagsHead, old, old&^0xffff|uint32(f)) {
			return
		}
	}
}

// Tail loads the master's index with acquire semantics.
func (r *Ring) Tail() uint16 { return uint16(atomic.LoadUint32(r.tail)) }

// SetTail publishes the master's index with release semantics. The word
// at the tail offset holds only tail and padding nobody reads, so a plain
// 32-bit atomic store is safe and cheaper than a CAS.
func (r *Ring) SetTail(t uint16) { atomic.StoreUint32(r.tail, uint32(t)) }

// Desc returns the descriptor for free-running index i. Its fields are
// shared memory: copy it once (d := *r.Desc(i)) before validating, so the
// peer cannot change it between the check and the use.
func (r *Ring) Desc(i uint16) *Desc {
	return (*Desc)(unsafe.Add(r.descs, uintptr(i&r.mask)*DescSize))
}
