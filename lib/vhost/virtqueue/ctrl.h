/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-net control vring as a ring (virtio 1.2 §5.1.6.5): take one
 * command chain off it, answer it. Knows nothing of the commands (that is
 * protocol/net_ctrl.c); called only by the control context while it holds
 * the queue (vhu_vq_quiesce), never by a burst.
 *
 * A command chain is device-readable bytes (class, command, data) then
 * device-writable bytes, the first of which receives the one-byte ack.
 * The readable bytes are copied into a bounded buffer; guest memory is
 * never parsed in place.
 */
#ifndef VHU_CTRL_H
#define VHU_CTRL_H

#include <stdbool.h>
#include <stdint.h>

#include "vq.h"

/*
 * Readable bytes a command may have: class and command, then the
 * largest command, MAC TABLE_SET with two full tables of
 * VHU_RX_FILTER_MAX_MACS (vhu.h) entries: 2 + 2 * (4 + 64 * 6) = 778.
 */
#define VHU_CTRL_CMD_MAX 1024

/* One chain taken off the ring, until vhu_ctrl_push() answers it. */
struct vhu_ctrl_cmd {
	uint32_t len;          /* readable bytes copied into buf */
	bool too_long;         /* more than VHU_CTRL_CMD_MAX readable bytes */
	const char *malformed; /* a shape that gets ERR (NULL: none) */
	uint8_t *ack;          /* host address of the ack byte */
	uint64_t ack_gpa;      /* its guest address, for the dirty log */
	uint16_t id;           /* split: head; packed: buffer id */
	uint16_t ndesc;        /* packed: ring slots the chain took */
	uint8_t buf[VHU_CTRL_CMD_MAX];
};

enum {
	VHU_CTRL_NONE = 0,     /* nothing available (or an IOTLB miss) */
	VHU_CTRL_POPPED = 1,   /* c holds a chain: answer it */
	VHU_CTRL_BROKEN = -1,  /* the guest broke the ring: marked broken */
};

/*
 * Take the next chain off the control vring vq (ctrl_ready, held by the
 * caller). A chain whose descriptors break a ring rule, or that has no
 * writable byte for the ack, breaks the vring (vhu_vq_mark_broken), as the
 * data path does. Returns VHU_CTRL_*.
 */
int vhu_ctrl_pop(struct vhu_vq *vq, struct vhu_ctrl_cmd *c);

/*
 * Answer the chain c: write ack into its ack byte, publish it used (one
 * byte written) and call the guest if it asked to be.
 */
void vhu_ctrl_push(struct vhu_vq *vq, const struct vhu_ctrl_cmd *c,
		   uint8_t ack);

#endif /* VHU_CTRL_H */
