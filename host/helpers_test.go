package host

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/host/internal/wasmtest"
)

// Actions of script.wat, chosen by a packet's second byte.
const (
	actNone     = 0
	actWrite    = 1 // write 0xee at data[2]
	actPush4    = 2 // prepend 4 bytes 0xab (data -= 4, len += 4)
	actLenOver  = 3 // len = cap + 1
	actDataZero = 4 // data = 0
	actRedirect = 5 // meta = u16 at data[2:4]
	actTrap     = 6 // unreachable
	actShrink   = 7 // len -= 1
	actErrno    = 8 // return -4 from mw_process
	actSpin     = 9 // loop forever (only with fuel metering)
)

type scriptOpts struct {
	imports, max, version, batch, window, process string
}

func scriptWAT(t testing.TB, o scriptOpts) []byte {
	t.Helper()
	src, err := os.ReadFile("testdata/script.wat")
	if err != nil {
		t.Fatal(err)
	}
	def := func(s, d string) string {
		if s == "" {
			return d
		}
		return s
	}
	r := strings.NewReplacer(
		"{{IMPORTS}}", o.imports,
		"{{MAX}}", def(o.max, "1024"),
		"{{VERSION}}", def(o.version, "1"),
		"{{BATCH}}", def(o.batch, "65536"),
		"{{WINDOW}}", def(o.window, "1048576"),
		"{{PROCESS}}", def(o.process, "mw_process"),
	)
	return wasmtest.WAT(t, r.Replace(string(src)))
}

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// syncBuffer is a log sink safe for the engine's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeClock is a Clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1e9, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newEngine(t testing.TB) (*Engine, *syncBuffer) {
	t.Helper()
	return startEngine(t, EngineConfig{})
}

// newEngineWith is newEngine with the policies' clock set (nil: the
// system clock).
func newEngineWith(t testing.TB, clock Clock) (*Engine, *syncBuffer) {
	t.Helper()
	return startEngine(t, EngineConfig{Clock: clock})
}

// newCachedEngine keeps compiled code on disk between test runs: compiling
// the 2 MB Go guest takes a minute under the race detector. clock may be nil.
func newCachedEngine(t testing.TB, clock Clock) (*Engine, *syncBuffer) {
	t.Helper()
	return startEngine(t, EngineConfig{CacheDir: wasmtest.CacheDir(t), Clock: clock})
}

// startEngine starts an engine with cfg, its logs into the returned buffer,
// closed when the test ends.
func startEngine(t testing.TB, cfg EngineConfig) (*Engine, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
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
