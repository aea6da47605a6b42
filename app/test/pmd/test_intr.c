/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_vhu's Rx interrupt mode and its counters, in one process: the
 * plugin (-d) serves a socket, net_virtio_user on the same socket is the
 * guest. The application arms the Rx interrupt of net_vhu's queue 0,
 * sleeps in rte_epoll_wait(), the guest sends frames and kicks, the
 * application wakes, disarms (rx_intr_disable drains the kick through
 * vhu_vring_kick_ack) and, 2 ms later, polls the frames. Checked:
 * the wake-up, the frames, rx_q0_kicks >= 1 and rx_q0_kick_latency_ns
 * >= 2 ms (the time between the disarm and the poll), and, the guest
 * having asked for no notification, tx_q0_guest_notifications present.
 *
 * Usage: test_intr PLUGIN.so WORKDIR. Exit 0 pass, 1 fail, 77 skip (no
 * EAL, e.g. a sanitizer build whose runtime is not preloaded).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_interrupts.h>
#include <rte_mbuf.h>

#define NB_FRAMES 8

static int failed;

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		printf("test_intr: FAIL: " __VA_ARGS__); \
		printf("\n"); \
		failed = 1; \
	} \
} while (0)

static uint64_t
xstat(uint16_t port, const char *name, int *found)
{
	uint64_t id, v = 0;

	*found = rte_eth_xstats_get_id_by_name(port, name, &id) == 0 &&
		 rte_eth_xstats_get_by_id(port, &id, &v, 1) == 1;
	return v;
}

static int
port_setup(uint16_t port, struct rte_mempool *mp, bool rx_intr)
{
	struct rte_eth_conf conf;

	memset(&conf, 0, sizeof(conf));
	conf.intr_conf.rxq = rx_intr;
	if (rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
	    rte_eth_rx_queue_setup(port, 0, 256, rte_socket_id(), NULL,
				   mp) != 0 ||
	    rte_eth_tx_queue_setup(port, 0, 256, rte_socket_id(), NULL) != 0)
		return -1;
	return rte_eth_dev_start(port);
}

/* NB_FRAMES broadcast frames of 64 bytes from the guest */
static uint16_t
guest_send(uint16_t port, struct rte_mempool *mp)
{
	struct rte_mbuf *m[NB_FRAMES];
	uint16_t n = 0, sent;

	for (; n < NB_FRAMES; n++) {
		char *p;

		m[n] = rte_pktmbuf_alloc(mp);
		if (m[n] == NULL)
			break;
		p = rte_pktmbuf_append(m[n], 64);
		if (p == NULL) {
			rte_pktmbuf_free(m[n]);
			break;
		}
		memset(p, 0xff, 6);
		memset(p + 6, 0x02, 6);
		p[12] = 0x08;
		p[13] = 0x00;
		memset(p + 14, (char)n, 50);
	}
	sent = rte_eth_tx_burst(port, 0, m, n);
	for (uint16_t i = sent; i < n; i++)
		rte_pktmbuf_free(m[i]);
	return sent;
}

int
main(int argc, char **argv)
{
	char prefix[64], plugin[512], vhu[600], virtio[600], sock[512];
	char *eal[] = {
		argv[0], "-l", "0", "--no-huge", "-m", "256",
		"--single-file-segments", "--no-shconf", "--no-telemetry",
		"--no-pci", prefix, "-d", plugin,
		"--vdev", vhu, "--vdev", virtio,
		"--log-level=pmd.net.vhu:warning", "--log-level=lib.eal:error",
		NULL,
	};
	struct rte_epoll_event ev;
	struct rte_mempool *mp;
	struct rte_mbuf *pkts[32];
	struct rte_eth_link link;
	uint16_t vp, gp, got = 0;
	uint64_t kicks, lat;
	int found, n;

	if (argc != 3) {
		fprintf(stderr, "usage: test_intr PLUGIN.so WORKDIR\n");
		return 1;
	}
	snprintf(prefix, sizeof(prefix), "--file-prefix=vhuintr%d", getpid());
	snprintf(plugin, sizeof(plugin), "%s", argv[1]);
	snprintf(sock, sizeof(sock), "%s/intr.sock", argv[2]);
	snprintf(vhu, sizeof(vhu), "net_vhu0,iface=%s,queues=1", sock);
	snprintf(virtio, sizeof(virtio), "net_virtio_user0,path=%s,queues=1",
		 sock);
	(void)unlink(sock);
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		printf("test_intr: SKIP: EAL init failed\n");
		return 77;
	}
	if (rte_eth_dev_get_port_by_name("net_vhu0", &vp) != 0 ||
	    rte_eth_dev_get_port_by_name("net_virtio_user0", &gp) != 0) {
		printf("test_intr: FAIL: ports net_vhu0, net_virtio_user0 not created\n");
		return 1;
	}
	mp = rte_pktmbuf_pool_create("intr_pool", 4095, 0, 0,
				     RTE_MBUF_DEFAULT_BUF_SIZE,
				     (int)rte_socket_id());
	if (mp == NULL || port_setup(vp, mp, true) != 0 ||
	    port_setup(gp, mp, false) != 0) {
		printf("test_intr: FAIL: port set-up\n");
		return 1;
	}
	for (int i = 0; i < 500; i++) {
		if (rte_eth_link_get_nowait(vp, &link) == 0 &&
		    link.link_status == RTE_ETH_LINK_UP)
			break;
		usleep(10000);
	}
	CHECK(link.link_status == RTE_ETH_LINK_UP, "net_vhu link not up");
	CHECK(rte_eth_dev_rx_intr_ctl_q(vp, 0, RTE_EPOLL_PER_THREAD,
					RTE_INTR_EVENT_ADD, NULL) == 0,
	      "rx_intr_ctl_q");
	/* as l3fwd-power does: arm, poll once more, then sleep */
	CHECK(rte_eth_dev_rx_intr_enable(vp, 0) == 0, "rx_intr_enable");
	CHECK(rte_eth_rx_burst(vp, 0, pkts, 32) == 0, "frames before any");
	CHECK(guest_send(gp, mp) == NB_FRAMES, "the guest did not send");
	n = rte_epoll_wait(RTE_EPOLL_PER_THREAD, &ev, 1, 5000);
	CHECK(n == 1, "no wake-up within 5 s (rte_epoll_wait: %d)", n);
	CHECK(rte_eth_dev_rx_intr_disable(vp, 0) == 0, "rx_intr_disable");
	usleep(2000);
	for (int i = 0; i < 100 && got < NB_FRAMES; i++) {
		uint16_t k = rte_eth_rx_burst(vp, 0, pkts, 32);

		rte_pktmbuf_free_bulk(pkts, k);
		got += k;
		if (got < NB_FRAMES)
			usleep(1000);
	}
	CHECK(got == NB_FRAMES, "received %u frames, want %u", got,
	      NB_FRAMES);
	kicks = xstat(vp, "rx_q0_kicks", &found);
	CHECK(found && kicks >= 1, "rx_q0_kicks %" PRIu64 "%s", kicks,
	      found ? "" : " (missing)");
	lat = xstat(vp, "rx_q0_kick_latency_ns", &found);
	CHECK(found && lat >= 2000000 && lat < 5000000000ull,
	      "rx_q0_kick_latency_ns %" PRIu64 "%s, want >= 2 ms", lat,
	      found ? "" : " (missing)");
	(void)xstat(vp, "tx_q0_guest_notifications", &found);
	CHECK(found, "no xstat tx_q0_guest_notifications");
	printf("test_intr: woke up, %u frames, rx_q0_kicks %" PRIu64
	       ", rx_q0_kick_latency_ns %" PRIu64 "\n", got, kicks, lat);

	rte_eth_dev_stop(gp);
	rte_eth_dev_stop(vp);
	rte_eth_dev_close(gp);
	rte_eth_dev_close(vp);
	snprintf(plugin, sizeof(plugin), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	(void)rmdir(plugin); /* empty with --no-shconf --no-telemetry */
	(void)unlink(sock);
	printf("test_intr: %s\n", failed ? "FAILED" : "PASSED");
	return failed;
}
