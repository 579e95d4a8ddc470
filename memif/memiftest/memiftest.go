package memiftest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/internal/shm"
)

// Options adjusts Pair. Role and ID fields are set by Pair; everything
// else is passed through.
type Options struct {
	Socket memif.SocketConfig // Path defaults to a file in t.TempDir()
	Master memif.InterfaceConfig
	Slave  memif.InterfaceConfig
}

// SocketPath returns a fresh socket path in a temporary directory.
func SocketPath(t testing.TB) string {
	t.Helper()
	// t.TempDir can exceed the 107-byte sun_path limit; /tmp is short.
	dir, err := os.MkdirTemp("", "memif")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "s")
}

// Pair returns a connected master and slave (interface id from
// opts.Master.ID) on one socket, and closes both when the test ends.
// A nil opts uses the defaults.
func Pair(t testing.TB, opts *Options) (master, slave *memif.Interface) {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Socket.Path == "" {
		o.Socket.Path = SocketPath(t)
	}
	sock, err := memif.NewSocket(o.Socket)
	if err != nil {
		t.Fatalf("memiftest: socket: %v", err)
	}
	t.Cleanup(func() { sock.Close() })
	o.Master.Role, o.Slave.Role = memif.RoleMaster, memif.RoleSlave
	o.Slave.ID = o.Master.ID
	master, err = sock.NewInterface(o.Master)
	if err != nil {
		t.Fatalf("memiftest: master: %v", err)
	}
	slave, err = sock.NewInterface(o.Slave)
	if err != nil {
		t.Fatalf("memiftest: slave: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := master.WaitConnected(ctx); err != nil {
		t.Fatalf("memiftest: master did not connect: %v (last error %v)", err, master.LastError())
	}
	if err := slave.WaitConnected(ctx); err != nil {
		t.Fatalf("memiftest: slave did not connect: %v (last error %v)", err, slave.LastError())
	}
	return master, slave
}

// OpenFDs counts the process's open file descriptors.
func OpenFDs(t testing.TB) int {
	t.Helper()
	n, err := shm.OpenFDs()
	if err != nil {
		t.Skipf("memiftest: cannot count descriptors: %v", err)
	}
	return n
}

// fdTargets lists what each open descriptor refers to, for leak reports.
func fdTargets() []string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range ents {
		target, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		out = append(out, e.Name()+"="+target)
	}
	return out
}

// CheckFDLeaks records the open descriptor count now and, when the test
// ends (after cleanups registered later have run), fails if more are open.
// Descriptors closed asynchronously get up to two seconds.
func CheckFDLeaks(t testing.TB) {
	t.Helper()
	before := OpenFDs(t)
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for {
			after := OpenFDs(t)
			if after <= before {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("memiftest: %d file descriptors leaked (%d open before, %d after); open now: %v", after-before, before, after, fdTargets())
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// MemfdMappings counts this process's mappings of memfd files (memif
// regions, its own and its peers').
func MemfdMappings(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skipf("memiftest: cannot read /proc/self/maps: %v", err)
	}
	return strings.Count(string(b), "/memfd:")
}

// CheckMappingLeaks records the number of memfd mappings now and, when the
// test ends (after cleanups registered later have run), fails if more are
// mapped. Mappings released asynchronously get up to two seconds.
func CheckMappingLeaks(t testing.TB) {
	t.Helper()
	before := MemfdMappings(t)
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for {
			after := MemfdMappings(t)
			if after <= before {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("memiftest: %d memfd mappings leaked (%d before, %d after)", after-before, before, after)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// CPUTime returns the process's CPU time so far (user plus system, all
// threads). Benchmarks report the difference per packet next to wall
// time: on a machine shared with other work it varies far less.
func CPUTime(tb testing.TB) time.Duration {
	tb.Helper()
	d, err := shm.CPUTime()
	if err != nil {
		tb.Skipf("memiftest: no process CPU clock: %v", err)
	}
	return d
}
