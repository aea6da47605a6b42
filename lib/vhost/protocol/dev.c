/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The device object (see dev.h): its queues, stopping and resetting it,
 * and the application's queries. Request handlers use this floor; the
 * lifecycle above it (lifecycle.c) decides when a device starts.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <rte_lcore.h>

#include "dev.h"
#include "iotlb.h"
#include "loop.h"
#include "mem.h"
#include "net_ctrl.h"
#include "postcopy.h"
#include "registry.h"
#include "vhu_log.h"
#include "vhu_numa.h"

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
vhu_dev_vq_negotiated_locked(const struct vhu_dev *dev, struct vhu_vq *vq)
{
	vhu_vq_set_features_locked(vq, dev->features);
	/* the control vring and the spare slot are never data vrings */
	vhu_vq_set_ctrl_locked(vq, !vhu_dev_is_data_vring(dev, vq->index));
	vhu_vq_set_net_locked(vq, dev->sock->flags & VHU_SOCKET_LEGACY_OL_FLAGS,
			      dev->mtu);
	vhu_vq_set_sock_flags_locked(vq,
		((dev->sock->flags & VHU_SOCKET_LINEARBUF) ? VHU_VQ_F_LINEAR : 0) |
		((dev->sock->flags & VHU_SOCKET_EXTBUF) ? VHU_VQ_F_EXTBUF : 0) |
		((dev->sock->flags & VHU_SOCKET_LAZY_CALLS) ?
		 VHU_VQ_F_LAZY_CALLS : 0));
}

static void
apply_running(struct vhu_vq *vq, void *arg)
{
	const struct vhu_dev *dev = arg;

	vhu_dev_vq_negotiated_locked(dev, vq);
	vhu_vq_set_running_locked(vq, dev->running);
}

void
vhu_dev_set_running(struct vhu_dev *dev, bool running)
{
	dev->running = running;
	vhu_vqs_apply(&dev->vqs, false, apply_running, dev);
}

void
vhu_dev_stop(struct vhu_dev *dev)
{
	if (!dev->running)
		return;
	vhu_dev_set_running(dev, false);
	memset(dev->vring_reported, 0, sizeof(dev->vring_reported));
	VHU_LOG(INFO, "%s: device stopped", dev->name);
	vhu_iotlb_log_stats(dev);
	if (dev->sock->ops.destroy_device != NULL)
		dev->sock->ops.destroy_device(dev, dev->sock->ctx);
}

void
vhu_dev_release_memory(struct vhu_dev *dev)
{
	/* every queue is stopped or quiesced: nobody translates any more */
	vhu_vqs_quiesce_all(&dev->vqs);
	for (uint16_t i = 0; i < RTE_DIM(dev->vqs.vq); i++)
		if (dev->vqs.vq[i] != NULL)
			vhu_vq_reset_locked(dev->vqs.vq[i]);
	vhu_iotlb_reset_locked(dev);
	vhu_postcopy_close(dev);
	vhu_mem_clear(&dev->mem);
	vhu_log_unmap(&dev->log);
	vhu_vqs_resume_all(&dev->vqs);
}

void
vhu_dev_reset(struct vhu_dev *dev)
{
	vhu_dev_stop(dev);
	vhu_dev_release_memory(dev);
	dev->features = 0;
	dev->features_set = false;
	dev->protocol_features = 0;
	dev->status = 0;
	dev->mtu = 0;
	dev->rarp_pending = false;
	vhu_net_ctrl_reset(dev);
	/* a ring enabled before the reset would otherwise block readiness */
	memset(dev->vring_enable_req, 0, sizeof(dev->vring_enable_req));
}

bool
vhu_dev_diag_set(struct vhu_dev *dev, uint32_t bit)
{
	bool first = !(dev->diag & bit);

	vhu_atomic_store_u32(&dev->diag, dev->diag | bit, memory_order_relaxed);
	if (dev->sock != NULL)
		vhu_atomic_store_u32(&dev->sock->diag, dev->sock->diag | bit,
				     memory_order_relaxed);
	return first;
}

/*
 * Guest memory smaller than this is not checked by
 * vhu_dev_check_guest_writes(): test frontends share a few MiB with
 * nothing but zeroed rings in them; a guest that runs an OS has more.
 */
#define CHECK_MIN_BYTES (64ull << 20)
/*
 * Resident pages read at most (16 MiB) before concluding. A guest that
 * writes shared memory is found at the first page that holds data, in
 * practice the first: x86 firmware writes the lowest page of RAM.
 */
#define CHECK_PAGES 4096

void
vhu_dev_check_guest_writes(struct vhu_dev *dev)
{
	uint64_t total = 0, budget = CHECK_PAGES;

	/*
	 * Postcopy: the memory is still arriving, and may be PROT_NONE. A
	 * restart: our own ring writes (flags) would count as data.
	 */
	if (dev->postcopy_listening || dev->mem.nregions == 0 ||
	    (dev->diag & VHU_DIAG_MEM_INVISIBLE))
		return;
	for (uint32_t i = 0; i < dev->mem.nregions; i++) {
		total += dev->mem.r[i].size;
		if (budget > 0 &&
		    vhu_mem_region_has_data(&dev->mem.r[i], &budget) != 0)
			return; /* data seen, or this cannot tell */
	}
	if (total < CHECK_MIN_BYTES ||
	    !vhu_dev_diag_set(dev, VHU_DIAG_MEM_INVISIBLE))
		return;
	VHU_LOG(WARNING, "%s: the guest started its device, but its %" PRIu64 " MiB of memory hold only zeros in the files the frontend shared (%u resident pages read): the guest most likely runs on a private copy, and vhu will never see its rings (no traffic); guest memory must be shared and file-backed: QEMU -object memory-backend-memfd,share=on or memory-backend-file,...,share=on",
		dev->name, total >> 20, (unsigned int)(CHECK_PAGES - budget));
}

/* ---- NUMA placement (vhu_numa.h) ---- */

/* The region whose mapping holds p, or NULL. */
static struct vhu_mem_region *
region_of_hva(struct vhu_guest_mem *m, const void *p)
{
	for (uint32_t i = 0; i < m->nregions; i++) {
		struct vhu_mem_region *r = &m->r[i];

		if ((uintptr_t)p - (uintptr_t)r->hva < r->size)
			return r;
	}
	return NULL;
}

/* A region's node; asked again while unknown (its pages may be there now). */
static int
region_node(struct vhu_mem_region *r)
{
	if (r->numa_node < 0)
		r->numa_node = (int16_t)vhu_numa_node_of(r->hva, r->size, false);
	return r->numa_node;
}

/*
 * A vring's node: that of the region holding its descriptor ring (split
 * and packed alike), the memory the data path reads first and most. With
 * an IOMMU the ring pointer is found through the IOTLB, but it points into
 * the same regions. -1 for a ring not mapped (not usable). A region whose
 * sampled pages tell nothing takes the node of the ring page itself,
 * which the guest wrote and the first burst reads anyway, faulted in if
 * need be; not under postcopy, where that page may still be on the
 * source and the fault would hold the control context.
 */
static int
vring_node(struct vhu_dev *dev, const struct vhu_vq *vq)
{
	struct vhu_mem_region *r;

	if (vq == NULL || vq->desc == NULL)
		return -1;
	r = region_of_hva(&dev->mem, vq->desc);
	if (r == NULL)
		return -1;
	if (region_node(r) < 0 && !dev->postcopy_listening)
		r->numa_node = (int16_t)vhu_numa_node_of(vq->desc, 16, true);
	return r->numa_node;
}

static void
place_vring(struct vhu_dev *dev, struct vhu_vq *vq)
{
	int node = vring_node(dev, vq);

	vhu_vq_quiesce(vq);
	vhu_vq_set_numa_locked(vq, node);
	vhu_vq_resume(vq);
}

void
vhu_dev_numa_vring(struct vhu_dev *dev, uint16_t index)
{
	if (index < dev->vqs.nr_vrings && dev->vqs.vq[index] != NULL)
		place_vring(dev, dev->vqs.vq[index]);
}

void
vhu_dev_numa_start(struct vhu_dev *dev)
{
	int node, ret;

	for (uint16_t i = 0; i < dev->vqs.nr_vrings; i++)
		vhu_dev_numa_vring(dev, i);
	node = dev->vqs.vq[0] != NULL ? dev->vqs.vq[0]->numa_node : -1;
	if (node < 0 && dev->mem.nregions > 0)
		node = region_node(&dev->mem.r[0]);
	vhu_atomic_store_int(&dev->numa_node, node, memory_order_relaxed);
	if (node < 0) {
		VHU_LOG(INFO, "%s: NUMA node of the guest memory unknown", dev->name);
		return;
	}
	/*
	 * The device object holds the memory table every translation reads.
	 * Its address stays (handles are held by the application and by
	 * bursts), only its pages move.
	 */
	ret = vhu_numa_place(dev, sizeof(*dev), node);
	VHU_LOG(INFO, "%s: guest memory on NUMA node %d: device and queues %s",
		dev->name, node, ret == 0 ? "placed there" :
		"could not be moved there");
}

/* ---- the application's queries (vhu.h) ---- */

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

/* vhu.h: the first version's counters stay where they are, in order */
static_assert(offsetof(struct vhu_vring_stats, broken) + sizeof(uint64_t) ==
	      VHU_VRING_STATS_SIZE_V1, "vhu_vring_stats: V1 layout changed");
static_assert(sizeof(struct vhu_vring_stats) >= VHU_VRING_STATS_SIZE_V1,
	      "vhu_vring_stats shrank below its first version");

int
vhu_dev_vring_stats(const struct vhu_dev *dev, uint16_t vring,
		    struct vhu_vring_stats *st, size_t size)
{
	const struct vhu_vq *vq;
	struct vhu_vring_stats cur;
	size_t n;

	if (dev == NULL || st == NULL || size < VHU_VRING_STATS_SIZE_V1 ||
	    vring >= RTE_DIM(dev->vqs.vq))
		return -EINVAL;
	/* the application's thread: the acquire half of R5 */
	vq = vhu_atomic_load_ptr(&dev->vqs.vq[vring], memory_order_acquire);
	if (vq == NULL)
		return -ENOENT;
	/* every counter is a uint64_t (vhu.h): load them one by one */
	static_assert(sizeof(cur) % sizeof(uint64_t) == 0,
		      "vhu_vring_stats holds only uint64_t counters");
	for (size_t i = 0; i < sizeof(cur) / sizeof(uint64_t); i++)
		((uint64_t *)&cur)[i] = vhu_atomic_load_u64(
			&((const uint64_t *)&vq->stats)[i],
			memory_order_relaxed);
	/* an older caller gets its prefix; a newer one zeros past ours */
	n = RTE_MIN(size, sizeof(cur));
	memcpy(st, &cur, n);
	if (size > n)
		memset((char *)st + n, 0, size - n);
	return (int)n;
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

int
vhu_dev_vring_stats_reset(struct vhu_dev *dev, uint16_t vring)
{
	struct vhu_vq *vq;

	if (dev == NULL || vring >= RTE_DIM(dev->vqs.vq))
		return -EINVAL;
	/* the application's thread: the acquire half of R5 */
	vq = vhu_atomic_load_ptr(&dev->vqs.vq[vring], memory_order_acquire);
	if (vq == NULL)
		return -ENOENT;
	/* counters have one writer: the data path, kept out meanwhile */
	vhu_vq_quiesce(vq);
	memset(&vq->stats, 0, sizeof(vq->stats));
	vhu_vq_resume(vq);
	return 0;
}

int
vhu_dev_numa_node(const struct vhu_dev *dev)
{
	if (dev == NULL)
		return -1;
	return vhu_atomic_load_int(&dev->numa_node, memory_order_relaxed);
}

int
vhu_dev_vring_numa_node(const struct vhu_dev *dev, uint16_t vring)
{
	const struct vhu_vq *vq;

	if (dev == NULL || vring >= RTE_DIM(dev->vqs.vq))
		return -1;
	/* the application's thread: the acquire half of R5 */
	vq = vhu_atomic_load_ptr(&dev->vqs.vq[vring], memory_order_acquire);
	if (vq == NULL)
		return -1;
	return vhu_atomic_load_int(&vq->numa_node, memory_order_relaxed);
}

uint64_t
vhu_dev_vring_remote_polls(const struct vhu_dev *dev, uint16_t vring)
{
	const struct vhu_vq *vq;

	if (dev == NULL || vring >= RTE_DIM(dev->vqs.vq))
		return 0;
	/* the application's thread: the acquire half of R5 */
	vq = vhu_atomic_load_ptr(&dev->vqs.vq[vring], memory_order_acquire);
	if (vq == NULL)
		return 0;
	return vhu_atomic_load_u64(&vq->remote_polls, memory_order_relaxed);
}

uint32_t
vhu_dev_diag(const struct vhu_dev *dev)
{
	uint32_t d;

	if (dev == NULL)
		return 0;
	d = vhu_atomic_load_u32(&dev->diag, memory_order_relaxed);
	for (uint16_t v = 0; v < RTE_DIM(dev->vqs.vq); v++)
		if (vhu_dev_vring_remote_polls(dev, v) > 0)
			return d | VHU_DIAG_NUMA_REMOTE;
	return d;
}
