package daemon_test

import (
	"context"
	"log"
	"os"
	"os/signal"

	"github.com/memif-wasm/memif-wasm/host/daemon"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
)

// Embedding a host in another Go program: one tenant whose interface listens
// for a memif slave (VPP, DPDK, libmemif) and runs every burst it receives
// through macswap, which sends each packet back with its MAC addresses
// swapped. The config could as well come from a file (config.Load).
func ExampleNew() {
	cfg := &config.Config{Tenants: []config.Tenant{{
		Name: "demo",
		Interfaces: []config.Interface{{
			Name:    "memif0",
			Socket:  "/run/memif-wasm/memif.sock",
			Role:    "master",
			Plugins: []config.Plugin{{File: "plugins/build/macswap.wasm"}},
		}},
	}}}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	d, err := daemon.New(ctx, cfg, daemon.Options{})
	if err != nil {
		log.Fatal(err) // names the tenant, interface, plugin or file at fault
	}
	defer d.Close() // drains the bursts in flight and sends DISCONNECT
	<-ctx.Done()
	log.Printf("%d packets received", d.Snapshot().Tenants[0].Interfaces[0].Memif.RxPackets)
}
