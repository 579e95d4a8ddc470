//! acl: the Rust twin of acl/c/acl.c: a binary configuration and a
//! first-match scan over precompiled rules. The format (little-endian, also in
//! plugins/README.md):
//!
//! ```text
//! config = "MWA1" u8 default u8 non_ip u16 count, then count rules of 48 bytes:
//!   u8 action (0 deny, 1 allow)  u8 family (0 any, 4, 6)  u8 proto
//!   u8 flags (bit 0: match proto)  u8 src_len  u8 dst_len  u16 zero
//!   u16 sport_lo u16 sport_hi u16 dport_lo u16 dport_hi
//!   u8 src[16] u8 dst[16]   (IPv4 addresses in the first 4 bytes)
//! ```
//!
//! A rule whose port ranges are not both 0..65535 matches only TCP and UDP
//! packets that carry ports. Actions: 0 deny (DROP), 1 allow (PASS).
//!
//! Control: a config message ("MWA1...") replaces the rules; the reply is the
//! rule count (u32). "MWH1" asks for hit counts: u64 default hits, u64 non-IP
//! hits, then one u64 per rule.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

use memif_wasm::bytes::{be32, le16};
use memif_wasm::{export_plugin, Burst, Error, Headers, Plugin, Reply, Result, Verdict, L3, PROTO_TCP, PROTO_UDP};

pub const MAX_RULES: usize = 1024;
const RULE_SIZE: usize = 48;
const HDR_SIZE: usize = 8;

#[derive(Clone, Copy)]
struct Rule {
    // Addresses and masks as big-endian words; IPv4 uses word 0.
    src: [u32; 4],
    smask: [u32; 4],
    dst: [u32; 4],
    dmask: [u32; 4],
    sport: (u16, u16),
    dport: (u16, u16),
    allow: bool,
    family: u8,
    proto: u8,
    match_proto: bool,
    need_ports: bool,
}

const NO_RULE: Rule = Rule {
    src: [0; 4],
    smask: [0; 4],
    dst: [0; 4],
    dmask: [0; 4],
    sport: (0, 0),
    dport: (0, 0),
    allow: false,
    family: 0,
    proto: 0,
    match_proto: false,
    need_ports: false,
};

pub struct Acl {
    rules: [Rule; MAX_RULES],
    hits: [u64; MAX_RULES],
    n: usize,
    default_allow: bool,
    non_ip_allow: bool,
    default_hits: u64,
    non_ip_hits: u64,
}

impl Default for Acl {
    fn default() -> Self {
        Acl {
            rules: [NO_RULE; MAX_RULES],
            hits: [0; MAX_RULES],
            n: 0,
            default_allow: false,
            non_ip_allow: false,
            default_hits: 0,
            non_ip_hits: 0,
        }
    }
}

fn prefix_mask(words: usize, mut len: u32) -> [u32; 4] {
    let mut mask = [0u32; 4];
    for m in mask.iter_mut().take(words) {
        let bits = len.min(32);
        *m = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
        len -= bits;
    }
    mask
}

// One rule of the wire format, validated.
fn parse_rule(r: &[u8]) -> Result<Rule> {
    let fam = r[1];
    let (maxlen, words) = if fam == 6 { (128, 4) } else { (32, 1) };
    if r[0] > 1 || (fam != 0 && fam != 4 && fam != 6) || r[3] & !1 != 0 || le16(&r[6..]) != 0 {
        return Err(Error::inval("acl config: rule has a bad action, family, flags or reserved field"));
    }
    if r[4] > maxlen || r[5] > maxlen || (fam == 0 && (r[4] != 0 || r[5] != 0)) {
        return Err(Error::inval("acl config: rule prefix length too long for its family"));
    }
    let sport = (le16(&r[8..]), le16(&r[10..]));
    let dport = (le16(&r[12..]), le16(&r[14..]));
    if sport.0 > sport.1 || dport.0 > dport.1 {
        return Err(Error::inval("acl config: rule port range has lo > hi"));
    }
    let need_ports = !(sport == (0, 0xffff) && dport == (0, 0xffff));
    let match_proto = r[3] & 1 != 0;
    if need_ports && match_proto && r[2] != PROTO_TCP && r[2] != PROTO_UDP {
        return Err(Error::inval("acl config: ports need proto tcp, udp or any"));
    }
    let (smask, dmask) = (prefix_mask(words, r[4] as u32), prefix_mask(words, r[5] as u32));
    let (mut src, mut dst) = ([0u32; 4], [0u32; 4]);
    for w in 0..words {
        src[w] = be32(&r[16 + 4 * w..]) & smask[w];
        dst[w] = be32(&r[32 + 4 * w..]) & dmask[w];
    }
    Ok(Rule {
        src,
        smask,
        dst,
        dmask,
        sport,
        dport,
        allow: r[0] == 1,
        family: fam,
        proto: r[2],
        match_proto,
        need_ports,
    })
}

impl Acl {
    /// Replaces the rules with the config's; on error nothing changes.
    fn compile(&mut self, p: &[u8]) -> Result {
        if p.len() < HDR_SIZE || &p[..4] != b"MWA1" {
            return Err(Error::inval("acl config: not an MWA1 config"));
        }
        if p[4] > 1 || p[5] > 1 {
            return Err(Error::inval("acl config: default and non_ip must be 0 (deny) or 1 (allow)"));
        }
        let n = le16(&p[6..]) as usize;
        if n > MAX_RULES {
            return Err(Error::range("acl config: more than 1024 rules"));
        }
        if p.len() != HDR_SIZE + n * RULE_SIZE {
            return Err(Error::inval("acl config: length is not 8 + 48 * count"));
        }
        let rules = p[HDR_SIZE..].chunks_exact(RULE_SIZE);
        // Validate everything first, then take it: no staging copy needed.
        for r in rules.clone() {
            parse_rule(r)?;
        }
        for (i, r) in rules.enumerate() {
            self.rules[i] = parse_rule(r)?;
            self.hits[i] = 0;
        }
        self.n = n;
        self.default_allow = p[4] == 1;
        self.non_ip_allow = p[5] == 1;
        Ok(())
    }
}

// A packet's match key.
#[derive(Default)]
struct Tuple {
    src: [u32; 4],
    dst: [u32; 4],
    ports: Option<(u16, u16)>,
    family: u8,
    proto: u8,
}

fn words(a: [u8; 16]) -> [u32; 4] {
    [be32(&a), be32(&a[4..]), be32(&a[8..]), be32(&a[12..])]
}

// The tuple of an Ethernet frame, or None for non-IP (or a cut IP header).
fn parse(pkt: &[u8]) -> Option<Tuple> {
    let h = Headers::decode(pkt);
    let mut t = Tuple { proto: h.proto, ..Default::default() };
    match h.l3 {
        L3::Ipv4 => {
            let ip = h.ipv4(pkt)?;
            t.family = 4;
            t.src[0] = u32::from_be_bytes(ip.src());
            t.dst[0] = u32::from_be_bytes(ip.dst());
        }
        L3::Ipv6 => {
            let ip = h.ipv6(pkt)?;
            t.family = 6;
            t.src = words(ip.src());
            t.dst = words(ip.dst());
        }
        _ => return None,
    }
    // Ports need the first 4 bytes of a TCP or UDP header of a first fragment
    // (decode leaves l4_off 0 for later fragments).
    if h.l4_off != 0 && (t.proto == PROTO_TCP || t.proto == PROTO_UDP) {
        if let Some(p) = pkt.get(h.l4_off..h.l4_off + 4) {
            t.ports = Some((u16::from_be_bytes([p[0], p[1]]), u16::from_be_bytes([p[2], p[3]])));
        }
    }
    Some(t)
}

fn matches(r: &Rule, t: &Tuple) -> bool {
    if r.family != 0 && r.family != t.family || r.match_proto && r.proto != t.proto {
        return false;
    }
    let words = if t.family == 6 { 4 } else { 1 };
    for w in 0..words {
        if t.src[w] & r.smask[w] != r.src[w] || t.dst[w] & r.dmask[w] != r.dst[w] {
            return false;
        }
    }
    if r.need_ports {
        match t.ports {
            Some((s, d)) => s >= r.sport.0 && s <= r.sport.1 && d >= r.dport.0 && d <= r.dport.1,
            None => false,
        }
    } else {
        true
    }
}

fn verdict(allow: bool) -> Verdict {
    if allow {
        Verdict::Pass
    } else {
        Verdict::Drop
    }
}

impl Plugin for Acl {
    fn init(&mut self, config: &[u8]) -> Result {
        self.compile(config)
    }

    fn process(&mut self, burst: &mut Burst<'_>) -> Result {
        let rules = &self.rules[..self.n];
        for i in 0..burst.len() {
            let mut p = burst.packet(i);
            let t = match parse(p.data()) {
                Some(t) => t,
                None => {
                    self.non_ip_hits += 1;
                    p.set_verdict(verdict(self.non_ip_allow));
                    continue;
                }
            };
            match rules.iter().position(|r| matches(r, &t)) {
                Some(r) => {
                    self.hits[r] += 1;
                    p.set_verdict(verdict(rules[r].allow));
                }
                None => {
                    self.default_hits += 1;
                    p.set_verdict(verdict(self.default_allow));
                }
            }
        }
        Ok(())
    }

    fn control(&mut self, req: &[u8], reply: &mut Reply<'_>) -> Result {
        if req == b"MWH1" {
            reply.push_le64(self.default_hits)?;
            reply.push_le64(self.non_ip_hits)?;
            for h in &self.hits[..self.n] {
                reply.push_le64(*h)?;
            }
            return Ok(());
        }
        self.compile(req)?;
        reply.push_le32(self.n as u32)
    }
}

export_plugin!(Acl);

#[cfg(test)]
mod tests {
    use super::*;
    use memif_wasm::testing::{frames, take_logs, Host};
    use memif_wasm::Errno;

    struct R {
        allow: u8,
        family: u8,
        proto: Option<u8>,
        src: (&'static [u8], u8),
        dst: (&'static [u8], u8),
        sport: (u16, u16),
        dport: (u16, u16),
    }

    const ANY: R =
        R { allow: 1, family: 0, proto: None, src: (&[], 0), dst: (&[], 0), sport: (0, 65535), dport: (0, 65535) };

    fn config(def: u8, non_ip: u8, rules: &[R]) -> Vec<u8> {
        let mut b = b"MWA1".to_vec();
        b.extend_from_slice(&[def, non_ip]);
        b.extend_from_slice(&(rules.len() as u16).to_le_bytes());
        for r in rules {
            b.extend_from_slice(&[
                r.allow,
                r.family,
                r.proto.unwrap_or(0),
                r.proto.is_some() as u8,
                r.src.1,
                r.dst.1,
                0,
                0,
            ]);
            for v in [r.sport.0, r.sport.1, r.dport.0, r.dport.1] {
                b.extend_from_slice(&v.to_le_bytes());
            }
            for a in [r.src.0, r.dst.0] {
                let mut x = [0u8; 16];
                x[..a.len()].copy_from_slice(a);
                b.extend_from_slice(&x);
            }
        }
        b
    }

    const FD00: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5];
    const DB8: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

    #[test]
    fn first_match_hits_and_replace() {
        let cfg = config(
            0,
            1,
            &[
                R { family: 4, proto: Some(17), src: (&[10], 8), dport: (53, 53), ..ANY },
                R { family: 6, proto: Some(6), dst: (&[0xfd, 0], 16), dport: (443, 443), ..ANY },
            ],
        );
        let mut h = Host::<Acl>::new(&cfg).unwrap();
        let fs = [
            frames::udp4([10, 1, 1, 1], [8, 8, 8, 8], 40000, 53),
            frames::udp4([11, 1, 1, 1], [8, 8, 8, 8], 40000, 53),
            frames::tcp6(DB8, FD00, 40000, 443),
            frames::tcp6(DB8, FD00, 40000, 80),
            frames::arp_request([10, 0, 0, 9], [10, 0, 0, 1]),
        ];
        let refs: Vec<&[u8]> = fs.iter().map(|f| &f[..]).collect();
        let v = |h: &mut Host<Acl>| h.process(&refs).unwrap().iter().map(|o| o.verdict).collect::<Vec<_>>();
        let (p, d) = (Verdict::Pass as u8, Verdict::Drop as u8);
        assert_eq!(v(&mut h), [p, d, p, d, p]);
        let hits = h.control(b"MWH1").unwrap();
        let u = |i: usize| u64::from_le_bytes(hits[8 * i..8 * i + 8].try_into().unwrap());
        assert_eq!((hits.len(), u(0), u(1), u(2), u(3)), (32, 2, 1, 1, 1));

        // Allow everything but port 53.
        let reply = h.control(&config(1, 1, &[R { allow: 0, dport: (53, 53), ..ANY }])).unwrap();
        assert_eq!(reply, 1u32.to_le_bytes());
        assert_eq!(v(&mut h), [d, d, p, p, p]);
    }

    #[test]
    fn bad_configs_are_refused_and_change_nothing() {
        let mut h = Host::<Acl>::new(&config(1, 1, &[R { allow: 0, dport: (53, 53), ..ANY }])).unwrap();
        let mut too_many = config(0, 0, &[]);
        too_many[6..8].copy_from_slice(&1025u16.to_le_bytes());
        let cases: [(Vec<u8>, Errno); 8] = [
            (b"MWA1".to_vec(), Errno::Inval),
            (b"MWA2\x00\x00\x00\x00".to_vec(), Errno::Inval),
            (config(2, 0, &[]), Errno::Inval),
            (config(0, 0, &[R { family: 4, src: (&[], 33), ..ANY }]), Errno::Inval),
            (config(0, 0, &[R { sport: (5, 4), ..ANY }]), Errno::Inval),
            (config(0, 0, &[R { proto: Some(1), dport: (1, 1), ..ANY }]), Errno::Inval),
            (too_many, Errno::Range),
            (config(0, 0, &[ANY])[..50].to_vec(), Errno::Inval),
        ];
        take_logs();
        for (bad, want) in cases.iter() {
            assert_eq!(h.control(bad), Err(want.code()), "{:02x?}", bad);
        }
        assert_eq!(take_logs().len(), cases.len(), "each refusal is logged with its reason");
        // A bad rule after good ones: the running rules stay.
        let mixed = config(0, 0, &[ANY, R { family: 9, ..ANY }]);
        assert_eq!(h.control(&mixed), Err(Errno::Inval.code()));
        let f = frames::udp4([1, 1, 1, 1], [2, 2, 2, 2], 9, 53);
        assert_eq!(h.process(&[&f]).unwrap()[0].verdict, Verdict::Drop as u8);
        assert_eq!(h.plugin().n, 1);
        assert_eq!(Host::<Acl>::new(b"").err(), Some(Errno::Inval.code()));
    }

    #[test]
    fn ports_need_a_first_fragment() {
        let mut h = Host::<Acl>::new(&config(0, 0, &[R { dport: (2, 2), ..ANY }])).unwrap();
        let f = frames::udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2);
        let mut later = f.clone();
        later[14 + 7] = 1;
        let out = h.process(&[&f, &later, &f[..14 + 20 + 3]]).unwrap();
        let v: Vec<u8> = out.iter().map(|o| o.verdict).collect();
        assert_eq!(v, [Verdict::Pass as u8, Verdict::Drop as u8, Verdict::Drop as u8]);
    }
}
