// Package testpmd runs DPDK's dpdk-testpmd with the memif PMD as a real
// peer for memif-wasm's interop tests and benchmarks.
//
// It is test infrastructure: it is imported only by _test.go files.
//
// # Lifecycle
//
// [Start] launches testpmd in interactive mode (-i) with its stdin and
// stdout wired to pipes and waits for the first prompt, then checks that
// every configured memif vdev became a port. Commands are sent one at a time
// with [Process.Exec]; a command's answer is everything testpmd prints
// between the command and the next "testpmd> " prompt. testpmd's stdout is
// made line-buffered with coreutils' stdbuf, because stdio fully buffers a
// pipe and answers would otherwise arrive late and out of order with the
// prompt, which cmdline writes unbuffered.
//
// A test then waits for the memif link ([Process.WaitLinkUp]), starts
// forwarding, exchanges traffic, stops forwarding ([Process.StopForwarding])
// and reads counters ([Process.PortStats], [Process.XStats]) before its
// own memif end disconnects: testpmd 22.11 resets a port's counters when the
// peer disconnects, and it can crash when the peer disconnects while traffic
// flows. [Process.Close] stops forwarding, quits, kills testpmd if it does
// not exit in time, and removes the server sockets and EAL's runtime
// directory. The child also gets SIGKILL if the test process dies, so no
// testpmd outlives its test.
//
// # Bounded waits
//
// Every wait is bounded by the caller's context and by [Config.Timeout]. A
// failure returns an *[Error] that names the operation and carries the tail
// of testpmd's output, which is usually where the real reason is.
//
// # Gating
//
// [Require] skips a test unless MEMIF_INTEROP is set, and fails it when
// MEMIF_INTEROP is set but dpdk-testpmd or the memif PMD is missing.
package testpmd
