/* SPDX-License-Identifier: BSD-3-Clause */
/* Test-only vhost-user frontend helpers (see fe.h). */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/virtio_config.h>

#include <rte_common.h>
#include <rte_eal.h>

#include "dev.h"
#include "lifecycle.h"
#include "fe.h"
#include "vhu.h"
#include "../eal_tidy.h"
#include "../common/fdpass.h"

uint64_t
fe_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
fe_conn_open(struct fe_conn *c, struct vhu_socket *sock)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return -errno;
	c->dev = vhu_dev_alloc(sock, sv[0]);
	if (c->dev == NULL) {
		close(sv[0]);
		close(sv[1]);
		return -ENOMEM;
	}
	c->peer = sv[1];
	return 0;
}

void
fe_conn_close(struct fe_conn *c)
{
	vhu_dev_close(c->dev);
	close(c->peer);
}

int
fe_handle(struct vhu_dev *dev, uint32_t req, uint32_t flags,
	  const void *payload, uint32_t size, int *fds, int nfds)
{
	struct vhu_msg_hdr h = { .request = req, .flags = flags, .size = size };
	union vhu_msg_payload p;

	memset(&p, 0, sizeof(p));
	if (size > 0)
		memcpy(&p, payload, RTE_MIN((size_t)size, sizeof(p)));
	return vhu_dev_handle_msg(dev, &h, &p, fds, nfds);
}

int
fe_send(int sock, uint32_t req, uint32_t flags, const void *payload,
	uint32_t size, const int *fds, int nfds)
{
	uint8_t buf[sizeof(struct vhu_msg_hdr) + 512];
	struct vhu_msg_hdr h = { .request = req, .flags = flags, .size = size };

	if (size > sizeof(buf) - sizeof(h))
		return -EINVAL;
	memcpy(buf, &h, sizeof(h));
	if (size)
		memcpy(buf + sizeof(h), payload, size);
	return fe_send_raw(sock, buf, sizeof(h) + size, fds, nfds);
}

int
fe_send_raw(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
	char control[CMSG_SPACE(16 * sizeof(int))];
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	iov.iov_base = (void *)(uintptr_t)buf;
	iov.iov_len = len;
	if (fdpass_attach(&mh, control, sizeof(control), fds, nfds) < 0)
		return -EINVAL;
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)iov.iov_len ?
	       0 : -errno;
}

static int
read_full(int sock, void *buf, size_t len, int timeout_ms)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd pfd = { .fd = sock, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		n = recv(sock, (uint8_t *)buf + got, len - got, MSG_DONTWAIT);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	return 0;
}

int
fe_recv(int sock, struct vhu_msg_hdr *hdr, void *payload, size_t room,
	int timeout_ms)
{
	int ret = read_full(sock, hdr, sizeof(*hdr), timeout_ms);

	if (ret < 0)
		return ret;
	if (hdr->size > room)
		return -EMSGSIZE;
	ret = read_full(sock, payload, hdr->size, timeout_ms);
	return ret < 0 ? ret : (int)hdr->size;
}

int64_t
fe_call_ack(int sock, uint32_t req, const void *payload, uint32_t size,
	    const int *fds, int nfds)
{
	struct vhu_msg_hdr h;
	uint64_t v = UINT64_MAX;
	int ret;

	ret = fe_send(sock, req, VHU_MSG_VERSION | VHU_MSG_F_NEED_REPLY,
		      payload, size, fds, nfds);
	if (ret < 0)
		return ret;
	ret = fe_recv(sock, &h, &v, sizeof(v), 2000);
	if (ret < 0)
		return ret;
	if (ret != 8 || h.request != req || !(h.flags & VHU_MSG_F_REPLY))
		return -EPROTO;
	return (int64_t)v;
}

int
fe_memfd(size_t size)
{
	int fd = memfd_create(FE_MEMFD_NAME, MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
fe_eventfd(void)
{
	return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

int
fe_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

/*
 * Mappings of guest memory made by fe_memfd(): exactly what a leak would
 * leave behind. Counting every line of /proc/self/maps instead would also
 * count the sanitizer runtime's and malloc's own first-use mappings.
 */
int
fe_count_maps_of(const char *memfd_name)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char want[64], line[512];
	int n = 0;

	if (f == NULL)
		return -1;
	snprintf(want, sizeof(want), "memfd:%s", memfd_name);
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, want) != NULL;
	fclose(f);
	return n;
}

int
fe_count_maps(void)
{
	return fe_count_maps_of(FE_MEMFD_NAME);
}

void
fe_eal_init(const char *prog)
{
	char prefix[64];
	char *argv[] = {
		(char *)prog, "--no-huge", "-m", "128", "--no-pci",
		"--no-shconf", "--no-telemetry", prefix,
		"--log-level=lib.vhu.*:warning",
		"--log-level=lib.eal:error", NULL,
	};

	snprintf(prefix, sizeof(prefix), "--file-prefix=vhut%d", getpid());
	if (rte_eal_init(RTE_DIM(argv) - 1, argv) < 0) {
		fprintf(stderr, "rte_eal_init failed\n");
		exit(1);
	}
	vhu_test_eal_tidy_at_exit();
}

void
fe_suite_init(const char *prog)
{
	fe_eal_init(prog);
	assert_int_equal(vhu_init(0), 0);
}

int
fe_suite_fini(int ret)
{
	vhu_fini();
	return ret;
}

struct vhu_socket *
fe_socket(const char *path, uint32_t flags)
{
	struct vhu_socket_params p = { .path = path, .flags = flags };
	struct vhu_socket *s = NULL;

	assert_int_equal(vhu_socket_register(&p, &s), 0);
	assert_non_null(s);
	return s;
}

/* GET_* on c: a well-formed 8-byte reply to req, straight away. */
static uint64_t
conn_get_u64(struct fe_conn *c, uint32_t req)
{
	struct vhu_msg_hdr rh;
	uint64_t v = 0;

	assert_int_equal(fe_handle(c->dev, req, VHU_MSG_VERSION, NULL, 0,
				   NULL, 0), 0);
	assert_int_equal(fe_recv(c->peer, &rh, &v, sizeof(v), 0), 8);
	assert_int_equal(rh.request, req);
	assert_true(rh.flags & VHU_MSG_F_REPLY);
	return v;
}

/* SET_* on c without NEED_REPLY: accepted, and no reply. */
static void
conn_set_u64(struct fe_conn *c, uint32_t req, uint64_t v)
{
	struct vhu_msg_hdr rh;
	uint64_t r;

	assert_int_equal(fe_handle(c->dev, req, VHU_MSG_VERSION, &v, 8,
				   NULL, 0), 0);
	assert_int_equal(fe_recv(c->peer, &rh, &r, sizeof(r), 0), -ETIMEDOUT);
}

uint64_t
fe_conn_negotiate(struct fe_conn *c, struct vhu_socket *sock)
{
	uint64_t f, pf;

	assert_int_equal(fe_conn_open(c, sock), 0);
	f = conn_get_u64(c, VHU_REQ_GET_FEATURES);
	assert_true(f & (1ULL << VHU_F_PROTOCOL_FEATURES));
	assert_true(f & (1ULL << VIRTIO_F_VERSION_1));
	conn_set_u64(c, VHU_REQ_SET_FEATURES, f);
	pf = conn_get_u64(c, VHU_REQ_GET_PROTOCOL_FEATURES);
	conn_set_u64(c, VHU_REQ_SET_PROTOCOL_FEATURES, pf);
	return pf;
}
