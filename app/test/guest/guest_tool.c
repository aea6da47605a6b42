/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhu-guest-tool: the guest half of the Linux-guest test suite
 * (app/test/guest/). Built static and run inside the suite's busybox
 * initramfs, it owns everything the guest does with its virtio-net
 * interface: bringing it up (channel count through ETHTOOL_SCHANNELS, since
 * busybox has no ethtool; MTU; XPS cleared), reading the per-queue counters
 * (ETHTOOL_GSTATS), and the traffic itself, over AF_PACKET raw sockets
 * or the guest's own TCP stack:
 *   echo  sends numbered, self-checking frames on every queue pair and
 *         verifies that each comes back exactly once, intact, on the receive
 *         queue of the pair it left on (for an echoing backend);
 *   send  sends numbered frames to another guest's MAC (through a switch),
 *         round robin over its transmit queues;
 *   recv  verifies what `send` produced: complete, intact, in order within
 *         each of the sender's queues, not duplicated;
 *   memwalk  no network: rewrites pages in rounds, checking each round that
 *         the last one's writes are all still there (across a migration);
 *   tcp-send / tcp-recv  the guests' own TCP stacks (and so the virtio-net
 *         offloads they negotiated): one or more streams of seeded bytes,
 *         every byte checked at the receiver, the content hashed on both
 *         sides (see "TCP bulk transfer" below);
 *   features  the virtio feature bits the driver negotiated and the
 *         interface's active offloads.
 * Every traffic command ends with one line "RESULT PASS|FAIL <command>
 * key=value ..." on stdout, which the host script parses.
 *
 * Steering. With one vCPU, Linux would put every frame on transmit queue 0
 * (XPS maps the only CPU to it). With XPS cleared the transmit queue comes
 * from the flow hash, so frames are IPv4/UDP, and `echo` first learns one
 * UDP source port per transmit queue by sending probes and watching which
 * queue's counter moves. The receive queue of each echo is known through a
 * PACKET_FANOUT_QM group: socket i of the group gets what arrived on
 * receive queue i.
 *
 * Frame: Ethernet, IPv4 (valid header checksum, to 10.11.0.2), UDP (no
 * checksum), then a 16-byte header {magic, run id, sequence, queue, frame
 * length} and a pattern that depends on the sequence number and the byte
 * offset, so a frame that is cut, shifted, mixed with another or stale
 * fails the check.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#define VG_MAX_QUEUES 16
#define VG_MAX_FRAME 65535
#define VG_MIN_FRAME 60
#define VG_L2 14
#define VG_L3 20
#define VG_L4 8
#define VG_HDR_OFF (VG_L2 + VG_L3 + VG_L4)
#define VG_HDR_LEN 16
#define VG_PATTERN_OFF (VG_HDR_OFF + VG_HDR_LEN)
#define VG_MAGIC 0x56485547u            /* "VHUG" */
#define VG_PROBE 0x80000000u            /* sequence bit of steering probes */
#define VG_MAX_SIZES 128
#define VG_MAX_REPORT 8                 /* bad frames described in full */
#define VG_PORT_BASE 20000

static const char *ifname = "eth0";
static uint32_t run_id;

/* ---- small helpers ------------------------------------------------------ */

static void
say(const char *fmt, ...)
{
	va_list ap;

	fputs("guest_tool: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rng_next(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static int
parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5]) != 6)
		return -1;
	for (i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return -1;
		mac[i] = (uint8_t)b[i];
	}
	return 0;
}

/* ---- interface control (ioctl) ------------------------------------------ */

static int ctl_fd = -1;

static int
ctl(void)
{
	if (ctl_fd < 0)
		ctl_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return ctl_fd;
}

static int
ethtool(void *cmd)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = cmd;
	return ioctl(ctl(), SIOCETHTOOL, &ifr);
}

static int
if_index(void)
{
	unsigned int i = if_nametoindex(ifname);

	if (i == 0)
		say("no interface %s: %s", ifname, strerror(errno));
	return (int)i;
}

static int
if_mac(uint8_t mac[6])
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(ctl(), SIOCGIFHWADDR, &ifr) < 0) {
		say("SIOCGIFHWADDR %s: %s", ifname, strerror(errno));
		return -1;
	}
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

static int
if_mtu(void)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(ctl(), SIOCGIFMTU, &ifr) < 0) {
		say("SIOCGIFMTU %s: %s", ifname, strerror(errno));
		return -1;
	}
	return ifr.ifr_mtu;
}

static int
if_flags(short set, short *now)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(ctl(), SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	if (set != 0 && (ifr.ifr_flags & set) != set) {
		ifr.ifr_flags |= set;
		if (ioctl(ctl(), SIOCSIFFLAGS, &ifr) < 0)
			return -1;
	}
	if (now != NULL)
		*now = ifr.ifr_flags;
	return 0;
}

static bool
carrier_on(void)
{
	struct ethtool_value v = { .cmd = ETHTOOL_GLINK };

	return ethtool(&v) == 0 && v.data != 0;
}

/* Per-queue packet counters of the interface (virtio_net's ethtool -S). */
struct vg_counters {
	unsigned int n_tx, n_rx;               /* queues the driver reports */
	uint64_t tx[VG_MAX_QUEUES], rx[VG_MAX_QUEUES];
};

static int
stats_read(struct vg_counters *c)
{
	static struct ethtool_gstrings *names;
	static unsigned int n_names;
	static int tx_idx[VG_MAX_QUEUES], rx_idx[VG_MAX_QUEUES];
	static unsigned int n_tx, n_rx;
	struct ethtool_drvinfo di = { .cmd = ETHTOOL_GDRVINFO };
	struct ethtool_stats *st;
	unsigned int i, q;

	if (ethtool(&di) < 0) {
		say("ETHTOOL_GDRVINFO: %s", strerror(errno));
		return -1;
	}
	/* The string set changes with the channel count: reload it then. */
	if (names == NULL || di.n_stats != n_names) {
		free(names);
		names = calloc(1, sizeof(*names) +
			       (size_t)di.n_stats * ETH_GSTRING_LEN);
		if (names == NULL)
			return -1;
		names->cmd = ETHTOOL_GSTRINGS;
		names->string_set = ETH_SS_STATS;
		names->len = di.n_stats;
		if (ethtool(names) < 0) {
			say("ETHTOOL_GSTRINGS: %s", strerror(errno));
			free(names);
			names = NULL;
			return -1;
		}
		n_names = di.n_stats;
		n_tx = n_rx = 0;
		for (q = 0; q < VG_MAX_QUEUES; q++)
			tx_idx[q] = rx_idx[q] = -1;
		for (i = 0; i < n_names; i++) {
			const char *s = (const char *)names->data +
					(size_t)i * ETH_GSTRING_LEN;
			char dir[3], what[ETH_GSTRING_LEN];

			if (sscanf(s, "%2[rtx]_queue_%u_%31s", dir, &q,
				   what) != 3 || q >= VG_MAX_QUEUES ||
			    strcmp(what, "packets") != 0)
				continue;
			if (strcmp(dir, "tx") == 0) {
				tx_idx[q] = (int)i;
				if (q + 1 > n_tx)
					n_tx = q + 1;
			} else if (strcmp(dir, "rx") == 0) {
				rx_idx[q] = (int)i;
				if (q + 1 > n_rx)
					n_rx = q + 1;
			}
		}
	}
	st = calloc(1, sizeof(*st) + (size_t)n_names * sizeof(uint64_t));
	if (st == NULL)
		return -1;
	st->cmd = ETHTOOL_GSTATS;
	st->n_stats = n_names;
	if (ethtool(st) < 0) {
		say("ETHTOOL_GSTATS: %s", strerror(errno));
		free(st);
		return -1;
	}
	memset(c, 0, sizeof(*c));
	c->n_tx = n_tx;
	c->n_rx = n_rx;
	for (q = 0; q < VG_MAX_QUEUES; q++) {
		if (tx_idx[q] >= 0)
			c->tx[q] = st->data[tx_idx[q]];
		if (rx_idx[q] >= 0)
			c->rx[q] = st->data[rx_idx[q]];
	}
	free(st);
	return 0;
}

static uint64_t
sum_of(const uint64_t *v, unsigned int n)
{
	uint64_t s = 0;

	while (n-- > 0)
		s += v[n];
	return s;
}

/* "a,b,c" of the first n values of v (a static buffer). */
static const char *
list_of(const uint64_t *v, unsigned int n)
{
	static char buf[2][VG_MAX_QUEUES * 21];
	static int which;
	size_t off = 0;
	unsigned int i;
	char *b = buf[which ^= 1];

	b[0] = '\0';
	for (i = 0; i < n; i++)
		off += (size_t)snprintf(b + off, sizeof(buf[0]) - off, "%s%" PRIu64,
					i ? "," : "", v[i]);
	return b;
}

/* Clears XPS on every transmit queue so the flow hash picks the queue. */
static int
xps_clear(void)
{
	char path[128];
	unsigned int q;
	int fd, bad = 0;

	for (q = 0; q < VG_MAX_QUEUES; q++) {
		snprintf(path, sizeof(path),
			 "/sys/class/net/%s/queues/tx-%u/xps_cpus", ifname, q);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			break;  /* no such queue: done */
		/* a single-queue device has no XPS: ENOENT */
		if (write(fd, "0\n", 2) != 2 && errno != ENOENT) {
			say("clearing %s: %s", path, strerror(errno));
			bad = 1;
		}
		close(fd);
	}
	return bad ? -1 : 0;
}

static int
cmd_setup(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "queues", required_argument, NULL, 'q' },
		{ "mtu", required_argument, NULL, 'm' },
		{ "keep-xps", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	unsigned long queues = 0, mtu = 0;
	bool keep_xps = false;
	double end;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			if (parse_uint(optarg, VG_MAX_QUEUES, &queues) < 0 ||
			    queues == 0)
				return say("bad --queues %s", optarg), 2;
			break;
		case 'm':
			if (parse_uint(optarg, 65535, &mtu) < 0 || mtu < 68)
				return say("bad --mtu %s", optarg), 2;
			break;
		case 'k':
			keep_xps = true;
			break;
		default:
			return 2;
		}
	}
	if (if_index() == 0)
		return 1;
	if (ethtool(&ch) < 0) {
		say("ETHTOOL_GCHANNELS: %s", strerror(errno));
		return 1;
	}
	if (queues != 0 && queues != ch.combined_count) {
		if (queues > ch.max_combined) {
			say("%s offers %u queue pairs, %lu asked", ifname,
			    ch.max_combined, queues);
			return 1;
		}
		ch.cmd = ETHTOOL_SCHANNELS;
		ch.combined_count = (uint32_t)queues;
		if (ethtool(&ch) < 0) {
			say("ETHTOOL_SCHANNELS combined %lu: %s", queues,
			    strerror(errno));
			return 1;
		}
		ch.cmd = ETHTOOL_GCHANNELS;
		if (ethtool(&ch) < 0 || ch.combined_count != queues) {
			say("channel count is %u after setting %lu",
			    ch.combined_count, queues);
			return 1;
		}
	}
	if (mtu != 0) {
		struct ifreq ifr;

		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
		ifr.ifr_mtu = (int)mtu;
		if (ioctl(ctl(), SIOCSIFMTU, &ifr) < 0) {
			say("SIOCSIFMTU %lu: %s", mtu, strerror(errno));
			return 1;
		}
	}
	if (if_flags(IFF_UP, NULL) < 0) {
		say("bringing %s up: %s", ifname, strerror(errno));
		return 1;
	}
	/* Wait for the carrier (the device's link status). Not IFF_RUNNING:
	 * that follows the operational state, which the kernel's link watch
	 * updates up to a second later; frames flow once the carrier is on. */
	end = now_s() + 10;
	while (!carrier_on() && now_s() < end)
		sleep_us(10000);
	if (!carrier_on()) {
		say("%s: no carrier after 10 s", ifname);
		return 1;
	}
	if (!keep_xps && xps_clear() < 0)
		return 1;
	say("%s up: %u of %u queue pairs, mtu %d%s", ifname,
	    ch.combined_count, ch.max_combined, if_mtu(),
	    keep_xps ? "" : ", XPS cleared");
	return 0;
}

static int
cmd_stats(int argc, char **argv)
{
	struct vg_counters c;

	(void)argc;
	(void)argv;
	if (stats_read(&c) < 0)
		return 1;
	say("%s txq=%s rxq=%s", ifname, list_of(c.tx, c.n_tx),
	    list_of(c.rx, c.n_rx));
	return 0;
}

/* ---- frames ------------------------------------------------------------- */

/* Frame sizes: a list of items, each a size or a range "lo-hi" (a random
 * size in it); frame i takes item i modulo the count. */
struct vg_sizes {
	unsigned int n;
	unsigned int lo[VG_MAX_SIZES], hi[VG_MAX_SIZES];
};

static int
parse_sizes(const char *spec, struct vg_sizes *s)
{
	char buf[2048], *tok, *save = NULL;

	if (strlen(spec) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", spec);
	s->n = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(tok, '-');
		unsigned long lo, hi;

		if (s->n == VG_MAX_SIZES)
			return -1;
		if (dash != NULL)
			*dash = '\0';
		if (parse_uint(tok, VG_MAX_FRAME, &lo) < 0)
			return -1;
		hi = lo;
		if (dash != NULL && parse_uint(dash + 1, VG_MAX_FRAME, &hi) < 0)
			return -1;
		if (lo < VG_MIN_FRAME || hi < lo)
			return -1;
		s->lo[s->n] = (unsigned int)lo;
		s->hi[s->n] = (unsigned int)hi;
		s->n++;
	}
	return s->n == 0 ? -1 : 0;
}

static unsigned int
size_max(const struct vg_sizes *s)
{
	unsigned int i, m = 0;

	for (i = 0; i < s->n; i++)
		if (s->hi[i] > m)
			m = s->hi[i];
	return m;
}

static unsigned int
size_pick(const struct vg_sizes *s, uint32_t i)
{
	unsigned int k = i % s->n;
	unsigned int span = s->hi[k] - s->lo[k] + 1;

	return s->lo[k] + (unsigned int)(rng_next() % span);
}

static inline uint8_t
pattern_byte(uint32_t seq, uint32_t off)
{
	return (uint8_t)(seq * 0x9du + off * 7u + (off >> 8) * 13u + 0x5a);
}

static uint16_t
ip_csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

struct vg_frame_id {
	uint32_t seq;
	uint16_t queue;
	uint16_t len;
};

static void
frame_build(uint8_t *f, unsigned int len, const uint8_t dst[6],
	    const uint8_t src[6], uint16_t sport, const struct vg_frame_id *id)
{
	uint8_t *ip = f + VG_L2, *udp = ip + VG_L3, *h = f + VG_HDR_OFF;
	uint32_t off;

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, ETH_P_IP);
	memset(ip, 0, VG_L3);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(len - VG_L2));
	put16(ip + 4, (uint16_t)id->seq);
	put16(ip + 6, 0x4000);          /* don't fragment */
	ip[8] = 64;
	ip[9] = 17;                     /* UDP */
	put32(ip + 12, 0x0a0b0001);     /* 10.11.0.1 */
	put32(ip + 16, 0x0a0b0002);     /* 10.11.0.2 */
	put16(ip + 10, ip_csum(ip, VG_L3));
	put16(udp, sport);
	put16(udp + 2, 9);              /* discard */
	put16(udp + 4, (uint16_t)(len - VG_L2 - VG_L3));
	put16(udp + 6, 0);
	put32(h, VG_MAGIC);
	put32(h + 4, run_id);
	put32(h + 8, id->seq);
	put16(h + 12, id->queue);
	put16(h + 14, (uint16_t)len);
	for (off = VG_PATTERN_OFF; off < len; off++)
		f[off] = pattern_byte(id->seq, off);
}

/* Checks a received frame; fills id. Returns NULL when intact, else what
 * is wrong. */
static const char *
frame_check(const uint8_t *f, size_t len, const uint8_t dst[6],
	    const uint8_t src[6], struct vg_frame_id *id)
{
	const uint8_t *h = f + VG_HDR_OFF;
	static char why[96];
	uint32_t off;

	if (len < VG_PATTERN_OFF)
		return "runt (shorter than the test header)";
	if (get32(h) != VG_MAGIC)
		return "not a test frame (magic)";
	id->seq = get32(h + 8);
	id->queue = get16(h + 12);
	id->len = get16(h + 14);
	if (get32(h + 4) != run_id)
		return "stale frame (another run id)";
	if (id->len != len) {
		snprintf(why, sizeof(why), "length %zu, sent as %u", len,
			 id->len);
		return why;
	}
	if (memcmp(f, dst, 6) != 0 || memcmp(f + 6, src, 6) != 0)
		return "MAC addresses changed";
	if (get16(f + 12) != ETH_P_IP || ip_csum(f + VG_L2, VG_L3) != 0 ||
	    get16(f + VG_L2 + 2) != len - VG_L2)
		return "IPv4 header changed";
	for (off = VG_PATTERN_OFF; off < len; off++)
		if (f[off] != pattern_byte(id->seq, off)) {
			snprintf(why, sizeof(why),
				 "payload differs at byte %u (0x%02x, want 0x%02x)",
				 off, f[off], pattern_byte(id->seq, off));
			return why;
		}
	return NULL;
}

/* ---- sockets ------------------------------------------------------------ */

static int
raw_socket(int ifindex, uint16_t proto)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(proto),
		.sll_ifindex = ifindex,
	};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(proto));

	if (fd < 0) {
		say("AF_PACKET socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		say("bind to %s: %s", ifname, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* A transmit-only socket: protocol 0 receives nothing. */
static int
tx_socket(int ifindex)
{
	return raw_socket(ifindex, 0);
}

/* n receive sockets for IPv4 frames; with n > 1 they form a fanout group by
 * receive queue, socket i getting queue i. */
static int
rx_sockets(int ifindex, unsigned int n, int *fds)
{
	int group = (int)(getpid() & 0xffff) | PACKET_FANOUT_QM << 16;
	int buf = 8 << 20;
	unsigned int i;
	char junk[64];

	for (i = 0; i < n; i++) {
		fds[i] = raw_socket(ifindex, ETH_P_IP);
		if (fds[i] < 0)
			return -1;
		if (setsockopt(fds[i], SOL_SOCKET, SO_RCVBUFFORCE, &buf,
			       sizeof(buf)) < 0)
			say("SO_RCVBUFFORCE: %s (continuing)", strerror(errno));
		if (n > 1 && setsockopt(fds[i], SOL_PACKET, PACKET_FANOUT,
					&group, sizeof(group)) < 0) {
			say("PACKET_FANOUT: %s", strerror(errno));
			return -1;
		}
	}
	/* Anything that arrived before the group was complete went to
	 * whichever member existed: drop it. */
	for (i = 0; i < n; i++)
		while (recv(fds[i], junk, sizeof(junk), MSG_DONTWAIT) > 0)
			;
	return 0;
}

static unsigned int
socket_drops(int fd)
{
	struct tpacket_stats st;
	socklen_t l = sizeof(st);

	if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &l) < 0)
		return 0;
	return st.tp_drops;
}

/* Sends one frame; retries while the qdisc is full. */
static int
send_frame(int fd, const uint8_t *f, unsigned int len, unsigned int *retries)
{
	double end = now_s() + 5;

	for (;;) {
		ssize_t r = send(fd, f, len, 0);

		if (r == (ssize_t)len)
			return 0;
		if (r < 0 && (errno == ENOBUFS || errno == EAGAIN ||
			      errno == EINTR) && now_s() < end) {
			(*retries)++;
			sleep_us(1000);
			continue;
		}
		say("send of %u bytes: %s", len,
		    r < 0 ? strerror(errno) : "short write");
		return -1;
	}
}

/* ---- echo --------------------------------------------------------------- */

struct vg_echo {
	unsigned int queues;
	uint32_t frames;
	struct vg_sizes sizes;
	unsigned int window;
	double timeout;

	int ifindex, txfd, rxfd[VG_MAX_QUEUES];
	uint8_t mac[6];
	uint16_t port[VG_MAX_QUEUES];     /* UDP source port per tx queue */
	uint8_t *buf;

	/* expected counter movements */
	uint64_t want_tx[VG_MAX_QUEUES], want_rx[VG_MAX_QUEUES];
	uint64_t frames_tx, frames_rx;

	/* data frames */
	uint8_t *seen;
	uint32_t sent, back, good, bad, dup, foreign, wrong_queue;
	unsigned int inflight[VG_MAX_QUEUES];
	unsigned int retries, reported;
};

static void
report_bad(struct vg_echo *e, const char *what, uint32_t seq, unsigned int q)
{
	if (e->reported++ < VG_MAX_REPORT)
		say("bad frame (seq %" PRIu32 ", rx queue %u): %s", seq, q,
		    what);
}

/*
 * The receive queue whose frames socket s of the fanout group gets. The
 * kernel's PACKET_FANOUT_QM demux takes skb->queue_mapping modulo the group
 * size, and on receive queue_mapping holds the queue plus one
 * (skb_record_rx_queue): socket s gets queue s - 1. The steering probes
 * check this against the per-queue counters, so a kernel that does it
 * otherwise is reported, not misread.
 */
static unsigned int
sock_rxq(unsigned int s, unsigned int n)
{
	return n > 1 ? (s + n - 1) % n : 0;
}

/* Receives what is ready on socket s. Returns frames taken or -1. */
static int
echo_receive(struct vg_echo *e, unsigned int s, struct vg_frame_id *probe)
{
	const unsigned int q = sock_rxq(s, e->queues);
	struct sockaddr_ll from;
	socklen_t fl;
	int got = 0;

	for (;;) {
		struct vg_frame_id id;
		const char *why;
		ssize_t n;

		fl = sizeof(from);
		n = recvfrom(e->rxfd[s], e->buf, VG_MAX_FRAME + 1,
			     MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&from,
			     &fl);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return got;
			say("recv: %s", strerror(errno));
			return -1;
		}
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		got++;
		e->frames_rx++;
		e->want_rx[q]++;
		if (n > VG_MAX_FRAME) {
			e->bad++;
			report_bad(e, "frame larger than 64 KiB", 0, q);
			continue;
		}
		why = frame_check(e->buf, (size_t)n, e->mac, e->mac, &id);
		if (why != NULL) {
			if (strncmp(why, "not a test", 10) == 0 ||
			    strncmp(why, "runt", 4) == 0)
				e->foreign++;
			else
				e->bad++;
			report_bad(e, why, id.seq, q);
			continue;
		}
		if (id.seq & VG_PROBE) {
			if (probe != NULL) {
				*probe = id;
				probe->queue = (uint16_t)q;
			} else {
				e->bad++;
				report_bad(e, "late steering probe", id.seq, q);
			}
			continue;
		}
		if (id.seq >= e->frames) {
			e->bad++;
			report_bad(e, "sequence out of range", id.seq, q);
			continue;
		}
		if (e->seen[id.seq]) {
			e->dup++;
			report_bad(e, "duplicate", id.seq, q);
			continue;
		}
		e->seen[id.seq] = 1;
		e->back++;
		if (id.queue < e->queues && e->inflight[id.queue] > 0)
			e->inflight[id.queue]--;
		if (id.queue != q && e->queues > 1) {
			e->wrong_queue++;
			report_bad(e, "came back on another queue pair",
				   id.seq, q);
			continue;
		}
		e->good++;
	}
}

/* Waits up to `secs` for frames on any socket; receives them. */
static int
echo_poll(struct vg_echo *e, double secs, struct vg_frame_id *probe)
{
	struct pollfd pfd[VG_MAX_QUEUES];
	unsigned int s;
	int n, got = 0;

	for (s = 0; s < e->queues; s++) {
		pfd[s].fd = e->rxfd[s];
		pfd[s].events = POLLIN;
	}
	n = poll(pfd, e->queues, (int)(secs * 1000));
	if (n < 0 && errno != EINTR) {
		say("poll: %s", strerror(errno));
		return -1;
	}
	for (s = 0; s < e->queues && n > 0; s++) {
		int r;

		if (!(pfd[s].revents & POLLIN))
			continue;
		r = echo_receive(e, s, probe);
		if (r < 0)
			return -1;
		got += r;
	}
	return got;
}

/* Waits until the transmit counters moved by `want` frames in all (the
 * driver counts a frame when the device hands its buffer back). */
static int
tx_settle(const struct vg_counters *base, uint64_t want,
	  struct vg_counters *now, double secs)
{
	double end = now_s() + secs;

	for (;;) {
		if (stats_read(now) < 0)
			return -1;
		if (sum_of(now->tx, now->n_tx) - sum_of(base->tx, base->n_tx) >=
		    want)
			return 0;
		if (now_s() >= end)
			return -1;
		sleep_us(1000);
	}
}

static const char *
ports_list(const uint16_t *port, unsigned int n)
{
	uint64_t v[VG_MAX_QUEUES];
	unsigned int i;

	for (i = 0; i < n; i++)
		v[i] = port[i];
	return list_of(v, n);
}

/* Learns a UDP source port for each transmit queue: send a probe, see which
 * queue counter moves and which receive queue the echo comes back on. */
static int
echo_steer(struct vg_echo *e)
{
	const unsigned int max_probes = 64 * e->queues;
	unsigned int found = 0, p;
	uint8_t probe_buf[128];

	if (e->queues == 1) {
		e->port[0] = VG_PORT_BASE;
		return 0;
	}
	for (p = 0; p < max_probes && found < e->queues; p++) {
		struct vg_frame_id id = {
			.seq = VG_PROBE | p, .queue = 0xffff, .len = 64,
		};
		struct vg_frame_id echo = { .queue = 0xffff };
		struct vg_counters before, after;
		uint16_t port = (uint16_t)(VG_PORT_BASE + p);
		unsigned int q, txq = VG_MAX_QUEUES, rxq = VG_MAX_QUEUES;
		double end;

		if (stats_read(&before) < 0)
			return -1;
		frame_build(probe_buf, id.len, e->mac, e->mac, port, &id);
		if (send_frame(e->txfd, probe_buf, id.len, &e->retries) < 0)
			return -1;
		e->frames_tx++;
		end = now_s() + e->timeout;
		while (echo.queue == 0xffff && now_s() < end)
			if (echo_poll(e, 0.2, &echo) < 0)
				return -1;
		if (tx_settle(&before, 1, &after, 2) < 0) {
			say("probe %u: the transmit counters did not move", p);
			return -1;
		}
		for (q = 0; q < after.n_tx && q < VG_MAX_QUEUES; q++)
			if (after.tx[q] != before.tx[q])
				txq = q;
		for (q = 0; q < after.n_rx && q < VG_MAX_QUEUES; q++)
			if (after.rx[q] != before.rx[q])
				rxq = q;
		if (echo.queue != 0xffff && rxq != echo.queue) {
			say("probe %u: the rx counters say queue %u, the fanout "
			    "group says %u: this kernel maps sockets to queues "
			    "differently", p, rxq, echo.queue);
			return -1;
		}
		if (txq >= e->queues) {
			say("probe %u left on tx queue %u, outside the %u in use",
			    p, txq, e->queues);
			return -1;
		}
		e->want_tx[txq]++;
		if (echo.queue == 0xffff) {
			say("probe %u (UDP port %u) left on tx queue %u and did "
			    "not come back in %.0f s: no traffic through the "
			    "backend", p, port, txq, e->timeout);
			return -1;
		}
		if (echo.queue != txq) {
			say("probe %u left on tx queue %u, came back on rx "
			    "queue %u", p, txq, echo.queue);
			e->wrong_queue++;
		}
		if (e->port[txq] == 0) {
			e->port[txq] = port;
			found++;
		}
	}
	if (found < e->queues) {
		for (p = 0; p < e->queues; p++)
			if (e->port[p] == 0)
				say("no probe in %u left on tx queue %u "
				    "(is XPS cleared?)", max_probes, p);
		return -1;
	}
	say("steering: %u probes; UDP source port per tx queue: %s", p,
	    ports_list(e->port, e->queues));
	return 0;
}

static int
cmd_echo(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "queues", required_argument, NULL, 'q' },
		{ "frames", required_argument, NULL, 'n' },
		{ "sizes", required_argument, NULL, 's' },
		{ "window", required_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct vg_echo e = { .queues = 1, .frames = 1000, .window = 32,
			     .timeout = 10 };
	struct vg_counters base, end;
	const char *sizes = NULL;
	unsigned long v;
	uint32_t lost;
	unsigned int q, drops = 0, next_q = 0, stalled;
	double t0, last_progress, secs;
	bool ok;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			if (parse_uint(optarg, VG_MAX_QUEUES, &v) < 0 || v == 0)
				return say("bad --queues %s", optarg), 2;
			e.queues = (unsigned int)v;
			break;
		case 'n':
			if (parse_uint(optarg, 100000000, &v) < 0 || v == 0)
				return say("bad --frames %s", optarg), 2;
			e.frames = (uint32_t)v;
			break;
		case 's':
			sizes = optarg;
			break;
		case 'w':
			if (parse_uint(optarg, 4096, &v) < 0 || v == 0)
				return say("bad --window %s", optarg), 2;
			e.window = (unsigned int)v;
			break;
		case 't':
			if (parse_uint(optarg, 3600, &v) < 0 || v == 0)
				return say("bad --timeout %s", optarg), 2;
			e.timeout = (double)v;
			break;
		default:
			return 2;
		}
	}
	e.ifindex = if_index();
	if (e.ifindex == 0 || if_mac(e.mac) < 0)
		return 1;
	if (sizes == NULL) {
		static char def[32];

		snprintf(def, sizeof(def), "%u-%d", VG_MIN_FRAME,
			 if_mtu() + VG_L2);
		sizes = def;
	}
	if (parse_sizes(sizes, &e.sizes) < 0)
		return say("bad --sizes %s", sizes), 2;
	if (size_max(&e.sizes) > (unsigned int)if_mtu() + VG_L2)
		return say("--sizes %s: larger than MTU %d + 14", sizes,
			   if_mtu()), 2;
	e.buf = malloc(VG_MAX_FRAME + 1);
	e.seen = calloc(e.frames, 1);
	if (e.buf == NULL || e.seen == NULL)
		return say("out of memory"), 1;
	e.txfd = tx_socket(e.ifindex);
	if (e.txfd < 0 || rx_sockets(e.ifindex, e.queues, e.rxfd) < 0)
		return 1;
	if (stats_read(&base) < 0)
		return 1;
	if (base.n_tx < e.queues) {
		say("%s has %u tx queues in use, %u asked (run setup --queues)",
		    ifname, base.n_tx, e.queues);
		return 1;
	}
	say("echo: %u queue pair(s), %" PRIu32 " frames, sizes %s, window %u"
	    " per queue, run id %08" PRIx32, e.queues, e.frames, sizes,
	    e.window, run_id);
	t0 = now_s();
	ok = echo_steer(&e) == 0;

	last_progress = now_s();
	while (ok && e.back < e.frames) {
		uint32_t before = e.back;
		int r;

		/* Fill the window of each queue, round robin. */
		stalled = 0;
		while (e.sent < e.frames && stalled < e.queues) {
			struct vg_frame_id id;

			q = next_q;
			next_q = (next_q + 1) % e.queues;
			if (e.inflight[q] >= e.window) {
				stalled++;
				continue;
			}
			stalled = 0;
			id.seq = e.sent;
			id.queue = (uint16_t)q;
			id.len = (uint16_t)size_pick(&e.sizes, e.sent);
			frame_build(e.buf, id.len, e.mac, e.mac, e.port[q], &id);
			if (send_frame(e.txfd, e.buf, id.len, &e.retries) < 0) {
				ok = false;
				break;
			}
			e.sent++;
			e.frames_tx++;
			e.want_tx[q]++;
			e.inflight[q]++;
		}
		if (!ok)
			break;
		r = echo_poll(&e, 0.2, NULL);
		if (r < 0)
			break;
		if (e.back != before)
			last_progress = now_s();
		else if (now_s() - last_progress > e.timeout) {
			say("no frame came back for %.0f s", e.timeout);
			break;
		}
	}
	secs = now_s() - t0;
	/* Late frames (duplicates, strays): a short quiet period. */
	if (ok)
		echo_poll(&e, 0.3, NULL);
	for (q = 0; q < e.queues; q++)
		drops += socket_drops(e.rxfd[q]);
	tx_settle(&base, e.frames_tx, &end, 5);
	lost = e.sent - e.back;
	for (q = 0; q < e.queues; q++) {
		uint64_t dt = end.tx[q] - base.tx[q];
		uint64_t dr = end.rx[q] - base.rx[q];

		if (dt != e.want_tx[q] || dr != e.want_rx[q]) {
			say("queue %u counters: tx +%" PRIu64 " (sent %" PRIu64
			    "), rx +%" PRIu64 " (received %" PRIu64 ")", q, dt,
			    e.want_tx[q], dr, e.want_rx[q]);
			ok = false;
		}
		if (e.want_tx[q] == 0 || e.want_rx[q] == 0) {
			say("queue %u carried nothing one way", q);
			ok = false;
		}
		end.tx[q] = dt;
		end.rx[q] = dr;
	}
	for (q = e.queues; q < end.n_tx && q < VG_MAX_QUEUES; q++)
		if (end.tx[q] != base.tx[q] || end.rx[q] != base.rx[q]) {
			say("queue %u is not in the test but counted traffic", q);
			ok = false;
		}
	ok = ok && e.sent == e.frames && e.good == e.frames && e.bad == 0 &&
	     e.dup == 0 && e.foreign == 0 && e.wrong_queue == 0 && drops == 0;
	say("echo: %" PRIu32 " sent, %" PRIu32 " back intact, %" PRIu32
	    " lost, %" PRIu32 " bad, %" PRIu32 " duplicated, %" PRIu32
	    " foreign, %" PRIu32 " on a wrong queue, %u socket drops, %u send "
	    "retries, %.2f s (%.0f frames/s)", e.sent, e.good, lost, e.bad,
	    e.dup, e.foreign, e.wrong_queue, drops, e.retries, secs,
	    (double)e.good / (secs > 0 ? secs : 1));
	printf("RESULT %s echo queues=%u frames=%" PRIu32 " good=%" PRIu32
	       " lost=%" PRIu32 " bad=%" PRIu32 " dup=%" PRIu32 " tx=%" PRIu64
	       " rx=%" PRIu64 " txq=%s rxq=%s secs=%.2f\n", ok ? "PASS" : "FAIL",
	       e.queues, e.frames, e.good, lost, e.bad + e.foreign +
	       e.wrong_queue, e.dup, sum_of(end.tx, e.queues),
	       sum_of(end.rx, e.queues), list_of(end.tx, e.queues),
	       list_of(end.rx, e.queues), secs);
	fflush(stdout);
	return ok ? 0 : 1;
}

/* ---- send / recv (through a switch) ------------------------------------- */

/* Learns a UDP source port per transmit queue from the counters alone
 * (the probes go to dst and are not expected back): with queues == 1 the
 * base port. Counts the probes per queue into probes[]. */
static int
steer_by_counters(int fd, const uint8_t dst[6], const uint8_t src[6],
		  unsigned int queues, uint16_t *port, uint64_t *probes,
		  unsigned int *retries)
{
	const unsigned int max_probes = 64 * queues;
	unsigned int found = 0, p, q;
	uint8_t buf[64];

	memset(port, 0, queues * sizeof(*port));
	if (queues == 1) {
		port[0] = VG_PORT_BASE;
		return 0;
	}
	for (p = 0; p < max_probes && found < queues; p++) {
		struct vg_frame_id id = {
			.seq = VG_PROBE | p, .queue = 0xffff, .len = 64,
		};
		struct vg_counters before, after;
		unsigned int txq = VG_MAX_QUEUES;

		if (stats_read(&before) < 0)
			return -1;
		frame_build(buf, id.len, dst, src, (uint16_t)(VG_PORT_BASE + p),
			    &id);
		if (send_frame(fd, buf, id.len, retries) < 0)
			return -1;
		if (tx_settle(&before, 1, &after, 2) < 0) {
			say("probe %u: the transmit counters did not move", p);
			return -1;
		}
		for (q = 0; q < after.n_tx && q < VG_MAX_QUEUES; q++)
			if (after.tx[q] != before.tx[q])
				txq = q;
		if (txq >= queues) {
			say("probe %u left on tx queue %u, outside the %u in use",
			    p, txq, queues);
			return -1;
		}
		probes[txq]++;
		if (port[txq] == 0) {
			port[txq] = (uint16_t)(VG_PORT_BASE + p);
			found++;
		}
	}
	if (found < queues) {
		say("%u probes did not reach every tx queue (is XPS cleared?)",
		    p);
		return -1;
	}
	say("steering: %u probes; UDP source port per tx queue: %s", p,
	    ports_list(port, queues));
	return 0;
}

static int
cmd_send(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dst", required_argument, NULL, 'd' },
		{ "frames", required_argument, NULL, 'n' },
		{ "sizes", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'r' },
		{ "run", required_argument, NULL, 'i' },
		{ "queues", required_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	struct vg_counters base, end;
	struct vg_sizes sz;
	const char *sizes = "60-1514";
	uint8_t dst[6], mac[6], *buf;
	bool have_dst = false, ok = true;
	unsigned long v, rate = 0, frames = 1000, queues = 1;
	uint64_t want[VG_MAX_QUEUES] = { 0 };
	uint16_t port[VG_MAX_QUEUES];
	unsigned int retries = 0, q;
	uint32_t i;
	double t0, secs;
	int c, ifindex, fd;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (parse_mac(optarg, dst) < 0)
				return say("bad --dst %s", optarg), 2;
			have_dst = true;
			break;
		case 'n':
			if (parse_uint(optarg, 100000000, &frames) < 0 ||
			    frames == 0)
				return say("bad --frames %s", optarg), 2;
			break;
		case 's':
			sizes = optarg;
			break;
		case 'r':
			if (parse_uint(optarg, 10000000, &rate) < 0)
				return say("bad --rate %s", optarg), 2;
			break;
		case 'i':
			if (parse_uint(optarg, UINT32_MAX, &v) < 0)
				return say("bad --run %s", optarg), 2;
			run_id = (uint32_t)v;
			break;
		case 'q':
			if (parse_uint(optarg, VG_MAX_QUEUES, &queues) < 0 ||
			    queues == 0)
				return say("bad --queues %s", optarg), 2;
			break;
		default:
			return 2;
		}
	}
	if (!have_dst)
		return say("send needs --dst MAC"), 2;
	if (parse_sizes(sizes, &sz) < 0)
		return say("bad --sizes %s", sizes), 2;
	ifindex = if_index();
	if (ifindex == 0 || if_mac(mac) < 0)
		return 1;
	if (size_max(&sz) > (unsigned int)if_mtu() + VG_L2)
		return say("--sizes %s: larger than MTU + 14", sizes), 2;
	fd = tx_socket(ifindex);
	buf = malloc(VG_MAX_FRAME);
	if (fd < 0 || buf == NULL || stats_read(&base) < 0)
		return 1;
	if (base.n_tx < queues) {
		say("%s has %u tx queues in use, %lu asked (run setup --queues)",
		    ifname, base.n_tx, queues);
		return 1;
	}
	say("send: %lu frames to %02x:%02x:%02x:%02x:%02x:%02x over %lu tx "
	    "queue(s), sizes %s, %lu frames/s (0: no pacing), run id %08"
	    PRIx32, frames, dst[0], dst[1], dst[2], dst[3], dst[4], dst[5],
	    queues, sizes, rate, run_id);
	if (steer_by_counters(fd, dst, mac, (unsigned int)queues, port, want,
			      &retries) < 0)
		return 1;
	t0 = now_s();
	for (i = 0; i < frames; i++) {
		struct vg_frame_id id = {
			.seq = i, .queue = (uint16_t)(i % queues),
			.len = (uint16_t)size_pick(&sz, i),
		};

		if (rate != 0) {
			double due = t0 + (double)i / (double)rate;
			double wait = due - now_s();

			if (wait > 0)
				sleep_us((long)(wait * 1e6));
		}
		frame_build(buf, id.len, dst, mac, port[id.queue], &id);
		if (send_frame(fd, buf, id.len, &retries) < 0) {
			ok = false;
			break;
		}
		want[id.queue]++;
	}
	secs = now_s() - t0;
	if (tx_settle(&base, sum_of(want, (unsigned int)queues), &end, 5) < 0) {
		say("transmit counters moved by %" PRIu64 ", %" PRIu64 " sent",
		    sum_of(end.tx, end.n_tx) - sum_of(base.tx, base.n_tx),
		    sum_of(want, (unsigned int)queues));
		ok = false;
	}
	for (q = 0; q < end.n_tx && q < VG_MAX_QUEUES; q++) {
		end.tx[q] -= base.tx[q];
		end.rx[q] -= base.rx[q];
		if (q < queues && end.tx[q] != want[q]) {
			say("tx queue %u counted %" PRIu64 ", %" PRIu64 " sent",
			    q, end.tx[q], want[q]);
			ok = false;
		}
	}
	printf("RESULT %s send frames=%lu sent=%" PRIu32 " tx=%" PRIu64
	       " rx=%" PRIu64 " probes=%" PRIu64 " txq=%s retries=%u secs=%.2f\n",
	       ok ? "PASS" : "FAIL", frames, i, sum_of(end.tx, end.n_tx),
	       sum_of(end.rx, end.n_rx), sum_of(want, (unsigned int)queues) - i,
	       list_of(end.tx, (unsigned int)queues), retries, secs);
	fflush(stdout);
	return ok ? 0 : 1;
}

static int
cmd_recv(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "src", required_argument, NULL, 'S' },
		{ "frames", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "idle", required_argument, NULL, 'I' },
		{ "max-loss", required_argument, NULL, 'l' },
		{ "run", required_argument, NULL, 'i' },
		{ "ready", required_argument, NULL, 'R' },
		{ "queues", required_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	struct vg_counters base, end;
	uint8_t src[6], mac[6], *buf, *seen;
	const char *ready = NULL;
	unsigned long v, frames = 1000, max_loss = 0, queues = 1;
	double timeout = 60, idle = 5, t0, last = 0, tnow;
	uint32_t good = 0, bad = 0, dup = 0, reorder = 0, foreign = 0;
	uint32_t probes = 0, next[VG_MAX_QUEUES] = { 0 }, lost;
	/* per flow (sender queue): its UDP source port and the receive
	 * queues it arrived on (a bit each); per socket: frames taken */
	uint32_t flow_rxqs[VG_MAX_QUEUES] = { 0 }, split_flows = 0;
	uint16_t flow_port[VG_MAX_QUEUES] = { 0 };
	uint64_t sock_got[VG_MAX_QUEUES] = { 0 };
	unsigned int reported = 0, drops = 0, s, q, n_bad_q = 0;
	bool have_src = false, ok;
	int c, ifindex, fds[VG_MAX_QUEUES];
	char flows[VG_MAX_QUEUES * 64] = "";
	size_t off = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			if (parse_mac(optarg, src) < 0)
				return say("bad --src %s", optarg), 2;
			have_src = true;
			break;
		case 'n':
			if (parse_uint(optarg, 100000000, &frames) < 0 ||
			    frames == 0)
				return say("bad --frames %s", optarg), 2;
			break;
		case 't':
			if (parse_uint(optarg, 3600, &v) < 0 || v == 0)
				return say("bad --timeout %s", optarg), 2;
			timeout = (double)v;
			break;
		case 'I':
			if (parse_uint(optarg, 3600, &v) < 0 || v == 0)
				return say("bad --idle %s", optarg), 2;
			idle = (double)v;
			break;
		case 'l':
			if (parse_uint(optarg, 100000000, &max_loss) < 0)
				return say("bad --max-loss %s", optarg), 2;
			break;
		case 'i':
			if (parse_uint(optarg, UINT32_MAX, &v) < 0)
				return say("bad --run %s", optarg), 2;
			run_id = (uint32_t)v;
			break;
		case 'R':
			ready = optarg;
			break;
		case 'q':
			if (parse_uint(optarg, VG_MAX_QUEUES, &queues) < 0 ||
			    queues == 0)
				return say("bad --queues %s", optarg), 2;
			break;
		default:
			return 2;
		}
	}
	if (!have_src)
		return say("recv needs --src MAC"), 2;
	ifindex = if_index();
	if (ifindex == 0 || if_mac(mac) < 0)
		return 1;
	buf = malloc(VG_MAX_FRAME + 1);
	seen = calloc(frames, 1);
	if (buf == NULL || seen == NULL ||
	    rx_sockets(ifindex, (unsigned int)queues, fds) < 0 ||
	    stats_read(&base) < 0)
		return 1;
	if (base.n_rx < queues) {
		say("%s has %u rx queues in use, %lu asked (run setup "
		    "--queues)", ifname, base.n_rx, queues);
		return 1;
	}
	say("recv: %lu frames, %.0f s at most, stop after %.0f s idle, run id"
	    " %08" PRIx32, frames, timeout, idle, run_id);
	if (ready != NULL)
		say("%s", ready);  /* the host waits for this line */
	t0 = now_s();
	while (good < frames) {
		struct pollfd pfd[VG_MAX_QUEUES];
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		struct vg_frame_id id = { 0 };
		const char *why;
		ssize_t n;

		tnow = now_s();
		if (tnow - t0 > timeout || (last != 0 && tnow - last > idle))
			break;
		for (s = 0; s < queues; s++) {
			pfd[s].fd = fds[s];
			pfd[s].events = POLLIN;
		}
		if (poll(pfd, (nfds_t)queues, 200) <= 0)
			continue;
		for (s = 0; s < queues; s++) {
			while ((pfd[s].revents & POLLIN) &&
			       (n = recvfrom(fds[s], buf, VG_MAX_FRAME + 1,
					     MSG_DONTWAIT | MSG_TRUNC,
					     (struct sockaddr *)&from,
					     &fl)) >= 0) {
				fl = sizeof(from);
				if (from.sll_pkttype == PACKET_OUTGOING)
					continue;
				sock_got[s]++;
				last = now_s();
				why = n > VG_MAX_FRAME ?
				      "frame larger than 64 KiB" :
				      frame_check(buf, (size_t)n, mac, src,
						  &id);
				if (why == NULL && (id.seq & VG_PROBE)) {
					probes++; /* the sender's steering */
					continue;
				}
				if (why == NULL && id.queue >= VG_MAX_QUEUES)
					why = "flow (sender queue) out of "
					      "range";
				if (why == NULL && id.seq >= frames)
					why = "sequence out of range";
				if (why == NULL && seen[id.seq])
					why = "duplicate";
				if (why != NULL) {
					if (strcmp(why, "duplicate") == 0)
						dup++;
					else if (strncmp(why, "not a test",
							 10) == 0)
						foreign++;
					else
						bad++;
					if (reported++ < VG_MAX_REPORT)
						say("bad frame (seq %" PRIu32
						    "): %s", id.seq, why);
					continue;
				}
				/* In order within a flow (one sender tx
				 * queue): the flows may interleave, each
				 * keeps its order. */
				seen[id.seq] = 1;
				if (id.seq < next[id.queue])
					reorder++;
				next[id.queue] = id.seq + 1;
				flow_rxqs[id.queue] |=
					1u << sock_rxq(s, (unsigned int)queues);
				flow_port[id.queue] =
					get16(buf + VG_L2 + VG_L3);
				good++;
			}
		}
	}
	for (s = 0; s < queues; s++)
		drops += socket_drops(fds[s]);
	stats_read(&end);
	for (c = 0; c < (int)end.n_rx; c++) {
		end.tx[c] -= base.tx[c];
		end.rx[c] -= base.rx[c];
	}
	/* Each socket got exactly what its receive queue counted: the
	 * fanout tells the queues apart as the counters do. */
	for (s = 0; queues > 1 && s < queues; s++) {
		q = sock_rxq(s, (unsigned int)queues);
		if (sock_got[s] != end.rx[q]) {
			say("socket %u took %" PRIu64 " frames, rx queue %u "
			    "counted %" PRIu64, s, sock_got[s], q, end.rx[q]);
			n_bad_q++;
		}
	}
	/* One flow, one receive queue (the backend's RSS steering). */
	for (q = 0; q < VG_MAX_QUEUES; q++) {
		uint32_t m = flow_rxqs[q];

		if (m == 0)
			continue;
		if (m & (m - 1))
			split_flows++;
		off += (size_t)snprintf(flows + off, sizeof(flows) - off,
					"%s%u:%u@", off ? "," : "", q,
					flow_port[q]);
		for (s = 0; m != 0; m &= m - 1, s++)
			off += (size_t)snprintf(flows + off,
						sizeof(flows) - off, "%s%d",
						s ? "+" : "",
						__builtin_ctz(m));
		if (s > 1)
			say("flow %u (UDP port %u) arrived on %u rx queues",
			    q, flow_port[q], s);
	}
	lost = (uint32_t)frames - good;
	ok = lost <= max_loss && bad == 0 && dup == 0 && reorder == 0 &&
	     foreign == 0 && drops == 0 && n_bad_q == 0 && split_flows == 0 &&
	     sum_of(end.rx, end.n_rx) ==
		     (uint64_t)good + bad + dup + foreign + probes;
	say("recv: %" PRIu32 " intact, %" PRIu32 " lost, %" PRIu32 " bad, %"
	    PRIu32 " duplicated, %" PRIu32 " out of order, %" PRIu32
	    " foreign, %u socket drops", good, lost, bad, dup, reorder,
	    foreign, drops);
	printf("RESULT %s recv frames=%lu good=%" PRIu32 " lost=%" PRIu32
	       " bad=%" PRIu32 " dup=%" PRIu32 " reorder=%" PRIu32 " probes=%"
	       PRIu32 " tx=%" PRIu64 " rx=%" PRIu64 " rxq=%s flows=%s\n",
	       ok ? "PASS" : "FAIL", frames, good, lost, bad + foreign, dup,
	       reorder, probes, sum_of(end.tx, end.n_tx),
	       sum_of(end.rx, end.n_rx), list_of(end.rx, end.n_rx),
	       flows[0] ? flows : "-");
	fflush(stdout);
	return ok ? 0 : 1;
}

/* ---- TCP bulk transfer (guest to guest, through a switch) ---------------- */

/*
 * The byte stream tcp-send writes and tcp-recv checks: 64-bit word k (bytes
 * 8k .. 8k+7) is a mix of the seed and k, little endian, so every byte
 * depends on its offset: a segment that is cut, shifted, duplicated, stale
 * or mixed with another fails the check at its first wrong byte. Both sides
 * also hash what they wrote or read (FNV-1a over 64-bit words, then the
 * length), which the host compares: the content checksum of the transfer.
 */
#define VG_TCP_CHUNK (256 * 1024)

static uint64_t
stream_word(uint64_t seed, uint64_t k)
{
	/* splitmix64's finaliser */
	uint64_t x = seed + k * 0x9e3779b97f4a7c15ull;

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The stream's bytes [off, off + len) into buf. */
static void
stream_fill(uint64_t seed, uint64_t off, uint8_t *buf, size_t len)
{
	uint64_t k = off / 8;
	size_t skip = (size_t)(off % 8), done = 0;

	while (done < len) {
		uint64_t w = stream_word(seed, k++);
		uint8_t b[8];
		size_t n = 8 - skip;
		unsigned int i;

		for (i = 0; i < 8; i++)
			b[i] = (uint8_t)(w >> (8 * i));
		if (n > len - done)
			n = len - done;
		memcpy(buf + done, b + skip, n);
		done += n;
		skip = 0;
	}
}

struct vg_hash {
	uint64_t h;
	uint64_t len;
	uint8_t carry[8];
	unsigned int n_carry;
};

static void
hash_init(struct vg_hash *s)
{
	memset(s, 0, sizeof(*s));
	s->h = 0xcbf29ce484222325ull;
}

static void
hash_word(struct vg_hash *s, uint64_t w)
{
	s->h = (s->h ^ w) * 0x100000001b3ull;
}

static uint64_t
le64(const uint8_t *p)
{
	uint64_t w = 0;
	int i;

	for (i = 7; i >= 0; i--)
		w = w << 8 | p[i];
	return w;
}

static void
hash_update(struct vg_hash *s, const uint8_t *p, size_t len)
{
	s->len += len;
	while (len > 0 && s->n_carry != 0) {
		s->carry[s->n_carry++] = *p++;
		len--;
		if (s->n_carry == 8) {
			hash_word(s, le64(s->carry));
			s->n_carry = 0;
		}
	}
	for (; len >= 8; p += 8, len -= 8)
		hash_word(s, le64(p));
	while (len-- > 0)
		s->carry[s->n_carry++] = *p++;
}

static uint64_t
hash_final(struct vg_hash *s)
{
	if (s->n_carry != 0) {
		memset(s->carry + s->n_carry, 0, 8 - s->n_carry);
		hash_word(s, le64(s->carry));
		s->n_carry = 0;
	}
	hash_word(s, s->len);
	return s->h;
}

/* TCP options shared by tcp-send and tcp-recv. */
struct vg_tcp_opts {
	struct sockaddr_storage dst;    /* IPv4 or IPv6, port set */
	socklen_t dst_len;
	char dst_str[INET6_ADDRSTRLEN];
	bool have_dst;
	unsigned long port, bytes, timeout, streams;
	uint64_t seed;
	const char *ready;
};

/* Streams of one transfer: stream i has seed + i, its source port is
 * VG_TCP_SPORT + i (the receiver tells them apart by it), and carries
 * bytes / streams (the first one the remainder too). */
#define VG_TCP_MAX_STREAMS 16
#define VG_TCP_SPORT 41000

static int
tcp_parse(int argc, char **argv, struct vg_tcp_opts *o)
{
	static const struct option opts[] = {
		{ "dst", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'p' },
		{ "bytes", required_argument, NULL, 'b' },
		{ "seed", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "ready", required_argument, NULL, 'r' },
		{ "streams", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int c;

	memset(o, 0, sizeof(*o));
	o->streams = 1;
	o->port = 5001;
	o->bytes = 8ul << 20;
	o->timeout = 20;
	o->seed = run_id;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&o->dst;
			struct sockaddr_in6 *s6 =
				(struct sockaddr_in6 *)&o->dst;

			if (inet_pton(AF_INET, optarg, &s4->sin_addr) == 1) {
				s4->sin_family = AF_INET;
				o->dst_len = sizeof(*s4);
			} else if (inet_pton(AF_INET6, optarg,
					     &s6->sin6_addr) == 1) {
				s6->sin6_family = AF_INET6;
				o->dst_len = sizeof(*s6);
			} else {
				return say("bad --dst %s (an IPv4 or IPv6 "
					   "address)", optarg), 2;
			}
			snprintf(o->dst_str, sizeof(o->dst_str), "%s", optarg);
			o->have_dst = true;
			break;
		}
		case 'p':
			if (parse_uint(optarg, 65535, &o->port) < 0 ||
			    o->port == 0)
				return say("bad --port %s", optarg), 2;
			break;
		case 'b':
			if (parse_uint(optarg, 1ul << 40, &o->bytes) < 0 ||
			    o->bytes == 0)
				return say("bad --bytes %s", optarg), 2;
			break;
		case 's':
			if (parse_uint(optarg, UINT32_MAX, &v) < 0)
				return say("bad --seed %s", optarg), 2;
			o->seed = v;
			break;
		case 't':
			if (parse_uint(optarg, 3600, &o->timeout) < 0 ||
			    o->timeout == 0)
				return say("bad --timeout %s", optarg), 2;
			break;
		case 'r':
			o->ready = optarg;
			break;
		case 'n':
			if (parse_uint(optarg, VG_TCP_MAX_STREAMS,
				       &o->streams) < 0 || o->streams == 0)
				return say("bad --streams %s (1..%d)", optarg,
					   VG_TCP_MAX_STREAMS), 2;
			break;
		default:
			return 2;
		}
	}
	if (o->have_dst) {
		if (o->dst.ss_family == AF_INET)
			((struct sockaddr_in *)&o->dst)->sin_port =
				htons((uint16_t)o->port);
		else
			((struct sockaddr_in6 *)&o->dst)->sin6_port =
				htons((uint16_t)o->port);
	}
	return 0;
}

static void
sock_timeouts(int fd, unsigned long secs)
{
	struct timeval tv = { .tv_sec = (time_t)secs };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static double
mbit_s(uint64_t bytes, double secs)
{
	return secs > 0 ? (double)bytes * 8 / secs / 1e6 : 0.0;
}

/*
 * The interface's error counters (/sys/class/net/IF/statistics): receive
 * errors of any kind (virtio_net counts a frame it rejects, such as a bad
 * GSO header or a short frame, there), drops, transmit errors.
 */
struct vg_errs {
	uint64_t rx_errors, rx_dropped, tx_errors;
};

static uint64_t
sysfs_u64(const char *what)
{
	char path[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s",
		 ifname, what);
	f = fopen(path, "re");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return (uint64_t)v;
}

static void
errs_read(struct vg_errs *e)
{
	e->rx_errors = sysfs_u64("rx_errors") + sysfs_u64("rx_length_errors") +
		       sysfs_u64("rx_frame_errors") + sysfs_u64("rx_crc_errors") +
		       sysfs_u64("rx_over_errors") + sysfs_u64("rx_fifo_errors");
	e->rx_dropped = sysfs_u64("rx_dropped");
	e->tx_errors = sysfs_u64("tx_errors") + sysfs_u64("tx_dropped");
}

/* " rx_errors=N rx_dropped=N tx_errors=N" since base (a static buffer). */
static const char *
errs_since(const struct vg_errs *base)
{
	static char buf[96];
	struct vg_errs now;

	errs_read(&now);
	snprintf(buf, sizeof(buf), " rx_errors=%" PRIu64 " rx_dropped=%"
		 PRIu64 " tx_errors=%" PRIu64, now.rx_errors - base->rx_errors,
		 now.rx_dropped - base->rx_dropped,
		 now.tx_errors - base->tx_errors);
	return buf;
}

/* Frames the interface sent and received since base (all queues). */
static void
frames_since(const struct vg_counters *base, uint64_t *tx, uint64_t *rx)
{
	struct vg_counters now;

	*tx = *rx = 0;
	if (stats_read(&now) < 0)
		return;
	*tx = sum_of(now.tx, now.n_tx) - sum_of(base->tx, base->n_tx);
	*rx = sum_of(now.rx, now.n_rx) - sum_of(base->rx, base->n_rx);
}

static uint64_t
stream_bytes(const struct vg_tcp_opts *o, unsigned int i)
{
	return o->bytes / o->streams + (i == 0 ? o->bytes % o->streams : 0);
}

/* The transfer's content sum: FNV-1a over the streams' own sums. */
static uint64_t
streams_sum(const uint64_t *sums, unsigned int n)
{
	struct vg_hash all;
	unsigned int i;

	hash_init(&all);
	for (i = 0; i < n; i++)
		hash_word(&all, sums[i]);
	return hash_final(&all);
}

static bool
would_block(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK;
}

/* A TCP socket bound to source port sport, connected to o->dst; a refused
 * connection is retried until the timeout (the receiver listens first,
 * but its listen may not be there yet). -1 on failure (said why). */
static int
tcp_connect(const struct vg_tcp_opts *o, uint16_t sport)
{
	struct sockaddr_storage src;
	double t0 = now_s();
	int fd, one = 1;

	for (;;) {
		memset(&src, 0, sizeof(src));
		src.ss_family = o->dst.ss_family;
		if (src.ss_family == AF_INET)
			((struct sockaddr_in *)&src)->sin_port = htons(sport);
		else
			((struct sockaddr_in6 *)&src)->sin6_port = htons(sport);
		fd = socket(o->dst.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			say("socket: %s", strerror(errno));
			return -1;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		sock_timeouts(fd, o->timeout);
		if (bind(fd, (struct sockaddr *)&src, o->dst_len) < 0) {
			say("bind to port %u: %s", sport, strerror(errno));
			close(fd);
			return -1;
		}
		if (connect(fd, (struct sockaddr *)&o->dst, o->dst_len) == 0)
			return fd;
		if (errno != ECONNREFUSED || now_s() - t0 > (double)o->timeout) {
			say("connect %s port %lu: %s", o->dst_str, o->port,
			    strerror(errno));
			close(fd);
			return -1;
		}
		close(fd);
		sleep_us(100000);
	}
}

/*
 * tcp-send: connect --streams connections to --dst:--port, write --bytes
 * of the streams (round robin, whichever socket takes data), shut each
 * write side when its stream is written and wait for the receiver to close
 * them all (it does once it has read everything), so the time covers
 * delivery. --timeout seconds without progress fails.
 */
static int
cmd_tcp_send(int argc, char **argv)
{
	struct vg_tcp_opts o;
	struct vg_counters base;
	struct vg_errs ebase;
	struct vg_hash hs[VG_TCP_MAX_STREAMS];
	uint64_t off[VG_TCP_MAX_STREAMS] = { 0 }, sums[VG_TCP_MAX_STREAMS];
	int fds[VG_TCP_MAX_STREAMS];
	bool written[VG_TCP_MAX_STREAMS] = { false };
	bool closed[VG_TCP_MAX_STREAMS] = { false };
	unsigned int retrans = 0, mss = 0, i, n_open;
	uint64_t total = 0, tx = 0, rx = 0;
	uint8_t *buf;
	const char *why = NULL;
	double t0, t_conn, secs;
	int rc;

	rc = tcp_parse(argc, argv, &o);
	if (rc != 0)
		return rc;
	if (!o.have_dst)
		return say("tcp-send needs --dst IP"), 2;
	buf = malloc(VG_TCP_CHUNK);
	if (buf == NULL || stats_read(&base) < 0)
		return 1;
	errs_read(&ebase);
	t0 = now_s();
	for (i = 0; i < o.streams; i++) {
		hash_init(&hs[i]);
		fds[i] = tcp_connect(&o, (uint16_t)(VG_TCP_SPORT + i));
		if (fds[i] < 0) {
			while (i-- > 0)
				close(fds[i]);
			printf("RESULT FAIL tcp-send bytes=0 why=connect\n");
			free(buf);
			return 1;
		}
	}
	t_conn = now_s();
	say("tcp-send: %lu bytes in %lu stream(s) to %s port %lu, seed %"
	    PRIu64 ", connected in %.2f s", o.bytes, o.streams, o.dst_str,
	    o.port, o.seed, t_conn - t0);
	n_open = (unsigned int)o.streams;
	while (n_open > 0 && why == NULL) {
		struct pollfd pfd[VG_TCP_MAX_STREAMS];
		unsigned int map[VG_TCP_MAX_STREAMS], np = 0;

		for (i = 0; i < o.streams; i++) {
			if (closed[i])
				continue;
			pfd[np] = (struct pollfd){
				.fd = fds[i],
				.events = written[i] ? POLLIN : POLLOUT,
			};
			map[np++] = i;
		}
		rc = poll(pfd, np, (int)o.timeout * 1000);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0) {
			say("no progress for %lu s (%" PRIu64 " bytes written)",
			    o.timeout, total);
			why = "stall";
			break;
		}
		for (unsigned int k = 0; k < np && why == NULL; k++) {
			uint64_t want;
			size_t len;
			ssize_t n;
			char extra;

			i = map[k];
			if (pfd[k].revents == 0)
				continue;
			if (written[i]) {
				/* the receiver's close: EOF */
				n = recv(fds[i], &extra, 1, MSG_DONTWAIT);
				if (n == 0) {
					closed[i] = true;
					n_open--;
				} else if (n > 0 || !would_block()) {
					say("stream %u: %s", i, n > 0 ?
					    "the receiver sent data" :
					    strerror(errno));
					why = "close";
				}
				continue;
			}
			want = stream_bytes(&o, i) - off[i];
			len = want < VG_TCP_CHUNK ? (size_t)want : VG_TCP_CHUNK;
			stream_fill(o.seed + i, off[i], buf, len);
			n = send(fds[i], buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0) {
				if (would_block() || errno == EINTR)
					continue;
				say("stream %u: write at byte %" PRIu64 ": %s",
				    i, off[i], strerror(errno));
				why = "write";
				continue;
			}
			hash_update(&hs[i], buf, (size_t)n);
			off[i] += (uint64_t)n;
			total += (uint64_t)n;
			if (off[i] == stream_bytes(&o, i)) {
				written[i] = true;
				if (shutdown(fds[i], SHUT_WR) < 0) {
					say("stream %u: shutdown: %s", i,
					    strerror(errno));
					why = "shutdown";
				}
			}
		}
	}
	secs = now_s() - t_conn;
	for (i = 0; i < o.streams; i++) {
		struct tcp_info ti;
		socklen_t til = sizeof(ti);

		memset(&ti, 0, sizeof(ti));
		getsockopt(fds[i], IPPROTO_TCP, TCP_INFO, &ti, &til);
		retrans += ti.tcpi_total_retrans;
		if (mss == 0)
			mss = ti.tcpi_snd_mss;
		close(fds[i]);
		sums[i] = hash_final(&hs[i]);
	}
	frames_since(&base, &tx, &rx);
	printf("RESULT %s tcp-send bytes=%" PRIu64 " streams=%lu sum=%016"
	       PRIx64 " secs=%.3f mbps=%.1f retrans=%u mss=%u tx=%" PRIu64
	       " rx=%" PRIu64 "%s%s%s\n", why == NULL ? "PASS" : "FAIL", total,
	       o.streams, streams_sum(sums, (unsigned int)o.streams), secs,
	       mbit_s(total, secs), retrans, mss, tx, rx, errs_since(&ebase),
	       why ? " why=" : "", why ? why : "");
	fflush(stdout);
	free(buf);
	return why == NULL ? 0 : 1;
}

/* The stream a connection carries, by its source port; -1 if none. */
static int
stream_of(const struct sockaddr_storage *peer, unsigned long streams)
{
	unsigned int port = ntohs(peer->ss_family == AF_INET ?
		((const struct sockaddr_in *)peer)->sin_port :
		((const struct sockaddr_in6 *)peer)->sin6_port);

	if (port < VG_TCP_SPORT || port >= VG_TCP_SPORT + streams)
		return -1;
	return (int)(port - VG_TCP_SPORT);
}

/*
 * tcp-recv: accept --streams connections on --port, read each until EOF,
 * check every byte against its stream and hash it; each must bring
 * exactly its share of --bytes. Each is closed at its EOF (its sender
 * waits for it). --timeout seconds without data fails.
 */
static int
cmd_tcp_recv(int argc, char **argv)
{
	struct vg_tcp_opts o;
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct vg_counters base;
	struct vg_errs ebase;
	struct vg_hash hs[VG_TCP_MAX_STREAMS];
	uint64_t got[VG_TCP_MAX_STREAMS] = { 0 }, sums[VG_TCP_MAX_STREAMS];
	int fds[VG_TCP_MAX_STREAMS];
	bool accepted[VG_TCP_MAX_STREAMS] = { false };
	unsigned int n_acc = 0, n_open = 0, i;
	uint64_t total = 0, bad = 0, tx = 0, rx = 0;
	uint64_t first_bad = UINT64_MAX;
	int first_bad_stream = -1;
	uint8_t *buf, *exp;
	const char *why = NULL;
	double t0 = 0, t_last = 0, secs;
	int rc, lfd, one = 1, zero = 0;

	rc = tcp_parse(argc, argv, &o);
	if (rc != 0)
		return rc;
	buf = malloc(VG_TCP_CHUNK);
	exp = malloc(VG_TCP_CHUNK);
	if (buf == NULL || exp == NULL || stats_read(&base) < 0)
		return 1;
	errs_read(&ebase);
	for (i = 0; i < VG_TCP_MAX_STREAMS; i++) {
		fds[i] = -1;
		hash_init(&hs[i]);
	}
	/* IPv6 and IPv4 on one socket; IPv4 only when the guest has no
	 * IPv6 (ipv6.disable=1). */
	lfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd >= 0) {
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
			   sizeof(zero));
		sa6.sin6_port = htons((uint16_t)o.port);
		sa6.sin6_addr = in6addr_any;
		rc = bind(lfd, (struct sockaddr *)&sa6, sizeof(sa6));
	} else {
		lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (lfd < 0)
			return say("socket: %s", strerror(errno)), 1;
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		sa.sin_port = htons((uint16_t)o.port);
		sa.sin_addr.s_addr = htonl(INADDR_ANY);
		rc = bind(lfd, (struct sockaddr *)&sa, sizeof(sa));
	}
	if (rc < 0 || listen(lfd, VG_TCP_MAX_STREAMS) < 0) {
		say("listen on port %lu: %s", o.port, strerror(errno));
		close(lfd);
		return 1;
	}
	say("tcp-recv: listening on port %lu for %lu bytes in %lu stream(s), "
	    "seed %" PRIu64, o.port, o.bytes, o.streams, o.seed);
	if (o.ready != NULL)
		say("%s", o.ready);
	while (why == NULL && (n_acc < o.streams || n_open > 0)) {
		struct pollfd pfd[VG_TCP_MAX_STREAMS + 1];
		int map[VG_TCP_MAX_STREAMS + 1];
		unsigned int np = 0;

		if (n_acc < o.streams) {
			pfd[np] = (struct pollfd){ .fd = lfd, .events = POLLIN };
			map[np++] = -1;
		}
		for (i = 0; i < o.streams; i++) {
			if (fds[i] < 0)
				continue;
			pfd[np] = (struct pollfd){ .fd = fds[i],
						   .events = POLLIN };
			map[np++] = (int)i;
		}
		rc = poll(pfd, np, (int)o.timeout * 1000);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0) {
			say(n_acc == 0 ? "no connection in %lu s" :
			    "no data for %lu s", o.timeout);
			why = n_acc == 0 ? "accept" : "read";
			break;
		}
		for (unsigned int k = 0; k < np && why == NULL; k++) {
			ssize_t n;

			if (pfd[k].revents == 0)
				continue;
			if (map[k] < 0) {
				struct sockaddr_storage peer;
				socklen_t pl = sizeof(peer);
				int fd = accept4(lfd, (struct sockaddr *)&peer,
						 &pl, SOCK_CLOEXEC);
				int st;

				if (fd < 0)
					continue;
				st = stream_of(&peer, o.streams);
				if (st < 0 || accepted[st]) {
					say("a connection from an unexpected "
					    "port");
					close(fd);
					why = "accept";
					continue;
				}
				if (n_acc == 0)
					t0 = t_last = now_s();
				fds[st] = fd;
				accepted[st] = true;
				n_acc++;
				n_open++;
				continue;
			}
			i = (unsigned int)map[k];
			n = recv(fds[i], buf, VG_TCP_CHUNK, MSG_DONTWAIT);
			if (n < 0) {
				if (would_block() || errno == EINTR)
					continue;
				say("stream %u: read at byte %" PRIu64 ": %s",
				    i, got[i], strerror(errno));
				why = "read";
				continue;
			}
			if (n == 0) {
				close(fds[i]);
				fds[i] = -1;
				n_open--;
				continue;
			}
			t_last = now_s();
			hash_update(&hs[i], buf, (size_t)n);
			stream_fill(o.seed + i, got[i], exp, (size_t)n);
			if (memcmp(buf, exp, (size_t)n) != 0) {
				for (size_t b = 0; b < (size_t)n; b++) {
					if (buf[b] == exp[b])
						continue;
					if (first_bad == UINT64_MAX) {
						first_bad = got[i] + b;
						first_bad_stream = (int)i;
					}
					bad++;
				}
			}
			got[i] += (uint64_t)n;
			total += (uint64_t)n;
		}
	}
	secs = t_last - t0;
	close(lfd);
	for (i = 0; i < o.streams; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		sums[i] = hash_final(&hs[i]);
		if (got[i] != stream_bytes(&o, i)) {
			say("stream %u: got %" PRIu64 " bytes, %" PRIu64
			    " expected", i, got[i], stream_bytes(&o, i));
			if (why == NULL)
				why = "length";
		}
	}
	frames_since(&base, &tx, &rx);
	if (why == NULL && bad != 0)
		why = "content";
	if (first_bad != UINT64_MAX)
		say("bad content: %" PRIu64 " byte(s) differ, the first in "
		    "stream %d at offset %" PRIu64, bad, first_bad_stream,
		    first_bad);
	printf("RESULT %s tcp-recv bytes=%" PRIu64 " streams=%lu sum=%016"
	       PRIx64 " bad=%" PRIu64 " secs=%.3f mbps=%.1f tx=%" PRIu64
	       " rx=%" PRIu64 "%s%s%s\n", why == NULL ? "PASS" : "FAIL", total,
	       o.streams, streams_sum(sums, (unsigned int)o.streams), bad,
	       secs, mbit_s(total, secs), tx, rx, errs_since(&ebase),
	       why ? " why=" : "", why ? why : "");
	fflush(stdout);
	free(buf);
	free(exp);
	return why == NULL ? 0 : 1;
}

/*
 * features: what the driver negotiated with the device (the virtio feature
 * bits in /sys/class/net/IF/device/features, one character per bit) and
 * which offloads the interface has on (ethtool -k, ETHTOOL_GFEATURES).
 * Prints "FEATURES bits=<the string> csum=0|1 ..." and "NETDEV <active
 * offloads>".
 */
static const struct {
	const char *name;
	unsigned int bit;
} vg_feature_names[] = {
	{ "csum", 0 }, { "guest_csum", 1 }, { "guest_tso4", 7 },
	{ "guest_tso6", 8 }, { "guest_ecn", 9 }, { "guest_ufo", 10 },
	{ "host_tso4", 11 }, { "host_tso6", 12 }, { "host_ecn", 13 },
	{ "host_ufo", 14 }, { "mrg_rxbuf", 15 }, { "mq", 22 },
	{ "version_1", 32 }, { "ring_packed", 34 }, { "in_order", 35 },
	{ "guest_uso4", 54 }, { "guest_uso6", 55 }, { "host_uso", 56 },
};

static void
netdev_features(void)
{
	static const char *const wanted[] = {
		"tx-checksum-ip-generic", "tx-scatter-gather",
		"tx-tcp-segmentation", "tx-tcp6-segmentation",
		"tx-tcp-ecn-segmentation", "rx-checksum", "rx-gro-hw",
		"rx-lro",
	};
	struct ethtool_sset_info *si;
	struct ethtool_gstrings *names = NULL;
	struct ethtool_gfeatures *gf = NULL;
	unsigned int n, i, w;
	char line[512];
	size_t off = 0;

	si = calloc(1, sizeof(*si) + sizeof(uint32_t));
	if (si == NULL)
		return;
	si->cmd = ETHTOOL_GSSET_INFO;
	si->sset_mask = 1ull << ETH_SS_FEATURES;
	if (ethtool(si) < 0 || si->sset_mask == 0) {
		say("ETHTOOL_GSSET_INFO: %s", strerror(errno));
		goto out;
	}
	n = si->data[0];
	names = calloc(1, sizeof(*names) + (size_t)n * ETH_GSTRING_LEN);
	gf = calloc(1, sizeof(*gf) + (size_t)(n + 31) / 32 *
		    sizeof(gf->features[0]));
	if (names == NULL || gf == NULL)
		goto out;
	names->cmd = ETHTOOL_GSTRINGS;
	names->string_set = ETH_SS_FEATURES;
	names->len = n;
	gf->cmd = ETHTOOL_GFEATURES;
	gf->size = (n + 31) / 32;
	if (ethtool(names) < 0 || ethtool(gf) < 0) {
		say("ETHTOOL_GFEATURES: %s", strerror(errno));
		goto out;
	}
	line[0] = '\0';
	for (i = 0; i < n; i++) {
		const char *s = (const char *)names->data +
				(size_t)i * ETH_GSTRING_LEN;

		for (w = 0; w < sizeof(wanted) / sizeof(wanted[0]); w++)
			if (strncmp(s, wanted[w], ETH_GSTRING_LEN) == 0)
				break;
		if (w == sizeof(wanted) / sizeof(wanted[0]) ||
		    !(gf->features[i / 32].active & (1u << (i % 32))))
			continue;
		off += (size_t)snprintf(line + off, sizeof(line) - off, " %s",
					wanted[w]);
		if (off >= sizeof(line))
			break;
	}
	printf("NETDEV%s\n", line[0] ? line : " (no offloads)");
out:
	free(si);
	free(names);
	free(gf);
}

static int
cmd_features(int argc, char **argv)
{
	char path[128], bits[160], line[1024];
	size_t off, len, i;
	FILE *f;

	(void)argc;
	(void)argv;
	snprintf(path, sizeof(path), "/sys/class/net/%s/device/features",
		 ifname);
	f = fopen(path, "re");
	if (f == NULL || fgets(bits, sizeof(bits), f) == NULL) {
		say("%s: %s", path, strerror(errno));
		if (f != NULL)
			fclose(f);
		return 1;
	}
	fclose(f);
	len = strcspn(bits, "\r\n");
	bits[len] = '\0';
	off = (size_t)snprintf(line, sizeof(line), "FEATURES bits=%s", bits);
	for (i = 0; i < sizeof(vg_feature_names) / sizeof(vg_feature_names[0]);
	     i++) {
		unsigned int b = vg_feature_names[i].bit;

		off += (size_t)snprintf(line + off, sizeof(line) - off,
					" %s=%c", vg_feature_names[i].name,
					b < len && bits[b] == '1' ? '1' : '0');
	}
	printf("%s\n", line);
	netdev_features();
	fflush(stdout);
	return 0;
}

/* ---- memwalk ------------------------------------------------------------ */

/*
 * Lost-write detector for live migration, with no network at all: rounds
 * over a set of pages, each round first checking that every page still
 * holds the previous round's number, then writing this round's. The vCPU
 * is the only writer, so a page that comes back older after a migration
 * is a write the hypervisor's dirty tracking missed (see
 * doc/guide/guest-tests.md, Migration: QEMU 7.2's TCG loses writes made
 * through a TLB entry that outlived a dirty-bitmap sync).
 */
static int
cmd_memwalk(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pages", required_argument, NULL, 'p' },
		{ "seconds", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long pages = 64, secs = 10, v;
	uint64_t round, bad = 0;
	volatile uint64_t *mem;
	size_t stride = 4096 / sizeof(uint64_t);
	double end;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_uint(optarg, 65536, &v) < 0 || v == 0)
				return say("bad --pages %s", optarg), 2;
			pages = v;
			break;
		case 's':
			if (parse_uint(optarg, 3600, &v) < 0 || v == 0)
				return say("bad --seconds %s", optarg), 2;
			secs = v;
			break;
		default:
			return 2;
		}
	}
	mem = calloc(pages, 4096);
	if (mem == NULL)
		return say("memwalk: out of memory"), 1;
	end = now_s() + (double)secs;
	for (round = 1; bad == 0; round++) {
		for (unsigned long i = 0; i < pages; i++) {
			uint64_t seen = mem[i * stride];

			if (seen != round - 1 && bad++ < VG_MAX_REPORT)
				say("memwalk: round %" PRIu64 ": page %lu holds %"
				    PRIu64 ", expected %" PRIu64, round, i,
				    seen, round - 1);
			mem[i * stride] = round;
		}
		if ((round & 1023) == 0 && now_s() >= end)
			break;
	}
	printf("RESULT %s memwalk pages=%lu rounds=%" PRIu64 " bad=%" PRIu64
	       "\n", bad == 0 ? "PASS" : "FAIL", pages, round, bad);
	fflush(stdout);
	free((void *)mem);
	return bad == 0 ? 0 : 1;
}

/* ---- main --------------------------------------------------------------- */

static void
usage(void)
{
	printf("usage: vhu-guest-tool [--if NAME] COMMAND [OPTIONS]\n"
	       "  setup [--queues N] [--mtu M] [--keep-xps]\n"
	       "        set the channel count and MTU, bring the interface up,\n"
	       "        wait for carrier, clear XPS (unless --keep-xps)\n"
	       "  stats print the per-queue packet counters\n"
	       "  echo  [--queues N] [--frames F] [--sizes SPEC] [--window W]\n"
	       "        [--timeout S]   frames to ourselves through an echoing\n"
	       "        backend, every queue pair, each checked\n"
	       "  send  --dst MAC [--frames F] [--sizes SPEC] [--rate PPS]\n"
	       "        [--run ID] [--queues N]   (round robin over N tx queues)\n"
	       "  recv  --src MAC [--frames F] [--timeout S] [--idle S]\n"
	       "        [--max-loss N] [--run ID] [--ready TEXT] [--queues N]\n"
	       "        (N: one socket per rx queue; each flow must arrive on\n"
	       "        one queue only)\n"
	       "  memwalk [--pages N] [--seconds S]   rounds over N pages, each\n"
	       "        checking the last round's writes are still there\n"
	       "  tcp-recv [--port P] [--bytes N] [--streams K] [--seed S]\n"
	       "        [--timeout S] [--ready TEXT]   accept K TCP\n"
	       "        connections, read each until EOF, check every byte of\n"
	       "        its stream and hash it\n"
	       "  tcp-send --dst IP|IPV6 [--port P] [--bytes N] [--streams K]\n"
	       "        [--seed S] [--timeout S]   write N bytes over K\n"
	       "        streams, wait for the receiver to close them; both\n"
	       "        print bytes, sum, Mbit/s\n"
	       "  features  the virtio feature bits the driver negotiated and\n"
	       "        the interface's active offloads\n"
	       "SPEC: comma-separated sizes or lo-hi ranges (random in range),\n"
	       "used in turn; frames are 60 bytes at least. Traffic commands\n"
	       "end with a line 'RESULT PASS|FAIL ...'.\n");
}

int
main(int argc, char **argv)
{
	const char *cmd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	run_id = (uint32_t)(now_s() * 1e6) ^ (uint32_t)getpid() << 16;
	rng_state ^= run_id;
	if (argc >= 3 && strcmp(argv[1], "--if") == 0) {
		ifname = argv[2];
		argc -= 2;
		argv += 2;
	}
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage();
		return argc < 2 ? 2 : 0;
	}
	cmd = argv[1];
	argc--;
	argv++;
	if (strcmp(cmd, "setup") == 0)
		return cmd_setup(argc, argv);
	if (strcmp(cmd, "stats") == 0)
		return cmd_stats(argc, argv);
	if (strcmp(cmd, "echo") == 0)
		return cmd_echo(argc, argv);
	if (strcmp(cmd, "send") == 0)
		return cmd_send(argc, argv);
	if (strcmp(cmd, "recv") == 0)
		return cmd_recv(argc, argv);
	if (strcmp(cmd, "memwalk") == 0)
		return cmd_memwalk(argc, argv);
	if (strcmp(cmd, "tcp-send") == 0)
		return cmd_tcp_send(argc, argv);
	if (strcmp(cmd, "tcp-recv") == 0)
		return cmd_tcp_recv(argc, argv);
	if (strcmp(cmd, "features") == 0)
		return cmd_features(argc, argv);
	say("unknown command %s (try --help)", cmd);
	return 2;
}
