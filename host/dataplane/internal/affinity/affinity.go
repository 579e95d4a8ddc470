package affinity

import "errors"

// MaxCPU bounds CPU numbers: the size of the kernel's default cpu_set_t.
const MaxCPU = 1024

// ErrNotSupported: CPU affinity needs Linux.
var ErrNotSupported = errors.New("CPU affinity needs Linux")
