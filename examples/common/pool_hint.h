/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the examples say when their mbuf pool cannot be allocated: one
 * line with the size asked, the memory there was, and the fix
 * (doc/guide/troubleshooting.md, "Hugepages and mbuf pools"). Header-only
 * so that each example stays one C file.
 */
#ifndef VHU_EXAMPLE_POOL_HINT_H
#define VHU_EXAMPLE_POOL_HINT_H

#include <stdio.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

/* HugePages_Free and Hugepagesize (kB) from /proc/meminfo; 0 if unknown */
static inline void
example_hugepages_free(unsigned long *pages, unsigned long *page_kb)
{
	char line[128];
	FILE *f = fopen("/proc/meminfo", "r");

	*pages = 0;
	*page_kb = 0;
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		(void)sscanf(line, "HugePages_Free: %lu", pages);
		(void)sscanf(line, "Hugepagesize: %lu kB", page_kb);
	}
	fclose(f);
}

/*
 * Print why rte_pktmbuf_pool_create(n mbufs of data_room bytes) failed on
 * socket, and the fix, as "prog: ..." on stderr. With ENOMEM: the memory
 * the pool needs, the free hugepages and the DPDK heap's free bytes.
 */
static inline void
example_pool_failed(const char *prog, unsigned int n, uint16_t data_room,
		    int socket)
{
	struct rte_malloc_socket_stats st;
	unsigned long pages, page_kb;
	uint32_t obj = rte_mempool_calc_obj_size(
		(uint32_t)sizeof(struct rte_mbuf) + data_room, 0, NULL);
	unsigned long long need = (unsigned long long)obj * n;
	unsigned long long heap_free = 0;
	int err = rte_errno;

	if (err != ENOMEM) {
		fprintf(stderr, "%s: mbuf pool of %u mbufs: %s\n", prog, n,
			rte_strerror(err));
		return;
	}
	if (rte_malloc_get_socket_stats(socket < 0 ? 0 : socket, &st) == 0)
		heap_free = st.heap_freesz_bytes;
	if (!rte_eal_has_hugepages()) {
		fprintf(stderr,
			"%s: out of memory for the mbuf pool: %u mbufs need at least %llu MiB, the DPDK heap has %llu MiB free (--no-huge); fix: give EAL more with -m MB (e.g. -m %llu)\n",
			prog, n, need >> 20, heap_free >> 20,
			((need >> 20) + 1) * 2 + 64);
		return;
	}
	example_hugepages_free(&pages, &page_kb);
	fprintf(stderr,
		"%s: out of hugepage memory for the mbuf pool: %u mbufs need at least %llu MiB; free: %lu hugepages of %lu kB, DPDK heap %llu MiB; fix: reserve more (echo N > /sys/kernel/mm/hugepages/hugepages-%lukB/nr_hugepages), raise -m if you gave one, or run with --no-huge -m MB\n",
		prog, n, need >> 20, pages, page_kb, heap_free >> 20,
		page_kb);
}

#endif /* VHU_EXAMPLE_POOL_HINT_H */
