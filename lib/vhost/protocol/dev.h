/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The device: one frontend connection, its negotiated state, its guest
 * memory and its queues. The object and what request handlers may do to
 * it (dev.c); the lifecycle that turns its state into the application's
 * new_device / destroy_device / vring_state_changed calls is a floor up
 * (lifecycle.h).
 *
 * Device objects live in a fixed table of slots for the life of the
 * library (freed only by vhu_fini), so a handle the application still holds
 * after destroy_device points at valid memory whose queues refuse entry.
 */
#ifndef VHU_DEV_H
#define VHU_DEV_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/queue.h>

#include <linux/virtio_net.h>

#include "vhu.h"
#include "vq.h"
#include "msg.h"
#include "iotlb.h"

struct vhu_socket;

struct vhu_dev {
	struct vhu_dev_vqs vqs;  /* first: all the data path sees */

	int id;
	bool in_use;
	int fd;                  /* the connection; -1 when closed */
	struct vhu_socket *sock;
	uint16_t max_vrings;     /* 2 x the socket's queue pairs, + 1 for
				  * the control vring if CTRL_VQ is offered */
	TAILQ_ENTRY(vhu_dev) next;
	char name[24];           /* "vhu3" for logs */

	uint64_t features;       /* negotiated (SET_FEATURES) */
	bool features_set;
	uint64_t protocol_features;
	bool owner_set;
	uint8_t status;          /* SET_STATUS */
	bool running;            /* new_device returned 0, not yet destroyed */
	bool vring_reported[VHU_MAX_VRINGS]; /* last state told */
	bool vring_enable_req[VHU_MAX_VRINGS]; /* SET_VRING_ENABLE */
	uint16_t mtu;
	uint8_t rarp_mac[6];
	bool rarp_pending;
	int postcopy_ufd;        /* POSTCOPY_ADVISE's userfaultfd, or -1 */
	bool postcopy_listening; /* POSTCOPY_LISTEN until POSTCOPY_END */
	bool postcopy_unconfirmed; /* bases replied, QEMU's u64 not yet seen */

	/*
	 * NUMA node of the guest memory (of vring 0's descriptor ring, else
	 * of the first region), -1: unknown; set at start. Read relaxed by
	 * vhu_dev_numa_node() from any thread.
	 */
	int numa_node;
	/* VHU_DIAG_* seen on this connection (vhu_dev_diag_set) */
	uint32_t diag;
	uint64_t slots_log_tsc;  /* rate limit of the slots-full log */

	struct vhu_guest_mem mem;
	struct vhu_dirty_log log;
	struct vhu_iotlb iotlb;  /* ACCESS_PLATFORM: see iotlb.h */
	struct vhu_msg_rx rx;

	/*
	 * The control vring (net_ctrl.c): the guest's receive filter,
	 * written by the control context inside a sequence count (odd while
	 * writing), read by anyone (vhu_dev_rx_filter); the queue pairs VQ_PAIRS_SET left active
	 * (0: none set); the kick fd the control loop watches (-1: none).
	 */
	_Atomic uint32_t rxf_seq;
	struct vhu_rx_filter rxf;
	uint16_t ctrl_pairs;
	int ctrl_watch_fd;
	uint64_t ctrl_log_tsc;   /* rate limit of refused-command logs */
};
/*
 * The virtqueue layer never sees struct vhu_dev: burst.c casts the public
 * handle to struct vhu_dev_vqs (vq.h), which must therefore come first.
 */
static_assert(offsetof(struct vhu_dev, vqs) == 0,
	      "struct vhu_dev_vqs must be the first member of struct vhu_dev");

/* Queue for vring index, created on first use; NULL if out of range. */
struct vhu_vq *vhu_dev_vq(struct vhu_dev *dev, uint32_t index);

static inline uint16_t
vhu_dev_max_vrings(const struct vhu_dev *dev)
{
	return dev->max_vrings;
}

/*
 * Set dev->running and push it, with the negotiated features, into every
 * configured queue (each quiesced in turn).
 */
void vhu_dev_set_running(struct vhu_dev *dev, bool running);
/*
 * Give a quiesced queue what the device negotiated: features, the offload
 * flag convention of its socket, the guest's MTU.
 */
void vhu_dev_vq_negotiated_locked(const struct vhu_dev *dev, struct vhu_vq *vq);
/* Stop a running device (destroy_device) without closing it. */
void vhu_dev_stop(struct vhu_dev *dev);
/*
 * Reset every queue and unmap the device's guest memory, dirty log and
 * IOTLB entries, with every queue quiesced; postcopy is forgotten.
 */
void vhu_dev_release_memory(struct vhu_dev *dev);
/* Back to the just-connected state (RESET_OWNER, status 0). */
void vhu_dev_reset(struct vhu_dev *dev);

/*
 * Note a set-up problem (VHU_DIAG_*) on the device and, sticky, on its
 * socket. Control context only (one writer); the application reads
 * relaxed (vhu_dev_diag, vhu_socket_diag). True the first time.
 */
bool vhu_dev_diag_set(struct vhu_dev *dev, uint32_t bit);
/*
 * The device is starting: find the NUMA node of each configured vring
 * (of the region holding its descriptor ring) and of the device, move
 * the device and queue objects there and arm the first-poll checks.
 */
void vhu_dev_numa_start(struct vhu_dev *dev);
/* The same for one vring that became live while the device runs. */
void vhu_dev_numa_vring(struct vhu_dev *dev, uint16_t index);
/*
 * The device is starting, so the guest has run its driver: if the pages
 * of the shared files hold nothing but zeros (read only where resident,
 * so nothing is allocated), the guest's writes go elsewhere (share=off:
 * its private copy; the file only got the zero pages its faults read in).
 * Warns once (VHU_DIAG_MEM_INVISIBLE). Limits: memfd / tmpfs backing only
 * (hugetlbfs is not checked), guest memory of at least 64 MiB, not during
 * postcopy.
 */
void vhu_dev_check_guest_writes(struct vhu_dev *dev);

static inline bool
vhu_dev_has_feature(const struct vhu_dev *dev, unsigned int bit)
{
	return (dev->features >> bit) & 1;
}

/*
 * The control vring's index when CTRL_VQ is negotiated (virtio 1.2
 * §5.1.2: 2N with N the max_virtqueue_pairs the device offers when MQ is
 * negotiated, N = 1 without), else UINT16_MAX.
 */
static inline uint16_t
vhu_dev_ctrl_vring(const struct vhu_dev *dev)
{
	if (!vhu_dev_has_feature(dev, VIRTIO_NET_F_CTRL_VQ))
		return UINT16_MAX;
	return vhu_dev_has_feature(dev, VIRTIO_NET_F_MQ) ?
	       (uint16_t)(dev->max_vrings & ~1u) : 2;
}

/*
 * The queue pairs the guest may use: with CTRL_VQ and MQ, those
 * VQ_PAIRS_SET asked for (one until it does: virtio 1.2 §5.1.6.5.5);
 * otherwise all the socket offers.
 */
static inline uint16_t
vhu_dev_active_pairs(const struct vhu_dev *dev)
{
	uint16_t all = dev->max_vrings / 2;

	if (dev->ctrl_pairs != 0)
		return dev->ctrl_pairs;
	if (vhu_dev_ctrl_vring(dev) != UINT16_MAX &&
	    vhu_dev_has_feature(dev, VIRTIO_NET_F_MQ))
		return 1;
	return all;
}

/* Whether vring index i carries data (not the control vring or beyond). */
static inline bool
vhu_dev_is_data_vring(const struct vhu_dev *dev, uint32_t i)
{
	return i < (uint32_t)(dev->max_vrings & ~1u) &&
	       i != vhu_dev_ctrl_vring(dev);
}

static inline bool
vhu_dev_has_protocol_feature(const struct vhu_dev *dev, unsigned int bit)
{
	return (dev->protocol_features >> bit) & 1;
}

#endif /* VHU_DEV_H */
