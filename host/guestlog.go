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
	dropped uint64
	// fuel, when the guest is metered, is charged for every log call: the
	// inserted code meters only wasm instructions, and a guest looping over
	// fd_write would otherwise spend host time for free. Only the goroutine
	// running the guest touches it.
	fuel api.MutableGlobal
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

func newGuestLog(l *slog.Logger, rate int) *guestLog {
	return &guestLog{l: l, rate: float64(rate), tokens: DefaultLogBurst}
}

func (g *guestLog) emit(level slog.Level, msg string, attrs ...any) {
	g.mu.Lock()
	now := time.Now()
	if !g.last.IsZero() {
		g.tokens = min(DefaultLogBurst, g.tokens+now.Sub(g.last).Seconds()*g.rate)
	}
	g.last = now
	if g.tokens < 1 {
		g.dropped++
		g.mu.Unlock()
		return
	}
	g.tokens--
	dropped := g.dropped
	g.dropped = 0
	g.mu.Unlock()
	if dropped > 0 {
		attrs = append(attrs, "dropped_before", dropped)
	}
	g.l.Log(context.Background(), level, msg, attrs...)
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
		g.emit(slog.LevelWarn, "guest log call with a range outside its memory", "ptr", ptr, "len", n)
		return
	}
	level = max(abi.LogDebug, min(abi.LogError, level))
	g.emit(slog.Level(level*4), string(b), "source", "guest")
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
			w.g.emit(slog.LevelInfo, string(w.buf), "source", w.stream)
			w.buf = w.buf[:0]
			if c == '\n' {
				continue
			}
		}
		w.buf = append(w.buf, c)
	}
	return len(p), nil
}
