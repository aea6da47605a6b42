/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Logging for libvhu: two rte_log dynamic types, "lib.vhu.config" for the
 * protocol layer and "lib.vhu.data" for the data path, so
 * --log-level=lib.vhu.*:debug works. Data-path debug lines compile out
 * unless built with -Ddata_debug=true.
 */
#ifndef VHU_LOG_H
#define VHU_LOG_H

#include <inttypes.h>

#include <rte_log.h>
#include <rte_cycles.h>

#include "vhu_config.h"

extern int vhu_logtype_config;
extern int vhu_logtype_data;

#define VHU_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_ ## level, vhu_logtype_config, \
		"VHU: " fmt "\n", ##__VA_ARGS__)

#define VHU_DATA_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_ ## level, vhu_logtype_data, \
		"VHU: " fmt "\n", ##__VA_ARGS__)

#if VHU_DATA_DEBUG
#define VHU_DATA_DEBUG_LOG(fmt, ...) VHU_DATA_LOG(DEBUG, fmt, ##__VA_ARGS__)
#else
#define VHU_DATA_DEBUG_LOG(fmt, ...) do { } while (0)
#endif

/*
 * True at most once per second per call site state: a guest that breaks
 * its rings in a loop must not flood the log.
 */
static inline int
vhu_log_ratelimit(uint64_t *last_tsc)
{
	uint64_t now = rte_get_tsc_cycles();

	if (*last_tsc != 0 && now - *last_tsc < rte_get_tsc_hz())
		return 0;
	*last_tsc = now;
	return 1;
}

#endif /* VHU_LOG_H */
