/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The hostile-frontend suite: a test-only frontend that misbehaves on
 * purpose against the real library (real unix sockets, guest memory in
 * memfds that the library maps itself, rings written by
 * app/test/virtqueue/virtq_driver.c). The control loop runs either in this thread
 * through vhu_dispatch() (default) or in libvhu's own control thread
 * (--control-thread), where messages and callbacks race with the bursts
 * this thread makes, as they do in an application.
 *
 * Design: one table row per misbehaviour, named after what it does and
 * listing the CVE pattern / issue item it covers (doc/guide/security.md
 * maps them back). Each row checks the library's reaction (NACK, closed
 * connection, device not started, vring broken) and then, for every row
 * alike, the epilogue checks that
 *   - the process is alive and the control loop still answers;
 *   - a fresh well-behaved frontend gets verified traffic both ways
 *     (TRAFFIC frames each direction, contents compared byte for byte);
 *   - the process's open fds and guest-memory mappings are back at the
 *     baseline taken before the row ran.
 * Rows that break a ring also check that the breakage is isolated: the
 * other vring of the same device, and another device, keep working.
 *
 * --dma (with or without --control-thread): every device that starts gets
 * a DMA channel of DPDK's software engine (dma_skeleton) bound to each
 * direction of queue pair 0 (new_device binds, destroy_device unbinds), and
 * every burst of the rows and of the epilogue goes through
 * vhu_enqueue_submit_burst / vhu_enqueue_poll_completed and
 * vhu_dequeue_submit_burst / vhu_dequeue_poll_completed (enq() and deq()).
 * The epilogue's good frontends then leave copies in flight when they
 * disconnect, and the epilogue also checks that every mbuf went back to
 * its pool. Rows that make sense with copies in flight (a ring broken, the
 * memory table replaced, a disconnect) run in both modes.
 */
/* rte_dmadev is experimental in DPDK 22.11 */
#define ALLOW_EXPERIMENTAL_API 1

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include <linux/vhost_types.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include <rte_dmadev.h>
#include <rte_eal.h>
#include <rte_mbuf.h>

#include "../eal_tidy.h"
#include "../protocol/fe.h"
#include "dev.h"
#include "memguard.h"
#include "msg.h"
#include "vhu.h"
#include "vhu_atomic.h"
#include "vhu_burst.h"
#include "../virtqueue/virtq_driver.h"

#define RING 256
#define GMEM (2u << 20)                 /* per ring: one memfd, one region */
/*
 * The longest wait for the library's reaction (an event, a closed
 * connection): only a failing row waits it out, and a busy 2-CPU machine
 * (a test run alongside, load 4) took over a second for new_device.
 */
#define WAIT_MS 5000
#define GPA0 0x100000ull                /* vring 0 (guest Rx) memory */
#define GPA1 (GPA0 + 0x400000ull)       /* vring 1 (guest Tx) memory */
#define QVA0 0x7e0000000000ull
#define QVA1 0x7e0100000000ull
#define GPA2 (GPA1 + 0x400000ull)       /* vring 2 (control vring) memory */
#define QVA2 0x7e0200000000ull
#define HDR 12                          /* VERSION_1: virtio_net_hdr_mrg_rxbuf */
#define TRAFFIC 300                     /* frames each way per check */
#define BATCH 32

#define BIT(n) (1ULL << (n))

static char dir[64];
static char path[128];
/* a second socket, for devices that must stay up beside a row's victim */
static char path2[128];
static struct vhu_socket *sock2;
/* where sk_connect() goes: path, or path2 for a bystander */
static const char *connect_path = path;
static struct vhu_socket *sock;
static struct rte_mempool *pool;
static int ctx_token;

/*
 * What the callbacks saw. They run in the control context: this thread
 * inside vhu_dispatch(), or libvhu's own control thread with
 * --control-thread, so the fields are written and read atomically.
 */
static struct {
	_Atomic int new_device, destroy_device;
	_Atomic int broken[4];         /* vring_broken per vring (0..3) */
	_Atomic int bad_ctx;           /* callbacks with the wrong ctx */
	struct vhu_dev *_Atomic dev;   /* last new_device */
	struct vhu_dev *_Atomic broken_dev;
} ev;

#define EV(field) atomic_load_explicit(&ev.field, memory_order_acquire)

/* --control-thread: libvhu's own control thread serves the socket */
static bool own_thread;

/*
 * --dma: a pool of dma_skeleton devices (one channel each), created by EAL
 * and configured at start; a channel's copy thread runs (rte_dma_start)
 * only while it is bound to a queue. The callbacks (control context) take
 * and give back channels; dma_lock also keeps vhu_async_inflight() (test
 * thread) away from vhu_async_unbind() (control thread), which frees what
 * it reads.
 */
#define DMA_CHANNELS 8
static bool use_dma;
static int16_t dma_ids[DMA_CHANNELS];
static pthread_mutex_t dma_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	struct vhu_dev *dev;       /* NULL: channel pair free */
	int ch[2];                 /* dma_ids index per vhu_async_dir */
} dma_use[DMA_CHANNELS / 2];
static bool dma_busy[DMA_CHANNELS];
/* binds and unbinds that failed: the epilogue wants none */
static _Atomic int dma_errors;

static void
check_ctx(void *ctx)
{
	if (ctx != &ctx_token)
		atomic_fetch_add_explicit(&ev.bad_ctx, 1, memory_order_release);
}

/* --dma: a free channel started, or -1. Control context. */
static int
dma_take(void)
{
	for (int i = 0; i < DMA_CHANNELS; i++) {
		if (dma_busy[i])
			continue;
		if (rte_dma_start(dma_ids[i]) != 0)
			return -1;
		dma_busy[i] = true;
		return i;
	}
	return -1;
}

static void
dma_give(int ch)
{
	if (ch < 0)
		return;
	(void)rte_dma_stop(dma_ids[ch]);
	dma_busy[ch] = false;
}

/*
 * --dma: unbind both directions of dev's queue pair 0 (drains, frees the
 * mbufs libvhu holds) and stop their channels. Control context.
 */
static void
dma_unbind_dev(struct vhu_dev *dev)
{
	for (size_t u = 0; u < RTE_DIM(dma_use); u++) {
		if (dma_use[u].dev != dev)
			continue;
		pthread_mutex_lock(&dma_lock);
		for (int d = 0; d < 2; d++) {
			if (dma_use[u].ch[d] >= 0 &&
			    vhu_async_unbind(dev, 0, (enum vhu_async_dir)d) != 0)
				atomic_fetch_add(&dma_errors, 1);
		}
		dma_use[u].dev = NULL;
		pthread_mutex_unlock(&dma_lock);
		dma_give(dma_use[u].ch[0]);
		dma_give(dma_use[u].ch[1]);
	}
}

/* --dma: a channel for each direction of dev's queue pair 0. */
static void
dma_bind_dev(struct vhu_dev *dev)
{
	size_t u;

	dma_unbind_dev(dev); /* a restart of the same device (ring reset) */
	for (u = 0; u < RTE_DIM(dma_use) && dma_use[u].dev != NULL; u++)
		;
	if (u == RTE_DIM(dma_use)) {
		atomic_fetch_add(&dma_errors, 1);
		return;
	}
	for (int d = 0; d < 2; d++) {
		int ch = dma_take();

		dma_use[u].ch[d] = ch;
		if (ch < 0 || vhu_async_bind(dev, 0, (enum vhu_async_dir)d,
					     dma_ids[ch], 0, NULL) != 0) {
			atomic_fetch_add(&dma_errors, 1);
			dma_give(ch);
			dma_use[u].ch[d] = -1;
		}
	}
	dma_use[u].dev = dev;
}

static int
on_new(struct vhu_dev *dev, void *ctx)
{
	check_ctx(ctx);
	if (use_dma)
		dma_bind_dev(dev);
	atomic_store_explicit(&ev.dev, dev, memory_order_relaxed);
	atomic_fetch_add_explicit(&ev.new_device, 1, memory_order_release);
	return 0;
}

static void
on_destroy(struct vhu_dev *dev, void *ctx)
{
	check_ctx(ctx);
	if (use_dma)
		dma_unbind_dev(dev);
	atomic_fetch_add_explicit(&ev.destroy_device, 1, memory_order_release);
}

static void
on_broken(struct vhu_dev *dev, uint16_t vring, void *ctx)
{
	check_ctx(ctx);
	atomic_store_explicit(&ev.broken_dev, dev, memory_order_relaxed);
	if (vring < RTE_DIM(ev.broken))
		atomic_fetch_add_explicit(&ev.broken[vring], 1,
					  memory_order_release);
}

static const struct vhu_ops ops = {
	.new_device = on_new,
	.destroy_device = on_destroy,
	.vring_broken = on_broken,
};

/* ------------------------------------------------------------------ */
/* control loop and socket helpers                                     */

/* Let the control context run for up to ms milliseconds. */
static void
loop_step(int ms)
{
	if (own_thread)
		usleep((useconds_t)ms * 1000);
	else
		assert_true(vhu_dispatch(ms) >= 0);
}

static void
pump(int ms)
{
	uint64_t end = fe_now_ms() + ms;

	do {
		loop_step(2);
	} while (fe_now_ms() < end);
}

static bool
pump_until(const _Atomic int *counter, int want, int ms)
{
	uint64_t end = fe_now_ms() + ms;

	while (atomic_load_explicit(counter, memory_order_acquire) < want &&
	       fe_now_ms() < end)
		loop_step(2);
	return atomic_load_explicit(counter, memory_order_acquire) >= want;
}

static int
sk_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(sa.sun_path, connect_path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	pump(2); /* accept */
	return fd;
}

/* Wait (pumping the loop) for a reply; payload size or -errno. */
static int
wait_reply(int fd, struct vhu_msg_hdr *h, void *body, size_t room)
{
	uint64_t end = fe_now_ms() + 2000;

	while (fe_now_ms() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		loop_step(1);
		if (poll(&p, 1, 0) == 1)
			return fe_recv(fd, h, body, room, 500);
	}
	return -ETIMEDOUT;
}

/* A request with NEED_REPLY: the REPLY_ACK status, or -errno. */
static int64_t
req_ack(int fd, uint32_t req, const void *p, uint32_t size, const int *fds,
	int nfds)
{
	struct vhu_msg_hdr h;
	uint64_t v = UINT64_MAX;
	int ret;

	ret = fe_send(fd, req, VHU_MSG_VERSION | VHU_MSG_F_NEED_REPLY, p, size,
		      fds, nfds);
	if (ret < 0)
		return ret;
	ret = wait_reply(fd, &h, &v, sizeof(v));
	if (ret < 0)
		return ret;
	assert_int_equal(h.request, req);
	assert_int_equal(ret, 8);
	return (int64_t)v;
}

static void
req_ok(int fd, uint32_t req, const void *p, uint32_t size, const int *fds,
       int nfds)
{
	int64_t a = req_ack(fd, req, p, size, fds, nfds);

	if (a != 0)
		fail_msg("%s: ack %" PRId64 ", expected 0", vhu_msg_name(req), a);
}

static void
req_nack(int fd, uint32_t req, const void *p, uint32_t size, const int *fds,
	 int nfds)
{
	int64_t a = req_ack(fd, req, p, size, fds, nfds);

	if (a != 1)
		fail_msg("%s: ack %" PRId64 ", expected 1 (refused)",
			 vhu_msg_name(req), a);
}

static uint64_t
req_get(int fd, uint32_t req)
{
	struct vhu_msg_hdr h;
	uint64_t v = 0;

	assert_int_equal(fe_send(fd, req, VHU_MSG_VERSION, NULL, 0, NULL, 0), 0);
	assert_int_equal(wait_reply(fd, &h, &v, sizeof(v)), 8);
	assert_int_equal(h.request, req);
	return v;
}

/* The library closed this connection (EOF within WAIT_MS). */
static bool
peer_closed(int fd)
{
	uint64_t end = fe_now_ms() + WAIT_MS;
	uint8_t junk[256];

	while (fe_now_ms() < end) {
		ssize_t n;

		loop_step(2);
		n = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
	}
	return false;
}

/* only guest memory: sanitizer runtimes map on first use */
static int
count_maps(void)
{
	int vtd = fe_count_maps_of(VTD_MEMFD_NAME), fe = fe_count_maps();

	assert_true(vtd >= 0 && fe >= 0);
	return vtd + fe;
}

/* ------------------------------------------------------------------ */
/* the test frontend: a guest with one Rx and one Tx ring              */

struct fe {
	int sock;
	bool packed;
	uint64_t features;
	uint64_t extra;           /* features on top of fe_negotiate()'s */
	struct vtd ring[2];       /* [0] guest Rx (vring 0), [1] guest Tx */
	int kick[2], call[2], err[2];
	struct vhu_dev *dev;
	/* control vring rows (CTRL_VQ negotiated): vring 2 */
	bool has_ctrl;
	struct vtd cring;
	int ckick, ccall;
};

static uint64_t
gqva(uint64_t gpa)
{
	if (gpa >= GPA2)
		return QVA2 + (gpa - GPA2);
	if (gpa >= GPA1)
		return QVA1 + (gpa - GPA1);
	return QVA0 + (gpa - GPA0);
}

static uint32_t
ring_base(const struct fe *f)
{
	/* packed: slot 0, both wrap counters 1 (virtio 1.2 §2.8.1) */
	return f->packed ? (1u << 15) | (1u << 31) : 0;
}

static void
fe_init(struct fe *f, bool packed)
{
	memset(f, 0, sizeof(*f));
	f->packed = packed;
	for (int i = 0; i < 2; i++) {
		struct vtd_opts o = {
			.size = RING, .mem_size = GMEM, .nregions = 1,
			.packed = packed, .gpa_base = i ? GPA1 : GPA0,
		};

		assert_int_equal(vtd_init(&f->ring[i], &o,
					  packed ? 1u << 15 : 0), 0);
		f->kick[i] = f->call[i] = f->err[i] = -1;
	}
	f->sock = sk_connect();
}

/* Features, protocol features and owner: the start of every handshake. */
static void
fe_negotiate(struct fe *f)
{
	uint64_t offered = req_get(f->sock, VHU_REQ_GET_FEATURES);
	uint64_t pf;

	assert_true(offered & BIT(VHU_F_PROTOCOL_FEATURES));
	pf = req_get(f->sock, VHU_REQ_GET_PROTOCOL_FEATURES);
	assert_true(pf & BIT(VHU_PROTOCOL_F_REPLY_ACK));
	assert_int_equal(fe_send(f->sock, VHU_REQ_SET_PROTOCOL_FEATURES,
				 VHU_MSG_VERSION, &pf, 8, NULL, 0), 0);
	pump(2);
	req_ok(f->sock, VHU_REQ_SET_OWNER, NULL, 0, NULL, 0);
	f->features = BIT(VIRTIO_F_VERSION_1) | BIT(VHU_F_PROTOCOL_FEATURES) |
		      BIT(VIRTIO_RING_F_INDIRECT_DESC) |
		      (f->packed ? BIT(VIRTIO_F_RING_PACKED) : 0) | f->extra;
	assert_int_equal(f->features & ~offered, 0);
	req_ok(f->sock, VHU_REQ_SET_FEATURES, &f->features, 8, NULL, 0);
}

static void
fe_mem_table(struct fe *f)
{
	struct vhu_msg_mem_table m = { .nregions = 2 };
	int fds[2] = { f->ring[0].memfd, f->ring[1].memfd };

	m.r[0] = (struct vhu_msg_region){ GPA0, GMEM, QVA0, 0 };
	m.r[1] = (struct vhu_msg_region){ GPA1, GMEM, QVA1, 0 };
	req_ok(f->sock, VHU_REQ_SET_MEM_TABLE, &m, 8 + 2 * 32, fds, 2);
}

static void
fe_vring_fd(struct fe *f, uint32_t req, uint32_t vring, int *mine)
{
	uint64_t v = vring;

	if (*mine < 0)
		*mine = fe_eventfd();
	assert_true(*mine >= 0);
	req_ok(f->sock, req, &v, 8, mine, 1);
}

static void
fe_ring(struct fe *f, uint32_t vring)
{
	struct vtd *d = &f->ring[vring];
	struct vhu_msg_vring_state num = { vring, d->size };
	struct vhu_msg_vring_state base = { vring, ring_base(f) };
	struct vhu_msg_vring_addr a = {
		vring, 0, gqva(d->desc_gpa), gqva(d->used_gpa),
		gqva(d->avail_gpa), 0,
	};

	req_ok(f->sock, VHU_REQ_SET_VRING_NUM, &num, 8, NULL, 0);
	req_ok(f->sock, VHU_REQ_SET_VRING_BASE, &base, 8, NULL, 0);
	req_ok(f->sock, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	fe_vring_fd(f, VHU_REQ_SET_VRING_KICK, vring, &f->kick[vring]);
	fe_vring_fd(f, VHU_REQ_SET_VRING_CALL, vring, &f->call[vring]);
	fe_vring_fd(f, VHU_REQ_SET_VRING_ERR, vring, &f->err[vring]);
}

static void
fe_enable(struct fe *f, uint32_t vring, bool on)
{
	struct vhu_msg_vring_state en = { vring, on };

	req_ok(f->sock, VHU_REQ_SET_VRING_ENABLE, &en, 8, NULL, 0);
}

static void
fe_driver_ok(struct fe *f)
{
	uint64_t st = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		      VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;

	req_ok(f->sock, VHU_REQ_SET_STATUS, &st, 8, NULL, 0);
}

/* Connected and negotiated: where most message rows start misbehaving. */
static void
fe_open(struct fe *f, bool packed)
{
	fe_init(f, packed);
	fe_negotiate(f);
}

/* Memory, both rings and their enables: all a start lacks is DRIVER_OK. */
static void
fe_rings_up(struct fe *f)
{
	fe_mem_table(f);
	fe_ring(f, 0);
	fe_ring(f, 1);
	fe_enable(f, 0, true);
	fe_enable(f, 1, true);
}

/* The device started: one new_device after the count was before. */
static void
fe_wait_started(struct fe *f, int before)
{
	assert_true(pump_until(&ev.new_device, before + 1, WAIT_MS));
	f->dev = EV(dev);
}

/* A well-behaved frontend up to a running device, with extra features. */
static void
fe_start_with(struct fe *f, bool packed, uint64_t extra)
{
	int before;

	fe_init(f, packed);
	f->extra = extra;
	fe_negotiate(f);
	fe_rings_up(f);
	before = EV(new_device);
	fe_driver_ok(f);
	fe_wait_started(f, before);
}

/* A well-behaved frontend up to a running device. */
static void
fe_start(struct fe *f, bool packed)
{
	int before;

	fe_open(f, packed);
	fe_rings_up(f);
	before = EV(new_device);
	fe_driver_ok(f);
	fe_wait_started(f, before);
}

static void
fe_stop(struct fe *f)
{
	if (f->sock >= 0) {
		close(f->sock);
		f->sock = -1;
	}
	/* the library notices the hang-up and unmaps everything */
	pump(20);
	for (int i = 0; i < 2; i++) {
		vtd_fini(&f->ring[i]);
		if (f->kick[i] >= 0)
			close(f->kick[i]);
		if (f->call[i] >= 0)
			close(f->call[i]);
		if (f->err[i] >= 0)
			close(f->err[i]);
		f->kick[i] = f->call[i] = f->err[i] = -1;
	}
	if (f->has_ctrl) {
		vtd_fini(&f->cring);
		close(f->ckick);
		close(f->ccall);
		f->has_ctrl = false;
	}
}

static uint32_t
frame_len(int k)
{
	return 60 + (uint32_t)(k * 37) % 1455;
}

static void
frame_fill(uint8_t *b, uint32_t len, int k)
{
	for (uint32_t j = 0; j < len; j++)
		b[j] = (uint8_t)(k * 7 + j);
}

/* --dma: frames libvhu holds in direction way of f (< 0: none bound). */
static int
dma_held(struct fe *f, enum vhu_async_dir way)
{
	int n;

	pthread_mutex_lock(&dma_lock);
	n = vhu_async_inflight(f->dev, 0, way);
	pthread_mutex_unlock(&dma_lock);
	return n;
}

/*
 * --dma: poll direction way of f until libvhu holds nothing there, the
 * vring broke (its frames then wait for the control context's drain) or
 * WAIT_MS passed. Enqueue: the mbufs that come back are freed. Dequeue: they
 * go to out (room for n); returns how many.
 */
static uint16_t
dma_reap(struct fe *f, enum vhu_async_dir way, struct rte_mbuf **out,
	 uint16_t n)
{
	const uint16_t vring = way == VHU_ASYNC_ENQUEUE ? 0 : 1;
	uint64_t end = fe_now_ms() + WAIT_MS;
	uint16_t got = 0;

	for (;;) {
		struct rte_mbuf *m[BATCH];
		uint16_t k;

		if (way == VHU_ASYNC_ENQUEUE) {
			k = vhu_enqueue_poll_completed(f->dev, 0, m, BATCH);
			rte_pktmbuf_free_bulk(m, k);
		} else {
			k = vhu_dequeue_poll_completed(f->dev, 0, out + got,
						       (uint16_t)(n - got));
			got += k;
		}
		if (dma_held(f, way) <= 0 ||
		    (way == VHU_ASYNC_DEQUEUE && got == n) ||
		    vhu_dev_vring_broken(f->dev, vring) || fe_now_ms() > end)
			return got;
		if (k == 0)
			usleep(10); /* the engine's thread may want this CPU */
	}
}

/* Add delta to the reference count of every segment of m. */
static void
mbuf_ref(struct rte_mbuf *m, int16_t delta)
{
	for (; m != NULL; m = m->next)
		rte_mbuf_refcnt_update(m, delta);
}

/*
 * Frames into f's guest Rx ring (queue pair 0) with vhu_enqueue_burst()'s
 * contract: returns how many went in, the caller keeps (and frees) every
 * mbuf. --dma: submitted with a reference more each (the one libvhu gives
 * back through the poll), then polled until libvhu holds none.
 */
static uint16_t
enq(struct fe *f, struct rte_mbuf **m, uint16_t n)
{
	uint16_t k;

	if (!use_dma)
		return vhu_enqueue_burst(f->dev, 0, m, n);
	for (uint16_t i = 0; i < n; i++)
		mbuf_ref(m[i], 1);
	k = vhu_enqueue_submit_burst(f->dev, 0, m, n);
	for (uint16_t i = k; i < n; i++)
		mbuf_ref(m[i], -1);
	(void)dma_reap(f, VHU_ASYNC_ENQUEUE, NULL, 0);
	return k;
}

/*
 * Frames from f's guest Tx ring with vhu_dequeue_burst()'s contract.
 * --dma: submitted, then polled until libvhu holds none.
 */
static uint16_t
deq(struct fe *f, struct rte_mbuf **m, uint16_t n)
{
	if (!use_dma)
		return vhu_dequeue_burst(f->dev, 0, pool, m, n);
	(void)vhu_dequeue_submit_burst(f->dev, 0, pool, n);
	return dma_reap(f, VHU_ASYNC_DEQUEUE, m, n);
}

/* n frames guest -> backend on queue pair 0, checked; 0 if it stalled. */
static int
traffic_tx(struct fe *f, int n)
{
	struct vtd *d = &f->ring[1];
	uint8_t frame[1600], got[1600];
	struct rte_mbuf *m[BATCH];
	int done = 0;

	while (done < n) {
		int k = RTE_MIN(BATCH, n - done), have = 0;
		uint32_t id, ulen;

		for (int i = 0; i < k; i++) {
			int seq = done + i;

			frame_fill(frame, frame_len(seq), seq);
			/* whole, header apart, cut in three; some indirect */
			assert_true(vtd_post_tx(d, frame, frame_len(seq), HDR,
						1 + seq % 3, seq % 4 == 3) >= 0);
		}
		vtd_publish(d);
		for (int tries = 0; have < k && tries < 100; tries++)
			have += deq(f, m + have, k - have);
		if (have != k) {
			for (int i = 0; i < have; i++)
				rte_pktmbuf_free(m[i]);
			return 0;
		}
		for (int i = 0; i < k; i++) {
			int seq = done + i;
			uint32_t len = frame_len(seq);
			const uint8_t *p;

			frame_fill(frame, len, seq);
			assert_int_equal(m[i]->pkt_len, len);
			p = rte_pktmbuf_read(m[i], 0, len, got);
			assert_memory_equal(p, frame, len);
			rte_pktmbuf_free(m[i]);
		}
		for (int i = 0; i < k; i++)
			assert_true(vtd_get_used(d, &id, &ulen));
		done += k;
	}
	return 1;
}

/* n frames backend -> guest on queue pair 0, checked; 0 if it stalled. */
static int
traffic_rx(struct fe *f, int n)
{
	struct vtd *d = &f->ring[0];
	uint8_t frame[1600], got[HDR + 1600];
	struct rte_mbuf *m[BATCH];
	int done = 0;

	while (done < n) {
		int k = RTE_MIN(BATCH, n - done);
		uint16_t sent;

		for (int i = 0; i < k; i++) {
			uint32_t blen = 2048;
			int seq = done + i;
			uint32_t len = frame_len(seq);

			assert_true(vtd_post_rx(d, &blen, 1, seq % 5 == 4) >= 0);
			m[i] = rte_pktmbuf_alloc(pool);
			assert_non_null(m[i]);
			frame_fill((uint8_t *)rte_pktmbuf_append(m[i], len),
				   len, seq);
		}
		vtd_publish(d);
		sent = enq(f, m, k);
		for (int i = 0; i < k; i++)
			rte_pktmbuf_free(m[i]);
		if (sent != k)
			return 0;
		for (int i = 0; i < k; i++) {
			int seq = done + i;
			uint32_t id, ulen, len = frame_len(seq);

			assert_true(vtd_get_used(d, &id, &ulen));
			assert_int_equal(ulen, HDR + len);
			vtd_gather(d, (uint16_t)id, got, ulen);
			frame_fill(frame, len, seq);
			assert_memory_equal(got + HDR, frame, len);
		}
		done += k;
	}
	return 1;
}

static void close_in_flight(struct fe *f);

/*
 * A fresh, well-behaved frontend: start, traffic both ways, stop. --dma:
 * it disconnects with frames of both directions in libvhu's hands.
 */
static void
good_frontend(bool packed)
{
	struct fe g;
	int destroyed;

	fe_start(&g, packed);
	assert_true(traffic_tx(&g, TRAFFIC));
	assert_true(traffic_rx(&g, TRAFFIC));
	destroyed = EV(destroy_device) + 1;
	if (use_dma) {
		struct vhu_vring_stats st;

		/* the engine made copies, both ways, both layouts */
		for (uint16_t v = 0; v < 2; v++) {
			assert_int_equal(vhu_dev_vring_stats(g.dev, v, &st,
							     sizeof(st)),
					 (int)sizeof(st));
			assert_true(st.dma_copies > 0);
		}
		close_in_flight(&g);
	}
	fe_stop(&g);
	assert_true(pump_until(&ev.destroy_device, destroyed, WAIT_MS));
}

/* ------------------------------------------------------------------ */
/* protocol misbehaviour (issue #5 item 2)                             */

/* A header announcing a payload larger than any request has. */
static void
h_msg_oversize_payload(void)
{
	struct vhu_msg_hdr h = { VHU_REQ_SET_MEM_TABLE, VHU_MSG_VERSION,
				 0xffffffffu };
	int fd = sk_connect();

	assert_int_equal(fe_send_raw(fd, &h, sizeof(h), NULL, 0), 0);
	assert_true(peer_closed(fd));
	close(fd);
}

/* Every fixed-size request one byte short and one byte long. */
static void
h_msg_size_lies(void)
{
	static const uint32_t reqs[] = {
		VHU_REQ_SET_FEATURES, VHU_REQ_SET_VRING_NUM,
		VHU_REQ_SET_VRING_ADDR, VHU_REQ_SET_VRING_BASE,
		VHU_REQ_SET_VRING_ENABLE, VHU_REQ_SET_STATUS,
		VHU_REQ_SET_PROTOCOL_FEATURES, VHU_REQ_SET_LOG_BASE,
	};
	static const uint32_t size[] = { 8, 8, 40, 8, 8, 8, 8, 16 };
	uint8_t zero[64] = { 0 };
	struct fe f;

	fe_open(&f, false);
	for (size_t i = 0; i < RTE_DIM(reqs); i++) {
		req_nack(f.sock, reqs[i], zero, size[i] - 1, NULL, 0);
		req_nack(f.sock, reqs[i], zero, size[i] + 1, NULL, 0);
	}
	/* a request with a reply body and a stray payload */
	req_nack(f.sock, VHU_REQ_GET_FEATURES, zero, 8, NULL, 0);
	fe_stop(&f);
}

/* More fds than any message may carry: the connection goes, fds too. */
static void
h_msg_too_many_fds(void)
{
	int fds[12], fd = sk_connect();
	uint64_t v = 0;

	for (int i = 0; i < 12; i++)
		fds[i] = fe_eventfd();
	assert_int_equal(fe_send(fd, VHU_REQ_SET_VRING_KICK, VHU_MSG_VERSION,
				 &v, 8, fds, 12), 0);
	assert_true(peer_closed(fd));
	for (int i = 0; i < 12; i++)
		close(fds[i]);
	close(fd);
}

/* fds on requests that take none, many times over: none may leak. */
static void
h_msg_unexpected_fds_repeated(void)
{
	static const uint32_t reqs[] = {
		VHU_REQ_GET_FEATURES, VHU_REQ_SET_FEATURES, VHU_REQ_SET_OWNER,
		VHU_REQ_SET_VRING_NUM, VHU_REQ_SET_VRING_BASE,
		VHU_REQ_GET_VRING_BASE, VHU_REQ_SET_VRING_ENABLE,
		VHU_REQ_SET_STATUS, VHU_REQ_GET_PROTOCOL_FEATURES,
		VHU_REQ_GET_QUEUE_NUM, 31 /* GET_INFLIGHT_FD */,
		32 /* SET_INFLIGHT_FD */, 99,
	};
	uint8_t payload[16] = { 0 };
	struct fe f;
	int fds[3];

	fe_open(&f, false);
	for (int i = 0; i < 3; i++)
		fds[i] = fe_eventfd();
	for (int round = 0; round < 40; round++)
		for (size_t i = 0; i < RTE_DIM(reqs); i++) {
			uint32_t sz = reqs[i] == VHU_REQ_GET_FEATURES ||
				      reqs[i] == VHU_REQ_SET_OWNER ||
				      reqs[i] == VHU_REQ_GET_PROTOCOL_FEATURES ||
				      reqs[i] == VHU_REQ_GET_QUEUE_NUM ? 0 : 8;

			req_nack(f.sock, reqs[i], payload, sz, fds, 3);
		}
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	fe_stop(&f);
}

/* A header, its fds, then silence: other devices are served meanwhile. */
static void
h_msg_stall_mid_message(void)
{
	struct vhu_msg_hdr h = { VHU_REQ_SET_MEM_TABLE, VHU_MSG_VERSION, 72 };
	int stuck = sk_connect(), half = sk_connect();
	int memfd = fe_memfd(GMEM);

	assert_int_equal(fe_send_raw(stuck, &h, sizeof(h), &memfd, 1), 0);
	assert_int_equal(send(half, &h, 5, 0), 5);
	pump(10);
	close(memfd);
	good_frontend(false);
	close(stuck);
	close(half);
	pump(20);
}

/* A peer that floods requests and never reads a reply is dropped. */
static void
h_msg_never_reads_replies(void)
{
	uint8_t burst[64 * sizeof(struct vhu_msg_hdr)];
	int fd = sk_connect();
	int sndbuf = 1 << 20;
	bool closed = false;

	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	for (size_t i = 0; i < 64; i++) {
		struct vhu_msg_hdr h = { VHU_REQ_GET_FEATURES,
					 VHU_MSG_VERSION, 0 };

		memcpy(burst + i * sizeof(h), &h, sizeof(h));
	}
	for (int i = 0; i < 20000 && !closed; i++) {
		if (send(fd, burst, sizeof(burst), MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
		    errno != EAGAIN)
			closed = true;
		if (!own_thread)
			vhu_dispatch(0);
	}
	/* the library's replies filled our buffer: it hung up, not blocked */
	assert_true(closed || peer_closed(fd));
	close(fd);
	pump(10);
}

/*
 * Connections that take every device slot and then stall mid-header: the
 * one after them is refused (closed at once, logged), and once they go,
 * their slots serve new frontends again.
 */
static void
h_conn_flood_all_slots(void)
{
	struct vhu_msg_hdr h = { VHU_REQ_GET_FEATURES, VHU_MSG_VERSION, 0 };
	int fds[VHU_MAX_DEVICES], extra;

	for (int i = 0; i < VHU_MAX_DEVICES; i++) {
		fds[i] = sk_connect();
		assert_int_equal(req_get(fds[i], VHU_REQ_GET_FEATURES) != 0, 1);
		assert_int_equal(send(fds[i], &h, 7, 0), 7);
	}
	extra = sk_connect();
	assert_true(peer_closed(extra));
	close(extra);
	for (int i = 0; i < VHU_MAX_DEVICES; i++)
		close(fds[i]);
	pump(50);
}

/* A header version other than 1: not vhost-user, closed. */
static void
h_msg_bad_version(void)
{
	int fd = sk_connect();
	int efd = fe_eventfd();

	assert_int_equal(fe_send(fd, VHU_REQ_GET_FEATURES, 0x2, NULL, 0, &efd,
				 1), 0);
	assert_true(peer_closed(fd));
	close(fd);
	close(efd);
}

/* Region counts and sizes that lie (CVE-2021-3839 pattern). */
static void
h_mem_table_count_lies(void)
{
	struct vhu_msg_mem_table m = { 0 };
	struct fe f;
	int fds[8];

	fe_open(&f, false);
	for (int i = 0; i < 8; i++)
		fds[i] = fe_memfd(GMEM);
	for (int i = 0; i < 8; i++)
		m.r[i] = (struct vhu_msg_region){ GPA0 + i * 0x400000ull,
						  GMEM, QVA0 + i * 0x400000ull,
						  0 };
	m.nregions = 9;               /* more than a table holds */
	req_nack(f.sock, VHU_REQ_SET_MEM_TABLE, &m, 8 + 8 * 32, fds, 8);
	m.nregions = 0xffffffffu;
	req_nack(f.sock, VHU_REQ_SET_MEM_TABLE, &m, 8 + 8 * 32, fds, 8);
	m.nregions = 0;
	req_nack(f.sock, VHU_REQ_SET_MEM_TABLE, &m, 8, NULL, 0);
	m.nregions = 2;               /* two regions, one fd */
	req_nack(f.sock, VHU_REQ_SET_MEM_TABLE, &m, 8 + 2 * 32, fds, 1);
	m.nregions = 2;               /* two regions, three fds */
	req_nack(f.sock, VHU_REQ_SET_MEM_TABLE, &m, 8 + 2 * 32, fds, 3);
	m.nregions = 3;               /* payload for two */
	req_nack(f.sock, VHU_REQ_SET_MEM_TABLE, &m, 8 + 2 * 32, fds, 3);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	fe_stop(&f);
}

/* Regions that wrap 2^64, exceed their file, overlap or are empty. */
static void
h_mem_region_bounds(void)
{
	static const struct vhu_msg_region bad[] = {
		{ 0xfffffffffff00000ull, GMEM, QVA0, 0 },     /* gpa wraps */
		{ GPA0, GMEM, 0xfffffffffff00000ull, 0 },     /* uaddr wraps */
		{ GPA0, GMEM, QVA0, 0xfffffffffff00000ull },  /* offset wraps */
		{ GPA0, GMEM + 4096, QVA0, 0 },               /* past the file */
		{ GPA0, GMEM, QVA0, 4096 },                   /* ditto, offset */
		{ GPA0, 0, QVA0, 0 },                         /* empty */
	};
	struct vhu_msg_mem_table m = { .nregions = 1 };
	struct fe f;
	int fds[2];

	fe_open(&f, false);
	fds[0] = fe_memfd(GMEM);
	fds[1] = fe_memfd(GMEM);
	for (size_t i = 0; i < RTE_DIM(bad); i++) {
		m.r[0] = bad[i];
		req_nack(f.sock, VHU_REQ_SET_MEM_TABLE, &m, 8 + 32, fds, 1);
	}
	/* overlapping guest-physical ranges */
	m.nregions = 2;
	m.r[0] = (struct vhu_msg_region){ GPA0, GMEM, QVA0, 0 };
	m.r[1] = (struct vhu_msg_region){ GPA0 + GMEM / 2, GMEM, QVA1, 0 };
	req_nack(f.sock, VHU_REQ_SET_MEM_TABLE, &m, 8 + 64, fds, 2);
	/* nothing of the refused tables stays mapped */
	assert_int_equal(count_maps(), 2);
	close(fds[0]);
	close(fds[1]);
	fe_stop(&f);
}

/* ADD_MEM_REG that overlaps, and REM_MEM_REG of what is not there. */
static void
h_mem_slots_overlap(void)
{
	struct vhu_msg_mem_reg r = { 0 };
	struct fe f;
	int fd;

	fe_open(&f, false);
	fd = fe_memfd(GMEM);
	r.r = (struct vhu_msg_region){ GPA0, GMEM, QVA0, 0 };
	req_ok(f.sock, VHU_REQ_ADD_MEM_REG, &r, sizeof(r), &fd, 1);
	r.r.gpa = GPA0 + 4096;
	req_nack(f.sock, VHU_REQ_ADD_MEM_REG, &r, sizeof(r), &fd, 1);
	r.r.gpa = GPA1;
	req_nack(f.sock, VHU_REQ_REM_MEM_REG, &r, sizeof(r), NULL, 0);
	close(fd);
	fe_stop(&f);
}

/* SET_LOG_BASE whose size + offset wraps (CVE-2020-10722 pattern). */
static void
h_log_base_overflow(void)
{
	static const struct vhu_msg_log bad[] = {
		{ 0xfffffffffffff000ull, 0x2000 },
		{ 4096, 0xfffffffffffff800ull },
		{ 0, 0 },
		{ 1ull << 40, 0 },            /* larger than the file */
	};
	struct fe f;
	int fd;

	fe_open(&f, false);
	fd = fe_memfd(8192);
	for (size_t i = 0; i < RTE_DIM(bad); i++) {
		struct vhu_msg_hdr h;
		uint64_t v;

		/* SET_LOG_BASE always replies: an ACK 1 or a NACK'd body */
		assert_int_equal(fe_send(f.sock, VHU_REQ_SET_LOG_BASE,
					 VHU_MSG_VERSION | VHU_MSG_F_NEED_REPLY,
					 &bad[i], 16, &fd, 1), 0);
		assert_int_equal(wait_reply(f.sock, &h, &v, sizeof(v)), 8);
		assert_int_equal(v, 1);
	}
	/* without NEED_REPLY no NACK can answer it: closed, never silent */
	assert_int_equal(fe_send(f.sock, VHU_REQ_SET_LOG_BASE, VHU_MSG_VERSION,
				 &bad[0], 16, &fd, 1), 0);
	assert_true(peer_closed(f.sock));
	close(fd);
	fe_stop(&f);
}

/* Memory tables replaced over and over: old mappings go (CVE-2020-10726). */
static void
h_mem_table_repeated(void)
{
	struct fe f;

	fe_open(&f, false);
	for (int i = 0; i < 200; i++)
		fe_mem_table(&f);
	/* the driver's two mappings and the library's two */
	assert_int_equal(count_maps(), 4);
	fe_stop(&f);
}

/* Vring indexes out of range in every vring request (CVE-2020-10723). */
static void
h_vring_index_out_of_range(void)
{
	/* past the data vrings and the control vring's slot (vq.h) */
	static const uint32_t idx[] = { VHU_MAX_VRINGS, 255, 256,
					0xffffffffu };
	struct fe f;
	int efd = fe_eventfd();

	fe_open(&f, false);
	for (size_t i = 0; i < RTE_DIM(idx); i++) {
		struct vhu_msg_vring_state st = { idx[i], 1 };
		struct vhu_msg_vring_addr a = { idx[i], 0, QVA0, QVA0, QVA0, 0 };
		uint64_t u = idx[i];

		req_nack(f.sock, VHU_REQ_SET_VRING_NUM, &st, 8, NULL, 0);
		req_nack(f.sock, VHU_REQ_SET_VRING_BASE, &st, 8, NULL, 0);
		req_nack(f.sock, VHU_REQ_SET_VRING_ENABLE, &st, 8, NULL, 0);
		req_nack(f.sock, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
		req_nack(f.sock, VHU_REQ_GET_VRING_BASE, &st, 8, NULL, 0);
		/* u64 requests: bits 0-7 are the index, the rest must fit */
		if (idx[i] < 256) {
			req_nack(f.sock, VHU_REQ_SET_VRING_KICK, &u, 8, &efd, 1);
			req_nack(f.sock, VHU_REQ_SET_VRING_CALL, &u, 8, &efd, 1);
			req_nack(f.sock, VHU_REQ_SET_VRING_ERR, &u, 8, &efd, 1);
		}
	}
	/* the no-fd bit and the fds disagree */
	{
		uint64_t u = VHU_VRING_NOFD;

		req_nack(f.sock, VHU_REQ_SET_VRING_KICK, &u, 8, &efd, 1);
		u = 0;
		req_nack(f.sock, VHU_REQ_SET_VRING_CALL, &u, 8, NULL, 0);
	}
	close(efd);
	fe_stop(&f);
}

/* Ring sizes: zero, not a power of two (split), above 32768. */
static void
h_vring_num_bad(void)
{
	static const uint32_t bad[] = { 0, 3, 255, 32769, 65536, 0xffffffffu };
	struct fe f;

	fe_open(&f, false);
	for (size_t i = 0; i < RTE_DIM(bad); i++) {
		struct vhu_msg_vring_state st = { 0, bad[i] };

		req_nack(f.sock, VHU_REQ_SET_VRING_NUM, &st, 8, NULL, 0);
	}
	fe_stop(&f);

	/* packed: any size up to 32768 goes, 0 and above do not */
	fe_open(&f, true);
	{
		struct vhu_msg_vring_state st = { 0, 255 };

		req_ok(f.sock, VHU_REQ_SET_VRING_NUM, &st, 8, NULL, 0);
		st.num = 32769;
		req_nack(f.sock, VHU_REQ_SET_VRING_NUM, &st, 8, NULL, 0);
		st.num = 0;
		req_nack(f.sock, VHU_REQ_SET_VRING_NUM, &st, 8, NULL, 0);
	}
	fe_stop(&f);
}

/* DRIVER_OK, yet the device must not start (a bad ring was set). */
static void
fe_expect_no_start(struct fe *f, int before, int ms)
{
	fe_driver_ok(f);
	pump(ms);
	assert_int_equal(EV(new_device), before);
}

/*
 * Each of n bad addresses for vring 1 stops the device from starting;
 * the good ones fe_ring() sets then start it and traffic flows.
 */
static void
addr_case(bool packed, const struct vhu_msg_vring_addr *bad, size_t n)
{
	int before = EV(new_device);
	struct fe f;

	fe_init(&f, packed);
	/* the layout fe_ring() uses: ring, driver area, device area */
	if (packed) {
		assert_int_equal(f.ring[1].avail_gpa - GPA1, 0x1000);
		assert_int_equal(f.ring[1].used_gpa - GPA1, 0x1040);
	}
	fe_negotiate(&f);
	fe_rings_up(&f);
	for (size_t i = 0; i < n; i++) {
		/* accepted as a message; the ring is checked when it maps */
		(void)req_ack(f.sock, VHU_REQ_SET_VRING_ADDR, &bad[i],
			      sizeof(bad[i]), NULL, 0);
		fe_expect_no_start(&f, before, 5);
	}
	fe_ring(&f, 1);
	fe_wait_started(&f, before);
	assert_true(traffic_tx(&f, 64));
	fe_stop(&f);
}

/*
 * Ring addresses outside guest memory, or inside only in part (the used
 * ring's tail, the event-idx field, past the region end): the device must
 * not start (CVE-2020-10725 pattern). Fixed addresses then start it.
 */
static void
h_vring_addr_outside_memory(void)
{
	const uint64_t end1 = QVA1 + GMEM;
	const struct vhu_msg_vring_addr bad[] = {
		{ 1, 0, 0x1000, QVA1 + 0x2000, QVA1 + 0x1000, 0 },
		{ 1, 0, end1 - 16 * RING + 16, QVA1 + 0x2000, QVA1 + 0x1000, 0 },
		{ 1, 0, QVA1, end1 - 4 - 8 * RING, QVA1 + 0x1000, 0 },
		{ 1, 0, QVA1, QVA1 + 0x2000, end1 - 4 - 2 * RING, 0 },
		{ 1, 0, QVA1, QVA1 + 0x2000, 0xfffffffffffffff0ull, 0 },
		{ 1, 0, QVA1 + 1, QVA1 + 0x2000, QVA1 + 0x1000, 0 },
	};

	addr_case(false, bad, RTE_DIM(bad));
}

/*
 * Packed: the descriptor ring or an event suppression area partly past
 * the end of memory, or an event area misaligned: the device must not
 * start; fixed addresses then start it.
 */
static void
h_packed_vring_addr_outside_memory(void)
{
	const uint64_t end1 = QVA1 + GMEM;
	const uint64_t drv = QVA1 + 0x1000, dev = QVA1 + 0x1040;
	const struct vhu_msg_vring_addr bad[] = {
		{ 1, 0, end1 - 16 * RING + 16, dev, drv, 0 },
		{ 1, 0, QVA1, dev, end1 - 2, 0 },
		{ 1, 0, QVA1, end1 - 2, drv, 0 },
		{ 1, 0, QVA1, dev + 2, drv, 0 },
		{ 1, 0, QVA1 + 8, dev, drv, 0 },
		{ 1, 0, 0xfffffffffffffff0ull, dev, drv, 0 },
	};

	addr_case(true, bad, RTE_DIM(bad));
}

/* SET_VRING_BASE out of range: split above 16 bits, packed slot >= size. */
static void
h_vring_base_bad(void)
{
	struct fe f;
	int before = EV(new_device);

	fe_open(&f, false);
	{
		struct vhu_msg_vring_state st = { 0, 0x10000 };

		req_nack(f.sock, VHU_REQ_SET_VRING_BASE, &st, 8, NULL, 0);
	}
	fe_stop(&f);

	fe_open(&f, true);
	fe_rings_up(&f);
	{
		/* slot RING + 5 in a ring of RING: refused when it maps */
		struct vhu_msg_vring_state st = { 1, (RING + 5) | 1u << 15 };

		(void)req_ack(f.sock, VHU_REQ_SET_VRING_BASE, &st, 8, NULL, 0);
	}
	fe_expect_no_start(&f, before, 10);
	fe_stop(&f);
}

/*
 * Requests in the wrong state: ring and status requests before any
 * memory, a ring taken back before it was set, enable of an unknown
 * ring, REM of a region never added, DRIVER_OK with nothing set up.
 */
static void
h_requests_out_of_order(void)
{
	struct vhu_msg_vring_state st = { 1, 0 };
	struct vhu_msg_vring_addr a = { 1, 0, QVA1, QVA1 + 0x2000,
					QVA1 + 0x1000, 0 };
	struct vhu_msg_hdr h;
	int before = EV(new_device);
	struct fe f;
	uint64_t st_ok = VIRTIO_CONFIG_S_DRIVER_OK;

	fe_init(&f, false);
	/* before any negotiation */
	assert_int_equal(fe_send(f.sock, VHU_REQ_GET_VRING_BASE,
				 VHU_MSG_VERSION, &st, 8, NULL, 0), 0);
	assert_int_equal(wait_reply(f.sock, &h, &st, sizeof(st)), 8);
	fe_negotiate(&f);
	req_ok(f.sock, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	st = (struct vhu_msg_vring_state){ 3, 1 };
	req_ok(f.sock, VHU_REQ_SET_VRING_ENABLE, &st, 8, NULL, 0);
	req_ok(f.sock, VHU_REQ_SET_STATUS, &st_ok, 8, NULL, 0);
	pump(5);
	assert_int_equal(EV(new_device), before);
	/* RESET_OWNER mid-way, then a normal start on the same connection */
	req_ok(f.sock, VHU_REQ_RESET_OWNER, NULL, 0, NULL, 0);
	fe_negotiate(&f);
	fe_rings_up(&f);
	fe_driver_ok(&f);
	fe_wait_started(&f, before);
	assert_true(traffic_rx(&f, 64));
	fe_stop(&f);
}

/*
 * SET_FEATURES after DRIVER_OK that drops or adds a negotiated feature:
 * refused (NACK), the device keeps running with the features it had;
 * LOG_ALL alone may change (migration). Features never offered: refused.
 */
static void
h_features_change_after_driver_ok(void)
{
	struct fe f;
	uint64_t v;

	fe_start(&f, false);
	v = f.features & ~BIT(VIRTIO_F_VERSION_1);
	req_nack(f.sock, VHU_REQ_SET_FEATURES, &v, 8, NULL, 0);
	v = f.features | BIT(VIRTIO_NET_F_MRG_RXBUF);
	req_nack(f.sock, VHU_REQ_SET_FEATURES, &v, 8, NULL, 0);
	v = f.features | BIT(63);
	req_nack(f.sock, VHU_REQ_SET_FEATURES, &v, 8, NULL, 0);
	assert_int_equal(vhu_dev_features(f.dev), f.features);
	v = f.features | BIT(26); /* VHOST_F_LOG_ALL */
	req_ok(f.sock, VHU_REQ_SET_FEATURES, &v, 8, NULL, 0);
	req_ok(f.sock, VHU_REQ_SET_FEATURES, &f.features, 8, NULL, 0);
	assert_int_equal(vhu_dev_features(f.dev), f.features);
	/* still running, header length unchanged: traffic is intact */
	assert_true(traffic_tx(&f, 64));
	assert_true(traffic_rx(&f, 64));
	fe_stop(&f);
}

/* ------------------------------------------------------------------ */
/* ring misbehaviour (issue #5 item 3)                                 */

/* A running device whose rings are about to get bad entries. */
static void
ring_start(struct fe *f, bool packed)
{
	for (size_t i = 0; i < RTE_DIM(ev.broken); i++)
		atomic_store_explicit(&ev.broken[i], 0, memory_order_release);
	fe_start(f, packed);
}

/*
 * The burst that meets the bad entry stops the vring for good: it returns
 * what it finished, the broken counter and flag say so, the SET_VRING_ERR
 * eventfd fires, the app hears of it once (control context), later bursts
 * return 0; the other vring and another device carry on.
 */
static void
expect_broken(struct fe *f, uint16_t vring)
{
	struct vhu_vring_stats st;
	struct rte_mbuf *m[BATCH];
	uint16_t n;

	if (vring == 1) {
		n = deq(f, m, BATCH);
		for (uint16_t i = 0; i < n; i++)
			rte_pktmbuf_free(m[i]);
	} else {
		for (int i = 0; i < 4; i++) {
			m[i] = rte_pktmbuf_alloc(pool);
			rte_pktmbuf_append(m[i], 60);
		}
		n = enq(f, m, 4);
		for (int i = 0; i < 4; i++)
			rte_pktmbuf_free(m[i]);
	}
	assert_int_equal(n, 0);
	assert_true(vhu_dev_vring_broken(f->dev, vring));
	assert_false(vhu_dev_vring_broken(f->dev, vring ^ 1));
	assert_int_equal(vhu_dev_vring_stats(f->dev, vring, &st, sizeof(st)),
			 (int)sizeof(st));
	assert_int_equal(st.broken, 1);
	assert_true(vtd_eventfd_take(f->err[vring]) >= 1);
	assert_true(pump_until(&ev.broken[vring], 1, WAIT_MS));
	assert_ptr_equal(EV(broken_dev), f->dev);
	/* sticky: nothing more comes out, no second report */
	n = vring == 1 ? deq(f, m, BATCH) :
			 enq(f, m, 0);
	assert_int_equal(n, 0);
	pump(5);
	assert_int_equal(EV(broken[vring]), 1);
	assert_int_equal(vhu_dev_vring_stats(f->dev, vring, &st, sizeof(st)),
			 (int)sizeof(st));
	assert_int_equal(st.broken, 1);
	/* the other direction of the same device carries on */
	if (vring == 1)
		assert_true(traffic_rx(f, 64));
	else
		assert_true(traffic_tx(f, 64));
	/* and so does another device, at the same time */
	good_frontend(false);
	fe_stop(f);
}

/* Raw split descriptor i of the guest Tx ring. */
static void
sdesc(struct fe *f, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
      uint16_t next)
{
	struct vtd *d = &f->ring[1];

	d->desc[i] = (struct vring_desc){ addr, len, flags, next };
}

static uint64_t
txbuf(struct fe *f, uint32_t len)
{
	uint64_t g = vtd_alloc(&f->ring[1], len, 16);

	memset(vtd_ptr(&f->ring[1], g), 0, len);
	return g;
}

static void
publish_head(struct fe *f, uint16_t head)
{
	vtd_add_raw_head(&f->ring[1], head);
	vtd_publish(&f->ring[1]);
}

/* A one-descriptor chain at head 0 of the guest Tx ring. */
static void
one_desc(struct fe *f, uint64_t addr, uint32_t len, uint16_t flags,
	 uint16_t next)
{
	sdesc(f, 0, addr, len, flags, next);
	publish_head(f, 0);
}

/* Packed descriptor i of the guest Tx ring, made available last. */
static void
pdesc(struct fe *f, uint16_t i, uint64_t addr, uint32_t len, uint16_t id,
      uint16_t flags)
{
	struct vtd *d = &f->ring[1];

	d->pdesc[i] = (struct vring_packed_desc){ addr, len, id, 0 };
	vhu_atomic_store_u16(&d->pdesc[i].flags,
			     (uint16_t)(vtd_pavail_bits(true) | flags),
			     memory_order_release);
}

/*
 * The ring rows below only write the bad entries; ring_case() (see the
 * table) starts the device first and checks the breakage after.
 */

static void
h_ring_avail_idx_jump(struct fe *f)
{
	vtd_set_avail_idx(&f->ring[1], RING + 1);
}

static void
h_ring_head_out_of_range(struct fe *f)
{
	publish_head(f, RING);
}

static void
h_ring_next_out_of_range(struct fe *f)
{
	one_desc(f, txbuf(f, 64), 64, VRING_DESC_F_NEXT, RING + 7);
}

static void
h_ring_chain_loops(struct fe *f)
{
	for (uint16_t i = 0; i < 3; i++)
		sdesc(f, i, txbuf(f, 64), 64, VRING_DESC_F_NEXT, (i + 1) % 3);
	publish_head(f, 0);
}

/* Every descriptor of the table chained: longer than the ring allows. */
static void
h_ring_chain_longer_than_ring(struct fe *f)
{
	uint64_t g = txbuf(f, 16);

	for (uint16_t i = 0; i < RING; i++)
		sdesc(f, i, g, 1, VRING_DESC_F_NEXT, (uint16_t)((i + 1) % RING));
	publish_head(f, 0);
}

/* An indirect table of 4 entries, tlen bytes long by the head's say. */
static void
indirect_table(struct fe *f, uint32_t tlen, uint16_t entry_flags,
	       uint16_t head_flags)
{
	uint64_t tg = txbuf(f, 4096);
	struct vring_desc *t = (struct vring_desc *)vtd_ptr(&f->ring[1], tg);

	for (int i = 0; i < 4; i++)
		t[i] = (struct vring_desc){ txbuf(f, 64), 64,
			(uint16_t)(i < 3 ? VRING_DESC_F_NEXT : 0) | entry_flags,
			(uint16_t)(i + 1) };
	one_desc(f, tg, tlen, VRING_DESC_F_INDIRECT | head_flags, 1);
}

static void
h_ring_indirect_len_not_whole(struct fe *f)
{
	indirect_table(f, 4 * 16 + 7, 0, 0);
}

static void
h_ring_indirect_len_zero(struct fe *f)
{
	indirect_table(f, 0, 0, 0);
}

static void
h_ring_indirect_len_huge(struct fe *f)
{
	indirect_table(f, 0xfffffff0u, 0, 0);
}

static void
h_ring_indirect_nested(struct fe *f)
{
	indirect_table(f, 4 * 16, VRING_DESC_F_INDIRECT, 0);
}

static void
h_ring_indirect_with_next(struct fe *f)
{
	indirect_table(f, 4 * 16, 0, VRING_DESC_F_NEXT);
}

/* An indirect table whose entries loop among themselves. */
static void
h_ring_indirect_loops(struct fe *f)
{
	uint64_t tg = txbuf(f, 64);
	struct vring_desc *t = (struct vring_desc *)vtd_ptr(&f->ring[1], tg);

	t[0] = (struct vring_desc){ txbuf(f, 64), 64, VRING_DESC_F_NEXT, 1 };
	t[1] = (struct vring_desc){ txbuf(f, 64), 64, VRING_DESC_F_NEXT, 0 };
	one_desc(f, tg, 32, VRING_DESC_F_INDIRECT, 0);
}

/* An indirect table that itself lies outside guest memory. */
static void
h_ring_indirect_table_outside(struct fe *f)
{
	one_desc(f, GPA1 + GMEM - 32, 64, VRING_DESC_F_INDIRECT, 0);
}

/* Between the two regions: neither maps it. */
static void
h_ring_buffer_outside_memory(struct fe *f)
{
	one_desc(f, GPA0 + GMEM + 4096, 1500, 0, 0);
}

/* A buffer that starts inside memory and runs past its end. */
static void
h_ring_buffer_straddles_end(struct fe *f)
{
	one_desc(f, GPA1 + GMEM - 100, 1500, 0, 0);
}

static void
h_ring_buffer_wraps_2_64(struct fe *f)
{
	one_desc(f, 0xffffffffffffff00ull, 0x1000, 0, 0);
}

/* A device-writable buffer in a transmit chain (readable after it). */
static void
h_ring_tx_writable_buffer(struct fe *f)
{
	sdesc(f, 0, txbuf(f, HDR), HDR, VRING_DESC_F_NEXT, 1);
	sdesc(f, 1, txbuf(f, 64), 64, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
	      2);
	sdesc(f, 2, txbuf(f, 64), 64, 0, 0);
	publish_head(f, 0);
}

/* A readable buffer after writable ones in a receive chain (vring 0). */
static void
h_ring_rx_readable_after_writable(struct fe *f)
{
	struct vtd *d = &f->ring[0];
	uint64_t g = vtd_alloc(d, 4096, 16);

	d->desc[0] = (struct vring_desc){ g, 2048,
		VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1 };
	d->desc[1] = (struct vring_desc){ g + 2048, 2048, 0, 0 };
	vtd_add_raw_head(d, 0);
	vtd_publish(d);
}

/* A transmit chain shorter than the virtio-net header it must start with. */
static void
h_ring_tx_shorter_than_header(struct fe *f)
{
	sdesc(f, 0, txbuf(f, 4), 4, VRING_DESC_F_NEXT, 1);
	sdesc(f, 1, txbuf(f, 4), 0, 0, 0);
	publish_head(f, 0);
}

/* Packed: a head with NEXT whose next slot is not available in its lap. */
static void
h_packed_chain_wrap_inconsistent(struct fe *f)
{
	/* slot 1 keeps its previous-lap flags: not available */
	pdesc(f, 0, txbuf(f, 128), 64, 0, VRING_DESC_F_NEXT);
}

/* Packed: a chain that runs all the way round the ring. */
static void
h_packed_chain_longer_than_ring(struct fe *f)
{
	uint64_t g = txbuf(f, 16);

	for (uint16_t i = RING; i-- > 0;)
		pdesc(f, i, g, 1, i, VRING_DESC_F_NEXT);
}

/* Packed: a descriptor outside guest memory. */
static void
h_packed_buffer_outside_memory(struct fe *f)
{
	pdesc(f, 0, 0xfffffffffffff000ull, 0x2000, 0, 0);
}

/*
 * Zero-length oddities and a header spread over one-byte descriptors
 * (CVE-2022-2132 pattern): legal, so the frame must come out intact;
 * a header-only chain is dropped and counted, not delivered.
 */
static void
h_ring_tiny_and_empty_descriptors(void)
{
	struct fe f;
	struct vtd *d;
	struct rte_mbuf *m[4];
	struct vhu_vring_stats st;
	uint8_t frame[100], got[100];
	uint16_t k = 0, n, have = 0;
	uint64_t g;

	fe_start(&f, false);
	d = &f.ring[1];
	frame_fill(frame, sizeof(frame), 9);
	/* chain A: 12 one-byte header pieces, an empty one, the frame */
	g = txbuf(&f, HDR + sizeof(frame));
	memcpy(vtd_ptr(d, g + HDR), frame, sizeof(frame));
	for (k = 0; k < HDR; k++)
		sdesc(&f, k, g + k, 1, VRING_DESC_F_NEXT, k + 1);
	sdesc(&f, k, g, 0, VRING_DESC_F_NEXT, k + 1);
	k++;
	sdesc(&f, k, g + HDR, sizeof(frame), 0, 0);
	k++;
	vtd_add_raw_head(d, 0);
	/* chain B: the header alone, no frame */
	sdesc(&f, k, txbuf(&f, HDR), HDR, 0, 0);
	vtd_add_raw_head(d, k);
	vtd_publish(d);
	for (int tries = 0; tries < 10 && have < 1; tries++)
		have += deq(&f, m + have, 4 - have);
	assert_int_equal(have, 1);
	assert_int_equal(m[0]->pkt_len, sizeof(frame));
	assert_memory_equal(rte_pktmbuf_read(m[0], 0, sizeof(frame), got),
			    frame, sizeof(frame));
	rte_pktmbuf_free(m[0]);
	n = deq(&f, m, 4);
	assert_int_equal(n, 0);
	assert_false(vhu_dev_vring_broken(f.dev, 1));
	assert_int_equal(vhu_dev_vring_stats(f.dev, 1, &st, sizeof(st)),
			 (int)sizeof(st));
	assert_int_equal(st.desc_errors, 1);
	assert_int_equal(st.broken, 0);
	fe_stop(&f);
}

/*
 * A frame larger than any frame may be (64 KiB), in guest memory and
 * otherwise well formed: dropped and counted, not copied, the ring goes on.
 */
static void
h_ring_tx_frame_oversize(void)
{
	struct fe f;
	struct rte_mbuf *m[4];
	struct vhu_vring_stats st;
	uint64_t g;
	uint16_t n;

	fe_start(&f, false);
	g = txbuf(&f, HDR + 70000);
	sdesc(&f, 0, g, HDR, VRING_DESC_F_NEXT, 1);
	sdesc(&f, 1, g + HDR, 70000, 0, 0);
	publish_head(&f, 0);
	n = deq(&f, m, 4);
	assert_int_equal(n, 0);
	assert_false(vhu_dev_vring_broken(f.dev, 1));
	assert_int_equal(vhu_dev_vring_stats(f.dev, 1, &st, sizeof(st)),
			 (int)sizeof(st));
	assert_int_equal(st.desc_errors, 1);
	/* the chain was returned to the guest, and the ring carries on */
	{
		uint32_t id, len;

		assert_true(vtd_get_used(&f.ring[1], &id, &len));
		assert_int_equal(id, 0);
	}
	fe_stop(&f);
}

/*
 * What clears a broken vring: not a SET_VRING_ENABLE 0/1 cycle (the ring
 * would be just as bad), but a ring reset (GET_VRING_BASE, then the ring
 * set up again) or a reconnect.
 */
static void
h_broken_ring_reset_clears(void)
{
	struct fe fe, *f = &fe;
	struct vhu_msg_vring_state st = { 1, 0 };
	struct vhu_msg_hdr h;
	struct rte_mbuf *m[4];
	int want;

	ring_start(f, false);
	publish_head(f, RING + 1);
	assert_int_equal(deq(f, m, 4), 0);
	assert_true(pump_until(&ev.broken[1], 1, WAIT_MS));
	fe_enable(f, 1, false);
	fe_enable(f, 1, true);
	pump(5);
	assert_true(vhu_dev_vring_broken(f->dev, 1));
	assert_int_equal(deq(f, m, 4), 0);
	/* ring reset: take the ring back (the device stops), set it again */
	assert_int_equal(fe_send(f->sock, VHU_REQ_GET_VRING_BASE,
				 VHU_MSG_VERSION, &st, 8, NULL, 0), 0);
	assert_int_equal(wait_reply(f->sock, &h, &st, sizeof(st)), 8);
	assert_false(vhu_dev_vring_broken(f->dev, 1));
	vtd_fini(&f->ring[1]);
	{
		struct vtd_opts o = { .size = RING, .mem_size = GMEM,
				      .nregions = 1, .gpa_base = GPA1 };

		assert_int_equal(vtd_init(&f->ring[1], &o, 0), 0);
	}
	fe_mem_table(f);
	want = EV(new_device) + 1;
	fe_ring(f, 1);
	assert_true(pump_until(&ev.new_device, want, WAIT_MS));
	f->dev = EV(dev);
	assert_true(traffic_tx(f, 64));
	assert_true(traffic_rx(f, 64));
	fe_stop(f);
}


/* ------------------------------------------------------------------ */
/* bogus transmit offload headers (issue #14 item 5)                   */

#define OL_HOST (BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4) | \
		 BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_HOST_ECN) | \
		 BIT(VIRTIO_NET_F_HOST_USO))
#define OL_NC VIRTIO_NET_HDR_F_NEEDS_CSUM
#define OL_L4 0xffff            /* csum_start: the frame's L4 header */
#define OL_PAYLOAD 3000

/* A frame a header lies about, and the lie (virtio 1.2 §5.1.6). */
struct ol_bad {
	bool v6, udp;
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset;
};

/*
 * Ethernet, IPv4 or IPv6, TCP or UDP, OL_PAYLOAD bytes of k's pattern
 * after the headers; the L4 checksum is left as is (the frames dropped
 * here are not looked at, the good ones are compared byte for byte).
 */
static uint32_t
ol_frame(uint8_t *b, bool v6, bool udp, int k)
{
	uint32_t l3 = v6 ? 40 : 20, l4 = udp ? 8 : 20;
	uint32_t len = 14 + l3 + l4 + OL_PAYLOAD;
	uint8_t *ip = b + 14, *th = ip + l3;

	memset(b, 0, 14 + l3 + l4);
	b[0] = 0x02;
	b[6] = 0x02;
	b[11] = b[5] = (uint8_t)k;
	b[12] = v6 ? 0x86 : 0x08;
	b[13] = v6 ? 0xdd : 0x00;
	if (v6) {
		ip[0] = 0x60;
		ip[4] = (uint8_t)((l4 + OL_PAYLOAD) >> 8);
		ip[5] = (uint8_t)(l4 + OL_PAYLOAD);
		ip[6] = udp ? 17 : 6;
		ip[7] = 64;
	} else {
		ip[0] = 0x45;
		ip[2] = (uint8_t)((len - 14) >> 8);
		ip[3] = (uint8_t)(len - 14);
		ip[8] = 64;
		ip[9] = udp ? 17 : 6;
	}
	if (udp) {
		th[4] = (uint8_t)((l4 + OL_PAYLOAD) >> 8);
		th[5] = (uint8_t)(l4 + OL_PAYLOAD);
	} else {
		th[12] = 5 << 4;
		th[13] = 0x10;
	}
	frame_fill(th + l4, OL_PAYLOAD, k);
	return len;
}

/* Post header h and frame f, as one buffer or cut in three. */
static void
ol_post(struct fe *f, const struct ol_bad *h, const uint8_t *frame,
	uint32_t len, int k)
{
	static uint8_t all[HDR + 2048 + OL_PAYLOAD];
	uint32_t l4 = 14 + (h->v6 ? 40 : 20);

	memset(all, 0, HDR);
	all[0] = h->flags;
	all[1] = h->gso_type;
	all[2] = (uint8_t)h->hdr_len;
	all[3] = (uint8_t)(h->hdr_len >> 8);
	all[4] = (uint8_t)h->gso_size;
	all[5] = (uint8_t)(h->gso_size >> 8);
	all[6] = (uint8_t)(h->csum_start == OL_L4 ? l4 : h->csum_start);
	all[7] = (uint8_t)((h->csum_start == OL_L4 ? l4 : h->csum_start) >> 8);
	all[8] = (uint8_t)h->csum_offset;
	all[9] = (uint8_t)(h->csum_offset >> 8);
	memcpy(all + HDR, frame, len);
	assert_true(vtd_post_tx(&f->ring[1], all, HDR + len, 0, 1 + 2 * (k & 1),
				k % 4 == 2) >= 0);
}

/*
 * Each bad header, between good frames, in split and packed devices that
 * negotiated feats: the bad frames are dropped and counted
 * (drops_bad_hdr), the good ones arrive intact with their offload flag,
 * every buffer goes back to the guest, the ring does not break, no mbuf
 * is kept, and traffic flows on.
 */
static void
ol_bad_headers(uint64_t feats, const struct ol_bad *bad, int n)
{
	static uint8_t frame[2048 + OL_PAYLOAD], good[2048 + OL_PAYLOAD];
	static uint8_t got[2048 + OL_PAYLOAD];
	const struct ol_bad gh = { false, false, OL_NC, 0, 0, 0, OL_L4, 16 };

	for (int p = 0; p < 2; p++) {
		struct vhu_vring_stats st0, st1;
		struct rte_mbuf *m[BATCH];
		unsigned int avail;
		uint32_t glen = ol_frame(good, false, false, 77), id, ulen;
		int have = 0, want = n + 1;
		struct fe f;

		fe_start_with(&f, p == 1, feats);
		assert_int_equal(vhu_dev_vring_stats(f.dev, 1, &st0,
						     sizeof(st0)),
				 (int)sizeof(st0));
		avail = rte_mempool_avail_count(pool);
		ol_post(&f, &gh, good, glen, 0);
		for (int i = 0; i < n; i++) {
			uint32_t len = ol_frame(frame, bad[i].v6, bad[i].udp,
						i);

			ol_post(&f, &bad[i], frame, len, i);
			ol_post(&f, &gh, good, glen, i + 1);
		}
		vtd_publish(&f.ring[1]);
		for (int tries = 0; have < want && tries < 100; tries++) {
			uint16_t r = deq(&f, m, BATCH);

			for (uint16_t i = 0; i < r; i++) {
				assert_int_equal(m[i]->pkt_len, glen);
				assert_memory_equal(rte_pktmbuf_read(m[i], 0,
								     glen, got),
						    good, glen);
				assert_int_equal(m[i]->ol_flags,
						 RTE_MBUF_F_RX_L4_CKSUM_NONE);
				rte_pktmbuf_free(m[i]);
			}
			have += r;
		}
		assert_int_equal(have, want);
		assert_int_equal(deq(&f, m, BATCH), 0);
		assert_int_equal(rte_mempool_avail_count(pool), avail);
		assert_int_equal(vtd_used_pending(&f.ring[1]), 2 * n + 1);
		for (int i = 0; i < 2 * n + 1; i++)
			assert_true(vtd_get_used(&f.ring[1], &id, &ulen));
		assert_false(vhu_dev_vring_broken(f.dev, 1));
		assert_int_equal(vhu_dev_vring_stats(f.dev, 1, &st1,
						     sizeof(st1)),
				 (int)sizeof(st1));
		assert_int_equal(st1.drops_bad_hdr - st0.drops_bad_hdr, n);
		assert_int_equal(st1.packets - st0.packets, want);
		assert_int_equal(st1.desc_errors, st0.desc_errors);
		assert_int_equal(st1.broken, 0);
		assert_true(traffic_tx(&f, 64));
		assert_true(traffic_rx(&f, 64));
		fe_stop(&f);
	}
}

/* A checksum position outside the frame, or ending past it. */
static void
h_ol_csum_outside_frame(void)
{
	const uint32_t len = 14 + 20 + 20 + OL_PAYLOAD;
	const struct ol_bad bad[] = {
		{ false, false, OL_NC, 0, 0, 0, (uint16_t)(len + 10), 0 },
		{ false, false, OL_NC, 0, 0, 0, (uint16_t)len, 0 },
		{ false, false, OL_NC, 0, 0, 0, (uint16_t)(len - 2), 1 },
		{ false, false, OL_NC, 0, 0, 0, 34, 0xffff },
		{ false, false, OL_NC, 0, 0, 0, 0xfffe, 0xffff },
	};

	ol_bad_headers(OL_HOST, bad, RTE_DIM(bad));
}

static void
h_ol_gso_size_zero(void)
{
	const struct ol_bad bad[] = {
		{ false, false, OL_NC, VIRTIO_NET_HDR_GSO_TCPV4, 54, 0, OL_L4,
		  16 },
		{ true, false, OL_NC, VIRTIO_NET_HDR_GSO_TCPV6, 74, 0, OL_L4,
		  16 },
		{ false, true, OL_NC, 5, 42, 0, OL_L4, 6 },
	};

	ol_bad_headers(OL_HOST, bad, RTE_DIM(bad));
}

/* GSO types virtio does not define or vhu does not offer (UFO). */
static void
h_ol_gso_type_unknown(void)
{
	const struct ol_bad bad[] = {
		{ false, false, OL_NC, 2, 54, 1448, OL_L4, 16 },
		{ false, true, OL_NC, 3, 42, 1448, OL_L4, 6 },
		{ false, false, OL_NC, 6, 54, 1448, OL_L4, 16 },
		{ false, false, OL_NC, 0x7f, 54, 1448, OL_L4, 16 },
		{ false, false, OL_NC, 0xff, 54, 1448, OL_L4, 16 },
		{ false, false, OL_NC, VIRTIO_NET_HDR_GSO_ECN, 54, 1448, OL_L4,
		  16 },
	};

	ol_bad_headers(OL_HOST, bad, RTE_DIM(bad));
}

/* GSO kinds the device did not negotiate. */
static void
h_ol_gso_not_negotiated(void)
{
	const struct ol_bad bad[] = {
		{ true, false, OL_NC, VIRTIO_NET_HDR_GSO_TCPV6, 74, 1440, OL_L4,
		  16 },
		{ false, false, OL_NC, VIRTIO_NET_HDR_GSO_TCPV4 |
		  VIRTIO_NET_HDR_GSO_ECN, 54, 1448, OL_L4, 16 },
		{ false, true, OL_NC, 5, 42, 1448, OL_L4, 6 },
	};

	ol_bad_headers(BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4),
		       bad, RTE_DIM(bad));
}

/* A GSO type that does not match the frame's headers. */
static void
h_ol_gso_type_mismatch(void)
{
	const struct ol_bad bad[] = {
		{ true, false, OL_NC, VIRTIO_NET_HDR_GSO_TCPV4, 74, 1440, OL_L4,
		  16 },
		{ false, false, OL_NC, VIRTIO_NET_HDR_GSO_TCPV6, 54, 1440, OL_L4,
		  16 },
		{ false, true, OL_NC, VIRTIO_NET_HDR_GSO_TCPV4, 42, 1448, OL_L4,
		  6 },
		{ false, false, OL_NC, 5, 54, 1448, OL_L4, 16 },
	};

	ol_bad_headers(OL_HOST, bad, RTE_DIM(bad));
}

/* GSO without a partial checksum, or with it somewhere else. */
static void
h_ol_gso_without_needs_csum(void)
{
	const struct ol_bad bad[] = {
		{ false, false, 0, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, OL_L4,
		  16 },
		{ false, false, VIRTIO_NET_HDR_F_DATA_VALID,
		  VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, OL_L4, 16 },
		{ false, false, OL_NC, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 14,
		  10 },
		{ false, false, OL_NC, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, OL_L4,
		  6 },
	};

	ol_bad_headers(OL_HOST, bad, RTE_DIM(bad));
}

static void
h_ol_hdr_len_past_frame(void)
{
	const struct ol_bad bad[] = {
		{ false, false, OL_NC, VIRTIO_NET_HDR_GSO_TCPV4,
		  14 + 20 + 20 + OL_PAYLOAD + 1, 1448, OL_L4, 16 },
		{ false, false, OL_NC, VIRTIO_NET_HDR_GSO_TCPV4, 0xffff, 1448,
		  OL_L4, 16 },
	};

	ol_bad_headers(OL_HOST, bad, RTE_DIM(bad));
}

/*
 * NET_SET_MTU outside virtio's bounds (68..65535, virtio 1.2 §5.1.4.1) is
 * refused; an accepted one limits what reaches the guest from then on:
 * with F_MTU a frame longer than the MTU plus Ethernet and one VLAN tag
 * is dropped and counted (drops_mtu), counts as placed, and the rest of
 * the burst goes in; a larger MTU lets it through.
 */
static void
h_net_set_mtu(void)
{
	static const uint32_t lens[] = { 1000, 1519, 1518, 60, 1600 };
	struct vtd *d;
	struct rte_mbuf *m[RTE_DIM(lens)];
	struct vhu_vring_stats st;
	uint8_t frame[2048], got[HDR + 2048];
	uint64_t v;
	struct fe f;

	fe_start_with(&f, false, BIT(VIRTIO_NET_F_MTU));
	d = &f.ring[0];
	v = 67;
	req_nack(f.sock, VHU_REQ_NET_SET_MTU, &v, 8, NULL, 0);
	v = 65536;
	req_nack(f.sock, VHU_REQ_NET_SET_MTU, &v, 8, NULL, 0);
	v = 1500;
	req_ok(f.sock, VHU_REQ_NET_SET_MTU, &v, 8, NULL, 0);
	for (size_t i = 0; i < RTE_DIM(lens); i++) {
		uint32_t blen = 2048;

		assert_true(vtd_post_rx(d, &blen, 1, false) >= 0);
		m[i] = rte_pktmbuf_alloc(pool);
		assert_non_null(m[i]);
		frame_fill((uint8_t *)rte_pktmbuf_append(m[i], lens[i]),
			   lens[i], (int)i);
	}
	vtd_publish(d);
	assert_int_equal(enq(&f, m, RTE_DIM(lens)), RTE_DIM(lens));
	for (size_t i = 0; i < RTE_DIM(lens); i++) {
		uint32_t id, ulen;

		if (lens[i] > 1518)
			continue;
		assert_true(vtd_get_used(d, &id, &ulen));
		assert_int_equal(ulen, HDR + lens[i]);
		vtd_gather(d, (uint16_t)id, got, ulen);
		frame_fill(frame, lens[i], (int)i);
		assert_memory_equal(got + HDR, frame, lens[i]);
	}
	assert_int_equal(vtd_used_pending(d), 0);
	assert_int_equal(vhu_dev_vring_stats(f.dev, 0, &st, sizeof(st)),
			 (int)sizeof(st));
	assert_int_equal(st.drops_mtu, 2);
	assert_int_equal(st.packets, 3);
	/* a jumbo MTU: the same frames go in */
	v = 9000;
	req_ok(f.sock, VHU_REQ_NET_SET_MTU, &v, 8, NULL, 0);
	assert_int_equal(enq(&f, &m[1], 1), 1);
	assert_int_equal(enq(&f, &m[4], 1), 1);
	for (int i = 1; i < 5; i += 3) {
		uint32_t id, ulen;

		assert_true(vtd_get_used(d, &id, &ulen));
		assert_int_equal(ulen, HDR + lens[i]);
	}
	assert_int_equal(vhu_dev_vring_stats(f.dev, 0, &st, sizeof(st)),
			 (int)sizeof(st));
	assert_int_equal(st.drops_mtu, 2);
	for (size_t i = 0; i < RTE_DIM(lens); i++)
		rte_pktmbuf_free(m[i]);
	assert_true(traffic_rx(&f, 64));
	fe_stop(&f);
}

/* ------------------------------------------------------------------ */
/* control virtqueue misbehaviour (issue #15 item 1)                   */

/*
 * A running device with CTRL_VQ and CTRL_RX negotiated: the data rings
 * as fe_start() makes them, plus the control vring (index 2, no MQ) in
 * a third memory region, its kick an eventfd the control loop watches.
 */
static void
ctrl_start(struct fe *f, bool packed)
{
	struct vtd_opts o = { .size = RING, .mem_size = GMEM, .nregions = 1,
			      .packed = packed, .gpa_base = GPA2 };
	struct vhu_msg_mem_table m = { .nregions = 3 };
	struct vhu_msg_vring_state num = { 2, RING };
	struct vhu_msg_vring_state base = { 2, 0 };
	struct vhu_msg_vring_addr a;
	int fds[3];
	int before;

	for (size_t i = 0; i < RTE_DIM(ev.broken); i++)
		atomic_store_explicit(&ev.broken[i], 0, memory_order_release);
	fe_init(f, packed);
	assert_int_equal(vtd_init(&f->cring, &o, packed ? 1u << 15 : 0), 0);
	f->has_ctrl = true;
	f->ckick = f->ccall = -1;
	f->extra = BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_RX);
	fe_negotiate(f);
	fds[0] = f->ring[0].memfd;
	fds[1] = f->ring[1].memfd;
	fds[2] = f->cring.memfd;
	m.r[0] = (struct vhu_msg_region){ GPA0, GMEM, QVA0, 0 };
	m.r[1] = (struct vhu_msg_region){ GPA1, GMEM, QVA1, 0 };
	m.r[2] = (struct vhu_msg_region){ GPA2, GMEM, QVA2, 0 };
	req_ok(f->sock, VHU_REQ_SET_MEM_TABLE, &m, 8 + 3 * 32, fds, 3);
	fe_ring(f, 0);
	fe_ring(f, 1);
	base.num = ring_base(f);
	a = (struct vhu_msg_vring_addr){ 2, 0, gqva(f->cring.desc_gpa),
					 gqva(f->cring.used_gpa),
					 gqva(f->cring.avail_gpa), 0 };
	req_ok(f->sock, VHU_REQ_SET_VRING_NUM, &num, 8, NULL, 0);
	req_ok(f->sock, VHU_REQ_SET_VRING_BASE, &base, 8, NULL, 0);
	req_ok(f->sock, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	fe_vring_fd(f, VHU_REQ_SET_VRING_KICK, 2, &f->ckick);
	fe_vring_fd(f, VHU_REQ_SET_VRING_CALL, 2, &f->ccall);
	fe_enable(f, 0, true);
	fe_enable(f, 1, true);
	fe_enable(f, 2, true);
	before = EV(new_device);
	fe_driver_ok(f);
	fe_wait_started(f, before);
}

/* Post a chain (bit i of wmask: buffer i writable) and kick. */
static void
ctrl_post(struct fe *f, const struct vtd_buf *b, int n, uint64_t wmask)
{
	assert_true(vtd_add_mixed(&f->cring, b, n, wmask, false) >= 0);
	vtd_publish(&f->cring);
	assert_int_equal(eventfd_write(f->ckick, 1), 0);
}

static uint64_t
ctrl_bytes(struct fe *f, const void *p, uint32_t len)
{
	uint64_t g = vtd_alloc(&f->cring, len, 8);

	memcpy(vtd_ptr(&f->cring, g), p, len);
	return g;
}

/*
 * The control vring alone is broken (reported once), the data vrings and
 * the device carry on, and another device as well.
 */
static void
ctrl_expect_broken(struct fe *f)
{
	assert_true(pump_until(&ev.broken[2], 1, WAIT_MS));
	assert_true(vhu_dev_vring_broken(f->dev, 2));
	assert_int_equal(vtd_used_pending(&f->cring), 0);
	assert_false(vhu_dev_vring_broken(f->dev, 0));
	assert_false(vhu_dev_vring_broken(f->dev, 1));
	assert_true(traffic_tx(f, 64));
	assert_true(traffic_rx(f, 64));
	pump(5);
	assert_int_equal(EV(broken[2]), 1);
	good_frontend(false);
	fe_stop(f);
}

/* A command with no device-writable byte: nowhere to put the ack. */
static void
ctrl_no_ack_case(bool packed)
{
	struct fe f;
	struct vtd_buf b[2];

	ctrl_start(&f, packed);
	b[0] = (struct vtd_buf){ ctrl_bytes(&f, "\0\0\0", 3), 3 };
	b[1] = (struct vtd_buf){ ctrl_bytes(&f, "\0", 1), 1 }; /* read-only */
	ctrl_post(&f, b, 2, 0);
	ctrl_expect_broken(&f);
}

static void
h_ctrl_ack_missing(void)
{
	ctrl_no_ack_case(false);
	ctrl_no_ack_case(true);
}

/* A split control chain whose last descriptor points back at the head. */
static void
h_ctrl_chain_loops(void)
{
	struct fe f;
	struct vtd_buf b[2];
	int head;

	ctrl_start(&f, false);
	b[0] = (struct vtd_buf){ ctrl_bytes(&f, "\0\0\0", 3), 3 };
	b[1] = (struct vtd_buf){ vtd_alloc(&f.cring, 1, 1), 1 };
	head = vtd_add_mixed(&f.cring, b, 2, 0x2, false);
	assert_true(head >= 0);
	f.cring.desc[f.cring.desc[head].next].flags |= VRING_DESC_F_NEXT;
	f.cring.desc[f.cring.desc[head].next].next = (uint16_t)head;
	vtd_publish(&f.cring);
	assert_int_equal(eventfd_write(f.ckick, 1), 0);
	ctrl_expect_broken(&f);
}

/* Command bytes (packed) and the ack (split) outside guest memory. */
static void
h_ctrl_buffer_outside_memory(void)
{
	for (int p = 0; p < 2; p++) {
		struct fe f;
		struct vtd_buf b[2];

		ctrl_start(&f, p);
		b[0] = (struct vtd_buf){ p ? 0x7ff000000000ull :
				       ctrl_bytes(&f, "\0\0\0", 3), 3 };
		b[1] = (struct vtd_buf){ p ? vtd_alloc(&f.cring, 1, 1) :
				       0x7ff000000000ull, 1 };
		ctrl_post(&f, b, 2, 0x2);
		ctrl_expect_broken(&f);
	}
}

/*
 * A flood of malformed commands with an ack byte each: every one is
 * answered VIRTIO_NET_ERR, nothing breaks, the data path keeps going.
 */
static void
h_ctrl_malformed_commands(void)
{
	static const uint8_t bad[][8] = {
		{ 9, 0 },                 /* unknown class */
		{ 0, 0, 2 },              /* PROMISC value 2 */
		{ 0, 7, 1 },              /* unknown RX command */
		{ 1, 0, 0xff, 0xff, 0xff, 0xff }, /* TABLE_SET count 2^32-1 */
		{ 2, 0, 1, 0 },           /* VLAN: not negotiated */
		{ 4, 0, 1, 0 },           /* MQ: not negotiated */
	};
	static const uint32_t len[] = { 2, 3, 3, 6, 4, 4 };
	struct fe f;

	ctrl_start(&f, false);
	for (int round = 0; round < 20; round++) {
		for (size_t i = 0; i < RTE_DIM(bad); i++) {
			uint64_t ack = vtd_alloc(&f.cring, 1, 1);
			struct vtd_buf b[2] = {
				{ ctrl_bytes(&f, bad[i], len[i]), len[i] },
				{ ack, 1 },
			};
			uint32_t id, ulen;

			*vtd_ptr(&f.cring, ack) = 0xaa;
			ctrl_post(&f, b, 2, 0x2);
			for (int t = 0; t < 500 &&
			     vtd_used_pending(&f.cring) == 0; t++)
				loop_step(2);
			assert_true(vtd_get_used(&f.cring, &id, &ulen));
			assert_int_equal(*vtd_ptr(&f.cring, ack), VIRTIO_NET_ERR);
		}
	}
	assert_false(vhu_dev_vring_broken(f.dev, 2));
	assert_true(traffic_tx(&f, 64));
	assert_true(traffic_rx(&f, 64));
	fe_stop(&f);
}

/* ------------------------------------------------------------------ */
/* files shrunk under the backend's mappings (issue #15 item 5)        */

/*
 * The library's SIGBUS handler, as vhu_init() installed it. cmocka puts
 * its own in place around every test (to report a crash as a failure),
 * so the rows below put the library's back for their duration, and
 * cmocka's after: an application that installs a handler after
 * vhu_init() has to do the same (or chain to the one it replaced).
 */
static struct sigaction lib_sigbus, cmocka_sigbus;

static void
lib_sigbus_on(void)
{
	assert_int_equal(sigaction(SIGBUS, &lib_sigbus, &cmocka_sigbus), 0);
}

static void
lib_sigbus_off(void)
{
	assert_int_equal(sigaction(SIGBUS, &cmocka_sigbus, NULL), 0);
}

/*
 * After a row shrinks one of f's files and makes the data path reach the
 * missing pages, the library must take the SIGBUS, close f's connection
 * (destroy_device, EOF on the socket) and keep serving another device, on
 * another socket, that ran all along. The test never touches its own
 * mapping of a shrunk file again: that fault would be a real one.
 */
/*
 * What a row's victim had when its file was cut: the library's mappings
 * of its files (regions and log, read from the device while nothing
 * changes them) and how many mappings the SIGBUS guard held before the
 * victim connected. After the close, every one of those ranges must be
 * unmapped (the anonymous replacement too: it has no file name, so the
 * epilogue's memfd count cannot see it) and the guard back at its count.
 */
struct victim {
	void *addr[VHU_MEM_TABLE_MAX + 1];
	size_t len[VHU_MEM_TABLE_MAX + 1];
	unsigned int n, guarded;
	int destroyed;
};

/* Before the victim connects. */
static void
victim_begin(struct victim *v)
{
	memset(v, 0, sizeof(*v));
	v->guarded = vhu_guard_count();
}

/* Right before the cut: what the library maps for f now. */
static void
victim_snap(struct victim *v, struct fe *f)
{
	const struct vhu_dev *dev = (const struct vhu_dev *)f->dev;

	v->destroyed = EV(destroy_device);
	if (dev == NULL) {
		/* not started yet: its handle is not known, only the count */
		assert_true(vhu_guard_count() > v->guarded);
		return;
	}
	assert_true(dev->mem.nregions <= VHU_MEM_TABLE_MAX);
	for (uint32_t i = 0; i < dev->mem.nregions; i++) {
		v->addr[v->n] = dev->mem.r[i].map_addr;
		v->len[v->n++] = dev->mem.r[i].map_len;
	}
	if (dev->log.map_addr != NULL) {
		v->addr[v->n] = dev->log.map_addr;
		v->len[v->n++] = dev->log.map_len;
	}
	assert_int_equal(vhu_guard_count(), v->guarded + v->n);
}

static void
expect_fault_closes(struct fe *f, struct fe *other, const struct victim *v)
{
	struct rte_mbuf *m[BATCH];

	assert_true(pump_until(&ev.destroy_device, v->destroyed + 1, 2000));
	lib_sigbus_off();
	assert_true(peer_closed(f->sock));
	/* msync of one page: ENOMEM when it is not mapped */
	for (unsigned int i = 0; i < v->n; i++)
		for (size_t off = 0; off < v->len[i]; off += 4096) {
			errno = 0;
			assert_int_equal(msync((uint8_t *)v->addr[i] + off, 4096,
					       MS_ASYNC), -1);
			assert_int_equal(errno, ENOMEM);
		}
	assert_int_equal(vhu_guard_count(), v->guarded);
	/* the closed device's queues refuse entry */
	assert_int_equal(deq(f, m, BATCH), 0);
	assert_true(traffic_tx(other, 64));
	assert_true(traffic_rx(other, 64));
	fe_stop(f);
	fe_stop(other);
}

/* A running device on the second socket, beside the row's victim. */
static void
bystander_start(struct fe *f, bool packed)
{
	connect_path = path2;
	fe_start(f, packed);
	connect_path = path;
}

/* Transmit frames posted (not yet taken) on f's guest Tx ring. */
static void
post_tx(struct fe *f, int n)
{
	uint8_t frame[256];

	for (int i = 0; i < n; i++) {
		frame_fill(frame, sizeof(frame), i);
		assert_true(vtd_post_tx(&f->ring[1], frame, sizeof(frame), HDR,
					1, false) >= 0);
	}
	vtd_publish(&f->ring[1]);
}

/* Receive buffers posted on f's guest Rx ring. */
static void
post_rx(struct fe *f, int n)
{
	for (int i = 0; i < n; i++) {
		uint32_t blen = 2048;

		assert_true(vtd_post_rx(&f->ring[0], &blen, 1, false) >= 0);
	}
	vtd_publish(&f->ring[0]);
}

/* Offer n frames to f's guest Rx ring; how many went in. */
static uint16_t
enqueue_some(struct fe *f, int n)
{
	struct rte_mbuf *m[BATCH];
	uint16_t sent;

	for (int i = 0; i < n; i++) {
		m[i] = rte_pktmbuf_alloc(pool);
		assert_non_null(m[i]);
		/* above the copy threshold: the engine's with --dma */
		memset(rte_pktmbuf_append(m[i], 300), 0x5a, 300);
	}
	sent = enq(f, m, (uint16_t)n);
	for (int i = 0; i < n; i++)
		rte_pktmbuf_free(m[i]);
	return sent;
}

static void
dequeue_some(struct fe *f)
{
	struct rte_mbuf *m[BATCH];
	uint16_t n = deq(f, m, BATCH);

	for (uint16_t i = 0; i < n; i++)
		rte_pktmbuf_free(m[i]);
}

/* ------------------------------------------------------------------ */
/* frames in flight when the frontend acts (issue #17: DMA channels)   */

#define INFLIGHT 32
#define IF_SEQ 1000             /* frame patterns of these rows */

static uint32_t
if_len(int i)
{
	/* 1000..1496 bytes: above the copy threshold, on the engine */
	return 1000 + (uint32_t)i * 16;
}

/*
 * INFLIGHT frames offered to f's guest Rx ring, buffers posted first, and
 * left in libvhu's hands: --dma submits them (not polled: the copies may
 * be in flight, done and unpublished, or published); otherwise an
 * ordinary enqueue. All must go in.
 */
static void
rx_leave_in_flight(struct fe *f)
{
	struct rte_mbuf *m[INFLIGHT];
	uint16_t n;

	post_rx(f, INFLIGHT);
	for (int i = 0; i < INFLIGHT; i++) {
		m[i] = rte_pktmbuf_alloc(pool);
		assert_non_null(m[i]);
		frame_fill((uint8_t *)rte_pktmbuf_append(m[i], if_len(i)),
			   if_len(i), IF_SEQ + i);
	}
	if (use_dma) {
		/* accepted ones are libvhu's until a poll or the unbind */
		n = vhu_enqueue_submit_burst(f->dev, 0, m, INFLIGHT);
		for (int i = n; i < INFLIGHT; i++)
			rte_pktmbuf_free(m[i]);
	} else {
		n = vhu_enqueue_burst(f->dev, 0, m, INFLIGHT);
		rte_pktmbuf_free_bulk(m, INFLIGHT);
	}
	assert_int_equal(n, INFLIGHT);
}

/* The guest received the frames rx_leave_in_flight() sent, intact. */
static void
rx_check_landed(struct fe *f)
{
	uint8_t frame[1600], got[HDR + 1600];

	assert_int_equal(vtd_used_pending(&f->ring[0]), INFLIGHT);
	for (int i = 0; i < INFLIGHT; i++) {
		uint32_t id, ulen;

		assert_true(vtd_get_used(&f->ring[0], &id, &ulen));
		assert_int_equal(ulen, HDR + if_len(i));
		vtd_gather(&f->ring[0], (uint16_t)id, got, ulen);
		frame_fill(frame, if_len(i), IF_SEQ + i);
		assert_memory_equal(got + HDR, frame, if_len(i));
	}
}

/*
 * INFLIGHT frames posted on f's guest Tx ring and taken: --dma starts
 * their copies (not polled); otherwise an ordinary dequeue, whose mbufs
 * go to m (NULL: freed).
 */
static void
tx_leave_in_flight(struct fe *f, struct rte_mbuf **m)
{
	struct rte_mbuf *tmp[INFLIGHT];
	uint8_t frame[1600];
	uint16_t n;

	for (int i = 0; i < INFLIGHT; i++) {
		frame_fill(frame, if_len(i), IF_SEQ + i);
		assert_true(vtd_post_tx(&f->ring[1], frame, if_len(i), HDR,
					1 + i % 3, false) >= 0);
	}
	vtd_publish(&f->ring[1]);
	if (use_dma) {
		n = vhu_dequeue_submit_burst(f->dev, 0, pool, INFLIGHT);
	} else {
		n = vhu_dequeue_burst(f->dev, 0, pool, m ? m : tmp, INFLIGHT);
		if (m == NULL)
			rte_pktmbuf_free_bulk(tmp, n);
	}
	assert_int_equal(n, INFLIGHT);
}

/* The frames of tx_leave_in_flight(), intact and in order, in m. */
static void
tx_check_frames(struct rte_mbuf **m, int n)
{
	uint8_t frame[1600], got[1600];

	assert_int_equal(n, INFLIGHT);
	for (int i = 0; i < n; i++) {
		frame_fill(frame, if_len(i), IF_SEQ + i);
		assert_int_equal(m[i]->pkt_len, if_len(i));
		assert_memory_equal(rte_pktmbuf_read(m[i], 0, if_len(i), got),
				    frame, if_len(i));
		rte_pktmbuf_free(m[i]);
	}
}

/*
 * f disconnects with frames of both directions in libvhu's hands: before
 * it unmaps anything the library lets the copies land and publishes them
 * (the guest's Rx ring holds every frame, intact; its Tx buffers all came
 * back), then frees the mbufs it held (the epilogue counts the pool).
 */
static void
close_in_flight(struct fe *f)
{
	int destroyed = EV(destroy_device) + 1;

	rx_leave_in_flight(f);
	tx_leave_in_flight(f, NULL);
	close(f->sock);
	f->sock = -1;
	assert_true(pump_until(&ev.destroy_device, destroyed, WAIT_MS));
	rx_check_landed(f);
	assert_int_equal(vtd_used_pending(&f->ring[1]), INFLIGHT);
}

static void
h_disconnect_in_flight(void)
{
	struct fe f;

	fe_start(&f, false);
	close_in_flight(&f);
	fe_stop(&f);
	fe_start(&f, true);
	close_in_flight(&f);
	fe_stop(&f);
}

/*
 * SET_MEM_TABLE (the same regions again) on a running device with frames
 * of both directions in libvhu's hands: the copies land and are published
 * before the old mappings go (every frame intact on both sides), and the
 * device runs on with its channels.
 */
static void
mem_table_in_flight(bool packed)
{
	struct rte_mbuf *m[INFLIGHT];
	uint16_t n = 0;
	struct fe f;

	fe_start(&f, packed);
	rx_leave_in_flight(&f);
	tx_leave_in_flight(&f, m);
	fe_mem_table(&f);
	rx_check_landed(&f);
	assert_int_equal(vtd_used_pending(&f.ring[1]), INFLIGHT);
	if (use_dma)
		n = deq(&f, m, INFLIGHT);
	else
		n = INFLIGHT;
	tx_check_frames(m, n);
	for (int i = 0; i < INFLIGHT; i++) {
		uint32_t id, len;

		assert_true(vtd_get_used(&f.ring[1], &id, &len));
	}
	assert_true(traffic_tx(&f, 64));
	assert_true(traffic_rx(&f, 64));
	fe_stop(&f);
}

static void
h_mem_table_replaced_in_flight(void)
{
	mem_table_in_flight(false);
	mem_table_in_flight(true);
}

/*
 * GET_VRING_BASE of the guest Rx vring with frames in libvhu's hands (a
 * ring reset, or the last step before a migration): the reply comes after
 * the copies landed and were published, so the base it reports counts
 * exactly the buffers the guest finds used (none taken and lost).
 */
static void
h_vring_base_in_flight(void)
{
	struct vhu_msg_vring_state st = { 0, 0 };
	struct vhu_msg_hdr h;
	int destroyed = EV(destroy_device) + 1;
	struct fe f;

	fe_start(&f, false);
	assert_true(traffic_rx(&f, 40));
	rx_leave_in_flight(&f);
	assert_int_equal(fe_send(f.sock, VHU_REQ_GET_VRING_BASE,
				 VHU_MSG_VERSION, &st, 8, NULL, 0), 0);
	assert_int_equal(wait_reply(f.sock, &h, &st, sizeof(st)), 8);
	assert_int_equal(st.index, 0);
	assert_int_equal(st.num, 40 + INFLIGHT);
	rx_check_landed(&f);
	assert_true(pump_until(&ev.destroy_device, destroyed, WAIT_MS));
	fe_stop(&f);
}

/*
 * Good transmit frames taken, then a bad entry (split: a head out of
 * range; packed: a buffer outside memory): the ring breaks with the good
 * frames' copies in flight (--dma). The app still gets them all, intact
 * (--dma: once the control context has drained the broken queue), the
 * guest gets its buffers back, nothing leaks; the other direction
 * carries on.
 */
static void
broken_in_flight(bool packed)
{
	struct rte_mbuf *m[INFLIGHT], *more[1];
	uint16_t n;
	struct fe f;

	ring_start(&f, packed);
	tx_leave_in_flight(&f, m);
	if (packed) {
		pdesc(&f, f.ring[1].pavail, 0xfffffffffffff000ull, 0x2000, 0,
		      0);
	} else {
		vtd_add_raw_head(&f.ring[1], RING + 1);
		vtd_publish(&f.ring[1]);
	}
	if (use_dma) {
		/* submit meets the bad entry; the copies before it may fly */
		assert_int_equal(vhu_dequeue_submit_burst(f.dev, 0, pool,
							  BATCH), 0);
	} else {
		assert_int_equal(vhu_dequeue_burst(f.dev, 0, pool, more, 1),
				 0);
	}
	assert_true(vhu_dev_vring_broken(f.dev, 1));
	assert_true(pump_until(&ev.broken[1], 1, WAIT_MS));
	n = use_dma ? deq(&f, m, INFLIGHT) : INFLIGHT;
	tx_check_frames(m, n);
	assert_int_equal(vtd_used_pending(&f.ring[1]), INFLIGHT);
	assert_true(traffic_rx(&f, 64));
	fe_stop(&f);
}

static void
h_ring_broken_in_flight(void)
{
	broken_in_flight(false);
	broken_in_flight(true);
}

/*
 * Both memory files cut to nothing after SET_MEM_TABLE, frames and
 * buffers posted: dequeue faults on the ring itself, then enqueue on the
 * other region (two regions of one device faulting): one close.
 */
static void
h_mem_file_truncated_to_zero(void)
{
	struct fe f, other;
	struct victim v;

	bystander_start(&other, false);
	victim_begin(&v);
	fe_start(&f, false);
	assert_true(traffic_tx(&f, 16));
	post_tx(&f, 8);
	post_rx(&f, 8);
	lib_sigbus_on();
	victim_snap(&v, &f);
	assert_int_equal(ftruncate(f.ring[1].memfd, 0), 0);
	assert_int_equal(ftruncate(f.ring[0].memfd, 0), 0);
	dequeue_some(&f);
	enqueue_some(&f, 8);
	expect_fault_closes(&f, &other, &v);
}

/*
 * Half of each file cut, the rings intact in the first half and the
 * buffers in the second: the walk succeeds, the copies fault (a read on
 * dequeue, a write on enqueue).
 */
static void
h_mem_file_truncated_half(void)
{
	struct fe f, other;
	struct victim v;

	bystander_start(&other, true);
	victim_begin(&v);
	fe_start(&f, false);
	for (int i = 0; i < 2; i++)
		f.ring[i].buf_next = f.ring[i].gpa_base + GMEM / 2 + 4096;
	post_tx(&f, 8);
	post_rx(&f, 8);
	lib_sigbus_on();
	victim_snap(&v, &f);
	assert_int_equal(ftruncate(f.ring[1].memfd, GMEM / 2), 0);
	dequeue_some(&f);
	assert_int_equal(ftruncate(f.ring[0].memfd, GMEM / 2), 0);
	enqueue_some(&f, 8);
	expect_fault_closes(&f, &other, &v);
}

/*
 * The Tx file cut after the rings were set up, before DRIVER_OK: starting
 * the device writes the ring's notification flag from the control context
 * (this thread in vhu_dispatch(), or libvhu's control thread), which
 * faults there rather than on the data path. The device starts and is
 * closed right after.
 */
static void
h_mem_file_truncated_before_start(void)
{
	struct fe f, other;
	struct victim v;
	int started;

	bystander_start(&other, false);
	victim_begin(&v);
	fe_open(&f, false);
	fe_rings_up(&f);
	started = EV(new_device);
	lib_sigbus_on();
	victim_snap(&v, &f);
	assert_int_equal(ftruncate(f.ring[1].memfd, 0), 0);
	fe_driver_ok(&f);
	fe_wait_started(&f, started);
	expect_fault_closes(&f, &other, &v);
}

/*
 * Migration: the dirty log's file is cut after SET_LOG_BASE; the next
 * enqueue marks pages in it. Guest memory is intact, so the frames go in;
 * the device is closed right after.
 */
static void
h_log_file_truncated(void)
{
	struct vhu_msg_log lb = { 4096, 0 };
	struct vhu_msg_hdr h;
	struct fe f, other;
	struct victim v;
	uint64_t body;
	int logfd = fe_memfd(4096);

	bystander_start(&other, false);
	victim_begin(&v);
	fe_start_with(&f, false, BIT(VHOST_F_LOG_ALL));
	assert_int_equal(fe_send(f.sock, VHU_REQ_SET_LOG_BASE,
				 VHU_MSG_VERSION | VHU_MSG_F_NEED_REPLY, &lb,
				 sizeof(lb), &logfd, 1), 0);
	assert_int_equal(wait_reply(f.sock, &h, &body, sizeof(body)), 0);
	assert_true(traffic_rx(&f, 8));
	lib_sigbus_on();
	victim_snap(&v, &f);
	assert_int_equal(ftruncate(logfd, 0), 0);
	post_rx(&f, 8);
	assert_int_equal(enqueue_some(&f, 8), 8);
	close(logfd);
	expect_fault_closes(&f, &other, &v);
}

/* ------------------------------------------------------------------ */

/*
 * A row either runs a whole scenario (run), or only writes bad ring
 * entries (bad): ring_case() then starts a split or packed device first
 * and checks after that vring alone broke (expect_broken()).
 */
struct hcase {
	const char *name;
	void (*run)(void);
	void (*bad)(struct fe *f);
	bool packed;
	uint16_t vring;
};

#define ROW(fn) { #fn, h_ ## fn, NULL, false, 0 }
#define RING_ROW(fn, packed, vring) { #fn, NULL, h_ ## fn, packed, vring }
#define SPLIT_TX(fn) RING_ROW(fn, false, 1)
#define PACKED_TX(fn) RING_ROW(fn, true, 1)

static const struct hcase cases[] = {
	/* item 2: messages */
	ROW(msg_oversize_payload),
	ROW(msg_size_lies),
	ROW(msg_too_many_fds),
	ROW(msg_unexpected_fds_repeated),
	ROW(msg_stall_mid_message),
	ROW(msg_never_reads_replies),
	ROW(msg_bad_version),
	ROW(conn_flood_all_slots),
	ROW(mem_table_count_lies),
	ROW(mem_region_bounds),
	ROW(mem_slots_overlap),
	ROW(mem_table_repeated),
	ROW(log_base_overflow),
	ROW(vring_index_out_of_range),
	ROW(vring_num_bad),
	ROW(vring_addr_outside_memory),
	ROW(packed_vring_addr_outside_memory),
	ROW(vring_base_bad),
	ROW(requests_out_of_order),
	ROW(features_change_after_driver_ok),
	/* item 3: rings */
	SPLIT_TX(ring_avail_idx_jump),
	SPLIT_TX(ring_head_out_of_range),
	SPLIT_TX(ring_next_out_of_range),
	SPLIT_TX(ring_chain_loops),
	SPLIT_TX(ring_chain_longer_than_ring),
	SPLIT_TX(ring_indirect_len_not_whole),
	SPLIT_TX(ring_indirect_len_zero),
	SPLIT_TX(ring_indirect_len_huge),
	SPLIT_TX(ring_indirect_nested),
	SPLIT_TX(ring_indirect_with_next),
	SPLIT_TX(ring_indirect_loops),
	SPLIT_TX(ring_indirect_table_outside),
	SPLIT_TX(ring_buffer_outside_memory),
	SPLIT_TX(ring_buffer_straddles_end),
	SPLIT_TX(ring_buffer_wraps_2_64),
	SPLIT_TX(ring_tx_writable_buffer),
	RING_ROW(ring_rx_readable_after_writable, false, 0),
	SPLIT_TX(ring_tx_shorter_than_header),
	ROW(ring_tiny_and_empty_descriptors),
	ROW(ring_tx_frame_oversize),
	PACKED_TX(packed_chain_wrap_inconsistent),
	PACKED_TX(packed_chain_longer_than_ring),
	PACKED_TX(packed_buffer_outside_memory),
	ROW(broken_ring_reset_clears),
	/* issue #14 item 5: transmit offload headers */
	ROW(ol_csum_outside_frame),
	ROW(ol_gso_size_zero),
	ROW(ol_gso_type_unknown),
	ROW(ol_gso_not_negotiated),
	ROW(ol_gso_type_mismatch),
	ROW(ol_gso_without_needs_csum),
	ROW(ol_hdr_len_past_frame),
	ROW(net_set_mtu),
	/* issue #15 item 1: the control virtqueue */
	ROW(ctrl_ack_missing),
	ROW(ctrl_chain_loops),
	ROW(ctrl_buffer_outside_memory),
	ROW(ctrl_malformed_commands),
	/* issue #15 item 5: files shrunk under the mappings */
	ROW(mem_file_truncated_to_zero),
	ROW(mem_file_truncated_half),
	ROW(mem_file_truncated_before_start),
	ROW(log_file_truncated),
	/* issue #17: frames in libvhu's hands (DMA copies with --dma) */
	ROW(disconnect_in_flight),
	ROW(mem_table_replaced_in_flight),
	ROW(vring_base_in_flight),
	ROW(ring_broken_in_flight),
};

static void
ring_case(const struct hcase *c)
{
	struct fe f;

	ring_start(&f, c->packed);
	c->bad(&f);
	expect_broken(&f, c->vring);
}

/* One row: misbehave, then the common epilogue (see the top comment). */
static void
run_case(void **state)
{
	const struct hcase *c = *state;
	int fds = fe_count_fds(), maps = count_maps();
	int before = EV(destroy_device), started = EV(new_device);
	unsigned int mbufs = rte_mempool_in_use_count(pool);

	if (c->run != NULL)
		c->run();
	else
		ring_case(c);
	pump(20);
	assert_int_equal(EV(bad_ctx), 0);
	/* alive: the loop answers a new connection */
	assert_int_equal(kill(getpid(), 0), 0);
	good_frontend(false);
	good_frontend(true);
	assert_true(EV(destroy_device) >= before + 2);
	assert_int_equal(fe_count_fds(), fds);
	assert_int_equal(count_maps(), maps);
	/*
	 * every device this row started is gone (--dma: unbound), every mbuf
	 * back in the pool (counted from the row's start, so that a failed
	 * row's leftovers do not fail the rows after it)
	 */
	assert_true(pump_until(&ev.destroy_device,
			       before + EV(new_device) - started, WAIT_MS));
	assert_int_equal(EV(destroy_device) - before,
			 EV(new_device) - started);
	assert_int_equal(atomic_load(&dma_errors), 0);
	assert_int_equal(rte_mempool_in_use_count(pool), mbufs);
}

/*
 * --dma: EAL as fe_eal_init() starts it, in IOVA-as-VA mode (libvhu gives
 * the engine virtual addresses) with DMA_CHANNELS dma_skeleton devices,
 * each configured with one channel and left stopped (dma_take() starts
 * one when a queue needs it, so idle engines cost no thread).
 */
static int
dma_eal_init(const char *prog)
{
	char prefix[64], vdev[DMA_CHANNELS][32];
	char *argv[16 + DMA_CHANNELS] = {
		(char *)prog, "--no-huge", "-m", "128", "--no-pci",
		"--no-shconf", "--no-telemetry", "--iova-mode=va", prefix,
		"--log-level=lib.vhu.*:warning", "--log-level=lib.eal:error",
	};
	int argc = 11;
	struct rte_dma_conf conf = { .nb_vchans = 1 };
	struct rte_dma_vchan_conf vc = {
		.direction = RTE_DMA_DIR_MEM_TO_MEM, .nb_desc = 1024,
	};

	snprintf(prefix, sizeof(prefix), "--file-prefix=vhut%d", getpid());
	for (int i = 0; i < DMA_CHANNELS; i++) {
		snprintf(vdev[i], sizeof(vdev[i]), "--vdev=dma_skeleton%d", i);
		argv[argc++] = vdev[i];
	}
	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr, "rte_eal_init failed\n");
		return -1;
	}
	vhu_test_eal_tidy_at_exit();
	for (int i = 0; i < DMA_CHANNELS; i++) {
		char name[32];

		snprintf(name, sizeof(name), "dma_skeleton%d", i);
		dma_ids[i] = (int16_t)rte_dma_get_dev_id_by_name(name);
		if (dma_ids[i] < 0 || rte_dma_configure(dma_ids[i], &conf) != 0 ||
		    rte_dma_vchan_setup(dma_ids[i], 0, &vc) != 0) {
			fprintf(stderr, "no %s (driver dma_skeleton): --dma cannot run\n",
				name);
			return -1;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct CMUnitTest tests[RTE_DIM(cases)];
	struct vhu_socket_params p = { .ops = &ops, .ctx = &ctx_token };
	int ret;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--control-thread") == 0)
			own_thread = true;
		else if (strcmp(argv[i], "--dma") == 0)
			use_dma = true;
	}
	for (size_t i = 0; i < RTE_DIM(cases); i++)
		tests[i] = (struct CMUnitTest){
			.name = cases[i].name, .test_func = run_case,
			.initial_state = (void *)(uintptr_t)&cases[i],
		};
	if (use_dma) {
		if (dma_eal_init(argv[0]) != 0)
			return 1;
	} else {
		fe_eal_init(argv[0]);
	}
	pool = rte_pktmbuf_pool_create("hostile", 2047, 0, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (pool == NULL)
		return 1;
	snprintf(dir, sizeof(dir), "/tmp/vhu-hostile-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/h.sock", dir);
	if (vhu_init(own_thread ? VHU_INIT_CONTROL_THREAD : 0) != 0 ||
	    sigaction(SIGBUS, NULL, &lib_sigbus) != 0)
		return 1;
	p.path = path;
	/* the control-queue rows negotiate these; the others do not */
	if (vhu_socket_register(&p, &sock) != 0 ||
	    vhu_socket_enable_features(sock, BIT(VIRTIO_NET_F_CTRL_VQ) |
				       BIT(VIRTIO_NET_F_CTRL_RX)) != 0 ||
	    vhu_socket_start(sock) != 0)
		return 1;
	snprintf(path2, sizeof(path2), "%s/h2.sock", dir);
	p.path = path2;
	if (vhu_socket_register(&p, &sock2) != 0 ||
	    vhu_socket_start(sock2) != 0)
		return 1;
	ret = _cmocka_run_group_tests(own_thread ?
				      (use_dma ? "hostile-control-thread-dma" :
						 "hostile-control-thread") :
				      (use_dma ? "hostile-dispatch-dma" :
						 "hostile-dispatch"),
				      tests, RTE_DIM(tests), NULL, NULL);
	vhu_socket_unregister(sock2);
	vhu_socket_unregister(sock);
	vhu_fini();
	/* a running dmadev cannot be closed (DPDK 22.11): all are stopped */
	for (int i = 0; use_dma && i < DMA_CHANNELS; i++)
		(void)rte_dma_close(dma_ids[i]);
	rmdir(dir);
	return ret;
}
