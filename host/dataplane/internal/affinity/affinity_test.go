package affinity

import (
	"runtime"
	"slices"
	"testing"
)

// TestPinThread pins a locked thread to one allowed CPU, sees the thread
// (and only it) restricted, and refuses CPUs out of range.
func TestPinThread(t *testing.T) {
	before, err := Allowed()
	if err != nil || len(before) == 0 {
		t.Fatalf("Allowed = %v, %v", before, err)
	}
	cpu := before[len(before)-1]
	done := make(chan []int)
	go func() {
		runtime.LockOSThread() // never unlocked: the pinned thread ends with this goroutine
		if err := Pin([]int{cpu}); err != nil {
			t.Error(err)
		}
		got, _ := Allowed() // the calling thread's mask
		done <- got
	}()
	if got := <-done; !slices.Equal(got, []int{cpu}) {
		t.Errorf("pinned thread may run on %v, want [%d]", got, cpu)
	}
	if after, _ := Allowed(); !slices.Equal(after, before) && runtime.GOMAXPROCS(0) > 0 {
		// This goroutine's thread was never pinned.
		t.Errorf("an unpinned thread may run on %v, was %v", after, before)
	}
	for _, bad := range [][]int{{-1}, {MaxCPU}} {
		if err := Pin(bad); err == nil {
			t.Errorf("Pin(%v) accepted", bad)
		}
	}
}
