/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The library's entry points (vhu.h): vhu_init, vhu_fini, vhu_dispatch
 * and vhu_control_fd. The top floor of the protocol layer: it starts the
 * control loop, registers the data path's "queue broken" eventfd with it
 * (also the eventfd the SIGBUS handler of memguard.c writes when a
 * frontend's file shrank under a mapping) and the telemetry endpoints, and
 * on the way out unregisters every socket, frees every device and
 * restores the SIGBUS handler.
 */
#include <errno.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vhu.h"
#include "lifecycle.h"
#include "loop.h"
#include "memguard.h"
#include "registry.h"
#include "telemetry.h"
#include "vq.h"
#include "vhu_log.h"

/* Handlers run per dispatch call at most; keeps vhu_dispatch(0) bounded. */
#define EVENTS_PER_DISPATCH 64

static struct {
	bool own_thread;
	int broken_fd;          /* a queue broke or memory faulted: act */
} lib = { .broken_fd = -1 };

/*
 * A burst broke a queue (vhu_vq_mark_broken), or a frontend's file shrank
 * under a mapping (memguard.c): close the devices whose memory faulted
 * first (their broken rings need no report), then tell the application
 * of the rest.
 */
static void
on_broken(void *arg, uint32_t events)
{
	eventfd_t n;

	(void)arg;
	(void)events;
	if (eventfd_read(lib.broken_fd, &n) == 0) {
		vhu_dev_report_faults();
		vhu_dev_report_broken();
	}
}

int
vhu_control_fd(void)
{
	return vhu_loop_epfd();
}

int
vhu_dispatch(int timeout_ms)
{
	if (!vhu_loop_ready() || lib.own_thread)
		return -EINVAL;
	return vhu_loop_run(timeout_ms, EVENTS_PER_DISPATCH);
}

static void
broken_fd_close(void)
{
	vhu_guard_uninstall();
	vhu_vq_set_broken_notify_fd(-1);
	if (lib.broken_fd >= 0) {
		vhu_loop_del(lib.broken_fd);
		close(lib.broken_fd);
	}
	lib.broken_fd = -1;
}

int
vhu_init(uint32_t flags)
{
	int ret;

	ret = vhu_loop_init();
	if (ret < 0)
		return ret;
	lib.broken_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (lib.broken_fd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = vhu_loop_add(lib.broken_fd, on_broken, NULL);
	if (ret < 0)
		goto fail;
	vhu_vq_set_broken_notify_fd(lib.broken_fd);
	ret = vhu_guard_install(lib.broken_fd);
	if (ret < 0)
		goto fail;
	lib.own_thread = (flags & VHU_INIT_CONTROL_THREAD) != 0;
	if (lib.own_thread) {
		ret = vhu_loop_start_thread();
		if (ret < 0) {
			lib.own_thread = false;
			goto fail;
		}
	}
	vhu_telemetry_init();
	VHU_LOG(INFO, "libvhu %s initialised (%s control loop)", VHU_VERSION,
		lib.own_thread ? "own" : "application");
	return 0;
fail:
	broken_fd_close();
	vhu_loop_fini();
	return ret;
}

void
vhu_fini(void)
{
	if (!vhu_loop_ready())
		return;
	/* before the control lock (telemetry.c: lock order) */
	vhu_telemetry_fini();
	vhu_loop_stop_thread();
	lib.own_thread = false;
	vhu_ctl_lock();
	vhu_socket_unregister_all();
	vhu_dev_free_all();
	broken_fd_close();
	vhu_ctl_unlock();
	vhu_loop_fini();
}
