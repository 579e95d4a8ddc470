// Command macswap is a reflector: it swaps each frame's source and destination
// MAC addresses and sends it back out of the interface it came in on (TX).
// Frames shorter than an Ethernet header are dropped.
package main

import "github.com/memif-wasm/memif-wasm/sdk"

func process(b *sdk.Burst) {
	for i := range b.Len() {
		p := b.Packet(i)
		eth, ok := sdk.AsEthernet(p.Data())
		if !ok {
			p.Drop()
			continue
		}
		eth.SwapAddrs()
		p.MarkModified()
		p.TX()
	}
}

func init() { sdk.Handle(process) }

func main() {}
