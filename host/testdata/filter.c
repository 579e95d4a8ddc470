// filter.c: a C plugin for tests and benchmarks. It drops UDP to port 53
// over IPv4 and passes everything else (the usual 2-check filter).
// Build: clang --target=wasm32 -nostdlib -O2 -Wl,--no-entry -Wl,--export-dynamic
//        -Wl,--max-memory=33554432 -o filter.wasm filter.c
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

struct desc { u32 data; u16 len, cap; u8 verdict, flags; u16 in_port; u32 meta; };
struct batch { u32 version, n; unsigned long long now; u32 ifindex; u16 queue, flags; u32 snaplen, headroom; struct desc d[256]; };

static struct batch b __attribute__((aligned(64)));
static u8 msg[65536];
static u8 window[16 << 20] __attribute__((aligned(65536)));

#define EXPORT(name) __attribute__((export_name(name)))

EXPORT("mw_abi_version") u32 abi_version(void) { return 1; }
EXPORT("mw_batch") u32 mw_batch(u32 n) { return n <= 256 ? (u32)&b : 0; }
EXPORT("mw_window") u32 mw_window(u32 n) { return n <= sizeof window ? (u32)window : 0; }
EXPORT("mw_msgbuf") u32 mw_msgbuf(u32 n) { return n <= sizeof msg ? (u32)msg : 0; }
EXPORT("mw_init") int mw_init(u32 p, u32 n) { return 0; }
EXPORT("mw_process") int mw_process(u32 n) {
	for (u32 i = 0; i < n; i++) {
		struct desc *d = &b.d[i];
		const u8 *p = (const u8 *)d->data;
		d->verdict = 2;
		if (d->len >= 38 && p[12] == 0x08 && p[13] == 0 && p[23] == 17 && p[36] == 0 && p[37] == 53)
			d->verdict = 1;
	}
	return 0;
}
