/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control loop (see loop.h). epoll_wait is
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

#include <rte_lcore.h>

#include "loop.h"
#include "vhu_log.h"

struct loop_entry {
	int fd;
	vhu_loop_fn fn;
	void *arg;
};

static struct {
	bool initialised;
	int epfd;
	int stop_fd;            /* wakes the control thread to end it */
	bool own_thread;
	pthread_t thread;
	pthread_mutex_t lock;
	struct loop_entry **entries; /* indexed by fd */
	int nentries;
} loop = { .epfd = -1, .stop_fd = -1 };

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
vhu_loop_run(int timeout_ms, int max_events)
{
	int done = 0, ret;

	ret = loop_run_one(timeout_ms);
	while (ret > 0 && ++done < max_events)
		ret = loop_run_one(0);
	return ret < 0 && done == 0 ? ret : done;
}

int
vhu_loop_epfd(void)
{
	return loop.initialised ? loop.epfd : -EINVAL;
}

static void *
control_thread(void *arg)
{
	(void)arg;
	while (loop_run_one(-1) != -ECANCELED)
		;
	return NULL;
}

int
vhu_loop_start_thread(void)
{
	int ret = rte_ctrl_thread_create(&loop.thread, "vhu-ctl", NULL,
					 control_thread, NULL);

	if (ret != 0)
		return -ret;
	loop.own_thread = true;
	return 0;
}

void
vhu_loop_stop_thread(void)
{
	uint64_t one = 1;

	if (!loop.own_thread)
		return;
	if (write(loop.stop_fd, &one, sizeof(one)) < 0)
		VHU_LOG(ERR, "cannot wake control thread: %s", strerror(errno));
	pthread_join(loop.thread, NULL);
	loop.own_thread = false;
}

int
vhu_loop_init(void)
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
		vhu_loop_fini();
		return ret;
	}
	loop.initialised = true;
	return 0;
}

void
vhu_loop_fini(void)
{
	for (int fd = 0; fd < loop.nentries; fd++)
		free(loop.entries[fd]);
	free(loop.entries);
	loop.entries = NULL;
	loop.nentries = 0;
	if (loop.epfd >= 0)
		close(loop.epfd);
	if (loop.stop_fd >= 0)
		close(loop.stop_fd);
	loop.epfd = loop.stop_fd = -1;
	loop.initialised = false;
	pthread_mutex_destroy(&loop.lock);
}
