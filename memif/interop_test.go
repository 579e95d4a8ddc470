package memif_test

// Interop tests against DPDK testpmd (memif PMD, DPDK 22.11) as a real
// peer. They run with `make interop` (MEMIF_INTEROP=1) and skip otherwise.
//
// Each echo test sends sequence-numbered frames of varied lengths on every
// queue, lets testpmd forward each rx queue back out of the same tx queue
// (io, mac or macswap), checks every returned frame byte for byte, then
// compares the Go side's counters with testpmd's port, queue and forward
// counters. The one-way tests (txonly, rxonly) check that every packet one
// side put in a ring is counted by the other. Forwarding stops before
// either side disconnects: testpmd 22.11 resets its counters on disconnect
// and can crash if the peer leaves under traffic.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/testpmd"
)

const (
	interopFramesPerQueue = 3000
	// interopWindow frames per queue are in flight at most: well below the
	// 1024-slot rings, so testpmd never finds a ring full and drops.
	interopWindow = 128
	interopMinLen = 60
	interopMaxLen = 1514 // below bsize 2048 on both sides: no chains against 22.11
	interopWait   = 60 * time.Second
	// testpmdMAC is set on testpmd's port so that mac mode's rewrite is
	// checkable; testpmdPeerMAC is testpmd's default peer address of port 0.
	testpmdMAC     = "02:dd:00:00:00:01"
	testpmdPeerMAC = "02:00:00:00:00:00"
)

var (
	goMAC  = []byte{0x02, 0x60, 0, 0, 0, 0x01}
	dstMAC = []byte{0x02, 0x60, 0, 0, 0, 0x02}
)

// echoCase is one topology: queue count, testpmd forward mode, and
// optionally an abstract socket (DPDK's default kind), a secret, and a
// ring size other than 1024 set by whichever side allocates (the slave).
type echoCase struct {
	queues   int
	mode     string
	abstract bool
	secret   string
	log2Ring int
	// zeroCopy: a testpmd client hands over its own (unsealable) memory;
	// trustUnsealed: the Go master accepts it (AllowUnsealedRegions).
	zeroCopy, trustUnsealed bool
}

func (c echoCase) String() string {
	s := fmt.Sprintf("%dq-%s", c.queues, c.mode)
	if c.abstract {
		s += "-abstract"
	}
	if c.secret != "" {
		s += "-secret"
	}
	if c.log2Ring != 0 {
		s += fmt.Sprintf("-ring%d", 1<<c.log2Ring)
	}
	if c.zeroCopy {
		s += "-zerocopy"
	}
	return s
}

func (c echoCase) socket(t *testing.T) string {
	if c.abstract {
		return fmt.Sprintf("@memif-wasm-interop-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-"))
	}
	return filepath.Join(t.TempDir(), "memif.sock")
}

// TestInteropSlaveToServer: memif-wasm slave ↔ testpmd server.
func TestInteropSlaveToServer(t *testing.T) {
	testpmd.Require(t)
	for _, c := range []echoCase{
		{queues: 1, mode: "macswap"},
		{queues: 2, mode: "mac"},
		{queues: 1, mode: "io", secret: "memif-wasm-s3cret", log2Ring: 8},
	} {
		t.Run(c.String(), func(t *testing.T) {
			ifc, pmd := startPair(t, testpmd.RoleServer, c, nil)
			runEcho(t, ifc, pmd, c)
		})
	}
}

// TestInteropMasterToClient: memif-wasm master ↔ testpmd client.
func TestInteropMasterToClient(t *testing.T) {
	testpmd.Require(t)
	for _, c := range []echoCase{
		{queues: 1, mode: "io"},
		{queues: 2, mode: "macswap"},
		{queues: 1, mode: "macswap", abstract: true, log2Ring: 12},
	} {
		t.Run(c.String(), func(t *testing.T) {
			ifc, pmd := startPair(t, testpmd.RoleClient, c, nil)
			runEcho(t, ifc, pmd, c)
		})
	}
}

// TestInteropZeroCopyClient: DPDK's zero-copy client (zero-copy=yes, no
// hugepages) hands over memory it created without MFD_ALLOW_SEALING. A
// memif-wasm master refuses it by default, naming why; trusted with
// AllowUnsealedRegions it forwards as with any client.
func TestInteropZeroCopyClient(t *testing.T) {
	testpmd.Require(t)
	t.Run("refused", func(t *testing.T) {
		c := echoCase{queues: 1, mode: "io", zeroCopy: true}
		socket := c.socket(t)
		ifc := newInterface(t, socket, memif.RoleMaster, c)
		pmd := testpmd.StartT(t, pmdConfig(testpmd.RoleClient, socket, c))
		deadline := time.Now().Add(interopWait)
		for !errors.Is(ifc.LastError(), memif.ErrUnsealedRegion) {
			if time.Now().After(deadline) {
				t.Fatalf("no refusal within %v; last error %v\n--- testpmd ---\n%s", interopWait, ifc.LastError(), pmd.Tail(3000))
			}
			time.Sleep(10 * time.Millisecond)
		}
		if ifc.Connected() {
			t.Error("connected with an unsealed region")
		}
		t.Logf("refused: %v", ifc.LastError())
	})
	t.Run("trusted", func(t *testing.T) {
		c := echoCase{queues: 1, mode: "macswap", zeroCopy: true, trustUnsealed: true}
		ifc, pmd := startPair(t, testpmd.RoleClient, c, nil)
		sealed := 0
		for _, r := range ifc.Regions() {
			if r.Sealed {
				sealed++
			}
		}
		if sealed == len(ifc.Regions()) {
			t.Fatalf("regions %+v: want DPDK's zero-copy memory unsealed", ifc.Regions())
		}
		runEcho(t, ifc, pmd, c)
	})
}

// startPair starts testpmd in pmdRole and memif-wasm in the other role, in
// the order each needs (a DPDK client dials once, so the Go master listens
// first; a Go slave retries, but the server socket must exist), and waits
// for the link.
func startPair(t *testing.T, pmdRole testpmd.Role, c echoCase, cfg func(*testpmd.Config)) (*memif.Interface, *testpmd.Process) {
	t.Helper()
	socket := c.socket(t)
	pc := pmdConfig(pmdRole, socket, c)
	if cfg != nil {
		cfg(pc)
	}
	var ifc *memif.Interface
	var pmd *testpmd.Process
	if pmdRole == testpmd.RoleServer {
		pmd = testpmd.StartT(t, pc)
		ifc = newInterface(t, socket, memif.RoleSlave, c)
	} else {
		ifc = newInterface(t, socket, memif.RoleMaster, c)
		pmd = testpmd.StartT(t, pc)
	}
	// Cleanups run last-in first-out: this one runs before either side
	// closes, so even a test that fails mid-traffic disconnects an idle
	// testpmd. Its error is irrelevant there (testpmd may be gone).
	t.Cleanup(func() { pmd.StopForwarding(context.Background()) })
	connect(t, ifc, pmd)
	return ifc, pmd
}

var pmdRoles = []testpmd.Role{testpmd.RoleServer, testpmd.RoleClient}

// TestInteropTxOnly: testpmd generates (txonly), memif-wasm receives;
// every packet testpmd put in the ring arrives, and nothing else.
func TestInteropTxOnly(t *testing.T) {
	testpmd.Require(t)
	for _, role := range pmdRoles {
		t.Run("testpmd-"+role.String(), func(t *testing.T) {
			const size = 128
			ifc, pmd := startPair(t, role, echoCase{queues: 1, mode: "txonly"}, func(c *testpmd.Config) { c.TxPacketLen = size })
			ctx := context.Background()
			rx, err := ifc.RxQueue(0)
			if err != nil {
				t.Fatal(err)
			}
			if err := pmd.StartForwarding(ctx, false); err != nil {
				t.Fatal(err)
			}
			var got, bad uint64
			bufs := make([]memif.Buffer, 64)
			// drain receives until the deadline, or with a zero deadline
			// until the ring is empty.
			drain := func(until time.Time) {
				for {
					n, err := rx.RxBurst(bufs)
					if err != nil {
						t.Fatalf("RxBurst: %v", err)
					}
					for _, b := range bufs[:n] {
						if len(b.Data) != size || b.Flags&memif.BufferNext != 0 {
							bad++
						}
					}
					got += uint64(n)
					if err := rx.Release(n); err != nil {
						t.Fatalf("Release: %v", err)
					}
					if until.IsZero() && n == 0 || !until.IsZero() && time.Now().After(until) {
						return
					}
					if n == 0 {
						time.Sleep(50 * time.Microsecond)
					}
				}
			}
			drain(time.Now().Add(300 * time.Millisecond))
			// stop returns once testpmd's lcores are done, so the ring holds
			// all that testpmd will ever send; take the rest.
			if _, err := pmd.StopForwarding(ctx); err != nil {
				t.Fatal(err)
			}
			drain(time.Time{})
			ps, err := pmd.PortStats(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got == 0 || got != ps.TxPackets {
				t.Errorf("received %d packets, testpmd sent %d", got, ps.TxPackets)
			}
			if ps.TxBytes != size*ps.TxPackets {
				t.Errorf("testpmd sent %d bytes in %d packets, want %d each", ps.TxBytes, ps.TxPackets, size)
			}
			if bad != 0 {
				t.Errorf("%d packets were not single %d-byte buffers", bad, size)
			}
			if st := ifc.Stats(); st.RxPackets != got || st.RxBytes != size*got {
				t.Errorf("memif-wasm stats rx %d packets %d bytes, want %d and %d", st.RxPackets, st.RxBytes, got, size*got)
			}
			t.Logf("testpmd txonly → memif-wasm: %d packets", got)
		})
	}
}

// TestInteropRxOnly: memif-wasm sends as fast as the ring allows, testpmd
// counts (rxonly); its counters match what was sent, to the byte.
func TestInteropRxOnly(t *testing.T) {
	testpmd.Require(t)
	for _, role := range pmdRoles {
		t.Run("testpmd-"+role.String(), func(t *testing.T) {
			const total = 20000
			ifc, pmd := startPair(t, role, echoCase{queues: 1, mode: "rxonly"}, nil)
			ctx := context.Background()
			tx, err := ifc.TxQueue(0)
			if err != nil {
				t.Fatal(err)
			}
			if err := pmd.StartForwarding(ctx, false); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(interopWait)
			var wantBytes uint64
			buf := make([][]byte, 32)
			for i := range buf {
				buf[i] = make([]byte, interopMaxLen)
			}
			pkts := make([][]byte, 0, len(buf))
			for sent := 0; sent < total; {
				pkts = pkts[:0]
				for i := 0; i < len(buf) && sent+i < total; i++ {
					pkts = append(pkts, frame(buf[i], 0, sent+i))
				}
				n, err := tx.WritePackets(pkts)
				for _, f := range pkts[:n] {
					wantBytes += uint64(len(f))
				}
				sent += n
				switch {
				case errors.Is(err, memif.ErrRingFull):
					if time.Now().After(deadline) {
						t.Fatalf("ring stayed full: testpmd took %d of %d packets", sent, total)
					}
					time.Sleep(50 * time.Microsecond)
				case err != nil:
					t.Fatalf("WritePackets: %v", err)
				}
			}
			// testpmd may still be draining the ring.
			var ps testpmd.PortStats
			for {
				if ps, err = pmd.PortStats(ctx, 0); err != nil {
					t.Fatal(err)
				}
				if ps.RxPackets >= total || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if _, err := pmd.StopForwarding(ctx); err != nil {
				t.Fatal(err)
			}
			if ps.RxPackets != total || ps.RxBytes != wantBytes || ps.RxErrors+ps.RxMissed+ps.RxNoMbuf != 0 {
				t.Errorf("testpmd port stats %+v, want %d packets and %d bytes received", ps, total, wantBytes)
			}
			if st := ifc.Stats(); st.TxPackets != total || st.TxBytes != wantBytes {
				t.Errorf("memif-wasm stats tx %d packets %d bytes, want %d and %d", st.TxPackets, st.TxBytes, total, wantBytes)
			}
			t.Logf("memif-wasm → testpmd rxonly: %d packets, %d bytes", total, wantBytes)
		})
	}
}

func pmdConfig(role testpmd.Role, socket string, c echoCase) *testpmd.Config {
	port := testpmd.Port{Role: role, Socket: socket, MAC: testpmdMAC, BufferSize: 2048, Secret: c.secret}
	if role == testpmd.RoleClient {
		port.LogRingSize = c.log2Ring
		port.ZeroCopy = c.zeroCopy
	}
	return &testpmd.Config{
		Ports:       []testpmd.Port{port},
		ForwardMode: c.mode,
		RxQueues:    c.queues,
		TxQueues:    c.queues,
	}
}

func newInterface(t *testing.T, socket string, role memif.Role, c echoCase) *memif.Interface {
	t.Helper()
	sock, err := memif.NewSocket(memif.SocketConfig{Path: socket, ReconnectInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sock.Close() })
	cfg := memif.InterfaceConfig{
		Role: role, Name: "memif-wasm0", RxQueues: c.queues, TxQueues: c.queues, BufferSize: 2048, Secret: c.secret,
		AllowUnsealedRegions: c.trustUnsealed,
	}
	if role == memif.RoleSlave {
		cfg.Log2RingSize = uint8(c.log2Ring)
	}
	ifc, err := sock.NewInterface(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ifc.Close() })
	return ifc
}

// connect waits until both ends see the link up and checks who the peer is.
func connect(t *testing.T, ifc *memif.Interface, pmd *testpmd.Process) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), interopWait)
	defer cancel()
	if err := ifc.WaitConnected(ctx); err != nil {
		t.Fatalf("memif-wasm side never connected: %v (last error: %v)\n--- testpmd ---\n%s", err, ifc.LastError(), pmd.Tail(3000))
	}
	if err := pmd.WaitLinkUp(ctx, 0); err != nil {
		t.Fatal(err)
	}
	d := ifc.Details()
	if !strings.HasPrefix(d.PeerApp, "DPDK") || d.PeerName != "net_memif0" {
		t.Errorf("peer is %q / %q, want a DPDK app and net_memif0", d.PeerApp, d.PeerName)
	}
	want := ifc.Config().RxQueues
	if ifc.NumRxQueues() != want || ifc.NumTxQueues() != want {
		t.Fatalf("negotiated %d rx / %d tx queues, want %d each", ifc.NumRxQueues(), ifc.NumTxQueues(), want)
	}
}

// frame builds the frame with sequence number seq on queue q into buf.
// Its length varies with seq over [interopMinLen, interopMaxLen].
func frame(buf []byte, q, seq int) []byte {
	n := interopMinLen + (seq*389)%(interopMaxLen-interopMinLen+1)
	f := buf[:n]
	copy(f[0:6], dstMAC)
	copy(f[6:12], goMAC)
	binary.BigEndian.PutUint16(f[12:14], 0x88b5) // IEEE local experimental
	copy(f[14:18], "MWIO")
	binary.BigEndian.PutUint16(f[18:20], uint16(q))
	binary.BigEndian.PutUint32(f[20:24], uint32(seq))
	for i := 24; i < n; i++ {
		f[i] = byte(i*7 + seq + q)
	}
	return f
}

// expect returns what testpmd's forward mode makes of a frame.
func expect(mode string, f []byte) []byte {
	out := append([]byte(nil), f...)
	switch mode {
	case "macswap":
		copy(out[0:6], f[6:12])
		copy(out[6:12], f[0:6])
	case "mac":
		copy(out[0:6], mustMAC(testpmdPeerMAC))
		copy(out[6:12], mustMAC(testpmdMAC))
	}
	return out
}

func mustMAC(s string) []byte {
	var b []byte
	for _, part := range strings.Split(s, ":") {
		var v byte
		fmt.Sscanf(part, "%02x", &v)
		b = append(b, v)
	}
	return b
}

// runEcho sends interopFramesPerQueue frames on every queue through
// testpmd and back, windowed so that no ring overflows, and checks frames
// and counters on both sides.
func runEcho(t *testing.T, ifc *memif.Interface, pmd *testpmd.Process, c echoCase) {
	ctx := context.Background()
	wantRing := 1024
	if c.log2Ring != 0 {
		wantRing = 1 << c.log2Ring
	}
	d := ifc.Details()
	for _, qd := range append(d.RxQueues, d.TxQueues...) {
		if qd.RingSize != wantRing {
			t.Fatalf("queue %d has %d slots, want %d (the slave's choice)", qd.Index, qd.RingSize, wantRing)
		}
	}
	if err := pmd.StartForwarding(ctx, false); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(interopWait)

	type queuePair struct {
		rx       *memif.RxQueue
		tx       *memif.TxQueue
		sent     int
		seen     []bool
		received int
	}
	qs := make([]*queuePair, c.queues)
	for q := range qs {
		rx, err := ifc.RxQueue(q)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := ifc.TxQueue(q)
		if err != nil {
			t.Fatal(err)
		}
		qs[q] = &queuePair{rx: rx, tx: tx, seen: make([]bool, interopFramesPerQueue)}
	}

	var wantBytes uint64
	scratch := make([]byte, interopMaxLen)
	pkts := make([][]byte, 0, interopWindow)
	frameBufs := make([][]byte, interopWindow)
	for i := range frameBufs {
		frameBufs[i] = make([]byte, interopMaxLen)
	}
	bufs := make([]memif.Buffer, 64)
	var waits, wakeups int

	for {
		done := true
		// Send the next window on every queue.
		for q, p := range qs {
			pkts = pkts[:0]
			for p.sent+len(pkts) < interopFramesPerQueue && len(pkts) < interopWindow {
				f := frame(frameBufs[len(pkts)], q, p.sent+len(pkts))
				pkts = append(pkts, f)
			}
			for len(pkts) > 0 {
				n, err := p.tx.WritePackets(pkts)
				for _, f := range pkts[:n] {
					wantBytes += uint64(len(f))
				}
				p.sent += n
				pkts = pkts[n:]
				if err != nil && !errors.Is(err, memif.ErrRingFull) {
					t.Fatalf("queue %d: WritePackets: %v", q, err)
				}
				if len(pkts) > 0 {
					if time.Now().After(deadline) {
						t.Fatalf("queue %d: tx ring stayed full; sent %d", q, p.sent)
					}
					time.Sleep(100 * time.Microsecond)
				}
			}
			if p.sent < interopFramesPerQueue {
				done = false
			}
		}
		// Receive until every queue has its window back.
		for q, p := range qs {
			for p.received < p.sent {
				if time.Now().After(deadline) {
					t.Fatalf("queue %d: %d of %d frames came back within %v\n--- testpmd ---\n%s",
						q, p.received, p.sent, interopWait, pmd.Tail(3000))
				}
				n, err := p.rx.RxBurst(bufs)
				if err != nil {
					t.Fatalf("queue %d: RxBurst: %v", q, err)
				}
				for _, b := range bufs[:n] {
					checkFrame(t, c.mode, q, b, p.seen, scratch)
				}
				p.received += n
				if err := p.rx.Release(n); err != nil {
					t.Fatalf("queue %d: Release: %v", q, err)
				}
				if n == 0 {
					// Interrupt mode: testpmd signals our eventfd after it
					// transmits. A short bound keeps a lost signal from
					// costing more than a retry.
					wctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
					err := p.rx.Wait(wctx)
					cancel()
					waits++
					if err == nil {
						wakeups++
					} else if !errors.Is(err, context.DeadlineExceeded) {
						t.Fatalf("queue %d: Wait: %v", q, err)
					}
				}
			}
			if t.Failed() {
				t.FailNow()
			}
		}
		if done {
			break
		}
	}
	total := uint64(c.queues * interopFramesPerQueue)
	t.Logf("%d frames, %d bytes each way; %d of %d waits woken by testpmd's interrupt", total, wantBytes, wakeups, waits)

	// Nothing more may arrive: every frame came back exactly once.
	time.Sleep(20 * time.Millisecond)
	for q, p := range qs {
		if n, err := p.rx.RxBurst(bufs); n != 0 || err != nil {
			t.Errorf("queue %d: %d unexpected extra frames (%v)", q, n, err)
			p.rx.Release(n)
		}
	}

	// Stop forwarding before anyone disconnects, then compare counters.
	fwd, err := pmd.StopForwarding(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f := fwd[0]; f.RxPackets != total || f.TxPackets != total || f.RxDropped+f.TxDropped != 0 {
		t.Errorf("testpmd forward stats %+v, want %d rx and tx, no drops", f, total)
	}
	ps, err := pmd.PortStats(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ps.RxPackets != total || ps.TxPackets != total || ps.RxBytes != wantBytes || ps.TxBytes != wantBytes {
		t.Errorf("testpmd port stats %+v, want %d packets and %d bytes each way", ps, total, wantBytes)
	}
	if ps.RxErrors+ps.RxMissed+ps.RxNoMbuf+ps.TxErrors != 0 {
		t.Errorf("testpmd port errors: %+v", ps)
	}
	xs, err := pmd.XStats(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	st := ifc.Stats()
	if st.TxPackets != total || st.RxPackets != total || st.TxBytes != wantBytes || st.RxBytes != wantBytes {
		t.Errorf("memif-wasm stats tx %d/%d B rx %d/%d B, want %d packets and %d bytes each way",
			st.TxPackets, st.TxBytes, st.RxPackets, st.RxBytes, total, wantBytes)
	}
	if st.BadDescriptors+st.ProtocolErrors+st.IntErrors != 0 {
		t.Errorf("memif-wasm errors: %+v", st)
	}
	for q := 0; q < c.queues; q++ {
		rxq, txq := fmt.Sprintf("rx_q%d_packets", q), fmt.Sprintf("tx_q%d_packets", q)
		if xs[rxq] != interopFramesPerQueue || xs[txq] != interopFramesPerQueue {
			t.Errorf("testpmd queue %d: %s=%d %s=%d, want %d each", q, rxq, xs[rxq], txq, xs[txq], interopFramesPerQueue)
		}
		if len(st.RxQueues) != c.queues || len(st.TxQueues) != c.queues {
			t.Fatalf("memif-wasm stats have %d rx / %d tx queues, want %d", len(st.RxQueues), len(st.TxQueues), c.queues)
		}
		if st.RxQueues[q].Packets != interopFramesPerQueue || st.TxQueues[q].Packets != interopFramesPerQueue {
			t.Errorf("memif-wasm queue %d: rx %d tx %d packets, want %d each", q, st.RxQueues[q].Packets, st.TxQueues[q].Packets, interopFramesPerQueue)
		}
	}
}

// checkFrame verifies a returned buffer against the frame that was sent
// with its sequence number, and marks it seen.
func checkFrame(t *testing.T, mode string, q int, b memif.Buffer, seen []bool, scratch []byte) {
	t.Helper()
	d := b.Data
	if b.Flags&memif.BufferNext != 0 {
		t.Errorf("queue %d: chained buffer (%d bytes) although frames fit one buffer", q, len(d))
		return
	}
	if len(d) < 24 || string(d[14:18]) != "MWIO" {
		t.Errorf("queue %d: foreign frame of %d bytes: % x", q, len(d), d[:min(len(d), 32)])
		return
	}
	fq, seq := int(binary.BigEndian.Uint16(d[18:20])), int(binary.BigEndian.Uint32(d[20:24]))
	if fq != q {
		t.Errorf("frame of queue %d came back on queue %d", fq, q)
		return
	}
	if seq >= len(seen) {
		t.Errorf("queue %d: sequence number %d out of range", q, seq)
		return
	}
	if seen[seq] {
		t.Errorf("queue %d: frame %d came back twice", q, seq)
		return
	}
	seen[seq] = true
	if want := expect(mode, frame(scratch, q, seq)); !bytes.Equal(d, want) {
		t.Errorf("queue %d frame %d: got %d bytes, want %d; first difference at byte %d",
			q, seq, len(d), len(want), firstDiff(d, want))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestInteropSecretMismatch: testpmd refuses a slave with the wrong secret,
// and memif-wasm reports the peer's DISCONNECT instead of a link.
func TestInteropSecretMismatch(t *testing.T) {
	testpmd.Require(t)
	socket := filepath.Join(t.TempDir(), "memif.sock")
	pmd := testpmd.StartT(t, pmdConfig(testpmd.RoleServer, socket, echoCase{queues: 1, mode: "io", secret: "right-secret"}))
	ifc := newInterface(t, socket, memif.RoleSlave, echoCase{queues: 1, secret: "wrong-secret"})

	deadline := time.Now().Add(interopWait)
	var de *memif.DisconnectError
	for !errors.As(ifc.LastError(), &de) {
		if time.Now().After(deadline) {
			t.Fatalf("no DISCONNECT from testpmd within %v; last error %v\n--- testpmd ---\n%s", interopWait, ifc.LastError(), pmd.Tail(3000))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !de.Remote || de.Reason == "" {
		t.Errorf("LastError = %#v, want a DISCONNECT from testpmd with a reason", de)
	}
	if ifc.Connected() {
		t.Error("connected with the wrong secret")
	}
	t.Logf("testpmd refused: %v", de)
}
