/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SCM_RIGHTS for the test programs: attach fds to a sendmsg() header.
 * Plain POSIX, no DPDK and no library: shared by the test frontend
 * (protocol/fe.c), the message fuzzer and the standalone soak peer.
 */
#ifndef VHU_TEST_FDPASS_H
#define VHU_TEST_FDPASS_H

#include <stddef.h>
#include <sys/socket.h>

/*
 * Attach nfds fds to mh as one SCM_RIGHTS message, built in control
 * (room bytes, zeroed first). Nothing is attached when nfds <= 0.
 * 0, or -EINVAL when control is too small for nfds fds.
 */
int fdpass_attach(struct msghdr *mh, void *control, size_t room,
		  const int *fds, int nfds);

#endif /* VHU_TEST_FDPASS_H */
