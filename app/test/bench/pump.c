/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhu-pump: a vhost-user frontend that costs almost nothing per frame, to
 * load a backend (any: dpdk-testpmd with net_vhu or net_vhost forwarding
 * frames back) and measure it. It connects to the backend's socket (or,
 * with --listen, waits for a backend in client mode), shares guest memory
 * (a memfd, or a hugetlbfs file with --huge), sets up split or packed
 * rings (MRG_RXBUF, IN_ORDER, indirect descriptors as asked), writes
 * every frame once, and then only recycles descriptors on
 * one pinned CPU: a used transmit buffer gets a new sequence number (one
 * cache line written) and is posted again; a used receive buffer has its
 * first cache line read (magic and sequence number, which must advance)
 * and is posted again; one received frame in VERIFY_EVERY is checked
 * whole. No kicks and no calls: avail flags NO_INTERRUPT (split) or the
 * driver event area DISABLE (packed); the backend polls.
 *
 * The vhost-user messages go through the test frontend's helpers
 * (app/test/protocol/fe.c); the rings are this file's own lean loop,
 * because app/test/virtqueue/virtq_driver.c tracks every chain (ids,
 * per-head buffers, poisoning) at a cost per frame a pump cannot pay.
 *
 * Result: one line on stdout,
 *   pump: layout=.. queues=.. size=.. ring=.. seconds=.. tx_frames=..
 *         rx_frames=.. tx_mpps=.. rx_mpps=.. pump_cycles_per_frame=..
 *         frames_per_poll=.. busy=.. thread_cpu=.. preempted=..
 *         verified=.. errors=..
 * pump_cycles_per_frame is the TSC cycles of busy polls (those that moved
 * a frame) over the frames they moved, both directions (see run() for
 * preempted polls); frames_per_poll is those frames per busy poll; busy
 * the share of all polls' cycles (preempted ones included) busy ones
 * took; thread_cpu the pump's CPU time over the wall time (below 1: the
 * CPU was shared). Exit status 0 when frames went both ways and no check
 * failed, 1 otherwise, 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
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

#include <rte_cycles.h>

#include "../protocol/fe.h"
#include "msg.h"

#define F_PROTOCOL_FEATURES 30 /* vhost-user's own feature bit */
#define PF_MQ 0
#define PF_REPLY_ACK 3
#define PF_STATUS 16

#define MAX_QP 16
#define MAX_RING 4096
#define BUF_SIZE 2048u
#define NET_HDR_LEN 12u          /* VERSION_1: num_buffers always there */
#define GPA_BASE 0x40000000ull
#define RING_AREA (128u << 10)   /* a ring of MAX_RING fits (split: 104 KiB) */
#define VERIFY_EVERY 64u         /* received frames per whole-frame check */
#define REPLY_MS 30000           /* a backend under valgrind answers slowly */

/* Frame: Ethernet header, then this, then a pattern of the buffer id. */
#define PUMP_MAGIC 0x504d5550u   /* "PUMP" in memory order, little endian */
#define PUMP_ETHERTYPE 0x88b5    /* IEEE 802 local experimental */
#define ETH_LEN 14u
struct pump_hdr {
	uint32_t magic;
	uint32_t seq;             /* written per send */
	uint16_t id;              /* transmit buffer, names the pattern */
	uint16_t pad;
};
#define FRAME_HDRS (ETH_LEN + sizeof(struct pump_hdr))

struct ring {
	uint16_t vring;
	uint16_t size, mask;
	bool tx;
	uint8_t *area;            /* ring memory (our mapping) */
	uint64_t area_gpa;
	uint8_t *buf;             /* size buffers of BUF_SIZE */
	uint64_t buf_gpa;
	uint32_t post_len;        /* bytes of every buffer the device sees */
	/*
	 * What a descriptor of buffer id holds: addr desc_gpa + id *
	 * desc_stride, len desc_len, flags desc_flags (direct: the buffer and
	 * WRITE on receive; --indirect 1: buffer id's one-entry indirect
	 * table and INDIRECT).
	 */
	uint64_t desc_gpa;
	uint32_t desc_stride, desc_len;
	uint16_t desc_flags;
	int kickfd, callfd;
	/* split */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx, used_idx;
	/* packed (virtio 1.2 §2.8) */
	struct vring_packed_desc *pdesc;
	struct vring_packed_desc_event *drv_ev, *dev_ev;
	uint16_t p_avail, p_used;
	bool avail_wrap, used_wrap;
	/* a packed pass's buffers (an IN_ORDER batch may be a ring long) */
	uint16_t ids[MAX_RING];
	uint32_t lens[MAX_RING];
};

struct qpair {
	struct ring rx, tx;
	uint32_t next_seq;        /* next sequence number sent */
	uint32_t last_seq;        /* last one received */
};

static struct {
	const char *socket;
	bool listen, packed, mrg, in_order, indirect, touch;
	unsigned int queues, size, ring, seconds;
	int cpu;
	const char *huge;
} opt = {
	.queues = 1, .size = 64, .ring = 256, .seconds = 5, .cpu = -1,
	.touch = true,
};

static struct {
	int sock;
	int memfd;
	uint8_t *mem;
	size_t mem_len;
	uint64_t features;
	uint32_t flen;            /* frame length (without the net header) */
	struct qpair qp[MAX_QP];
	uint64_t tx_frames, rx_frames, verified, errors;
	uint64_t busy_cycles, all_cycles;
} pump = { .sock = -1, .memfd = -1 };

static void __attribute__((format(printf, 1, 2), noreturn))
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("vhu-pump: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* Errors are counted; the first few are told. */
static void __attribute__((format(printf, 1, 2)))
error(const char *fmt, ...)
{
	va_list ap;

	if (pump.errors++ >= 10)
		return;
	va_start(ap, fmt);
	fputs("vhu-pump: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/*
 * Ring fields the backend reads or writes concurrently go through these:
 * C11 on the _Atomic view of the field (same size and alignment).
 */
static inline uint16_t
load_u16(const uint16_t *p, memory_order mo)
{
	return atomic_load_explicit((const _Atomic uint16_t *)p, mo);
}

static inline void
store_u16(uint16_t *p, uint16_t v, memory_order mo)
{
	atomic_store_explicit((_Atomic uint16_t *)p, v, mo);
}

/* ---- protocol set-up (messages through fe.c) ---------------------------- */

static uint64_t
get_u64(uint32_t req)
{
	struct vhu_msg_hdr h;
	uint64_t v = 0;
	int ret;

	ret = fe_send(pump.sock, req, VHU_MSG_VERSION, NULL, 0, NULL, 0);
	if (ret == 0)
		ret = fe_recv(pump.sock, &h, &v, sizeof(v), REPLY_MS);
	if (ret != (int)sizeof(v) || h.request != req)
		die("request %u: no 8-byte reply (%d)", req, ret);
	return v;
}

static void
set_u64_noack(uint32_t req, uint64_t v)
{
	if (fe_send(pump.sock, req, VHU_MSG_VERSION, &v, sizeof(v), NULL,
		    0) != 0)
		die("request %u: %s", req, strerror(errno));
}

/* A request with NEED_REPLY (REPLY_ACK negotiated): dies unless acked 0. */
static void
call(uint32_t req, const void *payload, uint32_t size, int fd)
{
	struct vhu_msg_hdr h;
	uint64_t v = UINT64_MAX;
	int ret;

	/* fe_call_ack()'s, with a patient wait (REPLY_MS) */
	ret = fe_send(pump.sock, req, VHU_MSG_VERSION | VHU_MSG_F_NEED_REPLY,
		      payload, size, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0);
	if (ret == 0)
		ret = fe_recv(pump.sock, &h, &v, sizeof(v), REPLY_MS);
	if (ret >= 0 && (ret != (int)sizeof(v) || h.request != req ||
			 !(h.flags & VHU_MSG_F_REPLY)))
		ret = -EPROTO;
	if (ret < 0)
		die("request %u: no reply (%d)", req, ret);
	if (v != 0)
		die("request %u: backend answered %" PRIu64, req, v);
}

static void
call_u64(uint32_t req, uint64_t v, int fd)
{
	call(req, &v, sizeof(v), fd);
}

static void
call_state(uint32_t req, uint32_t index, uint32_t num)
{
	struct vhu_msg_vring_state s = { .index = index, .num = num };

	call(req, &s, sizeof(s), -1);
}

static void
connect_backend(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	uint64_t deadline = fe_now_ms() + 10000;
	int s;

	if (strlen(opt.socket) >= sizeof(a.sun_path))
		die("socket path too long");
	strcpy(a.sun_path, opt.socket);
	if (opt.listen) {
		s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		unlink(opt.socket);
		if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
		    listen(s, 1) != 0)
			die("listen on %s: %s", opt.socket, strerror(errno));
		pump.sock = accept4(s, NULL, NULL, SOCK_CLOEXEC);
		if (pump.sock < 0)
			die("accept: %s", strerror(errno));
		close(s);
		unlink(opt.socket);
		return;
	}
	for (;;) {
		pump.sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (pump.sock < 0)
			die("socket: %s", strerror(errno));
		if (connect(pump.sock, (struct sockaddr *)&a, sizeof(a)) == 0)
			return;
		if ((errno != ENOENT && errno != ECONNREFUSED) ||
		    fe_now_ms() > deadline)
			die("connect %s: %s", opt.socket, strerror(errno));
		close(pump.sock);
		poll(NULL, 0, 10);
	}
}

/* Guest memory: per queue pair two ring areas, then both rings' buffers. */
static size_t
qp_span(void)
{
	return 2 * RING_AREA + 2 * (size_t)opt.ring * (BUF_SIZE + 16);
}

static void
make_memory(void)
{
	size_t align = 2u << 20; /* a hugetlbfs file is whole 2 MiB pages */

	pump.mem_len = (opt.queues * qp_span() + align - 1) & ~(align - 1);
	if (opt.huge != NULL) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/vhu-pump.XXXXXX", opt.huge);
		pump.memfd = mkostemp(path, O_CLOEXEC);
		if (pump.memfd < 0)
			die("%s: %s", path, strerror(errno));
		unlink(path);
		if (ftruncate(pump.memfd, (off_t)pump.mem_len) != 0)
			die("hugetlbfs file: %s", strerror(errno));
	} else {
		pump.memfd = fe_memfd(pump.mem_len);
		if (pump.memfd < 0)
			die("memfd: %s", strerror(errno));
	}
	pump.mem = mmap(NULL, pump.mem_len, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_POPULATE, pump.memfd, 0);
	if (pump.mem == MAP_FAILED)
		die("mmap guest memory: %s", strerror(errno));
}

static uint64_t
hva_of(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/* The frame a transmit buffer carries, sent first as seq id + 1. */
static void
frame_init(uint8_t *b, uint16_t id)
{
	static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	static const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	struct pump_hdr h = { .magic = PUMP_MAGIC, .seq = id + 1u, .id = id };
	uint8_t *f = b + NET_HDR_LEN;

	memset(b, 0, NET_HDR_LEN);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = PUMP_ETHERTYPE >> 8;
	f[13] = PUMP_ETHERTYPE & 0xff;
	memcpy(f + ETH_LEN, &h, sizeof(h));
	for (uint32_t j = FRAME_HDRS; j < pump.flen; j++)
		f[j] = (uint8_t)(id + j);
}

static void
ring_init(struct ring *r, unsigned int q, bool tx)
{
	uint8_t *base = pump.mem + q * qp_span();
	uint64_t gpa = GPA_BASE + q * qp_span();
	size_t buf_off = 2 * RING_AREA + (tx ? (size_t)opt.ring * BUF_SIZE : 0);
	size_t ind_off = 2 * RING_AREA + 2 * (size_t)opt.ring * BUF_SIZE +
			 (tx ? (size_t)opt.ring * 16 : 0);
	uint16_t n = (uint16_t)opt.ring;
	uint16_t wr = tx ? 0 : VRING_DESC_F_WRITE;

	r->vring = (uint16_t)(2 * q + tx);
	r->tx = tx;
	r->size = n;
	r->mask = (uint16_t)(n - 1);
	r->area = base + (tx ? RING_AREA : 0);
	r->area_gpa = gpa + (tx ? RING_AREA : 0);
	r->buf = base + buf_off;
	r->buf_gpa = gpa + buf_off;
	r->post_len = tx ? NET_HDR_LEN + pump.flen : BUF_SIZE;
	if (opt.indirect) {
		/*
		 * A split and a packed descriptor are both 16 bytes with addr
		 * and len first; flags is at 12 in split (next after it),
		 * at 14 in packed (id at 12): the table written as the
		 * layout's own descriptor.
		 */
		for (uint16_t i = 0; i < n; i++) {
			uint8_t *t = base + ind_off + (size_t)i * 16;
			uint64_t a = r->buf_gpa + (uint64_t)i * BUF_SIZE;

			memset(t, 0, 16);
			memcpy(t, &a, 8);
			memcpy(t + 8, &r->post_len, 4);
			memcpy(t + (opt.packed ? 14 : 12), &wr, 2);
		}
		r->desc_gpa = gpa + ind_off;
		r->desc_stride = 16;
		r->desc_len = 16;
		r->desc_flags = VRING_DESC_F_INDIRECT;
	} else {
		r->desc_gpa = r->buf_gpa;
		r->desc_stride = BUF_SIZE;
		r->desc_len = r->post_len;
		r->desc_flags = wr;
	}
	if (tx)
		for (uint16_t i = 0; i < n; i++)
			frame_init(r->buf + (size_t)i * BUF_SIZE, i);
	if (opt.packed) {
		uint16_t flags = (uint16_t)(1u << VRING_PACKED_DESC_F_AVAIL |
					    r->desc_flags);

		r->pdesc = (struct vring_packed_desc *)r->area;
		r->drv_ev = (struct vring_packed_desc_event *)
			(r->area + (size_t)n * sizeof(*r->pdesc));
		r->dev_ev = r->drv_ev + 1;
		r->drv_ev->flags = VRING_PACKED_EVENT_FLAG_DISABLE;
		/* every slot available in lap 1: slot i holds buffer i */
		for (uint16_t i = 0; i < n; i++) {
			r->pdesc[i].addr = r->desc_gpa +
					   (uint64_t)i * r->desc_stride;
			r->pdesc[i].len = r->desc_len;
			r->pdesc[i].id = i;
			r->pdesc[i].flags = flags;
		}
		r->p_avail = 0;
		r->avail_wrap = false; /* the ring is full: next lap is 0 */
		r->p_used = 0;
		r->used_wrap = true;
		return;
	}
	r->desc = (struct vring_desc *)r->area;
	r->avail = (struct vring_avail *)(r->area + (size_t)n * 16);
	r->used = (struct vring_used *)
		(r->area + (((size_t)n * 16 + 6 + 2 * (size_t)n + 4095) &
			    ~(size_t)4095));
	/* descriptor i is buffer i forever; only avail entries change */
	for (uint16_t i = 0; i < n; i++) {
		r->desc[i].addr = r->desc_gpa + (uint64_t)i * r->desc_stride;
		r->desc[i].len = r->desc_len;
		r->desc[i].flags = r->desc_flags;
		r->desc[i].next = 0;
		r->avail->ring[i] = i;
	}
	r->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	r->avail_idx = n;
	r->used_idx = 0;
	store_u16(&r->avail->idx, n, memory_order_release);
}

static void
send_vring(struct ring *r)
{
	struct vhu_msg_vring_addr a = { .index = r->vring };
	uint32_t base = 0;

	if (opt.packed) {
		a.desc = hva_of(r->pdesc);
		a.avail = hva_of(r->drv_ev);
		a.used = hva_of(r->dev_ev);
		/* vhost-user.rst: slot 0, wrap counter 1, both halves */
		base = 1u << 15 | 1u << 31;
	} else {
		a.desc = hva_of(r->desc);
		a.avail = hva_of(r->avail);
		a.used = hva_of(r->used);
	}
	r->kickfd = fe_eventfd();
	r->callfd = fe_eventfd();
	if (r->kickfd < 0 || r->callfd < 0)
		die("eventfd: %s", strerror(errno));
	call_state(VHU_REQ_SET_VRING_NUM, r->vring, r->size);
	call_state(VHU_REQ_SET_VRING_BASE, r->vring, base);
	call(VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), -1);
	call_u64(VHU_REQ_SET_VRING_KICK, r->vring, r->kickfd);
	call_u64(VHU_REQ_SET_VRING_CALL, r->vring, r->callfd);
}

static void
handshake(void)
{
	uint64_t offered, want, pwant, status_bits;
	struct vhu_msg_mem_table m = { .nregions = 1 };
	bool status;

	offered = get_u64(VHU_REQ_GET_FEATURES);
	want = 1ull << VIRTIO_F_VERSION_1 | 1ull << F_PROTOCOL_FEATURES;
	if (opt.packed)
		want |= 1ull << VIRTIO_F_RING_PACKED;
	if (opt.mrg)
		want |= 1ull << VIRTIO_NET_F_MRG_RXBUF;
	if (opt.in_order)
		want |= 1ull << VIRTIO_F_IN_ORDER;
	if (opt.indirect)
		want |= 1ull << VIRTIO_RING_F_INDIRECT_DESC;
	if (opt.queues > 1)
		want |= 1ull << VIRTIO_NET_F_MQ;
	if (want & ~offered)
		die("backend offers features 0x%" PRIx64 ", not 0x%" PRIx64,
		    offered, want & ~offered);
	pump.features = want;

	offered = get_u64(VHU_REQ_GET_PROTOCOL_FEATURES);
	pwant = 1ull << PF_REPLY_ACK | 1ull << PF_MQ;
	if ((offered & pwant) != pwant)
		die("backend offers protocol features 0x%" PRIx64
		    " without REPLY_ACK or MQ", offered);
	status = offered >> PF_STATUS & 1;
	if (status)
		pwant |= 1ull << PF_STATUS;
	set_u64_noack(VHU_REQ_SET_PROTOCOL_FEATURES, pwant);
	if (opt.queues > 1 && get_u64(VHU_REQ_GET_QUEUE_NUM) < opt.queues)
		die("backend serves fewer than %u queue pairs", opt.queues);
	call(VHU_REQ_SET_OWNER, NULL, 0, -1);
	call_u64(VHU_REQ_SET_FEATURES, pump.features, -1);
	status_bits = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		      VIRTIO_CONFIG_S_FEATURES_OK;
	if (status)
		call_u64(VHU_REQ_SET_STATUS, status_bits, -1);
	m.r[0].gpa = GPA_BASE;
	m.r[0].size = pump.mem_len;
	m.r[0].uaddr = hva_of(pump.mem);
	m.r[0].mmap_offset = 0;
	call(VHU_REQ_SET_MEM_TABLE, &m, 8 + sizeof(m.r[0]), pump.memfd);
	for (unsigned int q = 0; q < opt.queues; q++) {
		ring_init(&pump.qp[q].rx, q, false);
		ring_init(&pump.qp[q].tx, q, true);
		pump.qp[q].next_seq = opt.ring; /* frame_init's */
		send_vring(&pump.qp[q].rx);
		send_vring(&pump.qp[q].tx);
	}
	for (unsigned int v = 0; v < 2 * opt.queues; v++)
		call_state(VHU_REQ_SET_VRING_ENABLE, v, 1);
	if (status)
		call_u64(VHU_REQ_SET_STATUS,
			 status_bits | VIRTIO_CONFIG_S_DRIVER_OK, -1);
	/* one kick each, for backends that wait for a first one; no more */
	for (unsigned int q = 0; q < opt.queues; q++) {
		uint64_t one = 1;

		if (write(pump.qp[q].rx.kickfd, &one, sizeof(one)) < 0 ||
		    write(pump.qp[q].tx.kickfd, &one, sizeof(one)) < 0)
			die("kick: %s", strerror(errno));
	}
}

/* ---- the recycle loop ------------------------------------------------------ */

/* A whole received frame against what its transmit buffer held. */
static void
verify_frame(const uint8_t *b, uint32_t len)
{
	const uint8_t *f = b + NET_HDR_LEN;
	struct pump_hdr h;

	pump.verified++;
	if (len != 0 && len != NET_HDR_LEN + pump.flen) {
		error("received length %u, sent %u", len,
		      NET_HDR_LEN + pump.flen);
		return;
	}
	memcpy(&h, f + ETH_LEN, sizeof(h));
	if (opt.mrg && (b[10] | b[11] << 8) != 1)
		error("num_buffers %u, want 1", b[10] | b[11] << 8);
	if (f[12] != PUMP_ETHERTYPE >> 8 || f[13] != (PUMP_ETHERTYPE & 0xff) ||
	    h.id >= opt.ring) {
		error("frame header damaged (id %u)", h.id);
		return;
	}
	for (uint32_t j = FRAME_HDRS; j < pump.flen; j++)
		if (f[j] != (uint8_t)(h.id + j)) {
			error("payload byte %u of frame %u damaged", j, h.seq);
			return;
		}
}

/*
 * The pump header sits at offset 26 of a buffer (net header, Ethernet
 * header): its fields are read and written through memcpy, one unaligned
 * load or store on x86.
 */
#define HDR_OFF (NET_HDR_LEN + ETH_LEN)

static inline uint32_t
hdr_u32(const uint8_t *b, size_t field)
{
	uint32_t v;

	memcpy(&v, b + HDR_OFF + field, sizeof(v));
	return v;
}

/* First cache line of a received frame: magic and sequence order. */
static inline void
rx_frame(struct qpair *p, const uint8_t *b, uint32_t len)
{
	uint32_t seq = hdr_u32(b, offsetof(struct pump_hdr, seq));

	if (unlikely(hdr_u32(b, offsetof(struct pump_hdr, magic)) !=
		     PUMP_MAGIC)) {
		error("frame without magic on queue %u", p->rx.vring);
		return;
	}
	if (unlikely((int32_t)(seq - p->last_seq) <= 0))
		error("sequence %u after %u", seq, p->last_seq);
	p->last_seq = seq;
	if (unlikely(++pump.rx_frames % VERIFY_EVERY == 0))
		verify_frame(b, len);
}

static inline void
tx_frame(struct qpair *p, uint8_t *b)
{
	uint32_t seq = ++p->next_seq;

	memcpy(b + HDR_OFF + offsetof(struct pump_hdr, seq), &seq,
	       sizeof(seq));
}

/* Buffer lines a pass prefetches before touching them: testpmd's burst. */
#define BURST 32

static inline void
handle(struct qpair *p, struct ring *r, uint16_t id, uint32_t len)
{
	if (!opt.touch)
		pump.rx_frames += !r->tx;
	else if (r->tx)
		tx_frame(p, r->buf + (size_t)id * BUF_SIZE);
	else
		rx_frame(p, r->buf + (size_t)id * BUF_SIZE, len);
}

/* The first line of buffer id, about to be written (tx) or read (rx). */
static inline void
prefetch_buf(const struct ring *r, uint16_t id)
{
	const uint8_t *b = r->buf + (size_t)id * BUF_SIZE;

	if (!opt.touch)
		return;
	if (r->tx)
		__builtin_prefetch(b, 1);
	else
		__builtin_prefetch(b, 0);
}

/*
 * Split: take used entries a burst at a time: their ids first, each
 * buffer's line prefetched (the backend has just had it: a transfer from
 * its core, overlapped this way), then each buffer handled and posted
 * again. One acquire load of used->idx and one release store of
 * avail->idx a pass. With IN_ORDER the device may skip entries of a batch
 * (virtio 1.2 "In-order use of descriptors"), but buffers come back in the
 * order they were posted: entry k is buffer k & mask, its length unread.
 */
static inline unsigned int
split_pass(struct qpair *p, struct ring *r)
{
	uint16_t used = load_u16(&r->used->idx, memory_order_acquire);
	uint16_t n = (uint16_t)(used - r->used_idx);
	uint16_t ids[BURST];
	uint32_t lens[BURST];

	if (n == 0)
		return 0;
	if (unlikely(n > r->size)) {
		error("used index %u ran %u ahead", used, n);
		r->used_idx = used;
		return 0;
	}
	for (uint16_t done = 0; done < n;) {
		uint16_t m = (uint16_t)RTE_MIN(n - done, BURST), k;

		for (k = 0; k < m; k++) {
			uint16_t pos = (uint16_t)(r->used_idx + done + k);

			if (opt.in_order) {
				ids[k] = pos & r->mask;
				lens[k] = 0;
			} else {
				const struct vring_used_elem *e =
					&r->used->ring[pos & r->mask];

				ids[k] = (uint16_t)e->id;
				lens[k] = e->len;
				if (unlikely(e->id >= r->size)) {
					error("used id %u", e->id);
					ids[k] = 0; /* reposted: keeps the count */
				}
			}
			prefetch_buf(r, ids[k]);
		}
		for (k = 0; k < m; k++) {
			handle(p, r, ids[k], lens[k]);
			r->avail->ring[r->avail_idx++ & r->mask] = ids[k];
		}
		done = (uint16_t)(done + m);
	}
	r->used_idx = used;
	store_u16(&r->avail->idx, r->avail_idx, memory_order_release);
	return n;
}

static inline void
packed_advance(uint16_t *slot, bool *wrap, uint16_t by, uint16_t size)
{
	*slot = (uint16_t)(*slot + by);
	if (*slot >= size) {
		*slot = (uint16_t)(*slot - size);
		*wrap = !*wrap;
	}
}

/*
 * Packed: take the used descriptors of a burst in slot order (ids read,
 * buffers prefetched), then handle each buffer and make it available again
 * at the next slot, its flags stored last (release). With IN_ORDER slot i
 * always holds buffer i, and one used descriptor may stand for a batch
 * ending with the buffer it names (virtio 1.2 §2.8.20: the device skips
 * forward by the batch's size).
 */
static inline unsigned int
packed_pass(struct qpair *p, struct ring *r)
{
	unsigned int done = 0;

	while (done < r->size) {
		unsigned int m = 0, k;

		while (m < BURST && done + m < r->size) {
			const struct vring_packed_desc *d =
				&r->pdesc[r->p_used];
			uint16_t flags = load_u16(&d->flags,
						  memory_order_acquire);
			uint16_t id = d->id, count = 1;

			if ((bool)(flags & 1u << VRING_PACKED_DESC_F_AVAIL) !=
			    r->used_wrap ||
			    (bool)(flags & 1u << VRING_PACKED_DESC_F_USED) !=
			    r->used_wrap)
				break;
			if (unlikely(id >= r->size)) {
				error("used id %u", id);
				id = 0; /* reposted: keeps the count */
			}
			if (opt.in_order) {
				count = (uint16_t)(((id - r->p_used) &
						    r->mask) + 1);
				if (count > BURST - m && m > 0)
					break; /* next pass */
				id = r->p_used;
				r->lens[m] = count == 1 ? d->len : 0;
			} else {
				r->lens[m] = d->len;
			}
			packed_advance(&r->p_used, &r->used_wrap, count,
				       r->size);
			for (uint16_t c = 0; c < count; c++) {
				r->ids[m] = (uint16_t)((id + c) & r->mask);
				if (c > 0)
					r->lens[m] = 0;
				prefetch_buf(r, r->ids[m++]);
			}
		}
		if (m == 0)
			break;
		for (k = 0; k < m; k++) {
			struct vring_packed_desc *a = &r->pdesc[r->p_avail];
			uint16_t id = r->ids[k];
			uint16_t af = (uint16_t)(r->desc_flags |
				(r->avail_wrap ?
				 1u << VRING_PACKED_DESC_F_AVAIL :
				 1u << VRING_PACKED_DESC_F_USED));

			handle(p, r, id, r->lens[k]);
			a->addr = r->desc_gpa + (uint64_t)id * r->desc_stride;
			a->len = r->desc_len;
			a->id = id;
			store_u16(&a->flags, af, memory_order_release);
			packed_advance(&r->p_avail, &r->avail_wrap, 1, r->size);
		}
		done += m;
	}
	return done;
}

static double
elapsed(const struct timespec *t0, const struct timespec *t1)
{
	return (double)(t1->tv_sec - t0->tv_sec) +
	       (double)(t1->tv_nsec - t0->tv_nsec) / 1e9;
}

/* TSC ticks a second, over 20 ms of CLOCK_MONOTONIC. */
static uint64_t
tsc_hz(void)
{
	struct timespec t0, t1;
	uint64_t c0, c1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	c0 = rte_rdtsc();
	poll(NULL, 0, 20);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	c1 = rte_rdtsc();
	return (uint64_t)((double)(c1 - c0) / elapsed(&t0, &t1));
}

/*
 * Poll every queue pair until --seconds have passed. A poll that moved a
 * frame is busy: its cycles and frames make pump_cycles_per_frame, unless
 * it took over a millisecond, which no pass over a few rings takes (4096
 * frames at 600 cycles is 1 ms at 2.5 GHz) but a preemption does: such a
 * poll is counted in preempted and left out, so that a CPU shared with
 * other work does not show as the pump's cost (thread_cpu says how much
 * of the wall time the pump ran).
 */
static void
run(void)
{
	struct timespec t0, t1, cpu0, cpu1;
	uint64_t end_ms, iter = 0, long_poll = tsc_hz() / 1000;
	uint64_t busy_polls = 0, busy_frames = 0, preempted = 0;
	double secs;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	end_ms = fe_now_ms() + (uint64_t)opt.seconds * 1000;
	for (;;) {
		uint64_t c0 = rte_rdtsc(), c1;
		unsigned int moved = 0, tx;

		for (unsigned int q = 0; q < opt.queues; q++) {
			struct qpair *p = &pump.qp[q];

			if (opt.packed) {
				tx = packed_pass(p, &p->tx);
				moved += tx + packed_pass(p, &p->rx);
			} else {
				tx = split_pass(p, &p->tx);
				moved += tx + split_pass(p, &p->rx);
			}
			pump.tx_frames += tx;
		}
		c1 = rte_rdtsc();
		pump.all_cycles += c1 - c0;
		if (moved != 0) {
			if (c1 - c0 > long_poll) {
				preempted++;
			} else {
				pump.busy_cycles += c1 - c0;
				busy_frames += moved;
				busy_polls++;
			}
		}
		if ((++iter & 1023) == 0 && fe_now_ms() >= end_ms)
			break;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
	secs = elapsed(&t0, &t1);
	/*
	 * tx_frames counts buffers the backend gave back: the ring's worth
	 * posted at set-up is not counted.
	 */
	printf("pump: layout=%s queues=%u size=%u ring=%u mrg=%d in_order=%d "
	       "indirect=%d "
	       "touch=%d seconds=%.2f tx_frames=%" PRIu64 " rx_frames=%" PRIu64
	       " tx_mpps=%.3f rx_mpps=%.3f pump_cycles_per_frame=%.1f "
	       "frames_per_poll=%.1f busy=%.2f thread_cpu=%.2f preempted=%"
	       PRIu64 " verified=%" PRIu64 " errors=%" PRIu64 "\n",
	       opt.packed ? "packed" : "split", opt.queues, opt.size, opt.ring,
	       opt.mrg, opt.in_order, opt.indirect, opt.touch, secs, pump.tx_frames,
	       pump.rx_frames, (double)pump.tx_frames / secs / 1e6,
	       (double)pump.rx_frames / secs / 1e6,
	       busy_frames ? (double)pump.busy_cycles / (double)busy_frames :
	       0.0,
	       busy_polls ? (double)busy_frames / (double)busy_polls : 0.0,
	       pump.all_cycles ? (double)pump.busy_cycles /
	       (double)pump.all_cycles : 0.0,
	       elapsed(&cpu0, &cpu1) / secs, preempted,
	       pump.verified, pump.errors);
	fflush(stdout);
}

/* ---- command line ---------------------------------------------------------- */

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: vhu-pump --socket PATH [--listen] [--layout split|packed]\n"
		"         [--queues N] [--mrg 0|1] [--in-order 0|1] [--indirect 0|1]\n"
		"         [--size BYTES] [--ring N] [--cpu C] [--seconds S]\n"
		"         [--huge DIR]\n"
		"  --socket PATH   the backend's vhost-user socket\n"
		"  --listen        create PATH and wait for a backend in client mode\n"
		"  --layout L      split (default) or packed\n"
		"  --queues N      queue pairs, 1..%d (default 1)\n"
		"  --mrg B         negotiate MRG_RXBUF (default 0)\n"
		"  --in-order B    negotiate IN_ORDER (default 0)\n"
		"  --indirect B    negotiate INDIRECT_DESC and post every buffer\n"
		"                  through a one-entry indirect table (default 0)\n"
		"  --size BYTES    frame size with FCS, 64..1518 (default 64);\n"
		"                  frames carry BYTES - 4\n"
		"  --ring N        descriptors per ring, power of 2, 16..%d\n"
		"                  (default 256)\n"
		"  --cpu C         pin to CPU C (default: not pinned)\n"
		"  --seconds S     traffic time (default 5)\n"
		"  --huge DIR      guest memory in a file on hugetlbfs DIR\n"
		"                  (default: a memfd)\n"
		"  --touch B       0: recycle descriptors without touching a\n"
		"                  frame (no sequence, no check: the rings' cost\n"
		"                  alone); default 1\n",
		MAX_QP, MAX_RING);
}

static unsigned long
num_arg(const char *name, const char *s, unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "vhu-pump: %s must be %lu..%lu\n", name, lo,
			hi);
		exit(2);
	}
	return v;
}

static void
parse_args(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "listen", no_argument, NULL, 'l' },
		{ "layout", required_argument, NULL, 'L' },
		{ "queues", required_argument, NULL, 'q' },
		{ "mrg", required_argument, NULL, 'm' },
		{ "in-order", required_argument, NULL, 'o' },
		{ "indirect", required_argument, NULL, 'i' },
		{ "size", required_argument, NULL, 'z' },
		{ "ring", required_argument, NULL, 'r' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 't' },
		{ "huge", required_argument, NULL, 'H' },
		{ "touch", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (c) {
		case 's': opt.socket = optarg; break;
		case 'l': opt.listen = true; break;
		case 'L':
			if (strcmp(optarg, "packed") == 0)
				opt.packed = true;
			else if (strcmp(optarg, "split") != 0) {
				fprintf(stderr, "vhu-pump: --layout split|packed\n");
				exit(2);
			}
			break;
		case 'q': opt.queues = num_arg("--queues", optarg, 1, MAX_QP);
			break;
		case 'm': opt.mrg = num_arg("--mrg", optarg, 0, 1); break;
		case 'o': opt.in_order = num_arg("--in-order", optarg, 0, 1);
			break;
		case 'i': opt.indirect = num_arg("--indirect", optarg, 0, 1);
			break;
		case 'z': opt.size = num_arg("--size", optarg, 64, 1518); break;
		case 'r': opt.ring = num_arg("--ring", optarg, 16, MAX_RING);
			break;
		case 'c': opt.cpu = (int)num_arg("--cpu", optarg, 0, 1023);
			break;
		case 't': opt.seconds = num_arg("--seconds", optarg, 1, 3600);
			break;
		case 'H': opt.huge = optarg; break;
		case 'T': opt.touch = num_arg("--touch", optarg, 0, 1); break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc || opt.socket == NULL ||
	    (opt.ring & (opt.ring - 1)) != 0) {
		usage(stderr);
		exit(2);
	}
	pump.flen = opt.size - 4;
}

int
main(int argc, char **argv)
{
	parse_args(argc, argv);
	if (opt.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(opt.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) != 0)
			die("CPU %d: %s", opt.cpu, strerror(errno));
	}
	make_memory();
	connect_backend();
	handshake();
	run();
	close(pump.sock);
	if (pump.errors != 0)
		return 1;
	if (pump.tx_frames == 0 || pump.rx_frames == 0) {
		fprintf(stderr, "vhu-pump: no traffic both ways\n");
		return 1;
	}
	return 0;
}
