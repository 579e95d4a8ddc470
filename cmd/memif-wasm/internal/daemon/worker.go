package daemon

import (
	"context"
	"errors"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/memif"
)

// txRetries bounds how often a worker retries a full tx ring before it drops
// the rest of the burst for that destination: the first txSpins retries only
// yield, the rest sleep txRetrySleep, so a burst waits at most about a
// millisecond for a slow peer.
const (
	txRetries    = 64
	txSpins      = 16
	txRetrySleep = 20 * time.Microsecond
)

// emptyPollFlush is how many empty polls a polling worker counts locally
// before it publishes them, so idle spinning takes no lock.
const emptyPollFlush = 1024

// worker serves one rx queue of one interface: rx burst, pipeline, tx per
// verdict, release. The object outlives connections (its counters keep
// growing); run is started per connection.
//
// mu is held for a whole burst. It guards stats and pipe: a snapshot reads
// the counters between bursts, and a pipeline swap (plugin load or unload)
// completes between bursts, so no burst sees a closed pipeline.
type worker struct {
	p *port
	q int

	mu    sync.Mutex
	pipe  *host.Pipeline
	stats QueueStats

	// Scratch, owned by the running goroutine.
	bufs   []memif.Buffer
	pkts   []host.Packet
	chains [][]byte
	burst  host.Burst
	dest   [][]uint16 // packet indices per destination port
	txBufs []memif.Buffer
}

func newWorker(p *port, q int, pipe *host.Pipeline) *worker {
	n := p.ringSize()
	w := &worker{
		p:      p,
		q:      q,
		pipe:   pipe,
		bufs:   make([]memif.Buffer, n),
		pkts:   make([]host.Packet, n),
		chains: make([][]byte, n),
		txBufs: make([]memif.Buffer, 2*abi.MaxBurst),
	}
	w.dest = make([][]uint16, len(p.t.ports))
	for i := range w.dest {
		w.dest[i] = make([]uint16, 0, n)
	}
	return w
}

// swapPipe installs next between two bursts and returns the previous pipeline.
func (w *worker) swapPipe(next *host.Pipeline) *host.Pipeline {
	w.mu.Lock()
	old := w.pipe
	w.pipe = next
	w.mu.Unlock()
	return old
}

// run serves rxq until the connection ends or ctx is done; after ctx is done
// it drains what the ring already holds, then returns.
func (w *worker) run(ctx context.Context, rxq *memif.RxQueue) {
	if w.p.cfg.PinWorkers {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	// A peer can end the connection, and memif unmap its memory, while this
	// worker still holds received buffers. Touching them then is a fault;
	// turn it into a panic that drops the burst instead of the process.
	debug.SetPanicOnFault(true)
	polling := rxq.Mode() == memif.RxModePolling
	var empty uint64
	for {
		n, err := rxq.RxBurst(w.bufs)
		if err != nil {
			w.flushEmpty(empty)
			return // disconnected, closed, or the peer broke the protocol (memif ends the connection)
		}
		if n == 0 {
			if ctx.Err() != nil {
				w.flushEmpty(empty)
				return // drained
			}
			empty++
			if polling {
				if empty%emptyPollFlush == 0 {
					w.flushEmpty(empty)
					empty = 0
				}
				runtime.Gosched()
				continue
			}
			w.flushEmpty(empty)
			empty = 0
			if err := rxq.Wait(ctx); err != nil && ctx.Err() == nil {
				return
			}
			continue
		}
		if !w.burstSafe(rxq, n, empty) {
			return
		}
		empty = 0
	}
}

func (w *worker) flushEmpty(n uint64) {
	if n == 0 {
		return
	}
	w.mu.Lock()
	w.stats.EmptyPolls += n
	w.mu.Unlock()
}

// burstSafe runs one burst; false if it faulted on memory the connection
// lost (the burst is dropped and the worker ends with the connection).
func (w *worker) burstSafe(rxq *memif.RxQueue, n int, empty uint64) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			ok = false
			w.p.d.log.Warn("burst dropped: connection memory went away", "tenant", w.p.t.name, "interface", w.p.cfg.Name, "queue", w.q, "panic", r)
		}
	}()
	w.burst1(rxq, n, empty)
	return true
}

func (w *worker) burst1(rxq *memif.RxQueue, n int, empty uint64) {
	start := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	st := &w.stats
	st.EmptyPolls += empty

	// Packets from buffers: a chain is consecutive buffers, all but the last with BufferNext.
	np, nc := 0, 0
	var rxBytes uint64
	for i := 0; i < n; {
		b := &w.bufs[i]
		pk := &w.pkts[np]
		*pk = host.Packet{
			Buf:       b.Data,
			Len:       uint32(len(b.Data)),
			Region:    b.Region,
			BufOffset: b.Offset,
			InPort:    uint16(w.p.index),
		}
		rxBytes += uint64(len(b.Data))
		i++
		if b.Flags&memif.BufferNext != 0 {
			c0 := nc
			for i < n {
				seg := &w.bufs[i]
				w.chains[nc] = seg.Data
				nc++
				rxBytes += uint64(len(seg.Data))
				i++
				if seg.Flags&memif.BufferNext == 0 {
					break
				}
			}
			pk.Chain = w.chains[c0:nc:nc]
		}
		np++
	}
	st.RxPackets += uint64(np)
	st.RxBytes += rxBytes
	st.RxBursts++
	st.BurstPacketsSum += uint64(np)
	st.BurstSize[bucket(BurstSizeBuckets[:], float64(np))]++

	w.burst.Packets = w.pkts[:np]
	w.burst.IfIndex = uint32(w.p.index)
	w.burst.Queue = uint16(w.q)
	w.pipe.Process(&w.burst)

	ports := w.p.t.ports
	for i := range w.dest {
		w.dest[i] = w.dest[i][:0]
	}
	for i := range w.burst.Packets {
		pk := &w.burst.Packets[i]
		switch pk.Verdict {
		case abi.TX:
			w.dest[w.p.index] = append(w.dest[w.p.index], uint16(i))
		case abi.Pass:
			if e := w.p.egress.Load(); e != nil {
				w.dest[e.index] = append(w.dest[e.index], uint16(i))
			} else {
				st.Drops[DropNoEgress]++
			}
		case abi.Redirect:
			// The pipeline checked the target against the allow-list.
			if int(pk.Port) < len(ports) {
				w.dest[pk.Port] = append(w.dest[pk.Port], uint16(i))
			} else {
				st.Drops[DropError]++
			}
		}
	}
	for pi, idx := range w.dest {
		if len(idx) > 0 {
			w.transmit(ports[pi], idx)
		}
	}
	rxq.Release(n)

	d := time.Since(start)
	st.BusyNanos += uint64(d)
	st.BurstNanosSum += uint64(d)
	st.BurstDuration[bucket(BurstBuckets[:], d.Seconds())]++
}

func bucket(bounds []float64, v float64) int {
	for i, b := range bounds {
		if v <= b {
			return i
		}
	}
	return len(bounds)
}

// transmit copies the packets w.pkts[idx] into tx buffers of port dst and
// publishes them. A full ring is retried a bounded number of times, then the
// rest is dropped and counted.
func (w *worker) transmit(dst *port, idx []uint16) {
	st := &w.stats
	set := dst.tx.Load()
	if set == nil || len(set.qs) == 0 {
		st.Drops[DropDisconnected] += uint64(len(idx))
		return
	}
	tq := set.qs[w.q%len(set.qs)]
	tq.mu.Lock()
	defer tq.mu.Unlock()
	pend := 0
	retries := 0
	for k := 0; k < len(idx); k++ {
		pk := &w.pkts[idx[k]]
		size := int(pk.Len)
		for _, c := range pk.Chain {
			size += len(c)
		}
		if pend == len(w.txBufs) {
			pend = w.flush(tq.q, pend)
		}
		n, err := tq.q.Alloc(w.txBufs[pend:], size)
		switch {
		case err == nil:
		case errors.Is(err, memif.ErrNoBufRing) && retries < txRetries:
			retries++
			pend = w.flush(tq.q, pend)
			if retries <= txSpins {
				runtime.Gosched()
			} else {
				time.Sleep(txRetrySleep)
			}
			k--
			continue
		case errors.Is(err, memif.ErrNoBufRing):
			st.Drops[DropRingFull] += uint64(len(idx) - k)
			w.flush(tq.q, pend)
			return
		case errors.Is(err, memif.ErrNoBuf) && pend > 0:
			pend = w.flush(tq.q, pend)
			k--
			continue
		case errors.Is(err, memif.ErrNoBuf):
			st.Drops[DropTooBig]++
			continue
		case errors.Is(err, memif.ErrDisconnected) || errors.Is(err, memif.ErrClosed):
			st.Drops[DropDisconnected] += uint64(len(idx) - k)
			return
		default:
			st.Drops[DropError] += uint64(len(idx) - k)
			w.flush(tq.q, pend)
			return
		}
		copyOut(w.txBufs[pend:pend+n], pk)
		pend += n
		st.TxPackets++
		st.TxBytes += uint64(size)
	}
	w.flush(tq.q, pend)
}

// flush publishes the first pend tx buffers; it returns 0 (the new pending count).
func (w *worker) flush(q *memif.TxQueue, pend int) int {
	if pend > 0 {
		q.TxBurst(w.txBufs[:pend])
	}
	return 0
}

// copyOut copies the packet's segments into the allocated buffers, whose
// Data lengths add up to the packet's size.
func copyOut(dst []memif.Buffer, pk *host.Packet) {
	bi, off := 0, 0
	put := func(src []byte) {
		for len(src) > 0 && bi < len(dst) {
			c := copy(dst[bi].Data[off:], src)
			src = src[c:]
			off += c
			if off == len(dst[bi].Data) {
				bi++
				off = 0
			}
		}
	}
	put(pk.Data())
	for _, c := range pk.Chain {
		put(c)
	}
}
