package testpmd

import (
	"errors"
	"syscall"
)

// sysProcAttr has the kernel kill testpmd when the test process dies, so a
// crashed or killed test leaves no busy-polling testpmd behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// processGone reports whether no process has this pid.
func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
