package memif_test

import (
	"encoding"
	"errors"
	"testing"

	"github.com/memif-wasm/memif-wasm/memif"
)

// TestEnumText: roles and modes round-trip through their text form (the
// one parser config files, flags and the admin API share), accept the
// other names peers use, and refuse anything else naming the choices.
func TestEnumText(t *testing.T) {
	var role memif.Role
	var mode memif.Mode
	var rx memif.RxMode
	for _, tc := range []struct {
		v interface {
			encoding.TextMarshaler
			encoding.TextUnmarshaler
		}
		in, canonical string
	}{
		{&role, "slave", "slave"}, {&role, "client", "slave"}, {&role, "master", "master"}, {&role, "server", "master"},
		{&mode, "ethernet", "ethernet"}, {&mode, "ip", "ip"}, {&mode, "punt-inject", "punt-inject"}, {&mode, "punt/inject", "punt-inject"},
		{&rx, "interrupt", "interrupt"}, {&rx, "polling", "polling"}, {&rx, "adaptive", "adaptive"},
	} {
		if err := tc.v.UnmarshalText([]byte(tc.in)); err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got, err := tc.v.MarshalText(); err != nil || string(got) != tc.canonical {
			t.Errorf("%q round trip: %q, %v; want %q", tc.in, got, err, tc.canonical)
		}
	}
	for _, tc := range []struct {
		v    encoding.TextUnmarshaler
		in   string
		want string
	}{
		{&role, "boss", `memif: invalid argument: role "boss" is not one of slave, master, client, server`},
		{&mode, "", `memif: invalid argument: mode "" is not one of ethernet, ip, punt-inject`},
		{&rx, "poll", `memif: invalid argument: rx mode "poll" is not one of interrupt, polling, adaptive`},
	} {
		err := tc.v.UnmarshalText([]byte(tc.in))
		if err == nil || err.Error() != tc.want || !errors.Is(err, memif.ErrInvalid) {
			t.Errorf("%q: %v, want %q", tc.in, err, tc.want)
		}
	}
	if _, err := memif.Role(2).MarshalText(); !errors.Is(err, memif.ErrInvalid) {
		t.Errorf("Role(2).MarshalText: %v", err)
	}
	if _, err := memif.RxMode(3).MarshalText(); !errors.Is(err, memif.ErrInvalid) || memif.RxMode(3).String() != "RxMode(3)" {
		t.Errorf("RxMode(3).MarshalText: %v", err)
	}
}
