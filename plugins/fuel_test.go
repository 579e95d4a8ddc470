package plugins_test

import (
	"testing"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host"
)

// TestE2EFuelPerPacket reports the fuel each plugin spends per packet on a
// burst of UDP packets, so budgets can be set from numbers. It checks that the
// cost grows with the burst (fuel is charged) and that a full burst runs
// without a fault on the host's default budget.
func TestE2EFuelPerPacket(t *testing.T) {
	a := udp4(t, "10.0.0.1", "2.2.2.2", 1, 2)
	binACL := string(cACLConfig(1, 1, cRule{allow: 1, sport: anyPort, dport: [2]uint16{2, 2}}))
	for _, tc := range []struct {
		name, cfg, lang string
	}{
		{"pass", "", "go"}, {"pass", "", "c"}, {"pass", "", "rust"}, {"macswap", "", "go"}, {"macswap", "", "rust"},
		{"counter", "", "go"},
		{"acl", `{"rules":[{"action":"allow","dport":"2"}]}`, "go"}, {"acl", binACL, "c"}, {"acl", binACL, "rust"},
		{"ratelimit", `{"rate":1000}`, "go"},
	} {
		lang := tc.lang
		wasm := map[string]func(testing.TB, string) []byte{"go": goPlugin, "c": cPlugin, "rust": rustPlugin}[lang]
		p := run(t, tc.name, wasm(t, tc.name), tc.cfg)
		fuelOf := func(n int) uint64 {
			fr := make([][]byte, n)
			for i := range fr {
				fr[i] = a
			}
			before := p.ReadStats(nil)[0].FuelUsed
			p.Process(burst(fr...))
			st := p.ReadStats(nil)[0]
			if st.Faults != 0 {
				t.Fatalf("%s-%s: fault on a burst of %d", tc.name, lang, n)
			}
			return st.FuelUsed - before
		}
		one, full := fuelOf(1), fuelOf(abi.MaxBurst)
		if full <= one {
			t.Fatalf("%s-%s: a full burst spent %d fuel, one packet %d", tc.name, lang, full, one)
		}
		perPacket := (full - one) / (abi.MaxBurst - 1)
		t.Logf("%-10s %-4s fuel per burst of 1: %7d   per packet in a burst of 256: %6d", tc.name, lang, one, perPacket)
		// host.DefaultWASIMaxBurst's promise: a Go guest's whole call fits
		// well inside the default budget (half of it, here).
		if lang == "go" {
			if call := one + perPacket*(host.DefaultWASIMaxBurst-1); call > uint64(host.DefaultFuel)/2 {
				t.Errorf("%s-go: a call of %d packets spends %d fuel, over half of host.DefaultFuel (%d)", tc.name, host.DefaultWASIMaxBurst, call, host.DefaultFuel)
			}
		}
	}
}
