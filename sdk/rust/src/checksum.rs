//! Internet checksums: RFC 1071 sums, pseudo-headers, and RFC 1624
//! incremental updates. The same functions as the Go SDK's checksum.go.

use crate::bytes::be16;
use crate::headers::{PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};

/// The Internet checksum of `b`, starting from the partial sum `initial`
/// (a pseudo-header sum, or 0). Bytes that include a correct checksum field
/// give 0.
pub fn checksum(b: &[u8], initial: u32) -> u16 {
    !fold(sum(b, initial))
}

/// Adds `b` to the partial ones'-complement sum `s` as 16-bit big-endian
/// words (an odd last byte is padded with zero) and returns the unfolded sum.
pub fn sum(b: &[u8], s: u32) -> u32 {
    let mut acc = s as u64;
    let mut words = b.chunks_exact(4);
    for w in &mut words {
        acc += u32::from_be_bytes([w[0], w[1], w[2], w[3]]) as u64;
    }
    let rest = words.remainder();
    if rest.len() >= 2 {
        acc += be16(rest) as u64;
    }
    if rest.len() & 1 == 1 {
        acc += (rest[rest.len() - 1] as u64) << 8;
    }
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    ((acc & 0xffff) + (acc >> 16)) as u32
}

/// Folds a partial sum into 16 bits, without complementing it.
pub fn fold(s: u32) -> u16 {
    let s = (s & 0xffff) + (s >> 16);
    let s = (s & 0xffff) + (s >> 16);
    s as u16
}

/// The partial sum of the IPv4 pseudo-header of a transport segment of
/// `length` bytes.
pub fn pseudo_sum4(src: [u8; 4], dst: [u8; 4], proto: u8, length: u16) -> u32 {
    sum(&src, 0) + sum(&dst, 0) + proto as u32 + length as u32
}

/// The partial sum of the IPv6 pseudo-header (RFC 8200 §8.1) of an
/// upper-layer packet of `length` bytes.
pub fn pseudo_sum6(src: [u8; 16], dst: [u8; 16], proto: u8, length: u32) -> u32 {
    sum(&src, 0) + sum(&dst, 0) + (length >> 16) + (length & 0xffff) + proto as u32
}

/// Checksum `c` patched for a 16-bit field that changed from `old` to
/// `new`: RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m').
pub fn update16(c: u16, old: u16, new: u16) -> u16 {
    !fold(!c as u32 + !old as u32 + new as u32)
}

/// `update16` for a 32-bit field (an IPv4 address).
pub fn update32(c: u16, old: u32, new: u32) -> u16 {
    let s = !c as u32 + !(old >> 16) as u16 as u32 + !(old as u16) as u32 + (new >> 16) + (new & 0xffff);
    !fold(s)
}

/// `update16` for a field of even length that changed from `old` to `new`
/// (an IPv6 address). Only the bytes both slices have, in whole 16-bit
/// words, count.
pub fn update_bytes(c: u16, old: &[u8], new: &[u8]) -> u16 {
    let mut s = !c as u32;
    for (o, n) in old.chunks_exact(2).zip(new.chunks_exact(2)) {
        s += !be16(o) as u32 + be16(n) as u32;
        s = (s & 0xffff) + (s >> 16);
    }
    !fold(s)
}

/// The checksum of the UDP datagram `seg` (header and payload; its own
/// checksum field is skipped) from `src` to `dst` over IPv4. A result of 0 is
/// sent as 0xffff (RFC 768).
pub fn udp4_checksum(src: [u8; 4], dst: [u8; 4], seg: &[u8]) -> u16 {
    l4_checksum(pseudo_sum4(src, dst, PROTO_UDP, seg.len() as u16), seg, 6, true)
}

/// `udp4_checksum` over IPv6, where the checksum is mandatory.
pub fn udp6_checksum(src: [u8; 16], dst: [u8; 16], seg: &[u8]) -> u16 {
    l4_checksum(pseudo_sum6(src, dst, PROTO_UDP, seg.len() as u32), seg, 6, true)
}

/// The checksum of the TCP segment `seg` over IPv4, skipping its own field.
pub fn tcp4_checksum(src: [u8; 4], dst: [u8; 4], seg: &[u8]) -> u16 {
    l4_checksum(pseudo_sum4(src, dst, PROTO_TCP, seg.len() as u16), seg, 16, false)
}

/// `tcp4_checksum` over IPv6.
pub fn tcp6_checksum(src: [u8; 16], dst: [u8; 16], seg: &[u8]) -> u16 {
    l4_checksum(pseudo_sum6(src, dst, PROTO_TCP, seg.len() as u32), seg, 16, false)
}

/// The checksum of the ICMPv4 message `msg` (no pseudo-header), skipping its
/// own field.
pub fn icmpv4_checksum(msg: &[u8]) -> u16 {
    l4_checksum(0, msg, 2, false)
}

/// The checksum of the ICMPv6 message `msg` from `src` to `dst`, skipping its
/// own field.
pub fn icmpv6_checksum(src: [u8; 16], dst: [u8; 16], msg: &[u8]) -> u16 {
    l4_checksum(pseudo_sum6(src, dst, PROTO_ICMPV6, msg.len() as u32), msg, 2, false)
}

// Sums seg except the 2-byte field at off. The part after the field starts at
// an even offset, so summing it separately keeps the words aligned.
fn l4_checksum(pseudo: u32, seg: &[u8], off: usize, udp: bool) -> u16 {
    if seg.len() < off + 2 {
        return !fold(sum(seg, pseudo));
    }
    let s = sum(&seg[..off], pseudo);
    let c = !fold(sum(&seg[off + 2..], fold(s) as u32));
    if udp && c == 0 {
        0xffff
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 1071 §3's example: the words 0001 f203 f4f5 f6f7 sum to ddf2.
    #[test]
    fn rfc1071_example() {
        let b = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&b, 0)), 0xddf2);
        assert_eq!(checksum(&b, 0), !0xddf2);
    }

    // A real IPv4 header (from Wikipedia's worked example): checksum b861.
    const IP_HDR: [u8; 20] = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8,
        0x00, 0xc7,
    ];

    #[test]
    fn ipv4_header_verifies() {
        assert_eq!(checksum(&IP_HDR, 0), 0);
        let mut h = IP_HDR;
        h[10] = 0;
        h[11] = 0;
        assert_eq!(checksum(&h, 0), 0xb861);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(sum(&[0xab], 0), 0xab00);
        assert_eq!(sum(&[1, 2, 3, 4, 5, 6, 7], 0), 0x0102 + 0x0304 + 0x0506 + 0x0700);
    }

    #[test]
    fn incremental_matches_full() {
        // Decrement the TTL (byte 8) and patch: as good as recomputing.
        let mut h = IP_HDR;
        let old = be16(&h[8..]);
        h[8] -= 1;
        let c = update16(be16(&h[10..]), old, be16(&h[8..]));
        h[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&h, 0), 0);

        // Rewrite the source address both ways.
        let mut a = IP_HDR;
        let mut b = IP_HDR;
        let new = [10, 9, 8, 7];
        let c32 = update32(be16(&a[10..]), crate::bytes::be32(&a[12..]), u32::from_be_bytes(new));
        let cb = update_bytes(be16(&b[10..]), &IP_HDR[12..16], &new);
        a[12..16].copy_from_slice(&new);
        b[12..16].copy_from_slice(&new);
        a[10..12].copy_from_slice(&c32.to_be_bytes());
        b[10..12].copy_from_slice(&cb.to_be_bytes());
        assert_eq!(checksum(&a, 0), 0);
        assert_eq!(a, b);
    }

    #[test]
    fn udp_checksum_zero_is_sent_as_ffff() {
        let (src, dst) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        let mut seg = [0u8, 1, 0, 2, 0, 10, 0, 0, 0, 0];
        // With a zero payload word the sum folds to f; the payload word
        // ffff - f makes it fold to ffff, whose complement is 0.
        let f = fold(sum(&seg, pseudo_sum4(src, dst, PROTO_UDP, 10)));
        assert_ne!(f, 0xffff);
        seg[8..10].copy_from_slice(&(0xffff - f).to_be_bytes());
        let c = udp4_checksum(src, dst, &seg);
        assert_eq!(c, 0xffff);
        seg[6..8].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&seg, pseudo_sum4(src, dst, PROTO_UDP, 10)), 0);
        // TCP has no such rule: the same bytes give 0.
        assert_eq!(l4_checksum(pseudo_sum4(src, dst, PROTO_UDP, 10), &seg, 6, false), 0);
    }

    #[test]
    fn l4_checksums_verify() {
        let s6 = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let d6 = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let mut tcp = [0u8; 24];
        tcp[12] = 5 << 4;
        tcp[20..].copy_from_slice(b"data");
        let c = tcp6_checksum(s6, d6, &tcp);
        tcp[16..18].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&tcp, pseudo_sum6(s6, d6, PROTO_TCP, 24)), 0);

        let mut icmp = [8u8, 0, 0xaa, 0xbb, 0, 1, 0, 2, b'x'];
        let c = icmpv4_checksum(&icmp);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&icmp, 0), 0);

        let mut icmp6 = [128u8, 0, 0, 0, 0, 1, 0, 2];
        let c = icmpv6_checksum(s6, d6, &icmp6);
        icmp6[2..4].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&icmp6, pseudo_sum6(s6, d6, PROTO_ICMPV6, 8)), 0);

        let mut tcp4 = [0u8; 20];
        tcp4[12] = 5 << 4;
        let c = tcp4_checksum([1, 2, 3, 4], [5, 6, 7, 8], &tcp4);
        tcp4[16..18].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&tcp4, pseudo_sum4([1, 2, 3, 4], [5, 6, 7, 8], PROTO_TCP, 20)), 0);

        let mut udp6 = [0u8, 7, 0, 9, 0, 9, 0, 0, 1];
        let c = udp6_checksum(s6, d6, &udp6);
        udp6[6..8].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&udp6, pseudo_sum6(s6, d6, PROTO_UDP, 9)), 0);
    }

    #[test]
    fn short_segment_is_summed_whole() {
        assert_eq!(icmpv4_checksum(&[1]), checksum(&[1], 0));
    }
}
