package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/host/daemon/config"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

// Issue #9's proof: hostile peers on a real daemon's sockets. Each
// scenario is one subtest named after the attack; for every one, besides
// what the attack itself must get (the DISCONNECT and its reason, a hang-up,
// a counted drop), the harness requires:
//
//   - the neighbouring interface, which carries sequence-numbered traffic
//     through the same tenant's macswap pipeline the whole time, lost and
//     duplicated no frame and never went down;
//   - the process's open descriptors and memfd mappings are back to what
//     they were before the scenario (polled up to 10 s after the scenario's
//     peers are gone);
//   - the attacked interface serves a fresh well-behaved peer: a handshake,
//     and one frame reflected by macswap;
//   - the process lives (implicitly).

// hostile is the daemon under attack and the harness around it.
type hostile struct {
	d    *Daemon
	path string // the attacked interface's socket
	id   uint32 // the attacked interface's id
	name string // the attacked interface's name in tenant "t"
	nb   *neighbour
	ln   *net.UnixListener // a slave-role scenario's raw master listener

	scenarios int // run so far, for the log
}

const attackedID = 7

// newHostile starts a daemon whose tenant "t" has the attacked interface
// (role "master" or "slave", id attackedID, on a socket of its own) and the
// neighbour (a master, id 0, on another socket, with traffic flowing),
// both running macswap. adjust, if given, changes the attacked
// interface's config.
func newHostile(t *testing.T, role string, opts Options, adjust ...func(*config.Interface)) *hostile {
	t.Helper()
	plugin := macswapPlugin(t)
	h := &hostile{path: memiftest.SocketPath(t), id: attackedID, name: "attacked"}
	nbPath := memiftest.SocketPath(t)
	attacked := macswapInterface(h.name, h.path, role, plugin)
	attacked.ID = h.id
	for _, f := range adjust {
		f(&attacked)
	}
	cfg := &config.Config{
		Engine: config.Engine{CacheDir: hosttest.CacheDir(t)},
		Tenants: []config.Tenant{{Name: "t", Interfaces: []config.Interface{
			attacked,
			macswapInterface("neighbour", nbPath, "master", plugin),
		}}},
	}
	h.d = startDaemon(t, cfg, opts)
	h.nb = startNeighbour(t, h.d, "neighbour", nbPath)
	h.settled(t)
	return h
}

// settled waits until the neighbour's frames flow through its worker:
// a worker maps its connection's buffers into its guest (zero-copy) when
// it starts serving, after the link is up, so only then the process holds
// what it holds between scenarios.
func (h *hostile) settled(t *testing.T) {
	t.Helper()
	h.nb.check(t, h.nb.mark())
}

// scenario runs one attack with the checks every scenario gets. fresh
// shows that the attacked interface serves a good peer afterwards.
func (h *hostile) scenario(t *testing.T, attack func(t *testing.T), fresh func(t *testing.T)) {
	base := countResources(t)
	// Registered first, so it runs after every cleanup of the scenario's
	// peers (memiftest closes their descriptors and mappings then).
	t.Cleanup(func() { settle(t, base) })
	from := h.nb.mark()
	attack(t)
	fresh(t)
	h.nb.check(t, from)
	h.scenarios++
}

type scenario struct {
	name   string
	attack func(t *testing.T)
}

// family runs scenarios as subtests of a subtest named family.
func (h *hostile) family(t *testing.T, family string, fresh func(t *testing.T), scs []scenario) {
	t.Run(family, func(t *testing.T) {
		for _, sc := range scs {
			t.Run(sc.name, func(t *testing.T) { h.scenario(t, sc.attack, fresh) })
		}
	})
}

// ---- the daemon as master, attacked by raw slaves ----

// stage is how far a raw slave gets through a correct handshake.
type stage int

const (
	afterHello   stage = iota // HELLO read; the master waits for INIT
	afterInit                 // INIT acknowledged
	afterRegions              // both regions acknowledged
	afterRings                // both rings acknowledged
	connected                 // CONNECTED read, every M2S buffer posted
	numStages
)

var stageNames = [numStages]string{"AfterHello", "AfterInit", "AfterRegions", "AfterRings", "Connected"}

// dialInit dials the attacked interface and gets INIT acknowledged. The
// interface may still be tearing down the previous connection (INIT is
// refused: already has a peer) or the socket may be at its bound of
// handshakes in progress (the connection is closed at once): it tries
// again for up to 10 s.
func (h *hostile) dialInit(t *testing.T, cfg *memiftest.RawSlaveConfig) *memiftest.RawSlave {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := memiftest.NewRawSlave(t, h.path, cfg)
		m, _, err := s.TryRecv(5 * time.Second)
		if _, ok := m.(memiftest.Hello); err == nil && ok {
			s.Send(memiftest.Init{Version: memiftest.Version, ID: h.id, Name: "hostile"})
			m, _, err = s.TryRecv(5 * time.Second)
			if _, ok := m.(memiftest.Ack); err == nil && ok {
				return s
			}
			if d, ok := m.(memiftest.Disconnect); err != nil || !ok || !strings.Contains(d.Reason, "already has a peer") {
				t.Fatalf("INIT for interface %d answered with %v, %v", h.id, m, err)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("interface %d still refused after 10 s: %v, %v", h.id, m, err)
		}
		s.Conn.Close()
		time.Sleep(time.Millisecond)
	}
}

// slaveAt returns a raw slave that went through the handshake up to st.
func (h *hostile) slaveAt(t *testing.T, st stage) *memiftest.RawSlave {
	t.Helper()
	var s *memiftest.RawSlave
	if st == afterHello {
		s = memiftest.NewRawSlave(t, h.path, nil)
		s.Hello()
		return s
	}
	s = h.dialInit(t, nil)
	if st >= afterRegions {
		s.Regions()
	}
	if st >= afterRings {
		s.RingMsgs()
	}
	if st >= connected {
		s.Connect()
		s.PostRx(1 << s.Cfg.Log2)
		ifc := iface(t, h.d, h.name)
		memiftest.WaitFor(t, 5*time.Second, "the attacked interface up", ifc.Connected)
	}
	return s
}

// refused requires the daemon to end the connection with a DISCONNECT
// (code 0) whose reason contains reason, and to close it.
func refused(t *testing.T, p *memiftest.RawPeer, reason string) {
	t.Helper()
	if d := p.ExpectDisconnect(reason); d.Code != 0 {
		t.Errorf("DISCONNECT code %d, want 0 (the reason says what happened)", d.Code)
	}
}

// hungUp requires the daemon to close the connection without a word: the
// peer ended it (DISCONNECT, or end of file).
func hungUp(t *testing.T, p *memiftest.RawPeer) {
	t.Helper()
	p.ExpectClosed()
}

// down waits until the attacked interface has no connection.
func (h *hostile) down(t *testing.T) {
	t.Helper()
	ifc := iface(t, h.d, h.name)
	memiftest.WaitFor(t, 10*time.Second, "the attacked interface down", func() bool { return !ifc.Connected() })
}

// lastError returns the attacked interface's last error.
func (h *hostile) lastError(t *testing.T) error {
	t.Helper()
	return iface(t, h.d, h.name).LastError()
}

// newError waits until the attacked interface's last error is no longer
// before and matches want: the attacked connection ended the way it must.
func (h *hostile) newError(t *testing.T, before, want error) {
	t.Helper()
	ifc := iface(t, h.d, h.name)
	var last error
	deadline := time.Now().Add(10 * time.Second)
	for {
		last = ifc.LastError()
		if last != before && errors.Is(last, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the attacked interface's last error is %v, want a new one matching %v", last, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// wantReflected requires got to be frame want with its MAC addresses
// swapped (what macswap makes of it).
func wantReflected(t *testing.T, got, want []byte) {
	t.Helper()
	exp := append([]byte(nil), want...)
	copy(exp[0:6], want[6:12])
	copy(exp[6:12], want[0:6])
	if !bytes.Equal(got, exp) {
		t.Fatalf("reflected frame\n got %x\nwant %x", got, exp)
	}
}

// receive polls a raw slave's M2S ring until n frames came back.
func receive(t *testing.T, s *memiftest.RawSlave, n int) [][]byte {
	t.Helper()
	var got [][]byte
	memiftest.WaitFor(t, 5*time.Second, fmt.Sprintf("%d frames back", n), func() bool {
		got = append(got, s.Receive()...)
		return len(got) >= n
	})
	return got
}

// freshSlave is the check every master-role scenario ends with: a good raw
// slave connects, one frame comes back swapped, and it leaves.
func (h *hostile) freshSlave(t *testing.T) {
	t.Helper()
	s := h.dialInit(t, nil)
	s.Regions()
	s.RingMsgs()
	s.Connect()
	s.PostRx(1 << s.Cfg.Log2)
	f := frame(0xf4e5)
	if s.Transmit(f) != 1 {
		t.Fatal("the fresh slave could not transmit")
	}
	wantReflected(t, receive(t, s, 1)[0], f)
	s.Send(memiftest.Disconnect{Reason: "fresh peer done"})
	h.down(t)
}

// publish writes descs into a raw slave's S2M ring from its head on,
// publishes them and signals the master.
func publish(s *memiftest.RawSlave, descs ...memiftest.Desc) {
	head := s.S2M.Head()
	for i, d := range descs {
		*s.S2M.Desc(head + uint16(i)) = d
	}
	s.S2M.SetHead(head + uint16(len(descs)))
	memiftest.Signal(s.EventFDs[0])
}

// message returns a well-formed message of type ty for the attacked
// interface, and the descriptor it carries (ADD_REGION a fresh memfd,
// ADD_RING a fresh eventfd).
func (h *hostile) message(t *testing.T, ty memiftest.MsgType) (memiftest.Message, []int) {
	switch ty {
	case memiftest.TypeAck:
		return memiftest.Ack{}, nil
	case memiftest.TypeHello:
		return memiftest.GoodHello, nil
	case memiftest.TypeInit:
		return memiftest.Init{Version: memiftest.Version, ID: h.id, Name: "again"}, nil
	case memiftest.TypeAddRegion:
		return memiftest.AddRegion{Index: 0, Size: 4096}, []int{memiftest.NewMem(t, 4096).FD}
	case memiftest.TypeAddRing:
		return memiftest.AddRing{Flags: memiftest.RingFlagS2M, Log2RingSize: 4}, []int{memiftest.NewEventfd(t)}
	case memiftest.TypeConnect:
		return memiftest.Connect{Name: "again"}, nil
	case memiftest.TypeConnected:
		return memiftest.Connected{Name: "master?"}, nil
	case memiftest.TypeDisconnect:
		return memiftest.Disconnect{Reason: "bye"}, nil
	}
	t.Fatalf("no message of type %v", ty)
	return nil, nil
}

// matrixReason is what the master says to message type ty at stage st:
// legal when it is the next step of a correct handshake, hangUp when the
// master just closes (the peer said DISCONNECT), else the DISCONNECT reason.
func matrixReason(st stage, ty memiftest.MsgType) (reason string, legal, hangUp bool) {
	if ty == memiftest.TypeDisconnect {
		return "", false, true
	}
	switch st {
	case afterHello:
		if ty == memiftest.TypeInit {
			return "", true, false
		}
		return fmt.Sprintf("got %s, want INIT", ty), false, false
	case connected:
		return fmt.Sprintf("unexpected %s after connect", ty), false, false
	}
	switch {
	case ty == memiftest.TypeAddRegion && st == afterInit,
		ty == memiftest.TypeAddRing && st == afterRegions,
		ty == memiftest.TypeConnect && st == afterRings:
		return "", true, false
	case ty == memiftest.TypeAddRegion:
		return "region 0: index out of order, want 2", false, false
	case ty == memiftest.TypeAddRing && st == afterInit:
		return "s2m ring 0: region 0 not announced", false, false
	case ty == memiftest.TypeAddRing:
		return "s2m ring 0: index out of order, want 1", false, false
	case ty == memiftest.TypeConnect:
		return "CONNECT with 0 s2m and 0 m2s rings", false, false
	}
	return fmt.Sprintf("unexpected %s during handshake", ty), false, false
}

var allTypes = []memiftest.MsgType{
	memiftest.TypeAck, memiftest.TypeHello, memiftest.TypeInit, memiftest.TypeAddRegion,
	memiftest.TypeAddRing, memiftest.TypeConnect, memiftest.TypeConnected, memiftest.TypeDisconnect,
}

// TestHostilePeers attacks a master interface of a running daemon with raw
// slaves; see the top of this file for what every scenario checks.
func TestHostilePeers(t *testing.T) {
	start := time.Now()
	h := newHostile(t, "master", Options{})
	t.Logf("daemon up in %v", time.Since(start))
	fresh := h.freshSlave

	// Every message type in every handshake state.
	var matrix []scenario
	for st := afterHello; st < numStages; st++ {
		for _, ty := range allTypes {
			reason, legal, hangUp := matrixReason(st, ty)
			if legal {
				continue
			}
			matrix = append(matrix, scenario{stageNames[st] + "_" + ty.String(), func(t *testing.T) {
				s := h.slaveAt(t, st)
				m, fds := h.message(t, ty)
				s.Send(m, fds...)
				if hangUp {
					hungUp(t, s.RawPeer)
					return
				}
				refused(t, s.RawPeer, reason)
			}})
		}
	}
	h.family(t, "OutOfOrder", fresh, matrix)

	// Wrong sizes and unknown types, spread over the states.
	sizes := []struct {
		st     stage
		n      int
		reason string
	}{
		{afterHello, 0, ""}, // a zero-length message reads as end of file
		{afterInit, 1, "control message of 1 bytes, want 128"},
		{afterRegions, 64, "control message of 64 bytes, want 128"},
		{afterRings, 127, "control message of 127 bytes, want 128"},
		{connected, 129, "control message of 129 bytes, want 128"},
		{afterHello, 4096, "control message longer than 256 bytes"},
		{afterInit, 4096, "control message longer than 256 bytes"},
		{connected, 0, ""},
	}
	var malformed []scenario
	for _, c := range sizes {
		malformed = append(malformed, scenario{fmt.Sprintf("Size%d_%s", c.n, stageNames[c.st]), func(t *testing.T) {
			s := h.slaveAt(t, c.st)
			if c.n == 0 {
				s.SendEmpty()
				hungUp(t, s.RawPeer)
				return
			}
			s.SendBytes(memiftest.MsgBytes(uint16(memiftest.TypeInit), c.n))
			refused(t, s.RawPeer, c.reason)
		}})
	}
	unknown := []struct {
		st stage
		ty uint16
	}{{afterHello, 77}, {afterInit, 0}, {afterRings, 9}, {connected, 0xffff}}
	for _, c := range unknown {
		malformed = append(malformed, scenario{fmt.Sprintf("UnknownType%d_%s", c.ty, stageNames[c.st]), func(t *testing.T) {
			s := h.slaveAt(t, c.st)
			s.SendBytes(memiftest.MsgBytes(c.ty, memiftest.MsgSize))
			refused(t, s.RawPeer, fmt.Sprintf("unknown message type %d", c.ty))
		}})
	}
	h.family(t, "Malformed", fresh, malformed)

	// Descriptors: missing, too many, on empty messages, in flight at EOF.
	fds := []scenario{
		{"AddRegionWithoutFD", func(t *testing.T) {
			s := h.slaveAt(t, afterInit)
			s.Send(memiftest.AddRegion{Size: uint64(len(s.Rings.Data))})
			refused(t, s.RawPeer, "ADD_REGION without its file descriptor")
		}},
		{"AddRingWithoutFD", func(t *testing.T) {
			s := h.slaveAt(t, afterRegions)
			s.Send(memiftest.AddRing{Flags: memiftest.RingFlagS2M, Log2RingSize: 4})
			refused(t, s.RawPeer, "ADD_RING without its file descriptor")
		}},
	}
	// Each type where it would be legal (or at least expected) with 2 to
	// 12 descriptors (the master's control buffer holds 12: it counts
	// them and refuses), 13 and 253 (the most a message may carry: the
	// kernel truncates the ancillary data, and drops what did not fit).
	floodAt := map[memiftest.MsgType]stage{
		memiftest.TypeAck: afterInit, memiftest.TypeHello: afterInit, memiftest.TypeInit: afterHello,
		memiftest.TypeAddRegion: afterInit, memiftest.TypeAddRing: afterRegions, memiftest.TypeConnect: afterRings,
		memiftest.TypeConnected: afterRings, memiftest.TypeDisconnect: connected,
	}
	for _, ty := range allTypes {
		for _, n := range []int{2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 253} {
			fds = append(fds, scenario{fmt.Sprintf("%s_%dFDs", ty, n), func(t *testing.T) {
				s := h.slaveAt(t, floodAt[ty])
				m, _ := h.message(t, ty)
				s.Send(m, fdKinds(t, n)...)
				want := fmt.Sprintf("%s carries %d file descriptors", ty, n)
				if n > 12 {
					want = "control message with truncated or malformed ancillary data"
				}
				refused(t, s.RawPeer, want)
			}})
		}
	}
	for _, st := range []stage{afterHello, afterRegions, connected} {
		fds = append(fds, scenario{"EmptyMessageWith5FDs_" + stageNames[st], func(t *testing.T) {
			s := h.slaveAt(t, st)
			s.SendEmpty(fdKinds(t, 5)...)
			hungUp(t, s.RawPeer)
		}})
	}
	fds = append(fds,
		scenario{"EOFWithRegionsAndRingsInFlight", func(t *testing.T) {
			// Three messages with descriptors queued, none acknowledged,
			// then the peer is gone: the master maps the first region,
			// fails to acknowledge it, and the kernel drops the rest.
			s := h.slaveAt(t, afterInit)
			before := h.lastError(t)
			rb := uint32(memiftest.RingBytes(4))
			s.Send(memiftest.AddRegion{Index: 0, Size: uint64(len(s.Rings.Data))}, s.Rings.FD)
			s.Send(memiftest.AddRegion{Index: 1, Size: uint64(len(s.Bufs.Data))}, s.Bufs.FD)
			s.Send(memiftest.AddRing{Flags: memiftest.RingFlagS2M, Log2RingSize: 4}, s.EventFDs[0])
			s.Send(memiftest.AddRing{Offset: rb, Log2RingSize: 4}, s.EventFDs[1])
			s.Conn.Close()
			h.newError(t, before, memif.ErrPeerDisconnected)
		}},
		scenario{"EOFWith12FDsInFlight_AfterHello", func(t *testing.T) {
			// Refused before it named an interface: counted on the socket.
			s := h.slaveAt(t, afterHello)
			refusedBefore := socketStats(t, h.d, h.path).Refused
			s.Send(memiftest.Init{Version: memiftest.Version, ID: h.id}, fdKinds(t, 12)...)
			// The master may have refused and closed already: a send
			// error is no failure here.
			s.Conn.WriteMsgUnix(memiftest.Encode(memiftest.Ack{}), syscall.UnixRights(fdKinds(t, 3)...), nil)
			s.Conn.Close()
			memiftest.WaitFor(t, 10*time.Second, "the INIT with 12 descriptors refused", func() bool {
				return socketStats(t, h.d, h.path).Refused == refusedBefore+1
			})
		}},
		scenario{"EOFWithFDsInFlight_Connected", func(t *testing.T) {
			s := h.slaveAt(t, connected)
			before := h.lastError(t)
			s.Send(memiftest.AddRegion{Index: 2, Size: 4096}, memiftest.NewMem(t, 4096).FD)
			// The daemon may have hung up on the ADD_REGION already; the
			// descriptors of a send that fails are the sender's to close.
			s.TrySendEmpty(fdKinds(t, 4)...)
			s.Conn.Close()
			h.newError(t, before, memif.ErrProtocol) // the ADD_REGION after connect
		}},
	)
	h.family(t, "FDs", fresh, fds)

	// Regions: sizes, limits, files that are no memfd or cannot be sealed.
	region := func(size uint64, fd func(t testing.TB) int, reason string) func(t *testing.T) {
		return func(t *testing.T) {
			s := h.slaveAt(t, afterInit)
			s.Send(memiftest.AddRegion{Size: size}, fd(t))
			refused(t, s.RawPeer, reason)
		}
	}
	memfd := func(size int) func(t testing.TB) int {
		return func(t testing.TB) int { return memiftest.NewMem(t, size).FD }
	}
	unsealable := "region 0: memory file cannot be sealed against shrinking"
	regions := []scenario{
		{"SizeZero", region(0, memfd(4096), "region 0: size 0 outside 1..4294967296")},
		{"Above4GiB", region(1<<32+4096, memfd(4096), "region 0: size 4294971392 outside 1..4294967296")},
		{"FileSmallerThanAnnounced", region(1<<20, memfd(4096), "fewer than the announced 1048576")},
		{"RegularFile", region(4096, func(t testing.TB) int { return regularFile(t, 4096) }, unsealable)},
		{"Pipe", region(4096, func(t testing.TB) int { r, _ := pipe(t); return r }, unsealable)},
		{"Socket", region(4096, socketFD, unsealable)},
		{"Eventfd", region(8, memiftest.NewEventfd, unsealable)},
		{"DevZero", region(4096, devZero, unsealable)},
		{"UnsealedMemfd", region(4096, func(t testing.TB) int { return memiftest.NewUnsealedMem(t, 4096).FD }, unsealable)},
		{"IndexOutOfOrder", func(t *testing.T) {
			s := h.slaveAt(t, afterInit)
			s.Send(memiftest.AddRegion{Index: 5, Size: 4096}, memiftest.NewMem(t, 4096).FD)
			refused(t, s.RawPeer, "region 5: index out of order, want 0")
		}},
		{"IndexRepeated", func(t *testing.T) {
			s := h.slaveAt(t, afterInit)
			mem := memiftest.NewMem(t, 4096)
			s.Send(memiftest.AddRegion{Index: 0, Size: 4096}, mem.FD)
			s.Expect(memiftest.TypeAck)
			s.Send(memiftest.AddRegion{Index: 0, Size: 4096}, mem.FD)
			refused(t, s.RawPeer, "region 0: index out of order, want 1")
		}},
		{"AboveMaxRegionBytes", func(t *testing.T) {
			// Four sparse 4 GiB regions (the most one may be) reach the
			// 16 GiB a connection may map; one byte more is refused, and
			// the 16 GiB of mappings go with the connection.
			s := h.slaveAt(t, afterInit)
			big := memiftest.NewMem(t, 1<<32)
			maps := memiftest.MemfdMappings(t)
			for i := range 4 {
				s.Send(memiftest.AddRegion{Index: uint16(i), Size: 1 << 32}, big.FD)
				s.Expect(memiftest.TypeAck)
			}
			if got := memiftest.MemfdMappings(t); got != maps+4 {
				t.Errorf("%d memfd mappings after four regions, want %d", got, maps+4)
			}
			s.Send(memiftest.AddRegion{Index: 4, Size: 1}, big.FD)
			refused(t, s.RawPeer, "region 4: 1 bytes bring the connection's shared memory above the interface's 17179869184")
		}},
		{"Regions257", func(t *testing.T) {
			s := h.slaveAt(t, afterInit)
			mem := memiftest.NewMem(t, 4096)
			for i := range 256 {
				s.Send(memiftest.AddRegion{Index: uint16(i), Size: 4096}, mem.FD)
				s.Expect(memiftest.TypeAck)
			}
			s.Send(memiftest.AddRegion{Index: 256, Size: 4096}, mem.FD)
			refused(t, s.RawPeer, "region 256: more than 256 regions")
		}},
	}
	h.family(t, "Regions", fresh, regions)

	// Rings: sizes, offsets, regions, headers, interrupt descriptors,
	// cookies, counts.
	rb := uint32(memiftest.RingBytes(4))
	ring := func(m memiftest.AddRing, fd func(t *testing.T, s *memiftest.RawSlave) int, reason string) func(t *testing.T) {
		return func(t *testing.T) {
			s := h.slaveAt(t, afterRegions)
			s.Send(m, fd(t, s))
			refused(t, s.RawPeer, reason)
		}
	}
	efd := func(t *testing.T, s *memiftest.RawSlave) int { return s.EventFDs[0] }
	s2m := uint16(memiftest.RingFlagS2M)
	rings := []scenario{
		{"Log2Fifteen", ring(memiftest.AddRing{Flags: s2m, Log2RingSize: 15}, efd, "s2m ring 0: log2 size 15 above 14")},
		{"OffsetMisaligned", ring(memiftest.AddRing{Flags: s2m, Offset: 2, Log2RingSize: 4}, efd, "s2m ring 0: offset 2 not 4-byte aligned")},
		{"OffsetBeyondRegion", ring(memiftest.AddRing{Flags: s2m, Offset: 2 * rb, Log2RingSize: 4}, efd, "beyond region 0")},
		{"OffsetOverflow", ring(memiftest.AddRing{Flags: s2m, Offset: 0xfffffff0, Log2RingSize: 4}, efd, "beyond region 0")},
		{"TooLargeForRegion", ring(memiftest.AddRing{Flags: s2m, Log2RingSize: 14}, efd, "beyond region 0")},
		{"RegionNotAnnounced", ring(memiftest.AddRing{Flags: s2m, Region: 2, Log2RingSize: 4}, efd, "s2m ring 0: region 2 not announced")},
		{"PrivateHeader", ring(memiftest.AddRing{Flags: s2m, Log2RingSize: 4, PrivateHdrSize: 64}, efd, "private headers not supported")},
		{"IndexOutOfOrder", ring(memiftest.AddRing{Flags: s2m, Index: 3, Log2RingSize: 4}, efd, "s2m ring 3: index out of order, want 0")},
		{"InterruptIsPipe", ring(memiftest.AddRing{Flags: s2m, Log2RingSize: 4},
			func(t *testing.T, _ *memiftest.RawSlave) int { _, w := pipe(t); return w }, "interrupt descriptor is not an eventfd")},
		{"InterruptIsMemfd", ring(memiftest.AddRing{Log2RingSize: 4},
			func(t *testing.T, s *memiftest.RawSlave) int { return s.Rings.FD }, "interrupt descriptor is not an eventfd")},
		{"InterruptIsSocket", ring(memiftest.AddRing{Log2RingSize: 4},
			func(t *testing.T, _ *memiftest.RawSlave) int { return socketFD(t) }, "interrupt descriptor is not an eventfd")},
		{"MoreRingsThanQueues", func(t *testing.T) {
			s := h.slaveAt(t, afterRings)
			s.Send(memiftest.AddRing{Flags: s2m, Index: 1, Region: 1, Log2RingSize: 4}, memiftest.NewEventfd(t))
			refused(t, s.RawPeer, "s2m ring 1: more than the 1 queues this interface has")
		}},
		{"OnlyS2M", func(t *testing.T) {
			s := h.slaveAt(t, afterRegions)
			s.Send(memiftest.AddRing{Flags: s2m, Log2RingSize: 4}, s.EventFDs[0])
			s.Expect(memiftest.TypeAck)
			s.Send(memiftest.Connect{})
			refused(t, s.RawPeer, "CONNECT with 1 s2m and 0 m2s rings")
		}},
		{"WrongCookie", func(t *testing.T) {
			s := h.slaveAt(t, afterRings)
			s.Rings.Data[rb] ^= 0xff // the M2S ring's cookie
			s.Send(memiftest.Connect{})
			refused(t, s.RawPeer, "wrong cookie")
		}},
		{"Log2ZeroWorks", func(t *testing.T) {
			// One-slot rings are legal: a frame goes through and back.
			s := h.dialInit(t, nil)
			s.Regions()
			one := uint32(memiftest.RingBytes(0))
			tx := memiftest.NewRing(t, s.Rings.Data[:one], 0)
			rx := memiftest.NewRing(t, s.Rings.Data[one:2*one], 0)
			tx.Init(0)
			rx.Init(0)
			s.Send(memiftest.AddRing{Flags: s2m, Log2RingSize: 0}, s.EventFDs[0])
			s.Expect(memiftest.TypeAck)
			s.Send(memiftest.AddRing{Offset: one, Log2RingSize: 0}, s.EventFDs[1])
			s.Expect(memiftest.TypeAck)
			s.Connect()
			*rx.Desc(0) = memiftest.Desc{Region: 1, Offset: 1024, Length: 256}
			rx.SetHead(1)
			f := frame(1)
			copy(s.Bufs.Data, f)
			*tx.Desc(0) = memiftest.Desc{Region: 1, Length: uint32(len(f))}
			tx.SetHead(1)
			memiftest.Signal(s.EventFDs[0])
			memiftest.WaitFor(t, 5*time.Second, "the frame back on the one-slot ring", func() bool { return rx.Tail() == 1 })
			d := *rx.Desc(0)
			wantReflected(t, s.Bufs.Data[d.Offset:d.Offset+d.Length], f)
			if tx.Tail() != 1 {
				t.Errorf("S2M tail %d, want 1", tx.Tail())
			}
			s.Send(memiftest.Disconnect{Reason: "done"})
			h.down(t)
		}},
	}
	h.family(t, "Rings", fresh, rings)

	// The data path after a good handshake: descriptors, chains, indexes.
	bad := func(reason string, corrupt func(t *testing.T, s *memiftest.RawSlave)) func(t *testing.T) {
		return func(t *testing.T) {
			ifc := iface(t, h.d, h.name)
			before := ifc.Stats().BadDescriptors
			s := h.slaveAt(t, connected)
			corrupt(t, s)
			refused(t, s.RawPeer, reason)
			h.down(t)
			if got := ifc.Stats().BadDescriptors; got != before+1 {
				t.Errorf("bad descriptors counted %d, want %d", got, before+1)
			}
		}
	}
	bufBytes := uint32(2 * 16 * 256)
	good := func(s *memiftest.RawSlave) { s.Transmit(frame(3)) } // makes the worker transmit on M2S
	data := []scenario{
		{"DescriptorOutsideRegion", bad("outside its region", func(t *testing.T, s *memiftest.RawSlave) {
			publish(s, memiftest.Desc{Region: 1, Offset: bufBytes - 10, Length: 11})
		})},
		{"DescriptorRegionOutOfRange", bad("region index out of range", func(t *testing.T, s *memiftest.RawSlave) {
			publish(s, memiftest.Desc{Region: 2, Length: 64})
		})},
		{"DescriptorOffsetOverflow", bad("outside its region", func(t *testing.T, s *memiftest.RawSlave) {
			publish(s, memiftest.Desc{Region: 1, Offset: 0xffffffff, Length: 0xffffffff})
		})},
		{"DescriptorInRingRegionPastEnd", bad("outside its region", func(t *testing.T, s *memiftest.RawSlave) {
			publish(s, memiftest.Desc{Region: 0, Offset: 2 * rb, Length: 1})
		})},
		{"ChainNeverEnds", bad("chain does not end", func(t *testing.T, s *memiftest.RawSlave) {
			chain := make([]memiftest.Desc, 16)
			for i := range chain {
				chain[i] = memiftest.Desc{Flags: memiftest.DescFlagNext, Region: 1, Length: 64}
			}
			publish(s, chain...)
		})},
		{"HeadMoreThanARingAhead", bad("head moved further than the ring size", func(t *testing.T, s *memiftest.RawSlave) {
			s.S2M.SetHead(17)
			memiftest.Signal(s.EventFDs[0])
		})},
		{"HeadBackwards", bad("head moved further than the ring size", func(t *testing.T, s *memiftest.RawSlave) {
			f := frame(4)
			s.Transmit(f, f)
			receive(t, s, 2)
			s.S2M.SetHead(1)
			memiftest.Signal(s.EventFDs[0])
		})},
		{"PostedBufferOutsideRegion", bad("outside its region", func(t *testing.T, s *memiftest.RawSlave) {
			*s.M2S.Desc(0) = memiftest.Desc{Region: 1, Offset: 1 << 30, Length: 256}
			good(s)
		})},
		{"PostedBufferRegionOutOfRange", bad("region index out of range", func(t *testing.T, s *memiftest.RawSlave) {
			*s.M2S.Desc(0) = memiftest.Desc{Region: 9, Length: 256}
			good(s)
		})},
		{"PostedBufferZeroLength", bad("posted buffer has zero length", func(t *testing.T, s *memiftest.RawSlave) {
			*s.M2S.Desc(0) = memiftest.Desc{Region: 1, Offset: 4096}
			good(s)
		})},
		{"PostedHeadMoreThanARingAhead", bad("head moved further than the ring size", func(t *testing.T, s *memiftest.RawSlave) {
			s.M2S.SetHead(100)
			good(s)
		})},
		{"HeadFlipFlop", func(t *testing.T) {
			// The slave publishes a full ring, then takes it back, again
			// and again: once the master has consumed the ring, head 0 is
			// a head moved backwards.
			s := h.slaveAt(t, connected)
			for i := range 16 {
				copy(s.Bufs.Data[i*256:], frame(uint64(100+i)))
				*s.S2M.Desc(uint16(i)) = memiftest.Desc{Region: 1, Offset: uint32(i * 256), Length: 64}
			}
			deadline := time.Now().Add(10 * time.Second)
			for up := true; ; up = !up {
				if up {
					s.S2M.SetHead(16)
				} else {
					s.S2M.SetHead(0)
				}
				memiftest.Signal(s.EventFDs[0])
				if m, _, err := s.TryRecv(time.Millisecond); err == nil {
					d, ok := m.(memiftest.Disconnect)
					if !ok || !strings.Contains(d.Reason, "head moved further than the ring size") {
						t.Fatalf("got %v, want DISCONNECT for the head", m)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the master never noticed the head going back")
				}
			}
			hungUp(t, s.RawPeer)
		}},
		{"TailsScribbled", func(t *testing.T) {
			// The master owns the tails; what the slave writes there
			// changes nothing on the master's side.
			s := h.slaveAt(t, connected)
			s.S2M.SetTail(0xbeef)
			s.M2S.SetTail(0x1234)
			f := frame(5)
			copy(s.Bufs.Data, f)
			publish(s, memiftest.Desc{Region: 1, Length: 64})
			memiftest.WaitFor(t, 5*time.Second, "the frame back", func() bool { return s.M2S.Tail() == 1 })
			d := *s.M2S.Desc(0)
			wantReflected(t, s.Bufs.Data[d.Offset:d.Offset+d.Length], f)
			if !iface(t, h.d, h.name).Connected() {
				t.Error("connection ended over the slave writing the master's tails")
			}
			s.Send(memiftest.Disconnect{Reason: "done"})
			h.down(t)
		}},
		{"FlagsGarbage", func(t *testing.T) {
			// Flag bits other than NEXT mean nothing: the frame comes back.
			s := h.slaveAt(t, connected)
			f := frame(6)
			copy(s.Bufs.Data, f)
			publish(s, memiftest.Desc{Flags: 0xfffe, Region: 1, Length: 64})
			wantReflected(t, receive(t, s, 1)[0], f)
			s.Send(memiftest.Disconnect{Reason: "done"})
			h.down(t)
		}},
		{"ZeroLengthDescriptor", func(t *testing.T) {
			// An empty frame is no violation; the frame after it comes back.
			s := h.slaveAt(t, connected)
			f := frame(7)
			copy(s.Bufs.Data[256:], f)
			publish(s, memiftest.Desc{Region: 1, Length: 0}, memiftest.Desc{Region: 1, Offset: 256, Length: 64})
			got := receive(t, s, 1)
			wantReflected(t, got[len(got)-1], f)
			s.Send(memiftest.Disconnect{Reason: "done"})
			h.down(t)
		}},
		{"ChainOfAWholeRing", func(t *testing.T) {
			// A valid chain of all 16 slots: one 1 KiB frame, back whole.
			s := h.slaveAt(t, connected)
			f := frame(8)
			f = append(f, bytes.Repeat([]byte{0xab}, 1024-len(f))...)
			chain := make([]memiftest.Desc, 16)
			for i := range chain {
				copy(s.Bufs.Data[i*256:], f[i*64:(i+1)*64])
				chain[i] = memiftest.Desc{Flags: memiftest.DescFlagNext, Region: 1, Offset: uint32(i * 256), Length: 64}
			}
			chain[15].Flags = 0
			publish(s, chain...)
			wantReflected(t, receive(t, s, 1)[0], f)
			s.Send(memiftest.Disconnect{Reason: "done"})
			h.down(t)
		}},
	}
	h.family(t, "DataPath", fresh, data)

	// Churn.
	churn := []scenario{
		{"HalfHandshake100", func(t *testing.T) {
			ch := newChurner(t, h)
			for range 100 {
				c := ch.dialInit(t)
				c.Send(memiftest.AddRegion{Index: 0, Size: uint64(len(ch.rings.Data))}, ch.rings.FD)
				c.Expect(memiftest.TypeAck)
				c.Conn.Close()
			}
		}},
		{"FullHandshake100", func(t *testing.T) {
			ch := newChurner(t, h)
			ifc := iface(t, h.d, h.name)
			connects := ifc.Stats().Connects
			for i := range 100 {
				c := ch.dialInit(t)
				ch.handshake(t, c)
				if i%2 == 0 {
					c.Send(memiftest.Disconnect{Reason: "churn"})
				}
				c.Conn.Close()
			}
			h.down(t)
			if got := ifc.Stats().Connects - connects; got != 100 {
				t.Errorf("%d connections counted, want 100", got)
			}
		}},
		{"DialAndClose100", func(t *testing.T) {
			accepted := socketStats(t, h.d, h.path).Accepted
			for range 100 {
				memiftest.DialRaw(t, h.path).Conn.Close()
			}
			memiftest.WaitFor(t, 10*time.Second, "100 connections accepted", func() bool {
				return socketStats(t, h.d, h.path).Accepted-accepted >= 100
			})
		}},
		{"PendingBeyondBound", func(t *testing.T) {
			// 40 peers dial at once and say nothing: 16 (the socket's
			// bound of handshakes in progress) get HELLO, 24 are closed
			// at once and counted. A handshake the daemon still runs for
			// an earlier connection would count too (the scenario before
			// waited until every descriptor was closed, so none should):
			// then all 40 hang up, the daemon closes their connections,
			// and the test tries again.
			want := memif.DefaultMaxPendingConnections
			for attempt := 1; ; attempt++ {
				fds := memiftest.OpenFDs(t)
				before := socketStats(t, h.d, h.path)
				peers := make([]*memiftest.RawPeer, 40)
				for i := range peers {
					peers[i] = memiftest.DialRaw(t, h.path)
				}
				hellos, closed := 0, 0
				for _, p := range peers {
					m, _, err := p.TryRecv(5 * time.Second)
					if _, ok := m.(memiftest.Hello); err == nil && ok {
						hellos++
					} else {
						closed++
					}
				}
				overflow := socketStats(t, h.d, h.path).Overflow - before.Overflow
				for _, p := range peers {
					p.Conn.Close()
				}
				if hellos == want && overflow == uint64(closed) {
					return
				}
				if attempt == 3 || hellos > want || overflow != uint64(closed) {
					t.Fatalf("attempt %d: %d peers got HELLO, %d were closed, overflow counted %d; want %d HELLOs",
						attempt, hellos, closed, overflow, want)
				}
				t.Logf("attempt %d: %d HELLOs, other handshakes still pending; again", attempt, hellos)
				memiftest.WaitFor(t, 10*time.Second, "the 40 connections closed", func() bool { return memiftest.OpenFDs(t) <= fds })
			}
		}},
	}
	h.family(t, "Churn", fresh, churn)

	// Idle peers.
	idle := []scenario{
		{"SilentAfterHello", func(t *testing.T) {
			s := h.slaveAt(t, afterHello)
			silent(t, s.RawPeer)
		}},
		{"SilentWithRegionsMapped", func(t *testing.T) {
			s := h.slaveAt(t, afterInit)
			before := h.lastError(t)
			maps := memiftest.MemfdMappings(t)
			s.Regions()
			if got := memiftest.MemfdMappings(t); got != maps+2 {
				t.Errorf("%d memfd mappings after two regions, want %d", got, maps+2)
			}
			silent(t, s.RawPeer)
			h.newError(t, before, os.ErrDeadlineExceeded)
		}},
		{"ConnectedNeverReads", func(t *testing.T) {
			// The slave sends and sends but never reads its control
			// channel nor takes what comes back: its M2S ring stays full,
			// the worker drops the reflections (counted) and goes on.
			s := h.slaveAt(t, connected)
			ifc := iface(t, h.d, h.name)
			before := ifc.LastError()
			attackedDrops := func() uint64 {
				for _, in := range h.d.Snapshot().Tenants[0].Interfaces {
					if in.Name == h.name {
						return in.Queues[0].Drops[DropTX]
					}
				}
				return 0
			}
			drops := attackedDrops()
			f := frame(9)
			memiftest.WaitFor(t, 10*time.Second, "100 reflections dropped", func() bool {
				s.Transmit(f, f, f, f)
				return attackedDrops()-drops >= 100
			})
			if !ifc.Connected() {
				t.Error("a slow peer lost its connection")
			}
			s.Conn.Close()
			h.newError(t, before, memif.ErrPeerDisconnected)
		}},
	}
	h.family(t, "Idle", fresh, idle)

	t.Logf("%d scenarios in %v", h.scenarios, time.Since(start))
}

// silent requires the daemon to give up on a peer that says nothing, after
// its handshake timeout.
func silent(t *testing.T, p *memiftest.RawPeer) {
	t.Helper()
	start := time.Now()
	m, _, err := p.TryRecv(memif.DefaultHandshakeTimeout + 5*time.Second)
	d, ok := m.(memiftest.Disconnect)
	if err != nil || !ok || !strings.Contains(d.Reason, "timed out after 5s waiting for a control message") {
		t.Fatalf("after %v of silence: %v %v, want DISCONNECT for the timeout", time.Since(start), m, err)
	}
	if waited := time.Since(start); waited < memif.DefaultHandshakeTimeout-time.Second {
		t.Errorf("gave up after %v, before the handshake timeout", waited)
	}
	hungUp(t, p)
}

// churner runs many short connections on one set of memory and eventfds,
// so that a hundred of them do not hold a hundred sets open until the end
// of the test.
type churner struct {
	h        *hostile
	rings    memiftest.Mem
	bufs     memiftest.Mem
	s2m, m2s memiftest.Ring
	efds     [2]int
}

func newChurner(t *testing.T, h *hostile) *churner {
	rb := memiftest.RingBytes(4)
	c := &churner{h: h, rings: memiftest.NewMem(t, 2*rb), bufs: memiftest.NewMem(t, 2*16*256)}
	c.s2m = memiftest.NewRing(t, c.rings.Data[:rb], 4)
	c.m2s = memiftest.NewRing(t, c.rings.Data[rb:], 4)
	c.efds = [2]int{memiftest.NewEventfd(t), memiftest.NewEventfd(t)}
	return c
}

// dialInit is hostile.dialInit on a bare connection.
func (c *churner) dialInit(t *testing.T) *memiftest.RawPeer {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p := memiftest.DialRaw(t, c.h.path)
		p.Expect(memiftest.TypeHello)
		p.Send(memiftest.Init{Version: memiftest.Version, ID: c.h.id, Name: "churn"})
		m, _ := p.Recv()
		if _, ok := m.(memiftest.Ack); ok {
			return p
		}
		if d, ok := m.(memiftest.Disconnect); !ok || !strings.Contains(d.Reason, "already has a peer") || time.Now().After(deadline) {
			t.Fatalf("INIT answered with %v", m)
		}
		p.Conn.Close()
		time.Sleep(time.Millisecond)
	}
}

// handshake finishes a correct handshake on p.
func (c *churner) handshake(t *testing.T, p *memiftest.RawPeer) {
	t.Helper()
	c.s2m.Init(0)
	c.m2s.Init(0)
	rb := uint32(memiftest.RingBytes(4))
	for _, m := range []struct {
		msg memiftest.Message
		fd  int
	}{
		{memiftest.AddRegion{Index: 0, Size: uint64(len(c.rings.Data))}, c.rings.FD},
		{memiftest.AddRegion{Index: 1, Size: uint64(len(c.bufs.Data))}, c.bufs.FD},
		{memiftest.AddRing{Flags: memiftest.RingFlagS2M, Log2RingSize: 4}, c.efds[0]},
		{memiftest.AddRing{Offset: rb, Log2RingSize: 4}, c.efds[1]},
	} {
		p.Send(m.msg, m.fd)
		p.Expect(memiftest.TypeAck)
	}
	p.Send(memiftest.Connect{Name: "churn"})
	p.Expect(memiftest.TypeConnected)
}

// TestHostileTrustedPeer: an interface that trusts its peer with memory
// the peer can shrink (allow_unsealed_regions), and a
// peer that truncates it under traffic: the fault ends that connection
// only, whether memif (reading a ring) or the host worker (copying a frame
// in or out) touches the memory first.
func TestHostileTrustedPeer(t *testing.T) {
	h := newHostile(t, "master", Options{}, func(in *config.Interface) { in.AllowUnsealedRegions = true })
	fresh := h.freshSlave

	// traffic transmits and receives frames from a goroutine until stop;
	// it ends early on a fault on its own truncated memory.
	traffic := func(s *memiftest.RawSlave) (stop func()) {
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
			defer func() { recover() }()
			f := frame(10)
			for {
				select {
				case <-done:
					return
				default:
				}
				s.Transmit(f, f)
				s.Receive()
				time.Sleep(100 * time.Microsecond) // pace: the neighbour shares the cores
			}
		}()
		return func() { close(done); wg.Wait() }
	}
	// under connects a raw slave with cfg's unsealed memory, runs traffic,
	// truncates, and pokes the master (a frame or a signal) so that it
	// touches the truncated memory even if no frame was in flight.
	under := func(cfg memiftest.RawSlaveConfig, truncate, poke func(s *memiftest.RawSlave) error) func(t *testing.T) {
		return func(t *testing.T) {
			s := h.dialInit(t, &cfg)
			s.Regions()
			s.RingMsgs()
			s.Connect()
			s.PostRx(16)
			ifc := iface(t, h.d, h.name)
			memiftest.WaitFor(t, 5*time.Second, "the attacked interface up", ifc.Connected)
			before := ifc.LastError()
			if r := ifc.Regions(); len(r) != 2 || r[0].Sealed == cfg.UnsealedRings || r[1].Sealed == cfg.UnsealedBuffers {
				t.Fatalf("regions %+v", r)
			}
			rx := ifc.Stats().RxPackets
			stop := traffic(s)
			memiftest.WaitFor(t, 5*time.Second, "traffic on the trusted connection", func() bool { return ifc.Stats().RxPackets-rx >= 20 })
			err := truncate(s)
			stop()
			if err != nil {
				t.Fatal(err)
			}
			if err := poke(s); err != nil {
				t.Fatal(err)
			}
			m, _, err := s.TryRecv(10 * time.Second)
			d, ok := m.(memiftest.Disconnect)
			if err != nil || !ok || !strings.Contains(d.Reason, "the peer truncated an unsealed region") {
				t.Fatalf("after the truncation: %v %v, want DISCONNECT for the fault", m, err)
			}
			hungUp(t, s.RawPeer)
			h.newError(t, before, memif.ErrRegionFault)
		}
	}
	// A frame published from buffer 0 (rings still readable), or just a
	// signal (a truncated ring cannot be written).
	frameAt0 := func(s *memiftest.RawSlave) error {
		publish(s, memiftest.Desc{Region: 1, Length: 64})
		return nil
	}
	signal := func(s *memiftest.RawSlave) error { return memiftest.Signal(s.EventFDs[0]) }
	h.family(t, "Truncate", fresh, []scenario{
		{"BuffersUnderTraffic", under(memiftest.RawSlaveConfig{UnsealedBuffers: true},
			func(s *memiftest.RawSlave) error { return s.Bufs.Truncate(0) }, frameAt0)},
		{"RingsUnderTraffic", under(memiftest.RawSlaveConfig{UnsealedRings: true},
			func(s *memiftest.RawSlave) error { return s.Rings.Truncate(0) }, signal)},
		// The M2S buffers (second half) go: the worker faults writing a
		// reflection into one, in host code, not in memif.
		{"RxBuffersUnderTraffic", under(memiftest.RawSlaveConfig{UnsealedBuffers: true},
			func(s *memiftest.RawSlave) error { return s.Bufs.Truncate(int64(len(s.Bufs.Data) / 2)) },
			func(s *memiftest.RawSlave) error {
				copy(s.Bufs.Data, frame(11))
				return frameAt0(s)
			})},
		{"RingsBeforeConnect", func(t *testing.T) {
			s := h.dialInit(t, &memiftest.RawSlaveConfig{UnsealedRings: true})
			before := h.lastError(t)
			s.Regions()
			s.RingMsgs()
			if err := s.Rings.Truncate(0); err != nil {
				t.Fatal(err)
			}
			s.Send(memiftest.Connect{})
			refused(t, s.RawPeer, "the peer truncated an unsealed region")
			h.newError(t, before, memif.ErrRegionFault)
		}},
	})
	t.Logf("%d scenarios", h.scenarios)
}

// ---- the daemon as slave, attacked by raw masters ----

// rawMaster is a hand-driven master that keeps what the daemon's slave
// announced: its regions (mapped), its one ring each way and their
// eventfds.
type rawMaster struct {
	*memiftest.RawPeer
	regions  [][]byte
	s2m, m2s memiftest.Ring
	efd      [2]int // s2m, m2s
	s2mTail  uint16 // s2m descriptors consumed
}

// listen opens the raw master's listener on the attacked slave's socket
// path and asks the slave to connect to it (the daemon runs with
// reconnecting off, so the slave dials only when asked).
func (h *hostile) connectSlave(t *testing.T) *memiftest.RawPeer {
	t.Helper()
	if h.ln == nil {
		h.ln = memiftest.Listen(t, h.path)
		t.Cleanup(func() { h.ln = nil })
	}
	ifc := iface(t, h.d, h.name)
	memiftest.WaitFor(t, 10*time.Second, "the slave to take a connection request", func() bool { return ifc.RequestConnection() == nil })
	return memiftest.Accept(t, h.ln).RawPeer
}

// masterHandshake answers INIT, every ADD_REGION and ADD_RING of the
// slave (after the HELLO the test sent) and returns at CONNECT, which the
// test answers.
func masterHandshake(t *testing.T, p *memiftest.RawPeer) *rawMaster {
	t.Helper()
	m := &rawMaster{RawPeer: p}
	p.Expect(memiftest.TypeInit)
	p.Send(memiftest.Ack{})
	for {
		msg, fds := p.Recv()
		switch msg := msg.(type) {
		case memiftest.AddRegion:
			data, err := syscall.Mmap(fds[0], 0, int(msg.Size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
			if err != nil {
				t.Fatalf("map region %d: %v", msg.Index, err)
			}
			t.Cleanup(func() { syscall.Munmap(data) })
			m.regions = append(m.regions, data)
		case memiftest.AddRing:
			r := memiftest.NewRing(t, m.regions[msg.Region][msg.Offset:], msg.Log2RingSize)
			if msg.Flags&memiftest.RingFlagS2M != 0 {
				m.s2m, m.efd[0] = r, fds[0]
			} else {
				m.m2s, m.efd[1] = r, fds[0]
			}
		case memiftest.Connect:
			return m
		default:
			t.Fatalf("raw master got %s during the handshake", msg.Type())
		}
		p.Send(memiftest.Ack{})
	}
}

// posted waits until the slave has posted its receive buffers (it does
// after CONNECTED).
func (m *rawMaster) posted(t *testing.T) {
	t.Helper()
	memiftest.WaitFor(t, 5*time.Second, "the slave's rx buffers posted", func() bool { return m.m2s.Head() != m.m2s.Tail() })
}

// transmit writes f into the next posted M2S buffer and signals the slave.
func (m *rawMaster) transmit(t *testing.T, f []byte) {
	t.Helper()
	tail := m.m2s.Tail()
	if tail == m.m2s.Head() {
		t.Fatal("raw master: no rx buffer posted")
	}
	d := m.m2s.Desc(tail)
	n := copy(m.regions[d.Region][d.Offset:d.Offset+d.Length], f)
	d.Length, d.Flags = uint32(n), 0
	m.m2s.SetTail(tail + 1)
	memiftest.Signal(m.efd[1])
}

// receive returns what the slave published on S2M (one buffer per frame)
// and releases it.
func (m *rawMaster) receive(t *testing.T) [][]byte {
	var out [][]byte
	for head := m.s2m.Head(); m.s2mTail != head; m.s2mTail++ {
		d := *m.s2m.Desc(m.s2mTail)
		if int(d.Region) >= len(m.regions) || uint64(d.Offset)+uint64(d.Length) > uint64(len(m.regions[d.Region])) {
			t.Errorf("slave published descriptor %+v outside its regions", d)
			continue
		}
		out = append(out, append([]byte(nil), m.regions[d.Region][d.Offset:d.Offset+d.Length]...))
	}
	m.s2m.SetTail(m.s2mTail)
	return out
}

// roundTrip sends a frame to the slave and requires it back, swapped.
func (m *rawMaster) roundTrip(t *testing.T, seq uint64) {
	t.Helper()
	m.posted(t)
	f := frame(seq)
	m.transmit(t, f)
	var got [][]byte
	memiftest.WaitFor(t, 5*time.Second, "the frame back from the slave", func() bool {
		got = append(got, m.receive(t)...)
		return len(got) > 0
	})
	wantReflected(t, got[0], f)
}

// connectedMaster is a raw master that completed a good handshake with
// hello and CONNECTED, with the slave's link up.
func (h *hostile) connectedMaster(t *testing.T, hello memiftest.Hello) *rawMaster {
	t.Helper()
	p := h.connectSlave(t)
	p.Send(hello)
	m := masterHandshake(t, p)
	p.Send(memiftest.Connected{Name: "raw master"})
	memiftest.WaitFor(t, 5*time.Second, "the attacked slave up", iface(t, h.d, h.name).Connected)
	return m
}

// freshMaster is the check every slave-role scenario ends with.
func (h *hostile) freshMaster(t *testing.T) {
	t.Helper()
	m := h.connectedMaster(t, memiftest.GoodHello)
	m.roundTrip(t, 0xf4e6)
	m.Send(memiftest.Disconnect{Reason: "fresh master done"})
	h.down(t)
}

// TestHostileMasters attacks a slave interface of a running daemon with
// raw masters; see the top of this file for what every scenario checks.
func TestHostileMasters(t *testing.T) {
	start := time.Now()
	// Reconnecting off: the slave dials only when a scenario asks it to,
	// so no attempt is under way when descriptors are counted.
	h := newHostile(t, "slave", Options{ReconnectInterval: -1})
	fresh := h.freshMaster

	hello := func(mod func(*memiftest.Hello)) memiftest.Hello {
		m := memiftest.GoodHello
		mod(&m)
		return m
	}
	// untilConnect runs a good handshake up to the slave's CONNECT.
	untilConnect := func(t *testing.T) *rawMaster {
		p := h.connectSlave(t)
		p.Send(memiftest.GoodHello)
		return masterHandshake(t, p)
	}
	// bad ends a connected slave's link for a data-path violation the
	// master makes, counted as a bad descriptor.
	bad := func(reason string, corrupt func(t *testing.T, m *rawMaster)) func(t *testing.T) {
		return func(t *testing.T) {
			ifc := iface(t, h.d, h.name)
			before := ifc.Stats().BadDescriptors
			m := h.connectedMaster(t, memiftest.GoodHello)
			m.posted(t)
			corrupt(t, m)
			refused(t, m.RawPeer, reason)
			h.down(t)
			if got := ifc.Stats().BadDescriptors; got != before+1 {
				t.Errorf("bad descriptors counted %d, want %d", got, before+1)
			}
		}
	}
	scs := []scenario{
		{"HelloWrongVersion", func(t *testing.T) {
			p := h.connectSlave(t)
			p.Send(hello(func(m *memiftest.Hello) { m.MinVersion, m.MaxVersion = 0x0300, 0x0300 }))
			refused(t, p, fmt.Sprintf("peer speaks versions 0x0300..0x0300, want 0x%04x", memiftest.Version))
		}},
		{"Hello64Bytes", func(t *testing.T) {
			p := h.connectSlave(t)
			p.SendBytes(memiftest.Encode(memiftest.GoodHello)[:64])
			refused(t, p, "control message of 64 bytes, want 128")
		}},
		{"HelloWith2FDs", func(t *testing.T) {
			p := h.connectSlave(t)
			p.Send(memiftest.GoodHello, fdKinds(t, 2)...)
			refused(t, p, "HELLO carries 2 file descriptors, want 0")
		}},
		{"HelloWith253FDs", func(t *testing.T) {
			p := h.connectSlave(t)
			p.Send(memiftest.GoodHello, fdKinds(t, 253)...)
			refused(t, p, "control message with truncated or malformed ancillary data")
		}},
		{"ConnectedInsteadOfHello", func(t *testing.T) {
			p := h.connectSlave(t)
			p.Send(memiftest.Connected{Name: "early"})
			refused(t, p, "got CONNECTED, want HELLO")
		}},
		{"AckInsteadOfHello", func(t *testing.T) {
			p := h.connectSlave(t)
			p.Send(memiftest.Ack{})
			refused(t, p, "got ACK, want HELLO")
		}},
		{"SilentMaster", func(t *testing.T) {
			silent(t, h.connectSlave(t))
		}},
		{"DisconnectInsteadOfAck", func(t *testing.T) {
			p := h.connectSlave(t)
			p.Send(memiftest.GoodHello)
			p.Expect(memiftest.TypeInit)
			p.Send(memiftest.Disconnect{Reason: "go away"})
			hungUp(t, p)
			var de *memif.DisconnectError
			memiftest.WaitFor(t, 5*time.Second, "the master's reason as the slave's last error", func() bool {
				return errors.As(h.lastError(t), &de) && de.Remote && de.Reason == "go away"
			})
		}},
		{"EmptyMessageWithFDsInsteadOfAck", func(t *testing.T) {
			p := h.connectSlave(t)
			p.Send(memiftest.GoodHello)
			p.Expect(memiftest.TypeInit)
			p.SendEmpty(fdKinds(t, 5)...)
			hungUp(t, p)
		}},
		{"HelloInsteadOfRegionAck", func(t *testing.T) {
			p := h.connectSlave(t)
			p.Send(memiftest.GoodHello)
			p.Expect(memiftest.TypeInit)
			p.Send(memiftest.Ack{})
			p.Expect(memiftest.TypeAddRegion)
			p.Send(memiftest.GoodHello)
			refused(t, p, "got HELLO, want ACK after ADD_REGION")
		}},
		{"ConnectedWith2FDs", func(t *testing.T) {
			m := untilConnect(t)
			m.Send(memiftest.Connected{Name: "fds"}, fdKinds(t, 2)...)
			refused(t, m.RawPeer, "CONNECTED carries 2 file descriptors, want 0")
		}},
		{"Connected129Bytes", func(t *testing.T) {
			m := untilConnect(t)
			m.SendBytes(append(memiftest.Encode(memiftest.Connected{Name: "long"}), 0))
			refused(t, m.RawPeer, "control message of 129 bytes, want 128")
		}},
		{"AckInsteadOfConnected", func(t *testing.T) {
			m := untilConnect(t)
			m.Send(memiftest.Ack{})
			refused(t, m.RawPeer, "got ACK, want CONNECTED")
		}},
		{"GarbageAfterConnected", func(t *testing.T) {
			m := h.connectedMaster(t, memiftest.GoodHello)
			m.SendBytes(memiftest.MsgBytes(0x4242, memiftest.MsgSize))
			refused(t, m.RawPeer, "unknown message type 16962")
		}},
		{"TailBeyondPostedBuffers", bad("tail moved beyond the posted buffers", func(t *testing.T, m *rawMaster) {
			m.m2s.SetTail(m.m2s.Head() + 1)
			memiftest.Signal(m.efd[1])
		})},
		{"LengthAboveBuffer", bad("descriptor length above the posted buffer", func(t *testing.T, m *rawMaster) {
			tail := m.m2s.Tail()
			m.m2s.Desc(tail).Length = 4096 // the slave's buffers hold 2048
			m.m2s.SetTail(tail + 1)
			memiftest.Signal(m.efd[1])
		})},
		{"ChainNeverEnds", bad("descriptor chain does not end", func(t *testing.T, m *rawMaster) {
			tail, head := m.m2s.Tail(), m.m2s.Head()
			for i := tail; i != head; i++ {
				m.m2s.Desc(i).Length, m.m2s.Desc(i).Flags = 64, memiftest.DescFlagNext
			}
			m.m2s.SetTail(head)
			memiftest.Signal(m.efd[1])
		})},
		{"TailFlipFlop", func(t *testing.T) {
			// The master publishes a frame, then takes its tail back,
			// again and again: once the slave has taken the frame, the
			// old tail is a tail moved backwards.
			ifc := iface(t, h.d, h.name)
			before := ifc.Stats().BadDescriptors
			m := h.connectedMaster(t, memiftest.GoodHello)
			m.posted(t)
			tail := m.m2s.Tail()
			d := m.m2s.Desc(tail)
			copy(m.regions[d.Region][d.Offset:d.Offset+d.Length], frame(16))
			d.Length = 64
			deadline := time.Now().Add(10 * time.Second)
			for up := true; ; up = !up {
				if up {
					m.m2s.SetTail(tail + 1)
				} else {
					m.m2s.SetTail(tail)
				}
				memiftest.Signal(m.efd[1])
				if msg, _, err := m.TryRecv(time.Millisecond); err == nil {
					d, ok := msg.(memiftest.Disconnect)
					if !ok || !strings.Contains(d.Reason, "tail moved beyond the posted buffers") {
						t.Fatalf("got %v, want DISCONNECT for the tail", msg)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the slave never noticed the tail going back")
				}
			}
			hungUp(t, m.RawPeer)
			h.down(t)
			if got := ifc.Stats().BadDescriptors; got != before+1 {
				t.Errorf("bad descriptors counted %d, want %d", got, before+1)
			}
		}},
		{"S2MTailMoreThanARingAhead", bad("tail moved further than the ring size", func(t *testing.T, m *rawMaster) {
			m.s2m.SetTail(0x8000)
			m.transmit(t, frame(12)) // the slave's reflection needs room on S2M
		})},
		{"OneSlotRingsWork", func(t *testing.T) {
			m := h.connectedMaster(t, hello(func(m *memiftest.Hello) { m.MaxLog2RingSize = 0 }))
			if m.m2s.Size() != 1 || m.s2m.Size() != 1 {
				t.Fatalf("rings of %d and %d slots, want 1", m.s2m.Size(), m.m2s.Size())
			}
			m.roundTrip(t, 13)
			m.roundTrip(t, 14)
			m.Send(memiftest.Disconnect{Reason: "done"})
			h.down(t)
		}},
		{"OneRegionWorks", func(t *testing.T) {
			m := h.connectedMaster(t, hello(func(m *memiftest.Hello) { m.MaxRegion = 0 }))
			if len(m.regions) != 1 {
				t.Fatalf("%d regions, want 1", len(m.regions))
			}
			m.roundTrip(t, 15)
			m.Send(memiftest.Disconnect{Reason: "done"})
			h.down(t)
		}},
	}
	h.family(t, "Slave", fresh, scs)
	t.Logf("%d scenarios in %v", h.scenarios, time.Since(start))
}
