package leb128

import (
	"errors"
	"math"
	"testing"
)

func TestReadU32(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want uint32
		n    int
		err  error
	}{
		{"zero", []byte{0}, 0, 1, nil},
		{"one byte max", []byte{0x7F}, 127, 1, nil},
		{"two bytes", []byte{0x80, 0x01}, 128, 2, nil},
		{"padded zero", []byte{0x80, 0x80, 0x80, 0x80, 0x00}, 0, 5, nil},
		{"max", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x0F}, math.MaxUint32, 5, nil},
		{"33 bits", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x1F}, 0, 0, ErrTooLong},
		{"six bytes", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 0, 0, ErrTooLong},
		{"truncated", []byte{0x80}, 0, 0, ErrTruncated},
		{"empty", nil, 0, 0, ErrTruncated},
	}
	for _, tt := range tests {
		v, n, err := U32(tt.in, 0)
		if v != tt.want || n != tt.n || !errors.Is(err, tt.err) {
			t.Errorf("%s: U32 = %d, %d, %v; want %d, %d, %v", tt.name, v, n, err, tt.want, tt.n, tt.err)
		}
	}
}

func TestReadSigned(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		bits uint
		want int64
		err  error
	}{
		{"zero", []byte{0}, 64, 0, nil},
		{"minus one", []byte{0x7F}, 64, -1, nil},
		{"minus 64", []byte{0x40}, 32, -64, nil},
		{"64", []byte{0xC0, 0x00}, 32, 64, nil},
		{"i32 min", []byte{0x80, 0x80, 0x80, 0x80, 0x78}, 32, math.MinInt32, nil},
		{"i32 max", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x07}, 32, math.MaxInt32, nil},
		{"i32 overflow", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x0F}, 32, 0, ErrTooLong},
		{"i64 min", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7F}, 64, math.MinInt64, nil},
		{"i64 max", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00}, 64, math.MaxInt64, nil},
		{"i64 bad last byte", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}, 64, 0, ErrTooLong},
		{"s33 type index", []byte{0x80, 0x80, 0x80, 0x80, 0x0F}, 33, 0xF0000000, nil},
		{"s33 negative", []byte{0x80, 0x80, 0x80, 0x80, 0x70}, 33, -1 << 32, nil},
		{"s33 overflow", []byte{0x80, 0x80, 0x80, 0x80, 0x20}, 33, 0, ErrTooLong},
		{"eleven bytes", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 64, 0, ErrTooLong},
		{"truncated", []byte{0xFF}, 64, 0, ErrTruncated},
	}
	for _, tt := range tests {
		v, _, err := Signed(tt.in, 0, tt.bits)
		if v != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("%s: Signed = %d, %v; want %d, %v", tt.name, v, err, tt.want, tt.err)
		}
	}
}

func TestU64(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   []byte
		want uint64
		err  error
	}{
		{"zero", []byte{0}, 0, nil},
		{"2^32", []byte{0x80, 0x80, 0x80, 0x80, 0x10}, 1 << 32, nil},
		{"max", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}, math.MaxUint64, nil},
		{"65 bits", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02}, 0, ErrTooLong},
		{"eleven bytes", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 0, ErrTooLong},
		{"truncated", []byte{0x80, 0x80}, 0, ErrTruncated},
	} {
		v, _, err := Unsigned(tt.in, 0, 64)
		if v != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("%s: Unsigned 64 = %d, %v; want %d, %v", tt.name, v, err, tt.want, tt.err)
		}
	}
}

func TestLEBRoundTrip(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, 64, -64, -65, 1 << 40, math.MaxInt64, math.MinInt64, 1<<62 - 1} {
		b := AppendS64(nil, v)
		got, n, err := Signed(b, 0, 64)
		if err != nil || got != v || n != len(b) {
			t.Errorf("s64 %d: encoded %x, read %d (%d bytes), %v", v, b, got, n, err)
		}
	}
	for _, v := range []uint32{0, 1, 127, 128, 1 << 14, 1 << 21, 1 << 28, math.MaxUint32} {
		b := AppendU32(nil, v)
		got, n, err := U32(b, 0)
		if err != nil || got != v || n != len(b) || n != SizeU32(v) {
			t.Errorf("u32 %d: encoded %x, read %d (%d bytes), %v", v, b, got, n, err)
		}
	}
}
