package memif

import (
	"fmt"
	"os"
)

// Error is a memif error carrying C libmemif's numeric code (memif_err_t)
// and its message, so logs and tools can be compared one to one. The
// exported values below are the only instances; compare with errors.Is.
type Error struct {
	Code int    // libmemif memif_err_t value, 1..39
	Msg  string // libmemif memif_strerror text
}

func (e *Error) Error() string { return "memif: " + e.Msg }

// Errors with libmemif's codes and strings (libmemif main.c memif_errlist;
// the original spelling is kept so messages match the C library).
var (
	ErrSyscall      = &Error{1, "Unspecified syscall error (build with -DMEMIF_DBG or make debug)."}
	ErrConnRefused  = &Error{2, "Connection refused"}
	ErrAccess       = &Error{3, "Permission to resoure denied."}
	ErrNoFile       = &Error{4, "Socket file does not exist"}
	ErrFileLimit    = &Error{5, "System limit on total numer of open files reached."}
	ErrProcFileLim  = &Error{6, "Per-process limit on total number of open files reached."}
	ErrAlready      = &Error{7, "Connection already requested."}
	ErrAgain        = &Error{8, "File descriptor refers to file other than socket, or operation would block."}
	ErrBadFD        = &Error{9, "Bad file descriptor."}
	ErrNoMem        = &Error{10, "Out of memory."}
	ErrInvalArg     = &Error{11, "Invalid argument."}
	ErrNoConn       = &Error{12, "Memif connection handle does not point to existing conenction"}
	ErrConn         = &Error{13, "Memif connection handle points to existing connection"}
	ErrCBFDUpdate   = &Error{14, "Callback memif_control_fd_update_t returned error"}
	ErrFileNotSock  = &Error{15, "File specified by socket filename exists and is not socket."}
	ErrNoShmFD      = &Error{16, "Missing shared memory file descriptor. (internal error)"}
	ErrCookie       = &Error{17, "Invalid cookie on ring. (internal error)"}
	ErrNoBufRing    = &Error{18, "Ring buffer full."}
	ErrNoBuf        = &Error{19, "Not enough memif buffers. There are unreceived data in shared memory."}
	ErrNoBufDet     = &Error{20, "Not enough space for memif details in suplied buffer. String data might be malformed."}
	ErrIntWrite     = &Error{21, "Send interrupt error."}
	ErrMalformedMsg = &Error{22, "Malformed message received on control channel."}
	ErrQID          = &Error{23, "Invalid queue id"}
	ErrProto        = &Error{24, "Incompatible memory interface protocol version."}
	ErrID           = &Error{25, "Unmatched interface id."}
	ErrAccSlave     = &Error{26, "Slave cannot accept connection reqest."}
	ErrAlrConn      = &Error{27, "Interface is already connected."}
	ErrMode         = &Error{28, "Mode mismatch."}
	ErrSecret       = &Error{29, "Secret mismatch."}
	ErrNoSecret     = &Error{30, "Secret required."}
	ErrMaxReg       = &Error{31, "Limit on total number of regions reached."}
	ErrMaxRing      = &Error{32, "Limit on total number of ring reached."}
	ErrNoIntFD      = &Error{33, "Missing interrupt file descriptor. (internal error)"}
	ErrDisconnect   = &Error{34, "Interface received disconnect request."}
	ErrDisconnected = &Error{35, "Interface is disconnected."}
	ErrUnknownMsg   = &Error{36, "Unknown message type received on control channel. (internal error)"}
	ErrPollCancel   = &Error{37, "Memif event polling was canceled."}
	ErrMaxLog2Ring  = &Error{38, "Maximum log2 ring size is 15"}
	ErrPrivHdr      = &Error{39, "Private headers not supported."}
)

var errorsByCode = [...]*Error{
	nil, ErrSyscall, ErrConnRefused, ErrAccess, ErrNoFile, ErrFileLimit, ErrProcFileLim, ErrAlready,
	ErrAgain, ErrBadFD, ErrNoMem, ErrInvalArg, ErrNoConn, ErrConn, ErrCBFDUpdate, ErrFileNotSock,
	ErrNoShmFD, ErrCookie, ErrNoBufRing, ErrNoBuf, ErrNoBufDet, ErrIntWrite, ErrMalformedMsg, ErrQID,
	ErrProto, ErrID, ErrAccSlave, ErrAlrConn, ErrMode, ErrSecret, ErrNoSecret, ErrMaxReg, ErrMaxRing,
	ErrNoIntFD, ErrDisconnect, ErrDisconnected, ErrUnknownMsg, ErrPollCancel, ErrMaxLog2Ring, ErrPrivHdr,
}

// ErrorByCode returns the exported Error with libmemif code c, or nil.
func ErrorByCode(c int) *Error {
	if c <= 0 || c >= len(errorsByCode) {
		return nil
	}
	return errorsByCode[c]
}

// ErrClosed is returned by every method of a closed Socket or Interface.
var ErrClosed = os.ErrClosed

// DisconnectError describes why a connection ended. Remote is true when the
// peer sent DISCONNECT (Code and Reason are the peer's words); otherwise this
// side refused or ended the connection and sent Code and Reason to the peer.
// errors.Is matches the libmemif Error with the same code, and ErrDisconnect
// for any remote disconnect.
type DisconnectError struct {
	Remote bool
	Code   uint32
	Reason string
	Err    error // local cause, if any (nil for remote)
}

func (e *DisconnectError) Error() string {
	who := "local"
	if e.Remote {
		who = "peer"
	}
	// ErrClosed would only repeat the reason ("interface closed: file
	// already closed"); it stays reachable through errors.Is.
	if e.Err != nil && e.Err != ErrClosed {
		return fmt.Sprintf("memif: disconnected (%s, code %d): %s: %v", who, e.Code, e.Reason, e.Err)
	}
	return fmt.Sprintf("memif: disconnected (%s, code %d): %s", who, e.Code, e.Reason)
}

// Is reports whether target is the libmemif Error with the same code, or
// ErrDisconnect for a disconnect the peer initiated.
func (e *DisconnectError) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return (e.Remote && t == ErrDisconnect) || (t.Code == int(e.Code) && e.Code != 0)
}

// Unwrap returns the local cause.
func (e *DisconnectError) Unwrap() error { return e.Err }
