#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The examples' message when their mbuf pool does not fit in memory
# (doc/guide/troubleshooting.md, "Hugepages and mbuf pools"): vhu-vswitch
# and vhu-loopback started with --no-huge -m 8, less than their pool
# needs, must exit non-zero with one line that gives the pool size, the
# free memory and the fix (-m). The hugepage variant of the message is
# not run here: it would need the machine's hugepages exhausted on
# purpose, which other users of the machine would feel.
#
# Usage: pool_hint.sh VSWITCH LOOPBACK
# Exit:  0 pass, 1 fail, 77 skip (binaries missing).
set -u

vswitch=${1:?usage: pool_hint.sh VSWITCH LOOPBACK}
loopback=${2:?usage: pool_hint.sh VSWITCH LOOPBACK}
[ -x "$vswitch" ] && [ -x "$loopback" ] || { echo "pool_hint: SKIP: no binaries"; exit 77; }
prefix=vhu-pool-$$
dir=$(mktemp -d)
trap 'rm -rf "$dir" /var/run/dpdk/"$prefix"' EXIT
failed=0

# check NAME WANT CMD... : CMD fails, and prints WANT (an ERE) on one line
check() {
	local name=$1 want=$2 out rc
	shift 2
	out=$(timeout 60 "$@" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] || [ $rc -eq 124 ]; then
		echo "pool_hint: FAIL: $name: exit status $rc, want a failure"
		failed=1
	elif ! grep -Eq -- "$want" <<<"$out"; then
		echo "pool_hint: FAIL: $name: no line matching '$want'; got:"
		grep -v "^EAL\|^TELEMETRY" <<<"$out" | head -n 5
		failed=1
	else
		echo "pool_hint: $name: $(grep -E -- "$want" <<<"$out")"
	fi
}

want='out of memory for the mbuf pool: [0-9]+ mbufs need at least [0-9]+ MiB, the DPDK heap has [0-9]+ MiB free \(--no-huge\); fix: give EAL more with -m MB'
check vhu-vswitch "^vswitch: $want" "$vswitch" -l 0,1 --no-huge -m 8 \
	--no-pci --file-prefix="$prefix" -- --socket "$dir/a.sock" \
	--socket "$dir/b.sock"
check vhu-loopback "^vhu-loopback: $want" "$loopback" -l 0 --no-huge -m 8 \
	--no-pci --file-prefix="$prefix" -- --socket "$dir/a.sock"
[ $failed -eq 0 ] && echo "pool_hint: PASSED"
exit $failed
