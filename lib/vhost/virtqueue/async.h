/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internal view of the asynchronous enqueue (async.c): the calls it makes
 * to a DMA engine, behind one table so that unit tests can put a fake
 * engine in its place (one that finishes copies out of order, holds them
 * back, refuses or fails them).
 */
#ifndef VHU_ASYNC_H
#define VHU_ASYNC_H

#include <stdint.h>

#include <rte_dmadev.h>

struct vhu_async_engine {
	/* enqueue one copy (not started): its ring index, or < 0 */
	int (*copy)(int16_t dma_id, uint16_t vchan, const void *src,
		    void *dst, uint32_t len);
	/* start what copy() enqueued */
	int (*submit)(int16_t dma_id, uint16_t vchan);
	/*
	 * Up to max finished copies, in ring-index order: how many, the
	 * index of the last in *last_idx, a status for each.
	 */
	uint16_t (*completed)(int16_t dma_id, uint16_t vchan, uint16_t max,
			      uint16_t *last_idx,
			      enum rte_dma_status_code *status);
};

/* The engine async.c calls: rte_dmadev by default; tests replace it. */
extern const struct vhu_async_engine *vhu_async_engine;
extern const struct vhu_async_engine vhu_async_engine_dmadev;

#endif /* VHU_ASYNC_H */
