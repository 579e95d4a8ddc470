package plugins_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
)

// TestE2ERustAdmission checks what the host sees in the Rust plugins: a
// plain module (no WASI, so 256-packet calls), importing only the host's log,
// with the optional exports the SDK always defines, and no declared memory
// maximum (the host's cap applies).
func TestE2ERustAdmission(t *testing.T) {
	for _, tc := range []struct{ name, cfg string }{
		{"pass", ""}, {"macswap", ""}, {"acl", string(cACLConfig(1, 1))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			m, err := getEngine(t).Load(ctx, tc.name+"-rust", rustPlugin(t, tc.name), pluginConfig(tc.cfg))
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			defer m.Close(ctx)
			info := m.Info()
			if info.WASI || info.ABIVersion != abi.Version || !info.Control || !info.State || info.MaxDeclared ||
				!slices.Equal(info.Imports, []string{abi.HostModule + "." + abi.HostLog}) {
				t.Fatalf("info %+v", info)
			}
		})
	}
}

// TestE2ERustPanicIsAFault: a Rust plugin cannot catch a panic; the SDK's
// panic handler logs where it happened and traps, which the host counts as a
// fault with reason trap and answers with the fail policy.
func TestE2ERustPanicIsAFault(t *testing.T) {
	wasm := hosttest.Rust(t, `#![no_std]
use memif_wasm::{export_plugin, Burst, Plugin, Result};
#[derive(Default)]
struct Boom;
impl Plugin for Boom {
    fn process(&mut self, b: &mut Burst<'_>) -> Result {
        for i in 0..b.len() {
            let mut p = b.packet(i);
            // Index past the end of a short packet: a bounds-check panic.
            let x = p.data()[20];
            p.pass();
            let _ = x;
        }
        Ok(())
    }
}
export_plugin!(Boom);
`)
	p := run(t, "rust-boom", wasm, "")
	b := burst(udp4(t, "1.1.1.1", "2.2.2.2", 1, 2))
	p.Process(b)
	wantVerdicts(t, b, abi.Pass)
	b = burst([]byte{1, 2, 3})
	p.Process(b)
	wantVerdicts(t, b, abi.Drop) // the default fail policy
	st := p.ReadStats(nil)[0]
	if st.Faults != 1 || st.FaultReasons[host.FaultTrap] != 1 {
		t.Fatalf("faults %d, reasons %v", st.Faults, st.FaultReasons)
	}
	if !strings.Contains(guestLogs.String(), "plugin panic at") {
		t.Fatalf("no panic line in the host log:\n%s", guestLogs.String())
	}
}
