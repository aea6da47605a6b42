/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control loop: one epoll set holding every listening socket,
 * connection and reconnect timer, run either by libvhu's own control
 * thread or by the application through vhu_dispatch(). All protocol work
 * happens under one recursive lock (vhu_ctl_lock), so handlers and the
 * public control API never race; the data path never takes it.
 */
#ifndef VHU_LOOP_H
#define VHU_LOOP_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*vhu_loop_fn)(void *arg, uint32_t events);

int vhu_loop_add(int fd, vhu_loop_fn fn, void *arg);
void vhu_loop_del(int fd);
bool vhu_loop_ready(void);

void vhu_ctl_lock(void);
void vhu_ctl_unlock(void);

/* Timer fd (CLOCK_MONOTONIC, non-blocking) armed to fire once in ms. */
int vhu_timer_create(void);
int vhu_timer_arm(int tfd, uint32_t ms);

/* Called by vhu_fini() before the loop goes away. */
void vhu_socket_unregister_all(void);
void vhu_dev_free_all(void);

#endif /* VHU_LOOP_H */
