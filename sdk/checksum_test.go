package sdk_test

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/memif-wasm/memif-wasm/sdk"
)

// RFC 1071 §3's worked example: the words 0001 f203 f4f5 f6f7 sum to ddf2.
func TestChecksumRFC1071(t *testing.T) {
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	if got := sdk.Fold(sdk.Sum(b, 0)); got != 0xddf2 {
		t.Fatalf("sum = %#04x, want 0xddf2", got)
	}
	if got := sdk.Checksum(b, 0); got != ^uint16(0xddf2) {
		t.Fatalf("checksum = %#04x", got)
	}
	// Odd length: the last byte is the high byte of a zero-padded word.
	if got := sdk.Fold(sdk.Sum([]byte{0x12, 0x34, 0x56}, 0)); got != 0x1234+0x5600 {
		t.Fatalf("odd sum = %#04x", got)
	}
}

// refSum is the textbook 16-bit loop the fast Sum must agree with.
func refSum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

func TestSumMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 200 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if got, want := sdk.Fold(sdk.Sum(b, 0)), refSum(b); got != want {
			t.Fatalf("len %d: Sum %#04x, reference %#04x", n, got, want)
		}
	}
	ones := make([]byte, 70000) // enough 0xffff words to carry many times
	for i := range ones {
		ones[i] = 0xff
	}
	if got := sdk.Fold(sdk.Sum(ones, 0xffffffff)); got != 0xffff {
		t.Fatalf("all-ones sum folds to %#04x", got)
	}
}

// TestIncrementalMatchesFull patches random fields of random headers and checks
// that RFC 1624 updates agree with a checksum computed from scratch.
func TestIncrementalMatchesFull(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, 40)
	for range 5000 {
		for i := range buf {
			buf[i] = byte(r.Uint32())
		}
		binary.BigEndian.PutUint16(buf[10:], 0)
		binary.BigEndian.PutUint16(buf[10:], sdk.Checksum(buf, 0))
		c := binary.BigEndian.Uint16(buf[10:])

		switch r.IntN(3) {
		case 0: // a 16-bit word
			off := 2 * (r.IntN(19) + 6) % 40
			old := binary.BigEndian.Uint16(buf[off:])
			nw := uint16(r.Uint32())
			binary.BigEndian.PutUint16(buf[off:], nw)
			c = sdk.ChecksumUpdate16(c, old, nw)
		case 1: // a 32-bit address
			off := 12 + 4*r.IntN(7)
			old := binary.BigEndian.Uint32(buf[off:])
			nw := r.Uint32()
			binary.BigEndian.PutUint32(buf[off:], nw)
			c = sdk.ChecksumUpdate32(c, old, nw)
		case 2: // a 16-byte field
			old := append([]byte(nil), buf[24:40]...)
			for i := 24; i < 40; i++ {
				buf[i] = byte(r.Uint32())
			}
			c = sdk.ChecksumUpdateBytes(c, old, buf[24:40])
		}
		binary.BigEndian.PutUint16(buf[10:], c)
		if sdk.Checksum(buf, 0) != 0 {
			t.Fatalf("incremental checksum %#04x does not verify over % x", c, buf)
		}
	}
}

// RFC 1624 §4: a header whose sum is 0xcd7a with a field changing from 0x5555
// to 0x3285 has the new checksum 0x0000, where RFC 1141's form gave 0xffff.
func TestChecksumUpdateRFC1624Example(t *testing.T) {
	if got := sdk.ChecksumUpdate16(0xdd2f, 0x5555, 0x3285); got != 0x0000 {
		t.Fatalf("ChecksumUpdate16 = %#04x, want 0x0000", got)
	}
}

func BenchmarkChecksum1500(b *testing.B) {
	buf := make([]byte, 1500)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		sdk.Checksum(buf, 0)
	}
}
