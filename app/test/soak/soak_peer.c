/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * soak_peer: a small, fast vhost-user frontend for the soak test
 * (app/test/soak/soak.sh). One process is one connection: it connects to a
 * backend's socket, negotiates as a real frontend does (features, protocol
 * features with REPLY_ACK, MQ and STATUS, SET_OWNER, guest memory in a
 * memfd by SET_MEM_TABLE or ADD_MEM_REG, every vring's NUM, BASE, ADDR,
 * KICK, CALL and ERR, SET_VRING_ENABLE, SET_STATUS DRIVER_OK), then plays
 * the guest's virtio-net driver on split or packed rings: it keeps every
 * receive ring full, transmits numbered frames on each queue pair and
 * checks each echoed frame (virtio-net header, length, cycle, queue,
 * sequence order, every payload byte). It then ends as told: waits to be
 * SIGKILLed mid-traffic or mid-handshake, exits abruptly (no
 * GET_VRING_BASE, frames in flight), or stops politely (drains, checks
 * that every frame came back exactly once, GET_VRING_BASE on every vring
 * with the indexes checked, closes). This file owns the wire format it
 * speaks, its driver-side rings and the frame format; it uses neither
 * DPDK nor libvhu, so it starts in about a millisecond.
 *
 * Output on stdout, one line per event, for the driving script:
 *   soak_peer: paused after step N (REQUEST)     wait for SIGKILL
 *   soak_peer: exiting after sending step N (REQUEST)
 *   soak_peer: traffic verified: ...            (enough echoes checked)
 *   soak_peer: done: ...                        (polite ending passed)
 * Errors go to stderr and make the exit status 1; 3 means "was to be
 * killed but nobody did within the timeout".
 */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/fdpass.h"
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

/* ---- vhost-user wire format (vhost-user.rst, "Message specification") */

enum {
	REQ_GET_FEATURES = 1,
	REQ_SET_FEATURES = 2,
	REQ_SET_OWNER = 3,
	REQ_SET_MEM_TABLE = 5,
	REQ_SET_VRING_NUM = 8,
	REQ_SET_VRING_ADDR = 9,
	REQ_SET_VRING_BASE = 10,
	REQ_GET_VRING_BASE = 11,
	REQ_SET_VRING_KICK = 12,
	REQ_SET_VRING_CALL = 13,
	REQ_SET_VRING_ERR = 14,
	REQ_GET_PROTOCOL_FEATURES = 15,
	REQ_SET_PROTOCOL_FEATURES = 16,
	REQ_GET_QUEUE_NUM = 17,
	REQ_SET_VRING_ENABLE = 18,
	REQ_GET_MAX_MEM_SLOTS = 36,
	REQ_ADD_MEM_REG = 37,
	REQ_SET_STATUS = 39,
};

#define MSG_VERSION 0x1u
#define MSG_REPLY (1u << 2)
#define MSG_NEED_REPLY (1u << 3)

#define F_PROTOCOL_FEATURES 30 /* vhost-user's own feature bit */
#define PF_MQ 0
#define PF_REPLY_ACK 3
#define PF_CONFIGURE_MEM_SLOTS 15
#define PF_STATUS 16

struct wire_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
};

struct wire_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uaddr;
	uint64_t mmap_offset;
};

struct wire_state {
	uint32_t index;
	uint32_t num;
};

struct wire_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;
	uint64_t used;
	uint64_t avail;
	uint64_t log;
};

#define MAX_REGIONS 8

struct wire_mem {
	uint32_t nregions;
	uint32_t padding;
	struct wire_region r[MAX_REGIONS];
};

struct wire_mem_reg {
	uint64_t padding;
	struct wire_region r;
};

/* ---- guest layout ------------------------------------------------------ */

#define MAX_QP 8
#define MAX_RING 256
#define MIN_RING 16
#define BUF_SIZE 2048u
#define NET_HDR_LEN 12u           /* VERSION_1: num_buffers always there */
#define GPA_BASE 0x40000000ull
/*
 * Each queue pair has its own 1 MiB of guest memory (its own region):
 *   0      receive ring        16 KiB
 *   16 KiB transmit ring       16 KiB
 *   32 KiB receive buffers     ring size x 2 KiB
 *   544 KiB transmit buffers   ring size / 2 x 2 KiB
 */
#define QP_SPAN (1u << 20)
#define RX_RING_OFF 0u
#define TX_RING_OFF (16u << 10)
#define RX_BUF_OFF (32u << 10)
#define TX_BUF_OFF (544u << 10)

/* ---- frames ------------------------------------------------------------ */

#define SOAK_MAGIC 0x4b414f53u /* "SOAK" in memory order, little endian */
#define SOAK_ETHERTYPE 0x88b5  /* IEEE 802 local experimental */
#define ETH_LEN 14u
#define MIN_FRAME 60u
#define MAX_FRAME 1514u

/* After the Ethernet header; host byte order (both ends are this peer). */
struct soak_hdr {
	uint32_t magic;
	uint32_t cycle;
	uint16_t queue;
	uint16_t pad;
	uint32_t seq;
	uint32_t len;
};

#define FRAME_HDRS (ETH_LEN + sizeof(struct soak_hdr))
/* --stale-ok: frames of other connections accepted per queue, at most
 * (testpmd forwards bursts of 32 per queue) */
#define STALE_MAX 64u

/* ---- driver-side state ------------------------------------------------- */

struct ring {
	uint16_t vring;           /* 2 * qp (receiveq) or 2 * qp + 1 */
	bool tx;
	uint16_t size;            /* descriptors */
	uint16_t nids;            /* buffer ids: size (rx), size / 2 (tx) */
	uint64_t ring_gpa, buf_gpa;
	uint8_t *ring_hva, *buf_hva;
	int kickfd, callfd, errfd;
	/* split */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t avail_gpa, used_gpa;
	uint16_t avail_idx;       /* next avail entry we fill */
	uint16_t used_idx;        /* next used entry we read */
	/* packed (virtio 1.2 §2.8): avail_gpa/used_gpa are the event areas */
	struct vring_packed_desc *pdesc;
	struct vring_packed_desc_event *drv_ev, *dev_ev;
	uint16_t p_avail, p_used;
	bool avail_wrap, used_wrap;
	/* both */
	uint16_t ndesc[MAX_RING]; /* per outstanding id: descriptors; 0 free */
	uint16_t free_ids[MAX_RING];
	uint16_t nfree;
	bool dirty;               /* made buffers available since last kick */
};

/*
 * The ring fields the backend reads or writes concurrently (avail and used
 * idx and flags, packed descriptor flags, event flags) are plain uint16_t
 * in guest memory. The accesses that order against the backend go through
 * these two, C11 on the _Atomic view of the field, as libvhu's
 * vhu_atomic.h does (this file uses none of libvhu's headers); the view
 * has the field's own size and alignment, asserted here.
 */
static_assert(sizeof(_Atomic uint16_t) == sizeof(uint16_t) &&
	      _Alignof(_Atomic uint16_t) == _Alignof(uint16_t),
	      "_Atomic uint16_t is not laid out as uint16_t");

static inline uint16_t
ring_load_u16(const uint16_t *p, memory_order mo)
{
	return atomic_load_explicit((const _Atomic uint16_t *)p, mo);
}

static inline void
ring_store_u16(uint16_t *p, uint16_t v, memory_order mo)
{
	atomic_store_explicit((_Atomic uint16_t *)p, v, mo);
}

struct qpair {
	struct ring rx, tx;
	uint32_t next_seq;        /* next frame to send */
	uint32_t expect_seq;      /* next frame to come back */
	uint32_t stale;           /* frames of other connections (--stale-ok) */
};

static struct {
	const char *socket;
	unsigned int queues;
	bool packed, mrg, mem_slots, irq, half_base, stale_ok;
	enum { END_POLITE, END_ABRUPT, END_KILL } end;
	unsigned int stop_at;
	unsigned int verify;
	unsigned int frames;
	uint32_t cycle;
	unsigned int ring;
	unsigned int timeout;
	int cpu;
} opt = {
	.queues = 1,
	.verify = 64,
	.ring = 256,
	.timeout = 10,
	.cpu = -1,
};

static struct {
	int sock;
	int memfd;
	uint8_t *mem;
	size_t mem_len;
	uint64_t features, pfeatures;
	unsigned int steps, steps_planned;
	struct qpair qp[MAX_QP];
	struct timespec deadline;
	const char *phase;
} peer = { .sock = -1, .memfd = -1, .phase = "start" };

static void __attribute__((format(printf, 1, 2), noreturn))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "soak_peer: cycle %" PRIu32 ": error during %s: ",
		opt.cycle, peer.phase);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void __attribute__((format(printf, 1, 2)))
say(const char *fmt, ...)
{
	va_list ap;

	printf("soak_peer: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static bool
past_deadline(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > peer.deadline.tv_sec ||
	       (now.tv_sec == peer.deadline.tv_sec &&
		now.tv_nsec >= peer.deadline.tv_nsec);
}

static int
ms_left(void)
{
	struct timespec now;
	int64_t ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t)(peer.deadline.tv_sec - now.tv_sec) * 1000 +
	     (peer.deadline.tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : (int)ms;
}

/* Told to be killed: wait for it, but not forever. */
static void __attribute__((noreturn))
wait_for_kill(void)
{
	while (!past_deadline())
		poll(NULL, 0, 100);
	fprintf(stderr, "soak_peer: cycle %" PRIu32 ": not killed within %u s\n",
		opt.cycle, opt.timeout);
	exit(3);
}

/* ---- messages ---------------------------------------------------------- */

static void
send_msg(uint32_t req, uint32_t flags, const void *payload, uint32_t size,
	 const int *fds, int nfds)
{
	uint8_t buf[sizeof(struct wire_hdr) + sizeof(struct wire_mem)];
	struct wire_hdr h = { .request = req, .flags = flags, .size = size };
	char control[CMSG_SPACE(MAX_REGIONS * sizeof(int))];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(h) + size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (size > sizeof(buf) - sizeof(h) || nfds > MAX_REGIONS)
		die("request %u: payload %u or %d fds too large", req, size,
		    nfds);
	memcpy(buf, &h, sizeof(h));
	if (size != 0)
		memcpy(buf + sizeof(h), payload, size);
	if (fdpass_attach(&mh, control, sizeof(control), fds, nfds) < 0)
		die("request %u: %d fds too many", req, nfds);
	do
		n = sendmsg(peer.sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)iov.iov_len)
		die("request %u: send: %s", req,
		    n < 0 ? strerror(errno) : "short write");
}

static void
recv_full(void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd pfd = { .fd = peer.sock, .events = POLLIN };
		ssize_t n;
		int r = poll(&pfd, 1, ms_left());

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("no reply from the backend within %u s",
			    opt.timeout);
		n = recv(peer.sock, (uint8_t *)buf + got, len - got, 0);
		if (n == 0)
			die("the backend closed the connection");
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die("receive: %s", strerror(errno));
		}
		got += (size_t)n;
	}
}

static const char *
req_name(uint32_t req)
{
	switch (req) {
	case REQ_GET_FEATURES: return "GET_FEATURES";
	case REQ_SET_FEATURES: return "SET_FEATURES";
	case REQ_SET_OWNER: return "SET_OWNER";
	case REQ_SET_MEM_TABLE: return "SET_MEM_TABLE";
	case REQ_SET_VRING_NUM: return "SET_VRING_NUM";
	case REQ_SET_VRING_ADDR: return "SET_VRING_ADDR";
	case REQ_SET_VRING_BASE: return "SET_VRING_BASE";
	case REQ_GET_VRING_BASE: return "GET_VRING_BASE";
	case REQ_SET_VRING_KICK: return "SET_VRING_KICK";
	case REQ_SET_VRING_CALL: return "SET_VRING_CALL";
	case REQ_SET_VRING_ERR: return "SET_VRING_ERR";
	case REQ_GET_PROTOCOL_FEATURES: return "GET_PROTOCOL_FEATURES";
	case REQ_SET_PROTOCOL_FEATURES: return "SET_PROTOCOL_FEATURES";
	case REQ_GET_QUEUE_NUM: return "GET_QUEUE_NUM";
	case REQ_SET_VRING_ENABLE: return "SET_VRING_ENABLE";
	case REQ_GET_MAX_MEM_SLOTS: return "GET_MAX_MEM_SLOTS";
	case REQ_ADD_MEM_REG: return "ADD_MEM_REG";
	case REQ_SET_STATUS: return "SET_STATUS";
	}
	return "?";
}

/*
 * One request of the handshake: a step. A request with a reply body
 * (reply != NULL) waits for that body; any other asks for a REPLY_ACK once
 * it is negotiated (vhost-user.rst: a request with a body of its own is
 * not acknowledged twice) and fails on a non-zero status. The step
 * --stop-at names is where the peer stops: abruptly right after sending,
 * or (kill) after the reply, to be SIGKILLed.
 */
static void
request(uint32_t req, const void *payload, uint32_t size, const int *fds,
	int nfds, void *reply, uint32_t reply_size)
{
	bool ack = reply == NULL &&
		   (peer.pfeatures >> PF_REPLY_ACK & 1) != 0;
	uint8_t body[8]; /* u64 or struct wire_state */
	struct wire_hdr h;
	uint64_t status;

	peer.steps++;
	send_msg(req, MSG_VERSION | (ack ? MSG_NEED_REPLY : 0), payload, size,
		 fds, nfds);
	if (opt.stop_at == peer.steps && opt.end == END_ABRUPT) {
		say("exiting after sending step %u (%s)", peer.steps,
		    req_name(req));
		_exit(0);
	}
	if (reply != NULL || ack) {
		recv_full(&h, sizeof(h));
		if (h.request != req || (h.flags & 0x3) != MSG_VERSION ||
		    !(h.flags & MSG_REPLY))
			die("%s: reply header request %u flags 0x%x",
			    req_name(req), h.request, h.flags);
		if (h.size != (reply != NULL ? reply_size : 8) ||
		    h.size > sizeof(body))
			die("%s: reply of %u bytes", req_name(req), h.size);
		recv_full(body, h.size);
		if (reply != NULL) {
			memcpy(reply, body, reply_size);
		} else {
			memcpy(&status, body, 8);
			if (status != 0)
				die("%s: backend answered status %" PRIu64,
				    req_name(req), status);
		}
	}
	if (opt.stop_at == peer.steps && opt.end == END_KILL) {
		say("paused after step %u (%s)", peer.steps, req_name(req));
		wait_for_kill();
	}
}

static uint64_t
request_u64(uint32_t req)
{
	uint64_t v = 0;

	request(req, NULL, 0, NULL, 0, &v, sizeof(v));
	return v;
}

static void
request_state(uint32_t req, uint32_t index, uint32_t num)
{
	struct wire_state s = { .index = index, .num = num };

	request(req, &s, sizeof(s), NULL, 0, NULL, 0);
}

static void
request_u64_set(uint32_t req, uint64_t v, int fd)
{
	request(req, &v, sizeof(v), &fd, fd >= 0 ? 1 : 0, NULL, 0);
}

/* ---- rings ------------------------------------------------------------- */

static uint8_t *
gpa_ptr(uint64_t gpa)
{
	return peer.mem + (gpa - GPA_BASE);
}

static void
ring_init(struct ring *r, unsigned int qp, bool tx)
{
	uint64_t base = GPA_BASE + (uint64_t)qp * QP_SPAN;

	memset(r, 0, sizeof(*r));
	r->vring = (uint16_t)(2 * qp + (tx ? 1 : 0));
	r->tx = tx;
	r->size = (uint16_t)opt.ring;
	/* tx chains take up to two descriptors: half as many ids */
	r->nids = tx ? r->size / 2 : r->size;
	r->ring_gpa = base + (tx ? TX_RING_OFF : RX_RING_OFF);
	r->buf_gpa = base + (tx ? TX_BUF_OFF : RX_BUF_OFF);
	r->ring_hva = gpa_ptr(r->ring_gpa);
	r->buf_hva = gpa_ptr(r->buf_gpa);
	r->kickfd = r->callfd = r->errfd = -1;
	for (uint16_t i = 0; i < r->nids; i++)
		r->free_ids[i] = (uint16_t)(r->nids - 1 - i);
	r->nfree = r->nids;
	if (opt.packed) {
		/* §2.8.10: ring 16-aligned, then the two event areas */
		r->pdesc = (struct vring_packed_desc *)r->ring_hva;
		r->avail_gpa = r->ring_gpa + 16ull * r->size;
		r->used_gpa = r->avail_gpa + 64;
		r->drv_ev = (struct vring_packed_desc_event *)
			    gpa_ptr(r->avail_gpa);
		r->dev_ev = (struct vring_packed_desc_event *)
			    gpa_ptr(r->used_gpa);
		/* §2.8.1: both wrap counters start at 1, no slot available */
		r->avail_wrap = r->used_wrap = true;
		r->drv_ev->flags = opt.irq ? VRING_PACKED_EVENT_FLAG_ENABLE :
					     VRING_PACKED_EVENT_FLAG_DISABLE;
	} else {
		/* §2.7: desc 16-aligned, avail 2, used 4 (here: a page) */
		r->desc = (struct vring_desc *)r->ring_hva;
		r->avail_gpa = r->ring_gpa + 16ull * r->size;
		r->used_gpa = (r->avail_gpa + 6 + 2ull * r->size + 4095) &
			      ~4095ull;
		r->avail = (struct vring_avail *)gpa_ptr(r->avail_gpa);
		r->used = (struct vring_used *)gpa_ptr(r->used_gpa);
		r->avail->flags = opt.irq ? 0 : VRING_AVAIL_F_NO_INTERRUPT;
	}
}

static void
packed_next(uint16_t *slot, bool *wrap, uint16_t size)
{
	if (++*slot == size) {
		*slot = 0;
		*wrap = !*wrap;
	}
}

/*
 * Make buffer id available: rx, one device-writable buffer; tx, the frame
 * of len bytes (virtio-net header included), in one descriptor or, when
 * chain, the header and the frame in two.
 */
static void
ring_add(struct ring *r, uint16_t id, uint32_t len, bool chain)
{
	uint64_t buf = r->buf_gpa + (uint64_t)id * BUF_SIZE;
	uint16_t wflag = r->tx ? 0 : VRING_DESC_F_WRITE;
	uint16_t n = chain ? 2 : 1;
	/* a chained frame starts 64 bytes into its buffer, the header at 0 */
	uint64_t addr[2] = { buf, buf + 64 };
	uint32_t lens[2] = { chain ? NET_HDR_LEN : len,
			     len - NET_HDR_LEN };

	r->ndesc[id] = n;
	if (opt.packed) {
		uint16_t head = r->p_avail;
		uint16_t head_flags = 0;

		for (uint16_t i = 0; i < n; i++) {
			struct vring_packed_desc *d = &r->pdesc[r->p_avail];
			uint16_t f = wflag |
				     (i + 1 < n ? VRING_DESC_F_NEXT : 0) |
				     (r->avail_wrap ?
				      1u << VRING_PACKED_DESC_F_AVAIL :
				      1u << VRING_PACKED_DESC_F_USED);

			d->addr = addr[i];
			d->len = lens[i];
			d->id = id;
			if (i == 0)
				head_flags = f;
			else
				d->flags = f;
			packed_next(&r->p_avail, &r->avail_wrap, r->size);
		}
		/* §2.8.21: the head's flags last, with release */
		ring_store_u16(&r->pdesc[head].flags, head_flags,
			       memory_order_release);
	} else {
		/* split: id i owns table entries i (rx) or 2i, 2i + 1 (tx) */
		uint16_t d0 = r->tx ? (uint16_t)(2 * id) : id;

		for (uint16_t i = 0; i < n; i++) {
			struct vring_desc *d = &r->desc[d0 + i];

			d->addr = addr[i];
			d->len = lens[i];
			d->flags = wflag | (i + 1 < n ? VRING_DESC_F_NEXT : 0);
			d->next = i + 1 < n ? (uint16_t)(d0 + i + 1) : 0;
		}
		r->avail->ring[r->avail_idx & (r->size - 1)] = d0;
		r->avail_idx++;
	}
	r->dirty = true;
}

/* Publish what ring_add() wrote (split), and kick unless told not to. */
static void
ring_publish(struct ring *r)
{
	bool kick;

	if (!r->dirty)
		return;
	r->dirty = false;
	if (!opt.packed)
		ring_store_u16(&r->avail->idx, r->avail_idx,
			       memory_order_release);
	/* the device's notification flags are read after our stores */
	atomic_thread_fence(memory_order_seq_cst);
	if (opt.packed)
		kick = ring_load_u16(&r->dev_ev->flags,
				     memory_order_relaxed) !=
		       VRING_PACKED_EVENT_FLAG_DISABLE;
	else
		kick = !(ring_load_u16(&r->used->flags,
				       memory_order_relaxed) &
			 VRING_USED_F_NO_NOTIFY);
	if (kick && eventfd_write(r->kickfd, 1) != 0)
		die("kick vring %u: %s", r->vring, strerror(errno));
}

/* Next used buffer: its id and the length the device wrote. */
static bool
ring_get_used(struct ring *r, uint16_t *id, uint32_t *len)
{
	uint32_t raw_id;

	if (opt.packed) {
		struct vring_packed_desc *d = &r->pdesc[r->p_used];
		uint16_t f = ring_load_u16(&d->flags, memory_order_acquire);
		bool a = f >> VRING_PACKED_DESC_F_AVAIL & 1;
		bool u = f >> VRING_PACKED_DESC_F_USED & 1;

		/* §2.8.1: used in this lap when both bits equal the counter */
		if (a != r->used_wrap || u != r->used_wrap)
			return false;
		raw_id = d->id;
		*len = d->len;
		if (raw_id >= r->nids || r->ndesc[raw_id] == 0)
			die("vring %u: device used id %u, not outstanding",
			    r->vring, raw_id);
		for (uint16_t k = 0; k < r->ndesc[raw_id]; k++)
			packed_next(&r->p_used, &r->used_wrap, r->size);
	} else {
		struct vring_used_elem *e;

		if (ring_load_u16(&r->used->idx, memory_order_acquire) ==
		    r->used_idx)
			return false;
		e = &r->used->ring[r->used_idx & (r->size - 1)];
		raw_id = e->id;
		*len = e->len;
		r->used_idx++;
		if (r->tx) {
			if (raw_id % 2 != 0 || raw_id / 2 >= r->nids ||
			    r->ndesc[raw_id / 2] == 0)
				die("vring %u: device used head %u, not outstanding",
				    r->vring, raw_id);
			raw_id /= 2;
		} else if (raw_id >= r->nids || r->ndesc[raw_id] == 0) {
			die("vring %u: device used id %u, not outstanding",
			    r->vring, raw_id);
		}
	}
	*id = (uint16_t)raw_id;
	r->ndesc[*id] = 0;
	return true;
}

/* ---- frames ------------------------------------------------------------ */

static uint32_t
frame_len(unsigned int q, uint32_t seq)
{
	uint32_t h = (seq * 2654435761u) ^ (q * 40503u);

	return MIN_FRAME + (h >> 7) % (MAX_FRAME - MIN_FRAME + 1);
}

static uint8_t
pattern(uint32_t cycle, unsigned int q, uint32_t seq, uint32_t j)
{
	return (uint8_t)(seq * 7u + j * 13u + q * 101u + cycle);
}

static void
frame_write(uint8_t *f, unsigned int q, uint32_t seq, uint32_t len)
{
	static const uint8_t dst[6] = { 0x02, 0x53, 0x4f, 0x41, 0x4b, 0x01 };
	static const uint8_t src[6] = { 0x02, 0x53, 0x4f, 0x41, 0x4b, 0x02 };
	struct soak_hdr h = {
		.magic = SOAK_MAGIC,
		.cycle = opt.cycle,
		.queue = (uint16_t)q,
		.seq = seq,
		.len = len,
	};

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = SOAK_ETHERTYPE >> 8;
	f[13] = SOAK_ETHERTYPE & 0xff;
	memcpy(f + ETH_LEN, &h, sizeof(h));
	for (uint32_t j = FRAME_HDRS; j < len; j++)
		f[j] = pattern(opt.cycle, q, seq, j);
}

/* Check one echoed frame (virtio-net header first) on queue pair q. */
static void
frame_check(struct qpair *p, unsigned int q, const uint8_t *b, uint32_t len)
{
	struct virtio_net_hdr_mrg_rxbuf vh;
	struct soak_hdr h;
	const uint8_t *f = b + NET_HDR_LEN;
	bool stale;

	if (len < NET_HDR_LEN + FRAME_HDRS || len > NET_HDR_LEN + MAX_FRAME)
		die("queue %u: used length %u after frame %u", q, len,
		    p->expect_seq);
	memcpy(&vh, b, sizeof(vh));
	if (vh.hdr.flags != 0 || vh.hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE)
		die("queue %u: virtio-net header flags 0x%x gso %u", q,
		    vh.hdr.flags, vh.hdr.gso_type);
	/* one buffer per frame; without MRG_RXBUF the spec asks for 1 too */
	if (vh.num_buffers != 1)
		die("queue %u: num_buffers %u", q, vh.num_buffers);
	memcpy(&h, f + ETH_LEN, sizeof(h));
	if (f[12] != SOAK_ETHERTYPE >> 8 || f[13] != (SOAK_ETHERTYPE & 0xff) ||
	    h.magic != SOAK_MAGIC)
		die("queue %u: not a soak frame (after frame %u)", q,
		    p->expect_seq);
	/*
	 * A frame of an earlier connection: an application that forwards
	 * (testpmd) may hold frames it received from the last connection
	 * while this one comes up, and send them here first. --stale-ok
	 * accepts a few of those, before any of ours, checked all the same.
	 */
	stale = h.cycle != opt.cycle;
	if (stale && (!opt.stale_ok || p->expect_seq != 0 ||
		      p->stale >= STALE_MAX))
		die("queue %u: frame %u of cycle %u came back in cycle %u "
		    "(after %u of ours, %u stale before)", q, h.seq, h.cycle,
		    opt.cycle, p->expect_seq, p->stale);
	if (h.queue != q)
		die("queue %u: frame %u sent on queue %u came back here", q,
		    h.seq, h.queue);
	if (!stale && h.seq != p->expect_seq)
		die("queue %u: frame %u came back, expected %u (lost, "
		    "reordered or duplicated)", q, h.seq, p->expect_seq);
	if (h.len != frame_len(q, h.seq) || h.len != len - NET_HDR_LEN)
		die("queue %u: frame %u: length %u, header says %u, sent %u",
		    q, h.seq, len - NET_HDR_LEN, h.len, frame_len(q, h.seq));
	for (uint32_t j = FRAME_HDRS; j < h.len; j++)
		if (f[j] != pattern(h.cycle, q, h.seq, j))
			die("queue %u: frame %u: byte %u is 0x%02x, sent 0x%02x",
			    q, h.seq, j, f[j], pattern(h.cycle, q, h.seq, j));
	if (stale)
		p->stale++;
	else
		p->expect_seq++;
}

/* ---- set-up ------------------------------------------------------------ */

static void
connect_backend(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	peer.phase = "connect";
	if (strlen(opt.socket) >= sizeof(a.sun_path))
		die("socket path too long");
	strcpy(a.sun_path, opt.socket);
	for (;;) {
		peer.sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (peer.sock < 0)
			die("socket: %s", strerror(errno));
		if (connect(peer.sock, (struct sockaddr *)&a, sizeof(a)) == 0)
			return;
		if ((errno != ENOENT && errno != ECONNREFUSED) ||
		    past_deadline())
			die("connect %s: %s", opt.socket, strerror(errno));
		close(peer.sock);
		poll(NULL, 0, 10);
	}
}

static void
make_memory(void)
{
	peer.mem_len = (size_t)opt.queues * QP_SPAN;
	peer.memfd = memfd_create("soak-guest", MFD_CLOEXEC);
	if (peer.memfd < 0 || ftruncate(peer.memfd, (off_t)peer.mem_len) != 0)
		die("guest memory: %s", strerror(errno));
	peer.mem = mmap(NULL, peer.mem_len, PROT_READ | PROT_WRITE,
			MAP_SHARED, peer.memfd, 0);
	if (peer.mem == MAP_FAILED)
		die("mmap guest memory: %s", strerror(errno));
}

/* Guest memory: one region per queue pair, each at its memfd offset. */
static void
send_memory(void)
{
	struct wire_region r[MAX_QP];

	for (unsigned int q = 0; q < opt.queues; q++) {
		r[q].gpa = GPA_BASE + (uint64_t)q * QP_SPAN;
		r[q].size = QP_SPAN;
		r[q].uaddr = (uint64_t)(uintptr_t)(peer.mem +
						   (size_t)q * QP_SPAN);
		r[q].mmap_offset = (uint64_t)q * QP_SPAN;
	}
	if (opt.mem_slots) {
		uint64_t slots = request_u64(REQ_GET_MAX_MEM_SLOTS);

		if (slots < opt.queues)
			die("backend offers %" PRIu64 " memory slots", slots);
		for (unsigned int q = 0; q < opt.queues; q++) {
			struct wire_mem_reg m = { .r = r[q] };

			request(REQ_ADD_MEM_REG, &m, sizeof(m), &peer.memfd, 1,
				NULL, 0);
		}
	} else {
		struct wire_mem m = { .nregions = opt.queues };
		int fds[MAX_QP];

		for (unsigned int q = 0; q < opt.queues; q++) {
			m.r[q] = r[q];
			fds[q] = peer.memfd;
		}
		request(REQ_SET_MEM_TABLE, &m,
			(uint32_t)(8 + opt.queues * sizeof(struct wire_region)),
			fds, (int)opt.queues, NULL, 0);
	}
}

static void
send_vring(struct ring *r)
{
	struct wire_addr a = {
		.index = r->vring,
		.desc = (uint64_t)(uintptr_t)gpa_ptr(r->ring_gpa),
		.avail = (uint64_t)(uintptr_t)gpa_ptr(r->avail_gpa),
		.used = (uint64_t)(uintptr_t)gpa_ptr(r->used_gpa),
	};
	uint32_t base = 0;

	r->kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->callfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->errfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->kickfd < 0 || r->callfd < 0 || r->errfd < 0)
		die("eventfd: %s", strerror(errno));
	if (opt.packed) {
		/*
		 * vhost-user.rst: slot 0 with wrap counter 1 for both halves;
		 * --half-base sends only the low half, as DPDK's
		 * virtio_user does.
		 */
		base = 1u << 15;
		if (!opt.half_base)
			base |= base << 16;
	}
	request_state(REQ_SET_VRING_NUM, r->vring, r->size);
	request_state(REQ_SET_VRING_BASE, r->vring, base);
	request(REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, NULL, 0);
	request_u64_set(REQ_SET_VRING_KICK, r->vring, r->kickfd);
	request_u64_set(REQ_SET_VRING_CALL, r->vring, r->callfd);
	request_u64_set(REQ_SET_VRING_ERR, r->vring, r->errfd);
}

/* Every step of handshake(), counted the same way (for --stop-at). */
static unsigned int
handshake_steps(bool status)
{
	unsigned int n = 6;                          /* ..SET_FEATURES */

	n += status ? 2 : 0;                         /* FEATURES_OK, DRIVER_OK */
	n += opt.mem_slots ? 1 + opt.queues : 1;     /* memory */
	n += 2 * opt.queues * 7;                     /* 6 per vring + enable */
	return n;
}

static void
handshake(void)
{
	uint64_t offered, want, pwant;
	bool status;

	peer.phase = "handshake";
	offered = request_u64(REQ_GET_FEATURES);
	want = 1ull << VIRTIO_F_VERSION_1 | 1ull << F_PROTOCOL_FEATURES;
	if ((offered & want) != want)
		die("backend offers features 0x%" PRIx64 " without VERSION_1 "
		    "or PROTOCOL_FEATURES", offered);
	if (opt.packed)
		want |= 1ull << VIRTIO_F_RING_PACKED;
	if (opt.mrg)
		want |= 1ull << VIRTIO_NET_F_MRG_RXBUF;
	if (opt.queues > 1)
		want |= 1ull << VIRTIO_NET_F_MQ;
	if (want & ~offered)
		die("backend does not offer 0x%" PRIx64, want & ~offered);
	peer.features = want;

	offered = request_u64(REQ_GET_PROTOCOL_FEATURES);
	pwant = 1ull << PF_REPLY_ACK | 1ull << PF_MQ;
	if ((offered & pwant) != pwant)
		die("backend offers protocol features 0x%" PRIx64
		    " without REPLY_ACK or MQ", offered);
	status = offered >> PF_STATUS & 1;
	if (status)
		pwant |= 1ull << PF_STATUS;
	if (opt.mem_slots) {
		if (!(offered >> PF_CONFIGURE_MEM_SLOTS & 1))
			die("backend does not offer CONFIGURE_MEM_SLOTS");
		pwant |= 1ull << PF_CONFIGURE_MEM_SLOTS;
	}
	peer.steps_planned = handshake_steps(status);
	request_u64_set(REQ_SET_PROTOCOL_FEATURES, pwant, -1);
	/* acks from here on */
	peer.pfeatures = pwant;
	if (request_u64(REQ_GET_QUEUE_NUM) < opt.queues)
		die("backend serves fewer than %u queue pairs", opt.queues);
	request(REQ_SET_OWNER, NULL, 0, NULL, 0, NULL, 0);
	request_u64_set(REQ_SET_FEATURES, peer.features, -1);
	if (status)
		request_u64_set(REQ_SET_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE |
				VIRTIO_CONFIG_S_DRIVER |
				VIRTIO_CONFIG_S_FEATURES_OK, -1);
	send_memory();
	for (unsigned int q = 0; q < opt.queues; q++) {
		ring_init(&peer.qp[q].rx, q, false);
		ring_init(&peer.qp[q].tx, q, true);
		send_vring(&peer.qp[q].rx);
		send_vring(&peer.qp[q].tx);
	}
	for (unsigned int v = 0; v < 2 * opt.queues; v++)
		request_state(REQ_SET_VRING_ENABLE, v, 1);
	if (status)
		request_u64_set(REQ_SET_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE |
				VIRTIO_CONFIG_S_DRIVER |
				VIRTIO_CONFIG_S_FEATURES_OK |
				VIRTIO_CONFIG_S_DRIVER_OK, -1);
	if (peer.steps != peer.steps_planned)
		die("internal: %u handshake steps, %u planned", peer.steps,
		    peer.steps_planned);
}

/* ---- traffic ----------------------------------------------------------- */

/*
 * One pass over queue pair q: take back transmitted buffers, check and
 * repost echoed ones, send up to a burst while fewer than limit frames
 * were sent. At most size / 2 - 1 frames are
 * in flight, fewer than the receive ring holds, so a correct backend never
 * has to drop one. Returns whether anything moved.
 */
static bool
pump(unsigned int q, uint32_t limit)
{
	struct qpair *p = &peer.qp[q];
	bool moved = false;
	uint16_t id;
	uint32_t len;

	while (ring_get_used(&p->tx, &id, &len)) {
		p->tx.free_ids[p->tx.nfree++] = id;
		moved = true;
	}
	while (ring_get_used(&p->rx, &id, &len)) {
		frame_check(p, q, p->rx.buf_hva + (size_t)id * BUF_SIZE, len);
		ring_add(&p->rx, id, BUF_SIZE, false);
		moved = true;
	}
	ring_publish(&p->rx);
	for (int burst = 0; burst < 32 && p->next_seq < limit; burst++) {
		uint32_t flen, seq = p->next_seq;
		bool chain = seq % 3 == 1;
		uint8_t *b;

		if (p->tx.nfree == 0 ||
		    p->next_seq - p->expect_seq >= p->tx.nids - 1u)
			break;
		id = p->tx.free_ids[--p->tx.nfree];
		b = p->tx.buf_hva + (size_t)id * BUF_SIZE;
		flen = frame_len(q, seq);
		memset(b, 0, NET_HDR_LEN);
		frame_write(b + (chain ? 64 : NET_HDR_LEN), q, seq, flen);
		ring_add(&p->tx, id, NET_HDR_LEN + flen, chain);
		p->next_seq++;
		moved = true;
	}
	ring_publish(&p->tx);
	return moved;
}

static void
start_rx(void)
{
	for (unsigned int q = 0; q < opt.queues; q++) {
		struct ring *r = &peer.qp[q].rx;

		while (r->nfree > 0)
			ring_add(r, r->free_ids[--r->nfree], BUF_SIZE, false);
		ring_publish(r);
	}
}

static bool
all_verified(unsigned int n)
{
	for (unsigned int q = 0; q < opt.queues; q++)
		if (peer.qp[q].expect_seq < n)
			return false;
	return true;
}

static void
report_counts(char *buf, size_t room)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned int q = 0; q < opt.queues && off < room; q++) {
		const struct qpair *p = &peer.qp[q];

		off += (size_t)snprintf(buf + off, room - off,
					"%sq%u sent %u echoed %u", q ? ", " : "",
					q, p->next_seq, p->expect_seq);
		if (p->stale != 0 && off < room)
			off += (size_t)snprintf(buf + off, room - off,
						" (+%u stale)", p->stale);
	}
}

static void
traffic(void)
{
	unsigned int idle = 0;
	char counts[256];

	peer.phase = "traffic";
	start_rx();
	while (!all_verified(opt.verify)) {
		bool moved = false;

		for (unsigned int q = 0; q < opt.queues; q++)
			moved |= pump(q, UINT32_MAX);
		if (moved) {
			idle = 0;
		} else if (++idle % 64 == 0) {
			if (past_deadline()) {
				report_counts(counts, sizeof(counts));
				die("echoes stopped: %s", counts);
			}
			sched_yield();
		}
	}
	report_counts(counts, sizeof(counts));
	say("traffic verified: %s", counts);
}

/* Keep traffic going until the parent's SIGKILL lands. */
static void __attribute__((noreturn))
traffic_until_killed(void)
{
	peer.phase = "traffic until killed";
	while (!past_deadline()) {
		for (unsigned int q = 0; q < opt.queues; q++)
			pump(q, UINT32_MAX);
	}
	fprintf(stderr, "soak_peer: cycle %" PRIu32 ": not killed within %u s\n",
		opt.cycle, opt.timeout);
	exit(3);
}

/* Polite ending: send the rest, drain, take the rings back, check them. */
static void
stop_politely(void)
{
	unsigned int idle = 0;
	char counts[256];
	bool done = false;

	peer.phase = "drain";
	while (!done) {
		bool moved = false;

		done = true;
		for (unsigned int q = 0; q < opt.queues; q++) {
			struct qpair *p = &peer.qp[q];

			moved |= pump(q, opt.frames);
			if (p->next_seq < opt.frames ||
			    p->expect_seq != p->next_seq ||
			    p->tx.nfree != p->tx.nids)
				done = false;
		}
		if (moved) {
			idle = 0;
		} else if (!done && ++idle % 64 == 0) {
			if (past_deadline()) {
				report_counts(counts, sizeof(counts));
				die("frames missing: %s", counts);
			}
			sched_yield();
		}
	}
	peer.phase = "GET_VRING_BASE";
	for (unsigned int q = 0; q < opt.queues; q++) {
		for (int t = 0; t < 2; t++) {
			struct ring *r = t ? &peer.qp[q].tx : &peer.qp[q].rx;
			struct wire_state s = { .index = r->vring }, got;
			uint32_t want;

			/*
			 * Everything we made available on tx was used; on rx
			 * the device used exactly what we read back. Packed:
			 * next slot and wrap counter, for avail and used.
			 */
			if (opt.packed) {
				uint16_t slot = t ? r->p_avail : r->p_used;
				bool wrap = t ? r->avail_wrap : r->used_wrap;

				want = (uint32_t)slot | (uint32_t)wrap << 15;
				want |= want << 16;
			} else {
				want = t ? r->avail_idx : r->used_idx;
			}
			request(REQ_GET_VRING_BASE, &s, sizeof(s), NULL, 0,
				&got, sizeof(got));
			if (got.index != r->vring || got.num != want)
				die("GET_VRING_BASE vring %u: index %u base 0x%x, "
				    "expected 0x%x", r->vring, got.index,
				    got.num, want);
		}
	}
	report_counts(counts, sizeof(counts));
	say("done: %s; every frame back once, vring bases as expected",
	    counts);
}

static void
release(void)
{
	for (unsigned int q = 0; q < opt.queues; q++) {
		for (int t = 0; t < 2; t++) {
			struct ring *r = t ? &peer.qp[q].tx : &peer.qp[q].rx;

			if (r->kickfd >= 0)
				close(r->kickfd);
			if (r->callfd >= 0)
				close(r->callfd);
			if (r->errfd >= 0)
				close(r->errfd);
		}
	}
	if (peer.mem != NULL && peer.mem != MAP_FAILED)
		munmap(peer.mem, peer.mem_len);
	if (peer.memfd >= 0)
		close(peer.memfd);
	if (peer.sock >= 0)
		close(peer.sock);
}

/* ---- main -------------------------------------------------------------- */

static void
usage(FILE *f)
{
	fprintf(f,
"usage: soak_peer --socket PATH [options]\n"
"One vhost-user connection: handshake, echo traffic, then an ending.\n"
"  --socket PATH   backend's vhost-user socket (retried until --timeout)\n"
"  --queues N      queue pairs to set up and use (1-%d, default 1)\n"
"  --packed        packed rings (default split)\n"
"  --ring N        ring size (%d-%d; split: a power of 2; default 256)\n"
"  --mrg           negotiate VIRTIO_NET_F_MRG_RXBUF\n"
"  --mem-slots     ADD_MEM_REG (CONFIGURE_MEM_SLOTS) instead of\n"
"                  SET_MEM_TABLE\n"
"  --irq           leave interrupts (call eventfds) enabled\n"
"  --half-base     packed: SET_VRING_BASE with the low half only\n"
"  --stale-ok      accept up to %u frames of other connections per queue,\n"
"                  before the first of ours (a forwarding application may\n"
"                  hold some across a reconnect); their content is checked\n"
"  --end MODE      polite (default): drain, GET_VRING_BASE, close;\n"
"                  abrupt: exit once traffic is verified, frames in flight;\n"
"                  kill: keep traffic going until SIGKILLed\n"
"  --stop-at N     end at handshake step N instead (counted from 1,\n"
"                  taken modulo the number of steps): kill pauses after\n"
"                  the step's reply, abrupt exits right after sending it\n"
"  --verify N      frames per queue pair to check before the ending\n"
"                  (default 64)\n"
"  --frames N      polite: frames per queue pair in all (default --verify)\n"
"  --cycle N       cycle number stamped in every frame\n"
"  --timeout SEC   bound on the whole run (default 10)\n"
"  --cpu N         pin to CPU N\n",
		MAX_QP, MIN_RING, MAX_RING, STALE_MAX);
}

static unsigned long
num_arg(const char *name, const char *s, unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "soak_peer: bad --%s %s (%lu-%lu)\n", name, s,
			lo, hi);
		exit(2);
	}
	return v;
}

static void
parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "queues", required_argument, NULL, 'q' },
		{ "packed", no_argument, NULL, 'p' },
		{ "ring", required_argument, NULL, 'r' },
		{ "mrg", no_argument, NULL, 'm' },
		{ "mem-slots", no_argument, NULL, 'M' },
		{ "irq", no_argument, NULL, 'i' },
		{ "half-base", no_argument, NULL, 'H' },
		{ "stale-ok", no_argument, NULL, 'o' },
		{ "end", required_argument, NULL, 'e' },
		{ "stop-at", required_argument, NULL, 'S' },
		{ "verify", required_argument, NULL, 'v' },
		{ "frames", required_argument, NULL, 'f' },
		{ "cycle", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "cpu", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': opt.socket = optarg; break;
		case 'q':
			opt.queues = (unsigned int)num_arg("queues", optarg, 1,
							   MAX_QP);
			break;
		case 'p': opt.packed = true; break;
		case 'r':
			opt.ring = (unsigned int)num_arg("ring", optarg,
							 MIN_RING, MAX_RING);
			break;
		case 'm': opt.mrg = true; break;
		case 'M': opt.mem_slots = true; break;
		case 'i': opt.irq = true; break;
		case 'H': opt.half_base = true; break;
		case 'o': opt.stale_ok = true; break;
		case 'e':
			if (strcmp(optarg, "polite") == 0)
				opt.end = END_POLITE;
			else if (strcmp(optarg, "abrupt") == 0)
				opt.end = END_ABRUPT;
			else if (strcmp(optarg, "kill") == 0)
				opt.end = END_KILL;
			else {
				fprintf(stderr, "soak_peer: bad --end %s\n",
					optarg);
				exit(2);
			}
			break;
		case 'S':
			opt.stop_at = (unsigned int)num_arg("stop-at", optarg,
							    0, 1000000);
			break;
		case 'v':
			opt.verify = (unsigned int)num_arg("verify", optarg, 1,
							   1u << 30);
			break;
		case 'f':
			opt.frames = (unsigned int)num_arg("frames", optarg, 1,
							   1u << 30);
			break;
		case 'c':
			opt.cycle = (uint32_t)num_arg("cycle", optarg, 0,
						      UINT32_MAX);
			break;
		case 't':
			opt.timeout = (unsigned int)num_arg("timeout", optarg,
							    1, 3600);
			break;
		case 'C':
			opt.cpu = (int)num_arg("cpu", optarg, 0, CPU_SETSIZE - 1);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc || opt.socket == NULL) {
		usage(stderr);
		exit(2);
	}
	if (!opt.packed && (opt.ring & (opt.ring - 1)) != 0) {
		fprintf(stderr, "soak_peer: split ring size %u is not a power of 2\n",
			opt.ring);
		exit(2);
	}
	if (opt.frames < opt.verify)
		opt.frames = opt.verify;
	if (opt.stop_at != 0 && opt.end == END_POLITE) {
		fprintf(stderr, "soak_peer: --stop-at needs --end kill or abrupt\n");
		exit(2);
	}
}

int
main(int argc, char **argv)
{
	parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (opt.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(opt.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) != 0)
			fprintf(stderr, "soak_peer: pin to CPU %d: %s\n",
				opt.cpu, strerror(errno));
	}
	clock_gettime(CLOCK_MONOTONIC, &peer.deadline);
	peer.deadline.tv_sec += opt.timeout;
	/* every wait is bounded by the deadline but a blocking send: a hard
	 * bound too (SIGALRM ends the process, the script sees status 142) */
	alarm(opt.timeout + 5);

	make_memory();
	if (opt.stop_at != 0) {
		/* a step of this configuration, whatever the number given */
		unsigned int n = handshake_steps(true);

		opt.stop_at = (opt.stop_at - 1) % n + 1;
	}
	connect_backend();
	handshake();
	traffic();
	switch (opt.end) {
	case END_KILL:
		traffic_until_killed();
	case END_ABRUPT:
		/* no GET_VRING_BASE, nothing drained: the kernel closes all */
		_exit(0);
	case END_POLITE:
		stop_politely();
		break;
	}
	release();
	return 0;
}
