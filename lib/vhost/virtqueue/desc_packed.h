/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packed-ring descriptor chain walker (virtio 1.2 §2.8): turns the buffer
 * whose first descriptor sits at one ring slot into a bounded list of host
 * pieces (struct vhu_piece, desc_split.h), with the buffer id to echo and the
 * number of ring slots it occupies, enforcing every rule the guest can
 * break before a byte is copied. As in the split walker each descriptor
 * field is read from guest memory once, so a guest rewriting the ring can
 * make a check fail but never make us act on an unchecked value. Also the
 * small helpers both directions share: availability test, slot stepping.
 */
#ifndef VHU_DESC_PACKED_H
#define VHU_DESC_PACKED_H

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_branch_prediction.h>
#include <rte_prefetch.h>

#include "vq.h"
#include "desc_split.h"

#define VHU_PDESC_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define VHU_PDESC_USED  (1u << VRING_PACKED_DESC_F_USED)

/*
 * virtio 1.2 §2.8.1: a descriptor is available when its AVAIL bit equals
 * the wrap counter of the slot and its USED bit differs from it. Anything
 * else at the device's next slot is not (yet) available: a used one from
 * the previous lap, or the stale tail of a previous-lap chain.
 */
static inline bool
vhu_pdesc_avail(uint16_t flags, bool wrap)
{
	/* one mask and one compare: AVAIL == wrap, USED != wrap */
	return (flags & (VHU_PDESC_AVAIL | VHU_PDESC_USED)) ==
	       (wrap ? VHU_PDESC_AVAIL : VHU_PDESC_USED);
}

/*
 * After used descriptors were published, moved slots this time: whether
 * the guest's event suppression area asks for a call (virtio 1.2
 * §2.8.10): DISABLE never, DESC (with EVENT_IDX) when the slots moved
 * over passed the one it named, anything else always. The one decision
 * packed.c and ctrl.c share.
 */
static inline bool
vhu_packed_want_call(const struct vhu_vq *vq, uint32_t moved)
{
	const volatile struct vring_packed_desc_event *ev = vq->driver_event;
	uint16_t flags;

	/* F3: our used flags visible before we read the guest's wishes */
	atomic_thread_fence(memory_order_seq_cst);
	flags = ev->flags & 0x3;
	if (flags == VRING_PACKED_EVENT_FLAG_DISABLE)
		return false;
	if (flags == VRING_PACKED_EVENT_FLAG_DESC &&
	    (vq->flags & VHU_VQ_F_EVENT_IDX)) {
		/*
		 * §2.8.10: off_wrap names a slot (bits 0-14) in a lap
		 * (bit 15). Placed on one line with our used slot: in our
		 * current lap it is off, in the previous one off - size.
		 * Call when it lies in [old, new), the slots this burst
		 * moved over; an event one lap ahead reads as past, which
		 * costs a spurious call, never a missed one.
		 */
		uint16_t ow = ev->off_wrap;
		int32_t event = ow & 0x7fff;
		int32_t now = vq->last_used_idx;
		int32_t old = now - (int32_t)moved;

		if (!!(ow >> VRING_PACKED_EVENT_F_WRAP_CTR) != vq->used_wrap)
			event -= vq->size;
		return old <= event && event < now;
	}
	return true;
}

/* The flags of a used descriptor written with wrap counter w (§2.8.1). */
static inline uint16_t
vhu_pdesc_used_flags(bool w)
{
	return w ? (uint16_t)(VHU_PDESC_AVAIL | VHU_PDESC_USED) : 0;
}

/* Step a slot by n (<= size) and flip the wrap counter on each pass. */
static inline void
vhu_pslot_add(uint16_t *slot, bool *wrap, uint16_t n, uint16_t size)
{
	uint32_t s = (uint32_t)*slot + n;

	if (s >= size) {
		s -= size;
		*wrap = !*wrap;
	}
	*slot = (uint16_t)s;
}

/*
 * Batch path: VHU_PBATCH descriptors, one 64-byte cache line of a ring
 * whose base is 64-aligned (the usual), taken together when all of them
 * are simple. Checked all-or-nothing before the caller commits anything.
 */
#define VHU_PBATCH 4
#define VHU_PBATCH_MASK (VHU_PBATCH - 1)
static_assert(VHU_PBATCH * sizeof(struct vring_packed_desc) == 64,
	      "a packed batch is one 64-byte line of descriptors");

struct vhu_pbatch {
	uint64_t addr[VHU_PBATCH];
	uint32_t len[VHU_PBATCH];
	uint16_t id[VHU_PBATCH];
};

/*
 * Load the VHU_PBATCH descriptors from slot (a multiple of VHU_PBATCH, the
 * batch inside the ring) if every one is available in lap wrap and is a
 * whole buffer in one descriptor whose NEXT/INDIRECT/WRITE bits are
 * exactly want (virtio 1.2 §2.8.6: no NEXT; §2.8.7: no INDIRECT; §5.1.6:
 * WRITE for receive, none for transmit). Each field is read once, into b.
 * False, with nothing consumed, otherwise: the caller takes the
 * one-descriptor path, which reports what is wrong.
 */
static inline bool
vhu_pbatch_load(const struct vhu_vq *vq, uint16_t slot, bool wrap,
		uint16_t want, struct vhu_pbatch *b)
{
	const volatile struct vring_packed_desc *d = &vq->pdesc[slot];
	const uint16_t mask = VRING_DESC_F_NEXT | VRING_DESC_F_INDIRECT |
			      VRING_DESC_F_WRITE;
	uint16_t f[VHU_PBATCH];
	int k;

	if ((slot & VHU_PBATCH_MASK) != 0 ||
	    (uint32_t)slot + VHU_PBATCH > vq->size)
		return false;
	for (k = 0; k < VHU_PBATCH; k++)
		f[k] = vhu_atomic_load_u16(&d[k].flags, memory_order_relaxed);
	/* available (vhu_pdesc_avail) and of the wanted kind, one compare */
	for (k = 0; k < VHU_PBATCH; k++)
		if ((f[k] & (mask | VHU_PDESC_AVAIL | VHU_PDESC_USED)) !=
		    (want | (wrap ? VHU_PDESC_AVAIL : VHU_PDESC_USED)))
			return false;
	/*
	 * A4: for the whole line, one acquire fence after the four flag
	 * loads orders every read below after all of them (§2.8.21).
	 */
	atomic_thread_fence(memory_order_acquire);
	for (k = 0; k < VHU_PBATCH; k++) {
		b->addr[k] = d[k].addr;
		b->len[k] = d[k].len;
		b->id[k] = d[k].id;
	}
	return true;
}

/* Append the host pieces of [addr, addr + dlen). Returns VHU_WALK_*. */
static inline int
vhu_pieces_add(struct vhu_vq *vq, uint64_t addr, uint32_t dlen, bool write,
	       struct vhu_piece *p, uint32_t *n, uint32_t max,
	       const char **why)
{
	const struct vhu_guest_mem *m = write ? vq->mem_wr : vq->mem_rd;

	while (dlen > 0) {
		uint64_t got = dlen;
		uint8_t *hva = vhu_gpa_to_hva(m, &vq->mem_hint, addr, &got);

		if (unlikely(hva == NULL)) {
			if (vhu_vq_xlate_miss(vq, m, addr, 0, write))
				return VHU_WALK_MISS;
			*why = "buffer outside guest memory";
			return VHU_WALK_BAD;
		}
		if (unlikely(*n == max))
			return VHU_WALK_FULL;
		p[*n].hva = hva;
		p[*n].gpa = addr;
		p[*n].len = got;
		(*n)++;
		/* no wrap: got ends inside a region, below 2^64 */
		addr += got;
		dlen -= (uint32_t)got;
	}
	return VHU_WALK_OK;
}

/*
 * Walk the buffer whose first descriptor is at slot, in lap wrap, whose
 * flags the caller loaded (acquire) and found available: head_flags is
 * that one load, never re-read. Device-writable buffers are wanted for
 * enqueue (write = true), readable ones for dequeue. Pieces are appended
 * at p[*np] (at most max in all); *len accumulates bytes; *id and *ndesc
 * receive the buffer id and the ring slots the buffer took.
 */
static inline int
vhu_packed_walk(struct vhu_vq *vq, uint16_t slot, bool wrap,
		uint16_t head_flags, bool write, struct vhu_piece *p,
		uint32_t *np, uint32_t max, uint32_t *len, uint16_t *id,
		uint16_t *ndesc, const char **why)
{
	const volatile struct vring_packed_desc *ring = vq->pdesc;
	const uint16_t size = vq->size;
	uint16_t flags = head_flags;
	uint32_t seen = 0;
	uint32_t n = *np;
	uint32_t total = *len;
	int rc;

	for (;;) {
		uint64_t addr = ring[slot].addr;
		uint32_t dlen = ring[slot].len;
		uint16_t bid = ring[slot].id;

		/*
		 * virtio 1.2 §2.8.6: a chain occupies consecutive slots,
		 * so it cannot be longer than the ring.
		 */
		if (unlikely(++seen > size)) {
			*why = "descriptor chain longer than the ring";
			return VHU_WALK_BAD;
		}
		if (flags & VRING_DESC_F_INDIRECT) {
			const volatile struct vring_packed_desc *t;
			uint32_t tn;

			/*
			 * virtio 1.2 §2.8.7: only when negotiated, never
			 * with NEXT; the table is whole descriptors, in
			 * one memory region, bounded like a chain (by the
			 * largest Queue Size, 32768).
			 */
			if (unlikely(!(vq->flags & VHU_VQ_F_INDIRECT))) {
				*why = "INDIRECT not negotiated";
				return VHU_WALK_BAD;
			}
			if (unlikely(flags & VRING_DESC_F_NEXT)) {
				*why = "INDIRECT together with NEXT";
				return VHU_WALK_BAD;
			}
			if (unlikely(dlen == 0 ||
				     dlen % sizeof(struct vring_packed_desc) ||
				     dlen / sizeof(struct vring_packed_desc) >
				     VHU_VQ_MAX_SIZE)) {
				*why = "bad indirect table length";
				return VHU_WALK_BAD;
			}
			t = (const volatile struct vring_packed_desc *)
				vhu_gpa_to_hva_whole(vq->mem_rd, &vq->mem_hint,
						     addr, dlen);
			if (unlikely(t == NULL)) {
				if (vhu_vq_xlate_miss(vq, vq->mem_rd, addr,
						      dlen, false))
					return VHU_WALK_MISS;
				*why = "indirect table not in one memory region";
				return VHU_WALK_BAD;
			}
			tn = dlen / sizeof(struct vring_packed_desc);
			/*
			 * §2.8.7: table entries are used in order, all of
			 * them; WRITE is their only valid flag (NEXT and
			 * the id are ignored), and the driver must not
			 * nest INDIRECT. WRITE is enforced for receive
			 * tables only: DPDK's virtio PMD (22.11, and
			 * net_virtio_user with it) presets the header entry
			 * of its packed transmit tables as device-writable.
			 * The device only reads a transmit buffer, so
			 * taking it anyway costs nothing in safety.
			 */
			for (uint32_t k = 0; k < tn; k++) {
				uint64_t ta = t[k].addr;
				uint32_t tl = t[k].len;
				uint16_t tf = t[k].flags;

				if (unlikely(tf & VRING_DESC_F_INDIRECT)) {
					*why = "nested indirect table";
					return VHU_WALK_BAD;
				}
				if (unlikely(write &&
					     !(tf & VRING_DESC_F_WRITE))) {
					*why = "read-only buffer in a receive chain";
					return VHU_WALK_BAD;
				}
				if (unlikely(total + tl < total)) {
					*why = "chain longer than 4 GiB";
					return VHU_WALK_BAD;
				}
				total += tl;
				rc = vhu_pieces_add(vq, ta, tl, write, p, &n,
						    max, why);
				if (unlikely(rc != VHU_WALK_OK))
					return rc;
			}
			/* the descriptor naming the table ends the chain */
			*id = bid;
			break;
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
		rc = vhu_pieces_add(vq, addr, dlen, write, p, &n, max, why);
		if (unlikely(rc != VHU_WALK_OK))
			return rc;
		if (!(flags & VRING_DESC_F_NEXT)) {
			/* §2.8.6: the buffer id is in the chain's last one */
			*id = bid;
			break;
		}
		vhu_pslot_add(&slot, &wrap, 1, size);
		/*
		 * §2.8.6 / §2.8.21: the driver makes the head available
		 * only after the rest of the chain, so every later
		 * descriptor must already be available in its own lap.
		 * Relaxed: the caller's acquire load of the head flags
		 * (A4) orders this read after the driver's writes.
		 */
		flags = vhu_atomic_load_u16(&ring[slot].flags,
					    memory_order_relaxed);
		if (unlikely(!vhu_pdesc_avail(flags, wrap))) {
			*why = "chained descriptor not available";
			return VHU_WALK_BAD;
		}
	}
	if (n > *np)
		rte_prefetch0(p[*np].hva);
	*np = n;
	*len = total;
	*ndesc = (uint16_t)seen;
	return VHU_WALK_OK;
}

#endif /* VHU_DESC_PACKED_H */
