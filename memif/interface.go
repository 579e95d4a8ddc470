package memif

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Interface is one memif interface: a master waiting for its slave, or a
// slave connecting to its master. Queues exist only while connected; a new
// connection brings new queue objects (fetch them in OnConnect or after
// WaitConnected).
type Interface struct {
	s   *Socket
	cfg InterfaceConfig
	log *slog.Logger

	mu      sync.Mutex
	c       *conn // link up
	last    *conn // the connection that was up last (its teardown may still run)
	claim   *conn // master: connection in handshake holding this id
	changed chan struct{}
	kick    chan struct{} // slave: RequestConnection asks for an attempt now
	closed  bool
	done    chan struct{}
	lastErr error
	wg      sync.WaitGroup

	// inCallback counts running OnConnect/OnDisconnect calls: a Close made
	// from inside one must not wait for the goroutine that runs it.
	inCallback atomic.Int32

	attempts attemptLog // outcome of the last failed connection attempt

	st ifaceCounters
}

type ifaceCounters struct {
	connects, disconnects, protoErrors, badDesc atomic.Uint64
	rxPackets, rxBytes, txPackets, txBytes      atomic.Uint64
	ringFull, intErrors                         atomic.Uint64
}

func newInterface(s *Socket, cfg InterfaceConfig) *Interface {
	return &Interface{
		s:       s,
		cfg:     cfg,
		log:     s.log.With("id", cfg.ID, "role", cfg.Role.String()).With(cfg.LogAttrs...),
		changed: make(chan struct{}),
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
}

// Config returns the interface's configuration with defaults filled in.
func (i *Interface) Config() InterfaceConfig { return i.cfg }

// Connected reports whether the link is up.
func (i *Interface) Connected() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.c != nil
}

// LastError is why the most recent connection or attempt ended (nil if
// none has). Peer DISCONNECTs are *DisconnectError with Remote set.
func (i *Interface) LastError() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.lastErr
}

// WaitConnected blocks until the link is up, ctx is done or the interface
// is closed (ErrClosed).
func (i *Interface) WaitConnected(ctx context.Context) error {
	for {
		i.mu.Lock()
		up, closed, ch := i.c != nil, i.closed, i.changed
		i.mu.Unlock()
		if closed {
			return ErrClosed
		}
		if up {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// notify wakes WaitConnected callers. Called with i.mu held.
func (i *Interface) notify() {
	close(i.changed)
	i.changed = make(chan struct{})
}

func (i *Interface) live() (*conn, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed {
		return nil, ErrClosed
	}
	if i.c == nil {
		return nil, ErrDisconnected
	}
	return i.c, nil
}

// NumRxQueues is the negotiated number of receive queues (0 when down).
func (i *Interface) NumRxQueues() int {
	c, err := i.live()
	if err != nil {
		return 0
	}
	return len(c.rx)
}

// NumTxQueues is the negotiated number of transmit queues (0 when down).
func (i *Interface) NumTxQueues() int {
	c, err := i.live()
	if err != nil {
		return 0
	}
	return len(c.tx)
}

// RxQueue returns receive queue q of the current connection. May return
// ErrDisconnected, ErrClosed or an error wrapping ErrNoQueue.
func (i *Interface) RxQueue(q int) (*RxQueue, error) {
	c, err := i.live()
	if err != nil {
		return nil, err
	}
	if q < 0 || q >= len(c.rx) {
		return nil, fmt.Errorf("memif: interface %d: rx queue %d of %d: %w", i.cfg.ID, q, len(c.rx), ErrNoQueue)
	}
	return c.rx[q], nil
}

// TxQueue returns transmit queue q of the current connection. May return
// ErrDisconnected, ErrClosed or an error wrapping ErrNoQueue.
func (i *Interface) TxQueue(q int) (*TxQueue, error) {
	c, err := i.live()
	if err != nil {
		return nil, err
	}
	if q < 0 || q >= len(c.tx) {
		return nil, fmt.Errorf("memif: interface %d: tx queue %d of %d: %w", i.cfg.ID, q, len(c.tx), ErrNoQueue)
	}
	return c.tx[q], nil
}

// Region describes one shared-memory region of the current connection.
// FD stays open until the connection ends (dup it to keep it longer).
type Region struct {
	Index uint16
	FD    int
	Size  uint64
	Rings bool // the region holds rings (not only packet buffers)
	// Sealed: the file cannot shrink, so its memory cannot fault. Only an
	// interface with AllowUnsealedRegions has unsealed regions; never map
	// one where a fault cannot be recovered (see Interface.RecoverFault).
	Sealed bool
}

// Regions lists the current connection's regions (nil when down).
func (i *Interface) Regions() []Region {
	c, err := i.live()
	if err != nil {
		return nil
	}
	out := make([]Region, len(c.regions))
	for k, r := range c.regions {
		out[k] = Region{Index: uint16(k), FD: r.fd, Size: r.size, Rings: r.rings, Sealed: r.sealed}
	}
	return out
}

// QueueDetails is a snapshot of one queue's ring.
type QueueDetails struct {
	Index        int
	Log2RingSize uint8
	RingSize     int
	BufferSize   uint16 // slave: the buffer size it allocated; master: 0 (per-descriptor)
	Head, Tail   uint16
	Flags        uint16 // ring flags (bit 0 MASK_INT)
	Mode         RxMode // rx queues only
}

// Details is what libmemif's memif_get_details reports.
type Details struct {
	Name      string // this interface
	AppName   string // this application
	PeerName  string // peer interface name (CONNECT/CONNECTED)
	PeerApp   string // peer application name (HELLO/INIT)
	Role      Role
	Mode      Mode
	ID        uint32
	Socket    string
	HasSecret bool
	Connected bool
	Regions   []Region
	RxQueues  []QueueDetails
	TxQueues  []QueueDetails
}

// Details returns a snapshot of the interface and, when connected, of its
// regions and rings.
func (i *Interface) Details() Details {
	d := Details{
		Name: i.cfg.Name, AppName: i.s.cfg.AppName, Role: i.cfg.Role, Mode: i.cfg.Mode,
		ID: i.cfg.ID, Socket: i.s.cfg.Path, HasSecret: i.cfg.Secret != "",
	}
	c, err := i.live()
	if err != nil {
		return d
	}
	d.Connected = true
	d.PeerName, d.PeerApp = c.peerName, c.peerApp
	d.Regions = i.Regions()
	for _, q := range c.rx {
		d.RxQueues = append(d.RxQueues, q.details())
	}
	for _, q := range c.tx {
		d.TxQueues = append(d.TxQueues, q.details())
	}
	return d
}

func (q *queue) details() (qd QueueDetails) {
	var err error // a fault on an unsealed region ends the connection
	q.mu.Lock()
	defer q.unlock(&err)
	if q.unsealed {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	}
	qd = QueueDetails{Index: q.index, RingSize: int(q.size), Mode: q.mode}
	for s := q.size; s > 1; s >>= 1 {
		qd.Log2RingSize++
	}
	if q.slave {
		qd.BufferSize = uint16(q.bufSize)
	}
	if !q.dead {
		qd.Head, qd.Tail, qd.Flags = q.r.Head(), q.r.Tail(), q.r.Flags()
	}
	return qd
}

// QueueStats counts one queue's traffic.
type QueueStats struct {
	Packets, Bytes uint64
	RingFull       uint64 // tx: allocations or packets refused for a full ring
	BadDescriptors uint64 // peer violations seen by this queue
	IntErrors      uint64 // failed eventfd writes
}

// Stats are an interface's counters: totals over every connection so far,
// plus per-queue counters of the current connection.
type Stats struct {
	Connects, Disconnects uint64
	ProtocolErrors        uint64 // connections this side ended for a protocol violation
	BadDescriptors        uint64
	RxPackets, RxBytes    uint64
	TxPackets, TxBytes    uint64
	TxRingFull            uint64
	IntErrors             uint64
	RxQueues, TxQueues    []QueueStats
}

func (q *queue) stats() QueueStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return QueueStats{
		Packets: q.st.packets, Bytes: q.st.bytes, RingFull: q.st.ringFull,
		BadDescriptors: q.st.badDesc, IntErrors: q.st.intErrors,
	}
}

// Stats reads the counters without stopping traffic: each queue's counters
// are plain fields updated inside its burst calls, which hold the queue's
// mutex; Stats takes that mutex for the few nanoseconds a copy takes, so a
// worker waits at most that long, once per Stats call.
func (i *Interface) Stats() Stats {
	i.mu.Lock()
	c := i.c
	st := Stats{
		Connects: i.st.connects.Load(), Disconnects: i.st.disconnects.Load(),
		ProtocolErrors: i.st.protoErrors.Load(), BadDescriptors: i.st.badDesc.Load(),
		RxPackets: i.st.rxPackets.Load(), RxBytes: i.st.rxBytes.Load(),
		TxPackets: i.st.txPackets.Load(), TxBytes: i.st.txBytes.Load(),
		TxRingFull: i.st.ringFull.Load(), IntErrors: i.st.intErrors.Load(),
	}
	i.mu.Unlock()
	if c == nil {
		return st
	}
	for _, q := range c.rx {
		qs := q.stats()
		st.RxQueues = append(st.RxQueues, qs)
		st.RxPackets += qs.Packets
		st.RxBytes += qs.Bytes
		st.BadDescriptors += qs.BadDescriptors
	}
	for _, q := range c.tx {
		qs := q.stats()
		st.TxQueues = append(st.TxQueues, qs)
		st.TxPackets += qs.Packets
		st.TxBytes += qs.Bytes
		st.TxRingFull += qs.RingFull
		st.BadDescriptors += qs.BadDescriptors
		st.IntErrors += qs.IntErrors
	}
	return st
}

// fold adds a dead queue's counters to the interface totals.
func (i *Interface) fold(q *queue, rx bool) {
	s := q.stats()
	if rx {
		i.st.rxPackets.Add(s.Packets)
		i.st.rxBytes.Add(s.Bytes)
	} else {
		i.st.txPackets.Add(s.Packets)
		i.st.txBytes.Add(s.Bytes)
		i.st.ringFull.Add(s.RingFull)
		i.st.intErrors.Add(s.IntErrors)
	}
	i.st.badDesc.Add(s.BadDescriptors)
}

// Close disconnects (sending DISCONNECT to the peer), unmaps every region
// (a queue with buffers still out keeps zero pages in their place until
// its next burst call; see "View lifetime" in the package doc), closes
// every descriptor, stops reconnecting and unblocks WaitConnected
// and RxQueue.Wait, and returns when all of that is done. It is
// idempotent. Called while an OnConnect or OnDisconnect callback runs, it
// cannot wait for the goroutine running the callback: it then returns at
// once and the teardown completes when the callback returns.
func (i *Interface) Close() error {
	i.mu.Lock()
	first := !i.closed
	if first {
		i.closed = true
		close(i.done)
		i.notify()
	}
	c := i.c
	if c == nil {
		c = i.claim
	}
	i.mu.Unlock()
	if first {
		i.s.remove(i)
	}
	if c != nil {
		c.abort(errInterfaceClosed())
	}
	if i.inCallback.Load() > 0 {
		return nil
	}
	// A repeated Close waits too, so any Close that returns outside a
	// callback means the teardown is complete.
	if c != nil {
		<-c.done
	}
	i.wg.Wait()
	return nil
}

// callback runs f (a user callback) with inCallback raised.
func (i *Interface) callback(f func()) {
	i.inCallback.Add(1)
	defer i.inCallback.Add(-1)
	f()
}

// RequestConnection makes a slave try to connect now, as libmemif's
// memif_request_connection does; it is how a slave whose reconnect timer
// is off (SocketConfig.ReconnectInterval < 0) connects again after a
// failure or disconnect. With the timer on it just does not wait for the
// timer. It does not wait for the attempt: the outcome arrives through
// OnConnect, WaitConnected and LastError.
//
// It returns an error wrapping ErrInvalid on a master (which waits for
// its slave), ErrConnected when connected, ErrConnecting while a handshake
// is in progress, and ErrClosed after Close.
func (i *Interface) RequestConnection() error {
	if i.cfg.Role != RoleSlave {
		return fmt.Errorf("memif: interface %d: RequestConnection needs the slave role; a master waits for its slave: %w", i.cfg.ID, ErrInvalid)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	switch {
	case i.closed:
		return ErrClosed
	case i.c != nil:
		return fmt.Errorf("memif: interface %d: %w", i.cfg.ID, ErrConnected)
	case i.claim != nil:
		return fmt.Errorf("memif: interface %d: %w", i.cfg.ID, ErrConnecting)
	}
	select {
	case i.kick <- struct{}{}:
	default: // an attempt is already requested
	}
	return nil
}

// slaveLoop connects, runs the connection until it ends, and retries
// after the reconnect interval (or when RequestConnection asks) until the
// interface is closed.
func (i *Interface) slaveLoop() {
	defer i.wg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-i.done:
			return
		case <-t.C:
		case <-i.kick:
		}
		i.connectSlave()
		if i.s.cfg.ReconnectInterval >= 0 {
			t.Reset(i.s.cfg.ReconnectInterval)
		}
	}
}

func (i *Interface) connectSlave() {
	d := net.Dialer{Timeout: i.s.cfg.HandshakeTimeout}
	nc, err := d.Dial("unixpacket", i.s.cfg.Path)
	if err != nil {
		err = dialError(i.s.cfg.Path, err)
		i.mu.Lock()
		i.lastErr = err
		i.mu.Unlock()
		i.unreachable(err)
		return
	}
	c := newConn(i.s, nc.(*net.UnixConn), true)
	c.ifc = i
	i.mu.Lock()
	if i.closed {
		i.mu.Unlock()
		nc.Close()
		return
	}
	i.claim = c
	i.mu.Unlock()
	c.run(c.slaveHandshake)
}
