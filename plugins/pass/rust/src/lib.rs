//! pass: every packet goes on (PASS). The Rust twin of pass/main.go and
//! pass/c/pass.c.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

use memif_wasm::{export_plugin, Burst, Plugin, Result, Verdict};

#[derive(Default)]
pub struct Pass;

impl Plugin for Pass {
    fn process(&mut self, burst: &mut Burst<'_>) -> Result {
        burst.set_all(Verdict::Pass);
        Ok(())
    }
}

export_plugin!(Pass);

#[cfg(test)]
mod tests {
    use super::Pass;
    use memif_wasm::testing::{frames, Host};
    use memif_wasm::Verdict;

    #[test]
    fn passes_everything_unchanged() {
        let mut h = Host::<Pass>::new(b"").unwrap();
        let fs = [
            frames::udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2),
            frames::arp_request([10, 0, 0, 9], [10, 0, 0, 1]),
            std::vec![1, 2, 3],
        ];
        let out = h.process(&[&fs[0], &fs[1], &fs[2]]).unwrap();
        for (o, f) in out.iter().zip(fs.iter()) {
            assert_eq!((o.verdict, &o.data, o.flags), (Verdict::Pass as u8, f, 0));
        }
    }
}
