// Package mmap reserves address space for guest linear memory and maps shared
// files over parts of it. It is the only package of host/ that makes syscalls
// or uses unsafe.
//
// A Reservation is one private anonymous mapping of a fixed size made once and
// never moved, so slices of it stay valid for its whole life. MapShared places a
// file (a memif buffer region, a memfd) over a page-aligned range with
// MAP_FIXED|MAP_SHARED; Unmap puts private zero pages back. Free releases
// everything. On systems other than Linux every constructor returns
// ErrNotSupported.
package mmap
