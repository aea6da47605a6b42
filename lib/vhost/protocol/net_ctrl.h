/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-net control commands (net_ctrl.c): the guest's receive
 * filter and active queue pairs, changed by commands taken off the
 * control vring (virtqueue/ctrl.h) in the control context. The lifecycle
 * decides when to run them (kick, start, after a message) and reports
 * the result (lifecycle.c).
 */
#ifndef VHU_NET_CTRL_H
#define VHU_NET_CTRL_H

#include <stdbool.h>
#include <stdint.h>

#include "dev.h"

/* vhu_net_ctrl_step() result bits */
#define VHU_NET_CTRL_DONE    0x1 /* a command was answered */
#define VHU_NET_CTRL_CHANGED 0x2 /* ... and it changed the filter */
#define VHU_NET_CTRL_PAIRS   0x4 /* ... or the active queue pairs */

/*
 * Answer one command of the control vring if the device runs and the
 * guest posted one: VHU_NET_CTRL_* bits, 0 when there was nothing to do
 * (or the chain broke the vring: vhu_vq_mark_broken reports it).
 */
int vhu_net_ctrl_step(struct vhu_dev *dev);
/* Tell the application (rx_filter_changed) the current filter. */
void vhu_net_ctrl_notify(struct vhu_dev *dev);
/*
 * Bring what the filter derives from the negotiated features (rx_mode,
 * vlan, queue_pairs) up to date; true if it changed.
 */
bool vhu_net_ctrl_sync(struct vhu_dev *dev);
/* A reset device's filter: accept everything, every pair active. */
void vhu_net_ctrl_reset(struct vhu_dev *dev);

#endif /* VHU_NET_CTRL_H */
