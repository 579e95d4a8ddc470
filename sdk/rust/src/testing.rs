//! Native test helpers (not built for wasm32): a simulated host that runs a
//! plugin's exports on a simulated linear memory exactly as the wasm build
//! does, frames to feed it, and the lines the plugin logged.
//!
//! ```
//! use memif_wasm::testing::{frames, Host};
//! use memif_wasm::{Burst, Plugin, Result, Verdict};
//!
//! #[derive(Default)]
//! struct Pass;
//! impl Plugin for Pass {
//!     fn process(&mut self, b: &mut Burst<'_>) -> Result {
//!         b.set_all(Verdict::Pass);
//!         Ok(())
//!     }
//! }
//!
//! let mut host = Host::<Pass>::new(b"").unwrap();
//! let out = host.process(&[&frames::udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2)]).unwrap();
//! assert_eq!(out[0].verdict, Verdict::Pass as u8);
//! ```

use crate::abi::{BatchHeader, Desc, Level, DESC_SIZE, HEADER_SIZE, VERSION};
use crate::guest::{Guest, Memory};
use crate::Plugin;
use std::cell::RefCell;
use std::string::String;
use std::vec::Vec;

std::thread_local! {
    static LOGS: RefCell<Vec<(Level, String)>> = const { RefCell::new(Vec::new()) };
}

pub(crate) fn capture_log(level: Level, msg: &[u8]) {
    LOGS.with(|l| l.borrow_mut().push((level, String::from_utf8_lossy(msg).into_owned())));
}

/// Returns and forgets the lines logged on this thread so far.
pub fn take_logs() -> Vec<(Level, String)> {
    LOGS.with(|l| std::mem::take(&mut *l.borrow_mut()))
}

const PAGE: usize = 65536;

/// A simulated linear memory: a buffer reserved at its maximum, of which the
/// first `pages` pages are "in memory". Page 0 stands for the module's own
/// data, as in a real module.
pub(crate) struct SimMemory {
    buf: Vec<u8>,
    pages: u32,
}

impl SimMemory {
    pub(crate) fn new(max_pages: u32) -> Self {
        SimMemory { buf: std::vec![0u8; max_pages as usize * PAGE], pages: 1 }
    }

    #[cfg(test)]
    pub(crate) fn buf_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }
}

impl Memory for SimMemory {
    fn base(&self) -> usize {
        self.buf.as_ptr() as usize
    }
    fn grow(&mut self, pages: u32) -> Option<u32> {
        let old = self.pages;
        if (old as usize + pages as usize) * PAGE > self.buf.len() {
            return None;
        }
        self.pages += pages;
        Some(old)
    }
}

/// What the plugin handed back for one packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// The raw verdict byte (`Verdict as u8`).
    pub verdict: u8,
    pub flags: u8,
    pub meta: u32,
    /// The packet's bytes at its final head and length.
    pub data: Vec<u8>,
    /// How far the head moved (negative: into the headroom).
    pub head_moved: i64,
}

/// A host in miniature: it runs the ABI's call order (§3) on a plugin with
/// the real SDK glue, in copy placement like `host`'s default, and checks
/// the descriptors it gets back as the host does (§5).
pub struct Host<P: Plugin> {
    pub(crate) g: Guest<P, SimMemory>,
    pub(crate) batch: u32,
    pub(crate) window: u32,
    pub(crate) msg: u32,
    /// Headroom before each copied packet (the host's default: 128).
    pub headroom: u32,
    /// Packet slot size in the window (headroom + frame + tailroom).
    pub slot: u32,
}

/// The host's default sizes, shrunk: a 1 MiB window, a 64 KiB message buffer.
pub const WINDOW: u32 = 1 << 20;
pub const MSGBUF: u32 = 64 << 10;

impl<P: Plugin> Host<P> {
    /// Steps 3–7 of ABI §3 with `max_pkts` 256; the plugin's `-errno` if
    /// `mw_init` fails or 0 from a layout call as -1.
    pub fn new(config: &[u8]) -> Result<Self, i32> {
        let mut g = Guest::new_any(SimMemory::new(64));
        let batch = g.batch(crate::abi::MAX_BURST);
        let window = g.window(WINDOW);
        let msg = g.msgbuf(MSGBUF);
        if batch == 0 || window == 0 || msg == 0 || config.len() > MSGBUF as usize {
            return Err(-1);
        }
        let mut h = Host { g, batch, window, msg, headroom: 128, slot: 2048 };
        h.write(msg, config);
        match h.g.init(msg, config.len() as u32) {
            0 => Ok(h),
            rc => Err(rc),
        }
    }

    /// The plugin value, to inspect its state.
    pub fn plugin(&self) -> &P {
        self.g.plugin.as_ref().expect("initialised")
    }

    pub(crate) fn write(&mut self, addr: u32, b: &[u8]) {
        let a = addr as usize;
        self.g.mem.buf[a..a + b.len()].copy_from_slice(b);
    }

    pub(crate) fn read(&self, addr: u32, n: usize) -> Vec<u8> {
        let a = addr as usize;
        self.g.mem.buf[a..a + n].to_vec()
    }

    pub(crate) fn set_desc(&mut self, i: usize, d: Desc) {
        let a = (self.batch + HEADER_SIZE + i as u32 * DESC_SIZE) as usize;
        let mut b = [0u8; 16];
        b[0..4].copy_from_slice(&d.data.to_le_bytes());
        b[4..6].copy_from_slice(&d.len.to_le_bytes());
        b[6..8].copy_from_slice(&d.cap.to_le_bytes());
        b[8] = d.verdict;
        b[9] = d.flags;
        b[10..12].copy_from_slice(&d.in_port.to_le_bytes());
        b[12..16].copy_from_slice(&d.meta.to_le_bytes());
        self.g.mem.buf[a..a + 16].copy_from_slice(&b);
    }

    pub(crate) fn desc(&self, i: usize) -> Desc {
        let b = self.read(self.batch + HEADER_SIZE + i as u32 * DESC_SIZE, 16);
        Desc {
            data: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            len: u16::from_le_bytes([b[4], b[5]]),
            cap: u16::from_le_bytes([b[6], b[7]]),
            verdict: b[8],
            flags: b[9],
            in_port: u16::from_le_bytes([b[10], b[11]]),
            meta: u32::from_le_bytes([b[12], b[13], b[14], b[15]]),
        }
    }

    pub(crate) fn set_header(&mut self, h: BatchHeader) {
        let mut b = [0u8; 32];
        b[0..4].copy_from_slice(&h.version.to_le_bytes());
        b[4..8].copy_from_slice(&h.count.to_le_bytes());
        b[8..16].copy_from_slice(&h.now_ns.to_le_bytes());
        b[16..20].copy_from_slice(&h.ifindex.to_le_bytes());
        b[20..22].copy_from_slice(&h.queue.to_le_bytes());
        b[22..24].copy_from_slice(&h.flags.to_le_bytes());
        b[24..28].copy_from_slice(&h.snaplen.to_le_bytes());
        b[28..32].copy_from_slice(&h.headroom.to_le_bytes());
        let at = self.batch;
        self.write(at, &b);
    }

    /// One burst: copies each frame into its slot, writes the descriptors
    /// and the header, calls `mw_process`, and returns what came back, or
    /// the call's `-errno`. A descriptor the host would refuse panics the
    /// test: the SDK must never produce one.
    pub fn process(&mut self, frames: &[&[u8]]) -> Result<Vec<Output>, i32> {
        let n = frames.len();
        assert!(n <= crate::abi::MAX_BURST as usize, "at most 256 frames per burst");
        for (i, f) in frames.iter().enumerate() {
            assert!(f.len() + self.headroom as usize <= self.slot as usize, "frame {} exceeds its slot", i);
            let data = self.window + i as u32 * self.slot + self.headroom;
            self.write(data, f);
            let cap = (self.slot - self.headroom) as u16;
            self.set_desc(i, Desc { data, len: f.len() as u16, cap, verdict: 0, flags: 0, in_port: 0, meta: 0 });
        }
        self.set_header(BatchHeader {
            version: VERSION,
            count: n as u32,
            headroom: self.headroom,
            ..Default::default()
        });
        let rc = self.g.process(n as u32);
        if rc != 0 {
            return Err(rc);
        }
        Ok((0..n)
            .map(|i| {
                let d = self.desc(i);
                let orig = self.window + i as u32 * self.slot + self.headroom;
                let (lo, hi) = (orig - self.headroom, orig + self.slot - self.headroom);
                assert!(
                    d.data >= lo && d.data as u64 + d.len as u64 <= hi as u64,
                    "packet {}: {:?} outside its buffer",
                    i,
                    d
                );
                Output {
                    verdict: d.verdict,
                    flags: d.flags,
                    meta: d.meta,
                    data: self.read(d.data, d.len as usize),
                    head_moved: d.data as i64 - orig as i64,
                }
            })
            .collect())
    }

    /// `mw_control` with req in the message buffer: the reply, or `-errno`.
    pub fn control(&mut self, req: &[u8]) -> Result<Vec<u8>, i32> {
        let msg = self.msg;
        self.write(msg, req);
        match self.g.control(msg, req.len() as u32) {
            n if n >= 0 => Ok(self.read(msg, n as usize)),
            rc => Err(rc),
        }
    }

    /// `mw_state_save`: the state, or `-errno`.
    pub fn save_state(&mut self) -> Result<Vec<u8>, i32> {
        match self.g.state_save() {
            n if n >= 0 => Ok(self.read(self.msg, n as usize)),
            rc => Err(rc),
        }
    }

    /// `mw_state_load` with state in the message buffer.
    pub fn load_state(&mut self, state: &[u8]) -> Result<(), i32> {
        let msg = self.msg;
        self.write(msg, state);
        match self.g.state_load(msg, state.len() as u32) {
            0 => Ok(()),
            rc => Err(rc),
        }
    }
}

/// Frames for tests, with correct lengths and checksums. Addresses: source
/// MAC 02:00:00:00:00:0a, destination 02:00:00:00:00:0b.
pub mod frames {
    use crate::checksum::{checksum, tcp6_checksum, udp4_checksum};
    use crate::headers::*;
    use std::vec::Vec;

    pub const SRC_MAC: Mac = Mac([2, 0, 0, 0, 0, 0x0a]);
    pub const DST_MAC: Mac = Mac([2, 0, 0, 0, 0, 0x0b]);
    /// The UDP frames' payload.
    pub const PAYLOAD: &[u8] = b"payload";

    fn eth(et: u16) -> Vec<u8> {
        let mut f = Vec::with_capacity(128);
        f.extend_from_slice(&DST_MAC.0);
        f.extend_from_slice(&SRC_MAC.0);
        f.extend_from_slice(&et.to_be_bytes());
        f
    }

    /// Ethernet / IPv4 / UDP with a 7-byte payload.
    pub fn udp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
        udp4_vlan(src, dst, sport, dport, &[])
    }

    /// `udp4` behind 802.1Q tags with the given VLAN ids (outer first).
    pub fn udp4_vlan(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, vids: &[u16]) -> Vec<u8> {
        let mut f = eth(if vids.is_empty() { ETHERTYPE_IPV4 } else { ETHERTYPE_VLAN });
        for (i, v) in vids.iter().enumerate() {
            f.extend_from_slice(&v.to_be_bytes());
            let next = if i + 1 == vids.len() { ETHERTYPE_IPV4 } else { ETHERTYPE_VLAN };
            f.extend_from_slice(&next.to_be_bytes());
        }
        let l3 = f.len();
        let total = (20 + 8 + PAYLOAD.len()) as u16;
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[0, 1, 0, 0, 64, PROTO_UDP, 0, 0]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        let c = checksum(&f[l3..], 0);
        f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
        let l4 = f.len();
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&((8 + PAYLOAD.len()) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(PAYLOAD);
        let c = udp4_checksum(src, dst, &f[l4..]);
        f[l4 + 6..l4 + 8].copy_from_slice(&c.to_be_bytes());
        f
    }

    /// Ethernet / IPv6 / TCP SYN, no payload.
    pub fn tcp6(src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16) -> Vec<u8> {
        let mut f = eth(ETHERTYPE_IPV6);
        f.extend_from_slice(&[0x60, 0, 0, 0, 0, 20, PROTO_TCP, 64]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        let l4 = f.len();
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 5 << 4, TCP_SYN, 0xff, 0xff, 0, 0, 0, 0]);
        let c = tcp6_checksum(src, dst, &f[l4..]);
        f[l4 + 16..l4 + 18].copy_from_slice(&c.to_be_bytes());
        f
    }

    /// An ARP request from 02:00:00:00:00:0a (sender ip) for target ip, broadcast.
    pub fn arp_request(sender: [u8; 4], target: [u8; 4]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&Mac::BROADCAST.0);
        f.extend_from_slice(&SRC_MAC.0);
        f.extend_from_slice(&ETHERTYPE_ARP.to_be_bytes());
        f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&SRC_MAC.0);
        f.extend_from_slice(&sender);
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&target);
        f
    }
}
