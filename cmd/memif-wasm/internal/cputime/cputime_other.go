//go:build !(linux || darwin || freebsd)

package cputime

import "time"

func process() (time.Duration, error) { return 0, ErrNotSupported }
