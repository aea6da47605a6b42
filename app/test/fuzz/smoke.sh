#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Smoke test of one libFuzzer harness (registered by meson.build in the
# 'fuzz' suite): first replays every committed regression input (each must
# now pass), then fuzzes for SECONDS from the seed corpus into a scratch
# corpus, so the committed corpus is never modified. Any crash, leak or
# sanitizer report fails the test; the crashing input is kept in the
# scratch directory, whose path is printed. Prints execs/s and coverage.
#
# Usage: smoke.sh FUZZER CORPUS-DIR REGRESSIONS-DIR SECONDS
#        smoke.sh --skip REASON      (exit 77: meson counts a skip)
set -euo pipefail

if [ "${1:-}" = "--skip" ]; then
	echo "skipped: ${2:-}"
	exit 77
fi
fuzzer=$1 corpus=$2 regressions=$3 secs=$4

# Every sanitizer report is fatal; EAL allocations are reachable at exit.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/vhu-fuzz-smoke.XXXXXX")
keep=0
cleanup() { [ "$keep" -eq 1 ] || rm -rf "$scratch"; }
trap cleanup EXIT

regs=()
if [ -d "$regressions" ]; then
	mapfile -t regs < <(find "$regressions" -type f ! -name 'README*' | sort)
fi
if [ "${#regs[@]}" -gt 0 ]; then
	echo "== replaying ${#regs[@]} regression inputs from $regressions"
	if ! "$fuzzer" "${regs[@]}" >"$scratch/replay.log" 2>&1; then
		keep=1
		tail -n 60 "$scratch/replay.log"
		echo "smoke.sh: a regression input fails again (log: $scratch/replay.log)"
		exit 1
	fi
	grep -c '^Executed ' "$scratch/replay.log" | sed 's/^/replayed: /'
fi

echo "== fuzzing ${secs}s from $corpus"
mkdir -p "$scratch/corpus"
if ! "$fuzzer" -max_total_time="$secs" -print_final_stats=1 \
	-max_len=8192 -timeout=10 -rss_limit_mb=4096 \
	-artifact_prefix="$scratch/" "$scratch/corpus" "$corpus" \
	>"$scratch/fuzz.log" 2>&1; then
	keep=1
	tail -n 80 "$scratch/fuzz.log"
	echo "smoke.sh: the fuzzer found a problem; input and log in $scratch"
	exit 1
fi
grep -E '^#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added' \
	"$scratch/fuzz.log" || tail -n 5 "$scratch/fuzz.log"
