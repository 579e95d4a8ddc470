package config_test

import (
	"fmt"

	"github.com/memif-wasm/memif-wasm/host/daemon/config"
)

// A config with two mistakes: both are reported, each with its field path.
func ExampleParse() {
	_, err := config.Parse([]byte(`
tenants:
  - name: blue
    interfaces:
      - name: north
        role: boss
        ring_size: 1000
`), "blue.yaml")
	fmt.Println(err)
	// Output:
	// config blue.yaml: tenants[0].interfaces[0].role: role "boss" is not one of slave, master, client, server
	// config blue.yaml: tenants[0].interfaces[0].ring_size: 1000 is not a power of two between 2 and 16384
}

// Defaults apply through accessors; the parsed config keeps what was written.
func ExampleInterface_RingLog2() {
	c, err := config.Parse([]byte("tenants:\n  - name: t\n    interfaces:\n      - name: i\n        ring_size: 256\n      - name: j\n        socket: /tmp/j.sock\n"), "")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, in := range c.Tenants[0].Interfaces {
		fmt.Println(in.Name, in.RingLog2(), in.NumQueues(), in.SocketPath(), in.IsMaster())
	}
	// Output:
	// i 8 1 /run/vpp/memif.sock false
	// j 10 1 /tmp/j.sock false
}
