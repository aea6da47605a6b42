/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The request table (handlers.c): for every request the backend serves,
 * its rule (payload size, fds, vring index, the protocol feature that
 * enables it) and its handler. msg.c checks a message against the rule
 * before the handler sees it; handlers check values (ranges, overlaps,
 * addresses). Adding a request is one row and one function here, or in
 * the file that owns its state (iotlb.c, postcopy.c).
 */
#ifndef VHU_HANDLERS_H
#define VHU_HANDLERS_H

#include "msg.h"

/* Indexed by request; a request without a handler is not supported. */
extern const struct vhu_msg_rule vhu_request_rules[VHU_REQ_MAX];

#endif /* VHU_HANDLERS_H */
