//! The ABI's numbers and layouts (abi/ABI.md, version 1). `abi/*.go` is the
//! reference; the layout tests in this module pin the same offsets.

/// The ABI version this SDK speaks; `mw_abi_version` returns it.
pub const VERSION: u32 = 1;
/// The most descriptors one `mw_process` call can carry.
pub const MAX_BURST: u32 = 256;
/// The largest packet a descriptor can describe (its length is a u16).
pub const MAX_PACKET: u32 = 65535;
/// Alignment of the packet window: one wasm page.
pub const WINDOW_ALIGN: u32 = 65536;
/// Alignment of the batch area.
pub const BATCH_ALIGN: u32 = 64;
/// Size of the batch header and of one descriptor, in bytes.
pub const HEADER_SIZE: u32 = 32;
pub const DESC_SIZE: u32 = 16;

/// Descriptor flags: only the first `len` bytes are present (snaplen or frame limit).
pub const FLAG_TRUNCATED: u8 = 0x01;
/// Descriptor flags: the packet spanned several memif buffers and was linearised.
pub const FLAG_CHAINED: u8 = 0x02;
/// Descriptor flags, out: the plugin rewrote the packet (a hint).
pub const FLAG_MODIFIED: u8 = 0x10;
/// Batch flags: packet data is shared memory the peer can also see.
pub const BATCH_FLAG_ZERO_COPY: u16 = 0x0001;

/// What a plugin decides for a packet. The numbering is XDP's: a descriptor
/// the plugin never touched stays at 0, `Aborted`, and fails closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Verdict {
    /// Dropped and counted as a plugin error.
    Aborted = 0,
    /// Dropped.
    Drop = 1,
    /// To the next plugin; after the last, to the interface's egress.
    Pass = 2,
    /// Back out of the interface it came in on.
    Tx = 3,
    /// Out of the port in the descriptor's `meta` (see `Packet::redirect`).
    Redirect = 4,
}

impl Verdict {
    /// The verdict numbered v, or None for a number the ABI does not define.
    pub fn from_u8(v: u8) -> Option<Verdict> {
        match v {
            0 => Some(Verdict::Aborted),
            1 => Some(Verdict::Drop),
            2 => Some(Verdict::Pass),
            3 => Some(Verdict::Tx),
            4 => Some(Verdict::Redirect),
            _ => None,
        }
    }
}

/// The ABI's error codes; an export returns `-(errno as i32)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Errno {
    /// Malformed config or control message.
    Inval = 1,
    /// The guest could not allocate.
    NoMem = 2,
    /// Request not supported by this plugin.
    NotSup = 3,
    /// A value out of range.
    Range = 4,
    /// The plugin's own invariant failed.
    Internal = 5,
}

impl Errno {
    /// The value an export returns for this error: `-errno`.
    pub fn code(self) -> i32 {
        -(self as i32)
    }

    /// The ABI's name of the error, as the host prints it.
    pub fn name(self) -> &'static str {
        match self {
            Errno::Inval => "EINVAL",
            Errno::NoMem => "ENOMEM",
            Errno::NotSup => "ENOTSUP",
            Errno::Range => "ERANGE",
            Errno::Internal => "EINTERNAL",
        }
    }
}

/// Log levels of the host's `memif_wasm.log` import.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Level {
    Debug = -1,
    Info = 0,
    Warn = 1,
    Error = 2,
}

/// The batch header the host writes before each `mw_process` call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct BatchHeader {
    /// `VERSION`.
    pub version: u32,
    /// Descriptors that follow.
    pub count: u32,
    /// Host monotonic clock at the burst's start, in ns.
    pub now_ns: u64,
    /// Ingress interface.
    pub ifindex: u32,
    /// Ingress queue.
    pub queue: u16,
    /// `BATCH_FLAG_*`.
    pub flags: u16,
    /// 0: whole packets; else at most this many bytes were copied.
    pub snaplen: u32,
    /// Bytes before each packet's data the plugin may move the data into.
    pub headroom: u32,
}

/// One descriptor, the size of a memif descriptor. Plugins see it through
/// `Packet`, which keeps its fields within what the host accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Desc {
    /// Address of the packet's first byte in the plugin's memory.
    pub data: u32,
    /// In: length; out: new length.
    pub len: u16,
    /// Bytes usable from the original data onwards.
    pub cap: u16,
    /// Out: a `Verdict`; the host writes 0 (`Aborted`) before the call.
    pub verdict: u8,
    /// In: `FLAG_TRUNCATED`, `FLAG_CHAINED`; out: `FLAG_MODIFIED`.
    pub flags: u8,
    /// In: ingress port.
    pub in_port: u16,
    /// In: memif descriptor metadata; out: the REDIRECT target port.
    pub meta: u32,
}

// The layout is the ABI: the build fails if the compiler disagrees. The
// structs are read in place, so the target must be little-endian like wasm.
const _: () = assert!(core::mem::size_of::<BatchHeader>() == HEADER_SIZE as usize);
const _: () = assert!(core::mem::size_of::<Desc>() == DESC_SIZE as usize);
const _: () = assert!(core::mem::align_of::<Desc>() <= BATCH_ALIGN as usize);
#[cfg(target_endian = "big")]
compile_error!("memif-wasm: the ABI is little-endian (wasm32); big-endian targets cannot read it in place");

#[cfg(test)]
mod tests {
    use super::*;

    fn offset<T, F>(base: &T, field: &F) -> usize {
        field as *const F as usize - base as *const T as usize
    }

    // The offsets of abi/layout.go (golden tests: abi/layout_test.go).
    #[test]
    fn header_layout() {
        let h = BatchHeader::default();
        assert_eq!(offset(&h, &h.version), 0);
        assert_eq!(offset(&h, &h.count), 4);
        assert_eq!(offset(&h, &h.now_ns), 8);
        assert_eq!(offset(&h, &h.ifindex), 16);
        assert_eq!(offset(&h, &h.queue), 20);
        assert_eq!(offset(&h, &h.flags), 22);
        assert_eq!(offset(&h, &h.snaplen), 24);
        assert_eq!(offset(&h, &h.headroom), 28);
    }

    #[test]
    fn desc_layout() {
        let d = Desc::default();
        assert_eq!(offset(&d, &d.data), 0);
        assert_eq!(offset(&d, &d.len), 4);
        assert_eq!(offset(&d, &d.cap), 6);
        assert_eq!(offset(&d, &d.verdict), 8);
        assert_eq!(offset(&d, &d.flags), 9);
        assert_eq!(offset(&d, &d.in_port), 10);
        assert_eq!(offset(&d, &d.meta), 12);
    }

    #[test]
    fn numbering() {
        for v in 0..=4u8 {
            assert_eq!(Verdict::from_u8(v).map(|x| x as u8), Some(v));
        }
        assert_eq!(Verdict::from_u8(5), None);
        assert_eq!(Errno::Inval.code(), -1);
        assert_eq!(Errno::Internal.code(), -5);
        assert_eq!(Level::Debug as i32, -1);
        assert_eq!(Level::Error as i32, 2);
    }
}
