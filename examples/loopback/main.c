/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhu-loopback: the smallest useful libvhu application, and the backend the
 * end-to-end tests drive. It serves one or more vhost-user sockets and, for
 * every running device, echoes each frame the guest transmits back into the
 * guest's receive queue of the same queue pair. It owns: command-line
 * parsing, the mapping of (socket, queue pair) "slots" onto polling lcores,
 * publishing device handles to those lcores and retracting them safely when
 * a device stops, per-device rate statistics, and orderly shutdown on
 * SIGINT/SIGTERM.
 *
 * Threading. libvhu runs its own control thread (VHU_INIT_CONTROL_THREAD);
 * the callbacks below run there. Each slot holds an atomic device pointer:
 * new_device() stores it, the owning poller loads it once per pass.
 * destroy_device() clears the pointers, then waits until every poller that
 * owns one of the slots has finished a pass (its epoch counter moved) or
 * has exited, so no poller holds the handle when the callback returns.
 * With a single lcore the main lcore is the only poller; with more, the
 * main lcore only prints statistics and the workers poll.
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

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_pause.h>

#include "vhu.h"
#include "vhu_burst.h"
#include "pool_hint.h"

#define LB_MAX_SOCKETS 16
#define LB_MAX_QP 128
#define LB_MAX_SLOTS (LB_MAX_SOCKETS * 16)
#define LB_BURST 32

/* One registered socket path; the ctx of its callbacks. */
struct lb_port {
	const char *path;
	unsigned int index;
	struct vhu_socket *sock;
	_Atomic(struct vhu_dev *) dev; /* the device being served, if any */
	unsigned int first_slot;       /* slots first_slot .. + n_qp - 1 */
	/* Statistics (main lcore) only; the counters behind them are per
	 * slot and cumulative, so rates stay right across reconnects. */
	uint64_t last_rx, last_tx, last_drop;
	uint64_t last_tsc;
};

/* One queue pair of one port, polled by exactly one lcore. */
struct lb_slot {
	_Atomic(struct vhu_dev *) dev;
	struct lb_port *port;
	uint16_t qp;
	unsigned int poller; /* index into pollers[] */
	/* Written by the poller only, read by the statistics thread. */
	_Atomic uint64_t rx, tx, drop;
};

struct lb_poller {
	unsigned int lcore;
	unsigned int n_slots;
	unsigned int slots[LB_MAX_SLOTS];
	/* Bumped after each pass over the slots; the quiescence signal. */
	_Atomic uint64_t epoch;
	_Atomic bool running;
} __rte_cache_aligned;

static struct {
	const char *paths[LB_MAX_SOCKETS];
	unsigned int n_paths;
	bool client;
	bool iommu;
	uint16_t queues;
	unsigned int stats_sec;
	unsigned int retry_ms;
} opt = {
	.queues = 1,
	.stats_sec = 1,
};

static struct lb_port ports[LB_MAX_SOCKETS];
static struct lb_slot slots[LB_MAX_SLOTS];
static unsigned int n_slots;
static struct lb_poller pollers[RTE_MAX_LCORE];
static unsigned int n_pollers;
static struct rte_mempool *pool;
static volatile sig_atomic_t quit;
static atomic_bool pollers_stop;

static void
lb_signal(int sig)
{
	(void)sig;
	quit = 1;
}

/* ---- data path ---------------------------------------------------------- */

/*
 * --tx-retry: the frames an enqueue could not place wait up to
 * opt.retry_ms for room. With a vIOMMU the usual cause is an IOTLB miss:
 * the enqueue stops at a receive buffer whose IOVA vhu has not been told
 * about yet, asks the frontend, and the answer takes a round trip through
 * QEMU's main loop (about a millisecond under TCG). Sleeping between tries
 * leaves the core to libvhu's control thread, which applies the update.
 */
static uint16_t
retry_enqueue(struct lb_slot *s, struct vhu_dev *dev, struct rte_mbuf **pkts,
	      uint16_t n)
{
	uint64_t end = rte_get_timer_cycles() +
		       (uint64_t)opt.retry_ms * rte_get_timer_hz() / 1000;
	uint16_t sent = 0;

	/* destroy_device() clears the slot and waits for this pass */
	while (sent < n && rte_get_timer_cycles() < end &&
	       atomic_load_explicit(&s->dev, memory_order_relaxed) == dev &&
	       !atomic_load_explicit(&pollers_stop, memory_order_relaxed)) {
		rte_delay_us_sleep(20);
		sent += vhu_enqueue_burst(dev, s->qp, pkts + sent, n - sent);
	}
	return sent;
}

static void
poll_slot(struct lb_slot *s, struct vhu_dev *dev)
{
	struct rte_mbuf *pkts[LB_BURST];
	uint16_t n, sent;

	n = vhu_dequeue_burst(dev, s->qp, pool, pkts, LB_BURST);
	if (n == 0)
		return;
	sent = vhu_enqueue_burst(dev, s->qp, pkts, n);
	if (sent < n && opt.retry_ms != 0)
		sent += retry_enqueue(s, dev, pkts + sent, n - sent);
	/* Ownership stays with us on enqueue: free placed and unplaced. */
	rte_pktmbuf_free_bulk(pkts, n);
	/* Single writer per counter: a relaxed load-add-store is enough. */
	atomic_store_explicit(&s->rx,
		atomic_load_explicit(&s->rx, memory_order_relaxed) + n,
		memory_order_relaxed);
	atomic_store_explicit(&s->tx,
		atomic_load_explicit(&s->tx, memory_order_relaxed) + sent,
		memory_order_relaxed);
	if (sent != n)
		atomic_store_explicit(&s->drop,
			atomic_load_explicit(&s->drop, memory_order_relaxed) +
				(uint64_t)(n - sent),
			memory_order_relaxed);
}

/* One pass over a poller's slots. The device loads are seq_cst and so is
 * the epoch bump after them: together with destroy_device()'s seq_cst
 * clear-then-read (D1/D2 below) this guarantees that once the controller
 * sees the epoch move, the poller's next pass loads the cleared pointer. */
static void
poll_pass(struct lb_poller *p)
{
	unsigned int i;

	for (i = 0; i < p->n_slots; i++) {
		struct lb_slot *s = &slots[p->slots[i]];
		/* P1: pairs with D1. */
		struct vhu_dev *dev =
			atomic_load_explicit(&s->dev, memory_order_seq_cst);

		if (dev != NULL)
			poll_slot(s, dev);
	}
	/* P2: pairs with D2; no handle loaded above is used after this. */
	atomic_fetch_add_explicit(&p->epoch, 1, memory_order_seq_cst);
}

static int
poller_main(void *arg)
{
	struct lb_poller *p = arg;

	/* More lcores than queue pairs: nothing to poll here. */
	while (p->n_slots != 0 &&
	       !atomic_load_explicit(&pollers_stop, memory_order_relaxed))
		poll_pass(p);
	atomic_store_explicit(&p->running, false, memory_order_seq_cst);
	return 0;
}

/* ---- control path (libvhu's control thread) ----------------------------- */

/* Clear every slot of a port and wait until no poller can still hold dev. */
static void
retract_device(struct lb_port *port)
{
	uint64_t seen[RTE_MAX_LCORE];
	bool owns[RTE_MAX_LCORE] = { false };
	unsigned int i, q;

	atomic_store_explicit(&port->dev, NULL, memory_order_seq_cst);
	for (q = 0; q < opt.queues; q++) {
		struct lb_slot *s = &slots[port->first_slot + q];

		/* D1: pairs with P1 */
		atomic_store_explicit(&s->dev, NULL, memory_order_seq_cst);
		owns[s->poller] = true;
	}
	for (i = 0; i < n_pollers; i++)
		if (owns[i])
			/* D2 */
			seen[i] = atomic_load_explicit(&pollers[i].epoch,
						       memory_order_seq_cst);
	for (i = 0; i < n_pollers; i++) {
		if (!owns[i])
			continue;
		while (atomic_load_explicit(&pollers[i].running,
					    memory_order_seq_cst) &&
		       atomic_load_explicit(&pollers[i].epoch,
					    memory_order_seq_cst) == seen[i])
			rte_pause();
	}
}

static int
lb_new_device(struct vhu_dev *dev, void *ctx)
{
	struct lb_port *port = ctx;
	struct vhu_dev *none = NULL;
	uint16_t vrings = vhu_dev_vring_count(dev);
	unsigned int q;

	if (!atomic_compare_exchange_strong_explicit(&port->dev, &none, dev,
						     memory_order_seq_cst,
						     memory_order_seq_cst)) {
		printf("vhu-loopback: %s: refusing device %d, device %d is "
		       "already served here\n", port->path, vhu_dev_id(dev),
		       vhu_dev_id(none));
		return -1;
	}
	printf("vhu-loopback: %s: device %d ready: features 0x%" PRIx64
	       ", %u vrings (%u queue pair(s)), polling %u\n",
	       port->path, vhu_dev_id(dev), vhu_dev_features(dev), vrings,
	       vrings / 2, RTE_MIN((unsigned int)opt.queues, vrings / 2u));
	for (q = 0; q < opt.queues; q++)
		atomic_store_explicit(&slots[port->first_slot + q].dev, dev,
				      memory_order_seq_cst);
	fflush(stdout);
	return 0;
}

static void
lb_destroy_device(struct vhu_dev *dev, void *ctx)
{
	struct lb_port *port = ctx;

	if (atomic_load_explicit(&port->dev, memory_order_seq_cst) != dev)
		return;
	retract_device(port);
	printf("vhu-loopback: %s: device %d stopped\n", port->path,
	       vhu_dev_id(dev));
	fflush(stdout);
}

static void
lb_vring_state_changed(struct vhu_dev *dev, uint16_t vring, bool enabled,
		       void *ctx)
{
	struct lb_port *port = ctx;

	printf("vhu-loopback: %s: device %d vring %u (queue pair %u %s) %s\n",
	       port->path, vhu_dev_id(dev), vring, vring / 2,
	       vring % 2 ? "tx" : "rx", enabled ? "enabled" : "disabled");
	fflush(stdout);
}

static const struct vhu_ops lb_ops = {
	.new_device = lb_new_device,
	.destroy_device = lb_destroy_device,
	.vring_state_changed = lb_vring_state_changed,
};

/* ---- statistics --------------------------------------------------------- */

static void
print_stats(uint64_t now, uint64_t hz)
{
	unsigned int i, q;

	for (i = 0; i < opt.n_paths; i++) {
		struct lb_port *port = &ports[i];
		struct vhu_dev *dev =
			atomic_load_explicit(&port->dev, memory_order_seq_cst);
		uint64_t rx = 0, tx = 0, drop = 0;
		double dt;

		for (q = 0; q < opt.queues; q++) {
			struct lb_slot *s = &slots[port->first_slot + q];

			rx += atomic_load_explicit(&s->rx, memory_order_relaxed);
			tx += atomic_load_explicit(&s->tx, memory_order_relaxed);
			drop += atomic_load_explicit(&s->drop,
						     memory_order_relaxed);
		}
		if (dev != NULL && port->last_tsc != 0) {
			dt = (double)(now - port->last_tsc) / (double)hz;
			printf("vhu-loopback: %s: device %d: rx %.0f pps, tx %.0f "
			       "pps, drops %.0f/s (total rx %" PRIu64 " tx %"
			       PRIu64 " drops %" PRIu64 ")\n",
			       port->path, vhu_dev_id(dev),
			       (double)(rx - port->last_rx) / dt,
			       (double)(tx - port->last_tx) / dt,
			       (double)(drop - port->last_drop) / dt,
			       rx, tx, drop);
		}
		port->last_rx = rx;
		port->last_tx = tx;
		port->last_drop = drop;
		port->last_tsc = now;
	}
	/* with no guest connected this must read 0: nothing is held */
	printf("vhu-loopback: mbufs in use: %u of %u\n",
	       rte_mempool_in_use_count(pool), pool->size);
	fflush(stdout);
}

/* ---- set-up ------------------------------------------------------------- */

static void
usage(const char *prog)
{
	printf("usage: %s [EAL options] -- --socket PATH [--socket PATH ...]\n"
	       "          [--client] [--iommu] [--queues N] [--stats SEC]\n"
	       "          [--tx-retry MS]\n"
	       "Echo every frame a vhost-user frontend sends back to it.\n"
	       "  --socket PATH  vhost-user socket to serve (up to %d)\n"
	       "  --client       connect to PATH (the frontend listens) and\n"
	       "                 reconnect when it goes away\n"
	       "  --iommu        offer VIRTIO_F_ACCESS_PLATFORM: a guest with\n"
	       "                 a vIOMMU (iommu_platform=on) gets through\n"
	       "                 the IOTLB (VHU_SOCKET_IOMMU)\n"
	       "  --queues N     queue pairs per device (default 1, max %d)\n"
	       "  --stats SEC    print per-device rates every SEC seconds\n"
	       "                 (default 1, 0 = never)\n"
	       "  --tx-retry MS  frames the guest has no receive buffer for\n"
	       "                 yet (ring full, or an IOTLB miss waiting for\n"
	       "                 the frontend) are retried for up to MS ms\n"
	       "                 before they count as drops (default 0)\n"
	       "Queue pairs are spread over the worker lcores; with only the\n"
	       "main lcore, it polls them all.\n",
	       prog, LB_MAX_SOCKETS, LB_MAX_QP);
}

/* A decimal option value in [lo, hi]; -1 (and a message) otherwise. */
static int
parse_num(const char *name, const char *arg, unsigned long lo,
	  unsigned long hi, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || *v < lo || *v > hi) {
		fprintf(stderr, "bad %s %s\n", name, arg);
		return -1;
	}
	return 0;
}

static int
parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "client", no_argument, NULL, 'c' },
		{ "iommu", no_argument, NULL, 'i' },
		{ "queues", required_argument, NULL, 'q' },
		{ "stats", required_argument, NULL, 't' },
		{ "tx-retry", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (opt.n_paths == LB_MAX_SOCKETS) {
				fprintf(stderr, "at most %d sockets\n",
					LB_MAX_SOCKETS);
				return -1;
			}
			opt.paths[opt.n_paths++] = optarg;
			break;
		case 'c':
			opt.client = true;
			break;
		case 'i':
			opt.iommu = true;
			break;
		case 'q':
			if (parse_num("--queues", optarg, 1, LB_MAX_QP, &v) < 0)
				return -1;
			opt.queues = (uint16_t)v;
			break;
		case 't':
			if (parse_num("--stats", optarg, 0, 3600, &v) < 0)
				return -1;
			opt.stats_sec = (unsigned int)v;
			break;
		case 'r':
			if (parse_num("--tx-retry", optarg, 0, 10000, &v) < 0)
				return -1;
			opt.retry_ms = (unsigned int)v;
			break;
		case 'h':
			usage(argv[0]);
			exit(0);
		default:
			usage(argv[0]);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "unexpected argument %s\n", argv[optind]);
		return -1;
	}
	if (opt.n_paths == 0) {
		usage(argv[0]);
		return -1;
	}
	if (opt.n_paths * opt.queues > LB_MAX_SLOTS) {
		fprintf(stderr, "too many queue pairs in all (%u, max %d)\n",
			opt.n_paths * opt.queues, LB_MAX_SLOTS);
		return -1;
	}
	return 0;
}

/* Pollers are the worker lcores, or the main lcore alone; slot i goes to
 * poller i % n_pollers, so each queue pair gets its own lcore when there
 * are enough and they are dealt round-robin otherwise. */
static void
assign_slots(void)
{
	unsigned int lcore, i, q;

	n_pollers = 0;
	RTE_LCORE_FOREACH_WORKER(lcore)
		pollers[n_pollers++].lcore = lcore;
	if (n_pollers == 0)
		pollers[n_pollers++].lcore = rte_get_main_lcore();
	n_slots = 0;
	for (i = 0; i < opt.n_paths; i++) {
		ports[i].path = opt.paths[i];
		ports[i].index = i;
		ports[i].first_slot = n_slots;
		for (q = 0; q < opt.queues; q++) {
			struct lb_slot *s = &slots[n_slots];
			struct lb_poller *p = &pollers[n_slots % n_pollers];

			s->port = &ports[i];
			s->qp = (uint16_t)q;
			s->poller = n_slots % n_pollers;
			p->slots[p->n_slots++] = n_slots;
			n_slots++;
		}
	}
	for (i = 0; i < n_pollers; i++)
		atomic_store_explicit(&pollers[i].running, true,
				      memory_order_seq_cst);
}

static int
start_sockets(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < opt.n_paths; i++) {
		struct vhu_socket_params sp = {
			.path = opt.paths[i],
			.flags = (opt.client ? VHU_SOCKET_CLIENT : 0) |
				 (opt.iommu ? VHU_SOCKET_IOMMU : 0),
			.max_queue_pairs = opt.queues,
			.ops = &lb_ops,
			.ctx = &ports[i],
		};

		ret = vhu_socket_register(&sp, &ports[i].sock);
		if (ret < 0) {
			fprintf(stderr, "vhu-loopback: %s: register: %s\n",
				opt.paths[i], strerror(-ret));
			return -1;
		}
		ret = vhu_socket_start(ports[i].sock);
		if (ret < 0) {
			fprintf(stderr, "vhu-loopback: %s: start: %s\n",
				opt.paths[i], strerror(-ret));
			return -1;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	uint64_t hz, next_stats, now;
	unsigned int i, n_mbufs;
	bool main_polls;
	int ret, rc = 1;

	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "vhu-loopback: EAL init: %s\n",
			rte_strerror(rte_errno));
		return 1;
	}
	argv[ret] = argv[0];
	argc -= ret;
	argv += ret;
	if (parse_args(argc, argv) < 0)
		goto out_eal;
	signal(SIGINT, lb_signal);
	signal(SIGTERM, lb_signal);
	assign_slots();
	main_polls = pollers[0].lcore == rte_get_main_lcore();

	/* Every slot may hold a burst of jumbo chains (up to 5 mbufs each)
	 * while it echoes them; plus the per-lcore caches. */
	n_mbufs = n_slots * LB_BURST * 5 + rte_lcore_count() * 256 + 2048;
	pool = rte_pktmbuf_pool_create("lb_pool", n_mbufs, 256, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE,
				       (int)rte_socket_id());
	if (pool == NULL) {
		/* hugepages exhausted, most likely: say how much and the fix */
		example_pool_failed("vhu-loopback", n_mbufs,
				    RTE_MBUF_DEFAULT_BUF_SIZE,
				    (int)rte_socket_id());
		goto out_eal;
	}
	ret = vhu_init(VHU_INIT_CONTROL_THREAD);
	if (ret < 0) {
		fprintf(stderr, "vhu-loopback: vhu_init: %s\n", strerror(-ret));
		goto out_pool;
	}
	if (start_sockets() < 0)
		goto out_vhu;
	for (i = 0; i < n_pollers; i++)
		printf("vhu-loopback: lcore %u polls %u queue pair(s)\n",
		       pollers[i].lcore, pollers[i].n_slots);
	/* The e2e tests wait for this line: keep its start stable. */
	printf("vhu-loopback: serving %u socket(s) as %s, %u queue pair(s) "
	       "each, %u polling lcore(s)\n", opt.n_paths,
	       opt.client ? "client" : "server", opt.queues, n_pollers);
	fflush(stdout);

	if (!main_polls)
		for (i = 0; i < n_pollers; i++)
			rte_eal_remote_launch(poller_main, &pollers[i],
					      pollers[i].lcore);
	hz = rte_get_timer_hz();
	next_stats = rte_get_timer_cycles() + (uint64_t)opt.stats_sec * hz;
	while (!quit) {
		if (main_polls) {
			/* A few hundred passes between clock reads. */
			for (i = 0; i < 256; i++)
				poll_pass(&pollers[0]);
		} else {
			rte_delay_us_sleep(10000);
		}
		now = rte_get_timer_cycles();
		if (opt.stats_sec != 0 && now >= next_stats) {
			print_stats(now, hz);
			next_stats = now + (uint64_t)opt.stats_sec * hz;
		}
	}
	printf("vhu-loopback: shutting down\n");
	fflush(stdout);
	atomic_store_explicit(&pollers_stop, true, memory_order_seq_cst);
	if (main_polls)
		atomic_store_explicit(&pollers[0].running, false,
				      memory_order_seq_cst);
	else
		rte_eal_mp_wait_lcore();
	rc = 0;
out_vhu:
	/* Pollers are stopped: destroy_device() calls made here wait for
	 * nobody. */
	atomic_store_explicit(&pollers_stop, true, memory_order_seq_cst);
	for (i = 0; i < n_pollers; i++)
		atomic_store_explicit(&pollers[i].running, false,
				      memory_order_seq_cst);
	vhu_fini();
out_pool:
	rte_mempool_free(pool);
out_eal:
	rte_eal_cleanup();
	return rc;
}
