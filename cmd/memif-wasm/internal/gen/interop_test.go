//go:build linux

package gen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
)

// The interop tests run gen against DPDK's testpmd (memif PMD) forwarding in macswap
// mode on one port, so every frame comes back on the interface it was sent on. They
// run only with MEMIF_INTEROP=1 (make interop), and then fail rather than skip when
// testpmd is missing.
//
// memif/internal/testpmd cannot be imported from here (Go's internal rule), so this
// starts testpmd itself, interactive and forwarding from the start (-i --auto-start),
// with the command line that package found to work without hugepages. Forwarding is
// stopped before gen disconnects (Config.BeforeDisconnect): testpmd 22.11 can crash
// when its peer goes away while it forwards.

// The rate leaves headroom on a 2-CPU machine where testpmd's forwarding lcore spins
// on one CPU: a 1024-slot ring then covers 50 ms of gen's receiver not being scheduled.
// Rings of 4096 slots cover 200 ms of that; what testpmd still could not hand to
// gen it counts as TX-dropped, and gen must report exactly that as lost.
const (
	interopCount    = 10000
	interopRate     = 20000
	interopLog2Ring = 12
)

var statsRE = regexp.MustCompile(`RX-packets:\s*(\d+)\s+RX-dropped:\s*(\d+)\s+RX-total:\s*\d+\s+TX-packets:\s*(\d+)\s+TX-dropped:\s*(\d+)`)

// checkAgainstTestpmd compares gen's report with testpmd's forwarding statistics (the
// answer to "stop"): every frame gen sent reached testpmd, what testpmd sent back is
// what gen counted, and gen's loss is exactly testpmd's drops.
func checkAgainstTestpmd(t *testing.T, rep Report, stats string) {
	t.Helper()
	m := statsRE.FindStringSubmatch(stats)
	if m == nil {
		t.Fatalf("no forwarding statistics in testpmd's answer:\n%s", stats)
	}
	n := func(i int) uint64 { v, _ := strconv.ParseUint(m[i], 10, 64); return v }
	rx, rxDrop, tx, txDrop := n(1), n(2), n(3), n(4)
	if rep.Sent != interopCount || rx+rxDrop != rep.Sent || rep.Unique != tx || rep.Lost != rxDrop+txDrop+(rep.Sent-rx-rxDrop) ||
		rep.Duplicates != 0 || rep.Foreign != 0 || rep.Late != 0 {
		t.Fatalf("gen: sent %d unique %d lost %d dups %d foreign %d; testpmd: rx %d (+%d dropped), tx %d (+%d dropped)\n%s",
			rep.Sent, rep.Unique, rep.Lost, rep.Duplicates, rep.Foreign, rx, rxDrop, tx, txDrop, stats)
	}
	if rep.Lost > rep.Sent/20 {
		t.Fatalf("testpmd dropped %d of %d: more than 5%%, the machine is too busy for this test\n%s", rep.Lost, rep.Sent, stats)
	}
	if rep.Lost > 0 {
		t.Logf("testpmd dropped %d frames (its tx ring to gen was full); gen reported exactly those", rep.Lost)
	}
}

func requireTestpmd(t *testing.T) string {
	t.Helper()
	if os.Getenv("MEMIF_INTEROP") == "" {
		t.Skip("set MEMIF_INTEROP=1 to run against DPDK testpmd (make interop)")
	}
	bin := os.Getenv("TESTPMD")
	if bin == "" {
		bin = "dpdk-testpmd"
	}
	p, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("MEMIF_INTEROP is set but %s is not installed (make deps-interop): %v", bin, err)
	}
	return p
}

// testpmd is a running dpdk-testpmd with one memif port.
type testpmd struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	mu    sync.Mutex
	out   bytes.Buffer
	done  chan error
}

func (p *testpmd) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *testpmd) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func startTestpmd(t *testing.T, bin, socket, role string, queues int) *testpmd {
	t.Helper()
	cpus := "0"
	if runtime.NumCPU() > 1 {
		cpus = fmt.Sprintf("(0-%d)", runtime.NumCPU()-1)
	}
	prefix := fmt.Sprintf("mwgen%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	args := []string{
		"--lcores", "(0-1)@" + cpus, "--no-huge", "--no-pci", "--no-shconf", "--no-telemetry",
		"-m", "64", "--file-prefix", prefix, "--log-level", "pmd.net.memif:info",
		"--vdev", fmt.Sprintf("net_memif0,role=%s,id=0,socket=%s,socket-abstract=no,bsize=2048,rsize=%d", role, socket, interopLog2Ring),
		"--", "-i", "--auto-start", "--no-mlockall", "--total-num-mbufs=8192", "--forward-mode=macswap",
		"--port-topology=loop", fmt.Sprintf("--rxq=%d", queues), fmt.Sprintf("--txq=%d", queues), "--nb-cores=1",
	}
	p := &testpmd{done: make(chan error, 1)}
	if stdbuf, err := exec.LookPath("stdbuf"); err == nil {
		// Line-buffered output, so that the tail shown on failure is up to date.
		p.cmd = exec.Command(stdbuf, append([]string{"-oL", "-eL", bin}, args...)...)
	} else {
		p.cmd = exec.Command(bin, args...)
	}
	p.cmd.Stdout, p.cmd.Stderr = p, p
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start testpmd: %v", err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.stdin.Write([]byte("quit\n"))
		p.stdin.Close()
		select {
		case err := <-p.done:
			if err != nil {
				t.Errorf("testpmd exited with %v; output tail:\n%s", err, tail(p.output(), 2000))
			}
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
			t.Errorf("testpmd did not exit; killed. Output tail:\n%s", tail(p.output(), 2000))
		}
		os.RemoveAll(filepath.Join("/var/run/dpdk", prefix))
		if role == "server" {
			os.Remove(socket)
		}
	})
	return p
}

// waitFile waits until path exists, failing if testpmd exits first.
func (p *testpmd) waitFile(t *testing.T, path string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("testpmd exited (%v) before creating %s:\n%s", err, path, tail(p.output(), 3000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("testpmd did not create %s within %v:\n%s", path, timeout, tail(p.output(), 3000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// socketDir is a temporary directory whose path devargs can carry: t.TempDir names
// contain the subtest's name, and "queues=1" would end the socket= value.
func socketDir(t *testing.T) string {
	d, err := os.MkdirTemp("", "mwgen")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// stop stops forwarding and waits until testpmd says it is done, returning what it
// printed (the forwarding statistics).
func (p *testpmd) stop(t *testing.T) string {
	before := len(p.output())
	if _, err := p.stdin.Write([]byte("stop\n")); err != nil {
		t.Errorf("testpmd stdin: %v", err)
		return ""
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if out := p.output()[before:]; strings.Contains(out, "Done.") {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("testpmd did not stop forwarding:\n%s", tail(p.output(), 2000))
	return ""
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// gen (slave) against testpmd (server), one and two queue pairs.
func TestInteropGenSlaveTestpmdServer(t *testing.T) {
	bin := requireTestpmd(t)
	for _, queues := range []int{1, 2} {
		t.Run(fmt.Sprintf("queues=%d", queues), func(t *testing.T) {
			sock := filepath.Join(socketDir(t), "memif.sock")
			p := startTestpmd(t, bin, sock, "server", queues)
			p.waitFile(t, sock, 60*time.Second)
			var stats string
			rep := interopRun(t, Config{Socket: sock, Queues: queues, Count: interopCount, Rate: interopRate, Size: 128,
				Log2RingSize: interopLog2Ring, BeforeDisconnect: func() { stats = p.stop(t) }})
			checkAgainstTestpmd(t, rep, stats)
		})
	}
}

// gen (master) against testpmd (client): gen listens first, since the DPDK client does
// not reconnect by itself, and settles a second after link up, since the client drops
// what arrives before it has processed CONNECTED (without Settle ~8% was lost here).
func TestInteropGenMasterTestpmdClient(t *testing.T) {
	bin := requireTestpmd(t)
	sock := filepath.Join(socketDir(t), "memif.sock")
	type result struct {
		rep Report
		err error
	}
	res := make(chan result, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var p *testpmd
	started := make(chan struct{})
	var stats string
	go func() {
		rep, err := Run(ctx, Config{Socket: sock, Role: memif.RoleMaster, Count: interopCount, Rate: interopRate,
			Size: 256, Proto: ProtoICMP, LinkTimeout: 60 * time.Second, Settle: time.Second,
			BeforeDisconnect: func() { <-started; stats = p.stop(t) }})
		res <- result{rep, err}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("gen did not create its socket")
		}
		time.Sleep(10 * time.Millisecond)
	}
	p = startTestpmd(t, bin, sock, "client", 1)
	close(started)
	r := <-res
	if r.err != nil {
		t.Fatalf("gen: %v\ntestpmd:\n%s", r.err, tail(p.output(), 2000))
	}
	checkAgainstTestpmd(t, r.rep, stats)
}

func interopRun(t *testing.T, cfg Config) Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cfg.LinkTimeout = 30 * time.Second
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("gen: %v", err)
	}
	return rep
}
