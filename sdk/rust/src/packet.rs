//! Bursts and packets: views of the batch area the host fills before each
//! `mw_process` call. A `Packet` edits its descriptor in place and keeps it
//! within what the host accepts (abi/ABI.md §5), so a plugin cannot hand back
//! a descriptor the host would refuse, except by leaving a verdict unset.

use crate::abi::{BatchHeader, Desc, Verdict, FLAG_CHAINED, FLAG_MODIFIED, FLAG_TRUNCATED};

/// Where a packet may live: `[lo, hi)` in guest addresses, from the original
/// data minus the burst's headroom to the original data plus its cap. The
/// guest glue checked that the range lies inside the packet window.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Bounds {
    pub lo: u32,
    pub hi: u32,
}

/// One batch of packets handed to `Plugin::process`, valid only during the
/// call. Packets are reached one at a time (`packet`, `for_each`), so no two
/// mutable views of packet bytes exist at once even if a hostile peer hands
/// the host two descriptors of the same buffer.
pub struct Burst<'a> {
    hdr: BatchHeader,
    descs: &'a mut [Desc],
    bounds: &'a [Bounds],
    base: usize,
}

impl<'a> Burst<'a> {
    /// # Safety
    /// `descs.len() == bounds.len()`; for every i, `descs[i]` satisfies
    /// `bounds[i].lo <= data`, `data + len <= bounds[i].hi`, and
    /// `[base + lo, base + hi)` is memory that nothing else references for
    /// `'a` (the packet window, or a test buffer).
    pub(crate) unsafe fn from_raw(hdr: BatchHeader, descs: &'a mut [Desc], bounds: &'a [Bounds], base: usize) -> Self {
        debug_assert_eq!(descs.len(), bounds.len());
        Burst { hdr, descs, bounds, base }
    }

    /// The burst's header (clock, interface, queue, flags, snaplen, headroom).
    pub fn header(&self) -> &BatchHeader {
        &self.hdr
    }

    /// The host's monotonic clock at the start of the burst, in ns.
    pub fn now_ns(&self) -> u64 {
        self.hdr.now_ns
    }

    /// Whether the packets' bytes are shared memory the peer can also see
    /// and change while the plugin reads them: read each field once.
    pub fn zero_copy(&self) -> bool {
        self.hdr.flags & crate::abi::BATCH_FLAG_ZERO_COPY != 0
    }

    /// The number of packets.
    pub fn len(&self) -> usize {
        self.descs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.descs.is_empty()
    }

    /// Packet i, 0 <= i < len(). Panics on an index out of range, like a
    /// slice: that is a bug in the plugin, not bad input.
    pub fn packet(&mut self, i: usize) -> Packet<'_> {
        Packet { d: &mut self.descs[i], b: self.bounds[i], base: self.base }
    }

    /// Calls f with every packet in turn.
    pub fn for_each<F: FnMut(Packet<'_>)>(&mut self, mut f: F) {
        let base = self.base;
        for (d, b) in self.descs.iter_mut().zip(self.bounds.iter()) {
            f(Packet { d, b: *b, base });
        }
    }

    /// Gives every packet verdict v. For `Redirect` use `Packet::redirect`,
    /// which sets the target too.
    pub fn set_all(&mut self, v: Verdict) {
        for d in self.descs.iter_mut() {
            d.verdict = v as u8;
        }
    }
}

/// One packet of a burst: its bytes in place, and the verdict and metadata
/// the plugin hands back.
pub struct Packet<'b> {
    d: &'b mut Desc,
    b: Bounds,
    base: usize,
}

impl<'b> Packet<'b> {
    /// The packet's bytes.
    pub fn data(&self) -> &[u8] {
        // SAFETY: Burst::from_raw's contract: [data, data+len) lies in
        // [lo, hi), memory no other reference covers while the burst lives,
        // and the setters below keep it there. &self forbids a concurrent
        // data_mut.
        unsafe { core::slice::from_raw_parts((self.base + self.d.data as usize) as *const u8, self.d.len as usize) }
    }

    /// The packet's bytes, to rewrite in place. Call `mark_modified` when
    /// they changed (`set_len` and `adjust_head` mark it themselves).
    pub fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in data; &mut self makes this the only view.
        unsafe { core::slice::from_raw_parts_mut((self.base + self.d.data as usize) as *mut u8, self.d.len as usize) }
    }

    pub fn len(&self) -> usize {
        self.d.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.d.len == 0
    }

    /// The largest length `set_len` accepts at the packet's current head.
    pub fn capacity(&self) -> usize {
        (self.b.hi - self.d.data) as usize
    }

    /// How many bytes `adjust_head` can move the head back by.
    pub fn headroom(&self) -> usize {
        (self.d.data - self.b.lo) as usize
    }

    /// The ingress port the host reported.
    pub fn in_port(&self) -> u16 {
        self.d.in_port
    }

    /// The memif descriptor metadata, or the redirect target once `redirect`
    /// was called.
    pub fn meta(&self) -> u32 {
        self.d.meta
    }

    /// The descriptor flags (`abi::FLAG_*`).
    pub fn flags(&self) -> u8 {
        self.d.flags
    }

    /// Only the first snaplen bytes are present: such a packet must not be
    /// rewritten as if it were whole.
    pub fn truncated(&self) -> bool {
        self.d.flags & FLAG_TRUNCATED != 0
    }

    /// The packet was linearised from several memif buffers.
    pub fn chained(&self) -> bool {
        self.d.flags & FLAG_CHAINED != 0
    }

    // Truncated or chained: the host takes rewrites, not resizes.
    fn fixed(&self) -> bool {
        self.d.flags & (FLAG_TRUNCATED | FLAG_CHAINED) != 0
    }

    /// The verdict given so far: `Aborted` until one is set.
    pub fn verdict(&self) -> Verdict {
        Verdict::from_u8(self.d.verdict).unwrap_or(Verdict::Aborted)
    }

    /// Sets the verdict. For `Redirect` use `redirect`, which sets the target.
    pub fn set_verdict(&mut self, v: Verdict) {
        self.d.verdict = v as u8;
    }

    /// Drops the packet. (The name is the ABI's verdict, as in the Go and C
    /// SDKs; it has nothing to do with `Drop`.)
    #[allow(clippy::should_implement_trait)]
    pub fn drop(&mut self) {
        self.set_verdict(Verdict::Drop);
    }

    /// To the next plugin, then to the interface's egress.
    pub fn pass(&mut self) {
        self.set_verdict(Verdict::Pass);
    }

    /// Back out of the interface the packet came in on.
    pub fn tx(&mut self) {
        self.set_verdict(Verdict::Tx);
    }

    /// Out of `port`, which the host checks against the plugin's allow-list.
    pub fn redirect(&mut self, port: u32) {
        self.d.verdict = Verdict::Redirect as u8;
        self.d.meta = port;
    }

    /// Tells the host the bytes were rewritten (a hint).
    pub fn mark_modified(&mut self) {
        self.d.flags |= FLAG_MODIFIED;
    }

    /// Sets the length, keeping the head. False, and nothing changes, when n
    /// exceeds `capacity`, or the packet is truncated or chained and n is not
    /// its length. Bytes past the old length are whatever the buffer held.
    pub fn set_len(&mut self, n: usize) -> bool {
        if n > self.capacity() || n > u16::MAX as usize || self.fixed() && n != self.len() {
            return false;
        }
        self.d.len = n as u16;
        self.mark_modified();
        true
    }

    /// Moves the first byte by delta, keeping the end: negative delta
    /// prepends bytes from the headroom (uninitialised: the plugin writes
    /// them), positive delta strips them. False, and nothing changes, when the
    /// head would leave the buffer or pass the end, or the packet is truncated
    /// or chained.
    pub fn adjust_head(&mut self, delta: isize) -> bool {
        if delta == 0 {
            return true;
        }
        if self.fixed() {
            return false;
        }
        let (data, len) = (self.d.data as i64, self.d.len as i64);
        let (nd, nl) = (data + delta as i64, len - delta as i64);
        if nd < self.b.lo as i64 || nl < 0 || nl > u16::MAX as i64 {
            return false;
        }
        self.d.data = nd as u32;
        self.d.len = nl as u16;
        self.mark_modified();
        true
    }
}
