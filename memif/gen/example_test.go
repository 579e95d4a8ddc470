package gen_test

import (
	"os"
	"time"

	"github.com/memif-wasm/memif-wasm/memif/gen"
)

// A report as people see it (gen --json prints the same fields for scripts): the
// link dropped once, and the 10 frames in flight then are lost.
func ExampleReport_WriteText() {
	rep := gen.Report{
		Sent: 1000, SentBytes: 64000, Received: 990, ReceivedBytes: 63360, Unique: 990, Lost: 10,
		SendTime: time.Second, TxRate: 1000, RxRate: 990, TxBitRate: 512000,
		LinkDrops: 1, LinkDown: 250 * time.Millisecond,
		Latency: gen.Latency{Min: 8 * time.Microsecond, Mean: 20 * time.Microsecond, P50: 15 * time.Microsecond,
			P90: 30 * time.Microsecond, P99: 80 * time.Microsecond, P999: 120 * time.Microsecond, Max: 130 * time.Microsecond},
	}
	rep.WriteText(os.Stdout)
	// Output:
	// sent          1000 frames, 64000 bytes in 1s (1.00 kpps, 512.00 kbit/s)
	// received      990 frames, 63360 bytes (990 pps)
	// lost          10 (1.000%)
	// duplicates    0
	// reordered     0
	// foreign       0
	// tx ring full  0 times
	// link drops    1 (down 250ms in total)
	// latency       min 8µs  mean 20µs  p50 15µs  p90 30µs  p99 80µs  p99.9 120µs  max 130µs
}
