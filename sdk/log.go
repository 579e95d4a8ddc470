package sdk

import (
	"fmt"

	"github.com/memif-wasm/memif-wasm/abi"
)

// Level is a log level, numbered as the host's log/slog levels divided by 4.
type Level = int32

// Log levels.
const (
	LevelDebug Level = abi.LogDebug
	LevelInfo  Level = abi.LogInfo
	LevelWarn  Level = abi.LogWarn
	LevelError Level = abi.LogError
)

// Log sends one line to the host's log, which rate-limits it. Each call is a
// host call (tens of ns): keep it off the per-packet path.
func Log(level Level, msg string) { hostLog(level, msg) }

// Logf formats and logs one line.
func Logf(level Level, format string, args ...any) { hostLog(level, fmt.Sprintf(format, args...)) }

func logf(level Level, format string, args ...any) { Logf(level, format, args...) }
