package dataplane_test

import (
	"encoding/hex"
	"fmt"

	"github.com/memif-wasm/memif-wasm/host/dataplane"
)

// The headers a packet trace shows for a UDP frame.
func ExampleDecodeHeaders() {
	frame, _ := hex.DecodeString("020000000002020000000001080045000024000140004011000" +
		"00a0000010a000002303900350010000068656c6c6f0a")
	for _, line := range dataplane.DecodeHeaders(frame) {
		fmt.Println(line)
	}
	// Output:
	// ethernet 02:00:00:00:00:01 -> 02:00:00:00:00:02 type 0x0800
	// ipv4 10.0.0.1 -> 10.0.0.2 proto 17 ttl 64 len 36 id 1 DF
	// udp 12345 -> 53 len 16
}
