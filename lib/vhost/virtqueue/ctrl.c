/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control vring as a ring (see ctrl.h): one chain at a time, split
 * and packed layouts, run by the control context while it holds the
 * queue. Bursts never get here: a control vring is never ready
 * (VHU_VQ_F_CTRL, vq.c).
 *
 * Design: the chain is walked once, each descriptor field read once, with
 * the same rules as the data path's walkers (desc_split.h, desc_packed.h:
 * heads and next indexes in range, no loop, indirect only when negotiated
 * and never nested, every buffer inside guest memory), plus the control
 * queue's own shape (virtio 1.2 §5.1.6.5): readable bytes first, copied
 * into a bounded buffer, then exactly one writable byte, the ack. A
 * broken ring rule, or no writable byte at all (nowhere to answer),
 * breaks the vring as a burst would (vhu_vq_mark_broken: the application
 * hears of it through vring_broken). A chain whose shape is wrong but
 * that has an ack byte is answered VIRTIO_NET_ERR by the caller.
 *
 * Memory ordering: the same edges as the data path, at one chain a time:
 * A3 (avail->idx), R3 (used->idx), F1 (split notification), A4 (packed
 * head flags), R4 (packed used flags), F3 (packed notification), D1 (dirty
 * log); doc/guide/threading.md indexes them.
 */
#include <string.h>
#include <sys/eventfd.h>

#include "ctrl.h"
#include "desc_split.h"
#include "desc_packed.h"
#include "fastpath.h"
#include "vhu_log.h"

/* Collect one buffer of the chain: VHU_WALK_OK, _BAD (why) or _MISS. */
static int
take_buf(struct vhu_vq *vq, struct vhu_ctrl_cmd *c, uint64_t addr,
	 uint32_t len, bool writable, uint64_t *wlen, const char **why)
{
	if (writable) {
		*wlen += len;
		if (c->ack == NULL && len > 0) {
			uint64_t got = 1;
			uint8_t *hva = vhu_gpa_to_hva(vq->mem_wr, &vq->mem_hint,
						      addr, &got);

			if (hva == NULL) {
				if (vhu_vq_xlate_miss(vq, vq->mem_wr, addr, 0,
						      true))
					return VHU_WALK_MISS;
				*why = "control ack outside guest memory";
				return VHU_WALK_BAD;
			}
			c->ack = hva;
			c->ack_gpa = addr;
		}
		return VHU_WALK_OK;
	}
	/* virtio 1.2 §5.1.6.5: the ack is the last field */
	if (*wlen > 0) {
		c->malformed = "readable buffer after the ack";
		return VHU_WALK_OK;
	}
	if (c->too_long || len > VHU_CTRL_CMD_MAX - c->len) {
		c->too_long = true;
		return VHU_WALK_OK;
	}
	while (len > 0) {
		uint64_t got = len;
		uint8_t *hva = vhu_gpa_to_hva(vq->mem_rd, &vq->mem_hint, addr,
					      &got);

		if (hva == NULL) {
			if (vhu_vq_xlate_miss(vq, vq->mem_rd, addr, 0, false))
				return VHU_WALK_MISS;
			*why = "control command outside guest memory";
			return VHU_WALK_BAD;
		}
		/* one copy: the guest may rewrite it, we parse ours */
		memcpy(c->buf + c->len, hva, got);
		c->len += (uint32_t)got;
		addr += got;
		len -= (uint32_t)got;
	}
	return VHU_WALK_OK;
}

/* After the walk: an ack byte to answer in, and the ack alone writable. */
static int
walk_done(struct vhu_ctrl_cmd *c, uint64_t wlen, const char **why)
{
	if (c->ack == NULL) {
		*why = "control command without a writable ack byte";
		return VHU_WALK_BAD;
	}
	if (wlen != 1 && c->malformed == NULL)
		c->malformed = "writable part is not one ack byte";
	return VHU_WALK_OK;
}

/* The indirect table checks both layouts share (§2.7.5.3, §2.8.7). */
static const char *
indirect_bad(const struct vhu_vq *vq, uint16_t flags, uint32_t tlen,
	     bool nested)
{
	if (!(vq->flags & VHU_VQ_F_INDIRECT))
		return "INDIRECT not negotiated";
	if (nested)
		return "nested indirect table";
	if (flags & VRING_DESC_F_NEXT)
		return "INDIRECT together with NEXT";
	if (tlen == 0 || tlen % sizeof(struct vring_desc) != 0 ||
	    tlen / sizeof(struct vring_desc) > VHU_VQ_MAX_SIZE)
		return "bad indirect table length";
	return NULL;
}

static int
walk_split(struct vhu_vq *vq, uint16_t head, struct vhu_ctrl_cmd *c,
	   const char **why)
{
	const volatile struct vring_desc *table = vq->desc;
	uint32_t tsize = vq->size;
	uint32_t idx = head;
	uint32_t seen = 0;
	uint64_t wlen = 0;
	bool indirect = false;
	int rc;

	/* virtio 1.2 §2.7.13.2: heads index the descriptor table */
	if (head >= tsize) {
		*why = "avail ring head out of range";
		return VHU_WALK_BAD;
	}
	for (;;) {
		uint64_t addr = table[idx].addr;
		uint32_t len = table[idx].len;
		uint16_t flags = table[idx].flags;
		uint16_t next = table[idx].next;

		if (++seen > tsize) {
			*why = "descriptor chain loops";
			return VHU_WALK_BAD;
		}
		if (flags & VRING_DESC_F_INDIRECT) {
			*why = indirect_bad(vq, flags, len, indirect);
			if (*why != NULL)
				return VHU_WALK_BAD;
			table = (const volatile struct vring_desc *)
				vhu_gpa_to_hva_whole(vq->mem_rd, &vq->mem_hint,
						     addr, len);
			if (table == NULL) {
				if (vhu_vq_xlate_miss(vq, vq->mem_rd, addr, len,
						      false))
					return VHU_WALK_MISS;
				*why = "indirect table not in one memory region";
				return VHU_WALK_BAD;
			}
			indirect = true;
			tsize = len / sizeof(struct vring_desc);
			idx = 0;
			seen = 0;
			continue;
		}
		rc = take_buf(vq, c, addr, len, flags & VRING_DESC_F_WRITE,
			      &wlen, why);
		if (rc != VHU_WALK_OK)
			return rc;
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		if (next >= tsize) {
			*why = "next descriptor out of range";
			return VHU_WALK_BAD;
		}
		idx = next;
	}
	return walk_done(c, wlen, why);
}

static int
walk_packed(struct vhu_vq *vq, uint16_t slot, bool wrap, uint16_t flags,
	    struct vhu_ctrl_cmd *c, const char **why)
{
	const volatile struct vring_packed_desc *ring = vq->pdesc;
	const uint16_t size = vq->size;
	uint32_t seen = 0;
	uint64_t wlen = 0;
	int rc;

	for (;;) {
		uint64_t addr = ring[slot].addr;
		uint32_t len = ring[slot].len;
		uint16_t bid = ring[slot].id;

		/* virtio 1.2 §2.8.6: a chain is no longer than the ring */
		if (++seen > size) {
			*why = "descriptor chain longer than the ring";
			return VHU_WALK_BAD;
		}
		if (flags & VRING_DESC_F_INDIRECT) {
			const volatile struct vring_packed_desc *t;

			*why = indirect_bad(vq, flags, len, false);
			if (*why != NULL)
				return VHU_WALK_BAD;
			t = (const volatile struct vring_packed_desc *)
				vhu_gpa_to_hva_whole(vq->mem_rd, &vq->mem_hint,
						     addr, len);
			if (t == NULL) {
				if (vhu_vq_xlate_miss(vq, vq->mem_rd, addr, len,
						      false))
					return VHU_WALK_MISS;
				*why = "indirect table not in one memory region";
				return VHU_WALK_BAD;
			}
			/* §2.8.7: every entry, in order; WRITE the only flag */
			for (uint32_t k = 0; k < len / sizeof(*t); k++) {
				uint64_t ta = t[k].addr;
				uint32_t tl = t[k].len;
				uint16_t tf = t[k].flags;

				if (tf & VRING_DESC_F_INDIRECT) {
					*why = "nested indirect table";
					return VHU_WALK_BAD;
				}
				rc = take_buf(vq, c, ta, tl,
					      tf & VRING_DESC_F_WRITE, &wlen,
					      why);
				if (rc != VHU_WALK_OK)
					return rc;
			}
			c->id = bid;
			break;
		}
		rc = take_buf(vq, c, addr, len, flags & VRING_DESC_F_WRITE,
			      &wlen, why);
		if (rc != VHU_WALK_OK)
			return rc;
		if (!(flags & VRING_DESC_F_NEXT)) {
			/* §2.8.6: the buffer id is in the chain's last one */
			c->id = bid;
			break;
		}
		vhu_pslot_add(&slot, &wrap, 1, size);
		/* ordered by the head's A4 load in packed_pop() */
		flags = vhu_atomic_load_u16(&ring[slot].flags,
					    memory_order_relaxed);
		if (!vhu_pdesc_avail(flags, wrap)) {
			*why = "chained descriptor not available";
			return VHU_WALK_BAD;
		}
	}
	c->ndesc = (uint16_t)seen;
	return walk_done(c, wlen, why);
}

static int
split_pop(struct vhu_vq *vq, struct vhu_ctrl_cmd *c, const char **why)
{
	/* A3: pairs with the driver's barrier before its avail->idx store */
	uint16_t idx = vhu_atomic_load_u16(&vq->avail->idx,
					   memory_order_acquire);
	uint16_t pending = idx - vq->last_avail_idx;
	const volatile uint16_t *ring = vq->avail->ring;
	uint16_t head;
	int rc;

	/* virtio 1.2 §2.7.6: at most Queue Size entries can be pending */
	if (pending > vq->size) {
		*why = "avail index moved past the ring size";
		return VHU_WALK_BAD;
	}
	if (pending == 0)
		return VHU_WALK_FULL; /* nothing: see vhu_ctrl_pop() */
	head = ring[vq->last_avail_idx & (vq->size - 1)];
	rc = walk_split(vq, head, c, why);
	if (rc == VHU_WALK_OK) {
		c->id = head;
		c->ndesc = 1;
		vq->last_avail_idx++;
	}
	return rc;
}

static int
packed_pop(struct vhu_vq *vq, struct vhu_ctrl_cmd *c, const char **why)
{
	uint16_t slot = vq->last_avail_idx;
	/* A4: the head's flags before the rest of the chain (§2.8.21) */
	uint16_t flags = vhu_atomic_load_u16(&vq->pdesc[slot].flags,
					     memory_order_acquire);
	int rc;

	if (!vhu_pdesc_avail(flags, vq->avail_wrap))
		return VHU_WALK_FULL;
	rc = walk_packed(vq, slot, vq->avail_wrap, flags, c, why);
	if (rc == VHU_WALK_OK)
		vhu_pslot_add(&vq->last_avail_idx, &vq->avail_wrap, c->ndesc,
			      vq->size);
	return rc;
}

int
vhu_ctrl_pop(struct vhu_vq *vq, struct vhu_ctrl_cmd *c)
{
	const char *why = NULL;
	int rc;

	if (!vq->ctrl_ready)
		return VHU_CTRL_NONE;
	c->len = 0;
	c->too_long = false;
	c->malformed = NULL;
	c->ack = NULL;
	c->ack_gpa = 0;
	c->id = 0;
	c->ndesc = 0;
	rc = (vq->flags & VHU_VQ_F_PACKED) ? packed_pop(vq, c, &why) :
					     split_pop(vq, c, &why);
	if (rc == VHU_WALK_OK)
		return VHU_CTRL_POPPED;
	if (rc == VHU_WALK_BAD) {
		vhu_vq_mark_broken(vq, why);
		return VHU_CTRL_BROKEN;
	}
	/* nothing available, or an IOTLB miss: the chain stays */
	return VHU_CTRL_NONE;
}

static void
log_ack(const struct vhu_vq *vq, const struct vhu_ctrl_cmd *c)
{
	if (!(vq->flags & VHU_VQ_F_LOG))
		return;
	/* D1: the ack byte before its dirty bit */
	atomic_thread_fence(memory_order_release);
	vhu_log_mark(vq->log, c->ack_gpa, 1);
}

static bool
log_used(const struct vhu_vq *vq)
{
	return (vq->flags & (VHU_VQ_F_LOG | VHU_VQ_F_LOG_USED)) ==
	       (VHU_VQ_F_LOG | VHU_VQ_F_LOG_USED);
}

static void
split_push(struct vhu_vq *vq, const struct vhu_ctrl_cmd *c)
{
	uint16_t slot = vq->last_used_idx & (vq->size - 1);
	volatile struct vring_used_elem *e = &vq->used->ring[slot];

	e->id = c->id;
	e->len = 1;
	vq->last_used_idx++;
	/* R3: the ack and the entry before the index */
	vhu_atomic_store_u16(&vq->used->idx, vq->last_used_idx,
			     memory_order_release);
	if (log_used(vq)) {
		uint64_t ring = vq->used_log_gpa +
				offsetof(struct vring_used, ring);

		/* D1: ring stores before their dirty bits */
		atomic_thread_fence(memory_order_release);
		vhu_log_mark(vq->log, ring + slot * sizeof(*e), sizeof(*e));
		vhu_log_mark(vq->log, vq->used_log_gpa +
			     offsetof(struct vring_used, idx), 2);
	}
	if (vhu_split_want_call(vq))
		vhu_call_guest(vq);
}

static void
packed_push(struct vhu_vq *vq, const struct vhu_ctrl_cmd *c)
{
	volatile struct vring_packed_desc *d = &vq->pdesc[vq->last_used_idx];
	uint16_t old = vq->last_used_idx;

	d->id = c->id;
	d->len = 1;
	/* R4: the ack, id and len before the flags */
	vhu_atomic_store_u16(&d->flags, vhu_pdesc_used_flags(vq->used_wrap),
			     memory_order_release);
	if (log_used(vq)) {
		/* D1: ring stores before their dirty bits */
		atomic_thread_fence(memory_order_release);
		vhu_log_mark(vq->log, vq->used_log_gpa +
			     (uint64_t)old * sizeof(*d), sizeof(*d));
	}
	vhu_pslot_add(&vq->last_used_idx, &vq->used_wrap, c->ndesc, vq->size);
	if (vhu_packed_want_call(vq, c->ndesc))
		vhu_call_guest(vq);
}

void
vhu_ctrl_push(struct vhu_vq *vq, const struct vhu_ctrl_cmd *c, uint8_t ack)
{
	*(volatile uint8_t *)c->ack = ack;
	log_ack(vq, c);
	if (vq->flags & VHU_VQ_F_PACKED)
		packed_push(vq, c);
	else
		split_push(vq, c);
}
