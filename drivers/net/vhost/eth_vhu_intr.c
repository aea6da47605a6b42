/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Rx interrupts of net_vhu: lets an application sleep on a queue (the
 * rte_eth_dev_rx_intr_* API, as l3fwd-power uses it) until the guest
 * kicks the vring it sends on.
 *
 * Design. The guest's kick eventfd changes with every connection, but an
 * application registers the queue's fd in its epoll set once. So each Rx
 * queue gets an epoll fd of its own, stable for the life of the port, and
 * that is the fd ethdev hands out; the current kick eventfd is added to it
 * when the vring comes up and removed when it goes (libvhu callbacks, see
 * vhu_eth_intr_sync). An epoll fd is readable while a member is, so the
 * application's epoll_wait wakes on a kick through it.
 *
 * Nobody else reads the kick eventfd (libvhu polls the ring), so it stays
 * readable after a kick: rx_intr_disable drains it with
 * vhu_vring_kick_ack(), after the application woke up, which also counts
 * the kicks and times the wake-up (rx_qN_kicks, rx_qN_kick_latency_ns).
 * EAL must not read the epoll fd itself: efd_counter_size is 0.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <rte_interrupts.h>

#include "eth_vhu.h"

static uint16_t
rx_vring(uint16_t q)
{
	return (uint16_t)(2 * q + 1); /* the guest's transmit vring */
}

void
vhu_eth_intr_sync(struct vhu_eth_port *port, uint16_t q)
{
	int want = -1;

	if (q >= port->intr_nb)
		return;
	if (port->dev != NULL && port->vring_cur[rx_vring(q)]) {
		want = vhu_vring_kick_fd(port->dev, rx_vring(q));
		if (want < 0)
			want = -1; /* frontend polls: no kicks to wait for */
	}
	if (want == port->intr_kickfd[q])
		return;
	if (port->intr_kickfd[q] >= 0) {
		/* may fail when libvhu closed it already: epoll forgot it then */
		(void)epoll_ctl(port->intr_epfd[q], EPOLL_CTL_DEL,
				port->intr_kickfd[q], NULL);
		port->intr_kickfd[q] = -1;
	}
	if (want >= 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = q };

		if (epoll_ctl(port->intr_epfd[q], EPOLL_CTL_ADD, want, &ev) < 0)
			VHU_ETH_LOG(ERR, "port %u: rxq %u: cannot watch kick fd: %s",
				    port->port_id, q, strerror(errno));
		else
			port->intr_kickfd[q] = want;
	}
}

/* Called from dev_start when the application asked for Rx interrupts. */
int
vhu_eth_intr_start(struct vhu_eth_port *port, uint16_t nb_rxq)
{
	struct rte_intr_handle *ih = port->intr;
	uint16_t had;

	rte_spinlock_lock(&port->lock);
	had = port->intr_nb;
	rte_spinlock_unlock(&port->lock);
	/* epoll fds are created once and kept until close (stable fds) */
	for (uint16_t q = had; q < nb_rxq; q++) {
		int fd = epoll_create1(EPOLL_CLOEXEC);

		if (fd < 0) {
			VHU_ETH_LOG(ERR, "port %u: epoll_create1: %s",
				    port->port_id, strerror(errno));
			return -errno;
		}
		rte_spinlock_lock(&port->lock);
		port->intr_epfd[q] = fd;
		port->intr_kickfd[q] = -1;
		port->intr_armed[q] = false;
		port->intr_nb = (uint16_t)(q + 1);
		rte_spinlock_unlock(&port->lock);
	}
	if (rte_intr_type_set(ih, RTE_INTR_HANDLE_VDEV) != 0 ||
	    rte_intr_nb_efd_set(ih, nb_rxq) != 0 ||
	    rte_intr_max_intr_set(ih, nb_rxq + 1) != 0 ||
	    rte_intr_efd_counter_size_set(ih, 0) != 0)
		return -EINVAL;
	for (uint16_t q = 0; q < nb_rxq; q++)
		if (rte_intr_efds_index_set(ih, q, port->intr_epfd[q]) != 0)
			return -EINVAL;
	if (rte_intr_vec_list_index_get(ih, 0) < 0 ||
	    rte_intr_nb_intr_get(ih) < nb_rxq) {
		rte_intr_vec_list_free(ih);
		if (rte_intr_vec_list_alloc(ih, "vhu_intr_vec", nb_rxq) != 0)
			return -ENOMEM;
	}
	for (uint16_t q = 0; q < nb_rxq; q++)
		if (rte_intr_vec_list_index_set(ih, q,
				RTE_INTR_VEC_RXTX_OFFSET + q) != 0)
			return -EINVAL;

	rte_spinlock_lock(&port->lock);
	port->intr_on = true;
	for (uint16_t q = 0; q < nb_rxq; q++)
		vhu_eth_intr_sync(port, q);
	rte_spinlock_unlock(&port->lock);
	return 0;
}

void
vhu_eth_intr_close(struct vhu_eth_port *port)
{
	rte_spinlock_lock(&port->lock);
	for (uint16_t q = 0; q < port->intr_nb; q++) {
		if (port->intr_kickfd[q] >= 0)
			(void)epoll_ctl(port->intr_epfd[q], EPOLL_CTL_DEL,
					port->intr_kickfd[q], NULL);
		close(port->intr_epfd[q]);
		port->intr_epfd[q] = -1;
		port->intr_kickfd[q] = -1;
	}
	port->intr_nb = 0;
	port->intr_on = false;
	rte_spinlock_unlock(&port->lock);
	if (port->intr != NULL) {
		rte_intr_vec_list_free(port->intr);
		rte_intr_nb_efd_set(port->intr, 0);
	}
}

/* Ask the guest for kicks on Rx queue q (on) or stop asking (off). */
static int
set_armed(struct rte_eth_dev *eth_dev, uint16_t q, bool on)
{
	struct vhu_eth_port *port = eth_dev->data->dev_private;
	struct vhu_dev *dev;
	bool watched;

	rte_spinlock_lock(&port->lock);
	if (!port->intr_on || q >= port->intr_nb) {
		rte_spinlock_unlock(&port->lock);
		return -EINVAL; /* intr_conf.rxq was not set at start */
	}
	port->intr_armed[q] = on;
	/* a kick fd replaced on a live vring is picked up here */
	vhu_eth_intr_sync(port, q);
	dev = port->dev;
	watched = port->intr_kickfd[q] >= 0;
	rte_spinlock_unlock(&port->lock);
	/*
	 * Outside our lock (both quiesce the vring). No device: nothing to
	 * ask; the next connection starts with kicks off, and the
	 * application, polling after its wake-up, re-arms as usual.
	 */
	if (dev == NULL)
		return 0;
	/*
	 * Drain the kick that woke us: libvhu reads the eventfd holding the
	 * vring (its fd cannot close meanwhile), counts it (rx_qN_kicks)
	 * and times the wake-up to the next rx_burst (rx_qN_kick_latency_ns).
	 */
	if (!on && watched)
		(void)vhu_vring_kick_ack(dev, rx_vring(q));
	(void)vhu_vring_notify(dev, rx_vring(q), on);
	return 0;
}

int
vhu_eth_rx_intr_enable(struct rte_eth_dev *eth_dev, uint16_t q)
{
	return set_armed(eth_dev, q, true);
}

int
vhu_eth_rx_intr_disable(struct rte_eth_dev *eth_dev, uint16_t q)
{
	return set_armed(eth_dev, q, false);
}
