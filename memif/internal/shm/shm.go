//go:build linux

package shm

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// MaxRecvFDs is how many descriptors RecvOOBSize leaves room for. One
// message may carry at most one; room for more lets the receiver see (and
// close) extra ones instead of having the kernel silently truncate them.
const MaxRecvFDs = 4

// RecvOOBSize is the control-buffer size for receiving one memif message.
var RecvOOBSize = unix.CmsgSpace(4*MaxRecvFDs) + unix.CmsgSpace(unix.SizeofUcred)

// Memfd creates an anonymous shared-memory file of size bytes, sealed
// against shrinking so a peer that maps it can never fault past its end.
func Memfd(name string, size int) (int, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_ALLOW_SEALING|unix.MFD_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("memfd_create: %w", err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("ftruncate memfd to %d: %w", size, err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("seal memfd: %w", err)
	}
	return fd, nil
}

// UnsealableMemfd creates a memfd of size bytes without MFD_ALLOW_SEALING,
// as a peer that does not care may: nobody can seal it, so its creator
// can shrink it under every mapping. For tests of such peers.
func UnsealableMemfd(name string, size int) (int, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("memfd_create: %w", err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("ftruncate memfd to %d: %w", size, err)
	}
	return fd, nil
}

// Truncate sets the size of the file behind fd.
func Truncate(fd int, size int64) error { return unix.Ftruncate(fd, size) }

// Map maps size bytes of fd shared, readable and writable.
func Map(fd int, size int) ([]byte, error) {
	b, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %d bytes: %w", size, err)
	}
	return b, nil
}

// Unmap releases a mapping made by Map. A nil or empty slice is a no-op.
func Unmap(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	return unix.Munmap(b)
}

// Placeholder replaces the mapping under b, in place, with private
// anonymous zero pages of the same size that reserve no memory. Views into
// b stay valid addresses (reads see zeros, writes stay private), while the
// shared file behind the old mapping is released. Unmap(b) later removes
// the placeholder.
func Placeholder(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, err := unix.MmapPtr(-1, 0, unsafe.Pointer(unsafe.SliceData(b)), uintptr(len(b)),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_FIXED|unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return fmt.Errorf("mmap placeholder of %d bytes: %w", len(b), err)
	}
	return nil
}

// Close closes fd, ignoring negative values.
func Close(fd int) error {
	if fd < 0 {
		return nil
	}
	return unix.Close(fd)
}

// FileSize returns the current size of the file behind fd.
func FileSize(fd int) (int64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, err
	}
	return st.Size, nil
}

// SealShrink forbids shrinking the file behind fd from now on, for every
// holder. It works on any memfd created with MFD_ALLOW_SEALING (libmemif,
// DPDK and VPP all create theirs so) and fails for other files, such as
// hugetlbfs segments.
func SealShrink(fd int) error {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK)
	return err
}

// ShrinkSealed reports whether fd is a memfd sealed against shrinking.
// An unsealed region could be truncated by its owner while mapped, which
// would turn the next access into SIGBUS.
func ShrinkSealed(fd int) bool {
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	return err == nil && seals&unix.F_SEAL_SHRINK != 0
}

// IsEventfd reports whether fd refers to an eventfd. A peer could pass a
// pipe or socket instead, which would not behave like a counter.
func IsEventfd(fd int) bool {
	target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	return err == nil && target == "anon_inode:[eventfd]"
}

// Eventfd creates a non-blocking, close-on-exec eventfd.
func Eventfd() (int, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("eventfd: %w", err)
	}
	return fd, nil
}

// Timerfd creates a non-blocking, close-on-exec CLOCK_MONOTONIC timerfd:
// a one-shot timer with sub-microsecond resolution that Go's poller can
// wait on. Go's own timers cannot serve a short deferral: a process with
// nothing else to do waits for them in epoll with a millisecond timeout.
func Timerfd() (int, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("timerfd: %w", err)
	}
	return fd, nil
}

// ArmTimer makes the timerfd expire once, d from now (d > 0).
func ArmTimer(fd int, d time.Duration) error {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(d.Nanoseconds())}
	return unix.TimerfdSettime(fd, 0, &spec, nil)
}

// SetNonblock puts fd in non-blocking mode so that neither a signal nor a
// wait can ever park a thread on a peer-provided descriptor.
func SetNonblock(fd int) error { return unix.SetNonblock(fd, true) }

var one = [8]byte{1}

// Signal adds 1 to the eventfd counter. A full counter (EAGAIN) means the
// peer has plenty of wake-ups pending, so it is not an error.
func Signal(fd int) error {
	for {
		_, err := unix.Write(fd, one[:])
		switch err {
		case nil, unix.EAGAIN:
			return nil
		case unix.EINTR:
			continue
		default:
			return err
		}
	}
}

// Drain resets the eventfd counter without blocking and returns its value.
func Drain(fd int) (uint64, error) {
	var b [8]byte
	for {
		n, err := unix.Read(fd, b[:])
		switch err {
		case nil:
			if n != 8 {
				return 0, nil
			}
			return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
				uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56, nil
		case unix.EAGAIN:
			return 0, nil
		case unix.EINTR:
			continue
		default:
			return 0, err
		}
	}
}

// Rights encodes fd as an SCM_RIGHTS control message.
func Rights(fd int) []byte { return unix.UnixRights(fd) }

// SendEmpty sends a message of no bytes carrying the ancillary data oob
// on the socket sockfd. Go's own send paths add a dummy byte to such a
// message on a stream or seqpacket socket; a hostile peer need not. For
// tests that play such a peer.
func SendEmpty(sockfd int, oob []byte) error {
	var msg unix.Msghdr
	if len(oob) > 0 {
		msg.Control = &oob[0]
		msg.SetControllen(len(oob))
	}
	_, _, errno := unix.Syscall(unix.SYS_SENDMSG, uintptr(sockfd), uintptr(unsafe.Pointer(&msg)), 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// ErrBadControl reports an ancillary message that could not be parsed.
var ErrBadControl = errors.New("malformed ancillary data")

// ParseRights returns every descriptor carried by SCM_RIGHTS messages in
// oob, ignoring credentials. The caller owns (and must close) all of them,
// even when an error is returned alongside.
func ParseRights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, ErrBadControl
	}
	var fds []int
	for i := range msgs {
		if msgs[i].Header.Level != unix.SOL_SOCKET || msgs[i].Header.Type != unix.SCM_RIGHTS {
			continue
		}
		got, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			return fds, ErrBadControl
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

// MsgTrunc and MsgCtrunc are the recvmsg flags for a truncated payload or
// control buffer.
const (
	MsgTrunc  = syscall.MSG_TRUNC
	MsgCtrunc = syscall.MSG_CTRUNC
)

// SeqpacketPair returns a connected pair of AF_UNIX SOCK_SEQPACKET
// sockets (for tests that play both ends of a control channel).
func SeqpacketPair() (int, int, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, -1, err
	}
	return fds[0], fds[1], nil
}

// CPUTime is the user plus system CPU time of every thread of the process
// so far (for benchmarks that report a cost independent of how busy other
// processes keep the machine).
func CPUTime() (time.Duration, error) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// OpenFDs counts this process's open descriptors (for leak tests).
func OpenFDs() (int, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, err
	}
	return len(ents), nil
}
