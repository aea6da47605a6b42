/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The guest-address window (vhu_burst.h, "Guest addresses"): translation
 * of guest-physical addresses for an application's own zero-copy path,
 * its window, and dirty-log marking. The IOVA cases (vIOMMU) are in
 * test_iotlb.c, next to the IOTLB environment.
 *
 * Design: the test driver (virtq_driver.c) owns one memfd of guest memory
 * and writes through its own mapping; the device gets the memory table
 * by SET_MEM_TABLE as TWO regions, each of which the library maps on its
 * own, so the host addresses of the two halves are unrelated and a range
 * across the split must be translated in two calls. Every pointer the
 * window returns is checked against bytes the driver wrote, and bytes
 * written through it are read back through the driver's mapping.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include <linux/vhost_types.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

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
#define HALF (MEM_SIZE / 2)
#define SPLIT (VTD_GPA_BASE + HALF)  /* first gpa of the second region */
#define LOG_SIZE 4096                /* bitmap bytes: 128 MiB of guest */
#define BIT(n) (1ULL << (n))

static struct vhu_socket *sock;
static int base_fds;
/* the last device opened: a failed assert may leave its window open */
static struct vhu_dev *last_dev;

struct env {
	struct vtd d;
	struct vhu_dev *dev;
	int peer;
	int logfd;      /* -1: no log */
	uint8_t *log;   /* the frontend's view of the dirty log */
};

static int
handle(struct env *e, uint32_t req, uint32_t flags, const void *payload,
       uint32_t size, int *fds, int nfds)
{
	return fe_handle(e->dev, req, flags, payload, size, fds, nfds);
}

/* Send with NEED_REPLY; the REPLY_ACK status (or the reply body's u64). */
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

/* SET_MEM_TABLE payload: the driver's memory as two regions. */
static void
mem_table(struct env *e, struct vhu_msg_mem_table *mt, int fds[2])
{
	memset(mt, 0, sizeof(*mt));
	mt->nregions = 2;
	for (int i = 0; i < 2; i++) {
		uint64_t gpa = VTD_GPA_BASE + (uint64_t)i * HALF;

		mt->r[i] = (struct vhu_msg_region){ gpa, HALF,
						    vtd_qva(&e->d, gpa),
						    (uint64_t)i * HALF };
		fds[i] = dup(e->d.memfd);
		assert_true(fds[i] >= 0);
	}
}

/* Connect, negotiate (with_log: LOG_ALL and a log), start the device. */
static void
env_open(struct env *e, bool with_log)
{
	struct vtd_opts o = { .size = RING, .mem_size = MEM_SIZE,
			      .nregions = 1 };
	struct vhu_msg_mem_table mt;
	int sv[2], fds[2];
	uint64_t f, pf;

	memset(e, 0, sizeof(*e));
	e->logfd = -1;
	assert_int_equal(vtd_init(&e->d, &o, 0), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	e->dev = vhu_dev_alloc(sock, sv[0]);
	assert_non_null(e->dev);
	last_dev = e->dev;
	e->peer = sv[1];

	f = get_u64(e, VHU_REQ_GET_FEATURES);
	f &= ~(BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_F_RING_PACKED));
	if (!with_log)
		f &= ~BIT(VHOST_F_LOG_ALL);
	assert_true(!with_log || (f & BIT(VHOST_F_LOG_ALL)));
	assert_int_equal(handle(e, VHU_REQ_SET_FEATURES, VHU_MSG_VERSION, &f, 8,
				NULL, 0), 0);
	pf = get_u64(e, VHU_REQ_GET_PROTOCOL_FEATURES);
	assert_int_equal(handle(e, VHU_REQ_SET_PROTOCOL_FEATURES,
				VHU_MSG_VERSION, &pf, 8, NULL, 0), 0);
	mem_table(e, &mt, fds);
	assert_int_equal(ack(e, VHU_REQ_SET_MEM_TABLE, &mt, 8 + 2 * 32, fds, 2),
			 0);
	if (with_log) {
		struct vhu_msg_log l = { .size = LOG_SIZE, .offset = 0 };
		int fd = fe_memfd(LOG_SIZE);
		struct vhu_msg_hdr rh;
		uint64_t v;

		assert_true(fd >= 0);
		e->log = mmap(NULL, LOG_SIZE, PROT_READ | PROT_WRITE,
			      MAP_SHARED, fd, 0);
		assert_true(e->log != MAP_FAILED);
		e->logfd = dup(fd);
		/* SET_LOG_BASE answers with an empty body once mapped */
		assert_int_equal(handle(e, VHU_REQ_SET_LOG_BASE, VHU_MSG_VERSION,
					&l, sizeof(l), &fd, 1), 0);
		assert_int_equal(fe_recv(e->peer, &rh, &v, sizeof(v), 1000), 0);
		assert_int_equal(rh.request, VHU_REQ_SET_LOG_BASE);
	}
	for (uint32_t i = 0; i < 2; i++) {
		struct vhu_msg_vring_state st = { i, RING };
		struct vhu_msg_vring_addr a = {
			i, 0, vtd_qva(&e->d, e->d.desc_gpa),
			vtd_qva(&e->d, e->d.used_gpa),
			vtd_qva(&e->d, e->d.avail_gpa), 0 };
		uint64_t u = i | VHU_VRING_NOFD;

		assert_int_equal(ack(e, VHU_REQ_SET_VRING_NUM, &st, 8, NULL, 0), 0);
		assert_int_equal(ack(e, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a),
				     NULL, 0), 0);
		st.num = 0;
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
	assert_true(e->dev->running);
}

static void
env_close(struct env *e)
{
	vhu_dev_close(e->dev);
	close(e->peer);
	if (e->log != NULL)
		munmap(e->log, LOG_SIZE);
	if (e->logfd >= 0)
		close(e->logfd);
	vtd_fini(&e->d);
}

static bool
log_test(const struct env *e, uint64_t gpa)
{
	uint64_t page = gpa >> 12;

	return (e->log[page >> 3] >> (page & 7)) & 1;
}

static uint64_t
log_count(const struct env *e)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < LOG_SIZE; i++)
		n += (uint64_t)__builtin_popcount(e->log[i]);
	return n;
}

/* Translation inside one region: the driver's bytes, both ways. */
static void
test_inside_region(void **state)
{
	struct env e;
	uint64_t gpa, len = 100;
	uint8_t *p;

	(void)state;
	env_open(&e, false);
	gpa = e.d.buf_lo + 40;
	memcpy(vtd_ptr(&e.d, gpa), "guest bytes", 12);
	assert_int_equal(vhu_vring_mem_enter(e.dev, 1), 0);
	p = vhu_vring_gpa_to_hva(e.dev, 1, gpa, &len, VHU_GPA_READ);
	assert_non_null(p);
	assert_int_equal(len, 100);
	assert_memory_equal(p, "guest bytes", 12);
	/* written through the window, seen by the guest */
	len = 8;
	p = vhu_vring_gpa_to_hva(e.dev, 1, gpa + 200, &len,
				 VHU_GPA_READ | VHU_GPA_WRITE);
	assert_non_null(p);
	assert_int_equal(len, 8);
	memcpy(p, "written", 8);
	/* no log negotiated: marking is a no-op that succeeds */
	assert_int_equal(vhu_vring_log_write(e.dev, 1, gpa + 200, 8), 0);
	vhu_vring_mem_leave(e.dev, 1);
	assert_memory_equal(vtd_ptr(&e.d, gpa + 200), "written", 8);
	/* any vring of the device opens a window on the same memory */
	assert_int_equal(vhu_vring_mem_enter(e.dev, 0), 0);
	len = 12;
	p = vhu_vring_gpa_to_hva(e.dev, 0, gpa, &len, VHU_GPA_WRITE);
	assert_non_null(p);
	assert_memory_equal(p, "guest bytes", 12);
	vhu_vring_mem_leave(e.dev, 0);
	env_close(&e);
	assert_int_equal(fe_count_fds(), base_fds);
}

/* A range across the region split: clipped, then the rest in a 2nd call. */
static void
test_across_regions(void **state)
{
	struct env e;
	uint8_t *p, *q, want[64];
	uint64_t len = 64;

	(void)state;
	env_open(&e, false);
	for (int i = 0; i < 64; i++)
		want[i] = (uint8_t)(i * 3 + 1);
	memcpy(vtd_ptr(&e.d, SPLIT - 16), want, 64);
	assert_int_equal(vhu_vring_mem_enter(e.dev, 1), 0);
	p = vhu_vring_gpa_to_hva(e.dev, 1, SPLIT - 16, &len, VHU_GPA_READ);
	assert_non_null(p);
	assert_int_equal(len, 16);        /* clipped at the region end */
	assert_memory_equal(p, want, 16);
	len = 64 - 16;
	q = vhu_vring_gpa_to_hva(e.dev, 1, SPLIT, &len, VHU_GPA_READ);
	assert_non_null(q);
	assert_int_equal(len, 48);
	assert_memory_equal(q, want + 16, 48);
	/* the last byte of memory: one byte, whatever was asked */
	len = 4096;
	p = vhu_vring_gpa_to_hva(e.dev, 1, VTD_GPA_BASE + MEM_SIZE - 1, &len,
				 VHU_GPA_READ);
	assert_non_null(p);
	assert_int_equal(len, 1);
	vhu_vring_mem_leave(e.dev, 1);
	env_close(&e);
}

/* Addresses with no memory, bad arguments, no window: NULL, len 0. */
static void
test_unmapped_and_misuse(void **state)
{
	struct env e;
	uint64_t len;

	(void)state;
	env_open(&e, false);
	/* outside any window */
	len = 16;
	assert_null(vhu_vring_gpa_to_hva(e.dev, 1, e.d.buf_lo, &len,
					 VHU_GPA_READ));
	assert_int_equal(len, 0);
	assert_int_equal(vhu_vring_log_write(e.dev, 1, e.d.buf_lo, 1), -EINVAL);

	assert_int_equal(vhu_vring_mem_enter(e.dev, 1), 0);
	/* a second window (or a burst) on the same vring is refused */
	assert_int_equal(vhu_vring_mem_enter(e.dev, 1), -EBUSY);
	len = 16;
	assert_null(vhu_vring_gpa_to_hva(e.dev, 1, 0, &len, VHU_GPA_READ));
	assert_int_equal(len, 0);
	len = 16;
	assert_null(vhu_vring_gpa_to_hva(e.dev, 1, VTD_GPA_BASE + MEM_SIZE,
					 &len, VHU_GPA_READ));
	len = 16;
	assert_null(vhu_vring_gpa_to_hva(e.dev, 1, VTD_GPA_BASE - 1, &len,
					 VHU_GPA_READ));
	len = 16;
	assert_null(vhu_vring_gpa_to_hva(e.dev, 1, UINT64_MAX, &len,
					 VHU_GPA_READ));
	/* bad arguments */
	len = 0;
	assert_null(vhu_vring_gpa_to_hva(e.dev, 1, e.d.buf_lo, &len,
					 VHU_GPA_READ));
	len = 16;
	assert_null(vhu_vring_gpa_to_hva(e.dev, 1, e.d.buf_lo, &len, 0));
	len = 16;
	assert_null(vhu_vring_gpa_to_hva(e.dev, 1, e.d.buf_lo, &len, 0x10));
	assert_null(vhu_vring_gpa_to_hva(e.dev, 1, e.d.buf_lo, NULL,
					 VHU_GPA_READ));
	/* the window is this vring's: vring 0 holds none */
	len = 16;
	assert_null(vhu_vring_gpa_to_hva(e.dev, 0, e.d.buf_lo, &len,
					 VHU_GPA_READ));
	vhu_vring_mem_leave(e.dev, 1);
	/* a stray leave changes nothing */
	vhu_vring_mem_leave(e.dev, 1);
	assert_int_equal(vhu_vring_mem_enter(e.dev, 1), 0);
	vhu_vring_mem_leave(e.dev, 1);

	assert_int_equal(vhu_vring_mem_enter(NULL, 1), -EINVAL);
	assert_int_equal(vhu_vring_mem_enter(e.dev, 2 * VHU_MAX_QUEUE_PAIRS),
			 -EINVAL);
	assert_int_equal(vhu_vring_mem_enter(e.dev, 5), -ENODEV);
	vhu_vring_mem_leave(NULL, 1);
	env_close(&e);
	assert_int_equal(fe_count_fds(), base_fds);
}

/* The rings' guest addresses and libvhu's position, inside a window. */
static void
test_vring_addrs(void **state)
{
	struct vhu_vring_addrs a;
	struct env e;

	(void)state;
	env_open(&e, false);
	assert_int_equal(vhu_vring_addrs(e.dev, 1, &a), -EINVAL);
	assert_int_equal(vhu_vring_mem_enter(e.dev, 1), 0);
	assert_int_equal(vhu_vring_addrs(e.dev, 1, NULL), -EINVAL);
	/* the window is vring 1's */
	assert_int_equal(vhu_vring_addrs(e.dev, 0, &a), -EINVAL);
	memset(&a, 0xff, sizeof(a));
	assert_int_equal(vhu_vring_addrs(e.dev, 1, &a), 0);
	/* SET_VRING_ADDR gave frontend-virtual addresses: these are gpas */
	assert_true(a.desc == e.d.desc_gpa);
	assert_true(a.driver == e.d.avail_gpa);
	assert_true(a.device == e.d.used_gpa);
	assert_int_equal(a.size, RING);
	assert_false(a.packed);
	assert_int_equal(a.next_avail, 0);
	assert_int_equal(a.hdr_len, 12);
	vhu_vring_mem_leave(e.dev, 1);
	assert_int_equal(vhu_vring_addrs(e.dev, 1, &a), -EINVAL);
	env_close(&e);
}

/* A vring that is not running opens no window. */
static void
test_not_running(void **state)
{
	struct env e;
	struct vhu_msg_vring_state st = { 1, 0 };

	(void)state;
	env_open(&e, false);
	assert_int_equal(ack(&e, VHU_REQ_SET_VRING_ENABLE, &st, 8, NULL, 0), 0);
	assert_int_equal(vhu_vring_mem_enter(e.dev, 1), -EAGAIN);
	st.num = 1;
	assert_int_equal(ack(&e, VHU_REQ_SET_VRING_ENABLE, &st, 8, NULL, 0), 0);
	assert_int_equal(vhu_vring_mem_enter(e.dev, 1), 0);
	vhu_vring_mem_leave(e.dev, 1);
	env_close(&e);
}

struct remap {
	struct env *e;
	struct vhu_msg_mem_table mt;
	int fds[2];
	int ret;
	_Atomic bool done;
};

static void *
remap_thread(void *arg)
{
	struct remap *r = arg;

	/* the control side: no cmocka asserts off the main thread */
	r->ret = fe_handle(r->e->dev, VHU_REQ_SET_MEM_TABLE,
			   VHU_MSG_VERSION | VHU_MSG_F_NEED_REPLY, &r->mt,
			   8 + 2 * 32, r->fds, 2);
	atomic_store(&r->done, true);
	return NULL;
}

/*
 * SET_MEM_TABLE arriving while an application holds a window completes
 * only after the window is left, and the old mapping the window's pointer
 * points into stays readable until then.
 */
static void
test_mem_table_waits_for_window(void **state)
{
	struct env e;
	struct remap r = { 0 };
	pthread_t t;
	uint64_t len = 32, v;
	uint8_t *p;
	struct vhu_msg_hdr rh;

	(void)state;
	env_open(&e, false);
	memcpy(vtd_ptr(&e.d, e.d.buf_lo), "before the remap", 17);
	assert_int_equal(vhu_vring_mem_enter(e.dev, 1), 0);
	p = vhu_vring_gpa_to_hva(e.dev, 1, e.d.buf_lo, &len, VHU_GPA_READ);
	assert_non_null(p);

	r.e = &e;
	mem_table(&e, &r.mt, r.fds);
	assert_int_equal(pthread_create(&t, NULL, remap_thread, &r), 0);
	usleep(200 * 1000);
	assert_false(atomic_load(&r.done));
	/* the old table is still mapped: the pointer still reads the guest */
	assert_memory_equal(p, "before the remap", 17);
	vhu_vring_mem_leave(e.dev, 1);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(atomic_load(&r.done));
	assert_int_equal(r.ret, 0);
	assert_int_equal(fe_recv(e.peer, &rh, &v, sizeof(v), 1000), 8);
	assert_int_equal(v, 0);
	/* the new table translates in the next window */
	len = 17;
	assert_int_equal(vhu_vring_mem_enter(e.dev, 1), 0);
	p = vhu_vring_gpa_to_hva(e.dev, 1, e.d.buf_lo, &len, VHU_GPA_READ);
	assert_non_null(p);
	assert_memory_equal(p, "before the remap", 17);
	vhu_vring_mem_leave(e.dev, 1);
	env_close(&e);
	assert_int_equal(fe_count_fds(), base_fds);
}

/* One request the control side sends from a thread (the window's lcore
 * is the test's main thread, which must not block in the handler). */
struct ctl_req {
	struct vhu_dev *dev;
	uint32_t req;
	struct vhu_msg_mem_reg reg;
	int fds[1];
	int nfds;
	int ret;
	_Atomic bool done;
};

static void *
ctl_thread(void *arg)
{
	struct ctl_req *c = arg;

	/* no cmocka asserts off the main thread */
	c->ret = fe_handle(c->dev, c->req,
			   VHU_MSG_VERSION | VHU_MSG_F_NEED_REPLY, &c->reg,
			   sizeof(c->reg), c->fds, c->nfds);
	atomic_store(&c->done, true);
	return NULL;
}

/*
 * Send req (ADD_MEM_REG with an fd of the driver's memory, REM_MEM_REG
 * without) for the second region while the main thread holds a window
 * on vring 1: the request must still be waiting after 200 ms, and
 * while it waits the window's pointer p still reads want and the
 * window still translates as before (gpa_in_2nd: a second-region
 * address, which translates as it did before the request: mapped iff
 * mapped_before). Leave; the request then completes and is acked 0.
 */
static void
mem_reg_while_window(struct env *e, uint32_t req, const uint8_t *p,
		     const char *want, uint64_t gpa_in_2nd, bool mapped_before)
{
	struct ctl_req c = { .dev = e->dev, .req = req };
	struct vhu_msg_hdr rh;
	pthread_t t;
	uint64_t len, v;
	const uint8_t *q;

	c.reg.r = (struct vhu_msg_region){ SPLIT, HALF,
					   vtd_qva(&e->d, SPLIT), HALF };
	if (req == VHU_REQ_ADD_MEM_REG) {
		c.fds[0] = dup(e->d.memfd);
		assert_true(c.fds[0] >= 0);
		c.nfds = 1;
	}
	assert_int_equal(pthread_create(&t, NULL, ctl_thread, &c), 0);
	usleep(200 * 1000);
	assert_false(atomic_load(&c.done));
	/* in between: the old table, unchanged, through the open window */
	assert_memory_equal(p, want, strlen(want) + 1);
	len = 8;
	q = vhu_vring_gpa_to_hva(e->dev, 1, gpa_in_2nd, &len, VHU_GPA_READ);
	if (mapped_before)
		assert_non_null(q);
	else
		assert_null(q);
	assert_false(atomic_load(&c.done));
	vhu_vring_mem_leave(e->dev, 1);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(atomic_load(&c.done));
	assert_int_equal(c.ret, 0);
	assert_int_equal(fe_recv(e->peer, &rh, &v, sizeof(v), 1000), 8);
	assert_int_equal(rh.request, req);
	assert_int_equal(v, 0);
}

/*
 * REM_MEM_REG and ADD_MEM_REG (memory hot-unplug and hot-plug) arriving
 * while an application holds a window wait for it to be left, as
 * SET_MEM_TABLE does: a pointer into the region being removed stays
 * readable until leave, a region being added is not seen before; the
 * next window sees the change.
 */
static void
test_mem_reg_waits_for_window(void **state)
{
	static const char lo[] = "first region";
	static const char hi[] = "second region";
	const uint64_t gpa_hi = SPLIT + 64;
	struct env e;
	uint64_t len;
	uint8_t *p;

	(void)state;
	env_open(&e, false);
	assert_true(e.d.buf_lo + sizeof(lo) < SPLIT);
	memcpy(vtd_ptr(&e.d, e.d.buf_lo), lo, sizeof(lo));
	memcpy(vtd_ptr(&e.d, gpa_hi), hi, sizeof(hi));

	/* remove the second region under a pointer into it */
	assert_int_equal(vhu_vring_mem_enter(e.dev, 1), 0);
	len = sizeof(hi);
	p = vhu_vring_gpa_to_hva(e.dev, 1, gpa_hi, &len, VHU_GPA_READ);
	assert_non_null(p);
	assert_int_equal(len, sizeof(hi));
	mem_reg_while_window(&e, VHU_REQ_REM_MEM_REG, p, hi, gpa_hi, true);
	/* gone in the next window; the first region stays */
	assert_int_equal(vhu_vring_mem_enter(e.dev, 1), 0);
	len = 8;
	assert_null(vhu_vring_gpa_to_hva(e.dev, 1, gpa_hi, &len,
					 VHU_GPA_READ));
	len = sizeof(lo);
	p = vhu_vring_gpa_to_hva(e.dev, 1, e.d.buf_lo, &len, VHU_GPA_READ);
	assert_non_null(p);
	assert_memory_equal(p, lo, sizeof(lo));

	/* add it back, under a pointer into the first region */
	mem_reg_while_window(&e, VHU_REQ_ADD_MEM_REG, p, lo, gpa_hi, false);
	assert_int_equal(vhu_vring_mem_enter(e.dev, 1), 0);
	len = sizeof(hi);
	p = vhu_vring_gpa_to_hva(e.dev, 1, gpa_hi, &len, VHU_GPA_READ);
	assert_non_null(p);
	assert_memory_equal(p, hi, sizeof(hi));
	vhu_vring_mem_leave(e.dev, 1);
	env_close(&e);
	assert_int_equal(fe_count_fds(), base_fds);
}

/* With LOG_ALL and a log: written pages are marked, exactly those. */
static void
test_dirty_log(void **state)
{
	struct env e;
	uint64_t gpa, len;
	uint8_t *p;

	(void)state;
	env_open(&e, true);
	/* the device's start may have logged ring pages: start clean */
	memset(e.log, 0, LOG_SIZE);
	gpa = SPLIT - 8;   /* 8 bytes in each region, two pages */
	assert_int_equal(vhu_vring_mem_enter(e.dev, 0), 0);
	len = 16;
	p = vhu_vring_gpa_to_hva(e.dev, 0, gpa, &len, VHU_GPA_WRITE);
	assert_non_null(p);
	assert_int_equal(len, 8);
	memset(p, 0xab, len);
	len = 8;
	p = vhu_vring_gpa_to_hva(e.dev, 0, SPLIT, &len, VHU_GPA_WRITE);
	assert_non_null(p);
	memset(p, 0xcd, len);
	assert_int_equal(log_count(&e), 0);
	assert_int_equal(vhu_vring_log_write(e.dev, 0, gpa, 16), 0);
	vhu_vring_mem_leave(e.dev, 0);
	assert_true(log_test(&e, gpa));
	assert_true(log_test(&e, SPLIT));
	assert_int_equal(log_count(&e), 2);
	assert_int_equal(*vtd_ptr(&e.d, gpa), 0xab);
	assert_int_equal(*vtd_ptr(&e.d, SPLIT), 0xcd);
	/* a larger range: one bit per page it touches */
	assert_int_equal(vhu_vring_mem_enter(e.dev, 1), 0);
	assert_int_equal(vhu_vring_log_write(e.dev, 1, e.d.buf_lo + 4095,
					     2 * 4096), 0);
	vhu_vring_mem_leave(e.dev, 1);
	assert_int_equal(log_count(&e), 5);
	assert_true(log_test(&e, e.d.buf_lo + 3 * 4096 - 1));
	env_close(&e);
	assert_int_equal(fe_count_fds(), base_fds);
}

/*
 * After each test: a window an assert jumped out of would make every
 * later quiesce of that device (vhu_fini's included) spin for ever.
 */
static int
release_windows(void **state)
{
	(void)state;
	if (last_dev != NULL)
		for (uint16_t i = 0; i < 2; i++)
			vhu_vring_mem_leave(last_dev, i);
	last_dev = NULL;
	return 0;
}

static int
setup(void **state)
{
	(void)state;
	sock = fe_socket("/nonexistent/vhu-test-gpa", 0);
	/* warm up lazily created queues before the baseline */
	{
		struct env e;

		env_open(&e, true);
		env_close(&e);
	}
	base_fds = fe_count_fds();
	return 0;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_inside_region, release_windows),
		cmocka_unit_test_teardown(test_across_regions, release_windows),
		cmocka_unit_test_teardown(test_unmapped_and_misuse, release_windows),
		cmocka_unit_test_teardown(test_not_running, release_windows),
		cmocka_unit_test_teardown(test_vring_addrs, release_windows),
		cmocka_unit_test_teardown(test_mem_table_waits_for_window, release_windows),
		cmocka_unit_test_teardown(test_mem_reg_waits_for_window, release_windows),
		cmocka_unit_test_teardown(test_dirty_log, release_windows),
	};

	(void)argc;
	return FE_RUN_GROUP(argv[0], "gpa", tests, setup, NULL);
}
