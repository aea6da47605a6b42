#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# examples/gpa-peek against a net_virtio_user guest (dpdk-testpmd in
# txonly): the example reads each frame the guest posts in place through
# the guest-address window, counts it per flow, then dequeues it. Three
# runs: one flow (testpmd's txonly default: UDP 198.18.0.1:9 ->
# 198.18.0.2:9, 64 bytes), many flows (--txonly-multi-flow), and a packed
# ring (packed_vq=1), which the example hands on uninspected; the first
# with virtio_user's default IN_ORDER, the others without. In each:
# the frames inspected (or, packed, not inspected) equal the frames
# handed on (give or take a burst), which equal the frames the guest sent
# (give or take a ring left when it stopped); the flow lines add up to
# the total, every frame 64 bytes; the example exits 0 on SIGINT.
#
# Usage: gpa_peek.sh --peek BIN [--build DIR]
set -euo pipefail

peek=
build=$(pwd)
while [ $# -gt 0 ]; do
	case "$1" in
	--peek) peek=$2; shift ;;
	--build) build=$2; shift ;;
	*) echo "gpa_peek.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$peek" ] || { echo "gpa_peek.sh: --peek BIN required" >&2; exit 2; }

run=$(mktemp -d "$build/gpa-peek-test.XXXXXX")
chmod 700 "$run"
pids=()
cleanup() {
	for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$run" /var/run/dpdk/vhu-peek-$$-*
}
trap cleanup EXIT

fail() { echo "FAIL gpa-peek ($case): $*"; for f in "$run"/*.log; do echo "--- $f"; tail -20 "$f"; done; exit 1; }

GUEST_SEC=6 # how long each guest sends

one_case() { # CASE DEVARGS GUEST_ARGS
	case=$1
	rm -f "$run/s"
	"$peek" --lcores=0@0 --no-huge -m 256 --no-pci \
		--file-prefix="vhu-peek-$$-b" -- --socket "$run/s" \
		> "$run/peek-$case.log" 2>&1 &
	local pk=$!
	pids+=("$pk")
	for _ in $(seq 100); do [ -S "$run/s" ] && break; sleep 0.1; done
	[ -S "$run/s" ] || fail "no socket"
	# The guest sends until timeout's SIGINT: --stats-period keeps a
	# non-interactive testpmd running; without it testpmd waits for a
	# key on stdin, reads EOF from /dev/null at once and stops after a
	# few bursts (a burst only, on a busy machine, and it then closes
	# the vrings on frames the example has inspected but not taken).
	local t0 t1
	t0=$(date +%s)
	# shellcheck disable=SC2086
	timeout -s INT -k 5 "$GUEST_SEC" dpdk-testpmd --lcores=0@1,1@1 \
		--no-huge -m 256 --single-file-segments \
		--file-prefix="vhu-peek-$$-g" --no-pci \
		--vdev "net_virtio_user0,path=$run/s$2" -- --no-mlockall \
		--total-num-mbufs=8192 --forward-mode=txonly --auto-start \
		--stats-period 1 --txpkts=64 $3 \
		< /dev/null > "$run/guest-$case.log" 2>&1 || true
	t1=$(date +%s)
	# the guest ran until the timeout, not until its own early exit
	[ "$((t1 - t0))" -ge "$((GUEST_SEC - 1))" ] ||
		fail "the guest ran $((t1 - t0)) s, not $GUEST_SEC: it quit by itself"
	# the guest's total, from testpmd's summary at exit
	sent=$(awk '/Accumulated forward statistics/ { a = 1 } a && /TX-packets:/ { n = $2; a = 0 } END { printf "%.0f\n", n }' "$run/guest-$case.log")
	sleep 1 # the example takes what the guest left in its ring
	kill -INT "$pk"
	for _ in $(seq 50); do kill -0 "$pk" 2>/dev/null || break; sleep 0.1; done
	wait "$pk" || fail "the example exited non-zero"
	total=$(grep "^gpa-peek: inspected" "$run/peek-$case.log" | tail -n 1)
	[ -n "$total" ] || fail "no total line"
	ins=$(sed -n 's/^gpa-peek: inspected \([0-9]*\) frames.*/\1/p' <<<"$total")
	bytes=$(sed -n 's/^gpa-peek: inspected [0-9]* frames \([0-9]*\) bytes.*/\1/p' <<<"$total")
	nins=$(sed -n 's/.*not inspected \([0-9]*\),.*/\1/p' <<<"$total")
	handed=$(sed -n 's/.*handed on \([0-9]*\).*/\1/p' <<<"$total")
	echo "$case: guest sent $sent; $total"
	[ -n "$ins" ] && [ -n "$bytes" ] && [ -n "$nins" ] && [ -n "$handed" ] ||
		fail "cannot read the total line"
	# a busy machine may give the guest one burst only: equality is the test
	[ "$sent" -ge 32 ] || fail "the guest sent only $sent frames"
	# frames still in the ring when the guest stopped are neither handed
	# on nor lost (on an idle machine none are): at most a ring of them;
	# inspected ones not yet taken: at most a burst (PEEK_MAX)
	[ "$handed" -gt 0 ] && [ "$handed" -le "$sent" ] &&
		[ "$sent" -le "$((handed + 256))" ] ||
		fail "handed on $handed, the guest sent $sent"
	[ "$((ins + nins))" -ge "$handed" ] &&
		[ "$((ins + nins))" -le "$((handed + 32))" ] ||
		fail "inspected $ins + not inspected $nins, handed on $handed"
	flows=$(grep -c "^gpa-peek: flow " "$run/peek-$case.log" || true)
	fsum=$(awk '/^gpa-peek: flow / { n += $(NF - 2) } END { printf "%.0f\n", n }' "$run/peek-$case.log")
	bsum=$(awk '/^gpa-peek: flow / { n += $NF } END { printf "%.0f\n", n }' "$run/peek-$case.log")
	if [ "$case" = packed ]; then
		[ "$nins" -eq "$handed" ] && [ "$ins" -eq 0 ] ||
			fail "packed: $ins inspected, $nins not, want 0 and $handed"
		return
	fi
	[ "$nins" -eq 0 ] || fail "$nins frames not inspected"
	[ "$fsum" -eq "$ins" ] || fail "flows add up to $fsum frames, inspected $ins"
	[ "$bsum" -eq "$((64 * ins))" ] || fail "flows add up to $bsum bytes, want 64 x $ins"
	[ "$bytes" -eq "$bsum" ] || fail "total $bytes bytes, flows $bsum"
	echo "$case: $flows flow(s), $fsum frames, $bsum bytes"
	if [ "$case" = one-flow ]; then
		[ "$flows" -eq 1 ] || fail "$flows flows, want 1"
		grep -q "^gpa-peek: flow udp 198.18.0.1:9 -> 198.18.0.2:9 frames $ins bytes" \
			"$run/peek-$case.log" || fail "not testpmd's txonly flow"
	else
		[ "$flows" -gt 1 ] || fail "$flows flow, want several"
	fi
}

one_case one-flow "" ""
one_case multi-flow ",in_order=0" "--txonly-multi-flow"
one_case packed ",packed_vq=1,in_order=0" ""
echo "gpa-peek: PASSED"
