package memif_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func rxq(t testing.TB, i *memif.Interface, n int) *memif.RxQueue {
	t.Helper()
	q, err := i.RxQueue(n)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func txq(t testing.TB, i *memif.Interface, n int) *memif.TxQueue {
	t.Helper()
	q, err := i.TxQueue(n)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// recvPackets polls q until want packets arrived (or 5 s passed) and
// returns them reassembled, releasing every buffer.
func recvPackets(t testing.TB, q *memif.RxQueue, want int) [][]byte {
	t.Helper()
	bufs := make([]memif.Buffer, 512)
	var out [][]byte
	var cur []byte
	deadline := time.Now().Add(5 * time.Second)
	for len(out) < want {
		n, err := q.RxBurst(bufs)
		if err != nil {
			t.Fatalf("RxBurst: %v", err)
		}
		for _, b := range bufs[:n] {
			cur = append(cur, b.Data...)
			if b.Flags&memif.BufferNext == 0 {
				out = append(out, cur)
				cur = nil
			}
		}
		if err := q.Release(n); err != nil {
			t.Fatalf("Release: %v", err)
		}
		if n == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("got %d packets, want %d", len(out), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return out
}

func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + seed)
	}
	return b
}

func TestPairBothDirections(t *testing.T) {
	memiftest.CheckFDLeaks(t)
	master, slave := memiftest.Pair(t, &memiftest.Options{Master: memif.InterfaceConfig{ID: 3, Name: "m"}, Slave: memif.InterfaceConfig{Name: "s"}})
	for _, dir := range []struct {
		name     string
		from, to *memif.Interface
	}{{"slave-to-master", slave, master}, {"master-to-slave", master, slave}} {
		t.Run(dir.name, func(t *testing.T) {
			var pkts [][]byte
			for i := range 100 {
				pkts = append(pkts, pattern(60+i*13, i))
			}
			n, err := txq(t, dir.from, 0).WritePackets(pkts)
			if err != nil || n != len(pkts) {
				t.Fatalf("WritePackets = %d, %v", n, err)
			}
			got := recvPackets(t, rxq(t, dir.to, 0), len(pkts))
			for i := range pkts {
				if !bytes.Equal(got[i], pkts[i]) {
					t.Fatalf("packet %d: got %d bytes, want %d (content differs)", i, len(got[i]), len(pkts[i]))
				}
			}
		})
	}
	ms, ss := master.Stats(), slave.Stats()
	if ms.RxPackets != 100 || ms.TxPackets != 100 || ss.RxPackets != 100 || ss.TxPackets != 100 {
		t.Errorf("stats: master rx %d tx %d, slave rx %d tx %d; want 100 each", ms.RxPackets, ms.TxPackets, ss.RxPackets, ss.TxPackets)
	}
	if ms.Connects != 1 || ss.Connects != 1 {
		t.Errorf("connects master %d slave %d, want 1", ms.Connects, ss.Connects)
	}
}

func TestDetails(t *testing.T) {
	master, slave := memiftest.Pair(t, &memiftest.Options{
		Socket: memif.SocketConfig{AppName: "app-x"},
		Master: memif.InterfaceConfig{ID: 9, Name: "mas", Mode: memif.ModeIP, Secret: "s3cret", RxQueues: 3, TxQueues: 2},
		Slave:  memif.InterfaceConfig{Name: "sla", Mode: memif.ModeIP, Secret: "s3cret", RxQueues: 2, TxQueues: 3, Log2RingSize: 6, BufferSize: 1024},
	})
	md, sd := master.Details(), slave.Details()
	if !md.Connected || md.PeerName != "sla" || md.PeerApp != "app-x" || md.Role != memif.RoleMaster || md.Mode != memif.ModeIP || !md.HasSecret {
		t.Errorf("master details %+v", md)
	}
	if sd.PeerName != "mas" || sd.ID != 9 || sd.Role != memif.RoleSlave {
		t.Errorf("slave details %+v", sd)
	}
	if len(sd.RxQueues) != 2 || len(sd.TxQueues) != 3 || len(md.RxQueues) != 3 || len(md.TxQueues) != 2 {
		t.Fatalf("queue counts: slave rx %d tx %d, master rx %d tx %d", len(sd.RxQueues), len(sd.TxQueues), len(md.RxQueues), len(md.TxQueues))
	}
	if q := sd.RxQueues[1]; q.RingSize != 64 || q.Log2RingSize != 6 || q.BufferSize != 1024 || q.Head != 64 {
		t.Errorf("slave rx queue 1: %+v (want 64 slots, all posted)", q)
	}
	if len(sd.Regions) != 2 || !sd.Regions[0].Rings || sd.Regions[1].Rings || sd.Regions[1].Size%uint64(os.Getpagesize()) != 0 {
		t.Errorf("slave regions %+v: want rings in 0, page-aligned buffers in 1", sd.Regions)
	}
	if want := uint64(5 * 64 * 1024); sd.Regions[1].Size != want {
		t.Errorf("buffer region %d bytes, want %d", sd.Regions[1].Size, want)
	}
	if len(md.Regions) != 2 || md.Regions[1].FD < 0 {
		t.Errorf("master regions %+v", md.Regions)
	}
}

func TestChainedJumboBothDirections(t *testing.T) {
	master, slave := memiftest.Pair(t, &memiftest.Options{Slave: memif.InterfaceConfig{BufferSize: 256, Log2RingSize: 5}})
	for _, dir := range []struct {
		name     string
		from, to *memif.Interface
	}{{"slave-to-master", slave, master}, {"master-to-slave", master, slave}} {
		t.Run(dir.name, func(t *testing.T) {
			tx := txq(t, dir.from, 0)
			sizes := []int{9000 / 4, 256, 257, 1, 0, 1000}
			for k, sz := range sizes {
				bufs := make([]memif.Buffer, 16)
				n, err := tx.Alloc(bufs, sz)
				if err != nil {
					t.Fatalf("Alloc(%d): %v", sz, err)
				}
				if want := max(1, (sz+255)/256); n != want {
					t.Fatalf("Alloc(%d) used %d buffers, want %d", sz, n, want)
				}
				p := pattern(sz, k)
				off := 0
				for _, b := range bufs[:n] {
					off += copy(b.Data, p[off:])
				}
				if _, err := tx.TxBurst(bufs[:n]); err != nil {
					t.Fatalf("TxBurst: %v", err)
				}
				got := recvPackets(t, rxq(t, dir.to, 0), 1)
				if !bytes.Equal(got[0], p) {
					t.Fatalf("size %d: got %d bytes back", sz, len(got[0]))
				}
			}
		})
	}
}

func TestAllocWholeChainOrNothing(t *testing.T) {
	master, slave := memiftest.Pair(t, &memiftest.Options{Slave: memif.InterfaceConfig{BufferSize: 128, Log2RingSize: 3}})
	_ = master
	tx := txq(t, slave, 0)
	bufs := make([]memif.Buffer, 16)
	// 8 slots: a 5-buffer packet fits, a second one does not.
	if n, err := tx.Alloc(bufs, 5*128); n != 5 || err != nil {
		t.Fatalf("first Alloc = %d, %v", n, err)
	}
	if n, err := tx.Alloc(bufs[5:], 4*128); n != 0 || !errors.Is(err, memif.ErrRingFull) {
		t.Fatalf("second Alloc = %d, %v; want 0, ErrRingFull", n, err)
	}
	if n, err := tx.Alloc(bufs[5:], 3*128); n != 3 || err != nil {
		t.Fatalf("third Alloc = %d, %v; want the 3 slots left", n, err)
	}
	if n, err := tx.Alloc(bufs[8:], 1); n != 0 || !errors.Is(err, memif.ErrRingFull) {
		t.Fatalf("Alloc on full ring = %d, %v", n, err)
	}
	if n, err := tx.Alloc(bufs[:1], 0); n != 0 || !errors.Is(err, memif.ErrRingFull) {
		t.Fatalf("Alloc on full ring = %d, %v", n, err)
	}
	if _, err := tx.TxBurst(bufs[:8]); err != nil {
		t.Fatal(err)
	}
	if st := slave.Stats(); st.TxRingFull != 3 || st.TxPackets != 2 {
		t.Errorf("stats: ring full %d, tx packets %d; want 3 and 2", st.TxRingFull, st.TxPackets)
	}
	// bufs too short for the chain.
	if n, err := tx.Alloc(bufs[:1], 300); n != 0 || !errors.Is(err, memif.ErrRingFull) && !errors.Is(err, memif.ErrShortBuffer) {
		t.Fatalf("Alloc into short slice = %d, %v", n, err)
	}
}

func TestTxBurstRejectsMisuse(t *testing.T) {
	_, slave := memiftest.Pair(t, nil)
	tx := txq(t, slave, 0)
	bufs := make([]memif.Buffer, 4)
	if _, err := tx.TxBurst(bufs[:1]); !errors.Is(err, memif.ErrInvalid) {
		t.Errorf("TxBurst of unallocated buffer: %v", err)
	}
	n, _ := tx.Alloc(bufs, 3000) // 2 buffers
	if _, err := tx.TxBurst(bufs[:1]); !errors.Is(err, memif.ErrInvalid) {
		t.Errorf("TxBurst ending inside a chain: %v", err)
	}
	bufs[1].Data = bufs[1].Data[:cap(bufs[1].Data)]
	bufs[1].Offset += 100
	if _, err := tx.TxBurst(bufs[:n]); !errors.Is(err, memif.ErrInvalid) {
		t.Errorf("TxBurst with length beyond the buffer: %v", err)
	}
	if _, err := tx.WritePackets([][]byte{{1}}); !errors.Is(err, memif.ErrInvalid) {
		t.Errorf("WritePackets with allocations pending: %v", err)
	}
	tx.Rewind()
	if tx.Pending() != 0 {
		t.Errorf("Pending after Rewind = %d", tx.Pending())
	}
	if _, err := tx.WritePackets([][]byte{{1}}); err != nil {
		t.Errorf("WritePackets after Rewind: %v", err)
	}
}

func TestRxBurstNeverSplitsChain(t *testing.T) {
	master, slave := memiftest.Pair(t, &memiftest.Options{Slave: memif.InterfaceConfig{BufferSize: 100}})
	if _, err := txq(t, slave, 0).WritePackets([][]byte{pattern(250, 1), pattern(10, 2)}); err != nil {
		t.Fatal(err)
	}
	rx := rxq(t, master, 0)
	bufs := make([]memif.Buffer, 2)
	deadline := time.Now().Add(5 * time.Second)
	var n int
	var err error
	for {
		n, err = rx.RxBurst(bufs)
		if n != 0 || err != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if n != 0 || !errors.Is(err, memif.ErrShortBuffer) {
		t.Fatalf("RxBurst with 2 slots for a 3-buffer chain = %d, %v; want 0, ErrShortBuffer", n, err)
	}
	bufs = make([]memif.Buffer, 4)
	if n, err = rx.RxBurst(bufs); n != 4 || err != nil {
		t.Fatalf("RxBurst = %d, %v; want 4", n, err)
	}
	if bufs[0].Flags != memif.BufferNext || bufs[1].Flags != memif.BufferNext || bufs[2].Flags != 0 || len(bufs[3].Data) != 10 {
		t.Errorf("chain flags %v %v %v", bufs[0].Flags, bufs[1].Flags, bufs[2].Flags)
	}
	if err := rx.Release(5); !errors.Is(err, memif.ErrInvalid) {
		t.Errorf("Release more than held: %v", err)
	}
	if err := rx.Release(-1); err != nil {
		t.Error(err)
	}
}

func TestMultiQueue(t *testing.T) {
	master, slave := memiftest.Pair(t, &memiftest.Options{
		Master: memif.InterfaceConfig{RxQueues: 4, TxQueues: 4},
		Slave:  memif.InterfaceConfig{RxQueues: 3, TxQueues: 4},
	})
	if master.NumRxQueues() != 4 || master.NumTxQueues() != 3 || slave.NumRxQueues() != 3 || slave.NumTxQueues() != 4 {
		t.Fatalf("queues: master rx %d tx %d, slave rx %d tx %d", master.NumRxQueues(), master.NumTxQueues(), slave.NumRxQueues(), slave.NumTxQueues())
	}
	var wg sync.WaitGroup
	for q := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := []byte(fmt.Sprintf("queue %d", q))
			if _, err := txq(t, slave, q).WritePackets([][]byte{p}); err != nil {
				t.Error(err)
				return
			}
			got := recvPackets(t, rxq(t, master, q), 1)
			if !bytes.Equal(got[0], p) {
				t.Errorf("queue %d got %q", q, got[0])
			}
		}()
	}
	wg.Wait()
	if _, err := master.RxQueue(4); !errors.Is(err, memif.ErrNoQueue) {
		t.Errorf("RxQueue(4) = %v, want ErrNoQueue", err)
	}
}

func TestMasterLimitsSlaveQueues(t *testing.T) {
	path := memiftest.SocketPath(t)
	sock, err := memif.NewSocket(memif.SocketConfig{Path: path, ReconnectInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	m, _ := sock.NewInterface(memif.InterfaceConfig{Role: memif.RoleMaster, RxQueues: 1})
	s, _ := sock.NewInterface(memif.InterfaceConfig{TxQueues: 2})
	waitFor(t, func() bool { return s.LastError() != nil })
	if !errors.Is(s.LastError(), memif.ErrPeerDisconnected) || !strings.Contains(s.LastError().Error(), "more than the 1 queues") || m.Connected() {
		t.Errorf("slave asking for 2 tx queues of a 1-queue master: %v", s.LastError())
	}
}

// waitFor is memiftest.WaitFor with this package's usual bound.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	memiftest.WaitFor(t, 5*time.Second, "the condition", cond)
}

func TestInterruptWait(t *testing.T) {
	master, slave := memiftest.Pair(t, nil)
	rx := rxq(t, master, 0)
	ctx := ctxT(t)
	done := make(chan error, 1)
	go func() { done <- rx.Wait(ctx) }()
	time.Sleep(10 * time.Millisecond)
	if _, err := txq(t, slave, 0).WritePackets([][]byte{{1, 2, 3}}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Wait: %v", err)
	}
	bufs := make([]memif.Buffer, 4)
	if n, _ := rx.RxBurst(bufs); n != 1 {
		t.Fatalf("RxBurst after interrupt = %d", n)
	}
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := rx.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait without traffic = %v, want deadline", err)
	}
	cctx, ccancel := context.WithCancel(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); ccancel() }()
	if err := rx.Wait(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait cancelled = %v", err)
	}
}

// TestWaitNotWokenByAnEarlierContext: a Wait whose context ended wakes
// its read by setting a deadline in the past from a context.AfterFunc; that
// function must not still be running when the Wait returns, or it cuts the
// next Wait short (which then reported context.DeadlineExceeded for a
// context that was not done, and TestInterruptWait failed now and then).
func TestWaitNotWokenByAnEarlierContext(t *testing.T) {
	master, _ := memiftest.Pair(t, nil)
	rx := rxq(t, master, 0)
	for i := range 100 {
		short, cancel := context.WithTimeout(context.Background(), 100*time.Microsecond)
		rx.Wait(short)
		cancel()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		dl, _ := ctx.Deadline()
		err := rx.Wait(ctx)
		early := time.Now().Before(dl)
		cancel()
		if err != nil && early {
			t.Fatalf("wait %d returned %v before its deadline", i, err)
		}
	}
}

func TestPollingModeMasksInterrupts(t *testing.T) {
	master, slave := memiftest.Pair(t, &memiftest.Options{Slave: memif.InterfaceConfig{RxMode: memif.RxModePolling}})
	if d := slave.Details(); d.RxQueues[0].Flags&1 == 0 || d.RxQueues[0].Mode != memif.RxModePolling {
		t.Errorf("slave rx ring flags %d, want MASK_INT", d.RxQueues[0].Flags)
	}
	rx := rxq(t, master, 0)
	if err := rx.SetMode(memif.RxModePolling); err != nil {
		t.Fatal(err)
	}
	if d := slave.Details(); d.TxQueues[0].Flags&1 == 0 {
		t.Errorf("slave sees tx ring flags %d, want MASK_INT set by the master", d.TxQueues[0].Flags)
	}
	if _, err := txq(t, slave, 0).WritePackets([][]byte{{1}}); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := rx.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait in polling mode = %v; the producer must not signal", err)
	}
	recvPackets(t, rx, 1)
	if err := rx.SetMode(memif.RxModeInterrupt); err != nil {
		t.Fatal(err)
	}
	if _, err := txq(t, slave, 0).WritePackets([][]byte{{1}}); err != nil {
		t.Fatal(err)
	}
	if err := rx.Wait(ctxT(t)); err != nil {
		t.Errorf("Wait after switching back to interrupt mode: %v", err)
	}
}

func TestSlaveZeroCopyForward(t *testing.T) {
	master, slave := memiftest.Pair(t, &memiftest.Options{Slave: memif.InterfaceConfig{Headroom: 64, BufferSize: 512}})
	pkts := [][]byte{pattern(100, 1), pattern(1200, 2), pattern(5, 3)}
	if _, err := txq(t, master, 0).WritePackets(pkts); err != nil {
		t.Fatal(err)
	}
	srx, stx := rxq(t, slave, 0), txq(t, slave, 0)
	bufs := make([]memif.Buffer, 16)
	got := 0
	deadline := time.Now().Add(5 * time.Second)
	for got < 5 { // 100 B, 1200 B (3 buffers of 448), 5 B
		n, err := srx.RxBurst(bufs[got:])
		if err != nil {
			t.Fatal(err)
		}
		got += n
		if time.Now().After(deadline) {
			t.Fatalf("slave received %d buffers", got)
		}
	}
	if bufs[0].Offset%512 != 64 || bufs[0].Region != 1 {
		t.Errorf("rx buffer at region %d offset %d: want headroom 64 in region 1", bufs[0].Region, bufs[0].Offset)
	}
	addr := &bufs[1].Data[0]
	n, err := stx.EnqueueRx(bufs[:got])
	if n != got || err != nil {
		t.Fatalf("EnqueueRx = %d, %v", n, err)
	}
	if &bufs[1].Data[0] != addr {
		t.Error("EnqueueRx moved packet bytes")
	}
	if err := srx.Release(got); err != nil {
		t.Fatal(err)
	}
	if _, err := stx.EnqueueRx(bufs[:1]); !errors.Is(err, memif.ErrInvalid) {
		t.Errorf("EnqueueRx of a tx buffer: %v", err)
	}
	if _, err := stx.TxBurst(bufs[:got]); err != nil {
		t.Fatal(err)
	}
	back := recvPackets(t, rxq(t, master, 0), 3)
	for i := range pkts {
		if !bytes.Equal(back[i], pkts[i]) {
			t.Errorf("packet %d came back with %d bytes", i, len(back[i]))
		}
	}
	// The swapped-in buffers were re-posted: the master can fill the ring again.
	var many [][]byte
	for range 1024 {
		many = append(many, pattern(64, 9))
	}
	if n, err := txq(t, master, 0).WritePackets(many); n != 1024 || err != nil {
		t.Errorf("master refill after zero-copy forward: %d, %v", n, err)
	}
	if _, err := txq(t, master, 0).EnqueueRx(bufs[:1]); !errors.Is(err, memif.ErrInvalid) {
		t.Errorf("EnqueueRx on master: %v", err)
	}
}

func TestAbstractSocket(t *testing.T) {
	name := fmt.Sprintf("@memif-wasm-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	master, slave := memiftest.Pair(t, &memiftest.Options{Socket: memif.SocketConfig{Path: name}})
	if master.Details().Socket != name {
		t.Errorf("socket %q", master.Details().Socket)
	}
	if _, err := txq(t, slave, 0).WritePackets([][]byte{{42}}); err != nil {
		t.Fatal(err)
	}
	recvPackets(t, rxq(t, master, 0), 1)
}

func TestSeveralInterfacesOnOneSocket(t *testing.T) {
	path := memiftest.SocketPath(t)
	sock, err := memif.NewSocket(memif.SocketConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	var ms, ss []*memif.Interface
	for id := range uint32(3) {
		m, err := sock.NewInterface(memif.InterfaceConfig{ID: id, Role: memif.RoleMaster})
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	if _, err := sock.NewInterface(memif.InterfaceConfig{ID: 1, Role: memif.RoleMaster}); !errors.Is(err, memif.ErrIDInUse) {
		t.Errorf("duplicate master id: %v", err)
	}
	for id := range uint32(3) {
		s, err := sock.NewInterface(memif.InterfaceConfig{ID: id})
		if err != nil {
			t.Fatal(err)
		}
		ss = append(ss, s)
	}
	for k := range ms {
		if err := ms[k].WaitConnected(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if err := ss[k].WaitConnected(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		p := []byte{byte(k), 1, 2}
		if _, err := txq(t, ss[k], 0).WritePackets([][]byte{p}); err != nil {
			t.Fatal(err)
		}
		if got := recvPackets(t, rxq(t, ms[k], 0), 1); !bytes.Equal(got[0], p) {
			t.Errorf("interface %d got %v", k, got[0])
		}
	}
}

func TestMasterSocketDirMissing(t *testing.T) {
	sock, err := memif.NewSocket(memif.SocketConfig{Path: filepath.Join(t.TempDir(), "no", "such", "dir", "m.sock")})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	_, err = sock.NewInterface(memif.InterfaceConfig{Role: memif.RoleMaster})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
	if want := "does not exist"; !bytes.Contains([]byte(err.Error()), []byte(want)) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

func TestListenOnNonSocketFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	os.WriteFile(path, nil, 0o600)
	sock, _ := memif.NewSocket(memif.SocketConfig{Path: path})
	defer sock.Close()
	if _, err := sock.NewInterface(memif.InterfaceConfig{Role: memif.RoleMaster}); !errors.Is(err, memif.ErrNotSocket) {
		t.Errorf("err = %v, want ErrNotSocket", err)
	}
}

func TestConfigValidation(t *testing.T) {
	sock, err := memif.NewSocket(memif.SocketConfig{Path: "@x"})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	tests := []struct {
		name string
		cfg  memif.InterfaceConfig
		want error
	}{
		{"too many queues", memif.InterfaceConfig{RxQueues: 256}, memif.ErrInvalid},
		{"negative queues", memif.InterfaceConfig{TxQueues: -1}, memif.ErrInvalid},
		{"log2 15", memif.InterfaceConfig{Log2RingSize: 15}, memif.ErrInvalid},
		{"long secret", memif.InterfaceConfig{Secret: "0123456789012345678901234"}, memif.ErrInvalid},
		{"long name", memif.InterfaceConfig{Name: "0123456789012345678901234567890123"}, memif.ErrInvalid},
		{"headroom", memif.InterfaceConfig{BufferSize: 128, Headroom: 128}, memif.ErrInvalid},
		{"mode", memif.InterfaceConfig{Mode: 3}, memif.ErrInvalid},
		{"role", memif.InterfaceConfig{Role: 2}, memif.ErrInvalid},
		{"rx mode", memif.InterfaceConfig{RxMode: 3}, memif.ErrInvalid},
		{"adaptive poll", memif.InterfaceConfig{AdaptivePoll: memif.MaxAdaptivePoll + 1}, memif.ErrInvalid},
		{"rx delay", memif.InterfaceConfig{RxDelay: memif.MaxRxDelay + 1}, memif.ErrInvalid},
		{"negative rx delay", memif.InterfaceConfig{RxDelay: -1}, memif.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := sock.NewInterface(tt.cfg); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	for _, c := range []memif.SocketConfig{{CacheLine: 32}, {AppName: "0123456789012345678901234567890123"}} {
		if _, err := memif.NewSocket(c); !errors.Is(err, memif.ErrInvalid) {
			t.Errorf("NewSocket(%+v) = %v", c, err)
		}
	}
}

func TestCacheLine128(t *testing.T) {
	master, slave := memiftest.Pair(t, &memiftest.Options{Socket: memif.SocketConfig{CacheLine: 128}})
	if _, err := txq(t, master, 0).WritePackets([][]byte{{7}}); err != nil {
		t.Fatal(err)
	}
	recvPackets(t, rxq(t, slave, 0), 1)
	if r := slave.Details().Regions[0]; r.Size != uint64(os.Getpagesize())*uint64((2*(256+16*1024)+os.Getpagesize()-1)/os.Getpagesize()) {
		t.Errorf("ring region %d bytes for two 128-byte-line rings", r.Size)
	}
}

func TestHandshakeRefusals(t *testing.T) {
	tests := []struct {
		name          string
		master, slave memif.InterfaceConfig
		reason        string // what the slave hears
		kind          error  // the master's LastError, once it knew the interface
		onOwnSocket   bool   // the slave shares the master's Socket
	}{
		{"mode mismatch", memif.InterfaceConfig{Mode: memif.ModeIP}, memif.InterfaceConfig{}, "mode mismatch: peer ethernet, this interface ip", memif.ErrModeMismatch, false},
		{"secret required", memif.InterfaceConfig{Secret: "abc"}, memif.InterfaceConfig{}, "secret required", memif.ErrSecret, false},
		{"secret mismatch", memif.InterfaceConfig{Secret: "abc"}, memif.InterfaceConfig{Secret: "abd"}, "incorrect secret", memif.ErrSecret, false},
		{"unmatched id", memif.InterfaceConfig{ID: 1}, memif.InterfaceConfig{ID: 2}, "no master interface with id 2 on this socket", nil, false},
		{"id of a slave", memif.InterfaceConfig{ID: 1}, memif.InterfaceConfig{ID: 2}, "interface id 2 on this socket is a slave, not a master", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			memiftest.CheckFDLeaks(t)
			sock, err := memif.NewSocket(memif.SocketConfig{Path: memiftest.SocketPath(t), ReconnectInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer sock.Close()
			tt.master.Role = memif.RoleMaster
			m, err := sock.NewInterface(tt.master)
			if err != nil {
				t.Fatal(err)
			}
			// A separate Socket for the slave, unless the case is about a
			// slave id on the master's own socket.
			ssock := sock
			if !tt.onOwnSocket {
				ssock, err = memif.NewSocket(memif.SocketConfig{Path: sock.Path(), ReconnectInterval: -1})
				if err != nil {
					t.Fatal(err)
				}
				defer ssock.Close()
			}
			s, err := ssock.NewInterface(tt.slave)
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { return s.LastError() != nil })
			var de *memif.DisconnectError
			if err := s.LastError(); !errors.As(err, &de) || !de.Remote || de.Reason != tt.reason || !errors.Is(err, memif.ErrPeerDisconnected) {
				t.Errorf("slave error %v, want the peer's DISCONNECT %q", err, tt.reason)
			}
			if tt.kind != nil {
				waitFor(t, func() bool { return m.Stats().ProtocolErrors == 1 })
				if !errors.Is(m.LastError(), tt.kind) {
					t.Errorf("master LastError %v, want %v", m.LastError(), tt.kind)
				}
			}
			waitFor(t, func() bool { return sock.Stats().Refused == 1 })
		})
	}
}

func TestDisconnectReachesPeer(t *testing.T) {
	memiftest.CheckFDLeaks(t)
	var mu sync.Mutex
	var got error
	done := make(chan struct{})
	master, slave := memiftest.Pair(t, &memiftest.Options{
		Socket: memif.SocketConfig{ReconnectInterval: -1},
		Slave: memif.InterfaceConfig{OnDisconnect: func(_ *memif.Interface, err error) {
			mu.Lock()
			got = err
			mu.Unlock()
			close(done)
		}},
	})
	rx := rxq(t, slave, 0)
	waitErr := make(chan error, 1)
	go func() { waitErr <- rx.Wait(context.Background()) }()
	time.Sleep(10 * time.Millisecond)
	master.Close()
	master.Close() // idempotent
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("slave never saw the disconnect")
	}
	mu.Lock()
	var de *memif.DisconnectError
	if !errors.As(got, &de) || !de.Remote || de.Reason != "interface closed" {
		t.Errorf("slave OnDisconnect err = %v", got)
	}
	mu.Unlock()
	select {
	case err := <-waitErr:
		if !errors.Is(err, memif.ErrDisconnected) {
			t.Errorf("Wait returned %v, want ErrDisconnected", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("disconnect did not unblock Wait")
	}
	if _, err := rx.RxBurst(make([]memif.Buffer, 4)); !errors.Is(err, memif.ErrDisconnected) {
		t.Errorf("RxBurst on a down link = %v", err)
	}
	if _, err := slave.RxQueue(0); !errors.Is(err, memif.ErrDisconnected) {
		t.Errorf("RxQueue on a down link = %v", err)
	}
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := slave.WaitConnected(short); err == nil {
		// The master is closed and reconnecting is off: must not connect.
		t.Error("slave reconnected to a closed master")
	}
}

func TestCloseUnblocksWaiters(t *testing.T) {
	sock, err := memif.NewSocket(memif.SocketConfig{Path: memiftest.SocketPath(t)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := sock.NewInterface(memif.InterfaceConfig{})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.WaitConnected(context.Background()) }()
	time.Sleep(10 * time.Millisecond)
	sock.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, memif.ErrClosed) {
			t.Errorf("WaitConnected = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock WaitConnected")
	}
	if err := sock.Close(); err != nil {
		t.Error(err)
	}
	if _, err := sock.NewInterface(memif.InterfaceConfig{}); !errors.Is(err, memif.ErrClosed) {
		t.Errorf("NewInterface after Close = %v", err)
	}
}

func TestSlaveReconnects(t *testing.T) {
	path := memiftest.SocketPath(t)
	ss, err := memif.NewSocket(memif.SocketConfig{Path: path, ReconnectInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	slave, err := ss.NewInterface(memif.InterfaceConfig{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		return errors.Is(slave.LastError(), fs.ErrNotExist) || errors.Is(slave.LastError(), syscall.ECONNREFUSED)
	})
	for round := range 2 {
		ms, err := memif.NewSocket(memif.SocketConfig{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		m, err := ms.NewInterface(memif.InterfaceConfig{Role: memif.RoleMaster})
		if err != nil {
			t.Fatal(err)
		}
		if err := slave.WaitConnected(ctxT(t)); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if _, err := txq(t, slave, 0).WritePackets([][]byte{{byte(round)}}); err != nil {
			t.Fatal(err)
		}
		recvPackets(t, rxq(t, m, 0), 1)
		ms.Close()
		waitFor(t, func() bool { return !slave.Connected() })
	}
	if st := slave.Stats(); st.Connects != 2 || st.Disconnects != 2 || st.TxPackets != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestNoFDLeakOver100Cycles(t *testing.T) {
	memiftest.CheckFDLeaks(t)
	path := memiftest.SocketPath(t)
	ms, err := memif.NewSocket(memif.SocketConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	m, err := ms.NewInterface(memif.InterfaceConfig{Role: memif.RoleMaster, RxQueues: 2, TxQueues: 2})
	if err != nil {
		t.Fatal(err)
	}
	before := memiftest.OpenFDs(t)
	goroutines := runtime.NumGoroutine()
	for i := range 100 {
		ss, err := memif.NewSocket(memif.SocketConfig{Path: path, ReconnectInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		s, err := ss.NewInterface(memif.InterfaceConfig{RxQueues: 2, TxQueues: 2, Log2RingSize: 4, BufferSize: 256})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.WaitConnected(ctxT(t)); err != nil {
			t.Fatalf("cycle %d: %v (%v)", i, err, s.LastError())
		}
		waitFor(t, m.Connected)
		if i%2 == 0 {
			ss.Close() // slave hangs up
		} else {
			m.Close() // master hangs up, then comes back
			m, err = ms.NewInterface(memif.InterfaceConfig{Role: memif.RoleMaster, RxQueues: 2, TxQueues: 2})
			if err != nil {
				t.Fatal(err)
			}
			ss.Close()
		}
		waitFor(t, func() bool { return !m.Connected() })
	}
	waitFor(t, func() bool { return memiftest.OpenFDs(t) <= before })
	// Every connection's goroutine is gone too (the master's own are not
	// counted: it is still open).
	waitFor(t, func() bool { return runtime.NumGoroutine() <= goroutines })
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name   string
		cfg    memif.InterfaceConfig
		packet int
	}{
		{"log2 1", memif.InterfaceConfig{Log2RingSize: 1, BufferSize: 64}, 100},
		{"log2 14", memif.InterfaceConfig{Log2RingSize: 14, BufferSize: 64}, 64 * 300},
		{"buffer 65535", memif.InterfaceConfig{Log2RingSize: 2, BufferSize: 65535}, 65535*3 + 1},
		{"255 queues each way", memif.InterfaceConfig{RxQueues: 255, TxQueues: 255, Log2RingSize: 1, BufferSize: 64}, 64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			master, slave := memiftest.Pair(t, &memiftest.Options{
				Master: memif.InterfaceConfig{RxQueues: tt.cfg.TxQueues, TxQueues: tt.cfg.RxQueues},
				Slave:  tt.cfg,
			})
			last := slave.NumTxQueues() - 1
			if last != max(tt.cfg.TxQueues, 1)-1 {
				t.Fatalf("%d tx queues", last+1)
			}
			p := pattern(tt.packet, 5)
			// Larger than the ring: Alloc must refuse it whole.
			if tt.packet > 64*2 && tt.cfg.Log2RingSize == 1 {
				return
			}
			if _, err := txq(t, slave, last).WritePackets([][]byte{p}); err != nil {
				t.Fatal(err)
			}
			if got := recvPackets(t, rxq(t, master, last), 1); !bytes.Equal(got[0], p) {
				t.Fatalf("got %d bytes back", len(got[0]))
			}
			if _, err := txq(t, master, 0).WritePackets([][]byte{p}); err != nil {
				t.Fatal(err)
			}
			if got := recvPackets(t, rxq(t, slave, 0), 1); !bytes.Equal(got[0], p) {
				t.Fatalf("got %d bytes back", len(got[0]))
			}
		})
	}
	t.Run("packet longer than the ring", func(t *testing.T) {
		_, slave := memiftest.Pair(t, &memiftest.Options{Slave: memif.InterfaceConfig{Log2RingSize: 1, BufferSize: 64}})
		n, err := txq(t, slave, 0).WritePackets([][]byte{make([]byte, 129)})
		if n != 0 || !errors.Is(err, memif.ErrRingFull) {
			t.Errorf("WritePackets of a 3-buffer packet into a 2-slot ring = %d, %v", n, err)
		}
	})
}

func TestCloseFromCallbacks(t *testing.T) {
	memiftest.CheckFDLeaks(t)
	path := memiftest.SocketPath(t)
	sock, err := memif.NewSocket(memif.SocketConfig{Path: path, ReconnectInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	closed := make(chan struct{})
	if _, err := sock.NewInterface(memif.InterfaceConfig{Role: memif.RoleMaster}); err != nil {
		t.Fatal(err)
	}
	s, err := sock.NewInterface(memif.InterfaceConfig{
		OnConnect: func(i *memif.Interface) { i.Close(); close(closed) },
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("OnConnect never ran or Close blocked in it")
	}
	if err := s.WaitConnected(ctxT(t)); !errors.Is(err, memif.ErrClosed) {
		t.Errorf("WaitConnected after Close in OnConnect = %v", err)
	}
	// The teardown completes once the callback has returned.
	waitFor(t, func() bool { return !s.Connected() })
	s.Close()
}

func TestSocketCloseFromCallback(t *testing.T) {
	path := memiftest.SocketPath(t)
	sock, err := memif.NewSocket(memif.SocketConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	m, err := sock.NewInterface(memif.InterfaceConfig{Role: memif.RoleMaster,
		OnConnect: func(*memif.Interface) { sock.Close(); close(done) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sock.NewInterface(memif.InterfaceConfig{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Socket.Close blocked inside OnConnect")
	}
	waitFor(t, func() bool { return !m.Connected() })
	sock.Close()
}

// TestCallbacksInOrder: OnConnect and OnDisconnect alternate, also when a
// slave reconnects at once: the last connection's OnDisconnect has run
// before the next one's OnConnect (a master may accept the next slave while
// the last one's teardown still runs).
func TestCallbacksInOrder(t *testing.T) {
	path := memiftest.SocketPath(t)
	var mu sync.Mutex
	var events []string
	record := func(e string) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}
	ms, err := memif.NewSocket(memif.SocketConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	_, err = ms.NewInterface(memif.InterfaceConfig{Role: memif.RoleMaster,
		OnConnect: func(*memif.Interface) { record("up") },
		OnDisconnect: func(*memif.Interface, error) {
			time.Sleep(time.Millisecond) // a callback that takes a moment
			record("down")
		}})
	if err != nil {
		t.Fatal(err)
	}
	const cycles = 30
	for range cycles {
		ss, err := memif.NewSocket(memif.SocketConfig{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		s, err := ss.NewInterface(memif.InterfaceConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.WaitConnected(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		ss.Close()
	}
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(events) == 2*cycles })
	for i, e := range events {
		if want := []string{"up", "down"}[i%2]; e != want {
			t.Fatalf("event %d is %q, want %q: %v", i, e, want, events)
		}
	}
}
