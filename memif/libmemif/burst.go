package libmemif

import (
	"errors"
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/libmemif/internal/byteslices"
)

// maxPacketSize is the longest packet TxBurst accepts: C-libmemif's
// adapter passes packet sizes as uint16, and memif peers (VPP, DPDK)
// cannot reassemble more.
const maxPacketSize = 65535

// CPacketBuffers stores an array of memif buffers for use with TxBurst or
// RxBurst: one per queue, sized to the ring, reused by every burst.
type CPacketBuffers struct {
	bufs []memif.Buffer
}

// rxQueue is the adapter's state of one Rx queue of one connection.
type rxQueue struct {
	mu    sync.Mutex // one burst at a time, so carry stays in order
	q     *memif.RxQueue
	bufs  CPacketBuffers
	carry []RawPacketData // received and copied, not yet returned
	arena arena
	intCh chan struct{}
}

// txQueue is the adapter's state of one Tx queue of one connection.
type txQueue struct {
	mu sync.Mutex
	q  *memif.TxQueue
	// Slave only (the master learns buffer sizes per descriptor): a packet
	// needing more than maxBufs buffers of bufSize can never be sent.
	maxBufs, bufSize int
}

// RxBurst receives up to count packets from an Rx queue and returns copies
// of them, oldest first; a packet that arrived in chained buffers (a jumbo
// frame) is returned whole. It never blocks: no packets is a nil slice. It
// is only valid while connected (ErrDisconnected otherwise). It returns
// ErrQueueID for a queue the connection does not have and ErrNoConn after
// Close. RxBurst calls on different queues may run concurrently.
//
// The returned packets are copies that belong to the caller. They are
// carved from 8 KiB blocks shared by consecutive bursts (a packet kept
// alive keeps its block alive), so most bursts allocate nothing.
func (m *Memif) RxBurst(queueID uint8, count uint16) (packets []RawPacketData, err error) {
	rq, err := m.rxQueue(queueID)
	if err != nil || count == 0 {
		return nil, err
	}
	rq.mu.Lock()
	defer rq.mu.Unlock()
	if len(rq.carry) > 0 {
		n := min(int(count), len(rq.carry))
		packets = rq.carry[:n:n]
		rq.carry = rq.carry[n:]
		if len(rq.carry) == 0 {
			rq.carry = nil
		}
		return packets, nil
	}
	bufs := rq.bufs.bufs
	// count descriptors hold at most count packets; only when the next
	// packet alone is a longer chain is the whole array needed, and any
	// surplus packets are carried to the next call.
	n, err := rq.q.RxBurst(bufs[:min(int(count), len(bufs))])
	if n == 0 && errors.Is(err, memif.ErrShortBuffer) {
		n, err = rq.q.RxBurst(bufs)
	}
	if err != nil {
		return nil, m.logErr("rx burst", err)
	}
	if n == 0 {
		return nil, nil
	}
	packets, faulted := copyPackets(&rq.arena, bufs[:n])
	// Release fails if the link went down; memif unmaps only after that,
	// so a successful Release proves the copy read live memory.
	if err := rq.q.Release(n); err != nil || faulted {
		return nil, ErrDisconnected
	}
	if len(packets) > int(count) {
		rq.carry = packets[count:]
		packets = packets[:count:count]
	}
	return packets, nil
}

// Returned packets are carved from per-queue blocks instead of two fresh
// allocations per burst: at 64-byte packets the allocator and the garbage
// collector would otherwise cost more than the whole memif data path.
const (
	dataBlock   = 8 << 10 // bytes of packet data per block
	headerBlock = 256     // RawPacketData headers per block (6 KiB)
)

// arena hands out never-reused memory from the current blocks; memory
// given out belongs to the caller for good, and a block is freed by the
// garbage collector once no packet from it is referenced.
type arena struct {
	data []byte
	hdrs []RawPacketData
}

func (a *arena) bytes(n int) []byte {
	if n > len(a.data) {
		a.data = make([]byte, max(n, dataBlock))
	}
	b := a.data[:n:n]
	a.data = a.data[n:]
	return b
}

func (a *arena) headers(n int) []RawPacketData {
	if n > len(a.hdrs) {
		a.hdrs = make([]RawPacketData, max(n, headerBlock))
	}
	h := a.hdrs[:0:n]
	a.hdrs = a.hdrs[n:]
	return h
}

// copyPackets copies the packets in bufs (chains joined) into memory from
// a. The buffers are views of shared memory that a disconnect may unmap
// at any moment, so a fault is turned into faulted=true instead of killing
// the process; the caller then discards the result.
func copyPackets(a *arena, bufs []memif.Buffer) (packets []RawPacketData, faulted bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(runtime.Error); !ok {
				panic(r)
			}
			packets, faulted = nil, true
		}
	}()
	total, npkts := 0, 0
	for i := range bufs {
		total += len(bufs[i].Data)
		if bufs[i].Flags&memif.BufferNext == 0 {
			npkts++
		}
	}
	data := a.bytes(total)
	packets = a.headers(npkts)
	start, off := 0, 0
	for i := range bufs {
		off += copy(data[off:], bufs[i].Data)
		if bufs[i].Flags&memif.BufferNext == 0 {
			// Capacity is capped so a caller's append cannot overwrite the
			// next packet.
			packets = append(packets, RawPacketData(data[start:off:off]))
			start = off
		}
	}
	return packets, false
}

// TxBurst sends packets into a Tx queue, each copied into shared memory
// (chained buffers for packets larger than one buffer), and returns how
// many were queued: fewer than len(packets) when the ring is full, which
// is not an error. It never blocks. It is only valid while connected
// (ErrDisconnected otherwise). It returns ErrInvalArgs, sending nothing,
// if a packet is longer than 65535 bytes or needs more buffers than the
// ring has; ErrQueueID for a queue the connection does not have; ErrNoConn
// after Close. TxBurst calls on different queues may run concurrently.
func (m *Memif) TxBurst(queueID uint8, packets []RawPacketData) (count uint16, err error) {
	tq, err := m.txQueue(queueID)
	if err != nil || len(packets) == 0 {
		return 0, err
	}
	if len(packets) > 65535 {
		// count is a uint16; the rest go in the next call.
		packets = packets[:65535]
	}
	for i, p := range packets {
		if len(p) > maxPacketSize || (tq.bufSize > 0 && (len(p)+tq.bufSize-1)/tq.bufSize > tq.maxBufs) {
			log().WithFields(map[string]any{"if": m.IfName, "queue": queueID, "packet": i, "len": len(p)}).
				Warn("libmemif: packet too large for the ring")
			return 0, ErrInvalArgs
		}
	}
	tq.mu.Lock()
	defer tq.mu.Unlock()
	sent, err := tq.q.WritePackets(byteslices.Of(packets))
	if err != nil && !errors.Is(err, memif.ErrRingFull) {
		return uint16(sent), m.logErr("tx burst", err)
	}
	return uint16(sent), nil
}
