//! Header views. Each view wraps a byte buffer (`&[u8]` to read, `&mut [u8]`
//! to rewrite in place) whose length its constructor checked once, so the
//! accessors cannot go out of bounds. The same views and names as the Go SDK's
//! headers.go, in Rust spelling.

use crate::bytes::{be16, be32, put_be16};
use crate::checksum::{checksum, update16};
use core::fmt;

/// Ethertypes the views know.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// IEEE 802.1Q tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// IEEE 802.1ad service tag.
pub const ETHERTYPE_QINQ: u16 = 0x88a8;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;

/// IP protocol numbers the views know.
pub const PROTO_ICMPV4: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;

/// Header lengths.
pub const ETHERNET_LEN: usize = 14;
/// One 802.1Q tag as it follows a TPID: the TCI and the inner ethertype.
pub const VLAN_LEN: usize = 4;
pub const ARP_LEN: usize = 28;
pub const IPV4_MIN_LEN: usize = 20;
pub const IPV6_LEN: usize = 40;
pub const UDP_LEN: usize = 8;
pub const TCP_MIN_LEN: usize = 20;
/// ICMPv4 and ICMPv6 echo: type, code, checksum, identifier, sequence.
pub const ICMP_LEN: usize = 8;

/// ARP operations.
pub const ARP_REQUEST: u16 = 1;
pub const ARP_REPLY: u16 = 2;

/// TCP flags, in `Tcp::flags`.
pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_PSH: u8 = 0x08;
pub const TCP_ACK: u8 = 0x10;
pub const TCP_URG: u8 = 0x20;
pub const TCP_ECE: u8 = 0x40;
pub const TCP_CWR: u8 = 0x80;

/// ICMP types plugins commonly answer.
pub const ICMPV4_ECHO_REPLY: u8 = 0;
pub const ICMPV4_ECHO_REQUEST: u8 = 8;
pub const ICMPV6_ECHO_REQUEST: u8 = 128;
pub const ICMPV6_ECHO_REPLY: u8 = 129;
pub const ICMPV6_ROUTER_SOLICITATION: u8 = 133;
pub const ICMPV6_NEIGHBOR_SOLICITATION: u8 = 135;
pub const ICMPV6_NEIGHBOR_ADVERT: u8 = 136;

/// An Ethernet address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    pub const BROADCAST: Mac = Mac([0xff; 6]);

    /// Parses six hex pairs separated by ':' or '-' throughout
    /// ("02:00:5e:10:00:01"). The error says what is wrong.
    pub fn parse(s: &[u8]) -> Result<Mac, &'static str> {
        if s.len() != 17 {
            return Err("mac: want six hex pairs like 02:00:00:00:00:01");
        }
        let sep = s[2];
        if sep != b':' && sep != b'-' {
            return Err("mac: pairs must be separated by ':' or '-'");
        }
        let mut m = [0u8; 6];
        for (i, byte) in m.iter_mut().enumerate() {
            if i > 0 && s[3 * i - 1] != sep {
                return Err("mac: pairs must be separated by the same ':' or '-' throughout");
            }
            match (unhex(s[3 * i]), unhex(s[3 * i + 1])) {
                (Some(hi), Some(lo)) => *byte = hi << 4 | lo,
                _ => return Err("mac: not a hex byte"),
            }
        }
        Ok(Mac(m))
    }

    fn from_slice(b: &[u8]) -> Mac {
        let mut m = [0u8; 6];
        m.copy_from_slice(&b[..6]);
        Mac(m)
    }

    pub fn is_broadcast(&self) -> bool {
        *self == Mac::BROADCAST
    }

    /// The group bit: multicast and broadcast addresses.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 != 0
    }
}

fn unhex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
    }
}

fn addr4(b: &[u8]) -> [u8; 4] {
    [b[0], b[1], b[2], b[3]]
}

fn addr16(b: &[u8]) -> [u8; 16] {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[..16]);
    a
}

// view declares a header view: a buffer whose first $len(buf) bytes the
// constructor checked, with read access for any buffer and write access for
// mutable ones.
macro_rules! view {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name<T>(T);

        impl<T: AsRef<[u8]>> $name<T> {
            /// The header's bytes (options included).
            pub fn header(&self) -> &[u8] {
                let b = self.0.as_ref();
                &b[..Self::len_of(b)]
            }

            /// The bytes from the header's start to the buffer's end.
            pub fn buffer(&self) -> &[u8] {
                self.0.as_ref()
            }

            /// The buffer the view was made from.
            pub fn into_inner(self) -> T {
                self.0
            }

            fn b(&self) -> &[u8] {
                self.0.as_ref()
            }
        }

        impl<T: AsRef<[u8]> + AsMut<[u8]>> $name<T> {
            fn m(&mut self) -> &mut [u8] {
                self.0.as_mut()
            }
        }
    };
}

view!(
    /// An Ethernet II header: the first 14 bytes of a frame.
    Ethernet
);

impl<T: AsRef<[u8]>> Ethernet<T> {
    /// The view, or None when the buffer is shorter than a header.
    pub fn new(buf: T) -> Option<Self> {
        if buf.as_ref().len() < ETHERNET_LEN {
            return None;
        }
        Some(Ethernet(buf))
    }
    fn len_of(_: &[u8]) -> usize {
        ETHERNET_LEN
    }
    pub fn dst(&self) -> Mac {
        Mac::from_slice(&self.b()[0..6])
    }
    pub fn src(&self) -> Mac {
        Mac::from_slice(&self.b()[6..12])
    }
    pub fn ethertype(&self) -> u16 {
        be16(&self.b()[12..])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ethernet<T> {
    pub fn set_dst(&mut self, m: Mac) {
        self.m()[0..6].copy_from_slice(&m.0);
    }
    pub fn set_src(&mut self, m: Mac) {
        self.m()[6..12].copy_from_slice(&m.0);
    }
    pub fn set_ethertype(&mut self, t: u16) {
        put_be16(&mut self.m()[12..], t);
    }
    /// Swaps the source and destination addresses (a reflector's rewrite).
    pub fn swap_addrs(&mut self) {
        let (dst, src) = self.m()[..12].split_at_mut(6);
        dst.swap_with_slice(src);
    }
}

view!(
    /// One 802.1Q tag as it follows a TPID: TCI (PCP, DEI, VID) and the
    /// ethertype of what comes next.
    Vlan
);

impl<T: AsRef<[u8]>> Vlan<T> {
    pub fn new(buf: T) -> Option<Self> {
        if buf.as_ref().len() < VLAN_LEN {
            return None;
        }
        Some(Vlan(buf))
    }
    fn len_of(_: &[u8]) -> usize {
        VLAN_LEN
    }
    pub fn tci(&self) -> u16 {
        be16(self.b())
    }
    pub fn vid(&self) -> u16 {
        self.tci() & 0x0fff
    }
    pub fn pcp(&self) -> u8 {
        self.b()[0] >> 5
    }
    pub fn ethertype(&self) -> u16 {
        be16(&self.b()[2..])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Vlan<T> {
    pub fn set_tci(&mut self, tci: u16) {
        put_be16(self.m(), tci);
    }
    pub fn set_vid(&mut self, vid: u16) {
        let tci = self.tci() & 0xf000 | vid & 0x0fff;
        self.set_tci(tci);
    }
    pub fn set_ethertype(&mut self, t: u16) {
        put_be16(&mut self.m()[2..], t);
    }
}

view!(
    /// An ARP packet for IPv4 over Ethernet (28 bytes).
    Arp
);

impl<T: AsRef<[u8]>> Arp<T> {
    /// The view, or None when the buffer is short or is not Ethernet/IPv4 ARP
    /// (hardware type 1, protocol 0x0800, address lengths 6 and 4).
    pub fn new(buf: T) -> Option<Self> {
        let b = buf.as_ref();
        if b.len() < ARP_LEN || be16(b) != 1 || be16(&b[2..]) != ETHERTYPE_IPV4 || b[4] != 6 || b[5] != 4 {
            return None;
        }
        Some(Arp(buf))
    }
    fn len_of(_: &[u8]) -> usize {
        ARP_LEN
    }
    pub fn op(&self) -> u16 {
        be16(&self.b()[6..])
    }
    pub fn sender_mac(&self) -> Mac {
        Mac::from_slice(&self.b()[8..14])
    }
    pub fn sender_ip(&self) -> [u8; 4] {
        addr4(&self.b()[14..18])
    }
    pub fn target_mac(&self) -> Mac {
        Mac::from_slice(&self.b()[18..24])
    }
    pub fn target_ip(&self) -> [u8; 4] {
        addr4(&self.b()[24..28])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Arp<T> {
    pub fn set_op(&mut self, op: u16) {
        put_be16(&mut self.m()[6..], op);
    }
    pub fn set_sender_mac(&mut self, m: Mac) {
        self.m()[8..14].copy_from_slice(&m.0);
    }
    pub fn set_sender_ip(&mut self, ip: [u8; 4]) {
        self.m()[14..18].copy_from_slice(&ip);
    }
    pub fn set_target_mac(&mut self, m: Mac) {
        self.m()[18..24].copy_from_slice(&m.0);
    }
    pub fn set_target_ip(&mut self, ip: [u8; 4]) {
        self.m()[24..28].copy_from_slice(&ip);
    }
}

view!(
    /// An IPv4 header including its options (IHL*4 bytes).
    Ipv4
);

impl<T: AsRef<[u8]>> Ipv4<T> {
    /// The view, or None when the buffer is shorter than the header its IHL
    /// announces, or the version or IHL is wrong.
    pub fn new(buf: T) -> Option<Self> {
        let b = buf.as_ref();
        if b.len() < IPV4_MIN_LEN || b[0] >> 4 != 4 {
            return None;
        }
        let hl = Self::len_of(b);
        if hl < IPV4_MIN_LEN || b.len() < hl {
            return None;
        }
        Some(Ipv4(buf))
    }
    fn len_of(b: &[u8]) -> usize {
        (b[0] & 0x0f) as usize * 4
    }
    pub fn header_len(&self) -> usize {
        Self::len_of(self.b())
    }
    pub fn tos(&self) -> u8 {
        self.b()[1]
    }
    pub fn total_len(&self) -> u16 {
        be16(&self.b()[2..])
    }
    pub fn id(&self) -> u16 {
        be16(&self.b()[4..])
    }
    /// The fragment offset, in 8-byte units.
    pub fn frag_offset(&self) -> u16 {
        be16(&self.b()[6..]) & 0x1fff
    }
    pub fn more_fragments(&self) -> bool {
        self.b()[6] & 0x20 != 0
    }
    pub fn is_fragment(&self) -> bool {
        self.frag_offset() != 0 || self.more_fragments()
    }
    pub fn ttl(&self) -> u8 {
        self.b()[8]
    }
    pub fn protocol(&self) -> u8 {
        self.b()[9]
    }
    pub fn checksum(&self) -> u16 {
        be16(&self.b()[10..])
    }
    pub fn src(&self) -> [u8; 4] {
        addr4(&self.b()[12..])
    }
    pub fn dst(&self) -> [u8; 4] {
        addr4(&self.b()[16..])
    }
    /// Whether the header checksum verifies.
    pub fn checksum_valid(&self) -> bool {
        checksum(self.header(), 0) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4<T> {
    pub fn set_tos(&mut self, tos: u8) {
        self.m()[1] = tos;
    }
    pub fn set_total_len(&mut self, n: u16) {
        put_be16(&mut self.m()[2..], n);
    }
    pub fn set_id(&mut self, id: u16) {
        put_be16(&mut self.m()[4..], id);
    }
    pub fn set_ttl(&mut self, ttl: u8) {
        self.m()[8] = ttl;
    }
    pub fn set_protocol(&mut self, p: u8) {
        self.m()[9] = p;
    }
    pub fn set_checksum(&mut self, c: u16) {
        put_be16(&mut self.m()[10..], c);
    }
    pub fn set_src(&mut self, a: [u8; 4]) {
        self.m()[12..16].copy_from_slice(&a);
    }
    pub fn set_dst(&mut self, a: [u8; 4]) {
        self.m()[16..20].copy_from_slice(&a);
    }
    pub fn swap_addrs(&mut self) {
        let (src, dst) = self.m()[12..20].split_at_mut(4);
        src.swap_with_slice(dst);
    }
    /// Recomputes the header checksum from scratch.
    pub fn update_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum(self.header(), 0);
        self.set_checksum(c);
    }
    /// Decrements the TTL and patches the checksum (RFC 1624). False, and
    /// nothing changes, when the TTL is already 0.
    pub fn dec_ttl(&mut self) -> bool {
        if self.ttl() == 0 {
            return false;
        }
        let old = be16(&self.b()[8..]);
        self.m()[8] -= 1;
        let c = update16(self.checksum(), old, be16(&self.b()[8..]));
        self.set_checksum(c);
        true
    }
}

view!(
    /// The fixed 40-byte IPv6 header.
    Ipv6
);

impl<T: AsRef<[u8]>> Ipv6<T> {
    /// The view, or None when the buffer is short or the version is not 6.
    pub fn new(buf: T) -> Option<Self> {
        let b = buf.as_ref();
        if b.len() < IPV6_LEN || b[0] >> 4 != 6 {
            return None;
        }
        Some(Ipv6(buf))
    }
    fn len_of(_: &[u8]) -> usize {
        IPV6_LEN
    }
    pub fn traffic_class(&self) -> u8 {
        self.b()[0] << 4 | self.b()[1] >> 4
    }
    pub fn flow_label(&self) -> u32 {
        be32(self.b()) & 0x000f_ffff
    }
    pub fn payload_len(&self) -> u16 {
        be16(&self.b()[4..])
    }
    pub fn next_header(&self) -> u8 {
        self.b()[6]
    }
    pub fn hop_limit(&self) -> u8 {
        self.b()[7]
    }
    pub fn src(&self) -> [u8; 16] {
        addr16(&self.b()[8..])
    }
    pub fn dst(&self) -> [u8; 16] {
        addr16(&self.b()[24..])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6<T> {
    pub fn set_payload_len(&mut self, n: u16) {
        put_be16(&mut self.m()[4..], n);
    }
    pub fn set_next_header(&mut self, p: u8) {
        self.m()[6] = p;
    }
    pub fn set_hop_limit(&mut self, h: u8) {
        self.m()[7] = h;
    }
    pub fn set_src(&mut self, a: [u8; 16]) {
        self.m()[8..24].copy_from_slice(&a);
    }
    pub fn set_dst(&mut self, a: [u8; 16]) {
        self.m()[24..40].copy_from_slice(&a);
    }
    pub fn swap_addrs(&mut self) {
        let (src, dst) = self.m()[8..40].split_at_mut(16);
        src.swap_with_slice(dst);
    }
}

view!(
    /// A UDP header.
    Udp
);

impl<T: AsRef<[u8]>> Udp<T> {
    pub fn new(buf: T) -> Option<Self> {
        if buf.as_ref().len() < UDP_LEN {
            return None;
        }
        Some(Udp(buf))
    }
    fn len_of(_: &[u8]) -> usize {
        UDP_LEN
    }
    pub fn src_port(&self) -> u16 {
        be16(self.b())
    }
    pub fn dst_port(&self) -> u16 {
        be16(&self.b()[2..])
    }
    pub fn length(&self) -> u16 {
        be16(&self.b()[4..])
    }
    pub fn checksum(&self) -> u16 {
        be16(&self.b()[6..])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Udp<T> {
    pub fn set_src_port(&mut self, p: u16) {
        put_be16(self.m(), p);
    }
    pub fn set_dst_port(&mut self, p: u16) {
        put_be16(&mut self.m()[2..], p);
    }
    pub fn set_length(&mut self, n: u16) {
        put_be16(&mut self.m()[4..], n);
    }
    pub fn set_checksum(&mut self, c: u16) {
        put_be16(&mut self.m()[6..], c);
    }
}

view!(
    /// A TCP header including its options (data offset*4 bytes).
    Tcp
);

impl<T: AsRef<[u8]>> Tcp<T> {
    /// The view, or None when the buffer is shorter than the header its data
    /// offset announces or the data offset is below 5.
    pub fn new(buf: T) -> Option<Self> {
        let b = buf.as_ref();
        if b.len() < TCP_MIN_LEN {
            return None;
        }
        let hl = Self::len_of(b);
        if hl < TCP_MIN_LEN || b.len() < hl {
            return None;
        }
        Some(Tcp(buf))
    }
    fn len_of(b: &[u8]) -> usize {
        (b[12] >> 4) as usize * 4
    }
    pub fn header_len(&self) -> usize {
        Self::len_of(self.b())
    }
    pub fn src_port(&self) -> u16 {
        be16(self.b())
    }
    pub fn dst_port(&self) -> u16 {
        be16(&self.b()[2..])
    }
    pub fn seq(&self) -> u32 {
        be32(&self.b()[4..])
    }
    pub fn ack(&self) -> u32 {
        be32(&self.b()[8..])
    }
    /// The flags (`TCP_*`).
    pub fn flags(&self) -> u8 {
        self.b()[13]
    }
    pub fn window(&self) -> u16 {
        be16(&self.b()[14..])
    }
    pub fn checksum(&self) -> u16 {
        be16(&self.b()[16..])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Tcp<T> {
    pub fn set_src_port(&mut self, p: u16) {
        put_be16(self.m(), p);
    }
    pub fn set_dst_port(&mut self, p: u16) {
        put_be16(&mut self.m()[2..], p);
    }
    pub fn set_checksum(&mut self, c: u16) {
        put_be16(&mut self.m()[16..], c);
    }
}

view!(
    /// The first 8 bytes of an ICMPv4 or ICMPv6 message: type, code, checksum
    /// and, for echo messages, identifier and sequence number.
    Icmp
);

impl<T: AsRef<[u8]>> Icmp<T> {
    pub fn new(buf: T) -> Option<Self> {
        if buf.as_ref().len() < ICMP_LEN {
            return None;
        }
        Some(Icmp(buf))
    }
    fn len_of(_: &[u8]) -> usize {
        ICMP_LEN
    }
    pub fn icmp_type(&self) -> u8 {
        self.b()[0]
    }
    pub fn code(&self) -> u8 {
        self.b()[1]
    }
    pub fn checksum(&self) -> u16 {
        be16(&self.b()[2..])
    }
    pub fn id(&self) -> u16 {
        be16(&self.b()[4..])
    }
    pub fn seq(&self) -> u16 {
        be16(&self.b()[6..])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmp<T> {
    pub fn set_type(&mut self, t: u8) {
        self.m()[0] = t;
    }
    pub fn set_code(&mut self, c: u8) {
        self.m()[1] = c;
    }
    pub fn set_checksum(&mut self, c: u16) {
        put_be16(&mut self.m()[2..], c);
    }
    /// Sets the type and patches the checksum (RFC 1624): all an echo reply
    /// needs, as swapping the addresses leaves ICMPv6's pseudo-header sum as
    /// it was.
    pub fn set_type_incremental(&mut self, t: u8) {
        let old = be16(self.b());
        self.m()[0] = t;
        let c = update16(self.checksum(), old, be16(self.b()));
        self.set_checksum(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parse_and_format() {
        let m = Mac::parse(b"02:00:5e:10:00:0A").unwrap();
        assert_eq!(m.0, [2, 0, 0x5e, 0x10, 0, 0x0a]);
        assert_eq!(Mac::parse(b"02-00-5e-10-00-0a"), Ok(m));
        extern crate std;
        assert_eq!(std::format!("{}", m), "02:00:5e:10:00:0a");
        for bad in [&b"02:00:5e:10:00"[..], b"02:00-5e:10:00:0a", b"02:00:5e:10:00:0g", b"02.00.5e.10.00.0a", b""] {
            assert!(Mac::parse(bad).is_err(), "{:?}", bad);
        }
        assert!(Mac::BROADCAST.is_broadcast() && Mac::BROADCAST.is_multicast());
        assert!(!m.is_multicast());
    }

    #[test]
    fn ethernet_rewrites_in_place() {
        let mut f = [0u8; 20];
        f[..6].copy_from_slice(&[1; 6]);
        f[6..12].copy_from_slice(&[2; 6]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        assert!(Ethernet::new(&f[..13]).is_none());
        let mut e = Ethernet::new(&mut f[..]).unwrap();
        assert_eq!(e.ethertype(), ETHERTYPE_IPV4);
        e.swap_addrs();
        assert_eq!((e.dst(), e.src()), (Mac([2; 6]), Mac([1; 6])));
        e.set_ethertype(ETHERTYPE_IPV6);
        assert_eq!(e.header().len(), ETHERNET_LEN);
        assert_eq!(f[12..14], [0x86, 0xdd]);
    }

    #[test]
    fn ipv4_checks_version_and_ihl() {
        let mut h = [0u8; 24];
        h[0] = 0x45;
        assert!(Ipv4::new(&h[..]).is_some());
        assert!(Ipv4::new(&h[..19]).is_none());
        h[0] = 0x46; // 24-byte header: fits exactly
        assert_eq!(Ipv4::new(&h[..]).unwrap().header_len(), 24);
        h[0] = 0x47; // 28 bytes announced, 24 present
        assert!(Ipv4::new(&h[..]).is_none());
        h[0] = 0x44; // IHL below 5
        assert!(Ipv4::new(&h[..]).is_none());
        h[0] = 0x65;
        assert!(Ipv4::new(&h[..]).is_none());
    }

    #[test]
    fn ipv4_dec_ttl_keeps_checksum_valid() {
        let mut h = [0x45u8, 0, 0, 20, 0, 1, 0x40, 0, 1, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        let mut ip = Ipv4::new(&mut h[..]).unwrap();
        ip.update_checksum();
        assert!(ip.checksum_valid());
        assert!(ip.dec_ttl());
        assert_eq!(ip.ttl(), 0);
        assert!(ip.checksum_valid());
        assert!(!ip.dec_ttl());
        ip.swap_addrs();
        assert_eq!((ip.src(), ip.dst()), ([10, 0, 0, 2], [10, 0, 0, 1]));
        assert!(ip.checksum_valid(), "swapping addresses keeps the sum");
        assert!(!ip.is_fragment());
    }

    #[test]
    fn tcp_checks_data_offset() {
        let mut t = [0u8; 24];
        t[12] = 5 << 4;
        assert_eq!(Tcp::new(&t[..]).unwrap().header_len(), 20);
        t[12] = 7 << 4;
        assert!(Tcp::new(&t[..]).is_none());
        t[12] = 4 << 4;
        assert!(Tcp::new(&t[..]).is_none());
    }

    #[test]
    fn arp_checks_types() {
        let mut a = [0u8; 28];
        a[..6].copy_from_slice(&[0, 1, 8, 0, 6, 4]);
        let mut arp = Arp::new(&mut a[..]).unwrap();
        arp.set_op(ARP_REPLY);
        arp.set_sender_ip([1, 2, 3, 4]);
        assert_eq!((arp.op(), arp.sender_ip()), (ARP_REPLY, [1, 2, 3, 4]));
        a[5] = 16;
        assert!(Arp::new(&a[..]).is_none());
    }

    #[test]
    fn icmp_type_incremental() {
        let mut m = [ICMPV4_ECHO_REQUEST, 0, 0, 0, 0, 1, 0, 2, b'p', b'i', b'n', b'g'];
        let c = crate::checksum::icmpv4_checksum(&m);
        m[2..4].copy_from_slice(&c.to_be_bytes());
        let mut icmp = Icmp::new(&mut m[..]).unwrap();
        icmp.set_type_incremental(ICMPV4_ECHO_REPLY);
        assert_eq!(icmp.icmp_type(), ICMPV4_ECHO_REPLY);
        assert_eq!(checksum(&m, 0), 0);
    }

    #[test]
    fn vlan_fields() {
        let mut v = [0x60u8, 0x64, 0x08, 0x00];
        let mut tag = Vlan::new(&mut v[..]).unwrap();
        assert_eq!((tag.pcp(), tag.vid(), tag.ethertype()), (3, 100, ETHERTYPE_IPV4));
        tag.set_vid(0xfff);
        assert_eq!(tag.tci(), 0x6fff);
    }
}
