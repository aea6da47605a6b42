/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test programs start EAL with --no-shconf and a per-process file prefix;
 * EAL still creates an (empty) runtime directory for that prefix and never
 * removes it, so every test run would leave one behind in /var/run/dpdk.
 */
#ifndef VHU_TEST_EAL_TIDY_H
#define VHU_TEST_EAL_TIDY_H

#include <stdlib.h>
#include <unistd.h>

#include <rte_eal.h>

static void
vhu_test_rmdir_runtime(void)
{
	/* rmdir, not a recursive delete: only ever an empty directory */
	(void)rmdir(rte_eal_get_runtime_dir());
}

/* Call once after rte_eal_init(): the runtime directory goes at exit. */
static inline void
vhu_test_eal_tidy_at_exit(void)
{
	(void)atexit(vhu_test_rmdir_runtime);
}

#endif /* VHU_TEST_EAL_TIDY_H */
