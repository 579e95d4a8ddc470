package cputime

import (
	"errors"
	"testing"
)

// Spinning for a while shows up as CPU time, and the clock never goes back.
func TestProcessAdvances(t *testing.T) {
	before, err := Process()
	if errors.Is(err, ErrNotSupported) {
		t.Skip("no process CPU clock on this platform")
	}
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for i := range 50_000_000 {
		x += i ^ x>>3
	}
	after, err := Process()
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Fatalf("CPU time %v then %v after spinning (x=%d)", before, after, x)
	}
}
