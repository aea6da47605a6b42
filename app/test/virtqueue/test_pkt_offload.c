/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit suite for the software offloads (pkt_offload.c): header parsing,
 * checksum completion, the IPv4 header checksum, packet copies and TCP /
 * UDP segmentation. Frames are built here byte by byte (no DPDK header
 * structs), fed as one mbuf or as a chain cut at odd offsets, and every
 * output byte is compared with what the test expects. Checksums are
 * verified with the test's own ones' complement loop (ref_sum), never with
 * the library's code path.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_mbuf.h>
#include <rte_mbuf_ptype.h>
#include <rte_mempool.h>

#include "pkt_offload.h"
#include "net_ref.h"
#include "virtq_driver.h"

#define PROTO_TCP 6
#define PROTO_UDP 17
#define MAX_FRAME 70000
#define BATCH 97

static struct rte_mempool *big_pool;  /* one mbuf holds any input frame */
static struct rte_mempool *in_pool;   /* pieces of chained inputs */
static struct rte_mempool *out_pool;  /* 2 KiB: segments chain past it */
static struct rte_mempool *odd_pool;  /* 777 B of room: odd boundaries */

/* ------------------------------------------------------ byte helpers */

/* ---------------------------------------------------------- frames */

struct fspec {
	bool v6;
	bool udp;
	int vlans;       /* 0, 1 (802.1Q) or 2 (QinQ) */
	uint8_t ip_opt;  /* IPv4 option bytes, a multiple of 4 */
	uint8_t ext;     /* IPv6 hop-by-hop header bytes, multiple of 8 */
	uint8_t tcp_opt; /* TCP option bytes, a multiple of 4 */
};

struct flay {
	uint32_t l2, l3, l4, hdr, len;
};

#define SEQ0 0xffffff00u /* wraps within a few hundred bytes */
#define ID0 0xfffdu      /* wraps at the third segment */
#define TCP_FLAGS0 0xd9  /* CWR ECE ACK PSH FIN */

static const uint8_t v4_src[4] = { 10, 0, 0, 1 };
static const uint8_t v4_dst[4] = { 192, 168, 255, 254 };
static const uint8_t v6_src[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xfe,
				    [15] = 1 };
static const uint8_t v6_dst[16] = { 0xfe, 0x80, [8] = 0xff, 0xff, 0xff,
				    [15] = 2 };

static void
fill_payload(uint8_t *p, uint32_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 12345;

	for (uint32_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345;
		p[i] = (uint8_t)(x >> 16);
	}
}

/*
 * Write a frame of payload bytes after the headers s asks for into b. The
 * lengths in the IP and L4 headers are set (truncated to 16 bits), the
 * checksums are left 0.
 */
static void
build_frame(uint8_t *b, const struct fspec *s, uint32_t payload,
	    struct flay *lay)
{
	uint32_t o = 12, l3, l4, l4_len;
	uint8_t proto = s->udp ? PROTO_UDP : PROTO_TCP;

	memset(b, 0, 128);
	for (int i = 0; i < 6; i++) {
		b[i] = (uint8_t)(0x02 + i);
		b[6 + i] = (uint8_t)(0xa0 + i);
	}
	if (s->vlans == 2) {
		put16(b + o, 0x88a8);
		put16(b + o + 2, 0x0064);
		o += 4;
	}
	if (s->vlans >= 1) {
		put16(b + o, 0x8100);
		put16(b + o + 2, 0xe0c8);
		o += 4;
	}
	put16(b + o, s->v6 ? 0x86dd : 0x0800);
	o += 2;
	lay->l2 = o;
	l4_len = s->udp ? 8 : 20u + s->tcp_opt;

	if (!s->v6) {
		l3 = 20u + s->ip_opt;
		b[o] = (uint8_t)(0x40 | l3 / 4);
		b[o + 1] = 0x10;
		put16(b + o + 2, l3 + l4_len + payload);
		put16(b + o + 4, ID0);
		put16(b + o + 6, 0x4000); /* DF */
		b[o + 8] = 64;
		b[o + 9] = proto;
		memcpy(b + o + 12, v4_src, 4);
		memcpy(b + o + 16, v4_dst, 4);
		memset(b + o + 20, 0x01, s->ip_opt); /* NOPs */
	} else {
		l3 = 40u + s->ext;
		put32(b + o, 0x6abcdef1);
		put16(b + o + 4, s->ext + l4_len + payload);
		b[o + 6] = s->ext ? 0 : proto;
		b[o + 7] = 64;
		memcpy(b + o + 8, v6_src, 16);
		memcpy(b + o + 24, v6_dst, 16);
		if (s->ext) {
			b[o + 40] = proto;
			b[o + 41] = (uint8_t)(s->ext / 8 - 1);
			b[o + 42] = 1; /* PadN over the rest */
			b[o + 43] = (uint8_t)(s->ext - 4);
			memset(b + o + 44, 0, s->ext - 4u);
		}
	}
	lay->l3 = l3;
	o += l3;

	l4 = o;
	put16(b + o, 0xc350);
	put16(b + o + 2, s->udp ? 0x1f90 : 0x0050);
	if (s->udp) {
		put16(b + o + 4, 8 + payload);
	} else {
		put32(b + o + 4, SEQ0);
		put32(b + o + 8, 0x01020304);
		b[o + 12] = (uint8_t)((l4_len / 4) << 4);
		b[o + 13] = TCP_FLAGS0;
		put16(b + o + 14, 0xfaf0);
		for (uint32_t i = 0; i < s->tcp_opt; i++)
			b[o + 20 + i] = i < 2 ? 0x01 : (uint8_t)(0xf0 + i);
	}
	lay->l4 = l4_len;
	lay->hdr = l4 + l4_len;
	lay->len = lay->hdr + payload;
	fill_payload(b + lay->hdr, payload, payload + l4_len);
}

/* The test's own pseudo-header sum of a frame's L3 header at l3. */
static uint16_t
ref_pseudo(const uint8_t *l3, bool v6, uint8_t proto, uint32_t l4_total)
{
	uint8_t ph[40];
	size_t n;

	memset(ph, 0, sizeof(ph));
	if (!v6) {
		memcpy(ph, l3 + 12, 8);
		ph[9] = proto;
		put16(ph + 10, l4_total);
		n = 12;
	} else {
		memcpy(ph, l3 + 8, 32);
		put32(ph + 32, l4_total);
		ph[39] = proto;
		n = 40;
	}
	return ref_sum(ph, n, 0);
}

/* ---------------------------------------------------------- mbufs */

/* One mbuf holding the whole frame. */
static struct rte_mbuf *
mbuf_single(const uint8_t *b, uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(big_pool);

	assert_non_null(m);
	assert_true(len <= rte_pktmbuf_tailroom(m));
	memcpy(rte_pktmbuf_mtod(m, uint8_t *), b, len);
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	return m;
}

/*
 * A chain of pieces of the sizes in cuts (cycled; a 0 gives an empty
 * segment), the last piece taking what is left.
 */
static struct rte_mbuf *
mbuf_chain(const uint8_t *b, uint32_t len, const uint16_t *cuts,
	   size_t ncuts)
{
	struct rte_mbuf *head = NULL, *tail = NULL;
	uint32_t done = 0;
	size_t i = 0;

	do {
		struct rte_mbuf *m = rte_pktmbuf_alloc(in_pool);
		uint32_t n = RTE_MIN((uint32_t)cuts[i++ % ncuts], len - done);

		assert_non_null(m);
		memcpy(rte_pktmbuf_mtod(m, uint8_t *), b + done, n);
		m->data_len = (uint16_t)n;
		if (head == NULL) {
			head = m;
		} else {
			tail->next = m;
			head->nb_segs++;
		}
		tail = m;
		done += n;
	} while (done < len);
	head->pkt_len = len;
	return head;
}

static const uint16_t odd_cuts[] = { 13, 1, 0, 777, 1999, 3, 41 };

static struct rte_mbuf *
mbuf_make(const uint8_t *b, uint32_t len, bool chain)
{
	return chain ? mbuf_chain(b, len, odd_cuts, RTE_DIM(odd_cuts)) :
		       mbuf_single(b, len);
}

/* Flatten m into out, checking pkt_len and nb_segs against its segments. */
static uint32_t
flatten(const struct rte_mbuf *m, uint8_t *out)
{
	uint32_t n = 0, segs = 0;

	for (const struct rte_mbuf *s = m; s != NULL; s = s->next) {
		memcpy(out + n, rte_pktmbuf_mtod(s, const uint8_t *),
		       s->data_len);
		n += s->data_len;
		segs++;
	}
	assert_int_equal(n, m->pkt_len);
	assert_int_equal(segs, m->nb_segs);
	return n;
}

/* ---------------------------------------------------------- parse */

static void
expect_parse(const struct fspec *s, bool chain)
{
	static uint8_t b[4096];
	struct vhu_pkt_hdrs h;
	struct flay lay;
	struct rte_mbuf *m;
	uint32_t l3t, l4t, l2t;

	build_frame(b, s, 100, &lay);
	m = mbuf_make(b, lay.len, chain);
	assert_int_equal(vhu_pkt_parse(m, &h), 0);
	assert_int_equal(h.l2_len, lay.l2);
	assert_int_equal(h.l3_len, lay.l3);
	assert_int_equal(h.l4_len, lay.l4);
	assert_int_equal(h.l4_proto, s->udp ? PROTO_UDP : PROTO_TCP);
	assert_int_equal(h.ipv4, !s->v6);
	l2t = h.ptype & RTE_PTYPE_L2_MASK;
	l3t = h.ptype & RTE_PTYPE_L3_MASK;
	l4t = h.ptype & RTE_PTYPE_L4_MASK;
	assert_int_equal(l2t, s->vlans == 2 ? RTE_PTYPE_L2_ETHER_QINQ :
			      s->vlans == 1 ? RTE_PTYPE_L2_ETHER_VLAN :
					      RTE_PTYPE_L2_ETHER);
	if (s->v6)
		assert_int_equal(l3t, s->ext ? RTE_PTYPE_L3_IPV6_EXT :
					       RTE_PTYPE_L3_IPV6);
	else
		assert_int_equal(l3t, s->ip_opt ? RTE_PTYPE_L3_IPV4_EXT :
						  RTE_PTYPE_L3_IPV4);
	assert_int_equal(l4t, s->udp ? RTE_PTYPE_L4_UDP : RTE_PTYPE_L4_TCP);
	rte_pktmbuf_free(m);

	/* every cut inside the headers is refused; at their end, accepted */
	for (uint32_t len = 0; len <= lay.hdr; len++) {
		int want = len == lay.hdr ? 0 : -EINVAL;

		m = mbuf_make(b, len, chain);
		assert_int_equal(vhu_pkt_parse(m, &h), want);
		if (want != 0)
			assert_int_equal(h.l4_proto, 0);
		rte_pktmbuf_free(m);
	}
}

static void
test_parse_ok(void **state)
{
	static const struct fspec specs[] = {
		{ .v6 = false, .udp = false },
		{ .v6 = false, .udp = true },
		{ .v6 = true, .udp = false },
		{ .v6 = true, .udp = true },
		{ .v6 = false, .udp = false, .vlans = 1 },
		{ .v6 = true, .udp = true, .vlans = 2 },
		{ .v6 = false, .udp = true, .vlans = 2, .ip_opt = 8 },
		{ .v6 = false, .udp = false, .ip_opt = 40, .tcp_opt = 40 },
		{ .v6 = true, .udp = false, .ext = 8, .tcp_opt = 12 },
		{ .v6 = true, .udp = true, .vlans = 1, .ext = 24 },
	};

	(void)state;
	for (size_t i = 0; i < RTE_DIM(specs); i++) {
		expect_parse(&specs[i], false);
		expect_parse(&specs[i], true);
	}
}

/* Parse b (len bytes) and expect -EINVAL with l4_proto 0. */
static void
expect_reject(const uint8_t *b, uint32_t len)
{
	struct vhu_pkt_hdrs h;
	struct rte_mbuf *m = mbuf_single(b, len);

	assert_int_equal(vhu_pkt_parse(m, &h), -EINVAL);
	assert_int_equal(h.l4_proto, 0);
	rte_pktmbuf_free(m);
}

static void
test_parse_reject(void **state)
{
	static uint8_t b[4096];
	struct fspec s = { .v6 = false };
	struct flay lay;
	uint32_t o;

	(void)state;
	/* non-IP: ARP */
	build_frame(b, &s, 100, &lay);
	put16(b + 12, 0x0806);
	expect_reject(b, lay.len);

	/* IPv4 fragments: more-fragments, then a non-zero offset */
	build_frame(b, &s, 100, &lay);
	put16(b + lay.l2 + 6, 0x2000);
	expect_reject(b, lay.len);
	put16(b + lay.l2 + 6, 0x0010);
	expect_reject(b, lay.len);
	/* the DF bit alone is no fragment */
	put16(b + lay.l2 + 6, 0x4000);
	{
		struct vhu_pkt_hdrs h;
		struct rte_mbuf *m = mbuf_single(b, lay.len);

		assert_int_equal(vhu_pkt_parse(m, &h), 0);
		rte_pktmbuf_free(m);
	}

	/* neither TCP nor UDP: ICMP, then IP in IP (a tunnel) */
	b[lay.l2 + 9] = 1;
	expect_reject(b, lay.len);
	b[lay.l2 + 9] = 4;
	expect_reject(b, lay.len);

	/* IPv4 header length under 5 words; version 5 */
	build_frame(b, &s, 100, &lay);
	b[lay.l2] = 0x44;
	expect_reject(b, lay.len);
	b[lay.l2] = 0x55;
	expect_reject(b, lay.len);

	/* TCP data offset under 5 words */
	build_frame(b, &s, 100, &lay);
	b[lay.l2 + lay.l3 + 12] = 0x40;
	expect_reject(b, lay.len);

	/* IPv6 fragment header */
	s.v6 = true;
	build_frame(b, &s, 100, &lay);
	o = lay.l2;
	b[o + 6] = 44;
	memmove(b + o + 48, b + o + 40, lay.len - o - 40);
	memset(b + o + 40, 0, 8);
	b[o + 40] = PROTO_TCP;
	expect_reject(b, lay.len + 8);

	/* IPv6 options header running past the packet */
	s.ext = 8;
	build_frame(b, &s, 0, &lay);
	b[lay.l2 + 41] = 200;
	expect_reject(b, lay.len);

	/*
	 * IPv4 options (UDP: its header is not read) and TCP options running
	 * past the packet
	 */
	s = (struct fspec){ .udp = true };
	build_frame(b, &s, 0, &lay);
	b[lay.l2] = 0x4f;
	expect_reject(b, lay.len);
	s = (struct fspec){ .udp = false };
	build_frame(b, &s, 0, &lay);
	b[lay.l2 + lay.l3 + 12] = 0xf0;
	expect_reject(b, lay.len);

	/* shorter than an Ethernet header */
	expect_reject(b, 13);
}

/* ---------------------------------------------------------- writable */

static void
test_writable(void **state)
{
	static uint8_t b[4096];
	struct fspec s = { .udp = true };
	struct flay lay;
	struct rte_mbuf *m, *c, *clone;

	(void)state;
	build_frame(b, &s, 3000, &lay);
	m = mbuf_single(b, lay.len);
	assert_true(vhu_pkt_writable(m, 0));
	assert_true(vhu_pkt_writable(m, lay.len));
	assert_false(vhu_pkt_writable(m, lay.len + 1));
	rte_mbuf_refcnt_update(m, 1);
	assert_false(vhu_pkt_writable(m, 10));
	rte_mbuf_refcnt_update(m, -1);
	assert_true(vhu_pkt_writable(m, 10));

	/* a clone is indirect; and it makes the original's refcnt 2 */
	clone = rte_pktmbuf_clone(m, in_pool);
	assert_non_null(clone);
	assert_false(vhu_pkt_writable(clone, 10));
	assert_false(vhu_pkt_writable(m, 10));
	rte_pktmbuf_free(clone);
	assert_true(vhu_pkt_writable(m, 10));
	rte_pktmbuf_free(m);

	/* chains: only the first segment counts for upto */
	c = mbuf_chain(b, lay.len, odd_cuts, RTE_DIM(odd_cuts));
	assert_true(vhu_pkt_writable(c, 13));
	assert_false(vhu_pkt_writable(c, 14));
	rte_mbuf_refcnt_update(c->next->next, 1);
	assert_false(vhu_pkt_writable(c, 13));
	rte_mbuf_refcnt_update(c->next->next, -1);
	rte_pktmbuf_free(c);
}

/* ---------------------------------------------------------- checksums */

/*
 * Seed the L4 checksum field of frame b with the pseudo-header sum, as a
 * NEEDS_CSUM sender does.
 */
static void
seed_pseudo(uint8_t *b, const struct fspec *s, const struct flay *lay)
{
	uint32_t l4o = lay->l2 + lay->l3;
	uint32_t fo = l4o + (s->udp ? 6 : 16);

	put16(b + fo, ref_pseudo(b + lay->l2, s->v6,
				 s->udp ? PROTO_UDP : PROTO_TCP,
				 lay->len - l4o));
}

/* Check that m's L4 checksum verifies, by the reference sum. */
static void
verify_l4(const struct rte_mbuf *m, const struct fspec *s,
	  const struct flay *lay, uint8_t *flat)
{
	uint32_t n = flatten(m, flat);
	uint32_t l4o = lay->l2 + lay->l3;
	uint16_t sum = ref_pseudo(flat + lay->l2, s->v6,
				  s->udp ? PROTO_UDP : PROTO_TCP, n - l4o);

	assert_int_equal(ref_sum(flat + l4o, n - l4o, sum), 0xffff);
}

static void
test_cksum_finish(void **state)
{
	static uint8_t b[8192], flat[8192];
	static const struct fspec specs[] = {
		{ .udp = false, .vlans = 1, .tcp_opt = 12 },
		{ .udp = true },
		{ .v6 = true, .udp = false, .ext = 8 },
		{ .v6 = true, .udp = true },
	};
	static const uint32_t payloads[] = { 0, 1, 2, 101, 3001 };

	(void)state;
	for (size_t i = 0; i < RTE_DIM(specs); i++) {
		const struct fspec *s = &specs[i];

		for (size_t p = 0; p < RTE_DIM(payloads); p++) {
			struct flay lay;
			uint32_t l4o, off;
			uint16_t cuts[3];
			struct rte_mbuf *m;

			build_frame(b, s, payloads[p], &lay);
			seed_pseudo(b, s, &lay);
			l4o = lay.l2 + lay.l3;
			off = s->udp ? 6 : 16;

			/* field in the first segment */
			m = mbuf_single(b, lay.len);
			assert_int_equal(vhu_pkt_cksum_finish(m, l4o, off,
							      s->udp), 0);
			verify_l4(m, s, &lay, flat);
			rte_pktmbuf_free(m);

			/*
			 * cuts relative to the field at f: in the second
			 * segment; straddling the first two; straddling the
			 * second and third, pieces of 5 and 3 bytes after
			 */
			for (uint32_t c = 0; c < 3; c++) {
				uint32_t f = l4o + off;

				cuts[0] = (uint16_t)(c == 0 ? f - 7 :
						     c == 1 ? f + 1 : f - 4);
				cuts[1] = c == 0 ? 1500 : c == 1 ? 1 : 5;
				cuts[2] = c == 0 ? 777 : 3;
				m = mbuf_chain(b, lay.len, cuts, 3);
				assert_int_equal(vhu_pkt_cksum_finish(
							 m, l4o, off, s->udp),
						 0);
				verify_l4(m, s, &lay, flat);
				rte_pktmbuf_free(m);
			}
		}
	}
}

static void
test_cksum_finish_udp_zero(void **state)
{
	static uint8_t b[4096], flat[4096];
	struct fspec s = { .udp = true };
	uint16_t cuts[] = { 41, 1, 5 };
	struct flay lay;
	struct rte_mbuf *m;
	uint32_t l4o;
	uint16_t rest;

	(void)state;
	build_frame(b, &s, 100, &lay);
	seed_pseudo(b, &s, &lay);
	l4o = lay.l2 + lay.l3;
	/* make the sum of everything 0xffff: the checksum computes to 0 */
	put16(b + lay.len - 2, 0);
	rest = ref_sum(b + l4o, lay.len - l4o, 0);
	put16(b + lay.len - 2, (uint16_t)~rest);
	assert_int_equal(ref_sum(b + l4o, lay.len - l4o, 0), 0xffff);

	for (int chain = 0; chain < 2; chain++) {
		m = chain ? mbuf_chain(b, lay.len, cuts, 3) :
			    mbuf_single(b, lay.len);
		assert_int_equal(vhu_pkt_cksum_finish(m, l4o, 6, true), 0);
		flatten(m, flat);
		assert_int_equal(get16(flat + l4o + 6), 0xffff);
		rte_pktmbuf_free(m);

		/* TCP-style: 0 stays 0 */
		m = chain ? mbuf_chain(b, lay.len, cuts, 3) :
			    mbuf_single(b, lay.len);
		assert_int_equal(vhu_pkt_cksum_finish(m, l4o, 6, false), 0);
		flatten(m, flat);
		assert_int_equal(get16(flat + l4o + 6), 0);
		rte_pktmbuf_free(m);
	}
}

static void
test_cksum_finish_range(void **state)
{
	static uint8_t b[4096], flat[4096];
	struct rte_mbuf *m;
	uint32_t len = 200;

	(void)state;
	fill_payload(b, len, 7);
	/* a zero seed: the completed sum of [100, 200) verifies alone */
	put16(b + 198, 0);
	m = mbuf_chain(b, len, odd_cuts, RTE_DIM(odd_cuts));
	assert_int_equal(vhu_pkt_cksum_finish(m, len - 1, 0, false), -EINVAL);
	assert_int_equal(vhu_pkt_cksum_finish(m, 100, 99, false), -EINVAL);
	assert_int_equal(vhu_pkt_cksum_finish(m, len, 0, true), -EINVAL);
	assert_int_equal(vhu_pkt_cksum_finish(m, UINT32_MAX, 4, false),
			 -EINVAL);
	assert_int_equal(vhu_pkt_cksum_finish(m, 4, UINT32_MAX - 3, false),
			 -EINVAL);
	/* nothing was written */
	flatten(m, flat);
	assert_memory_equal(flat, b, len);
	/* the last two bytes are the furthest a field may sit */
	assert_int_equal(vhu_pkt_cksum_finish(m, 100, 98, false), 0);
	flatten(m, flat);
	assert_int_equal(ref_sum(flat + 100, 100, 0), 0xffff);
	rte_pktmbuf_free(m);
}

static void
test_ipv4_cksum(void **state)
{
	static uint8_t b[4096], flat[4096];
	struct fspec s = { .vlans = 1, .ip_opt = 12 };
	struct flay lay;
	struct rte_mbuf *m;

	(void)state;
	build_frame(b, &s, 10, &lay);
	put16(b + lay.l2 + 10, 0xdead);
	m = mbuf_single(b, lay.len);
	vhu_pkt_ipv4_cksum(m, (uint16_t)lay.l2);
	flatten(m, flat);
	assert_int_equal(ref_sum(flat + lay.l2, lay.l3, 0), 0xffff);
	/* only the checksum changed */
	put16(flat + lay.l2 + 10, 0xdead);
	assert_memory_equal(flat, b, lay.len);
	rte_pktmbuf_free(m);
}

/* ---------------------------------------------------------- copy */

static void
test_copy(void **state)
{
	static uint8_t b[MAX_FRAME], flat[MAX_FRAME];
	struct fspec s = { .v6 = true, .ext = 8 };
	struct rte_mempool *pools[] = { out_pool, odd_pool };
	struct flay lay;

	(void)state;
	build_frame(b, &s, 20000, &lay);
	for (int chain = 0; chain < 2; chain++) {
		for (size_t p = 0; p < RTE_DIM(pools); p++) {
			struct rte_mbuf *m = mbuf_make(b, lay.len, chain);
			struct rte_mbuf *c;

			m->ol_flags = RTE_MBUF_F_TX_TCP_SEG |
				      RTE_MBUF_F_TX_IPV6 |
				      RTE_MBUF_F_TX_TCP_CKSUM;
			m->l2_len = lay.l2;
			m->l3_len = lay.l3;
			m->l4_len = lay.l4;
			m->tso_segsz = 1448;
			m->packet_type = RTE_PTYPE_L2_ETHER |
					 RTE_PTYPE_L3_IPV6_EXT |
					 RTE_PTYPE_L4_TCP;
			c = vhu_pkt_copy(m, pools[p], lay.hdr);
			assert_non_null(c);
			assert_int_equal(flatten(c, flat), lay.len);
			assert_memory_equal(flat, b, lay.len);
			assert_true(c->data_len >= lay.hdr);
			assert_true(RTE_MBUF_DIRECT(c));
			assert_int_equal(c->ol_flags, m->ol_flags);
			assert_int_equal(c->tx_offload, m->tx_offload);
			assert_int_equal(c->packet_type, m->packet_type);
			rte_pktmbuf_free(c);
			rte_pktmbuf_free(m);
		}
	}
}

/* ------------------------------------------------------ segmentation */

/*
 * Check segment k of nseg of frame b (as built for s, lay) cut at mss:
 * every header byte as expected, the payload slice, both checksums by
 * the reference, and the mbuf metadata. Appends the payload to reasm.
 */
static void
check_segment(const uint8_t *b, const struct fspec *s, const struct flay *lay,
	      const struct vhu_pkt_hdrs *h, uint16_t mss, uint32_t k,
	      uint32_t nseg, const struct rte_mbuf *seg, uint8_t *reasm)
{
	static uint8_t flat[MAX_FRAME], exp[256];
	uint32_t payload = lay->len - lay->hdr;
	uint32_t len = payload == 0 ? 0 : RTE_MIN(mss, payload - k * mss);
	uint32_t l3o = lay->l2, l4o = lay->l2 + lay->l3;
	uint32_t n = flatten(seg, flat);
	uint64_t want_ol;
	uint16_t sum;

	assert_int_equal(n, lay->hdr + len);
	assert_true(seg->data_len >= lay->hdr);

	memcpy(exp, b, lay->hdr);
	if (!s->v6) {
		put16(exp + l3o + 2, lay->l3 + lay->l4 + len);
		put16(exp + l3o + 4, (ID0 + k) & 0xffff);
		assert_int_equal(ref_sum(flat + l3o, lay->l3, 0), 0xffff);
		memcpy(exp + l3o + 10, flat + l3o + 10, 2);
	} else {
		put16(exp + l3o + 4, lay->l3 - 40 + lay->l4 + len);
	}
	if (!s->udp) {
		uint8_t f = TCP_FLAGS0;

		put32(exp + l4o + 4, SEQ0 + k * mss);
		if (k != nseg - 1)
			f &= (uint8_t)~0x09; /* FIN, PSH */
		if (k != 0)
			f &= (uint8_t)~0x80; /* CWR */
		exp[l4o + 13] = f;
		memcpy(exp + l4o + 16, flat + l4o + 16, 2);
	} else {
		put16(exp + l4o + 4, 8 + len);
		assert_int_not_equal(get16(flat + l4o + 6), 0);
		memcpy(exp + l4o + 6, flat + l4o + 6, 2);
	}
	assert_memory_equal(flat, exp, lay->hdr);
	sum = ref_pseudo(flat + l3o, s->v6, s->udp ? PROTO_UDP : PROTO_TCP,
			 n - l4o);
	assert_int_equal(ref_sum(flat + l4o, n - l4o, sum), 0xffff);

	if (len > 0)
		assert_memory_equal(flat + lay->hdr, b + lay->hdr + k * mss,
				    len);
	memcpy(reasm + k * mss, flat + lay->hdr, len);

	want_ol = RTE_MBUF_F_RX_L4_CKSUM_GOOD |
		  (s->v6 ? 0 : RTE_MBUF_F_RX_IP_CKSUM_GOOD);
	assert_int_equal(seg->ol_flags, want_ol);
	assert_int_equal(seg->packet_type, h->ptype);
	assert_int_equal(seg->l2_len, lay->l2);
	assert_int_equal(seg->l3_len, lay->l3);
	assert_int_equal(seg->l4_len, lay->l4);
}

/*
 * Segment frame b of spec s at mss from mp in calls of at most max
 * segments, checking each; the payloads put back together must be the
 * frame's.
 */
static void
run_segment(const uint8_t *b, const struct fspec *s, const struct flay *lay,
	    bool chain, uint16_t mss, struct rte_mempool *mp, uint16_t max)
{
	static uint8_t reasm[MAX_FRAME];
	static struct rte_mbuf *out[BATCH];
	uint32_t payload = lay->len - lay->hdr;
	uint32_t nseg = payload == 0 ? 1 : (payload + mss - 1) / mss;
	unsigned int avail = rte_mempool_avail_count(mp);
	struct vhu_pkt_hdrs h;
	struct rte_mbuf *m = mbuf_make(b, lay->len, chain);
	uint32_t first = 0;

	assert_true(max <= BATCH);
	assert_int_equal(vhu_pkt_parse(m, &h), 0);
	assert_int_equal(vhu_pkt_segment_count(m, &h, mss), nseg);
	memset(reasm, 0, payload);
	while (first < nseg) {
		int n = vhu_pkt_segment(m, &h, mss, first, mp, out, max);

		assert_int_equal(n, RTE_MIN(max, nseg - first));
		for (int i = 0; i < n; i++) {
			check_segment(b, s, lay, &h, mss, first + i, nseg,
				      out[i], reasm);
			rte_pktmbuf_free(out[i]);
		}
		first += (uint32_t)n;
	}
	assert_int_equal(vhu_pkt_segment(m, &h, mss, nseg, mp, out, max), 0);
	assert_memory_equal(reasm, b + lay->hdr, payload);
	/* the input is read only */
	assert_int_equal(m->pkt_len, lay->len);
	rte_pktmbuf_free(m);
	assert_int_equal(rte_mempool_avail_count(mp), avail);
}

static void
test_segment_matrix(void **state)
{
	static uint8_t b[MAX_FRAME];
	static const struct fspec specs[] = {
		{ .udp = false, .vlans = 1, .ip_opt = 8, .tcp_opt = 12 },
		{ .udp = true },
		{ .v6 = true, .udp = false, .vlans = 1, .ext = 8,
		  .tcp_opt = 12 },
		{ .v6 = true, .udp = true, .vlans = 2, .ext = 16 },
		{ .v6 = true, .udp = false },
		{ .udp = true, .vlans = 1, .ip_opt = 4 },
	};
	static const uint32_t payloads[] = { 0, 1, 100, 3000, 65000 };
	uint32_t runs = 0;

	(void)state;
	for (size_t si = 0; si < RTE_DIM(specs); si++) {
		const struct fspec *s = &specs[si];

		for (size_t pi = 0; pi < RTE_DIM(payloads); pi++) {
			uint32_t p = payloads[pi];
			uint32_t msss[] = { 1, 7, 536, 1448, p - 1, p, p + 1 };
			struct flay lay;

			build_frame(b, s, p, &lay);
			for (size_t mi = 0; mi < RTE_DIM(msss); mi++) {
				uint32_t mss = msss[mi];

				if (mss == 0 || mss > UINT16_MAX)
					continue;
				for (int chain = 0; chain < 2; chain++) {
					struct rte_mempool *mp =
						(si + chain) % 2 ? odd_pool :
								   out_pool;

					run_segment(b, s, &lay, chain,
						    (uint16_t)mss, mp,
						    (uint16_t)(BATCH - si));
					runs++;
				}
			}
		}
	}
	assert_true(runs > 300);
}

/* first / max continuation gives the very segments one call does */
static void
test_segment_continuation(void **state)
{
	static uint8_t b[MAX_FRAME], f1[4096], f2[4096];
	static struct rte_mbuf *all[512], *part[8];
	struct fspec s = { .v6 = true, .vlans = 1, .ext = 8, .tcp_opt = 12 };
	struct vhu_pkt_hdrs h;
	struct rte_mbuf *m;
	struct flay lay;
	uint32_t first = 0, nseg;
	uint16_t step = 1;

	(void)state;
	build_frame(b, &s, 3000, &lay);
	m = mbuf_chain(b, lay.len, odd_cuts, RTE_DIM(odd_cuts));
	assert_int_equal(vhu_pkt_parse(m, &h), 0);
	nseg = vhu_pkt_segment_count(m, &h, 7);
	assert_int_equal(nseg, 429);
	assert_int_equal(vhu_pkt_segment(m, &h, 7, 0, out_pool, all, 512),
			 (int)nseg);
	while (first < nseg) {
		int n = vhu_pkt_segment(m, &h, 7, first, odd_pool, part, step);

		assert_int_equal(n, RTE_MIN(step, nseg - first));
		for (int i = 0; i < n; i++) {
			uint32_t l1 = flatten(all[first + i], f1);
			uint32_t l2 = flatten(part[i], f2);

			assert_int_equal(l1, l2);
			assert_memory_equal(f1, f2, l1);
			rte_pktmbuf_free(part[i]);
		}
		first += (uint32_t)n;
		step = (uint16_t)(step % 8 + 1);
	}
	for (uint32_t i = 0; i < nseg; i++)
		rte_pktmbuf_free(all[i]);
	rte_pktmbuf_free(m);
}

static void
test_segment_enomem(void **state)
{
	static uint8_t b[MAX_FRAME];
	static struct rte_mbuf *out[64];
	struct rte_mempool *tiny;
	struct fspec s = { .vlans = 1, .tcp_opt = 12 };
	struct vhu_pkt_hdrs h;
	struct rte_mbuf *m, *c;
	struct flay lay;
	unsigned int avail;

	(void)state;
	tiny = rte_pktmbuf_pool_create("pko_tiny", 4, 0, 0,
				       2048 + RTE_PKTMBUF_HEADROOM,
				       SOCKET_ID_ANY);
	assert_non_null(tiny);
	avail = rte_mempool_avail_count(tiny);
	assert_int_equal(avail, 4);

	/* dry after four whole segments */
	build_frame(b, &s, 3000, &lay);
	m = mbuf_chain(b, lay.len, odd_cuts, RTE_DIM(odd_cuts));
	assert_int_equal(vhu_pkt_parse(m, &h), 0);
	assert_int_equal(vhu_pkt_segment(m, &h, 536, 0, tiny, out, 64),
			 -ENOMEM);
	assert_int_equal(rte_mempool_avail_count(tiny), avail);
	/* four fit */
	assert_int_equal(vhu_pkt_segment(m, &h, 536, 0, tiny, out, 4), 4);
	for (int i = 0; i < 4; i++)
		rte_pktmbuf_free(out[i]);
	assert_int_equal(rte_mempool_avail_count(tiny), avail);
	/* a copy of the frame takes two */
	c = vhu_pkt_copy(m, tiny, lay.hdr);
	assert_non_null(c);
	assert_int_equal(c->nb_segs, 2);
	rte_pktmbuf_free(c);
	rte_pktmbuf_free(m);

	/* dry in the middle of one segment's chain */
	build_frame(b, &s, 20000, &lay);
	m = mbuf_chain(b, lay.len, odd_cuts, RTE_DIM(odd_cuts));
	assert_int_equal(vhu_pkt_parse(m, &h), 0);
	assert_int_equal(vhu_pkt_segment(m, &h, 9000, 0, tiny, out, 64),
			 -ENOMEM);
	assert_int_equal(rte_mempool_avail_count(tiny), avail);
	assert_null(vhu_pkt_copy(m, tiny, lay.hdr));
	assert_int_equal(rte_mempool_avail_count(tiny), avail);
	rte_pktmbuf_free(m);
	rte_mempool_free(tiny);
}

static void
test_segment_einval(void **state)
{
	static uint8_t b[MAX_FRAME];
	static struct rte_mbuf *out[64];
	struct fspec s = { .udp = false };
	struct vhu_pkt_hdrs h, bad;
	struct rte_mbuf *m;
	struct flay lay;
	unsigned int avail = rte_mempool_avail_count(out_pool);

	(void)state;
	build_frame(b, &s, 3000, &lay);
	m = mbuf_single(b, lay.len);
	assert_int_equal(vhu_pkt_parse(m, &h), 0);
	assert_int_equal(vhu_pkt_segment(m, &h, 0, 0, out_pool, out, 64),
			 -EINVAL);
	assert_int_equal(vhu_pkt_segment_count(m, &h, 0), 1);
	bad = h;
	bad.l4_proto = 0;
	assert_int_equal(vhu_pkt_segment(m, &bad, 536, 0, out_pool, out, 64),
			 -EINVAL);
	bad = h;
	bad.l4_len = 16;
	assert_int_equal(vhu_pkt_segment(m, &bad, 536, 0, out_pool, out, 64),
			 -EINVAL);
	/* headers past the packet */
	bad = h;
	bad.l3_len = 4000;
	assert_int_equal(vhu_pkt_segment(m, &bad, 536, 0, out_pool, out, 64),
			 -EINVAL);
	/* max 0 and first past the last store nothing */
	assert_int_equal(vhu_pkt_segment(m, &h, 536, 0, out_pool, out, 0), 0);
	assert_int_equal(vhu_pkt_segment(m, &h, 536, 6, out_pool, out, 64), 0);
	rte_pktmbuf_free(m);

	/* a 65500-byte segment would overflow the IPv4 total length */
	build_frame(b, &s, 65500, &lay);
	m = mbuf_chain(b, lay.len, odd_cuts, RTE_DIM(odd_cuts));
	assert_int_equal(vhu_pkt_parse(m, &h), 0);
	assert_int_equal(vhu_pkt_segment(m, &h, 65500, 0, out_pool, out, 64),
			 -EINVAL);
	rte_pktmbuf_free(m);
	assert_int_equal(rte_mempool_avail_count(out_pool), avail);
}

/* ---------------------------------------------------------- main */

static struct rte_mempool *
make_pool(const char *name, unsigned int n, uint32_t room)
{
	return rte_pktmbuf_pool_create(name, n, 0, 0,
				       (uint16_t)(room + RTE_PKTMBUF_HEADROOM),
				       SOCKET_ID_ANY);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_reject),
		cmocka_unit_test(test_writable),
		cmocka_unit_test(test_cksum_finish),
		cmocka_unit_test(test_cksum_finish_udp_zero),
		cmocka_unit_test(test_cksum_finish_range),
		cmocka_unit_test(test_ipv4_cksum),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_segment_matrix),
		cmocka_unit_test(test_segment_continuation),
		cmocka_unit_test(test_segment_enomem),
		cmocka_unit_test(test_segment_einval),
	};

	/* without EAL and pools nothing below means anything: fail loudly */
	if (vtd_eal_init() != 0) {
		fprintf(stderr, "EAL set-up failed\n");
		return 1;
	}
	big_pool = make_pool("pko_big", 8, UINT16_MAX - RTE_PKTMBUF_HEADROOM);
	in_pool = make_pool("pko_in", 1023, 2048);
	out_pool = make_pool("pko_out", 4095, 2048);
	odd_pool = make_pool("pko_odd", 4095, 777);
	if (big_pool == NULL || in_pool == NULL || out_pool == NULL ||
	    odd_pool == NULL) {
		fprintf(stderr, "mempool set-up failed\n");
		return 1;
	}
	return cmocka_run_group_tests_name("pkt_offload", tests, NULL, NULL);
}
