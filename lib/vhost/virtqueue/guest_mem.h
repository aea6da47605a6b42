/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest memory table and address translation. The table is built and
 * mapped by the protocol layer (protocol/mem.c); this header only reads it,
 * on the data path, while the queue is entered (see vq.h), so the table can
 * never change under a translation.
 *
 * Addresses in descriptors are guest-physical (GPA); ring addresses given
 * by SET_VRING_ADDR are frontend-virtual (QVA). Both translate to a host
 * virtual address (HVA) inside one region; a length that runs past the end
 * of its region is clipped, and callers continue at the next address, so a
 * buffer that straddles two regions is handled in pieces.
 *
 * With VIRTIO_F_ACCESS_PLATFORM (vIOMMU) the same table type holds the
 * IOTLB's view instead: "gpa" is then an I/O virtual address (IOVA) and
 * each entry is one IOTLB mapping clipped to one memory region
 * (protocol/iotlb.c builds one such table per access direction), so the
 * data path translates IOVAs with the very same code.
 */
#ifndef VHU_GUEST_MEM_H
#define VHU_GUEST_MEM_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include <rte_branch_prediction.h>

#include "vhu_config.h"

/* One guest memory region as announced by SET_MEM_TABLE / ADD_MEM_REG. */
struct vhu_mem_region {
	uint64_t gpa;     /* guest-physical start */
	uint64_t size;    /* bytes; gpa + size and qva + size never overflow */
	uint64_t qva;     /* frontend-virtual start */
	uint8_t *hva;     /* our mapping of gpa */
	/* bookkeeping for unmap and ADD_MEM_REG, control path only */
	void *map_addr;
	size_t map_len;
	uint64_t mmap_offset;
	uint64_t backing_dev; /* st_dev and st_ino of the fd mapped: two */
	uint64_t backing_ino; /* adds of one region name the same file */
	uint32_t refs;        /* identical ADD_MEM_REGs holding it */
	/* 16 bits: the entry stays 80 bytes, the data path walks the table */
	int16_t numa_node;    /* host NUMA node of its pages, -1: unknown */
	bool hugetlb;         /* on hugetlbfs (mincore sees only our PTEs) */
};

/*
 * IOTLB entries a device keeps (protocol/iotlb.c). QEMU maps per IOMMU page
 * (4 KiB for a strict-mode Linux guest), so this is 8 MiB of guest DMA
 * space in 4 KiB pages; when full the oldest entry not holding a ring is
 * dropped and comes back through a miss if it is used again.
 */
#define VHU_IOTLB_MAX 2048

/* Entries a table can hold: memory slots, or IOTLB ranges. */
#define VHU_GUEST_MEM_CAP (VHU_MAX_MEM_SLOTS > VHU_IOTLB_MAX ? \
			   VHU_MAX_MEM_SLOTS : VHU_IOTLB_MAX)

/* Regions sorted by gpa, non-overlapping in gpa. */
struct vhu_guest_mem {
	uint32_t nregions;
	struct vhu_mem_region r[VHU_GUEST_MEM_CAP];
};

/*
 * Translate [gpa, gpa + *len) to a host pointer. On success *len is clipped
 * to what is contiguous in the region holding gpa. *hint remembers the last
 * region hit (one per queue, so lcores do not share a written line).
 * Returns NULL when gpa is in no region.
 */
static inline uint8_t *
vhu_gpa_to_hva(const struct vhu_guest_mem *m, uint32_t *hint, uint64_t gpa,
	       uint64_t *len)
{
	const struct vhu_mem_region *r;
	uint32_t lo, hi;

	if (likely(*hint < m->nregions)) {
		r = &m->r[*hint];
		/* unsigned wrap makes gpa below r->gpa fail too */
		if (likely(gpa - r->gpa < r->size))
			goto hit;
	}
	lo = 0;
	hi = m->nregions;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		r = &m->r[mid];
		if (gpa < r->gpa) {
			hi = mid;
		} else if (gpa - r->gpa >= r->size) {
			lo = mid + 1;
		} else {
			*hint = mid;
			goto hit;
		}
	}
	return NULL;
hit:
	{
		uint64_t off = gpa - r->gpa;
		uint64_t room = r->size - off;

		if (*len > room)
			*len = room;
		return r->hva + off;
	}
}

/*
 * Translate a frontend-virtual range that must be contiguous in one region
 * (rings). Returns NULL unless all of [qva, qva + len) is in one region.
 * Control path only: a linear scan is fine.
 */
static inline uint8_t *
vhu_qva_to_hva(const struct vhu_guest_mem *m, uint64_t qva, uint64_t len)
{
	for (uint32_t i = 0; i < m->nregions; i++) {
		const struct vhu_mem_region *r = &m->r[i];
		uint64_t off = qva - r->qva;

		if (off < r->size && len <= r->size - off)
			return r->hva + off;
	}
	return NULL;
}

/*
 * Translate a guest-physical range that must be contiguous in one region
 * (indirect descriptor tables, ring log addresses). NULL otherwise.
 */
static inline uint8_t *
vhu_gpa_to_hva_whole(const struct vhu_guest_mem *m, uint32_t *hint,
		     uint64_t gpa, uint64_t len)
{
	uint64_t got = len;
	uint8_t *p = vhu_gpa_to_hva(m, hint, gpa, &got);

	return (p != NULL && got == len) ? p : NULL;
}

#endif /* VHU_GUEST_MEM_H */
