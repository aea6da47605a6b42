/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test-only driver side of a split or packed virtqueue: plays the guest for the
 * virtqueue unit suites. Guest memory is a memfd; the device sees it
 * through a hand-built region table (optionally two regions whose host
 * mappings are not adjacent, and optionally through a second mapping of
 * the same memfd so driver and device never share a pointer), while the
 * driver writes rings and buffers through its own mapping. It posts
 * transmit and receive chains (direct, chained, indirect), publishes avail
 * entries, reads used entries back, sets notification fields, and exposes
 * the raw ring so suites can write malformed entries. A dirty-log bitmap
 * can be attached to the memory. With vtd_opts.packed the same calls drive
 * a packed ring (virtio 1.2 §2.8): "heads" are then buffer ids, handed
 * out in a scrambled order so the device must echo them, not guess them;
 * a base passed to vtd_init() is the slot | wrap counter << 15.
 * With vtd_opts.in_order the driver behaves as VIRTIO_F_IN_ORDER asks
 * (virtio 1.2 "In-order use of descriptors"): split descriptors are taken
 * in table order, and a used entry may report a batch: it names the last
 * buffer of the batch, every older outstanding buffer is used with it
 * (length 0: only the named one carries a length). vtd_get_used() then
 * returns the batch's buffers one at a time, oldest first, and counts
 * the used entries it actually read in used_entries.
 */
#ifndef VIRTQ_DRIVER_H
#define VIRTQ_DRIVER_H

/* Name of the guest-memory memfd (tests count its mappings by it). */
#define VTD_MEMFD_NAME "vtd-guest"

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

#include "vq.h"

#define VTD_GPA_BASE 0x100000ull     /* guest memory starts at 1 MiB */
#define VTD_MAX_BUFS 64              /* buffers per chain the driver tracks */

struct vtd_opts {
	uint16_t size;       /* ring size */
	uint64_t mem_size;   /* guest memory bytes (multiple of 2 pages) */
	int nregions;        /* 1, or 2 (split in the middle) */
	bool alias;          /* device maps the memfd separately */
	bool log;            /* attach a dirty-log bitmap */
	bool packed;         /* packed layout (ring size need not be 2^n) */
	bool in_order;       /* VIRTIO_F_IN_ORDER driver (see above) */
	uint64_t gpa_base;   /* first guest-physical address; 0: VTD_GPA_BASE
			      * (several rings then share one guest) */
};

struct vtd_buf {
	uint64_t gpa;
	uint32_t len;
};

struct vtd_chain {
	int n;
	struct vtd_buf b[VTD_MAX_BUFS];
};

struct vtd {
	struct vtd_opts o;
	uint64_t gpa_base;            /* o.gpa_base or VTD_GPA_BASE */
	int memfd;
	uint8_t *drv;                 /* driver's mapping of all memory */
	void *dev_map[2];             /* device mappings (may equal drv) */
	size_t dev_len[2];
	struct vhu_guest_mem mem;
	struct vhu_dirty_log log;

	uint16_t size;
	struct vring_desc *desc;      /* driver view */
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t desc_gpa, avail_gpa, used_gpa;

	uint16_t avail_idx;           /* next avail slot the driver fills */
	uint16_t last_used;           /* next used entry the driver reads */
	uint16_t *free_ids;
	uint16_t nfree;
	uint16_t *ndesc;              /* per head: table entries it took */
	struct vtd_chain *chains;     /* per head: its buffers */

	uint64_t buf_lo, buf_hi, buf_next; /* buffer area (gpa) */

	/* packed layout: desc/avail/used_gpa name ring, driver, device area */
	struct vring_packed_desc *pdesc;
	struct vring_packed_desc_event *drv_event; /* driver writes */
	struct vring_packed_desc_event *dev_event; /* device writes */
	uint16_t pavail;              /* next slot the driver fills */
	bool avail_wrap;              /* its wrap counter */
	uint16_t pused;               /* next slot the driver reads used */
	bool used_wrap;
	uint16_t pfree;               /* ring slots not in flight */
	uint16_t npending;            /* heads written, flags not yet */
	uint16_t *pending_slot, *pending_flags;

	/* in_order: outstanding buffers, oldest first, and the batch read */
	uint16_t *fifo;
	uint16_t fifo_head, fifo_n;
	uint16_t next_desc;           /* split: next table entry to take */
	uint16_t batch_left;          /* buffers of the batch not returned */
	uint32_t batch_len;           /* length the batch's entry carried */
	uint64_t used_entries;        /* used entries read (in_order) */
	bool order_error;             /* a used id was not outstanding */
};

/* Map memory and lay out an empty ring at index base. 0 or -errno. */
int vtd_init(struct vtd *d, const struct vtd_opts *o, uint16_t base);
void vtd_fini(struct vtd *d);

/* Address helpers. */
uint8_t *vtd_ptr(struct vtd *d, uint64_t gpa);
uint64_t vtd_qva(const struct vtd *d, uint64_t gpa);
uint64_t vtd_mem_end(const struct vtd *d); /* first gpa past memory */
uint64_t vtd_region_split(const struct vtd *d); /* gpa of region 1 */

/* Bump-allocate len bytes of buffer space (wraps; align power of 2). */
uint64_t vtd_alloc(struct vtd *d, uint32_t len, uint32_t align);

/*
 * Add a chain of buffers (all device-writable if write, else readable),
 * through an indirect table if indirect, and put its head in the next
 * avail slot (not yet published). Returns the head or -1 if the table is
 * full.
 */
int vtd_add(struct vtd *d, const struct vtd_buf *b, int n, bool write,
	    bool indirect);
/*
 * The same with a device-writable flag per buffer: bit i of wmask set
 * makes buffer i writable (control virtqueue chains mix both).
 */
int vtd_add_mixed(struct vtd *d, const struct vtd_buf *b, int n,
		  uint64_t wmask, bool indirect);
/* Put a raw head value in the next avail slot. */
void vtd_add_raw_head(struct vtd *d, uint16_t head);
/* Store avail->idx (release): the device may now see the new entries. */
void vtd_publish(struct vtd *d);
/* Store an arbitrary avail->idx. */
void vtd_set_avail_idx(struct vtd *d, uint16_t idx);

/*
 * Post a transmit frame: hdr_len zero bytes and the frame, split over
 * nbufs buffers (1 = header and frame together; 2 = header alone then the
 * frame; more = the frame cut into roughly equal parts). Returns the head.
 */
int vtd_post_tx(struct vtd *d, const uint8_t *frame, uint32_t len,
		uint16_t hdr_len, int nbufs, bool indirect);
/* Post a receive chain of n buffers of the given lengths, poisoned 0xA5. */
int vtd_post_rx(struct vtd *d, const uint32_t *lens, int n, bool indirect);

/* Used entries the device published and the driver has not read. */
uint16_t vtd_used_pending(struct vtd *d);
/*
 * Read one used entry and free its descriptors; false if none. in_order:
 * one buffer of the current batch (see above); an id that is not
 * outstanding sets order_error and is returned as read.
 */
bool vtd_get_used(struct vtd *d, uint32_t *id, uint32_t *len);
/* Copy the first len bytes a chain's buffers hold into out. */
void vtd_gather(struct vtd *d, uint16_t head, uint8_t *out, uint32_t len);

/*
 * Notification fields. Packed: no_interrupt is the driver area's DISABLE
 * (off: ENABLE), used_event its DESC with off_wrap = idx, avail_event and
 * used_flags read the device area's off_wrap and flags.
 */
void vtd_set_no_interrupt(struct vtd *d, bool on);
void vtd_set_used_event(struct vtd *d, uint16_t idx);
uint16_t vtd_avail_event(struct vtd *d);
uint16_t vtd_used_flags(struct vtd *d);

/* Packed: AVAIL/USED bits that make a descriptor available in lap wrap. */
uint16_t vtd_pavail_bits(bool wrap);

/* Dirty log: whether page of gpa is marked; count of marked bits. */
bool vtd_log_test(const struct vtd *d, uint64_t gpa);
uint64_t vtd_log_count(const struct vtd *d);
void vtd_log_clear(struct vtd *d);

/*
 * A queue over this ring, configured as the protocol layer would: num,
 * addr (with VHOST_VRING_F_LOG when log_used), base, kick (polling),
 * call (callfd, may be -1), features, enabled and running; resumed.
 */
struct vhu_vq *vtd_make_vq(struct vtd *d, uint16_t index, uint64_t features,
			   uint16_t base, int callfd, bool log_used);

/* rte_eal_init with the unit-test arguments (once per process). */
int vtd_eal_init(void);

/* Read and reset an eventfd counter (non-blocking): 0 if not signalled. */
uint64_t vtd_eventfd_take(int fd);

#endif /* VIRTQ_DRIVER_H */
