/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * External buffers for transmit frames that outgrow one mbuf (vhu.h,
 * VHU_SOCKET_EXTBUF): one buffer the frame's size, attached to the mbuf
 * the dequeue took from the application's pool, freed through its shared
 * info when the mbuf (or its last clone) is freed.
 */
#ifndef VHU_EXTBUF_H
#define VHU_EXTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_mbuf.h>

/*
 * Attach to m, fresh from its pool (vhu_mbuf_init: empty, one segment),
 * an external buffer with room for len frame bytes after
 * RTE_PKTMBUF_HEADROOM, allocated on NUMA node socket (SOCKET_ID_ANY:
 * any). m stays empty (data_len 0, data_off the headroom). False, m
 * unchanged, when len is above VHU_EXTBUF_MAX_FRAME, m already carries an
 * external buffer (a pinned-buffer pool) or the allocation failed.
 */
bool vhu_extbuf_attach(struct rte_mbuf *m, uint32_t len, int socket);

/*
 * What vhu_extbuf_attach() allocates with: rte_malloc_socket() by
 * default. Test-only hook (a unit test makes allocations fail, and
 * restores it); no application sets it. The buffer is freed with
 * rte_free(), so a replacement must hand out rte_malloc memory or NULL.
 */
typedef void *(*vhu_extbuf_alloc_fn)(size_t size, int socket);
extern vhu_extbuf_alloc_fn vhu_extbuf_alloc;

#endif /* VHU_EXTBUF_H */
