/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test-only driver side of a split or packed virtqueue (see
 * virtq_driver.h): guest memory in a memfd, a hand-built region table, and
 * the guest's half of the ring protocol, written from virtio 1.2 §2.7
 * (split) and §2.8 (packed) for the unit suites.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_lcore.h>

#include "vhu_atomic.h"
#include "virtq_driver.h"
#include "../eal_tidy.h"

#define PAGE 4096ull
#define QVA_BASE 0x400000000000ull  /* frontend-virtual: arbitrary */
#define QVA_GAP 0x100000000ull

static uint64_t
round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

uint64_t
vtd_region_split(const struct vtd *d)
{
	return d->gpa_base + (d->o.nregions == 2 ? d->o.mem_size / 2 :
				d->o.mem_size);
}

uint64_t
vtd_mem_end(const struct vtd *d)
{
	return d->gpa_base + d->o.mem_size;
}

uint8_t *
vtd_ptr(struct vtd *d, uint64_t gpa)
{
	return d->drv + (gpa - d->gpa_base);
}

uint64_t
vtd_qva(const struct vtd *d, uint64_t gpa)
{
	for (uint32_t i = 0; i < d->mem.nregions; i++) {
		const struct vhu_mem_region *r = &d->mem.r[i];

		if (gpa - r->gpa < r->size)
			return r->qva + (gpa - r->gpa);
	}
	return 0;
}

static void *
map_at_any(int fd, size_t len, off_t off)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);

	return p == MAP_FAILED ? NULL : p;
}

static int alloc_tracking(struct vtd *d);

/*
 * Packed layout (virtio 1.2 §2.8.10.1: ring 16-aligned, event areas 4):
 * the ring, then the two event suppression areas on their own lines.
 * Slots before the base slot look used in the current lap, the rest used
 * in the previous one, as a ring that ran up to base would look.
 */
static int
packed_init(struct vtd *d, uint16_t base)
{
	const struct vtd_opts *o = &d->o;
	uint16_t idx = base & 0x7fff;
	bool w = base >> 15;
	uint64_t ring_end;
	int rc;

	if (idx >= o->size)
		return -EINVAL;
	d->desc_gpa = d->gpa_base;
	d->avail_gpa = round_up(d->desc_gpa + 16ull * o->size, 64);
	d->used_gpa = d->avail_gpa + 64;
	ring_end = round_up(d->used_gpa + 4, PAGE);
	d->pdesc = (struct vring_packed_desc *)vtd_ptr(d, d->desc_gpa);
	d->drv_event = (struct vring_packed_desc_event *)vtd_ptr(d,
							d->avail_gpa);
	d->dev_event = (struct vring_packed_desc_event *)vtd_ptr(d,
							d->used_gpa);
	for (uint16_t i = 0; i < o->size; i++) {
		bool lap = i < idx ? w : !w;

		d->pdesc[i].flags = lap ? (1u << VRING_PACKED_DESC_F_AVAIL |
					   1u << VRING_PACKED_DESC_F_USED) : 0;
	}
	d->pavail = idx;
	d->pused = idx;
	d->avail_wrap = w;
	d->used_wrap = w;
	d->pfree = o->size;
	d->buf_lo = ring_end;
	d->buf_hi = vtd_mem_end(d);
	d->buf_next = d->buf_lo;
	rc = alloc_tracking(d);
	if (rc != 0)
		return rc;
	d->pending_slot = calloc(o->size, sizeof(*d->pending_slot));
	d->pending_flags = calloc(o->size, sizeof(*d->pending_flags));
	if (d->pending_slot == NULL || d->pending_flags == NULL)
		return -ENOMEM;
	/* buffer ids in a scrambled order: the device must echo them */
	for (uint32_t i = o->size - 1; i > 0; i--) {
		uint32_t j = (i * 2654435761u) % (i + 1);
		uint16_t t = d->free_ids[i];

		d->free_ids[i] = d->free_ids[j];
		d->free_ids[j] = t;
	}
	return 0;
}

/* Id lists, chain records and the dirty log, for either layout. */
static int
alloc_tracking(struct vtd *d)
{
	const struct vtd_opts *o = &d->o;

	d->free_ids = calloc(o->size, sizeof(*d->free_ids));
	d->ndesc = calloc(o->size, sizeof(*d->ndesc));
	d->chains = calloc(o->size, sizeof(*d->chains));
	d->fifo = calloc(o->size, sizeof(*d->fifo));
	if (d->free_ids == NULL || d->ndesc == NULL || d->chains == NULL ||
	    d->fifo == NULL)
		return -ENOMEM;
	for (int i = 0; i < o->size; i++)
		d->free_ids[i] = o->size - 1 - i;
	d->nfree = o->size;

	if (o->log) {
		uint64_t pages = vtd_mem_end(d) / PAGE;

		d->log.size = (pages + 7) / 8;
		d->log.base = calloc(1, d->log.size);
		if (d->log.base == NULL)
			return -ENOMEM;
	}
	return 0;
}

int
vtd_init(struct vtd *d, const struct vtd_opts *o, uint16_t base)
{
	uint64_t half, ring_end;

	memset(d, 0, sizeof(*d));
	d->o = *o;
	d->gpa_base = o->gpa_base != 0 ? o->gpa_base : VTD_GPA_BASE;
	d->size = o->size;
	d->memfd = memfd_create(VTD_MEMFD_NAME, 0);
	if (d->memfd < 0 || ftruncate(d->memfd, o->mem_size) != 0)
		return -errno;
	d->drv = map_at_any(d->memfd, o->mem_size, 0);
	if (d->drv == NULL)
		return -errno;

	if (o->nregions == 2) {
		uint8_t *resv;

		half = o->mem_size / 2;
		/*
		 * Reserve room for both halves with a one-page hole between
		 * them, so the device's two regions are never one contiguous
		 * host range and a crossing buffer must be split.
		 */
		resv = mmap(NULL, o->mem_size + PAGE, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (resv == MAP_FAILED)
			return -errno;
		d->dev_map[0] = resv;
		d->dev_len[0] = o->mem_size + PAGE;
		if (mmap(resv, half, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, d->memfd, 0) == MAP_FAILED ||
		    mmap(resv + half + PAGE, half, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, d->memfd, half) == MAP_FAILED)
			return -errno;
		d->mem.nregions = 2;
		for (int i = 0; i < 2; i++) {
			d->mem.r[i].gpa = d->gpa_base + i * half;
			d->mem.r[i].size = half;
			d->mem.r[i].qva = QVA_BASE + i * QVA_GAP;
			d->mem.r[i].hva = resv + i * (half + PAGE);
		}
	} else {
		if (o->alias) {
			d->dev_map[0] = map_at_any(d->memfd, o->mem_size, 0);
			if (d->dev_map[0] == NULL)
				return -errno;
			d->dev_len[0] = o->mem_size;
		}
		d->mem.nregions = 1;
		d->mem.r[0].gpa = d->gpa_base;
		d->mem.r[0].size = o->mem_size;
		d->mem.r[0].qva = QVA_BASE;
		d->mem.r[0].hva = o->alias ? d->dev_map[0] : (void *)d->drv;
	}

	if (o->packed)
		return packed_init(d, base);
	/* virtio 1.2 §2.7: desc 16-aligned, avail 2, used 4 (we page it) */
	d->desc_gpa = d->gpa_base;
	d->avail_gpa = d->desc_gpa + 16ull * o->size;
	d->used_gpa = round_up(d->avail_gpa + 6 + 2ull * o->size, PAGE);
	ring_end = round_up(d->used_gpa + 6 + 8ull * o->size, PAGE);
	d->desc = (struct vring_desc *)vtd_ptr(d, d->desc_gpa);
	d->avail = (struct vring_avail *)vtd_ptr(d, d->avail_gpa);
	d->used = (struct vring_used *)vtd_ptr(d, d->used_gpa);
	d->avail->idx = base;
	d->used->idx = base;
	d->avail_idx = base;
	d->last_used = base;
	d->next_desc = base & (o->size - 1);

	d->buf_lo = ring_end;
	d->buf_hi = vtd_mem_end(d);
	d->buf_next = d->buf_lo;
	return alloc_tracking(d);
}

void
vtd_fini(struct vtd *d)
{
	for (int i = 0; i < 2; i++)
		if (d->dev_map[i] != NULL)
			munmap(d->dev_map[i], d->dev_len[i]);
	if (d->drv != NULL)
		munmap(d->drv, d->o.mem_size);
	if (d->memfd >= 0)
		close(d->memfd);
	free(d->free_ids);
	free(d->ndesc);
	free(d->chains);
	free(d->fifo);
	free(d->pending_slot);
	free(d->pending_flags);
	free(d->log.base);
	memset(d, 0, sizeof(*d));
	d->memfd = -1;
}

uint64_t
vtd_alloc(struct vtd *d, uint32_t len, uint32_t align)
{
	uint64_t g = round_up(d->buf_next, align);

	if (g + len > d->buf_hi)
		g = round_up(d->buf_lo, align);
	d->buf_next = g + len;
	return g;
}

/* Split: a free table entry; in_order, the next one in table order. */
static uint16_t
take_desc(struct vtd *d)
{
	uint16_t x;

	if (!d->o.in_order)
		return d->free_ids[--d->nfree];
	d->nfree--;
	x = d->next_desc;
	d->next_desc = (uint16_t)((x + 1) & (d->size - 1));
	return x;
}

static void
fifo_push(struct vtd *d, uint16_t id)
{
	if (d->o.in_order && d->fifo_n < d->size)
		d->fifo[(d->fifo_head + d->fifo_n++) % d->size] = id;
}

/* Position of id among the outstanding buffers from from on, or -1. */
static int
fifo_find(const struct vtd *d, uint16_t id, uint16_t from)
{
	for (uint16_t k = from; k < d->fifo_n; k++)
		if (d->fifo[(d->fifo_head + k) % d->size] == id)
			return k;
	return -1;
}

static uint16_t
fifo_pop(struct vtd *d)
{
	uint16_t id = d->fifo[d->fifo_head];

	d->fifo_head = (uint16_t)((d->fifo_head + 1) % d->size);
	d->fifo_n--;
	return id;
}

static void
push_avail(struct vtd *d, uint16_t head)
{
	d->avail->ring[d->avail_idx & (d->size - 1)] = head;
	d->avail_idx++;
}

uint16_t
vtd_pavail_bits(bool wrap)
{
	/* virtio 1.2 §2.8.1: AVAIL = wrap counter, USED = its inverse */
	return wrap ? 1u << VRING_PACKED_DESC_F_AVAIL :
		      1u << VRING_PACKED_DESC_F_USED;
}

static void
pslot_next(uint16_t *slot, bool *wrap, uint16_t size)
{
	if (++*slot == size) {
		*slot = 0;
		*wrap = !*wrap;
	}
}

/* VRING_DESC_F_WRITE for buffer i when bit i of wmask is set. */
#define WFLAG(wmask, i) \
	((uint16_t)(((wmask) >> (i)) & 1 ? VRING_DESC_F_WRITE : 0))

/*
 * Packed add (virtio 1.2 §2.8.21): the chain in consecutive slots, the id
 * in every descriptor (the device reads the last one's), all flags but
 * the head's written now; the head's wait for vtd_publish().
 */
static int
packed_add(struct vtd *d, const struct vtd_buf *b, int n, uint64_t wmask,
	   bool indirect)
{
	int need = indirect ? 1 : n;
	uint16_t id;

	if (d->pfree < need || d->nfree < 1)
		return -1;
	id = d->free_ids[--d->nfree];
	if (indirect) {
		uint64_t tgpa = vtd_alloc(d, 16 * n, 16);
		struct vring_packed_desc *t =
			(struct vring_packed_desc *)vtd_ptr(d, tgpa);
		struct vring_packed_desc *x = &d->pdesc[d->pavail];

		/* §2.8.7: WRITE is the only flag that counts in a table */
		for (int i = 0; i < n; i++) {
			t[i].addr = b[i].gpa;
			t[i].len = b[i].len;
			t[i].id = 0;
			t[i].flags = WFLAG(wmask, i);
		}
		x->addr = tgpa;
		x->len = 16 * n;
		x->id = id;
		d->pending_slot[d->npending] = d->pavail;
		d->pending_flags[d->npending++] = VRING_DESC_F_INDIRECT |
						  vtd_pavail_bits(d->avail_wrap);
		pslot_next(&d->pavail, &d->avail_wrap, d->size);
	} else {
		for (int i = 0; i < n; i++) {
			struct vring_packed_desc *x = &d->pdesc[d->pavail];
			uint16_t f = WFLAG(wmask, i) |
				     vtd_pavail_bits(d->avail_wrap) |
				     (i + 1 < n ? VRING_DESC_F_NEXT : 0);

			x->addr = b[i].gpa;
			x->len = b[i].len;
			x->id = id;
			if (i == 0) {
				d->pending_slot[d->npending] = d->pavail;
				d->pending_flags[d->npending++] = f;
			} else {
				x->flags = f;
			}
			pslot_next(&d->pavail, &d->avail_wrap, d->size);
		}
	}
	d->pfree -= need;
	d->ndesc[id] = need;
	fifo_push(d, id);
	d->chains[id].n = n;
	memcpy(d->chains[id].b, b, n * sizeof(*b));
	return id;
}

int
vtd_add(struct vtd *d, const struct vtd_buf *b, int n, bool write,
	bool indirect)
{
	return vtd_add_mixed(d, b, n, write ? UINT64_MAX : 0, indirect);
}

int
vtd_add_mixed(struct vtd *d, const struct vtd_buf *b, int n, uint64_t wmask,
	      bool indirect)
{
	uint16_t head;

	if (n < 1 || n > VTD_MAX_BUFS)
		return -1;
	if (d->o.packed)
		return packed_add(d, b, n, wmask, indirect);
	if (indirect) {
		uint64_t tgpa = vtd_alloc(d, 16 * n, 16);
		struct vring_desc *t = (struct vring_desc *)vtd_ptr(d, tgpa);

		if (d->nfree < 1)
			return -1;
		for (int i = 0; i < n; i++) {
			t[i].addr = b[i].gpa;
			t[i].len = b[i].len;
			t[i].flags = WFLAG(wmask, i) |
				     (i + 1 < n ? VRING_DESC_F_NEXT : 0);
			t[i].next = i + 1 < n ? i + 1 : 0;
		}
		head = take_desc(d);
		d->desc[head].addr = tgpa;
		d->desc[head].len = 16 * n;
		d->desc[head].flags = VRING_DESC_F_INDIRECT;
		d->desc[head].next = 0;
		d->ndesc[head] = 1;
	} else {
		uint16_t ids[VTD_MAX_BUFS];

		if (d->nfree < n)
			return -1;
		for (int i = 0; i < n; i++)
			ids[i] = take_desc(d);
		for (int i = 0; i < n; i++) {
			struct vring_desc *x = &d->desc[ids[i]];

			x->addr = b[i].gpa;
			x->len = b[i].len;
			x->flags = WFLAG(wmask, i) |
				   (i + 1 < n ? VRING_DESC_F_NEXT : 0);
			x->next = i + 1 < n ? ids[i + 1] : 0;
		}
		head = ids[0];
		d->ndesc[head] = n;
	}
	d->chains[head].n = n;
	memcpy(d->chains[head].b, b, n * sizeof(*b));
	fifo_push(d, head);
	push_avail(d, head);
	return head;
}

void
vtd_add_raw_head(struct vtd *d, uint16_t head)
{
	push_avail(d, head);
}

void
vtd_set_avail_idx(struct vtd *d, uint16_t idx)
{
	vhu_atomic_store_u16(&d->avail->idx, idx, memory_order_release);
}

void
vtd_publish(struct vtd *d)
{
	if (d->o.packed) {
		/* each head last, release: pairs with the device's A4 */
		for (uint16_t i = 0; i < d->npending; i++)
			vhu_atomic_store_u16(&d->pdesc[d->pending_slot[i]].flags,
					     d->pending_flags[i],
					     memory_order_release);
		d->npending = 0;
		return;
	}
	/* the driver's write barrier before avail->idx (pairs with A3) */
	vtd_set_avail_idx(d, d->avail_idx);
}

int
vtd_post_tx(struct vtd *d, const uint8_t *frame, uint32_t len,
	    uint16_t hdr_len, int nbufs, bool indirect)
{
	struct vtd_buf b[VTD_MAX_BUFS];
	uint32_t total = hdr_len + len;
	uint8_t *all = calloc(1, total);
	uint32_t off = 0;
	int n;

	if (all == NULL)
		return -1;
	memcpy(all + hdr_len, frame, len);
	if (nbufs == 2) {
		b[0].len = hdr_len;
		b[1].len = len;
		n = len > 0 ? 2 : 1;
	} else {
		if (nbufs < 1)
			nbufs = 1;
		if ((uint32_t)nbufs > total)
			nbufs = total;
		n = nbufs;
		for (int i = 0; i < n; i++)
			b[i].len = total / n + (i < (int)(total % n) ? 1 : 0);
	}
	for (int i = 0; i < n; i++) {
		/* odd alignment on purpose: copies must not assume any */
		b[i].gpa = vtd_alloc(d, b[i].len, 1);
		memcpy(vtd_ptr(d, b[i].gpa), all + off, b[i].len);
		off += b[i].len;
	}
	free(all);
	return vtd_add(d, b, n, false, indirect);
}

int
vtd_post_rx(struct vtd *d, const uint32_t *lens, int n, bool indirect)
{
	struct vtd_buf b[VTD_MAX_BUFS];

	if (n > VTD_MAX_BUFS)
		return -1;
	for (int i = 0; i < n; i++) {
		b[i].len = lens[i];
		b[i].gpa = vtd_alloc(d, lens[i], 8);
		memset(vtd_ptr(d, b[i].gpa), 0xA5, lens[i]);
	}
	return vtd_add(d, b, n, true, indirect);
}

/* Packed: is slot s used in lap w (§2.8.1: both bits equal w)? */
static bool
packed_is_used(struct vtd *d, uint16_t s, bool w)
{
	uint16_t f = vhu_atomic_load_u16(&d->pdesc[s].flags,
					 memory_order_acquire);

	return !!(f & (1u << VRING_PACKED_DESC_F_AVAIL)) == w &&
	       !!(f & (1u << VRING_PACKED_DESC_F_USED)) == w;
}

/* Step a packed slot by n; false if the used id is not one we gave. */
static bool
packed_skip(struct vtd *d, uint16_t *s, bool *w, uint16_t id)
{
	if (id >= d->size || d->ndesc[id] == 0)
		return false;
	for (uint16_t k = 0; k < d->ndesc[id]; k++)
		pslot_next(s, w, d->size);
	return true;
}

/* in_order: buffers used but not yet returned (see vtd_get_used). */
static uint16_t
inorder_pending(struct vtd *d)
{
	uint16_t n = d->batch_left, off = d->batch_left;
	uint16_t s = d->pused;
	bool w = d->used_wrap;

	if (!d->o.packed)
		return n + (uint16_t)(vhu_atomic_load_u16(&d->used->idx,
					memory_order_acquire) - d->last_used);
	while (n < d->size && packed_is_used(d, s, w)) {
		int k = fifo_find(d, d->pdesc[s].id, off);

		if (k < 0)
			break;
		for (int j = off; j <= k; j++)
			for (uint16_t x = 0;
			     x < d->ndesc[d->fifo[(d->fifo_head + j) % d->size]];
			     x++)
				pslot_next(&s, &w, d->size);
		n += k - off + 1;
		off = k + 1;
	}
	return n;
}

/* in_order: start a batch from the next used entry; false if none. */
static bool
inorder_read_entry(struct vtd *d, uint32_t *id, uint32_t *len)
{
	uint16_t pending = 0;
	int k;

	if (d->o.packed) {
		uint16_t s = d->pused;

		if (!packed_is_used(d, s, d->used_wrap))
			return false;
		*id = d->pdesc[s].id;
		*len = d->pdesc[s].len;
	} else {
		struct vring_used_elem *e;

		pending = (uint16_t)(vhu_atomic_load_u16(&d->used->idx,
					memory_order_acquire) - d->last_used);
		if (pending == 0)
			return false;
		e = &d->used->ring[d->last_used & (d->size - 1)];
		*id = e->id;
		*len = e->len;
	}
	d->used_entries++;
	k = *id <= UINT16_MAX ? fifo_find(d, (uint16_t)*id, 0) : -1;
	if (k < 0 || (!d->o.packed && k + 1 > pending)) {
		/* not outstanding, or a batch longer than used->idx moved */
		d->order_error = true;
		if (d->o.packed)
			pslot_next(&d->pused, &d->used_wrap, d->size);
		else
			d->last_used++;
		return true;
	}
	d->batch_left = (uint16_t)(k + 1);
	d->batch_len = *len;
	/* the whole batch's slots are consumed now, as a driver would */
	if (d->o.packed) {
		for (int j = 0; j <= k; j++) {
			uint16_t b = d->fifo[(d->fifo_head + j) % d->size];

			for (uint16_t x = 0; x < d->ndesc[b]; x++)
				pslot_next(&d->pused, &d->used_wrap, d->size);
		}
	} else {
		d->last_used += k + 1;
	}
	return true;
}

static bool
inorder_get_used(struct vtd *d, uint32_t *id, uint32_t *len)
{
	uint16_t b;

	if (d->batch_left == 0) {
		if (!inorder_read_entry(d, id, len))
			return false;
		if (d->batch_left == 0)
			return true; /* order_error: returned as read */
	}
	b = fifo_pop(d);
	*id = b;
	*len = d->batch_left == 1 ? d->batch_len : 0;
	d->batch_left--;
	if (d->o.packed) {
		d->pfree += d->ndesc[b];
		d->free_ids[d->nfree++] = b;
	} else {
		d->nfree += d->ndesc[b];
	}
	d->ndesc[b] = 0;
	return true;
}

uint16_t
vtd_used_pending(struct vtd *d)
{
	if (d->o.in_order)
		return inorder_pending(d);
	if (d->o.packed) {
		uint16_t s = d->pused, n = 0;
		bool w = d->used_wrap;

		while (n < d->size && packed_is_used(d, s, w)) {
			n++;
			if (!packed_skip(d, &s, &w, d->pdesc[s].id))
				break;
		}
		return n;
	}
	return (uint16_t)(vhu_atomic_load_u16(&d->used->idx,
					      memory_order_acquire) -
			  d->last_used);
}

bool
vtd_get_used(struct vtd *d, uint32_t *id, uint32_t *len)
{
	struct vring_used_elem *e;

	if (d->o.in_order)
		return inorder_get_used(d, id, len);
	if (d->o.packed) {
		uint16_t s = d->pused;

		/* acquire in packed_is_used pairs with the device's R4 */
		if (!packed_is_used(d, s, d->used_wrap))
			return false;
		*id = d->pdesc[s].id;
		*len = d->pdesc[s].len;
		if (packed_skip(d, &d->pused, &d->used_wrap, *id)) {
			d->pfree += d->ndesc[*id];
			d->ndesc[*id] = 0;
			d->free_ids[d->nfree++] = *id;
		} else {
			pslot_next(&d->pused, &d->used_wrap, d->size);
		}
		return true;
	}
	/* the driver's read barrier after used->idx (pairs with R3) */
	if (vtd_used_pending(d) == 0)
		return false;
	e = &d->used->ring[d->last_used & (d->size - 1)];
	*id = e->id;
	*len = e->len;
	d->last_used++;
	if (*id < d->size) {
		uint16_t cur = *id;

		for (int k = 0; k < d->ndesc[*id]; k++) {
			d->free_ids[d->nfree++] = cur;
			cur = d->desc[cur].next;
		}
		d->ndesc[*id] = 0;
	}
	return true;
}

void
vtd_gather(struct vtd *d, uint16_t head, uint8_t *out, uint32_t len)
{
	const struct vtd_chain *c = &d->chains[head];

	for (int i = 0; i < c->n && len > 0; i++) {
		uint32_t n = c->b[i].len < len ? c->b[i].len : len;

		memcpy(out, vtd_ptr(d, c->b[i].gpa), n);
		out += n;
		len -= n;
	}
}

void
vtd_set_no_interrupt(struct vtd *d, bool on)
{
	if (d->o.packed) {
		d->drv_event->flags = on ? VRING_PACKED_EVENT_FLAG_DISABLE :
					   VRING_PACKED_EVENT_FLAG_ENABLE;
		atomic_thread_fence(memory_order_seq_cst);
		return;
	}
	d->avail->flags = on ? VRING_AVAIL_F_NO_INTERRUPT : 0;
	atomic_thread_fence(memory_order_seq_cst);
}

void
vtd_set_used_event(struct vtd *d, uint16_t idx)
{
	if (d->o.packed) {
		d->drv_event->off_wrap = idx;
		d->drv_event->flags = VRING_PACKED_EVENT_FLAG_DESC;
		atomic_thread_fence(memory_order_seq_cst);
		return;
	}
	d->avail->ring[d->size] = idx;
	atomic_thread_fence(memory_order_seq_cst);
}

uint16_t
vtd_avail_event(struct vtd *d)
{
	if (d->o.packed)
		return *(volatile uint16_t *)&d->dev_event->off_wrap;
	/* avail_event follows the used ring's last entry */
	return *(volatile uint16_t *)((uint8_t *)d->used +
				      offsetof(struct vring_used, ring) +
				      8ull * d->size);
}

uint16_t
vtd_used_flags(struct vtd *d)
{
	if (d->o.packed)
		return *(volatile uint16_t *)&d->dev_event->flags;
	return *(volatile uint16_t *)&d->used->flags;
}

bool
vtd_log_test(const struct vtd *d, uint64_t gpa)
{
	uint64_t page = gpa / PAGE;

	return (d->log.base[page / 8] >> (page % 8)) & 1;
}

uint64_t
vtd_log_count(const struct vtd *d)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < d->log.size; i++)
		n += __builtin_popcount(d->log.base[i]);
	return n;
}

void
vtd_log_clear(struct vtd *d)
{
	memset(d->log.base, 0, d->log.size);
}

struct vhu_vq *
vtd_make_vq(struct vtd *d, uint16_t index, uint64_t features, uint16_t base,
	    int callfd, bool log_used)
{
	struct vhost_vring_addr a;
	struct vhu_vq *vq;

	vq = vhu_vq_create(0, index, SOCKET_ID_ANY, &d->mem, &d->log);
	if (vq == NULL)
		return NULL;
	memset(&a, 0, sizeof(a));
	a.index = index;
	a.flags = log_used ? 1u << VHOST_VRING_F_LOG : 0;
	a.desc_user_addr = vtd_qva(d, d->desc_gpa);
	a.avail_user_addr = vtd_qva(d, d->avail_gpa);
	a.used_user_addr = vtd_qva(d, d->used_gpa);
	a.log_guest_addr = d->used_gpa;
	vhu_vq_quiesce(vq);
	/* first, as frontends do: num and base depend on the layout */
	vhu_vq_set_features_locked(vq, features);
	if (vhu_vq_set_num_locked(vq, d->size) != 0 ||
	    vhu_vq_set_addr_locked(vq, &a) != 0 ||
	    vhu_vq_set_base_locked(vq, d->o.packed ?
				   (uint32_t)base | (uint32_t)base << 16 :
				   base) != 0) {
		vhu_vq_resume(vq);
		vhu_vq_destroy(vq);
		return NULL;
	}
	vhu_vq_set_kick_locked(vq, -1);
	/* the queue owns what it is given: keep our own counter handle */
	vhu_vq_set_call_locked(vq, callfd >= 0 ? dup(callfd) : -1);
	vhu_vq_set_enabled_locked(vq, true);
	vhu_vq_set_running_locked(vq, true);
	vhu_vq_resume(vq);
	return vq;
}

int
vtd_eal_init(void)
{
	static int done;
	char prefix[64];
	char *argv[] = {
		"vhu-unit", "--no-huge", "-m", "256", "--no-pci",
		/*
		 * --in-memory would be the natural choice, but DPDK 22.11
		 * treats --no-huge as legacy memory, which it refuses to
		 * combine with --in-memory; a private prefix without shared
		 * config gives the same isolation between parallel suites.
		 */
		"--no-shconf", "--no-telemetry", prefix,
		"--log-level=lib.vhu.*:notice", "--log-level=lib.eal:error",
		NULL,
	};

	if (done)
		return 0;
	snprintf(prefix, sizeof(prefix), "--file-prefix=vhu-unit-%d",
		 (int)getpid());
	if (rte_eal_init(RTE_DIM(argv) - 1, argv) < 0)
		return -1;
	vhu_test_eal_tidy_at_exit();
	done = 1;
	return 0;
}

uint64_t
vtd_eventfd_take(int fd)
{
	eventfd_t v = 0;

	if (eventfd_read(fd, &v) != 0)
		return 0;
	return v;
}
