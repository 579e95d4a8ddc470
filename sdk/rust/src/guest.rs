//! The ABI's exports, implemented once for any linear memory: the wasm32
//! build runs them on the module's own memory (`Wasm`), native tests on a
//! simulated one (`testing::SimMemory`). `export_plugin!` wires them to the
//! export names. Everything the host hands over is checked before use: a
//! confused or hostile host gets an error code and a log line, never a view
//! of memory outside the areas this module set aside.

use crate::abi::{
    BatchHeader, Desc, Errno, Level, BATCH_ALIGN, DESC_SIZE, HEADER_SIZE, MAX_BURST, MAX_PACKET, VERSION, WINDOW_ALIGN,
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

/// A linear memory: where guest address 0 is in this process, its size, and
/// `memory.grow`.
pub(crate) trait Memory {
    fn base(&self) -> usize;
    fn size(&self) -> u64;
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
    fn size(&self) -> u64 {
        core::arch::wasm32::memory_size(0) as u64 * PAGE as u64
    }
    fn grow(&mut self, pages: u32) -> Option<u32> {
        match core::arch::wasm32::memory_grow(0, pages as usize) {
            usize::MAX => None,
            old => Some(old as u32),
        }
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
    pub plugin: Option<P>,
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
            self.plugin = Some(p);
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
            log_num(Level::Error, "mw_process: batch header version or count does not match the call (n=", n as u64, ")");
            return Errno::Inval.code();
        }
        let descs = unsafe {
            core::slice::from_raw_parts_mut((base + (self.batch + HEADER_SIZE) as usize) as *mut Desc, n as usize)
        };
        let (w0, w1) = (self.window as u64, self.window as u64 + self.window_len as u64);
        let room = hdr.headroom as u64;
        for (i, d) in descs.iter().enumerate() {
            let (data, len, cap) = (d.data as u64, d.len as u64, d.cap as u64);
            // The packet and its headroom must lie in the window: the only
            // memory the guest never uses itself.
            if self.window == 0 || len > cap || cap > MAX_PACKET as u64 || data < w0 + room || data + cap > w1 {
                log_num(Level::Error, "mw_process: descriptor ", i as u64, " does not describe a packet in the window");
                return Errno::Inval.code();
            }
            self.bounds[i] = Bounds { lo: (data - room) as u32, hi: (data + cap) as u32 };
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
            plugin: None,
        }
    }
}
