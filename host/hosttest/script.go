package hosttest

import (
	"bytes"
	_ "embed"
	"strings"
	"sync"
	"testing"
)

// script.wat is a guest whose every packet says what to do: its first byte
// is the verdict, its second the action below. Its template fields
// ({{IMPORTS}}, {{MAX}}, ...) let a test build a malformed variant.
//
//go:embed script.wat
var scriptSource string

// Actions of the script guest, chosen by a packet's second byte.
const (
	ActNone     = 0
	ActWrite    = 1 // write 0xee at data[2]
	ActPush4    = 2 // prepend 4 bytes 0xab (data -= 4, len += 4)
	ActLenOver  = 3 // len = cap + 1
	ActDataZero = 4 // data = 0
	ActRedirect = 5 // meta = u16 at data[2:4]
	ActTrap     = 6 // unreachable
	ActShrink   = 7 // len -= 1
	ActErrno    = 8 // return -4 from mw_process
	ActSpin     = 9 // loop forever (only with fuel metering)
)

// ScriptOpts fills the script guest's template; empty fields take the
// defaults (a correct guest).
type ScriptOpts struct {
	Imports string // extra imports
	Max     string // memory maximum in pages (default 1024; " ": none)
	Version string // what mw_abi_version returns (default 1)
	Batch   string // address mw_batch returns (default 65536)
	Window  string // address mw_window returns (default 1 MiB)
	Process string // the export name of the burst function (default mw_process)
}

// Script builds the script guest with o.
func Script(t testing.TB, o ScriptOpts) []byte {
	t.Helper()
	return WAT(t, ScriptSource(o))
}

// ScriptSource is the script guest's WAT with o filled in, for a test that
// edits it further before building it with WAT.
func ScriptSource(o ScriptOpts) string {
	def := func(s, d string) string {
		if s == "" {
			return d
		}
		return s
	}
	r := strings.NewReplacer(
		"{{IMPORTS}}", o.Imports,
		"{{MAX}}", def(o.Max, "1024"),
		"{{VERSION}}", def(o.Version, "1"),
		"{{BATCH}}", def(o.Batch, "65536"),
		"{{WINDOW}}", def(o.Window, "1048576"),
		"{{PROCESS}}", def(o.Process, "mw_process"),
	)
	return r.Replace(scriptSource)
}

// SyncBuffer is a log sink safe for concurrent writes (an engine's
// instances log from their workers' goroutines).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
