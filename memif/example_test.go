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

// A slave echoes packets back to its master without copying them: the
// received buffers are swapped into transmit slots.
func ExampleTxQueue_EnqueueRx() {
	dir, _ := os.MkdirTemp("", "memif-example")
	defer os.RemoveAll(dir)
	sock, _ := memif.NewSocket(memif.SocketConfig{Path: filepath.Join(dir, "memif.sock")})
	defer sock.Close()
	master, _ := sock.NewInterface(memif.InterfaceConfig{Role: memif.RoleMaster, RxMode: memif.RxModePolling})
	slave, _ := sock.NewInterface(memif.InterfaceConfig{RxMode: memif.RxModePolling})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	master.WaitConnected(ctx)
	slave.WaitConnected(ctx)

	mtx, _ := master.TxQueue(0)
	mrx, _ := master.RxQueue(0)
	srx, _ := slave.RxQueue(0)
	stx, _ := slave.TxQueue(0)
	mtx.WritePackets([][]byte{[]byte("ping 1"), []byte("ping 2")})

	bufs := make([]memif.Buffer, 32)
	got := 0
	for got < 2 && ctx.Err() == nil {
		n, _ := srx.RxBurst(bufs[got:])
		got += n
	}
	n, _ := stx.EnqueueRx(bufs[:got]) // the slave's rx buffers become tx buffers
	srx.Release(n)                    // re-post the tx slots' former buffers
	stx.TxBurst(bufs[:n])

	for got = 0; got < 2 && ctx.Err() == nil; {
		n, _ := mrx.RxBurst(bufs)
		for _, b := range bufs[:n] {
			fmt.Printf("%s\n", b.Data)
		}
		mrx.Release(n)
		got += n
	}
	// Output:
	// ping 1
	// ping 2
}
