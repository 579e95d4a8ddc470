package gen

import (
	"math"
	"math/bits"
)

// window is how many sequence numbers behind the newest a frame may arrive and still be
// told apart as a duplicate or a late first arrival. It costs window/8 bytes per stream.
const window = 1 << 20

// tracker follows one transmit queue's sequence: which numbers arrived, how often and in
// what order. Numbers more than window behind the newest are beyond its memory: they
// are counted as late, neither as received nor as duplicates.
type tracker struct {
	base   uint64   // every seq below base has left the window
	next   uint64   // one past the highest seq seen
	seen   []uint64 // bit seq%window: seq in [base, base+window) has arrived
	unique uint64   // first arrivals
	dups   uint64   // arrivals of a seq already seen
	reord  uint64   // first arrivals after a higher seq
	late   uint64   // arrivals below base
}

func newTracker() *tracker { return &tracker{seen: make([]uint64, window/64)} }

func (t *tracker) observe(seq uint64) {
	if seq < t.base {
		t.late++
		return
	}
	if seq-t.base >= window {
		t.slide(seq - window + 1)
	}
	w, bit := (seq%window)/64, uint64(1)<<(seq%64)
	if t.seen[w]&bit != 0 {
		t.dups++
		return
	}
	t.seen[w] |= bit
	t.unique++
	if seq+1 < t.next {
		t.reord++
	} else {
		t.next = seq + 1
	}
}

// slide moves base up to newBase, forgetting what falls out of the window. It clears at
// most the whole window however far a (possibly hostile) seq jumps.
func (t *tracker) slide(newBase uint64) {
	if newBase-t.base >= window {
		clear(t.seen)
		t.base = newBase
		return
	}
	for ; t.base < newBase && t.base%64 != 0; t.base++ {
		t.seen[(t.base%window)/64] &^= 1 << (t.base % 64)
	}
	for ; newBase-t.base >= 64; t.base += 64 {
		t.seen[(t.base%window)/64] = 0
	}
	for ; t.base < newBase; t.base++ {
		t.seen[(t.base%window)/64] &^= 1 << (t.base % 64)
	}
}

// histogram is a log-linear latency histogram: exact below 2^subBits ns, then 2^subBits
// buckets per power of two, so any percentile is within 1/2^subBits (3%) of the truth.
// Recording is a few instructions and never allocates.
type histogram struct {
	counts   [(64 - subBits + 1) << subBits]uint64
	n, sum   uint64
	min, max uint64
}

const subBits = 5

func bucketOf(v uint64) int {
	if v < 1<<subBits {
		return int(v)
	}
	shift := bits.Len64(v) - 1 - subBits
	return (shift+1)<<subBits + int(v>>shift) - 1<<subBits
}

// bucketTop is the largest value that falls into bucket i.
func bucketTop(i int) uint64 {
	if i < 1<<subBits {
		return uint64(i)
	}
	shift := i>>subBits - 1
	m := uint64(i&(1<<subBits-1) + 1<<subBits)
	return (m+1)<<shift - 1
}

func (h *histogram) record(v uint64) {
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	h.max = max(h.max, v)
	h.n++
	h.sum += v
}

func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// quantile returns an upper bound of the q-quantile (0 < q <= 1), clamped to the
// largest value recorded; 0 when nothing was recorded.
func (h *histogram) quantile(q float64) uint64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var acc uint64
	for i, c := range h.counts {
		acc += c
		if acc >= rank {
			return min(bucketTop(i), h.max)
		}
	}
	return h.max
}
