/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The net_vhu data path and its counters: rx_burst over vhu_dequeue_burst
 * (hash.rss with the RSS_HASH offload), tx_burst over vhu_enqueue_burst
 * (with rss-steer=1, into the guest queue of each frame's RSS hash), the
 * per-queue counters they keep, and
 * the stats/xstats ops that read them together with libvhu's per-vring
 * counters (guest-buffer drops, descriptor errors, offload drops and
 * software offloads).
 *
 * Hot-path rules: one acquire load of the device handle per burst (the
 * only synchronisation: libvhu's per-queue quiesce does the rest), no
 * atomic read-modify-write, counters summed on the stack and stored once
 * per burst. Per-packet work is the size bucket and the multicast bit,
 * and on Rx one offload flag test when the application takes no partial
 * checksums.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "eth_vhu.h"

/*
 * Index in the size buckets, net_vhost's (RFC 2819's) ranges: below 64
 * bytes undersize, 64, 65-127, ..., 1024-1518, 1519 and more.
 */
static inline unsigned int
size_bucket(uint32_t len)
{
	if (len <= 64)
		return len == 64 ? VHU_ETH_SIZE_64 : VHU_ETH_SIZE_UNDER;
	if (len >= 1519)
		return VHU_ETH_SIZE_1519_MAX;
	if (len >= 1024)
		return VHU_ETH_SIZE_1024_1518;
	/* 65..1023: the buckets are powers of two, so the top bit says */
	return (unsigned int)(31 - __builtin_clz(len)) - 5;
}

/* Single writer: a plain add published with a relaxed store. */
#define CNT_ADD(field, v) vhu_eth_cnt_store(&(field), (field) + (v))

static inline void
count_burst(struct vhu_eth_counters *c, struct rte_mbuf *const *pkts,
	    uint16_t n)
{
	uint64_t size[VHU_ETH_NB_SIZES] = { 0 };
	uint64_t bytes = 0, mcast = 0, bcast = 0;

	for (uint16_t i = 0; i < n; i++) {
		const struct rte_mbuf *m = pkts[i];
		const struct rte_ether_hdr *eh;

		bytes += m->pkt_len;
		size[size_bucket(m->pkt_len)]++;
		if (unlikely(m->data_len < RTE_ETHER_ADDR_LEN))
			continue; /* a runt head segment: counted unicast */
		eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
		if (rte_is_multicast_ether_addr(&eh->dst_addr)) {
			if (rte_is_broadcast_ether_addr(&eh->dst_addr))
				bcast++;
			else
				mcast++;
		}
	}
	CNT_ADD(c->packets, n);
	CNT_ADD(c->bytes, bytes);
	for (unsigned int b = 0; b < VHU_ETH_NB_SIZES; b++)
		if (size[b] != 0)
			CNT_ADD(c->size[b], size[b]);
	if (mcast != 0)
		CNT_ADD(c->multicast, mcast);
	if (bcast != 0)
		CNT_ADD(c->broadcast, bcast);
}

/*
 * Whether a partial checksum of m is to be completed: the Rx offload of
 * its transport protocol is off (rxq->finish). libvhu flags only TCP and
 * UDP partial checksums (it completes the others itself); a frame it did
 * not type is completed, to be safe.
 */
static inline bool
rx_finish_wanted(uint8_t finish, uint32_t ptype)
{
	switch (ptype & RTE_PTYPE_L4_MASK) {
	case RTE_PTYPE_L4_TCP:
		return (finish & VHU_ETH_FINISH_TCP) != 0;
	case RTE_PTYPE_L4_UDP:
		return (finish & VHU_ETH_FINISH_UDP) != 0;
	default:
		return true;
	}
}

/*
 * Set the port of every frame and, for an application that did not enable
 * the TCP/UDP checksum Rx offloads, complete the partial checksums libvhu
 * flagged RTE_MBUF_F_RX_L4_CKSUM_NONE (the compliant convention: the
 * checksum field holds only the pseudo-header sum). One flag test per
 * frame; a frame whose headers vhu_pkt_finish_cksum() cannot locate keeps
 * a wrong checksum and is flagged so (RTE_MBUF_F_RX_L4_CKSUM_BAD).
 */
static void
rx_finish(struct vhu_eth_queue *rxq, struct rte_mbuf **pkts, uint16_t n)
{
	uint64_t done = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];

		m->port = rxq->port_id;
		if ((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) !=
		    RTE_MBUF_F_RX_L4_CKSUM_NONE)
			continue;
		if (!rx_finish_wanted(rxq->finish, m->packet_type))
			continue;
		if (vhu_pkt_finish_cksum(m) == 0) {
			done++;
			continue;
		}
		m->ol_flags = (m->ol_flags & ~RTE_MBUF_F_RX_L4_CKSUM_MASK) |
			      RTE_MBUF_F_RX_L4_CKSUM_BAD;
	}
	if (done != 0)
		CNT_ADD(rxq->cnt.sw_cksums, done);
}

/* ---- RSS: the lcores' side ---- */

/* The port's RSS key and types, read once per burst (relaxed). */
static inline uint64_t
rss_load(const struct vhu_eth_port *port, struct vhu_eth_rss_key *k)
{
	for (unsigned int i = 0; i < RTE_DIM(k->w); i++)
		k->w[i] = atomic_load_explicit(&port->rss_key_w[i],
					       memory_order_relaxed);
	return atomic_load_explicit(&port->rss_hf, memory_order_relaxed);
}

/*
 * dmas=: hand back to their pool the frames whose DMA copies libvhu has
 * published to the guest. From tx_burst and rx_burst both, so the tail
 * of a burst reaches the guest even when the application stops sending
 * (libvhu serialises the calls per queue: a concurrent one returns 0).
 */
static inline void
tx_dma_reap(struct vhu_dev *dev, uint16_t qp)
{
	struct rte_mbuf *done[VHU_BURST_MAX];
	uint16_t k;

	do {
		k = vhu_enqueue_poll_completed(dev, qp, done, RTE_DIM(done));
		rte_pktmbuf_free_bulk(done, k);
	} while (k == RTE_DIM(done));
}

/* RTE_ETH_RX_OFFLOAD_RSS_HASH: the hash a NIC would have given. */
static void
rx_rss_hash(struct vhu_eth_queue *rxq, struct rte_mbuf **pkts, uint16_t n)
{
	struct vhu_eth_rss_key k;
	uint64_t hf = rss_load(rxq->port, &k);

	for (uint16_t i = 0; i < n; i++) {
		pkts[i]->hash.rss = vhu_eth_rss_hash_mbuf(pkts[i], hf, &k);
		pkts[i]->ol_flags |= RTE_MBUF_F_RX_RSS_HASH;
	}
}

uint16_t
vhu_eth_rx_burst(void *q, struct rte_mbuf **pkts, uint16_t n)
{
	struct vhu_eth_queue *rxq = q;
	struct vhu_dev *dev;
	uint16_t got = 0;

	/* P2: pairs with P1 in publish_dp() */
	dev = atomic_load_explicit(&rxq->port->dp_dev, memory_order_acquire);
	if (unlikely(dev == NULL))
		return 0;
	if (unlikely(atomic_load_explicit(&rxq->port->dma_bound[0],
					  memory_order_relaxed) &
		     RTE_BIT32(rxq->qp)))
		tx_dma_reap(dev, rxq->qp);
	if (unlikely(atomic_load_explicit(&rxq->port->dma_bound[1],
					  memory_order_relaxed) &
		     RTE_BIT32(rxq->qp))) {
		/*
		 * dmas=rxqN: start the copies of what the guest sent, then
		 * take what is complete (this call's short frames, earlier
		 * calls' long ones), in the guest's order
		 */
		(void)vhu_dequeue_submit_burst(dev, rxq->qp, rxq->mp,
				RTE_MIN(n, (uint16_t)VHU_BURST_MAX));
		got = vhu_dequeue_poll_completed(dev, rxq->qp, pkts, n);
		n = 0; /* no synchronous dequeue below */
	}
	/* libvhu takes at most VHU_BURST_MAX per call: fill what was asked */
	while (got < n) {
		uint16_t want = RTE_MIN((uint16_t)(n - got),
					(uint16_t)VHU_BURST_MAX);
		uint16_t k = vhu_dequeue_burst(dev, rxq->qp, rxq->mp,
					       pkts + got, want);

		got += k;
		if (k < want)
			break;
	}
	if (got == 0)
		return 0;
	if (rxq->finish == VHU_ETH_FINISH_NONE) {
		for (uint16_t i = 0; i < got; i++)
			pkts[i]->port = rxq->port_id;
	} else {
		rx_finish(rxq, pkts, got);
	}
	if (rxq->rss_hash)
		rx_rss_hash(rxq, pkts, got);
	count_burst(&rxq->cnt, pkts, got);
	return got;
}

/* Whether the guest asked to receive m (its receive filter, in f). */
static inline bool
guest_wants(const struct vhu_rx_filter *f, const struct rte_mbuf *m)
{
	uint8_t hdr[16];
	uint32_t len = RTE_MIN(m->pkt_len, (uint32_t)sizeof(hdr));
	const void *p = rte_pktmbuf_read(m, 0, len, hdr);

	return p == NULL || vhu_rx_filter_accept(f, p, len);
}

/*
 * Tx when the guest filters what it receives (ctrl-queue=1, CTRL_RX or
 * CTRL_VLAN negotiated): frames it did not ask for are freed and counted
 * (tx_qN_filtered) instead of enqueued. Windows of VHU_BURST_MAX input
 * frames; the return value is the prefix of pkts consumed, sent or
 * filtered, as tx_burst promises.
 */
static uint16_t
tx_filtered(struct vhu_eth_queue *txq, struct vhu_dev *dev,
	    struct rte_mbuf **pkts, uint16_t n)
{
	uint32_t gen = atomic_load_explicit(&txq->port->filter_gen,
					    memory_order_relaxed);
	uint16_t done = 0;
	uint64_t filtered = 0;

	if (txq->filt_dev != dev || txq->filt.generation != gen) {
		(void)vhu_dev_rx_filter(dev, &txq->filt);
		txq->filt_dev = dev;
	}
	while (done < n) {
		struct rte_mbuf *keep[VHU_BURST_MAX];
		uint16_t at[VHU_BURST_MAX];
		bool refused[VHU_BURST_MAX];
		uint16_t nk = 0, i, k, end;

		for (i = done; i < n && i - done < VHU_BURST_MAX; i++) {
			refused[i - done] = !guest_wants(&txq->filt, pkts[i]);
			if (!refused[i - done]) {
				keep[nk] = pkts[i];
				at[nk++] = i;
			}
		}
		k = nk > 0 ? vhu_enqueue_burst(dev, txq->qp, keep, nk) : 0;
		/* consumed: up to the first kept frame the guest had no room for */
		end = k == nk ? i : at[k];
		for (uint16_t j = done; j < end; j++) {
			if (refused[j - done]) {
				rte_pktmbuf_free(pkts[j]);
				filtered++;
			}
		}
		if (k > 0) {
			count_burst(&txq->cnt, keep, k);
			rte_pktmbuf_free_bulk(keep, k);
		}
		done = end;
		if (k < nk)
			break; /* guest ring full: the rest stays the caller's */
	}
	if (filtered != 0)
		CNT_ADD(txq->cnt.filtered, filtered);
	return done;
}

/*
 * rss-steer=1: the guest receive queue pair of a frame's hash, RETA[hash
 * % size]. A queue pair the guest has not enabled folds onto the enabled
 * ones (the (entry % enabled)-th of them), so a flow keeps one queue as
 * long as the guest's set does not change.
 */
static inline uint16_t
steer_qp(const struct vhu_eth_port *port, uint32_t enabled, uint32_t hash)
{
	uint32_t qp = atomic_load_explicit(&port->reta[hash % VHU_ETH_RETA_SIZE],
					   memory_order_relaxed);
	unsigned int nth;

	if (likely(enabled & RTE_BIT32(qp)))
		return (uint16_t)qp;
	nth = qp % (unsigned int)__builtin_popcount(enabled);
	while (nth-- > 0)
		enabled &= enabled - 1;
	return (uint16_t)__builtin_ctz(enabled);
}

/*
 * One chunk (at most VHU_BURST_MAX frames) of a steered burst: frames are
 * grouped per target queue pair, in their order, and each group goes in
 * one enqueue under that queue's lock (any lcore may write any guest
 * queue). The accepted frames are moved to the front of pkts, the others
 * behind them in their order, so the caller gets back the frames not
 * sent as usual; a group is accepted in order up to the first refusal, so
 * no flow overtakes itself. Returns how many were accepted.
 */
static uint16_t
tx_steer_chunk(struct vhu_eth_port *port, struct vhu_dev *dev,
	       uint32_t enabled, uint64_t hf, const struct vhu_eth_rss_key *k,
	       struct rte_mbuf **pkts, uint16_t n)
{
	uint8_t tgt[VHU_BURST_MAX];
	uint16_t cnt[VHU_ETH_MAX_QUEUES] = { 0 }, pos[VHU_ETH_MAX_QUEUES];
	uint16_t idx[VHU_BURST_MAX];
	struct rte_mbuf *grp[VHU_BURST_MAX], *keep[VHU_BURST_MAX];
	bool ok[VHU_BURST_MAX];
	uint16_t at = 0, nacc = 0, nrej = 0;

	for (uint16_t i = 0; i < n; i++) {
		tgt[i] = (uint8_t)steer_qp(port, enabled,
					   vhu_eth_rss_hash_mbuf(pkts[i], hf, k));
		cnt[tgt[i]]++;
		ok[i] = false;
	}
	for (uint16_t q = 0; q < VHU_ETH_MAX_QUEUES; q++) {
		pos[q] = at;
		at += cnt[q];
	}
	for (uint16_t i = 0; i < n; i++) {
		idx[pos[tgt[i]]] = i;
		grp[pos[tgt[i]]++] = pkts[i];
	}
	at = 0;
	for (uint16_t q = 0; q < VHU_ETH_MAX_QUEUES; q++) {
		uint16_t k2;

		if (cnt[q] == 0)
			continue;
		rte_spinlock_lock(&port->steer_lock[q].lock);
		k2 = vhu_enqueue_burst(dev, q, grp + at, cnt[q]);
		rte_spinlock_unlock(&port->steer_lock[q].lock);
		for (uint16_t j = 0; j < k2; j++)
			ok[idx[at + j]] = true;
		at += cnt[q];
	}
	for (uint16_t i = 0; i < n; i++) {
		if (ok[i])
			pkts[nacc++] = pkts[i];
		else
			keep[nrej++] = pkts[i];
	}
	memcpy(pkts + nacc, keep, nrej * sizeof(keep[0]));
	return nacc;
}

static uint16_t
tx_steer(struct vhu_eth_queue *txq, struct vhu_dev *dev,
	 struct rte_mbuf **pkts, uint16_t n)
{
	struct vhu_eth_port *port = txq->port;
	uint32_t enabled = atomic_load_explicit(&port->steer_qps,
						memory_order_relaxed);
	struct vhu_eth_rss_key k;
	uint64_t hf = rss_load(port, &k);
	uint16_t sent = 0;

	if (unlikely(enabled == 0))
		return 0;
	while (sent < n) {
		uint16_t want = RTE_MIN((uint16_t)(n - sent),
					(uint16_t)VHU_BURST_MAX);
		uint16_t got = tx_steer_chunk(port, dev, enabled, hf, &k,
					      pkts + sent, want);

		sent += got;
		if (got < want)
			break; /* a later frame could overtake its own flow */
	}
	return sent;
}

/* Each frame into the guest queue pair of the ethdev Tx queue. */
static uint16_t
tx_plain(struct vhu_eth_queue *txq, struct vhu_dev *dev,
	 struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t sent = 0;

	while (sent < n) {
		uint16_t want = RTE_MIN((uint16_t)(n - sent),
					(uint16_t)VHU_BURST_MAX);
		uint16_t k = vhu_enqueue_burst(dev, txq->qp, pkts + sent, want);

		sent += k;
		if (k < want)
			break; /* guest ring full: the rest stays the caller's */
	}
	return sent;
}

/*
 * dmas=: payload copies on the queue's DMA channel (vhu_burst.h,
 * "Asynchronous enqueue"). The frames accepted belong to libvhu until
 * tx_dma_reap() gets them back; they are counted now, still valid.
 */
static uint16_t
tx_dma(struct vhu_eth_queue *txq, struct vhu_dev *dev,
       struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t sent = 0;

	tx_dma_reap(dev, txq->qp);
	while (sent < n) {
		uint16_t want = RTE_MIN((uint16_t)(n - sent),
					(uint16_t)VHU_BURST_MAX);
		uint16_t k = vhu_enqueue_submit_burst(dev, txq->qp,
						      pkts + sent, want);

		sent += k;
		if (k < want)
			break; /* guest ring or in-flight table full */
	}
	if (sent > 0)
		count_burst(&txq->cnt, pkts, sent);
	return sent;
}

uint16_t
vhu_eth_tx_burst(void *q, struct rte_mbuf **pkts, uint16_t n)
{
	struct vhu_eth_queue *txq = q;
	struct vhu_dev *dev;
	uint16_t sent;

	/* P2: pairs with P1 in publish_dp() */
	dev = atomic_load_explicit(&txq->port->dp_dev, memory_order_acquire);
	if (unlikely(dev == NULL))
		return 0;
	if (unlikely(atomic_load_explicit(&txq->port->dma_bound[0],
					  memory_order_relaxed) &
		     RTE_BIT32(txq->qp)))
		return tx_dma(txq, dev, pkts, n);
	/* the guest's receive filter counts and frees what it handles */
	if (unlikely(atomic_load_explicit(&txq->port->filter_on,
					  memory_order_relaxed)))
		return tx_filtered(txq, dev, pkts, n);
	if (txq->port->rss_steer)
		sent = tx_steer(txq, dev, pkts, n);
	else
		sent = tx_plain(txq, dev, pkts, n);
	if (sent == 0)
		return 0;
	/* counted before the free: the mbufs are gone afterwards */
	count_burst(&txq->cnt, pkts, sent);
	rte_pktmbuf_free_bulk(pkts, sent);
	return sent;
}

/* ---- counters, control side ---- */

static uint64_t
cnt_delta(const uint64_t *cur, const uint64_t *base)
{
	return vhu_eth_cnt_load(cur) - *base;
}

/* struct vhu_eth_lib_cnt as an array: every field is a uint64_t */
#define LIB_NB (sizeof(struct vhu_eth_lib_cnt) / sizeof(uint64_t))

static void
lib_now(struct vhu_dev *dev, uint16_t vring, struct vhu_eth_lib_cnt *out)
{
	struct vhu_vring_stats st;

	memset(out, 0, sizeof(*out));
	if (dev != NULL &&
	    vhu_dev_vring_stats(dev, vring, &st, sizeof(st)) >= 0) {
		out->drops_no_buf = st.drops_no_buf;
		out->desc_errors = st.desc_errors;
		out->broken = st.broken;
		out->drops_mtu = st.drops_mtu;
		out->drops_bad_hdr = st.drops_bad_hdr;
		out->sw_cksums = st.sw_cksums;
		out->sw_segmented = st.sw_segmented;
		out->calls = st.calls;
		out->kicks = st.kicks;
		out->enqueue_full = st.enqueue_full;
		out->iotlb_misses = st.iotlb_misses;
		out->dma_copies = st.dma_copies;
		out->dma_fallbacks = st.dma_fallbacks;
	}
}

/* Not a counter: the connected device's last wake-up latency, or 0. */
static uint64_t
kick_latency(struct vhu_eth_port *port, uint16_t vring)
{
	struct vhu_vring_stats st;
	uint64_t ns = 0;

	rte_spinlock_lock(&port->lock);
	if (port->dev != NULL &&
	    vhu_dev_vring_stats(port->dev, vring, &st, sizeof(st)) >= 0)
		ns = st.last_kick_latency_ns;
	rte_spinlock_unlock(&port->lock);
	return ns;
}

/*
 * libvhu counts per connection (its queues may be reset or reused by
 * another frontend), the port counts over its life: at connect the
 * device's current values become the base, at disconnect what it counted
 * since is folded into lib_accum. A counter that went backwards (the
 * library reset it) counts from zero again.
 */
static uint64_t
since(uint64_t now, uint64_t base)
{
	return now >= base ? now - base : now;
}

/* acc += what now counted since base, field by field */
static void
lib_add_since(struct vhu_eth_lib_cnt *acc, const struct vhu_eth_lib_cnt *now,
	      const struct vhu_eth_lib_cnt *base)
{
	uint64_t *a = (uint64_t *)acc;
	const uint64_t *n = (const uint64_t *)now, *b = (const uint64_t *)base;

	for (size_t i = 0; i < LIB_NB; i++)
		a[i] += since(n[i], b[i]);
}

void
vhu_eth_lib_rebase(struct vhu_eth_port *port, struct vhu_dev *dev)
{
	for (uint16_t v = 0; v < 2 * port->queues; v++)
		lib_now(dev, v, &port->lib_base[v]);
}

void
vhu_eth_lib_fold(struct vhu_eth_port *port, struct vhu_dev *dev)
{
	for (uint16_t v = 0; v < 2 * port->queues; v++) {
		struct vhu_eth_lib_cnt now;

		lib_now(dev, v, &now);
		lib_add_since(&port->lib_accum[v], &now, &port->lib_base[v]);
		memset(&port->lib_base[v], 0, sizeof(port->lib_base[v]));
	}
}

static void
lib_read(struct vhu_eth_port *port, uint16_t vring, struct vhu_eth_lib_cnt *out)
{
	rte_spinlock_lock(&port->lock);
	*out = port->lib_accum[vring];
	if (port->dev != NULL) {
		struct vhu_eth_lib_cnt now;

		lib_now(port->dev, vring, &now);
		lib_add_since(out, &now, &port->lib_base[vring]);
	}
	rte_spinlock_unlock(&port->lock);
}

/*
 * The per-queue xstats, in order. Names differ per direction (a NULL name:
 * none in that direction); the offload counters come last so the older
 * names keep their order.
 */
enum {
	XS_PACKETS,
	XS_BYTES,
	XS_SIZE0,
	XS_UNICAST = XS_SIZE0 + VHU_ETH_NB_SIZES,
	XS_MULTICAST,
	XS_BROADCAST,
	XS_DROPPED,
	XS_DESC_ERRORS,
	XS_BROKEN,
	XS_DROPPED_OL,   /* Rx: bad virtio-net header, Tx: over the MTU */
	XS_SW_CKSUMS,
	XS_SW_SEGMENTED, /* Tx only */
	XS_NOTIFICATIONS, /* calls libvhu made to the guest (net_vhost's) */
	XS_KICKS,        /* Rx: kicks consumed by Rx interrupt mode */
	XS_KICK_LATENCY, /* Rx: last wake-up to rx_burst, ns */
	XS_RING_FULL,    /* Tx: bursts the guest ring cut short */
	XS_IOTLB_MISSES,
	XS_FILTERED,     /* Tx only: refused by the guest's receive filter */
	XS_DMA_COPIES,   /* dmas=: pieces the DMA engine copied */
	XS_DMA_FALLBACKS, /* dmas=: ... the core copied instead */
	XS_PER_QUEUE,
};

#define XS_COMMON_NAMES \
	[XS_PACKETS] = "good_packets", \
	[XS_BYTES] = "good_bytes", \
	[XS_SIZE0 + VHU_ETH_SIZE_64] = "size_64_packets", \
	[XS_SIZE0 + VHU_ETH_SIZE_65_127] = "size_65_127_packets", \
	[XS_SIZE0 + VHU_ETH_SIZE_128_255] = "size_128_255_packets", \
	[XS_SIZE0 + VHU_ETH_SIZE_256_511] = "size_256_511_packets", \
	[XS_SIZE0 + VHU_ETH_SIZE_512_1023] = "size_512_1023_packets", \
	[XS_SIZE0 + VHU_ETH_SIZE_1024_1518] = "size_1024_1518_packets", \
	[XS_SIZE0 + VHU_ETH_SIZE_1519_MAX] = "size_1519_max_packets", \
	[XS_SIZE0 + VHU_ETH_SIZE_UNDER] = "undersize_packets", \
	[XS_UNICAST] = "unicast_packets", \
	[XS_MULTICAST] = "multicast_packets", \
	[XS_BROADCAST] = "broadcast_packets", \
	[XS_DESC_ERRORS] = "desc_errors", \
	[XS_BROKEN] = "broken", \
	[XS_SW_CKSUMS] = "sw_cksums", \
	[XS_NOTIFICATIONS] = "guest_notifications", \
	[XS_IOTLB_MISSES] = "iotlb_misses"

static const char *const xs_names[2][XS_PER_QUEUE] = {
	{ /* Tx */
		XS_COMMON_NAMES,
		[XS_DROPPED] = "dropped_no_guest_buf",
		[XS_DROPPED_OL] = "dropped_mtu",
		[XS_SW_SEGMENTED] = "sw_segmented",
		[XS_RING_FULL] = "ring_full",
		[XS_FILTERED] = "filtered",
		[XS_DMA_COPIES] = "dma_copies",
		[XS_DMA_FALLBACKS] = "dma_fallbacks",
	},
	{ /* Rx */
		XS_COMMON_NAMES,
		[XS_DROPPED] = "dropped_not_linear",
		[XS_DROPPED_OL] = "dropped_bad_hdr",
		[XS_KICKS] = "kicks",
		[XS_KICK_LATENCY] = "kick_latency_ns",
		[XS_DMA_COPIES] = "dma_copies",
		[XS_DMA_FALLBACKS] = "dma_fallbacks",
	},
};

/* Every per-queue value of Rx (rx) or Tx queue q. */
static void
queue_values(struct rte_eth_dev *eth_dev, uint16_t q, bool rx,
	     uint64_t v[XS_PER_QUEUE])
{
	struct vhu_eth_port *port = eth_dev->data->dev_private;
	const struct vhu_eth_queue *eq = rx ? eth_dev->data->rx_queues[q] :
					      eth_dev->data->tx_queues[q];
	struct vhu_eth_lib_cnt lib;

	memset(v, 0, sizeof(uint64_t) * XS_PER_QUEUE);
	if (eq != NULL) {
		const struct vhu_eth_counters *c = &eq->cnt, *b = &eq->base;

		v[XS_PACKETS] = cnt_delta(&c->packets, &b->packets);
		v[XS_BYTES] = cnt_delta(&c->bytes, &b->bytes);
		for (unsigned int s = 0; s < VHU_ETH_NB_SIZES; s++)
			v[XS_SIZE0 + s] = cnt_delta(&c->size[s], &b->size[s]);
		v[XS_MULTICAST] = cnt_delta(&c->multicast, &b->multicast);
		v[XS_BROADCAST] = cnt_delta(&c->broadcast, &b->broadcast);
		v[XS_UNICAST] = v[XS_PACKETS] - v[XS_MULTICAST] -
				v[XS_BROADCAST];
		v[XS_FILTERED] = cnt_delta(&c->filtered, &b->filtered);
		/* Rx: the partial checksums rx_burst completed */
		v[XS_SW_CKSUMS] = cnt_delta(&c->sw_cksums, &b->sw_cksums);
	}
	if (q < port->queues) {
		/* our Rx queue is the guest's Tx vring 2q+1, and vice versa */
		lib_read(port, (uint16_t)(2 * q + (rx ? 1 : 0)), &lib);
		v[XS_DESC_ERRORS] = lib.desc_errors;
		v[XS_BROKEN] = lib.broken;
		v[XS_SW_CKSUMS] += lib.sw_cksums;
		v[XS_NOTIFICATIONS] = lib.calls;
		v[XS_IOTLB_MISSES] = lib.iotlb_misses;
		if (rx) {
			/* linear-buffer=1: frames no one buffer could hold */
			v[XS_DROPPED] = lib.drops_no_buf;
			v[XS_DROPPED_OL] = lib.drops_bad_hdr;
			v[XS_KICKS] = lib.kicks;
			v[XS_KICK_LATENCY] = kick_latency(port,
							  (uint16_t)(2 * q + 1));
		} else {
			v[XS_RING_FULL] = lib.enqueue_full;
			v[XS_DROPPED] = lib.drops_no_buf;
			v[XS_DROPPED_OL] = lib.drops_mtu;
			v[XS_SW_SEGMENTED] = lib.sw_segmented;
		}
		v[XS_DMA_COPIES] = lib.dma_copies;
		v[XS_DMA_FALLBACKS] = lib.dma_fallbacks;
	}
}

int
vhu_eth_stats_get(struct rte_eth_dev *eth_dev, struct rte_eth_stats *st)
{
	uint64_t v[XS_PER_QUEUE];

	for (uint16_t q = 0; q < eth_dev->data->nb_rx_queues; q++) {
		queue_values(eth_dev, q, true, v);
		st->ipackets += v[XS_PACKETS];
		st->ibytes += v[XS_BYTES];
		st->ierrors += v[XS_DROPPED] + v[XS_DESC_ERRORS] +
			       v[XS_DROPPED_OL];
		if (q < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
			st->q_ipackets[q] = v[XS_PACKETS];
			st->q_ibytes[q] = v[XS_BYTES];
			st->q_errors[q] = v[XS_DROPPED] + v[XS_DESC_ERRORS] +
					  v[XS_DROPPED_OL];
		}
	}
	for (uint16_t q = 0; q < eth_dev->data->nb_tx_queues; q++) {
		queue_values(eth_dev, q, false, v);
		st->opackets += v[XS_PACKETS];
		st->obytes += v[XS_BYTES];
		/*
		 * like net_vhost: frames the guest had no room for; and those
		 * over its MTU (both counted in opackets too: tx_burst
		 * reports them sent)
		 */
		st->oerrors += v[XS_DROPPED] + v[XS_DESC_ERRORS] +
			       v[XS_DROPPED_OL];
		if (q < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
			st->q_opackets[q] = v[XS_PACKETS];
			st->q_obytes[q] = v[XS_BYTES];
		}
	}
	return 0;
}

static void
queue_rebase(struct vhu_eth_queue *eq)
{
	const uint64_t *c = (const uint64_t *)&eq->cnt;
	uint64_t *b = (uint64_t *)&eq->base;

	/* the lcore keeps counting: move the base, never touch cnt */
	for (size_t i = 0; i < sizeof(eq->cnt) / sizeof(uint64_t); i++)
		b[i] = vhu_eth_cnt_load(&c[i]);
}

int
vhu_eth_stats_reset(struct rte_eth_dev *eth_dev)
{
	struct vhu_eth_port *port = eth_dev->data->dev_private;

	for (uint16_t q = 0; q < eth_dev->data->nb_rx_queues; q++)
		if (eth_dev->data->rx_queues[q] != NULL)
			queue_rebase(eth_dev->data->rx_queues[q]);
	for (uint16_t q = 0; q < eth_dev->data->nb_tx_queues; q++)
		if (eth_dev->data->tx_queues[q] != NULL)
			queue_rebase(eth_dev->data->tx_queues[q]);
	rte_spinlock_lock(&port->lock);
	memset(port->lib_accum, 0, sizeof(port->lib_accum));
	vhu_eth_lib_rebase(port, port->dev);
	rte_spinlock_unlock(&port->lock);
	return 0;
}

/* How many xstats a queue of direction rx has. */
static unsigned int
xs_per_queue(bool rx)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < XS_PER_QUEUE; i++)
		n += xs_names[rx][i] != NULL;
	return n;
}

/*
 * Per-port xstats after the per-queue ones: the queue-count mismatch
 * eth_vhu.c finds (qcheck_alarm), as gauges.
 */
static const char *const xs_port_names[] = {
	"guest_idle_queue_pairs",     /* configured, not enabled by the guest */
	"unpolled_guest_queue_pairs", /* enabled by the guest, not configured */
};

static unsigned int
xstats_count(const struct rte_eth_dev *eth_dev)
{
	return eth_dev->data->nb_rx_queues * xs_per_queue(true) +
	       eth_dev->data->nb_tx_queues * xs_per_queue(false) +
	       RTE_DIM(xs_port_names);
}

int
vhu_eth_xstats_get_names(struct rte_eth_dev *eth_dev,
			 struct rte_eth_xstat_name *names, unsigned int size)
{
	unsigned int total = xstats_count(eth_dev), k = 0;

	if (names == NULL || size < total)
		return (int)total;
	for (int dir = 0; dir < 2; dir++) {
		bool rx = dir == 0;
		uint16_t nq = rx ? eth_dev->data->nb_rx_queues :
				   eth_dev->data->nb_tx_queues;

		for (uint16_t q = 0; q < nq; q++) {
			for (unsigned int i = 0; i < XS_PER_QUEUE; i++) {
				if (xs_names[rx][i] == NULL)
					continue;
				snprintf(names[k++].name,
					 sizeof(names[0].name), "%s_q%u_%s",
					 rx ? "rx" : "tx", q, xs_names[rx][i]);
			}
		}
	}
	for (unsigned int i = 0; i < RTE_DIM(xs_port_names); i++)
		snprintf(names[k++].name, sizeof(names[0].name), "%s",
			 xs_port_names[i]);
	return (int)total;
}

int
vhu_eth_xstats_get(struct rte_eth_dev *eth_dev, struct rte_eth_xstat *xs,
		   unsigned int n)
{
	struct vhu_eth_port *port = eth_dev->data->dev_private;
	unsigned int total = xstats_count(eth_dev), k = 0;
	uint64_t v[XS_PER_QUEUE];

	if (xs == NULL || n < total)
		return (int)total;
	for (int dir = 0; dir < 2; dir++) {
		bool rx = dir == 0;
		uint16_t nq = rx ? eth_dev->data->nb_rx_queues :
				   eth_dev->data->nb_tx_queues;

		for (uint16_t q = 0; q < nq; q++) {
			queue_values(eth_dev, q, rx, v);
			for (unsigned int i = 0; i < XS_PER_QUEUE; i++) {
				if (xs_names[rx][i] == NULL)
					continue;
				xs[k].id = k;
				xs[k].value = v[i];
				k++;
			}
		}
	}
	rte_spinlock_lock(&port->lock);
	xs[k].id = k;
	xs[k++].value = port->idle_qps;
	xs[k].id = k;
	xs[k++].value = port->unpolled_qps;
	rte_spinlock_unlock(&port->lock);
	return (int)total;
}
