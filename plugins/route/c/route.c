/* route: forward by the longest IPv4 prefix that covers the destination,
 * from tables the control plane fills.
 *
 * Tables (ABI.md §11), filled with `memif-wasm ctl table`:
 *   routes  lpm4, key = IPv4 prefix, value = action (4 bytes), at most
 *           100,000 prefixes
 *   ports   array of 64, index = ingress port, value = action: what
 *           packets without a route (and non-IPv4 packets) get
 * An action is 4 bytes: byte 0 is 0 = PASS (so an unset entry passes),
 * 1 = DROP, 2 = TX, 3 = REDIRECT to the port in bytes 2..3 (u16,
 * little-endian; the operator must allow it); byte 1 is 0.
 *
 *   memif-wasm ctl table put default/memif0/routes ip4:10.0.0.0/8 01000000
 *   memif-wasm ctl table put default/memif0/ports u32:0 02000000
 *
 * There is no config and no control message: every lookup is a plain load
 * in shared memory the host maps, so a change is seen by every worker at
 * once, and a reload keeps the tables.
 */
#define MW_TABLES 2
#include "memif_wasm.h"

MW_TABLE_DECLARE(routes, MW_TABLE_LPM4, 4, 4, 100000);
MW_TABLE_DECLARE(ports, MW_TABLE_ARRAY, 4, 4, 64);

static struct mw_table routes, ports;

MW_EXPORT("mw_init") int32_t mw_init(uint32_t p, uint32_t n) {
	(void)p;
	(void)n;
	int32_t r = mw_table_open(0, &routes);
	return r ? r : mw_table_open(1, &ports);
}

static void act(struct mw_desc *d, const uint8_t *a) {
	if (a == 0) {
		d->verdict = MW_PASS;
		return;
	}
	switch (a[0]) {
	case 0:
		d->verdict = MW_PASS;
		break;
	case 1:
		d->verdict = MW_DROP;
		break;
	case 2:
		d->verdict = MW_TX;
		break;
	case 3:
		mw_redirect(d, mw_le16(a + 2));
		break;
	default:
		d->verdict = MW_DROP; /* an action this version does not know fails closed */
	}
}

MW_EXPORT("mw_process") int32_t mw_process(uint32_t n) {
	for (uint32_t i = 0; i < n; i++) {
		struct mw_desc *d = mw_desc(i);
		const uint8_t *pkt = mw_data(d);
		uint16_t et = 0;
		uint32_t l3 = mw_l3(pkt, d->len, &et);
		const uint8_t *a = 0;
		if (l3 != 0 && et == MW_ETHERTYPE_IPV4 && d->len >= l3 + 20)
			a = mw_table_match(&routes, pkt + l3 + 16);
		if (a == 0) a = mw_table_at(&ports, d->in_port);
		act(d, a);
	}
	return 0;
}
