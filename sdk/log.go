package sdk

import (
	"strconv"

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
// host call (tens of ns): keep it off the per-packet path. The SDK offers no
// Printf-style variant on purpose: package fmt adds about a megabyte to every
// plugin, and the host compiles each byte. A plugin that already links fmt
// can pass fmt.Sprintf's result.
func Log(level Level, msg string) { hostLog(level, msg) }

// hex formats a number as 0x... in join.
type hex uint32

// join renders strings, errors and integers into one string without package
// fmt, for the SDK's own messages.
func join(parts ...any) string {
	b := make([]byte, 0, 64)
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			b = append(b, v...)
		case error:
			b = append(b, v.Error()...)
		case hex:
			b = append(b, "0x"...)
			b = strconv.AppendUint(b, uint64(v), 16)
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		case uint16:
			b = strconv.AppendUint(b, uint64(v), 10)
		case uint32:
			b = strconv.AppendUint(b, uint64(v), 10)
		case uint64:
			b = strconv.AppendUint(b, v, 10)
		default:
			b = append(b, "(value)"...)
		}
	}
	return string(b)
}

func logs(level Level, parts ...any) { hostLog(level, join(parts...)) }
