package libmemif

import (
	"errors"
	"io/fs"
	"syscall"

	"github.com/memif-wasm/memif-wasm/memif"
)

// MemifError implements and extends the error interface with the method
// Code, which returns the integer error code as C-libmemif defines it. The
// exported Err* values are the only instances: compare a returned error by
// value (err == ErrQueueID), as with the cgo adapter.
type MemifError struct {
	code        int
	description string
}

// Error returns the description: C-libmemif's memif_strerror text with a
// "libmemif: " prefix.
func (e *MemifError) Error() string { return e.description }

// Code returns the integer error code as returned by C-libmemif.
func (e *MemifError) Code() int { return e.code }

// cStrings are C libmemif's memif_strerror texts by code (main.c
// memif_errlist), spelling included, so logs match the C library's.
var cStrings = [...]string{
	1:  "Unspecified syscall error (build with -DMEMIF_DBG or make debug).",
	2:  "Connection refused",
	3:  "Permission to resoure denied.",
	4:  "Socket file does not exist",
	5:  "System limit on total numer of open files reached.",
	6:  "Per-process limit on total number of open files reached.",
	7:  "Connection already requested.",
	8:  "File descriptor refers to file other than socket, or operation would block.",
	9:  "Bad file descriptor.",
	10: "Out of memory.",
	11: "Invalid argument.",
	12: "Memif connection handle does not point to existing conenction",
	13: "Memif connection handle points to existing connection",
	14: "Callback memif_control_fd_update_t returned error",
	15: "File specified by socket filename exists and is not socket.",
	16: "Missing shared memory file descriptor. (internal error)",
	17: "Invalid cookie on ring. (internal error)",
	18: "Ring buffer full.",
	19: "Not enough memif buffers. There are unreceived data in shared memory.",
	20: "Not enough space for memif details in suplied buffer. String data might be malformed.",
	21: "Send interrupt error.",
	22: "Malformed message received on control channel.",
	23: "Invalid queue id",
	24: "Incompatible memory interface protocol version.",
	25: "Unmatched interface id.",
	26: "Slave cannot accept connection reqest.",
	27: "Interface is already connected.",
	28: "Mode mismatch.",
	29: "Secret mismatch.",
	30: "Secret required.",
	31: "Limit on total number of regions reached.",
	32: "Limit on total number of ring reached.",
	33: "Missing interrupt file descriptor. (internal error)",
	34: "Interface received disconnect request.",
	35: "Interface is disconnected.",
	36: "Unknown message type received on control channel. (internal error)",
	37: "Memif event polling was canceled.",
}

// newMemifError builds an error with C-libmemif's text for code, or desc
// for the codes the adapter added.
func newMemifError(code int, desc ...string) *MemifError {
	if len(desc) > 0 {
		return &MemifError{code: code, description: "libmemif: " + desc[0]}
	}
	return &MemifError{code: code, description: "libmemif: " + cStrings[code]}
}

// Errors returned by this package. Compare returned errors by value against
// these variables. Codes 1..37 are C-libmemif's memif_err_t values with its
// messages.
var (
	ErrSyscall       = newMemifError(1)
	ErrConnRefused   = newMemifError(2)
	ErrAccess        = newMemifError(3)
	ErrNoFile        = newMemifError(4)
	ErrFileLimit     = newMemifError(5)
	ErrProcFileLimit = newMemifError(6)
	ErrAlready       = newMemifError(7)
	ErrAgain         = newMemifError(8)
	ErrBadFd         = newMemifError(9)
	ErrNoMem         = newMemifError(10)
	ErrInvalArgs     = newMemifError(11)
	ErrNoConn        = newMemifError(12)
	ErrConn          = newMemifError(13)
	ErrClbFDUpdate   = newMemifError(14)
	ErrFileNotSock   = newMemifError(15)
	ErrNoShmFD       = newMemifError(16)
	ErrCookie        = newMemifError(17)

	// Not returned by bursts: a full ring or a short buffer array only make
	// TxBurst send fewer packets and RxBurst return fewer packets.
	ErrNoBufRing    = newMemifError(18)
	ErrNoBuf        = newMemifError(19)
	ErrNoBufDetails = newMemifError(20)

	ErrIntWrite     = newMemifError(21)
	ErrMalformedMsg = newMemifError(22)
	ErrQueueID      = newMemifError(23)
	ErrProto        = newMemifError(24)
	ErrIfID         = newMemifError(25)
	ErrAcceptSlave  = newMemifError(26)
	ErrAlreadyConn  = newMemifError(27)
	ErrMode         = newMemifError(28)
	ErrSecret       = newMemifError(29)
	ErrNoSecret     = newMemifError(30)
	ErrMaxRegion    = newMemifError(31)
	ErrMaxRing      = newMemifError(32)
	ErrNotIntFD     = newMemifError(33)
	ErrDisconnect   = newMemifError(34)
	ErrDisconnected = newMemifError(35)
	ErrUnknownMsg   = newMemifError(36)
	ErrPollCanceled = newMemifError(37)

	// Errors added by the adapter.
	ErrNotInit     = newMemifError(100, "libmemif is not initialized")
	ErrAlreadyInit = newMemifError(101, "libmemif is already initialized")
	ErrUnsupported = newMemifError(102, "the feature is not supported by C-libmemif")

	// ErrUnknown stands for an error that has no libmemif code.
	ErrUnknown = newMemifError(-1, "unknown error")
)

// errorsByCode indexes the errors with C-libmemif codes 1..37.
var errorsByCode = [...]*MemifError{
	nil, ErrSyscall, ErrConnRefused, ErrAccess, ErrNoFile, ErrFileLimit, ErrProcFileLimit, ErrAlready,
	ErrAgain, ErrBadFd, ErrNoMem, ErrInvalArgs, ErrNoConn, ErrConn, ErrClbFDUpdate, ErrFileNotSock,
	ErrNoShmFD, ErrCookie, ErrNoBufRing, ErrNoBuf, ErrNoBufDetails, ErrIntWrite, ErrMalformedMsg, ErrQueueID,
	ErrProto, ErrIfID, ErrAcceptSlave, ErrAlreadyConn, ErrMode, ErrSecret, ErrNoSecret, ErrMaxRegion,
	ErrMaxRing, ErrNotIntFD, ErrDisconnect, ErrDisconnected, ErrUnknownMsg, ErrPollCanceled,
}

// errorByCode returns the exported error for a libmemif code, or
// ErrUnknown for a code the cgo adapter never knew.
func errorByCode(code int) *MemifError {
	if code > 0 && code < len(errorsByCode) {
		return errorsByCode[code]
	}
	return ErrUnknown
}

// byKind maps package memif's errors to the codes C libmemif returns for
// the same condition. The first match wins, so a wrapped kind that is also
// a syscall error takes the memif meaning.
var byKind = [...]struct {
	kind error
	code *MemifError
}{
	{memif.ErrClosed, ErrNoConn},
	{memif.ErrPeerDisconnected, ErrDisconnect},
	{memif.ErrBadDescriptor, ErrDisconnected}, // the peer broke the protocol; memif is ending the link
	{memif.ErrBadRingIndex, ErrDisconnected},
	{memif.ErrRegionFault, ErrDisconnected},
	{memif.ErrDisconnected, ErrDisconnected},
	{memif.ErrInvalid, ErrInvalArgs},
	{memif.ErrNoQueue, ErrQueueID},
	{memif.ErrRingFull, ErrNoBufRing},
	{memif.ErrShortBuffer, ErrNoBuf},
	{memif.ErrTooLarge, ErrNoBufRing},
	{memif.ErrIDInUse, ErrConn},
	{memif.ErrSocketInUse, ErrAlready},
	{memif.ErrNotSocket, ErrFileNotSock},
	{memif.ErrConnected, ErrAlreadyConn},
	{memif.ErrConnecting, ErrAlready},
	{memif.ErrProtocol, ErrMalformedMsg},
	{memif.ErrVersion, ErrProto},
	{memif.ErrUnknownInterface, ErrIfID},
	{memif.ErrModeMismatch, ErrMode},
	{memif.ErrSecret, ErrSecret},
	{memif.ErrLimit, ErrMaxRing},
	{memif.ErrUnsealedRegion, ErrNoShmFD},
	{fs.ErrNotExist, ErrNoFile},
	{syscall.ECONNREFUSED, ErrConnRefused},
	{fs.ErrPermission, ErrAccess},
	{syscall.ENFILE, ErrFileLimit},
	{syscall.EMFILE, ErrProcFileLimit},
	{syscall.ENOMEM, ErrNoMem},
	{syscall.EAGAIN, ErrAgain},
	{syscall.EBADF, ErrBadFd},
}

// toMemifError turns an error of the memif package into this package's
// value, so callers can compare by value. The detail the memif error
// carried is logged by the caller where it matters.
func toMemifError(err error) error {
	if err == nil {
		return nil
	}
	var me *MemifError
	if errors.As(err, &me) {
		return me
	}
	for _, k := range byKind {
		if errors.Is(err, k.kind) {
			return k.code
		}
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return ErrSyscall
	}
	return ErrUnknown
}
