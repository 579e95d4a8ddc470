package memif_test

import (
	"errors"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

type rawMaster = memiftest.RawMaster

// startSlave listens on a fresh path, creates a Go slave with cfg that
// connects once, and returns the accepted raw connection.
func startSlave(t *testing.T, scfg memif.SocketConfig, cfg memif.InterfaceConfig) (*rawMaster, *memif.Interface) {
	t.Helper()
	path := memiftest.SocketPath(t)
	ln := memiftest.Listen(t, path)
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
	m := memiftest.Accept(t, ln)
	ln.Close()
	return m, slave
}

var goodHello = memiftest.GoodHello

// TestBadMaster: a misbehaving master is refused by the Go slave with a
// DISCONNECT naming the reason, and the reason reaches the caller.
func TestBadMaster(t *testing.T) {
	memiftest.CheckFDLeaks(t)
	slaveCfg := memif.InterfaceConfig{Log2RingSize: 4, BufferSize: 256}
	control := []struct {
		name   string
		script func(m *rawMaster)
		reason string
		kind   error
	}{
		{"HelloBadVersion", func(m *rawMaster) {
			h := goodHello
			h.MinVersion, h.MaxVersion = 0x0100, 0x0101
			m.Send(h)
		}, "versions 0x0100..0x0101", memif.ErrVersion},
		{"AckBeforeHello", func(m *rawMaster) { m.Send(memiftest.Ack{}) }, "want HELLO", memif.ErrProtocol},
		{"HelloWrongSize", func(m *rawMaster) { m.SendBytes(memiftest.MsgBytes(2, 100)) }, "100 bytes", memif.ErrProtocol},
		{"HelloWithFD", func(m *rawMaster) {
			fd := memiftest.NewEventfd(t)
			m.Send(goodHello, fd)
		}, "HELLO carries 1 file descriptors", memif.ErrProtocol},
		{"ConnectedInsteadOfAck", func(m *rawMaster) {
			m.Send(goodHello)
			m.Expect(memiftest.TypeInit)
			m.Send(memiftest.Connected{})
		}, "want ACK after INIT", memif.ErrProtocol},
		{"UnknownTypeAfterConnect", func(m *rawMaster) {
			m.Send(goodHello)
			m.Handshake()
			m.SendBytes(memiftest.MsgBytes(200, 128))
		}, "unknown message type 200", memif.ErrProtocol},
	}
	for _, tc := range control {
		t.Run(tc.name, func(t *testing.T) {
			m, slave := startSlave(t, memif.SocketConfig{}, slaveCfg)
			tc.script(m)
			m.ExpectDisconnect(tc.reason)
			waitFor(t, func() bool { return slave.LastError() != nil && !slave.Connected() })
			var de *memif.DisconnectError
			if err := slave.LastError(); !errors.As(err, &de) || de.Remote || !errors.Is(err, tc.kind) {
				t.Errorf("slave LastError %v, want local %v", err, tc.kind)
			}
			if slave.Stats().ProtocolErrors != 1 {
				t.Errorf("protocol errors %d, want 1", slave.Stats().ProtocolErrors)
			}
		})
	}

	t.Run("HandshakeTimeout", func(t *testing.T) {
		m, slave := startSlave(t, memif.SocketConfig{HandshakeTimeout: 50 * time.Millisecond}, slaveCfg)
		m.Send(goodHello)
		m.Expect(memiftest.TypeInit) // and then say nothing
		m.ExpectDisconnect("timed out")
		waitFor(t, func() bool { return slave.LastError() != nil })
	})

	t.Run("PeerDisconnectReasonReachesCaller", func(t *testing.T) {
		m, slave := startSlave(t, memif.SocketConfig{}, slaveCfg)
		m.Send(goodHello)
		m.Expect(memiftest.TypeInit)
		m.Send(memiftest.Disconnect{Code: 29, Reason: "incorrect secret"})
		waitFor(t, func() bool { return slave.LastError() != nil })
		var de *memif.DisconnectError
		err := slave.LastError()
		if !errors.As(err, &de) || !de.Remote || de.Code != 29 || de.Reason != "incorrect secret" ||
			!errors.Is(err, memif.ErrPeerDisconnected) || err.Error() != "memif: peer ended the connection: incorrect secret (code 29)" {
			t.Errorf("slave LastError %#v (%v)", err, err)
		}
	})

	t.Run("HelloLimitsAreHonoured", func(t *testing.T) {
		m, slave := startSlave(t, memif.SocketConfig{}, memif.InterfaceConfig{RxQueues: 3, TxQueues: 3, Log2RingSize: 6, BufferSize: 256})
		h := goodHello
		h.MaxRegion, h.MaxM2SRing, h.MaxS2MRing, h.MaxLog2RingSize = 0, 1, 0, 3
		m.Send(h)
		m.Handshake()
		if err := slave.WaitConnected(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if len(m.Regions) != 1 || len(m.S2M) != 1 || len(m.M2S) != 2 || m.Log2s[0] != 3 {
			t.Fatalf("slave sent %d regions, %d s2m and %d m2s rings, log2 %v; want 1, 1, 2, 3", len(m.Regions), len(m.S2M), len(m.M2S), m.Log2s)
		}
		if _, err := txq(t, slave, 0).WritePackets([][]byte{[]byte("one region")}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return m.S2M[0].Head() == 1 })
		d := *m.S2M[0].Desc(0)
		v, err := m.View(d)
		if err != nil || string(v) != "one region" || d.Region != 0 || d.Offset < uint32(3*memiftest.RingBytes(3)) {
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
		{"TailBeyondPostedBuffers", func(m *rawMaster) { m.M2S[0].SetTail(m.M2S[0].Head() + 5) },
			func(t *testing.T, s *memif.Interface) error { return rxOp(s)(t) }, "tail moved beyond the posted buffers", memif.ErrBadRingIndex},
		{"LengthAboveBuffer", func(m *rawMaster) {
			m.M2S[0].Desc(0).Length = 257
			m.M2S[0].SetTail(1)
		}, func(t *testing.T, s *memif.Interface) error { return rxOp(s)(t) }, "length above the posted buffer", memif.ErrBadDescriptor},
		{"S2MTailTooFar", func(m *rawMaster) { m.S2M[0].SetTail(50) },
			func(t *testing.T, s *memif.Interface) error { return txOp(s)(t) }, "tail moved further than the ring size", memif.ErrBadRingIndex},
	}
	for _, tc := range data {
		t.Run(tc.name, func(t *testing.T) {
			m, slave := startSlave(t, memif.SocketConfig{}, slaveCfg)
			m.Send(goodHello)
			m.Handshake()
			if err := slave.WaitConnected(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { return m.M2S[0].Head() == 16 })
			tc.corrupt(m)
			if err := tc.op(t, slave); !errors.Is(err, tc.want) {
				t.Fatalf("burst error %v, want %v", err, tc.want)
			}
			m.ExpectDisconnect(tc.reason)
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
		m.Send(goodHello)
		m.Handshake()
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
		m.S2M[0].SetTail(50)
		var err error
		for i := 0; i < 17 && err == nil; i++ {
			if _, err = tx.Alloc(bufs, 64); err == nil {
				_, err = tx.TxBurst(bufs)
			}
		}
		if !errors.Is(err, memif.ErrBadRingIndex) {
			t.Fatalf("allocating a ring's worth after the tail jumped: %v, want ErrBadRingIndex", err)
		}
		m.ExpectDisconnect("tail moved further than the ring size")
	})

	t.Run("MasterCannotRedirectSlaveBuffers", func(t *testing.T) {
		m, slave := startSlave(t, memif.SocketConfig{}, memif.InterfaceConfig{Log2RingSize: 4, BufferSize: 256, Headroom: 16})
		m.Send(goodHello)
		m.Handshake()
		if err := slave.WaitConnected(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return m.M2S[0].Head() == 16 })
		d := m.M2S[0].Desc(0)
		if d.Length != 240 || d.Offset%256 != 16 {
			t.Fatalf("posted descriptor %+v, want 240 bytes after 16 bytes of headroom", *d)
		}
		buf := m.Regions[d.Region][d.Offset:]
		copy(buf, "mine")
		d.Region, d.Offset, d.Length = 0, 0, 4 // point at the rings instead
		m.M2S[0].SetTail(1)
		if got := recvPackets(t, rxq(t, slave, 0), 1); string(got[0]) != "mine" {
			t.Errorf("slave read %q; it must read its own posted buffer, not where the master points", got[0])
		}
	})
}
