/* A guest for the table tests: a hash table "kv" (8-byte keys, 32-byte
 * values) and an array "arr" (16 entries of 4 bytes).
 *
 * Packet byte 0 picks the operation:
 *   'h': look up the 8-byte key at bytes 1..8 in kv. Verdict TX if absent,
 *        PASS if the value is the key followed by 24 copies of one byte,
 *        DROP if it is anything else (a torn entry).
 *   'a': read arr[byte 1] into bytes 2..5; PASS (TX past the end).
 *   '4', '6': match the IPv4 (bytes 1..4) or IPv6 (bytes 1..16) address in
 *        pfx4 or pfx6; write the value to bytes 20..23 and PASS, or TX if
 *        no prefix covers it.
 *   'l': benchmark: the u32 at bytes 1..4 matches in pfx4 of addresses
 *        10.0.0.0 + (pseudo-random % the u32 at bytes 5..8); PASS if all
 *        matched, DROP otherwise.
 *   'c': add byte 2 to counter byte 1 of hits; PASS.
 *   'p', 'd': put (key bytes 1..4, value 5..8) or delete (key 1..4) in
 *        table index byte 9 through the host; the i32 result at bytes
 *        20..23; PASS.
 *   'b': benchmark: run the u32 at bytes 1..4 lookups of keys 0..(u32 at
 *        bytes 5..8)-1 in kv, in a pseudo-random order (one xorshift
 *        sequence for the instance's life); PASS if all were found, DROP
 *        otherwise.
 */
#define MW_TABLES 6
#include "memif_wasm.h"

#ifndef KV_MAX
#define KV_MAX 1024
#endif
MW_TABLE_DECLARE(kv, MW_TABLE_HASH, 8, 32, KV_MAX);
MW_TABLE_DECLARE(arr, MW_TABLE_ARRAY, 4, 4, 16);
#ifndef PFX_MAX
#define PFX_MAX 64
#endif
MW_TABLE_DECLARE(pfx4, MW_TABLE_LPM4, 4, 4, PFX_MAX);
MW_TABLE_DECLARE(pfx6, MW_TABLE_LPM6, 16, 4, 64);
MW_TABLE_DECLARE(hits, MW_TABLE_COUNTERS, 4, 8, 16);
MW_TABLE_DECLARE_RW(wr, MW_TABLE_HASH, 4, 4, 2);

static struct mw_table kv, arr, pfx4, pfx6, hits, wr;

MW_EXPORT("mw_init") int32_t mw_init(uint32_t p, uint32_t n) {
	(void)p;
	(void)n;
	int32_t r = mw_table_open(0, &kv);
	if (r == 0) r = mw_table_open(1, &arr);
	if (r == 0) r = mw_table_open(2, &pfx4);
	if (r == 0) r = mw_table_open(3, &pfx6);
	if (r == 0) r = mw_table_open(4, &hits);
	if (r == 0) r = mw_table_open(5, &wr);
	return r;
}

static uint8_t check(const uint8_t *key) {
	const uint8_t *v = mw_table_lookup(&kv, key);
	if (v == 0) return MW_TX;
	if (memcmp(v, key, 8) != 0) return MW_DROP;
	for (int i = 9; i < 32; i++)
		if (v[i] != v[8]) return MW_DROP;
	return MW_PASS;
}

static uint64_t x = 88172645463325252ull; /* the sequence goes on across calls */

static uint8_t bench(uint32_t count, uint32_t keys) {
	uint64_t k;
	uint32_t found = 0;
	for (uint32_t i = 0; i < count; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		k = x % keys;
		found += mw_table_lookup(&kv, &k) != 0;
	}
	return found == count ? MW_PASS : MW_DROP;
}

static uint8_t bench_lpm(uint32_t count, uint32_t span) {
	uint32_t found = 0;
	for (uint32_t i = 0; i < count; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint32_t a = 0x0a000000u + (uint32_t)(x % span);
		uint8_t b[4] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a};
		found += mw_table_match(&pfx4, b) != 0;
	}
	return found == count ? MW_PASS : MW_DROP;
}

MW_EXPORT("mw_process") int32_t mw_process(uint32_t n) {
	for (uint32_t i = 0; i < n; i++) {
		struct mw_desc *d = mw_desc(i);
		uint8_t *p = mw_data(d);
		if (d->len < 9) {
			d->verdict = MW_ABORTED;
			continue;
		}
		switch (p[0]) {
		case 'h':
			d->verdict = check(p + 1);
			break;
		case 'a': {
			const uint8_t *v = mw_table_at(&arr, p[1]);
			if (v == 0) {
				d->verdict = MW_TX;
				break;
			}
			memcpy(p + 2, v, 4);
			d->verdict = MW_PASS;
			break;
		}
		case '4':
		case '6': {
			const uint8_t *v = mw_table_match(p[0] == '4' ? &pfx4 : &pfx6, p + 1);
			if (v == 0) {
				d->verdict = MW_TX;
				break;
			}
			memcpy(p + 20, v, 4);
			d->verdict = MW_PASS;
			break;
		}
		case 'b':
			d->verdict = bench(mw_le32(p + 1), mw_le32(p + 5));
			break;
		case 'p':
		case 'd': {
			int32_t r = p[0] == 'p' ? mw_table_put(p[9], p + 1, p + 5) : mw_table_delete(p[9], p + 1);
			memcpy(p + 20, &r, 4);
			d->verdict = MW_PASS;
			break;
		}
		case 'c':
			mw_counter_add(&hits, p[1], p[2]);
			d->verdict = MW_PASS;
			break;
		case 'l':
			d->verdict = bench_lpm(mw_le32(p + 1), mw_le32(p + 5));
			break;
		default:
			d->verdict = MW_ABORTED;
		}
	}
	return 0;
}
