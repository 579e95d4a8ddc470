package memif

import (
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/memif-wasm/memif-wasm/memif/internal/proto"
	"github.com/memif-wasm/memif-wasm/memif/internal/ring"
)

// Role is the side of a connection. The slave (client) connects and
// allocates all shared memory; the master (server) listens and maps it.
type Role uint8

const (
	RoleSlave  Role = iota // connects; the zero value, as in libmemif
	RoleMaster             // listens
)

// String returns "master" or "slave".
func (r Role) String() string {
	if r == RoleMaster {
		return "master"
	}
	if r == RoleSlave {
		return "slave"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// MarshalText returns the role's name.
func (r Role) MarshalText() ([]byte, error) {
	if r > RoleMaster {
		return nil, fmt.Errorf("memif: %v: %w", r, ErrInvalid)
	}
	return []byte(r.String()), nil
}

// UnmarshalText parses "slave" or "master", or DPDK's names for them,
// "client" and "server".
func (r *Role) UnmarshalText(b []byte) error {
	switch string(b) {
	case "slave", "client":
		*r = RoleSlave
	case "master", "server":
		*r = RoleMaster
	default:
		return fmt.Errorf("%w: role %q is not one of slave, master, client, server", ErrInvalid, b)
	}
	return nil
}

// Mode is the interface mode carried in INIT; values are the wire values.
type Mode uint8

const (
	ModeEthernet   Mode = 0
	ModeIP         Mode = 1
	ModePuntInject Mode = 2
)

// String returns the mode's name as VPP prints it.
func (m Mode) String() string {
	switch m {
	case ModeEthernet:
		return "ethernet"
	case ModeIP:
		return "ip"
	case ModePuntInject:
		return "punt/inject"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// MarshalText returns the mode's name in configuration form: "ethernet",
// "ip" or "punt-inject".
func (m Mode) MarshalText() ([]byte, error) {
	if m == ModePuntInject {
		return []byte("punt-inject"), nil
	}
	if m > ModePuntInject {
		return nil, fmt.Errorf("memif: %v: %w", m, ErrInvalid)
	}
	return []byte(m.String()), nil
}

// UnmarshalText parses "ethernet", "ip" or "punt-inject" (also
// "punt/inject", as VPP prints it).
func (m *Mode) UnmarshalText(b []byte) error {
	switch string(b) {
	case "ethernet":
		*m = ModeEthernet
	case "ip":
		*m = ModeIP
	case "punt-inject", "punt/inject":
		*m = ModePuntInject
	default:
		return fmt.Errorf("%w: mode %q is not one of ethernet, ip, punt-inject", ErrInvalid, b)
	}
	return nil
}

// RxMode selects how a receive queue learns about new packets.
type RxMode uint8

const (
	// RxModeInterrupt: the producer writes the ring's eventfd after each
	// burst; RxQueue.Wait blocks on it.
	RxModeInterrupt RxMode = 0
	// RxModePolling: the ring's MASK_INT flag tells the producer not to
	// signal; the receiver polls with RxBurst.
	RxModePolling RxMode = 1
)

// String returns "interrupt" or "polling".
func (m RxMode) String() string {
	if m == RxModePolling {
		return "polling"
	}
	if m == RxModeInterrupt {
		return "interrupt"
	}
	return fmt.Sprintf("RxMode(%d)", uint8(m))
}

// MarshalText returns the rx mode's name.
func (m RxMode) MarshalText() ([]byte, error) {
	if m > RxModePolling {
		return nil, fmt.Errorf("memif: %v: %w", m, ErrInvalid)
	}
	return []byte(m.String()), nil
}

// UnmarshalText parses "interrupt" or "polling".
func (m *RxMode) UnmarshalText(b []byte) error {
	switch string(b) {
	case "interrupt":
		*m = RxModeInterrupt
	case "polling":
		*m = RxModePolling
	default:
		return fmt.Errorf("%w: rx mode %q is not one of interrupt, polling", ErrInvalid, b)
	}
	return nil
}

// Defaults used for zero-valued configuration fields.
const (
	DefaultSocketPath        = "/run/vpp/memif.sock"
	DefaultAppName           = "memif-wasm"
	DefaultReconnectInterval = 2 * time.Second
	DefaultHandshakeTimeout  = 5 * time.Second
	// DefaultMaxPendingConnections bounds the handshakes a master socket
	// runs at once (see SocketConfig.MaxPendingConnections).
	DefaultMaxPendingConnections = 16
	// DefaultMaxRegionBytes bounds the shared memory one connection may
	// ask a master to map: far above what VPP, DPDK or libmemif use with
	// their default rings and buffers (a few MiB) or with their zero-copy
	// buffer pools (hundreds of MiB), far below what would exhaust the
	// address space with every pending handshake at its limit.
	DefaultMaxRegionBytes = 16 << 30
	DefaultLog2RingSize   = 10
	DefaultBufferSize     = 2048
	MaxQueues             = 255
	MaxLog2RingSize       = ring.MaxLog2
	// MaxBufferSize is the largest buffer: the size travels as a u16.
	MaxBufferSize = 65535
	// MaxNameLen and MaxSecretLen bound names (interface, application) and
	// the secret: they travel in NUL-padded fields of 32 and 24 bytes.
	MaxNameLen   = proto.NameSize - 1
	MaxSecretLen = proto.SecretSize
)

// SocketConfig configures a Socket. The zero value is valid and means the
// defaults documented on each field.
type SocketConfig struct {
	// Path of the AF_UNIX SOCK_SEQPACKET socket. A leading '@' selects the
	// abstract namespace. Default DefaultSocketPath.
	Path string
	// AppName is sent in HELLO (master) or INIT (slave); at most 31 bytes.
	// Default DefaultAppName.
	AppName string
	// ReconnectInterval is how long a slave waits before it tries to
	// connect again after a failure or disconnect. 0 means the default
	// (2 s, as libmemif); a negative value turns reconnecting off, in which
	// case a slave connects once when created and again only when asked
	// with Interface.RequestConnection.
	ReconnectInterval time.Duration
	// HandshakeTimeout bounds each wait for a control message during the
	// handshake. 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// CacheLine is the ring header line size, 64 or 128; it must match the
	// peer's build. 0 means 128 on arm64 (as VPP and libmemif build there)
	// and 64 elsewhere.
	CacheLine int
	// MaxPendingConnections bounds the handshakes a master socket runs at
	// once; each may hold descriptors and mappings until it completes or
	// HandshakeTimeout passes. Connections beyond it are closed at once
	// (SocketStats.Overflow). 0 means DefaultMaxPendingConnections.
	MaxPendingConnections int
	// File is the owner, group and mode of a master's socket file, set
	// before the first connection is accepted. The zero value leaves the
	// file as created (the umask's mode, the process's user).
	File SocketFile
	// Logger receives connection events. nil discards them.
	Logger *slog.Logger
	// Clock tells the time to the log rate limits (a refused connection's
	// line at most once per second per socket, an unreachable master's
	// warning again every 30 s), so that tests can move it by hand. nil
	// means the system clock.
	Clock Clock
}

// Clock is a source of the current time (see SocketConfig.Clock).
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// InterfaceConfig configures one memif interface. The zero value is a
// slave with id 0, ethernet mode, one queue each way, 1024-slot rings and
// 2048-byte buffers, in interrupt mode.
type InterfaceConfig struct {
	// LogAttrs are added to every line this interface logs (after the
	// socket's "socket" and its own "id" and "role"), so that a caller can
	// put its own keys on memif's lines: the daemon adds tenant and
	// interface. Key-value pairs as slog.Logger.With takes them.
	LogAttrs []any
	// ID matches master and slave interfaces on one socket.
	ID uint32
	// Role: RoleSlave (default) connects, RoleMaster listens.
	Role Role
	// Mode must equal the peer's (ethernet, ip or punt/inject).
	Mode Mode
	// Name is this interface's name sent to the peer; at most 31 bytes.
	Name string
	// Secret, if set, must match the peer's; at most 24 bytes.
	Secret string
	// RxQueues and TxQueues are the queue counts, 1..255; 0 means 1. A
	// slave asks for these (bounded by the master's HELLO limits); a master
	// accepts at most these many rings each way.
	RxQueues, TxQueues int
	// Log2RingSize is log2 of the descriptors per ring, 1..14; 0 means 10.
	// Used by the slave (the master accepts the slave's sizes).
	Log2RingSize uint8
	// BufferSize is the size of each packet buffer the slave allocates;
	// 0 means 2048. Larger packets use chained buffers.
	BufferSize uint16
	// Headroom is reserved at the start of every receive buffer the slave
	// posts (libmemif refill headroom); must be below BufferSize. The
	// master is offered BufferSize-Headroom bytes per buffer, received
	// Data starts Headroom bytes into the buffer (its Offset too), and
	// the Headroom bytes before it are free for a zero-copy consumer to
	// prepend headers. Only the slave's receive side uses it: transmit
	// buffers start at the beginning of their memif buffer.
	Headroom uint16
	// RxMode is the initial mode of every receive queue.
	RxMode RxMode
	// MaxRegionBytes bounds the shared memory (all regions together) a
	// master maps for one connection; a slave that announces more is
	// refused with ErrLimit. 0 means DefaultMaxRegionBytes.
	MaxRegionBytes uint64
	// AllowUnsealedRegions makes a master accept regions whose memory file
	// is not sealed against shrinking (F_SEAL_SHRINK). VPP, DPDK and
	// libmemif seal theirs; DPDK's zero-copy client (zero-copy=yes) hands
	// over its own memory, which with --no-huge is an unsealable memfd.
	// Such a peer can truncate the file under the mapping, and the next
	// access faults. memif contains the faults in its own calls and in
	// code that uses Interface.RecoverFault (the connection ends with
	// ErrRegionFault), but a fault anywhere else that reads a buffer view
	// kills the process: set it only for a peer trusted not to do that.
	// Without it such a region is refused with ErrUnsealedRegion.
	AllowUnsealedRegions bool
	// OnConnect runs on the control goroutine when the link comes up,
	// before a master sends CONNECTED. It may fetch queues and start
	// workers; while it runs, this connection's control messages wait.
	OnConnect func(*Interface)
	// OnDisconnect runs on the control goroutine after the connection was
	// torn down; err says why (a *DisconnectError for protocol-level ends).
	OnDisconnect func(*Interface, error)
}

func defaultCacheLine() int {
	if runtime.GOARCH == "arm64" {
		return 128
	}
	return 64
}

func (c SocketConfig) normalize() (SocketConfig, error) {
	if c.Path == "" {
		c.Path = DefaultSocketPath
	}
	if len(c.Path) > 107 {
		return c, fmt.Errorf("memif: socket path %q longer than 107 bytes: %w", c.Path, ErrInvalid)
	}
	if err := c.File.Validate(); err != nil {
		return c, fmt.Errorf("memif: %w: %w", err, ErrInvalid)
	}
	if c.AppName == "" {
		c.AppName = DefaultAppName
	}
	if len(c.AppName) >= proto.NameSize {
		return c, fmt.Errorf("memif: app name %q longer than %d bytes: %w", c.AppName, proto.NameSize-1, ErrInvalid)
	}
	if c.ReconnectInterval == 0 {
		c.ReconnectInterval = DefaultReconnectInterval
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.MaxPendingConnections == 0 {
		c.MaxPendingConnections = DefaultMaxPendingConnections
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.MaxPendingConnections < 0 {
		return c, fmt.Errorf("memif: max pending connections %d is negative: %w", c.MaxPendingConnections, ErrInvalid)
	}
	if c.CacheLine == 0 {
		c.CacheLine = defaultCacheLine()
	}
	if c.CacheLine != 64 && c.CacheLine != 128 {
		return c, fmt.Errorf("memif: cache line %d is neither 64 nor 128: %w", c.CacheLine, ErrInvalid)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

func (c InterfaceConfig) normalize() (InterfaceConfig, error) {
	bad := func(format string, args ...any) (InterfaceConfig, error) {
		return c, fmt.Errorf("memif: interface %d: "+format+": %w", append(append([]any{c.ID}, args...), ErrInvalid)...)
	}
	if c.Role > RoleMaster {
		return bad("unknown role %d", c.Role)
	}
	if c.Mode > ModePuntInject {
		return bad("unknown mode %d", c.Mode)
	}
	if c.RxMode > RxModePolling {
		return bad("unknown rx mode %d", c.RxMode)
	}
	if len(c.Name) >= proto.NameSize {
		return bad("name %q longer than %d bytes", c.Name, proto.NameSize-1)
	}
	if len(c.Secret) > proto.SecretSize {
		return bad("secret longer than %d bytes", proto.SecretSize)
	}
	if c.RxQueues == 0 {
		c.RxQueues = 1
	}
	if c.TxQueues == 0 {
		c.TxQueues = 1
	}
	if c.RxQueues < 1 || c.RxQueues > MaxQueues || c.TxQueues < 1 || c.TxQueues > MaxQueues {
		return bad("queues rx=%d tx=%d outside 1..%d", c.RxQueues, c.TxQueues, MaxQueues)
	}
	if c.Log2RingSize == 0 {
		c.Log2RingSize = DefaultLog2RingSize
	}
	if c.Log2RingSize > MaxLog2RingSize {
		return bad("log2 ring size %d above %d", c.Log2RingSize, MaxLog2RingSize)
	}
	if c.BufferSize == 0 {
		c.BufferSize = DefaultBufferSize
	}
	if c.MaxRegionBytes == 0 {
		c.MaxRegionBytes = DefaultMaxRegionBytes
	}
	if c.Headroom >= c.BufferSize {
		return bad("headroom %d not below buffer size %d", c.Headroom, c.BufferSize)
	}
	return c, nil
}
