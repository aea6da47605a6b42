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
 * control-side state machine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "vhu_burst.h"
#include "virtq_driver.h"

#define BIT(b) (1ull << (b))
#define DATA_ROOM 2048

static struct rte_mempool *pool;       /* 2 KiB data rooms */
static struct rte_mempool *seg_pool;   /* 512-byte rooms for chains */

struct cfg {
	bool mrg, ind, evt, ino;
	uint16_t size;
};

/* One device with one queue pair: vring 0 = guest RX, vring 1 = guest TX */
struct env {
	struct vtd rx, tx;
	struct vhu_vq *rxq, *txq;
	int call_rx, call_tx, err_rx, err_tx;
	struct vhu_dev_vqs vqs;
	struct vhu_dev *dev;
	uint64_t features;
	uint16_t hdr_len;
	bool mrg, ind;
};

static const uint32_t sizes[] = {
	60, 61, 64, 100, 127, 128, 255, 511, 1000, 1499, 1500, 1514,
	2047, 2048, 2049, 3000, 4096, 5000, 8000, 8999, 9000,
};
#define NSIZES RTE_DIM(sizes)

static uint8_t
pattern(uint32_t seed, uint32_t i)
{
	return (uint8_t)(seed * 131u + i * 7u + (i >> 8));
}

static void
fill(uint8_t *b, uint32_t len, uint32_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		b[i] = pattern(seed, i);
}

static uint64_t
make_features(bool mrg, bool ind, bool evt, bool v1)
{
	uint64_t f = 0;

	if (mrg)
		f |= BIT(VIRTIO_NET_F_MRG_RXBUF);
	if (ind)
		f |= BIT(VIRTIO_RING_F_INDIRECT_DESC);
	if (evt)
		f |= BIT(VIRTIO_RING_F_EVENT_IDX);
	if (v1)
		f |= BIT(VIRTIO_F_VERSION_1);
	return f;
}

static int
new_eventfd(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static void
env_setup_opts(struct env *e, uint64_t features, uint16_t size,
	       uint16_t base, const struct vtd_opts *o_in)
{
	struct vtd_opts o = { .size = size, .nregions = 1 };

	if (o_in != NULL)
		o = *o_in;
	o.size = size;
	o.in_order = features & BIT(VIRTIO_F_IN_ORDER);
	if (o.mem_size == 0)
		o.mem_size = size > 256 ? 32ull << 20 : 16ull << 20;
	memset(e, 0, sizeof(*e));
	assert_int_equal(vtd_init(&e->rx, &o, base), 0);
	assert_int_equal(vtd_init(&e->tx, &o, base), 0);
	e->call_rx = new_eventfd();
	e->call_tx = new_eventfd();
	e->err_rx = new_eventfd();
	e->err_tx = new_eventfd();
	e->features = features;
	e->mrg = features & BIT(VIRTIO_NET_F_MRG_RXBUF);
	e->ind = features & BIT(VIRTIO_RING_F_INDIRECT_DESC);
	e->hdr_len = (features & (BIT(VIRTIO_NET_F_MRG_RXBUF) |
				  BIT(VIRTIO_F_VERSION_1))) ? 12 : 10;
	e->rxq = vtd_make_vq(&e->rx, 0, features, base, e->call_rx, false);
	e->txq = vtd_make_vq(&e->tx, 1, features, base, e->call_tx, false);
	assert_non_null(e->rxq);
	assert_non_null(e->txq);
	vhu_vq_quiesce(e->rxq);
	vhu_vq_set_err_locked(e->rxq, dup(e->err_rx));
	vhu_vq_resume(e->rxq);
	vhu_vq_quiesce(e->txq);
	vhu_vq_set_err_locked(e->txq, dup(e->err_tx));
	vhu_vq_resume(e->txq);
	assert_true(e->rxq->ready);
	assert_true(e->txq->ready);
	assert_int_equal(e->rxq->hdr_len, e->hdr_len);
	e->vqs.nr_vrings = 2;
	e->vqs.vq[0] = e->rxq;
	e->vqs.vq[1] = e->txq;
	e->dev = (struct vhu_dev *)&e->vqs;
}

static void
env_setup(struct env *e, uint64_t features, uint16_t size, uint16_t base)
{
	env_setup_opts(e, features, size, base, NULL);
}

static void
env_teardown(struct env *e)
{
	vhu_vq_destroy(e->rxq);
	vhu_vq_destroy(e->txq);
	vtd_fini(&e->rx);
	vtd_fini(&e->tx);
	close(e->call_rx);
	close(e->call_tx);
	close(e->err_rx);
	close(e->err_tx);
}

/* Compare an mbuf chain with the pattern. */
static void
check_mbuf(const struct rte_mbuf *m, uint32_t len, uint32_t seed)
{
	uint32_t off = 0, segs = 0;

	assert_int_equal(m->pkt_len, len);
	for (const struct rte_mbuf *s = m; s != NULL; s = s->next) {
		const uint8_t *p = rte_pktmbuf_mtod(s, const uint8_t *);

		for (uint32_t i = 0; i < s->data_len; i++)
			if (p[i] != pattern(seed, off + i))
				fail_msg("byte %u differs", off + i);
		off += s->data_len;
		segs++;
	}
	assert_int_equal(off, len);
	assert_int_equal(m->nb_segs, segs);
	assert_int_equal(segs, (len + DATA_ROOM - 1) / DATA_ROOM);
}

/* A multi-segment mbuf of len pattern bytes, segments of varying size. */
static struct rte_mbuf *
make_chain(uint32_t len, uint32_t seed, bool multi)
{
	struct rte_mbuf *head = NULL;
	uint32_t off = 0;
	uint32_t step = 0;

	if (!multi) {
		head = rte_pktmbuf_alloc(pool);
		assert_non_null(head);
		assert_true(len <= rte_pktmbuf_tailroom(head) || len > DATA_ROOM);
		if (len <= DATA_ROOM) {
			fill((uint8_t *)rte_pktmbuf_append(head, len), len, seed);
			return head;
		}
		rte_pktmbuf_free(head);
		head = NULL;
	}
	while (off < len || head == NULL) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(seg_pool);
		uint32_t room, n;
		uint8_t *p;

		assert_non_null(m);
		room = rte_pktmbuf_tailroom(m);
		/* uneven segments: 1, 37, 300, room, ... */
		static const uint32_t cuts[] = { 1, 37, 300, 4096, 13, 511 };
		n = RTE_MIN(cuts[step++ % RTE_DIM(cuts)], room);
		n = RTE_MIN(n, len - off);
		p = (uint8_t *)rte_pktmbuf_append(m, n);
		for (uint32_t i = 0; i < n; i++)
			p[i] = pattern(seed, off + i);
		off += n;
		if (head == NULL)
			head = m;
		else
			assert_int_equal(rte_pktmbuf_chain(head, m), 0);
	}
	return head;
}

/* ---------------------------------------------------------------- TX */

struct posted {
	int head;
	uint32_t len;
	uint32_t seed;
};

/* Guest sends n frames (sizes cycling from *k), device dequeues them. */
static void
tx_round(struct env *e, int n, uint32_t *k)
{
	struct posted post[256];
	struct rte_mbuf *pkts[64];
	uint64_t entries, bursts = 0;
	int got = 0;
	uint8_t frame[9000];

	assert_true(n <= 256);
	for (int i = 0; i < n; i++) {
		uint32_t j = (*k)++;
		uint32_t len = sizes[j % NSIZES];
		int layout = (j / NSIZES) % 5;
		bool ind = e->ind && layout == 4;
		int nbufs = layout == 4 ? 3 : layout + 1 + (layout == 3);

		fill(frame, len, j);
		post[i].head = vtd_post_tx(&e->tx, frame, len, e->hdr_len,
					   nbufs, ind);
		assert_true(post[i].head >= 0);
		post[i].len = len;
		post[i].seed = j;
	}
	vtd_publish(&e->tx);
	entries = e->tx.used_entries;
	while (got < n) {
		uint16_t r = vhu_dequeue_burst(e->dev, 0, pool, pkts, 64);

		assert_true(r > 0);
		bursts++;
		for (int i = 0; i < r; i++) {
			check_mbuf(pkts[i], post[got + i].len,
				   post[got + i].seed);
			rte_pktmbuf_free(pkts[i]);
		}
		got += r;
	}
	assert_int_equal(vtd_used_pending(&e->tx), n);
	for (int i = 0; i < n; i++) {
		uint32_t id, len;

		assert_true(vtd_get_used(&e->tx, &id, &len));
		assert_int_equal(id, post[i].head);
		assert_int_equal(len, 0);
	}
	if (e->tx.o.in_order) {
		/* IN_ORDER: one used entry per burst, naming its last buffer */
		assert_int_equal(e->tx.used_entries - entries, bursts);
		assert_false(e->tx.order_error);
	}
}

/* ---------------------------------------------------------------- RX */

/* Post guest receive buffers in the shape this configuration uses. */
static int
post_rx_buffers(struct env *e, int n, int variant)
{
	int posted = 0;

	for (int i = 0; i < n; i++) {
		int h;

		if (e->mrg) {
			/* Linux-like single buffers; some chained/indirect */
			static const uint32_t two[] = { 700, 836 };
			uint32_t one = 1536;

			if ((variant + i) % 4 == 1)
				h = vtd_post_rx(&e->rx, two, 2, false);
			else if ((variant + i) % 4 == 3 && e->ind)
				h = vtd_post_rx(&e->rx, two, 2, true);
			else
				h = vtd_post_rx(&e->rx, &one, 1, false);
		} else {
			/* big enough for header + 9000 */
			static const uint32_t big[] = { 4096, 4096, 1200 };
			static const uint32_t odd[] = { 5, 7, 3000, 6100 };

			if ((variant + i) % 3 == 1)
				h = vtd_post_rx(&e->rx, odd, 4, false);
			else
				h = vtd_post_rx(&e->rx, big, 3,
						e->ind && (variant + i) % 3 == 2);
		}
		if (h < 0)
			break;
		posted++;
	}
	vtd_publish(&e->rx);
	return posted;
}

/* Read back one frame from the used ring and check header and bytes. */
static void
rx_check_frame(struct env *e, uint32_t flen, uint32_t seed)
{
	static uint8_t buf[9100 + 12];
	uint32_t id, len, total = 0, nb = 1;
	uint8_t hdr_zero[12] = { 0 };

	for (uint32_t k = 0; k < nb; k++) {
		const struct vtd_chain *c;
		uint32_t cap = 0;

		uint64_t before = e->rx.used_entries;

		assert_true(vtd_get_used(&e->rx, &id, &len));
		/* IN_ORDER still gives each receive buffer its length */
		if (e->rx.o.in_order) {
			assert_int_equal(e->rx.used_entries, before + 1);
			assert_false(e->rx.order_error);
		}
		assert_true(id < e->rx.size);
		c = &e->rx.chains[id];
		for (int i = 0; i < c->n; i++)
			cap += c->b[i].len;
		assert_true(len <= cap);
		assert_true(total + len <= sizeof(buf));
		vtd_gather(&e->rx, id, buf + total, len);
		/* bytes after what the device reported are untouched */
		if (len < cap) {
			uint8_t rest[16];
			uint32_t n = RTE_MIN(cap - len, (uint32_t)sizeof(rest));
			uint8_t tmp[9100 + 12 + 16];

			vtd_gather(&e->rx, id, tmp, len + n);
			memcpy(rest, tmp + len, n);
			for (uint32_t i = 0; i < n; i++)
				assert_int_equal(rest[i], 0xA5);
		}
		if (k == 0 && e->hdr_len == 12)
			nb = buf[10] | (buf[11] << 8);
		total += len;
		if (k == 0)
			assert_true(nb >= 1);
	}
	if (!e->mrg)
		assert_int_equal(nb, 1);
	assert_int_equal(total, e->hdr_len + flen);
	assert_memory_equal(buf, hdr_zero, 10);
	for (uint32_t i = 0; i < flen; i++)
		if (buf[e->hdr_len + i] != pattern(seed, i))
			fail_msg("rx byte %u of %u differs", i, flen);
}

static void
rx_round(struct env *e, int n, uint32_t *k)
{
	struct rte_mbuf *pkts[64];
	uint32_t seeds[64];
	uint32_t lens[64];
	uint64_t before = e->rxq->stats.packets;
	int bufs_needed = 0;

	assert_true(n <= 64);
	for (int i = 0; i < n; i++) {
		uint32_t j = (*k)++;

		lens[i] = sizes[(j * 7) % NSIZES];
		seeds[i] = j;
		pkts[i] = make_chain(lens[i], j, j % 2);
		bufs_needed += e->mrg ? (lens[i] + e->hdr_len + 699) / 700 : 1;
	}
	assert_true(post_rx_buffers(e, bufs_needed, (int)*k) == bufs_needed);
	assert_int_equal(vhu_enqueue_burst(e->dev, 0, pkts, n), n);
	for (int i = 0; i < n; i++) {
		rx_check_frame(e, lens[i], seeds[i]);
		rte_pktmbuf_free(pkts[i]);
	}
	assert_int_equal(e->rxq->stats.packets, before + n);
	/* the guest takes back buffers the device did not use */
	if (e->mrg) {
		uint16_t left = (uint16_t)(e->rx.avail_idx -
					   e->rxq->last_avail_idx);
		/* drop them by rewinding the driver: consume with 64-byte frames */
		while (left > 0) {
			struct rte_mbuf *m = make_chain(60, 1, false);
			uint16_t r = vhu_enqueue_burst(e->dev, 0, &m, 1);

			rte_pktmbuf_free(m);
			assert_int_equal(r, 1);
			rx_check_frame(e, 60, 1);
			left--;
		}
	}
}

/* --------------------------------------------------------- the matrix */

static void
test_matrix(void **state)
{
	const struct cfg *c = *state;
	struct env e;
	uint64_t f = make_features(c->mrg, c->ind, c->evt, c->size == 1024) |
		     (c->ino ? BIT(VIRTIO_F_IN_ORDER) : 0);
	uint32_t k = 0;
	/* starts 5 short of the 16-bit wrap */
	uint16_t base = 65531;
	int rounds;

	env_setup(&e, f, c->size, base);
	/* enough frames to wrap the ring position three times */
	rounds = 3 * c->size / 40 + 2;
	for (int r = 0; r < rounds; r++)
		tx_round(&e, 40, &k);
	assert_int_equal(e.txq->stats.packets, (uint64_t)rounds * 40);
	assert_int_equal(e.txq->stats.desc_errors, 0);
	assert_true((uint16_t)(e.txq->last_avail_idx - base) ==
		    (uint16_t)(rounds * 40));

	k = 0;
	rounds = 3 * c->size / 20 + 2;
	for (int r = 0; r < rounds; r++)
		rx_round(&e, 20, &k);
	assert_int_equal(e.rxq->stats.drops_no_buf, 0);
	assert_int_equal(e.rxq->stats.desc_errors, 0);
	assert_false(e.rxq->broken);
	assert_false(e.txq->broken);
	env_teardown(&e);
}

/* Calls: only when the guest asks, at most one per burst. */
static void
test_matrix_notify(void **state)
{
	const struct cfg *c = *state;
	struct env e;
	uint64_t f = make_features(c->mrg, c->ind, c->evt, true);
	uint32_t k = 0;
	uint64_t calls;

	env_setup(&e, f, c->size, 65500);
	if (!c->evt) {
		vtd_set_no_interrupt(&e.tx, true);
		tx_round(&e, 40, &k);
		assert_int_equal(vtd_eventfd_take(e.call_tx), 0);
		assert_int_equal(e.txq->stats.calls, 0);
		vtd_set_no_interrupt(&e.tx, false);
		tx_round(&e, 40, &k);
		assert_int_equal(vtd_eventfd_take(e.call_tx), 1);
		assert_int_equal(e.txq->stats.calls, 1);
	} else {
		/* first publish after start: no history, so call */
		vtd_set_used_event(&e.tx, 0);
		tx_round(&e, 3, &k);
		assert_int_equal(vtd_eventfd_take(e.call_tx), 1);
		/* guest wants a call once used passes used_event */
		uint16_t u = e.txq->last_used_idx;

		vtd_set_used_event(&e.tx, u + 5);
		tx_round(&e, 3, &k);   /* used u..u+3: not yet */
		assert_int_equal(vtd_eventfd_take(e.call_tx), 0);
		tx_round(&e, 3, &k);   /* u+3..u+6 crosses u+5 */
		assert_int_equal(vtd_eventfd_take(e.call_tx), 1);
		tx_round(&e, 3, &k);   /* event behind: no call */
		assert_int_equal(vtd_eventfd_take(e.call_tx), 0);
		/* used_event exactly at the first new entry */
		vtd_set_used_event(&e.tx, e.txq->last_used_idx);
		tx_round(&e, 40, &k);  /* one call for the whole burst */
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
	rx_round(&e, 20, &k);
	assert_true(vtd_eventfd_take(e.call_rx) >= 1);
	env_teardown(&e);
}

/* -------------------------------------------------- malformed rings */

static void
expect_broken(struct env *e, struct vhu_vq *vq, int errfd)
{
	assert_true(vq->broken);
	assert_false(vq->ready);
	assert_int_equal(vq->stats.desc_errors, 1);
	assert_int_equal(vtd_eventfd_take(errfd), 1);
	assert_non_null(vq->why_not_ready);
	(void)e;
}

/* One good frame, then whatever bad() posts; the good one must go out. */
static void
tx_bad(uint64_t features, void (*bad)(struct env *e), int good_expected)
{
	struct env e;
	struct rte_mbuf *pkts[8];
	uint8_t frame[100];
	uint16_t r;

	env_setup(&e, features | BIT(VIRTIO_F_VERSION_1), 256, 100);
	fill(frame, sizeof(frame), 9);
	assert_true(vtd_post_tx(&e.tx, frame, sizeof(frame), 12, 2,
				false) >= 0);
	bad(&e);
	r = vhu_dequeue_burst(e.dev, 0, pool, pkts, 8);
	assert_int_equal(r, good_expected);
	for (int i = 0; i < r; i++) {
		check_mbuf(pkts[i], sizeof(frame), 9);
		rte_pktmbuf_free(pkts[i]);
	}
	expect_broken(&e, e.txq, e.err_tx);
	/* published what was finished */
	assert_int_equal(vtd_used_pending(&e.tx), good_expected);
	/* sticky: nothing more, even with valid work queued */
	assert_true(vtd_post_tx(&e.tx, frame, sizeof(frame), 12, 1,
				false) >= 0);
	vtd_publish(&e.tx);
	assert_int_equal(vhu_dequeue_burst(e.dev, 0, pool, pkts, 8), 0);
	/* the other queue of the device carries on */
	assert_true(e.rxq->ready);
	/* a stop (GET_VRING_BASE) clears it for the next incarnation */
	vhu_vq_quiesce(e.txq);
	vhu_vq_stop_locked(e.txq);
	vhu_vq_resume(e.txq);
	assert_false(e.txq->broken);
	assert_false(e.txq->ready);
	env_teardown(&e);
}

static struct vring_desc *
raw_desc(struct env *e, uint16_t i)
{
	/* take the descriptor off the driver's free list */
	for (int k = 0; k < e->tx.nfree; k++)
		if (e->tx.free_ids[k] == i) {
			e->tx.free_ids[k] = e->tx.free_ids[--e->tx.nfree];
			break;
		}
	return &e->tx.desc[i];
}

static uint64_t
frame_gpa(struct env *e, uint32_t len)
{
	uint64_t g = vtd_alloc(&e->tx, len, 8);

	memset(vtd_ptr(&e->tx, g), 0, len);
	return g;
}

static void
bad_head_range(struct env *e)
{
	vtd_add_raw_head(&e->tx, e->tx.size);
	vtd_publish(&e->tx);
}

static void
bad_avail_jump(struct env *e)
{
	vtd_set_avail_idx(&e->tx, e->tx.avail_idx + e->tx.size);
}

static void
bad_loop_self(struct env *e)
{
	struct vring_desc *d = raw_desc(e, 200);

	d->addr = frame_gpa(e, 64);
	d->len = 64;
	d->flags = VRING_DESC_F_NEXT;
	d->next = 200;
	vtd_add_raw_head(&e->tx, 200);
	vtd_publish(&e->tx);
}

static void
bad_loop_pair(struct env *e)
{
	struct vring_desc *a = raw_desc(e, 201), *b = raw_desc(e, 202);

	a->addr = frame_gpa(e, 64);
	a->len = 64;
	a->flags = VRING_DESC_F_NEXT;
	a->next = 202;
	*b = *a;
	b->next = 201;
	vtd_add_raw_head(&e->tx, 201);
	vtd_publish(&e->tx);
}

/* Zero-length buffers give no pieces: only the step count stops this. */
static void
bad_loop_empty(struct env *e)
{
	struct vring_desc *a = raw_desc(e, 211), *b = raw_desc(e, 212);

	a->addr = frame_gpa(e, 64);
	a->len = 0;
	a->flags = VRING_DESC_F_NEXT;
	a->next = 212;
	*b = *a;
	b->next = 211;
	vtd_add_raw_head(&e->tx, 211);
	vtd_publish(&e->tx);
}

static void
bad_next_range(struct env *e)
{
	struct vring_desc *d = raw_desc(e, 203);

	d->addr = frame_gpa(e, 64);
	d->len = 64;
	d->flags = VRING_DESC_F_NEXT;
	d->next = e->tx.size;
	vtd_add_raw_head(&e->tx, 203);
	vtd_publish(&e->tx);
}

/* An indirect descriptor at head 204 over a table of n entries. */
static struct vring_desc *
indirect_head(struct env *e, uint32_t n, uint32_t len_bytes, uint16_t flags)
{
	struct vring_desc *d = raw_desc(e, 204);
	uint64_t tg = vtd_alloc(&e->tx, 16 * n, 16);
	struct vring_desc *t = (struct vring_desc *)vtd_ptr(&e->tx, tg);

	for (uint32_t i = 0; i < n; i++) {
		t[i].addr = frame_gpa(e, 64);
		t[i].len = 64;
		t[i].flags = i + 1 < n ? VRING_DESC_F_NEXT : 0;
		t[i].next = i + 1;
	}
	d->addr = tg;
	d->len = len_bytes;
	d->flags = flags;
	d->next = 0;
	vtd_add_raw_head(&e->tx, 204);
	vtd_publish(&e->tx);
	return t;
}

static void
bad_indirect_nested(struct env *e)
{
	struct vring_desc *t = indirect_head(e, 2, 32, VRING_DESC_F_INDIRECT);

	/* second entry claims to be another table */
	t[1].flags = VRING_DESC_F_INDIRECT;
	t[1].len = 16;
}

static void
bad_indirect_plain(struct env *e)
{
	indirect_head(e, 2, 32, VRING_DESC_F_INDIRECT);
}

static void
bad_indirect_len0(struct env *e)
{
	indirect_head(e, 2, 0, VRING_DESC_F_INDIRECT);
}

static void
bad_indirect_len17(struct env *e)
{
	indirect_head(e, 2, 17, VRING_DESC_F_INDIRECT);
}

static void
bad_indirect_huge(struct env *e)
{
	indirect_head(e, 2, (VHU_VQ_MAX_SIZE + 1) * 16, VRING_DESC_F_INDIRECT);
}

static void
bad_indirect_next(struct env *e)
{
	indirect_head(e, 2, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT);
}

static void
bad_indirect_loop(struct env *e)
{
	struct vring_desc *t = indirect_head(e, 3, 48, VRING_DESC_F_INDIRECT);

	t[2].flags = VRING_DESC_F_NEXT;
	t[2].next = 0;
}

static void
bad_indirect_loop_empty(struct env *e)
{
	struct vring_desc *t = indirect_head(e, 3, 48, VRING_DESC_F_INDIRECT);

	for (int i = 0; i < 3; i++)
		t[i].len = 0;
	t[2].flags = VRING_DESC_F_NEXT;
	t[2].next = 1;
}

static void
bad_indirect_table_outside(struct env *e)
{
	struct vring_desc *d = raw_desc(e, 205);

	d->addr = vtd_mem_end(&e->tx) - 16;
	d->len = 32;
	d->flags = VRING_DESC_F_INDIRECT;
	vtd_add_raw_head(&e->tx, 205);
	vtd_publish(&e->tx);
}

static void
bad_outside(struct env *e)
{
	struct vring_desc *d = raw_desc(e, 206);

	d->addr = vtd_mem_end(&e->tx) + 4096;
	d->len = 100;
	d->flags = 0;
	vtd_add_raw_head(&e->tx, 206);
	vtd_publish(&e->tx);
}

static void
bad_runs_past_end(struct env *e)
{
	struct vring_desc *d = raw_desc(e, 207);

	d->addr = vtd_mem_end(&e->tx) - 50;
	d->len = 100;
	d->flags = 0;
	vtd_add_raw_head(&e->tx, 207);
	vtd_publish(&e->tx);
}

static void
bad_wraps_2_64(struct env *e)
{
	struct vring_desc *d = raw_desc(e, 208);

	d->addr = UINT64_MAX - 10;
	d->len = 100;
	d->flags = 0;
	vtd_add_raw_head(&e->tx, 208);
	vtd_publish(&e->tx);
}

static void
bad_writable_in_tx(struct env *e)
{
	struct vring_desc *d = raw_desc(e, 209);

	d->addr = frame_gpa(e, 100);
	d->len = 100;
	d->flags = VRING_DESC_F_WRITE;
	vtd_add_raw_head(&e->tx, 209);
	vtd_publish(&e->tx);
}

static void
bad_short_header(struct env *e)
{
	struct vring_desc *d = raw_desc(e, 210);

	d->addr = frame_gpa(e, 8);
	d->len = 8;
	d->flags = 0;
	vtd_add_raw_head(&e->tx, 210);
	vtd_publish(&e->tx);
}

static void
bad_too_many_pieces(struct env *e)
{
	/* 200 one-byte descriptors: a valid chain we cannot hold */
	for (uint16_t i = 0; i < 200; i++) {
		struct vring_desc *d = raw_desc(e, i + 20);

		d->addr = frame_gpa(e, 1);
		d->len = 1;
		d->flags = i + 1 < 200 ? VRING_DESC_F_NEXT : 0;
		d->next = i + 21;
	}
	vtd_add_raw_head(&e->tx, 20);
	vtd_publish(&e->tx);
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
	struct env e;
	struct rte_mbuf *pkts[2];
	const uint32_t len = 2000;
	int h;

	(void)state;
	env_setup(&e, BIT(VIRTIO_F_VERSION_1), 256, 0);
	assert_true(vtd_post_rx(&e.rx, &len, 1, false) >= 0);
	h = vtd_post_rx(&e.rx, &len, 1, false);
	e.rx.desc[h].flags = 0; /* device-readable in a receive chain */
	vtd_publish(&e.rx);
	pkts[0] = make_chain(100, 1, false);
	pkts[1] = make_chain(100, 2, false);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, pkts, 2), 1);
	expect_broken(&e, e.rxq, e.err_rx);
	rx_check_frame(&e, 100, 1);
	assert_int_equal(vtd_used_pending(&e.rx), 0);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, pkts, 2), 0);
	rte_pktmbuf_free(pkts[0]);
	rte_pktmbuf_free(pkts[1]);
	env_teardown(&e);
}

/* ------------------------------------------------ memory layouts */

/* Buffers (and an indirect table) straddling the region boundary. */
static void
test_straddle_regions(void **state)
{
	struct vtd_opts o = { .nregions = 2, .mem_size = 16ull << 20 };
	struct env e;
	struct rte_mbuf *pkts[4];
	uint8_t frame[3000];
	struct vtd_buf b[2];
	uint64_t split;
	uint32_t id, len;

	(void)state;
	env_setup_opts(&e, BIT(VIRTIO_F_VERSION_1) | IND, 256, 7, &o);
	split = vtd_region_split(&e.tx);
	assert_int_equal(e.tx.mem.nregions, 2);

	/* TX: header + frame in one buffer crossing the boundary */
	fill(frame, sizeof(frame), 77);
	for (int i = 0; i < 2; i++) {
		/* then with the header itself cut by the boundary */
		b[0].gpa = i == 0 ? split - 1000 : split - 5;
		b[0].len = 12 + sizeof(frame);
		memset(vtd_ptr(&e.tx, b[0].gpa), 0, 12);
		memcpy(vtd_ptr(&e.tx, b[0].gpa + 12), frame, sizeof(frame));
		assert_true(vtd_add(&e.tx, b, 1, false, i == 1) >= 0);
		vtd_publish(&e.tx);
		assert_int_equal(vhu_dequeue_burst(e.dev, 0, pool, pkts, 4), 1);
		check_mbuf(pkts[0], sizeof(frame), 77);
		rte_pktmbuf_free(pkts[0]);
	}

	/* RX: one buffer crossing the boundary */
	b[0].gpa = split - 700;
	b[0].len = 4000;
	memset(vtd_ptr(&e.rx, b[0].gpa), 0xA5, b[0].len);
	assert_true(vtd_add(&e.rx, b, 1, true, false) >= 0);
	vtd_publish(&e.rx);
	pkts[0] = make_chain(2500, 78, true);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, pkts, 1), 1);
	rx_check_frame(&e, 2500, 78);
	rte_pktmbuf_free(pkts[0]);

	/* an indirect table crossing the boundary is refused */
	{
		uint64_t tg = split - 16;
		struct vring_desc *t = (struct vring_desc *)vtd_ptr(&e.tx, tg);
		struct vring_desc *d = raw_desc(&e, 250);

		t[0].addr = frame_gpa(&e, 100);
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
		assert_int_equal(vhu_dequeue_burst(e.dev, 0, pool, pkts, 4), 0);
		expect_broken(&e, e.txq, e.err_tx);
	}
	assert_true(vtd_get_used(&e.tx, &id, &len));
	env_teardown(&e);
}

/* The device sees memory through its own mapping of the memfd. */
static void
test_alias_mapping(void **state)
{
	struct vtd_opts o = { .alias = true };
	struct env e;
	uint32_t k = 0;

	(void)state;
	env_setup_opts(&e, make_features(true, true, true, true), 256, 0, &o);
	assert_ptr_not_equal(e.tx.mem.r[0].hva, e.tx.drv);
	tx_round(&e, 40, &k);
	k = 0;
	rx_round(&e, 20, &k);
	env_teardown(&e);
}

/* ------------------------------------------------ back-pressure */

static void
test_rx_small_chain_nonmrg(void **state)
{
	struct env e;
	struct rte_mbuf *pkts[3];
	const uint32_t len = 1000;

	(void)state;
	env_setup(&e, BIT(VIRTIO_F_VERSION_1), 256, 0);
	for (int i = 0; i < 3; i++)
		assert_true(vtd_post_rx(&e.rx, &len, 1, false) >= 0);
	vtd_publish(&e.rx);
	pkts[0] = make_chain(500, 1, false);
	pkts[1] = make_chain(1500, 2, false);  /* does not fit in 1000 */
	pkts[2] = make_chain(500, 3, false);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, pkts, 3), 1);
	assert_int_equal(e.rxq->stats.drops_no_buf, 2);
	rx_check_frame(&e, 500, 1);
	assert_int_equal(vtd_used_pending(&e.rx), 0);
	/* the refused buffer is still there for the next frame */
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, &pkts[2], 1), 1);
	rx_check_frame(&e, 500, 3);
	assert_false(e.rxq->broken);
	for (int i = 0; i < 3; i++)
		rte_pktmbuf_free(pkts[i]);
	env_teardown(&e);
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
		struct env e;

		env_setup(&e, features[f], 256, 0);
		for (unsigned int i = 0; i < RTE_DIM(stale); i++) {
			struct rte_mbuf *m = make_chain(64, 40 + i, false);
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
			fill(want + hdr_len, 64, 40 + i);
			assert_memory_equal(got, want, hdr_len + 64);
			rte_pktmbuf_free(m);
		}
		env_teardown(&e);
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
	struct env e;

	(void)state;
	env_setup(&e, BIT(VIRTIO_F_VERSION_1), 256, 0);
	for (uint32_t len = 1; len <= 80; len++) {
		const uint32_t blen = 12 + len + 32;
		uint8_t frame[80], got[12 + 80 + 32];
		struct rte_mbuf *m = make_chain(len, len, false);
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
		fill(frame, len, len);
		assert_memory_equal(got + 12, frame, len);
		for (uint32_t i = 12 + len; i < blen; i++)
			assert_int_equal(got[i], 0xA5);

		assert_true(vtd_post_tx(&e.tx, frame, len, 12, 1, false) >= 0);
		vtd_publish(&e.tx);
		assert_int_equal(vhu_dequeue_burst(e.dev, 0, pool, &m, 1), 1);
		assert_int_equal(m->pkt_len, len);
		assert_int_equal(m->data_len, len);
		assert_memory_equal(rte_pktmbuf_mtod(m, uint8_t *), frame, len);
		rte_pktmbuf_free(m);
		assert_true(vtd_get_used(&e.tx, &id, &used_len));
	}
	env_teardown(&e);
}

static void
test_rx_mrg_never_fits(void **state)
{
	struct env e;
	struct rte_mbuf *pkts[2];
	const uint32_t len = 1536;

	(void)state;
	env_setup(&e, make_features(true, false, false, true), 256, 0);
	for (int i = 0; i < 4; i++)
		assert_true(vtd_post_rx(&e.rx, &len, 1, false) >= 0);
	vtd_publish(&e.rx);
	pkts[0] = make_chain(9000, 1, true);  /* 4 x 1536 < 9012 */
	pkts[1] = make_chain(100, 2, false);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, pkts, 2), 0);
	assert_int_equal(e.rxq->stats.drops_no_buf, 2);
	assert_int_equal(vtd_used_pending(&e.rx), 0);
	/* not wedged: the next small frame goes in */
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, &pkts[1], 1), 1);
	rx_check_frame(&e, 100, 2);
	/* and a frame that fits exactly in the remaining 3 */
	rte_pktmbuf_free(pkts[0]);
	pkts[0] = make_chain(3 * 1536 - 12, 4, true);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, pkts, 1), 1);
	rx_check_frame(&e, 3 * 1536 - 12, 4);
	rte_pktmbuf_free(pkts[0]);
	rte_pktmbuf_free(pkts[1]);
	env_teardown(&e);
}

static void
test_rx_ring_full(void **state)
{
	struct env e;
	struct rte_mbuf *pkts[20];
	const uint32_t len = 2048;

	(void)state;
	env_setup(&e, BIT(VIRTIO_F_VERSION_1), 256, 65530);
	for (int i = 0; i < 10; i++)
		assert_true(vtd_post_rx(&e.rx, &len, 1, false) >= 0);
	vtd_publish(&e.rx);
	for (int i = 0; i < 20; i++)
		pkts[i] = make_chain(64 + i, i, false);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, pkts, 20), 10);
	assert_int_equal(e.rxq->stats.drops_no_buf, 10);
	assert_int_equal(e.rxq->stats.packets, 10);
	for (int i = 0; i < 10; i++)
		rx_check_frame(&e, 64 + i, i);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, pkts, 20), 0);
	assert_int_equal(e.rxq->stats.drops_no_buf, 30);
	for (int i = 0; i < 20; i++)
		rte_pktmbuf_free(pkts[i]);
	env_teardown(&e);
}

static void
test_tx_pool_empty(void **state)
{
	struct rte_mempool *tiny;
	struct env e;
	struct rte_mbuf *pkts[32];
	uint8_t frame[3000];
	uint16_t r;

	(void)state;
	tiny = rte_pktmbuf_pool_create("tiny", 15, 0, 0,
				       DATA_ROOM + RTE_PKTMBUF_HEADROOM,
				       SOCKET_ID_ANY);
	assert_non_null(tiny);
	env_setup(&e, BIT(VIRTIO_F_VERSION_1), 256, 0);
	fill(frame, sizeof(frame), 5);
	for (int i = 0; i < 10; i++)
		assert_true(vtd_post_tx(&e.tx, frame, sizeof(frame), 12, 2,
					false) >= 0);
	vtd_publish(&e.tx);
	/* 3000 bytes = 2 mbufs each: 7 frames, the 8th fails mid-chain */
	r = vhu_dequeue_burst(e.dev, 0, tiny, pkts, 32);
	assert_int_equal(r, 7);
	assert_int_equal(rte_mempool_avail_count(tiny), 1);
	assert_int_equal(vtd_used_pending(&e.tx), 7);
	for (int i = 0; i < r; i++) {
		check_mbuf(pkts[i], sizeof(frame), 5);
		rte_pktmbuf_free(pkts[i]);
	}
	r = vhu_dequeue_burst(e.dev, 0, tiny, pkts, 32);
	assert_int_equal(r, 3);
	for (int i = 0; i < r; i++) {
		check_mbuf(pkts[i], sizeof(frame), 5);
		rte_pktmbuf_free(pkts[i]);
	}
	assert_int_equal(vtd_used_pending(&e.tx), 10);
	assert_int_equal(rte_mempool_avail_count(tiny), 15);
	env_teardown(&e);
	rte_mempool_free(tiny);
}

static void
test_burst_cap_and_empty_frames(void **state)
{
	struct env e;
	struct rte_mbuf *pkts[200];
	uint8_t frame[60];
	uint16_t r;

	(void)state;
	env_setup(&e, BIT(VIRTIO_F_VERSION_1), 256, 0);
	fill(frame, sizeof(frame), 1);
	for (int i = 0; i < 200; i++)
		assert_true(vtd_post_tx(&e.tx, frame, sizeof(frame), 12, 1,
					false) >= 0);
	vtd_publish(&e.tx);
	r = vhu_dequeue_burst(e.dev, 0, pool, pkts, 200);
	assert_int_equal(r, VHU_BURST_MAX < 200 ? VHU_BURST_MAX : 200);
	rte_pktmbuf_free_bulk(pkts, r);
	while ((r = vhu_dequeue_burst(e.dev, 0, pool, pkts, 200)) > 0)
		rte_pktmbuf_free_bulk(pkts, r);
	assert_int_equal(e.txq->stats.packets, 200);
	/* a header-only chain is consumed without producing a frame */
	assert_true(vtd_post_tx(&e.tx, frame, 0, 12, 1, false) >= 0);
	assert_true(vtd_post_tx(&e.tx, frame, sizeof(frame), 12, 1,
				false) >= 0);
	vtd_publish(&e.tx);
	assert_int_equal(vhu_dequeue_burst(e.dev, 0, pool, pkts, 8), 1);
	check_mbuf(pkts[0], sizeof(frame), 1);
	rte_pktmbuf_free(pkts[0]);
	assert_false(e.txq->broken);
	assert_int_equal(vtd_used_pending(&e.tx), 202);
	env_teardown(&e);
}

/* ------------------------------------------------ API and control */

static void
test_burst_api_checks(void **state)
{
	struct env e;
	struct rte_mbuf *pkts[4];
	uint8_t frame[60] = { 0 };

	(void)state;
	env_setup(&e, BIT(VIRTIO_F_VERSION_1), 256, 0);
	assert_true(vtd_post_tx(&e.tx, frame, 60, 12, 1, false) >= 0);
	vtd_publish(&e.tx);
	assert_int_equal(vhu_dequeue_burst(NULL, 0, pool, pkts, 4), 0);
	assert_int_equal(vhu_dequeue_burst(e.dev, 1, pool, pkts, 4), 0);
	assert_int_equal(vhu_dequeue_burst(e.dev, 60000, pool, pkts, 4), 0);
	assert_int_equal(vhu_dequeue_burst(e.dev, 0, NULL, pkts, 4), 0);
	assert_int_equal(vhu_enqueue_burst(e.dev, VHU_MAX_QUEUE_PAIRS, pkts,
					   4), 0);
	/* held by the control side: the burst returns at once */
	vhu_vq_quiesce(e.txq);
	assert_int_equal(vhu_dequeue_burst(e.dev, 0, pool, pkts, 4), 0);
	vhu_vq_set_enabled_locked(e.txq, false);
	vhu_vq_resume(e.txq);
	assert_false(e.txq->ready);
	assert_string_equal(e.txq->why_not_ready, "disabled");
	assert_int_equal(vhu_dequeue_burst(e.dev, 0, pool, pkts, 4), 0);
	vhu_vq_quiesce(e.txq);
	vhu_vq_set_enabled_locked(e.txq, true);
	vhu_vq_resume(e.txq);
	assert_int_equal(vhu_dequeue_burst(e.dev, 0, pool, pkts, 4), 1);
	rte_pktmbuf_free(pkts[0]);
	/* a vring beyond nr_vrings, or not created */
	e.vqs.nr_vrings = 1;
	assert_int_equal(vhu_dequeue_burst(e.dev, 0, pool, pkts, 4), 0);
	assert_int_equal(vhu_vring_notify(e.dev, 1, true), -ENODEV);
	e.vqs.nr_vrings = 2;
	e.vqs.vq[1] = NULL;
	assert_int_equal(vhu_dequeue_burst(e.dev, 0, pool, pkts, 4), 0);
	e.vqs.vq[1] = e.txq;
	assert_int_equal(vhu_vring_notify(NULL, 0, true), -EINVAL);
	assert_int_equal(vhu_vring_notify(e.dev, 2 * VHU_MAX_QUEUE_PAIRS,
					  true), -EINVAL);
	/* polling frontend: no kick fd */
	assert_int_equal(vhu_vring_kick_fd(e.dev, 1), -ENOENT);
	{
		int kfd = new_eventfd();

		vhu_vq_quiesce(e.txq);
		vhu_vq_set_kick_locked(e.txq, kfd);
		vhu_vq_resume(e.txq);
		assert_int_equal(vhu_vring_kick_fd(e.dev, 1), kfd);
	}
	env_teardown(&e);
}

static void
test_notify_flags(void **state)
{
	struct env e;

	(void)state;
	env_setup(&e, BIT(VIRTIO_F_VERSION_1), 256, 300);
	/* polling is the default: the guest is told not to kick */
	assert_int_equal(vtd_used_flags(&e.tx), VRING_USED_F_NO_NOTIFY);
	assert_int_equal(vhu_vring_notify(e.dev, 1, true), 0);
	assert_int_equal(vtd_used_flags(&e.tx), 0);
	assert_int_equal(vhu_vring_notify(e.dev, 1, false), 0);
	assert_int_equal(vtd_used_flags(&e.tx), VRING_USED_F_NO_NOTIFY);
	env_teardown(&e);

	env_setup(&e, make_features(false, false, true, true), 256, 300);
	assert_int_equal(vtd_used_flags(&e.tx), 0);
	assert_int_equal(vtd_avail_event(&e.tx), 299);
	assert_int_equal(vhu_vring_notify(e.dev, 1, true), 0);
	/* kick on the very next add */
	assert_int_equal(vtd_avail_event(&e.tx), 300);
	assert_int_equal(vhu_vring_notify(e.dev, 1, false), 0);
	assert_int_equal(vtd_avail_event(&e.tx), 299);
	env_teardown(&e);
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
	fd = new_eventfd();
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
	vhu_vq_set_err_locked(vq, new_eventfd());
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
	struct env *e;
	volatile bool stop;
	uint64_t got;
};

static void *
race_rx_thread(void *arg)
{
	struct race *r = arg;
	struct rte_mbuf *pkts[32];

	while (!r->stop) {
		uint16_t n = vhu_dequeue_burst(r->e->dev, 0, pool, pkts, 32);

		for (int i = 0; i < n; i++) {
			if (pkts[i]->pkt_len != 60)
				r->got = UINT64_MAX / 2;
			rte_pktmbuf_free(pkts[i]);
		}
		__atomic_store_n(&r->got, r->got + n, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void
test_quiesce_race(void **state)
{
	struct env e;
	struct race r = { .e = &e };
	pthread_t t;
	uint8_t frame[60] = { 1 };
	const int total = 20000;
	int sent = 0;

	(void)state;
	env_setup(&e, BIT(VIRTIO_F_VERSION_1), 256, 0);
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
	while (__atomic_load_n(&r.got, __ATOMIC_RELAXED) < (uint64_t)total)
		sched_yield();
	r.stop = true;
	pthread_join(t, NULL);
	assert_int_equal(r.got, total);
	assert_int_equal(e.txq->stats.packets, total);
	env_teardown(&e);
}

/* ------------------------------------------------ registration */

static int
group_setup(void **state)
{
	(void)state;
	pool = rte_pktmbuf_pool_create("split_pool", 8191, 256, 0,
				       DATA_ROOM + RTE_PKTMBUF_HEADROOM,
				       SOCKET_ID_ANY);
	seg_pool = rte_pktmbuf_pool_create("split_seg", 8191, 256, 0,
					   512 + RTE_PKTMBUF_HEADROOM,
					   SOCKET_ID_ANY);
	return pool != NULL && seg_pool != NULL ? 0 : -1;
}

static struct cfg cfgs[32];
static char names[48][48];

int
main(void)
{
	/* without EAL and pools nothing below means anything: fail loudly */
	if (vtd_eal_init() != 0 || group_setup(NULL) != 0) {
		fprintf(stderr, "EAL or mempool set-up failed\n");
		return 1;
	}
	struct CMUnitTest tests[112];
	int n = 0;

	for (int i = 0; i < 16; i++) {
		struct cfg *c = &cfgs[i];

		c->mrg = i & 1;
		c->ind = i & 2;
		c->evt = i & 4;
		c->size = (i & 8) ? 1024 : 256;
		snprintf(names[2 * i], sizeof(names[0]),
			 "matrix_mrg%d_ind%d_evt%d_%u", c->mrg, c->ind,
			 c->evt, c->size);
		snprintf(names[2 * i + 1], sizeof(names[0]),
			 "notify_mrg%d_ind%d_evt%d_%u", c->mrg, c->ind,
			 c->evt, c->size);
		tests[n++] = (struct CMUnitTest){ names[2 * i], test_matrix,
						  NULL, NULL, c };
		tests[n++] = (struct CMUnitTest){ names[2 * i + 1],
						  test_matrix_notify,
						  NULL, NULL, c };
	}
	/* the same matrix with a VIRTIO_F_IN_ORDER driver */
	for (int i = 0; i < 16; i++) {
		struct cfg *c = &cfgs[16 + i];

		*c = cfgs[i];
		c->ino = true;
		snprintf(names[32 + i], sizeof(names[0]),
			 "matrix_inorder_mrg%d_ind%d_evt%d_%u", c->mrg, c->ind,
			 c->evt, c->size);
		tests[n++] = (struct CMUnitTest){ names[32 + i], test_matrix,
						  NULL, NULL, c };
	}
#define T(f) do { \
		if (n >= (int)RTE_DIM(tests)) \
			abort(); \
		tests[n++] = (struct CMUnitTest){ #f, f, NULL, NULL, NULL }; \
	} while (0)
	T(test_bad_head_range);
	T(test_bad_avail_jump);
	T(test_bad_loop_self);
	T(test_bad_loop_pair);
	T(test_bad_loop_empty);
	T(test_bad_indirect_loop_empty);
	T(test_bad_next_range);
	T(test_bad_indirect_nested);
	T(test_bad_indirect_len0);
	T(test_bad_indirect_len17);
	T(test_bad_indirect_huge);
	T(test_bad_indirect_next);
	T(test_bad_indirect_loop);
	T(test_bad_indirect_table_outside);
	T(test_bad_indirect_not_negotiated);
	T(test_bad_outside);
	T(test_bad_runs_past_end);
	T(test_bad_wraps_2_64);
	T(test_bad_writable_in_tx);
	T(test_bad_short_header);
	T(test_bad_too_many_pieces);
	T(test_bad_readonly_in_rx);
	T(test_straddle_regions);
	T(test_alias_mapping);
	T(test_rx_small_chain_nonmrg);
	T(test_rx_header_over_stale_bytes);
	T(test_small_frame_lengths);
	T(test_rx_mrg_never_fits);
	T(test_rx_ring_full);
	T(test_tx_pool_empty);
	T(test_burst_cap_and_empty_frames);
	T(test_burst_api_checks);
	T(test_notify_flags);
	T(test_control_state);
	T(test_quiesce_race);
#undef T
	return _cmocka_run_group_tests("split", tests, n, NULL, NULL);
}
