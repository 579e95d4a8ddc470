package affinity

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Allowed returns the CPUs this process may run on, in increasing order.
func Allowed() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, fmt.Errorf("sched_getaffinity: %w", err)
	}
	var cpus []int
	for c := 0; c < MaxCPU; c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// Pin restricts the calling OS thread (not the process: pid 0 of
// sched_setaffinity is the calling thread) to cpus. The caller must have
// locked its goroutine to the thread (runtime.LockOSThread) and must not
// unlock it: the thread then ends with the goroutine, instead of carrying
// the restriction to other goroutines.
func Pin(cpus []int) error {
	var set unix.CPUSet
	for _, c := range cpus {
		if c < 0 || c >= MaxCPU {
			return fmt.Errorf("cpu %d is outside 0..%d", c, MaxCPU-1)
		}
		set.Set(c)
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("sched_setaffinity %v: %w", cpus, err)
	}
	return nil
}
