/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Public API of the net_vhu poll-mode driver beyond ethdev: the queue
 * state events a net_vhu port raises as RTE_ETH_EVENT_QUEUE_STATE.
 *
 * ethdev's queue-state event carries no payload, so an application that
 * wants to know *which* queue changed asks here after the event (or at any
 * time: the function is safe to poll). States are coalesced per queue: if a
 * queue flapped twice between two calls, one event reports its current
 * state.
 */
#ifndef RTE_PMD_VHU_H
#define RTE_PMD_VHU_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** One queue whose enable state the frontend changed. */
struct vhu_eth_queue_event {
	uint16_t queue_id; /**< ethdev queue index */
	bool rx;           /**< true: an Rx queue of the port, false: Tx */
	bool enable;       /**< the frontend enabled (true) or disabled it */
};

/**
 * Take the next pending queue state change of a net_vhu port.
 *
 * @param port_id a net_vhu port
 * @param ev filled when an event is returned
 * @return 0 and *ev filled; -EAGAIN when nothing is pending; -ENODEV when
 *   port_id is not a net_vhu port; -EINVAL when ev is NULL.
 */
int vhu_eth_get_queue_event(uint16_t port_id, struct vhu_eth_queue_event *ev);

#ifdef __cplusplus
}
#endif
#endif /* RTE_PMD_VHU_H */
