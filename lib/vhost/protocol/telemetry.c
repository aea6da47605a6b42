/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rte_telemetry endpoints of libvhu (see telemetry.h and
 * doc/guide/telemetry.md): what an operator asks a running application
 * with dpdk-telemetry.py, without the application's help.
 *
 * The telemetry thread is not the control context. Each request takes
 * tel.lock (so vhu_fini cannot tear the library down under it), then the
 * control lock, and reads device and socket state as the control context
 * left it; data-path counters are read as vhu_dev_vring_stats() reads
 * them (relaxed loads, never stopping a burst). Nothing here writes
 * library state. Lock order: tel.lock, then the control lock; vhu_fini
 * takes tel.lock alone, before the control lock.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <linux/virtio_config.h>

#include <rte_common.h>

#include "dev.h"
#include "lifecycle.h"
#include "loop.h"
#include "registry.h"
#include "telemetry.h"
#include "vhu_log.h"

static struct {
	pthread_mutex_t lock;
	bool registered; /* rte_telemetry has our commands (for good) */
	bool active;     /* between vhu_init and vhu_fini */
} tel = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* struct vhu_vring_stats, field by field, in order (vhu.h) */
static const char *const stat_names[] = {
	"packets", "bytes", "drops_no_buf", "desc_errors", "kicks", "calls",
	"broken", "drops_mtu", "drops_bad_hdr", "sw_cksums", "sw_segmented",
	"enqueue_full", "iotlb_misses", "last_kick_latency_ns",
	"dma_copies", "dma_fallbacks",
};
static_assert(RTE_DIM(stat_names) ==
	      sizeof(struct vhu_vring_stats) / sizeof(uint64_t),
	      "a counter of struct vhu_vring_stats has no telemetry name");

static void
add_hex(struct rte_tel_data *d, const char *name, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	rte_tel_data_add_dict_string(d, name, buf);
}

/* A dict container, or NULL (out of memory). */
static struct rte_tel_data *
new_dict(void)
{
	struct rte_tel_data *c = rte_tel_data_alloc();

	if (c != NULL)
		rte_tel_data_start_dict(c);
	return c;
}

/* Add container c (may be NULL) to dict d as name; d owns it after. */
static int
add_container(struct rte_tel_data *d, const char *name, struct rte_tel_data *c)
{
	if (c == NULL)
		return -ENOMEM;
	if (rte_tel_data_add_dict_container(d, name, c, 0) < 0) {
		rte_tel_data_free(c);
		return -ENOMEM;
	}
	return 0;
}

/*
 * The set-up mistakes libvhu noticed (VHU_DIAG_*, doc/guide/
 * troubleshooting.md) as "diag": a list of names, empty when none.
 */
static void
add_diag(struct rte_tel_data *d, uint32_t bits)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{ VHU_DIAG_MEM_NOT_SHARED, "mem_not_shared" },
		{ VHU_DIAG_MEM_INVISIBLE, "mem_invisible" },
		{ VHU_DIAG_MEM_TABLE_FULL, "mem_table_full" },
		{ VHU_DIAG_MEM_SLOTS_FULL, "mem_slots_full" },
		{ VHU_DIAG_NUMA_REMOTE, "numa_remote" },
	};
	struct rte_tel_data *c = rte_tel_data_alloc();

	if (c == NULL)
		return;
	rte_tel_data_start_array(c, RTE_TEL_STRING_VAL);
	for (size_t i = 0; i < RTE_DIM(names); i++)
		if (bits & names[i].bit)
			rte_tel_data_add_array_string(c, names[i].name);
	(void)add_container(d, "diag", c);
}

/*
 * Keyed "socket0", "socket1", ... in registration order, with the path
 * inside: DPDK 22.11's telemetry refuses dict names with characters a
 * path may hold.
 */
int
vhu_telemetry_sockets(struct rte_tel_data *d)
{
	unsigned int n = 0;

	rte_tel_data_start_dict(d);
	for (struct vhu_socket *s = vhu_socket_next(NULL); s != NULL;
	     s = vhu_socket_next(s)) {
		struct rte_tel_data *c = new_dict(), *ids;
		char key[24];

		if (c == NULL)
			return -ENOMEM;
		rte_tel_data_add_dict_string(c, "path", s->path);
		rte_tel_data_add_dict_string(c, "mode",
			(s->flags & VHU_SOCKET_CLIENT) ? "client" : "server");
		add_hex(c, "flags", s->flags);
		add_diag(c, vhu_socket_diag(s));
		rte_tel_data_add_dict_int(c, "started", s->started);
		rte_tel_data_add_dict_int(c, "max_queue_pairs",
					  s->max_queue_pairs);
		add_hex(c, "features_offered", s->features);
		add_hex(c, "protocol_features_offered", s->protocol_features);
		ids = rte_tel_data_alloc();
		if (ids == NULL) {
			rte_tel_data_free(c);
			return -ENOMEM;
		}
		rte_tel_data_start_array(ids, RTE_TEL_INT_VAL);
		for (int i = 0; i < VHU_MAX_DEVICES; i++) {
			const struct vhu_dev *dev = vhu_dev_by_id(i);

			if (dev != NULL && dev->sock == s)
				rte_tel_data_add_array_int(ids, i);
		}
		snprintf(key, sizeof(key), "socket%u", n++);
		if (add_container(c, "devices", ids) < 0 ||
		    add_container(d, key, c) < 0)
			return -ENOMEM;
	}
	return 0;
}

int
vhu_telemetry_devices(struct rte_tel_data *d)
{
	rte_tel_data_start_array(d, RTE_TEL_INT_VAL);
	for (int i = 0; i < VHU_MAX_DEVICES; i++)
		if (vhu_dev_by_id(i) != NULL)
			rte_tel_data_add_array_int(d, i);
	return 0;
}

/*
 * Per-device fields that are not negotiated protocol state. The place to
 * add more (the NUMA node the device's memory sits on, ...).
 */
static void
dev_add_extra(struct rte_tel_data *d, const struct vhu_dev *dev)
{
	struct vhu_rx_filter f;

	rte_tel_data_add_dict_string(d, "name", dev->name);
	rte_tel_data_add_dict_int(d, "numa_node", vhu_dev_numa_node(dev));
	add_diag(d, vhu_dev_diag(dev));
	/* the guest's receive filter, when it has a control queue of ours */
	if (vhu_dev_has_feature(dev, VIRTIO_NET_F_CTRL_VQ) &&
	    vhu_dev_rx_filter(dev, &f) == 0) {
		struct rte_tel_data *c = new_dict();

		if (c == NULL)
			return;
		rte_tel_data_add_dict_int(c, "promisc", f.promisc);
		rte_tel_data_add_dict_int(c, "allmulti", f.allmulti);
		rte_tel_data_add_dict_int(c, "alluni", f.alluni);
		rte_tel_data_add_dict_int(c, "nomulti", f.nomulti);
		rte_tel_data_add_dict_int(c, "nouni", f.nouni);
		rte_tel_data_add_dict_int(c, "nobcast", f.nobcast);
		rte_tel_data_add_dict_int(c, "unicast_macs", f.n_uc);
		rte_tel_data_add_dict_int(c, "multicast_macs", f.n_mc);
		rte_tel_data_add_dict_int(c, "queue_pairs", f.queue_pairs);
		(void)add_container(d, "rx_filter", c);
	}
}

/* One vring: configuration as the frontend set it, and its counters. */
static struct rte_tel_data *
vring_dict(const struct vhu_dev *dev, uint16_t v)
{
	const struct vhu_vq *vq = dev->vqs.vq[v];
	struct rte_tel_data *c;
	struct vhu_vring_stats st;

	if (vq == NULL || vhu_dev_vring_stats(dev, v, &st, sizeof(st)) < 0)
		return NULL;
	c = new_dict();
	if (c == NULL)
		return NULL;
	/*
	 * Configuration fields change only in the control context, which
	 * holds the control lock, as we do; `broken` is the data path's.
	 */
	rte_tel_data_add_dict_int(c, "enabled", vq->enabled);
	rte_tel_data_add_dict_int(c, "live", dev->vring_reported[v]);
	rte_tel_data_add_dict_int(c, "broken", vhu_dev_vring_broken(dev, v));
	rte_tel_data_add_dict_string(c, "layout",
		vhu_dev_has_feature(dev, VIRTIO_F_RING_PACKED) ? "packed" :
								 "split");
	rte_tel_data_add_dict_int(c, "size", vq->num_set ? vq->num : 0);
	rte_tel_data_add_dict_int(c, "kick_fd", vq->kick_set);
	rte_tel_data_add_dict_int(c, "call_fd", vq->call_set);
	rte_tel_data_add_dict_int(c, "numa_node",
				  vhu_dev_vring_numa_node(dev, v));
	rte_tel_data_add_dict_u64(c, "remote_polls",
				  vhu_dev_vring_remote_polls(dev, v));
	/* the counters in a dict of their own: "broken" is one as well */
	{
		struct rte_tel_data *cnt = new_dict();

		if (cnt != NULL)
			for (size_t i = 0; i < RTE_DIM(stat_names); i++)
				rte_tel_data_add_dict_u64(cnt, stat_names[i],
					((const uint64_t *)&st)[i]);
		if (add_container(c, "stats", cnt) < 0) {
			rte_tel_data_free(c);
			return NULL;
		}
	}
	return c;
}

int
vhu_telemetry_device(int id, struct rte_tel_data *d)
{
	const struct vhu_dev *dev = vhu_dev_by_id(id);

	if (dev == NULL)
		return -ENOENT;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_int(d, "id", dev->id);
	rte_tel_data_add_dict_string(d, "socket", dev->sock->path);
	add_hex(d, "features", dev->features);
	add_hex(d, "protocol_features", dev->protocol_features);
	add_hex(d, "status", dev->status);
	rte_tel_data_add_dict_int(d, "running", dev->running);
	rte_tel_data_add_dict_int(d, "mtu", dev->mtu);
	rte_tel_data_add_dict_int(d, "memory_regions", (int)dev->mem.nregions);
	rte_tel_data_add_dict_int(d, "nr_vrings", dev->vqs.nr_vrings);
	dev_add_extra(d, dev);
	/*
	 * A vring takes about 450 bytes of JSON (counters of 10-13 digits):
	 * 32 (16 queue pairs, the default build maximum) fit in the 16 KiB
	 * of one telemetry answer. Beyond that, DPDK 22.11 leaves out what
	 * does not fit: /vhu/vring,ID,N answers for one vring.
	 */
	for (uint16_t v = 0; v < dev->vqs.nr_vrings; v++) {
		char key[16];

		if (dev->vqs.vq[v] == NULL)
			continue;
		snprintf(key, sizeof(key), "vring%u", v);
		if (add_container(d, key, vring_dict(dev, v)) < 0)
			return -ENOMEM;
	}
	return 0;
}

int
vhu_telemetry_vring(int id, uint16_t vring, struct rte_tel_data *d)
{
	const struct vhu_dev *dev = vhu_dev_by_id(id);
	struct rte_tel_data *c;

	if (dev == NULL || vring >= dev->vqs.nr_vrings ||
	    dev->vqs.vq[vring] == NULL)
		return -ENOENT;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_int(d, "id", dev->id);
	rte_tel_data_add_dict_int(d, "vring", vring);
	c = vring_dict(dev, vring);
	return add_container(d, "state", c);
}

/* ---- rte_telemetry callbacks (the telemetry thread) ---- */

typedef int (*builder_fn)(const char *params, struct rte_tel_data *d);

/* Run build with the library held; -EINVAL when it is not initialised. */
static int
answer(builder_fn build, const char *params, struct rte_tel_data *d)
{
	int ret = -EINVAL;

	pthread_mutex_lock(&tel.lock);
	if (tel.active) {
		vhu_ctl_lock();
		ret = build(params, d);
		vhu_ctl_unlock();
	}
	pthread_mutex_unlock(&tel.lock);
	return ret;
}

static int
build_sockets(const char *params, struct rte_tel_data *d)
{
	(void)params;
	return vhu_telemetry_sockets(d);
}

static int
build_devices(const char *params, struct rte_tel_data *d)
{
	(void)params;
	return vhu_telemetry_devices(d);
}

static int
build_device(const char *params, struct rte_tel_data *d)
{
	char *end;
	long id;

	if (params == NULL || *params == '\0')
		return -EINVAL;
	id = strtol(params, &end, 10);
	if (*end != '\0' || id < 0 || id >= VHU_MAX_DEVICES)
		return -EINVAL;
	return vhu_telemetry_device((int)id, d);
}

/* "ID,VRING" */
static int
build_vring(const char *params, struct rte_tel_data *d)
{
	char *end;
	long id, vring;

	if (params == NULL || *params == '\0')
		return -EINVAL;
	id = strtol(params, &end, 10);
	if (end == params || *end != ',' || id < 0 || id >= VHU_MAX_DEVICES)
		return -EINVAL;
	params = end + 1;
	vring = strtol(params, &end, 10);
	if (end == params || *end != '\0' || vring < 0 ||
	    vring >= 2 * VHU_MAX_QUEUE_PAIRS)
		return -EINVAL;
	return vhu_telemetry_vring((int)id, (uint16_t)vring, d);
}

static int
cmd_vring(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	return answer(build_vring, params, d);
}

static int
cmd_sockets(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	return answer(build_sockets, params, d);
}

static int
cmd_devices(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	return answer(build_devices, params, d);
}

static int
cmd_device(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	return answer(build_device, params, d);
}

void
vhu_telemetry_init(void)
{
	pthread_mutex_lock(&tel.lock);
	if (!tel.registered) {
		/* harmless with --no-telemetry: nobody will ask */
		if (rte_telemetry_register_cmd("/vhu/sockets", cmd_sockets,
			"vhost-user socket paths: mode, flags, devices. No parameters") < 0 ||
		    rte_telemetry_register_cmd("/vhu/devices", cmd_devices,
			"Ids of the connected vhost-user devices. No parameters") < 0 ||
		    rte_telemetry_register_cmd("/vhu/device", cmd_device,
			"One vhost-user device: features, state, vrings and their counters. Parameter: device id") < 0 ||
		    rte_telemetry_register_cmd("/vhu/vring", cmd_vring,
			"One vring of a vhost-user device: state and counters. Parameters: device id,vring") < 0)
			VHU_LOG(WARNING, "telemetry endpoints /vhu/* not registered");
		tel.registered = true;
	}
	tel.active = true;
	pthread_mutex_unlock(&tel.lock);
}

void
vhu_telemetry_fini(void)
{
	pthread_mutex_lock(&tel.lock);
	tel.active = false;
	pthread_mutex_unlock(&tel.lock);
}
