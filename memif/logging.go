package memif

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Connection attempts can come as fast as a peer (or anyone who can reach
// the socket) makes them, so their log lines are bounded: a line per state
// change, and repeats of the same outcome at most once per interval.
const (
	// refusedLogInterval bounds the lines about connections refused before
	// they named an interface, per socket.
	refusedLogInterval = time.Second
	// unreachableLogInterval is how often a slave that still cannot reach
	// its master says so again.
	unreachableLogInterval = 30 * time.Second
)

// logLimiter lets one line through per interval and counts the rest, which
// the next line reports as "suppressed".
type logLimiter struct {
	mu         sync.Mutex
	clock      Clock
	interval   time.Duration
	last       time.Time
	suppressed int
}

func (l *logLimiter) log(lg *slog.Logger, level slog.Level, msg string, args ...any) {
	if !lg.Enabled(context.Background(), level) {
		return
	}
	l.mu.Lock()
	now := l.clock.Now()
	if !l.last.IsZero() && now.Sub(l.last) < l.interval {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	lg.Log(context.Background(), level, msg, args...)
}

// attemptLog remembers the outcome of an interface's last connection
// attempt, so that a run of identical failures is logged once (and, for a
// slave that cannot reach its master, again every unreachableLogInterval).
type attemptLog struct {
	mu     sync.Mutex
	last   string
	logged time.Time
}

// changed reports whether outcome differs from the last one, or the same
// outcome was last logged more than every ago (every 0: never again).
func (a *attemptLog) changed(now time.Time, outcome string, every time.Duration) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if outcome == a.last && (every == 0 || now.Sub(a.logged) < every) {
		return false
	}
	a.last, a.logged = outcome, now
	return true
}

func (a *attemptLog) reset() {
	a.mu.Lock()
	a.last = ""
	a.mu.Unlock()
}

// attemptEnded logs a connection attempt of this interface that ended
// before the link came up.
func (i *Interface) attemptEnded(err error, refused bool) {
	level := slog.LevelInfo
	if refused {
		level = slog.LevelWarn
	}
	if !i.attempts.changed(i.s.cfg.Clock.Now(), err.Error(), 0) {
		level = slog.LevelDebug
	}
	i.log.Log(context.Background(), level, "memif connection attempt failed", "err", err)
}

// unreachable logs that a slave could not reach its master.
func (i *Interface) unreachable(err error) {
	level := slog.LevelDebug
	if i.attempts.changed(i.s.cfg.Clock.Now(), err.Error(), unreachableLogInterval) {
		level = slog.LevelWarn
	}
	i.log.Log(context.Background(), level, "memif cannot reach its master; retrying", "err", err, "interval", i.s.cfg.ReconnectInterval)
}
