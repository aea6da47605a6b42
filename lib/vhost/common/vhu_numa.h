/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NUMA placement helpers: which node holds a range of memory (guest
 * memory the frontend shared), and objects whose pages can follow that
 * node (a device and its queues).
 *
 * Design: device and queue objects are allocated once per slot and never
 * move (a burst may hold their address at any time, see
 * doc/guide/threading.md), so they are not reallocated on the guest's node
 * as DPDK's numa_realloc() does. Instead each sits on pages of its own in
 * private anonymous memory, and when a device starts those pages are
 * migrated to the node of the guest memory they serve (move_pages): the
 * address stays, the kernel moves the pages under any reader. Queues are
 * quiesced while it happens anyway. (rte_malloc memory cannot be moved:
 * DPDK knows its hugepages by physical address.)
 */
#ifndef VHU_NUMA_H
#define VHU_NUMA_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The node of the memory [addr, addr + len), or -1 when unknown. Unless
 * may_fault, never faults a page into existence: it asks the kernel where
 * sampled pages already in our page tables are (move_pages without target
 * nodes), then for pages of the file that are resident (mincore) though
 * not yet mapped by us (get_mempolicy MPOL_F_NODE on them maps them but
 * allocates nothing) and, when none is, which node the range's memory
 * policy binds it to (a memfd carries the policy its creator set with
 * mbind, e.g. QEMU's host-nodes=N,policy=bind). Safe on PROT_NONE and
 * userfaultfd-registered mappings. With may_fault (a ring page the data
 * path is about to touch anyway), the first page may be faulted in as a
 * last resort.
 */
typedef int (*vhu_numa_node_fn)(const void *addr, size_t len,
				bool may_fault);
/* Move the pages of [addr, addr + len) to node: 0 or -errno. */
typedef int (*vhu_numa_move_fn)(void *addr, size_t len, int node);

/*
 * What the library calls. Test-only hooks: a unit test may point them at
 * fakes (several nodes on a one-node machine) and must restore them; no
 * application sets them. Default: vhu_numa_node_real, vhu_numa_move_real.
 */
extern vhu_numa_node_fn vhu_numa_node_of;
extern vhu_numa_move_fn vhu_numa_move;

int vhu_numa_node_real(const void *addr, size_t len, bool may_fault);
int vhu_numa_move_real(void *addr, size_t len, int node);

/*
 * Zeroed, page-aligned private memory whose pages can be moved
 * (vhu_numa_place), or NULL; every page is written, so exists. Freed with
 * vhu_numa_free(p, the same size). For objects that live long: small ones
 * come out of shared chunks that go back to the system only when all of
 * their objects are freed. Thread-safe.
 */
void *vhu_numa_zalloc(size_t size);
void vhu_numa_free(void *p, size_t size);
/*
 * Move an object from vhu_numa_zalloc() to node (nothing for node < 0):
 * 0 or -errno. Callers carry on after a failure: an object on the wrong
 * node is slower, not wrong.
 */
int vhu_numa_place(void *p, size_t size, int node);

#endif /* VHU_NUMA_H */
