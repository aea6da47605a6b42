/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvhu initialisation and the control loop (see loop.h). epoll_wait is
 * asked for one event at a time: a handler may close other connections,
 * and with one event in hand no stale pointer to them can be pending.
 * Control traffic is a few messages per ring, so this costs nothing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_lcore.h>

#include "vhu.h"
#include "dev.h"
#include "loop.h"
#include "vhu_log.h"

/* Handlers run per dispatch call at most; keeps vhu_dispatch(0) bounded. */
#define LOOP_EVENTS_PER_DISPATCH 64

struct loop_entry {
	int fd;
	vhu_loop_fn fn;
	void *arg;
};

static struct {
	bool initialised;
	int epfd;
	int stop_fd;            /* wakes the control thread for vhu_fini */
	int broken_fd;          /* the data path broke a queue: tell the app */
	bool own_thread;
	pthread_t thread;
	pthread_mutex_t lock;
	struct loop_entry **entries; /* indexed by fd */
	int nentries;
} loop = { .epfd = -1, .stop_fd = -1, .broken_fd = -1 };

void
vhu_ctl_lock(void)
{
	pthread_mutex_lock(&loop.lock);
}

void
vhu_ctl_unlock(void)
{
	pthread_mutex_unlock(&loop.lock);
}

bool
vhu_loop_ready(void)
{
	return loop.initialised;
}

int
vhu_loop_add(int fd, vhu_loop_fn fn, void *arg)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct loop_entry *e;

	if (fd < 0)
		return -EBADF;
	if (fd >= loop.nentries) {
		int n = RTE_MAX(fd + 1, loop.nentries * 2);
		struct loop_entry **t = realloc(loop.entries, n * sizeof(*t));

		if (t == NULL)
			return -ENOMEM;
		memset(t + loop.nentries, 0,
		       (n - loop.nentries) * sizeof(*t));
		loop.entries = t;
		loop.nentries = n;
	}
	if (loop.entries[fd] != NULL)
		return -EEXIST;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	e->fd = fd;
	e->fn = fn;
	e->arg = arg;
	ev.data.fd = fd;
	if (epoll_ctl(loop.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int ret = -errno;

		free(e);
		return ret;
	}
	loop.entries[fd] = e;
	return 0;
}

void
vhu_loop_del(int fd)
{
	if (fd < 0 || fd >= loop.nentries || loop.entries[fd] == NULL)
		return;
	epoll_ctl(loop.epfd, EPOLL_CTL_DEL, fd, NULL);
	free(loop.entries[fd]);
	loop.entries[fd] = NULL;
}

int
vhu_timer_create(void)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int
vhu_timer_arm(int tfd, uint32_t ms)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000L + 1 },
	};

	return timerfd_settime(tfd, 0, &its, NULL) < 0 ? -errno : 0;
}

/* One event: returns 1 if handled, 0 on timeout, -errno on error. */
static int
loop_run_one(int timeout_ms)
{
	struct epoll_event ev;
	struct loop_entry *e;
	int n, fd;

	n = epoll_wait(loop.epfd, &ev, 1, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == 0)
		return 0;
	fd = ev.data.fd;
	if (fd == loop.stop_fd)
		return -ECANCELED;
	/*
	 * Look the fd up under the lock: the entry may have gone (or the fd
	 * been reused) since epoll_wait returned; handlers tolerate a
	 * spurious wake-up, they all read non-blocking.
	 */
	vhu_ctl_lock();
	e = fd < loop.nentries ? loop.entries[fd] : NULL;
	if (e != NULL)
		e->fn(e->arg, ev.events);
	vhu_ctl_unlock();
	return 1;
}

int
vhu_dispatch(int timeout_ms)
{
	int done = 0, ret;

	if (!loop.initialised || loop.own_thread)
		return -EINVAL;
	ret = loop_run_one(timeout_ms);
	while (ret > 0 && ++done < LOOP_EVENTS_PER_DISPATCH)
		ret = loop_run_one(0);
	return ret < 0 && done == 0 ? ret : done;
}

static void *
control_thread(void *arg)
{
	(void)arg;
	while (loop_run_one(-1) != -ECANCELED)
		;
	return NULL;
}

/* A burst broke a queue (vhu_vq_mark_broken): tell the application. */
static void
on_broken(void *arg, uint32_t events)
{
	eventfd_t n;

	(void)arg;
	(void)events;
	if (eventfd_read(loop.broken_fd, &n) == 0)
		vhu_dev_report_broken();
}

int
vhu_control_fd(void)
{
	return loop.initialised ? loop.epfd : -EINVAL;
}

int
vhu_init(uint32_t flags)
{
	struct epoll_event ev = { .events = EPOLLIN };
	pthread_mutexattr_t attr;
	int ret;

	if (loop.initialised)
		return -EALREADY;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&loop.lock, &attr);
	pthread_mutexattr_destroy(&attr);

	loop.epfd = epoll_create1(EPOLL_CLOEXEC);
	loop.stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop.epfd < 0 || loop.stop_fd < 0 ||
	    (ev.data.fd = loop.stop_fd,
	     epoll_ctl(loop.epfd, EPOLL_CTL_ADD, loop.stop_fd, &ev) < 0)) {
		ret = -errno;
		goto fail;
	}
	loop.broken_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop.broken_fd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = vhu_loop_add(loop.broken_fd, on_broken, NULL);
	if (ret < 0)
		goto fail;
	vhu_vq_set_broken_notify_fd(loop.broken_fd);
	loop.own_thread = (flags & VHU_INIT_CONTROL_THREAD) != 0;
	loop.initialised = true;
	if (loop.own_thread) {
		ret = rte_ctrl_thread_create(&loop.thread, "vhu-ctl", NULL,
					     control_thread, NULL);
		if (ret != 0) {
			loop.initialised = false;
			ret = -ret;
			goto fail;
		}
	}
	VHU_LOG(INFO, "libvhu %s initialised (%s control loop)", VHU_VERSION,
		loop.own_thread ? "own" : "application");
	return 0;
fail:
	vhu_vq_set_broken_notify_fd(-1);
	if (loop.broken_fd >= 0) {
		vhu_loop_del(loop.broken_fd);
		close(loop.broken_fd);
	}
	loop.broken_fd = -1;
	free(loop.entries);
	loop.entries = NULL;
	loop.nentries = 0;
	if (loop.epfd >= 0)
		close(loop.epfd);
	if (loop.stop_fd >= 0)
		close(loop.stop_fd);
	loop.epfd = loop.stop_fd = -1;
	pthread_mutex_destroy(&loop.lock);
	return ret;
}

void
vhu_fini(void)
{
	if (!loop.initialised)
		return;
	if (loop.own_thread) {
		uint64_t one = 1;

		if (write(loop.stop_fd, &one, sizeof(one)) < 0)
			VHU_LOG(ERR, "cannot wake control thread: %s",
				strerror(errno));
		pthread_join(loop.thread, NULL);
	}
	vhu_ctl_lock();
	vhu_socket_unregister_all();
	vhu_dev_free_all();
	for (int fd = 0; fd < loop.nentries; fd++)
		free(loop.entries[fd]);
	free(loop.entries);
	loop.entries = NULL;
	loop.nentries = 0;
	vhu_vq_set_broken_notify_fd(-1);
	close(loop.broken_fd);
	loop.broken_fd = -1;
	close(loop.epfd);
	close(loop.stop_fd);
	loop.epfd = loop.stop_fd = -1;
	loop.initialised = false;
	vhu_ctl_unlock();
	pthread_mutex_destroy(&loop.lock);
}
