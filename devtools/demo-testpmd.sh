#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The main job with stand-in guests (devtools/run-demo.sh --testpmd runs
# this): sets the machine up, builds vhu, and runs the vswitch example
# (build/examples/vhu-vswitch, an L2 learning switch over two vhost-user
# ports) with two DPDK testpmd processes with a net_virtio_user port each as
# guests, one sending (txonly) on port 0, one receiving (rxonly) on port 1.
# The screen shows the switch's live view and summary; testpmd's and EAL's
# output goes to log files. Passes when frames crossed the switch from one
# guest to the other. For real Linux guests under QEMU, run-demo.sh without
# --testpmd.
#
# Usage: devtools/demo-testpmd.sh [--seconds N] [--no-huge]
#   --seconds N  how long the sending guest sends (default 10)
#   --no-huge    switch on anonymous memory even when hugepages are usable
#
# Logs of the last run stay in build/demo/. Sockets live in /run/vhu-demo-PID/
# (DPDK refuses plugin and socket paths under world-writable trees like /tmp).
# On a 2-core machine the switch polls on CPU 0 and both guests share CPU 1,
# so the receiving guest gets half a core: drops at the switch's port 1
# (guest receive ring full) are expected there and reported with their
# cause, not hidden.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

seconds=10
use_huge=auto
while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) seconds=${2:?--seconds needs a number}; shift ;;
	--no-huge) use_huge=0 ;;
	-h|--help) sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "run-demo.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done

devtools/setup.sh

# Same configuration as devtools/test.sh's first build, so the two share it.
build=build
if [ -f "$build/meson-private/coredata.dat" ]; then
	meson setup --reconfigure "$build" --buildtype=release --werror >/dev/null
else
	rm -rf "$build"
	CC=gcc meson setup "$build" --buildtype=release --werror >/dev/null
fi
meson compile -C "$build" >/dev/null || {
	echo "run-demo.sh: build failed; run 'meson compile -C $build' to see why" >&2
	exit 1
}
switch_bin=$build/examples/vhu-vswitch
[ -x "$switch_bin" ] || { echo "run-demo.sh: vhu-vswitch was not built" >&2; exit 1; }

if [ "$use_huge" = auto ]; then
	use_huge=0
	free_pages=$(awk '$1 == "HugePages_Free:" { print $2 }' /proc/meminfo)
	if [ "${free_pages:-0}" -ge 512 ] &&
	   awk '$3 == "hugetlbfs" { f = 1 } END { exit !f }' /proc/mounts; then
		use_huge=1
	fi
fi

run=/run/vhu-demo-$$
logs="$build/demo"
mkdir -p "$run" "$logs"
chmod 700 "$run"
switch_pid=
rx_pid=
tx_pid=

# stop PID: SIGINT (all three print final stats on it), then harder.
stop() {
	local pid=$1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill -INT "$pid" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -TERM "$pid" 2>/dev/null || true
	sleep 1
	kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
	stop "$tx_pid"
	stop "$rx_pid"
	stop "$switch_pid"
	rm -rf "$run" /var/run/dpdk/vhu-demo-$$-*
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The whole output to the log; on screen only the switch's own lines (its
# live view, events and summary), not EAL's or the library's.
to_log() { sed -u -e 's/\x1b\[[0-9;]*[A-Za-z]//g' >"$logs/$1.log"; }
live() { tee "$logs/$1.log" | grep --line-buffered -aE '^(vswitch:| )' || true; }

if [ "$use_huge" -eq 1 ]; then
	switch_mem=(-m 512 --in-memory)
	mode="hugepages"
else
	switch_mem=(--no-huge -m 512)
	mode="--no-huge"
fi
echo "run-demo: vhu-vswitch ($mode) with ports $run/p0.sock (sending guest) and $run/p1.sock (receiving guest), ${seconds}s of traffic"
# main lcore (stats, mostly asleep) on CPU 1, the polling lcore on CPU 0
stdbuf -oL -eL "$switch_bin" --lcores=0@1,1@0 "${switch_mem[@]}" --no-pci \
	--file-prefix="vhu-demo-$$-sw" -- \
	--socket "$run/p0.sock" --socket "$run/p1.sock" \
	</dev/null > >(live vswitch) 2>&1 &
switch_pid=$!

for _ in $(seq 150); do
	[ -S "$run/p1.sock" ] && break
	kill -0 "$switch_pid" 2>/dev/null || break
	sleep 0.1
done
if ! [ -S "$run/p1.sock" ]; then
	echo "run-demo: FAILED: vhu-vswitch did not create its sockets" >&2
	exit 1
fi

# A guest: testpmd with one net_virtio_user port. Its default mbuf pool does
# not fit in --no-huge memory, so it is sized down; --stats-period keeps it
# running without a terminal. $1 name, $2 socket, $3 forward mode, $4 nice.
guest() {
	nice -n "${4:-0}" stdbuf -oL -eL dpdk-testpmd --lcores=0@1,1@1 --no-huge -m 1024 \
		--single-file-segments --file-prefix="vhu-demo-$$-$1" --no-pci \
		--vdev "net_virtio_user0,path=$2,queues=1,queue_size=1024" -- \
		--no-mlockall --total-num-mbufs=16384 --rxd=1024 --txd=1024 \
		--forward-mode="$3" --auto-start --stats-period 2 \
		</dev/null > >(to_log "$1") 2>&1 &
}
guest rx-guest "$run/p1.sock" rxonly
rx_pid=$!
sleep 2
guest tx-guest "$run/p0.sock" txonly
tx_pid=$!

sleep "$seconds"
switch_alive=1
kill -0 "$switch_pid" 2>/dev/null || switch_alive=0
stop "$tx_pid"
tx_pid=
sleep 0.5
stop "$rx_pid"
rx_pid=
stop "$switch_pid"
switch_pid=
sleep 0.5   # let the log copies drain

# testpmd's last "Accumulated forward statistics" block has the totals.
acc() { awk -v k="$2" '/Accumulated forward statistics/ { acc = 1 }
	acc && $0 ~ k { for (i = 1; i < NF; i++) if ($i == k) n = $(i + 1); acc = 0 }
	END { print n + 0 }' "$logs/$1.log"; }
sent=$(acc tx-guest TX-packets:)
received=$(acc rx-guest RX-packets:)
echo "run-demo: the sending guest sent $sent frames, the receiving guest got $received (logs in $logs/)"
if [ "$switch_alive" -eq 0 ]; then
	echo "run-demo: FAILED: vhu-vswitch exited before the end" >&2
	exit 1
fi
if [ "$received" -le 1024 ]; then
	echo "run-demo: FAILED: frames did not cross the switch" >&2
	exit 1
fi
echo "run-demo: OK"
