/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control side of a virtqueue: creation and destruction, the quiesce /
 * resume handshake described in vq.h, the setters the protocol layer calls
 * while it holds a queue, and the derivation of everything the data path
 * reads (ring pointers, feature flags, header length, the ready flag) from
 * that configuration. Nothing here runs per packet; it may allocate and
 * close file descriptors, never while a burst is inside the queue.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_memory.h>
#include <rte_pause.h>

#include "vq.h"
#include "vhu_log.h"
#include "vhu_numa.h"

/*
 * Wakes the control context when a queue breaks: the data path must not
 * run application code, so vring_broken() is called from there. Written
 * once at init, before any burst can run.
 */
static int broken_notify_fd = -1;

void
vhu_vq_set_broken_notify_fd(int fd)
{
	broken_notify_fd = fd;
}

static inline bool
has_feature(uint64_t features, unsigned int bit)
{
	return (features >> bit) & 1;
}

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

struct vhu_vq *
vhu_vq_create(int dev_id, uint16_t index, int numa_node,
	      const struct vhu_guest_mem *mem, const struct vhu_dirty_log *log)
{
	struct vhu_vq *vq;

	/*
	 * Movable pages, not rte_malloc: the queue follows its guest memory
	 * to another node when a device starts (vhu_numa.h), and its
	 * address must never change. A queue on the wrong node is slower,
	 * not wrong.
	 */
	vq = vhu_numa_zalloc(sizeof(*vq));
	if (vq == NULL)
		return NULL;
	atomic_init(&vq->access, VHU_VQ_FREE);
	vq->numa_node = numa_node >= 0 ? numa_node : -1;
	if (numa_node >= 0)
		(void)vhu_numa_place(vq, sizeof(*vq), numa_node);
	vq->index = index;
	vq->mem = mem;
	vq->mem_rd = mem;
	vq->mem_wr = mem;
	vq->log = log;
	vq->callfd = -1;
	vq->kickfd = -1;
	vq->errfd = -1;
	vq->avail_wrap = true;
	vq->used_wrap = true;
	vq->why_not_ready = "not configured";
	snprintf(vq->name, sizeof(vq->name), "dev%d.vring%u", dev_id, index);
	return vq;
}

void
vhu_vq_destroy(struct vhu_vq *vq)
{
	if (vq == NULL)
		return;
	if (vq->async != NULL)
		vq->async_free(vq);
	close_fd(&vq->kickfd);
	close_fd(&vq->callfd);
	close_fd(&vq->errfd);
	rte_free(vq->shadow_used);
	vhu_numa_free(vq, sizeof(*vq));
}

void
vhu_vq_set_numa_locked(struct vhu_vq *vq, int node)
{
	vhu_atomic_store_int(&vq->numa_node, node, memory_order_relaxed);
	if (node < 0) {
		vq->flags &= ~VHU_VQ_F_NUMA_CHECK;
		return;
	}
	vq->flags |= VHU_VQ_F_NUMA_CHECK;
	(void)vhu_numa_place(vq, sizeof(*vq), node);
	/*
	 * The staging array is rte_malloc memory (hugepages DPDK tracks by
	 * physical address: never migrated): reallocate it on the node.
	 * Only bursts use it, and none runs (CONTROL held).
	 */
	if (vq->shadow_used != NULL && vq->num_set) {
		const struct rte_memseg_list *msl =
			rte_mem_virt2memseg_list(vq->shadow_used);

		if (msl == NULL || msl->socket_id != node) {
			void *p = rte_realloc_socket(vq->shadow_used,
					vq->num * sizeof(struct vring_used_elem),
					RTE_CACHE_LINE_SIZE, node);

			if (p != NULL)
				vq->shadow_used = p;
		}
	}
}

void
vhu_vq_first_poll(struct vhu_vq *vq)
{
	unsigned int lcore = rte_lcore_id();
	int here, node = vq->numa_node;

	vq->flags &= ~VHU_VQ_F_NUMA_CHECK;
	/* a thread that is no EAL lcore: the node its affinity gives */
	here = lcore != LCORE_ID_ANY ? (int)rte_lcore_to_socket_id(lcore) :
				       (int)rte_socket_id();
	if (node < 0 || here < 0 || here == node)
		return;
	vhu_stat_add(&vq->remote_polls, 1);
	VHU_DATA_LOG(WARNING, "%s: polled from lcore %d on NUMA node %d, but the guest memory of this vring is on node %d: every packet crosses nodes; poll it from an lcore on node %d, or place the guest's memory on node %d (QEMU -object memory-backend-...,host-nodes=%d,policy=bind)",
		     vq->name, lcore != LCORE_ID_ANY ? (int)lcore : -1, here,
		     node, node, here, here);
}

void
vhu_vq_quiesce(struct vhu_vq *vq)
{
	uint32_t expected = VHU_VQ_FREE;

	/*
	 * A2: acquire pairs with R1 (vhu_vq_leave) so every index, stat and
	 * broken flag the last burst wrote is visible here. Spinning is
	 * bounded by one burst (VHU_BURST_MAX packets): bursts never wait.
	 */
	while (!atomic_compare_exchange_weak_explicit(&vq->access, &expected,
			VHU_VQ_CONTROL, memory_order_acquire,
			memory_order_relaxed)) {
		expected = VHU_VQ_FREE;
		rte_pause();
	}
	/* DMA copies in flight land before anything changes (async.c) */
	if (unlikely(vq->async != NULL))
		vq->async_drain(vq);
	/* and held transmit completions reach the guest (split.c) */
	if (unlikely(vq->held_adv != 0))
		vq->held_release(vq);
}

/*
 * The used ring write that tells the guest whether to kick us, and with
 * dirty logging the marks of what it wrote.
 */
static void
write_notify_flags(struct vhu_vq *vq)
{
	bool want = vq->flags & VHU_VQ_F_NOTIFY;
	bool log = (vq->flags & (VHU_VQ_F_LOG | VHU_VQ_F_LOG_USED)) ==
		   (VHU_VQ_F_LOG | VHU_VQ_F_LOG_USED);
	uint64_t log_gpa[2];
	uint64_t log_len[2];
	int nlog = 0;

	if (vq->flags & VHU_VQ_F_PACKED) {
		/*
		 * virtio 1.2 §2.8.10: the device event suppression area
		 * tells the driver when to notify. ENABLE or DISABLE only:
		 * DESC would need EVENT_IDX and buys nothing for a poller.
		 */
		vhu_atomic_store_u16(&vq->device_event->off_wrap, 0,
				     memory_order_relaxed);
		vhu_atomic_store_u16(&vq->device_event->flags,
				     want ? VRING_PACKED_EVENT_FLAG_ENABLE :
					    VRING_PACKED_EVENT_FLAG_DISABLE,
				     memory_order_relaxed);
		log_gpa[nlog] = vq->event_log_gpa;
		log_len[nlog++] = sizeof(struct vring_packed_desc_event);
	} else if (vq->flags & VHU_VQ_F_EVENT_IDX) {
		/*
		 * virtio 1.2 §2.7.10: with EVENT_IDX the driver kicks when
		 * its avail idx passes avail_event, and ignores flags. Asking
		 * for the next add: our next index. Not asking: one behind
		 * it, which the guest reaches only after 65535 adds.
		 */
		const size_t ev_off = offsetof(struct vring_used, ring) +
				      (size_t)vq->size *
				      sizeof(struct vring_used_elem);
		uint16_t *avail_event = (uint16_t *)((uint8_t *)vq->used +
						     ev_off);
		uint16_t ev = want ? vq->last_avail_idx :
				     (uint16_t)(vq->last_avail_idx - 1);

		vhu_atomic_store_u16(&vq->used->flags, 0, memory_order_relaxed);
		vhu_atomic_store_u16(avail_event, ev, memory_order_relaxed);
		log_gpa[nlog] = vq->used_log_gpa + ev_off;
		log_len[nlog++] = 2;
	} else {
		vhu_atomic_store_u16(&vq->used->flags,
				     want ? 0 : VRING_USED_F_NO_NOTIFY,
				     memory_order_relaxed);
	}
	if (!(vq->flags & VHU_VQ_F_PACKED)) {
		log_gpa[nlog] = vq->used_log_gpa +
				offsetof(struct vring_used, flags);
		log_len[nlog++] = 2;
	}
	/*
	 * F2: the flag store must be visible before the caller looks at
	 * avail->idx again (it polls once after enabling kicks), or a
	 * guest add between the two is missed by both sides. Pairs with
	 * the guest's full barrier between its avail->idx store and its
	 * read of used->flags / avail_event.
	 */
	atomic_thread_fence(memory_order_seq_cst);
	/* D1: the fence above also puts the stores before their dirty bits */
	for (int k = 0; log && k < nlog; k++)
		vhu_log_mark(vq->log, log_gpa[k], log_len[k]);
}

/* Guest-physical address of a frontend-virtual one, for dirty logging. */
static uint64_t
qva_to_gpa(const struct vhu_guest_mem *m, uint64_t qva)
{
	for (uint32_t i = 0; i < m->nregions; i++)
		if (qva - m->r[i].qva < m->r[i].size)
			return m->r[i].gpa + (qva - m->r[i].qva);
	return 0;
}

/* Why a ring waits for the frontend (an IOTLB miss), not a fault. */
static const char ring_miss_why[] =
	"ring IOVA not in the IOTLB (miss requested)";

/*
 * Host address of a ring part [addr, addr + len): a frontend-virtual
 * address, or with IOMMU an IOVA (vhost-user.rst, "IOMMU support": ring
 * addresses are then I/O virtual) that must be in the IOTLB for every
 * access the device makes to it (rd, wr) and contiguous in host memory.
 * An IOVA the IOTLB lacks is requested (one outstanding miss per queue).
 */
static void *
ring_xlate(struct vhu_vq *vq, uint64_t addr, uint64_t len, bool rd, bool wr,
	   const char **why)
{
	const struct vhu_guest_mem *views[2] = { vq->mem_rd, vq->mem_wr };
	const bool want[2] = { rd, wr };
	uint8_t *p = NULL;

	if (!(vq->flags & VHU_VQ_F_IOMMU)) {
		p = vhu_qva_to_hva(vq->mem, addr, len);
		if (p == NULL)
			*why = "ring address outside guest memory";
		return p;
	}
	for (int i = 0; i < 2; i++) {
		uint32_t hint = 0;
		uint8_t *q;

		if (!want[i])
			continue;
		q = vhu_gpa_to_hva_whole(views[i], &hint, addr, len);
		if (q == NULL) {
			uint64_t gap = vhu_mem_first_gap(views[i], &hint, addr,
							 len);

			if (gap == UINT64_MAX) {
				*why = "ring not contiguous in host memory";
			} else {
				vhu_vq_miss(vq, gap, i == 0 ? VHOST_ACCESS_RO :
							      VHOST_ACCESS_WO);
				*why = ring_miss_why;
			}
			return NULL;
		}
		if (p != NULL && q != p) {
			*why = "ring IOVA maps differently for read and write";
			return NULL;
		}
		p = q;
	}
	return p;
}

/*
 * Ring pointers of a packed queue. SET_VRING_ADDR keeps its split names
 * (vhost-user.rst, and the vhost kernel ABI it mirrors): with RING_PACKED
 * desc is the descriptor ring, avail the driver event suppression area and
 * used the device event suppression area. Returns why not, or NULL.
 */
static const char *
map_packed(struct vhu_vq *vq)
{
	const uint64_t esz = sizeof(struct vring_packed_desc_event);
	const char *why = NULL;

	/* the device reads descriptors and writes them back as used */
	vq->pdesc = ring_xlate(vq, vq->addr.desc_user_addr,
			sizeof(struct vring_packed_desc) * (uint64_t)vq->num,
			true, true, &why);
	vq->driver_event = vq->pdesc == NULL ? NULL :
		ring_xlate(vq, vq->addr.avail_user_addr, esz, true, false, &why);
	vq->device_event = vq->driver_event == NULL ? NULL :
		ring_xlate(vq, vq->addr.used_user_addr, esz, false, true, &why);
	if (vq->pdesc == NULL || vq->driver_event == NULL ||
	    vq->device_event == NULL)
		return why;
	/* virtio 1.2 §2.8.10.1: alignment: ring 16, event areas 4 */
	if (((uintptr_t)vq->pdesc & 15) || ((uintptr_t)vq->driver_event & 3) ||
	    ((uintptr_t)vq->device_event & 3))
		return "ring address misaligned";
	/* SET_VRING_BASE may come before SET_VRING_NUM: check here */
	if (vq->last_avail_idx >= vq->num || vq->last_used_idx >= vq->num)
		return "ring base outside the ring";
	vq->used_log_gpa = qva_to_gpa(vq->mem, vq->addr.desc_user_addr);
	vq->event_log_gpa = qva_to_gpa(vq->mem, vq->addr.used_user_addr);
	return NULL;
}

/*
 * The offloads of this vring's direction (virtio 1.2 §5.1.3): what the
 * guest may ask of us on its transmit vring, what we may hand it on its
 * receive vring; and, receiving, which mbuf flags need the software
 * stage (offload.c): every segmentation request (the frame's IP version
 * and the guest's ECN decide), the IPv4 header checksum (virtio has no
 * such offload), and the L4 checksum flags when the guest takes no
 * partial checksums.
 */
static void
set_offloads(struct vhu_vq *vq, uint64_t f, uint32_t *flags)
{
	bool rx = (vq->index & 1) == 0;
	uint8_t caps = 0;

	if (rx) {
		if (has_feature(f, VIRTIO_NET_F_GUEST_CSUM)) {
			caps = VHU_OL_CSUM;
			if (has_feature(f, VIRTIO_NET_F_GUEST_TSO4))
				caps |= VHU_OL_TSO4;
			if (has_feature(f, VIRTIO_NET_F_GUEST_TSO6))
				caps |= VHU_OL_TSO6;
			if (has_feature(f, VIRTIO_NET_F_GUEST_ECN))
				caps |= VHU_OL_ECN;
			if (has_feature(f, VIRTIO_NET_F_GUEST_USO4))
				caps |= VHU_OL_USO4;
			if (has_feature(f, VIRTIO_NET_F_GUEST_USO6))
				caps |= VHU_OL_USO6;
		}
	} else {
		if (has_feature(f, VIRTIO_NET_F_CSUM)) {
			caps = VHU_OL_CSUM;
			if (has_feature(f, VIRTIO_NET_F_HOST_TSO4))
				caps |= VHU_OL_TSO4;
			if (has_feature(f, VIRTIO_NET_F_HOST_TSO6))
				caps |= VHU_OL_TSO6;
			if (has_feature(f, VIRTIO_NET_F_HOST_ECN))
				caps |= VHU_OL_ECN;
			if (has_feature(f, VIRTIO_NET_F_HOST_USO))
				caps |= VHU_OL_USO4 | VHU_OL_USO6;
		}
	}
	vq->ol_caps = caps;
	if (caps != 0)
		*flags |= VHU_VQ_F_NET_OL;
	if (vq->legacy_ol)
		*flags |= VHU_VQ_F_LEGACY_OL;
	/* transmit vrings only: a receive vring never builds an mbuf */
	if (!rx)
		*flags |= vq->sock_flags & (VHU_VQ_F_LINEAR | VHU_VQ_F_EXTBUF);
	vq->ol_sw_flags = RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_UDP_SEG |
			  RTE_MBUF_F_RX_LRO | RTE_MBUF_F_TX_IP_CKSUM;
	vq->ol_partial_mask = 0;
	if (!(caps & VHU_OL_CSUM)) {
		vq->ol_sw_flags |= RTE_MBUF_F_TX_L4_MASK;
		vq->ol_partial_mask = RTE_MBUF_F_RX_L4_CKSUM_MASK;
	}
	/* 18: Ethernet header and one VLAN tag around an MTU-sized packet */
	vq->max_frame = vq->mtu != 0 && has_feature(f, VIRTIO_NET_F_MTU) ?
			(uint32_t)vq->mtu + 18 : UINT32_MAX;
}

void
vhu_vq_resume(struct vhu_vq *vq)
{
	bool was_ok = vq->ready || vq->ctrl_ready;
	/* the app's notify choice and the first-poll checks not yet made stay */
	uint32_t flags = vq->flags & (VHU_VQ_F_NOTIFY | VHU_VQ_F_KICKED |
				      VHU_VQ_F_NUMA_CHECK |
				      VHU_VQ_F_COALESCE | VHU_VQ_F_CALL_HELD |
				      VHU_VQ_F_CALL_OWED);
	uint64_t f = vq->features;
	const char *why = NULL;

	/* the control context is woken by every guest kick of this ring */
	if (vq->ctrl)
		flags |= VHU_VQ_F_CTRL | VHU_VQ_F_NOTIFY;

	if (has_feature(f, VIRTIO_NET_F_MRG_RXBUF))
		flags |= VHU_VQ_F_MRG_RXBUF;
	if (has_feature(f, VIRTIO_RING_F_EVENT_IDX))
		flags |= VHU_VQ_F_EVENT_IDX;
	if (has_feature(f, VIRTIO_RING_F_INDIRECT_DESC))
		flags |= VHU_VQ_F_INDIRECT;
	if (has_feature(f, VHOST_F_LOG_ALL) && vq->log != NULL &&
	    vq->log->base != NULL)
		flags |= VHU_VQ_F_LOG;
	if (has_feature(vq->addr.flags, VHOST_VRING_F_LOG))
		flags |= VHU_VQ_F_LOG_USED;
	if (has_feature(f, VIRTIO_F_RING_PACKED))
		flags |= VHU_VQ_F_PACKED;
	if (has_feature(f, VIRTIO_F_IN_ORDER))
		flags |= VHU_VQ_F_IN_ORDER;
	if (has_feature(f, VIRTIO_F_ACCESS_PLATFORM) && vq->iotlb_rd != NULL &&
	    vq->iotlb_wr != NULL) {
		flags |= VHU_VQ_F_IOMMU;
		vq->mem_rd = vq->iotlb_rd;
		vq->mem_wr = vq->iotlb_wr;
	} else {
		vq->mem_rd = vq->mem;
		vq->mem_wr = vq->mem;
	}
	set_offloads(vq, f, &flags);
	flags |= vq->sock_flags & VHU_VQ_F_LAZY_CALLS;
	vq->flags = flags;
	vq->calm = 0; /* the driver's habits are learnt again */
	/* virtio 1.2 §5.1.6: the num_buffers field exists with either */
	vq->hdr_len = (has_feature(f, VIRTIO_NET_F_MRG_RXBUF) ||
		       has_feature(f, VIRTIO_F_VERSION_1)) ?
		      sizeof(struct virtio_net_hdr_mrg_rxbuf) :
		      sizeof(struct virtio_net_hdr);

	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->size = 0;
	if (!vq->num_set) {
		why = "no SET_VRING_NUM";
	} else if (!vq->addr_set) {
		why = "no SET_VRING_ADDR";
	} else if (!vq->kick_set) {
		why = "no SET_VRING_KICK";
	} else if (!vq->call_set) {
		why = "no SET_VRING_CALL";
	} else if (vq->mem == NULL) {
		why = "no memory table";
	} else if (has_feature(f, VIRTIO_F_ACCESS_PLATFORM) &&
		   !(flags & VHU_VQ_F_IOMMU)) {
		why = "ACCESS_PLATFORM negotiated but no IOTLB";
	} else if (flags & VHU_VQ_F_PACKED) {
		why = map_packed(vq);
		if (why != NULL) {
			vq->desc = NULL;
			vq->avail = NULL;
			vq->used = NULL;
		} else {
			vq->size = vq->num;
		}
	} else if ((vq->num & (vq->num - 1)) != 0) {
		/* set_num accepted it for a packed ring; features changed */
		why = "split ring size not a power of two";
	} else {
		uint64_t n = vq->num;

		/* virtio 1.2 §2.7: ring part sizes; +2 is the event field */
		vq->desc = ring_xlate(vq, vq->addr.desc_user_addr, 16 * n,
				      true, false, &why);
		if (vq->desc != NULL)
			vq->avail = ring_xlate(vq, vq->addr.avail_user_addr,
					       6 + 2 * n, true, false, &why);
		if (vq->avail != NULL)
			vq->used = ring_xlate(vq, vq->addr.used_user_addr,
					      6 + 8 * n, false, true, &why);
		/* virtio 1.2 §2.7 alignment: desc 16, avail 2, used 4 */
		if (why == NULL && (((uintptr_t)vq->desc & 15) ||
			 ((uintptr_t)vq->avail & 1) ||
			 ((uintptr_t)vq->used & 3)))
			why = "ring address misaligned";
		if (why != NULL) {
			vq->desc = NULL;
			vq->avail = NULL;
			vq->used = NULL;
		} else {
			vq->size = vq->num;
			vq->used_log_gpa = vq->addr.log_guest_addr;
		}
	}
	/*
	 * The frontend gave a ring that cannot be used: say so once, when
	 * the reason first appears (resume runs after every message).
	 */
	vq->ring_miss = why == ring_miss_why;
	if (why != NULL && !vq->ring_miss && vq->num_set && vq->addr_set &&
	    vq->kick_set && vq->call_set && vq->mem != NULL &&
	    vq->mem->nregions > 0 && why != vq->why_not_ready)
		VHU_LOG(ERR, "%s: frontend's ring cannot be used: %s (size %u, desc 0x%"
			PRIx64 " avail 0x%" PRIx64 " used 0x%" PRIx64 ")",
			vq->name, why, vq->num, (uint64_t)vq->addr.desc_user_addr,
			(uint64_t)vq->addr.avail_user_addr,
			(uint64_t)vq->addr.used_user_addr);
	if (why == NULL) {
		if (vq->broken)
			why = "broken by the guest";
		else if (!vq->enabled)
			why = "disabled";
		else if (!vq->running)
			why = "device not started";
	}
	vq->why_not_ready = why;
	vq->ready = why == NULL && !vq->ctrl;
	vq->ctrl_ready = why == NULL && vq->ctrl;
	if (why == NULL && !was_ok) {
		write_notify_flags(vq);
		vq->signalled_used_valid = false;
	}
	/* R2: pairs with A1 (vhu_vq_enter); publishes all of the above */
	atomic_store_explicit(&vq->access, VHU_VQ_FREE, memory_order_release);
}

void
vhu_vq_reset_locked(struct vhu_vq *vq)
{
	close_fd(&vq->kickfd);
	close_fd(&vq->callfd);
	close_fd(&vq->errfd);
	vq->ready = false;
	vq->ctrl_ready = false;
	vq->ctrl = false;
	vq->flags = 0;
	vq->hdr_len = 0;
	vq->size = 0;
	vq->last_avail_idx = 0;
	vq->last_used_idx = 0;
	vq->held_n = 0;
	vq->held_adv = 0;
	vq->held_since = 0;
	vq->avail_wrap = true;
	vq->used_wrap = true;
	vq->signalled_used = 0;
	vq->signalled_used_valid = false;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->used_log_gpa = 0;
	memset(&vq->stats, 0, sizeof(vq->stats));
	/* the next connection's guest may live elsewhere (queries) */
	vhu_atomic_store_int(&vq->numa_node, -1, memory_order_relaxed);
	vhu_atomic_store_u64(&vq->remote_polls, 0, memory_order_relaxed);
	vq->miss_pending = false;
	vq->miss_sent = false;
	vq->announce = false;
	vq->enabled = false;
	vq->running = false;
	vhu_atomic_store_bool(&vq->broken, false,
			      memory_order_relaxed); /* queries */
	vq->broken_told = false;
	vq->num_set = false;
	vq->addr_set = false;
	vq->kick_set = false;
	vq->call_set = false;
	vq->num = 0;
	memset(&vq->addr, 0, sizeof(vq->addr));
	vq->features = 0;
	vq->why_not_ready = "not configured";
	/* shadow_used stays allocated: set_num reuses or resizes it */
}

int
vhu_vq_set_num_locked(struct vhu_vq *vq, uint32_t num)
{
	const struct rte_memseg_list *msl;
	void *p;

	/*
	 * virtio 1.2 §2.7: split Queue Size is a power of 2; §2.8: packed
	 * need not be; both at most 32768. Frontends send SET_FEATURES
	 * first, and the protocol layer hands them to the queue before
	 * this call; resume() re-checks if the layout changes later.
	 */
	if (num == 0 || num > VHU_VQ_MAX_SIZE)
		return -EINVAL;
	if (!has_feature(vq->features, VIRTIO_F_RING_PACKED) &&
	    (num & (num - 1)) != 0)
		return -EINVAL;
	/* keep the staging array on the queue's node */
	msl = vq->shadow_used != NULL ?
	      rte_mem_virt2memseg_list(vq->shadow_used) : NULL;
	p = rte_realloc_socket(vq->shadow_used,
			       num * sizeof(struct vring_used_elem),
			       RTE_CACHE_LINE_SIZE,
			       vq->numa_node >= 0 ? vq->numa_node :
			       msl != NULL ? msl->socket_id : SOCKET_ID_ANY);
	/* no hugepages on that node: anywhere will do */
	if (p == NULL)
		p = rte_realloc_socket(vq->shadow_used,
				       num * sizeof(struct vring_used_elem),
				       RTE_CACHE_LINE_SIZE, SOCKET_ID_ANY);
	if (p == NULL)
		return -ENOMEM;
	vq->shadow_used = p;
	vq->num = num;
	vq->num_set = true;
	return 0;
}

int
vhu_vq_set_addr_locked(struct vhu_vq *vq, const struct vhost_vring_addr *a)
{
	vq->addr = *a;
	vq->addr_set = true;
	/* new ring addresses: a miss for the old ones must not block theirs */
	vq->miss_pending = false;
	vq->miss_sent = false;
	vq->why_not_ready = "new ring address"; /* resume() logs a bad one anew */
	return 0;
}

int
vhu_vq_set_base_locked(struct vhu_vq *vq, uint32_t base)
{
	if (has_feature(vq->features, VIRTIO_F_RING_PACKED)) {
		/*
		 * vhost-user.rst, "Vring descriptor indices for packed
		 * virtqueues": bits 0-14 the next descriptor slot, bit 15
		 * the driver (avail) wrap counter, bits 16-30 the next used
		 * slot, bit 31 the device (used) wrap counter. Frontends
		 * that predate that wording (DPDK's virtio_user) send only
		 * the low half: zero above means used = avail, which is
		 * what a stopped ring always has. The slots are checked
		 * against the ring size in resume(): num may come later.
		 */
		uint32_t used = base >> 16;

		if (used == 0)
			used = base & 0xffff;
		vq->last_avail_idx = base & 0x7fff;
		vq->avail_wrap = (base >> 15) & 1;
		vq->last_used_idx = used & 0x7fff;
		vq->used_wrap = (used >> 15) & 1;
		vq->signalled_used_valid = false;
		return 0;
	}
	/* split rings: a 16-bit free-running index, nothing above it */
	if (base > UINT16_MAX)
		return -EINVAL;
	vq->last_avail_idx = base;
	vq->last_used_idx = base;
	vq->signalled_used_valid = false;
	return 0;
}

uint32_t
vhu_vq_get_base_locked(const struct vhu_vq *vq)
{
	/* packed: the encoding set_base() reads, both halves */
	if (has_feature(vq->features, VIRTIO_F_RING_PACKED))
		return (uint32_t)vq->last_avail_idx |
		       (uint32_t)vq->avail_wrap << 15 |
		       (uint32_t)vq->last_used_idx << 16 |
		       (uint32_t)vq->used_wrap << 31;
	/* every consumed chain is used by now: quiesce released the held */
	return vq->last_avail_idx;
}

/* Take fd over in place of the queue's current one (closed unless equal). */
static void
replace_fd(int *slot, int fd)
{
	if (fd != *slot)
		close_fd(slot);
	*slot = fd;
}

void
vhu_vq_set_kick_locked(struct vhu_vq *vq, int fd)
{
	replace_fd(&vq->kickfd, fd);
	vq->kick_set = true;
}

void
vhu_vq_set_call_locked(struct vhu_vq *vq, int fd)
{
	replace_fd(&vq->callfd, fd);
	vq->call_set = true;
}

void
vhu_vq_set_err_locked(struct vhu_vq *vq, int fd)
{
	replace_fd(&vq->errfd, fd);
}

void
vhu_vq_set_enabled_locked(struct vhu_vq *vq, bool enabled)
{
	vq->enabled = enabled;
}

void
vhu_vq_set_features_locked(struct vhu_vq *vq, uint64_t features)
{
	vq->features = features;
}

void
vhu_vq_set_net_locked(struct vhu_vq *vq, bool legacy_ol, uint16_t mtu)
{
	vq->legacy_ol = legacy_ol;
	vq->mtu = mtu;
}

void
vhu_vq_set_sock_flags_locked(struct vhu_vq *vq, uint32_t sock_flags)
{
	vq->sock_flags = sock_flags & (VHU_VQ_F_LINEAR | VHU_VQ_F_EXTBUF |
				       VHU_VQ_F_LAZY_CALLS);
}

void
vhu_vq_set_running_locked(struct vhu_vq *vq, bool running)
{
	vq->running = running;
}

void
vhu_vq_set_ctrl_locked(struct vhu_vq *vq, bool ctrl)
{
	vq->ctrl = ctrl;
}

void
vhu_vq_set_iotlb_locked(struct vhu_vq *vq, const struct vhu_guest_mem *rd,
			const struct vhu_guest_mem *wr, vhu_vq_miss_fn fn,
			void *arg)
{
	vq->iotlb_rd = rd;
	vq->iotlb_wr = wr;
	vq->miss_fn = fn;
	vq->miss_arg = arg;
	vq->miss_pending = false;
	vq->miss_sent = false;
}

void
vhu_vq_iotlb_changed_locked(struct vhu_vq *vq)
{
	vq->miss_pending = false;
	vq->miss_sent = false;
}

void
vhu_vq_stop_locked(struct vhu_vq *vq)
{
	/*
	 * After GET_VRING_BASE the frontend re-sends num, addr, base, kick
	 * and call before it uses the ring again, so forget all of them.
	 * A guest reset is announced this way too, so the broken flag goes
	 * as well: the next incarnation of the ring starts clean.
	 */
	close_fd(&vq->kickfd);
	close_fd(&vq->callfd);
	vq->num_set = false;
	vq->addr_set = false;
	vq->kick_set = false;
	vq->call_set = false;
	vhu_atomic_store_bool(&vq->broken, false,
			      memory_order_relaxed); /* queries */
	vq->broken_told = false;
	vq->miss_pending = false;
	vq->miss_sent = false;
	vq->ready = false;
	vq->ctrl_ready = false;
	vq->why_not_ready = "stopped";
}

bool
vhu_vq_configured(const struct vhu_vq *vq)
{
	return vq->num_set && vq->addr_set && vq->kick_set && vq->call_set;
}

bool
vhu_vq_waiting_iotlb(const struct vhu_vq *vq)
{
	return vhu_vq_configured(vq) && vq->ring_miss;
}

bool
vhu_vq_usable(const struct vhu_vq *vq)
{
	return vhu_vq_configured(vq) && vq->desc != NULL &&
	       vq->avail != NULL && vq->used != NULL;
}

int
vhu_vq_set_notify(struct vhu_vq *vq, bool enable)
{
	if (vq == NULL)
		return -EINVAL;
	vhu_vq_quiesce(vq);
	/* the control vring's kicks are the control context's (ctrl.c) */
	if (vq->ctrl) {
		vhu_vq_resume(vq);
		return -EINVAL;
	}
	if (enable)
		vq->flags |= VHU_VQ_F_NOTIFY;
	else
		vq->flags &= ~VHU_VQ_F_NOTIFY;
	if (vq->ready)
		write_notify_flags(vq);
	vhu_vq_resume(vq);
	return 0;
}

#define VQ_NS_PER_S 1000000000ull

int
vhu_vq_kick_ack(struct vhu_vq *vq)
{
	uint64_t kicks = 0;
	int ret = 0;

	if (vq == NULL)
		return -EINVAL;
	/* held: the control context cannot close the fd under us */
	vhu_vq_quiesce(vq);
	if (vq->ctrl) {
		ret = -EINVAL; /* its kicks are the control context's */
	} else if (vq->kickfd < 0) {
		ret = -ENOENT;
	} else {
		/* the frontend's eventfd may be blocking: poll first */
		struct pollfd p = { .fd = vq->kickfd, .events = POLLIN };

		if (poll(&p, 1, 0) == 1 && (p.revents & POLLIN) &&
		    read(vq->kickfd, &kicks, sizeof(kicks)) != sizeof(kicks))
			kicks = 0;
	}
	if (kicks > 0) {
		/* CONTROL held: the data path, the counter's writer, is out */
		vhu_stat_add(&vq->stats.kicks, kicks);
		vq->kick_tsc = rte_get_tsc_cycles();
		vq->flags |= VHU_VQ_F_KICKED;
		ret = kicks > INT_MAX ? INT_MAX : (int)kicks;
	}
	vhu_vq_resume(vq);
	return ret;
}

void
vhu_vq_kick_polled(struct vhu_vq *vq)
{
	uint64_t cycles = rte_get_tsc_cycles() - vq->kick_tsc;
	uint64_t hz = rte_get_tsc_hz();

	/* seconds and remainder apart: no overflow for any plausible wait */
	vhu_atomic_store_u64(&vq->stats.last_kick_latency_ns,
			     cycles / hz * VQ_NS_PER_S +
			     cycles % hz * VQ_NS_PER_S / hz,
			     memory_order_relaxed);
	vq->flags &= ~(uint32_t)VHU_VQ_F_KICKED;
}

void
vhu_vq_poll_hooks(struct vhu_vq *vq)
{
	if (vq->flags & VHU_VQ_F_NUMA_CHECK)
		vhu_vq_first_poll(vq);
	if (vq->flags & VHU_VQ_F_KICKED)
		vhu_vq_kick_polled(vq);
	if (vq->flags & VHU_VQ_F_CALL_HELD)
		(void)vhu_vq_held_call(vq);
}

/* Coalescing: the call is made now (held or not), the count starts over. */
static void
coalesce_call_now(struct vhu_vq *vq, uint64_t now)
{
	if (vq->callfd >= 0) {
		(void)eventfd_write(vq->callfd, 1);
		vhu_stat_add(&vq->stats.calls, 1);
	}
	vq->coal_last = now;
	vq->coal_bufs = 0;
	vq->coal_seen = 0;
	vq->flags &= ~(uint32_t)VHU_VQ_F_CALL_HELD;
}

void
vhu_vq_coalesce_call(struct vhu_vq *vq, uint32_t bufs)
{
	uint64_t now = rte_get_tsc_cycles();

	vq->coal_bufs += bufs;
	if ((vq->coal_frames != 0 && vq->coal_bufs >= vq->coal_frames) ||
	    (vq->coal_tsc != 0 && now - vq->coal_last >= vq->coal_tsc))
		coalesce_call_now(vq, now);
	else
		vq->flags |= VHU_VQ_F_CALL_HELD;
}

bool
vhu_vq_held_call(struct vhu_vq *vq)
{
	uint64_t now = rte_get_tsc_cycles();
	/*
	 * With an interval: once it has passed since the last call. With a
	 * frame count only: once a check finds no buffer used since the
	 * previous one (the traffic paused; held buffers count from 1, and
	 * a call resets coal_seen to 0, so the first check only notes).
	 */
	bool due = vq->coal_tsc != 0 ? now - vq->coal_last >= vq->coal_tsc :
		   vq->coal_bufs == vq->coal_seen;

	if (due) {
		coalesce_call_now(vq, now);
		return true;
	}
	vq->coal_seen = vq->coal_bufs;
	return false;
}

int
vhu_vq_set_coalesce(struct vhu_vq *vq, uint32_t usecs, uint32_t frames)
{
	if (vq == NULL)
		return -EINVAL;
	vhu_vq_quiesce(vq);
	if (vq->ctrl) {
		vhu_vq_resume(vq);
		return -EINVAL; /* the control context answers that one */
	}
	/* whatever was held goes now: the new rule starts clean */
	if (vq->flags & VHU_VQ_F_CALL_HELD)
		coalesce_call_now(vq, rte_get_tsc_cycles());
	vq->coal_tsc = (uint64_t)usecs * rte_get_tsc_hz() / 1000000u;
	if (usecs != 0 && vq->coal_tsc == 0)
		vq->coal_tsc = 1;
	vq->coal_frames = frames;
	vq->coal_bufs = 0;
	vq->coal_seen = 0;
	vq->coal_last = 0;
	if (usecs != 0 || frames != 0)
		vq->flags |= VHU_VQ_F_COALESCE;
	else
		vq->flags &= ~(uint32_t)VHU_VQ_F_COALESCE;
	vhu_vq_resume(vq);
	return 0;
}

void
vhu_vq_mark_broken(struct vhu_vq *vq, const char *why)
{
	/*
	 * Runs inside a burst (DATA held): plain stores are enough, the
	 * control side reads them after A2. Sticky: burst.c checks ready.
	 */
	vhu_atomic_store_bool(&vq->broken, true,
			      memory_order_relaxed); /* for queries */
	vq->ready = false;
	vq->ctrl_ready = false;
	vq->why_not_ready = "broken by the guest";
	vhu_stat_add(&vq->stats.desc_errors, 1);
	vhu_stat_add(&vq->stats.broken, 1);
	if (vhu_log_ratelimit(&vq->broken_log_tsc))
		VHU_DATA_LOG(ERR, "%s: guest broke the ring: %s; queue stopped",
			     vq->name, why);
	if (vq->errfd >= 0)
		(void)eventfd_write(vq->errfd, 1);
	/* a queue breaks once per incarnation: two writes at most per burst */
	if (broken_notify_fd >= 0)
		(void)eventfd_write(broken_notify_fd, 1);
}

void
vhu_vq_miss(struct vhu_vq *vq, uint64_t iova, uint8_t perm)
{
	/*
	 * Inside the queue (DATA or CONTROL held). One request per queue
	 * until the IOTLB changes: a guest looping on an unmapped address
	 * cannot flood the frontend; an unsent one (channel full) is tried
	 * again by the next burst that meets it.
	 */
	if (!vq->miss_pending) {
		vhu_stat_add(&vq->stats.iotlb_misses, 1);
		vq->miss_pending = true;
		vq->miss_sent = false;
		vq->miss_iova = iova;
		vq->miss_perm = perm;
		VHU_DATA_DEBUG_LOG("%s: IOTLB miss at 0x%" PRIx64 " (perm %u)",
				   vq->name, iova, perm);
	}
	if (!vq->miss_sent && vq->miss_fn != NULL)
		vq->miss_sent = vq->miss_fn(vq->miss_arg, vq->miss_iova,
					    vq->miss_perm) == 0;
}

void
vhu_vq_set_announce_locked(struct vhu_vq *vq, const uint8_t mac[6])
{
	memcpy(vq->announce_mac, mac, sizeof(vq->announce_mac));
	vq->announce = true;
}

uint16_t
vhu_vq_take_announce(struct vhu_vq *vq, struct rte_mempool *mp,
		     struct rte_mbuf **pkt)
{
	struct rte_ether_addr mac;

	memcpy(mac.addr_bytes, vq->announce_mac, sizeof(mac.addr_bytes));
	*pkt = rte_net_make_rarp_packet(mp, &mac);
	if (*pkt == NULL)
		return 0;
	vq->announce = false;
	return 1;
}

void
vhu_vqs_quiesce_all(struct vhu_dev_vqs *vqs)
{
	for (uint16_t i = 0; i < RTE_DIM(vqs->vq); i++)
		if (vqs->vq[i] != NULL)
			vhu_vq_quiesce(vqs->vq[i]);
}

void
vhu_vqs_resume_all(struct vhu_dev_vqs *vqs)
{
	for (uint16_t i = 0; i < RTE_DIM(vqs->vq); i++)
		if (vqs->vq[i] != NULL)
			vhu_vq_resume(vqs->vq[i]);
}

void
vhu_vqs_apply(struct vhu_dev_vqs *vqs, bool all, vhu_vq_apply_fn fn,
	      void *arg)
{
	uint16_t n = all ? RTE_DIM(vqs->vq) : vqs->nr_vrings;

	for (uint16_t i = 0; i < n; i++) {
		struct vhu_vq *vq = vqs->vq[i];

		if (vq == NULL)
			continue;
		vhu_vq_quiesce(vq);
		fn(vq, arg);
		vhu_vq_resume(vq);
	}
}
