//! The ABI's exports, implemented once for any linear memory: the wasm32
//! build runs them on the module's own memory (`Wasm`), native tests on a
//! simulated one (`testing::SimMemory`). `export_plugin!` wires them to the
//! export names. Everything the host hands over is checked before use: a
//! confused or hostile host gets an error code and a log line, never a view
//! of memory outside the areas this module set aside.

use crate::abi::{
    BatchHeader, Desc, Errno, Level, BATCH_ALIGN, DESC_SIZE, HEADER_SIZE, MAX_BURST, VERSION, WINDOW_ALIGN,
};
use crate::log::{log, log_bytes, Line};
use crate::packet::{Bounds, Burst};
use crate::{Error, Plugin, Reply};
#[cfg(target_arch = "wasm32")]
use core::cell::UnsafeCell;

/// Bounds on what the host may ask the guest to set aside, so one confused
/// request cannot take the whole memory (the Go SDK's).
pub(crate) const MAX_WINDOW: u32 = 1 << 30;
pub(crate) const MAX_MSGBUF: u32 = 64 << 20;
const MIN_MSGBUF: u32 = 4096;
const PAGE: u32 = WINDOW_ALIGN;

/// A linear memory: where guest address 0 is in this process, and
/// `memory.grow`.
pub(crate) trait Memory {
    fn base(&self) -> usize;
    /// Grows by pages; the old size in pages, or None when it cannot.
    fn grow(&mut self, pages: u32) -> Option<u32>;
}

/// The module's own memory 0.
#[cfg(target_arch = "wasm32")]
pub(crate) struct Wasm;

#[cfg(target_arch = "wasm32")]
impl Memory for Wasm {
    fn base(&self) -> usize {
        0
    }
    fn grow(&mut self, pages: u32) -> Option<u32> {
        match core::arch::wasm32::memory_grow(0, pages as usize) {
            usize::MAX => None,
            old => Some(old as u32),
        }
    }
}

/// `Option<P>` with a layout of our choosing: a u32 tag that is 0 when
/// empty. Option's own layout may put None in a niche of P (a bool set to 2),
/// which makes the static instance non-zero and stores all of it, the
/// plugin's tables included, in the module's data section; an all-zero
/// static costs nothing in the file.
#[repr(C, u32)]
pub(crate) enum Slot<P> {
    Empty,
    Full(P),
}

impl<P> Slot<P> {
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    pub fn as_ref(&self) -> Option<&P> {
        match self {
            Slot::Full(p) => Some(p),
            Slot::Empty => None,
        }
    }
    pub fn as_mut(&mut self) -> Option<&mut P> {
        match self {
            Slot::Full(p) => Some(p),
            Slot::Empty => None,
        }
    }
    pub fn is_none(&self) -> bool {
        matches!(self, Slot::Empty)
    }
}

/// One instance's state: the areas handed to the host and the plugin.
pub(crate) struct Guest<P, M> {
    pub mem: M,
    pub batch: u32,
    pub batch_max: u32,
    pub window: u32,
    pub window_len: u32,
    pub msg: u32,
    pub msg_len: u32,
    /// A second area of msg_len bytes right after msg: control replies are
    /// built there while the request is still being read from msg.
    pub scratch: u32,
    pub bounds: [Bounds; MAX_BURST as usize],
    pub plugin: Slot<P>,
}

fn log2(level: Level, a: &str, b: &str) {
    let mut l = Line::new();
    l.push_str(a);
    l.push_str(b);
    log_bytes(level, l.as_bytes());
}

fn log_num(level: Level, a: &str, n: u64, b: &str) {
    let mut l = Line::new();
    l.push_str(a);
    l.push_u64(n);
    l.push_str(b);
    log_bytes(level, l.as_bytes());
}

fn fail(op: &str, e: Error) -> i32 {
    if !e.msg.is_empty() {
        log2(Level::Error, op, e.msg);
    }
    e.errno.code()
}

impl<P: Plugin, M: Memory> Guest<P, M> {
    // Whole pages from the end of memory: page-aligned, so aligned for
    // anything, and past every static the module has. 0 = cannot.
    fn grow(&mut self, bytes: u64) -> u32 {
        let pages = (bytes + PAGE as u64 - 1) / PAGE as u64;
        if pages == 0 || pages > u32::MAX as u64 / PAGE as u64 {
            return 0;
        }
        match self.mem.grow(pages as u32) {
            Some(old) if old > 0 && (old as u64 + pages) * PAGE as u64 <= 1 << 32 => old * PAGE,
            _ => {
                log_num(Level::Error, "memory.grow(", pages, " pages) failed: the plugin's memory cap is reached");
                0
            }
        }
    }

    pub fn batch(&mut self, max_pkts: u32) -> u32 {
        if max_pkts == 0 || max_pkts > MAX_BURST {
            log_num(Level::Error, "mw_batch(", max_pkts as u64, "): want 1..256 packets");
            return 0;
        }
        if self.batch == 0 {
            // Room for the largest burst, so a later larger request reuses it.
            let size = HEADER_SIZE as u64 + MAX_BURST as u64 * DESC_SIZE as u64;
            self.batch = self.grow(size);
            if self.batch == 0 {
                return 0;
            }
            debug_assert_eq!(self.batch % BATCH_ALIGN, 0);
        }
        self.batch_max = self.batch_max.max(max_pkts);
        self.batch
    }

    pub fn window(&mut self, bytes: u32) -> u32 {
        if bytes == 0 || bytes > MAX_WINDOW {
            log_num(Level::Error, "mw_window(", bytes as u64, "): want 1..2^30 bytes");
            return 0;
        }
        if self.window_len >= bytes {
            return self.window;
        }
        // Whole pages: the host maps whole pages over the window.
        let w = self.grow(bytes as u64);
        if w == 0 {
            return 0;
        }
        let len = (bytes as u64 + PAGE as u64 - 1) / PAGE as u64 * PAGE as u64;
        self.window = w;
        self.window_len = len as u32;
        w
    }

    pub fn msgbuf(&mut self, len: u32) -> u32 {
        if len > MAX_MSGBUF {
            log_num(Level::Error, "mw_msgbuf(", len as u64, "): at most 64 MiB");
            return 0;
        }
        if self.msg != 0 && len <= self.msg_len {
            return self.msg;
        }
        let size = len.max(MIN_MSGBUF).max(self.msg_len.saturating_mul(2)).min(MAX_MSGBUF);
        let size = (size + PAGE - 1) / PAGE * PAGE;
        let m = self.grow(2 * size as u64);
        if m == 0 {
            return 0;
        }
        if self.msg != 0 {
            // The buffer's first bytes stay what they were (the ABI's
            // "address of len bytes" may be asked for again, larger).
            let (old, n) = (self.msg as usize, self.msg_len as usize);
            let base = self.mem.base();
            // SAFETY: both ranges are areas this guest grew, disjoint (the new
            // one lies past the end of memory as it was), and nothing else
            // references them between calls.
            unsafe { core::ptr::copy_nonoverlapping((base + old) as *const u8, (base + m as usize) as *mut u8, n) };
        }
        self.msg = m;
        self.msg_len = size;
        self.scratch = m + size;
        m
    }

    // The host's (ptr, n) bytes, which the ABI puts in the message buffer:
    // anything else would let the host alias the plugin's own state.
    fn input(&self, op: &str, ptr: u32, n: u32) -> Result<&[u8], i32> {
        if n == 0 {
            return Ok(&[]);
        }
        let end = ptr as u64 + n as u64;
        if self.msg == 0 || ptr < self.msg || end > self.msg as u64 + self.msg_len as u64 {
            log2(Level::Error, op, ": the input range is not inside the message buffer");
            return Err(Errno::Inval.code());
        }
        // SAFETY: inside the message buffer, which this guest grew and
        // nothing else references during the call.
        Ok(unsafe { core::slice::from_raw_parts((self.mem.base() + ptr as usize) as *const u8, n as usize) })
    }

    fn area(&mut self, addr: u32, len: u32) -> &mut [u8] {
        // SAFETY: callers pass the message buffer or the scratch area, grown
        // by this guest and referenced by nothing else during the call.
        unsafe { core::slice::from_raw_parts_mut((self.mem.base() + addr as usize) as *mut u8, len as usize) }
    }

    pub fn init(&mut self, ptr: u32, n: u32) -> i32 {
        let mut p = P::default();
        let rc = match self.input("mw_init", ptr, n) {
            Ok(cfg) => match p.init(cfg) {
                Ok(()) => 0,
                Err(e) => fail("config: ", e),
            },
            Err(rc) => rc,
        };
        if rc == 0 {
            self.plugin = Slot::Full(p);
        }
        rc
    }

    pub fn process(&mut self, n: u32) -> i32 {
        if self.plugin.is_none() {
            log(Level::Error, "mw_process: called before a successful mw_init");
            return Errno::Inval.code();
        }
        if self.batch == 0 || n > self.batch_max {
            log_num(Level::Error, "mw_process(", n as u64, "): more descriptors than mw_batch was asked for");
            return Errno::Range.code();
        }
        let base = self.mem.base();
        // SAFETY: the batch area is this guest's, page-aligned, HEADER_SIZE +
        // MAX_BURST * DESC_SIZE bytes, and referenced by nothing else.
        let hdr = unsafe { *((base + self.batch as usize) as *const BatchHeader) };
        if hdr.version != VERSION || hdr.count != n {
            log_num(
                Level::Error,
                "mw_process: batch header version or count does not match the call (n=",
                n as u64,
                ")",
            );
            return Errno::Inval.code();
        }
        // SAFETY: n <= batch_max <= MAX_BURST descriptors, inside the same
        // area; the slice lives for this call only.
        let descs = unsafe {
            core::slice::from_raw_parts_mut((base + (self.batch + HEADER_SIZE) as usize) as *mut Desc, n as usize)
        };
        // The packet and its headroom must lie in the window, the only memory
        // the guest never uses itself: lo_min <= data, data + cap <= w1. The
        // loop runs per packet, so it has no branch but the loop's own: it
        // folds every check into ok and finds the culprit only on failure.
        let room = hdr.headroom;
        // A window ending at 4 GiB would wrap: its last byte is given up.
        let w1 = (self.window as u64 + self.window_len as u64).min(u32::MAX as u64) as u32;
        let lo_min = self.window as u64 + room as u64;
        if self.window == 0 || lo_min > w1 as u64 {
            log(Level::Error, "mw_process: no packet window, or a headroom larger than it");
            return Errno::Inval.code();
        }
        let lo_min = lo_min as u32;
        let mut ok = true;
        for (d, b) in descs.iter().zip(self.bounds.iter_mut()) {
            let (data, len, cap) = (d.data, d.len as u32, d.cap as u32);
            ok &= (data >= lo_min) & (data <= w1) & (len <= cap) & (cap <= w1.wrapping_sub(data));
            *b = Bounds { lo: data.wrapping_sub(room), hi: data.wrapping_add(cap) };
        }
        if !ok {
            let bad = descs
                .iter()
                .position(|d| !(d.data >= lo_min && d.data <= w1 && d.len <= d.cap && d.cap as u32 <= w1 - d.data));
            log_num(
                Level::Error,
                "mw_process: descriptor ",
                bad.unwrap_or(0) as u64,
                " does not describe a packet in the window",
            );
            return Errno::Inval.code();
        }
        // SAFETY: every descriptor was checked against the window above;
        // the window is disjoint from the batch area and the plugin's state.
        let mut burst = unsafe { Burst::from_raw(hdr, descs, &self.bounds[..n as usize], base) };
        match self.plugin.as_mut().map(|p| p.process(&mut burst)) {
            Some(Ok(())) => 0,
            Some(Err(e)) => fail("process: ", e),
            None => Errno::Inval.code(),
        }
    }

    pub fn control(&mut self, ptr: u32, n: u32) -> i32 {
        let (scratch, cap) = (self.scratch, self.msg_len);
        if self.msg == 0 {
            return Errno::Range.code();
        }
        // The request stays in the message buffer while the reply is built
        // in the scratch area, then moves over it.
        let req = match self.input("mw_control", ptr, n) {
            Ok(r) => r as *const [u8],
            Err(rc) => return rc,
        };
        let out = self.area(scratch, cap) as *mut [u8];
        let plugin = match self.plugin.as_mut() {
            Some(p) => p,
            None => return Errno::Inval.code(),
        };
        // SAFETY: req is in the message buffer, out the scratch area: two
        // disjoint areas of this guest, neither part of the plugin.
        let (req, out) = unsafe { (&*req, &mut *out) };
        let mut reply = Reply::new(out);
        match plugin.control(req, &mut reply) {
            Ok(()) => {
                let len = reply.len();
                let msg = self.msg;
                // SAFETY: disjoint areas of msg_len bytes each; len <= msg_len.
                unsafe {
                    let base = self.mem.base();
                    core::ptr::copy_nonoverlapping(
                        (base + scratch as usize) as *const u8,
                        (base + msg as usize) as *mut u8,
                        len,
                    )
                };
                len as i32
            }
            Err(e) => fail("control: ", e),
        }
    }

    pub fn state_save(&mut self) -> i32 {
        if self.msg == 0 {
            return Errno::Range.code();
        }
        let (msg, cap) = (self.msg, self.msg_len);
        let out = self.area(msg, cap) as *mut [u8];
        let plugin = match self.plugin.as_mut() {
            Some(p) => p,
            None => return Errno::Inval.code(),
        };
        // SAFETY: the message buffer is not part of the plugin.
        let mut reply = Reply::new(unsafe { &mut *out });
        match plugin.save_state(&mut reply) {
            Ok(()) => reply.len() as i32,
            Err(e) => fail("save state: ", e),
        }
    }

    pub fn state_load(&mut self, ptr: u32, n: u32) -> i32 {
        let st = match self.input("mw_state_load", ptr, n) {
            Ok(s) => s as *const [u8],
            Err(rc) => return rc,
        };
        let plugin = match self.plugin.as_mut() {
            Some(p) => p,
            None => return Errno::Inval.code(),
        };
        // SAFETY: in the message buffer, not part of the plugin.
        match plugin.load_state(unsafe { &*st }) {
            Ok(()) => 0,
            Err(e) => fail("load state: ", e),
        }
    }
}

/// The per-module instance `export_plugin!` declares as a static. Not for
/// use by hand.
#[doc(hidden)]
#[cfg(target_arch = "wasm32")]
pub struct Instance<P> {
    cell: UnsafeCell<Guest<P, Wasm>>,
}

// SAFETY: a wasm32 module without the threads proposal has one thread, and
// the host never calls an export while another runs (ABI §3: "never
// concurrently"), so the cell is never accessed from two places at once.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl<P> Sync for Instance<P> {}

#[cfg(target_arch = "wasm32")]
impl<P> Instance<P> {
    pub const fn new() -> Self {
        Instance { cell: UnsafeCell::new(Guest::new_any(Wasm)) }
    }
}

#[cfg(target_arch = "wasm32")]
impl<P: Plugin> Instance<P> {
    #[allow(clippy::mut_from_ref)]
    fn g(&self) -> &mut Guest<P, Wasm> {
        // SAFETY: see the Sync impl: each export takes this reference once,
        // at its start, and exports never nest (the one import, log, does not
        // call back), so it is the only reference for the call.
        unsafe { &mut *self.cell.get() }
    }
    pub fn abi_version(&self) -> u32 {
        VERSION
    }
    pub fn batch(&self, max_pkts: u32) -> u32 {
        self.g().batch(max_pkts)
    }
    pub fn window(&self, bytes: u32) -> u32 {
        self.g().window(bytes)
    }
    pub fn msgbuf(&self, len: u32) -> u32 {
        self.g().msgbuf(len)
    }
    pub fn init(&self, ptr: u32, len: u32) -> i32 {
        self.g().init(ptr, len)
    }
    pub fn process(&self, n: u32) -> i32 {
        self.g().process(n)
    }
    pub fn control(&self, ptr: u32, len: u32) -> i32 {
        self.g().control(ptr, len)
    }
    pub fn state_save(&self) -> i32 {
        self.g().state_save()
    }
    pub fn state_load(&self, ptr: u32, len: u32) -> i32 {
        self.g().state_load(ptr, len)
    }
}

impl<P, M> Guest<P, M> {
    // new without the Plugin bound, for the const static initialiser.
    pub(crate) const fn new_any(mem: M) -> Self {
        Guest {
            mem,
            batch: 0,
            batch_max: 0,
            window: 0,
            window_len: 0,
            msg: 0,
            msg_len: 0,
            scratch: 0,
            bounds: [Bounds { lo: 0, hi: 0 }; MAX_BURST as usize],
            plugin: Slot::Empty,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::{Desc, Verdict, FLAG_MODIFIED, FLAG_TRUNCATED};
    use crate::testing::{take_logs, Host, SimMemory, MSGBUF, WINDOW};
    use crate::{Burst, Result};

    /// A plugin whose behaviour each packet's first byte chooses.
    #[derive(Default)]
    struct Script {
        bursts: u64,
    }

    impl Plugin for Script {
        fn init(&mut self, config: &[u8]) -> Result {
            if config == b"bad" {
                return Err(Error::inval("bad config"));
            }
            Ok(())
        }

        fn process(&mut self, b: &mut Burst<'_>) -> Result {
            self.bursts += 1;
            for i in 0..b.len() {
                let mut p = b.packet(i);
                match p.data().first().copied().unwrap_or(0) {
                    0 => p.pass(),
                    1 => p.drop(),
                    2 => p.tx(),
                    3 => p.redirect(7),
                    4 => {
                        let n = p.len() + 4;
                        assert!(p.set_len(n));
                        p.data_mut()[n - 4..].copy_from_slice(b"tail");
                        p.pass();
                    }
                    5 => {
                        assert!(p.adjust_head(-4));
                        p.data_mut()[..4].copy_from_slice(b"head");
                        p.pass();
                    }
                    6 => {
                        assert!(p.adjust_head(2));
                        p.pass();
                    }
                    7 => {
                        // Refusals change nothing.
                        let (len, cap, room) = (p.len(), p.capacity(), p.headroom());
                        assert!(!p.set_len(cap + 1));
                        assert!(!p.adjust_head(-(room as isize) - 1));
                        assert!(!p.adjust_head(len as isize + 1));
                        assert_eq!((p.len(), p.capacity(), p.headroom(), p.flags()), (len, cap, room, 0));
                        assert!(p.adjust_head(-(room as isize)) && p.headroom() == 0);
                        assert!(p.set_len(p.capacity()));
                        assert!(!p.set_len(p.capacity() + 1));
                        p.drop();
                    }
                    8 => {} // no verdict: ABORTED
                    _ => return Err(Error::internal("scripted failure")),
                }
            }
            Ok(())
        }

        fn control(&mut self, req: &[u8], reply: &mut Reply<'_>) -> Result {
            if req == b"big" {
                let chunk = [0u8; 1000];
                loop {
                    reply.push(&chunk)?;
                }
            }
            // Reversed, to show the reply is built apart from the request.
            for b in req.iter().rev() {
                reply.push_u8(*b)?;
            }
            Ok(())
        }

        fn save_state(&mut self, out: &mut Reply<'_>) -> Result {
            out.push_le64(self.bursts)
        }

        fn load_state(&mut self, st: &[u8]) -> Result {
            if st.len() != 8 {
                return Err(Error::inval("state is not 8 bytes"));
            }
            self.bursts = crate::bytes::le64(st);
            Ok(())
        }
    }

    #[derive(Default)]
    struct Minimal;
    impl Plugin for Minimal {
        fn process(&mut self, b: &mut Burst<'_>) -> Result {
            b.set_all(Verdict::Pass);
            Ok(())
        }
    }

    fn frame(first: u8) -> Vec<u8> {
        let mut f = vec![first; 60];
        f[1..6].copy_from_slice(b"frame");
        f
    }

    #[test]
    fn layout_calls_check_their_arguments() {
        let mut g: Guest<Minimal, _> = Guest::new_any(SimMemory::new(40));
        take_logs();
        assert_eq!(g.batch(0), 0);
        assert_eq!(g.batch(257), 0);
        let b = g.batch(64);
        assert!(b != 0 && b % BATCH_ALIGN == 0);
        assert_eq!(g.batch(256), b, "a larger burst reuses the area");
        assert_eq!(g.batch_max, 256);
        assert_eq!(g.window(0), 0);
        assert_eq!(g.window(MAX_WINDOW + 1), 0);
        let w = g.window(100_000);
        assert!(w != 0 && w % WINDOW_ALIGN == 0 && w > b);
        assert_eq!((g.window(10), g.window_len), (w, 2 * PAGE));
        assert_eq!(g.msgbuf(MAX_MSGBUF + 1), 0);
        let m = g.msgbuf(100);
        assert!(m >= w + 2 * PAGE);
        assert_eq!(g.scratch, m + PAGE);
        // A larger buffer keeps the first one's bytes.
        g.mem.buf_mut()[m as usize..m as usize + 3].copy_from_slice(b"abc");
        let m2 = g.msgbuf(PAGE + 1);
        assert!(m2 > m);
        assert_eq!(&g.mem.buf_mut()[m2 as usize..m2 as usize + 3], b"abc");
        // The memory cap: 40 pages in all.
        assert_eq!(g.window(35 * PAGE), 0);
        let logs = take_logs();
        assert_eq!(logs.len(), 6, "{:?}", logs);
        assert!(logs.iter().all(|(l, _)| *l == Level::Error));
        assert!(logs[5].1.contains("memory cap"), "{:?}", logs[5]);
    }

    #[test]
    fn verdicts_and_reshaping() {
        let mut h = Host::<Script>::new(b"").unwrap();
        let fs: Vec<Vec<u8>> = (0..=8).map(frame).collect();
        let refs: Vec<&[u8]> = fs.iter().map(|f| &f[..]).collect();
        let out = h.process(&refs).unwrap();
        let v: Vec<u8> = out.iter().map(|o| o.verdict).collect();
        use Verdict::*;
        assert_eq!(v, [Pass, Drop, Tx, Redirect, Pass, Pass, Pass, Drop, Aborted].map(|x| x as u8));
        assert_eq!(out[3].meta, 7);
        assert_eq!(out[0].data, fs[0]);
        assert_eq!(out[0].flags, 0, "a verdict alone is not a modification");
        assert_eq!(&out[4].data[60..], b"tail");
        assert_eq!(out[4].flags, FLAG_MODIFIED);
        assert_eq!((&out[5].data[..4], &out[5].data[4..], out[5].head_moved), (&b"head"[..], &fs[5][..], -4));
        assert_eq!((&out[6].data[..], out[6].head_moved), (&fs[6][2..], 2));
        assert_eq!(h.plugin().bursts, 1);
    }

    #[test]
    fn truncated_packets_are_not_resized() {
        let mut descs = [Desc { data: 4, len: 10, cap: 10, flags: FLAG_TRUNCATED, ..Default::default() }];
        let bounds = [crate::packet::Bounds { lo: 0, hi: 14 }];
        let buf = [0u8; 14];
        // SAFETY: the descriptor and its headroom lie in buf, which nothing
        // else references while the burst lives.
        let mut b = unsafe { Burst::from_raw(BatchHeader::default(), &mut descs, &bounds, buf.as_ptr() as usize) };
        let mut p = b.packet(0);
        assert!(p.truncated() && !p.chained());
        assert!(!p.set_len(9) && !p.adjust_head(1) && !p.adjust_head(-1));
        assert!(p.set_len(10) && p.adjust_head(0));
        assert_eq!((p.len(), p.headroom()), (10, 4));
    }

    #[test]
    fn hostile_batches_are_refused() {
        let mut h = Host::<Minimal>::new(b"").unwrap();
        h.process(&[&frame(0), &frame(0)]).unwrap();
        take_logs();
        let good = h.desc(0);
        let inval = Errno::Inval.code();
        // More packets than mw_batch was asked for.
        h.g.batch_max = 2;
        assert_eq!(h.g.process(3), Errno::Range.code());
        // Header count or version that disagrees with the call.
        assert_eq!(h.g.process(1), inval);
        let hdr = BatchHeader { version: 2, count: 2, headroom: 128, ..Default::default() };
        h.set_header(hdr);
        assert_eq!(h.g.process(2), inval);
        h.set_header(BatchHeader { version: 1, ..hdr });
        assert_eq!(h.g.process(2), 0);
        // Descriptors that do not describe a packet in the window.
        let w0 = h.window;
        for bad in [
            Desc { len: good.cap + 1, ..good },                         // len > cap
            Desc { data: w0 + 127, ..good },                            // headroom before the window
            Desc { data: 0, len: 0, cap: 0, ..good },                   // address 0
            Desc { data: h.batch + 64, ..good },                        // the batch area
            Desc { data: w0 + WINDOW - 100, cap: 101, len: 1, ..good }, // past the window
            Desc { data: u32::MAX - 10, ..good },                       // overflow
        ] {
            h.set_desc(1, bad);
            assert_eq!(h.g.process(2), inval, "{:?}", bad);
        }
        let logs = take_logs();
        assert!(logs.iter().any(|(_, m)| m.contains("descriptor 1 does not describe a packet")), "{:?}", logs);
        // The plugin never ran on a refused batch: verdicts stay as written.
        assert_eq!(h.desc(0).verdict, Verdict::Pass as u8);
    }

    #[test]
    fn process_errors_and_missing_init() {
        let mut h = Host::<Script>::new(b"").unwrap();
        take_logs();
        assert_eq!(h.process(&[&frame(9)]), Err(Errno::Internal.code()));
        assert_eq!(take_logs(), [(Level::Error, "process: scripted failure".into())]);
        let mut g: Guest<Minimal, _> = Guest::new_any(SimMemory::new(40));
        g.batch(1);
        assert_eq!(g.process(0), Errno::Inval.code(), "mw_process before mw_init");
    }

    #[test]
    fn init_errors_are_logged() {
        take_logs();
        assert_eq!(Host::<Script>::new(b"bad").err(), Some(Errno::Inval.code()));
        assert_eq!(take_logs(), [(Level::Error, "config: bad config".into())]);
    }

    #[test]
    fn control_replies_and_limits() {
        let mut h = Host::<Script>::new(b"").unwrap();
        assert_eq!(h.control(b"hello").unwrap(), b"olleh");
        assert_eq!(h.control(b"").unwrap(), b"");
        take_logs();
        assert_eq!(h.control(b"big"), Err(Errno::Range.code()));
        assert_eq!(take_logs()[0].1, "control: the reply exceeds the message buffer");
        // A request range outside the message buffer.
        assert_eq!(h.g.control(h.window, 10), Errno::Inval.code());
        assert_eq!(h.g.control(h.msg + MSGBUF - 1, 2), Errno::Inval.code());
        assert_eq!(h.g.control(u32::MAX, 2), Errno::Inval.code());
        // The default control refuses.
        let mut m = Host::<Minimal>::new(b"").unwrap();
        assert_eq!(m.control(b"x"), Err(Errno::NotSup.code()));
    }

    #[test]
    fn state_hooks() {
        let mut a = Host::<Script>::new(b"").unwrap();
        a.process(&[&frame(0)]).unwrap();
        a.process(&[&frame(0)]).unwrap();
        let st = a.save_state().unwrap();
        assert_eq!(st, 2u64.to_le_bytes());
        let mut b = Host::<Script>::new(b"").unwrap();
        b.load_state(&st).unwrap();
        assert_eq!(b.plugin().bursts, 2);
        assert_eq!(b.load_state(b"short"), Err(Errno::Inval.code()));
        // Defaults: no state saved, only an empty one taken.
        let mut m = Host::<Minimal>::new(b"").unwrap();
        assert_eq!(m.save_state().unwrap(), b"");
        assert_eq!(m.load_state(b""), Ok(()));
        assert_eq!(m.load_state(b"x"), Err(Errno::NotSup.code()));
    }

    #[test]
    fn reply_writer() {
        let mut buf = [0u8; 8];
        let mut r = Reply::new(&mut buf);
        r.push_le32(1).unwrap();
        assert_eq!(r.push_fmt(format_args!("{}", 12345)), Err(crate::REPLY_FULL));
        assert_eq!(r.len(), 4, "a failed write leaves the reply as it was");
        r.push_fmt(format_args!("{}", 42)).unwrap();
        r.push_le16(0xffff).unwrap();
        assert_eq!(r.remaining(), 0);
        assert!(r.push_u8(0).is_err());
        assert_eq!(r.as_bytes(), [1, 0, 0, 0, b'4', b'2', 0xff, 0xff]);
    }

    // Random descriptors near the window's edges: the glue either refuses
    // the batch or every packet the plugin saw lay inside the window, and
    // the plugin's reshaping kept it there.
    #[test]
    fn random_descriptors_stay_in_the_window() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut h = Host::<Script>::new(b"").unwrap();
        let (w0, w1) = (h.window, h.window + WINDOW);
        let edges = [0, 1, h.batch, w0 - 1, w0, w0 + 127, w0 + 128, w1 - 200, w1 - 1, w1, u32::MAX - 1];
        let (mut ok, mut refused) = (0, 0);
        for _ in 0..20_000 {
            let n = 1 + next() as usize % 4;
            let room = [0u32, 64, 128, 4096][next() as usize % 4];
            for i in 0..n {
                let data = edges[next() as usize % edges.len()].wrapping_add((next() % 3) as u32);
                let cap = [0u16, 1, 60, 200, 2048, 65535][next() as usize % 6];
                let len = cap.saturating_sub((next() % 3) as u16);
                h.set_desc(i, Desc { data, len, cap, ..Default::default() });
            }
            h.set_header(BatchHeader { version: 1, count: n as u32, headroom: room, ..Default::default() });
            match h.g.process(n as u32) {
                0 => {
                    ok += 1;
                    for i in 0..n {
                        let d = h.desc(i);
                        assert!(d.data as u64 >= w0 as u64 && d.data as u64 + d.len as u64 <= w1 as u64, "{:?}", d);
                    }
                }
                rc => {
                    assert_eq!(rc, Errno::Inval.code());
                    refused += 1;
                }
            }
        }
        assert!(ok > 100 && refused > 100, "ok {} refused {}", ok, refused);
        take_logs();
    }
}
