// Package gen is memif-wasm's traffic generator and sink: it speaks memif in either role
// to any peer (a memif-wasm host, VPP, DPDK testpmd, libmemif), sends sequence-numbered,
// timestamped frames at a chosen rate, size and number of flows over one or more queues,
// and counts what comes back: loss, duplicates, reordering and latency percentiles.
//
// # Frames
//
// Each frame is Ethernet + IPv4 + UDP (or an ICMP echo request) + a 22-byte gen header
// (magic, a random stream id per run, the transmit queue, a per-queue sequence number
// and the time it was queued) + a byte pattern up to the frame size. The header sits
// where an echo request's data starts, so MAC-swapping reflectors, forwarders and ICMP
// echo responders all return it intact; up to two VLAN tags in between are tolerated.
// Frames that do not carry this run's header are counted as foreign, never trusted.
//
// # Lifecycle
//
// Run creates its own memif socket and interface(s), waits for the link, sends until
// Config.Count frames, Config.Duration or ctx ends it, waits up to Config.Drain for the
// frames still in flight, disconnects and returns a Report.
//
// # Link drops
//
// The link may drop and come back at any point after it first came up: before the
// first frame (DPDK testpmd with client ports does so while it sets its ports up),
// while sending, or during the drain. gen then waits for it and goes on:
//
//   - A drop before the first frame is waited for up to Config.LinkTimeout, a later
//     one up to Config.Stall. A link that is not back by then ends the run with an
//     error wrapping ErrLinkDown that names the interface and the phase; the report
//     is still valid as far as the run got. As slave, gen redials every 100 ms.
//   - Each transmit queue continues its own sequence on the next connection, so what
//     the old connection took down (frames in its rings, or held by the peer) is
//     counted as Lost, never as duplicates, and loss, duplicates and reordering stay
//     exact across the gap.
//   - Queues: gen asks for (as slave) or accepts at most (as master) Config.Queues
//     queue pairs on every connection, and sends on min(Config.Queues, negotiated)
//     transmit queues of each; a queue the connection lacks idles until the next
//     connection. (Fewer than asked happens with gen as master: a memif master
//     refuses a slave that asks for more queues than it accepts.) Every receive
//     queue the connection has is counted. Config.Count is shared by
//     the queues that send, so exactly Count frames go out whatever the peer
//     negotiates; Config.Rate is divided among them, per connection.
//   - Pacing and Settle start again on each connection: time with the link down is
//     not made up for with a burst afterwards, and a peer that needs Settle after
//     link up gets it every time.
//   - The drain waits for a dropped link to come back (a forwarder may still deliver)
//     and then gives the peer a full Config.Drain, so Config.BeforeDisconnect runs
//     with the link up; if ctx was cancelled, the drain ends at the drop instead.
//
// Report.LinkDrops counts the drops and Report.LinkDown the time the link was down;
// the send time and the rates over it include that time.
//
// # Costs
//
// Sending and counting do not allocate per burst. The sink keeps a 128 KiB window of
// sequence numbers per transmit queue and a fixed-size latency histogram.
package gen
