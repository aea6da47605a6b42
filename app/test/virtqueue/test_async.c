/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit suite for the asynchronous enqueue and dequeue (async.c,
 * vhu_burst.h "Asynchronous enqueue") over the ring harness
 * (ring_harness.h): split and packed receive and transmit rings whose
 * payload copies go to DMA's software engine
 * (dma_skeleton: a thread that copies with memcpy) or to a fake engine
 * this file plugs in through vhu_async_engine, which copies only when the
 * test lets it, refuses copies or reports them failed. Checked: every
 * byte and used entry; used entries published in ring order when a
 * frame's copies finish after a later frame's; the drain a stopping queue
 * runs; the core's fallback and its counter; dirty pages marked only once
 * the engine wrote them (dequeue: only the used descriptors); the guest
 * buffers a submit takes or refuses, on both layouts (one body serves
 * them: a break in either shows); the binding's rules.
 */
/* rte_dmadev is experimental in DPDK 22.11 */
#define ALLOW_EXPERIMENTAL_API 1

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/vhost_types.h>

#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_dmadev.h>
#include <rte_eal.h>

#include "ring_harness.h"
#include "vhu_burst.h"
#include "vq.h"
#include "async.h"
#include "desc_split.h"
#include "../eal_tidy.h"

static int16_t skel = -1; /* the dma_skeleton device */

/* ---------------------------------------------------------- fake engine */

#define FAKE_RING 8192
static struct fake_op {
	const void *src;
	void *dst;
	uint32_t len;
} fake_ops[FAKE_RING];
static uint16_t fake_next;   /* ring index of the next copy */
static uint16_t fake_done;   /* first copy not reported yet */
static uint16_t fake_allow;  /* completed() reports up to this index */
static bool fake_auto;       /* report whatever was submitted */
static bool fake_refuse;     /* copy() says the ring is full */
static int fake_fail_every;  /* every Nth completion fails (0: none) */
static uint32_t fake_failed;

static int
fake_copy(int16_t dma_id, uint16_t vchan, const void *src, void *dst,
	  uint32_t len)
{
	struct fake_op *op;

	(void)dma_id;
	(void)vchan;
	if (fake_refuse || (uint16_t)(fake_next - fake_done) >= FAKE_RING)
		return -ENOSPC;
	op = &fake_ops[fake_next % FAKE_RING];
	op->src = src;
	op->dst = dst;
	op->len = len;
	return fake_next++;
}

static int
fake_submit(int16_t dma_id, uint16_t vchan)
{
	(void)dma_id;
	(void)vchan;
	return 0;
}

/* Copies happen here, when reported: until then the guest has nothing. */
static uint16_t
fake_completed(int16_t dma_id, uint16_t vchan, uint16_t max,
	       uint16_t *last_idx, enum rte_dma_status_code *st)
{
	uint16_t limit = fake_auto ? fake_next :
			 __atomic_load_n(&fake_allow, __ATOMIC_ACQUIRE);
	uint16_t n = RTE_MIN(max, (uint16_t)(limit - fake_done));

	(void)dma_id;
	(void)vchan;
	for (uint16_t k = 0; k < n; k++) {
		uint16_t idx = fake_done + k;
		struct fake_op *op = &fake_ops[idx % FAKE_RING];

		if (fake_fail_every > 0 && idx % fake_fail_every == 0) {
			st[k] = RTE_DMA_STATUS_ERROR_UNKNOWN;
			fake_failed++;
			continue;
		}
		memcpy(op->dst, op->src, op->len);
		st[k] = RTE_DMA_STATUS_SUCCESSFUL;
	}
	fake_done += n;
	*last_idx = fake_done - 1;
	return n;
}

static const struct vhu_async_engine fake_engine = {
	.copy = fake_copy,
	.submit = fake_submit,
	.completed = fake_completed,
};

static void
fake_reset(void)
{
	/* start near the 16-bit wrap of the ring index */
	fake_next = fake_done = fake_allow = 65530;
	fake_auto = false;
	fake_refuse = false;
	fake_fail_every = 0;
	fake_failed = 0;
	vhu_async_engine = &fake_engine;
}

/* ------------------------------------------------------------ helpers */

/*
 * The environment of the running test (static, so that it outlives a
 * failed assertion): the teardown frees it, and with its queue the
 * channel's binding, so one failure does not make the next tests fail
 * on a channel still bound.
 */
static struct rh_env *live;

static void
env_down(struct rh_env *e)
{
	rh_env_teardown(e);
	live = NULL;
}

static int
teardown_live(void **state)
{
	(void)state;
	if (live != NULL)
		env_down(live);
	return 0;
}

static uint64_t
feat(bool mrg, bool ind)
{
	return rh_features(mrg, ind, false) | BIT(VIRTIO_F_VERSION_1);
}

/* The packed cells of the matrix: ino (unused otherwise) marks them. */
static uint64_t
cell_feat(const struct rh_cfg *c)
{
	return feat(c->mrg, c->ind) |
	       (c->ino ? BIT(VIRTIO_F_RING_PACKED) : 0);
}

static void
bind_q(struct rh_env *e, int16_t id, uint32_t threshold)
{
	struct vhu_async_params p = { .copy_threshold = threshold };

	assert_int_equal(vhu_async_bind(e->dev, 0, VHU_ASYNC_ENQUEUE, id, 0,
					&p), 0);
}

/* Poll until n mbufs came back (bounded: 5 s); free them; check order. */
static void
collect_n(struct rh_env *e, struct rte_mbuf **sent, uint16_t n)
{
	struct rte_mbuf *got[64];
	uint64_t deadline = rte_get_timer_cycles() + 5 * rte_get_timer_hz();
	uint16_t have = 0;

	while (have < n) {
		uint16_t r = vhu_enqueue_poll_completed(e->dev, 0, got,
							RTE_DIM(got));

		for (uint16_t i = 0; i < r; i++) {
			assert_true(have < n);
			assert_ptr_equal(got[i], sent[have]);
			rte_pktmbuf_free(got[i]);
			have++;
		}
		if (r == 0)
			assert_true(rte_get_timer_cycles() < deadline);
	}
	assert_int_equal(vhu_async_inflight(e->dev, 0, VHU_ASYNC_ENQUEUE), 0);
}

static const uint32_t sizes[] = { 60, 1514, 300, 9000, 64, 4000, 257, 2048 };

/* ------------------------------------------------------ dma_skeleton */

/* Frames of all sizes, chains and mergeable buffers, on the real engine. */
static void
test_skeleton_rounds(void **state)
{
	const struct rh_cfg *c = *state;
	static struct rh_env e;
	uint32_t k = 0;

	if (skel < 0)
		skip();
	vhu_async_engine = &vhu_async_engine_dmadev;
	/* split: 5 short of the 16-bit wrap; packed: slot 0, wrap 1 */
	rh_env_setup(&e, cell_feat(c), c->size,
		     c->ino ? RH_WRAP : 65531);
	live = &e;
	bind_q(&e, skel, 128);
	for (int round = 0; round < 3 * c->size / 16 + 2; round++) {
		struct rte_mbuf *pkts[16];
		uint32_t lens[16], seeds[16];
		int bufs = 0;

		for (int i = 0; i < 16; i++, k++) {
			lens[i] = sizes[k % RTE_DIM(sizes)];
			seeds[i] = k;
			pkts[i] = rh_make_chain(lens[i], k, k % 3 == 1);
			bufs += !e.mrg ? 1 : e.packed ?
				(lens[i] + 12 + 1535) / 1536 :
				(lens[i] + 12 + 699) / 700;
		}
		assert_int_equal(rh_post_rx_buffers(&e, bufs, (int)k), bufs);
		assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, pkts, 16),
				 16);
		collect_n(&e, pkts, 16);
		for (int i = 0; i < 16; i++)
			rh_rx_check_frame(&e, lens[i], seeds[i]);
		/* mergeable: the spare buffers, one 60-byte frame each */
		while (e.mrg && !e.packed &&
		       e.rx.avail_idx != e.rxq->last_avail_idx) {
			struct rte_mbuf *m = rh_make_chain(60, 1, false);

			assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0,
								  &m, 1), 1);
			collect_n(&e, &m, 1);
			rh_rx_check_frame(&e, 60, 1);
		}
	}
	assert_true(e.rxq->stats.dma_copies > 0);
	assert_int_equal(e.rxq->stats.dma_fallbacks, 0);
	rh_expect_clean(&e);
	assert_int_equal(vhu_async_unbind(e.dev, 0, VHU_ASYNC_ENQUEUE), 0);
	env_down(&e);
}

/* ------------------------------------------------------ fake engine */

/*
 * A large frame's copies are held back; the short frames after it are
 * copied by the core at once, yet nothing is published until the first
 * is done, and then all of them, in ring order.
 */
static void
test_order_held_back(void **state)
{
	static struct rh_env e;
	struct rte_mbuf *pkts[4];
	static const uint32_t lens[4] = { 2000, 60, 100, 3000 };
	uint16_t mark;

	(void)state;
	fake_reset();
	rh_env_setup(&e, feat(false, false), 256, 65533);
	live = &e;
	bind_q(&e, skel >= 0 ? skel : 0, 256);
	rh_post_rx_n(&e, 4, 4096);
	for (int i = 0; i < 4; i++)
		pkts[i] = rh_make_chain(lens[i], 40 + i, i == 3);
	assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, pkts, 4), 4);
	assert_int_equal(vtd_used_pending(&e.rx), 0);
	assert_int_equal(vhu_async_inflight(e.dev, 0, VHU_ASYNC_ENQUEUE), 4);
	/* the plain burst waits for the frames in flight */
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, pkts, 1), 0);
	mark = fake_next;
	/* all but the first frame's copies done: still nothing published */
	fake_allow = fake_done;
	assert_int_equal(vhu_enqueue_poll_completed(e.dev, 0, pkts, 4), 0);
	assert_int_equal(vtd_used_pending(&e.rx), 0);
	/* the first frame's one copy (one segment, one buffer) done */
	fake_allow = fake_done + 1;
	{
		struct rte_mbuf *got[4];
		uint16_t r = vhu_enqueue_poll_completed(e.dev, 0, got, 4);

		/* frames 0-2 now complete; frame 3's copies are still held */
		assert_int_equal(r, 3);
		assert_int_equal(vtd_used_pending(&e.rx), 3);
		for (int i = 0; i < 3; i++) {
			assert_ptr_equal(got[i], pkts[i]);
			rh_rx_check_frame(&e, lens[i], 40 + i);
			rte_pktmbuf_free(got[i]);
		}
		fake_allow = mark;
		assert_int_equal(vhu_enqueue_poll_completed(e.dev, 0, got, 4),
				 1);
		assert_ptr_equal(got[0], pkts[3]);
		rh_rx_check_frame(&e, lens[3], 43);
		rte_pktmbuf_free(got[0]);
	}
	assert_true(e.rxq->stats.dma_copies >= 2);
	rh_expect_clean(&e);
	env_down(&e);
}

/* The same on a packed ring: used descriptors in ring order too. */
static void
test_order_held_back_packed(void **state)
{
	static struct rh_env e;
	struct rte_mbuf *pkts[3], *got[3];
	static const uint32_t lens[3] = { 1500, 60, 1000 };

	(void)state;
	fake_reset();
	rh_env_setup(&e, feat(false, false) | BIT(VIRTIO_F_RING_PACKED), 256,
		     RH_WRAP | 254);
	live = &e;
	bind_q(&e, skel >= 0 ? skel : 0, 256);
	rh_post_rx_n(&e, 3, 2048);
	for (int i = 0; i < 3; i++)
		pkts[i] = rh_make_chain(lens[i], 60 + i, false);
	assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, pkts, 3), 3);
	/* frame 1 (core) done, frames 0 and 2 held: nothing published */
	assert_int_equal(vhu_enqueue_poll_completed(e.dev, 0, got, 3), 0);
	assert_int_equal(vtd_used_pending(&e.rx), 0);
	fake_allow = fake_done + 1; /* frame 0's copy */
	assert_int_equal(vhu_enqueue_poll_completed(e.dev, 0, got, 3), 2);
	assert_int_equal(vtd_used_pending(&e.rx), 2);
	fake_allow = fake_next;
	assert_int_equal(vhu_enqueue_poll_completed(e.dev, 0, got + 2, 1), 1);
	for (int i = 0; i < 3; i++) {
		assert_ptr_equal(got[i], pkts[i]);
		rh_rx_check_frame(&e, lens[i], 60 + i);
		rte_pktmbuf_free(got[i]);
	}
	rh_expect_clean(&e);
	env_down(&e);
}

/*
 * Stopping the queue (the control context quiesces it, as for
 * GET_VRING_BASE) lets the copies in flight land and publishes them
 * first; their mbufs come back afterwards, queue stopped or not.
 */
static void
test_drain_on_stop(void **state)
{
	static struct rh_env e;
	struct rte_mbuf *pkts[8];

	(void)state;
	fake_reset();
	fake_auto = true; /* copies happen only when the engine is polled */
	rh_env_setup(&e, feat(true, false), 256, 100);
	live = &e;
	bind_q(&e, skel >= 0 ? skel : 0, 1); /* every frame on the engine */
	rh_post_rx_n(&e, 40, 1536);
	for (int i = 0; i < 8; i++)
		pkts[i] = rh_make_chain(sizes[i], 70 + i, i % 2);
	assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, pkts, 8), 8);
	assert_int_equal(vtd_used_pending(&e.rx), 0);
	vhu_vq_quiesce(e.rxq);
	vhu_vq_stop_locked(e.rxq);
	/* everything published before the ring was taken away */
	assert_int_equal(e.rxq->last_used_idx, e.rxq->last_avail_idx);
	vhu_vq_resume(e.rxq);
	assert_false(e.rxq->ready);
	for (int i = 0; i < 8; i++)
		rh_rx_check_frame(&e, sizes[i], 70 + i);
	collect_n(&e, pkts, 8);
	env_down(&e);
}

/* A slow engine: it finishes every copy submitted so far after 1.3 s. */
static void *
release_later(void *arg)
{
	(void)arg;
	usleep(1300 * 1000);
	__atomic_store_n(&fake_allow, fake_next, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * An engine slower than VHU_ASYNC_DRAIN_MS: the drain of a stopping
 * queue still waits for every copy (the ring's memory is about to go),
 * then publishes all of them.
 */
static void
test_drain_waits_for_slow_engine(void **state)
{
	static struct rh_env e;
	struct rte_mbuf *pkts[8];
	uint64_t t0, ms;
	pthread_t t;

	(void)state;
	fake_reset(); /* nothing completes until release_later() */
	rh_env_setup(&e, feat(true, false), 256, 100);
	live = &e;
	bind_q(&e, skel >= 0 ? skel : 0, 1); /* every frame on the engine */
	rh_post_rx_n(&e, 40, 1536);
	for (int i = 0; i < 8; i++)
		pkts[i] = rh_make_chain(sizes[i], 90 + i, i % 2);
	assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, pkts, 8), 8);
	assert_int_equal(pthread_create(&t, NULL, release_later, NULL), 0);
	t0 = rte_get_timer_cycles();
	vhu_vq_quiesce(e.rxq);
	ms = (rte_get_timer_cycles() - t0) * 1000 / rte_get_timer_hz();
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(ms >= 1200);
	vhu_vq_stop_locked(e.rxq);
	/* every copy landed and was published before the ring went */
	assert_int_equal(e.rxq->last_used_idx, e.rxq->last_avail_idx);
	vhu_vq_resume(e.rxq);
	for (int i = 0; i < 8; i++)
		rh_rx_check_frame(&e, sizes[i], 90 + i);
	collect_n(&e, pkts, 8);
	env_down(&e);
}

/*
 * The guest breaks the ring while copies are in flight: the queue stops
 * (a poll publishes nothing into it), and the control context's quiesce,
 * as when it reports the breakage, drains and publishes what was
 * accepted before; the mbufs still come back.
 */
static void
test_broken_while_in_flight(void **state)
{
	static struct rh_env e;
	struct rte_mbuf *pkts[2], *got[2];

	(void)state;
	fake_reset();
	rh_env_setup(&e, feat(false, false), 256, 0);
	live = &e;
	bind_q(&e, skel >= 0 ? skel : 0, 1);
	rh_post_rx_n(&e, 2, 2048);
	for (int i = 0; i < 2; i++)
		pkts[i] = rh_make_chain(1000 + i, 20 + i, false);
	assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, pkts, 2), 2);
	vhu_vq_mark_broken(e.rxq, "test: broken while in flight");
	fake_auto = true;
	assert_int_equal(vhu_enqueue_poll_completed(e.dev, 0, got, 2), 0);
	assert_int_equal(vtd_used_pending(&e.rx), 0);
	vhu_vq_quiesce(e.rxq);
	vhu_vq_resume(e.rxq);
	assert_int_equal(vhu_enqueue_poll_completed(e.dev, 0, got, 2), 2);
	for (int i = 0; i < 2; i++) {
		assert_ptr_equal(got[i], pkts[i]);
		rh_rx_check_frame(&e, 1000 + i, 20 + i);
		rte_pktmbuf_free(got[i]);
	}
	env_down(&e);
}

/*
 * A frame for the software offload stage (here: longer than the guest's
 * MTU, dropped) waits until nothing is in flight, then goes the ordinary
 * way and comes back through the poll like the others.
 */
static void
test_offload_frame_waits(void **state)
{
	static struct rh_env e;
	struct rte_mbuf *a, *b, *got;

	(void)state;
	fake_reset();
	rh_env_setup(&e, feat(false, false) | BIT(VIRTIO_NET_F_MTU), 256, 0);
	live = &e;
	vhu_vq_quiesce(e.rxq);
	vhu_vq_set_net_locked(e.rxq, false, 1000);
	vhu_vq_resume(e.rxq);
	bind_q(&e, skel >= 0 ? skel : 0, 1);
	rh_post_rx_n(&e, 2, 2048);
	a = rh_make_chain(600, 1, false);
	b = rh_make_chain(1500, 2, false);
	assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, &a, 1), 1);
	assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, &b, 1), 0);
	fake_allow = fake_next;
	assert_int_equal(vhu_enqueue_poll_completed(e.dev, 0, &got, 1), 1);
	assert_ptr_equal(got, a);
	rh_rx_check_frame(&e, 600, 1);
	rte_pktmbuf_free(got);
	assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, &b, 1), 1);
	assert_int_equal(e.rxq->stats.drops_mtu, 1);
	assert_int_equal(vhu_enqueue_poll_completed(e.dev, 0, &got, 1), 1);
	assert_ptr_equal(got, b);
	rte_pktmbuf_free(got);
	assert_int_equal(vtd_used_pending(&e.rx), 0);
	env_down(&e);
}

/* The engine refuses every copy: the core does them, counted. */
static void
test_fallback_refused(void **state)
{
	static struct rh_env e;
	struct rte_mbuf *pkts[8];

	(void)state;
	fake_reset();
	fake_refuse = true;
	rh_env_setup(&e, feat(true, true), 256, 65535);
	live = &e;
	bind_q(&e, skel >= 0 ? skel : 0, 0);
	assert_int_equal(rh_post_rx_buffers(&e, 40, 0), 40);
	for (int i = 0; i < 8; i++)
		pkts[i] = rh_make_chain(sizes[i], 90 + i, i % 2);
	assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, pkts, 8), 8);
	/* all copies made by the core: published at submit */
	for (int i = 0; i < 8; i++)
		rh_rx_check_frame(&e, sizes[i], 90 + i);
	collect_n(&e, pkts, 8);
	assert_int_equal(e.rxq->stats.dma_copies, 0);
	assert_true(e.rxq->stats.dma_fallbacks >= 6);
	env_down(&e);
}

/* The engine reports failed copies: the core redoes them, counted. */
static void
test_fallback_error_status(void **state)
{
	static struct rh_env e;
	struct rte_mbuf *pkts[8];

	(void)state;
	fake_reset();
	fake_auto = true;
	fake_fail_every = 3;
	rh_env_setup(&e, feat(false, false), 256, 7);
	live = &e;
	bind_q(&e, skel >= 0 ? skel : 0, 1);
	rh_post_rx_n(&e, 8, 9100);
	for (int i = 0; i < 8; i++)
		pkts[i] = rh_make_chain(sizes[i], 110 + i, true);
	assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, pkts, 8), 8);
	collect_n(&e, pkts, 8);
	for (int i = 0; i < 8; i++)
		rh_rx_check_frame(&e, sizes[i], 110 + i);
	assert_true(fake_failed > 0);
	assert_int_equal(e.rxq->stats.dma_fallbacks, fake_failed);
	env_down(&e);
}

/*
 * With LOG_ALL, a page the engine writes is marked dirty once the copy
 * is reported, not before (the frontend would copy it too early).
 */
static void
test_dirty_log_at_completion(void **state)
{
	static struct rh_env e;
	struct rte_mbuf *m, *got;
	uint32_t len = 12000;
	int h;
	uint64_t gpa;

	(void)state;
	fake_reset();
	rh_env_setup_opts(&e, feat(false, false) | BIT(VHOST_F_LOG_ALL), 256,
			  0, &(struct vtd_opts){ .log = true });
	live = &e;
	assert_true(e.rxq->flags & VHU_VQ_F_LOG);
	bind_q(&e, skel >= 0 ? skel : 0, 256);
	h = vtd_post_rx(&e.rx, &len, 1, false);
	assert_true(h >= 0);
	vtd_publish(&e.rx);
	gpa = e.rx.chains[h].b[0].gpa;
	vtd_log_clear(&e.rx);
	m = rh_make_chain(9000, 5, true);
	assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, &m, 1), 1);
	/* the header's page is written (by the core); 8 KiB on is not yet */
	assert_true(vtd_log_test(&e.rx, gpa));
	assert_false(vtd_log_test(&e.rx, gpa + 8192));
	fake_allow = fake_next;
	assert_int_equal(vhu_enqueue_poll_completed(e.dev, 0, &got, 1), 1);
	assert_ptr_equal(got, m);
	assert_true(vtd_log_test(&e.rx, gpa + 4096));
	assert_true(vtd_log_test(&e.rx, gpa + 8192));
	rh_rx_check_frame(&e, 9000, 5);
	rte_pktmbuf_free(got);
	env_down(&e);
}

/* Binding rules, and a submit with no room or no binding. */
static void
test_bind_rules(void **state)
{
	static struct rh_env e;
	struct rte_mbuf *m;
	struct vhu_async_params big = { .max_inflight = 40000 };

	(void)state;
	fake_reset();
	rh_env_setup(&e, feat(false, false), 256, 0);
	live = &e;
	m = rh_make_chain(1000, 3, false);
	assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, &m, 1), 0);
	assert_int_equal(vhu_async_inflight(e.dev, 0, VHU_ASYNC_ENQUEUE),
			 -ENOENT);
	assert_int_equal(vhu_async_unbind(e.dev, 0, VHU_ASYNC_ENQUEUE),
			 -ENOENT);
	assert_int_equal(vhu_async_bind(NULL, 0, VHU_ASYNC_ENQUEUE, 0, 0,
					NULL), -EINVAL);
	assert_int_equal(vhu_async_bind(e.dev, 1, VHU_ASYNC_ENQUEUE, 0, 0,
					NULL), -ENODEV);
	if (skel >= 0) {
		/* one channel serves one queue: dequeue, then enqueue */
		assert_int_equal(vhu_async_bind(e.dev, 0, VHU_ASYNC_DEQUEUE,
						skel, 0, NULL), 0);
		assert_int_equal(vhu_async_bind(e.dev, 0, VHU_ASYNC_ENQUEUE,
						skel, 0, NULL), -EBUSY);
		assert_int_equal(vhu_async_unbind(e.dev, 0, VHU_ASYNC_DEQUEUE),
				 0);
		assert_int_equal(vhu_async_bind(e.dev, 0, VHU_ASYNC_ENQUEUE,
						skel, 1, NULL), -EINVAL);
		assert_int_equal(vhu_async_bind(e.dev, 0, VHU_ASYNC_ENQUEUE,
						skel, 0, &big), -EINVAL);
		assert_int_equal(vhu_async_bind(e.dev, 0, VHU_ASYNC_ENQUEUE,
						skel, 0, NULL), 0);
		assert_int_equal(vhu_async_bind(e.dev, 0, VHU_ASYNC_ENQUEUE,
						skel, 0, NULL), -EBUSY);
		/* guest ring empty: nothing accepted, counted as a full ring */
		assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, &m, 1), 0);
		assert_int_equal(e.rxq->stats.drops_no_buf, 1);
		assert_int_equal(vhu_async_unbind(e.dev, 0, VHU_ASYNC_ENQUEUE),
				 0);
	}
	assert_int_equal(vhu_async_bind(e.dev, 0, VHU_ASYNC_ENQUEUE, 77, 0,
					NULL), -EINVAL);
	rte_pktmbuf_free(m);
	env_down(&e);
}

/*
 * Frames still held by the binding when the queue is destroyed
 * (vhu_fini) are freed with it: nothing leaks (ASan's leak check).
 */
static void
test_destroy_frees_held(void **state)
{
	static struct rh_env e;
	struct rte_mbuf *pkts[4];

	(void)state;
	fake_reset();
	fake_auto = true;
	rh_env_setup(&e, feat(false, false), 256, 0);
	live = &e;
	bind_q(&e, skel >= 0 ? skel : 0, 256);
	rh_post_rx_n(&e, 4, 9100);
	for (int i = 0; i < 4; i++)
		pkts[i] = rh_make_chain(sizes[i], i, false);
	assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, pkts, 4), 4);
	assert_int_equal(vhu_async_inflight(e.dev, 0, VHU_ASYNC_ENQUEUE), 4);
	env_down(&e);
	/* the mbufs went back to their pool */
	assert_int_equal(rte_mempool_in_use_count(rh_pool), 0);
	assert_int_equal(rte_mempool_in_use_count(rh_seg_pool), 0);
}

/* ------------------------------------------ guest buffers on submit */

/*
 * e made live with a receive queue bound to the fake engine (copies
 * reported as soon as polled with autoc, else when fake_allow says),
 * frames from 256 bytes on the engine.
 */
static void
enq_env(struct rh_env *e, uint64_t features, uint16_t size, uint16_t base,
	bool autoc)
{
	fake_reset();
	fake_auto = autoc;
	rh_env_setup(e, features, size, base);
	live = e;
	bind_q(e, skel >= 0 ? skel : 0, 256);
}

/*
 * Too few buffers, either layout: the frames that find none wait with the
 * caller (counted once per frame and once per call), the others are
 * delivered; without mergeable buffers a frame larger than one buffer
 * takes none (it never spreads over two), with them a frame waits until
 * all the buffers it needs are there.
 */
static void
test_submit_no_room(void **state)
{
	for (int packed = 0; packed < 2; packed++) {
		static struct rh_env e;
		struct rte_mbuf *pkts[4], *big;
		const uint32_t short_len = 1000;

		(void)state;
		enq_env(&e, feat(false, false) |
			(packed ? BIT(VIRTIO_F_RING_PACKED) : 0), 16,
			packed ? RH_WRAP | 14 : 65530, true);
		/* two buffers, each too short for the big frame */
		rh_post_rx_n(&e, 2, short_len);
		big = rh_make_chain(short_len + 100, 500, false);
		assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, &big, 1),
				 0);
		assert_int_equal(e.rxq->stats.drops_no_buf, 1);
		rte_pktmbuf_free(big);
		/* the same two buffers for four frames: two go */
		for (int i = 0; i < 4; i++)
			pkts[i] = rh_make_chain(900, 510 + i, false);
		assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, pkts, 4),
				 2);
		assert_int_equal(e.rxq->stats.drops_no_buf, 3);
		assert_int_equal(e.rxq->stats.enqueue_full, 2);
		assert_int_equal(e.rxq->stats.packets, 2);
		assert_int_equal(e.rxq->stats.bytes, 2 * 900);
		collect_n(&e, pkts, 2);
		for (int i = 0; i < 2; i++)
			rh_rx_check_frame(&e, 900, 510 + i);
		rte_pktmbuf_free(pkts[2]);
		rte_pktmbuf_free(pkts[3]);
		assert_false(e.rxq->broken);
		assert_int_equal(e.rxq->stats.desc_errors, 0);
		env_down(&e);
		/* mergeable: one buffer of the two a frame needs */
		enq_env(&e, feat(true, false) |
			(packed ? BIT(VIRTIO_F_RING_PACKED) : 0), 16,
			packed ? RH_WRAP | 15 : 65535, true);
		rh_post_rx_n(&e, 1, short_len);
		big = rh_make_chain(short_len + 100, 520, false);
		assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, &big, 1),
				 0);
		assert_int_equal(e.rxq->stats.drops_no_buf, 1);
		assert_int_equal(vtd_used_pending(&e.rx), 0);
		/* the second buffer: the frame goes, over both */
		rh_post_rx_n(&e, 1, short_len);
		assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, &big, 1),
				 1);
		collect_n(&e, &big, 1);
		rh_rx_check_frame(&e, short_len + 100, 520);
		assert_false(e.rxq->broken);
		env_down(&e);
	}
}

/*
 * A packed ring whose every slot holds a frame in flight: a guest that
 * makes slot 0 available again before it was given back gets no frame
 * in it (the slot is still the device's); the queue carries on and the
 * frames come out whole once the engine finished.
 */
static void
test_packed_ring_in_flight(void **state)
{
	static struct rh_env e;
	struct rte_mbuf *pkts[16], *more;

	(void)state;
	enq_env(&e, feat(false, false) | BIT(VIRTIO_F_RING_PACKED), 16,
		RH_WRAP, false);
	rh_post_rx_n(&e, 16, 2048);
	for (int i = 0; i < 16; i++)
		pkts[i] = rh_make_chain(1000 + i, 600 + i, false);
	assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, pkts, 16), 16);
	/* slot 0 again, next lap: made available by a misbehaving guest */
	vhu_atomic_store_u16(&e.rx.pdesc[0].flags,
			     VRING_DESC_F_WRITE | vtd_pavail_bits(false),
			     memory_order_release);
	more = rh_make_chain(1000, 700, false);
	assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, &more, 1), 0);
	rte_pktmbuf_free(more);
	assert_int_equal(vhu_async_inflight(e.dev, 0, VHU_ASYNC_ENQUEUE), 16);
	assert_true(e.rxq->ready);
	assert_false(e.rxq->broken);
	assert_int_equal(e.rxq->stats.drops_no_buf, 1);
	assert_int_equal(vtd_used_pending(&e.rx), 0);
	fake_allow = fake_next;
	collect_n(&e, pkts, 16);
	for (int i = 0; i < 16; i++)
		rh_rx_check_frame(&e, 1000 + i, 600 + i);
	env_down(&e);
}

/*
 * A packed chain that reaches into slots held by frames in flight
 * (more descriptors than the ring has free; the guest made the held slot
 * available again) breaks the queue, whether the frames before it in the
 * ring came in an earlier burst or partly in the same one; the frames
 * accepted are freed with the queue. Ring of 16: frames in slots 0-14
 * (the first burst takes `early` of them), then a chain of slot 15 and
 * slot 0.
 */
static void
test_packed_chain_overlaps_in_flight(void **state)
{
	static const uint16_t early_cases[] = { 15, 10 };

	for (size_t c = 0; c < RTE_DIM(early_cases); c++) {
		static struct rh_env e;
		const uint16_t early = early_cases[c];
		struct rte_mbuf *pkts[16];
		struct vring_packed_desc *d;

		(void)state;
		enq_env(&e, feat(false, false) |
			BIT(VIRTIO_F_RING_PACKED), 16, RH_WRAP, false);
		for (int i = 0; i < 16; i++)
			pkts[i] = rh_make_chain(1000, 800 + i, false);
		rh_post_rx_n(&e, early, 2048);
		assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, pkts,
							  early), early);
		rh_post_rx_n(&e, 15 - early, 2048);
		/* slot 0 (frame 0's) next lap, then slot 15 chained to it */
		d = e.rx.pdesc;
		vhu_atomic_store_u16(&d[0].flags, VRING_DESC_F_WRITE |
				     vtd_pavail_bits(false),
				     memory_order_relaxed);
		d[15].addr = vtd_alloc(&e.rx, 1024, 8);
		d[15].len = 1024;
		d[15].id = 3;
		vhu_atomic_store_u16(&d[15].flags, VRING_DESC_F_WRITE |
				     VRING_DESC_F_NEXT | vtd_pavail_bits(true),
				     memory_order_release);
		assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0,
							  pkts + early,
							  16 - early),
				 15 - early);
		rte_pktmbuf_free(pkts[15]);
		rh_expect_broken(e.rxq, e.err_rx);
		assert_int_equal(e.rxq->stats.drops_no_buf, 0);
		assert_int_equal(vhu_async_inflight(e.dev, 0,
						    VHU_ASYNC_ENQUEUE), 15);
		fake_allow = fake_next; /* the teardown's drain finds them */
		env_down(&e);
	}
}

/*
 * A receive buffer the device may not write (virtio 1.2 §2.7.4) breaks
 * the queue at submit, either layout: nothing accepted, nothing counted
 * as a want of buffers.
 */
static void
test_submit_readonly_buffer(void **state)
{
	for (int packed = 0; packed < 2; packed++) {
		static struct rh_env e;
		struct rte_mbuf *m;
		struct vtd_buf b;

		(void)state;
		enq_env(&e, feat(true, false) |
			(packed ? BIT(VIRTIO_F_RING_PACKED) : 0), 256,
			packed ? RH_WRAP | 3 : 7, true);
		b.gpa = vtd_alloc(&e.rx, 2048, 8);
		b.len = 2048;
		assert_true(vtd_add(&e.rx, &b, 1, false, false) >= 0);
		vtd_publish(&e.rx);
		m = rh_make_chain(100, 1, false);
		assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, &m, 1), 0);
		rte_pktmbuf_free(m);
		rh_expect_broken(e.rxq, e.err_rx);
		assert_int_equal(e.rxq->stats.drops_no_buf, 0);
		assert_true(e.txq->ready);
		env_down(&e);
	}
}

/*
 * Mergeable buffers: a later buffer of a frame that takes it past the
 * pieces a frame may have (VHU_MAX_PIECES) only ends the search (the
 * frame waits, the queue carries on); on a frame's first buffer it would
 * break the queue. Two buffers of 64 one-byte pieces, a third of 64
 * larger ones.
 */
static void
test_submit_later_buffer_too_many_pieces(void **state)
{
	for (int packed = 0; packed < 2; packed++) {
		static struct rh_env e;
		static uint32_t tiny[64], wide[64];
		struct rte_mbuf *m;

		(void)state;
		RTE_BUILD_BUG_ON(2 * RTE_DIM(tiny) != VHU_MAX_PIECES);
		enq_env(&e, feat(true, false) |
			(packed ? BIT(VIRTIO_F_RING_PACKED) : 0), 256,
			packed ? RH_WRAP : 0, true);
		for (size_t i = 0; i < RTE_DIM(tiny); i++) {
			tiny[i] = 1;
			wide[i] = 64;
		}
		assert_true(vtd_post_rx(&e.rx, tiny, 64, false) >= 0);
		assert_true(vtd_post_rx(&e.rx, tiny, 64, false) >= 0);
		assert_true(vtd_post_rx(&e.rx, wide, 64, false) >= 0);
		vtd_publish(&e.rx);
		m = rh_make_chain(1000, 2, false);
		assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, &m, 1), 0);
		rte_pktmbuf_free(m);
		assert_false(e.rxq->broken);
		assert_true(e.rxq->ready);
		assert_int_equal(e.rxq->stats.drops_no_buf, 1);
		assert_int_equal(vtd_used_pending(&e.rx), 0);
		env_down(&e);
	}
}

/*
 * Submit's and poll's entry rules: no binding, a NULL array or pool, a
 * stopped queue (either direction): nothing taken. A submit takes at most VHU_BURST_MAX
 * frames and the binding's free frame slots (max_inflight), and runs
 * the queue's poll hooks (here: a kick's latency is taken).
 */
static void
test_entry_rules(void **state)
{
	static struct rh_env e;
	static struct rte_mbuf *pkts[VHU_BURST_MAX + 1];
	struct rte_mbuf *got[4];

	(void)state;
	enq_env(&e, feat(false, false), 1024, 0, true);
	/* the transmit queue has no binding */
	assert_int_equal(vhu_dequeue_submit_burst(e.dev, 0, rh_pool, 4), 0);
	assert_int_equal(vhu_dequeue_poll_completed(e.dev, 0, got, 4), 0);
	rh_post_rx_n(&e, VHU_BURST_MAX + 1, 2048);
	assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, NULL, 1), 0);
	assert_int_equal(vhu_enqueue_poll_completed(e.dev, 0, NULL, 4), 0);
	for (int i = 0; i <= VHU_BURST_MAX; i++)
		pkts[i] = rh_make_chain(1000, 300 + i, false);
	e.rxq->kick_tsc = rte_get_tsc_cycles();
	e.rxq->flags |= VHU_VQ_F_KICKED;
	assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, pkts,
						  VHU_BURST_MAX + 1),
			 VHU_BURST_MAX);
	assert_false(e.rxq->flags & VHU_VQ_F_KICKED);
	collect_n(&e, pkts, VHU_BURST_MAX);
	/* stopped: the buffer left stays the guest's */
	vhu_vq_quiesce(e.rxq);
	vhu_vq_stop_locked(e.rxq);
	vhu_vq_resume(e.rxq);
	assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0,
						  &pkts[VHU_BURST_MAX], 1), 0);
	rte_pktmbuf_free(pkts[VHU_BURST_MAX]);
	env_down(&e);

	/* two frames in flight at most */
	fake_reset();
	fake_auto = true;
	rh_env_setup(&e, feat(false, false), 256, 0);
	live = &e;
	assert_int_equal(vhu_async_bind(e.dev, 0, VHU_ASYNC_ENQUEUE,
					skel >= 0 ? skel : 0, 0,
					&(struct vhu_async_params){
						.max_inflight = 2 }), 0);
	rh_post_rx_n(&e, 4, 2048);
	for (int i = 0; i < 4; i++)
		pkts[i] = rh_make_chain(1000, 400 + i, false);
	assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, pkts, 4), 2);
	assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, pkts + 2, 2), 0);
	collect_n(&e, pkts, 2);
	assert_int_equal(vhu_enqueue_submit_burst(e.dev, 0, pkts + 2, 2), 2);
	collect_n(&e, pkts + 2, 2);
	for (int i = 0; i < 4; i++)
		rh_rx_check_frame(&e, 1000, 400 + i);
	/* a stopped transmit queue: its chain stays the guest's */
	assert_int_equal(vhu_async_unbind(e.dev, 0, VHU_ASYNC_ENQUEUE), 0);
	assert_int_equal(vhu_async_bind(e.dev, 0, VHU_ASYNC_DEQUEUE,
					skel >= 0 ? skel : 0, 0, NULL), 0);
	rh_post_tx_n(&e, 1, (const uint8_t *)"frame", 5, 1);
	vhu_vq_quiesce(e.txq);
	vhu_vq_stop_locked(e.txq);
	vhu_vq_resume(e.txq);
	assert_int_equal(vhu_dequeue_submit_burst(e.dev, 0, rh_pool, 4), 0);
	assert_int_equal(vhu_async_inflight(e.dev, 0, VHU_ASYNC_DEQUEUE), 0);
	env_down(&e);
}

/* ------------------------------------------------------------ dequeue */

/* The guest posts n frames (sizes cycling), each in nbufs buffers. */
static void
post_tx_frames(struct rh_env *e, int n, uint32_t seed0, const uint32_t *lens)
{
	static uint8_t frame[9000];

	for (int i = 0; i < n; i++) {
		rh_fill(frame, lens[i], seed0 + i);
		assert_true(vtd_post_tx(&e->tx, frame, lens[i], e->hdr_len,
					1 + i % 3, i % 4 == 3 && e->ind) >= 0);
	}
	vtd_publish(&e->tx);
}

/* Poll until n frames came back (bounded: 5 s); check and free them. */
static void
deq_collect(struct rh_env *e, int n, uint32_t seed0, const uint32_t *lens)
{
	struct rte_mbuf *got[64];
	uint64_t deadline = rte_get_timer_cycles() + 5 * rte_get_timer_hz();
	int have = 0;

	while (have < n) {
		uint16_t r = vhu_dequeue_poll_completed(e->dev, 0, got,
							RTE_DIM(got));

		for (uint16_t i = 0; i < r; i++) {
			assert_true(have < n);
			rh_check_mbuf(got[i], lens[have], seed0 + have);
			rte_pktmbuf_free(got[i]);
			have++;
		}
		if (r == 0)
			assert_true(rte_get_timer_cycles() < deadline);
	}
	assert_int_equal(vhu_async_inflight(e->dev, 0, VHU_ASYNC_DEQUEUE), 0);
	/* every buffer back to the guest */
	assert_int_equal(vtd_used_pending(&e->tx), n);
	for (int i = 0; i < n; i++) {
		uint32_t id, len;

		assert_true(vtd_get_used(&e->tx, &id, &len));
		assert_int_equal(len, 0);
	}
}

/*
 * Dequeue on dma_skeleton: frames of all sizes, chained and indirect,
 * over several laps of the ring (features pick the layout).
 */
static void
deq_skeleton_rounds(uint64_t features, uint16_t size, uint16_t base)
{
	static struct rh_env e;
	static const uint32_t sizes_tx[] = { 60, 1514, 300, 9000, 64, 4000,
					     257, 2048, 3000, 128 };
	uint32_t lens[20];
	uint32_t seed = 0;

	if (skel < 0)
		skip();
	vhu_async_engine = &vhu_async_engine_dmadev;
	rh_env_setup(&e, features, size, base);
	live = &e;
	assert_int_equal(vhu_async_bind(e.dev, 0, VHU_ASYNC_DEQUEUE, skel, 0,
					&(struct vhu_async_params){
						.copy_threshold = 128 }), 0);
	for (int round = 0; round < 40; round++) {
		for (int i = 0; i < 20; i++)
			lens[i] = sizes_tx[(round + i) % RTE_DIM(sizes_tx)];
		post_tx_frames(&e, 20, seed, lens);
		assert_int_equal(vhu_dequeue_submit_burst(e.dev, 0, rh_pool,
							  20), 20);
		deq_collect(&e, 20, seed, lens);
		seed += 20;
	}
	assert_true(e.txq->stats.dma_copies > 0);
	assert_int_equal(e.txq->stats.dma_fallbacks, 0);
	assert_int_equal(e.txq->stats.packets, 800);
	assert_int_equal(vhu_async_unbind(e.dev, 0, VHU_ASYNC_DEQUEUE), 0);
	rh_expect_clean(&e);
	env_down(&e);
}

static void
test_deq_skeleton_rounds(void **state)
{
	(void)state;
	deq_skeleton_rounds(feat(true, true), 256, 65530);
}

/* Packed: mergeable and indirect, 256 slots, from the end of a lap. */
static void
test_deq_skeleton_packed(void **state)
{
	(void)state;
	deq_skeleton_rounds(feat(true, true) | BIT(VIRTIO_F_RING_PACKED), 256,
			    RH_WRAP | 250);
}

/* Packed, a ring size that is not a power of two, 3 slots from its end. */
static void
test_deq_skeleton_packed_odd(void **state)
{
	(void)state;
	deq_skeleton_rounds(feat(false, false) | BIT(VIRTIO_F_RING_PACKED),
			    300, RH_WRAP | 297);
}

/*
 * Dequeue ordering: a large frame's copies held back, a short one after
 * it copied by the core: neither buffer goes back to the guest, nor
 * mbuf to the caller, before the first is done.
 */
static void
test_deq_order_held_back(void **state)
{
	static struct rh_env e;
	static const uint32_t lens[3] = { 1500, 60, 700 };

	(void)state;
	fake_reset();
	rh_env_setup(&e, feat(false, false), 256, 65535);
	live = &e;
	assert_int_equal(vhu_async_bind(e.dev, 0, VHU_ASYNC_DEQUEUE,
					skel >= 0 ? skel : 0, 0,
					&(struct vhu_async_params){
						.copy_threshold = 256 }), 0);
	post_tx_frames(&e, 3, 500, lens);
	assert_int_equal(vhu_dequeue_submit_burst(e.dev, 0, rh_pool, 3), 3);
	/* the plain dequeue waits for the frames in flight */
	{
		struct rte_mbuf *m;

		assert_int_equal(vhu_dequeue_burst(e.dev, 0, rh_pool, &m, 1),
				 0);
		assert_int_equal(vhu_dequeue_poll_completed(e.dev, 0, &m, 1),
				 0);
	}
	assert_int_equal(vtd_used_pending(&e.tx), 0);
	fake_auto = true;
	deq_collect(&e, 3, 500, lens);
	env_down(&e);
}

/* ---------------------------------------------------- packed dequeue */

static void
bind_deq(struct rh_env *e, uint32_t threshold)
{
	assert_int_equal(vhu_async_bind(e->dev, 0, VHU_ASYNC_DEQUEUE,
					skel >= 0 ? skel : 0, 0,
					&(struct vhu_async_params){
						.copy_threshold = threshold }),
			 0);
}

/* The guest posts one frame in nbufs buffers (not published): its id. */
static int
post_tx_one(struct rh_env *e, uint32_t len, uint32_t seed, int nbufs,
	    bool indirect)
{
	static uint8_t frame[9000];
	int h;

	rh_fill(frame, len, seed);
	h = vtd_post_tx(&e->tx, frame, len, e->hdr_len, nbufs, indirect);
	assert_true(h >= 0);
	return h;
}

/*
 * Frames finish out of ring order: a long chain (three buffers, the
 * ring's wrap inside it) held back on the engine, a short frame after it
 * copied by the core at once, an indirect one on the engine, then one
 * whose copy the engine refused (the core's, counted) and a short one.
 * No used descriptor is written and no mbuf handed over before every
 * frame ahead of it finished; then in ring order, ids echoed, every
 * byte checked.
 */
static void
test_deq_packed_order(void **state)
{
	static struct rh_env e;
	static const uint32_t lens[5] = { 3000, 60, 700, 1500, 100 };
	static const int nbufs[5] = { 3, 1, 2, 1, 2 };
	struct rte_mbuf *got[5], *m;
	uint16_t mark0, mark1, mark2;
	int ids[5];

	(void)state;
	fake_reset();
	rh_env_setup(&e, feat(false, true) | BIT(VIRTIO_F_RING_PACKED), 256,
		     RH_WRAP | 254);
	live = &e;
	bind_deq(&e, 256);
	for (int i = 0; i < 5; i++)
		ids[i] = post_tx_one(&e, lens[i], 700 + i, nbufs[i], i == 2);
	vtd_publish(&e.tx);
	mark0 = fake_next;
	assert_int_equal(vhu_dequeue_submit_burst(e.dev, 0, rh_pool, 1), 1);
	mark1 = fake_next;
	/* 3 guest buffers into 2 mbufs: several copies */
	assert_true((uint16_t)(mark1 - mark0) >= 3);
	assert_int_equal(vhu_dequeue_submit_burst(e.dev, 0, rh_pool, 2), 2);
	mark2 = fake_next;
	assert_true(mark2 != mark1);
	fake_refuse = true;
	assert_int_equal(vhu_dequeue_submit_burst(e.dev, 0, rh_pool, 2), 2);
	fake_refuse = false;
	assert_true(e.txq->stats.dma_fallbacks >= 1);
	assert_int_equal(vhu_async_inflight(e.dev, 0, VHU_ASYNC_DEQUEUE), 5);
	assert_int_equal(vtd_used_pending(&e.tx), 0);
	/* the plain dequeue waits for the frames in flight */
	assert_int_equal(vhu_dequeue_burst(e.dev, 0, rh_pool, &m, 1), 0);
	/* all of the first frame's copies but its last: nothing */
	fake_allow = (uint16_t)(mark1 - 1);
	assert_int_equal(vhu_dequeue_poll_completed(e.dev, 0, got, 5), 0);
	assert_int_equal(vtd_used_pending(&e.tx), 0);
	/* the first frame done: it and the core's short one; not the rest */
	fake_allow = mark1;
	assert_int_equal(vhu_dequeue_poll_completed(e.dev, 0, got, 5), 2);
	assert_int_equal(vtd_used_pending(&e.tx), 2);
	fake_allow = mark2;
	assert_int_equal(vhu_dequeue_poll_completed(e.dev, 0, got + 2, 3), 3);
	assert_int_equal(vtd_used_pending(&e.tx), 5);
	for (int i = 0; i < 5; i++) {
		uint32_t id, len;

		rh_check_mbuf(got[i], lens[i], 700 + i);
		rte_pktmbuf_free(got[i]);
		assert_true(vtd_get_used(&e.tx, &id, &len));
		assert_int_equal(id, ids[i]);
		assert_int_equal(len, 0);
	}
	assert_int_equal(vhu_async_inflight(e.dev, 0, VHU_ASYNC_DEQUEUE), 0);
	assert_int_equal(e.txq->stats.packets, 5);
	rh_expect_clean(&e);
	env_down(&e);
}

/*
 * Stopping a packed transmit ring (the control context quiesces it, as
 * for GET_VRING_BASE, a disconnect or a memory-table change) lets the
 * copies in flight land and writes their used descriptors first: the
 * used slot has caught up with the avail slot when the base is read.
 */
static void
test_deq_packed_drain_on_stop(void **state)
{
	static struct rh_env e;
	uint32_t base;

	(void)state;
	fake_reset();
	fake_auto = true; /* copies happen only when the engine is polled */
	rh_env_setup(&e, feat(true, true) | BIT(VIRTIO_F_RING_PACKED), 256,
		     RH_WRAP | 250);
	live = &e;
	bind_deq(&e, 1); /* every frame on the engine */
	post_tx_frames(&e, 8, 300, sizes);
	assert_int_equal(vhu_dequeue_submit_burst(e.dev, 0, rh_pool, 8), 8);
	assert_int_equal(vtd_used_pending(&e.tx), 0);
	vhu_vq_quiesce(e.txq);
	base = vhu_vq_get_base_locked(e.txq);
	assert_int_equal(base & 0xffff, base >> 16);
	/* 8 frames in 14 slots from slot 250: slot 8, next lap (wrap 0) */
	assert_int_equal(base & 0xffff, 8);
	vhu_vq_stop_locked(e.txq);
	vhu_vq_resume(e.txq);
	assert_false(e.txq->ready);
	assert_int_equal(vtd_used_pending(&e.tx), 8);
	/* the mbufs come back from the stopped queue */
	deq_collect(&e, 8, 300, sizes);
	env_down(&e);
}

/* The engine refuses every copy: the core makes them, counted. */
static void
test_deq_packed_fallback_refused(void **state)
{
	static struct rh_env e;

	(void)state;
	fake_reset();
	fake_refuse = true;
	rh_env_setup(&e, feat(true, true) | BIT(VIRTIO_F_RING_PACKED), 256,
		     RH_WRAP | 2);
	live = &e;
	bind_deq(&e, 1);
	post_tx_frames(&e, 8, 400, sizes);
	assert_int_equal(vhu_dequeue_submit_burst(e.dev, 0, rh_pool, 8), 8);
	/* nothing left for the engine: all published at submit */
	assert_int_equal(vtd_used_pending(&e.tx), 8);
	deq_collect(&e, 8, 400, sizes);
	assert_int_equal(e.txq->stats.dma_copies, 0);
	assert_true(e.txq->stats.dma_fallbacks >= 8);
	rh_expect_clean(&e);
	env_down(&e);
}

/* The engine reports failed copies: the core redoes them, counted. */
static void
test_deq_packed_fallback_error(void **state)
{
	static struct rh_env e;
	uint16_t mark;

	(void)state;
	fake_reset();
	fake_auto = true;
	fake_fail_every = 3;
	rh_env_setup(&e, feat(false, false) | BIT(VIRTIO_F_RING_PACKED), 256,
		     RH_WRAP | 251);
	live = &e;
	bind_deq(&e, 1);
	mark = fake_next;
	post_tx_frames(&e, 8, 500, sizes);
	assert_int_equal(vhu_dequeue_submit_burst(e.dev, 0, rh_pool, 8), 8);
	deq_collect(&e, 8, 500, sizes);
	assert_true(fake_failed > 0);
	assert_int_equal(e.txq->stats.dma_fallbacks, fake_failed);
	assert_int_equal(e.txq->stats.dma_copies,
			 (uint16_t)(fake_next - mark) - fake_failed);
	rh_expect_clean(&e);
	env_down(&e);
}

/*
 * With LOG_ALL and a logged ring, a dequeue marks the page of the used
 * descriptors it wrote, once it wrote them (after the copies), and no
 * other: the engine writes only mbufs.
 */
static void
test_deq_packed_dirty_log(void **state)
{
	static struct rh_env e;
	static const uint32_t lens[2] = { 5000, 3000 };

	(void)state;
	fake_reset();
	rh_env_setup_opts(&e, feat(false, false) | BIT(VHOST_F_LOG_ALL) |
			  BIT(VIRTIO_F_RING_PACKED), 256, RH_WRAP,
			  &(struct vtd_opts){ .log = true });
	live = &e;
	assert_true(e.txq->flags & VHU_VQ_F_LOG);
	assert_true(e.txq->flags & VHU_VQ_F_LOG_USED);
	bind_deq(&e, 256);
	post_tx_frames(&e, 2, 600, lens);
	vtd_log_clear(&e.tx);
	assert_int_equal(vhu_dequeue_submit_burst(e.dev, 0, rh_pool, 2), 2);
	/* copies held: nothing written to the guest, nothing marked */
	assert_int_equal(vtd_log_count(&e.tx), 0);
	fake_allow = fake_next;
	deq_collect(&e, 2, 600, lens);
	assert_true(vtd_log_test(&e.tx, e.tx.desc_gpa));
	assert_int_equal(vtd_log_count(&e.tx), 1);
	rh_expect_clean(&e);
	env_down(&e);
}

/*
 * The slots of frames not yet published are the guest's no more, nor
 * free: with a whole ring in flight, a guest that makes the next slot
 * (the oldest frame's, still unpublished) look available again gets
 * nothing taken twice; the frames then publish as usual.
 */
static void
test_deq_packed_ring_in_flight(void **state)
{
	static struct rh_env e;
	static const uint32_t lens[16] = { 600, 700, 800, 900, 600, 700, 800,
					   900, 600, 700, 800, 900, 600, 700,
					   800, 900 };

	(void)state;
	fake_reset();
	rh_env_setup(&e, feat(false, false) | BIT(VIRTIO_F_RING_PACKED), 16,
		     RH_WRAP);
	live = &e;
	bind_deq(&e, 1);
	for (int i = 0; i < 16; i++)
		post_tx_one(&e, lens[i], 800 + i, 1, false);
	vtd_publish(&e.tx);
	assert_int_equal(vhu_dequeue_submit_burst(e.dev, 0, rh_pool, 32), 16);
	/* slot 0 again, next lap: made available by a misbehaving guest */
	vhu_atomic_store_u16(&e.tx.pdesc[0].flags, vtd_pavail_bits(false),
			     memory_order_release);
	assert_int_equal(vhu_dequeue_submit_burst(e.dev, 0, rh_pool, 32), 0);
	assert_int_equal(vhu_async_inflight(e.dev, 0, VHU_ASYNC_DEQUEUE), 16);
	assert_true(e.txq->ready);
	fake_allow = fake_next;
	deq_collect(&e, 16, 800, lens);
	rh_expect_clean(&e);
	env_down(&e);
}

/*
 * External and linear buffers (vhu.h) on the asynchronous dequeue of a
 * packed ring: with LINEAR | EXTBUF a 9000-byte frame comes back in one
 * segment, an external buffer the engine filled; with LINEAR alone it is
 * dropped and counted, its buffer still given back in ring order.
 */
static void
test_deq_packed_linear(void **state)
{
	static struct rh_env e;
	static const uint32_t lens[3] = { 9000, 600, 9000 };
	struct rte_mbuf *got[3];
	const uint8_t *p;

	(void)state;
	fake_reset();
	fake_auto = true;
	rh_env_setup(&e, feat(false, false) | BIT(VIRTIO_F_RING_PACKED), 256,
		     RH_WRAP);
	live = &e;
	vhu_vq_quiesce(e.txq);
	vhu_vq_set_sock_flags_locked(e.txq, VHU_VQ_F_LINEAR | VHU_VQ_F_EXTBUF);
	vhu_vq_resume(e.txq);
	bind_deq(&e, 256);
	post_tx_frames(&e, 1, 950, lens);
	assert_int_equal(vhu_dequeue_submit_burst(e.dev, 0, rh_pool, 1), 1);
	assert_int_equal(vhu_dequeue_poll_completed(e.dev, 0, got, 3), 1);
	assert_true(RTE_MBUF_HAS_EXTBUF(got[0]));
	assert_int_equal(got[0]->nb_segs, 1);
	assert_int_equal(got[0]->pkt_len, 9000);
	assert_int_equal(got[0]->data_len, 9000);
	p = rte_pktmbuf_mtod(got[0], const uint8_t *);
	for (uint32_t i = 0; i < 9000; i++)
		if (p[i] != rh_pattern(950, i))
			fail_msg("byte %u differs", i);
	rte_pktmbuf_free(got[0]);
	assert_true(e.txq->stats.dma_copies > 0);
	assert_int_equal(vtd_used_pending(&e.tx), 1);

	vhu_vq_quiesce(e.txq);
	vhu_vq_set_sock_flags_locked(e.txq, VHU_VQ_F_LINEAR);
	vhu_vq_resume(e.txq);
	post_tx_frames(&e, 3, 960, lens);
	assert_int_equal(vhu_dequeue_submit_burst(e.dev, 0, rh_pool, 3), 3);
	assert_int_equal(vhu_dequeue_poll_completed(e.dev, 0, got, 3), 1);
	rh_check_mbuf(got[0], 600, 961);
	rte_pktmbuf_free(got[0]);
	assert_int_equal(e.txq->stats.drops_no_buf, 2);
	assert_int_equal(vtd_used_pending(&e.tx), 4);
	assert_int_equal(vhu_async_inflight(e.dev, 0, VHU_ASYNC_DEQUEUE), 0);
	assert_int_equal(rte_mempool_in_use_count(rh_pool), 0);
	env_down(&e);
}

/* ------------------------------------------------------------- setup */

static int
eal_and_engine(void)
{
	char prefix[64];
	char *argv[] = {
		"vhu-async", "--no-huge", "-m", "256", "--no-pci",
		"--iova-mode=va", "--no-shconf", "--no-telemetry", prefix,
		"--vdev=dma_skeleton", "--log-level=lib.vhu.*:notice",
		"--log-level=lib.eal:error", NULL,
	};
	struct rte_dma_conf conf = { .nb_vchans = 1 };
	struct rte_dma_vchan_conf vc = {
		.direction = RTE_DMA_DIR_MEM_TO_MEM, .nb_desc = 1024,
	};

	snprintf(prefix, sizeof(prefix), "--file-prefix=vhu-async-%d",
		 (int)getpid());
	if (rte_eal_init(RTE_DIM(argv) - 1, argv) < 0)
		return -1;
	vhu_test_eal_tidy_at_exit();
	rh_pool = rte_pktmbuf_pool_create("async_pool", 8191, 0, 0,
					  RH_DATA_ROOM + RTE_PKTMBUF_HEADROOM,
					  SOCKET_ID_ANY);
	rh_seg_pool = rte_pktmbuf_pool_create("async_seg", 8191, 0, 0,
					      512 + RTE_PKTMBUF_HEADROOM,
					      SOCKET_ID_ANY);
	if (rh_pool == NULL || rh_seg_pool == NULL)
		return -1;
	skel = rte_dma_get_dev_id_by_name("dma_skeleton");
	if (skel < 0 || rte_dma_configure(skel, &conf) != 0 ||
	    rte_dma_vchan_setup(skel, 0, &vc) != 0 || rte_dma_start(skel) != 0) {
		fprintf(stderr, "dma_skeleton not available: its tests skip\n");
		skel = -1;
	}
	return 0;
}

int
main(void)
{
	static struct CMUnitTest tests[64];
	static const struct rh_cfg cells[] = {
		{ .mrg = false, .ind = false, .size = 256 },
		{ .mrg = true, .ind = false, .size = 256 },
		{ .mrg = false, .ind = true, .size = 1024 },
		{ .mrg = true, .ind = true, .size = 1024 },
		{ .mrg = false, .ind = false, .size = 256, .ino = true },
		{ .mrg = true, .ind = true, .size = 256, .ino = true },
		{ .mrg = true, .ind = false, .size = 1000, .ino = true },
	};
	static const char *names[] = {
		"skeleton_plain_256", "skeleton_mrg_256",
		"skeleton_ind_1024", "skeleton_mrg_ind_1024",
		"skeleton_packed_256", "skeleton_packed_mrg_ind_256",
		"skeleton_packed_mrg_1000",
	};
	const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_order_held_back),
		cmocka_unit_test(test_order_held_back_packed),
		cmocka_unit_test(test_drain_on_stop),
		cmocka_unit_test(test_drain_waits_for_slow_engine),
		cmocka_unit_test(test_broken_while_in_flight),
		cmocka_unit_test(test_offload_frame_waits),
		cmocka_unit_test(test_fallback_refused),
		cmocka_unit_test(test_fallback_error_status),
		cmocka_unit_test(test_dirty_log_at_completion),
		cmocka_unit_test(test_bind_rules),
		cmocka_unit_test(test_destroy_frees_held),
		cmocka_unit_test(test_submit_no_room),
		cmocka_unit_test(test_packed_ring_in_flight),
		cmocka_unit_test(test_packed_chain_overlaps_in_flight),
		cmocka_unit_test(test_submit_readonly_buffer),
		cmocka_unit_test(test_submit_later_buffer_too_many_pieces),
		cmocka_unit_test(test_entry_rules),
		cmocka_unit_test(test_deq_skeleton_rounds),
		cmocka_unit_test(test_deq_order_held_back),
		cmocka_unit_test(test_deq_skeleton_packed),
		cmocka_unit_test(test_deq_skeleton_packed_odd),
		cmocka_unit_test(test_deq_packed_order),
		cmocka_unit_test(test_deq_packed_drain_on_stop),
		cmocka_unit_test(test_deq_packed_fallback_refused),
		cmocka_unit_test(test_deq_packed_fallback_error),
		cmocka_unit_test(test_deq_packed_dirty_log),
		cmocka_unit_test(test_deq_packed_ring_in_flight),
		cmocka_unit_test(test_deq_packed_linear),
	};
	int n = 0, ret;

	if (eal_and_engine() != 0) {
		fprintf(stderr, "EAL or mempool set-up failed\n");
		return 1;
	}
	for (size_t i = 0; i < RTE_DIM(cells); i++)
	{
		rh_add(tests, &n, RTE_DIM(tests), names[i],
		       test_skeleton_rounds, (void *)&cells[i]);
		tests[n - 1].teardown_func = teardown_live;
	}
	/* appended here, not by rh_run(), which would drop the teardown */
	for (size_t i = 0; i < RTE_DIM(fixed); i++) {
		rh_add(tests, &n, RTE_DIM(tests), fixed[i].name,
		       fixed[i].test_func, NULL);
		tests[n - 1].teardown_func = teardown_live;
	}
	ret = rh_run("async", tests, n, RTE_DIM(tests), NULL, 0);
	if (skel >= 0) {
		rte_dma_stop(skel);
		rte_dma_close(skel);
	}
	return ret;
}
