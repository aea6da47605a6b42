/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One handler per accepted request (handlers.c). A handler runs only after
 * msg.c has checked the message against its rule row: payload size, fd
 * count, vring index and the feature that enables the request. A handler
 * that keeps fds[i] sets it to -1; msg.c closes whatever is left.
 */
#ifndef VHU_HANDLERS_H
#define VHU_HANDLERS_H

#include "dev.h"
#include "msg.h"

typedef enum vhu_msg_result (*vhu_msg_handler)(struct vhu_dev *dev,
		const struct vhu_msg_hdr *hdr, const union vhu_msg_payload *p,
		int *fds, int nfds);

#define VHU_HANDLER(name) \
	enum vhu_msg_result vhu_handle_ ## name(struct vhu_dev *dev, \
		const struct vhu_msg_hdr *hdr, const union vhu_msg_payload *p, \
		int *fds, int nfds)

VHU_HANDLER(get_features);
VHU_HANDLER(set_features);
VHU_HANDLER(set_owner);
VHU_HANDLER(reset_owner);
VHU_HANDLER(set_mem_table);
VHU_HANDLER(set_log_base);
VHU_HANDLER(set_log_fd);
VHU_HANDLER(set_vring_num);
VHU_HANDLER(set_vring_addr);
VHU_HANDLER(set_vring_base);
VHU_HANDLER(get_vring_base);
VHU_HANDLER(set_vring_kick);
VHU_HANDLER(set_vring_call);
VHU_HANDLER(set_vring_err);
VHU_HANDLER(get_protocol_features);
VHU_HANDLER(set_protocol_features);
VHU_HANDLER(get_queue_num);
VHU_HANDLER(set_vring_enable);
VHU_HANDLER(send_rarp);
VHU_HANDLER(net_set_mtu);
VHU_HANDLER(set_backend_req_fd); /* iotlb.c */
VHU_HANDLER(iotlb_msg);          /* iotlb.c */
VHU_HANDLER(get_max_mem_slots);
VHU_HANDLER(add_mem_reg);
VHU_HANDLER(rem_mem_reg);
VHU_HANDLER(set_status);
VHU_HANDLER(get_status);

#endif /* VHU_HANDLERS_H */
