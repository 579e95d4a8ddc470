package byteslices

import (
	"bytes"
	"testing"
)

type raw []byte

func TestOf(t *testing.T) {
	if Of[raw](nil) != nil {
		t.Fatal("nil slice")
	}
	s := []raw{raw("a"), nil, raw("ccc")}
	b := Of(s)
	if len(b) != 3 || !bytes.Equal(b[0], []byte("a")) || b[1] != nil || !bytes.Equal(b[2], []byte("ccc")) {
		t.Fatalf("%q", b)
	}
	b[2][0] = 'x' // shares memory
	if s[2][0] != 'x' {
		t.Fatal("not shared")
	}
	if a := testing.AllocsPerRun(10, func() { Of(s) }); a != 0 {
		t.Fatalf("%.0f allocations", a)
	}
}
