/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fast-path bodies both ring layouts share (split.c, packed.c): the
 * one-descriptor classification of pass 1 and the copies of pass 2, for
 * each direction. A layout reads the descriptor fields once from its own
 * ring and hands the values in; what is decided here never depends on the
 * layout, so the two hot files differ only in how they find and return
 * buffers.
 */
#ifndef VHU_FASTPATH_H
#define VHU_FASTPATH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/eventfd.h>

#include <linux/virtio_ring.h>

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "vq.h"
#include "desc_split.h"
#include "copy.h"
#include "extbuf.h"

/* A transmit frame pass 1 validated: pass 2 copies it into m. */
struct vhu_tx_order {
	struct rte_mbuf *m;
	const uint8_t *src;
};

/* A receive buffer pass 1 validated: pass 2 writes header and frame. */
struct vhu_rx_order {
	uint8_t *dst;
	uint64_t gpa;
	const struct rte_mbuf *m;
};

/*
 * Signal the guest's call eventfd once (the layout decided that the
 * driver asked for it): the only syscall of the data path.
 */
static inline void
vhu_call_guest(struct vhu_vq *vq)
{
	if (vq->callfd >= 0) {
		(void)eventfd_write(vq->callfd, 1);
		vhu_stat_add(&vq->stats.calls, 1);
	}
}

#define VHU_DESC_KIND_MASK \
	(VRING_DESC_F_NEXT | VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE)

/*
 * Transmit fast path: one readable descriptor (virtio 1.2 §2.7.5 and
 * §2.8.6: no NEXT; §2.7.5 and §2.8.7: no INDIRECT; §5.1.6: TX is
 * readable), longer than the header, a frame that fits the fresh mbuf m
 * (so below VHU_MAX_TX_FRAME), inside one memory region (read view: the
 * IOTLB with VHU_VQ_F_IOMMU; a miss falls back to the walker, which
 * requests it). xl was set up on vq->mem_rd. On true m is
 * initialised and *o queued; on false nothing changed.
 */
static inline bool
vhu_tx_simple(struct vhu_vq *vq, struct vhu_xlate *xl, uint16_t flags,
	      uint64_t addr, uint32_t dlen, struct rte_mbuf *m,
	      struct vhu_tx_order *o)
{
	const uint16_t hdr_len = vq->hdr_len;
	const uint8_t *hva;

	if ((flags & VHU_DESC_KIND_MASK) != 0 || dlen <= hdr_len ||
	    dlen - hdr_len > vhu_mbuf_fresh_room(m))
		return false;
	hva = vhu_xlate_whole(xl, vq->mem_rd, &vq->mem_hint, addr, dlen);
	if (unlikely(hva == NULL))
		return false;
	vhu_prefetch_frame_head(hva + hdr_len, dlen - hdr_len);
	vhu_mbuf_init(m, dlen - hdr_len);
	o->m = m;
	o->src = hva + hdr_len;
	return true;
}

/*
 * Receive fast path: one writable descriptor (same sections; §5.1.6: RX
 * is writable) with room for header and the one-segment frame m, inside
 * one memory region (write view, vq->mem_wr, which xl was set up on): one
 * buffer with or without MRG_RXBUF. On true *o is
 * queued; on false nothing changed.
 */
static inline bool
vhu_rx_simple(struct vhu_vq *vq, struct vhu_xlate *xl, uint16_t flags,
	      uint64_t addr, uint32_t dlen, const struct rte_mbuf *m,
	      struct vhu_rx_order *o)
{
	uint8_t *hva;

	if ((flags & VHU_DESC_KIND_MASK) != VRING_DESC_F_WRITE ||
	    dlen < (uint32_t)vq->hdr_len + m->data_len)
		return false;
	hva = vhu_xlate_whole(xl, vq->mem_wr, &vq->mem_hint, addr, dlen);
	if (unlikely(hva == NULL))
		return false;
	vhu_prefetchw_frame_head(hva, vq->hdr_len, m->data_len);
	o->dst = hva;
	o->gpa = addr;
	o->m = m;
	return true;
}

/*
 * Dequeue, any other chain: copy its walked pieces (header skipped) into
 * pkts[npkts], initialised empty. When segments run out (that mbuf is
 * freed), the mbufs the burst holds in reserve, pkts[npkts + 1 .. *nfresh),
 * serve better as this chain's segments: back to the pool, and the copy
 * is tried once more. False when the pool is dry: *nfresh = npkts and the
 * chain stays in the ring for the next call.
 */
static inline bool
vhu_tx_copy_chain(struct rte_mempool *mp, struct rte_mbuf **pkts,
		  uint16_t npkts, uint16_t *nfresh,
		  const struct vhu_piece *pieces, uint32_t np, uint16_t hdr_len,
		  bool keep_hdr)
{
	struct rte_mbuf *m;

	if (likely(vhu_copy_guest_to_mbuf(mp, pkts[npkts], pieces, np,
					  hdr_len, keep_hdr)))
		return true;
	if (npkts + 1 < *nfresh) {
		rte_mempool_put_bulk(mp, (void **)&pkts[npkts + 1],
				     *nfresh - npkts - 1);
		m = rte_mbuf_raw_alloc(mp);
		if (m != NULL) {
			pkts[npkts] = m;
			vhu_mbuf_init(m, 0);
			if (vhu_copy_guest_to_mbuf(mp, m, pieces, np,
						   hdr_len, keep_hdr)) {
				*nfresh = npkts + 1;
				return true;
			}
		}
	}
	*nfresh = npkts;
	return false;
}

/* What the dequeue does with a walked chain (vhu_tx_copy_big). */
enum vhu_tx_big {
	VHU_TX_BIG_NO,     /* fits one mbuf, or chains allowed: as before */
	VHU_TX_BIG_COPIED, /* copied into one external buffer on m */
	VHU_TX_BIG_DROP,   /* VHU_VQ_F_LINEAR and no buffer holds it: drop */
};

/*
 * Dequeue, a chain whose frame is flen bytes, on a queue with
 * VHU_VQ_F_LINEAR or VHU_VQ_F_EXTBUF (vhu.h, "External and linear
 * buffers"): a frame that outgrows the fresh mbuf m is copied once into
 * an external buffer attached to m (EXTBUF), or dropped (LINEAR without
 * a buffer), never chained. m was initialised empty (vhu_mbuf_init).
 */
static inline enum vhu_tx_big
vhu_tx_copy_big(const struct vhu_vq *vq, struct rte_mempool *mp,
		struct rte_mbuf *m, const struct vhu_piece *pieces,
		uint32_t np, uint32_t flen, uint16_t hdr_len, bool keep_hdr)
{
	if (flen <= vhu_mbuf_fresh_room(m))
		return VHU_TX_BIG_NO;
	if ((vq->flags & VHU_VQ_F_EXTBUF) &&
	    vhu_extbuf_attach(m, flen, mp->socket_id)) {
		/* one segment has room for all of it: mp is never asked */
		(void)vhu_copy_guest_to_mbuf(mp, m, pieces, np, hdr_len,
					     keep_hdr);
		return VHU_TX_BIG_COPIED;
	}
	return (vq->flags & VHU_VQ_F_LINEAR) ? VHU_TX_BIG_DROP :
					       VHU_TX_BIG_NO;
}

/*
 * Dequeue pass 2: copy the orders, the rest of the next frame prefetched
 * (pass 1 asked for the head of every frame). keep_hdr_len (0: none)
 * bytes of virtio-net header go to the headroom (VHU_VQ_F_NET_OL).
 */
static inline void
vhu_tx_copy_orders(const struct vhu_tx_order *o, uint16_t n,
		   uint16_t keep_hdr_len)
{
	/* before the frames: the loop below tests nothing for it */
	if (unlikely(keep_hdr_len != 0))
		for (uint16_t k = 0; k < n; k++)
			memcpy(rte_pktmbuf_mtod(o[k].m, uint8_t *) -
			       keep_hdr_len, o[k].src - keep_hdr_len,
			       keep_hdr_len);
	for (uint16_t k = 0; k < n; k++) {
		struct rte_mbuf *m = o[k].m;

		/* see vhu_prefetch_frame() */
		if (k + 1 < n && o[k + 1].m->data_len > VHU_PREFETCH_EARLY)
			vhu_prefetch_frame(o[k + 1].src + VHU_PREFETCH_EARLY,
					   o[k + 1].m->data_len -
					   VHU_PREFETCH_EARLY);
		vhu_copy_frame(rte_pktmbuf_mtod(m, uint8_t *), o[k].src,
			       m->data_len);
	}
}

/*
 * Enqueue pass 2, one order: its header and frame, the rest of the next
 * order's destination (NULL: none) prefetched for writing.
 */
static __rte_always_inline void
vhu_rx_copy_order(const struct vhu_rx_order *o, const struct vhu_rx_order *next,
		  uint16_t hdr_len, uint8_t ol_caps)
{
	if (next != NULL)
		vhu_prefetchw_frame_tail(next->dst, hdr_len, next->m->data_len);
	if (unlikely(ol_caps != 0 && (o->m->ol_flags & VHU_OL_HDR_FLAGS))) {
		struct virtio_net_hdr_mrg_rxbuf hdr;

		vhu_net_hdr_for(&hdr, o->m, ol_caps, 1);
		memcpy(o->dst, &hdr, RTE_MIN((size_t)hdr_len, sizeof(hdr)));
	} else {
		vhu_put_net_hdr(o->dst, hdr_len, 1,
				o->m->data_len > 0 &&
				!((((uintptr_t)o->dst + hdr_len) ^
				   (uintptr_t)o->dst) & ~(uintptr_t)63));
	}
	vhu_copy_frame(o->dst + hdr_len, rte_pktmbuf_mtod(o->m, const void *),
		       o->m->data_len);
}

/* Enqueue pass 2: every order, then dirty bits. */
static __rte_always_inline void
vhu_rx_copy_orders(const struct vhu_vq *vq, const struct vhu_rx_order *o,
		   uint16_t n)
{
	const uint16_t hdr_len = vq->hdr_len;
	const uint8_t ol_caps = vq->ol_caps;

	/* two loops, so the one without offloads tests nothing per frame */
	if (likely(ol_caps == 0))
		for (uint16_t k = 0; k < n; k++)
			vhu_rx_copy_order(&o[k], k + 1 < n ? &o[k + 1] : NULL,
					  hdr_len, 0);
	else
		for (uint16_t k = 0; k < n; k++)
			vhu_rx_copy_order(&o[k], k + 1 < n ? &o[k + 1] : NULL,
					  hdr_len, ol_caps);
	if (unlikely(vq->flags & VHU_VQ_F_LOG) && n > 0) {
		/* D1: the bytes above before their dirty bits */
		atomic_thread_fence(memory_order_release);
		for (uint16_t k = 0; k < n; k++)
			vhu_log_mark(vq->log, o[k].gpa,
				     hdr_len + o[k].m->data_len);
	}
}

/* What an enqueue does after walking one receive buffer (chain). */
enum vhu_rx_walk_next {
	VHU_RX_TAKE,    /* the walk succeeded: use the buffer */
	VHU_RX_NO_ROOM, /* stop here; the frame waits for more buffers */
	VHU_RX_STOP,    /* stop the burst (queue broken, or an IOMMU miss) */
};

/*
 * Shared by both layouts: a bad chain breaks the queue; an IOMMU miss
 * stops the burst (requested already); more pieces than we track breaks
 * the queue on a frame's first buffer (no frame could ever fit) and
 * otherwise only ends the frame's search for buffers.
 */
static inline enum vhu_rx_walk_next
vhu_rx_walk_next(struct vhu_vq *vq, int rc, const char *why, bool first)
{
	if (likely(rc >= 0))
		return VHU_RX_TAKE;
	if (rc == VHU_WALK_MISS)
		return VHU_RX_STOP;
	if (rc == VHU_WALK_FULL && !first)
		return VHU_RX_NO_ROOM;
	vhu_vq_mark_broken(vq, rc == VHU_WALK_FULL ?
			   "receive chain split into too many pieces" : why);
	return VHU_RX_STOP;
}

#endif /* VHU_FASTPATH_H */
