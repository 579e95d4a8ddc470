package main

import (
	"io"
	"log/slog"
	"os"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
	"github.com/memif-wasm/memif-wasm/host/daemon/serve"
)

// isTerminal reports whether w is a character device (a terminal), where live progress
// lines make sense.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// logFormatFlag adds --log-format to a command whose warnings go to its
// log (gen, demo, bench; run has its own, which the config may set).
func logFormatFlag(fs *cli.FlagSet) *string {
	return fs.String("log-format", "text", "log format of warnings on stderr: text or json")
}

// warnLogger is the logger of a tool command: warnings and errors only, in
// the format --log-format asked for; ok is false for an unknown format.
func warnLogger(format string, stderr io.Writer) (*slog.Logger, bool) {
	if format != "text" && format != "json" {
		return nil, false
	}
	return serve.NewLogger(config.Log{Format: format, Level: "warn"}, stderr), true
}
