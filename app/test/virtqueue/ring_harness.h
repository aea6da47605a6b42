/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ring harness shared by the split and packed suites (test_split.c,
 * test_packed.c): one device with one queue pair over the test driver
 * (virtq_driver.h), the mbuf pools, pattern frames and mbuf chains, and
 * the burst rounds that move frames both ways and check every byte, used
 * entry and ring position. What differs between the layouts is chosen
 * from the negotiated features (VIRTIO_F_RING_PACKED), so each suite file
 * holds only the tests of its layout.
 *
 * Design: like Linux's tools/virtio ringtest, one harness and one file per
 * ring layout. Every helper fails the running cmocka test on a mismatch;
 * none returns an error for the caller to forget.
 */
#ifndef RING_HARNESS_H
#define RING_HARNESS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#include <cmocka.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "virtq_driver.h"

#ifndef BIT
#define BIT(b) (1ull << (b))
#endif
#define RH_DATA_ROOM 2048       /* data room of rh_pool's mbufs */
#define RH_WRAP (1u << 15)      /* packed: wrap counter bit of a base */

extern struct rte_mempool *rh_pool;      /* 2 KiB data rooms */
extern struct rte_mempool *rh_seg_pool;  /* 512-byte rooms for chains */

/* One cell of a suite's matrix. */
struct rh_cfg {
	bool mrg, ind, evt, ino;
	uint16_t size;
};

/* One device with one queue pair: vring 0 = guest RX, vring 1 = guest TX */
struct rh_env {
	struct vtd rx, tx;
	struct vhu_vq *rxq, *txq;
	int call_rx, call_tx, err_rx, err_tx;
	struct vhu_dev_vqs vqs;
	struct vhu_dev *dev;
	uint64_t features;
	uint16_t hdr_len;
	bool mrg, ind, evt, packed;
};

/* EAL, then the two pools named NAME_pool and NAME_seg; 0, or -1 said. */
int rh_init(const char *name);

/* Append a test; aborts when the table is full. */
void rh_add(struct CMUnitTest *tests, int *n, int max, const char *name,
	    CMUnitTestFunction f, void *state);
/*
 * Append f once per matrix cell ({mergeable} x {indirect} x {event} x
 * {256, 1024 descriptors}; with in_order, again with an IN_ORDER driver),
 * named PREFIX[_inorder]_mrgM_indI_evtE_SIZE, the struct rh_cfg as state.
 */
void rh_add_matrix(struct CMUnitTest *tests, int *n, int max,
		   const char *prefix, CMUnitTestFunction f, bool in_order);

/* Append the fixed tests to the matrix ones and run them all as group. */
int rh_run(const char *group, struct CMUnitTest *tests, int n, int max,
	   const struct CMUnitTest *fixed, int nfixed);

/* The MRG_RXBUF, INDIRECT_DESC and EVENT_IDX bits asked for. */
uint64_t rh_features(bool mrg, bool ind, bool evt);

uint8_t rh_pattern(uint32_t seed, uint32_t i);
void rh_fill(uint8_t *b, uint32_t len, uint32_t seed);
int rh_new_eventfd(void);

/*
 * Both rings at base (split: the 16-bit index; packed: slot | wrap << 15),
 * the queues made, started and given error eventfds. o: the driver's
 * memory options (regions, alias, log), NULL for one plain region.
 */
void rh_env_setup_opts(struct rh_env *e, uint64_t features, uint16_t size,
		       uint16_t base, const struct vtd_opts *o);
void rh_env_setup(struct rh_env *e, uint64_t features, uint16_t size,
		  uint16_t base);
void rh_env_teardown(struct rh_env *e);

/* An mbuf chain holds len pattern bytes, in as many segments as it must. */
void rh_check_mbuf(const struct rte_mbuf *m, uint32_t len, uint32_t seed);
/* A pattern mbuf: one segment from rh_pool, or uneven ones when multi. */
struct rte_mbuf *rh_make_chain(uint32_t len, uint32_t seed, bool multi);

/* Guest sends n frames (sizes and layouts cycling from *k); all checked. */
void rh_tx_round(struct rh_env *e, int n, uint32_t *k);
/* Post n receive buffers in the shapes this configuration uses. */
int rh_post_rx_buffers(struct rh_env *e, int n, int variant);
/* Read one frame back from the used ring; check header, bytes, slack. */
void rh_rx_check_frame(struct rh_env *e, uint32_t flen, uint32_t seed);
/* Device enqueues n frames (sizes cycling from *k); all checked. */
void rh_rx_round(struct rh_env *e, int n, uint32_t *k);

/* n single receive buffers of len bytes each, published. */
void rh_post_rx_n(struct rh_env *e, int n, uint32_t len);
/* n copies of a frame, each in nbufs buffers after a 12-byte header. */
void rh_post_tx_n(struct rh_env *e, int n, const uint8_t *frame,
		  uint32_t len, int nbufs);
/* Nothing dropped for want of buffers, no ring error, neither broken. */
void rh_expect_clean(const struct rh_env *e);

/* vq broke once: sticky flag, not ready, one error, its eventfd fired. */
void rh_expect_broken(struct vhu_vq *vq, int errfd);
/* len zeroed bytes of transmit-ring memory; their guest address. */
uint64_t rh_frame_gpa(struct rh_env *e, uint32_t len);
/*
 * One good two-buffer frame is posted, then bad() adds a malformed one:
 * good_expected frames come out, the TX queue breaks (sticky, the RX
 * queue carries on) and a stop clears it.
 */
void rh_tx_bad(uint64_t features, uint16_t base,
	       void (*bad)(struct rh_env *e), int good_expected);

/* ------------------------- external and linear buffers (extbuf.c) */

/*
 * Frames of 64 B, 2 KiB, 9000 B, VHU_EXTBUF_MAX_FRAME and 64 KiB sent
 * by the guest on a transmit queue with VHU_VQ_F_LINEAR, with
 * VHU_VQ_F_LINEAR | VHU_VQ_F_EXTBUF, and with VHU_VQ_F_EXTBUF alone:
 * which come out in one segment (in an external buffer or not), which
 * as chains, which are dropped and counted; every payload checked, every
 * mbuf and external buffer freed (mempool and heap counts back where
 * they were). features: the layout's (RING_PACKED or not).
 */
void rh_tx_bufs_sizes(uint64_t features);
/* The external buffer cannot be allocated: dropped (LINEAR) or chained. */
void rh_tx_bufs_alloc_fail(uint64_t features);
/*
 * The mempool runs dry mid-burst with external buffers: the frames left
 * stay in the ring for the next call, nothing leaks.
 */
void rh_tx_bufs_pool_dry(uint64_t features);

#endif /* RING_HARNESS_H */
