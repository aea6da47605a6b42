/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unix socket plumbing for the vhost-user channel (see unix_io.h). Every fd
 * made here is close-on-exec; received fds too (MSG_CMSG_CLOEXEC), so an
 * application that forks never leaks guest memory into children.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "unix_io.h"

#define SOCK_MAX_FDS 8

/*
 * A non-blocking, close-on-exec stream socket and path's address in *sa:
 * the fd, or -errno (-ENAMETOOLONG for a path sun_path cannot hold).
 */
static int
socket_for(const char *path, struct sockaddr_un *sa)
{
	int fd;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

static int
listen_at(const char *path, bool set_mode, mode_t mode, uid_t uid, gid_t gid)
{
	struct sockaddr_un sa;
	int fd, ret;

	fd = socket_for(path, &sa);
	if (fd < 0)
		return fd;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	/* until listen() a connect is refused, so this order has no window */
	if ((set_mode && chmod(path, mode) < 0) ||
	    ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(path, uid, gid) < 0) ||
	    listen(fd, 16) < 0) {
		ret = -errno;
		close(fd);
		unlink(path);
		return ret;
	}
	return fd;
}

int
vhu_unix_listen_mode(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	return listen_at(path, true, mode, uid, gid);
}

int
vhu_unix_listen(const char *path)
{
	return listen_at(path, false, 0, (uid_t)-1, (gid_t)-1);
}

int
vhu_unix_peer_uid(int fd, uid_t *uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	*uid = cred.uid;
	return 0;
}

int
vhu_unix_accept(int listen_fd)
{
	int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int
vhu_unix_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd, ret;

	fd = socket_for(path, &sa);
	if (fd < 0)
		return fd;
	/* a unix connect never completes later: it succeeds or fails now */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

ssize_t
vhu_unix_recv(int fd, void *buf, size_t len, int *fds, int *nfds, int *dropped)
{
	char control[CMSG_SPACE(SOCK_MAX_FDS * sizeof(int))];
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control, .msg_controllen = sizeof(control),
	};
	struct cmsghdr *c;
	int room = *nfds;
	ssize_t n;

	*nfds = 0;
	do {
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		int cnt, *p;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		p = (int *)(void *)CMSG_DATA(c);
		for (int i = 0; i < cnt; i++) {
			int rfd;

			memcpy(&rfd, &p[i], sizeof(rfd));
			if (*nfds < room) {
				fds[(*nfds)++] = rfd;
			} else {
				close(rfd);
				(*dropped)++;
			}
		}
	}
	/* the kernel dropped fds that did not fit our control buffer */
	if (mh.msg_flags & MSG_CTRUNC)
		(*dropped)++;
	return n;
}

int
vhu_unix_send(int fd, const void *buf, size_t len, const int *fds, int nfds)
{
	char control[CMSG_SPACE(SOCK_MAX_FDS * sizeof(int))];
	struct iovec iov = { .iov_base = (void *)(uintptr_t)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds > SOCK_MAX_FDS)
		return -EINVAL;
	if (nfds > 0) {
		struct cmsghdr *c;

		memset(control, 0, sizeof(control));
		mh.msg_control = control;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	do {
		n = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* replies are a few dozen bytes: a short write means a stuck peer */
	return (size_t)n == len ? 0 : -EAGAIN;
}
