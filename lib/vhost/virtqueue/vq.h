/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtqueue object: ring pointers and indexes the data path uses every
 * burst (first cache lines), and the configuration the protocol layer sets
 * (after them). The protocol layer changes a queue only between
 * vhu_vq_quiesce() and vhu_vq_resume(); it never touches ring memory.
 *
 * Quiesce scheme. Each queue has one atomic access word:
 *   VHU_VQ_FREE    nobody inside;
 *   VHU_VQ_DATA    a data-path call is inside (one at a time);
 *   VHU_VQ_CONTROL the control context holds the queue;
 *   VHU_VQ_FLUSH   vhu_vring_flush_calls() is inside, from any thread.
 * A burst enters with one compare-and-swap FREE -> DATA (acquire, A1) and
 * leaves with a release store of FREE (R1). The control context spins on
 * FREE -> CONTROL (acquire, A2, pairs with R1: it sees every ring index
 * and stat the last burst wrote), edits, then vhu_vq_resume() recomputes
 * the derived state and stores FREE (release, R2, pairs with A1: the next
 * burst sees the new memory table, ring pointers and ready flag).
 * A burst that finds the word not FREE returns 0 at once: it never waits
 * for the control context, which waits at most one burst. A flush is the
 * exception: it may come from another thread at any time (the PMD's
 * alarm), and a burst that returned 0 for it would look like a full ring
 * to the application, which drops the frames (dpdk-testpmd's io
 * forwarding does). So a burst waits for a flush, which is a few loads
 * and stores and at most one eventfd write; a flush that finds the word
 * not FREE returns -EBUSY (the holder checks the held call itself). Unmapping guest memory,
 * closing eventfds and GET_VRING_BASE all happen while holding CONTROL.
 */
#ifndef VHU_VQ_H
#define VHU_VQ_H

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/vhost_types.h>
#include <linux/virtio_ring.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "vhu.h"
#include "vhu_config.h"
#include "vhu_atomic.h"
#include "guest_mem.h"
#include "dirty_log.h"

enum {
	VHU_VQ_FREE = 0,
	VHU_VQ_DATA = 1,
	VHU_VQ_CONTROL = 2,
	VHU_VQ_FLUSH = 3,
};

/* vq->flags: per-queue copies of negotiated features, set by resume() */
#define VHU_VQ_F_MRG_RXBUF  0x01
#define VHU_VQ_F_EVENT_IDX  0x02
#define VHU_VQ_F_INDIRECT   0x04
#define VHU_VQ_F_LOG        0x08 /* LOG_ALL negotiated and a log installed */
#define VHU_VQ_F_LOG_USED   0x10 /* ring addr flag VHOST_VRING_F_LOG */
#define VHU_VQ_F_NOTIFY     0x20 /* app wants guest kicks (vhu_vring_notify) */
#define VHU_VQ_F_PACKED     0x40 /* VIRTIO_F_RING_PACKED: packed.c serves it */
#define VHU_VQ_F_IOMMU      0x80 /* addresses are IOVAs: no translation = miss */
#define VHU_VQ_F_IN_ORDER   0x100 /* VIRTIO_F_IN_ORDER: batched transmit used */
/*
 * Offloads (doc/guide/offloads.md). Transmit vring: the guest may ask for
 * any (CSUM or HOST_TSO4/6/USO negotiated), so its virtio-net headers are
 * kept and read (offload.c). Receive vring: GUEST_CSUM negotiated, so the
 * headers written may carry offloads (net_hdr.c).
 */
#define VHU_VQ_F_NET_OL     0x200
#define VHU_VQ_F_LEGACY_OL  0x400 /* VHU_SOCKET_LEGACY_OL_FLAGS: TX mbuf flags */
/*
 * Not a data vring: the virtio-net control vring (or the spare slot after
 * the data vrings). ready stays false, so no burst ever walks it; the
 * control context serves it (ctrl.c) while it holds the queue.
 */
#define VHU_VQ_F_CTRL       0x800
/*
 * vhu_vring_kick_ack() consumed a kick: the next burst records the
 * wake-up latency (vhu_vq_kick_polled) and clears it. Kept by resume().
 */
#define VHU_VQ_F_KICKED     0x1000
/*
 * The first burst since the vring started checks the polling lcore's NUMA
 * node against the vring's (vhu_vq_first_poll) and clears it. Set by
 * vhu_vq_set_numa_locked(), kept by resume(), so the data path pays one
 * test of a word it reads anyway.
 */
#define VHU_VQ_F_NUMA_CHECK 0x2000
/*
 * Interrupt coalescing (vhu_vring_set_coalesce): a call the guest asked
 * for goes through vhu_vq_coalesce_call(), which may hold it back
 * (CALL_HELD) for a later burst's poll hook or vhu_vring_flush_calls().
 * Both kept by resume(), cleared by a reset. Off, the notification path
 * pays one test of the flags word it holds anyway.
 */
#define VHU_VQ_F_COALESCE   0x4000
#define VHU_VQ_F_CALL_HELD  0x8000
/* any of these: the burst's one test before it calls vhu_vq_poll_hooks */
#define VHU_VQ_F_POLL_HOOKS (VHU_VQ_F_KICKED | VHU_VQ_F_NUMA_CHECK | \
			     VHU_VQ_F_CALL_HELD)
/*
 * Transmit vring, a frame that outgrows one fresh mbuf (vhu.h, "External
 * and linear buffers"): LINEAR never builds a chain (the frame is dropped
 * and counted in drops_no_buf unless EXTBUF holds it); EXTBUF copies it
 * into one external buffer of its size (extbuf.c), a chain only when that
 * fails and LINEAR is not set. Copies of the socket's flags, set by
 * resume().
 */
#define VHU_VQ_F_LINEAR     0x10000
#define VHU_VQ_F_EXTBUF     0x20000
/*
 * Lazy calls (VHU_SOCKET_LAZY_CALLS; vhu.h, "Interrupt coalescing"). The
 * notification fence (F1/F3) waits for every store of the burst to leave
 * the core: 12-15% of the backend's samples at 64 B (doc/guide/
 * benchmark.md, seventh round). A driver that suppressed calls at
 * VHU_VQ_CALM_AFTER fenced checks in a row polls; from then on (vq->calm)
 * a burst reads its suppression without the fence. A read that says
 * "suppressed" may be stale (the driver may be turning calls on at that
 * moment, and missing our index), so the check is owed (CALL_OWED) until
 * a fenced one in vhu_vring_flush_calls(), which the application promises
 * to call, or a call settles it. A read that says "call" calls and ends
 * the calm. Never with EVENT_IDX (split) or coalescing.
 */
#define VHU_VQ_F_LAZY_CALLS 0x40000
#define VHU_VQ_F_CALL_OWED  0x80000
#define VHU_VQ_CALM_AFTER   64
/*
 * Lazy completions, the transmit side of a calm split vring (split.c,
 * "Lazy completions"): a burst's used entries are published by the next
 * burst, or once the ring has been quiet for VHU_VQ_HOLD_US, or by
 * vhu_vring_flush_calls() or vhu_vq_quiesce(). A polling driver that
 * reclaims all its used buffers at once when nearly the whole ring is
 * used (DPDK's virtio PMD) then reclaims a burst at a time from a hot
 * mempool cache instead of cycling its whole pool through memory.
 */
#define VHU_VQ_HOLD_US      20

/* vq->ol_caps: the offloads negotiated for this vring's direction */
#define VHU_OL_CSUM  0x01 /* CSUM (transmit) / GUEST_CSUM (receive) */
#define VHU_OL_TSO4  0x02 /* HOST_TSO4 / GUEST_TSO4 */
#define VHU_OL_TSO6  0x04 /* HOST_TSO6 / GUEST_TSO6 */
#define VHU_OL_ECN   0x08 /* HOST_ECN / GUEST_ECN */
#define VHU_OL_USO4  0x10 /* HOST_USO / GUEST_USO4 */
#define VHU_OL_USO6  0x20 /* HOST_USO / GUEST_USO6 */

/*
 * Send an IOTLB miss request for iova with perm (VHOST_ACCESS_*) to the
 * frontend; never blocks. 0 when sent. Provided by the protocol layer
 * (protocol/iotlb.c); called from bursts and from resume().
 */
typedef int (*vhu_vq_miss_fn)(void *arg, uint64_t iova, uint8_t perm);

/*
 * Vring slots of a device: the data vrings of every queue pair, plus one
 * for the virtio-net control vring (VIRTIO_NET_F_CTRL_VQ), which sits
 * right after the data vrings the socket offers (protocol/dev.h).
 */
#define VHU_MAX_VRINGS (2 * VHU_MAX_QUEUE_PAIRS + 1)

/* No vring has more descriptors than this (virtio 1.2 §2.7: Queue Size). */
#define VHU_VQ_MAX_SIZE 32768

/*
 * Ring layouts the data path indexes, copies and logs by size (virtio 1.2
 * §2.7 split, §2.8 packed): descriptor tables are checked in 16-byte
 * units, used entries are memcpy'd from shadow_used, dirty-log offsets
 * are computed from these, and packed shadow entries keep id and count in
 * the 32-bit id field.
 */
static_assert(sizeof(struct vring_desc) == 16, "split descriptor");
static_assert(offsetof(struct vring_avail, ring) == 4, "avail ring header");
static_assert(sizeof(struct vring_used_elem) == 8, "used ring element");
static_assert(sizeof(((struct vring_used_elem *)0)->id) == 4,
	      "used element id holds a packed id and count");
static_assert(offsetof(struct vring_used, ring) == 4, "used ring header");
static_assert(sizeof(struct vring_packed_desc) == 16, "packed descriptor");
static_assert(sizeof(struct vring_packed_desc_event) == 4,
	      "packed event suppression area");

struct vhu_vq {
	/* ---- data path: read every burst ---- */
	_Atomic uint32_t access;
	uint32_t flags;          /* VHU_VQ_F_* */
	bool ready;              /* running, enabled, configured, not broken,
				  * and a data vring */
	uint16_t hdr_len;        /* virtio-net header bytes */
	uint16_t size;           /* descriptors, power of two unless packed */
	uint16_t last_avail_idx; /* next avail entry (packed: ring slot) */
	uint16_t last_used_idx;  /* next used entry (packed: ring slot) */
	uint16_t signalled_used; /* used idx at the last call (EVENT_IDX) */
	bool signalled_used_valid;
	/* packed only (virtio 1.2 §2.8.1): wrap counters, start at 1 */
	bool avail_wrap;
	bool used_wrap;
	bool announce;           /* transmit vring: RARP pending, see below */
	int callfd;              /* -1: none */
	uint32_t mem_hint;       /* last region hit, see vhu_gpa_to_hva() */
	uint8_t ol_caps;         /* VHU_OL_* */
	/*
	 * Receive vring: mbuf flags that send a packet through the enqueue's
	 * offload stage (offload.c), and the longest non-GSO frame the guest
	 * takes (its MTU plus Ethernet and one VLAN tag; UINT32_MAX: no MTU).
	 */
	uint32_t max_frame;
	uint64_t ol_sw_flags;
	uint64_t ol_partial_mask; /* RX_L4_CKSUM_MASK without GUEST_CSUM, else 0 */

	/*
	 * With VHU_VQ_F_PACKED the three SET_VRING_ADDR addresses name the
	 * descriptor ring and the driver and device event suppression
	 * areas (virtio 1.2 §2.8.10), hence the unions.
	 */
	union {
		struct vring_desc *desc;
		struct vring_packed_desc *pdesc;
	};
	union {
		struct vring_avail *avail;
		struct vring_packed_desc_event *driver_event;
	};
	union {
		struct vring_used *used;
		struct vring_packed_desc_event *device_event;
	};
	/*
	 * What the data path translates through: device-readable (rings it
	 * reads, indirect tables, transmit buffers) and device-writable
	 * (receive buffers). Both are mem without IOMMU; with it, the
	 * IOTLB's read and write views (iova -> hva), set by resume().
	 */
	const struct vhu_guest_mem *mem_rd;
	const struct vhu_guest_mem *mem_wr;
	const struct vhu_guest_mem *mem;  /* guest memory (GPA/QVA) */
	const struct vhu_dirty_log *log;
	uint64_t used_log_gpa;   /* guest-physical address of the used ring
				  * (packed: of the descriptor ring) */
	/*
	 * size entries, staging. Packed rings keep the buffer id in the
	 * low 16 bits of .id and its descriptor count in the high 16.
	 */
	struct vring_used_elem *shadow_used;

	struct vhu_vring_stats stats; /* written by the data path only */

	/*
	 * Interrupt coalescing (VHU_VQ_F_COALESCE): set under CONTROL,
	 * then the data path's, inside the queue.
	 */
	uint64_t coal_tsc;       /* at most one call per this, 0: no limit */
	uint64_t coal_last;      /* TSC of the last call made */
	uint32_t coal_frames;    /* a call per this many buffers, 0: none */
	uint32_t coal_bufs;      /* used buffers since the last call */
	uint32_t coal_seen;      /* coal_bufs at the last poll hook */
	/* fenced checks in a row that found calls suppressed (LAZY_CALLS) */
	uint16_t calm;
	/*
	 * Lazy completions (VHU_VQ_HOLD_US): held_adv buffers consumed and
	 * not yet published (0: none), reported by the held_n entries of
	 * held_used; held_since is the TSC of the first empty poll after
	 * them (0: none yet). held_release publishes them, for
	 * vhu_vq_quiesce() (split.c sets it: a call up only through the
	 * pointer, as async_drain).
	 */
	uint16_t held_n;
	uint16_t held_adv;
	uint64_t held_since;
	void (*held_release)(struct vhu_vq *vq);
	struct vring_used_elem held_used[VHU_BURST_MAX];

	/*
	 * IOTLB miss (VHU_VQ_F_IOMMU): written inside the queue (burst or
	 * resume), cleared by the protocol layer under CONTROL when an
	 * update or invalidate arrives. One outstanding request per queue.
	 */
	bool miss_pending;       /* a miss is recorded, no update since */
	bool miss_sent;          /* ... and its request went out */
	uint8_t miss_perm;
	uint64_t miss_iova;
	vhu_vq_miss_fn miss_fn;  /* NULL: no backend channel */
	void *miss_arg;

	/*
	 * A DMA channel bound to the queue (async.c, vhu_async_bind), NULL:
	 * none. Set and cleared under CONTROL; async.c's state, opaque here.
	 * vhu_vq_quiesce() calls async_drain once it holds the queue, so the
	 * copies in flight land and are published before the control
	 * context changes anything (async.c registers it: a call up the
	 * ladder only through the pointer).
	 */
	struct vhu_async *async;
	bool async_busy;         /* copies in flight or not yet published:
				  * vhu_enqueue_burst() must wait */
	void (*async_drain)(struct vhu_vq *vq);
	void (*async_free)(struct vhu_vq *vq); /* vhu_vq_destroy: unbind */

	/* ---- configuration: control context only, under CONTROL ---- */
	alignas(RTE_CACHE_LINE_SIZE) uint16_t index;
	bool enabled;            /* SET_VRING_ENABLE (or no PROTOCOL_FEATURES) */
	bool running;            /* the device is started (new_device done) */
	bool broken;             /* sticky until reset: see vhu_vq_mark_broken */
	bool broken_told;        /* the app heard of it (vring_broken) */
	bool num_set, addr_set, kick_set, call_set;
	/*
	 * IOMMU: a ring's IOVA is not in the IOTLB (an invalidate dropped
	 * it, or it was never sent) and a miss was requested. The queue is
	 * not ready (bursts return 0) but not faulty: the update that
	 * answers the miss makes it ready again, the device keeps running.
	 */
	bool ring_miss;
	bool ctrl;               /* not a data vring (VHU_VQ_F_CTRL) */
	bool ctrl_ready;         /* ctrl, and ready but for that: ctrl.c may
				  * walk the ring (valid after resume()) */
	uint16_t num;            /* SET_VRING_NUM */
	struct vhost_vring_addr addr; /* SET_VRING_ADDR, frontend-virtual */
	uint64_t event_log_gpa;  /* packed: device event area, guest-physical */
	uint64_t features;
	bool legacy_ol;          /* VHU_SOCKET_LEGACY_OL_FLAGS */
	uint32_t sock_flags;     /* VHU_VQ_F_LINEAR, _EXTBUF, _LAZY_CALLS */
	uint16_t mtu;            /* NET_SET_MTU, 0: none */
	/* IOTLB views (NULL, NULL: no IOMMU), see mem_rd / mem_wr */
	const struct vhu_guest_mem *iotlb_rd;
	const struct vhu_guest_mem *iotlb_wr;
	int kickfd;              /* -1: none (polling) */
	uint64_t kick_tsc;       /* TSC of the last kick_ack that got a kick */
	int errfd;               /* -1: none */
	const char *why_not_ready; /* for logs, NULL when ready */
	uint8_t announce_mac[6]; /* with announce: whom to announce */
	uint64_t broken_log_tsc;  /* rate limit of vhu_vq_mark_broken() logs */
	char name[32];           /* "dev3.vring1" for logs */
	/*
	 * NUMA: the node of the guest memory holding the descriptor ring
	 * (-1: unknown), set when the device starts; and how many starts
	 * were first polled from an lcore on another node (written by
	 * vhu_vq_first_poll inside the queue, read relaxed by queries).
	 */
	int numa_node;
	uint64_t remote_polls;
};

/* The part of struct vhu_dev the data path sees: its first member. */
struct vhu_dev_vqs {
	uint16_t nr_vrings;      /* highest configured vring index + 1 */
	struct vhu_vq *vq[VHU_MAX_VRINGS];
};

/*
 * The queue of a vring of an application handle (burst.c, async.c), or
 * NULL. A queue pointer may appear while bursts run (the frontend adds queue
 * pairs). Queues are never freed while the device handle lives (vhu.h:
 * destroy_device). nr_vrings is only a bound: a slot below it may still
 * be NULL.
 */
static inline struct vhu_vq *
vhu_vqs_lookup(const struct vhu_dev *dev, uint32_t vring)
{
	const struct vhu_dev_vqs *vqs = (const struct vhu_dev_vqs *)dev;

	if (unlikely(dev == NULL || vring >= 2 * VHU_MAX_QUEUE_PAIRS ||
		     vring >= vhu_atomic_load_u16(&vqs->nr_vrings,
						  memory_order_relaxed)))
		return NULL;
	/* A5: pairs with R5 (dev.c), so a queue is seen fully initialised */
	return vhu_atomic_load_ptr(&vqs->vq[vring], memory_order_acquire);
}

/* --- data path entry/exit (A1 / R1 above) --- */
static inline bool
vhu_vq_enter(struct vhu_vq *vq)
{
	uint32_t expected = VHU_VQ_FREE;

	/*
	 * A1: pairs with R2 (vhu_vq_resume: memory table, ring pointers,
	 * ready) and with the previous burst's R1 (indexes, shadow state).
	 */
	while (!atomic_compare_exchange_strong_explicit(&vq->access, &expected,
			VHU_VQ_DATA, memory_order_acquire,
			memory_order_relaxed)) {
		/* a flush (vhu_vring_flush_calls) is short: wait for it */
		if (expected != VHU_VQ_FLUSH)
			return false;
		expected = VHU_VQ_FREE;
		rte_pause();
	}
	return true;
}

static inline void
vhu_vq_leave(struct vhu_vq *vq)
{
	/* R1: pairs with A2 (vhu_vq_quiesce): indexes, stats, broken flag */
	atomic_store_explicit(&vq->access, VHU_VQ_FREE, memory_order_release);
}

/*
 * Whether completions held since an empty poll at held_since (vq.h,
 * VHU_VQ_HOLD_US) have waited long enough at TSC now; false while no
 * empty poll has started the clock.
 */
static inline bool
vhu_vq_hold_over(const struct vhu_vq *vq, uint64_t now)
{
	return vq->held_since != 0 &&
	       now - vq->held_since >=
	       rte_get_tsc_hz() / (1000000 / VHU_VQ_HOLD_US);
}

/* Single-writer counter update that readers may load concurrently. */
static inline void
vhu_stat_add(uint64_t *counter, uint64_t v)
{
	vhu_atomic_store_u64(counter, *counter + v, memory_order_relaxed);
}

/* Take back v of what this data path added to a counter before. */
static inline void
vhu_stat_sub(uint64_t *counter, uint64_t v)
{
	vhu_atomic_store_u64(counter, *counter - v, memory_order_relaxed);
}

/* --- control side (vq.c) --- */

/* Allocate a queue (zeroed, fds -1) for vring index of device dev_id. */
struct vhu_vq *vhu_vq_create(int dev_id, uint16_t index, int numa_node,
			     const struct vhu_guest_mem *mem,
			     const struct vhu_dirty_log *log);
/* Free a queue: must not be running; closes its fds. */
void vhu_vq_destroy(struct vhu_vq *vq);
/*
 * The vring's guest memory is on node (-1: unknown): move the queue's
 * pages and its staging array there (vhu_numa.h: the queue's address
 * never changes) and arm the first-poll check. Under CONTROL.
 */
void vhu_vq_set_numa_locked(struct vhu_vq *vq, int node);
/*
 * Out of line, from the first burst after vhu_vq_set_numa_locked() (inside
 * the queue): warn once if the calling lcore is on another node.
 */
void vhu_vq_first_poll(struct vhu_vq *vq);

/* Wait for the data path to leave and hold the queue (A2). */
void vhu_vq_quiesce(struct vhu_vq *vq);
/* Recompute ring pointers and the ready flag, then release (R2). */
void vhu_vq_resume(struct vhu_vq *vq);

/*
 * Device-wide changes. A change every queue reads (memory table, dirty
 * log, IOTLB views, backend channel) is made between
 * vhu_vqs_quiesce_all() and vhu_vqs_resume_all(): no burst of the device
 * runs in between. A change to each queue's own state goes through
 * vhu_vqs_apply(), which holds one queue at a time.
 */
/* Quiesce every queue the device has allocated (up to its whole table). */
void vhu_vqs_quiesce_all(struct vhu_dev_vqs *vqs);
/* Resume every queue vhu_vqs_quiesce_all() holds. */
void vhu_vqs_resume_all(struct vhu_dev_vqs *vqs);
/* A per-queue change, made while that queue is quiesced. */
typedef void (*vhu_vq_apply_fn)(struct vhu_vq *vq, void *arg);
/*
 * For every queue: quiesce, fn(vq, arg), resume. Configured queues only
 * (index below nr_vrings), unless all: then every queue of the table,
 * including those a reused device slot kept from its last connection.
 */
void vhu_vqs_apply(struct vhu_dev_vqs *vqs, bool all, vhu_vq_apply_fn fn,
		   void *arg);

/* Setters: call only between quiesce and resume. fds are taken over. */
void vhu_vq_reset_locked(struct vhu_vq *vq);
int vhu_vq_set_num_locked(struct vhu_vq *vq, uint32_t num);
int vhu_vq_set_addr_locked(struct vhu_vq *vq, const struct vhost_vring_addr *a);
int vhu_vq_set_base_locked(struct vhu_vq *vq, uint32_t base);
uint32_t vhu_vq_get_base_locked(const struct vhu_vq *vq);
void vhu_vq_set_kick_locked(struct vhu_vq *vq, int fd);
void vhu_vq_set_call_locked(struct vhu_vq *vq, int fd);
void vhu_vq_set_err_locked(struct vhu_vq *vq, int fd);
void vhu_vq_set_enabled_locked(struct vhu_vq *vq, bool enabled);
void vhu_vq_set_features_locked(struct vhu_vq *vq, uint64_t features);
/* Offload flag convention (true: legacy) and guest MTU (0: none). */
void vhu_vq_set_net_locked(struct vhu_vq *vq, bool legacy_ol, uint16_t mtu);
/*
 * How a transmit frame larger than one mbuf is returned: VHU_VQ_F_LINEAR
 * and/or VHU_VQ_F_EXTBUF (any other bit is ignored), 0: as a chain.
 */
void vhu_vq_set_sock_flags_locked(struct vhu_vq *vq, uint32_t sock_flags);
void vhu_vq_set_running_locked(struct vhu_vq *vq, bool running);
/*
 * Fence the queue off the data path (true: the control vring, served by
 * the control context through ctrl.h) or make it a data vring again.
 */
void vhu_vq_set_ctrl_locked(struct vhu_vq *vq, bool ctrl);
/*
 * Translate through IOTLB views rd / wr from now on (both NULL: through
 * guest memory, no IOMMU); fn(arg, ...) sends miss requests (may be NULL).
 */
void vhu_vq_set_iotlb_locked(struct vhu_vq *vq, const struct vhu_guest_mem *rd,
			     const struct vhu_guest_mem *wr, vhu_vq_miss_fn fn,
			     void *arg);
/* The IOTLB changed (update, invalidate): a new miss may be requested. */
void vhu_vq_iotlb_changed_locked(struct vhu_vq *vq);
/* Stop using the ring (GET_VRING_BASE): forget address, kick and num. */
void vhu_vq_stop_locked(struct vhu_vq *vq);

/*
 * Announce mac on the network (SEND_RARP, after live migration): the next
 * dequeue burst of this transmit vring starts with a RARP frame from mac,
 * as if the guest had sent it, so switches learn where the guest is now.
 */
void vhu_vq_set_announce_locked(struct vhu_vq *vq, const uint8_t mac[6]);
/*
 * Inside the queue, with vq->announce set: build the RARP frame into one
 * mbuf from mp and clear the request. 1 when *pkt holds it, 0 when mp had
 * no mbuf (the request stays for the next burst).
 */
uint16_t vhu_vq_take_announce(struct vhu_vq *vq, struct rte_mempool *mp,
			      struct rte_mbuf **pkt);

/* num, addresses, kick and call all given (the ring can be started). */
bool vhu_vq_configured(const struct vhu_vq *vq);
/* Configured and its ring memory translates (valid after resume()). */
bool vhu_vq_usable(const struct vhu_vq *vq);
/*
 * Configured, but a ring IOVA waits for an IOTLB update (ring_miss): a
 * running device keeps running, the queue resumes when the update comes.
 */
bool vhu_vq_waiting_iotlb(const struct vhu_vq *vq);

/* Guest kick suppression; takes the queue itself. */
int vhu_vq_set_notify(struct vhu_vq *vq, bool enable);
/*
 * Drain the kick eventfd without blocking; count what it held (kicks) and
 * stamp the time for the next burst's latency. Takes the queue itself.
 * Returns the kicks consumed (0: none pending), -ENOENT without a kick fd.
 */
int vhu_vq_kick_ack(struct vhu_vq *vq);
/*
 * Inside a burst, with VHU_VQ_F_KICKED: record the time since kick_ack
 * (last_kick_latency_ns) and clear the flag. Out of line on purpose.
 */
void vhu_vq_kick_polled(struct vhu_vq *vq);
/*
 * Inside a burst, with any VHU_VQ_F_POLL_HOOKS flag set: the first-poll
 * NUMA check and the wake-up latency, whichever is due. Out of line.
 */
void vhu_vq_poll_hooks(struct vhu_vq *vq);
/*
 * Inside a burst, with VHU_VQ_F_COALESCE: the guest asked for a call
 * after bufs more used buffers. Calls now if the frame count or the
 * interval says so, else holds it (VHU_VQ_F_CALL_HELD). Out of line.
 */
void vhu_vq_coalesce_call(struct vhu_vq *vq, uint32_t bufs);
/*
 * Inside the queue, with VHU_VQ_F_CALL_HELD: make the held call if it is
 * due (the interval passed; frames only: nothing moved since the last
 * check). true when it was made.
 */
bool vhu_vq_held_call(struct vhu_vq *vq);
/*
 * Coalescing settings (vhu_vring_set_coalesce); takes the queue. 0, or
 * -EINVAL for the control vring. Turning it off makes a held call.
 */
int vhu_vq_set_coalesce(struct vhu_vq *vq, uint32_t usecs, uint32_t frames);

/*
 * The guest broke the ring protocol: stop the queue for good (until a ring
 * reset or reconnect), count it, log why (rate-limited), signal the error
 * eventfd and wake the control context (vhu_vq_set_broken_notify_fd) so it
 * tells the application. Called from the data path, inside the queue.
 */
void vhu_vq_mark_broken(struct vhu_vq *vq, const char *why);

/*
 * With VHU_VQ_F_IOMMU: iova (perm VHOST_ACCESS_RO or _WO) has no IOTLB
 * translation. Record it and ask the frontend for it, once until the IOTLB
 * changes (a failed send is retried on the next call). Inside the queue.
 */
void vhu_vq_miss(struct vhu_vq *vq, uint64_t iova, uint8_t perm);

/*
 * First address of [addr, addr + len) that m does not translate, or
 * UINT64_MAX if all of it translates (in several pieces, maybe).
 */
static inline uint64_t
vhu_mem_first_gap(const struct vhu_guest_mem *m, uint32_t *hint,
		  uint64_t addr, uint64_t len)
{
	while (len > 0) {
		uint64_t got = len;

		if (vhu_gpa_to_hva(m, hint, addr, &got) == NULL)
			return addr;
		addr += got;
		len -= got;
	}
	return UINT64_MAX;
}

/*
 * A walker could not translate addr (len bytes wanted in one piece, or 0
 * for "addr itself"): with IOMMU a miss (VHU_WALK_MISS in desc_split.h), else
 * the guest's fault. Returns true for a miss.
 */
static inline bool
vhu_vq_xlate_miss(struct vhu_vq *vq, const struct vhu_guest_mem *m,
		  uint64_t addr, uint64_t len, bool write)
{
	uint64_t gap;

	if (!(vq->flags & VHU_VQ_F_IOMMU))
		return false;
	gap = len == 0 ? addr : vhu_mem_first_gap(m, &vq->mem_hint, addr, len);
	if (gap == UINT64_MAX)
		return false; /* mapped, but not host-contiguous: a fault */
	vhu_vq_miss(vq, gap, write ? VHOST_ACCESS_WO : VHOST_ACCESS_RO);
	return true;
}

/*
 * The eventfd vhu_vq_mark_broken() writes to wake the control context
 * (-1: none). Set by the protocol layer at init, before any queue runs.
 */
void vhu_vq_set_broken_notify_fd(int fd);

/*
 * For async.c (asynchronous enqueue, split ring): the entries the guest
 * made available and not yet taken (false: it broke the ring, marked
 * broken), and publishing n used entries staged in shadow_used from
 * last_used_idx on, then calling the guest if it asked. Inside the queue
 * (or under CONTROL, for a drain).
 */
bool vhu_split_avail_pending(struct vhu_vq *vq, uint16_t *n);
void vhu_split_publish(struct vhu_vq *vq, uint16_t n);
/*
 * The same for a packed ring: the flags of the descriptor at slot, loaded
 * with acquire (A4, ordering every later read of it), and publishing n
 * used buffers staged in shadow_used (id and descriptor count packed as
 * below) from the used slot on.
 */
uint16_t vhu_packed_slot_flags(const struct vhu_vq *vq, uint16_t slot);
void vhu_packed_publish(struct vhu_vq *vq, uint16_t n);
/*
 * For burst.c (vhu_vring_flush_calls): the check a calm burst owes
 * (VHU_VQ_F_CALL_OWED), made with its fence now; calls the guest if it
 * no longer suppresses calls. Returns true if it called. Inside the
 * queue.
 */
bool vhu_split_settle_call(struct vhu_vq *vq);
bool vhu_packed_settle_call(struct vhu_vq *vq);
/*
 * For burst.c (vhu_vring_flush_calls): publish the used entries a calm
 * split transmit vring holds (VHU_VQ_HOLD_US), leaving the call check
 * owed (VHU_VQ_F_CALL_OWED) for vhu_split_settle_call(). Inside the queue.
 */
void vhu_split_release_held(struct vhu_vq *vq);

/* --- data path bodies, one file per ring layout --- */
uint16_t vhu_split_enqueue(struct vhu_vq *vq, struct rte_mbuf **pkts,
			   uint16_t count);
uint16_t vhu_split_dequeue(struct vhu_vq *vq, struct rte_mempool *mp,
			   struct rte_mbuf **pkts, uint16_t count);
uint16_t vhu_packed_enqueue(struct vhu_vq *vq, struct rte_mbuf **pkts,
			    uint16_t count);
uint16_t vhu_packed_dequeue(struct vhu_vq *vq, struct rte_mempool *mp,
			    struct rte_mbuf **pkts, uint16_t count);

#endif /* VHU_VQ_H */
