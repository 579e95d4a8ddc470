//go:build linux

package mmap

import (
	"fmt"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Reservation is a fixed range of private, lazily allocated address space.
// Its methods are safe for concurrent use, but the caller must not use a slice
// of Bytes after Free.
type Reservation struct {
	mu  sync.Mutex
	mem []byte // nil after Free
}

// Reserve maps size bytes (rounded up to a page) of private anonymous memory.
// Pages cost nothing until touched (MAP_NORESERVE).
func Reserve(size int) (*Reservation, error) {
	if size <= 0 {
		return nil, fmt.Errorf("mmap: reserve %d bytes: %w", size, ErrRange)
	}
	size = RoundUp(size)
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("mmap: reserve %d bytes: %w", size, err)
	}
	return &Reservation{mem: b}, nil
}

// Bytes returns the whole reservation. The slice never moves; it is invalid
// after Free.
func (r *Reservation) Bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mem
}

// MapShared maps n bytes of the file fd, from file offset fileOff, over
// [off, off+n) of the reservation with MAP_SHARED|MAP_FIXED, so both sides see
// each other's writes. off, n and fileOff must be page-aligned.
func (r *Reservation) MapShared(off, n, fd int, fileOff int64) error {
	if fileOff < 0 || fileOff%int64(PageSize) != 0 {
		return ErrRange
	}
	return r.fixed(off, n, fd, fileOff, unix.MAP_SHARED)
}

// Unmap replaces [off, off+n) with fresh private zero pages, detaching any
// file mapped there.
func (r *Reservation) Unmap(off, n int) error {
	return r.fixed(off, n, -1, 0, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
}

func (r *Reservation) fixed(off, n, fd int, fileOff int64, flags int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mem == nil {
		return ErrFreed
	}
	if err := checkRange(off, n, len(r.mem)); err != nil {
		return err
	}
	addr := uintptr(unsafe.Pointer(&r.mem[off]))
	// unix.Mmap cannot place a mapping, so MAP_FIXED needs the raw call.
	got, _, errno := unix.Syscall6(unix.SYS_MMAP, addr, uintptr(n), unix.PROT_READ|unix.PROT_WRITE,
		uintptr(flags|unix.MAP_FIXED), uintptr(fd), uintptr(fileOff))
	if errno != 0 {
		return fmt.Errorf("mmap: map fd %d over [%d,%d): %w", fd, off, off+n, errno)
	}
	if got != addr {
		return fmt.Errorf("mmap: kernel placed the mapping at %#x, not %#x", got, addr)
	}
	return nil
}

// Free unmaps the whole reservation, including anything MapShared placed in
// it. It is idempotent.
func (r *Reservation) Free() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mem == nil {
		return nil
	}
	err := unix.Munmap(r.mem)
	r.mem = nil
	return err
}

// Memfd creates an anonymous shared-memory file of size bytes; tests and
// callers that stand in for a memif peer use it.
func Memfd(name string, size int) (int, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("memfd_create: %w", err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("ftruncate memfd: %w", err)
	}
	return fd, nil
}

// MapFile maps n bytes of fd shared, outside any reservation (a peer's view).
func MapFile(fd, n int) ([]byte, error) {
	b, err := unix.Mmap(fd, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap fd %d: %w", fd, err)
	}
	return b, nil
}

// UnmapFile undoes MapFile.
func UnmapFile(b []byte) error { return unix.Munmap(b) }

// Dup duplicates fd (close-on-exec).
func Dup(fd int) (int, error) { return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0) }

// Close closes fd.
func Close(fd int) error { return unix.Close(fd) }

// Populate faults in [off, off+n) of the reservation now, in this system
// call, rather than one page fault at a time in whoever touches it first.
// The range is rounded out to pages. Kernels without MADV_POPULATE_WRITE
// (before 5.14) return an error and leave the pages to fault lazily.
func (r *Reservation) Populate(off, n int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mem == nil {
		return ErrFreed
	}
	lo := off &^ (PageSize - 1)
	hi := RoundUp(off + n)
	if n <= 0 || off < 0 || hi > len(r.mem) {
		return ErrRange
	}
	return unix.Madvise(r.mem[lo:hi], unix.MADV_POPULATE_WRITE)
}
