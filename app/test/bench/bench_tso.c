/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhu-bench-tso: TCP segmentation offload traffic for devtools/bench.sh
 * --tso. One ethdev port, one queue pair, the ethdev API only, so the same
 * binary runs over net_vhu, net_vhost and net_virtio_user.
 *
 *   --tx  sends TCP/IPv4 GSO frames: --segs x --mss payload bytes (default
 *         45 x 1448 = 65160, the frame a Linux guest's bulk TCP sends; a
 *         65226-byte frame with its 32-byte TCP header, timestamps
 *         included) with RTE_MBUF_F_TX_TCP_SEG, tso_segsz, l2/l3/l4_len
 *         and the pseudo-header checksum DPDK asks for, then prepared once
 *         by rte_eth_tx_prepare(). Every mbuf of a pool with a 64 KiB data
 *         room (--templates of them, default 2048: more than a ring holds)
 *         is written once at start (IPv4 id its index, payload a pattern
 *         of it) and freed; a send allocates mbufs from that pool and sets
 *         their lengths and offload fields again, the frame bytes being
 *         still there. So a frame costs the generator an allocation and a
 *         few stores, as testpmd's txonly, the backend gets direct mbufs
 *         with refcnt 1, as from a NIC, and the pool has room for what a
 *         backend allocates from the packet's own pool (libvhu's software
 *         segments). --shared sends references to --templates frames
 *         instead (refcnt + 1 per send; a switch flooding one frame to
 *         several ports does this). Frames a full ring refuses are
 *         offered again, never dropped.
 *   --rx  receives and counts frames, bytes, TCP payload bytes (frame
 *         minus its parsed headers), frames carrying a segmentation flag
 *         (RTE_MBUF_F_RX_LRO or RTE_MBUF_F_TX_TCP_SEG) and their
 *         tso_segsz, segments per frame. --check verifies every frame too
 *         (headers, payload pattern, IPv4 header checksum) and sorts its
 *         TCP checksum field: complete, pseudo-header sum with the length
 *         (virtio's partial checksum), without it (DPDK's TSO request), or
 *         neither. It reads every byte: for checking, not measuring.
 *
 * Offloads: the port is configured with those of TCP_TSO | TCP_CKSUM (tx)
 * and TCP_LRO | TCP_CKSUM | SCATTER (rx) that it advertises, which makes
 * net_virtio_user negotiate HOST_TSO4/6 + CSUM, GUEST_TSO4/6 + GUEST_CSUM,
 * and spares a vhost backend any software checksum of received frames. A
 * port that does not advertise TSO is still sent flagged frames (libvhu
 * reads the flags whatever the PMD's dev_info says); what was advertised
 * and enabled is printed.
 *
 * Output, stdout: "ready" once the port started; on SIGUSR1 a "mark" line
 * of cumulative counters with a CLOCK_MONOTONIC time (bench.sh sends one
 * at each end of its window); on SIGINT or SIGTERM a "total" line, then
 * exit. busy= counts TSC cycles of loop iterations that moved at least one
 * frame (as testpmd's --record-core-cycles does), so busy / frames is the
 * cost of a frame on this lcore, idle polls excluded (but not time the
 * thread was preempted in). cpu_ns= is the CPU time the thread got
 * (CLOCK_THREAD_CPUTIME_ID): on a machine shared with other jobs, frames
 * per CPU second are what survives preemption.
 *
 * Usage: vhu-bench-tso [EAL options] -- --tx|--rx [--port N] [--mss N]
 *        [--segs N] [--templates N] [--burst N] [--shared] [--check]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_tcp.h>

#define BURST_MAX 64
#define RING_SIZE 1024
#define RX_MBUFS 32768 /* as bench.sh's testpmd --total-num-mbufs */
#define TCP_HDR_LEN 32 /* 20 + NOP, NOP, timestamps: a Linux TCP header */
#define HDRS_LEN (RTE_ETHER_HDR_LEN + (int)sizeof(struct rte_ipv4_hdr) + \
		  TCP_HDR_LEN)
#define FRAME_MAX (UINT16_MAX - RTE_PKTMBUF_HEADROOM)

static volatile sig_atomic_t want_mark, want_stop;

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_mark = 1;
	else
		want_stop = 1;
}

struct opts {
	bool tx, rx, check, shared;
	uint16_t port;
	uint16_t mss;
	unsigned int segs;
	unsigned int templates;
	uint16_t burst;
};

/* Counters, cumulative; printed by mark and total lines. */
struct counters {
	uint64_t frames, bytes, payload, busy;
	uint64_t gso, segs, bad;           /* rx */
	uint32_t len_min, len_max;         /* rx */
	uint16_t segsz_min, segsz_max;     /* rx, of flagged frames */
	uint64_t refused;                  /* tx: offered again */
	/* --check, rx */
	uint64_t ck_ok, ck_bad, ck_full, ck_phdr_len, ck_phdr, ck_other;
};

static void
usage(void)
{
	fprintf(stderr,
		"usage: vhu-bench-tso [EAL options] -- --tx|--rx [--port N] [--mss N]\n"
		"       [--segs N] [--templates N] [--burst N] [--shared] [--check]\n");
	exit(2);
}

static unsigned long
num_arg(const char *name, const char *s, unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "vhu-bench-tso: --%s wants %lu..%lu\n", name,
			lo, hi);
		exit(2);
	}
	return v;
}

static void
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "tx", no_argument, NULL, 't' },
		{ "rx", no_argument, NULL, 'r' },
		{ "check", no_argument, NULL, 'c' },
		{ "shared", no_argument, NULL, 'S' },
		{ "port", required_argument, NULL, 'p' },
		{ "mss", required_argument, NULL, 'm' },
		{ "segs", required_argument, NULL, 's' },
		{ "templates", required_argument, NULL, 'n' },
		{ "burst", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){ .mss = 1448, .segs = 45, .templates = 2048,
			    .burst = 32 };
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 't': o->tx = true; break;
		case 'r': o->rx = true; break;
		case 'c': o->check = true; break;
		case 'S': o->shared = true; break;
		case 'p':
			o->port = (uint16_t)num_arg("port", optarg, 0,
						    RTE_MAX_ETHPORTS - 1);
			break;
		case 'm':
			o->mss = (uint16_t)num_arg("mss", optarg, 64, 9000);
			break;
		case 's':
			o->segs = (unsigned int)num_arg("segs", optarg, 1, 64);
			break;
		case 'n':
			o->templates = (unsigned int)num_arg("templates",
							     optarg, 1, 8192);
			break;
		case 'b':
			o->burst = (uint16_t)num_arg("burst", optarg, 1,
						     BURST_MAX);
			break;
		default: usage();
		}
	}
	if (o->tx == o->rx || optind != argc)
		usage();
	if (HDRS_LEN + (unsigned long)o->segs * o->mss > FRAME_MAX) {
		fprintf(stderr, "vhu-bench-tso: %u x %u payload bytes do not fit one mbuf (%d)\n",
			o->segs, o->mss, FRAME_MAX);
		exit(2);
	}
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time this thread got: what a loaded machine does not give it. */
static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
print_offloads(const char *what, uint64_t capa, uint64_t on, bool rx)
{
	printf("%s offloads advertised:", what);
	for (unsigned int b = 0; b < 64; b++) {
		uint64_t bit = UINT64_C(1) << b;

		if (capa & bit)
			printf(" %s%s", rx ? rte_eth_dev_rx_offload_name(bit) :
					     rte_eth_dev_tx_offload_name(bit),
			       on & bit ? "(on)" : "");
	}
	printf("\n");
}

static void
port_setup(const struct opts *o, struct rte_mempool *rx_pool)
{
	const uint64_t want_tx = RTE_ETH_TX_OFFLOAD_TCP_TSO |
				 RTE_ETH_TX_OFFLOAD_TCP_CKSUM |
				 RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	const uint64_t want_rx = RTE_ETH_RX_OFFLOAD_TCP_LRO |
				 RTE_ETH_RX_OFFLOAD_TCP_CKSUM |
				 RTE_ETH_RX_OFFLOAD_SCATTER;
	struct rte_eth_conf conf;
	struct rte_eth_dev_info di;
	int socket = rte_eth_dev_socket_id(o->port);
	int ret;

	if (!rte_eth_dev_is_valid_port(o->port))
		rte_exit(EXIT_FAILURE, "no port %u (give one with --vdev)\n",
			 o->port);
	ret = rte_eth_dev_info_get(o->port, &di);
	if (ret != 0)
		rte_exit(EXIT_FAILURE, "port %u: dev_info: %s\n", o->port,
			 strerror(-ret));
	memset(&conf, 0, sizeof(conf));
	conf.txmode.offloads = want_tx & di.tx_offload_capa;
	conf.rxmode.offloads = want_rx & di.rx_offload_capa;
	printf("port %u: driver %s\n", o->port, di.driver_name);
	print_offloads("tx", di.tx_offload_capa, conf.txmode.offloads, false);
	print_offloads("rx", di.rx_offload_capa, conf.rxmode.offloads, true);
	if (o->tx && !(conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_TCP_TSO))
		printf("note: port does not advertise TCP_TSO; frames are flagged for it anyway\n");
	ret = rte_eth_dev_configure(o->port, 1, 1, &conf);
	if (ret != 0)
		rte_exit(EXIT_FAILURE, "port %u: configure: %s\n", o->port,
			 strerror(-ret));
	ret = rte_eth_rx_queue_setup(o->port, 0, RING_SIZE, (unsigned int)socket,
				     NULL, rx_pool);
	if (ret != 0)
		rte_exit(EXIT_FAILURE, "port %u: rx queue: %s\n", o->port,
			 strerror(-ret));
	ret = rte_eth_tx_queue_setup(o->port, 0, RING_SIZE, (unsigned int)socket,
				     NULL);
	if (ret != 0)
		rte_exit(EXIT_FAILURE, "port %u: tx queue: %s\n", o->port,
			 strerror(-ret));
	ret = rte_eth_dev_start(o->port);
	if (ret != 0)
		rte_exit(EXIT_FAILURE, "port %u: start: %s\n", o->port,
			 strerror(-ret));
}

static uint8_t
pattern(uint16_t id, uint32_t i)
{
	return (uint8_t)(id * 31u + i);
}

/* One template frame, headers and payload written, offload fields set. */
static struct rte_mbuf *
build_template(const struct opts *o, struct rte_mempool *mp, uint16_t id)
{
	static const struct rte_ether_addr src = {
		{ 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 } };
	static const struct rte_ether_addr dst = {
		{ 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 } };
	uint32_t payload = o->segs * o->mss;
	uint32_t len = HDRS_LEN + payload;
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	struct rte_ether_hdr *eh;
	struct rte_ipv4_hdr *ip;
	struct rte_tcp_hdr *th;
	uint8_t *opt, *data;

	if (m == NULL)
		rte_exit(EXIT_FAILURE, "template pool empty\n");
	data = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
	if (data == NULL)
		rte_exit(EXIT_FAILURE, "template mbuf too small\n");
	eh = (struct rte_ether_hdr *)data;
	rte_ether_addr_copy(&dst, &eh->dst_addr);
	rte_ether_addr_copy(&src, &eh->src_addr);
	eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip = (struct rte_ipv4_hdr *)(eh + 1);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(len - RTE_ETHER_HDR_LEN));
	ip->packet_id = rte_cpu_to_be_16(id);
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = rte_cpu_to_be_32(RTE_IPV4(10, 0, 0, 1));
	ip->dst_addr = rte_cpu_to_be_32(RTE_IPV4(10, 0, 0, 2));
	/* complete: no TX_IP_CKSUM, so no backend has to write a shared frame */
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	th = (struct rte_tcp_hdr *)(ip + 1);
	memset(th, 0, TCP_HDR_LEN);
	th->src_port = rte_cpu_to_be_16(40000);
	th->dst_port = rte_cpu_to_be_16(5201);
	th->sent_seq = rte_cpu_to_be_32((uint32_t)id * payload);
	th->recv_ack = rte_cpu_to_be_32(1);
	th->data_off = (TCP_HDR_LEN / 4) << 4;
	th->tcp_flags = RTE_TCP_ACK_FLAG | RTE_TCP_PSH_FLAG;
	th->rx_win = rte_cpu_to_be_16(0xffff);
	opt = (uint8_t *)(th + 1);
	opt[0] = 1; /* NOP */
	opt[1] = 1;
	opt[2] = 8; /* timestamps, length 10 */
	opt[3] = 10;
	for (uint32_t i = 0; i < payload; i++)
		data[HDRS_LEN + i] = pattern(id, i);
	m->l2_len = RTE_ETHER_HDR_LEN;
	m->l3_len = sizeof(*ip);
	m->l4_len = TCP_HDR_LEN;
	m->tso_segsz = o->mss;
	m->ol_flags |= RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM |
		       RTE_MBUF_F_TX_IPV4;
	/* DPDK's TSO request: the pseudo-header sum without the length */
	th->cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
	/* whatever the PMD wants on top (virtio: the length added), once */
	if (rte_eth_tx_prepare(o->port, 0, &m, 1) != 1)
		rte_exit(EXIT_FAILURE, "tx_prepare refused the template: %s\n",
			 rte_strerror(rte_errno));
	return m;
}

static void
print_counters(const char *what, const struct counters *c, bool rx,
	       bool check)
{
	printf("%s ns=%" PRIu64 " cpu_ns=%" PRIu64 " tsc_hz=%" PRIu64
	       " frames=%" PRIu64 " bytes=%" PRIu64 " payload=%" PRIu64
	       " busy=%" PRIu64, what, now_ns(), cpu_ns(), rte_get_tsc_hz(),
	       c->frames, c->bytes, c->payload, c->busy);
	if (rx) {
		printf(" gso=%" PRIu64 " segsz=%u-%u len=%u-%u mbufs=%" PRIu64
		       " bad=%" PRIu64, c->gso, c->segsz_min, c->segsz_max,
		       c->len_min, c->len_max, c->segs, c->bad);
		if (check)
			printf(" check_ok=%" PRIu64 " check_bad=%" PRIu64
			       " l4cksum_complete=%" PRIu64
			       " l4cksum_phdr_with_len=%" PRIu64
			       " l4cksum_phdr_no_len=%" PRIu64
			       " l4cksum_other=%" PRIu64, c->ck_ok, c->ck_bad,
			       c->ck_full, c->ck_phdr_len, c->ck_phdr,
			       c->ck_other);
	} else {
		printf(" refused=%" PRIu64, c->refused);
	}
	printf("\n");
	fflush(stdout);
}

/* TCP payload bytes of a TCP/IPv4 frame, from its first segment; -1: not. */
static int64_t
tcp_payload(const struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eh;
	const struct rte_ipv4_hdr *ip;
	const struct rte_tcp_hdr *th;
	uint32_t l3, l4;

	if (m->data_len < RTE_ETHER_HDR_LEN + sizeof(*ip))
		return -1;
	eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	if (eh->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return -1;
	ip = (const struct rte_ipv4_hdr *)(eh + 1);
	if (ip->next_proto_id != IPPROTO_TCP)
		return -1;
	l3 = rte_ipv4_hdr_len(ip);
	if (m->data_len < RTE_ETHER_HDR_LEN + l3 + sizeof(*th))
		return -1;
	th = (const struct rte_tcp_hdr *)((const uint8_t *)ip + l3);
	l4 = (uint32_t)(th->data_off >> 4) * 4;
	if (m->pkt_len < RTE_ETHER_HDR_LEN + l3 + l4)
		return -1;
	return (int64_t)(m->pkt_len - RTE_ETHER_HDR_LEN - l3 - l4);
}

/* --check: the whole frame against the template it came from. */
static void
check_frame(const struct opts *o, const struct rte_mbuf *m,
	    struct counters *c)
{
	static uint8_t buf[UINT16_MAX + 1];
	uint32_t len = m->pkt_len, payload = o->segs * o->mss;
	const struct rte_ipv4_hdr *ip;
	const struct rte_tcp_hdr *th;
	const uint8_t *f;
	uint16_t id, field, phdr;
	uint32_t sum;
	bool ok;

	if (len != HDRS_LEN + payload) {
		c->ck_bad++;
		return;
	}
	f = rte_pktmbuf_read(m, 0, len, buf);
	ip = (const struct rte_ipv4_hdr *)(f + RTE_ETHER_HDR_LEN);
	th = (const struct rte_tcp_hdr *)(ip + 1);
	id = rte_be_to_cpu_16(ip->packet_id);
	/* a header whose sum, field included, is 0xffff: complement 0 */
	ok = rte_raw_cksum(ip, sizeof(*ip)) == 0xffff &&
	     rte_be_to_cpu_16(ip->total_length) == len - RTE_ETHER_HDR_LEN &&
	     th->dst_port == rte_cpu_to_be_16(5201) &&
	     rte_be_to_cpu_32(th->sent_seq) == (uint32_t)id * payload;
	for (uint32_t i = 0; ok && i < payload; i++)
		ok = f[HDRS_LEN + i] == pattern(id, i);
	if (ok)
		c->ck_ok++;
	else
		c->ck_bad++;
	/* the checksum field, as whichever convention it follows */
	/* complete: the sum over pseudo-header and segment, field included */
	sum = (uint32_t)rte_raw_cksum(th, len - RTE_ETHER_HDR_LEN -
					  sizeof(*ip)) +
	      rte_ipv4_phdr_cksum(ip, 0);
	sum = (sum & 0xffff) + (sum >> 16);
	if (sum == 0xffff) {
		c->ck_full++;
		return;
	}
	field = th->cksum;
	phdr = rte_ipv4_phdr_cksum(ip, 0);
	if (field == phdr) {
		c->ck_phdr_len++;
		return;
	}
	phdr = rte_ipv4_phdr_cksum(ip, RTE_MBUF_F_TX_TCP_SEG);
	if (field == phdr)
		c->ck_phdr++;
	else
		c->ck_other++;
}

static void
count_rx(const struct opts *o, struct rte_mbuf **pkts, uint16_t n,
	 struct counters *c)
{
	for (uint16_t i = 0; i < n; i++) {
		const struct rte_mbuf *m = pkts[i];
		int64_t pl = tcp_payload(m);

		c->bytes += m->pkt_len;
		c->segs += m->nb_segs;
		if (m->pkt_len < c->len_min)
			c->len_min = m->pkt_len;
		if (m->pkt_len > c->len_max)
			c->len_max = m->pkt_len;
		if (pl < 0)
			c->bad++;
		else
			c->payload += (uint64_t)pl;
		if (m->ol_flags & (RTE_MBUF_F_RX_LRO | RTE_MBUF_F_TX_TCP_SEG)) {
			c->gso++;
			if (m->tso_segsz < c->segsz_min)
				c->segsz_min = m->tso_segsz;
			if (m->tso_segsz > c->segsz_max)
				c->segsz_max = m->tso_segsz;
		}
		if (o->check)
			check_frame(o, m, c);
	}
	c->frames += n;
	rte_pktmbuf_free_bulk(pkts, n);
}

static void
run_rx(const struct opts *o, struct counters *c)
{
	struct rte_mbuf *pkts[BURST_MAX];

	c->len_min = UINT32_MAX;
	c->segsz_min = UINT16_MAX;
	while (!want_stop) {
		uint64_t t0 = rte_rdtsc();
		uint16_t n = rte_eth_rx_burst(o->port, 0, pkts, o->burst);

		if (n != 0) {
			count_rx(o, pkts, n, c);
			c->busy += rte_rdtsc() - t0;
		}
		if (unlikely(want_mark)) {
			want_mark = 0;
			print_counters("mark", c, true, o->check);
		}
	}
	if (c->len_min == UINT32_MAX)
		c->len_min = 0;
	if (c->segsz_min == UINT16_MAX)
		c->segsz_min = 0;
	print_counters("total", c, true, o->check);
}

/* A fresh mbuf of the template pool made a frame again (see the top). */
static inline void
rearm(struct rte_mbuf *m, const struct rte_mbuf *proto)
{
	m->data_len = proto->data_len;
	m->pkt_len = proto->pkt_len;
	m->ol_flags = proto->ol_flags;
	m->tx_offload = proto->tx_offload;
}

static void
run_tx(const struct opts *o, struct counters *c, struct rte_mbuf **tmpl,
       struct rte_mempool *pool)
{
	struct rte_mbuf *pkts[BURST_MAX];
	const struct rte_mbuf *proto = tmpl[0];
	uint32_t len = proto->pkt_len;
	uint32_t payload = o->segs * o->mss;
	unsigned int next = 0;
	uint16_t pend = 0;

	while (!want_stop) {
		uint64_t t0 = rte_rdtsc();
		uint16_t sent, want = o->burst - pend;

		if (o->shared) {
			/* one more reference each to the next templates */
			for (; pend < o->burst; pend++) {
				struct rte_mbuf *m = tmpl[next];

				if (++next == o->templates)
					next = 0;
				rte_mbuf_refcnt_update(m, 1);
				pkts[pend] = m;
			}
		} else if (want != 0 &&
			   rte_pktmbuf_alloc_bulk(pool, pkts + pend, want) == 0) {
			for (; pend < o->burst; pend++)
				rearm(pkts[pend], proto);
		}
		if (pend == 0)
			continue; /* all in the ring: its cleanup frees some */
		sent = rte_eth_tx_burst(o->port, 0, pkts, pend);
		if (sent != 0) {
			c->frames += sent;
			c->bytes += (uint64_t)sent * len;
			c->payload += (uint64_t)sent * payload;
			c->refused += pend - sent;
			pend -= sent;
			memmove(pkts, pkts + sent, pend * sizeof(pkts[0]));
			c->busy += rte_rdtsc() - t0;
		}
		if (unlikely(want_mark)) {
			want_mark = 0;
			print_counters("mark", c, false, false);
		}
	}
	if (o->shared)
		for (uint16_t i = 0; i < pend; i++)
			rte_mbuf_refcnt_update(pkts[i], -1);
	else
		rte_pktmbuf_free_bulk(pkts, pend);
	print_counters("total", c, false, false);
}

/* The port's non-zero extended counters: where a PMD counts its drops. */
static void
print_xstats(uint16_t port)
{
	struct rte_eth_xstat_name *names = NULL;
	struct rte_eth_xstat *xs = NULL;
	int n = rte_eth_xstats_get(port, NULL, 0);

	if (n > 0) {
		names = calloc((size_t)n, sizeof(*names));
		xs = calloc((size_t)n, sizeof(*xs));
	}
	if (names != NULL && xs != NULL &&
	    rte_eth_xstats_get_names(port, names, (unsigned int)n) == n &&
	    rte_eth_xstats_get(port, xs, (unsigned int)n) == n) {
		printf("xstats:");
		for (int i = 0; i < n; i++)
			if (xs[i].value != 0)
				printf(" %s=%" PRIu64, names[xs[i].id].name,
				       xs[i].value);
		printf("\n");
	}
	free(names);
	free(xs);
}

int
main(int argc, char **argv)
{
	struct rte_mempool *rx_pool, *tmpl_pool = NULL;
	struct rte_mbuf **tmpl = NULL;
	struct counters c;
	struct opts o;
	int ret;

	ret = rte_eal_init(argc, argv);
	if (ret < 0)
		rte_exit(EXIT_FAILURE, "EAL init failed\n");
	parse_opts(argc - ret, argv + ret, &o);
	signal(SIGUSR1, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	/* the transmitter receives nothing: a small pool serves its ring */
	rx_pool = rte_pktmbuf_pool_create("tso_rx", o.rx ? RX_MBUFS : 2048,
					  256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					  (int)rte_socket_id());
	if (rx_pool == NULL)
		rte_exit(EXIT_FAILURE, "rx pool: %s\n", rte_strerror(rte_errno));
	port_setup(&o, rx_pool);
	if (o.tx) {
		uint32_t len = HDRS_LEN + o.segs * o.mss;

		tmpl_pool = rte_pktmbuf_pool_create("tso_tmpl", o.templates,
						    o.shared ? 0 : 64, 0,
						    (uint16_t)(RTE_PKTMBUF_HEADROOM +
							       len),
						    (int)rte_socket_id());
		tmpl = calloc(o.templates, sizeof(*tmpl));
		if (tmpl_pool == NULL || tmpl == NULL)
			rte_exit(EXIT_FAILURE, "template pool: %s\n",
				 rte_strerror(rte_errno));
		for (unsigned int i = 0; i < o.templates; i++)
			tmpl[i] = build_template(&o, tmpl_pool, (uint16_t)i);
		/* fresh mbufs: back to the pool, tmpl[0] kept as the model */
		if (!o.shared)
			for (unsigned int i = 1; i < o.templates; i++)
				rte_pktmbuf_free(tmpl[i]);
		printf("tx: %u %s frames of %u bytes, %u x %u payload, TX_TCP_SEG\n",
		       o.templates, o.shared ? "shared" : "pool", len, o.segs,
		       o.mss);
	}
	printf("ready\n");
	fflush(stdout);

	memset(&c, 0, sizeof(c));
	if (o.tx)
		run_tx(&o, &c, tmpl, tmpl_pool);
	else
		run_rx(&o, &c);

	print_xstats(o.port);
	fflush(stdout);
	rte_eth_dev_stop(o.port);
	rte_eth_dev_close(o.port);
	if (tmpl != NULL) {
		for (unsigned int i = 0; i < (o.shared ? o.templates : 1); i++)
			rte_pktmbuf_free(tmpl[i]);
		free(tmpl);
	}
	rte_mempool_free(tmpl_pool);
	rte_mempool_free(rx_pool);
	rte_eal_cleanup();
	return 0;
}
