#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The main job, for now: sets the machine up, builds vhu, and runs the
# loopback example (vhu-loopback, the vhost-user backend) against DPDK's
# testpmd with a net_virtio_user port (the frontend, standing in for a guest)
# sending packets for about ten seconds, printing both sides' output.
# Passes when the peer could keep sending, i.e. the backend kept taking
# packets off the ring; with nobody dequeuing it stalls at one ring's worth.
#
# Usage: devtools/run-demo.sh [--seconds N] [--no-huge]
#   --seconds N  how long the peer sends (default 10)
#   --no-huge    backend on anonymous memory even when hugepages are usable
#
# Logs of the last run stay in build/demo/. Sockets live in /run/vhu-demo-PID/
# (DPDK refuses plugin and socket paths under world-writable trees like /tmp).
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
backend_bin=
for f in "$build/examples/vhu-loopback" "$build/examples/loopback/vhu-loopback"; do
	if [ -x "$f" ]; then
		backend_bin=$f
		break
	fi
done
[ -n "$backend_bin" ] || { echo "run-demo.sh: vhu-loopback was not built" >&2; exit 1; }

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
sock="$run/vhu0.sock"
mkdir -p "$run" "$logs"
chmod 700 "$run"
backend_pid=
peer_pid=

# stop PID: SIGINT (both programs print final stats on it), then harder.
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
	stop "$peer_pid"
	stop "$backend_pid"
	rm -rf "$run" "/var/run/dpdk/vhu-demo-$$-be" "/var/run/dpdk/vhu-demo-$$-peer"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Prefixes each line and drops the terminal escapes testpmd clears the screen
# with; a copy goes to the log.
label() { tee "$logs/$1.log" | sed -u -e 's/\x1b\[[0-9;]*[A-Za-z]//g' -e "s/^/[$1] /"; }

# Backend on CPU 1; the peer's forwarding lcore on CPU 0 and its main lcore
# (which only prints stats) on CPU 1, so the two pollers do not share a core.
if [ "$use_huge" -eq 1 ]; then
	backend_mem=(-m 512 --in-memory)
	mode="hugepages"
else
	backend_mem=(--no-huge -m 512)
	mode="--no-huge"
fi
echo "run-demo: backend $backend_bin ($mode), socket $sock, ${seconds}s of traffic"
stdbuf -oL -eL "$backend_bin" --lcores=0@1 "${backend_mem[@]}" --no-pci \
	--file-prefix="vhu-demo-$$-be" -- --socket "$sock" --stats 2 \
	</dev/null > >(label backend) 2>&1 &
backend_pid=$!

for _ in $(seq 150); do
	[ -S "$sock" ] && break
	kill -0 "$backend_pid" 2>/dev/null || break
	sleep 0.1
done
if ! [ -S "$sock" ]; then
	echo "run-demo: FAILED: the backend did not create $sock" >&2
	exit 1
fi

# The peer: testpmd's default mbuf pool does not fit in --no-huge memory, so
# it is sized down; --stats-period keeps it running without a terminal.
stdbuf -oL -eL dpdk-testpmd --lcores=0@1,1@0 --no-huge -m 1024 \
	--single-file-segments --file-prefix="vhu-demo-$$-peer" --no-pci \
	--vdev "net_virtio_user0,path=$sock,queues=1" -- \
	--no-mlockall --total-num-mbufs=16384 --forward-mode=txonly \
	--auto-start --stats-period 2 \
	</dev/null > >(label peer) 2>&1 &
peer_pid=$!

sleep "$seconds"
backend_alive=1
kill -0 "$backend_pid" 2>/dev/null || backend_alive=0
stop "$peer_pid"
peer_pid=
stop "$backend_pid"
backend_pid=
sleep 0.5   # let the log copies drain

# testpmd's last "Accumulated forward statistics" block has the total.
sent=$(awk '/Accumulated forward statistics/ { acc = 1 }
	    acc && /TX-packets:/ { n = $2; acc = 0 } END { print n + 0 }' "$logs/peer.log")
echo
echo "run-demo: the peer sent $sent packets in ${seconds}s (logs in $logs/)"
if [ "$backend_alive" -eq 0 ]; then
	echo "run-demo: FAILED: the backend exited before the end" >&2
	exit 1
fi
# One ring's worth (256) goes out even when nobody takes packets off it.
if [ "$sent" -le 1024 ]; then
	echo "run-demo: FAILED: the backend did not take packets off the ring" >&2
	exit 1
fi
echo "run-demo: OK"
