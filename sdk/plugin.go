package sdk

import (
	"errors"

	"github.com/memif-wasm/memif-wasm/abi"
)

// Plugin is a packet function. Process gives every packet of the burst a
// verdict (a packet left without one is Aborted: dropped and counted as a
// plugin error). A non-nil error fails the whole burst: the host applies the
// plugin's fail policy and recreates the instance.
type Plugin interface {
	Process(b *Burst) error
}

// Initer is implemented by plugins that take a configuration. Init runs once,
// before the first burst, with the configuration bytes the operator gave
// (possibly empty). config is valid only during the call.
type Initer interface {
	Init(config []byte) error
}

// Controller is implemented by plugins that take control messages between
// bursts (table updates, counter reads). Control appends its reply to reply,
// which has length 0, and returns it; req is valid only during the call.
type Controller interface {
	Control(req, reply []byte) ([]byte, error)
}

// StateSaver is implemented by plugins whose state should survive a reload:
// SaveState appends the state to dst and returns it. The successor receives it
// through StateLoader.LoadState before its first burst.
type StateSaver interface {
	SaveState(dst []byte) ([]byte, error)
}

// StateLoader is implemented by plugins that accept the state their predecessor
// saved. The bytes come from another version of the plugin, so LoadState must
// validate them like any other input.
type StateLoader interface {
	LoadState(state []byte) error
}

// HandlerFunc adapts a function that gives every packet its verdict to a Plugin.
type HandlerFunc func(b *Burst)

// Process calls f(b).
func (f HandlerFunc) Process(b *Burst) error {
	f(b)
	return nil
}

var registered Plugin

// Register makes p the plugin the SDK's exports call. Call it once, from the
// plugin's init function; a second call panics because two plugins in one
// module are a build mistake, not something to recover from at run time.
func Register(p Plugin) {
	if p == nil {
		panic("sdk: Register(nil)")
	}
	if registered != nil {
		panic("sdk: Register called twice")
	}
	registered = p
}

// Handle registers a function as the plugin: Register(HandlerFunc(f)).
func Handle(f func(b *Burst)) { Register(HandlerFunc(f)) }

// Errno returns the ABI error code for err: its abi.Errno if it wraps one, else
// def. A nil error is abi.OK.
func Errno(err error, def abi.Errno) abi.Errno {
	if err == nil {
		return abi.OK
	}
	var e abi.Errno
	if errors.As(err, &e) && e != abi.OK {
		return e
	}
	return def
}
