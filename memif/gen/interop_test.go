//go:build linux

package gen

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/testpmd"
)

// The interop tests run gen against DPDK's testpmd (memif PMD) forwarding in macswap
// mode on one port, so every frame comes back on the interface it was sent on. They
// run only with MEMIF_INTEROP=1 (make interop), and then fail rather than skip when
// testpmd is missing. Forwarding is stopped before gen disconnects
// (Config.BeforeDisconnect): testpmd 22.11 can crash when its peer goes away while it
// forwards, and it resets its counters when the peer disconnects.

// The rate leaves headroom on a 2-CPU machine where testpmd's forwarding lcore spins
// on one CPU: a 1024-slot ring then covers 50 ms of gen's receiver not being scheduled.
// Rings of 4096 slots cover 200 ms of that; what testpmd still could not hand to
// gen it counts as TX-dropped, and gen must report exactly that as lost.
const (
	interopCount    = 10000
	interopRate     = 20000
	interopLog2Ring = 12
)

// interopTestpmd is the testpmd both tests start: one memif port on sock, macswap,
// queues queue pairs. The timeout is generous because a loaded 2-CPU machine has been
// seen to take well over 10 s to start testpmd.
func interopTestpmd(sock string, role testpmd.Role, queues int) *testpmd.Config {
	return &testpmd.Config{
		Ports: []testpmd.Port{{Role: role, Socket: sock, BufferSize: 2048,
			LogRingSize: interopLog2Ring}},
		ForwardMode: "macswap",
		RxQueues:    queues,
		TxQueues:    queues,
		Timeout:     time.Minute,
	}
}

// checkAgainstTestpmd compares gen's report with testpmd's forwarding counters of the
// run on its only port: every frame gen sent reached testpmd, what testpmd sent back
// is what gen counted, and gen's loss is exactly what testpmd dropped.
func checkAgainstTestpmd(t *testing.T, rep Report, fwd map[int]testpmd.ForwardStats) {
	t.Helper()
	s, ok := fwd[0]
	if !ok {
		t.Fatalf("testpmd reported no forwarding statistics for port 0: %+v", fwd)
	}
	if rep.Sent != interopCount || s.RxPackets+s.RxDropped != rep.Sent || rep.Unique != s.TxPackets ||
		rep.Lost != s.RxDropped+s.TxDropped+(rep.Sent-s.RxPackets-s.RxDropped) ||
		rep.Duplicates != 0 || rep.Foreign != 0 || rep.Late != 0 {
		t.Fatalf("gen: sent %d unique %d lost %d dups %d foreign %d late %d; testpmd: rx %d (+%d dropped), tx %d (+%d dropped)",
			rep.Sent, rep.Unique, rep.Lost, rep.Duplicates, rep.Foreign, rep.Late,
			s.RxPackets, s.RxDropped, s.TxPackets, s.TxDropped)
	}
	if rep.Lost > rep.Sent/20 {
		t.Fatalf("testpmd dropped %d of %d: more than 5%%, the machine is too busy for this test", rep.Lost, rep.Sent)
	}
	if rep.Lost > 0 {
		t.Logf("testpmd dropped %d frames (its tx ring to gen was full); gen reported exactly those", rep.Lost)
	}
}

// socketDir is a temporary directory whose path devargs can carry: t.TempDir names
// contain the subtest's name, and the '=' of "queues=1" cannot be in a socket= value.
func socketDir(t *testing.T) string {
	d, err := os.MkdirTemp("", "mwgen")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// gen (slave) against testpmd (server), one and two queue pairs.
func TestInteropGenSlaveTestpmdServer(t *testing.T) {
	testpmd.Require(t)
	for _, queues := range []int{1, 2} {
		t.Run(fmt.Sprintf("queues=%d", queues), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			sock := filepath.Join(socketDir(t), "memif.sock")
			p := testpmd.StartT(t, interopTestpmd(sock, testpmd.RoleServer, queues))
			if err := p.StartForwarding(ctx, false); err != nil {
				t.Fatal(err)
			}
			var fwd map[int]testpmd.ForwardStats
			var stopErr error
			rep, err := Run(ctx, Config{Socket: sock, Queues: queues, Count: interopCount, Rate: interopRate,
				Size: 128, Log2RingSize: interopLog2Ring, LinkTimeout: 30 * time.Second,
				BeforeDisconnect: func() { fwd, stopErr = p.StopForwarding(ctx) }})
			if err != nil {
				t.Fatalf("gen: %v", err)
			}
			if stopErr != nil {
				t.Fatal(stopErr)
			}
			checkAgainstTestpmd(t, rep, fwd)
		})
	}
}

// gen (master) against testpmd (client): gen listens first, since the DPDK client does
// not reconnect by itself, and settles a second after link up, since the client drops
// what arrives before it has processed CONNECTED (without Settle ~8% was lost here).
// The link comes up while testpmd starts, so gen also waits (Config.Started) until
// testpmd forwards before it sends its first frame.
func TestInteropGenMasterTestpmdClient(t *testing.T) {
	testpmd.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sock := filepath.Join(socketDir(t), "memif.sock")

	forwarding := make(chan *testpmd.Process, 1)
	type result struct {
		rep     Report
		err     error
		fwd     map[int]testpmd.ForwardStats
		stopErr error
	}
	res := make(chan result, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var r result
		var p *testpmd.Process // nil if testpmd never forwarded: ctx ends the run
		r.rep, r.err = Run(ctx, Config{Socket: sock, Role: memif.RoleMaster, Count: interopCount, Rate: interopRate,
			Size: 256, Proto: ProtoICMP, LinkTimeout: 60 * time.Second, Settle: time.Second,
			Started: func() {
				select {
				case p = <-forwarding:
				case <-ctx.Done():
				}
			},
			BeforeDisconnect: func() {
				if p != nil {
					r.fwd, r.stopErr = p.StopForwarding(ctx)
				}
			}})
		res <- r
	}()
	// Registered before StartT, so it runs after testpmd's Close: gen ends before the
	// test does even when the test fails early.
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("gen did not return within 10 s of cancellation")
		}
	})

	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("gen did not create its socket within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	p := testpmd.StartT(t, interopTestpmd(sock, testpmd.RoleClient, 1))
	if err := p.StartForwarding(ctx, false); err != nil {
		t.Fatal(err)
	}
	forwarding <- p
	r := <-res
	if r.err != nil {
		t.Fatalf("gen: %v", r.err)
	}
	if r.stopErr != nil {
		t.Fatal(r.stopErr)
	}
	checkAgainstTestpmd(t, r.rep, r.fwd)
}
