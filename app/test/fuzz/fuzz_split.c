/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the virtqueue data path: split rings
 * (virtqueue/split.c and the walker in desc_split.h) and, with one input bit,
 * packed rings (packed.c, desc_packed.h) over the same memory. The input is a
 * guest that writes whatever it likes into its descriptor table, avail ring
 * and buffers, then lets the device run a few dequeue and enqueue bursts,
 * rewriting ring fields between them. Guest memory is one memfd mapped as one
 * or two regions (adjacent in guest-physical space or with a hole), each
 * region's host mapping ending exactly at a PROT_NONE guard page, so any
 * access past a region end faults even where ASan does not look (guest memory
 * is not heap). The dirty log ends at a guard page too. After every input all
 * mbufs are freed and the receive pool must be full again (no mbuf leak).
 *
 * Input layout (short inputs are zero-padded):
 *   [0]      ring size: 1 << (b % 11) (1..1024); packed: 1 + 4 * b
 *            (1..1021, need not be a power of two)
 *   [1]      bit 0 MRG_RXBUF, 1 INDIRECT_DESC, 2 EVENT_IDX, 3 VERSION_1,
 *            4 LOG_ALL, 5 VHOST_VRING_F_LOG on the used ring,
 *            6 two regions, 7 a one-page hole between them
 *   [2]      bits 0-3 dirty-log bytes (1..16), 4 raw avail->idx,
 *            5 guest wants kicks (vhu_vq_set_notify), 6 packed ring
 *            (VIRTIO_F_RING_PACKED: the "avail ring" bytes below are then
 *            the driver event area, the used ring the device event area),
 *            7 offloads (see below)
 *   [3]      region 0 shaved by 16 * b bytes (an unaligned region size)
 *   [4..5]   ring base (last_avail_idx = last_used_idx); packed: bits 0-15
 *            of the SET_VRING_BASE value
 *   [6]      entries made available at start (mod size + 1), unless raw;
 *            packed: bits 16-23 of the base value (bit 7 also bit 31)
 *   [7]      bits 0-2 rounds (1..8); with offloads, bit 3 legacy mbuf
 *            flags (VHU_SOCKET_LEGACY_OL_FLAGS), 4 MTU 1500 (F_MTU), 5
 *            TSO4 only (no TSO6, USO), 6 no ECN, 7 no CSUM / GUEST_CSUM
 *            (then nothing else is an offload either)
 *   [8..71]  eight 8-byte round scripts (see run_round())
 *   then     descriptor table (16 * size bytes), avail ring (6 + 2 * size
 *            bytes), and the rest into the buffer area. Packed descriptors
 *            are 16 bytes too: {addr, len, id, flags}, available when
 *            flag bit 7 (AVAIL) is the wrap counter (1 at base 0) and bit
 *            15 (USED) is not.
 *
 * Offloads (byte 2 bit 7): both directions' checksum and segmentation
 * features are negotiated (CSUM, GUEST_CSUM, HOST/GUEST_TSO4/6, ECN, USO,
 * less what byte 7 takes away), so the guest's transmit headers are read
 * (offload.c, net_hdr.c) and receive headers written; each enqueued frame
 * starts with a template Ethernet/IP/L4 header and carries offload flags,
 * both chosen by its round's script (run_round()). Bursts always go
 * through the offload stages as vhu_enqueue_burst() and
 * vhu_dequeue_burst() do; without the bit nothing asks for them.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include <rte_eal.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "vhu_atomic.h"
#include "vq.h"
#include "offload.h"
#include "fuzz_eal.h"

#define PAGE 4096u
#define REGION_SIZE (64u * 1024)      /* each region, before shaving */
#define DESC_OFF 0u                   /* ring layout inside region 0 */
#define AVAIL_OFF (16u * 1024)
#define USED_OFF (20u * 1024)
#define BUF_OFF (32u * 1024)
#define QVA_BASE 0x7f0000000000ull    /* frontend-virtual = QVA_BASE + gpa */
#define MAX_SIZE_LOG2 10
#define ROUNDS_MAX 8
#define SCRIPT_LEN 8
#define HDR_LEN (8 + ROUNDS_MAX * SCRIPT_LEN)
#define RX_POOL_N 192                 /* dequeue pool: small, so it runs dry */
#define RX_ROOM 2048
#define TX_POOL_N 512                 /* enqueue frames */
#define TX_ROOM 1024
#define PKTS_MAX 64
#define LOG_MAX 16

/* guard | region 0 | guard | region 1 | guard */
static uint8_t *area;
static uint8_t *map0, *map1;          /* the two memfd views */
static uint8_t *log_page;             /* one page then a guard page */
static struct rte_mempool *rx_pool, *tx_pool;
static int callfd, errfd;
static bool verbose;                  /* FUZZ_VERBOSE: logs and burst results */

static struct vhu_guest_mem mem;
static struct vhu_dirty_log dlog;
/* this input's offload convention and guest MTU (byte 7, offloads) */
static bool ol_legacy;
static uint16_t ol_mtu;

static void
die(const char *what)
{
	fuzz_die("fuzz_split", what);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int memfd;

	(void)argc;
	verbose = fuzz_eal_init("fuzz_split", (*argv)[0]);

	memfd = memfd_create("fuzz-split-guest", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, 2 * REGION_SIZE) != 0)
		die("memfd");
	area = mmap(NULL, 2 * REGION_SIZE + 3 * PAGE, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		die("mmap guard area");
	map0 = mmap(area + PAGE, REGION_SIZE, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_FIXED, memfd, 0);
	map1 = mmap(area + 2 * PAGE + REGION_SIZE, REGION_SIZE,
		    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, memfd,
		    REGION_SIZE);
	if (map0 == MAP_FAILED || map1 == MAP_FAILED)
		die("mmap guest memory");
	close(memfd);
	log_page = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (log_page == MAP_FAILED || mprotect(log_page + PAGE, PAGE, PROT_NONE))
		die("mmap log");

	rx_pool = rte_pktmbuf_pool_create("fuzz_rx", RX_POOL_N, 0, 0,
					  RX_ROOM + RTE_PKTMBUF_HEADROOM,
					  SOCKET_ID_ANY);
	tx_pool = rte_pktmbuf_pool_create("fuzz_tx", TX_POOL_N, 0, 0,
					  TX_ROOM + RTE_PKTMBUF_HEADROOM,
					  SOCKET_ID_ANY);
	if (rx_pool == NULL || tx_pool == NULL)
		die("mempool");
	callfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	errfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (callfd < 0 || errfd < 0)
		die("eventfd");
	return 0;
}

/* Input reader: bytes past the end read as zero. */
struct in {
	const uint8_t *p;
	size_t left;
};

static void
in_copy(struct in *in, uint8_t *dst, size_t len)
{
	size_t n = len < in->left ? len : in->left;

	memcpy(dst, in->p, n);
	memset(dst + n, 0, len - n);
	in->p += n;
	in->left -= n;
}

/* An mbuf chain of len bytes from the tx pool (NULL if it ran dry). */
static struct rte_mbuf *
make_frame(uint32_t len, uint8_t fill)
{
	struct rte_mbuf *head = rte_pktmbuf_alloc(tx_pool), *cur = head;

	if (head == NULL)
		return NULL;
	while (len > 0) {
		uint16_t n = (uint16_t)RTE_MIN(len, (uint32_t)TX_ROOM);
		char *d;

		if (rte_pktmbuf_tailroom(cur) == 0) {
			struct rte_mbuf *seg = rte_pktmbuf_alloc(tx_pool);

			if (seg == NULL || rte_pktmbuf_chain(head, seg) != 0) {
				rte_pktmbuf_free(seg);
				rte_pktmbuf_free(head);
				return NULL;
			}
			cur = seg;
		}
		n = RTE_MIN(n, rte_pktmbuf_tailroom(cur));
		d = rte_pktmbuf_append(head, n);
		if (d == NULL) {
			rte_pktmbuf_free(head);
			return NULL;
		}
		memset(d, fill, n);
		len -= n;
	}
	return head;
}

/*
 * Offload requests an enqueued frame may carry (run_round(): s[3] & 15),
 * in both of DPDK's conventions, some of them inconsistent on purpose.
 */
static const uint64_t ol_flag_sets[16] = {
	0,
	RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4,
	RTE_MBUF_F_TX_UDP_CKSUM | RTE_MBUF_F_TX_IPV6,
	RTE_MBUF_F_RX_L4_CKSUM_NONE,
	RTE_MBUF_F_RX_L4_CKSUM_GOOD,
	RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4,
	RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV6,
	RTE_MBUF_F_RX_LRO | RTE_MBUF_F_RX_L4_CKSUM_NONE,
	RTE_MBUF_F_RX_LRO | RTE_MBUF_F_RX_L4_CKSUM_GOOD,
	RTE_MBUF_F_TX_UDP_SEG | RTE_MBUF_F_TX_IPV4,
	RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_IPV4,
	RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4,
	RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_UDP_SEG | RTE_MBUF_F_RX_LRO,
	RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK,
	RTE_MBUF_F_TX_SCTP_CKSUM,
	RTE_MBUF_F_TX_UDP_SEG | RTE_MBUF_F_TX_UDP_CKSUM | RTE_MBUF_F_TX_IPV6,
};

/*
 * Write header template t (0..7) at the start of the frame's first
 * segment (as far as it holds it): IPv4 or IPv6, TCP or UDP, a VLAN tag,
 * CWR, IPv4 options, or not IP at all. Length fields follow len; the
 * checksums are whatever the bytes make them.
 */
static void
put_template(struct rte_mbuf *m, unsigned int t, uint32_t len)
{
	uint8_t h[96];
	uint32_t l2 = (t == 4) ? 18 : 14, l3, n;
	bool v6 = t == 1 || t == 3, udp = t == 2 || t == 3;
	uint8_t *ip = h + l2, *l4;

	memset(h, 0, sizeof(h));
	h[0] = 0x02;
	h[6] = 0x02;
	if (t == 4) {
		h[12] = 0x81;
		h[16] = 0x08;
	} else if (t == 7) {
		h[12] = 0x88;
		h[13] = 0xb5;
	} else {
		h[12] = v6 ? 0x86 : 0x08;
		h[13] = v6 ? 0xdd : 0x00;
	}
	l3 = v6 ? 40 : (t == 6 ? 28 : 20);
	if (v6) {
		ip[0] = 0x60;
		ip[4] = (uint8_t)((len - l2 - l3) >> 8);
		ip[5] = (uint8_t)(len - l2 - l3);
		ip[6] = udp ? 17 : 6;
		ip[7] = 64;
	} else {
		ip[0] = (uint8_t)(0x40 | l3 / 4);
		ip[2] = (uint8_t)((len - l2) >> 8);
		ip[3] = (uint8_t)(len - l2);
		ip[8] = 64;
		ip[9] = udp ? 17 : 6;
	}
	l4 = ip + l3;
	if (udp) {
		l4[4] = (uint8_t)((len - l2 - l3) >> 8);
		l4[5] = (uint8_t)(len - l2 - l3);
	} else {
		l4[12] = 5 << 4;
		l4[13] = t == 5 ? 0x90 : 0x10;  /* CWR | ACK, or ACK */
	}
	n = RTE_MIN((uint32_t)(l4 - h) + (udp ? 8 : 20),
		    (uint32_t)m->data_len);
	memcpy(rte_pktmbuf_mtod(m, uint8_t *), h, n);
}

/* What the protocol layer does for num, addr, base, kick, call, start. */
static void
configure(struct vhu_vq *vq, uint32_t qsize, const struct vhost_vring_addr *a,
	  uint32_t base, uint64_t features)
{
	vhu_vq_quiesce(vq);
	/* as WITH_VQ (handlers.c): features before num and base */
	vhu_vq_set_features_locked(vq, features);
	vhu_vq_set_net_locked(vq, ol_legacy, ol_mtu);
	if (vhu_vq_set_num_locked(vq, qsize) != 0 ||
	    vhu_vq_set_addr_locked(vq, a) != 0 ||
	    vhu_vq_set_base_locked(vq, base) != 0)
		abort();
	vhu_vq_set_kick_locked(vq, -1);
	vhu_vq_set_call_locked(vq, dup(callfd));
	vhu_vq_set_err_locked(vq, dup(errfd));
	vhu_vq_set_enabled_locked(vq, true);
	vhu_vq_set_running_locked(vq, true);
	vhu_vq_resume(vq);
}

/*
 * One round, script s[0..7]:
 *   s[0] bit 0: enqueue (else dequeue); bit 1: avail->idx += s[1] before;
 *        bit 2: avail->idx = last_avail_idx + s[1]; bit 3: the guest
 *        writes s[4..7] at region-0 offset 4 * (s[2] | s[3] << 8) first;
 *        bit 4: toggle kick notification; bit 5: a second burst at once;
 *        bit 6: toggle LOG_ALL (may change while the device runs);
 *        bit 7: the frontend takes the ring back and restarts it where it
 *        stopped (GET_VRING_BASE, then num, addr, base, kick, call again)
 *   s[1] burst size (mod 65)
 *   enqueue frame lengths cycle through 37 * s[4..7] (0..9435 bytes)
 *   offloads (byte 2 bit 7): each enqueued frame starts with header
 *   template s[2] & 7 (put_template()), carries ol_flag_sets[s[3] & 15],
 *   tso_segsz 100 * (s[3] >> 4) and l2/l3/l4_len 14/20/20
 */
static void
run_round(struct vhu_vq *vq, struct vring_avail *avail, uint32_t r0size,
	  const uint8_t *s, bool *notify, bool ol)
{
	struct rte_mbuf *pkts[PKTS_MAX];
	uint16_t count = s[1] % (PKTS_MAX + 1);
	int bursts = (s[0] & 0x20) ? 2 : 1;

	if (s[0] & 0x08) {
		uint32_t off = 4u * (s[2] | (uint32_t)s[3] << 8);

		if (off + 4 <= r0size)
			memcpy(map0 + (REGION_SIZE - r0size) + off, &s[4], 4);
	}
	if (s[0] & 0x02)
		vhu_atomic_store_u16(&avail->idx,
				     (uint16_t)(avail->idx + s[1]),
				     memory_order_release);
	if (s[0] & 0x04)
		vhu_atomic_store_u16(&avail->idx,
				     (uint16_t)(vq->last_avail_idx + s[1]),
				     memory_order_release);
	if (s[0] & 0x10) {
		*notify = !*notify;
		vhu_vq_set_notify(vq, *notify);
	}
	if (s[0] & 0x40) {
		vhu_vq_quiesce(vq);
		vhu_vq_set_features_locked(vq, vq->features ^
					   (1ull << VHOST_F_LOG_ALL));
		vhu_vq_resume(vq);
	}
	if (s[0] & 0x80) {
		struct vhost_vring_addr a = vq->addr;
		uint32_t qsize = vq->num;
		uint64_t features = vq->features;
		uint32_t base;

		vhu_vq_quiesce(vq);
		base = vhu_vq_get_base_locked(vq);
		vhu_vq_stop_locked(vq);
		vhu_vq_resume(vq);
		configure(vq, qsize, &a, base, features);
	}
	for (int b = 0; b < bursts; b++) {
		uint16_t n = 0, done = 0;

		if (s[0] & 0x01) {
			for (n = 0; n < count; n++) {
				pkts[n] = make_frame(37u * s[4 + n % 4],
						     (uint8_t)n);
				if (pkts[n] == NULL)
					break;
				if (ol) {
					struct rte_mbuf *m = pkts[n];

					put_template(m, s[2] & 7, m->pkt_len);
					m->ol_flags = ol_flag_sets[s[3] & 15];
					m->tso_segsz = (uint16_t)(100 *
								  (s[3] >> 4));
					m->l2_len = 14;
					m->l3_len = 20;
					m->l4_len = 20;
				}
			}
			/*
			 * as vhu_enqueue_burst(): enter, check ready, the
			 * offload stage when a packet wants it, leave
			 */
			if (vhu_vq_enter(vq)) {
				bool stage = false;

				for (uint16_t k = 0; k < n && !stage; k++)
					stage = vhu_offload_wanted(vq, pkts[k]);
				if (vq->ready && stage)
					done = vhu_offload_enqueue(vq, pkts, n);
				else if (vq->ready)
					done = (vq->flags & VHU_VQ_F_PACKED) ?
					       vhu_packed_enqueue(vq, pkts, n) :
					       vhu_split_enqueue(vq, pkts, n);
				vhu_vq_leave(vq);
			}
			/* enqueue copies: the caller keeps (and frees) all */
			rte_pktmbuf_free_bulk(pkts, n);
		} else {
			if (vhu_vq_enter(vq)) {
				if (vq->ready)
					n = done = (vq->flags & VHU_VQ_F_PACKED) ?
					    vhu_packed_dequeue(vq, rx_pool,
							       pkts, count) :
					    vhu_split_dequeue(vq, rx_pool,
							      pkts, count);
				/* the guest's headers, as vhu_dequeue_burst() */
				if (n > 0 && (vq->flags & VHU_VQ_F_NET_OL))
					n = done = vhu_offload_dequeue(vq, pkts,
								       n);
				vhu_vq_leave(vq);
			}
			for (uint16_t i = 0; i < n; i++) {
				/* every mbuf must be a sane chain */
				if (rte_mbuf_check(pkts[i], 1, NULL) != 0)
					abort();
			}
			rte_pktmbuf_free_bulk(pkts, n);
		}
		if (verbose)
			fprintf(stderr, "fuzz_split: %s: %u of %u (%s)\n",
				(s[0] & 1) ? "enqueue" : "dequeue", done,
				count, vq->why_not_ready ?
				vq->why_not_ready : "ready");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	uint8_t hdr[HDR_LEN];
	struct vhost_vring_addr a;
	struct vring_avail *avail;
	struct vhu_vq *vq;
	uint64_t features = 0;
	uint32_t qsize, r0size, log_bytes, base;
	uint8_t f, o;
	bool packed, ol;
	bool notify;
	uint8_t *r0;
	int rounds;

	in_copy(&in, hdr, sizeof(hdr));
	f = hdr[1];
	o = hdr[2];
	packed = o & 0x40;
	ol = o & 0x80;
	if (packed) {
		qsize = 1u + 4u * hdr[0];
		base = hdr[4] | (uint32_t)hdr[5] << 8 |
		       (uint32_t)hdr[6] << 16 | (uint32_t)(hdr[6] & 0x80) << 24;
	} else {
		qsize = 1u << (hdr[0] % (MAX_SIZE_LOG2 + 1));
		base = hdr[4] | (uint32_t)hdr[5] << 8;
	}
	r0size = REGION_SIZE - 16u * hdr[3];
	rounds = 1 + hdr[7] % ROUNDS_MAX;

	/* guest memory: zero, region 0 ends where its guard page starts */
	memset(map0, 0, REGION_SIZE);
	memset(map1, 0, REGION_SIZE);
	r0 = map0 + (REGION_SIZE - r0size);
	memset(&mem, 0, sizeof(mem));
	mem.nregions = (f & 0x40) ? 2 : 1;
	mem.r[0].gpa = 0;
	mem.r[0].size = r0size;
	mem.r[0].qva = QVA_BASE;
	mem.r[0].hva = r0;
	mem.r[1].gpa = r0size + ((f & 0x80) ? PAGE : 0);
	mem.r[1].size = REGION_SIZE;
	mem.r[1].qva = QVA_BASE + mem.r[1].gpa;
	mem.r[1].hva = map1;

	/* the log ends at its guard page; it may cover less than memory */
	log_bytes = 1 + (o & 0x0f);
	memset(log_page, 0, PAGE);
	dlog.base = log_page + PAGE - log_bytes;
	dlog.size = log_bytes;

	in_copy(&in, r0 + DESC_OFF, 16u * qsize);
	in_copy(&in, r0 + AVAIL_OFF, 6u + 2u * qsize);
	in_copy(&in, r0 + BUF_OFF, r0size - BUF_OFF);
	in_copy(&in, map1, REGION_SIZE);
	avail = (struct vring_avail *)(r0 + AVAIL_OFF);
	if (!(o & 0x10) && !packed)
		avail->idx = (uint16_t)(base + hdr[6] % (qsize + 1));

	if (f & 0x01)
		features |= 1ull << VIRTIO_NET_F_MRG_RXBUF;
	if (f & 0x02)
		features |= 1ull << VIRTIO_RING_F_INDIRECT_DESC;
	if (f & 0x04)
		features |= 1ull << VIRTIO_RING_F_EVENT_IDX;
	if (f & 0x08)
		features |= 1ull << VIRTIO_F_VERSION_1;
	if (f & 0x10)
		features |= 1ull << VHOST_F_LOG_ALL;
	if (packed)
		features |= 1ull << VIRTIO_F_RING_PACKED;
	ol_legacy = false;
	ol_mtu = 0;
	if (ol) {
		uint64_t host = 1ull << VIRTIO_NET_F_HOST_TSO4;
		uint64_t guest = 1ull << VIRTIO_NET_F_GUEST_TSO4;

		if (!(hdr[7] & 0x20)) {
			host |= 1ull << VIRTIO_NET_F_HOST_TSO6 |
				1ull << VIRTIO_NET_F_HOST_USO;
			guest |= 1ull << VIRTIO_NET_F_GUEST_TSO6 |
				 1ull << VIRTIO_NET_F_GUEST_USO4 |
				 1ull << VIRTIO_NET_F_GUEST_USO6;
		}
		if (!(hdr[7] & 0x40)) {
			host |= 1ull << VIRTIO_NET_F_HOST_ECN;
			guest |= 1ull << VIRTIO_NET_F_GUEST_ECN;
		}
		if (!(hdr[7] & 0x80))
			features |= host | guest |
				    1ull << VIRTIO_NET_F_CSUM |
				    1ull << VIRTIO_NET_F_GUEST_CSUM;
		ol_legacy = hdr[7] & 0x08;
		if (hdr[7] & 0x10) {
			ol_mtu = 1500;
			features |= 1ull << VIRTIO_NET_F_MTU;
		}
	}

	vq = vhu_vq_create(0, 0, SOCKET_ID_ANY, &mem, &dlog);
	if (vq == NULL)
		abort();
	memset(&a, 0, sizeof(a));
	a.flags = (f & 0x20) ? 1u << VHOST_VRING_F_LOG : 0;
	a.desc_user_addr = QVA_BASE + DESC_OFF;
	a.avail_user_addr = QVA_BASE + AVAIL_OFF;
	a.used_user_addr = QVA_BASE + USED_OFF;
	a.log_guest_addr = USED_OFF;
	configure(vq, qsize, &a, base, features);
	notify = o & 0x20;
	if (notify)
		vhu_vq_set_notify(vq, true);

	for (int r = 0; r < rounds; r++)
		run_round(vq, avail, r0size, &hdr[8 + SCRIPT_LEN * r], &notify,
			  ol);

	vhu_vq_quiesce(vq);
	vhu_vq_set_running_locked(vq, false);
	vhu_vq_resume(vq);
	vhu_vq_destroy(vq);
	/* every mbuf a burst took came back (pool cache size 0: exact) */
	if (rte_mempool_avail_count(rx_pool) != RX_POOL_N ||
	    rte_mempool_avail_count(tx_pool) != TX_POOL_N) {
		fprintf(stderr, "fuzz_split: mbuf leak: rx %u/%u tx %u/%u\n",
			rte_mempool_avail_count(rx_pool), RX_POOL_N,
			rte_mempool_avail_count(tx_pool), TX_POOL_N);
		abort();
	}
	return 0;
}
