/* acl-tables: an IPv4 ACL on tables, for 100,000 rules and more.
 *
 * Tables (ABI.md §11), filled with `memif-wasm ctl table`:
 *   flows    hash, 100,000 entries: exact rules. Key (12 bytes): source
 *            address, destination address (network order), protocol,
 *            a zero byte, destination port (network order; 0 for
 *            protocols without ports). Value: a rule (below).
 *   sources  lpm4, 10,000 prefixes of the source address: broad rules,
 *            consulted when no exact rule matches. Value: a rule.
 *   hits     counters, 16,384: packets per rule id, per worker (the
 *            control plane reads the sum: ctl table get .../hits u32:ID).
 * A rule is 4 bytes: byte 0 the action, 1 = allow (PASS), 2 = deny (DROP);
 * byte 1 zero; bytes 2..3 the rule id (u16 little-endian, < 16,384), whose
 * counter the packet adds to. Packets no rule matches pass (rule id 0 is
 * counted for them); non-IPv4 packets pass uncounted.
 */
#define MW_TABLES 3
#include "memif_wasm.h"

MW_TABLE_DECLARE(flows, MW_TABLE_HASH, 12, 4, 100000);
MW_TABLE_DECLARE(sources, MW_TABLE_LPM4, 4, 4, 10000);
MW_TABLE_DECLARE(hits, MW_TABLE_COUNTERS, 4, 8, 16384);

static struct mw_table flows, sources, hits;

MW_EXPORT("mw_init") int32_t mw_init(uint32_t p, uint32_t n) {
	(void)p;
	(void)n;
	int32_t r = mw_table_open(0, &flows);
	if (r == 0) r = mw_table_open(1, &sources);
	if (r == 0) r = mw_table_open(2, &hits);
	return r;
}

static uint8_t classify(const uint8_t *ip, uint32_t len) {
	uint32_t ihl = (uint32_t)(ip[0] & 15) * 4;
	uint8_t key[12];
	memcpy(key, ip + 12, 8);
	key[8] = ip[9];
	key[9] = 0;
	key[10] = key[11] = 0;
	if ((ip[9] == MW_PROTO_TCP || ip[9] == MW_PROTO_UDP) && ihl >= 20 && len >= ihl + 4) {
		key[10] = ip[ihl + 2];
		key[11] = ip[ihl + 3];
	}
	const uint8_t *rule = mw_table_lookup(&flows, key);
	if (rule == 0) rule = mw_table_match(&sources, ip + 12);
	if (rule == 0) {
		mw_counter_add(&hits, 0, 1);
		return MW_PASS;
	}
	mw_counter_add(&hits, mw_le16(rule + 2), 1);
	return rule[0] == 1 ? MW_PASS : MW_DROP; /* an unknown action fails closed */
}

MW_EXPORT("mw_process") int32_t mw_process(uint32_t n) {
	for (uint32_t i = 0; i < n; i++) {
		struct mw_desc *d = mw_desc(i);
		const uint8_t *pkt = mw_data(d);
		uint16_t et = 0;
		uint32_t l3 = mw_l3(pkt, d->len, &et);
		if (l3 == 0 || et != MW_ETHERTYPE_IPV4 || d->len < l3 + 20) {
			d->verdict = MW_PASS;
			continue;
		}
		d->verdict = classify(pkt + l3, d->len - l3);
	}
	return 0;
}
