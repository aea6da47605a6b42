/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Software checksum and segmentation offloads on mbufs (pkt_offload.h):
 * header parsing, completing a partial checksum, the IPv4 header checksum,
 * copying a packet into fresh mbufs and cutting a TCP or UDP frame into
 * MSS-sized frames. Every function takes the packet as an mbuf chain of
 * any shape: a header, a checksum field or a payload may be split at any
 * byte, so every access goes through the chain helpers below, and every
 * offset is checked against pkt_len before it is used.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf_ptype.h>
#include <rte_net.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "pkt_offload.h"

#define IPV6_HDR_LEN ((uint32_t)sizeof(struct rte_ipv6_hdr))
#define IPV4_HDR_MIN ((uint32_t)sizeof(struct rte_ipv4_hdr))
#define TCP_HDR_MIN ((uint32_t)sizeof(struct rte_tcp_hdr))
#define UDP_HDR_LEN ((uint32_t)sizeof(struct rte_udp_hdr))

/* A read position in a chain: a segment and an offset inside it. */
struct cursor {
	const struct rte_mbuf *seg;
	uint32_t off;
};

/*
 * The segment holding byte *off of the chain m, *off made relative to it;
 * NULL past the end. Empty segments are stepped over.
 */
static const struct rte_mbuf *
seg_at(const struct rte_mbuf *m, uint32_t *off)
{
	while (m != NULL && *off >= m->data_len) {
		*off -= m->data_len;
		m = m->next;
	}
	return m;
}

/* Byte off of m, or NULL past the end. */
static uint8_t *
byte_at(struct rte_mbuf *m, uint32_t off)
{
	while (m != NULL && off >= m->data_len) {
		off -= m->data_len;
		m = m->next;
	}
	return m == NULL ? NULL : rte_pktmbuf_mtod_offset(m, uint8_t *, off);
}

static inline uint32_t
fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	return (sum & 0xffff) + (sum >> 16);
}

/*
 * Ones' complement sum (folded to 16 bits, in memory order like
 * rte_raw_cksum()) of bytes [off, off + len) of the chain m; the caller
 * checked the range. A piece that starts at an odd distance from off
 * pairs its bytes the other way, so its sum is byte-swapped (RFC 1071
 * §2(B)). Not rte_raw_cksum_mbuf(): DPDK 22.11's truncates a piece's sum
 * to 16 bits before that swap and loses its carries when a segment
 * boundary falls at an odd offset.
 */
static uint32_t
sum_chain(const struct rte_mbuf *m, uint32_t off, uint32_t len)
{
	uint32_t sum = 0, done = 0;

	m = seg_at(m, &off);
	while (len > 0 && m != NULL) {
		uint32_t n = RTE_MIN((uint32_t)m->data_len - off, len);
		uint32_t s = rte_raw_cksum(
			rte_pktmbuf_mtod_offset(m, const uint8_t *, off), n);

		if (done & 1)
			s = rte_bswap16((uint16_t)s);
		sum = fold(sum + s);
		done += n;
		len -= n;
		off = 0;
		m = m->next;
	}
	return sum;
}

/*
 * Copy len bytes from c into dst and advance c. -EINVAL when the chain
 * ends first (pkt_len larger than its segments hold).
 */
static int
cursor_copy(struct cursor *c, uint8_t *dst, uint32_t len)
{
	while (len > 0) {
		uint32_t n;

		while (c->seg != NULL && c->off >= c->seg->data_len) {
			c->seg = c->seg->next;
			c->off = 0;
		}
		if (c->seg == NULL)
			return -EINVAL;
		n = RTE_MIN((uint32_t)c->seg->data_len - c->off, len);
		memcpy(dst, rte_pktmbuf_mtod_offset(c->seg, const uint8_t *,
						    c->off), n);
		dst += n;
		c->off += n;
		len -= n;
	}
	return 0;
}

/*
 * Data bytes one fresh mbuf of mp holds: rte_pktmbuf_reset() puts data_off
 * at the headroom, or at the end of a buffer smaller than that.
 */
static uint32_t
pool_room(struct rte_mempool *mp)
{
	uint32_t room = rte_pktmbuf_data_room_size(mp);

	return room - RTE_MIN(room, (uint32_t)RTE_PKTMBUF_HEADROOM);
}

/* Whether a chain of bytes bytes in mbufs of room bytes fits nb_segs. */
static bool
chain_fits(uint32_t bytes, uint32_t room)
{
	return room > 0 &&
	       ((uint64_t)bytes + room - 1) / room <= RTE_MBUF_MAX_NB_SEGS;
}

/*
 * Append len bytes from c to the chain head, whose last segment is *tail,
 * filling each segment before taking a new one from mp. -ENOMEM when mp
 * runs dry; what was appended stays chained to head for the caller to
 * free.
 */
static int
append_from(struct rte_mbuf *head, struct rte_mbuf **tail, struct cursor *c,
	    uint32_t len, struct rte_mempool *mp)
{
	while (len > 0) {
		struct rte_mbuf *t = *tail;
		uint32_t n = rte_pktmbuf_tailroom(t);
		int ret;

		if (n == 0) {
			struct rte_mbuf *next = rte_pktmbuf_alloc(mp);

			if (next == NULL)
				return -ENOMEM;
			t->next = next;
			*tail = next;
			head->nb_segs++;
			continue;
		}
		n = RTE_MIN(n, len);
		ret = cursor_copy(c, rte_pktmbuf_mtod_offset(t, uint8_t *,
							     t->data_len), n);
		if (ret != 0)
			return ret;
		t->data_len += n;
		head->pkt_len += n;
		len -= n;
	}
	return 0;
}

int
vhu_pkt_parse(const struct rte_mbuf *m, struct vhu_pkt_hdrs *h)
{
	struct rte_net_hdr_lens lens;
	uint32_t l3, l4;

	memset(h, 0, sizeof(*h));
	memset(&lens, 0, sizeof(lens));
	h->ptype = rte_net_get_ptype(m, &lens, RTE_PTYPE_L2_MASK |
				     RTE_PTYPE_L3_MASK | RTE_PTYPE_L4_MASK);
	if ((h->ptype & RTE_PTYPE_L2_MASK) == 0)
		return -EINVAL;
	h->l2_len = lens.l2_len;

	/*
	 * The L3 type is what says the header is sane: an IPv4 version_ihl
	 * other than 4 / 5..15 has none, although its L4 type is still set.
	 */
	l3 = h->ptype & RTE_PTYPE_L3_MASK;
	if (l3 == RTE_PTYPE_L3_IPV4 || l3 == RTE_PTYPE_L3_IPV4_EXT)
		h->ipv4 = true;
	else if (l3 != RTE_PTYPE_L3_IPV6 && l3 != RTE_PTYPE_L3_IPV6_EXT)
		return -EINVAL;
	h->l3_len = lens.l3_len;

	/* fragments (L4_FRAG), SCTP, ICMP, IP-in-IP and GRE stop here */
	l4 = h->ptype & RTE_PTYPE_L4_MASK;
	if (l4 != RTE_PTYPE_L4_TCP && l4 != RTE_PTYPE_L4_UDP)
		return -EINVAL;
	h->l4_len = lens.l4_len;
	/* a TCP data offset under 5 words leaves no room for the header */
	if (l4 == RTE_PTYPE_L4_TCP && h->l4_len < TCP_HDR_MIN)
		return -EINVAL;

	/*
	 * rte_net_get_ptype() reads only the fixed part of each header: IPv4
	 * options, IPv6 extension headers and TCP options may run past the
	 * packet.
	 */
	if ((uint32_t)h->l2_len + h->l3_len + h->l4_len > m->pkt_len)
		return -EINVAL;
	h->l4_proto = l4 == RTE_PTYPE_L4_TCP ? IPPROTO_TCP : IPPROTO_UDP;
	return 0;
}

bool
vhu_pkt_writable(const struct rte_mbuf *m, uint32_t upto)
{
	if (upto > m->data_len)
		return false;
	/* an indirect or external segment shares its bytes with others */
	for (; m != NULL; m = m->next)
		if (!RTE_MBUF_DIRECT(m) || rte_mbuf_refcnt_read(m) != 1)
			return false;
	return true;
}

int
vhu_pkt_cksum_finish(struct rte_mbuf *m, uint32_t start, uint32_t off,
		     bool udp)
{
	uint64_t field = (uint64_t)start + off;
	uint8_t *b0, *b1;
	uint16_t ck;

	if (field + 2 > m->pkt_len)
		return -EINVAL;
	/* the field may straddle two segments: address its bytes one by one */
	b0 = byte_at(m, (uint32_t)field);
	b1 = byte_at(m, (uint32_t)field + 1);
	if (b0 == NULL || b1 == NULL)
		return -EINVAL;
	ck = (uint16_t)~sum_chain(m, start, m->pkt_len - start);
	/* RFC 768: a zero UDP checksum means "none", so it is sent as ones */
	if (udp && ck == 0)
		ck = 0xffff;
	/* memory order, as summed: byte-order independent (RFC 1071) */
	memcpy(b0, &ck, 1);
	memcpy(b1, (uint8_t *)&ck + 1, 1);
	return 0;
}

void
vhu_pkt_ipv4_cksum(struct rte_mbuf *m, uint16_t l2_len)
{
	struct rte_ipv4_hdr *ip;

	if ((uint32_t)l2_len + IPV4_HDR_MIN > m->data_len)
		return;
	ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, l2_len);
	if ((uint32_t)l2_len + rte_ipv4_hdr_len(ip) > m->data_len)
		return;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
}

struct rte_mbuf *
vhu_pkt_copy(const struct rte_mbuf *m, struct rte_mempool *mp, uint32_t hdr)
{
	struct cursor c = { .seg = m, .off = 0 };
	struct rte_mbuf *head, *tail;

	/*
	 * Every segment is filled before the next is taken, so the first
	 * holds min(pkt_len, room) bytes: any hdr up to the room is met.
	 */
	RTE_SET_USED(hdr);
	if (!chain_fits(m->pkt_len, pool_room(mp)))
		return NULL;
	head = rte_pktmbuf_alloc(mp);
	if (head == NULL)
		return NULL;
	tail = head;
	if (append_from(head, &tail, &c, m->pkt_len, mp) != 0) {
		rte_pktmbuf_free(head);
		return NULL;
	}
	/* the new buffers are direct: the source's attach flags stay behind */
	head->ol_flags = m->ol_flags &
			 ~(RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL);
	head->tx_offload = m->tx_offload;
	head->packet_type = m->packet_type;
	head->vlan_tci = m->vlan_tci;
	head->vlan_tci_outer = m->vlan_tci_outer;
	head->hash = m->hash;
	head->port = m->port;
	rte_mbuf_dynfield_copy(head, m);
	return head;
}

/*
 * Check h against m and the limits of segmentation; *hdr is the length of
 * all headers. The L4 header length is trusted only as far as parsing
 * bounds it.
 */
static bool
seg_hdrs_ok(const struct rte_mbuf *m, const struct vhu_pkt_hdrs *h,
	    uint32_t *hdr)
{
	if (h->l2_len < RTE_ETHER_HDR_LEN)
		return false;
	if (h->l3_len < (h->ipv4 ? IPV4_HDR_MIN : IPV6_HDR_LEN))
		return false;
	if (h->l4_proto == IPPROTO_TCP) {
		if (h->l4_len < TCP_HDR_MIN)
			return false;
	} else if (h->l4_proto != IPPROTO_UDP || h->l4_len != UDP_HDR_LEN) {
		return false;
	}
	*hdr = (uint32_t)h->l2_len + h->l3_len + h->l4_len;
	return *hdr <= m->pkt_len;
}

static uint32_t
seg_count(uint32_t payload, uint16_t mss)
{
	if (payload == 0)
		return 1;
	return (uint32_t)(((uint64_t)payload + mss - 1) / mss);
}

uint32_t
vhu_pkt_segment_count(const struct rte_mbuf *m, const struct vhu_pkt_hdrs *h,
		      uint16_t mss)
{
	uint32_t hdr;

	if (mss == 0 || !seg_hdrs_ok(m, h, &hdr))
		return 1;
	return seg_count(m->pkt_len - hdr, mss);
}

/*
 * Rewrite the header copy at the front of segment k (payload len bytes,
 * all of them already chained) and complete its L4 checksum from scratch.
 */
static void
seg_fix_headers(struct rte_mbuf *s, const struct vhu_pkt_hdrs *h,
		uint32_t k, uint32_t len, uint16_t mss, bool last)
{
	uint8_t *l3 = rte_pktmbuf_mtod_offset(s, uint8_t *, h->l2_len);
	uint8_t *l4 = l3 + h->l3_len;
	uint32_t l4_total = h->l4_len + len;
	uint32_t sum;
	uint16_t ck;

	if (h->ipv4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)l3;

		ip->total_length = rte_cpu_to_be_16(h->l3_len + l4_total);
		/* ids are numbered on from the frame's, wrapping at 16 bits */
		ip->packet_id = rte_cpu_to_be_16(
			(uint16_t)(rte_be_to_cpu_16(ip->packet_id) + k));
		ip->hdr_checksum = 0;
		ip->hdr_checksum = (uint16_t)~rte_raw_cksum(ip, h->l3_len);
		sum = rte_raw_cksum(&ip->src_addr, 2 * sizeof(ip->src_addr));
	} else {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)l3;

		/* extension headers count as payload (RFC 8200 §3) */
		ip->payload_len = rte_cpu_to_be_16(h->l3_len - IPV6_HDR_LEN +
						   l4_total);
		sum = rte_raw_cksum(ip->src_addr, 2 * sizeof(ip->src_addr));
	}
	/*
	 * Pseudo header (RFC 793 §3.1, RFC 8200 §8.1): the addresses, the
	 * L4 protocol and the L4 length, each a big-endian word once the
	 * zero bytes are dropped. Not rte_ipv6_phdr_cksum(): it takes the
	 * protocol and length from the fixed IPv6 header, wrong with
	 * extension headers.
	 */
	sum += rte_cpu_to_be_16(h->l4_proto) + rte_cpu_to_be_16(l4_total);

	if (h->l4_proto == IPPROTO_TCP) {
		struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)l4;

		th->sent_seq = rte_cpu_to_be_32(
			rte_be_to_cpu_32(th->sent_seq) + k * (uint32_t)mss);
		/* the stream ends (FIN) and is pushed (PSH) after the last */
		if (!last)
			th->tcp_flags &= ~(RTE_TCP_FIN_FLAG | RTE_TCP_PSH_FLAG);
		/* the window was reduced once, before the first (RFC 3168) */
		if (k != 0)
			th->tcp_flags &= ~RTE_TCP_CWR_FLAG;
		th->cksum = 0;
	} else {
		struct rte_udp_hdr *uh = (struct rte_udp_hdr *)l4;

		uh->dgram_len = rte_cpu_to_be_16(l4_total);
		uh->dgram_cksum = 0;
	}
	sum = fold(sum + sum_chain(s, h->l2_len + h->l3_len, l4_total));
	ck = (uint16_t)~sum;
	if (h->l4_proto == IPPROTO_UDP && ck == 0)
		ck = 0xffff;
	if (h->l4_proto == IPPROTO_TCP)
		((struct rte_tcp_hdr *)l4)->cksum = ck;
	else
		((struct rte_udp_hdr *)l4)->dgram_cksum = ck;

	s->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_GOOD |
		      (h->ipv4 ? RTE_MBUF_F_RX_IP_CKSUM_GOOD : 0);
	s->packet_type = h->ptype;
	s->l2_len = h->l2_len;
	s->l3_len = h->l3_len;
	s->l4_len = h->l4_len;
}

/*
 * Build segment k: the headers of m, then len payload bytes read from c
 * (which it advances). *out is the new chain, or NULL with nothing left
 * allocated.
 */
static int
seg_build(const struct rte_mbuf *m, const struct vhu_pkt_hdrs *h,
	  uint32_t hdr, uint32_t k, uint32_t len, uint16_t mss, bool last,
	  struct cursor *c, struct rte_mempool *mp, struct rte_mbuf **out)
{
	struct cursor hc = { .seg = m, .off = 0 };
	struct rte_mbuf *head, *tail;
	int ret;

	*out = NULL;
	head = rte_pktmbuf_alloc(mp);
	if (head == NULL)
		return -ENOMEM;
	tail = head;
	/* hdr fits one mbuf (checked), so the headers stay contiguous */
	ret = append_from(head, &tail, &hc, hdr, mp);
	if (ret == 0)
		ret = append_from(head, &tail, c, len, mp);
	if (ret != 0) {
		rte_pktmbuf_free(head);
		return ret;
	}
	seg_fix_headers(head, h, k, len, mss, last);
	*out = head;
	return 0;
}

/* Not rte_gso: it lacks TCP over IPv6 and rewrites the input's ol_flags. */
int
vhu_pkt_segment(const struct rte_mbuf *m, const struct vhu_pkt_hdrs *h,
		uint16_t mss, uint32_t first, struct rte_mempool *mp,
		struct rte_mbuf **out, uint16_t max)
{
	uint32_t hdr, payload, nseg, biggest, l3_fixed, room, n, i;
	struct cursor c;

	if (mss == 0 || !seg_hdrs_ok(m, h, &hdr))
		return -EINVAL;
	payload = m->pkt_len - hdr;
	nseg = seg_count(payload, mss);
	if (first >= nseg || max == 0)
		return 0;

	/*
	 * The largest segment must fit the 16-bit IP length (IPv4 total
	 * length; IPv6 payload length, which leaves out the fixed header),
	 * and its headers must fit one mbuf of mp.
	 */
	biggest = RTE_MIN(payload, (uint32_t)mss);
	l3_fixed = h->ipv4 ? 0 : IPV6_HDR_LEN;
	if (h->l3_len - l3_fixed + h->l4_len + biggest > UINT16_MAX)
		return -EINVAL;
	room = pool_room(mp);
	if (hdr > room || !chain_fits(hdr + biggest, room))
		return -EINVAL;

	/* first < nseg, so first * mss < payload: no overflow */
	c.seg = m;
	c.off = hdr + first * (uint32_t)mss;
	c.seg = seg_at(c.seg, &c.off);

	n = RTE_MIN((uint32_t)max, nseg - first);
	for (i = 0; i < n; i++) {
		uint32_t k = first + i;
		uint32_t len = RTE_MIN((uint32_t)mss, payload - k * mss);
		int ret;

		ret = seg_build(m, h, hdr, k, len, mss, k == nseg - 1, &c, mp,
				&out[i]);
		if (ret != 0) {
			while (i > 0) {
				rte_pktmbuf_free(out[--i]);
				out[i] = NULL;
			}
			return ret;
		}
	}
	return (int)n;
}
