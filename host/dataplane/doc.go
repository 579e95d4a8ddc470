// Package dataplane is the packet loop that joins memif to the sandbox: a
// Worker serves one memif rx queue with one host.Pipeline.
//
// A Worker waits for its interface's connection, attaches the connection's
// buffer region to its pipeline (zero-copy when the region holds no rings and
// is sealed, which is always so when this side is the memif slave), takes rx
// bursts of at most WorkerConfig.Burst packets (a chained packet longer than a
// burst is taken whole, up to a ring), runs them through the pipeline, and
// transmits by verdict: TX out of the ingress interface, PASS to the configured
// egress, REDIRECT to a numbered Port, each port's transmits serialised by its
// own lock. A full tx ring is waited on for WorkerConfig.TxRetryTime, then
// what does not fit is dropped and counted by reason (WorkerStats.TxDrops);
// the packets no verdict sends are counted by who dropped them
// (WorkerStats.RxDrops). A connection's end only makes it wait for the next
// one: it stops when its context is cancelled or its interface closed.
//
// It owns no plugin and no interface: the caller (package host/daemon, or any
// program that embeds a host) creates the memif interfaces, the pipelines and
// the workers, and decides when they change. A fault on shared memory a peer
// could shrink (memif's AllowUnsealedRegions) ends that connection, through
// memif.Interface.RecoverFault, never the process.
//
// A Port may carry a Trace (the next packets received, with each plugin's
// verdict, length change and time) and a Capture (copies of the packets
// received, sent and dropped, for a pcapng file); see Port.SetTrace and
// Port.SetCapture. Without them the packet loop does nothing more than load
// two pointers per burst.
package dataplane
