package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

func TestGenText(t *testing.T) {
	path := memiftest.SocketPath(t)
	(&memiftest.Reflector{}).Start(t, path, memif.RoleMaster, 4, -1, 1)
	code, stdout, stderr := runArgs(t, "gen", "--socket", path, "--id", "4", "--count", "500", "--size", "200", "--ring-size", "256")
	if code != cli.ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"sent", "500 frames, 100000 bytes", "lost", "0 (0.000%)", "latency", "p99"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
}

func TestGenJSON(t *testing.T) {
	path := memiftest.SocketPath(t)
	(&memiftest.Reflector{}).Start(t, path, memif.RoleSlave, 0, -1, 2)
	code, stdout, stderr := runArgs(t, "gen", "--socket", path, "--role", "master", "--queues", "2",
		"--count", "300", "--proto", "icmp", "--json")
	if code != cli.ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	var rep struct {
		Sent, Unique, Lost, Duplicates uint64
		Queues                         int
		Latency                        struct{ P50 int64 } `json:"latency_ns"`
		Error                          string
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	if rep.Sent != 300 || rep.Unique != 300 || rep.Lost != 0 || rep.Queues != 2 || rep.Latency.P50 <= 0 || rep.Error != "" {
		t.Fatalf("report %+v", rep)
	}
}

// A peer that never comes: exit 1, an error naming the socket, and JSON still valid.
func TestGenNoPeer(t *testing.T) {
	path := memiftest.SocketPath(t)
	code, stdout, stderr := runArgs(t, "gen", "--socket", path, "--link-timeout", "100ms", "--count", "1", "--json")
	if code != cli.ExitFailure || !strings.Contains(stderr, path) {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	var rep genReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || !strings.Contains(rep.Error, "not up") {
		t.Fatalf("json %q (%v)", stdout, err)
	}
}

func TestGenUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no socket", nil, "--socket is required"},
		{"count and duration", []string{"--socket", "x", "--count", "5", "--duration", "1s"}, "exclude each other"},
		{"zero count", []string{"--socket", "x", "--count", "0"}, "--count 0"},
		{"bad role", []string{"--socket", "x", "--role", "boss"}, `--role: memif: invalid argument: role "boss" is not one of slave, master, client, server`},
		{"bad rx mode", []string{"--socket", "x", "--rx-mode", "sometimes"}, `--rx-mode: memif: invalid argument: rx mode "sometimes" is not one of interrupt, polling`},
		{"bad proto", []string{"--socket", "x", "--proto", "tcp"}, `"tcp"`},
		{"bad number", []string{"--socket", "x", "--rate", "fast"}, "fast"},
		{"unknown flag", []string{"--socket", "x", "--colour"}, "colour"},
		{"extra argument", []string{"--socket", "x", "now"}, `"now"`},
		{"ring not a power of two", []string{"--socket", "x", "--ring-size", "1000"}, "--ring-size 1000"},
		{"ring too large", []string{"--socket", "x", "--ring-size", "32768"}, "--ring-size 32768"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runArgs(t, append([]string{"gen"}, tt.args...)...)
			if code != cli.ExitUsage || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, want %d; stderr lacks %q:\n%s", code, cli.ExitUsage, tt.want, stderr)
			}
		})
	}
}

// A value the library refuses: exit 1 with the field named.
func TestGenBadSize(t *testing.T) {
	code, _, stderr := runArgs(t, "gen", "--socket", memiftest.SocketPath(t), "--size", "32")
	if code != cli.ExitFailure || !strings.Contains(stderr, "size 32") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

// The link drops once while gen sends: the run succeeds, and both outputs report the
// drop, the time down and exact accounting (what the drop took down is lost, nothing
// is duplicated).
func TestGenLinkDrops(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			path := memiftest.SocketPath(t)
			peer := &memiftest.Reflector{}
			link := peer.StartLink(t, path, memif.RoleSlave, 0, -1, 2)
			args := []string{"gen", "--socket", path, "--role", "master", "--queues", "2", "--count", "6000", "--rate", "10000"}
			if format == "json" {
				args = append(args, "--json")
			}
			type result struct {
				code           int
				stdout, stderr string
			}
			res := make(chan result, 1)
			go func() {
				code, stdout, stderr := runArgs(t, args...)
				res <- result{code, stdout, stderr}
			}()
			memiftest.WaitFor(t, 20*time.Second, "the peer to take frames", func() bool { return peer.Received() >= 2000 })
			link.Down()
			link.Up(2)
			r := <-res
			if r.code != cli.ExitOK {
				t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
			}
			if format == "text" {
				if !strings.Contains(r.stdout, "link drops    1 (down ") {
					t.Fatalf("report lacks the link drop:\n%s", r.stdout)
				}
				return
			}
			var rep struct {
				Sent, Unique, Lost, Duplicates uint64
				LinkDrops                      uint64 `json:"link_drops"`
				LinkDown                       int64  `json:"link_down_ns"`
				Error                          string
			}
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
			}
			if rep.Sent != 6000 || rep.Unique+rep.Lost != rep.Sent || rep.Duplicates != 0 ||
				rep.LinkDrops != 1 || rep.LinkDown <= 0 || rep.Error != "" {
				t.Fatalf("report %+v", rep)
			}
		})
	}
}
