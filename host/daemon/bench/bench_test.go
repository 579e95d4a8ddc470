package bench

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A cell whose generator link dropped says so under the table; healthy cells do not.
func TestBenchTableLinkDrops(t *testing.T) {
	var b strings.Builder
	WriteTable(&b, []Row{
		{Handler: "native", Placement: "-", Size: 64, Queues: 1},
		{Handler: "c", Placement: "copy", Size: 1500, Queues: 2, GenLinkDrops: 2, GenLinkDownNs: int64(1500 * time.Millisecond)},
	})
	out := b.String()
	if !strings.Contains(out, "c/copy/1500 B/2 queues: the link dropped 2 times (down 1.5s)") || strings.Contains(out, "native/-") {
		t.Fatalf("table:\n%s", out)
	}
}

// TestWaitCount covers each way the wait for the host's last counters ends.
func TestWaitCount(t *testing.T) {
	const never = time.Hour
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name         string
		ctx          context.Context
		want         uint64
		quiet, limit time.Duration
		step         uint64 // what each read adds
		start        uint64
		reads        int // exact number of reads; 0: not checked
		minReads     int
		wantAtLeast  time.Duration
	}{
		{"already there", context.Background(), 5, never, never, 1, 5, 1, 1, 0},
		{"reaches it", context.Background(), 5, never, never, 1, 0, 6, 6, 0},
		{"overshoots", context.Background(), 5, never, never, 4, 0, 3, 3, 0},
		{"stops moving", context.Background(), 5, 30 * time.Millisecond, never, 0, 3, 0, 2, 30 * time.Millisecond},
		{"never gets there", context.Background(), 1 << 60, never, 30 * time.Millisecond, 1, 0, 0, 2, 30 * time.Millisecond},
		{"cancelled", cancelled, 5, never, never, 0, 3, 0, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, reads := tt.start, 0
			read := func() uint64 {
				reads++
				v := n
				n += tt.step
				return v
			}
			done := make(chan time.Duration)
			go func() {
				t0 := time.Now()
				waitCount(tt.ctx, tt.want, tt.quiet, tt.limit, read)
				done <- time.Since(t0)
			}()
			select {
			case took := <-done:
				if took < tt.wantAtLeast {
					t.Errorf("gave up after %v, before %v", took, tt.wantAtLeast)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("did not return")
			}
			if tt.reads > 0 && reads != tt.reads || reads < tt.minReads {
				t.Errorf("%d reads, want %d (at least %d)", reads, tt.reads, tt.minReads)
			}
		})
	}
}
