package host

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/memif-wasm/memif-wasm/abi"
)

const maxLogLine = 1024 // longer guest log lines are cut

type guestLogKey struct{}

// guestLog rate-limits one instance's log lines with a token bucket, so a
// chatty or hostile guest can neither flood the log nor slow the host much.
type guestLog struct {
	mu      sync.Mutex
	l       *slog.Logger
	rate    float64
	tokens  float64
	last    time.Time
	clock   Clock
	dropped uint64
	// fuel, when the guest is metered, is charged for every log call: the
	// inserted code meters only wasm instructions, and a guest looping over
	// fd_write would otherwise spend host time for free. Only the goroutine
	// running the guest touches it.
	fuel api.MutableGlobal

	// reason is the last warning or error line (or stderr line) the guest
	// wrote since clearReason, kept even when the bucket drops the line: a
	// plugin that refuses its config or a control message says why there,
	// and its errno alone ("invalid argument") does not. A fixed array, so
	// keeping it allocates nothing.
	reason    [maxLogLine]byte
	reasonLen int
}

// clearReason forgets the last reason; call before a guest call whose
// refusal should carry the guest's own words.
func (g *guestLog) clearReason() {
	g.mu.Lock()
	g.reasonLen = 0
	g.mu.Unlock()
}

// takeReason returns the guest's last warning or error since clearReason.
func (g *guestLog) takeReason() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := string(g.reason[:g.reasonLen])
	g.reasonLen = 0
	return r
}

func (g *guestLog) keepReason(level slog.Level, msg []byte, source string) {
	if level < slog.LevelWarn && source != "stderr" {
		return
	}
	g.mu.Lock()
	g.reasonLen = copy(g.reason[:], msg)
	g.mu.Unlock()
}

// Fuel charged per guest log call or WASI write, and per byte written: about
// the host time they take at the default fuel rate.
const (
	logCallFuel = 1000
	logByteFuel = 1
)

// charge subtracts the cost of a host call of n bytes from the guest's fuel;
// the guest traps at its next charge point if that leaves it negative.
func (g *guestLog) charge(n int) {
	if g.fuel != nil {
		g.fuel.Set(uint64(int64(g.fuel.Get()) - logCallFuel - int64(n)*logByteFuel))
	}
}

func newGuestLog(l *slog.Logger, rate int, clock Clock) *guestLog {
	return &guestLog{l: l, rate: float64(rate), tokens: DefaultLogBurst, clock: clock}
}

// allow takes a token for one line and reports how many lines were dropped
// since the last one allowed. It is called before the line is made into a
// string, so that a flood the bucket drops costs no allocation: a hostile
// guest's stdout flood left 9,500 allocations per fault (BenchmarkFaultGarbage).
func (g *guestLog) allow() (dropped uint64, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock.Now()
	if !g.last.IsZero() {
		g.tokens = min(DefaultLogBurst, g.tokens+now.Sub(g.last).Seconds()*g.rate)
	}
	g.last = now
	if g.tokens < 1 {
		g.dropped++
		return 0, false
	}
	g.tokens--
	dropped, g.dropped = g.dropped, 0
	return dropped, true
}

// line logs one guest line from source if the bucket allows it.
func (g *guestLog) line(level slog.Level, msg []byte, source string) {
	g.keepReason(level, msg, source)
	dropped, ok := g.allow()
	if !ok {
		return
	}
	if dropped > 0 {
		g.l.Log(context.Background(), level, string(msg), "source", source, "dropped_before", dropped)
		return
	}
	g.l.Log(context.Background(), level, string(msg), "source", source)
}

// hostLog is memif_wasm.log(level, ptr, len).
func hostLog(ctx context.Context, m api.Module, stack []uint64) {
	g, _ := ctx.Value(guestLogKey{}).(*guestLog)
	if g == nil {
		return
	}
	level, ptr, n := int32(stack[0]), api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
	g.charge(int(n))
	if n > maxLogLine {
		n = maxLogLine
	}
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		if dropped, ok := g.allow(); ok {
			g.l.Warn("guest log call with a range outside its memory", "ptr", ptr, "len", n, "dropped_before", dropped)
		}
		return
	}
	level = max(abi.LogDebug, min(abi.LogError, level))
	g.line(slog.Level(level*4), b, "guest")
}

// writer returns a line-buffered WASI stdout/stderr that logs each line.
func (g *guestLog) writer(stream string) io.Writer { return &lineWriter{g: g, stream: stream} }

type lineWriter struct {
	g      *guestLog
	stream string
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.g.charge(len(p))
	for _, c := range p {
		if c == '\n' || len(w.buf) >= maxLogLine {
			w.g.line(slog.LevelInfo, w.buf, w.stream)
			w.buf = w.buf[:0]
			if c == '\n' {
				continue
			}
		}
		w.buf = append(w.buf, c)
	}
	return len(p), nil
}
