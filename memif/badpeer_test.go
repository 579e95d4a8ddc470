package memif_test

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/internal/memiftest"
	"github.com/memif-wasm/memif-wasm/memif/internal/proto"
	"github.com/memif-wasm/memif-wasm/memif/internal/ring"
	"github.com/memif-wasm/memif-wasm/memif/internal/shm"
)

// rawPeer speaks the memif control protocol byte by byte, so tests can
// send what no correct implementation would.
type rawPeer struct {
	t  *testing.T
	uc *net.UnixConn
}

func dialRaw(t *testing.T, path string) *rawPeer {
	t.Helper()
	c, err := net.Dial("unixpacket", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawPeer{t: t, uc: c.(*net.UnixConn)}
}

func (p *rawPeer) sendBytes(b []byte, fds ...int) {
	p.t.Helper()
	var oob []byte
	for _, fd := range fds {
		oob = append(oob, shm.Rights(fd)...)
	}
	if _, _, err := p.uc.WriteMsgUnix(b, oob, nil); err != nil {
		p.t.Fatalf("raw peer send: %v", err)
	}
}

func (p *rawPeer) send(m proto.Message, fds ...int) {
	p.t.Helper()
	var b [proto.Size]byte
	proto.Encode(&b, m)
	p.sendBytes(b[:], fds...)
}

// recv returns the next message and any descriptors it carried.
func (p *rawPeer) recv() (proto.Message, []int) {
	p.t.Helper()
	buf := make([]byte, 256)
	oob := make([]byte, shm.RecvOOBSize)
	p.uc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, oobn, _, _, err := p.uc.ReadMsgUnix(buf, oob)
	if err != nil {
		p.t.Fatalf("raw peer recv: %v", err)
	}
	fds, _ := shm.ParseRights(oob[:oobn])
	for _, fd := range fds {
		p.t.Cleanup(func() { shm.Close(fd) })
	}
	m, err := proto.Decode(buf[:n])
	if err != nil {
		p.t.Fatalf("raw peer got a bad message (%d bytes): %v", n, err)
	}
	return m, fds
}

func (p *rawPeer) expect(ty proto.Type) (proto.Message, []int) {
	p.t.Helper()
	m, fds := p.recv()
	if m.Type() != ty {
		p.t.Fatalf("raw peer got %s %+v, want %s", m.Type(), m, ty)
	}
	return m, fds
}

// expectDisconnect requires a DISCONNECT whose reason contains want and
// whose code is the libmemif code of wantErr (when given).
func (p *rawPeer) expectDisconnect(want string, wantErr *memif.Error) {
	p.t.Helper()
	m, _ := p.expect(proto.TypeDisconnect)
	d := m.(proto.Disconnect)
	if !strings.Contains(d.Reason, want) {
		p.t.Errorf("DISCONNECT reason %q does not contain %q", d.Reason, want)
	}
	if wantErr != nil && d.Code != uint32(wantErr.Code) {
		p.t.Errorf("DISCONNECT code %d, want %d (%v)", d.Code, wantErr.Code, wantErr)
	}
	// The connection must be closed after the DISCONNECT.
	p.uc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _, _, _, err := p.uc.ReadMsgUnix(make([]byte, 256), nil); n != 0 || (err != nil && !isClosedErr(err)) {
		p.t.Errorf("after DISCONNECT: read %d bytes, %v; want the socket closed", n, err)
	}
}

func isClosedErr(err error) bool {
	return strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "EOF")
}

type rawMem struct {
	fd   int
	data []byte
}

func newMem(t *testing.T, size int) rawMem {
	t.Helper()
	fd, err := shm.Memfd("test", size)
	if err != nil {
		t.Fatal(err)
	}
	data, err := shm.Map(fd, size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shm.Unmap(data); shm.Close(fd) })
	return rawMem{fd, data}
}

func newEventfd(t *testing.T) int {
	t.Helper()
	fd, err := shm.Eventfd()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shm.Close(fd) })
	return fd
}

const rawLog2 = 4 // 16-slot rings

// rawSlave is a hand-built slave: region 0 holds one S2M and one M2S ring,
// region 1 the buffers (256 bytes each).
type rawSlave struct {
	*rawPeer
	rings    rawMem
	bufs     rawMem
	s2m, m2s ring.Ring
	efd      [2]int
}

func newRawSlave(t *testing.T, path string) *rawSlave {
	rb := ring.Bytes(64, rawLog2)
	s := &rawSlave{rawPeer: dialRaw(t, path), rings: newMem(t, 2*rb), bufs: newMem(t, 32*256)}
	s.s2m, _ = ring.New(s.rings.data[:rb], 64, rawLog2)
	s.m2s, _ = ring.New(s.rings.data[rb:], 64, rawLog2)
	s.s2m.Init(0)
	s.m2s.Init(0)
	s.efd = [2]int{newEventfd(t), newEventfd(t)}
	return s
}

func (s *rawSlave) hello() { s.expect(proto.TypeHello) }

func (s *rawSlave) init(id uint32) {
	s.send(proto.Init{Version: proto.Version, ID: id, Name: "raw"})
	s.expect(proto.TypeAck)
}

func (s *rawSlave) regions() {
	s.send(proto.AddRegion{Index: 0, Size: uint64(len(s.rings.data))}, s.rings.fd)
	s.expect(proto.TypeAck)
	s.send(proto.AddRegion{Index: 1, Size: uint64(len(s.bufs.data))}, s.bufs.fd)
	s.expect(proto.TypeAck)
}

func (s *rawSlave) ringsMsgs() {
	s.send(proto.AddRing{Flags: proto.RingFlagS2M, Region: 0, Offset: 0, Log2RingSize: rawLog2}, s.efd[0])
	s.expect(proto.TypeAck)
	s.send(proto.AddRing{Region: 0, Offset: uint32(ring.Bytes(64, rawLog2)), Log2RingSize: rawLog2}, s.efd[1])
	s.expect(proto.TypeAck)
}

func (s *rawSlave) connect() {
	s.send(proto.Connect{Name: "raw-if"})
	s.expect(proto.TypeConnected)
}

func (s *rawSlave) handshake(id uint32) {
	s.hello()
	s.init(id)
	s.regions()
	s.ringsMsgs()
	s.connect()
}

func msgBytes(ty uint16, n int) []byte {
	b := make([]byte, n)
	b[0], b[1] = byte(ty), byte(ty>>8)
	return b
}

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
		s.send(proto.Init{Version: proto.Version, ID: 1, Name: "raw", Secret: "sesame"})
		s.expect(proto.TypeAck)
	}
	rb := uint32(ring.Bytes(64, rawLog2))

	control := []struct {
		name    string
		script  func(s *rawSlave)
		reason  string
		wantErr *memif.Error
	}{
		{"WrongMessageSize", func(s *rawSlave) { s.sendBytes(msgBytes(3, 64)) }, "64 bytes", memif.ErrMalformedMsg},
		{"OversizedMessage", func(s *rawSlave) { s.sendBytes(msgBytes(3, 200)) }, "200 bytes", memif.ErrMalformedMsg},
		{"UnknownMessageType", func(s *rawSlave) { s.sendBytes(msgBytes(77, 128)) }, "unknown message type 77", memif.ErrUnknownMsg},
		{"MessageTypeNone", func(s *rawSlave) { s.sendBytes(msgBytes(0, 128)) }, "unknown message type 0", memif.ErrUnknownMsg},
		{"ExtraFDOnInit", func(s *rawSlave) {
			s.send(proto.Init{Version: proto.Version, ID: 1, Secret: "sesame"}, s.efd[0])
		}, "INIT carries 1 file descriptors, want 0", memif.ErrMalformedMsg},
		{"RegionBeforeInit", func(s *rawSlave) {
			s.send(proto.AddRegion{Size: 4096}, s.rings.fd)
		}, "want INIT", memif.ErrUnknownMsg},
		{"BadVersion", func(s *rawSlave) {
			s.send(proto.Init{Version: 0x0100, ID: 1, Secret: "sesame"})
		}, "unsupported version 0x0100", memif.ErrProto},
		{"UnmatchedID", func(s *rawSlave) { s.send(proto.Init{Version: proto.Version, ID: 99}) }, "unmatched interface id 99", memif.ErrID},
		{"AlreadyConnected", func(s *rawSlave) { s.send(proto.Init{Version: proto.Version, ID: 2}) }, "already connected", memif.ErrAlrConn},
		{"ModeMismatch", func(s *rawSlave) {
			s.send(proto.Init{Version: proto.Version, ID: 1, Mode: 1, Secret: "sesame"})
		}, "mode mismatch", memif.ErrMode},
		{"SecretMissing", func(s *rawSlave) { s.send(proto.Init{Version: proto.Version, ID: 1}) }, "secret required", memif.ErrNoSecret},
		{"SecretWrong", func(s *rawSlave) {
			s.send(proto.Init{Version: proto.Version, ID: 1, Secret: "sesamE"})
		}, "incorrect secret", memif.ErrSecret},
		{"RegionMissingFD", func(s *rawSlave) {
			init(s)
			s.send(proto.AddRegion{Size: 4096})
		}, "without a memory file descriptor", memif.ErrNoShmFD},
		{"RegionTwoFDs", func(s *rawSlave) {
			init(s)
			s.send(proto.AddRegion{Size: 4096}, s.rings.fd, s.bufs.fd)
		}, "carries 2 file descriptors", memif.ErrMalformedMsg},
		{"RegionIndexOutOfRange", func(s *rawSlave) {
			init(s)
			s.send(proto.AddRegion{Index: 5, Size: 4096}, s.rings.fd)
		}, "region index 5, want 0", memif.ErrMaxReg},
		{"RegionFileSmallerThanAnnounced", func(s *rawSlave) {
			init(s)
			s.send(proto.AddRegion{Size: 1 << 20}, s.rings.fd)
		}, "fewer than the announced", memif.ErrNoShmFD},
		{"RegionSizeZero", func(s *rawSlave) {
			init(s)
			s.send(proto.AddRegion{Size: 0}, s.rings.fd)
		}, "size 0", memif.ErrInvalArg},
		{"RingMissingFD", func(s *rawSlave) {
			init(s)
			s.regions()
			s.send(proto.AddRing{Flags: proto.RingFlagS2M, Log2RingSize: rawLog2})
		}, "without an interrupt file descriptor", memif.ErrNoIntFD},
		{"RingFDNotEventfd", func(s *rawSlave) {
			init(s)
			s.regions()
			s.send(proto.AddRing{Flags: proto.RingFlagS2M, Log2RingSize: rawLog2}, s.bufs.fd)
		}, "not an eventfd", memif.ErrNoIntFD},
		{"RingIndexOutOfOrder", func(s *rawSlave) {
			init(s)
			s.regions()
			s.send(proto.AddRing{Flags: proto.RingFlagS2M, Index: 3, Log2RingSize: rawLog2}, s.efd[0])
		}, "s2m ring 3: index out of order", memif.ErrMaxRing},
		{"RingIndexAboveQueues", func(s *rawSlave) {
			init(s)
			s.regions()
			s.ringsMsgs()
			s.send(proto.AddRing{Index: 1, Offset: 2 * rb, Log2RingSize: rawLog2}, s.efd[1])
		}, "more than the 1 configured queues", memif.ErrMaxRing},
		{"RingRegionNotAnnounced", func(s *rawSlave) {
			init(s)
			s.send(proto.AddRegion{Size: uint64(len(s.rings.data))}, s.rings.fd)
			s.expect(proto.TypeAck)
			s.send(proto.AddRing{Flags: proto.RingFlagS2M, Region: 1, Log2RingSize: rawLog2}, s.efd[0])
		}, "region 1 not announced", memif.ErrMaxReg},
		{"RegionTooSmallForRing", func(s *rawSlave) {
			init(s)
			s.regions()
			s.send(proto.AddRing{Flags: proto.RingFlagS2M, Log2RingSize: 10}, s.efd[0])
		}, "beyond region 0", memif.ErrInvalArg},
		{"RingBeyondRegion", func(s *rawSlave) {
			init(s)
			s.regions()
			s.send(proto.AddRing{Flags: proto.RingFlagS2M, Offset: rb + 64, Log2RingSize: rawLog2}, s.efd[0])
		}, "beyond region 0", memif.ErrInvalArg},
		{"RingOffsetOverflow", func(s *rawSlave) {
			init(s)
			s.regions()
			s.send(proto.AddRing{Flags: proto.RingFlagS2M, Offset: 0xFFFFFFF0, Log2RingSize: rawLog2}, s.efd[0])
		}, "beyond region 0", memif.ErrInvalArg},
		{"RingMisaligned", func(s *rawSlave) {
			init(s)
			s.regions()
			s.send(proto.AddRing{Flags: proto.RingFlagS2M, Offset: 2, Log2RingSize: rawLog2}, s.efd[0])
		}, "not 4-byte aligned", memif.ErrInvalArg},
		{"RingLog2TooLarge", func(s *rawSlave) {
			init(s)
			s.regions()
			s.send(proto.AddRing{Flags: proto.RingFlagS2M, Log2RingSize: 15}, s.efd[0])
		}, "log2 size 15", memif.ErrMaxLog2Ring},
		{"PrivateHeader", func(s *rawSlave) {
			init(s)
			s.regions()
			s.send(proto.AddRing{Flags: proto.RingFlagS2M, Log2RingSize: rawLog2, PrivateHdrSize: 8}, s.efd[0])
		}, "private headers not supported", memif.ErrPrivHdr},
		{"ConnectWithoutRings", func(s *rawSlave) {
			init(s)
			s.regions()
			s.send(proto.Connect{})
		}, "need at least one", memif.ErrMaxRing},
		{"BadCookie", func(s *rawSlave) {
			init(s)
			s.regions()
			s.ringsMsgs()
			s.rings.data[rb] = 0 // M2S ring cookie
			s.send(proto.Connect{})
		}, "wrong cookie", memif.ErrCookie},
		{"UnexpectedMessageAfterConnect", func(s *rawSlave) {
			init(s)
			s.regions()
			s.ringsMsgs()
			s.connect()
			s.send(proto.Ack{})
		}, "unexpected ACK after connect", memif.ErrUnknownMsg},
	}
	for k, tc := range control {
		t.Run(tc.name, func(t *testing.T) {
			refused := sock.Stats().Refused
			s := newRawSlave(t, path)
			s.hello()
			tc.script(s)
			s.expectDisconnect(tc.reason, tc.wantErr)
			waitFor(t, func() bool { return sock.Stats().Refused == refused+1 })
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
		{"HeadMovesTooFar", func(s *rawSlave) { s.s2m.SetHead(17) }, rxOp(master), "head moved further than the ring size", memif.ErrBadRingIndex},
		{"DescriptorOutsideRegion", func(s *rawSlave) {
			*s.s2m.Desc(0) = ring.Desc{Region: 1, Offset: uint32(len(s.bufs.data)) - 10, Length: 11}
			s.s2m.SetHead(1)
		}, rxOp(master), "outside its region", memif.ErrBadDescriptor},
		{"DescriptorRegionOutOfRange", func(s *rawSlave) {
			*s.s2m.Desc(0) = ring.Desc{Region: 2, Length: 1}
			s.s2m.SetHead(1)
		}, rxOp(master), "region index out of range", memif.ErrBadDescriptor},
		{"DescriptorOffsetOverflow", func(s *rawSlave) {
			*s.s2m.Desc(0) = ring.Desc{Region: 1, Offset: 0xFFFFFFFF, Length: 0xFFFFFFFF}
			s.s2m.SetHead(1)
		}, rxOp(master), "outside its region", memif.ErrBadDescriptor},
		{"ChainNeverEnds", func(s *rawSlave) {
			for i := range uint16(16) {
				*s.s2m.Desc(i) = ring.Desc{Flags: ring.DescFlagNext, Region: 1, Length: 1}
			}
			s.s2m.SetHead(16)
		}, rxOp(master), "chain does not end", memif.ErrBadDescriptor},
		{"PostedBufferOutsideRegion", func(s *rawSlave) {
			*s.m2s.Desc(0) = ring.Desc{Region: 1, Offset: 1 << 30, Length: 256}
			s.m2s.SetHead(1)
		}, txOp(master), "outside its region", memif.ErrBadDescriptor},
		{"PostedHeadMovesTooFar", func(s *rawSlave) { s.m2s.SetHead(100) }, txOp(master), "head moved further than the ring size", memif.ErrBadRingIndex},
	}
	for _, tc := range data {
		t.Run(tc.name, func(t *testing.T) {
			bad := master.Stats().BadDescriptors
			s := newRawSlave(t, path)
			s.hello()
			init(s)
			s.regions()
			s.ringsMsgs()
			s.connect()
			waitFor(t, master.Connected)
			tc.corrupt(s)
			if err := tc.op(t); !errors.Is(err, tc.want) {
				t.Fatalf("burst error %v, want %v", err, tc.want)
			}
			s.expectDisconnect(tc.reason, nil)
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
		s.hello()
		init(s)
		s.regions()
		s.ringsMsgs()
		s.connect()
		waitFor(t, master.Connected)
		copy(s.bufs.data[0:], "raw packet")
		*s.s2m.Desc(0) = ring.Desc{Region: 1, Offset: 0, Length: 10}
		s.s2m.SetHead(1)
		if got := recvPackets(t, rxq(t, master, 0), 1); string(got[0]) != "raw packet" {
			t.Errorf("got %q", got[0])
		}
		if tail := s.s2m.Tail(); tail != 1 {
			t.Errorf("master released up to %d, want 1", tail)
		}
		s.send(proto.Disconnect{Code: 0, Reason: "bye"})
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
	p := dialRaw(t, path)
	rb := ring.Bytes(64, rawLog2)
	regs := []rawMem{newMem(t, 3000), newMem(t, 5000), newMem(t, 4096+2*rb+100)}
	ringOff := []uint32{4096 + 100, uint32(4096 + 100 + rb)} // rings in region 2, after 4 KiB of buffers
	s2m, _ := ring.New(regs[2].data[ringOff[0]:], 64, rawLog2)
	m2s, _ := ring.New(regs[2].data[ringOff[1]:], 64, rawLog2)
	s2m.Init(0)
	m2s.Init(0)
	p.expect(proto.TypeHello)
	p.send(proto.Init{Version: proto.Version, ID: 4})
	p.expect(proto.TypeAck)
	for k, r := range regs {
		p.send(proto.AddRegion{Index: uint16(k), Size: uint64(len(r.data))}, r.fd)
		p.expect(proto.TypeAck)
	}
	p.send(proto.AddRing{Flags: proto.RingFlagS2M, Region: 2, Offset: ringOff[0], Log2RingSize: rawLog2}, newEventfd(t))
	p.expect(proto.TypeAck)
	p.send(proto.AddRing{Region: 2, Offset: ringOff[1], Log2RingSize: rawLog2}, newEventfd(t))
	p.expect(proto.TypeAck)
	p.send(proto.Connect{Name: "odd"})
	p.expect(proto.TypeConnected)
	waitFor(t, master.Connected)
	if r := master.Regions(); len(r) != 3 || r[0].Rings || r[1].Rings || !r[2].Rings {
		t.Errorf("regions %+v: only region 2 holds rings", r)
	}

	// S2M: a 2-descriptor packet spread over regions 1 and 0.
	copy(regs[1].data[4321:], "hello, ")
	copy(regs[0].data[17:], "world")
	*s2m.Desc(0) = ring.Desc{Flags: ring.DescFlagNext, Region: 1, Offset: 4321, Length: 7}
	*s2m.Desc(1) = ring.Desc{Region: 0, Offset: 17, Length: 5}
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
		*m2s.Desc(uint16(i)) = ring.Desc{Region: c.region, Offset: c.off, Length: c.cap}
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
		if (i < 2) != (d.Flags&ring.DescFlagNext != 0) {
			t.Errorf("descriptor %d flags %d", i, d.Flags)
		}
		got = append(got, regs[d.Region].data[d.Offset:d.Offset+d.Length]...)
	}
	if string(got) != string(pkt) {
		t.Errorf("slave would read %q", got)
	}
	p.send(proto.Disconnect{Reason: "done"})
	waitFor(t, func() bool { return !master.Connected() })
}
