/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-net header's offload fields (virtio 1.2 §5.1.6) against mbuf
 * metadata, both ways (doc/guide/offloads.md). Above the software
 * offloads (pkt_offload.h), under the ring layouts (which fill receive
 * headers) and the burst's offload stage (which reads transmit headers).
 */
#ifndef VHU_NET_HDR_H
#define VHU_NET_HDR_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_net.h>

#include <rte_mbuf.h>

#include "pkt_offload.h"

/* USO (virtio 1.2 §5.1.6): newer than some kernel headers */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

/* Segmentation requests, in either of DPDK's conventions. */
#define VHU_OL_GSO_FLAGS \
	(RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_UDP_SEG | RTE_MBUF_F_RX_LRO)

/* mbuf flags that may put something in a receive header. */
#define VHU_OL_HDR_FLAGS \
	(VHU_OL_GSO_FLAGS | RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK)

/* m asks for segmentation: a flag, and a segment size to cut at. */
static inline bool
vhu_mbuf_is_gso(const struct rte_mbuf *m)
{
	return (m->ol_flags & VHU_OL_GSO_FLAGS) != 0 && m->tso_segsz != 0;
}

/* m's L4 checksum is partial (pseudo-header sum in the field). */
static inline bool
vhu_mbuf_l4_partial(const struct rte_mbuf *m)
{
	uint64_t tx = m->ol_flags & RTE_MBUF_F_TX_L4_MASK;

	return tx == RTE_MBUF_F_TX_TCP_CKSUM || tx == RTE_MBUF_F_TX_UDP_CKSUM ||
	       (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) ==
	       RTE_MBUF_F_RX_L4_CKSUM_NONE;
}

/*
 * caps below: a vring's negotiated offloads, VHU_OL_* (vq.h).
 *
 * Whether a guest whose receive offloads are caps takes the
 * GSO frame m, parsed in h, as it is: its L4 and IP version negotiated,
 * and GUEST_ECN when the TCP header has CWR set (virtio 1.2 §5.1.6.4).
 */
bool vhu_net_gso_ok(const struct rte_mbuf *m, const struct vhu_pkt_hdrs *h,
		    uint8_t caps);

/*
 * The receive header for m (num_buffers aside) for a guest whose receive
 * offloads are caps: NEEDS_CSUM for a partial checksum, GSO type and size
 * for a segmentation request, DATA_VALID for a checksum known good; all
 * zero for what caps lacks (the offload stage, offload.c, did that work
 * in software before).
 */
void vhu_net_hdr_fill(const struct rte_mbuf *m, uint8_t caps,
		      struct virtio_net_hdr *h);

/* vhu_net_hdr_apply() results */
enum vhu_net_hdr_rc {
	VHU_NET_HDR_OK,      /* described in the mbuf's metadata */
	VHU_NET_HDR_SW_CSUM, /* checksum completed in software */
	VHU_NET_HDR_BAD,     /* drop the frame */
};

/*
 * A transmit header h (the library's own copy: read once from the guest)
 * into m's metadata, for a guest whose transmit offloads are caps:
 * legacy picks DPDK's transmit-flag convention, else receive flags
 * (vhu.h, VHU_SOCKET_LEGACY_OL_FLAGS). Checked against the frame m holds:
 * checksum position inside it, GSO type known, negotiated and matching
 * the frame's headers, gso_size not 0, hdr_len within the frame. A partial
 * checksum the metadata cannot describe (not at the TCP or UDP checksum
 * field) is completed in m. *why says what was wrong on VHU_NET_HDR_BAD.
 */
enum vhu_net_hdr_rc vhu_net_hdr_apply(const struct virtio_net_hdr *h,
				      uint8_t caps, bool legacy,
				      struct rte_mbuf *m, const char **why);

#endif /* VHU_NET_HDR_H */
