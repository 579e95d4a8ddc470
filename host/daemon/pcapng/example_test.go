package pcapng_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/memif-wasm/memif-wasm/host/daemon/pcapng"
)

// A capture of one received frame with its verdict as the comment: a
// 44-byte section header, a 52-byte interface block, a 144-byte packet block.
func ExampleWriter() {
	var file bytes.Buffer
	w, err := pcapng.NewWriter(&file, "example")
	if err != nil {
		panic(err)
	}
	rx, err := w.AddInterface("blue/north rx", pcapng.LinkTypeEthernet, 128)
	if err != nil {
		panic(err)
	}
	frame := make([]byte, 60)
	if err := w.WritePacket(rx, time.Unix(1700000000, 0), frame, len(frame), "verdict pass, sent: pass blue/south", pcapng.DirInbound); err != nil {
		panic(err)
	}
	fmt.Println(file.Len(), "bytes")
	// Output: 240 bytes
}
