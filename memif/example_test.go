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

// A slave with its reconnect timer off connects only when asked, as a
// libmemif application would with memif_request_connection.
func ExampleInterface_RequestConnection() {
	dir, _ := os.MkdirTemp("", "memif-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "memif.sock")
	ss, _ := memif.NewSocket(memif.SocketConfig{Path: path, ReconnectInterval: -1})
	defer ss.Close()
	slave, _ := ss.NewInterface(memif.InterfaceConfig{}) // no master yet: one failed attempt
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for slave.LastError() == nil && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}

	ms, _ := memif.NewSocket(memif.SocketConfig{Path: path})
	defer ms.Close()
	ms.NewInterface(memif.InterfaceConfig{Role: memif.RoleMaster})
	if err := slave.RequestConnection(); err != nil {
		fmt.Println(err)
		return
	}
	if err := slave.WaitConnected(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("connected:", slave.Connected())
	// Output: connected: true
}

// A buffer grows in place up to its capacity: here a slave forwards a
// received packet with a trailer appended, without copying it.
func ExampleBuffer_Cap() {
	dir, _ := os.MkdirTemp("", "memif-example")
	defer os.RemoveAll(dir)
	sock, _ := memif.NewSocket(memif.SocketConfig{Path: filepath.Join(dir, "memif.sock")})
	defer sock.Close()
	master, _ := sock.NewInterface(memif.InterfaceConfig{Role: memif.RoleMaster})
	slave, _ := sock.NewInterface(memif.InterfaceConfig{BufferSize: 2048, Headroom: 128})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	master.WaitConnected(ctx)
	slave.WaitConnected(ctx)

	mtx, _ := master.TxQueue(0)
	mtx.WritePackets([][]byte{[]byte("payload")})
	srx, _ := slave.RxQueue(0)
	bufs := make([]memif.Buffer, 1)
	for n := 0; n == 0 && ctx.Err() == nil; {
		n, _ = srx.RxBurst(bufs)
	}
	fmt.Println("len", len(bufs[0].Data), "cap", bufs[0].Cap())
	bufs[0].Data = append(bufs[0].Data, "+trailer"...) // within Cap: stays in the memif buffer

	stx, _ := slave.TxQueue(0)
	stx.EnqueueRx(bufs)
	srx.Release(1)
	stx.TxBurst(bufs)

	mrx, _ := master.RxQueue(0)
	for n := 0; n == 0 && ctx.Err() == nil; {
		n, _ = mrx.RxBurst(bufs)
	}
	fmt.Printf("%s\n", bufs[0].Data)
	mrx.Release(1)
	// Output:
	// len 7 cap 1920
	// payload+trailer
}

// A burst of packets of different sizes is allocated with one AllocBurst
// (a chain for the one larger than a buffer), written, and published with
// one TxBurst: the queue is locked twice for the whole burst, and the peer
// signalled once.
func ExampleTxQueue_AllocBurst() {
	dir, _ := os.MkdirTemp("", "memif-example")
	defer os.RemoveAll(dir)
	sock, _ := memif.NewSocket(memif.SocketConfig{Path: filepath.Join(dir, "memif.sock")})
	defer sock.Close()
	master, _ := sock.NewInterface(memif.InterfaceConfig{Role: memif.RoleMaster})
	slave, _ := sock.NewInterface(memif.InterfaceConfig{BufferSize: 1024})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	master.WaitConnected(ctx)
	slave.WaitConnected(ctx)

	tx, _ := slave.TxQueue(0)
	sizes := []int{60, 1500, 200}
	bufs := make([]memif.Buffer, 8) // caller-owned, reused burst after burst
	pkts, nbufs, err := tx.AllocBurst(bufs, sizes)
	fmt.Println(pkts, "packets in", nbufs, "buffers", err)
	for i := range bufs[:nbufs] {
		for j := range bufs[i].Data {
			bufs[i].Data[j] = byte(i)
		}
	}
	tx.TxBurst(bufs[:nbufs])

	rx, _ := master.RxQueue(0)
	got := make([]memif.Buffer, 8)
	n := 0
	for n < nbufs && ctx.Err() == nil {
		k, _ := rx.RxBurst(got[n:])
		n += k
	}
	for _, b := range got[:n] {
		fmt.Println(len(b.Data), b.Flags&memif.BufferNext != 0)
	}
	rx.Release(n)
	// Output:
	// 3 packets in 4 buffers <nil>
	// 60 false
	// 1024 true
	// 476 false
	// 200 false
}
