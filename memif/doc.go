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
// nothing), TxQueue.TxBurst publishes them; TxQueue.WritePackets does both
// with a copy. A slave can forward without copying: TxQueue.EnqueueRx
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
// called again with a burst method (RxBurst, Release, Alloc, TxBurst,
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
// after publishing; RxQueue.Wait blocks on it in Go's poller. In polling
// mode (RxQueue.SetMode, InterfaceConfig.RxMode) the receiver sets
// MASK_INT on its ring and the producer never makes a system call.
//
// # Errors
//
// Exported *Error values carry C libmemif's codes and strings (ErrNoBufRing
// is 18 "Ring buffer full.", and so on); compare with errors.Is. A peer's
// DISCONNECT arrives as *DisconnectError{Remote: true}.
package memif
