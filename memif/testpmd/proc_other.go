//go:build !linux

package testpmd

import "syscall"

// sysProcAttr: testpmd runs on Linux only; elsewhere Start fails to find it.
func sysProcAttr() *syscall.SysProcAttr { return nil }

func processGone(pid int) bool { return false }
