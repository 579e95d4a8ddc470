// Package deploytest holds the deploy module's test helpers: the static
// binary built by the Makefile, the example plugins, and Debian's
// docker-registry (CNCF distribution 2.8) on a loopback port, stopped by PID
// when the test ends.
package deploytest

import (
	"os"
	"testing"
)

// Strict reports whether a missing prerequisite (the registry binary, the
// built plugins, make) fails a test instead of skipping it: `make test`
// sets MEMIF_DEPLOY=1 after installing them.
func Strict() bool { return os.Getenv("MEMIF_DEPLOY") == "1" }

// SkipOrFail skips t with reason, or fails it under Strict.
func SkipOrFail(t testing.TB, reason string) {
	t.Helper()
	if Strict() {
		t.Fatalf("%s (MEMIF_DEPLOY=1: required)", reason)
	}
	t.Skip(reason + " (set MEMIF_DEPLOY=1 to make this an error; `make test` installs it)")
}
