/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Interrupt coalescing (vhu_vring_set_coalesce, vhu_vring_flush_calls),
 * both ring layouts, over the ring harness: the guest posts one-buffer
 * frames, the device moves them in bursts of a chosen size, and the test
 * counts the writes on the vring's call eventfd against the frames.
 * Off, it is today's rule (one call per burst the guest wants); with a
 * frame count, one call per that many buffers; with an interval, at most
 * one per interval; a held call is made later (by an empty burst or a
 * flush once due, by turning coalescing off) and never lost; the guest's
 * suppression (NO_INTERRUPT / DISABLE, EVENT_IDX) is still obeyed.
 * Lazy calls (VHU_SOCKET_LAZY_CALLS): after VHU_VQ_CALM_AFTER suppressed
 * checks a burst decides without the fence and owes the check; a guest
 * that turns calls on gets its call from the next burst or from a flush,
 * never loses it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "ring_harness.h"
#include "vhu_burst.h"

#define FRAME_LEN 60u
#define VR_RX 0
#define VR_TX 1
/* long enough that a loaded test machine does not reach it by accident */
#define LONG_US 200000u

static const bool split_s = false, packed_s = true;

static void
env_up(struct rh_env *e, void **state, uint64_t extra)
{
	bool packed = *(const bool *)*state;
	uint64_t f = BIT(VIRTIO_F_VERSION_1) | extra;

	if (packed)
		f |= BIT(VIRTIO_F_RING_PACKED);
	rh_env_setup(e, f, 256, 0);
	vtd_set_no_interrupt(&e->tx, false);
	vtd_set_no_interrupt(&e->rx, false);
}

static void
sleep_us(unsigned int us)
{
	struct timespec t = { .tv_sec = us / 1000000u,
			      .tv_nsec = (long)(us % 1000000u) * 1000 };

	nanosleep(&t, NULL);
}

/*
 * The guest sends n one-buffer frames; the device takes them in one burst.
 * Returns how many used buffers the guest then reclaims.
 */
static int
tx_burst(struct rh_env *e, int n)
{
	static uint8_t frame[FRAME_LEN];
	struct rte_mbuf *pkts[64];
	uint32_t id, len;
	uint16_t r;
	int used = 0;

	assert_true(n <= 64);
	if (n > 0)
		rh_post_tx_n(e, n, frame, FRAME_LEN, 1);
	r = vhu_dequeue_burst(e->dev, 0, rh_pool, pkts, 64);
	assert_int_equal(r, n);
	rte_pktmbuf_free_bulk(pkts, r);
	while (vtd_get_used(&e->tx, &id, &len))
		used++;
	return used;
}

/*
 * Two empty polls VHU_VQ_HOLD_US and more apart: a calm split transmit
 * vring releases the completions it held (lazy completions); elsewhere
 * nothing. Returns the buffers the guest reclaims.
 */
static int
tx_quiet(struct rh_env *e)
{
	int used = tx_burst(e, 0);

	sleep_us(5 * VHU_VQ_HOLD_US);
	return used + tx_burst(e, 0);
}

/* Off: one call per burst that published anything. */
static void
test_off(void **state)
{
	struct rh_env e;

	env_up(&e, state, 0);
	for (int i = 0; i < 10; i++)
		tx_burst(&e, 4);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 10);
	tx_burst(&e, 0);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 0);
	assert_int_equal(vhu_vring_flush_calls(e.dev, VR_TX), 0);
	/* explicitly off again: the same */
	assert_int_equal(vhu_vring_set_coalesce(e.dev, VR_TX, 0, 0), 0);
	tx_burst(&e, 4);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 1);
	assert_false(e.txq->flags & VHU_VQ_F_COALESCE);
	rh_env_teardown(&e);
}

/* A frame count: one call per 8 buffers; the rest when traffic pauses. */
static void
test_frames(void **state)
{
	struct rh_env e;

	env_up(&e, state, 0);
	assert_int_equal(vhu_vring_set_coalesce(e.dev, VR_TX, 0, 8), 0);
	for (int i = 0; i < 10; i++)
		tx_burst(&e, 4);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 5);
	assert_int_equal(e.txq->stats.calls, 5);
	/* 4 more are held; a poll notes nothing moved, the next calls */
	tx_burst(&e, 4);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 0);
	tx_burst(&e, 0);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 0);
	tx_burst(&e, 0);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 1);
	tx_burst(&e, 0);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 0);
	/* one big burst past the count: one call, not one per 8 */
	tx_burst(&e, 40);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 1);
	rh_env_teardown(&e);
}

/* An interval: the first call at once, then held until it has passed. */
static void
test_interval(void **state)
{
	struct rh_env e;

	env_up(&e, state, 0);
	assert_int_equal(vhu_vring_set_coalesce(e.dev, VR_TX, LONG_US, 0), 0);
	tx_burst(&e, 4);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 1);
	for (int i = 0; i < 5; i++)
		tx_burst(&e, 4);
	tx_burst(&e, 0);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 0);
	assert_true(e.txq->flags & VHU_VQ_F_CALL_HELD);
	assert_int_equal(vhu_vring_flush_calls(e.dev, VR_TX), -EAGAIN);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 0);
	/* past the interval, a flush makes the held call, once */
	sleep_us(LONG_US + 10000);
	assert_int_equal(vhu_vring_flush_calls(e.dev, VR_TX), 1);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 1);
	assert_int_equal(vhu_vring_flush_calls(e.dev, VR_TX), 0);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 0);
	rh_env_teardown(&e);
}

/* A held call is made by the next burst after the interval, even empty. */
static void
test_deferred_by_burst(void **state)
{
	struct rte_mbuf *none[1] = { NULL };
	struct rh_env e;
	uint32_t k = 0;

	env_up(&e, state, 0);
	assert_int_equal(vhu_vring_set_coalesce(e.dev, VR_TX, LONG_US, 0), 0);
	tx_burst(&e, 1);
	tx_burst(&e, 1);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 1);
	sleep_us(LONG_US + 10000);
	tx_burst(&e, 0);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 1);
	assert_false(e.txq->flags & VHU_VQ_F_CALL_HELD);

	/* the receive side, the same way: enqueue bursts */
	assert_int_equal(vhu_vring_set_coalesce(e.dev, VR_RX, LONG_US, 0), 0);
	rh_post_rx_n(&e, 8, 2048);
	for (int i = 0; i < 2; i++) {
		struct rte_mbuf *m = rh_make_chain(FRAME_LEN, k++, false);

		assert_int_equal(vhu_enqueue_burst(e.dev, 0, &m, 1), 1);
		rte_pktmbuf_free(m);
	}
	assert_int_equal(vtd_eventfd_take(e.call_rx), 1);
	sleep_us(LONG_US + 10000);
	/* an enqueue of nothing enters the queue: it makes the call */
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, none, 0), 0);
	assert_int_equal(vtd_eventfd_take(e.call_rx), 1);
	assert_int_equal(vhu_vring_flush_calls(e.dev, VR_RX), 0);
	rh_env_teardown(&e);
}

/* Turning coalescing off (or changing it) makes the held call at once. */
static void
test_off_flushes(void **state)
{
	struct rh_env e;

	env_up(&e, state, 0);
	assert_int_equal(vhu_vring_set_coalesce(e.dev, VR_TX, LONG_US, 0), 0);
	tx_burst(&e, 2);
	tx_burst(&e, 2);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 1);
	assert_int_equal(vhu_vring_set_coalesce(e.dev, VR_TX, 0, 0), 0);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 1);
	tx_burst(&e, 2);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 1);
	rh_env_teardown(&e);
}

/* The guest's NO_INTERRUPT (packed: DISABLE): no call, none held. */
static void
test_no_interrupt(void **state)
{
	struct rh_env e;

	env_up(&e, state, 0);
	assert_int_equal(vhu_vring_set_coalesce(e.dev, VR_TX, 1, 1), 0);
	vtd_set_no_interrupt(&e.tx, true);
	for (int i = 0; i < 4; i++)
		tx_burst(&e, 4);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 0);
	assert_false(e.txq->flags & VHU_VQ_F_CALL_HELD);
	assert_int_equal(vhu_vring_flush_calls(e.dev, VR_TX), 0);
	vtd_set_no_interrupt(&e.tx, false);
	tx_burst(&e, 4);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 1);
	rh_env_teardown(&e);
}

/* Turn lazy calls on (or off) for the transmit vring, as a socket would. */
static void
set_lazy(struct rh_env *e, bool on)
{
	vhu_vq_quiesce(e->txq);
	vhu_vq_set_sock_flags_locked(e->txq, on ? VHU_VQ_F_LAZY_CALLS : 0);
	vhu_vq_resume(e->txq);
	assert_true(e->txq->ready);
	assert_int_equal(!!(e->txq->flags & VHU_VQ_F_LAZY_CALLS), on);
}

/*
 * A polling guest: calm after VHU_VQ_CALM_AFTER suppressed bursts, then
 * each burst owes its check. The guest turns calls on as if it raced the
 * owed decision (it did so after the burst read its flags): the flush
 * makes the call, once; a later burst that sees calls wanted calls and
 * ends the calm.
 */
static void
test_lazy_owed(void **state)
{
	struct rh_env e;

	env_up(&e, state, 0);
	set_lazy(&e, true);
	vtd_set_no_interrupt(&e.tx, true);
	for (int i = 0; i < VHU_VQ_CALM_AFTER; i++)
		tx_burst(&e, 1);
	assert_int_equal(e.txq->calm, VHU_VQ_CALM_AFTER);
	assert_false(e.txq->flags & VHU_VQ_F_CALL_OWED);
	/* split: the burst's completions are held, and owed once released */
	tx_burst(&e, 2);
	tx_quiet(&e);
	assert_true(e.txq->flags & VHU_VQ_F_CALL_OWED);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 0);
	/* still suppressed: the fenced check settles it without a call */
	assert_int_equal(vhu_vring_flush_calls(e.dev, VR_TX), 0);
	assert_false(e.txq->flags & VHU_VQ_F_CALL_OWED);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 0);
	/* owed again, and the guest turns calls on behind the decision */
	tx_burst(&e, 2);
	tx_quiet(&e);
	assert_true(e.txq->flags & VHU_VQ_F_CALL_OWED);
	vtd_set_no_interrupt(&e.tx, false);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 0);
	assert_int_equal(vhu_vring_flush_calls(e.dev, VR_TX), 1);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 1);
	assert_int_equal(vhu_vring_flush_calls(e.dev, VR_TX), 0);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 0);
	assert_int_equal(e.txq->calm, 0);
	/* calm again, then a burst that finds calls wanted calls at once */
	vtd_set_no_interrupt(&e.tx, true);
	for (int i = 0; i <= VHU_VQ_CALM_AFTER; i++)
		tx_burst(&e, 1);
	tx_quiet(&e);
	assert_true(e.txq->flags & VHU_VQ_F_CALL_OWED);
	vtd_set_no_interrupt(&e.tx, false);
	tx_burst(&e, 1);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 1);
	assert_false(e.txq->flags & VHU_VQ_F_CALL_OWED);
	assert_int_equal(e.txq->calm, 0);
	rh_env_teardown(&e);
}

/*
 * Never calm: without the socket flag, with calls wanted in between
 * (a guest in interrupt mode), or with coalescing on.
 */
static void
test_lazy_never(void **state)
{
	struct rh_env e;

	env_up(&e, state, 0);
	vtd_set_no_interrupt(&e.tx, true);
	for (int i = 0; i < 2 * VHU_VQ_CALM_AFTER; i++)
		tx_burst(&e, 1);
	assert_int_equal(e.txq->calm, 0);
	set_lazy(&e, true);
	for (int i = 0; i < 2 * VHU_VQ_CALM_AFTER; i++) {
		vtd_set_no_interrupt(&e.tx, i % 32 == 31);
		tx_burst(&e, 1);
	}
	assert_true(e.txq->calm < VHU_VQ_CALM_AFTER);
	assert_false(e.txq->flags & VHU_VQ_F_CALL_OWED);
	assert_int_equal(e.txq->held_adv, 0);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 2 * VHU_VQ_CALM_AFTER - 4);
	assert_int_equal(vhu_vring_set_coalesce(e.dev, VR_TX, 0, 1), 0);
	vtd_set_no_interrupt(&e.tx, true);
	for (int i = 0; i < 2 * VHU_VQ_CALM_AFTER; i++)
		tx_burst(&e, 1);
	assert_int_equal(e.txq->calm, 0);
	assert_false(e.txq->flags & VHU_VQ_F_CALL_OWED);
	rh_env_teardown(&e);
}

/*
 * Lazy completions (vq.h, VHU_VQ_HOLD_US), split: once calm, a burst's
 * used buffers reach the guest with the next burst, or after a quiet
 * spell, a flush or a quiesce, or at once when the guest turns calls on;
 * never lost, never out of order. Packed rings hold nothing.
 */
static void
test_lazy_hold(void **state)
{
	bool packed = *(const bool *)*state;
	uint32_t id, len;
	struct rh_env e;
	int warm = 0;

	env_up(&e, state, 0);
	set_lazy(&e, true);
	vtd_set_no_interrupt(&e.tx, true);
	for (int i = 0; i < VHU_VQ_CALM_AFTER; i++)
		warm += tx_burst(&e, 1);
	assert_int_equal(warm, VHU_VQ_CALM_AFTER);
	assert_int_equal(e.txq->calm, VHU_VQ_CALM_AFTER);
	if (packed) {
		assert_int_equal(tx_burst(&e, 4), 4);
		assert_int_equal(e.txq->held_adv, 0);
		rh_env_teardown(&e);
		return;
	}
	/* each burst publishes the one before */
	assert_int_equal(tx_burst(&e, 4), 0);
	assert_int_equal(e.txq->held_adv, 4);
	assert_int_equal(tx_burst(&e, 2), 4);
	assert_int_equal(e.txq->held_adv, 2);
	/* one empty poll starts the clock, the one after the spell releases */
	assert_int_equal(tx_burst(&e, 0), 0);
	assert_int_equal(e.txq->held_adv, 2);
	sleep_us(5 * VHU_VQ_HOLD_US);
	assert_int_equal(tx_burst(&e, 0), 2);
	assert_int_equal(e.txq->held_adv, 0);
	/* a flush of a vring nobody polls publishes, the check settled */
	assert_int_equal(tx_burst(&e, 3), 0);
	assert_int_equal(vhu_vring_flush_calls(e.dev, VR_TX), 0);
	assert_false(e.txq->flags & VHU_VQ_F_CALL_OWED);
	assert_int_equal(e.txq->held_adv, 0);
	for (int n = 0; vtd_get_used(&e.tx, &id, &len); n++)
		assert_true(n < 3);
	/* a quiesce (GET_VRING_BASE, a table change) publishes them too */
	assert_int_equal(tx_burst(&e, 3), 0);
	vhu_vq_quiesce(e.txq);
	assert_int_equal(e.txq->held_adv, 0);
	assert_int_equal(vhu_vq_get_base_locked(e.txq), e.txq->last_used_idx);
	vhu_vq_resume(e.txq);
	assert_int_equal(tx_burst(&e, 0), 3);
	/* resumed, the driver's habits are learnt again: calm anew */
	(void)vhu_vring_flush_calls(e.dev, VR_TX);
	assert_int_equal(tx_burst(&e, 2), 2);
	for (int i = 1; i < VHU_VQ_CALM_AFTER; i++)
		assert_int_equal(tx_burst(&e, 1), 1);
	/* the guest turns calls on: the next poll publishes and calls */
	assert_int_equal(tx_burst(&e, 2), 0);
	vtd_set_no_interrupt(&e.tx, false);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 0);
	assert_int_equal(tx_burst(&e, 0), 2);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 1);
	/* and while it wants calls nothing is held */
	assert_int_equal(tx_burst(&e, 2), 2);
	assert_int_equal(e.txq->held_adv, 0);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 1);
	rh_env_teardown(&e);
}

/* At most a quarter of the ring is held: the rest is the driver's. */
static void
test_lazy_hold_limits(void **state)
{
	struct rh_env e;

	if (*(const bool *)*state)
		skip();
	rh_env_setup(&e, BIT(VIRTIO_F_VERSION_1), 128, 0);
	set_lazy(&e, true);
	vtd_set_no_interrupt(&e.tx, true);
	for (int i = 0; i < VHU_VQ_CALM_AFTER; i++)
		tx_burst(&e, 1);
	/* 128 descriptors: a burst of 32 is held, one of 33 is not */
	assert_int_equal(tx_burst(&e, 32), 0);
	assert_int_equal(e.txq->held_adv, 32);
	assert_int_equal(tx_burst(&e, 33), 32 + 33);
	assert_int_equal(e.txq->held_adv, 0);
	assert_int_equal(tx_quiet(&e), 0);
	rh_env_teardown(&e);
}

/* EVENT_IDX: a call the guest's event index does not ask for is not held. */
static void
test_event_idx(void **state)
{
	struct rh_env e;
	uint16_t u;

	env_up(&e, state, BIT(VIRTIO_RING_F_EVENT_IDX));
	vtd_set_used_event(&e.tx, 0);
	tx_burst(&e, 1);        /* no history: a call */
	assert_int_equal(vtd_eventfd_take(e.call_tx), 1);
	assert_int_equal(vhu_vring_set_coalesce(e.dev, VR_TX, 0, 4), 0);
	u = e.txq->last_used_idx;
	vtd_set_used_event(&e.tx, (uint16_t)(u + 100));
	for (int i = 0; i < 5; i++)
		tx_burst(&e, 4);
	tx_burst(&e, 0);
	tx_burst(&e, 0);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 0);
	assert_false(e.txq->flags & VHU_VQ_F_CALL_HELD);
	/* asked for at the next entry: the count decides (4 per call) */
	vtd_set_used_event(&e.tx, e.txq->last_used_idx);
	tx_burst(&e, 4);
	assert_int_equal(vtd_eventfd_take(e.call_tx), 1);
	rh_env_teardown(&e);
}

/* Releases the queue word after a while (see test_burst_waits_flush). */
static void *
release_later(void *arg)
{
	struct vhu_vq *vq = arg;

	sleep_us(20000);
	atomic_store_explicit(&vq->access, VHU_VQ_FREE, memory_order_release);
	return NULL;
}

static atomic_bool flusher_stop;

static void *
flusher(void *arg)
{
	struct rh_env *e = arg;

	while (!atomic_load(&flusher_stop))
		(void)vhu_vring_flush_calls(e->dev, VR_RX);
	return NULL;
}

/*
 * A flush from another thread (the PMD's alarm) never makes a burst
 * return 0 as if the ring were full: the application would drop the
 * frames (testpmd's io forwarding does, and a guest waiting for them
 * then waits forever). A burst waits for a flush; it still returns 0 at
 * once while the control context holds the queue.
 */
static void
test_burst_waits_flush(void **state)
{
	struct rh_env e;
	pthread_t t;
	uint32_t id, len, k = 0;

	env_up(&e, state, 0);
	assert_int_equal(vhu_vring_set_coalesce(e.dev, VR_RX, LONG_US, 0), 0);
	rh_post_rx_n(&e, 2, 2048);

	/* a flush inside (its state set by hand) for 20 ms: the burst waits */
	atomic_store(&e.rxq->access, VHU_VQ_FLUSH);
	assert_int_equal(pthread_create(&t, NULL, release_later, e.rxq), 0);
	{
		struct rte_mbuf *m = rh_make_chain(FRAME_LEN, k++, false);

		assert_int_equal(vhu_enqueue_burst(e.dev, 0, &m, 1), 1);
		rte_pktmbuf_free(m);
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(vtd_get_used(&e.rx, &id, &len));

	/* the control context inside: 0 at once, no wait */
	atomic_store(&e.rxq->access, VHU_VQ_CONTROL);
	{
		struct rte_mbuf *m = rh_make_chain(FRAME_LEN, k++, false);

		assert_int_equal(vhu_enqueue_burst(e.dev, 0, &m, 1), 0);
		rte_pktmbuf_free(m);
	}
	assert_int_equal(vhu_vring_flush_calls(e.dev, VR_RX), -EBUSY);
	atomic_store(&e.rxq->access, VHU_VQ_FREE);

	/* and for real: a thread flushing all the time, every burst moves */
	atomic_store(&flusher_stop, false);
	assert_int_equal(pthread_create(&t, NULL, flusher, &e), 0);
	for (int i = 0; i < 2000; i++) {
		struct rte_mbuf *m = rh_make_chain(FRAME_LEN, k++, false);

		rh_post_rx_n(&e, 1, 2048);
		assert_int_equal(vhu_enqueue_burst(e.dev, 0, &m, 1), 1);
		rte_pktmbuf_free(m);
		while (vtd_get_used(&e.rx, &id, &len))
			;
	}
	atomic_store(&flusher_stop, true);
	assert_int_equal(pthread_join(t, NULL), 0);
	rh_env_teardown(&e);
}

/* Argument checks. */
static void
test_api(void **state)
{
	struct rh_env e;

	env_up(&e, state, 0);
	assert_int_equal(vhu_vring_set_coalesce(NULL, VR_TX, 1, 1), -EINVAL);
	assert_int_equal(vhu_vring_set_coalesce(e.dev, 2 * VHU_MAX_QUEUE_PAIRS,
						1, 1), -EINVAL);
	assert_int_equal(vhu_vring_set_coalesce(e.dev, 3, 1, 1), -ENODEV);
	assert_int_equal(vhu_vring_flush_calls(NULL, VR_TX), -EINVAL);
	assert_int_equal(vhu_vring_flush_calls(e.dev, 3), -ENODEV);
	assert_int_equal(vhu_vring_flush_calls(e.dev, VR_TX), 0);
	rh_env_teardown(&e);
}

int
main(void)
{
	static const struct {
		const char *name;
		CMUnitTestFunction f;
	} per_layout[] = {
		{ "off", test_off },
		{ "frames", test_frames },
		{ "interval", test_interval },
		{ "deferred_by_burst", test_deferred_by_burst },
		{ "off_flushes", test_off_flushes },
		{ "no_interrupt", test_no_interrupt },
		{ "event_idx", test_event_idx },
		{ "burst_waits_flush", test_burst_waits_flush },
		{ "api", test_api },
		{ "lazy_owed", test_lazy_owed },
		{ "lazy_never", test_lazy_never },
		{ "lazy_hold", test_lazy_hold },
		{ "lazy_hold_limits", test_lazy_hold_limits },
	};
	static char names[RTE_DIM(per_layout)][2][40];
	struct CMUnitTest tests[2 * RTE_DIM(per_layout)];
	int n = 0;

	if (rh_init("coalesce") != 0)
		return 1;
	for (size_t t = 0; t < RTE_DIM(per_layout); t++)
		for (int p = 0; p < 2; p++) {
			snprintf(names[t][p], sizeof(names[0][0]), "%s_%s",
				 per_layout[t].name, p ? "packed" : "split");
			rh_add(tests, &n, RTE_DIM(tests), names[t][p],
			       per_layout[t].f,
			       (void *)(uintptr_t)(p ? &packed_s : &split_s));
		}
	return rh_run("coalesce", tests, n, RTE_DIM(tests), NULL, 0);
}
