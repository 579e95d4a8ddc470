package testpmd

import (
	"context"
	"os"
	"os/exec"
	"testing"
)

// EnvInterop is the environment variable that enables interop tests.
const EnvInterop = "MEMIF_INTEROP"

// Require skips tb unless MEMIF_INTEROP is set, and fails it when
// MEMIF_INTEROP is set but testpmd (or stdbuf) cannot be found, so that
// `make interop` never passes by skipping.
func Require(tb testing.TB) {
	tb.Helper()
	if os.Getenv(EnvInterop) == "" {
		tb.Skip("MEMIF_INTEROP is not set: tests against DPDK testpmd run with `make interop` (MEMIF_INTEROP=1)")
	}
	binary := os.Getenv("TESTPMD")
	if binary == "" {
		binary = "dpdk-testpmd"
	}
	if _, err := exec.LookPath(binary); err != nil {
		tb.Fatalf("MEMIF_INTEROP is set but %s is not installed (%v); on Debian: apt-get install dpdk-dev librte-net-memif23, or run `make interop`", binary, err)
	}
	if _, err := exec.LookPath("stdbuf"); err != nil {
		tb.Fatalf("MEMIF_INTEROP is set but stdbuf (coreutils) is not installed: %v", err)
	}
}

// StartT is Start for tests: it calls Require, fails tb if testpmd does not
// start, and closes the process in tb's cleanup, failing tb if testpmd
// crashed or had to be killed. On failure the cleanup logs testpmd's output
// tail.
func StartT(tb testing.TB, cfg *Config) *Process {
	tb.Helper()
	Require(tb)
	p, err := Start(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := p.Close(); err != nil {
			tb.Error(err)
			return
		}
		if tb.Failed() {
			tb.Logf("testpmd %v\n--- last testpmd output ---\n%s", p.Args(), p.Tail(tailBytes))
		}
	})
	return p
}
