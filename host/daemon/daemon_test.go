package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
	"github.com/memif-wasm/memif-wasm/host/dataplane"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

// TestReflect runs a single master interface with a TX plugin: every packet
// the peer sends comes back on the same interface, once.
func TestReflect(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	d := startDaemon(t, oneInterface(sock, buildPlugin(t, dir, "tx", int(abi.TX), 0)), Options{})
	p := newPeer(t, sock, 0, false)
	tr := &traffic{tx: p, rx: p, count: 5000}
	tr.run(t, 10*time.Second)
	if lost, dup := tr.check(); lost != 0 || dup != 0 || tr.other != 0 {
		t.Fatalf("lost %d, duplicated %d, foreign %d of %d", lost, dup, tr.other, tr.count)
	}
	// A worker folds its counters in after the burst's transmit: wait for the last one.
	memiftest.WaitFor(t, 10*time.Second, "the worker's counters", func() bool { return d.Snapshot().Tenants[0].Interfaces[0].Queues[0].RxPackets == 5000 })
	s := d.Snapshot()
	in := s.Tenants[0].Interfaces[0]
	if !in.Connected || in.Queues[0].RxPackets != 5000 || in.Queues[0].Tx[abi.TX] != 5000 || in.Memif.TxPackets != 5000 {
		t.Errorf("interface snapshot: connected=%v rx=%d tx=%d", in.Connected, in.Queues[0].RxPackets, in.Queues[0].Tx[abi.TX])
	}
	if got := in.Plugins[0].Stats.Verdicts[abi.TX]; got != 5000 {
		t.Errorf("TX verdicts = %d, want 5000", got)
	}
	if s.Loads["t"]["ok"] != 1 {
		t.Errorf("loads = %v", s.Loads)
	}
}

// TestPassWithoutEgressDrops: a PASS verdict on an interface with no egress
// is dropped and counted.
func TestPassWithoutEgressDrops(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	d := startDaemon(t, oneInterface(sock, buildPlugin(t, dir, "pass", int(abi.Pass), 0)), Options{})
	p := newPeer(t, sock, 0, false)
	txq, _ := p.ifc.TxQueue(0)
	if n, err := txq.WritePackets([][]byte{frame(0), frame(1), frame(2)}); n != 3 {
		t.Fatalf("sent %d: %v", n, err)
	}
	memiftest.WaitFor(t, 10*time.Second, "3 no_egress drops", func() bool {
		return d.Snapshot().Tenants[0].Interfaces[0].Queues[0].Dropped[abi.Pass] == 3
	})
}

// TestBridge: two interfaces of a tenant, each the other's egress, with a
// PASS plugin: what one peer sends leaves by the other.
func TestBridge(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.sock"), filepath.Join(dir, "b.sock")
	pass := buildPlugin(t, dir, "pass", int(abi.Pass), 0)
	cfg := &config.Config{Tenants: []config.Tenant{{Name: "t", Interfaces: []config.Interface{
		{Name: "a", Socket: a, Role: "master", Egress: "b", Plugins: []config.Plugin{{File: pass}}},
		{Name: "b", Socket: b, Role: "slave", Egress: "a"},
	}}}}
	d := startDaemon(t, cfg, Options{})
	pa := newPeer(t, a, 0, false)
	pb := newPeer(t, b, 0, true)
	waitUp(t, d)
	tr := &traffic{tx: pa, rx: pb, count: 3000}
	tr.run(t, 10*time.Second)
	if lost, dup := tr.check(); lost != 0 || dup != 0 {
		t.Fatalf("a→b: lost %d, duplicated %d\n%+v", lost, dup, d.Snapshot().Tenants[0])
	}
	tr = &traffic{tx: pb, rx: pa, count: 3000}
	tr.run(t, 10*time.Second)
	if lost, dup := tr.check(); lost != 0 || dup != 0 {
		t.Fatalf("b→a: lost %d, duplicated %d", lost, dup)
	}
	memiftest.WaitFor(t, 10*time.Second, "the workers' counters", func() bool {
		s := d.Snapshot().Tenants[0]
		return s.Interfaces[0].Queues[0].RxPackets == 3000 && s.Interfaces[1].Queues[0].RxPackets == 3000
	})
	s := d.Snapshot().Tenants[0]
	if s.Interfaces[0].Egress != "b" || s.Interfaces[0].Queues[0].Tx[abi.Pass] != 3000 || s.Interfaces[1].Queues[0].Tx[abi.Pass] != 3000 {
		t.Errorf("snapshot: %+v", s)
	}
}

// TestReload100 reloads a plugin 100 times while sequence-numbered traffic
// flows: nothing is lost, nothing duplicated, and every reload is counted.
func TestReload100(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	d := startDaemon(t, oneInterface(sock, buildPlugin(t, dir, "tx", int(abi.TX), 0)), Options{})
	p := newPeer(t, sock, 0, false)
	const reloads = 100
	tr := &traffic{tx: p, rx: p, count: 40000, window: 128}
	var wg sync.WaitGroup
	wg.Add(1)
	errc := make(chan error, 1)
	go func() {
		defer wg.Done()
		ctx := context.Background()
		for i := 0; i < reloads; i++ {
			if err := d.Reload(ctx, "t", "memif0", "tx"); err != nil {
				errc <- err
				return
			}
		}
	}()
	tr.run(t, 30*time.Second)
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	lost, dup := tr.check()
	if lost != 0 || dup != 0 {
		t.Fatalf("lost %d, duplicated %d of %d", lost, dup, tr.count)
	}
	s := d.Snapshot()
	if got := s.Reloads["t"]["ok"]; got != reloads {
		t.Errorf("reloads counted = %d, want %d", got, reloads)
	}
	pl := s.Tenants[0].Interfaces[0].Plugins[0]
	if pl.Stats.Reloads != reloads {
		t.Errorf("pipeline reloads = %d, want %d", pl.Stats.Reloads, reloads)
	}
	if pl.Stats.Verdicts[abi.TX] != uint64(tr.count) {
		t.Errorf("TX verdicts = %d, want %d", pl.Stats.Verdicts[abi.TX], tr.count)
	}
}

// TestReloadFailureKeepsOld: a new version that fails init (or admission)
// leaves the old version running, and the failure is reported and counted.
func TestReloadFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	file := buildPlugin(t, dir, "tx", int(abi.TX), 0)
	d := startDaemon(t, oneInterface(sock, file), Options{})
	p := newPeer(t, sock, 0, false)

	buildPlugin(t, dir, "tx", int(abi.TX), -22) // same file, mw_init now fails
	err := d.Reload(context.Background(), "t", "memif0", "tx")
	if err == nil || !strings.Contains(err.Error(), "old version keeps running") {
		t.Fatalf("reload with failing init: %v", err)
	}
	if err := os.WriteFile(file, []byte("not wasm"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = d.Reload(context.Background(), "t", "memif0", "tx")
	var ae *host.AdmissionError
	if !errors.As(err, &ae) {
		t.Fatalf("reload of garbage: %v, want an *AdmissionError", err)
	}
	tr := &traffic{tx: p, rx: p, count: 1000}
	tr.run(t, 10*time.Second)
	if lost, dup := tr.check(); lost != 0 || dup != 0 {
		t.Fatalf("after failed reloads: lost %d, duplicated %d", lost, dup)
	}
	s := d.Snapshot()
	if s.Reloads["t"]["load_failed"] != 2 || s.Reloads["t"]["ok"] != 0 { // admission probes mw_init, so both fail at load
		t.Errorf("reload counts = %v", s.Reloads)
	}
	if s.Loads["t"]["malformed"] != 1 {
		t.Errorf("load counts = %v", s.Loads)
	}
}

// TestWatchReloads: writing a new version of a watched plugin file reloads it.
func TestWatchReloads(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	buildPlugin(t, dir, "v", int(abi.Drop), 0)
	d := startDaemon(t, oneInterface(sock, filepath.Join(dir, "v.wasm")), Options{Watch: true})
	p := newPeer(t, sock, 0, false)
	buildPlugin(t, dir, "v", int(abi.TX), 0) // replaced by rename, as build tools do
	memiftest.WaitFor(t, 10*time.Second, "a reload after the file changed", func() bool { return d.Snapshot().Reloads["t"]["ok"] == 1 })
	tr := &traffic{tx: p, rx: p, count: 500}
	tr.run(t, 10*time.Second)
	if lost, dup := tr.check(); lost != 0 || dup != 0 {
		t.Fatalf("new version does not reflect: lost %d, duplicated %d", lost, dup)
	}
}

// TestShutdownDrainsAndDisconnects: Close ends the peer's connection with a
// DISCONNECT and leaves no worker behind.
func TestShutdownDrainsAndDisconnects(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	d := startDaemon(t, oneInterface(sock, buildPlugin(t, dir, "tx", int(abi.TX), 0)), Options{})
	gone := make(chan error, 1)
	s, err := memif.NewSocket(memif.SocketConfig{Path: sock, ReconnectInterval: -1, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ifc, err := s.NewInterface(memif.InterfaceConfig{Name: "peer", OnDisconnect: func(_ *memif.Interface, err error) { gone <- err }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ifc.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	txq, _ := ifc.TxQueue(0)
	txq.WritePackets([][]byte{frame(0), frame(1)})
	if err := d.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	select {
	case err := <-gone:
		var de *memif.DisconnectError
		if !errors.As(err, &de) || !de.Remote {
			t.Errorf("peer saw %v, want a remote DISCONNECT", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("peer never saw the disconnect")
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket file left behind: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if err := d.Reload(ctx, "t", "memif0", "tx"); !errors.Is(err, ErrClosed) {
		t.Errorf("reload after close: %v", err)
	}
}

// TestSlaveReconnects: the master peer vanishes mid-traffic; the daemon keeps
// running and its slave interface reconnects to the next master.
func TestSlaveReconnects(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	cfg := oneInterface(sock, buildPlugin(t, dir, "tx", int(abi.TX), 0))
	cfg.Tenants[0].Interfaces[0].Role = "slave"
	d := startDaemon(t, cfg, Options{})
	p := newPeer(t, sock, 0, true)
	txq, _ := p.ifc.TxQueue(0)
	for i := 0; i < 20; i++ {
		txq.WritePackets([][]byte{frame(uint64(i))})
	}
	p.close() // vanish, possibly with packets in flight
	p2 := newPeer(t, sock, 0, true)
	memiftest.WaitFor(t, 10*time.Second, "the daemon to reconnect", func() bool { return d.Snapshot().Tenants[0].Interfaces[0].Connected })
	tr := &traffic{tx: p2, rx: p2, count: 1000}
	tr.run(t, 10*time.Second)
	if lost, dup := tr.check(); lost != 0 || dup != 0 {
		t.Fatalf("after reconnect: lost %d, duplicated %d", lost, dup)
	}
	if c := d.Snapshot().Tenants[0].Interfaces[0].Memif.Connects; c < 2 {
		t.Errorf("connects = %d, want ≥ 2", c)
	}
}

// TestBadInput: each broken setup is refused before anything runs, with an
// error naming what is wrong.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	good := buildPlugin(t, dir, "tx", int(abi.TX), 0)
	garbage := filepath.Join(dir, "garbage.wasm")
	os.WriteFile(garbage, []byte("\x00asm\x01\x00\x00\x00\xff"), 0o644)
	initFails := buildPlugin(t, dir, "initfails", int(abi.TX), -5)
	busy := filepath.Join(dir, "busy.sock")
	l, err := net.Listen("unixpacket", busy)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tests := []struct {
		name string
		cfg  *config.Config
		want []string
	}{
		{"missing plugin file", oneInterface(filepath.Join(dir, "s1.sock"), filepath.Join(dir, "nope.wasm")), []string{`plugin "nope"`, "no such file"}},
		{"plugin fails admission", oneInterface(filepath.Join(dir, "s2.sock"), garbage), []string{`plugin "garbage"`, "garbage.wasm"}},
		{"plugin init fails", oneInterface(filepath.Join(dir, "s3.sock"), initFails), []string{`interface "memif0"`, "mw_init"}},
		{"socket path in use", oneInterface(busy, good), []string{`interface "memif0"`, busy}},
		{"socket directory missing", oneInterface(filepath.Join(dir, "no", "such", "dir.sock"), good), []string{`interface "memif0"`}},
		{"invalid config", &config.Config{Tenants: []config.Tenant{{Name: "t"}}}, []string{"tenants[0].interfaces"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			d, err := New(ctx, tt.cfg, Options{Logger: quietLogger()})
			if err == nil {
				d.Close()
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestControlAndUnknownNames: control messages reach the plugin; unknown
// names are ErrNotFound.
func TestControlAndUnknownNames(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	d := startDaemon(t, oneInterface(sock, buildPlugin(t, dir, "tx", int(abi.TX), 0)), Options{})
	ctx := context.Background()
	reply, err := d.Control(ctx, "t", "memif0", "tx", []byte("ping"))
	if err != nil || string(reply) != "ping" {
		t.Fatalf("control: %q, %v", reply, err)
	}
	for _, c := range [][3]string{{"x", "memif0", "tx"}, {"t", "x", "tx"}, {"t", "memif0", "x"}} {
		if _, err := d.Control(ctx, c[0], c[1], c[2], nil); !errors.Is(err, ErrNotFound) {
			t.Errorf("control %v: %v, want ErrNotFound", c, err)
		}
		if err := d.Reload(ctx, c[0], c[1], c[2]); !errors.Is(err, ErrNotFound) {
			t.Errorf("reload %v: %v, want ErrNotFound", c, err)
		}
	}
}

// TestLoadUnload: adding a DROP plugin in front stops the reflection;
// removing it restores it, without touching the connection.
func TestLoadUnload(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	d := startDaemon(t, oneInterface(sock, buildPlugin(t, dir, "tx", int(abi.TX), 0)), Options{})
	p := newPeer(t, sock, 0, false)
	ctx := context.Background()
	drop := buildPlugin(t, dir, "drop", int(abi.Drop), 0)
	if err := d.LoadPlugin(ctx, "t", "memif0", config.Plugin{File: drop}, 0); err != nil {
		t.Fatal(err)
	}
	if err := d.LoadPlugin(ctx, "t", "memif0", config.Plugin{File: drop}, 0); err == nil {
		t.Error("loading a duplicate name succeeded")
	}
	txq, _ := p.ifc.TxQueue(0)
	txq.WritePackets([][]byte{frame(0), frame(1)})
	memiftest.WaitFor(t, 10*time.Second, "2 drops", func() bool {
		pl := d.Snapshot().Tenants[0].Interfaces[0].Plugins
		return len(pl) == 2 && pl[0].Name == "drop" && pl[0].Stats.Verdicts[abi.Drop] == 2
	})
	if err := d.UnloadPlugin(ctx, "t", "memif0", "drop"); err != nil {
		t.Fatal(err)
	}
	tr := &traffic{tx: p, rx: p, count: 500}
	tr.run(t, 10*time.Second)
	if lost, dup := tr.check(); lost != 0 || dup != 0 {
		t.Fatalf("after unload: lost %d, duplicated %d", lost, dup)
	}
	if got := d.Config().Tenants[0].Interfaces[0].Plugins; len(got) != 1 || got[0].PluginName() != "tx" {
		t.Errorf("running config plugins = %+v", got)
	}
	if c := d.Snapshot().Tenants[0].Interfaces[0].Memif.Connects; c != 1 {
		t.Errorf("connects = %d: the connection was disturbed", c)
	}
}

// TestApplyDiff: changing one interface's plugin config reloads only that
// plugin; the untouched tenant keeps its connection and counters.
func TestApplyDiff(t *testing.T) {
	dir := t.TempDir()
	tx := buildPlugin(t, dir, "tx", int(abi.TX), 0)
	mk := func(cfgB string) *config.Config {
		return &config.Config{Tenants: []config.Tenant{
			{Name: "a", Interfaces: []config.Interface{{Name: "i", Socket: filepath.Join(dir, "a.sock"), Role: "master", Plugins: []config.Plugin{{File: tx}}}}},
			{Name: "b", Interfaces: []config.Interface{{Name: "i", Socket: filepath.Join(dir, "b.sock"), Role: "master", Plugins: []config.Plugin{{File: tx, Config: cfgB}}}}},
		}}
	}
	d := startDaemon(t, mk("one"), Options{})
	pa := newPeer(t, filepath.Join(dir, "a.sock"), 0, false)
	newPeer(t, filepath.Join(dir, "b.sock"), 0, false)
	tr := &traffic{tx: pa, rx: pa, count: 100}
	tr.run(t, 5*time.Second)
	memiftest.WaitFor(t, 10*time.Second, "the worker's counters", func() bool { return d.Snapshot().Tenants[0].Interfaces[0].Queues[0].RxPackets == 100 })

	changes, err := d.Apply(context.Background(), mk("two"))
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].Action != "reload" || changes[0].Tenant != "b" {
		t.Fatalf("changes = %v, want one reload in tenant b", changes)
	}
	s := d.Snapshot()
	a := s.Tenants[0].Interfaces[0]
	if a.Memif.Connects != 1 || a.Queues[0].RxPackets != 100 || a.Plugins[0].Stats.Reloads != 0 {
		t.Errorf("tenant a was disturbed: %+v", a)
	}
	if s.Tenants[1].Interfaces[0].Plugins[0].Stats.Reloads != 1 {
		t.Errorf("tenant b plugin not reloaded")
	}
	// Same config again: nothing to do.
	if changes, err := d.Apply(context.Background(), mk("two")); err != nil || len(changes) != 0 {
		t.Errorf("re-apply: %v, %v", changes, err)
	}
	// Removing tenant b closes it; a keeps running.
	c := mk("two")
	c.Tenants = c.Tenants[:1]
	if changes, err := d.Apply(context.Background(), c); err != nil || len(changes) != 1 || changes[0].Action != "remove" {
		t.Errorf("remove: %v, %v", changes, err)
	}
	if n := len(d.Snapshot().Tenants); n != 1 {
		t.Errorf("tenants = %d", n)
	}
}

// waitUp waits until every interface of d forwards.
func waitUp(t testing.TB, d *Daemon) {
	t.Helper()
	memiftest.WaitFor(t, 10*time.Second, "every interface up", func() bool {
		for _, tn := range d.Snapshot().Tenants {
			for _, in := range tn.Interfaces {
				if !in.Connected {
					return false
				}
			}
		}
		return true
	})
}

// TestFewerQueuesNegotiated: the daemon offers 2 queues, the peer takes 1;
// traffic flows and the second slot runs no worker.
func TestFewerQueuesNegotiated(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	cfg := oneInterface(sock, buildPlugin(t, dir, "tx", int(abi.TX), 0))
	cfg.Tenants[0].Interfaces[0].Queues = 2
	d := startDaemon(t, cfg, Options{})
	p := newPeer(t, sock, 0, false) // asks for 1 queue each way
	memiftest.WaitFor(t, 10*time.Second, "the second worker to stop", func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		ws := d.tenants[0].ports[0].workers
		return ws[0].hw != nil && ws[1].hw == nil
	})
	tr := &traffic{tx: p, rx: p, count: 1000}
	tr.run(t, 10*time.Second)
	if lost, dup := tr.check(); lost != 0 || dup != 0 {
		t.Fatalf("lost %d, duplicated %d", lost, dup)
	}
}

// BenchmarkSnapshot measures the control-plane copy a scrape or an admin
// request makes of one running interface with one plugin.
func BenchmarkSnapshot(b *testing.B) {
	dir := b.TempDir()
	d := startDaemon(b, oneInterface(filepath.Join(dir, "memif.sock"), buildPlugin(b, dir, "tx", int(abi.TX), 0)), Options{})
	b.ReportAllocs()
	for b.Loop() {
		d.Snapshot()
	}
}

// TestRedirect: a plugin on interface a REDIRECTs every packet to port 1
// (interface b); with b off the allow-list the packets become ABORTED.
func TestRedirect(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.sock"), filepath.Join(dir, "b.sock")
	redirect := hosttest.BuildRedirect(t, dir, "redirect", int(abi.Redirect), 0, 1)
	mk := func(allow []string) *config.Config {
		return &config.Config{Tenants: []config.Tenant{{Name: "t", Interfaces: []config.Interface{
			{Name: "a", Socket: a, Role: "master", Redirect: allow, Plugins: []config.Plugin{{File: redirect}}},
			{Name: "b", Socket: b, Role: "master"},
		}}}}
	}
	d := startDaemon(t, mk([]string{"b"}), Options{})
	pa := newPeer(t, a, 0, false)
	pb := newPeer(t, b, 0, false)
	waitUp(t, d)
	tr := &traffic{tx: pa, rx: pb, count: 2000}
	tr.run(t, 10*time.Second)
	if lost, dup := tr.check(); lost != 0 || dup != 0 {
		t.Fatalf("a→b by REDIRECT: lost %d, duplicated %d", lost, dup)
	}

	// Allow only a itself: port 1 is now outside the list.
	if _, err := d.Apply(context.Background(), mk([]string{"a"})); err != nil {
		t.Fatal(err)
	}
	pa = newPeer(t, a, 0, false) // only a was reopened; b kept its peer
	waitUp(t, d)
	txq, _ := pa.ifc.TxQueue(0)
	txq.WritePackets([][]byte{frame(0), frame(1)})
	memiftest.WaitFor(t, 10*time.Second, "2 aborted verdicts", func() bool {
		pl := d.Snapshot().Tenants[0].Interfaces[0].Plugins[0].Stats
		return pl.Verdicts[abi.Aborted] == 2 && pl.Invalid[host.ReasonRedirect] == 2
	})
}

// TestFaultIsLogged: a plugin that traps on every burst fails closed (its
// packets are dropped and counted) and the fault reaches the log.
func TestFaultIsLogged(t *testing.T) {
	old := faultLogInterval
	faultLogInterval = 20 * time.Millisecond
	defer func() { faultLogInterval = old }()
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	var logBuf hosttest.SyncBuffer
	d := startDaemon(t, oneInterface(sock, buildPlugin(t, dir, "trap", hosttest.Trap, 0)),
		Options{Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
	p := newPeer(t, sock, 0, false)
	txq, _ := p.ifc.TxQueue(0)
	txq.WritePackets([][]byte{frame(0), frame(1), frame(2)})
	memiftest.WaitFor(t, 10*time.Second, "the fault in the log", func() bool { return strings.Contains(logBuf.String(), "plugin faulted") })
	memiftest.WaitFor(t, 10*time.Second, "3 fail_closed rx drops", func() bool {
		return d.Snapshot().Tenants[0].Interfaces[0].Queues[0].RxDrops[dataplane.RxDropFailClosed] == 3
	})
	pl := d.Snapshot().Tenants[0].Interfaces[0].Plugins[0]
	if pl.Stats.Faults == 0 || pl.Stats.FaultReasons[host.FaultTrap] == 0 || pl.Fault == "" {
		t.Errorf("fault not recorded: %+v", pl)
	}
	if !strings.Contains(logBuf.String(), "plugin=trap") || !strings.Contains(logBuf.String(), "unreachable") {
		t.Errorf("log line lacks the plugin or the trap:\n%s", logBuf.String())
	}
}

// TestApplyChangedInterface: changing one interface's memif settings
// reopens only that interface; the other interface of the tenant keeps its
// connection and the bridge works again afterwards.
func TestApplyChangedInterface(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.sock"), filepath.Join(dir, "b.sock")
	pass := buildPlugin(t, dir, "pass", int(abi.Pass), 0)
	mk := func(ringB int) *config.Config {
		return &config.Config{Tenants: []config.Tenant{{Name: "t", Interfaces: []config.Interface{
			{Name: "a", Socket: a, Role: "master", Egress: "b", Plugins: []config.Plugin{{File: pass}}},
			{Name: "b", Socket: b, Role: "master", Egress: "a", RingSize: ringB},
		}}}}
	}
	d := startDaemon(t, mk(512), Options{})
	pa := newPeer(t, a, 0, false)
	newPeer(t, b, 0, false)
	waitUp(t, d)
	changes, err := d.Apply(context.Background(), mk(256))
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].Action != "restart" || changes[0].Interface != "b" {
		t.Fatalf("changes = %v, want a restart of interface b only", changes)
	}
	pb := newPeer(t, b, 0, false) // the old peer was disconnected
	waitUp(t, d)
	tr := &traffic{tx: pa, rx: pb, count: 1000}
	tr.run(t, 10*time.Second)
	if lost, dup := tr.check(); lost != 0 || dup != 0 {
		t.Fatalf("a→b after b was reopened: lost %d, duplicated %d", lost, dup)
	}
	s := d.Snapshot().Tenants[0]
	if s.Interfaces[0].Memif.Connects != 1 {
		t.Errorf("interface a reconnected (%d connects): it should not have been touched", s.Interfaces[0].Memif.Connects)
	}
	if s.Interfaces[1].Egress != "a" || s.Interfaces[0].Egress != "b" {
		t.Errorf("egress lost: a→%q b→%q", s.Interfaces[0].Egress, s.Interfaces[1].Egress)
	}
}

// TestCloseLeavesNothing: after Close (and the peer's), every goroutine the
// daemon started has ended and every descriptor it opened is closed.
func TestCloseLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	plugin := buildPlugin(t, dir, "tx", int(abi.TX), 0)
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skipf("no /proc/self/fd to count descriptors: %v", err)
		}
		return len(ents)
	}
	goroutines, files := runtime.NumGoroutine(), fds()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := New(ctx, oneInterface(sock, plugin), Options{Logger: quietLogger(), Watch: true, ReconnectInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p := newPeer(t, sock, 0, false)
	tr := &traffic{tx: p, rx: p, count: 300}
	tr.run(t, 5*time.Second)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	p.close()
	memiftest.WaitFor(t, 10*time.Second, "goroutines and descriptors to go", func() bool {
		return runtime.NumGoroutine() <= goroutines && fds() <= files
	})
}

// TestLoadUnderTraffic: adding and removing a plugin while the peer keeps
// the ring busy stops each worker between bursts (promptly, not after a
// timeout) and loses nothing.
func TestLoadUnderTraffic(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	d := startDaemon(t, oneInterface(sock, buildPlugin(t, dir, "tx", int(abi.TX), 0)), Options{})
	p := newPeer(t, sock, 0, false)
	pass := buildPlugin(t, dir, "pass", int(abi.Pass), 0)
	tr := &traffic{tx: p, rx: p, count: 100000, window: 900} // below the 1024-slot ring, with room for a 32-packet write
	errc := make(chan error, 1)
	go func() {
		ctx := context.Background()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			tr.mu.Lock()
			flowing := tr.received > 1000
			tr.mu.Unlock()
			if flowing {
				break
			}
		}
		for i := 0; i < 5; i++ {
			start := time.Now()
			if err := d.LoadPlugin(ctx, "t", "memif0", config.Plugin{File: pass}, 0); err != nil {
				errc <- err
				return
			}
			if err := d.UnloadPlugin(ctx, "t", "memif0", "pass"); err != nil {
				errc <- err
				return
			}
			if dt := time.Since(start); dt > 2*time.Second {
				errc <- fmt.Errorf("load and unload took %v: a worker did not stop between bursts", dt)
				return
			}
		}
		errc <- nil
	}()
	tr.run(t, 30*time.Second)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if lost, dup := tr.check(); lost != 0 || dup != 0 {
		in := d.Snapshot().Tenants[0].Interfaces[0]
		t.Fatalf("lost %d, duplicated %d of %d; queues %+v; memif %+v", lost, dup, tr.count, in.Queues, in.Memif)
	}
}

// TestConcurrentControl hammers the control plane from several goroutines
// while traffic flows (run it with -race): reloads, control messages,
// snapshots, loads and unloads interleave without a race, a deadlock or a
// lost packet.
func TestConcurrentControl(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	d := startDaemon(t, oneInterface(sock, buildPlugin(t, dir, "tx", int(abi.TX), 0)), Options{})
	pass := buildPlugin(t, dir, "pass", int(abi.Pass), 0)
	p := newPeer(t, sock, 0, false)
	ctx := context.Background()
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	run := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if err := f(); err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrExists) {
					errc <- err
					return
				}
			}
		}()
	}
	run(func() error { return d.Reload(ctx, "t", "memif0", "tx") })
	run(func() error { _, err := d.Control(ctx, "t", "memif0", "tx", []byte("x")); return err })
	run(func() error { d.Snapshot(); return nil })
	run(func() error {
		if err := d.LoadPlugin(ctx, "t", "memif0", config.Plugin{File: pass}, -1); err != nil {
			return err
		}
		return d.UnloadPlugin(ctx, "t", "memif0", "pass")
	})
	tr := &traffic{tx: p, rx: p, count: 20000, window: 512}
	tr.run(t, 30*time.Second)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if lost, dup := tr.check(); lost != 0 || dup != 0 {
		t.Fatalf("lost %d, duplicated %d", lost, dup)
	}
}

// TestPeerVanishesMidTraffic: peers that close while frames are in flight,
// again and again, leave the daemon running in either role, and the next
// peer is served.
func TestPeerVanishesMidTraffic(t *testing.T) {
	for _, role := range []string{"master", "slave"} {
		t.Run(role, func(t *testing.T) {
			dir := t.TempDir()
			sock := filepath.Join(dir, "memif.sock")
			cfg := oneInterface(sock, buildPlugin(t, dir, "tx", int(abi.TX), 0))
			cfg.Tenants[0].Interfaces[0].Role = role
			d := startDaemon(t, cfg, Options{})
			rounds := 10
			if testing.Short() {
				rounds = 5
			}
			peerMaster := role == "slave"
			for r := 0; r < rounds; r++ {
				p := newPeer(t, sock, 0, peerMaster)
				txq, _ := p.ifc.TxQueue(0)
				stop := make(chan struct{})
				sent := make(chan struct{})
				go func() {
					defer close(sent)
					pkts := [][]byte{frame(0), frame(1), frame(2), frame(3)}
					for {
						select {
						case <-stop:
							return
						default:
						}
						if _, err := txq.WritePackets(pkts); err != nil && !errors.Is(err, memif.ErrRingFull) {
							return
						}
					}
				}()
				time.Sleep(time.Duration(5+r%10) * time.Millisecond)
				p.close() // vanish with frames in both rings
				close(stop)
				<-sent
			}
			p := newPeer(t, sock, 0, peerMaster)
			waitUp(t, d)
			tr := &traffic{tx: p, rx: p, count: 1000}
			tr.run(t, 10*time.Second)
			if lost, dup := tr.check(); lost != 0 || dup != 0 {
				t.Fatalf("after %d vanished peers: lost %d, duplicated %d", rounds, lost, dup)
			}
			if c := d.Snapshot().Tenants[0].Interfaces[0].Memif.Connects; c != uint64(rounds+1) {
				t.Errorf("connects = %d, want %d", c, rounds+1)
			}
		})
	}
}

// TestStackBudgets: a plugin's stack budget and its tenant's reach the host.
// The same plugin, nesting 200 calls (about 14 KiB of estimated frames) per
// burst, faults with reason "stack" under a 4 KiB budget, set on the plugin
// or inherited from the tenant, and runs under the default 256 KiB.
func TestStackBudgets(t *testing.T) {
	dir := t.TempDir()
	const depth, small = 200, 4096
	small1 := hosttest.BuildDeep(t, dir, "small", int(abi.Pass), depth)
	deflt := hosttest.BuildDeep(t, dir, "default", int(abi.TX), depth)
	inherit := hosttest.BuildDeep(t, dir, "inherit", int(abi.TX), depth)
	sockA, sockB := filepath.Join(dir, "a.sock"), filepath.Join(dir, "b.sock")
	cfg := &config.Config{Tenants: []config.Tenant{
		{Name: "a", Interfaces: []config.Interface{{Name: "memif0", Socket: sockA, Role: "master", Plugins: []config.Plugin{
			// Fail open, so that the packets the small budget faults on still
			// reach the stage with the default budget.
			{File: small1, Stack: small, FailPolicy: "open"},
			{File: deflt},
		}}}},
		{Name: "b", Stack: small, Interfaces: []config.Interface{{Name: "memif0", Socket: sockB, Role: "master", Plugins: []config.Plugin{
			{File: inherit},
		}}}},
	}}
	d := startDaemon(t, cfg, Options{})
	for _, sock := range []string{sockA, sockB} {
		p := newPeer(t, sock, 0, false)
		txq, _ := p.ifc.TxQueue(0)
		if n, err := txq.WritePackets([][]byte{frame(0), frame(1), frame(2)}); n != 3 {
			t.Fatalf("%s: sent %d: %v", sock, n, err)
		}
	}
	memiftest.WaitFor(t, 10*time.Second, "three packets through each pipeline", func() bool {
		s := d.Snapshot()
		return s.Tenants[0].Interfaces[0].Plugins[1].Stats.Packets == 3 && s.Tenants[1].Interfaces[0].Plugins[0].Stats.FaultPackets == 3
	})
	s := d.Snapshot()
	a, b := s.Tenants[0].Interfaces[0].Plugins, s.Tenants[1].Interfaces[0].Plugins
	if st := a[0].Stats; st.FaultReasons[host.FaultStack] == 0 || st.Faults != st.FaultReasons[host.FaultStack] {
		t.Errorf("plugin with a %d-byte stack: faults %d, by reason %v; want every one %q", small, st.Faults, st.FaultReasons, host.FaultStack)
	}
	if st := a[1].Stats; st.Faults != 0 || st.Verdicts[abi.TX] != 3 {
		t.Errorf("plugin with the default stack: faults %d (%v), TX verdicts %d of 3", st.Faults, st.FaultReasons, st.Verdicts[abi.TX])
	}
	if st := b[0].Stats; st.FaultReasons[host.FaultStack] == 0 || st.Faults != st.FaultReasons[host.FaultStack] {
		t.Errorf("plugin of a tenant with a %d-byte stack: faults %d, by reason %v; want every one %q", small, st.Faults, st.FaultReasons, host.FaultStack)
	}
}

// TestTxRetryBounds: an interface's tx_retries and tx_retry_time reach the
// host's worker. Each peer sends 48 packets that a TX plugin reflects into
// its 16-slot rx ring and never reads them. With tx_retries 2 (and a second
// to spare) every packet that does not fit is retried exactly twice; with
// tx_retry_time 1ns (and no count cap) a burst's wait ends at its first
// retry or so, where the host's 1 ms default would retry dozens of times.
func TestTxRetryBounds(t *testing.T) {
	dir := t.TempDir()
	plugin := buildPlugin(t, dir, "tx", int(abi.TX), 0)
	iface := func(sock string, retries int, retryTime time.Duration) []config.Interface {
		return []config.Interface{{Name: "memif0", Socket: sock, Role: "slave", RingSize: 16,
			TxRetries: retries, TxRetryTime: retryTime, Plugins: []config.Plugin{{File: plugin}}}}
	}
	sockC, sockT := filepath.Join(dir, "count.sock"), filepath.Join(dir, "time.sock")
	d := startDaemon(t, &config.Config{Tenants: []config.Tenant{
		{Name: "count", Interfaces: iface(sockC, 2, time.Second)},
		{Name: "time", Interfaces: iface(sockT, 0, time.Nanosecond)},
	}}, Options{})
	const total = 48
	for ti, sock := range []string{sockC, sockT} {
		p := newPeer(t, sock, 0, true)
		txq, _ := p.ifc.TxQueue(0)
		rx := func() uint64 { return d.Snapshot().Tenants[ti].Interfaces[0].Queues[0].RxPackets }
		for sent := 0; sent < total; {
			var n int
			var err error
			// As master, the peer sends into buffers the daemon hands it;
			// it may not have handed them yet.
			memiftest.WaitFor(t, 10*time.Second, fmt.Sprintf("%s: room for packet %d", sock, sent), func() bool {
				n, err = txq.WritePackets([][]byte{frame(uint64(sent)), frame(uint64(sent + 1)), frame(uint64(sent + 2)), frame(uint64(sent + 3))})
				return n > 0 || !errors.Is(err, memif.ErrRingFull)
			})
			if n == 0 {
				t.Fatalf("%s: after %d packets: %v", sock, sent, err)
			}
			sent += n
			// One small burst at a time, each after the worker took the last.
			memiftest.WaitFor(t, 10*time.Second, fmt.Sprintf("%s: the worker to take %d packets", sock, sent), func() bool { return rx() == uint64(sent) })
		}
	}
	memiftest.WaitFor(t, 10*time.Second, "every packet sent or dropped", func() bool {
		for _, tn := range d.Snapshot().Tenants {
			q := tn.Interfaces[0].Queues[0]
			if q.Tx[abi.TX]+q.Dropped[abi.TX] != total {
				return false
			}
		}
		return true
	})
	s := d.Snapshot()
	qc, qt := s.Tenants[0].Interfaces[0].Queues[0], s.Tenants[1].Interfaces[0].Queues[0]
	if drops := qc.TxDrops[dataplane.TxDropRingFull]; drops == 0 || qc.TxRingFull != 2*drops {
		t.Errorf("tx_retries 2: %d ring_full drops, %d retries; want some drops, each after 2 retries", drops, qc.TxRingFull)
	}
	if drops := qt.TxDrops[dataplane.TxDropRingFull]; drops == 0 || qt.TxRingFull == 0 || qt.TxRingFull > 2*qt.RxBursts {
		t.Errorf("tx_retry_time 1ns: %d ring_full drops, %d retries in %d bursts; want some drops and at most about one retry per burst",
			drops, qt.TxRingFull, qt.RxBursts)
	}
}

// TestQuarantineOnTheDaemonsClock: Options.Clock drives the plugins' restart
// backoff and quarantine, so they are tested without sleeping: a plugin that
// traps on every burst is restarted only once the clock has passed its
// backoff, is quarantined after host.DefaultQuarantineFaults faults within
// the window, stays so however long the clock runs, and a reload lifts it.
func TestQuarantineOnTheDaemonsClock(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	clock := memiftest.NewClock()
	d := startDaemon(t, oneInterface(sock, buildPlugin(t, dir, "trap", hosttest.Trap, 0)), Options{Clock: clock})
	p := newPeer(t, sock, 0, false)
	txq, _ := p.ifc.TxQueue(0)
	plugin := func() PluginSnapshot { return d.Snapshot().Tenants[0].Interfaces[0].Plugins[0] }
	sent := uint64(0)
	send := func() {
		t.Helper()
		if n, err := txq.WritePackets([][]byte{frame(sent)}); n != 1 {
			t.Fatalf("peer sent %d packets: %v", n, err)
		}
		sent++
		memiftest.WaitFor(t, 10*time.Second, "the packet dropped", func() bool {
			return d.Snapshot().Tenants[0].Interfaces[0].Queues[0].RxDrops[dataplane.RxDropFailClosed] == sent
		})
	}
	send()
	if st := plugin().Stats; st.Faults != 1 || st.Restarts != 0 {
		t.Fatalf("after the first burst: faults %d restarts %d, want 1 and 0", st.Faults, st.Restarts)
	}
	send() // within the backoff: dropped without a restart
	if st := plugin().Stats; st.Faults != 1 || st.Restarts != 0 {
		t.Fatalf("within the backoff: faults %d restarts %d, want 1 and 0", st.Faults, st.Restarts)
	}
	for i := 1; i < host.DefaultQuarantineFaults; i++ {
		clock.Advance(10 * time.Second) // the longest backoff; the window is a minute
		send()
	}
	pl := plugin()
	if pl.Stats.Faults != host.DefaultQuarantineFaults || pl.Stats.Quarantined != 1 || !strings.Contains(pl.Fault, "quarantined") {
		t.Fatalf("after %d faults: %+v, fault %q; want quarantined", host.DefaultQuarantineFaults, pl.Stats, pl.Fault)
	}
	clock.Advance(time.Hour)
	send()
	if st := plugin().Stats; st.Faults != host.DefaultQuarantineFaults || st.Quarantined != 1 {
		t.Fatalf("an hour later: %+v; a quarantine lasts until an operator acts", st)
	}
	if err := d.Reload(context.Background(), "t", "memif0", "trap"); err != nil {
		t.Fatal(err)
	}
	if pl := plugin(); pl.Stats.Quarantined != 0 || pl.Fault != "" || pl.Stats.Reloads != 1 || !pl.LoadedAt.Equal(clock.Now()) {
		t.Fatalf("after a reload: %+v, fault %q, loaded at %v (clock %v)", pl.Stats, pl.Fault, pl.LoadedAt, clock.Now())
	}
}

func TestOneLine(t *testing.T) {
	in := "wasm error: unreachable\nwasm stack trace:\n\tp.mw_process(i32) i32\n\n"
	if got, want := oneLine(in), "wasm error: unreachable | wasm stack trace: | p.mw_process(i32) i32"; got != want {
		t.Errorf("oneLine = %q, want %q", got, want)
	}
}
