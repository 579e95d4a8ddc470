package memiftest

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif/internal/proto"
	"github.com/memif-wasm/memif-wasm/memif/internal/ring"
	"github.com/memif-wasm/memif-wasm/memif/internal/shm"
)

// The control protocol's messages and the ring layout, for scripting a raw
// peer that sends what no correct implementation would.
type (
	Message    = proto.Message
	MsgType    = proto.Type
	Ack        = proto.Ack
	Hello      = proto.Hello
	Init       = proto.Init
	AddRegion  = proto.AddRegion
	AddRing    = proto.AddRing
	Connect    = proto.Connect
	Connected  = proto.Connected
	Disconnect = proto.Disconnect
	// Ring is a view of one ring in shared memory; Desc one descriptor.
	Ring = ring.Ring
	Desc = ring.Desc
)

// Protocol constants.
const (
	Version      = proto.Version
	MsgSize      = proto.Size
	RingFlagS2M  = proto.RingFlagS2M
	DescFlagNext = ring.DescFlagNext
	RingCookie   = ring.Cookie

	TypeAck        = proto.TypeAck
	TypeHello      = proto.TypeHello
	TypeInit       = proto.TypeInit
	TypeAddRegion  = proto.TypeAddRegion
	TypeAddRing    = proto.TypeAddRing
	TypeConnect    = proto.TypeConnect
	TypeConnected  = proto.TypeConnected
	TypeDisconnect = proto.TypeDisconnect
)

// RingBytes is the size of a ring with 2^log2 descriptors and 64-byte
// cache lines.
func RingBytes(log2 uint8) int { return ring.Bytes(64, log2) }

// NewRing returns a view of the ring at the start of mem (64-byte lines).
func NewRing(t testing.TB, mem []byte, log2 uint8) Ring {
	t.Helper()
	r, err := ring.New(mem, 64, log2)
	if err != nil {
		t.Fatalf("memiftest: ring: %v", err)
	}
	return r
}

// Encode returns the 128 bytes of m.
func Encode(m Message) []byte {
	var b [proto.Size]byte
	proto.Encode(&b, m)
	return b[:]
}

// MsgBytes returns n bytes whose first two hold message type ty: a
// message of the wrong size, or of an unknown type.
func MsgBytes(ty uint16, n int) []byte {
	b := make([]byte, n)
	if n >= 2 {
		b[0], b[1] = byte(ty), byte(ty>>8)
	}
	return b
}

// RawPeer speaks the memif control protocol message by message on one
// connection. Its methods fail the test on I/O errors.
type RawPeer struct {
	t    testing.TB
	Conn *net.UnixConn
}

// DialRaw connects to a memif socket path; the connection is closed when
// the test ends.
func DialRaw(t testing.TB, path string) *RawPeer {
	t.Helper()
	c, err := net.Dial("unixpacket", path)
	if err != nil {
		t.Fatalf("memiftest: dial %s: %v", path, err)
	}
	t.Cleanup(func() { c.Close() })
	return &RawPeer{t: t, Conn: c.(*net.UnixConn)}
}

// NewRawPeer wraps an accepted connection (a raw master's).
func NewRawPeer(t testing.TB, c *net.UnixConn) *RawPeer {
	t.Cleanup(func() { c.Close() })
	return &RawPeer{t: t, Conn: c}
}

// SendBytes sends b as one message with the descriptors fds (each in its
// own SCM_RIGHTS header, as a peer may).
func (p *RawPeer) SendBytes(b []byte, fds ...int) {
	p.t.Helper()
	var oob []byte
	for _, fd := range fds {
		oob = append(oob, shm.Rights(fd)...)
	}
	if _, _, err := p.Conn.WriteMsgUnix(b, oob, nil); err != nil {
		p.t.Fatalf("memiftest: raw peer send: %v", err)
	}
}

// SendEmpty sends a message of no bytes with the descriptors fds (Go's
// WriteMsgUnix would add a byte).
func (p *RawPeer) SendEmpty(fds ...int) {
	p.t.Helper()
	if err := p.TrySendEmpty(fds...); err != nil {
		p.t.Fatalf("memiftest: raw peer send of an empty message: %v", err)
	}
}

// TrySendEmpty is SendEmpty returning the error, for a peer that sends
// into a connection the other side may have closed already.
func (p *RawPeer) TrySendEmpty(fds ...int) error {
	var oob []byte
	for _, fd := range fds {
		oob = append(oob, shm.Rights(fd)...)
	}
	rc, err := p.Conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Write(func(fd uintptr) bool { serr = shm.SendEmpty(int(fd), oob); return true }); err != nil {
		return err
	}
	return serr
}

// Send sends one encoded message with the descriptors fds.
func (p *RawPeer) Send(m Message, fds ...int) {
	p.t.Helper()
	p.SendBytes(Encode(m), fds...)
}

// TryRecv reads the next message within timeout. Descriptors that came
// with it are closed when the test ends.
func (p *RawPeer) TryRecv(timeout time.Duration) (Message, []int, error) {
	buf := make([]byte, 256)
	oob := make([]byte, shm.RecvOOBSize)
	p.Conn.SetReadDeadline(time.Now().Add(timeout))
	n, oobn, _, _, err := p.Conn.ReadMsgUnix(buf, oob)
	fds, _ := shm.ParseRights(oob[:oobn])
	for _, fd := range fds {
		p.t.Cleanup(func() { shm.Close(fd) })
	}
	if err != nil {
		return nil, nil, err
	}
	m, err := proto.Decode(buf[:n])
	return m, fds, err
}

// Recv returns the next message (within 5 s) and any descriptors it
// carried.
func (p *RawPeer) Recv() (Message, []int) {
	p.t.Helper()
	m, fds, err := p.TryRecv(5 * time.Second)
	if err != nil {
		p.t.Fatalf("memiftest: raw peer recv: %v", err)
	}
	return m, fds
}

// Expect requires the next message to be of type ty.
func (p *RawPeer) Expect(ty MsgType) (Message, []int) {
	p.t.Helper()
	m, fds := p.Recv()
	if m.Type() != ty {
		p.t.Fatalf("memiftest: raw peer got %s %+v, want %s", m.Type(), m, ty)
	}
	return m, fds
}

// ExpectDisconnect requires a DISCONNECT whose reason contains want, and
// the connection closed after it. It returns the DISCONNECT.
func (p *RawPeer) ExpectDisconnect(want string) Disconnect {
	p.t.Helper()
	m, _ := p.Expect(TypeDisconnect)
	d := m.(Disconnect)
	if !strings.Contains(d.Reason, want) {
		p.t.Errorf("memiftest: DISCONNECT reason %q does not contain %q", d.Reason, want)
	}
	p.ExpectClosed()
	return d
}

// ExpectClosed requires the other side to close the connection (within
// 5 s) without sending anything more.
func (p *RawPeer) ExpectClosed() {
	p.t.Helper()
	p.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, _, _, err := p.Conn.ReadMsgUnix(make([]byte, 256), nil)
	if n != 0 || (err != nil && !closedErr(err)) {
		p.t.Errorf("memiftest: read %d bytes, %v; want the socket closed", n, err)
	}
}

func closedErr(err error) bool {
	return strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "EOF")
}

// Mem is shared memory a raw peer created: a memfd and its mapping.
type Mem struct {
	FD   int
	Data []byte
}

// NewMem creates a memfd of size bytes sealed against shrinking (as VPP,
// DPDK and libmemif seal theirs) and maps it; both go when the test ends.
func NewMem(t testing.TB, size int) Mem {
	t.Helper()
	fd, err := shm.Memfd("memiftest", size)
	if err != nil {
		t.Fatalf("memiftest: %v", err)
	}
	return mapMem(t, fd, size)
}

// NewUnsealedMem is NewMem for a memfd created without MFD_ALLOW_SEALING:
// nobody can seal it, and its owner can truncate it while others map it.
func NewUnsealedMem(t testing.TB, size int) Mem {
	t.Helper()
	fd, err := shm.UnsealableMemfd("memiftest-unsealed", size)
	if err != nil {
		t.Fatalf("memiftest: %v", err)
	}
	return mapMem(t, fd, size)
}

func mapMem(t testing.TB, fd, size int) Mem {
	t.Helper()
	data, err := shm.Map(fd, size)
	if err != nil {
		shm.Close(fd)
		t.Fatalf("memiftest: %v", err)
	}
	t.Cleanup(func() { shm.Unmap(data); shm.Close(fd) })
	return Mem{FD: fd, Data: data}
}

// Truncate changes the size of the memory file. Shrinking it faults every
// mapping's access past the new end, this peer's own included.
func (m Mem) Truncate(size int64) error { return shm.Truncate(m.FD, size) }

// NewEventfd returns an eventfd closed when the test ends.
func NewEventfd(t testing.TB) int {
	t.Helper()
	fd, err := shm.Eventfd()
	if err != nil {
		t.Fatalf("memiftest: %v", err)
	}
	t.Cleanup(func() { shm.Close(fd) })
	return fd
}

// Signal writes an eventfd as a producer does after publishing.
func Signal(fd int) error { return shm.Signal(fd) }

// RawSlaveConfig shapes a RawSlave. The zero value is 16-slot rings and
// 256-byte buffers, everything sealed.
type RawSlaveConfig struct {
	Log2       uint8 // log2 ring size; 0: 4
	BufferSize int   // 0: 256
	// UnsealedBuffers creates the buffer region (region 1) unsealable.
	UnsealedBuffers bool
	// UnsealedRings creates the ring region (region 0) unsealable.
	UnsealedRings bool
}

// RawSlave is a hand-built slave: region 0 holds one S2M and one M2S ring,
// region 1 the buffers (a ring's worth per ring; S2M slot j uses buffer j,
// M2S slot j buffer size+j).
type RawSlave struct {
	*RawPeer
	Cfg        RawSlaveConfig
	Rings      Mem
	Bufs       Mem
	S2M, M2S   Ring
	EventFDs   [2]int // S2M, M2S
	head       uint16 // S2M head published so far
	m2sTaken   uint16 // M2S descriptors consumed so far
	m2sPosted  uint16
	bufferSize int
}

// NewRawSlave dials path and prepares the slave's memory and eventfds.
func NewRawSlave(t testing.TB, path string, cfg *RawSlaveConfig) *RawSlave {
	t.Helper()
	var c RawSlaveConfig
	if cfg != nil {
		c = *cfg
	}
	if c.Log2 == 0 {
		c.Log2 = 4
	}
	if c.BufferSize == 0 {
		c.BufferSize = 256
	}
	rb := RingBytes(c.Log2)
	newMem := func(unsealed bool, size int) Mem {
		if unsealed {
			return NewUnsealedMem(t, size)
		}
		return NewMem(t, size)
	}
	s := &RawSlave{
		RawPeer:    DialRaw(t, path),
		Cfg:        c,
		Rings:      newMem(c.UnsealedRings, 2*rb),
		Bufs:       newMem(c.UnsealedBuffers, 2<<c.Log2*c.BufferSize),
		bufferSize: c.BufferSize,
	}
	s.S2M = NewRing(t, s.Rings.Data[:rb], c.Log2)
	s.M2S = NewRing(t, s.Rings.Data[rb:], c.Log2)
	s.S2M.Init(0)
	s.M2S.Init(0)
	s.EventFDs = [2]int{NewEventfd(t), NewEventfd(t)}
	return s
}

// Hello reads the master's HELLO.
func (s *RawSlave) Hello() Hello {
	s.t.Helper()
	m, _ := s.Expect(TypeHello)
	return m.(Hello)
}

// Init sends INIT for interface id with secret and reads the ACK.
func (s *RawSlave) Init(id uint32, secret string) {
	s.t.Helper()
	s.Send(Init{Version: Version, ID: id, Name: "memiftest", Secret: secret})
	s.Expect(TypeAck)
}

// Regions announces both regions, each acknowledged.
func (s *RawSlave) Regions() {
	s.t.Helper()
	s.Send(AddRegion{Index: 0, Size: uint64(len(s.Rings.Data))}, s.Rings.FD)
	s.Expect(TypeAck)
	s.Send(AddRegion{Index: 1, Size: uint64(len(s.Bufs.Data))}, s.Bufs.FD)
	s.Expect(TypeAck)
}

// RingMsgs announces the S2M and the M2S ring, each acknowledged.
func (s *RawSlave) RingMsgs() {
	s.t.Helper()
	s.Send(AddRing{Flags: RingFlagS2M, Region: 0, Offset: 0, Log2RingSize: s.Cfg.Log2}, s.EventFDs[0])
	s.Expect(TypeAck)
	s.Send(AddRing{Region: 0, Offset: uint32(RingBytes(s.Cfg.Log2)), Log2RingSize: s.Cfg.Log2}, s.EventFDs[1])
	s.Expect(TypeAck)
}

// Connect sends CONNECT and reads CONNECTED.
func (s *RawSlave) Connect() {
	s.t.Helper()
	s.Send(Connect{Name: "memiftest-if"})
	s.Expect(TypeConnected)
}

// Handshake runs a whole correct handshake for interface id and posts
// every M2S buffer to the master.
func (s *RawSlave) Handshake(id uint32, secret string) {
	s.t.Helper()
	s.Hello()
	s.Init(id, secret)
	s.Regions()
	s.RingMsgs()
	s.Connect()
	s.PostRx(1 << s.Cfg.Log2)
}

func (s *RawSlave) size() uint16 { return 1 << s.Cfg.Log2 }

// Transmit publishes each packet in one S2M buffer (what fits of it) and
// signals the master. It returns how many it published: a full ring (the
// master has not released them) takes fewer.
func (s *RawSlave) Transmit(pkts ...[]byte) int {
	n := 0
	for _, p := range pkts {
		if s.head-s.S2M.Tail() >= s.size() {
			break
		}
		slot := uint32(s.head & (s.size() - 1))
		off := slot * uint32(s.bufferSize)
		l := copy(s.Bufs.Data[off:off+uint32(s.bufferSize)], p)
		*s.S2M.Desc(s.head) = Desc{Region: 1, Offset: off, Length: uint32(l)}
		s.head++
		n++
	}
	if n > 0 {
		s.S2M.SetHead(s.head)
		shm.Signal(s.EventFDs[0])
	}
	return n
}

// PostRx posts n more M2S buffers for the master to fill.
func (s *RawSlave) PostRx(n int) {
	for range n {
		slot := uint32(s.m2sPosted & (s.size() - 1))
		off := (uint32(s.size()) + slot) * uint32(s.bufferSize)
		*s.M2S.Desc(s.m2sPosted) = Desc{Region: 1, Offset: off, Length: uint32(s.bufferSize)}
		s.m2sPosted++
	}
	s.M2S.SetHead(s.m2sPosted)
}

// Receive returns the packets the master wrote into posted M2S buffers
// (one buffer each; chains are joined) and posts their buffers again.
func (s *RawSlave) Receive() [][]byte {
	var out [][]byte
	var cur []byte
	tail := s.M2S.Tail()
	taken := tail - s.m2sTaken
	for ; s.m2sTaken != tail; s.m2sTaken++ {
		d := *s.M2S.Desc(s.m2sTaken)
		end := uint64(d.Offset) + uint64(d.Length)
		if d.Region != 1 || end > uint64(len(s.Bufs.Data)) {
			s.t.Errorf("memiftest: master wrote descriptor %+v outside the buffers", d)
			continue
		}
		cur = append(cur, s.Bufs.Data[d.Offset:end]...)
		if d.Flags&DescFlagNext == 0 {
			out = append(out, cur)
			cur = nil
		}
	}
	s.PostRx(int(taken))
	return out
}

// GoodHello is a HELLO with the widest limits the protocol allows.
var GoodHello = Hello{Name: "memiftest", MinVersion: Version, MaxVersion: Version,
	MaxRegion: 255, MaxM2SRing: 254, MaxS2MRing: 254, MaxLog2RingSize: 14}

// RawMaster is a hand-driven master connection: it maps what the slave
// announces, so a test can answer, stall or corrupt the slave's rings.
type RawMaster struct {
	*RawPeer
	Regions  [][]byte
	S2M, M2S []Ring
	Log2s    []uint8 // of every ring, in announcement order
}

// Listen listens on path for slaves; the listener is closed when the test
// ends.
func Listen(t testing.TB, path string) *net.UnixListener {
	t.Helper()
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		t.Fatalf("memiftest: listen on %s: %v", path, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// Accept waits (up to 5 s) for a slave on ln.
func Accept(t testing.TB, ln *net.UnixListener) *RawMaster {
	t.Helper()
	ln.SetDeadline(time.Now().Add(5 * time.Second))
	uc, err := ln.AcceptUnix()
	if err != nil {
		t.Fatalf("memiftest: accept: %v", err)
	}
	return &RawMaster{RawPeer: NewRawPeer(t, uc)}
}

// Handshake answers a slave's handshake after HELLO (which the test sent),
// mapping its regions and rings, and sends CONNECTED.
func (m *RawMaster) Handshake() {
	m.t.Helper()
	m.Expect(TypeInit)
	m.Send(Ack{})
	for {
		msg, fds := m.Recv()
		switch msg := msg.(type) {
		case AddRegion:
			data, err := shm.Map(fds[0], int(msg.Size))
			if err != nil {
				m.t.Fatalf("memiftest: map region %d: %v", msg.Index, err)
			}
			m.t.Cleanup(func() { shm.Unmap(data) })
			m.Regions = append(m.Regions, data)
		case AddRing:
			r := NewRing(m.t, m.Regions[msg.Region][msg.Offset:], msg.Log2RingSize)
			if msg.Flags&RingFlagS2M != 0 {
				m.S2M = append(m.S2M, r)
			} else {
				m.M2S = append(m.M2S, r)
			}
			m.Log2s = append(m.Log2s, msg.Log2RingSize)
		case Connect:
			m.Send(Connected{Name: "memiftest-if"})
			return
		default:
			m.t.Fatalf("memiftest: raw master got %s during the handshake", msg.Type())
		}
		m.Send(Ack{})
	}
}

// View returns the bytes descriptor d names in the slave's regions.
func (m *RawMaster) View(d Desc) ([]byte, error) { return ring.View(m.Regions, &d) }
