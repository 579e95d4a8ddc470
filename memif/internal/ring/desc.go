package ring

import "errors"

// Descriptor validation errors. They are values so the hot path can return
// them without allocating.
var (
	ErrDescRegion = errors.New("descriptor region index out of range")
	ErrDescBounds = errors.New("descriptor offset+length outside its region")
	ErrDescChain  = errors.New("descriptor chain does not end within the ring")
)

// View returns the bytes that d names, after checking that its region
// exists and that offset+length lies inside it. The result has cap == len
// so a caller cannot reslice past the descriptor.
func View(regions [][]byte, d *Desc) ([]byte, error) {
	return Span(regions, d.Region, d.Offset, d.Length)
}

// Span is View for descriptor fields already loaded into variables: a hot
// loop reads each field of a shared descriptor once, into registers,
// instead of copying the descriptor through the stack.
func Span(regions [][]byte, region uint16, offset, length uint32) ([]byte, error) {
	if int(region) >= len(regions) {
		return nil, ErrDescRegion
	}
	mem := regions[region]
	end := uint64(offset) + uint64(length)
	if end > uint64(len(mem)) {
		return nil, ErrDescBounds
	}
	return mem[offset:end:end], nil
}

// ChainLen returns how many descriptors starting at index start make up one
// packet, looking at no more than avail descriptors. complete is false when
// every one of them has the NEXT flag, i.e. the chain has not ended yet.
func ChainLen(r *Ring, start uint16, avail uint32) (n uint32, complete bool) {
	for n < avail {
		f := r.Desc(start + uint16(n)).Flags
		n++
		if f&DescFlagNext == 0 {
			return n, true
		}
	}
	return n, false
}
