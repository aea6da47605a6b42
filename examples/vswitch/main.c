/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhu-vswitch: an L2 learning switch over N vhost-user ports, built on
 * libvhu's C API. Each --socket is one port (one guest). Frames a guest
 * sends are switched by destination MAC: known unicast goes to the port
 * the address was last seen on; broadcast, multicast and unknown unicast
 * are flooded to every other port. A source MAC that shows up on another
 * port than its table entry (a guest that migrated: libvhu puts a RARP
 * from its MAC in front of the next dequeue) moves at once, and the move
 * is logged. libvhu copies on enqueue and leaves the mbuf with the caller,
 * so a flooded frame is enqueued to each port and freed once.
 *
 * Offloads: each port offers libvhu's default features, which include the
 * checksum and segmentation offloads, unless --offloads takes some away;
 * libvhu completes checksums and segments in software for a guest that
 * did not take what another guest sent. The switch looks past the
 * Ethernet header only to hash the flow (below); offload metadata passes
 * through untouched.
 *
 * Queue pairs: a frame for a port with several enabled receive queue
 * pairs goes into the one its flow's Toeplitz hash picks (rte_thash,
 * IPv4/IPv6 addresses and TCP/UDP ports, a symmetric key), so one flow
 * stays on one guest queue, whichever worker forwards it, and the guest
 * sees its frames in order.
 *
 * Idle ports (doc/guide/interrupt-mode.md). A guest transmit vring whose
 * dequeues found nothing for --idle-us is parked: its worker asks the
 * guest for kicks (vhu_vring_notify), polls once more (a buffer the guest
 * added before it saw the request is not kicked), and adds a dup of the
 * vring's kick eventfd to its own epoll set. The first kick puts it back
 * on the poll list (vhu_vring_kick_ack, kicks off again). A worker with
 * nothing left to poll sleeps in epoll_wait, woken by a kick, by its wake
 * eventfd (written by the control thread after every C1) or by a timeout
 * (IDLE_SLEEP_MS), after which it polls each parked vring once: a kick
 * that went astray costs at most that long.
 *
 * This file owns: the ports (the device each one serves, its enabled
 * queue masks and the offloads it offers), the static share of (port,
 * queue pair) among the worker lcores, the parked vrings of each worker,
 * the MAC table, the per-worker counters, and the main lcore's live view
 * and exit summary.
 *
 * Threading rule. libvhu's control thread runs the callbacks and is the
 * only writer of a port's device pointer and queue masks. Every EAL worker
 * lcore polls; the guest transmit vring of (port, qp) is dequeued by worker
 * (port + qp) % n_workers only, so no vring ever has two readers. Any
 * worker may send to any port, into the enabled receive queue pair of
 * each frame's flow; libvhu allows one lcore per queue pair and direction, so with
 * several workers the enqueue runs under that (port, qp)'s spinlock. The
 * MAC table is an rte_hash with lock-free readers and locked writers.
 * Counters are per worker (one writer each); the main lcore only reads
 * them, prints, and drains the MAC-move ring (its single consumer).
 *
 * Atomic pairings (all device and mask accesses are seq_cst):
 *   C1 control stores a port's dev / masks        pairs with W1
 *   W1 worker loads the configuration generation once per pass, and
 *      when it moved (C1 bumps it after its stores), every port's dev /
 *      masks / generation: a pass uses the view its W1 saw.
 *   W2 worker bumps its epoch after the pass     pairs with C2
 *   C2 destroy_device loads each worker's epoch after C1 and waits for it
 *      to move: the pass that may still hold the old device has ended, and
 *      the next pass's W1 sees C1 (W1 after W2 after C2 after C1 in the
 *      single total order).
 *   W3 worker clears `running` as it exits       pairs with C2's wait loop
 *      (nobody waits for a worker that no longer polls).
 *   A sleeping worker moves its epoch only when it wakes: C1 is followed
 *   by a write of every worker's wake eventfd, so C2 waits one wake-up.
 *   A parked vring's kick fd is only dup'ed inside a pass, and
 *   destroy_device and vring_state_changed (after which the fd may be
 *   closed) both wait with C2: the dup is of the vring's live fd. The next
 *   pass sees the port's generation move and unparks (closes the dup).
 *   Counters: one writer, relaxed load + relaxed store; readers load them
 *   relaxed (statistics only, no ordering needed); the exit summary reads
 *   them after rte_eal_mp_wait_lcore(), which orders everything.
 *   `workers_stop`: relaxed both ways, only asks the loop to end.
 *   Plain data the workers read (ports' paths, poll masks, lock_outputs)
 *   is written before rte_eal_remote_launch(), which orders it. MAC moves
 *   travel on an rte_ring (many producers, one consumer): its own order.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/virtio_net.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_thash.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include <rte_spinlock.h>

#include "vhu.h"
#include "vhu_burst.h"
#include "vhu_config.h"
#include "pool_hint.h"

#define MAX_PORTS 256
#define BURST 32
#define MAC_TABLE_SIZE 4096
#define POOL_SIZE 16383
/* Queue pairs per port: the build maximum, as far as a 64-bit mask goes. */
#define MAX_QP (VHU_MAX_QUEUE_PAIRS < 64 ? VHU_MAX_QUEUE_PAIRS : 64)
/* MAC moves waiting for the main lcore, and how many it prints a second. */
#define MOVE_RING_SIZE 256
#define MOVE_LINES_PER_SEC 10
/* The main lcore drains the move ring this often (microseconds). */
#define MAIN_TICK_US 10000
/* Up to this many ports, the live view has a line for every port. */
#define LIVE_ALL_PORTS 16
/*
 * A worker that found the MAC table full adds no new address for this
 * long (ms): with a full table (entries never age out) a guest sending
 * from ever new MACs would make every frame an add, each failing under
 * the table's writer lock that every worker takes to learn.
 */
#define LEARN_PAUSE_MS 1000
/*
 * Idle vrings. --idle-us default: 1 ms without a frame parks a guest
 * transmit vring. A guest sending even 1 kpps never parks (no kicks, no
 * wake-up latency for live traffic), an idle one costs nothing after a
 * millisecond, and a park / wake cycle (two vring quiesces, about five
 * system calls: ~5 us) would cost under 0.5 % of a CPU even for a guest
 * sending one frame every ~1.1 ms. A worker with vrings on its poll list
 * looks for kicks of its parked ones every KICK_CHECK_US (one
 * epoll_wait(0): ~1 % of a busy worker at 50 us, and a wake-up of at most
 * that much more); one with none sleeps up to IDLE_SLEEP_MS, then polls
 * every parked vring once (a kick lost in a race is late that long at
 * most; 256 vrings x 10/s is no load) and sees a stop request.
 */
#define IDLE_US_DEFAULT 1000
#define KICK_CHECK_US 50
#define IDLE_SLEEP_MS 100
#define EPOLL_BATCH 64

/* route_burst() verdicts besides a port number */
#define ROUTE_FLOOD (-1)
#define ROUTE_DROP (-2)

struct port {
	/* Written by the control thread (C1), read by workers (W1). */
	_Atomic(struct vhu_dev *) dev;
	_Atomic uint64_t rx_qps;        /* bit qp: vring 2qp (guest rx) on */
	_Atomic uint64_t tx_qps;        /* bit qp: vring 2qp+1 (guest tx) on */
	_Atomic uint64_t gen;           /* C1: bumped by every change */
	struct vhu_socket *sock;
	const char *name;               /* last component of path */
	int offloads;                   /* index in offload_modes, or -1:
					   the mode given for every port */
	char path[108];
};

/*
 * --offloads modes: which virtio-net offload features a port does not
 * offer. "Guest" offloads are the guest's receive side (it takes frames
 * with a partial checksum or GSO frames from the switch), "host" offloads
 * its transmit side (it sends them).
 */
#define F(bit) (UINT64_C(1) << (bit))
#define GUEST_OFFLOADS (F(VIRTIO_NET_F_GUEST_CSUM) | \
			F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) | \
			F(VIRTIO_NET_F_GUEST_ECN) | F(VIRTIO_NET_F_GUEST_UFO) | \
			F(VIRTIO_NET_F_GUEST_USO4) | F(VIRTIO_NET_F_GUEST_USO6))
#define HOST_OFFLOADS (F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GSO) | \
		       F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6) | \
		       F(VIRTIO_NET_F_HOST_ECN) | F(VIRTIO_NET_F_HOST_UFO) | \
		       F(VIRTIO_NET_F_HOST_USO))
/* Segmentation (and the ECN that goes with it), both ways. */
#define SEG_OFFLOADS ((GUEST_OFFLOADS | HOST_OFFLOADS) & \
		      ~(F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM)))

static const struct {
	const char *name;
	uint64_t off;                   /* features not offered */
} offload_modes[] = {
	{ "on", 0 },
	{ "off", GUEST_OFFLOADS | HOST_OFFLOADS },
	{ "no-guest", GUEST_OFFLOADS },
	{ "no-host", HOST_OFFLOADS },
	{ "no-tso", SEG_OFFLOADS },
};

/* Offload feature bits by name, for the logs. */
static const struct {
	unsigned int bit;
	const char *name;
} offload_names[] = {
	{ VIRTIO_NET_F_CSUM, "csum" },
	{ VIRTIO_NET_F_GUEST_CSUM, "guest_csum" },
	{ VIRTIO_NET_F_GSO, "gso" },
	{ VIRTIO_NET_F_GUEST_TSO4, "guest_tso4" },
	{ VIRTIO_NET_F_GUEST_TSO6, "guest_tso6" },
	{ VIRTIO_NET_F_GUEST_ECN, "guest_ecn" },
	{ VIRTIO_NET_F_GUEST_UFO, "guest_ufo" },
	{ VIRTIO_NET_F_HOST_TSO4, "host_tso4" },
	{ VIRTIO_NET_F_HOST_TSO6, "host_tso6" },
	{ VIRTIO_NET_F_HOST_ECN, "host_ecn" },
	{ VIRTIO_NET_F_HOST_UFO, "host_ufo" },
	{ VIRTIO_NET_F_GUEST_USO4, "guest_uso4" },
	{ VIRTIO_NET_F_GUEST_USO6, "guest_uso6" },
	{ VIRTIO_NET_F_HOST_USO, "host_uso" },
};

/*
 * Serialises enqueues into (port, qp) when several workers send. Kept
 * apart from the ports: inside, each port took 4 KiB and a pass, which
 * reads every port's first fields, touched a page per port (no change
 * measured with 2 ports; it is for 16). n_ports x opt.queues of them,
 * allocated at start (256 ports x 64 queue pairs would be 1 MiB).
 */
struct out_lock {
	rte_spinlock_t lock;
} __rte_cache_aligned;
static struct out_lock *out_locks;

/* One worker's counts for one port; written by that worker only. */
struct port_count {
	_Atomic uint64_t rx[MAX_QP];    /* frames dequeued from the guest */
	_Atomic uint64_t tx[MAX_QP];    /* frames placed into the guest */
	_Atomic uint64_t drop_full;     /* for the port, guest ring was full */
	_Atomic uint64_t drop_noq;      /* for the port, no guest or no queue */
	_Atomic uint64_t filtered;      /* from the port: runt, or to itself */
	_Atomic uint64_t moves;         /* MACs that moved to the port */
};

/* What a worker saw of every port at its last reload (W1). */
struct view {
	uint64_t gen;                   /* of the whole configuration */
	struct vhu_dev *dev[MAX_PORTS];
	uint64_t tx_qps[MAX_PORTS];
	uint64_t rx_qps[MAX_PORTS];     /* receive queue pairs to send on */
	uint64_t port_gen[MAX_PORTS];
};

/* A guest transmit vring (port, qp) of a worker: idle tracking. */
struct slot {
	uint64_t last_busy;             /* TSC of its last frame (or park try) */
	uint64_t gen;                   /* the port's generation when parked */
	int fd;                         /* parked: our dup of its kick fd */
};

/* Frames bound for one output port, collected over one input burst. */
struct out_list {
	struct rte_mbuf *pkts[BURST];
	uint16_t n;
};

struct worker {
	unsigned int lcore;
	unsigned int index;             /* 0 .. n_workers - 1 */
	unsigned int n_polls;           /* queue pairs it owns, in all */
	uint64_t polls[MAX_PORTS];      /* bit qp: it dequeues (port, qp) */
	_Atomic uint64_t epoch;         /* W2 */
	_Atomic bool running;           /* W3 */
	_Atomic uint64_t moves_unlogged; /* move ring was full */
	_Atomic uint64_t not_learned;   /* new sources the full table refused */
	_Atomic uint64_t parks;         /* vrings taken off the poll list */
	_Atomic uint64_t wakes;         /* ... and put back by a kick */
	_Atomic uint64_t sleeps;        /* epoll_wait with nothing to poll */
	uint64_t learn_resume;          /* TSC: no new addresses before it */
	struct port_count *cnt;         /* [n_ports] */
	/* the worker's own (no other thread touches them) */
	struct view view;
	uint64_t parked[MAX_PORTS];     /* bit qp: (port, qp) is parked */
	unsigned int n_parked;
	uint16_t act[MAX_PORTS];        /* ports with a vring to poll */
	unsigned int n_act;
	bool act_stale;                 /* act[] needs a rebuild */
	struct slot *slots;             /* [n_ports * opt.queues] */
	struct out_list *out;           /* [n_ports] */
	uint16_t *touched;              /* [n_ports]: out[] lists in use */
	int epfd;                       /* parked kick fds and wake_fd */
	int wake_fd;                    /* written by the control thread */
	uint32_t ev[EPOLL_BATCH];       /* kicks seen, for the next pass */
	unsigned int n_ev;
	bool sweep;                     /* next pass polls the parked once */
	uint64_t next_check;            /* TSC: next look for kicks */
	/* coalescing: receive queue pairs it sent to, not flushed yet */
	uint64_t unflushed[MAX_PORTS];
	uint16_t flush_list[MAX_PORTS];
	unsigned int n_flush;
	uint64_t next_flush;            /* TSC */
} __rte_cache_aligned;

/* Sums over the workers, for one port. */
struct totals {
	uint64_t rx, tx, drop_full, drop_noq, filtered, moves;
};

static struct port ports[MAX_PORTS];
static unsigned int n_ports;
static struct worker *workers;         /* [n_workers] */
static _Atomic uint64_t cfg_gen;        /* C1 / W1 */
static uint64_t idle_tsc, check_tsc;    /* --idle-us, KICK_CHECK_US */
static bool coalescing;                 /* --coalesce-us or -frames given */
static unsigned int n_workers;
static bool lock_outputs;               /* set before the workers start */
static struct rte_hash *macs;
static struct rte_ring *moves;          /* uint64_t events: see note_move() */
static struct rte_mempool *pool;
static volatile sig_atomic_t quit;
static atomic_bool workers_stop;

static struct {
	uint32_t flags;
	uint16_t queues;
	unsigned int duration;
	bool quiet;
	int offloads;                   /* offload_modes index, every port */
	unsigned long idle_us;          /* 0: never park */
	unsigned long coal_us, coal_frames; /* --coalesce-us / -frames */
} opt = {
	.queues = MAX_QP,
	.idle_us = IDLE_US_DEFAULT,
};

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static inline void
count_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed)
			      + n, memory_order_relaxed);
}

static inline uint64_t
count_get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/*
 * MAC table key: the address in an aligned 64-bit word (the hash reads
 * its key in whole words; a 6-byte key inside a frame is not aligned).
 * Built in registers from a 4-byte and a 2-byte load, never through a
 * zeroed word on the stack: 8 bytes read back over a 6-byte store cannot
 * be store-forwarded, and stall ~15 cycles per key, 2 keys per frame
 * (doc/guide/benchmark.md, "Measurements behind the code").
 */
static inline uint64_t
mac_key(const struct rte_ether_addr *a)
{
	uint32_t lo;
	uint16_t hi;

	memcpy(&lo, &a->addr_bytes[0], sizeof(lo));
	memcpy(&hi, &a->addr_bytes[4], sizeof(hi));
	return (uint64_t)lo | (uint64_t)hi << 32;
}

/* The inverse of mac_key(). */
static void
key_mac(uint64_t key, struct rte_ether_addr *a)
{
	uint32_t lo = (uint32_t)key;
	uint16_t hi = (uint16_t)(key >> 32);

	memcpy(&a->addr_bytes[0], &lo, sizeof(lo));
	memcpy(&a->addr_bytes[4], &hi, sizeof(hi));
}

/* ---- data path (worker lcores) ----------------------------------------- */

/*
 * The (index % enabled)-th enabled receive queue pair of rx_qps (at
 * least one is).
 */
static unsigned int
nth_qp(uint64_t rx_qps, uint32_t index)
{
	unsigned int n = (unsigned int)__builtin_popcountll(rx_qps);
	unsigned int nth = index % n;

	while (nth-- > 0)
		rx_qps &= rx_qps - 1;   /* drop the lowest set bit */
	return (unsigned int)__builtin_ctzll(rx_qps);
}

/*
 * The flow hash: Toeplitz (rte_softrss_be) over the IPv4 or IPv6
 * addresses and, unless the packet is a fragment, the TCP or UDP ports,
 * behind at most one VLAN tag. The key repeats 0x6d5a: a 16-bit period,
 * so both directions of a connection hash alike. Other frames hash 0.
 */
static uint32_t flow_key[RTE_THASH_V6_L4_LEN + 1]; /* converted, at start */

static void
flow_key_init(void)
{
	uint32_t raw[RTE_DIM(flow_key)];
	uint8_t bytes[sizeof(raw)];

	for (unsigned int i = 0; i < sizeof(bytes); i++)
		bytes[i] = i % 2 ? 0x5a : 0x6d;
	memcpy(raw, bytes, sizeof(raw));
	rte_convert_rss_key(raw, flow_key, sizeof(raw));
}

static uint32_t
be32_at(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return rte_be_to_cpu_32(v);
}

static uint32_t
flow_hash(const struct rte_mbuf *m)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = m->data_len, off = RTE_ETHER_HDR_LEN, t[RTE_THASH_V6_L4_LEN];
	uint32_t nl3, l4 = 0;
	uint16_t type;
	uint8_t proto;
	bool frag;

	if (len < off)
		return 0;
	type = (uint16_t)(p[12] << 8 | p[13]);
	if (type == RTE_ETHER_TYPE_VLAN && len >= off + RTE_VLAN_HLEN) {
		type = (uint16_t)(p[16] << 8 | p[17]);
		off += RTE_VLAN_HLEN;
	}
	if (type == RTE_ETHER_TYPE_IPV4 && len >= off + 20 &&
	    (p[off] & 0xf) >= 5) {
		for (unsigned int i = 0; i < 2; i++)
			t[i] = be32_at(p + off + 12 + 4 * i);
		nl3 = RTE_THASH_V4_L3_LEN;
		proto = p[off + 9];
		frag = ((p[off + 6] << 8 | p[off + 7]) &
			(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) != 0;
		l4 = off + (p[off] & 0xfu) * 4;
	} else if (type == RTE_ETHER_TYPE_IPV6 && len >= off + 40) {
		for (unsigned int i = 0; i < 8; i++)
			t[i] = be32_at(p + off + 8 + 4 * i);
		nl3 = RTE_THASH_V6_L3_LEN;
		proto = p[off + 6]; /* extension headers: addresses only */
		frag = false;
		l4 = off + 40;
	} else {
		return 0;
	}
	if (!frag && (proto == IPPROTO_TCP || proto == IPPROTO_UDP) &&
	    len >= l4 + 4) {
		t[nl3] = be32_at(p + l4);
		nl3++;
	}
	return rte_softrss_be(t, nl3, (const uint8_t *)flow_key);
}

/* 0 ..: the slot of guest transmit vring (port, qp) */
static inline struct slot *
slot_of(struct worker *w, unsigned int p, unsigned int qp)
{
	return &w->slots[p * opt.queues + qp];
}

/*
 * Put (p, qp) back on the poll list: out of the epoll set, our dup of
 * its kick fd closed, and stop the kicks of the port's
 * current device (the view's: a stale slot's device may be gone).
 */
static void
unpark(struct worker *w, unsigned int p, unsigned int qp, bool kicked,
       uint64_t now)
{
	struct slot *s = slot_of(w, p, qp);
	struct vhu_dev *dev = w->view.dev[p];
	uint16_t vring = (uint16_t)(2 * qp + 1);

	/*
	 * DEL first: the registration belongs to the open file, which
	 * libvhu's fd keeps alive, so closing our dup alone would leave it.
	 */
	(void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	s->fd = -1;
	s->last_busy = now;
	w->parked[p] &= ~(UINT64_C(1) << qp);
	w->n_parked--;
	w->act_stale = true;
	if (dev == NULL)
		return;
	if (kicked) {
		(void)vhu_vring_kick_ack(dev, vring);
		count_add(&w->wakes, 1);
	}
	/* the device may be a new one, or not have the vring: no matter */
	(void)vhu_vring_notify(dev, vring, false);
}

/*
 * W1 (pairs with C1): reload the view when the configuration moved, and
 * unpark every vring of a port whose generation moved (its device or kick
 * fd may be gone).
 */
static void
load_view(struct worker *w, uint64_t now)
{
	struct view *v = &w->view;
	uint64_t gen = atomic_load_explicit(&cfg_gen, memory_order_seq_cst);

	if (gen == v->gen)
		return;
	v->gen = gen;
	for (unsigned int p = 0; p < n_ports; p++) {
		uint64_t pg = atomic_load_explicit(&ports[p].gen,
						   memory_order_seq_cst);

		if (pg != v->port_gen[p]) {
			/* a new device or vring: idle from now on */
			for (unsigned int qp = 0; qp < opt.queues; qp++)
				slot_of(w, p, qp)->last_busy = now;
		}
		v->port_gen[p] = pg;
		v->dev[p] = atomic_load_explicit(&ports[p].dev,
						 memory_order_seq_cst);
		v->tx_qps[p] = atomic_load_explicit(&ports[p].tx_qps,
						    memory_order_seq_cst);
		v->rx_qps[p] = atomic_load_explicit(&ports[p].rx_qps,
						    memory_order_seq_cst);
		if (v->dev[p] == NULL)
			v->rx_qps[p] = 0;
		for (uint64_t pk = w->parked[p]; pk != 0; pk &= pk - 1) {
			unsigned int qp = (unsigned int)__builtin_ctzll(pk);

			if (slot_of(w, p, qp)->gen != v->port_gen[p])
				unpark(w, p, qp, false, now);
		}
	}
	w->act_stale = true;
}

/* The ports with a vring this worker polls now: after any change. */
static void
rebuild_act(struct worker *w)
{
	const struct view *v = &w->view;

	w->n_act = 0;
	for (unsigned int p = 0; p < n_ports; p++)
		if (v->dev[p] != NULL &&
		    (v->tx_qps[p] & w->polls[p] & ~w->parked[p]) != 0)
			w->act[w->n_act++] = (uint16_t)p;
	w->act_stale = false;
}

static void
note_move(struct worker *w, uint64_t key, unsigned int from,
	  unsigned int to)
{
	uint64_t ev = key | (uint64_t)from << 48 | (uint64_t)to << 56;

	count_add(&w->cnt[to].moves, 1);
	if (rte_ring_enqueue_elem(moves, &ev, sizeof(ev)) != 0)
		count_add(&w->moves_unlogged, 1);
}

/*
 * Put an address behind port `in`; `known` when the table has it behind
 * another port. A new address is not tried for LEARN_PAUSE_MS after the
 * table was found full (frames to it are flooded meanwhile).
 */
static bool
learn(struct worker *w, uint64_t key, unsigned int in, bool known)
{
	int ret;

	if (!known && w->learn_resume != 0) {
		if (rte_get_timer_cycles() < w->learn_resume) {
			count_add(&w->not_learned, 1);
			return false;
		}
		w->learn_resume = 0;
	}
	ret = rte_hash_add_key_data(macs, &key, (void *)(uintptr_t)in);
	if (ret == -ENOSPC && !known) {
		w->learn_resume = rte_get_timer_cycles() +
				  rte_get_timer_hz() / 1000 * LEARN_PAUSE_MS;
		count_add(&w->not_learned, 1);
	}
	return ret >= 0;
}

/*
 * Learn the source addresses of a burst: one bulk lookup, and an add only
 * for an address that is new or was behind another port. Runs of one
 * address within the burst are added once.
 */
static void
learn_sources(struct worker *w, unsigned int in, const uint64_t *src,
	      const bool *valid, uint16_t n)
{
	const void *keys[BURST];
	void *data[BURST];
	uint64_t hits = 0, last = 0;
	bool have_last = false;
	unsigned int m = 0;

	for (uint16_t k = 0; k < n; k++)
		if (valid[k])
			keys[m++] = &src[k];
	if (m == 0)
		return;
	rte_hash_lookup_bulk_data(macs, keys, m, &hits, data);
	for (unsigned int j = 0; j < m; j++) {
		uint64_t key = *(const uint64_t *)keys[j];
		bool hit = (hits >> j) & 1;
		unsigned int was = hit ? (unsigned int)(uintptr_t)data[j] : 0;

		if ((hit && was == in) || (have_last && key == last))
			continue;
		last = key;
		have_last = true;
		if (learn(w, key, in, hit) && hit)
			note_move(w, key, was, in);
	}
}

/*
 * Decide where each frame of a burst goes: a port, ROUTE_FLOOD, or
 * ROUTE_DROP (too short for Ethernet, or its destination is behind the
 * port it came from). Sources are learned first.
 */
static void
route_burst(struct worker *w, unsigned int in, struct rte_mbuf **pkts,
	    uint16_t n, int *route)
{
	uint64_t src[BURST], dst[BURST];
	bool src_ok[BURST];
	const void *keys[BURST];
	void *data[BURST];
	uint16_t idx[BURST];
	uint64_t hits = 0;
	unsigned int m = 0;

	for (uint16_t k = 0; k < n; k++) {
		const struct rte_ether_hdr *eh;

		src_ok[k] = false;
		if (pkts[k]->data_len < sizeof(*eh)) {
			route[k] = ROUTE_DROP;
			continue;
		}
		eh = rte_pktmbuf_mtod(pkts[k], const struct rte_ether_hdr *);
		src[k] = mac_key(&eh->src_addr);
		src_ok[k] = rte_is_unicast_ether_addr(&eh->src_addr);
		route[k] = ROUTE_FLOOD;
		if (rte_is_unicast_ether_addr(&eh->dst_addr)) {
			dst[k] = mac_key(&eh->dst_addr);
			idx[m] = k;
			keys[m++] = &dst[k];
		}
	}
	learn_sources(w, in, src, src_ok, n);
	if (m == 0)
		return;
	rte_hash_lookup_bulk_data(macs, keys, m, &hits, data);
	for (unsigned int j = 0; j < m; j++) {
		unsigned int out;

		if (!((hits >> j) & 1))
			continue;       /* unknown: flooded */
		out = (unsigned int)(uintptr_t)data[j];
		route[idx[j]] = out == in ? ROUTE_DROP : (int)out;
	}
}

/* n frames into receive queue pair qp of port o */
static void
enqueue_qp(struct worker *w, const struct view *v, unsigned int o,
	   unsigned int qp, struct rte_mbuf **pkts, uint16_t n)
{
	struct port_count *c = &w->cnt[o];
	uint16_t sent;

	if (lock_outputs)
		rte_spinlock_lock(&out_locks[o * opt.queues + qp].lock);
	sent = vhu_enqueue_burst(v->dev[o], (uint16_t)qp, pkts, n);
	if (lock_outputs)
		rte_spinlock_unlock(&out_locks[o * opt.queues + qp].lock);
	count_add(&c->tx[qp], sent);
	if (sent < n)
		count_add(&c->drop_full, n - sent);
	/* a call coalescing held back must be made once this queue pauses */
	if (coalescing && !(w->unflushed[o] >> qp & 1)) {
		if (w->unflushed[o] == 0)
			w->flush_list[w->n_flush++] = (uint16_t)o;
		w->unflushed[o] |= UINT64_C(1) << qp;
	}
}

/*
 * Coalescing: make the held calls of the receive queues this worker sent
 * to, once due (vhu_vring_flush_calls); a queue whose call is not due yet
 * (-EAGAIN) or that another worker holds (-EBUSY) stays on the list.
 */
static void
flush_calls(struct worker *w)
{
	unsigned int kept = 0;

	for (unsigned int i = 0; i < w->n_flush; i++) {
		unsigned int o = w->flush_list[i];
		struct vhu_dev *dev = w->view.dev[o];

		for (uint64_t q = w->unflushed[o]; q != 0; q &= q - 1) {
			unsigned int qp = (unsigned int)__builtin_ctzll(q);
			int ret = dev == NULL ? 0 :
				  vhu_vring_flush_calls(dev, (uint16_t)(2 * qp));

			if (ret != -EAGAIN && ret != -EBUSY)
				w->unflushed[o] &= ~(UINT64_C(1) << qp);
		}
		if (w->unflushed[o] != 0)
			w->flush_list[kept++] = (uint16_t)o;
	}
	w->n_flush = kept;
}

/*
 * Frames for port o: with one enabled receive queue pair, all into it;
 * with several, grouped by the queue pair their flow hash picks, in their
 * order, one enqueue per group.
 */
static void
send_to_port(struct worker *w, const struct view *v, unsigned int o,
	     struct rte_mbuf **pkts, uint16_t n)
{
	uint64_t qps = v->rx_qps[o];
	struct rte_mbuf *grp[BURST];
	uint8_t qp_of[BURST];
	uint64_t used = 0;

	if (qps == 0) {
		count_add(&w->cnt[o].drop_noq, n);
		return;
	}
	if ((qps & (qps - 1)) == 0) {
		enqueue_qp(w, v, o, (unsigned int)__builtin_ctzll(qps), pkts, n);
		return;
	}
	for (uint16_t k = 0; k < n; k++) {
		qp_of[k] = (uint8_t)nth_qp(qps, flow_hash(pkts[k]));
		used |= UINT64_C(1) << qp_of[k];
	}
	for (; used != 0; used &= used - 1) {
		unsigned int qp = (unsigned int)__builtin_ctzll(used);
		uint16_t m = 0;

		for (uint16_t k = 0; k < n; k++)
			if (qp_of[k] == qp)
				grp[m++] = pkts[k];
		enqueue_qp(w, v, o, qp, grp, m);
	}
}

/*
 * One input burst to its outputs. The per-port lists (w->out) are empty
 * between bursts; only the ones a frame went to are visited, so a burst
 * of known unicast costs the same with 2 ports or 256.
 */
static void
switch_burst(struct worker *w, const struct view *v, unsigned int in,
	     struct rte_mbuf **pkts, uint16_t n)
{
	struct out_list *out = w->out;
	unsigned int n_touched = 0;
	int route[BURST];
	uint64_t filtered = 0;

	route_burst(w, in, pkts, n, route);
	for (uint16_t k = 0; k < n; k++) {
		if (route[k] == ROUTE_DROP) {
			filtered++;
		} else if (route[k] == ROUTE_FLOOD) {
			for (unsigned int o = 0; o < n_ports; o++) {
				if (o == in)
					continue;
				if (out[o].n == 0)
					w->touched[n_touched++] = (uint16_t)o;
				out[o].pkts[out[o].n++] = pkts[k];
			}
		} else {
			unsigned int o = (unsigned int)route[k];

			if (out[o].n == 0)
				w->touched[n_touched++] = (uint16_t)o;
			out[o].pkts[out[o].n++] = pkts[k];
		}
	}
	for (unsigned int t = 0; t < n_touched; t++) {
		unsigned int o = w->touched[t];

		send_to_port(w, v, o, out[o].pkts, out[o].n);
		out[o].n = 0;
	}
	if (filtered != 0)
		count_add(&w->cnt[in].filtered, filtered);
	rte_pktmbuf_free_bulk(pkts, n);
}

/* One dequeue from (p, qp) and its frames switched: how many. */
static uint16_t
poll_vring(struct worker *w, unsigned int p, unsigned int qp)
{
	struct rte_mbuf *pkts[BURST];
	uint16_t n;

	n = vhu_dequeue_burst(w->view.dev[p], (uint16_t)qp, pool, pkts, BURST);
	if (n != 0) {
		count_add(&w->cnt[p].rx[qp], n);
		switch_burst(w, &w->view, p, pkts, n);
	}
	return n;
}

/*
 * (p, qp) found nothing for --idle-us: ask for kicks, poll once more
 * (vhu_burst.h: a buffer added before the guest saw the request is not
 * kicked), and watch a dup of its kick fd. A vring without a kick fd (a
 * polling frontend) stays on the list; so does one that had frames.
 */
static void
park(struct worker *w, unsigned int p, unsigned int qp, uint64_t now)
{
	struct vhu_dev *dev = w->view.dev[p];
	uint16_t vring = (uint16_t)(2 * qp + 1);
	struct slot *s = slot_of(w, p, qp);
	struct epoll_event ev = {
		.events = EPOLLIN, .data.u32 = (uint32_t)(p << 8 | qp),
	};
	int kfd, fd;

	s->last_busy = now;
	kfd = vhu_vring_kick_fd(dev, vring);
	if (kfd < 0 || vhu_vring_notify(dev, vring, true) < 0)
		return;
	if (poll_vring(w, p, qp) != 0) {
		(void)vhu_vring_notify(dev, vring, false);
		return;
	}
	fd = fcntl(kfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		if (fd >= 0)
			close(fd);
		(void)vhu_vring_notify(dev, vring, false);
		return;
	}
	s->fd = fd;
	s->gen = w->view.port_gen[p];
	w->parked[p] |= UINT64_C(1) << qp;
	w->n_parked++;
	w->act_stale = true;
	count_add(&w->parks, 1);
}

/* The kicks the last epoll_wait saw, and the sweep after a timeout. */
static void
take_kicks(struct worker *w, uint64_t now)
{
	for (unsigned int i = 0; i < w->n_ev; i++) {
		unsigned int p = w->ev[i] >> 8, qp = w->ev[i] & 0xff;

		/* a stale slot was unparked by load_view() already */
		if (p < n_ports && (w->parked[p] >> qp & 1))
			unpark(w, p, qp, true, now);
	}
	w->n_ev = 0;
	if (!w->sweep)
		return;
	w->sweep = false;
	for (unsigned int p = 0; p < n_ports; p++)
		for (uint64_t pk = w->parked[p]; pk != 0; pk &= pk - 1) {
			unsigned int qp = (unsigned int)__builtin_ctzll(pk);

			if (poll_vring(w, p, qp) != 0)
				unpark(w, p, qp, true, now);
		}
}

static void
worker_pass(struct worker *w)
{
	const struct view *v = &w->view;
	uint64_t now = rte_rdtsc();

	load_view(w, now);
	if (w->n_ev != 0 || w->sweep)
		take_kicks(w, now);
	if (w->act_stale)
		rebuild_act(w);
	for (unsigned int i = 0; i < w->n_act; i++) {
		unsigned int p = w->act[i];
		/* the enabled queue pairs of p that are this worker's */
		uint64_t todo = v->tx_qps[p] & w->polls[p] & ~w->parked[p];

		for (; todo != 0; todo &= todo - 1) {
			unsigned int qp = (unsigned int)__builtin_ctzll(todo);
			struct slot *s = slot_of(w, p, qp);

			if (poll_vring(w, p, qp) != 0)
				s->last_busy = now;
			else if (idle_tsc != 0 && now - s->last_busy > idle_tsc)
				park(w, p, qp, now);
		}
	}
	if (w->n_flush != 0 && now >= w->next_flush) {
		w->next_flush = now + check_tsc;
		flush_calls(w);
	}
	/* W2: pairs with C2 */
	atomic_fetch_add_explicit(&w->epoch, 1, memory_order_seq_cst);
}

/*
 * Between passes (holding no device): with nothing to poll, sleep until a
 * kick, a wake-up from the control thread or IDLE_SLEEP_MS; otherwise
 * look for kicks every KICK_CHECK_US. Kicks are only noted here; the next
 * pass takes them, under a fresh view.
 */
static void
wait_kicks(struct worker *w)
{
	struct epoll_event evs[EPOLL_BATCH];
	uint64_t now;
	int timeout = 0, n;

	if (w->act_stale)
		rebuild_act(w);
	if (w->n_act != 0) {
		if (w->n_parked == 0)
			return;
		now = rte_rdtsc();
		if (now < w->next_check)
			return;
		w->next_check = now + check_tsc;
	} else if (w->n_flush != 0) {
		/* held calls to make: no long sleep (1 ms steps) */
		timeout = 1;
	} else {
		timeout = IDLE_SLEEP_MS;
		count_add(&w->sleeps, 1);
	}
	n = epoll_wait(w->epfd, evs, EPOLL_BATCH, timeout);
	if (n == 0 && timeout != 0)
		w->sweep = true;
	for (int i = 0; i < n; i++) {
		if (evs[i].data.u32 == UINT32_MAX) {
			uint64_t v;

			if (read(w->wake_fd, &v, sizeof(v)) < 0)
				v = 0;  /* another read took it: fine */
			continue;
		}
		if (w->n_ev < EPOLL_BATCH)
			w->ev[w->n_ev++] = evs[i].data.u32;
	}
}

static int
worker_main(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load_explicit(&workers_stop, memory_order_relaxed)) {
		worker_pass(w);
		wait_kicks(w);
	}
	/* W3 */
	atomic_store_explicit(&w->running, false, memory_order_seq_cst);
	return 0;
}

/* ---- control path (libvhu's control thread) ----------------------------- */

/*
 * After the C1 stores of port p: bump its generation and the
 * configuration's, and wake every sleeping worker to look.
 */
static void
publish(struct port *p)
{
	uint64_t one = 1;

	atomic_fetch_add_explicit(&p->gen, 1, memory_order_seq_cst); /* C1 */
	atomic_fetch_add_explicit(&cfg_gen, 1, memory_order_seq_cst); /* C1 */
	for (unsigned int i = 0; i < n_workers; i++)
		if (workers[i].wake_fd >= 0 &&
		    write(workers[i].wake_fd, &one, sizeof(one)) < 0)
			one = 1; /* the counter is full: a wake-up is due */
}

/* Wait until no worker can still be using what C1 just unpublished. */
static void
wait_workers_quiescent(void)
{
	uint64_t seen[RTE_MAX_LCORE];

	for (unsigned int i = 0; i < n_workers; i++)
		seen[i] = atomic_load_explicit(&workers[i].epoch,
					       memory_order_seq_cst); /* C2 */
	for (unsigned int i = 0; i < n_workers; i++)
		while (atomic_load_explicit(&workers[i].running,
					    memory_order_seq_cst) &&
		       atomic_load_explicit(&workers[i].epoch,
					    memory_order_seq_cst) == seen[i])
			rte_pause();
}

/* The offload features in mask, by name ("none" when there are none). */
static const char *
offloads_str(uint64_t mask, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < RTE_DIM(offload_names); i++)
		if ((mask & F(offload_names[i].bit)) && off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s",
						off ? "," : "",
						offload_names[i].name);
	if (off == 0)
		snprintf(buf, len, "none");
	return buf;
}

static int
new_device(struct vhu_dev *dev, void *ctx)
{
	struct port *p = ctx;

	if (atomic_load_explicit(&p->dev, memory_order_seq_cst) != NULL) {
		printf("vswitch: port %u (%s): refusing a second guest\n",
		       (unsigned int)(p - ports), p->name);
		return -1;
	}
	/* No queue until the vring_state_changed calls that follow. */
	atomic_store_explicit(&p->rx_qps, 0, memory_order_seq_cst); /* C1 */
	atomic_store_explicit(&p->tx_qps, 0, memory_order_seq_cst);
	atomic_store_explicit(&p->dev, dev, memory_order_seq_cst);
	publish(p);
	printf("vswitch: port %u (%s): guest connected (%u queue pairs)\n",
	       (unsigned int)(p - ports), p->name,
	       vhu_dev_vring_count(dev) / 2u);
	{
		char names[256];
		uint64_t f = vhu_dev_features(dev);

		printf("vswitch: port %u (%s): features 0x%" PRIx64
		       ", offloads %s\n", (unsigned int)(p - ports), p->name,
		       f, offloads_str(f, names, sizeof(names)));
	}
	fflush(stdout);
	return 0;
}

/*
 * What libvhu did for the offloads of a device that stopped, summed over
 * its vrings: checksums completed and frames segmented in software, frames
 * dropped for a bad virtio-net header or as too long for the guest, and
 * frames that found the guest's ring full inside libvhu (the segments of
 * a GSO frame that did not all fit count there, not as the switch's "ring
 * full": the frame was placed in part).
 */
static void
print_offload_counters(const struct port *p, struct vhu_dev *dev)
{
	uint64_t cks = 0, seg = 0, bad = 0, mtu = 0, nobuf = 0;

	for (uint16_t v = 0; v < vhu_dev_vring_count(dev); v++) {
		struct vhu_vring_stats st;

		memset(&st, 0, sizeof(st));
		if (vhu_dev_vring_stats(dev, v, &st, sizeof(st)) < 0)
			continue;
		cks += st.sw_cksums;
		seg += st.sw_segmented;
		bad += st.drops_bad_hdr;
		mtu += st.drops_mtu;
		nobuf += st.drops_no_buf;
	}
	printf("vswitch: port %u (%s): offload counters: sw_cksums %" PRIu64
	       ", sw_segmented %" PRIu64 ", drops_bad_hdr %" PRIu64
	       ", drops_mtu %" PRIu64 ", drops_no_buf %" PRIu64 "\n",
	       (unsigned int)(p - ports), p->name, cks, seg, bad, mtu, nobuf);
}

static void
destroy_device(struct vhu_dev *dev, void *ctx)
{
	struct port *p = ctx;

	if (atomic_load_explicit(&p->dev, memory_order_seq_cst) != dev)
		return;
	atomic_store_explicit(&p->rx_qps, 0, memory_order_seq_cst); /* C1 */
	atomic_store_explicit(&p->tx_qps, 0, memory_order_seq_cst);
	atomic_store_explicit(&p->dev, NULL, memory_order_seq_cst);
	publish(p);
	wait_workers_quiescent();
	print_offload_counters(p, dev);
	printf("vswitch: port %u (%s): guest gone\n",
	       (unsigned int)(p - ports), p->name);
	fflush(stdout);
}

/* Vring 2qp is the guest's receive queue, 2qp+1 its transmit queue. */
static void
set_vring(struct port *p, uint16_t vring, bool on)
{
	_Atomic uint64_t *mask = vring % 2 ? &p->tx_qps : &p->rx_qps;
	uint64_t bit = UINT64_C(1) << (vring / 2);

	if (on)
		atomic_fetch_or_explicit(mask, bit,
					 memory_order_seq_cst); /* C1 */
	else
		atomic_fetch_and_explicit(mask, ~bit,
					  memory_order_seq_cst); /* C1 */
}

static void
vring_state_changed(struct vhu_dev *dev, uint16_t vring, bool enabled,
		    void *ctx)
{
	struct port *p = ctx;

	if (atomic_load_explicit(&p->dev, memory_order_seq_cst) != dev ||
	    vring >= 2 * MAX_QP)
		return;
	if (enabled && coalescing &&
	    vhu_vring_set_coalesce(dev, vring, (uint32_t)opt.coal_us,
				   (uint32_t)opt.coal_frames) < 0)
		printf("vswitch: port %u (%s): vring %u: no interrupt "
		       "coalescing\n", (unsigned int)(p - ports), p->name,
		       vring);
	set_vring(p, vring, enabled);
	/* the vring's kick fd may change after this: nobody holds it */
	publish(p);
	wait_workers_quiescent();
}

static void
vring_broken(struct vhu_dev *dev, uint16_t vring, void *ctx)
{
	struct port *p = ctx;

	if (atomic_load_explicit(&p->dev, memory_order_seq_cst) != dev ||
	    vring >= 2 * MAX_QP)
		return;
	/* Stopped until the guest resets it; that reset re-enables it. */
	set_vring(p, vring, false);
	publish(p);
	printf("vswitch: port %u (%s): the guest broke vring %u; it is not "
	       "served until the guest resets it\n",
	       (unsigned int)(p - ports), p->name, vring);
	fflush(stdout);
}

static const struct vhu_ops ops = {
	.new_device = new_device,
	.destroy_device = destroy_device,
	.vring_state_changed = vring_state_changed,
	.vring_broken = vring_broken,
};

/* ---- statistics and logs (main lcore) ---------------------------------- */

static void
port_totals(unsigned int p, struct totals *t, uint64_t *rx_qp,
	    uint64_t *tx_qp)
{
	memset(t, 0, sizeof(*t));
	for (unsigned int i = 0; i < n_workers; i++) {
		struct port_count *c = &workers[i].cnt[p];

		for (unsigned int q = 0; q < opt.queues; q++) {
			uint64_t rx = count_get(&c->rx[q]);
			uint64_t tx = count_get(&c->tx[q]);

			t->rx += rx;
			t->tx += tx;
			if (rx_qp != NULL)
				rx_qp[q] += rx;
			if (tx_qp != NULL)
				tx_qp[q] += tx;
		}
		t->drop_full += count_get(&c->drop_full);
		t->drop_noq += count_get(&c->drop_noq);
		t->filtered += count_get(&c->filtered);
		t->moves += count_get(&c->moves);
	}
}

/*
 * The main lcore's side of the MAC-move log. Workers queue every move on
 * the `moves` ring (or count it when the ring is full); the main lcore
 * prints at most MOVE_LINES_PER_SEC of them a second and one line for the
 * rest. Workers polling two queues of one port may both see the first
 * frames after a move: the same move twice in a row is printed once.
 */
struct move_log {
	unsigned int budget;    /* lines left this second */
	uint64_t unshown;       /* moves not printed this second */
	uint64_t lost_seen;     /* ring-full moves already counted */
	uint64_t last_ev;       /* last move taken from the ring */
};

static void
print_move(uint64_t ev)
{
	struct rte_ether_addr a;
	char mac[RTE_ETHER_ADDR_FMT_SIZE];

	key_mac(ev & ((UINT64_C(1) << 48) - 1), &a);
	rte_ether_format_addr(mac, sizeof(mac), &a);
	printf("vswitch: %s: moved port %u -> port %u\n", mac,
	       (unsigned int)(ev >> 48 & 0xff), (unsigned int)(ev >> 56));
}

static void
move_log_drain(struct move_log *ml)
{
	uint64_t ev[32];
	unsigned int n;

	while ((n = rte_ring_dequeue_burst_elem(moves, ev, sizeof(ev[0]),
						RTE_DIM(ev), NULL)) != 0) {
		for (unsigned int i = 0; i < n; i++) {
			if (ev[i] == ml->last_ev)
				continue;
			ml->last_ev = ev[i];
			if (ml->budget == 0) {
				ml->unshown++;
				continue;
			}
			ml->budget--;
			print_move(ev[i]);
		}
	}
}

/* Once a second: say how many moves were not shown, refill the budget. */
static void
move_log_second(struct move_log *ml)
{
	uint64_t lost = 0;

	for (unsigned int i = 0; i < n_workers; i++)
		lost += count_get(&workers[i].moves_unlogged);
	ml->unshown += lost - ml->lost_seen;
	ml->lost_seen = lost;
	if (ml->unshown != 0)
		printf("vswitch: %" PRIu64 " more MAC move(s) not shown (at "
		       "most %d lines a second)\n", ml->unshown,
		       MOVE_LINES_PER_SEC);
	ml->unshown = 0;
	ml->budget = MOVE_LINES_PER_SEC;
}

static void
describe_queues(const struct port *p, char *buf, size_t len)
{
	uint64_t rxm = atomic_load_explicit(&p->rx_qps, memory_order_seq_cst);
	uint64_t txm = atomic_load_explicit(&p->tx_qps, memory_order_seq_cst);
	int rxn = __builtin_popcountll(rxm), txn = __builtin_popcountll(txm);

	if (atomic_load_explicit(&p->dev, memory_order_seq_cst) == NULL)
		snprintf(buf, len, "no guest");
	else if (rxn == txn)
		snprintf(buf, len, "guest, %d qp", rxn);
	else
		snprintf(buf, len, "guest, qp rx %d tx %d", rxn, txn);
}

static double
per_sec(uint64_t now, uint64_t before, double dt)
{
	return (double)(now - before) / dt;
}

/*
 * A frame rate with a unit that keeps three significant digits: guests
 * under software emulation run at kpps, a testpmd guest at Mpps.
 */
static const char *
rate_str(double pps, char *buf, size_t len)
{
	if (pps >= 1e6)
		snprintf(buf, len, "%6.2f Mpps", pps / 1e6);
	else if (pps >= 1e3)
		snprintf(buf, len, "%6.1f kpps", pps / 1e3);
	else
		snprintf(buf, len, "%6.0f pps ", pps);
	return buf;
}

/* One line per port: state, rates over the last dt seconds, drop causes. */
static void
print_live(double dt, struct totals *last)
{
	unsigned int quiet = 0;

	for (unsigned int i = 0; i < n_ports; i++) {
		struct totals t;
		char state[48], rx[16], tx[16];

		port_totals(i, &t, NULL, NULL);
		/* many ports: a line only for those that moved something */
		if (n_ports > LIVE_ALL_PORTS &&
		    memcmp(&t, &last[i], sizeof(t)) == 0) {
			quiet++;
			continue;
		}
		describe_queues(&ports[i], state, sizeof(state));
		printf("vswitch: port %u %-12s %-14s rx %s  tx %s  drops/s: "
		       "ring full %.0f, no guest/queue %.0f\n",
		       i, ports[i].name, state,
		       rate_str(per_sec(t.rx, last[i].rx, dt), rx, sizeof(rx)),
		       rate_str(per_sec(t.tx, last[i].tx, dt), tx, sizeof(tx)),
		       per_sec(t.drop_full, last[i].drop_full, dt),
		       per_sec(t.drop_noq, last[i].drop_noq, dt));
		last[i] = t;
	}
	if (quiet != 0)
		printf("vswitch: %u other port(s) moved nothing\n", quiet);
}

/* Why a port dropped what it dropped, in words, when it dropped anything. */
static void
explain_drops(unsigned int i, const struct totals *t)
{
	uint64_t offered = t->tx + t->drop_full + t->drop_noq;

	if (t->filtered != 0)
		printf("    %" PRIu64 " frames from port %u were not "
		       "forwarded: addressed to a MAC behind port %u itself, "
		       "or shorter than an Ethernet header\n", t->filtered, i,
		       i);

	if (t->drop_full != 0)
		printf("    %.1f%% of the frames for port %u found the guest's "
		       "receive ring full: the guest reads slower than the "
		       "switch sends (normal for a guest on a shared CPU or "
		       "under TCG)\n", 100.0 * (double)t->drop_full /
		       (double)offered, i);
	if (t->drop_noq != 0)
		printf("    %.1f%% of the frames for port %u had nowhere to "
		       "go: no guest connected, or no receive queue enabled "
		       "(flooded frames to an empty port are dropped)\n",
		       100.0 * (double)t->drop_noq / (double)offered, i);
}

static void
print_summary(double secs)
{
	struct totals all = { 0 };
	uint64_t not_learned = 0;
	char avg[16];
	const char *avg_str;

	printf("vswitch: summary after %.1f s, %u worker(s), %u queue pair(s) "
	       "offered per port:\n", secs, n_workers, opt.queues);
	for (unsigned int i = 0; i < n_ports; i++) {
		uint64_t rx_qp[MAX_QP] = { 0 }, tx_qp[MAX_QP] = { 0 };
		struct totals t;

		port_totals(i, &t, rx_qp, tx_qp);
		printf("  port %u %s: rx %" PRIu64 " frames, tx %" PRIu64
		       " frames, drops %" PRIu64 " (ring full %" PRIu64
		       ", no guest/queue %" PRIu64 "), filtered %" PRIu64 "\n",
		       i, ports[i].name, t.rx, t.tx, t.drop_full + t.drop_noq,
		       t.drop_full, t.drop_noq, t.filtered);
		for (unsigned int q = 0; q < opt.queues; q++)
			if (rx_qp[q] != 0 || tx_qp[q] != 0)
				printf("    qp %u: rx %" PRIu64 ", tx %" PRIu64
				       "\n", q, rx_qp[q], tx_qp[q]);
		explain_drops(i, &t);
		all.rx += t.rx;
		all.tx += t.tx;
		all.drop_full += t.drop_full;
		all.drop_noq += t.drop_noq;
		all.moves += t.moves;
	}
	for (unsigned int i = 0; i < n_workers; i++)
		not_learned += count_get(&workers[i].not_learned);
	avg_str = rate_str(secs > 0 ? (double)all.tx / secs : 0.0, avg,
			   sizeof(avg));
	avg_str += strspn(avg_str, " ");
	printf("  total: rx %" PRIu64 ", tx %" PRIu64 ", drops %" PRIu64
	       " (ring full %" PRIu64 ", no guest/queue %" PRIu64 "), %s "
	       "sent on average; MAC table: %d address(es), %" PRIu64
	       " move(s)\n", all.rx, all.tx, all.drop_full + all.drop_noq,
	       all.drop_full, all.drop_noq,
	       avg_str,
	       rte_hash_count(macs), all.moves);
	{
		uint64_t parks = 0, wakes = 0, sleeps = 0;

		for (unsigned int i = 0; i < n_workers; i++) {
			parks += count_get(&workers[i].parks);
			wakes += count_get(&workers[i].wakes);
			sleeps += count_get(&workers[i].sleeps);
		}
		printf("  idle queues (--idle-us %lu): %" PRIu64 " parked, %"
		       PRIu64 " woken by a kick; workers slept %" PRIu64
		       " time(s)\n", opt.idle_us, parks, wakes, sleeps);
	}
	if (not_learned != 0)
		printf("    the MAC table (%d addresses, no ageing) was full: "
		       "new source addresses went unlearned %" PRIu64 " times "
		       "(frames to them are flooded)\n", MAC_TABLE_SIZE,
		       not_learned);
}

/* ---- set-up ------------------------------------------------------------- */

static void
usage(const char *prog)
{
	printf("Usage: %s [EAL options] -- --socket PATH [--socket PATH ...]\n"
	       "          [--client] [--queues N] [--offloads [PORT:]MODE]\n"
	       "          [--legacy-ol-flags] [--duration SEC] [--quiet]\n"
	       "          [--idle-us US] [--coalesce-us US] "
	       "[--coalesce-frames N]\n"
	       "  --socket PATH   a vhost-user port (one per port, 2..%d)\n"
	       "  --client        connect to the paths (frontends listen)\n"
	       "  --queues N      queue pairs offered per port (default and "
	       "max %d)\n"
	       "  --offloads [PORT:]MODE  checksum/segmentation offloads "
	       "offered\n"
	       "                  to port PORT (0 = first --socket), or to "
	       "every\n"
	       "                  port: on (default), off (none), no-guest "
	       "(the\n"
	       "                  guest gets no partial-checksum or GSO "
	       "frames:\n"
	       "                  libvhu completes and segments them), "
	       "no-host\n"
	       "                  (the guest sends none), no-tso (checksum "
	       "offloads\n"
	       "                  only, no segmentation either way)\n"
	       "  --legacy-ol-flags  offload requests as DPDK's legacy vhost "
	       "mbuf\n"
	       "                  flags (TX_*), not receive flags (RX_LRO, "
	       "RX_L4_*)\n"
	       "  --duration SEC  stop after SEC seconds and print a summary\n"
	       "  --quiet         no per-second lines, only events and the "
	       "summary\n"
	       "  --idle-us US    a guest transmit queue empty that long "
	       "waits for\n"
	       "                  the guest's kick instead of being polled "
	       "(default\n"
	       "                  %d; 0: always poll)\n"
	       "  --coalesce-us US, --coalesce-frames N  at most one "
	       "interrupt per\n"
	       "                  US microseconds / N frames to each guest "
	       "queue\n"
	       "                  (vhu_vring_set_coalesce; default off)\n"
	       "The switch learns source MACs; known unicast goes to its\n"
	       "port, everything else is flooded. Each worker lcore polls a\n"
	       "share of the (port, queue pair)s; the main lcore prints\n"
	       "statistics. Needs 2 lcores or more.\n", prog, MAX_PORTS,
	       MAX_QP, IDLE_US_DEFAULT);
}

static int
parse_uint(const char *s, unsigned long lo, unsigned long hi,
	   unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	return errno != 0 || *end != '\0' || *v < lo || *v > hi ? -1 : 0;
}

static int
add_port(const char *path)
{
	struct port *p = &ports[n_ports];
	const char *slash;

	if (n_ports == MAX_PORTS || strlen(path) >= sizeof(p->path)) {
		fprintf(stderr, "vswitch: too many ports or path too long\n");
		return -1;
	}
	strcpy(p->path, path);
	slash = strrchr(p->path, '/');
	p->name = slash != NULL ? slash + 1 : p->path;
	n_ports++;
	return 0;
}

/*
 * --offloads [PORT:]MODE. A PORT names a --socket by its position (from
 * 0), given before or after; without one the mode is every port's that
 * has none of its own.
 */
static int
parse_offloads(const char *arg)
{
	const char *colon = strchr(arg, ':'), *mode = arg;
	unsigned long port = ULONG_MAX;
	unsigned int m;

	if (colon != NULL) {
		char num[16];
		size_t n = (size_t)(colon - arg);

		if (n == 0 || n >= sizeof(num))
			goto bad;
		memcpy(num, arg, n);
		num[n] = '\0';
		if (parse_uint(num, 0, MAX_PORTS - 1, &port) < 0)
			goto bad;
		mode = colon + 1;
	}
	for (m = 0; m < RTE_DIM(offload_modes); m++)
		if (strcmp(mode, offload_modes[m].name) == 0)
			break;
	if (m == RTE_DIM(offload_modes))
		goto bad;
	if (port == ULONG_MAX)
		opt.offloads = (int)m;
	else
		ports[port].offloads = (int)m;
	return 0;
bad:
	fprintf(stderr, "vswitch: bad --offloads %s ([PORT:]on|off|no-guest|"
		"no-host|no-tso, PORT 0..%d)\n", arg, MAX_PORTS - 1);
	return -1;
}

/* 0: run; 1: --help was printed; -1: bad arguments (said why). */
static int
parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "client", no_argument, NULL, 'c' },
		{ "queues", required_argument, NULL, 'q' },
		{ "duration", required_argument, NULL, 'd' },
		{ "quiet", no_argument, NULL, 'Q' },
		{ "offloads", required_argument, NULL, 'o' },
		{ "legacy-ol-flags", no_argument, NULL, 'L' },
		{ "idle-us", required_argument, NULL, 'i' },
		{ "coalesce-us", required_argument, NULL, 'C' },
		{ "coalesce-frames", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (add_port(optarg) < 0)
				return -1;
			break;
		case 'c':
			opt.flags |= VHU_SOCKET_CLIENT;
			break;
		case 'q':
			if (parse_uint(optarg, 1, MAX_QP, &v) < 0) {
				fprintf(stderr, "vswitch: bad --queues %s "
					"(1..%d)\n", optarg, MAX_QP);
				return -1;
			}
			opt.queues = (uint16_t)v;
			break;
		case 'd':
			if (parse_uint(optarg, 0, 86400 * 365, &v) < 0) {
				fprintf(stderr, "vswitch: bad --duration %s\n",
					optarg);
				return -1;
			}
			opt.duration = (unsigned int)v;
			break;
		case 'Q':
			opt.quiet = true;
			break;
		case 'o':
			if (parse_offloads(optarg) < 0)
				return -1;
			break;
		case 'L':
			opt.flags |= VHU_SOCKET_LEGACY_OL_FLAGS;
			break;
		case 'i':
			if (parse_uint(optarg, 0, 60000000, &opt.idle_us) < 0) {
				fprintf(stderr, "vswitch: bad --idle-us %s "
					"(0..60000000)\n", optarg);
				return -1;
			}
			break;
		case 'C':
		case 'F':
			if (parse_uint(optarg, 0, 1000000, c == 'C' ?
				       &opt.coal_us : &opt.coal_frames) < 0) {
				fprintf(stderr, "vswitch: bad --coalesce-%s %s "
					"(0..1000000)\n",
					c == 'C' ? "us" : "frames", optarg);
				return -1;
			}
			coalescing = opt.coal_us != 0 || opt.coal_frames != 0;
			break;
		case 'h':
			usage(argv[0]);
			return 1;
		default:
			usage(argv[0]);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "vswitch: unexpected argument %s\n",
			argv[optind]);
		return -1;
	}
	return 0;
}

/*
 * The workers' own state and the output locks, sized by the ports and
 * queue pairs in use. 0, or -1 (said why).
 */
static int
alloc_workers(void)
{
	size_t n = rte_lcore_count();

	workers = rte_zmalloc("vswitch_workers", n * sizeof(*workers),
			      RTE_CACHE_LINE_SIZE);
	out_locks = rte_zmalloc("vswitch_locks", (size_t)n_ports *
				opt.queues * sizeof(*out_locks),
				RTE_CACHE_LINE_SIZE);
	if (workers == NULL || out_locks == NULL)
		goto nomem;
	for (size_t i = 0; i < (size_t)n_ports * opt.queues; i++)
		rte_spinlock_init(&out_locks[i].lock);
	/* free_workers() closes what is not -1, whatever failed first */
	for (size_t i = 0; i < n; i++) {
		workers[i].epfd = -1;
		workers[i].wake_fd = -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct worker *w = &workers[i];
		struct epoll_event ev = {
			.events = EPOLLIN, .data.u32 = UINT32_MAX,
		};

		w->cnt = rte_zmalloc("vswitch_cnt", n_ports * sizeof(*w->cnt),
				     RTE_CACHE_LINE_SIZE);
		w->slots = rte_zmalloc("vswitch_slots", (size_t)n_ports *
				       opt.queues * sizeof(*w->slots), 0);
		w->out = rte_zmalloc("vswitch_out", n_ports * sizeof(*w->out),
				     RTE_CACHE_LINE_SIZE);
		w->touched = rte_zmalloc("vswitch_touched", n_ports *
					 sizeof(*w->touched), 0);
		if (w->cnt == NULL || w->slots == NULL || w->out == NULL ||
		    w->touched == NULL)
			goto nomem;
		for (size_t k = 0; k < (size_t)n_ports * opt.queues; k++)
			w->slots[k].fd = -1;
		/* the view starts at generation 0: the first pass loads it */
		w->view.gen = UINT64_MAX;
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (w->epfd < 0 || w->wake_fd < 0 ||
		    epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wake_fd, &ev) < 0) {
			fprintf(stderr, "vswitch: epoll set-up: %s\n",
				strerror(errno));
			return -1;
		}
	}
	idle_tsc = opt.idle_us * (rte_get_tsc_hz() / 1000000);
	check_tsc = KICK_CHECK_US * (rte_get_tsc_hz() / 1000000);
	return 0;
nomem:
	fprintf(stderr, "vswitch: cannot allocate the workers' state\n");
	return -1;
}

/* After the workers stopped: their fds and memory. */
static void
free_workers(void)
{
	if (workers == NULL)
		return;
	for (unsigned int i = 0; i < rte_lcore_count(); i++) {
		struct worker *w = &workers[i];

		for (size_t k = 0; w->slots != NULL &&
		     k < (size_t)n_ports * opt.queues; k++)
			if (w->slots[k].fd >= 0)
				close(w->slots[k].fd);
		if (w->epfd >= 0)
			close(w->epfd);
		if (w->wake_fd >= 0)
			close(w->wake_fd);
		rte_free(w->cnt);
		rte_free(w->slots);
		rte_free(w->out);
		rte_free(w->touched);
	}
	rte_free(workers);
	rte_free(out_locks);
	workers = NULL;
}

/* (port, qp) goes to worker (port + qp) % n_workers, for good. */
static void
assign_polls(void)
{
	unsigned int lcore;

	n_workers = 0;
	RTE_LCORE_FOREACH_WORKER(lcore) {
		workers[n_workers].lcore = lcore;
		workers[n_workers].index = n_workers;
		n_workers++;
	}
	for (unsigned int p = 0; p < n_ports; p++)
		for (unsigned int q = 0; q < opt.queues; q++) {
			struct worker *w = &workers[(p + q) % n_workers];

			w->polls[p] |= UINT64_C(1) << q;
			w->n_polls++;
		}
	/*
	 * With one worker nothing is shared. With several, any worker may
	 * send into any receive queue pair (the one a flow hashes to), so
	 * every enqueue takes the lock; uncontended it is one atomic
	 * exchange per burst.
	 */
	lock_outputs = n_workers > 1;
}

static int
create_tables(void)
{
	struct rte_hash_parameters hp = {
		.name = "vswitch_macs",
		.entries = MAC_TABLE_SIZE,
		.key_len = sizeof(uint64_t),
		.hash_func = rte_hash_crc,
		.socket_id = SOCKET_ID_ANY,
		/* every worker learns (adds) while every worker looks up:
		 * lock-free lookups, adds serialised among themselves */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_MULTI_WRITER_ADD |
			      RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};

	pool = rte_pktmbuf_pool_create("vswitch_pool", POOL_SIZE, 256, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE,
				       (int)rte_socket_id());
	if (pool == NULL) {
		/* hugepages exhausted, most likely: say how much and the fix */
		example_pool_failed("vswitch", POOL_SIZE,
				    RTE_MBUF_DEFAULT_BUF_SIZE,
				    (int)rte_socket_id());
		return -1;
	}
	macs = rte_hash_create(&hp);
	/* many producers (workers), one consumer (main lcore) */
	moves = rte_ring_create_elem("vswitch_moves", sizeof(uint64_t),
				     MOVE_RING_SIZE, SOCKET_ID_ANY,
				     RING_F_SC_DEQ);
	if (pool == NULL || macs == NULL || moves == NULL) {
		fprintf(stderr, "vswitch: cannot allocate pool or tables: %s\n",
			rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

static int
start_ports(void)
{
	for (unsigned int i = 0; i < n_ports; i++) {
		struct vhu_socket_params sp = {
			.path = ports[i].path, .flags = opt.flags, .ops = &ops,
			.ctx = &ports[i], .max_queue_pairs = opt.queues,
		};
		int mode = ports[i].offloads >= 0 ? ports[i].offloads :
			   opt.offloads;
		char names[256];
		int ret;

		ret = vhu_socket_register(&sp, &ports[i].sock);
		if (ret < 0) {
			fprintf(stderr, "vswitch: cannot register %s: %s\n",
				sp.path, strerror(-ret));
			return -1;
		}
		/* Offers are fixed before the socket starts. */
		ret = vhu_socket_disable_features(ports[i].sock,
						  offload_modes[mode].off);
		if (ret < 0) {
			fprintf(stderr, "vswitch: %s: cannot disable offloads: "
				"%s\n", sp.path, strerror(-ret));
			return -1;
		}
		printf("vswitch: port %u (%s): offloads %s, offered: %s\n", i,
		       ports[i].name, offload_modes[mode].name,
		       offloads_str(vhu_socket_get_features(ports[i].sock),
				    names, sizeof(names)));
		ret = vhu_socket_start(ports[i].sock);
		if (ret < 0) {
			fprintf(stderr, "vswitch: cannot serve %s: %s\n",
				sp.path, strerror(-ret));
			return -1;
		}
	}
	return 0;
}

static void
start_workers(void)
{
	for (unsigned int i = 0; i < n_workers; i++)
		atomic_store_explicit(&workers[i].running, true,
				      memory_order_seq_cst);
	for (unsigned int i = 0; i < n_workers; i++) {
		printf("vswitch: worker %u on lcore %u polls %u queue "
		       "pair(s)\n", i, workers[i].lcore, workers[i].n_polls);
		rte_eal_remote_launch(worker_main, &workers[i],
				      workers[i].lcore);
	}
}

/* Live view once a second, MAC moves as they come; until told to stop. */
static double
run_main_lcore(void)
{
	static struct totals last[MAX_PORTS];
	struct move_log ml = {
		.budget = MOVE_LINES_PER_SEC, .last_ev = UINT64_MAX,
	};
	uint64_t hz = rte_get_timer_hz(), start = rte_get_timer_cycles();
	uint64_t end = start + (uint64_t)opt.duration * hz;
	uint64_t tick = start, now = start;

	while (!quit && (opt.duration == 0 || now < end)) {
		rte_delay_us_sleep(MAIN_TICK_US);
		move_log_drain(&ml);
		now = rte_get_timer_cycles();
		if (now - tick < hz)
			continue;
		move_log_second(&ml);
		if (!opt.quiet)
			print_live((double)(now - tick) / (double)hz, last);
		fflush(stdout);
		tick = now;
	}
	move_log_drain(&ml);
	move_log_second(&ml);
	return (double)(rte_get_timer_cycles() - start) / (double)hz;
}

int
main(int argc, char **argv)
{
	double secs;
	int ret, rc = 1;

	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "vswitch: EAL init failed: %s\n",
			rte_strerror(rte_errno));
		return 1;
	}
	argv[ret] = argv[0];
	argc -= ret;
	argv += ret;
	for (unsigned int i = 0; i < MAX_PORTS; i++)
		ports[i].offloads = -1;
	ret = parse_args(argc, argv);
	if (ret != 0) {
		rc = ret < 0;   /* --help: 0 */
		goto out_eal;
	}
	if (n_ports < 2 || rte_lcore_count() < 2) {
		usage(argv[0]);
		fprintf(stderr, "vswitch: need 2 --socket and 2 lcores or "
			"more\n");
		goto out_eal;
	}
	if (alloc_workers() < 0)
		goto out_tables;
	assign_polls();
	flow_key_init();
	if (create_tables() < 0)
		goto out_tables;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (vhu_init(VHU_INIT_CONTROL_THREAD) < 0) {
		fprintf(stderr, "vswitch: vhu_init failed\n");
		goto out_tables;
	}
	/* Workers first: destroy_device waits for them to pass. */
	start_workers();
	if (start_ports() < 0)
		goto out_vhu;
	printf("vswitch: %u ports, %u queue pair(s) offered each, %u "
	       "worker(s)\n", n_ports, opt.queues, n_workers);
	fflush(stdout);
	secs = run_main_lcore();
	rc = 0;
out_vhu:
	atomic_store_explicit(&workers_stop, true, memory_order_relaxed);
	rte_eal_mp_wait_lcore();
	/* Workers stopped: the destroy_device calls made here wait for
	 * nobody. */
	vhu_fini();
	if (rc == 0)
		print_summary(secs);
out_tables:
	rte_ring_free(moves);
	rte_hash_free(macs);
	rte_mempool_free(pool);
	free_workers();
out_eal:
	rte_eal_cleanup();
	return rc;
}
