//go:build !wasip1

package sdk

import (
	"io"
	"os"
	"strconv"
)

// LogOutput is where Log writes on a native (non-wasm) build, so a plugin's
// tests can capture its log lines. It is not used in the wasm build.
var LogOutput io.Writer = os.Stderr

var levelNames = [...]string{"DEBUG", "INFO", "WARN", "ERROR"}

func hostLog(level int32, msg string) {
	name := "LEVEL(" + strconv.Itoa(int(level)) + ")"
	if level >= LevelDebug && level <= LevelError {
		name = levelNames[level+1]
	}
	io.WriteString(LogOutput, name+" "+msg+"\n")
}
