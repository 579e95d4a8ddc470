package responder

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/memif-wasm/memif-wasm/memif/libmemif/internal/exampletest"
	"github.com/memif-wasm/memif-wasm/sdk"
)

func testResponder() *Responder {
	return &Responder{MAC: [6]byte(exampletest.ResponderMAC), IP: [4]byte(exampletest.ResponderIP)}
}

func TestReplyARP(t *testing.T) {
	r := testResponder()
	req := exampletest.ARPRequest(t)
	dst := make([]byte, 64)
	n := r.Reply(dst, req)
	if want := exampletest.ARPReply(t); !bytes.Equal(dst[:n], want) {
		t.Fatalf("reply\n% x\nwant\n% x", dst[:n], want)
	}
	// gopacket pads to the Ethernet minimum; an unpadded request gets the
	// same reply.
	if len(req) != 60 {
		t.Fatalf("request is %d bytes, want gopacket's 60", len(req))
	}
	if n := r.Reply(dst, req[:42]); !bytes.Equal(dst[:n], exampletest.ARPReply(t)) {
		t.Fatal("reply to an unpadded request differs")
	}
	padded := append([]byte(nil), req...)
	if n := r.Reply(dst, padded); !bytes.Equal(dst[:n], exampletest.ARPReply(t)) {
		t.Fatal("reply to a padded request differs")
	}
	// In place.
	if n := r.Reply(padded, padded); !bytes.Equal(padded[:n], exampletest.ARPReply(t)) {
		t.Fatal("in-place reply differs")
	}
}

func TestReplyEcho(t *testing.T) {
	r := testResponder()
	for _, size := range []int{0, 1, 56, 1472} {
		payload := make([]byte, size)
		for i := range payload {
			payload[i] = byte(i * 3)
		}
		req := exampletest.EchoRequest(t, 0x77, uint16(size), payload)
		want := exampletest.EchoReply(t, 0x77, uint16(size), payload)
		dst := make([]byte, len(req))
		if n := r.Reply(dst, req); !bytes.Equal(dst[:n], want) {
			t.Fatalf("payload %d: reply\n% x\nwant\n% x", size, dst[:n], want)
		}
		if n := r.Reply(req, req); !bytes.Equal(req[:n], want) {
			t.Fatalf("payload %d: in-place reply differs", size)
		}
	}
}

func TestReplyEchoWithOptions(t *testing.T) {
	r := testResponder()
	req := exampletest.EchoRequest(t, 1, 2, []byte("ping"))
	// Insert 4 bytes of IPv4 options (NOP, NOP, NOP, EOL) by hand.
	ip := req[14:]
	opt := append(append(append([]byte(nil), req[:14+20]...), 1, 1, 1, 0), ip[20:]...)
	oip := opt[14:]
	oip[0] = 0x46
	binary.BigEndian.PutUint16(oip[2:4], binary.BigEndian.Uint16(oip[2:4])+4)
	oip[10], oip[11] = 0, 0
	binary.BigEndian.PutUint16(oip[10:12], sdk.Checksum(oip[:24], 0))
	dst := make([]byte, len(opt))
	n := r.Reply(dst, opt)
	if n != 60 || !bytes.Equal(dst[54:60], make([]byte, 6)) {
		t.Fatalf("reply length %d, want 54 bytes padded to 60: % x", n, dst[:n])
	}
	rip := dst[14:54]
	if !bytes.Equal(rip[20:24], []byte{1, 1, 1, 0}) || sdk.Checksum(rip[:24], 0) != 0 || sdk.Checksum(rip[24:], 0) != 0 || rip[24] != 0 {
		t.Fatalf("reply with options: % x", dst[:n])
	}
}

func TestNoReply(t *testing.T) {
	r := testResponder()
	arp := func(edit func(b []byte)) []byte {
		b := exampletest.ARPRequest(t)
		edit(b)
		return b
	}
	echo := func(edit func(b []byte)) []byte {
		b := exampletest.EchoRequest(t, 1, 1, []byte("data"))
		edit(b)
		return b
	}
	fixIP := func(b []byte) {
		b[24], b[25] = 0, 0
		binary.BigEndian.PutUint16(b[24:26], sdk.Checksum(b[14:34], 0))
	}
	tests := []struct {
		name  string
		frame []byte
	}{
		{"empty", nil},
		{"short", make([]byte, 41)},
		{"other ethertype", arp(func(b []byte) { b[12], b[13] = 0x86, 0xdd })},
		{"not our MAC", echo(func(b []byte) { b[0] = 0x04 })},
		{"ARP for another IP", arp(func(b []byte) { b[41] = 9 })},
		{"ARP reply", arp(func(b []byte) { b[21] = 2 })},
		{"ARP bad hardware type", arp(func(b []byte) { b[15] = 6 })},
		{"ARP bad sizes", arp(func(b []byte) { b[18] = 8 })},
		{"IPv6 version", echo(func(b []byte) { b[14] = 0x65; fixIP(b) })},
		{"IHL below 5", echo(func(b []byte) { b[14] = 0x44 })},
		{"total length beyond frame", echo(func(b []byte) { b[16] = 0xff; fixIP(b) })},
		{"total length below header", echo(func(b []byte) { b[16], b[17] = 0, 20; fixIP(b) })},
		{"fragment", echo(func(b []byte) { b[20] |= 0x20; fixIP(b) })},
		{"fragment offset", echo(func(b []byte) { b[21] = 1; fixIP(b) })},
		{"bad IP checksum", echo(func(b []byte) { b[24] ^= 1 })},
		{"not ICMP", echo(func(b []byte) { b[23] = 17; fixIP(b) })},
		{"another destination", echo(func(b []byte) { b[33] = 9; fixIP(b) })},
		{"echo reply", echo(func(b []byte) { b[34] = 0 })},
		{"bad ICMP checksum", echo(func(b []byte) { b[36] ^= 1 })},
		{"ICMP code", echo(func(b []byte) { b[35] = 1 })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([]byte, 2048)
			if n := r.Reply(dst, tc.frame); n != 0 {
				t.Fatalf("replied %d bytes: % x", n, dst[:n])
			}
		})
	}
	if n := r.Reply(make([]byte, 10), exampletest.ARPRequest(t)); n != 0 {
		t.Fatal("replied into a too short dst")
	}
}

func TestReplyAllocations(t *testing.T) {
	r := testResponder()
	req := exampletest.EchoRequest(t, 1, 1, make([]byte, 56))
	dst := make([]byte, len(req))
	if a := testing.AllocsPerRun(100, func() { r.Reply(dst, req) }); a != 0 {
		t.Fatalf("%.1f allocations per reply", a)
	}
}

func FuzzReply(f *testing.F) {
	f.Add(exampletest.ARPRequest(f))
	f.Add(exampletest.EchoRequest(f, 1, 2, []byte("abc")))
	r := testResponder()
	f.Fuzz(func(t *testing.T, frame []byte) {
		dst := make([]byte, max(len(frame), MinReply))
		n := r.Reply(dst, frame)
		if n == 0 {
			return
		}
		if n > max(len(frame), MinReply) || n < MinReply {
			t.Fatalf("reply of %d bytes to a %d-byte frame", n, len(frame))
		}
		if [6]byte(dst[6:12]) != r.MAC {
			t.Fatal("reply not from our MAC")
		}
		// A reply is never itself answered: no reply loops between two
		// responders.
		if r.Reply(make([]byte, MinReply+n), dst[:n]) != 0 {
			t.Fatal("reply gets a reply")
		}
		// In place gives the same bytes.
		in := make([]byte, max(len(frame), MinReply))
		copy(in, frame)
		if m := r.Reply(in, in[:len(frame)]); m != n || !bytes.Equal(in[:m], dst[:n]) {
			t.Fatal("in-place reply differs")
		}
	})
}
