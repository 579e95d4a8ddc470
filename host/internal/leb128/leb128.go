// Package leb128 reads and writes the LEB128 integers of the WebAssembly
// binary format, for the host's module readers (admission's pre-parser and
// the fuel rewriter): one implementation, strict about length (a u32 takes
// at most 5 bytes, an i64 at most 10) and about unused bits in the last
// byte, as the format requires, so that a value we accept decodes the same
// in wazero.
package leb128

import "errors"

// Errors of the readers.
var (
	ErrTruncated = errors.New("truncated LEB128 value")
	ErrTooLong   = errors.New("LEB128 value too long or out of range")
)

// U32 decodes an unsigned LEB128 value of at most 32 bits from b at off and
// returns it with the number of bytes it took.
func U32(b []byte, off int) (v uint32, n int, err error) {
	v64, n, err := Unsigned(b, off, 32)
	return uint32(v64), n, err
}

// Unsigned decodes an unsigned LEB128 value of at most bits bits (32 or
// 64) from b at off. Its last possible byte may hold no bits beyond them,
// nor a continuation.
func Unsigned(b []byte, off int, bits uint) (v uint64, n int, err error) {
	last := int((bits - 1) / 7)
	for i, shift := 0, uint(0); ; i, shift = i+1, shift+7 {
		if off+i >= len(b) {
			return 0, 0, ErrTruncated
		}
		c := b[off+i]
		if i == last && c>>(bits-shift) != 0 {
			return 0, 0, ErrTooLong
		}
		v |= uint64(c&0x7F) << shift
		if c&0x80 == 0 {
			return v, i + 1, nil
		}
	}
}

// Signed decodes a signed LEB128 value of at most bits bits (33 or 64).
func Signed(b []byte, off int, bits uint) (v int64, n int, err error) {
	maxLen := int((bits + 6) / 7)
	var shift uint
	for i := 0; i < maxLen; i++ {
		if off+i >= len(b) {
			return 0, 0, ErrTruncated
		}
		c := b[off+i]
		if i == maxLen-1 {
			// The last byte holds bits-7*i payload bits; the rest must
			// repeat the sign bit.
			used := bits - 7*uint(i)
			rest := int8(c<<1) >> (used)
			if c&0x80 != 0 || (rest != 0 && rest != -1) {
				return 0, 0, ErrTooLong
			}
		}
		v |= int64(c&0x7F) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v, i + 1, nil
		}
	}
	return 0, 0, ErrTooLong
}

// AppendU32 appends v as unsigned LEB128.
func AppendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// AppendS64 appends v as signed LEB128.
func AppendS64(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7F)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// SizeU32 is the encoded length of v as unsigned LEB128.
func SizeU32(v uint32) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
