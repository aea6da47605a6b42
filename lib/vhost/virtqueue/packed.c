/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packed virtqueue data path (virtio 1.2 §2.8): vhu_packed_dequeue() takes
 * the guest's transmit buffers into mbufs, vhu_packed_enqueue() copies
 * mbufs into its receive buffers. Both run inside the queue (vq.h) on a
 * polling lcore, with the structure of split.c: walk first (desc_packed.h,
 * every bound checked), copy second (copy.h, shared with split), stage the
 * used descriptors in shadow_used and publish them once per burst, then
 * call the guest at most once.
 *
 * Design. One descriptor ring serves both directions of the handshake:
 * the driver makes a buffer available by flipping the AVAIL/USED bits of
 * its first descriptor to its wrap counter (after writing the rest of the
 * chain, in consecutive slots); the device answers with one used
 * descriptor per buffer, written at its own used slot, carrying the
 * buffer id, the bytes written and both bits equal to its used wrap
 * counter, and then skips as many slots as the buffer had descriptors
 * (§2.8.6, §2.8.9). The device consumes buffers in ring order and uses
 * them in the same order, so its used slot trails its avail slot and
 * meets it again at the end of every burst: GET_VRING_BASE never sees
 * buffers in flight. Buffer ids are the driver's: echoed, never trusted.
 *
 * shadow_used entries: .id = buffer id | descriptor count << 16 (both fit:
 * ids are 16-bit, counts <= 32768), .len = bytes written.
 *
 * Memory-ordering edges (the guest side is the virtio driver):
 *   A4  load-acquire of a buffer's first descriptor flags, pairs with the
 *       driver's write barrier between writing the buffer (and the rest
 *       of its chain) and storing those flags (§2.8.21).
 *   R4  release fence between writing a used descriptor's id and len
 *       (and its buffer's bytes) and storing its flags; the first one's
 *       flags are stored last, so the driver, which polls its next slot,
 *       sees the whole burst at once. Pairs with the driver's read
 *       barrier between loading a used descriptor's flags and reading its
 *       id and len.
 *   F3  full fence between the flag stores and reading the driver event
 *       suppression area, pairs with the driver's full barrier between
 *       writing that area and re-checking for used descriptors.
 *   D1  (copy.h, and before ring logging) release fence between guest
 *       writes and their dirty bits.
 */
#include <string.h>
#include <sys/eventfd.h>

#include <rte_prefetch.h>

#include "vq.h"
#include "desc_split.h"
#include "desc_packed.h"
#include "copy.h"
#include "fastpath.h"
#include "vhu_log.h"

static inline uint32_t
shadow_pack(uint16_t id, uint16_t ndesc)
{
	return (uint32_t)id | (uint32_t)ndesc << 16;
}

static inline bool
log_used(const struct vhu_vq *vq)
{
	return (vq->flags & (VHU_VQ_F_LOG | VHU_VQ_F_LOG_USED)) ==
	       (VHU_VQ_F_LOG | VHU_VQ_F_LOG_USED);
}

/* A4: the flags of the descriptor at slot, ordering every later read. */
static inline uint16_t
load_flags(const struct vhu_vq *vq, uint16_t slot)
{
	return vhu_atomic_load_u16(&vq->pdesc[slot].flags,
				   memory_order_acquire);
}

/*
 * The one writer of used descriptors: the n staged in shadow_used, from
 * the used slot on, and advance it; returns the ring slots it moved by.
 * With o (n write orders, one per staged descriptor, ring order; never
 * with dirty logging) each frame is copied right before its descriptor is
 * written. Every descriptor but the head gets its flags as soon as its id
 * and length are written (R4); the head's flags go last, so the driver,
 * which polls the head, sees the burst at once. Writing them while the
 * ring line is still ours spreads the ring stores over the burst instead
 * of stalling on all of them after the last copy: about 15% more packets
 * in the packed 64 B rows (doc/guide/benchmark.md).
 */
static __rte_always_inline uint32_t
write_used(struct vhu_vq *vq, uint16_t n, const struct vhu_rx_order *o,
	   const uint8_t ol_caps)
{
	volatile struct vring_packed_desc *ring = vq->pdesc;
	const struct vring_used_elem *shadow = vq->shadow_used;
	const uint16_t hdr_len = vq->hdr_len;
	const uint16_t size = vq->size;
	const uint16_t head = vq->last_used_idx;
	const bool head_wrap = vq->used_wrap;
	uint16_t s = head;
	bool w = head_wrap;
	uint32_t moved = 0;
	uint16_t k;

	for (k = 0; k < n; k++) {
		uint16_t nd = shadow[k].id >> 16;

		if (o != NULL)
			vhu_rx_copy_order(&o[k], k + 1 < n ? &o[k + 1] : NULL,
					  hdr_len, ol_caps);
		ring[s].id = (uint16_t)shadow[k].id;
		ring[s].len = shadow[k].len;
		if (k > 0) {
			/* R4: id and length before the flags */
			atomic_thread_fence(memory_order_release);
			vhu_atomic_store_u16(&ring[s].flags,
					     vhu_pdesc_used_flags(w),
					     memory_order_relaxed);
		}
		vhu_pslot_add(&s, &w, nd, size);
		moved += nd;
	}
	vhu_atomic_store_u16(&ring[head].flags, vhu_pdesc_used_flags(head_wrap),
			     memory_order_release);
	if (unlikely(log_used(vq))) {
		const uint64_t esz = sizeof(struct vring_packed_desc);
		uint16_t ls = head;
		bool lw = head_wrap;

		/* D1: ring stores before their dirty bits */
		atomic_thread_fence(memory_order_release);
		for (k = 0; k < n; k++) {
			vhu_log_mark(vq->log, vq->used_log_gpa + ls * esz, esz);
			vhu_pslot_add(&ls, &lw, shadow[k].id >> 16, size);
		}
	}
	vq->last_used_idx = s;
	vq->used_wrap = w;
	return moved;
}

/* The driver's event suppression says DISABLE: never call (§2.8.10). */
static inline bool
suppressed(const struct vhu_vq *vq)
{
	return (vq->driver_event->flags & 0x3) ==
	       VRING_PACKED_EVENT_FLAG_DISABLE;
}

/*
 * Call the guest if its event suppression area asks for it; coalescing
 * (vhu_vring_set_coalesce) decides out of line, counting the slots moved
 * as buffers; off, it costs one flag test.
 */
static inline void
notify_guest(struct vhu_vq *vq, uint32_t moved)
{
	/* calm (vq.h, VHU_VQ_F_LAZY_CALLS): no fence, the check is owed */
	if (vq->calm >= VHU_VQ_CALM_AFTER) {
		if (suppressed(vq)) {
			vq->flags |= VHU_VQ_F_CALL_OWED;
			return;
		}
		vq->calm = 0;
	}
	if (!vhu_packed_want_call(vq, moved)) {
		if ((vq->flags & (VHU_VQ_F_LAZY_CALLS | VHU_VQ_F_COALESCE)) ==
		    VHU_VQ_F_LAZY_CALLS && suppressed(vq))
			vq->calm++;
		return;
	}
	vq->calm = 0;
	vq->flags &= ~(uint32_t)VHU_VQ_F_CALL_OWED;
	if (unlikely(vq->flags & VHU_VQ_F_COALESCE))
		vhu_vq_coalesce_call(vq, moved);
	else
		vhu_call_guest(vq);
}

/* Finish a burst that staged n used descriptors: publish, call. */
static inline void
complete_burst(struct vhu_vq *vq, uint16_t n)
{
	if (n == 0)
		return;
	notify_guest(vq, write_used(vq, n, NULL, 0));
}

/*
 * Translate the batch's buffers, each inside one region; false if any is
 * not. Then prefetch the next line of descriptors, read by the next batch;
 * for writing on the receive side, whose used descriptors go back into
 * that line (reading it first would cost a second transfer).
 */
static inline bool
pbatch_xlate(struct vhu_vq *vq, struct vhu_xlate *xl, uint16_t slot,
	     bool write, const struct vhu_pbatch *b, uint8_t **hva)
{
	const struct vhu_guest_mem *mem = write ? vq->mem_wr : vq->mem_rd;
	const volatile struct vring_packed_desc *next;

	for (int k = 0; k < VHU_PBATCH; k++) {
		hva[k] = vhu_xlate_whole(xl, mem, &vq->mem_hint,
					 b->addr[k], b->len[k]);
		if (unlikely(hva[k] == NULL))
			return false;
	}
	next = &vq->pdesc[slot + VHU_PBATCH < vq->size ? slot + VHU_PBATCH : 0];
	if (write)
		__builtin_prefetch((const void *)next, 1, 3);
	else
		rte_prefetch0((const void *)next);
	return true;
}

/*
 * Transmit batch path: the VHU_PBATCH buffers from slot, each one readable
 * descriptor holding header and a frame that fits its fresh mbuf, in one
 * region, become copy orders and used entries, all or none. False leaves
 * everything as it was.
 */
static inline bool
tx_batch(struct vhu_vq *vq, struct vhu_xlate *xl, uint16_t slot, bool wrap,
	 struct rte_mbuf **m, struct vhu_tx_order *o,
	 struct vring_used_elem *shadow, uint64_t *bytes)
{
	const uint16_t hdr_len = vq->hdr_len;
	uint8_t *hva[VHU_PBATCH];
	struct vhu_pbatch b;
	int k;

	if (!vhu_pbatch_load(vq, slot, wrap, 0, &b))
		return false;
	for (k = 0; k < VHU_PBATCH; k++)
		if (b.len[k] <= hdr_len ||
		    b.len[k] - hdr_len > vhu_mbuf_fresh_room(m[k]))
			return false;
	if (!pbatch_xlate(vq, xl, slot, false, &b, hva))
		return false;
	for (k = 0; k < VHU_PBATCH; k++) {
		vhu_prefetch_frame_head(hva[k] + hdr_len, b.len[k] - hdr_len);
		vhu_mbuf_init(m[k], b.len[k] - hdr_len);
		o[k].m = m[k];
		o[k].src = hva[k] + hdr_len;
		shadow[k].id = shadow_pack(b.id[k], 1);
		shadow[k].len = 0;
		*bytes += b.len[k] - hdr_len;
	}
	return true;
}

/*
 * Dequeue. Pass 1 takes buffers in ring order while their first
 * descriptor is available: one readable descriptor holding header and a
 * frame that fits one mbuf, in one region, is checked and queued as a
 * copy order; anything else goes through the walker and is copied at
 * once. Pass 2 copies the orders. The mempool is touched only when the
 * first slot holds a buffer, so an idle queue costs one load.
 */
uint16_t
vhu_packed_dequeue(struct vhu_vq *vq, struct rte_mempool *mp,
		   struct rte_mbuf **pkts, uint16_t count)
{
	struct vhu_piece pieces[VHU_MAX_PIECES];
	struct vhu_tx_order orders[VHU_BURST_MAX];
	struct vring_used_elem *shadow = vq->shadow_used;
	const volatile struct vring_packed_desc *ring = vq->pdesc;
	const struct vhu_guest_mem *mem = vq->mem_rd;
	const uint16_t hdr_len = vq->hdr_len;
	const bool keep_hdr = vq->flags & VHU_VQ_F_NET_OL; /* offload.c */
	const uint16_t size = vq->size;
	uint16_t slot = vq->last_avail_idx;
	bool wrap = vq->avail_wrap;
	uint32_t consumed = 0;
	uint16_t n, i, nfresh, norders = 0;
	uint16_t npkts = 0;
	struct vhu_xlate xl;
	uint64_t bytes = 0, dropped = 0, no_buf = 0;

	n = RTE_MIN(count, (uint16_t)VHU_BURST_MAX);
	if (n == 0 || !vhu_pdesc_avail(load_flags(vq, slot), wrap))
		return 0;
	vhu_xlate_init(&xl, mem, vq->mem_hint);
	nfresh = rte_mempool_get_bulk(mp, (void **)pkts, n) == 0 ? n : 0;

	for (i = 0; i < n; i++) {
		uint32_t np = 0, len = 0;
		const char *why = NULL;
		struct rte_mbuf *m;
		uint16_t flags, id = 0, nd = 0;
		int rc;

		/*
		 * A well-behaved driver never has more than a ring of
		 * slots available; a guest that rewrites used slots to
		 * look available again waits for the next burst.
		 */
		if (consumed == size)
			break;
		flags = load_flags(vq, slot);
		if (!vhu_pdesc_avail(flags, wrap))
			break;
		if (npkts + VHU_PBATCH <= nfresh && i + VHU_PBATCH <= n &&
		    consumed + VHU_PBATCH <= size &&
		    tx_batch(vq, &xl, slot, wrap, &pkts[npkts],
			     &orders[norders], &shadow[i], &bytes)) {
			vhu_pslot_add(&slot, &wrap, VHU_PBATCH, size);
			consumed += VHU_PBATCH;
			npkts += VHU_PBATCH;
			norders += VHU_PBATCH;
			/* the loop's i++ takes the last of the four */
			i += VHU_PBATCH - 1;
			continue;
		}
		if (likely(npkts < nfresh)) {
			m = pkts[npkts];
		} else {
			m = rte_mbuf_raw_alloc(mp);
			if (unlikely(m == NULL)) {
				/* pool dry: leave this buffer for the next call */
				VHU_DATA_DEBUG_LOG("%s: mempool empty", vq->name);
				break;
			}
			pkts[npkts] = m;
			nfresh = npkts + 1;
		}
		{
			/* each field read once; the checks below use only these */
			uint64_t addr = ring[slot].addr;
			uint32_t dlen = ring[slot].len;
			uint16_t bid = ring[slot].id;

			if (vhu_tx_simple(vq, &xl, flags, addr, dlen, m,
					  &orders[norders])) {
				norders++;
				shadow[i].id = shadow_pack(bid, 1);
				shadow[i].len = 0;
				vhu_pslot_add(&slot, &wrap, 1, size);
				consumed++;
				npkts++;
				bytes += dlen - hdr_len;
				continue;
			}
		}
		vhu_mbuf_init(m, 0);
		rc = vhu_packed_walk(vq, slot, wrap, flags, false, pieces, &np,
				     VHU_MAX_PIECES, &len, &id, &nd, &why);
		/* IOMMU miss: the chain stays for after the update */
		if (unlikely(rc == VHU_WALK_MISS))
			break;
		if (unlikely(rc != VHU_WALK_OK)) {
			vhu_vq_mark_broken(vq, rc == VHU_WALK_FULL ?
				"transmit chain split into too many pieces" :
				why);
			break;
		}
		if (unlikely(consumed + nd > size)) {
			vhu_vq_mark_broken(vq,
				"buffers overlap: more descriptors than the ring");
			break;
		}
		/* virtio 1.2 §5.1.6: every packet starts with the header */
		if (unlikely(len < hdr_len)) {
			vhu_vq_mark_broken(vq,
				"transmit chain shorter than its header");
			break;
		}
		if (unlikely(len == hdr_len ||
			     len - hdr_len > VHU_MAX_TX_FRAME)) {
			/* m stays unused in pkts[npkts] */
			VHU_DATA_DEBUG_LOG("%s: dropped a %u-byte frame",
					   vq->name, len - hdr_len);
			dropped++;
			goto consume;
		}
		if (unlikely(vq->flags & (VHU_VQ_F_LINEAR | VHU_VQ_F_EXTBUF))) {
			enum vhu_tx_big big = vhu_tx_copy_big(vq, mp, m, pieces,
							      np, len - hdr_len,
							      hdr_len,
							      keep_hdr);

			if (big == VHU_TX_BIG_DROP) {
				/* m stays unused in pkts[npkts] */
				VHU_DATA_DEBUG_LOG("%s: no linear buffer for a %u-byte frame",
						   vq->name, len - hdr_len);
				no_buf++;
				goto consume;
			}
			if (big == VHU_TX_BIG_COPIED)
				goto copied;
		}
		if (unlikely(!vhu_tx_copy_chain(mp, pkts, npkts, &nfresh,
						pieces, np, hdr_len,
						keep_hdr))) {
			/* pool dry: leave this buffer for the next call */
			VHU_DATA_DEBUG_LOG("%s: mempool empty", vq->name);
			break;
		}
copied:
		m = pkts[npkts];
		npkts++;
		bytes += m->pkt_len;
consume:
		/* the device wrote nothing into a transmit buffer */
		shadow[i].id = shadow_pack(id, nd);
		shadow[i].len = 0;
		vhu_pslot_add(&slot, &wrap, nd, size);
		consumed += nd;
	}
	if (npkts < nfresh)
		rte_mempool_put_bulk(mp, (void **)&pkts[npkts], nfresh - npkts);
	vhu_tx_copy_orders(orders, norders, keep_hdr ? hdr_len : 0);
	vq->last_avail_idx = slot;
	vq->avail_wrap = wrap;
	if ((vq->flags & VHU_VQ_F_IN_ORDER) && i > 1) {
		/*
		 * IN_ORDER (virtio 1.2, packed "In-order use of
		 * descriptors"): one used descriptor with the last buffer's
		 * id reports the whole batch; the device skips the batch's
		 * descriptors. Transmit lengths are zero, nothing is lost.
		 * consumed <= size fits the 16-bit count.
		 */
		shadow[0].id = shadow_pack((uint16_t)shadow[i - 1].id,
					   (uint16_t)consumed);
		shadow[0].len = 0;
		i = 1;
	}
	complete_burst(vq, i);
	if (npkts > 0) {
		vhu_stat_add(&vq->stats.packets, npkts);
		vhu_stat_add(&vq->stats.bytes, bytes);
	}
	if (unlikely(dropped > 0))
		vhu_stat_add(&vq->stats.desc_errors, dropped);
	if (unlikely(no_buf > 0))
		vhu_stat_add(&vq->stats.drops_no_buf, no_buf);
	return npkts;
}

/*
 * Receive batch path: the next VHU_PBATCH frames, each one segment, into
 * the VHU_PBATCH buffers from slot, each one writable descriptor with room
 * for header and frame, in one region: write orders and used entries, all
 * or none. False leaves everything as it was.
 */
static inline bool
rx_batch(struct vhu_vq *vq, struct vhu_xlate *xl, uint16_t slot, bool wrap,
	 struct rte_mbuf *const *m, struct vhu_rx_order *o,
	 struct vring_used_elem *shadow, uint64_t *bytes)
{
	const uint16_t hdr_len = vq->hdr_len;
	uint8_t *hva[VHU_PBATCH];
	struct vhu_pbatch b;
	int k;

	for (k = 0; k < VHU_PBATCH; k++)
		if (m[k]->nb_segs != 1)
			return false;
	if (!vhu_pbatch_load(vq, slot, wrap, VRING_DESC_F_WRITE, &b))
		return false;
	for (k = 0; k < VHU_PBATCH; k++)
		if (b.len[k] < (uint32_t)hdr_len + m[k]->data_len)
			return false;
	if (!pbatch_xlate(vq, xl, slot, true, &b, hva))
		return false;
	for (k = 0; k < VHU_PBATCH; k++) {
		vhu_prefetchw_frame_head(hva[k], hdr_len, m[k]->data_len);
		o[k].dst = hva[k];
		o[k].gpa = b.addr[k];
		o[k].m = m[k];
		shadow[k].id = shadow_pack(b.id[k], 1);
		shadow[k].len = (uint32_t)hdr_len + m[k]->data_len;
		*bytes += m[k]->pkt_len;
	}
	return true;
}

/*
 * Pass 2 of an enqueue whose every buffer is a write order (one
 * descriptor each, staged in shadow[0, n) in ring order), without dirty
 * logging: each copy followed by its used descriptor. One copy of the
 * loop per case, so the one without offloads tests nothing.
 */
static void
copy_and_publish(struct vhu_vq *vq, const struct vhu_rx_order *o, uint16_t n)
{
	if (likely(vq->ol_caps == 0))
		notify_guest(vq, write_used(vq, n, o, 0));
	else
		notify_guest(vq, write_used(vq, n, o, vq->ol_caps));
}

/*
 * Enqueue. Pass 1 takes buffers for each frame in ring order: a
 * one-segment mbuf into one writable descriptor with room for header and
 * frame, in one region, is queued as a write order; anything else
 * (chains, indirect tables, mergeable frames over several buffers,
 * segmented mbufs) goes through the walker and is copied at once, after
 * its buffers were all taken. Nothing is published before both passes.
 */
uint16_t
vhu_packed_enqueue(struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count)
{
	struct vhu_piece pieces[VHU_MAX_PIECES];
	struct vhu_rx_order orders[VHU_BURST_MAX];
	struct vring_used_elem *shadow = vq->shadow_used;
	const volatile struct vring_packed_desc *ring = vq->pdesc;
	const struct vhu_guest_mem *mem = vq->mem_wr;
	const bool mrg = vq->flags & VHU_VQ_F_MRG_RXBUF;
	const bool do_log = vq->flags & VHU_VQ_F_LOG;
	const uint16_t hdr_len = vq->hdr_len;
	const uint16_t size = vq->size;
	uint16_t slot = vq->last_avail_idx;
	bool wrap = vq->avail_wrap;
	uint32_t consumed = 0;
	uint16_t placed, used = 0, norders = 0;
	struct vhu_xlate xl;
	uint64_t bytes = 0;

	count = RTE_MIN(count, (uint16_t)VHU_BURST_MAX);
	vhu_xlate_init(&xl, mem, vq->mem_hint);
	for (placed = 0; placed < count; placed++) {
		const struct rte_mbuf *m = pkts[placed];
		uint64_t need = (uint64_t)hdr_len + m->pkt_len;
		uint64_t cap = 0, left;
		uint32_t np = 0, written, c2;
		uint16_t nbufs = 0, flags, s2;
		bool w2;

		if (consumed == size)
			goto no_room;
		if (placed + VHU_PBATCH <= count &&
		    consumed + VHU_PBATCH <= size &&
		    rx_batch(vq, &xl, slot, wrap, &pkts[placed],
			     &orders[norders], &shadow[used], &bytes)) {
			vhu_pslot_add(&slot, &wrap, VHU_PBATCH, size);
			consumed += VHU_PBATCH;
			used += VHU_PBATCH;
			norders += VHU_PBATCH;
			/* the loop's placed++ takes the last of the four */
			placed += VHU_PBATCH - 1;
			continue;
		}
		flags = load_flags(vq, slot);
		if (!vhu_pdesc_avail(flags, wrap))
			goto no_room;
		if (placed + 1 < count)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[placed + 1], void *));
		if (likely(m->nb_segs == 1)) {
			/* each field read once; the checks below use only these */
			uint64_t addr = ring[slot].addr;
			uint32_t dlen = ring[slot].len;
			uint16_t bid = ring[slot].id;

			if (vhu_rx_simple(vq, &xl, flags, addr, dlen, m,
					  &orders[norders])) {
				norders++;
				shadow[used].id = shadow_pack(bid, 1);
				shadow[used].len = (uint32_t)hdr_len +
						   m->data_len;
				used++;
				vhu_pslot_add(&slot, &wrap, 1, size);
				consumed++;
				bytes += m->pkt_len;
				continue;
			}
		}
		/*
		 * Take buffers until the frame fits: one without MRG_RXBUF,
		 * as many as needed with it (virtio 1.2 §5.1.6.3.2). Slot,
		 * wrap and count advance in copies, committed only when the
		 * whole frame has room.
		 */
		s2 = slot;
		w2 = wrap;
		c2 = consumed;
		while (cap < need) {
			uint32_t clen = 0;
			uint16_t id = 0, nd = 0;
			const char *why = NULL;
			int rc;

			if ((!mrg && nbufs == 1) || c2 == size)
				goto no_room;
			if (nbufs > 0) {
				flags = load_flags(vq, s2);
				if (!vhu_pdesc_avail(flags, w2))
					goto no_room;
			}
			rc = vhu_packed_walk(vq, s2, w2, flags, true, pieces,
					     &np, VHU_MAX_PIECES, &clen, &id,
					     &nd, &why);
			switch (vhu_rx_walk_next(vq, rc, why, nbufs == 0)) {
			case VHU_RX_STOP:
				goto out;
			case VHU_RX_NO_ROOM:
				goto no_room;
			case VHU_RX_TAKE:
				break;
			}
			if (unlikely(c2 + nd > size)) {
				vhu_vq_mark_broken(vq,
					"buffers overlap: more descriptors than the ring");
				goto out;
			}
			shadow[used + nbufs].id = shadow_pack(id, nd);
			shadow[used + nbufs].len = clen;
			cap += clen;
			nbufs++;
			vhu_pslot_add(&s2, &w2, nd, size);
			c2 += nd;
		}
		written = vhu_copy_mbuf_to_guest(vq->log, do_log, pieces, np,
						 hdr_len, mrg ? nbufs : 1,
						 vq->ol_caps, m);
		/* each buffer reports the bytes that landed in it */
		left = written;
		for (uint16_t j = 0; j < nbufs; j++) {
			struct vring_used_elem *e = &shadow[used + j];

			e->len = RTE_MIN((uint64_t)e->len, left);
			left -= e->len;
		}
		used += nbufs;
		slot = s2;
		wrap = w2;
		consumed = c2;
		bytes += m->pkt_len;
	}
	goto out;
no_room:
	/* a frame that does not fit now is dropped by the caller */
	VHU_DATA_DEBUG_LOG("%s: no room for %u of %u frames", vq->name,
			   count - placed, count);
	if (count > placed)
		vhu_stat_add(&vq->stats.drops_no_buf, count - placed);
out:
	vq->last_avail_idx = slot;
	vq->avail_wrap = wrap;
	if (norders == used && used > 0 && !(vq->flags & VHU_VQ_F_LOG)) {
		copy_and_publish(vq, orders, used);
	} else {
		vhu_rx_copy_orders(vq, orders, norders);
		complete_burst(vq, used);
	}
	if (placed > 0) {
		vhu_stat_add(&vq->stats.packets, placed);
		vhu_stat_add(&vq->stats.bytes, bytes);
	}
	return placed;
}

/* Small entry points for async.c (vq.h): no walk, no copy here. */
bool
vhu_packed_settle_call(struct vhu_vq *vq)
{
	vq->flags &= ~(uint32_t)VHU_VQ_F_CALL_OWED;
	/* F3, made late: the owed burst's stores are visible by now */
	atomic_thread_fence(memory_order_seq_cst);
	if (suppressed(vq))
		return false;
	/* ENABLE, or DESC: a call it may not have asked for, never a loss */
	vq->calm = 0;
	vhu_call_guest(vq);
	return true;
}

uint16_t
vhu_packed_slot_flags(const struct vhu_vq *vq, uint16_t slot)
{
	return load_flags(vq, slot);
}

void
vhu_packed_publish(struct vhu_vq *vq, uint16_t n)
{
	complete_burst(vq, n);
}
