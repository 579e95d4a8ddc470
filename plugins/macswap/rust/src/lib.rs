//! macswap: a reflector. It swaps each frame's source and destination MAC
//! addresses and sends it back out of the interface it came in on (TX).
//! Frames shorter than an Ethernet header are dropped. The Rust twin of
//! macswap/main.go.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

use memif_wasm::{export_plugin, Burst, Ethernet, Plugin, Result};

#[derive(Default)]
pub struct Macswap;

impl Plugin for Macswap {
    fn process(&mut self, burst: &mut Burst<'_>) -> Result {
        burst.for_each(|mut p| match Ethernet::new(p.data_mut()) {
            Some(mut eth) => {
                eth.swap_addrs();
                p.mark_modified();
                p.tx();
            }
            None => p.drop(),
        });
        Ok(())
    }
}

export_plugin!(Macswap);

#[cfg(test)]
mod tests {
    use super::Macswap;
    use memif_wasm::abi::FLAG_MODIFIED;
    use memif_wasm::testing::{frames, Host};
    use memif_wasm::Verdict;

    #[test]
    fn reflects_and_drops_runts() {
        let mut h = Host::<Macswap>::new(b"").unwrap();
        let f = frames::udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2);
        let out = h.process(&[&f, &f[..13]]).unwrap();
        assert_eq!((out[0].verdict, out[0].flags), (Verdict::Tx as u8, FLAG_MODIFIED));
        assert_eq!(out[0].data[..6], f[6..12]);
        assert_eq!(out[0].data[6..12], f[..6]);
        assert_eq!(out[0].data[12..], f[12..]);
        assert_eq!(out[1].verdict, Verdict::Drop as u8);
    }
}
