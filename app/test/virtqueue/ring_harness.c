/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ring harness (ring_harness.h): fixture, frames and burst rounds
 * shared by test_split.c and test_packed.c. The few places where the
 * layouts differ (ring positions to compare, how many receive buffers a
 * round posts) branch on rh_env.packed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include <rte_malloc.h>

#include "ring_harness.h"
#include "extbuf.h"
#include "vhu_burst.h"

struct rte_mempool *rh_pool;
struct rte_mempool *rh_seg_pool;

static const uint32_t sizes[] = {
	60, 61, 64, 100, 127, 128, 255, 511, 1000, 1499, 1500, 1514,
	2047, 2048, 2049, 3000, 4096, 5000, 8000, 8999, 9000,
};
#define NSIZES RTE_DIM(sizes)

/* ------------------------------------------------------ registration */

int
rh_init(const char *name)
{
	char n[RTE_MEMPOOL_NAMESIZE];

	if (vtd_eal_init() != 0)
		goto fail;
	snprintf(n, sizeof(n), "%s_pool", name);
	rh_pool = rte_pktmbuf_pool_create(n, 8191, 256, 0,
					  RH_DATA_ROOM + RTE_PKTMBUF_HEADROOM,
					  SOCKET_ID_ANY);
	snprintf(n, sizeof(n), "%s_seg", name);
	rh_seg_pool = rte_pktmbuf_pool_create(n, 8191, 256, 0,
					      512 + RTE_PKTMBUF_HEADROOM,
					      SOCKET_ID_ANY);
	if (rh_pool != NULL && rh_seg_pool != NULL)
		return 0;
fail:
	/* without EAL and pools nothing means anything: fail loudly */
	fprintf(stderr, "EAL or mempool set-up failed\n");
	return -1;
}

void
rh_add(struct CMUnitTest *tests, int *n, int max, const char *name,
       CMUnitTestFunction f, void *state)
{
	if (*n >= max)
		abort();
	tests[(*n)++] = (struct CMUnitTest){ name, f, NULL, NULL, state };
}

void
rh_add_matrix(struct CMUnitTest *tests, int *n, int max, const char *prefix,
	      CMUnitTestFunction f, bool in_order)
{
	/* cell i: bit 0 mrg, 1 ind, 2 evt, 3 1024 descriptors, 4 in-order */
	static struct rh_cfg cfgs[32];
	static char names[128][48];
	static int nnames;

	for (int i = 0; i < (in_order ? 32 : 16); i++) {
		struct rh_cfg *c = &cfgs[i];

		if (nnames >= (int)RTE_DIM(names))
			abort();
		*c = (struct rh_cfg){
			.mrg = i & 1, .ind = i & 2, .evt = i & 4,
			.size = (i & 8) ? 1024 : 256, .ino = i & 16,
		};
		snprintf(names[nnames], sizeof(names[0]),
			 "%s%s_mrg%d_ind%d_evt%d_%u", prefix,
			 c->ino ? "_inorder" : "", c->mrg, c->ind, c->evt,
			 c->size);
		rh_add(tests, n, max, names[nnames++], f, c);
	}
}

int
rh_run(const char *group, struct CMUnitTest *tests, int n, int max,
       const struct CMUnitTest *fixed, int nfixed)
{
	for (int i = 0; i < nfixed; i++)
		rh_add(tests, &n, max, fixed[i].name, fixed[i].test_func,
		       fixed[i].initial_state);
	return _cmocka_run_group_tests(group, tests, n, NULL, NULL);
}

/* ----------------------------------------------------------- frames */

uint64_t
rh_features(bool mrg, bool ind, bool evt)
{
	return (mrg ? BIT(VIRTIO_NET_F_MRG_RXBUF) : 0) |
	       (ind ? BIT(VIRTIO_RING_F_INDIRECT_DESC) : 0) |
	       (evt ? BIT(VIRTIO_RING_F_EVENT_IDX) : 0);
}

uint8_t
rh_pattern(uint32_t seed, uint32_t i)
{
	return (uint8_t)(seed * 131u + i * 7u + (i >> 8));
}

void
rh_fill(uint8_t *b, uint32_t len, uint32_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		b[i] = rh_pattern(seed, i);
}

int
rh_new_eventfd(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

void
rh_check_mbuf(const struct rte_mbuf *m, uint32_t len, uint32_t seed)
{
	uint32_t off = 0, segs = 0;

	assert_int_equal(m->pkt_len, len);
	for (const struct rte_mbuf *s = m; s != NULL; s = s->next) {
		const uint8_t *p = rte_pktmbuf_mtod(s, const uint8_t *);

		for (uint32_t i = 0; i < s->data_len; i++)
			if (p[i] != rh_pattern(seed, off + i))
				fail_msg("byte %u differs", off + i);
		off += s->data_len;
		segs++;
	}
	assert_int_equal(off, len);
	assert_int_equal(m->nb_segs, segs);
	assert_int_equal(segs, (len + RH_DATA_ROOM - 1) / RH_DATA_ROOM);
}

struct rte_mbuf *
rh_make_chain(uint32_t len, uint32_t seed, bool multi)
{
	/* uneven segments: 1, 37, 300, room, ... */
	static const uint32_t cuts[] = { 1, 37, 300, 4096, 13, 511 };
	struct rte_mbuf *head = NULL;
	uint32_t off = 0, step = 0;

	if (!multi && len <= RH_DATA_ROOM) {
		head = rte_pktmbuf_alloc(rh_pool);
		assert_non_null(head);
		assert_true(len <= rte_pktmbuf_tailroom(head));
		rh_fill((uint8_t *)rte_pktmbuf_append(head, len), len, seed);
		return head;
	}
	while (off < len || head == NULL) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(rh_seg_pool);
		uint32_t n;
		uint8_t *p;

		assert_non_null(m);
		n = RTE_MIN(cuts[step++ % RTE_DIM(cuts)],
			    (uint32_t)rte_pktmbuf_tailroom(m));
		n = RTE_MIN(n, len - off);
		p = (uint8_t *)rte_pktmbuf_append(m, n);
		for (uint32_t i = 0; i < n; i++)
			p[i] = rh_pattern(seed, off + i);
		off += n;
		if (head == NULL)
			head = m;
		else
			assert_int_equal(rte_pktmbuf_chain(head, m), 0);
	}
	return head;
}

/* ---------------------------------------------------------- fixture */

static void
set_err(struct vhu_vq *vq, int errfd)
{
	vhu_vq_quiesce(vq);
	vhu_vq_set_err_locked(vq, dup(errfd));
	vhu_vq_resume(vq);
}

void
rh_env_setup_opts(struct rh_env *e, uint64_t features, uint16_t size,
		  uint16_t base, const struct vtd_opts *o_in)
{
	struct vtd_opts o = { .nregions = 1 };
	bool log;

	if (o_in != NULL)
		o = *o_in;
	o.size = size;
	o.packed = features & BIT(VIRTIO_F_RING_PACKED);
	o.in_order = features & BIT(VIRTIO_F_IN_ORDER);
	if (o.mem_size == 0)
		o.mem_size = size > 256 ? 32ull << 20 : 16ull << 20;
	log = o.log;
	memset(e, 0, sizeof(*e));
	assert_int_equal(vtd_init(&e->rx, &o, base), 0);
	assert_int_equal(vtd_init(&e->tx, &o, base), 0);
	e->call_rx = rh_new_eventfd();
	e->call_tx = rh_new_eventfd();
	e->err_rx = rh_new_eventfd();
	e->err_tx = rh_new_eventfd();
	e->features = features;
	e->packed = o.packed;
	e->mrg = features & BIT(VIRTIO_NET_F_MRG_RXBUF);
	e->ind = features & BIT(VIRTIO_RING_F_INDIRECT_DESC);
	e->evt = features & BIT(VIRTIO_RING_F_EVENT_IDX);
	e->hdr_len = (features & (BIT(VIRTIO_NET_F_MRG_RXBUF) |
				  BIT(VIRTIO_F_VERSION_1))) ? 12 : 10;
	e->rxq = vtd_make_vq(&e->rx, 0, features, base, e->call_rx, log);
	e->txq = vtd_make_vq(&e->tx, 1, features, base, e->call_tx, log);
	assert_non_null(e->rxq);
	assert_non_null(e->txq);
	set_err(e->rxq, e->err_rx);
	set_err(e->txq, e->err_tx);
	assert_true(e->rxq->ready);
	assert_true(e->txq->ready);
	assert_int_equal(!!(e->rxq->flags & VHU_VQ_F_PACKED), e->packed);
	assert_int_equal(e->rxq->hdr_len, e->hdr_len);
	e->vqs.nr_vrings = 2;
	e->vqs.vq[0] = e->rxq;
	e->vqs.vq[1] = e->txq;
	e->dev = (struct vhu_dev *)&e->vqs;
}

void
rh_env_setup(struct rh_env *e, uint64_t features, uint16_t size,
	     uint16_t base)
{
	rh_env_setup_opts(e, features, size, base, NULL);
}

void
rh_env_teardown(struct rh_env *e)
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

/* ---------------------------------------------------------------- TX */

struct posted {
	int id;
	uint32_t len;
	uint32_t seed;
};

/* Dequeue until n frames came out; each matches what was posted. */
static uint64_t
tx_collect(struct rh_env *e, const struct posted *post, int n)
{
	struct rte_mbuf *pkts[64];
	uint64_t bursts = 0;
	int got = 0;

	while (got < n) {
		uint16_t r = vhu_dequeue_burst(e->dev, 0, rh_pool, pkts, 64);

		assert_true(r > 0);
		bursts++;
		for (int i = 0; i < r; i++) {
			rh_check_mbuf(pkts[i], post[got + i].len,
				      post[got + i].seed);
			rte_pktmbuf_free(pkts[i]);
		}
		got += r;
	}
	return bursts;
}

void
rh_tx_round(struct rh_env *e, int n, uint32_t *k)
{
	static uint8_t frame[9000];
	struct posted post[256];
	uint64_t entries, bursts;

	assert_true(n <= 256);
	for (int i = 0; i < n; i++) {
		uint32_t j = (*k)++;
		uint32_t len = sizes[j % NSIZES];
		int layout = (j / NSIZES) % 5;
		bool ind = e->ind && layout == 4;
		int nbufs = layout == 4 ? 3 : layout + 1 + (layout == 3);

		rh_fill(frame, len, j);
		post[i].id = vtd_post_tx(&e->tx, frame, len, e->hdr_len,
					 nbufs, ind);
		assert_true(post[i].id >= 0);
		post[i].len = len;
		post[i].seed = j;
	}
	vtd_publish(&e->tx);
	entries = e->tx.used_entries;
	bursts = tx_collect(e, post, n);
	assert_int_equal(vtd_used_pending(&e->tx), n);
	for (int i = 0; i < n; i++) {
		uint32_t id, len;

		assert_true(vtd_get_used(&e->tx, &id, &len));
		assert_int_equal(id, post[i].id);
		assert_int_equal(len, 0);
	}
	if (e->tx.o.in_order) {
		/* IN_ORDER: one used entry per burst, naming its last buffer */
		assert_int_equal(e->tx.used_entries - entries, bursts);
		assert_false(e->tx.order_error);
	}
	if (e->packed) {
		/* device and driver agree on where the rings are */
		assert_int_equal(e->txq->last_used_idx, e->tx.pused);
		assert_int_equal(e->txq->used_wrap, e->tx.used_wrap);
		assert_int_equal(e->txq->last_avail_idx, e->tx.pavail);
		assert_int_equal(e->txq->avail_wrap, e->tx.avail_wrap);
	}
}

/* ---------------------------------------------------------------- RX */

/*
 * Mergeable: 1536 bytes each, as one buffer (Linux-like), a 700 + 836
 * chain, or that chain through an indirect table; otherwise big chains
 * (header + 9000 fit) in three shapes.
 */
int
rh_post_rx_buffers(struct rh_env *e, int n, int variant)
{
	int posted = 0;

	for (int i = 0; i < n; i++) {
		int h;

		if (e->mrg) {
			static const uint32_t two[] = { 700, 836 };
			uint32_t one = 1536;

			if ((variant + i) % 4 == 1)
				h = vtd_post_rx(&e->rx, two, 2, false);
			else if ((variant + i) % 4 == 3 && e->ind)
				h = vtd_post_rx(&e->rx, two, 2, true);
			else
				h = vtd_post_rx(&e->rx, &one, 1, false);
		} else {
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

void
rh_rx_check_frame(struct rh_env *e, uint32_t flen, uint32_t seed)
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
			uint32_t n = RTE_MIN(cap - len, 16u);
			uint8_t tmp[9100 + 12 + 16];

			vtd_gather(&e->rx, id, tmp, len + n);
			for (uint32_t i = 0; i < n; i++)
				assert_int_equal(tmp[len + i], 0xA5);
		}
		if (k == 0 && e->hdr_len == 12)
			nb = buf[10] | (buf[11] << 8);
		total += len;
		assert_true(nb >= 1);
	}
	if (!e->mrg)
		assert_int_equal(nb, 1);
	assert_int_equal(total, e->hdr_len + flen);
	assert_memory_equal(buf, hdr_zero, 10);
	for (uint32_t i = 0; i < flen; i++)
		if (buf[e->hdr_len + i] != rh_pattern(seed, i))
			fail_msg("rx byte %u of %u differs", i, flen);
}

/*
 * Split posts more mergeable buffers than the frames need (one per 700
 * bytes) and then fills the rest with 60-byte frames, each of which must
 * take exactly one buffer; packed posts exactly what they need (every
 * mergeable buffer holds 1536 bytes) and checks nothing is left over.
 */
static void
rx_settle(struct rh_env *e)
{
	if (e->packed) {
		assert_int_equal(vtd_used_pending(&e->rx), 0);
		assert_int_equal(e->rxq->last_used_idx, e->rx.pused);
		assert_int_equal(e->rxq->used_wrap, e->rx.used_wrap);
		assert_int_equal(e->rxq->last_avail_idx, e->rx.pavail);
		return;
	}
	if (e->mrg) {
		uint16_t left = (uint16_t)(e->rx.avail_idx -
					   e->rxq->last_avail_idx);

		while (left > 0) {
			struct rte_mbuf *m = rh_make_chain(60, 1, false);
			uint16_t r = vhu_enqueue_burst(e->dev, 0, &m, 1);

			rte_pktmbuf_free(m);
			assert_int_equal(r, 1);
			rh_rx_check_frame(e, 60, 1);
			left--;
		}
	}
}

void
rh_rx_round(struct rh_env *e, int n, uint32_t *k)
{
	const uint32_t per_buf = e->packed ? 1536 : 700;
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
		pkts[i] = rh_make_chain(lens[i], j, j % 2);
		bufs_needed += e->mrg ? (lens[i] + e->hdr_len + per_buf - 1) /
					per_buf : 1;
	}
	assert_int_equal(rh_post_rx_buffers(e, bufs_needed, (int)*k),
			 bufs_needed);
	assert_int_equal(vhu_enqueue_burst(e->dev, 0, pkts, n), n);
	for (int i = 0; i < n; i++) {
		rh_rx_check_frame(e, lens[i], seeds[i]);
		rte_pktmbuf_free(pkts[i]);
	}
	assert_int_equal(e->rxq->stats.packets, before + n);
	rx_settle(e);
}

void
rh_post_rx_n(struct rh_env *e, int n, uint32_t len)
{
	for (int i = 0; i < n; i++)
		assert_true(vtd_post_rx(&e->rx, &len, 1, false) >= 0);
	vtd_publish(&e->rx);
}

void
rh_post_tx_n(struct rh_env *e, int n, const uint8_t *frame, uint32_t len,
	     int nbufs)
{
	for (int i = 0; i < n; i++)
		assert_true(vtd_post_tx(&e->tx, frame, len, 12, nbufs,
					false) >= 0);
	vtd_publish(&e->tx);
}

void
rh_expect_clean(const struct rh_env *e)
{
	assert_int_equal(e->rxq->stats.drops_no_buf, 0);
	assert_int_equal(e->rxq->stats.desc_errors, 0);
	assert_int_equal(e->txq->stats.desc_errors, 0);
	assert_false(e->rxq->broken);
	assert_false(e->txq->broken);
}

/* ------------------------------------------------------ broken rings */

void
rh_expect_broken(struct vhu_vq *vq, int errfd)
{
	assert_true(vq->broken);
	assert_false(vq->ready);
	assert_int_equal(vq->stats.desc_errors, 1);
	assert_int_equal(vtd_eventfd_take(errfd), 1);
	assert_non_null(vq->why_not_ready);
}

uint64_t
rh_frame_gpa(struct rh_env *e, uint32_t len)
{
	uint64_t g = vtd_alloc(&e->tx, len, 8);

	memset(vtd_ptr(&e->tx, g), 0, len);
	return g;
}

void
rh_tx_bad(uint64_t features, uint16_t base, void (*bad)(struct rh_env *e),
	  int good_expected)
{
	struct rh_env e;
	struct rte_mbuf *pkts[8];
	uint8_t frame[100];
	uint16_t r;

	rh_env_setup(&e, features, 256, base);
	rh_fill(frame, sizeof(frame), 9);
	assert_true(vtd_post_tx(&e.tx, frame, sizeof(frame), 12, 2,
				false) >= 0);
	vtd_publish(&e.tx);
	bad(&e);
	r = vhu_dequeue_burst(e.dev, 0, rh_pool, pkts, 8);
	assert_int_equal(r, good_expected);
	for (int i = 0; i < r; i++) {
		rh_check_mbuf(pkts[i], sizeof(frame), 9);
		rte_pktmbuf_free(pkts[i]);
	}
	rh_expect_broken(e.txq, e.err_tx);
	/* published what was finished */
	assert_int_equal(vtd_used_pending(&e.tx), good_expected);
	/*
	 * sticky: nothing more, even with valid work queued (split; a bad
	 * packed chain may have taken every slot the driver had)
	 */
	if (!e.packed) {
		assert_true(vtd_post_tx(&e.tx, frame, sizeof(frame), 12, 1,
					false) >= 0);
		vtd_publish(&e.tx);
	}
	assert_int_equal(vhu_dequeue_burst(e.dev, 0, rh_pool, pkts, 8), 0);
	/* the other queue of the device carries on */
	assert_true(e.rxq->ready);
	/* a stop (GET_VRING_BASE) clears it for the next incarnation */
	vhu_vq_quiesce(e.txq);
	vhu_vq_stop_locked(e.txq);
	vhu_vq_resume(e.txq);
	assert_false(e.txq->broken);
	assert_false(e.txq->ready);
	rh_env_teardown(&e);
}

/* ------------------------- external and linear buffers (extbuf.c) */

/* Make the transmit queue return large frames as tx_bufs says. */
static void
set_tx_bufs(struct rh_env *e, uint32_t tx_bufs)
{
	vhu_vq_quiesce(e->txq);
	vhu_vq_set_sock_flags_locked(e->txq, tx_bufs);
	vhu_vq_resume(e->txq);
	assert_true(e->txq->ready);
	assert_int_equal(e->txq->flags & (VHU_VQ_F_LINEAR | VHU_VQ_F_EXTBUF),
			 tx_bufs);
	/* a receive vring never builds an mbuf: the flags are not its */
	vhu_vq_quiesce(e->rxq);
	vhu_vq_set_sock_flags_locked(e->rxq, tx_bufs);
	vhu_vq_resume(e->rxq);
	assert_int_equal(e->rxq->flags & (VHU_VQ_F_LINEAR | VHU_VQ_F_EXTBUF),
			 0);
}

/* Elements allocated from the DPDK heap, every socket: external buffers. */
static uint64_t
heap_allocs(void)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < rte_socket_count(); i++) {
		struct rte_malloc_socket_stats st;

		if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(i),
						&st) == 0)
			n += st.alloc_count;
	}
	return n;
}

/* How a frame is expected to come out of the dequeue. */
enum tx_shape {
	SHAPE_DIRECT, /* one segment, the pool's own buffer */
	SHAPE_EXTBUF, /* one segment, an external buffer */
	SHAPE_CHAIN,  /* a chain of pool mbufs */
	SHAPE_DROP,   /* not returned: counted in drops_no_buf */
};

/* m holds len pattern bytes (seed) in the expected shape. */
static void
check_shape(const struct rte_mbuf *m, uint32_t len, uint32_t seed,
	    enum tx_shape shape)
{
	uint32_t off = 0;

	assert_int_equal(m->pkt_len, len);
	for (const struct rte_mbuf *s = m; s != NULL; s = s->next) {
		const uint8_t *p = rte_pktmbuf_mtod(s, const uint8_t *);

		for (uint32_t i = 0; i < s->data_len; i++)
			if (p[i] != rh_pattern(seed, off + i))
				fail_msg("%u-byte frame: byte %u differs", len,
					 off + i);
		off += s->data_len;
	}
	assert_int_equal(off, len);
	switch (shape) {
	case SHAPE_DIRECT:
		assert_int_equal(m->nb_segs, 1);
		assert_false(RTE_MBUF_HAS_EXTBUF(m));
		break;
	case SHAPE_EXTBUF:
		assert_int_equal(m->nb_segs, 1);
		assert_true(RTE_MBUF_HAS_EXTBUF(m));
		assert_non_null(m->shinfo);
		assert_int_equal(rte_mbuf_ext_refcnt_read(m->shinfo), 1);
		/* the headroom a pool mbuf would have, the frame after it */
		assert_int_equal(m->data_off, RTE_PKTMBUF_HEADROOM);
		assert_true(m->buf_len >= RTE_PKTMBUF_HEADROOM + len);
		break;
	case SHAPE_CHAIN:
		assert_true(m->nb_segs > 1);
		assert_false(RTE_MBUF_HAS_EXTBUF(m));
		break;
	case SHAPE_DROP:
		fail_msg("a dropped frame came out");
	}
}

/*
 * One round: the guest sends n frames of lens (header + frame in nbufs
 * buffers), the device dequeues them all; each comes out in shapes[i] or
 * is dropped. Every guest buffer is used, nothing leaks.
 */
static void
tx_bufs_round(struct rh_env *e, struct rte_mempool *mp, const uint32_t *lens,
	      const enum tx_shape *shapes, int n, int nbufs)
{
	static uint8_t frame[65536];
	struct rte_mbuf *pkts[16];
	uint64_t drops = e->txq->stats.drops_no_buf;
	uint64_t heap = heap_allocs();
	unsigned int avail = rte_mempool_avail_count(mp);
	int want = 0, ext = 0, k = 0;
	uint16_t r;

	assert_true(n <= 16);
	for (int i = 0; i < n; i++) {
		assert_true(lens[i] <= sizeof(frame));
		rh_fill(frame, lens[i], 40 + i);
		assert_true(vtd_post_tx(&e->tx, frame, lens[i], e->hdr_len,
					nbufs, false) >= 0);
		want += shapes[i] != SHAPE_DROP;
		ext += shapes[i] == SHAPE_EXTBUF;
	}
	vtd_publish(&e->tx);
	r = vhu_dequeue_burst(e->dev, 0, mp, pkts, 16);
	assert_int_equal(r, want);
	/* dropped frames' buffers went back to the guest too */
	assert_int_equal(vtd_used_pending(&e->tx), n);
	for (int i = 0; i < n; i++) {
		uint32_t id, len;

		assert_true(vtd_get_used(&e->tx, &id, &len));
		assert_int_equal(len, 0);
	}
	assert_int_equal(e->txq->stats.drops_no_buf - drops, n - want);
	assert_int_equal(e->txq->stats.desc_errors, 0);
	assert_false(e->txq->broken);
	/* one heap element per external buffer, held by its mbuf */
	assert_int_equal(heap_allocs() - heap, ext);
	for (int i = 0; i < n; i++) {
		if (shapes[i] == SHAPE_DROP)
			continue;
		check_shape(pkts[k], lens[i], 40 + i, shapes[i]);
		rte_pktmbuf_free(pkts[k]);
		k++;
	}
	/* freed with their mbufs: heap and pool where they were */
	assert_int_equal(heap_allocs(), heap);
	assert_int_equal(rte_mempool_avail_count(mp), avail);
}

#define RH_64K 65536u

/* A fresh ring's base: packed rings start with the wrap counter set. */
static uint16_t
fresh_base(uint64_t features)
{
	return (features & BIT(VIRTIO_F_RING_PACKED)) ? RH_WRAP : 0;
}

void
rh_tx_bufs_sizes(uint64_t features)
{
	static const uint32_t lens[] = {
		64, RH_DATA_ROOM, 9000, VHU_EXTBUF_MAX_FRAME, RH_64K,
		VHU_EXTBUF_MAX_FRAME + 1,
	};
	static const enum tx_shape linear[] = {
		SHAPE_DIRECT, SHAPE_DIRECT, SHAPE_DROP, SHAPE_DROP, SHAPE_DROP,
		SHAPE_DROP,
	};
	static const enum tx_shape lin_ext[] = {
		SHAPE_DIRECT, SHAPE_DIRECT, SHAPE_EXTBUF, SHAPE_EXTBUF,
		SHAPE_DROP, SHAPE_DROP,
	};
	static const enum tx_shape ext_only[] = {
		SHAPE_DIRECT, SHAPE_DIRECT, SHAPE_EXTBUF, SHAPE_EXTBUF,
		SHAPE_CHAIN, SHAPE_CHAIN,
	};
	static const enum tx_shape chains[] = {
		SHAPE_DIRECT, SHAPE_DIRECT, SHAPE_CHAIN, SHAPE_CHAIN,
		SHAPE_CHAIN, SHAPE_CHAIN,
	};
	/* with CSUM the header is kept in the headroom (VHU_VQ_F_NET_OL) */
	const uint64_t fs[] = {
		features, features | BIT(VIRTIO_NET_F_CSUM),
	};

	for (unsigned int f = 0; f < RTE_DIM(fs); f++) {
		/* one buffer each (the fast path's shape) or three */
		for (int nbufs = 1; nbufs <= 3; nbufs += 2) {
			struct rh_env e;

			rh_env_setup(&e, fs[f], 256, fresh_base(features));
			tx_bufs_round(&e, rh_pool, lens, chains,
				      RTE_DIM(lens), nbufs);
			set_tx_bufs(&e, VHU_VQ_F_LINEAR);
			tx_bufs_round(&e, rh_pool, lens, linear,
				      RTE_DIM(lens), nbufs);
			set_tx_bufs(&e, VHU_VQ_F_LINEAR | VHU_VQ_F_EXTBUF);
			tx_bufs_round(&e, rh_pool, lens, lin_ext,
				      RTE_DIM(lens), nbufs);
			set_tx_bufs(&e, VHU_VQ_F_EXTBUF);
			tx_bufs_round(&e, rh_pool, lens, ext_only,
				      RTE_DIM(lens), nbufs);
			assert_int_equal(e.txq->stats.drops_no_buf, 4 + 2);
			rh_env_teardown(&e);
		}
	}
}

static void *
alloc_fails(size_t size, int socket)
{
	(void)size;
	(void)socket;
	return NULL;
}

void
rh_tx_bufs_alloc_fail(uint64_t features)
{
	static const uint32_t lens[] = { 60, 9000, 3000, 1500 };
	static const enum tx_shape lin_ext[] = {
		SHAPE_DIRECT, SHAPE_DROP, SHAPE_DROP, SHAPE_DIRECT,
	};
	static const enum tx_shape ext_only[] = {
		SHAPE_DIRECT, SHAPE_CHAIN, SHAPE_CHAIN, SHAPE_DIRECT,
	};
	static const enum tx_shape lin_ext_ok[] = {
		SHAPE_DIRECT, SHAPE_EXTBUF, SHAPE_EXTBUF, SHAPE_DIRECT,
	};
	vhu_extbuf_alloc_fn saved = vhu_extbuf_alloc;
	struct rh_env e;

	rh_env_setup(&e, features, 256, fresh_base(features));
	set_tx_bufs(&e, VHU_VQ_F_LINEAR | VHU_VQ_F_EXTBUF);
	vhu_extbuf_alloc = alloc_fails;
	tx_bufs_round(&e, rh_pool, lens, lin_ext, RTE_DIM(lens), 2);
	set_tx_bufs(&e, VHU_VQ_F_EXTBUF);
	tx_bufs_round(&e, rh_pool, lens, ext_only, RTE_DIM(lens), 2);
	vhu_extbuf_alloc = saved;
	/* the allocator back: the same frames take external buffers again */
	set_tx_bufs(&e, VHU_VQ_F_LINEAR | VHU_VQ_F_EXTBUF);
	tx_bufs_round(&e, rh_pool, lens, lin_ext_ok, RTE_DIM(lens), 2);
	assert_int_equal(e.txq->stats.drops_no_buf, 2);
	rh_env_teardown(&e);
}

void
rh_tx_bufs_pool_dry(uint64_t features)
{
	struct rte_mempool *tiny;
	struct rte_mbuf *pkts[16];
	static uint8_t frame[9000];
	struct rh_env e;
	uint64_t heap;
	uint16_t r;

	tiny = rte_pktmbuf_pool_create("tiny_ext", 3, 0, 0,
				       RH_DATA_ROOM + RTE_PKTMBUF_HEADROOM,
				       SOCKET_ID_ANY);
	assert_non_null(tiny);
	rh_env_setup(&e, features, 256, fresh_base(features));
	set_tx_bufs(&e, VHU_VQ_F_LINEAR | VHU_VQ_F_EXTBUF);
	rh_fill(frame, sizeof(frame), 7);
	rh_post_tx_n(&e, 5, frame, sizeof(frame), 2);
	heap = heap_allocs();
	/* three mbufs: three frames, one external buffer each */
	r = vhu_dequeue_burst(e.dev, 0, tiny, pkts, 16);
	assert_int_equal(r, 3);
	assert_int_equal(rte_mempool_avail_count(tiny), 0);
	assert_int_equal(vtd_used_pending(&e.tx), 3);
	assert_int_equal(heap_allocs() - heap, 3);
	/* dry: the other two wait in the ring, nothing dropped */
	assert_int_equal(vhu_dequeue_burst(e.dev, 0, tiny, pkts + 3, 16), 0);
	assert_int_equal(vtd_used_pending(&e.tx), 3);
	assert_int_equal(e.txq->stats.drops_no_buf, 0);
	for (int i = 0; i < r; i++) {
		check_shape(pkts[i], sizeof(frame), 7, SHAPE_EXTBUF);
		rte_pktmbuf_free(pkts[i]);
	}
	assert_int_equal(heap_allocs(), heap);
	r = vhu_dequeue_burst(e.dev, 0, tiny, pkts, 16);
	assert_int_equal(r, 2);
	assert_int_equal(vtd_used_pending(&e.tx), 5);
	for (int i = 0; i < r; i++) {
		check_shape(pkts[i], sizeof(frame), 7, SHAPE_EXTBUF);
		rte_pktmbuf_free(pkts[i]);
	}
	assert_int_equal(heap_allocs(), heap);
	assert_int_equal(rte_mempool_avail_count(tiny), 3);
	assert_int_equal(e.txq->stats.drops_no_buf, 0);
	rh_env_teardown(&e);
	rte_mempool_free(tiny);
}
