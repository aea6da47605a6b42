#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# vhu-vswitch between net_virtio_user guests (dpdk-testpmd): guest A sends
# (txonly) into port 0, guest B receives (rxonly) on port 1. Two cases:
#
#  1qp  one queue pair per guest, one worker lcore, two rounds: guest B
#       goes away and comes back, and the switch serves the new connection.
#  2qp  two queue pairs per guest (queues=2, --rxq=2 --txq=2), two worker
#       lcores: guest A sends many flows (--txonly-multi-flow); frames must
#       cross on both queue pairs, both in the switch's per-queue counters
#       and in guest B's per-queue stats (the switch spreads flows by
#       hash). Then guest A sends one flow from both its queues: guest B
#       must get it on one queue only (a flow stays on one queue). Then a
#       guest with A's MAC sends on port 1: the switch logs the move once.
#
# In both, the switch's counters must add up: every frame port 0 received
# was flooded to the one other port, so port 0 rx = port 1 tx + port 1
# drops (and the other way round), nothing was filtered, and port 0 never
# sent anything back to the sender.
#
# Usage: vswitch.sh --vswitch BIN [--build DIR]
set -euo pipefail

vswitch=
build=$(pwd)
while [ $# -gt 0 ]; do
	case "$1" in
	--vswitch) vswitch=$2; shift ;;
	--build) build=$2; shift ;;
	*) echo "vswitch.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$vswitch" ] || { echo "vswitch.sh: --vswitch BIN required" >&2; exit 2; }

run=$(mktemp -d "$build/vswitch-test.XXXXXX")
chmod 700 "$run"
pids=()
cleanup() {
	for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$run" /var/run/dpdk/vhu-vsw-$$-*
}
trap cleanup EXIT

fail() { echo "FAIL vswitch ($case): $*"; for f in "$run"/*.log; do echo "--- $f"; tail -25 "$f"; done; exit 1; }

MAC_A=52:54:00:12:34:56

# start_switch LCORES: serves $run/p0 and $run/p1, log in $run/sw-$case.log
start_switch() {
	rm -f "$run/p0" "$run/p1"
	"$vswitch" --lcores="$1" --no-huge -m 512 --no-pci \
		--file-prefix="vhu-vsw-$$-sw" -- --socket "$run/p0" \
		--socket "$run/p1" --quiet > "$run/sw-$case.log" 2>&1 &
	sw=$!
	pids+=("$sw")
	for _ in $(seq 100); do [ -S "$run/p1" ] && return; sleep 0.1; done
	fail "no sockets"
}

stop_switch() {
	kill -INT "$sw"
	for _ in $(seq 50); do kill -0 "$sw" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$sw" 2>/dev/null && fail "vswitch did not stop on SIGINT"
	wait "$sw" || fail "vswitch exited non-zero"
}

# guest NAME SOCKET MODE SECONDS QUEUES [MAC]; $GUEST_ARGS: more testpmd args
guest() {
	local mac=${6:+,mac=$6}
	# shellcheck disable=SC2086
	timeout -s INT -k 5 "$4" dpdk-testpmd --lcores=0@1,1@1 --no-huge -m 512 \
		--single-file-segments --file-prefix="vhu-vsw-$$-$1" --no-pci \
		--vdev "net_virtio_user0,path=$2,queues=$5,queue_size=1024$mac" -- \
		--no-mlockall --total-num-mbufs=8192 --rxd=1024 --txd=1024 \
		--rxq="$5" --txq="$5" --forward-mode="$3" --auto-start \
		--stats-period 1 ${GUEST_ARGS:-} < /dev/null > "$run/$1.log" 2>&1 || true
}
# frames guest B got in all
got() { awk '/Accumulated forward statistics/ { a = 1 } a && /RX-packets:/ { n = $2; a = 0 } END { print n + 0 }' "$1"; }
# frames guest B got on one receive queue (testpmd's per-stream stats)
got_queue() { awk -v q="$2" '$0 ~ "Forward Stats for RX Port= *0/Queue= *" q " " { a = 1; next }
	a && /RX-packets:/ { n = $2; a = 0 } END { print n + 0 }' "$1"; }

# one round: B receives for 9 s, A sends for 5 s of them
round() { # NAME QUEUES
	guest "rx-$1" "$run/p1" rxonly 9 "$2" &
	local rxp=$!
	sleep 2
	guest "tx-$1" "$run/p0" txonly 5 "$2" "$MAC_A"
	wait $rxp
	n=$(got "$run/rx-$1.log")
	[ "$n" -gt 1000 ] || fail "$1: receiving guest got $n frames"
	echo "$case $1: receiving guest got $n frames"
}

# The switch's summary: "port P NAME: rx R frames, tx T frames, drops D
# (ring full F, no guest/queue N), filtered X", then "qp Q: rx R, tx T".
port_line() { # PORT -> "rx tx drops filtered"
	sed -n "s/^  port $1 [^:]*: rx \([0-9]*\) frames, tx \([0-9]*\) frames, drops \([0-9]*\) (.*), filtered \([0-9]*\)$/\1 \2 \3 \4/p" "$run/sw-$case.log"
}
qp_count() { # PORT QP rx|tx
	awk -v p="$1" -v q="$2" -v f="$3" '
		/^  port / { cur = $2 }
		cur == p && $1 == "qp" && $2 == q ":" { gsub(",", ""); n = (f == "rx") ? $4 : $6 }
		END { print n + 0 }' "$run/sw-$case.log"
}

check_counters() {
	local rx0 tx0 dr0 fl0 rx1 tx1 dr1 fl1
	read -r rx0 tx0 dr0 fl0 <<< "$(port_line 0)"
	read -r rx1 tx1 dr1 fl1 <<< "$(port_line 1)"
	[ -n "$rx0" ] && [ -n "$rx1" ] || fail "no summary"
	echo "$case switch: port 0 rx $rx0 tx $tx0 drops $dr0 filtered $fl0;" \
	     "port 1 rx $rx1 tx $tx1 drops $dr1 filtered $fl1"
	[ "$rx0" -gt 0 ] || fail "port 0 received nothing"
	[ "$tx0" -eq 0 ] || fail "port 0 sent $tx0 frames back towards the sender"
	[ "$fl0" -eq 0 ] && [ "$fl1" -eq 0 ] || fail "frames filtered"
	[ "$rx0" -eq $((tx1 + dr1)) ] || fail "port 0 rx $rx0 != port 1 tx $tx1 + drops $dr1"
	[ "$rx1" -eq $((tx0 + dr0)) ] || fail "port 1 rx $rx1 != port 0 tx $tx0 + drops $dr0"
}

# ---- 1qp: one worker, one queue pair, guest B reconnects ----
case=1qp
start_switch 0@1,1@0
round 1 1
round 2 1
stop_switch
check_counters

# ---- 2qp: two workers, two queue pairs, then a MAC move ----
case=2qp
start_switch 0@1,1@0,2@1
GUEST_ARGS=--txonly-multi-flow round 1 2
for q in 0 1; do
	g=$(got_queue "$run/rx-1.log" $q)
	echo "$case: receiving guest got $g frames on queue $q"
	[ "$g" -gt 1000 ] || fail "receiving guest got $g frames on queue $q"
done
# one flow (testpmd's txonly default), sent on both of A's queues
round 2 2
g0=$(got_queue "$run/rx-2.log" 0)
g1=$(got_queue "$run/rx-2.log" 1)
echo "$case: one flow: receiving guest got $g0 frames on queue 0, $g1 on queue 1"
[ "$g0" -eq 0 ] || [ "$g1" -eq 0 ] || fail "one flow reached both guest queues ($g0, $g1)"
guest mover "$run/p1" txonly 3 2 "$MAC_A"
stop_switch
for q in 0 1; do
	r=$(qp_count 0 $q rx)
	t=$(qp_count 1 $q tx)
	echo "$case switch: queue pair $q: port 0 rx $r, port 1 tx $t"
	[ "$r" -gt 1000 ] || fail "port 0 received $r frames on queue pair $q"
	[ "$t" -gt 1000 ] || fail "port 1 sent $t frames on queue pair $q"
done
moved=$(grep -ci "vswitch: $MAC_A: moved port 0 -> port 1" "$run/sw-$case.log" || true)
echo "$case switch: $moved line(s) 'moved port 0 -> port 1' for $MAC_A"
[ "$moved" -eq 1 ] || fail "expected one move line for $MAC_A, got $moved"
check_counters
echo "PASS vswitch"
