//go:build !linux

package mmap

// Reservation is unavailable on this platform.
type Reservation struct{}

// Reserve returns ErrNotSupported.
func Reserve(int) (*Reservation, error) { return nil, ErrNotSupported }

// Bytes returns nil.
func (r *Reservation) Bytes() []byte { return nil }

// MapShared returns ErrNotSupported.
func (r *Reservation) MapShared(int, int, int, int64) error { return ErrNotSupported }

// Unmap returns ErrNotSupported.
func (r *Reservation) Unmap(int, int) error { return ErrNotSupported }

// Free does nothing.
func (r *Reservation) Free() error { return nil }

// Memfd returns ErrNotSupported.
func Memfd(string, int) (int, error) { return -1, ErrNotSupported }

// MapFile returns ErrNotSupported.
func MapFile(int, int) ([]byte, error) { return nil, ErrNotSupported }

// UnmapFile returns ErrNotSupported.
func UnmapFile([]byte) error { return ErrNotSupported }

// Dup returns ErrNotSupported.
func Dup(int) (int, error) { return -1, ErrNotSupported }

// Close returns ErrNotSupported.
func Close(int) error { return ErrNotSupported }

// Populate returns ErrNotSupported.
func (r *Reservation) Populate(int, int) error { return ErrNotSupported }
