/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit suite for the packed virtqueue data path (packed.c, desc_packed.h,
 * the packed parts of vq.c and burst.c) against the packed mode of the
 * test driver (virtq_driver.c). The matrix {mergeable} x {indirect} x
 * {event suppression by descriptor (EVENT_IDX) or by ENABLE/DISABLE} x
 * {256, 1024 descriptors} moves frames of 60..9000 bytes both ways,
 * starting a few slots short of the ring end, for several laps (each one
 * flips the wrap counters), with buffer ids handed out in scrambled order;
 * it checks every byte, every used descriptor and every call. Further
 * cases: a ring size that is not a power of two, malformed rings (each
 * must stop only its queue), the GET/SET_VRING_BASE encoding with wrap
 * bits, the device event area and dirty logging of the descriptor ring.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include "ring_harness.h"
#include "vhu_atomic.h"
#include "vhu_burst.h"

#define WRAP RH_WRAP

static uint64_t
make_features(bool mrg, bool ind, bool evt)
{
	return rh_features(mrg, ind, evt) | BIT(VIRTIO_F_VERSION_1) |
	       BIT(VIRTIO_F_RING_PACKED);
}

/* The driver's next used position as an event off_wrap value. */
static uint16_t
used_pos(const struct vtd *d)
{
	return d->pused | (d->used_wrap ? WRAP : 0);
}

/*
 * Event suppression for round r of a matrix run: with EVENT_IDX the
 * driver names its next used slot on even rounds (one call expected) and
 * a slot already passed on odd ones (none); without it, ENABLE on even
 * rounds and DISABLE on odd ones. Returns the calls to expect.
 */
static uint64_t
arm_events(struct rh_env *e, struct vtd *d, int r, uint16_t *prev)
{
	uint16_t now = used_pos(d);

	if (e->evt)
		vtd_set_used_event(d, r % 2 == 0 ? now : *prev);
	else
		vtd_set_no_interrupt(d, r % 2 == 1);
	*prev = now;
	return r % 2 == 0;
}

struct posted {
	int id;
	uint32_t len;
	uint32_t seed;
};

/* --------------------------------------------------------- the matrix */

/*
 * rounds of n frames each through round(), event suppression armed before
 * each and the calls checked after; returns how often the ring wrapped.
 */
static int
laps(struct rh_env *e, struct vtd *d, const struct vhu_vq *vq, int callfd,
     void (*round)(struct rh_env *e, int n, uint32_t *k), int n, int rounds)
{
	uint16_t prev = used_pos(d);
	bool w = vq->avail_wrap;
	uint32_t k = 0;
	int flips = 0;

	for (int r = 0; r < rounds; r++) {
		uint64_t want = arm_events(e, d, r, &prev);

		round(e, n, &k);
		assert_int_equal(vtd_eventfd_take(callfd), want);
		if (vq->avail_wrap != w) {
			flips++;
			w = vq->avail_wrap;
		}
	}
	return flips;
}

static void
test_matrix(void **state)
{
	const struct rh_cfg *c = *state;
	struct rh_env e;
	uint64_t f = make_features(c->mrg, c->ind, c->evt) |
		     (c->ino ? BIT(VIRTIO_F_IN_ORDER) : 0);
	/* a few slots short of the end; both initial wrap values */
	uint16_t base = (c->size - 5) | (c->size == 256 ? WRAP : 0);
	int rounds;

	rh_env_setup(&e, f, c->size, base);
	/* 40 frames of 1..4 descriptors a round: over three laps */
	rounds = 3 * c->size / 40 + 2;
	assert_true(laps(&e, &e.tx, e.txq, e.call_tx, rh_tx_round, 40,
			 rounds) >= 3);
	assert_int_equal(e.txq->stats.packets, (uint64_t)rounds * 40);
	assert_int_equal(e.txq->stats.desc_errors, 0);

	rounds = 3 * c->size / 20 + 2;
	assert_true(laps(&e, &e.rx, e.rxq, e.call_rx, rh_rx_round, 20,
			 rounds) >= 3);
	rh_expect_clean(&e);
	rh_env_teardown(&e);
}

/* ------------------------------------------------- the batch path */

/*
 * Lines of four one-descriptor buffers take the batch path; a chain, an
 * indirect table or an oversized frame in a line sends that line to the
 * one-descriptor path. Both directions, with and without IN_ORDER, from a
 * slot that is not line aligned and across the wrap; every byte, id and
 * length checked.
 */
static void
batch_case(bool ino)
{
	static uint8_t frame[2100];
	struct rte_mbuf *pkts[64];
	struct posted post[64];
	struct rh_env e;
	uint64_t f = make_features(false, true, false) |
		     (ino ? BIT(VIRTIO_F_IN_ORDER) : 0);
	uint32_t k = 0;

	rh_env_setup(&e, f, 256, 2 | WRAP);
	for (int r = 0; r < 20; r++) {
		int n = 64, got = 0;

		for (int i = 0; i < n; i++) {
			uint32_t j = k++;
			/* every 11th a 2-piece chain, every 13th indirect */
			int nbufs = j % 11 == 5 ? 2 : 1;
			bool ind = j % 13 == 7;
			uint32_t len = j % 17 == 3 ? 2040 : 60 + j * 37 % 1440;

			rh_fill(frame, len, j);
			post[i].id = vtd_post_tx(&e.tx, frame, len, e.hdr_len,
						 nbufs, ind);
			assert_true(post[i].id >= 0);
			post[i].len = len;
			post[i].seed = j;
		}
		vtd_publish(&e.tx);
		while (got < n) {
			uint16_t m = vhu_dequeue_burst(e.dev, 0, rh_pool, pkts,
						       64);

			assert_true(m > 0);
			for (int i = 0; i < m; i++) {
				rh_check_mbuf(pkts[i], post[got + i].len,
					   post[got + i].seed);
				rte_pktmbuf_free(pkts[i]);
			}
			got += m;
		}
		for (int i = 0; i < n; i++) {
			uint32_t id, len;

			assert_true(vtd_get_used(&e.tx, &id, &len));
			assert_int_equal(id, post[i].id);
			assert_int_equal(len, 0);
		}
		assert_int_equal(vtd_used_pending(&e.tx), 0);
	}
	k = 0;
	for (int r = 0; r < 20; r++) {
		uint32_t lens[64], seeds[64];
		int n = 48;

		for (int i = 0; i < n; i++) {
			uint32_t j = k++;
			/* every 9th buffer too small: that line goes single */
			uint32_t cap = j % 9 == 4 ? 1000 : 1600;

			lens[i] = 60 + j * 53 % 1400;
			if (lens[i] + e.hdr_len > cap)
				cap = lens[i] + e.hdr_len;
			seeds[i] = j;
			assert_true(vtd_post_rx(&e.rx, &cap, 1, false) >= 0);
			pkts[i] = rh_make_chain(lens[i], j, j % 23 == 9);
		}
		vtd_publish(&e.rx);
		assert_int_equal(vhu_enqueue_burst(e.dev, 0, pkts, n), n);
		for (int i = 0; i < n; i++) {
			rh_rx_check_frame(&e, lens[i], seeds[i]);
			rte_pktmbuf_free(pkts[i]);
		}
		assert_int_equal(vtd_used_pending(&e.rx), 0);
	}
	assert_int_equal(e.txq->last_used_idx, e.tx.pused);
	assert_int_equal(e.rxq->last_used_idx, e.rx.pused);
	assert_int_equal(e.rxq->used_wrap, e.rx.used_wrap);
	assert_int_equal(e.txq->stats.desc_errors, 0);
	assert_false(e.rxq->broken);
	assert_false(e.txq->broken);
	rh_env_teardown(&e);
}

static void
test_batch_path(void **state)
{
	(void)state;
	batch_case(false);
}

static void
test_batch_path_in_order(void **state)
{
	(void)state;
	batch_case(true);
}

/* ------------------------------------------------- other geometries */

/* Packed rings need not be a power of two (virtio 1.2 §2.8). */
static void
test_odd_ring_size(void **state)
{
	struct rh_env e;
	uint32_t k = 0;

	(void)state;
	rh_env_setup(&e, make_features(true, true, false), 300, 297 | WRAP);
	for (int r = 0; r < 30; r++)
		rh_tx_round(&e, 40, &k);
	k = 0;
	for (int r = 0; r < 40; r++)
		rh_rx_round(&e, 20, &k);
	assert_false(e.txq->broken);
	assert_false(e.rxq->broken);
	rh_env_teardown(&e);
}

/* Ids are the driver's: any order, echoed exactly. */
static void
test_out_of_order_ids(void **state)
{
	static const uint16_t want[] = { 200, 3, 77, 255, 0, 128 };
	struct rte_mbuf *pkts[8];
	struct rh_env e;
	uint8_t frame[64];

	(void)state;
	rh_env_setup(&e, make_features(false, false, false), 256, 0 | WRAP);
	/* the next ids handed out, in this order */
	for (unsigned i = 0; i < RTE_DIM(want); i++)
		e.tx.free_ids[e.tx.nfree - 1 - i] = want[i];
	rh_fill(frame, sizeof(frame), 5);
	for (unsigned i = 0; i < RTE_DIM(want); i++)
		assert_int_equal(vtd_post_tx(&e.tx, frame, sizeof(frame), 12,
					     1 + i % 3, false), want[i]);
	vtd_publish(&e.tx);
	assert_int_equal(vhu_dequeue_burst(e.dev, 0, rh_pool, pkts, 8),
			 RTE_DIM(want));
	for (unsigned i = 0; i < RTE_DIM(want); i++) {
		uint32_t id, len;

		rh_check_mbuf(pkts[i], sizeof(frame), 5);
		rte_pktmbuf_free(pkts[i]);
		assert_true(vtd_get_used(&e.tx, &id, &len));
		assert_int_equal(id, want[i]);
	}
	rh_env_teardown(&e);
}

/* A frame that needs more buffers than posted waits; nothing is used. */
static void
test_rx_no_room(void **state)
{
	static const uint32_t one = 1536;
	struct rte_mbuf *m;
	struct rh_env e;

	(void)state;
	rh_env_setup(&e, make_features(true, false, false), 256, 250 | WRAP);
	assert_true(vtd_post_rx(&e.rx, &one, 1, false) >= 0);
	vtd_publish(&e.rx);
	m = rh_make_chain(3000, 1, false);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, &m, 1), 0);
	assert_int_equal(e.rxq->stats.drops_no_buf, 1);
	assert_int_equal(vtd_used_pending(&e.rx), 0);
	assert_int_equal(e.rxq->last_avail_idx, 250);
	/* the next buffer makes it fit */
	assert_true(vtd_post_rx(&e.rx, &one, 1, false) >= 0);
	vtd_publish(&e.rx);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, &m, 1), 1);
	rh_rx_check_frame(&e, 3000, 1);
	rte_pktmbuf_free(m);
	/* empty ring: nothing, and no call */
	vtd_eventfd_take(e.call_rx);
	m = rh_make_chain(60, 1, false);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, &m, 1), 0);
	assert_int_equal(vtd_eventfd_take(e.call_rx), 0);
	rte_pktmbuf_free(m);
	rh_env_teardown(&e);
}

/* -------------------------------------------------- malformed rings */

/* Write one raw descriptor at the driver's next slot and step past it. */
static void
raw_put(struct vtd *d, uint64_t addr, uint32_t len, uint16_t id,
	uint16_t flags, bool avail_ok)
{
	struct vring_packed_desc *x = &d->pdesc[d->pavail];

	x->addr = addr;
	x->len = len;
	x->id = id;
	vhu_atomic_store_u16(&x->flags, (uint16_t)(flags |
			     vtd_pavail_bits(avail_ok ? d->avail_wrap :
							!d->avail_wrap)),
			     memory_order_release);
	if (++d->pavail == d->size) {
		d->pavail = 0;
		d->avail_wrap = !d->avail_wrap;
	}
}

/* a table of n readable descriptors of 100 bytes each; returns its gpa */
static uint64_t
table(struct rh_env *e, uint32_t n, uint16_t flags)
{
	uint64_t g = vtd_alloc(&e->tx, 16 * n, 16);
	struct vring_packed_desc *t =
		(struct vring_packed_desc *)vtd_ptr(&e->tx, g);

	for (uint32_t i = 0; i < n; i++) {
		t[i].addr = rh_frame_gpa(e, 100);
		t[i].len = 100;
		t[i].id = 0;
		t[i].flags = flags;
	}
	return g;
}

/* Chain head fine, its second descriptor still in the old lap. */
static void
bad_avail_bits(struct rh_env *e)
{
	uint16_t head = e->tx.pavail;
	bool w = e->tx.avail_wrap;

	raw_put(&e->tx, rh_frame_gpa(e, 12), 12, 9, VRING_DESC_F_NEXT, true);
	raw_put(&e->tx, rh_frame_gpa(e, 100), 100, 9, 0, false);
	/* rewrite the head last, as a driver does */
	vhu_atomic_store_u16(&e->tx.pdesc[head].flags,
			     (uint16_t)(VRING_DESC_F_NEXT | vtd_pavail_bits(w)),
			     memory_order_release);
}

/*
 * Every free slot available and chained: the chain runs around the ring
 * into the good frame's head, which belongs to the previous lap by then.
 * (A chain cannot outgrow the ring without meeting a slot whose wrap bits
 * are wrong, so that check fires first; the length bound stays as the
 * backstop.)
 */
static void
bad_chain_longer_than_ring(struct rh_env *e)
{
	uint64_t g = rh_frame_gpa(e, 100);

	for (int i = 0; i < e->tx.pfree; i++)
		raw_put(&e->tx, g, 100, 1, VRING_DESC_F_NEXT, true);
}

static void
bad_nested_indirect(struct rh_env *e)
{
	uint64_t inner = table(e, 2, 0);
	uint64_t g = vtd_alloc(&e->tx, 32, 16);
	struct vring_packed_desc *t =
		(struct vring_packed_desc *)vtd_ptr(&e->tx, g);

	t[0].addr = rh_frame_gpa(e, 100);
	t[0].len = 100;
	t[0].flags = 0;
	t[1].addr = inner;
	t[1].len = 32;
	t[1].flags = VRING_DESC_F_INDIRECT;
	raw_put(&e->tx, g, 32, 4, VRING_DESC_F_INDIRECT, true);
}

static void
bad_indirect_len17(struct rh_env *e)
{
	raw_put(&e->tx, table(e, 2, 0), 17, 4, VRING_DESC_F_INDIRECT, true);
}

static void
bad_indirect_len0(struct rh_env *e)
{
	raw_put(&e->tx, table(e, 2, 0), 0, 4, VRING_DESC_F_INDIRECT, true);
}

static void
bad_indirect_next(struct rh_env *e)
{
	raw_put(&e->tx, table(e, 2, 0), 32, 4,
		VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, true);
	raw_put(&e->tx, rh_frame_gpa(e, 100), 100, 4, 0, true);
}

static void
bad_indirect_outside(struct rh_env *e)
{
	raw_put(&e->tx, vtd_mem_end(&e->tx) - 16, 32, 4,
		VRING_DESC_F_INDIRECT, true);
}

static void
bad_outside(struct rh_env *e)
{
	raw_put(&e->tx, vtd_mem_end(&e->tx) + 4096, 100, 4, 0, true);
}

static void
bad_runs_past_end(struct rh_env *e)
{
	raw_put(&e->tx, vtd_mem_end(&e->tx) - 50, 100, 4, 0, true);
}

static void
bad_writable_in_tx(struct rh_env *e)
{
	raw_put(&e->tx, rh_frame_gpa(e, 100), 100, 4, VRING_DESC_F_WRITE, true);
}


static void
bad_short_header(struct rh_env *e)
{
	raw_put(&e->tx, rh_frame_gpa(e, 5), 5, 4, 0, true);
}

/* One good frame, then whatever bad() posts; the good one must go out. */
static void
tx_bad(uint64_t features, void (*bad)(struct rh_env *e))
{
	rh_tx_bad(features, 100 | WRAP, bad, 1);
}

#define BAD(name, feat) \
static void test_bad_##name(void **state) \
{ \
	(void)state; \
	tx_bad(feat, bad_##name); \
}
#define ALL make_features(false, true, false)
BAD(avail_bits, ALL)
BAD(chain_longer_than_ring, ALL)
BAD(nested_indirect, ALL)
BAD(indirect_len17, ALL)
BAD(indirect_len0, ALL)
BAD(indirect_next, ALL)
BAD(indirect_outside, ALL)
BAD(outside, ALL)
BAD(runs_past_end, ALL)
BAD(writable_in_tx, ALL)
BAD(short_header, ALL)
#undef BAD

static void
bad_indirect_plain(struct rh_env *e)
{
	raw_put(&e->tx, table(e, 2, 0), 32, 4, VRING_DESC_F_INDIRECT, true);
}

static void
test_bad_indirect_not_negotiated(void **state)
{
	(void)state;
	tx_bad(make_features(false, false, false), bad_indirect_plain);
}

/* RX: a read-only buffer is refused; the queue stops, TX carries on. */
static void
test_bad_readonly_in_rx(void **state)
{
	struct rte_mbuf *m;
	struct rh_env e;
	uint64_t g;

	(void)state;
	rh_env_setup(&e, make_features(true, false, false), 256, 3 | WRAP);
	g = vtd_alloc(&e.rx, 2048, 8);
	raw_put(&e.rx, g, 2048, 7, 0, true);
	m = rh_make_chain(100, 1, false);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, &m, 1), 0);
	rte_pktmbuf_free(m);
	rh_expect_broken(e.rxq, e.err_rx);
	assert_true(e.txq->ready);
	rh_env_teardown(&e);
}

/*
 * DPDK's virtio PMD marks the header entry of its packed transmit tables
 * device-writable: a transmit table's WRITE flags are not held against it
 * (the device only reads), whatever stray ring bits the entries carry.
 */
static void
test_tx_table_writable_tolerated(void **state)
{
	struct rte_mbuf *pkts[2];
	struct rh_env e;
	uint64_t g;
	struct vring_packed_desc *t;
	uint8_t *hdr, *body;

	(void)state;
	rh_env_setup(&e, make_features(false, true, false), 256, 10 | WRAP);
	g = vtd_alloc(&e.tx, 32, 16);
	t = (struct vring_packed_desc *)vtd_ptr(&e.tx, g);
	t[0].addr = rh_frame_gpa(&e, 12);
	t[0].len = 12;
	t[0].flags = VRING_DESC_F_WRITE | VRING_DESC_F_NEXT |
		     vtd_pavail_bits(true);
	t[1].addr = rh_frame_gpa(&e, 100);
	t[1].len = 100;
	t[1].flags = vtd_pavail_bits(false);
	hdr = vtd_ptr(&e.tx, t[0].addr);
	body = vtd_ptr(&e.tx, t[1].addr);
	memset(hdr, 0, 12);
	rh_fill(body, 100, 3);
	raw_put(&e.tx, g, 32, 17, VRING_DESC_F_INDIRECT, true);
	assert_int_equal(vhu_dequeue_burst(e.dev, 0, rh_pool, pkts, 2), 1);
	rh_check_mbuf(pkts[0], 100, 3);
	rte_pktmbuf_free(pkts[0]);
	assert_false(e.txq->broken);
	rh_env_teardown(&e);
}

/* A receive table must be all device-writable (virtio 1.2 §2.8.7). */
static void
test_bad_readonly_table_in_rx(void **state)
{
	struct rte_mbuf *m;
	struct rh_env e;
	uint64_t g;
	struct vring_packed_desc *t;

	(void)state;
	rh_env_setup(&e, make_features(true, true, false), 256, 3 | WRAP);
	g = vtd_alloc(&e.rx, 32, 16);
	t = (struct vring_packed_desc *)vtd_ptr(&e.rx, g);
	t[0].addr = vtd_alloc(&e.rx, 1024, 8);
	t[0].len = 1024;
	t[0].flags = VRING_DESC_F_WRITE;
	t[1].addr = vtd_alloc(&e.rx, 1024, 8);
	t[1].len = 1024;
	t[1].flags = 0;
	raw_put(&e.rx, g, 32, 7, VRING_DESC_F_INDIRECT, true);
	m = rh_make_chain(100, 1, false);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, &m, 1), 0);
	rte_pktmbuf_free(m);
	rh_expect_broken(e.rxq, e.err_rx);
	rh_env_teardown(&e);
}

/* ------------------------------------------- control side, encoding */

/* GET/SET_VRING_BASE carry both slots and both wrap counters. */
static void
test_vring_base(void **state)
{
	static const uint32_t vals[] = {
		0x80008000u, 0x00000000u, 0x80ff80ffu, 0x00ff00ffu,
		0x80050005u, 0x0100811fu,
	};
	struct rh_env e;
	struct vhu_vq *vq;

	(void)state;
	rh_env_setup(&e, make_features(false, false, false), 512, WRAP);
	vq = e.txq;
	for (unsigned i = 0; i < RTE_DIM(vals); i++) {
		vhu_vq_quiesce(vq);
		assert_int_equal(vhu_vq_set_base_locked(vq, vals[i]), 0);
		assert_int_equal(vhu_vq_get_base_locked(vq), vals[i]);
		vhu_vq_resume(vq);
		assert_true(vq->ready);
	}
	/* the low half alone (DPDK virtio_user): used follows avail */
	vhu_vq_quiesce(vq);
	assert_int_equal(vhu_vq_set_base_locked(vq, 0x8011), 0);
	assert_int_equal(vhu_vq_get_base_locked(vq), 0x80118011u);
	vhu_vq_resume(vq);
	/* a slot outside the ring: the queue does not start */
	vhu_vq_quiesce(vq);
	assert_int_equal(vhu_vq_set_base_locked(vq, 0x8200 | 0x82000000u), 0);
	vhu_vq_resume(vq);
	assert_false(vq->ready);
	assert_non_null(vq->why_not_ready);
	/* and after traffic: the state a burst left */
	vhu_vq_quiesce(vq);
	assert_int_equal(vhu_vq_set_base_locked(vq, 0x8000u | 0x80000000u), 0);
	vhu_vq_resume(vq);
	assert_true(vq->ready);
	rh_env_teardown(&e);

	rh_env_setup(&e, make_features(false, false, false), 256, 250 | WRAP);
	{
		uint32_t k = 0;
		uint32_t b;

		for (int r = 0; r < 3; r++)
			rh_tx_round(&e, 40, &k);
		vhu_vq_quiesce(e.txq);
		b = vhu_vq_get_base_locked(e.txq);
		vhu_vq_resume(e.txq);
		assert_int_equal(b & 0x7fff, e.tx.pavail);
		assert_int_equal(!!(b & WRAP), e.tx.avail_wrap);
		assert_int_equal((b >> 16) & 0x7fff, e.tx.pused);
		assert_int_equal(!!(b >> 31), e.tx.used_wrap);
	}
	rh_env_teardown(&e);
}

/* SET_VRING_NUM: any size up to 32768 when packed, powers of 2 when not. */
static void
test_ring_num(void **state)
{
	struct vhu_vq *vq;

	(void)state;
	vq = vhu_vq_create(0, 0, SOCKET_ID_ANY, NULL, NULL);
	assert_non_null(vq);
	vhu_vq_quiesce(vq);
	assert_int_equal(vhu_vq_set_num_locked(vq, 300), -EINVAL);
	assert_int_equal(vhu_vq_set_num_locked(vq, 256), 0);
	vhu_vq_set_features_locked(vq, make_features(false, false, false));
	assert_int_equal(vhu_vq_set_num_locked(vq, 300), 0);
	assert_int_equal(vhu_vq_set_num_locked(vq, 32768), 0);
	assert_int_equal(vhu_vq_set_num_locked(vq, 32769), -EINVAL);
	assert_int_equal(vhu_vq_set_num_locked(vq, 0), -EINVAL);
	/* fresh queue: both wrap counters start at 1 (§2.8.1) */
	assert_int_equal(vhu_vq_get_base_locked(vq), 0x80008000u);
	vhu_vq_resume(vq);
	vhu_vq_destroy(vq);
}

/* The device area says DISABLE unless the app asked for kicks. */
static void
test_device_event_area(void **state)
{
	struct rh_env e;

	(void)state;
	rh_env_setup(&e, make_features(false, false, true), 256, WRAP);
	assert_int_equal(vtd_used_flags(&e.tx),
			 VRING_PACKED_EVENT_FLAG_DISABLE);
	assert_int_equal(vhu_vq_set_notify(e.txq, true), 0);
	assert_int_equal(vtd_used_flags(&e.tx),
			 VRING_PACKED_EVENT_FLAG_ENABLE);
	assert_int_equal(vhu_vq_set_notify(e.txq, false), 0);
	assert_int_equal(vtd_used_flags(&e.tx),
			 VRING_PACKED_EVENT_FLAG_DISABLE);
	rh_env_teardown(&e);
}

/* With LOG_ALL and a logged ring, used descriptors and buffers are marked. */
static void
test_dirty_log(void **state)
{
	struct rh_env e;
	uint32_t k = 0;

	(void)state;
	rh_env_setup_opts(&e, make_features(true, false, false) |
			  BIT(VHOST_F_LOG_ALL), 256, WRAP,
			  &(struct vtd_opts){ .log = true });
	assert_true(e.rxq->flags & VHU_VQ_F_LOG);
	vtd_log_clear(&e.rx);
	rh_rx_round(&e, 4, &k);
	/* the descriptor ring's first page and a buffer page */
	assert_true(vtd_log_test(&e.rx, e.rx.desc_gpa));
	assert_true(vtd_log_test(&e.rx, e.rx.chains[e.rx.free_ids[
			e.rx.nfree - 1]].b[0].gpa));
	rh_env_teardown(&e);
}

/* ------------------------------------------------ registration */

/* ------------------------- external and linear buffers (extbuf.c) */

static void
test_tx_linear_extbuf_sizes(void **state)
{
	(void)state;
	rh_tx_bufs_sizes(make_features(false, false, false));
}

static void
test_tx_extbuf_alloc_fail(void **state)
{
	(void)state;
	rh_tx_bufs_alloc_fail(make_features(false, false, false));
}

static void
test_tx_extbuf_pool_dry(void **state)
{
	(void)state;
	rh_tx_bufs_pool_dry(make_features(false, false, false));
}

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_batch_path),
		cmocka_unit_test(test_batch_path_in_order),
		cmocka_unit_test(test_odd_ring_size),
		cmocka_unit_test(test_out_of_order_ids),
		cmocka_unit_test(test_rx_no_room),
		cmocka_unit_test(test_bad_avail_bits),
		cmocka_unit_test(test_bad_chain_longer_than_ring),
		cmocka_unit_test(test_bad_nested_indirect),
		cmocka_unit_test(test_bad_indirect_len17),
		cmocka_unit_test(test_bad_indirect_len0),
		cmocka_unit_test(test_bad_indirect_next),
		cmocka_unit_test(test_bad_indirect_outside),
		cmocka_unit_test(test_bad_outside),
		cmocka_unit_test(test_bad_runs_past_end),
		cmocka_unit_test(test_bad_writable_in_tx),
		cmocka_unit_test(test_tx_table_writable_tolerated),
		cmocka_unit_test(test_bad_readonly_table_in_rx),
		cmocka_unit_test(test_bad_short_header),
		cmocka_unit_test(test_bad_indirect_not_negotiated),
		cmocka_unit_test(test_bad_readonly_in_rx),
		cmocka_unit_test(test_vring_base),
		cmocka_unit_test(test_ring_num),
		cmocka_unit_test(test_device_event_area),
		cmocka_unit_test(test_dirty_log),
		cmocka_unit_test(test_tx_linear_extbuf_sizes),
		cmocka_unit_test(test_tx_extbuf_alloc_fail),
		cmocka_unit_test(test_tx_extbuf_pool_dry),
	};
	struct CMUnitTest tests[80];
	int n = 0;

	if (rh_init("packed") != 0)
		return 1;
	rh_add_matrix(tests, &n, RTE_DIM(tests), "matrix", test_matrix, true);
	return rh_run("packed", tests, n, RTE_DIM(tests), fixed, RTE_DIM(fixed));
}
