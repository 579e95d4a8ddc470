// Package memif is a pure-Go (no cgo) implementation of the memif shared
// memory packet interface spoken by VPP, DPDK's memif PMD and C libmemif,
// in both roles.
//
// # Objects and lifecycle
//
// A Socket is one AF_UNIX SOCK_SEQPACKET path ("@name" for the abstract
// namespace). Interfaces are created on it with NewInterface:
//
//   - a master (RoleMaster) listens; several masters share the socket and
//     are matched to slaves by interface id;
//   - a slave (RoleSlave, the zero value) connects at once and, unless
//     SocketConfig.ReconnectInterval is negative, retries every interval
//     (default 2 s) while not connected; Interface.RequestConnection
//     starts an attempt at any time (libmemif memif_request_connection).
//
// The slave allocates all shared memory: rings in region 0 and packet
// buffers in a separate page-aligned memfd, region 1, plus one eventfd per
// ring. The master maps whatever regions the slave announces, at any
// offsets, and validates every descriptor against them before touching a
// byte: the peer is untrusted. A protocol violation ends only that
// connection, with a DISCONNECT that names the reason, a counter in Stats
// and a *DisconnectError for OnDisconnect and LastError.
//
// # What a peer cannot do
//
// No message, descriptor, file or memory a peer hands over can crash the
// process, leak a descriptor or a mapping, or disturb another connection:
//
//   - Every descriptor received is closed on every path (a message that
//     should carry none, an empty message, a refused one, the end of the
//     connection).
//   - A master maps a region only once its file is sealed against
//     shrinking (F_SEAL_SHRINK; it seals it itself when the peer created it
//     sealable, as VPP, DPDK and libmemif do). A file that cannot be sealed
//     is refused with ErrUnsealedRegion: its owner could truncate it under
//     the mapping, and the next access would raise SIGBUS, which kills a Go
//     process. InterfaceConfig.AllowUnsealedRegions accepts such files from
//     a trusted peer (DPDK's zero-copy client with --no-huge hands over one):
//     memif's own accesses to them then turn a fault into ErrRegionFault
//     for that connection only, and code outside memif that reads their
//     views contains faults with Interface.RecoverFault.
//   - Per connection: one descriptor per message, at most 256 regions of at
//     most 4 GiB each and InterfaceConfig.MaxRegionBytes (16 GiB) in all,
//     at most the interface's queue count of rings each way, rings of at
//     most 2^14 slots, one message at a time during the handshake, each
//     awaited at most SocketConfig.HandshakeTimeout (5 s); after the link
//     is up any message but DISCONNECT ends it. Per master socket: at most
//     SocketConfig.MaxPendingConnections (16) handshakes at once; more are
//     closed on accept and counted (SocketStats.Overflow).
//   - Log lines about connection attempts come once per change of outcome;
//     refusals of peers that named no interface at most once a second per
//     socket; a slave that cannot reach its master says so at WARN once,
//     and again every 30 s while it lasts.
//
// Closing an Interface sends DISCONNECT, unmaps every region (see View
// lifetime below for buffers still out), closes every descriptor and
// unblocks WaitConnected and RxQueue.Wait. Closing a Socket
// closes its interfaces. Close is idempotent.
//
// # Data path
//
// Queues belong to one connection: get them in OnConnect or after
// WaitConnected; after a disconnect every call on them returns
// ErrDisconnected, and the next connection brings new queues.
//
// Receive: RxQueue.RxBurst fills a caller-owned []Buffer with views into
// shared memory (a chained packet is consecutive buffers, all but the last
// with BufferNext); RxQueue.Release gives them back. Transmit:
// TxQueue.Alloc reserves the buffers for one packet (the whole chain or
// nothing), TxQueue.AllocBurst those of a whole burst of packets under one
// lock acquisition, TxQueue.TxBurst publishes them; TxQueue.WritePackets
// does both with a copy. A slave can forward without copying: TxQueue.EnqueueRx
// swaps received buffers into transmit slots (libmemif
// memif_buffer_enq_tx). None of these allocate.
//
// Each queue may be used by one goroutine at a time; different queues are
// independent. Bursts hold a per-queue mutex, which the control goroutine
// takes before unmapping, so a disconnect never pulls memory from under a
// running burst.
//
// # View lifetime
//
// A Buffer's Data is a view into shared memory. While the link is up it is
// valid until the buffer is given back: Release for a received buffer,
// TxBurst (or Rewind) for an allocated one. The link may drop at any
// moment, also while the caller is still working on a burst; the views it
// holds then stay addressable: the connection's regions are replaced in
// place by private zero pages, so reads see zeros (or, briefly, the last
// bytes) and writes go nowhere, and nothing reaches the peer. That
// memory is released once every queue that had buffers out has been
// called again with a burst method (RxBurst, Release, Alloc, AllocBurst, TxBurst,
// WritePackets, EnqueueRx or Rewind), which returns ErrDisconnected: from
// that call on, no view from that queue may be touched. Wait, SetMode and
// the accessors do not count, as they may run on another goroutine.
// Interface.Close follows the same rule (a worker may still be in a
// burst when another goroutine closes), so a worker should make one more
// burst call, as a worker loop does anyway, or the placeholder pages stay
// reserved (address space, plus any page a stale write touched) for the
// life of the process.
//
// # Headroom and capacity
//
// Buffer.Cap is how many bytes may be written from Data[0] to the end of
// the memif buffer, and cap(Data) equals it: a packet may grow in place up
// to Cap before TxBurst (or a zero-copy consumer may use Region, Offset
// and Cap). For tx buffers it is the whole buffer: the slave's BufferSize,
// or on a master the length the slave posted in the M2S descriptor. A
// slave posts its rx buffers with InterfaceConfig.Headroom bytes reserved
// in front (libmemif's refill headroom), so received Data starts Headroom
// bytes into its buffer and its Cap is BufferSize-Headroom; the headroom
// sits at [Offset-Headroom, Offset) of the buffer region, for consumers
// that map the region (Interface.Regions) and prepend headers there. A
// buffer forwarded with TxQueue.EnqueueRx keeps its headroom and Cap. A
// master does not learn the slave's buffer size, so on a master a received
// buffer's Cap is its length.
//
// # Interrupts
//
// In interrupt mode (the default) the producer writes the ring's eventfd
// once per published burst (TxBurst, WritePackets), never per packet;
// RxQueue.Wait blocks on it in Go's poller. In polling mode
// (RxQueue.SetMode, InterfaceConfig.RxMode) the receiver sets MASK_INT on
// its ring and the producer never makes a system call. In adaptive mode the
// receiver masks its ring while bursts find packets and unmasks it when
// Wait has polled it empty for InterfaceConfig.AdaptivePoll; it looks at
// the ring again after unmasking, so a packet published while the ring was
// masked is never left waiting for a signal that was not sent. Whatever
// the mode, a producer signals only a ring its peer has not masked (VPP,
// DPDK and libmemif peers mask theirs in polling mode). QueueStats counts
// the signals, the bursts a mask spared one, and the receiver's wake-ups.
//
// Interrupt moderation (InterfaceConfig.RxDelay, ethtool's rx-usecs) defers
// a woken Wait's return by a bounded time with the ring masked, so the
// packets that arrive meanwhile make one larger burst; it waits on a
// timerfd in Go's poller, because Go's timers round a sleep up to a
// millisecond in a process that is otherwise idle.
//
// # Errors
//
// Errors wrap the package's sentinel values (ErrRingFull, ErrSecret,
// ErrProtocol, ...) with what happened and to which interface; compare
// with errors.Is. A connection's end is a *DisconnectError: Remote when the
// peer sent DISCONNECT or closed its control channel (errors.Is
// ErrPeerDisconnected), otherwise this side's reason and its kind. The
// DISCONNECT this side sends carries code 0, as VPP's and DPDK's do, and
// the reason. C libmemif's codes and messages are in package
// memif/libmemif, the drop-in for its Go adapter.
package memif
