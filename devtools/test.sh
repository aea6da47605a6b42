#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Runs the whole vhu test suite, the way CI does:
#   1. lint: the source checks in devtools/check-*.sh (layout, layering by
#      includes, the ordering-edge index of doc/guide/threading.md), each
#      one test; under a second, no build needed;
#   2. devtools/setup.sh (packages, DPDK SDK headers, hugepages);
#   3. build/       gcc, release, warnings are errors; the call ladder of the
#                   protocol layer (devtools/check-ladder.sh, one test);
#                   every meson test suite;
#   4. build-asan/  clang, ASan + UBSan (any report is fatal), warnings are
#                   errors; every meson test suite again.
# Ends with one line "N passed, N failed" counting the lint checks once and
# meson tests over both builds (a configure or build step that fails counts
# as one failed test), and exits non-zero when anything failed. Just above
# that line, each failed meson test is named with the last lines of its
# output: a CI log is often read from its tail only.
#
# Usage: devtools/test.sh [--quick] [-- MESON-TEST-ARGS...]
#   --quick   gcc build only (no sanitizer build)
#   MESON-TEST-ARGS go to both `meson test` runs, e.g. -- --suite unit
#   (the lint checks run whatever the arguments)
#
# Exported to the tests:
#   VHU_TEST_HUGE=1 when 2 MiB hugepages are usable (HugePages_Free >= 512 and
#   hugetlbfs mounted), else 0. Integration tests run their hugepage cases
#   only when it is 1. Set it yourself beforehand to override.
#   VHU_ASAN_PRELOAD (sanitizer build only): clang's shared ASan runtime, for
#   LD_PRELOAD of an uninstrumented program that loads an instrumented
#   plugin (dpdk-testpmd -d librte_net_vhu.so). Empty in the gcc build.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

quick=0
test_args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	-h|--help) sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	--) shift; test_args=("$@"); break ;;
	*) echo "test.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done

t_start=$(date +%s)
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }
banner() { printf '\n=== %s\n' "$*"; }

total_pass=0
total_fail=0
total_skip=0
summary=()
failed_logs=()

# Source checks: each is one test, counted once (not per build). They read
# the work tree only, so they run before setup and a failure does not stop
# the builds. devtools/check-ladder.sh reads built objects: it runs after
# the gcc build, below.
lint_checks=(
	devtools/check-format.sh
	devtools/check-layering.sh
	devtools/check-ordering-index.sh
)
banner "lint: ${lint_checks[*]}"
lint_t0=$(date +%s)
lint_pass=0 lint_fail=0
for check in "${lint_checks[@]}"; do
	if "$check"; then
		lint_pass=$(( lint_pass + 1 ))
	else
		echo "test.sh: lint: $check FAILED"
		lint_fail=$(( lint_fail + 1 ))
	fi
done
total_pass=$(( total_pass + lint_pass ))
total_fail=$(( total_fail + lint_fail ))
summary+=("lint: $lint_pass passed, $lint_fail failed ($(elapsed "$lint_t0"))")

banner "setup"
devtools/setup.sh

if [ -z "${VHU_TEST_HUGE:-}" ]; then
	free_pages=$(awk '$1 == "HugePages_Free:" { print $2 }' /proc/meminfo)
	if [ "${free_pages:-0}" -ge 512 ] &&
	   awk '$3 == "hugetlbfs" { f = 1 } END { exit !f }' /proc/mounts; then
		VHU_TEST_HUGE=1
	else
		VHU_TEST_HUGE=0
	fi
fi
export VHU_TEST_HUGE
export VHU_ASAN_PRELOAD=
echo "VHU_TEST_HUGE=$VHU_TEST_HUGE"

# configure_build DIR CC MESON-OPTIONS... : configures (or reconfigures) and
# builds DIR. Returns non-zero on failure.
configure_build() {
	local dir=$1 cc=$2
	shift 2
	if [ -f "$dir/meson-private/coredata.dat" ]; then
		meson setup --reconfigure "$dir" "$@" ||
			CC=$cc meson setup --wipe "$dir" "$@"
	else
		rm -rf "$dir"
		CC=$cc meson setup "$dir" "$@"
	fi && meson compile -C "$dir"
}

# run_suite NAME DIR CC TIMEOUT-MULTIPLIER MESON-OPTIONS... : builds and tests
# one configuration and adds its counts to the totals.
run_suite() {
	local name=$1 dir=$2 cc=$3 mult=$4 t0 log pass fail skip
	shift 4
	t0=$(date +%s)
	banner "$name: configure and build $dir ($cc)"
	if ! configure_build "$dir" "$cc" "$@"; then
		echo "test.sh: $name: configure/build FAILED"
		total_fail=$(( total_fail + 1 ))
		summary+=("$name: build FAILED ($(elapsed "$t0"))")
		return 0
	fi

	banner "$name: meson test -C $dir"
	log="$dir/meson-logs/testlog.json"
	rm -f "$log"
	local rc=0
	meson test -C "$dir" --print-errorlogs --timeout-multiplier "$mult" \
		"${test_args[@]}" || rc=$?

	pass=0 fail=0 skip=0
	if [ -f "$log" ]; then
		# One JSON object a line, each with "result": "OK" | "FAIL" | ...
		while read -r r; do
			case "$r" in
			OK|EXPECTEDFAIL) pass=$(( pass + 1 )) ;;
			SKIP) skip=$(( skip + 1 )) ;;
			*) fail=$(( fail + 1 )) ;;
			esac
		done < <(grep -o '"result": *"[A-Z]*"' "$log" | sed 's/.*"\([A-Z]*\)"$/\1/')
	fi
	if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
		fail=1      # meson test failed before running anything it logged
	fi
	if [ $(( pass + fail + skip )) -eq 0 ]; then
		echo "test.sh: warning: $name ran no test"
	fi
	[ "$fail" -eq 0 ] || failed_logs+=("$log")
	total_pass=$(( total_pass + pass ))
	total_fail=$(( total_fail + fail ))
	total_skip=$(( total_skip + skip ))
	summary+=("$name: $pass passed, $fail failed, $skip skipped ($(elapsed "$t0"))")
}

run_suite gcc build gcc 1 \
	--buildtype=release --werror -Dtests=true

# The call ladder (doc/guide/architecture.md), read from the gcc build's
# objects: one test, like the source checks above.
banner "lint: devtools/check-ladder.sh build"
if devtools/check-ladder.sh build; then
	total_pass=$(( total_pass + 1 ))
	summary+=("ladder: 1 passed, 0 failed")
else
	echo "test.sh: lint: devtools/check-ladder.sh FAILED"
	total_fail=$(( total_fail + 1 ))
	summary+=("ladder: 0 passed, 1 failed")
fi

if [ "$quick" -eq 0 ]; then
	# UBSan recovers by default; halt_on_error makes each report fail the test.
	# Leak checking stays on: EAL's allocations are still reachable at exit.
	export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:detect_leaks=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
	# clang links the sanitizer runtime statically into executables, so an
	# instrumented plugin (-d librte_net_vhu.so) cannot load into the
	# uninstrumented dpdk-testpmd unless the shared runtime is preloaded.
	# Tests put this in LD_PRELOAD of that one command only (preloaded
	# into bash or sed, LeakSanitizer would report their leaks).
	VHU_ASAN_PRELOAD=$(clang -print-file-name=libclang_rt.asan-x86_64.so)
	[ -f "$VHU_ASAN_PRELOAD" ] || VHU_ASAN_PRELOAD=
	export VHU_ASAN_PRELOAD
	run_suite asan build-asan clang 3 \
		--buildtype=debugoptimized --werror -Dtests=true \
		-Db_sanitize=address,undefined -Db_lundef=false
fi

# failed_report LOG : each test of a meson JSON log that did not pass or
# skip, with its result, duration and the last 60 lines of its output
failed_report() {
	if [ ! -r "$1" ]; then
		echo "test.sh: no test log $1 (meson stopped before writing it)"
		return
	fi
	python3 - "$1" <<'PY' || echo "test.sh: cannot read $1"
import json, sys
for line in open(sys.argv[1]):
    t = json.loads(line)
    if t["result"] in ("OK", "EXPECTEDFAIL", "SKIP"):
        continue
    print("--- %s: %s after %.0fs, last lines:" % (t["name"], t["result"], t["duration"]))
    out = t.get("stdout", "") + (t.get("stderr") or "")
    print("\n".join(out.splitlines()[-60:]))
PY
}
for log in "${failed_logs[@]}"; do
	banner "failed in $log"
	failed_report "$log"
done

banner "summary ($(elapsed "$t_start") in all, VHU_TEST_HUGE=$VHU_TEST_HUGE)"
for line in "${summary[@]}"; do
	echo "$line"
done
echo "$total_skip skipped"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
