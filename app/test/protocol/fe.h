/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test-only vhost-user frontend helpers: build and send requests (with
 * fds) over a unix socket, read replies, hand messages straight to a
 * device's entry point, make guest memory in a memfd, count open fds and
 * mappings. Used by the protocol suites and the hostile suite.
 */
#ifndef VHU_TEST_FE_H
#define VHU_TEST_FE_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "msg.h"

/* Send header + payload with fds. 0 or -errno. */
int fe_send(int sock, uint32_t req, uint32_t flags, const void *payload,
	    uint32_t size, const int *fds, int nfds);
/* Send raw bytes with fds (to cut messages short). 0 or -errno. */
int fe_send_raw(int sock, const void *buf, size_t len, const int *fds,
		int nfds);
/* Read one reply; returns payload size or -errno (-ETIMEDOUT after ms). */
int fe_recv(int sock, struct vhu_msg_hdr *hdr, void *payload, size_t room,
	    int timeout_ms);
/* Send a request with NEED_REPLY and return the u64 REPLY_ACK status. */
int64_t fe_call_ack(int sock, uint32_t req, const void *payload,
		    uint32_t size, const int *fds, int nfds);
/* memfd of size bytes (truncated); -1 on error. */
int fe_memfd(size_t size);
int fe_eventfd(void);
#define FE_MEMFD_NAME "vhu-test-guest"

/* Open fds, and live mappings of memfds made by fe_memfd(). */
int fe_count_fds(void);
int fe_count_maps(void);
/* The same for memfds named memfd_name (virtq_driver's: VTD_MEMFD_NAME). */
int fe_count_maps_of(const char *memfd_name);
/* CLOCK_MONOTONIC in milliseconds, for deadlines. */
uint64_t fe_now_ms(void);
/*
 * An in-process connection: the library's device on one end of a
 * socketpair, the test holding the other end (peer). Messages go straight
 * to the entry point, as the socket layer would hand them over; replies
 * come back on peer.
 */
struct vhu_dev;
struct vhu_socket;
struct fe_conn {
	struct vhu_dev *dev;
	int peer;
};
/* 0, or -errno when no socketpair or device could be made. */
int fe_conn_open(struct fe_conn *c, struct vhu_socket *sock);
void fe_conn_close(struct fe_conn *c);
/*
 * One message straight to dev's entry point, the payload in a zeroed
 * union as the socket layer hands it over: the entry point's result.
 */
int fe_handle(struct vhu_dev *dev, uint32_t req, uint32_t flags,
	      const void *payload, uint32_t size, int *fds, int nfds);

/* Start the EAL once for a test process (in-memory, no hugepages). */
void fe_eal_init(const char *prog);

/*
 * The following assert with cmocka: call them from a test, a fixture or
 * (fe_suite_init) main.
 *
 * A protocol suite's main(): the EAL, vhu_init(0), the cmocka group,
 * vhu_fini(); the group's result.
 */
void fe_suite_init(const char *prog);
int fe_suite_fini(int ret);
#define FE_RUN_GROUP(prog, name, tests, setup, teardown) \
	(fe_suite_init(prog), \
	 fe_suite_fini(cmocka_run_group_tests_name(name, tests, setup, \
						   teardown)))
/* A registered (not started) socket at path with VHU_SOCKET_* flags. */
struct vhu_socket *fe_socket(const char *path, uint32_t flags);
/*
 * fe_conn_open() on sock, then GET/SET_FEATURES and
 * GET/SET_PROTOCOL_FEATURES taking all the backend offers: each GET
 * answered at once with 8 bytes, each SET with no reply; PROTOCOL_FEATURES
 * and VERSION_1 offered. The protocol features, for the caller to check.
 */
uint64_t fe_conn_negotiate(struct fe_conn *c, struct vhu_socket *sock);

#endif /* VHU_TEST_FE_H */
