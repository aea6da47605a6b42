/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Dirty-page logging for live migration (VHOST_F_LOG_ALL). The frontend
 * shares a bitmap (SET_LOG_BASE) with one bit per 4 KiB guest-physical
 * page; every byte the backend writes into guest memory must set its
 * page's bit before the frontend can consider the page clean. All writes
 * go through vhu_log_write() so there is exactly one place to get right.
 */
#ifndef VHU_DIRTY_LOG_H
#define VHU_DIRTY_LOG_H

#include <stdint.h>

#include <rte_branch_prediction.h>

#include "vhu_atomic.h"

#define VHU_LOG_PAGE_SHIFT 12 /* vhost-user spec: "log granularity 4k" */

struct vhu_dirty_log {
	uint8_t *base;  /* NULL: no log installed */
	uint64_t size;  /* bytes of bitmap */
	/* bookkeeping for unmap, control path only */
	void *map_addr;
	size_t map_len;
};

/*
 * Mark [gpa, gpa + len) dirty. Pages beyond the bitmap are ignored: the
 * frontend sized the log for its memory, so they cannot hold guest data it
 * migrates. The OR is atomic because the frontend clears bits concurrently.
 */
static inline void
vhu_log_mark(const struct vhu_dirty_log *log, uint64_t gpa, uint64_t len)
{
	uint64_t page, last;

	if (unlikely(log->base == NULL || len == 0))
		return;
	page = gpa >> VHU_LOG_PAGE_SHIFT;
	/* a range running past 2^64 is clipped at the top page */
	last = (gpa + len - 1 < gpa ? UINT64_MAX : gpa + len - 1) >>
	       VHU_LOG_PAGE_SHIFT;
	for (; page <= last; page++) {
		uint64_t byte = page >> 3;

		if (byte >= log->size)
			break;
		vhu_atomic_fetch_or_u8(&log->base[byte],
				       (uint8_t)(1u << (page & 7)),
				       memory_order_relaxed);
		if (page == UINT64_MAX >> VHU_LOG_PAGE_SHIFT)
			break;
	}
}

#endif /* VHU_DIRTY_LOG_H */
