package testpmd_test

import (
	"context"
	"fmt"
	"log"

	"github.com/memif-wasm/memif-wasm/memif/testpmd"
)

// testpmd's own memif loopback: a server and a client vdev on one socket,
// io forwarding seeded with one burst per port. (Not run by go test: it
// needs DPDK; TestInteropTestpmdLoopback runs the same steps.)
func Example_loopback() {
	ctx := context.Background()
	p, err := testpmd.Start(ctx, &testpmd.Config{
		Ports: []testpmd.Port{
			{Role: testpmd.RoleServer, Socket: "/tmp/loop.sock"},
			{Role: testpmd.RoleClient, Socket: "/tmp/loop.sock"},
		},
	})
	if err != nil {
		log.Fatal(err) // the error carries the tail of testpmd's output
	}
	defer p.Close()
	for port := range 2 {
		if err := p.WaitLinkUp(ctx, port); err != nil {
			log.Fatal(err)
		}
	}
	if err := p.StartForwarding(ctx, true); err != nil {
		log.Fatal(err)
	}
	fwd, err := p.StopForwarding(ctx) // before any peer disconnects
	if err != nil {
		log.Fatal(err)
	}
	stats, err := p.PortStats(ctx, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(fwd[0].RxPackets > 0, stats.RxPackets >= fwd[0].RxPackets)
}
