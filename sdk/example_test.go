package sdk_test

import (
	"fmt"

	"github.com/memif-wasm/memif-wasm/sdk"
)

// Example shows a plugin's Process as its native tests see it: build a burst,
// run the logic, read the verdicts.
func Example() {
	// Reflect UDP packets to port 7 (echo); drop everything else.
	echo := sdk.HandlerFunc(func(b *sdk.Burst) {
		var h sdk.Headers
		for i := range b.Len() {
			p := b.Packet(i)
			h.Decode(p.Data())
			if h.UDP == nil || h.UDP.DstPort() != 7 {
				p.Drop()
				continue
			}
			h.Eth.SwapAddrs()
			h.IPv4.SwapAddrs()
			p.TX()
		}
	})

	udp := []byte{
		2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, // Ethernet
		0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // IPv4
		0x30, 0x39, 0, 7, 0, 8, 0, 0, // UDP 12345 -> 7
	}
	arp := make([]byte, 42)
	arp[12], arp[13] = 0x08, 0x06

	var b sdk.Burst
	b.Reset(sdk.Header{})
	b.Add(udp)
	b.Add(arp)
	if err := echo.Process(&b); err != nil {
		fmt.Println(err)
	}
	for i := range b.Len() {
		fmt.Println(i, b.Packet(i).Verdict())
	}
	fmt.Printf("dst mac now % x\n", b.Packet(0).Data()[:6])
	// Output:
	// 0 tx
	// 1 drop
	// dst mac now 02 00 00 00 00 01
}
