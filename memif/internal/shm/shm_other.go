//go:build !linux

package shm

import (
	"errors"
	"time"
)

// ErrNotSupported is returned by every function on systems without memfd
// and eventfd: memif needs Linux.
var ErrNotSupported = errors.New("memif shared memory needs Linux")

// ErrBadControl reports an ancillary message that could not be parsed.
var ErrBadControl = errors.New("malformed ancillary data")

const (
	MaxRecvFDs = 4
	MsgTrunc   = 0x20
	MsgCtrunc  = 0x8
)

var RecvOOBSize = 64

func Memfd(string, int) (int, error)           { return -1, ErrNotSupported }
func Map(int, int) ([]byte, error)             { return nil, ErrNotSupported }
func UnsealableMemfd(string, int) (int, error) { return -1, ErrNotSupported }
func Truncate(int, int64) error                { return ErrNotSupported }
func Unmap([]byte) error                       { return nil }
func Placeholder([]byte) error                 { return nil }
func Close(int) error                          { return nil }
func FileSize(int) (int64, error)              { return 0, ErrNotSupported }
func ShrinkSealed(int) bool                    { return false }
func SealShrink(int) error                     { return ErrNotSupported }
func IsEventfd(int) bool                       { return false }
func Eventfd() (int, error)                    { return -1, ErrNotSupported }
func Timerfd() (int, error)                    { return -1, ErrNotSupported }
func ArmTimer(int, time.Duration) error        { return ErrNotSupported }
func SetNonblock(int) error                    { return ErrNotSupported }
func Signal(int) error                         { return ErrNotSupported }
func Drain(int) (uint64, error)                { return 0, ErrNotSupported }
func Rights(int) []byte                        { return nil }
func ParseRights([]byte) ([]int, error)        { return nil, ErrNotSupported }
func SeqpacketPair() (int, int, error)         { return -1, -1, ErrNotSupported }
func OpenFDs() (int, error)                    { return 0, ErrNotSupported }
func CPUTime() (time.Duration, error)          { return 0, ErrNotSupported }
