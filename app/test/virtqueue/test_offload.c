/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit suite for the offloads of the data path (offload.c, net_hdr.c,
 * the header writes of copy.h and fastpath.h, the per-vring flags of
 * vq.c set_offloads()) through the public bursts, over the ring harness
 * (ring_harness.h), split and packed, mergeable and not.
 *
 * Enqueue: mbufs asking for checksum or segmentation offloads (both of
 * DPDK's flag conventions) to a guest that negotiated GUEST_CSUM and
 * GUEST_TSO4/6 (the receive header is checked byte by byte) and to one
 * that did not (checksums verified by the reference sum below, GSO frames
 * cut into MSS-sized frames with their own headers, the counters); a
 * shared mbuf left alone; frames longer than the MTU dropped and counted.
 * Dequeue: guest transmit headers turned into mbuf metadata (compliant
 * and legacy flags), checksums the metadata cannot describe completed in
 * software, bad headers dropped and counted while the rest of the burst
 * goes on, a header split over two descriptors, headers ignored without
 * CSUM; and vhu_pkt_finish_cksum().
 *
 * The checksum reference here is written from RFC 1071 (big-endian 16-bit
 * words, end-around carry) and RFC 793 / RFC 768 / RFC 8200 §8.1
 * (pseudo-headers), independent of the library's pkt_offload.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "net_hdr.h"
#include "net_ref.h"
#include "ring_harness.h"
#include "vhu.h"
#include "vhu_burst.h"

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

#define F_GUEST_OL (BIT(VIRTIO_NET_F_GUEST_CSUM) | \
		    BIT(VIRTIO_NET_F_GUEST_TSO4) | \
		    BIT(VIRTIO_NET_F_GUEST_TSO6) | \
		    BIT(VIRTIO_NET_F_GUEST_ECN) | \
		    BIT(VIRTIO_NET_F_GUEST_USO4) | \
		    BIT(VIRTIO_NET_F_GUEST_USO6))
#define F_HOST_OL (BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4) | \
		   BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_HOST_ECN) | \
		   BIT(VIRTIO_NET_F_HOST_USO))
#define RX_L4_NONE RTE_MBUF_F_RX_L4_CKSUM_NONE
#define MAXF 12000

/* ------------------------------------------------------------ matrix */

/* One cell: ring layout and receive buffers (mergeable or big chains). */
struct cell {
	bool packed, mrg;
};

static const struct cell cells[4] = {
	{ false, false }, { false, true }, { true, false }, { true, true },
};

static void
env_up(struct rh_env *e, const struct cell *c, uint64_t extra)
{
	uint64_t f = BIT(VIRTIO_F_VERSION_1) | extra |
		     (c->mrg ? BIT(VIRTIO_NET_F_MRG_RXBUF) : 0) |
		     (c->packed ? BIT(VIRTIO_F_RING_PACKED) : 0);

	rh_env_setup(e, f, 256, c->packed ? RH_WRAP : 0);
}

/* Offload convention and MTU, as the protocol layer hands them over. */
static void
set_net(struct vhu_vq *vq, bool legacy, uint16_t mtu)
{
	vhu_vq_quiesce(vq);
	vhu_vq_set_net_locked(vq, legacy, mtu);
	vhu_vq_resume(vq);
	assert_true(vq->ready);
}

static struct vhu_vring_stats
stats(const struct rh_env *e, uint16_t vring)
{
	struct vhu_vring_stats st;

	assert_int_equal(vhu_dev_vring_stats(e->dev, vring, &st, sizeof(st)),
			 (int)sizeof(st));
	return st;
}

/* -------------------------------------------------- reference sums */

static uint16_t
ref_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Where a test frame's headers are. */
struct layout {
	uint32_t l2, l3, l4, len;
	bool v6, udp;
};

/* Pseudo-header sum (RFC 793 §3.1, RFC 768, RFC 8200 §8.1). */
static uint32_t
ref_pseudo(const uint8_t *f, const struct layout *lo, uint32_t l4len)
{
	const uint8_t *ip = f + lo->l2;
	uint32_t sum;

	if (lo->v6)
		sum = ref_sum(ip + 8, 32, 0);
	else
		sum = ref_sum(ip + 12, 8, 0);
	return sum + (lo->udp ? IPPROTO_UDP : IPPROTO_TCP) + (l4len >> 16) +
	       (l4len & 0xffff);
}

static uint32_t
l4_off_csum(const struct layout *lo)
{
	return lo->l2 + lo->l3 + (lo->udp ? 6 : 16);
}

/* The L4 checksum of frame f is complete and right. */
static void
expect_l4_ok(const uint8_t *f, const struct layout *lo)
{
	uint32_t l4len = lo->len - lo->l2 - lo->l3;
	uint32_t s = ref_pseudo(f, lo, l4len);

	s = ref_sum(f + lo->l2 + lo->l3, l4len, s);
	if (ref_fold(s) != 0xffff)
		fail_msg("L4 checksum wrong: sum %#x", ref_fold(s));
	if (lo->udp)
		assert_int_not_equal(f[l4_off_csum(lo)] |
				     f[l4_off_csum(lo) + 1], 0);
}

static void
expect_ip_ok(const uint8_t *f, const struct layout *lo)
{
	if (!lo->v6)
		assert_int_equal(ref_fold(ref_sum(f + lo->l2, lo->l3, 0)),
				 0xffff);
}

static void
set_l4_complete(uint8_t *f, const struct layout *lo)
{
	uint32_t l4len = lo->len - lo->l2 - lo->l3;
	uint32_t o = l4_off_csum(lo);
	uint16_t ck;

	f[o] = f[o + 1] = 0;
	ck = (uint16_t)~ref_fold(ref_sum(f + lo->l2 + lo->l3, l4len,
					 ref_pseudo(f, lo, l4len)));
	if (lo->udp && ck == 0)
		ck = 0xffff;
	f[o] = ck >> 8;
	f[o + 1] = ck & 0xff;
}

/* ----------------------------------------------------------- frames */

struct fspec {
	bool v6, udp, vlan;
	uint32_t payload;
	uint8_t tcp_flags;
	uint32_t seed;
};

/*
 * Ethernet (a VLAN tag), IPv4 (id 0x1234, TTL 64, header checksum right)
 * or IPv6, TCP (seq 0x01000000 + seed, 20 bytes) or UDP, payload of
 * rh_pattern(seed); the L4 checksum complete. Returns the layout.
 */
static struct layout
build(uint8_t *f, const struct fspec *s)
{
	struct layout lo = { .l2 = 14, .v6 = s->v6, .udp = s->udp };
	uint32_t l4len;
	uint8_t *ip, *l4;

	memset(f, 0, 64);
	for (int i = 0; i < 6; i++) {
		f[i] = (uint8_t)(i == 0 ? 0x02 : 0x10 + i);
		f[6 + i] = (uint8_t)(i == 0 ? 0x02 : 0x20 + i);
	}
	if (s->vlan) {
		put16(f + 12, RTE_ETHER_TYPE_VLAN);
		put16(f + 14, 0x0005);
		lo.l2 = 18;
	}
	put16(f + lo.l2 - 2, s->v6 ? RTE_ETHER_TYPE_IPV6 : RTE_ETHER_TYPE_IPV4);
	lo.l3 = s->v6 ? 40 : 20;
	lo.l4 = s->udp ? 8 : 20;
	l4len = lo.l4 + s->payload;
	lo.len = lo.l2 + lo.l3 + l4len;
	assert_true(lo.len <= MAXF);
	ip = f + lo.l2;
	l4 = ip + lo.l3;
	memset(ip, 0, lo.l3 + lo.l4);
	if (s->v6) {
		ip[0] = 0x60;
		put16(ip + 4, (uint16_t)l4len);
		ip[6] = s->udp ? IPPROTO_UDP : IPPROTO_TCP;
		ip[7] = 64;
		for (int i = 0; i < 16; i++) {
			ip[8 + i] = (uint8_t)(0xfd ^ i);
			ip[24 + i] = (uint8_t)(0xfe ^ (i * 3));
		}
	} else {
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)(lo.l3 + l4len));
		put16(ip + 4, 0x1234);
		ip[8] = 64;
		ip[9] = s->udp ? IPPROTO_UDP : IPPROTO_TCP;
		put32(ip + 12, 0x0a000001);
		put32(ip + 16, 0x0a000002 + s->seed);
		put16(ip + 10, (uint16_t)~ref_fold(ref_sum(ip, 20, 0)));
	}
	put16(l4, 4000);
	put16(l4 + 2, 80);
	if (s->udp) {
		put16(l4 + 4, (uint16_t)l4len);
	} else {
		put32(l4 + 4, 0x01000000 + s->seed);
		put32(l4 + 8, 0x77);
		l4[12] = 5 << 4;
		l4[13] = s->tcp_flags ? s->tcp_flags : RTE_TCP_ACK_FLAG;
		put16(l4 + 14, 0xffff);
	}
	for (uint32_t i = 0; i < s->payload; i++)
		l4[lo.l4 + i] = rh_pattern(s->seed, i);
	set_l4_complete(f, &lo);
	return lo;
}

/* An mbuf (chained in 2048-byte rooms) holding f; flags and lengths set. */
static struct rte_mbuf *
to_mbuf(const uint8_t *f, const struct layout *lo, uint64_t ol,
	uint16_t segsz)
{
	struct rte_mbuf *head = NULL;
	uint32_t off = 0;

	while (off < lo->len) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(rh_pool);
		uint32_t n = RTE_MIN(lo->len - off, (uint32_t)RH_DATA_ROOM);

		assert_non_null(m);
		memcpy(rte_pktmbuf_append(m, n), f + off, n);
		off += n;
		if (head == NULL)
			head = m;
		else
			assert_int_equal(rte_pktmbuf_chain(head, m), 0);
	}
	head->ol_flags = ol;
	head->l2_len = lo->l2;
	head->l3_len = lo->l3;
	head->l4_len = lo->l4;
	head->tso_segsz = segsz;
	return head;
}

/*
 * DPDK's partial-checksum convention for TX_*_CKSUM / *_SEG (and what a
 * NIC hands up with RX_L4_CKSUM_NONE): the pseudo-header sum in the
 * field, from rte_ipv4_phdr_cksum() / rte_ipv6_phdr_cksum().
 */
static void
make_partial(struct rte_mbuf *m, const struct layout *lo, uint64_t ol)
{
	uint8_t *ip = rte_pktmbuf_mtod_offset(m, uint8_t *, lo->l2);
	uint16_t ph = lo->v6 ?
		rte_ipv6_phdr_cksum((const struct rte_ipv6_hdr *)ip, ol) :
		rte_ipv4_phdr_cksum((const struct rte_ipv4_hdr *)ip, ol);

	memcpy(rte_pktmbuf_mtod_offset(m, uint8_t *, l4_off_csum(lo)), &ph, 2);
}

static void
fill_rx(struct rh_env *e, int n)
{
	if (e->mrg) {
		rh_post_rx_n(e, n, 1536);
	} else {
		static const uint32_t big[] = { 4096, 4096, 4096 };

		for (int i = 0; i < n; i++)
			assert_true(vtd_post_rx(&e->rx, big, 3, false) >= 0);
		vtd_publish(&e->rx);
	}
}

/*
 * The next frame the guest received: header and frame into out (the
 * header first, hdr_len bytes), its length returned; *nbufs the buffers
 * it took (checked against num_buffers).
 */
static uint32_t
rx_take(struct rh_env *e, uint8_t *out, uint32_t *nbufs)
{
	uint32_t id, len, total = 0, nb = 1;

	for (uint32_t k = 0; k < nb; k++) {
		assert_true(vtd_get_used(&e->rx, &id, &len));
		assert_true(total + len <= MAXF + 12);
		vtd_gather(&e->rx, (uint16_t)id, out + total, len);
		if (k == 0)
			nb = out[10] | out[11] << 8;
		assert_true(nb >= 1);
		total += len;
	}
	if (!e->mrg)
		assert_int_equal(nb, 1);
	if (nbufs != NULL)
		*nbufs = nb;
	return total;
}

/* The receive header, field by field (virtio 1.2 §5.1.6). */
struct rxh {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset;
};

static void
expect_hdr(const uint8_t *h, const struct rxh *want, uint32_t nbufs)
{
	uint8_t exp[12];

	exp[0] = want->flags;
	exp[1] = want->gso_type;
	exp[2] = want->hdr_len & 0xff;
	exp[3] = want->hdr_len >> 8;
	exp[4] = want->gso_size & 0xff;
	exp[5] = want->gso_size >> 8;
	exp[6] = want->csum_start & 0xff;
	exp[7] = want->csum_start >> 8;
	exp[8] = want->csum_offset & 0xff;
	exp[9] = want->csum_offset >> 8;
	exp[10] = nbufs & 0xff;
	exp[11] = (uint8_t)(nbufs >> 8);
	for (int i = 0; i < 12; i++)
		if (h[i] != exp[i])
			fail_msg("header byte %d: %#x, expected %#x", i, h[i],
				 exp[i]);
}

/* ------------------------------------------ enqueue, guest offloads */

/*
 * One packet to a guest with GUEST_CSUM, TSO4/6, ECN and USO: placed as
 * it is (bytes unchanged but for what the stage must do), with header
 * want.
 */
static void
enq_hdr_case(struct rh_env *e, const struct fspec *s, uint64_t ol,
	     uint16_t segsz, const struct rxh *want)
{
	static uint8_t f[MAXF], got[MAXF + 12];
	struct layout lo = build(f, s);
	struct rte_mbuf *m = to_mbuf(f, &lo, ol, segsz);
	uint32_t nb, len;

	if (ol & (RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK |
		  RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_UDP_SEG |
		  RTE_MBUF_F_RX_LRO)) {
		if ((ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) !=
		    RTE_MBUF_F_RX_L4_CKSUM_GOOD) {
			make_partial(m, &lo, ol);
			memcpy(f + l4_off_csum(&lo),
			       rte_pktmbuf_mtod_offset(m, uint8_t *,
						       l4_off_csum(&lo)), 2);
		}
	}
	/* the stage must compute it: nothing there to begin with */
	if (ol & RTE_MBUF_F_TX_IP_CKSUM)
		memset(rte_pktmbuf_mtod_offset(m, uint8_t *, lo.l2 + 10), 0, 2);
	assert_int_equal(vhu_enqueue_burst(e->dev, 0, &m, 1), 1);
	len = rx_take(e, got, &nb);
	assert_int_equal(len, 12 + lo.len);
	if (!e->mrg)
		assert_int_equal(nb, 1);
	else
		assert_int_equal(nb, (12 + lo.len + 1535) / 1536);
	expect_hdr(got, want, nb);
	if (ol & RTE_MBUF_F_TX_IP_CKSUM) {
		/* virtio has no IP checksum offload: done before */
		expect_ip_ok(got + 12, &lo);
		memcpy(f + lo.l2 + 10, got + 12 + lo.l2 + 10, 2);
	}
	assert_memory_equal(got + 12, f, lo.len);
	rte_pktmbuf_free(m);
}

static void
test_enq_guest_ol(void **state)
{
	const struct cell *c = *state;
	struct rh_env e;
	const uint8_t cwr = RTE_TCP_CWR_FLAG | RTE_TCP_ACK_FLAG;
	struct vhu_vring_stats st;

	env_up(&e, c, F_GUEST_OL);
	assert_true(e.rxq->flags & VHU_VQ_F_NET_OL);
	fill_rx(&e, 64);
	/* partial checksums, DPDK transmit convention */
	enq_hdr_case(&e, &(struct fspec){ .payload = 100 },
		     RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4, 0,
		     &(struct rxh){ 1, 0, 0, 0, 34, 16 });
	enq_hdr_case(&e, &(struct fspec){ .v6 = true, .udp = true,
					  .payload = 333 },
		     RTE_MBUF_F_TX_UDP_CKSUM | RTE_MBUF_F_TX_IPV6, 0,
		     &(struct rxh){ 1, 0, 0, 0, 54, 6 });
	enq_hdr_case(&e, &(struct fspec){ .v6 = true, .payload = 1 },
		     RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV6, 0,
		     &(struct rxh){ 1, 0, 0, 0, 54, 16 });
	/* receive convention: partial, behind a VLAN tag */
	enq_hdr_case(&e, &(struct fspec){ .vlan = true, .payload = 500 },
		     RX_L4_NONE, 0, &(struct rxh){ 1, 0, 0, 0, 38, 16 });
	enq_hdr_case(&e, &(struct fspec){ .vlan = true, .udp = true,
					  .payload = 7 },
		     RX_L4_NONE, 0, &(struct rxh){ 1, 0, 0, 0, 38, 6 });
	/* known good: DATA_VALID only */
	enq_hdr_case(&e, &(struct fspec){ .payload = 100 },
		     RTE_MBUF_F_RX_L4_CKSUM_GOOD, 0,
		     &(struct rxh){ 2, 0, 0, 0, 0, 0 });
	/* no flag: an all-zero header */
	enq_hdr_case(&e, &(struct fspec){ .payload = 100 }, 0, 0,
		     &(struct rxh){ 0 });
	/* segmentation requests, both conventions */
	enq_hdr_case(&e, &(struct fspec){ .payload = 3000 },
		     RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM |
		     RTE_MBUF_F_TX_IPV4, 1000,
		     &(struct rxh){ 1, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1000, 34,
				    16 });
	enq_hdr_case(&e, &(struct fspec){ .v6 = true, .payload = 4000 },
		     RTE_MBUF_F_RX_LRO | RX_L4_NONE, 1440,
		     &(struct rxh){ 1, VIRTIO_NET_HDR_GSO_TCPV6, 74, 1440, 54,
				    16 });
	enq_hdr_case(&e, &(struct fspec){ .vlan = true, .payload = 2500 },
		     RTE_MBUF_F_RX_LRO | RX_L4_NONE, 1200,
		     &(struct rxh){ 1, VIRTIO_NET_HDR_GSO_TCPV4, 58, 1200, 38,
				    16 });
	/* CWR set: the ECN bit (GUEST_ECN negotiated) */
	enq_hdr_case(&e, &(struct fspec){ .payload = 3000, .tcp_flags = cwr },
		     RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV4, 1000,
		     &(struct rxh){ 1, VIRTIO_NET_HDR_GSO_TCPV4 |
				    VIRTIO_NET_HDR_GSO_ECN, 54, 1000, 34, 16 });
	enq_hdr_case(&e, &(struct fspec){ .udp = true, .payload = 3000 },
		     RTE_MBUF_F_TX_UDP_SEG | RTE_MBUF_F_TX_IPV4, 1400,
		     &(struct rxh){ 1, VIRTIO_NET_HDR_GSO_UDP_L4, 42, 1400, 34,
				    6 });
	enq_hdr_case(&e, &(struct fspec){ .v6 = true, .udp = true,
					  .payload = 3000 },
		     RTE_MBUF_F_TX_UDP_SEG | RTE_MBUF_F_TX_IPV6, 1400,
		     &(struct rxh){ 1, VIRTIO_NET_HDR_GSO_UDP_L4, 62, 1400, 54,
				    6 });
	/* IP header checksum: no virtio offload, done in software */
	enq_hdr_case(&e, &(struct fspec){ .payload = 100 },
		     RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM |
		     RTE_MBUF_F_TX_IPV4, 0,
		     &(struct rxh){ 1, 0, 0, 0, 34, 16 });
	st = stats(&e, 0);
	assert_int_equal(st.sw_segmented, 0);
	assert_int_equal(st.drops_mtu, 0);
	assert_int_equal(st.packets, 14);
	rh_expect_clean(&e);
	rh_env_teardown(&e);
}

/*
 * A burst of small one-segment packets with checksum requests: the fast
 * paths (split's one-buffer orders, packed's lines of four) write the
 * same headers as the one-at-a-time path.
 */
static void
test_enq_guest_ol_burst(void **state)
{
	const struct cell *c = *state;
	static uint8_t f[16][2048], got[MAXF + 12];
	static const struct {
		struct fspec s;
		uint64_t ol;
		struct rxh h;
	} k[8] = {
		{ { .payload = 100 },
		  RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4,
		  { 1, 0, 0, 0, 34, 16 } },
		{ { .v6 = true, .udp = true, .payload = 90 }, RX_L4_NONE,
		  { 1, 0, 0, 0, 54, 6 } },
		{ { .payload = 80 }, RTE_MBUF_F_RX_L4_CKSUM_GOOD,
		  { 2, 0, 0, 0, 0, 0 } },
		{ { .payload = 70 }, 0, { 0, 0, 0, 0, 0, 0 } },
		{ { .vlan = true, .udp = true, .payload = 60 },
		  RTE_MBUF_F_TX_UDP_CKSUM | RTE_MBUF_F_TX_IPV4,
		  { 1, 0, 0, 0, 38, 6 } },
		{ { .v6 = true, .payload = 1000 }, RX_L4_NONE,
		  { 1, 0, 0, 0, 54, 16 } },
		{ { .payload = 10 }, RTE_MBUF_F_RX_L4_CKSUM_BAD,
		  { 0, 0, 0, 0, 0, 0 } },
		{ { .udp = true, .payload = 1400 }, RX_L4_NONE,
		  { 1, 0, 0, 0, 34, 6 } },
	};
	struct rte_mbuf *m[16];
	struct layout lo[16];
	struct rh_env e;
	uint32_t nb;

	env_up(&e, c, F_GUEST_OL);
	fill_rx(&e, 16);
	for (int i = 0; i < 16; i++) {
		struct fspec sp = k[i % 8].s;

		sp.seed = (uint32_t)i;
		lo[i] = build(f[i], &sp);
		m[i] = to_mbuf(f[i], &lo[i], k[i % 8].ol, 0);
		if (vhu_mbuf_l4_partial(m[i])) {
			make_partial(m[i], &lo[i], k[i % 8].ol);
			memcpy(f[i] + l4_off_csum(&lo[i]),
			       rte_pktmbuf_mtod_offset(m[i], uint8_t *,
						       l4_off_csum(&lo[i])), 2);
		}
	}
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, m, 16), 16);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(rx_take(&e, got, &nb), 12 + lo[i].len);
		expect_hdr(got, &k[i % 8].h, nb);
		assert_memory_equal(got + 12, f[i], lo[i].len);
		rte_pktmbuf_free(m[i]);
	}
	rh_expect_clean(&e);
	rh_env_teardown(&e);
}

/* ---------------------------------------- enqueue, software offloads */

/* One packet, one frame out, L4 (and IPv4) checksum right. */
static void
enq_sw_csum_case(struct rh_env *e, const struct fspec *s, uint64_t ol,
		 bool shared)
{
	static uint8_t f[MAXF], got[MAXF + 12], before[MAXF];
	struct layout lo = build(f, s);
	struct rte_mbuf *m = to_mbuf(f, &lo, ol, 0);
	uint64_t sw = stats(e, 0).sw_cksums;
	bool l4 = (ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RX_L4_NONE ||
		  (ol & RTE_MBUF_F_TX_L4_MASK) != 0;
	uint32_t nb;

	if (l4)
		make_partial(m, &lo, ol);
	if (ol & RTE_MBUF_F_TX_IP_CKSUM)
		memset(rte_pktmbuf_mtod_offset(m, uint8_t *, lo.l2 + 10), 0, 2);
	memcpy(before, rte_pktmbuf_mtod(m, uint8_t *), m->data_len);
	if (shared)
		rte_mbuf_refcnt_update(m, 1);
	assert_int_equal(vhu_enqueue_burst(e->dev, 0, &m, 1), 1);
	assert_int_equal(rx_take(e, got, &nb), 12 + lo.len);
	expect_hdr(got, &(struct rxh){ 0 }, nb);
	expect_l4_ok(got + 12, &lo);
	expect_ip_ok(got + 12, &lo);
	/* the rest of the frame as built */
	assert_memory_equal(got + 12 + lo.l2 + lo.l3 + lo.l4,
			    f + lo.l2 + lo.l3 + lo.l4,
			    lo.len - lo.l2 - lo.l3 - lo.l4);
	assert_int_equal(stats(e, 0).sw_cksums, sw + (l4 ? 1 : 0));
	if (shared) {
		/* another holder: bytes and flags untouched (copy path) */
		assert_memory_equal(rte_pktmbuf_mtod(m, uint8_t *), before,
				    m->data_len);
		assert_int_equal(m->ol_flags, ol);
		rte_mbuf_refcnt_update(m, -1);
	} else if (l4) {
		/* completed in place, and the flags say so (vhu_burst.h) */
		assert_int_equal(m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK,
				 RTE_MBUF_F_RX_L4_CKSUM_GOOD);
		assert_int_equal(m->ol_flags & RTE_MBUF_F_TX_L4_MASK, 0);
		assert_memory_equal(rte_pktmbuf_mtod(m, uint8_t *), got + 12,
				    m->data_len);
	}
	rte_pktmbuf_free(m);
}

static void
test_enq_sw_csum(void **state)
{
	const struct cell *c = *state;
	struct rh_env e;
	unsigned int avail = rte_mempool_avail_count(rh_pool);

	env_up(&e, c, 0);
	assert_false(e.rxq->flags & VHU_VQ_F_NET_OL);
	fill_rx(&e, 32);
	enq_sw_csum_case(&e, &(struct fspec){ .payload = 100 },
			 RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4, false);
	enq_sw_csum_case(&e, &(struct fspec){ .payload = 1001, .udp = true },
			 RTE_MBUF_F_TX_UDP_CKSUM | RTE_MBUF_F_TX_IPV4, false);
	enq_sw_csum_case(&e, &(struct fspec){ .v6 = true, .payload = 777 },
			 RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV6, false);
	enq_sw_csum_case(&e, &(struct fspec){ .v6 = true, .udp = true,
					      .payload = 3 },
			 RTE_MBUF_F_TX_UDP_CKSUM | RTE_MBUF_F_TX_IPV6, false);
	enq_sw_csum_case(&e, &(struct fspec){ .vlan = true, .payload = 64 },
			 RX_L4_NONE, false);
	enq_sw_csum_case(&e, &(struct fspec){ .vlan = true, .v6 = true,
					      .udp = true, .payload = 1400 },
			 RX_L4_NONE, false);
	/* multi-segment: the field and the sum cross mbufs */
	enq_sw_csum_case(&e, &(struct fspec){ .payload = 5001 },
			 RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4, false);
	/* IP header only */
	enq_sw_csum_case(&e, &(struct fspec){ .payload = 10 },
			 RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_IPV4, false);
	enq_sw_csum_case(&e, &(struct fspec){ .payload = 10, .udp = true },
			 RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM |
			 RTE_MBUF_F_TX_IPV4, false);
	/* shared (refcnt 2): done in a copy */
	enq_sw_csum_case(&e, &(struct fspec){ .payload = 200 },
			 RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4, true);
	enq_sw_csum_case(&e, &(struct fspec){ .v6 = true, .udp = true,
					      .payload = 200 },
			 RX_L4_NONE, true);
	/* known good: nothing to do, nothing to say (no GUEST_CSUM) */
	enq_sw_csum_case(&e, &(struct fspec){ .payload = 50 },
			 RTE_MBUF_F_RX_L4_CKSUM_GOOD, false);
	assert_int_equal(stats(&e, 0).sw_cksums, 10);
	assert_int_equal(stats(&e, 0).packets, 12);
	rh_expect_clean(&e);
	/* every copy went back to the pool */
	assert_int_equal(rte_mempool_avail_count(rh_pool), avail);
	rh_env_teardown(&e);
}

/*
 * A GSO packet for a guest that cannot take it as it is: one packet
 * consumed, frames of at most segsz payload bytes out, each in its own
 * buffer(s), with consistent headers and complete checksums.
 */
static void
enq_sw_seg_case(struct rh_env *e, const struct fspec *s, uint64_t ol,
		uint16_t segsz, bool shared)
{
	static uint8_t f[MAXF], got[MAXF + 12];
	struct layout lo = build(f, s);
	struct rte_mbuf *m = to_mbuf(f, &lo, ol, segsz);
	struct vhu_vring_stats st0 = stats(e, 0), st1;
	uint32_t nseg = (s->payload + segsz - 1) / segsz;
	uint32_t hdr = lo.l2 + lo.l3 + lo.l4;
	unsigned int avail;

	make_partial(m, &lo, ol);
	if (shared)
		rte_mbuf_refcnt_update(m, 1);
	avail = rte_mempool_avail_count(rh_pool);
	assert_int_equal(vhu_enqueue_burst(e->dev, 0, &m, 1), 1);
	assert_int_equal(rte_mempool_avail_count(rh_pool), avail);
	for (uint32_t k = 0; k < nseg; k++) {
		uint32_t pl = RTE_MIN((uint32_t)segsz, s->payload - k * segsz);
		struct layout sl = lo;
		const uint8_t *g = got + 12, *ip, *l4;
		uint32_t nb;

		sl.len = hdr + pl;
		assert_int_equal(rx_take(e, got, &nb), 12 + sl.len);
		if (e->mrg)
			assert_int_equal(nb, 1);
		/* complete checksums: DATA_VALID, if the guest reads flags */
		expect_hdr(got, &(struct rxh){
			.flags = (e->rxq->ol_caps & VHU_OL_CSUM) ?
				 VIRTIO_NET_HDR_F_DATA_VALID : 0 }, nb);
		/* L2 as it was */
		assert_memory_equal(g, f, lo.l2);
		ip = g + lo.l2;
		l4 = ip + lo.l3;
		if (lo.v6) {
			assert_int_equal(get16(ip + 4), lo.l4 + pl);
		} else {
			assert_int_equal(get16(ip + 2), lo.l3 + lo.l4 + pl);
			assert_int_equal(get16(ip + 4), 0x1234 + k);
			expect_ip_ok(g, &sl);
		}
		if (lo.udp) {
			assert_int_equal(get16(l4 + 4), 8 + pl);
		} else {
			uint8_t fl = s->tcp_flags ? s->tcp_flags :
						    RTE_TCP_ACK_FLAG;

			assert_int_equal(get32(l4 + 4),
					 0x01000000 + s->seed + k * segsz);
			if (k + 1 < nseg)
				fl &= ~(RTE_TCP_FIN_FLAG | RTE_TCP_PSH_FLAG);
			if (k > 0)
				fl &= ~RTE_TCP_CWR_FLAG;
			assert_int_equal(l4[13], fl);
		}
		expect_l4_ok(g, &sl);
		for (uint32_t i = 0; i < pl; i++)
			if (g[hdr + i] != rh_pattern(s->seed, k * segsz + i))
				fail_msg("segment %u byte %u differs", k, i);
	}
	st1 = stats(e, 0);
	assert_int_equal(st1.sw_segmented, st0.sw_segmented + 1);
	assert_int_equal(st1.packets, st0.packets + nseg);
	if (shared) {
		/* the caller's packet is not touched */
		assert_int_equal(m->ol_flags, ol);
		rte_mbuf_refcnt_update(m, -1);
	}
	rte_pktmbuf_free(m);
}

static void
test_enq_sw_seg(void **state)
{
	const struct cell *c = *state;
	const uint8_t fin = RTE_TCP_ACK_FLAG | RTE_TCP_PSH_FLAG |
			    RTE_TCP_FIN_FLAG;
	const uint8_t cwr = RTE_TCP_ACK_FLAG | RTE_TCP_CWR_FLAG;
	unsigned int avail = rte_mempool_avail_count(rh_pool);
	struct rh_env e;

	env_up(&e, c, 0);
	fill_rx(&e, 40);
	enq_sw_seg_case(&e, &(struct fspec){ .payload = 3500, .tcp_flags = fin },
			RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM |
			RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM, 1000,
			false);
	enq_sw_seg_case(&e, &(struct fspec){ .v6 = true, .payload = 4000,
					     .seed = 9 },
			RTE_MBUF_F_RX_LRO | RX_L4_NONE, 1440, false);
	enq_sw_seg_case(&e, &(struct fspec){ .vlan = true, .payload = 2896,
					     .tcp_flags = cwr },
			RTE_MBUF_F_RX_LRO | RX_L4_NONE, 1448, false);
	enq_sw_seg_case(&e, &(struct fspec){ .udp = true, .payload = 3000 },
			RTE_MBUF_F_TX_UDP_SEG | RTE_MBUF_F_TX_IPV4, 1400,
			false);
	enq_sw_seg_case(&e, &(struct fspec){ .v6 = true, .udp = true,
					     .payload = 2000 },
			RTE_MBUF_F_TX_UDP_SEG | RTE_MBUF_F_TX_IPV6, 512, false);
	/* payload below the MSS: one frame */
	enq_sw_seg_case(&e, &(struct fspec){ .payload = 300 },
			RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV4, 1000,
			false);
	enq_sw_seg_case(&e, &(struct fspec){ .payload = 3000, .seed = 4 },
			RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV4, 1000, true);
	rh_expect_clean(&e);
	assert_int_equal(stats(&e, 0).sw_segmented, 7);
	rh_env_teardown(&e);

	/*
	 * Some offloads negotiated: TSO4 without TSO6 and ECN goes as it
	 * is for IPv4 without CWR, is cut for IPv6 or with CWR.
	 */
	env_up(&e, c, BIT(VIRTIO_NET_F_GUEST_CSUM) |
		      BIT(VIRTIO_NET_F_GUEST_TSO4));
	fill_rx(&e, 64);
	enq_hdr_case(&e, &(struct fspec){ .payload = 3000 },
		     RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV4, 1000,
		     &(struct rxh){ 1, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1000, 34,
				    16 });
	enq_sw_seg_case(&e, &(struct fspec){ .v6 = true, .payload = 3000 },
			RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV6, 1000,
			false);
	enq_sw_seg_case(&e, &(struct fspec){ .payload = 3000,
					     .tcp_flags = cwr },
			RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV4, 1000,
			false);
	enq_sw_seg_case(&e, &(struct fspec){ .udp = true, .payload = 3000 },
			RTE_MBUF_F_TX_UDP_SEG | RTE_MBUF_F_TX_IPV4, 1000,
			false);
	rh_expect_clean(&e);
	rh_env_teardown(&e);
	assert_int_equal(rte_mempool_avail_count(rh_pool), avail);
}

/*
 * Segments that find the guest's ring full: the packet counts as placed
 * once its first segments went in (it cannot be offered again), and every
 * segment that did not is counted in drops_no_buf; with no room for the
 * first, nothing is placed and the burst ends there.
 */
static void
test_enq_sw_seg_ring_full(void **state)
{
	const struct cell *c = *state;
	static uint8_t f[MAXF], got[MAXF + 12];
	static const struct {
		uint32_t bufs, payload;
	} cases[] = {
		{ 5, 1000 },    /* 10 segments, one chunk */
		{ 40, 10000 },  /* 100 segments, four chunks */
		{ 32, 6400 },   /* 64: the ring fills with the second chunk */
	};
	unsigned int avail = rte_mempool_avail_count(rh_pool);

	for (size_t i = 0; i < RTE_DIM(cases); i++) {
		struct layout lo = build(f, &(struct fspec){
			.payload = cases[i].payload });
		struct rte_mbuf *m[2];
		struct vhu_vring_stats st;
		uint32_t nb, nseg = cases[i].payload / 100;
		uint64_t d0;
		struct rh_env e;

		env_up(&e, c, 0);
		m[0] = to_mbuf(f, &lo, RTE_MBUF_F_TX_TCP_SEG |
			       RTE_MBUF_F_TX_IPV4, 100);
		make_partial(m[0], &lo, m[0]->ol_flags);
		m[1] = rh_make_chain(60, 1, false);
		/*
		 * no room at all: nothing placed, the packets stay the
		 * caller's, and like any burst the full ring ends, it counts
		 * each of them once (vhu_burst.h, drops_no_buf)
		 */
		assert_int_equal(vhu_enqueue_burst(e.dev, 0, m, 2), 0);
		d0 = stats(&e, 0).drops_no_buf;
		if (d0 != 2)
			fail_msg("full ring, GSO packet then another: "
				 "drops_no_buf %" PRIu64 ", expected 2", d0);
		fill_rx(&e, (int)cases[i].bufs);
		assert_int_equal(vhu_enqueue_burst(e.dev, 0, m, 1), 1);
		for (uint32_t k = 0; k < cases[i].bufs; k++)
			assert_int_equal(rx_take(&e, got, &nb),
					 12 + lo.l2 + lo.l3 + lo.l4 + 100);
		assert_int_equal(vtd_used_pending(&e.rx), 0);
		st = stats(&e, 0);
		assert_int_equal(st.packets, cases[i].bufs);
		assert_int_equal(st.sw_segmented, 1);
		/* the segments that found no room, each once */
		if (st.drops_no_buf - d0 != nseg - cases[i].bufs)
			fail_msg("%u of %u segments placed: drops_no_buf +%"
				 PRIu64 ", expected +%u", cases[i].bufs, nseg,
				 st.drops_no_buf - d0, nseg - cases[i].bufs);
		rte_pktmbuf_free(m[0]);
		rte_pktmbuf_free(m[1]);
		rh_env_teardown(&e);
	}
	/*
	 * A packet for the stage meets the full ring mid-burst: the burst
	 * ends there and counts it and the rest, once each, as a burst
	 * without offloads does.
	 */
	{
		struct layout lo = build(f, &(struct fspec){ .payload = 100 });
		struct rte_mbuf *m[4];
		struct rh_env e;

		env_up(&e, c, 0);
		fill_rx(&e, 1);
		m[0] = rh_make_chain(60, 1, false);
		m[1] = to_mbuf(f, &lo, RTE_MBUF_F_TX_IP_CKSUM |
			       RTE_MBUF_F_TX_IPV4, 0);
		m[2] = rh_make_chain(60, 2, false);
		m[3] = rh_make_chain(60, 3, false);
		assert_int_equal(vhu_enqueue_burst(e.dev, 0, m, 4), 1);
		assert_int_equal(stats(&e, 0).drops_no_buf, 3);
		rh_rx_check_frame(&e, 60, 1);
		for (int k = 0; k < 4; k++)
			rte_pktmbuf_free(m[k]);
		/* a run of plain packets fills it, one for the stage after */
		m[0] = rh_make_chain(60, 4, false);
		m[1] = rh_make_chain(60, 5, false);
		m[2] = to_mbuf(f, &lo, RTE_MBUF_F_TX_IP_CKSUM |
			       RTE_MBUF_F_TX_IPV4, 0);
		fill_rx(&e, 1);
		assert_int_equal(vhu_enqueue_burst(e.dev, 0, m, 3), 1);
		assert_int_equal(stats(&e, 0).drops_no_buf, 3 + 2);
		rh_rx_check_frame(&e, 60, 4);
		for (int k = 0; k < 3; k++)
			rte_pktmbuf_free(m[k]);
		rh_env_teardown(&e);
	}
	assert_int_equal(rte_mempool_avail_count(rh_pool), avail);
}

/*
 * A GSO packet the guest takes as it is needs no work, so no copy: not
 * even when another holder shares it and its pool is dry (a switch
 * flooding one packet to several ports), nor when it is longer than the
 * guest's MTU (GSO frames are not held to it).
 */
static void
test_enq_gso_shared_dry_pool(void **state)
{
	const struct cell *c = *state;
	static uint8_t f[MAXF], got[MAXF + 12];
	struct rte_mempool *tiny;
	struct rte_mbuf *m, *hold[8];
	struct layout lo;
	struct rh_env e;
	char name[RTE_MEMPOOL_NAMESIZE];
	unsigned int nh = 0;
	uint32_t nb;

	snprintf(name, sizeof(name), "ol_tiny_%d", (int)(c - cells));
	tiny = rte_pktmbuf_pool_create(name, 4, 0, 0,
				       RH_DATA_ROOM + RTE_PKTMBUF_HEADROOM,
				       SOCKET_ID_ANY);
	assert_non_null(tiny);
	env_up(&e, c, F_GUEST_OL | BIT(VIRTIO_NET_F_MTU));
	set_net(e.rxq, false, 1500);
	fill_rx(&e, 16);
	lo = build(f, &(struct fspec){ .payload = 3000 });
	m = rte_pktmbuf_alloc(tiny);
	assert_non_null(m);
	memcpy(rte_pktmbuf_append(m, RH_DATA_ROOM), f, RH_DATA_ROOM);
	hold[nh] = rte_pktmbuf_alloc(tiny);
	assert_non_null(hold[nh]);
	memcpy(rte_pktmbuf_append(hold[nh], lo.len - RH_DATA_ROOM),
	       f + RH_DATA_ROOM, lo.len - RH_DATA_ROOM);
	assert_int_equal(rte_pktmbuf_chain(m, hold[nh]), 0);
	while ((hold[nh] = rte_pktmbuf_alloc(tiny)) != NULL)
		nh++;
	m->ol_flags = RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV4;
	m->l2_len = lo.l2;
	m->l3_len = lo.l3;
	m->l4_len = lo.l4;
	m->tso_segsz = 1448;
	make_partial(m, &lo, m->ol_flags);
	memcpy(f + l4_off_csum(&lo),
	       rte_pktmbuf_mtod_offset(m, uint8_t *, l4_off_csum(&lo)), 2);
	rte_mbuf_refcnt_update(m, 1);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, &m, 1), 1);
	assert_int_equal(stats(&e, 0).drops_no_buf, 0);
	assert_int_equal(stats(&e, 0).drops_mtu, 0);
	assert_int_equal(rx_take(&e, got, &nb), 12 + lo.len);
	expect_hdr(got, &(struct rxh){ 1, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448,
				       34, 16 }, nb);
	assert_memory_equal(got + 12, f, lo.len);
	rte_mbuf_refcnt_update(m, -1);
	rte_pktmbuf_free(m);
	for (unsigned int i = 0; i < nh; i++)
		rte_pktmbuf_free(hold[i]);
	rh_env_teardown(&e);
	rte_mempool_free(tiny);
}

/* --------------------------------------------------------------- MTU */

static void
test_enq_mtu(void **state)
{
	const struct cell *c = *state;
	static uint8_t f[MAXF], got[MAXF + 12];
	/* 1518 = MTU 1500 + Ethernet + a VLAN tag: the most that goes */
	const uint32_t lens[] = { 60, 1519, 1518, 9000, 100 };
	struct rte_mbuf *m[6];
	struct layout lo;
	struct rh_env e;
	uint32_t nb;

	env_up(&e, c, F_GUEST_OL | BIT(VIRTIO_NET_F_MTU));
	set_net(e.rxq, false, 1500);
	assert_int_equal(e.rxq->max_frame, 1518);
	fill_rx(&e, 32);
	for (int i = 0; i < 5; i++)
		m[i] = rh_make_chain(lens[i], (uint32_t)i, true);
	/* a GSO frame is not held to the MTU */
	lo = build(f, &(struct fspec){ .payload = 6000 });
	m[5] = to_mbuf(f, &lo, RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV4,
		       1448);
	make_partial(m[5], &lo, m[5]->ol_flags);
	memcpy(f + l4_off_csum(&lo),
	       rte_pktmbuf_mtod_offset(m[5], uint8_t *, l4_off_csum(&lo)), 2);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, m, 6), 6);
	rh_rx_check_frame(&e, 60, 0);
	rh_rx_check_frame(&e, 1518, 2);
	rh_rx_check_frame(&e, 100, 4);
	assert_int_equal(rx_take(&e, got, &nb), 12 + lo.len);
	assert_memory_equal(got + 12, f, lo.len);
	assert_int_equal(got[1], VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(vtd_used_pending(&e.rx), 0);
	assert_int_equal(stats(&e, 0).drops_mtu, 2);
	assert_int_equal(stats(&e, 0).packets, 4);
	for (int i = 0; i < 6; i++)
		rte_pktmbuf_free(m[i]);
	/* without F_MTU the MTU message means nothing to the data path */
	rh_env_teardown(&e);
	env_up(&e, c, 0);
	set_net(e.rxq, false, 1500);
	assert_int_equal(e.rxq->max_frame, UINT32_MAX);
	fill_rx(&e, 8);
	m[0] = rh_make_chain(1600, 7, false);
	assert_int_equal(vhu_enqueue_burst(e.dev, 0, m, 1), 1);
	rh_rx_check_frame(&e, 1600, 7);
	rte_pktmbuf_free(m[0]);
	assert_int_equal(stats(&e, 0).drops_mtu, 0);
	rh_env_teardown(&e);
}

/* ------------------------------------------------------------ dequeue */

/* A guest transmit header (virtio 1.2 §5.1.6), little-endian fields. */
struct txh {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset;
};

static void
put_txh(uint8_t *b, const struct txh *h)
{
	memset(b, 0, 12);
	b[0] = h->flags;
	b[1] = h->gso_type;
	b[2] = h->hdr_len & 0xff;
	b[3] = h->hdr_len >> 8;
	b[4] = h->gso_size & 0xff;
	b[5] = h->gso_size >> 8;
	b[6] = h->csum_start & 0xff;
	b[7] = h->csum_start >> 8;
	b[8] = h->csum_offset & 0xff;
	b[9] = h->csum_offset >> 8;
}

/*
 * Post header + frame, cut at the offsets in cuts (ascending, 0-ended;
 * none: one buffer).
 */
static void
post_tx(struct rh_env *e, const struct txh *h, const uint8_t *f,
	uint32_t len, const uint32_t *cuts)
{
	static uint8_t all[MAXF + 12];
	struct vtd_buf b[8];
	uint32_t off = 0;
	int n = 0;

	put_txh(all, h);
	memcpy(all + 12, f, len);
	while (off < 12 + len) {
		uint32_t end = (cuts != NULL && cuts[n] != 0) ? cuts[n] :
			       12 + len;

		assert_true(n < 8 && end > off);
		b[n].len = end - off;
		b[n].gpa = vtd_alloc(&e->tx, b[n].len, 1);
		memcpy(vtd_ptr(&e->tx, b[n].gpa), all + off, b[n].len);
		off = end;
		n++;
	}
	assert_true(vtd_add(&e->tx, b, n, false, false) >= 0);
}

static void
tx_env(struct rh_env *e, bool packed, uint64_t host, bool legacy)
{
	const struct cell c = { packed, true };

	env_up(e, &c, host);
	if (legacy)
		set_net(e->txq, true, 0);
}

/* Dequeue exactly n frames. */
static void
deq(struct rh_env *e, struct rte_mbuf **pkts, uint16_t n)
{
	vtd_publish(&e->tx);
	assert_int_equal(vhu_dequeue_burst(e->dev, 0, rh_pool, pkts, 16), n);
}

/* A partial L4 checksum: pseudo-header sum in the field, as Linux sends. */
static void
partial_in_frame(uint8_t *f, const struct layout *lo)
{
	uint32_t o = l4_off_csum(lo);
	uint16_t ph;

	ph = ref_fold(ref_pseudo(f, lo, lo->len - lo->l2 - lo->l3));
	put16(f + o, ph);
}

static void
expect_meta(const struct rte_mbuf *m, const struct layout *lo, bool legacy,
	    uint16_t gso)
{
	uint64_t want;

	assert_int_equal(m->l2_len, lo->l2);
	assert_int_equal(m->l3_len, lo->l3);
	assert_int_equal(m->l4_len, lo->l4);
	assert_int_equal(m->packet_type & RTE_PTYPE_L4_MASK,
			 lo->udp ? RTE_PTYPE_L4_UDP : RTE_PTYPE_L4_TCP);
	if (legacy) {
		want = (lo->udp ? RTE_MBUF_F_TX_UDP_CKSUM :
				  RTE_MBUF_F_TX_TCP_CKSUM) |
		       (lo->v6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4);
		if (gso != 0)
			want |= lo->udp ? RTE_MBUF_F_TX_UDP_SEG :
					  RTE_MBUF_F_TX_TCP_SEG;
	} else {
		want = RX_L4_NONE | (gso != 0 ? RTE_MBUF_F_RX_LRO : 0);
	}
	assert_int_equal(m->ol_flags, want);
	if (gso != 0)
		assert_int_equal(m->tso_segsz, gso);
}

static void
test_deq_meta(bool packed, bool legacy)
{
	static uint8_t f[4][MAXF], got[MAXF];
	const struct fspec sp[4] = {
		{ .payload = 1000 },
		{ .v6 = true, .udp = true, .payload = 333 },
		{ .vlan = true, .payload = 6000,
		  .tcp_flags = RTE_TCP_ACK_FLAG | RTE_TCP_CWR_FLAG },
		{ .v6 = true, .payload = 8000 },
	};
	const uint16_t gso[4] = { 0, 0, 1448, 1440 };
	const uint8_t gt[4] = { 0, 0, VIRTIO_NET_HDR_GSO_TCPV4 |
				VIRTIO_NET_HDR_GSO_ECN,
				VIRTIO_NET_HDR_GSO_TCPV6 };
	struct rte_mbuf *m[16];
	struct layout lo[4];
	struct rh_env e;

	tx_env(&e, packed, F_HOST_OL, legacy);
	assert_true(e.txq->flags & VHU_VQ_F_NET_OL);
	for (int i = 0; i < 4; i++) {
		lo[i] = build(f[i], &sp[i]);
		partial_in_frame(f[i], &lo[i]);
		post_tx(&e, &(struct txh){ VIRTIO_NET_HDR_F_NEEDS_CSUM, gt[i],
			(uint16_t)(gso[i] ? lo[i].l2 + lo[i].l3 + lo[i].l4 : 0),
			gso[i], (uint16_t)(lo[i].l2 + lo[i].l3),
			(uint16_t)(lo[i].udp ? 6 : 16) }, f[i], lo[i].len, NULL);
	}
	/* DATA_VALID from a driver means nothing; no header: no flags */
	post_tx(&e, &(struct txh){ .flags = VIRTIO_NET_HDR_F_DATA_VALID }, f[0],
		lo[0].len, NULL);
	post_tx(&e, &(struct txh){ 0 }, f[1], lo[1].len, NULL);
	deq(&e, m, 6);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(m[i]->pkt_len, lo[i].len);
		assert_memory_equal(rte_pktmbuf_read(m[i], 0, lo[i].len, got),
				    f[i], lo[i].len);
		expect_meta(m[i], &lo[i], legacy, gso[i]);
		if (!legacy && gso[i] == 0) {
			/* the application without L4 offloads finishes it */
			assert_int_equal(vhu_pkt_finish_cksum(m[i]), 0);
			assert_int_equal(m[i]->ol_flags,
					 RTE_MBUF_F_RX_L4_CKSUM_GOOD);
			expect_l4_ok(rte_pktmbuf_read(m[i], 0, lo[i].len, got),
				     &lo[i]);
		}
	}
	assert_int_equal(m[4]->ol_flags, 0);
	assert_int_equal(m[5]->ol_flags, 0);
	for (int i = 0; i < 6; i++)
		rte_pktmbuf_free(m[i]);
	assert_int_equal(stats(&e, 1).drops_bad_hdr, 0);
	assert_int_equal(stats(&e, 1).sw_cksums, 0);
	assert_int_equal(stats(&e, 1).packets, 6);
	rh_expect_clean(&e);
	rh_env_teardown(&e);
}

static void
test_deq_meta_split(void **state)
{
	(void)state;
	test_deq_meta(false, false);
}

static void
test_deq_meta_packed(void **state)
{
	(void)state;
	test_deq_meta(true, false);
}

static void
test_deq_meta_split_legacy(void **state)
{
	(void)state;
	test_deq_meta(false, true);
}

static void
test_deq_meta_packed_legacy(void **state)
{
	(void)state;
	test_deq_meta(true, true);
}

/*
 * Partial checksums the metadata cannot describe: completed in software
 * (the ones' complement of the sum from csum_start on, at the offset),
 * no flag set, sw_cksums counted.
 */
static void
test_deq_sw_csum(void **state)
{
	const bool packed = *(const bool *)*state;
	static uint8_t f[2][MAXF], got[MAXF];
	struct rte_mbuf *m[16];
	struct layout lo;
	struct rh_env e;
	uint32_t n2 = 300;

	tx_env(&e, packed, F_HOST_OL, false);
	/* not IP: an experimental ethertype, a checksum at byte 40 */
	memset(f[0], 0, 14);
	put16(f[0] + 12, 0x88b5);
	for (uint32_t i = 14; i < n2; i++)
		f[0][i] = rh_pattern(3, i);
	f[0][40] = 0x12;
	f[0][41] = 0x34;
	post_tx(&e, &(struct txh){ VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 20,
		20 }, f[0], n2, NULL);
	/* TCP over IPv4, the checksum asked over the IP header's field */
	lo = build(f[1], &(struct fspec){ .payload = 200 });
	f[1][lo.l2 + 10] = 0;
	f[1][lo.l2 + 11] = 0;
	post_tx(&e, &(struct txh){ VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0,
		(uint16_t)lo.l2, 10 }, f[1], lo.len, NULL);
	deq(&e, m, 2);
	/*
	 * frame 0: the field held a seed (what a pseudo-header sum would
	 * be): the bytes from 20 on, checksum in place, plus the seed sum
	 * to all ones
	 */
	{
		const uint8_t *g = rte_pktmbuf_read(m[0], 0, n2, got);

		assert_int_equal(ref_fold(ref_sum(g + 20, n2 - 20, 0x1234)),
				 0xffff);
		assert_memory_equal(g, f[0], 40);
		assert_memory_equal(g + 42, f[0] + 42, n2 - 42);
		assert_int_equal(m[0]->ol_flags, 0);
	}
	/*
	 * frame 1: seeded 0, so the bytes from csum_start on sum to all
	 * ones (the definition: this is not an IP header checksum)
	 */
	{
		const uint8_t *g = rte_pktmbuf_read(m[1], 0, lo.len, got);

		assert_int_equal(ref_fold(ref_sum(g + lo.l2, lo.len - lo.l2,
						  0)), 0xffff);
		assert_int_equal(m[1]->ol_flags, 0);
	}
	rte_pktmbuf_free(m[0]);
	rte_pktmbuf_free(m[1]);
	assert_int_equal(stats(&e, 1).sw_cksums, 2);
	assert_int_equal(stats(&e, 1).drops_bad_hdr, 0);
	rh_env_teardown(&e);
}

/* One bad header before a good frame, in the same burst. */
struct bad {
	const char *what;
	struct fspec s;
	struct txh h;        /* csum_start 0xffff: the frame's L4 offset */
	uint64_t host;       /* 0: F_HOST_OL */
	int len_rel;         /* fields relative to the frame length: */
#define REL_START 1          /* csum_start = len + 10 */
#define REL_END 2            /* csum_start = len - 2, offset 1 */
#define REL_HDRLEN 3         /* hdr_len = len + 1 */
};

#define NC VIRTIO_NET_HDR_F_NEEDS_CSUM
#define L4AT 0xffff

static const struct bad bads[] = {
	{ "start past the frame", { .payload = 100 }, { NC, 0, 0, 0, 0, 0 },
	  0, REL_START },
	{ "start + offset + 2 past the frame", { .payload = 100 },
	  { NC, 0, 0, 0, 0, 0 }, 0, REL_END },
	{ "offset past the frame", { .payload = 100 },
	  { NC, 0, 0, 0, 34, 0xfff0 }, 0, 0 },
	{ "gso_size 0", { .payload = 3000 },
	  { NC, VIRTIO_NET_HDR_GSO_TCPV4, 54, 0, L4AT, 16 }, 0, 0 },
	{ "gso_type 2", { .payload = 3000 }, { NC, 2, 54, 1448, L4AT, 16 },
	  0, 0 },
	{ "gso_type 3 (UFO)", { .udp = true, .payload = 3000 },
	  { NC, 3, 42, 1448, L4AT, 6 }, 0, 0 },
	{ "gso_type 6", { .payload = 3000 }, { NC, 6, 54, 1448, L4AT, 16 },
	  0, 0 },
	{ "gso_type 0x7f", { .payload = 3000 },
	  { NC, 0x7f, 54, 1448, L4AT, 16 }, 0, 0 },
	{ "TCPV6 with only HOST_TSO4", { .v6 = true, .payload = 3000 },
	  { NC, VIRTIO_NET_HDR_GSO_TCPV6, 74, 1440, L4AT, 16 },
	  BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4), 0 },
	{ "TCPV4 with only HOST_TSO6", { .payload = 3000 },
	  { NC, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, L4AT, 16 },
	  BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO6), 0 },
	{ "ECN without HOST_ECN", { .payload = 3000 },
	  { NC, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, 54, 1448,
	    L4AT, 16 },
	  BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4) |
	  BIT(VIRTIO_NET_F_HOST_TSO6), 0 },
	{ "UDP_L4 without HOST_USO", { .udp = true, .payload = 3000 },
	  { NC, VIRTIO_NET_HDR_GSO_UDP_L4, 42, 1400, L4AT, 6 },
	  BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4), 0 },
	{ "TCPV4 on an IPv6 frame", { .v6 = true, .payload = 3000 },
	  { NC, VIRTIO_NET_HDR_GSO_TCPV4, 74, 1440, L4AT, 16 }, 0, 0 },
	{ "TCPV6 on an IPv4 frame", { .payload = 3000 },
	  { NC, VIRTIO_NET_HDR_GSO_TCPV6, 54, 1440, L4AT, 16 }, 0, 0 },
	{ "TCPV4 on a UDP frame", { .udp = true, .payload = 3000 },
	  { NC, VIRTIO_NET_HDR_GSO_TCPV4, 42, 1448, L4AT, 6 }, 0, 0 },
	{ "UDP_L4 on a TCP frame", { .payload = 3000 },
	  { NC, VIRTIO_NET_HDR_GSO_UDP_L4, 54, 1448, L4AT, 16 }, 0, 0 },
	{ "GSO without NEEDS_CSUM", { .payload = 3000 },
	  { 0, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, L4AT, 16 }, 0, 0 },
	{ "GSO with the checksum elsewhere", { .payload = 3000 },
	  { NC, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 14, 10 }, 0, 0 },
	{ "hdr_len past the frame", { .payload = 3000 },
	  { NC, VIRTIO_NET_HDR_GSO_TCPV4, 0, 1448, L4AT, 16 }, 0,
	  REL_HDRLEN },
	{ "GSO on a non-IP frame", { .payload = 3000 },
	  { NC, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16 }, 0, -1 },
};

static void
bad_case(bool packed, const struct bad *b)
{
	static uint8_t f[MAXF], g[MAXF], got[MAXF];
	struct layout lo = build(f, &b->s);
	struct layout gl = build(g, &(struct fspec){ .payload = 64,
						     .seed = 5 });
	struct txh h = b->h;
	struct rte_mbuf *m[16];
	unsigned int avail;
	struct rh_env e;

	tx_env(&e, packed, b->host ? b->host : F_HOST_OL, false);
	if (h.csum_start == L4AT)
		h.csum_start = (uint16_t)(lo.l2 + lo.l3);
	if (b->len_rel == REL_START)
		h.csum_start = (uint16_t)(lo.len + 10);
	else if (b->len_rel == REL_END)
		h = (struct txh){ NC, 0, 0, 0, (uint16_t)(lo.len - 2), 1 };
	else if (b->len_rel == REL_HDRLEN)
		h.hdr_len = (uint16_t)(lo.len + 1);
	else if (b->len_rel == -1)
		put16(f + 12, 0x88b5);
	partial_in_frame(f, &lo);
	partial_in_frame(g, &gl);
	post_tx(&e, &h, f, lo.len, NULL);
	post_tx(&e, &(struct txh){ NC, 0, 0, 0, 34, 16 }, g, gl.len, NULL);
	/* and a second bad one at the end of the burst */
	post_tx(&e, &h, f, lo.len, NULL);
	avail = rte_mempool_avail_count(rh_pool);
	deq(&e, m, 1);
	assert_int_equal(m[0]->pkt_len, gl.len);
	assert_memory_equal(rte_pktmbuf_read(m[0], 0, gl.len, got), g,
			    gl.len);
	assert_int_equal(m[0]->ol_flags, RX_L4_NONE);
	rte_pktmbuf_free(m[0]);
	/* the dropped frames' mbufs went back */
	assert_int_equal(rte_mempool_avail_count(rh_pool), avail);
	if (stats(&e, 1).drops_bad_hdr != 2)
		fail_msg("%s: drops_bad_hdr %" PRIu64 ", expected 2", b->what,
			 stats(&e, 1).drops_bad_hdr);
	/* what the burst handed over, not what it dropped */
	assert_int_equal(stats(&e, 1).packets, 1);
	assert_int_equal(stats(&e, 1).bytes, gl.len);
	/* the guest got all three buffers back */
	assert_int_equal(vtd_used_pending(&e.tx), 3);
	assert_false(e.txq->broken);
	assert_int_equal(stats(&e, 1).desc_errors, 0);
	rh_env_teardown(&e);
}

static void
test_deq_bad_hdrs(void **state)
{
	const bool packed = *(const bool *)*state;

	for (size_t i = 0; i < RTE_DIM(bads); i++)
		bad_case(packed, &bads[i]);
}

/* The header spread over descriptors: read whole all the same. */
static void
test_deq_hdr_split(void **state)
{
	const bool packed = *(const bool *)*state;
	static const uint32_t cuts[][4] = {
		{ 5, 0 }, { 1, 11, 0 }, { 6, 12, 40, 0 }, { 11, 13, 0 },
	};
	static uint8_t f[MAXF], got[MAXF];
	struct rte_mbuf *m[16];
	struct layout lo;
	struct rh_env e;

	tx_env(&e, packed, F_HOST_OL, true);
	lo = build(f, &(struct fspec){ .payload = 3000, .v6 = true });
	partial_in_frame(f, &lo);
	for (size_t i = 0; i < RTE_DIM(cuts); i++)
		post_tx(&e, &(struct txh){ NC, VIRTIO_NET_HDR_GSO_TCPV6, 74,
			1440, 54, 16 }, f, lo.len, cuts[i]);
	deq(&e, m, RTE_DIM(cuts));
	for (size_t i = 0; i < RTE_DIM(cuts); i++) {
		assert_memory_equal(rte_pktmbuf_read(m[i], 0, lo.len, got), f,
				    lo.len);
		expect_meta(m[i], &lo, true, 1440);
		rte_pktmbuf_free(m[i]);
	}
	assert_int_equal(stats(&e, 1).drops_bad_hdr, 0);
	rh_env_teardown(&e);
}

/* Without CSUM the header is not read: nothing set, nothing dropped. */
static void
test_deq_no_csum(void **state)
{
	const bool packed = *(const bool *)*state;
	static uint8_t f[MAXF];
	struct rte_mbuf *m[16];
	struct layout lo;
	struct rh_env e;

	/* HOST_TSO4 alone is not an offload without CSUM (§5.1.3.1) */
	tx_env(&e, packed, BIT(VIRTIO_NET_F_HOST_TSO4), false);
	assert_false(e.txq->flags & VHU_VQ_F_NET_OL);
	lo = build(f, &(struct fspec){ .payload = 3000 });
	post_tx(&e, &(struct txh){ NC, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448,
		34, 16 }, f, lo.len, NULL);
	post_tx(&e, &(struct txh){ NC, 0x7f, 0, 0, 0xffff, 0xffff }, f,
		lo.len, NULL);
	deq(&e, m, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(m[i]->ol_flags, 0);
		assert_int_equal(m[i]->tso_segsz, 0);
		assert_int_equal(m[i]->pkt_len, lo.len);
		rte_pktmbuf_free(m[i]);
	}
	assert_int_equal(stats(&e, 1).drops_bad_hdr, 0);
	assert_int_equal(stats(&e, 1).sw_cksums, 0);
	rh_env_teardown(&e);
}

/* ------------------------------------------------ vhu_pkt_finish_cksum */

static void
test_finish_cksum(void **state)
{
	static uint8_t f[MAXF], got[MAXF];
	const struct fspec sp[] = {
		{ .payload = 100 }, { .udp = true, .payload = 101 },
		{ .v6 = true, .payload = 5000 },
		{ .vlan = true, .v6 = true, .udp = true, .payload = 4097 },
	};
	struct rte_mbuf *m;
	struct layout lo;

	(void)state;
	assert_int_equal(vhu_pkt_finish_cksum(NULL), -EINVAL);
	for (size_t i = 0; i < RTE_DIM(sp); i++) {
		lo = build(f, &sp[i]);
		m = to_mbuf(f, &lo, RX_L4_NONE, 0);
		make_partial(m, &lo, 0);
		assert_int_equal(vhu_pkt_finish_cksum(m), 0);
		assert_int_equal(m->ol_flags, RTE_MBUF_F_RX_L4_CKSUM_GOOD);
		assert_memory_equal(rte_pktmbuf_read(m, 0, lo.len, got), f,
				    lo.len);
		/* a second call: not partial any more, nothing to do */
		assert_int_equal(vhu_pkt_finish_cksum(m), 0);
		rte_pktmbuf_free(m);
	}
	/* not flagged partial: left alone, bytes and flags */
	lo = build(f, &sp[0]);
	m = to_mbuf(f, &lo, RTE_MBUF_F_RX_L4_CKSUM_BAD, 0);
	memset(rte_pktmbuf_mtod_offset(m, uint8_t *, l4_off_csum(&lo)), 0x5a,
	       2);
	assert_int_equal(vhu_pkt_finish_cksum(m), 0);
	assert_int_equal(m->ol_flags, RTE_MBUF_F_RX_L4_CKSUM_BAD);
	assert_int_equal(*rte_pktmbuf_mtod_offset(m, uint8_t *,
						  l4_off_csum(&lo)), 0x5a);
	rte_pktmbuf_free(m);
	/* partial, but not TCP or UDP behind IP: refused, untouched */
	lo = build(f, &sp[0]);
	put16(f + 12, 0x88b5);
	m = to_mbuf(f, &lo, RX_L4_NONE, 0);
	assert_int_equal(vhu_pkt_finish_cksum(m), -EINVAL);
	assert_int_equal(m->ol_flags, RX_L4_NONE);
	assert_memory_equal(rte_pktmbuf_read(m, 0, lo.len, got), f, lo.len);
	rte_pktmbuf_free(m);
	/* headers cut short: the TCP header runs past the packet */
	lo = build(f, &sp[0]);
	m = to_mbuf(f, &lo, RX_L4_NONE, 0);
	rte_pktmbuf_trim(m, lo.len - 40);
	assert_int_equal(vhu_pkt_finish_cksum(m), -EINVAL);
	rte_pktmbuf_free(m);
}

/* ------------------------------------------------------ registration */

static const bool split_s = false, packed_s = true;

int
main(void)
{
	static const char *const cn[4] = { "split", "split_mrg", "packed",
					   "packed_mrg" };
	static char names[7][4][40];
	static const struct {
		const char *name;
		CMUnitTestFunction f;
	} per_cell[] = {
		{ "enq_guest_ol", test_enq_guest_ol },
		{ "enq_guest_ol_burst", test_enq_guest_ol_burst },
		{ "enq_sw_csum", test_enq_sw_csum },
		{ "enq_sw_seg", test_enq_sw_seg },
		{ "enq_mtu", test_enq_mtu },
		{ "enq_seg_ring_full", test_enq_sw_seg_ring_full },
		{ "enq_gso_shared_dry", test_enq_gso_shared_dry_pool },
	};
	static const struct {
		const char *name;
		CMUnitTestFunction f;
	} per_layout[] = {
		{ "deq_sw_csum", test_deq_sw_csum },
		{ "deq_bad_hdrs", test_deq_bad_hdrs },
		{ "deq_hdr_split", test_deq_hdr_split },
		{ "deq_no_csum", test_deq_no_csum },
	};
	static char lnames[4][2][40];
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_deq_meta_split),
		cmocka_unit_test(test_deq_meta_packed),
		cmocka_unit_test(test_deq_meta_split_legacy),
		cmocka_unit_test(test_deq_meta_packed_legacy),
		cmocka_unit_test(test_finish_cksum),
	};
	struct CMUnitTest tests[64];
	int n = 0;

	if (rh_init("offload") != 0)
		return 1;
	for (size_t t = 0; t < RTE_DIM(per_cell); t++)
		for (int c = 0; c < 4; c++) {
			snprintf(names[t][c], sizeof(names[0][0]), "%s_%s",
				 per_cell[t].name, cn[c]);
			rh_add(tests, &n, RTE_DIM(tests), names[t][c],
			       per_cell[t].f, (void *)(uintptr_t)&cells[c]);
		}
	for (size_t t = 0; t < RTE_DIM(per_layout); t++)
		for (int p = 0; p < 2; p++) {
			snprintf(lnames[t][p], sizeof(lnames[0][0]), "%s_%s",
				 per_layout[t].name, p ? "packed" : "split");
			rh_add(tests, &n, RTE_DIM(tests), lnames[t][p],
			       per_layout[t].f,
			       (void *)(uintptr_t)(p ? &packed_s : &split_s));
		}
	return rh_run("offload", tests, n, RTE_DIM(tests), fixed,
		      RTE_DIM(fixed));
}
