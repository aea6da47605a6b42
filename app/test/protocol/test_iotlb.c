/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vIOMMU (VIRTIO_F_ACCESS_PLATFORM) end to end at the library boundary:
 * messages go through the real entry point (vhu_dev_handle_msg), the guest's
 * rings are written by the test driver (virtq_driver.c) and traffic moves
 * through the public burst calls.
 *
 * Design: the driver's "guest-physical" addresses serve as IOVAs, while
 * the memory table the device gets places guest memory at a different
 * guest-physical base (DEV_GPA). A descriptor address therefore only
 * translates through the IOTLB: any traffic proves the IOVA path, and a
 * GPA interpretation would find nothing. Vrings 0 and 1 share one driver
 * ring; each test drives one direction only. Misses are read from the
 * frontend end of the backend channel (a socketpair given with
 * SET_BACKEND_REQ_FD).
 *
 * Every hostile case ends with: the process alive, a fresh well-behaved
 * frontend gets correct traffic, and fd and mapping counts at baseline.
 * net_virtio_user has no vIOMMU, so there is no e2e counterpart.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include <linux/vhost_types.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include <rte_mbuf.h>

#include "dev.h"
#include "lifecycle.h"
#include "fe.h"
#include "msg.h"
#include "registry.h"
#include "vhu.h"
#include "vhu_burst.h"
#include "virtq_driver.h"

#define RING 256
#define MEM_SIZE (1u << 20)
#define DEV_GPA 0x80000000ull      /* the device's idea of guest-physical */
#define HDR 12                     /* VERSION_1: virtio_net_hdr_mrg_rxbuf */
#define BIT(n) (1ULL << (n))

static struct vhu_socket *sock;
static struct rte_mempool *pool;
static int base_fds, base_maps;
/* a device whose guest-address window a failed assert may leave open */
static struct vhu_dev *window_dev;

struct env {
	struct vtd d;
	struct vhu_dev *dev;
	int peer;      /* frontend end of the connection */
	int bch;       /* frontend end of the backend channel, or -1 */
	uint64_t ring_lo, ring_len, buf_lo, buf_len; /* iova ranges */
};

/* Mappings of the driver's guest memory (virtq_driver's memfd). */
static int
count_maps(void)
{
	return fe_count_maps_of(VTD_MEMFD_NAME);
}

static int
handle(struct env *e, uint32_t req, uint32_t flags, const void *payload,
       uint32_t size, int *fds, int nfds)
{
	return fe_handle(e->dev, req, flags, payload, size, fds, nfds);
}

/* Send with NEED_REPLY; the REPLY_ACK status (0 ok, 1 rejected). */
static uint64_t
ack(struct env *e, uint32_t req, const void *payload, uint32_t size,
    int *fds, int nfds)
{
	struct vhu_msg_hdr rh;
	uint64_t v = UINT64_MAX;

	assert_int_equal(handle(e, req, VHU_MSG_VERSION | VHU_MSG_F_NEED_REPLY,
				payload, size, fds, nfds), 0);
	assert_int_equal(fe_recv(e->peer, &rh, &v, sizeof(v), 1000), 8);
	assert_int_equal(rh.request, req);
	return v;
}

static uint64_t
get_u64(struct env *e, uint32_t req)
{
	struct vhu_msg_hdr rh;
	uint64_t v = 0;

	assert_int_equal(handle(e, req, VHU_MSG_VERSION, NULL, 0, NULL, 0), 0);
	assert_int_equal(fe_recv(e->peer, &rh, &v, sizeof(v), 1000), 8);
	return v;
}

static uint64_t
iotlb(struct env *e, uint8_t type, uint64_t iova, uint64_t size,
      uint64_t uaddr, uint8_t perm)
{
	struct vhost_iotlb_msg m = {
		.iova = iova, .size = size, .uaddr = uaddr, .perm = perm,
		.type = type,
	};

	return ack(e, VHU_REQ_IOTLB_MSG, &m, sizeof(m), NULL, 0);
}

/* Map iova range [iova, iova + len) of the driver's memory. */
static uint64_t
map(struct env *e, uint64_t iova, uint64_t len, uint8_t perm)
{
	return iotlb(e, VHOST_IOTLB_UPDATE, iova, len, vtd_qva(&e->d, iova),
		     perm);
}

static uint64_t
unmap(struct env *e, uint64_t iova, uint64_t len)
{
	return iotlb(e, VHOST_IOTLB_INVALIDATE, iova, len, 0, 0);
}

/* A pending miss request on the backend channel: true and its fields. */
static bool
read_miss(struct env *e, uint64_t *iova, uint8_t *perm)
{
	struct vhu_msg_hdr h;
	struct vhost_iotlb_msg m;
	int n = fe_recv(e->bch, &h, &m, sizeof(m), 0);

	if (n == -ETIMEDOUT)
		return false;
	assert_int_equal(n, sizeof(m));
	assert_int_equal(h.request, VHU_BACKEND_IOTLB_MSG);
	assert_int_equal(h.flags & VHU_MSG_F_NEED_REPLY, 0);
	assert_int_equal(m.type, VHOST_IOTLB_MISS);
	*iova = m.iova;
	*perm = m.perm;
	return true;
}

/*
 * Connect and negotiate with IOMMU; with_channel: give the backend
 * channel. Rings configured, but nothing in the IOTLB yet.
 */
static void
env_open_full(struct env *e, bool with_channel, uint64_t drop, bool packed)
{
	struct vtd_opts o = { .size = RING, .mem_size = MEM_SIZE, .nregions = 1,
			      .packed = packed };
	/* packed: slot 0 with both wrap counters 1 (virtio 1.2 §2.8.1) */
	const uint32_t base = packed ? 0x8000 : 0;
	int sv[2], memfd;
	uint64_t f, pf;
	struct vhu_msg_mem_table mt = { .nregions = 1 };

	memset(e, 0, sizeof(*e));
	e->bch = -1;
	assert_int_equal(vtd_init(&e->d, &o, base), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	e->dev = vhu_dev_alloc(sock, sv[0]);
	assert_non_null(e->dev);
	e->peer = sv[1];

	f = get_u64(e, VHU_REQ_GET_FEATURES);
	assert_true(f & BIT(VIRTIO_F_ACCESS_PLATFORM));
	f &= ~(BIT(VHOST_F_LOG_ALL) | BIT(VIRTIO_NET_F_MRG_RXBUF) | drop |
	       (packed ? 0 : BIT(VIRTIO_F_RING_PACKED)));
	assert_int_equal(handle(e, VHU_REQ_SET_FEATURES, VHU_MSG_VERSION, &f, 8,
				NULL, 0), 0);
	pf = get_u64(e, VHU_REQ_GET_PROTOCOL_FEATURES);
	assert_true(pf & BIT(VHU_PROTOCOL_F_BACKEND_REQ));
	assert_int_equal(handle(e, VHU_REQ_SET_PROTOCOL_FEATURES,
				VHU_MSG_VERSION, &pf, 8, NULL, 0), 0);
	if (with_channel) {
		int bv[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
					    0, bv), 0);
		e->bch = bv[1];
		assert_int_equal(ack(e, VHU_REQ_SET_BACKEND_REQ_FD, NULL, 0,
				     &bv[0], 1), 0);
	}
	memfd = dup(e->d.memfd);
	mt.r[0] = (struct vhu_msg_region){ DEV_GPA, MEM_SIZE,
					   vtd_qva(&e->d, VTD_GPA_BASE), 0 };
	assert_int_equal(ack(e, VHU_REQ_SET_MEM_TABLE, &mt, 8 + 32, &memfd, 1),
			 0);
	for (uint32_t i = 0; i < 2; i++) {
		struct vhu_msg_vring_state st = { i, RING };
		struct vhu_msg_vring_addr a = { i, 0, e->d.desc_gpa,
						e->d.used_gpa, e->d.avail_gpa, 0 };
		uint64_t u = i | VHU_VRING_NOFD;

		assert_int_equal(ack(e, VHU_REQ_SET_VRING_NUM, &st, 8, NULL, 0), 0);
		assert_int_equal(ack(e, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a),
				     NULL, 0), 0);
		st.num = base;
		assert_int_equal(ack(e, VHU_REQ_SET_VRING_BASE, &st, 8, NULL, 0), 0);
		assert_int_equal(ack(e, VHU_REQ_SET_VRING_KICK, &u, 8, NULL, 0), 0);
		assert_int_equal(ack(e, VHU_REQ_SET_VRING_CALL, &u, 8, NULL, 0), 0);
		st.num = 1;
		assert_int_equal(ack(e, VHU_REQ_SET_VRING_ENABLE, &st, 8, NULL, 0),
				 0);
	}
	{
		uint64_t status = VIRTIO_CONFIG_S_ACKNOWLEDGE |
				  VIRTIO_CONFIG_S_DRIVER |
				  VIRTIO_CONFIG_S_FEATURES_OK |
				  VIRTIO_CONFIG_S_DRIVER_OK;

		assert_int_equal(ack(e, VHU_REQ_SET_STATUS, &status, 8, NULL, 0),
				 0);
	}
	e->ring_lo = VTD_GPA_BASE;
	e->ring_len = e->d.buf_lo - VTD_GPA_BASE;
	e->buf_lo = e->d.buf_lo;
	e->buf_len = vtd_mem_end(&e->d) - e->d.buf_lo;
}

/* Read what is queued on fd; the end-of-stream result (0: closed). */
static ssize_t
drain(int fd)
{
	char buf[4096];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		;
	return n;
}

static void
env_open_drop(struct env *e, bool with_channel, uint64_t drop)
{
	env_open_full(e, with_channel, drop, false);
}

static void
env_open(struct env *e, bool with_channel)
{
	env_open_full(e, with_channel, 0, false);
}

static void
env_close(struct env *e)
{
	vhu_dev_close(e->dev);
	close(e->peer);
	if (e->bch >= 0) {
		/* the device closed its end of the backend channel */
		assert_int_equal(drain(e->bch), 0);
		close(e->bch);
	}
	vtd_fini(&e->d);
}

/* Map rings and buffers read-write: the device starts. */
static void
env_map_all(struct env *e)
{
	uint64_t iova;
	uint8_t perm;

	assert_int_equal(map(e, e->ring_lo, e->ring_len, VHOST_ACCESS_RW), 0);
	assert_int_equal(map(e, e->buf_lo, e->buf_len, VHOST_ACCESS_RW), 0);
	assert_true(e->dev->running);
	/* misses asked for before the rings were mapped: drain them */
	while (read_miss(e, &iova, &perm))
		;
}

static void
fill_frame(uint8_t *f, uint32_t len, uint8_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		f[i] = (uint8_t)(seed + i * 7);
}

/* Guest transmits one frame; the device dequeues it: count received. */
static int
tx_one(struct env *e, uint32_t len, uint8_t seed, bool post)
{
	uint8_t frame[2048];
	struct rte_mbuf *m = NULL;
	uint16_t n;

	fill_frame(frame, len, seed);
	if (post) {
		assert_true(vtd_post_tx(&e->d, frame, len, HDR, 1, false) >= 0);
		vtd_publish(&e->d);
	}
	n = vhu_dequeue_burst(e->dev, 0, pool, &m, 1);
	if (n == 1) {
		assert_int_equal(m->pkt_len, len);
		assert_memory_equal(rte_pktmbuf_mtod(m, uint8_t *), frame, len);
		rte_pktmbuf_free(m);
	}
	return n;
}

/* The device enqueues one frame into a posted receive buffer. */
static int
rx_one(struct env *e, uint32_t len, uint8_t seed)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint16_t n;

	assert_non_null(m);
	fill_frame((uint8_t *)rte_pktmbuf_append(m, len), len, seed);
	n = vhu_enqueue_burst(e->dev, 0, &m, 1);
	rte_pktmbuf_free(m);
	return n;
}

/* A fresh, well-behaved frontend gets correct traffic; counts at baseline. */
static void
check_healthy(void)
{
	struct env e;
	uint32_t id, len;
	uint32_t lens[1] = { 2048 };
	uint8_t got[300], want[300];
	int head;

	/* one device per direction: vrings 0 and 1 share the driver ring */
	env_open(&e, true);
	env_map_all(&e);
	assert_int_equal(tx_one(&e, 300, 1, true), 1);
	assert_true(vtd_get_used(&e.d, &id, &len));
	env_close(&e);
	env_open(&e, true);
	env_map_all(&e);
	head = vtd_post_rx(&e.d, lens, 1, false);
	assert_true(head >= 0);
	vtd_publish(&e.d);
	assert_int_equal(rx_one(&e, 300, 2), 1);
	assert_true(vtd_get_used(&e.d, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, HDR + 300);
	vtd_gather(&e.d, head, got, sizeof(got));
	fill_frame(want, 300, 2);
	assert_memory_equal(got + HDR, want, 300 - HDR);
	env_close(&e);
	assert_int_equal(fe_count_fds(), base_fds);
	assert_int_equal(count_maps(), base_maps);
}

static void
test_offer(void **state)
{
	struct vhu_socket_params p = { .path = "/nonexistent/vhu-iotlb-plain" };
	struct vhu_socket *plain;

	(void)state;
	assert_int_equal(vhu_socket_register(&p, &plain), 0);
	assert_non_null(plain);
	assert_false(vhu_socket_get_features(plain) &
		     BIT(VIRTIO_F_ACCESS_PLATFORM));
	assert_false(vhu_socket_get_protocol_features(plain) &
		     BIT(VHU_PROTOCOL_F_BACKEND_REQ));
	vhu_socket_unregister(plain);
	assert_true(vhu_socket_get_features(sock) &
		    BIT(VIRTIO_F_ACCESS_PLATFORM));
	assert_true(vhu_socket_get_protocol_features(sock) &
		    BIT(VHU_PROTOCOL_F_BACKEND_REQ));
}

/* Rings are IOVAs: the device starts only once they are in the IOTLB. */
static void
test_start_needs_channel_and_rings(void **state)
{
	struct env e;
	uint64_t iova, f;
	uint8_t perm;
	int fd;

	(void)state;
	env_open(&e, false);
	assert_int_equal(map(&e, e.ring_lo, e.ring_len, VHOST_ACCESS_RW), 0);
	/* no backend channel: not started */
	assert_false(e.dev->running);
	env_close(&e);

	env_open(&e, true);
	assert_false(e.dev->running);
	/*
	 * The ring miss was asked for once per queue (vrings 0 and 1 share
	 * the ring), read-only for the descriptor table.
	 */
	for (int q = 0; q < 2; q++) {
		assert_true(read_miss(&e, &iova, &perm));
		assert_int_equal(iova, e.d.desc_gpa);
		assert_int_equal(perm, VHOST_ACCESS_RO);
	}
	assert_false(read_miss(&e, &iova, &perm));
	/* GPAs are not IOVAs: the GPA of the ring does not help */
	assert_int_equal(map(&e, DEV_GPA, e.ring_len, VHOST_ACCESS_RW), 1);
	assert_int_equal(iotlb(&e, VHOST_IOTLB_UPDATE, 0x10000000, e.ring_len,
			       vtd_qva(&e.d, e.ring_lo), VHOST_ACCESS_RW), 0);
	assert_false(e.dev->running);
	/* the update re-armed the ring misses */
	for (int q = 0; q < 2; q++) {
		assert_true(read_miss(&e, &iova, &perm));
		assert_int_equal(iova, e.d.desc_gpa);
	}
	assert_false(read_miss(&e, &iova, &perm));
	/* read-only rings: the used ring needs write access */
	assert_int_equal(map(&e, e.ring_lo, e.ring_len, VHOST_ACCESS_RO), 0);
	assert_false(e.dev->running);
	for (int q = 0; q < 2; q++) {
		assert_true(read_miss(&e, &iova, &perm));
		assert_int_equal(iova, e.d.used_gpa);
		assert_int_equal(perm, VHOST_ACCESS_WO);
	}
	assert_false(read_miss(&e, &iova, &perm));
	assert_int_equal(unmap(&e, e.ring_lo, e.ring_len), 0);
	assert_int_equal(map(&e, e.ring_lo, e.ring_len, VHOST_ACCESS_RW), 0);
	assert_true(e.dev->running);
	/* migration (LOG_ALL) cannot be combined with the IOMMU */
	f = vhu_dev_features(e.dev) | BIT(VHOST_F_LOG_ALL);
	assert_int_equal(ack(&e, VHU_REQ_SET_FEATURES, &f, 8, NULL, 0), 1);
	/* a second channel replaces the first (closed) */
	{
		int bv[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
					    0, bv), 0);
		fd = bv[0];
		assert_int_equal(ack(&e, VHU_REQ_SET_BACKEND_REQ_FD, NULL, 0,
				     &fd, 1), 0);
		assert_int_equal(drain(e.bch), 0);
		close(e.bch);
		e.bch = bv[1];
	}
	env_close(&e);
	check_healthy();
}

static void
test_traffic(void **state)
{
	(void)state;
	check_healthy();
}

/* A buffer outside the IOTLB: miss requested, chain kept, then served. */
static void
test_miss_then_update(void **state)
{
	struct env e;
	uint64_t iova, first;
	uint8_t perm;
	uint32_t id, len;

	(void)state;
	env_open(&e, true);
	assert_int_equal(map(&e, e.ring_lo, e.ring_len, VHOST_ACCESS_RW), 0);
	assert_true(e.dev->running);
	while (read_miss(&e, &iova, &perm))
		;
	/* the first buffer is at buf_lo; nothing of it is mapped */
	first = e.d.buf_next;
	assert_int_equal(tx_one(&e, 200, 3, true), 0);
	assert_true(read_miss(&e, &iova, &perm));
	assert_int_equal(iova, first);
	assert_int_equal(perm, VHOST_ACCESS_RO);
	/* one outstanding request: polling again asks nothing more */
	for (int i = 0; i < 100; i++)
		assert_int_equal(tx_one(&e, 200, 3, false), 0);
	assert_false(read_miss(&e, &iova, &perm));
	assert_false(vtd_get_used(&e.d, &id, &len)); /* not consumed */
	/* not broken, not counted as an error */
	{
		struct vhu_vring_stats st;

		assert_int_equal(vhu_dev_vring_stats(e.dev, 1, &st,
						     sizeof(st)),
				 (int)sizeof(st));
		assert_int_equal(st.desc_errors, 0);
	}
	/* the page holding it: served, from the same chain */
	assert_int_equal(map(&e, first & ~4095ull, 4096 - (first & 4095),
			     VHOST_ACCESS_RO), 0);
	assert_int_equal(tx_one(&e, 200, 3, false), 1);
	assert_true(vtd_get_used(&e.d, &id, &len));
	env_close(&e);
	check_healthy();
}

/* A frame whose buffer spans two IOTLB entries that are not adjacent in
 * host memory is copied in pieces; the second piece missing is a miss. */
static void
test_split_buffer(void **state)
{
	struct env e;
	uint64_t iova, page;
	uint8_t perm;

	(void)state;
	env_open(&e, true);
	assert_int_equal(map(&e, e.ring_lo, e.ring_len, VHOST_ACCESS_RW), 0);
	while (read_miss(&e, &iova, &perm))
		;
	/* place the frame across a page boundary */
	page = (e.d.buf_next + 4095) & ~4095ull;
	e.d.buf_next = page + 4096 - 100;
	assert_int_equal(map(&e, page, 4096, VHOST_ACCESS_RO), 0);
	assert_int_equal(tx_one(&e, 600, 4, true), 0);
	assert_true(read_miss(&e, &iova, &perm));
	assert_int_equal(iova, page + 4096);
	assert_int_equal(map(&e, page + 4096, 4096, VHOST_ACCESS_RO), 0);
	assert_int_equal(tx_one(&e, 600, 4, false), 1);
	env_close(&e);
	check_healthy();
}

/* Invalidate during traffic: the next use misses; nothing stale used. */
static void
test_invalidate(void **state)
{
	struct env e;
	uint64_t iova;
	uint8_t perm;
	uint32_t id, len;

	(void)state;
	env_open(&e, true);
	env_map_all(&e);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(tx_one(&e, 100 + i, (uint8_t)i, true), 1);
		assert_true(vtd_get_used(&e.d, &id, &len));
	}
	assert_int_equal(unmap(&e, e.buf_lo, e.buf_len), 0);
	assert_int_equal(tx_one(&e, 100, 9, true), 0);
	assert_true(read_miss(&e, &iova, &perm));
	assert_true(iova >= e.buf_lo && iova < e.buf_lo + e.buf_len);
	/*
	 * Invalidating everything, rings included (a Linux guest in lazy
	 * mode flushes its whole IOTLB now and then): the device keeps
	 * running, its queues wait, ring misses are asked for, and mapping
	 * the rings again resumes traffic without a restart.
	 */
	while (read_miss(&e, &iova, &perm))
		;
	assert_int_equal(unmap(&e, 0, 0), 0); /* size 0: everything */
	assert_true(e.dev->running);
	assert_true(read_miss(&e, &iova, &perm));
	assert_int_equal(iova, e.d.desc_gpa);
	assert_int_equal(tx_one(&e, 100, 9, false), 0);
	assert_int_equal(rx_one(&e, 100, 9), 0);
	env_map_all(&e);
	assert_int_equal(tx_one(&e, 100, 9, false), 1);
	env_close(&e);
	check_healthy();
}

/*
 * A read-only mapping never receives: the RX buffer is not written, the
 * device asks for write access (a WO miss), a write-only mapping over the
 * read-only one is refused as overlapping, and once the buffer is mapped
 * again with perm the frame goes in.
 */
static void
ro_rx_case(bool packed, uint32_t flen, uint8_t seed, uint8_t perm_after)
{
	struct env e;
	uint32_t lens[1] = { 2048 };
	uint64_t iova, gpa;
	uint32_t id, len;
	uint8_t perm;
	int head;

	env_open_full(&e, true, 0, packed);
	assert_int_equal(map(&e, e.ring_lo, e.ring_len, VHOST_ACCESS_RW), 0);
	assert_int_equal(map(&e, e.buf_lo, e.buf_len, VHOST_ACCESS_RO), 0);
	while (read_miss(&e, &iova, &perm))
		;
	gpa = e.d.buf_next;
	head = vtd_post_rx(&e.d, lens, 1, false);
	assert_true(head >= 0);
	vtd_publish(&e.d);
	assert_int_equal(rx_one(&e, flen, seed), 0);
	for (uint32_t i = 0; i < 2048; i++)
		assert_int_equal(vtd_ptr(&e.d, gpa)[i], 0xA5);
	assert_true(read_miss(&e, &iova, &perm));
	assert_int_equal(iova, gpa);
	assert_int_equal(perm, VHOST_ACCESS_WO);
	assert_int_equal(map(&e, e.buf_lo, e.buf_len, VHOST_ACCESS_WO), 1);
	assert_int_equal(unmap(&e, e.buf_lo, e.buf_len), 0);
	assert_int_equal(map(&e, e.buf_lo, e.buf_len, perm_after), 0);
	assert_int_equal(rx_one(&e, flen, seed), 1);
	assert_true(vtd_get_used(&e.d, &id, &len));
	assert_int_equal(id, head);
	env_close(&e);
}

static void
test_ro_rx_buffer(void **state)
{
	(void)state;
	ro_rx_case(false, 500, 5, VHOST_ACCESS_WO);
	check_healthy();
}

/* Entries the IOTLB must refuse, each with a NACK; the device carries on. */
static void
test_bad_entries(void **state)
{
	struct env e;
	struct vhost_iotlb_msg m = { 0 };
	uint64_t qva;

	(void)state;
	env_open(&e, true);
	env_map_all(&e);
	qva = vtd_qva(&e.d, VTD_GPA_BASE);
	/* zero size; wrapping iova; iova + size = 2^64; wrapping uaddr */
	assert_int_equal(iotlb(&e, VHOST_IOTLB_UPDATE, 0x1000000, 0, qva,
			       VHOST_ACCESS_RW), 1);
	assert_int_equal(iotlb(&e, VHOST_IOTLB_UPDATE, UINT64_MAX - 4095, 8192,
			       qva, VHOST_ACCESS_RW), 1);
	assert_int_equal(iotlb(&e, VHOST_IOTLB_UPDATE, UINT64_MAX - 4095, 4096,
			       qva, VHOST_ACCESS_RW), 1);
	assert_int_equal(iotlb(&e, VHOST_IOTLB_UPDATE, 0x1000000, 8192,
			       UINT64_MAX - 4095, VHOST_ACCESS_RW), 1);
	/* permissions: none, unknown bits */
	assert_int_equal(iotlb(&e, VHOST_IOTLB_UPDATE, 0x1000000, 4096, qva, 0),
			 1);
	assert_int_equal(iotlb(&e, VHOST_IOTLB_UPDATE, 0x1000000, 4096, qva,
			       0x7), 1);
	/* outside guest memory: wholly, partly, below */
	assert_int_equal(iotlb(&e, VHOST_IOTLB_UPDATE, 0x1000000, 4096,
			       qva + MEM_SIZE, VHOST_ACCESS_RW), 1);
	assert_int_equal(iotlb(&e, VHOST_IOTLB_UPDATE, 0x1000000, 8192,
			       qva + MEM_SIZE - 4096, VHOST_ACCESS_RW), 1);
	assert_int_equal(iotlb(&e, VHOST_IOTLB_UPDATE, 0x1000000, 8192,
			       qva - 4096, VHOST_ACCESS_RW), 1);
	/* overlapping an entry, partly and around it; a duplicate is fine */
	assert_int_equal(map(&e, e.buf_lo + 4096, 4096, VHOST_ACCESS_RW), 1);
	assert_int_equal(iotlb(&e, VHOST_IOTLB_UPDATE, e.ring_lo - 0x1000,
			       0x2000, qva, VHOST_ACCESS_RW), 1);
	assert_int_equal(map(&e, e.buf_lo, e.buf_len, VHOST_ACCESS_RW), 0);
	/* types a frontend does not send; a payload of the wrong size */
	assert_int_equal(iotlb(&e, VHOST_IOTLB_MISS, 0x1000000, 4096, qva,
			       VHOST_ACCESS_RW), 1);
	assert_int_equal(iotlb(&e, VHOST_IOTLB_ACCESS_FAIL, 0x1000000, 4096, qva,
			       VHOST_ACCESS_RW), 1);
	assert_int_equal(iotlb(&e, 77, 0x1000000, 4096, qva, VHOST_ACCESS_RW), 1);
	m.type = VHOST_IOTLB_UPDATE;
	assert_int_equal(ack(&e, VHU_REQ_IOTLB_MSG, &m, 26, NULL, 0), 1);
	/* a backend channel needs its fd */
	assert_int_equal(ack(&e, VHU_REQ_SET_BACKEND_REQ_FD, NULL, 0, NULL, 0), 1);
	/* still serving, with the good entries intact */
	assert_true(e.dev->running);
	assert_int_equal(tx_one(&e, 64, 6, true), 1);
	env_close(&e);
	check_healthy();
}

/* Without ACCESS_PLATFORM negotiated, IOTLB_MSG is refused. */
static void
test_iotlb_needs_feature(void **state)
{
	struct env e;

	(void)state;
	env_open_drop(&e, true, BIT(VIRTIO_F_ACCESS_PLATFORM));
	assert_int_equal(map(&e, e.ring_lo, e.ring_len, VHOST_ACCESS_RW), 1);
	env_close(&e);
	check_healthy();
}

/* Sixty-four chains at unmapped IOVAs, polled hard: one request. */
static void
test_miss_flood(void **state)
{
	struct env e;
	uint64_t iova;
	uint8_t perm, frame[64] = { 0 };

	(void)state;
	env_open(&e, true);
	assert_int_equal(map(&e, e.ring_lo, e.ring_len, VHOST_ACCESS_RW), 0);
	while (read_miss(&e, &iova, &perm))
		;
	for (int i = 0; i < 64; i++)
		assert_true(vtd_post_tx(&e.d, frame, sizeof(frame), HDR, 1,
					false) >= 0);
	vtd_publish(&e.d);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(tx_one(&e, 64, 0, false), 0);
	assert_true(read_miss(&e, &iova, &perm));
	assert_false(read_miss(&e, &iova, &perm));
	/* each IOTLB change allows one more request, not more */
	assert_int_equal(iotlb(&e, VHOST_IOTLB_UPDATE, 0x40000000, 4096,
			       vtd_qva(&e.d, e.buf_lo), VHOST_ACCESS_RW), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(tx_one(&e, 64, 0, false), 0);
	assert_true(read_miss(&e, &iova, &perm));
	assert_false(read_miss(&e, &iova, &perm));
	env_close(&e);
	check_healthy();
}

/* A frontend that never reads the backend channel stalls nothing. */
static void
test_channel_never_read(void **state)
{
	struct env e;
	uint64_t t0, unsent0;

	(void)state;
	env_open(&e, true);
	assert_int_equal(map(&e, e.ring_lo, e.ring_len, VHOST_ACCESS_RW), 0);
	assert_int_equal(tx_one(&e, 64, 0, true), 0);
	unsent0 = e.dev->iotlb.misses_unsent;
	t0 = fe_now_ms();
	/* every invalidate re-arms the miss: thousands of requests */
	for (int i = 0; i < 3000; i++) {
		assert_int_equal(unmap(&e, 0x70000000, 4096), 0);
		assert_int_equal(tx_one(&e, 64, 0, false), 0);
	}
	/* the channel filled up, and the bursts went on (no blocking) */
	assert_true(e.dev->iotlb.misses_unsent > unsent0);
	assert_true(e.dev->iotlb.misses_sent > 0);
	assert_true(fe_now_ms() - t0 < 20 * 1000ull);
	/* the data path still serves once the buffer is mapped */
	assert_int_equal(map(&e, e.buf_lo, e.buf_len, VHOST_ACCESS_RW), 0);
	assert_int_equal(tx_one(&e, 64, 0, false), 1);
	env_close(&e);
	check_healthy();
}

/* The IOTLB is bounded: past VHU_IOTLB_MAX entries the oldest go. */
static void
test_bounded(void **state)
{
	struct env e;
	uint64_t qva;

	(void)state;
	env_open(&e, true);
	env_map_all(&e);
	qva = vtd_qva(&e.d, e.buf_lo);
	/* many one-page entries at distinct iovas, all onto one page */
	for (uint64_t i = 0; i < VHU_IOTLB_MAX + 100; i++)
		assert_int_equal(iotlb(&e, VHOST_IOTLB_UPDATE,
				       0x100000000ull + i * 4096, 4096, qva,
				       VHOST_ACCESS_RW), 0);
	assert_true(e.dev->iotlb.n <= VHU_IOTLB_MAX);
	/* the ring entry survived eviction: still running */
	assert_true(e.dev->running);
	env_close(&e);
	check_healthy();
}

/* A new memory table drops translations into the old mappings. */
static void
test_mem_table_replaced(void **state)
{
	struct env e;
	struct vhu_msg_mem_table mt = { .nregions = 1 };
	uint64_t iova;
	uint8_t perm;
	int fd;

	(void)state;
	env_open(&e, true);
	env_map_all(&e);
	assert_int_equal(tx_one(&e, 80, 8, true), 1);
	/* the same memory at another uaddr: entries no longer land in it */
	fd = dup(e.d.memfd);
	mt.r[0] = (struct vhu_msg_region){ DEV_GPA, MEM_SIZE,
					   0x500000000000ull, 0 };
	assert_int_equal(ack(&e, VHU_REQ_SET_MEM_TABLE, &mt, 8 + 32, &fd, 1), 0);
	/* the rings wait for their entries again: asked for, not stopped */
	assert_true(e.dev->running);
	assert_int_equal(tx_one(&e, 80, 8, true), 0);
	assert_true(read_miss(&e, &iova, &perm));
	assert_int_equal(iova, e.d.desc_gpa);
	assert_int_equal(count_maps(), base_maps + 1 + 1);
	env_close(&e);
	check_healthy();
}

/*
 * Regions may alias in frontend-virtual space (one file range at two guest
 * addresses): an alias that ends before an entry's uaddr, sorted before or
 * after the region really holding it, must neither hide that region nor
 * yield a piece of negative size (a fuzzer find: regressions/msg/).
 */
static void
test_aliased_regions(void **state)
{
	static const uint64_t alias_gpa[] = { DEV_GPA + 0x10000000ull,
					      DEV_GPA - 0x10000000ull };
	uint32_t id, len;
	uint32_t lens[1] = { 2048 };
	int head;

	(void)state;
	/* vrings 0 and 1 share the driver's ring: one device per direction */
	for (size_t k = 0; k < 2 * RTE_DIM(alias_gpa); k++) {
		struct vhu_msg_mem_table mt = { .nregions = 2 };
		struct env e;
		int fds[2];

		env_open(&e, true);
		assert_true(e.buf_lo - VTD_GPA_BASE > 4096);
		fds[0] = dup(e.d.memfd);
		fds[1] = dup(e.d.memfd);
		mt.r[0] = (struct vhu_msg_region){ DEV_GPA, MEM_SIZE,
				vtd_qva(&e.d, VTD_GPA_BASE), 0 };
		/* the first page again, elsewhere in guest-physical space */
		mt.r[1] = (struct vhu_msg_region){ alias_gpa[k / 2], 4096,
				vtd_qva(&e.d, VTD_GPA_BASE), 0 };
		assert_int_equal(ack(&e, VHU_REQ_SET_MEM_TABLE, &mt, 8 + 2 * 32,
				     fds, 2), 0);
		env_map_all(&e);
		if (k % 2 == 0) {
			assert_int_equal(tx_one(&e, 200, 3, true), 1);
			assert_true(vtd_get_used(&e.d, &id, &len));
		} else {
			head = vtd_post_rx(&e.d, lens, 1, false);
			assert_true(head >= 0);
			vtd_publish(&e.d);
			assert_int_equal(rx_one(&e, 200, 4), 1);
			assert_true(vtd_get_used(&e.d, &id, &len));
			assert_int_equal(id, head);
			assert_int_equal(len, HDR + 200);
		}
		env_close(&e);
	}
	check_healthy();
}

/* RESET_OWNER drops the entries but keeps the backend channel. */
static void
test_reset_owner(void **state)
{
	struct env e;

	(void)state;
	env_open(&e, true);
	env_map_all(&e);
	assert_true(e.dev->iotlb.n > 0);
	assert_int_equal(ack(&e, VHU_REQ_RESET_OWNER, NULL, 0, NULL, 0), 0);
	assert_false(e.dev->running);
	assert_int_equal(e.dev->iotlb.n, 0);
	assert_int_equal(drain(e.bch), -1); /* open, nothing queued */
	env_close(&e);
	check_healthy();
}

/* The packed ring: the same IOVA rules, the ring needs read and write. */
static void
test_packed(void **state)
{
	struct env e;
	uint64_t iova, gpa;
	uint8_t perm;
	uint32_t id, len;

	(void)state;
	env_open_full(&e, true, 0, true);
	while (read_miss(&e, &iova, &perm))
		assert_int_equal(perm, VHOST_ACCESS_RO);
	/* a read-only ring is not enough: the device writes used entries */
	assert_int_equal(map(&e, e.ring_lo, e.ring_len, VHOST_ACCESS_RO), 0);
	assert_false(e.dev->running);
	assert_true(read_miss(&e, &iova, &perm));
	assert_int_equal(perm, VHOST_ACCESS_WO);
	assert_int_equal(unmap(&e, e.ring_lo, e.ring_len), 0);
	assert_int_equal(map(&e, e.ring_lo, e.ring_len, VHOST_ACCESS_RW), 0);
	assert_true(e.dev->running);
	while (read_miss(&e, &iova, &perm))
		;
	gpa = e.d.buf_next;
	assert_int_equal(tx_one(&e, 150, 7, true), 0);
	assert_true(read_miss(&e, &iova, &perm));
	assert_int_equal(iova, gpa);
	assert_int_equal(perm, VHOST_ACCESS_RO);
	assert_int_equal(map(&e, e.buf_lo, e.buf_len, VHOST_ACCESS_RO), 0);
	assert_int_equal(tx_one(&e, 150, 7, false), 1);
	assert_true(vtd_get_used(&e.d, &id, &len));
	env_close(&e);
	ro_rx_case(true, 400, 8, VHOST_ACCESS_RW);
	check_healthy();
}

/*
 * The guest-address window (vhu_vring_gpa_to_hva) with the vIOMMU: IOVAs
 * translate through the IOTLB only, with its permissions, clipped at an
 * entry's end; a miss is asked for when the caller wants it.
 */
static void
test_gpa_window(void **state)
{
	struct env e;
	uint64_t iova, page, len;
	uint8_t perm, *p;

	(void)state;
	env_open(&e, true);
	window_dev = e.dev;
	assert_int_equal(map(&e, e.ring_lo, e.ring_len, VHOST_ACCESS_RW), 0);
	assert_true(e.dev->running);
	while (read_miss(&e, &iova, &perm))
		;
	page = (e.buf_lo + 4095) & ~4095ull;
	memcpy(vtd_ptr(&e.d, page), "iova bytes", 11);

	/* not in the IOTLB; and the device's own GPA is no IOVA */
	assert_int_equal(vhu_vring_mem_enter(e.dev, 1), 0);
	len = 11;
	assert_null(vhu_vring_gpa_to_hva(e.dev, 1, page, &len, VHU_GPA_READ));
	assert_int_equal(len, 0);
	assert_false(read_miss(&e, &iova, &perm));
	len = 11;
	assert_null(vhu_vring_gpa_to_hva(e.dev, 1,
					 DEV_GPA + (page - VTD_GPA_BASE), &len,
					 VHU_GPA_READ));
	len = 11;
	assert_null(vhu_vring_gpa_to_hva(e.dev, 1, page, &len,
					 VHU_GPA_READ | VHU_GPA_MISS));
	vhu_vring_mem_leave(e.dev, 1);
	assert_true(read_miss(&e, &iova, &perm));
	assert_int_equal(iova, page);
	assert_int_equal(perm, VHOST_ACCESS_RO);

	/* read-only entry: read, clipped at its end; write refused */
	assert_int_equal(map(&e, page, 4096, VHOST_ACCESS_RO), 0);
	assert_int_equal(map(&e, page + 4096, 4096, VHOST_ACCESS_WO), 0);
	assert_int_equal(map(&e, page + 8192, 4096, VHOST_ACCESS_RW), 0);
	assert_int_equal(vhu_vring_mem_enter(e.dev, 1), 0);
	len = 3 * 4096;
	p = vhu_vring_gpa_to_hva(e.dev, 1, page, &len, VHU_GPA_READ);
	assert_non_null(p);
	assert_int_equal(len, 4096);
	assert_memory_equal(p, "iova bytes", 11);
	len = 16;
	assert_null(vhu_vring_gpa_to_hva(e.dev, 1, page, &len, VHU_GPA_WRITE));
	len = 16;
	assert_null(vhu_vring_gpa_to_hva(e.dev, 1, page, &len,
					 VHU_GPA_READ | VHU_GPA_WRITE));
	len = 16;
	assert_null(vhu_vring_gpa_to_hva(e.dev, 1, page, &len,
					 VHU_GPA_WRITE | VHU_GPA_MISS));
	/* write-only entry: write, not read; read-write: both */
	len = 16;
	p = vhu_vring_gpa_to_hva(e.dev, 1, page + 4096, &len, VHU_GPA_WRITE);
	assert_non_null(p);
	memcpy(p, "to the guest", 13);
	len = 16;
	assert_null(vhu_vring_gpa_to_hva(e.dev, 1, page + 4096, &len,
					 VHU_GPA_READ | VHU_GPA_WRITE));
	len = 8192;
	p = vhu_vring_gpa_to_hva(e.dev, 1, page + 8192 + 100, &len,
				 VHU_GPA_READ | VHU_GPA_WRITE);
	assert_non_null(p);
	assert_int_equal(len, 4096 - 100);
	/* no log with the vIOMMU: nothing to mark */
	assert_int_equal(vhu_vring_log_write(e.dev, 1, page + 4096, 13), 0);
	vhu_vring_mem_leave(e.dev, 1);
	assert_memory_equal(vtd_ptr(&e.d, page + 4096), "to the guest", 13);
	assert_true(read_miss(&e, &iova, &perm));
	assert_int_equal(iova, page);
	assert_int_equal(perm, VHOST_ACCESS_WO);

	/* invalidated: gone in the next window */
	assert_int_equal(unmap(&e, page, 4096), 0);
	assert_int_equal(vhu_vring_mem_enter(e.dev, 1), 0);
	len = 16;
	assert_null(vhu_vring_gpa_to_hva(e.dev, 1, page, &len, VHU_GPA_READ));
	vhu_vring_mem_leave(e.dev, 1);
	env_close(&e);
	check_healthy();
}

/*
 * After a window test: a window an assert jumped out of would make every
 * later quiesce of that device (vhu_fini's included) spin for ever.
 */
static int
release_window(void **state)
{
	(void)state;
	if (window_dev != NULL)
		for (uint16_t i = 0; i < 2; i++)
			vhu_vring_mem_leave(window_dev, i);
	window_dev = NULL;
	return 0;
}

struct inval {
	struct env *e;
	uint64_t iova;
	int ret;
	_Atomic bool done;
};

static void *
inval_thread(void *arg)
{
	struct inval *v = arg;
	struct vhost_iotlb_msg m = {
		.iova = v->iova, .size = 4096, .type = VHOST_IOTLB_INVALIDATE,
	};

	/* the control side: no cmocka asserts off the main thread */
	v->ret = fe_handle(v->e->dev, VHU_REQ_IOTLB_MSG,
			   VHU_MSG_VERSION | VHU_MSG_F_NEED_REPLY, &m,
			   sizeof(m), NULL, 0);
	atomic_store(&v->done, true);
	return NULL;
}

/* An invalidation waits for a window that may be using the entry. */
static void
test_gpa_window_invalidate_waits(void **state)
{
	struct env e;
	struct inval v = { 0 };
	struct vhu_msg_hdr rh;
	uint64_t len = 16, st;
	pthread_t t;
	uint8_t *p;

	(void)state;
	env_open(&e, true);
	window_dev = e.dev;
	env_map_all(&e);
	v.e = &e;
	v.iova = (e.buf_lo + 4095) & ~4095ull;
	assert_int_equal(vhu_vring_mem_enter(e.dev, 0), 0);
	p = vhu_vring_gpa_to_hva(e.dev, 0, v.iova, &len, VHU_GPA_WRITE);
	assert_non_null(p);
	assert_int_equal(pthread_create(&t, NULL, inval_thread, &v), 0);
	usleep(200 * 1000);
	assert_false(atomic_load(&v.done));
	memcpy(p, "still mine", 11);
	vhu_vring_mem_leave(e.dev, 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(v.ret, 0);
	assert_int_equal(fe_recv(e.peer, &rh, &st, sizeof(st), 1000), 8);
	assert_int_equal(st, 0);
	assert_memory_equal(vtd_ptr(&e.d, v.iova), "still mine", 11);
	assert_int_equal(vhu_vring_mem_enter(e.dev, 0), 0);
	len = 16;
	assert_null(vhu_vring_gpa_to_hva(e.dev, 0, v.iova, &len,
					 VHU_GPA_WRITE));
	vhu_vring_mem_leave(e.dev, 0);
	env_close(&e);
	check_healthy();
}

static int
setup(void **state)
{
	(void)state;
	sock = fe_socket("/nonexistent/vhu-test-iotlb", VHU_SOCKET_IOMMU);
	pool = rte_pktmbuf_pool_create("iotlb_pool", 1023, 0, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	assert_non_null(pool);
	/* warm up lazily created queues and the IOTLB before the baseline */
	{
		struct env e;

		env_open(&e, true);
		env_close(&e);
	}
	base_fds = fe_count_fds();
	base_maps = count_maps();
	return 0;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offer),
		cmocka_unit_test(test_traffic),
		cmocka_unit_test(test_start_needs_channel_and_rings),
		cmocka_unit_test(test_miss_then_update),
		cmocka_unit_test(test_split_buffer),
		cmocka_unit_test(test_invalidate),
		cmocka_unit_test(test_ro_rx_buffer),
		cmocka_unit_test(test_bad_entries),
		cmocka_unit_test(test_iotlb_needs_feature),
		cmocka_unit_test(test_miss_flood),
		cmocka_unit_test(test_channel_never_read),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_mem_table_replaced),
		cmocka_unit_test(test_packed),
		cmocka_unit_test(test_reset_owner),
		cmocka_unit_test(test_aliased_regions),
		cmocka_unit_test_teardown(test_gpa_window, release_window),
		cmocka_unit_test_teardown(test_gpa_window_invalidate_waits,
					  release_window),
	};

	(void)argc;
	return FE_RUN_GROUP(argv[0], "iotlb", tests, setup, NULL);
}
