/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Postcopy live migration (protocol feature PAGEFAULT), with the test in
 * QEMU's place on the destination: POSTCOPY_ADVISE hands over a
 * userfaultfd; after POSTCOPY_LISTEN, SET_MEM_TABLE and ADD_MEM_REG are
 * answered with the backend's mapping bases and the frontend's u64
 * confirmation is taken; a read of a page not yet received sleeps until
 * the test (as QEMU's fault thread) places the page and wakes it, and
 * then sees the page's content; POSTCOPY_END unregisters, after which a
 * missing page no longer faults. Out-of-order requests are refused, and
 * fds and mappings return to their baseline. A region mapped while
 * listening stays unpopulated even under mlockall(MCL_FUTURE).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include <linux/userfaultfd.h>

#include <rte_common.h>

#include "dev.h"
#include "lifecycle.h"
#include "fe.h"
#include "msg.h"
#include "vhu.h"

#define REGION_SIZE (1u << 20)
#define PAGE 4096u

static struct vhu_socket *sock;
static int base_fds, base_maps;

/*
 * Hand one message to the entry point; then read what it sent back, if
 * anything: the reply's header, payload (room bytes at most) and fd.
 * Returns the reply's payload size, or -ETIMEDOUT when there was none.
 */
static int
deliver(struct fe_conn *c, uint32_t req, uint32_t flags, const void *payload,
	uint32_t size, int *fds, int nfds, struct vhu_msg_hdr *rh,
	void *reply, size_t room, int *reply_fd)
{
	char control[CMSG_SPACE(sizeof(int))];
	struct {
		struct vhu_msg_hdr hdr;
		union vhu_msg_payload payload;
	} __attribute__((packed)) m;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control, .msg_controllen = sizeof(control),
	};
	struct pollfd pfd = { .fd = c->peer, .events = POLLIN };
	struct cmsghdr *cm;
	ssize_t n;

	assert_int_equal(fe_handle(c->dev, req, flags, payload, size, fds,
					nfds), 0);
	if (reply_fd != NULL)
		*reply_fd = -1;
	if (poll(&pfd, 1, 0) != 1)
		return -ETIMEDOUT;
	n = recvmsg(c->peer, &mh, MSG_DONTWAIT);
	assert_true(n >= (ssize_t)sizeof(m.hdr));
	assert_int_equal(n, sizeof(m.hdr) + m.hdr.size);
	*rh = m.hdr;
	memcpy(reply, &m.payload, RTE_MIN((size_t)m.hdr.size, room));
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
		int fd;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
		assert_non_null(reply_fd);
		*reply_fd = fd;
	}
	return (int)m.hdr.size;
}

/* A request with NEED_REPLY whose only reply is REPLY_ACK's status. */
static uint64_t
ack_of(struct fe_conn *c, uint32_t req, const void *payload, uint32_t size,
       int *fds, int nfds)
{
	struct vhu_msg_hdr rh;
	uint64_t status = UINT64_MAX;

	assert_int_equal(deliver(c, req, VHU_MSG_VERSION | VHU_MSG_F_NEED_REPLY,
				 payload, size, fds, nfds, &rh, &status,
				 sizeof(status), NULL), 8);
	assert_int_equal(rh.request, req);
	return status;
}

static void
conn_open(struct fe_conn *c)
{
	uint64_t pf = fe_conn_negotiate(c, sock);

	assert_true(pf & (1ULL << VHU_PROTOCOL_F_PAGEFAULT));
	assert_true(pf & (1ULL << VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS));
}

static bool
userfaultfd_usable(void)
{
	int fd = (int)syscall(__NR_userfaultfd, O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* A connection for a postcopy case; skipped without userfaultfd. */
static void
uffd_conn_open(struct fe_conn *c)
{
	if (!userfaultfd_usable())
		skip();
	conn_open(c);
}

/* ADVISE then LISTEN, both accepted: the userfaultfd ADVISE handed over. */
static int
advise_listen(struct fe_conn *c)
{
	union vhu_msg_payload reply;
	struct vhu_msg_hdr rh;
	int ufd;

	assert_int_equal(deliver(c, VHU_REQ_POSTCOPY_ADVISE, VHU_MSG_VERSION,
				 NULL, 0, NULL, 0, &rh, &reply, sizeof(reply),
				 &ufd), 0);
	assert_true(ufd >= 0);
	assert_int_equal(ack_of(c, VHU_REQ_POSTCOPY_LISTEN, NULL, 0, NULL, 0),
			 0);
	return ufd;
}

struct reader {
	const volatile uint64_t *at;
	uint64_t value;
};

static void *
read_page(void *arg)
{
	struct reader *r = arg;

	r->value = *r->at;
	return NULL;
}

/* The next fault on ufd: its address (page aligned), or 0 after ms. */
static uint64_t
next_fault(int ufd, int ms)
{
	struct pollfd pfd = { .fd = ufd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&pfd, 1, ms) != 1)
		return 0;
	assert_int_equal(read(ufd, &msg, sizeof(msg)), sizeof(msg));
	assert_int_equal(msg.event, UFFD_EVENT_PAGEFAULT);
	return msg.arg.pagefault.address & ~(uint64_t)(PAGE - 1);
}

static void
test_postcopy_flow(void **state)
{
	struct vhu_msg_mem_table m = { .nregions = 1 };
	struct vhu_msg_mem_reg add = {
		.r = { 4 * REGION_SIZE, REGION_SIZE, 0x7f4000000000, 0 },
	};
	union vhu_msg_payload reply;
	struct vhu_msg_hdr rh;
	struct fe_conn c;
	int memfd, memfd2, fd, ufd;
	uint64_t confirm = 0, base, base2;
	uint8_t *fe_view;
	struct reader rd;
	pthread_t t;

	(void)state;
	uffd_conn_open(&c);
	memfd = fe_memfd(REGION_SIZE);
	memfd2 = fe_memfd(REGION_SIZE);
	/* the frontend's own view: writing it is "placing" a page */
	fe_view = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		       memfd, 0);
	assert_true(fe_view != MAP_FAILED);

	/* out of order: LISTEN before ADVISE */
	assert_int_equal(ack_of(&c, VHU_REQ_POSTCOPY_LISTEN, NULL, 0, NULL, 0),
			 1);

	/* ADVISE: the reply is empty and carries the userfaultfd */
	assert_int_equal(deliver(&c, VHU_REQ_POSTCOPY_ADVISE, VHU_MSG_VERSION,
				 NULL, 0, NULL, 0, &rh, &reply, sizeof(reply),
				 &ufd), 0);
	assert_int_equal(rh.request, VHU_REQ_POSTCOPY_ADVISE);
	assert_true(rh.flags & VHU_MSG_F_REPLY);
	assert_true(ufd >= 0);
	/* QEMU: one ADVISE per queue pair's vhost device, the newest fd wins */
	close(ufd);
	ufd = advise_listen(&c);
	/* a second LISTEN (the next vhost device) changes nothing */
	assert_int_equal(ack_of(&c, VHU_REQ_POSTCOPY_LISTEN, NULL, 0, NULL, 0),
			 0);
	/* no ADVISE once postcopy runs */
	assert_int_equal(deliver(&c, VHU_REQ_POSTCOPY_ADVISE, VHU_MSG_VERSION,
				 NULL, 0, NULL, 0, &rh, &reply, sizeof(reply),
				 &fd), 0);
	assert_int_equal(fd, -1);

	/* SET_MEM_TABLE: answered with our base, then confirmed */
	m.r[0] = (struct vhu_msg_region){ 0, REGION_SIZE, 0x7f0000000000, 0 };
	fd = dup(memfd);
	assert_int_equal(deliver(&c, VHU_REQ_SET_MEM_TABLE, VHU_MSG_VERSION,
				 &m, 8 + 32, &fd, 1, &rh, &reply, sizeof(reply),
				 NULL), 8 + 32);
	assert_int_equal(rh.request, VHU_REQ_SET_MEM_TABLE);
	assert_int_equal(reply.mem.nregions, 1);
	assert_int_equal(reply.mem.r[0].gpa, 0);
	assert_int_equal(reply.mem.r[0].size, REGION_SIZE);
	base = reply.mem.r[0].uaddr;
	assert_int_equal(base, (uint64_t)(uintptr_t)c.dev->mem.r[0].hva);
	assert_int_equal(deliver(&c, VHU_REQ_SET_MEM_TABLE, VHU_MSG_VERSION,
				 &confirm, 8, NULL, 0, &rh, &reply,
				 sizeof(reply), NULL), -ETIMEDOUT);
	assert_int_equal(c.dev->mem.nregions, 1);

	/* a page not yet received: the reader sleeps in the fault */
	fe_view[2 * PAGE + 8] = 0x5a; /* page 2 arrived; page 3 has not */
	rd = (struct reader){ (const volatile uint64_t *)(uintptr_t)
			      (base + 3 * PAGE + 8), 0 };
	assert_int_equal(pthread_create(&t, NULL, read_page, &rd), 0);
	assert_int_equal(next_fault(ufd, 5000), base + 3 * PAGE);
	memcpy(fe_view + 3 * PAGE + 8, &(uint64_t){ 0x1122334455667788ULL },
	       8);
	{
		struct uffdio_range wake = { .start = base + 3 * PAGE,
					     .len = PAGE };

		assert_int_equal(ioctl(ufd, UFFDIO_WAKE, &wake), 0);
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(rd.value, 0x1122334455667788ULL);
	/* a page already there does not fault */
	assert_int_equal(*(volatile uint8_t *)(uintptr_t)(base + 2 * PAGE + 8),
			 0x5a);
	assert_int_equal(next_fault(ufd, 0), 0);

	/* ADD_MEM_REG: the reply has the same shape, our base inside */
	fd = dup(memfd2);
	assert_int_equal(deliver(&c, VHU_REQ_ADD_MEM_REG, VHU_MSG_VERSION,
				 &add, sizeof(add), &fd, 1, &rh, &reply,
				 sizeof(reply), NULL), sizeof(add));
	assert_int_equal(rh.request, VHU_REQ_ADD_MEM_REG);
	assert_int_equal(reply.reg.r.gpa, add.r.gpa);
	base2 = reply.reg.r.uaddr;
	assert_int_equal(c.dev->mem.nregions, 2);
	assert_int_equal(base2, (uint64_t)(uintptr_t)c.dev->mem.r[1].hva);
	/* the same region again (the next queue pair's device): same base */
	fd = dup(memfd2);
	assert_int_equal(deliver(&c, VHU_REQ_ADD_MEM_REG, VHU_MSG_VERSION,
				 &add, sizeof(add), &fd, 1, &rh, &reply,
				 sizeof(reply), NULL), sizeof(add));
	assert_int_equal(reply.reg.r.uaddr, base2);
	assert_int_equal(deliver(&c, VHU_REQ_ADD_MEM_REG, VHU_MSG_VERSION,
				 &confirm, 8, NULL, 0, &rh, &reply,
				 sizeof(reply), NULL), -ETIMEDOUT);
	/* the region added while listening faults too */
	rd = (struct reader){ (const volatile uint64_t *)(uintptr_t)base2, 0 };
	assert_int_equal(pthread_create(&t, NULL, read_page, &rd), 0);
	assert_int_equal(next_fault(ufd, 5000), base2);
	{
		struct uffdio_zeropage zp = {
			.range = { .start = base2, .len = PAGE },
		};

		/* resolving through the backend's own registration works too */
		assert_int_equal(ioctl(ufd, UFFDIO_ZEROPAGE, &zp), 0);
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(rd.value, 0);

	/*
	 * END: one u64 reply even with REPLY_ACK asked; faults stop. QEMU
	 * 7.2 may send it between a bases reply and its confirmation: the
	 * confirmation still owed is taken after END, once.
	 */
	fd = dup(memfd2);
	assert_int_equal(deliver(&c, VHU_REQ_ADD_MEM_REG, VHU_MSG_VERSION,
				 &add, sizeof(add), &fd, 1, &rh, &reply,
				 sizeof(reply), NULL), sizeof(add));
	assert_int_equal(ack_of(&c, VHU_REQ_POSTCOPY_END, NULL, 0, NULL, 0), 0);
	assert_int_equal(ack_of(&c, VHU_REQ_ADD_MEM_REG, &confirm, 8, NULL, 0),
			 0);
	assert_int_equal(deliver(&c, VHU_REQ_GET_FEATURES, VHU_MSG_VERSION,
				 NULL, 0, NULL, 0, &rh, &reply, sizeof(reply),
				 NULL), 8);
	assert_int_equal(rh.request, VHU_REQ_GET_FEATURES);
	alarm(10); /* a fault now would hang: fail instead */
	assert_int_equal(*(volatile uint64_t *)(uintptr_t)(base + 5 * PAGE), 0);
	alarm(0);
	assert_int_equal(next_fault(ufd, 0), 0);
	/* a memory confirmation-shaped message is malformed again */
	assert_int_equal(ack_of(&c, VHU_REQ_ADD_MEM_REG, &confirm, 8, NULL, 0),
			 1);

	close(ufd);
	munmap(fe_view, REGION_SIZE);
	close(memfd);
	close(memfd2);
	fe_conn_close(&c);
	assert_int_equal(fe_count_fds(), base_fds);
	assert_int_equal(fe_count_maps(), base_maps);
}

/* Pages of fd's first len bytes present in its page cache. */
static unsigned int
resident_pages(int fd, size_t len)
{
	unsigned char vec[REGION_SIZE / PAGE];
	unsigned int n = 0;
	void *view;

	assert_true(len <= REGION_SIZE);
	view = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(view != MAP_FAILED);
	/* on a shared file mapping mincore() reports the page cache */
	assert_int_equal(mincore(view, len, vec), 0);
	for (size_t i = 0; i < len / PAGE; i++)
		n += vec[i] & 1;
	munmap(view, len);
	return n;
}

/*
 * In a process that called mlockall(MCL_FUTURE), as dpdk-testpmd does,
 * mmap() populates every new accessible mapping. A region mapped while
 * postcopy listens must still be populated by nobody but the frontend:
 * no page of it may enter the file before registration (QEMU 7.2 then
 * failed "postcopy_place_page: File exists" and the backend read zeros
 * as descriptors), and a read must fault to the frontend.
 */
static void
test_postcopy_mlockall(void **state)
{
	struct vhu_msg_mem_table m = { .nregions = 1 };
	struct vhu_msg_mem_reg add = {
		.r = { 4 * REGION_SIZE, REGION_SIZE, 0x7f4000000000, 0 },
	};
	struct uffdio_zeropage zp = { .range = { .len = PAGE } };
	union vhu_msg_payload reply;
	struct vhu_msg_hdr rh;
	struct reader rd;
	struct fe_conn c;
	int memfd, memfd2, fd, ufd, locked;
	uint64_t confirm = 0, base;
	struct rlimit lim;
	pthread_t t;

	(void)state;
	uffd_conn_open(&c);
	memfd = fe_memfd(REGION_SIZE);
	memfd2 = fe_memfd(REGION_SIZE);
	ufd = advise_listen(&c);

	/*
	 * Without the right to lock memory, MCL_FUTURE would make the next
	 * mappings fail past RLIMIT_MEMLOCK: then only the fault is checked.
	 */
	locked = -1;
	if (geteuid() == 0 || (getrlimit(RLIMIT_MEMLOCK, &lim) == 0 &&
			       lim.rlim_cur == RLIM_INFINITY))
		locked = mlockall(MCL_FUTURE);
	m.r[0] = (struct vhu_msg_region){ 0, REGION_SIZE, 0x7f0000000000, 0 };
	fd = dup(memfd);
	assert_int_equal(deliver(&c, VHU_REQ_SET_MEM_TABLE, VHU_MSG_VERSION,
				 &m, 8 + 32, &fd, 1, &rh, &reply, sizeof(reply),
				 NULL), 8 + 32);
	fd = dup(memfd2);
	assert_int_equal(deliver(&c, VHU_REQ_ADD_MEM_REG, VHU_MSG_VERSION,
				 &add, sizeof(add), &fd, 1, &rh, &reply,
				 sizeof(reply), NULL), sizeof(add));
	base = reply.reg.r.uaddr;
	if (locked == 0)
		munlockall();
	else
		print_message("no mlockall: only the fault is checked\n");
	assert_int_equal(deliver(&c, VHU_REQ_ADD_MEM_REG, VHU_MSG_VERSION,
				 &confirm, 8, NULL, 0, &rh, &reply,
				 sizeof(reply), NULL), -ETIMEDOUT);
	assert_int_equal(resident_pages(memfd, REGION_SIZE), 0);
	assert_int_equal(resident_pages(memfd2, REGION_SIZE), 0);

	/* and the first read of the added region faults to the frontend */
	rd = (struct reader){ (const volatile uint64_t *)(uintptr_t)
			      (base + PAGE), UINT64_MAX };
	assert_int_equal(pthread_create(&t, NULL, read_page, &rd), 0);
	assert_int_equal(next_fault(ufd, 5000), base + PAGE);
	zp.range.start = base + PAGE;
	assert_int_equal(ioctl(ufd, UFFDIO_ZEROPAGE, &zp), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(rd.value, 0);
	assert_int_equal(resident_pages(memfd2, REGION_SIZE), 1);

	assert_int_equal(ack_of(&c, VHU_REQ_POSTCOPY_END, NULL, 0, NULL, 0), 0);
	close(ufd);
	close(memfd);
	close(memfd2);
	fe_conn_close(&c);
	assert_int_equal(fe_count_fds(), base_fds);
	assert_int_equal(fe_count_maps(), base_maps);
}

/* A connection closed mid-postcopy leaves no fd and no mapping behind. */
static void
test_postcopy_close(void **state)
{
	struct vhu_msg_mem_table m = { .nregions = 1 };
	union vhu_msg_payload reply;
	struct vhu_msg_hdr rh;
	struct fe_conn c;
	int memfd, fd, ufd;

	(void)state;
	uffd_conn_open(&c);
	memfd = fe_memfd(REGION_SIZE);
	ufd = advise_listen(&c);
	m.r[0] = (struct vhu_msg_region){ 0, REGION_SIZE, 0x7f0000000000, 0 };
	fd = dup(memfd);
	assert_int_equal(deliver(&c, VHU_REQ_SET_MEM_TABLE, VHU_MSG_VERSION,
				 &m, 8 + 32, &fd, 1, &rh, &reply, sizeof(reply),
				 NULL), 8 + 32);
	fe_conn_close(&c);
	close(ufd);
	close(memfd);
	assert_int_equal(fe_count_fds(), base_fds);
	assert_int_equal(fe_count_maps(), base_maps);
}

/* Without VHU_SOCKET_POSTCOPY the feature is not offered. */
static void
test_postcopy_off_by_default(void **state)
{
	struct vhu_socket *s = fe_socket("/nonexistent/vhu-test-pc-off", 0);

	(void)state;
	assert_false(vhu_socket_get_protocol_features(s) &
		     (1ULL << VHU_PROTOCOL_F_PAGEFAULT));
	assert_int_equal(vhu_socket_unregister(s), 0);
}

static int
setup(void **state)
{
	(void)state;
	sock = fe_socket("/nonexistent/vhu-test-postcopy", VHU_SOCKET_POSTCOPY);
	/* warm up lazily allocated state before the baseline */
	{
		struct fe_conn c;

		conn_open(&c);
		fe_conn_close(&c);
	}
	base_fds = fe_count_fds();
	base_maps = fe_count_maps();
	return 0;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_postcopy_off_by_default),
		cmocka_unit_test(test_postcopy_flow),
		cmocka_unit_test(test_postcopy_close),
		cmocka_unit_test(test_postcopy_mlockall),
	};

	(void)argc;
	return FE_RUN_GROUP(argv[0], "postcopy", tests, setup, NULL);
}
