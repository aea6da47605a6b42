/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A registered socket path: server (listen, accept) or client (connect,
 * reconnect with backoff), the feature offer for its devices, and the
 * application's callbacks and ctx.
 */
#ifndef VHU_REGISTRY_H
#define VHU_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/un.h>

#include "vhu.h"

#define VHU_SOCKET_MAX_ALLOWED 16
#define VHU_SOCKET_DEFAULT_MODE 0600

struct vhu_socket {
	TAILQ_ENTRY(vhu_socket) next;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint32_t flags;
	uint16_t max_queue_pairs;
	struct vhu_ops ops;
	void *ctx;
	uint64_t features;          /* offered */
	uint64_t protocol_features; /* offered */
	bool started;
	int listen_fd;
	int timer_fd;               /* client reconnect timer */
	uint32_t backoff_ms;
	uint32_t ndevs;
	mode_t mode;                /* server socket file mode */
	uid_t owner;                /* (uid_t)-1: leave */
	gid_t group;                /* (gid_t)-1: leave */
	uint32_t nallowed;          /* 0: any peer */
	uid_t allowed[VHU_SOCKET_MAX_ALLOWED];
	uint32_t diag;              /* VHU_DIAG_* of any device, sticky */
	/* called by the lifecycle when a device of this socket has closed */
	void (*dev_closed)(struct vhu_socket *s);
};

/* Unregister every socket, closing their devices (vhu_fini). */
void vhu_socket_unregister_all(void);

/*
 * The registered socket after s (NULL: the first), or NULL after the last.
 * Control lock held (telemetry walks the list with it).
 */
struct vhu_socket *vhu_socket_next(const struct vhu_socket *s);

#endif /* VHU_REGISTRY_H */
