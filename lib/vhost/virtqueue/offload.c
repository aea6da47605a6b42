/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The offload stages of a burst (doc/guide/offloads.md), between the
 * public calls (burst.c) and the ring layouts.
 *
 * Enqueue: a packet whose flags ask for something the guest did not
 * negotiate (vq->ol_sw_flags) or that is longer than its MTU comes here;
 * the rest go to the layout in runs, untouched. Here a packet is passed
 * on as it is (the layout's header says what the guest takes), fixed
 * (checksums completed: in place when only the caller holds it, else in a
 * copy), segmented (one frame per tso_segsz of payload, from the packet's
 * own pool), or dropped (longer than the MTU and not a GSO frame).
 *
 * Dequeue: the layout kept each frame's virtio-net header in its mbuf's
 * headroom (VHU_VQ_F_NET_OL); here it becomes metadata, or the frame is
 * dropped for a header that lies about it.
 */
#include <errno.h>
#include <string.h>
#include <netinet/in.h>

#include "vhu_burst.h"
#include "vq.h"
#include "offload.h"
#include "net_hdr.h"
#include "pkt_offload.h"
#include "vhu_log.h"

/* Segments made and placed at a time: one layout burst's worth. */
#define SEG_CHUNK 32

static inline uint16_t
layout_enqueue(struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t n)
{
	return (vq->flags & VHU_VQ_F_PACKED) ?
	       vhu_packed_enqueue(vq, pkts, n) :
	       vhu_split_enqueue(vq, pkts, n);
}

/*
 * drops_no_buf, as the layouts count it: a layout that runs out of guest
 * buffers counts every frame it was given and did not place (and one
 * stopped for another reason, a broken ring or an IOMMU miss, counts
 * none). The stage gives the layout part of the burst at a time, or the
 * segments of one packet: the helpers below make the sum what one layout
 * call for the whole burst would have counted. Only this data path
 * writes the counter, so reading it back tells whether the layout ran
 * out of room.
 */
static inline uint64_t
no_buf_now(const struct vhu_vq *vq)
{
	return vq->stats.drops_no_buf;
}

/* What one packet needs from the stage. */
enum stage_rc {
	STAGE_DONE, /* placed, or dropped and counted */
	STAGE_FULL, /* nothing placed: the guest's ring is full */
};

/* Place m as it is; FULL when it did not fit. */
static enum stage_rc
place(struct vhu_vq *vq, struct rte_mbuf *m)
{
	return layout_enqueue(vq, &m, 1) == 1 ? STAGE_DONE : STAGE_FULL;
}

/*
 * Cut m into segments and place them, SEG_CHUNK at a time. A ring that
 * fills after the first segments went in loses the rest (each counted in
 * drops_no_buf): the frame was partly delivered and cannot be offered
 * again. A ring with no room for the first is FULL, counted once.
 */
static enum stage_rc
segment(struct vhu_vq *vq, struct rte_mbuf *m, const struct vhu_pkt_hdrs *h)
{
	struct rte_mbuf *segs[SEG_CHUNK];
	uint32_t hdrs = (uint32_t)h->l2_len + h->l3_len + h->l4_len;
	uint16_t mss = m->tso_segsz;
	uint32_t total, first = 0;

	/* segments must fit the guest's MTU: smaller ones are still TCP */
	if (vq->max_frame != UINT32_MAX && hdrs + mss > vq->max_frame) {
		if (vq->max_frame <= hdrs) {
			vhu_stat_add(&vq->stats.drops_mtu, 1);
			return STAGE_DONE;
		}
		mss = (uint16_t)(vq->max_frame - hdrs);
	}
	if (m->pool == NULL) {
		vhu_stat_add(&vq->stats.drops_no_buf, 1);
		return STAGE_DONE;
	}
	total = vhu_pkt_segment_count(m, h, mss);
	while (first < total) {
		int got = vhu_pkt_segment(m, h, mss, first, m->pool,
					  segs, SEG_CHUNK);
		uint64_t no_buf;
		uint16_t n;

		if (got <= 0) {
			VHU_DATA_DEBUG_LOG("%s: segmentation failed (%d)",
					   vq->name, got);
			vhu_stat_add(&vq->stats.drops_no_buf, 1);
			return STAGE_DONE;
		}
		no_buf = no_buf_now(vq);
		n = layout_enqueue(vq, segs, (uint16_t)got);
		rte_pktmbuf_free_bulk(segs, (unsigned int)got);
		if (n == 0 && first == 0) {
			/* one packet not placed, not its got segments */
			if (no_buf_now(vq) != no_buf)
				vhu_stat_sub(&vq->stats.drops_no_buf,
					     (uint64_t)got - 1);
			return STAGE_FULL;
		}
		first += n;
		if (n < got) {
			/*
			 * The layout counted this chunk's segments that found
			 * no room; the chunks never offered are lost too.
			 */
			if (no_buf_now(vq) != no_buf)
				vhu_stat_add(&vq->stats.drops_no_buf,
					     total - first - (got - n));
			break;
		}
	}
	vhu_stat_add(&vq->stats.sw_segmented, 1);
	return STAGE_DONE;
}

/*
 * Complete the checksums m asks for and the guest cannot: in m when only
 * the caller holds it (a NIC driver's transmit preparation writes there
 * too), else in a copy from m's pool.
 */
static enum stage_rc
fix_cksums(struct vhu_vq *vq, struct rte_mbuf *m, const struct vhu_pkt_hdrs *h,
	   bool ip, bool l4)
{
	uint32_t l4_off = (uint32_t)h->l2_len + h->l3_len;
	struct rte_mbuf *c = m;
	enum stage_rc rc;

	if (!vhu_pkt_writable(m, l4_off + h->l4_len)) {
		c = m->pool != NULL ? vhu_pkt_copy(m, m->pool,
						   l4_off + h->l4_len) : NULL;
		if (c == NULL) {
			vhu_stat_add(&vq->stats.drops_no_buf, 1);
			return STAGE_DONE;
		}
	}
	if (ip && h->ipv4)
		vhu_pkt_ipv4_cksum(c, h->l2_len);
	if (l4) {
		bool tcp = h->l4_proto == IPPROTO_TCP;

		(void)vhu_pkt_cksum_finish(c, l4_off, tcp ? 16 : 6, !tcp);
		vhu_stat_add(&vq->stats.sw_cksums, 1);
		/* complete now: the header must not call it partial */
		c->ol_flags &= ~(RTE_MBUF_F_TX_L4_MASK |
				 RTE_MBUF_F_RX_L4_CKSUM_MASK);
		c->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	}
	if (ip)
		c->ol_flags &= ~RTE_MBUF_F_TX_IP_CKSUM;
	/*
	 * Done in m itself, its flags now say so: the caller may hand the
	 * same packet to another port (vhu_burst.h, "Offloads").
	 */
	if (c == m)
		return place(vq, m);
	rc = place(vq, c);
	rte_pktmbuf_free(c);
	return rc;
}

/* One packet that vq->ol_sw_flags or vq->max_frame sent here. */
static enum stage_rc
stage_one(struct vhu_vq *vq, struct rte_mbuf *m)
{
	const uint8_t caps = vq->ol_caps;
	bool gso = vhu_mbuf_is_gso(m);
	bool ip = (m->ol_flags & RTE_MBUF_F_TX_IP_CKSUM) != 0;
	bool l4 = !gso && !(caps & VHU_OL_CSUM) && vhu_mbuf_l4_partial(m);
	struct vhu_pkt_hdrs h;

	if (!gso && m->pkt_len > vq->max_frame) {
		VHU_DATA_DEBUG_LOG("%s: %u-byte frame above the MTU dropped",
				   vq->name, m->pkt_len);
		vhu_stat_add(&vq->stats.drops_mtu, 1);
		return STAGE_DONE;
	}
	if (!gso && !ip && !l4)
		return place(vq, m);
	if (vhu_pkt_parse(m, &h) != 0) {
		/* nothing to locate the work by: a GSO frame cannot be cut */
		if (gso) {
			vhu_stat_add(&vq->stats.drops_mtu, 1);
			return STAGE_DONE;
		}
		return place(vq, m);
	}
	if (gso && !vhu_net_gso_ok(m, &h, caps))
		return segment(vq, m, &h);
	/*
	 * A GSO frame the guest takes as it is (sent here for its flag or
	 * its length), or an IPv4 checksum flag on an IPv6 frame: nothing
	 * to compute, so nothing to copy for a shared packet either.
	 */
	if (!l4 && !(ip && h.ipv4))
		return place(vq, m);
	return fix_cksums(vq, m, &h, ip, l4);
}

uint16_t
vhu_offload_enqueue(struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count)
{
	uint16_t i = 0;

	count = RTE_MIN(count, (uint16_t)VHU_BURST_MAX);
	while (i < count) {
		uint16_t j = i, n;
		uint64_t no_buf = no_buf_now(vq);

		while (j < count && !vhu_offload_wanted(vq, pkts[j]))
			j++;
		if (j > i) {
			n = layout_enqueue(vq, pkts + i, j - i);
			i += n;
			if (i < j) {
				/* the rest of the burst, as the layout would */
				if (no_buf_now(vq) != no_buf)
					vhu_stat_add(&vq->stats.drops_no_buf,
						     count - j);
				return i;
			}
		}
		if (i == count)
			break;
		no_buf = no_buf_now(vq);
		if (stage_one(vq, pkts[i]) == STAGE_FULL) {
			if (no_buf_now(vq) != no_buf)
				vhu_stat_add(&vq->stats.drops_no_buf,
					     count - i - 1);
			return i;
		}
		i++;
	}
	return i;
}

uint16_t
vhu_offload_dequeue(struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t n)
{
	const uint16_t hdr_len = vq->hdr_len;
	const bool legacy = vq->flags & VHU_VQ_F_LEGACY_OL;
	uint16_t keep = 0;
	uint64_t bad = 0, bad_bytes = 0, sw = 0;

	for (uint16_t k = 0; k < n; k++) {
		struct rte_mbuf *m = pkts[k];
		struct virtio_net_hdr h;
		const char *why = NULL;

		/*
		 * The layout's copy, in the headroom (VHU_VQ_F_NET_OL); a
		 * pool without headroom had no room for it: nothing asked.
		 */
		if (unlikely(m->data_off < hdr_len))
			memset(&h, 0, sizeof(h));
		else
			memcpy(&h, rte_pktmbuf_mtod(m, uint8_t *) - hdr_len,
			       sizeof(h));
		if (h.flags == 0 && h.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
			pkts[keep++] = m;
			continue;
		}
		switch (vhu_net_hdr_apply(&h, vq->ol_caps, legacy, m, &why)) {
		case VHU_NET_HDR_BAD:
			VHU_DATA_DEBUG_LOG("%s: frame dropped: %s", vq->name,
					   why);
			bad_bytes += m->pkt_len;
			rte_pktmbuf_free(m);
			bad++;
			continue;
		case VHU_NET_HDR_SW_CSUM:
			sw++;
			break;
		case VHU_NET_HDR_OK:
			break;
		}
		pkts[keep++] = m;
	}
	if (unlikely(bad > 0)) {
		/*
		 * The layout counted them as moved; like a frame dropped for
		 * its descriptors (desc_errors) or, on enqueue, for the MTU,
		 * they are not: packets and bytes count what the burst hands
		 * over.
		 */
		vhu_stat_sub(&vq->stats.packets, bad);
		vhu_stat_sub(&vq->stats.bytes, bad_bytes);
		vhu_stat_add(&vq->stats.drops_bad_hdr, bad);
	}
	if (sw > 0)
		vhu_stat_add(&vq->stats.sw_cksums, sw);
	return keep;
}

int
vhu_pkt_finish_cksum(struct rte_mbuf *m)
{
	struct vhu_pkt_hdrs h;
	bool tcp;

	if (m == NULL)
		return -EINVAL;
	if ((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) !=
	    RTE_MBUF_F_RX_L4_CKSUM_NONE)
		return 0;
	if (vhu_pkt_parse(m, &h) != 0)
		return -EINVAL;
	tcp = h.l4_proto == IPPROTO_TCP;
	if (vhu_pkt_cksum_finish(m, (uint32_t)h.l2_len + h.l3_len,
				 tcp ? 16 : 6, !tcp) != 0)
		return -EINVAL;
	m->ol_flags = (m->ol_flags & ~RTE_MBUF_F_RX_L4_CKSUM_MASK) |
		      RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	return 0;
}
