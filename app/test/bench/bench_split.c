/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * In-process microbenchmark of the split-ring data path. The test driver
 * (virtq_driver.c) plays a DPDK virtio_user guest in polling mode: each
 * transmit frame is one readable descriptor holding the virtio-net header
 * and the frame (virtio's "can push" layout), each receive buffer is one
 * writable descriptor of 2 KiB plus the header, interrupts are off. One
 * iteration is the loopback a backend does:
 *
 *   guest posts B transmit chains  -> vhu_dequeue_burst (mbufs)
 *   guest posts B receive buffers  -> vhu_enqueue_burst (the same mbufs)
 *   guest reaps both used rings; the mbufs are freed (the caller's part).
 *
 * Only the two vhu calls are timed, and only they should be counted:
 * run it under
 *   valgrind --tool=callgrind --toggle-collect=vhu_dequeue_burst \
 *            --toggle-collect=vhu_enqueue_burst bench_split -s 64 -m 0
 * (app/test/bench/callgrind.sh does that for the whole matrix and prints
 * instructions per packet, which do not depend on machine load).
 *
 * Usage: bench_split [-s frame bytes] [-m 0|1 mergeable] [-n iterations]
 *                    [-b burst] [-q ring size] [-e empty polls]
 * -e adds that many dequeue polls of the (then empty) transmit ring to
 * each iteration, as a polling backend that outruns its guest makes.
 * Without -s/-m it runs {64, 1518} x {mergeable off, on}.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "vhu_burst.h"
#include "virtq_driver.h"

#define BIT(b) (1ull << (b))
#define SLOT 2304u           /* guest bytes per posted buffer */
#define HEADROOM 128u        /* virtio PMD: header sits just below it */
#define RX_BUF (2048u + 12u) /* virtio PMD: data room + header */
#define MAX_BURST 256

struct bench {
	struct vtd rx, tx;           /* guest RX (vring 0), guest TX (1) */
	struct vhu_vq *rxq, *txq;
	struct vhu_dev_vqs vqs;
	struct vhu_dev *dev;
	struct rte_mempool *pool;
	uint16_t hdr_len;
	uint16_t qsize;
	uint64_t tx_base, rx_base;   /* gpa of slot 0 in each ring's memory */
	uint32_t tx_next, rx_next;   /* round-robin slot */
};

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void
die(const char *what)
{
	fprintf(stderr, "bench_split: %s\n", what);
	exit(1);
}

static void
bench_init(struct bench *b, uint32_t size, bool mrg, uint16_t qsize)
{
	uint64_t f = BIT(VIRTIO_F_VERSION_1);
	struct vtd_opts o = { .size = qsize, .nregions = 1 };
	uint64_t need = (uint64_t)qsize * SLOT + (1u << 20);

	if (mrg)
		f |= BIT(VIRTIO_NET_F_MRG_RXBUF);
	memset(b, 0, sizeof(*b));
	b->qsize = qsize;
	b->hdr_len = sizeof(struct virtio_net_hdr_mrg_rxbuf);
	o.mem_size = (need + (2u << 20) - 1) & ~((uint64_t)(2u << 20) - 1);
	if (vtd_init(&b->rx, &o, 0) != 0 || vtd_init(&b->tx, &o, 0) != 0)
		die("vtd_init");
	/* the driver's bump allocator is not used: slots are fixed */
	b->tx_base = b->tx.buf_lo;
	b->rx_base = b->rx.buf_lo;
	for (uint32_t i = 0; i < qsize; i++) {
		uint8_t *p = vtd_ptr(&b->tx, b->tx_base + (uint64_t)i * SLOT +
				     HEADROOM - b->hdr_len);

		memset(p, 0, b->hdr_len);
		for (uint32_t k = 0; k < size; k++)
			p[b->hdr_len + k] = (uint8_t)(i + k);
	}
	/* polling guest: no interrupts wanted */
	vtd_set_no_interrupt(&b->rx, true);
	vtd_set_no_interrupt(&b->tx, true);
	b->rxq = vtd_make_vq(&b->rx, 0, f, 0, -1, false);
	b->txq = vtd_make_vq(&b->tx, 1, f, 0, -1, false);
	if (b->rxq == NULL || b->txq == NULL || !b->rxq->ready ||
	    !b->txq->ready)
		die("queue setup");
	b->vqs.nr_vrings = 2;
	b->vqs.vq[0] = b->rxq;
	b->vqs.vq[1] = b->txq;
	b->dev = (struct vhu_dev *)&b->vqs;
}

static void
bench_fini(struct bench *b)
{
	vhu_vq_destroy(b->rxq);
	vhu_vq_destroy(b->txq);
	vtd_fini(&b->rx);
	vtd_fini(&b->tx);
}

static void
post_tx(struct bench *b, uint32_t size, int n)
{
	for (int i = 0; i < n; i++) {
		struct vtd_buf buf = {
			.gpa = b->tx_base + (uint64_t)b->tx_next * SLOT +
			       HEADROOM - b->hdr_len,
			.len = b->hdr_len + size,
		};

		if (vtd_add(&b->tx, &buf, 1, false, false) < 0)
			die("tx ring full");
		b->tx_next = (b->tx_next + 1) % b->qsize;
	}
	vtd_publish(&b->tx);
}

static void
post_rx(struct bench *b, int n)
{
	for (int i = 0; i < n; i++) {
		struct vtd_buf buf = {
			.gpa = b->rx_base + (uint64_t)b->rx_next * SLOT +
			       HEADROOM - b->hdr_len,
			.len = RX_BUF,
		};

		if (vtd_add(&b->rx, &buf, 1, true, false) < 0)
			die("rx ring full");
		b->rx_next = (b->rx_next + 1) % b->qsize;
	}
	vtd_publish(&b->rx);
}

static uint32_t
reap(struct vtd *d, uint32_t *last_len)
{
	uint32_t id, len, n = 0;

	while (vtd_get_used(d, &id, &len)) {
		*last_len = len;
		n++;
	}
	return n;
}

/* Check that the first received frame is the first sent frame. */
static void
check_first(struct bench *b, uint32_t size)
{
	const uint8_t *tx = vtd_ptr(&b->tx, b->tx_base + HEADROOM);
	const uint8_t *rx = vtd_ptr(&b->rx, b->rx_base + HEADROOM);

	if (memcmp(tx, rx, size) != 0)
		die("received frame differs from the sent one");
}

static void
run(uint32_t size, bool mrg, long iters, int burst, uint16_t qsize,
    int empty)
{
	struct rte_mbuf *pkts[MAX_BURST];
	struct bench b;
	double t_deq = 0, t_enq = 0;
	uint64_t pkts_done = 0;
	uint32_t last_len = 0;

	bench_init(&b, size, mrg, qsize);
	b.pool = rte_pktmbuf_pool_create(mrg ? "bench_m" : "bench_n", 8191,
					 256, 0, 2048 + HEADROOM,
					 SOCKET_ID_ANY);
	if (b.pool == NULL)
		die("mempool");
	for (long it = 0; it < iters; it++) {
		uint16_t got, put;
		double t0, t1, t2;

		post_tx(&b, size, burst);
		t0 = now_ns();
		got = vhu_dequeue_burst(b.dev, 0, b.pool, pkts, burst);
		t1 = now_ns();
		post_rx(&b, burst);
		t2 = now_ns();
		put = vhu_enqueue_burst(b.dev, 0, pkts, got);
		t_enq += now_ns() - t2;
		t_deq += t1 - t0;
		if (got != burst || put != got)
			die("short burst");
		for (int e = 0; e < empty; e++)
			if (vhu_dequeue_burst(b.dev, 0, b.pool, pkts, burst) != 0)
				die("empty poll found frames");
		rte_pktmbuf_free_bulk(pkts, got);
		if (reap(&b.tx, &last_len) != got ||
		    reap(&b.rx, &last_len) != put)
			die("used entries missing");
		if (last_len != b.hdr_len + size)
			die("wrong used length");
		if (it == 0)
			check_first(&b, size);
		pkts_done += got;
	}
	printf("size %4u mrg %d burst %3d: %7.1f ns/pkt "
	       "(dequeue %6.1f, enqueue %6.1f), %lu packets\n",
	       size, mrg, burst, (t_deq + t_enq) / pkts_done,
	       t_deq / pkts_done, t_enq / pkts_done,
	       (unsigned long)pkts_done);
	rte_mempool_free(b.pool);
	bench_fini(&b);
}

int
main(int argc, char **argv)
{
	static const uint32_t sizes[] = { 64, 1518 };
	long iters = 20000;
	int burst = 32, size = -1, mrg = -1, qsize = 1024, empty = 0, c;

	while ((c = getopt(argc, argv, "s:m:n:b:q:e:")) != -1) {
		switch (c) {
		case 's': size = atoi(optarg); break;
		case 'm': mrg = atoi(optarg); break;
		case 'n': iters = atol(optarg); break;
		case 'b': burst = atoi(optarg); break;
		case 'q': qsize = atoi(optarg); break;
		case 'e': empty = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: bench_split [-s bytes] "
				"[-m 0|1] [-n iters] [-b burst] [-q ring] "
				"[-e empty polls]\n");
			return 2;
		}
	}
	if (burst < 1 || burst > MAX_BURST || burst > qsize / 2 ||
	    size > 2048 || qsize < 2 || qsize > 32768 || empty < 0 ||
	    (qsize & (qsize - 1)) != 0)
		die("bad arguments");
	if (vtd_eal_init() != 0)
		die("EAL init");
	for (unsigned int i = 0; i < RTE_DIM(sizes); i++)
		for (int m = 0; m <= 1; m++)
			if ((size < 0 || (uint32_t)size == sizes[i]) &&
			    (mrg < 0 || mrg == m))
				run(sizes[i], m, iters, burst, qsize, empty);
	if (size >= 0 && size != 64 && size != 1518)
		for (int m = 0; m <= 1; m++)
			if (mrg < 0 || mrg == m)
				run(size, m, iters, burst, qsize, empty);
	return 0;
}
