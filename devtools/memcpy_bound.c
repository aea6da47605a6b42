/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhu-memcpy-bound: what copying a frame costs on this CPU, and the
 * loopback throughput that leaves as a ceiling.
 *
 * A backend in io forwarding copies every looped frame twice: out of the
 * guest's transmit buffer into an mbuf (dequeue), out of the mbuf into a
 * guest receive buffer (enqueue). So no backend forwards more than
 * TSC Hz / (2 x cycles of one copy) frames a second on one core.
 * devtools/bench.sh prints that bound next to its 1518-byte rows.
 *
 * The copy is rte_memcpy (what the DPDK PMDs use, compiled with DPDK's own
 * flags) of SIZE bytes from one buffer of a set to one of another, 2 KiB
 * apart as mbufs and guest buffers are (256 of each by default: 1 MiB in
 * all, which this machine's 2 MiB L2 holds). Three figures, each the
 * median over 31 passes of the set:
 *   hot    one buffer pair copied again and again (L1: the floor);
 *   local  the set, resident in this CPU's caches;
 *   cross  the set, every line of both buffers written by a thread on
 *          CPU OTHER just before the pass: what a backend meets, since the
 *          guest on the other core wrote the frame it copies out and last
 *          touched the buffer it copies into.
 * bound_mpps is computed from local, the ceiling for a backend whose
 * buffers stay in its cache; cross_bound_mpps from cross (OTHER given).
 *
 * Usage: vhu-memcpy-bound [SIZE [BUFFERS [THIS_CPU OTHER_CPU]]]
 *        (defaults 1518 256, no cross figure)
 * Output: one line,
 *   memcpy: size=1518 buffers=256 hot_cycles=.. local_cycles=..
 *           cross_cycles=.. tsc_mhz=.. bound_mpps=.. cross_bound_mpps=..
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_memcpy.h>
#include <rte_pause.h>

#define STRIDE 2048u
#define PASSES 31

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * The other CPU's writer: dirties both sets when asked (go: 1 -> it
 * writes, then stores 0). go is seq_cst both ways; 2 ends it.
 */
struct dirtier {
	int cpu;
	uint8_t *a, *b;
	size_t bytes;
	atomic_int go;
};

static int
pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *
dirty_loop(void *arg)
{
	struct dirtier *d = arg;
	uint8_t v = 1;

	if (pin(d->cpu) != 0)
		fprintf(stderr, "vhu-memcpy-bound: cannot pin to CPU %d\n", d->cpu);
	for (;;) {
		int g;

		while ((g = atomic_load(&d->go)) == 0)
			rte_pause();
		if (g == 2)
			return NULL;
		for (size_t i = 0; i < d->bytes; i += 64) {
			d->a[i] = v;
			d->b[i] = v;
		}
		v++;
		atomic_store(&d->go, 0);
	}
}

/*
 * Median cycles per copy over PASSES passes of n copies; with d, its
 * writer dirties both sets on the other CPU before each pass.
 */
static double
measure(uint8_t *dst, const uint8_t *src, unsigned int n, size_t size,
	size_t stride, struct dirtier *d)
{
	double per[PASSES];

	for (int p = 0; p < PASSES; p++) {
		uint64_t c0;

		if (d != NULL) {
			atomic_store(&d->go, 1);
			while (atomic_load(&d->go) != 0)
				rte_pause();
		}
		c0 = rte_rdtsc_precise();

		for (unsigned int i = 0; i < n; i++)
			rte_memcpy(dst + (size_t)i * stride,
				   src + (size_t)i * stride, size);
		per[p] = (double)(rte_rdtsc_precise() - c0) / n;
		/* what was written stays live: the copies are not dead code */
		__asm__ volatile("" : : "r"(dst) : "memory");
	}
	qsort(per, PASSES, sizeof(per[0]), cmp_double);
	return per[PASSES / 2];
}

/* TSC ticks a second, over 50 ms of CLOCK_MONOTONIC. */
static double
tsc_hz(void)
{
	struct timespec t0, t1, pause = { 0, 50 * 1000 * 1000 };
	uint64_t c0, c1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	c0 = rte_rdtsc();
	nanosleep(&pause, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	c1 = rte_rdtsc();
	return (double)(c1 - c0) / ((double)(t1.tv_sec - t0.tv_sec) +
				    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}

int
main(int argc, char **argv)
{
	unsigned long size = argc > 1 ? strtoul(argv[1], NULL, 0) : 1518;
	unsigned long n = argc > 2 ? strtoul(argv[2], NULL, 0) : 256;
	struct dirtier d = { .cpu = -1 };
	pthread_t writer;
	uint8_t *src, *dst;
	double local, hot, cross = 0, hz;

	if ((argc != 5 && argc > 3) || size == 0 || size > STRIDE || n == 0 ||
	    n > 65536) {
		fprintf(stderr, "usage: vhu-memcpy-bound [SIZE 1..%u [BUFFERS 1..65536 [THIS_CPU OTHER_CPU]]]\n",
			STRIDE);
		return 2;
	}
	if (argc == 5 && pin(atoi(argv[3])) != 0) {
		fprintf(stderr, "vhu-memcpy-bound: cannot pin to CPU %s\n", argv[3]);
		return 1;
	}
	src = aligned_alloc(64, n * STRIDE);
	dst = aligned_alloc(64, n * STRIDE);
	if (src == NULL || dst == NULL) {
		fprintf(stderr, "vhu-memcpy-bound: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < n * STRIDE; i++) {
		src[i] = (uint8_t)i;
		dst[i] = 0;
	}
	hot = measure(dst, src, 1024, size, 0, NULL);
	local = measure(dst, src, (unsigned int)n, size, STRIDE, NULL);
	if (argc == 5) {
		d = (struct dirtier){ .cpu = atoi(argv[4]), .a = src, .b = dst,
				      .bytes = n * STRIDE };
		if (pthread_create(&writer, NULL, dirty_loop, &d) != 0) {
			fprintf(stderr, "vhu-memcpy-bound: no thread\n");
			return 1;
		}
		cross = measure(dst, src, (unsigned int)n, size, STRIDE, &d);
		atomic_store(&d.go, 2);
		pthread_join(writer, NULL);
	}
	hz = tsc_hz();
	printf("memcpy: size=%lu buffers=%lu hot_cycles=%.1f local_cycles=%.1f cross_cycles=%.1f tsc_mhz=%.0f bound_mpps=%.2f cross_bound_mpps=%.2f\n",
	       size, n, hot, local, cross, hz / 1e6, hz / (2 * local) / 1e6,
	       cross > 0 ? hz / (2 * cross) / 1e6 : 0.0);
	free(src);
	free(dst);
	return 0;
}
