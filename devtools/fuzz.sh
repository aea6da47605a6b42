#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Long libFuzzer runs of the vhu harnesses (app/test/fuzz/, see
# doc/guide/fuzzing.md). Configures and builds build-fuzz/ (clang, ASan +
# UBSan, libFuzzer), then runs each chosen fuzzer in turn, one process on
# one core, from the committed seed corpus plus a growing work corpus in
# fuzz-corpus-work/NAME/ (git-ignored, kept between runs). Crashes, leaks
# and timeouts go to fuzz-corpus-work/NAME/artifacts/. Prints executions,
# execs/s and coverage (libFuzzer's cov/ft) of each run at the end.
#
# Usage: devtools/fuzz.sh [--time SEC] [--build DIR] [msg|split]...
#   --time SEC   seconds per fuzzer (default 600)
#   --build DIR  build directory (default build-fuzz)
#   NAMES        fuzzers to run (default: all)
# Extra libFuzzer flags: FUZZ_ARGS="-max_len=16384 -dict=..." devtools/fuzz.sh
# Replay one input: build-fuzz/app/test/fuzz/fuzz_msg FILE (FUZZ_VERBOSE=1
# shows the library's logs and what each burst did).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

secs=600
build=build-fuzz
names=()
while [ $# -gt 0 ]; do
	case "$1" in
	--time) secs=$2; shift ;;
	--build) build=$2; shift ;;
	msg|split) names+=("$1") ;;
	-h|--help) sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "fuzz.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done
[ "${#names[@]}" -gt 0 ] || names=(msg split)

if [ ! -f "$build/meson-private/coredata.dat" ]; then
	CC=clang meson setup "$build" --buildtype=debugoptimized -Dtests=true \
		-Db_sanitize=address,undefined -Db_lundef=false
fi
targets=()
for n in "${names[@]}"; do
	targets+=("app/test/fuzz/fuzz_$n")
done
meson compile -C "$build" "${targets[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

summary=()
rc=0
for n in "${names[@]}"; do
	work=fuzz-corpus-work/$n
	mkdir -p "$work/corpus" "$work/artifacts"
	log=$work/fuzz-$(date +%Y%m%d-%H%M%S).log
	echo "=== fuzz_$n for ${secs}s (log: $log)"
	r=0
	# shellcheck disable=SC2086
	"$build/app/test/fuzz/fuzz_$n" -max_total_time="$secs" \
		-print_final_stats=1 -max_len=8192 -timeout=10 \
		-rss_limit_mb=4096 -artifact_prefix="$work/artifacts/" \
		${FUZZ_ARGS:-} "$work/corpus" "app/test/fuzz/corpus/$n" \
		>"$log" 2>&1 || r=$?
	last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	cov=$(echo "$last" | grep -o 'cov: [0-9]* ft: [0-9]*' || true)
	corp=$(find "$work/corpus" -type f | wc -l)
	if [ "$r" -ne 0 ]; then
		rc=1
		tail -n 60 "$log"
		summary+=("fuzz_$n: FAILED (exit $r), see $log and $work/artifacts/")
	else
		summary+=("fuzz_$n: ${execs:-?} execs, ${rate:-?} execs/s, ${cov:-cov ?}, corpus $corp files")
	fi
done

echo
for line in "${summary[@]}"; do
	echo "$line"
done
exit $rc
