/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * libvhu control API: vhost-user sockets, feature masks, device lifecycle
 * callbacks, the control loop and device queries.
 *
 * A *socket* is one unix socket path the application serves (server mode:
 * vhu listens; client mode: vhu connects and reconnects). Each frontend
 * connection on a socket is a *device* (`struct vhu_dev`). The application
 * learns about devices through the callbacks in `struct vhu_ops`, each of
 * which receives the device handle and the ctx pointer registered with the
 * socket.
 *
 * Queues are addressed by *queue pair* in the data API (vhu_burst.h) and by
 * *vring index* in callbacks: vring 2*qp is the guest's receive queue (the
 * backend enqueues into it), vring 2*qp+1 its transmit queue (the backend
 * dequeues from it).
 *
 * Threading: all protocol work (messages, callbacks) runs in one control
 * context, either a thread libvhu starts (VHU_INIT_CONTROL_THREAD) or the
 * application's own loop calling vhu_dispatch() when vhu_control_fd() is
 * readable. Data-path calls may run concurrently on any lcores; see
 * doc/guide/threading.md for the quiesce rules.
 *
 * All functions returning int return 0 (or a non-negative value) on
 * success and a negative errno value on failure.
 */
#ifndef VHU_H
#define VHU_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque vhost-user device: one frontend connection. */
struct vhu_dev;
/** Opaque registered socket path. */
struct vhu_socket;

/** vhu_init() flags. */
#define VHU_INIT_CONTROL_THREAD 0x1 /**< libvhu runs its own control thread */

/** Socket flags for struct vhu_socket_params. */
#define VHU_SOCKET_CLIENT 0x1 /**< connect to the path instead of listening */
#define VHU_SOCKET_NO_RECONNECT 0x2 /**< client mode: do not reconnect */
/**
 * Offer VIRTIO_F_ACCESS_PLATFORM (a.k.a. IOMMU_PLATFORM, bit 33: the guest
 * has a vIOMMU) and protocol feature BACKEND_REQ. When a frontend
 * negotiates it, ring and buffer addresses are I/O virtual addresses that
 * vhu translates only through the IOTLB the frontend sends (IOTLB_MSG);
 * an address the IOTLB lacks is requested over the backend channel and
 * the burst stops before it until the update arrives. The device starts
 * only with protocol features BACKEND_REQ and REPLY_ACK negotiated and
 * the channel given (SET_BACKEND_REQ_FD). Dirty logging (LOG_ALL, live
 * migration) is refused together with it. The IOTLB holds up to 2048
 * entries per device; the oldest is dropped when full.
 */
#define VHU_SOCKET_IOMMU 0x4
/**
 * Offer postcopy live migration (protocol feature PAGEFAULT). On the
 * destination, the guest runs before all its memory has arrived: libvhu
 * registers the guest memory with a userfaultfd it hands to the frontend,
 * and a burst that touches a page not yet received waits in the page
 * fault (the polling lcore sleeps, typically for one network round trip
 * to the source) until the frontend has placed it; no frame is corrupted.
 * Needs userfaultfd (root, or vm.unprivileged_userfaultfd=1) and guest
 * memory QEMU can share (memfd or hugetlbfs, share=on). Off by default,
 * as in DPDK's vhost library (its net_vhost devarg postcopy-support).
 */
#define VHU_SOCKET_POSTCOPY 0x8

/**
 * Device lifecycle callbacks. Every callback runs in the control context
 * and receives the ctx given in struct vhu_socket_params. Any may be NULL.
 */
struct vhu_ops {
	/**
	 * The device became ready: its memory is mapped and the first queue
	 * pair (and every other enabled ring) is fully configured, and the
	 * frontend set DRIVER_OK when STATUS is negotiated. From now until
	 * destroy_device() the handle may be used on the data path.
	 * Return non-zero to refuse the device (the connection is closed).
	 */
	int (*new_device)(struct vhu_dev *dev, void *ctx);
	/**
	 * The device stopped (disconnect, reset, GET_VRING_BASE, ...). On
	 * return every data-path call on it returns 0 until the next
	 * new_device(); the application should stop polling it. The handle
	 * remains valid memory for the life of the process, so a late burst
	 * call is harmless.
	 */
	void (*destroy_device)(struct vhu_dev *dev, void *ctx);
	/** A vring of a running device was enabled or disabled. */
	void (*vring_state_changed)(struct vhu_dev *dev, uint16_t vring,
				    bool enabled, void *ctx);
	/** The frontend (re)negotiated features (SET_FEATURES). */
	void (*features_changed)(struct vhu_dev *dev, uint64_t features,
				 void *ctx);
	/**
	 * The guest broke the ring protocol on a vring (bad index,
	 * descriptor, chain, ...): the vring is stopped for good, bursts on
	 * it return 0, its `broken` counter went up and the frontend's
	 * SET_VRING_ERR eventfd (if any) was signalled. Every other vring and
	 * device carries on. Called once per breakage, in the control
	 * context (never on the polling lcore that met the fault), shortly
	 * after the burst that found it. The vring works again only after
	 * the frontend resets it (GET_VRING_BASE, then sets it up again) or
	 * reconnects; see doc/guide/security.md.
	 */
	void (*vring_broken)(struct vhu_dev *dev, uint16_t vring, void *ctx);
};

/** Parameters of vhu_socket_register(). */
struct vhu_socket_params {
	const char *path;          /**< unix socket path (required) */
	uint32_t flags;            /**< VHU_SOCKET_* */
	uint16_t max_queue_pairs;  /**< 0: the build maximum */
	const struct vhu_ops *ops; /**< callbacks, copied; may be NULL */
	void *ctx;                 /**< passed back to every callback */
};

/**
 * Per-vring counters, as returned by vhu_dev_vring_stats().
 *
 * The struct only grows: new counters are appended at the end, never
 * inserted or reordered, so that a caller built against an older vhu.h
 * (a shorter struct, passed with its own sizeof) keeps working with a newer
 * library and the other way round. VHU_VRING_STATS_SIZE_V1 is the size of
 * the first version, the smallest size vhu_dev_vring_stats() accepts.
 */
struct vhu_vring_stats {
	uint64_t packets;      /**< frames moved through this vring */
	uint64_t bytes;        /**< bytes of frames (no virtio header) */
	uint64_t drops_no_buf; /**< enqueue: frames not placed, guest ring full */
	uint64_t desc_errors;  /**< malformed descriptors met */
	uint64_t kicks;        /**< guest notifications consumed (RX interrupts) */
	uint64_t calls;        /**< call eventfd writes made */
	uint64_t broken;       /**< times the guest broke this vring (each
				    stops it until a ring reset) */
	/* VHU_0.1 ends here: add new counters below, update nothing above */
};

/** sizeof(struct vhu_vring_stats) in its first version (7 counters). */
#define VHU_VRING_STATS_SIZE_V1 56

/**
 * Whether a vring is stopped because the guest broke the ring protocol
 * (see vhu_ops.vring_broken). Cleared by a ring reset or reconnect.
 */
bool vhu_dev_vring_broken(const struct vhu_dev *dev, uint16_t vring);

/**
 * Initialise libvhu. Must be called after rte_eal_init() and before any
 * other vhu function.
 * @param flags VHU_INIT_* flags.
 * @return 0, -EALREADY if already initialised, or another -errno.
 */
int vhu_init(uint32_t flags);

/**
 * Stop the control thread (if any), unregister every socket (closing
 * connections, calling destroy_device for running devices) and free all
 * library state.
 */
void vhu_fini(void);

/**
 * The control-loop file descriptor: readable whenever vhu_dispatch() has
 * work. For applications that run their own event loop instead of
 * VHU_INIT_CONTROL_THREAD.
 * @return an fd (owned by libvhu) or -EINVAL before vhu_init().
 */
int vhu_control_fd(void);

/**
 * Run the control loop once: handle every pending socket event, waiting at
 * most timeout_ms milliseconds for the first (0: don't wait, -1: forever).
 * Must not be called when VHU_INIT_CONTROL_THREAD is in use.
 * @return the number of events handled, or -errno.
 */
int vhu_dispatch(int timeout_ms);

/**
 * Register a socket path. Nothing is opened until vhu_socket_start().
 *
 * @param p the path, flags, callbacks and ctx; p and the ops it points to
 *   are copied, so neither needs to outlive the call.
 * @param[out] sockp set to the new socket on success, to NULL on failure.
 * @return 0 on success, or a negative errno value:
 *   - -EINVAL: vhu_init() not called, p or sockp NULL, empty or too long
 *     path, max_queue_pairs above the build maximum, unknown flags;
 *   - -EEXIST: the path is already registered;
 *   - -ENOMEM: out of memory.
 */
int vhu_socket_register(const struct vhu_socket_params *p,
			struct vhu_socket **sockp);

/**
 * Start serving: listen (server) or start connecting (client).
 * @return 0 or -errno (e.g. -EADDRINUSE).
 */
int vhu_socket_start(struct vhu_socket *s);

/**
 * Stop serving and free the socket: closes its connections (calling
 * destroy_device for running ones) and removes the path it created.
 */
int vhu_socket_unregister(struct vhu_socket *s);

/** The virtio feature bits vhu implements (for the build). */
uint64_t vhu_supported_features(void);

/**
 * Features offered to frontends on this socket. Defaults to every
 * supported feature except VIRTIO_NET_F_CTRL_VQ. Only before start.
 */
int vhu_socket_set_features(struct vhu_socket *s, uint64_t features);
/** Add feature bits (must be supported) to the offer. Only before start. */
int vhu_socket_enable_features(struct vhu_socket *s, uint64_t features);
/** Remove feature bits from the offer. Only before start. */
int vhu_socket_disable_features(struct vhu_socket *s, uint64_t features);
/**
 * Server mode: the file mode and owner of the socket path, applied before
 * the socket starts listening, so no connection can come in under looser
 * permissions. Default 0600 and the process's own user: only the same user
 * can connect. Pass (uid_t)-1 / (gid_t)-1 to keep the owner or group.
 * Only before start.
 */
int vhu_socket_set_permissions(struct vhu_socket *s, mode_t mode, uid_t uid,
			       gid_t gid);
/**
 * Accept only peers running as uid (checked with SO_PEERCRED on every
 * connection, in server and client mode). Call once per allowed uid, up to
 * 16; with no call, any peer that can open the socket is served.
 * Only before start.
 */
int vhu_socket_allow_uid(struct vhu_socket *s, uid_t uid);
/** Features currently offered on this socket. */
uint64_t vhu_socket_get_features(const struct vhu_socket *s);
/** Protocol features offered on this socket (VHOST_USER_PROTOCOL_F_*). */
int vhu_socket_set_protocol_features(struct vhu_socket *s, uint64_t pf);
/** Protocol features currently offered on this socket. */
uint64_t vhu_socket_get_protocol_features(const struct vhu_socket *s);
/** The path a socket was registered with. */
const char *vhu_socket_path(const struct vhu_socket *s);

/** The socket a device arrived on. */
struct vhu_socket *vhu_dev_socket(const struct vhu_dev *dev);
/** The ctx registered with the device's socket. */
void *vhu_dev_ctx(const struct vhu_dev *dev);
/** Small integer unique among live devices (for logs). */
int vhu_dev_id(const struct vhu_dev *dev);
/** Features negotiated with the frontend. */
uint64_t vhu_dev_features(const struct vhu_dev *dev);
/** Number of vrings the frontend set up (2 per queue pair). */
uint16_t vhu_dev_vring_count(const struct vhu_dev *dev);
/** Whether the frontend enabled a vring. */
bool vhu_dev_vring_enabled(const struct vhu_dev *dev, uint16_t vring);
/** MTU set by NET_SET_MTU, or 0 if none. */
uint16_t vhu_dev_mtu(const struct vhu_dev *dev);
/**
 * The MAC the frontend asked to announce with SEND_RARP (it does after a
 * live migration, on the destination), if any since the last call; the
 * request is consumed. libvhu announces it on its own as well: the next
 * vhu_dequeue_burst() of queue pair 0 starts with a RARP frame from that
 * MAC (see vhu_burst.h); this call is for applications that want to act
 * on the move at once (a switch moving the MAC in its table).
 * @return true and fills mac[6] if one was pending.
 */
bool vhu_dev_take_rarp(struct vhu_dev *dev, uint8_t mac[6]);
/**
 * Read the counters of one vring.
 *
 * Pass the size of the struct the caller was compiled with,
 * `sizeof(struct vhu_vring_stats)`: the library writes the first
 * min(size, its own sizeof) bytes with its counters and, when the caller's
 * struct is larger (built against a newer vhu.h than the library), sets
 * the counters it does not know to zero, up to size. Nothing beyond size
 * is written. The counters are read without stopping the data path: each
 * is exact, but two of them may be from slightly different moments.
 *
 * @param dev the device.
 * @param vring the vring index (2*qp: receive queue, 2*qp+1: transmit).
 * @param[out] st where the counters go, size bytes.
 * @param size sizeof(*st) in the caller's build; at least
 *   VHU_VRING_STATS_SIZE_V1.
 * @return the number of bytes filled with counters the library keeps,
 *   min(size, sizeof(struct vhu_vring_stats) in the library), or a
 *   negative errno value:
 *   - -EINVAL: dev or st NULL, size below VHU_VRING_STATS_SIZE_V1, vring
 *     beyond the build maximum (st is not written);
 *   - -ENOENT: the frontend never set this vring up (st is not written).
 */
int vhu_dev_vring_stats(const struct vhu_dev *dev, uint16_t vring,
			struct vhu_vring_stats *st, size_t size);
/** Reset the counters of one vring. */
int vhu_dev_vring_stats_reset(struct vhu_dev *dev, uint16_t vring);

#ifdef __cplusplus
}
#endif
#endif /* VHU_H */
