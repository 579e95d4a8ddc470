package memif_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
)

// A master and a slave in one process exchange one packet.
func Example() {
	dir, _ := os.MkdirTemp("", "memif-example")
	defer os.RemoveAll(dir)
	sock, err := memif.NewSocket(memif.SocketConfig{Path: filepath.Join(dir, "memif.sock")})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sock.Close()

	master, err := sock.NewInterface(memif.InterfaceConfig{ID: 7, Role: memif.RoleMaster, Name: "m0"})
	if err != nil {
		fmt.Println(err)
		return
	}
	slave, err := sock.NewInterface(memif.InterfaceConfig{ID: 7, Name: "s0"})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := master.WaitConnected(ctx); err != nil {
		fmt.Println(err)
		return
	}
	if err := slave.WaitConnected(ctx); err != nil {
		fmt.Println(err)
		return
	}

	tx, _ := slave.TxQueue(0)
	if _, err := tx.WritePackets([][]byte{[]byte("hello, memif")}); err != nil {
		fmt.Println(err)
		return
	}

	rx, _ := master.RxQueue(0)
	bufs := make([]memif.Buffer, 32)
	for {
		if err := rx.Wait(ctx); err != nil {
			fmt.Println(err)
			return
		}
		n, _ := rx.RxBurst(bufs)
		if n == 0 {
			continue
		}
		fmt.Printf("master got %q from %s\n", bufs[0].Data, master.Details().PeerName)
		rx.Release(n)
		break
	}
	// Output: master got "hello, memif" from s0
}
