/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhu-ports: many vhost-user frontends in one process, for vhu-vswitch's
 * idle-port tests and figures (examples/vswitch/bench-ports.sh,
 * app/test/e2e/ports.sh). It connects to PREFIX0 .. PREFIX<N-1>, one
 * queue pair each (or --queues on every port), split rings of RING
 * descriptors in one memfd per port, no EVENT_IDX: the guest kicks its
 * transmit vring whenever the backend has not set VRING_USED_F_NO_NOTIFY,
 * as a virtio driver does, and asks for no interrupts. Ports 0 and 1 are
 * the "busy pair" (MACs 02:00:00:00:00:01 and :02); every port has its own
 * MAC. Then it runs the steps asked, in this order, each printing one
 * line of key=value:
 *
 *   setup     connection set-up: ms from the first connect to the last
 *             port's last acknowledged message (every message asks for
 *             REPLY_ACK), and the slowest port's own time.
 *   --learn   port 1 sends one frame (flooded), so the switch knows it.
 *   --idle S  nothing for S seconds (the caller measures the switch).
 *   --wake K  K times: wait --gap ms (longer than the switch's --idle-us),
 *             then port 0 sends one frame to port 1 and kicks; the time
 *             from the kick to the frame in port 1's receive ring.
 *   --busy S  port 0 sends to port 1 for S seconds, as fast as its ring
 *             drains; frames per second received on port 1. With --irq
 *             port 1's receive queue asks for interrupts (as a guest in
 *             interrupt mode; it still polls) and the line adds the calls
 *             its call eventfd counted, per second and frames per call.
 *   --churn K the last K ports disconnect and connect again; each then
 *             sends one frame to port 0, which must receive all K.
 *   --hold S  keep every connection S seconds more (a measurement window
 *             for the caller), then exit.
 *
 * Exit status 0 when every step did what it should, 1 otherwise.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "../protocol/fe.h"
#include "msg.h"

#define F_PROTOCOL_FEATURES 30
#define PF_MQ 0
#define PF_REPLY_ACK 3
#define MAX_PORTS 1024
#define MAX_QP 8
#define RING 64u
#define BUF_SIZE 2048u
#define NET_HDR_LEN 12u
#define FRAME_LEN 64u
#define RING_AREA 8192u  /* a split ring of RING: 1 KiB + 134 B + used */
#define PORTS_ETHERTYPE 0x88b5

struct ring {
	uint16_t vring;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint8_t *buf;            /* RING buffers of BUF_SIZE */
	uint64_t buf_gpa;
	uint16_t avail_idx, used_idx;
	uint16_t free[RING];     /* transmit: ids not posted */
	uint16_t n_free;
	int kickfd, callfd;
};

struct port {
	int sock, memfd;
	uint8_t *mem;
	size_t mem_len;
	struct ring rx[MAX_QP], tx[MAX_QP];
	double setup_ms;
};

static struct {
	const char *prefix;
	unsigned int ports, queues, wake, churn, gap_ms;
	double idle, busy, hold;
	bool learn, irq;
} opt = { .ports = 2, .queues = 1, .gap_ms = 20 };

static struct port *ports;

static void __attribute__((format(printf, 1, 2), noreturn))
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "vhu-ports: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static uint64_t
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static uint16_t
load16(const uint16_t *p, memory_order mo)
{
	return atomic_load_explicit((const _Atomic uint16_t *)p, mo);
}

static void
store16(uint16_t *p, uint16_t v, memory_order mo)
{
	atomic_store_explicit((_Atomic uint16_t *)p, v, mo);
}

/* ---- set-up --------------------------------------------------------------- */

static uint64_t
get_u64(int s, uint32_t req)
{
	struct vhu_msg_hdr h;
	uint64_t v = 0;
	int ret = fe_send(s, req, VHU_MSG_VERSION, NULL, 0, NULL, 0);

	if (ret == 0)
		ret = fe_recv(s, &h, &v, sizeof(v), 10000);
	if (ret != (int)sizeof(v) || h.request != req)
		die("request %u: no 8-byte reply (%d)", req, ret);
	return v;
}

static void
call(int s, uint32_t req, const void *payload, uint32_t size, int fd)
{
	int64_t r = fe_call_ack(s, req, payload, size, fd >= 0 ? &fd : NULL,
				fd >= 0 ? 1 : 0);

	if (r != 0)
		die("request %u: answered %" PRId64, req, r);
}

static void
call_state(int s, uint32_t req, uint32_t index, uint32_t num)
{
	struct vhu_msg_vring_state st = { .index = index, .num = num };

	call(s, req, &st, sizeof(st), -1);
}

static int
connect_to(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	uint64_t deadline = fe_now_ms() + 20000;

	if (strlen(path) >= sizeof(a.sun_path))
		die("socket path too long");
	strcpy(a.sun_path, path);
	for (;;) {
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (s < 0)
			die("socket: %s", strerror(errno));
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0)
			return s;
		if ((errno != ENOENT && errno != ECONNREFUSED) ||
		    fe_now_ms() > deadline)
			die("connect %s: %s", path, strerror(errno));
		close(s);
		poll(NULL, 0, 10);
	}
}

/* The frame port `from` sends to MAC of port `to`, in buffer b. */
static void
frame_init(uint8_t *b, unsigned int from, unsigned int to)
{
	uint8_t *f = b + NET_HDR_LEN;

	memset(b, 0, NET_HDR_LEN + FRAME_LEN);
	f[0] = 0x02;
	f[4] = (uint8_t)((to + 1) >> 8);
	f[5] = (uint8_t)(to + 1);
	f[6] = 0x02;
	f[10] = (uint8_t)((from + 1) >> 8);
	f[11] = (uint8_t)(from + 1);
	f[12] = PORTS_ETHERTYPE >> 8;
	f[13] = PORTS_ETHERTYPE & 0xff;
}

static void
ring_init(struct port *p, struct ring *r, unsigned int q, bool tx)
{
	size_t span = 2 * RING_AREA + 2 * (size_t)RING * BUF_SIZE;
	uint8_t *base = p->mem + q * span;
	uint8_t *area = base + (tx ? RING_AREA : 0);

	r->vring = (uint16_t)(2 * q + tx);
	r->desc = (struct vring_desc *)area;
	r->avail = (struct vring_avail *)(area + RING * 16);
	r->used = (struct vring_used *)(area + 4096);
	r->buf = base + 2 * RING_AREA + (tx ? (size_t)RING * BUF_SIZE : 0);
	/* guest-physical = our virtual address: one region, identity */
	r->buf_gpa = (uint64_t)(uintptr_t)r->buf;
	for (uint16_t i = 0; i < RING; i++) {
		r->desc[i].addr = r->buf_gpa + (uint64_t)i * BUF_SIZE;
		r->desc[i].len = tx ? NET_HDR_LEN + FRAME_LEN : BUF_SIZE;
		r->desc[i].flags = tx ? 0 : VRING_DESC_F_WRITE;
		r->desc[i].next = 0;
	}
	r->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	r->avail_idx = 0;
	r->used_idx = 0;
	r->n_free = 0;
	if (tx) {
		for (uint16_t i = 0; i < RING; i++)
			r->free[r->n_free++] = (uint16_t)(RING - 1 - i);
		return;
	}
	for (uint16_t i = 0; i < RING; i++)
		r->avail->ring[i] = i;
	r->avail_idx = RING;
	store16(&r->avail->idx, RING, memory_order_release);
}

static void
send_vring(int s, struct ring *r)
{
	struct vhu_msg_vring_addr a = {
		.index = r->vring,
		.desc = (uint64_t)(uintptr_t)r->desc,
		.avail = (uint64_t)(uintptr_t)r->avail,
		.used = (uint64_t)(uintptr_t)r->used,
	};
	uint64_t idx = r->vring;

	r->kickfd = fe_eventfd();
	r->callfd = fe_eventfd();
	if (r->kickfd < 0 || r->callfd < 0)
		die("eventfd: %s", strerror(errno));
	call_state(s, VHU_REQ_SET_VRING_NUM, r->vring, RING);
	call_state(s, VHU_REQ_SET_VRING_BASE, r->vring, 0);
	call(s, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), -1);
	call(s, VHU_REQ_SET_VRING_KICK, &idx, sizeof(idx), r->kickfd);
	call(s, VHU_REQ_SET_VRING_CALL, &idx, sizeof(idx), r->callfd);
}

static void
port_open(unsigned int i)
{
	struct port *p = &ports[i];
	struct vhu_msg_mem_table m = { .nregions = 1 };
	uint64_t want = 1ull << VIRTIO_F_VERSION_1 |
			1ull << F_PROTOCOL_FEATURES;
	uint64_t pwant = 1ull << PF_REPLY_ACK | 1ull << PF_MQ;
	char path[4096];
	uint64_t t0 = now_ns(), v;

	snprintf(path, sizeof(path), "%s%u", opt.prefix, i);
	p->sock = connect_to(path);
	if (opt.queues > 1)
		want |= 1ull << VIRTIO_NET_F_MQ;
	p->mem_len = opt.queues * (2 * RING_AREA + 2 * (size_t)RING * BUF_SIZE);
	p->memfd = fe_memfd(p->mem_len);
	if (p->memfd < 0)
		die("memfd: %s", strerror(errno));
	/* not populated: an idle port's buffers are never touched */
	p->mem = mmap(NULL, p->mem_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		      p->memfd, 0);
	if (p->mem == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	if ((get_u64(p->sock, VHU_REQ_GET_FEATURES) & want) != want)
		die("port %u: features missing", i);
	if ((get_u64(p->sock, VHU_REQ_GET_PROTOCOL_FEATURES) & pwant) != pwant)
		die("port %u: no REPLY_ACK or MQ", i);
	v = pwant;
	if (fe_send(p->sock, VHU_REQ_SET_PROTOCOL_FEATURES, VHU_MSG_VERSION,
		    &v, sizeof(v), NULL, 0) != 0)
		die("port %u: %s", i, strerror(errno));
	call(p->sock, VHU_REQ_SET_OWNER, NULL, 0, -1);
	call(p->sock, VHU_REQ_SET_FEATURES, &want, sizeof(want), -1);
	m.r[0].gpa = (uint64_t)(uintptr_t)p->mem;
	m.r[0].size = p->mem_len;
	m.r[0].uaddr = (uint64_t)(uintptr_t)p->mem;
	call(p->sock, VHU_REQ_SET_MEM_TABLE, &m, 8 + sizeof(m.r[0]),
	     p->memfd);
	for (unsigned int q = 0; q < opt.queues; q++) {
		ring_init(p, &p->rx[q], q, false);
		ring_init(p, &p->tx[q], q, true);
		send_vring(p->sock, &p->rx[q]);
		send_vring(p->sock, &p->tx[q]);
	}
	for (unsigned int vr = 0; vr < 2 * opt.queues; vr++)
		call_state(p->sock, VHU_REQ_SET_VRING_ENABLE, vr, 1);
	p->setup_ms = (double)(now_ns() - t0) / 1e6;
}

static void
port_close(unsigned int i)
{
	struct port *p = &ports[i];

	close(p->sock);
	for (unsigned int q = 0; q < opt.queues; q++) {
		close(p->rx[q].kickfd);
		close(p->rx[q].callfd);
		close(p->tx[q].kickfd);
		close(p->tx[q].callfd);
	}
	munmap(p->mem, p->mem_len);
	close(p->memfd);
}

/* ---- frames --------------------------------------------------------------- */

/* Take back used transmit buffers of port i. */
static void
tx_reclaim(struct ring *r)
{
	uint16_t end = load16(&r->used->idx, memory_order_acquire);

	while (r->used_idx != end) {
		uint32_t id = r->used->ring[r->used_idx % RING].id;

		if (id < RING && r->n_free < RING)
			r->free[r->n_free++] = (uint16_t)id;
		r->used_idx++;
	}
}

/* Post up to n frames from port `from` to port `to`, kick if asked. */
static unsigned int
send_frames(unsigned int from, unsigned int to, unsigned int n)
{
	struct ring *r = &ports[from].tx[0];
	unsigned int k;

	tx_reclaim(r);
	for (k = 0; k < n && r->n_free > 0; k++) {
		uint16_t id = r->free[--r->n_free];

		frame_init(r->buf + (size_t)id * BUF_SIZE, from, to);
		r->avail->ring[r->avail_idx % RING] = id;
		r->avail_idx++;
	}
	if (k == 0)
		return 0;
	store16(&r->avail->idx, r->avail_idx, memory_order_release);
	/* the avail index before the backend's NO_NOTIFY flag (virtio 2.7.7) */
	atomic_thread_fence(memory_order_seq_cst);
	if (!(load16(&r->used->flags, memory_order_relaxed) &
	      VRING_USED_F_NO_NOTIFY)) {
		uint64_t one = 1;

		if (write(r->kickfd, &one, sizeof(one)) < 0)
			die("kick: %s", strerror(errno));
	}
	return k;
}

/* Frames port i received from port `from` (others are counted apart). */
static unsigned int
recv_frames(unsigned int i, unsigned int from, unsigned int *other)
{
	struct ring *r = &ports[i].rx[0];
	uint16_t end = load16(&r->used->idx, memory_order_acquire);
	unsigned int got = 0;

	while (r->used_idx != end) {
		uint32_t id = r->used->ring[r->used_idx % RING].id;

		r->used_idx++;
		if (id >= RING)
			die("port %u: used id %u", i, id);
		const uint8_t *src = r->buf + (size_t)id * BUF_SIZE +
				     NET_HDR_LEN + 6;

		if (((unsigned int)src[4] << 8 | src[5]) == from + 1)
			got++;
		else if (other != NULL)
			(*other)++;
		r->avail->ring[r->avail_idx % RING] = (uint16_t)id;
		r->avail_idx++;
	}
	if (got != 0 || r->avail_idx != load16(&r->avail->idx,
					       memory_order_relaxed))
		store16(&r->avail->idx, r->avail_idx, memory_order_release);
	return got;
}

/* Wait up to ms for port i to receive n frames from `from`. */
static bool
await(unsigned int i, unsigned int from, unsigned int n, unsigned int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000u;
	unsigned int got = 0;

	while (got < n && now_ns() < end)
		got += recv_frames(i, from, NULL);
	return got >= n;
}

static void
drain_all(void)
{
	unsigned int other = 0;

	for (unsigned int i = 0; i < opt.ports; i++)
		recv_frames(i, UINT32_MAX, &other);
}

/* ---- steps ---------------------------------------------------------------- */

static int
step_wake(void)
{
	double sum = 0, max = 0, min = 1e30;

	for (unsigned int k = 0; k < opt.wake; k++) {
		uint64_t t0;
		double us;

		drain_all();
		poll(NULL, 0, (int)opt.gap_ms);
		t0 = now_ns();
		if (send_frames(0, 1, 1) != 1)
			die("wake: port 0's ring is full");
		if (!await(1, 0, 1, 2000)) {
			printf("wake: FAIL frame %u not delivered in 2 s\n", k);
			return 1;
		}
		us = (double)(now_ns() - t0) / 1e3;
		sum += us;
		min = us < min ? us : min;
		max = us > max ? us : max;
	}
	if (opt.wake != 0)
		printf("wake: n=%u gap_ms=%u min_us=%.1f avg_us=%.1f "
		       "max_us=%.1f\n", opt.wake, opt.gap_ms, min,
		       sum / opt.wake, max);
	return 0;
}

static int
step_busy(void)
{
	struct ring *rx1 = &ports[1].rx[0];
	uint64_t t0, end, sent = 0, got = 0, calls = 0;
	double s;

	if (opt.irq) {
		store16(&rx1->avail->flags, 0, memory_order_relaxed);
		atomic_thread_fence(memory_order_seq_cst);
		if (read(rx1->callfd, &calls, sizeof(calls)) < 0)
			calls = 0;      /* none yet: EAGAIN */
		calls = 0;
	}
	t0 = now_ns();
	end = t0 + (uint64_t)(opt.busy * 1e9);
	while (now_ns() < end) {
		sent += send_frames(0, 1, RING);
		got += recv_frames(1, 0, NULL);
	}
	s = (double)(now_ns() - t0) / 1e9;
	printf("busy: seconds=%.2f sent=%" PRIu64 " received=%" PRIu64
	       " mpps=%.3f", s, sent, got, (double)got / s / 1e6);
	if (opt.irq) {
		/* the eventfd adds up every call since the read above */
		if (read(rx1->callfd, &calls, sizeof(calls)) < 0)
			calls = 0;
		store16(&rx1->avail->flags, VRING_AVAIL_F_NO_INTERRUPT,
			memory_order_relaxed);
		printf(" calls=%" PRIu64 " calls_per_s=%.0f frames_per_call=%.1f",
		       calls, (double)calls / s,
		       calls ? (double)got / (double)calls : 0.0);
	}
	printf("\n");
	return got == 0;
}

static int
step_churn(void)
{
	unsigned int first = opt.ports - opt.churn;
	uint64_t t0 = now_ns();

	for (unsigned int i = first; i < opt.ports; i++)
		port_close(i);
	/* give the switch time to see the hang-ups while others idle */
	poll(NULL, 0, 200);
	for (unsigned int i = first; i < opt.ports; i++)
		port_open(i);
	drain_all();
	for (unsigned int i = first; i < opt.ports; i++) {
		if (send_frames(i, 0, 1) != 1)
			die("churn: port %u's ring is full", i);
		/* unknown destination or not: the frame reaches port 0 */
		if (!await(0, i, 1, 3000)) {
			printf("churn: FAIL port %u's frame never reached "
			       "port 0\n", i);
			return 1;
		}
	}
	printf("churn: ports=%u ms=%.1f ok\n", opt.churn,
	       (double)(now_ns() - t0) / 1e6);
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f, "Usage: vhu-ports --prefix PATH [--ports N] [--queues Q] "
		"[--learn]\n"
		"       [--idle S] [--wake K] [--gap MS] [--busy S] [--irq] "
		"[--churn K] [--hold S]\n");
}

static void
parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "prefix", required_argument, NULL, 'p' },
		{ "ports", required_argument, NULL, 'n' },
		{ "queues", required_argument, NULL, 'q' },
		{ "learn", no_argument, NULL, 'l' },
		{ "idle", required_argument, NULL, 'i' },
		{ "wake", required_argument, NULL, 'w' },
		{ "gap", required_argument, NULL, 'g' },
		{ "busy", required_argument, NULL, 'b' },
		{ "churn", required_argument, NULL, 'c' },
		{ "hold", required_argument, NULL, 'H' },
		{ "irq", no_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'p': opt.prefix = optarg; break;
		case 'n': opt.ports = (unsigned int)atoi(optarg); break;
		case 'q': opt.queues = (unsigned int)atoi(optarg); break;
		case 'l': opt.learn = true; break;
		case 'i': opt.idle = atof(optarg); break;
		case 'w': opt.wake = (unsigned int)atoi(optarg); break;
		case 'g': opt.gap_ms = (unsigned int)atoi(optarg); break;
		case 'b': opt.busy = atof(optarg); break;
		case 'c': opt.churn = (unsigned int)atoi(optarg); break;
		case 'H': opt.hold = atof(optarg); break;
		case 'I': opt.irq = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (opt.prefix == NULL || opt.ports < 1 || opt.ports > MAX_PORTS ||
	    opt.queues < 1 || opt.queues > MAX_QP || opt.churn > opt.ports ||
	    ((opt.wake || opt.busy > 0) && opt.ports < 2) ||
	    (opt.churn != 0 && opt.churn >= opt.ports)) {
		usage(stderr);
		exit(2);
	}
}

int
main(int argc, char **argv)
{
	double slowest = 0;
	uint64_t t0;
	int rc = 0;

	parse_args(argc, argv);
	ports = calloc(opt.ports, sizeof(*ports));
	if (ports == NULL)
		die("out of memory");
	t0 = now_ns();
	for (unsigned int i = 0; i < opt.ports; i++) {
		port_open(i);
		if (ports[i].setup_ms > slowest)
			slowest = ports[i].setup_ms;
	}
	printf("setup: ports=%u queues=%u total_ms=%.1f slowest_port_ms=%.1f\n",
	       opt.ports, opt.queues, (double)(now_ns() - t0) / 1e6, slowest);
	fflush(stdout);
	if (opt.learn && opt.ports >= 2) {
		send_frames(1, 0, 1);
		if (!await(0, 1, 1, 3000)) {
			printf("learn: FAIL port 1's frame never reached "
			       "port 0\n");
			rc = 1;
		}
	}
	if (opt.idle > 0) {
		printf("idle: seconds=%.1f\n", opt.idle);
		fflush(stdout);
		poll(NULL, 0, (int)(opt.idle * 1000));
	}
	rc |= step_wake();
	fflush(stdout);
	if (opt.busy > 0)
		rc |= step_busy();
	fflush(stdout);
	if (opt.churn != 0)
		rc |= step_churn();
	if (opt.hold > 0) {
		printf("hold: seconds=%.1f\n", opt.hold);
		fflush(stdout);
		poll(NULL, 0, (int)(opt.hold * 1000));
	}
	for (unsigned int i = 0; i < opt.ports; i++)
		port_close(i);
	free(ports);
	fflush(stdout);
	return rc;
}
