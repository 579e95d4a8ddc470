//! `Headers::decode`: one pass over a frame that finds every header the views
//! know. It keeps offsets, not borrows, so a plugin can decode once and then
//! take a read or a write view of any header from the same packet.

use crate::bytes::be16;
use crate::headers::*;

/// How many stacked VLAN tags `decode` walks through.
pub const MAX_VLANS: usize = 2;

// IPv6 extension headers decode skips, and a bound on the walk: a chain of
// tiny extension headers must not cost a plugin more than a few steps.
const IPV6_HOP_BY_HOP: u8 = 0;
const IPV6_ROUTING: u8 = 43;
const IPV6_FRAGMENT: u8 = 44;
const IPV6_DEST_OPTS: u8 = 60;
const MAX_IPV6_EXT: usize = 8;

/// The network header decode found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L3 {
    None,
    /// Ethernet/IPv4 ARP.
    Arp,
    /// IPv4 with a complete header.
    Ipv4,
    /// IPv6 with a complete fixed header.
    Ipv6,
}

/// The transport header decode found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4 {
    None,
    /// UDP with its 8 bytes present.
    Udp,
    /// TCP with its whole header present.
    Tcp,
    /// ICMPv4 over IPv4 or ICMPv6 over IPv6, 8 bytes present.
    Icmp,
}

/// The result of `decode`: what headers a frame has and where. The default
/// value is an empty result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Headers {
    /// An Ethernet header is present (else nothing else is set).
    pub eth: bool,
    /// Offsets of the VLAN tags' TCI, `num_vlans` of them.
    pub vlan_off: [usize; MAX_VLANS],
    pub num_vlans: usize,
    /// The innermost ethertype, after the VLAN tags.
    pub ethertype: u16,
    /// Offset of the network header (or ARP): 14 + 4 * `num_vlans`.
    pub l3_off: usize,
    pub l3: L3,
    /// The transport protocol: IPv4's protocol, or IPv6's last next header
    /// after the extension headers decode skips (hop-by-hop, routing,
    /// fragment, destination options). 0 without an IP header.
    pub proto: u8,
    /// Offset of the transport header; 0 when there is none.
    pub l4_off: usize,
    /// Not the first fragment: no transport header is present.
    pub fragment: bool,
    pub l4: L4,
}

impl Default for Headers {
    fn default() -> Self {
        Headers {
            eth: false,
            vlan_off: [0; MAX_VLANS],
            num_vlans: 0,
            ethertype: 0,
            l3_off: 0,
            l3: L3::None,
            proto: 0,
            l4_off: 0,
            fragment: false,
            l4: L4::None,
        }
    }
}

fn is_ipv6_ext(nh: u8) -> bool {
    nh == IPV6_HOP_BY_HOP || nh == IPV6_ROUTING || nh == IPV6_FRAGMENT || nh == IPV6_DEST_OPTS
}

impl Headers {
    /// Parses a frame's headers. It stops quietly at the first header it does
    /// not know or that is cut short; callers check what they need.
    pub fn decode(pkt: &[u8]) -> Headers {
        let mut h = Headers::default();
        let eth = match Ethernet::new(pkt) {
            Some(e) => e,
            None => return h,
        };
        h.eth = true;
        let mut off = ETHERNET_LEN;
        let mut et = eth.ethertype();
        while (et == ETHERTYPE_VLAN || et == ETHERTYPE_QINQ) && h.num_vlans < MAX_VLANS && pkt.len() - off >= VLAN_LEN {
            h.vlan_off[h.num_vlans] = off;
            h.num_vlans += 1;
            et = be16(&pkt[off + 2..]);
            off += VLAN_LEN;
        }
        h.ethertype = et;
        h.l3_off = off;
        let l4 = match et {
            ETHERTYPE_ARP => {
                if Arp::new(&pkt[off..]).is_some() {
                    h.l3 = L3::Arp;
                }
                return h;
            }
            ETHERTYPE_IPV4 => h.decode_ipv4(pkt),
            ETHERTYPE_IPV6 => h.decode_ipv6(pkt),
            _ => 0,
        };
        if l4 > 0 && l4 <= pkt.len() {
            h.decode_l4(pkt, l4);
        }
        h
    }

    fn decode_ipv4(&mut self, pkt: &[u8]) -> usize {
        let ip = match Ipv4::new(&pkt[self.l3_off..]) {
            Some(ip) => ip,
            None => return 0,
        };
        self.l3 = L3::Ipv4;
        self.proto = ip.protocol();
        if ip.frag_offset() != 0 {
            self.fragment = true;
            return 0;
        }
        self.l3_off + ip.header_len()
    }

    fn decode_ipv6(&mut self, pkt: &[u8]) -> usize {
        let ip = match Ipv6::new(&pkt[self.l3_off..]) {
            Some(ip) => ip,
            None => return 0,
        };
        self.l3 = L3::Ipv6;
        let mut off = self.l3_off + IPV6_LEN;
        let mut nh = ip.next_header();
        for _ in 0..MAX_IPV6_EXT {
            if !is_ipv6_ext(nh) {
                break;
            }
            if pkt.len() - off < 8 {
                self.proto = nh;
                return 0;
            }
            let ext = &pkt[off..];
            if nh == IPV6_FRAGMENT {
                if be16(&ext[2..]) & 0xfff8 != 0 {
                    self.proto = ext[0];
                    self.fragment = true;
                    return 0;
                }
                nh = ext[0];
                off += 8;
                continue;
            }
            nh = ext[0];
            off += 8 + ext[1] as usize * 8;
            if off > pkt.len() {
                self.proto = nh;
                return 0;
            }
        }
        self.proto = nh;
        off
    }

    fn decode_l4(&mut self, pkt: &[u8], off: usize) {
        let seg = &pkt[off..];
        self.l4_off = off;
        let found = match self.proto {
            PROTO_UDP => Udp::new(seg).is_some().then_some(L4::Udp),
            PROTO_TCP => Tcp::new(seg).is_some().then_some(L4::Tcp),
            PROTO_ICMPV4 if self.l3 == L3::Ipv4 => Icmp::new(seg).is_some().then_some(L4::Icmp),
            PROTO_ICMPV6 if self.l3 == L3::Ipv6 => Icmp::new(seg).is_some().then_some(L4::Icmp),
            _ => None,
        };
        self.l4 = found.unwrap_or(L4::None);
    }

    /// The Ethernet header of pkt, the packet decode parsed.
    pub fn ethernet<'a>(&self, pkt: &'a [u8]) -> Option<Ethernet<&'a [u8]>> {
        if !self.eth {
            return None;
        }
        Ethernet::new(pkt)
    }
    pub fn ethernet_mut<'a>(&self, pkt: &'a mut [u8]) -> Option<Ethernet<&'a mut [u8]>> {
        if !self.eth {
            return None;
        }
        Ethernet::new(pkt)
    }

    /// VLAN tag i (0: the outer one).
    pub fn vlan<'a>(&self, pkt: &'a [u8], i: usize) -> Option<Vlan<&'a [u8]>> {
        if i >= self.num_vlans {
            return None;
        }
        Vlan::new(pkt.get(self.vlan_off[i]..)?)
    }
    pub fn vlan_mut<'a>(&self, pkt: &'a mut [u8], i: usize) -> Option<Vlan<&'a mut [u8]>> {
        if i >= self.num_vlans {
            return None;
        }
        Vlan::new(pkt.get_mut(self.vlan_off[i]..)?)
    }

    fn l3_of(&self, kind: L3) -> Option<usize> {
        (self.l3 == kind).then_some(self.l3_off)
    }
    fn l4_of(&self, kind: L4) -> Option<usize> {
        (self.l4 == kind).then_some(self.l4_off)
    }

    pub fn arp<'a>(&self, pkt: &'a [u8]) -> Option<Arp<&'a [u8]>> {
        Arp::new(pkt.get(self.l3_of(L3::Arp)?..)?)
    }
    pub fn arp_mut<'a>(&self, pkt: &'a mut [u8]) -> Option<Arp<&'a mut [u8]>> {
        Arp::new(pkt.get_mut(self.l3_of(L3::Arp)?..)?)
    }
    pub fn ipv4<'a>(&self, pkt: &'a [u8]) -> Option<Ipv4<&'a [u8]>> {
        Ipv4::new(pkt.get(self.l3_of(L3::Ipv4)?..)?)
    }
    pub fn ipv4_mut<'a>(&self, pkt: &'a mut [u8]) -> Option<Ipv4<&'a mut [u8]>> {
        Ipv4::new(pkt.get_mut(self.l3_of(L3::Ipv4)?..)?)
    }
    pub fn ipv6<'a>(&self, pkt: &'a [u8]) -> Option<Ipv6<&'a [u8]>> {
        Ipv6::new(pkt.get(self.l3_of(L3::Ipv6)?..)?)
    }
    pub fn ipv6_mut<'a>(&self, pkt: &'a mut [u8]) -> Option<Ipv6<&'a mut [u8]>> {
        Ipv6::new(pkt.get_mut(self.l3_of(L3::Ipv6)?..)?)
    }
    pub fn udp<'a>(&self, pkt: &'a [u8]) -> Option<Udp<&'a [u8]>> {
        Udp::new(pkt.get(self.l4_of(L4::Udp)?..)?)
    }
    pub fn udp_mut<'a>(&self, pkt: &'a mut [u8]) -> Option<Udp<&'a mut [u8]>> {
        Udp::new(pkt.get_mut(self.l4_of(L4::Udp)?..)?)
    }
    pub fn tcp<'a>(&self, pkt: &'a [u8]) -> Option<Tcp<&'a [u8]>> {
        Tcp::new(pkt.get(self.l4_of(L4::Tcp)?..)?)
    }
    pub fn tcp_mut<'a>(&self, pkt: &'a mut [u8]) -> Option<Tcp<&'a mut [u8]>> {
        Tcp::new(pkt.get_mut(self.l4_of(L4::Tcp)?..)?)
    }
    pub fn icmp<'a>(&self, pkt: &'a [u8]) -> Option<Icmp<&'a [u8]>> {
        Icmp::new(pkt.get(self.l4_of(L4::Icmp)?..)?)
    }
    pub fn icmp_mut<'a>(&self, pkt: &'a mut [u8]) -> Option<Icmp<&'a mut [u8]>> {
        Icmp::new(pkt.get_mut(self.l4_of(L4::Icmp)?..)?)
    }

    /// The source and destination ports of a UDP or TCP packet.
    pub fn ports(&self, pkt: &[u8]) -> Option<(u16, u16)> {
        match self.l4 {
            L4::Udp | L4::Tcp => {
                let p = pkt.get(self.l4_off..self.l4_off + 4)?;
                Some((be16(p), be16(&p[2..])))
            }
            _ => None,
        }
    }

    /// The transport segment of pkt: from the transport header to the end the
    /// IP header announces (Ethernet padding is not part of it), cut at the
    /// end of pkt. None without a transport header or when the IP length ends
    /// before it.
    pub fn l4<'a>(&self, pkt: &'a [u8]) -> Option<&'a [u8]> {
        if self.l4_off == 0 || self.l4_off > pkt.len() {
            return None;
        }
        let mut end = pkt.len();
        if let Some(ip) = self.ipv4(pkt) {
            end = end.min(self.l3_off + ip.total_len() as usize);
        } else if let Some(ip) = self.ipv6(pkt) {
            if ip.payload_len() != 0 {
                end = end.min(self.l3_off + IPV6_LEN + ip.payload_len() as usize);
            }
        }
        if end < self.l4_off {
            return None;
        }
        Some(&pkt[self.l4_off..end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::frames;

    #[test]
    fn udp4_with_vlans() {
        let f = frames::udp4_vlan([10, 0, 0, 1], [10, 0, 0, 2], 1234, 53, &[100, 200]);
        let h = Headers::decode(&f);
        assert!(h.eth);
        assert_eq!(h.num_vlans, 2);
        assert_eq!(h.vlan(&f, 1).unwrap().vid(), 200);
        assert_eq!(h.ethertype, ETHERTYPE_IPV4);
        assert_eq!(h.l3_off, 22);
        assert_eq!(h.ipv4(&f).unwrap().src(), [10, 0, 0, 1]);
        assert!(h.ipv6(&f).is_none() && h.tcp(&f).is_none());
        assert_eq!(h.l4, L4::Udp);
        assert_eq!(h.ports(&f), Some((1234, 53)));
        assert_eq!(h.l4(&f).unwrap().len(), 8 + 7);
    }

    #[test]
    fn tcp6_through_extension_headers() {
        // Hop-by-hop (8 bytes), then a first fragment, then TCP.
        let mut f = frames::tcp6([0xfd; 16], [0xfe; 16], 40000, 443);
        let tcp = f.split_off(54);
        f[20] = IPV6_HOP_BY_HOP;
        f.extend_from_slice(&[IPV6_FRAGMENT, 0, 0, 0, 0, 0, 0, 0]);
        f.extend_from_slice(&[PROTO_TCP, 0, 0, 1, 0, 0, 0, 7]); // offset 0, M=1
        f.extend_from_slice(&tcp);
        let h = Headers::decode(&f);
        assert_eq!((h.l3, h.proto, h.fragment), (L3::Ipv6, PROTO_TCP, false));
        assert_eq!(h.l4_off, 54 + 16);
        assert_eq!(h.ports(&f), Some((40000, 443)));

        // A later fragment has no transport header.
        let off = 54 + 8 + 2;
        f[off] = 0x01;
        let h = Headers::decode(&f);
        assert_eq!((h.proto, h.fragment, h.l4), (PROTO_TCP, true, L4::None));
        assert_eq!(h.ports(&f), None);
    }

    #[test]
    fn ipv4_later_fragment_has_no_ports() {
        let mut f = frames::udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2);
        f[14 + 7] = 1; // fragment offset 1
        let h = Headers::decode(&f);
        assert!(h.fragment);
        assert_eq!((h.l3, h.l4, h.ports(&f)), (L3::Ipv4, L4::None, None));
    }

    #[test]
    fn cut_and_runt_frames() {
        assert_eq!(Headers::decode(&[1, 2, 3]), Headers::default());
        let f = frames::udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2);
        for n in 0..f.len() {
            // Never panics, and claims only headers that are wholly present.
            let h = Headers::decode(&f[..n]);
            assert_eq!(h.eth, n >= 14);
            assert_eq!(h.l3 == L3::Ipv4, n >= 34);
            assert_eq!(h.l4 == L4::Udp, n >= 42);
        }
        let arp = frames::arp_request([10, 0, 0, 9], [10, 0, 0, 1]);
        let h = Headers::decode(&arp);
        assert_eq!(h.l3, L3::Arp);
        assert_eq!(h.arp(&arp).unwrap().target_ip(), [10, 0, 0, 1]);
        assert_eq!(Headers::decode(&arp[..40]).l3, L3::None);
    }

    #[test]
    fn views_rewrite_the_packet() {
        let mut f = frames::udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2);
        let h = Headers::decode(&f);
        h.udp_mut(&mut f).unwrap().set_dst_port(99);
        h.ipv4_mut(&mut f).unwrap().swap_addrs();
        let h2 = Headers::decode(&f);
        assert_eq!(h2.ports(&f), Some((1, 99)));
        assert_eq!(h2.ipv4(&f).unwrap().src(), [2, 2, 2, 2]);
    }

    #[test]
    fn hostile_extension_chain_is_bounded() {
        // Nine destination-options headers: decode stops after eight.
        let mut f = frames::tcp6([1; 16], [2; 16], 1, 2);
        f.truncate(54);
        f[20] = IPV6_DEST_OPTS;
        for _ in 0..9 {
            f.extend_from_slice(&[IPV6_DEST_OPTS, 0, 0, 0, 0, 0, 0, 0]);
        }
        let h = Headers::decode(&f);
        assert_eq!((h.proto, h.l4), (IPV6_DEST_OPTS, L4::None));
        // An extension header claiming more than the packet holds.
        f.truncate(62);
        f[54 + 1] = 200;
        let h = Headers::decode(&f);
        assert_eq!((h.l3, h.l4, h.l4_off), (L3::Ipv6, L4::None, 0));
    }

    // A fuzz-style test without a fuzzing crate: mutated and cut frames from
    // a fixed xorshift sequence. Decode never panics, and every header it
    // claims can be viewed in the frame it came from.
    #[test]
    fn mutated_frames_never_overreach() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut ext6 = frames::tcp6([1; 16], [2; 16], 1, 2);
        ext6[20] = IPV6_HOP_BY_HOP;
        ext6.splice(54..54, [PROTO_TCP, 0, 0, 0, 0, 0, 0, 0]);
        let seeds = [
            frames::udp4([1, 2, 3, 4], [5, 6, 7, 8], 9, 10),
            frames::udp4_vlan([1, 2, 3, 4], [5, 6, 7, 8], 9, 10, &[1, 2]),
            ext6,
            frames::arp_request([1, 1, 1, 1], [2, 2, 2, 2]),
        ];
        for i in 0..50_000 {
            let mut f = seeds[i % seeds.len()].clone();
            for _ in 0..next() % 4 {
                let j = next() as usize % f.len();
                f[j] = next() as u8;
            }
            if next() % 3 == 0 {
                f.truncate(next() as usize % (f.len() + 1));
            }
            let h = Headers::decode(&f);
            assert_eq!(h.eth, h.ethernet(&f).is_some());
            assert!(h.l3_off <= f.len() && h.l4_off <= f.len(), "{:?} {:02x?}", h, f);
            for v in 0..h.num_vlans {
                assert!(h.vlan(&f, v).is_some());
            }
            match h.l3 {
                L3::Arp => assert!(h.arp(&f).is_some()),
                L3::Ipv4 => assert!(h.ipv4(&f).is_some()),
                L3::Ipv6 => assert!(h.ipv6(&f).is_some()),
                L3::None => assert!(h.l4 == L4::None && h.proto == 0),
            }
            match h.l4 {
                L4::Udp => assert!(h.udp(&f).is_some() && h.ports(&f).is_some()),
                L4::Tcp => assert!(h.tcp(&f).is_some() && h.ports(&f).is_some()),
                L4::Icmp => assert!(h.icmp(&f).is_some() && h.ports(&f).is_none()),
                L4::None => assert!(h.ports(&f).is_none()),
            }
            if h.l4 != L4::None {
                assert!(!h.fragment && h.l4_off >= h.l3_off);
            }
            if let Some(seg) = h.l4(&f) {
                assert!(seg.len() <= f.len() - h.l4_off);
            }
        }
    }
}
