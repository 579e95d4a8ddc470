//go:build !wasip1

package sdk

import (
	"fmt"
	"io"
	"os"
)

// LogOutput is where Log writes on a native (non-wasm) build, so a plugin's
// tests can capture its log lines. It is not used in the wasm build.
var LogOutput io.Writer = os.Stderr

var levelNames = map[int32]string{-1: "DEBUG", 0: "INFO", 1: "WARN", 2: "ERROR"}

func hostLog(level int32, msg string) {
	name, ok := levelNames[level]
	if !ok {
		name = fmt.Sprintf("LEVEL(%d)", level)
	}
	fmt.Fprintf(LogOutput, "%s %s\n", name, msg)
}
