package gen

import (
	"errors"
	"sync"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
)

// sink counts returning frames. Every receive queue's goroutine takes its lock once per
// burst, so the trackers see each transmit queue's sequence in one place and a frame
// duplicated across receive queues is still a duplicate.
type sink struct {
	stream uint16
	epoch  time.Time

	mu       sync.Mutex
	trackers []*tracker // per transmit queue
	lat      histogram
	frames   uint64 // every frame received, ours or not
	bytes    uint64
	ours     uint64 // frames with this run's header, duplicates included
	foreign  uint64 // frames without it (another generator, a plugin's own frames, ...)
	badQueue uint64 // this run's stream id but a queue it does not have
	bursts   uint64 // non-empty receive bursts
	waits    uint64 // receive polls that found the ring empty
}

func newSink(stream uint16, queues int, epoch time.Time) *sink {
	s := &sink{stream: stream, epoch: epoch}
	for range queues {
		s.trackers = append(s.trackers, newTracker())
	}
	return s
}

// poll receives one burst from rx, counts it and releases it. It does not allocate.
func (s *sink) poll(rx *memif.RxQueue, bufs []memif.Buffer) (int, error) {
	n, err := rx.RxBurst(bufs)
	if n == 0 {
		return 0, err
	}
	return n, s.count(rx, bufs[:n])
}

// count counts the burst bufs that rx returned and releases it.
func (s *sink) count(rx *memif.RxQueue, bufs []memif.Buffer) error {
	u := s.observe(bufs, uint64(time.Since(s.epoch)))
	err := rx.Release(len(bufs))
	if u != (unknown{}) && errors.Is(err, memif.ErrDisconnected) {
		// The connection ended while the burst was read. memif marks a queue dead
		// before it replaces its buffers with zero pages (memif's "View lifetime"), so
		// a Release that succeeds proves the reads were intact; this one did not, and
		// what did not parse as this run's may be zeros rather than a frame. The frames
		// those buffers held are lost, not foreign.
		s.forget(u)
	}
	return err
}

// unknown counts the frames of one burst that did not parse as this run's.
type unknown struct {
	foreign, badQueue, bytes uint64
}

// forget takes u back out of the counters.
func (s *sink) forget(u unknown) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frames -= u.foreign + u.badQueue
	s.bytes -= u.bytes
	s.foreign -= u.foreign
	s.badQueue -= u.badQueue
}

// observe counts the packets in bufs (chains are consecutive buffers) received at now
// nanoseconds after the epoch, and returns what it counted as not this run's.
func (s *sink) observe(bufs []memif.Buffer, now uint64) (u unknown) {
	var scratch [MinSize + 64]byte // room for the headers of a chain whose first buffer is tiny
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bursts++
	for i := 0; i < len(bufs); {
		first := bufs[i].Data
		size := 0
		j := i
		for ; j < len(bufs); j++ {
			size += len(bufs[j].Data)
			if bufs[j].Flags&memif.BufferNext == 0 {
				break
			}
		}
		chain := bufs[i:min(j+1, len(bufs))]
		i = j + 1
		s.frames++
		s.bytes += uint64(size)
		head := first
		if len(first) < len(scratch) && len(chain) > 1 {
			k := 0
			for _, b := range chain {
				k += copy(scratch[k:], b.Data)
				if k == len(scratch) {
					break
				}
			}
			head = scratch[:k]
		}
		h, ok := parseFrame(head)
		switch {
		case !ok || h.stream != s.stream:
			s.foreign++
			u.foreign++
			u.bytes += uint64(size)
		case int(h.queue) >= len(s.trackers):
			s.badQueue++
			u.badQueue++
			u.bytes += uint64(size)
		default:
			s.ours++
			s.trackers[h.queue].observe(h.seq)
			if h.stamp <= now { // a later stamp was not written by this clock: no latency
				s.lat.record(now - h.stamp)
			}
		}
	}
	return u
}

// countWait counts a receive poll that found the ring empty (in interrupt
// mode, one wait for the peer's signal follows).
func (s *sink) countWait() {
	s.mu.Lock()
	s.waits++
	s.mu.Unlock()
}

func (s *sink) progress() Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := Progress{Foreign: s.foreign + s.badQueue}
	for _, t := range s.trackers {
		p.Received += t.unique + t.late
	}
	return p
}
