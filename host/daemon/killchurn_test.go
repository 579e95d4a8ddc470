package daemon

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/host/daemon/config"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/gen"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

// killChurnCycles is how many peers per role TestKillChurn kills (about
// 10 s under the race detector for both roles).
const killChurnCycles = 200

// buildMemifWasm builds the memif-wasm binary (without the race detector:
// it is only the peer) into a temporary directory.
func buildMemifWasm(t *testing.T) string {
	t.Helper()
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		if gobin, err = exec.LookPath("go"); err != nil {
			t.Skipf("no go command to build the memif-wasm binary with: %v", err)
		}
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "memif-wasm")
	cmd := exec.Command(gobin, "build", "-o", bin, "./cmd/memif-wasm")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/memif-wasm: %v\n%s", err, out)
	}
	return bin
}

// memory is what TestKillChurn watches: the resident set (VmRSS) and the
// Go heap in use, both after a GC that returns freed memory to the system.
type memory struct{ rssKiB, heapKiB int }

func measureMemory(t *testing.T) memory {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("cannot read /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return memory{rssKiB: n, heapKiB: int(ms.HeapAlloc >> 10)}
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return memory{}
}

// churnRole is one side the killed peers play.
type churnRole struct {
	name  string // subtest
	iface string // the daemon's interface they connect to
	path  string
	role  string // gen's --role
}

// killCycle starts `memif-wasm gen` as r's peer of the daemon, waits until
// the link is up and frames come through the daemon's interface, kills the
// process with SIGKILL and waits until the daemon has seen the link go.
func killCycle(t *testing.T, d *Daemon, bin string, r churnRole) {
	t.Helper()
	ifc := iface(t, d, r.iface)
	rx := ifc.Stats().RxPackets
	var out bytes.Buffer
	cmd := exec.Command(bin, "gen", "--socket", r.path, "--role", r.role, "--id", "0", "--rate", "20000", "--quiet")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed { // a failed wait below: do not leave the peer running
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !ifc.Connected() || ifc.Stats().RxPackets-rx < 64 {
		if time.Now().After(deadline) {
			t.Fatalf("gen (pid %d) as %s: no link or no frames after 10 s (connected %v, %d frames); its output:\n%s",
				cmd.Process.Pid, r.role, ifc.Connected(), ifc.Stats().RxPackets-rx, out.String())
		}
		time.Sleep(time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed = true
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("gen (pid %d) ended with %v, not by SIGKILL; its output:\n%s", cmd.Process.Pid, cmd.ProcessState, out.String())
	}
	memiftest.WaitFor(t, 10*time.Second, fmt.Sprintf("the daemon to see the link to killed gen (pid %d) go", cmd.Process.Pid), func() bool {
		return !ifc.Connected()
	})
}

// TestKillChurn: peers in both roles are killed with SIGKILL again and
// again while frames flow (`memif-wasm gen` processes: as slave of the
// daemon's master interface, as master its slave interface connects to).
// The daemon's open descriptors, memfd mappings and goroutines come back to
// where they were, its resident memory stays flat, and both interfaces then
// carry a fresh peer's traffic without loss.
func TestKillChurn(t *testing.T) {
	cycles := killChurnCycles
	bin := buildMemifWasm(t)
	plugin := macswapPlugin(t)
	mPath, sPath := memiftest.SocketPath(t), memiftest.SocketPath(t)
	cfg := &config.Config{
		Engine: config.Engine{CacheDir: hosttest.CacheDir(t)},
		Tenants: []config.Tenant{{Name: "t", Interfaces: []config.Interface{
			macswapInterface("m", mPath, "master", plugin),
			macswapInterface("s", sPath, "slave", plugin),
		}}},
	}
	d := startDaemon(t, cfg, Options{ReconnectInterval: 20 * time.Millisecond})
	roles := []churnRole{
		{"SlavePeers", "m", mPath, "slave"},
		{"MasterPeers", "s", sPath, "master"},
	}
	// Warm up (first connections size pools and caches), then measure.
	for _, r := range roles {
		for range 3 {
			killCycle(t, d, bin, r)
		}
	}
	base := countResources(t)
	for range 5 {
		// The slave interface dials every 20 ms while no master listens:
		// its socket may be open at any one count.
		now := countResources(t)
		base.fds, base.maps = min(base.fds, now.fds), min(base.maps, now.maps)
		time.Sleep(time.Millisecond)
	}
	goroutines := runtime.NumGoroutine()
	mem := measureMemory(t)

	start := time.Now()
	for _, r := range roles {
		t.Run(r.name, func(t *testing.T) {
			begin := time.Now()
			for i := range cycles {
				killCycle(t, d, bin, r)
				if (i+1)%(cycles/4) == 0 {
					m := measureMemory(t)
					t.Logf("after %d cycles: VmRSS %d KiB, Go heap %d KiB", i+1, m.rssKiB, m.heapKiB)
				}
			}
			t.Logf("%d peers killed in %v", cycles, time.Since(begin))
		})
	}
	elapsed := time.Since(start)

	settle(t, base)
	memiftest.WaitFor(t, 10*time.Second, fmt.Sprintf("goroutines back to %d", goroutines), func() bool { return runtime.NumGoroutine() <= goroutines })
	end, memEnd := countResources(t), measureMemory(t)
	t.Logf("%d kill -9 cycles per role in %v: descriptors %d -> %d, memfd mappings %d -> %d, goroutines %d -> %d, VmRSS %d -> %d KiB (%+d), Go heap %d -> %d KiB (%+d)",
		cycles, elapsed, base.fds, end.fds, base.maps, end.maps, goroutines, runtime.NumGoroutine(),
		mem.rssKiB, memEnd.rssKiB, memEnd.rssKiB-mem.rssKiB, mem.heapKiB, memEnd.heapKiB, memEnd.heapKiB-mem.heapKiB)
	// One cycle maps about 5 MiB of shared memory into the daemon (its
	// slave's rings and 2048-byte buffers for 256 slots each way, 1 MiB;
	// gen's 1024-slot rings and buffers, 4 MiB) and runs a dozen
	// goroutines: whatever one cycle kept would grow the Go heap by
	// kilobytes and the resident set by up to megabytes per cycle. Measured
	// over 200 cycles per role: the Go heap +30..60 KiB, the resident set
	// +0.3 MiB without the race detector and +5..7 MiB with it (most of it
	// over the first cycles after the warm-up, then ~6 KiB per cycle, none
	// of it Go heap: the detector's own metadata). The bounds leave room for
	// that and for the allocator, and stay far below one cycle per cycle.
	heapBound, rssBound := 1<<10, 4<<10
	if raceEnabled {
		rssBound = 16 << 10
	}
	if grow := memEnd.heapKiB - mem.heapKiB; grow > heapBound {
		t.Errorf("Go heap grew by %d KiB over %d cycles per role, more than %d KiB", grow, cycles, heapBound)
	}
	if grow := memEnd.rssKiB - mem.rssKiB; grow > rssBound {
		t.Errorf("resident memory grew by %d KiB over %d cycles per role, more than %d KiB", grow, cycles, rssBound)
	}

	// Both interfaces serve a fresh peer.
	for _, r := range roles {
		role := memif.RoleSlave
		if r.role == "master" {
			role = memif.RoleMaster
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		rep, err := gen.Run(ctx, gen.Config{Socket: r.path, Role: role, Count: 2000, Log2RingSize: 8})
		cancel()
		if err != nil || rep.Unique != 2000 || rep.Lost != 0 || rep.Duplicates != 0 || rep.Foreign != 0 {
			t.Errorf("fresh %s peer of interface %s: %v; sent %d, unique %d, lost %d, duplicates %d, foreign %d",
				r.role, r.iface, err, rep.Sent, rep.Unique, rep.Lost, rep.Duplicates, rep.Foreign)
		}
	}
}
