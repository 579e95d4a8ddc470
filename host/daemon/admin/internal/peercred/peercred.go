// Package peercred reads the credentials of a unix socket's peer
// (SO_PEERCRED), so that the admin API can say who made a request. It is
// the admin API's only system call, kept apart as the style asks.
package peercred

import (
	"fmt"
	"net"
	"syscall"
)

// Cred is the peer process's id and user and group ids at connect time.
type Cred struct {
	PID      int32
	UID, GID uint32
}

// String is "uid=U gid=G pid=P".
func (c Cred) String() string { return fmt.Sprintf("uid=%d gid=%d pid=%d", c.UID, c.GID, c.PID) }

// Of returns the credentials of c's peer.
func Of(c *net.UnixConn) (Cred, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return Cred{}, err
	}
	var uc *syscall.Ucred
	var serr error
	if err := rc.Control(func(fd uintptr) {
		uc, serr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return Cred{}, err
	}
	if serr != nil {
		return Cred{}, fmt.Errorf("SO_PEERCRED: %w", serr)
	}
	return Cred{PID: uc.Pid, UID: uc.Uid, GID: uc.Gid}, nil
}
