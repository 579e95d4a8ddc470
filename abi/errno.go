package abi

// Errno is an error a guest returns, negated, from mw_init, mw_process,
// mw_control and the state hooks. 0 is success.
type Errno int32

const (
	OK          Errno = 0
	ErrInval    Errno = 1 // malformed config or control message
	ErrNoMem    Errno = 2 // the guest could not allocate
	ErrNotSup   Errno = 3 // the request is not supported by this plugin
	ErrRange    Errno = 4 // a value is out of range
	ErrInternal Errno = 5 // the plugin's own invariant failed
)

var errnoNames = [...]string{"ok", "invalid argument", "out of memory", "not supported", "out of range", "internal error"}

// Error returns the errno's description.
func (e Errno) Error() string {
	if e >= 0 && int(e) < len(errnoNames) {
		return errnoNames[e]
	}
	return "unknown plugin error"
}

// FromReturn interprets an i32 returned by a guest export: negative values are
// -Errno, anything else is success (and may be a length).
func FromReturn(r int32) (n int32, err error) {
	if r < 0 {
		return 0, Errno(-r)
	}
	return r, nil
}
