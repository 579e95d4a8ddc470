// filter.rs: the C filter (filter.c) written with the Rust SDK (sdk/rust),
// for the hand-off benchmark: it drops UDP to port 53 over IPv4 and passes
// everything else. The SDK checks every descriptor before the plugin runs,
// which filter.c does not: the difference is the SDK's cost.
// Build: hosttest.Rust, or see sdk/rust/README.md.
#![no_std]
#![forbid(unsafe_code)]

use memif_wasm::{export_plugin, Burst, Plugin, Result};

#[derive(Default)]
struct Filter;

impl Plugin for Filter {
    fn process(&mut self, b: &mut Burst<'_>) -> Result {
        b.for_each(|mut p| {
            let d = p.data();
            if d.len() >= 38
                && d[12] == 0x08
                && d[13] == 0
                && d[23] == 17
                && d[36] == 0
                && d[37] == 53
            {
                p.drop()
            } else {
                p.pass()
            }
        });
        Ok(())
    }
}

export_plugin!(Filter);
