/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvhu's rte_telemetry endpoints (doc/guide/telemetry.md): /vhu/sockets,
 * /vhu/devices, /vhu/device,<id> and /vhu/vring,<id>,<vring>. vhu_init() registers them (once per
 * process: rte_telemetry cannot unregister) and vhu_fini() turns them off;
 * between the two they answer from the telemetry thread, reading device
 * state under the control lock and counters as vhu_dev_vring_stats() does.
 *
 * The builders fill d for one endpoint, with the control lock held; tests
 * call them directly.
 */
#ifndef VHU_TELEMETRY_H
#define VHU_TELEMETRY_H

#include <rte_telemetry.h>

/* Register the endpoints (first call) and let them answer. */
void vhu_telemetry_init(void);
/* Make them answer "null" from now on (before the library goes away). */
void vhu_telemetry_fini(void);

/* /vhu/sockets: one dict per registered path. */
int vhu_telemetry_sockets(struct rte_tel_data *d);
/* /vhu/devices: ids of the connected devices. */
int vhu_telemetry_devices(struct rte_tel_data *d);
/* /vhu/device,<id>: one device; -ENOENT when no device has that id. */
int vhu_telemetry_device(int id, struct rte_tel_data *d);
/* /vhu/vring,<id>,<vring>: one vring; -ENOENT when it does not exist. */
int vhu_telemetry_vring(int id, uint16_t vring, struct rte_tel_data *d);

#endif /* VHU_TELEMETRY_H */
