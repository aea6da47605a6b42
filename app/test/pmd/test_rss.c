/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_vhu's RSS hash (drivers/net/vhost/eth_vhu_rss.c) on frames built
 * here: the Microsoft RSS verification vectors ("Verifying the RSS Hash
 * Calculation", 40-byte key 6d5a56da...) for IPv4 and IPv6, with and
 * without TCP ports, through the PMD's own tuple extraction; the same
 * behind one and two VLAN tags; UDP; the rss_hf selection (fragments,
 * other protocols, types switched off); non-IP and truncated frames
 * hashing 0; IPv6 extension headers; and the symmetry of the default key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "eth_vhu_rss.h"

static const uint8_t ms_key[VHU_ETH_RSS_KEY_LEN] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2,
	0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
	0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4,
	0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
	0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

struct v4_vec {
	const char *src, *dst;
	uint16_t sport, dport;
	uint32_t l3, l4;
};

/* Microsoft's table: destination, source, IPv4 only, IPv4 with TCP */
static const struct v4_vec v4_vecs[] = {
	{ "66.9.149.187", "161.142.100.80", 2794, 1766, 0x323e8fc2, 0x51ccc178 },
	{ "199.92.111.2", "65.69.140.83", 14230, 4739, 0xd718262a, 0xc626b0ea },
	{ "24.19.198.95", "12.22.207.184", 12898, 38024, 0xd2d0a5de, 0x5c2b394a },
	{ "38.27.205.30", "209.142.163.6", 48228, 2217, 0x82989176, 0xafc7327f },
	{ "153.39.163.191", "202.188.127.2", 44251, 1303, 0x5d1809c5, 0x10e828a2 },
};

static const struct v4_vec v6_vecs[] = {
	{ "3ffe:2501:200:1fff::7", "3ffe:2501:200:3::1", 2794, 1766,
	  0x2cc18cd5, 0x40207d3d },
	{ "3ffe:501:8::260:97ff:fe40:efab", "ff02::1", 14230, 4739,
	  0x0f0c461c, 0xdde51bbf },
	{ "3ffe:1900:4545:3:200:f8ff:fe21:67cf", "fe80::200:f8ff:fe21:67cf",
	  44251, 38024, 0x4b61e985, 0x02d1feef },
};

#define V4_ALL (RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP | \
		RTE_ETH_RSS_NONFRAG_IPV4_UDP)
#define V6_ALL (RTE_ETH_RSS_IPV6 | RTE_ETH_RSS_NONFRAG_IPV6_TCP | \
		RTE_ETH_RSS_NONFRAG_IPV6_UDP)

static struct vhu_eth_rss_key key;

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * A frame: Ethernet, vlans tags, then an IPv4 (v6 false) or IPv6 header
 * with proto, and 20 bytes of L4 starting with the ports. Returns length.
 */
static uint32_t
build(uint8_t *f, int vlans, bool v6, const char *src, const char *dst,
      uint8_t proto, uint16_t sport, uint16_t dport)
{
	uint32_t off = 12;

	memset(f, 0, 256);
	memcpy(f, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01", 12);
	for (int i = 0; i < vlans; i++) {
		put16(f + off, i == 0 && vlans == 2 ? 0x88a8 : 0x8100);
		put16(f + off + 2, (uint16_t)(100 + i));
		off += 4;
	}
	put16(f + off, v6 ? 0x86dd : 0x0800);
	off += 2;
	if (v6) {
		f[off] = 0x60;
		put16(f + off + 4, 20);
		f[off + 6] = proto;
		f[off + 7] = 64;
		assert_int_equal(inet_pton(AF_INET6, src, f + off + 8), 1);
		assert_int_equal(inet_pton(AF_INET6, dst, f + off + 24), 1);
		off += 40;
	} else {
		f[off] = 0x45;
		put16(f + off + 2, 40);
		f[off + 8] = 64;
		f[off + 9] = proto;
		assert_int_equal(inet_pton(AF_INET, src, f + off + 12), 1);
		assert_int_equal(inet_pton(AF_INET, dst, f + off + 16), 1);
		off += 20;
	}
	put16(f + off, sport);
	put16(f + off + 2, dport);
	return off + 20;
}

static int
setup_ms(void **state)
{
	(void)state;
	vhu_eth_rss_key_prepare(&key, ms_key);
	return 0;
}

static void
test_ipv4_vectors(void **state)
{
	uint8_t f[256];

	(void)state;
	for (int vl = 0; vl <= 2; vl++) {
		for (size_t i = 0; i < sizeof(v4_vecs) / sizeof(v4_vecs[0]); i++) {
			const struct v4_vec *v = &v4_vecs[i];
			uint32_t len = build(f, vl, false, v->src, v->dst,
					     IPPROTO_TCP, v->sport, v->dport);

			/* with TCP: addresses and ports */
			assert_int_equal(vhu_eth_rss_hash_buf(f, len, V4_ALL, &key),
					 v->l4);
			/* IPv4 only: TCP not selected */
			assert_int_equal(vhu_eth_rss_hash_buf(f, len,
							      RTE_ETH_RSS_IPV4,
							      &key), v->l3);
			/* UDP hashes the same tuple when selected */
			len = build(f, vl, false, v->src, v->dst, IPPROTO_UDP,
				    v->sport, v->dport);
			assert_int_equal(vhu_eth_rss_hash_buf(f, len, V4_ALL, &key),
					 v->l4);
			assert_int_equal(vhu_eth_rss_hash_buf(f, len,
					RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP,
					&key), v->l3);
		}
	}
}

static void
test_ipv6_vectors(void **state)
{
	uint8_t f[256];

	(void)state;
	for (int vl = 0; vl <= 2; vl++) {
		for (size_t i = 0; i < sizeof(v6_vecs) / sizeof(v6_vecs[0]); i++) {
			const struct v4_vec *v = &v6_vecs[i];
			uint32_t len = build(f, vl, true, v->src, v->dst,
					     IPPROTO_TCP, v->sport, v->dport);

			assert_int_equal(vhu_eth_rss_hash_buf(f, len, V6_ALL, &key),
					 v->l4);
			assert_int_equal(vhu_eth_rss_hash_buf(f, len,
							      RTE_ETH_RSS_IPV6,
							      &key), v->l3);
			/* v4 types do not select v6 frames */
			assert_int_equal(vhu_eth_rss_hash_buf(f, len, V4_ALL, &key),
					 0);
		}
	}
}

/* An IPv6 hop-by-hop header before TCP is skipped; a fragment is L3 only. */
static void
test_ipv6_ext(void **state)
{
	const struct v4_vec *v = &v6_vecs[0];
	uint8_t f[256], g[256];
	uint32_t len;

	(void)state;
	len = build(f, 0, true, v->src, v->dst, 0 /* hop-by-hop */, 0, 0);
	/* the 8-byte extension header goes where the L4 header was */
	memset(g, 0, sizeof(g));
	memcpy(g, f, 54);
	g[54] = IPPROTO_TCP;
	g[55] = 0; /* (0 + 1) * 8 bytes */
	put16(g + 62, v->sport);
	put16(g + 64, v->dport);
	assert_int_equal(vhu_eth_rss_hash_buf(g, len + 8, V6_ALL, &key), v->l4);
	g[54] = IPPROTO_TCP;
	g[20] = 44; /* fragment header */
	assert_int_equal(vhu_eth_rss_hash_buf(g, len + 8, V6_ALL, &key), v->l3);
	assert_int_equal(vhu_eth_rss_hash_buf(g, len + 8,
					      RTE_ETH_RSS_NONFRAG_IPV6_TCP,
					      &key), 0);
	assert_int_equal(vhu_eth_rss_hash_buf(g, len + 8,
					      RTE_ETH_RSS_FRAG_IPV6, &key),
			 v->l3);
}

static void
test_ipv4_selection(void **state)
{
	const struct v4_vec *v = &v4_vecs[0];
	uint8_t f[256];
	uint32_t len = build(f, 0, false, v->src, v->dst, IPPROTO_TCP,
			     v->sport, v->dport);

	(void)state;
	/* only UDP selected, a TCP frame: no hash */
	assert_int_equal(vhu_eth_rss_hash_buf(f, len,
					      RTE_ETH_RSS_NONFRAG_IPV4_UDP,
					      &key), 0);
	assert_int_equal(vhu_eth_rss_hash_buf(f, len, 0, &key), 0);
	/* a fragment (MF set) hashes the addresses only */
	f[14 + 6] = 0x20;
	assert_int_equal(vhu_eth_rss_hash_buf(f, len, V4_ALL, &key), v->l3);
	assert_int_equal(vhu_eth_rss_hash_buf(f, len,
					      RTE_ETH_RSS_FRAG_IPV4, &key),
			 v->l3);
	assert_int_equal(vhu_eth_rss_hash_buf(f, len,
					      RTE_ETH_RSS_NONFRAG_IPV4_TCP,
					      &key), 0);
	f[14 + 6] = 0;
	/* ICMP: IPV4 or NONFRAG_IPV4_OTHER */
	f[14 + 9] = IPPROTO_ICMP;
	assert_int_equal(vhu_eth_rss_hash_buf(f, len,
					      RTE_ETH_RSS_NONFRAG_IPV4_OTHER,
					      &key), v->l3);
	assert_int_equal(vhu_eth_rss_hash_buf(f, len,
					      RTE_ETH_RSS_NONFRAG_IPV4_TCP,
					      &key), 0);
	/* options: IHL 6, the ports move 4 bytes on */
	f[14 + 9] = IPPROTO_TCP;
	f[14] = 0x46;
	memmove(f + 38, f + 34, 20);
	memset(f + 34, 1, 4); /* NOP options */
	assert_int_equal(vhu_eth_rss_hash_buf(f, len + 4, V4_ALL, &key), v->l4);
}

static void
test_not_hashed(void **state)
{
	const struct v4_vec *v = &v4_vecs[0];
	uint8_t f[256];
	uint32_t len = build(f, 0, false, v->src, v->dst, IPPROTO_TCP,
			     v->sport, v->dport);

	(void)state;
	/* ARP, and an unknown ethertype */
	put16(f + 12, 0x0806);
	assert_int_equal(vhu_eth_rss_hash_buf(f, len, V4_ALL | V6_ALL, &key), 0);
	put16(f + 12, 0x88cc);
	assert_int_equal(vhu_eth_rss_hash_buf(f, len, V4_ALL | V6_ALL, &key), 0);
	/* three VLAN tags: the third is not looked through */
	len = build(f, 2, false, v->src, v->dst, IPPROTO_TCP, v->sport, v->dport);
	memmove(f + 20, f + 16, len - 16);
	put16(f + 16, 0x8100);
	assert_int_equal(vhu_eth_rss_hash_buf(f, len + 4, V4_ALL, &key), 0);
	/* cut short: inside the IP header no hash, inside the ports L3 */
	len = build(f, 1, false, v->src, v->dst, IPPROTO_TCP, v->sport, v->dport);
	for (uint32_t l = 0; l < 18 + 20; l++)
		assert_int_equal(vhu_eth_rss_hash_buf(f, l, V4_ALL, &key), 0);
	assert_int_equal(vhu_eth_rss_hash_buf(f, 18 + 20 + 2, V4_ALL, &key),
			 v->l3);
	assert_int_equal(vhu_eth_rss_hash_buf(f, 18 + 24, V4_ALL, &key), v->l4);
	/* an IPv4 header claiming IHL 4, and a version 6 under type 0x0800 */
	f[18] = 0x44;
	assert_int_equal(vhu_eth_rss_hash_buf(f, len, V4_ALL, &key), 0);
	f[18] = 0x65;
	assert_int_equal(vhu_eth_rss_hash_buf(f, len, V4_ALL, &key), 0);
	/* IPv6 cut inside its header */
	len = build(f, 0, true, v6_vecs[0].src, v6_vecs[0].dst, IPPROTO_TCP,
		    1, 2);
	for (uint32_t l = 0; l < 54; l++)
		assert_int_equal(vhu_eth_rss_hash_buf(f, l, V6_ALL, &key), 0);
}

/* The default key: both directions of a flow hash alike. */
static void
test_symmetric_default(void **state)
{
	struct vhu_eth_rss_key sym, ms;
	uint8_t f[256], g[256];
	int differ = 0;

	(void)state;
	vhu_eth_rss_key_prepare(&sym, vhu_eth_rss_key_default);
	vhu_eth_rss_key_prepare(&ms, ms_key);
	for (size_t i = 0; i < sizeof(v4_vecs) / sizeof(v4_vecs[0]); i++) {
		const struct v4_vec *v = &v4_vecs[i];
		uint32_t a = build(f, 0, false, v->src, v->dst, IPPROTO_TCP,
				   v->sport, v->dport);
		uint32_t b = build(g, 1, false, v->dst, v->src, IPPROTO_TCP,
				   v->dport, v->sport);
		uint32_t h = vhu_eth_rss_hash_buf(f, a, V4_ALL, &sym);

		assert_int_not_equal(h, 0);
		assert_int_equal(h, vhu_eth_rss_hash_buf(g, b, V4_ALL, &sym));
		assert_int_equal(vhu_eth_rss_hash_buf(f, a, RTE_ETH_RSS_IPV4, &sym),
				 vhu_eth_rss_hash_buf(g, b, RTE_ETH_RSS_IPV4, &sym));
		/* the Microsoft key is not symmetric: the test means something */
		differ += vhu_eth_rss_hash_buf(f, a, V4_ALL, &ms) !=
			  vhu_eth_rss_hash_buf(g, b, V4_ALL, &ms);
	}
	assert_int_not_equal(differ, 0);
	for (size_t i = 0; i < sizeof(v6_vecs) / sizeof(v6_vecs[0]); i++) {
		const struct v4_vec *v = &v6_vecs[i];
		uint32_t a = build(f, 0, true, v->src, v->dst, IPPROTO_UDP,
				   v->sport, v->dport);
		uint32_t b = build(g, 0, true, v->dst, v->src, IPPROTO_UDP,
				   v->dport, v->sport);

		assert_int_equal(vhu_eth_rss_hash_buf(f, a, V6_ALL, &sym),
				 vhu_eth_rss_hash_buf(g, b, V6_ALL, &sym));
	}
}

/* A 52-byte key hashes as its first 40 bytes. */
static void
test_key_prefix(void **state)
{
	uint8_t long_key[VHU_ETH_RSS_KEY_LEN_MAX];
	struct vhu_eth_rss_key k2;
	uint8_t f[256];
	const struct v4_vec *v = &v6_vecs[2];
	uint32_t len = build(f, 0, true, v->src, v->dst, IPPROTO_TCP,
			     v->sport, v->dport);

	(void)state;
	memcpy(long_key, ms_key, sizeof(ms_key));
	memset(long_key + sizeof(ms_key), 0xa5,
	       sizeof(long_key) - sizeof(ms_key));
	vhu_eth_rss_key_prepare(&k2, long_key);
	assert_int_equal(vhu_eth_rss_hash_buf(f, len, V6_ALL, &k2), v->l4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_ipv4_vectors, setup_ms),
		cmocka_unit_test_setup(test_ipv6_vectors, setup_ms),
		cmocka_unit_test_setup(test_ipv6_ext, setup_ms),
		cmocka_unit_test_setup(test_ipv4_selection, setup_ms),
		cmocka_unit_test_setup(test_not_hashed, setup_ms),
		cmocka_unit_test(test_symmetric_default),
		cmocka_unit_test(test_key_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
