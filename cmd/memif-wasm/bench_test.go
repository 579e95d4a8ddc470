package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
	"github.com/memif-wasm/memif-wasm/host/daemon/bench"
)

// A small table with WAT pass plugins standing in for C, Go and Rust: every cell measured,
// every frame accounted for (what did not come back the host dropped, counted), and
// zero-copy and copy really are what they say.
func TestBenchTable(t *testing.T) {
	pass := watPlugin(t, "1", "2")
	code, stdout, stderr := runArgs(t, "bench", "--json", "--time", "150ms", "--sizes", "64,200", "--queues", "1",
		"--c-plugin", pass, "--go-plugin", pass, "--rust-plugin", pass, "--cache-dir", "")
	if code != cli.ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	var rows []bench.Row
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if len(rows) != 2+2*3*2 {
		t.Fatalf("%d rows, want 14: %+v", len(rows), rows)
	}
	for _, r := range rows {
		name := r.Handler + "/" + r.Placement
		if r.Sent == 0 || r.Received+r.HostDrops != r.Sent || r.RoundTripPPS <= 0 || r.CPUNsPerPkt <= 0 {
			t.Errorf("%s/%dB: %+v", name, r.Size, r)
		}
		if r.GenLinkDrops != 0 || r.GenLinkDownNs != 0 {
			t.Errorf("%s/%dB: the generator's link dropped %d times on an in-process host", name, r.Size, r.GenLinkDrops)
		}
		if r.HostRxPackets != r.Sent {
			t.Errorf("%s/%dB: host received %d of %d", name, r.Size, r.HostRxPackets, r.Sent)
		}
		// The per-burst counters: every burst moved at least one frame.
		if r.HostRxBursts == 0 || r.HostRxBursts > r.HostRxPackets || r.GenTxBursts == 0 || r.GenTxBursts > r.Sent ||
			r.GenRxBursts == 0 || r.GenRxBursts > r.Received || r.HostBusyNanos <= 0 {
			t.Errorf("%s/%dB: burst counters %+v", name, r.Size, r)
		}
		switch r.Placement {
		case "copy": // in and back out
			if r.CopiedPerPkt != float64(2*r.Size) || r.ZeroCopyPkts != 0 {
				t.Errorf("%s/%dB: copied %.1f B/pkt, %d zero-copy", name, r.Size, r.CopiedPerPkt, r.ZeroCopyPkts)
			}
		case "zero-copy":
			if r.CopiedPerPkt != 0 || r.ZeroCopyPkts != r.Sent {
				t.Errorf("%s/%dB: copied %.1f B/pkt, %d zero-copy", name, r.Size, r.CopiedPerPkt, r.ZeroCopyPkts)
			}
		}
	}
	code, stdout, _ = runArgs(t, "bench", "--duration", "50ms", "--repeat", "3", "--size", "64", "--queues", "2", "--handlers", "native")
	if code != cli.ExitOK || !strings.Contains(stdout, "CPU ns/frame") || !strings.Contains(stdout, "native") {
		t.Fatalf("text table, exit %d:\n%s", code, stdout)
	}
}

func TestBenchErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad size", []string{"--sizes", "64,abc"}, cli.ExitUsage, `"abc" is not a number`},
		{"small size", []string{"--sizes", "10"}, cli.ExitUsage, "--size \"10\""},
		{"bad queues", []string{"--queues", "0"}, cli.ExitUsage, "--queues"},
		{"bad handler", []string{"--handlers", "ebpf"}, cli.ExitUsage, `"ebpf" is not one of native, c, go, rust`},
		{"bad placement", []string{"--placements", "magic"}, cli.ExitUsage, "--placements"},
		{"bad time", []string{"--time", "-1s"}, cli.ExitUsage, "--duration -1s"},
		{"bad repeat", []string{"--repeat", "0"}, cli.ExitUsage, "--repeat 0"},
		{"negative stack", []string{"--handlers", "native", "--sizes", "64", "--queues", "1", "--stack", "-1"}, cli.ExitFailure, "stack: -1 is outside"},
		{"missing plugin", []string{"--handlers", "c", "--plugins-dir", "/nonexistent"}, cli.ExitFailure,
			filepath.Join("/nonexistent", "pass-c.wasm")},
		{"profile path", []string{"--handlers", "native", "--cpuprofile", "/nonexistent/cpu.prof"}, cli.ExitFailure, "--cpuprofile"},
		{"refused plugin", []string{"--handlers", "go", "--time", "50ms", "--sizes", "64", "--queues", "1", "--placements", "copy",
			"--go-plugin", "WAT7", "--cache-dir", ""}, cli.ExitFailure, "version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"bench"}, tt.args...)
			for i, a := range args {
				if a == "WAT7" {
					args[i] = watPlugin(t, "7", "2")
				}
			}
			code, _, stderr := runArgs(t, args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d (want %d), stderr lacks %q:\n%s", code, tt.code, tt.want, stderr)
			}
		})
	}
}

// --cpuprofile writes a profile of the run that pprof can read.
func TestBenchCPUProfile(t *testing.T) {
	if f := flag.Lookup("test.cpuprofile"); f != nil && f.Value.String() != "" {
		t.Skip("go test is profiling the process already; only one CPU profile can run at a time")
	}
	path := filepath.Join(t.TempDir(), "cpu.prof")
	code, stdout, stderr := runArgs(t, "bench", "--time", "100ms", "--sizes", "64", "--queues", "1", "--handlers", "native", "--cpuprofile", path)
	if code != cli.ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A CPU profile is a gzip-compressed protocol buffer.
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		t.Fatalf("%s: %d bytes, not a gzip-compressed profile", path, len(data))
	}
}
