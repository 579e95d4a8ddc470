//go:build linux

package shm

import (
	"testing"

	"golang.org/x/sys/unix"
)

// unixMemfdUnsealed creates a memfd the way a peer would before sealing it.
func unixMemfdUnsealed(t *testing.T) (int, error) {
	fd, err := unix.MemfdCreate("peer", unix.MFD_ALLOW_SEALING|unix.MFD_CLOEXEC)
	if err != nil {
		return -1, err
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd, unix.Ftruncate(fd, 4096)
}
