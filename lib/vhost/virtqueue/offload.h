/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The offload stages of a burst (offload.c): above the ring layouts,
 * under the public calls (burst.c).
 */
#ifndef VHU_OFFLOAD_H
#define VHU_OFFLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "vq.h"

/*
 * Whether m must go through the enqueue's offload stage: a flag of
 * vq->ol_sw_flags, a partial checksum (RX_L4_CKSUM_NONE, both bits of
 * the mask) the guest cannot take, or a frame longer than its MTU. One
 * load of ol_flags and of pkt_len, both in the mbuf's first line.
 */
static inline bool
vhu_offload_wanted(const struct vhu_vq *vq, const struct rte_mbuf *m)
{
	uint64_t f = m->ol_flags;

	return (f & vq->ol_sw_flags) != 0 ||
	       (f & vq->ol_partial_mask) == RTE_MBUF_F_RX_L4_CKSUM_MASK ||
	       m->pkt_len > vq->max_frame;
}

/*
 * vhu_enqueue_burst() when some packet is vhu_offload_wanted(): runs of
 * the others go to the layout as they are, each wanted one through the
 * stage. Returns how many packets, from the start, were placed or
 * dropped (vhu_burst.h).
 */
uint16_t vhu_offload_enqueue(struct vhu_vq *vq, struct rte_mbuf **pkts,
			     uint16_t count);

/*
 * After a layout's dequeue on a vring with VHU_VQ_F_NET_OL: turn the
 * virtio-net header each mbuf holds in its headroom into metadata, drop
 * (free and count) the frames whose header is bad, and close the gaps.
 * Returns how many mbufs remain in pkts.
 */
uint16_t vhu_offload_dequeue(struct vhu_vq *vq, struct rte_mbuf **pkts,
			     uint16_t n);

#endif /* VHU_OFFLOAD_H */
