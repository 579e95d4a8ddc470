package mmap

import (
	"errors"
	"os"
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
