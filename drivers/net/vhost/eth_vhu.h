/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internal state of the net_vhu PMD, shared by its files: eth_vhu.c
 * (probe, devargs, ethdev control ops, RSS configuration, libvhu
 * callbacks and the events they raise), eth_vhu_rxtx.c (the bursts and
 * every counter), eth_vhu_intr.c (Rx interrupts on the guest's kick
 * eventfds) and eth_vhu_rss.c (the RSS hash, state-free).
 *
 * Two threads meet here: the application's control thread (ethdev ops) and
 * libvhu's control thread (struct vhu_ops callbacks). Both take port->lock
 * for the fields marked "lock"; neither calls into libvhu's control API nor
 * raises an ethdev event while holding it, because libvhu holds its own
 * lock around our callbacks and an application's event callback may call
 * back into ethdev ops.
 *
 * The polling lcores see only port->dp_dev and their own queue object,
 * plus, for RSS, the relaxed atomics and steering locks marked below.
 */
#ifndef VHU_ETH_H
#define VHU_ETH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <limits.h>

#include <rte_common.h>
#include <rte_ethdev.h>
#include <rte_log.h>
#include <rte_spinlock.h>
#include <ethdev_driver.h>

#include "vhu.h"
#include "vhu_burst.h"
#include "vhu_config.h"
#include "eth_vhu_rss.h"

extern int vhu_eth_logtype;

/*
 * Queue counters: plain uint64_t fields (the ethdev stats are sums of
 * them), written by the one lcore that polls the queue and read by the
 * control thread. Both sides go through the _Atomic type of the same size
 * (same size and alignment on every ABI DPDK supports), relaxed: nothing
 * is ordered by a counter, a value must only never be torn.
 */
static inline uint64_t
vhu_eth_cnt_load(const uint64_t *p)
{
	return atomic_load_explicit((const _Atomic uint64_t *)p,
				    memory_order_relaxed);
}

static inline void
vhu_eth_cnt_store(uint64_t *p, uint64_t v)
{
	atomic_store_explicit((_Atomic uint64_t *)p, v, memory_order_relaxed);
}

#define VHU_ETH_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_ ## level, vhu_eth_logtype, \
		"net_vhu: " fmt "\n", ##__VA_ARGS__)

#define VHU_ETH_MAX_QUEUES VHU_MAX_QUEUE_PAIRS
#define VHU_ETH_MAX_VRINGS (2 * VHU_MAX_QUEUE_PAIRS)

/*
 * dev->data->mac_addrs: the port's own address, then with ctrl-queue=1
 * the guest's primary MAC and its unicast and multicast tables.
 */
#define VHU_ETH_MAX_MACS (2 + 2 * VHU_RX_FILTER_MAX_MACS)

/*
 * Largest frame either direction handles: libvhu chains mbufs on dequeue
 * and walks chains on enqueue, so the bound is virtio-net's own (a frame
 * without GSO fits in 64 KiB).
 */
#define VHU_ETH_MAX_FRAME 65535u

/*
 * Largest segmentation-offload (GSO) frame a guest may send with tso=1:
 * the largest IP packet a length field describes (an IPv6 header and
 * 65535 bytes of payload) behind Ethernet and two VLAN tags.
 */
#define VHU_ETH_MAX_GSO_FRAME \
	(RTE_ETHER_HDR_LEN + 2 * RTE_VLAN_HLEN + 40 + 65535u)

/* Frame size buckets of the xstats, by rte_mbuf pkt_len (no FCS). */
enum {
	VHU_ETH_SIZE_64,        /* 64 bytes */
	VHU_ETH_SIZE_65_127,
	VHU_ETH_SIZE_128_255,
	VHU_ETH_SIZE_256_511,
	VHU_ETH_SIZE_512_1023,
	VHU_ETH_SIZE_1024_1518,
	VHU_ETH_SIZE_1519_MAX,
	VHU_ETH_SIZE_UNDER,     /* below 64 bytes (last: size_bucket's math) */
	VHU_ETH_NB_SIZES,
};

/*
 * Counters of one queue. Written only by the lcore polling the queue (one
 * relaxed store per counter per burst), read by the control thread.
 */
struct vhu_eth_counters {
	uint64_t packets;
	uint64_t bytes;
	uint64_t size[VHU_ETH_NB_SIZES];
	uint64_t multicast;
	uint64_t broadcast;
	uint64_t sw_cksums; /* Rx: partial checksums completed for the app */
	uint64_t filtered;  /* Tx: frames the guest's receive filter refused */
};

/*
 * How libvhu returns a frame larger than one Rx mbuf (devargs, turned into
 * socket flags: vhu.h, "External and linear buffers"). Either way it is
 * copied once, straight from the guest.
 */
enum vhu_eth_rx_chain {
	VHU_ETH_CHAIN_KEEP,      /* default: as an mbuf chain */
	VHU_ETH_CHAIN_DROP,      /* linear-buffer=1: dropped (dropped_not_linear) */
	VHU_ETH_CHAIN_EXTBUF,    /* linear-buffer=1 ext-buffer=1: one external
				  * buffer; dropped when none can hold it */
	VHU_ETH_CHAIN_PREFER_EXTBUF, /* ext-buffer=1: one external buffer;
				      * a chain when none can hold it */
};

/* Rx queue's finish field: which partial checksums to complete. */
enum vhu_eth_finish {
	VHU_ETH_FINISH_NONE = 0,   /* the application takes them partial */
	VHU_ETH_FINISH_TCP = 1,    /* no RTE_ETH_RX_OFFLOAD_TCP_CKSUM */
	VHU_ETH_FINISH_UDP = 2,    /* no RTE_ETH_RX_OFFLOAD_UDP_CKSUM */
};

struct vhu_eth_port;

/* An Rx or Tx queue: what one lcore touches per burst first. */
struct vhu_eth_queue {
	struct vhu_eth_port *port;
	struct rte_mempool *mp;  /* Rx: where mbufs come from */
	uint16_t qp;             /* libvhu queue pair == ethdev queue id */
	uint16_t port_id;
	bool rx;
	/*
	 * Rx: which partial checksums (RTE_MBUF_F_RX_L4_CKSUM_NONE) the
	 * burst completes, because the application did not enable the
	 * matching Rx offload; set by dev_start (enum vhu_eth_finish).
	 */
	uint8_t finish;
	/* Rx: RTE_ETH_RX_OFFLOAD_RSS_HASH asked: fill hash.rss (dev_start) */
	bool rss_hash;
	struct vhu_eth_counters cnt;  /* data path writes */
	struct vhu_eth_counters base; /* snapshot at the last reset (control) */
	/*
	 * Tx with ctrl-queue=1: the lcore's copy of the guest's receive
	 * filter (vhu_dev_rx_filter), taken again when the device or the
	 * filter's generation changes. Lcore-private.
	 */
	const struct vhu_dev *filt_dev;
	struct vhu_rx_filter filt;
} __rte_cache_aligned;

/* Library counters folded over frontend connections (see stats_get). */
struct vhu_eth_lib_cnt {
	uint64_t drops_no_buf;
	uint64_t desc_errors;
	uint64_t broken;        /* times the guest broke the vring */
	uint64_t drops_mtu;     /* enqueue: longer than the guest's MTU */
	uint64_t drops_bad_hdr; /* dequeue: impossible virtio-net header */
	uint64_t sw_cksums;     /* checksums libvhu completed */
	uint64_t sw_segmented;  /* GSO frames libvhu segmented */
	uint64_t calls;         /* notifications sent to the guest */
	uint64_t kicks;         /* guest notifications consumed (Rx intr) */
	uint64_t enqueue_full;  /* Tx calls the guest ring cut short */
	uint64_t iotlb_misses;  /* IOTLB misses requested */
	uint64_t dma_copies;    /* dmas=: pieces the DMA engine copied */
	uint64_t dma_fallbacks; /* dmas=: pieces the core copied instead */
};

struct vhu_eth_port {
	/*
	 * The device bursts use: the connected device while the port is
	 * started, else NULL. Release store in publish_dp() (P1) pairs with
	 * the acquire load in each burst (P2); libvhu keeps the handle valid
	 * memory and makes a late burst return 0, so nothing else is needed.
	 */
	struct vhu_dev *_Atomic dp_dev;

	struct rte_eth_dev *eth_dev;
	uint16_t port_id;
	uint16_t queues;          /* devargs queues= */
	uint8_t chain;            /* enum vhu_eth_rx_chain */
	bool client;
	bool iommu;              /* iommu-support=1: VHU_SOCKET_IOMMU */
	bool postcopy;           /* postcopy-support=1: VHU_SOCKET_POSTCOPY */
	bool tso;                /* tso=1: the guest may send GSO frames */
	bool legacy_ol;          /* legacy-ol-flags=1 */
	bool ctrl_queue;         /* ctrl-queue=1: the guest's CTRL_VQ is ours */
	/*
	 * ctrl-queue=1: the connected guest negotiated CTRL_RX or CTRL_VLAN,
	 * so Tx applies its receive filter; and the filter's generation the
	 * control thread last saw. Relaxed: the filter itself is read with
	 * vhu_dev_rx_filter(), consistent on its own; these only say when.
	 */
	_Atomic bool filter_on;
	_Atomic uint32_t filter_gen;
	bool rss_steer;          /* rss-steer=1: Tx picks the guest queue */
	char iface[PATH_MAX];
	struct vhu_socket *sock;

	rte_spinlock_t lock;
	struct vhu_dev *dev;      /* lock: connected device or NULL */
	/*
	 * lock: the connected guest's MTU (NET_SET_MTU), 0 if none. It is
	 * the port's MTU (data->mtu, also written under the lock) while the
	 * guest is connected: libvhu drops longer frames on enqueue.
	 */
	uint16_t guest_mtu;
	bool started;             /* lock */
	bool closing;             /* lock: no more events */
	/* lock: the guest's filter as last applied to ethdev's data */
	struct vhu_rx_filter filter;
	bool app_promisc, app_allmulti; /* lock: ethdev flags before it */

	/* lock: queue-state view for vhu_eth_get_queue_event() */
	bool vring_cur[VHU_ETH_MAX_VRINGS];
	bool vring_seen[VHU_ETH_MAX_VRINGS];

	/* lock: libvhu counters, per vring; see vhu_eth_lib_read() */
	struct vhu_eth_lib_cnt lib_base[VHU_ETH_MAX_VRINGS];
	struct vhu_eth_lib_cnt lib_accum[VHU_ETH_MAX_VRINGS];

	/*
	 * RSS (eth_vhu_rss.h): written by the application's control thread
	 * under lock, read by the lcores without it. Each is an atomic
	 * object read relaxed (a burst may mix an old and a new table while
	 * the application changes it, as a NIC's RETA update is not
	 * synchronised with arriving frames either).
	 */
	_Atomic uint64_t rss_hf;
	_Atomic uint32_t rss_key_w[VHU_ETH_RSS_KEY_LEN / 4]; /* converted */
	_Atomic uint8_t reta[VHU_ETH_RETA_SIZE]; /* queue pair per entry */
	uint8_t rss_key[VHU_ETH_RSS_KEY_LEN_MAX]; /* lock: as given */
	uint8_t rss_key_len;                      /* lock: 40 or 52 */
	/*
	 * rss-steer=1: bit qp set while the guest's receive vring 2qp is
	 * enabled (lock to write, relaxed loads by tx_burst), and the lock
	 * each guest receive queue is written under: with steering, any Tx
	 * queue (lcore) may write any guest queue.
	 */
	_Atomic uint32_t steer_qps;
	struct {
		rte_spinlock_t lock;
	} __rte_cache_aligned steer_lock[VHU_ETH_MAX_QUEUES];

	/*
	 * Queue-count mismatch (lock): the application's queue counts at
	 * dev_start, and what the last check found and logged; the check
	 * runs as an EAL alarm once the vring set has been stable for
	 * VHU_ETH_QCHECK_US.
	 */
	uint16_t app_rxq, app_txq;
	uint16_t idle_qps;        /* configured, not enabled by the guest */
	uint16_t unpolled_qps;    /* enabled by the guest, not configured */
	uint64_t qcheck_logged;   /* the state last logged (see qcheck) */
	uint64_t qcheck_stamp;    /* TSC of the last change */
	bool qcheck_armed;
	/*
	 * coalesce-usecs= / coalesce-frames= (vhu_vring_set_coalesce on
	 * every vring as it goes live), lazy-calls= (VHU_SOCKET_LAZY_CALLS),
	 * and the EAL alarm that makes the calls coalescing held back and
	 * the checks lazy calls owe (vhu_vring_flush_calls).
	 */
	uint32_t coal_usecs, coal_frames;
	bool lazy_calls;
	bool calls_armed;

	/* Rx interrupts, see eth_vhu_intr.c */
	struct rte_intr_handle *intr;
	bool intr_on;                       /* lock: set up at start */
	uint16_t intr_nb;                   /* lock: epfds created */
	int intr_epfd[VHU_ETH_MAX_QUEUES];  /* lock: stable per queue */
	int intr_kickfd[VHU_ETH_MAX_QUEUES];/* lock: kick fd inside, or -1 */
	bool intr_armed[VHU_ETH_MAX_QUEUES];/* lock: app asked for kicks */

	/*
	 * dmas=[txqN@DEV:CH;rxqN@DEV:CH...]: per direction (enum
	 * vhu_async_dir: 0 Tx, libvhu's enqueue; 1 Rx, its dequeue) and
	 * queue, the DMA channel (-1: none), set at probe; bit qp of
	 * dma_bound[d] while libvhu has the channel bound on the connected
	 * device (lock to write, relaxed loads by the bursts: a stale bit
	 * only costs a call that returns 0, libvhu checks the binding).
	 */
	int16_t dma_id[2][VHU_ETH_MAX_QUEUES];
	uint16_t dma_vchan[2][VHU_ETH_MAX_QUEUES];
	_Atomic uint32_t dma_bound[2];
	uint64_t dma_started;     /* DMA devices (by id) the port started */
};

/*
 * Log why an allocation of bytes for what (on socket, -1: this lcore's)
 * failed, with the free hugepages and heap and the fix, as the examples
 * do (doc/guide/troubleshooting.md). who: "port 0", or the vdev name.
 */
void vhu_eth_log_nomem(const char *who, const char *what, size_t bytes,
		       int socket);

/* Bursts the probe installs (eth_vhu_rxtx.c). */
uint16_t vhu_eth_rx_burst(void *q, struct rte_mbuf **pkts, uint16_t n);
uint16_t vhu_eth_tx_burst(void *q, struct rte_mbuf **pkts, uint16_t n);

/* Counters (eth_vhu_rxtx.c); control thread. */
int vhu_eth_stats_get(struct rte_eth_dev *dev, struct rte_eth_stats *st);
int vhu_eth_stats_reset(struct rte_eth_dev *dev);
int vhu_eth_xstats_get(struct rte_eth_dev *dev, struct rte_eth_xstat *xs,
		       unsigned int n);
int vhu_eth_xstats_get_names(struct rte_eth_dev *dev,
			     struct rte_eth_xstat_name *names,
			     unsigned int size);
/* Fold a departing device's counters into lib_accum (lock held). */
void vhu_eth_lib_fold(struct vhu_eth_port *port, struct vhu_dev *dev);
/* Take the starting point of a new device's counters (lock held). */
void vhu_eth_lib_rebase(struct vhu_eth_port *port, struct vhu_dev *dev);

/* Rx interrupts (eth_vhu_intr.c). */
int vhu_eth_intr_start(struct vhu_eth_port *port, uint16_t nb_rxq);
void vhu_eth_intr_close(struct vhu_eth_port *port);
/* Lock held: follow the kick fd of Rx queue q (device may be NULL). */
void vhu_eth_intr_sync(struct vhu_eth_port *port, uint16_t q);
int vhu_eth_rx_intr_enable(struct rte_eth_dev *dev, uint16_t q);
int vhu_eth_rx_intr_disable(struct rte_eth_dev *dev, uint16_t q);

#endif /* VHU_ETH_H */
