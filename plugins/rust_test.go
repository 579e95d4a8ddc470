package plugins_test

import (
	"context"
	"errors"
	"slices"
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
	if !logged("rust-boom", "plugin panic at") {
		t.Fatalf("no panic line in the host log:\n%s", guestLogs.String())
	}
}

// TestE2ERustStateAndControl: the SDK's state hooks and control replies
// through the real host: a reload hands the count to the new instance, and a
// reply larger than the message buffer is refused (ERANGE) without a fault.
func TestE2ERustStateAndControl(t *testing.T) {
	wasm := hosttest.Rust(t, `#![no_std]
use memif_wasm::bytes::le64;
use memif_wasm::{export_plugin, Burst, Error, Plugin, Reply, Result, Verdict};
#[derive(Default)]
struct Count { n: u64 }
impl Plugin for Count {
    fn process(&mut self, b: &mut Burst<'_>) -> Result {
        self.n += b.len() as u64;
        b.set_all(Verdict::Pass);
        Ok(())
    }
    fn control(&mut self, req: &[u8], reply: &mut Reply<'_>) -> Result {
        match req {
            b"get" => reply.push_le64(self.n),
            b"flood" => loop { reply.push(&[0u8; 4096])? },
            _ => Err(Error::inval("want get or flood")),
        }
    }
    fn save_state(&mut self, out: &mut Reply<'_>) -> Result {
        out.push_le64(self.n)
    }
    fn load_state(&mut self, st: &[u8]) -> Result {
        if st.len() != 8 {
            return Err(Error::inval("state: want 8 bytes"));
        }
        self.n = le64(st);
        Ok(())
    }
}
export_plugin!(Count);
`)
	p := run(t, "rust-count", wasm, "")
	f := udp4(t, "1.1.1.1", "2.2.2.2", 1, 2)
	p.Process(burst(f, f, f))
	ctx := context.Background()
	m, err := getEngine(t).Load(ctx, "rust-count-v2", wasm, pluginConfig(""))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	if err := p.Replace(ctx, 0, m); err != nil {
		t.Fatalf("replace: %v", err)
	}
	p.Process(burst(f))
	if got := control(t, p, "get"); len(got) != 8 || got[0] != 4 {
		t.Fatalf("count after reload % x, want 4", got)
	}
	if _, err := p.Control(0, []byte("flood"), make([]byte, 1<<20)); !errors.Is(err, abi.ErrRange) {
		t.Fatalf("flood: %v", err)
	}
	if _, err := p.Control(0, []byte("what"), make([]byte, 100)); !errors.Is(err, abi.ErrInval) {
		t.Fatalf("bad request: %v", err)
	}
	if st := p.ReadStats(nil)[0]; st.Faults != 0 || st.Reloads != 1 {
		t.Fatalf("faults %d reloads %d", st.Faults, st.Reloads)
	}
}
