package host

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

// TestGuestLogRateLimit: a guest's stdout is cut into lines, at most
// DefaultLogBurst of them are logged at once, the first line logged after a
// refill says how many were dropped, and a dropped line costs no
// allocation (a flood must not feed the GC).
func TestGuestLogRateLimit(t *testing.T) {
	var out bytes.Buffer
	clock := memiftest.NewClock()
	g := newGuestLog(slog.New(slog.NewTextHandler(&out, nil)), 1, clock) // a line a second
	w := g.writer("stdout")
	for i := 0; i < DefaultLogBurst+7; i++ {
		w.Write([]byte("line\n"))
	}
	if n := strings.Count(out.String(), "msg=line"); n != DefaultLogBurst {
		t.Fatalf("%d lines logged from a burst of %d, want %d:\n%s", n, DefaultLogBurst+7, DefaultLogBurst, out.String())
	}
	if a := testing.AllocsPerRun(100, func() { w.Write([]byte("dropped\n")) }); a != 0 {
		t.Errorf("a dropped line allocates %.0f times, want 0", a)
	}
	clock.Advance(time.Second) // one token back
	out.Reset()
	w.Write([]byte("after\n"))
	w.Write([]byte("dropped again\n"))
	if got := out.String(); !strings.Contains(got, "msg=after") || !strings.Contains(got, "source=stdout") || !strings.Contains(got, "dropped_before=") || strings.Contains(got, "again") {
		t.Errorf("after one second: %q, want one line, with source=stdout and dropped_before", got)
	}
}
