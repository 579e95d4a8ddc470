// Package testpmd runs DPDK's dpdk-testpmd with the memif PMD as a real
// memif peer, for tests and benchmarks of code that speaks memif: start a
// testpmd whose ports are memif server or client vdevs on your sockets, let
// it forward what your side sends, and read its counters to check that what
// you counted is what the other side counted. memif-wasm's own interop tests
// and benchmarks use it, and so can programs built on package memif.
//
// # Requirements
//
// It needs Linux, dpdk-testpmd from DPDK 22.11 with the memif PMD (Debian
// 12: apt-get install dpdk-dev librte-net-memif23) and stdbuf from
// coreutils. testpmd runs without hugepages and without PCI devices;
// each forwarding lcore busy-polls a CPU. Set $TESTPMD or
// [Config.Binary] to use another executable. Without these, [Start] fails
// with an error wrapping [ErrNotInstalled]; in tests, [Require] and
// [StartT] turn that into a skip or a failure (see Gating).
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
