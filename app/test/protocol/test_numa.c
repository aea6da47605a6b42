/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NUMA placement at the library boundary: which node a region, a vring
 * and a device are on, that device and queue objects are moved there when
 * the device starts, and the warning for a vring first polled from an
 * lcore on another node. Then the memory set-up diagnostics
 * (VHU_DIAG_*): each logged once and readable from the application.
 *
 * Design: this machine has one node, so the node lookup and the page
 * mover are replaced through their test-only hooks (vhu_numa.h): the fake
 * lookup answers by region size, guest A (1 MiB) and guest B (2 MiB) are
 * two memfds of their own, each with a ring laid out by the test driver
 * (virtq_driver.c), and the memory table the device gets holds both. The
 * lcore running the tests is lcore 0, on node 0. Warnings are read back
 * from the log stream. One test calls the real lookup on a memfd.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include <numaif.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>

#include "dev.h"
#include "fe.h"
#include "lifecycle.h"
#include "mem.h"
#include "msg.h"
#include "vhu.h"
#include "vhu_burst.h"
#include "vhu_numa.h"
#include "virtq_driver.h"

#define RING 64
#define SIZE_A (1u << 20)
#define SIZE_B (2u << 20)
#define GPA_A 0x100000ull
#define GPA_B 0x40000000ull
#define QVA_A 0x500000000000ull /* frontend-virtual, distinct per guest */
#define QVA_B 0x600000000000ull
#define BIT(n) (1ULL << (n))

static struct vhu_socket *sock;
static struct rte_mempool *pool;
static FILE *log_file;

/* The fake machine: the node of each guest's memory, -1 unknown. */
static int node_a, node_b;
static int moves;          /* calls of the fake mover */
static int moves_to[4];    /* by target node (0..3) */

static int
fake_node(const void *addr, size_t len, bool may_fault)
{
	(void)addr;
	(void)may_fault;
	if (len == SIZE_A)
		return node_a;
	if (len == SIZE_B)
		return node_b;
	return -1; /* a ring page on its own: nothing more to learn */
}

static int
fake_move(void *addr, size_t len, int node)
{
	(void)addr;
	(void)len;
	moves++;
	if (node >= 0 && node < 4)
		moves_to[node]++;
	return 0;
}

struct env {
	struct vtd a, b;
	struct fe_conn c;
	bool pf_status;
};

static uint64_t
get_u64(struct env *e, uint32_t req)
{
	struct vhu_msg_hdr rh;
	uint64_t v = 0;

	assert_int_equal(fe_handle(e->c.dev, req, VHU_MSG_VERSION, NULL, 0,
				   NULL, 0), 0);
	assert_int_equal(fe_recv(e->c.peer, &rh, &v, sizeof(v), 1000), 8);
	return v;
}

static void
send_msg(struct env *e, uint32_t req, const void *p, uint32_t size, int *fds,
	 int nfds)
{
	assert_int_equal(fe_handle(e->c.dev, req, VHU_MSG_VERSION, p, size,
				   fds, nfds), 0);
}

static void
set_status(struct env *e, uint64_t status)
{
	if (e->pf_status)
		send_msg(e, VHU_REQ_SET_STATUS, &status, 8, NULL, 0);
}

#define STATUS_OK (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | \
		   VIRTIO_CONFIG_S_FEATURES_OK)

/* Vring i on the ring of guest d, whose memory the device sees at qva. */
static void
setup_vring(struct env *e, uint32_t i, const struct vtd *d, uint64_t qva)
{
	struct vhu_msg_vring_state st = { i, RING };
	struct vhu_msg_vring_addr a = {
		i, 0, qva + (d->desc_gpa - d->gpa_base),
		qva + (d->used_gpa - d->gpa_base),
		qva + (d->avail_gpa - d->gpa_base), 0,
	};
	uint64_t u = i | VHU_VRING_NOFD;

	send_msg(e, VHU_REQ_SET_VRING_NUM, &st, 8, NULL, 0);
	send_msg(e, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	st.num = 0;
	send_msg(e, VHU_REQ_SET_VRING_BASE, &st, 8, NULL, 0);
	send_msg(e, VHU_REQ_SET_VRING_KICK, &u, 8, NULL, 0);
	send_msg(e, VHU_REQ_SET_VRING_CALL, &u, 8, NULL, 0);
	st.num = 1;
	send_msg(e, VHU_REQ_SET_VRING_ENABLE, &st, 8, NULL, 0);
}

/*
 * Two guests' memory in one table; vring 0 on guest A's ring and vring 1
 * on B's, or the other way round with swap. The device is started.
 */
static void
env_open_sized(struct env *e, bool swap, uint64_t size_a, uint64_t size_b,
	       void (*before_start)(struct env *e))
{
	struct vtd_opts oa = { .size = RING, .mem_size = size_a, .nregions = 1,
			       .gpa_base = GPA_A };
	struct vtd_opts ob = { .size = RING, .mem_size = size_b, .nregions = 1,
			       .gpa_base = GPA_B };
	struct vhu_msg_mem_table mt = { .nregions = 2 };
	int fds[2];
	uint64_t f, pf;

	memset(e, 0, sizeof(*e));
	assert_int_equal(vtd_init(&e->a, &oa, 0), 0);
	assert_int_equal(vtd_init(&e->b, &ob, 0), 0);
	assert_int_equal(fe_conn_open(&e->c, sock), 0);
	f = get_u64(e, VHU_REQ_GET_FEATURES);
	f &= ~(BIT(VHOST_F_LOG_ALL) | BIT(VIRTIO_NET_F_MRG_RXBUF) |
	       BIT(VIRTIO_F_RING_PACKED));
	send_msg(e, VHU_REQ_SET_FEATURES, &f, 8, NULL, 0);
	pf = get_u64(e, VHU_REQ_GET_PROTOCOL_FEATURES);
	pf &= ~BIT(VHU_PROTOCOL_F_REPLY_ACK);
	send_msg(e, VHU_REQ_SET_PROTOCOL_FEATURES, &pf, 8, NULL, 0);
	e->pf_status = pf & BIT(VHU_PROTOCOL_F_STATUS);

	fds[0] = dup(e->a.memfd);
	fds[1] = dup(e->b.memfd);
	mt.r[0] = (struct vhu_msg_region){ GPA_A, size_a, QVA_A, 0 };
	mt.r[1] = (struct vhu_msg_region){ GPA_B, size_b, QVA_B, 0 };
	send_msg(e, VHU_REQ_SET_MEM_TABLE, &mt, 8 + 2 * 32, fds, 2);
	setup_vring(e, 0, swap ? &e->b : &e->a, swap ? QVA_B : QVA_A);
	setup_vring(e, 1, swap ? &e->a : &e->b, swap ? QVA_A : QVA_B);
	if (before_start != NULL)
		before_start(e);
	set_status(e, STATUS_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	assert_true(e->c.dev->running);
}

static void
env_open(struct env *e, bool swap)
{
	env_open_sized(e, swap, SIZE_A, SIZE_B, NULL);
}

static void
env_close(struct env *e)
{
	fe_conn_close(&e->c);
	vtd_fini(&e->a);
	vtd_fini(&e->b);
}

/* Log lines holding what since the last call (any text). */
static int
logged(const char *what)
{
	static long read_at;
	char line[2048];
	int n = 0;

	fflush(log_file);
	assert_int_equal(fseek(log_file, read_at, SEEK_SET), 0);
	while (fgets(line, sizeof(line), log_file) != NULL)
		if (strstr(line, what) != NULL)
			n++;
	read_at = ftell(log_file);
	assert_int_equal(fseek(log_file, 0, SEEK_END), 0);
	return n;
}

/* Times the remote-poll warning was logged since the last call. */
static int
warnings(void)
{
	return logged("polled from lcore");
}

static void
poll_both(struct env *e)
{
	struct rte_mbuf *m = NULL;
	struct rte_mbuf *none[1] = { NULL };

	/* empty rings: nothing moves, but each burst enters its vring */
	assert_int_equal(vhu_dequeue_burst(e->c.dev, 0, pool, &m, 1), 0);
	assert_int_equal(vhu_enqueue_burst(e->c.dev, 0, none, 0), 0);
}

static void
reset_fakes(int a, int b)
{
	node_a = a;
	node_b = b;
	moves = 0;
	memset(moves_to, 0, sizeof(moves_to));
	(void)warnings();
}

/* Regions on two nodes: each vring takes its descriptor ring's node. */
static void
test_vring_follows_desc_region(void **state)
{
	struct env e;

	(void)state;
	reset_fakes(0, 1);
	env_open(&e, false);
	assert_int_equal(e.c.dev->mem.r[0].numa_node, 0);
	assert_int_equal(e.c.dev->mem.r[1].numa_node, 1);
	assert_int_equal(vhu_dev_vring_numa_node(e.c.dev, 0), 0);
	assert_int_equal(vhu_dev_vring_numa_node(e.c.dev, 1), 1);
	assert_int_equal(vhu_dev_numa_node(e.c.dev), 0);
	/* device and vring 0 to node 0, vring 1 to node 1 */
	assert_int_equal(moves_to[0], 2);
	assert_int_equal(moves_to[1], 1);
	env_close(&e);

	/* the other way round: the device follows vring 0 */
	reset_fakes(0, 1);
	env_open(&e, true);
	assert_int_equal(vhu_dev_vring_numa_node(e.c.dev, 0), 1);
	assert_int_equal(vhu_dev_vring_numa_node(e.c.dev, 1), 0);
	assert_int_equal(vhu_dev_numa_node(e.c.dev), 1);
	assert_int_equal(moves_to[1], 2);
	assert_int_equal(moves_to[0], 1);
	/* queries on nonsense */
	assert_int_equal(vhu_dev_numa_node(NULL), -1);
	assert_int_equal(vhu_dev_vring_numa_node(e.c.dev, 7), -1);
	assert_int_equal(vhu_dev_vring_numa_node(e.c.dev, UINT16_MAX), -1);
	assert_int_equal(vhu_dev_vring_numa_node(NULL, 0), -1);
	env_close(&e);
}

/* vring 0's node unknown: the device takes the first region's. */
static void
test_device_falls_back_to_first_region(void **state)
{
	struct env e;

	(void)state;
	reset_fakes(-1, 1);
	env_open(&e, false);
	assert_int_equal(vhu_dev_vring_numa_node(e.c.dev, 0), -1);
	assert_int_equal(vhu_dev_vring_numa_node(e.c.dev, 1), 1);
	/* regions sorted by gpa: A first, unknown; so unknown */
	assert_int_equal(vhu_dev_numa_node(e.c.dev), -1);
	env_close(&e);

	reset_fakes(-1, 1);
	env_open(&e, true); /* vring 0 on B */
	assert_int_equal(vhu_dev_numa_node(e.c.dev), 1);
	env_close(&e);
}

/*
 * vring 1 (dequeue) on node 1, vring 0 (enqueue) on node 0, polled from
 * lcore 0 on node 0: one warning per start, for vring 1 only.
 */
static void
test_remote_poll_warns_once_per_start(void **state)
{
	struct env e;

	(void)state;
	assert_int_equal(rte_lcore_to_socket_id(rte_lcore_id()), 0);
	reset_fakes(0, 1);
	env_open(&e, false);
	assert_int_equal(vhu_dev_vring_remote_polls(e.c.dev, 1), 0);
	poll_both(&e);
	assert_int_equal(warnings(), 1);
	poll_both(&e);
	poll_both(&e);
	assert_int_equal(warnings(), 0);
	assert_int_equal(vhu_dev_vring_remote_polls(e.c.dev, 1), 1);
	assert_int_equal(vhu_dev_vring_remote_polls(e.c.dev, 0), 0);
	assert_true(vhu_dev_diag(e.c.dev) & VHU_DIAG_NUMA_REMOTE);
	assert_false(vhu_socket_diag(sock) & VHU_DIAG_NUMA_REMOTE);

	/* the frontend stops and starts the device again: warned again */
	assert_true(e.pf_status); /* offered by default */
	{
		set_status(&e, STATUS_OK);
		assert_false(e.c.dev->running);
		set_status(&e, STATUS_OK | VIRTIO_CONFIG_S_DRIVER_OK);
		assert_true(e.c.dev->running);
		poll_both(&e);
		poll_both(&e);
		assert_int_equal(warnings(), 1);
		assert_int_equal(vhu_dev_vring_remote_polls(e.c.dev, 1), 2);
		assert_int_equal(vhu_dev_vring_remote_polls(e.c.dev, 0), 0);
	}
	env_close(&e);

	/* a new connection starts from zero */
	reset_fakes(0, 0);
	env_open(&e, false);
	poll_both(&e);
	assert_int_equal(warnings(), 0);
	assert_int_equal(vhu_dev_vring_remote_polls(e.c.dev, 1), 0);
	assert_false(vhu_dev_diag(e.c.dev) & VHU_DIAG_NUMA_REMOTE);
	env_close(&e);
}

/* Unknown nodes never warn and move nothing. */
static void
test_unknown_node_never_warns(void **state)
{
	struct env e;

	(void)state;
	reset_fakes(-1, -1);
	env_open(&e, false);
	assert_int_equal(vhu_dev_numa_node(e.c.dev), -1);
	assert_int_equal(vhu_dev_vring_numa_node(e.c.dev, 0), -1);
	assert_int_equal(vhu_dev_vring_numa_node(e.c.dev, 1), -1);
	poll_both(&e);
	poll_both(&e);
	assert_int_equal(warnings(), 0);
	assert_int_equal(moves, 0);
	assert_int_equal(vhu_dev_vring_remote_polls(e.c.dev, 0), 0);
	assert_int_equal(vhu_dev_vring_remote_polls(e.c.dev, 1), 0);
	env_close(&e);
}

/* The real lookup, on this machine: a memfd's pages are on node 0. */
static void
test_real_memfd_node(void **state)
{
	const size_t len = 2u << 20;
	int fd = fe_memfd(len);
	uint8_t *p, *q;
	int want = -1;
	struct vhu_msg_region in = { 0x100000, len, 0x7f0000000000ull, 0 };
	struct vhu_mem_region r;
	vhu_numa_node_fn saved = vhu_numa_node_of;

	(void)state;
	assert_true(fd >= 0);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	/* nothing allocated yet, default policy: unknown, nothing faulted */
	assert_int_equal(vhu_numa_node_real(p, len, false), -1);
	assert_int_equal(vhu_numa_node_real(p + 4096, 100, false), -1);
	memset(p, 1, len);
	assert_int_equal(get_mempolicy(&want, NULL, 0, p,
				       MPOL_F_NODE | MPOL_F_ADDR), 0);
	assert_int_equal(want, 0); /* one node here */
	assert_int_equal(vhu_numa_node_real(p, len, false), want);

	/* a fresh mapping of the same memfd: resident pages tell */
	q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(q != MAP_FAILED);
	assert_int_equal(vhu_numa_node_real(q, len, false), want);
	munmap(q, len);

	/* a region mapped by the library (real hook in place) */
	vhu_numa_node_of = vhu_numa_node_real;
	assert_int_equal(vhu_mem_map_region(&r, &in, fd, false, -1), 0);
	assert_int_equal(r.numa_node, want);
	vhu_mem_unmap_region(&r);
	/* postcopy's PROT_NONE mapping: asked without faulting (no SIGSEGV) */
	assert_int_equal(vhu_mem_map_region(&r, &in, fd, true, -1), 0);
	assert_true(r.numa_node == want || r.numa_node == -1);
	vhu_mem_unmap_region(&r);
	vhu_numa_node_of = saved;

	/* the mover on movable memory */
	q = vhu_numa_zalloc(10000);
	assert_non_null(q);
	assert_int_equal(vhu_numa_move_real(q, 12288, want), 0);
	assert_int_equal(q[9999], 0);
	vhu_numa_free(q, 10000);

	munmap(p, len);
	close(fd);
}

/*
 * Movable objects: page-aligned, zeroed, each on pages of its own, carved
 * one after the other from one mapping; a large one gets its own.
 */
static void
test_movable_allocations(void **state)
{
	const size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *a, *b, *c, *big;

	(void)state;
	a = vhu_numa_zalloc(100);
	b = vhu_numa_zalloc(pg + 1);
	c = vhu_numa_zalloc(100);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_int_equal((uintptr_t)a % pg, 0);
	assert_int_equal((uintptr_t)b % pg, 0);
	/* one after the other, b taking two pages (unless a chunk ended) */
	if (b == a + pg)
		assert_ptr_equal(c, b + 2 * pg);
	for (size_t i = 0; i < pg + 1; i++)
		assert_int_equal(b[i], 0);
	memset(a, 0xa5, 100);
	memset(b, 0xa5, pg + 1);
	vhu_numa_free(b, pg + 1);
	b = vhu_numa_zalloc(pg + 1);
	assert_non_null(b);
	for (size_t i = 0; i < pg + 1; i++)
		assert_int_equal(b[i], 0);
	assert_int_equal(vhu_numa_place(b, pg + 1, 0), 0); /* fake mover */
	assert_int_equal(vhu_numa_place(b, pg + 1, -1), 0);
	big = vhu_numa_zalloc(8u << 20);
	assert_non_null(big);
	assert_int_equal(big[(8u << 20) - 1], 0);
	vhu_numa_free(big, 8u << 20);
	vhu_numa_free(a, 100);
	vhu_numa_free(b, pg + 1);
	vhu_numa_free(c, 100);
}

/* ---- set-up diagnostics ---- */

/* A bare connection, features taken, protocol features pf & offered. */
static void
conn_open(struct env *e, uint64_t pf_keep)
{
	uint64_t f, pf;

	memset(e, 0, sizeof(*e));
	assert_int_equal(fe_conn_open(&e->c, sock), 0);
	f = get_u64(e, VHU_REQ_GET_FEATURES);
	f &= ~(BIT(VHOST_F_LOG_ALL) | BIT(VIRTIO_F_RING_PACKED));
	send_msg(e, VHU_REQ_SET_FEATURES, &f, 8, NULL, 0);
	pf = get_u64(e, VHU_REQ_GET_PROTOCOL_FEATURES) & pf_keep &
	     ~BIT(VHU_PROTOCOL_F_REPLY_ACK);
	send_msg(e, VHU_REQ_SET_PROTOCOL_FEATURES, &pf, 8, NULL, 0);
}

/* A SET_MEM_TABLE of n one-page regions of memfd fd. */
static void
send_table(struct env *e, int fd, uint32_t n)
{
	struct vhu_msg_mem_table mt = { .nregions = n };
	int fds[VHU_MEM_TABLE_MAX];

	for (uint32_t i = 0; i < n; i++) {
		mt.r[i] = (struct vhu_msg_region){ GPA_A + i * 0x10000, 4096,
						   QVA_A + i * 0x10000,
						   i * 4096ull };
		fds[i] = dup(fd);
	}
	send_msg(e, VHU_REQ_SET_MEM_TABLE, &mt, 8 + n * 32, fds, (int)n);
}

/* 6a: an fd that cannot be mapped shared is named as such. */
static void
test_diag_not_shared(void **state)
{
	struct env e;
	char path[64];
	int memfd = fe_memfd(4096), ro, efd;

	(void)state;
	assert_true(memfd >= 0);
	(void)logged("");
	conn_open(&e, UINT64_MAX);
	/* a file opened read-only: MAP_SHARED with PROT_WRITE is refused */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(ro >= 0);
	send_table(&e, ro, 1);
	assert_int_equal(e.c.dev->mem.nregions, 0);
	assert_true(vhu_dev_diag(e.c.dev) & VHU_DIAG_MEM_NOT_SHARED);
	assert_true(vhu_socket_diag(sock) & VHU_DIAG_MEM_NOT_SHARED);
	assert_int_equal(logged("memory-backend-memfd,share=on"), 1);
	fe_conn_close(&e.c);

	/* not a file at all */
	conn_open(&e, UINT64_MAX);
	efd = fe_eventfd();
	send_table(&e, efd, 1);
	assert_true(vhu_dev_diag(e.c.dev) & VHU_DIAG_MEM_NOT_SHARED);
	assert_int_equal(logged("must be shared and file-backed"), 1);
	fe_conn_close(&e.c);

	/* a good table: nothing to say */
	conn_open(&e, UINT64_MAX);
	send_table(&e, memfd, 1);
	assert_int_equal(e.c.dev->mem.nregions, 1);
	assert_int_equal(vhu_dev_diag(e.c.dev), 0);
	fe_conn_close(&e.c);
	close(ro);
	close(efd);
	close(memfd);
}

/* 6c: a full SET_MEM_TABLE without CONFIGURE_MEM_SLOTS warns once. */
static void
test_diag_table_full(void **state)
{
	const uint64_t no_slots = ~BIT(VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS);
	struct env e;
	int memfd = fe_memfd(8 * 4096);

	(void)state;
	assert_true(memfd >= 0);
	(void)logged("");
	conn_open(&e, no_slots);
	send_table(&e, memfd, 7);
	assert_int_equal(e.c.dev->mem.nregions, 7);
	assert_false(vhu_dev_diag(e.c.dev) & VHU_DIAG_MEM_TABLE_FULL);
	send_table(&e, memfd, 8);
	assert_int_equal(e.c.dev->mem.nregions, 8);
	assert_true(vhu_dev_diag(e.c.dev) & VHU_DIAG_MEM_TABLE_FULL);
	send_table(&e, memfd, 8);
	assert_int_equal(logged("without protocol feature CONFIGURE_MEM_SLOTS"),
			 1);
	fe_conn_close(&e.c);

	/* negotiated: the frontend can add more, nothing to say */
	conn_open(&e, UINT64_MAX);
	send_table(&e, memfd, 8);
	assert_int_equal(e.c.dev->mem.nregions, 8);
	assert_false(vhu_dev_diag(e.c.dev) & VHU_DIAG_MEM_TABLE_FULL);
	assert_int_equal(logged("CONFIGURE_MEM_SLOTS"), 0);
	fe_conn_close(&e.c);
	close(memfd);
}

/* 6c: ADD_MEM_REG past vhu's slots is refused with the limit named. */
static void
test_diag_slots_full(void **state)
{
	struct env e;
	int memfd = fe_memfd((VHU_MAX_MEM_SLOTS + 1) * 4096ull);

	(void)state;
	assert_true(memfd >= 0);
	(void)logged("");
	conn_open(&e, UINT64_MAX);
	for (uint32_t i = 0; i <= VHU_MAX_MEM_SLOTS; i++) {
		struct vhu_msg_mem_reg m = {
			.r = { GPA_A + i * 0x10000ull, 4096,
			       QVA_A + i * 0x10000ull, i * 4096ull },
		};
		int fd = dup(memfd);

		send_msg(&e, VHU_REQ_ADD_MEM_REG, &m, sizeof(m), &fd, 1);
		assert_int_equal(e.c.dev->mem.nregions,
				 RTE_MIN(i + 1, (uint32_t)VHU_MAX_MEM_SLOTS));
		assert_int_equal(!!(vhu_dev_diag(e.c.dev) &
				    VHU_DIAG_MEM_SLOTS_FULL),
				 i == VHU_MAX_MEM_SLOTS);
	}
	assert_int_equal(logged("memory slots in use"), 1);
	fe_conn_close(&e.c);
	close(memfd);
}

/* Write 256 pages of guest A past its rings, as a booted guest would. */
static void
touch_guest_a(struct env *e)
{
	for (uint32_t i = 0; i < 256; i++)
		vtd_ptr(&e->a, GPA_A + SIZE_A + i * 4096ull)[0] = 1;
}

/*
 * 6a: a started guest whose shared file holds only zeros (share=off: the
 * driver's rings here are zeroed too) is named; one that wrote its memory
 * is not.
 */
static void
test_diag_guest_writes_invisible(void **state)
{
	const uint64_t big = 64ull << 20;
	struct env e;

	(void)state;
	reset_fakes(-1, -1);
	(void)logged("");
	env_open_sized(&e, false, big, SIZE_B, NULL);
	assert_true(vhu_dev_diag(e.c.dev) & VHU_DIAG_MEM_INVISIBLE);
	assert_true(vhu_socket_diag(sock) & VHU_DIAG_MEM_INVISIBLE);
	assert_int_equal(logged("runs on a private copy"), 1);
	/* once per connection */
	set_status(&e, STATUS_OK);
	set_status(&e, STATUS_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	assert_true(e.c.dev->running);
	assert_int_equal(logged("runs on a private copy"), 0);
	env_close(&e);

	env_open_sized(&e, false, big, SIZE_B, touch_guest_a);
	assert_false(vhu_dev_diag(e.c.dev) & VHU_DIAG_MEM_INVISIBLE);
	env_close(&e);

	/* small test guests are never checked */
	env_open(&e, false);
	assert_false(vhu_dev_diag(e.c.dev) & VHU_DIAG_MEM_INVISIBLE);
	env_close(&e);
	assert_int_equal(logged("runs on a private copy"), 0);
}

static int
setup(void **state)
{
	(void)state;
	sock = fe_socket("/nonexistent/vhu-test-numa", 0);
	pool = rte_pktmbuf_pool_create("numa_pool", 255, 0, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	assert_non_null(pool);
	log_file = tmpfile();
	assert_non_null(log_file);
	assert_int_equal(rte_openlog_stream(log_file), 0);
	vhu_numa_node_of = fake_node;
	vhu_numa_move = fake_move;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	vhu_numa_node_of = vhu_numa_node_real;
	vhu_numa_move = vhu_numa_move_real;
	rte_openlog_stream(NULL);
	fclose(log_file);
	rte_mempool_free(pool);
	return 0;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vring_follows_desc_region),
		cmocka_unit_test(test_device_falls_back_to_first_region),
		cmocka_unit_test(test_remote_poll_warns_once_per_start),
		cmocka_unit_test(test_unknown_node_never_warns),
		cmocka_unit_test(test_real_memfd_node),
		cmocka_unit_test(test_movable_allocations),
		cmocka_unit_test(test_diag_not_shared),
		cmocka_unit_test(test_diag_table_full),
		cmocka_unit_test(test_diag_slots_full),
		cmocka_unit_test(test_diag_guest_writes_invisible),
	};

	(void)argc;
	return FE_RUN_GROUP(argv[0], "numa", tests, setup, teardown);
}
