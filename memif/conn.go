package memif

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/memif-wasm/memif-wasm/memif/internal/proto"
	"github.com/memif-wasm/memif-wasm/memif/internal/ring"
	"github.com/memif-wasm/memif-wasm/memif/internal/shm"
)

// Limits this implementation advertises in HELLO and enforces as master.
// The HELLO fields are highest indexes, so they are counts minus one.
const (
	maxRegions    = 256
	maxRegionSize = 1 << 32 // descriptor offsets are u32
)

// region is one mapped shared-memory region of a connection.
type region struct {
	data   []byte
	fd     int
	size   uint64
	rings  bool
	sealed bool
}

// ringSpec is one ring as announced in ADD_RING (or created as slave).
type ringSpec struct {
	s2m    bool
	index  uint16
	region uint16
	offset uint32
	log2   uint8
	fd     int
	r      ring.Ring
}

// conn is one control connection and, once connected, its shared memory
// and queues. Its goroutine (run) owns everything; other goroutines only
// call abort.
type conn struct {
	s     *Socket
	ifc   *Interface
	uc    *net.UnixConn
	slave bool
	log   *slog.Logger

	regions []region
	views   [][]byte
	specs   []ringSpec
	nS2M    int
	nM2S    int
	rx      []*RxQueue
	tx      []*TxQueue

	peerName, peerApp string

	// regionBytes is the size of every region mapped so far (bounded by
	// InterfaceConfig.MaxRegionBytes). unsealed: some region could not be
	// sealed against shrinking (only with AllowUnsealedRegions), so every
	// access to shared memory runs with faults turned into panics.
	regionBytes uint64
	unsealed    bool

	// slave buffer layout
	bufRegion uint16
	bufBase   uint32
	bufSize   uint32
	log2      uint8

	abortMu  sync.Mutex
	abortErr error
	done     chan struct{}

	// mapRefs counts who still needs the regions mapped after teardown:
	// teardown itself, plus every queue that had buffers out (stale). The
	// last one to let go unmaps.
	mapRefs atomic.Int32

	buf [2 * proto.Size]byte
	oob []byte
}

func newConn(s *Socket, uc *net.UnixConn, slave bool) *conn {
	return &conn{
		s: s, uc: uc, slave: slave, log: s.log,
		done: make(chan struct{}),
		oob:  make([]byte, shm.RecvOOBSize),
	}
}

// abort asks the connection's goroutine to end the connection with err,
// sending DISCONNECT for a local error. Safe from any goroutine; the first
// reason wins.
func (c *conn) abort(err error) {
	c.abortMu.Lock()
	if c.abortErr == nil {
		c.abortErr = err
	}
	c.abortMu.Unlock()
	// A deadline in the past wakes a blocked read at once.
	c.uc.SetReadDeadline(time.Unix(1, 0))
}

func (c *conn) aborted() error {
	c.abortMu.Lock()
	defer c.abortMu.Unlock()
	return c.abortErr
}

func (c *conn) serveMaster() {
	defer c.s.unpend(c)
	c.run(c.masterHandshake)
}

// run drives the connection from handshake to teardown.
func (c *conn) run(handshake func() error) {
	defer close(c.done)
	err := handshake()
	up := false
	if err == nil {
		up, err = c.linkUp()
		if err == nil && !c.slave {
			// The handshake is over: the link no longer counts against
			// SocketConfig.MaxPendingConnections (the interface, which
			// now holds the connection, ends it on Socket.Close).
			c.s.unpend(c)
			// Link up before CONNECTED: when the slave sees it, this side
			// already accepts traffic.
			err = c.send(proto.Connected{Name: c.ifc.cfg.Name}, -1)
		}
		if err == nil {
			err = c.session()
		}
	}
	c.finish(err, up)
}

func (c *conn) linkUp() (bool, error) {
	i := c.ifc
	// The previous connection's OnDisconnect comes before this one's
	// OnConnect: a master may accept the next slave while the last one's
	// teardown is still running its callback.
	i.mu.Lock()
	prev := i.last
	i.mu.Unlock()
	if prev != nil {
		<-prev.done
	}
	i.mu.Lock()
	if i.closed {
		i.mu.Unlock()
		return false, errInterfaceClosed()
	}
	i.claim = nil
	i.c, i.last = c, c
	i.lastErr = nil
	// A connection request made before this connection is satisfied by it:
	// it must not start another attempt after this one ends.
	select {
	case <-i.kick:
	default:
	}
	i.st.connects.Add(1)
	i.notify()
	i.mu.Unlock()
	i.attempts.reset()
	i.log.Info("memif connected", "peer", c.peerName, "peer_app", c.peerApp, "rx", len(c.rx), "tx", len(c.tx))
	if cb := i.cfg.OnConnect; cb != nil {
		i.callback(func() { cb(i) })
	}
	return true, nil
}

// session waits for the peer's DISCONNECT (or an abort) once connected.
func (c *conn) session() error {
	for {
		m, fd, err := c.recv(time.Time{})
		if err != nil {
			return err
		}
		shm.Close(fd)
		if d, ok := m.(proto.Disconnect); ok {
			return &DisconnectError{Remote: true, Code: d.Code, Reason: d.Reason}
		}
		return refuse(ErrProtocol, "unexpected %s after connect", m.Type())
	}
}

// errPeerClosed ends a connection whose peer closed its control channel
// without a DISCONNECT: an ordinary end, not a protocol violation.
var errPeerClosed = &DisconnectError{Remote: true, Reason: "peer closed the control channel"}

func errInterfaceClosed() *DisconnectError {
	return &DisconnectError{Reason: "interface closed", Err: ErrClosed}
}

// violation reports whether err is a local end of the connection for
// something the peer did wrong during the handshake (counted as a protocol
// error; data-path violations are counted as bad descriptors).
func violation(err error) bool {
	var de *DisconnectError
	if !errors.As(err, &de) || de.Remote {
		return false
	}
	for _, kind := range [...]error{ErrProtocol, ErrVersion, ErrModeMismatch, ErrSecret, ErrLimit, ErrUnsealedRegion, ErrRegionFault, os.ErrDeadlineExceeded} {
		if errors.Is(de.Err, kind) {
			return true
		}
	}
	return false
}

// finish ends the connection in an order that keeps every reader safe:
// queues are marked dead first (waiting out running bursts), then the
// interface drops the connection and folds its counters in one step, then
// descriptors are closed and memory unmapped. Only then, for a local
// error, DISCONNECT goes out: a peer that reconnects as soon as it reads
// it must not find the interface still taken.
func (c *conn) finish(err error, up bool) {
	var de *DisconnectError
	local := errors.As(err, &de) && !de.Remote
	bad := violation(err)
	if local && !errors.Is(err, ErrClosed) {
		c.s.refused.Add(1)
	}
	// Queues with buffers out keep the mappings (as placeholders) until
	// the caller's next burst call proves it dropped their views.
	c.mapRefs.Store(1)
	c.forEachQueue(func(q *queue) {
		q.mu.Lock()
		q.dead = true
		if up && !q.dropped && q.lent() {
			q.stale = true
			c.mapRefs.Add(1)
		}
		q.mu.Unlock()
	})
	i := c.ifc
	if i != nil {
		i.mu.Lock()
		c.forEachQueue(func(q *queue) { i.fold(q, q.rx) })
		if bad {
			i.st.protoErrors.Add(1)
		}
		i.lastErr = err
		if i.claim == c {
			i.claim = nil
		}
		if i.c == c {
			i.c = nil
			i.st.disconnects.Add(1)
			i.notify()
		}
		i.mu.Unlock()
	}
	c.release()
	if i == nil {
		// Refused before it named an interface: anyone may connect, so
		// these lines are rate-limited per socket. Logged before the
		// peer hears of it, so that the line is never later than the
		// DISCONNECT it explains.
		level := slog.LevelDebug // a peer that hung up
		if local && !errors.Is(err, ErrClosed) {
			level = slog.LevelWarn
		}
		c.s.logs.log(c.log, level, "memif connection refused", "err", err)
	}
	if local {
		// Code 0, as VPP and DPDK send: the reason says what happened.
		var b [proto.Size]byte
		proto.Encode(&b, proto.Disconnect{Reason: de.Reason})
		c.uc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		c.uc.WriteMsgUnix(b[:], nil, nil)
	}
	c.uc.Close()
	switch {
	case i == nil: // logged above
	case up:
		i.log.Info("memif disconnected", "err", err)
		if cb := i.cfg.OnDisconnect; cb != nil {
			i.callback(func() { cb(i, err) })
		}
	default:
		i.attemptEnded(err, bad)
	}
}

func (c *conn) forEachQueue(f func(q *queue)) {
	for _, q := range c.rx {
		f(&q.queue)
	}
	for _, q := range c.tx {
		f(&q.queue)
	}
}

// release closes every eventfd (which unblocks RxQueue.Wait), unmaps the
// regions and closes their descriptors. Queues must already be dead.
func (c *conn) release() {
	owned := make(map[int]bool)
	c.forEachQueue(func(q *queue) {
		q.mu.Lock()
		if q.efile != nil {
			q.efile.Close()
		} else {
			shm.Close(q.efd)
		}
		q.efd = -1
		owned[q.ringFD] = true
		q.mu.Unlock()
	})
	for _, sp := range c.specs {
		if !owned[sp.fd] {
			shm.Close(sp.fd)
		}
	}
	if c.mapRefs.Load() > 1 {
		// Views may still be read or written: swap the shared pages for
		// private zero pages at the same addresses, so the peer's memory
		// is let go and a stale view neither faults nor reaches the peer.
		for _, r := range c.regions {
			if err := shm.Placeholder(r.data); err != nil {
				// The shared mapping then stays until it is unmapped: safe,
				// it only holds the memory longer.
				c.log.Warn("memif: cannot replace a region mapping with a placeholder", "err", err)
			}
		}
	}
	for _, r := range c.regions {
		shm.Close(r.fd)
	}
	c.unrefMappings()
}

// unrefMappings drops one reference on the regions' mappings (see
// mapRefs) and unmaps them with the last one.
func (c *conn) unrefMappings() {
	if c.mapRefs.Add(-1) != 0 {
		return
	}
	for _, r := range c.regions {
		shm.Unmap(r.data)
	}
}

// send writes one message with an optional descriptor.
func (c *conn) send(m proto.Message, fd int) error {
	var b [proto.Size]byte
	proto.Encode(&b, m)
	var oob []byte
	if fd >= 0 {
		oob = shm.Rights(fd)
	}
	c.uc.SetWriteDeadline(time.Now().Add(c.s.cfg.HandshakeTimeout))
	if _, _, err := c.uc.WriteMsgUnix(b[:], oob, nil); err != nil {
		if a := c.aborted(); a != nil {
			return a
		}
		if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
			return errPeerClosed
		}
		return refuse(err, "send %s: %v", m.Type(), err)
	}
	return nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		shm.Close(fd)
	}
}

// recv reads one message and checks everything that does not depend on
// the handshake state: size, type, and the descriptor count for the type.
// It returns the single descriptor of ADD_REGION/ADD_RING (else -1); every
// other descriptor that arrived is closed, on every path, so a peer cannot
// make this process hold its files.
func (c *conn) recv(deadline time.Time) (proto.Message, int, error) {
	c.uc.SetReadDeadline(deadline)
	if err := c.aborted(); err != nil {
		return nil, -1, err
	}
	n, oobn, flags, _, err := c.uc.ReadMsgUnix(c.buf[:], c.oob)
	// Descriptors first: they are ours as soon as the kernel installed them,
	// also when the read reports EOF (a zero-length message) or an error.
	fds, perr := shm.ParseRights(c.oob[:oobn])
	if err != nil {
		closeAll(fds)
		if a := c.aborted(); a != nil {
			return nil, -1, a
		}
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			return nil, -1, refuse(os.ErrDeadlineExceeded, "timed out after %v waiting for a control message", c.s.cfg.HandshakeTimeout)
		case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
			// SOCK_SEQPACKET reports a zero-length message as EOF too; a
			// peer that sends one has nothing more to say either.
			return nil, -1, errPeerClosed
		}
		return nil, -1, refuse(err, "control channel read failed: %v", err)
	}
	if flags&shm.MsgCtrunc != 0 || perr != nil {
		closeAll(fds)
		return nil, -1, refuse(ErrProtocol, "control message with truncated or malformed ancillary data")
	}
	if flags&shm.MsgTrunc != 0 {
		closeAll(fds)
		return nil, -1, refuse(ErrProtocol, "control message longer than %d bytes, want %d", len(c.buf), proto.Size)
	}
	if n != proto.Size {
		closeAll(fds)
		return nil, -1, refuse(ErrProtocol, "control message of %d bytes, want %d", n, proto.Size)
	}
	m, err := proto.Decode(c.buf[:n])
	if err != nil {
		closeAll(fds)
		return nil, -1, refuse(ErrProtocol, "unknown message type %d", uint16(c.buf[0])|uint16(c.buf[1])<<8)
	}
	t := m.Type()
	want := 0
	if t.CarriesFD() {
		want = 1
	}
	if len(fds) != want {
		closeAll(fds)
		if len(fds) > want {
			return nil, -1, refuse(ErrProtocol, "%s carries %d file descriptors, want %d", t, len(fds), want)
		}
		return nil, -1, refuse(ErrProtocol, "%s without its file descriptor", t)
	}
	fd := -1
	if want == 1 {
		fd = fds[0]
	}
	return m, fd, nil
}

// expect reads one handshake message; a DISCONNECT becomes the peer's error.
func (c *conn) expect() (proto.Message, int, error) {
	m, fd, err := c.recv(time.Now().Add(c.s.cfg.HandshakeTimeout))
	if err != nil {
		return nil, -1, err
	}
	if d, ok := m.(proto.Disconnect); ok {
		return nil, -1, &DisconnectError{Remote: true, Code: d.Code, Reason: d.Reason}
	}
	return m, fd, nil
}

// expectMsg is expect for states where no descriptor is wanted: a stray
// one (on an ADD_REGION or ADD_RING out of order) is closed at once.
func (c *conn) expectMsg() (proto.Message, error) {
	m, fd, err := c.expect()
	shm.Close(fd)
	return m, err
}

func (c *conn) expectAck(after string) error {
	m, err := c.expectMsg()
	if err != nil {
		return err
	}
	if m.Type() != proto.TypeAck {
		return refuse(ErrProtocol, "got %s, want ACK after %s", m.Type(), after)
	}
	return nil
}

// masterHandshake runs the master side: HELLO, then INIT, ADD_REGION*,
// ADD_RING*, CONNECT from the slave, each checked before it is used.
func (c *conn) masterHandshake() error {
	err := c.send(proto.Hello{
		Name: c.s.cfg.AppName, MinVersion: proto.Version, MaxVersion: proto.Version,
		MaxRegion: maxRegions - 1, MaxM2SRing: MaxQueues - 1, MaxS2MRing: MaxQueues - 1,
		MaxLog2RingSize: MaxLog2RingSize,
	}, -1)
	if err != nil {
		return err
	}
	m, err := c.expectMsg()
	if err != nil {
		return err
	}
	init, ok := m.(proto.Init)
	if !ok {
		return refuse(ErrProtocol, "got %s, want INIT", m.Type())
	}
	if err := c.checkInit(init); err != nil {
		return err
	}
	c.peerApp = init.Name
	if err := c.send(proto.Ack{}, -1); err != nil {
		return err
	}
	cfg := c.ifc.cfg
	for {
		m, fd, err := c.expect()
		if err != nil {
			return err
		}
		switch m := m.(type) {
		case proto.AddRegion:
			if err := c.addRegion(m, fd); err != nil {
				return err
			}
		case proto.AddRing:
			if err := c.addRing(m, fd, cfg); err != nil {
				return err
			}
		case proto.Connect:
			if err := c.masterConnect(m); err != nil {
				return err
			}
			c.peerName = m.Name
			return nil // CONNECTED is sent once the link is up (run)
		default:
			shm.Close(fd)
			return refuse(ErrProtocol, "unexpected %s during handshake", m.Type())
		}
		if err := c.send(proto.Ack{}, -1); err != nil {
			return err
		}
	}
}

// checkInit makes the checks VPP and libmemif make on INIT and claims the
// interface for this connection.
func (c *conn) checkInit(m proto.Init) error {
	if m.Version != proto.Version {
		return refuse(ErrVersion, "unsupported version 0x%04x, want 0x%04x", m.Version, proto.Version)
	}
	ifc, slave := c.s.lookup(m.ID)
	if ifc == nil {
		if slave {
			return refuse(ErrUnknownInterface, "interface id %d on this socket is a slave, not a master", m.ID)
		}
		return refuse(ErrUnknownInterface, "no master interface with id %d on this socket", m.ID)
	}
	ifc.mu.Lock()
	switch {
	case ifc.closed:
		ifc.mu.Unlock()
		return refuse(ErrUnknownInterface, "no master interface with id %d on this socket", m.ID)
	case ifc.c != nil || ifc.claim != nil:
		ifc.mu.Unlock()
		return refuse(ErrConnected, "interface id %d already has a peer", m.ID)
	}
	ifc.claim = c
	ifc.mu.Unlock()
	c.ifc = ifc
	c.log = ifc.log
	cfg := ifc.cfg
	if Mode(m.Mode) != cfg.Mode {
		return refuse(ErrModeMismatch, "mode mismatch: peer %s, this interface %s", Mode(m.Mode), cfg.Mode)
	}
	if cfg.Secret != "" {
		if m.Secret == "" {
			return refuse(ErrSecret, "secret required")
		}
		// Constant time: the peer must not learn the secret byte by byte.
		if subtle.ConstantTimeCompare([]byte(m.Secret), []byte(cfg.Secret)) != 1 {
			return refuse(ErrSecret, "incorrect secret")
		}
	}
	return nil
}

func (c *conn) addRegion(m proto.AddRegion, fd int) error {
	fail := func(kind error, format string, args ...any) error {
		shm.Close(fd)
		return refuse(kind, "region %d: "+format, append([]any{m.Index}, args...)...)
	}
	cfg := &c.ifc.cfg
	switch {
	case int(m.Index) != len(c.regions):
		return fail(ErrProtocol, "index out of order, want %d", len(c.regions))
	case len(c.regions) >= maxRegions:
		return fail(ErrLimit, "more than %d regions", maxRegions)
	case m.Size == 0 || m.Size > maxRegionSize:
		return fail(ErrLimit, "size %d outside 1..%d", m.Size, uint64(maxRegionSize))
	case c.regionBytes+m.Size > cfg.MaxRegionBytes:
		return fail(ErrLimit, "%d bytes bring the connection's shared memory above the interface's %d", m.Size, cfg.MaxRegionBytes)
	}
	// A file the owner can shrink while it is mapped turns the next access
	// past its new end into SIGBUS, which kills a Go process unless the
	// goroutine asked for a panic instead. Seal it against shrinking (a
	// no-op if the peer already did; VPP, DPDK and libmemif create their
	// memfds sealable) before checking its size, so the size cannot drop
	// after the check.
	sealed := shm.ShrinkSealed(fd) || shm.SealShrink(fd) == nil
	if !sealed && !cfg.AllowUnsealedRegions {
		return fail(ErrUnsealedRegion, "memory file cannot be sealed against shrinking (F_SEAL_SHRINK)")
	}
	fsize, err := shm.FileSize(fd)
	if err != nil || uint64(fsize) < m.Size {
		return fail(ErrProtocol, "file holds %d bytes, fewer than the announced %d", fsize, m.Size)
	}
	data, err := shm.Map(fd, int(m.Size))
	if err != nil {
		return fail(err, "%v", err)
	}
	if !sealed {
		c.unsealed = true
		c.log.Warn("memif region is not sealed against shrinking; accepted because the interface trusts its peer (AllowUnsealedRegions)", "region", m.Index, "bytes", m.Size)
	}
	c.regionBytes += m.Size
	c.regions = append(c.regions, region{data: data, fd: fd, size: m.Size, sealed: sealed})
	c.views = append(c.views, data)
	return nil
}

func (c *conn) addRing(m proto.AddRing, fd int, cfg InterfaceConfig) error {
	s2m := m.Flags&proto.RingFlagS2M != 0
	dir, count, limit := "m2s", c.nM2S, cfg.TxQueues
	if s2m {
		dir, count, limit = "s2m", c.nS2M, cfg.RxQueues
	}
	fail := func(kind error, format string, args ...any) error {
		shm.Close(fd)
		return refuse(kind, "%s ring %d: "+format, append([]any{dir, m.Index}, args...)...)
	}
	switch {
	case m.PrivateHdrSize != 0:
		return fail(ErrProtocol, "private headers not supported")
	case int(m.Index) != count:
		return fail(ErrProtocol, "index out of order, want %d", count)
	case count >= limit:
		return fail(ErrLimit, "more than the %d queues this interface has", limit)
	case m.Log2RingSize > MaxLog2RingSize:
		return fail(ErrLimit, "log2 size %d above %d", m.Log2RingSize, MaxLog2RingSize)
	case int(m.Region) >= len(c.regions):
		return fail(ErrProtocol, "region %d not announced", m.Region)
	case m.Offset%4 != 0:
		return fail(ErrProtocol, "offset %d not 4-byte aligned", m.Offset)
	}
	reg := &c.regions[m.Region]
	end := uint64(m.Offset) + uint64(ring.Bytes(c.s.cfg.CacheLine, m.Log2RingSize))
	if end > reg.size {
		return fail(ErrProtocol, "ring at offset %d needs %d bytes, beyond region %d of %d bytes", m.Offset, end-uint64(m.Offset), m.Region, reg.size)
	}
	if !shm.IsEventfd(fd) {
		return fail(ErrProtocol, "interrupt descriptor is not an eventfd")
	}
	r, err := ring.New(reg.data[m.Offset:end], c.s.cfg.CacheLine, m.Log2RingSize)
	if err != nil {
		return fail(ErrProtocol, "%v", err)
	}
	reg.rings = true
	c.specs = append(c.specs, ringSpec{s2m: s2m, index: m.Index, region: m.Region, offset: m.Offset, log2: m.Log2RingSize, fd: fd, r: r})
	if s2m {
		c.nS2M++
	} else {
		c.nM2S++
	}
	return nil
}

func (c *conn) masterConnect(m proto.Connect) error {
	if c.nS2M == 0 || c.nM2S == 0 {
		return refuse(ErrProtocol, "CONNECT with %d s2m and %d m2s rings; need at least one each way", c.nS2M, c.nM2S)
	}
	err := c.touchShared(func() error {
		for i := range c.specs {
			if got := c.specs[i].r.Cookie(); got != ring.Cookie {
				return refuse(ErrProtocol, "wrong cookie 0x%x on ring %d", got, c.specs[i].index)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.buildQueues()
}

// buildQueues turns the ring specs into queues. Master: S2M rings are rx,
// M2S rings tx. Slave: the other way round.
func (c *conn) buildQueues() error {
	cfg := c.ifc.cfg
	c.rx = make([]*RxQueue, 0, c.nS2M)
	c.tx = make([]*TxQueue, 0, c.nM2S)
	for k := range c.specs {
		sp := &c.specs[k]
		rx := sp.s2m != c.slave
		var q *queue
		if rx {
			rq := &RxQueue{}
			c.rx = append(c.rx, rq)
			q = &rq.queue
		} else {
			tq := &TxQueue{}
			c.tx = append(c.tx, tq)
			q = &tq.queue
		}
		q.c, q.r, q.views, q.rx, q.slave, q.index = c, sp.r, c.views, rx, c.slave, int(sp.index)
		q.size, q.mask, q.unsealed = sp.r.Size(), sp.r.Mask(), c.unsealed
		q.efd, q.ringFD = sp.fd, sp.fd
		if err := shm.SetNonblock(sp.fd); err != nil {
			return refuse(err, "ring %d eventfd: %v", sp.index, err)
		}
		if c.slave {
			ordinal := uint32(sp.index)
			if !sp.s2m {
				ordinal += uint32(c.nS2M)
			}
			q.bufRegion, q.bufSize, q.headroom = c.bufRegion, c.bufSize, uint32(cfg.Headroom)
			q.bufMem = c.regions[c.bufRegion].data
			q.shadow = make([]uint32, q.size)
			for j := range q.shadow {
				q.shadow[j] = c.bufBase + ((ordinal<<sp.log2)+uint32(j))*c.bufSize
			}
		}
		if c.slave == sp.s2m { // this side produces: slave on S2M, master on M2S
			if c.slave {
				q.own = sp.r.Head()
				// No room until the peer's index has been loaded and
				// validated (txFree): the ring is shared memory.
				q.peerSeen = q.own - uint16(q.size)
			} else {
				q.own = sp.r.Tail()
				q.peerSeen = q.own
			}
			q.cur = q.own
			continue
		}
		q.efile = os.NewFile(uintptr(sp.fd), fmt.Sprintf("memif-ring-%d-eventfd", sp.index))
		if c.slave {
			q.cur, q.own = sp.r.Tail(), sp.r.Head()
		} else {
			q.cur = sp.r.Tail()
			q.own = q.cur
			q.setMode(cfg.RxMode)
		}
		q.mode = cfg.RxMode
	}
	return nil
}
