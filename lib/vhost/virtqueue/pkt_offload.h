/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Software offloads on mbufs: what the guest or the application asked a
 * device to do and the other side cannot (doc/guide/offloads.md). Pure
 * functions of packets, no queue, no guest memory: the floor under the
 * virtio-net header code (net_hdr.c) and the enqueue's offload stage
 * (offload.c). Every read is bounded by the packet's length; headers are
 * parsed with rte_net_get_ptype(), checksums summed with rte_raw_cksum().
 *
 * Checksum convention, shared by virtio (NEEDS_CSUM, virtio 1.2 §5.1.6.2)
 * and DPDK's transmit offloads: the 16-bit checksum field holds the
 * pseudo-header sum, so completing it is the ones' complement of the sum
 * of every byte from the L4 header to the end, field included.
 */
#ifndef VHU_PKT_OFFLOAD_H
#define VHU_PKT_OFFLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

/* Where a packet's headers are. */
struct vhu_pkt_hdrs {
	uint32_t ptype;   /* RTE_PTYPE_L2/L3/L4 of rte_net_get_ptype() */
	uint16_t l2_len;  /* Ethernet with VLAN/QinQ tags */
	uint16_t l3_len;  /* IPv4 with options, IPv6 with extension headers */
	uint16_t l4_len;  /* TCP with options, or 8 for UDP; 0: not parsed */
	uint8_t l4_proto; /* IPPROTO_TCP, IPPROTO_UDP, or 0: neither */
	bool ipv4;        /* L3 is IPv4 (else IPv6 when l4_proto != 0) */
};

/*
 * Parse m's L2, L3 and L4 headers. Returns 0 when m is TCP or UDP over
 * IPv4 or IPv6 (no tunnel, no IP fragment) with all its headers inside
 * the packet; -EINVAL otherwise, with l4_proto 0 and the lengths as far
 * as found.
 */
int vhu_pkt_parse(const struct rte_mbuf *m, struct vhu_pkt_hdrs *h);

/*
 * Whether m's bytes may be changed in place: only its holder references
 * them (every segment direct, refcnt 1) and the first upto bytes are in
 * the first segment.
 */
bool vhu_pkt_writable(const struct rte_mbuf *m, uint32_t upto);

/*
 * Complete a partial checksum: the ones' complement of the sum of bytes
 * [start, pkt_len), which include the field at start + off (seeded with
 * the pseudo-header sum), stored in that field. With udp, a result of 0
 * is stored as 0xffff (RFC 768). The field may sit in any segment.
 * Returns 0, or -EINVAL when start + off + 2 > pkt_len.
 */
int vhu_pkt_cksum_finish(struct rte_mbuf *m, uint32_t start, uint32_t off,
			 bool udp);

/*
 * Recompute in place the IPv4 header checksum of the header at l2_len
 * (in the first segment; vhu_pkt_parse() succeeded).
 */
void vhu_pkt_ipv4_cksum(struct rte_mbuf *m, uint16_t l2_len);

/*
 * Copy m into a new chain from mp, its first hdr bytes (at most the
 * pool's data room) in the first segment. Offload metadata (ol_flags,
 * tx_offload, packet_type) is copied too. NULL when mp runs dry.
 */
struct rte_mbuf *vhu_pkt_copy(const struct rte_mbuf *m,
			      struct rte_mempool *mp, uint32_t hdr);

/*
 * Segment a TCP (IPv4 or IPv6) or UDP frame m, as parsed in h, into
 * frames of at most mss payload bytes each: what a NIC does with
 * RTE_MBUF_F_TX_TCP_SEG / _UDP_SEG. Segment k carries payload bytes
 * [k * mss, (k + 1) * mss) and a copy of the headers with: IPv4 total
 * length, id (the frame's + k) and header checksum; IPv6 payload length;
 * TCP sequence number (+ k * mss), FIN and PSH on the last segment only,
 * CWR on the first only; UDP length; L4 checksum complete (computed from
 * scratch, whatever the frame's field held). Each segment is a new chain
 * from mp, headers in its first segment, ol_flags
 * RTE_MBUF_F_RX_L4_CKSUM_GOOD (and RTE_MBUF_F_RX_IP_CKSUM_GOOD for IPv4),
 * packet_type h->ptype, l2/l3/l4_len set.
 *
 * Produces the segments first, first + 1, ... up to max of them (out is
 * filled from out[0]); call again with first advanced to continue. A
 * payload of at most mss bytes (none included) is one segment.
 * Returns how many were stored (0 when first is past the last), or
 * -EINVAL (mss 0, h not TCP/UDP), -ENOMEM (mp ran dry: nothing is left
 * allocated).
 */
int vhu_pkt_segment(const struct rte_mbuf *m, const struct vhu_pkt_hdrs *h,
		    uint16_t mss, uint32_t first, struct rte_mempool *mp,
		    struct rte_mbuf **out, uint16_t max);

/* How many segments vhu_pkt_segment() makes of m (at least 1). */
uint32_t vhu_pkt_segment_count(const struct rte_mbuf *m,
			       const struct vhu_pkt_hdrs *h, uint16_t mss);

#endif /* VHU_PKT_OFFLOAD_H */
