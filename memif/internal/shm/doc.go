// Package shm wraps the Linux system calls memif needs: memfd regions,
// shared mappings, eventfds and SCM_RIGHTS descriptor passing. It is the
// only package of memif that imports golang.org/x/sys/unix.
package shm
