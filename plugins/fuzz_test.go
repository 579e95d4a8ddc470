package plugins_test

import (
	"errors"
	"testing"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/sdk/sdktest"
)

// FuzzRustACL drives the Rust acl, in the real host, with arbitrary control
// messages and frames: its binary config parser and the SDK's header decoding
// run on hostile bytes. A control message is accepted or refused with EINVAL
// or ERANGE, a refused one changes no verdict, and no input faults the
// instance (a Rust panic would trap) or yields a verdict other than PASS or
// DROP.
func FuzzRustACL(f *testing.F) {
	wasm := rustPlugin(f, "acl")
	f.Add([]byte("MWH1"), udp4(f, "10.1.1.1", "8.8.8.8", 40000, 53))
	f.Add(cACLConfig(1, 0, cRule{allow: 0, family: 6, dstLen: 16, dst: sdktest.IP("fd00::"), sport: anyPort, dport: anyPort}),
		tcp6(f, "2001:db8::1", "fd00::5", 40000, 443))
	f.Add(cACLConfig(0, 0, cRule{allow: 1, family: 4, proto: 17, matchProto: 1, srcLen: 8, src: []byte{10}, sport: anyPort, dport: [2]uint16{53, 53}}),
		arpFrame(f))
	f.Add([]byte("MWA1\x00\x00\xff\xff"), []byte{0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x86, 0xdd, 0x60})
	ref := [][]byte{udp4(f, "10.1.1.1", "8.8.8.8", 40000, 53), tcp6(f, "2001:db8::1", "fd00::5", 40000, 443), arpFrame(f)}
	cfg := string(cACLConfig(0, 1, cRule{allow: 1, sport: anyPort, dport: [2]uint16{443, 443}}))
	f.Fuzz(func(t *testing.T, msg, frame []byte) {
		if len(frame) > 1500 || len(msg) > 60000 {
			return
		}
		p := run(t, "acl-rust-fuzz", wasm, cfg)
		b := burst(ref...)
		p.Process(b)
		before := verdicts(b)
		_, err := p.Control(0, msg, make([]byte, 64<<10))
		if err != nil && !errors.Is(err, abi.ErrInval) && !errors.Is(err, abi.ErrRange) {
			t.Fatalf("control % x: %v", msg, err)
		}
		b = burst(append(ref, frame)...)
		p.Process(b)
		got := verdicts(b)
		if err != nil && !equal(got[:len(ref)], before) {
			t.Fatalf("refused control % x changed verdicts %v -> %v", msg, before, got[:len(ref)])
		}
		if v := got[len(ref)]; v != abi.Pass && v != abi.Drop {
			t.Fatalf("frame % x: verdict %v", frame, v)
		}
		noInvalid(t, p)
	})
}
