package libmemif

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	logger "github.com/sirupsen/logrus"
)

func TestMain(m *testing.M) {
	// Connection logs would drown test output; TestLogger checks them.
	quiet := logger.New()
	quiet.Out = io.Discard
	SetLogger(quiet)
	os.Exit(m.Run())
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	l := logger.New()
	l.Out = &buf
	l.Level = logger.DebugLevel
	old := log()
	SetLogger(l)
	defer SetLogger(old)
	SetLogger(nil) // ignored
	h := slog.New(slogBridge{}).With("socket", "/x").WithGroup("g")
	h.Info("memif connected", "peer", "p0")
	h.Debug("detail")
	out := buf.String()
	for _, want := range []string{`msg="memif connected"`, "socket=/x", "g.peer=p0", "level=info", `msg=detail`, "level=debug"} {
		if !strings.Contains(out, want) {
			t.Errorf("log output %q lacks %q", out, want)
		}
	}
	l.Level = logger.WarnLevel
	if (slogBridge{}).Enabled(context.Background(), slog.LevelInfo) {
		t.Error("info enabled on a warn logger")
	}
	if !(slogBridge{}).Enabled(context.Background(), slog.LevelError) {
		t.Error("error disabled on a warn logger")
	}
}
