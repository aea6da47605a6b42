/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-net control virtqueue at the library boundary: messages go
 * through the real entry point (vhu_dev_handle_msg), the guest's rings
 * are written by the test driver (virtq_driver.c), the control vring's
 * kick eventfd wakes the control loop (vhu_dispatch), and the state the
 * guest set is read back through the public API (vhu_dev_rx_filter,
 * rx_filter_changed, vring_state_changed).
 *
 * Design: each vring is one driver ring in guest memory of its own (a
 * memfd per ring, one memory region each). Every command runs over the
 * split and the packed layout. Malformed commands must be answered
 * VIRTIO_NET_ERR and change nothing; chains that break ring rules or
 * leave nowhere for the ack must break the control vring only, while
 * the data vrings keep moving frames.
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
#include <unistd.h>
#include <cmocka.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include <rte_mbuf.h>

#include "dev.h"
#include "lifecycle.h"
#include "fe.h"
#include "msg.h"
#include "registry.h"
#include "vhu.h"
#include "vhu_burst.h"
#include "virtq_driver.h"

#define RING 64
#define GMEM (1u << 20)
#define HDR 12
#define BIT(n) (1ULL << (n))
#define NRINGS_MAX 5
#define ALL_CTRL (BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_RX) | \
		  BIT(VIRTIO_NET_F_CTRL_RX_EXTRA) | \
		  BIT(VIRTIO_NET_F_CTRL_VLAN) | \
		  BIT(VIRTIO_NET_F_CTRL_MAC_ADDR) | \
		  BIT(VIRTIO_NET_F_GUEST_ANNOUNCE))

static struct vhu_socket *sock1;  /* 16 queue pairs (the build's) */
static struct vhu_socket *sock2;  /* 2 queue pairs */
static struct rte_mempool *pool;
static int base_fds;

/* What the callbacks saw. */
static struct {
	int filter_changes;
	struct vhu_rx_filter last;
	int vring_on[NRINGS_MAX * 8];
	int vring_off[NRINGS_MAX * 8];
	int broken[NRINGS_MAX * 8];
} seen;

static void
on_filter(struct vhu_dev *dev, const struct vhu_rx_filter *f, void *ctx)
{
	struct vhu_rx_filter snap;

	(void)ctx;
	seen.filter_changes++;
	seen.last = *f;
	/* the snapshot call agrees with what the callback is given */
	assert_int_equal(vhu_dev_rx_filter(dev, &snap), 0);
	assert_memory_equal(&snap, f, sizeof(snap));
}

static void
on_vring(struct vhu_dev *dev, uint16_t vring, bool on, void *ctx)
{
	(void)dev;
	(void)ctx;
	if (vring < RTE_DIM(seen.vring_on)) {
		if (on)
			seen.vring_on[vring]++;
		else
			seen.vring_off[vring]++;
	}
}

static void
on_broken(struct vhu_dev *dev, uint16_t vring, void *ctx)
{
	(void)dev;
	(void)ctx;
	if (vring < RTE_DIM(seen.broken))
		seen.broken[vring]++;
}

static const struct vhu_ops ops = {
	.vring_state_changed = on_vring,
	.vring_broken = on_broken,
	.rx_filter_changed = on_filter,
};

struct env {
	struct vtd d[NRINGS_MAX];
	int nrings;
	uint16_t cv;           /* control vring index */
	bool packed;
	struct vhu_dev *dev;
	int peer;
	int kick;              /* the control vring's kick (ours) */
	int call;              /* ... and its call */
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

static int
handle(struct env *e, uint32_t req, const void *payload, uint32_t size,
       int *fds, int nfds)
{
	return fe_handle(e->dev, req, VHU_MSG_VERSION, payload, size, fds,
			 nfds);
}

static uint64_t
get_u64(struct env *e, uint32_t req)
{
	struct vhu_msg_hdr rh;
	uint64_t v = 0;

	assert_int_equal(handle(e, req, NULL, 0, NULL, 0), 0);
	assert_int_equal(fe_recv(e->peer, &rh, &v, sizeof(v), 1000), 8);
	return v;
}

static void
ring_up(struct env *e, uint32_t i, bool ctrl)
{
	struct vtd *d = &e->d[i];
	struct vhu_msg_vring_state st = { i, RING };
	struct vhu_msg_vring_addr a = { i, 0, qva_of(i, d->desc_gpa),
					qva_of(i, d->used_gpa),
					qva_of(i, d->avail_gpa), 0 };
	uint64_t u = i | VHU_VRING_NOFD;

	assert_int_equal(handle(e, VHU_REQ_SET_VRING_NUM, &st, 8, NULL, 0), 0);
	assert_int_equal(handle(e, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL,
				0), 0);
	st.num = e->packed ? (1u << 15) | (1u << 31) : 0;
	assert_int_equal(handle(e, VHU_REQ_SET_VRING_BASE, &st, 8, NULL, 0), 0);
	if (ctrl) {
		int k = dup(e->kick), c = dup(e->call);

		u = i;
		assert_int_equal(handle(e, VHU_REQ_SET_VRING_KICK, &u, 8, &k, 1),
				 0);
		assert_int_equal(handle(e, VHU_REQ_SET_VRING_CALL, &u, 8, &c, 1),
				 0);
	} else {
		assert_int_equal(handle(e, VHU_REQ_SET_VRING_KICK, &u, 8, NULL, 0),
				 0);
		assert_int_equal(handle(e, VHU_REQ_SET_VRING_CALL, &u, 8, NULL, 0),
				 0);
	}
	st.num = 1;
	assert_int_equal(handle(e, VHU_REQ_SET_VRING_ENABLE, &st, 8, NULL, 0),
			 0);
}

static void
set_status(struct env *e, uint64_t status)
{
	assert_int_equal(handle(e, VHU_REQ_SET_STATUS, &status, 8, NULL, 0), 0);
}

/*
 * Negotiate feats (plus VERSION_1, PROTOCOL_FEATURES, INDIRECT and the
 * layout) on sock with nrings vrings, the last the control vring; start
 * unless !start (then DRIVER_OK is still to come).
 */
static void
env_open_on(struct env *e, struct vhu_socket *s, bool packed, uint64_t feats,
	    int nrings, bool start)
{
	struct vhu_msg_mem_table mt = { .nregions = (uint32_t)nrings };
	int fds[NRINGS_MAX];
	int sv[2];
	uint64_t f, pf;

	memset(e, 0, sizeof(*e));
	memset(&seen, 0, sizeof(seen));
	e->packed = packed;
	e->nrings = nrings;
	e->cv = (uint16_t)(nrings - 1);
	for (int i = 0; i < nrings; i++) {
		struct vtd_opts o = { .size = RING, .mem_size = GMEM,
				      .nregions = 1, .packed = packed,
				      .gpa_base = gpa_of(i) };

		assert_int_equal(vtd_init(&e->d[i], &o,
					  packed ? 1u << 15 : 0), 0);
		fds[i] = dup(e->d[i].memfd);
		mt.r[i] = (struct vhu_msg_region){ gpa_of(i), GMEM,
						   qva_of(i, gpa_of(i)), 0 };
	}
	e->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	e->call = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	e->dev = vhu_dev_alloc(s, sv[0]);
	assert_non_null(e->dev);
	e->peer = sv[1];

	f = get_u64(e, VHU_REQ_GET_FEATURES);
	assert_int_equal(f & feats, feats);
	f = BIT(VIRTIO_F_VERSION_1) | BIT(VHU_F_PROTOCOL_FEATURES) |
	    BIT(VIRTIO_RING_F_INDIRECT_DESC) |
	    (packed ? BIT(VIRTIO_F_RING_PACKED) : 0) | feats;
	assert_int_equal(handle(e, VHU_REQ_SET_FEATURES, &f, 8, NULL, 0), 0);
	pf = get_u64(e, VHU_REQ_GET_PROTOCOL_FEATURES);
	assert_int_equal(handle(e, VHU_REQ_SET_PROTOCOL_FEATURES, &pf, 8, NULL,
				0), 0);
	assert_int_equal(handle(e, VHU_REQ_SET_MEM_TABLE, &mt,
				8 + 32 * (uint32_t)nrings, fds, nrings), 0);
	for (int i = 0; i < nrings; i++)
		ring_up(e, (uint32_t)i, i == e->cv);
	if (start) {
		set_status(e, VIRTIO_CONFIG_S_ACKNOWLEDGE |
			   VIRTIO_CONFIG_S_DRIVER |
			   VIRTIO_CONFIG_S_FEATURES_OK |
			   VIRTIO_CONFIG_S_DRIVER_OK);
		assert_true(e->dev->running);
	}
}

/* The usual guest: one queue pair and the control vring (index 2). */
static void
env_open(struct env *e, bool packed, uint64_t feats)
{
	env_open_on(e, sock1, packed, feats, 3, true);
	assert_int_equal(vhu_dev_ctrl_vring(e->dev), 2);
}

static void
env_close(struct env *e)
{
	vhu_dev_close(e->dev);
	close(e->peer);
	close(e->kick);
	close(e->call);
	for (int i = 0; i < e->nrings; i++)
		vtd_fini(&e->d[i]);
}

/* Kick the control vring and run the control loop until it answers. */
static void
kick_and_wait(struct env *e)
{
	struct vtd *d = &e->d[e->cv];

	assert_int_equal(eventfd_write(e->kick, 1), 0);
	for (int i = 0; i < 100 && vtd_used_pending(d) == 0 &&
	     !vhu_dev_vring_broken(e->dev, e->cv); i++)
		(void)vhu_dispatch(10);
}

/*
 * Post a chain of n buffers (bit i of wmask: buffer i writable) on the
 * control vring and kick. Returns the head.
 */
static int
post(struct env *e, const struct vtd_buf *b, int n, uint64_t wmask,
     bool indirect)
{
	struct vtd *d = &e->d[e->cv];
	int head = vtd_add_mixed(d, b, n, wmask, indirect);

	assert_true(head >= 0);
	vtd_publish(d);
	kick_and_wait(e);
	return head;
}

/* Guest bytes at a fresh buffer. */
static uint64_t
put(struct env *e, const void *data, uint32_t len)
{
	struct vtd *d = &e->d[e->cv];
	uint64_t gpa = vtd_alloc(d, len > 0 ? len : 1, 8);

	if (len > 0)
		memcpy(vtd_ptr(d, gpa), data, len);
	return gpa;
}

/*
 * Send a command as Linux does (header, data, ack in three buffers;
 * indirect when asked) and return the ack the device wrote.
 */
static uint8_t
cmd_ex(struct env *e, uint8_t cls, uint8_t c, const void *data, uint32_t len,
       bool indirect)
{
	struct vtd *d = &e->d[e->cv];
	uint8_t hdr[2] = { cls, c };
	struct vtd_buf b[3];
	uint64_t ack = vtd_alloc(d, 1, 1);
	uint32_t id, ulen;
	int n = 0;

	*vtd_ptr(d, ack) = 0xaa;
	b[n++] = (struct vtd_buf){ put(e, hdr, 2), 2 };
	if (len > 0)
		b[n++] = (struct vtd_buf){ put(e, data, len), len };
	b[n++] = (struct vtd_buf){ ack, 1 };
	post(e, b, n, BIT(n - 1), indirect);
	assert_int_equal(vtd_used_pending(d), 1);
	assert_true(vtd_get_used(d, &id, &ulen));
	assert_int_equal(ulen, 1);
	return *vtd_ptr(d, ack);
}

static uint8_t
cmd(struct env *e, uint8_t cls, uint8_t c, const void *data, uint32_t len)
{
	return cmd_ex(e, cls, c, data, len, false);
}

static uint8_t
cmd_u8(struct env *e, uint8_t cls, uint8_t c, uint8_t v)
{
	return cmd(e, cls, c, &v, 1);
}

static uint8_t
cmd_u16(struct env *e, uint8_t cls, uint8_t c, uint16_t v)
{
	return cmd(e, cls, c, &v, 2);
}

static struct vhu_rx_filter
filter(struct env *e)
{
	struct vhu_rx_filter f;

	assert_int_equal(vhu_dev_rx_filter(e->dev, &f), 0);
	return f;
}

static void
fill_frame(uint8_t *f, uint32_t len, uint8_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		f[i] = (uint8_t)(seed + i * 7);
}

/* Frames still move both ways on queue pair 0. */
static void
check_data_path(struct env *e)
{
	uint8_t frame[256];
	struct rte_mbuf *m = NULL;
	uint32_t lens[1] = { 2048 };
	uint32_t id, len;

	fill_frame(frame, sizeof(frame), 3);
	assert_true(vtd_post_tx(&e->d[1], frame, sizeof(frame), HDR, 1,
				false) >= 0);
	vtd_publish(&e->d[1]);
	assert_int_equal(vhu_dequeue_burst(e->dev, 0, pool, &m, 1), 1);
	assert_int_equal(m->pkt_len, sizeof(frame));
	assert_memory_equal(rte_pktmbuf_mtod(m, uint8_t *), frame,
			    sizeof(frame));
	rte_pktmbuf_free(m);
	assert_true(vtd_get_used(&e->d[1], &id, &len));

	assert_true(vtd_post_rx(&e->d[0], lens, 1, false) >= 0);
	vtd_publish(&e->d[0]);
	m = rte_pktmbuf_alloc(pool);
	assert_non_null(m);
	memcpy(rte_pktmbuf_append(m, sizeof(frame)), frame, sizeof(frame));
	assert_int_equal(vhu_enqueue_burst(e->dev, 0, &m, 1), 1);
	rte_pktmbuf_free(m);
	assert_true(vtd_get_used(&e->d[0], &id, &len));
	assert_int_equal(len, HDR + sizeof(frame));
}

/* ---- commands ---- */

static void
commands_case(bool packed, bool indirect)
{
	static const uint8_t uc[2][6] = { { 0x52, 0x54, 0, 1, 2, 3 },
					  { 0x52, 0x54, 0, 1, 2, 4 } };
	static const uint8_t mc[3][6] = { { 0x01, 0, 0x5e, 0, 0, 1 },
					  { 0x01, 0, 0x5e, 0, 0, 2 },
					  { 0x33, 0x33, 0, 0, 0, 1 } };
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 0xaa, 0xbb, 0xcc };
	uint8_t tab[4 + 12 + 4 + 18];
	uint32_t n;
	struct vhu_rx_filter f;
	struct env e;
	int changes;

	env_open(&e, packed, ALL_CTRL);
	/* before any command: everything passes */
	f = filter(&e);
	assert_true(f.rx_mode);
	assert_true(f.vlan);
	assert_true(f.promisc);
	assert_int_equal(f.queue_pairs, 16);
	assert_int_equal(seen.filter_changes, 0);

	/* RX modes, each on then checked (virtio 1.2 §5.1.6.5.1) */
	assert_int_equal(cmd_ex(&e, VIRTIO_NET_CTRL_RX,
				VIRTIO_NET_CTRL_RX_PROMISC, "\0", 1, indirect),
			 VIRTIO_NET_OK);
	assert_false(filter(&e).promisc);
	assert_int_equal(seen.filter_changes, 1);
	assert_false(seen.last.promisc);
	for (uint8_t c = VIRTIO_NET_CTRL_RX_ALLMULTI;
	     c <= VIRTIO_NET_CTRL_RX_NOBCAST; c++)
		assert_int_equal(cmd_u8(&e, VIRTIO_NET_CTRL_RX, c, 1),
				 VIRTIO_NET_OK);
	f = filter(&e);
	assert_true(f.allmulti && f.alluni && f.nomulti && f.nouni &&
		    f.nobcast);
	assert_int_equal(seen.filter_changes, 6);
	/* the same again changes nothing: no callback */
	assert_int_equal(cmd_u8(&e, VIRTIO_NET_CTRL_RX,
				VIRTIO_NET_CTRL_RX_NOBCAST, 1), VIRTIO_NET_OK);
	assert_int_equal(seen.filter_changes, 6);
	for (uint8_t c = VIRTIO_NET_CTRL_RX_ALLMULTI;
	     c <= VIRTIO_NET_CTRL_RX_NOBCAST; c++)
		assert_int_equal(cmd_u8(&e, VIRTIO_NET_CTRL_RX, c, 0),
				 VIRTIO_NET_OK);
	f = filter(&e);
	assert_false(f.allmulti || f.alluni || f.nomulti || f.nouni ||
		     f.nobcast);

	/* MAC TABLE_SET: 2 unicast, 3 multicast (§5.1.6.5.2) */
	n = 2;
	memcpy(tab, &n, 4);
	memcpy(tab + 4, uc, 12);
	n = 3;
	memcpy(tab + 16, &n, 4);
	memcpy(tab + 20, mc, 18);
	assert_int_equal(cmd_ex(&e, VIRTIO_NET_CTRL_MAC,
				VIRTIO_NET_CTRL_MAC_TABLE_SET, tab, sizeof(tab),
				indirect), VIRTIO_NET_OK);
	f = filter(&e);
	assert_int_equal(f.n_uc, 2);
	assert_int_equal(f.n_mc, 3);
	assert_memory_equal(f.uc, uc, 12);
	assert_memory_equal(f.mc, mc, 18);

	/* MAC ADDR_SET */
	assert_false(f.has_mac);
	assert_int_equal(cmd(&e, VIRTIO_NET_CTRL_MAC,
			     VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 6),
			 VIRTIO_NET_OK);
	f = filter(&e);
	assert_true(f.has_mac);
	assert_memory_equal(f.mac, mac, 6);

	/* VLAN ADD / DEL (§5.1.6.5.3) */
	assert_int_equal(cmd_u16(&e, VIRTIO_NET_CTRL_VLAN,
				 VIRTIO_NET_CTRL_VLAN_ADD, 100), VIRTIO_NET_OK);
	assert_int_equal(cmd_u16(&e, VIRTIO_NET_CTRL_VLAN,
				 VIRTIO_NET_CTRL_VLAN_ADD, 4095), VIRTIO_NET_OK);
	f = filter(&e);
	assert_true((f.vlans[100 / 64] >> (100 % 64)) & 1);
	assert_true((f.vlans[4095 / 64] >> (4095 % 64)) & 1);
	assert_int_equal(cmd_u16(&e, VIRTIO_NET_CTRL_VLAN,
				 VIRTIO_NET_CTRL_VLAN_DEL, 100), VIRTIO_NET_OK);
	f = filter(&e);
	assert_false((f.vlans[100 / 64] >> (100 % 64)) & 1);

	/* ANNOUNCE ACK: accepted, nothing to change */
	changes = seen.filter_changes;
	assert_int_equal(cmd(&e, VIRTIO_NET_CTRL_ANNOUNCE,
			     VIRTIO_NET_CTRL_ANNOUNCE_ACK, NULL, 0),
			 VIRTIO_NET_OK);
	assert_int_equal(seen.filter_changes, changes);

	/* the data path is unaffected throughout */
	check_data_path(&e);
	assert_false(vhu_dev_vring_broken(e.dev, 2));

	/* a device reset (status 0) forgets it all */
	set_status(&e, 0);
	f = filter(&e);
	assert_true(f.promisc);
	assert_int_equal(f.n_uc, 0);
	assert_false(f.has_mac);
	env_close(&e);
	assert_int_equal(fe_count_fds(), base_fds);
}

static void
test_commands_split(void **state)
{
	(void)state;
	commands_case(false, false);
	commands_case(false, true);
}

static void
test_commands_packed(void **state)
{
	(void)state;
	commands_case(true, false);
	commands_case(true, true);
}

/* ---- malformed commands: ERR, and nothing changes ---- */

static void
expect_err(struct env *e, uint8_t cls, uint8_t c, const void *data,
	   uint32_t len)
{
	struct vhu_rx_filter before = filter(e), after;
	int changes = seen.filter_changes;

	assert_int_equal(cmd(e, cls, c, data, len), VIRTIO_NET_ERR);
	after = filter(e);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_int_equal(seen.filter_changes, changes);
	assert_false(vhu_dev_vring_broken(e->dev, e->cv));
}

static void
malformed_case(bool packed)
{
	uint8_t big[1100];
	uint8_t tab[4 + 65 * 6 + 4];
	uint32_t n;
	struct vtd *d;
	struct env e;

	env_open(&e, packed, ALL_CTRL);
	d = &e.d[e.cv];
	memset(big, 0, sizeof(big));
	/* unknown class and commands */
	expect_err(&e, 9, 0, NULL, 0);
	expect_err(&e, VIRTIO_NET_CTRL_RX, 6, "\1", 1);
	expect_err(&e, VIRTIO_NET_CTRL_MAC, 2, NULL, 0);
	expect_err(&e, VIRTIO_NET_CTRL_VLAN, 2, "\1\0", 2);
	expect_err(&e, VIRTIO_NET_CTRL_ANNOUNCE, 1, NULL, 0);
	/* MQ and RSS: MQ not negotiated here */
	expect_err(&e, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
		   "\1\0", 2);
	/* wrong lengths and values */
	expect_err(&e, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, NULL, 0);
	expect_err(&e, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, "\0\0",
		   2);
	expect_err(&e, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, "\2", 1);
	expect_err(&e, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, big,
		   5);
	expect_err(&e, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, "\0\x10",
		   2); /* 4096 */
	expect_err(&e, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, "\1", 1);
	expect_err(&e, VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK,
		   "\0", 1);
	/* MAC tables: counts beyond the data, too many, trailing bytes */
	n = 3;
	memset(tab, 0, sizeof(tab));
	memcpy(tab, &n, 4);
	expect_err(&e, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tab,
		   4 + 12 + 4);
	n = 0xffffffff;
	memcpy(tab, &n, 4);
	expect_err(&e, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tab,
		   8);
	n = 0;
	memcpy(tab, &n, 4);
	expect_err(&e, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tab,
		   4); /* no multicast count */
	expect_err(&e, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tab,
		   9); /* a byte after both tables */
	n = 65;
	memcpy(tab, &n, 4);
	memset(tab + 4 + 65 * 6, 0, 4);
	expect_err(&e, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tab,
		   sizeof(tab));
	/* 64 is the documented maximum: accepted */
	n = 64;
	memcpy(tab, &n, 4);
	memset(tab + 4 + 64 * 6, 0, 4);
	assert_int_equal(cmd(&e, VIRTIO_NET_CTRL_MAC,
			     VIRTIO_NET_CTRL_MAC_TABLE_SET, tab,
			     4 + 64 * 6 + 4), VIRTIO_NET_OK);
	assert_int_equal(filter(&e).n_uc, 64);
	/* too long to be a command */
	expect_err(&e, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, big,
		   sizeof(big));

	/* shapes: a lone byte, readable after the ack, a 2-byte ack */
	{
		uint64_t ack = vtd_alloc(d, 2, 1);
		struct vtd_buf b[3];
		uint32_t id, len;

		*vtd_ptr(d, ack) = 0xaa;
		b[0] = (struct vtd_buf){ put(&e, "\0", 1), 1 };
		b[1] = (struct vtd_buf){ ack, 1 };
		post(&e, b, 2, 0x2, false);
		assert_true(vtd_get_used(d, &id, &len));
		assert_int_equal(*vtd_ptr(d, ack), VIRTIO_NET_ERR);

		*vtd_ptr(d, ack) = 0xaa;
		b[0] = (struct vtd_buf){ put(&e, "\0\0", 2), 2 };
		b[1] = (struct vtd_buf){ ack, 1 };
		b[2] = (struct vtd_buf){ put(&e, "\0", 1), 1 };
		post(&e, b, 3, 0x2, false);
		assert_true(vtd_get_used(d, &id, &len));
		assert_int_equal(*vtd_ptr(d, ack), VIRTIO_NET_ERR);

		*vtd_ptr(d, ack) = 0xaa;
		b[0] = (struct vtd_buf){ put(&e, "\0\0\0", 3), 3 };
		b[1] = (struct vtd_buf){ ack, 2 };
		post(&e, b, 2, 0x2, false);
		assert_true(vtd_get_used(d, &id, &len));
		assert_int_equal(*vtd_ptr(d, ack), VIRTIO_NET_ERR);
		assert_true(filter(&e).promisc);
	}
	check_data_path(&e);
	env_close(&e);

	/* classes whose feature is not negotiated */
	env_open(&e, packed, BIT(VIRTIO_NET_F_CTRL_VQ));
	expect_err(&e, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, "\0", 1);
	expect_err(&e, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, big,
		   6);
	expect_err(&e, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, "\1\0",
		   2);
	expect_err(&e, VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK,
		   NULL, 0);
	assert_false(filter(&e).rx_mode);
	env_close(&e);
	env_open(&e, packed, BIT(VIRTIO_NET_F_CTRL_VQ) |
		 BIT(VIRTIO_NET_F_CTRL_RX));
	expect_err(&e, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOBCAST, "\1", 1);
	assert_int_equal(cmd_u8(&e, VIRTIO_NET_CTRL_RX,
				VIRTIO_NET_CTRL_RX_ALLMULTI, 1), VIRTIO_NET_OK);
	env_close(&e);
	assert_int_equal(fe_count_fds(), base_fds);
}

static void
test_malformed_split(void **state)
{
	(void)state;
	malformed_case(false);
}

static void
test_malformed_packed(void **state)
{
	(void)state;
	malformed_case(true);
}

/* ---- chains that break the control vring, and only it ---- */

enum breakage { NO_ACK, ACK_READ_ONLY, OUTSIDE_MEMORY, ACK_OUTSIDE, LOOP,
		HEAD_RANGE };

static void
broken_case(bool packed, enum breakage how)
{
	struct env e;
	struct vtd *d;
	struct vtd_buf b[2];

	env_open(&e, packed, ALL_CTRL);
	d = &e.d[e.cv];
	b[0] = (struct vtd_buf){ put(&e, "\0\0\0", 3), 3 };
	b[1] = (struct vtd_buf){ vtd_alloc(d, 1, 1), 1 };
	switch (how) {
	case NO_ACK:
		assert_true(vtd_add_mixed(d, b, 1, 0, false) >= 0);
		break;
	case ACK_READ_ONLY:
		assert_true(vtd_add_mixed(d, b, 2, 0, false) >= 0);
		break;
	case OUTSIDE_MEMORY:
		b[0].gpa = 0x7000000000ull;
		assert_true(vtd_add_mixed(d, b, 2, 0x2, false) >= 0);
		break;
	case ACK_OUTSIDE:
		b[1].gpa = 0x7000000000ull;
		assert_true(vtd_add_mixed(d, b, 2, 0x2, false) >= 0);
		break;
	case LOOP: {
		int head = vtd_add_mixed(d, b, 2, 0x2, false);

		assert_true(head >= 0);
		if (packed) {
			/* packed has no next: a chain of NEXT over the ring */
			for (uint16_t i = 0; i < RING; i++) {
				d->pdesc[i].flags = VRING_DESC_F_NEXT;
				d->pdesc[i].addr = b[0].gpa;
				d->pdesc[i].len = 1;
			}
			d->pending_flags[0] |= VRING_DESC_F_NEXT;
		} else {
			uint16_t second = d->desc[head].next;

			d->desc[second].flags |= VRING_DESC_F_NEXT;
			d->desc[second].next = (uint16_t)head;
		}
		break;
	}
	case HEAD_RANGE:
		if (packed) {
			/* the avail index runs ahead: a packed ring has none;
			 * an unavailable chained descriptor instead */
			assert_true(vtd_add_mixed(d, b, 2, 0x2, false) >= 0);
			d->pdesc[1].flags ^= (uint16_t)vtd_pavail_bits(true);
		} else {
			vtd_add_raw_head(d, RING + 5);
		}
		break;
	}
	vtd_publish(d);
	kick_and_wait(&e);
	/* nothing answered, the vring broken and reported, once */
	assert_int_equal(vtd_used_pending(d), 0);
	assert_true(vhu_dev_vring_broken(e.dev, e.cv));
	for (int i = 0; i < 10 && seen.broken[e.cv] == 0; i++)
		(void)vhu_dispatch(10);
	assert_int_equal(seen.broken[e.cv], 1);
	/* the data vrings carry on */
	assert_false(vhu_dev_vring_broken(e.dev, 0));
	assert_false(vhu_dev_vring_broken(e.dev, 1));
	check_data_path(&e);
	assert_true(e.dev->running);
	env_close(&e);
	assert_int_equal(fe_count_fds(), base_fds);
}

static void
test_broken(void **state)
{
	(void)state;
	for (int p = 0; p < 2; p++) {
		broken_case(p, NO_ACK);
		broken_case(p, ACK_READ_ONLY);
		broken_case(p, OUTSIDE_MEMORY);
		broken_case(p, ACK_OUTSIDE);
		broken_case(p, LOOP);
		broken_case(p, HEAD_RANGE);
	}
}

/* ---- MQ: VQ_PAIRS_SET disables the pairs beyond ---- */

static void
pairs_case(bool packed)
{
	struct env e;

	/* 2 pairs: data vrings 0-3, the control vring 4 */
	env_open_on(&e, sock2, packed, ALL_CTRL | BIT(VIRTIO_NET_F_MQ), 5,
		    true);
	assert_int_equal(vhu_dev_ctrl_vring(e.dev), 4);
	/* §5.1.6.5.5: one pair until the driver asks for more */
	assert_int_equal(filter(&e).queue_pairs, 1);
	assert_true(vhu_dev_vring_enabled(e.dev, 0));
	assert_false(vhu_dev_vring_enabled(e.dev, 2));
	assert_false(vhu_dev_vring_enabled(e.dev, 4)); /* never reported */
	assert_int_equal(seen.vring_on[4], 0);

	assert_int_equal(cmd_u16(&e, VIRTIO_NET_CTRL_MQ,
				 VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 2),
			 VIRTIO_NET_OK);
	assert_int_equal(seen.vring_on[2], 1);
	assert_int_equal(seen.vring_on[3], 1);
	assert_true(vhu_dev_vring_enabled(e.dev, 3));
	assert_int_equal(filter(&e).queue_pairs, 2);
	assert_int_equal(seen.last.queue_pairs, 2);

	expect_err(&e, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
		   "\0\0", 2);
	expect_err(&e, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
		   "\3\0", 2);
	expect_err(&e, VIRTIO_NET_CTRL_MQ, 1, "\1\0", 2); /* RSS: not ours */

	assert_int_equal(cmd_u16(&e, VIRTIO_NET_CTRL_MQ,
				 VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 1),
			 VIRTIO_NET_OK);
	assert_int_equal(seen.vring_off[2], 1);
	assert_int_equal(seen.vring_off[3], 1);
	assert_false(vhu_dev_vring_enabled(e.dev, 2));
	assert_true(e.dev->running);
	check_data_path(&e);
	env_close(&e);
}

static void
test_vq_pairs(void **state)
{
	(void)state;
	pairs_case(false);
	pairs_case(true);
}

/* ---- the data path never reaches the control vring ---- */

static void
no_burst_case(bool packed)
{
	struct env e;
	struct vtd *d;
	struct vtd_buf b[2];
	struct rte_mbuf *m[4];
	uint32_t lens[1] = { 2048 };

	env_open(&e, packed, ALL_CTRL);
	d = &e.d[e.cv];
	/* a command posted without a kick: only a burst could find it */
	b[0] = (struct vtd_buf){ put(&e, "\0\0\0", 3), 3 };
	b[1] = (struct vtd_buf){ vtd_alloc(d, 1, 1), 1 };
	assert_true(vtd_add_mixed(d, b, 2, 0x2, false) >= 0);
	/* and a receive buffer: what an enqueue would write into */
	assert_true(vtd_post_rx(d, lens, 1, false) >= 0);
	vtd_publish(d);
	/* queue pair 1 would be vrings 2 and 3: 2 is the control vring */
	m[0] = rte_pktmbuf_alloc(pool);
	assert_non_null(m[0]);
	memset(rte_pktmbuf_append(m[0], 64), 0, 64);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(vhu_enqueue_burst(e.dev, 1, m, 1), 0);
		assert_int_equal(vhu_dequeue_burst(e.dev, 1, pool, m + 1, 3), 0);
		assert_int_equal(vhu_dequeue_burst(e.dev, 16, pool, m + 1, 3),
				 0);
	}
	rte_pktmbuf_free(m[0]);
	/* nor may the application take over its kicks */
	assert_int_equal(vhu_vring_notify(e.dev, 2, true), -EINVAL);
	assert_int_equal(vhu_vring_kick_ack(e.dev, 2), -EINVAL);
	assert_int_equal(vtd_used_pending(d), 0);
	assert_int_equal(e.dev->vqs.vq[2]->last_avail_idx, 0);
	assert_false(vhu_dev_vring_broken(e.dev, 2));
	/* the kick has the control side answer both (PROMISC 0: OK; the
	 * receive buffer, all writable: ERR) */
	kick_and_wait(&e);
	assert_true(vtd_used_pending(d) >= 1);
	env_close(&e);
}

static void
test_no_burst_reaches_ctrl(void **state)
{
	(void)state;
	no_burst_case(false);
	no_burst_case(true);
}

/* A command posted before the device starts is answered at start. */
static void
test_answered_at_start(void **state)
{
	struct env e;
	struct vtd *d;
	struct vtd_buf b[2];
	uint32_t id, len;

	(void)state;
	env_open_on(&e, sock1, false, ALL_CTRL, 3, false);
	d = &e.d[e.cv];
	b[0] = (struct vtd_buf){ put(&e, "\0\0\0", 3), 3 };
	b[1] = (struct vtd_buf){ vtd_alloc(d, 1, 1), 1 };
	*vtd_ptr(d, b[1].gpa) = 0xaa;
	assert_true(vtd_add_mixed(d, b, 2, 0x2, false) >= 0);
	vtd_publish(d);
	assert_int_equal(vtd_used_pending(d), 0);
	set_status(&e, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		   VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	assert_true(e.dev->running);
	assert_true(vtd_get_used(d, &id, &len));
	assert_int_equal(*vtd_ptr(d, b[1].gpa), VIRTIO_NET_OK);
	assert_false(filter(&e).promisc);
	env_close(&e);
}

/* ---- the filter predicate ---- */

static bool
passes(const struct vhu_rx_filter *f, const uint8_t dst[6], int vid)
{
	uint8_t fr[64];

	memset(fr, 0, sizeof(fr));
	memcpy(fr, dst, 6);
	fr[6] = 0x52;
	if (vid >= 0) {
		fr[12] = 0x81;
		fr[13] = 0x00;
		fr[14] = (uint8_t)(vid >> 8);
		fr[15] = (uint8_t)vid;
		fr[16] = 0x08;
	} else {
		fr[12] = 0x08;
	}
	return vhu_rx_filter_accept(f, fr, sizeof(fr));
}

static void
test_filter_accept(void **state)
{
	static const uint8_t me[6] = { 0x52, 0x54, 0, 1, 1, 1 };
	static const uint8_t other[6] = { 0x52, 0x54, 0, 9, 9, 9 };
	static const uint8_t listed[6] = { 0x52, 0x54, 0, 7, 7, 7 };
	static const uint8_t mcast[6] = { 0x01, 0, 0x5e, 0, 0, 1 };
	static const uint8_t mcast2[6] = { 0x01, 0, 0x5e, 0, 0, 2 };
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct vhu_rx_filter f;

	(void)state;
	memset(&f, 0, sizeof(f));
	f.promisc = true;
	f.rx_mode = true;
	f.vlan = true;
	/* promiscuous: all, tagged or not */
	assert_true(passes(&f, other, -1));
	assert_true(passes(&f, other, 5));
	f.promisc = false;
	/* no primary MAC known: unicast passes */
	assert_true(passes(&f, other, -1));
	f.has_mac = true;
	memcpy(f.mac, me, 6);
	memcpy(f.uc[0], listed, 6);
	f.n_uc = 1;
	memcpy(f.mc[0], mcast, 6);
	f.n_mc = 1;
	assert_true(passes(&f, me, -1));
	assert_true(passes(&f, listed, -1));
	assert_false(passes(&f, other, -1));
	assert_true(passes(&f, mcast, -1));
	assert_false(passes(&f, mcast2, -1));
	assert_true(passes(&f, bcast, -1));
	/* modes */
	f.alluni = true;
	assert_true(passes(&f, other, -1));
	f.nouni = true;
	assert_false(passes(&f, me, -1));
	f.alluni = f.nouni = false;
	f.allmulti = true;
	assert_true(passes(&f, mcast2, -1));
	f.nomulti = true;
	assert_false(passes(&f, mcast, -1));
	f.allmulti = f.nomulti = false;
	f.nobcast = true;
	assert_false(passes(&f, bcast, -1));
	f.nobcast = false;
	/* VLAN: tagged frames of added ids only */
	assert_false(passes(&f, me, 100));
	f.vlans[100 / 64] |= 1ull << (100 % 64);
	assert_true(passes(&f, me, 100));
	assert_false(passes(&f, me, 101));
	assert_true(passes(&f, me, -1));
	f.vlan = false;
	assert_true(passes(&f, me, 101));
	/* MAC rules off (no CTRL_RX): everything but the VLAN rule */
	f.rx_mode = false;
	assert_true(passes(&f, other, -1));
	/* runts and NULLs pass */
	assert_true(vhu_rx_filter_accept(&f, me, 6));
	assert_true(vhu_rx_filter_accept(NULL, me, 6));
	assert_int_equal(vhu_dev_rx_filter(NULL, &f), -EINVAL);
}

/* CTRL_VQ not offered by default, nor its command classes. */
static void
test_not_offered_by_default(void **state)
{
	struct vhu_socket *s = fe_socket("/nonexistent/vhu-test-ctrl-def", 0);
	uint64_t f = vhu_socket_get_features(s);

	(void)state;
	assert_int_equal(f & ALL_CTRL, 0);
	assert_int_equal(vhu_supported_features() & ALL_CTRL, ALL_CTRL);
	assert_int_equal(vhu_socket_unregister(s), 0);
}

static int
setup(void **state)
{
	struct vhu_socket_params p = { .path = "/nonexistent/vhu-test-ctrl1",
				       .ops = &ops };

	(void)state;
	assert_int_equal(vhu_socket_register(&p, &sock1), 0);
	p.path = "/nonexistent/vhu-test-ctrl2";
	p.max_queue_pairs = 2;
	assert_int_equal(vhu_socket_register(&p, &sock2), 0);
	assert_int_equal(vhu_socket_enable_features(sock1, ALL_CTRL), 0);
	assert_int_equal(vhu_socket_enable_features(sock2, ALL_CTRL), 0);
	pool = rte_pktmbuf_pool_create("ctrl_pool", 1023, 0, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	assert_non_null(pool);
	/* warm up lazily created queues before the baseline */
	{
		struct env e;

		env_open(&e, false, ALL_CTRL);
		env_close(&e);
	}
	base_fds = fe_count_fds();
	return 0;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_offered_by_default),
		cmocka_unit_test(test_filter_accept),
		cmocka_unit_test(test_commands_split),
		cmocka_unit_test(test_commands_packed),
		cmocka_unit_test(test_malformed_split),
		cmocka_unit_test(test_malformed_packed),
		cmocka_unit_test(test_broken),
		cmocka_unit_test(test_vq_pairs),
		cmocka_unit_test(test_no_burst_reaches_ctrl),
		cmocka_unit_test(test_answered_at_start),
	};

	(void)argc;
	return FE_RUN_GROUP(argv[0], "ctrl", tests, setup, NULL);
}
