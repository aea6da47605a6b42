/* SPDX-License-Identifier: BSD-3-Clause */
/* Registration of libvhu's rte_log types (see vhu_log.h). */
#include "vhu_log.h"

RTE_LOG_REGISTER(vhu_logtype_config, lib.vhu.config, INFO);
RTE_LOG_REGISTER(vhu_logtype_data, lib.vhu.data, WARNING);
