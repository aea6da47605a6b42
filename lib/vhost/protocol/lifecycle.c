/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The device lifecycle: device slots, the connection reader, readiness,
 * start (new_device), vring state reports, close.
 *
 * Readiness (checked after every message by dev_update):
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
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <sys/eventfd.h>

#include <linux/virtio_config.h>


#include "dev.h"
#include "handlers.h"
#include "iotlb.h"
#include "lifecycle.h"
#include "loop.h"
#include "memguard.h"
#include "msg.h"
#include "net_ctrl.h"
#include "postcopy.h"
#include "registry.h"
#include "vhu_log.h"
#include "vhu_numa.h"

/* Messages handled per wake-up, so one chatty peer cannot starve others. */
#define MSGS_PER_WAKEUP 32

static struct vhu_dev *slots[VHU_MAX_DEVICES];
/*
 * Slots are handed out round-robin: a slot just released is the last to be
 * reused, so a burst racing with destroy_device on a stale handle finds a
 * stopped queue rather than another frontend's new connection.
 */
static int next_slot;

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
		/* movable pages: it follows the guest's node (vhu_numa.h) */
		dev = vhu_numa_zalloc(sizeof(*dev));
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
	/* the control vring, if offered, after the data vrings (dev.h) */
	dev->max_vrings = 2 * s->max_queue_pairs +
			  ((s->features >> VIRTIO_NET_F_CTRL_VQ) & 1);
	dev->ctrl_watch_fd = -1;
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
	dev->numa_node = -1;
	dev->diag = 0;
	dev->postcopy_ufd = -1;
	dev->postcopy_listening = false;
	dev->mem.nregions = 0;
	memset(&dev->log, 0, sizeof(dev->log));
	memset(&dev->rx, 0, sizeof(dev->rx));
	vhu_net_ctrl_reset(dev);
	if (vhu_iotlb_attach(dev) < 0) {
		VHU_LOG(ERR, "%s: refusing connection: no memory for an IOTLB",
			s->path);
		return NULL;
	}
	dev->in_use = true;
	s->ndevs++;
	return dev;
}

/*
 * Enabled as the frontend sees it (see "Ring states" above), and for a
 * data vring, within the queue pairs the guest uses (VQ_PAIRS_SET).
 */
static bool
vring_enable_effective(const struct vhu_dev *dev, uint16_t i, bool requested)
{
	if (vhu_dev_is_data_vring(dev, i) &&
	    i / 2 >= vhu_dev_active_pairs(dev))
		return false;
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

static int
dev_update(struct vhu_dev *dev)
{
	const struct vhu_ops *ops = &dev->sock->ops;
	bool starting = false;
	const char *why;

	vhu_net_ctrl_sync(dev);
	/* push the effective enable state into the queues */
	for (uint16_t i = 0; i < dev->vqs.nr_vrings; i++) {
		struct vhu_vq *vq = dev->vqs.vq[i];
		bool en;

		if (vq == NULL)
			continue;
		en = vring_enable_effective(dev, i, dev->vring_enable_req[i]);
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
		vhu_dev_check_guest_writes(dev);
		vhu_dev_numa_start(dev);
		vhu_dev_set_running(dev, true);
		starting = true;
		VHU_LOG(INFO, "%s: device ready: %u vrings, features 0x%" PRIx64,
			dev->name, dev->vqs.nr_vrings, dev->features);
		if (ops->new_device != NULL &&
		    ops->new_device(dev, dev->sock->ctx) != 0) {
			VHU_LOG(ERR, "%s: application refused the device",
				dev->name);
			vhu_dev_set_running(dev, false);
			return -1;
		}
	}
	for (uint16_t i = 0; i < dev->vqs.nr_vrings; i++) {
		/* the control vring is libvhu's own (net_ctrl.c) */
		bool live = vhu_dev_is_data_vring(dev, i) && vring_live(dev, i);

		if (live == dev->vring_reported[i])
			continue;
		dev->vring_reported[i] = live;
		/* a vring live after the start: placed on its own */
		if (live && !starting)
			vhu_dev_numa_vring(dev, i);
		VHU_LOG(INFO, "%s: vring %u %s", dev->name, i,
			live ? "enabled" : "disabled");
		if (ops->vring_state_changed != NULL)
			ops->vring_state_changed(dev, i, live, dev->sock->ctx);
	}
	return 0;
}

/*
 * The control vring (CTRL_VQ negotiated, net_ctrl.c). Commands handled
 * per wake-up: a guest that keeps posting gets the rest on the next loop
 * turn (we kick ourselves), so it cannot hold the control context.
 */
#define CTRL_CMDS_PER_WAKEUP 64

/* Answer what the guest posted on the control vring, a bounded number. */
static void
ctrl_run(struct vhu_dev *dev)
{
	int n;

	for (n = 0; n < CTRL_CMDS_PER_WAKEUP; n++) {
		int r = vhu_net_ctrl_step(dev);

		if (r == 0)
			return;
		/* queue pairs turned off are reported before the filter */
		if (r & VHU_NET_CTRL_PAIRS)
			(void)dev_update(dev);
		if (r & VHU_NET_CTRL_CHANGED)
			vhu_net_ctrl_notify(dev);
	}
	if (dev->ctrl_watch_fd >= 0)
		(void)eventfd_write(dev->ctrl_watch_fd, 1);
}

static void
on_ctrl_kick(void *arg, uint32_t events)
{
	struct vhu_dev *dev = arg;
	struct pollfd p = { .fd = dev->ctrl_watch_fd, .events = POLLIN };
	eventfd_t v;

	(void)events;
	/*
	 * The frontend's eventfd may be blocking, and a wake-up may be
	 * spurious (loop.c): read the count only if there is one.
	 */
	if (poll(&p, 1, 0) == 1 && (p.revents & POLLIN))
		(void)eventfd_read(dev->ctrl_watch_fd, &v);
	ctrl_run(dev);
}

/*
 * Stop watching the control vring's kick fd: before every message (a
 * handler may close or replace the fd) and when the connection closes.
 */
static void
ctrl_unwatch(struct vhu_dev *dev)
{
	if (dev->ctrl_watch_fd >= 0) {
		vhu_loop_del(dev->ctrl_watch_fd);
		dev->ctrl_watch_fd = -1;
	}
}

/*
 * After a message: watch the control vring's kick fd while the device
 * runs, and answer what is already posted (at start, the guest may
 * have kicked before we watched).
 */
static void
ctrl_rearm(struct vhu_dev *dev)
{
	uint16_t idx = vhu_dev_ctrl_vring(dev);
	const struct vhu_vq *vq;

	if (!dev->running || idx >= RTE_DIM(dev->vqs.vq))
		return;
	vq = dev->vqs.vq[idx];
	if (vq == NULL)
		return;
	if (dev->ctrl_watch_fd < 0 && vq->kickfd >= 0 &&
	    vhu_loop_ready() && vhu_loop_add(vq->kickfd, on_ctrl_kick, dev) == 0)
		dev->ctrl_watch_fd = vq->kickfd;
	ctrl_run(dev);
}

/*
 * One message: its version checked first (as before any other rule), a
 * postcopy confirmation is taken here, anything else goes through the
 * request table; then readiness is re-evaluated.
 */
static int
handle_msg(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
	   const void *payload, int *fds, int nfds)
{
	int ret;

	if (vhu_msg_check_version(dev, hdr, fds, nfds) < 0)
		return -1;
	if (vhu_postcopy_is_confirmation(dev, hdr, nfds)) {
		uint64_t ok = 0;

		dev->postcopy_unconfirmed = false;
		VHU_LOG(DEBUG, "%s: postcopy: frontend confirmed our bases",
			dev->name);
		if (vhu_msg_wants_ack(dev, hdr) &&
		    vhu_msg_reply(dev, hdr->request, &ok, sizeof(ok)) < 0)
			return -1;
		return 0;
	}
	ret = vhu_msg_dispatch(dev, vhu_request_rules, hdr, payload, fds,
			       nfds);
	if (ret < 0)
		return -1;
	if (ret > 0 && dev_update(dev) < 0)
		return -1;
	return 0;
}

int
vhu_dev_handle_msg(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
		   const void *payload, int *fds, int nfds)
{
	int ret;

	ctrl_unwatch(dev);
	ret = handle_msg(dev, hdr, payload, fds, nfds);
	if (ret == 0)
		ctrl_rearm(dev);
	return ret;
}

/* Handle what the connection has, a bounded number of messages. */
static int
dev_read(struct vhu_dev *dev)
{
	for (int msgs = 0; msgs < MSGS_PER_WAKEUP; msgs++) {
		struct vhu_msg m;
		int ret = vhu_msg_recv(dev, &m);

		if (ret <= 0)
			return ret;
		if (vhu_dev_handle_msg(dev, &m.hdr, &m.payload, m.fds,
				       m.nfds) < 0)
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

void
vhu_dev_close(struct vhu_dev *dev)
{
	struct vhu_socket *s = dev->sock;

	if (!dev->in_use)
		return;
	ctrl_unwatch(dev);
	vhu_dev_stop(dev);
	vhu_dev_release_memory(dev);
	vhu_msg_rx_reset(&dev->rx);
	if (dev->fd >= 0) {
		vhu_loop_del(dev->fd);
		close(dev->fd);
		dev->fd = -1;
	}
	vhu_iotlb_free(dev);
	dev->in_use = false;
	VHU_LOG(INFO, "%s: connection closed", dev->name);
	if (s->ndevs > 0)
		s->ndevs--;
	if (s->dev_closed != NULL)
		s->dev_closed(s);
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
		vhu_numa_free(dev, sizeof(*dev));
		slots[i] = NULL;
	}
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

struct vhu_dev *
vhu_dev_by_id(int id)
{
	if (id < 0 || id >= VHU_MAX_DEVICES || slots[id] == NULL ||
	    !slots[id]->in_use)
		return NULL;
	return slots[id];
}

void
vhu_dev_report_faults(void)
{
	struct vhu_guard_fault f;

	/* a device's other faulted entries go with it in vhu_dev_close */
	while (vhu_guard_take_fault(&f)) {
		struct vhu_dev *dev = f.owner >= 0 && f.owner < VHU_MAX_DEVICES ?
				      slots[f.owner] : NULL;

		/* entries are removed before their device is released */
		if (dev == NULL || !dev->in_use)
			continue;
		if (f.kind == VHU_GUARD_LOG)
			VHU_LOG(ERR, "device %d (%s): dirty log of %" PRIu64
				" bytes became inaccessible (file truncated by the frontend?); closing the connection",
				dev->id, dev->sock->path, f.size);
		else
			VHU_LOG(ERR, "device %d (%s): guest memory region gpa 0x%"
				PRIx64 " size 0x%" PRIx64
				" became inaccessible (file truncated by the frontend?); closing the connection",
				dev->id, dev->sock->path, f.gpa, f.size);
		vhu_dev_close(dev);
	}
}
