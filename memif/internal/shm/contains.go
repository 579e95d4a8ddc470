package shm

import "unsafe"

// Contains reports whether addr is the address of a byte of b.
func Contains(b []byte, addr uintptr) bool {
	if len(b) == 0 {
		return false
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return addr >= base && addr-base < uintptr(len(b))
}
