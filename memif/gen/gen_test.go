package gen

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

func runGen(t *testing.T, cfg Config) Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

func wantCounts(t *testing.T, rep Report, sent, unique, lost, dups uint64) {
	t.Helper()
	if rep.Sent != sent || rep.Unique != unique || rep.Lost != lost || rep.Duplicates != dups || rep.Foreign != 0 || rep.Late != 0 {
		t.Fatalf("sent %d unique %d lost %d dups %d foreign %d late %d; want sent %d unique %d lost %d dups %d",
			rep.Sent, rep.Unique, rep.Lost, rep.Duplicates, rep.Foreign, rep.Late, sent, unique, lost, dups)
	}
}

// gen as slave against a reflecting master: every frame comes back once, in order.
func TestRunSlaveReflector(t *testing.T) {
	memiftest.CheckFDLeaks(t)
	path := memiftest.SocketPath(t)
	(&memiftest.Reflector{}).Start(t, path, memif.RoleMaster, 3, -1, 1)
	var started, before int
	rep := runGen(t, Config{Socket: path, ID: 3, Count: 5000, Size: 128, Flows: 7,
		Started: func() { started++ }, BeforeDisconnect: func() { before++ }})
	wantCounts(t, rep, 5000, 5000, 0, 0)
	if started != 1 || before != 1 {
		t.Fatalf("Started called %d times, BeforeDisconnect %d times; want 1 each", started, before)
	}
	if rep.Received != 5000 || rep.ReceivedBytes != 5000*128 || rep.SentBytes != 5000*128 {
		t.Fatalf("received %d frames %d bytes, sent %d bytes", rep.Received, rep.ReceivedBytes, rep.SentBytes)
	}
	if rep.Reordered != 0 {
		t.Fatalf("reordered %d on an in-order peer", rep.Reordered)
	}
	// The process (gen and the reflector) worked, on every thread at most
	// for the run's whole wall time.
	if runtime.GOOS == "linux" && (rep.ProcessCPU <= 0 || rep.ProcessCPU > time.Duration(runtime.NumCPU())*rep.Elapsed) {
		t.Fatalf("process CPU %v over a run of %v", rep.ProcessCPU, rep.Elapsed)
	}
	// Bursts of at most DefaultBurst frames each way; a receive burst holds
	// at least one frame.
	if rep.TxBursts < 5000/DefaultBurst || rep.TxBursts > 5000 || rep.RxBursts == 0 || rep.RxBursts > rep.Received {
		t.Fatalf("%d transmit bursts, %d receive bursts for 5000 frames", rep.TxBursts, rep.RxBursts)
	}
	l := rep.Latency
	if !(l.Min > 0 && l.Min <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
		t.Fatalf("latency not ordered: %+v", l)
	}
}

// gen as master with two queue pairs: each queue is its own sequence.
func TestRunMasterTwoQueues(t *testing.T) {
	path := memiftest.SocketPath(t)
	(&memiftest.Reflector{}).Start(t, path, memif.RoleSlave, 0, -1, 2)
	rep := runGen(t, Config{Socket: path, Role: memif.RoleMaster, Queues: 2, Count: 4001})
	wantCounts(t, rep, 4001, 4001, 0, 0)
	if rep.Queues != 2 {
		t.Fatalf("queues %d, want 2", rep.Queues)
	}
}

// With SeparateRx, frames are counted on the second interface (a forwarding peer);
// here gen polls its receive queue instead of waiting for interrupts.
func TestRunSeparateRx(t *testing.T) {
	path := memiftest.SocketPath(t)
	(&memiftest.Reflector{}).Start(t, path, memif.RoleMaster, 1, 2, 1)
	rep := runGen(t, Config{Socket: path, ID: 1, SeparateRx: true, RxID: 2, Count: 3000, Proto: ProtoICMP,
		RxMode: memif.RxModePolling})
	wantCounts(t, rep, 3000, 3000, 0, 0)
}

// A lossy, duplicating, reordering peer: the sink's counts match what the peer did.
func TestRunMisbehavingPeer(t *testing.T) {
	path := memiftest.SocketPath(t)
	(&memiftest.Reflector{DropEvery: 10, DupEvery: 7, SwapPairs: true}).Start(t, path, memif.RoleMaster, 0, -1, 1)
	const n = 7000
	rep := runGen(t, Config{Socket: path, Count: n, Drain: 300 * time.Millisecond})
	lost := uint64(n / 10)
	// Frames 7k are duplicated unless they were dropped (70k).
	dups := uint64(n/7 - n/70)
	wantCounts(t, rep, n, n-lost, lost, dups)
	if rep.Reordered == 0 {
		t.Fatal("a peer that swaps pairs produced no reordering")
	}
}

// Rate and Duration: about rate*duration frames are sent, never more than the schedule.
func TestRunRateDuration(t *testing.T) {
	path := memiftest.SocketPath(t)
	(&memiftest.Reflector{}).Start(t, path, memif.RoleMaster, 0, -1, 1)
	rep := runGen(t, Config{Socket: path, Rate: 2000, Duration: 300 * time.Millisecond})
	// The schedule allows at most rate*elapsed+1 frames; a loaded machine may send fewer.
	if limit := uint64(2000*rep.SendTime.Seconds()) + 1; rep.Sent > limit || rep.Sent < 100 {
		t.Fatalf("sent %d in %v at 2000 pps; want 100..%d", rep.Sent, rep.SendTime, limit)
	}
	wantCounts(t, rep, rep.Sent, rep.Sent, 0, 0)
}

// Frames larger than the buffers go out as chains and are counted whole.
func TestRunChainedFrames(t *testing.T) {
	path := memiftest.SocketPath(t)
	(&memiftest.Reflector{}).Start(t, path, memif.RoleMaster, 0, -1, 1)
	rep := runGen(t, Config{Socket: path, Count: 500, Size: 1500, BufferSize: 512})
	wantCounts(t, rep, 500, 500, 0, 0)
	if rep.SentBytes != 500*1500 || rep.ReceivedBytes != 500*1500 {
		t.Fatalf("sent %d bytes, received %d", rep.SentBytes, rep.ReceivedBytes)
	}
}

// Cancelling ctx ends an endless run with a report and no error.
func TestRunCancel(t *testing.T) {
	path := memiftest.SocketPath(t)
	(&memiftest.Reflector{}).Start(t, path, memif.RoleMaster, 0, -1, 1)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	var progress []Progress
	rep, err := Run(ctx, Config{Socket: path, Rate: 10000, ProgressInterval: 50 * time.Millisecond,
		Progress: func(p Progress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent == 0 || rep.Lost != 0 {
		t.Fatalf("sent %d lost %d", rep.Sent, rep.Lost)
	}
	if len(progress) == 0 {
		t.Fatal("no progress reported")
	}
}

// No peer: the link wait ends with an error that names the interface and the socket.
func TestRunNoPeer(t *testing.T) {
	path := memiftest.SocketPath(t)
	_, err := Run(context.Background(), Config{Socket: path, ID: 9, LinkTimeout: 100 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "interface 9") || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v; want one naming interface 9 and %s", err, path)
	}
}

// A socket path that another process listens on: gen as master refuses it.
func TestRunSocketInUse(t *testing.T) {
	path := memiftest.SocketPath(t)
	l, err := net.Listen("unixpacket", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = Run(context.Background(), Config{Socket: path, Role: memif.RoleMaster, LinkTimeout: 100 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v; want one naming %s", err, path)
	}
}

// A socket directory that does not exist.
func TestRunMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope", "memif.sock")
	_, err := Run(context.Background(), Config{Socket: path, Role: memif.RoleMaster})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v; want one naming %s", err, path)
	}
	if _, serr := os.Stat(filepath.Dir(path)); !errors.Is(serr, os.ErrNotExist) {
		t.Fatalf("gen created the directory: %v", serr)
	}
}

// A peer that never takes frames: the run fails with ErrStalled instead of hanging.
func TestRunStalledPeer(t *testing.T) {
	path := memiftest.SocketPath(t)
	(&memiftest.Reflector{NoRx: true}).Start(t, path, memif.RoleMaster, 0, -1, 1)
	rep, err := Run(context.Background(), Config{Socket: path, Count: 100000, Log2RingSize: 6,
		Stall: 200 * time.Millisecond, Drain: 50 * time.Millisecond})
	if !errors.Is(err, ErrStalled) {
		t.Fatalf("err = %v, want ErrStalled", err)
	}
	if rep.Sent == 0 || rep.Sent > 64 || rep.TxRingFull == 0 {
		t.Fatalf("sent %d (ring of 64) with %d full rings", rep.Sent, rep.TxRingFull)
	}
}

// The peer vanishes mid-run and comes back: gen (slave) reconnects and keeps sending;
// frames lost with the old connection show up as lost, nothing else is miscounted.
func TestRunPeerVanishes(t *testing.T) {
	path := memiftest.SocketPath(t)
	first := (&memiftest.Reflector{}).Start(t, path, memif.RoleMaster, 0, -1, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	done := make(chan struct{})
	var rep Report
	var err error
	go func() {
		defer close(done)
		rep, err = Run(ctx, Config{Socket: path, Rate: 5000, Duration: 1500 * time.Millisecond})
	}()
	time.Sleep(400 * time.Millisecond)
	first.Close()
	(&memiftest.Reflector{}).Start(t, path, memif.RoleMaster, 0, -1, 1)
	<-done
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.Unique+rep.Lost != rep.Sent || rep.Duplicates != 0 || rep.Foreign != 0 {
		t.Fatalf("inconsistent report: %+v", rep)
	}
	if rep.Unique < rep.Sent/2 {
		t.Fatalf("only %d of %d frames came back: gen did not resume after the reconnect", rep.Unique, rep.Sent)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no socket", Config{}, "socket"},
		{"bad role", Config{Socket: "x", Role: 7}, "role 7"},
		{"same rx id", Config{Socket: "x", ID: 2, SeparateRx: true, RxID: 2}, "rx id 2"},
		{"queues", Config{Socket: "x", Queues: 256}, "queues 256"},
		{"small size", Config{Socket: "x", Size: 60}, "size 60"},
		{"huge size", Config{Socket: "x", Size: MaxSize + 1}, "size"},
		{"flows", Config{Socket: "x", Flows: -1}, "flows -1"},
		{"burst", Config{Socket: "x", Burst: 1000}, "burst 1000"},
		{"rate", Config{Socket: "x", Rate: -5}, "rate -5"},
		{"duration", Config{Socket: "x", Duration: -time.Second}, "duration"},
		{"proto", Config{Socket: "x", Proto: 9}, "proto"},
		{"drain", Config{Socket: "x", Drain: -1}, "drain"},
		{"settle", Config{Socket: "x", Settle: -time.Second}, "settle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// Settle delays sending after link up, and a cancel while settling ends the run.
func TestRunSettle(t *testing.T) {
	path := memiftest.SocketPath(t)
	(&memiftest.Reflector{}).Start(t, path, memif.RoleMaster, 0, -1, 1)
	rep := runGen(t, Config{Socket: path, Count: 10, Settle: 50 * time.Millisecond})
	wantCounts(t, rep, 10, 10, 0, 0)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := Run(ctx, Config{Socket: path, Count: 10, Settle: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "settling") {
		t.Fatalf("err = %v, want a cancel while settling", err)
	}
}
