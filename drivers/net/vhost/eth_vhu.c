/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_vhu: an ethdev port per vhost-user socket, on top of libvhu. This
 * file owns the vdev driver (probe/remove), the devargs, the ethdev control
 * ops, and the libvhu callbacks that turn frontend connects, disconnects
 * and vring enables into link state, RTE_ETH_EVENT_INTR_LSC and
 * RTE_ETH_EVENT_QUEUE_STATE events. It also keeps the RSS configuration
 * (ops, defaults; the hash is eth_vhu_rss.c) and compares the queue pairs
 * the guest enabled with those the application configured (an EAL alarm
 * once the vrings are quiet). The bursts and counters are in
 * eth_vhu_rxtx.c, Rx interrupts in eth_vhu_intr.c.
 *
 * libvhu is initialised by the first probe (with its own control thread,
 * where our callbacks run) and finalised when the last port closes.
 * Disconnect safety is libvhu's: once destroy_device returns, every burst
 * on the device returns 0 and the handle stays valid memory. The PMD only
 * publishes the handle to its lcores (port->dp_dev) and adds no handshake.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <linux/virtio_net.h>

#include <rte_alarm.h>
#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_dmadev.h>
#include <rte_ethdev.h>
#include <rte_interrupts.h>
#include <rte_kvargs.h>
#include <rte_malloc.h>
#include <ethdev_driver.h>
#include <ethdev_vdev.h>
#include <bus_vdev_driver.h>

#include "eth_vhu.h"
#include "rte_pmd_vhu.h"

RTE_LOG_REGISTER(vhu_eth_logtype, pmd.net.vhu, NOTICE);

/* ---- devargs ---- */

#define ARG_IFACE      "iface"
#define ARG_QUEUES     "queues"
#define ARG_CLIENT     "client"
#define ARG_IOMMU      "iommu-support"
#define ARG_POSTCOPY   "postcopy-support"
#define ARG_TSO        "tso"
#define ARG_LINEAR     "linear-buffer"
#define ARG_EXTBUF     "ext-buffer"
#define ARG_LEGACY_OL  "legacy-ol-flags"
#define ARG_CTRL_QUEUE "ctrl-queue"
#define ARG_RSS_STEER  "rss-steer"
#define ARG_COAL_USECS "coalesce-usecs"
#define ARG_COAL_FRAMES "coalesce-frames"
#define ARG_DMAS       "dmas"
#define ARG_LAZY_CALLS "lazy-calls"

static const char *const valid_args[] = {
	ARG_IFACE, ARG_QUEUES, ARG_CLIENT, ARG_IOMMU, ARG_POSTCOPY, ARG_TSO,
	ARG_LINEAR, ARG_EXTBUF, ARG_LEGACY_OL, ARG_CTRL_QUEUE, ARG_RSS_STEER,
	ARG_COAL_USECS, ARG_COAL_FRAMES,
	ARG_DMAS, ARG_LAZY_CALLS, NULL,
};

/* The largest coalesce-usecs= (1 s) and coalesce-frames= accepted. */
#define VHU_ETH_COAL_MAX_USECS 1000000u
#define VHU_ETH_COAL_MAX_FRAMES 65536u

struct vhu_eth_args {
	const char *iface;
	unsigned int queues;
	bool client, iommu, postcopy, tso, linear, extbuf, legacy_ol;
	bool ctrl_queue;
	bool rss_steer;
	bool lazy_calls;
	uint32_t coal_usecs, coal_frames;
	/*
	 * dmas=: per direction (enum vhu_async_dir: 0 Tx = libvhu's
	 * enqueue, 1 Rx = its dequeue) and queue, the DMA device (-1: none)
	 * and channel
	 */
	int16_t dma_id[2][VHU_ETH_MAX_QUEUES];
	uint16_t dma_vchan[2][VHU_ETH_MAX_QUEUES];
	bool dma;
};

static int
arg_bool(const char *key, const char *value, void *opaque)
{
	bool *b = opaque;

	if (value != NULL && strcmp(value, "0") == 0)
		*b = false;
	else if (value != NULL && strcmp(value, "1") == 0)
		*b = true;
	else {
		VHU_ETH_LOG(ERR, "devarg %s=%s: expected 0 or 1", key,
			    value != NULL ? value : "");
		return -EINVAL;
	}
	return 0;
}

static int
arg_queues(const char *key, const char *value, void *opaque)
{
	unsigned int *q = opaque;
	unsigned long v;
	char *end;

	errno = 0;
	v = value != NULL ? strtoul(value, &end, 10) : 0;
	if (value == NULL || *value == '\0' || *end != '\0' || errno != 0 ||
	    v < 1 || v > VHU_ETH_MAX_QUEUES || v > RTE_MAX_QUEUES_PER_PORT) {
		VHU_ETH_LOG(ERR, "devarg %s=%s: expected 1..%u (libvhu's max_queue_pairs)",
			    key, value != NULL ? value : "",
			    (unsigned int)RTE_MIN(VHU_ETH_MAX_QUEUES,
						  RTE_MAX_QUEUES_PER_PORT));
		return -EINVAL;
	}
	*q = (unsigned int)v;
	return 0;
}

static int
arg_iface(const char *key, const char *value, void *opaque)
{
	const char **p = opaque;

	if (value == NULL || *value == '\0' ||
	    strlen(value) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		VHU_ETH_LOG(ERR, "devarg %s: a socket path of 1..%zu characters",
			    key, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return -EINVAL;
	}
	*p = value;
	return 0;
}

/* coalesce-usecs= and coalesce-frames=: 0 (off) up to their maximum */
static int
arg_coal(const char *key, const char *value, void *opaque)
{
	unsigned long max = strcmp(key, ARG_COAL_USECS) == 0 ?
			    VHU_ETH_COAL_MAX_USECS : VHU_ETH_COAL_MAX_FRAMES;
	uint32_t *out = opaque;
	unsigned long v;
	char *end;

	errno = 0;
	v = value != NULL ? strtoul(value, &end, 10) : 0;
	if (value == NULL || *value == '\0' || *end != '\0' || errno != 0 ||
	    v > max) {
		VHU_ETH_LOG(ERR, "devarg %s=%s: expected 0..%lu", key,
			    value != NULL ? value : "", max);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

/*
 * One entry of dmas=: "txqN@DEV:CH" or "rxqN@DEV:CH" (DEV a dmadev name,
 * which may hold colons itself, as a PCI address does: CH is after the
 * last one).
 */
static int
dma_entry(char *e, struct vhu_eth_args *a)
{
	char *at = strchr(e, '@');
	char *colon = at != NULL ? strrchr(at, ':') : NULL;
	unsigned long q, ch;
	char *end;
	int16_t id;
	int d = strncmp(e, "rxq", 3) == 0; /* enum vhu_async_dir */

	if ((!d && strncmp(e, "txq", 3) != 0) || at == NULL ||
	    colon == NULL || colon == at + 1)
		goto bad;
	*at = '\0';
	*colon = '\0';
	errno = 0;
	q = strtoul(e + 3, &end, 10);
	if (e[3] == '\0' || *end != '\0' || errno != 0 ||
	    q >= VHU_ETH_MAX_QUEUES)
		goto bad;
	ch = strtoul(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || ch > UINT16_MAX)
		goto bad;
	id = (int16_t)rte_dma_get_dev_id_by_name(at + 1);
	if (id < 0) {
		VHU_ETH_LOG(ERR, "devarg dmas: no DMA device '%s' (create it before this port, e.g. --vdev=dma_skeleton first)",
			    at + 1);
		return -ENODEV;
	}
	if (a->dma_id[d][q] >= 0) {
		VHU_ETH_LOG(ERR, "devarg dmas: %sq%lu given twice",
			    d ? "rx" : "tx", q);
		return -EINVAL;
	}
	a->dma_id[d][q] = id;
	a->dma_vchan[d][q] = (uint16_t)ch;
	a->dma = true;
	return 0;
bad:
	VHU_ETH_LOG(ERR, "devarg dmas: entry '%s': expected txqN@DEV:CH or rxqN@DEV:CH (N < %u)",
		    e, (unsigned int)VHU_ETH_MAX_QUEUES);
	return -EINVAL;
}

/* dmas=[txq0@DEV:CH;txq1@DEV:CH;...] (net_vhost's spelling) */
static int
arg_dmas(const char *key, const char *value, void *opaque)
{
	struct vhu_eth_args *a = opaque;
	char buf[512];
	char *p, *save = NULL, *e;
	size_t len;
	int ret = 0;

	if (value == NULL || (len = strlen(value)) == 0 ||
	    len >= sizeof(buf)) {
		VHU_ETH_LOG(ERR, "devarg %s: expected [txqN@DEV:CH;...]", key);
		return -EINVAL;
	}
	memcpy(buf, value, len + 1);
	p = buf;
	if (p[0] == '[') {
		if (p[len - 1] != ']') {
			VHU_ETH_LOG(ERR, "devarg %s=%s: unbalanced [", key, value);
			return -EINVAL;
		}
		p[len - 1] = '\0';
		p++;
	}
	for (e = strtok_r(p, ";", &save); e != NULL && ret == 0;
	     e = strtok_r(NULL, ";", &save))
		ret = dma_entry(e, a);
	return ret;
}

/* Process one key if present; -EINVAL if its handler refused it. */
static int
arg_one(struct rte_kvargs *kv, const char *key, arg_handler_t h, void *out)
{
	unsigned int n = rte_kvargs_count(kv, key);

	if (n == 0)
		return 0;
	if (n > 1) {
		VHU_ETH_LOG(ERR, "devarg %s given %u times", key, n);
		return -EINVAL;
	}
	return rte_kvargs_process(kv, key, h, out) < 0 ? -EINVAL : 0;
}

/*
 * Parse and judge the devargs. See doc/guide/pmd.md for what each one
 * does and where it differs from net_vhost.
 */
static int
parse_args(const char *name, struct rte_kvargs *kv, struct vhu_eth_args *a)
{
	memset(a, 0, sizeof(*a));
	a->queues = 1;
	a->lazy_calls = true;
	for (unsigned int q = 0; q < VHU_ETH_MAX_QUEUES; q++)
		a->dma_id[0][q] = a->dma_id[1][q] = -1;
	/* rte_kvargs_parse with a key list would not say which key is wrong */
	for (unsigned int i = 0; i < kv->count; i++) {
		unsigned int k;

		for (k = 0; valid_args[k] != NULL; k++)
			if (strcmp(kv->pairs[i].key, valid_args[k]) == 0)
				break;
		if (valid_args[k] == NULL) {
			VHU_ETH_LOG(ERR, "%s: unknown devarg '%s' (known: iface, queues, client, iommu-support, postcopy-support, tso, linear-buffer, ext-buffer, legacy-ol-flags, ctrl-queue, rss-steer, coalesce-usecs, coalesce-frames, dmas, lazy-calls)",
				    name, kv->pairs[i].key);
			return -EINVAL;
		}
	}
	if (arg_one(kv, ARG_IFACE, arg_iface, &a->iface) < 0 ||
	    arg_one(kv, ARG_QUEUES, arg_queues, &a->queues) < 0 ||
	    arg_one(kv, ARG_CLIENT, arg_bool, &a->client) < 0 ||
	    arg_one(kv, ARG_IOMMU, arg_bool, &a->iommu) < 0 ||
	    arg_one(kv, ARG_POSTCOPY, arg_bool, &a->postcopy) < 0 ||
	    arg_one(kv, ARG_TSO, arg_bool, &a->tso) < 0 ||
	    arg_one(kv, ARG_LINEAR, arg_bool, &a->linear) < 0 ||
	    arg_one(kv, ARG_EXTBUF, arg_bool, &a->extbuf) < 0 ||
	    arg_one(kv, ARG_LEGACY_OL, arg_bool, &a->legacy_ol) < 0 ||
	    arg_one(kv, ARG_CTRL_QUEUE, arg_bool, &a->ctrl_queue) < 0 ||
	    arg_one(kv, ARG_RSS_STEER, arg_bool, &a->rss_steer) < 0 ||
	    arg_one(kv, ARG_COAL_USECS, arg_coal, &a->coal_usecs) < 0 ||
	    arg_one(kv, ARG_COAL_FRAMES, arg_coal, &a->coal_frames) < 0 ||
	    arg_one(kv, ARG_DMAS, arg_dmas, a) < 0 ||
	    arg_one(kv, ARG_LAZY_CALLS, arg_bool, &a->lazy_calls) < 0)
		return -EINVAL;
	for (unsigned int q = a->queues; q < VHU_ETH_MAX_QUEUES; q++) {
		if (a->dma_id[0][q] >= 0 || a->dma_id[1][q] >= 0) {
			VHU_ETH_LOG(ERR, "%s: devarg dmas names %sq%u, beyond queues=%u",
				    name, a->dma_id[0][q] >= 0 ? "tx" : "rx",
				    q, a->queues);
			return -EINVAL;
		}
	}
	/* both take Tx frames another way; keep the DMA path simple */
	if (a->dma && (a->rss_steer || a->ctrl_queue)) {
		VHU_ETH_LOG(ERR, "%s: devarg dmas cannot be combined with rss-steer=1 or ctrl-queue=1",
			    name);
		return -EINVAL;
	}
	if (a->iface == NULL) {
		VHU_ETH_LOG(ERR, "%s: devarg iface=<socket path> is required",
			    name);
		return -EINVAL;
	}
	return 0;
}

/* ---- process-wide libvhu lifetime ---- */

static pthread_mutex_t vhu_eth_global_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int vhu_eth_nb_ports;
static bool vhu_eth_we_init; /* false: the application initialised it */

static int
lib_get(void)
{
	int ret = 0;

	pthread_mutex_lock(&vhu_eth_global_lock);
	if (vhu_eth_nb_ports == 0) {
		ret = vhu_init(VHU_INIT_CONTROL_THREAD);
		if (ret == 0)
			vhu_eth_we_init = true;
		else if (ret == -EALREADY) {
			/* the application runs libvhu: its control loop, too */
			vhu_eth_we_init = false;
			ret = 0;
		}
	}
	if (ret == 0)
		vhu_eth_nb_ports++;
	pthread_mutex_unlock(&vhu_eth_global_lock);
	return ret;
}

static void
lib_put(void)
{
	pthread_mutex_lock(&vhu_eth_global_lock);
	if (--vhu_eth_nb_ports == 0 && vhu_eth_we_init) {
		vhu_fini();
		vhu_eth_we_init = false;
	}
	pthread_mutex_unlock(&vhu_eth_global_lock);
}

/* ---- link, events ---- */

/* P1: pairs with P2 in the bursts. Lock held. */
static void
publish_dp(struct vhu_eth_port *port)
{
	atomic_store_explicit(&port->dp_dev, port->started ? port->dev : NULL,
			      memory_order_release);
}

static void
link_set(struct vhu_eth_port *port, bool up)
{
	struct rte_eth_link link = {
		/* nominal: a software port has no line rate */
		.link_speed = up ? RTE_ETH_SPEED_NUM_10G : RTE_ETH_SPEED_NUM_NONE,
		.link_duplex = RTE_ETH_LINK_FULL_DUPLEX,
		.link_autoneg = RTE_ETH_LINK_FIXED,
		.link_status = up ? RTE_ETH_LINK_UP : RTE_ETH_LINK_DOWN,
	};

	rte_eth_linkstatus_set(port->eth_dev, &link);
}

static void
raise_lsc(struct vhu_eth_port *port)
{
	if (port->eth_dev->data->dev_conf.intr_conf.lsc)
		rte_eth_dev_callback_process(port->eth_dev,
					     RTE_ETH_EVENT_INTR_LSC, NULL);
}

static void
raise_queue_state(struct vhu_eth_port *port)
{
	rte_eth_dev_callback_process(port->eth_dev, RTE_ETH_EVENT_QUEUE_STATE,
				     NULL);
}

/* ---- the guest's receive filter (ctrl-queue=1) ---- */

/*
 * The control-queue features a guest may take with ctrl-queue=1: libvhu
 * answers the commands (vhu.h, "Control virtqueue"), Tx applies the
 * receive filter they set.
 */
#define VHU_ETH_CTRL_FEATURES \
	(RTE_BIT64(VIRTIO_NET_F_CTRL_VQ) | RTE_BIT64(VIRTIO_NET_F_CTRL_RX) | \
	 RTE_BIT64(VIRTIO_NET_F_CTRL_RX_EXTRA) | \
	 RTE_BIT64(VIRTIO_NET_F_CTRL_VLAN) | \
	 RTE_BIT64(VIRTIO_NET_F_CTRL_MAC_ADDR) | \
	 RTE_BIT64(VIRTIO_NET_F_GUEST_ANNOUNCE))

static unsigned int
vlan_count(const struct vhu_rx_filter *f)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < RTE_DIM(f->vlans); i++)
		n += (unsigned int)__builtin_popcountll(f->vlans[i]);
	return n;
}

/*
 * Lock held: show the guest's filter in ethdev's data: the promiscuous
 * and all-multicast flags, and the MAC table after the port's own
 * address (the primary MAC, then unicast, then multicast entries).
 */
static void
filter_apply(struct vhu_eth_port *port, const struct vhu_rx_filter *f)
{
	struct rte_eth_dev_data *data = port->eth_dev->data;
	struct rte_ether_addr *macs = data->mac_addrs;
	unsigned int k = 1;

	data->promiscuous = f->promisc;
	data->all_multicast = f->allmulti;
	memset(&macs[1], 0, (VHU_ETH_MAX_MACS - 1) * sizeof(*macs));
	if (f->has_mac)
		memcpy(&macs[k++], f->mac, RTE_ETHER_ADDR_LEN);
	for (unsigned int i = 0; i < f->n_uc && i < VHU_RX_FILTER_MAX_MACS; i++)
		memcpy(&macs[k++], f->uc[i], RTE_ETHER_ADDR_LEN);
	for (unsigned int i = 0; i < f->n_mc && i < VHU_RX_FILTER_MAX_MACS; i++)
		memcpy(&macs[k++], f->mc[i], RTE_ETHER_ADDR_LEN);
	port->filter = *f;
	atomic_store_explicit(&port->filter_gen, f->generation,
			      memory_order_relaxed);
}

/* Lock held: the guest is gone, ethdev's data is the application's again. */
static void
filter_clear(struct vhu_eth_port *port)
{
	struct rte_eth_dev_data *data = port->eth_dev->data;

	if (!atomic_load_explicit(&port->filter_on, memory_order_relaxed))
		return;
	atomic_store_explicit(&port->filter_on, false, memory_order_relaxed);
	data->promiscuous = port->app_promisc;
	data->all_multicast = port->app_allmulti;
	memset(&data->mac_addrs[1], 0,
	       (VHU_ETH_MAX_MACS - 1) * sizeof(*data->mac_addrs));
}

static void
cb_rx_filter(struct vhu_dev *dev, const struct vhu_rx_filter *f, void *ctx)
{
	struct vhu_eth_port *port = ctx;
	bool mine;

	rte_spinlock_lock(&port->lock);
	mine = port->dev == dev &&
	       atomic_load_explicit(&port->filter_on, memory_order_relaxed);
	if (mine)
		filter_apply(port, f);
	rte_spinlock_unlock(&port->lock);
	if (!mine)
		return;
	VHU_ETH_LOG(INFO, "port %u: guest receive filter: promisc %d allmulti %d alluni %d nomulti %d nouni %d nobcast %d, %u unicast, %u multicast, %u VLANs, %u queue pairs",
		    port->port_id, f->promisc, f->allmulti, f->alluni,
		    f->nomulti, f->nouni, f->nobcast, f->n_uc, f->n_mc,
		    vlan_count(f), f->queue_pairs);
}

/* ---- queue-count mismatch (lock held unless said) ---- */

/*
 * How long the guest's set of enabled vrings must stay unchanged before
 * the counts are compared: a guest enables its queue pairs one message
 * at a time at connect, and ethtool -L changes them one by one too.
 */
#define VHU_ETH_QCHECK_US (1000 * 1000)

static void qcheck_alarm(void *arg);
static void calls_alarm(void *arg);

/*
 * Interrupt coalescing (coalesce-usecs=, coalesce-frames=). A call libvhu
 * held back is made by the vring's next burst once due; a vring the
 * application stops bursting on (a guest receive queue with nothing more
 * to send) is flushed by this alarm, every coalesce-usecs (at least
 * VHU_ETH_COAL_MIN_US: an alarm is a thread wake-up), or every
 * VHU_ETH_COAL_FRAMES_US with a frame count only. So a guest waits at
 * most about twice the interval for its interrupt, never forever.
 * vhu_vring_flush_calls() never waits (a burst inside: -EBUSY, and that
 * burst makes the call itself), so the alarm thread holds up no lcore.
 *
 * Lazy calls (lazy-calls=1, the default; vhu.h, VHU_SOCKET_LAZY_CALLS):
 * the same alarm settles the checks calm bursts owe, every
 * VHU_ETH_LAZY_US when coalescing is off (with it on, libvhu makes no
 * lazy decisions). A guest that turns calls on just as a burst decides
 * without the fence waits at most that long for its interrupt, and only
 * when no burst follows.
 */
#define VHU_ETH_COAL_MIN_US 100
#define VHU_ETH_COAL_FRAMES_US 1000
#define VHU_ETH_LAZY_US 1000

static uint64_t
calls_period_us(const struct vhu_eth_port *port)
{
	if (port->coal_usecs == 0 && port->coal_frames == 0)
		return VHU_ETH_LAZY_US;
	if (port->coal_usecs == 0)
		return VHU_ETH_COAL_FRAMES_US;
	return RTE_MAX(port->coal_usecs, (uint32_t)VHU_ETH_COAL_MIN_US);
}

/* Under port->lock: arm the flush alarm if coalescing or lazy calls. */
static void
calls_schedule(struct vhu_eth_port *port)
{
	if (port->calls_armed || port->closing ||
	    (port->coal_usecs == 0 && port->coal_frames == 0 &&
	     !port->lazy_calls))
		return;
	if (rte_eal_alarm_set(calls_period_us(port), calls_alarm, port) == 0)
		port->calls_armed = true;
}

/* EAL alarm thread: make the held and owed calls due, then re-arm. */
static void
calls_alarm(void *arg)
{
	struct vhu_eth_port *port = arg;

	rte_spinlock_lock(&port->lock);
	port->calls_armed = false;
	if (port->closing || port->dev == NULL) {
		rte_spinlock_unlock(&port->lock);
		return;
	}
	for (uint16_t v = 0; v < 2 * port->queues; v++)
		if (port->vring_cur[v])
			(void)vhu_vring_flush_calls(port->dev, v);
	calls_schedule(port);
	rte_spinlock_unlock(&port->lock);
}

/* "2-3", "1, 3, 5-7": the set bits of mask */
static void
qps_str(uint32_t mask, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned int q = 0; q < 32 && off < len; q++) {
		unsigned int end = q;

		if (!(mask & RTE_BIT32(q)))
			continue;
		while (end + 1 < 32 && (mask & RTE_BIT32(end + 1)))
			end++;
		off += (size_t)snprintf(buf + off, len - off, "%s%u", off ? ", " : "", q);
		if (end > q && off < len)
			off += (size_t)snprintf(buf + off, len - off, "-%u", end);
		q = end;
	}
}

/* Something changed: compare again once it has been quiet for a while. */
static void
qcheck_schedule(struct vhu_eth_port *port)
{
	port->qcheck_stamp = rte_get_timer_cycles();
	if (port->qcheck_armed || port->closing)
		return;
	if (rte_eal_alarm_set(VHU_ETH_QCHECK_US, qcheck_alarm, port) == 0)
		port->qcheck_armed = true;
}

/*
 * Compare the queue pairs the guest enabled with the queues the
 * application configured (at dev_start): log once per new state, and
 * keep the counts for the xstats. Runs in the EAL alarm thread.
 */
static void
qcheck_alarm(void *arg)
{
	struct vhu_eth_port *port = arg;
	uint64_t quiet = rte_get_timer_hz() * VHU_ETH_QCHECK_US / 1000000;
	uint32_t idle = 0, unpolled = 0, both = 0;
	uint16_t conf, rxq, txq, enabled = 0;
	char list[128];
	bool report;

	rte_spinlock_lock(&port->lock);
	if (port->closing) {
		port->qcheck_armed = false;
		rte_spinlock_unlock(&port->lock);
		return;
	}
	if (rte_get_timer_cycles() - port->qcheck_stamp < quiet) {
		/* not quiet yet: look again later */
		if (rte_eal_alarm_set(VHU_ETH_QCHECK_US, qcheck_alarm, port) != 0)
			port->qcheck_armed = false;
		rte_spinlock_unlock(&port->lock);
		return;
	}
	port->qcheck_armed = false;
	rxq = port->app_rxq;
	txq = port->app_txq;
	conf = RTE_MAX(rxq, txq);
	if (port->dev == NULL || !port->started) {
		rte_spinlock_unlock(&port->lock);
		return;
	}
	for (uint16_t q = 0; q < port->queues; q++) {
		bool grx = port->vring_cur[2 * q], gtx = port->vring_cur[2 * q + 1];

		if (grx && gtx) {
			enabled++;
			both |= RTE_BIT32(q);
		}
		if (q < conf && !(grx && gtx))
			idle |= RTE_BIT32(q);
		if ((gtx && q >= rxq) || (grx && q >= txq))
			unpolled |= RTE_BIT32(q);
	}
	port->idle_qps = (uint16_t)__builtin_popcount(idle);
	port->unpolled_qps = (uint16_t)__builtin_popcount(unpolled);
	report = port->qcheck_logged != ((uint64_t)unpolled << 32 | idle);
	port->qcheck_logged = (uint64_t)unpolled << 32 | idle;
	rte_spinlock_unlock(&port->lock);

	if (!report)
		return;
	if (idle != 0) {
		qps_str(idle, list, sizeof(list));
		VHU_ETH_LOG(WARNING, "%s: guest enabled %u of %u queue pairs; queues %s will stay idle (QEMU: -netdev ...,queues=%u and guest: ethtool -L eth0 combined %u)",
			    port->eth_dev->data->name, enabled, conf, list,
			    conf, conf);
	}
	if (unpolled != 0) {
		qps_str(unpolled, list, sizeof(list));
		VHU_ETH_LOG(WARNING, "%s: guest enabled queue pairs %s that the application does not poll (%u Rx, %u Tx queues configured): frames the guest sends on them go unread (configure %u queues, or guest: ethtool -L eth0 combined %u)",
			    port->eth_dev->data->name, list, rxq, txq,
			    (unsigned int)(32 - __builtin_clz(both | unpolled)),
			    conf);
	}
	if (idle == 0 && unpolled == 0)
		VHU_ETH_LOG(INFO, "%s: guest and application agree on %u queue pairs",
			    port->eth_dev->data->name, conf);
}

/* Lock held: steering's view of the guest's receive queues */
static void
steer_mask_update(struct vhu_eth_port *port)
{
	uint32_t m = 0;

	for (uint16_t q = 0; q < port->queues; q++)
		if (port->vring_cur[2 * q])
			m |= RTE_BIT32(q);
	atomic_store_explicit(&port->steer_qps, m, memory_order_relaxed);
}

/* ---- dmas=: DMA channels of the Tx queues ---- */

/*
 * Configure and start each DMA device dmas= names, unless the
 * application did (it then has its channels already): one channel per
 * vchan named, memory to memory; *started gets a bit per device started
 * here (the port stops it when it closes: EAL's cleanup refuses to close
 * a running one, and dma_skeleton's copy thread outlives it). nb_desc
 * 1024: a burst's worth of pieces for several bursts; not tuned. 0, or a
 * negative errno value said.
 */
static int
dma_setup(const char *name, const struct vhu_eth_args *a, uint64_t *started)
{
	/* entry k: direction k / VHU_ETH_MAX_QUEUES, queue k % ... */
	for (unsigned int k = 0; k < 2 * VHU_ETH_MAX_QUEUES; k++) {
		const unsigned int kd = k / VHU_ETH_MAX_QUEUES;
		const unsigned int kq = k % VHU_ETH_MAX_QUEUES;
		int16_t id = a->dma_id[kd][kq];
		struct rte_dma_info info;
		uint16_t nvc = 0;

		if (id < 0)
			continue;
		for (unsigned int r = 0; r < 2 * VHU_ETH_MAX_QUEUES; r++) {
			const unsigned int rd = r / VHU_ETH_MAX_QUEUES;
			const unsigned int rq = r % VHU_ETH_MAX_QUEUES;

			if (a->dma_id[rd][rq] != id)
				continue;
			if (r != k &&
			    a->dma_vchan[rd][rq] == a->dma_vchan[kd][kq]) {
				VHU_ETH_LOG(ERR, "%s: dmas: two queues share channel %u of one device",
					    name, a->dma_vchan[kd][kq]);
				return -EINVAL;
			}
			nvc = RTE_MAX(nvc,
				      (uint16_t)(a->dma_vchan[rd][rq] + 1));
		}
		if (rte_dma_info_get(id, &info) != 0)
			return -ENODEV;
		if (info.nb_vchans == 0) {
			struct rte_dma_conf conf = { .nb_vchans = nvc };
			struct rte_dma_vchan_conf vc = {
				.direction = RTE_DMA_DIR_MEM_TO_MEM,
				.nb_desc = RTE_MAX((uint16_t)1024,
						   info.min_desc),
			};
			int ret = nvc > info.max_vchans ? -EINVAL :
				  rte_dma_configure(id, &conf);

			vc.nb_desc = RTE_MIN(vc.nb_desc, info.max_desc);

			for (uint16_t v = 0; v < nvc && ret == 0; v++)
				ret = rte_dma_vchan_setup(id, v, &vc);
			if (ret == 0)
				ret = rte_dma_start(id);
			if (ret != 0) {
				VHU_ETH_LOG(ERR, "%s: dmas: cannot set DMA device %s up with %u channels: %s",
					    name, info.dev_name, nvc,
					    strerror(-ret));
				return ret < 0 ? ret : -EINVAL;
			}
			VHU_ETH_LOG(INFO, "%s: DMA device %s started, %u channels of %u descriptors",
				    name, info.dev_name, nvc, vc.nb_desc);
			/* ours to stop at close (ids beyond 63: left running) */
			if (id < 64)
				*started |= RTE_BIT64(id);
		} else if (nvc > info.nb_vchans) {
			VHU_ETH_LOG(ERR, "%s: dmas: DMA device %s was configured with %u channels, channel %u named",
				    name, info.dev_name, info.nb_vchans,
				    nvc - 1);
			return -EINVAL;
		}
	}
	return 0;
}

/* Stop the DMA devices dma_setup() started. */
static void
dma_stop(uint64_t started)
{
	while (started != 0) {
		(void)rte_dma_stop((int16_t)__builtin_ctzll(started));
		started &= started - 1;
	}
}

/*
 * Bind the channel of direction d (enum vhu_async_dir) of qp on dev, if
 * it has one and is not bound. Not locked.
 */
static void
dma_bind(struct vhu_eth_port *port, struct vhu_dev *dev, uint16_t qp, int d)
{
	const char *what = d ? "rx" : "tx";
	int ret;

	if (qp >= port->queues || port->dma_id[d][qp] < 0 ||
	    (atomic_load_explicit(&port->dma_bound[d], memory_order_relaxed) &
	     RTE_BIT32(qp)))
		return;
	ret = vhu_async_bind(dev, qp, (enum vhu_async_dir)d,
			     port->dma_id[d][qp], port->dma_vchan[d][qp], NULL);
	if (ret == 0) {
		atomic_fetch_or_explicit(&port->dma_bound[d], RTE_BIT32(qp),
					 memory_order_relaxed);
		VHU_ETH_LOG(INFO, "port %u: %s queue %u copies on DMA %d:%u",
			    port->port_id, what, qp, port->dma_id[d][qp],
			    port->dma_vchan[d][qp]);
	} else if (ret != -ENODEV) {
		/* -ENODEV: the guest has not set the queue up yet */
		VHU_ETH_LOG(ERR, "port %u: %s queue %u: DMA %d:%u not bound (%s): the core copies",
			    port->port_id, what, qp, port->dma_id[d][qp],
			    port->dma_vchan[d][qp], strerror(-ret));
	}
}

/* Unbind every channel bound on dev (its frames go back to their pools). */
static void
dma_unbind_all(struct vhu_eth_port *port, struct vhu_dev *dev)
{
	for (int d = 0; d < 2; d++) {
		uint32_t bound = atomic_exchange_explicit(&port->dma_bound[d],
							  0,
							  memory_order_relaxed);

		while (bound != 0) {
			uint16_t qp = (uint16_t)__builtin_ctz(bound);
			int ret = vhu_async_unbind(dev, qp,
						   (enum vhu_async_dir)d);

			if (ret != 0)
				VHU_ETH_LOG(ERR, "port %u: %s queue %u: DMA unbind: %s",
					    port->port_id, d ? "rx" : "tx", qp,
					    strerror(-ret));
			bound &= bound - 1;
		}
	}
}

/* ---- libvhu callbacks: libvhu's control thread (or dev_close) ---- */

static int
cb_new_device(struct vhu_dev *dev, void *ctx)
{
	struct vhu_eth_port *port = ctx;
	uint16_t mtu = vhu_dev_mtu(dev);
	uint64_t feat = vhu_dev_features(dev);
	bool filter = port->ctrl_queue &&
		      (feat & RTE_BIT64(VIRTIO_NET_F_CTRL_VQ)) &&
		      (feat & (RTE_BIT64(VIRTIO_NET_F_CTRL_RX) |
			       RTE_BIT64(VIRTIO_NET_F_CTRL_VLAN)));
	struct vhu_rx_filter f;
	int node = vhu_dev_numa_node(dev);
	bool closing;

	(void)vhu_dev_rx_filter(dev, &f);
	rte_spinlock_lock(&port->lock);
	closing = port->closing;
	port->dev = dev;
	if (filter) {
		port->app_promisc = port->eth_dev->data->promiscuous;
		port->app_allmulti = port->eth_dev->data->all_multicast;
		filter_apply(port, &f);
		atomic_store_explicit(&port->filter_on, true,
				      memory_order_relaxed);
	}
	/*
	 * rte_eth_dev_socket_id(): where the guest's memory is, so that the
	 * application polls from lcores (and allocates mbufs) there. Unknown
	 * keeps what the port had: a reconnecting guest usually comes back
	 * on the same node.
	 */
	if (node >= 0)
		port->eth_dev->data->numa_node = node;
	/* without NET_SET_MTU the port keeps the MTU it had */
	port->guest_mtu = mtu;
	if (mtu != 0)
		port->eth_dev->data->mtu = mtu;
	vhu_eth_lib_rebase(port, dev);
	publish_dp(port);
	qcheck_schedule(port);
	rte_spinlock_unlock(&port->lock);

	VHU_ETH_LOG(INFO, "port %u: frontend connected on %s (%u vrings, features 0x%" PRIx64 ", %s %u, NUMA node %d)",
		    port->port_id, port->iface, vhu_dev_vring_count(dev),
		    vhu_dev_features(dev),
		    mtu != 0 ? "guest MTU" : "no guest MTU, port MTU",
		    mtu != 0 ? mtu : port->eth_dev->data->mtu, node);
	for (uint16_t qp = 0; qp < port->queues; qp++) {
		dma_bind(port, dev, qp, VHU_ASYNC_ENQUEUE);
		dma_bind(port, dev, qp, VHU_ASYNC_DEQUEUE);
	}
	link_set(port, true);
	if (!closing)
		raise_lsc(port);
	return 0;
}

static void
cb_destroy_device(struct vhu_dev *dev, void *ctx)
{
	struct vhu_eth_port *port = ctx;
	bool closing;
	unsigned int nb_down = 0;

	/* the queues are stopped (their copies drained): give the frames back */
	dma_unbind_all(port, dev);
	rte_spinlock_lock(&port->lock);
	closing = port->closing;
	if (port->dev == dev) {
		vhu_eth_lib_fold(port, dev);
		filter_clear(port);
		port->dev = NULL;
		port->guest_mtu = 0;
		publish_dp(port);
		/* libvhu reports no per-vring disable on a stop: we do */
		for (uint16_t v = 0; v < 2 * port->queues; v++) {
			if (port->vring_cur[v])
				nb_down++;
			port->vring_cur[v] = false;
		}
		steer_mask_update(port);
		/* the next guest is judged afresh */
		port->idle_qps = 0;
		port->unpolled_qps = 0;
		port->qcheck_logged = 0;
		for (uint16_t q = 0; q < port->intr_nb; q++)
			vhu_eth_intr_sync(port, q);
	}
	rte_spinlock_unlock(&port->lock);

	VHU_ETH_LOG(INFO, "port %u: frontend gone from %s", port->port_id,
		    port->iface);
	link_set(port, false);
	if (closing)
		return;
	/* one event per queue, as if each had been disabled on its own */
	while (nb_down-- > 0)
		raise_queue_state(port);
	raise_lsc(port);
}

static void
cb_vring_state(struct vhu_dev *dev, uint16_t vring, bool enabled, void *ctx)
{
	struct vhu_eth_port *port = ctx;
	bool closing, changed = false, arm = false;

	rte_spinlock_lock(&port->lock);
	closing = port->closing;
	if (port->dev == dev && vring < 2 * port->queues &&
	    port->vring_cur[vring] != enabled) {
		port->vring_cur[vring] = enabled;
		changed = true;
		steer_mask_update(port);
		qcheck_schedule(port);
		if (enabled)
			calls_schedule(port); /* coalescing, lazy calls */
		if (vring % 2 == 1 && vring / 2 < port->intr_nb) {
			vhu_eth_intr_sync(port, vring / 2);
			arm = enabled && port->intr_armed[vring / 2];
		}
	}
	rte_spinlock_unlock(&port->lock);

	VHU_ETH_LOG(INFO, "port %u: %s queue %u %s", port->port_id,
		    vring % 2 ? "rx" : "tx", vring / 2,
		    enabled ? "enabled" : "disabled");
	/* a vring set up after the start gets its channel */
	if (enabled && port->dev == dev)
		dma_bind(port, dev, vring / 2, vring % 2);
	/* an application asleep on this queue must hear the first kick */
	if (arm)
		(void)vhu_vring_notify(dev, vring, true);
	/* a vring that goes live gets the port's coalescing (off: nothing) */
	if (changed && enabled &&
	    (port->coal_usecs != 0 || port->coal_frames != 0)) {
		int ret = vhu_vring_set_coalesce(dev, vring, port->coal_usecs,
						 port->coal_frames);

		if (ret < 0)
			VHU_ETH_LOG(WARNING, "port %u: vring %u: no interrupt coalescing: %s",
				    port->port_id, vring, strerror(-ret));
	}
	if (changed && !closing)
		raise_queue_state(port);
}

/*
 * The guest broke a vring: libvhu stopped it and counts it (the
 * rx_qN_broken / tx_qN_broken xstats); the queue returns 0 until the
 * frontend resets the ring or reconnects. Say which ethdev queue it is.
 */
static void
cb_vring_broken(struct vhu_dev *dev, uint16_t vring, void *ctx)
{
	struct vhu_eth_port *port = ctx;

	(void)dev;
	VHU_ETH_LOG(ERR, "port %u: %s queue %u stopped: the guest broke its vring %u",
		    port->port_id, vring % 2 ? "rx" : "tx", vring / 2, vring);
}

static const struct vhu_ops vhu_eth_cbs = {
	.new_device = cb_new_device,
	.destroy_device = cb_destroy_device,
	.vring_state_changed = cb_vring_state,
	.vring_broken = cb_vring_broken,
	.rx_filter_changed = cb_rx_filter,
};

/*
 * What tso=0 takes out of libvhu's offer: every feature that lets the
 * guest send segmentation-offload frames (HOST_ECN only qualifies TSO
 * frames, virtio 1.2 §5.1.3.1). Checksum offload and the guest's receive
 * offloads (GUEST_*) stay: enqueue does in software what the guest did
 * not negotiate, so they cost the application nothing.
 */
#define VHU_ETH_HOST_GSO_FEATURES \
	(RTE_BIT64(VIRTIO_NET_F_HOST_TSO4) | RTE_BIT64(VIRTIO_NET_F_HOST_TSO6) | \
	 RTE_BIT64(VIRTIO_NET_F_HOST_ECN) | RTE_BIT64(VIRTIO_NET_F_HOST_USO))

/* linear-buffer / ext-buffer: libvhu builds the mbufs that way itself */
static uint32_t
socket_buf_flags(uint8_t chain)
{
	switch (chain) {
	case VHU_ETH_CHAIN_DROP:
		return VHU_SOCKET_LINEARBUF;
	case VHU_ETH_CHAIN_EXTBUF:
		return VHU_SOCKET_LINEARBUF | VHU_SOCKET_EXTBUF;
	case VHU_ETH_CHAIN_PREFER_EXTBUF:
		return VHU_SOCKET_EXTBUF;
	default:
		return 0;
	}
}

static int
socket_open(struct vhu_eth_port *port)
{
	struct vhu_socket_params p = {
		.path = port->iface,
		.flags = (port->client ? VHU_SOCKET_CLIENT : 0) |
			 (port->iommu ? VHU_SOCKET_IOMMU : 0) |
			 (port->postcopy ? VHU_SOCKET_POSTCOPY : 0) |
			 (port->legacy_ol ? VHU_SOCKET_LEGACY_OL_FLAGS : 0) |
			 (port->lazy_calls ? VHU_SOCKET_LAZY_CALLS : 0) |
			 socket_buf_flags(port->chain),
		.max_queue_pairs = port->queues,
		.ops = &vhu_eth_cbs,
		.ctx = port,
	};
	struct vhu_socket *s;
	int ret;

	ret = vhu_socket_register(&p, &s);
	if (ret < 0) {
		VHU_ETH_LOG(ERR, "port %u: cannot register %s: %s",
			    port->port_id, port->iface, strerror(-ret));
		return ret;
	}
	if (port->ctrl_queue) {
		ret = vhu_socket_enable_features(s, VHU_ETH_CTRL_FEATURES);
		if (ret < 0) {
			VHU_ETH_LOG(ERR, "port %u: cannot offer the control queue on %s: %s",
				    port->port_id, port->iface, strerror(-ret));
			vhu_socket_unregister(s);
			return ret;
		}
	}
	/* bits libvhu does not offer are ignored: nothing to test first */
	if (!port->tso) {
		ret = vhu_socket_disable_features(s, VHU_ETH_HOST_GSO_FEATURES);
		if (ret < 0) {
			VHU_ETH_LOG(ERR, "port %u: cannot withdraw the TSO features on %s: %s",
				    port->port_id, port->iface, strerror(-ret));
			vhu_socket_unregister(s);
			return ret;
		}
	}
	ret = vhu_socket_start(s);
	if (ret < 0) {
		VHU_ETH_LOG(ERR, "port %u: cannot %s %s: %s", port->port_id,
			    port->client ? "connect to" : "listen on",
			    port->iface, strerror(-ret));
		vhu_socket_unregister(s);
		return ret;
	}
	port->sock = s;
	return 0;
}

static void
socket_close(struct vhu_eth_port *port)
{
	if (port->sock == NULL)
		return;
	/* runs destroy_device here if a frontend is connected */
	vhu_socket_unregister(port->sock);
	port->sock = NULL;
}

/* ---- RSS (control side; the lcores read it in eth_vhu_rxtx.c) ---- */

/* Lock held, or the port not yet visible. */
static void
rss_set_key(struct vhu_eth_port *port, const uint8_t *key, uint8_t len)
{
	struct vhu_eth_rss_key k;

	memcpy(port->rss_key, key, len);
	port->rss_key_len = len;
	vhu_eth_rss_key_prepare(&k, key);
	for (unsigned int i = 0; i < RTE_DIM(k.w); i++)
		atomic_store_explicit(&port->rss_key_w[i], k.w[i],
				      memory_order_relaxed);
}

/*
 * Lock held, or the port not yet visible: the default key (symmetric),
 * every flow type, the RETA spread over nb queue pairs.
 */
static void
rss_defaults(struct vhu_eth_port *port, uint16_t nb)
{
	rss_set_key(port, vhu_eth_rss_key_default, VHU_ETH_RSS_KEY_LEN);
	atomic_store_explicit(&port->rss_hf, VHU_ETH_RSS_HF,
			      memory_order_relaxed);
	for (unsigned int i = 0; i < VHU_ETH_RETA_SIZE; i++)
		atomic_store_explicit(&port->reta[i], (uint8_t)(i % nb),
				      memory_order_relaxed);
}

/* A key of 40 bytes, or 52 (only its first 40 count), or none. */
static int
rss_check_key(const struct vhu_eth_port *port,
	      const struct rte_eth_rss_conf *conf)
{
	if (conf->rss_key == NULL || conf->rss_key_len == VHU_ETH_RSS_KEY_LEN ||
	    conf->rss_key_len == VHU_ETH_RSS_KEY_LEN_MAX)
		return 0;
	VHU_ETH_LOG(ERR, "port %u: RSS key of %u bytes: %u or %u expected",
		    port->port_id, conf->rss_key_len, VHU_ETH_RSS_KEY_LEN,
		    VHU_ETH_RSS_KEY_LEN_MAX);
	return -EINVAL;
}

static int
vhu_eth_rss_hash_update(struct rte_eth_dev *eth_dev,
			struct rte_eth_rss_conf *conf)
{
	struct vhu_eth_port *port = eth_dev->data->dev_private;

	if ((conf->rss_hf & ~VHU_ETH_RSS_HF) != 0) {
		VHU_ETH_LOG(ERR, "port %u: RSS types 0x%" PRIx64 " not supported (supported: 0x%" PRIx64 ")",
			    port->port_id, conf->rss_hf, (uint64_t)VHU_ETH_RSS_HF);
		return -EINVAL;
	}
	if (rss_check_key(port, conf) < 0)
		return -EINVAL;
	rte_spinlock_lock(&port->lock);
	if (conf->rss_key != NULL)
		rss_set_key(port, conf->rss_key, conf->rss_key_len);
	atomic_store_explicit(&port->rss_hf, conf->rss_hf,
			      memory_order_relaxed);
	rte_spinlock_unlock(&port->lock);
	return 0;
}

static int
vhu_eth_rss_hash_conf_get(struct rte_eth_dev *eth_dev,
			  struct rte_eth_rss_conf *conf)
{
	struct vhu_eth_port *port = eth_dev->data->dev_private;

	rte_spinlock_lock(&port->lock);
	conf->rss_hf = atomic_load_explicit(&port->rss_hf,
					    memory_order_relaxed);
	if (conf->rss_key != NULL) {
		/* the buffer is hash_key_size (40) unless the caller says more */
		uint8_t len = conf->rss_key_len >= port->rss_key_len ?
			      port->rss_key_len : VHU_ETH_RSS_KEY_LEN;

		memcpy(conf->rss_key, port->rss_key, len);
		conf->rss_key_len = len;
	}
	rte_spinlock_unlock(&port->lock);
	return 0;
}

static int
vhu_eth_reta_update(struct rte_eth_dev *eth_dev,
		    struct rte_eth_rss_reta_entry64 *reta, uint16_t size)
{
	struct vhu_eth_port *port = eth_dev->data->dev_private;

	if (size != VHU_ETH_RETA_SIZE) {
		VHU_ETH_LOG(ERR, "port %u: RETA of %u entries: the port has %u",
			    port->port_id, size, VHU_ETH_RETA_SIZE);
		return -EINVAL;
	}
	/* ethdev checked every entry against nb_rx_queues */
	for (unsigned int i = 0; i < size; i++) {
		const struct rte_eth_rss_reta_entry64 *g =
			&reta[i / RTE_ETH_RETA_GROUP_SIZE];
		unsigned int e = i % RTE_ETH_RETA_GROUP_SIZE;

		if (g->reta[e] >= port->queues) {
			VHU_ETH_LOG(ERR, "port %u: RETA entry %u: queue %u of %u",
				    port->port_id, i, g->reta[e], port->queues);
			return -EINVAL;
		}
	}
	rte_spinlock_lock(&port->lock);
	for (unsigned int i = 0; i < size; i++) {
		const struct rte_eth_rss_reta_entry64 *g =
			&reta[i / RTE_ETH_RETA_GROUP_SIZE];
		unsigned int e = i % RTE_ETH_RETA_GROUP_SIZE;

		if (g->mask & RTE_BIT64(e))
			atomic_store_explicit(&port->reta[i],
					      (uint8_t)g->reta[e],
					      memory_order_relaxed);
	}
	rte_spinlock_unlock(&port->lock);
	return 0;
}

static int
vhu_eth_reta_query(struct rte_eth_dev *eth_dev,
		   struct rte_eth_rss_reta_entry64 *reta, uint16_t size)
{
	struct vhu_eth_port *port = eth_dev->data->dev_private;

	if (size != VHU_ETH_RETA_SIZE)
		return -EINVAL;
	for (unsigned int i = 0; i < size; i++) {
		struct rte_eth_rss_reta_entry64 *g =
			&reta[i / RTE_ETH_RETA_GROUP_SIZE];
		unsigned int e = i % RTE_ETH_RETA_GROUP_SIZE;

		if (g->mask & RTE_BIT64(e))
			g->reta[e] = atomic_load_explicit(&port->reta[i],
							  memory_order_relaxed);
	}
	return 0;
}

/* ---- ethdev ops ---- */

static int
vhu_eth_configure(struct rte_eth_dev *eth_dev)
{
	struct vhu_eth_port *port = eth_dev->data->dev_private;
	const struct rte_eth_conf *c = &eth_dev->data->dev_conf;
	uint16_t guest_mtu;

	const struct rte_eth_rss_conf *rss = &c->rx_adv_conf.rss_conf;
	bool rss_on = (c->rxmode.mq_mode & RTE_ETH_MQ_RX_RSS_FLAG) != 0;
	uint16_t nb = eth_dev->data->nb_rx_queues;

	if (c->rxmode.mq_mode != RTE_ETH_MQ_RX_NONE &&
	    c->rxmode.mq_mode != RTE_ETH_MQ_RX_RSS)
		VHU_ETH_LOG(WARNING, "port %u: Rx mq_mode %d ignored: the guest picks the queue",
			    port->port_id, c->rxmode.mq_mode);
	if (rss_on && rss_check_key(port, rss) < 0)
		return -EINVAL;
	/*
	 * RSS state from scratch, as a NIC's at configure: the RETA spread
	 * over the Rx queues (with rss-steer=1 over the guest's queue pairs,
	 * the queues it steers to). Without RSS asked, the hash covers every
	 * flow type (for steering and RSS_HASH).
	 */
	if (port->rss_steer || nb == 0)
		nb = port->queues;
	rte_spinlock_lock(&port->lock);
	rss_defaults(port, nb);
	if (rss_on) {
		if (rss->rss_key != NULL)
			rss_set_key(port, rss->rss_key, rss->rss_key_len);
		atomic_store_explicit(&port->rss_hf,
				      rss->rss_hf & VHU_ETH_RSS_HF,
				      memory_order_relaxed);
	}
	rte_spinlock_unlock(&port->lock);
	/*
	 * ethdev has set data->mtu to rxmode.mtu. A connected guest's MTU
	 * stays the port's; without one the value is recorded, and holds
	 * until a guest sets its own (see vhu_eth_mtu_set).
	 */
	rte_spinlock_lock(&port->lock);
	guest_mtu = port->guest_mtu;
	if (guest_mtu != 0)
		eth_dev->data->mtu = guest_mtu;
	rte_spinlock_unlock(&port->lock);
	if (guest_mtu != 0 && c->rxmode.mtu != guest_mtu)
		VHU_ETH_LOG(NOTICE, "port %u: MTU %u not applied, the guest's is %u: the guest's MTU is set by the frontend (QEMU host_mtu)",
			    port->port_id, c->rxmode.mtu, guest_mtu);
	return 0;
}

/*
 * Which partial checksums the Rx queues complete: those whose Rx offload
 * the application did not enable (it may forward the frame as it is, so
 * the checksum must be right). In the legacy convention the frames carry
 * transmit requests for a NIC instead, and stay as they are.
 */
static uint8_t
rx_finish_mode(const struct vhu_eth_port *port, uint64_t rx_offloads)
{
	uint8_t finish = VHU_ETH_FINISH_NONE;

	if (port->legacy_ol)
		return finish;
	if ((rx_offloads & RTE_ETH_RX_OFFLOAD_TCP_CKSUM) == 0)
		finish |= VHU_ETH_FINISH_TCP;
	if ((rx_offloads & RTE_ETH_RX_OFFLOAD_UDP_CKSUM) == 0)
		finish |= VHU_ETH_FINISH_UDP;
	return finish;
}

static int
vhu_eth_start(struct rte_eth_dev *eth_dev)
{
	struct vhu_eth_port *port = eth_dev->data->dev_private;
	struct rte_eth_dev_data *d = eth_dev->data;
	uint8_t finish = rx_finish_mode(port, d->dev_conf.rxmode.offloads);

	if (d->dev_conf.intr_conf.rxq) {
		int ret = vhu_eth_intr_start(port, d->nb_rx_queues);

		if (ret < 0) {
			VHU_ETH_LOG(ERR, "port %u: Rx interrupts: %s",
				    port->port_id, strerror(-ret));
			return ret;
		}
	}
	/* before P1 below: the lcores read it after their P2 */
	for (uint16_t q = 0; q < d->nb_rx_queues; q++) {
		struct vhu_eth_queue *eq = d->rx_queues[q];

		if (eq != NULL) {
			eq->finish = finish;
			eq->rss_hash = (d->dev_conf.rxmode.offloads &
					RTE_ETH_RX_OFFLOAD_RSS_HASH) != 0;
		}
	}
	rte_spinlock_lock(&port->lock);
	port->started = true;
	port->app_rxq = d->nb_rx_queues;
	port->app_txq = d->nb_tx_queues;
	publish_dp(port);
	qcheck_schedule(port);
	rte_spinlock_unlock(&port->lock);
	for (uint16_t q = 0; q < d->nb_rx_queues; q++)
		d->rx_queue_state[q] = RTE_ETH_QUEUE_STATE_STARTED;
	for (uint16_t q = 0; q < d->nb_tx_queues; q++)
		d->tx_queue_state[q] = RTE_ETH_QUEUE_STATE_STARTED;
	return 0;
}

static int
vhu_eth_stop(struct rte_eth_dev *eth_dev)
{
	struct vhu_eth_port *port = eth_dev->data->dev_private;
	struct rte_eth_dev_data *d = eth_dev->data;

	/*
	 * Bursts that already loaded the handle finish normally; the next
	 * ones see NULL. The application stops polling before dev_stop.
	 */
	rte_spinlock_lock(&port->lock);
	port->started = false;
	publish_dp(port);
	rte_spinlock_unlock(&port->lock);
	for (uint16_t q = 0; q < d->nb_rx_queues; q++)
		d->rx_queue_state[q] = RTE_ETH_QUEUE_STATE_STOPPED;
	for (uint16_t q = 0; q < d->nb_tx_queues; q++)
		d->tx_queue_state[q] = RTE_ETH_QUEUE_STATE_STOPPED;
	return 0;
}

static void
vhu_eth_rx_queue_release(struct rte_eth_dev *eth_dev, uint16_t q)
{
	rte_free(eth_dev->data->rx_queues[q]);
	eth_dev->data->rx_queues[q] = NULL;
}

static void
vhu_eth_tx_queue_release(struct rte_eth_dev *eth_dev, uint16_t q)
{
	rte_free(eth_dev->data->tx_queues[q]);
	eth_dev->data->tx_queues[q] = NULL;
}

static int
vhu_eth_close(struct rte_eth_dev *eth_dev)
{
	struct vhu_eth_port *port = eth_dev->data->dev_private;

	/* port->intr goes at the end: a second close (remove) is a no-op */
	if (rte_eal_process_type() != RTE_PROC_PRIMARY || port->intr == NULL)
		return 0;
	vhu_eth_stop(eth_dev);
	rte_spinlock_lock(&port->lock);
	port->closing = true;
	rte_spinlock_unlock(&port->lock);
	/* waits for a running check; a pending one goes (closing: no re-arm) */
	rte_eal_alarm_cancel(qcheck_alarm, port);
	rte_eal_alarm_cancel(calls_alarm, port);
	socket_close(port); /* unbinds the DMA channels (destroy_device) */
	dma_stop(port->dma_started);
	port->dma_started = 0;
	vhu_eth_intr_close(port);
	rte_intr_instance_free(port->intr);
	port->intr = NULL;
	eth_dev->intr_handle = NULL;
	for (uint16_t q = 0; q < eth_dev->data->nb_rx_queues; q++)
		vhu_eth_rx_queue_release(eth_dev, q);
	for (uint16_t q = 0; q < eth_dev->data->nb_tx_queues; q++)
		vhu_eth_tx_queue_release(eth_dev, q);
	/* mac_addrs and dev_private are freed by rte_eth_dev_release_port */
	lib_put();
	VHU_ETH_LOG(INFO, "port %u: closed %s", port->port_id, port->iface);
	return 0;
}

/*
 * Back to the state after probe: the socket is closed and opened again
 * (a connected frontend is dropped; a client-mode port reconnects, a
 * server-mode one waits for the frontend to reconnect) and the counters
 * start from zero. ethdev stopped the port before calling this.
 */
static int
vhu_eth_reset(struct rte_eth_dev *eth_dev)
{
	struct vhu_eth_port *port = eth_dev->data->dev_private;
	int ret;

	rte_spinlock_lock(&port->lock);
	port->closing = true; /* the application asked: no events */
	rte_spinlock_unlock(&port->lock);
	socket_close(port);
	rte_spinlock_lock(&port->lock);
	port->closing = false;
	rte_spinlock_unlock(&port->lock);
	vhu_eth_stats_reset(eth_dev);
	ret = socket_open(port);
	if (ret < 0)
		VHU_ETH_LOG(ERR, "port %u: reset: socket not reopened; close the port",
			    port->port_id);
	return ret;
}

static int
vhu_eth_infos_get(struct rte_eth_dev *eth_dev, struct rte_eth_dev_info *di)
{
	struct vhu_eth_port *port = eth_dev->data->dev_private;

	/* ctrl-queue=1: the guest's addresses follow ours (filter_apply) */
	di->max_mac_addrs = port->ctrl_queue ? VHU_ETH_MAX_MACS : 1;
	di->max_rx_pktlen = VHU_ETH_MAX_FRAME;
	di->min_mtu = RTE_ETHER_MIN_MTU;
	di->max_mtu = VHU_ETH_MAX_FRAME - RTE_ETHER_HDR_LEN;
	di->max_rx_queues = port->queues;
	di->max_tx_queues = port->queues;
	/* frames larger than one mbuf may come as chains, unless linear */
	di->rx_offload_capa = (port->chain == VHU_ETH_CHAIN_KEEP ||
			       port->chain == VHU_ETH_CHAIN_PREFER_EXTBUF) ?
			      RTE_ETH_RX_OFFLOAD_SCATTER : 0;
	/*
	 * Partial checksums are flagged RTE_MBUF_F_RX_L4_CKSUM_NONE only for
	 * an application that enabled these; the others get them completed
	 * (rx_burst).
	 */
	di->rx_offload_capa |= RTE_ETH_RX_OFFLOAD_TCP_CKSUM |
			       RTE_ETH_RX_OFFLOAD_UDP_CKSUM |
			       RTE_ETH_RX_OFFLOAD_RSS_HASH;
	/* eth_vhu_rss.h: the hash fills hash.rss and steers with rss-steer=1 */
	di->flow_type_rss_offloads = VHU_ETH_RSS_HF;
	di->hash_key_size = VHU_ETH_RSS_KEY_LEN;
	di->reta_size = VHU_ETH_RETA_SIZE;
	if (port->tso) {
		/* the guest may send GSO frames: they arrive whole */
		di->rx_offload_capa |= RTE_ETH_RX_OFFLOAD_TCP_LRO;
		di->max_rx_pktlen = VHU_ETH_MAX_GSO_FRAME;
		di->max_lro_pkt_size = VHU_ETH_MAX_GSO_FRAME;
	}
	/* libvhu's enqueue does what the guest did not negotiate itself */
	di->tx_offload_capa = RTE_ETH_TX_OFFLOAD_MULTI_SEGS |
			      RTE_ETH_TX_OFFLOAD_IPV4_CKSUM |
			      RTE_ETH_TX_OFFLOAD_TCP_CKSUM |
			      RTE_ETH_TX_OFFLOAD_UDP_CKSUM |
			      RTE_ETH_TX_OFFLOAD_TCP_TSO |
			      RTE_ETH_TX_OFFLOAD_UDP_TSO;
	di->min_rx_bufsize = 0;
	di->speed_capa = RTE_ETH_LINK_SPEED_10G;
	/* the guest's ring size decides; any descriptor count is accepted */
	di->rx_desc_lim.nb_max = UINT16_MAX;
	di->tx_desc_lim.nb_max = UINT16_MAX;
	di->default_rxportconf.burst_size = VHU_BURST_MAX;
	di->default_txportconf.burst_size = VHU_BURST_MAX;
	di->default_rxportconf.nb_queues = 1;
	di->default_txportconf.nb_queues = 1;
	return 0;
}

void
vhu_eth_log_nomem(const char *who, const char *what, size_t bytes, int socket)
{
	struct rte_malloc_socket_stats st;
	unsigned long pages = 0, page_kb = 0;
	unsigned long long heap_free = 0;
	char line[128];
	FILE *f;

	if (rte_malloc_get_socket_stats(socket < 0 ? (int)rte_socket_id() :
					socket, &st) == 0)
		heap_free = st.heap_freesz_bytes;
	if (!rte_eal_has_hugepages()) {
		VHU_ETH_LOG(ERR, "%s: out of memory for %s (%zu bytes): the DPDK heap has %llu MiB free (--no-huge); fix: give EAL more with -m MB",
			    who, what, bytes, heap_free >> 20);
		return;
	}
	f = fopen("/proc/meminfo", "r");
	if (f != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			(void)sscanf(line, "HugePages_Free: %lu", &pages);
			(void)sscanf(line, "Hugepagesize: %lu kB", &page_kb);
		}
		fclose(f);
	}
	VHU_ETH_LOG(ERR, "%s: out of hugepage memory for %s (%zu bytes); free: %lu hugepages of %lu kB, DPDK heap %llu MiB; fix: reserve more (echo N > /sys/kernel/mm/hugepages/hugepages-%lukB/nr_hugepages), raise -m if you gave one, or run with --no-huge -m MB",
		    who, what, bytes, pages, page_kb, heap_free >> 20, page_kb);
}

/*
 * The queue's state goes where the application asks (socket_id), as with
 * any ethdev; with SOCKET_ID_ANY, on the node of the last guest seen.
 * Queues are usually set up before a guest connects, so the guest's node
 * is not known yet; once it is, rte_eth_dev_socket_id() tells it, and an
 * application that sets its queues up again gets them there. They are
 * not moved under a running port: its lcores hold them.
 */
static struct vhu_eth_queue *
queue_new(struct rte_eth_dev *eth_dev, uint16_t q, unsigned int socket_id,
	  bool rx)
{
	struct vhu_eth_port *port = eth_dev->data->dev_private;
	struct vhu_eth_queue *eq;
	int node = (int)socket_id;

	/* no preference: the guest's node, once a guest has been seen */
	if (node == SOCKET_ID_ANY)
		node = eth_dev->data->numa_node;
	eq = rte_zmalloc_socket(rx ? "vhu_rxq" : "vhu_txq", sizeof(*eq),
				RTE_CACHE_LINE_SIZE, node);
	if (eq == NULL && node != (int)socket_id)
		eq = rte_zmalloc_socket(rx ? "vhu_rxq" : "vhu_txq", sizeof(*eq),
					RTE_CACHE_LINE_SIZE, (int)socket_id);
	if (eq == NULL) {
		char who[32], what[32];

		snprintf(who, sizeof(who), "port %u", port->port_id);
		snprintf(what, sizeof(what), "%s queue %u", rx ? "rx" : "tx",
			 q);
		vhu_eth_log_nomem(who, what, sizeof(*eq), (int)socket_id);
		return NULL;
	}
	eq->port = port;
	eq->qp = q;
	eq->port_id = port->port_id;
	eq->rx = rx;
	return eq;
}

static int
vhu_eth_rx_queue_setup(struct rte_eth_dev *eth_dev, uint16_t q,
		       uint16_t nb_desc, unsigned int socket_id,
		       const struct rte_eth_rxconf *conf,
		       struct rte_mempool *mp)
{
	struct vhu_eth_queue *eq = queue_new(eth_dev, q, socket_id, true);

	(void)nb_desc;
	(void)conf;
	if (eq == NULL)
		return -ENOMEM;
	eq->mp = mp;
	eth_dev->data->rx_queues[q] = eq;
	return 0;
}

static int
vhu_eth_tx_queue_setup(struct rte_eth_dev *eth_dev, uint16_t q,
		       uint16_t nb_desc, unsigned int socket_id,
		       const struct rte_eth_txconf *conf)
{
	struct vhu_eth_queue *eq = queue_new(eth_dev, q, socket_id, false);

	(void)nb_desc;
	(void)conf;
	if (eq == NULL)
		return -ENOMEM;
	eth_dev->data->tx_queues[q] = eq;
	return 0;
}

static int
vhu_eth_link_update(struct rte_eth_dev *eth_dev, int wait)
{
	struct vhu_eth_port *port = eth_dev->data->dev_private;
	bool up;

	(void)wait; /* the state is known at once */
	rte_spinlock_lock(&port->lock);
	up = port->dev != NULL;
	rte_spinlock_unlock(&port->lock);
	link_set(port, up);
	return 0;
}

/* A vhost port gets every frame the guest sends: filters are no-ops. */
static int
vhu_eth_rx_mode_noop(struct rte_eth_dev *eth_dev)
{
	(void)eth_dev;
	return 0;
}

/*
 * The MTU is the guest's: the frontend tells it (NET_SET_MTU, from QEMU's
 * host_mtu) and libvhu drops longer frames on enqueue. vhost-user has no
 * message the other way, so a different MTU could not be enforced: only
 * the current value is accepted (ethdev checked the range).
 */
static int
vhu_eth_mtu_set(struct rte_eth_dev *eth_dev, uint16_t mtu)
{
	struct vhu_eth_port *port = eth_dev->data->dev_private;
	uint16_t cur;

	rte_spinlock_lock(&port->lock);
	cur = eth_dev->data->mtu;
	rte_spinlock_unlock(&port->lock);
	if (mtu == cur)
		return 0;
	VHU_ETH_LOG(ERR, "port %u: cannot set MTU %u (it is %u): the guest's MTU is set by the frontend (QEMU host_mtu)",
		    port->port_id, mtu, cur);
	return -ENOTSUP;
}

static const struct eth_dev_ops vhu_eth_ops = {
	.dev_configure = vhu_eth_configure,
	.dev_start = vhu_eth_start,
	.dev_stop = vhu_eth_stop,
	.dev_close = vhu_eth_close,
	.dev_reset = vhu_eth_reset,
	.dev_infos_get = vhu_eth_infos_get,
	.rx_queue_setup = vhu_eth_rx_queue_setup,
	.tx_queue_setup = vhu_eth_tx_queue_setup,
	.rx_queue_release = vhu_eth_rx_queue_release,
	.tx_queue_release = vhu_eth_tx_queue_release,
	.link_update = vhu_eth_link_update,
	.stats_get = vhu_eth_stats_get,
	.stats_reset = vhu_eth_stats_reset,
	.xstats_get = vhu_eth_xstats_get,
	.xstats_get_names = vhu_eth_xstats_get_names,
	.xstats_reset = vhu_eth_stats_reset,
	.promiscuous_enable = vhu_eth_rx_mode_noop,
	.promiscuous_disable = vhu_eth_rx_mode_noop,
	.allmulticast_enable = vhu_eth_rx_mode_noop,
	.allmulticast_disable = vhu_eth_rx_mode_noop,
	.mtu_set = vhu_eth_mtu_set,
	.rx_queue_intr_enable = vhu_eth_rx_intr_enable,
	.rx_queue_intr_disable = vhu_eth_rx_intr_disable,
	.rss_hash_update = vhu_eth_rss_hash_update,
	.rss_hash_conf_get = vhu_eth_rss_hash_conf_get,
	.reta_update = vhu_eth_reta_update,
	.reta_query = vhu_eth_reta_query,
};

/* ---- public API (rte_pmd_vhu.h) ---- */

int
vhu_eth_get_queue_event(uint16_t port_id, struct vhu_eth_queue_event *ev)
{
	struct vhu_eth_port *port;
	int ret = -EAGAIN;

	if (ev == NULL)
		return -EINVAL;
	if (!rte_eth_dev_is_valid_port(port_id) ||
	    rte_eth_devices[port_id].dev_ops != &vhu_eth_ops)
		return -ENODEV;
	port = rte_eth_devices[port_id].data->dev_private;
	rte_spinlock_lock(&port->lock);
	for (uint16_t v = 0; v < 2 * port->queues; v++) {
		if (port->vring_cur[v] == port->vring_seen[v])
			continue;
		port->vring_seen[v] = port->vring_cur[v];
		ev->queue_id = v / 2;
		ev->rx = v % 2 == 1; /* the guest's Tx vring feeds our Rx queue */
		ev->enable = port->vring_cur[v];
		ret = 0;
		break;
	}
	rte_spinlock_unlock(&port->lock);
	return ret;
}

/* ---- vdev driver ---- */

static int
vhu_eth_probe(struct rte_vdev_device *vdev)
{
	const char *name = rte_vdev_device_name(vdev);
	struct rte_kvargs *kv = NULL;
	struct rte_eth_dev *eth_dev = NULL;
	struct vhu_eth_port *port;
	struct rte_ether_addr *mac = NULL;
	struct vhu_eth_args a;
	uint64_t dma_started = 0;
	bool lib_held = false;
	int ret;

	if (rte_eal_process_type() != RTE_PROC_PRIMARY) {
		VHU_ETH_LOG(ERR, "%s: secondary processes are not supported",
			    name);
		return -ENOTSUP;
	}
	kv = rte_kvargs_parse(rte_vdev_device_args(vdev) != NULL ?
			      rte_vdev_device_args(vdev) : "", NULL);
	if (kv == NULL) {
		VHU_ETH_LOG(ERR, "%s: malformed devargs '%s'", name,
			    rte_vdev_device_args(vdev));
		return -EINVAL;
	}
	ret = parse_args(name, kv, &a);
	if (ret < 0)
		goto fail;

	if (a.dma) {
		ret = dma_setup(name, &a, &dma_started);
		if (ret < 0)
			goto fail;
	}
	ret = lib_get();
	if (ret < 0) {
		VHU_ETH_LOG(ERR, "%s: vhu_init: %s", name, strerror(-ret));
		goto fail;
	}
	lib_held = true;

	eth_dev = rte_eth_vdev_allocate(vdev, sizeof(*port));
	mac = rte_zmalloc_socket(name, VHU_ETH_MAX_MACS * sizeof(*mac), 0,
				 rte_socket_id());
	if (eth_dev == NULL || mac == NULL) {
		/* a port allocation also fails when ports run out: say memory
		 * only for what can only lack memory */
		if (eth_dev == NULL)
			VHU_ETH_LOG(ERR, "%s: cannot allocate an ethdev port (RTE_MAX_ETHPORTS reached, or out of memory)",
				    name);
		else
			vhu_eth_log_nomem(name, "the MAC address",
					  sizeof(*mac), -1);
		ret = -ENOMEM;
		goto fail;
	}
	port = eth_dev->data->dev_private;
	port->eth_dev = eth_dev;
	port->port_id = eth_dev->data->port_id;
	port->queues = (uint16_t)a.queues;
	port->client = a.client;
	port->iommu = a.iommu;
	port->postcopy = a.postcopy;
	port->tso = a.tso;
	port->legacy_ol = a.legacy_ol;
	port->ctrl_queue = a.ctrl_queue;
	port->rss_steer = a.rss_steer;
	port->coal_usecs = a.coal_usecs;
	port->coal_frames = a.coal_frames;
	port->lazy_calls = a.lazy_calls;
	memcpy(port->dma_id, a.dma_id, sizeof(port->dma_id));
	memcpy(port->dma_vchan, a.dma_vchan, sizeof(port->dma_vchan));
	port->dma_started = dma_started;
	dma_started = 0;
	port->chain = a.linear ? (a.extbuf ? VHU_ETH_CHAIN_EXTBUF :
					     VHU_ETH_CHAIN_DROP) :
		      a.extbuf ? VHU_ETH_CHAIN_PREFER_EXTBUF :
				 VHU_ETH_CHAIN_KEEP;
	snprintf(port->iface, sizeof(port->iface), "%s", a.iface);
	rte_spinlock_init(&port->lock);
	for (unsigned int q = 0; q < RTE_DIM(port->steer_lock); q++)
		rte_spinlock_init(&port->steer_lock[q].lock);
	rss_defaults(port, 1);
	for (unsigned int q = 0; q < RTE_DIM(port->intr_epfd); q++) {
		port->intr_epfd[q] = -1;
		port->intr_kickfd[q] = -1;
	}
	port->intr = rte_intr_instance_alloc(RTE_INTR_INSTANCE_F_PRIVATE);
	if (port->intr == NULL) {
		ret = -ENOMEM;
		goto fail;
	}
	rte_intr_type_set(port->intr, RTE_INTR_HANDLE_VDEV);

	/* locally administered, "vhu" and the port id: stable across runs */
	mac->addr_bytes[0] = 0x02;
	mac->addr_bytes[1] = 'v';
	mac->addr_bytes[2] = 'h';
	mac->addr_bytes[3] = 'u';
	mac->addr_bytes[4] = (uint8_t)(port->port_id >> 8);
	mac->addr_bytes[5] = (uint8_t)port->port_id;
	eth_dev->data->mac_addrs = mac;
	mac = NULL;
	eth_dev->data->dev_flags |= RTE_ETH_DEV_INTR_LSC;
	eth_dev->data->dev_link.link_status = RTE_ETH_LINK_DOWN;
	eth_dev->dev_ops = &vhu_eth_ops;
	eth_dev->intr_handle = port->intr;
	eth_dev->rx_pkt_burst = vhu_eth_rx_burst;
	eth_dev->tx_pkt_burst = vhu_eth_tx_burst;

	ret = socket_open(port);
	if (ret < 0)
		goto fail;
	rte_eth_dev_probing_finish(eth_dev);
	VHU_ETH_LOG(INFO, "%s: port %u on %s (%s, %u queue pairs, features offered 0x%" PRIx64 "%s)",
		    name, port->port_id, port->iface,
		    port->client ? "client" : "server", port->queues,
		    vhu_socket_get_features(port->sock),
		    port->rss_steer ? ", Tx steered by RSS hash" : "");
	rte_kvargs_free(kv);
	return 0;

fail:
	rte_free(mac);
	if (eth_dev != NULL) {
		port = eth_dev->data->dev_private;
		rte_intr_instance_free(port->intr);
		eth_dev->intr_handle = NULL;
		rte_eth_dev_release_port(eth_dev);
	}
	if (lib_held)
		lib_put();
	dma_stop(dma_started);
	rte_kvargs_free(kv);
	return ret;
}

static int
vhu_eth_remove(struct rte_vdev_device *vdev)
{
	struct rte_eth_dev *eth_dev;

	eth_dev = rte_eth_dev_allocated(rte_vdev_device_name(vdev));
	if (eth_dev == NULL)
		return 0; /* the application closed the port already */
	vhu_eth_close(eth_dev);
	return rte_eth_dev_release_port(eth_dev);
}

static struct rte_vdev_driver vhu_eth_drv = {
	.probe = vhu_eth_probe,
	.remove = vhu_eth_remove,
};

RTE_PMD_REGISTER_VDEV(net_vhu, vhu_eth_drv);
RTE_PMD_REGISTER_PARAM_STRING(net_vhu,
	"iface=<path> "
	"queues=<int> "
	"client=<0|1> "
	"iommu-support=<0|1> "
	"postcopy-support=<0|1> "
	"tso=<0|1> "
	"linear-buffer=<0|1> "
	"ext-buffer=<0|1> "
	"legacy-ol-flags=<0|1> "
	"ctrl-queue=<0|1> "
	"rss-steer=<0|1> "
	"coalesce-usecs=<int> "
	"coalesce-frames=<int>");
