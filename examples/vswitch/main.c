/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhu-vswitch: a small L2 learning switch over N vhost-user ports, built
 * on libvhu's C API. Each --socket is one port (one guest). Frames a guest
 * sends are switched by destination MAC: known unicast goes to the port
 * that address was last seen on, broadcast, multicast and unknown unicast
 * are flooded to every other running port. One polling lcore serves all
 * ports (queue pair 0 each); the main lcore prints a stats line per second
 * and a summary at exit (--duration, SIGINT or SIGTERM).
 *
 * libvhu copies on enqueue and leaves the mbuf with the caller, so a
 * flooded frame is simply enqueued to each port and freed once.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_pause.h>

#include "vhu.h"
#include "vhu_burst.h"

#define MAX_PORTS 16
#define BURST 32
#define MAC_TABLE_SIZE 4096
#define POOL_SIZE 16383

struct port {
	char path[108];
	struct vhu_socket *sock;
	_Atomic(struct vhu_dev *) dev;   /* published to the poller */
	/* written by the poller only, read by the stats printer */
	_Atomic uint64_t rx, tx, drops;
	uint64_t last_rx, last_tx, last_drops;
};

static struct port ports[MAX_PORTS];
static unsigned int nports;
static struct rte_hash *macs;
static struct rte_mempool *pool;
static volatile sig_atomic_t quit;
static _Atomic uint64_t poll_epoch;
static _Atomic bool poller_running;

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

/*
 * Wait until the poller has finished any loop iteration that might still
 * use a device we just unpublished.
 */
static void
wait_poller_quiescent(void)
{
	uint64_t start = atomic_load(&poll_epoch);

	while (atomic_load(&poller_running) &&
	       atomic_load(&poll_epoch) < start + 2)
		rte_pause();
}

static int
new_device(struct vhu_dev *dev, void *ctx)
{
	struct port *p = ctx;

	printf("vswitch: port %ld (%s): guest connected\n",
	       (long)(p - ports), p->path);
	atomic_store(&p->dev, dev);
	return 0;
}

static void
destroy_device(struct vhu_dev *dev, void *ctx)
{
	struct port *p = ctx;

	(void)dev;
	atomic_store(&p->dev, NULL);
	wait_poller_quiescent();
	printf("vswitch: port %ld (%s): guest gone\n", (long)(p - ports),
	       p->path);
}

static const struct vhu_ops ops = {
	.new_device = new_device,
	.destroy_device = destroy_device,
};

/* Frames bound for one output port, collected over one input burst. */
struct out_queue {
	struct rte_mbuf *pkts[BURST];
	uint16_t n;
};

static void
flush(unsigned int out, struct out_queue *q, struct vhu_dev *dev)
{
	uint16_t sent = 0;

	if (q->n == 0)
		return;
	if (dev != NULL)
		sent = vhu_enqueue_burst(dev, 0, q->pkts, q->n);
	atomic_fetch_add_explicit(&ports[out].tx, sent, memory_order_relaxed);
	if (sent < q->n)
		atomic_fetch_add_explicit(&ports[out].drops, q->n - sent,
					  memory_order_relaxed);
	q->n = 0;
}

/*
 * MAC table key: the address in an aligned 64-bit word (the hash reads its
 * key in whole words; a 6-byte key inside a frame is not aligned).
 */
static inline uint64_t
mac_key(const struct rte_ether_addr *a)
{
	uint64_t k = 0;

	memcpy(&k, a->addr_bytes, RTE_ETHER_ADDR_LEN);
	return k;
}

static void
switch_burst(unsigned int in, struct rte_mbuf **pkts, uint16_t n,
	     struct vhu_dev **devs)
{
	struct out_queue q[MAX_PORTS];

	for (unsigned int i = 0; i < nports; i++)
		q[i].n = 0;
	for (uint16_t k = 0; k < n; k++) {
		struct rte_ether_hdr *eh;
		uintptr_t data;
		uint64_t key;
		int out = -1;

		if (pkts[k]->data_len < sizeof(*eh))
			continue;
		eh = rte_pktmbuf_mtod(pkts[k], struct rte_ether_hdr *);
		/* learn: the source lives behind the input port */
		if (!rte_is_multicast_ether_addr(&eh->src_addr)) {
			key = mac_key(&eh->src_addr);
			rte_hash_add_key_data(macs, &key,
					      (void *)(uintptr_t)(in + 1));
		}
		key = mac_key(&eh->dst_addr);
		if (rte_is_unicast_ether_addr(&eh->dst_addr) &&
		    rte_hash_lookup_data(macs, &key, (void **)&data) >= 0)
			out = (int)data - 1;
		if (out == (int)in)
			continue;       /* both ends behind one port: filter */
		for (unsigned int o = 0; o < nports; o++) {
			if (o == in || (out >= 0 && (unsigned int)out != o))
				continue;
			q[o].pkts[q[o].n++] = pkts[k];
		}
	}
	for (unsigned int o = 0; o < nports; o++)
		flush(o, &q[o], devs[o]);
	rte_pktmbuf_free_bulk(pkts, n);
}

static int
poller(void *arg)
{
	(void)arg;
	atomic_store(&poller_running, true);
	while (!quit) {
		struct vhu_dev *devs[MAX_PORTS];

		for (unsigned int i = 0; i < nports; i++)
			devs[i] = atomic_load_explicit(&ports[i].dev,
						       memory_order_acquire);
		for (unsigned int i = 0; i < nports; i++) {
			struct rte_mbuf *pkts[BURST];
			uint16_t n;

			if (devs[i] == NULL)
				continue;
			n = vhu_dequeue_burst(devs[i], 0, pool, pkts, BURST);
			if (n == 0)
				continue;
			atomic_fetch_add_explicit(&ports[i].rx, n,
						  memory_order_relaxed);
			switch_burst(i, pkts, n, devs);
		}
		atomic_fetch_add_explicit(&poll_epoch, 1, memory_order_release);
	}
	atomic_store(&poller_running, false);
	return 0;
}

static void
print_stats(double secs)
{
	printf("vswitch:");
	for (unsigned int i = 0; i < nports; i++) {
		struct port *p = &ports[i];
		uint64_t rx = atomic_load(&p->rx), tx = atomic_load(&p->tx);
		uint64_t dr = atomic_load(&p->drops);

		printf(" | p%u rx %.2f Mpps tx %.2f Mpps drops %" PRIu64 "/s",
		       i, (rx - p->last_rx) / secs / 1e6,
		       (tx - p->last_tx) / secs / 1e6,
		       (uint64_t)((dr - p->last_drops) / secs));
		p->last_rx = rx;
		p->last_tx = tx;
		p->last_drops = dr;
	}
	printf("\n");
	fflush(stdout);
}

static void
usage(const char *prog)
{
	printf("Usage: %s [EAL options] -- --socket PATH [--socket PATH ...]\n"
	       "          [--client] [--duration SEC]\n"
	       "  --socket PATH   a vhost-user port (repeat for each port, 2..%d)\n"
	       "  --client        connect to the paths (frontends listen)\n"
	       "  --duration SEC  stop after SEC seconds and print a summary\n"
	       "The switch learns source MACs; known unicast goes to its port,\n"
	       "everything else is flooded. Needs 2 lcores (one polls).\n",
	       prog, MAX_PORTS);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "client", no_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct rte_hash_parameters hp = {
		.name = "vswitch_macs",
		.entries = MAC_TABLE_SIZE,
		.key_len = sizeof(uint64_t),
		.hash_func = rte_hash_crc,
		.socket_id = SOCKET_ID_ANY,
		/* the poller writes, the printer never reads it: no lock */
	};
	uint32_t flags = 0;
	unsigned int duration = 0, worker, elapsed = 0;
	uint64_t total_rx = 0, total_tx = 0, total_drops = 0;
	int ret, opt;

	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "vswitch: EAL init failed\n");
		return 1;
	}
	argc -= ret;
	argv += ret;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (nports == MAX_PORTS ||
			    strlen(optarg) >= sizeof(ports[0].path)) {
				fprintf(stderr, "vswitch: too many ports or path too long\n");
				return 1;
			}
			strcpy(ports[nports++].path, optarg);
			break;
		case 'c':
			flags |= VHU_SOCKET_CLIENT;
			break;
		case 'd':
			duration = (unsigned int)atoi(optarg);
			break;
		case 'h':
			usage(argv[0]);
			return 0;
		default:
			usage(argv[0]);
			return 1;
		}
	}
	worker = rte_get_next_lcore(-1, 1, 0);
	if (nports < 2 || worker >= RTE_MAX_LCORE) {
		usage(argv[0]);
		fprintf(stderr, "vswitch: need at least 2 --socket and 2 lcores\n");
		return 1;
	}
	pool = rte_pktmbuf_pool_create("vswitch_pool", POOL_SIZE, 256, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE,
				       rte_socket_id());
	macs = rte_hash_create(&hp);
	if (pool == NULL || macs == NULL) {
		fprintf(stderr, "vswitch: cannot allocate pool or MAC table\n");
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (vhu_init(VHU_INIT_CONTROL_THREAD) < 0) {
		fprintf(stderr, "vswitch: vhu_init failed\n");
		return 1;
	}
	for (unsigned int i = 0; i < nports; i++) {
		struct vhu_socket_params p = {
			.path = ports[i].path, .flags = flags, .ops = &ops,
			.ctx = &ports[i], .max_queue_pairs = 1,
		};

		ports[i].sock = vhu_socket_register(&p);
		if (ports[i].sock == NULL ||
		    vhu_socket_start(ports[i].sock) < 0) {
			fprintf(stderr, "vswitch: cannot serve %s\n", p.path);
			vhu_fini();
			return 1;
		}
	}
	printf("vswitch: %u ports, polling on lcore %u\n", nports, worker);
	rte_eal_remote_launch(poller, NULL, worker);
	while (!quit && (duration == 0 || elapsed < duration)) {
		sleep(1);
		elapsed++;
		print_stats(1.0);
	}
	quit = 1;
	rte_eal_mp_wait_lcore();
	for (unsigned int i = 0; i < nports; i++)
		vhu_socket_unregister(ports[i].sock);
	vhu_fini();

	printf("vswitch: summary after %u s:\n", elapsed);
	for (unsigned int i = 0; i < nports; i++) {
		uint64_t rx = atomic_load(&ports[i].rx);
		uint64_t tx = atomic_load(&ports[i].tx);
		uint64_t dr = atomic_load(&ports[i].drops);

		printf("  port %u %s: rx %" PRIu64 " frames, tx %" PRIu64
		       " frames, drops %" PRIu64 "\n", i, ports[i].path, rx,
		       tx, dr);
		total_rx += rx;
		total_tx += tx;
		total_drops += dr;
	}
	printf("  total: rx %" PRIu64 ", tx %" PRIu64 ", drops %" PRIu64
	       ", %.2f Mpps switched\n", total_rx, total_tx, total_drops,
	       elapsed ? total_tx / (double)elapsed / 1e6 : 0.0);
	rte_hash_free(macs);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return 0;
}
