package libmemif_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/memif-wasm/memif-wasm/memif/libmemif"
)

// A master and a slave in one process exchange one packet, the way a
// program written for the cgo adapter does it.
func Example() {
	if err := libmemif.Init("example"); err != nil {
		fmt.Println(err)
		return
	}
	defer libmemif.Cleanup()
	dir, err := os.MkdirTemp("", "libmemif-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	socket := filepath.Join(dir, "memif.sock")

	connected := make(chan *libmemif.Memif, 2)
	callbacks := &libmemif.MemifCallbacks{
		OnConnect: func(m *libmemif.Memif) error {
			connected <- m
			return nil
		},
	}
	master, err := libmemif.CreateInterface(&libmemif.MemifConfig{
		MemifMeta: libmemif.MemifMeta{IfName: "master", ConnID: 1, SocketFilename: socket, IsMaster: true},
	}, callbacks)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer master.Close()
	slave, err := libmemif.CreateInterface(&libmemif.MemifConfig{
		MemifMeta: libmemif.MemifMeta{IfName: "slave", ConnID: 1, SocketFilename: socket},
	}, callbacks)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer slave.Close()
	for range 2 {
		select {
		case <-connected:
		case <-time.After(5 * time.Second):
			fmt.Println("no connection")
			return
		}
	}

	if _, err := slave.TxBurst(0, []libmemif.RawPacketData{libmemif.RawPacketData("hello, memif")}); err != nil {
		fmt.Println(err)
		return
	}
	interrupts, err := master.GetQueueInterruptChan(0)
	if err != nil {
		fmt.Println(err)
		return
	}
	select {
	case <-interrupts:
	case <-time.After(5 * time.Second):
		fmt.Println("no interrupt")
		return
	}
	packets, err := master.RxBurst(0, 8)
	if err != nil || len(packets) == 0 {
		fmt.Println("nothing received", err)
		return
	}
	details, _ := master.GetDetails()
	fmt.Printf("%s got %q from %s\n", details.IfName, packets[0], details.RemoteIfName)
	// Output: master got "hello, memif" from slave
}
