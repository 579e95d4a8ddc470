// Command ratelimit polices packets per source IP address with a token bucket:
// each source may send rate packets per second on average and burst packets
// at once; packets over the limit are dropped. Time is the batch header's
// now_ns, so the plugin makes no clock calls. The buckets survive a reload:
// mw_state_save hands them to the next version of the plugin.
//
// Configuration (JSON, see plugins/README.md):
//
//	{"rate":1000,"burst":100,"max_sources":65536,"non_ip":"pass"}
//
// {"op":"stats"} over control returns {"sources":..,"passed":..,"dropped":..,"evicted":..}.
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"

	"github.com/memif-wasm/memif-wasm/sdk"
)

// Config is the plugin's JSON configuration.
type Config struct {
	Rate       uint64 `json:"rate"`        // packets per second per source, 1..1e9
	Burst      uint64 `json:"burst"`       // bucket depth in packets, 1..1e6; default = rate (one second)
	MaxSources int    `json:"max_sources"` // sources tracked at once; default 65536, at most 1<<22
	NonIP      string `json:"non_ip"`      // pass (default) or drop
}

// Stats is the control reply.
type Stats struct {
	Sources int    `json:"sources"`
	Passed  uint64 `json:"passed"`
	Dropped uint64 `json:"dropped"`
	Evicted uint64 `json:"evicted"` // buckets forgotten to make room for new sources
}

const (
	nano        = 1_000_000_000
	maxRate     = 1_000_000_000
	maxBurst    = 1_000_000
	maxSources  = 1 << 22
	defSources  = 65536
	probeWindow = 16 // slots a lookup may inspect: bounds the per-packet cost
)

// bucket is one source's state. tokens are in units of 1e-9 packet, so a
// refill is elapsed_ns * rate with no division on the packet path.
type bucket struct {
	addr   [16]byte // the source; IPv4 as an IPv4-mapped IPv6 address
	tokens uint64
	last   uint64 // now_ns of the last refill
	used   bool
}

type limiter struct {
	rate, capacity uint64 // capacity = burst * 1e9
	nonIP          sdk.Verdict
	table          []bucket // power-of-two size >= 2*max sources
	mask           uint64
	stats          Stats
}

func (l *limiter) Init(cfg []byte) error {
	var c Config
	if err := json.Unmarshal(cfg, &c); err != nil {
		return fmt.Errorf("ratelimit config: %w", err)
	}
	if c.Rate == 0 || c.Rate > maxRate {
		return fmt.Errorf("ratelimit config: rate %d: want 1..%d packets per second", c.Rate, maxRate)
	}
	if c.Burst == 0 {
		c.Burst = min(c.Rate, maxBurst)
	}
	if c.Burst > maxBurst {
		return fmt.Errorf("ratelimit config: burst %d: want 1..%d packets", c.Burst, maxBurst)
	}
	if c.MaxSources == 0 {
		c.MaxSources = defSources
	}
	if c.MaxSources < 1 || c.MaxSources > maxSources {
		return fmt.Errorf("ratelimit config: max_sources %d: want 1..%d", c.MaxSources, maxSources)
	}
	n := limiter{rate: c.Rate, capacity: c.Burst * nano, nonIP: sdk.Pass}
	switch c.NonIP {
	case "", "pass":
	case "drop":
		n.nonIP = sdk.Drop
	default:
		return fmt.Errorf("ratelimit config: non_ip %q: want pass or drop", c.NonIP)
	}
	size := 1 << bits.Len(uint(2*c.MaxSources-1))
	n.table, n.mask = make([]bucket, size), uint64(size-1)
	*l = n
	return nil
}

func (l *limiter) Process(b *sdk.Burst) error {
	if l.table == nil {
		return errors.New("ratelimit: not configured")
	}
	now := b.NowNanos()
	var h sdk.Headers // on the stack: no write barriers (see acl)
	var src [16]byte
	for i := range b.Len() {
		p := b.Packet(i)
		h.Decode(p.Data())
		switch {
		case h.IPv4 != nil:
			a := h.IPv4.Src()
			src = [16]byte{10: 0xff, 11: 0xff, 12: a[0], 13: a[1], 14: a[2], 15: a[3]}
		case h.IPv6 != nil:
			src = h.IPv6.Src()
		default:
			p.SetVerdict(l.nonIP)
			continue
		}
		if l.take(l.find(src, now), now) {
			p.Pass()
			l.stats.Passed++
		} else {
			p.Drop()
			l.stats.Dropped++
		}
	}
	return nil
}

func (l *limiter) hash(a *[16]byte) uint64 {
	x := binary.LittleEndian.Uint64(a[:8])*0x9e3779b97f4a7c15 ^ binary.LittleEndian.Uint64(a[8:])*0xc2b2ae3d27d4eb4f
	return (x ^ x>>29) & l.mask
}

// find returns src's bucket, creating a full one in the first free slot of its
// probe window, or in place of the window's least recently refilled bucket
// when the window is full. Slots are never emptied, so an empty slot ends
// every probe sequence that passes it.
func (l *limiter) find(src [16]byte, now uint64) *bucket {
	i := l.hash(&src)
	var oldest *bucket
	for range probeWindow {
		e := &l.table[i]
		if !e.used {
			*e = bucket{addr: src, tokens: l.capacity, last: now, used: true}
			l.stats.Sources++
			return e
		}
		if e.addr == src {
			return e
		}
		if oldest == nil || e.last < oldest.last {
			oldest = e
		}
		i = (i + 1) & l.mask
	}
	*oldest = bucket{addr: src, tokens: l.capacity, last: now, used: true}
	l.stats.Evicted++
	return oldest
}

// take refills e up to now and spends one packet's token if it has one.
func (l *limiter) take(e *bucket, now uint64) bool {
	if now > e.last {
		// Refilling for longer than it takes to fill the bucket only fills
		// it; checking first keeps elapsed*rate from overflowing.
		if need := l.capacity - min(e.tokens, l.capacity); now-e.last >= need/l.rate+1 {
			e.tokens = l.capacity
		} else {
			e.tokens += (now - e.last) * l.rate
		}
	}
	// A clock behind the bucket's (state from another host process) restarts
	// its refill from now instead of freezing it until the clock catches up.
	e.last = now
	if e.tokens < nano {
		return false
	}
	e.tokens -= nano
	return true
}

func (l *limiter) Control(req, reply []byte) ([]byte, error) {
	var c struct {
		Op string `json:"op"`
	}
	if err := json.Unmarshal(req, &c); err != nil {
		return nil, fmt.Errorf("control message: %w", err)
	}
	if c.Op != "stats" {
		return nil, fmt.Errorf("control op %q: want stats", c.Op)
	}
	out, err := json.Marshal(l.stats)
	return append(reply, out...), err
}

// State format, little-endian: "RLS1", passed, dropped (u64), count (u32), then
// count entries of address (16 bytes), tokens (u64, 1e-9 packets), last (u64, ns).
const (
	stateHeader = 4 + 8 + 8 + 4
	stateEntry  = 16 + 8 + 8
)

var stateMagic = [4]byte{'R', 'L', 'S', '1'}

func (l *limiter) SaveState(dst []byte) ([]byte, error) {
	le := binary.LittleEndian
	dst = append(dst, stateMagic[:]...)
	dst = le.AppendUint64(dst, l.stats.Passed)
	dst = le.AppendUint64(dst, l.stats.Dropped)
	dst = le.AppendUint32(dst, uint32(l.stats.Sources))
	for i := range l.table {
		e := &l.table[i]
		if e.used {
			dst = append(dst, e.addr[:]...)
			dst = le.AppendUint64(dst, e.tokens)
			dst = le.AppendUint64(dst, e.last)
		}
	}
	return dst, nil
}

// LoadState takes the buckets of a predecessor, which may have had another
// configuration: tokens are capped at this bucket's depth, and sources beyond
// this table's room are forgotten like any evicted source.
func (l *limiter) LoadState(st []byte) error {
	if len(st) == 0 {
		return nil
	}
	if l.table == nil {
		return errors.New("ratelimit state: load before config")
	}
	le := binary.LittleEndian
	if len(st) < stateHeader || [4]byte(st[:4]) != stateMagic {
		return errors.New("ratelimit state: not an RLS1 state")
	}
	n := int(le.Uint32(st[20:]))
	if n > maxSources || len(st) != stateHeader+n*stateEntry {
		return fmt.Errorf("ratelimit state: %d bytes do not hold %d entries", len(st), n)
	}
	fresh := *l
	fresh.table = make([]bucket, len(l.table))
	fresh.stats = Stats{Passed: le.Uint64(st[4:]), Dropped: le.Uint64(st[12:])}
	for v := st[stateHeader:]; len(v) > 0; v = v[stateEntry:] {
		addr, tokens, last := [16]byte(v[:16]), le.Uint64(v[16:]), le.Uint64(v[24:])
		e := fresh.find(addr, last)
		e.tokens, e.last = min(tokens, fresh.capacity), last
	}
	*l = fresh
	return nil
}

func init() { sdk.Register(new(limiter)) }

func main() {}
