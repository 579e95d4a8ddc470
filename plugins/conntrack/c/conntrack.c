/* conntrack: a stateful IPv4 firewall on a flow table the plugin fills.
 *
 * Port 0 is the inside. Every IPv4 packet from the inside passes, and its
 * flow is recorded; a packet from any other port passes only if it answers
 * a recorded flow (its reverse 5-tuple is in the table), else it is dropped.
 * Non-IPv4 packets pass.
 *
 * Tables (ABI.md §11):
 *   flows  hash, written by this plugin (mw_table_put), 65,536 flows. Key
 *          (13 bytes): inside address, outside address (network order),
 *          protocol, inside port, outside port (network order; 0 for
 *          protocols without ports). Value: the host's clock (u64 ns) when
 *          the flow was first seen. The control plane lists, deletes (to
 *          expire) or clears flows: ctl table dump|delete|clear.
 *   stats  counters: 0 packets from the inside, 1 flows recorded, 2 replies
 *          passed, 3 outside packets dropped, 4 flows not recorded (the
 *          host's queue of changes was full: retried on the next packet).
 *
 * A new flow is published by the host to every worker at once, at the
 * latest just after the burst that recorded it (a packet of the same flow
 * later in that burst may record it again: a put of the same key only
 * rewrites it). A reply that arrives before that is dropped, as a lost
 * packet would be: the sender's retransmission passes.
 */
#define MW_TABLES 2
#include "memif_wasm.h"

MW_TABLE_DECLARE_RW(flows, MW_TABLE_HASH, 13, 8, 65536);
MW_TABLE_DECLARE(stats, MW_TABLE_COUNTERS, 4, 8, 8);

static struct mw_table flows, stats;

enum { ST_INSIDE, ST_RECORDED, ST_REPLIES, ST_DROPPED, ST_QUEUE_FULL };

MW_EXPORT("mw_init") int32_t mw_init(uint32_t p, uint32_t n) {
	(void)p;
	(void)n;
	int32_t r = mw_table_open(0, &flows);
	return r ? r : mw_table_open(1, &stats);
}

/* key fills the 13-byte key of the flow of ip, seen from the inside when
 * inside is set, else reversed (as its reply would be). */
static void key(uint8_t k[13], const uint8_t *ip, uint32_t len, int inside) {
	uint32_t ihl = (uint32_t)(ip[0] & 15) * 4;
	const uint8_t *src = ip + 12, *dst = ip + 16;
	uint8_t ports[4] = {0, 0, 0, 0};
	if ((ip[9] == MW_PROTO_TCP || ip[9] == MW_PROTO_UDP) && ihl >= 20 && len >= ihl + 4) memcpy(ports, ip + ihl, 4);
	memcpy(k, inside ? src : dst, 4);
	memcpy(k + 4, inside ? dst : src, 4);
	k[8] = ip[9];
	memcpy(k + 9, inside ? ports : ports + 2, 2);
	memcpy(k + 11, inside ? ports + 2 : ports, 2);
}

MW_EXPORT("mw_process") int32_t mw_process(uint32_t n) {
	uint64_t now = mw_hdr()->now_ns;
	for (uint32_t i = 0; i < n; i++) {
		struct mw_desc *d = mw_desc(i);
		const uint8_t *pkt = mw_data(d);
		uint16_t et = 0;
		uint32_t l3 = mw_l3(pkt, d->len, &et);
		if (l3 == 0 || et != MW_ETHERTYPE_IPV4 || d->len < l3 + 20) {
			d->verdict = MW_PASS;
			continue;
		}
		uint8_t k[13];
		if (d->in_port == 0) {
			mw_counter_add(&stats, ST_INSIDE, 1);
			key(k, pkt + l3, d->len - l3, 1);
			if (mw_table_lookup(&flows, k) == 0) {
				int32_t r = mw_table_put(0, k, &now);
				mw_counter_add(&stats, r == 0 ? ST_RECORDED : ST_QUEUE_FULL, 1);
			}
			d->verdict = MW_PASS;
			continue;
		}
		key(k, pkt + l3, d->len - l3, 0);
		if (mw_table_lookup(&flows, k)) {
			mw_counter_add(&stats, ST_REPLIES, 1);
			d->verdict = MW_PASS;
		} else {
			mw_counter_add(&stats, ST_DROPPED, 1);
			d->verdict = MW_DROP;
		}
	}
	return 0;
}
