//! The host's log: `memif_wasm.log`, one line per call, rate-limited by the
//! host (burst 50, then 20 lines/s) and cut at 1024 bytes. A host call costs
//! tens of ns and, when metered, 1000 fuel plus one per byte: never per packet.

use crate::abi::Level;
use core::fmt;

/// The longest line the host keeps; `log_fmt` formats into a buffer this size.
pub const MAX_LINE: usize = 1024;

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "memif_wasm")]
extern "C" {
    #[link_name = "log"]
    fn host_log(level: i32, ptr: *const u8, len: u32);
}

/// Sends one line to the host's log.
pub fn log(level: Level, msg: &str) {
    log_bytes(level, msg.as_bytes());
}

/// `log` for bytes that need not be UTF-8 (the host prints them as they are).
pub fn log_bytes(level: Level, msg: &[u8]) {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: the import reads len bytes at ptr, which msg owns for the call.
    unsafe {
        host_log(level as i32, msg.as_ptr(), msg.len() as u32)
    }
    #[cfg(not(target_arch = "wasm32"))]
    crate::testing::capture_log(level, msg);
}

/// Formats one line (`format_args!`) into a stack buffer of `MAX_LINE`
/// bytes, cut there, and logs it. Pulls in `core::fmt`: a few KiB of code.
pub fn log_fmt(level: Level, args: fmt::Arguments<'_>) {
    let mut line = Line::new();
    let _ = fmt::write(&mut line, args);
    log_bytes(level, line.as_bytes());
}

/// A fixed buffer that `fmt::Write` appends to, dropping what does not fit
/// (at a character boundary).
pub struct Line {
    buf: [u8; MAX_LINE],
    len: usize,
}

impl Line {
    pub const fn new() -> Self {
        Line { buf: [0; MAX_LINE], len: 0 }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Appends as much of s as fits, cut at a character boundary.
    pub fn push_str(&mut self, s: &str) {
        let room = MAX_LINE - self.len;
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
    }

    /// Appends v in decimal.
    pub fn push_u64(&mut self, mut v: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        // ASCII digits are always UTF-8.
        self.push_str(core::str::from_utf8(&digits[i..]).unwrap_or(""));
    }
}

impl Default for Line {
    fn default() -> Self {
        Line::new()
    }
}

impl fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::take_logs;

    #[test]
    fn line_cuts_at_max_and_char_boundary() {
        let mut l = Line::new();
        for _ in 0..MAX_LINE - 1 {
            l.push_str("a");
        }
        l.push_str("é"); // two bytes, one left: dropped whole
        assert_eq!(l.as_bytes().len(), MAX_LINE - 1);
        l.push_str("bc");
        assert_eq!(l.as_bytes().len(), MAX_LINE);
        assert_eq!(l.as_bytes()[MAX_LINE - 1], b'b');
    }

    #[test]
    fn numbers_and_fmt() {
        let mut l = Line::new();
        l.push_str("n=");
        l.push_u64(0);
        l.push_str(",");
        l.push_u64(u64::MAX);
        assert_eq!(l.as_bytes(), b"n=0,18446744073709551615");
        take_logs();
        log_fmt(Level::Warn, format_args!("rule {} of {}", 3, 7));
        log(Level::Info, "plain");
        let got = take_logs();
        assert_eq!(got, [(Level::Warn, "rule 3 of 7".into()), (Level::Info, "plain".into())]);
    }
}
