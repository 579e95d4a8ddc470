package host

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
)

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func newEngine(t testing.TB) (*Engine, *hosttest.SyncBuffer) {
	t.Helper()
	return startEngine(t, EngineConfig{})
}

// newEngineWith is newEngine with the policies' clock set (nil: the
// system clock).
func newEngineWith(t testing.TB, clock Clock) (*Engine, *hosttest.SyncBuffer) {
	t.Helper()
	return startEngine(t, EngineConfig{Clock: clock})
}

// newCachedEngine keeps compiled code on disk between test runs: compiling
// the 2 MB Go guest takes a minute under the race detector. clock may be nil.
func newCachedEngine(t testing.TB, clock Clock) (*Engine, *hosttest.SyncBuffer) {
	t.Helper()
	return startEngine(t, EngineConfig{CacheDir: hosttest.CacheDir(t), Clock: clock})
}

// startEngine starts an engine with cfg, its logs into the returned buffer,
// closed when the test ends.
func startEngine(t testing.TB, cfg EngineConfig) (*Engine, *hosttest.SyncBuffer) {
	t.Helper()
	logs := &hosttest.SyncBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	e, err := NewEngine(context.Background(), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e, logs
}

func load(t testing.TB, e *Engine, wasm []byte, cfg *PluginConfig) *Module {
	t.Helper()
	m, err := e.Load(context.Background(), "test", wasm, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func pipeline(t testing.TB, mods ...*Module) *Pipeline {
	t.Helper()
	p, err := NewPipeline(context.Background(), mods...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

// packet makes a packet with 64 bytes of headroom and tailroom: first byte
// the verdict for script.wat, second the action, then payload.
func packet(verdict, action byte, payload ...byte) Packet {
	buf := make([]byte, 64+2+len(payload)+64)
	buf[64], buf[65] = verdict, action
	copy(buf[66:], payload)
	return Packet{Buf: buf, Off: 64, Len: uint32(2 + len(payload))}
}

// burstsInBackground runs bursts of 4 script-guest packets with verdict v
// through p until stop is called, which returns how many bursts ran and how
// many packets did not get v.
func burstsInBackground(p *Pipeline, v abi.Verdict) (stop func() (bursts, lost uint64)) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var bursts, lost uint64
	wg.Add(1)
	go func() {
		defer wg.Done()
		pk := make([]Packet, 4)
		for {
			select {
			case <-done:
				return
			default:
			}
			for i := range pk {
				pk[i] = packet(byte(v), hosttest.ActNone)
			}
			p.Process(&Burst{Packets: pk})
			bursts++
			for i := range pk {
				if pk[i].Verdict != v {
					lost++
				}
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		wg.Wait()
		return bursts, lost
	}
}
