/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit suite for the split virtqueue data path (split.c, desc_split.h, copy.h,
 * burst.c, vq.c) against the test driver in virtq_driver.c. The matrix
 * {mergeable} x {indirect} x {event-idx} x {256, 1024 descriptors} moves
 * frames of 60..9000 bytes both ways, starting near index 65535 so the
 * 16-bit indexes wrap, and checks every byte, every used entry and every
 * call. Further cases: malformed rings (each must stop only its queue),
 * buffers straddling two memory regions, memory mapped at two addresses,
 * back-pressure (full rings, small buffers, empty mempool) and the
 * control-side state machine. The fixture, the burst rounds and their
 * checks are the ring harness's (ring_harness.h), shared with test_packed.
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include "ring_harness.h"
#include "vhu_burst.h"

static uint64_t
make_features(bool mrg, bool ind, bool evt, bool v1)
{
	return rh_features(mrg, ind, evt) | (v1 ? BIT(VIRTIO_F_VERSION_1) : 0);
}

/* --------------------------------------------------------- the matrix */

static void
test_matrix(void **state)
{
	const struct rh_cfg *c = *state;
	struct rh_env e;
	uint64_t f = make_features(c->mrg, c->ind, c->evt, c->size == 1024) |
		     (c->ino ? BIT(VIRTIO_F_IN_ORDER) : 0);
	uint32_t k = 0;
	/* starts 5 short of the 16-bit wrap */
	uint16_t base = 65531;
	int rounds;

	rh_env_setup(&e, f, c->size, base);
	/* enough frames to wrap the ring position three times */
	rounds = 3 * c->size / 40 + 2;
	for (int r = 0; r < rounds; r++)
		rh_tx_round(&e, 40, &k);
	assert_int_equal(e.txq->stats.packets, (uint64_t)rounds * 40);
	assert_int_equal(e.txq->stats.desc_errors, 0);
	assert_true((uint16_t)(e.txq->last_avail_idx - base) ==
		    (uint16_t)(rounds * 40));

	k = 0;
	rounds = 3 * c->size / 20 + 2;
	for (int r = 0; r < rounds; r++)
		rh_rx_round(&e, 20, &k);
	rh_expect_clean(&e);
	rh_env_teardown(&e);
}

/* Calls: only when the guest asks, at most one per burst. */
static void
test_matrix_notify(void **state)
{
	const struct rh_cfg *c = *state;
	struct rh_env e;
	uint64_t f = make_features(c->mrg, c->ind, c->evt, true);
	uint32_t k = 0;
	uint64_t calls;

	rh_env_setup(&e, f, c->size, 65500);
	if (!c->evt) {
		vtd_set_no_interrupt(&e.tx, true);
		rh_tx_round(&e, 40, &k);
		assert_int_equal(vtd_eventfd_take(e.call_tx), 0);
		assert_int_equal(e.txq->stats.calls, 0);
		vtd_set_no_interrupt(&e.tx, false);
		rh_tx_round(&e, 40, &k);
		assert_int_equal(vtd_eventfd_take(e.call_tx), 1);
		assert_int_equal(e.txq->stats.calls, 1);
	} else {
		/* first publish after start: no history, so call */
		vtd_set_used_event(&e.tx, 0);
		rh_tx_round(&e, 3, &k);
		assert_int_equal(vtd_eventfd_take(e.call_tx), 1);
		/* guest wants a call once used passes used_event */
		uint16_t u = e.txq->last_used_idx;

		vtd_set_used_event(&e.tx, u + 5);
		rh_tx_round(&e, 3, &k);   /* used u..u+3: not yet */
		assert_int_equal(vtd_eventfd_take(e.call_tx), 0);
		rh_tx_round(&e, 3, &k);   /* u+3..u+6 crosses u+5 */
		assert_int_equal(vtd_eventfd_take(e.call_tx), 1);
		rh_tx_round(&e, 3, &k);   /* event behind: no call */
		assert_int_equal(vtd_eventfd_take(e.call_tx), 0);
		/* used_event exactly at the first new entry */
		vtd_set_used_event(&e.tx, e.txq->last_used_idx);
		rh_tx_round(&e, 40, &k);  /* one call for the whole burst */
		assert_int_equal(vtd_eventfd_take(e.call_tx), 1);
	}
	calls = e.txq->stats.calls;
	assert_true(calls >= 1);
	/* RX side: one call per enqueue burst of many frames */
	if (!c->evt)
		vtd_set_no_interrupt(&e.rx, false);
	else
		vtd_set_used_event(&e.rx, e.rxq->last_used_idx);
	k = 0;
	rh_rx_round(&e, 20, &k);
	assert_true(vtd_eventfd_take(e.call_rx) >= 1);
	rh_env_teardown(&e);
}

/* -------------------------------------------------- malformed rings */

static struct vring_desc *
raw_desc(struct rh_env *e, uint16_t i)
{
	/* take the descriptor off the driver's free list */
	for (int k = 0; k < e->tx.nfree; k++)
		if (e->tx.free_ids[k] == i) {
			e->tx.free_ids[k] = e->tx.free_ids[--e->tx.nfree];
			break;
		}
	return &e->tx.desc[i];
}

/* Write transmit descriptor i (taken off the free list). */
static struct vring_desc *
put_desc(struct rh_env *e, uint16_t i, uint64_t addr, uint32_t len,
	 uint16_t flags, uint16_t next)
{
	struct vring_desc *d = raw_desc(e, i);

	*d = (struct vring_desc){ addr, len, flags, next };
	return d;
}

/* Make descriptor i available and publish it. */
static void
post_head(struct rh_env *e, uint16_t i)
{
	vtd_add_raw_head(&e->tx, i);
	vtd_publish(&e->tx);
}

static void
bad_head_range(struct rh_env *e)
{
	post_head(e, e->tx.size);
}

static void
bad_avail_jump(struct rh_env *e)
{
	vtd_set_avail_idx(&e->tx, e->tx.avail_idx + e->tx.size);
}

static void
bad_loop_self(struct rh_env *e)
{
	put_desc(e, 200, rh_frame_gpa(e, 64), 64, VRING_DESC_F_NEXT, 200);
	post_head(e, 200);
}

/* Two descriptors of len bytes each naming the other as next. */
static void
loop_pair(struct rh_env *e, uint16_t a, uint16_t b, uint32_t len)
{
	uint64_t g = rh_frame_gpa(e, 64);

	put_desc(e, a, g, len, VRING_DESC_F_NEXT, b);
	put_desc(e, b, g, len, VRING_DESC_F_NEXT, a);
	post_head(e, a);
}

static void
bad_loop_pair(struct rh_env *e)
{
	loop_pair(e, 201, 202, 64);
}

/* Zero-length buffers give no pieces: only the step count stops this. */
static void
bad_loop_empty(struct rh_env *e)
{
	loop_pair(e, 211, 212, 0);
}

static void
bad_next_range(struct rh_env *e)
{
	put_desc(e, 203, rh_frame_gpa(e, 64), 64, VRING_DESC_F_NEXT,
		 e->tx.size);
	post_head(e, 203);
}

/* An indirect descriptor at head 204 over a table of n entries. */
static struct vring_desc *
indirect_head(struct rh_env *e, uint32_t n, uint32_t len_bytes, uint16_t flags)
{
	uint64_t tg = vtd_alloc(&e->tx, 16 * n, 16);
	struct vring_desc *t = (struct vring_desc *)vtd_ptr(&e->tx, tg);

	for (uint32_t i = 0; i < n; i++) {
		t[i].addr = rh_frame_gpa(e, 64);
		t[i].len = 64;
		t[i].flags = i + 1 < n ? VRING_DESC_F_NEXT : 0;
		t[i].next = i + 1;
	}
	put_desc(e, 204, tg, len_bytes, flags, 0);
	post_head(e, 204);
	return t;
}

static void
bad_indirect_nested(struct rh_env *e)
{
	struct vring_desc *t = indirect_head(e, 2, 32, VRING_DESC_F_INDIRECT);

	/* second entry claims to be another table */
	t[1].flags = VRING_DESC_F_INDIRECT;
	t[1].len = 16;
}

static void
bad_indirect_plain(struct rh_env *e)
{
	indirect_head(e, 2, 32, VRING_DESC_F_INDIRECT);
}

static void
bad_indirect_len0(struct rh_env *e)
{
	indirect_head(e, 2, 0, VRING_DESC_F_INDIRECT);
}

static void
bad_indirect_len17(struct rh_env *e)
{
	indirect_head(e, 2, 17, VRING_DESC_F_INDIRECT);
}

static void
bad_indirect_huge(struct rh_env *e)
{
	indirect_head(e, 2, (VHU_VQ_MAX_SIZE + 1) * 16, VRING_DESC_F_INDIRECT);
}

static void
bad_indirect_next(struct rh_env *e)
{
	indirect_head(e, 2, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT);
}

static void
bad_indirect_loop(struct rh_env *e)
{
	struct vring_desc *t = indirect_head(e, 3, 48, VRING_DESC_F_INDIRECT);

	t[2].flags = VRING_DESC_F_NEXT;
	t[2].next = 0;
}

static void
bad_indirect_loop_empty(struct rh_env *e)
{
	struct vring_desc *t = indirect_head(e, 3, 48, VRING_DESC_F_INDIRECT);

	for (int i = 0; i < 3; i++)
		t[i].len = 0;
	t[2].flags = VRING_DESC_F_NEXT;
	t[2].next = 1;
}

/*
 * One-descriptor chains, one row each: head, where the buffer lies
 * (relative to the end of guest memory when from_end, else a fresh zeroed
 * buffer when addr is 0, else addr itself), its length and flags.
 */
struct one_desc {
	uint16_t head;
	bool from_end;
	int64_t addr;
	uint32_t len;
	uint16_t flags;
};

static void
post_one(struct rh_env *e, const struct one_desc *o)
{
	uint64_t addr = o->from_end ? vtd_mem_end(&e->tx) + o->addr :
			o->addr == 0 ? rh_frame_gpa(e, o->len) :
				       (uint64_t)o->addr;

	put_desc(e, o->head, addr, o->len, o->flags, 0);
	post_head(e, o->head);
}

#define ONE_DESC(name, ...) \
static void bad_##name(struct rh_env *e) \
{ \
	static const struct one_desc o = { __VA_ARGS__ }; \
	post_one(e, &o); \
}
/* an indirect table that runs past the end of memory */
ONE_DESC(indirect_table_outside, 205, true, -16, 32, VRING_DESC_F_INDIRECT)
ONE_DESC(outside, 206, true, 4096, 100, 0)
ONE_DESC(runs_past_end, 207, true, -50, 100, 0)
ONE_DESC(wraps_2_64, 208, false, (int64_t)(UINT64_MAX - 10), 100, 0)
/* device-writable in a transmit chain */
ONE_DESC(writable_in_tx, 209, false, 0, 100, VRING_DESC_F_WRITE)
/* shorter than the virtio-net header */
ONE_DESC(short_header, 210, false, 0, 8, 0)
#undef ONE_DESC

static void
bad_too_many_pieces(struct rh_env *e)
{
	/* 200 one-byte descriptors: a valid chain we cannot hold */
	for (uint16_t i = 0; i < 200; i++)
		put_desc(e, i + 20, rh_frame_gpa(e, 1), 1,
			 i + 1 < 200 ? VRING_DESC_F_NEXT : 0, i + 21);
	post_head(e, 20);
}

/* One good frame, then whatever bad() posts; the good one must go out. */
static void
tx_bad(uint64_t features, void (*bad)(struct rh_env *e), int good_expected)
{
	rh_tx_bad(features | BIT(VIRTIO_F_VERSION_1), 100, bad, good_expected);
}

#define IND BIT(VIRTIO_RING_F_INDIRECT_DESC)
#define BAD_TEST(name, feat, good) \
static void test_bad_##name(void **state) \
{ (void)state; tx_bad(feat, bad_##name, good); }

BAD_TEST(head_range, 0, 1)
BAD_TEST(avail_jump, 0, 0)
BAD_TEST(loop_self, 0, 1)
BAD_TEST(loop_pair, 0, 1)
BAD_TEST(loop_empty, 0, 1)
BAD_TEST(indirect_loop_empty, IND, 1)
BAD_TEST(next_range, 0, 1)
BAD_TEST(indirect_nested, IND, 1)
BAD_TEST(indirect_len0, IND, 1)
BAD_TEST(indirect_len17, IND, 1)
BAD_TEST(indirect_huge, IND, 1)
BAD_TEST(indirect_next, IND, 1)
BAD_TEST(indirect_loop, IND, 1)
BAD_TEST(indirect_table_outside, IND, 1)
BAD_TEST(outside, 0, 1)
BAD_TEST(runs_past_end, 0, 1)
BAD_TEST(wraps_2_64, 0, 1)
BAD_TEST(writable_in_tx, 0, 1)
BAD_TEST(short_header, 0, 1)
BAD_TEST(too_many_pieces, 0, 1)

/* INDIRECT without the feature is a violation too. */
static void
test_bad_indirect_not_negotiated(void **state)
{
	(void)state;
	tx_bad(0, bad_indirect_plain, 1);
}

static void
test_bad_readonly_in_rx(void **state)
{
	struct rh_env e;
	struct rte_mbuf *pkts[2];
	const uint32_t len = 2000;
	int h;

	(void)state;
	rh_env_setup(&e, BIT(VIRTIO_F_VERSION_1), 256, 0);
	assert_true(vtd_post_rx(&e.rx, &len, 1, false) >= 0);
	h = vtd_post_rx(&e.rx, &len, 1, false);
	e.rx.desc[h].flags = 0; /* device-readable in a receive chain */
	vtd_publish(&e.rx);
	pkts[0] = rh_make_chain(100, 1, false);
	pkts[1] = rh_make_chain(100, 2, false);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, pkts, 2), 1);
	rh_expect_broken(e.rxq, e.err_rx);
	rh_rx_check_frame(&e, 100, 1);
	assert_int_equal(vtd_used_pending(&e.rx), 0);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, pkts, 2), 0);
	rte_pktmbuf_free(pkts[0]);
	rte_pktmbuf_free(pkts[1]);
	rh_env_teardown(&e);
}

/* ------------------------------------------------ memory layouts */

/* Buffers (and an indirect table) straddling the region boundary. */
static void
test_straddle_regions(void **state)
{
	struct vtd_opts o = { .nregions = 2, .mem_size = 16ull << 20 };
	struct rh_env e;
	struct rte_mbuf *pkts[4];
	uint8_t frame[3000];
	struct vtd_buf b[2];
	uint64_t split;
	uint32_t id, len;

	(void)state;
	rh_env_setup_opts(&e, BIT(VIRTIO_F_VERSION_1) | IND, 256, 7, &o);
	split = vtd_region_split(&e.tx);
	assert_int_equal(e.tx.mem.nregions, 2);

	/* TX: header + frame in one buffer crossing the boundary */
	rh_fill(frame, sizeof(frame), 77);
	for (int i = 0; i < 2; i++) {
		/* then with the header itself cut by the boundary */
		b[0].gpa = i == 0 ? split - 1000 : split - 5;
		b[0].len = 12 + sizeof(frame);
		memset(vtd_ptr(&e.tx, b[0].gpa), 0, 12);
		memcpy(vtd_ptr(&e.tx, b[0].gpa + 12), frame, sizeof(frame));
		assert_true(vtd_add(&e.tx, b, 1, false, i == 1) >= 0);
		vtd_publish(&e.tx);
		assert_int_equal(vhu_dequeue_burst(e.dev, 0, rh_pool, pkts, 4), 1);
		rh_check_mbuf(pkts[0], sizeof(frame), 77);
		rte_pktmbuf_free(pkts[0]);
	}

	/* RX: one buffer crossing the boundary */
	b[0].gpa = split - 700;
	b[0].len = 4000;
	memset(vtd_ptr(&e.rx, b[0].gpa), 0xA5, b[0].len);
	assert_true(vtd_add(&e.rx, b, 1, true, false) >= 0);
	vtd_publish(&e.rx);
	pkts[0] = rh_make_chain(2500, 78, true);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, pkts, 1), 1);
	rh_rx_check_frame(&e, 2500, 78);
	rte_pktmbuf_free(pkts[0]);

	/* an indirect table crossing the boundary is refused */
	{
		uint64_t tg = split - 16;
		struct vring_desc *t = (struct vring_desc *)vtd_ptr(&e.tx, tg);
		struct vring_desc *d = raw_desc(&e, 250);

		t[0].addr = rh_frame_gpa(&e, 100);
		t[0].len = 100;
		t[0].flags = VRING_DESC_F_NEXT;
		t[0].next = 1;
		t[1] = t[0];
		t[1].flags = 0;
		d->addr = tg;
		d->len = 32;
		d->flags = VRING_DESC_F_INDIRECT;
		vtd_add_raw_head(&e.tx, 250);
		vtd_publish(&e.tx);
		assert_int_equal(vhu_dequeue_burst(e.dev, 0, rh_pool, pkts, 4), 0);
		rh_expect_broken(e.txq, e.err_tx);
	}
	assert_true(vtd_get_used(&e.tx, &id, &len));
	rh_env_teardown(&e);
}

/* The device sees memory through its own mapping of the memfd. */
static void
test_alias_mapping(void **state)
{
	struct vtd_opts o = { .alias = true };
	struct rh_env e;
	uint32_t k = 0;

	(void)state;
	rh_env_setup_opts(&e, make_features(true, true, true, true), 256, 0, &o);
	assert_ptr_not_equal(e.tx.mem.r[0].hva, e.tx.drv);
	rh_tx_round(&e, 40, &k);
	k = 0;
	rh_rx_round(&e, 20, &k);
	rh_env_teardown(&e);
}

/* ------------------------------------------------ back-pressure */

static void
test_rx_small_chain_nonmrg(void **state)
{
	struct rh_env e;
	struct rte_mbuf *pkts[3];
	const uint32_t len = 1000;

	(void)state;
	rh_env_setup(&e, BIT(VIRTIO_F_VERSION_1), 256, 0);
	rh_post_rx_n(&e, 3, len);
	pkts[0] = rh_make_chain(500, 1, false);
	pkts[1] = rh_make_chain(1500, 2, false);  /* does not fit in 1000 */
	pkts[2] = rh_make_chain(500, 3, false);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, pkts, 3), 1);
	assert_int_equal(e.rxq->stats.drops_no_buf, 2);
	rh_rx_check_frame(&e, 500, 1);
	assert_int_equal(vtd_used_pending(&e.rx), 0);
	/* the refused buffer is still there for the next frame */
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, &pkts[2], 1), 1);
	rh_rx_check_frame(&e, 500, 3);
	assert_false(e.rxq->broken);
	for (int i = 0; i < 3; i++)
		rte_pktmbuf_free(pkts[i]);
	rh_env_teardown(&e);
}

/*
 * The receive fast path stores the header only where the buffer differs
 * (copy.h): whatever stale bytes a reused buffer holds, in the first eight
 * bytes, in the last ones, in num_buffers, or nowhere, the guest reads a
 * clean header (num_buffers 1 where it exists) and the frame right behind
 * it, for the 10-byte legacy layout and the 12-byte one.
 */
static void
test_rx_header_over_stale_bytes(void **state)
{
	static const struct { uint32_t from, to; } stale[] = {
		{ 0, 12 }, { 0, 8 }, { 8, 12 }, { 8, 10 }, { 10, 12 }, { 0, 0 },
	};
	static const uint64_t features[] = {
		0, BIT(VIRTIO_F_VERSION_1),
		BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MRG_RXBUF),
	};
	const uint32_t len = 1536;

	(void)state;
	for (unsigned int f = 0; f < RTE_DIM(features); f++) {
		const uint32_t hdr_len = features[f] == 0 ? 10 : 12;
		struct rh_env e;

		rh_env_setup(&e, features[f], 256, 0);
		for (unsigned int i = 0; i < RTE_DIM(stale); i++) {
			struct rte_mbuf *m = rh_make_chain(64, 40 + i, false);
			uint8_t got[12 + 64], want[12 + 64] = { 0 };
			uint32_t id, used_len;
			int h = vtd_post_rx(&e.rx, &len, 1, false);
			uint8_t *p;

			assert_true(h >= 0);
			p = vtd_ptr(&e.rx, e.rx.chains[h].b[0].gpa);
			memset(p, 0, 12);
			memset(p + stale[i].from, 0xA5, stale[i].to - stale[i].from);
			vtd_publish(&e.rx);
			assert_int_equal(vhu_enqueue_burst(e.dev, 0, &m, 1), 1);
			assert_true(vtd_get_used(&e.rx, &id, &used_len));
			assert_int_equal(id, h);
			assert_int_equal(used_len, hdr_len + 64);
			vtd_gather(&e.rx, id, got, hdr_len + 64);
			if (hdr_len == 12)
				want[10] = 1;
			rh_fill(want + hdr_len, 64, 40 + i);
			assert_memory_equal(got, want, hdr_len + 64);
			rte_pktmbuf_free(m);
		}
		rh_env_teardown(&e);
	}
}

/*
 * Every frame length around the small-copy sizes (copy.h: rte_memcpy up to 64,
 * libc memcpy above) both ways through the one-buffer
 * fast paths: the bytes arrive intact and nothing past the frame changes.
 */
static void
test_small_frame_lengths(void **state)
{
	struct rh_env e;

	(void)state;
	rh_env_setup(&e, BIT(VIRTIO_F_VERSION_1), 256, 0);
	for (uint32_t len = 1; len <= 80; len++) {
		const uint32_t blen = 12 + len + 32;
		uint8_t frame[80], got[12 + 80 + 32];
		struct rte_mbuf *m = rh_make_chain(len, len, false);
		uint32_t id, used_len;
		int h = vtd_post_rx(&e.rx, &blen, 1, false);

		assert_true(h >= 0);
		vtd_publish(&e.rx);
		assert_int_equal(vhu_enqueue_burst(e.dev, 0, &m, 1), 1);
		rte_pktmbuf_free(m);
		assert_true(vtd_get_used(&e.rx, &id, &used_len));
		assert_int_equal(id, h);
		assert_int_equal(used_len, 12 + len);
		vtd_gather(&e.rx, id, got, blen);
		rh_fill(frame, len, len);
		assert_memory_equal(got + 12, frame, len);
		for (uint32_t i = 12 + len; i < blen; i++)
			assert_int_equal(got[i], 0xA5);

		assert_true(vtd_post_tx(&e.tx, frame, len, 12, 1, false) >= 0);
		vtd_publish(&e.tx);
		assert_int_equal(vhu_dequeue_burst(e.dev, 0, rh_pool, &m, 1), 1);
		assert_int_equal(m->pkt_len, len);
		assert_int_equal(m->data_len, len);
		assert_memory_equal(rte_pktmbuf_mtod(m, uint8_t *), frame, len);
		rte_pktmbuf_free(m);
		assert_true(vtd_get_used(&e.tx, &id, &used_len));
	}
	rh_env_teardown(&e);
}

static void
test_rx_mrg_never_fits(void **state)
{
	struct rh_env e;
	struct rte_mbuf *pkts[2];
	const uint32_t len = 1536;

	(void)state;
	rh_env_setup(&e, make_features(true, false, false, true), 256, 0);
	rh_post_rx_n(&e, 4, len);
	pkts[0] = rh_make_chain(9000, 1, true);  /* 4 x 1536 < 9012 */
	pkts[1] = rh_make_chain(100, 2, false);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, pkts, 2), 0);
	assert_int_equal(e.rxq->stats.drops_no_buf, 2);
	assert_int_equal(vtd_used_pending(&e.rx), 0);
	/* not wedged: the next small frame goes in */
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, &pkts[1], 1), 1);
	rh_rx_check_frame(&e, 100, 2);
	/* and a frame that fits exactly in the remaining 3 */
	rte_pktmbuf_free(pkts[0]);
	pkts[0] = rh_make_chain(3 * 1536 - 12, 4, true);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, pkts, 1), 1);
	rh_rx_check_frame(&e, 3 * 1536 - 12, 4);
	rte_pktmbuf_free(pkts[0]);
	rte_pktmbuf_free(pkts[1]);
	rh_env_teardown(&e);
}

static void
test_rx_ring_full(void **state)
{
	struct rh_env e;
	struct rte_mbuf *pkts[20];
	const uint32_t len = 2048;

	(void)state;
	rh_env_setup(&e, BIT(VIRTIO_F_VERSION_1), 256, 65530);
	rh_post_rx_n(&e, 10, len);
	for (int i = 0; i < 20; i++)
		pkts[i] = rh_make_chain(64 + i, i, false);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, pkts, 20), 10);
	assert_int_equal(e.rxq->stats.drops_no_buf, 10);
	assert_int_equal(e.rxq->stats.packets, 10);
	/* one ring-full event per call, whatever the frames left */
	assert_int_equal(e.rxq->stats.enqueue_full, 1);
	for (int i = 0; i < 10; i++)
		rh_rx_check_frame(&e, 64 + i, i);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, pkts, 20), 0);
	assert_int_equal(e.rxq->stats.drops_no_buf, 30);
	assert_int_equal(e.rxq->stats.enqueue_full, 2);
	/* a call that places all it was offered is no event */
	rh_post_rx_n(&e, 4, len);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, pkts, 4), 4);
	assert_int_equal(e.rxq->stats.enqueue_full, 2);
	for (int i = 0; i < 20; i++)
		rte_pktmbuf_free(pkts[i]);
	rh_env_teardown(&e);
}

static void
test_tx_pool_empty(void **state)
{
	struct rte_mempool *tiny;
	struct rh_env e;
	struct rte_mbuf *pkts[32];
	uint8_t frame[3000];
	uint16_t r;

	(void)state;
	tiny = rte_pktmbuf_pool_create("tiny", 15, 0, 0,
				       RH_DATA_ROOM + RTE_PKTMBUF_HEADROOM,
				       SOCKET_ID_ANY);
	assert_non_null(tiny);
	rh_env_setup(&e, BIT(VIRTIO_F_VERSION_1), 256, 0);
	rh_fill(frame, sizeof(frame), 5);
	rh_post_tx_n(&e, 10, frame, sizeof(frame), 2);
	/* 3000 bytes = 2 mbufs each: 7 frames, the 8th fails mid-chain */
	r = vhu_dequeue_burst(e.dev, 0, tiny, pkts, 32);
	assert_int_equal(r, 7);
	assert_int_equal(rte_mempool_avail_count(tiny), 1);
	assert_int_equal(vtd_used_pending(&e.tx), 7);
	for (int i = 0; i < r; i++) {
		rh_check_mbuf(pkts[i], sizeof(frame), 5);
		rte_pktmbuf_free(pkts[i]);
	}
	r = vhu_dequeue_burst(e.dev, 0, tiny, pkts, 32);
	assert_int_equal(r, 3);
	for (int i = 0; i < r; i++) {
		rh_check_mbuf(pkts[i], sizeof(frame), 5);
		rte_pktmbuf_free(pkts[i]);
	}
	assert_int_equal(vtd_used_pending(&e.tx), 10);
	assert_int_equal(rte_mempool_avail_count(tiny), 15);
	rh_env_teardown(&e);
	rte_mempool_free(tiny);
}

static void
test_burst_cap_and_empty_frames(void **state)
{
	struct rh_env e;
	struct rte_mbuf *pkts[200];
	uint8_t frame[60];
	uint16_t r;

	(void)state;
	rh_env_setup(&e, BIT(VIRTIO_F_VERSION_1), 256, 0);
	rh_fill(frame, sizeof(frame), 1);
	rh_post_tx_n(&e, 200, frame, sizeof(frame), 1);
	r = vhu_dequeue_burst(e.dev, 0, rh_pool, pkts, 200);
	assert_int_equal(r, VHU_BURST_MAX < 200 ? VHU_BURST_MAX : 200);
	rte_pktmbuf_free_bulk(pkts, r);
	while ((r = vhu_dequeue_burst(e.dev, 0, rh_pool, pkts, 200)) > 0)
		rte_pktmbuf_free_bulk(pkts, r);
	assert_int_equal(e.txq->stats.packets, 200);
	/* a header-only chain is consumed without producing a frame */
	assert_true(vtd_post_tx(&e.tx, frame, 0, 12, 1, false) >= 0);
	assert_true(vtd_post_tx(&e.tx, frame, sizeof(frame), 12, 1,
				false) >= 0);
	vtd_publish(&e.tx);
	assert_int_equal(vhu_dequeue_burst(e.dev, 0, rh_pool, pkts, 8), 1);
	rh_check_mbuf(pkts[0], sizeof(frame), 1);
	rte_pktmbuf_free(pkts[0]);
	assert_false(e.txq->broken);
	assert_int_equal(vtd_used_pending(&e.tx), 202);
	rh_env_teardown(&e);
}

/* ------------------------------------------------ API and control */

static void
test_burst_api_checks(void **state)
{
	struct rh_env e;
	struct rte_mbuf *pkts[4];
	uint8_t frame[60] = { 0 };

	(void)state;
	rh_env_setup(&e, BIT(VIRTIO_F_VERSION_1), 256, 0);
	assert_true(vtd_post_tx(&e.tx, frame, 60, 12, 1, false) >= 0);
	vtd_publish(&e.tx);
	assert_int_equal(vhu_dequeue_burst(NULL, 0, rh_pool, pkts, 4), 0);
	assert_int_equal(vhu_dequeue_burst(e.dev, 1, rh_pool, pkts, 4), 0);
	assert_int_equal(vhu_dequeue_burst(e.dev, 60000, rh_pool, pkts, 4), 0);
	assert_int_equal(vhu_dequeue_burst(e.dev, 0, NULL, pkts, 4), 0);
	assert_int_equal(vhu_enqueue_burst(e.dev, VHU_MAX_QUEUE_PAIRS, pkts,
					   4), 0);
	/* held by the control side: the burst returns at once */
	vhu_vq_quiesce(e.txq);
	assert_int_equal(vhu_dequeue_burst(e.dev, 0, rh_pool, pkts, 4), 0);
	vhu_vq_set_enabled_locked(e.txq, false);
	vhu_vq_resume(e.txq);
	assert_false(e.txq->ready);
	assert_string_equal(e.txq->why_not_ready, "disabled");
	assert_int_equal(vhu_dequeue_burst(e.dev, 0, rh_pool, pkts, 4), 0);
	vhu_vq_quiesce(e.txq);
	vhu_vq_set_enabled_locked(e.txq, true);
	vhu_vq_resume(e.txq);
	assert_int_equal(vhu_dequeue_burst(e.dev, 0, rh_pool, pkts, 4), 1);
	rte_pktmbuf_free(pkts[0]);
	/* a vring beyond nr_vrings, or not created */
	e.vqs.nr_vrings = 1;
	assert_int_equal(vhu_dequeue_burst(e.dev, 0, rh_pool, pkts, 4), 0);
	assert_int_equal(vhu_vring_notify(e.dev, 1, true), -ENODEV);
	e.vqs.nr_vrings = 2;
	e.vqs.vq[1] = NULL;
	assert_int_equal(vhu_dequeue_burst(e.dev, 0, rh_pool, pkts, 4), 0);
	e.vqs.vq[1] = e.txq;
	assert_int_equal(vhu_vring_notify(NULL, 0, true), -EINVAL);
	assert_int_equal(vhu_vring_notify(e.dev, 2 * VHU_MAX_QUEUE_PAIRS,
					  true), -EINVAL);
	/* polling frontend: no kick fd */
	assert_int_equal(vhu_vring_kick_fd(e.dev, 1), -ENOENT);
	{
		int kfd = rh_new_eventfd();

		vhu_vq_quiesce(e.txq);
		vhu_vq_set_kick_locked(e.txq, kfd);
		vhu_vq_resume(e.txq);
		assert_int_equal(vhu_vring_kick_fd(e.dev, 1), kfd);
	}
	rh_env_teardown(&e);
}

/* vhu_vring_kick_ack: drains, counts, and times the wake-up */
static void
test_kick_ack(void **state)
{
	struct rh_env e;
	struct rte_mbuf *pkts[4];
	uint8_t frame[60];
	uint64_t lat;
	int kfd;

	(void)state;
	rh_env_setup(&e, BIT(VIRTIO_F_VERSION_1), 256, 0);
	assert_int_equal(vhu_vring_kick_ack(NULL, 1), -EINVAL);
	assert_int_equal(vhu_vring_kick_ack(e.dev, 2 * VHU_MAX_QUEUE_PAIRS),
			 -EINVAL);
	/* polling frontend: no kick fd */
	assert_int_equal(vhu_vring_kick_ack(e.dev, 1), -ENOENT);
	kfd = rh_new_eventfd();
	vhu_vq_quiesce(e.txq);
	vhu_vq_set_kick_locked(e.txq, kfd);
	vhu_vq_resume(e.txq);
	/* nothing pending: 0, no latency to measure */
	assert_int_equal(vhu_vring_kick_ack(e.dev, 1), 0);
	assert_int_equal(e.txq->stats.kicks, 0);
	assert_false(e.txq->flags & VHU_VQ_F_KICKED);
	/* three guest kicks before the wake-up: one read takes them all */
	for (int i = 0; i < 3; i++)
		assert_int_equal(eventfd_write(kfd, 1), 0);
	assert_int_equal(vhu_vring_kick_ack(e.dev, 1), 3);
	assert_int_equal(e.txq->stats.kicks, 3);
	assert_int_equal(vhu_vring_kick_ack(e.dev, 1), 0);
	assert_int_equal(e.txq->stats.kicks, 3);
	assert_true(e.txq->flags & VHU_VQ_F_KICKED);
	assert_int_equal(e.txq->stats.last_kick_latency_ns, 0);
	/* the next burst, 2 ms later, records the latency once */
	usleep(2000);
	rh_fill(frame, sizeof(frame), 7);
	assert_true(vtd_post_tx(&e.tx, frame, sizeof(frame), 12, 1, false) >= 0);
	vtd_publish(&e.tx);
	assert_int_equal(vhu_dequeue_burst(e.dev, 0, rh_pool, pkts, 4), 1);
	rte_pktmbuf_free(pkts[0]);
	lat = e.txq->stats.last_kick_latency_ns;
	assert_true(lat >= 2000000);
	assert_true(lat < 5000000000ull);
	assert_false(e.txq->flags & VHU_VQ_F_KICKED);
	assert_int_equal(vhu_dequeue_burst(e.dev, 0, rh_pool, pkts, 4), 0);
	assert_int_equal(e.txq->stats.last_kick_latency_ns, lat);
	/* the flag survives a reconfiguration (resume keeps it) */
	assert_int_equal(eventfd_write(kfd, 1), 0);
	assert_int_equal(vhu_vring_kick_ack(e.dev, 1), 1);
	assert_int_equal(vhu_vring_notify(e.dev, 1, true), 0);
	assert_true(e.txq->flags & VHU_VQ_F_KICKED);
	/* receive vring too: the enqueue burst measures */
	assert_int_equal(vhu_vring_kick_ack(e.dev, 0), -ENOENT);
	rh_env_teardown(&e);
}

static void
test_notify_flags(void **state)
{
	struct rh_env e;

	(void)state;
	rh_env_setup(&e, BIT(VIRTIO_F_VERSION_1), 256, 300);
	/* polling is the default: the guest is told not to kick */
	assert_int_equal(vtd_used_flags(&e.tx), VRING_USED_F_NO_NOTIFY);
	assert_int_equal(vhu_vring_notify(e.dev, 1, true), 0);
	assert_int_equal(vtd_used_flags(&e.tx), 0);
	assert_int_equal(vhu_vring_notify(e.dev, 1, false), 0);
	assert_int_equal(vtd_used_flags(&e.tx), VRING_USED_F_NO_NOTIFY);
	rh_env_teardown(&e);

	rh_env_setup(&e, make_features(false, false, true, true), 256, 300);
	assert_int_equal(vtd_used_flags(&e.tx), 0);
	assert_int_equal(vtd_avail_event(&e.tx), 299);
	assert_int_equal(vhu_vring_notify(e.dev, 1, true), 0);
	/* kick on the very next add */
	assert_int_equal(vtd_avail_event(&e.tx), 300);
	assert_int_equal(vhu_vring_notify(e.dev, 1, false), 0);
	assert_int_equal(vtd_avail_event(&e.tx), 299);
	rh_env_teardown(&e);
}

static void
test_control_state(void **state)
{
	struct vtd d;
	struct vtd_opts o = { .size = 256, .mem_size = 4ull << 20,
			      .nregions = 1 };
	struct vhost_vring_addr a;
	struct vhu_vq *vq;
	int fd;

	(void)state;
	assert_int_equal(vtd_init(&d, &o, 0), 0);
	vq = vhu_vq_create(3, 5, SOCKET_ID_ANY, &d.mem, &d.log);
	assert_non_null(vq);
	assert_string_equal(vq->name, "dev3.vring5");
	assert_int_equal(vq->callfd, -1);
	assert_int_equal(vq->kickfd, -1);
	assert_int_equal(vq->errfd, -1);
	vhu_vq_quiesce(vq);
	assert_int_equal(vhu_vq_set_num_locked(vq, 0), -EINVAL);
	assert_int_equal(vhu_vq_set_num_locked(vq, 100), -EINVAL);
	assert_int_equal(vhu_vq_set_num_locked(vq, 65536), -EINVAL);
	assert_int_equal(vhu_vq_set_num_locked(vq, 32768), 0);
	assert_int_equal(vhu_vq_set_num_locked(vq, 1), 0);
	assert_int_equal(vhu_vq_set_num_locked(vq, 256), 0);
	assert_int_equal(vhu_vq_set_base_locked(vq, 65536), -EINVAL);
	assert_int_equal(vhu_vq_set_base_locked(vq, 65535), 0);
	assert_int_equal(vhu_vq_get_base_locked(vq), 65535);
	vhu_vq_resume(vq);
	assert_false(vq->ready);
	assert_string_equal(vq->why_not_ready, "no SET_VRING_ADDR");
	assert_false(vhu_vq_configured(vq));

	memset(&a, 0, sizeof(a));
	a.desc_user_addr = vtd_qva(&d, d.desc_gpa);
	a.avail_user_addr = vtd_qva(&d, d.avail_gpa);
	/* used ring that runs off the end of memory */
	a.used_user_addr = vtd_qva(&d, vtd_mem_end(&d) - 100);
	vhu_vq_quiesce(vq);
	vhu_vq_set_addr_locked(vq, &a);
	vhu_vq_set_kick_locked(vq, -1);
	fd = rh_new_eventfd();
	vhu_vq_set_call_locked(vq, fd);
	vhu_vq_set_enabled_locked(vq, true);
	vhu_vq_set_running_locked(vq, true);
	vhu_vq_resume(vq);
	assert_true(vhu_vq_configured(vq));
	assert_false(vhu_vq_usable(vq));
	assert_false(vq->ready);
	assert_string_equal(vq->why_not_ready,
			    "ring address outside guest memory");
	/* misaligned used ring */
	a.used_user_addr = vtd_qva(&d, d.used_gpa + 2);
	vhu_vq_quiesce(vq);
	vhu_vq_set_addr_locked(vq, &a);
	vhu_vq_resume(vq);
	assert_string_equal(vq->why_not_ready, "ring address misaligned");
	a.used_user_addr = vtd_qva(&d, d.used_gpa);
	vhu_vq_quiesce(vq);
	vhu_vq_set_addr_locked(vq, &a);
	vhu_vq_set_running_locked(vq, false);
	vhu_vq_resume(vq);
	assert_true(vhu_vq_usable(vq));
	assert_string_equal(vq->why_not_ready, "device not started");
	vhu_vq_quiesce(vq);
	vhu_vq_set_running_locked(vq, true);
	vhu_vq_resume(vq);
	assert_true(vq->ready);
	assert_null(vq->why_not_ready);
	assert_int_equal(vq->size, 256);
	assert_int_equal(vq->hdr_len, 10);

	/* features derive the flags; LOG needs a log installed */
	vhu_vq_quiesce(vq);
	vhu_vq_set_features_locked(vq, make_features(true, true, true, false) |
				   BIT(VHOST_F_LOG_ALL));
	vhu_vq_resume(vq);
	assert_int_equal(vq->flags & ~VHU_VQ_F_NOTIFY,
			 VHU_VQ_F_MRG_RXBUF | VHU_VQ_F_INDIRECT |
			 VHU_VQ_F_EVENT_IDX);
	assert_int_equal(vq->hdr_len, 12);

	/* GET_VRING_BASE: ring unusable until reconfigured, fds closed */
	vhu_vq_quiesce(vq);
	vhu_vq_stop_locked(vq);
	vhu_vq_resume(vq);
	assert_false(vq->ready);
	assert_false(vhu_vq_configured(vq));
	assert_int_equal(vq->callfd, -1);
	assert_int_equal(vq->kickfd, -1);
	assert_int_equal(vhu_vq_get_base_locked(vq), 65535);

	/* reset: everything back to the start */
	vq->stats.packets = 5;
	vhu_vq_quiesce(vq);
	vhu_vq_set_err_locked(vq, rh_new_eventfd());
	vhu_vq_reset_locked(vq);
	vhu_vq_resume(vq);
	assert_int_equal(vq->errfd, -1);
	assert_int_equal(vq->stats.packets, 0);
	assert_int_equal(vq->last_avail_idx, 0);
	assert_false(vq->enabled);
	assert_false(vq->ready);
	vhu_vq_destroy(vq);
	/* the queue closed our call fd: it is gone */
	assert_int_equal(close(fd), -1);
	vtd_fini(&d);
}

/* Control side quiesces while a data lcore runs bursts: nothing lost. */
struct race {
	struct rh_env *e;
	_Atomic bool stop;
	_Atomic uint64_t got;           /* written by the rx thread only */
};

static void *
race_rx_thread(void *arg)
{
	struct race *r = arg;
	struct rte_mbuf *pkts[32];

	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		uint16_t n = vhu_dequeue_burst(r->e->dev, 0, rh_pool, pkts, 32);

		for (int i = 0; i < n; i++) {
			if (pkts[i]->pkt_len != 60)
				atomic_store_explicit(&r->got, UINT64_MAX / 2,
						      memory_order_relaxed);
			rte_pktmbuf_free(pkts[i]);
		}
		atomic_store_explicit(&r->got,
				      atomic_load_explicit(&r->got,
							   memory_order_relaxed) + n,
				      memory_order_relaxed);
	}
	return NULL;
}

static void
test_quiesce_race(void **state)
{
	struct rh_env e;
	struct race r = { .e = &e };
	pthread_t t;
	uint8_t frame[60] = { 1 };
	const int total = 20000;
	int sent = 0;

	(void)state;
	rh_env_setup(&e, BIT(VIRTIO_F_VERSION_1), 256, 0);
	assert_int_equal(pthread_create(&t, NULL, race_rx_thread, &r), 0);
	while (sent < total) {
		uint32_t id, len;

		while (vtd_get_used(&e.tx, &id, &len))
			;
		while (sent < total && e.tx.nfree > 0 &&
		       vtd_post_tx(&e.tx, frame, 60, 12, 1, false) >= 0)
			sent++;
		vtd_publish(&e.tx);
		/* the protocol layer touching the queue mid-traffic */
		vhu_vq_quiesce(e.txq);
		vhu_vq_set_enabled_locked(e.txq, true);
		vhu_vq_resume(e.txq);
	}
	while (atomic_load_explicit(&r.got, memory_order_relaxed) <
	       (uint64_t)total)
		sched_yield();
	atomic_store_explicit(&r.stop, true, memory_order_relaxed);
	pthread_join(t, NULL);
	assert_int_equal(atomic_load_explicit(&r.got, memory_order_relaxed),
			 total);
	assert_int_equal(e.txq->stats.packets, total);
	rh_env_teardown(&e);
}

/* ------------------------- external and linear buffers (extbuf.c) */

static void
test_tx_linear_extbuf_sizes(void **state)
{
	(void)state;
	rh_tx_bufs_sizes(BIT(VIRTIO_F_VERSION_1));
}

static void
test_tx_extbuf_alloc_fail(void **state)
{
	(void)state;
	rh_tx_bufs_alloc_fail(BIT(VIRTIO_F_VERSION_1));
}

static void
test_tx_extbuf_pool_dry(void **state)
{
	(void)state;
	rh_tx_bufs_pool_dry(BIT(VIRTIO_F_VERSION_1));
}

/* ------------------------------------------------ registration */

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_bad_head_range),
		cmocka_unit_test(test_bad_avail_jump),
		cmocka_unit_test(test_bad_loop_self),
		cmocka_unit_test(test_bad_loop_pair),
		cmocka_unit_test(test_bad_loop_empty),
		cmocka_unit_test(test_bad_indirect_loop_empty),
		cmocka_unit_test(test_bad_next_range),
		cmocka_unit_test(test_bad_indirect_nested),
		cmocka_unit_test(test_bad_indirect_len0),
		cmocka_unit_test(test_bad_indirect_len17),
		cmocka_unit_test(test_bad_indirect_huge),
		cmocka_unit_test(test_bad_indirect_next),
		cmocka_unit_test(test_bad_indirect_loop),
		cmocka_unit_test(test_bad_indirect_table_outside),
		cmocka_unit_test(test_bad_indirect_not_negotiated),
		cmocka_unit_test(test_bad_outside),
		cmocka_unit_test(test_bad_runs_past_end),
		cmocka_unit_test(test_bad_wraps_2_64),
		cmocka_unit_test(test_bad_writable_in_tx),
		cmocka_unit_test(test_bad_short_header),
		cmocka_unit_test(test_bad_too_many_pieces),
		cmocka_unit_test(test_bad_readonly_in_rx),
		cmocka_unit_test(test_straddle_regions),
		cmocka_unit_test(test_alias_mapping),
		cmocka_unit_test(test_rx_small_chain_nonmrg),
		cmocka_unit_test(test_rx_header_over_stale_bytes),
		cmocka_unit_test(test_small_frame_lengths),
		cmocka_unit_test(test_rx_mrg_never_fits),
		cmocka_unit_test(test_rx_ring_full),
		cmocka_unit_test(test_tx_pool_empty),
		cmocka_unit_test(test_burst_cap_and_empty_frames),
		cmocka_unit_test(test_burst_api_checks),
		cmocka_unit_test(test_notify_flags),
		cmocka_unit_test(test_kick_ack),
		cmocka_unit_test(test_control_state),
		cmocka_unit_test(test_quiesce_race),
		cmocka_unit_test(test_tx_linear_extbuf_sizes),
		cmocka_unit_test(test_tx_extbuf_alloc_fail),
		cmocka_unit_test(test_tx_extbuf_pool_dry),
	};
	struct CMUnitTest tests[112];
	int n = 0;

	if (rh_init("split") != 0)
		return 1;
	rh_add_matrix(tests, &n, RTE_DIM(tests), "matrix", test_matrix, true);
	rh_add_matrix(tests, &n, RTE_DIM(tests), "notify", test_matrix_notify,
		      false);
	return rh_run("split", tests, n, RTE_DIM(tests), fixed, RTE_DIM(fixed));
}
