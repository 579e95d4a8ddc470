/*
 * memif_wasm.h: the C guest SDK for memif-wasm packet plugins (ABI v1).
 *
 * One header, no libc. Build a plugin with Debian's clang and lld:
 *
 *   clang --target=wasm32 -nostdlib -O2 -mbulk-memory -I sdk/c \
 *         -Wl,--no-entry -Wl,--max-memory=67108864 -o plugin.wasm plugin.c
 *
 * Include it in exactly one translation unit: it defines the exports every
 * plugin shares (mw_abi_version, mw_batch, mw_window, mw_msgbuf). The plugin
 * defines the rest itself with MW_EXPORT:
 *
 *   MW_EXPORT("mw_init")    int32_t mw_init(uint32_t cfg_ptr, uint32_t cfg_len);
 *   MW_EXPORT("mw_process") int32_t mw_process(uint32_t n);
 *   and optionally mw_control, mw_state_save, mw_state_load.
 *
 * In mw_process, mw_hdr() is the batch header and mw_desc(i) descriptor i;
 * mw_data(d) points at the packet's bytes. Write a verdict into every
 * descriptor (MW_PASS, MW_DROP, MW_TX, or mw_redirect()); one left at 0 is
 * MW_ABORTED: dropped and counted as a plugin error.
 *
 * The packet window is taken with memory.grow, so it lies past everything
 * the plugin's static data uses and is page-aligned by construction. Memory
 * never shrinks; --max-memory must leave room for the host's window (16 MiB by
 * default) and the message buffer.
 */
#ifndef MEMIF_WASM_H
#define MEMIF_WASM_H

#if !defined(__wasm32__)
#error "memif_wasm.h targets wasm32: build with clang --target=wasm32"
#endif

typedef __UINT8_TYPE__ uint8_t;
typedef __UINT16_TYPE__ uint16_t;
typedef __UINT32_TYPE__ uint32_t;
typedef __UINT64_TYPE__ uint64_t;
typedef __INT32_TYPE__ int32_t;
typedef __SIZE_TYPE__ mw_size_t;

#define MW_EXPORT(name) __attribute__((export_name(name)))
#define MW_IMPORT(name) __attribute__((import_module("memif_wasm"), import_name(name)))

/* ABI constants: abi/abi.go and abi/layout.go are the reference. */
#define MW_ABI_VERSION 1u
#define MW_MAX_BURST 256u
#define MW_WINDOW_ALIGN 65536u
#define MW_BATCH_ALIGN 64u

enum mw_verdict { MW_ABORTED = 0, MW_DROP = 1, MW_PASS = 2, MW_TX = 3, MW_REDIRECT = 4 };

#define MW_FLAG_TRUNCATED 0x01u /* in: only the first snaplen bytes are present */
#define MW_FLAG_CHAINED 0x02u   /* in: linearised from several memif buffers */
#define MW_FLAG_MODIFIED 0x10u  /* out: the plugin rewrote bytes (a hint) */
#define MW_BATCH_FLAG_ZERO_COPY 0x0001u

enum mw_errno { MW_OK = 0, MW_EINVAL = 1, MW_ENOMEM = 2, MW_ENOTSUP = 3, MW_ERANGE = 4, MW_EINTERNAL = 5 };

enum mw_log_level { MW_LOG_DEBUG = -1, MW_LOG_INFO = 0, MW_LOG_WARN = 1, MW_LOG_ERROR = 2 };

struct mw_batch_hdr {
	uint32_t version;  /* MW_ABI_VERSION */
	uint32_t count;    /* descriptors that follow */
	uint64_t now_ns;   /* host monotonic clock at the start of the burst */
	uint32_t ifindex;  /* ingress interface */
	uint16_t queue;    /* ingress queue */
	uint16_t flags;    /* MW_BATCH_FLAG_* */
	uint32_t snaplen;  /* 0 = whole packets */
	uint32_t headroom; /* bytes before data the plugin may move data back into */
};

struct mw_desc {
	uint32_t data;    /* guest address of the packet's first byte; out: may move */
	uint16_t len;     /* in: length; out: new length */
	uint16_t cap;     /* writable bytes from the original data */
	uint8_t verdict;  /* out: enum mw_verdict */
	uint8_t flags;    /* in: MW_FLAG_TRUNCATED|CHAINED; out: MW_FLAG_MODIFIED */
	uint16_t in_port; /* ingress port */
	uint32_t meta;    /* in: memif metadata; out: REDIRECT target */
};

/* The layout is the ABI: these fail the build if the compiler disagrees. */
_Static_assert(sizeof(struct mw_batch_hdr) == 32, "batch header is 32 bytes");
_Static_assert(__builtin_offsetof(struct mw_batch_hdr, now_ns) == 8, "now_ns at 8");
_Static_assert(__builtin_offsetof(struct mw_batch_hdr, queue) == 20, "queue at 20");
_Static_assert(__builtin_offsetof(struct mw_batch_hdr, headroom) == 28, "headroom at 28");
_Static_assert(sizeof(struct mw_desc) == 16, "descriptor is 16 bytes");
_Static_assert(__builtin_offsetof(struct mw_desc, verdict) == 8, "verdict at 8");
_Static_assert(__builtin_offsetof(struct mw_desc, in_port) == 10, "in_port at 10");
_Static_assert(__builtin_offsetof(struct mw_desc, meta) == 12, "meta at 12");

/* ---- memory helpers (clang may also call memcpy/memset/memmove itself) ---- */

#ifndef MW_NO_LIBC_SHIMS
/* Weak, so a plugin linking its own libc wins. no_builtin keeps clang from
 * turning these loops back into calls to themselves. */
__attribute__((weak, no_builtin("memcpy"))) void *memcpy(void *dst, const void *src, mw_size_t n) {
	uint8_t *d = (uint8_t *)dst;
	const uint8_t *s = (const uint8_t *)src;
	while (n--) *d++ = *s++;
	return dst;
}
__attribute__((weak, no_builtin("memmove"))) void *memmove(void *dst, const void *src, mw_size_t n) {
	uint8_t *d = (uint8_t *)dst;
	const uint8_t *s = (const uint8_t *)src;
	if (d < s) {
		while (n--) *d++ = *s++;
	} else {
		while (n--) d[n] = s[n];
	}
	return dst;
}
__attribute__((weak, no_builtin("memset"))) void *memset(void *dst, int c, mw_size_t n) {
	uint8_t *d = (uint8_t *)dst;
	while (n--) *d++ = (uint8_t)c;
	return dst;
}
__attribute__((weak)) int memcmp(const void *a, const void *b, mw_size_t n) {
	const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;
	for (; n; n--, x++, y++)
		if (*x != *y) return *x - *y;
	return 0;
}
#endif

/* ---- host import ---- */

MW_IMPORT("log") void mw_host_log(int32_t level, const char *msg, uint32_t len);

/* mw_log sends one line to the host log (rate-limited there). It is a host
 * call of tens of ns: never per packet. */
static inline void mw_log(int32_t level, const char *msg) {
	uint32_t n = 0;
	while (msg[n]) n++;
	mw_host_log(level, msg, n);
}

/* ---- the shared exports: batch area, window, message buffer ---- */

#ifndef MW_MSGBUF_STATIC
#define MW_MSGBUF_STATIC 65536u /* the host's default message buffer */
#endif

static struct {
	struct mw_batch_hdr hdr;
	struct mw_desc desc[MW_MAX_BURST];
} mw__batch __attribute__((aligned(64)));

static uint8_t mw__msg_static[MW_MSGBUF_STATIC] __attribute__((aligned(8)));
static uint8_t *mw__msg = mw__msg_static;
static uint32_t mw__msg_cap = MW_MSGBUF_STATIC;
static uint32_t mw__window, mw__window_len;

/* mw__grow takes whole pages from the end of memory; 0 = cannot. */
static uint32_t mw__grow(uint32_t bytes) {
	uint32_t pages = (uint32_t)(((uint64_t)bytes + MW_WINDOW_ALIGN - 1) / MW_WINDOW_ALIGN);
	int old = __builtin_wasm_memory_grow(0, pages);
	if (old < 0 || pages == 0) return 0;
	return (uint32_t)old * MW_WINDOW_ALIGN;
}

MW_EXPORT("mw_abi_version") uint32_t mw_abi_version(void) { return MW_ABI_VERSION; }

MW_EXPORT("mw_batch") uint32_t mw_batch(uint32_t max_pkts) {
	if (max_pkts == 0 || max_pkts > MW_MAX_BURST) return 0;
	return (uint32_t)(mw_size_t)&mw__batch;
}

MW_EXPORT("mw_window") uint32_t mw_window(uint32_t bytes) {
	if (bytes == 0) return 0;
	if (mw__window_len >= bytes) return mw__window;
	uint32_t w = mw__grow(bytes);
	if (w == 0) return 0;
	mw__window = w;
	mw__window_len = bytes;
	return w;
}

MW_EXPORT("mw_msgbuf") uint32_t mw_msgbuf(uint32_t len) {
	if (len <= mw__msg_cap) return (uint32_t)(mw_size_t)mw__msg;
	uint32_t m = mw__grow(len);
	if (m == 0) return 0;
	memcpy((void *)(mw_size_t)m, mw__msg, mw__msg_cap);
	mw__msg = (uint8_t *)(mw_size_t)m;
	mw__msg_cap = len;
	return m;
}

/* ---- tables (ABI.md §11) ----
 *
 * Declare each table once, at file scope, and define MW_TABLES (the number of
 * tables declared) before including this header, so it defines mw_table:
 *
 *   #define MW_TABLES 1
 *   #include "memif_wasm.h"
 *   MW_TABLE_DECLARE(flows, MW_TABLE_HASH, 16, 8, 100000);
 *
 * The name is a C token of [a-z0-9_] (the ABI also allows '.' and '-', which
 * need a hand-written record). Declarations are numbered in the order the
 * linker places them: within one file, the order they appear. In mw_init,
 * mw_table_open(index, &t) checks the table the host mapped; then
 * mw_table_lookup(&t, key) (hash), mw_table_at(&t, i) (array) or
 * mw_table_match(&t, addr) (LPM: the longest prefix covering addr) return a
 * pointer to the value, or 0, with plain loads. A pointer stays valid until
 * the current export returns; never write through it.
 */
#define MW_TABLE_HASH 1 /* no suffix: MW_TABLE_DECLARE pastes it into assembly */
#define MW_TABLE_ARRAY 2
#define MW_TABLE_LPM4 3 /* key: a 4-byte IPv4 address */
#define MW_TABLE_LPM6 4 /* key: a 16-byte IPv6 address */
#define MW_TABLE_COUNTERS 5 /* key 4, value 8: a u64 per index, per worker; the plugin writes */
#define MW_COUNTER_MAGIC 0x5243574du
#define MW_TABLE_MAGIC 0x4254574du
#define MW_TABLE_HDR 64u
#define MW_TABLE_COPY_HDR 64u
#define MW_TABLE_TAG_FULL 0x80000000u

#define MW__STR(x) #x
#define MW__XSTR(x) MW__STR(x)
/* One declaration record in the memif_wasm.tables custom section. */
#define MW_TABLE_DECLARE(name, kind, key_size, value_size, max_entries) \
	MW__TABLE_RECORD(name, kind, 0, key_size, value_size, max_entries)
/* MW_TABLE_DECLARE_RW declares a table this plugin also writes, with
 * mw_table_put and mw_table_delete (hash, array and LPM kinds). */
#define MW_TABLE_DECLARE_RW(name, kind, key_size, value_size, max_entries) \
	MW__TABLE_RECORD(name, kind, 1, key_size, value_size, max_entries)
#define MW__TABLE_RECORD(name, kind, flags, key_size, value_size, max_entries)        \
	__asm__(".section .custom_section.memif_wasm.tables,\"\",@\n"                    \
	        ".int8 1\n.int8 " MW__XSTR(kind) "\n.int8 " #flags "\n.int8 0\n"          \
	        ".int32 " MW__XSTR(key_size) "\n.int32 " MW__XSTR(value_size) "\n"        \
	        ".int32 " MW__XSTR(max_entries) "\n.asciz \"" #name "\"\n"                \
	        ".section .text,\"\",@\n")

#ifdef MW_TABLES
static uint32_t mw__tables[MW_TABLES];

MW_EXPORT("mw_table") uint32_t mw_table(uint32_t index, uint32_t bytes) {
	if (index >= MW_TABLES || bytes == 0) return 0;
	uint32_t a = mw__grow(bytes);
	mw__tables[index] = a;
	return a;
}
#endif

struct mw_table {
	const uint8_t *base;
	uint32_t kind, key_size, value_size, max_entries, slots, slot_size, seed, voff;
	uint32_t slot_key; /* key bytes in a slot: an LPM prefix's length, then its address */
	uint32_t copy[2];
};

/* mw_table_open fills t for table index; 0, or -MW_EINVAL if the host mapped none there. */
static inline int32_t mw_table_open(uint32_t index, struct mw_table *t) {
#ifdef MW_TABLES
	if (index >= MW_TABLES || mw__tables[index] == 0) return -MW_EINVAL;
	const uint8_t *b = (const uint8_t *)(mw_size_t)mw__tables[index];
	const uint32_t *h = (const uint32_t *)b;
	if (h[0] == MW_COUNTER_MAGIC && h[1] == 1u && h[2] == MW_TABLE_COUNTERS) {
		/* A counters table: this mapping is the instance's own row. */
		t->base = b;
		t->kind = MW_TABLE_COUNTERS;
		t->key_size = 4;
		t->value_size = 8;
		t->max_entries = h[3];
		return 0;
	}
	if (h[0] != MW_TABLE_MAGIC || h[1] != 1u) return -MW_EINVAL;
	t->base = b;
	t->kind = h[2];
	t->key_size = h[3];
	t->value_size = h[4];
	t->max_entries = h[5];
	t->slots = h[6];
	t->slot_size = h[7];
	t->seed = h[8];
	t->copy[0] = h[10];
	t->copy[1] = h[11];
	t->slot_key = t->key_size + (t->kind == MW_TABLE_LPM4 || t->kind == MW_TABLE_LPM6);
	t->voff = (4u + t->slot_key + 7u) & ~7u;
	if (t->slot_key > 65u || t->slots == 0 || (t->kind != MW_TABLE_ARRAY && (t->slots & (t->slots - 1)))) return -MW_EINVAL;
	return 0;
#else
	(void)index;
	(void)t;
	return -MW_EINVAL;
#endif
}

/* The slots of the copy the host publishes now. */
static inline const uint8_t *mw__table_slots(const struct mw_table *t) {
	uint32_t active = *(const volatile uint32_t *)(t->base + 36) & 1u;
	return t->base + t->copy[active] + MW_TABLE_COPY_HDR;
}

/* mw_table_len is the number of entries the published copy holds. */
static inline uint32_t mw_table_len(const struct mw_table *t) {
	uint32_t active = *(const volatile uint32_t *)(t->base + 36) & 1u;
	return *(const uint32_t *)(t->base + t->copy[active]);
}

static inline uint32_t mw__rotmix(uint32_t h, uint32_t w) {
	h = (h ^ w) * 0x9e3779b1u;
	return h ^ (h >> 15);
}

/* mw_hash32 is the table hash (abi.Hash): seeded, over 4-byte LE words. */
static inline uint32_t mw_hash32(uint32_t seed, const uint8_t *k, uint32_t len) {
	uint32_t h = seed ^ (len * 0x9e3779b1u), i = 0;
	for (; i + 4 <= len; i += 4) {
		uint32_t w;
		__builtin_memcpy(&w, k + i, 4);
		h = mw__rotmix(h, w);
	}
	if (i < len) {
		uint32_t w = 0;
		for (uint32_t j = 0; i + j < len; j++) w |= (uint32_t)k[i + j] << (8 * j);
		h = mw__rotmix(h, w);
	}
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	return h ^ (h >> 16);
}

/* mw__keyeq compares n key bytes 8, then 4, then 1 at a time (memcmp here
 * is a byte loop, and keys are short). */
static inline int mw__keyeq(const uint8_t *a, const uint8_t *b, uint32_t n) {
	for (; n >= 8; n -= 8, a += 8, b += 8) {
		uint64_t x, y;
		__builtin_memcpy(&x, a, 8);
		__builtin_memcpy(&y, b, 8);
		if (x != y) return 0;
	}
	if (n >= 4) {
		uint32_t x, y;
		__builtin_memcpy(&x, a, 4);
		__builtin_memcpy(&y, b, 4);
		if (x != y) return 0;
		n -= 4, a += 4, b += 4;
	}
	for (; n; n--)
		if (*a++ != *b++) return 0;
	return 1;
}

static inline const void *mw__table_find(const struct mw_table *t, const uint8_t *slots, const void *key) {
	uint32_t h = mw_hash32(t->seed, (const uint8_t *)key, t->slot_key);
	uint32_t tag = h | MW_TABLE_TAG_FULL, mask = t->slots - 1, i = h & mask;
	for (uint32_t n = 0; n < t->slots; n++, i = (i + 1) & mask) {
		const uint8_t *s = slots + i * t->slot_size;
		uint32_t st = *(const uint32_t *)s;
		if (st == 0) return 0;
		if (st == tag && mw__keyeq(s + 4, (const uint8_t *)key, t->slot_key)) return s + t->voff;
	}
	return 0;
}

/* mw_table_lookup returns the value of key (key_size bytes) in a hash table, or 0. */
static inline const void *mw_table_lookup(const struct mw_table *t, const void *key) {
	if (t->kind != MW_TABLE_HASH) return 0;
	return mw__table_find(t, mw__table_slots(t), key);
}

/* mw_table_match returns the value of the longest prefix in an LPM table
 * that covers addr (key_size bytes, network order), or 0. It probes once per
 * prefix length present, longest first. */
static inline const void *mw_table_match(const struct mw_table *t, const void *addr) {
	if (t->kind != MW_TABLE_LPM4 && t->kind != MW_TABLE_LPM6) return 0;
	uint32_t active = *(const volatile uint32_t *)(t->base + 36) & 1u;
	const uint8_t *copy = t->base + t->copy[active];
	const uint8_t *bm = copy + 8, *a = (const uint8_t *)addr, *slots = copy + MW_TABLE_COPY_HDR;
	uint8_t k[17];
	for (int l = (int)(8 * t->key_size); l >= 0; l--) {
		if (!(bm[l >> 3] & (1u << (l & 7)))) continue;
		k[0] = (uint8_t)l;
		for (uint32_t i = 0; i < t->key_size; i++) {
			int keep = l - 8 * (int)i;
			keep = keep < 0 ? 0 : keep > 8 ? 8 : keep;
			k[1 + i] = a[i] & (uint8_t)(0xff00u >> keep);
		}
		const void *v = mw__table_find(t, slots, k);
		if (v) return v;
	}
	return 0;
}

MW_IMPORT("table_put") int32_t mw__table_put(uint32_t index, const void *key, const void *value);
MW_IMPORT("table_delete") int32_t mw__table_delete(uint32_t index, const void *key);

/* mw_table_put asks the host to put key -> value into declared table index
 * (declared with MW_TABLE_DECLARE_RW; an LPM key is the address then the
 * prefix length byte). The change is queued and published by the host
 * after the current call, to every worker at once: this call's lookups do
 * not see it yet. 0, or -MW_EINVAL (not writable, bad prefix), -MW_ERANGE
 * (array index), -MW_ENOMEM (the queue is full: retry on a later burst). A
 * put the table cannot take when it is published (it is full) is dropped
 * and counted as a failed update. */
static inline int32_t mw_table_put(uint32_t index, const void *key, const void *value) {
	return mw__table_put(index, key, value);
}

/* mw_table_delete queues the removal of key, as mw_table_put queues a put. */
static inline int32_t mw_table_delete(uint32_t index, const void *key) { return mw__table_delete(index, key); }

/* mw_counter_add adds delta to counter i of a counters table (this
 * worker's row: no other writer, no atomics needed); past the end it does
 * nothing. The host sums every worker's row when the control plane reads. */
static inline void mw_counter_add(const struct mw_table *t, uint32_t i, uint64_t delta) {
	if (t->kind != MW_TABLE_COUNTERS || i >= t->max_entries) return;
	uint64_t *c = (uint64_t *)(mw_size_t)(t->base + 64) + i;
	*c += delta;
}

/* mw_table_at returns the value at index i of an array table, or 0 past its end. */
static inline const void *mw_table_at(const struct mw_table *t, uint32_t i) {
	if (t->kind != MW_TABLE_ARRAY || i >= t->max_entries) return 0;
	return mw__table_slots(t) + i * t->slot_size;
}

/* ---- batch access ---- */

static inline struct mw_batch_hdr *mw_hdr(void) { return &mw__batch.hdr; }
static inline struct mw_desc *mw_desc(uint32_t i) { return &mw__batch.desc[i]; }
static inline uint8_t *mw_data(const struct mw_desc *d) { return (uint8_t *)(mw_size_t)d->data; }

/* mw_msg is the message buffer: where a control reply or saved state goes
 * (mw_control and mw_state_save return its length). mw_msg_cap is its size. */
static inline uint8_t *mw_msg(void) { return mw__msg; }
static inline uint32_t mw_msg_cap(void) { return mw__msg_cap; }

static inline void mw_redirect(struct mw_desc *d, uint32_t port) {
	d->verdict = MW_REDIRECT;
	d->meta = port;
}

/* mw_set_len sets a packet's length; 0 if it exceeds cap or the host cannot
 * resize the packet (truncated or chained). */
static inline int mw_set_len(struct mw_desc *d, uint32_t len) {
	if (len > d->cap || (d->flags & (MW_FLAG_TRUNCATED | MW_FLAG_CHAINED))) return 0;
	d->len = (uint16_t)len;
	d->flags |= MW_FLAG_MODIFIED;
	return 1;
}

/* ---- byte order ---- */

static inline uint16_t mw_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t mw_be32(const uint8_t *p) {
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void mw_put_be16(uint8_t *p, uint16_t v) {
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void mw_put_be32(uint8_t *p, uint32_t v) {
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline uint16_t mw_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t mw_le32(const uint8_t *p) {
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- headers ---- */

#define MW_ETH_LEN 14u
#define MW_ETHERTYPE_IPV4 0x0800u
#define MW_ETHERTYPE_ARP 0x0806u
#define MW_ETHERTYPE_VLAN 0x8100u
#define MW_ETHERTYPE_QINQ 0x88a8u
#define MW_ETHERTYPE_IPV6 0x86ddu
#define MW_PROTO_ICMP 1u
#define MW_PROTO_TCP 6u
#define MW_PROTO_UDP 17u
#define MW_PROTO_ICMPV6 58u

/* mw_l3 returns the offset of the network header after up to two VLAN tags
 * and stores the innermost ethertype, or returns 0 for a runt frame. */
static inline uint32_t mw_l3(const uint8_t *pkt, uint32_t len, uint16_t *ethertype) {
	if (len < MW_ETH_LEN) return 0;
	uint32_t off = 12;
	uint16_t et = mw_be16(pkt + off);
	for (int i = 0; i < 2 && (et == MW_ETHERTYPE_VLAN || et == MW_ETHERTYPE_QINQ); i++) {
		if (len < off + 6) return 0;
		off += 4;
		et = mw_be16(pkt + off);
	}
	*ethertype = et;
	return off + 2;
}

/* ---- checksums (RFC 1071, RFC 1624) ---- */

/* mw_csum_add adds len bytes to a partial ones'-complement sum. */
static inline uint32_t mw_csum_add(uint32_t sum, const uint8_t *p, uint32_t len) {
	uint64_t s = sum;
	for (; len >= 2; p += 2, len -= 2) s += mw_be16(p);
	if (len) s += (uint32_t)p[0] << 8;
	while (s >> 16) s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

static inline uint16_t mw_csum_fold(uint32_t s) {
	while (s >> 16) s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* mw_csum returns the Internet checksum of len bytes (0 when they verify). */
static inline uint16_t mw_csum(const uint8_t *p, uint32_t len) { return (uint16_t)~mw_csum_fold(mw_csum_add(0, p, len)); }

/* mw_csum_update16 patches checksum c for a 16-bit field changed from old to
 * new: RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'). */
static inline uint16_t mw_csum_update16(uint16_t c, uint16_t old, uint16_t new_) {
	uint32_t s = (uint16_t)~c + (uint32_t)(uint16_t)~old + new_;
	return (uint16_t)~mw_csum_fold(s);
}

static inline uint16_t mw_csum_update32(uint16_t c, uint32_t old, uint32_t new_) {
	return mw_csum_update16(mw_csum_update16(c, (uint16_t)(old >> 16), (uint16_t)(new_ >> 16)), (uint16_t)old,
	                        (uint16_t)new_);
}

#endif /* MEMIF_WASM_H */
