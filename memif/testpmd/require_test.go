package testpmd

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
)

// gateRecorder is a testing.TB that records how Require ended instead of
// ending the real test.
type gateRecorder struct {
	testing.TB
	outcome string
}

func (r *gateRecorder) Helper() {}

func (r *gateRecorder) Skip(args ...any) {
	r.outcome = "skip: " + fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *gateRecorder) Fatalf(format string, args ...any) {
	r.outcome = "fatal: " + fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func runRequire(tb testing.TB) string {
	r := &gateRecorder{TB: tb, outcome: "pass"}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Require(r)
	}()
	<-done
	return r.outcome
}

func TestRequire(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, interop, binary, want string
	}{
		{"unset skips", "", exe, "skip: MEMIF_INTEROP is not set"},
		{"set and missing fails", "1", "/nonexistent/dpdk-testpmd", "fatal: MEMIF_INTEROP is set but /nonexistent/dpdk-testpmd is not installed"},
		{"set and present passes", "1", exe, "pass"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvInterop, tt.interop)
			t.Setenv("TESTPMD", tt.binary)
			if got := runRequire(t); !strings.HasPrefix(got, tt.want) {
				t.Errorf("Require: %q, want prefix %q", got, tt.want)
			}
		})
	}
}
