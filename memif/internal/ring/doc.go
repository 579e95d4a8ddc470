// Package ring is the memif ring and descriptor layout over mapped shared
// memory: typed views, the head/tail/flags atomics and descriptor bounds
// checks. It is the only ring-side user of unsafe in memif.
//
// Layout (little-endian, cache line L = 64 or 128):
//
//	@0      cookie u32 (0x3E31F20)
//	@4      flags  u16 (bit 0: MASK_INT, owned by the ring's receiver)
//	@6      head   u16 (written by the slave on both ring types)
//	@L      tail   u16 (written by the master on both ring types)
//	@2L     descriptors, 16 bytes each: flags u16, region u16,
//	        length u32, offset u32, metadata u32
//
// head and tail are free-running: they wrap at 65536 and slot = index & mask.
package ring
