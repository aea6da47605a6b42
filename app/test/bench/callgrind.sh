#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Instructions per packet of the split-ring data path, under callgrind, for
# {64, 1518 bytes} x {mergeable off, on}: only vhu_dequeue_burst and
# vhu_enqueue_burst (and what they call) are counted, so the numbers do not
# depend on machine load or on the test driver's own work.
#
# Usage: app/test/bench/callgrind.sh [BUILD_DIR] [ITERATIONS] [extra bench args]
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=${1:-$REPO/build}
iters=${2:-2000}
shift $(( $# > 2 ? 2 : $# ))
bin=$build/app/test/bench/bench_split
[ -x "$bin" ] || { echo "callgrind.sh: $bin not built" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%-6s %-4s %10s %10s %10s\n' size mrg deq_Ir/pkt enq_Ir/pkt total
for size in 64 1518; do
	for mrg in 0 1; do
		out=$tmp/cg.$size.$mrg
		valgrind --tool=callgrind --callgrind-out-file="$out" \
			--toggle-collect=vhu_dequeue_burst \
			--toggle-collect=vhu_enqueue_burst \
			"$bin" -s "$size" -m "$mrg" -n "$iters" "$@" \
			> "$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
		pkts=$(sed -nE 's/.* ([0-9]+) packets$/\1/p' "$tmp/log")
		callgrind_annotate --inclusive=yes "$out" > "$tmp/ann" 2>/dev/null
		deq=$(grep -E '[ :]vhu_dequeue_burst( |$)' "$tmp/ann" | head -1 |
		      awk '{ gsub(",", "", $1); print $1 }')
		enq=$(grep -E '[ :]vhu_enqueue_burst( |$)' "$tmp/ann" | head -1 |
		      awk '{ gsub(",", "", $1); print $1 }')
		awk -v s="$size" -v m="$mrg" -v p="$pkts" -v d="$deq" -v e="$enq" \
			'BEGIN { printf "%-6s %-4s %10.1f %10.1f %10.1f\n",
				 s, m, d / p, e / p, (d + e) / p }'
	done
done
