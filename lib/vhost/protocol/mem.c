/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest memory and dirty-log mapping. A region is accepted only if its
 * size is non-zero, gpa + size, uaddr + size and mmap_offset + size do not
 * wrap, the fd is a regular file (memfd, hugetlbfs, tmpfs) at least
 * mmap_offset + size long (so no access can hit SIGBUS past its end), and
 * it overlaps no other region in guest-physical space. Mappings are
 * MAP_SHARED and aligned to the fd's page size (2 MiB / 1 GiB on
 * hugetlbfs, 4 KiB otherwise).
 *
 * The size check only holds at map time: the frontend keeps the file and
 * may shrink it later. A mapping of a file that can lose pages (not sealed
 * with F_SEAL_SHRINK, or on hugetlbfs, whose pages can also be missing
 * when first touched) is registered with the fault guard (memguard.h) for
 * the device that owns it, and forgotten there before it is unmapped.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <rte_common.h>

#include "mem.h"
#include "memguard.h"
#include "vhu_log.h"
#include "vhu_numa.h"

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif

static uint64_t
fd_page_size(int fd, bool *hugetlbfs)
{
	struct statfs fs;

	*hugetlbfs = fstatfs(fd, &fs) == 0 &&
		     (uint32_t)fs.f_type == HUGETLBFS_MAGIC;
	if (*hugetlbfs)
		return (uint64_t)fs.f_bsize;
	return (uint64_t)sysconf(_SC_PAGESIZE);
}

/*
 * Can a page of this file, up to end, go away under a mapping? Not if the
 * file is sealed against shrinking (QEMU's memory-backend-memfd seals by
 * default; seals are never lifted) and still long enough once sealed (it
 * may have been cut between the size check and the seal), unless it is on
 * hugetlbfs, where a page not yet allocated can find the pool empty when
 * first touched.
 */
static bool
fd_can_fault(int fd, bool hugetlbfs, uint64_t end)
{
	struct stat st;
	int seals;

	if (hugetlbfs)
		return true;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		return true;
	return fstat(fd, &st) < 0 || (uint64_t)st.st_size < end;
}

/*
 * Register a mapping that can fault with the fault guard, for owner;
 * -ENOSPC (logged) when the guard's table is full.
 */
static int
guard_mapping(void *map, size_t map_len, int owner, enum vhu_guard_kind kind,
	      uint64_t gpa, uint64_t size, const char *what)
{
	if (vhu_guard_add(map, map_len, owner, kind, gpa, size) < 0) {
		VHU_LOG(ERR, "%s: too many unsealed guest memory mappings in this process",
			what);
		return -ENOSPC;
	}
	return 0;
}

/*
 * Map [offset, offset + size) of fd; *map and *map_len: what to unmap, *st
 * the file it is, *can_fault whether its pages can go away (fd_can_fault).
 * On failure *err: -EBADF when the fd cannot be mapped shared at all,
 * -EINVAL for a bad range, -ENOMEM.
 */
static uint8_t *
map_fd_range(int fd, uint64_t offset, uint64_t size, int prot, void **map,
	     size_t *map_len, struct stat *st_out, bool *can_fault,
	     const char *what, int *err)
{
	struct stat st;
	uint64_t pg, start, len;
	bool hugetlbfs;
	void *p;
	/* guest memory regions pass st_out; the dirty log does not */
	const char *hint = st_out == NULL ? "" :
		"; guest memory must be shared and file-backed: QEMU -object "
		"memory-backend-memfd,share=on or memory-backend-file,...,share=on";

	*err = -EINVAL;

	if (size == 0 || offset + size < offset) {
		VHU_LOG(ERR, "%s: bad size %" PRIu64 " at offset %" PRIu64,
			what, size, offset);
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		VHU_LOG(ERR, "%s: fd is not a file that can be mapped shared%s",
			what, hint);
		*err = -EBADF;
		return NULL;
	}
	if ((uint64_t)st.st_size < offset + size) {
		VHU_LOG(ERR, "%s: file has %" PRIu64 " bytes, region needs %"
			PRIu64, what, (uint64_t)st.st_size, offset + size);
		return NULL;
	}
	pg = fd_page_size(fd, &hugetlbfs);
	start = offset & ~(pg - 1);
	len = RTE_ALIGN_CEIL(offset - start + size, pg);
	if (len < size) {
		VHU_LOG(ERR, "%s: region too large", what);
		return NULL;
	}
	p = mmap(NULL, len, prot, MAP_SHARED, fd, (off_t)start);
	if (p == MAP_FAILED) {
		int e = errno;

		VHU_LOG(ERR, "%s: mmap of %" PRIu64 " bytes shared failed: %s%s",
			what, len, strerror(e), hint);
		/* ENOMEM: address space; the rest: the fd refuses sharing */
		*err = e == ENOMEM ? -ENOMEM : -EBADF;
		return NULL;
	}
	*map = p;
	*map_len = len;
	if (st_out != NULL)
		*st_out = st;
	*can_fault = fd_can_fault(fd, hugetlbfs, offset + size);
	return (uint8_t *)p + (offset - start);
}

int
vhu_mem_map_region(struct vhu_mem_region *out, const struct vhu_msg_region *in,
		   int fd, bool noaccess, int owner)
{
	struct stat st;
	bool can_fault, hugetlbfs;
	uint8_t *hva;
	int err;

	memset(out, 0, sizeof(*out));
	if (in->size == 0 || in->gpa + in->size < in->gpa ||
	    in->uaddr + in->size < in->uaddr) {
		VHU_LOG(ERR, "memory region gpa 0x%" PRIx64 " size 0x%" PRIx64
			" uaddr 0x%" PRIx64 " wraps or is empty",
			in->gpa, in->size, in->uaddr);
		return -EINVAL;
	}
	/* PROT_NONE: mlock's populate skips the mapping (see mem.h) */
	hva = map_fd_range(fd, in->mmap_offset, in->size,
			   noaccess ? PROT_NONE : PROT_READ | PROT_WRITE,
			   &out->map_addr, &out->map_len, &st, &can_fault,
			   "memory region", &err);
	if (hva == NULL)
		return err;
	if (can_fault && guard_mapping(out->map_addr, out->map_len, owner,
				       VHU_GUARD_REGION, in->gpa, in->size,
				       "memory region") < 0) {
		munmap(out->map_addr, out->map_len);
		memset(out, 0, sizeof(*out));
		return -ENOSPC;
	}
	out->backing_dev = (uint64_t)st.st_dev;
	out->backing_ino = (uint64_t)st.st_ino;
	out->refs = 1;
	out->gpa = in->gpa;
	out->size = in->size;
	out->qva = in->uaddr;
	out->hva = hva;
	out->mmap_offset = in->mmap_offset;
	out->hugetlb = fd_page_size(fd, &hugetlbfs) >
		       (uint64_t)sysconf(_SC_PAGESIZE);
	/* faults nothing in, so postcopy's PROT_NONE mapping is fine too */
	out->numa_node = (int16_t)vhu_numa_node_of(hva, in->size, false);
	return 0;
}

/*
 * mprotect() does not populate a shared mapping, locked or not: only a
 * private one that becomes writable is (to break copy-on-write).
 */
int
vhu_mem_region_open(const struct vhu_mem_region *r)
{
	if (mprotect(r->map_addr, r->map_len, PROT_READ | PROT_WRITE) < 0) {
		int err = errno;

		VHU_LOG(ERR, "memory region gpa 0x%" PRIx64 ": mprotect: %s",
			r->gpa, strerror(err));
		return -err;
	}
	return 0;
}

/* Whether a page holds anything but zeros. */
static bool
page_has_data(const uint8_t *p, size_t pg)
{
	const uint64_t *w = (const uint64_t *)p;

	for (size_t i = 0; i < pg / sizeof(*w); i++)
		if (w[i] != 0)
			return true;
	return false;
}

int
vhu_mem_region_has_data(const struct vhu_mem_region *r, uint64_t *budget)
{
	const size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char vec[4096];

	if (r->hugetlb || r->map_addr == NULL)
		return -1;
	for (size_t off = 0; off < r->map_len && *budget > 0;
	     off += sizeof(vec) * pg) {
		size_t len = RTE_MIN(r->map_len - off, sizeof(vec) * pg);
		const uint8_t *base = (const uint8_t *)r->map_addr + off;

		if (mincore((void *)(uintptr_t)base, len, vec) < 0)
			return -1;
		for (size_t i = 0; i < len / pg && *budget > 0; i++) {
			if (!(vec[i] & 1))
				continue;
			/* resident: reading maps it, allocates nothing */
			(*budget)--;
			if (page_has_data(base + i * pg, pg))
				return 1;
		}
	}
	return 0;
}

void
vhu_mem_unmap_region(struct vhu_mem_region *r)
{
	if (r->map_addr != NULL) {
		/* before munmap: the address may be reused at once */
		vhu_guard_remove(r->map_addr);
		munmap(r->map_addr, r->map_len);
	}
	memset(r, 0, sizeof(*r));
}

static bool
gpa_overlaps(const struct vhu_mem_region *a, const struct vhu_mem_region *b)
{
	return a->gpa < b->gpa + b->size && b->gpa < a->gpa + a->size;
}

int
vhu_mem_insert(struct vhu_guest_mem *m, const struct vhu_mem_region *r)
{
	uint32_t pos;

	if (m->nregions >= VHU_MAX_MEM_SLOTS)
		return -ENOSPC;
	for (pos = 0; pos < m->nregions; pos++) {
		if (gpa_overlaps(&m->r[pos], r)) {
			VHU_LOG(ERR, "memory region gpa 0x%" PRIx64 "+0x%" PRIx64
				" overlaps 0x%" PRIx64 "+0x%" PRIx64, r->gpa,
				r->size, m->r[pos].gpa, m->r[pos].size);
			return -EEXIST;
		}
	}
	for (pos = 0; pos < m->nregions && m->r[pos].gpa < r->gpa; pos++)
		;
	memmove(&m->r[pos + 1], &m->r[pos],
		(m->nregions - pos) * sizeof(m->r[0]));
	m->r[pos] = *r;
	m->nregions++;
	return 0;
}

struct vhu_mem_region *
vhu_mem_find_same(struct vhu_guest_mem *m, const struct vhu_msg_region *in,
		  int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return NULL;
	for (uint32_t i = 0; i < m->nregions; i++) {
		struct vhu_mem_region *r = &m->r[i];

		if (r->gpa == in->gpa && r->size == in->size &&
		    r->qva == in->uaddr && r->mmap_offset == in->mmap_offset &&
		    r->backing_dev == (uint64_t)st.st_dev &&
		    r->backing_ino == (uint64_t)st.st_ino)
			return r;
	}
	return NULL;
}

int
vhu_mem_remove(struct vhu_guest_mem *m, const struct vhu_msg_region *in,
	       struct vhu_mem_region *out)
{
	for (uint32_t i = 0; i < m->nregions; i++) {
		struct vhu_mem_region *r = &m->r[i];

		if (r->gpa != in->gpa || r->size != in->size ||
		    r->qva != in->uaddr)
			continue;
		if (r->refs > 1) {
			r->refs--;
			return 1;
		}
		*out = *r;
		memmove(r, r + 1, (m->nregions - i - 1) * sizeof(*r));
		m->nregions--;
		memset(&m->r[m->nregions], 0, sizeof(*r));
		return 0;
	}
	return -ENOENT;
}

void
vhu_mem_clear(struct vhu_guest_mem *m)
{
	for (uint32_t i = 0; i < m->nregions; i++)
		vhu_mem_unmap_region(&m->r[i]);
	m->nregions = 0;
}

int
vhu_mem_build(struct vhu_guest_mem *m, const struct vhu_msg_region *in,
	      uint32_t n, const int *fds, bool noaccess, int owner)
{
	int ret;

	m->nregions = 0;
	if (n == 0 || n > VHU_MEM_TABLE_MAX) {
		VHU_LOG(ERR, "memory table with %u regions (1..%u allowed; more are added one by one with ADD_MEM_REG, protocol feature CONFIGURE_MEM_SLOTS)",
			n, VHU_MEM_TABLE_MAX);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct vhu_mem_region r;

		ret = vhu_mem_map_region(&r, &in[i], fds[i], noaccess, owner);
		if (ret == 0) {
			ret = vhu_mem_insert(m, &r);
			if (ret < 0)
				vhu_mem_unmap_region(&r);
		}
		if (ret < 0) {
			vhu_mem_clear(m);
			return ret;
		}
	}
	return 0;
}

int
vhu_log_map(struct vhu_dirty_log *log, uint64_t size, uint64_t offset, int fd,
	    int owner)
{
	bool can_fault;
	uint8_t *base;
	int err;

	memset(log, 0, sizeof(*log));
	base = map_fd_range(fd, offset, size, PROT_READ | PROT_WRITE,
			    &log->map_addr, &log->map_len, NULL, &can_fault,
			    "dirty log", &err);
	if (base == NULL)
		return err;
	if (can_fault && guard_mapping(log->map_addr, log->map_len, owner,
				       VHU_GUARD_LOG, 0, size,
				       "dirty log") < 0) {
		munmap(log->map_addr, log->map_len);
		memset(log, 0, sizeof(*log));
		return -ENOSPC;
	}
	log->base = base;
	log->size = size;
	return 0;
}

void
vhu_log_unmap(struct vhu_dirty_log *log)
{
	if (log->map_addr != NULL) {
		vhu_guard_remove(log->map_addr);
		munmap(log->map_addr, log->map_len);
	}
	memset(log, 0, sizeof(*log));
}
