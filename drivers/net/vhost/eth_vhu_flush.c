/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The flush alarm of net_vhu: makes the guest calls that coalescing held
 * back and settles the checks lazy calls owe (vhu_vring_flush_calls), for
 * vrings no burst visits any more (eth_vhu.c, "Interrupt coalescing").
 *
 * One EAL alarm serves every port of the process: a port joins the list
 * when a vring of its guest goes live, is flushed at each tick once its
 * own period has run out, and leaves when its guest goes or it closes.
 * The alarm re-arms at the shortest period listed and stops with the
 * list empty. One wake-up per period whatever the number of ports: 32
 * connected idle ports cost EAL's interrupt thread 1.5% of a CPU, 2.2%
 * with an alarm each (doc/guide/pmd.md, "Flush alarm").
 *
 * Locks: flush_lock guards the list and the alarm; a port's lock guards
 * its device. A join holds the port's lock and takes flush_lock; a tick
 * holds flush_lock and only tries a port's lock (a port busy now is
 * flushed at the next tick), so neither waits for the other. A leave
 * takes flush_lock alone: once it returns, no tick touches the port.
 */
#include <stdint.h>

#include <rte_alarm.h>
#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_spinlock.h>

#include "eth_vhu.h"

static rte_spinlock_t flush_lock = RTE_SPINLOCK_INITIALIZER;
static struct vhu_eth_port *flush_ports[RTE_MAX_ETHPORTS];
static unsigned int flush_n;
static bool flush_armed;

static void flush_tick(void *arg);

/* Under flush_lock: arm the alarm for the shortest period listed. */
static void
flush_arm(void)
{
	uint64_t us = UINT64_MAX;

	if (flush_armed || flush_n == 0)
		return;
	for (unsigned int i = 0; i < flush_n; i++)
		us = RTE_MIN(us, flush_ports[i]->calls_period_us);
	if (rte_eal_alarm_set(us, flush_tick, NULL) == 0)
		flush_armed = true;
	else
		VHU_ETH_LOG(ERR, "cannot arm the flush alarm: held guest calls wait for the next burst");
}

/* Under flush_lock: drop entry i (order does not matter). */
static void
flush_drop(unsigned int i)
{
	flush_ports[i]->calls_listed = false;
	flush_ports[i] = flush_ports[--flush_n];
}

/* EAL alarm thread: flush the ports that are due, then re-arm. */
static void
flush_tick(void *arg)
{
	uint64_t now = rte_get_timer_cycles();
	uint64_t hz = rte_get_timer_hz();
	unsigned int i = 0;

	RTE_SET_USED(arg);
	rte_spinlock_lock(&flush_lock);
	flush_armed = false;
	while (i < flush_n) {
		struct vhu_eth_port *port = flush_ports[i];

		if (!rte_spinlock_trylock(&port->lock)) {
			i++;
			continue;
		}
		if (port->closing || port->dev == NULL) {
			flush_drop(i);
			rte_spinlock_unlock(&port->lock);
			continue;
		}
		if (now >= port->calls_due) {
			for (uint16_t v = 0; v < 2 * port->queues; v++)
				if (port->vring_cur[v])
					(void)vhu_vring_flush_calls(port->dev,
								    v);
			port->calls_due = now +
				hz * port->calls_period_us / 1000000;
		}
		rte_spinlock_unlock(&port->lock);
		i++;
	}
	flush_arm();
	rte_spinlock_unlock(&flush_lock);
}

void
vhu_eth_flush_join(struct vhu_eth_port *port, uint64_t period_us)
{
	rte_spinlock_lock(&flush_lock);
	if (!port->calls_listed && flush_n < RTE_DIM(flush_ports)) {
		port->calls_period_us = period_us;
		port->calls_due = rte_get_timer_cycles() +
			rte_get_timer_hz() * period_us / 1000000;
		port->calls_listed = true;
		flush_ports[flush_n++] = port;
	}
	flush_arm();
	rte_spinlock_unlock(&flush_lock);
}

void
vhu_eth_flush_leave(struct vhu_eth_port *port)
{
	rte_spinlock_lock(&flush_lock);
	for (unsigned int i = 0; i < flush_n; i++)
		if (flush_ports[i] == port) {
			flush_drop(i);
			break;
		}
	rte_spinlock_unlock(&flush_lock);
}
