/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NUMA queries and page placement (see vhu_numa.h): the kernel interfaces
 * of libnuma's numaif.h, called directly so that no page is ever faulted
 * in by a query.
 */
#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <numaif.h>

#include <rte_common.h>

#include "vhu_numa.h"

/* Pages a query samples, spread over the range. */
#define SAMPLES 8
/* Nodes a policy mask may name (bits); more than any machine has. */
#define MASK_BITS 1024 /* (regions keep a node in 16 bits) */

vhu_numa_node_fn vhu_numa_node_of = vhu_numa_node_real;
vhu_numa_move_fn vhu_numa_move = vhu_numa_move_real;

static size_t
page_size(void)
{
	long pg = sysconf(_SC_PAGESIZE);

	return pg > 0 ? (size_t)pg : 4096;
}

/* The one node a policy mask names, or -1 (none, or several). */
static int
single_node(const unsigned long *mask, size_t nlongs)
{
	int node = -1;

	for (size_t w = 0; w < nlongs; w++) {
		unsigned long bits = mask[w];

		if (bits == 0)
			continue;
		if (node >= 0 || (bits & (bits - 1)) != 0)
			return -1;
		node = (int)(w * 64 + (size_t)__builtin_ctzl(bits));
	}
	return node;
}

int
vhu_numa_node_real(const void *addr, size_t len, bool may_fault)
{
	uintptr_t pg = page_size();
	uintptr_t start = (uintptr_t)addr & ~(pg - 1);
	void *pages[SAMPLES];
	int status[SAMPLES], count[SAMPLES] = { 0 };
	unsigned long mask[MASK_BITS / 64] = { 0 };
	int best = -1, mode = 0;
	unsigned int n;

	/* the first, last and evenly spaced pages in between */
	for (n = 0; n < SAMPLES; n++) {
		size_t off = len > 0 ? (len - 1) / (SAMPLES - 1) * n : 0;

		pages[n] = (void *)((start + off) & ~(pg - 1));
		status[n] = -ENOENT;
	}
	/* no target nodes: report where each page is, move nothing */
	if (move_pages(0, SAMPLES, pages, NULL, status, 0) == 0) {
		for (unsigned int i = 0; i < SAMPLES; i++) {
			if (status[i] < 0)
				continue;
			/* count[j]: samples on the node of sample j */
			for (unsigned int j = 0; j <= i; j++) {
				if (status[j] == status[i]) {
					count[j]++;
					break;
				}
			}
		}
		for (unsigned int i = 0; i < SAMPLES; i++)
			if (count[i] > 0 && (best < 0 || count[i] > count[best]))
				best = (int)i;
		if (best >= 0)
			return status[best];
	}
	/*
	 * Not in our page tables (a fresh mapping): a page of a shared file
	 * may still be resident (mincore says so: the frontend's, the
	 * guest's). Asking the node of such a page maps it but allocates
	 * nothing; on a PROT_NONE mapping the kernel refuses (EFAULT).
	 */
	for (unsigned int i = 0; i < SAMPLES; i++) {
		unsigned char res = 0;
		int node = -1;

		if (mincore(pages[i], pg, &res) == 0 && (res & 1) &&
		    get_mempolicy(&node, NULL, 0, pages[i],
				  MPOL_F_NODE | MPOL_F_ADDR) == 0 && node >= 0)
			return node;
	}
	if (may_fault && get_mempolicy(&mode, NULL, 0, (void *)start,
				       MPOL_F_NODE | MPOL_F_ADDR) == 0 &&
	    mode >= 0)
		return mode; /* with MPOL_F_NODE, "mode" is the node */
	/* nothing present yet: the policy the memory will be placed by */
	if (get_mempolicy(&mode, mask, MASK_BITS + 1, (void *)start,
			  MPOL_F_ADDR) == 0 &&
	    (mode == MPOL_BIND || mode == MPOL_PREFERRED))
		return single_node(mask, RTE_DIM(mask));
	return -1;
}

int
vhu_numa_move_real(void *addr, size_t len, int node)
{
	const uintptr_t pg = page_size();
	void *pages[64];
	int nodes[64], status[64];

	if (node < 0 || node >= MASK_BITS)
		return -EINVAL;
	/*
	 * move_pages, not mbind: it migrates the pages and leaves the
	 * mapping's policy alone, so objects next to each other stay one
	 * mapping (no VMA split per object). All their pages exist: they
	 * were written at allocation.
	 */
	for (uintptr_t a = (uintptr_t)addr; a < (uintptr_t)addr + len;) {
		unsigned long n = 0;

		for (; n < RTE_DIM(pages) && a < (uintptr_t)addr + len;
		     n++, a += pg) {
			pages[n] = (void *)a;
			nodes[n] = node;
		}
		/* > 0: pages left where they were; slower, not wrong */
		if (move_pages(0, n, pages, nodes, status, MPOL_MF_MOVE) < 0)
			return -errno;
	}
	return 0;
}

/*
 * Objects are carved from chunks of this much address space, reserved
 * without backing (MAP_NORESERVE): devices and queues live until
 * vhu_fini(), so a chunk is only given back when every object in it is.
 * One mapping for them all, instead of one per object.
 */
#define CHUNK_BYTES (16ul << 20)

struct chunk {
	struct chunk *next;
};

static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER;
static struct chunk *chunks;   /* newest first */
static size_t chunk_used;      /* bytes handed out of the newest */
static unsigned long live;     /* objects not yet freed */

static bool
is_big(size_t size)
{
	return size > CHUNK_BYTES / 4;
}

static void *
map_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void *
vhu_numa_zalloc(size_t size)
{
	size_t len = RTE_ALIGN_CEIL(size, page_size());
	uint8_t *p = NULL;

	if (is_big(size)) {
		p = map_anon(len);
	} else {
		pthread_mutex_lock(&arena_lock);
		if (chunks == NULL || chunk_used + len > CHUNK_BYTES) {
			struct chunk *c = map_anon(CHUNK_BYTES);

			if (c != NULL) {
				c->next = chunks;
				chunks = c;
				chunk_used = page_size(); /* the header */
			}
		}
		if (chunks != NULL && chunk_used + len <= CHUNK_BYTES) {
			p = (uint8_t *)chunks + chunk_used;
			chunk_used += len;
			live++;
		}
		pthread_mutex_unlock(&arena_lock);
	}
	/* never used before, so zero; written so every page exists */
	if (p != NULL)
		memset(p, 0, len);
	return p;
}

void
vhu_numa_free(void *p, size_t size)
{
	if (p == NULL)
		return;
	if (is_big(size)) {
		munmap(p, RTE_ALIGN_CEIL(size, page_size()));
		return;
	}
	pthread_mutex_lock(&arena_lock);
	if (live > 0 && --live == 0) {
		while (chunks != NULL) {
			struct chunk *c = chunks;

			chunks = c->next;
			munmap(c, CHUNK_BYTES);
		}
		chunk_used = 0;
	}
	pthread_mutex_unlock(&arena_lock);
}

int
vhu_numa_place(void *p, size_t size, int node)
{
	if (p == NULL || node < 0)
		return 0;
	return vhu_numa_move(p, RTE_ALIGN_CEIL(size, page_size()), node);
}
