package daemon

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/host/daemon/config"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

// The hostile-peer suites (hostile_test.go) run a real daemon with a
// macswap pipeline on an attacked interface and on a neighbouring one, and
// attack the attacked interface's socket with memiftest's raw peers. After
// every scenario the neighbour must have lost nothing, the process's
// descriptors and memfd mappings must be back where they were, and the
// attacked interface must serve a well-behaved peer.

// macswapPlugin returns plugins/build/macswap.wasm (hosttest.Built).
func macswapPlugin(t testing.TB) string { return hosttest.Built(t, "macswap.wasm") }

// macswapInterface is a master or slave interface running macswap: every
// frame goes back out the interface it came in by, MAC addresses swapped.
func macswapInterface(name, socket, role string, plugin string) config.Interface {
	return config.Interface{Name: name, Socket: socket, Role: role, RingSize: 256, Plugins: []config.Plugin{{File: plugin}}}
}

// iface returns the running memif interface of the daemon's interface name
// in tenant "t".
func iface(t testing.TB, d *Daemon, name string) *memif.Interface {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	p, err := d.find("t", name)
	if err != nil || p.iface == nil {
		t.Fatalf("interface %s: %v", name, err)
	}
	return p.iface
}

// socketStats returns the counters of the daemon's memif socket on path.
func socketStats(t testing.TB, d *Daemon, path string) memif.SocketStats {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.sockets[path]
	if r == nil {
		t.Fatalf("no daemon socket on %s", path)
	}
	return r.s.Stats()
}

// resources is what a scenario must give back: open descriptors and
// memfd mappings of this process (the daemon and the test's peers).
type resources struct{ fds, maps int }

func countResources(t testing.TB) resources {
	return resources{memiftest.OpenFDs(t), memiftest.MemfdMappings(t)}
}

// settle waits (up to 10 s) until no more descriptors are open and no more
// memfds mapped than in base, and fails the test naming what is left.
func settle(t testing.TB, base resources) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		now := countResources(t)
		if now.fds <= base.fds && now.maps <= base.maps {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("resources not released: %d descriptors open (%d before), %d memfd mappings (%d before); descriptors now: %s",
				now.fds, base.fds, now.maps, base.maps, fdTargets())
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// fdTargets lists what each open descriptor refers to, for leak reports.
func fdTargets() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range ents {
		target, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		out = append(out, e.Name()+"="+target)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// neighbour drives sequence-numbered traffic through the daemon's
// neighbouring interface for the whole suite, from a memif slave in this
// process: a few frames every millisecond, at most window in flight.
// Every scenario checks the frames sent while it ran (check).
type neighbour struct {
	t      testing.TB
	d      *Daemon
	name   string // the daemon's interface
	p      *peer
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	seen     []uint8 // arrivals per sequence number
	sent     uint64
	received uint64 // first arrivals
	foreign  uint64
	err      error // the first transmit or receive error
}

const (
	neighbourPerTick = 4
	neighbourWindow  = 128
	// neighbourMin frames must have been sent during a scenario for its
	// check to count: traffic really flowed while the attack ran.
	neighbourMin = 40
)

// startNeighbour connects a slave to the daemon's master interface name on
// path (id 0) and starts the traffic; it stops when the test ends.
func startNeighbour(t testing.TB, d *Daemon, name, path string) *neighbour {
	t.Helper()
	n := &neighbour{t: t, d: d, name: name, p: newPeer(t, path, 0, false)}
	txq, err := n.p.ifc.TxQueue(0)
	if err != nil {
		t.Fatal(err)
	}
	rxq, err := n.p.ifc.RxQueue(0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.wg.Add(2)
	go n.send(ctx, txq)
	go n.receive(ctx, rxq)
	t.Cleanup(n.stop)
	return n
}

func (n *neighbour) stop() {
	n.cancel()
	n.wg.Wait()
}

func (n *neighbour) fail(err error) {
	n.mu.Lock()
	if n.err == nil {
		n.err = err
	}
	n.mu.Unlock()
}

func (n *neighbour) send(ctx context.Context, txq *memif.TxQueue) {
	defer n.wg.Done()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	pkts := make([][]byte, 0, neighbourPerTick)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n.mu.Lock()
		room := int(neighbourWindow - (n.sent - n.received))
		next := n.sent
		n.mu.Unlock()
		pkts = pkts[:0]
		for i := 0; i < min(room, neighbourPerTick); i++ {
			pkts = append(pkts, frame(next+uint64(i)))
		}
		if len(pkts) == 0 {
			continue
		}
		// Counted as sent before the frames can come back.
		n.mu.Lock()
		for len(n.seen) < int(next)+len(pkts) {
			n.seen = append(n.seen, 0)
		}
		n.mu.Unlock()
		k, err := txq.WritePackets(pkts)
		n.mu.Lock()
		n.sent += uint64(k)
		n.mu.Unlock()
		if err != nil && !errors.Is(err, memif.ErrRingFull) {
			n.fail(fmt.Errorf("neighbour transmit after %d frames: %w", next+uint64(k), err))
			return
		}
	}
}

func (n *neighbour) receive(ctx context.Context, rxq *memif.RxQueue) {
	defer n.wg.Done()
	bufs := make([]memif.Buffer, 256)
	seqs := make([]uint64, 0, len(bufs))
	for ctx.Err() == nil {
		k, err := rxq.RxBurst(bufs)
		if err != nil {
			n.fail(fmt.Errorf("neighbour receive: %w", err))
			return
		}
		if k == 0 {
			wctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			rxq.Wait(wctx)
			cancel()
			continue
		}
		seqs = seqs[:0]
		for _, b := range bufs[:k] {
			seq := ^uint64(0)
			// macswap swapped the addresses frame() sets.
			if len(b.Data) == 64 && binary.BigEndian.Uint16(b.Data[12:]) == 0x88b5 && b.Data[5] == 2 && b.Data[11] == 1 {
				seq = binary.LittleEndian.Uint64(b.Data[14:])
			}
			seqs = append(seqs, seq)
		}
		rxq.Release(k)
		n.mu.Lock()
		for _, seq := range seqs {
			// seen grows before a frame is sent (sent is counted after).
			if seq < uint64(len(n.seen)) {
				if n.seen[seq] == 0 {
					n.received++
				}
				if n.seen[seq] < 255 {
					n.seen[seq]++
				}
			} else {
				n.foreign++
			}
		}
		n.mu.Unlock()
	}
}

// mark returns the next sequence number: a scenario's first frame.
func (n *neighbour) mark() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sent
}

// check requires every frame sent since from (at least neighbourMin of
// them) to have come back exactly once, with no transmit or receive error
// and the neighbour's link never down.
func (n *neighbour) check(t testing.TB, from uint64) {
	t.Helper()
	memiftest.WaitFor(t, 10*time.Second, "the neighbour to send its frames", func() bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.sent-from >= neighbourMin || n.err != nil
	})
	n.mu.Lock()
	to := n.sent
	n.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	var lost, dup int
	for {
		lost, dup = 0, 0
		n.mu.Lock()
		for _, c := range n.seen[from:to] {
			switch {
			case c == 0:
				lost++
			case c > 1:
				dup += int(c) - 1
			}
		}
		err, foreign := n.err, n.foreign
		n.mu.Unlock()
		if err != nil {
			t.Fatalf("neighbour: %v", err)
		}
		if foreign != 0 {
			t.Fatalf("neighbour received %d frames it did not send", foreign)
		}
		if lost == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if lost != 0 || dup != 0 {
		t.Errorf("neighbour: %d of %d frames lost, %d duplicated", lost, to-from, dup)
	}
	st := iface(t, n.d, n.name).Stats()
	if st.Connects != 1 || st.Disconnects != 0 {
		t.Errorf("neighbour link went down: %d connects, %d disconnects", st.Connects, st.Disconnects)
	}
}

// fdKinds returns n descriptors of mixed kinds (memfd, eventfd, both ends
// of a pipe, a regular file, a socket, /dev/zero), closed when the test
// ends.
func fdKinds(t testing.TB, n int) []int {
	t.Helper()
	var fds []int
	for len(fds) < n {
		switch len(fds) % 6 {
		case 0:
			fds = append(fds, memiftest.NewMem(t, 4096).FD)
		case 1:
			fds = append(fds, memiftest.NewEventfd(t))
		case 2:
			r, w := pipe(t)
			fds = append(fds, r, w)
		case 3:
			fds = append(fds, regularFile(t, 4096))
		case 4:
			fds = append(fds, socketFD(t))
		case 5:
			fds = append(fds, devZero(t))
		}
	}
	return fds[:n]
}

func keep(t testing.TB, f *os.File) int {
	t.Cleanup(func() { f.Close() })
	return int(f.Fd())
}

func pipe(t testing.TB) (r, w int) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	return keep(t, pr), keep(t, pw)
}

func regularFile(t testing.TB, size int64) int {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "region")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return keep(t, f)
}

func socketFD(t testing.TB) int {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	keep(t, os.NewFile(uintptr(fds[1]), "socketpair"))
	return keep(t, os.NewFile(uintptr(fds[0]), "socketpair"))
}

func devZero(t testing.TB) int {
	t.Helper()
	f, err := os.Open("/dev/zero")
	if err != nil {
		t.Fatal(err)
	}
	return keep(t, f)
}
