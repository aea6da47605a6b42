/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhu-e2e-peer: the guest side of the end-to-end tests. It drives one
 * ethdev port (in practice DPDK's net_virtio_user, connected to the
 * backend under test over a vhost-user socket), sends numbered frames on
 * every queue, expects the backend to echo each frame back on the queue it
 * was sent on, and verifies every echo: magic, queue, length, a checksum
 * over the payload, the payload pattern itself, and per-queue sequence
 * order with no frame missing or duplicated. It owns the frame format,
 * pacing (a rate limit plus a per-queue in-flight window so a correct
 * backend never has to drop), and the PASS/FAIL verdict (exit status 0 only
 * if every frame of every queue came back verified).
 *
 * Single-threaded on the main lcore: one loop round-robins over the queues,
 * transmitting then receiving, so no state is shared between threads.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#define PEER_MAGIC 0x45554856u /* "VHUE" in memory order on little endian */
#define PEER_ETHERTYPE 0x88b5 /* IEEE 802 local experimental */
#define PEER_MAX_QUEUES 16
#define PEER_MAX_SIZES 32
#define PEER_BURST 32
#define PEER_RING_SIZE 256
/* Largest frame the virtio PMD accepts (its max_rx_pktlen); checked again
 * against dev_info at run time. */
#define PEER_MAX_FRAME 9728u

/* What follows the Ethernet header in every frame. Host byte order: both
 * ends are this program. */
struct peer_hdr {
	uint32_t magic;
	uint16_t queue;
	uint16_t cksum; /* rte_raw_cksum() of everything after this header */
	uint32_t seq;
	uint32_t len; /* whole frame, Ethernet header included */
} __rte_packed;

#define PEER_HDRS_LEN (sizeof(struct rte_ether_hdr) + sizeof(struct peer_hdr))

struct peer_queue {
	uint32_t tx_next;  /* next sequence number to build */
	uint32_t rx_hi;    /* highest valid sequence received, plus one */
	uint32_t rx_next;  /* sequence expected next, for the order check */
	uint64_t ok;       /* unique frames verified */
	uint64_t rx_total; /* every mbuf chain received on this queue */
	uint64_t dup;
	uint64_t reordered;
	uint64_t bad_magic;
	uint64_t bad_queue;
	uint64_t bad_seq; /* sequence never sent */
	uint64_t bad_len;
	uint64_t bad_cksum;
	uint64_t bad_payload;
	uint64_t bad_chain; /* segment lengths do not add up */
	uint64_t tx_bytes;
	uint64_t rx_bytes;
	uint64_t alloc_fail; /* tx frames that could not be built (yet) */
	uint16_t n_pending; /* built but not yet accepted by tx_burst */
	struct rte_mbuf *pending[PEER_BURST];
	uint8_t *seen; /* bitmap over sequence numbers */
};

struct peer_cfg {
	uint32_t frames;     /* per queue */
	uint16_t queues;
	uint64_t rate;       /* frames per second, all queues; 0: unpaced */
	uint32_t window;     /* max frames in flight per queue */
	unsigned int timeout; /* seconds */
	unsigned int idle;   /* seconds without rx before giving up */
	uint32_t rx_room;    /* data room of rx mbufs (headroom excluded) */
	bool rx_room_set;    /* given on the command line */
	bool range;          /* sizes[0]..sizes[1] instead of a list */
	uint32_t sizes[PEER_MAX_SIZES];
	unsigned int n_sizes;
	uint16_t port;
	bool verbose;
};

static volatile sig_atomic_t peer_stop;
static struct peer_cfg cfg = {
	.frames = 100000,
	.queues = 1,
	.rate = 0,
	.window = 32,
	.timeout = 60,
	.idle = 5,
	.rx_room = RTE_MBUF_DEFAULT_DATAROOM,
	.sizes = { 60, 128, 1514, 9000 },
	.n_sizes = 4,
};
static struct peer_queue queues[PEER_MAX_QUEUES];
/* One frame's worth of bytes, for building and for linearising chains. */
static uint8_t build_buf[PEER_MAX_FRAME];
static uint8_t read_buf[PEER_MAX_FRAME];
static uint8_t want_buf[PEER_MAX_FRAME];

static void
peer_signal(int sig)
{
	(void)sig;
	peer_stop = 1;
}

/* A 64-bit mixer (splitmix64 finaliser constants): cheap, well spread. */
static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static uint32_t
frame_len(uint16_t q, uint32_t seq)
{
	if (cfg.range) {
		uint32_t span = cfg.sizes[1] - cfg.sizes[0] + 1;

		return cfg.sizes[0] +
		       (uint32_t)(mix64(((uint64_t)q << 32) | seq) % span);
	}
	return cfg.sizes[(seq + q) % cfg.n_sizes];
}

/* Payload bytes after the headers: a word pattern seeded by (q, seq), so a
 * frame from another slot, a shifted copy or stale bytes all mismatch. */
static void
fill_payload(uint8_t *p, uint32_t n, uint16_t q, uint32_t seq)
{
	uint64_t w = mix64(((uint64_t)q << 48) ^ ((uint64_t)seq << 8) ^ 0x5a);
	uint32_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(p + i, &w, 8);
		w += 0x9e3779b97f4a7c15ull;
	}
	for (; i < n; i++)
		p[i] = (uint8_t)(w >> ((i & 7) * 8));
}

static void
build_frame_bytes(uint8_t *b, uint16_t q, uint32_t seq, uint32_t len)
{
	struct rte_ether_hdr eth;
	struct peer_hdr h;
	uint32_t plen = len - (uint32_t)PEER_HDRS_LEN;

	memset(&eth, 0, sizeof(eth));
	/* Locally administered unicast addresses. */
	eth.dst_addr.addr_bytes[0] = 0x02;
	eth.dst_addr.addr_bytes[5] = 0x01;
	eth.src_addr.addr_bytes[0] = 0x02;
	eth.src_addr.addr_bytes[5] = 0x02;
	eth.ether_type = rte_cpu_to_be_16(PEER_ETHERTYPE);
	fill_payload(b + PEER_HDRS_LEN, plen, q, seq);
	h.magic = PEER_MAGIC;
	h.queue = q;
	h.cksum = rte_raw_cksum(b + PEER_HDRS_LEN, plen);
	h.seq = seq;
	h.len = len;
	memcpy(b, &eth, sizeof(eth));
	memcpy(b + sizeof(eth), &h, sizeof(h));
}

/* Build frame (q, seq) as an mbuf chain from mp: every segment filled to
 * its tailroom, so frames above one data room become multi-segment. */
static struct rte_mbuf *
build_frame(struct rte_mempool *mp, uint16_t q, uint32_t seq)
{
	uint32_t len = frame_len(q, seq);
	struct rte_mbuf *head = NULL, *last = NULL;
	uint32_t off = 0;

	build_frame_bytes(build_buf, q, seq, len);
	while (off < len) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
		uint32_t chunk;

		if (m == NULL) {
			rte_pktmbuf_free(head);
			return NULL;
		}
		chunk = RTE_MIN(len - off, (uint32_t)rte_pktmbuf_tailroom(m));
		memcpy(rte_pktmbuf_mtod(m, uint8_t *), build_buf + off, chunk);
		m->data_len = (uint16_t)chunk;
		off += chunk;
		if (head == NULL) {
			head = m;
			head->pkt_len = 0;
		} else {
			last->next = m;
			head->nb_segs++;
		}
		head->pkt_len += chunk;
		last = m;
	}
	return head;
}

static void
check_frame(struct peer_queue *pq, uint16_t rxq, struct rte_mbuf *m)
{
	const struct rte_mbuf *s;
	struct peer_hdr h;
	const uint8_t *b;
	uint32_t sum = 0, len = m->pkt_len, plen;

	pq->rx_total++;
	pq->rx_bytes += len;
	for (s = m; s != NULL; s = s->next)
		sum += s->data_len;
	if (sum != len) {
		pq->bad_chain++;
		return;
	}
	if (len < PEER_HDRS_LEN || len > PEER_MAX_FRAME) {
		pq->bad_len++;
		return;
	}
	b = rte_pktmbuf_read(m, 0, len, read_buf);
	if (b == NULL) {
		pq->bad_chain++;
		return;
	}
	memcpy(&h, b + sizeof(struct rte_ether_hdr), sizeof(h));
	if (h.magic != PEER_MAGIC) {
		pq->bad_magic++;
		return;
	}
	if (h.queue != rxq) {
		pq->bad_queue++;
		return;
	}
	if (h.seq >= pq->tx_next) {
		pq->bad_seq++;
		return;
	}
	if (h.len != len || frame_len(rxq, h.seq) != len) {
		pq->bad_len++;
		if (cfg.verbose)
			printf("q%u seq %u: length %u, header says %u, expected %u\n",
			       rxq, h.seq, len, h.len, frame_len(rxq, h.seq));
		return;
	}
	plen = len - (uint32_t)PEER_HDRS_LEN;
	if (rte_raw_cksum(b + PEER_HDRS_LEN, plen) != h.cksum) {
		pq->bad_cksum++;
		return;
	}
	fill_payload(want_buf, plen, rxq, h.seq);
	if (memcmp(want_buf, b + PEER_HDRS_LEN, plen) != 0) {
		pq->bad_payload++;
		return;
	}
	if (pq->seen[h.seq / 8] & (1u << (h.seq % 8))) {
		pq->dup++;
		return;
	}
	pq->seen[h.seq / 8] |= (uint8_t)(1u << (h.seq % 8));
	if (h.seq != pq->rx_next) {
		pq->reordered++;
		if (cfg.verbose)
			printf("q%u: got seq %u, expected %u\n", rxq, h.seq,
			       pq->rx_next);
	}
	pq->rx_next = h.seq + 1;
	if (h.seq + 1 > pq->rx_hi)
		pq->rx_hi = h.seq + 1;
	pq->ok++;
}

static int
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
parse_sizes(const char *arg)
{
	char buf[256];
	char *tok, *save, *dash;
	uint64_t v;

	if (strlen(arg) >= sizeof(buf))
		return -1;
	strcpy(buf, arg);
	dash = strchr(buf, '-');
	if (dash != NULL) {
		uint64_t lo, hi;

		*dash = '\0';
		if (parse_u64(buf, PEER_HDRS_LEN, PEER_MAX_FRAME, &lo) < 0 ||
		    parse_u64(dash + 1, lo, PEER_MAX_FRAME, &hi) < 0)
			return -1;
		cfg.range = true;
		cfg.sizes[0] = (uint32_t)lo;
		cfg.sizes[1] = (uint32_t)hi;
		cfg.n_sizes = 2;
		return 0;
	}
	cfg.range = false;
	cfg.n_sizes = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (cfg.n_sizes == PEER_MAX_SIZES ||
		    parse_u64(tok, PEER_HDRS_LEN, PEER_MAX_FRAME, &v) < 0)
			return -1;
		cfg.sizes[cfg.n_sizes++] = (uint32_t)v;
	}
	return cfg.n_sizes > 0 ? 0 : -1;
}

static void
usage(const char *prog)
{
	printf("usage: %s [EAL options] -- [options]\n"
	       "  --frames N     frames per queue (default 100000)\n"
	       "  --sizes LIST   comma-separated frame sizes, or MIN-MAX for\n"
	       "                 pseudo-random sizes (default 60,128,1514,9000)\n"
	       "  --queues Q     queue pairs to use (default 1)\n"
	       "  --rate PPS     total frames per second, 0 = unpaced (default 0)\n"
	       "  --window W     frames in flight per queue (default 32)\n"
	       "  --timeout S    give up after S seconds (default 60)\n"
	       "  --idle S       give up when nothing arrived for S seconds\n"
	       "                 while frames are outstanding (default 5)\n"
	       "  --rx-room B    rx mbuf data room in bytes (default 2048, or\n"
	       "                 the largest frame when the port cannot\n"
	       "                 scatter, e.g. virtio without mrg_rxbuf)\n"
	       "  --port P       ethdev port (default: the first)\n"
	       "  --verbose      report each bad frame\n"
	       "Frame sizes count the Ethernet header, not the CRC; min %zu,\n"
	       "max %u.\n",
	       prog, PEER_HDRS_LEN, PEER_MAX_FRAME);
}

static int
parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "frames", required_argument, NULL, 'f' },
		{ "sizes", required_argument, NULL, 's' },
		{ "queues", required_argument, NULL, 'q' },
		{ "rate", required_argument, NULL, 'r' },
		{ "window", required_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "idle", required_argument, NULL, 'i' },
		{ "rx-room", required_argument, NULL, 'R' },
		{ "port", required_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	cfg.port = UINT16_MAX;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (parse_u64(optarg, 1, UINT32_MAX / 2, &v) < 0)
				goto bad;
			cfg.frames = (uint32_t)v;
			break;
		case 's':
			if (parse_sizes(optarg) < 0)
				goto bad;
			break;
		case 'q':
			if (parse_u64(optarg, 1, PEER_MAX_QUEUES, &v) < 0)
				goto bad;
			cfg.queues = (uint16_t)v;
			break;
		case 'r':
			if (parse_u64(optarg, 0, UINT32_MAX, &v) < 0)
				goto bad;
			cfg.rate = v;
			break;
		case 'w':
			if (parse_u64(optarg, 1, 4096, &v) < 0)
				goto bad;
			cfg.window = (uint32_t)v;
			break;
		case 't':
			if (parse_u64(optarg, 1, 86400, &v) < 0)
				goto bad;
			cfg.timeout = (unsigned int)v;
			break;
		case 'i':
			if (parse_u64(optarg, 1, 3600, &v) < 0)
				goto bad;
			cfg.idle = (unsigned int)v;
			break;
		case 'R':
			if (parse_u64(optarg, 256, 65535 - RTE_PKTMBUF_HEADROOM,
				      &v) < 0)
				goto bad;
			cfg.rx_room = (uint32_t)v;
			cfg.rx_room_set = true;
			break;
		case 'p':
			if (parse_u64(optarg, 0, RTE_MAX_ETHPORTS - 1, &v) < 0)
				goto bad;
			cfg.port = (uint16_t)v;
			break;
		case 'v':
			cfg.verbose = true;
			break;
		case 'h':
			usage(argv[0]);
			exit(0);
		default:
			goto bad;
		}
	}
	if (optind != argc)
		goto bad;
	return 0;
bad:
	usage(argv[0]);
	return -1;
}

static uint32_t
max_frame(void)
{
	uint32_t m = 0;
	unsigned int i;

	if (cfg.range)
		return cfg.sizes[1];
	for (i = 0; i < cfg.n_sizes; i++)
		m = RTE_MAX(m, cfg.sizes[i]);
	return m;
}

static uint32_t
min_frame(void)
{
	uint32_t m = UINT32_MAX;
	unsigned int i;

	if (cfg.range)
		return cfg.sizes[0];
	for (i = 0; i < cfg.n_sizes; i++)
		m = RTE_MIN(m, cfg.sizes[i]);
	return m;
}

static int
port_setup(struct rte_mempool *rx_mp)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	struct rte_eth_link link;
	uint32_t maxf = max_frame();
	uint64_t deadline;
	uint16_t q;
	int ret;

	ret = rte_eth_dev_info_get(cfg.port, &info);
	if (ret < 0) {
		printf("port %u: dev_info: %s\n", cfg.port, strerror(-ret));
		return ret;
	}
	if (info.max_rx_queues < cfg.queues || info.max_tx_queues < cfg.queues) {
		printf("port %u (%s) has %u rx / %u tx queues, %u wanted: "
		       "is queues=%u in the --vdev string?\n",
		       cfg.port, info.driver_name, info.max_rx_queues,
		       info.max_tx_queues, cfg.queues, cfg.queues);
		return -EINVAL;
	}
	if (maxf > info.max_rx_pktlen) {
		printf("port %u: largest frame %u above max_rx_pktlen %u\n",
		       cfg.port, maxf, info.max_rx_pktlen);
		return -EINVAL;
	}
	memset(&conf, 0, sizeof(conf));
	if (maxf > RTE_MBUF_DEFAULT_DATAROOM) {
		if (!(info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)) {
			printf("port %u: no multi-segment tx\n", cfg.port);
			return -ENOTSUP;
		}
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	}
	if (maxf > cfg.rx_room) {
		if (!(info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER)) {
			printf("port %u: no rx scatter\n", cfg.port);
			return -ENOTSUP;
		}
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
	}
	/* The MTU counts neither the Ethernet header nor a CRC. */
	if (maxf > RTE_ETHER_MAX_LEN - RTE_ETHER_CRC_LEN)
		conf.rxmode.mtu = maxf - RTE_ETHER_HDR_LEN;
	ret = rte_eth_dev_configure(cfg.port, cfg.queues, cfg.queues, &conf);
	if (ret < 0) {
		printf("port %u: configure: %s\n", cfg.port, strerror(-ret));
		return ret;
	}
	for (q = 0; q < cfg.queues; q++) {
		struct rte_eth_txconf txc = info.default_txconf;

		txc.offloads = conf.txmode.offloads;
		ret = rte_eth_rx_queue_setup(cfg.port, q, PEER_RING_SIZE,
					     rte_eth_dev_socket_id(cfg.port),
					     NULL, rx_mp);
		if (ret < 0) {
			printf("port %u: rx queue %u: %s\n", cfg.port, q,
			       strerror(-ret));
			return ret;
		}
		ret = rte_eth_tx_queue_setup(cfg.port, q, PEER_RING_SIZE,
					     rte_eth_dev_socket_id(cfg.port),
					     &txc);
		if (ret < 0) {
			printf("port %u: tx queue %u: %s\n", cfg.port, q,
			       strerror(-ret));
			return ret;
		}
	}
	if (conf.rxmode.mtu != 0) {
		ret = rte_eth_dev_set_mtu(cfg.port, (uint16_t)conf.rxmode.mtu);
		if (ret < 0) {
			printf("port %u: set mtu %u: %s\n", cfg.port,
			       conf.rxmode.mtu, strerror(-ret));
			return ret;
		}
	}
	ret = rte_eth_dev_start(cfg.port);
	if (ret < 0) {
		printf("port %u: start: %s\n", cfg.port, strerror(-ret));
		return ret;
	}
	/* Not every PMD implements promiscuous mode; frames are unicast to
	 * our own choice of address, so failure here is not fatal. */
	(void)rte_eth_promiscuous_enable(cfg.port);
	deadline = rte_get_timer_cycles() + 10 * rte_get_timer_hz();
	do {
		memset(&link, 0, sizeof(link));
		if (rte_eth_link_get_nowait(cfg.port, &link) == 0 &&
		    link.link_status == RTE_ETH_LINK_UP)
			return 0;
		rte_delay_ms(10);
	} while (!peer_stop && rte_get_timer_cycles() < deadline);
	printf("port %u: link still down after 10 s\n", cfg.port);
	return -ETIMEDOUT;
}

static bool
queue_errors(const struct peer_queue *pq)
{
	return pq->dup || pq->reordered || pq->bad_magic || pq->bad_queue ||
	       pq->bad_seq || pq->bad_len || pq->bad_cksum ||
	       pq->bad_payload || pq->bad_chain;
}

/* Returns how many frames tx_burst accepted. */
static uint16_t
tx_queue(struct rte_mempool *tx_mp, uint16_t q, uint64_t allowed)
{
	struct peer_queue *pq = &queues[q];
	uint16_t sent;

	/* Build more only when nothing is waiting, so a frame's sequence
	 * number is also its position in the tx order. */
	while (pq->n_pending < PEER_BURST && pq->tx_next < cfg.frames &&
	       pq->tx_next < allowed &&
	       pq->tx_next - pq->rx_hi < cfg.window) {
		struct rte_mbuf *m = build_frame(tx_mp, q, pq->tx_next);

		if (m == NULL) {
			pq->alloc_fail++;
			break;
		}
		pq->tx_bytes += m->pkt_len;
		pq->pending[pq->n_pending++] = m;
		pq->tx_next++;
	}
	if (pq->n_pending == 0)
		return 0;
	sent = rte_eth_tx_burst(cfg.port, q, pq->pending, pq->n_pending);
	if (sent > 0 && sent < pq->n_pending)
		memmove(pq->pending, pq->pending + sent,
			(pq->n_pending - sent) * sizeof(pq->pending[0]));
	pq->n_pending -= sent;
	return sent;
}

static uint64_t
rx_queue(uint16_t q)
{
	struct rte_mbuf *pkts[PEER_BURST];
	uint16_t n, i;

	n = rte_eth_rx_burst(cfg.port, q, pkts, PEER_BURST);
	for (i = 0; i < n; i++) {
		check_frame(&queues[q], q, pkts[i]);
		rte_pktmbuf_free(pkts[i]);
	}
	return n;
}

static void
report(double secs)
{
	uint64_t ok = 0, rx = 0, bytes = 0;
	bool pass = true;
	uint16_t q;

	for (q = 0; q < cfg.queues; q++) {
		const struct peer_queue *pq = &queues[q];
		uint64_t missing = (uint64_t)cfg.frames - pq->ok;

		printf("queue %u: sent %u ok %" PRIu64 " missing %" PRIu64
		       " dup %" PRIu64 " reordered %" PRIu64
		       " bad: magic %" PRIu64 " queue %" PRIu64
		       " seq %" PRIu64 " len %" PRIu64 " cksum %" PRIu64
		       " payload %" PRIu64 " chain %" PRIu64
		       " (tx alloc failures %" PRIu64 ")\n",
		       q, pq->tx_next - pq->n_pending, pq->ok, missing,
		       pq->dup, pq->reordered, pq->bad_magic, pq->bad_queue,
		       pq->bad_seq, pq->bad_len, pq->bad_cksum,
		       pq->bad_payload, pq->bad_chain, pq->alloc_fail);
		if (missing != 0 || queue_errors(pq))
			pass = false;
		ok += pq->ok;
		rx += pq->rx_total;
		bytes += pq->rx_bytes;
	}
	if (secs <= 0)
		secs = 1e-9;
	printf("peer: %u queue(s) x %u frames: %" PRIu64 " verified of %"
	       PRIu64 " received in %.2f s (%.0f pps, %.3f Gbit/s)\n",
	       cfg.queues, cfg.frames, ok, rx, secs, (double)rx / secs,
	       (double)bytes * 8 / secs / 1e9);
	printf("PEER RESULT: %s\n", pass ? "PASS" : "FAIL");
}

static int
run(struct rte_mempool *tx_mp)
{
	const uint64_t hz = rte_get_timer_hz();
	const uint64_t start = rte_get_timer_cycles();
	const uint64_t deadline = start + (uint64_t)cfg.timeout * hz;
	uint64_t last_rx = start, last_tx = start, now = start;
	bool done = false, all_sent = false, outstanding;
	uint16_t q;

	while (!peer_stop && !done) {
		uint64_t allowed = UINT64_MAX;

		now = rte_get_timer_cycles();
		if (cfg.rate != 0) {
			/* Total frames allowed so far, shared evenly between
			 * the queues; a small head start fills the pipes. */
			double el = (double)(now - start) / (double)hz;

			allowed = (uint64_t)(el * (double)cfg.rate / cfg.queues) +
				  PEER_BURST;
		}
		for (q = 0; q < cfg.queues; q++) {
			if (tx_queue(tx_mp, q, allowed) != 0)
				last_tx = now;
			if (rx_queue(q) != 0)
				last_rx = now;
		}
		done = true;
		all_sent = true;
		outstanding = false;
		for (q = 0; q < cfg.queues; q++) {
			if (queues[q].tx_next > queues[q].rx_hi)
				outstanding = true;
			if (queues[q].ok != cfg.frames)
				done = false;
			if (queues[q].tx_next != cfg.frames ||
			    queues[q].n_pending != 0)
				all_sent = false;
		}
		if (now > deadline) {
			printf("peer: timeout after %u s\n", cfg.timeout);
			break;
		}
		/* Frames outstanding and none arriving (a stalled window or
		 * lost tail frames), or no progress at all (e.g. tx rings
		 * never drained): waiting longer will not help. */
		if (!done && outstanding && now - last_rx > cfg.idle * hz) {
			printf("peer: nothing received for %u s with frames "
			       "outstanding%s\n", cfg.idle,
			       all_sent ? " (all sent)" : "");
			break;
		}
		if (!done && now - RTE_MAX(last_rx, last_tx) > cfg.idle * hz) {
			printf("peer: no frame sent or received for %u s\n",
			       cfg.idle);
			break;
		}
	}
	if (peer_stop)
		printf("peer: interrupted\n");
	report((double)(now - start) / (double)hz);
	for (q = 0; q < cfg.queues; q++) {
		if (queues[q].ok != cfg.frames || queue_errors(&queues[q]))
			return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct rte_mempool *tx_mp, *rx_mp;
	uint32_t n_tx, n_rx, segs;
	uint16_t q;
	int ret, rc = 1;

	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "peer: EAL init failed: %s\n",
			rte_strerror(rte_errno));
		return 1;
	}
	argc -= ret;
	argv += ret;
	argv[0] = argv[-ret];
	if (parse_args(argc, argv) < 0)
		goto out_eal;
	signal(SIGINT, peer_signal);
	signal(SIGTERM, peer_signal);
	/* virtio_user writes to the vhost-user socket without MSG_NOSIGNAL:
	 * a backend that goes away must be reported, not kill us. */
	signal(SIGPIPE, SIG_IGN);

	if (cfg.port == UINT16_MAX) {
		cfg.port = (uint16_t)rte_eth_find_next_owned_by(0,
						RTE_ETH_DEV_NO_OWNER);
		if (cfg.port >= RTE_MAX_ETHPORTS) {
			fprintf(stderr, "peer: no ethdev port (missing --vdev "
				"net_virtio_user0,path=...?)\n");
			goto out_eal;
		}
	} else if (!rte_eth_dev_is_valid_port(cfg.port)) {
		fprintf(stderr, "peer: no port %u\n", cfg.port);
		goto out_eal;
	}
	if (!cfg.rx_room_set && max_frame() > cfg.rx_room) {
		struct rte_eth_dev_info info;

		/* virtio only scatters rx frames with MRG_RXBUF; without it a
		 * frame must fit one buffer (its header sits in headroom). */
		if (rte_eth_dev_info_get(cfg.port, &info) == 0 &&
		    !(info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER)) {
			cfg.rx_room = RTE_ALIGN_CEIL(max_frame(), 64);
			printf("peer: port %u cannot scatter rx frames; rx "
			       "buffers of %u bytes\n", cfg.port, cfg.rx_room);
		}
	}
	for (q = 0; q < cfg.queues; q++) {
		queues[q].seen = calloc(cfg.frames / 8 + 1, 1);
		if (queues[q].seen == NULL) {
			fprintf(stderr, "peer: out of memory\n");
			goto out_queues;
		}
	}

	/* Tx: virtio frees transmitted mbufs lazily, so a full tx ring of
	 * the largest chains (indirect descriptors: one ring slot per chain)
	 * plus the frames being built. Rx: the rx rings plus a burst per
	 * queue being checked, in segments of rx_room. */
	segs = (max_frame() + RTE_MBUF_DEFAULT_DATAROOM - 1) /
	       RTE_MBUF_DEFAULT_DATAROOM;
	n_tx = cfg.queues * (PEER_RING_SIZE + PEER_BURST) * segs + 1024;
	n_rx = cfg.queues * (PEER_RING_SIZE + PEER_BURST *
			     ((max_frame() + cfg.rx_room - 1) / cfg.rx_room)) +
	       1024;
	tx_mp = rte_pktmbuf_pool_create("peer_tx", n_tx, 256, 0,
					RTE_MBUF_DEFAULT_BUF_SIZE,
					(int)rte_socket_id());
	rx_mp = rte_pktmbuf_pool_create("peer_rx", n_rx, 256, 0,
					(uint16_t)(cfg.rx_room +
						   RTE_PKTMBUF_HEADROOM),
					(int)rte_socket_id());
	if (tx_mp == NULL || rx_mp == NULL) {
		fprintf(stderr, "peer: mbuf pools (%u + %u mbufs): %s\n", n_tx,
			n_rx, rte_strerror(rte_errno));
		goto out_queues;
	}
	if (port_setup(rx_mp) < 0)
		goto out_port;
	printf("peer: port %u up, %u queue(s), %u frames each, sizes %s "
	       "%u..%u, rate %" PRIu64 " pps, window %u\n",
	       cfg.port, cfg.queues, cfg.frames,
	       cfg.range ? "random in" : "cycling over", min_frame(),
	       max_frame(), cfg.rate, cfg.window);
	fflush(stdout);
	rc = run(tx_mp) == 0 ? 0 : 1;
	for (q = 0; q < cfg.queues; q++) {
		rte_pktmbuf_free_bulk(queues[q].pending, queues[q].n_pending);
		queues[q].n_pending = 0;
	}
	rte_eth_dev_stop(cfg.port);
out_port:
	rte_eth_dev_close(cfg.port);
out_queues:
	for (q = 0; q < cfg.queues; q++)
		free(queues[q].seen);
out_eal:
	fflush(stdout);
	rte_eal_cleanup();
	return rc;
}
