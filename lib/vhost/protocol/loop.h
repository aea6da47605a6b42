/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control loop: one epoll set holding every listening socket,
 * connection and reconnect timer, run either by libvhu's own control
 * thread or by the application through vhu_dispatch(). All protocol work
 * happens under one recursive lock (vhu_ctl_lock), so handlers and the
 * public control API never race; the data path never takes it.
 *
 * A service, the lowest floor of the protocol layer: upper floors register
 * fds and timers with a function to call; the loop calls nothing else.
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

/* Create the epoll set and the lock: 0, -EALREADY or -errno. */
int vhu_loop_init(void);
/* Free every entry, close the epoll set, destroy the lock. */
void vhu_loop_fini(void);
/* Run the loop on a control thread of its own: 0 or -errno. */
int vhu_loop_start_thread(void);
/* Wake and join that thread (no-op without one). */
void vhu_loop_stop_thread(void);
/*
 * Handle ready fds: wait up to timeout_ms for the first, then take what
 * is ready, max_events at most. Returns how many were handled, or -errno
 * when the wait failed before any.
 */
int vhu_loop_run(int timeout_ms, int max_events);
/* The epoll fd (for the application's own poll), or -EINVAL. */
int vhu_loop_epfd(void);

#endif /* VHU_LOOP_H */
