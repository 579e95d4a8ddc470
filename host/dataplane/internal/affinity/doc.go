// Package affinity pins the calling OS thread to a set of CPUs. It is the
// only package of host/dataplane that makes system calls. On systems other
// than Linux every function returns ErrNotSupported.
package affinity
