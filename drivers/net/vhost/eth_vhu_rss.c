/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_vhu RSS hash: tuple extraction from a frame's headers and the
 * Toeplitz hash over it (rte_softrss_be with a converted key). Every
 * header read is bounded by the bytes present; a frame cut short hashes 0
 * (RETA entry 0), as a NIC gives no hash for what it cannot parse.
 */
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_thash.h>

#include "eth_vhu_rss.h"

const uint8_t vhu_eth_rss_key_default[VHU_ETH_RSS_KEY_LEN] = {
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

/* Headers the hash reads at most: 2 VLAN tags, IPv6 with 4 extension
 * headers of up to 64 bytes each, the ports. */
#define RSS_PARSE_MAX 384

/* IPv6 extension headers skipped on the way to TCP/UDP (RFC 8200 §4) */
#define IPV6_EXT_HOP 0
#define IPV6_EXT_ROUTING 43
#define IPV6_EXT_FRAGMENT 44
#define IPV6_EXT_DSTOPTS 60
#define IPV6_EXT_MAX 4

void
vhu_eth_rss_key_prepare(struct vhu_eth_rss_key *k, const uint8_t *key)
{
	uint32_t raw[VHU_ETH_RSS_KEY_LEN / 4];

	memcpy(raw, key, sizeof(raw)); /* key may be unaligned */
	rte_convert_rss_key(raw, k->w, VHU_ETH_RSS_KEY_LEN);
}

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/*
 * Which tuple: 2 = addresses and ports, 1 = addresses only, 0 = no hash.
 * l4 is the transport protocol when the packet is not a fragment, else 0.
 */
static int
tuple_kind(uint64_t hf, bool v6, bool frag, uint8_t l4)
{
	uint64_t tcp = v6 ? RTE_ETH_RSS_NONFRAG_IPV6_TCP :
			    RTE_ETH_RSS_NONFRAG_IPV4_TCP;
	uint64_t udp = v6 ? RTE_ETH_RSS_NONFRAG_IPV6_UDP :
			    RTE_ETH_RSS_NONFRAG_IPV4_UDP;
	uint64_t ip = v6 ? RTE_ETH_RSS_IPV6 : RTE_ETH_RSS_IPV4;
	uint64_t fr = v6 ? RTE_ETH_RSS_FRAG_IPV6 : RTE_ETH_RSS_FRAG_IPV4;
	uint64_t other = v6 ? RTE_ETH_RSS_NONFRAG_IPV6_OTHER :
			      RTE_ETH_RSS_NONFRAG_IPV4_OTHER;

	if (frag)
		return (hf & (ip | fr)) != 0 ? 1 : 0;
	if ((l4 == IPPROTO_TCP && (hf & tcp) != 0) ||
	    (l4 == IPPROTO_UDP && (hf & udp) != 0))
		return 2;
	if (l4 == IPPROTO_TCP || l4 == IPPROTO_UDP)
		return (hf & ip) != 0 ? 1 : 0;
	return (hf & (ip | other)) != 0 ? 1 : 0;
}

static uint32_t
hash_ipv4(const uint8_t *p, uint32_t len, uint32_t off, uint64_t hf,
	  const struct vhu_eth_rss_key *k)
{
	uint32_t t[RTE_THASH_V4_L4_LEN];
	uint32_t ihl;
	uint16_t frag_off;
	bool frag;
	int kind;

	if (len < off + sizeof(struct rte_ipv4_hdr) || (p[off] >> 4) != 4)
		return 0;
	ihl = (uint32_t)(p[off] & 0xf) * 4;
	if (ihl < sizeof(struct rte_ipv4_hdr) || len < off + ihl)
		return 0;
	frag_off = rd16(p + off + 6);
	frag = (frag_off & (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK))
	       != 0;
	kind = tuple_kind(hf, false, frag, p[off + 9]);
	if (kind == 2 && len < off + ihl + 4)
		kind = 1; /* ports cut off: the addresses still tell */
	if (kind == 0)
		return 0;
	t[0] = rd32(p + off + 12);
	t[1] = rd32(p + off + 16);
	if (kind == 1)
		return rte_softrss_be(t, RTE_THASH_V4_L3_LEN, (const uint8_t *)k->w);
	/* ports: source in the high half, as they come on the wire */
	t[2] = rd32(p + off + ihl);
	return rte_softrss_be(t, RTE_THASH_V4_L4_LEN, (const uint8_t *)k->w);
}

static uint32_t
hash_ipv6(const uint8_t *p, uint32_t len, uint32_t off, uint64_t hf,
	  const struct vhu_eth_rss_key *k)
{
	uint32_t t[RTE_THASH_V6_L4_LEN];
	uint32_t l4off = off + sizeof(struct rte_ipv6_hdr);
	uint8_t nh;
	bool frag = false;
	int kind;

	if (len < l4off || (p[off] >> 4) != 6)
		return 0;
	nh = p[off + 6];
	for (int i = 0; i < IPV6_EXT_MAX; i++) {
		uint32_t ext;

		if (nh != IPV6_EXT_HOP && nh != IPV6_EXT_ROUTING &&
		    nh != IPV6_EXT_FRAGMENT && nh != IPV6_EXT_DSTOPTS)
			break;
		if (len < l4off + 8) {
			nh = IPPROTO_NONE; /* cut short: addresses only */
			break;
		}
		if (nh == IPV6_EXT_FRAGMENT) {
			frag = true;
			ext = 8;
		} else {
			ext = ((uint32_t)p[l4off + 1] + 1) * 8;
		}
		nh = p[l4off];
		l4off += ext;
	}
	kind = tuple_kind(hf, true, frag, nh);
	if (kind == 2 && len < l4off + 4)
		kind = 1;
	if (kind == 0)
		return 0;
	for (int i = 0; i < 8; i++)
		t[i] = rd32(p + off + 8 + 4 * i);
	if (kind == 1)
		return rte_softrss_be(t, RTE_THASH_V6_L3_LEN, (const uint8_t *)k->w);
	t[8] = rd32(p + l4off);
	return rte_softrss_be(t, RTE_THASH_V6_L4_LEN, (const uint8_t *)k->w);
}

uint32_t
vhu_eth_rss_hash_buf(const uint8_t *buf, uint32_t len, uint64_t rss_hf,
		     const struct vhu_eth_rss_key *k)
{
	uint32_t off = RTE_ETHER_HDR_LEN;
	uint16_t type;

	if (len < RTE_ETHER_HDR_LEN)
		return 0;
	type = rd16(buf + 12);
	for (int i = 0; i < 2 && (type == RTE_ETHER_TYPE_VLAN ||
				  type == RTE_ETHER_TYPE_QINQ); i++) {
		if (len < off + RTE_VLAN_HLEN)
			return 0;
		type = rd16(buf + off + 2);
		off += RTE_VLAN_HLEN;
	}
	if (type == RTE_ETHER_TYPE_IPV4)
		return hash_ipv4(buf, len, off, rss_hf, k);
	if (type == RTE_ETHER_TYPE_IPV6)
		return hash_ipv6(buf, len, off, rss_hf, k);
	return 0;
}

uint32_t
vhu_eth_rss_hash_mbuf(const struct rte_mbuf *m, uint64_t rss_hf,
		      const struct vhu_eth_rss_key *k)
{
	uint8_t copy[RSS_PARSE_MAX];
	uint32_t len = RTE_MIN(m->pkt_len, (uint32_t)RSS_PARSE_MAX);
	const uint8_t *p;

	/* points into the first segment when the headers are there */
	p = rte_pktmbuf_read(m, 0, len, copy);
	if (p == NULL)
		return 0;
	return vhu_eth_rss_hash_buf(p, len, rss_hf, k);
}
