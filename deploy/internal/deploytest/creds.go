package deploytest

import (
	"fmt"
	"net"
	"runtime"
	"syscall"
)

// DialAs connects to the unix seqpacket socket at path with the filesystem
// credentials fsuid:fsgid and no supplementary group, as another user would
// (the kernel checks a socket's permissions against them, and a non-zero
// fsuid drops root's file capabilities). It needs root. The thread that
// changed its credentials is never reused: its goroutine ends locked to it.
func DialAs(path string, fsuid, fsgid int) error {
	res := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: the runtime ends this thread with the goroutine.
		if _, _, e := syscall.RawSyscall(syscall.SYS_SETGROUPS, 0, 0, 0); e != 0 {
			res <- fmt.Errorf("setgroups: %w", e)
			return
		}
		syscall.RawSyscall(syscall.SYS_SETFSGID, uintptr(fsgid), 0, 0)
		syscall.RawSyscall(syscall.SYS_SETFSUID, uintptr(fsuid), 0, 0)
		// setfs[ug]id return the previous value, never an error: read back.
		if got, _, _ := syscall.RawSyscall(syscall.SYS_SETFSUID, ^uintptr(0), 0, 0); int(got) != fsuid {
			res <- fmt.Errorf("setfsuid(%d) did not take (fsuid %d): not root?", fsuid, got)
			return
		}
		c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
		if err == nil {
			c.Close()
		}
		res <- err
	}()
	return <-res
}
