package dataplane

import (
	"encoding/hex"
	"slices"
	"strings"
	"testing"
)

func frameHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeHeaders(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame string
		want  []string
	}{
		{"udp over ipv4", `020000000002 020000000001 0800
			4500 001c 0001 4000 40 11 0000 0a000001 0a000002
			3039 0035 0008 0000`, []string{
			"ethernet 02:00:00:00:00:01 -> 02:00:00:00:00:02 type 0x0800",
			"ipv4 10.0.0.1 -> 10.0.0.2 proto 17 ttl 64 len 28 id 1 DF",
			"udp 12345 -> 53 len 8"}},
		{"tcp syn in a vlan", `ffffffffffff 020000000001 8100 2064 0800
			4500 0028 0000 0000 40 06 0000 c0a80001 c0a80002
			1f90 0050 00000001 00000000 5002 0000`, []string{
			"ethernet 02:00:00:00:00:01 -> ff:ff:ff:ff:ff:ff type 0x8100",
			"vlan 100 priority 1 type 0x0800",
			"ipv4 192.168.0.1 -> 192.168.0.2 proto 6 ttl 64 len 40 id 0",
			"tcp 8080 -> 80 seq 1 flags SYN"}},
		{"icmpv6 echo", `333300000001 020000000001 86dd
			60000000 0008 3a 40 fe800000000000000000000000000001 ff020000000000000000000000000001
			8000 0000`, []string{
			"ethernet 02:00:00:00:00:01 -> 33:33:00:00:00:01 type 0x86dd",
			"ipv6 fe80::1 -> ff02::1 next 58 hop limit 64 payload 8",
			"icmpv6 type 128 code 0"}},
		{"arp request", `ffffffffffff 020000000001 0806
			0001 0800 06 04 0001 020000000001 0a000001 000000000000 0a000002`, []string{
			"ethernet 02:00:00:00:00:01 -> ff:ff:ff:ff:ff:ff type 0x0806",
			"arp op 1 10.0.0.1 (02:00:00:00:00:01) -> 10.0.0.2 (00:00:00:00:00:00)"}},
		{"later fragment", `020000000002 020000000001 0800
			4500 001c 0001 0001 40 11 0000 0a000001 0a000002 3039`, []string{
			"ethernet 02:00:00:00:00:01 -> 02:00:00:00:00:02 type 0x0800",
			"ipv4 10.0.0.1 -> 10.0.0.2 proto 17 ttl 64 len 28 id 1 frag offset 8"}},
		{"truncated udp", `020000000002 020000000001 0800
			4500 001c 0001 0000 40 11 0000 0a000001 0a000002 3039`, []string{
			"ethernet 02:00:00:00:00:01 -> 02:00:00:00:00:02 type 0x0800",
			"ipv4 10.0.0.1 -> 10.0.0.2 proto 17 ttl 64 len 28 id 1",
			"udp: truncated"}},
		{"ipv4 header length beyond the bytes", `020000000002 020000000001 0800
			4f00 001c 0001 0000 40 11 0000 0a000001 0a000002`, []string{
			"ethernet 02:00:00:00:00:01 -> 02:00:00:00:00:02 type 0x0800",
			"ipv4 10.0.0.1 -> 10.0.0.2 proto 17 ttl 64 len 28 id 1",
			"ipv4: header length 60 beyond the bytes kept"}},
		{"runt", `0200000000`, []string{"ethernet: truncated (5 bytes)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := DecodeHeaders(frameHex(t, tc.frame)); !slices.Equal(got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// FuzzDecodeHeaders: any bytes decode without a panic, into at least one line.
func FuzzDecodeHeaders(f *testing.F) {
	f.Add([]byte{})
	f.Add(frameHex(f, `020000000002 020000000001 8100 2064 88a8 0001 86dd 60000000 0008 06 40`))
	f.Add(frameHex(f, `020000000002 020000000001 0800 4500 001c 0001 4000 40 11 0000 0a000001 0a000002 3039 0035 0008 0000`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(DecodeHeaders(b)) == 0 {
			t.Fatal("no line")
		}
	})
}
