/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Asynchronous enqueue (vhu_burst.h, "Asynchronous enqueue"): payload
 * copies of the guest's receive queue handed to a DMA channel
 * (rte_dmadev), published in ring order once the engine finished them.
 * Owns the binding of a channel to a queue, the frames and copies in
 * flight, their completion, and the drain a stopping queue runs.
 *
 * Design. Submit (inside the queue, as a burst) reserves the guest's
 * buffers exactly as the layout's own enqueue does (same walker, same
 * checks, last_avail_idx advances), stages the used entries in the
 * binding's own ring, writes each virtio-net header with the core, copies
 * a frame below the threshold with the core and queues one DMA copy per
 * contiguous piece of any other. Each frame counts its copies still
 * pending. Poll reads completions (every copy records its frame under the
 * channel's ring index), marks the pages they wrote dirty, then publishes
 * the longest run of finished frames from the oldest one: one used index
 * store for the run, whatever order the engine finished in. The mbufs of
 * published frames go back to the caller. The core copies instead of the
 * engine when the engine refuses a copy (ring full) or fails one; the
 * frame then waits for nothing more.
 *
 * Dequeue (VHU_ASYNC_DEQUEUE) is the same machinery the other way: submit
 * walks the guest's transmit chains as the layout's own dequeue does
 * (split and packed share one body, submit_deq), allocates an mbuf chain
 * of each frame's length, copies the header (into the headroom, for the
 * offload stage run at poll) with the core and the frame with the core
 * or the engine; poll publishes the used entries (len 0) in ring order
 * and returns the mbufs. The engine writes only mbufs, so no payload page
 * is logged for a dequeue; the used entries are, by the layout's publish
 * (split.c, packed.c), when the ring asks for it (VHOST_VRING_F_LOG).
 *
 * Stopping. vhu_vq_quiesce() calls async_drain() (through the pointer
 * registered in the queue: vq.c sits below this file) as soon as the
 * control context holds the queue: it polls the channel until every copy
 * landed (however long that takes; logged past VHU_ASYNC_DRAIN_MS) and
 * publishes, before the
 * control context unmaps memory, answers GET_VRING_BASE or resets the
 * ring. The mbufs wait for the next poll, which hands them back even on
 * a stopped queue.
 *
 * Both ring layouts: submit_enq() walks as the layouts' own enqueues do,
 * submit_deq() as their dequeues do (same walkers, same checks), each one
 * body for both layouts with the layout a constant; split.c and packed.c
 * only lend the avail check and the publishing of N staged used entries.
 * What goes the synchronous way: an enqueue burst with a frame that needs
 * the software offload stage. It runs the ordinary enqueue (which
 * publishes at once), only when nothing is in flight, so the ring order
 * holds; its frames join the binding as finished ones.
 */
/* rte_dmadev is still experimental in DPDK 22.11 (its ABI may move) */
#define ALLOW_EXPERIMENTAL_API 1

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_dmadev.h>
#include <rte_malloc.h>

#include "vhu_burst.h"
#include "vq.h"
#include "desc_split.h"
#include "desc_packed.h"
#include "copy.h"
#include "fastpath.h"
#include "offload.h"
#include "async.h"
#include "vhu_log.h"

/* Used entries staged: the largest ring, as a ring holds that many. */
#define ASYNC_USED_SLOTS 32768u
/*
 * Copies in flight per binding: a power of two that divides 65536, so an
 * op's slot is its dmadev ring index (which wraps at 65536) masked.
 */
#define ASYNC_OPS 4096u
/* Completions read per engine call. */
#define ASYNC_CPL_BATCH 64

struct async_op {
	uint8_t *dst;
	const uint8_t *src;
	uint64_t gpa;
	uint32_t len;
	uint16_t frame; /* frame counter (see f_head) */
};

struct async_frame {
	struct rte_mbuf *m;
	uint16_t nheads;  /* used entries to publish (0: published already) */
	uint16_t ndesc;   /* packed: ring slots its buffers take */
	uint16_t pending; /* copies not finished */
};

struct vhu_async {
	struct vhu_async *next; /* bound channels, under bind_lock */
	int16_t dma_id;
	uint16_t vchan;
	bool deq;               /* VHU_ASYNC_DEQUEUE: guest -> mbufs */
	uint32_t threshold;
	struct rte_mempool *mp; /* dequeue: the last submit's pool (RARP) */
	uint16_t fmask;         /* frames - 1 */
	/*
	 * Frame counters, wrapping: [f_tail, f_pub) published, mbufs not yet
	 * returned; [f_pub, f_head) submitted, not published. f_head and
	 * f_tail are read by vhu_async_inflight() from any thread.
	 */
	uint16_t f_head, f_pub, f_tail;
	uint16_t h_pub;         /* staged used entries: next to publish */
	uint16_t h_head;        /* ... next free */
	uint32_t ops_inflight;
	uint32_t d_inflight;    /* packed: ring slots of unpublished frames */
	bool need_submit;
	struct async_frame *frames;
	struct vring_used_elem *used;
	struct async_op *ops;
};

/* ------------------------------------------------------------ engine */

static int
dmadev_copy(int16_t dma_id, uint16_t vchan, const void *src, void *dst,
	    uint32_t len)
{
	/* IOVA-as-VA (checked at bind): an address is its IOVA */
	return rte_dma_copy(dma_id, vchan, (rte_iova_t)(uintptr_t)src,
			    (rte_iova_t)(uintptr_t)dst, len, 0);
}

static int
dmadev_submit(int16_t dma_id, uint16_t vchan)
{
	return rte_dma_submit(dma_id, vchan);
}

static uint16_t
dmadev_completed(int16_t dma_id, uint16_t vchan, uint16_t max,
		 uint16_t *last_idx, enum rte_dma_status_code *status)
{
	return rte_dma_completed_status(dma_id, vchan, max, last_idx, status);
}

const struct vhu_async_engine vhu_async_engine_dmadev = {
	.copy = dmadev_copy,
	.submit = dmadev_submit,
	.completed = dmadev_completed,
};
const struct vhu_async_engine *vhu_async_engine = &vhu_async_engine_dmadev;

/* ------------------------------------------------------- completions */

static inline void
async_set_u16(uint16_t *p, uint16_t v)
{
	/* vhu_async_inflight() reads it from any thread */
	vhu_atomic_store_u16(p, v, memory_order_relaxed);
}

/*
 * The core does a copy the engine would not or could not do (into guest
 * memory at gpa, or for a dequeue into an mbuf: nothing to log).
 */
static void
cpu_copy(struct vhu_vq *vq, const struct vhu_async *a, uint8_t *dst,
	 const uint8_t *src, uint64_t gpa, uint32_t len)
{
	memcpy(dst, src, len);
	if ((vq->flags & VHU_VQ_F_LOG) && !a->deq) {
		/* D1: see vhu_log_pieces (copy.h) */
		atomic_thread_fence(memory_order_release);
		vhu_log_mark(vq->log, gpa, len);
	}
	vhu_stat_add(&vq->stats.dma_fallbacks, 1);
}

/* Read what the engine finished; false when it finished nothing. */
static bool
collect(struct vhu_vq *vq, struct vhu_async *a)
{
	enum rte_dma_status_code st[ASYNC_CPL_BATCH];
	const bool do_log = (vq->flags & VHU_VQ_F_LOG) && !a->deq;
	uint16_t last = 0, n, first;
	bool fence = do_log;

	if (a->ops_inflight == 0)
		return false;
	n = vhu_async_engine->completed(a->dma_id, a->vchan,
			(uint16_t)RTE_MIN(a->ops_inflight,
					  (uint32_t)ASYNC_CPL_BATCH),
			&last, st);
	n = (uint16_t)RTE_MIN((uint32_t)n, a->ops_inflight);
	first = (uint16_t)(last - n + 1);
	for (uint16_t k = 0; k < n; k++) {
		struct async_op *op = &a->ops[(uint16_t)(first + k) &
					      (ASYNC_OPS - 1)];

		if (unlikely(st[k] != RTE_DMA_STATUS_SUCCESSFUL)) {
			/* the engine failed it: the bytes are not there */
			cpu_copy(vq, a, op->dst, op->src, op->gpa, op->len);
			vhu_stat_sub(&vq->stats.dma_copies, 1);
		} else if (do_log) {
			/*
			 * D1: the engine's writes (ordered before its
			 * completion record, which we read) before their
			 * dirty bits; once per batch.
			 */
			if (fence) {
				atomic_thread_fence(memory_order_release);
				fence = false;
			}
			vhu_log_mark(vq->log, op->gpa, op->len);
		}
		a->frames[op->frame & a->fmask].pending--;
	}
	a->ops_inflight -= n;
	return n > 0;
}

/*
 * Publish the longest run of finished frames from the oldest one: their
 * used entries go through the ring's shadow with one index store.
 */
static void
publish(struct vhu_vq *vq, struct vhu_async *a)
{
	uint16_t nh = 0;

	while (a->f_pub != a->f_head) {
		const struct async_frame *f = &a->frames[a->f_pub & a->fmask];

		if (f->pending != 0 || nh + f->nheads > vq->size)
			break;
		for (uint16_t j = 0; j < f->nheads; j++)
			vq->shadow_used[nh + j] =
				a->used[(uint16_t)(a->h_pub + nh + j) &
					(ASYNC_USED_SLOTS - 1)];
		nh += f->nheads;
		a->d_inflight -= f->ndesc;
		a->f_pub++;
	}
	a->h_pub += nh;
	if (vq->flags & VHU_VQ_F_PACKED)
		vhu_packed_publish(vq, nh);
	else
		vhu_split_publish(vq, nh);
	vq->async_busy = a->f_pub != a->f_head;
}

/*
 * vhu_vq_quiesce(), under CONTROL: let every copy in flight land, then
 * publish, before the control context changes the queue. Without a
 * bound: the caller is about to unmap or hand back the memory those
 * copies write, and an engine still writing there would corrupt what the
 * pages hold next. An engine slower than VHU_ASYNC_DRAIN_MS is logged,
 * and again every ten times that while it stays stuck.
 */
static void
async_drain(struct vhu_vq *vq)
{
	struct vhu_async *a = vq->async;
	const uint64_t step = rte_get_timer_hz() * VHU_ASYNC_DRAIN_MS / 1000;
	uint64_t start, deadline;

	if (a->f_pub == a->f_head)
		return;
	start = rte_get_timer_cycles();
	deadline = start + step;
	while (a->ops_inflight > 0) {
		if (!collect(vq, a))
			rte_pause();
		if (unlikely(rte_get_timer_cycles() >= deadline)) {
			VHU_LOG(ERR, "%s: DMA %d:%u still has %u copies in flight after %" PRIu64 " ms: waiting for them before the ring's memory goes",
				vq->name, a->dma_id, a->vchan,
				a->ops_inflight,
				(rte_get_timer_cycles() - start) * 1000 /
				rte_get_timer_hz());
			deadline += 10 * step;
		}
	}
	publish(vq, a);
}

/*
 * A poll's turn of the engine: read its completions, publish what
 * finished. A queue that stopped was drained; anything still in flight
 * then (an engine past VHU_ASYNC_DRAIN_MS) must not publish into a ring
 * that may be gone.
 */
static void
poll_engine(struct vhu_vq *vq, struct vhu_async *a)
{
	if (likely(vq->ready) && a->f_pub != a->f_head) {
		while (collect(vq, a))
			;
		publish(vq, a);
	}
}

/* ------------------------------------------------------------ entry */

/*
 * Enter queue pair qp's vring of one direction (deq: the guest's
 * transmit ring) as a burst does, arg (the caller's array or pool) not
 * NULL: its binding, *vqp the queue, to leave with vhu_vq_leave(); or
 * NULL, nothing entered (no binding of that direction, or the queue in
 * use elsewhere).
 */
static struct vhu_async *
async_enter(struct vhu_dev *dev, uint16_t qp, bool deq, const void *arg,
	    struct vhu_vq **vqp)
{
	struct vhu_vq *vq = vhu_vqs_lookup(dev, 2u * qp + deq);

	if (unlikely(vq == NULL || arg == NULL) || !vhu_vq_enter(vq))
		return NULL;
	if (unlikely(vq->async == NULL || vq->async->deq != deq)) {
		vhu_vq_leave(vq);
		return NULL;
	}
	*vqp = vq;
	return vq->async;
}

/*
 * The frames a submit may take, the queue's poll hooks run first: count
 * within a burst's limit and the binding's free frame slots.
 */
static uint16_t
submit_room(struct vhu_vq *vq, const struct vhu_async *a, uint16_t count)
{
	uint16_t room;

	if (unlikely(vq->flags & VHU_VQ_F_POLL_HOOKS))
		vhu_vq_poll_hooks(vq);
	room = (uint16_t)(a->fmask + 1 - (uint16_t)(a->f_head - a->f_tail));
	count = RTE_MIN(count, (uint16_t)VHU_BURST_MAX);
	return RTE_MIN(count, room);
}

/* ------------------------------------------------------------ submit */

/* Queue one copy on the engine, or make it at once with the core. */
static inline void
queue_copy(struct vhu_vq *vq, struct vhu_async *a, struct async_frame *f,
	   uint16_t fidx, uint8_t *dst, const uint8_t *src, uint64_t gpa,
	   uint32_t len)
{
	int idx = -1;

	if (likely(a->ops_inflight < ASYNC_OPS))
		idx = vhu_async_engine->copy(a->dma_id, a->vchan, src, dst,
					     len);
	if (unlikely(idx < 0)) {
		cpu_copy(vq, a, dst, src, gpa, len);
		return;
	}
	a->ops[(uint16_t)idx & (ASYNC_OPS - 1)] = (struct async_op){
		.dst = dst, .src = src, .gpa = gpa, .len = len, .frame = fidx,
	};
	a->ops_inflight++;
	a->need_submit = true;
	f->pending++;
	vhu_stat_add(&vq->stats.dma_copies, 1);
}

/*
 * Header by the core; the frame by the core (short) or the engine. The
 * pieces hold hdr_len + pkt_len bytes (checked by the caller). Returns
 * the bytes the frame takes in the guest's buffers.
 */
static uint32_t
write_frame(struct vhu_vq *vq, struct vhu_async *a, uint16_t fidx,
	    const struct vhu_piece *p, uint32_t np, uint16_t num_buffers)
{
	struct async_frame *f = &a->frames[fidx & a->fmask];
	const struct rte_mbuf *m = f->m;
	const bool do_log = vq->flags & VHU_VQ_F_LOG;
	const uint16_t hdr_len = vq->hdr_len;
	struct virtio_net_hdr_mrg_rxbuf hdr;
	struct vhu_wcursor c = { .p = p, .np = np, .i = 0, .off = 0 };

	if (m->pkt_len < a->threshold)
		return vhu_copy_mbuf_to_guest(vq->log, do_log, p, np, hdr_len,
					      num_buffers, vq->ol_caps, m);
	vhu_net_hdr_for(&hdr, m, vq->ol_caps, num_buffers);
	if (!vhu_wcursor_put(&c, &hdr, hdr_len))
		return 0;
	if (do_log)
		vhu_log_pieces(vq->log, p, np, hdr_len);
	for (; m != NULL; m = m->next) {
		const uint8_t *src = rte_pktmbuf_mtod(m, const uint8_t *);
		uint32_t left = m->data_len;

		while (left > 0 && c.i < c.np) {
			uint32_t n = RTE_MIN(left, p[c.i].len - c.off);

			queue_copy(vq, a, f, fidx, p[c.i].hva + c.off, src,
				   p[c.i].gpa + c.off, n);
			src += n;
			left -= n;
			c.off += n;
			if (c.off == p[c.i].len) {
				c.i++;
				c.off = 0;
			}
		}
	}
	return hdr_len + f->m->pkt_len;
}

/* A staged packed used entry: buffer id low, descriptor count high (vq.h). */
static inline uint32_t
packed_used_id(uint16_t id, uint16_t ndesc)
{
	return (uint32_t)id | (uint32_t)ndesc << 16;
}

/*
 * End of a submit, either direction: the avail position moves past the
 * nheads buffers taken (packed: to slot and wrap; split: by nheads), the
 * engine gets the copies queued, what finished (short frames, the core's
 * copies) is published, npkts frames of bytes count.
 */
static __rte_always_inline void
submit_end(struct vhu_vq *vq, struct vhu_async *a, uint16_t slot, bool wrap,
	   uint16_t nheads, uint16_t npkts, uint64_t bytes, const bool packed)
{
	if (packed) {
		vq->last_avail_idx = slot;
		vq->avail_wrap = wrap;
	} else {
		vq->last_avail_idx += nheads;
	}
	a->h_head += nheads;
	if (a->need_submit) {
		(void)vhu_async_engine->submit(a->dma_id, a->vchan);
		a->need_submit = false;
	}
	publish(vq, a);
	if (npkts > 0) {
		vhu_stat_add(&vq->stats.packets, npkts);
		vhu_stat_add(&vq->stats.bytes, bytes);
	}
}

/*
 * Reserve guest buffers for each frame in order (the walk of the
 * layout's own enqueue, every check included), stage the used entries,
 * write or queue the bytes. One body for both layouts, packed a
 * constant: split takes heads from the avail ring up to its index,
 * packed takes buffers while the next slot is available, the slots of
 * frames not yet published counting against the ring size (the guest
 * cannot reuse them), and stages each used descriptor with its
 * descriptor count (vq.h). A frame's buffers are committed (slot, wrap,
 * slots held) only when all of them were found. Returns the frames
 * accepted.
 */
static __rte_always_inline uint16_t
submit_enq(struct vhu_vq *vq, struct vhu_async *a, struct rte_mbuf **pkts,
	   uint16_t count, const bool packed)
{
	struct vhu_piece pieces[VHU_MAX_PIECES];
	const bool mrg = vq->flags & VHU_VQ_F_MRG_RXBUF;
	const uint16_t hdr_len = vq->hdr_len;
	const uint16_t size = vq->size;
	uint16_t slot = vq->last_avail_idx;
	bool wrap = vq->avail_wrap;
	uint32_t consumed = a->d_inflight;
	uint16_t n_avail = 0, placed, used = 0;
	uint64_t bytes = 0;

	if (!packed && !vhu_split_avail_pending(vq, &n_avail))
		return 0;
	for (placed = 0; placed < count; placed++) {
		struct rte_mbuf *m = pkts[placed];
		uint64_t need = (uint64_t)hdr_len + m->pkt_len;
		uint64_t cap = 0, left;
		uint32_t np = 0, written, c2 = consumed;
		uint16_t nbufs = 0, s2 = slot;
		uint16_t fidx = a->f_head;
		bool w2 = wrap;

		while (cap < need) {
			uint16_t id = 0, nd = 0;
			uint32_t clen = 0;
			const char *why = NULL;
			struct vring_used_elem *e;
			int rc;

			if (!mrg && nbufs == 1)
				goto no_room;
			if (packed) {
				uint16_t flags;

				if (c2 == size)
					goto no_room;
				flags = vhu_packed_slot_flags(vq, s2);
				if (!vhu_pdesc_avail(flags, w2))
					goto no_room;
				rc = vhu_packed_walk(vq, s2, w2, flags, true,
						     pieces, &np, VHU_MAX_PIECES,
						     &clen, &id, &nd, &why);
			} else {
				const volatile uint16_t *ring = vq->avail->ring;

				if (used + nbufs == n_avail)
					goto no_room;
				/* read once: the walker range-checks this value */
				id = ring[s2 & (size - 1)];
				rc = vhu_split_walk(vq, id, true, pieces, &np,
						    VHU_MAX_PIECES, &clen, &why);
			}
			switch (vhu_rx_walk_next(vq, rc, why, nbufs == 0)) {
			case VHU_RX_STOP:
				goto out;
			case VHU_RX_NO_ROOM:
				goto no_room;
			case VHU_RX_TAKE:
				break;
			}
			if (packed && unlikely(c2 + nd > size)) {
				vhu_vq_mark_broken(vq,
					"buffers overlap: more descriptors than the ring");
				goto out;
			}
			e = &a->used[(uint16_t)(a->h_head + used + nbufs) &
				     (ASYNC_USED_SLOTS - 1)];
			e->id = packed ? packed_used_id(id, nd) : id;
			e->len = clen;
			cap += clen;
			nbufs++;
			if (packed) {
				vhu_pslot_add(&s2, &w2, nd, size);
				c2 += nd;
			} else {
				s2++;
			}
		}
		/* split: c2 == consumed, no slots held */
		a->frames[fidx & a->fmask] = (struct async_frame){
			.m = m, .nheads = nbufs,
			.ndesc = (uint16_t)(c2 - consumed), .pending = 0,
		};
		written = write_frame(vq, a, fidx, pieces, np,
				      mrg ? nbufs : 1);
		/* each buffer reports the bytes that land in it */
		left = written;
		for (uint16_t j = 0; j < nbufs; j++) {
			struct vring_used_elem *e =
				&a->used[(uint16_t)(a->h_head + used + j) &
					 (ASYNC_USED_SLOTS - 1)];

			e->len = RTE_MIN((uint64_t)e->len, left);
			left -= e->len;
		}
		a->d_inflight += c2 - consumed;
		async_set_u16(&a->f_head, fidx + 1);
		used += nbufs;
		slot = s2;
		wrap = w2;
		consumed = c2;
		bytes += m->pkt_len;
	}
	goto out;
no_room:
	VHU_DATA_DEBUG_LOG("%s: no room for %u of %u frames", vq->name,
			   count - placed, count);
	vhu_stat_add(&vq->stats.drops_no_buf, count - placed);
out:
	submit_end(vq, a, slot, wrap, used, placed, bytes, packed);
	return placed;
}

/*
 * A burst with a frame for the software offload stage: the ordinary
 * enqueue with its stage, only with nothing in flight (it publishes at
 * once); the frames join as finished (nothing left to publish).
 */
static uint16_t
submit_sync(struct vhu_vq *vq, struct vhu_async *a, struct rte_mbuf **pkts,
	    uint16_t count)
{
	uint16_t n = vhu_offload_enqueue(vq, pkts, count);

	for (uint16_t i = 0; i < n; i++) {
		a->frames[(uint16_t)(a->f_head + i) & a->fmask] =
			(struct async_frame){ .m = pkts[i] };
	}
	async_set_u16(&a->f_head, a->f_head + n);
	a->f_pub = a->f_head;
	return n;
}

uint16_t
vhu_enqueue_submit_burst(struct vhu_dev *dev, uint16_t qp,
			 struct rte_mbuf **pkts, uint16_t count)
{
	struct vhu_vq *vq = NULL;
	struct vhu_async *a = async_enter(dev, qp, false, pkts, &vq);
	uint16_t n = 0;
	bool offload = false;

	if (a == NULL)
		return 0;
	if (unlikely(!vq->ready))
		goto leave;
	count = submit_room(vq, a, count);
	if (count == 0)
		goto leave;
	for (uint16_t i = 0; i < count && !offload; i++)
		offload = vhu_offload_wanted(vq, pkts[i]);
	if (unlikely(offload)) {
		if (a->f_pub == a->f_head)
			n = submit_sync(vq, a, pkts, count);
	} else if (vq->flags & VHU_VQ_F_PACKED) {
		n = submit_enq(vq, a, pkts, count, true);
	} else {
		n = submit_enq(vq, a, pkts, count, false);
	}
	if (unlikely(n < count))
		vhu_stat_add(&vq->stats.enqueue_full, 1);
leave:
	vhu_vq_leave(vq);
	return n;
}

uint16_t
vhu_enqueue_poll_completed(struct vhu_dev *dev, uint16_t qp,
			   struct rte_mbuf **pkts, uint16_t count)
{
	struct vhu_vq *vq = NULL;
	struct vhu_async *a = async_enter(dev, qp, false, pkts, &vq);
	uint16_t n = 0;

	if (a == NULL)
		return 0;
	poll_engine(vq, a);
	while (n < count && a->f_tail != a->f_pub) {
		pkts[n++] = a->frames[a->f_tail & a->fmask].m;
		async_set_u16(&a->f_tail, a->f_tail + 1);
	}
	vhu_vq_leave(vq);
	return n;
}

/* ----------------------------------------------------------- dequeue */

/*
 * An mbuf chain from mp with room for len bytes, lengths set (the bytes
 * come later), or NULL with nothing taken.
 */
static struct rte_mbuf *
alloc_chain(struct rte_mempool *mp, uint32_t len)
{
	struct rte_mbuf *head = rte_pktmbuf_alloc(mp), *cur = head;
	uint32_t left = len;

	if (head == NULL)
		return NULL;
	for (;;) {
		uint32_t n = RTE_MIN(left, (uint32_t)rte_pktmbuf_tailroom(cur));

		cur->data_len = (uint16_t)n;
		left -= n;
		if (left == 0)
			break;
		cur->next = rte_pktmbuf_alloc(mp);
		if (cur->next == NULL ||
		    rte_pktmbuf_tailroom(cur->next) == 0) {
			rte_pktmbuf_free(head);
			return NULL;
		}
		cur = cur->next;
		head->nb_segs++;
	}
	head->pkt_len = len;
	return head;
}

/*
 * The mbuf of a len-byte frame on a queue with VHU_VQ_F_LINEAR or
 * VHU_VQ_F_EXTBUF (vhu.h, "External and linear buffers"), decided as the
 * synchronous dequeue does (fastpath.h: vhu_tx_copy_big): one mbuf when
 * the frame fits, else one with an external buffer of the frame's size
 * (EXTBUF) for the engine to fill, else a chain, unless LINEAR: then
 * NULL with *drop set. NULL alone: the pool is dry.
 */
static struct rte_mbuf *
alloc_linear(const struct vhu_vq *vq, struct rte_mempool *mp, uint32_t len,
	     bool *drop)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);

	if (m == NULL)
		return NULL;
	if (len > vhu_mbuf_fresh_room(m) &&
	    !((vq->flags & VHU_VQ_F_EXTBUF) &&
	      vhu_extbuf_attach(m, len, mp->socket_id))) {
		rte_pktmbuf_free(m);
		if (vq->flags & VHU_VQ_F_LINEAR) {
			*drop = true;
			return NULL;
		}
		return alloc_chain(mp, len);
	}
	/* len <= one data room, or <= VHU_EXTBUF_MAX_FRAME: fits 16 bits */
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	return m;
}

/*
 * A transmit chain's pieces into the frame's mbufs: the virtio-net header
 * by the core (into the headroom with keep_hdr, for the offload stage at
 * poll), the frame by the core (short) or the engine.
 */
static void
read_frame(struct vhu_vq *vq, struct vhu_async *a, uint16_t fidx,
	   const struct vhu_piece *p, uint32_t np, bool keep_hdr)
{
	struct async_frame *f = &a->frames[fidx & a->fmask];
	struct rte_mbuf *seg = f->m;
	uint8_t *hdr_dst = NULL;
	uint32_t skip = vq->hdr_len, off = 0;
	const bool cpu = f->m->pkt_len < a->threshold;

	if (keep_hdr && seg->data_off >= skip)
		hdr_dst = rte_pktmbuf_mtod(seg, uint8_t *) - skip;
	for (uint32_t i = 0; i < np; i++) {
		const uint8_t *src = p[i].hva;
		uint32_t left = p[i].len;

		if (skip > 0) {
			uint32_t n = RTE_MIN(skip, left);

			if (hdr_dst != NULL) {
				memcpy(hdr_dst, src, n);
				hdr_dst += n;
			}
			src += n;
			left -= n;
			skip -= n;
		}
		while (left > 0 && seg != NULL) {
			uint32_t n = RTE_MIN(left, (uint32_t)seg->data_len - off);
			uint8_t *dst = rte_pktmbuf_mtod_offset(seg, uint8_t *,
							       off);

			if (cpu)
				memcpy(dst, src, n);
			else
				queue_copy(vq, a, f, fidx, dst, src, 0, n);
			src += n;
			left -= n;
			off += n;
			if (off == seg->data_len) {
				seg = seg->next;
				off = 0;
			}
		}
	}
}

/*
 * Take transmit chains in ring order (the walk of the layout's own
 * dequeue, every check included), give each an mbuf chain of its length,
 * start the copies. A chain the walker refuses breaks the queue; an
 * empty or oversized frame is dropped (its used entry still published in
 * order), and so is, with VHU_VQ_F_LINEAR, one no single buffer holds;
 * a dry pool leaves the chain for later. One body for both
 * layouts, packed a constant: split takes heads from the avail ring up to
 * its index, packed takes buffers while the next slot is available, the
 * slots of frames not yet published counting against the ring size (the
 * guest cannot reuse them), and stages each used descriptor with its
 * descriptor count (vq.h). Returns chains taken.
 */
static __rte_always_inline uint16_t
submit_deq(struct vhu_vq *vq, struct vhu_async *a, struct rte_mempool *mp,
	   uint16_t count, const bool packed)
{
	struct vhu_piece pieces[VHU_MAX_PIECES];
	const uint16_t hdr_len = vq->hdr_len;
	const bool keep_hdr = vq->flags & VHU_VQ_F_NET_OL;
	const uint16_t size = vq->size;
	uint16_t slot = vq->last_avail_idx;
	bool wrap = vq->avail_wrap;
	uint32_t consumed = a->d_inflight;
	uint16_t n_avail = 0, i, started = 0;
	uint64_t bytes = 0, dropped = 0, no_buf = 0;

	if (!packed) {
		if (!vhu_split_avail_pending(vq, &n_avail))
			return 0;
		count = RTE_MIN(count, n_avail);
	}
	for (i = 0; i < count; i++) {
		uint16_t fidx = a->f_head;
		struct vring_used_elem *e =
			&a->used[(uint16_t)(a->h_head + i) &
				 (ASYNC_USED_SLOTS - 1)];
		uint32_t np = 0, len = 0;
		const char *why = NULL;
		struct rte_mbuf *m = NULL;
		uint16_t id = 0, nd = 0;
		int rc;

		if (packed) {
			uint16_t flags;

			/* as vhu_packed_dequeue: a ring of slots at most */
			if (consumed == size)
				break;
			flags = vhu_packed_slot_flags(vq, slot);
			if (!vhu_pdesc_avail(flags, wrap))
				break;
			rc = vhu_packed_walk(vq, slot, wrap, flags, false,
					     pieces, &np, VHU_MAX_PIECES, &len,
					     &id, &nd, &why);
		} else {
			const volatile uint16_t *ring = vq->avail->ring;

			/* read once: the walker range-checks this value */
			id = ring[(uint16_t)(slot + i) & (size - 1)];
			rc = vhu_split_walk(vq, id, false, pieces, &np,
					    VHU_MAX_PIECES, &len, &why);
		}
		if (unlikely(rc == VHU_WALK_MISS))
			break;
		if (unlikely(rc != VHU_WALK_OK)) {
			vhu_vq_mark_broken(vq, rc == VHU_WALK_FULL ?
				"transmit chain split into too many pieces" :
				why);
			break;
		}
		if (packed && unlikely(consumed + nd > size)) {
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
		if (likely(len > hdr_len &&
			   len - hdr_len <= VHU_MAX_TX_FRAME)) {
			bool drop = false;

			if (likely(!(vq->flags & (VHU_VQ_F_LINEAR |
						  VHU_VQ_F_EXTBUF))))
				m = alloc_chain(mp, len - hdr_len);
			else
				m = alloc_linear(vq, mp, len - hdr_len, &drop);
			if (unlikely(drop))
				no_buf++; /* LINEAR: no buffer holds it */
			else if (unlikely(m == NULL))
				break; /* pool dry: the chain waits */
		} else {
			dropped++;
		}
		/* the device wrote nothing into a transmit buffer */
		e->id = packed ? packed_used_id(id, nd) : id;
		e->len = 0;
		a->frames[fidx & a->fmask] = (struct async_frame){
			.m = m, .nheads = 1, .ndesc = nd,
		};
		if (packed) {
			a->d_inflight += nd;
			consumed += nd;
			vhu_pslot_add(&slot, &wrap, nd, size);
		}
		if (m != NULL) {
			read_frame(vq, a, fidx, pieces, np, keep_hdr);
			started++;
			bytes += m->pkt_len;
		}
		async_set_u16(&a->f_head, fidx + 1);
	}
	submit_end(vq, a, slot, wrap, i, started, bytes, packed);
	if (unlikely(dropped > 0))
		vhu_stat_add(&vq->stats.desc_errors, dropped);
	if (unlikely(no_buf > 0))
		vhu_stat_add(&vq->stats.drops_no_buf, no_buf);
	return i;
}

uint16_t
vhu_dequeue_submit_burst(struct vhu_dev *dev, uint16_t qp,
			 struct rte_mempool *mp, uint16_t count)
{
	struct vhu_vq *vq = NULL;
	struct vhu_async *a = async_enter(dev, qp, true, mp, &vq);
	uint16_t n = 0;

	if (a == NULL)
		return 0;
	if (unlikely(!vq->ready))
		goto leave;
	count = submit_room(vq, a, count);
	a->mp = mp;
	if (count == 0)
		goto leave;
	if (vq->flags & VHU_VQ_F_PACKED)
		n = submit_deq(vq, a, mp, count, true);
	else
		n = submit_deq(vq, a, mp, count, false);
leave:
	vhu_vq_leave(vq);
	return n;
}

uint16_t
vhu_dequeue_poll_completed(struct vhu_dev *dev, uint16_t qp,
			   struct rte_mbuf **pkts, uint16_t count)
{
	struct vhu_vq *vq = NULL;
	struct vhu_async *a = async_enter(dev, qp, true, pkts, &vq);
	uint16_t n = 0, first;

	if (a == NULL)
		return 0;
	poll_engine(vq, a);
	/* after a live migration: the guest's RARP goes first */
	if (unlikely(vq->announce) && vq->ready && a->mp != NULL && count > 0)
		n = vhu_vq_take_announce(vq, a->mp, pkts);
	first = n;
	while (n < count && a->f_tail != a->f_pub) {
		struct rte_mbuf *m = a->frames[a->f_tail & a->fmask].m;

		async_set_u16(&a->f_tail, a->f_tail + 1);
		if (m != NULL) /* NULL: a dropped frame */
			pkts[n++] = m;
	}
	/* the guest's offload requests, read from the headroom */
	if ((vq->flags & VHU_VQ_F_NET_OL) && n > first)
		n = first + vhu_offload_dequeue(vq, pkts + first,
						(uint16_t)(n - first));
	vhu_vq_leave(vq);
	return n;
}

/* ----------------------------------------------------------- binding */

/* Channels bound, so that one channel serves one queue. */
static pthread_mutex_t bind_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vhu_async *bound;

static void
async_release(struct vhu_async *a)
{
	struct vhu_async **pp;

	/* frames still held were delivered: their mbufs are ours to free */
	for (uint16_t i = a->f_tail; i != a->f_head; i++)
		rte_pktmbuf_free(a->frames[i & a->fmask].m); /* NULL: none */
	pthread_mutex_lock(&bind_lock);
	for (pp = &bound; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	}
	pthread_mutex_unlock(&bind_lock);
	rte_free(a->frames);
	rte_free(a->used);
	rte_free(a->ops);
	rte_free(a);
}

/* vhu_vq_destroy() (vhu_fini): the queue runs no more. */
static void
async_free(struct vhu_vq *vq)
{
	struct vhu_async *a = vq->async;

	vq->async = NULL;
	vq->async_busy = false;
	async_release(a);
}

static struct vhu_async *
async_alloc(int16_t dma_id, uint16_t vchan, uint32_t threshold,
	    uint32_t frames)
{
	struct vhu_async *a = rte_zmalloc("vhu_async", sizeof(*a), 0);

	if (a == NULL)
		return NULL;
	a->dma_id = dma_id;
	a->vchan = vchan;
	a->threshold = threshold;
	a->fmask = (uint16_t)(frames - 1);
	a->frames = rte_zmalloc("vhu_async_frames",
				frames * sizeof(*a->frames), 0);
	a->used = rte_zmalloc("vhu_async_used",
			      ASYNC_USED_SLOTS * sizeof(*a->used), 0);
	a->ops = rte_zmalloc("vhu_async_ops", ASYNC_OPS * sizeof(*a->ops), 0);
	if (a->frames == NULL || a->used == NULL || a->ops == NULL) {
		rte_free(a->frames);
		rte_free(a->used);
		rte_free(a->ops);
		rte_free(a);
		return NULL;
	}
	return a;
}

int
vhu_async_bind(struct vhu_dev *dev, uint16_t qp, enum vhu_async_dir dir,
	       int16_t dma_id, uint16_t vchan,
	       const struct vhu_async_params *params)
{
	struct rte_dma_info info;
	struct vhu_async *a, *b;
	struct vhu_vq *vq;
	uint32_t threshold = VHU_ASYNC_THRESHOLD_DEFAULT;
	uint32_t frames = VHU_ASYNC_INFLIGHT_DEFAULT;
	int ret = 0;

	if (dev == NULL || qp >= VHU_MAX_QUEUE_PAIRS)
		return -EINVAL;
	if ((dir != VHU_ASYNC_ENQUEUE && dir != VHU_ASYNC_DEQUEUE) ||
	    !rte_dma_is_valid(dma_id) ||
	    rte_dma_info_get(dma_id, &info) != 0 || vchan >= info.nb_vchans)
		return -EINVAL;
	if (params != NULL) {
		if (params->copy_threshold != 0)
			threshold = params->copy_threshold;
		if (params->max_inflight != 0)
			frames = params->max_inflight;
	}
	if (frames > ASYNC_USED_SLOTS)
		return -EINVAL;
	frames = rte_align32pow2(frames);
	if (rte_eal_iova_mode() != RTE_IOVA_VA)
		return -ENOTSUP;
	vq = vhu_vqs_lookup(dev, 2u * qp + (dir == VHU_ASYNC_DEQUEUE));
	if (vq == NULL)
		return -ENODEV;
	a = async_alloc(dma_id, vchan, threshold, frames);
	if (a == NULL)
		return -ENOMEM;
	a->deq = dir == VHU_ASYNC_DEQUEUE;
	pthread_mutex_lock(&bind_lock);
	for (b = bound; b != NULL; b = b->next) {
		if (b->dma_id == dma_id && b->vchan == vchan)
			ret = -EBUSY;
	}
	if (ret == 0) {
		vhu_vq_quiesce(vq);
		if (vq->async != NULL) {
			ret = -EBUSY;
		} else {
			vq->async = a;
			vq->async_drain = async_drain;
			vq->async_free = async_free;
			vq->async_busy = false;
			a->next = bound;
			bound = a;
		}
		vhu_vq_resume(vq);
	}
	pthread_mutex_unlock(&bind_lock);
	if (ret != 0) {
		rte_free(a->frames);
		rte_free(a->used);
		rte_free(a->ops);
		rte_free(a);
		return ret;
	}
	VHU_LOG(INFO, "%s: %s copies on DMA %d:%u (frames below %u bytes by the core)",
		vq->name, a->deq ? "dequeue" : "enqueue", dma_id, vchan,
		threshold);
	return 0;
}

int
vhu_async_unbind(struct vhu_dev *dev, uint16_t qp, enum vhu_async_dir dir)
{
	struct vhu_vq *vq;
	struct vhu_async *a;

	if (dev == NULL || qp >= VHU_MAX_QUEUE_PAIRS ||
	    (dir != VHU_ASYNC_ENQUEUE && dir != VHU_ASYNC_DEQUEUE))
		return -EINVAL;
	vq = vhu_vqs_lookup(dev, 2u * qp + (dir == VHU_ASYNC_DEQUEUE));
	if (vq == NULL)
		return -ENODEV;
	vhu_vq_quiesce(vq); /* drains */
	a = vq->async;
	if (a == NULL || a->ops_inflight > 0) {
		vhu_vq_resume(vq);
		return a == NULL ? -ENOENT : -ETIMEDOUT;
	}
	vq->async = NULL;
	vq->async_busy = false;
	vhu_vq_resume(vq);
	async_release(a);
	return 0;
}

int
vhu_async_inflight(const struct vhu_dev *dev, uint16_t qp,
		   enum vhu_async_dir dir)
{
	const struct vhu_vq *vq;
	const struct vhu_async *a;

	if (dev == NULL || qp >= VHU_MAX_QUEUE_PAIRS ||
	    (dir != VHU_ASYNC_ENQUEUE && dir != VHU_ASYNC_DEQUEUE))
		return -EINVAL;
	vq = vhu_vqs_lookup(dev, 2u * qp + (dir == VHU_ASYNC_DEQUEUE));
	if (vq == NULL)
		return -ENODEV;
	a = vhu_atomic_load_ptr(&vq->async, memory_order_relaxed);
	if (a == NULL)
		return -ENOENT;
	return (uint16_t)(vhu_atomic_load_u16(&a->f_head, memory_order_relaxed) -
			  vhu_atomic_load_u16(&a->f_tail, memory_order_relaxed));
}
