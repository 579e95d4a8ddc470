package bench

import (
	"context"
	"encoding/binary"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// Fields after the command: state ppid pgrp session tty tpgid flags
	// minflt cminflt majflt cmajflt utime stime ...
	for _, tc := range []struct {
		line string
		want time.Duration
	}{
		{"42 (memif-wasm) S 1 42 42 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 9", 2800 * time.Millisecond},
		{"7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0", 30 * time.Millisecond}, // a name with spaces and ')'
	} {
		got, err := parseStatCPU(tc.line)
		if err != nil || got != tc.want {
			t.Errorf("parseStatCPU(%q) = %v, %v; want %v", tc.line, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "42 memif-wasm S 1", "42 (x) S 1 2 3", "42 (x) S 1 42 42 0 -1 0 0 0 0 0 -5 3", "42 (x) S 1 42 42 0 -1 0 0 0 0 0 9999999999999999999999 3"} {
		if _, err := parseStatCPU(bad); err == nil {
			t.Errorf("parseStatCPU(%q) accepted a malformed line", bad)
		}
	}
	if cpu, err := ProcessCPU(1 << 30); err == nil {
		t.Errorf("ProcessCPU of no process = %v", cpu)
	}
}

func FuzzParseStatCPU(f *testing.F) {
	f.Add("42 (memif-wasm) S 1 42 42 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 9")
	f.Add("7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0")
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := parseStatCPU(s); err == nil && d < 0 {
			t.Fatalf("negative CPU time %v from %q", d, s)
		}
	})
}

// TestACLRules: the C acl plugin's binary layout (plugins/README.md).
func TestACLRules(t *testing.T) {
	b := ACLRules(16)
	if len(b) != 8+16*48 || string(b[:4]) != "MWA1" || b[4] != 1 || b[5] != 1 || binary.LittleEndian.Uint16(b[6:]) != 16 {
		t.Fatalf("header % x, %d bytes", b[:8], len(b))
	}
	r := b[8+3*48 : 8+4*48]
	if r[0] != 0 || r[1] != 4 || r[2] != 17 || r[3] != 1 || r[5] != 32 || r[32] != 203 || r[34] != 113 || r[35] != 3 ||
		binary.LittleEndian.Uint16(r[10:]) != 0xffff || binary.LittleEndian.Uint16(r[14:]) != 0xffff {
		t.Fatalf("rule 3: % x", r)
	}
}

func TestLossless(t *testing.T) {
	for _, tc := range []struct {
		r    ForwardRow
		want bool
	}{
		{ForwardRow{Sent: 100, Forwarded: 100}, true},
		{ForwardRow{Sent: 100, Forwarded: 99}, false},
		{ForwardRow{}, false},
		{ForwardRow{OfferedPPS: 1e6, SentPPS: 0.995e6, Sent: 10, Forwarded: 10}, true},
		{ForwardRow{OfferedPPS: 1e6, SentPPS: 0.9e6, Sent: 10, Forwarded: 10}, false}, // the generator had to wait
	} {
		if got := tc.r.lossless(); got != tc.want {
			t.Errorf("%+v lossless = %v", tc.r, got)
		}
	}
}

func TestForwardTable(t *testing.T) {
	var b strings.Builder
	WriteForwardTable(&b, []ForwardRow{
		{Handler: "native", RxMode: "interrupt", RxDelayNs: int64(50 * time.Microsecond), OfferedPPS: 5e5, ForwardedPPS: 5e5, HostCPUNsPerPkt: 412, PktsPerWakeup: 17.5},
		{Handler: "native", RxMode: "adaptive", ZeroLoss: true, Sent: 10, OfferedPPS: 3e6, ForwardedPPS: 3e6},
		{Handler: "c", RxMode: "polling", ZeroLoss: true},
	})
	out := b.String()
	for _, want := range []string{"interrupt+50µs", "500.00 kpps", "412", "17.5", "max 0-loss 3.00 Mpps", "none lossless"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// TestForwardEndToEnd runs one small cell for real: memif-wasm built from
// this tree as the daemon and as the generator, in separate processes.
func TestForwardEndToEnd(t *testing.T) {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	exe := filepath.Join(t.TempDir(), "memif-wasm")
	build := exec.Command(goBin, "build", "-o", exe, "github.com/memif-wasm/memif-wasm/cmd/memif-wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Skipf("cannot build memif-wasm with %s to run as separate processes: %v\n%s", goBin, err, out)
	}
	var logs strings.Builder
	for _, mode := range []string{"interrupt", "adaptive"} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		row, err := Forward(ctx, ForwardCell{Exe: exe, Dir: t.TempDir(), Handler: Handler{Name: "native"}, RxMode: mode,
			RxDelay: 20 * time.Microsecond, Size: 64, Rate: 50000, Time: 500 * time.Millisecond, Stderr: &logs})
		cancel()
		if err != nil {
			t.Fatalf("%s: %v\nlogs:\n%s", mode, err, logs.String())
		}
		t.Logf("%s: %+v", mode, row)
		if row.Sent == 0 || row.Forwarded != row.Sent || row.LossPercent != 0 || row.PktsPerWakeup <= 0 || row.LatencyP99Ns <= 0 {
			t.Errorf("%s: %+v: want every frame forwarded, wake-ups and latency counted", mode, row)
		}
	}
}
