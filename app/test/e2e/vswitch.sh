#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# vhu-vswitch between two net_virtio_user guests (dpdk-testpmd): guest A
# sends (txonly) into port 0, guest B receives (rxonly) on port 1. Checks
# that frames cross the switch, that the switch's counters add up (port 0
# rx = port 1 tx + port 1 drops: every frame was flooded to the one other
# port) and that port 0 never sends back to the sender. Then guest B goes
# away and comes back: the switch serves the new connection.
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

fail() { echo "FAIL vswitch: $*"; for f in "$run"/*.log; do echo "--- $f"; tail -15 "$f"; done; exit 1; }

"$vswitch" --lcores=0@1,1@0 --no-huge -m 512 --no-pci --file-prefix="vhu-vsw-$$-sw" \
	-- --socket "$run/p0" --socket "$run/p1" > "$run/sw.log" 2>&1 &
sw=$!
pids+=("$sw")
for _ in $(seq 100); do [ -S "$run/p1" ] && break; sleep 0.1; done
[ -S "$run/p1" ] || fail "no sockets"

guest() { # name sock mode seconds
	timeout -s INT "$4" dpdk-testpmd --lcores=0@1,1@1 --no-huge -m 512 \
		--single-file-segments --file-prefix="vhu-vsw-$$-$1" --no-pci \
		--vdev "net_virtio_user0,path=$2,queues=1,queue_size=1024" -- \
		--no-mlockall --total-num-mbufs=8192 --rxd=1024 --txd=1024 \
		--forward-mode="$3" --auto-start --stats-period 1 \
		< /dev/null > "$run/$1.log" 2>&1 || true
}
got() { awk '/Accumulated forward statistics/ { a = 1 } a && /RX-packets:/ { n = $2; a = 0 } END { print n + 0 }' "$1"; }

for round in 1 2; do
	guest "rx$round" "$run/p1" rxonly 9 &
	rxp=$!
	sleep 2
	guest "tx$round" "$run/p0" txonly 5
	wait $rxp
	n=$(got "$run/rx$round.log")
	[ "$n" -gt 1000 ] || fail "round $round: receiving guest got $n frames"
	echo "round $round: receiving guest got $n frames"
done

kill -INT "$sw"
for _ in $(seq 50); do kill -0 "$sw" 2>/dev/null || break; sleep 0.1; done
kill -0 "$sw" 2>/dev/null && fail "vswitch did not stop on SIGINT"
wait "$sw" || fail "vswitch exited non-zero"
line() { sed -n "s/.*port $1 .*: rx \([0-9]*\) frames, tx \([0-9]*\) frames, drops \([0-9]*\) .*/\1 \2 \3/p" "$run/sw.log"; }
read -r rx0 tx0 dr0 <<< "$(line 0)"
read -r rx1 tx1 dr1 <<< "$(line 1)"
[ -n "$rx0" ] && [ -n "$rx1" ] || fail "no summary"
echo "switch: port 0 rx $rx0 tx $tx0 drops $dr0; port 1 rx $rx1 tx $tx1 drops $dr1"
[ "$rx0" -gt 0 ] || fail "port 0 received nothing"
[ "$tx0" -eq 0 ] || fail "port 0 sent $tx0 frames back towards the sender"
[ "$rx0" -eq $((tx1 + dr1)) ] || fail "port 0 rx $rx0 != port 1 tx $tx1 + drops $dr1"
echo "PASS vswitch"
