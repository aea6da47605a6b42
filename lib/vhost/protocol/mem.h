/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Mapping the guest memory the frontend shares (SET_MEM_TABLE, ADD_MEM_REG,
 * REM_MEM_REG) and the dirty log (SET_LOG_BASE). Builds the tables the data
 * path translates through (virtqueue/guest_mem.h, virtqueue/dirty_log.h);
 * every size, offset and overlap is checked here, before anything is
 * mapped, so translation can trust the table.
 */
#ifndef VHU_MEM_H
#define VHU_MEM_H

#include <stdbool.h>
#include <stdint.h>

#include "guest_mem.h"
#include "dirty_log.h"
#include "msg.h"

/*
 * Validate one region description and map it from fd (fd is not closed).
 * With noaccess, it is mapped PROT_NONE and no page of the file is touched
 * until vhu_mem_region_open(): postcopy registers the mapping with the
 * userfaultfd in between. Why: in a process that called
 * mlockall(MCL_FUTURE) (dpdk-testpmd does by default), mmap() populates
 * every new accessible mapping before it returns. On shared memory that
 * puts a page of zeros into the file for each page the frontend has not
 * placed yet: the backend reads zeros instead of faulting, and the
 * frontend's own placement of that page later fails with EEXIST.
 * owner (the device id) is who the fault guard closes if the file shrinks
 * under the mapping later (memguard.h); -ENOSPC if the guard is full.
 */
int vhu_mem_map_region(struct vhu_mem_region *out,
		       const struct vhu_msg_region *in, int fd, bool noaccess,
		       int owner);
/* Make a region mapped with noaccess readable and writable: 0 or -errno. */
int vhu_mem_region_open(const struct vhu_mem_region *r);
void vhu_mem_unmap_region(struct vhu_mem_region *r);
/*
 * Whether r's file holds data: look at its resident pages (mincore on our
 * mapping: shmem and tmpfs report the file's page cache, whoever wrote
 * it) in address order, at most *budget of them (decremented; reading a
 * resident page maps it and allocates nothing). 1 at the first page with
 * a non-zero byte, 0 if none of those looked at has one, -1 when this
 * cannot tell: hugetlbfs reports only the pages our own mapping touched.
 * Not on a PROT_NONE (postcopy) mapping.
 */
int vhu_mem_region_has_data(const struct vhu_mem_region *r, uint64_t *budget);

/*
 * Build a table from a SET_MEM_TABLE payload into an empty table m: checks
 * count, overlap, mapping; on failure nothing stays mapped. fds not closed.
 */
int vhu_mem_build(struct vhu_guest_mem *m, const struct vhu_msg_region *in,
		  uint32_t n, const int *fds, bool noaccess, int owner);
/* Unmap every region (forgetting it in the fault guard) and empty m. */
void vhu_mem_clear(struct vhu_guest_mem *m);
/* Insert a mapped region, keeping gpa order; -EEXIST on overlap, -ENOSPC. */
int vhu_mem_insert(struct vhu_guest_mem *m, const struct vhu_mem_region *r);
/*
 * The region of m identical to the one ADD_MEM_REG describes (same gpa,
 * size, frontend address, file offset, and fd naming the same file), or
 * NULL. QEMU adds every region once per queue pair's vhost device on one
 * connection; such a repeat takes a reference instead of a second mapping.
 */
struct vhu_mem_region *vhu_mem_find_same(struct vhu_guest_mem *m,
					 const struct vhu_msg_region *in,
					 int fd);
/*
 * Drop one reference to the region matching (gpa, size, uaddr). Returns 1
 * when other adders still hold it (it stays mapped), 0 when it was the
 * last: it is taken out into *out, still mapped, for the caller to unmap
 * once the data path is quiesced. -ENOENT if none.
 */
int vhu_mem_remove(struct vhu_guest_mem *m, const struct vhu_msg_region *in,
		   struct vhu_mem_region *out);

/*
 * Map size bytes at offset of fd as the dirty log of device owner (guarded
 * as regions are); fd is not closed.
 */
int vhu_log_map(struct vhu_dirty_log *log, uint64_t size, uint64_t offset,
		int fd, int owner);
void vhu_log_unmap(struct vhu_dirty_log *log);

#endif /* VHU_MEM_H */
