/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit suite for dirty-page logging (dirty_log.h and its use in copy.h,
 * split.c and vq.c): with VHOST_F_LOG_ALL and a log installed, every byte
 * the backend writes into guest memory (receive buffers, used entries,
 * used->idx, used->flags, avail_event) has its page marked, and no other
 * page is. The expected bitmap is computed independently from what the
 * driver reads back, then compared bit for bit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include <rte_mbuf.h>

#include "vhu_burst.h"
#include "virtq_driver.h"

#define BIT(b) (1ull << (b))
#define PAGE 4096ull

static struct rte_mempool *pool;

struct lenv {
	struct vtd d;
	struct vhu_vq *vq;
	struct vhu_dev_vqs vqs;
	struct vhu_dev *dev;
	uint8_t *expect;
};

static void
lenv_setup(struct lenv *e, uint16_t index, uint64_t features, uint16_t size,
	   uint16_t base, bool log_used)
{
	struct vtd_opts o = { .size = size, .mem_size = 8ull << 20,
			      .nregions = 1, .log = true };

	memset(e, 0, sizeof(*e));
	assert_int_equal(vtd_init(&e->d, &o, base), 0);
	e->vq = vtd_make_vq(&e->d, index, features, base, -1, log_used);
	assert_non_null(e->vq);
	assert_true(e->vq->ready);
	e->vqs.nr_vrings = 2;
	e->vqs.vq[index] = e->vq;
	e->dev = (struct vhu_dev *)&e->vqs;
	e->expect = calloc(1, e->d.log.size);
	assert_non_null(e->expect);
}

static void
lenv_teardown(struct lenv *e)
{
	vhu_vq_destroy(e->vq);
	free(e->expect);
	vtd_fini(&e->d);
}

static void
expect_range(struct lenv *e, uint64_t gpa, uint64_t len)
{
	for (uint64_t p = gpa / PAGE; len > 0 && p <= (gpa + len - 1) / PAGE;
	     p++)
		e->expect[p / 8] |= 1u << (p % 8);
}

static void
compare_log(struct lenv *e)
{
	for (uint64_t i = 0; i < e->d.log.size; i++)
		if (e->d.log.base[i] != e->expect[i])
			fail_msg("log byte %lu (pages %lu..): got %02x want %02x",
				 (unsigned long)i, (unsigned long)i * 8,
				 e->d.log.base[i], e->expect[i]);
}

static void
reset_log(struct lenv *e)
{
	vtd_log_clear(&e->d);
	memset(e->expect, 0, e->d.log.size);
}

/* Used entries [from, to) and used->idx, as the device writes them. */
static void
expect_used(struct lenv *e, uint16_t from, uint16_t to)
{
	uint64_t ring = e->d.used_gpa + offsetof(struct vring_used, ring);

	for (uint16_t i = from; i != to; i++)
		expect_range(e, ring + 8ull * (i & (e->d.size - 1)), 8);
	expect_range(e, e->d.used_gpa + offsetof(struct vring_used, idx), 2);
}

/* The bytes of a chain the device reported writing. */
static void
expect_written(struct lenv *e, uint32_t id, uint32_t len)
{
	const struct vtd_chain *c = &e->d.chains[id];

	for (int i = 0; i < c->n && len > 0; i++) {
		uint32_t n = RTE_MIN(c->b[i].len, len);

		expect_range(e, c->b[i].gpa, n);
		len -= n;
	}
}

static struct rte_mbuf *
frame(uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint32_t off = 0;

	assert_non_null(m);
	while (off < len) {
		struct rte_mbuf *s = off == 0 ? m : rte_pktmbuf_alloc(pool);
		uint32_t n = RTE_MIN(len - off, rte_pktmbuf_tailroom(s));

		memset(rte_pktmbuf_append(s, n), 0x3c, n);
		if (s != m)
			assert_int_equal(rte_pktmbuf_chain(m, s), 0);
		off += n;
	}
	return m;
}

/* Post one receive chain of page-aligned buffers at chosen offsets. */
static int
post_rx_at(struct lenv *e, const uint32_t *lens, const uint32_t *skew, int n)
{
	struct vtd_buf b[8];

	for (int i = 0; i < n; i++) {
		b[i].gpa = vtd_alloc(&e->d, lens[i] + skew[i] + PAGE, PAGE) +
			   skew[i];
		b[i].len = lens[i];
		memset(vtd_ptr(&e->d, b[i].gpa), 0xA5, lens[i]);
	}
	return vtd_add(&e->d, b, n, true, false);
}

/* Enqueue, then derive the expected log from what the guest sees. */
static void
rx_and_check(struct lenv *e, struct rte_mbuf **pkts, uint16_t n,
	     bool used_logged)
{
	uint16_t from = e->vq->last_used_idx;
	uint32_t id, len;

	assert_int_equal(vhu_enqueue_burst(e->dev, 0, pkts, n), n);
	while (vtd_get_used(&e->d, &id, &len))
		expect_written(e, id, len);
	if (used_logged)
		expect_used(e, from, e->vq->last_used_idx);
	compare_log(e);
	for (int i = 0; i < n; i++)
		rte_pktmbuf_free(pkts[i]);
}

static const uint64_t LOGF = BIT(VHOST_F_LOG_ALL) | BIT(VIRTIO_F_VERSION_1);

static void
test_rx_buffers_and_used(void **state)
{
	struct lenv e;
	struct rte_mbuf *pkts[3];
	const uint32_t lens[3] = { 3 * PAGE, 100, 2 * PAGE };
	const uint32_t skew[3] = { 0, PAGE - 50, 10 };

	(void)state;
	lenv_setup(&e, 0, LOGF, 256, 0, true);
	/* resume wrote used->flags: logged */
	assert_true(vtd_log_test(&e.d, e.d.used_gpa));
	assert_int_equal(vtd_log_count(&e.d), 1);
	reset_log(&e);
	/* a 5000-byte frame touches 2 of 3 pages; 3rd must stay clean */
	assert_true(post_rx_at(&e, lens, skew, 1) >= 0);
	/* header spanning a page boundary inside one buffer */
	assert_true(post_rx_at(&e, &lens[1], &skew[1], 2) >= 0);
	vtd_publish(&e.d);
	pkts[0] = frame(5000);
	pkts[1] = frame(1000);
	rx_and_check(&e, pkts, 2, true);
	assert_true(vtd_log_count(&e.d) >= 4);
	/* nothing written, nothing marked */
	reset_log(&e);
	pkts[0] = frame(60);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, pkts, 1), 0);
	rte_pktmbuf_free(pkts[0]);
	assert_int_equal(vtd_log_count(&e.d), 0);
	lenv_teardown(&e);
}

static void
test_rx_mergeable_wrap(void **state)
{
	struct lenv e;
	struct rte_mbuf *pkts[4];
	const uint32_t one = 1536, skew0 = 0, skew1 = PAGE - 700;

	(void)state;
	/* 1024 entries: the used ring spans 3 pages; start just before wrap */
	lenv_setup(&e, 0, LOGF | BIT(VIRTIO_NET_F_MRG_RXBUF), 1024, 1020,
		   true);
	reset_log(&e);
	for (int i = 0; i < 12; i++)
		assert_true(post_rx_at(&e, &one, i % 2 ? &skew1 : &skew0, 1) >=
			    0);
	vtd_publish(&e.d);
	pkts[0] = frame(4000);   /* 3 buffers */
	pkts[1] = frame(60);
	pkts[2] = frame(9000);   /* 6 buffers */
	pkts[3] = frame(1524);   /* exactly one */
	rx_and_check(&e, pkts, 4, true);
	assert_int_equal(e.vq->last_used_idx, (uint16_t)(1020 + 11));
	lenv_teardown(&e);
}

static void
test_tx_marks_only_used(void **state)
{
	struct lenv e;
	struct rte_mbuf *pkts[8];
	uint8_t data[3000];
	uint16_t from, n;

	(void)state;
	lenv_setup(&e, 1, LOGF | BIT(VIRTIO_RING_F_INDIRECT_DESC), 256, 250,
		   true);
	reset_log(&e);
	memset(data, 7, sizeof(data));
	for (int i = 0; i < 8; i++)
		assert_true(vtd_post_tx(&e.d, data, 100 + 300 * i, 12,
					1 + i % 3, i % 2) >= 0);
	vtd_publish(&e.d);
	from = e.vq->last_used_idx;
	n = vhu_dequeue_burst(e.dev, 0, pool, pkts, 8);
	assert_int_equal(n, 8);
	rte_pktmbuf_free_bulk(pkts, n);
	expect_used(&e, from, e.vq->last_used_idx);
	compare_log(&e);
	lenv_teardown(&e);
}

/* Without VHOST_VRING_F_LOG on the ring, only buffers are logged. */
static void
test_used_not_logged_without_ring_flag(void **state)
{
	struct lenv e;
	struct rte_mbuf *pkts[1];
	const uint32_t len = 2 * PAGE, skew = 0;

	(void)state;
	lenv_setup(&e, 0, LOGF, 256, 0, false);
	assert_int_equal(vtd_log_count(&e.d), 0);
	assert_true(post_rx_at(&e, &len, &skew, 1) >= 0);
	vtd_publish(&e.d);
	pkts[0] = frame(200);
	rx_and_check(&e, pkts, 1, false);
	assert_int_equal(vtd_log_count(&e.d), 1);
	lenv_teardown(&e);
}

/* LOG_ALL not negotiated: the bitmap is never touched. */
static void
test_nothing_without_log_all(void **state)
{
	struct lenv e;
	struct rte_mbuf *pkts[1];
	const uint32_t len = 2 * PAGE, skew = 0;

	(void)state;
	lenv_setup(&e, 0, BIT(VIRTIO_F_VERSION_1), 256, 0, true);
	assert_true(post_rx_at(&e, &len, &skew, 1) >= 0);
	vtd_publish(&e.d);
	pkts[0] = frame(5000);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, pkts, 1), 1);
	rte_pktmbuf_free(pkts[0]);
	assert_int_equal(vtd_log_count(&e.d), 0);
	lenv_teardown(&e);
}

/* Notification writes (used->flags, avail_event) are logged. */
static void
test_notify_writes_logged(void **state)
{
	struct lenv e;
	uint64_t ev;

	(void)state;
	lenv_setup(&e, 1, LOGF, 256, 0, true);
	reset_log(&e);
	assert_int_equal(vhu_vring_notify(e.dev, 1, true), 0);
	expect_range(&e, e.d.used_gpa, 2);
	compare_log(&e);
	lenv_teardown(&e);

	/* 1024 entries: avail_event lives on the used ring's third page */
	lenv_setup(&e, 1, LOGF | BIT(VIRTIO_RING_F_EVENT_IDX), 1024, 0, true);
	reset_log(&e);
	assert_int_equal(vhu_vring_notify(e.dev, 1, true), 0);
	ev = e.d.used_gpa + offsetof(struct vring_used, ring) + 8 * 1024;
	assert_int_not_equal(ev / PAGE, e.d.used_gpa / PAGE);
	expect_range(&e, e.d.used_gpa, 2);
	expect_range(&e, ev, 2);
	compare_log(&e);
	lenv_teardown(&e);
}

/* vhu_log_mark itself: ranges, page edges, the bitmap end, 2^64. */
static void
test_log_mark(void **state)
{
	uint8_t bits[4] = { 0 };
	struct vhu_dirty_log log = { .base = bits, .size = sizeof(bits) };
	struct vhu_dirty_log none = { .base = NULL };

	(void)state;
	vhu_log_mark(&log, 0, 0);
	assert_int_equal(bits[0], 0);
	vhu_log_mark(&log, 4095, 2);        /* pages 0 and 1 */
	assert_int_equal(bits[0], 0x03);
	vhu_log_mark(&log, 3 * PAGE, PAGE); /* exactly page 3 */
	assert_int_equal(bits[0], 0x0b);
	vhu_log_mark(&log, 8 * PAGE + 1, 1);
	assert_int_equal(bits[1], 0x01);
	/* the last page the bitmap covers, then beyond it: ignored */
	vhu_log_mark(&log, 31 * PAGE, 3 * PAGE);
	assert_int_equal(bits[3], 0x80);
	vhu_log_mark(&log, 64 * PAGE, PAGE);
	assert_int_equal(bits[0], 0x0b);
	assert_int_equal(bits[1], 0x01);
	assert_int_equal(bits[2], 0x00);
	/* ranges at the top of the address space neither wrap nor crash */
	vhu_log_mark(&log, UINT64_MAX - 10, 100);
	vhu_log_mark(&log, UINT64_MAX, 1);
	assert_int_equal(bits[0], 0x0b);
	vhu_log_mark(&none, 0, 100);
}

static int
group_setup(void **state)
{
	(void)state;
	pool = rte_pktmbuf_pool_create("log_pool", 2047, 64, 0,
				       2048 + RTE_PKTMBUF_HEADROOM,
				       SOCKET_ID_ANY);
	return pool != NULL ? 0 : -1;
}

int
main(void)
{
	/* without EAL and pools nothing below means anything: fail loudly */
	if (vtd_eal_init() != 0 || group_setup(NULL) != 0) {
		fprintf(stderr, "EAL or mempool set-up failed\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_mark),
		cmocka_unit_test(test_rx_buffers_and_used),
		cmocka_unit_test(test_rx_mergeable_wrap),
		cmocka_unit_test(test_tx_marks_only_used),
		cmocka_unit_test(test_used_not_logged_without_ring_flag),
		cmocka_unit_test(test_nothing_without_log_all),
		cmocka_unit_test(test_notify_writes_logged),
	};

	return cmocka_run_group_tests_name("dirty_log", tests, NULL, NULL);
}
