/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvhu's telemetry endpoints (protocol/telemetry.c), read the way an
 * operator reads them: through EAL's telemetry socket of this very
 * process, as JSON. A device is made in-process (fe_conn) and set up with
 * messages; the answers are checked as text. The endpoints must answer
 * null for unknown ids and once vhu_fini() ran, and come back with the
 * next vhu_init().
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_common.h>
#include <rte_eal.h>

#include "vhu.h"
#include "fe.h"
#include "msg.h"

static char reply[16384];

/* One request on the telemetry socket; the JSON answer in reply. */
static const char *
ask(const char *req)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	ssize_t n;

	assert_true(fd >= 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/dpdk_telemetry.v2",
		 rte_eal_get_runtime_dir());
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	n = read(fd, reply, sizeof(reply) - 1); /* the greeting */
	assert_true(n > 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	n = read(fd, reply, sizeof(reply) - 1);
	assert_true(n > 0);
	reply[n] = '\0';
	close(fd);
	return reply;
}

static void
assert_has(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("no '%s' in %s", needle, hay);
}

static void
set_num(struct fe_conn *c, uint32_t vring, uint32_t num)
{
	struct vhu_msg_vring_state st = { .index = vring, .num = num };

	assert_int_equal(fe_handle(c->dev, VHU_REQ_SET_VRING_NUM,
				   VHU_MSG_VERSION, &st, sizeof(st), NULL, 0),
			 0);
}

static void
test_endpoints(void **state)
{
	static const char *const counters[] = {
		"\"packets\":0", "\"bytes\":0", "\"drops_no_buf\":0",
		"\"desc_errors\":0", "\"kicks\":0", "\"calls\":0",
		"\"broken\":0", "\"drops_mtu\":0", "\"drops_bad_hdr\":0",
		"\"sw_cksums\":0", "\"sw_segmented\":0",
		"\"enqueue_full\":0", "\"iotlb_misses\":0",
		"\"last_kick_latency_ns\":0",
	};
	struct vhu_socket *s;
	struct fe_conn c;
	char want[256];
	const char *r;
	int id;

	(void)state;
	r = ask("/");
	assert_has(r, "\"/vhu/sockets\"");
	assert_has(r, "\"/vhu/devices\"");
	assert_has(r, "\"/vhu/device\"");
	assert_has(r, "\"/vhu/vring\"");
	assert_has(ask("/vhu/devices"), "{\"/vhu/devices\":[]}");

	s = fe_socket("/tmp/vhu-test-telemetry.sock", 0);
	fe_conn_negotiate(&c, s);
	set_num(&c, 0, 256);
	set_num(&c, 1, 128);
	id = vhu_dev_id(c.dev);

	snprintf(want, sizeof(want), "{\"/vhu/devices\":[%d]}", id);
	assert_has(ask("/vhu/devices"), want);

	r = ask("/vhu/sockets");
	assert_has(r, "\"path\":\"/tmp/vhu-test-telemetry.sock\"");
	assert_has(r, "\"mode\":\"server\"");
	assert_has(r, "\"started\":0");
	assert_has(r, "\"diag\":[]");
	snprintf(want, sizeof(want), "\"devices\":[%d]", id);
	assert_has(r, want);

	snprintf(want, sizeof(want), "/vhu/device,%d", id);
	r = ask(want);
	assert_has(r, "\"socket\":\"/tmp/vhu-test-telemetry.sock\"");
	snprintf(want, sizeof(want), "\"features\":\"0x%" PRIx64 "\"",
		 vhu_dev_features(c.dev));
	assert_has(r, want);
	assert_has(r, "\"running\":0");
	assert_has(r, "\"nr_vrings\":2");
	/* no memory table yet: node unknown, nothing diagnosed */
	assert_has(r, "\"numa_node\":-1");
	assert_has(r, "\"diag\":[]");
	assert_has(r, "\"remote_polls\":0");
	assert_false(strstr(r, "\"rx_filter\"") != NULL); /* no CTRL_VQ */
	assert_has(r, "\"vring0\":{");
	assert_has(r, "\"vring1\":{");
	assert_has(r, "\"size\":256");
	assert_has(r, "\"size\":128");
	/* PROTOCOL_FEATURES negotiated: rings start disabled */
	assert_has(r, "\"enabled\":0");
	/* fe_conn_negotiate() takes every feature: RING_PACKED too */
	assert_has(r, "\"layout\":\"packed\"");
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		assert_has(r, counters[i]);

	/* one vring */
	snprintf(want, sizeof(want), "/vhu/vring,%d,1", id);
	r = ask(want);
	assert_has(r, "\"vring\":1");
	assert_has(r, "\"size\":128");
	assert_has(r, "\"last_kick_latency_ns\":0");
	snprintf(want, sizeof(want), "/vhu/vring,%d,2", id);
	assert_has(ask(want), "{\"/vhu/vring\":null}");
	snprintf(want, sizeof(want), "/vhu/vring,%d", id);
	assert_has(ask(want), "{\"/vhu/vring\":null}");
	snprintf(want, sizeof(want), "/vhu/vring,%d,1x", id);
	assert_has(ask(want), "{\"/vhu/vring\":null}");

	/* unknown ids, garbage, no id: null */
	assert_has(ask("/vhu/device,63"), "{\"/vhu/device\":null}");
	assert_has(ask("/vhu/device,-1"), "{\"/vhu/device\":null}");
	assert_has(ask("/vhu/device,1x"), "{\"/vhu/device\":null}");
	assert_has(ask("/vhu/device"), "{\"/vhu/device\":null}");

	fe_conn_close(&c);
	assert_has(ask("/vhu/devices"), "{\"/vhu/devices\":[]}");
	r = ask("/vhu/sockets");
	assert_has(r, "\"devices\":[]");
	assert_int_equal(vhu_socket_unregister(s), 0);
	assert_has(ask("/vhu/sockets"), "{\"/vhu/sockets\":{}}");

	/* the library gone, the endpoints answer null; back with init */
	vhu_fini();
	assert_has(ask("/vhu/devices"), "{\"/vhu/devices\":null}");
	assert_int_equal(vhu_init(0), 0);
	assert_has(ask("/vhu/devices"), "{\"/vhu/devices\":[]}");
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoints),
	};
	char prefix[64];
	char *eal[] = {
		argv[0], "--no-huge", "-m", "128", "--no-pci", "--no-shconf",
		prefix,
		"--log-level=lib.vhu.*:warning", "--log-level=lib.eal:error",
		NULL,
	};
	char dir[PATH_MAX], sock[PATH_MAX + 32];
	int ret;

	(void)argc;
	/* fe_eal_init() turns telemetry off: this suite needs it */
	snprintf(prefix, sizeof(prefix), "--file-prefix=vhutel%d", getpid());
	if (rte_eal_init(RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "rte_eal_init failed\n");
		return 1;
	}
	if (vhu_init(0) != 0)
		return 1;
	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	ret = cmocka_run_group_tests_name("telemetry", tests, NULL, NULL);
	vhu_fini();
	rte_eal_cleanup();
	/* the runtime directory holds only the telemetry socket */
	snprintf(sock, sizeof(sock), "%s/dpdk_telemetry.v2", dir);
	(void)unlink(sock);
	(void)rmdir(dir);
	return ret;
}
