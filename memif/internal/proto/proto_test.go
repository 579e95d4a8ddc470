package proto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func enc(m Message) []byte {
	var b [Size]byte
	Encode(&b, m)
	return b[:]
}

// TestGoldenOffsets pins every field to the byte offsets of memif.h
// (memif_msg_*_t, packed, type u16 at 0).
func TestGoldenOffsets(t *testing.T) {
	le := binary.LittleEndian
	b := enc(Hello{Name: "VPP", MinVersion: 0x0200, MaxVersion: 0x0201, MaxRegion: 3, MaxM2SRing: 4, MaxS2MRing: 5, MaxLog2RingSize: 14})
	if le.Uint16(b) != 2 || string(b[2:5]) != "VPP" || b[5] != 0 || le.Uint16(b[34:]) != 0x0200 || le.Uint16(b[36:]) != 0x0201 ||
		le.Uint16(b[38:]) != 3 || le.Uint16(b[40:]) != 4 || le.Uint16(b[42:]) != 5 || b[44] != 14 {
		t.Errorf("HELLO layout % x", b[:48])
	}
	b = enc(Init{Version: 0x0200, ID: 0x01020304, Mode: 2, Secret: "sec", Name: "app"})
	if le.Uint16(b) != 3 || le.Uint16(b[2:]) != 0x0200 || le.Uint32(b[4:]) != 0x01020304 || b[8] != 2 ||
		string(b[9:12]) != "sec" || string(b[33:36]) != "app" {
		t.Errorf("INIT layout % x", b[:68])
	}
	b = enc(AddRegion{Index: 7, Size: 0x1122334455})
	if le.Uint16(b) != 4 || le.Uint16(b[2:]) != 7 || le.Uint64(b[4:]) != 0x1122334455 {
		t.Errorf("ADD_REGION layout % x", b[:12])
	}
	b = enc(AddRing{Flags: 1, Index: 2, Region: 3, Offset: 0x10000, Log2RingSize: 10, PrivateHdrSize: 0x0506})
	if le.Uint16(b) != 5 || le.Uint16(b[2:]) != 1 || le.Uint16(b[4:]) != 2 || le.Uint16(b[6:]) != 3 ||
		le.Uint32(b[8:]) != 0x10000 || b[12] != 10 || le.Uint16(b[13:]) != 0x0506 {
		t.Errorf("ADD_RING layout % x", b[:16])
	}
	b = enc(Connect{Name: "if0"})
	if le.Uint16(b) != 6 || string(b[2:5]) != "if0" {
		t.Errorf("CONNECT layout % x", b[:8])
	}
	b = enc(Connected{Name: "if1"})
	if le.Uint16(b) != 7 || string(b[2:5]) != "if1" {
		t.Errorf("CONNECTED layout % x", b[:8])
	}
	b = enc(Disconnect{Code: 29, Reason: "bad secret"})
	if le.Uint16(b) != 8 || le.Uint32(b[2:]) != 29 || string(b[6:16]) != "bad secret" {
		t.Errorf("DISCONNECT layout % x", b[:20])
	}
	if b := enc(Ack{}); le.Uint16(b) != 1 || !bytes.Equal(b[2:], make([]byte, Size-2)) {
		t.Errorf("ACK layout % x", b[:8])
	}
}

func TestRoundTrip(t *testing.T) {
	msgs := []Message{
		Ack{},
		Hello{Name: "x", MinVersion: 1, MaxVersion: 2, MaxRegion: 255, MaxM2SRing: 254, MaxS2MRing: 253, MaxLog2RingSize: 14},
		Init{Version: Version, ID: 42, Mode: 1, Secret: strings.Repeat("s", SecretSize), Name: strings.Repeat("n", NameSize-1)},
		AddRegion{Index: 1, Size: 1 << 32},
		AddRing{Flags: RingFlagS2M, Index: 254, Region: 1, Offset: 128, Log2RingSize: 14},
		Connect{Name: "a"}, Connected{Name: "b"},
		Disconnect{Code: 1, Reason: strings.Repeat("r", ReasonSize-1)},
	}
	for _, m := range msgs {
		got, err := Decode(enc(m))
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Errorf("%s: Decode(Encode) = %#v, %v", m.Type(), got, err)
		}
	}
}

func TestStringTruncation(t *testing.T) {
	long := strings.Repeat("x", 40)
	got, _ := Decode(enc(Connect{Name: long}))
	if n := got.(Connect).Name; n != long[:NameSize-1] {
		t.Errorf("name truncated to %d bytes, want %d (NUL-terminated)", len(n), NameSize-1)
	}
	got, _ = Decode(enc(Init{Secret: long}))
	if s := got.(Init).Secret; s != long[:SecretSize] {
		t.Errorf("secret kept %d bytes, want all %d", len(s), SecretSize)
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrSize},
		{"short", make([]byte, 127), ErrSize},
		{"long", make([]byte, 129), ErrSize},
		{"type none", make([]byte, Size), ErrUnknown},
		{"type 9", append([]byte{9, 0}, make([]byte, Size-2)...), ErrUnknown},
		{"type 0x0102", append([]byte{2, 1}, make([]byte, Size-2)...), ErrUnknown},
	}
	for _, tt := range tests {
		if _, err := Decode(tt.in); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestCarriesFD(t *testing.T) {
	for ty := TypeNone; ty <= TypeDisconnect+1; ty++ {
		if got, want := ty.CarriesFD(), ty == TypeAddRegion || ty == TypeAddRing; got != want {
			t.Errorf("%s.CarriesFD() = %v", ty, got)
		}
	}
	if TypeAddRing.String() != "ADD_RING" || Type(99).String() != "Type(99)" {
		t.Error("Type.String")
	}
}

// FuzzDecode: Decode never panics, and what it accepts re-encodes to a
// canonical form that decodes to the same message.
func FuzzDecode(f *testing.F) {
	for _, m := range []Message{Ack{}, Hello{Name: "VPP 24.02"}, Init{Version: Version, ID: 1, Secret: "x"},
		AddRegion{Size: 4096}, AddRing{Flags: 1, Log2RingSize: 10}, Connect{Name: "a"}, Disconnect{Code: 3, Reason: "r"}} {
		f.Add(enc(m))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			if m != nil {
				t.Fatal("message with error")
			}
			return
		}
		if len(b) != Size {
			t.Fatalf("accepted %d bytes", len(b))
		}
		canon := enc(m)
		m2, err := Decode(canon)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !bytes.Equal(enc(m2), canon) {
			t.Fatalf("not canonical: %#v vs %#v", m, m2)
		}
	})
}
