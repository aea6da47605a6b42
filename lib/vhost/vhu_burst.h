/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * libvhu data API: move packets between rte_mbufs and a device's
 * virtqueues. These calls are meant for polling lcores: they never block,
 * never allocate from the heap and make no system call except the write to
 * the guest's call eventfd (at most one per call).
 *
 * A call returns 0 when the device or queue is not running (not yet ready,
 * being reconfigured by the frontend, disabled, broken, or gone); the
 * caller simply polls again later. One queue pair may be used by one lcore
 * at a time per direction; different queues may be used concurrently.
 */
#ifndef VHU_BURST_H
#define VHU_BURST_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "vhu.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Copy packets into the guest's receive queue of queue pair qp
 * (vring 2*qp). Multi-segment mbufs are supported; with MRG_RXBUF a frame
 * may span several guest buffers.
 *
 * The caller keeps ownership of every mbuf: free them all afterwards,
 * placed or not.
 *
 * @return how many packets, from the start of pkts, were placed.
 */
uint16_t vhu_enqueue_burst(struct vhu_dev *dev, uint16_t qp,
			   struct rte_mbuf **pkts, uint16_t count);

/**
 * Take packets the guest sent on queue pair qp (vring 2*qp+1) into mbufs
 * allocated from mp; frames larger than one mbuf's data room are returned
 * as chains.
 *
 * After the frontend asked to announce the guest (SEND_RARP, at the end of
 * a live migration), the next call on queue pair 0 returns first a RARP
 * frame (ethertype 0x8035, broadcast, from the guest's MAC) built by
 * libvhu, as if the guest had sent it, so that the network learns where
 * the guest is now before the guest speaks.
 *
 * @return how many mbufs were stored in pkts (the caller owns them).
 */
uint16_t vhu_dequeue_burst(struct vhu_dev *dev, uint16_t qp,
			   struct rte_mempool *mp, struct rte_mbuf **pkts,
			   uint16_t count);

/**
 * Ask the guest to notify (kick) on a vring when it adds buffers, or stop
 * asking. Off by default: a polling backend does not want kicks. An
 * application that sleeps on vhu_vring_kick_fd() turns it on before it
 * sleeps and off after it wakes.
 * @return 0, or -EINVAL / -ENODEV.
 */
int vhu_vring_notify(struct vhu_dev *dev, uint16_t vring, bool enable);

/**
 * The kick eventfd of a vring (readable when the guest notifies), or
 * -ENOENT when the frontend gave none. Owned by libvhu; valid until the
 * next destroy_device or vring_state_changed callback for this vring.
 */
int vhu_vring_kick_fd(const struct vhu_dev *dev, uint16_t vring);

#ifdef __cplusplus
}
#endif
#endif /* VHU_BURST_H */
