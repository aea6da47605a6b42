/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The public data API (vhu_burst.h): device handle and queue pair to a
 * virtqueue, range and state checks, entry into the queue (vq.h quiesce
 * scheme) and dispatch to the ring layout. Anything that is not running
 * makes a burst return 0: the caller polls again later.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "vhu_burst.h"
#include "vq.h"
#include "offload.h"

/*
 * A queue waiting for a ring's IOTLB entry whose miss request could not
 * be written (backend channel full): try again from the poller, since no
 * burst runs the ring walk that would.
 */
static inline void
retry_ring_miss(struct vhu_vq *vq)
{
	if (unlikely(vq->ring_miss && vq->miss_pending && !vq->miss_sent))
		vhu_vq_miss(vq, vq->miss_iova, vq->miss_perm);
}

/*
 * Whether a packet of the burst may need the offload stage (offload.h
 * decides exactly, per packet). No branch per packet: the flags of all
 * are OR-ed (and, with an MTU, the longest length kept), which can only
 * err towards the stage (a GOOD and a BAD checksum flag from two packets
 * make a false partial). It reads the mbuf line the layout reads next
 * anyway. Four at a time: 3 instructions a packet without an MTU instead
 * of 9 for a plain loop (app/test/bench/callgrind.sh, 64 B enqueue).
 */
static inline bool
offload_wanted(const struct vhu_vq *vq, struct rte_mbuf *const *pkts,
	       uint16_t count)
{
	uint64_t flags = 0;
	uint32_t longest = 0;
	uint16_t k = 0;

	count = RTE_MIN(count, (uint16_t)VHU_BURST_MAX);
	if (likely(vq->max_frame == UINT32_MAX)) {
		for (; k + 4 <= count; k += 4)
			flags |= pkts[k]->ol_flags | pkts[k + 1]->ol_flags |
				 pkts[k + 2]->ol_flags | pkts[k + 3]->ol_flags;
		for (; k < count; k++)
			flags |= pkts[k]->ol_flags;
	} else {
		for (; k < count; k++) {
			flags |= pkts[k]->ol_flags;
			longest = RTE_MAX(longest, pkts[k]->pkt_len);
		}
	}
	return (flags & vq->ol_sw_flags) != 0 ||
	       (flags & vq->ol_partial_mask) == RTE_MBUF_F_RX_L4_CKSUM_MASK ||
	       longest > vq->max_frame;
}

uint16_t
vhu_enqueue_burst(struct vhu_dev *dev, uint16_t qp, struct rte_mbuf **pkts,
		  uint16_t count)
{
	struct vhu_vq *vq = vhu_vqs_lookup(dev, 2u * qp);
	uint16_t n = 0;

	if (unlikely(vq == NULL || pkts == NULL) || !vhu_vq_enter(vq))
		return 0;
	/* DMA copies in flight (async.c): their frames go first */
	if (likely(vq->ready) && likely(!vq->async_busy)) {
		/* first poll since start, interrupt-mode wake-up: out of line */
		if (unlikely(vq->flags & VHU_VQ_F_POLL_HOOKS))
			vhu_vq_poll_hooks(vq);
		if (unlikely(offload_wanted(vq, pkts, count)))
			n = vhu_offload_enqueue(vq, pkts, count);
		else
			n = (vq->flags & VHU_VQ_F_PACKED) ?
			    vhu_packed_enqueue(vq, pkts, count) :
			    vhu_split_enqueue(vq, pkts, count);
		/* only a guest without buffers ends a call early (vhu.h) */
		if (unlikely(n < RTE_MIN(count, (uint16_t)VHU_BURST_MAX)))
			vhu_stat_add(&vq->stats.enqueue_full, 1);
	} else if (!(vq->flags & VHU_VQ_F_CTRL)) {
		retry_ring_miss(vq);
	}
	vhu_vq_leave(vq);
	return n;
}

uint16_t
vhu_dequeue_burst(struct vhu_dev *dev, uint16_t qp, struct rte_mempool *mp,
		  struct rte_mbuf **pkts, uint16_t count)
{
	struct vhu_vq *vq = vhu_vqs_lookup(dev, 2u * qp + 1);
	uint16_t n = 0;

	if (unlikely(vq == NULL || mp == NULL || pkts == NULL) ||
	    !vhu_vq_enter(vq))
		return 0;
	/* DMA copies in flight (async.c): their frames go first */
	if (likely(vq->ready) && likely(!vq->async_busy)) {
		/* after a live migration: the guest's RARP goes first */
		uint16_t ring;

		/* first poll since start, interrupt-mode wake-up: out of line */
		if (unlikely(vq->flags & VHU_VQ_F_POLL_HOOKS))
			vhu_vq_poll_hooks(vq);
		if (unlikely(vq->announce) && count > 0)
			n = vhu_vq_take_announce(vq, mp, pkts);
		ring = (vq->flags & VHU_VQ_F_PACKED) ?
		       vhu_packed_dequeue(vq, mp, pkts + n, count - n) :
		       vhu_split_dequeue(vq, mp, pkts + n, count - n);
		/* the guest's offload requests, past the RARP frame */
		if ((vq->flags & VHU_VQ_F_NET_OL) && ring > 0)
			ring = vhu_offload_dequeue(vq, pkts + n, ring);
		n += ring;
	} else if (!(vq->flags & VHU_VQ_F_CTRL)) {
		retry_ring_miss(vq);
	}
	vhu_vq_leave(vq);
	return n;
}

/*
 * The queue of a vring named by the application (control calls, not
 * bursts): 0 and *vqp, or -EINVAL (bad arguments), -ENODEV (not set up).
 */
static int
app_vring(const struct vhu_dev *dev, uint16_t vring, struct vhu_vq **vqp)
{
	if (dev == NULL || vring >= 2 * VHU_MAX_QUEUE_PAIRS)
		return -EINVAL;
	*vqp = vhu_vqs_lookup(dev, vring);
	return *vqp != NULL ? 0 : -ENODEV;
}

int
vhu_vring_notify(struct vhu_dev *dev, uint16_t vring, bool enable)
{
	struct vhu_vq *vq;
	int ret = app_vring(dev, vring, &vq);

	return ret < 0 ? ret : vhu_vq_set_notify(vq, enable);
}

int
vhu_vring_kick_fd(const struct vhu_dev *dev, uint16_t vring)
{
	struct vhu_vq *vq;
	int ret = app_vring(dev, vring, &vq);
	int fd;

	if (ret < 0)
		return ret;
	fd = vhu_atomic_load_int(&vq->kickfd, memory_order_relaxed);
	return fd >= 0 ? fd : -ENOENT;
}

int
vhu_vring_kick_ack(struct vhu_dev *dev, uint16_t vring)
{
	struct vhu_vq *vq;
	int ret = app_vring(dev, vring, &vq);

	return ret < 0 ? ret : vhu_vq_kick_ack(vq);
}

int
vhu_vring_set_coalesce(struct vhu_dev *dev, uint16_t vring, uint32_t usecs,
		       uint32_t frames)
{
	struct vhu_vq *vq;
	int ret = app_vring(dev, vring, &vq);

	return ret < 0 ? ret : vhu_vq_set_coalesce(vq, usecs, frames);
}

/*
 * Holds the queue as a burst does (never waits), in its own state
 * (VHU_VQ_FLUSH, vq.h): the held call and its bookkeeping are the data
 * path's, and a burst that comes meanwhile waits for this instead of
 * returning 0 as if the ring were full.
 */
int
vhu_vring_flush_calls(struct vhu_dev *dev, uint16_t vring)
{
	struct vhu_vq *vq;
	uint32_t expected = VHU_VQ_FREE;
	int ret = app_vring(dev, vring, &vq);

	if (ret < 0)
		return ret;
	if (!atomic_compare_exchange_strong_explicit(&vq->access, &expected,
			VHU_VQ_FLUSH, memory_order_acquire,
			memory_order_relaxed))
		return -EBUSY;
	ret = 0;
	/*
	 * Held transmit completions (vq.h, VHU_VQ_HOLD_US) whose ring the
	 * application no longer polls: published, their call check owed
	 */
	if (unlikely(vq->held_adv != 0) && vq->ready &&
	    (vq->held_since == 0 || vhu_vq_hold_over(vq, rte_rdtsc())))
		vhu_split_release_held(vq);
	/* not ready: the rings may be gone; the check waits for them */
	if ((vq->flags & VHU_VQ_F_CALL_OWED) && vq->ready)
		ret = ((vq->flags & VHU_VQ_F_PACKED) ?
		       vhu_packed_settle_call(vq) : vhu_split_settle_call(vq));
	if (vq->flags & VHU_VQ_F_CALL_HELD)
		ret = vhu_vq_held_call(vq) ? 1 : -EAGAIN;
	vhu_vq_leave(vq);
	return ret;
}

/*
 * Guest-address window (vhu_burst.h, "Guest addresses"). The window is a
 * burst the application stretches over its own code: it enters the queue
 * with the burst's A1 and leaves with its R1, so the control context's
 * quiesce (A2) waits for it exactly as for a burst, and nothing it holds
 * (memory table, IOTLB views, dirty log) changes in between.
 */
static_assert(VHU_GPA_READ == VHOST_ACCESS_RO &&
	      VHU_GPA_WRITE == VHOST_ACCESS_WO,
	      "perm bits are the IOTLB's, for vhu_vq_miss");
int
vhu_vring_mem_enter(struct vhu_dev *dev, uint16_t vring)
{
	struct vhu_vq *vq;
	int ret = app_vring(dev, vring, &vq);

	if (ret < 0)
		return ret;
	if (!vhu_vq_enter(vq))
		return -EBUSY;
	if (unlikely(!vq->ready)) {
		if (!(vq->flags & VHU_VQ_F_CTRL))
			retry_ring_miss(vq);
		vhu_vq_leave(vq);
		return -EAGAIN;
	}
	return 0;
}

void
vhu_vring_mem_leave(struct vhu_dev *dev, uint16_t vring)
{
	struct vhu_vq *vq = vhu_vqs_lookup(dev, vring);

	/*
	 * Only a caller inside its window may store FREE: a stray leave
	 * must not open a queue a burst or the control context holds. The
	 * check cannot tell two DATA holders apart; the contract (one
	 * holder per vring) does.
	 */
	if (vq != NULL && atomic_load_explicit(&vq->access,
					       memory_order_relaxed) ==
			  VHU_VQ_DATA)
		vhu_vq_leave(vq);
}

/* The queue of a window the caller holds, or NULL. */
static inline struct vhu_vq *
window_vq(struct vhu_dev *dev, uint16_t vring)
{
	struct vhu_vq *vq = vhu_vqs_lookup(dev, vring);

	if (unlikely(vq == NULL ||
		     atomic_load_explicit(&vq->access, memory_order_relaxed) !=
		     VHU_VQ_DATA || !vq->ready))
		return NULL;
	return vq;
}

void *
vhu_vring_gpa_to_hva(struct vhu_dev *dev, uint16_t vring, uint64_t addr,
		     uint64_t *len, int perm)
{
	struct vhu_vq *vq;
	const int access = perm & (VHU_GPA_READ | VHU_GPA_WRITE);
	uint64_t want, got;
	uint8_t *p;

	if (len == NULL)
		return NULL;
	want = *len;
	*len = 0;
	if (unlikely(want == 0 || access == 0 ||
		     (perm & ~(VHU_GPA_READ | VHU_GPA_WRITE | VHU_GPA_MISS))))
		return NULL;
	vq = window_vq(dev, vring);
	if (vq == NULL)
		return NULL;
	/* without IOMMU both views are the guest memory table */
	got = want;
	p = vhu_gpa_to_hva(access & VHU_GPA_READ ? vq->mem_rd : vq->mem_wr,
			   &vq->mem_hint, addr, &got);
	if (p != NULL && access == (VHU_GPA_READ | VHU_GPA_WRITE) &&
	    vq->mem_wr != vq->mem_rd) {
		/* both rights: the part both views map, to the same bytes */
		uint64_t got_wr = got;
		uint8_t *w = vhu_gpa_to_hva(vq->mem_wr, &vq->mem_hint, addr,
					    &got_wr);

		if (w != p)
			p = NULL;
		else
			got = got_wr;
	}
	if (p == NULL) {
		if ((perm & VHU_GPA_MISS) && (vq->flags & VHU_VQ_F_IOMMU))
			vhu_vq_miss(vq, addr, (uint8_t)access);
		return NULL;
	}
	*len = got;
	return p;
}

int
vhu_vring_log_write(struct vhu_dev *dev, uint16_t vring, uint64_t addr,
		    uint64_t len)
{
	struct vhu_vq *vq = window_vq(dev, vring);

	if (vq == NULL)
		return -EINVAL;
	if (vq->flags & VHU_VQ_F_LOG) {
		/*
		 * D1: the application's writes through the window before
		 * their dirty bits (see vhu_log_pieces in copy.h).
		 */
		atomic_thread_fence(memory_order_release);
		vhu_log_mark(vq->log, addr, len);
	}
	return 0;
}

/* The guest address of frontend-virtual address qva (vq->mem). */
static int
qva_to_gpa(const struct vhu_guest_mem *mem, uint64_t qva, uint64_t *gpa)
{
	for (uint32_t i = 0; mem != NULL && i < mem->nregions; i++) {
		const struct vhu_mem_region *r = &mem->r[i];

		if (qva >= r->qva && qva - r->qva < r->size) {
			*gpa = r->gpa + (qva - r->qva);
			return 0;
		}
	}
	return -EFAULT;
}

int
vhu_vring_addrs(struct vhu_dev *dev, uint16_t vring,
		struct vhu_vring_addrs *out)
{
	struct vhu_vq *vq = window_vq(dev, vring);
	const uint64_t qva[3] = {
		vq != NULL ? vq->addr.desc_user_addr : 0,
		vq != NULL ? vq->addr.avail_user_addr : 0,
		vq != NULL ? vq->addr.used_user_addr : 0,
	};
	uint64_t gpa[3];

	if (vq == NULL || out == NULL)
		return -EINVAL;
	/*
	 * The window holds the queue as a burst does: the control context,
	 * which alone writes addr and the memory table, waits for it.
	 * SET_VRING_ADDR carries frontend-virtual addresses, or IOVAs with
	 * the vIOMMU (vhost-user, "Vring address description").
	 */
	for (int i = 0; i < 3; i++) {
		if (vq->flags & VHU_VQ_F_IOMMU)
			gpa[i] = qva[i];
		else if (qva_to_gpa(vq->mem, qva[i], &gpa[i]) < 0)
			return -EFAULT;
	}
	memset(out, 0, sizeof(*out));
	out->desc = gpa[0];
	out->driver = gpa[1];
	out->device = gpa[2];
	out->size = vq->size;
	out->packed = vq->flags & VHU_VQ_F_PACKED;
	out->next_avail = vq->last_avail_idx;
	out->next_avail_wrap = vq->avail_wrap;
	out->hdr_len = vq->hdr_len;
	return 0;
}
