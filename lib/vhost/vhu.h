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
 * Errors: every function returning int returns 0 (or a non-negative
 * value, as documented) on success and a negative errno value on failure;
 * none reports through errno or rte_errno. Queries returning a pointer,
 * bool or mask return NULL, false or 0 for an invalid handle.
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

/**
 * @name virtio-net feature bits newer than some kernel headers
 * UDP segmentation offload (virtio 1.2 §5.1.3); <linux/virtio_net.h>
 * defines them from Linux 6.2 on.
 * @{
 */
#ifndef VIRTIO_NET_F_GUEST_USO4
#define VIRTIO_NET_F_GUEST_USO4 54 /**< the guest takes USO frames, IPv4 */
#endif
#ifndef VIRTIO_NET_F_GUEST_USO6
#define VIRTIO_NET_F_GUEST_USO6 55 /**< the guest takes USO frames, IPv6 */
#endif
#ifndef VIRTIO_NET_F_HOST_USO
#define VIRTIO_NET_F_HOST_USO 56   /**< the guest may send USO frames */
#endif
/** @} */

/** Opaque vhost-user device: one frontend connection. */
struct vhu_dev;
/** Opaque registered socket path. */
struct vhu_socket;
/** A guest's receive filter (see "Control virtqueue" at the end). */
struct vhu_rx_filter;

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
 * How vhu_dequeue_burst() describes the guest's offload requests in mbuf
 * metadata (doc/guide/offloads.md). By default (DPDK's "compliant"
 * convention) as a NIC would on receive: RTE_MBUF_F_RX_L4_CKSUM_NONE for
 * a frame whose L4 checksum the guest left partial, RTE_MBUF_F_RX_LRO and
 * tso_segsz for a segmentation-offload (GSO) frame,
 * RTE_MBUF_F_RX_L4_CKSUM_GOOD for one it marked valid. With this flag,
 * DPDK's "legacy" vhost convention: transmit flags (RTE_MBUF_F_TX_TCP_CKSUM,
 * RTE_MBUF_F_TX_TCP_SEG, ...) with l2_len, l3_len, l4_len and tso_segsz
 * set, ready to hand to a NIC that offloads them (net_vhost's
 * legacy-ol-flags=1).
 */
#define VHU_SOCKET_LEGACY_OL_FLAGS 0x10

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
	/**
	 * The guest changed its receive filter or its active queue pairs
	 * through the control vring (VIRTIO_NET_F_CTRL_VQ negotiated with
	 * this backend; see "Control virtqueue" below). Called after each
	 * command that changed something, in the control context, with the
	 * new state (valid for the call; vhu_dev_rx_filter() gives the same).
	 * Queue pairs the guest turned off were reported disabled through
	 * vring_state_changed just before.
	 */
	void (*rx_filter_changed)(struct vhu_dev *dev,
				  const struct vhu_rx_filter *f, void *ctx);
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
	uint64_t drops_no_buf; /**< enqueue: frames not placed for lack of
				    guest buffers, counted per call: a frame
				    the caller offers again and that is
				    refused again counts again (see
				    enqueue_full for an alerting signal) */
	uint64_t desc_errors;  /**< malformed descriptors met */
	uint64_t kicks;        /**< guest notifications (kick eventfd writes)
				    the application consumed with
				    vhu_vring_kick_ack(); 0 for a polling
				    application */
	uint64_t calls;        /**< call eventfd writes made */
	uint64_t broken;       /**< times the guest broke this vring (each
				    stops it until a ring reset) */
	/* VHU_0.1 ends here: add new counters below, update nothing above */
	uint64_t drops_mtu;    /**< enqueue: frames dropped, longer than the
				    guest's MTU and not segmentation-offload
				    frames */
	uint64_t drops_bad_hdr; /**< dequeue: frames dropped for a virtio-net
				     header that asks for an offload vhu
				     cannot honour (doc/guide/offloads.md) */
	uint64_t sw_cksums;    /**< checksums completed in software */
	uint64_t sw_segmented; /**< frames segmented in software (enqueue of
				    a segmentation-offload frame to a guest
				    that did not negotiate it) */
	uint64_t enqueue_full; /**< enqueue calls that ended before placing
				    every frame offered (up to VHU_BURST_MAX)
				    because the guest had no buffer for the
				    next one: once per call whatever the
				    number of frames left, so a steady rise
				    means the guest does not keep up */
	uint64_t iotlb_misses; /**< VHU_SOCKET_IOMMU: addresses the IOTLB
				    lacked, one per miss requested (a burst
				    waiting for the same update counts once) */
	uint64_t last_kick_latency_ns; /**< not a counter: the time from the
				    last vhu_vring_kick_ack() that consumed a
				    kick to the next burst on the vring, in
				    ns (interrupt-mode wake-up latency); 0
				    before the first */
	uint64_t dma_copies;   /**< enqueue with a DMA channel
				    (vhu_async_bind): payload pieces the
				    engine copied */
	uint64_t dma_fallbacks; /**< ... pieces the core copied instead,
				    because the engine refused them (ring
				    full) or reported an error */
};

/** sizeof(struct vhu_vring_stats) in its first version (7 counters). */
#define VHU_VRING_STATS_SIZE_V1 56

/**
 * @name Library
 * @{
 */

/**
 * Initialise libvhu. Must be called after rte_eal_init() and before any
 * other vhu function.
 *
 * Installs a SIGBUS handler (restored by vhu_fini()): a frontend that
 * shrinks a guest memory file it shared then gets its connection closed
 * instead of killing the process. Any other SIGBUS goes to the handler in
 * place before vhu_init(), or kills as by default. An application that
 * installs its own SIGBUS handler after vhu_init() must pass the faults it
 * does not own to the one sigaction() returns. See doc/guide/security.md.
 *
 * @param flags VHU_INIT_* flags: VHU_INIT_CONTROL_THREAD, or 0 for an
 *   application that calls vhu_dispatch() itself.
 * @return 0 on success, or a negative errno value:
 *   - -EALREADY: already initialised (call vhu_fini() first);
 *   - another negative errno from epoll_create1(), eventfd() or the
 *     control thread's creation (e.g. -EMFILE, -ENOMEM, -EAGAIN); nothing
 *     is left allocated.
 */
int vhu_init(uint32_t flags);

/**
 * Stop the control thread (if any), unregister every socket (closing
 * connections, calling destroy_device for running devices) and free all
 * library state. Does nothing if libvhu is not initialised. No data-path
 * call may run concurrently or afterwards: device handles are freed.
 */
void vhu_fini(void);

/**
 * The control-loop file descriptor: readable whenever vhu_dispatch() has
 * work. For applications that run their own event loop instead of
 * VHU_INIT_CONTROL_THREAD.
 *
 * @return the fd (>= 0, owned by libvhu: do not read or close it), or
 *   -EINVAL before vhu_init().
 */
int vhu_control_fd(void);

/**
 * Run the control loop once: handle pending socket events (connections,
 * messages, reconnect timers, broken-vring reports), waiting at most
 * timeout_ms milliseconds for the first. Callbacks run inside this call.
 * At most 64 events are handled per call, so that one busy frontend cannot
 * hold the caller; call again while it returns a positive value.
 *
 * @param timeout_ms how long to wait for the first event: 0 don't wait,
 *   -1 forever.
 * @return the number of events handled (0: none before the timeout, or
 *   a signal interrupted the wait), or a negative errno value:
 *   - -EINVAL: libvhu not initialised, or initialised with
 *     VHU_INIT_CONTROL_THREAD (its thread dispatches);
 *   - another negative errno from epoll_wait() if it failed before any
 *     event was handled.
 */
int vhu_dispatch(int timeout_ms);

/** @} */

/**
 * @name Sockets
 * Setters apply only before vhu_socket_start(); after it they return
 * -EBUSY. These calls take libvhu's control lock, so they may be called
 * from any thread, including callbacks (doc/guide/threading.md).
 * @{
 */

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
 * Start serving: listen (server) or start connecting (client). A server
 * reclaims a path left behind by a dead server; in client mode, an absent
 * frontend is not an error: libvhu retries with backoff (100 ms doubling
 * to 5 s) unless VHU_SOCKET_NO_RECONNECT.
 *
 * @param s the socket.
 * @return 0 on success, or a negative errno value:
 *   - -EINVAL: s NULL;
 *   - -EALREADY: already started;
 *   - -EADDRINUSE: server mode, a live server listens on the path;
 *   - -EEXIST: server mode, the path exists and is not a socket;
 *   - another negative errno from lstat(), unlink(), socket(), bind(),
 *     chmod(), chown(), listen(), timerfd_create() or epoll_ctl()
 *     (e.g. -EACCES, -ENOENT for a missing directory, -ENOMEM).
 */
int vhu_socket_start(struct vhu_socket *s);

/**
 * Stop serving and free the socket: closes its connections (calling
 * destroy_device for running ones) and removes the path it created.
 * s is invalid afterwards.
 *
 * @param s the socket.
 * @return 0 on success, or -EINVAL if s is NULL.
 */
int vhu_socket_unregister(struct vhu_socket *s);

/**
 * The virtio feature bits vhu implements (for the build).
 *
 * @return a mask of feature bit numbers (bit n set: feature n).
 */
uint64_t vhu_supported_features(void);

/**
 * Set the features offered to frontends on this socket. The default is
 * every supported feature except VIRTIO_NET_F_CTRL_VQ and its command
 * classes (CTRL_RX, CTRL_RX_EXTRA, CTRL_VLAN, GUEST_ANNOUNCE,
 * CTRL_MAC_ADDR; see "Control virtqueue"), and except
 * VIRTIO_F_ACCESS_PLATFORM unless the socket has VHU_SOCKET_IOMMU.
 *
 * @param s the socket.
 * @param features the new offer, a subset of vhu_supported_features().
 * @return 0 on success, or a negative errno value:
 *   - -EINVAL: s NULL;
 *   - -EBUSY: the socket is started;
 *   - -ENOTSUP: a bit outside vhu_supported_features() (offer unchanged).
 */
int vhu_socket_set_features(struct vhu_socket *s, uint64_t features);

/**
 * Add feature bits to the offer.
 *
 * @param s the socket.
 * @param features the bits to add, a subset of vhu_supported_features().
 * @return 0 on success, or a negative errno value:
 *   - -EINVAL: s NULL;
 *   - -EBUSY: the socket is started;
 *   - -ENOTSUP: a bit outside vhu_supported_features() (offer unchanged).
 */
int vhu_socket_enable_features(struct vhu_socket *s, uint64_t features);

/**
 * Remove feature bits from the offer.
 *
 * @param s the socket.
 * @param features the bits to remove; bits not offered are ignored.
 * @return 0 on success, or a negative errno value:
 *   - -EINVAL: s NULL;
 *   - -EBUSY: the socket is started.
 */
int vhu_socket_disable_features(struct vhu_socket *s, uint64_t features);

/**
 * Server mode: the file mode and owner of the socket path, applied before
 * the socket starts listening, so no connection can come in under looser
 * permissions. Default 0600 and the process's own user: only the same user
 * can connect. Client mode ignores it.
 *
 * @param s the socket.
 * @param mode permission bits (at most 0777).
 * @param uid the path's owner, or (uid_t)-1 to keep the process's.
 * @param gid the path's group, or (gid_t)-1 to keep the process's.
 * @return 0 on success, or a negative errno value:
 *   - -EINVAL: s NULL, or mode has bits beyond 0777;
 *   - -EBUSY: the socket is started.
 */
int vhu_socket_set_permissions(struct vhu_socket *s, mode_t mode, uid_t uid,
			       gid_t gid);

/**
 * Accept only peers running as uid (checked with SO_PEERCRED on every
 * connection, in server and client mode). Call once per allowed uid, up to
 * 16; with no call, any peer that can open the socket is served.
 *
 * @param s the socket.
 * @param uid a user id to admit.
 * @return 0 on success, or a negative errno value:
 *   - -EINVAL: s NULL;
 *   - -EBUSY: the socket is started;
 *   - -ENOSPC: 16 uids are already allowed.
 */
int vhu_socket_allow_uid(struct vhu_socket *s, uid_t uid);

/**
 * Features currently offered on this socket.
 *
 * @param s the socket.
 * @return the feature mask, or 0 if s is NULL.
 */
uint64_t vhu_socket_get_features(const struct vhu_socket *s);

/**
 * Set the protocol features (VHOST_USER_PROTOCOL_F_*, bit numbers as in
 * the vhost-user specification) offered on this socket. The default is
 * every supported one except BACKEND_REQ (offered with VHU_SOCKET_IOMMU)
 * and PAGEFAULT (offered with VHU_SOCKET_POSTCOPY).
 *
 * @param s the socket.
 * @param pf the new offer.
 * @return 0 on success, or a negative errno value:
 *   - -EINVAL: s NULL;
 *   - -EBUSY: the socket is started;
 *   - -ENOTSUP: a protocol feature libvhu does not implement (offer
 *     unchanged).
 */
int vhu_socket_set_protocol_features(struct vhu_socket *s, uint64_t pf);

/**
 * Protocol features currently offered on this socket.
 *
 * @param s the socket.
 * @return the protocol feature mask, or 0 if s is NULL.
 */
uint64_t vhu_socket_get_protocol_features(const struct vhu_socket *s);

/**
 * The path a socket was registered with.
 *
 * @param s the socket.
 * @return the path (owned by the socket, valid until it is unregistered),
 *   or NULL if s is NULL.
 */
const char *vhu_socket_path(const struct vhu_socket *s);

/** @} */

/**
 * @name Devices
 * Queries on a device handle received in a callback. The handle stays
 * valid memory until vhu_fini(); after destroy_device the values describe
 * the stopped device.
 * @{
 */

/**
 * The socket a device arrived on.
 *
 * @param dev the device.
 * @return the socket, or NULL if dev is NULL.
 */
struct vhu_socket *vhu_dev_socket(const struct vhu_dev *dev);

/**
 * The ctx registered with the device's socket.
 *
 * @param dev the device.
 * @return struct vhu_socket_params.ctx, or NULL if dev is NULL.
 */
void *vhu_dev_ctx(const struct vhu_dev *dev);

/**
 * Small integer unique among live devices (for logs).
 *
 * @param dev the device.
 * @return the id (>= 0), or -EINVAL if dev is NULL.
 */
int vhu_dev_id(const struct vhu_dev *dev);

/**
 * Features negotiated with the frontend (SET_FEATURES).
 *
 * @param dev the device.
 * @return the feature mask, or 0 if dev is NULL.
 */
uint64_t vhu_dev_features(const struct vhu_dev *dev);

/**
 * Number of vrings the frontend set up (2 per queue pair, and the
 * control vring when the frontend hands it over: see "Control
 * virtqueue"; vhu_dev_vring_enabled() never reports that one).
 *
 * @param dev the device.
 * @return the count, or 0 if dev is NULL.
 */
uint16_t vhu_dev_vring_count(const struct vhu_dev *dev);

/**
 * Whether a vring is live: enabled by the frontend and usable (as last
 * reported through vring_state_changed).
 *
 * @param dev the device.
 * @param vring the vring index (2*qp: receive queue, 2*qp+1: transmit).
 * @return true if live; false otherwise, or if dev is NULL or vring out
 *   of range.
 */
bool vhu_dev_vring_enabled(const struct vhu_dev *dev, uint16_t vring);

/**
 * Whether a vring is stopped because the guest broke the ring protocol
 * (see vhu_ops.vring_broken). Cleared by a ring reset or reconnect. May
 * be called from any thread, the data path included.
 *
 * @param dev the device.
 * @param vring the vring index (2*qp: receive queue, 2*qp+1: transmit).
 * @return true if broken; false otherwise, or if dev is NULL, vring out of
 *   range or never set up.
 */
bool vhu_dev_vring_broken(const struct vhu_dev *dev, uint16_t vring);

/**
 * MTU set by NET_SET_MTU.
 *
 * @param dev the device.
 * @return the MTU, or 0 if none was set or dev is NULL.
 */
uint16_t vhu_dev_mtu(const struct vhu_dev *dev);

/**
 * The MAC the frontend asked to announce with SEND_RARP (it does after a
 * live migration, on the destination), if any since the last call; the
 * request is consumed. libvhu announces it on its own as well: the next
 * vhu_dequeue_burst() of queue pair 0 starts with a RARP frame from that
 * MAC (see vhu_burst.h); this call is for applications that want to act
 * on the move at once (a switch moving the MAC in its table).
 *
 * @param dev the device.
 * @param[out] mac filled with the MAC (6 bytes) when one was pending.
 * @return true if a MAC was pending (mac filled); false if none was, or
 *   dev is NULL (mac untouched).
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
 *     beyond the build maximum (2 * max_queue_pairs data vrings and the
 *     control vring after them; st is not written);
 *   - -ENOENT: the frontend never set this vring up (st is not written).
 */
int vhu_dev_vring_stats(const struct vhu_dev *dev, uint16_t vring,
			struct vhu_vring_stats *st, size_t size);

/**
 * Reset the counters of one vring to zero. Waits for a burst in progress
 * on the vring to finish.
 *
 * @param dev the device.
 * @param vring the vring index (2*qp: receive queue, 2*qp+1: transmit).
 * @return 0 on success, or a negative errno value:
 *   - -EINVAL: dev NULL or vring beyond the build maximum;
 *   - -ENOENT: the frontend never set this vring up.
 */
int vhu_dev_vring_stats_reset(struct vhu_dev *dev, uint16_t vring);

/** @} */

/**
 * @name Interrupt mode and observability
 * Counters and wake-up latency for applications that sleep on kick fds;
 * the library's rte_telemetry endpoints (/vhu/sockets, /vhu/devices,
 * /vhu/device,ID, /vhu/vring,ID,N: doc/guide/telemetry.md) need no call:
 * vhu_init() registers them.
 * @{
 */

/**
 * Consume the kicks pending on a vring's kick eventfd
 * (vhu_vring_kick_fd(), vhu_burst.h), for an application in interrupt
 * mode, once its poll or epoll on that fd woke up: reads the eventfd
 * without blocking (so it is no longer readable), adds what it held to
 * the vring's `kicks` counter and stamps the time, so that the next burst
 * on the vring records the wake-up latency (`last_kick_latency_ns`,
 * struct vhu_vring_stats). Use it instead of reading the fd yourself,
 * which would leave both at 0.
 *
 * Not a burst: like vhu_vring_notify() (vhu_burst.h) it waits for a burst
 * in progress on the vring to finish, so call it from the lcore that
 * polls the vring, between its bursts.
 *
 * @param dev the device.
 * @param vring the vring index (2*qp: receive queue, 2*qp+1: transmit).
 * @return the number of kicks consumed (0: none was pending), or a
 *   negative errno value:
 *   - -EINVAL: dev NULL, vring beyond the build maximum, or the control
 *     vring (libvhu serves it: vhu.h, "Control virtqueue");
 *   - -ENODEV: the frontend has not set this vring up;
 *   - -ENOENT: the frontend gave no kick fd.
 */
int vhu_vring_kick_ack(struct vhu_dev *dev, uint16_t vring);

/** @} */

/**
 * @name Control virtqueue
 *
 * With VIRTIO_NET_F_CTRL_VQ negotiated, the frontend hands the guest's
 * control virtqueue (virtio 1.2 §5.1.6.5) to the backend: QEMU and
 * net_virtio_user keep it and never negotiate it; VDUSE-style frontends
 * and some VMMs do. Its vring index is 2 * max_queue_pairs when
 * VIRTIO_NET_F_MQ is negotiated (max_queue_pairs as GET_QUEUE_NUM reports
 * it, the socket's), and 2 without MQ: the spec's "controlq" after the
 * data queues the device offers. libvhu serves it on its own, in the
 * control context: when the guest kicks it (its kick eventfd is watched
 * by the control loop), when the device starts and after every message.
 * It is never a data vring: no burst reaches it and no
 * vring_state_changed reports it.
 *
 * Commands, each only with its feature negotiated: RX mode (CTRL_RX:
 * PROMISC, ALLMULTI; CTRL_RX_EXTRA: ALLUNI, NOMULTI, NOUNI, NOBCAST), MAC
 * TABLE_SET (CTRL_RX), MAC ADDR_SET (CTRL_MAC_ADDR), VLAN ADD/DEL
 * (CTRL_VLAN), MQ VQ_PAIRS_SET (MQ: 1 to the socket's pairs; the pairs
 * beyond are disabled as SET_VRING_ENABLE(0) would, and with MQ the
 * device starts with one, as the spec says), ANNOUNCE ACK
 * (GUEST_ANNOUNCE). Anything else, and any malformed command, is answered
 * VIRTIO_NET_ERR; a chain that breaks a ring rule or has no writable ack
 * byte breaks the control vring (vring_broken) and nothing else. None of
 * these bits is offered by default (vhu_socket_enable_features()).
 * @{
 */

/** Entries each MAC table of struct vhu_rx_filter holds at most; a
 * TABLE_SET with more in either table is answered VIRTIO_NET_ERR. */
#define VHU_RX_FILTER_MAX_MACS 64

/** A guest's receive filter and active queue pairs (vhu_dev_rx_filter()). */
struct vhu_rx_filter {
	bool rx_mode;    /**< CTRL_RX negotiated: the MAC rules below apply */
	bool vlan;       /**< CTRL_VLAN negotiated: the VLAN set applies */
	bool promisc;    /**< everything (the default: true) */
	bool allmulti;   /**< every multicast frame */
	bool alluni;     /**< every unicast frame */
	bool nomulti;    /**< no multicast frame */
	bool nouni;      /**< no unicast frame */
	bool nobcast;    /**< no broadcast frame */
	bool has_mac;    /**< mac is known (MAC ADDR_SET); without it
			      every unicast frame passes the MAC rules, as
			      the config-space MAC is the frontend's */
	uint8_t mac[6];  /**< the guest's primary MAC */
	uint16_t n_uc;   /**< entries in uc */
	uint16_t n_mc;   /**< entries in mc */
	uint16_t queue_pairs; /**< active queue pairs */
	uint32_t generation;  /**< bumps on every change */
	uint8_t uc[VHU_RX_FILTER_MAX_MACS][6]; /**< unicast table */
	uint8_t mc[VHU_RX_FILTER_MAX_MACS][6]; /**< multicast table */
	uint64_t vlans[4096 / 64]; /**< bit v set: VLAN id v added */
};

/**
 * A consistent snapshot of the guest's receive filter. Lock-free (a
 * sequence lock): safe from any thread, the data path included, and
 * never blocks the control context. Before any command, and for a guest
 * that did not negotiate CTRL_RX / CTRL_VLAN, the filter accepts every
 * frame; it returns to that state when the device is reset.
 *
 * @param dev the device.
 * @param[out] out the filter.
 * @return 0, or -EINVAL if dev or out is NULL.
 */
int vhu_dev_rx_filter(const struct vhu_dev *dev, struct vhu_rx_filter *out);

/**
 * Whether the guest asked to receive a frame: destination MAC against
 * the modes and tables (broadcast, multicast, unicast), and, with CTRL_VLAN,
 * an 802.1Q-tagged frame only for a VLAN it added (virtio 1.2 §5.1.6.5.3).
 * Promiscuous mode accepts everything. A frame shorter than an Ethernet
 * header is accepted (not the filter's business). Pure: any thread.
 *
 * @param f the filter (vhu_dev_rx_filter()).
 * @param frame the frame's first bytes (Ethernet header on).
 * @param len bytes at frame (18 are enough).
 * @return true to deliver, false to drop; true if f or frame is NULL.
 */
bool vhu_rx_filter_accept(const struct vhu_rx_filter *f, const void *frame,
			  uint32_t len);

/** @} */

/**
 * @name NUMA placement and set-up diagnostics
 * Where the guest's memory is, and set-up mistakes libvhu noticed. Each
 * diagnostic is also logged once, with its fix, and explained in
 * doc/guide/troubleshooting.md. These queries take no lock: they may be
 * called from any thread, the data path included.
 * @{
 */

/**
 * @name Diagnostic bits (vhu_dev_diag, vhu_socket_diag)
 * @{
 */
/** A memory region's fd could not be mapped shared (not a regular file,
 *  or mmap MAP_SHARED refused): guest memory must be shared and
 *  file-backed. The frontend's SET_MEM_TABLE / ADD_MEM_REG failed. */
#define VHU_DIAG_MEM_NOT_SHARED 0x1
/** When the device started (the guest's driver had run), the guest
 *  memory files held only zeros: the guest most likely writes a private
 *  copy (share=off) vhu cannot see. A heuristic, memfd / tmpfs backed
 *  guests of 64 MiB or more only; see troubleshooting.md. */
#define VHU_DIAG_MEM_INVISIBLE 0x2
/** SET_MEM_TABLE came with 8 regions, the most it carries, without protocol
 *  feature CONFIGURE_MEM_SLOTS: a guest with more regions will fail. */
#define VHU_DIAG_MEM_TABLE_FULL 0x4
/** ADD_MEM_REG was refused: every memory slot of the device is in use. */
#define VHU_DIAG_MEM_SLOTS_FULL 0x8
/** A vring was first polled from an lcore on another NUMA node than its
 *  guest memory (device only: see vhu_dev_vring_remote_polls()). */
#define VHU_DIAG_NUMA_REMOTE 0x10
/** @} */

/**
 * The host NUMA node of a device's guest memory: that of the memory
 * holding vring 0's descriptor ring, else of the region with the lowest
 * guest-physical address. Found when the device starts (new_device):
 * libvhu then moves the device's and its queues' own structures to that
 * node. Pages the guest has not touched yet are not faulted in to find it;
 * when none is present, the node the memory's policy binds it to counts
 * (QEMU host-nodes=N,policy=bind on a memfd).
 *
 * @param dev the device.
 * @return the node (>= 0), or -1 when unknown (not started, no NUMA
 *   support, memory not yet placed) or dev is NULL.
 */
int vhu_dev_numa_node(const struct vhu_dev *dev);

/**
 * The host NUMA node of one vring: that of the guest memory region
 * holding its descriptor ring, found when the device starts or the vring
 * comes up. An lcore polling the vring should be on this node.
 *
 * @param dev the device.
 * @param vring the vring index (2*qp: receive queue, 2*qp+1: transmit).
 * @return the node (>= 0), or -1 when unknown, the vring is not set up
 *   or out of range, or dev is NULL.
 */
int vhu_dev_vring_numa_node(const struct vhu_dev *dev, uint16_t vring);

/**
 * How many times a vring, since the frontend connected, was first polled
 * after a start from an lcore whose NUMA node (rte_lcore_to_socket_id())
 * differs from the vring's (vhu_dev_vring_numa_node()). Each such start
 * also logs one warning naming the lcore, both nodes and the fix. Only the
 * first burst after each start is checked; the data path pays one test of
 * a flag it reads anyway.
 *
 * @param dev the device.
 * @param vring the vring index (2*qp: receive queue, 2*qp+1: transmit).
 * @return the count; 0 if none, or if the node of either is unknown, the
 *   vring is not set up or out of range, or dev is NULL.
 */
uint64_t vhu_dev_vring_remote_polls(const struct vhu_dev *dev,
				    uint16_t vring);

/**
 * Set-up problems noticed on a device's connection.
 *
 * @param dev the device.
 * @return a mask of VHU_DIAG_* bits (0: none, or dev NULL).
 */
uint32_t vhu_dev_diag(const struct vhu_dev *dev);

/**
 * Set-up problems noticed on any connection a socket has had, sticky for
 * the socket's life, so that a device that never started (its handle
 * never reached the application) still shows. VHU_DIAG_NUMA_REMOTE is
 * per device only and never set here.
 *
 * @param s the socket.
 * @return a mask of VHU_DIAG_* bits (0: none, or s NULL).
 */
uint32_t vhu_socket_diag(const struct vhu_socket *s);

/** @} */

/**
 * @name Interrupt coalescing
 * For guests in interrupt mode (they leave VRING_AVAIL_F_NO_INTERRUPT
 * clear, or ask with EVENT_IDX or packed event suppression): libvhu makes
 * at most one call (an eventfd write on the vring's call fd, a guest
 * interrupt) per interval, or one per so many used buffers. Off by
 * default: every burst that the guest's wishes say should call, calls.
 *
 * A call coalescing holds back is never lost. It is made by:
 * - the burst that reaches the buffer count;
 * - the first burst on the vring, one that moves nothing included, once
 *   the interval has passed since the last call; with a buffer count and
 *   no interval, the first burst after one that moved nothing (the
 *   traffic paused);
 * - vhu_vring_flush_calls(), by the same rule, for a vring the
 *   application does not burst on for a while (a receive vring it has
 *   nothing more for, one it stops polling to sleep on the kick fd):
 *   call it until it returns other than -EAGAIN.
 * So the guest may wait up to the interval (or one more poll) for an
 * interrupt, never forever, as long as the application polls the vring
 * or flushes it. The guest's suppression is still obeyed: a call it did
 * not ask for is neither made nor held.
 *
 * Buffers are counted as the layouts publish them: used entries (split;
 * a mergeable frame over several buffers counts one per entry) or
 * descriptor slots (packed): a frame each in the common case.
 *
 * Lazy calls (VHU_SOCKET_LAZY_CALLS) are for polling guests, which never
 * want a call. Deciding whether to call costs a full memory fence after
 * every burst: it waits until all of the burst's stores have reached the
 * guest's core (12-15% of a 64-byte frame's cost between two CPUs). With
 * the flag, a vring whose driver suppressed calls at 64 checks in a row
 * (VRING_AVAIL_F_NO_INTERRUPT without EVENT_IDX, or the packed ring's
 * DISABLE) is decided without the fence. Such a decision can miss a
 * driver that turns calls on at that very moment, so it is owed: the next
 * burst that sees calls wanted makes the call, and
 * vhu_vring_flush_calls() settles it with the fence. Not used with
 * coalescing on the vring, nor with EVENT_IDX on a split ring.
 *
 * The same flag makes a calm split transmit vring's completions lazy: a
 * burst's used entries are published by the next burst, or once the ring
 * has been quiet for 20 microseconds (an empty burst notices), or by
 * vhu_vring_flush_calls(), or when the vring stops; at once again when
 * the guest turns calls on. A driver that reclaims its transmit buffers
 * all together once the ring is nearly all used (DPDK's virtio PMD) then
 * reclaims a burst at a time and keeps its mbufs in its mempool cache.
 * At most a quarter of the ring is held, never during dirty logging.
 * @{
 */

/**
 * Socket flag: lazy calls and lazy completions (see above). The
 * application promises to call vhu_vring_flush_calls() on every vring of
 * the socket's devices at least every millisecond or so, from any thread
 * (net_vhu does, from an EAL alarm): a guest that turns calls on as a
 * calm burst decides may otherwise wait for its interrupt, and a vring
 * the application stops polling would keep its last completions, until
 * the vring's next burst.
 */
#define VHU_SOCKET_LAZY_CALLS 0x400

/**
 * Set interrupt coalescing on a vring, or turn it off (both 0). The
 * setting lasts until the device is destroyed (set it again in
 * new_device); a call held when it changes is made at once.
 *
 * Not a burst: like vhu_vring_notify() (vhu_burst.h) it waits for a
 * burst in progress on the vring to finish.
 *
 * @param dev the device.
 * @param vring the vring index (2*qp: receive queue, 2*qp+1: transmit).
 * @param usecs at most one call per this many microseconds (0: no
 *   interval).
 * @param frames a call per this many used buffers at most (0: no count).
 * @return 0 on success, or a negative errno value:
 *   - -EINVAL: dev NULL, vring beyond the build maximum, or the control
 *     vring;
 *   - -ENODEV: the frontend has not set this vring up.
 */
int vhu_vring_set_coalesce(struct vhu_dev *dev, uint16_t vring,
			   uint32_t usecs, uint32_t frames);

/**
 * Make the call coalescing holds back on a vring, if it is due, and the
 * check a lazy-calls burst owes (see above). Like a burst it never waits
 * and takes no lock: call it from the lcore that polls the vring, or from
 * any thread (a burst in progress makes it return -EBUSY: that burst
 * checks a held call itself, an owed check waits for the next flush; a
 * burst that comes while it runs waits for it, a fence, a few loads and
 * stores and at most one eventfd write, rather than return 0 as for a
 * full ring: from another thread, call it no more often than the
 * interval, or about every millisecond for lazy calls).
 *
 * @param dev the device.
 * @param vring the vring index.
 * @return 1: a held or owed call was made; 0: none; or a negative
 *   errno value:
 *   - -EAGAIN: a call is held and not due yet: call again later;
 *   - -EBUSY: a burst or the control context holds the vring;
 *   - -EINVAL: dev NULL or vring beyond the build maximum;
 *   - -ENODEV: the frontend has not set this vring up.
 */
int vhu_vring_flush_calls(struct vhu_dev *dev, uint16_t vring);

/** @} */

/**
 * @name External and linear buffers
 * How vhu_dequeue_burst() returns a frame larger than the data room of
 * one mbuf of the pool it is given (a jumbo frame, or a 64 KiB
 * segmentation-offload frame). By default: as an mbuf chain. The two
 * socket flags below (struct vhu_socket_params.flags) change it for every
 * device of the socket, as DPDK's RTE_VHOST_USER_LINEARBUF_SUPPORT and
 * RTE_VHOST_USER_EXTBUF_SUPPORT do; frames that fit one mbuf are not
 * affected. Either way the frame is copied once, from guest memory
 * straight into the buffer the application receives.
 * @{
 */

/**
 * Never return a chain: a frame that does not fit one mbuf is dropped
 * (its guest buffer is consumed) and counted in the transmit vring's
 * drops_no_buf, unless VHU_SOCKET_EXTBUF holds it in one buffer.
 */
#define VHU_SOCKET_LINEARBUF 0x100
/**
 * Copy a frame that does not fit one mbuf into one external buffer of the
 * frame's size instead, attached to the mbuf (RTE_MBUF_F_EXTERNAL, one
 * segment, rte_pktmbuf_attach_extbuf()). libvhu allocates it with
 * rte_malloc_socket() on the mempool's socket, headroom
 * RTE_PKTMBUF_HEADROOM ahead of the frame and its
 * rte_mbuf_ext_shared_info at its end; freeing the mbuf (or its last
 * clone) frees it. An mbuf's segment holds at most 65535 bytes, headroom
 * included, so a frame above VHU_EXTBUF_MAX_FRAME, or one
 * whose buffer cannot be allocated, is returned as a chain, or with
 * VHU_SOCKET_LINEARBUF dropped and counted in drops_no_buf. An mbuf pool
 * whose mbufs carry pinned external buffers
 * (rte_pktmbuf_pool_create_extbuf) gets chains.
 */
#define VHU_SOCKET_EXTBUF 0x200
/**
 * The largest frame VHU_SOCKET_EXTBUF holds in one buffer: an mbuf's
 * buf_len is 16 bits (rounded down to 8 here, the alignment of the shared
 * info that follows), headroom included: 65400 bytes with DPDK's default
 * RTE_PKTMBUF_HEADROOM of 128 (rte_mbuf.h gives it).
 */
#define VHU_EXTBUF_MAX_FRAME (65528 - RTE_PKTMBUF_HEADROOM)

/** @} */

#ifdef __cplusplus
}
#endif
#endif /* VHU_H */
