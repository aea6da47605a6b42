/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Device objects, the connection reader and the device lifecycle.
 *
 * Readiness (checked after every message by vhu_dev_update):
 *   - guest memory is mapped;
 *   - vrings 0 and 1 (the first queue pair) are enabled and usable
 *     (size, addresses inside guest memory, kick and call given);
 *   - before the first start, every other enabled vring is usable too, so
 *     the application sees all of them at new_device;
 *   - with protocol feature STATUS, the frontend set DRIVER_OK.
 * A vring is enabled by SET_VRING_ENABLE when PROTOCOL_FEATURES is
 * negotiated, and from the start otherwise (vhost-user spec, "Ring states").
 * While running, other vrings coming and going are reported with
 * vring_state_changed; losing the first pair, memory or DRIVER_OK stops
 * the device (destroy_device).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/vhost_types.h>
#include <linux/virtio_config.h>

#include <rte_lcore.h>
#include <rte_malloc.h>

#include "dev.h"
#include "loop.h"
#include "mem.h"
#include "postcopy.h"
#include "unix_io.h"
#include "registry.h"
#include "vhu_log.h"

/* Messages handled per wake-up, so one chatty peer cannot starve others. */
#define MSGS_PER_WAKEUP 32

static struct vhu_dev *slots[VHU_MAX_DEVICES];
/*
 * Slots are handed out round-robin: a slot just released is the last to be
 * reused, so a burst racing with destroy_device on a stale handle finds a
 * stopped queue rather than another frontend's new connection.
 */
static int next_slot;

uint16_t
vhu_dev_max_vrings(const struct vhu_dev *dev)
{
	return 2 * dev->sock->max_queue_pairs;
}

struct vhu_vq *
vhu_dev_vq(struct vhu_dev *dev, uint32_t index)
{
	struct vhu_vq *vq;

	if (index >= vhu_dev_max_vrings(dev))
		return NULL;
	vq = dev->vqs.vq[index];
	if (vq == NULL) {
		vq = vhu_vq_create(dev->id, (uint16_t)index, SOCKET_ID_ANY,
				   &dev->mem, &dev->log);
		if (vq == NULL) {
			VHU_LOG(ERR, "%s: no memory for vring %u", dev->name,
				index);
			return NULL;
		}
		if (dev->iotlb.rd != NULL)
			vhu_vq_set_iotlb_locked(vq, dev->iotlb.rd,
						dev->iotlb.wr,
						vhu_iotlb_send_miss, dev);
		/* R5: pairs with A5; published, it stays for the slot's life */
		vhu_atomic_store_ptr(&dev->vqs.vq[index], vq,
				     memory_order_release);
	}
	if (index >= dev->vqs.nr_vrings)
		vhu_atomic_store_u16(&dev->vqs.nr_vrings, (uint16_t)(index + 1),
				     memory_order_release);
	return vq;
}

void
vhu_dev_quiesce_all(struct vhu_dev *dev)
{
	for (uint16_t i = 0; i < RTE_DIM(dev->vqs.vq); i++)
		if (dev->vqs.vq[i] != NULL)
			vhu_vq_quiesce(dev->vqs.vq[i]);
}

void
vhu_dev_resume_all(struct vhu_dev *dev)
{
	for (uint16_t i = 0; i < RTE_DIM(dev->vqs.vq); i++)
		if (dev->vqs.vq[i] != NULL)
			vhu_vq_resume(dev->vqs.vq[i]);
}

static void
rx_reset(struct vhu_msg_rx *rx)
{
	for (int i = 0; i < rx->nfds; i++)
		close(rx->fds[i]);
	memset(rx, 0, sizeof(*rx));
}

struct vhu_dev *
vhu_dev_alloc(struct vhu_socket *s, int fd)
{
	struct vhu_dev *dev = NULL;
	int id;

	for (int tries = 0; tries < VHU_MAX_DEVICES; tries++) {
		id = (next_slot + tries) % VHU_MAX_DEVICES;
		if (slots[id] == NULL || !slots[id]->in_use)
			break;
		id = VHU_MAX_DEVICES;
	}
	if (id == VHU_MAX_DEVICES) {
		VHU_LOG(ERR, "%s: refusing connection: all %d device slots in use",
			s->path, VHU_MAX_DEVICES);
		return NULL;
	}
	if (slots[id] == NULL) {
		dev = rte_zmalloc("vhu_dev", sizeof(*dev), RTE_CACHE_LINE_SIZE);
		if (dev == NULL) {
			VHU_LOG(ERR, "%s: no memory for a device", s->path);
			return NULL;
		}
		slots[id] = dev;
	}
	dev = slots[id];
	next_slot = (id + 1) % VHU_MAX_DEVICES;
	/* the queues of a reused slot stay allocated (see dev.h) */
	dev->vqs.nr_vrings = 0;
	dev->id = id;
	dev->fd = fd;
	dev->sock = s;
	snprintf(dev->name, sizeof(dev->name), "vhu%d", id);
	dev->features = 0;
	dev->features_set = false;
	dev->protocol_features = 0;
	dev->owner_set = false;
	dev->status = 0;
	dev->running = false;
	memset(dev->vring_reported, 0, sizeof(dev->vring_reported));
	memset(dev->vring_enable_req, 0, sizeof(dev->vring_enable_req));
	dev->mtu = 0;
	dev->rarp_pending = false;
	dev->postcopy_ufd = -1;
	dev->postcopy_listening = false;
	dev->mem.nregions = 0;
	memset(&dev->log, 0, sizeof(dev->log));
	memset(&dev->rx, 0, sizeof(dev->rx));
	if (vhu_iotlb_attach(dev) < 0) {
		VHU_LOG(ERR, "%s: refusing connection: no memory for an IOTLB",
			s->path);
		return NULL;
	}
	dev->in_use = true;
	s->ndevs++;
	return dev;
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

/*
 * Read what the socket has and hand complete messages to vhu_msg_handle.
 * A message may arrive in pieces over several wake-ups: a peer that stops
 * mid-message only stalls itself.
 */
static int
dev_read(struct vhu_dev *dev)
{
	struct vhu_msg_rx *rx = &dev->rx;
	const uint32_t hdr_len = sizeof(rx->hdr);
	int ret;

	for (int msgs = 0; msgs < MSGS_PER_WAKEUP; msgs++) {
		struct vhu_msg_hdr hdr;
		union vhu_msg_payload payload;
		int fds[VHU_MSG_MAX_FDS];
		int nfds;

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
		/* one complete message: its fds now belong to the handler */
		hdr = rx->hdr;
		memcpy(&payload, &rx->payload, sizeof(payload));
		memcpy(fds, rx->fds, sizeof(fds));
		nfds = rx->nfds;
		memset(rx, 0, sizeof(*rx));
		if (vhu_msg_handle(dev, &hdr, &payload, fds, nfds) < 0)
			return -1;
	}
	return 0;
}

static void
on_readable(void *arg, uint32_t events)
{
	struct vhu_dev *dev = arg;

	(void)events; /* hang-up and errors show up as a failed read */
	if (dev_read(dev) < 0)
		vhu_dev_close(dev);
}

struct vhu_dev *
vhu_dev_create(struct vhu_socket *s, int fd)
{
	struct vhu_dev *dev = vhu_dev_alloc(s, fd);

	if (dev == NULL)
		return NULL;
	if (vhu_loop_add(fd, on_readable, dev) < 0) {
		VHU_LOG(ERR, "%s: cannot watch connection", dev->name);
		vhu_iotlb_free(dev);
		dev->fd = -1;
		dev->in_use = false;
		s->ndevs--;
		return NULL;
	}
	VHU_LOG(INFO, "%s: new connection on %s", dev->name, s->path);
	return dev;
}

/* Set every queue's running flag and the features it derives state from. */
static void
vqs_set_running(struct vhu_dev *dev, bool running)
{
	for (uint16_t i = 0; i < dev->vqs.nr_vrings; i++) {
		struct vhu_vq *vq = dev->vqs.vq[i];

		if (vq == NULL)
			continue;
		vhu_vq_quiesce(vq);
		vhu_vq_set_features_locked(vq, dev->features);
		vhu_vq_set_running_locked(vq, running);
		vhu_vq_resume(vq);
	}
}

void
vhu_dev_stop(struct vhu_dev *dev)
{
	if (!dev->running)
		return;
	vqs_set_running(dev, false);
	dev->running = false;
	memset(dev->vring_reported, 0, sizeof(dev->vring_reported));
	VHU_LOG(INFO, "%s: device stopped", dev->name);
	vhu_iotlb_log_stats(dev);
	if (dev->sock->ops.destroy_device != NULL)
		dev->sock->ops.destroy_device(dev, dev->sock->ctx);
}

static void
dev_release_memory(struct vhu_dev *dev)
{
	/* every queue is stopped or quiesced: nobody translates any more */
	vhu_dev_quiesce_all(dev);
	for (uint16_t i = 0; i < RTE_DIM(dev->vqs.vq); i++)
		if (dev->vqs.vq[i] != NULL)
			vhu_vq_reset_locked(dev->vqs.vq[i]);
	vhu_iotlb_reset_locked(dev);
	vhu_postcopy_close(dev);
	vhu_mem_clear(&dev->mem);
	vhu_log_unmap(&dev->log);
	vhu_dev_resume_all(dev);
}

void
vhu_dev_reset(struct vhu_dev *dev)
{
	vhu_dev_stop(dev);
	dev_release_memory(dev);
	dev->features = 0;
	dev->features_set = false;
	dev->protocol_features = 0;
	dev->status = 0;
	dev->mtu = 0;
	dev->rarp_pending = false;
	/* a ring enabled before the reset would otherwise block readiness */
	memset(dev->vring_enable_req, 0, sizeof(dev->vring_enable_req));
}

void
vhu_dev_close(struct vhu_dev *dev)
{
	struct vhu_socket *s = dev->sock;

	if (!dev->in_use)
		return;
	vhu_dev_stop(dev);
	dev_release_memory(dev);
	rx_reset(&dev->rx);
	if (dev->fd >= 0) {
		vhu_loop_del(dev->fd);
		close(dev->fd);
		dev->fd = -1;
	}
	vhu_iotlb_free(dev);
	dev->in_use = false;
	VHU_LOG(INFO, "%s: connection closed", dev->name);
	vhu_socket_dev_closed(s, dev);
}

void
vhu_dev_close_socket(struct vhu_socket *s)
{
	for (int i = 0; i < VHU_MAX_DEVICES; i++)
		if (slots[i] != NULL && slots[i]->in_use && slots[i]->sock == s)
			vhu_dev_close(slots[i]);
}

void
vhu_dev_free_all(void)
{
	for (int i = 0; i < VHU_MAX_DEVICES; i++) {
		struct vhu_dev *dev = slots[i];

		if (dev == NULL)
			continue;
		if (dev->in_use)
			vhu_dev_close(dev);
		for (uint16_t q = 0; q < RTE_DIM(dev->vqs.vq); q++)
			if (dev->vqs.vq[q] != NULL)
				vhu_vq_destroy(dev->vqs.vq[q]);
		rte_free(dev);
		slots[i] = NULL;
	}
}

/* Enabled as the frontend sees it (see "Ring states" above). */
static bool
vring_enable_effective(const struct vhu_dev *dev, bool requested)
{
	if (!vhu_dev_has_feature(dev, VHU_F_PROTOCOL_FEATURES))
		return true;
	return requested;
}

static bool
vring_live(const struct vhu_dev *dev, uint16_t i)
{
	const struct vhu_vq *vq = dev->vqs.vq[i];

	/*
	 * A ring waiting for an IOTLB update stays live: Linux guests flush
	 * their whole IOTLB from time to time (lazy mode), and QEMU then
	 * invalidates every entry, rings included, and answers the misses
	 * right after. Stopping the device there would make it flap.
	 */
	return vq != NULL && vq->enabled &&
	       (vhu_vq_usable(vq) || vhu_vq_waiting_iotlb(vq));
}

static const char *
why_not_ready(const struct vhu_dev *dev)
{
	if (dev->mem.nregions == 0)
		return "no guest memory";
	if (dev->vqs.vq[0] == NULL || dev->vqs.vq[1] == NULL)
		return "first queue pair not set up";
	for (uint16_t i = 0; i < dev->vqs.nr_vrings; i++) {
		const struct vhu_vq *vq = dev->vqs.vq[i];

		if (vq == NULL || (!vq->enabled && i > 1))
			continue;
		if (!vq->enabled)
			return "first queue pair not enabled";
		if (!vhu_vq_usable(vq))
			return vq->why_not_ready ? vq->why_not_ready :
			       "vring not usable";
	}
	if (vhu_dev_has_protocol_feature(dev, VHU_PROTOCOL_F_STATUS) &&
	    !(dev->status & VIRTIO_CONFIG_S_DRIVER_OK))
		return "waiting for DRIVER_OK";
	return vhu_iotlb_why_not_ready(dev);
}

int
vhu_dev_update(struct vhu_dev *dev)
{
	const struct vhu_ops *ops = &dev->sock->ops;
	const char *why;

	/* push the effective enable state into the queues */
	for (uint16_t i = 0; i < dev->vqs.nr_vrings; i++) {
		struct vhu_vq *vq = dev->vqs.vq[i];
		bool en;

		if (vq == NULL)
			continue;
		en = vring_enable_effective(dev, dev->vring_enable_req[i]);
		if (en != vq->enabled) {
			vhu_vq_quiesce(vq);
			vhu_vq_set_enabled_locked(vq, en);
			vhu_vq_resume(vq);
		}
	}

	if (dev->running) {
		bool keep = dev->mem.nregions > 0 && vring_live(dev, 0) &&
			    vring_live(dev, 1) &&
			    (!vhu_dev_has_protocol_feature(dev, VHU_PROTOCOL_F_STATUS) ||
			     (dev->status & VIRTIO_CONFIG_S_DRIVER_OK));
		if (!keep) {
			vhu_dev_stop(dev);
			return 0;
		}
	} else {
		why = why_not_ready(dev);
		if (why != NULL) {
			VHU_LOG(DEBUG, "%s: not ready: %s", dev->name, why);
			return 0;
		}
		vqs_set_running(dev, true);
		dev->running = true;
		VHU_LOG(INFO, "%s: device ready: %u vrings, features 0x%" PRIx64,
			dev->name, dev->vqs.nr_vrings, dev->features);
		if (ops->new_device != NULL &&
		    ops->new_device(dev, dev->sock->ctx) != 0) {
			VHU_LOG(ERR, "%s: application refused the device",
				dev->name);
			vqs_set_running(dev, false);
			dev->running = false;
			return -1;
		}
	}
	for (uint16_t i = 0; i < dev->vqs.nr_vrings; i++) {
		bool live = vring_live(dev, i);

		if (live == dev->vring_reported[i])
			continue;
		dev->vring_reported[i] = live;
		VHU_LOG(INFO, "%s: vring %u %s", dev->name, i,
			live ? "enabled" : "disabled");
		if (ops->vring_state_changed != NULL)
			ops->vring_state_changed(dev, i, live, dev->sock->ctx);
	}
	return 0;
}

/* ---- public queries ---- */

struct vhu_socket *
vhu_dev_socket(const struct vhu_dev *dev)
{
	return dev != NULL ? dev->sock : NULL;
}

void *
vhu_dev_ctx(const struct vhu_dev *dev)
{
	return dev != NULL && dev->sock != NULL ? dev->sock->ctx : NULL;
}

int
vhu_dev_id(const struct vhu_dev *dev)
{
	return dev != NULL ? dev->id : -EINVAL;
}

uint64_t
vhu_dev_features(const struct vhu_dev *dev)
{
	return dev != NULL ? dev->features : 0;
}

uint16_t
vhu_dev_vring_count(const struct vhu_dev *dev)
{
	return dev != NULL ? dev->vqs.nr_vrings : 0;
}

bool
vhu_dev_vring_enabled(const struct vhu_dev *dev, uint16_t vring)
{
	if (dev == NULL || vring >= RTE_DIM(dev->vring_reported))
		return false;
	return dev->vring_reported[vring];
}

uint16_t
vhu_dev_mtu(const struct vhu_dev *dev)
{
	return dev != NULL ? dev->mtu : 0;
}

bool
vhu_dev_take_rarp(struct vhu_dev *dev, uint8_t mac[6])
{
	bool pending;

	if (dev == NULL)
		return false;
	vhu_ctl_lock();
	pending = dev->rarp_pending;
	if (pending)
		memcpy(mac, dev->rarp_mac, 6);
	dev->rarp_pending = false;
	vhu_ctl_unlock();
	return pending;
}

int
vhu_dev_vring_stats(const struct vhu_dev *dev, uint16_t vring,
		    struct vhu_vring_stats *st)
{
	const struct vhu_vq *vq;

	if (dev == NULL || st == NULL || vring >= RTE_DIM(dev->vqs.vq))
		return -EINVAL;
	vq = dev->vqs.vq[vring];
	if (vq == NULL)
		return -ENOENT;
	st->packets = vhu_atomic_load_u64(&vq->stats.packets,
					  memory_order_relaxed);
	st->bytes = vhu_atomic_load_u64(&vq->stats.bytes, memory_order_relaxed);
	st->drops_no_buf = vhu_atomic_load_u64(&vq->stats.drops_no_buf,
					       memory_order_relaxed);
	st->desc_errors = vhu_atomic_load_u64(&vq->stats.desc_errors,
					      memory_order_relaxed);
	st->kicks = vhu_atomic_load_u64(&vq->stats.kicks, memory_order_relaxed);
	st->calls = vhu_atomic_load_u64(&vq->stats.calls, memory_order_relaxed);
	st->broken = vhu_atomic_load_u64(&vq->stats.broken,
					 memory_order_relaxed);
	return 0;
}

bool
vhu_dev_vring_broken(const struct vhu_dev *dev, uint16_t vring)
{
	const struct vhu_vq *vq;

	if (dev == NULL || vring >= RTE_DIM(dev->vqs.vq))
		return false;
	vq = vhu_atomic_load_ptr(&dev->vqs.vq[vring], memory_order_acquire);
	return vq != NULL &&
	       vhu_atomic_load_bool(&vq->broken, memory_order_relaxed);
}

void
vhu_dev_report_broken(void)
{
	for (int i = 0; i < VHU_MAX_DEVICES; i++) {
		struct vhu_dev *dev = slots[i];

		if (dev == NULL || !dev->in_use)
			continue;
		for (uint16_t v = 0; v < dev->vqs.nr_vrings; v++) {
			struct vhu_vq *vq = dev->vqs.vq[v];
			bool tell;

			if (vq == NULL)
				continue;
			/* A2 makes the burst's broken flag visible */
			vhu_vq_quiesce(vq);
			tell = vq->broken && !vq->broken_told;
			vq->broken_told |= tell;
			vhu_vq_resume(vq);
			if (!tell)
				continue;
			VHU_LOG(ERR, "%s: vring %u broken by the guest; it stays stopped until the frontend resets it",
				dev->name, v);
			if (dev->sock->ops.vring_broken != NULL)
				dev->sock->ops.vring_broken(dev, v,
							    dev->sock->ctx);
		}
	}
}

int
vhu_dev_vring_stats_reset(struct vhu_dev *dev, uint16_t vring)
{
	struct vhu_vq *vq;

	if (dev == NULL || vring >= RTE_DIM(dev->vqs.vq))
		return -EINVAL;
	vq = dev->vqs.vq[vring];
	if (vq == NULL)
		return -ENOENT;
	/* counters have one writer: the data path, kept out meanwhile */
	vhu_vq_quiesce(vq);
	memset(&vq->stats, 0, sizeof(vq->stats));
	vhu_vq_resume(vq);
	return 0;
}
