package memiftest

import (
	"sync"
	"time"
)

// Clock is a clock a test moves by hand, for memif.SocketConfig.Clock (and
// any other Clock of the same shape, such as host.EngineConfig.Clock): rate
// limits, backoffs and quarantine windows are then tested without sleeping.
// It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock that stands at a fixed time (2001-09-09) until
// advanced.
func NewClock() *Clock { return &Clock{now: time.Unix(1e9, 0)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
