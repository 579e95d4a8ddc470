package mmap

import (
	"errors"
	"os"
	"sync/atomic"
	"unsafe"
)

// ErrNotSupported is returned on platforms without mmap support here.
var ErrNotSupported = errors.New("mmap: not supported on this platform")

// ErrRange is returned when a requested range is not page-aligned or does not
// fit in the reservation.
var ErrRange = errors.New("mmap: range not page-aligned or outside the reservation")

// ErrFreed is returned by operations on a freed Reservation.
var ErrFreed = errors.New("mmap: reservation freed")

// PageSize is the host page size.
var PageSize = os.Getpagesize()

// checkRange validates that [off, off+n) is page-aligned, non-empty and inside
// size; it is shared by the platform implementations.
func checkRange(off, n, size int) error {
	if n <= 0 || off < 0 || off%PageSize != 0 || n%PageSize != 0 || off > size || n > size-off {
		return ErrRange
	}
	return nil
}

// RoundUp rounds n up to a multiple of the page size.
func RoundUp(n int) int { return (n + PageSize - 1) &^ (PageSize - 1) }

// Uint32At returns the 4-byte-aligned word at b[off:] as an atomic, for
// words of shared memory that other threads (or guests) read while the host
// writes them. It returns nil if the word is out of range or misaligned.
func Uint32At(b []byte, off int) *atomic.Uint32 {
	if off < 0 || off > len(b)-4 {
		return nil
	}
	p := unsafe.Pointer(&b[off])
	if uintptr(p)%4 != 0 {
		return nil
	}
	return (*atomic.Uint32)(p)
}

// Uint64At is Uint32At for an 8-byte-aligned 8-byte word.
func Uint64At(b []byte, off int) *atomic.Uint64 {
	if off < 0 || off > len(b)-8 {
		return nil
	}
	p := unsafe.Pointer(&b[off])
	if uintptr(p)%8 != 0 {
		return nil
	}
	return (*atomic.Uint64)(p)
}
