/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhu-gpa-peek: zero-copy inspection of what a guest transmits, with the
 * guest-address window (vhu_burst.h, "Guest addresses";
 * doc/guide/zero-copy.md). It serves one vhost-user socket and, on queue
 * pair 0, before every vhu_dequeue_burst():
 *
 *   1. opens a window on the guest's transmit vring (vhu_vring_mem_enter),
 *   2. finds the ring (vhu_vring_addrs) and reads the frames the guest has
 *      posted but libvhu has not taken yet, in place, through
 *      vhu_vring_gpa_to_hva(): descriptors, then each frame's Ethernet,
 *      IPv4 and TCP/UDP headers; no mbuf, no copy of the frame,
 *   3. counts frames and bytes per flow (IPv4 protocol, addresses, ports),
 *   4. closes the window (vhu_vring_mem_leave), and only then
 *   5. hands the frames on: vhu_dequeue_burst() takes them (the one copy),
 *      and this example echoes them back into the guest's receive queue.
 *
 * Lifetime rules it follows: every pointer the window gave is used before
 * the window is left and never kept (the next pass translates again);
 * inside the window it calls nothing of libvhu but gpa_to_hva and
 * vring_addrs; the window is opened by the lcore that polls the vring,
 * between its bursts, and held for one pass of at most PEEK_MAX frames.
 * Everything read from the guest is checked before use (ring indexes,
 * descriptor chain length, lengths): the guest is not trusted.
 *
 * At exit (SIGINT/SIGTERM) it prints one line per flow and a total; the
 * e2e test (app/test/e2e/gpa_peek.sh) compares them with what the guest
 * sent. Split rings only: on a packed ring the frames are handed on
 * uninspected (and counted so).
 *
 * Usage: vhu-gpa-peek [EAL options] -- --socket PATH [--stats SEC]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ring.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_pause.h>

#include "vhu.h"
#include "vhu_burst.h"
#include "pool_hint.h"

#define PEEK_BURST 32      /* frames handed on per dequeue */
#define PEEK_MAX PEEK_BURST /* frames inspected per window */
#define PEEK_HDR 64        /* frame bytes read for the headers */
#define PEEK_FLOWS 256     /* flow table slots (then "other flows") */
#define TX_VRING 1         /* queue pair 0's guest transmit vring */

/* One flow: IPv4 protocol, addresses and ports (0 without ports). */
struct flow {
	bool used;
	uint8_t proto;
	uint32_t src, dst;   /* network order */
	uint16_t sport, dport;
	uint64_t frames, bytes;
};

static struct flow flows[PEEK_FLOWS];
static uint64_t other_flows;  /* frames of flows the table had no room for */
static uint64_t not_ipv4;     /* frames without an IPv4 header we can read */
static uint64_t inspected, inspected_bytes, not_inspected, handed_on;

static const char *sock_path;
static unsigned int stats_sec;
static struct rte_mempool *pool;
static volatile sig_atomic_t quit;

/* The device being served, published by the control thread. */
static _Atomic(struct vhu_dev *) served;
/* Bumped after each poll pass; destroy_device waits for it to move. */
static _Atomic uint64_t epoch;
static _Atomic bool polling;

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

/* ---- the window: read guest memory in place ---------------------------- */

/*
 * Copy n bytes at guest address gpa into dst, across memory regions if
 * need be. Only for the few header bytes a parser wants contiguous; the
 * frame itself is never copied. False if any byte is not guest memory.
 */
static bool
read_guest(struct vhu_dev *dev, uint64_t gpa, void *dst, uint32_t n)
{
	uint8_t *d = dst;

	while (n > 0) {
		uint64_t len = n;
		const uint8_t *p = vhu_vring_gpa_to_hva(dev, TX_VRING, gpa, &len,
							VHU_GPA_READ);

		if (p == NULL)
			return false;
		memcpy(d, p, len);
		d += len;
		gpa += len;
		n -= (uint32_t)len;
	}
	return true;
}

/* Count a frame of len bytes whose first bytes are h[0, hlen). */
static void
count_frame(const uint8_t *h, uint32_t hlen, uint32_t len)
{
	const struct rte_ether_hdr *eth = (const void *)h;
	const struct rte_ipv4_hdr *ip;
	struct flow key = { .used = true };
	uint32_t off = sizeof(*eth), ihl, hash;
	uint16_t type;

	inspected++;
	inspected_bytes += len;
	if (hlen < off + sizeof(*ip)) {
		not_ipv4++;
		return;
	}
	type = eth->ether_type;
	if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN) &&
	    hlen >= off + 4 + sizeof(*ip)) {
		memcpy(&type, h + off + 2, sizeof(type));
		off += 4;
	}
	ip = (const void *)(h + off);
	ihl = (uint32_t)(ip->version_ihl & 0xf) * 4;
	if (type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    (ip->version_ihl >> 4) != 4 || ihl < sizeof(*ip)) {
		not_ipv4++;
		return;
	}
	key.proto = ip->next_proto_id;
	key.src = ip->src_addr;
	key.dst = ip->dst_addr;
	/* TCP and UDP both start with the two ports */
	if ((key.proto == IPPROTO_TCP || key.proto == IPPROTO_UDP) &&
	    hlen >= off + ihl + 4) {
		memcpy(&key.sport, h + off + ihl, 2);
		memcpy(&key.dport, h + off + ihl + 2, 2);
	}
	/* open addressing over a small table */
	hash = key.src * 31u + key.dst * 17u + key.sport * 7u +
			key.dport + key.proto;

	for (uint32_t i = 0; i < PEEK_FLOWS; i++) {
		struct flow *f = &flows[(hash + i) % PEEK_FLOWS];

		if (!f->used)
			*f = key;
		if (f->proto == key.proto && f->src == key.src &&
		    f->dst == key.dst && f->sport == key.sport &&
		    f->dport == key.dport) {
			f->frames++;
			f->bytes += len;
			return;
		}
	}
	other_flows++;
}

/*
 * Inspect the chain at head: its descriptors (split ring, virtio 1.2
 * §2.7.5), bounded by the ring size; the frame's first PEEK_HDR bytes after
 * the virtio-net header are gathered from its buffers. False: the chain
 * is one we do not read (indirect, unmapped, malformed); libvhu judges it
 * when it dequeues.
 */
static bool
peek_chain(struct vhu_dev *dev, const struct vhu_vring_addrs *a,
	   uint16_t head)
{
	uint8_t h[PEEK_HDR];
	uint64_t total = 0; /* 64 bits: a ring of 4 GiB buffers adds up */
	uint32_t got = 0;
	uint16_t i = head;

	for (uint16_t n = 0; n < a->size; n++) {
		struct vring_desc d;

		if (i >= a->size ||
		    !read_guest(dev, a->desc + (uint64_t)i * sizeof(d), &d,
				sizeof(d)) ||
		    (d.flags & (VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE)))
			return false;
		/* the part of this buffer that is frame, after the header */
		if (total + d.len > a->hdr_len && got < sizeof(h)) {
			uint32_t skip = total < a->hdr_len ?
					(uint32_t)(a->hdr_len - total) : 0;
			uint32_t n_rd = RTE_MIN(d.len - skip,
						(uint32_t)sizeof(h) - got);

			if (!read_guest(dev, d.addr + skip, h + got, n_rd))
				return false;
			got += n_rd;
		}
		total += d.len;
		if (!(d.flags & VRING_DESC_F_NEXT)) {
			if (total <= a->hdr_len)
				return false;
			count_frame(h, got, (uint32_t)RTE_MIN(total - a->hdr_len,
							      (uint64_t)UINT32_MAX));
			return true;
		}
		i = d.next;
	}
	return false; /* a loop: libvhu breaks the ring when it meets it */
}

/*
 * One window: the frames posted after the ones libvhu took and after the
 * ones inspected already (*peeked, an avail index), up to PEEK_MAX.
 * Returns how many a dequeue may take now (all inspected, or counted as
 * not readable), or -1 when the ring cannot be inspected (no window:
 * the vring is not running or busy; a packed ring; a guest bug the burst
 * will report).
 */
static int
peek_window(struct vhu_dev *dev, uint16_t *peeked)
{
	struct vhu_vring_addrs a;
	uint16_t avail_idx, pending, i;
	uint16_t hdr[2]; /* the driver area: flags, idx */

	if (vhu_vring_mem_enter(dev, TX_VRING) < 0)
		return -1;
	if (vhu_vring_addrs(dev, TX_VRING, &a) < 0 || a.packed ||
	    !read_guest(dev, a.driver, hdr, sizeof(hdr))) {
		vhu_vring_mem_leave(dev, TX_VRING);
		return -1;
	}
	/* the ring entries after the index: pairs with the guest's store */
	atomic_thread_fence(memory_order_acquire);
	avail_idx = hdr[1];
	pending = (uint16_t)(avail_idx - a.next_avail);
	if (pending > a.size) {
		/* a guest bug; libvhu's burst reports it */
		vhu_vring_mem_leave(dev, TX_VRING);
		return -1;
	}
	/* what was inspected and is still in the ring is not counted again */
	if ((uint16_t)(*peeked - a.next_avail) > pending)
		*peeked = a.next_avail;
	for (i = *peeked; i != avail_idx &&
	     (uint16_t)(i - a.next_avail) < PEEK_MAX; i++) {
		uint16_t head;

		if (!read_guest(dev, a.driver + 4 + 2u * (i % a.size), &head,
				sizeof(head)) ||
		    !peek_chain(dev, &a, head))
			not_inspected++;
	}
	*peeked = i;
	vhu_vring_mem_leave(dev, TX_VRING);
	/* every pointer from the window is dead now: none was kept */
	return (uint16_t)(i - a.next_avail);
}

/* ---- data path ---------------------------------------------------------- */

static void
poll_device(struct vhu_dev *dev, uint16_t *peeked)
{
	struct rte_mbuf *pkts[PEEK_BURST + 1];
	int want = peek_window(dev, peeked);
	uint16_t n;

	if (want == 0)
		return;
	/* hand on what was inspected (+1: a RARP frame libvhu may add) */
	n = vhu_dequeue_burst(dev, 0, pool, pkts,
			      want < 0 ? PEEK_BURST : (uint16_t)want);
	if (n == 0)
		return;
	if (want < 0)
		not_inspected += n;
	handed_on += n;
	(void)vhu_enqueue_burst(dev, 0, pkts, n);
	rte_pktmbuf_free_bulk(pkts, n);
}

/* ---- control thread callbacks ------------------------------------------ */

static int
on_new_device(struct vhu_dev *dev, void *ctx)
{
	struct vhu_dev *none = NULL;

	(void)ctx;
	if (!atomic_compare_exchange_strong(&served, &none, dev))
		return -1; /* one guest at a time */
	printf("gpa-peek: device %d ready\n", vhu_dev_id(dev));
	fflush(stdout);
	return 0;
}

static void
on_destroy_device(struct vhu_dev *dev, void *ctx)
{
	uint64_t seen;

	(void)ctx;
	if (atomic_load(&served) != dev)
		return;
	/* retract, then wait for the poller to finish the pass it is in */
	atomic_store(&served, NULL);
	seen = atomic_load(&epoch);
	while (atomic_load(&polling) && atomic_load(&epoch) == seen)
		rte_pause();
	printf("gpa-peek: device %d stopped\n", vhu_dev_id(dev));
	fflush(stdout);
}

static const struct vhu_ops ops = {
	.new_device = on_new_device,
	.destroy_device = on_destroy_device,
};

/* ---- output ------------------------------------------------------------- */

static void
print_flows(void)
{
	for (unsigned int i = 0; i < PEEK_FLOWS; i++) {
		const struct flow *f = &flows[i];
		const uint8_t *s = (const uint8_t *)&f->src;
		const uint8_t *d = (const uint8_t *)&f->dst;

		if (!f->used)
			continue;
		printf("gpa-peek: flow %s %u.%u.%u.%u:%u -> %u.%u.%u.%u:%u "
		       "frames %" PRIu64 " bytes %" PRIu64 "\n",
		       f->proto == IPPROTO_UDP ? "udp" :
		       f->proto == IPPROTO_TCP ? "tcp" : "ip",
		       s[0], s[1], s[2], s[3], rte_be_to_cpu_16(f->sport),
		       d[0], d[1], d[2], d[3], rte_be_to_cpu_16(f->dport),
		       f->frames, f->bytes);
	}
	printf("gpa-peek: inspected %" PRIu64 " frames %" PRIu64 " bytes, "
	       "not ipv4 %" PRIu64 ", other flows %" PRIu64
	       ", not inspected %" PRIu64 ", handed on %" PRIu64 "\n",
	       inspected, inspected_bytes, not_ipv4, other_flows,
	       not_inspected, handed_on);
	fflush(stdout);
}

static int
parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "stats", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			sock_path = optarg;
			break;
		case 't':
			stats_sec = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		default:
			return -1;
		}
	}
	if (sock_path == NULL) {
		fprintf(stderr, "usage: vhu-gpa-peek [EAL options] -- "
			"--socket PATH [--stats SEC]\n");
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct vhu_socket_params sp = { .ops = &ops };
	struct vhu_socket *sock;
	struct vhu_dev *last = NULL;
	uint16_t peeked = 0;
	uint64_t hz, next;
	int ret, rc = 1;

	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "gpa-peek: EAL init: %s\n",
			rte_strerror(rte_errno));
		return 1;
	}
	argv[ret] = argv[0];
	if (parse_args(argc - ret, argv + ret) < 0)
		goto out_eal;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	pool = rte_pktmbuf_pool_create("peek_pool", 4095, 256, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE,
				       (int)rte_socket_id());
	if (pool == NULL) {
		example_pool_failed("vhu-gpa-peek", 4095,
				    RTE_MBUF_DEFAULT_BUF_SIZE,
				    (int)rte_socket_id());
		goto out_eal;
	}
	ret = vhu_init(VHU_INIT_CONTROL_THREAD);
	if (ret < 0) {
		fprintf(stderr, "gpa-peek: vhu_init: %s\n", strerror(-ret));
		goto out_pool;
	}
	sp.path = sock_path;
	sp.max_queue_pairs = 1;
	ret = vhu_socket_register(&sp, &sock);
	if (ret == 0)
		ret = vhu_socket_start(sock);
	if (ret < 0) {
		fprintf(stderr, "gpa-peek: %s: %s\n", sock_path, strerror(-ret));
		goto out_vhu;
	}
	printf("gpa-peek: serving %s\n", sock_path);
	fflush(stdout);

	atomic_store(&polling, true);
	hz = rte_get_timer_hz();
	next = rte_get_timer_cycles() + (uint64_t)stats_sec * hz;
	while (!quit) {
		struct vhu_dev *dev = atomic_load(&served);

		if (dev != NULL) {
			if (dev != last)
				peeked = 0; /* a new device: a new ring */
			last = dev;
			poll_device(dev, &peeked);
		}
		/* no handle loaded above is used after this */
		atomic_fetch_add(&epoch, 1);
		if (stats_sec != 0 && rte_get_timer_cycles() >= next) {
			print_flows();
			next = rte_get_timer_cycles() + (uint64_t)stats_sec * hz;
		}
	}
	atomic_store(&polling, false);
	print_flows();
	rc = 0;
out_vhu:
	vhu_fini();
out_pool:
	rte_mempool_free(pool);
out_eal:
	rte_eal_cleanup();
	return rc;
}
