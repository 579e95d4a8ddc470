// Package sdktest builds packets and bursts for native tests of plugins
// written with package sdk. It uses gopacket, so it is for tests only: a plugin
// imports it from its _test.go files, never from the code built to wasm.
package sdktest

import (
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/memif-wasm/memif-wasm/sdk"
)

// Headroom and Tailroom are the bytes Burst leaves before and after each
// packet, like a host in copy mode does, so plugins can grow packets.
const (
	Headroom = 128
	Tailroom = 128
)

// Frame serialises ls into a frame, fixing lengths and computing checksums. It
// fails the test on a serialisation error.
func Frame(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	for _, l := range ls {
		if nl, ok := l.(interface {
			SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
		}); ok {
			for _, n := range ls {
				if nw, ok := n.(gopacket.NetworkLayer); ok {
					if err := nl.SetNetworkLayerForChecksum(nw); err != nil {
						t.Fatalf("checksum layer: %v", err)
					}
				}
			}
		}
	}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// Burst returns a burst at time now holding a copy of each frame with Headroom
// bytes before it and Tailroom after it.
func Burst(now uint64, frames ...[]byte) *sdk.Burst {
	b := new(sdk.Burst)
	b.Reset(sdk.Header{NowNanos: now, Headroom: Headroom})
	for _, f := range frames {
		buf := make([]byte, Headroom+len(f)+Tailroom)
		copy(buf[Headroom:], f)
		if b.AddWithHeadroom(buf, Headroom, len(f)) == nil {
			panic("sdktest: too many frames for one burst")
		}
	}
	return b
}

// Decode parses data with gopacket, checking that it is well formed and that
// every checksum gopacket can verify is right. It fails the test otherwise.
func Decode(t testing.TB, data []byte) gopacket.Packet {
	t.Helper()
	p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
	if el := p.ErrorLayer(); el != nil {
		t.Fatalf("decode % x: %v", data, el.Error())
	}
	return p
}

// MAC parses s or panics: for literals in tests.
func MAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// IP parses s or panics: for literals in tests. IPv4 addresses come back in
// their 4-byte form.
func IP(s string) net.IP {
	ip := net.ParseIP(s)
	if ip == nil {
		panic("sdktest: bad IP " + s)
	}
	if v4 := ip.To4(); v4 != nil {
		return v4
	}
	return ip
}

// Verdicts returns the verdict of every packet of b, in order.
func Verdicts(b *sdk.Burst) []sdk.Verdict {
	v := make([]sdk.Verdict, b.Len())
	for i := range v {
		v[i] = b.Packet(i).Verdict()
	}
	return v
}
