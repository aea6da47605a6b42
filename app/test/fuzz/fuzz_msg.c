/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the vhost-user message layer: each input is one
 * connection. A device is made over a socketpair (vhu_dev_alloc) and fed
 * a sequence of messages through vhu_dev_handle_msg(), each with real fds:
 * memfds of 64 KiB, 256 KiB and 1 MiB (so SET_MEM_TABLE, ADD_MEM_REG and
 * SET_LOG_BASE map real memory), an empty memfd, eventfds, a pipe, a
 * socket and /dev/null (not regular files). Other records let the "guest"
 * write into those memfds and run data-path bursts on the device, so a
 * fuzzed configuration is also exercised by the ring code. Replies are
 * drained from the peer end after every message and checked against the
 * reply rule (drain()). The payload is a heap buffer of exactly hdr.size
 * bytes, so a read past the announced size is an ASan report.
 *
 * After the input the device is closed, and then: the SIGBUS guard holds
 * no mapping (memguard.h); the process has as many fds open as before;
 * every fd handed to the library is closed (fcntl(F_GETFD) fails with
 * EBADF); no memfd is still mapped (adding F_SEAL_WRITE must succeed: the
 * kernel refuses while a writable shared mapping exists, and the library
 * maps guest memory and the log that way;
 * every 256 inputs /proc/self/maps is searched too, reading it costs more
 * than the rest of a run); the mbuf pool is full again.
 *
 * Input: byte 0 is the setup (bit 0: new_device refuses the device;
 * bit 1: the harness does the feature handshake first, all offered
 * features; bit 2: and SET_OWNER; bit 3: stream mode, see stream_msg():
 * messages go through the socket and the library's own reader, which
 * covers its framing checks). Then records, at most 64:
 *   r < 0xe0  a message: request = r % 48, then flags (1 byte), payload
 *             size (2 bytes LE, mod the largest payload + 1; stream mode:
 *             mod 513), fd spec (1 byte: nfds = b % 9, then one kind byte
 *             per fd, see make_fd()), then the payload bytes; stream mode
 *             adds one byte: where to cut the message in two (0: whole);
 *   0xe0-0xef a burst: bit 0 queue pair, bit 1 enqueue (else dequeue),
 *             bit 2 toggle kick notification first; one count byte;
 *   0xf0-0xff a guest write into memfd (r & 3): offset (3 bytes LE),
 *             length (1 byte), data.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dev.h"
#include "lifecycle.h"
#include "memguard.h"
#include "msg.h"
#include "registry.h"
#include "vhu.h"
#include "vhu_burst.h"
#include "fuzz_eal.h"
#include "../common/fdpass.h"

#define MAX_RECORDS 64
#define MAX_PASSED (MAX_RECORDS * VHU_MSG_MAX_FDS + 8)
#define N_MEMFDS 4
#define MEMFD_NAME "fuzz-msg-guest"
#define POOL_N 256
#define NO_CHECK UINT32_MAX           /* drain(): replies not checked */
#define BURST 32

static struct vhu_socket *sock;
static struct rte_mempool *pool;
static bool refuse;
static bool verbose;                  /* FUZZ_VERBOSE: logs and burst results */

static const size_t memfd_size[N_MEMFDS] = {
	64 * 1024, 256 * 1024, 1024 * 1024, 0,
};

/* Per-input state: our own memfds and every fd number we passed. */
static int memfds[N_MEMFDS];
static int passed[MAX_PASSED];
static int npassed;
static int sv0_of_run;                /* the library's end of the socket */

static void
die(const char *what)
{
	fuzz_die("fuzz_msg", what);
}

static int
on_new_device(struct vhu_dev *dev, void *ctx)
{
	(void)dev;
	(void)ctx;
	return refuse ? -1 : 0;
}

static const struct vhu_ops ops = { .new_device = on_new_device };

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct vhu_socket_params p = {
		.path = "/nonexistent/vhu-fuzz-msg",
		.flags = VHU_SOCKET_IOMMU, /* IOTLB_MSG, SET_BACKEND_REQ_FD */
		.ops = &ops,
	};

	(void)argc;
	verbose = fuzz_eal_init("fuzz_msg", (*argv)[0]);
	if (vhu_init(0) != 0)
		die("vhu_init");
	if (vhu_socket_register(&p, &sock) != 0)
		die("vhu_socket_register");
	pool = rte_pktmbuf_pool_create("fuzz_msg", POOL_N, 0, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (pool == NULL)
		die("mempool");
	return 0;
}

struct in {
	const uint8_t *p;
	size_t left;
};

static uint8_t
in_u8(struct in *in)
{
	if (in->left == 0)
		return 0;
	in->left--;
	return *in->p++;
}

static size_t
in_take(struct in *in, uint8_t *dst, size_t len)
{
	size_t n = len < in->left ? len : in->left;

	memcpy(dst, in->p, n);
	in->p += n;
	in->left -= n;
	return n;
}

static int
get_memfd(unsigned int i)
{
	if (memfds[i] < 0) {
		memfds[i] = memfd_create(MEMFD_NAME,
					 MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (memfds[i] < 0 ||
		    ftruncate(memfds[i], (off_t)memfd_size[i]) != 0)
			die("memfd");
	}
	return memfds[i];
}

/*
 * A fresh fd the library will own, of kind k % 8: memfds 0-3 (each a dup
 * of our own, so we can still write guest memory), eventfd, pipe read end,
 * a socket, or /dev/null (neither is a regular file it may map).
 */
static int
make_fd(uint8_t k)
{
	int fd, pfd[2];

	switch (k % 8) {
	case 0: case 1: case 2: case 3:
		fd = fcntl(get_memfd(k % 8), F_DUPFD_CLOEXEC, 0);
		break;
	case 4:
		fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		break;
	case 5:
		if (pipe2(pfd, O_CLOEXEC) != 0)
			die("pipe");
		close(pfd[1]);
		fd = pfd[0];
		break;
	case 6:
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		break;
	default:
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		break;
	}
	if (fd < 0)
		die("make_fd");
	if (npassed < MAX_PASSED)
		passed[npassed++] = fd;
	return fd;
}

/*
 * Read what the library sent back for request req and check the reply
 * rule (msg.c): at most one reply per message, always for this request,
 * with the REPLY flag; and exactly one when the frontend asked for an ack
 * (NEED_REPLY with REPLY_ACK negotiated when the message arrived) and the
 * connection stays up.
 */
static void
drain(int peer, uint32_t req, bool want_ack, bool closed)
{
	/* stream mode: several messages per dispatch, only drained */
	const bool check = req != NO_CHECK;
	uint8_t buf[4096];
	size_t have = 0, at = 0;
	ssize_t n;
	int replies = 0;

	while (have < sizeof(buf) &&
	       (n = recv(peer, buf + have, sizeof(buf) - have,
			 MSG_DONTWAIT)) > 0)
		have += (size_t)n;
	while (check && at + sizeof(struct vhu_msg_hdr) <= have) {
		struct vhu_msg_hdr h;

		memcpy(&h, buf + at, sizeof(h));
		if (h.request != req ||
		    h.flags != (VHU_MSG_VERSION | VHU_MSG_F_REPLY) ||
		    h.size > VHU_MSG_MAX_PAYLOAD) {
			fprintf(stderr, "fuzz_msg: bad reply to %s: request %u "
				"flags 0x%x size %u\n", vhu_msg_name(req),
				h.request, h.flags, h.size);
			abort();
		}
		at += sizeof(h) + h.size;
		replies++;
	}
	if (check && (at != have || replies > 1 || (want_ack && !closed && replies != 1))) {
		fprintf(stderr, "fuzz_msg: %d replies (%zu of %zu bytes) to %s%s\n",
			replies, at, have, vhu_msg_name(req),
			want_ack ? " with NEED_REPLY" : "");
		abort();
	}
}

/* 0 or -1 (connection closed by the library's verdict). */
static int
send_msg(struct vhu_dev *dev, int peer, uint32_t req, uint32_t flags,
	 const void *payload, uint32_t size, int *fds, int nfds)
{
	struct vhu_msg_hdr h = { .request = req, .flags = flags, .size = size };
	/* exactly size bytes: a read past them is an ASan report */
	uint8_t *p = malloc(size ? size : 1);
	bool want_ack = (flags & VHU_MSG_F_NEED_REPLY) &&
		vhu_dev_has_protocol_feature(dev, VHU_PROTOCOL_F_REPLY_ACK);
	int ret;

	if (p == NULL)
		die("malloc");
	if (size > 0)
		memcpy(p, payload, size);
	ret = vhu_dev_handle_msg(dev, &h, p, fds, nfds);
	free(p);
	drain(peer, req, want_ack, ret < 0);
	return ret;
}

static void
handshake(struct vhu_dev *dev, int peer, bool owner)
{
	uint64_t v;

	/*
	 * Not ACCESS_PLATFORM: it excludes LOG_ALL, and logging is the
	 * wider target. IOMMU inputs negotiate it themselves (make_seeds).
	 */
	v = vhu_socket_get_features(sock) & ~(1ULL << VIRTIO_F_ACCESS_PLATFORM);
	send_msg(dev, peer, VHU_REQ_SET_FEATURES, VHU_MSG_VERSION, &v, 8,
		 NULL, 0);
	v = vhu_socket_get_protocol_features(sock);
	send_msg(dev, peer, VHU_REQ_SET_PROTOCOL_FEATURES, VHU_MSG_VERSION,
		 &v, 8, NULL, 0);
	if (owner)
		send_msg(dev, peer, VHU_REQ_SET_OWNER, VHU_MSG_VERSION, NULL,
			 0, NULL, 0);
}

static void
burst(struct vhu_dev *dev, uint8_t r, uint8_t count, bool *notify)
{
	struct rte_mbuf *pkts[BURST];
	uint16_t qp = r & 1, n = 0, done;

	count %= BURST + 1;
	if (r & 4) {
		notify[qp] = !notify[qp];
		vhu_vring_notify(dev, 2 * qp + !(r & 2), notify[qp]);
	}
	if (r & 2) {
		for (n = 0; n < count; n++) {
			pkts[n] = rte_pktmbuf_alloc(pool);
			if (pkts[n] == NULL)
				break;
			/* 60..1959 bytes: one segment of the default room */
			if (rte_pktmbuf_append(pkts[n],
					       60u + (97u * n) % 1900) == NULL)
				abort();
		}
		done = vhu_enqueue_burst(dev, qp, pkts, n);
	} else {
		n = vhu_dequeue_burst(dev, qp, pool, pkts, count);
		done = n;
	}
	if (verbose)
		fprintf(stderr, "fuzz_msg: %s qp %u: %u of %u\n",
			(r & 2) ? "enqueue" : "dequeue", qp, done, count);
	rte_pktmbuf_free_bulk(pkts, n);
}

static int
count_our_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	if (f == NULL)
		die("/proc/self/maps");
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, MEMFD_NAME) != NULL;
	fclose(f);
	return n;
}

/*
 * Stream mode: send header and payload through the socket, cut in two at
 * cut & 0x7f (0: whole), with the fds as SCM_RIGHTS on the first piece
 * (on both when cut & 0x80: more fds than a message may carry), and let
 * the library's reader (dev.c) assemble the message in vhu_dispatch().
 * Our copies of the fds are closed: the library gets its own. Returns -1
 * once the library closed the connection.
 */
static int
stream_msg(struct vhu_dev *dev, int peer, const uint8_t *msg, size_t len,
	   size_t cut, const int *fds, int nfds)
{
	char control[CMSG_SPACE(VHU_MSG_MAX_FDS * sizeof(int))];
	const bool fds_twice = cut & 0x80;
	size_t off = 0;

	cut &= 0x7f;
	if (cut == 0 || cut >= len)
		cut = len;
	while (off < len) {
		size_t chunk = off == 0 ? cut : len - off;
		struct iovec iov = { .iov_base = (void *)(uintptr_t)(msg + off),
				     .iov_len = chunk };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if ((off == 0 || fds_twice) &&
		    fdpass_attach(&mh, control, sizeof(control), fds,
				  nfds) < 0)
			abort();
		n = sendmsg(peer, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n <= 0)
			return -1; /* closed (or full: a stalled reader) */
		off += (size_t)n;
		if (vhu_dispatch(0) < 0)
			die("vhu_dispatch");
		drain(peer, NO_CHECK, false, true);
		if (!dev->in_use || dev->fd != sv0_of_run)
			return -1;
	}
	return 0;
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		die("/proc/self/fd");
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t msg[sizeof(struct vhu_msg_hdr) + 512];
	struct in in = { data, size };
	struct vhu_dev *dev;
	bool notify[2] = { false, false };
	static unsigned int runs;
	int sv[2], base_fds;
	uint8_t setup;
	bool stream;

	base_fds = count_fds();
	for (int i = 0; i < N_MEMFDS; i++)
		memfds[i] = -1;
	npassed = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		die("socketpair");
	setup = in_u8(&in);
	refuse = setup & 1;
	stream = setup & 8;
	sv0_of_run = sv[0];
	dev = stream ? vhu_dev_create(sock, sv[0]) : vhu_dev_alloc(sock, sv[0]);
	if (dev == NULL)
		die("vhu_dev_alloc");
	if ((setup & 2) && !stream)
		handshake(dev, sv[1], setup & 4);

	for (int rec = 0; rec < MAX_RECORDS && in.left > 0; rec++) {
		uint8_t r = in_u8(&in);

		if (r >= 0xf0) {
			int fd = get_memfd(r & 3);
			uint64_t off = in_u8(&in) | (uint32_t)in_u8(&in) << 8 |
				       (uint32_t)in_u8(&in) << 16;
			uint8_t len = in_u8(&in);
			uint8_t buf[256];
			size_t got = in_take(&in, buf, len);

			if (off + got <= memfd_size[r & 3] &&
			    pwrite(fd, buf, got, (off_t)off) < 0)
				die("pwrite");
		} else if (r >= 0xe0) {
			burst(dev, r, in_u8(&in), notify);
		} else {
			int fds[VHU_MSG_MAX_FDS];
			struct vhu_msg_hdr h = { .request = r % 48 };
			uint32_t psize;
			int nfds, ret;

			h.flags = in_u8(&in);
			psize = in_u8(&in) | (uint32_t)in_u8(&in) << 8;
			nfds = in_u8(&in) % (VHU_MSG_MAX_FDS + 1);
			for (int i = 0; i < nfds; i++)
				fds[i] = make_fd(in_u8(&in));
			/*
			 * Direct: a size the reader would accept. Stream: any
			 * up to 512, so the reader's own size check runs.
			 */
			psize %= stream ? 513 : VHU_MSG_MAX_PAYLOAD + 1;
			h.size = psize;
			memset(msg, 0, sizeof(msg));
			memcpy(msg, &h, sizeof(h));
			in_take(&in, msg + sizeof(h), psize);
			if (!stream) {
				ret = send_msg(dev, sv[1], h.request, h.flags,
					       msg + sizeof(h), psize, fds,
					       nfds);
			} else {
				ret = stream_msg(dev, sv[1], msg,
						 sizeof(h) + psize, in_u8(&in),
						 fds, nfds);
				/* the kernel holds its own references */
				for (int i = 0; i < nfds; i++)
					close(fds[i]);
			}
			if (ret < 0)
				break; /* the library closed the connection */
		}
	}

	if (dev->in_use && dev->fd == sv[0])
		vhu_dev_close(dev);
	close(sv[1]);
	/* the SIGBUS guard forgot every mapping it was given */
	if (vhu_guard_count() != 0) {
		fprintf(stderr, "fuzz_msg: %u guest mappings still guarded\n",
			vhu_guard_count());
		abort();
	}
	for (int i = 0; i < N_MEMFDS; i++) {
		if (memfds[i] < 0)
			continue;
		/* EBUSY: the library still maps this memfd writable */
		if (fcntl(memfds[i], F_ADD_SEALS, F_SEAL_WRITE) != 0) {
			fprintf(stderr, "fuzz_msg: memfd %d still mapped (%s)\n",
				i, strerror(errno));
			abort();
		}
		close(memfds[i]);
	}
	/* every fd we handed over was closed by the library */
	for (int i = 0; i < npassed && !stream; i++) {
		if (fcntl(passed[i], F_GETFD) != -1 || errno != EBADF) {
			fprintf(stderr, "fuzz_msg: fd %d leaked\n", passed[i]);
			abort();
		}
	}
	if (count_fds() != base_fds) {
		fprintf(stderr, "fuzz_msg: %d fds open, %d before the input\n",
			count_fds(), base_fds);
		abort();
	}
	if (runs++ % 256 == 0 && count_our_maps() != 0) {
		fprintf(stderr, "fuzz_msg: guest memory still mapped\n");
		abort();
	}
	if (rte_mempool_avail_count(pool) != POOL_N) {
		fprintf(stderr, "fuzz_msg: mbuf leak\n");
		abort();
	}
	return 0;
}
