/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Message framing (see msg.h): the stream reader, the rule check, the
 * dispatch to a handler, replies and REPLY_ACK.
 *
 * Security model of this file: the frontend is not trusted. Every message
 * is checked against its request's rule (the table is in handlers.c)
 * before any handler sees it:
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

#include "dev.h"
#include "msg.h"
#include "registry.h"
#include "unix_io.h"
#include "vhu_log.h"

/* Request names for logs; the wire knows them, the rule table needn't. */
#define NAME(req) [VHU_REQ_ ## req] = #req
static const char *const request_names[VHU_REQ_MAX] = {
	NAME(GET_FEATURES), NAME(SET_FEATURES), NAME(SET_OWNER),
	NAME(RESET_OWNER), NAME(SET_MEM_TABLE), NAME(SET_LOG_BASE),
	NAME(SET_LOG_FD), NAME(SET_VRING_NUM), NAME(SET_VRING_ADDR),
	NAME(SET_VRING_BASE), NAME(GET_VRING_BASE), NAME(SET_VRING_KICK),
	NAME(SET_VRING_CALL), NAME(SET_VRING_ERR),
	NAME(GET_PROTOCOL_FEATURES), NAME(SET_PROTOCOL_FEATURES),
	NAME(GET_QUEUE_NUM), NAME(SET_VRING_ENABLE), NAME(SEND_RARP),
	NAME(NET_SET_MTU), NAME(SET_BACKEND_REQ_FD), NAME(IOTLB_MSG),
	NAME(POSTCOPY_ADVISE), NAME(POSTCOPY_LISTEN), NAME(POSTCOPY_END),
	NAME(GET_MAX_MEM_SLOTS), NAME(ADD_MEM_REG), NAME(REM_MEM_REG),
	NAME(SET_STATUS), NAME(GET_STATUS),
};
#undef NAME

const char *
vhu_msg_name(uint32_t request)
{
	static __thread char buf[16];

	if (request < VHU_REQ_MAX && request_names[request] != NULL)
		return request_names[request];
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

void
vhu_msg_rx_reset(struct vhu_msg_rx *rx)
{
	for (int i = 0; i < rx->nfds; i++)
		close(rx->fds[i]);
	memset(rx, 0, sizeof(*rx));
}

/* Receive into dst; 1: got all of want, 0: not yet, -1: connection over. */
static int
rx_fill(struct vhu_dev *dev, void *dst, size_t want)
{
	struct vhu_msg_rx *rx = &dev->rx;
	int nfds = VHU_MSG_MAX_FDS - rx->nfds;
	ssize_t n;

	n = vhu_unix_recv(dev->fd, dst, want, rx->fds + rx->nfds, &nfds,
			  &rx->fds_dropped);
	rx->nfds += nfds;
	if (n == -EAGAIN)
		return 0;
	if (n == 0) {
		VHU_LOG(INFO, "%s: frontend closed the connection", dev->name);
		return -1;
	}
	if (n < 0) {
		VHU_LOG(ERR, "%s: receive: %s", dev->name, strerror((int)-n));
		return -1;
	}
	rx->have += (uint32_t)n;
	return (size_t)n == want ? 1 : 0;
}

int
vhu_msg_recv(struct vhu_dev *dev, struct vhu_msg *m)
{
	struct vhu_msg_rx *rx = &dev->rx;
	const uint32_t hdr_len = sizeof(rx->hdr);
	int ret;

	if (rx->have < hdr_len) {
		ret = rx_fill(dev, (uint8_t *)&rx->hdr + rx->have,
			      hdr_len - rx->have);
		if (ret <= 0)
			return ret;
		if (rx->hdr.size > VHU_MSG_MAX_PAYLOAD) {
			/* no request we accept is this big: cannot resync */
			VHU_LOG(ERR, "%s: %s with a %u-byte payload (at most %zu): closing",
				dev->name, vhu_msg_name(rx->hdr.request),
				rx->hdr.size, VHU_MSG_MAX_PAYLOAD);
			return -1;
		}
	}
	if (rx->have < hdr_len + rx->hdr.size) {
		ret = rx_fill(dev, (uint8_t *)&rx->payload +
				   (rx->have - hdr_len),
			      hdr_len + rx->hdr.size - rx->have);
		if (ret <= 0)
			return ret;
	}
	if (rx->fds_dropped) {
		VHU_LOG(ERR, "%s: %s came with more than %d fds: closing",
			dev->name, vhu_msg_name(rx->hdr.request),
			VHU_MSG_MAX_FDS);
		return -1;
	}
	/* one complete message: its fds now belong to the caller */
	m->hdr = rx->hdr;
	memcpy(&m->payload, &rx->payload, sizeof(m->payload));
	memcpy(m->fds, rx->fds, sizeof(m->fds));
	m->nfds = rx->nfds;
	memset(rx, 0, sizeof(*rx));
	return 1;
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
check_rule(const struct vhu_dev *dev, const struct vhu_msg_rule *r,
	   const struct vhu_msg_hdr *hdr, const union vhu_msg_payload *p,
	   int nfds)
{
	static __thread char why[96];
	uint32_t vring;

	if (r->size == VHU_MSG_SIZE_MEM_TABLE) {
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
	case VHU_MSG_VRING_STATE:
		vring = p->state.index;
		break;
	case VHU_MSG_VRING_ADDR:
		vring = p->addr.index;
		break;
	case VHU_MSG_VRING_U64:
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
	if (vring >= dev->max_vrings) {
		snprintf(why, sizeof(why), "vring %u out of range (%u vrings)",
			 vring, dev->max_vrings);
		return why;
	}
	return NULL;
}

static bool
request_offered(const struct vhu_dev *dev, const struct vhu_msg_rule *r)
{
	if (r->needs_pf_offer &&
	    !((dev->sock->features >> VHU_F_PROTOCOL_FEATURES) & 1))
		return false;
	return (dev->protocol_features & r->needs_pf) == r->needs_pf;
}

bool
vhu_msg_wants_ack(const struct vhu_dev *dev, const struct vhu_msg_hdr *hdr)
{
	return (hdr->flags & VHU_MSG_F_NEED_REPLY) &&
	       vhu_dev_has_protocol_feature(dev, VHU_PROTOCOL_F_REPLY_ACK);
}

int
vhu_msg_check_version(const struct vhu_dev *dev,
		      const struct vhu_msg_hdr *hdr, int *fds, int nfds)
{
	if ((hdr->flags & VHU_MSG_VERSION_MASK) == VHU_MSG_VERSION)
		return 0;
	VHU_LOG(ERR, "%s: message with version %u (not vhost-user 1): closing",
		dev->name, hdr->flags & VHU_MSG_VERSION_MASK);
	close_fds(fds, nfds);
	return -1;
}

int
vhu_msg_dispatch(struct vhu_dev *dev, const struct vhu_msg_rule *rules,
		 const struct vhu_msg_hdr *hdr, const void *payload,
		 int *fds, int nfds)
{
	const union vhu_msg_payload *p = payload;
	const struct vhu_msg_rule *r = NULL;
	enum vhu_msg_result res;
	const char *why;
	bool want_ack, handled = false;
	int ret;

	if (hdr->request < VHU_REQ_MAX && rules[hdr->request].handler != NULL)
		r = &rules[hdr->request];
	/* decided now: RESET_OWNER and SET_PROTOCOL_FEATURES change it */
	want_ack = vhu_msg_wants_ack(dev, hdr);

	if (r == NULL || !request_offered(dev, r)) {
		VHU_LOG(ERR, "%s: %s is not supported%s: rejected", dev->name,
			vhu_msg_name(hdr->request),
			r != NULL ? " (its protocol feature is not negotiated)" : "");
		res = VHU_MSG_FAILED;
	} else if ((why = check_rule(dev, r, hdr, p, nfds)) != NULL) {
		VHU_LOG(ERR, "%s: malformed %s: %s: rejected", dev->name,
			vhu_msg_name(hdr->request), why);
		res = VHU_MSG_FAILED;
	} else {
		VHU_LOG(DEBUG, "%s: %s", dev->name, vhu_msg_name(hdr->request));
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
			dev->name, vhu_msg_name(hdr->request));
		return -1;
	}
	if (res == VHU_MSG_CLOSE)
		return -1;
	ret = res == VHU_MSG_FAILED ? 0 : 1;
	/* REPLY_ACK: exactly one reply per need_reply request */
	if (want_ack && res != VHU_MSG_REPLIED) {
		uint64_t status = res == VHU_MSG_OK ? 0 : 1;

		if (vhu_msg_reply(dev, hdr->request, &status, sizeof(status)) < 0)
			ret = -1;
	}
	return ret;
}
