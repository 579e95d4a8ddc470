package host

import (
	"testing"

	"github.com/memif-wasm/memif-wasm/abi"
)

// FuzzCheckOutput: whatever a guest writes, an accepted PASS/TX/REDIRECT
// stays inside the bounds the host offered, and the check never panics.
func FuzzCheckOutput(f *testing.F) {
	f.Add(uint8(kindCopy), uint8(abi.TX), uint32(1<<20), uint32(64), uint32(0), uint32(1<<20), uint32(64), uint32(2048), uint32(128))
	f.Add(uint8(kindCopy), uint8(abi.TX), uint32(1<<20-128), uint32(2048+128), uint32(0), uint32(1<<20), uint32(64), uint32(2048), uint32(128))
	f.Add(uint8(kindFixed), uint8(abi.Pass), uint32(1<<20), uint32(64), uint32(0), uint32(1<<20), uint32(64), uint32(64), uint32(0))
	f.Add(uint8(kindZeroCopy), uint8(abi.Redirect), uint32(5), uint32(5), uint32(7), uint32(5), uint32(5), uint32(5), uint32(4096))
	f.Add(uint8(kindCopy), uint8(abi.Pass), uint32(0xffffffff), uint32(0xffff), uint32(0), uint32(0xfffffff0), uint32(16), uint32(0xffff), uint32(4096))
	var allow [1024]uint64
	allow[0] = 1 << 7
	f.Fuzz(func(t *testing.T, kind, verdict uint8, outData, outLen, target, inData, inLen, inCap, headroom uint32) {
		kind %= kindBad + 1
		outLen, inLen, inCap, headroom = outLen&0xffff, inLen&0xffff, inCap&0xffff, headroom%4097
		v := abi.Verdict(verdict)
		r := checkOutput(kind, v, outData, outLen, target, inData, inLen, inCap, headroom, &allow)
		if r == reasonOK && kind == kindBad {
			t.Fatal("a packet the host could not place was accepted")
		}
		if r != reasonOK || !(v == abi.Pass || v == abi.TX || v == abi.Redirect) {
			if r == reasonOK && !v.Valid() {
				t.Fatalf("invalid verdict %d accepted", v)
			}
			return
		}
		if v == abi.Redirect && target != 7 {
			t.Fatalf("redirect to %d accepted", target)
		}
		if kind == kindFixed {
			// The host gives fixed packets cap == len; they may only be rewritten.
			if outData != inData || outLen != inLen {
				t.Fatal("fixed packet moved or resized")
			}
			return
		}
		lo, hi := int64(inData)-int64(headroom), int64(inData)+int64(inCap)
		if int64(outData) < lo || int64(outData)+int64(outLen) > hi {
			t.Fatalf("accepted [%d,+%d) outside [%d,%d)", outData, outLen, lo, hi)
		}
	})
}
