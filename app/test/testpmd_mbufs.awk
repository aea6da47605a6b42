# SPDX-License-Identifier: BSD-3-Clause
#
# Mbufs in use, from the output of dpdk-testpmd's interactive
# `dump_mempool` (rte_mempool_dump of every pool): for each pool, size
# minus the objects in the per-lcore caches (total_cache_count) minus those
# in the common pool (common_pool_count), summed over the pools. DPDK
# 22.11's telemetry /mempool/info has no usage counts.
#
# Input: testpmd's output from the `dump_mempool` command on (lines before
# it must not be given: an earlier dump would be counted too).
# Output: one number, or "n/a" when no pool was complete (a pool counts once
# its common_pool_count line, printed after total_cache_count, is there).
# A caller that must not read a dump still being printed follows
# `dump_mempool` with a command of known output and waits for that first.
# Used by app/test/soak/soak.sh and app/test/pmd/test_pmd.sh.

/^mempool </ { n++ }
/^  size=/ { split($0, a, "="); size[n] = a[2] }
/total_cache_count=/ { split($0, a, "="); cache[n] = a[2] }
/common_pool_count=/ { split($0, a, "="); common[n] = a[2]; done++ }
END {
	if (done == n && n > 0) {
		for (k = 1; k <= n; k++)
			u += size[k] - cache[k] - common[k]
		print u
	} else {
		print "n/a"
	}
}
