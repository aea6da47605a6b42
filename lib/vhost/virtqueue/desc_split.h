/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Split-ring descriptor chain walker: turns the chain starting at one head
 * into a bounded list of host buffer pieces, enforcing every rule the guest
 * can break (STYLE.md, untrusted-peer checklist item 4) before a single
 * byte is copied. Each descriptor is read from guest memory exactly once,
 * so a guest rewriting the table under us can make us fail a check but
 * never make us act on a value we did not check. A buffer that crosses a
 * memory-region end becomes several pieces; each piece keeps its
 * guest-physical address for dirty logging.
 */
#ifndef VHU_DESC_SPLIT_H
#define VHU_DESC_SPLIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_branch_prediction.h>
#include <rte_prefetch.h>

#include "vq.h"

/*
 * After used->idx was published: whether the guest asked for a call
 * (virtio 1.2 §2.7.7; with EVENT_IDX §2.7.10, whose bookkeeping this
 * updates). The one decision split.c and ctrl.c share.
 */
static inline bool
vhu_split_want_call(struct vhu_vq *vq)
{
	/* F1: used->idx visible before we read the guest's wishes */
	atomic_thread_fence(memory_order_seq_cst);
	if (vq->flags & VHU_VQ_F_EVENT_IDX) {
		/* virtio 1.2 §2.7.10: used_event sits after avail->ring */
		const volatile uint16_t *ev = &vq->avail->ring[vq->size];
		uint16_t old = vq->signalled_used;
		bool valid = vq->signalled_used_valid;

		vq->signalled_used = vq->last_used_idx;
		vq->signalled_used_valid = true;
		/* without a previous check we cannot know: call */
		return !valid || vring_need_event(*ev, vq->last_used_idx, old);
	}
	return !(vq->avail->flags & VRING_AVAIL_F_NO_INTERRUPT);
}

/* One host-contiguous piece of a guest buffer. */
struct vhu_piece {
	uint8_t *hva;
	uint64_t gpa;
	uint32_t len;
};

/*
 * Pieces one packet may occupy. Linux sends at most MAX_SKB_FRAGS + 2
 * descriptors per frame (19 by default, 47 with the largest configurable
 * MAX_SKB_FRAGS), each of which may split once at a region end; a 64 KiB
 * frame over 1.5 KiB mergeable buffers needs 44. 128 covers both with room.
 */
#define VHU_MAX_PIECES 128

/*
 * The region a burst last hit, held in locals so the fast paths translate
 * a whole buffer with one compare. The memory table cannot change while
 * the queue is entered (guest_mem.h), so a cached region stays valid for
 * the burst; a miss asks vhu_gpa_to_hva(), which also moves the queue's
 * hint. A hit costs 5 Ir (bench_split under callgrind;
 * doc/guide/benchmark.md, "Measurements behind the code").
 */
struct vhu_xlate {
	uint64_t gpa;  /* region start */
	uint64_t size; /* 0: nothing cached */
	uint8_t *hva;
};

static inline void
vhu_xlate_init(struct vhu_xlate *x, const struct vhu_guest_mem *m,
	       uint32_t hint)
{
	if (hint < m->nregions) {
		x->gpa = m->r[hint].gpa;
		x->size = m->r[hint].size;
		x->hva = m->r[hint].hva;
	} else {
		x->gpa = 0;
		x->size = 0;
		x->hva = NULL;
	}
}

/* Host address of all of [gpa, gpa + len) (len > 0) in one region, or NULL. */
static inline uint8_t *
vhu_xlate_whole(struct vhu_xlate *x, const struct vhu_guest_mem *m,
		uint32_t *hint, uint64_t gpa, uint64_t len)
{
	uint64_t off = gpa - x->gpa;
	uint64_t got = len;
	uint8_t *hva;

	/* unsigned wrap makes gpa below the region fail too */
	if (likely(off < x->size && len <= x->size - off))
		return x->hva + off;
	hva = vhu_gpa_to_hva(m, hint, gpa, &got);
	if (hva == NULL)
		return NULL;
	vhu_xlate_init(x, m, *hint);
	return got == len ? hva : NULL;
}

/* Result of a walk; negative values leave the ring untouched. */
enum {
	VHU_WALK_OK = 0,
	VHU_WALK_BAD = -1,   /* the guest broke a rule: why is set */
	VHU_WALK_FULL = -2,  /* valid chain, but more pieces than room */
	VHU_WALK_MISS = -3,  /* IOMMU: an IOVA not in the IOTLB, requested */
};

/*
 * Walk the chain at head. Device-writable buffers are wanted for enqueue
 * (write = true), device-readable ones for dequeue. Pieces are appended at
 * p[*np], at most max in total; *len accumulates the chain's bytes.
 * Returns VHU_WALK_*.
 */
static inline int
vhu_split_walk(struct vhu_vq *vq, uint16_t head, bool write,
	       struct vhu_piece *p, uint32_t *np, uint32_t max, uint32_t *len,
	       const char **why)
{
	const volatile struct vring_desc *table = vq->desc;
	uint32_t table_size = vq->size;
	uint32_t idx = head;
	uint32_t seen = 0;
	uint32_t n = *np;
	uint32_t total = *len;
	bool indirect = false;

	/* virtio 1.2 §2.7.13.2: heads index the descriptor table */
	if (unlikely(idx >= table_size)) {
		*why = "avail ring head out of range";
		return VHU_WALK_BAD;
	}
	for (;;) {
		uint64_t addr = table[idx].addr;
		uint32_t dlen = table[idx].len;
		uint16_t flags = table[idx].flags;
		uint16_t next = table[idx].next;

		/*
		 * A well-formed chain visits each table entry at most once,
		 * so more steps than entries can only be a loop.
		 */
		if (unlikely(++seen > table_size)) {
			*why = "descriptor chain loops";
			return VHU_WALK_BAD;
		}
		if (flags & VRING_DESC_F_INDIRECT) {
			uint64_t tlen = dlen;

			/*
			 * virtio 1.2 §2.7.5.3.1: only when negotiated, never
			 * inside an indirect table, never with NEXT; the
			 * table is whole descriptors (§2.7.5.3: len/16).
			 */
			if (unlikely(!(vq->flags & VHU_VQ_F_INDIRECT))) {
				*why = "INDIRECT not negotiated";
				return VHU_WALK_BAD;
			}
			if (unlikely(indirect)) {
				*why = "nested indirect table";
				return VHU_WALK_BAD;
			}
			if (unlikely(flags & VRING_DESC_F_NEXT)) {
				*why = "INDIRECT together with NEXT";
				return VHU_WALK_BAD;
			}
			if (unlikely(tlen == 0 ||
				     tlen % sizeof(struct vring_desc) != 0 ||
				     tlen / sizeof(struct vring_desc) >
				     VHU_VQ_MAX_SIZE)) {
				*why = "bad indirect table length";
				return VHU_WALK_BAD;
			}
			table = (const volatile struct vring_desc *)
				vhu_gpa_to_hva_whole(vq->mem_rd, &vq->mem_hint,
						     addr, tlen);
			if (unlikely(table == NULL)) {
				if (vhu_vq_xlate_miss(vq, vq->mem_rd, addr,
						      tlen, false))
					return VHU_WALK_MISS;
				*why = "indirect table not in one memory region";
				return VHU_WALK_BAD;
			}
			indirect = true;
			table_size = tlen / sizeof(struct vring_desc);
			idx = 0;
			seen = 0;
			continue;
		}
		/* virtio 1.2 §5.1.6: net TX is all readable, RX all writable */
		if (unlikely(!!(flags & VRING_DESC_F_WRITE) != write)) {
			*why = write ? "read-only buffer in a receive chain" :
				       "write-only buffer in a transmit chain";
			return VHU_WALK_BAD;
		}
		if (unlikely(total + dlen < total)) {
			*why = "chain longer than 4 GiB";
			return VHU_WALK_BAD;
		}
		total += dlen;
		while (dlen > 0) {
			uint64_t got = dlen;
			const struct vhu_guest_mem *m = write ? vq->mem_wr :
								vq->mem_rd;
			uint8_t *hva = vhu_gpa_to_hva(m, &vq->mem_hint, addr,
						      &got);

			if (unlikely(hva == NULL)) {
				if (vhu_vq_xlate_miss(vq, m, addr, 0, write))
					return VHU_WALK_MISS;
				*why = "buffer outside guest memory";
				return VHU_WALK_BAD;
			}
			if (unlikely(n == max))
				return VHU_WALK_FULL;
			p[n].hva = hva;
			p[n].gpa = addr;
			p[n].len = got;
			n++;
			/* no wrap: got ends inside a region, below 2^64 */
			addr += got;
			dlen -= got;
		}
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		if (unlikely(next >= table_size)) {
			*why = "next descriptor out of range";
			return VHU_WALK_BAD;
		}
		idx = next;
	}
	if (n > *np)
		rte_prefetch0(p[*np].hva);
	*np = n;
	*len = total;
	return VHU_WALK_OK;
}

#endif /* VHU_DESC_SPLIT_H */
