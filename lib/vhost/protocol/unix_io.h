/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unix stream sockets with file-descriptor passing (SCM_RIGHTS). No
 * vhost-user knowledge lives here: listen, accept, connect, and moving
 * bytes plus fds, all non-blocking.
 */
#ifndef VHU_UNIX_IO_H
#define VHU_UNIX_IO_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Bind path, give it mode and owner (uid/gid -1: leave), then listen: the
 * path never accepts connections under looser permissions. Non-blocking,
 * close-on-exec. fd or -errno.
 */
int vhu_unix_listen_mode(const char *path, mode_t mode, uid_t uid, gid_t gid);
/* vhu_unix_listen_mode with the umask's mode and our own owner. */
int vhu_unix_listen(const char *path);
/* The uid of the peer process, or -errno. */
int vhu_unix_peer_uid(int fd, uid_t *uid);
/* Accept one connection (non-blocking, close-on-exec). fd or -errno. */
int vhu_unix_accept(int listen_fd);
/* Connect to path; returns a non-blocking fd or -errno. */
int vhu_unix_connect(const char *path);

/*
 * Receive up to len bytes and any fds riding with them. fds beyond room
 * (*nfds on input is the room left) are closed and counted in *dropped.
 * Returns bytes read (0: peer closed) or -errno (-EAGAIN: nothing yet).
 */
ssize_t vhu_unix_recv(int fd, void *buf, size_t len, int *fds, int *nfds,
		      int *dropped);
/* Send all of buf with nfds fds; -EAGAIN if the peer's buffer is full. */
int vhu_unix_send(int fd, const void *buf, size_t len, const int *fds,
		  int nfds);

#endif /* VHU_UNIX_IO_H */
