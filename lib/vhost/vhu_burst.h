/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * libvhu data API: move packets between rte_mbufs and a device's
 * virtqueues. These calls are meant for polling lcores: they never take a
 * lock, never wait for another thread and never allocate from the heap
 * (dequeue takes mbufs from the caller's mempool).
 *
 * **Queues and state.** A call returns 0 when the device or queue is not
 * running (not yet ready, being reconfigured by the frontend, disabled,
 * broken, or gone); the caller simply polls again later. One queue pair
 * may be used by one lcore at a time per direction; different queues may
 * be used concurrently. A second lcore entering a queue that is in use
 * (or one the control context is reconfiguring) gets 0, not a race.
 *
 * **Burst cap.** One call moves at most VHU_BURST_MAX packets through the
 * ring (vhu_config.h; meson option `burst_max`, default 64), whatever
 * count asks for; ask again for the rest. The only extra packet is the
 * RARP announcement of vhu_dequeue_burst(), which comes on top of the
 * ring's packets but never beyond count. The cap bounds the time a call
 * holds its queue, and so how long a control-side reconfiguration of that
 * queue waits.
 *
 * **System calls.** A burst makes none on its normal path except, at most
 * once per call, the write to the vring's *call* eventfd (SET_VRING_CALL)
 * when the guest asked to be notified (no VRING_AVAIL_F_NO_INTERRUPT,
 * EVENT_IDX, or packed event suppression) and the frontend gave one.
 * The exceptions:
 * - **The guest broke the ring** (vhu_ops.vring_broken): the burst that
 *   finds it writes the vring's *error* eventfd (SET_VRING_ERR), if the
 *   frontend gave one, and the eventfd that wakes libvhu's control context,
 *   and may write one error log line (rte_log; at most one per second per
 *   queue). This happens once per breakage: the queue then stays stopped.
 * - **IOTLB miss** (VHU_SOCKET_IOMMU negotiated): an address the IOTLB
 *   lacks makes the burst send one IOTLB_MSG miss request to the frontend
 *   over the backend channel (send() with MSG_DONTWAIT: it never waits for
 *   room nor for the reply). The burst stops before that buffer and
 *   returns what it moved so far. One request is outstanding per queue
 *   until the IOTLB changes; if the channel was full, a later call (even
 *   on a queue that is otherwise not running) tries once more.
 * - **Postcopy live migration** (VHU_SOCKET_POSTCOPY negotiated, on the
 *   destination): no system call, but touching guest memory that has not
 *   arrived yet takes a page fault that sleeps until the frontend has
 *   placed the page, typically one network round trip.
 * - Builds with meson option `data_debug` log on the data path.
 */
#ifndef VHU_BURST_H
#define VHU_BURST_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "vhu.h"
#include "vhu_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Copy packets into the guest's receive queue of queue pair qp
 * (vring 2*qp). Multi-segment mbufs are supported; with MRG_RXBUF a frame
 * may span several guest buffers. Packets are placed in order; the first
 * one that does not fit (guest ring full, or without MRG_RXBUF a buffer
 * too small) ends the call and counts with the rest in the vring's
 * drops_no_buf counter (per call: frames offered again count again); the
 * call itself counts once in enqueue_full.
 *
 * The caller keeps ownership of every mbuf: free them all afterwards,
 * placed or not (libvhu copies the data and keeps no reference).
 *
 * **Offloads** (doc/guide/offloads.md). A packet's offload metadata is
 * honoured in either of DPDK's conventions: transmit requests
 * (RTE_MBUF_F_TX_TCP_SEG / RTE_MBUF_F_TX_UDP_SEG with tso_segsz,
 * RTE_MBUF_F_TX_TCP_CKSUM / RTE_MBUF_F_TX_UDP_CKSUM, RTE_MBUF_F_TX_IP_CKSUM)
 * or receive results (RTE_MBUF_F_RX_LRO with tso_segsz,
 * RTE_MBUF_F_RX_L4_CKSUM_NONE for a partial checksum,
 * RTE_MBUF_F_RX_L4_CKSUM_GOOD). What the guest negotiated goes into the
 * virtio-net header (NEEDS_CSUM, DATA_VALID, GSO type and size); what it
 * did not is done in software: checksums completed, segmentation-offload
 * frames cut into tso_segsz-sized frames with their own headers, each
 * placed in its own buffer(s). Checksums are completed in the packet's
 * own data when only the caller references it (direct mbufs, refcnt 1),
 * as a NIC driver's transmit preparation does, and its ol_flags then say
 * so (RTE_MBUF_F_RX_L4_CKSUM_GOOD, no transmit checksum request), so the
 * same packet may still go to another port; otherwise, and for
 * segments, libvhu copies into mbufs from the packet's own mempool
 * (m->pool) and frees them before returning. A frame the guest could not
 * take (longer than its MTU and not a GSO frame, or needing a copy when
 * the pool is dry) is dropped and counted (drops_mtu, drops_no_buf) but
 * counts as placed: only a full guest ring ends the call early.
 *
 * @param dev the device, as given by vhu_ops.new_device.
 * @param qp the queue pair.
 * @param pkts the packets to send to the guest.
 * @param count the number of packets in pkts.
 * @return how many packets, from the start of pkts, were placed: at most
 *   min(count, VHU_BURST_MAX). 0 also when dev is NULL, pkts is NULL, qp
 *   is out of range or the queue is not running (see above); this call
 *   has no error codes.
 */
uint16_t vhu_enqueue_burst(struct vhu_dev *dev, uint16_t qp,
			   struct rte_mbuf **pkts, uint16_t count);

/**
 * Take packets the guest sent on queue pair qp (vring 2*qp+1) into mbufs
 * allocated from mp; frames larger than one mbuf's data room are returned
 * as chains, or as configured by the socket flags VHU_SOCKET_LINEARBUF and
 * VHU_SOCKET_EXTBUF (vhu.h, "External and linear buffers"): in one
 * external buffer each, or dropped. When mp runs dry the call returns what it has; the guest's
 * other packets stay in its ring for the next call.
 *
 * With VIRTIO_NET_F_CSUM or HOST_TSO4/6/USO negotiated, the guest's
 * virtio-net header is read once, validated and turned into mbuf metadata
 * (vhu.h, VHU_SOCKET_LEGACY_OL_FLAGS, says which convention); packet_type,
 * l2_len, l3_len and l4_len are set for any frame that asked for an
 * offload. A frame whose header asks for something impossible (checksum
 * position outside the frame, GSO type not negotiated or not matching the
 * frame, gso_size 0) is dropped and counted (drops_bad_hdr); a partial
 * checksum vhu cannot describe in the mbuf (not TCP or UDP behind IP) is
 * completed in software.
 *
 * After the frontend asked to announce the guest (SEND_RARP, at the end of
 * a live migration), the next call on queue pair 0 returns first a RARP
 * frame (ethertype 0x8035, broadcast, from the guest's MAC) built by
 * libvhu, as if the guest had sent it, so that the network learns where
 * the guest is now before the guest speaks.
 *
 * @param dev the device, as given by vhu_ops.new_device.
 * @param qp the queue pair.
 * @param mp the mempool the mbufs are taken from.
 * @param[out] pkts where the mbufs are stored, room for count.
 * @param count the most mbufs to return.
 * @return how many mbufs were stored in pkts (the caller owns them): at
 *   most min(count, VHU_BURST_MAX), or min(count, VHU_BURST_MAX + 1) on
 *   the call that also returns the RARP frame. 0 also when dev, mp or
 *   pkts is NULL, qp is out of range or the queue is not running; this
 *   call has no error codes.
 */
uint16_t vhu_dequeue_burst(struct vhu_dev *dev, uint16_t qp,
			   struct rte_mempool *mp, struct rte_mbuf **pkts,
			   uint16_t count);

/**
 * Ask the guest to notify (kick) on a vring when it adds buffers, or stop
 * asking. Off by default: a polling backend does not want kicks. An
 * application that sleeps on vhu_vring_kick_fd() turns it on before it
 * sleeps and off after it wakes; after turning it on, it polls once more
 * before sleeping, since a buffer the guest added before it saw the
 * request is not kicked.
 *
 * Not a burst: it waits for a burst in progress on the vring to finish,
 * so call it from the lcore that polls the vring, between its bursts, or
 * from a thread that does not hold that lcore up.
 *
 * @param dev the device.
 * @param vring the vring index (2*qp: receive queue, 2*qp+1: transmit).
 * @param enable true to ask for kicks, false to stop.
 * @return 0 on success, or a negative errno value:
 *   - -EINVAL: dev NULL, vring beyond the build maximum, or the control
 *     vring (libvhu serves it: vhu.h, "Control virtqueue");
 *   - -ENODEV: the frontend has not set this vring up.
 */
int vhu_vring_notify(struct vhu_dev *dev, uint16_t vring, bool enable);

/**
 * The kick eventfd of a vring: readable when the guest notifies (after
 * vhu_vring_notify() turned kicks on). Owned by libvhu: do not close it;
 * valid until the next destroy_device or vring_state_changed callback for
 * this vring.
 *
 * @param dev the device.
 * @param vring the vring index (2*qp: receive queue, 2*qp+1: transmit).
 * @return the fd (>= 0), or a negative errno value:
 *   - -EINVAL: dev NULL or vring beyond the build maximum;
 *   - -ENODEV: the frontend has not set this vring up;
 *   - -ENOENT: the frontend gave no kick fd (it polls, or will send one).
 */
int vhu_vring_kick_fd(const struct vhu_dev *dev, uint16_t vring);

/**
 * Complete in software the L4 checksum vhu_dequeue_burst() left partial
 * (RTE_MBUF_F_RX_L4_CKSUM_NONE, the default flag convention), for an
 * application that does not take partial checksums (an ethdev port
 * without RTE_ETH_RX_OFFLOAD_TCP_CKSUM / _UDP_CKSUM). The checksum is
 * written into the packet and the flag becomes RTE_MBUF_F_RX_L4_CKSUM_GOOD.
 * A packet without that flag is left alone.
 *
 * @param m a packet returned by vhu_dequeue_burst(), which it must still
 *   be the only user of.
 * @return 0 (done, or nothing to do), or -EINVAL if m is NULL or its
 *   headers (parsed again, whatever l2_len / l3_len say) are not TCP or
 *   UDP over IPv4 or IPv6 inside the packet.
 */
int vhu_pkt_finish_cksum(struct rte_mbuf *m);


/*
 * Guest addresses: an application's own zero-copy paths.
 */

/** vhu_vring_gpa_to_hva(): the device will read the bytes. */
#define VHU_GPA_READ  0x1
/** vhu_vring_gpa_to_hva(): the device will write the bytes. */
#define VHU_GPA_WRITE 0x2
/**
 * vhu_vring_gpa_to_hva(): with the vIOMMU, an IOVA the IOTLB lacks makes
 * libvhu ask the frontend for it, as a burst does (one request
 * outstanding per vring, shared with the bursts; see "IOTLB miss" above).
 */
#define VHU_GPA_MISS  0x4

/**
 * Open a guest-address window on a vring: until vhu_vring_mem_leave(),
 * vhu_vring_gpa_to_hva() translates guest addresses for this device and
 * the pointers it returns stay valid.
 *
 * **Why a window.** The frontend may replace guest memory at any time
 * (SET_MEM_TABLE, ADD_MEM_REG / REM_MEM_REG, IOTLB updates and
 * invalidations, disconnect); libvhu's control context makes each such
 * change only after it has taken every vring of the device away from the
 * data path (doc/guide/threading.md, "The quiesce scheme"). The window
 * takes the vring exactly as a burst does, so the control context waits
 * for vhu_vring_mem_leave() as it waits for the end of a burst: nothing
 * the window translated is unmapped, remapped or, with the vIOMMU,
 * invalidated before the window closes. A translation is therefore safe
 * by construction, not by timing; its pointer is NOT valid after leave
 * (the next change may happen at once), nor across windows. Keep the
 * addresses, not the pointers, and translate again in the next window.
 *
 * **Rules.** The window is a burst the application stretches:
 * - call it on the lcore that polls the vring, between its bursts (a
 *   burst on the same vring during the window returns 0), one window per
 *   vring at a time;
 * - keep it as short as a burst: every change the frontend makes to this
 *   device, and the whole control context with it (all devices), waits
 *   while a window is open;
 * - inside the window call only vhu_vring_gpa_to_hva(),
 *   vhu_vring_log_write() and bursts on other vrings: any other libvhu
 *   call (vhu_vring_notify(), the control API, anything that takes the
 *   control lock) can wait for the control context, which may be waiting
 *   for this window: a deadlock;
 * - any vring of the device works (the memory table is the device's);
 *   the vring's own IOTLB views are used, which are the device's.
 *
 * Like a burst it never blocks, takes no lock and makes no system call
 * (but for a retried IOTLB miss of the vring's own rings, as a burst).
 *
 * @param dev the device, as given by vhu_ops.new_device.
 * @param vring the vring index (2*qp: receive queue, 2*qp+1: transmit).
 * @return 0: the window is open, close it with vhu_vring_mem_leave();
 *   or a negative errno value, and no window:
 *   - -EINVAL: dev NULL or vring beyond the build maximum;
 *   - -ENODEV: the frontend has not set this vring up;
 *   - -EBUSY: a burst or another window holds the vring, or the control
 *     context is changing it: try again later, as a burst returning 0;
 *   - -EAGAIN: the vring is not running (not started, disabled, broken,
 *     the control vring, or waiting for its ring's IOTLB entry).
 */
int vhu_vring_mem_enter(struct vhu_dev *dev, uint16_t vring);

/**
 * Close the window vhu_vring_mem_enter() opened: every pointer it
 * translated becomes invalid, and a change the control context was
 * waiting to make proceeds. Does nothing unless the vring is held by a
 * data-path caller (so a stray call cannot release the control context's
 * hold); calling it for a window one does not hold is a bug.
 *
 * @param dev the device.
 * @param vring the vring given to vhu_vring_mem_enter().
 */
void vhu_vring_mem_leave(struct vhu_dev *dev, uint16_t vring);

/**
 * Translate a guest address to a pointer in this process, inside a window
 * (vhu_vring_mem_enter()). The pointer is valid until
 * vhu_vring_mem_leave().
 *
 * The address is what the guest's driver puts in descriptors: a
 * guest-physical address, or with VIRTIO_F_ACCESS_PLATFORM negotiated
 * (vIOMMU, vhu_dev_features()) an I/O virtual address, translated
 * through the device IOTLB with its permissions. Memory contiguous in the
 * guest need not be in this process: the result covers the bytes up to
 * the end of one memory region (or IOTLB entry); to reach further, call
 * again at addr + *len.
 *
 * @param dev the device.
 * @param vring the vring whose window is open.
 * @param addr guest-physical address, or IOVA (see above).
 * @param[in,out] len in: bytes wanted (> 0); out: bytes contiguous at the
 *   returned pointer, at most the bytes wanted; 0 when NULL is returned.
 * @param perm VHU_GPA_READ, VHU_GPA_WRITE or both: how the application
 *   will access the bytes. Without the vIOMMU all guest memory may be
 *   read and written; with it, the IOTLB entry must grant that access
 *   (both: the range both grant). Optionally | VHU_GPA_MISS.
 * @return the host address of addr, or NULL: len NULL or 0, perm
 *   invalid, no window open on the vring, or addr not mapped (not in any
 *   region; with the vIOMMU, not in the IOTLB with perm: with
 *   VHU_GPA_MISS a miss request was sent, translate again in a later
 *   window once the frontend answered). A guest that gave an address it
 *   has no memory at is a guest bug: treat it as a broken request.
 */
void *vhu_vring_gpa_to_hva(struct vhu_dev *dev, uint16_t vring,
			   uint64_t addr, uint64_t *len, int perm);

/**
 * Mark guest memory the application wrote through a window as dirty, for
 * live migration, inside the same window and after the writes. With
 * VHOST_F_LOG_ALL negotiated and a log given (the frontend is migrating
 * the guest), a page written without this is not copied again and the
 * guest finds the old bytes at the destination. Otherwise it does
 * nothing, so call it after every write; the cost is one test.
 *
 * addr is the same guest-physical address given to
 * vhu_vring_gpa_to_hva() (a range may span regions); with the vIOMMU
 * there is nothing to mark, libvhu refuses LOG_ALL together with it.
 *
 * @param dev the device.
 * @param vring the vring whose window is open.
 * @param addr guest-physical address of the first byte written.
 * @param len bytes written.
 * @return 0, or -EINVAL when no window is open on the vring.
 */
int vhu_vring_log_write(struct vhu_dev *dev, uint16_t vring, uint64_t addr,
			uint64_t len);

/** Where a vring lives in guest memory: see vhu_vring_addrs(). */
struct vhu_vring_addrs {
	/*
	 * Guest addresses (IOVAs with the vIOMMU) of the three ring parts,
	 * to translate with vhu_vring_gpa_to_hva().
	 */
	/** Split (virtio 1.2 §2.7): the descriptor table; packed (§2.8):
	 *  the descriptor ring. */
	uint64_t desc;
	/** Split: the driver area (avail ring); packed: the driver event
	 *  suppression structure. */
	uint64_t driver;
	/** Split: the device area (used ring); packed: the device event
	 *  suppression structure. */
	uint64_t device;
	uint16_t size;       /**< descriptors in the ring */
	bool packed;         /**< VIRTIO_F_RING_PACKED negotiated */
	/**
	 * Split: the next avail index libvhu will take (free-running, 16
	 * bits); the guest's avail->idx minus it is what the next
	 * vhu_dequeue_burst() / vhu_enqueue_burst() on the vring may use.
	 * Packed: the next descriptor slot.
	 */
	uint16_t next_avail;
	bool next_avail_wrap; /**< packed: the wrap counter at next_avail */
	uint16_t hdr_len;     /**< virtio-net header bytes before a frame */
};

/**
 * Where a vring's rings are, and where libvhu is in it, inside a window
 * (vhu_vring_mem_enter()): for an application that reads what the guest
 * posted in place, e.g. looks at frames before vhu_dequeue_burst() takes
 * them (examples/gpa-peek). Valid until vhu_vring_mem_leave(): the
 * frontend may move the rings (SET_VRING_ADDR after a stop) once the
 * window is left. Everything read through the addresses comes from the
 * guest: check every index and length before use, as libvhu does.
 *
 * @param dev the device.
 * @param vring the vring whose window is open.
 * @param[out] out filled on success.
 * @return 0, -EINVAL (no window open on the vring, out NULL) or -EFAULT
 *   (a ring address is in no memory region, which cannot happen for a
 *   running vring).
 */
int vhu_vring_addrs(struct vhu_dev *dev, uint16_t vring,
		    struct vhu_vring_addrs *out);

/*
 * Asynchronous enqueue: copies on a DMA engine (rte_dmadev).
 */

/** vhu_async_bind(): the direction whose copies go to the channel. */
enum vhu_async_dir {
	/** vhu_enqueue_submit_burst(): mbufs into the guest's receive ring */
	VHU_ASYNC_ENQUEUE = 0,
	/** vhu_dequeue_submit_burst(): the guest's transmit ring into mbufs */
	VHU_ASYNC_DEQUEUE = 1,
};

/** Tuning of an asynchronous binding; all zero means the defaults. */
struct vhu_async_params {
	/**
	 * Frames shorter than this many bytes (pkt_len) are copied by the
	 * calling core at submit, not by the engine: for small frames the
	 * descriptor costs more than the copy. 0: VHU_ASYNC_THRESHOLD_DEFAULT;
	 * UINT32_MAX: every frame by the core (a test setting).
	 */
	uint32_t copy_threshold;
	/**
	 * Frames libvhu may hold at once (submitted and not yet returned by
	 * vhu_enqueue_poll_completed()), rounded up to a power of two.
	 * 0: VHU_ASYNC_INFLIGHT_DEFAULT; at most 32768.
	 */
	uint16_t max_inflight;
};

/**
 * Default copy_threshold: 256 bytes, not measured here (no DMA hardware
 * on the machines vhu is developed on); the figure DPDK's own vhost
 * async examples use as the point where a CPU copy stops being cheaper.
 */
#define VHU_ASYNC_THRESHOLD_DEFAULT 256
/** Default max_inflight (frames). */
#define VHU_ASYNC_INFLIGHT_DEFAULT 512

/**
 * Bind a DMA channel to one direction of queue pair qp: from now on
 * vhu_enqueue_submit_burst() hands the payload copies of that queue to
 * the channel and vhu_enqueue_poll_completed() publishes them to the
 * guest once the engine has finished (for VHU_ASYNC_DEQUEUE:
 * vhu_dequeue_submit_burst() and vhu_dequeue_poll_completed(), likewise;
 * vhu_dequeue_burst() then waits for the frames in flight). vhu_enqueue_burst() keeps working
 * on the queue only while nothing is in flight (it returns 0 otherwise,
 * as for a queue in use): use one API or the other on a queue.
 *
 * **Design.** Submit reserves the guest's buffers in ring order (the
 * avail index advances), writes each virtio-net header with the core,
 * copies frames below copy_threshold with the core, and enqueues every
 * other payload piece on the channel (one rte_dma_copy per contiguous
 * piece, one rte_dma_submit per call). Poll reads the channel's
 * completions (rte_dma_completed_status), marks the guest pages they
 * wrote in the dirty log (live migration), and publishes the used
 * entries of the frames that are complete, in ring order: a frame whose
 * copies are done waits for every frame before it, whatever order the
 * engine finished in. Only then are the frames' mbufs handed back. A copy
 * the engine refuses (ring full) or reports failed is done by the core
 * (counted in dma_fallbacks): no frame is lost or published unwritten.
 *
 * **The channel.** dma_id/vchan must be configured and started by the
 * application (rte_dma_configure, rte_dma_vchan_setup with
 * RTE_DMA_DIR_MEM_TO_MEM, rte_dma_start) and used by nothing else while
 * bound: libvhu reads every completion of the vchan as its own. It must
 * stay started until vhu_async_unbind() returns (or vhu_fini()).
 * Addresses are given to the engine as virtual addresses: EAL must run
 * in IOVA-as-VA mode (--iova-mode=va; the default without hugepages), and
 * a hardware engine behind an IOMMU must be able to reach the guest's
 * memory (libvhu does not map it into the engine's IOMMU domain; a
 * software engine such as dma_skeleton needs nothing).
 *
 * **Lifetime.** A binding belongs to the queue, not to one connection of
 * the frontend: it survives destroy_device / new_device of the same
 * device handle, until vhu_async_unbind() or vhu_fini(). Whenever the
 * frontend takes the ring away (GET_VRING_BASE, memory table change,
 * disconnect, reset), libvhu first waits for the copies in flight
 * (polling the channel from the control context, for as long as the
 * engine takes: an engine slower than VHU_ASYNC_DRAIN_MS is logged, and
 * again every ten times that) and publishes them, so nothing is written
 * into memory the frontend unmaps; their mbufs wait for the next
 * vhu_enqueue_poll_completed(), which returns them even when the queue is
 * no longer running. The natural places to bind are new_device or
 * vring_state_changed.
 *
 * **Threads.** A control call: it holds the queue as the control context
 * does (it waits for a burst in progress), so call it from the control
 * context (callbacks included) or from a thread that does not hold up the
 * queue's lcore, never from inside a burst or a guest-address window.
 *
 * @param dev the device.
 * @param qp the queue pair.
 * @param dir VHU_ASYNC_ENQUEUE (the guest's receive vring 2*qp) or
 *   VHU_ASYNC_DEQUEUE (its transmit vring 2*qp+1: see
 *   vhu_dequeue_submit_burst()).
 * @param dma_id the rte_dmadev device.
 * @param vchan its virtual channel.
 * @param params tuning, or NULL for the defaults.
 * @return 0, or a negative errno value:
 *   - -EINVAL: dev NULL, qp out of range, dma_id not a valid device,
 *     vchan beyond its channels, or params out of range;
 *   - -ENODEV: the frontend has not set this queue up;
 *   - -ENOTSUP: EAL is not in IOVA-as-VA mode;
 *   - -EBUSY: the queue already has a channel, or the channel is bound to
 *     another queue;
 *   - -ENOMEM: no memory for the binding's tables.
 */
int vhu_async_bind(struct vhu_dev *dev, uint16_t qp, enum vhu_async_dir dir,
		   int16_t dma_id, uint16_t vchan,
		   const struct vhu_async_params *params);

/** How long the drain of a stopping queue waits before it logs a slow engine. */
#define VHU_ASYNC_DRAIN_MS 1000

/**
 * Unbind the channel of one direction of queue pair qp: waits for the
 * copies in flight (as a stopping queue does), publishes them, and frees
 * the mbufs libvhu still holds (submitted and not yet returned by
 * vhu_enqueue_poll_completed(): their frames were delivered). Afterwards
 * the channel is the application's again. Same threading rules as
 * vhu_async_bind().
 *
 * @param dev the device.
 * @param qp the queue pair.
 * @param dir the direction given to vhu_async_bind().
 * @return 0, or a negative errno value:
 *   - -EINVAL: dev NULL or qp out of range;
 *   - -ENODEV: the queue does not exist;
 *   - -ENOENT: no channel bound to it;
 *   - -ETIMEDOUT: copies still in flight after the drain (not returned
 *     by this version, whose drain waits for every copy; kept so that
 *     callers handle it).
 */
int vhu_async_unbind(struct vhu_dev *dev, uint16_t qp, enum vhu_async_dir dir);

/**
 * Submit packets for the guest's receive queue of queue pair qp, whose
 * enqueue direction is bound to a DMA channel (vhu_async_bind()).
 * Guest buffers are taken, headers written and copies started; the
 * guest sees nothing until vhu_enqueue_poll_completed() publishes them.
 *
 * **Ownership.** Unlike vhu_enqueue_burst(), the packets accepted (the
 * first n of pkts) now belong to libvhu until
 * vhu_enqueue_poll_completed() hands them back: do not free or modify
 * them. The rest stay the caller's.
 *
 * Split and packed rings, mergeable buffers and chained mbufs are all
 * served. A burst with a frame that needs the software offload stage
 * (checksum completion, segmentation, MTU drop: see vhu_enqueue_burst())
 * is copied by the core in vhu_enqueue_burst()'s way, which publishes at
 * once: possible only when nothing of the queue is in flight, so such a
 * burst is accepted only then (0 otherwise: poll and submit again). Its
 * frames still come back through vhu_enqueue_poll_completed(), in order.
 *
 * Same rules as vhu_enqueue_burst() otherwise: one lcore per queue at a
 * time (submit and poll included), no lock, no wait, at most
 * VHU_BURST_MAX packets per call; the guest is called at poll, not here.
 *
 * @param dev the device.
 * @param qp the queue pair.
 * @param pkts the packets.
 * @param count the number of packets in pkts.
 * @return how many packets, from the start of pkts, were accepted: fewer
 *   than count when the guest ring is full (counted as in
 *   vhu_enqueue_burst()) or libvhu holds max_inflight frames already. 0
 *   also when no channel is bound or the queue is not running.
 */
uint16_t vhu_enqueue_submit_burst(struct vhu_dev *dev, uint16_t qp,
				  struct rte_mbuf **pkts, uint16_t count);

/**
 * Collect the copies the engine finished on queue pair qp, publish the
 * frames that are complete, in ring order, to the guest (one used index
 * store and at most one call), and return their mbufs.
 *
 * @param dev the device.
 * @param qp the queue pair.
 * @param[out] pkts where the mbufs are stored, in submission order; the
 *   caller owns them again (free them, or send them elsewhere).
 * @param count room in pkts.
 * @return how many mbufs were stored (at most count). 0 also when dev or
 *   pkts is NULL, no channel is bound, or a burst holds the queue.
 */
uint16_t vhu_enqueue_poll_completed(struct vhu_dev *dev, uint16_t qp,
				    struct rte_mbuf **pkts, uint16_t count);

/**
 * Take the guest's transmit chains on queue pair qp, whose dequeue
 * direction is bound to a DMA channel (vhu_async_bind() with
 * VHU_ASYNC_DEQUEUE): each chain is checked as vhu_dequeue_burst() checks
 * it, gets an mbuf chain from mp of its frame's length, and its bytes are
 * copied by the core (frames below copy_threshold) or queued on the
 * engine. The guest gets its buffers back, in ring order, and the caller
 * gets the mbufs, from vhu_dequeue_poll_completed().
 *
 * Split and packed rings alike: the guest's buffers go back in ring order
 * only once their frame's copies (and those of every frame before it)
 * finished; a queue that stops (vhu_async_unbind(), GET_VRING_BASE,
 * disconnect) drains first. A frame the guest made empty or larger than
 * 64 KiB is dropped and counted (desc_errors); a dry mempool ends the
 * call (the chain stays for the next). Same threading rules as
 * vhu_enqueue_submit_burst().
 *
 * @param dev the device.
 * @param qp the queue pair.
 * @param mp the mempool the mbufs are taken from (also the RARP frame's,
 *   see vhu_dequeue_poll_completed()).
 * @param count the most chains to take (at most VHU_BURST_MAX per call).
 * @return chains taken (dropped ones included). 0 also when no dequeue
 *   channel is bound or the queue is not running.
 */
uint16_t vhu_dequeue_submit_burst(struct vhu_dev *dev, uint16_t qp,
				  struct rte_mempool *mp, uint16_t count);

/**
 * Collect the copies the engine finished on queue pair qp's transmit
 * vring, give the guest back the buffers of the frames that are complete,
 * in ring order, and return those frames' mbufs (the virtio-net header
 * turned into mbuf metadata as vhu_dequeue_burst() does). After the
 * frontend asked to announce the guest (SEND_RARP), the first call
 * returns the RARP frame first, from the mempool of the last submit.
 *
 * @param dev the device.
 * @param qp the queue pair.
 * @param[out] pkts where the mbufs are stored; the caller owns them.
 * @param count room in pkts.
 * @return how many mbufs were stored. 0 also when no dequeue channel is
 *   bound or a call holds the queue.
 */
uint16_t vhu_dequeue_poll_completed(struct vhu_dev *dev, uint16_t qp,
				    struct rte_mbuf **pkts, uint16_t count);

/**
 * How many packets of one direction of qp libvhu holds: submitted and not
 * yet returned by vhu_enqueue_poll_completed() or
 * vhu_dequeue_poll_completed() (copies in flight, or done and waiting).
 * Any thread, but not concurrently with vhu_async_unbind() of the same
 * queue (the binding it reads is freed there); the value may be stale by
 * the time it is read unless the queue's lcore is the caller.
 *
 * @param dev the device.
 * @param qp the queue pair.
 * @param dir the direction.
 * @return the count (>= 0), or a negative errno value: -EINVAL (dev NULL,
 *   qp out of range), -ENODEV (no such queue), -ENOENT (no channel bound).
 */
int vhu_async_inflight(const struct vhu_dev *dev, uint16_t qp,
		       enum vhu_async_dir dir);

#ifdef __cplusplus
}
#endif
#endif /* VHU_BURST_H */
