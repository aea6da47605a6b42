/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhu-core-latency: the round trip of one cache line between two CPUs,
 * in nanoseconds (median of short samples).
 *
 * A vhost-user loopback moves every ring index and descriptor between the
 * backend's CPU and the frontend's, so its throughput follows this figure.
 * In a virtual machine the host decides it, and can change it at any time
 * by moving vCPUs (on this benchmark machine: ~60 ns when the two vCPUs
 * share a core complex, ~320 ns when they do not). devtools/bench.sh probes
 * before and after each run and compares backends only within one state.
 *
 * Usage: vhu-core-latency CPU_A CPU_B [MILLISECONDS]   (default 300)
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define SAMPLE_ROUND_TRIPS 2000
#define MAX_SAMPLES 1024

static _Alignas(64) atomic_uint ball;	/* odd: at B's side, even: at A's */
static atomic_bool stop;

static void *return_ball(void *arg);

static int
pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* The peer starts on its own CPU: under a real-time policy (chrt) a
 * thread born on A's CPU would never run to move itself. */
static int
start_peer(pthread_t *peer, int *cpu)
{
	pthread_attr_t attr;
	cpu_set_t set;
	int rc;

	CPU_ZERO(&set);
	CPU_SET(*cpu, &set);
	if (pthread_attr_init(&attr) != 0)
		return -1;
	rc = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	if (rc == 0)
		rc = pthread_create(peer, &attr, return_ball, cpu);
	pthread_attr_destroy(&attr);
	return rc;
}

static double
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static void *
return_ball(void *arg)
{
	(void)arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		unsigned int v = atomic_load_explicit(&ball,
						      memory_order_acquire);

		if (v & 1)
			atomic_store_explicit(&ball, v + 1,
					      memory_order_release);
	}
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	static double samples[MAX_SAMPLES];
	int cpu_a, cpu_b, n = 0;
	double ms, end;
	pthread_t peer;

	if (argc < 3) {
		fprintf(stderr, "usage: %s CPU_A CPU_B [MILLISECONDS]\n",
			argv[0]);
		return 2;
	}
	cpu_a = atoi(argv[1]);
	cpu_b = atoi(argv[2]);
	ms = argc > 3 ? atof(argv[3]) : 300;
	if (start_peer(&peer, &cpu_b) != 0 || pin_self(cpu_a) != 0) {
		fprintf(stderr, "%s: cannot run on CPUs %d and %d\n", argv[0],
			cpu_a, cpu_b);
		return 1;
	}
	end = now_ns() + ms * 1e6;
	while (n < MAX_SAMPLES && (n == 0 || now_ns() < end)) {
		double t0 = now_ns();

		for (int i = 0; i < SAMPLE_ROUND_TRIPS; i++) {
			unsigned int v = atomic_load_explicit(
				&ball, memory_order_relaxed);

			atomic_store_explicit(&ball, v + 1,
					      memory_order_release);
			while (atomic_load_explicit(&ball,
						    memory_order_acquire) ==
			       v + 1)
				;
		}
		samples[n++] = (now_ns() - t0) / SAMPLE_ROUND_TRIPS;
	}
	atomic_store(&stop, true);
	pthread_join(peer, NULL);
	qsort(samples, n, sizeof(samples[0]), cmp_double);
	printf("%.0f\n", samples[n / 2]);
	return 0;
}
