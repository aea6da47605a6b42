/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The device lifecycle (lifecycle.c): a connection becomes a device in a
 * slot, its messages are read and dispatched, and after each one the
 * device's readiness is re-evaluated: start (new_device), stop
 * (destroy_device), vring state changes. Closing a connection releases
 * everything the device held.
 */
#ifndef VHU_LIFECYCLE_H
#define VHU_LIFECYCLE_H

#include "dev.h"

struct vhu_socket;

/* Allocate a device for a new connection fd and start reading it. */
struct vhu_dev *vhu_dev_create(struct vhu_socket *s, int fd);
/* Allocate a device with no connection (tests, fuzzers); fd may be -1. */
struct vhu_dev *vhu_dev_alloc(struct vhu_socket *s, int fd);
/*
 * Handle one complete message (tests and fuzzers call this directly):
 * dispatch it through the request table, then run the lifecycle. Takes
 * ownership of fds[0..nfds). Returns 0 to keep the connection, -1 to
 * close it.
 */
int vhu_dev_handle_msg(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
		       const void *payload, int *fds, int nfds);
/*
 * Tear the connection down: stop the device (destroy_device if running),
 * unmap memory, reset queues, close fds, release the slot, tell the socket
 * (its dev_closed callback).
 */
void vhu_dev_close(struct vhu_dev *dev);
/* Close every device of a socket (it is being unregistered). */
void vhu_dev_close_socket(struct vhu_socket *s);
/* Close and free every device (vhu_fini). */
void vhu_dev_free_all(void);
/*
 * Tell the application (vring_broken) about every vring the data path
 * marked broken since the last call. Control context.
 */
void vhu_dev_report_broken(void);
/*
 * Close every device whose guest memory or dirty log faulted (the
 * frontend shrank a file under the mapping, memguard.h), with one log
 * line each. Control context.
 */
void vhu_dev_report_faults(void);

/*
 * The connected device in slot id (vhu_dev_id), or NULL if the slot is
 * free or out of range. Control lock held.
 */
struct vhu_dev *vhu_dev_by_id(int id);

#endif /* VHU_LIFECYCLE_H */
