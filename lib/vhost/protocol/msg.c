/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The message entry point and the rule table.
 *
 * Security model of this file: the frontend is not trusted. Every message
 * is checked against its request's rule row before any handler sees it:
 *   - header version is 1 (anything else: the stream is not vhost-user,
 *     the connection is closed);
 *   - the request is one we offer, and the protocol feature it needs is
 *     negotiated (otherwise: "not supported", rejected);
 *   - the payload has exactly the size the request defines (the reader
 *     already refused anything larger than the largest payload);
 *   - the number of fds is exactly what the request carries;
 *   - a vring index is below the device's vring count.
 * A rejected message has all its fds closed and, if the frontend asked for
 * REPLY_ACK, a failure status; the connection stays up. Handlers then
 * check values (ranges, overlaps, addresses).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/vhost_types.h>

#include "handlers.h"
#include "msg.h"
#include "postcopy.h"
#include "unix_io.h"
#include "registry.h"
#include "vhu_log.h"

enum vring_src {
	VRING_NONE = 0,
	VRING_STATE,    /* struct vhu_msg_vring_state.index */
	VRING_ADDR,     /* struct vhu_msg_vring_addr.index */
	VRING_U64,      /* u64 bits 0-7; bit 8 says "no fd" */
};

#define SIZE_MEM_TABLE UINT32_MAX /* 8 + 32 * nregions, nregions fds */
#define NO_PF (-1)
#define OFFER_PF (-2) /* needs PROTOCOL_FEATURES offered, not negotiated */

struct msg_rule {
	const char *name;
	vhu_msg_handler handler;
	uint32_t size;
	uint8_t min_fds, max_fds;
	uint8_t vring;            /* enum vring_src */
	int8_t pf;                /* protocol feature the request needs */
	bool has_reply;           /* answers with a body of its own */
};

#define RULE(req, fn, sz, fmin, fmax, vr, feat, reply) \
	[VHU_REQ_ ## req] = { #req, vhu_handle_ ## fn, sz, fmin, fmax, vr, \
			      feat, reply }

static const struct msg_rule rules[VHU_REQ_MAX] = {
	RULE(GET_FEATURES, get_features, 0, 0, 0, VRING_NONE, NO_PF, true),
	RULE(SET_FEATURES, set_features, 8, 0, 0, VRING_NONE, NO_PF, false),
	RULE(SET_OWNER, set_owner, 0, 0, 0, VRING_NONE, NO_PF, false),
	RULE(RESET_OWNER, reset_owner, 0, 0, 0, VRING_NONE, NO_PF, false),
	RULE(SET_MEM_TABLE, set_mem_table, SIZE_MEM_TABLE, 1,
	     VHU_MEM_TABLE_MAX, VRING_NONE, NO_PF, false),
	RULE(SET_LOG_BASE, set_log_base, sizeof(struct vhu_msg_log), 1, 1,
	     VRING_NONE, VHU_PROTOCOL_F_LOG_SHMFD, true),
	RULE(SET_LOG_FD, set_log_fd, 0, 1, 1, VRING_NONE, NO_PF, false),
	RULE(SET_VRING_NUM, set_vring_num, 8, 0, 0, VRING_STATE, NO_PF, false),
	RULE(SET_VRING_ADDR, set_vring_addr, sizeof(struct vhu_msg_vring_addr),
	     0, 0, VRING_ADDR, NO_PF, false),
	RULE(SET_VRING_BASE, set_vring_base, 8, 0, 0, VRING_STATE, NO_PF, false),
	RULE(GET_VRING_BASE, get_vring_base, 8, 0, 0, VRING_STATE, NO_PF, true),
	RULE(SET_VRING_KICK, set_vring_kick, 8, 0, 1, VRING_U64, NO_PF, false),
	RULE(SET_VRING_CALL, set_vring_call, 8, 0, 1, VRING_U64, NO_PF, false),
	RULE(SET_VRING_ERR, set_vring_err, 8, 0, 1, VRING_U64, NO_PF, false),
	RULE(GET_PROTOCOL_FEATURES, get_protocol_features, 0, 0, 0, VRING_NONE,
	     OFFER_PF, true),
	RULE(SET_PROTOCOL_FEATURES, set_protocol_features, 8, 0, 0, VRING_NONE,
	     OFFER_PF, false),
	RULE(GET_QUEUE_NUM, get_queue_num, 0, 0, 0, VRING_NONE,
	     VHU_PROTOCOL_F_MQ, true),
	RULE(SET_VRING_ENABLE, set_vring_enable, 8, 0, 0, VRING_STATE, NO_PF,
	     false),
	RULE(SEND_RARP, send_rarp, 8, 0, 0, VRING_NONE, VHU_PROTOCOL_F_RARP,
	     false),
	RULE(NET_SET_MTU, net_set_mtu, 8, 0, 0, VRING_NONE,
	     VHU_PROTOCOL_F_NET_MTU, false),
	RULE(SET_BACKEND_REQ_FD, set_backend_req_fd, 0, 1, 1, VRING_NONE,
	     VHU_PROTOCOL_F_BACKEND_REQ, false),
	/* needs VIRTIO_F_ACCESS_PLATFORM negotiated: checked by the handler */
	RULE(IOTLB_MSG, iotlb_msg, sizeof(struct vhost_iotlb_msg), 0, 0,
	     VRING_NONE, NO_PF, false),
	/* each answers with a body of its own (ADVISE: the fd alone) */
	RULE(POSTCOPY_ADVISE, postcopy_advise, 0, 0, 0, VRING_NONE,
	     VHU_PROTOCOL_F_PAGEFAULT, true),
	RULE(POSTCOPY_LISTEN, postcopy_listen, 0, 0, 0, VRING_NONE,
	     VHU_PROTOCOL_F_PAGEFAULT, false),
	RULE(POSTCOPY_END, postcopy_end, 0, 0, 0, VRING_NONE,
	     VHU_PROTOCOL_F_PAGEFAULT, true),
	RULE(GET_MAX_MEM_SLOTS, get_max_mem_slots, 0, 0, 0, VRING_NONE,
	     VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS, true),
	RULE(ADD_MEM_REG, add_mem_reg, sizeof(struct vhu_msg_mem_reg), 1, 1,
	     VRING_NONE, VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS, false),
	/* QEMU sends the region's fd along; it is accepted and closed */
	RULE(REM_MEM_REG, rem_mem_reg, sizeof(struct vhu_msg_mem_reg), 0, 1,
	     VRING_NONE, VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS, false),
	RULE(SET_STATUS, set_status, 8, 0, 0, VRING_NONE, VHU_PROTOCOL_F_STATUS,
	     false),
	RULE(GET_STATUS, get_status, 0, 0, 0, VRING_NONE, VHU_PROTOCOL_F_STATUS,
	     true),
};

const char *
vhu_msg_name(uint32_t request)
{
	static __thread char buf[16];

	if (request < VHU_REQ_MAX && rules[request].name != NULL)
		return rules[request].name;
	snprintf(buf, sizeof(buf), "REQ_%u", request);
	return buf;
}

int
vhu_msg_reply(struct vhu_dev *dev, uint32_t req, const void *body,
	      uint32_t size)
{
	return vhu_msg_reply_fds(dev, req, body, size, NULL, 0);
}

int
vhu_msg_reply_fds(struct vhu_dev *dev, uint32_t req, const void *body,
		  uint32_t size, const int *fds, int nfds)
{
	struct {
		struct vhu_msg_hdr hdr;
		union vhu_msg_payload payload;
	} __attribute__((packed)) m;
	int ret;

	if (size > sizeof(m.payload))
		return -EINVAL;
	m.hdr.request = req;
	m.hdr.flags = VHU_MSG_VERSION | VHU_MSG_F_REPLY;
	m.hdr.size = size;
	if (size > 0)
		memcpy(&m.payload, body, size);
	if (dev->fd < 0)
		return -ENOTCONN;
	ret = vhu_unix_send(dev->fd, &m, sizeof(m.hdr) + size, fds, nfds);
	if (ret < 0)
		VHU_LOG(ERR, "%s: cannot reply to %s: %s", dev->name,
			vhu_msg_name(req), strerror(-ret));
	return ret;
}

static void
close_fds(int *fds, int nfds)
{
	for (int i = 0; i < nfds; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/*
 * Some frontends send SET_MEM_TABLE with the whole 8-slot table and the
 * slots past nregions zeroed (DPDK's backend accepts it): the same table,
 * so taken as such; a non-zero unused slot is refused.
 */
static bool
mem_table_zero_padded(const union vhu_msg_payload *p, uint32_t size)
{
	static const struct vhu_msg_region zero;

	if (size != sizeof(struct vhu_msg_mem_table))
		return false;
	for (uint32_t i = p->mem.nregions; i < VHU_MEM_TABLE_MAX; i++)
		if (memcmp(&p->mem.r[i], &zero, sizeof(zero)) != 0)
			return false;
	return true;
}

/* Why the message breaks its rule, or NULL. */
static const char *
check_rule(const struct vhu_dev *dev, const struct msg_rule *r,
	   const struct vhu_msg_hdr *hdr, const union vhu_msg_payload *p,
	   int nfds)
{
	static __thread char why[96];
	uint32_t vring;

	if (r->size == SIZE_MEM_TABLE) {
		uint32_t n;

		if (hdr->size < 8)
			return "payload too short for a region count";
		n = p->mem.nregions;
		if (n < 1 || n > VHU_MEM_TABLE_MAX) {
			snprintf(why, sizeof(why), "%u regions (1..%u allowed)",
				 n, VHU_MEM_TABLE_MAX);
			return why;
		}
		if (hdr->size != 8 + n * sizeof(struct vhu_msg_region) &&
		    !mem_table_zero_padded(p, hdr->size)) {
			snprintf(why, sizeof(why),
				 "payload of %u bytes for %u regions", hdr->size, n);
			return why;
		}
		if ((uint32_t)nfds != n) {
			snprintf(why, sizeof(why), "%d fds for %u regions", nfds, n);
			return why;
		}
		return NULL;
	}
	if (hdr->size != r->size) {
		snprintf(why, sizeof(why), "payload of %u bytes, expected %u",
			 hdr->size, r->size);
		return why;
	}
	if (nfds < r->min_fds || nfds > r->max_fds) {
		snprintf(why, sizeof(why), "%d fds, expected %u..%u", nfds,
			 r->min_fds, r->max_fds);
		return why;
	}
	switch (r->vring) {
	case VRING_STATE:
		vring = p->state.index;
		break;
	case VRING_ADDR:
		vring = p->addr.index;
		break;
	case VRING_U64:
		vring = (uint32_t)(p->u64 & VHU_VRING_IDX_MASK);
		/* an fd exactly when the "no fd" bit is clear */
		if ((p->u64 & VHU_VRING_NOFD) ? nfds != 0 : nfds != 1) {
			snprintf(why, sizeof(why), "%d fds with the no-fd bit %s",
				 nfds, (p->u64 & VHU_VRING_NOFD) ? "set" : "clear");
			return why;
		}
		break;
	default:
		return NULL;
	}
	if (vring >= vhu_dev_max_vrings(dev)) {
		snprintf(why, sizeof(why), "vring %u out of range (%u vrings)",
			 vring, vhu_dev_max_vrings(dev));
		return why;
	}
	return NULL;
}

static bool
request_offered(const struct vhu_dev *dev, const struct msg_rule *r)
{
	if (r->pf == NO_PF)
		return true;
	if (r->pf == OFFER_PF)
		return (dev->sock->features >> VHU_F_PROTOCOL_FEATURES) & 1;
	return vhu_dev_has_protocol_feature(dev, (unsigned int)r->pf);
}

int
vhu_msg_handle(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
	       const void *payload, int *fds, int nfds)
{
	const union vhu_msg_payload *p = payload;
	const struct msg_rule *r = NULL;
	enum vhu_msg_result res;
	const char *why;
	bool want_ack, handled = false;
	int ret = 0;

	if ((hdr->flags & VHU_MSG_VERSION_MASK) != VHU_MSG_VERSION) {
		VHU_LOG(ERR, "%s: message with version %u (not vhost-user 1): closing",
			dev->name, hdr->flags & VHU_MSG_VERSION_MASK);
		close_fds(fds, nfds);
		return -1;
	}
	if (hdr->request < VHU_REQ_MAX && rules[hdr->request].handler != NULL)
		r = &rules[hdr->request];
	/* decided now: RESET_OWNER and SET_PROTOCOL_FEATURES change it */
	want_ack = (hdr->flags & VHU_MSG_F_NEED_REPLY) &&
		   vhu_dev_has_protocol_feature(dev, VHU_PROTOCOL_F_REPLY_ACK);

	if (vhu_postcopy_is_confirmation(dev, hdr, nfds)) {
		uint64_t ok = 0;

		dev->postcopy_unconfirmed = false;
		VHU_LOG(DEBUG, "%s: postcopy: frontend confirmed our bases",
			dev->name);
		if (want_ack && vhu_msg_reply(dev, hdr->request, &ok,
					      sizeof(ok)) < 0)
			return -1;
		return 0;
	}

	if (r == NULL || !request_offered(dev, r)) {
		VHU_LOG(ERR, "%s: %s is not supported%s: rejected", dev->name,
			vhu_msg_name(hdr->request),
			r != NULL ? " (its protocol feature is not negotiated)" : "");
		res = VHU_MSG_FAILED;
	} else if ((why = check_rule(dev, r, hdr, p, nfds)) != NULL) {
		VHU_LOG(ERR, "%s: malformed %s: %s: rejected", dev->name,
			r->name, why);
		res = VHU_MSG_FAILED;
	} else {
		VHU_LOG(DEBUG, "%s: %s", dev->name, r->name);
		res = r->handler(dev, hdr, p, fds, nfds);
		handled = true;
	}
	close_fds(fds, nfds);

	/*
	 * A well-formed request that answers with a body of its own but could
	 * not be served leaves its frontend waiting for that body (QEMU
	 * blocks on SET_LOG_BASE's). With REPLY_ACK the NACK below is that
	 * reply; without it, silence would hang the frontend, so close.
	 * Malformed requests keep the rejected-only policy.
	 */
	if (res == VHU_MSG_FAILED && handled && r->has_reply && !want_ack) {
		VHU_LOG(ERR, "%s: %s failed and its frontend waits for a reply: closing",
			dev->name, r->name);
		return -1;
	}

	/* REPLY_ACK: exactly one reply per need_reply request */
	if (want_ack && res != VHU_MSG_REPLIED && res != VHU_MSG_CLOSE) {
		uint64_t status = res == VHU_MSG_OK ? 0 : 1;

		if (vhu_msg_reply(dev, hdr->request, &status, sizeof(status)) < 0)
			ret = -1;
	}
	if (res == VHU_MSG_CLOSE)
		return -1;
	if (res != VHU_MSG_FAILED && vhu_dev_update(dev) < 0)
		ret = -1;
	return ret;
}
