//go:build !wasip1

package sdk

// On a native build the exports run against a simulated linear memory, so the
// glue is unit-tested without a wasm runtime: addresses are offsets into sim.

const simSize = 8 << 20

var sim struct {
	mem []byte
	top int
}

// simReset empties the simulated memory and the SDK's per-instance state.
func simReset() {
	sim.mem = make([]byte, simSize)
	sim.top = 64 // address 0 stays invalid, as in a real guest
	g = guest{}
}

func view(addr uint32, n int) []byte {
	if sim.mem == nil || uint64(addr)+uint64(n) > uint64(len(sim.mem)) {
		return nil
	}
	return sim.mem[addr : int(addr)+n : int(addr)+n]
}

func alloc(size, align int) ([]byte, uint32) {
	if sim.mem == nil {
		simReset()
	}
	start := (sim.top + align - 1) &^ (align - 1)
	if start+size > len(sim.mem) {
		return nil, 0
	}
	sim.top = start + size
	return sim.mem[start : start+size : start+size], uint32(start)
}

// settle is a no-op natively: the collector runs concurrently there.
func settle() {}
