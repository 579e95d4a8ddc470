package memif_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/internal/ring"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

// rawSlave is memiftest's hand-built slave (16-slot rings, 256-byte
// buffers).
type rawSlave = memiftest.RawSlave

func newRawSlave(t *testing.T, path string) *rawSlave { return memiftest.NewRawSlave(t, path, nil) }

const rawLog2 = 4

// TestBadSlave: a misbehaving slave is refused with a DISCONNECT naming
// the reason and a counted error, and only its own connection ends: a
// healthy interface on the same socket keeps passing traffic throughout.
func TestBadSlave(t *testing.T) {
	memiftest.CheckFDLeaks(t)
	path := memiftest.SocketPath(t)
	sock, err := memif.NewSocket(memif.SocketConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	master, err := sock.NewInterface(memif.InterfaceConfig{ID: 1, Role: memif.RoleMaster, Secret: "sesame"})
	if err != nil {
		t.Fatal(err)
	}
	// The bystander pair: id 2 on the same listener.
	bystander, err := sock.NewInterface(memif.InterfaceConfig{ID: 2, Role: memif.RoleMaster})
	if err != nil {
		t.Fatal(err)
	}
	bsock, _ := memif.NewSocket(memif.SocketConfig{Path: path})
	defer bsock.Close()
	bslave, _ := bsock.NewInterface(memif.InterfaceConfig{ID: 2})
	if err := bslave.WaitConnected(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	checkBystander := func(t *testing.T) {
		t.Helper()
		p := []byte("still alive")
		if _, err := txq(t, bslave, 0).WritePackets([][]byte{p}); err != nil {
			t.Fatalf("bystander tx: %v", err)
		}
		if got := recvPackets(t, rxq(t, bystander, 0), 1); !bytes.Equal(got[0], p) {
			t.Fatal("bystander packet corrupted")
		}
	}
	init := func(s *rawSlave) {
		s.Send(memiftest.Init{Version: memiftest.Version, ID: 1, Name: "raw", Secret: "sesame"})
		s.Expect(memiftest.TypeAck)
	}
	rb := uint32(memiftest.RingBytes(rawLog2))

	control := []struct {
		name   string
		script func(s *rawSlave)
		reason string
		kind   error // checked on the interface when the slave named it
	}{
		{"WrongMessageSize", func(s *rawSlave) { s.SendBytes(memiftest.MsgBytes(3, 64)) }, "64 bytes", nil},
		{"OversizedMessage", func(s *rawSlave) { s.SendBytes(memiftest.MsgBytes(3, 200)) }, "200 bytes", nil},
		{"HugeMessage", func(s *rawSlave) { s.SendBytes(memiftest.MsgBytes(3, 4096)) }, "longer than 256 bytes", nil},
		{"UnknownMessageType", func(s *rawSlave) { s.SendBytes(memiftest.MsgBytes(77, 128)) }, "unknown message type 77", nil},
		{"MessageTypeNone", func(s *rawSlave) { s.SendBytes(memiftest.MsgBytes(0, 128)) }, "unknown message type 0", nil},
		{"ExtraFDOnInit", func(s *rawSlave) {
			s.Send(memiftest.Init{Version: memiftest.Version, ID: 1, Secret: "sesame"}, s.EventFDs[0])
		}, "INIT carries 1 file descriptors, want 0", nil},
		{"RegionBeforeInit", func(s *rawSlave) {
			s.Send(memiftest.AddRegion{Size: 4096}, s.Rings.FD)
		}, "want INIT", nil},
		{"BadVersion", func(s *rawSlave) {
			s.Send(memiftest.Init{Version: 0x0100, ID: 1, Secret: "sesame"})
		}, "unsupported version 0x0100", nil},
		{"UnmatchedID", func(s *rawSlave) { s.Send(memiftest.Init{Version: memiftest.Version, ID: 99}) }, "no master interface with id 99", nil},
		{"AlreadyConnected", func(s *rawSlave) { s.Send(memiftest.Init{Version: memiftest.Version, ID: 2}) }, "already has a peer", nil},
		{"ModeMismatch", func(s *rawSlave) {
			s.Send(memiftest.Init{Version: memiftest.Version, ID: 1, Mode: 1, Secret: "sesame"})
		}, "mode mismatch", memif.ErrModeMismatch},
		{"SecretMissing", func(s *rawSlave) { s.Send(memiftest.Init{Version: memiftest.Version, ID: 1}) }, "secret required", memif.ErrSecret},
		{"SecretWrong", func(s *rawSlave) {
			s.Send(memiftest.Init{Version: memiftest.Version, ID: 1, Secret: "sesamE"})
		}, "incorrect secret", memif.ErrSecret},
		{"RegionMissingFD", func(s *rawSlave) {
			init(s)
			s.Send(memiftest.AddRegion{Size: 4096})
		}, "ADD_REGION without its file descriptor", memif.ErrProtocol},
		{"RegionTwoFDs", func(s *rawSlave) {
			init(s)
			s.Send(memiftest.AddRegion{Size: 4096}, s.Rings.FD, s.Bufs.FD)
		}, "carries 2 file descriptors", memif.ErrProtocol},
		{"RegionIndexOutOfRange", func(s *rawSlave) {
			init(s)
			s.Send(memiftest.AddRegion{Index: 5, Size: 4096}, s.Rings.FD)
		}, "region 5: index out of order, want 0", memif.ErrProtocol},
		{"RegionFileSmallerThanAnnounced", func(s *rawSlave) {
			init(s)
			s.Send(memiftest.AddRegion{Size: 1 << 20}, s.Rings.FD)
		}, "fewer than the announced", memif.ErrProtocol},
		{"RegionSizeZero", func(s *rawSlave) {
			init(s)
			s.Send(memiftest.AddRegion{Size: 0}, s.Rings.FD)
		}, "size 0 outside", memif.ErrLimit},
		{"UnsealedRegion", func(s *rawSlave) {
			init(s)
			u := memiftest.NewUnsealedMem(t, 4096)
			s.Send(memiftest.AddRegion{Size: 4096}, u.FD)
		}, "cannot be sealed against shrinking", memif.ErrUnsealedRegion},
		{"RingMissingFD", func(s *rawSlave) {
			init(s)
			s.Regions()
			s.Send(memiftest.AddRing{Flags: memiftest.RingFlagS2M, Log2RingSize: rawLog2})
		}, "ADD_RING without its file descriptor", memif.ErrProtocol},
		{"RingFDNotEventfd", func(s *rawSlave) {
			init(s)
			s.Regions()
			s.Send(memiftest.AddRing{Flags: memiftest.RingFlagS2M, Log2RingSize: rawLog2}, s.Bufs.FD)
		}, "not an eventfd", memif.ErrProtocol},
		{"RingIndexOutOfOrder", func(s *rawSlave) {
			init(s)
			s.Regions()
			s.Send(memiftest.AddRing{Flags: memiftest.RingFlagS2M, Index: 3, Log2RingSize: rawLog2}, s.EventFDs[0])
		}, "s2m ring 3: index out of order", memif.ErrProtocol},
		{"RingIndexAboveQueues", func(s *rawSlave) {
			init(s)
			s.Regions()
			s.RingMsgs()
			s.Send(memiftest.AddRing{Index: 1, Offset: 2 * rb, Log2RingSize: rawLog2}, s.EventFDs[1])
		}, "more than the 1 queues", memif.ErrLimit},
		{"RingRegionNotAnnounced", func(s *rawSlave) {
			init(s)
			s.Send(memiftest.AddRegion{Size: uint64(len(s.Rings.Data))}, s.Rings.FD)
			s.Expect(memiftest.TypeAck)
			s.Send(memiftest.AddRing{Flags: memiftest.RingFlagS2M, Region: 1, Log2RingSize: rawLog2}, s.EventFDs[0])
		}, "region 1 not announced", memif.ErrProtocol},
		{"RegionTooSmallForRing", func(s *rawSlave) {
			init(s)
			s.Regions()
			s.Send(memiftest.AddRing{Flags: memiftest.RingFlagS2M, Log2RingSize: 10}, s.EventFDs[0])
		}, "beyond region 0", memif.ErrProtocol},
		{"RingBeyondRegion", func(s *rawSlave) {
			init(s)
			s.Regions()
			s.Send(memiftest.AddRing{Flags: memiftest.RingFlagS2M, Offset: rb + 64, Log2RingSize: rawLog2}, s.EventFDs[0])
		}, "beyond region 0", memif.ErrProtocol},
		{"RingOffsetOverflow", func(s *rawSlave) {
			init(s)
			s.Regions()
			s.Send(memiftest.AddRing{Flags: memiftest.RingFlagS2M, Offset: 0xFFFFFFF0, Log2RingSize: rawLog2}, s.EventFDs[0])
		}, "beyond region 0", memif.ErrProtocol},
		{"RingMisaligned", func(s *rawSlave) {
			init(s)
			s.Regions()
			s.Send(memiftest.AddRing{Flags: memiftest.RingFlagS2M, Offset: 2, Log2RingSize: rawLog2}, s.EventFDs[0])
		}, "not 4-byte aligned", memif.ErrProtocol},
		{"RingLog2TooLarge", func(s *rawSlave) {
			init(s)
			s.Regions()
			s.Send(memiftest.AddRing{Flags: memiftest.RingFlagS2M, Log2RingSize: 15}, s.EventFDs[0])
		}, "log2 size 15 above 14", memif.ErrLimit},
		{"PrivateHeader", func(s *rawSlave) {
			init(s)
			s.Regions()
			s.Send(memiftest.AddRing{Flags: memiftest.RingFlagS2M, Log2RingSize: rawLog2, PrivateHdrSize: 8}, s.EventFDs[0])
		}, "private headers not supported", memif.ErrProtocol},
		{"ConnectWithoutRings", func(s *rawSlave) {
			init(s)
			s.Regions()
			s.Send(memiftest.Connect{})
		}, "need at least one", memif.ErrProtocol},
		{"BadCookie", func(s *rawSlave) {
			init(s)
			s.Regions()
			s.RingMsgs()
			s.Rings.Data[rb] = 0 // M2S ring cookie
			s.Send(memiftest.Connect{})
		}, "wrong cookie", memif.ErrProtocol},
		{"UnexpectedMessageAfterConnect", func(s *rawSlave) {
			init(s)
			s.Regions()
			s.RingMsgs()
			s.Connect()
			s.Send(memiftest.Ack{})
		}, "unexpected ACK after connect", memif.ErrProtocol},
	}
	for k, tc := range control {
		t.Run(tc.name, func(t *testing.T) {
			refused := sock.Stats().Refused
			s := newRawSlave(t, path)
			s.Hello()
			tc.script(s)
			if d := s.ExpectDisconnect(tc.reason); d.Code != 0 {
				t.Errorf("DISCONNECT code %d, want 0 (the reason says what happened)", d.Code)
			}
			waitFor(t, func() bool { return sock.Stats().Refused == refused+1 })
			if tc.kind != nil && !errors.Is(master.LastError(), tc.kind) {
				t.Errorf("master LastError %v, want %v", master.LastError(), tc.kind)
			}
			if k%8 == 0 {
				checkBystander(t)
			}
		})
	}

	// Data-path violations: a good handshake, then the slave corrupts the
	// shared memory. The master's burst fails with a named error and the
	// connection ends with a DISCONNECT.
	data := []struct {
		name    string
		corrupt func(s *rawSlave)
		op      func(t *testing.T) error
		reason  string
		want    error
	}{
		{"HeadMovesTooFar", func(s *rawSlave) { s.S2M.SetHead(17) }, rxOp(master), "head moved further than the ring size", memif.ErrBadRingIndex},
		{"DescriptorOutsideRegion", func(s *rawSlave) {
			*s.S2M.Desc(0) = memiftest.Desc{Region: 1, Offset: uint32(len(s.Bufs.Data)) - 10, Length: 11}
			s.S2M.SetHead(1)
		}, rxOp(master), "outside its region", memif.ErrBadDescriptor},
		{"DescriptorRegionOutOfRange", func(s *rawSlave) {
			*s.S2M.Desc(0) = memiftest.Desc{Region: 2, Length: 1}
			s.S2M.SetHead(1)
		}, rxOp(master), "region index out of range", memif.ErrBadDescriptor},
		{"DescriptorOffsetOverflow", func(s *rawSlave) {
			*s.S2M.Desc(0) = memiftest.Desc{Region: 1, Offset: 0xFFFFFFFF, Length: 0xFFFFFFFF}
			s.S2M.SetHead(1)
		}, rxOp(master), "outside its region", memif.ErrBadDescriptor},
		{"ChainNeverEnds", func(s *rawSlave) {
			for i := range uint16(16) {
				*s.S2M.Desc(i) = memiftest.Desc{Flags: memiftest.DescFlagNext, Region: 1, Length: 1}
			}
			s.S2M.SetHead(16)
		}, rxOp(master), "chain does not end", memif.ErrBadDescriptor},
		{"PostedBufferOutsideRegion", func(s *rawSlave) {
			*s.M2S.Desc(0) = memiftest.Desc{Region: 1, Offset: 1 << 30, Length: 256}
			s.M2S.SetHead(1)
		}, txOp(master), "outside its region", memif.ErrBadDescriptor},
		{"PostedHeadMovesTooFar", func(s *rawSlave) { s.M2S.SetHead(100) }, txOp(master), "head moved further than the ring size", memif.ErrBadRingIndex},
	}
	for _, tc := range data {
		t.Run(tc.name, func(t *testing.T) {
			bad := master.Stats().BadDescriptors
			s := newRawSlave(t, path)
			s.Hello()
			init(s)
			s.Regions()
			s.RingMsgs()
			s.Connect()
			waitFor(t, master.Connected)
			tc.corrupt(s)
			if err := tc.op(t); !errors.Is(err, tc.want) {
				t.Fatalf("burst error %v, want %v", err, tc.want)
			}
			s.ExpectDisconnect(tc.reason)
			waitFor(t, func() bool { return !master.Connected() })
			var de *memif.DisconnectError
			if err := master.LastError(); !errors.As(err, &de) || de.Remote || !errors.Is(err, tc.want) {
				t.Errorf("master LastError %v", err)
			}
			if got := master.Stats().BadDescriptors; got != bad+1 {
				t.Errorf("bad descriptor count %d, want %d", got, bad+1)
			}
			checkBystander(t)
		})
	}
	// And after all that, a well-behaved raw slave still gets through.
	t.Run("GoodAfterBad", func(t *testing.T) {
		s := newRawSlave(t, path)
		s.Hello()
		init(s)
		s.Regions()
		s.RingMsgs()
		s.Connect()
		waitFor(t, master.Connected)
		copy(s.Bufs.Data[0:], "raw packet")
		*s.S2M.Desc(0) = memiftest.Desc{Region: 1, Offset: 0, Length: 10}
		s.S2M.SetHead(1)
		if got := recvPackets(t, rxq(t, master, 0), 1); string(got[0]) != "raw packet" {
			t.Errorf("got %q", got[0])
		}
		if tail := s.S2M.Tail(); tail != 1 {
			t.Errorf("master released up to %d, want 1", tail)
		}
		s.Send(memiftest.Disconnect{Code: 0, Reason: "bye"})
		waitFor(t, func() bool { return !master.Connected() })
		var de *memif.DisconnectError
		if err := master.LastError(); !errors.As(err, &de) || !de.Remote || de.Reason != "bye" {
			t.Errorf("master LastError %v, want the peer's reason", err)
		}
	})
}

func rxOp(i *memif.Interface) func(t *testing.T) error {
	return func(t *testing.T) error {
		q := rxq(t, i, 0)
		_, err := q.RxBurst(make([]memif.Buffer, 32))
		if _, err2 := q.RxBurst(make([]memif.Buffer, 32)); !errors.Is(err2, memif.ErrDisconnected) {
			t.Errorf("second burst after a violation: %v, want ErrDisconnected", err2)
		}
		return err
	}
}

func txOp(i *memif.Interface) func(t *testing.T) error {
	return func(t *testing.T) error {
		_, err := txq(t, i, 0).Alloc(make([]memif.Buffer, 4), 64)
		return err
	}
}

// TestMasterAcceptsArbitraryLayout: a slave may use several regions, put
// rings at any offset and buffers anywhere, and post M2S buffers of any
// capacity; the master follows each descriptor.
func TestMasterAcceptsArbitraryLayout(t *testing.T) {
	memiftest.CheckFDLeaks(t)
	path := memiftest.SocketPath(t)
	sock, err := memif.NewSocket(memif.SocketConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	master, err := sock.NewInterface(memif.InterfaceConfig{ID: 4, Role: memif.RoleMaster})
	if err != nil {
		t.Fatal(err)
	}
	p := memiftest.DialRaw(t, path)
	rb := memiftest.RingBytes(rawLog2)
	regs := []memiftest.Mem{memiftest.NewMem(t, 3000), memiftest.NewMem(t, 5000), memiftest.NewMem(t, 4096+2*rb+100)}
	ringOff := []uint32{4096 + 100, uint32(4096 + 100 + rb)} // rings in region 2, after 4 KiB of buffers
	s2m, _ := ring.New(regs[2].Data[ringOff[0]:], 64, rawLog2)
	m2s, _ := ring.New(regs[2].Data[ringOff[1]:], 64, rawLog2)
	s2m.Init(0)
	m2s.Init(0)
	p.Expect(memiftest.TypeHello)
	p.Send(memiftest.Init{Version: memiftest.Version, ID: 4})
	p.Expect(memiftest.TypeAck)
	for k, r := range regs {
		p.Send(memiftest.AddRegion{Index: uint16(k), Size: uint64(len(r.Data))}, r.FD)
		p.Expect(memiftest.TypeAck)
	}
	p.Send(memiftest.AddRing{Flags: memiftest.RingFlagS2M, Region: 2, Offset: ringOff[0], Log2RingSize: rawLog2}, memiftest.NewEventfd(t))
	p.Expect(memiftest.TypeAck)
	p.Send(memiftest.AddRing{Region: 2, Offset: ringOff[1], Log2RingSize: rawLog2}, memiftest.NewEventfd(t))
	p.Expect(memiftest.TypeAck)
	p.Send(memiftest.Connect{Name: "odd"})
	p.Expect(memiftest.TypeConnected)
	waitFor(t, master.Connected)
	if r := master.Regions(); len(r) != 3 || r[0].Rings || r[1].Rings || !r[2].Rings {
		t.Errorf("regions %+v: only region 2 holds rings", r)
	}

	// S2M: a 2-descriptor packet spread over regions 1 and 0.
	copy(regs[1].Data[4321:], "hello, ")
	copy(regs[0].Data[17:], "world")
	*s2m.Desc(0) = memiftest.Desc{Flags: memiftest.DescFlagNext, Region: 1, Offset: 4321, Length: 7}
	*s2m.Desc(1) = memiftest.Desc{Region: 0, Offset: 17, Length: 5}
	s2m.SetHead(2)
	if got := recvPackets(t, rxq(t, master, 0), 1); string(got[0]) != "hello, world" {
		t.Errorf("master got %q", got[0])
	}

	// M2S: buffers of 10, 3 and 50 bytes; a 20-byte packet must chain over
	// the first two and a third of the last, each within its capacity.
	caps := []struct {
		region uint16
		off    uint32
		cap    uint32
	}{{0, 2000, 10}, {1, 7, 3}, {2, 0, 50}}
	for i, c := range caps {
		*m2s.Desc(uint16(i)) = memiftest.Desc{Region: c.region, Offset: c.off, Length: c.cap}
	}
	m2s.SetHead(3)
	pkt := []byte("0123456789abcdefghij")
	if n, err := txq(t, master, 0).WritePackets([][]byte{pkt}); n != 1 || err != nil {
		t.Fatalf("WritePackets = %d, %v", n, err)
	}
	if m2s.Tail() != 3 {
		t.Fatalf("tail %d, want 3", m2s.Tail())
	}
	var got []byte
	for i, c := range caps {
		d := *m2s.Desc(uint16(i))
		if d.Region != c.region || d.Offset != c.off || d.Length > c.cap {
			t.Errorf("descriptor %d changed to %+v (master must keep region/offset, stay within capacity)", i, d)
		}
		if (i < 2) != (d.Flags&memiftest.DescFlagNext != 0) {
			t.Errorf("descriptor %d flags %d", i, d.Flags)
		}
		got = append(got, regs[d.Region].Data[d.Offset:d.Offset+d.Length]...)
	}
	if string(got) != string(pkt) {
		t.Errorf("slave would read %q", got)
	}
	p.Send(memiftest.Disconnect{Reason: "done"})
	waitFor(t, func() bool { return !master.Connected() })
}
