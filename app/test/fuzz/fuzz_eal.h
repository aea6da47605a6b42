/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * EAL start-up shared by the libFuzzer harnesses (fuzz_msg.c,
 * fuzz_split.c): in memory, no hugepages, a file prefix of its own per
 * process, torn down at exit. Library logs are formatted but go to
 * /dev/null unless FUZZ_VERBOSE is set: the error paths' log arguments are
 * code too (and a rejected message logs every time).
 */
#ifndef VHU_FUZZ_EAL_H
#define VHU_FUZZ_EAL_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_log.h>

#include "../eal_tidy.h"

/* Report what failed (with errno) for fuzzer name, and abort. */
static inline void
fuzz_die(const char *name, const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", name, what, strerror(errno));
	abort();
}

/* Start the EAL for fuzzer name; returns whether FUZZ_VERBOSE is set. */
static inline bool
fuzz_eal_init(const char *name, char *argv0)
{
	char prefix[64];
	char *eal_argv[] = {
		argv0, "--no-huge", "-m", "256", "--no-pci",
		"--no-shconf", "--no-telemetry", prefix,
		"--log-level=lib.eal:error", NULL,
	};
	FILE *null;

	snprintf(prefix, sizeof(prefix), "--file-prefix=fuzz%d", (int)getpid());
	if (rte_eal_init(RTE_DIM(eal_argv) - 1, eal_argv) < 0)
		fuzz_die(name, "rte_eal_init");
	vhu_test_eal_tidy_at_exit();
	if (getenv("FUZZ_VERBOSE") != NULL)
		return true;
	null = fopen("/dev/null", "w");
	if (null == NULL || rte_openlog_stream(null) != 0)
		fuzz_die(name, "/dev/null");
	return false;
}

#endif /* VHU_FUZZ_EAL_H */
