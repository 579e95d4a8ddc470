package fuel

// LEB128 helpers. The readers are strict about length (a u32 takes at most 5
// bytes, an i64 at most 10) and about unused bits in the last byte, as the
// binary format requires, so that a value we accept decodes the same in wazero.

import "errors"

var (
	errLEBTruncated = errors.New("truncated LEB128 value")
	errLEBTooLong   = errors.New("LEB128 value too long or out of range")
)

// readU32 decodes an unsigned LEB128 value of at most 32 bits from b at off.
func readU32(b []byte, off int) (v uint32, n int, err error) {
	var shift uint
	for i := 0; ; i++ {
		if off+i >= len(b) {
			return 0, 0, errLEBTruncated
		}
		c := b[off+i]
		if i == 4 && c&0xF0 != 0 {
			return 0, 0, errLEBTooLong
		}
		v |= uint32(c&0x7F) << shift
		if c&0x80 == 0 {
			return v, i + 1, nil
		}
		shift += 7
	}
}

// readSigned decodes a signed LEB128 value of at most bits bits (33 or 64).
func readSigned(b []byte, off int, bits uint) (v int64, n int, err error) {
	maxLen := int((bits + 6) / 7)
	var shift uint
	for i := 0; i < maxLen; i++ {
		if off+i >= len(b) {
			return 0, 0, errLEBTruncated
		}
		c := b[off+i]
		if i == maxLen-1 {
			// The last byte holds bits-7*i payload bits; the rest must
			// repeat the sign bit.
			used := bits - 7*uint(i)
			rest := int8(c<<1) >> (used)
			if c&0x80 != 0 || (rest != 0 && rest != -1) {
				return 0, 0, errLEBTooLong
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
	return 0, 0, errLEBTooLong
}

// appendU32 appends v as unsigned LEB128.
func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// appendS64 appends v as signed LEB128.
func appendS64(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7F)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// sizeU32 is the encoded length of v as unsigned LEB128.
func sizeU32(v uint32) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
