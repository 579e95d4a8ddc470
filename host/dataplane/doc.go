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
// A burst's packets for one port are allocated with one memif
// TxQueue.AllocBurst and published with one TxBurst: the port's queue lock is
// taken twice per burst and the peer signalled at most once (never when it
// masked interrupts). How a worker waits for packets is its queue's rx mode
// (memif's interrupt, polling or adaptive, and optional RxDelay moderation).
//
// Workers scale with queues: one Worker per rx queue, each optionally on an
// OS thread of its own (WorkerConfig.LockOSThread) restricted to CPUs
// (WorkerConfig.CPUs). For N queues on N cores, give an interface N queues
// and N CPUs (the daemon's queues and cpus keys): queue q's worker runs on
// the q-th CPU, and the peer's queue q should be served from another core
// than the worker's, or the two take turns on one.
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
