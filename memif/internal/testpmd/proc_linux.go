package testpmd

import "syscall"

// sysProcAttr has the kernel kill testpmd when the test process dies, so a
// crashed or killed test leaves no busy-polling testpmd behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
