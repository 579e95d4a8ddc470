// Package cputime reads the CPU time the process has used, for benchmarks that want a
// cost per packet independent of how busy the machine's other processes keep it.
package cputime

import (
	"errors"
	"time"
)

// ErrNotSupported is returned where the platform cannot say.
var ErrNotSupported = errors.New("cputime: not supported on this platform")

// Process returns the user plus system CPU time of every thread of the process so far.
func Process() (time.Duration, error) { return process() }
