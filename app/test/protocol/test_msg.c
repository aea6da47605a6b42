/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Message validation, table-driven over every accepted request: each is
 * sent well formed, one byte short, one byte long, with one fd too many,
 * one fd too few (where it takes fds) and, for vring requests, with an
 * out-of-range vring index. Well-formed requests get their reply (or ACK
 * 0); every malformed one gets NACK (ACK 1) and leaves the connection up.
 * After every case the process has exactly the fds and mappings it had
 * before: no path leaks a received fd or a mapping.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include <linux/vhost_types.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include "dev.h"
#include "lifecycle.h"
#include "fe.h"
#include "msg.h"
#include "registry.h"
#include "vhu.h"

#define GUEST_SIZE (1u << 20)

enum vring_field { VR_NONE, VR_STATE, VR_ADDR, VR_U64 };

struct req_case {
	uint32_t req;
	uint32_t size;
	int nfds;              /* well formed */
	int fd_kind;           /* 0 eventfd, 1 memfd */
	enum vring_field vring;
	int reply_size;        /* -1: REPLY_ACK u64 */
	bool prep_region;      /* ADD a region first (REM_MEM_REG) */
};

static const struct req_case cases[] = {
	{ VHU_REQ_GET_FEATURES, 0, 0, 0, VR_NONE, 8, false },
	{ VHU_REQ_SET_FEATURES, 8, 0, 0, VR_NONE, -1, false },
	{ VHU_REQ_SET_OWNER, 0, 0, 0, VR_NONE, -1, false },
	{ VHU_REQ_SET_MEM_TABLE, 8 + 32, 1, 1, VR_NONE, -1, false },
	{ VHU_REQ_SET_LOG_BASE, 16, 1, 1, VR_NONE, 0, false },
	{ VHU_REQ_SET_LOG_FD, 0, 1, 0, VR_NONE, -1, false },
	{ VHU_REQ_SET_VRING_NUM, 8, 0, 0, VR_STATE, -1, false },
	{ VHU_REQ_SET_VRING_ADDR, 40, 0, 0, VR_ADDR, -1, false },
	{ VHU_REQ_SET_VRING_BASE, 8, 0, 0, VR_STATE, -1, false },
	{ VHU_REQ_GET_VRING_BASE, 8, 0, 0, VR_STATE, 8, false },
	{ VHU_REQ_SET_VRING_KICK, 8, 1, 0, VR_U64, -1, false },
	{ VHU_REQ_SET_VRING_CALL, 8, 1, 0, VR_U64, -1, false },
	{ VHU_REQ_SET_VRING_ERR, 8, 1, 0, VR_U64, -1, false },
	{ VHU_REQ_GET_PROTOCOL_FEATURES, 0, 0, 0, VR_NONE, 8, false },
	{ VHU_REQ_SET_PROTOCOL_FEATURES, 8, 0, 0, VR_NONE, -1, false },
	{ VHU_REQ_GET_QUEUE_NUM, 0, 0, 0, VR_NONE, 8, false },
	{ VHU_REQ_SET_VRING_ENABLE, 8, 0, 0, VR_STATE, -1, false },
	{ VHU_REQ_SEND_RARP, 8, 0, 0, VR_NONE, -1, false },
	{ VHU_REQ_NET_SET_MTU, 8, 0, 0, VR_NONE, -1, false },
	{ VHU_REQ_GET_MAX_MEM_SLOTS, 0, 0, 0, VR_NONE, 8, false },
	{ VHU_REQ_ADD_MEM_REG, 40, 1, 1, VR_NONE, -1, false },
	{ VHU_REQ_REM_MEM_REG, 40, 0, 0, VR_NONE, -1, true },
	{ VHU_REQ_SET_STATUS, 8, 0, 0, VR_NONE, -1, false },
	{ VHU_REQ_GET_STATUS, 0, 0, 0, VR_NONE, 8, false },
	{ VHU_REQ_RESET_OWNER, 0, 0, 0, VR_NONE, -1, false },
};

static struct vhu_socket *sock;
static int base_fds, base_maps;

/* Hand one message to the entry point; read the reply it produced. */
static int
deliver(struct fe_conn *c, uint32_t req, uint32_t flags, const void *payload,
	uint32_t size, int *fds, int nfds, struct vhu_msg_hdr *rh,
	void *reply, size_t room, int *reply_size)
{
	int ret = fe_handle(c->dev, req, flags, payload, size, fds, nfds);

	if (reply_size != NULL)
		*reply_size = fe_recv(c->peer, rh, reply, room, 0);
	return ret;
}

static uint64_t
get_u64(struct fe_conn *c, uint32_t req)
{
	struct vhu_msg_hdr rh;
	uint64_t v = 0;
	int rs;

	assert_int_equal(deliver(c, req, VHU_MSG_VERSION, NULL, 0, NULL, 0,
				 &rh, &v, sizeof(v), &rs), 0);
	assert_int_equal(rs, 8);
	assert_int_equal(rh.request, req);
	assert_true(rh.flags & VHU_MSG_F_REPLY);
	return v;
}

static void
conn_open(struct fe_conn *c)
{
	assert_true(fe_conn_negotiate(c, sock) &
		    (1ULL << VHU_PROTOCOL_F_REPLY_ACK));
}

static int
make_fd(int kind)
{
	int fd = kind == 1 ? fe_memfd(GUEST_SIZE) : fe_eventfd();

	assert_true(fd >= 0);
	return fd;
}

/* A well-formed payload for each request. */
static void
fill_payload(const struct req_case *k, union vhu_msg_payload *p,
	     uint32_t vring)
{
	memset(p, 0, sizeof(*p));
	switch (k->req) {
	case VHU_REQ_SET_FEATURES:
		p->u64 = vhu_socket_get_features(sock);
		break;
	case VHU_REQ_SET_PROTOCOL_FEATURES:
		p->u64 = vhu_socket_get_protocol_features(sock);
		break;
	case VHU_REQ_SET_MEM_TABLE:
		p->mem.nregions = 1;
		p->mem.r[0] = (struct vhu_msg_region){ 0x100000, GUEST_SIZE,
						       0x7f0000000000, 0 };
		break;
	case VHU_REQ_ADD_MEM_REG:
	case VHU_REQ_REM_MEM_REG:
		p->reg.r = (struct vhu_msg_region){ 0x400000, GUEST_SIZE,
						    0x7f1000000000, 0 };
		break;
	case VHU_REQ_SET_LOG_BASE:
		p->log.size = 4096;
		break;
	case VHU_REQ_SET_VRING_NUM:
		p->state = (struct vhu_msg_vring_state){ vring, 256 };
		break;
	case VHU_REQ_SET_VRING_BASE:
	case VHU_REQ_GET_VRING_BASE:
		p->state = (struct vhu_msg_vring_state){ vring, 0 };
		break;
	case VHU_REQ_SET_VRING_ENABLE:
		p->state = (struct vhu_msg_vring_state){ vring, 1 };
		break;
	case VHU_REQ_SET_VRING_ADDR:
		p->addr = (struct vhu_msg_vring_addr){ vring, 0, 0x7f0000000000,
			0x7f0000002000, 0x7f0000001000, 0 };
		break;
	case VHU_REQ_SET_VRING_KICK:
	case VHU_REQ_SET_VRING_CALL:
	case VHU_REQ_SET_VRING_ERR:
		p->u64 = vring;
		break;
	case VHU_REQ_SEND_RARP:
		memcpy(p->bytes, "\x52\x54\x00\x12\x34\x56", 6);
		break;
	case VHU_REQ_NET_SET_MTU:
		p->u64 = 1500;
		break;
	case VHU_REQ_SET_STATUS:
		p->u64 = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
		break;
	default:
		break;
	}
}

enum variant { WELL_FORMED, SHORT, LONG, EXTRA_FD, MISSING_FD, BAD_VRING };
static const char *const variant_name[] = {
	"well-formed", "short", "long", "extra fd", "missing fd", "bad vring",
};

static bool
variant_applies(const struct req_case *k, enum variant v)
{
	switch (v) {
	case SHORT:
		return k->size > 0;
	case MISSING_FD:
		return k->nfds > 0;
	case BAD_VRING:
		return k->vring != VR_NONE;
	default:
		return true;
	}
}

static void
run_case(const struct req_case *k, enum variant v)
{
	struct fe_conn c;
	union vhu_msg_payload payload, reply;
	struct vhu_msg_hdr rh;
	int fds[4], nfds = k->nfds, rs;
	uint32_t size = k->size;
	uint32_t vring = v == BAD_VRING ? 2 * VHU_MAX_QUEUE_PAIRS : 0;

	conn_open(&c);
	if (k->prep_region) {
		struct vhu_msg_mem_reg r = {
			.r = { 0x400000, GUEST_SIZE, 0x7f1000000000, 0 },
		};
		int fd = make_fd(1);

		assert_int_equal(deliver(&c, VHU_REQ_ADD_MEM_REG, VHU_MSG_VERSION,
					 &r, sizeof(r), &fd, 1, NULL, NULL, 0,
					 NULL), 0);
	}
	fill_payload(k, &payload, vring);
	if (v == SHORT)
		size--;
	if (v == LONG)
		size++;
	if (v == EXTRA_FD)
		nfds += k->req == VHU_REQ_REM_MEM_REG ? 2 : 1; /* 0..1 allowed */
	if (v == MISSING_FD)
		nfds--;
	for (int i = 0; i < nfds; i++)
		fds[i] = make_fd(k->fd_kind);

	assert_int_equal(deliver(&c, k->req,
				 VHU_MSG_VERSION | VHU_MSG_F_NEED_REPLY,
				 &payload, size, fds, nfds, &rh, &reply,
				 sizeof(reply), &rs), 0);
	if (v == WELL_FORMED && k->reply_size >= 0) {
		if (rs != k->reply_size)
			fail_msg("%s %s: reply of %d bytes, expected %d",
				 vhu_msg_name(k->req), variant_name[v], rs,
				 k->reply_size);
	} else {
		uint64_t ack;
		uint64_t want = v == WELL_FORMED ? 0 : 1;

		if (rs != 8)
			fail_msg("%s %s: no REPLY_ACK (got %d)",
				 vhu_msg_name(k->req), variant_name[v], rs);
		memcpy(&ack, &reply, 8);
		if (ack != want)
			fail_msg("%s %s: ACK %" PRIu64 ", expected %" PRIu64,
				 vhu_msg_name(k->req), variant_name[v], ack, want);
	}
	assert_int_equal(rh.request, k->req);
	/* nothing more queued: exactly one reply per need_reply request */
	assert_int_equal(fe_recv(c.peer, &rh, &reply, sizeof(reply), 0),
			 -ETIMEDOUT);
	fe_conn_close(&c);
	if (fe_count_fds() != base_fds || fe_count_maps() != base_maps)
		fail_msg("%s %s: fds %d (was %d), maps %d (was %d)",
			 vhu_msg_name(k->req), variant_name[v], fe_count_fds(),
			 base_fds, fe_count_maps(), base_maps);
}

static void
test_every_request(void **state)
{
	(void)state;
	for (size_t i = 0; i < RTE_DIM(cases); i++)
		for (int v = WELL_FORMED; v <= BAD_VRING; v++)
			if (variant_applies(&cases[i], v))
				run_case(&cases[i], v);
}

/* Every request id of the header's range is either handled or refused. */
static void
test_unknown_requests(void **state)
{
	(void)state;
	for (uint32_t req = 0; req < 64; req++) {
		struct fe_conn c;
		uint8_t reply[64];
		struct vhu_msg_hdr rh;
		bool known = false;
		int fd, rs;
		uint64_t ack;

		for (size_t i = 0; i < RTE_DIM(cases); i++)
			known |= cases[i].req == req;
		if (known)
			continue;
		conn_open(&c);
		fd = make_fd(0);
		assert_int_equal(deliver(&c, req, VHU_MSG_VERSION |
					 VHU_MSG_F_NEED_REPLY, NULL, 0, &fd, 1,
					 &rh, reply, sizeof(reply), &rs), 0);
		assert_int_equal(rs, 8);
		memcpy(&ack, reply, 8);
		assert_int_equal(ack, 1);
		fe_conn_close(&c);
	}
	assert_int_equal(fe_count_fds(), base_fds);
}

/* Protocol-feature-gated requests are refused until negotiated. */
static void
test_gated_requests(void **state)
{
	static const uint32_t gated[] = {
		VHU_REQ_GET_QUEUE_NUM, VHU_REQ_SEND_RARP, VHU_REQ_NET_SET_MTU,
		VHU_REQ_GET_MAX_MEM_SLOTS, VHU_REQ_SET_STATUS,
	};
	struct fe_conn c;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	c.dev = vhu_dev_alloc(sock, sv[0]);
	c.peer = sv[1];
	for (size_t i = 0; i < RTE_DIM(gated); i++) {
		uint64_t v = 1500;
		struct vhu_msg_hdr rh;
		uint64_t r;
		int rs;

		/* no REPLY_ACK negotiated: a refusal sends nothing at all */
		assert_int_equal(deliver(&c, gated[i], VHU_MSG_VERSION |
					 VHU_MSG_F_NEED_REPLY, &v, 8, NULL, 0,
					 &rh, &r, sizeof(r), &rs), 0);
		assert_int_equal(rs, -ETIMEDOUT);
	}
	assert_int_equal(c.dev->mtu, 0);
	fe_conn_close(&c);
}

/*
 * SET_FEATURES after negotiation: refused while the device runs (the
 * negotiated set stays, the connection too), taken once it stopped even
 * with FEATURES_OK and DRIVER_OK set, as DPDK's virtio_user sends it when
 * its port is reconfigured.
 */
static void
test_features_renegotiation(void **state)
{
	const uint64_t csum = 1ULL << VIRTIO_NET_F_CSUM;
	struct fe_conn c;
	uint64_t f, less;

	(void)state;
	fe_conn_negotiate(&c, sock);
	f = c.dev->features;
	assert_true(f & csum);
	less = f & ~csum;
	c.dev->status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	c.dev->running = true;
	assert_int_equal(deliver(&c, VHU_REQ_SET_FEATURES, VHU_MSG_VERSION,
				 &less, 8, NULL, 0, NULL, NULL, 0, NULL), 0);
	assert_true(c.dev->features == f);
	c.dev->running = false;
	assert_int_equal(deliver(&c, VHU_REQ_SET_FEATURES, VHU_MSG_VERSION,
				 &less, 8, NULL, 0, NULL, NULL, 0, NULL), 0);
	assert_true(c.dev->features == less);
	fe_conn_close(&c);
}

/* A bad header version means the stream is not vhost-user: close. */
static void
test_bad_version(void **state)
{
	struct fe_conn c;
	int fd;

	(void)state;
	conn_open(&c);
	fd = make_fd(0);
	assert_int_equal(deliver(&c, VHU_REQ_SET_OWNER, 2, NULL, 0, &fd, 1,
				 NULL, NULL, 0, NULL), -1);
	fe_conn_close(&c);
	assert_int_equal(fe_count_fds(), base_fds);
}

/* SET_MEM_TABLE values: counts, overflow, overlap, short files, non-files. */
static void
test_mem_table_values(void **state)
{
	struct {
		const char *what;
		uint32_t n;
		struct vhu_msg_region r[2];
		bool eventfd;
		uint64_t want;
	} t[] = {
		{ "one region", 1, { { 0, GUEST_SIZE, 0x10000000, 0 } }, false, 0 },
		{ "gpa wraps", 1, { { UINT64_MAX - 10, GUEST_SIZE, 0, 0 } }, false, 1 },
		{ "uaddr wraps", 1, { { 0, GUEST_SIZE, UINT64_MAX - 10, 0 } }, false, 1 },
		{ "offset wraps", 1, { { 0, GUEST_SIZE, 0, UINT64_MAX - 10 } }, false, 1 },
		{ "zero size", 1, { { 0, 0, 0, 0 } }, false, 1 },
		{ "beyond file", 1, { { 0, 2 * GUEST_SIZE, 0, 0 } }, false, 1 },
		{ "offset beyond file", 1, { { 0, GUEST_SIZE, 0, 4096 } }, false, 1 },
		{ "not a file", 1, { { 0, 4096, 0, 0 } }, true, 1 },
		{ "overlap", 2, { { 0, GUEST_SIZE, 0, 0 },
				  { GUEST_SIZE / 2, GUEST_SIZE, 1ULL << 32, 0 } },
		  false, 1 },
		{ "two regions", 2, { { GUEST_SIZE, GUEST_SIZE, 0, 0 },
				      { 0, GUEST_SIZE, 1ULL << 32, 0 } }, false, 0 },
	};

	(void)state;
	for (size_t i = 0; i < RTE_DIM(t); i++) {
		struct vhu_msg_mem_table m = { .nregions = t[i].n };
		struct fe_conn c;
		int fds[2];
		int64_t ack;
		uint8_t reply[8];
		struct vhu_msg_hdr rh;
		int rs;

		conn_open(&c);
		for (uint32_t j = 0; j < t[i].n; j++) {
			m.r[j] = t[i].r[j];
			fds[j] = make_fd(t[i].eventfd ? 0 : 1);
		}
		assert_int_equal(deliver(&c, VHU_REQ_SET_MEM_TABLE,
					 VHU_MSG_VERSION | VHU_MSG_F_NEED_REPLY,
					 &m, 8 + 32 * t[i].n, fds, (int)t[i].n,
					 &rh, reply, sizeof(reply), &rs), 0);
		assert_int_equal(rs, 8);
		memcpy(&ack, reply, 8);
		if ((uint64_t)ack != t[i].want)
			fail_msg("%s: ACK %" PRId64, t[i].what, ack);
		if (t[i].want == 0) {
			assert_int_equal(c.dev->mem.nregions, t[i].n);
			/* sorted by guest-physical address */
			for (uint32_t j = 1; j < t[i].n; j++)
				assert_true(c.dev->mem.r[j - 1].gpa <
					    c.dev->mem.r[j].gpa);
		} else {
			assert_int_equal(c.dev->mem.nregions, 0);
		}
		fe_conn_close(&c);
		if (fe_count_fds() != base_fds || fe_count_maps() != base_maps)
			fail_msg("%s: leaked fds or mappings", t[i].what);
	}
}

/* A replaced table is unmapped; the new one is used. */
static void
test_mem_table_replace(void **state)
{
	struct fe_conn c;
	int before;

	(void)state;
	conn_open(&c);
	before = fe_count_maps();
	for (int round = 0; round < 5; round++) {
		struct vhu_msg_mem_table m = { .nregions = 1 };
		int fd = make_fd(1);

		m.r[0] = (struct vhu_msg_region){ round * 0x1000000ULL,
						  GUEST_SIZE, 0x1000, 0 };
		assert_int_equal(deliver(&c, VHU_REQ_SET_MEM_TABLE,
					 VHU_MSG_VERSION, &m, 40, &fd, 1,
					 NULL, NULL, 0, NULL), 0);
		assert_int_equal(c.dev->mem.nregions, 1);
		assert_int_equal(c.dev->mem.r[0].gpa, round * 0x1000000ULL);
		/* one mapping at a time, whatever the round */
		assert_true(fe_count_maps() <= before + 1);
	}
	fe_conn_close(&c);
	assert_int_equal(fe_count_maps(), base_maps);
}

/* ADD/REM_MEM_REG up to the slot count we announce. */
static void
test_mem_slots(void **state)
{
	struct fe_conn c;
	uint64_t slots;
	int memfd;

	(void)state;
	conn_open(&c);
	slots = get_u64(&c, VHU_REQ_GET_MAX_MEM_SLOTS);
	assert_true(slots >= 509);
	memfd = make_fd(1);
	for (uint64_t i = 0; i <= slots; i++) {
		struct vhu_msg_mem_reg r = {
			.r = { i * 0x10000, 0x10000, 0x100000000 + i * 0x10000,
			       0 },
		};
		int fd = dup(memfd);
		int64_t want = i < slots ? 0 : 1;
		uint8_t reply[8];
		struct vhu_msg_hdr rh;
		int rs;
		uint64_t ack;

		assert_int_equal(deliver(&c, VHU_REQ_ADD_MEM_REG,
					 VHU_MSG_VERSION | VHU_MSG_F_NEED_REPLY,
					 &r, sizeof(r), &fd, 1, &rh, reply,
					 sizeof(reply), &rs), 0);
		memcpy(&ack, reply, 8);
		assert_int_equal(ack, want);
	}
	assert_int_equal(c.dev->mem.nregions, slots);
	/* remove every other region, then check ordering and lookups */
	for (uint64_t i = 0; i < slots; i += 2) {
		struct vhu_msg_mem_reg r = {
			.r = { i * 0x10000, 0x10000, 0x100000000 + i * 0x10000,
			       0 },
		};

		assert_int_equal(deliver(&c, VHU_REQ_REM_MEM_REG,
					 VHU_MSG_VERSION, &r, sizeof(r), NULL, 0,
					 NULL, NULL, 0, NULL), 0);
	}
	assert_int_equal(c.dev->mem.nregions, slots / 2);
	for (uint32_t i = 0; i < c.dev->mem.nregions; i++) {
		uint32_t hint = 0;
		uint64_t len = 0x20000;
		uint64_t gpa = c.dev->mem.r[i].gpa + 0x100;

		assert_non_null(vhu_gpa_to_hva(&c.dev->mem, &hint, gpa, &len));
		assert_int_equal(len, 0x10000 - 0x100);
		len = 1;
		assert_null(vhu_gpa_to_hva(&c.dev->mem, &hint,
					   gpa - 0x10000, &len));
	}
	close(memfd);
	fe_conn_close(&c);
	assert_int_equal(fe_count_fds(), base_fds);
	assert_int_equal(fe_count_maps(), base_maps);
}

/* Send one memory request with NEED_REPLY; its REPLY_ACK status. */
static uint64_t
mem_ack(struct fe_conn *c, uint32_t req, const void *payload, uint32_t size,
	int *fds, int nfds)
{
	struct vhu_msg_hdr rh;
	uint8_t reply[8];
	uint64_t ack;
	int rs;

	assert_int_equal(deliver(c, req, VHU_MSG_VERSION | VHU_MSG_F_NEED_REPLY,
				 payload, size, fds, nfds, &rh, reply,
				 sizeof(reply), &rs), 0);
	assert_int_equal(rs, 8);
	memcpy(&ack, reply, 8);
	return ack;
}

/*
 * QEMU's multiqueue: one vhost device per queue pair on one connection,
 * each sending ADD_MEM_REG for the same regions (and REM_MEM_REG on
 * teardown). A repeat of a mapped region (same gpa, size, uaddr, offset
 * and file) is accepted without a second mapping; it stays mapped until
 * its last adder removed it; a different region over the same guest
 * addresses is still refused.
 */
static void
test_mem_reg_repeated(void **state)
{
	struct vhu_msg_mem_reg r = {
		.r = { 0x100000, GUEST_SIZE, 0x7f0000000000, 0 },
	};
	struct vhu_msg_mem_reg other;
	struct fe_conn c;
	int memfd, fd, maps, fds;
	uint32_t hint = 0;
	uint64_t len = 64;

	(void)state;
	conn_open(&c);
	memfd = make_fd(1);
	maps = fe_count_maps();
	fds = fe_count_fds();
	for (int qp = 0; qp < 4; qp++) {
		fd = dup(memfd);
		assert_int_equal(mem_ack(&c, VHU_REQ_ADD_MEM_REG, &r, sizeof(r),
					 &fd, 1), 0);
		assert_int_equal(c.dev->mem.nregions, 1);
		assert_int_equal(fe_count_maps(), maps + 1);
		assert_int_equal(fe_count_fds(), fds); /* every dup closed */
	}
	/* same guest range, other file, offset, size or frontend address */
	for (int v = 0; v < 4; v++) {
		other = r;
		fd = v == 0 ? make_fd(1) : dup(memfd);
		if (v == 1) {
			other.r.mmap_offset = 4096;
			other.r.size -= 4096;
		}
		if (v == 2)
			other.r.size /= 2;
		if (v == 3)
			other.r.uaddr += 0x1000000;
		if (mem_ack(&c, VHU_REQ_ADD_MEM_REG, &other, sizeof(other),
			    &fd, 1) != 1)
			fail_msg("overlapping variant %d accepted", v);
		assert_int_equal(c.dev->mem.nregions, 1);
	}
	assert_int_equal(fe_count_maps(), maps + 1);
	/* three of four adders remove it: still mapped and translating */
	for (int qp = 0; qp < 3; qp++) {
		assert_int_equal(mem_ack(&c, VHU_REQ_REM_MEM_REG, &r, sizeof(r),
					 NULL, 0), 0);
		assert_int_equal(c.dev->mem.nregions, 1);
		assert_non_null(vhu_gpa_to_hva(&c.dev->mem, &hint, 0x100000,
					       &len));
	}
	assert_int_equal(fe_count_maps(), maps + 1);
	assert_int_equal(mem_ack(&c, VHU_REQ_REM_MEM_REG, &r, sizeof(r),
				 NULL, 0), 0);
	assert_int_equal(c.dev->mem.nregions, 0);
	assert_int_equal(fe_count_maps(), maps);
	assert_int_equal(mem_ack(&c, VHU_REQ_REM_MEM_REG, &r, sizeof(r),
				 NULL, 0), 1);
	/* added twice, the connection closes: unmapped once, nothing left */
	for (int qp = 0; qp < 2; qp++) {
		fd = dup(memfd);
		assert_int_equal(mem_ack(&c, VHU_REQ_ADD_MEM_REG, &r, sizeof(r),
					 &fd, 1), 0);
	}
	close(memfd);
	fe_conn_close(&c);
	assert_int_equal(fe_count_fds(), base_fds);
	assert_int_equal(fe_count_maps(), base_maps);
}

/*
 * SET_MEM_TABLE carrying the whole 8-slot table, unused slots zeroed, is
 * the same table; a non-zero unused slot makes it malformed.
 */
static void
test_mem_table_zero_padded(void **state)
{
	(void)state;
	for (int dirty = 0; dirty < 2; dirty++) {
		struct vhu_msg_mem_table m = { .nregions = 1 };
		struct fe_conn c;
		int fd = make_fd(1);

		conn_open(&c);
		m.r[0] = (struct vhu_msg_region){ 0, GUEST_SIZE, 0x10000000, 0 };
		if (dirty)
			m.r[5].gpa = 0x1000000;
		assert_int_equal(mem_ack(&c, VHU_REQ_SET_MEM_TABLE, &m,
					 sizeof(m), &fd, 1), dirty ? 1 : 0);
		assert_int_equal(c.dev->mem.nregions, dirty ? 0 : 1);
		fe_conn_close(&c);
	}
	assert_int_equal(fe_count_fds(), base_fds);
	assert_int_equal(fe_count_maps(), base_maps);
}

/* Every byte of b[from, to) equals v. */
static bool
bytes_are(const uint8_t *b, size_t from, size_t to, uint8_t v)
{
	for (size_t i = from; i < to; i++)
		if (b[i] != v)
			return false;
	return true;
}

/*
 * vhu_dev_vring_stats() and the caller's struct size (vhu.h): a size below
 * the first version is refused with nothing written; otherwise the first
 * min(size, library sizeof) bytes are the counters in ABI order, the rest
 * up to size is zero (a caller built against a newer vhu.h), and no byte
 * past size is touched. Once counters are added, the VHU_VRING_STATS_SIZE_V1
 * case is an old caller's short struct: it must get only its prefix.
 */
static void
test_vring_stats_size(void **state)
{
	const size_t lib = sizeof(struct vhu_vring_stats);
	const struct vhu_vring_stats ref = {
		.packets = 1, .bytes = 2, .drops_no_buf = 3, .desc_errors = 4,
		.kicks = 5, .calls = 6, .broken = 7, .drops_mtu = 8,
		.drops_bad_hdr = 9, .sw_cksums = 10, .sw_segmented = 11,
	};
	const size_t short_sizes[] = { 0, 1, 8, VHU_VRING_STATS_SIZE_V1 - 1 };
	struct vhu_msg_vring_state vs = { 1, 256 };
	union {
		uint64_t u64[32];
		uint8_t b[256];
	} buf;
	struct vhu_vring_stats *st = (struct vhu_vring_stats *)buf.u64;
	const uint8_t canary = 0xa5;
	struct fe_conn c;

	(void)state;
	assert_true(lib + 64 <= sizeof(buf));
	conn_open(&c);
	assert_int_equal(deliver(&c, VHU_REQ_SET_VRING_NUM, VHU_MSG_VERSION,
				 &vs, 8, NULL, 0, NULL, NULL, 0, NULL), 0);
	assert_non_null(c.dev->vqs.vq[1]);
	c.dev->vqs.vq[1]->stats = ref;

	/* too short for any version: refused, untouched */
	for (size_t i = 0; i < RTE_DIM(short_sizes); i++) {
		memset(buf.b, canary, sizeof(buf));
		assert_int_equal(vhu_dev_vring_stats(c.dev, 1, st,
						     short_sizes[i]),
				 -EINVAL);
		assert_true(bytes_are(buf.b, 0, sizeof(buf), canary));
	}

	/* the first version: its 7 counters at their ABI offsets, no more */
	memset(buf.b, canary, sizeof(buf));
	assert_int_equal(vhu_dev_vring_stats(c.dev, 1, st,
					     VHU_VRING_STATS_SIZE_V1),
			 VHU_VRING_STATS_SIZE_V1);
	for (int i = 0; i < 7; i++)
		assert_int_equal(buf.u64[i], i + 1);
	assert_true(bytes_are(buf.b, VHU_VRING_STATS_SIZE_V1, sizeof(buf),
			      canary));

	/* every size from the first version to a caller 64 bytes newer */
	for (size_t size = VHU_VRING_STATS_SIZE_V1; size <= lib + 64; size++) {
		size_t n = RTE_MIN(size, lib);

		memset(buf.b, canary, sizeof(buf));
		assert_int_equal(vhu_dev_vring_stats(c.dev, 1, st, size),
				 (int)n);
		assert_memory_equal(buf.b, &ref, n);
		assert_true(bytes_are(buf.b, n, size, 0));
		assert_true(bytes_are(buf.b, size, sizeof(buf), canary));
	}

	/* bad handle, buffer or vring index: refused, untouched */
	memset(buf.b, canary, sizeof(buf));
	assert_int_equal(vhu_dev_vring_stats(NULL, 1, st, lib), -EINVAL);
	assert_int_equal(vhu_dev_vring_stats(c.dev, 1, NULL, lib), -EINVAL);
	/* the last slot is the control vring's (vq.h: VHU_MAX_VRINGS) */
	assert_int_equal(vhu_dev_vring_stats(c.dev, VHU_MAX_VRINGS, st, lib),
			 -EINVAL);
	assert_true(bytes_are(buf.b, 0, sizeof(buf), canary));
	fe_conn_close(&c);
}

static int
setup(void **state)
{
	(void)state;
	sock = fe_socket("/nonexistent/vhu-test-msg", 0);
	/* warm up allocations (queues, lazily created) before the baseline */
	{
		struct fe_conn c;
		struct vhu_msg_vring_state st;

		conn_open(&c);
		for (uint32_t i = 0; i < 2 * VHU_MAX_QUEUE_PAIRS; i++) {
			st = (struct vhu_msg_vring_state){ i, 256 };
			deliver(&c, VHU_REQ_SET_VRING_NUM, VHU_MSG_VERSION, &st,
				8, NULL, 0, NULL, NULL, 0, NULL);
		}
		fe_conn_close(&c);
	}
	base_fds = fe_count_fds();
	base_maps = fe_count_maps();
	return 0;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_request),
		cmocka_unit_test(test_unknown_requests),
		cmocka_unit_test(test_gated_requests),
		cmocka_unit_test(test_bad_version),
		cmocka_unit_test(test_features_renegotiation),
		cmocka_unit_test(test_mem_table_values),
		cmocka_unit_test(test_mem_table_replace),
		cmocka_unit_test(test_mem_slots),
		cmocka_unit_test(test_mem_reg_repeated),
		cmocka_unit_test(test_mem_table_zero_padded),
		cmocka_unit_test(test_vring_stats_size),
	};

	(void)argc;
	return FE_RUN_GROUP(argv[0], "msg", tests, setup, NULL);
}
