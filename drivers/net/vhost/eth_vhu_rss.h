/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_vhu RSS: the Toeplitz hash of a frame over the tuple an ethdev
 * rss_hf selects, with DPDK's rte_thash. Self-contained (no port state,
 * no ethdev driver header) so the unit test links eth_vhu_rss.c alone.
 * The PMD uses it to fill mbuf hash.rss on Rx and, with rss-steer=1, to
 * pick the guest receive queue of each frame on Tx.
 */
#ifndef VHU_ETH_RSS_H
#define VHU_ETH_RSS_H

#include <stdint.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

/*
 * Key length the hash uses: 40 bytes, the Microsoft RSS key size. The
 * longest tuple (IPv6 addresses and ports, 36 bytes) needs 36 + 4 key
 * bytes, so a 52-byte key (the size some NICs take) is accepted and
 * reported back whole, and only its first 40 bytes change the hash.
 */
#define VHU_ETH_RSS_KEY_LEN 40
#define VHU_ETH_RSS_KEY_LEN_MAX 52

/*
 * Indirection table entries. 128: a multiple of ethdev's 64-entry RETA
 * groups, 8 entries per queue at libvhu's default 16 queue pairs (so any
 * share of the queues can be expressed), the 7 low bits of the hash as
 * NICs of the 82599 family use, and stored as bytes it is two cache lines
 * the Tx steering path reads.
 */
#define VHU_ETH_RETA_SIZE 128

/* The rss_hf bits the hash knows (ethdev's flow_type_rss_offloads). */
#define VHU_ETH_RSS_HF \
	(RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_FRAG_IPV4 | \
	 RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_NONFRAG_IPV4_UDP | \
	 RTE_ETH_RSS_NONFRAG_IPV4_OTHER | \
	 RTE_ETH_RSS_IPV6 | RTE_ETH_RSS_FRAG_IPV6 | \
	 RTE_ETH_RSS_NONFRAG_IPV6_TCP | RTE_ETH_RSS_NONFRAG_IPV6_UDP | \
	 RTE_ETH_RSS_NONFRAG_IPV6_OTHER)

/*
 * The default key: 0x6d5a repeated. Its bit pattern repeats every 16
 * bits, so swapping the two addresses (32 or 128 bits apart) and the two
 * ports (16 bits apart) leaves the hash unchanged: both directions of a
 * connection land on one queue.
 */
extern const uint8_t vhu_eth_rss_key_default[VHU_ETH_RSS_KEY_LEN];

/* A key converted for rte_softrss_be(): one host-order word per 4 bytes. */
struct vhu_eth_rss_key {
	uint32_t w[VHU_ETH_RSS_KEY_LEN / 4];
};

/* Convert the first VHU_ETH_RSS_KEY_LEN bytes of key (rte_convert_rss_key). */
void vhu_eth_rss_key_prepare(struct vhu_eth_rss_key *k, const uint8_t *key);

/*
 * Toeplitz hash of the frame in buf (len bytes from its Ethernet header):
 * Ethernet, up to two VLAN tags (0x8100, 0x88a8), then IPv4 or IPv6
 * (skipping hop-by-hop, routing and destination-options headers), with the
 * TCP or UDP ports when rss_hf asks for that flow type and the packet is
 * not a fragment. 0 for a frame whose type rss_hf does not select, a
 * non-IP frame, or headers cut short.
 */
uint32_t vhu_eth_rss_hash_buf(const uint8_t *buf, uint32_t len,
			      uint64_t rss_hf,
			      const struct vhu_eth_rss_key *k);

/* The same over an mbuf (headers may span segments). */
uint32_t vhu_eth_rss_hash_mbuf(const struct rte_mbuf *m, uint64_t rss_hf,
			       const struct vhu_eth_rss_key *k);

#endif /* VHU_ETH_RSS_H */
