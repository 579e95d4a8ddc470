package libmemif

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/memif-wasm/memif-wasm/memif"
)

// IfMode represents the mode (layer/behaviour) in which the interface
// operates. The values are the memif wire values.
type IfMode int

const (
	// IfModeEthernet tells memif to operate on the L2 layer.
	IfModeEthernet IfMode = iota
	// IfModeIP tells memif to operate on the L3 layer.
	IfModeIP
	// IfModePuntInject tells memif to behave as Inject/Punt interface.
	IfModePuntInject
)

// RxMode is used to switch between polling and interrupt for Rx.
type RxMode int

const (
	// RxModeInterrupt asks the peer to signal each burst it sends; the
	// interrupt channels fire.
	RxModeInterrupt RxMode = iota
	// RxModePolling tells the peer not to signal: the user polls with
	// RxBurst and the interrupt channels stay silent.
	RxModePolling
)

// RawPacketData represents raw packet data. libmemif doesn't care what the
// actual content is, it only manipulates with raw bytes.
type RawPacketData []byte

// Field limits: the sizes of C-libmemif's string fields. Strings are cut
// to fit them as C strings (with the terminating NUL where C keeps one).
const (
	nameField   = 32  // interface_name[32], app_name[32]
	secretField = 24  // secret[24]: the wire field, compared over all 24 bytes
	pathField   = 108 // sockaddr_un.sun_path
)

// Defaults of C-libmemif for zero-valued fields.
const (
	defaultAppName      = "libmemif-app"
	defaultSocket       = "/run/vpp/memif.sock"
	defaultBufferSize   = 2048
	defaultLog2RingSize = 10
	maxLog2RingSize     = 14
)

// MemifMeta is used to store a basic memif metadata needed for
// identification and connection establishment.
type MemifMeta struct {
	// IfName is the interface name sent to the peer. It is cut to 31 bytes
	// so that it fits the 32-byte wire field with C's terminating NUL.
	IfName string
	// InstanceName identifies the endpoint (the application name sent to
	// the peer). If omitted, the name passed to Init is used. Cut to 31
	// bytes like IfName.
	InstanceName string
	// ConnID is a connection ID used to match opposite sides of the memif
	// connection.
	ConnID uint32
	// SocketFilename is the AF_UNIX socket through which the connection is
	// established; "@name" is an abstract socket. Default
	// /run/vpp/memif.sock. Cut to 107 bytes so that it fits
	// sockaddr_un.sun_path (108 bytes on Linux) with its NUL.
	SocketFilename string
	// Secret must be the same on both sides for the authentication to
	// succeed. Empty string is allowed. Cut to 24 bytes, the wire field.
	Secret string
	// IsMaster is set to true if memif operates in the Master mode.
	IsMaster bool
	// Mode is the mode (layer/behaviour) in which the memif operates.
	Mode IfMode
}

// MemifShmSpecs is used to store the specification of the shared memory
// segment used by memif to send/receive packets.
type MemifShmSpecs struct {
	// NumRxQueues is the number of Rx queues. Default is 1 (used if 0).
	NumRxQueues uint8
	// NumTxQueues is the number of Tx queues. Default is 1 (used if 0).
	NumTxQueues uint8
	// BufferSize is the size of the buffer to hold one packet, or a single
	// fragment of a jumbo frame. Default is 2048 (used if 0).
	BufferSize uint16
	// Log2RingSize is the number of items in the ring represented through
	// the logarithm base 2. Default is 10 (used if 0); at most 14.
	Log2RingSize uint8
}

// MemifConfig is the memif configuration, the input of CreateInterface.
// It is the slave's config that mostly decides the parameters of the
// connection; the master may limit the queue counts.
type MemifConfig struct {
	MemifMeta
	MemifShmSpecs
}

// ConnUpdateCallback is the type of the callbacks that report connection
// status changes. Its error is logged and otherwise ignored, as in
// C-libmemif.
type ConnUpdateCallback func(memif *Memif) (err error)

// MemifCallbacks is a container for all callbacks provided by memif. Any
// callback can be nil, in which case it will be simply skipped. Callbacks
// run on the connection's control goroutine. Do not call Memif.Close or
// Cleanup from within a callback or a deadlock will occur; signal another
// goroutine instead.
type MemifCallbacks struct {
	// OnConnect is triggered when a connection for a given memif was
	// established, before the interrupt channels start firing.
	OnConnect ConnUpdateCallback
	// OnDisconnect is triggered when a connection for a given memif was
	// lost, before the per-queue interrupt channels are closed.
	OnDisconnect ConnUpdateCallback
}

// MemifDetails provides a detailed runtime information about a memif
// interface.
type MemifDetails struct {
	MemifMeta
	MemifConnDetails
}

// MemifConnDetails provides a detailed runtime information about a memif
// connection.
type MemifConnDetails struct {
	// RemoteIfName is the name of the memif on the opposite side.
	RemoteIfName string
	// RemoteInstanceName is the name of the endpoint on the opposite side.
	RemoteInstanceName string
	// HasLink is true if the connection has link (= is established and
	// functional).
	HasLink bool
	// RxQueues contains details for each Rx queue.
	RxQueues []MemifQueueDetails
	// TxQueues contains details for each Tx queue.
	TxQueues []MemifQueueDetails
}

// MemifQueueDetails provides a detailed runtime information about a memif
// queue. Queue = Ring + the associated buffers (one directional).
type MemifQueueDetails struct {
	// QueueID is the ID of the queue.
	QueueID uint8
	// RingSize is the number of slots in the ring (not logarithmic).
	RingSize uint32
	// BufferSize is the size of each buffer pointed to from the ring slots.
	BufferSize uint16
}

// Context is the global Go-libmemif runtime context: whether Init has
// run, the application name, and every memif and socket in use.
type Context struct {
	// life serialises Init and Cleanup; mu guards the fields below.
	life        sync.Mutex
	mu          sync.Mutex
	initialized bool
	appName     string
	memifs      map[*Memif]struct{}
	sockets     map[sockKey]*sockRef
}

// sockKey: memif sends the application name per socket, so interfaces
// share a memif.Socket only when both the path and the name match.
type sockKey struct{ path, app string }

type sockRef struct {
	key  sockKey
	s    *memif.Socket
	refs int
}

var global Context

// Init initializes the library. It must be called exactly once (again only
// after Cleanup) and before any other function; later calls return
// ErrAlreadyInit. appName identifies this application to peers (cut to 31
// bytes); empty means C-libmemif's default, "libmemif-app".
func Init(appName string) error {
	global.life.Lock()
	defer global.life.Unlock()
	global.mu.Lock()
	defer global.mu.Unlock()
	if global.initialized {
		return ErrAlreadyInit
	}
	if appName == "" {
		appName = defaultAppName
	}
	global.appName = cut(appName, nameField-1)
	global.memifs = make(map[*Memif]struct{})
	global.sockets = make(map[sockKey]*sockRef)
	global.initialized = true
	log().WithField("app", global.appName).Debug("libmemif initialized")
	return nil
}

// Cleanup closes every memif interface and socket and returns the library
// to its state before Init. It returns ErrNotInit if Init has not run.
func Cleanup() error {
	global.life.Lock()
	defer global.life.Unlock()
	global.mu.Lock()
	if !global.initialized {
		global.mu.Unlock()
		return ErrNotInit
	}
	global.initialized = false
	memifs := make([]*Memif, 0, len(global.memifs))
	for m := range global.memifs {
		memifs = append(memifs, m)
	}
	global.mu.Unlock()
	for _, m := range memifs {
		m.Close()
	}
	global.mu.Lock()
	var left []*memif.Socket
	for _, r := range global.sockets {
		left = append(left, r.s)
	}
	global.sockets, global.memifs = nil, nil
	global.mu.Unlock()
	for _, s := range left {
		s.Close()
	}
	log().Debug("libmemif cleaned up")
	return nil
}

// cut returns s shortened to at most n bytes.
func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// normalize applies C-libmemif's defaults and truncations and checks the
// limits.
func normalize(c MemifConfig, appName string) (MemifConfig, error) {
	if c.Mode < IfModeEthernet || c.Mode > IfModePuntInject {
		log().WithField("mode", int(c.Mode)).Warn("libmemif: unknown interface mode")
		return c, ErrInvalArgs
	}
	if c.Log2RingSize > maxLog2RingSize {
		log().WithField("log2_ring_size", c.Log2RingSize).Warn("libmemif: log2 ring size above 14")
		return c, ErrMaxRing
	}
	c.IfName = cut(c.IfName, nameField-1)
	if c.InstanceName == "" {
		c.InstanceName = appName
	}
	c.InstanceName = cut(c.InstanceName, nameField-1)
	if c.SocketFilename == "" {
		c.SocketFilename = defaultSocket
	}
	c.SocketFilename = cut(c.SocketFilename, pathField-1)
	c.Secret = cut(c.Secret, secretField)
	if c.NumRxQueues == 0 {
		c.NumRxQueues = 1
	}
	if c.NumTxQueues == 0 {
		c.NumTxQueues = 1
	}
	if c.BufferSize == 0 {
		c.BufferSize = defaultBufferSize
	}
	if c.Log2RingSize == 0 {
		c.Log2RingSize = defaultLog2RingSize
	}
	return c, nil
}

// Memif represents a single memif interface. It provides methods to
// send/receive packets in bursts in either the polling mode or in the
// interrupt mode with the help of Go channels.
type Memif struct {
	// MemifMeta is the configuration after defaults and truncation.
	MemifMeta

	specs     MemifShmSpecs // with defaults
	callbacks MemifCallbacks
	sock      *sockRef
	ifc       *memif.Interface
	ready     chan struct{} // closed once ifc is set

	closed atomic.Bool
	state  atomic.Pointer[connState] // nil while the link is down

	intCh chan uint8 // memif-global interrupts (queue IDs); closed by Close
	errCh chan error // interrupt and data-path errors; closed by Close

	mu      sync.Mutex // guards rxModes, and state changes against SetRxMode
	rxModes [256]RxMode
}

// connState is everything that lives as long as one connection.
type connState struct {
	rx     []*rxQueue
	tx     []*txQueue
	cancel context.CancelFunc
	wg     sync.WaitGroup // interrupt goroutines
}

// CreateInterface creates a new memif interface with the given
// configuration. A slave starts connecting at once (and retries every 2 s);
// a master starts listening. The same callbacks can be used with multiple
// memifs: their argument tells which memif the callback was triggered for.
// The method is thread-safe.
//
// It returns ErrNotInit before Init, ErrInvalArgs for a nil config or an
// unknown mode, ErrMaxRing for Log2RingSize above 14, ErrConn when the
// ConnID is already used by the same role on the socket, and the socket
// errors of C-libmemif (ErrNoFile when the socket directory is missing,
// ErrFileNotSock, ErrAlready when another process listens there).
func CreateInterface(config *MemifConfig, callbacks *MemifCallbacks) (*Memif, error) {
	global.mu.Lock()
	defer global.mu.Unlock()
	if !global.initialized {
		return nil, ErrNotInit
	}
	if config == nil {
		return nil, ErrInvalArgs
	}
	cfg, err := normalize(*config, global.appName)
	if err != nil {
		return nil, err
	}
	m := &Memif{
		MemifMeta: cfg.MemifMeta,
		specs:     cfg.MemifShmSpecs,
		ready:     make(chan struct{}),
		intCh:     make(chan uint8, 64),
		errCh:     make(chan error, 16),
	}
	if callbacks != nil {
		m.callbacks = *callbacks
	}
	ref, err := global.socket(sockKey{cfg.SocketFilename, cfg.InstanceName})
	if err != nil {
		return nil, m.logErr("create socket", err)
	}
	role := memif.RoleSlave
	if cfg.IsMaster {
		role = memif.RoleMaster
	}
	ifc, err := ref.s.NewInterface(memif.InterfaceConfig{
		ID:           cfg.ConnID,
		Role:         role,
		Mode:         memif.Mode(cfg.Mode),
		Name:         cfg.IfName,
		Secret:       cfg.Secret,
		RxQueues:     int(cfg.NumRxQueues),
		TxQueues:     int(cfg.NumTxQueues),
		Log2RingSize: cfg.Log2RingSize,
		BufferSize:   cfg.BufferSize,
		OnConnect:    m.onConnect,
		OnDisconnect: m.onDisconnect,
	})
	if err != nil {
		global.release(ref)
		return nil, m.logErr("create interface", err)
	}
	m.sock, m.ifc = ref, ifc
	close(m.ready)
	global.memifs[m] = struct{}{}
	log().WithFields(map[string]any{"if": m.IfName, "id": m.ConnID, "master": m.IsMaster, "socket": m.SocketFilename}).
		Debug("libmemif interface created")
	return m, nil
}

// socket returns a referenced socket for key, creating it if needed.
// Called with global.mu held.
func (c *Context) socket(key sockKey) (*sockRef, error) {
	if r := c.sockets[key]; r != nil {
		r.refs++
		return r, nil
	}
	s, err := memif.NewSocket(memif.SocketConfig{
		Path:    key.path,
		AppName: key.app,
		Logger:  slogLogger,
	})
	if err != nil {
		return nil, err
	}
	r := &sockRef{key: key, s: s, refs: 1}
	c.sockets[key] = r
	return r, nil
}

// release drops one reference and closes the socket with the last one.
// Called with global.mu held; closing a socket with no interfaces left
// does not call back into this package.
func (c *Context) release(r *sockRef) {
	r.refs--
	if r.refs > 0 {
		return
	}
	if c.sockets[r.key] == r {
		delete(c.sockets, r.key)
	}
	r.s.Close()
}

// logErr logs the detailed memif error and returns the matching value.
func (m *Memif) logErr(op string, err error) error {
	v := toMemifError(err)
	log().WithFields(map[string]any{"if": m.IfName, "op": op, "err": err}).Debug("libmemif error")
	return v
}

// Close removes the memif interface. If it is connected, the connection is
// first properly closed (DISCONNECT to the peer, OnDisconnect, interrupt
// channels closed); then GetInterruptChan's and GetInterruptErrorChan's
// channels are closed. Close is idempotent; every other method of a closed
// Memif returns ErrNoConn.
func (m *Memif) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	err := m.ifc.Close()
	// ifc.Close returns after OnDisconnect, which stopped every goroutine
	// that sends on these channels.
	close(m.intCh)
	close(m.errCh)
	global.mu.Lock()
	delete(global.memifs, m)
	global.release(m.sock)
	global.mu.Unlock()
	log().WithField("if", m.IfName).Debug("libmemif interface closed")
	if err != nil {
		return m.logErr("close", err)
	}
	return nil
}

// GetDetails returns a detailed runtime information about this memif. The
// method is thread-safe. It returns ErrNoConn after Close.
func (m *Memif) GetDetails() (details *MemifDetails, err error) {
	if m.closed.Load() {
		return nil, ErrNoConn
	}
	d := m.ifc.Details()
	details = &MemifDetails{MemifMeta: m.MemifMeta}
	details.RemoteIfName = d.PeerName
	details.RemoteInstanceName = d.PeerApp
	details.HasLink = d.Connected
	qd := func(q memif.QueueDetails) MemifQueueDetails {
		bs := q.BufferSize
		if bs == 0 {
			// A master learns buffer sizes per descriptor; report the
			// configured size as C-libmemif does.
			bs = m.specs.BufferSize
		}
		return MemifQueueDetails{QueueID: uint8(q.Index), RingSize: uint32(q.RingSize), BufferSize: bs}
	}
	for _, q := range d.RxQueues {
		details.RxQueues = append(details.RxQueues, qd(q))
	}
	for _, q := range d.TxQueues {
		details.TxQueues = append(details.TxQueues, qd(q))
	}
	return details, nil
}

// GetInterruptChan returns a channel which is continuously being filled
// with IDs of queues with data ready to be received (in interrupt mode).
// Since there is only one interrupt signal sent for an entire burst of
// packets, an interrupt handling routine should repeatedly call RxBurst
// until it returns no packets. The channel holds up to 64 pending IDs
// (further ones are dropped while it is full) and is closed by Close. The
// method is thread-safe.
func (m *Memif) GetInterruptChan() (ch <-chan uint8) { return m.intCh }

// GetInterruptErrorChan returns a channel which receives the errors met
// while waiting for or reading data: a peer that broke the protocol (the
// link goes down after it) or an interrupt that could not be read. It is
// closed by Close.
func (m *Memif) GetInterruptErrorChan() (ch <-chan error) { return m.errCh }

// GetQueueInterruptChan returns a channel which fires every time there are
// data to read on the given Rx queue (in interrupt mode). It is only valid
// while connected: it returns ErrDisconnected when the link is down,
// ErrQueueID for a queue the connection does not have and ErrNoConn after
// Close. The channel is closed when the connection goes down, after
// OnDisconnect has returned. The method is thread-safe.
func (m *Memif) GetQueueInterruptChan(queueID uint8) (ch <-chan struct{}, err error) {
	rq, err := m.rxQueue(queueID)
	if err != nil {
		return nil, err
	}
	return rq.intCh, nil
}

// SetRxMode switches an Rx queue between the interrupt and the polling
// mode. The mode is kept across reconnects; set while disconnected it
// applies from the next connection. It returns ErrInvalArgs for an unknown
// mode, ErrQueueID for a queue beyond the connection's (or, while down, the
// configured) count and ErrNoConn after Close. The method is thread-safe.
func (m *Memif) SetRxMode(queueID uint8, rxMode RxMode) (err error) {
	if rxMode != RxModeInterrupt && rxMode != RxModePolling {
		return ErrInvalArgs
	}
	if m.closed.Load() {
		return ErrNoConn
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.state.Load()
	if st == nil {
		if queueID >= m.specs.NumRxQueues {
			return ErrQueueID
		}
		m.rxModes[queueID] = rxMode
		return nil
	}
	if int(queueID) >= len(st.rx) {
		return ErrQueueID
	}
	m.rxModes[queueID] = rxMode
	if err := st.rx[queueID].q.SetMode(memif.RxMode(rxMode)); err != nil {
		return m.logErr("set rx mode", err)
	}
	return nil
}

// cbFailed is logged when a user callback returns an error.
const cbFailed = "libmemif: callback failed"

// slogLogger feeds memif's log records to the logrus logger.
var slogLogger = slog.New(slogBridge{})

// onConnect runs on memif's control goroutine when the link is up: it
// builds the per-connection state, runs the user's OnConnect, then starts
// one interrupt goroutine per Rx queue.
func (m *Memif) onConnect(ifc *memif.Interface) {
	<-m.ready
	ctx, cancel := context.WithCancel(context.Background())
	st := &connState{cancel: cancel}
	m.mu.Lock()
	for k := range ifc.NumRxQueues() {
		q, err := ifc.RxQueue(k)
		if err != nil {
			// The link went down again already; bursts will say so.
			break
		}
		q.SetMode(memif.RxMode(m.rxModes[k]))
		st.rx = append(st.rx, &rxQueue{
			q:     q,
			bufs:  CPacketBuffers{bufs: make([]memif.Buffer, q.RingSize())},
			intCh: make(chan struct{}, 1),
		})
	}
	txd := ifc.Details().TxQueues
	for k := range ifc.NumTxQueues() {
		q, err := ifc.TxQueue(k)
		if err != nil {
			break
		}
		tq := &txQueue{q: q}
		if k < len(txd) && txd[k].BufferSize > 0 {
			tq.maxBufs, tq.bufSize = txd[k].RingSize, int(txd[k].BufferSize)
		}
		st.tx = append(st.tx, tq)
	}
	m.state.Store(st)
	m.mu.Unlock()
	log().WithFields(map[string]any{"if": m.IfName, "rx": len(st.rx), "tx": len(st.tx)}).Debug("libmemif connected")
	if cb := m.callbacks.OnConnect; cb != nil {
		if err := cb(m); err != nil {
			log().WithFields(map[string]any{"if": m.IfName, "callback": "OnConnect", "err": err}).Warn(cbFailed)
		}
	}
	for k := range st.rx {
		st.wg.Add(1)
		go m.pollInterrupts(ctx, st, uint8(k))
	}
}

// onDisconnect runs on memif's control goroutine after the connection was
// torn down: it stops the interrupt goroutines, runs the user's
// OnDisconnect, then closes the per-queue channels.
func (m *Memif) onDisconnect(ifc *memif.Interface, cause error) {
	<-m.ready
	st := m.state.Load()
	if st == nil {
		return
	}
	st.cancel()
	st.wg.Wait()
	var de *memif.DisconnectError
	if errors.As(cause, &de) && !de.Remote && !errors.Is(de.Err, memif.ErrClosed) {
		// This side ended the link because the peer broke the protocol.
		select {
		case m.errCh <- fmt.Errorf("%w (interface %q: %v)", toMemifError(cause), m.IfName, cause):
		default:
		}
	}
	if cb := m.callbacks.OnDisconnect; cb != nil {
		if err := cb(m); err != nil {
			log().WithFields(map[string]any{"if": m.IfName, "callback": "OnDisconnect", "err": err}).Warn(cbFailed)
		}
	}
	m.mu.Lock()
	m.state.Store(nil)
	m.mu.Unlock()
	for _, rq := range st.rx {
		close(rq.intCh)
	}
	log().WithFields(map[string]any{"if": m.IfName, "cause": cause}).Debug("libmemif disconnected")
}

// pollInterrupts turns one Rx queue's eventfd signals into channel sends.
// Sends never block: a full channel already tells the reader to drain.
func (m *Memif) pollInterrupts(ctx context.Context, st *connState, qid uint8) {
	defer st.wg.Done()
	rq := st.rx[qid]
	for {
		err := rq.q.Wait(ctx)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, memif.ErrDisconnected) {
				select {
				case m.errCh <- fmt.Errorf("libmemif: interface %q: wait for rx queue %d: %w", m.IfName, qid, err):
				default:
				}
			}
			return
		}
		select {
		case m.intCh <- qid:
		default:
		}
		select {
		case rq.intCh <- struct{}{}:
		default:
		}
	}
}

// rxQueue returns Rx queue queueID of the current connection.
func (m *Memif) rxQueue(queueID uint8) (*rxQueue, error) {
	if m.closed.Load() {
		return nil, ErrNoConn
	}
	st := m.state.Load()
	if st == nil {
		return nil, ErrDisconnected
	}
	if int(queueID) >= len(st.rx) {
		return nil, ErrQueueID
	}
	return st.rx[queueID], nil
}

// txQueue returns Tx queue queueID of the current connection.
func (m *Memif) txQueue(queueID uint8) (*txQueue, error) {
	if m.closed.Load() {
		return nil, ErrNoConn
	}
	st := m.state.Load()
	if st == nil {
		return nil, ErrDisconnected
	}
	if int(queueID) >= len(st.tx) {
		return nil, ErrQueueID
	}
	return st.tx[queueID], nil
}
