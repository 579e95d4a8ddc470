package dataplane

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/host/dataplane/internal/affinity"
	"github.com/memif-wasm/memif-wasm/memif"
)

// Defaults of WorkerConfig.
const (
	DefaultWorkerBurst = 64
	// DefaultTxRetryTime lets a peer that is briefly descheduled (a GC
	// pause, a busy core) drain its ring before packets are dropped, while a
	// peer that stopped reading holds a worker up for at most a millisecond
	// per burst and port.
	DefaultTxRetryTime = time.Millisecond
)

// How a worker waits for room on a full tx ring (see transmit). The first
// txRetryYields retries only yield the processor: a peer on another core
// that is about to catch up is met within microseconds. Later retries sleep
// txRetryPause, which parks the worker: a goroutine that only yields stays
// runnable, so the Go scheduler never finds its run queues empty and never
// polls the network, and a peer in this process waiting for its eventfd
// (the one that would empty the ring) is not woken until another processor
// goes idle. A sleep may last up to about a millisecond when the process is
// otherwise idle (Go timers then wait in the netpoller's millisecond
// timeout); TxRetryTime still bounds the wait.
const (
	txRetryYields = 8
	txRetryPause  = 5 * time.Microsecond
)

// noQueueRetry is how often a worker whose queue the current connection
// did not negotiate looks again.
const noQueueRetry = 50 * time.Millisecond

// Port is a memif interface packets can leave by. Workers that share a Port
// serialise their transmits on it, since a memif queue takes one sender at a
// time.
type Port struct {
	If *memif.Interface
	// Tenant owns the interface. A worker whose pipeline belongs to a tenant
	// accepts only that tenant's ports, so its plugins' packets (and, with
	// zero-copy, their buffer regions) never reach another tenant.
	Tenant *host.Tenant
	// Name names the port in traces and captures (its interface's name).
	Name string
	mu   sync.Mutex

	// Taps (see tap.go): loaded once per burst, nil while none is set.
	trace   atomic.Pointer[Trace]
	capture atomic.Pointer[Capture]
}

// WorkerConfig configures a Worker. Pipeline and In are required; the rest
// has defaults.
type WorkerConfig struct {
	// Pipeline is this worker's own pipeline (one per worker).
	Pipeline *host.Pipeline
	// In is the ingress interface; Queue its rx queue this worker serves.
	// TX verdicts leave by In's tx queue of the same index (modulo the count).
	In    *Port
	Queue int
	// IfIndex is shown to plugins as the ingress interface index.
	IfIndex uint32
	// Egress receives PASSed packets; nil drops them (counted).
	Egress *Port
	// Ports are the REDIRECT targets by port number; a missing or nil entry
	// drops (counted). Plugins' allow-lists decide which ports they may name.
	Ports []*Port
	// Burst is the most packets taken per rx burst. 0: DefaultWorkerBurst;
	// at most abi.MaxBurst.
	Burst int
	// TxRetryTime bounds how long one burst's packets for one port wait,
	// yielding and then sleeping, for room on a full tx ring; past it the
	// packets that do not fit are dropped (counted as TxDropRingFull).
	// 0: DefaultTxRetryTime.
	TxRetryTime time.Duration
	// TxRetries, when positive, also caps the retries per packet on a full
	// ring. 0: no count cap (TxRetryTime alone bounds the wait).
	TxRetries int
	// Clock tells the time TxRetryTime is measured on (the pauses between
	// retries are real). nil: host.SystemClock. A clock that does not move
	// keeps a full ring's burst retrying, and a cancelled Run waiting for
	// it.
	Clock host.Clock
	// LockOSThread runs the worker on an OS thread of its own
	// (runtime.LockOSThread) for as long as Run runs: its caches stay warm,
	// and an external affinity setting holds.
	LockOSThread bool
	// CPUs, when set, also restricts that thread to these CPUs
	// (sched_setaffinity): one worker per queue, each on a CPU of its own,
	// is how N queues use N cores. The thread ends with Run, so the
	// restriction never reaches other goroutines. Each CPU must be one the
	// process may run on.
	CPUs []int
}

// WorkerStats are a worker's counters (read with Worker.ReadStats; sum
// workers with Add).
type WorkerStats struct {
	RxPackets, RxBursts uint64
	// Tx counts packets sent, by verdict that sent them: Pass, TX, Redirect.
	Tx [abi.NumVerdicts]uint64
	// Dropped counts packets not sent, by verdict (Aborted and Drop are the
	// plugins' decisions; Pass, TX, Redirect here mean no port or ring full).
	Dropped       [abi.NumVerdicts]uint64
	TxRingFull    uint64 // retries that found the ring full
	Connections   uint64 // connections served
	ZeroCopyConns uint64 // of which with zero-copy placement

	// RxBytes counts the bytes received, chained buffers included; TxBytes
	// the bytes sent, by verdict as Tx.
	RxBytes uint64
	TxBytes [abi.NumVerdicts]uint64
	// TxDrops splits the sending verdicts' Dropped by why the packet was not
	// sent; the two add up to the same total.
	TxDrops [NumTxDropReasons]uint64
	// RxDrops splits Dropped[Drop] and Dropped[Aborted], the packets no
	// verdict sent, by who dropped them; the two add up to the same total.
	RxDrops [NumRxDropReasons]uint64
	// BurstSizes is a histogram of packets per rx burst (see BurstSizeBound);
	// its buckets add up to RxBursts, its sum is RxPackets.
	BurstSizes [NumBurstSizeBuckets]uint64
	// Busy is the time spent on bursts: the pipeline and the transmits.
	Busy time.Duration
	// EmptyPolls counts rx bursts that found the ring empty: in polling
	// mode each idle spin, in interrupt mode each wake-up with nothing new.
	EmptyPolls uint64
}

// Worker moves packets from one memif rx queue through a host.Pipeline and out by
// verdict. Run it on its own goroutine.
type Worker struct {
	cfg WorkerConfig

	mu    sync.Mutex
	stats WorkerStats

	bufs   []memif.Buffer // rx: a ring's worth once connected, so any chain fits
	txbufs []memif.Buffer
	pkts   []host.Packet
	np     int
	chain  [][]byte // further segments of chained packets, as many as bufs

	// bt is the burst's tap state while the ingress port has a trace or a
	// capture, nil otherwise; tap keeps its buffers between bursts.
	bt     *burstTap
	tap    burstTap
	hb     host.Burst
	pendTx []pendingTx // tx copies for captures, until the burst ends

	// transmit's packets of one verdict and port: their indexes in pkts and
	// their sizes (AllocBurst's input), a burst each.
	sel   []int
	sizes []int
}

// NewWorker validates cfg.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	if cfg.Pipeline == nil || cfg.In == nil || cfg.In.If == nil {
		return nil, errors.New("host: worker needs a pipeline and an ingress port")
	}
	if t := cfg.Pipeline.Tenant(); t != nil {
		check := func(what string, p *Port) error {
			if p != nil && p.Tenant != t {
				return fmt.Errorf("host: worker of tenant %v: %s belongs to tenant %v", t, what, p.Tenant)
			}
			return nil
		}
		err := errors.Join(check("the ingress port", cfg.In), check("the egress port", cfg.Egress))
		for i, p := range cfg.Ports {
			err = errors.Join(err, check(fmt.Sprintf("port %d", i), p))
		}
		if err != nil {
			return nil, err
		}
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultWorkerBurst
	}
	cfg.Burst = min(cfg.Burst, abi.MaxBurst)
	if cfg.TxRetryTime <= 0 {
		cfg.TxRetryTime = DefaultTxRetryTime
	}
	if cfg.Clock == nil {
		cfg.Clock = host.SystemClock
	}
	if len(cfg.CPUs) > 0 {
		allowed, err := affinity.Allowed()
		if err != nil {
			return nil, fmt.Errorf("host: worker CPUs %v: %w", cfg.CPUs, err)
		}
		for _, c := range cfg.CPUs {
			if !slices.Contains(allowed, c) {
				return nil, fmt.Errorf("host: worker CPU %d is not one this process may run on (%v)", c, allowed)
			}
		}
		cfg.CPUs = slices.Clone(cfg.CPUs)
	}
	return &Worker{
		cfg:    cfg,
		bufs:   make([]memif.Buffer, cfg.Burst),
		pkts:   make([]host.Packet, cfg.Burst),
		chain:  make([][]byte, cfg.Burst),
		txbufs: make([]memif.Buffer, 4*cfg.Burst),
		sel:    make([]int, 0, cfg.Burst),
		sizes:  make([]int, 0, cfg.Burst),
	}, nil
}

// ReadStats returns a copy of the counters.
func (w *Worker) ReadStats() WorkerStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

// Run serves the queue across connections until ctx is done (it then
// returns nil) or the ingress interface is closed (memif.ErrClosed). A
// connection that ends for any other reason (the peer left, broke the
// protocol, or faulted shared memory it could shrink) only makes it wait
// for the next one.
func (w *Worker) Run(ctx context.Context) error {
	if w.cfg.LockOSThread || len(w.cfg.CPUs) > 0 {
		runtime.LockOSThread()
		if len(w.cfg.CPUs) == 0 {
			defer runtime.UnlockOSThread()
		} else if err := affinity.Pin(w.cfg.CPUs); err != nil {
			// Still locked: the thread, whatever its mask now, ends with Run.
			return fmt.Errorf("host: %v: %w", w, err)
		}
		// With CPUs the thread stays locked: it ends when Run returns.
	}
	for {
		if err := w.cfg.In.If.WaitConnected(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		err := w.serve(ctx)
		w.cfg.Pipeline.DetachRegion()
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, memif.ErrClosed) {
			return err
		}
		if errors.Is(err, memif.ErrNoQueue) {
			// This connection has fewer queues than our index; the link
			// stays up, so WaitConnected would return at once. Look again
			// later rather than spin.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(noQueueRetry):
			}
		}
		// A disconnect: wait for the next connection.
	}
}

func (w *Worker) serve(ctx context.Context) (err error) {
	rx, err := w.cfg.In.If.RxQueue(w.cfg.Queue)
	if err != nil {
		return err
	}
	// Room for a whole ring of buffers: a chained packet may span all of
	// them, and one that does must still be received (bursts normally take
	// Burst buffers; see below). Grown once, for the largest ring seen.
	if ring := rx.RingSize(); len(w.bufs) < ring {
		w.bufs = make([]memif.Buffer, ring)
		w.chain = make([][]byte, ring)
	}
	placement := host.PlacementCopy
	for _, r := range w.cfg.In.If.Regions() {
		if r.Rings || r.Size == 0 {
			continue
		}
		placement, _ = w.cfg.Pipeline.AttachRegion(r.Index, r.FD, host.RegionFacts{Size: int(r.Size), Unsealed: !r.Sealed, Tenant: w.cfg.In.Tenant})
		break
	}
	// A peer trusted with memory it can shrink (memif's
	// AllowUnsealedRegions), on this port or one the packets leave by, may
	// truncate it under a copy of a packet: the fault must end that
	// connection, not the process. Set once per connection, it costs the
	// bursts nothing.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer w.containFault(&err)
	w.mu.Lock()
	w.stats.Connections++
	if placement == host.PlacementZeroCopy {
		w.stats.ZeroCopyConns++
	}
	w.mu.Unlock()
	burst := w.bufs[:min(w.cfg.Burst, len(w.bufs))]
	for {
		// Stop between bursts even when traffic never lets the ring run dry
		// (Wait, which also watches ctx, is then never reached).
		select {
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		n, err := rx.RxBurst(burst)
		if n == 0 && errors.Is(err, memif.ErrShortBuffer) {
			// The next packet is a chain longer than a burst of buffers:
			// take it (and what follows, up to a ring) with room for all.
			n, err = rx.RxBurst(w.bufs)
		}
		if err != nil {
			return err
		}
		if n == 0 {
			w.mu.Lock()
			w.stats.EmptyPolls++
			w.mu.Unlock()
			if rx.Mode() == memif.RxModePolling {
				// A polled queue is never signalled: look again.
				runtime.Gosched()
				continue
			}
			if err := rx.Wait(ctx); err != nil {
				return err
			}
			continue
		}
		for i := 0; i < n; {
			i += w.burst(i, n)
		}
		if err := rx.Release(n); err != nil {
			return err
		}
	}
}

// containFault ends serve after a fault on shared memory that a port's peer
// could shrink: the connection that owns the memory is ended (memif's
// RecoverFault) and serve returns memif.ErrRegionFault, so Run waits for
// the next connection. Any other panic goes on.
func (w *Worker) containFault(err *error) {
	r := recover()
	if r == nil {
		return
	}
	for _, p := range append([]*Port{w.cfg.In, w.cfg.Egress}, w.cfg.Ports...) {
		if p != nil && p.If != nil && p.If.RecoverFault(r) {
			*err = fmt.Errorf("host: %v: %w", w, memif.ErrRegionFault)
			return
		}
	}
	panic(r)
}

// burst runs received buffers bufs[from:n] through the pipeline and
// transmits them: as many whole packets as a burst holds (Burst), and
// returns how many buffers those took. It does not allocate.
func (w *Worker) burst(from, n int) (used int) {
	np, nc := 0, 0
	rxBytes := 0
	i := from
	for ; i < n && np < len(w.pkts); i++ {
		b := &w.bufs[i]
		p := &w.pkts[np]
		np++
		// Only the packet's own bytes: memif does not say where a received
		// buffer ends, so plugins get no headroom or tailroom here.
		*p = host.Packet{Buf: b.Data[:len(b.Data):len(b.Data)], Len: uint32(len(b.Data)), Region: b.Region, BufOffset: b.Offset}
		rxBytes += len(b.Data)
		first := nc
		for b.Flags&memif.BufferNext != 0 && i+1 < n {
			i++
			b = &w.bufs[i]
			w.chain[nc] = b.Data
			nc++
			rxBytes += len(b.Data)
		}
		if nc > first {
			p.Chain = w.chain[first:nc:nc]
		}
	}
	// The worker's own Burst: handed to a StageObserver, a local one would
	// be moved to the heap on every burst.
	w.hb = host.Burst{Packets: w.pkts[:np], IfIndex: w.cfg.IfIndex, Queue: uint16(w.cfg.Queue)}
	burst := &w.hb
	if tr, cp := w.cfg.In.trace.Load(), w.cfg.In.capture.Load(); tr != nil || cp != nil {
		w.bt = &w.tap
		w.bt.w, w.bt.trace, w.bt.capt = w, tr, cp
		w.bt.start(np)
		burst.Observer = w.bt
	}
	// Busy time runs from the pipeline's first clock read (its guests'
	// clock) to one read here after the transmits: one read per burst.
	res := w.cfg.Pipeline.ProcessBurst(burst)
	start, failClosed, closed := res.Start, res.FailClosed, res.Closed

	var st WorkerStats
	st.RxPackets, st.RxBursts, st.RxBytes = uint64(np), 1, uint64(rxBytes)
	w.np = np
	w.transmit(abi.TX, -1, w.cfg.In, &st)
	w.transmit(abi.Pass, -1, w.cfg.Egress, &st)
	for port, dst := range w.cfg.Ports {
		if dst != nil {
			w.transmit(abi.Redirect, port, dst, &st)
		}
	}
	for i := range w.pkts[:np] {
		switch v := w.pkts[i].Verdict; v {
		case abi.Aborted, abi.Drop:
			st.Dropped[v]++
		case abi.Redirect:
			if int(w.pkts[i].Port) >= len(w.cfg.Ports) || w.cfg.Ports[w.pkts[i].Port] == nil {
				st.Dropped[v]++
				st.TxDrops[TxDropNoEgress]++
				if w.bt != nil {
					w.bt.txDrop(i, TxDropNoEgress)
				}
			}
		}
	}
	// Every packet a fail-closed policy or a closed pipeline stopped carries
	// DROP (see the pipeline's fail policy); the rest of the DROPs are plugins'.
	st.RxDrops[RxDropVerdict] = st.Dropped[abi.Drop] - uint64(failClosed+closed)
	st.RxDrops[RxDropAborted] = st.Dropped[abi.Aborted]
	st.RxDrops[RxDropFailClosed] = uint64(failClosed)
	st.RxDrops[RxDropPipelineClosed] = uint64(closed)
	st.BurstSizes[burstSizeBucket(np)]++
	st.Busy = w.cfg.Pipeline.Elapsed() - start
	// After the busy time: what a tap costs is not the data plane's.
	if w.bt != nil {
		w.bt.finish(np, closed > 0)
	}
	if w.bt != nil && w.bt.capt != nil || len(w.pendTx) > 0 {
		w.flushCaptures(w.bt, np)
	}
	w.bt = nil
	w.mu.Lock()
	w.stats.Add(&st)
	w.mu.Unlock()
	return i - from
}

// transmit sends the packets with verdict v (and, for REDIRECT, port
// number rport) out of dst: they are allocated on the tx ring with one
// AllocBurst (each whole, a chain when larger than a buffer), copied, and
// published in one TxBurst, so a burst takes the queue's lock twice and
// signals the peer at most once. A full ring is retried after publishing
// what is pending, yielding and then sleeping (txRetryYields), until
// TxRetryTime has passed since the call first found it full; from then on a
// packet that does not fit is dropped and counted. The clock is read only
// on a full ring.
func (w *Worker) transmit(v abi.Verdict, rport int, dst *Port, st *WorkerStats) {
	// The matching packets and their sizes, in the worker's own slices
	// (append stays within their capacity, a burst).
	sel, sizes := w.sel[:0], w.sizes[:0]
	for i := range w.pkts[:w.np] {
		p := &w.pkts[i]
		if p.Verdict != v || (rport >= 0 && int(p.Port) != rport) {
			continue
		}
		total := int(p.Len)
		for _, s := range p.Chain {
			total += len(s)
		}
		sel, sizes = append(sel, i), append(sizes, total)
	}
	match := len(sel)
	if match == 0 {
		return
	}
	if dst == nil || dst.If == nil {
		st.Dropped[v] += uint64(match)
		st.TxDrops[TxDropNoEgress] += uint64(match)
		w.tapDropAll(v, rport, TxDropNoEgress)
		return
	}
	dst.mu.Lock()
	defer dst.mu.Unlock()
	var tx *memif.TxQueue
	if nq := dst.If.NumTxQueues(); nq > 0 {
		tx, _ = dst.If.TxQueue(w.cfg.Queue % nq)
	}
	if tx == nil {
		st.Dropped[v] += uint64(match)
		st.TxDrops[TxDropLinkDown] += uint64(match)
		w.tapDropAll(v, rport, TxDropLinkDown)
		return
	}
	capt := dst.capture.Load()
	if n := tx.RingSize(); len(w.txbufs) < n {
		// Room for a chain as long as the ring: grown once per larger ring.
		w.txbufs = make([]memif.Buffer, n)
	}
	k, queued, queuedBytes := 0, 0, 0
	flush := func() {
		if k > 0 {
			tx.TxBurst(w.txbufs[:k])
			st.Tx[v] += uint64(queued)
			st.TxBytes[v] += uint64(queuedBytes)
			k, queued, queuedBytes = 0, 0, 0
		}
	}
	var retryUntil time.Time // set when the ring is first found full
	expired := false
	try := 0 // retries of packet sel[next]
	for next := 0; next < match; {
		np, nb, err := tx.AllocBurst(w.txbufs[k:], sizes[next:])
		bi := k
		for j, pi := range sel[next : next+np] {
			m := 1 // the packet's buffers: up to the first without NEXT
			for w.txbufs[bi+m-1].Flags&memif.BufferNext != 0 {
				m++
			}
			fill(w.txbufs[bi:bi+m], &w.pkts[pi])
			if capt != nil {
				w.captureTx(dst, capt, pi)
			}
			bi += m
			queuedBytes += sizes[next+j]
		}
		k += nb
		queued += np
		next += np
		if np > 0 {
			try = 0
		}
		if err == nil {
			break
		}
		if errors.Is(err, memif.ErrShortBuffer) && k > 0 {
			flush() // our buffer list is full, not the ring
			continue
		}
		reason := TxDropLinkDown
		switch {
		case errors.Is(err, memif.ErrTooLarge), errors.Is(err, memif.ErrShortBuffer):
			reason = TxDropTooBig
		case errors.Is(err, memif.ErrRingFull):
			reason = TxDropRingFull
			flush() // the peer can drain only what is published
			if !expired && (w.cfg.TxRetries <= 0 || try < w.cfg.TxRetries) {
				now := w.cfg.Clock.Now()
				if retryUntil.IsZero() {
					retryUntil = now.Add(w.cfg.TxRetryTime)
				}
				if expired = !now.Before(retryUntil); !expired {
					st.TxRingFull++
					if try < txRetryYields {
						runtime.Gosched()
					} else {
						time.Sleep(txRetryPause)
					}
					try++
					continue
				}
			}
		}
		// Packet sel[next] is not sent; the ones after it are tried.
		st.Dropped[v]++
		st.TxDrops[reason]++
		if w.bt != nil {
			w.bt.txDrop(sel[next], reason)
		}
		next++
		try = 0
	}
	flush()
}

// tapDropAll notes for the tap that every packet transmit matches was
// dropped for reason r.
func (w *Worker) tapDropAll(v abi.Verdict, rport int, r TxDropReason) {
	if w.bt == nil {
		return
	}
	for i := range w.pkts[:w.np] {
		if p := &w.pkts[i]; p.Verdict == v && (rport < 0 || int(p.Port) == rport) {
			w.bt.txDrop(i, r)
		}
	}
}

// fill copies a packet (and its chain) into allocated tx buffers.
func fill(bufs []memif.Buffer, p *host.Packet) {
	bi, off := 0, 0
	put := func(src []byte) {
		for len(src) > 0 && bi < len(bufs) {
			n := copy(bufs[bi].Data[off:], src)
			src, off = src[n:], off+n
			if off == len(bufs[bi].Data) {
				bi, off = bi+1, 0
			}
		}
	}
	put(p.Data())
	for _, s := range p.Chain {
		put(s)
	}
}

// String describes the worker for logs.
func (w *Worker) String() string {
	return fmt.Sprintf("worker(queue %d)", w.cfg.Queue)
}
