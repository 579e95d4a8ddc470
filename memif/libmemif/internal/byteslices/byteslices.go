// Package byteslices reinterprets a slice of a named []byte type as
// [][]byte without copying. It is the only use of unsafe in
// memif/libmemif: TxBurst hands the caller's []RawPacketData to memif's
// WritePackets, and copying the slice headers instead would cost a
// garbage-collector write barrier per packet while the collector marks.
package byteslices

import "unsafe"

// Of returns s as a [][]byte sharing its memory. T's underlying type is
// []byte, so its elements have exactly the layout of []byte.
func Of[T ~[]byte](s []T) [][]byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*[]byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}
