package memif

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/memif-wasm/memif-wasm/memif/internal/ring"
	"github.com/memif-wasm/memif-wasm/memif/internal/shm"
)

// BufferFlags are per-buffer flags.
type BufferFlags uint16

// BufferNext marks a buffer whose packet continues in the next buffer.
const BufferNext BufferFlags = BufferFlags(ring.DescFlagNext)

// Buffer is one descriptor's worth of packet memory. Data is a view into
// shared memory; Region and Offset locate Data[0] in the connection's
// regions (see Interface.Regions) for zero-copy consumers.
//
// A received Buffer is valid until it is released (RxQueue.Release) or
// handed to a TxQueue (TxQueue.EnqueueRx). An allocated Buffer is valid
// until TxQueue.TxBurst publishes it. If the connection ends first, Data
// stays addressable (reading zeros) until the queue's next burst method
// call returns ErrDisconnected; see "View lifetime" in the package doc.
type Buffer struct {
	Data   []byte
	Flags  BufferFlags
	Region uint16
	Offset uint32

	q    *queue
	slot uint16
	cap  uint32
}

// Cap is how many bytes may be written from Data[0] to the end of the
// memif buffer; cap(Data) is the same. A packet may grow in place up to
// it (b.Data = b.Data[:n]) before TxBurst publishes len(Data) bytes. See
// "Headroom and capacity" in the package doc for what it is on each side.
func (b Buffer) Cap() int { return int(b.cap) }

// Misuse errors of the burst methods: values, so that bursts return them
// without allocating.
var (
	errNotAllocated  = fmt.Errorf("memif: buffers are not the next allocated ones of this queue: %w", ErrInvalid)
	errLength        = fmt.Errorf("memif: buffer length above its capacity: %w", ErrInvalid)
	errOpenChain     = fmt.Errorf("memif: burst ends inside a chain: %w", ErrInvalid)
	errPending       = fmt.Errorf("memif: allocated buffers not yet sent: %w", ErrInvalid)
	errEnqueueMaster = fmt.Errorf("memif: EnqueueRx needs the slave role: %w", ErrInvalid)
	errForeignBuffer = fmt.Errorf("memif: buffer is not an unreleased rx buffer of this connection: %w", ErrInvalid)
	errReleaseCount  = fmt.Errorf("memif: release count above buffers held: %w", ErrInvalid)
)

// queue is the state shared by RxQueue and TxQueue. mu is held by every
// burst and by teardown before it unmaps, so memory a burst touches is
// never unmapped under it.
type queue struct {
	mu     sync.Mutex
	dead   bool
	failed bool
	// dropped: a burst method reported ErrDisconnected, so by the view
	// rule the caller holds no Buffer of this queue any more. stale: the
	// queue had buffers out when the connection was torn down, and holds
	// a reference on the connection's (placeholder) mappings until its
	// next burst method call.
	dropped bool
	stale   bool
	c       *conn
	r       ring.Ring
	views   [][]byte // every mapped region, indexed by region number
	rx      bool
	slave   bool
	// unsealed: the connection has a region the peer could shrink, so
	// bursts turn faults on shared memory into errors (see fault.go).
	unsealed bool
	index    int
	size     uint32
	mask     uint16

	// cur: rx = next descriptor to read; tx = next descriptor to allocate.
	// own: the index this side publishes (slave: head, master: tail).
	// peerSeen (tx): the peer's index as last loaded and validated.
	cur, own, peerSeen uint16

	// Slave only: the buffer each slot owns (offset in bufMem), kept in
	// private memory so a master cannot redirect our reads and writes.
	shadow    []uint32
	bufMem    []byte
	bufRegion uint16
	bufSize   uint32
	headroom  uint32

	ringFD int      // the ring's eventfd as received or created
	efd    int      // ring eventfd (tx: signalled; rx: owned by efile)
	efile  *os.File // rx only: the eventfd in Go's poller, for Wait
	evbuf  [8]byte
	mode   RxMode

	st queueCounters
}

// queueCounters are plain fields, written only with q.mu held (every burst
// holds it anyway) and read by Stats under the same mutex: an atomic update
// per counter per burst would cost a locked instruction each, where the
// mutex the burst already takes costs nothing extra (RATIONALE.md, "Why are
// memif queue counters plain fields under the burst mutex?").
type queueCounters struct {
	packets, bytes, ringFull, badDesc, intErrors uint64
}

func add(c *uint64, v uint64) { *c += v }

// RxQueue receives packets: M2S ring on a slave, S2M ring on a master.
// One goroutine at a time may call its burst methods.
type RxQueue struct{ queue }

// TxQueue sends packets: S2M ring on a slave, M2S ring on a master.
// One goroutine at a time may call its burst methods.
type TxQueue struct{ queue }

// fail records a data-path violation by the peer and asks the control
// goroutine to disconnect. Later bursts return ErrDisconnected.
func (q *queue) fail(err error, reason string) error {
	if !q.failed {
		q.failed = true
		if err != ErrRegionFault { // counted with the protocol errors
			add(&q.st.badDesc, 1)
		}
		q.c.abort(&DisconnectError{Reason: reason, Err: err})
	}
	return err
}

// lock takes the queue for a burst method. On a dead queue the call
// reports ErrDisconnected, which ends every view the queue handed out (see
// "View lifetime" in doc.go), so the queue lets go of the mappings.
func (q *queue) lock() error {
	q.mu.Lock()
	if q.dead || q.failed {
		q.dropViews()
		q.mu.Unlock()
		return ErrDisconnected
	}
	return nil
}

// lockCtl takes the queue for a control method (SetMode), which may run on
// another goroutine than the bursts and so proves nothing about views.
func (q *queue) lockCtl() error {
	q.mu.Lock()
	if q.dead || q.failed {
		q.mu.Unlock()
		return ErrDisconnected
	}
	return nil
}

// dropViews records that the caller holds no more views. Called with q.mu
// held.
func (q *queue) dropViews() {
	q.dropped = true
	if q.stale {
		q.stale = false
		q.c.unrefMappings()
	}
}

// lent reports whether buffers of this queue are out with the caller:
// received and not released, or allocated and not published. Called with
// q.mu held.
func (q *queue) lent() bool {
	if q.rx && q.slave {
		return q.cur+uint16(q.size) != q.own
	}
	return q.cur != q.own
}

// Index is the queue number.
func (q *queue) Index() int { return q.index }

// RingSize is the number of descriptors in the queue's ring.
func (q *queue) RingSize() int { return int(q.size) }

// EventFD returns the ring's eventfd, valid while the connection is up, for
// callers that run their own epoll loop. It must not be closed.
func (q *queue) EventFD() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dead {
		return -1
	}
	return q.efd
}

// RxBurst fills bufs with received buffers, oldest first, and returns how
// many it filled. A packet spans consecutive buffers, all but the last
// with BufferNext; a chain is never split across calls. It returns
// (0, ErrShortBuffer) if the next chain does not fit in bufs, ErrDisconnected
// when the link is down, and ErrBadDescriptor/ErrBadRingIndex when the
// peer broke the protocol. Every returned buffer must later be given back
// with Release (or to TxQueue.EnqueueRx).
func (q *RxQueue) RxBurst(bufs []Buffer) (int, error) {
	if err := q.lock(); err != nil {
		return 0, err
	}
	if q.unsealed {
		return guarded(&q.queue, func() (int, error) { return q.rxBurst(bufs) })
	}
	n, err := q.rxBurst(bufs)
	q.mu.Unlock()
	return n, err
}

func (q *queue) rxBurst(bufs []Buffer) (int, error) {
	var peer, limit uint16
	if q.slave {
		// The master fills what we posted: its tail lies in [cur, own].
		peer = q.r.Tail()
		if uint16(peer-q.cur) > uint16(q.own-q.cur) {
			return 0, q.fail(ErrBadRingIndex, "tail moved beyond the posted buffers")
		}
		limit = q.own
	} else {
		// The slave publishes at most a ring ahead of our released tail.
		peer = q.r.Head()
		if uint32(uint16(peer-q.own)) > q.size || uint16(peer-q.cur) > uint16(peer-q.own) {
			return 0, q.fail(ErrBadRingIndex, "head moved further than the ring size")
		}
		limit = q.own + uint16(q.size)
	}
	avail := int(uint16(peer - q.cur))
	// Each descriptor is copied out of shared memory once, validated, and
	// turned into a Buffer; a packet counts only once its last descriptor
	// (no NEXT) is in, so a chain is never split across calls. The loops
	// work on locals: stores into bufs could alias q's fields, so the
	// compiler would reload every field of q per descriptor.
	end := min(avail, len(bufs))
	r, cur := &q.r, q.cur
	n, pkts, bytes := 0, uint64(0), uint64(0)
	pktBytes := uint64(0) // bytes of the packet being assembled at bufs[n:i]
	i := 0
	if q.slave {
		mem, shadow, mask := q.bufMem, q.shadow, q.mask
		region, headroom, room := q.bufRegion, q.headroom, q.bufSize-q.headroom
		for ; i < end; i++ {
			idx := cur + uint16(i)
			// Each shared field is loaded once: what is checked is used.
			d := r.Desc(idx)
			length, flags := d.Length, BufferFlags(d.Flags)&BufferNext
			if length > room {
				return 0, q.fail(ErrBadDescriptor, "descriptor length above the posted buffer")
			}
			off := shadow[idx&mask] + headroom
			b := &bufs[i]
			// Our own buffer: its whole room is the capacity. Field by
			// field: a composite literal is built on the stack and
			// copied, which cost more than the rest of the loop.
			b.Data = mem[off : off+length : off+room]
			b.Flags = flags
			b.Region, b.Offset, b.cap = region, off, room
			b.q, b.slot = q, idx
			pktBytes += uint64(length)
			if b.Flags == 0 {
				n = i + 1
				pkts++
				bytes += pktBytes
				pktBytes = 0
			}
		}
	} else {
		views := q.views
		for ; i < end; i++ {
			idx := cur + uint16(i)
			// Each shared field is loaded once: what is checked is used.
			d := r.Desc(idx)
			region, off, length, flags := d.Region, d.Offset, d.Length, BufferFlags(d.Flags)&BufferNext
			v, err := ring.Span(views, region, off, length)
			if err != nil {
				return 0, q.fail(ErrBadDescriptor, err.Error())
			}
			b := &bufs[i]
			// The slave's buffer size is unknown here: only the packet's
			// bytes are known to be inside its buffer.
			b.Data = v
			b.Flags = flags
			b.Region, b.Offset, b.cap = region, off, length
			b.q, b.slot = q, idx
			pktBytes += uint64(length)
			if b.Flags == 0 {
				n = i + 1
				pkts++
				bytes += pktBytes
				pktBytes = 0
			}
		}
	}
	if n < end || end == 0 {
		// An unfinished chain at the end, or nothing read.
		switch {
		case end < avail && n == 0:
			return 0, ErrShortBuffer // the next chain is longer than bufs
		case end == avail && n < end && peer == limit:
			// The producer cannot publish more: this chain never ends.
			return 0, q.fail(ErrBadDescriptor, "descriptor chain does not end")
		}
	}
	q.cur += uint16(n)
	if pkts > 0 {
		add(&q.st.packets, pkts)
		add(&q.st.bytes, bytes)
	}
	return n, nil
}

// Release gives back the n oldest buffers returned by RxBurst (n < 0: all
// of them). A master advances the ring tail; a slave re-posts the buffers
// to the master with the configured headroom.
func (q *RxQueue) Release(n int) error {
	if err := q.lock(); err != nil {
		return err
	}
	if q.unsealed {
		_, err := guarded(&q.queue, func() (struct{}, error) { return struct{}{}, q.release(n) })
		return err
	}
	err := q.release(n)
	q.mu.Unlock()
	return err
}

// release is Release with q.mu held.
func (q *queue) release(n int) error {
	if q.slave {
		// Slots read but not re-posted: [own-size, cur).
		held := int(uint16(q.cur + uint16(q.size) - q.own))
		if n < 0 {
			n = held
		}
		if n > held {
			return errReleaseCount
		}
		q.post(n)
		return nil
	}
	held := int(uint16(q.cur - q.own))
	if n < 0 {
		n = held
	}
	if n > held {
		return errReleaseCount
	}
	q.own += uint16(n)
	q.r.SetTail(q.own)
	return nil
}

// post (slave rx) hands n more empty buffers to the master and publishes
// head. Region and offset are rewritten from private state every time.
func (q *queue) post(n int) {
	if n == 0 {
		return
	}
	r, shadow, mask, own := &q.r, q.shadow, q.mask, q.own
	region, headroom, room := q.bufRegion, q.headroom, q.bufSize-q.headroom
	for i := 0; i < n; i++ {
		slot := own + uint16(i)
		d := r.Desc(slot)
		d.Flags, d.Region, d.Length, d.Offset = 0, region, room, shadow[slot&mask]+headroom
	}
	q.own += uint16(n)
	q.r.SetHead(q.own)
}

// Wait blocks until the peer signals this queue's eventfd, ctx is done, or
// the connection goes down (ErrDisconnected). Call it after RxBurst found
// the ring empty; a signal that arrived in between is kept by the eventfd,
// so no wake-up is lost. It does not hold the queue, so RxBurst may run
// concurrently. In polling mode the peer does not signal, and Wait only
// returns for ctx or disconnect.
func (q *RxQueue) Wait(ctx context.Context) error {
	q.mu.Lock()
	if q.dead || q.failed {
		q.mu.Unlock()
		return ErrDisconnected
	}
	f := q.efile
	q.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	dl, _ := ctx.Deadline()
	if err := f.SetReadDeadline(dl); err != nil {
		return ErrDisconnected
	}
	if ctx.Done() != nil {
		woken := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			f.SetReadDeadline(time.Unix(1, 0))
			close(woken)
		})
		defer func() {
			// Once started, the wake-up must be over before Wait returns:
			// run later, its deadline in the past would cut the next
			// Wait short.
			if !stop() {
				<-woken
			}
		}()
	}
	var b [8]byte
	_, err := f.Read(b[:])
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return context.DeadlineExceeded
	default:
		return ErrDisconnected
	}
}

// SetMode switches the queue between interrupt and polling mode by setting
// or clearing MASK_INT on the ring, which this side (the receiver) owns.
// Packets published before a switch to interrupt mode were not signalled:
// run RxBurst once after the switch, before the first Wait.
func (q *RxQueue) SetMode(m RxMode) error {
	if m > RxModePolling {
		return fmt.Errorf("memif: rx mode %d: %w", m, ErrInvalid)
	}
	if err := q.lockCtl(); err != nil {
		return err
	}
	if q.unsealed {
		_, err := guarded(&q.queue, func() (struct{}, error) { q.setMode(m); return struct{}{}, nil })
		return err
	}
	q.setMode(m)
	q.mu.Unlock()
	return nil
}

func (q *queue) setMode(m RxMode) {
	q.mode = m
	f := q.r.Flags() &^ ring.FlagMaskInt
	if m == RxModePolling {
		f |= ring.FlagMaskInt
	}
	q.r.SetFlags(f)
}

// Mode is the queue's current rx mode.
func (q *RxQueue) Mode() RxMode {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.mode
}

// txFree returns the number of descriptors that may still be allocated,
// at least want if there are that many. It counts from the peer's index
// as last loaded and validated (peerSeen), and loads the index again only
// when that leaves fewer than want: the peer's index only moves forward,
// so an old value can only understate the room, and a per-packet Alloc
// does not pull the cache line the consumer writes on every release.
func (q *queue) txFree(want uint32) (uint32, error) {
	if q.slave {
		if free := q.size - uint32(uint16(q.cur-q.peerSeen)); free >= want {
			return free, nil
		}
		tail := q.r.Tail()
		if uint32(uint16(q.own-tail)) > q.size || uint16(q.cur-tail) < uint16(q.cur-q.own) {
			return 0, q.fail(ErrBadRingIndex, "tail moved further than the ring size")
		}
		q.peerSeen = tail
		return q.size - uint32(uint16(q.cur-tail)), nil
	}
	if free := uint32(uint16(q.peerSeen - q.cur)); free >= want {
		return free, nil
	}
	head := q.r.Head()
	if uint32(uint16(head-q.own)) > q.size || uint16(head-q.cur) > uint16(head-q.own) {
		return 0, q.fail(ErrBadRingIndex, "head moved further than the ring size")
	}
	q.peerSeen = head
	return uint32(uint16(head - q.cur)), nil
}

// slotView returns the writable memory of tx slot idx and its region and
// offset. On a master it validates the slave's descriptor first.
func (q *queue) slotView(idx uint16) (v []byte, region uint16, off uint32, err error) {
	if q.slave {
		base := q.shadow[idx&q.mask]
		end := base + q.bufSize
		return q.bufMem[base:end:end], q.bufRegion, base, nil
	}
	d := *q.r.Desc(idx)
	v, err = ring.View(q.views, &d)
	if err != nil {
		return nil, 0, 0, q.fail(ErrBadDescriptor, err.Error())
	}
	if len(v) == 0 {
		return nil, 0, 0, q.fail(ErrBadDescriptor, "posted buffer has zero length")
	}
	return v, d.Region, d.Offset, nil
}

// Alloc reserves buffers for one packet of size bytes: a chain of as many
// buffers as it needs, all or nothing. It returns the number of buffers
// filled in bufs, each with Data sized to its share of the packet (cap
// is the buffer's capacity). It returns ErrRingFull when the ring has not
// enough free slots, ErrShortBuffer when bufs is too short for the chain,
// and ErrTooLarge when even the whole ring would not hold the packet (on a
// master, once the slave has posted every buffer).
// Write the packet into Data and publish with TxBurst.
func (q *TxQueue) Alloc(bufs []Buffer, size int) (int, error) {
	if size < 0 {
		return 0, ErrInvalid
	}
	if err := q.lock(); err != nil {
		return 0, err
	}
	if q.unsealed {
		return guarded(&q.queue, func() (int, error) { return q.alloc(bufs, size) })
	}
	n, err := q.alloc(bufs, size)
	q.mu.Unlock()
	return n, err
}

// alloc is Alloc with q.mu held.
func (q *queue) alloc(bufs []Buffer, size int) (int, error) {
	if q.slave && uint64(size) > uint64(q.size)*uint64(q.bufSize) {
		return 0, ErrTooLarge
	}
	free, err := q.txFree(1)
	if err != nil {
		return 0, err
	}
	idx, n, rem := q.cur, 0, size
	fresh := false // free counts from an index loaded in this call
	for {
		if uint32(n) == q.size {
			// Every buffer the master posted, and the packet goes on.
			return 0, ErrTooLarge
		}
		if uint32(n) >= free {
			if !fresh {
				fresh = true
				if free, err = q.txFree(uint32(n) + 1); err != nil {
					return 0, err
				}
				continue
			}
			add(&q.st.ringFull, 1)
			return 0, ErrRingFull
		}
		if n >= len(bufs) {
			return 0, ErrShortBuffer
		}
		v, region, off, err := q.slotView(idx)
		if err != nil {
			return 0, err
		}
		chunk := min(rem, len(v))
		// Field by field: a composite literal is built on the stack and
		// copied, which cost more than the rest of Alloc.
		b := &bufs[n]
		b.Data, b.Flags = v[:chunk], BufferNext
		b.Region, b.Offset, b.cap = region, off, uint32(len(v))
		b.q, b.slot = q, idx
		rem -= chunk
		n++
		idx++
		if rem == 0 {
			break
		}
	}
	bufs[n-1].Flags = 0
	q.cur = idx
	return n, nil
}

// TxBurst publishes buffers obtained from Alloc or EnqueueRx, in the order
// they were obtained, and signals the peer unless it polls. The length of
// each buffer is len(Data). A burst must not end inside a chain.
func (q *TxQueue) TxBurst(bufs []Buffer) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	if err := q.lock(); err != nil {
		return 0, err
	}
	if q.unsealed {
		return guarded(&q.queue, func() (int, error) { return q.txBurst(bufs) })
	}
	n, err := q.txBurst(bufs)
	q.mu.Unlock()
	return n, err
}

// txBurst is TxBurst with q.mu held.
func (q *queue) txBurst(bufs []Buffer) (int, error) {
	if len(bufs) > int(uint16(q.cur-q.own)) {
		return 0, errNotAllocated
	}
	if bufs[len(bufs)-1].Flags&BufferNext != 0 {
		return 0, errOpenChain
	}
	var pkts, bytes uint64
	// Locals: stores into shared descriptors could alias q's fields, so
	// the compiler would reload each of them per buffer.
	r, own, self, slave := &q.r, q.own, q, q.slave
	shadow, mask, size, region := q.shadow, q.mask, q.bufSize, q.bufRegion
	for i := range bufs {
		b := &bufs[i]
		slot := own + uint16(i)
		if b.q != self || b.slot != slot {
			return 0, errNotAllocated
		}
		l, next := uint32(len(b.Data)), b.Flags&BufferNext
		d := r.Desc(slot)
		if slave {
			base, off := shadow[slot&mask], b.Offset
			if off < base || uint64(off-base)+uint64(l) > uint64(size) {
				return 0, errLength
			}
			d.Region, d.Offset = region, off
		} else if l > b.cap {
			return 0, errLength
		}
		// '=' not '|=': stale flags from an earlier use must not survive.
		d.Length, d.Flags = l, uint16(next)
		if next == 0 {
			pkts++
		}
		bytes += uint64(l)
	}
	q.publish(uint16(len(bufs)))
	add(&q.st.packets, pkts)
	add(&q.st.bytes, bytes)
	return len(bufs), nil
}

func (q *queue) publish(n uint16) {
	q.own += n
	var flags uint16
	if q.slave {
		flags = q.r.SetHead(q.own)
	} else {
		q.r.SetTail(q.own)
		flags = q.r.Flags()
	}
	if flags&ring.FlagMaskInt == 0 {
		if shm.Signal(q.efd) != nil {
			add(&q.st.intErrors, 1)
		}
	}
}

// WritePackets copies each packet into newly allocated buffers (chained
// when larger than one buffer) and publishes them with one index update
// and at most one signal. It returns how many packets were queued; when
// the ring fills up it returns the count so far and ErrRingFull.
func (q *TxQueue) WritePackets(pkts [][]byte) (int, error) {
	if err := q.lock(); err != nil {
		return 0, err
	}
	if q.unsealed {
		return guarded(&q.queue, func() (int, error) { return q.writePackets(pkts) })
	}
	n, err := q.writePackets(pkts)
	q.mu.Unlock()
	return n, err
}

// writePackets is WritePackets with q.mu held.
func (q *queue) writePackets(pkts [][]byte) (sent int, err error) {
	if q.cur != q.own {
		return 0, errPending
	}
	free, err := q.txFree(q.size)
	if err != nil {
		return 0, err
	}
	var bytes uint64
	if q.slave {
		sent, bytes, err = q.writeSlave(pkts, q.cur+uint16(free))
	} else {
		sent, bytes, err = q.writeMaster(pkts, q.cur+uint16(free))
	}
	if sent > 0 {
		q.publish(uint16(q.cur - q.own))
		add(&q.st.packets, uint64(sent))
		add(&q.st.bytes, bytes)
	}
	if err == ErrRingFull {
		add(&q.st.ringFull, uint64(len(pkts)-sent))
	}
	return sent, err
}

// writeSlave copies packets into the slots [q.cur, end) for WritePackets
// on a slave, whose buffers are its own: region and offset come from the
// private slot table, so no descriptor is read. A packet that does not
// fit in the slots left is rolled back whole.
func (q *queue) writeSlave(pkts [][]byte, end uint16) (sent int, bytes uint64, err error) {
	r, mem, shadow, mask := &q.r, q.bufMem, q.shadow, q.mask
	region, size := q.bufRegion, q.bufSize
	cur := q.cur
	for _, p := range pkts {
		start := cur
		for {
			if cur == end {
				q.cur = start
				return sent, bytes, ErrRingFull
			}
			base := shadow[cur&mask]
			n := copy(mem[base:base+size], p)
			p = p[n:]
			var flags uint16
			if len(p) > 0 {
				flags = ring.DescFlagNext
			}
			d := r.Desc(cur)
			d.Flags, d.Region, d.Length, d.Offset = flags, region, uint32(n), base
			cur++
			bytes += uint64(n)
			if len(p) == 0 {
				break
			}
		}
		sent++
	}
	q.cur = cur
	return sent, bytes, nil
}

// writeMaster copies packets into the buffers the slave posted in slots
// [q.cur, end), validating each descriptor first; its length is the
// buffer's capacity. A packet that does not fit is rolled back whole: it
// only ever wrote full buffers, so the slave's posted lengths survive.
func (q *queue) writeMaster(pkts [][]byte, end uint16) (sent int, bytes uint64, err error) {
	r, views := &q.r, q.views
	cur := q.cur
	for _, p := range pkts {
		start, total := cur, uint64(len(p))
		for {
			if cur == end {
				err = ErrRingFull
				break
			}
			d := r.Desc(cur)
			dc := *d
			v, verr := ring.View(views, &dc)
			if verr != nil {
				err = q.fail(ErrBadDescriptor, verr.Error())
				break
			}
			if len(v) == 0 {
				err = q.fail(ErrBadDescriptor, "posted buffer has zero length")
				break
			}
			n := copy(v, p)
			p = p[n:]
			d.Length = uint32(n)
			d.Flags = 0
			if len(p) > 0 {
				d.Flags = ring.DescFlagNext
			}
			cur++
			if len(p) == 0 {
				break
			}
		}
		if err != nil {
			q.cur = start
			return sent, bytes, err
		}
		bytes += total
		sent++
	}
	q.cur = cur
	return sent, bytes, nil
}

// EnqueueRx is the slave's zero-copy forward (libmemif memif_buffer_enq_tx):
// it swaps the buffers of received, unreleased rx Buffers into the next free
// tx slots, so the packet bytes never move. bufs (all from one RxQueue of
// the same interface) are rewritten in place to be tx buffers; publish them
// with TxBurst and call Release on the rx queue for the same count, which
// re-posts the tx slots' former buffers. It returns how many it moved
// (fewer than len(bufs) when the tx ring is full, with ErrRingFull).
func (q *TxQueue) EnqueueRx(bufs []Buffer) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	if !q.slave {
		return 0, errEnqueueMaster
	}
	rq := bufs[0].q
	if rq == nil || rq == &q.queue || !rq.rx {
		return 0, errForeignBuffer
	}
	if err := q.lock(); err != nil {
		return 0, err
	}
	defer q.mu.Unlock() // a slave's memory is its own: never unsealed
	if rq.c != q.c {
		return 0, errForeignBuffer
	}
	free, err := q.txFree(q.size)
	if err != nil {
		return 0, err
	}
	rq.mu.Lock()
	defer rq.mu.Unlock()
	if rq.dead {
		rq.dropViews()
		return 0, ErrDisconnected
	}
	oldest := rq.own - uint16(rq.size) // first slot read but not re-posted
	held := uint16(rq.cur - oldest)
	n := 0
	for n < len(bufs) {
		if uint32(n) >= free {
			add(&q.st.ringFull, 1)
			return n, ErrRingFull
		}
		b := &bufs[n]
		if b.q != rq || uint16(b.slot-oldest) >= held {
			return n, errForeignBuffer
		}
		rs, ts := b.slot&rq.mask, q.cur&q.mask
		rq.shadow[rs], q.shadow[ts] = q.shadow[ts], rq.shadow[rs]
		// The buffer keeps its headroom: Data still starts past it.
		b.q, b.slot, b.cap = &q.queue, q.cur, q.bufSize-(b.Offset-q.shadow[ts])
		q.cur++
		n++
	}
	return n, nil
}

// Pending is the number of buffers allocated (Alloc, EnqueueRx) but not yet
// published with TxBurst.
func (q *TxQueue) Pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return int(uint16(q.cur - q.own))
}

// Rewind drops every allocated but unpublished buffer, so the slots are
// allocated again by the next Alloc (libmemif memif_set_next_free_buffer).
// Buffers swapped in by EnqueueRx stay with their slots.
func (q *TxQueue) Rewind() {
	q.mu.Lock()
	if q.dead || q.failed {
		q.dropViews()
	} else {
		q.cur = q.own
	}
	q.mu.Unlock()
}
