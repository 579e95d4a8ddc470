package bench

import "syscall"

// childAttr makes a child process die with the bench (SIGKILL when the
// thread that started it exits), so an interrupted bench leaves no daemon
// or generator behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
