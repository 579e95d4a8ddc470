package gen

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestTrackerCounts(t *testing.T) {
	tests := []struct {
		name                    string
		seqs                    []uint64
		unique, dups, reord, lt uint64
	}{
		{"in order", []uint64{0, 1, 2, 3}, 4, 0, 0, 0},
		{"gap", []uint64{0, 2, 3}, 3, 0, 0, 0},
		{"duplicate", []uint64{0, 1, 1, 2, 0}, 3, 2, 0, 0},
		{"swap", []uint64{1, 0, 3, 2}, 4, 0, 2, 0},
		{"late beyond window", []uint64{0, window + 5, 1}, 2, 0, 0, 1},
		{"duplicate at window edge", []uint64{5, window + 5, 6, 6}, 3, 1, 1, 0},
		{"huge jump", []uint64{1, math.MaxUint64 - 1, 2, math.MaxUint64 - 1}, 2, 1, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTracker()
			for _, s := range tt.seqs {
				tr.observe(s)
			}
			if tr.unique != tt.unique || tr.dups != tt.dups || tr.reord != tt.reord || tr.late != tt.lt {
				t.Fatalf("unique %d dups %d reord %d late %d; want %d %d %d %d",
					tr.unique, tr.dups, tr.reord, tr.late, tt.unique, tt.dups, tt.reord, tt.lt)
			}
		})
	}
}

// Sliding the window by any amount forgets exactly what left it.
func TestTrackerSlide(t *testing.T) {
	for _, step := range []uint64{1, 63, 64, 65, 1000, window - 1, window, 3 * window} {
		tr := newTracker()
		for s := range uint64(200) {
			tr.observe(s)
		}
		top := 199 + step
		tr.observe(top)
		for s := range uint64(200) {
			dups, late := tr.dups, tr.late
			tr.observe(s)
			if s+window > top {
				if tr.dups != dups+1 || tr.late != late {
					t.Fatalf("step %d: seq %d still in the window was not a duplicate", step, s)
				}
			} else if tr.late != late+1 || tr.dups != dups {
				t.Fatalf("step %d: seq %d out of the window was not late", step, s)
			}
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h histogram
	vals := make([]uint64, 100000)
	for i := range vals {
		vals[i] = uint64(r.ExpFloat64() * 50000)
		h.record(vals[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
		got := h.quantile(q)
		if got < exact || float64(got) > float64(exact)*(1+1.0/(1<<subBits))+1 {
			t.Errorf("q%.3f = %d, exact %d: not an upper bound within 3%%", q, got, exact)
		}
	}
	if h.min != vals[0] || h.max != vals[len(vals)-1] {
		t.Errorf("min/max %d/%d, want %d/%d", h.min, h.max, vals[0], vals[len(vals)-1])
	}
	var empty histogram
	if empty.quantile(0.5) != 0 {
		t.Error("empty histogram has a median")
	}
	var m histogram
	m.merge(&h)
	m.merge(&empty)
	if m.n != h.n || m.quantile(0.99) != h.quantile(0.99) {
		t.Error("merge changed the distribution")
	}
}

func TestBucketBounds(t *testing.T) {
	for _, v := range []uint64{0, 1, 31, 32, 33, 63, 64, 65, 1000, 1 << 40, math.MaxUint64} {
		i := bucketOf(v)
		if bucketTop(i) < v || (i > 0 && bucketTop(i-1) >= v) {
			t.Errorf("v %d in bucket %d with top %d (previous top %d)", v, i, bucketTop(i), bucketTop(i-1))
		}
	}
}
