package libmemif

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

func TestErrorCodes(t *testing.T) {
	want := []*MemifError{
		ErrSyscall, ErrConnRefused, ErrAccess, ErrNoFile, ErrFileLimit, ErrProcFileLimit, ErrAlready,
		ErrAgain, ErrBadFd, ErrNoMem, ErrInvalArgs, ErrNoConn, ErrConn, ErrClbFDUpdate, ErrFileNotSock,
		ErrNoShmFD, ErrCookie, ErrNoBufRing, ErrNoBuf, ErrNoBufDetails, ErrIntWrite, ErrMalformedMsg, ErrQueueID,
		ErrProto, ErrIfID, ErrAcceptSlave, ErrAlreadyConn, ErrMode, ErrSecret, ErrNoSecret, ErrMaxRegion,
		ErrMaxRing, ErrNotIntFD, ErrDisconnect, ErrDisconnected, ErrUnknownMsg, ErrPollCanceled,
	}
	for i, e := range want {
		code := i + 1
		if e.Code() != code {
			t.Errorf("error %d has code %d", code, e.Code())
		}
		if e.Error() != "libmemif: "+cStrings[code] {
			t.Errorf("code %d: message %q, want libmemif's %q", code, e.Error(), cStrings[code])
		}
		if errorByCode(code) != e {
			t.Errorf("errorByCode(%d) = %v", code, errorByCode(code))
		}
	}
	// Two texts pinned as C libmemif spells them.
	if ErrAccess.Error() != "libmemif: Permission to resoure denied." || ErrNoBufRing.Error() != "libmemif: Ring buffer full." {
		t.Errorf("C texts changed: %q, %q", ErrAccess, ErrNoBufRing)
	}
	for _, c := range []struct {
		e    *MemifError
		code int
		text string
	}{
		{ErrNotInit, 100, "libmemif: libmemif is not initialized"},
		{ErrAlreadyInit, 101, "libmemif: libmemif is already initialized"},
		{ErrUnsupported, 102, "libmemif: the feature is not supported by C-libmemif"},
		{ErrUnknown, -1, "libmemif: unknown error"},
	} {
		if c.e.Code() != c.code || c.e.Error() != c.text {
			t.Errorf("got (%d, %q), want (%d, %q)", c.e.Code(), c.e.Error(), c.code, c.text)
		}
	}
	if errorByCode(38) != ErrUnknown || errorByCode(0) != ErrUnknown {
		t.Error("codes outside the adapter's table are not mapped to ErrUnknown")
	}
}

func TestToMemifError(t *testing.T) {
	tests := []struct {
		in   error
		want error
	}{
		{nil, nil},
		{fmt.Errorf("x: %w", memif.ErrInvalid), ErrInvalArgs},
		{memif.ErrClosed, ErrNoConn},
		{memif.ErrBadDescriptor, ErrDisconnected},
		{memif.ErrBadRingIndex, ErrDisconnected},
		{&memif.DisconnectError{Remote: true, Code: 0, Reason: "bye"}, ErrDisconnect},
		{&memif.DisconnectError{Reason: "incorrect secret", Err: memif.ErrSecret}, ErrSecret},
		{&memif.DisconnectError{Reason: "ring", Err: memif.ErrLimit}, ErrMaxRing},
		{&memif.DisconnectError{Reason: "interface closed", Err: memif.ErrClosed}, ErrNoConn},
		{fmt.Errorf("memif: interface 1: rx queue 3 of 1: %w", memif.ErrNoQueue), ErrQueueID},
		{fmt.Errorf("memif: connect to /x: %w", syscall.ENOENT), ErrNoFile},
		{fmt.Errorf("memif: connect to /x: %w", syscall.ECONNREFUSED), ErrConnRefused},
		{fmt.Errorf("memif: connect to /x: %w", syscall.EIO), ErrSyscall},
		{memif.ErrRingFull, ErrNoBufRing},
		{memif.ErrShortBuffer, ErrNoBuf},
		{errors.New("other"), ErrUnknown},
		{ErrQueueID, ErrQueueID},
	}
	for _, tc := range tests {
		if got := toMemifError(tc.in); got != tc.want {
			t.Errorf("toMemifError(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestCallsBeforeInit(t *testing.T) {
	if err := Cleanup(); err != ErrNotInit {
		t.Errorf("Cleanup before Init: %v, want ErrNotInit", err)
	}
	if _, err := CreateInterface(&MemifConfig{}, nil); err != ErrNotInit {
		t.Errorf("CreateInterface before Init: %v, want ErrNotInit", err)
	}
	if _, err := CreateInterface(nil, nil); err != ErrNotInit {
		t.Errorf("CreateInterface(nil) before Init: %v, want ErrNotInit", err)
	}
}

func TestInitOnce(t *testing.T) {
	initLib(t)
	if err := Init("again"); err != ErrAlreadyInit {
		t.Fatalf("second Init: %v, want ErrAlreadyInit", err)
	}
}

func TestInitAfterCleanup(t *testing.T) {
	if err := Init("a"); err != nil {
		t.Fatal(err)
	}
	if err := Cleanup(); err != nil {
		t.Fatal(err)
	}
	if err := Cleanup(); err != ErrNotInit {
		t.Fatalf("second Cleanup: %v, want ErrNotInit", err)
	}
	initLib(t)
}

func TestConfigOutsideLimits(t *testing.T) {
	initLib(t)
	path := memiftest.SocketPath(t)
	tests := []struct {
		name string
		cfg  *MemifConfig
		want error
	}{
		{"nil config", nil, ErrInvalArgs},
		{"mode 3", &MemifConfig{MemifMeta: MemifMeta{SocketFilename: path, Mode: 3}}, ErrInvalArgs},
		{"mode -1", &MemifConfig{MemifMeta: MemifMeta{SocketFilename: path, Mode: -1}}, ErrInvalArgs},
		{"log2 ring 15", &MemifConfig{MemifMeta: MemifMeta{SocketFilename: path}, MemifShmSpecs: MemifShmSpecs{Log2RingSize: 15}}, ErrMaxRing},
		{"missing socket directory", &MemifConfig{MemifMeta: MemifMeta{SocketFilename: "/nonexistent-dir/x.sock", IsMaster: true}}, ErrNoFile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := CreateInterface(tc.cfg, nil)
			if err != tc.want {
				if m != nil {
					m.Close()
				}
				t.Fatalf("CreateInterface: %v, want %v", err, tc.want)
			}
		})
	}
	// The same id twice in the same role on one socket.
	cfg := &MemifConfig{MemifMeta: MemifMeta{SocketFilename: path, IsMaster: true, ConnID: 3}}
	m, err := CreateInterface(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := CreateInterface(cfg, nil); err != ErrConn {
		t.Fatalf("duplicate id: %v, want ErrConn", err)
	}
}

func TestDefaultsAndDetails(t *testing.T) {
	initLib(t)
	m, p := pair(t, MemifConfig{MemifMeta: MemifMeta{IfName: "lm0", ConnID: 4}}, memif.InterfaceConfig{Name: "peer0"}, nil)
	d, err := m.GetDetails()
	if err != nil {
		t.Fatal(err)
	}
	if d.IfName != "lm0" || d.InstanceName != "libmemif-test" || d.ConnID != 4 || d.IsMaster || d.Mode != IfModeEthernet {
		t.Errorf("meta = %+v", d.MemifMeta)
	}
	if d.RemoteIfName != "peer0" || d.RemoteInstanceName != "example-peer" || !d.HasLink {
		t.Errorf("conn = %+v", d.MemifConnDetails)
	}
	want := []MemifQueueDetails{{QueueID: 0, RingSize: 1024, BufferSize: 2048}}
	if fmt.Sprint(d.RxQueues) != fmt.Sprint(want) || fmt.Sprint(d.TxQueues) != fmt.Sprint(want) {
		t.Errorf("queues rx %+v tx %+v, want %+v each", d.RxQueues, d.TxQueues, want)
	}
	pd := p.Details()
	if pd.PeerName != "lm0" || pd.PeerApp != "libmemif-test" {
		t.Errorf("peer sees name %q app %q", pd.PeerName, pd.PeerApp)
	}
}

func TestTruncation(t *testing.T) {
	initLib(t)
	long := strings.Repeat("n", 40)
	secret := strings.Repeat("s", 30)
	// An abstract socket, so the 120-byte path needs no directory.
	path := "@" + strings.Repeat("p", 119)
	cfg := MemifConfig{MemifMeta: MemifMeta{
		IfName: long, InstanceName: long + "i", SocketFilename: path, Secret: secret, IsMaster: true, ConnID: 1,
	}}
	m, err := CreateInterface(&cfg, nil)
	if err != nil {
		t.Fatalf("CreateInterface: %v", err)
	}
	defer m.Close()
	// The peer uses exactly the truncated values: connecting proves what
	// went on the wire.
	p := peer(t, path[:107], memif.InterfaceConfig{ID: 1, Secret: secret[:24]})
	ctx, cancel := contextWithTimeout()
	defer cancel()
	if err := p.WaitConnected(ctx); err != nil {
		t.Fatalf("peer with the truncated path and secret did not connect: %v (%v)", err, p.LastError())
	}
	d := p.Details()
	if d.PeerName != long[:31] || d.PeerApp != (long + "i")[:31] {
		t.Errorf("peer saw name %q app %q", d.PeerName, d.PeerApp)
	}
	if m.IfName != long[:31] || m.Secret != secret[:24] || m.SocketFilename != path[:107] {
		t.Errorf("Memif meta not truncated: %+v", m.MemifMeta)
	}
}

func TestRxTxBothRoles(t *testing.T) {
	for _, master := range []bool{true, false} {
		t.Run(fmt.Sprintf("master=%v", master), func(t *testing.T) {
			initLib(t)
			memiftest.CheckFDLeaks(t)
			m, p := pair(t, MemifConfig{MemifMeta: MemifMeta{IsMaster: master, ConnID: 9, Secret: "pw"}}, memif.InterfaceConfig{Secret: "pw"}, nil)
			var out []RawPacketData
			for i := range 100 {
				out = append(out, pattern(14+i*13, byte(i)))
			}
			sendAll(t, m, 0, out)
			got := peerRecv(t, p, 0, len(out))
			for i := range out {
				if !bytes.Equal(got[i], out[i]) {
					t.Fatalf("packet %d: peer got %d bytes, want %d (content differs)", i, len(got[i]), len(out[i]))
				}
			}
			var in [][]byte
			for i := range 100 {
				in = append(in, pattern(60+i*11, byte(i+50)))
			}
			peerSend(t, p, 0, in)
			rx := recvN(t, m, 0, len(in), 32)
			for i := range in {
				if !bytes.Equal(rx[i], in[i]) {
					t.Fatalf("packet %d: got %d bytes, want %d (content differs)", i, len(rx[i]), len(in[i]))
				}
			}
			if pkts, err := m.RxBurst(0, 32); err != nil || len(pkts) != 0 {
				t.Fatalf("empty queue: %d packets, %v", len(pkts), err)
			}
		})
	}
}

func TestJumboFrames(t *testing.T) {
	for _, master := range []bool{true, false} {
		t.Run(fmt.Sprintf("master=%v", master), func(t *testing.T) {
			initLib(t)
			m, p := pair(t, MemifConfig{MemifMeta: MemifMeta{IsMaster: master}}, memif.InterfaceConfig{}, nil)
			var pkts []RawPacketData
			for _, n := range []int{2047, 2048, 2049, 4096, 6000, 9000, 64} {
				pkts = append(pkts, pattern(n, byte(n)))
			}
			sendAll(t, m, 0, pkts)
			got := peerRecv(t, p, 0, len(pkts))
			raw := make([][]byte, len(pkts))
			for i := range pkts {
				raw[i] = pkts[i]
				if !bytes.Equal(got[i], pkts[i]) {
					t.Fatalf("tx packet %d (%d bytes): peer got %d bytes", i, len(pkts[i]), len(got[i]))
				}
			}
			peerSend(t, p, 0, raw)
			// count 1: each 9000-byte chain is five buffers, more than count.
			rx := recvN(t, m, 0, len(pkts), 1)
			for i := range pkts {
				if !bytes.Equal(rx[i], pkts[i]) {
					t.Fatalf("rx packet %d (%d bytes): got %d bytes", i, len(pkts[i]), len(rx[i]))
				}
			}
		})
	}
}

func TestTxBurstRingFull(t *testing.T) {
	initLib(t)
	m, p := pair(t, MemifConfig{MemifMeta: MemifMeta{IsMaster: false}, MemifShmSpecs: MemifShmSpecs{Log2RingSize: 4}}, memif.InterfaceConfig{}, nil)
	pkts := make([]RawPacketData, 20)
	for i := range pkts {
		pkts[i] = pattern(64, byte(i))
	}
	n, err := m.TxBurst(0, pkts)
	if err != nil || n != 16 {
		t.Fatalf("TxBurst into a 16-slot ring: %d, %v; want 16, nil", n, err)
	}
	n, err = m.TxBurst(0, pkts[16:])
	if err != nil || n != 0 {
		t.Fatalf("TxBurst into a full ring: %d, %v; want 0, nil", n, err)
	}
	got := peerRecv(t, p, 0, 16)
	for i := range got {
		if !bytes.Equal(got[i], pkts[i]) {
			t.Fatalf("packet %d differs", i)
		}
	}
}

func TestOversizedPacket(t *testing.T) {
	initLib(t)
	// Slave with a 2-slot ring of 2048-byte buffers: 4097 bytes need 3.
	m, p := pair(t, MemifConfig{MemifMeta: MemifMeta{IsMaster: false}, MemifShmSpecs: MemifShmSpecs{Log2RingSize: 1}}, memif.InterfaceConfig{}, nil)
	for _, n := range []int{65536, 4097} {
		ok := pattern(64, 1)
		if c, err := m.TxBurst(0, []RawPacketData{ok, make([]byte, n)}); err != ErrInvalArgs || c != 0 {
			t.Errorf("TxBurst with a %d-byte packet: %d, %v; want 0, ErrInvalArgs", n, c, err)
		}
	}
	// Nothing was sent, and the queue still works.
	sendAll(t, m, 0, []RawPacketData{pattern(4096, 2)})
	if got := peerRecv(t, p, 0, 1); !bytes.Equal(got[0], pattern(4096, 2)) {
		t.Fatal("4096-byte packet differs")
	}
}

func TestBadQueueID(t *testing.T) {
	initLib(t)
	m, _ := pair(t, MemifConfig{MemifShmSpecs: MemifShmSpecs{NumRxQueues: 2, NumTxQueues: 2}}, memif.InterfaceConfig{RxQueues: 2, TxQueues: 2}, nil)
	if _, err := m.RxBurst(2, 1); err != ErrQueueID {
		t.Errorf("RxBurst(2): %v", err)
	}
	if _, err := m.TxBurst(255, []RawPacketData{{1}}); err != ErrQueueID {
		t.Errorf("TxBurst(255): %v", err)
	}
	if _, err := m.GetQueueInterruptChan(2); err != ErrQueueID {
		t.Errorf("GetQueueInterruptChan(2): %v", err)
	}
	if err := m.SetRxMode(2, RxModePolling); err != ErrQueueID {
		t.Errorf("SetRxMode(2): %v", err)
	}
	if err := m.SetRxMode(0, RxMode(2)); err != ErrInvalArgs {
		t.Errorf("SetRxMode(mode 2): %v", err)
	}
	if _, err := m.RxBurst(1, 0); err != nil {
		t.Errorf("RxBurst(count 0): %v", err)
	}
}

func TestClosedMemif(t *testing.T) {
	initLib(t)
	m, _ := pair(t, MemifConfig{}, memif.InterfaceConfig{}, nil)
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := m.RxBurst(0, 1); err != ErrNoConn {
		t.Errorf("RxBurst: %v", err)
	}
	if _, err := m.TxBurst(0, []RawPacketData{{1}}); err != ErrNoConn {
		t.Errorf("TxBurst: %v", err)
	}
	if _, err := m.GetDetails(); err != ErrNoConn {
		t.Errorf("GetDetails: %v", err)
	}
	if _, err := m.GetQueueInterruptChan(0); err != ErrNoConn {
		t.Errorf("GetQueueInterruptChan: %v", err)
	}
	if err := m.SetRxMode(0, RxModePolling); err != ErrNoConn {
		t.Errorf("SetRxMode: %v", err)
	}
	if _, ok := <-m.GetInterruptChan(); ok {
		t.Error("interrupt channel open after Close")
	}
	if _, ok := <-m.GetInterruptErrorChan(); ok {
		t.Error("error channel open after Close")
	}
	h := m.NewPacketHandle(0, 4)
	if _, _, err := h.ReadPacketData(); err != ErrNoConn {
		t.Errorf("ReadPacketData: %v", err)
	}
}

func TestNotConnected(t *testing.T) {
	initLib(t)
	// A slave whose master does not exist yet.
	m, err := CreateInterface(&MemifConfig{MemifMeta: MemifMeta{SocketFilename: memiftest.SocketPath(t)}, MemifShmSpecs: MemifShmSpecs{NumRxQueues: 2}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.RxBurst(0, 1); err != ErrDisconnected {
		t.Errorf("RxBurst: %v", err)
	}
	if _, err := m.TxBurst(0, []RawPacketData{{1}}); err != ErrDisconnected {
		t.Errorf("TxBurst: %v", err)
	}
	if _, err := m.GetQueueInterruptChan(0); err != ErrDisconnected {
		t.Errorf("GetQueueInterruptChan: %v", err)
	}
	if err := m.SetRxMode(1, RxModePolling); err != nil {
		t.Errorf("SetRxMode(1) while down: %v", err)
	}
	if err := m.SetRxMode(2, RxModePolling); err != ErrQueueID {
		t.Errorf("SetRxMode(2) while down: %v", err)
	}
	d, err := m.GetDetails()
	if err != nil || d.HasLink || len(d.RxQueues) != 0 {
		t.Errorf("details while down: %+v, %v", d, err)
	}
}

func TestInterruptChannels(t *testing.T) {
	initLib(t)
	var qch <-chan struct{}
	disconnected := make(chan bool, 1)
	cb := &MemifCallbacks{
		OnConnect: func(m *Memif) error {
			var err error
			qch, err = m.GetQueueInterruptChan(0)
			return err
		},
		OnDisconnect: func(m *Memif) error {
			// The queue channel must still be open here.
			open := true
			select {
			case _, ok := <-qch:
				open = ok
			default:
			}
			disconnected <- open
			return nil
		},
	}
	m, p := pair(t, MemifConfig{MemifMeta: MemifMeta{IsMaster: true}}, memif.InterfaceConfig{}, cb)
	if qch == nil {
		t.Fatal("GetQueueInterruptChan in OnConnect failed")
	}
	peerSend(t, p, 0, [][]byte{pattern(100, 1)})
	select {
	case <-qch:
	case <-time.After(testWait):
		t.Fatal("queue interrupt channel did not fire")
	}
	select {
	case q := <-m.GetInterruptChan():
		if q != 0 {
			t.Fatalf("interrupt for queue %d", q)
		}
	case <-time.After(testWait):
		t.Fatal("interrupt channel did not fire")
	}
	if got := recvN(t, m, 0, 1, 8); !bytes.Equal(got[0], pattern(100, 1)) {
		t.Fatal("packet differs")
	}
	// The peer goes away: OnDisconnect, then the channel closes.
	p.Close()
	select {
	case open := <-disconnected:
		if !open {
			t.Fatal("queue channel was closed before OnDisconnect ran")
		}
	case <-time.After(testWait):
		t.Fatal("OnDisconnect did not run")
	}
	deadline := time.After(testWait)
	for {
		select {
		case _, ok := <-qch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("queue channel not closed after disconnect")
		}
	}
}

func TestPollingMode(t *testing.T) {
	initLib(t)
	m, p := pair(t, MemifConfig{MemifMeta: MemifMeta{IsMaster: false}}, memif.InterfaceConfig{}, nil)
	if err := m.SetRxMode(0, RxModePolling); err != nil {
		t.Fatal(err)
	}
	// The peer's tx ring is our rx ring: MASK_INT tells it not to signal.
	if f := p.Details().TxQueues[0].Flags; f&1 == 0 {
		t.Fatalf("peer tx ring flags %#x: MASK_INT not set", f)
	}
	qch, err := m.GetQueueInterruptChan(0)
	if err != nil {
		t.Fatal(err)
	}
	peerSend(t, p, 0, [][]byte{pattern(80, 3)})
	if got := recvN(t, m, 0, 1, 4); !bytes.Equal(got[0], pattern(80, 3)) {
		t.Fatal("packet differs")
	}
	select {
	case <-qch:
		t.Fatal("interrupt in polling mode")
	default:
	}
	if err := m.SetRxMode(0, RxModeInterrupt); err != nil {
		t.Fatal(err)
	}
	if f := p.Details().TxQueues[0].Flags; f&1 != 0 {
		t.Fatalf("peer tx ring flags %#x: MASK_INT still set", f)
	}
}

func TestRxModeKeptAcrossReconnect(t *testing.T) {
	initLib(t)
	path := memiftest.SocketPath(t)
	m, err := CreateInterface(&MemifConfig{MemifMeta: MemifMeta{SocketFilename: path, IsMaster: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.SetRxMode(0, RxModePolling); err != nil {
		t.Fatalf("SetRxMode while down: %v", err)
	}
	p := peer(t, path, memif.InterfaceConfig{})
	ctx, cancel := contextWithTimeout()
	defer cancel()
	if err := p.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if f := p.Details().TxQueues[0].Flags; f&1 == 0 {
		t.Fatalf("peer tx ring flags %#x: polling mode not applied on connect", f)
	}
}

func TestConcurrentQueues(t *testing.T) {
	initLib(t)
	const queues, perQueue = 2, 300
	m, p := pair(t, MemifConfig{MemifMeta: MemifMeta{IsMaster: true}, MemifShmSpecs: MemifShmSpecs{NumRxQueues: queues, NumTxQueues: queues}},
		memif.InterfaceConfig{RxQueues: queues, TxQueues: queues}, nil)
	done := make(chan error, 2*queues)
	for q := range queues {
		go func() {
			var pkts []RawPacketData
			for i := range perQueue {
				pkts = append(pkts, pattern(64+i, byte(q)))
			}
			deadline := time.Now().Add(testWait)
			for len(pkts) > 0 {
				n, err := m.TxBurst(uint8(q), pkts)
				if err != nil {
					done <- err
					return
				}
				pkts = pkts[n:]
				if time.Now().After(deadline) {
					done <- fmt.Errorf("queue %d: tx timed out", q)
					return
				}
			}
			done <- nil
		}()
		go func() {
			got := 0
			deadline := time.Now().Add(testWait)
			for got < perQueue {
				pkts, err := m.RxBurst(uint8(q), 16)
				if err != nil {
					done <- err
					return
				}
				for _, pk := range pkts {
					if !bytes.Equal(pk, pattern(100+got, byte(q+10))) {
						done <- fmt.Errorf("queue %d packet %d differs", q, got)
						return
					}
					got++
				}
				if time.Now().After(deadline) {
					done <- fmt.Errorf("queue %d: rx timed out at %d", q, got)
					return
				}
			}
			done <- nil
		}()
	}
	for q := range queues {
		var in [][]byte
		for i := range perQueue {
			in = append(in, pattern(100+i, byte(q+10)))
		}
		peerSend(t, p, q, in)
	}
	for q := range queues {
		got := peerRecv(t, p, q, perQueue)
		for i := range got {
			if !bytes.Equal(got[i], pattern(64+i, byte(q))) {
				t.Fatalf("queue %d packet %d differs", q, i)
			}
		}
	}
	for range 2 * queues {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
