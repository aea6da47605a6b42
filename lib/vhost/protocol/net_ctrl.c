/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-net control commands (virtio 1.2 §5.1.6.5) for a frontend that
 * hands the control virtqueue to the backend (CTRL_VQ negotiated): the
 * guest's receive filter (modes, MAC tables, primary MAC, VLAN set) and
 * its active queue pairs. One command per step: the control vring is
 * held (quiesced) while one chain is popped (virtqueue/ctrl.c, which
 * copies the readable bytes into a bounded buffer), parsed here and
 * answered. Nothing in the guest's bytes is trusted: each command is
 * accepted only with its feature negotiated and with exactly the length
 * its layout has; counts are checked against the bytes present before
 * any entry is read; anything else is answered VIRTIO_NET_ERR and
 * changes nothing.
 *
 * The filter is published to other threads through a sequence count
 * (rxf_seq; the control context is its only writer): odd while a change
 * is being written. R6 / R7 on the writer, A6 / A7 on the reader
 * (doc/guide/threading.md).
 */
#include <errno.h>
#include <string.h>

#include <linux/virtio_net.h>

#include <rte_byteorder.h>
#include <rte_pause.h>

#include "ctrl.h"
#include "net_ctrl.h"
#include "registry.h"
#include "vhu_log.h"

static void
rxf_publish(struct vhu_dev *dev, const struct vhu_rx_filter *nf)
{
	uint32_t seq = atomic_load_explicit(&dev->rxf_seq,
					    memory_order_relaxed);
	uint32_t gen = dev->rxf.generation;

	atomic_store_explicit(&dev->rxf_seq, seq + 1, memory_order_relaxed);
	/* R6: the odd count before any store of the filter */
	atomic_thread_fence(memory_order_release);
	dev->rxf = *nf;
	dev->rxf.generation = gen + 1;
	/* R7: the filter before the even count; pairs with A6 */
	atomic_store_explicit(&dev->rxf_seq, seq + 2, memory_order_release);
}

void
vhu_net_ctrl_reset(struct vhu_dev *dev)
{
	struct vhu_rx_filter nf;

	memset(&nf, 0, sizeof(nf));
	nf.promisc = true;
	dev->ctrl_pairs = 0;
	nf.queue_pairs = dev->max_vrings / 2;
	rxf_publish(dev, &nf);
}

bool
vhu_net_ctrl_sync(struct vhu_dev *dev)
{
	bool cvq = vhu_dev_ctrl_vring(dev) != UINT16_MAX;
	bool rx_mode = cvq && vhu_dev_has_feature(dev, VIRTIO_NET_F_CTRL_RX);
	bool vlan = cvq && vhu_dev_has_feature(dev, VIRTIO_NET_F_CTRL_VLAN);
	uint16_t pairs = vhu_dev_active_pairs(dev);
	struct vhu_rx_filter nf;

	if (dev->rxf.rx_mode == rx_mode && dev->rxf.vlan == vlan &&
	    dev->rxf.queue_pairs == pairs)
		return false;
	nf = dev->rxf;
	nf.rx_mode = rx_mode;
	nf.vlan = vlan;
	nf.queue_pairs = pairs;
	rxf_publish(dev, &nf);
	return true;
}

static bool
has(const struct vhu_dev *dev, unsigned int bit)
{
	return vhu_dev_has_feature(dev, bit);
}

/* RX class: one on/off byte (virtio 1.2 §5.1.6.5.1). */
static const char *
cmd_rx(const struct vhu_dev *dev, uint8_t cmd, const uint8_t *d,
       uint32_t len, struct vhu_rx_filter *f)
{
	bool *mode;

	switch (cmd) {
	case VIRTIO_NET_CTRL_RX_PROMISC:
		mode = &f->promisc;
		break;
	case VIRTIO_NET_CTRL_RX_ALLMULTI:
		mode = &f->allmulti;
		break;
	case VIRTIO_NET_CTRL_RX_ALLUNI:
		mode = &f->alluni;
		break;
	case VIRTIO_NET_CTRL_RX_NOMULTI:
		mode = &f->nomulti;
		break;
	case VIRTIO_NET_CTRL_RX_NOUNI:
		mode = &f->nouni;
		break;
	case VIRTIO_NET_CTRL_RX_NOBCAST:
		mode = &f->nobcast;
		break;
	default:
		return "unknown RX command";
	}
	/* §5.1.6.5.1: PROMISC and ALLMULTI with CTRL_RX, the rest EXTRA */
	if (cmd > VIRTIO_NET_CTRL_RX_ALLMULTI &&
	    !has(dev, VIRTIO_NET_F_CTRL_RX_EXTRA))
		return "CTRL_RX_EXTRA not negotiated";
	if (len != 1)
		return "RX command data is not one byte";
	if (d[0] > 1)
		return "RX command value is not 0 or 1";
	*mode = d[0] == 1;
	return NULL;
}

/* One MAC table: le32 count, then count 6-byte entries (§5.1.6.5.2). */
static const char *
mac_table(const uint8_t *d, uint32_t len, uint32_t *off,
	  uint8_t (*tab)[6], uint16_t *n)
{
	uint32_t count;

	if (len - *off < 4)
		return "MAC table without its count";
	memcpy(&count, d + *off, 4);
	count = rte_le_to_cpu_32(count);
	*off += 4;
	if ((uint64_t)count * 6 > len - *off)
		return "MAC table count beyond the command's data";
	if (count > VHU_RX_FILTER_MAX_MACS)
		return "MAC table has more entries than vhu keeps (64)";
	memcpy(tab, d + *off, (size_t)count * 6);
	*off += count * 6;
	*n = (uint16_t)count;
	return NULL;
}

static const char *
cmd_mac(const struct vhu_dev *dev, uint8_t cmd, const uint8_t *d,
	uint32_t len, struct vhu_rx_filter *f)
{
	struct vhu_rx_filter t;
	uint32_t off = 0;
	const char *why;

	switch (cmd) {
	case VIRTIO_NET_CTRL_MAC_TABLE_SET:
		if (!has(dev, VIRTIO_NET_F_CTRL_RX))
			return "CTRL_RX not negotiated";
		/* the tables only change if both parse */
		t = *f;
		memset(t.uc, 0, sizeof(t.uc));
		memset(t.mc, 0, sizeof(t.mc));
		why = mac_table(d, len, &off, t.uc, &t.n_uc);
		if (why == NULL)
			why = mac_table(d, len, &off, t.mc, &t.n_mc);
		if (why == NULL && off != len)
			why = "bytes after the MAC tables";
		if (why == NULL)
			*f = t;
		return why;
	case VIRTIO_NET_CTRL_MAC_ADDR_SET:
		if (!has(dev, VIRTIO_NET_F_CTRL_MAC_ADDR))
			return "CTRL_MAC_ADDR not negotiated";
		if (len != 6)
			return "MAC ADDR_SET data is not 6 bytes";
		memcpy(f->mac, d, 6);
		f->has_mac = true;
		return NULL;
	default:
		return "unknown MAC command";
	}
}

static const char *
cmd_vlan(const struct vhu_dev *dev, uint8_t cmd, const uint8_t *d,
	 uint32_t len, struct vhu_rx_filter *f)
{
	uint16_t vid;
	uint64_t bit;

	if (!has(dev, VIRTIO_NET_F_CTRL_VLAN))
		return "CTRL_VLAN not negotiated";
	if (cmd != VIRTIO_NET_CTRL_VLAN_ADD && cmd != VIRTIO_NET_CTRL_VLAN_DEL)
		return "unknown VLAN command";
	if (len != 2)
		return "VLAN command data is not 2 bytes";
	memcpy(&vid, d, 2);
	vid = rte_le_to_cpu_16(vid);
	/* §5.1.6.5.3: a 12-bit VLAN id */
	if (vid >= 4096)
		return "VLAN id above 4095";
	bit = 1ull << (vid % 64);
	if (cmd == VIRTIO_NET_CTRL_VLAN_ADD)
		f->vlans[vid / 64] |= bit;
	else
		f->vlans[vid / 64] &= ~bit;
	return NULL;
}

static const char *
cmd_mq(struct vhu_dev *dev, uint8_t cmd, const uint8_t *d, uint32_t len,
       struct vhu_rx_filter *f)
{
	uint16_t pairs;

	if (!has(dev, VIRTIO_NET_F_MQ))
		return "MQ not negotiated";
	if (cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET)
		return "unsupported MQ command";
	if (len != 2)
		return "VQ_PAIRS_SET data is not 2 bytes";
	memcpy(&pairs, d, 2);
	pairs = rte_le_to_cpu_16(pairs);
	/* §5.1.6.5.5: 1 to max_virtqueue_pairs */
	if (pairs < 1 || pairs > dev->max_vrings / 2)
		return "VQ_PAIRS_SET out of range";
	f->queue_pairs = pairs;
	return NULL;
}

/* Parse and apply one command to f: NULL (OK) or why it is refused. */
static const char *
execute(struct vhu_dev *dev, const struct vhu_ctrl_cmd *c,
	struct vhu_rx_filter *f)
{
	const uint8_t *d = c->buf + 2;
	uint32_t len;

	if (c->malformed != NULL)
		return c->malformed;
	if (c->too_long)
		return "command longer than 1024 bytes";
	if (c->len < 2)
		return "no class and command";
	len = c->len - 2;
	switch (c->buf[0]) {
	case VIRTIO_NET_CTRL_RX:
		if (!has(dev, VIRTIO_NET_F_CTRL_RX))
			return "CTRL_RX not negotiated";
		return cmd_rx(dev, c->buf[1], d, len, f);
	case VIRTIO_NET_CTRL_MAC:
		return cmd_mac(dev, c->buf[1], d, len, f);
	case VIRTIO_NET_CTRL_VLAN:
		return cmd_vlan(dev, c->buf[1], d, len, f);
	case VIRTIO_NET_CTRL_ANNOUNCE:
		if (!has(dev, VIRTIO_NET_F_GUEST_ANNOUNCE))
			return "GUEST_ANNOUNCE not negotiated";
		if (c->buf[1] != VIRTIO_NET_CTRL_ANNOUNCE_ACK || len != 0)
			return "bad ANNOUNCE command";
		return NULL;
	case VIRTIO_NET_CTRL_MQ:
		return cmd_mq(dev, c->buf[1], d, len, f);
	default:
		return "unknown class";
	}
}

int
vhu_net_ctrl_step(struct vhu_dev *dev)
{
	uint16_t idx = vhu_dev_ctrl_vring(dev);
	struct vhu_ctrl_cmd c;
	struct vhu_rx_filter nf;
	struct vhu_vq *vq;
	const char *why;
	int ret = VHU_NET_CTRL_DONE;

	if (!dev->running || idx >= RTE_DIM(dev->vqs.vq) ||
	    dev->vqs.vq[idx] == NULL)
		return 0;
	vq = dev->vqs.vq[idx];
	vhu_vq_quiesce(vq);
	if (vhu_ctrl_pop(vq, &c) != VHU_CTRL_POPPED) {
		vhu_vq_resume(vq);
		return 0;
	}
	nf = dev->rxf; /* the only writer: no need for the count */
	why = execute(dev, &c, &nf);
	vhu_ctrl_push(vq, &c, why == NULL ? VIRTIO_NET_OK : VIRTIO_NET_ERR);
	vhu_vq_resume(vq);
	if (why != NULL) {
		if (vhu_log_ratelimit(&dev->ctrl_log_tsc))
			VHU_LOG(ERR, "%s: control command %u.%u refused: %s",
				dev->name, c.len > 0 ? c.buf[0] : 0,
				c.len > 1 ? c.buf[1] : 0, why);
		return ret;
	}
	if (memcmp(&nf, &dev->rxf, sizeof(nf)) == 0)
		return ret;
	if (nf.queue_pairs != dev->rxf.queue_pairs) {
		dev->ctrl_pairs = nf.queue_pairs;
		ret |= VHU_NET_CTRL_PAIRS;
		VHU_LOG(INFO, "%s: guest uses %u queue pairs", dev->name,
			nf.queue_pairs);
	}
	rxf_publish(dev, &nf);
	return ret | VHU_NET_CTRL_CHANGED;
}

void
vhu_net_ctrl_notify(struct vhu_dev *dev)
{
	const struct vhu_ops *ops = &dev->sock->ops;

	if (ops->rx_filter_changed != NULL)
		ops->rx_filter_changed(dev, &dev->rxf, dev->sock->ctx);
}

/* ---- the application's view (vhu.h) ---- */

int
vhu_dev_rx_filter(const struct vhu_dev *dev, struct vhu_rx_filter *out)
{
	uint32_t begin, end;

	if (dev == NULL || out == NULL)
		return -EINVAL;
	for (;;) {
		/* A6: pairs with R7: a whole filter behind an even count */
		begin = atomic_load_explicit(&dev->rxf_seq,
					     memory_order_acquire);
		if (begin & 1) {
			rte_pause();
			continue;
		}
		memcpy(out, (const void *)&dev->rxf, sizeof(*out));
		/* A7: the copy before the second load; pairs with R6 */
		atomic_thread_fence(memory_order_acquire);
		end = atomic_load_explicit(&dev->rxf_seq, memory_order_relaxed);
		if (begin == end)
			return 0;
	}
}

static bool
mac_in(const uint8_t (*tab)[6], uint16_t n, const uint8_t *mac)
{
	for (uint16_t i = 0; i < n && i < VHU_RX_FILTER_MAX_MACS; i++)
		if (memcmp(tab[i], mac, 6) == 0)
			return true;
	return false;
}

bool
vhu_rx_filter_accept(const struct vhu_rx_filter *f, const void *frame,
		     uint32_t len)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const uint8_t *p = frame;

	/* 14: an Ethernet header; anything shorter is not ours to judge */
	if (f == NULL || p == NULL || len < 14 || f->promisc)
		return true;
	/* §5.1.6.5.3: with CTRL_VLAN, tagged frames of added VLANs only */
	if (f->vlan && len >= 16 && p[12] == 0x81 && p[13] == 0x00) {
		uint16_t vid = (uint16_t)((p[14] & 0x0f) << 8 | p[15]);

		if (!((f->vlans[vid / 64] >> (vid % 64)) & 1))
			return false;
	}
	if (!f->rx_mode)
		return true;
	if (memcmp(p, bcast, 6) == 0)
		return !f->nobcast;
	if (p[0] & 1) {
		if (f->nomulti)
			return false;
		return f->allmulti || mac_in(f->mc, f->n_mc, p);
	}
	if (f->nouni)
		return false;
	if (f->alluni || !f->has_mac)
		return true;
	return memcmp(p, f->mac, 6) == 0 || mac_in(f->uc, f->n_uc, p);
}
