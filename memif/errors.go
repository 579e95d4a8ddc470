package memif

import (
	"errors"
	"fmt"
)

// Errors of package memif. Returned errors wrap one of them with the
// details (which interface, which limit, what the peer sent); compare with
// errors.Is. C libmemif's numeric codes and messages are the business of
// package memif/libmemif, which maps these errors onto them.
var (
	// ErrClosed: the Socket or Interface was closed.
	ErrClosed = errors.New("memif: closed")
	// ErrDisconnected: the link is down; a queue of an ended connection
	// returns it from every burst call.
	ErrDisconnected = errors.New("memif: link down")
	// ErrInvalid: a bad configuration or a call's arguments are wrong.
	ErrInvalid = errors.New("memif: invalid argument")
	// ErrNoQueue: no queue with that index in the current connection.
	ErrNoQueue = errors.New("memif: no such queue")
	// ErrRingFull: the transmit ring has no free slots for the packet.
	ErrRingFull = errors.New("memif: ring full")
	// ErrTooLarge: the packet needs more buffers than the ring has, so it
	// can never be sent on this connection.
	ErrTooLarge = errors.New("memif: packet larger than the whole ring")
	// ErrShortBuffer: the caller's buffer slice cannot hold the next
	// packet's whole chain.
	ErrShortBuffer = errors.New("memif: buffer slice too short for the packet's chain")
	// ErrIDInUse: the socket already has an interface of that role and id.
	ErrIDInUse = errors.New("memif: interface id in use")
	// ErrSocketInUse: another process listens on the socket path.
	ErrSocketInUse = errors.New("memif: socket in use by another process")
	// ErrNotSocket: the socket path exists and is not a socket.
	ErrNotSocket = errors.New("memif: path is not a socket")
	// ErrConnected: the interface is already connected.
	ErrConnected = errors.New("memif: already connected")
	// ErrConnecting: a connection attempt is in progress.
	ErrConnecting = errors.New("memif: connection attempt in progress")

	// Why this side ended or refused a connection (the Err of a local
	// *DisconnectError). The DISCONNECT sent to the peer says the same in
	// its reason string.

	// ErrProtocol: the peer sent a malformed or unexpected control
	// message, descriptors where none belong (or none where one does), or
	// a ring without the cookie.
	ErrProtocol = errors.New("memif: protocol violation")
	// ErrVersion: the peer speaks another protocol version.
	ErrVersion = errors.New("memif: unsupported protocol version")
	// ErrUnknownInterface: no master interface with the slave's id.
	ErrUnknownInterface = errors.New("memif: no such interface")
	// ErrModeMismatch: the peer's interface mode differs.
	ErrModeMismatch = errors.New("memif: interface mode mismatch")
	// ErrSecret: the secret is missing or wrong.
	ErrSecret = errors.New("memif: secret mismatch")
	// ErrLimit: the peer asked for more than this side allows (regions,
	// rings, ring size, region bytes).
	ErrLimit = errors.New("memif: over a limit")
	// ErrUnsealedRegion: the peer's shared memory is not sealed against
	// shrinking, so a truncation would fault this process (see
	// InterfaceConfig.AllowUnsealedRegions).
	ErrUnsealedRegion = errors.New("memif: region not sealed against shrinking")
	// ErrRegionFault: touching the peer's shared memory faulted (an
	// unsealed region was truncated); the connection was ended.
	ErrRegionFault = errors.New("memif: shared memory fault")
	// ErrBadDescriptor: the peer published a descriptor outside its
	// region, a chain that never ends, or a length above the buffer.
	ErrBadDescriptor = errors.New("memif: bad descriptor from peer")
	// ErrBadRingIndex: the peer moved head or tail further than the ring
	// allows.
	ErrBadRingIndex = errors.New("memif: peer moved a ring index out of range")
	// ErrPeerDisconnected matches (errors.Is) a *DisconnectError the peer
	// caused: it sent DISCONNECT or closed its control channel.
	ErrPeerDisconnected = errors.New("memif: peer ended the connection")
)

// DisconnectError says why a connection ended. Remote is true when the
// peer ended it: it sent DISCONNECT (Code and Reason are its words) or
// closed the control channel. Otherwise this side ended it: Reason is what
// the DISCONNECT sent to the peer said, and Err the kind (ErrProtocol,
// ErrSecret, ErrClosed, ...) or cause, for errors.Is.
type DisconnectError struct {
	Remote bool
	Code   uint32 // the code in the peer's DISCONNECT; 0 otherwise
	Reason string
	Err    error
}

func (e *DisconnectError) Error() string {
	if e.Remote {
		if e.Code != 0 {
			return fmt.Sprintf("memif: peer ended the connection: %s (code %d)", e.Reason, e.Code)
		}
		return "memif: peer ended the connection: " + e.Reason
	}
	return "memif: connection ended: " + e.Reason
}

// Is reports whether target is ErrPeerDisconnected for a connection the
// peer ended.
func (e *DisconnectError) Is(target error) bool { return e.Remote && target == ErrPeerDisconnected }

// Unwrap returns the kind or cause of a connection this side ended.
func (e *DisconnectError) Unwrap() error { return e.Err }

// refuse builds the error that ends a connection on this side: reason
// goes to the peer in DISCONNECT, kind is for errors.Is.
func refuse(kind error, format string, args ...any) *DisconnectError {
	return &DisconnectError{Reason: fmt.Sprintf(format, args...), Err: kind}
}
