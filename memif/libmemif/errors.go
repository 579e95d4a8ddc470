package libmemif

import (
	"errors"

	"github.com/memif-wasm/memif-wasm/memif"
)

// MemifError implements and extends the error interface with the method
// Code, which returns the integer error code as C-libmemif defines it. The
// exported Err* values are the only instances: compare a returned error by
// value (err == ErrQueueID), as with the cgo adapter. errors.Is also
// matches the memif package's *memif.Error with the same code.
type MemifError struct {
	code        int
	description string
}

// Error returns the description: C-libmemif's memif_strerror text with a
// "libmemif: " prefix.
func (e *MemifError) Error() string { return e.description }

// Code returns the integer error code as returned by C-libmemif.
func (e *MemifError) Code() int { return e.code }

// Is reports whether target is the memif package's error with the same
// libmemif code, so both error families can be tested with errors.Is.
func (e *MemifError) Is(target error) bool {
	t, ok := target.(*memif.Error)
	return ok && t.Code == e.code
}

// newMemifError builds an error with C-libmemif's text for code, or desc
// for the codes the adapter added.
func newMemifError(code int, desc ...string) *MemifError {
	if len(desc) > 0 {
		return &MemifError{code: code, description: "libmemif: " + desc[0]}
	}
	return &MemifError{code: code, description: "libmemif: " + memif.ErrorByCode(code).Msg}
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

// errorByCode returns the exported error for a libmemif code. Codes the
// cgo adapter never knew get the nearest one it has: 38 (log2 ring size
// above 14) is reported as ErrMaxRing, anything else as ErrUnknown.
func errorByCode(code int) *MemifError {
	switch {
	case code > 0 && code < len(errorsByCode):
		return errorsByCode[code]
	case code == memif.ErrMaxLog2Ring.Code:
		return ErrMaxRing
	}
	return ErrUnknown
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
	if errors.Is(err, memif.ErrClosed) {
		return ErrNoConn
	}
	if errors.Is(err, memif.ErrBadDescriptor) || errors.Is(err, memif.ErrBadRingIndex) {
		// The peer broke the protocol; memif is tearing the link down.
		return ErrDisconnected
	}
	var de *memif.DisconnectError
	if errors.As(err, &de) {
		if de.Remote {
			return ErrDisconnect
		}
		if de.Err == nil {
			return errorByCode(int(de.Code))
		}
	}
	var e *memif.Error
	if errors.As(err, &e) {
		return errorByCode(e.Code)
	}
	if de != nil {
		return errorByCode(int(de.Code))
	}
	return ErrUnknown
}
