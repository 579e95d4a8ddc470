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
// frames still in flight, disconnects and returns a Report. A link that drops mid-run
// is waited for (up to Config.Stall) and sending resumes on the new connection; frames
// lost with the old one show up as Lost.
//
// # Costs
//
// Sending and counting do not allocate per burst. The sink keeps a 128 KiB window of
// sequence numbers per transmit queue and a fixed-size latency histogram.
package gen
