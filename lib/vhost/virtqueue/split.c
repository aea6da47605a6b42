/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Split virtqueue data path (virtio 1.2 §2.7): vhu_split_dequeue() takes
 * the guest's transmit chains into mbufs, vhu_split_enqueue() copies mbufs
 * into the guest's receive buffers. Both run inside the queue (vq.h) on a
 * polling lcore.
 *
 * Design: a burst reads avail->idx once (acquire) and bounds it by the
 * ring size, copies the avail entries it will use once into a local array
 * and prefetches their descriptors. Pass 1 walks: the common chain (one
 * descriptor, one memory region, one mbuf / one buffer) is checked inline
 * and queued as a copy order; any other goes through the full walker
 * (desc_split.h, every bound checked) and is copied at once (copy.h). Pass 2
 * copies the queued orders. Either way a chain is checked before any byte
 * of it is copied. Costs are tracked with app/test/bench (callgrind
 * instructions per packet) and devtools/bench.sh (doc/guide/benchmark.md
 * says how, and what each tuned step gained). Used
 * entries are staged in shadow_used and published with one release store
 * of used->idx per burst; then, behind a full fence, the guest is called
 * at most once. A guest that breaks a rule stops only its own queue
 * (vhu_vq_mark_broken): the burst returns what it finished before the bad
 * chain, with those chains published.
 *
 * Memory-ordering edges (the guest side is the virtio driver):
 *   A3  load-acquire of avail->idx, pairs with the driver's write barrier
 *       between filling descriptors / avail entries and storing avail->idx.
 *   R3  store-release of used->idx, pairs with the driver's read barrier
 *       between loading used->idx and reading used entries and buffers.
 *   F1  full fence between R3 and reading used_event / avail->flags, pairs
 *       with the driver's full barrier between writing used_event (or
 *       clearing NO_INTERRUPT) and re-reading used->idx: one side always
 *       sees the other's write, so no completion goes unsignalled.
 *   D1  (copy.h, and before used-ring logging) release fence between guest
 *       writes and their dirty bits.
 */
#include <string.h>
#include <sys/eventfd.h>

#include <rte_prefetch.h>

#include "vq.h"
#include "desc_split.h"
#include "copy.h"
#include "fastpath.h"
#include "vhu_log.h"

static inline uint16_t
avail_entry(const struct vhu_vq *vq, uint16_t idx)
{
	const volatile uint16_t *ring = vq->avail->ring;

	return ring[idx & (vq->size - 1)];
}

/* How many entries the guest made available; false if it lied. */
static inline bool
avail_count(struct vhu_vq *vq, uint16_t *n)
{
	/* A3: pairs with the driver's barrier before its avail->idx store */
	uint16_t idx = vhu_atomic_load_u16(&vq->avail->idx,
					   memory_order_acquire);
	uint16_t pending = idx - vq->last_avail_idx;

	/* virtio 1.2 §2.7.6: at most Queue Size entries can be pending */
	if (unlikely(pending > vq->size)) {
		vhu_vq_mark_broken(vq, "avail index moved past the ring size");
		return false;
	}
	*n = pending;
	return true;
}

static inline bool
log_used(const struct vhu_vq *vq)
{
	return (vq->flags & (VHU_VQ_F_LOG | VHU_VQ_F_LOG_USED)) ==
	       (VHU_VQ_F_LOG | VHU_VQ_F_LOG_USED);
}

/*
 * Copy n used entries staged at src into the ring and publish them (R3),
 * moving used->idx by adv buffers (adv > n only for an in-order batch).
 */
static inline void
publish_used(struct vhu_vq *vq, const struct vring_used_elem *src, uint16_t n,
	     uint16_t adv)
{
	struct vring_used_elem *ring = vq->used->ring;
	uint16_t start = vq->last_used_idx & (vq->size - 1);
	uint16_t first = RTE_MIN(n, (uint16_t)(vq->size - start));
	uint16_t new_idx = vq->last_used_idx + adv;
	const uint64_t esz = sizeof(struct vring_used_elem);

	memcpy(&ring[start], src, first * esz);
	if (n > first)
		memcpy(&ring[0], src + first, (n - first) * esz);
	/* R3: entries before the index; pairs with the driver's rmb */
	vhu_atomic_store_u16(&vq->used->idx, new_idx, memory_order_release);
	if (unlikely(log_used(vq))) {
		uint64_t base = vq->used_log_gpa +
				offsetof(struct vring_used, ring);

		/* D1: ring stores before their dirty bits */
		atomic_thread_fence(memory_order_release);
		vhu_log_mark(vq->log, base + start * esz, first * esz);
		if (n > first)
			vhu_log_mark(vq->log, base, (n - first) * esz);
		vhu_log_mark(vq->log, vq->used_log_gpa +
			     offsetof(struct vring_used, idx), 2);
	}
	vq->last_used_idx = new_idx;
}

/*
 * Call the guest if it asked for it; at most once per burst. bufs: the
 * used buffers just published, for coalescing (vhu_vring_set_coalesce),
 * which decides out of line; off, it costs one flag test.
 */
static inline void
notify_guest(struct vhu_vq *vq, uint16_t bufs)
{
	/* calm (vq.h, VHU_VQ_F_LAZY_CALLS): no fence, the check is owed */
	if (vq->calm >= VHU_VQ_CALM_AFTER) {
		if (vq->avail->flags & VRING_AVAIL_F_NO_INTERRUPT) {
			vq->flags |= VHU_VQ_F_CALL_OWED;
			return;
		}
		vq->calm = 0;
	}
	if (!vhu_split_want_call(vq)) {
		/* without EVENT_IDX or coalescing, "no" means NO_INTERRUPT */
		if ((vq->flags & (VHU_VQ_F_LAZY_CALLS | VHU_VQ_F_EVENT_IDX |
				  VHU_VQ_F_COALESCE)) == VHU_VQ_F_LAZY_CALLS)
			vq->calm++;
		return;
	}
	vq->calm = 0;
	vq->flags &= ~(uint32_t)VHU_VQ_F_CALL_OWED;
	if (unlikely(vq->flags & VHU_VQ_F_COALESCE))
		vhu_vq_coalesce_call(vq, bufs);
	else
		vhu_call_guest(vq);
}

/* Finish a burst that consumed n chains: advance, publish, call. */
static inline void
complete_burst(struct vhu_vq *vq, uint16_t n)
{
	if (n == 0)
		return;
	vq->last_avail_idx += n;
	publish_used(vq, vq->shadow_used, n, n);
	notify_guest(vq, n);
}

/*
 * Lazy completions (vq.h, VHU_VQ_HOLD_US). DPDK's virtio PMD reclaims
 * its transmit buffers all at once when more than the ring size less 32
 * are used, and otherwise only as many as a burst needs. Behind a device
 * that completes every burst at once, it always finds the ring nearly all
 * used: a thousand mbufs freed together overflow its mempool cache, and
 * the pool cycles through memory (its mbuf header loads took half of its
 * CPU, 0.6x net_vhost's frames a second; doc/guide/benchmark.md, eighth
 * round). Holding back the last burst keeps it below the mark:
 * it then reclaims a burst at a time from a cache-hot pool. Only for a
 * driver that polls (calm, and suppressing calls right now), which waits
 * for no completion; never with dirty logging; never more than a quarter
 * of a small ring.
 */
static inline bool
hold_wanted(const struct vhu_vq *vq, uint16_t n)
{
	return vq->calm >= VHU_VQ_CALM_AFTER && vq->ready &&
	       !(vq->flags & VHU_VQ_F_LOG) && n <= vq->size / 4 &&
	       (vq->avail->flags & VRING_AVAIL_F_NO_INTERRUPT);
}

/* Publish what the vring holds; the call decision is the caller's. */
static void
publish_held(struct vhu_vq *vq)
{
	uint16_t adv = vq->held_adv;

	vq->held_adv = 0;
	vq->held_since = 0;
	publish_used(vq, vq->held_used, vq->held_n, adv);
}

/* From the data path: publish what is held and decide the call now. */
static void
release_held(struct vhu_vq *vq)
{
	uint16_t adv = vq->held_adv;

	publish_held(vq);
	notify_guest(vq, adv);
}

/* From outside a burst (quiesce, flush): the call check stays owed. */
void
vhu_split_release_held(struct vhu_vq *vq)
{
	if (vq->held_adv == 0)
		return;
	publish_held(vq);
	vq->flags |= VHU_VQ_F_CALL_OWED;
}

/*
 * An empty poll with completions held: release them once the ring has
 * been quiet for VHU_VQ_HOLD_US (the first such poll starts the clock),
 * or at once when the driver turned calls on.
 */
static __rte_noinline void
settle_held(struct vhu_vq *vq)
{
	uint64_t now = rte_rdtsc();

	if (!(vq->avail->flags & VRING_AVAIL_F_NO_INTERRUPT))
		release_held(vq);
	else if (vq->held_since == 0)
		vq->held_since = now;
	else if (vhu_vq_hold_over(vq, now))
		release_held(vq);
}

/*
 * Finish a transmit burst that consumed n chains: release what an
 * earlier burst held, then publish these or hold them (lazy completions,
 * above). With IN_ORDER (virtio 1.2 §2.7.9, "In-order use of
 * descriptors") the device may report a batch with one used entry, naming
 * the last buffer, at the batch's first slot, and move used->idx by the
 * batch size: transmit lengths are all zero, so the driver loses nothing
 * and reads one entry per burst.
 */
static inline void
complete_tx_burst(struct vhu_vq *vq, uint16_t n)
{
	struct vring_used_elem *src = vq->shadow_used;
	uint16_t nent = n;

	if (n == 0)
		return;
	vq->last_avail_idx += n;
	if (vq->flags & VHU_VQ_F_IN_ORDER) {
		src[0] = src[n - 1];
		nent = 1;
	}
	if (unlikely(vq->held_adv != 0))
		release_held(vq);
	if (hold_wanted(vq, n)) {
		memcpy(vq->held_used, src, nent * sizeof(*src));
		vq->held_n = nent;
		vq->held_adv = n;
		vq->held_since = 0;
		vq->held_release = vhu_split_release_held;
		return;
	}
	publish_used(vq, src, nent, n);
	notify_guest(vq, n);
}

/*
 * Before avail->idx is read: the avail entry at last_avail_idx, whose
 * line the burst reads next whatever the index says, so its transfer
 * from the guest's core overlaps the index's instead of following it.
 */
static inline void
prefetch_next_avail(const struct vhu_vq *vq)
{
	rte_prefetch0((const void *)
		      &vq->avail->ring[vq->last_avail_idx & (vq->size - 1)]);
}

static inline void
prefetch_chain(const struct vhu_vq *vq, uint16_t avail_idx)
{
	/* masked: only a hint, the walker range-checks the real value */
	rte_prefetch0(&vq->desc[avail_entry(vq, avail_idx) & (vq->size - 1)]);
}

/*
 * Copy n avail entries from index last into heads: each entry is read
 * once, so a guest rewriting the ring cannot change a head after it was
 * checked. The entries are ordered after avail->idx by A3.
 */
static inline void
read_heads(const struct vhu_vq *vq, uint16_t last, uint16_t *heads,
	   uint16_t n)
{
	const uint16_t *ring = (const uint16_t *)vq->avail->ring;
	uint16_t start = last & (vq->size - 1);
	uint16_t first = RTE_MIN(n, (uint16_t)(vq->size - start));

	/* a loop, not memcpy: gcc makes that a rep movsq, slow to start */
	for (uint16_t k = 0; k < first; k++)
		heads[k] = ring[start + k];
	for (uint16_t k = first; k < n; k++)
		heads[k] = ring[k - first];
	/* heads[] is our copy: never re-read guest memory in its place */
	rte_compiler_barrier();
}

/*
 * Prefetch the head descriptors of a burst, all before the walk: each is
 * usually a cache miss (the guest core wrote it), and a burst's worth of
 * misses in flight at once costs about one. Masked: only a hint, the walk
 * range-checks the real value.
 */
static inline void
prefetch_descs(const struct vhu_vq *vq, const uint16_t *heads, uint16_t n)
{
	const struct vring_desc *desc = vq->desc;
	const uint16_t mask = vq->size - 1;

	for (uint16_t k = 0; k < n; k++)
		rte_prefetch0(&desc[heads[k] & mask]);
}

/*
 * Ask for the used ring lines n entries from the used index will take,
 * for writing, before the burst's copies: the guest's core read them
 * last, and the stores behind the copies would otherwise still wait for
 * them at the notification fence (F1).
 */
static inline void
prefetchw_used(const struct vhu_vq *vq, uint16_t n)
{
	const uint16_t mask = vq->size - 1;
	const uintptr_t base = (uintptr_t)vq->used->ring;
	uintptr_t from = base + (vq->last_used_idx & mask) *
				sizeof(struct vring_used_elem);
	uintptr_t end = from + (uintptr_t)n * sizeof(struct vring_used_elem);
	uintptr_t lim = base + (uintptr_t)vq->size *
				sizeof(struct vring_used_elem);

	/* nothing to publish: the guest may be polling that line */
	if (n == 0)
		return;
	if (end > lim)
		end = lim;
	for (uintptr_t line = from & ~(uintptr_t)63; line < end; line += 64)
		__builtin_prefetch((const void *)line, 1, 3);
}

/*
 * Dequeue. Pass 1 reads each avail entry once and classifies its chain:
 * the common one (one readable descriptor, header and frame in one host
 * range that fits one mbuf) is checked here and queued as a copy order;
 * any other goes through the full walker and is copied at once. Pass 2
 * copies the queued orders; pass 1 prefetched their first lines, pass 2
 * prefetches the whole next frame (vhu_prefetch_frame: it halves the
 * copy's share of the backend's samples, doc/guide/benchmark.md).
 * Mbufs come from one bulk get; what the burst did not use goes back.
 */
static __rte_noinline uint16_t
dequeue_chains(struct vhu_vq *vq, struct rte_mempool *mp,
	       struct rte_mbuf **pkts, uint16_t n)
{
	struct vhu_piece pieces[VHU_MAX_PIECES];
	struct vhu_tx_order orders[VHU_BURST_MAX];
	uint16_t heads[VHU_BURST_MAX];
	struct vring_used_elem *shadow = vq->shadow_used;
	const volatile struct vring_desc *desc = vq->desc;
	const struct vhu_guest_mem *mem = vq->mem_rd;
	const uint16_t hdr_len = vq->hdr_len;
	const bool keep_hdr = vq->flags & VHU_VQ_F_NET_OL; /* offload.c */
	const uint16_t size = vq->size;
	const uint16_t last = vq->last_avail_idx;
	uint16_t i, nfresh, norders = 0;
	uint16_t npkts = 0;
	struct vhu_xlate xl;
	uint64_t bytes = 0, dropped = 0, no_buf = 0;

	/* IN_ORDER: one used entry reports the burst */
	prefetchw_used(vq, (vq->flags & VHU_VQ_F_IN_ORDER) ? 1 : n);
	read_heads(vq, last, heads, n);
	prefetch_descs(vq, heads, n);
	vhu_xlate_init(&xl, mem, vq->mem_hint);
	/*
	 * pkts[npkts, nfresh) hold mbufs taken from the pool and not yet
	 * used: a whole burst's worth from one bulk get, or one at a time
	 * when the pool is short of that.
	 */
	nfresh = rte_mempool_get_bulk(mp, (void **)pkts, n) == 0 ? n : 0;

	for (i = 0; i < n; i++) {
		uint16_t head = heads[i];
		uint32_t np = 0, len = 0;
		const char *why = NULL;
		struct rte_mbuf *m;
		int rc;

		if (likely(npkts < nfresh)) {
			m = pkts[npkts];
		} else {
			m = rte_mbuf_raw_alloc(mp);
			if (unlikely(m == NULL)) {
				/* pool dry: leave this chain for the next call */
				VHU_DATA_DEBUG_LOG("%s: mempool empty", vq->name);
				break;
			}
			pkts[npkts] = m;
			nfresh = npkts + 1;
		}
		if (likely(head < size)) {
			/* each field read once; the checks below use only these */
			uint64_t addr = desc[head].addr;
			uint32_t dlen = desc[head].len;
			uint16_t flags = desc[head].flags;

			if (vhu_tx_simple(vq, &xl, flags, addr, dlen, m,
					  &orders[norders])) {
				norders++;
				shadow[i].id = head;
				shadow[i].len = 0;
				npkts++;
				bytes += dlen - hdr_len;
				continue;
			}
		}
		/* anything else: the full walk (it reports a bad head too) */
		vhu_mbuf_init(m, 0);
		rc = vhu_split_walk(vq, head, false, pieces, &np,
				    VHU_MAX_PIECES, &len, &why);
		/* IOMMU miss: the chain stays for after the update */
		if (unlikely(rc == VHU_WALK_MISS))
			break;
		if (unlikely(rc != VHU_WALK_OK)) {
			vhu_vq_mark_broken(vq, rc == VHU_WALK_FULL ?
				"transmit chain split into too many pieces" :
				why);
			break;
		}
		/* virtio 1.2 §5.1.6: every packet starts with the header */
		if (unlikely(len < hdr_len)) {
			vhu_vq_mark_broken(vq,
				"transmit chain shorter than its header");
			break;
		}
		if (unlikely(len == hdr_len || len - hdr_len > VHU_MAX_TX_FRAME)) {
			/* m stays unused in pkts[npkts] */
			VHU_DATA_DEBUG_LOG("%s: dropped a %u-byte frame",
					   vq->name, len - hdr_len);
			dropped++;
			shadow[i].id = head;
			shadow[i].len = 0;
			continue;
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
				shadow[i].id = head;
				shadow[i].len = 0;
				continue;
			}
			if (big == VHU_TX_BIG_COPIED)
				goto copied;
		}
		if (unlikely(!vhu_tx_copy_chain(mp, pkts, npkts, &nfresh,
						pieces, np, hdr_len,
						keep_hdr))) {
			/* pool dry: leave this chain for the next call */
			VHU_DATA_DEBUG_LOG("%s: mempool empty", vq->name);
			break;
		}
copied:
		m = pkts[npkts];
		/* the device wrote nothing into a transmit buffer */
		shadow[i].id = head;
		shadow[i].len = 0;
		npkts++;
		bytes += m->pkt_len;
	}
	if (npkts < nfresh)
		rte_mempool_put_bulk(mp, (void **)&pkts[npkts], nfresh - npkts);
	/* pass 2: copy the validated single-piece frames */
	vhu_tx_copy_orders(orders, norders, keep_hdr ? hdr_len : 0);
	complete_tx_burst(vq, i);
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
 * An empty ring is the common poll (two of three in testpmd over net_vhu):
 * answered before the burst's frame (4 KiB of locals, six saved
 * registers) is set up. An empty vhu_dequeue_burst costs 53 Ir
 * (bench_split -e 32 under callgrind; doc/guide/benchmark.md,
 * "Measurements behind the code").
 */
uint16_t
vhu_split_dequeue(struct vhu_vq *vq, struct rte_mempool *mp,
		  struct rte_mbuf **pkts, uint16_t count)
{
	uint16_t n_avail, n;

	prefetch_next_avail(vq);
	if (!avail_count(vq, &n_avail))
		return 0;
	n = RTE_MIN(count, (uint16_t)VHU_BURST_MAX);
	n = RTE_MIN(n, n_avail);
	if (n == 0) {
		if (unlikely(vq->held_adv != 0))
			settle_held(vq);
		return 0;
	}
	return dequeue_chains(vq, mp, pkts, n);
}

/*
 * Enqueue. Pass 1 takes buffers for each frame in order: the common case
 * (a one-segment mbuf, one writable descriptor with room for header and
 * frame, inside one memory region) is checked and queued as a write order;
 * anything else (chains, indirect tables, mergeable frames spread over
 * several buffers, segmented mbufs) goes through the full walker and is
 * copied at once. Pass 2 writes the queued orders (pass 1 prefetched
 * both ends). Nothing is published before both passes are done, so the
 * order of the writes is free.
 */
uint16_t
vhu_split_enqueue(struct vhu_vq *vq, struct rte_mbuf **pkts, uint16_t count)
{
	struct vhu_piece pieces[VHU_MAX_PIECES];
	struct vhu_rx_order orders[VHU_BURST_MAX];
	uint16_t heads[VHU_BURST_MAX];
	struct vring_used_elem *shadow = vq->shadow_used;
	const volatile struct vring_desc *desc = vq->desc;
	const volatile uint16_t *ring = vq->avail->ring;
	const struct vhu_guest_mem *mem = vq->mem_wr;
	const bool mrg = vq->flags & VHU_VQ_F_MRG_RXBUF;
	const bool do_log = vq->flags & VHU_VQ_F_LOG;
	const uint16_t hdr_len = vq->hdr_len;
	const uint16_t size = vq->size;
	const uint16_t last = vq->last_avail_idx;
	uint16_t n_avail, nheads_read, placed, used = 0, norders = 0;
	struct vhu_xlate xl;
	uint64_t bytes = 0;

	prefetch_next_avail(vq);
	if (!avail_count(vq, &n_avail))
		return 0;
	count = RTE_MIN(count, (uint16_t)VHU_BURST_MAX);
	/* one head per frame is the common case; more are read as needed */
	nheads_read = RTE_MIN(count, n_avail);
	prefetchw_used(vq, nheads_read);
	read_heads(vq, last, heads, nheads_read);
	prefetch_descs(vq, heads, nheads_read);
	vhu_xlate_init(&xl, mem, vq->mem_hint);
	for (placed = 0; placed < count; placed++) {
		const struct rte_mbuf *m = pkts[placed];
		uint64_t need = (uint64_t)hdr_len + m->pkt_len;
		uint64_t cap = 0, left;
		uint32_t np = 0, written;
		uint16_t nheads = 0;
		uint16_t head;

		if (placed + 1 < count)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[placed + 1], void *));
		if (used == n_avail)
			goto no_room;
		head = used < nheads_read ? heads[used] :
		       ring[(uint16_t)(last + used) & (size - 1)];
		/*
		 * nb_segs, not next: it shares the first cache line with
		 * the length. The bytes copied are data_len, so that is
		 * what the room check uses.
		 */
		if (likely(m->nb_segs == 1 && head < size)) {
			/* each field read once; the checks below use only these */
			uint64_t addr = desc[head].addr;
			uint32_t dlen = desc[head].len;
			uint16_t flags = desc[head].flags;

			if (vhu_rx_simple(vq, &xl, flags, addr, dlen, m,
					  &orders[norders])) {
				norders++;
				shadow[used].id = head;
				shadow[used].len = (uint32_t)hdr_len +
						   m->data_len;
				used++;
				bytes += m->pkt_len;
				continue;
			}
		}
		/*
		 * Gather heads until the frame fits: one without MRG_RXBUF,
		 * as many as needed with it (virtio 1.2 §5.1.6.3.2). Nothing
		 * is written until the whole frame has room.
		 */
		while (cap < need) {
			uint16_t slot = used + nheads;
			uint32_t clen = 0;
			const char *why = NULL;
			int rc;

			if (slot == n_avail || (!mrg && nheads == 1))
				goto no_room;
			head = slot < nheads_read ? heads[slot] :
			       ring[(uint16_t)(last + slot) & (size - 1)];
			rc = vhu_split_walk(vq, head, true, pieces, &np,
					    VHU_MAX_PIECES, &clen, &why);
			switch (vhu_rx_walk_next(vq, rc, why, nheads == 0)) {
			case VHU_RX_STOP:
				goto out;
			case VHU_RX_NO_ROOM:
				goto no_room;
			case VHU_RX_TAKE:
				break;
			}
			if (slot + 1 < n_avail)
				prefetch_chain(vq, last + slot + 1);
			shadow[slot].id = head;
			shadow[slot].len = clen;
			cap += clen;
			nheads++;
		}
		written = vhu_copy_mbuf_to_guest(vq->log, do_log, pieces, np,
						 hdr_len, mrg ? nheads : 1,
						 vq->ol_caps, m);
		/* each head reports the bytes that landed in it */
		left = written;
		for (uint16_t j = 0; j < nheads; j++) {
			struct vring_used_elem *e = &shadow[used + j];

			e->len = RTE_MIN((uint64_t)e->len, left);
			left -= e->len;
		}
		used += nheads;
		bytes += m->pkt_len;
	}
	goto out;
no_room:
	/* a frame that does not fit now is dropped by the caller */
	VHU_DATA_DEBUG_LOG("%s: no room for %u of %u frames", vq->name,
			   count - placed, count);
	vhu_stat_add(&vq->stats.drops_no_buf, count - placed);
out:
	/* pass 2: header and frame of each validated one-buffer frame */
	vhu_rx_copy_orders(vq, orders, norders);
	complete_burst(vq, used);
	if (placed > 0) {
		vhu_stat_add(&vq->stats.packets, placed);
		vhu_stat_add(&vq->stats.bytes, bytes);
	}
	return placed;
}

bool
vhu_split_settle_call(struct vhu_vq *vq)
{
	vq->flags &= ~(uint32_t)VHU_VQ_F_CALL_OWED;
	/* F1, made late: the owed burst's stores are visible by now */
	atomic_thread_fence(memory_order_seq_cst);
	if (vq->avail->flags & VRING_AVAIL_F_NO_INTERRUPT)
		return false;
	vq->calm = 0;
	vhu_call_guest(vq);
	return true;
}

/* Small entry points for async.c (vq.h): no walk, no copy here. */
bool
vhu_split_avail_pending(struct vhu_vq *vq, uint16_t *n)
{
	return avail_count(vq, n);
}

void
vhu_split_publish(struct vhu_vq *vq, uint16_t n)
{
	if (n == 0)
		return;
	/* completions a synchronous burst held go first, in ring order */
	if (unlikely(vq->held_adv != 0))
		release_held(vq);
	publish_used(vq, vq->shadow_used, n, n);
	notify_guest(vq, n);
}
