package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"

	"github.com/memif-wasm/memif-wasm/host/daemon"
	"github.com/memif-wasm/memif-wasm/host/daemon/admin"
	"github.com/memif-wasm/memif-wasm/host/daemon/demo"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
	"github.com/memif-wasm/memif-wasm/memif/gen"
)

// startACLRun runs the demo's C acl (denying UDP source port
// demo.ACLDeniedPort) then a plugin that sends every packet back (TX) on a
// master interface, and returns its memif and admin sockets. No Go plugin:
// compiling one under the race detector takes most of a minute.
func startACLRun(t *testing.T) (sock, adminSock string, bg *background) {
	t.Helper()
	dir := t.TempDir()
	sock = filepath.Join(dir, "memif.sock")
	adminSock = filepath.Join(dir, "admin.sock")
	aclCfg := filepath.Join(dir, "acl.bin")
	if err := os.WriteFile(aclCfg, demo.ACLConfig(), 0o644); err != nil {
		t.Fatal(err)
	}
	bg = startRun(t, "run", "--socket", sock, "--role", "master", "--id", "0",
		"--plugin", builtPlugin(t, "acl-c.wasm"), "--plugin-config", aclCfg, "--plugin", hosttest.Build(t, dir, "reflect", int(abi.TX), 0),
		"--admin-socket", adminSock, "--log-format", "json")
	bg.waitAdmin(t, adminSock)
	return sock, adminSock, bg
}

// sendGen runs gen against sock: count frames in 8 UDP flows at rate pps.
func sendGen(t *testing.T, sock string, count uint64, rate float64) gen.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := gen.Run(ctx, gen.Config{Socket: sock, Count: count, Rate: rate, Flows: 8})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != count {
		t.Fatalf("gen sent %d of %d", rep.Sent, count)
	}
	return rep
}

// TestCtlTraceAndCapture: `ctl trace add/show/clear` and `ctl capture`
// against a running daemon: the trace shows the decoded headers, each
// plugin's verdict and the egress or drop; the capture's pcapng file is
// read back by tshark with an interface per direction and the verdict or
// drop reason as each packet's comment.
func TestCtlTraceAndCapture(t *testing.T) {
	sock, adminSock, _ := startACLRun(t)
	if code, _, errOut := ctl(t, adminSock, "trace", "add", "default/memif0", "16"); code != cli.ExitOK {
		t.Fatalf("trace add: %d %s", code, errOut)
	}
	pcap := filepath.Join(t.TempDir(), "cap.pcapng")
	type result struct {
		code        int
		out, errOut string
	}
	capDone := make(chan result, 1)
	go func() {
		code, out, errOut := ctl(t, adminSock, "capture", "default/memif0", "--rx", "--tx", "--drop", "--count", "40", "--snaplen", "128", "-w", pcap)
		capDone <- result{code, out, errOut}
	}()
	// The capture is on the interface once its file has its header.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if fi, err := os.Stat(pcap); err == nil && fi.Size() > 0 {
			break
		}
		select {
		case res := <-capDone:
			t.Fatalf("capture ended before it started: exit %d\n%s%s", res.code, res.out, res.errOut)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("capture never started")
		}
	}
	sendGen(t, sock, 400, 20000)
	var res result
	select {
	case res = <-capDone:
	case <-time.After(20 * time.Second):
		t.Fatal("capture did not end at its count")
	}
	if res.code != cli.ExitOK || res.out != "40 packets written to "+pcap+"\n" {
		t.Fatalf("capture: exit %d\n%s%s", res.code, res.out, res.errOut)
	}
	out := hosttest.Tshark(t, pcap, "frame.interface_name", "frame.p2p_dir", "udp.srcport", "frame.cap_len", "frame.comment")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 40 {
		t.Fatalf("tshark read %d packets, want 40:\n%s", len(lines), out)
	}
	count := map[string]int{}
	denied := fmt.Sprint(demo.ACLDeniedPort)
	for _, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != 5 {
			t.Fatalf("tshark line %q", l)
		}
		iface, dir, sport, caplen, comment := f[0], f[1], f[2], f[3], f[4]
		count[iface]++
		if caplen != "60" && caplen != "64" {
			t.Errorf("captured %s bytes of gen's 64-byte frame: %q", caplen, l)
		}
		switch iface {
		case "default/memif0 rx":
			want := "sent: tx default/memif0"
			if sport == denied {
				want = "dropped: drop: plugin default/memif0/acl-c"
			}
			if dir != "1" || !strings.Contains(comment, want) {
				t.Errorf("rx packet %q: want inbound, %q", l, want)
			}
		case "default/memif0 tx":
			if dir != "0" || sport == denied || !strings.Contains(comment, "verdict tx from default/memif0") {
				t.Errorf("tx packet %q", l)
			}
		case "default/memif0 drop":
			if sport != denied || !strings.Contains(comment, "verdict drop, dropped: drop: plugin default/memif0/acl-c") {
				t.Errorf("drop packet %q", l)
			}
		default:
			t.Errorf("packet on interface %q", iface)
		}
	}
	if count["default/memif0 rx"] == 0 || count["default/memif0 tx"] == 0 || count["default/memif0 drop"] == 0 {
		t.Errorf("packets per interface %v: want some of each direction", count)
	}

	code, show, errOut := ctl(t, adminSock, "trace", "show")
	if code != cli.ExitOK {
		t.Fatalf("trace show: %d %s", code, errOut)
	}
	for _, want := range []string{"default/memif0: 16 packets traced", "Packet 1 ", "Packet 16 ",
		"ipv4 ", "udp " + denied + " -> ", "plugin default/memif0/acl-c: pass, len 64, call ",
		"plugin default/memif0/reflect: tx, len 64", "sent: tx default/memif0, len 64",
		"plugin default/memif0/acl-c: drop, len 64", "dropped: drop: plugin default/memif0/acl-c"} {
		if !strings.Contains(show, want) {
			t.Errorf("trace show lacks %q:\n%s", want, show)
		}
	}
	code, js, _ := ctl(t, adminSock, "--json", "trace", "show")
	var views []daemon.TraceView
	if err := json.Unmarshal([]byte(js), &views); code != cli.ExitOK || err != nil || len(views) != 1 || len(views[0].Packets) != 16 {
		t.Fatalf("trace show --json: %d %v %.300s", code, err, js)
	}
	if code, out, _ := ctl(t, adminSock, "trace", "clear"); code != cli.ExitOK || out != "traces cleared\n" {
		t.Errorf("trace clear: %d %q", code, out)
	}
	if _, out, _ := ctl(t, adminSock, "trace", "show"); !strings.HasPrefix(out, "no trace") {
		t.Errorf("trace show after clear: %q", out)
	}
}

// TestCtlViewsRefuse: bad view requests fail with the reason and the exit
// status of their kind (2: the command line, 1: the daemon refused).
func TestCtlViewsRefuse(t *testing.T) {
	_, adminSock, _ := startACLRun(t)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"trace", "add", "default/nope", "5"}, cli.ExitFailure, `no interface "nope" in tenant "default"`},
		{[]string{"trace", "add", "default/memif0", "0"}, cli.ExitFailure, "trace of 0 packets: want 1 to 10000"},
		{[]string{"trace", "add", "default/memif0", "x"}, cli.ExitUsage, `packet count "x" is not a number`},
		{[]string{"trace", "add", "memif0", "5"}, cli.ExitUsage, "want TENANT/INTERFACE"},
		{[]string{"trace"}, cli.ExitUsage, "trace needs add, show or clear"},
		{[]string{"capture", "default/memif0", "-w", "x.pcapng"}, cli.ExitUsage, "at least one of --rx, --tx, --drop"},
		{[]string{"capture", "default/memif0", "--rx"}, cli.ExitUsage, "-w FILE is required"},
		{[]string{"capture", "default/memif0", "--rx", "--count", "0", "-w", filepath.Join(t.TempDir(), "c.pcapng")}, cli.ExitFailure, "capture of 0 packets"},
		{[]string{"capture", "default/memif0", "--rx", "--snaplen", "70000", "-w", filepath.Join(t.TempDir(), "c.pcapng")}, cli.ExitFailure, "snaplen 70000"},
		{[]string{"runtime", "x"}, cli.ExitUsage, "runtime takes no argument"},
		{[]string{"top", "--interval", "1ms"}, cli.ExitUsage, "too short"},
	} {
		code, _, errOut := ctl(t, adminSock, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("ctl %v: exit %d %q, want %d and %q", tc.args, code, errOut, tc.code, tc.msg)
		}
	}
	// A capture that ends by its --timeout before any packet is still a
	// pcapng file (here on stdout): the header and its interfaces.
	code, out, errOut := ctl(t, adminSock, "capture", "default/memif0", "--rx", "--drop", "--timeout", "100ms", "-w", "-")
	if code != cli.ExitOK || !strings.HasPrefix(out, "\x0a\x0d\x0d\x0a") || !strings.Contains(out, "default/memif0 drop") {
		t.Errorf("capture -w - with a timeout: exit %d, %q, %s", code, out, errOut)
	}
}

// TestCtlRuntimeClearTop: `ctl runtime` counts bursts and packets per
// worker and calls per plugin, `ctl clear` zeroes it, and `ctl top` (and
// `memif-wasm top`) show the rates of traffic in flight.
func TestCtlRuntimeClearTop(t *testing.T) {
	sock, adminSock, _ := startACLRun(t)
	rep := sendGen(t, sock, 400, 20000)
	rt := func() *daemon.Runtime {
		t.Helper()
		code, js, errOut := ctl(t, adminSock, "--json", "runtime")
		var r daemon.Runtime
		if err := json.Unmarshal([]byte(js), &r); code != cli.ExitOK || err != nil {
			t.Fatalf("runtime --json: %d %v %s", code, err, errOut)
		}
		return &r
	}
	r := rt()
	if len(r.Workers) != 1 || r.Workers[0].Packets != rep.Sent || r.Workers[0].Bursts == 0 || r.Workers[0].NsPerPacket <= 0 ||
		r.Workers[0].Drops != rep.Sent/8 {
		t.Fatalf("runtime workers %+v (gen sent %d)", r.Workers, rep.Sent)
	}
	if len(r.Plugins) != 2 || r.Plugins[0].Plugin != "acl-c" || r.Plugins[0].Packets != rep.Sent || r.Plugins[1].Packets != rep.Sent-rep.Sent/8 {
		t.Fatalf("runtime plugins %+v", r.Plugins)
	}
	code, table, _ := ctl(t, adminSock, "runtime")
	row := false
	for _, l := range strings.Split(table, "\n") {
		f := strings.Fields(l)
		row = row || len(f) == 10 && f[0] == "default" && f[1] == "memif0" && f[2] == "0" && f[3] == fmt.Sprint(r.Workers[0].Bursts) && f[4] == fmt.Sprint(rep.Sent)
	}
	if code != cli.ExitOK || !strings.Contains(table, "PKTS/BURST") || !row {
		t.Errorf("runtime table lacks the worker's row:\n%s", table)
	}
	if code, out, _ := ctl(t, adminSock, "clear"); code != cli.ExitOK || !strings.HasPrefix(out, "runtime counters cleared at ") {
		t.Errorf("clear: %d %q", code, out)
	}
	if r := rt(); r.Workers[0].Packets != 0 || r.Workers[0].Bursts != 0 || r.Plugins[0].Calls != 0 {
		t.Errorf("runtime after clear: %+v %+v", r.Workers, r.Plugins)
	}

	// Top while traffic flows: 3000 packets at 3000/s last a second.
	done := make(chan struct{})
	go func() {
		defer close(done)
		sendGen(t, sock, 3000, 3000)
	}()
	time.Sleep(200 * time.Millisecond)
	code, js, errOut := ctl(t, adminSock, "--json", "top", "-n", "2", "--interval", "250ms")
	if code != cli.ExitOK {
		t.Fatalf("top --json: %d %s", code, errOut)
	}
	dec := json.NewDecoder(strings.NewReader(js))
	var best float64
	for n := 0; n < 2; n++ {
		var top admin.Top
		if err := dec.Decode(&top); err != nil {
			t.Fatalf("top --json refresh %d: %v\n%s", n, err, js)
		}
		if len(top.Interfaces) != 1 || len(top.Plugins) != 2 {
			t.Fatalf("top %+v", top)
		}
		best = max(best, top.Interfaces[0].RxPacketsPerS)
	}
	if best < 500 || best > 6000 {
		t.Errorf("top: best rx rate %.0f pps while gen sends 3000 pps", best)
	}
	var out, errb strings.Builder
	if code := run(context.Background(), []string{"top", "--admin-socket", adminSock, "-n", "1", "--interval", "100ms"}, &out, &errb); code != cli.ExitOK ||
		!strings.Contains(out.String(), "RX PPS") || !strings.Contains(out.String(), "reflect") {
		t.Errorf("memif-wasm top: %d\n%s%s", code, out.String(), errb.String())
	}
	<-done
}
