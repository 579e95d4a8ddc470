package memif_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

// hostileSetup is a master socket with interface 1 (the one attacked) and a
// connected bystander pair on id 2, whose traffic must not notice.
type hostileSetup struct {
	path      string
	sock      *memif.Socket
	master    *memif.Interface
	bystander *memif.Interface
	bslave    *memif.Interface
}

func newHostileSetup(t *testing.T, cfg memif.InterfaceConfig) *hostileSetup {
	t.Helper()
	h := &hostileSetup{path: memiftest.SocketPath(t)}
	var err error
	h.sock, err = memif.NewSocket(memif.SocketConfig{Path: h.path, HandshakeTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.sock.Close() })
	cfg.ID, cfg.Role = 1, memif.RoleMaster
	if h.master, err = h.sock.NewInterface(cfg); err != nil {
		t.Fatal(err)
	}
	if h.bystander, err = h.sock.NewInterface(memif.InterfaceConfig{ID: 2, Role: memif.RoleMaster}); err != nil {
		t.Fatal(err)
	}
	bsock, err := memif.NewSocket(memif.SocketConfig{Path: h.path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bsock.Close() })
	if h.bslave, err = bsock.NewInterface(memif.InterfaceConfig{ID: 2}); err != nil {
		t.Fatal(err)
	}
	if err := h.bslave.WaitConnected(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	return h
}

// checkBystander sends one packet over the bystander pair.
func (h *hostileSetup) checkBystander(t *testing.T) {
	t.Helper()
	p := []byte("still alive")
	if _, err := txq(t, h.bslave, 0).WritePackets([][]byte{p}); err != nil {
		t.Fatalf("bystander tx: %v", err)
	}
	if got := recvPackets(t, rxq(t, h.bystander, 0), 1); !bytes.Equal(got[0], p) {
		t.Fatal("bystander packet corrupted")
	}
}

// checkFresh connects a well-behaved raw slave to interface 1 and passes
// one packet: the attacked interface serves the next peer.
func (h *hostileSetup) checkFresh(t *testing.T) {
	t.Helper()
	waitFor(t, func() bool { return !h.master.Connected() })
	s := memiftest.NewRawSlave(t, h.path, nil)
	s.Handshake(1, "")
	waitFor(t, h.master.Connected)
	if s.Transmit([]byte("fresh")) != 1 {
		t.Fatal("fresh slave could not transmit")
	}
	if got := recvPackets(t, rxq(t, h.master, 0), 1); string(got[0]) != "fresh" {
		t.Fatalf("fresh peer's packet: %q", got[0])
	}
	s.Send(memiftest.Disconnect{Reason: "done"})
	waitFor(t, func() bool { return !h.master.Connected() })
}

// TestPeerTruncatesUnsealedRegion (issue #9 case 1): a slave whose memfd
// cannot be sealed truncates it while the master maps it. Before, the next
// access (the rx loop reading the ring, a copy of a packet, the cookie
// check at CONNECT) died with SIGBUS and took the process down. Now such a
// region is refused unless the interface trusts its peer; if it does,
// every fault ends only that connection with ErrRegionFault.
func TestPeerTruncatesUnsealedRegion(t *testing.T) {
	memiftest.CheckFDLeaks(t)
	memiftest.CheckMappingLeaks(t)
	unsealed := &memiftest.RawSlaveConfig{UnsealedBuffers: true, UnsealedRings: true}

	t.Run("RefusedByDefault", func(t *testing.T) {
		h := newHostileSetup(t, memif.InterfaceConfig{})
		s := memiftest.NewRawSlave(t, h.path, unsealed)
		s.Hello()
		s.Init(1, "")
		s.Send(memiftest.AddRegion{Index: 0, Size: uint64(len(s.Rings.Data))}, s.Rings.FD)
		s.ExpectDisconnect("region 0: memory file cannot be sealed against shrinking")
		waitFor(t, func() bool { return errors.Is(h.master.LastError(), memif.ErrUnsealedRegion) })
		h.checkBystander(t)
		h.checkFresh(t)
	})

	trusted := memif.InterfaceConfig{AllowUnsealedRegions: true}
	connect := func(t *testing.T, h *hostileSetup) *memiftest.RawSlave {
		s := memiftest.NewRawSlave(t, h.path, unsealed)
		s.Handshake(1, "")
		waitFor(t, h.master.Connected)
		if r := h.master.Regions(); len(r) != 2 || r[0].Sealed || r[1].Sealed {
			t.Fatalf("regions %+v: want both unsealed", r)
		}
		return s
	}
	endsWithFault := func(t *testing.T, h *hostileSetup, err error) {
		t.Helper()
		if !errors.Is(err, memif.ErrRegionFault) {
			t.Fatalf("burst after truncation: %v, want ErrRegionFault", err)
		}
		waitFor(t, func() bool { return !h.master.Connected() })
		if err := h.master.LastError(); !errors.Is(err, memif.ErrRegionFault) || !strings.Contains(err.Error(), "truncated") {
			t.Errorf("master LastError %v", err)
		}
		if st := h.master.Stats(); st.ProtocolErrors != 1 {
			t.Errorf("protocol errors %d, want 1", st.ProtocolErrors)
		}
		h.checkBystander(t)
		h.checkFresh(t)
	}

	t.Run("BuffersTruncatedUnderRx", func(t *testing.T) {
		h := newHostileSetup(t, trusted)
		s := connect(t, h)
		rx := rxq(t, h.master, 0)
		if s.Transmit([]byte("one")) != 1 {
			t.Fatal("transmit")
		}
		bufs := make([]memif.Buffer, 8)
		n, err := rx.RxBurst(bufs)
		if n != 1 || err != nil {
			t.Fatalf("RxBurst = %d, %v", n, err)
		}
		rx.Release(n)
		// The peer publishes a packet, then pulls the memory from under it.
		s.Transmit([]byte("two"))
		if err := s.Bufs.Truncate(0); err != nil {
			t.Fatal(err)
		}
		n, err = rx.RxBurst(bufs)
		if err == nil {
			// The descriptor is in the ring region, still whole: the
			// packet's bytes are what faults, when they are read.
			var copied []byte
			err = readView(h.master, bufs[0].Data, &copied)
			if err == nil {
				t.Fatalf("read a truncated region without a fault (%d packets, %q)", n, copied)
			}
			if _, err2 := rx.RxBurst(bufs); !errors.Is(err2, memif.ErrDisconnected) {
				t.Errorf("burst after the contained fault: %v, want ErrDisconnected", err2)
			}
		}
		endsWithFault(t, h, err)
	})

	t.Run("RingsTruncatedUnderRx", func(t *testing.T) {
		h := newHostileSetup(t, trusted)
		s := connect(t, h)
		if err := s.Rings.Truncate(0); err != nil {
			t.Fatal(err)
		}
		_, err := rxq(t, h.master, 0).RxBurst(make([]memif.Buffer, 8))
		endsWithFault(t, h, err)
	})

	t.Run("RingsTruncatedUnderTx", func(t *testing.T) {
		h := newHostileSetup(t, trusted)
		s := connect(t, h)
		if err := s.Rings.Truncate(0); err != nil {
			t.Fatal(err)
		}
		_, err := txq(t, h.master, 0).WritePackets([][]byte{[]byte("x")})
		endsWithFault(t, h, err)
	})

	t.Run("BuffersTruncatedUnderTx", func(t *testing.T) {
		h := newHostileSetup(t, trusted)
		s := connect(t, h)
		if err := s.Bufs.Truncate(0); err != nil {
			t.Fatal(err)
		}
		_, err := txq(t, h.master, 0).WritePackets([][]byte{[]byte("x")})
		endsWithFault(t, h, err)
	})

	t.Run("RingsTruncatedBeforeConnect", func(t *testing.T) {
		h := newHostileSetup(t, trusted)
		s := memiftest.NewRawSlave(t, h.path, unsealed)
		s.Hello()
		s.Init(1, "")
		s.Regions()
		s.RingMsgs()
		if err := s.Rings.Truncate(0); err != nil {
			t.Fatal(err)
		}
		s.Send(memiftest.Connect{})
		s.ExpectDisconnect("shared memory fault")
		waitFor(t, func() bool { return errors.Is(h.master.LastError(), memif.ErrRegionFault) })
		h.checkBystander(t)
		h.checkFresh(t)
	})

	t.Run("DetailsAfterTruncation", func(t *testing.T) {
		h := newHostileSetup(t, trusted)
		s := connect(t, h)
		if err := s.Rings.Truncate(0); err != nil {
			t.Fatal(err)
		}
		h.master.Details() // reads head and tail of every ring
		waitFor(t, func() bool { return !h.master.Connected() })
		if !errors.Is(h.master.LastError(), memif.ErrRegionFault) {
			t.Errorf("master LastError %v", h.master.LastError())
		}
		h.checkFresh(t)
	})
}

// readView copies v the way a consumer outside package memif does, with
// faults contained through Interface.RecoverFault.
func readView(i *memif.Interface, v []byte, out *[]byte) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if !i.RecoverFault(r) {
				panic(r)
			}
			err = memif.ErrRegionFault
		}
	}()
	*out = append((*out)[:0], v...)
	return nil
}

// TestRecoverFaultIgnoresOtherFaults: a fault outside the interface's
// regions is not the interface's to contain.
func TestRecoverFaultIgnoresOtherFaults(t *testing.T) {
	master, _ := memiftest.Pair(t, nil)
	if master.RecoverFault("not a fault") || master.RecoverFault(errors.New("memory")) {
		t.Error("RecoverFault took a value that is no memory fault")
	}
	var caught any
	func() {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() { caught = recover() }()
		var p *[1 << 20]byte
		_ = p[1<<19] // a fault at a low address no region holds
	}()
	if caught == nil || master.RecoverFault(caught) {
		t.Errorf("RecoverFault(%v) on a fault outside the regions", caught)
	}
	if !master.Connected() {
		t.Error("the connection ended for a fault that was not its")
	}
}

// TestZeroLengthMessageWithFDs (issue #9 case 3): a control message of no
// bytes that carries descriptors reads as EOF, and the descriptors were
// leaked: 12 per message, and a 64 MiB memfd held for the life of the
// process. Every descriptor received is closed on every path.
func TestZeroLengthMessageWithFDs(t *testing.T) {
	memiftest.CheckFDLeaks(t)
	h := newHostileSetup(t, memif.InterfaceConfig{})
	big := memiftest.NewMem(t, 64<<20)
	for _, tc := range []struct {
		name string
		send func(p *memiftest.RawPeer, fds []int)
	}{
		{"EmptyMessage", func(p *memiftest.RawPeer, fds []int) { p.SendEmpty(fds...) }},
		{"EmptyMessageAfterInit", func(p *memiftest.RawPeer, fds []int) {
			p.Send(memiftest.Init{Version: memiftest.Version, ID: 1})
			p.Expect(memiftest.TypeAck)
			p.SendEmpty(fds...)
		}},
		{"OneByteMessage", func(p *memiftest.RawPeer, fds []int) { p.SendBytes(nil, fds...) }},
		{"MessageThenClose", func(p *memiftest.RawPeer, fds []int) {
			p.Send(memiftest.Init{Version: memiftest.Version, ID: 1})
			p.Expect(memiftest.TypeAck)
			p.Send(memiftest.AddRegion{Size: 64 << 20}, fds[0])
			p.Conn.CloseWrite() // EOF with a descriptor in flight
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := memiftest.OpenFDs(t)
			for range 20 {
				p := memiftest.DialRaw(t, h.path)
				p.Expect(memiftest.TypeHello)
				fds := make([]int, 12)
				for k := range fds {
					fds[k] = big.FD
				}
				tc.send(p, fds)
				p.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				for { // until the master hangs up
					if _, err := p.Conn.Read(make([]byte, 256)); err != nil {
						break
					}
				}
				p.Conn.Close()
			}
			// The raw peers' own ends are closed; what is left open is the
			// master's.
			waitFor(t, func() bool { return memiftest.OpenFDs(t) <= before })
			if m := h.master.Stats(); m.ProtocolErrors != 0 {
				t.Errorf("protocol errors %d: a peer that hangs up is no protocol error", m.ProtocolErrors)
			}
			h.checkBystander(t)
		})
	}
}

// TestPeerCloseIsOrdinaryDisconnect (issue #9 case 7): a peer that simply
// closes its socket ends the connection as the peer's doing, without a
// protocol error or a DISCONNECT of ours claiming a syscall error.
func TestPeerCloseIsOrdinaryDisconnect(t *testing.T) {
	h := newHostileSetup(t, memif.InterfaceConfig{})
	p := memiftest.DialRaw(t, h.path)
	p.Expect(memiftest.TypeHello)
	p.Send(memiftest.Init{Version: memiftest.Version, ID: 1})
	p.Expect(memiftest.TypeAck)
	p.Conn.Close()
	waitFor(t, func() bool { return h.master.LastError() != nil })
	err := h.master.LastError()
	if !errors.Is(err, memif.ErrPeerDisconnected) || err.Error() != "memif: peer ended the connection: peer closed the control channel" {
		t.Errorf("LastError %v, want the peer closing the control channel", err)
	}
	if st := h.master.Stats(); st.ProtocolErrors != 0 {
		t.Errorf("protocol errors %d, want 0", st.ProtocolErrors)
	}
	if st := h.sock.Stats(); st.Refused != 0 {
		t.Errorf("refused %d, want 0", st.Refused)
	}
}

// TestConnectionBounds: the handshakes a socket runs at once and the shared
// memory one connection may map are bounded.
func TestConnectionBounds(t *testing.T) {
	memiftest.CheckFDLeaks(t)
	t.Run("PendingHandshakes", func(t *testing.T) {
		path := memiftest.SocketPath(t)
		sock, err := memif.NewSocket(memif.SocketConfig{Path: path, MaxPendingConnections: 3, HandshakeTimeout: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer sock.Close()
		master, err := sock.NewInterface(memif.InterfaceConfig{ID: 1, Role: memif.RoleMaster})
		if err != nil {
			t.Fatal(err)
		}
		var idle []*memiftest.RawPeer
		for range 3 {
			p := memiftest.DialRaw(t, path)
			p.Expect(memiftest.TypeHello) // and then say nothing
			idle = append(idle, p)
		}
		extra := memiftest.DialRaw(t, path)
		extra.ExpectClosed()
		waitFor(t, func() bool { return sock.Stats().Overflow == 1 })
		for _, p := range idle {
			p.ExpectDisconnect("timed out")
		}
		s := memiftest.NewRawSlave(t, path, nil)
		s.Handshake(1, "")
		waitFor(t, master.Connected)
	})
	t.Run("ConnectedDoNotCount", func(t *testing.T) {
		// The bound is on handshakes in progress: links that are up do
		// not count, so a socket serves more interfaces than the bound.
		path := memiftest.SocketPath(t)
		sock, err := memif.NewSocket(memif.SocketConfig{Path: path, MaxPendingConnections: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer sock.Close()
		ssock, err := memif.NewSocket(memif.SocketConfig{Path: path, ReconnectInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer ssock.Close()
		const n = 5
		var masters []*memif.Interface
		for id := range uint32(n) {
			m, err := sock.NewInterface(memif.InterfaceConfig{ID: id, Role: memif.RoleMaster})
			if err != nil {
				t.Fatal(err)
			}
			masters = append(masters, m)
			if _, err := ssock.NewInterface(memif.InterfaceConfig{ID: id}); err != nil {
				t.Fatal(err)
			}
		}
		for id, m := range masters {
			if err := m.WaitConnected(ctxT(t)); err != nil {
				t.Fatalf("master %d of %d not connected with a bound of 2 handshakes: %v (overflow %d)", id, n, err, sock.Stats().Overflow)
			}
		}
	})
	t.Run("RegionBytes", func(t *testing.T) {
		h := newHostileSetup(t, memif.InterfaceConfig{MaxRegionBytes: 8192})
		s := memiftest.NewRawSlave(t, h.path, nil) // 2 KiB of rings, 8 KiB of buffers
		s.Hello()
		s.Init(1, "")
		s.Send(memiftest.AddRegion{Index: 0, Size: uint64(len(s.Rings.Data))}, s.Rings.FD)
		s.Expect(memiftest.TypeAck)
		s.Send(memiftest.AddRegion{Index: 1, Size: uint64(len(s.Bufs.Data))}, s.Bufs.FD)
		s.ExpectDisconnect("above the interface's 8192")
		waitFor(t, func() bool { return errors.Is(h.master.LastError(), memif.ErrLimit) })
		h.checkBystander(t)
	})
}

// logRecorder keeps slog records for assertions.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, r)
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// count returns how many records at level have msg.
func (l *logRecorder) count(level slog.Level, msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if r.Level == level && r.Message == msg {
			n++
		}
	}
	return n
}

// lastAttr returns attribute key of the last record at level with msg.
func (l *logRecorder) lastAttr(level slog.Level, msg, key string) (v slog.Value, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.recs {
		if r.Level == level && r.Message == msg {
			v, ok = slog.Value{}, false
			r.Attrs(func(a slog.Attr) bool {
				if a.Key == key {
					v, ok = a.Value, true
				}
				return true
			})
		}
	}
	return v, ok
}

// TestConnectionAttemptLogs (issue #9 case 7): a slave that cannot reach its
// master says so at WARN once, and again only after 30 s, not once per
// attempt; refusals of peers that named no interface are logged once per
// second per socket, the next line counting those it held back.
func TestConnectionAttemptLogs(t *testing.T) {
	rec := &logRecorder{}
	clock := memiftest.NewClock()
	path := memiftest.SocketPath(t)
	ss, err := memif.NewSocket(memif.SocketConfig{Path: path, ReconnectInterval: 5 * time.Millisecond, Logger: slog.New(rec), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	slave, err := ss.NewInterface(memif.InterfaceConfig{})
	if err != nil {
		t.Fatal(err)
	}
	const msg = "memif cannot reach its master; retrying"
	waitFor(t, func() bool { return rec.count(slog.LevelDebug, msg) >= 10 })
	if n := rec.count(slog.LevelWarn, msg); n != 1 {
		t.Errorf("%d WARN lines for %d+ failed attempts, want 1", n, 10)
	}
	clock.Advance(30*time.Second - time.Nanosecond)
	attempts := rec.count(slog.LevelDebug, msg)
	waitFor(t, func() bool { return rec.count(slog.LevelDebug, msg) >= attempts+3 })
	if n := rec.count(slog.LevelWarn, msg); n != 1 {
		t.Errorf("%d WARN lines before 30 s had passed, want 1", n)
	}
	clock.Advance(time.Nanosecond)
	waitFor(t, func() bool { return rec.count(slog.LevelWarn, msg) == 2 })
	if err := slave.LastError(); err == nil || !strings.Contains(err.Error(), "connect to "+path) {
		t.Errorf("LastError %v", err)
	}
	ss.Close()

	ms, err := memif.NewSocket(memif.SocketConfig{Path: path, Logger: slog.New(rec), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	if _, err := ms.NewInterface(memif.InterfaceConfig{Role: memif.RoleMaster, ID: 7}); err != nil {
		t.Fatal(err)
	}
	refuse := func() {
		p := memiftest.DialRaw(t, path)
		p.Expect(memiftest.TypeHello)
		p.Send(memiftest.Init{Version: memiftest.Version, ID: 99})
		p.ExpectDisconnect("no master interface with id 99")
	}
	const refused = "memif connection refused"
	for range 20 {
		refuse()
	}
	if n := rec.count(slog.LevelWarn, refused); n != 1 {
		t.Errorf("%d WARN lines for 20 refusals within a second, want 1", n)
	}
	clock.Advance(time.Second)
	refuse()
	if n := rec.count(slog.LevelWarn, refused); n != 2 {
		t.Fatalf("%d WARN lines after a second, want 2", n)
	}
	if v, ok := rec.lastAttr(slog.LevelWarn, refused, "suppressed"); !ok || v.Int64() != 19 {
		t.Errorf("the second line says %v (%v) suppressed, want 19", v, ok)
	}
}
