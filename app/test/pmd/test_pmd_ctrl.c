/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_vhu with ctrl-queue=1 against a frontend that hands the control
 * virtqueue to the backend. The PMD is the real plugin
 * (librte_net_vhu.so, loaded with the EAL's -d, its libvhu hidden inside
 * it); this process is its application and, over the real socket, the
 * frontend and the guest (fe.c for messages, virtq_driver.c for rings).
 *
 * The guest turns its receive filter on through the control vring; the
 * application transmits frames to several destinations and checks which
 * reach the guest's receive ring, the tx_q0_filtered xstat, and what
 * ethdev says (promiscuous, all-multicast, MAC addresses). Disconnecting
 * gives the application its flags back.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "../protocol/fe.h"
#include "msg.h"
#include "virtq_driver.h"

#define RING 64
#define GMEM (1u << 20)
#define HDR 12
#define BIT(n) (1ULL << (n))

static char sock_path[108];
static struct rte_mempool *pool;
static uint16_t port;

struct guest {
	int sock;
	struct vtd d[3];
	int kick[3], call[3];
};

static uint64_t
gpa_of(int ring)
{
	return 0x1000000ull * (uint64_t)(ring + 1);
}

static uint64_t
qva_of(int ring, uint64_t gpa)
{
	return 0x500000000000ull + 0x100000000ull * (uint64_t)ring +
	       (gpa - gpa_of(ring));
}

static void
ok(struct guest *g, uint32_t req, const void *p, uint32_t size,
   const int *fds, int nfds)
{
	assert_int_equal(fe_call_ack(g->sock, req, p, size, fds, nfds), 0);
}

static uint64_t
get_u64(struct guest *g, uint32_t req)
{
	struct vhu_msg_hdr h;
	uint64_t v = 0;

	assert_int_equal(fe_send(g->sock, req, VHU_MSG_VERSION, NULL, 0, NULL,
				 0), 0);
	assert_int_equal(fe_recv(g->sock, &h, &v, sizeof(v), 2000), 8);
	return v;
}

static bool
link_up(void)
{
	struct rte_eth_link l;

	assert_int_equal(rte_eth_link_get_nowait(port, &l), 0);
	return l.link_status == RTE_ETH_LINK_UP;
}

static void
guest_up(struct guest *g, uint64_t feats)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vhu_msg_mem_table mt = { .nregions = 3 };
	uint64_t f, pf, st;
	int fds[3];

	memset(g, 0, sizeof(*g));
	g->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(g->sock >= 0);
	strcpy(sa.sun_path, sock_path);
	assert_int_equal(connect(g->sock, (struct sockaddr *)&sa, sizeof(sa)),
			 0);
	f = get_u64(g, VHU_REQ_GET_FEATURES);
	assert_int_equal(f & feats, feats);
	pf = get_u64(g, VHU_REQ_GET_PROTOCOL_FEATURES);
	assert_true(pf & BIT(VHU_PROTOCOL_F_REPLY_ACK));
	assert_int_equal(fe_send(g->sock, VHU_REQ_SET_PROTOCOL_FEATURES,
				 VHU_MSG_VERSION, &pf, 8, NULL, 0), 0);
	ok(g, VHU_REQ_SET_OWNER, NULL, 0, NULL, 0);
	f = BIT(VIRTIO_F_VERSION_1) | BIT(VHU_F_PROTOCOL_FEATURES) | feats;
	ok(g, VHU_REQ_SET_FEATURES, &f, 8, NULL, 0);
	for (int i = 0; i < 3; i++) {
		struct vtd_opts o = { .size = RING, .mem_size = GMEM,
				      .nregions = 1, .gpa_base = gpa_of(i) };

		assert_int_equal(vtd_init(&g->d[i], &o, 0), 0);
		fds[i] = g->d[i].memfd;
		mt.r[i] = (struct vhu_msg_region){ gpa_of(i), GMEM,
						   qva_of(i, gpa_of(i)), 0 };
	}
	ok(g, VHU_REQ_SET_MEM_TABLE, &mt, 8 + 3 * 32, fds, 3);
	for (uint32_t i = 0; i < 3; i++) {
		struct vtd *d = &g->d[i];
		struct vhu_msg_vring_state s = { i, RING };
		struct vhu_msg_vring_addr a = { i, 0, qva_of(i, d->desc_gpa),
						qva_of(i, d->used_gpa),
						qva_of(i, d->avail_gpa), 0 };
		uint64_t u = i;

		g->kick[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		g->call[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ok(g, VHU_REQ_SET_VRING_NUM, &s, 8, NULL, 0);
		s.num = 0;
		ok(g, VHU_REQ_SET_VRING_BASE, &s, 8, NULL, 0);
		ok(g, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
		ok(g, VHU_REQ_SET_VRING_KICK, &u, 8, &g->kick[i], 1);
		ok(g, VHU_REQ_SET_VRING_CALL, &u, 8, &g->call[i], 1);
		s.num = 1;
		ok(g, VHU_REQ_SET_VRING_ENABLE, &s, 8, NULL, 0);
	}
	st = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
	     VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	ok(g, VHU_REQ_SET_STATUS, &st, 8, NULL, 0);
	for (int i = 0; i < 200 && !link_up(); i++)
		usleep(5000);
	assert_true(link_up());
}

static void
guest_down(struct guest *g)
{
	close(g->sock);
	for (int i = 0; i < 200 && link_up(); i++)
		usleep(5000);
	assert_false(link_up());
	for (int i = 0; i < 3; i++) {
		vtd_fini(&g->d[i]);
		close(g->kick[i]);
		close(g->call[i]);
	}
}

/* A control command as Linux sends it; the ack the device wrote. */
static uint8_t
cmd(struct guest *g, uint8_t cls, uint8_t c, const void *data, uint32_t len)
{
	struct vtd *d = &g->d[2];
	uint64_t h = vtd_alloc(d, 2 + len, 8);
	uint64_t ack = vtd_alloc(d, 1, 1);
	struct vtd_buf b[2] = { { h, 2 + len }, { ack, 1 } };
	uint32_t id, ulen;

	vtd_ptr(d, h)[0] = cls;
	vtd_ptr(d, h)[1] = c;
	memcpy(vtd_ptr(d, h) + 2, data, len);
	*vtd_ptr(d, ack) = 0xaa;
	assert_true(vtd_add_mixed(d, b, 2, 0x2, false) >= 0);
	vtd_publish(d);
	assert_int_equal(eventfd_write(g->kick[2], 1), 0);
	for (int i = 0; i < 400 && vtd_used_pending(d) == 0; i++)
		usleep(2500);
	assert_true(vtd_get_used(d, &id, &ulen));
	return *vtd_ptr(d, ack);
}

/*
 * Transmit one frame to dst (VLAN vid, or untagged if vid < 0) with a
 * receive buffer posted: whether the guest got it. tx_burst consumes it
 * either way.
 */
static bool
deliver(struct guest *g, const uint8_t dst[6], int vid)
{
	struct vtd *d = &g->d[0];
	uint32_t lens[1] = { 2048 };
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint8_t *p;
	uint32_t id, ulen;
	bool got;

	assert_non_null(m);
	p = (uint8_t *)rte_pktmbuf_append(m, 64);
	memset(p, 0, 64);
	memcpy(p, dst, 6);
	p[6] = 0x02;
	if (vid >= 0) {
		p[12] = 0x81;
		p[14] = (uint8_t)(vid >> 8);
		p[15] = (uint8_t)vid;
		p[16] = 0x08;
	} else {
		p[12] = 0x08;
	}
	if (vtd_used_pending(d) == 0 && d->nfree == d->size)
		assert_true(vtd_post_rx(d, lens, 1, false) >= 0);
	vtd_publish(d);
	assert_int_equal(rte_eth_tx_burst(port, 0, &m, 1), 1);
	got = vtd_get_used(d, &id, &ulen);
	if (got) {
		uint8_t frame[HDR + 64];

		assert_int_equal(ulen, HDR + 64);
		vtd_gather(d, (uint16_t)id, frame, ulen);
		assert_memory_equal(frame + HDR, dst, 6);
	}
	return got;
}

static uint64_t
xstat(const char *name)
{
	uint64_t id, v;

	assert_int_equal(rte_eth_xstats_get_id_by_name(port, name, &id), 0);
	assert_int_equal(rte_eth_xstats_get_by_id(port, &id, &v, 1), 1);
	return v;
}

static bool
has_mac(const uint8_t mac[6])
{
	struct rte_ether_addr a[256];
	int n = rte_eth_macaddrs_get(port, a, RTE_DIM(a));

	assert_true(n > 0);
	for (int i = 0; i < n; i++)
		if (memcmp(a[i].addr_bytes, mac, 6) == 0)
			return true;
	return false;
}

static void
test_filter(void **state)
{
	static const uint8_t me[6] = { 0x52, 0x54, 0, 0, 0, 1 };
	static const uint8_t listed[6] = { 0x52, 0x54, 0, 0, 0, 2 };
	static const uint8_t other[6] = { 0x52, 0x54, 0, 0, 0, 3 };
	static const uint8_t mc[6] = { 0x01, 0, 0x5e, 0, 0, 1 };
	static const uint8_t mc2[6] = { 0x01, 0, 0x5e, 0, 0, 2 };
	static const uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t tab[4 + 6 + 4 + 6];
	uint32_t n = 1;
	uint16_t vid = 100;
	struct guest g;
	uint64_t filtered;

	(void)state;
	guest_up(&g, BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_RX) |
		 BIT(VIRTIO_NET_F_CTRL_VLAN) | BIT(VIRTIO_NET_F_CTRL_MAC_ADDR));
	/* before any command: everything reaches the guest */
	assert_true(deliver(&g, other, -1));
	assert_true(deliver(&g, mc2, -1));
	assert_true(deliver(&g, me, 7));
	assert_int_equal(xstat("tx_q0_filtered"), 0);

	memcpy(tab, &n, 4);
	memcpy(tab + 4, listed, 6);
	memcpy(tab + 10, &n, 4);
	memcpy(tab + 14, mc, 6);
	assert_int_equal(cmd(&g, VIRTIO_NET_CTRL_MAC,
			     VIRTIO_NET_CTRL_MAC_TABLE_SET, tab, sizeof(tab)),
			 VIRTIO_NET_OK);
	assert_int_equal(cmd(&g, VIRTIO_NET_CTRL_MAC,
			     VIRTIO_NET_CTRL_MAC_ADDR_SET, me, 6),
			 VIRTIO_NET_OK);
	assert_int_equal(cmd(&g, VIRTIO_NET_CTRL_RX,
			     VIRTIO_NET_CTRL_RX_PROMISC, "\0", 1),
			 VIRTIO_NET_OK);
	/* ethdev shows the guest's state */
	assert_int_equal(rte_eth_promiscuous_get(port), 0);
	assert_int_equal(rte_eth_allmulticast_get(port), 0);
	assert_true(has_mac(me));
	assert_true(has_mac(listed));
	assert_true(has_mac(mc));
	assert_false(has_mac(other));

	assert_true(deliver(&g, me, -1));
	assert_true(deliver(&g, listed, -1));
	assert_false(deliver(&g, other, -1));
	assert_true(deliver(&g, mc, -1));
	assert_false(deliver(&g, mc2, -1));
	assert_true(deliver(&g, bc, -1));
	/* CTRL_VLAN: tagged frames of added VLANs only */
	assert_false(deliver(&g, me, 100));
	assert_int_equal(cmd(&g, VIRTIO_NET_CTRL_VLAN,
			     VIRTIO_NET_CTRL_VLAN_ADD, &vid, 2),
			 VIRTIO_NET_OK);
	assert_true(deliver(&g, me, 100));
	filtered = xstat("tx_q0_filtered");
	assert_int_equal(filtered, 3);
	/* ALLMULTI: ethdev's flag follows, the other group passes */
	assert_int_equal(cmd(&g, VIRTIO_NET_CTRL_RX,
			     VIRTIO_NET_CTRL_RX_ALLMULTI, "\1", 1),
			 VIRTIO_NET_OK);
	assert_int_equal(rte_eth_allmulticast_get(port), 1);
	assert_true(deliver(&g, mc2, -1));

	/* gone: the application's flags and table are back */
	guest_down(&g);
	assert_int_equal(rte_eth_promiscuous_get(port), 1);
	assert_int_equal(rte_eth_allmulticast_get(port), 0);
	assert_false(has_mac(me));
}

/* A guest without CTRL_RX / CTRL_VLAN: nothing is filtered. */
static void
test_no_filter_without_ctrl_rx(void **state)
{
	static const uint8_t other[6] = { 0x52, 0x54, 0, 0, 0, 3 };
	struct guest g;
	uint64_t before = xstat("tx_q0_filtered");

	(void)state;
	guest_up(&g, BIT(VIRTIO_NET_F_CTRL_VQ));
	assert_int_equal(cmd(&g, VIRTIO_NET_CTRL_RX,
			     VIRTIO_NET_CTRL_RX_PROMISC, "\0", 1),
			 VIRTIO_NET_ERR);
	assert_true(deliver(&g, other, -1));
	assert_int_equal(xstat("tx_q0_filtered"), before);
	guest_down(&g);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_no_filter_without_ctrl_rx),
	};
	char prefix[64], vdev[200];
	char *eal[] = {
		argv[0], "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
		"--no-telemetry", prefix, "--log-level=pmd.net.vhu:info",
		"--log-level=lib.eal:error", "-d", NULL, "--vdev", vdev, NULL,
	};
	struct rte_eth_conf conf = { 0 };
	char dir[] = "/tmp/vhu-pmd-ctrl-XXXXXX";
	int ret;

	if (argc < 2 || mkdtemp(dir) == NULL)
		return 1;
	eal[11] = argv[1];
	snprintf(sock_path, sizeof(sock_path), "%s/s.sock", dir);
	snprintf(prefix, sizeof(prefix), "--file-prefix=vhupc%d", getpid());
	snprintf(vdev, sizeof(vdev), "net_vhu0,iface=%s,ctrl-queue=1",
		 sock_path);
	if (rte_eal_init(RTE_DIM(eal) - 1, eal) < 0 ||
	    rte_eth_dev_count_avail() != 1)
		return 1;
	port = 0;
	pool = rte_pktmbuf_pool_create("pmd_ctrl", 1023, 0, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (pool == NULL ||
	    rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
	    rte_eth_rx_queue_setup(port, 0, 256, 0, NULL, pool) != 0 ||
	    rte_eth_tx_queue_setup(port, 0, 256, 0, NULL) != 0 ||
	    rte_eth_promiscuous_enable(port) != 0 ||
	    rte_eth_dev_start(port) != 0)
		return 1;
	ret = cmocka_run_group_tests_name("pmd-ctrl", tests, NULL, NULL);
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
	rte_eal_cleanup();
	unlink(sock_path);
	rmdir(dir);
	return ret;
}
