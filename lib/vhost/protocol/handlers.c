/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The request table and one handler per request, in the order of the
 * vhost-user specification (see handlers.h). Sizes, fd counts and vring
 * indexes were checked by msg.c against the row; handlers check values
 * and change queues only while they are quiesced.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/vhost_types.h>
#include <linux/virtio_config.h>

#include "dev.h"
#include "handlers.h"
#include "iotlb.h"
#include "mem.h"
#include "net_ctrl.h"
#include "postcopy.h"
#include "registry.h"
#include "vhu_log.h"

#define BIT(n) (1ULL << (n))

/* Features the frontend may change while the device runs (migration). */
#define RUNTIME_FEATURES ((uint64_t)BIT(VHOST_F_LOG_ALL))

static enum vhu_msg_result
reply_u64(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr, uint64_t v)
{
	return vhu_msg_reply(dev, hdr->request, &v, sizeof(v)) < 0 ?
	       VHU_MSG_CLOSE : VHU_MSG_REPLIED;
}

static void
apply_features(struct vhu_vq *vq, void *arg)
{
	const struct vhu_dev *dev = arg;

	vhu_dev_vq_negotiated_locked(dev, vq);
}

static enum vhu_msg_result
handle_get_features(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
		    const union vhu_msg_payload *p, int *fds, int nfds)
{
	return reply_u64(dev, hdr, dev->sock->features);
}

static enum vhu_msg_result
handle_set_features(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
		    const union vhu_msg_payload *p, int *fds, int nfds)
{
	uint64_t f = p->u64;
	uint64_t old = dev->features;

	if (f & ~dev->sock->features) {
		VHU_LOG(ERR, "%s: SET_FEATURES 0x%" PRIx64 " has bits not offered (0x%"
			PRIx64 ")", dev->name, f, f & ~dev->sock->features);
		return VHU_MSG_FAILED;
	}
	/*
	 * With an IOMMU the data path sees IOVAs, but the log is indexed by
	 * guest-physical address, which the IOTLB does not give: refused.
	 */
	if ((f & BIT(VHOST_F_LOG_ALL)) && (f & BIT(VIRTIO_F_ACCESS_PLATFORM))) {
		VHU_LOG(ERR, "%s: SET_FEATURES: LOG_ALL (migration) together with ACCESS_PLATFORM (IOMMU) is not supported",
			dev->name);
		return VHU_MSG_FAILED;
	}
	/*
	 * virtio 1.2 §3.1.1: features are fixed once FEATURES_OK is set.
	 * Policy: while the device runs, a SET_FEATURES that adds or drops
	 * any bit but LOG_ALL is refused (logged, NACKed with REPLY_ACK)
	 * and the negotiated set stays; the connection stays up. A stopped
	 * device takes it whatever its status says: DPDK 22.11's
	 * virtio_user renegotiates when its port is reconfigured (offloads
	 * turned on) after stopping every ring, without a status reset, and
	 * then sends headers for what it asked (app/test/pmd/test_pmd.sh).
	 */
	if (dev->running && ((f ^ old) & ~RUNTIME_FEATURES)) {
		VHU_LOG(ERR, "%s: SET_FEATURES changes 0x%" PRIx64
			" after negotiation (status 0x%02x%s): refused",
			dev->name, (f ^ old) & ~RUNTIME_FEATURES, dev->status,
			dev->running ? ", running" : "");
		return VHU_MSG_FAILED;
	}
	dev->features = f;
	dev->features_set = true;
	vhu_vqs_apply(&dev->vqs, false, apply_features, dev);
	if (f != old && dev->sock->ops.features_changed != NULL)
		dev->sock->ops.features_changed(dev, f, dev->sock->ctx);
	return VHU_MSG_OK;
}

static enum vhu_msg_result
handle_set_owner(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
		 const union vhu_msg_payload *p, int *fds, int nfds)
{
	dev->owner_set = true;
	return VHU_MSG_OK;
}

static enum vhu_msg_result
handle_reset_owner(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
		   const union vhu_msg_payload *p, int *fds, int nfds)
{
	VHU_LOG(INFO, "%s: RESET_OWNER: resetting the device", dev->name);
	vhu_dev_reset(dev);
	return VHU_MSG_OK;
}

/* A region's fd could not be mapped shared (mem.c logged the fix). */
static void
note_map_failure(struct vhu_dev *dev, int ret)
{
	if (ret == -EBADF)
		vhu_dev_diag_set(dev, VHU_DIAG_MEM_NOT_SHARED);
}

/*
 * A full SET_MEM_TABLE without CONFIGURE_MEM_SLOTS: this guest fits, one
 * with another region (a hotplugged DIMM, virtio-mem, a DPDK frontend on
 * small hugepages) will not, and the frontend's error then says little
 * about why. Said once per connection.
 */
static void
check_table_full(struct vhu_dev *dev, uint32_t nregions)
{
	bool offered = (dev->sock->protocol_features >>
			VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) & 1;

	if (nregions < VHU_MEM_TABLE_MAX ||
	    vhu_dev_has_protocol_feature(dev, VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) ||
	    !vhu_dev_diag_set(dev, VHU_DIAG_MEM_TABLE_FULL))
		return;
	VHU_LOG(WARNING, "%s: SET_MEM_TABLE with %u regions, the most it carries, without protocol feature CONFIGURE_MEM_SLOTS: a guest with more memory regions will fail to start; %s",
		dev->name, nregions, offered ?
		"the frontend did not take it: use one that does (QEMU >= 5.1), or fewer regions (DPDK virtio-user: --single-file-segments or 1 GiB pages)" :
		"the socket does not offer it: keep bit 15 in vhu_socket_set_protocol_features()");
}

/*
 * Swap in a new table while every queue is quiesced, then unmap the old
 * one: no burst can be translating through either at that moment.
 */
static enum vhu_msg_result
handle_set_mem_table(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
		     const union vhu_msg_payload *p, int *fds, int nfds)
{
	struct vhu_guest_mem *fresh, *old;
	int ret;

	fresh = malloc(sizeof(*fresh));
	old = malloc(sizeof(*old));
	if (fresh == NULL || old == NULL) {
		free(fresh);
		free(old);
		return VHU_MSG_FAILED;
	}
	ret = vhu_mem_build(fresh, p->mem.r, p->mem.nregions, fds,
			    dev->postcopy_listening, dev->id);
	if (ret < 0) {
		note_map_failure(dev, ret);
		free(fresh);
		free(old);
		return VHU_MSG_FAILED;
	}
	check_table_full(dev, p->mem.nregions);
	/* postcopy: faults must reach the frontend before anyone reads */
	for (uint32_t i = 0; dev->postcopy_listening && i < fresh->nregions; i++) {
		if (vhu_postcopy_register(dev, &fresh->r[i]) < 0) {
			vhu_mem_clear(fresh);
			free(fresh);
			free(old);
			return VHU_MSG_CLOSE; /* the frontend waits for bases */
		}
	}
	vhu_vqs_quiesce_all(&dev->vqs);
	memcpy(old, &dev->mem, sizeof(*old));
	memcpy(&dev->mem, fresh, sizeof(*fresh));
	vhu_iotlb_rebuild_locked(dev); /* views point into the old table */
	vhu_vqs_resume_all(&dev->vqs);
	vhu_mem_clear(old);
	for (uint32_t i = 0; i < dev->mem.nregions; i++)
		VHU_LOG(INFO, "%s: region %u: gpa 0x%" PRIx64 " size 0x%" PRIx64
			" uaddr 0x%" PRIx64, dev->name, i, dev->mem.r[i].gpa,
			dev->mem.r[i].size, dev->mem.r[i].qva);
	free(fresh);
	free(old);
	if (dev->postcopy_listening)
		return vhu_postcopy_reply_table(dev, hdr, p);
	return VHU_MSG_OK;
}

static enum vhu_msg_result
handle_set_log_base(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
		    const union vhu_msg_payload *p, int *fds, int nfds)
{
	struct vhu_dirty_log fresh, old;
	int ret;

	ret = vhu_log_map(&fresh, p->log.size, p->log.offset, fds[0], dev->id);
	if (ret < 0)
		return VHU_MSG_FAILED;
	vhu_vqs_quiesce_all(&dev->vqs);
	old = dev->log;
	dev->log = fresh;
	vhu_vqs_resume_all(&dev->vqs);
	vhu_log_unmap(&old);
	VHU_LOG(INFO, "%s: dirty log of %" PRIu64 " bytes installed", dev->name,
		p->log.size);
	/* the spec asks for an empty reply once the log is mapped */
	return vhu_msg_reply(dev, hdr->request, NULL, 0) < 0 ? VHU_MSG_CLOSE :
							      VHU_MSG_REPLIED;
}

static enum vhu_msg_result
handle_set_log_fd(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
		  const union vhu_msg_payload *p, int *fds, int nfds)
{
	/* logging goes through SET_LOG_BASE's shared memory; fd is closed */
	return VHU_MSG_OK;
}

/* Run fn on a quiesced queue; its -errno becomes FAILED. */
#define WITH_VQ(dev, index, call) ({ \
	struct vhu_vq *vq_ = vhu_dev_vq(dev, index); \
	int ret_ = -ENOMEM; \
	if (vq_ != NULL) { \
		vhu_vq_quiesce(vq_); \
		/* a queue created after SET_FEATURES: num/base depend on it */ \
		vhu_dev_vq_negotiated_locked(dev, vq_); \
		ret_ = call; \
		vhu_vq_resume(vq_); \
	} \
	ret_ < 0 ? VHU_MSG_FAILED : VHU_MSG_OK; })

static enum vhu_msg_result
handle_set_vring_num(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
		     const union vhu_msg_payload *p, int *fds, int nfds)
{
	enum vhu_msg_result r;

	r = WITH_VQ(dev, p->state.index,
		    vhu_vq_set_num_locked(vq_, p->state.num));
	if (r != VHU_MSG_OK)
		VHU_LOG(ERR, "%s: vring %u: bad size %u (max %u, split: 2^n)",
			dev->name, p->state.index, p->state.num, VHU_VQ_MAX_SIZE);
	return r;
}

static enum vhu_msg_result
handle_set_vring_addr(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
		      const union vhu_msg_payload *p, int *fds, int nfds)
{
	struct vhost_vring_addr a = {
		.index = p->addr.index,
		.flags = p->addr.flags,
		.desc_user_addr = p->addr.desc,
		.used_user_addr = p->addr.used,
		.avail_user_addr = p->addr.avail,
		.log_guest_addr = p->addr.log,
	};

	return WITH_VQ(dev, p->addr.index, vhu_vq_set_addr_locked(vq_, &a));
}

static enum vhu_msg_result
handle_set_vring_base(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
		      const union vhu_msg_payload *p, int *fds, int nfds)
{
	enum vhu_msg_result r;

	r = WITH_VQ(dev, p->state.index,
		    vhu_vq_set_base_locked(vq_, p->state.num));
	if (r != VHU_MSG_OK)
		VHU_LOG(ERR, "%s: vring %u: bad base %u", dev->name,
			p->state.index, p->state.num);
	return r;
}

/* The frontend takes the ring back: stop the device first (spec). */
static enum vhu_msg_result
handle_get_vring_base(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
		      const union vhu_msg_payload *p, int *fds, int nfds)
{
	struct vhu_msg_vring_state st = { .index = p->state.index };
	struct vhu_vq *vq;

	vhu_dev_stop(dev);
	vq = vhu_dev_vq(dev, p->state.index);
	if (vq != NULL) {
		vhu_vq_quiesce(vq);
		st.num = vhu_vq_get_base_locked(vq);
		vhu_vq_stop_locked(vq);
		vhu_vq_resume(vq);
	}
	return vhu_msg_reply(dev, hdr->request, &st, sizeof(st)) < 0 ?
	       VHU_MSG_CLOSE : VHU_MSG_REPLIED;
}

/*
 * SET_VRING_KICK/CALL/ERR: the vring's eventfd, or none when the "no fd"
 * bit is set (the rule checked that an fd comes exactly when it is not).
 * set takes the fd over; on failure it is closed here.
 */
static enum vhu_msg_result
set_vring_fd(struct vhu_dev *dev, const union vhu_msg_payload *p, int *fds,
	     void (*set)(struct vhu_vq *vq, int fd))
{
	uint32_t idx = (uint32_t)(p->u64 & VHU_VRING_IDX_MASK);
	int fd = -1;
	enum vhu_msg_result r;

	if (!(p->u64 & VHU_VRING_NOFD)) {
		fd = fds[0];
		fds[0] = -1;
	}
	r = WITH_VQ(dev, idx, (set(vq_, fd), 0));
	if (r != VHU_MSG_OK && fd >= 0)
		close(fd);
	return r;
}

static enum vhu_msg_result
handle_set_vring_kick(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
		      const union vhu_msg_payload *p, int *fds, int nfds)
{
	return set_vring_fd(dev, p, fds, vhu_vq_set_kick_locked);
}

static enum vhu_msg_result
handle_set_vring_call(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
		      const union vhu_msg_payload *p, int *fds, int nfds)
{
	return set_vring_fd(dev, p, fds, vhu_vq_set_call_locked);
}

static enum vhu_msg_result
handle_set_vring_err(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
		     const union vhu_msg_payload *p, int *fds, int nfds)
{
	return set_vring_fd(dev, p, fds, vhu_vq_set_err_locked);
}

static enum vhu_msg_result
handle_get_protocol_features(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
			     const union vhu_msg_payload *p, int *fds, int nfds)
{
	return reply_u64(dev, hdr, dev->sock->protocol_features);
}

static enum vhu_msg_result
handle_set_protocol_features(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
			     const union vhu_msg_payload *p, int *fds, int nfds)
{
	if (p->u64 & ~dev->sock->protocol_features) {
		VHU_LOG(ERR, "%s: SET_PROTOCOL_FEATURES 0x%" PRIx64
			" has bits not offered", dev->name, p->u64);
		return VHU_MSG_FAILED;
	}
	dev->protocol_features = p->u64;
	return VHU_MSG_OK;
}

static enum vhu_msg_result
handle_get_queue_num(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
		     const union vhu_msg_payload *p, int *fds, int nfds)
{
	return reply_u64(dev, hdr, dev->sock->max_queue_pairs);
}

static enum vhu_msg_result
handle_set_vring_enable(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
			const union vhu_msg_payload *p, int *fds, int nfds)
{
	if (p->state.num > 1) {
		VHU_LOG(ERR, "%s: SET_VRING_ENABLE %u for vring %u (0 or 1)",
			dev->name, p->state.num, p->state.index);
		return VHU_MSG_FAILED;
	}
	if (vhu_dev_vq(dev, p->state.index) == NULL)
		return VHU_MSG_FAILED;
	dev->vring_enable_req[p->state.index] = p->state.num == 1;
	return VHU_MSG_OK;
}

/*
 * After a live migration the destination's frontend asks the backend to
 * announce the guest (it does so itself only with GUEST_ANNOUNCE): the
 * next dequeue of queue pair 0 starts with a RARP frame from the guest's
 * MAC, and vhu_dev_take_rarp() tells the application.
 */
static enum vhu_msg_result
handle_send_rarp(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
		 const union vhu_msg_payload *p, int *fds, int nfds)
{
	struct vhu_vq *vq = vhu_dev_vq(dev, 1);

	memcpy(dev->rarp_mac, p->bytes, sizeof(dev->rarp_mac));
	dev->rarp_pending = true;
	VHU_LOG(INFO, "%s: frontend asks to announce %02x:%02x:%02x:%02x:%02x:%02x",
		dev->name, dev->rarp_mac[0], dev->rarp_mac[1], dev->rarp_mac[2],
		dev->rarp_mac[3], dev->rarp_mac[4], dev->rarp_mac[5]);
	if (vq == NULL)
		return VHU_MSG_FAILED;
	vhu_vq_quiesce(vq);
	vhu_vq_set_announce_locked(vq, dev->rarp_mac);
	vhu_vq_resume(vq);
	return VHU_MSG_OK;
}

static enum vhu_msg_result
handle_net_set_mtu(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
		   const union vhu_msg_payload *p, int *fds, int nfds)
{
	/* virtio 1.2 §5.1.4.1: mtu is at least 68 */
	if (p->u64 < 68 || p->u64 > 65535) {
		VHU_LOG(ERR, "%s: NET_SET_MTU %" PRIu64 " out of range",
			dev->name, p->u64);
		return VHU_MSG_FAILED;
	}
	dev->mtu = (uint16_t)p->u64;
	/* receive vrings drop longer frames from now on (offload.c) */
	vhu_vqs_apply(&dev->vqs, false, apply_features, dev);
	return VHU_MSG_OK;
}

static enum vhu_msg_result
handle_get_max_mem_slots(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
			 const union vhu_msg_payload *p, int *fds, int nfds)
{
	return reply_u64(dev, hdr, VHU_MAX_MEM_SLOTS);
}

static enum vhu_msg_result
handle_add_mem_reg(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
		   const union vhu_msg_payload *p, int *fds, int nfds)
{
	struct vhu_mem_region r, *same;
	int ret;

	/* QEMU: once per queue pair, same region; the caller closes the fd */
	same = vhu_mem_find_same(&dev->mem, &p->reg.r, fds[0]);
	if (same != NULL) {
		if (same->refs == UINT32_MAX)
			return VHU_MSG_FAILED;
		same->refs++;
		VHU_LOG(DEBUG, "%s: ADD_MEM_REG gpa 0x%" PRIx64 " again (%u adders)",
			dev->name, same->gpa, same->refs);
		return dev->postcopy_listening ?
		       vhu_postcopy_reply_table(dev, hdr, p) : VHU_MSG_OK;
	}
	if (dev->mem.nregions >= VHU_MAX_MEM_SLOTS) {
		if (vhu_dev_diag_set(dev, VHU_DIAG_MEM_SLOTS_FULL) ||
		    vhu_log_ratelimit(&dev->slots_log_tsc))
			VHU_LOG(ERR, "%s: ADD_MEM_REG gpa 0x%" PRIx64 " refused: all %u memory slots in use (the limit vhu announced with GET_MAX_MEM_SLOTS; build option max_mem_slots)",
				dev->name, p->reg.r.gpa, VHU_MAX_MEM_SLOTS);
		return VHU_MSG_FAILED;
	}
	ret = vhu_mem_map_region(&r, &p->reg.r, fds[0], dev->postcopy_listening,
				 dev->id);
	if (ret < 0) {
		note_map_failure(dev, ret);
		return VHU_MSG_FAILED;
	}
	if (dev->postcopy_listening && vhu_postcopy_register(dev, &r) < 0) {
		vhu_mem_unmap_region(&r);
		return VHU_MSG_CLOSE; /* the frontend waits for our base */
	}
	vhu_vqs_quiesce_all(&dev->vqs);
	ret = vhu_mem_insert(&dev->mem, &r);
	vhu_iotlb_rebuild_locked(dev);
	vhu_vqs_resume_all(&dev->vqs);
	if (ret < 0) {
		VHU_LOG(ERR, "%s: ADD_MEM_REG gpa 0x%" PRIx64 ": %s", dev->name,
			r.gpa, strerror(-ret));
		vhu_mem_unmap_region(&r);
		return VHU_MSG_FAILED;
	}
	VHU_LOG(DEBUG, "%s: ADD_MEM_REG gpa 0x%" PRIx64 " size 0x%" PRIx64
		" uaddr 0x%" PRIx64 " mapped at %p", dev->name, r.gpa, r.size,
		r.qva, (void *)r.hva);
	if (dev->postcopy_listening)
		return vhu_postcopy_reply_table(dev, hdr, p);
	return VHU_MSG_OK;
}

static enum vhu_msg_result
handle_rem_mem_reg(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
		   const union vhu_msg_payload *p, int *fds, int nfds)
{
	struct vhu_mem_region r;
	int ret;

	vhu_vqs_quiesce_all(&dev->vqs);
	ret = vhu_mem_remove(&dev->mem, &p->reg.r, &r);
	vhu_iotlb_rebuild_locked(dev);
	vhu_vqs_resume_all(&dev->vqs);
	if (ret < 0) {
		VHU_LOG(ERR, "%s: REM_MEM_REG gpa 0x%" PRIx64 " size 0x%" PRIx64
			": no such region", dev->name, p->reg.r.gpa,
			p->reg.r.size);
		return VHU_MSG_FAILED;
	}
	if (ret == 0)
		vhu_mem_unmap_region(&r);
	return VHU_MSG_OK;
}

static enum vhu_msg_result
handle_set_status(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
		  const union vhu_msg_payload *p, int *fds, int nfds)
{
	if (p->u64 > UINT8_MAX) {
		VHU_LOG(ERR, "%s: SET_STATUS 0x%" PRIx64 " is not a status byte",
			dev->name, p->u64);
		return VHU_MSG_FAILED;
	}
	dev->status = (uint8_t)p->u64;
	VHU_LOG(DEBUG, "%s: status 0x%02x", dev->name, dev->status);
	/*
	 * virtio 1.2 §2.1.2: status 0 resets the device, and with it the
	 * receive filter its control vring set (net_ctrl.c).
	 */
	if (dev->status == 0)
		vhu_net_ctrl_reset(dev);
	return VHU_MSG_OK;
}

static enum vhu_msg_result
handle_get_status(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
		  const union vhu_msg_payload *p, int *fds, int nfds)
{
	return reply_u64(dev, hdr, dev->status);
}

#define BIT_PF(f) (1ULL << VHU_PROTOCOL_F_ ## f)

const struct vhu_msg_rule vhu_request_rules[VHU_REQ_MAX] = {
	[VHU_REQ_GET_FEATURES] = {
		.handler = handle_get_features, .has_reply = true },
	[VHU_REQ_SET_FEATURES] = { .handler = handle_set_features, .size = 8 },
	[VHU_REQ_SET_OWNER] = { .handler = handle_set_owner },
	[VHU_REQ_RESET_OWNER] = { .handler = handle_reset_owner },
	[VHU_REQ_SET_MEM_TABLE] = {
		.handler = handle_set_mem_table,
		.size = VHU_MSG_SIZE_MEM_TABLE,
		.min_fds = 1, .max_fds = VHU_MEM_TABLE_MAX },
	[VHU_REQ_SET_LOG_BASE] = {
		.handler = handle_set_log_base,
		.size = sizeof(struct vhu_msg_log), .min_fds = 1, .max_fds = 1,
		.needs_pf = BIT_PF(LOG_SHMFD), .has_reply = true },
	[VHU_REQ_SET_LOG_FD] = {
		.handler = handle_set_log_fd, .min_fds = 1, .max_fds = 1 },
	[VHU_REQ_SET_VRING_NUM] = {
		.handler = handle_set_vring_num, .size = 8,
		.vring = VHU_MSG_VRING_STATE },
	[VHU_REQ_SET_VRING_ADDR] = {
		.handler = handle_set_vring_addr,
		.size = sizeof(struct vhu_msg_vring_addr),
		.vring = VHU_MSG_VRING_ADDR },
	[VHU_REQ_SET_VRING_BASE] = {
		.handler = handle_set_vring_base, .size = 8,
		.vring = VHU_MSG_VRING_STATE },
	[VHU_REQ_GET_VRING_BASE] = {
		.handler = handle_get_vring_base, .size = 8,
		.vring = VHU_MSG_VRING_STATE, .has_reply = true },
	[VHU_REQ_SET_VRING_KICK] = {
		.handler = handle_set_vring_kick, .size = 8, .max_fds = 1,
		.vring = VHU_MSG_VRING_U64 },
	[VHU_REQ_SET_VRING_CALL] = {
		.handler = handle_set_vring_call, .size = 8, .max_fds = 1,
		.vring = VHU_MSG_VRING_U64 },
	[VHU_REQ_SET_VRING_ERR] = {
		.handler = handle_set_vring_err, .size = 8, .max_fds = 1,
		.vring = VHU_MSG_VRING_U64 },
	[VHU_REQ_GET_PROTOCOL_FEATURES] = {
		.handler = handle_get_protocol_features,
		.needs_pf_offer = true, .has_reply = true },
	[VHU_REQ_SET_PROTOCOL_FEATURES] = {
		.handler = handle_set_protocol_features, .size = 8,
		.needs_pf_offer = true },
	[VHU_REQ_GET_QUEUE_NUM] = {
		.handler = handle_get_queue_num, .needs_pf = BIT_PF(MQ),
		.has_reply = true },
	[VHU_REQ_SET_VRING_ENABLE] = {
		.handler = handle_set_vring_enable, .size = 8,
		.vring = VHU_MSG_VRING_STATE },
	[VHU_REQ_SEND_RARP] = {
		.handler = handle_send_rarp, .size = 8,
		.needs_pf = BIT_PF(RARP) },
	[VHU_REQ_NET_SET_MTU] = {
		.handler = handle_net_set_mtu, .size = 8,
		.needs_pf = BIT_PF(NET_MTU) },
	[VHU_REQ_SET_BACKEND_REQ_FD] = {
		.handler = vhu_handle_set_backend_req_fd,
		.min_fds = 1, .max_fds = 1, .needs_pf = BIT_PF(BACKEND_REQ) },
	/* needs VIRTIO_F_ACCESS_PLATFORM negotiated: checked by the handler */
	[VHU_REQ_IOTLB_MSG] = {
		.handler = vhu_handle_iotlb_msg,
		.size = sizeof(struct vhost_iotlb_msg) },
	/* each answers with a body of its own (ADVISE: the fd alone) */
	[VHU_REQ_POSTCOPY_ADVISE] = {
		.handler = vhu_handle_postcopy_advise,
		.needs_pf = BIT_PF(PAGEFAULT), .has_reply = true },
	[VHU_REQ_POSTCOPY_LISTEN] = {
		.handler = vhu_handle_postcopy_listen,
		.needs_pf = BIT_PF(PAGEFAULT) },
	[VHU_REQ_POSTCOPY_END] = {
		.handler = vhu_handle_postcopy_end,
		.needs_pf = BIT_PF(PAGEFAULT), .has_reply = true },
	[VHU_REQ_GET_MAX_MEM_SLOTS] = {
		.handler = handle_get_max_mem_slots,
		.needs_pf = BIT_PF(CONFIGURE_MEM_SLOTS), .has_reply = true },
	[VHU_REQ_ADD_MEM_REG] = {
		.handler = handle_add_mem_reg,
		.size = sizeof(struct vhu_msg_mem_reg), .min_fds = 1, .max_fds = 1,
		.needs_pf = BIT_PF(CONFIGURE_MEM_SLOTS) },
	/* QEMU sends the region's fd along; it is accepted and closed */
	[VHU_REQ_REM_MEM_REG] = {
		.handler = handle_rem_mem_reg,
		.size = sizeof(struct vhu_msg_mem_reg), .max_fds = 1,
		.needs_pf = BIT_PF(CONFIGURE_MEM_SLOTS) },
	[VHU_REQ_SET_STATUS] = {
		.handler = handle_set_status, .size = 8,
		.needs_pf = BIT_PF(STATUS) },
	[VHU_REQ_GET_STATUS] = {
		.handler = handle_get_status, .needs_pf = BIT_PF(STATUS),
		.has_reply = true },
};
