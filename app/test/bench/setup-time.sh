#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Connection set-up time of one 4-queue-pair device, net_vhu against DPDK's
# net_vhost, both in dpdk-testpmd, with DPDK's own frontend (dpdk-testpmd
# with net_virtio_user) on the other side: the comparison "it seemed slower
# once: 4.4 s vs 2.7 s" asks about.
#
# Each run starts the backend (server socket, queues=4, interactive, idle)
# and waits for its prompt; then the clock starts and the frontend
# process is launched. Three times are taken from the logs (polled every
# 5 ms):
#   be_up   the backend's testpmd prints "Port 0: link state change event"
#           (net_vhu: the device is ready; net_vhost: new_device)
#   fe_up   the frontend's prompt: its EAL, probe (the vhost-user
#           messages of the virtio_user probe) and port start done
#   fe_eal  the frontend's EAL has started (its first "EAL: " line that
#           is not a parse notice; the process's own start-up cost)
# The backends alternate (vhu, vhost, vhu, ...), RUNS runs each; the
# medians and the ratio vhu / vhost are printed.
#
# Usage: setup-time.sh [BUILD_DIR]   (default: build)
# Knobs: RUNS=5 QUEUES=4 CPUS="0 1" (backend's, frontend's CPU)
#        BE_LOG="--log-level=..." (extra backend EAL arguments, e.g.
#        --log-level=pmd.net.vhu:debug to see where the time goes; each
#        run's logs stay in the work dir with KEEP=1)
#        FE_MEM="--no-huge -m 512" (the frontend's memory: its EAL
#        arguments; "-m 512 --single-file-segments" for hugepages, one
#        file: the memory the backend maps)
# Needs dpdk-testpmd; the backend runs with --no-huge -m 512.
set -euo pipefail

BUILD=$(realpath "${1:-build}")
RUNS=${RUNS:-5}
FE_MEM=${FE_MEM:---no-huge -m 512}
QUEUES=${QUEUES:-4}
read -r BCPU FCPU <<<"${CPUS:-0 1}"
PLUGIN=$BUILD/drivers/net/vhost/librte_net_vhu.so
TESTPMD=$(command -v dpdk-testpmd || true)
[ -n "$TESTPMD" ] || { echo "setup-time: no dpdk-testpmd" >&2; exit 2; }
[ -f "$PLUGIN" ] || { echo "setup-time: no $PLUGIN (build first)" >&2; exit 2; }

run=$(mktemp -d "$BUILD/setup-time.XXXXXX")
chmod 700 "$run"
cleanup() {
	local p
	# (runs happen in subshells: their PIDs are kept in a file)
	while read -r p; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done <"$run/pids" 2>/dev/null || true
	# EAL leaves its hugepage files when a process is killed: ours go
	awk '$3 == "hugetlbfs" { print $2 }' /proc/mounts | while read -r d; do
		rm -f "$d"/vhu-st-$$-*
	done
	if [ "${KEEP:-0}" = 1 ]; then
		echo "setup-time: logs in $run"
	else
		rm -rf "$run"
	fi
	rm -rf /var/run/dpdk/vhu-st-$$-*
}
trap cleanup EXIT
# The processes' stdin: a FIFO this shell holds open and never writes to
# (interactive testpmd then waits for commands that never come).
mkfifo "$run/in"
# shellcheck disable=SC2034 # held, never used
exec {hold}<>"$run/in"
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# wait_for LOG REGEX SECS: 0 when a line matches (5 ms polling)
wait_for() {
	local end=$(( $(now_ms) + $3 * 1000 ))
	until grep -aEq -- "$2" "$1" 2>/dev/null; do
		[ "$(now_ms)" -lt "$end" ] || return 1
		sleep 0.005
	done
}

# start LOG CPU ARGS...: testpmd in the background, interactive, its two
# lcores (main, forwarding) on CPU, its stdin the silent FIFO; the PID in
# $pid
start() {
	local log=$1 cpu=$2
	shift 2
	stdbuf -oL "$TESTPMD" --lcores="0@$cpu,1@$cpu" "$@" >"$log" 2>&1 <"$run/in" &
	pid=$!
	echo "$pid" >>"$run/pids"
}

# stop PID: SIGTERM (testpmd quits on it), wait
stop() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# one BACKEND I: one run; prints "be_up fe_up fe_eal" in ms
one() {
	local be=$1 i=$2 sock=$run/$1-$2.sock blog=$run/$1-$2-be.log
	local flog=$run/$1-$2-fe.log bpid fpid t0 t_be="" t_fe="" t_eal=""
	local vdev plugin=()
	if [ "$be" = vhu ]; then
		plugin=(-d "$PLUGIN")
		vdev=net_vhu0,iface=$sock,queues=$QUEUES
	else
		vdev=net_vhost0,iface=$sock,queues=$QUEUES
	fi
	# shellcheck disable=SC2086 # BE_LOG: words
	start "$blog" "$BCPU" --no-pci --no-huge -m 512 \
		--file-prefix="vhu-st-$$-be$i$be" "${plugin[@]+"${plugin[@]}"}" \
		${BE_LOG:-} --vdev "$vdev" -- -i --rxq="$QUEUES" --txq="$QUEUES" --total-num-mbufs=16384
	bpid=$pid
	wait_for "$blog" 'testpmd> ' 30 ||
		{ echo "setup-time: $be backend did not start" >&2; tail "$blog" >&2; exit 1; }
	t0=$(now_ms)
	# shellcheck disable=SC2086 # FE_MEM: words
	start "$flog" "$FCPU" --no-pci $FE_MEM \
		--file-prefix="vhu-st-$$-fe$i$be" \
		--vdev "net_virtio_user0,path=$sock,queues=$QUEUES" -- \
		-i --rxq="$QUEUES" --txq="$QUEUES" --total-num-mbufs=16384
	fpid=$pid
	local end=$(( t0 + 30000 )) t
	while [ -z "$t_be" ] || [ -z "$t_fe" ] || [ -z "$t_eal" ]; do
		t=$(now_ms)
		[ "$t" -lt "$end" ] || break
		[ -n "$t_eal" ] || ! grep -aq '^EAL: Detected' "$flog" 2>/dev/null ||
			t_eal=$(( t - t0 ))
		[ -n "$t_be" ] || ! grep -aq 'Port 0: link state change event' "$blog" ||
			t_be=$(( t - t0 ))
		[ -n "$t_fe" ] || ! grep -aq 'testpmd> ' "$flog" 2>/dev/null ||
			t_fe=$(( t - t0 ))
		sleep 0.005
	done
	stop "$fpid"
	stop "$bpid"
	if [ -z "$t_be" ] || [ -z "$t_fe" ]; then
		echo "setup-time: $be run $i: no link up in 30 s" >&2
		tail -n 5 "$blog" "$flog" >&2
		exit 1
	fi
	echo "$t_be $t_fe ${t_eal:--}"
}

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A be_up=() fe_up=() fe_eal=()
for (( i = 1; i <= RUNS; i++ )); do
	for be in vhu vhost; do
		read -r a b c < <(one "$be" "$i") || true
		[ -n "${a:-}" ] || exit 1
		be_up[$be]="${be_up[$be]:-} $a"
		fe_up[$be]="${fe_up[$be]:-} $b"
		fe_eal[$be]="${fe_eal[$be]:-} $c"
		printf 'setup-time: run %d %-5s backend link up %5d ms, frontend ready %5d ms (its EAL at %s ms)\n' \
			"$i" "$be" "$a" "$b" "$c"
	done
done
for be in vhu vhost; do
	# shellcheck disable=SC2086 # lists of numbers
	printf 'setup-time: %-5s median of %d: backend link up %5d ms, frontend ready %5d ms\n' \
		"$be" "$RUNS" "$(median ${be_up[$be]})" "$(median ${fe_up[$be]})"
done
# shellcheck disable=SC2086
awk -v a="$(median ${be_up[vhu]})" -v b="$(median ${be_up[vhost]})" \
    -v c="$(median ${fe_up[vhu]})" -v d="$(median ${fe_up[vhost]})" \
    'BEGIN { printf "setup-time: ratio vhu / vhost: backend link up %.2f, frontend ready %.2f\n", b ? a / b : 0, d ? c / d : 0 }'
