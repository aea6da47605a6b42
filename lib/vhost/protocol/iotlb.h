/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The device IOTLB (VIRTIO_F_ACCESS_PLATFORM, "vIOMMU"): the mappings
 * iova -> frontend-virtual address the frontend sends with IOTLB_MSG, the
 * two translation views the data path reads (device-readable and
 * device-writable, iova -> host address, each mapping clipped to the guest
 * memory regions), and the backend channel (SET_BACKEND_REQ_FD) over which
 * misses are requested.
 *
 * Trust: entries come from the frontend. An update is accepted only if it
 * is non-empty, does not wrap in iova or uaddr, has a valid permission,
 * lies entirely inside mapped guest memory and overlaps no other entry
 * (an exact duplicate is a no-op). The views are rebuilt only while every
 * queue of the device is quiesced, so no burst translates through a view
 * being rewritten, and before any mapping they point into is unmapped.
 */
#ifndef VHU_IOTLB_H
#define VHU_IOTLB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "guest_mem.h"
#include "msg.h"

struct vhu_dev;

struct vhu_iotlb_entry {
	uint64_t iova;
	uint64_t size;
	uint64_t uaddr;  /* frontend-virtual (QVA) */
	uint64_t age;    /* insertion order, for eviction */
	uint8_t perm;    /* VHOST_ACCESS_RO / _WO / _RW */
};

struct vhu_iotlb {
	uint32_t n;                      /* entries, sorted by iova */
	uint64_t clock;                  /* next age */
	struct vhu_iotlb_entry *e;       /* VHU_IOTLB_MAX entries */
	struct vhu_guest_mem *rd;        /* view: readable by the device */
	struct vhu_guest_mem *wr;        /* view: writable by the device */
	int backend_fd;                  /* SET_BACKEND_REQ_FD; -1: none */
	atomic_flag send_busy;           /* one sender at a time on the fd */
	uint64_t misses_sent;            /* miss requests written */
	uint64_t misses_unsent;          /* channel full or busy */
	/* per connection, control path only: for vhu_iotlb_log_stats */
	uint64_t updates;                /* IOTLB_MSG update accepted */
	uint64_t invalidates;            /* IOTLB_MSG invalidate */
	uint64_t rejected;               /* IOTLB_MSG refused */
	uint64_t dropped;                /* entries an invalidate removed */
};

/* New connection: allocate the IOTLB if the socket offers ACCESS_PLATFORM
 * and attach it to the device's queues. */
int vhu_iotlb_attach(struct vhu_dev *dev);
/* Detach the IOTLB from the queues (quiescing each), close the backend
 * channel and free it all: the connection is closed. */
void vhu_iotlb_free(struct vhu_dev *dev);

/*
 * Drop every entry (disconnect, RESET_OWNER); the backend channel stays
 * until vhu_iotlb_free. Every queue must be quiesced (views emptied).
 */
void vhu_iotlb_reset_locked(struct vhu_dev *dev);

/*
 * Rebuild both views from the entries and the current guest memory; every
 * queue must be quiesced. Call after the memory table changed and before
 * the old mappings are unmapped. Entries whose memory went away simply
 * stop translating (a later use is a miss).
 */
void vhu_iotlb_rebuild_locked(struct vhu_dev *dev);

/*
 * One INFO line with the connection's IOTLB counters (updates,
 * invalidates, misses), if the device has an IOTLB; at device stop, so a
 * test or an operator can see the vIOMMU was really used.
 */
void vhu_iotlb_log_stats(const struct vhu_dev *dev);

/* ACCESS_PLATFORM negotiated and the backend channel usable, or why not. */
const char *vhu_iotlb_why_not_ready(const struct vhu_dev *dev);

/*
 * vhu_vq_miss_fn: write one VHU_BACKEND_IOTLB_MSG (type MISS) to the
 * backend channel of dev (arg), non-blocking. 0 if written; -EAGAIN if the
 * channel is full or another queue is sending; -ENOTCONN without one.
 */
int vhu_iotlb_send_miss(void *arg, uint64_t iova, uint8_t perm);

/* Request handlers (rules in handlers.c). */
enum vhu_msg_result vhu_handle_set_backend_req_fd(struct vhu_dev *dev,
		const struct vhu_msg_hdr *hdr, const union vhu_msg_payload *p,
		int *fds, int nfds);
enum vhu_msg_result vhu_handle_iotlb_msg(struct vhu_dev *dev,
		const struct vhu_msg_hdr *hdr, const union vhu_msg_payload *p,
		int *fds, int nfds);

#endif /* VHU_IOTLB_H */
