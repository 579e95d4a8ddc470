package memif

import (
	"runtime/debug"

	"github.com/memif-wasm/memif-wasm/memif/internal/shm"
)

// Shared memory a peer could shrink under us is the one input that can
// kill the process instead of failing a call: an access past the new end
// of the file raises SIGBUS, which the Go runtime turns into a fatal error
// unless the goroutine asked for a panic (debug.SetPanicOnFault). memif
// refuses such regions unless InterfaceConfig.AllowUnsealedRegions trusts
// the peer; on a connection that has one, every access memif makes to the
// peer's memory runs with panics on faults and recovers them here, ending
// only that connection.

// memoryFault is the value a fault on a bad address panics with under
// SetPanicOnFault (a runtime.Error that knows the address).
type memoryFault interface {
	error
	RuntimeError()
	Addr() uintptr
}

// faultAddr returns the faulting address if r, a recovered value, is a
// memory fault.
func faultAddr(r any) (uintptr, bool) {
	f, ok := r.(memoryFault)
	if !ok {
		return 0, false
	}
	return f.Addr(), true
}

// regionFault is the error that ends a connection whose shared memory
// faulted at addr.
func regionFault(addr uintptr) *DisconnectError {
	return refuse(ErrRegionFault, "shared memory fault at %#x: the peer truncated an unsealed region", addr)
}

// touchShared runs f, which reads or writes the peer's shared memory, on
// the connection's goroutine. On a connection with an unsealed region a
// fault in f ends the connection with ErrRegionFault.
func (c *conn) touchShared(f func() error) (err error) {
	if !c.unsealed {
		return f()
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			addr, ok := faultAddr(r)
			if !ok {
				panic(r)
			}
			err = regionFault(addr)
		}
	}()
	return f()
}

// guarded runs f, a burst method's work with q.mu held, on a connection with
// an unsealed region: faults turn into panics for its duration, and a fault
// on shared memory fails the queue and makes the method return
// ErrRegionFault. It releases q.mu. Connections whose regions are sealed
// (all but those AllowUnsealedRegions trusts) skip it: their bursts cannot
// fault, and a deferred call per burst and per packet allocated would cost
// them several percent end to end.
func guarded[T any](q *queue, f func() (T, error)) (v T, err error) {
	defer q.unlock(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return f()
}

// unlock releases q.mu at the end of a guarded burst, after recovering a
// fault on shared memory into ErrRegionFault.
func (q *queue) unlock(err *error) {
	if r := recover(); r != nil {
		addr, ok := faultAddr(r)
		if !ok {
			q.mu.Unlock()
			panic(r)
		}
		*err = q.fail(ErrRegionFault, regionFault(addr).Reason)
	}
	q.mu.Unlock()
}

// RecoverFault contains a fault on this interface's shared memory in code
// outside package memif that reads or writes buffer views of a connection
// with an unsealed region (InterfaceConfig.AllowUnsealedRegions). Such
// code runs with debug.SetPanicOnFault(true) and, in a deferred function,
// passes what recover returned: if it is a memory fault at an address in
// one of this interface's regions, RecoverFault ends the connection with
// ErrRegionFault and returns true; from then on every burst call on the
// connection's queues returns ErrDisconnected, and the caller drops its
// views and goes on.
// Otherwise it returns false and the caller should panic again.
func (i *Interface) RecoverFault(r any) bool {
	addr, ok := faultAddr(r)
	if !ok {
		return false
	}
	i.mu.Lock()
	c := i.c
	i.mu.Unlock()
	if c == nil || !c.unsealed || !c.owns(addr) {
		return false
	}
	// Every queue fails now, so the caller's next burst call already
	// reports the link down (and ends the views it held).
	c.forEachQueue(func(q *queue) {
		q.mu.Lock()
		q.failed = true
		q.mu.Unlock()
	})
	c.abort(regionFault(addr))
	return true
}

// owns reports whether addr lies inside one of the connection's regions.
// The region list is fixed once the link is up.
func (c *conn) owns(addr uintptr) bool {
	for _, r := range c.regions {
		if shm.Contains(r.data, addr) {
			return true
		}
	}
	return false
}
