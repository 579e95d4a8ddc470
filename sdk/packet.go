package sdk

import "github.com/memif-wasm/memif-wasm/abi"

// Verdict is what a plugin decides for a packet (abi.Verdict).
type Verdict = abi.Verdict

// Verdicts a plugin gives a packet, re-exported from package abi.
const (
	Aborted  = abi.Aborted
	Drop     = abi.Drop
	Pass     = abi.Pass
	TX       = abi.TX
	Redirect = abi.Redirect
)

// Header is the per-burst information the host writes before each call.
type Header struct {
	NowNanos uint64 // host monotonic clock at the start of the burst, in ns
	IfIndex  uint32 // ingress interface index
	Queue    uint16 // ingress queue
	Flags    uint16 // abi.BatchFlag*
	Snaplen  uint32 // 0 = whole packets; else at most this many bytes are present
	Headroom uint32 // bytes before each packet the data may grow back into
}

// Burst is one batch of packets handed to Plugin.Process. The SDK reuses one
// Burst for every call; it and its packets are valid only during the call.
type Burst struct {
	hdr  Header
	n    int
	pkts [abi.MaxBurst]Packet
}

// Header returns the burst's header.
func (b *Burst) Header() Header { return b.hdr }

// NowNanos returns the host's monotonic clock at the start of the burst.
func (b *Burst) NowNanos() uint64 { return b.hdr.NowNanos }

// Len returns the number of packets in the burst.
func (b *Burst) Len() int { return b.n }

// Packet returns packet i, 0 <= i < Len(). It panics on an index out of range,
// like a slice does: that is a bug in the plugin, not bad input.
func (b *Burst) Packet(i int) *Packet { return &b.pkts[:b.n][i] }

// SetAll gives every packet of the burst verdict v.
func (b *Burst) SetAll(v abi.Verdict) {
	for i := range b.pkts[:b.n] {
		b.pkts[i].verdict = v
	}
}

// Reset empties the burst and sets its header. Plugins do not need it; tests use
// it with Add to build bursts natively.
func (b *Burst) Reset(h Header) {
	b.hdr = h
	b.n = 0
}

// Add appends a packet whose bytes are data[:len(data)] and whose writable
// capacity is cap(data), with no headroom, and returns it, or nil when the burst
// is full (abi.MaxBurst packets) or data is longer than abi.MaxPacket. It is
// meant for native tests; the SDK fills bursts from the host's descriptors.
func (b *Burst) Add(data []byte) *Packet {
	return b.AddWithHeadroom(data[:cap(data)], 0, len(data))
}

// AddWithHeadroom appends a packet whose bytes are buf[headroom:headroom+length],
// which may grow back to buf[0] and forward to the end of buf, and returns it, or
// nil when the burst is full or the arguments do not describe such a packet.
func (b *Burst) AddWithHeadroom(buf []byte, headroom, length int) *Packet {
	if b.n == len(b.pkts) || headroom < 0 || length < 0 || headroom > len(buf) ||
		length > len(buf)-headroom || len(buf)-headroom > abi.MaxPacket {
		return nil
	}
	p := &b.pkts[b.n]
	b.n++
	*p = Packet{buf: buf, orig: headroom, off: headroom, n: length, end: len(buf)}
	return p
}

// Packet is one packet of a burst: a view of its bytes in place, and the
// verdict and metadata the plugin hands back.
type Packet struct {
	// The packet's buffer is [original data - headroom, original data + cap):
	// buf for bursts built natively with Add, guest memory at
	// addr - orig for bursts from the host (buf nil: see guest.load).
	buf     []byte
	addr    uint32 // guest address of the original first byte
	orig    int    // offset of the original first byte in the buffer
	off     int    // offset of the current first byte in the buffer
	n       int    // current length
	end     int    // length of the buffer
	verdict abi.Verdict
	flags   uint8
	inPort  uint16
	meta    uint32
	fixed   bool // truncated or chained: the host takes rewrites, not resizes
}

// Data returns the packet's bytes. The plugin may rewrite them in place; the
// slice is valid until Process returns or the packet's length or head changes.
func (p *Packet) Data() []byte {
	if p.buf == nil {
		return view(p.addr-uint32(p.orig)+uint32(p.off), p.n)
	}
	return p.buf[p.off : p.off+p.n : p.off+p.n]
}

// Len returns the packet's length in bytes.
func (p *Packet) Len() int { return p.n }

// Cap returns the largest length SetLen accepts at the packet's current head.
func (p *Packet) Cap() int { return p.end - p.off }

// Headroom returns how many bytes AdjustHead can move the head back by.
func (p *Packet) Headroom() int { return p.off }

// InPort returns the ingress port the host reported for the packet.
func (p *Packet) InPort() uint16 { return p.inPort }

// Meta returns the memif descriptor metadata, or the redirect target once
// Redirect was called.
func (p *Packet) Meta() uint32 { return p.meta }

// Flags returns the descriptor flags (abi.Flag*).
func (p *Packet) Flags() uint8 { return p.flags }

// SetFlags sets the descriptor flags, as the host does on input (for example
// abi.FlagTruncated). Plugins have no use for it; native tests that play the
// host do.
func (p *Packet) SetFlags(f uint8) {
	p.flags = f
	p.fixed = f&(abi.FlagTruncated|abi.FlagChained) != 0
}

// Truncated reports whether only the first snaplen bytes of the packet are
// present: such a packet must not be rewritten as if it were whole.
func (p *Packet) Truncated() bool { return p.flags&abi.FlagTruncated != 0 }

// Verdict returns the verdict given so far; Aborted until one is set.
func (p *Packet) Verdict() abi.Verdict { return p.verdict }

// SetVerdict sets the verdict. Redirect needs a target: use Redirect instead.
func (p *Packet) SetVerdict(v abi.Verdict) { p.verdict = v }

// Drop drops the packet.
func (p *Packet) Drop() { p.verdict = abi.Drop }

// Pass hands the packet to the next plugin, then to the interface's egress.
func (p *Packet) Pass() { p.verdict = abi.Pass }

// TX sends the packet back out of the interface it came in on.
func (p *Packet) TX() { p.verdict = abi.TX }

// Redirect sends the packet out of port, which the host checks against the
// plugin's allow-list.
func (p *Packet) Redirect(port uint32) {
	p.verdict = abi.Redirect
	p.meta = port
}

// MarkModified tells the host the packet's bytes were rewritten. SetLen and
// AdjustHead mark it themselves.
func (p *Packet) MarkModified() { p.flags |= abi.FlagModified }

// SetLen sets the packet's length, keeping its head. It reports false, and
// changes nothing, when n is negative or larger than Cap, or the packet is
// truncated or chained (abi.FlagTruncated, abi.FlagChained): the host takes
// rewrites of those packets, but not a new length or head. Bytes past the old
// length are whatever the buffer held: the plugin writes them.
func (p *Packet) SetLen(n int) bool {
	if n < 0 || n > p.Cap() || p.fixed && n != p.n {
		return false
	}
	p.n = n
	p.flags |= abi.FlagModified
	return true
}

// AdjustHead moves the packet's first byte by delta bytes, keeping its end:
// negative delta prepends bytes (taken from the headroom), positive delta strips
// them. It reports false, and changes nothing, when the head would leave the
// buffer or pass the packet's end, or the packet is truncated or chained. Prepended bytes are uninitialised.
func (p *Packet) AdjustHead(delta int) bool {
	off := p.off + delta
	if off < 0 || delta > p.n || off > p.end || p.fixed && delta != 0 {
		return false
	}
	p.off = off
	p.n -= delta
	p.flags |= abi.FlagModified
	return true
}
