/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Registered socket paths (see registry.h) and the public socket API. In
 * server mode a path may carry several connections at once, each its own
 * device. In client mode there is at most one; when it fails or goes
 * away, a timer retries with exponential backoff (100 ms doubling to 5 s)
 * so a restarted frontend finds the backend again without any action by
 * the application.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/vhost_types.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "lifecycle.h"
#include "loop.h"
#include "msg.h"
#include "registry.h"
#include "unix_io.h"
#include "vhu_log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

#define BIT(n) (1ULL << (n))

static TAILQ_HEAD(, vhu_socket) sockets = TAILQ_HEAD_INITIALIZER(sockets);

static void on_dev_closed(struct vhu_socket *s);

/*
 * Checksum and segmentation offloads, both directions (virtio 1.2
 * §5.1.3; doc/guide/offloads.md). No UFO: Linux dropped it, and IP
 * fragmentation of a 64 KiB datagram is not what anyone wants from us.
 */
#define VHU_OFFLOAD_FEATURES \
	(BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) | \
	 BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) | \
	 BIT(VIRTIO_NET_F_HOST_ECN) | BIT(VIRTIO_NET_F_HOST_USO) | \
	 BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) | \
	 BIT(VIRTIO_NET_F_GUEST_ECN) | BIT(VIRTIO_NET_F_GUEST_USO4) | \
	 BIT(VIRTIO_NET_F_GUEST_USO6))

/*
 * The control vring's command classes (protocol/net_ctrl.c); each
 * needs CTRL_VQ and, like it, is not offered by default.
 */
#define VHU_CTRL_FEATURES \
	(BIT(VIRTIO_NET_F_CTRL_RX) | BIT(VIRTIO_NET_F_CTRL_VLAN) | \
	 BIT(VIRTIO_NET_F_CTRL_RX_EXTRA) | BIT(VIRTIO_NET_F_GUEST_ANNOUNCE) | \
	 BIT(VIRTIO_NET_F_CTRL_MAC_ADDR))

uint64_t
vhu_supported_features(void)
{
	return BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MRG_RXBUF) |
	       BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_RING_F_INDIRECT_DESC) |
	       BIT(VIRTIO_F_ANY_LAYOUT) | BIT(VIRTIO_NET_F_CTRL_VQ) |
	       BIT(VIRTIO_NET_F_MQ) | BIT(VHOST_F_LOG_ALL) |
	       BIT(VIRTIO_NET_F_STATUS) | BIT(VIRTIO_NET_F_MTU) |
	       BIT(VIRTIO_F_RING_PACKED) | BIT(VIRTIO_F_IN_ORDER) |
	       BIT(VHU_F_PROTOCOL_FEATURES) | BIT(VIRTIO_F_ACCESS_PLATFORM) |
	       VHU_OFFLOAD_FEATURES | VHU_CTRL_FEATURES;
}

static uint64_t
default_features(void)
{
	/*
	 * No control queue (nor its commands) by default: QEMU and
	 * virtio_user keep their own.
	 * No IOMMU unless asked for (VHU_SOCKET_IOMMU).
	 */
	return vhu_supported_features() &
	       ~(BIT(VIRTIO_NET_F_CTRL_VQ) | VHU_CTRL_FEATURES |
		 BIT(VIRTIO_F_ACCESS_PLATFORM));
}

static uint64_t
supported_protocol_features(void)
{
	return BIT(VHU_PROTOCOL_F_MQ) | BIT(VHU_PROTOCOL_F_LOG_SHMFD) |
	       BIT(VHU_PROTOCOL_F_RARP) | BIT(VHU_PROTOCOL_F_REPLY_ACK) |
	       BIT(VHU_PROTOCOL_F_NET_MTU) |
	       BIT(VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |
	       BIT(VHU_PROTOCOL_F_STATUS) | BIT(VHU_PROTOCOL_F_BACKEND_REQ) |
	       BIT(VHU_PROTOCOL_F_PAGEFAULT);
}

int
vhu_socket_register(const struct vhu_socket_params *p,
		    struct vhu_socket **sockp)
{
	struct vhu_socket *s;

	if (sockp == NULL)
		return -EINVAL;
	*sockp = NULL;
	if (!vhu_loop_ready() || p == NULL || p->path == NULL ||
	    p->path[0] == '\0' ||
	    strlen(p->path) >= sizeof(((struct vhu_socket *)0)->path) ||
	    p->max_queue_pairs > VHU_MAX_QUEUE_PAIRS ||
	    (p->flags & ~(VHU_SOCKET_CLIENT | VHU_SOCKET_NO_RECONNECT |
			  VHU_SOCKET_IOMMU | VHU_SOCKET_POSTCOPY |
			  VHU_SOCKET_LEGACY_OL_FLAGS | VHU_SOCKET_LINEARBUF |
			  VHU_SOCKET_EXTBUF | VHU_SOCKET_LAZY_CALLS))) {
		return -EINVAL;
	}
	vhu_ctl_lock();
	TAILQ_FOREACH(s, &sockets, next) {
		if (strcmp(s->path, p->path) == 0) {
			vhu_ctl_unlock();
			VHU_LOG(ERR, "%s: already registered", p->path);
			return -EEXIST;
		}
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		vhu_ctl_unlock();
		return -ENOMEM;
	}
	strcpy(s->path, p->path);
	s->flags = p->flags;
	s->max_queue_pairs = p->max_queue_pairs ? p->max_queue_pairs :
						  VHU_MAX_QUEUE_PAIRS;
	if (p->ops != NULL)
		s->ops = *p->ops;
	s->ctx = p->ctx;
	s->features = default_features();
	/* the backend channel only serves IOTLB misses; postcopy on request */
	s->protocol_features = supported_protocol_features() &
			       ~(BIT(VHU_PROTOCOL_F_BACKEND_REQ) |
				 BIT(VHU_PROTOCOL_F_PAGEFAULT));
	if (p->flags & VHU_SOCKET_POSTCOPY)
		s->protocol_features |= BIT(VHU_PROTOCOL_F_PAGEFAULT);
	if (p->flags & VHU_SOCKET_IOMMU) {
		s->features |= BIT(VIRTIO_F_ACCESS_PLATFORM);
		s->protocol_features |= BIT(VHU_PROTOCOL_F_BACKEND_REQ);
	}
	s->listen_fd = -1;
	s->timer_fd = -1;
	s->dev_closed = on_dev_closed;
	s->mode = VHU_SOCKET_DEFAULT_MODE;
	s->owner = (uid_t)-1;
	s->group = (gid_t)-1;
	TAILQ_INSERT_TAIL(&sockets, s, next);
	vhu_ctl_unlock();
	*sockp = s;
	return 0;
}

/* The allow-list (vhu_socket_allow_uid) admits the peer on fd. */
static bool
peer_allowed(const struct vhu_socket *s, int fd)
{
	uid_t uid;
	int ret;

	if (s->nallowed == 0)
		return true;
	ret = vhu_unix_peer_uid(fd, &uid);
	if (ret < 0) {
		VHU_LOG(ERR, "%s: cannot read peer credentials: %s; refusing",
			s->path, strerror(-ret));
		return false;
	}
	for (uint32_t i = 0; i < s->nallowed; i++)
		if (s->allowed[i] == uid)
			return true;
	VHU_LOG(ERR, "%s: refusing a peer running as uid %u (not allowed)",
		s->path, (unsigned int)uid);
	return false;
}

static void
on_accept(void *arg, uint32_t events)
{
	struct vhu_socket *s = arg;
	int fd;

	(void)events;
	fd = vhu_unix_accept(s->listen_fd);
	if (fd < 0) {
		if (fd != -EAGAIN)
			VHU_LOG(ERR, "%s: accept: %s", s->path, strerror(-fd));
		return;
	}
	if (!peer_allowed(s, fd) || vhu_dev_create(s, fd) == NULL)
		close(fd);
}

static void
client_retry_later(struct vhu_socket *s)
{
	if (s->flags & VHU_SOCKET_NO_RECONNECT)
		return;
	vhu_timer_arm(s->timer_fd, s->backoff_ms);
	s->backoff_ms = RTE_MIN(s->backoff_ms * 2, (uint32_t)BACKOFF_MAX_MS);
}

static void
client_try_connect(struct vhu_socket *s)
{
	int fd;

	if (!s->started || s->ndevs > 0)
		return;
	fd = vhu_unix_connect(s->path);
	if (fd < 0) {
		VHU_LOG(DEBUG, "%s: connect: %s; retrying in %u ms", s->path,
			strerror(-fd), s->backoff_ms);
		client_retry_later(s);
		return;
	}
	if (!peer_allowed(s, fd) || vhu_dev_create(s, fd) == NULL) {
		close(fd);
		client_retry_later(s);
		return;
	}
	VHU_LOG(INFO, "%s: connected", s->path);
	s->backoff_ms = BACKOFF_MIN_MS;
}

static void
on_timer(void *arg, uint32_t events)
{
	struct vhu_socket *s = arg;
	uint64_t expirations;

	(void)events;
	if (read(s->timer_fd, &expirations, sizeof(expirations)) < 0)
		return; /* spurious */
	client_try_connect(s);
}

/* s->dev_closed: a device of s went away (lifecycle.c counted it). */
static void
on_dev_closed(struct vhu_socket *s)
{
	if ((s->flags & VHU_SOCKET_CLIENT) && s->started) {
		s->backoff_ms = BACKOFF_MIN_MS;
		client_retry_later(s);
	}
}

/* A path left behind by a dead server can be reused; a live one not. */
static int
reclaim_stale_path(const char *path)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = vhu_unix_connect(path);
	if (fd >= 0) {
		close(fd);
		return -EADDRINUSE;
	}
	return unlink(path) < 0 ? -errno : 0;
}

int
vhu_socket_start(struct vhu_socket *s)
{
	int ret;

	if (s == NULL)
		return -EINVAL;
	vhu_ctl_lock();
	if (s->started) {
		ret = -EALREADY;
		goto out;
	}
	if (s->flags & VHU_SOCKET_CLIENT) {
		ret = vhu_timer_create();
		if (ret < 0)
			goto out;
		s->timer_fd = ret;
		ret = vhu_loop_add(s->timer_fd, on_timer, s);
		if (ret < 0) {
			close(s->timer_fd);
			s->timer_fd = -1;
			goto out;
		}
		s->started = true;
		s->backoff_ms = BACKOFF_MIN_MS;
		client_try_connect(s);
		ret = 0;
		goto out;
	}
	ret = reclaim_stale_path(s->path);
	if (ret < 0) {
		VHU_LOG(ERR, "%s: cannot listen: %s", s->path, strerror(-ret));
		goto out;
	}
	ret = vhu_unix_listen_mode(s->path, s->mode, s->owner, s->group);
	if (ret < 0) {
		VHU_LOG(ERR, "%s: cannot listen: %s", s->path, strerror(-ret));
		goto out;
	}
	s->listen_fd = ret;
	ret = vhu_loop_add(s->listen_fd, on_accept, s);
	if (ret < 0) {
		close(s->listen_fd);
		s->listen_fd = -1;
		unlink(s->path);
		goto out;
	}
	s->started = true;
	VHU_LOG(INFO, "%s: listening", s->path);
out:
	vhu_ctl_unlock();
	return ret;
}

static void
socket_free(struct vhu_socket *s)
{
	s->started = false;
	vhu_dev_close_socket(s);
	if (s->listen_fd >= 0) {
		vhu_loop_del(s->listen_fd);
		close(s->listen_fd);
		unlink(s->path);
	}
	if (s->timer_fd >= 0) {
		vhu_loop_del(s->timer_fd);
		close(s->timer_fd);
	}
	TAILQ_REMOVE(&sockets, s, next);
	free(s);
}

int
vhu_socket_unregister(struct vhu_socket *s)
{
	if (s == NULL)
		return -EINVAL;
	vhu_ctl_lock();
	socket_free(s);
	vhu_ctl_unlock();
	return 0;
}

void
vhu_socket_unregister_all(void)
{
	struct vhu_socket *s;

	while ((s = TAILQ_FIRST(&sockets)) != NULL)
		socket_free(s);
}

static int
change_features(struct vhu_socket *s, uint64_t set, uint64_t clear)
{
	uint64_t f;
	int ret = 0;

	if (s == NULL)
		return -EINVAL;
	vhu_ctl_lock();
	f = (s->features | set) & ~clear;
	if (s->started)
		ret = -EBUSY;
	else if (f & ~vhu_supported_features())
		ret = -ENOTSUP;
	else
		s->features = f;
	vhu_ctl_unlock();
	return ret;
}

int
vhu_socket_set_features(struct vhu_socket *s, uint64_t features)
{
	return change_features(s, features, ~features);
}

int
vhu_socket_enable_features(struct vhu_socket *s, uint64_t features)
{
	return change_features(s, features, 0);
}

int
vhu_socket_disable_features(struct vhu_socket *s, uint64_t features)
{
	return change_features(s, 0, features);
}

uint64_t
vhu_socket_get_features(const struct vhu_socket *s)
{
	return s != NULL ? s->features : 0;
}

int
vhu_socket_set_protocol_features(struct vhu_socket *s, uint64_t pf)
{
	int ret = 0;

	if (s == NULL)
		return -EINVAL;
	vhu_ctl_lock();
	if (s->started)
		ret = -EBUSY;
	else if (pf & ~supported_protocol_features())
		ret = -ENOTSUP;
	else
		s->protocol_features = pf;
	vhu_ctl_unlock();
	return ret;
}

int
vhu_socket_set_permissions(struct vhu_socket *s, mode_t mode, uid_t uid,
			   gid_t gid)
{
	int ret = 0;

	if (s == NULL || (mode & ~(mode_t)0777))
		return -EINVAL;
	vhu_ctl_lock();
	if (s->started) {
		ret = -EBUSY;
	} else {
		s->mode = mode;
		s->owner = uid;
		s->group = gid;
	}
	vhu_ctl_unlock();
	return ret;
}

int
vhu_socket_allow_uid(struct vhu_socket *s, uid_t uid)
{
	int ret = 0;

	if (s == NULL)
		return -EINVAL;
	vhu_ctl_lock();
	if (s->started)
		ret = -EBUSY;
	else if (s->nallowed == VHU_SOCKET_MAX_ALLOWED)
		ret = -ENOSPC;
	else
		s->allowed[s->nallowed++] = uid;
	vhu_ctl_unlock();
	return ret;
}

uint64_t
vhu_socket_get_protocol_features(const struct vhu_socket *s)
{
	return s != NULL ? s->protocol_features : 0;
}

const char *
vhu_socket_path(const struct vhu_socket *s)
{
	return s != NULL ? s->path : NULL;
}

struct vhu_socket *
vhu_socket_next(const struct vhu_socket *s)
{
	return s == NULL ? TAILQ_FIRST(&sockets) : TAILQ_NEXT(s, next);
}

uint32_t
vhu_socket_diag(const struct vhu_socket *s)
{
	return s != NULL ? vhu_atomic_load_u32(&s->diag, memory_order_relaxed) :
			   0;
}
