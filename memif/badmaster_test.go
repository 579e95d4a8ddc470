package memif_test

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/internal/memiftest"
	"github.com/memif-wasm/memif-wasm/memif/internal/proto"
	"github.com/memif-wasm/memif-wasm/memif/internal/ring"
	"github.com/memif-wasm/memif-wasm/memif/internal/shm"
)

// rawMaster is a hand-driven master: it maps what the slave sends.
type rawMaster struct {
	*rawPeer
	regions  [][]byte
	s2m, m2s []ring.Ring
	logs     []uint8
}

var goodHello = proto.Hello{Name: "rawm", MinVersion: proto.Version, MaxVersion: proto.Version,
	MaxRegion: 255, MaxM2SRing: 254, MaxS2MRing: 254, MaxLog2RingSize: 14}

// startSlave listens on a fresh path, creates a Go slave with cfg that
// connects once, and returns the accepted raw connection.
func startSlave(t *testing.T, scfg memif.SocketConfig, cfg memif.InterfaceConfig) (*rawMaster, *memif.Interface) {
	t.Helper()
	path := memiftest.SocketPath(t)
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	scfg.Path, scfg.ReconnectInterval = path, -1
	sock, err := memif.NewSocket(scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sock.Close() })
	slave, err := sock.NewInterface(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln.SetDeadline(time.Now().Add(5 * time.Second))
	uc, err := ln.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { uc.Close() })
	return &rawMaster{rawPeer: &rawPeer{t: t, uc: uc}}, slave
}

// handshake answers a slave's handshake after HELLO, mapping its regions
// and rings, and sends CONNECTED.
func (m *rawMaster) handshake() {
	m.t.Helper()
	m.expect(proto.TypeInit)
	m.send(proto.Ack{})
	for {
		msg, fds := m.recv()
		switch msg := msg.(type) {
		case proto.AddRegion:
			data, err := shm.Map(fds[0], int(msg.Size))
			if err != nil {
				m.t.Fatal(err)
			}
			m.t.Cleanup(func() { shm.Unmap(data) })
			m.regions = append(m.regions, data)
		case proto.AddRing:
			r, err := ring.New(m.regions[msg.Region][msg.Offset:], 64, msg.Log2RingSize)
			if err != nil {
				m.t.Fatal(err)
			}
			if msg.Flags&proto.RingFlagS2M != 0 {
				m.s2m = append(m.s2m, r)
			} else {
				m.m2s = append(m.m2s, r)
			}
			m.logs = append(m.logs, msg.Log2RingSize)
		case proto.Connect:
			m.send(proto.Connected{Name: "rawm-if"})
			return
		default:
			m.t.Fatalf("raw master got %s during handshake", msg.Type())
		}
		m.send(proto.Ack{})
	}
}

// TestBadMaster: a misbehaving master is refused by the Go slave with a
// DISCONNECT naming the reason, and the reason reaches the caller.
func TestBadMaster(t *testing.T) {
	memiftest.CheckFDLeaks(t)
	slaveCfg := memif.InterfaceConfig{Log2RingSize: 4, BufferSize: 256}
	control := []struct {
		name    string
		script  func(m *rawMaster)
		reason  string
		wantErr *memif.Error
	}{
		{"HelloBadVersion", func(m *rawMaster) {
			h := goodHello
			h.MinVersion, h.MaxVersion = 0x0100, 0x0101
			m.send(h)
		}, "versions 0x0100..0x0101", memif.ErrProto},
		{"AckBeforeHello", func(m *rawMaster) { m.send(proto.Ack{}) }, "want HELLO", memif.ErrUnknownMsg},
		{"HelloWrongSize", func(m *rawMaster) { m.sendBytes(msgBytes(2, 100)) }, "100 bytes", memif.ErrMalformedMsg},
		{"HelloWithFD", func(m *rawMaster) {
			fd := newEventfd(m.t)
			m.send(goodHello, fd)
		}, "HELLO carries 1 file descriptors", memif.ErrMalformedMsg},
		{"ConnectedInsteadOfAck", func(m *rawMaster) {
			m.send(goodHello)
			m.expect(proto.TypeInit)
			m.send(proto.Connected{})
		}, "want ACK after INIT", memif.ErrUnknownMsg},
		{"UnknownTypeAfterConnect", func(m *rawMaster) {
			m.send(goodHello)
			m.handshake()
			m.sendBytes(msgBytes(200, 128))
		}, "unknown message type 200", memif.ErrUnknownMsg},
	}
	for _, tc := range control {
		t.Run(tc.name, func(t *testing.T) {
			m, slave := startSlave(t, memif.SocketConfig{}, slaveCfg)
			tc.script(m)
			m.expectDisconnect(tc.reason, tc.wantErr)
			waitFor(t, func() bool { return slave.LastError() != nil && !slave.Connected() })
			var de *memif.DisconnectError
			if err := slave.LastError(); !errors.As(err, &de) || de.Remote || !errors.Is(err, tc.wantErr) {
				t.Errorf("slave LastError %v, want local %v", err, tc.wantErr)
			}
			if slave.Stats().ProtocolErrors != 1 {
				t.Errorf("protocol errors %d, want 1", slave.Stats().ProtocolErrors)
			}
		})
	}

	t.Run("HandshakeTimeout", func(t *testing.T) {
		m, slave := startSlave(t, memif.SocketConfig{HandshakeTimeout: 50 * time.Millisecond}, slaveCfg)
		m.send(goodHello)
		m.expect(proto.TypeInit) // and then say nothing
		m.expectDisconnect("timed out", nil)
		waitFor(t, func() bool { return slave.LastError() != nil })
	})

	t.Run("PeerDisconnectReasonReachesCaller", func(t *testing.T) {
		m, slave := startSlave(t, memif.SocketConfig{}, slaveCfg)
		m.send(goodHello)
		m.expect(proto.TypeInit)
		m.send(proto.Disconnect{Code: uint32(memif.ErrSecret.Code), Reason: "incorrect secret"})
		waitFor(t, func() bool { return slave.LastError() != nil })
		var de *memif.DisconnectError
		err := slave.LastError()
		if !errors.As(err, &de) || !de.Remote || de.Code != 29 || de.Reason != "incorrect secret" ||
			!errors.Is(err, memif.ErrSecret) || !errors.Is(err, memif.ErrDisconnect) {
			t.Errorf("slave LastError %#v", err)
		}
	})

	t.Run("HelloLimitsAreHonoured", func(t *testing.T) {
		m, slave := startSlave(t, memif.SocketConfig{}, memif.InterfaceConfig{RxQueues: 3, TxQueues: 3, Log2RingSize: 6, BufferSize: 256})
		h := goodHello
		h.MaxRegion, h.MaxM2SRing, h.MaxS2MRing, h.MaxLog2RingSize = 0, 1, 0, 3
		m.send(h)
		m.handshake()
		if err := slave.WaitConnected(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if len(m.regions) != 1 || len(m.s2m) != 1 || len(m.m2s) != 2 || m.logs[0] != 3 {
			t.Fatalf("slave sent %d regions, %d s2m and %d m2s rings, log2 %v; want 1, 1, 2, 3", len(m.regions), len(m.s2m), len(m.m2s), m.logs)
		}
		if _, err := txq(t, slave, 0).WritePackets([][]byte{[]byte("one region")}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return m.s2m[0].Head() == 1 })
		d := *m.s2m[0].Desc(0)
		v, err := ring.View(m.regions, &d)
		if err != nil || string(v) != "one region" || d.Region != 0 || d.Offset < uint32(3*ring.Bytes(64, 3)) {
			t.Errorf("descriptor %+v view %q %v: want buffers in region 0 after the rings", d, v, err)
		}
	})

	// Data-path violations by the master.
	data := []struct {
		name    string
		corrupt func(m *rawMaster)
		op      func(t *testing.T, s *memif.Interface) error
		reason  string
		want    error
	}{
		{"TailBeyondPostedBuffers", func(m *rawMaster) { m.m2s[0].SetTail(m.m2s[0].Head() + 5) },
			func(t *testing.T, s *memif.Interface) error { return rxOp(s)(t) }, "tail moved beyond the posted buffers", memif.ErrBadRingIndex},
		{"LengthAboveBuffer", func(m *rawMaster) {
			m.m2s[0].Desc(0).Length = 257
			m.m2s[0].SetTail(1)
		}, func(t *testing.T, s *memif.Interface) error { return rxOp(s)(t) }, "length above the posted buffer", memif.ErrBadDescriptor},
		{"S2MTailTooFar", func(m *rawMaster) { m.s2m[0].SetTail(50) },
			func(t *testing.T, s *memif.Interface) error { return txOp(s)(t) }, "tail moved further than the ring size", memif.ErrBadRingIndex},
	}
	for _, tc := range data {
		t.Run(tc.name, func(t *testing.T) {
			m, slave := startSlave(t, memif.SocketConfig{}, slaveCfg)
			m.send(goodHello)
			m.handshake()
			if err := slave.WaitConnected(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { return m.m2s[0].Head() == 16 })
			tc.corrupt(m)
			if err := tc.op(t, slave); !errors.Is(err, tc.want) {
				t.Fatalf("burst error %v, want %v", err, tc.want)
			}
			m.expectDisconnect(tc.reason, nil)
			waitFor(t, func() bool { return !slave.Connected() })
			if slave.Stats().BadDescriptors != 1 {
				t.Errorf("bad descriptors %d, want 1", slave.Stats().BadDescriptors)
			}
		})
	}

	// Alloc counts from the tail it last validated and reloads it only when
	// that room runs out: a bad tail is still caught, within a ring's worth.
	t.Run("S2MTailTooFarAfterCachedRoom", func(t *testing.T) {
		m, slave := startSlave(t, memif.SocketConfig{}, slaveCfg)
		m.send(goodHello)
		m.handshake()
		if err := slave.WaitConnected(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		tx := txq(t, slave, 0)
		bufs := make([]memif.Buffer, 1)
		if _, err := tx.Alloc(bufs, 64); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.TxBurst(bufs); err != nil {
			t.Fatal(err)
		}
		m.s2m[0].SetTail(50)
		var err error
		for i := 0; i < 17 && err == nil; i++ {
			if _, err = tx.Alloc(bufs, 64); err == nil {
				_, err = tx.TxBurst(bufs)
			}
		}
		if !errors.Is(err, memif.ErrBadRingIndex) {
			t.Fatalf("allocating a ring's worth after the tail jumped: %v, want ErrBadRingIndex", err)
		}
		m.expectDisconnect("tail moved further than the ring size", nil)
	})

	t.Run("MasterCannotRedirectSlaveBuffers", func(t *testing.T) {
		m, slave := startSlave(t, memif.SocketConfig{}, memif.InterfaceConfig{Log2RingSize: 4, BufferSize: 256, Headroom: 16})
		m.send(goodHello)
		m.handshake()
		if err := slave.WaitConnected(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return m.m2s[0].Head() == 16 })
		d := m.m2s[0].Desc(0)
		if d.Length != 240 || d.Offset%256 != 16 {
			t.Fatalf("posted descriptor %+v, want 240 bytes after 16 bytes of headroom", *d)
		}
		buf := m.regions[d.Region][d.Offset:]
		copy(buf, "mine")
		d.Region, d.Offset, d.Length = 0, 0, 4 // point at the rings instead
		m.m2s[0].SetTail(1)
		if got := recvPackets(t, rxq(t, slave, 0), 1); string(got[0]) != "mine" {
			t.Errorf("slave read %q; it must read its own posted buffer, not where the master points", got[0])
		}
	})
}
