package abi

// Batch header, at the address mw_batch returned. All fields little-endian.
const (
	HeaderSize = 32

	HdrVersion  = 0  // u32: Version
	HdrCount    = 4  // u32: n, the number of descriptors that follow
	HdrNowNanos = 8  // u64: host monotonic clock in ns at the start of the burst
	HdrIfIndex  = 16 // u32: ingress interface index
	HdrQueue    = 20 // u16: ingress queue
	HdrFlags    = 22 // u16: BatchFlag*
	HdrSnaplen  = 24 // u32: 0 = whole packets; else at most this many bytes were copied
	HdrHeadroom = 28 // u32: bytes before each packet's data the guest may move data back into
)

// Descriptor i sits at batch + HeaderSize + i*DescSize.
const (
	DescSize = 16

	DescData    = 0  // u32: guest address of the packet's first byte; out: may move within headroom..cap
	DescLen     = 4  // u16: in: packet length; out: new length, <= cap
	DescCap     = 6  // u16: writable bytes from the original data
	DescVerdict = 8  // u8:  out: Verdict
	DescFlags   = 9  // u8:  in: Flag*In; out: FlagModified
	DescInPort  = 10 // u16: in: ingress port (interface index within the tenant)
	DescMeta    = 12 // u32: in: memif descriptor metadata; out: REDIRECT target port
)

// BatchSize is the size of a batch area for max descriptors.
func BatchSize(max int) int { return HeaderSize + max*DescSize }

// Batch header flags.
const (
	BatchFlagZeroCopy uint16 = 1 << 0 // data points into shared memory the peer can also see
)

// Verdict is what the guest decides for one packet. The numbering is XDP's so
// that a verdict the guest forgot to write (0) fails closed.
type Verdict uint8

const (
	Aborted  Verdict = 0 // drop and count as a plugin error
	Drop     Verdict = 1 // drop
	Pass     Verdict = 2 // to the next plugin, then to the interface's egress
	TX       Verdict = 3 // back out of the interface it came in on
	Redirect Verdict = 4 // out of the port named in meta, which must be allowed

	NumVerdicts = 5
)

var verdictNames = [NumVerdicts]string{"aborted", "drop", "pass", "tx", "redirect"}

// String returns the verdict's lower-case name, or "invalid" for an unknown value.
func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return "invalid"
}

// Valid reports whether v is a verdict of this ABI version.
func (v Verdict) Valid() bool { return v < NumVerdicts }

// Descriptor flags.
const (
	FlagTruncated uint8 = 1 << 0 // in: only the first snaplen bytes are present
	FlagChained   uint8 = 1 << 1 // in: the packet spanned several memif buffers and was linearised
	FlagModified  uint8 = 1 << 4 // out: the guest rewrote bytes (a hint; the host copies back regardless in copy mode)
)
