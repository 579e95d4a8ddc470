package libmemif

import (
	"context"
	"log/slog"
	"sync/atomic"

	logger "github.com/sirupsen/logrus"
)

// logPtr is the logger of this package and, through slogBridge, of the
// memif sockets it creates. An atomic pointer lets SetLogger run at any
// time without a lock on the paths that log.
var logPtr atomic.Pointer[logger.Logger]

func init() { logPtr.Store(logger.New()) }

// SetLogger changes the logger of this package (and of the memif
// connections it runs) to l. The default is logrus.New(): Info level, to
// stderr. A nil l is ignored.
func SetLogger(l *logger.Logger) {
	if l != nil {
		logPtr.Store(l)
	}
}

func log() *logger.Logger { return logPtr.Load() }

// slogBridge is a slog.Handler that forwards the memif package's records
// to the current logrus logger, so one SetLogger call governs both.
type slogBridge struct {
	attrs  []slog.Attr
	prefix string // group prefix for attribute keys
}

var _ slog.Handler = slogBridge{}

func logrusLevel(l slog.Level) logger.Level {
	switch {
	case l >= slog.LevelError:
		return logger.ErrorLevel
	case l >= slog.LevelWarn:
		return logger.WarnLevel
	case l >= slog.LevelInfo:
		return logger.InfoLevel
	}
	return logger.DebugLevel
}

func (h slogBridge) Enabled(_ context.Context, l slog.Level) bool {
	return log().IsLevelEnabled(logrusLevel(l))
}

func (h slogBridge) Handle(_ context.Context, r slog.Record) error {
	fields := make(logger.Fields, len(h.attrs)+r.NumAttrs())
	for _, a := range h.attrs {
		fields[a.Key] = a.Value.Any()
	}
	r.Attrs(func(a slog.Attr) bool {
		fields[h.prefix+a.Key] = a.Value.Any()
		return true
	})
	log().WithFields(fields).Log(logrusLevel(r.Level), r.Message)
	return nil
}

func (h slogBridge) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := slogBridge{prefix: h.prefix, attrs: append([]slog.Attr(nil), h.attrs...)}
	for _, a := range attrs {
		a.Key = h.prefix + a.Key
		n.attrs = append(n.attrs, a)
	}
	return n
}

func (h slogBridge) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return slogBridge{attrs: h.attrs, prefix: h.prefix + name + "."}
}
