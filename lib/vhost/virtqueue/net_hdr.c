/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-net header offload fields <-> mbuf metadata (net_hdr.h).
 *
 * Receive (enqueue): the header describes what the mbuf asks for, limited
 * to what the guest negotiated. Transmit (dequeue): the guest's header is
 * checked against the frame before anything is believed: a checksum
 * position is an offset we would write at, a GSO type is a promise about
 * the headers that the next hop segments by. Offsets are compared in
 * 32 bits, so no u16 sum wraps.
 */
#include <stddef.h>
#include <string.h>
#include <netinet/in.h>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_tcp.h>

#include "net_hdr.h"
#include "vq.h" /* VHU_OL_* */

/* Offset of the checksum field inside the L4 header (RFC 793, RFC 768). */
#define TCP_CSUM_OFF 16
#define UDP_CSUM_OFF 6

static bool
tcp_cwr(const struct rte_mbuf *m, const struct vhu_pkt_hdrs *h)
{
	uint8_t buf;
	const uint8_t *fl;

	fl = rte_pktmbuf_read(m, (uint32_t)h->l2_len + h->l3_len +
			      offsetof(struct rte_tcp_hdr, tcp_flags),
			      1, &buf);
	return fl != NULL && (*fl & RTE_TCP_CWR_FLAG) != 0;
}

bool
vhu_net_gso_ok(const struct rte_mbuf *m, const struct vhu_pkt_hdrs *h,
	       uint8_t caps)
{
	if (h->l4_proto == IPPROTO_TCP) {
		if (!(caps & (h->ipv4 ? VHU_OL_TSO4 : VHU_OL_TSO6)))
			return false;
		return (caps & VHU_OL_ECN) || !tcp_cwr(m, h);
	}
	if (h->l4_proto == IPPROTO_UDP)
		return (caps & (h->ipv4 ? VHU_OL_USO4 : VHU_OL_USO6)) != 0;
	return false;
}

void
vhu_net_hdr_fill(const struct rte_mbuf *m, uint8_t caps,
		 struct virtio_net_hdr *h)
{
	struct vhu_pkt_hdrs ph;
	bool gso;

	memset(h, 0, sizeof(*h));
	/* virtio 1.2 §5.1.6.3: no offload field without GUEST_CSUM */
	if (!(caps & VHU_OL_CSUM))
		return;
	gso = vhu_mbuf_is_gso(m);
	if (!gso && !vhu_mbuf_l4_partial(m)) {
		if ((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) ==
		    RTE_MBUF_F_RX_L4_CKSUM_GOOD)
			h->flags = VIRTIO_NET_HDR_F_DATA_VALID;
		return;
	}
	/* the offload stage checked this parses; a header we cannot locate
	 * gets nothing */
	if (vhu_pkt_parse(m, &ph) != 0)
		return;
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->csum_start = rte_cpu_to_le_16(ph.l2_len + ph.l3_len);
	h->csum_offset = rte_cpu_to_le_16(ph.l4_proto == IPPROTO_TCP ?
					  TCP_CSUM_OFF : UDP_CSUM_OFF);
	if (!gso || !vhu_net_gso_ok(m, &ph, caps))
		return;
	if (ph.l4_proto == IPPROTO_TCP) {
		h->gso_type = ph.ipv4 ? VIRTIO_NET_HDR_GSO_TCPV4 :
					VIRTIO_NET_HDR_GSO_TCPV6;
		if (tcp_cwr(m, &ph))
			h->gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	} else {
		h->gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
	}
	h->hdr_len = rte_cpu_to_le_16(ph.l2_len + ph.l3_len + ph.l4_len);
	h->gso_size = rte_cpu_to_le_16(m->tso_segsz);
}

/* The GSO type's L3/L4 and the feature it needs; false: unknown type. */
static bool
gso_type_info(uint8_t type, uint8_t *l4, int *ipv4, uint8_t *cap)
{
	switch (type) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
		*l4 = IPPROTO_TCP;
		*ipv4 = 1;
		*cap = VHU_OL_TSO4;
		return true;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		*l4 = IPPROTO_TCP;
		*ipv4 = 0;
		*cap = VHU_OL_TSO6;
		return true;
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		*l4 = IPPROTO_UDP;
		*ipv4 = -1; /* either; the feature covers both */
		*cap = VHU_OL_USO4 | VHU_OL_USO6;
		return true;
	default:
		/* NONE is handled by the caller; UFO (3) is not offered */
		return false;
	}
}

/* Describe a partial checksum (and a GSO request) the way legacy asks. */
static void
describe(struct rte_mbuf *m, const struct vhu_pkt_hdrs *ph, uint16_t gso_size,
	 bool legacy)
{
	bool tcp = ph->l4_proto == IPPROTO_TCP;

	m->packet_type = ph->ptype;
	m->l2_len = ph->l2_len;
	m->l3_len = ph->l3_len;
	m->l4_len = ph->l4_len;
	if (legacy) {
		m->ol_flags |= (tcp ? RTE_MBUF_F_TX_TCP_CKSUM :
				      RTE_MBUF_F_TX_UDP_CKSUM) |
			       (ph->ipv4 ? RTE_MBUF_F_TX_IPV4 :
					   RTE_MBUF_F_TX_IPV6);
		if (gso_size != 0) {
			m->ol_flags |= tcp ? RTE_MBUF_F_TX_TCP_SEG :
					     RTE_MBUF_F_TX_UDP_SEG;
			m->tso_segsz = gso_size;
		}
	} else {
		m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_NONE;
		if (gso_size != 0) {
			m->ol_flags |= RTE_MBUF_F_RX_LRO;
			m->tso_segsz = gso_size;
		}
	}
}

enum vhu_net_hdr_rc
vhu_net_hdr_apply(const struct virtio_net_hdr *h, uint8_t caps, bool legacy,
		  struct rte_mbuf *m, const char **why)
{
	/* one load of each field: h is ours, but read it as if it were not */
	uint8_t flags = h->flags;
	uint8_t type = h->gso_type;
	uint32_t start = rte_le_to_cpu_16(h->csum_start);
	uint32_t off = rte_le_to_cpu_16(h->csum_offset);
	uint16_t gso_size = rte_le_to_cpu_16(h->gso_size);
	uint32_t hdr_len = rte_le_to_cpu_16(h->hdr_len);
	uint32_t len = m->pkt_len;
	bool partial = (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0;
	bool parsed, tcp;
	struct vhu_pkt_hdrs ph;

	if (partial && start + off + 2 > len) {
		*why = "checksum position outside the frame";
		return VHU_NET_HDR_BAD;
	}
	parsed = vhu_pkt_parse(m, &ph) == 0;
	tcp = parsed && ph.l4_proto == IPPROTO_TCP;
	if (type != VIRTIO_NET_HDR_GSO_NONE) {
		uint8_t l4, cap;
		int ipv4;

		if (!gso_type_info(type & ~VIRTIO_NET_HDR_GSO_ECN, &l4, &ipv4,
				   &cap)) {
			*why = "unknown GSO type";
			return VHU_NET_HDR_BAD;
		}
		if (!(caps & cap) || ((type & VIRTIO_NET_HDR_GSO_ECN) &&
				      !(caps & VHU_OL_ECN))) {
			*why = "GSO type not negotiated";
			return VHU_NET_HDR_BAD;
		}
		if (gso_size == 0) {
			*why = "GSO size 0";
			return VHU_NET_HDR_BAD;
		}
		if (hdr_len > len) {
			*why = "GSO header length past the frame";
			return VHU_NET_HDR_BAD;
		}
		if (!parsed || ph.l4_proto != l4 ||
		    (ipv4 >= 0 && ph.ipv4 != (ipv4 == 1))) {
			*why = "GSO type does not match the frame";
			return VHU_NET_HDR_BAD;
		}
		/* the next hop segments by the L4 header: the checksum too */
		if (!partial || start != (uint32_t)ph.l2_len + ph.l3_len ||
		    off != (tcp ? TCP_CSUM_OFF : UDP_CSUM_OFF)) {
			*why = "GSO frame without its L4 partial checksum";
			return VHU_NET_HDR_BAD;
		}
		describe(m, &ph, gso_size, legacy);
		return VHU_NET_HDR_OK;
	}
	if (!partial)
		return VHU_NET_HDR_OK; /* DATA_VALID from a driver means nothing */
	if (parsed && start == (uint32_t)ph.l2_len + ph.l3_len &&
	    off == (tcp ? TCP_CSUM_OFF : UDP_CSUM_OFF)) {
		describe(m, &ph, 0, legacy);
		return VHU_NET_HDR_OK;
	}
	/*
	 * A checksum the metadata cannot place (not at the TCP or UDP
	 * field): completed here. Whatever it covers, it is not the L4
	 * checksum the flags talk about, so they say nothing.
	 */
	(void)vhu_pkt_cksum_finish(m, start, off, false);
	return VHU_NET_HDR_SW_CSUM;
}
