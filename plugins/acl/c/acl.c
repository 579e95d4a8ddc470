/* acl: the C twin of acl/main.go with a binary configuration and a linear
 * scan over precompiled rules (first match wins). Format (little-endian),
 * also in plugins/README.md:
 *
 *   config = "MWA1" u8 default u8 non_ip u16 count, then count rules of 48 bytes:
 *     u8 action (0 deny, 1 allow)  u8 family (0 any, 4, 6)  u8 proto
 *     u8 flags (bit 0: match proto)  u8 src_len  u8 dst_len  u16 zero
 *     u16 sport_lo u16 sport_hi u16 dport_lo u16 dport_hi
 *     u8 src[16] u8 dst[16]   (IPv4 addresses in the first 4 bytes)
 *
 * A rule whose port ranges are not both 0..65535 matches only TCP and UDP
 * packets that carry ports. Actions: 0 deny (DROP), 1 allow (PASS).
 *
 * Control: a config message ("MWA1...") replaces the rules; the reply is the
 * rule count (u32). "MWH1" asks for hit counts: u64 default hits, u64 non-IP
 * hits, then one u64 per rule.
 */
#include "memif_wasm.h"

#define MAX_RULES 1024u
#define RULE_SIZE 48u
#define HDR_SIZE 8u

struct rule {
	uint32_t src[4], smask[4], dst[4], dmask[4]; /* v4 uses word 0 */
	uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
	uint8_t allow, family, proto, match_proto, need_ports;
};

static struct rule rules[MAX_RULES];
static uint64_t hits[MAX_RULES];
static uint32_t nrules;
static uint8_t default_allow, non_ip_allow, configured;
static uint64_t default_hits, non_ip_hits;

static void prefix_mask(uint32_t *mask, uint32_t words, uint32_t len) {
	for (uint32_t w = 0; w < words; w++) {
		uint32_t bits = len > 32 ? 32 : len;
		mask[w] = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
		len -= bits;
	}
}

/* compile parses a config into a fresh rule set; on error nothing changes. */
static struct rule staged[MAX_RULES];

static int32_t compile(const uint8_t *p, uint32_t len) {
	if (len < HDR_SIZE || p[0] != 'M' || p[1] != 'W' || p[2] != 'A' || p[3] != '1') {
		mw_log(MW_LOG_ERROR, "acl config: not an MWA1 config");
		return -MW_EINVAL;
	}
	uint32_t n = mw_le16(p + 6);
	if (p[4] > 1 || p[5] > 1) {
		mw_log(MW_LOG_ERROR, "acl config: default and non_ip must be 0 (deny) or 1 (allow)");
		return -MW_EINVAL;
	}
	if (n > MAX_RULES) {
		mw_log(MW_LOG_ERROR, "acl config: more than 1024 rules");
		return -MW_ERANGE;
	}
	if (len != HDR_SIZE + n * RULE_SIZE) {
		mw_log(MW_LOG_ERROR, "acl config: length is not 8 + 48 * count");
		return -MW_EINVAL;
	}
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *r = p + HDR_SIZE + i * RULE_SIZE;
		struct rule *o = &staged[i];
		uint32_t fam = r[1], maxlen = fam == 6 ? 128 : 32, words = fam == 6 ? 4 : 1;
		if (r[0] > 1 || (fam != 0 && fam != 4 && fam != 6) || (r[3] & ~1u) || mw_le16(r + 6) != 0) {
			mw_log(MW_LOG_ERROR, "acl config: rule has a bad action, family, flags or reserved field");
			return -MW_EINVAL;
		}
		if (r[4] > maxlen || r[5] > maxlen || (fam == 0 && (r[4] || r[5]))) {
			mw_log(MW_LOG_ERROR, "acl config: rule prefix length too long for its family");
			return -MW_EINVAL;
		}
		o->sport_lo = mw_le16(r + 8);
		o->sport_hi = mw_le16(r + 10);
		o->dport_lo = mw_le16(r + 12);
		o->dport_hi = mw_le16(r + 14);
		if (o->sport_lo > o->sport_hi || o->dport_lo > o->dport_hi) {
			mw_log(MW_LOG_ERROR, "acl config: rule port range has lo > hi");
			return -MW_EINVAL;
		}
		o->need_ports = !(o->sport_lo == 0 && o->sport_hi == 0xffff && o->dport_lo == 0 && o->dport_hi == 0xffff);
		if (o->need_ports && (r[3] & 1) && r[2] != MW_PROTO_TCP && r[2] != MW_PROTO_UDP) {
			mw_log(MW_LOG_ERROR, "acl config: ports need proto tcp, udp or any");
			return -MW_EINVAL;
		}
		o->allow = r[0];
		o->family = (uint8_t)fam;
		o->proto = r[2];
		o->match_proto = r[3] & 1;
		for (uint32_t w = 0; w < 4; w++) o->smask[w] = o->dmask[w] = o->src[w] = o->dst[w] = 0;
		prefix_mask(o->smask, words, r[4]);
		prefix_mask(o->dmask, words, r[5]);
		for (uint32_t w = 0; w < words; w++) {
			o->src[w] = mw_be32(r + 16 + 4 * w) & o->smask[w];
			o->dst[w] = mw_be32(r + 32 + 4 * w) & o->dmask[w];
		}
	}
	for (uint32_t i = 0; i < n; i++) {
		rules[i] = staged[i];
		hits[i] = 0;
	}
	nrules = n;
	default_allow = p[4];
	non_ip_allow = p[5];
	configured = 1;
	return MW_OK;
}

MW_EXPORT("mw_init") int32_t mw_init(uint32_t cfg_ptr, uint32_t cfg_len) {
	return compile((const uint8_t *)(mw_size_t)cfg_ptr, cfg_len);
}

struct tuple {
	uint32_t src[4], dst[4];
	uint16_t sport, dport;
	uint8_t family, proto, has_ports;
};

/* parse fills t from an Ethernet frame; 0 for non-IP (or a cut IP header). */
static int parse(const uint8_t *pkt, uint32_t len, struct tuple *t) {
	uint16_t et;
	uint32_t off = mw_l3(pkt, len, &et), l4;
	int first = 1;
	if (off == 0) return 0;
	if (et == MW_ETHERTYPE_IPV4) {
		if (len < off + 20 || pkt[off] >> 4 != 4) return 0;
		uint32_t ihl = (pkt[off] & 15u) * 4;
		if (ihl < 20 || len < off + ihl) return 0;
		t->family = 4;
		t->proto = pkt[off + 9];
		t->src[0] = mw_be32(pkt + off + 12);
		t->dst[0] = mw_be32(pkt + off + 16);
		first = (mw_be16(pkt + off + 6) & 0x1fff) == 0;
		l4 = off + ihl;
	} else if (et == MW_ETHERTYPE_IPV6) {
		if (len < off + 40 || pkt[off] >> 4 != 6) return 0;
		t->family = 6;
		for (uint32_t w = 0; w < 4; w++) {
			t->src[w] = mw_be32(pkt + off + 8 + 4 * w);
			t->dst[w] = mw_be32(pkt + off + 24 + 4 * w);
		}
		uint8_t nh = pkt[off + 6];
		l4 = off + 40;
		/* Skip hop-by-hop, routing, destination options and fragment headers. */
		for (int i = 0; i < 8 && (nh == 0 || nh == 43 || nh == 60 || nh == 44); i++) {
			if (len < l4 + 8) {
				first = 0;
				break;
			}
			if (nh == 44) {
				if (mw_be16(pkt + l4 + 2) & 0xfff8) first = 0;
				nh = pkt[l4];
				l4 += 8;
			} else {
				uint8_t next = pkt[l4];
				l4 += 8 + pkt[l4 + 1] * 8u;
				nh = next;
			}
		}
		t->proto = nh;
	} else {
		return 0;
	}
	t->has_ports = first && (t->proto == MW_PROTO_TCP || t->proto == MW_PROTO_UDP) && len >= l4 + 4;
	if (t->has_ports) {
		t->sport = mw_be16(pkt + l4);
		t->dport = mw_be16(pkt + l4 + 2);
	}
	return 1;
}

static int matches(const struct rule *r, const struct tuple *t) {
	if (r->family && r->family != t->family) return 0;
	if (r->match_proto && r->proto != t->proto) return 0;
	uint32_t words = t->family == 6 ? 4 : 1;
	for (uint32_t w = 0; w < words; w++)
		if ((t->src[w] & r->smask[w]) != r->src[w] || (t->dst[w] & r->dmask[w]) != r->dst[w]) return 0;
	if (r->need_ports) {
		if (!t->has_ports || t->sport < r->sport_lo || t->sport > r->sport_hi || t->dport < r->dport_lo ||
		    t->dport > r->dport_hi)
			return 0;
	}
	return 1;
}

MW_EXPORT("mw_process") int32_t mw_process(uint32_t n) {
	if (!configured) return -MW_EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		struct mw_desc *d = mw_desc(i);
		struct tuple t;
		if (!parse(mw_data(d), d->len, &t)) {
			non_ip_hits++;
			d->verdict = non_ip_allow ? MW_PASS : MW_DROP;
			continue;
		}
		uint32_t r = 0;
		while (r < nrules && !matches(&rules[r], &t)) r++;
		if (r < nrules) {
			hits[r]++;
			d->verdict = rules[r].allow ? MW_PASS : MW_DROP;
		} else {
			default_hits++;
			d->verdict = default_allow ? MW_PASS : MW_DROP;
		}
	}
	return MW_OK;
}

static void put_le64(uint8_t *p, uint64_t v) {
	for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

MW_EXPORT("mw_control") int32_t mw_control(uint32_t ptr, uint32_t len) {
	const uint8_t *m = (const uint8_t *)(mw_size_t)ptr;
	if (len == 4 && m[0] == 'M' && m[1] == 'W' && m[2] == 'H' && m[3] == '1') {
		uint32_t need = 16 + 8 * nrules;
		if (need > mw_msg_cap()) return -MW_ERANGE;
		uint8_t *out = mw_msg();
		put_le64(out, default_hits);
		put_le64(out + 8, non_ip_hits);
		for (uint32_t i = 0; i < nrules; i++) put_le64(out + 16 + 8 * i, hits[i]);
		return (int32_t)need;
	}
	int32_t rc = compile(m, len);
	if (rc != MW_OK) return rc;
	uint8_t *out = mw_msg();
	out[0] = (uint8_t)nrules;
	out[1] = (uint8_t)(nrules >> 8);
	out[2] = out[3] = 0;
	return 4;
}
