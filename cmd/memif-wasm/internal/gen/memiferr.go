package gen

import (
	"errors"

	"github.com/memif-wasm/memif-wasm/memif"
)

// The memif errors gen acts on. These are the only places gen names memif's error
// values, so a rename in memif is a one-line change here.

// ringFull: the transmit ring has no free slot; the peer has not caught up.
func ringFull(err error) bool { return errors.Is(err, memif.ErrNoBufRing) }

// bufsTooShort: the caller's []memif.Buffer cannot hold one frame's chain.
func bufsTooShort(err error) bool { return errors.Is(err, memif.ErrNoBuf) }

// linkGone: the connection a queue belonged to has ended.
func linkGone(err error) bool { return errors.Is(err, memif.ErrDisconnected) }

// noSuchQueue: the current connection has fewer queues than asked for.
func noSuchQueue(err error) bool { return errors.Is(err, memif.ErrQID) }
