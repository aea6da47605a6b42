/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Device lifecycle over real unix sockets, driven through vhu_dispatch()
 * (the application-loop mode): the handshake a frontend makes, when
 * new_device / vring_state_changed / destroy_device fire and with which
 * ctx, disconnects and reconnects in server and client mode, a peer that
 * stalls mid-message while another connects, stale and busy socket paths,
 * and that fds and mappings return to their baseline.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "fe.h"
#include "msg.h"
#include "unix_io.h"
#include "vhu.h"
#include "vhu_burst.h"

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#define GUEST_SIZE (2u << 20)
#define GUEST_QVA 0x7e0000000000ULL

static char dir[64];
static struct rte_mempool *pool;
static int ctx_token;

static struct {
	int new_device, destroy_device, features_changed;
	int vring_on[8], vring_off[8];
	struct vhu_dev *dev;
	void *ctx;
} ev;

static int
on_new(struct vhu_dev *dev, void *ctx)
{
	ev.new_device++;
	ev.dev = dev;
	ev.ctx = ctx;
	return 0;
}

static void
on_destroy(struct vhu_dev *dev, void *ctx)
{
	(void)ctx;
	assert_ptr_equal(dev, ev.dev);
	ev.destroy_device++;
}

static void
on_vring(struct vhu_dev *dev, uint16_t vring, bool enabled, void *ctx)
{
	(void)dev;
	(void)ctx;
	if (vring < 8) {
		if (enabled)
			ev.vring_on[vring]++;
		else
			ev.vring_off[vring]++;
	}
}

static void
on_features(struct vhu_dev *dev, uint64_t features, void *ctx)
{
	(void)dev;
	(void)features;
	(void)ctx;
	ev.features_changed++;
}

static const struct vhu_ops ops = {
	.new_device = on_new,
	.destroy_device = on_destroy,
	.vring_state_changed = on_vring,
	.features_changed = on_features,
};

/* Run the control loop until *flag reaches want or ms pass. */
static bool
pump_until(const int *flag, int want, int ms)
{
	uint64_t end = fe_now_ms() + ms;

	while (fe_now_ms() < end) {
		if (flag != NULL && *flag >= want)
			return true;
		vhu_dispatch(10);
	}
	return flag != NULL && *flag >= want;
}

static void
pump(int ms)
{
	pump_until(NULL, 0, ms);
}

static int
connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static uint64_t
fe_get(int fd, uint32_t req)
{
	struct vhu_msg_hdr h;
	uint64_t v = 0;

	assert_int_equal(fe_send(fd, req, VHU_MSG_VERSION, NULL, 0, NULL, 0), 0);
	pump(20);
	assert_int_equal(fe_recv(fd, &h, &v, sizeof(v), 1000), 8);
	assert_int_equal(h.request, req);
	return v;
}

static void
fe_set(int fd, uint32_t req, const void *p, uint32_t size, const int *fds,
       int nfds)
{
	int64_t ack = -1;

	/* REPLY_ACK is negotiated by fe_handshake: every set is confirmed */
	assert_int_equal(fe_send(fd, req, VHU_MSG_VERSION | VHU_MSG_F_NEED_REPLY,
				 p, size, fds, nfds), 0);
	pump(5);
	{
		struct vhu_msg_hdr h;

		assert_int_equal(fe_recv(fd, &h, &ack, sizeof(ack), 1000), 8);
		assert_int_equal(h.request, req);
	}
	if (ack != 0)
		fail_msg("%s refused", vhu_msg_name(req));
}

static void
fe_set_u64(int fd, uint32_t req, uint64_t v)
{
	fe_set(fd, req, &v, 8, NULL, 0);
}

/* A frontend's start-up sequence, everything but DRIVER_OK. */
static void
fe_handshake(int fd, int memfd, int nvrings)
{
	uint64_t f, pf;
	struct vhu_msg_mem_table m = { .nregions = 1 };

	f = fe_get(fd, VHU_REQ_GET_FEATURES);
	assert_true(f & (1ULL << VHU_F_PROTOCOL_FEATURES));
	pf = fe_get(fd, VHU_REQ_GET_PROTOCOL_FEATURES);
	assert_true(pf & (1ULL << VHU_PROTOCOL_F_STATUS));
	assert_int_equal(fe_send(fd, VHU_REQ_SET_PROTOCOL_FEATURES,
				 VHU_MSG_VERSION, &pf, 8, NULL, 0), 0);
	pump(5);
	fe_set(fd, VHU_REQ_SET_OWNER, NULL, 0, NULL, 0);
	fe_set_u64(fd, VHU_REQ_SET_FEATURES,
		   f & ((1ULL << VIRTIO_F_VERSION_1) |
			(1ULL << VHU_F_PROTOCOL_FEATURES) |
			(1ULL << VIRTIO_RING_F_EVENT_IDX)));
	assert_true(fe_get(fd, VHU_REQ_GET_QUEUE_NUM) >= 1);
	m.r[0] = (struct vhu_msg_region){ 0, GUEST_SIZE, GUEST_QVA, 0 };
	fe_set(fd, VHU_REQ_SET_MEM_TABLE, &m, 8 + 32, &memfd, 1);
	for (int i = 0; i < nvrings; i++) {
		uint64_t base = GUEST_QVA + (uint64_t)i * 0x10000;
		struct vhu_msg_vring_state num = { i, 256 }, b = { i, 0 };
		struct vhu_msg_vring_addr a = { i, 0, base, base + 0x2000,
						base + 0x1000, 0 };
		int kick = fe_eventfd(), call = fe_eventfd();

		fe_set(fd, VHU_REQ_SET_VRING_NUM, &num, 8, NULL, 0);
		fe_set(fd, VHU_REQ_SET_VRING_BASE, &b, 8, NULL, 0);
		fe_set(fd, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
		fe_set(fd, VHU_REQ_SET_VRING_KICK, &(uint64_t){ i }, 8, &kick, 1);
		fe_set(fd, VHU_REQ_SET_VRING_CALL, &(uint64_t){ i }, 8, &call, 1);
		close(kick);
		close(call);
	}
	for (int i = 0; i < nvrings; i++) {
		struct vhu_msg_vring_state en = { i, 1 };

		fe_set(fd, VHU_REQ_SET_VRING_ENABLE, &en, 8, NULL, 0);
	}
}

static void
driver_ok(int fd)
{
	fe_set_u64(fd, VHU_REQ_SET_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE |
		   VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
		   VIRTIO_CONFIG_S_DRIVER_OK);
}

static struct vhu_socket *
server(const char *name)
{
	struct vhu_socket_params p = { .ops = &ops, .ctx = &ctx_token };
	static char path[128];
	struct vhu_socket *s;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	p.path = path;
	assert_int_equal(vhu_socket_register(&p, &s), 0);
	assert_non_null(s);
	assert_int_equal(vhu_socket_start(s), 0);
	return s;
}

static void
test_server_lifecycle(void **state)
{
	int base_fds = fe_count_fds(), base_maps = fe_count_maps();
	struct vhu_socket *s = server("life.sock");
	int memfd = fe_memfd(GUEST_SIZE);
	int fd;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	fd = connect_to(vhu_socket_path(s));
	fe_handshake(fd, memfd, 2);
	pump(20);
	assert_int_equal(ev.new_device, 0); /* STATUS negotiated: wait */
	driver_ok(fd);
	assert_true(pump_until(&ev.new_device, 1, 1000));
	assert_ptr_equal(ev.ctx, &ctx_token);
	assert_ptr_equal(vhu_dev_ctx(ev.dev), &ctx_token);
	assert_ptr_equal(vhu_dev_socket(ev.dev), s);
	assert_int_equal(vhu_dev_vring_count(ev.dev), 2);
	assert_true(vhu_dev_vring_enabled(ev.dev, 0));
	assert_true(vhu_dev_vring_enabled(ev.dev, 1));
	assert_int_equal(ev.vring_on[0], 1);
	assert_int_equal(ev.vring_on[1], 1);

	/* an empty ring: bursts find nothing, and do not crash */
	{
		struct rte_mbuf *pkts[4];

		assert_int_equal(vhu_dequeue_burst(ev.dev, 0, pool, pkts, 4), 0);
		assert_int_equal(vhu_enqueue_burst(ev.dev, 0, pkts, 0), 0);
	}

	/* the frontend takes a ring back: the device stops, once */
	{
		struct vhu_msg_vring_state st = { 1, 0 };
		struct vhu_msg_hdr h;

		assert_int_equal(fe_send(fd, VHU_REQ_GET_VRING_BASE,
					 VHU_MSG_VERSION, &st, 8, NULL, 0), 0);
		pump(20);
		assert_int_equal(fe_recv(fd, &h, &st, sizeof(st), 1000), 8);
		assert_int_equal(st.index, 1);
		assert_int_equal(ev.destroy_device, 1);
	}
	/* a stopped device refuses bursts on the handle it had */
	{
		struct rte_mbuf *pkts[1];

		assert_int_equal(vhu_dequeue_burst(ev.dev, 0, pool, pkts, 1), 0);
	}
	close(fd);
	pump(50);
	assert_int_equal(ev.destroy_device, 1);

	/* reconnect: a new device, started again; then an abrupt close */
	{
		struct vhu_dev *old = ev.dev;

		fd = connect_to(vhu_socket_path(s));
		fe_handshake(fd, memfd, 2);
		driver_ok(fd);
		assert_true(pump_until(&ev.new_device, 2, 1000));
		/* a just-released slot is not handed out again at once */
		assert_ptr_not_equal(ev.dev, old);
	}
	close(fd);
	assert_true(pump_until(&ev.destroy_device, 2, 1000));

	close(memfd);
	assert_int_equal(vhu_socket_unregister(s), 0);
	assert_int_equal(fe_count_fds(), base_fds);
	assert_int_equal(fe_count_maps(), base_maps);
}

/*
 * SEND_RARP (the destination's frontend after a live migration): the next
 * dequeue of queue pair 0 starts with a RARP frame from the guest's MAC,
 * once, ahead of anything the guest sent; the application can also take
 * the MAC once through vhu_dev_take_rarp().
 */
static void
test_announce(void **state)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };
	int base_fds = fe_count_fds(), base_maps = fe_count_maps();
	struct vhu_socket *s = server("rarp.sock");
	int memfd = fe_memfd(GUEST_SIZE);
	struct rte_mbuf *pkts[4];
	const struct rte_ether_hdr *eh;
	const struct rte_arp_hdr *arp;
	uint8_t got[6];
	uint64_t payload = 0;
	int fd;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	fd = connect_to(vhu_socket_path(s));
	fe_handshake(fd, memfd, 2);
	driver_ok(fd);
	assert_true(pump_until(&ev.new_device, 1, 1000));
	assert_false(vhu_dev_take_rarp(ev.dev, got));
	assert_int_equal(vhu_dequeue_burst(ev.dev, 0, pool, pkts, 4), 0);

	memcpy(&payload, mac, 6);
	fe_set(fd, VHU_REQ_SEND_RARP, &payload, 8, NULL, 0);
	/* a zero-sized burst leaves it pending */
	assert_int_equal(vhu_dequeue_burst(ev.dev, 0, pool, pkts, 0), 0);
	assert_int_equal(vhu_dequeue_burst(ev.dev, 0, pool, pkts, 4), 1);
	eh = rte_pktmbuf_mtod(pkts[0], const struct rte_ether_hdr *);
	assert_true(rte_is_broadcast_ether_addr(&eh->dst_addr));
	assert_memory_equal(eh->src_addr.addr_bytes, mac, 6);
	assert_int_equal(rte_be_to_cpu_16(eh->ether_type), RTE_ETHER_TYPE_RARP);
	assert_true(pkts[0]->pkt_len >= RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN);
	arp = (const struct rte_arp_hdr *)(eh + 1);
	assert_int_equal(rte_be_to_cpu_16(arp->arp_opcode),
			 RTE_ARP_OP_REVREQUEST);
	assert_memory_equal(arp->arp_data.arp_sha.addr_bytes, mac, 6);
	assert_memory_equal(arp->arp_data.arp_tha.addr_bytes, mac, 6);
	rte_pktmbuf_free(pkts[0]);
	/* announced once */
	assert_int_equal(vhu_dequeue_burst(ev.dev, 0, pool, pkts, 4), 0);
	assert_true(vhu_dev_take_rarp(ev.dev, got));
	assert_memory_equal(got, mac, 6);
	assert_false(vhu_dev_take_rarp(ev.dev, got));

	close(fd);
	assert_true(pump_until(&ev.destroy_device, 1, 1000));
	close(memfd);
	assert_int_equal(vhu_socket_unregister(s), 0);
	assert_int_equal(rte_mempool_in_use_count(pool), 0);
	assert_int_equal(fe_count_fds(), base_fds);
	assert_int_equal(fe_count_maps(), base_maps);
}

/* One peer stuck mid-message does not hold up another's handshake. */
static void
test_stalled_peer(void **state)
{
	struct vhu_socket *s = server("stall.sock");
	int memfd = fe_memfd(GUEST_SIZE);
	struct vhu_msg_hdr h = { VHU_REQ_SET_FEATURES, VHU_MSG_VERSION, 8 };
	int stuck, fd;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	stuck = connect_to(vhu_socket_path(s));
	assert_int_equal(send(stuck, &h, 6, 0), 6); /* half a header */
	pump(20);
	fd = connect_to(vhu_socket_path(s));
	fe_handshake(fd, memfd, 2);
	driver_ok(fd);
	assert_true(pump_until(&ev.new_device, 1, 1000));
	/* the stuck peer finishes later and is served */
	assert_int_equal(send(stuck, (uint8_t *)&h + 6, 6, 0), 6);
	assert_int_equal(send(stuck, &(uint64_t){ 0 }, 8, 0), 8);
	pump(20);
	assert_int_equal(fe_get(stuck, VHU_REQ_GET_FEATURES) != 0, 1);
	close(stuck);
	close(fd);
	close(memfd);
	pump(20);
	vhu_socket_unregister(s);
}

/* A frontend that disappears mid-message leaks nothing. */
static void
test_disconnect_mid_message(void **state)
{
	int base_fds = fe_count_fds();
	struct vhu_socket *s = server("cut.sock");
	struct vhu_msg_hdr h = { VHU_REQ_SET_MEM_TABLE, VHU_MSG_VERSION, 40 };
	int memfd = fe_memfd(GUEST_SIZE);
	int fd;

	(void)state;
	fd = connect_to(vhu_socket_path(s));
	/* header plus fd, but the payload never comes */
	assert_int_equal(fe_send_raw(fd, &h, sizeof(h), &memfd, 1), 0);
	pump(20);
	close(fd);
	pump(50);
	close(memfd);
	vhu_socket_unregister(s);
	/* the fd that came with the header was closed with the connection */
	assert_int_equal(fe_count_fds(), base_fds);
}

/* Client mode: connect, and reconnect after the frontend goes away. */
static void
test_client_reconnect(void **state)
{
	struct vhu_socket_params p = {
		.flags = VHU_SOCKET_CLIENT, .ops = &ops, .ctx = &ctx_token,
	};
	char path[128];
	struct vhu_socket *s;
	int lfd, conn = -1;

	(void)state;
	snprintf(path, sizeof(path), "%s/client.sock", dir);
	p.path = path;
	assert_int_equal(vhu_socket_register(&p, &s), 0);
	assert_non_null(s);
	/* the frontend is not there yet: start still succeeds, retries */
	assert_int_equal(vhu_socket_start(s), 0);
	pump(150);
	lfd = vhu_unix_listen(path);
	assert_true(lfd >= 0);
	for (int round = 0; round < 3; round++) {
		uint64_t end = fe_now_ms() + 3000;

		conn = -1;
		while (conn < 0 && fe_now_ms() < end) {
			vhu_dispatch(20);
			conn = vhu_unix_accept(lfd);
		}
		if (conn < 0)
			fail_msg("round %d: vhu did not (re)connect", round);
		/* speak a little to prove it is a working channel */
		assert_true(fe_get(conn, VHU_REQ_GET_FEATURES) != 0);
		close(conn);
		pump(20);
	}
	close(lfd);
	unlink(path);
	vhu_socket_unregister(s);
}

/* A dead server's path is reclaimed; a live one is refused. */
static void
test_socket_paths(void **state)
{
	struct vhu_socket_params p = { .ops = &ops };
	struct vhu_socket_params bad;
	char path[128];
	struct vhu_socket *s, *dup;
	int lfd;

	(void)state;
	snprintf(path, sizeof(path), "%s/paths.sock", dir);
	p.path = path;
	/* invalid arguments: -EINVAL, nothing registered */
	assert_int_equal(vhu_socket_register(&p, NULL), -EINVAL);
	dup = (struct vhu_socket *)&bad;
	assert_int_equal(vhu_socket_register(NULL, &dup), -EINVAL);
	assert_null(dup);
	bad = p;
	bad.flags = 0x80000000u;
	assert_int_equal(vhu_socket_register(&bad, &dup), -EINVAL);
	bad = p;
	bad.path = "";
	assert_int_equal(vhu_socket_register(&bad, &dup), -EINVAL);
	lfd = vhu_unix_listen(path);
	assert_int_equal(vhu_socket_register(&p, &s), 0);
	assert_int_equal(vhu_socket_start(s), -EADDRINUSE);
	close(lfd); /* the path stays behind, dead */
	assert_int_equal(vhu_socket_start(s), 0);
	/* duplicate registrations are refused, the handle cleared */
	dup = s;
	assert_int_equal(vhu_socket_register(&p, &dup), -EEXIST);
	assert_null(dup);
	vhu_socket_unregister(s);
	assert_int_equal(access(path, F_OK), -1);
}

/* Socket file mode (owner-only by default) and the peer uid allow-list. */
static void
test_access_control(void **state)
{
	struct vhu_socket_params p = { .ops = &ops };
	char path[128];
	struct vhu_socket *s;
	struct stat st;
	uint8_t byte;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/acl.sock", dir);
	p.path = path;
	assert_int_equal(vhu_socket_register(&p, &s), 0);
	assert_int_equal(vhu_socket_start(s), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* settings are for before start */
	assert_int_equal(vhu_socket_allow_uid(s, getuid()), -EBUSY);
	vhu_socket_unregister(s);

	assert_int_equal(vhu_socket_register(&p, &s), 0);
	assert_int_equal(vhu_socket_set_permissions(s, 0660, (uid_t)-1,
						    (gid_t)-1), 0);
	assert_int_equal(vhu_socket_set_permissions(s, 01777, (uid_t)-1,
						    (gid_t)-1), -EINVAL);
	assert_int_equal(vhu_socket_allow_uid(s, getuid() + 4242), 0);
	assert_int_equal(vhu_socket_start(s), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	/* a peer of another uid is closed on at once */
	fd = connect_to(path);
	pump(30);
	assert_int_equal(recv(fd, &byte, 1, MSG_DONTWAIT), 0);
	close(fd);
	vhu_socket_unregister(s);

	assert_int_equal(vhu_socket_register(&p, &s), 0);
	assert_int_equal(vhu_socket_allow_uid(s, getuid() + 4242), 0);
	assert_int_equal(vhu_socket_allow_uid(s, getuid()), 0);
	assert_int_equal(vhu_socket_start(s), 0);
	fd = connect_to(path);
	assert_true(fe_get(fd, VHU_REQ_GET_FEATURES) != 0);
	close(fd);
	pump(20);
	vhu_socket_unregister(s);
}

static void
test_feature_masks(void **state)
{
	struct vhu_socket_params p = { .path = "/nonexistent/features" };
	struct vhu_socket *s;
	uint64_t f;

	(void)state;
	assert_int_equal(vhu_socket_register(&p, &s), 0);
	f = vhu_socket_get_features(s);
	assert_false(f & (1ULL << 17));        /* CTRL_VQ off by default */
	assert_true(f & (1ULL << 15));         /* MRG_RXBUF */
	assert_int_equal(vhu_socket_enable_features(s, 1ULL << 17), 0);
	assert_true(vhu_socket_get_features(s) & (1ULL << 17));
	assert_int_equal(vhu_socket_disable_features(s, 1ULL << 15), 0);
	assert_false(vhu_socket_get_features(s) & (1ULL << 15));
	assert_true(f & (1ULL << 34));         /* RING_PACKED */
	/* IN_ORDER: offered by default, maskable like the others */
	assert_true(f & (1ULL << 35));
	assert_int_equal(vhu_socket_disable_features(s, 1ULL << 35), 0);
	assert_false(vhu_socket_get_features(s) & (1ULL << 35));
	assert_int_equal(vhu_socket_enable_features(s, 1ULL << 35), 0);
	assert_true(vhu_socket_get_features(s) & (1ULL << 35));
	/* a feature vhu does not implement (NOTIFICATION_DATA) cannot be */
	assert_int_equal(vhu_socket_enable_features(s, 1ULL << 38), -ENOTSUP);
	/* nor a protocol feature it does not (CRYPTO_SESSION) */
	assert_int_equal(vhu_socket_set_protocol_features(s, 1ULL << 7),
			 -ENOTSUP);
	/* IOMMU (ACCESS_PLATFORM) and BACKEND_REQ only when asked for */
	assert_false(f & (1ULL << 33));
	assert_false(vhu_socket_get_protocol_features(s) & (1ULL << 5));
	vhu_socket_unregister(s);
}

static int
setup(void **state)
{
	(void)state;
	pool = rte_pktmbuf_pool_create("life", 1023, 0, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	assert_non_null(pool);
	snprintf(dir, sizeof(dir), "/tmp/vhu-life-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_feature_masks),
		cmocka_unit_test(test_socket_paths),
		cmocka_unit_test(test_access_control),
		cmocka_unit_test(test_server_lifecycle),
		cmocka_unit_test(test_announce),
		cmocka_unit_test(test_stalled_peer),
		cmocka_unit_test(test_disconnect_mid_message),
		cmocka_unit_test(test_client_reconnect),
	};
	int ret;

	(void)argc;
	ret = FE_RUN_GROUP(argv[0], "lifecycle", tests, setup, NULL);
	rmdir(dir);
	return ret;
}
