//! memif-wasm guest SDK for Rust: write a memif-wasm packet plugin (ABI v1,
//! abi/ABI.md) without `unsafe`, without dependencies, in `no_std`.
//!
//! A plugin is a type implementing [`Plugin`] (and `Default`), exported with
//! [`export_plugin!`]:
//!
//! ```
//! use memif_wasm::{export_plugin, Burst, Headers, Plugin, Result, ETHERTYPE_IPV4};
//!
//! #[derive(Default)]
//! struct OnlyIpv4;
//!
//! impl Plugin for OnlyIpv4 {
//!     fn process(&mut self, burst: &mut Burst<'_>) -> Result {
//!         burst.for_each(|mut p| {
//!             if Headers::decode(p.data()).ethertype == ETHERTYPE_IPV4 {
//!                 p.pass()
//!             } else {
//!                 p.drop()
//!             }
//!         });
//!         Ok(())
//!     }
//! }
//!
//! export_plugin!(OnlyIpv4);
//! ```
//!
//! The SDK defines every export of ABI §2 (`mw_abi_version`, `mw_batch`,
//! `mw_window`, `mw_msgbuf`, `mw_init`, `mw_process`, `mw_control`,
//! `mw_state_save`, `mw_state_load`), takes the batch area, the packet window
//! and the message buffer with `memory.grow`, checks every descriptor the host
//! writes before the plugin sees it, and turns a plugin's `Err` into `-errno`
//! and a line in the host's log. The crate's `unsafe` is confined to
//! `guest.rs` (the exports' raw memory), `packet.rs` (packet bytes) and
//! `log.rs` (the host import), each with its reason; plugins need none.
//!
//! A panic cannot be caught in `no_std` wasm: the SDK's panic handler logs
//! where it happened and traps, which the host counts as a fault and answers
//! by discarding the instance (ABI §10).
//!
//! Natively (`cargo test`), [`testing`] plays the host: it runs a plugin's
//! exports on a simulated linear memory, with frames built by
//! [`testing::frames`].

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(all(not(test), not(target_arch = "wasm32")))]
extern crate std;

pub mod abi;
pub mod bytes;
pub mod checksum;
mod decode;
#[doc(hidden)]
pub mod guest;
mod headers;
pub mod log;
mod packet;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

// The README's example is compiled and its doc tests run with the crate's.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

pub use abi::{BatchHeader, Errno, Level, Verdict};
pub use decode::{Headers, L3, L4, MAX_VLANS};
pub use headers::*;
pub use log::{log, log_fmt};
pub use packet::{Burst, Packet};

/// An error a plugin returns: the ABI errno the export returns, and a
/// message the SDK logs (at error level, prefixed with what failed) when it
/// is not empty. For messages with numbers, log them with `log_fmt` and
/// return an error with an empty message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    pub errno: Errno,
    pub msg: &'static str,
}

impl Error {
    pub const fn new(errno: Errno, msg: &'static str) -> Self {
        Error { errno, msg }
    }
    /// A malformed config or control message.
    pub const fn inval(msg: &'static str) -> Self {
        Error::new(Errno::Inval, msg)
    }
    /// A value out of range.
    pub const fn range(msg: &'static str) -> Self {
        Error::new(Errno::Range, msg)
    }
    /// A request this plugin does not support.
    pub const fn not_sup(msg: &'static str) -> Self {
        Error::new(Errno::NotSup, msg)
    }
    /// The plugin's own invariant failed.
    pub const fn internal(msg: &'static str) -> Self {
        Error::new(Errno::Internal, msg)
    }
}

impl From<Errno> for Error {
    fn from(errno: Errno) -> Self {
        Error { errno, msg: "" }
    }
}

/// `Result<T, Error>`, `()` by default.
pub type Result<T = ()> = core::result::Result<T, Error>;

/// A packet plugin. One value per instance: `Default` makes it, `init` gives
/// it its config, then the host calls `process` once per burst and, between
/// bursts, `control`; on reload the old instance's `save_state` feeds the new
/// one's `load_state`. Every input is bytes from outside: validate it.
pub trait Plugin: Default {
    /// Takes the operator's config (possibly empty); an error refuses the
    /// plugin at load, or fails its restart. The default ignores the config.
    fn init(&mut self, config: &[u8]) -> Result {
        let _ = config;
        Ok(())
    }

    /// Gives every packet of the burst a verdict; one left without is
    /// `Aborted`: dropped and counted as a plugin error. An error fails the
    /// whole burst: the host applies the fail policy and recreates the
    /// instance. Keep the work per packet bounded: it runs on the burst's fuel.
    fn process(&mut self, burst: &mut Burst<'_>) -> Result;

    /// Answers a control message between bursts, writing the reply into
    /// `reply` (at most the message buffer's size). An error refuses the
    /// request and leaves the instance running. The default refuses all.
    fn control(&mut self, req: &[u8], reply: &mut Reply<'_>) -> Result {
        let _ = (req, reply);
        Err(Error::not_sup("this plugin takes no control messages"))
    }

    /// Writes the state a new version should inherit on reload. The default
    /// writes none.
    fn save_state(&mut self, out: &mut Reply<'_>) -> Result {
        let _ = out;
        Ok(())
    }

    /// Takes the state a previous version saved: bytes from another version
    /// of the plugin, to validate like any input. The default accepts only
    /// an empty state.
    fn load_state(&mut self, state: &[u8]) -> Result {
        if state.is_empty() {
            Ok(())
        } else {
            Err(Error::not_sup("this plugin keeps no state; the saved state is ignored"))
        }
    }
}

/// Where a control reply or saved state is written: a bounded buffer the
/// SDK moves into the host's message buffer. Writes that do not fit fail with
/// `ERANGE` and leave the reply as it was.
#[derive(Debug)]
pub struct Reply<'a> {
    buf: &'a mut [u8],
    len: usize,
}

const REPLY_FULL: Error = Error::range("the reply exceeds the message buffer");

impl<'a> Reply<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Reply { buf, len: 0 }
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many more bytes fit.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.len
    }

    /// Appends b, or fails with `ERANGE` when it does not fit.
    pub fn push(&mut self, b: &[u8]) -> Result {
        if b.len() > self.remaining() {
            return Err(REPLY_FULL);
        }
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
        Ok(())
    }

    pub fn push_u8(&mut self, v: u8) -> Result {
        self.push(&[v])
    }
    pub fn push_le16(&mut self, v: u16) -> Result {
        self.push(&v.to_le_bytes())
    }
    pub fn push_le32(&mut self, v: u32) -> Result {
        self.push(&v.to_le_bytes())
    }
    pub fn push_le64(&mut self, v: u64) -> Result {
        self.push(&v.to_le_bytes())
    }

    /// Appends formatted text (`format_args!`); all or nothing.
    pub fn push_fmt(&mut self, args: core::fmt::Arguments<'_>) -> Result {
        let start = self.len;
        if core::fmt::write(self, args).is_err() {
            self.len = start;
            return Err(REPLY_FULL);
        }
        Ok(())
    }
}

impl core::fmt::Write for Reply<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.push(s.as_bytes()).map_err(|_| core::fmt::Error)
    }
}

/// Defines the ABI's exports for a plugin type (`Plugin + Default`). Use it
/// once per module, at the crate's top level. On targets other than wasm32
/// it expands to nothing, so the plugin's native tests build too.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            static INSTANCE: $crate::guest::Instance<$plugin> = $crate::guest::Instance::new();
            #[no_mangle]
            pub extern "C" fn mw_abi_version() -> u32 {
                INSTANCE.abi_version()
            }
            #[no_mangle]
            pub extern "C" fn mw_batch(max_pkts: u32) -> u32 {
                INSTANCE.batch(max_pkts)
            }
            #[no_mangle]
            pub extern "C" fn mw_window(bytes: u32) -> u32 {
                INSTANCE.window(bytes)
            }
            #[no_mangle]
            pub extern "C" fn mw_msgbuf(len: u32) -> u32 {
                INSTANCE.msgbuf(len)
            }
            #[no_mangle]
            pub extern "C" fn mw_init(cfg_ptr: u32, cfg_len: u32) -> i32 {
                INSTANCE.init(cfg_ptr, cfg_len)
            }
            #[no_mangle]
            pub extern "C" fn mw_process(n: u32) -> i32 {
                INSTANCE.process(n)
            }
            #[no_mangle]
            pub extern "C" fn mw_control(ptr: u32, len: u32) -> i32 {
                INSTANCE.control(ptr, len)
            }
            #[no_mangle]
            pub extern "C" fn mw_state_save() -> i32 {
                INSTANCE.state_save()
            }
            #[no_mangle]
            pub extern "C" fn mw_state_load(ptr: u32, len: u32) -> i32 {
                INSTANCE.state_load(ptr, len)
            }
        };
    };
}

// no_std wasm needs a panic handler, and cannot unwind: log where the panic
// happened (without core::fmt, which would add its code to every plugin) and
// trap. A plugin that links std (feature "std") gets std's instead.
#[cfg(all(target_arch = "wasm32", not(feature = "std"), not(test)))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut l = log::Line::new();
    l.push_str("plugin panic");
    if let Some(loc) = info.location() {
        l.push_str(" at ");
        l.push_str(loc.file());
        l.push_str(":");
        l.push_u64(loc.line() as u64);
    }
    log::log_bytes(Level::Error, l.as_bytes());
    core::arch::wasm32::unreachable()
}
