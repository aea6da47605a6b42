#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# End-to-end echo test. For each case it starts a backend (vhu-loopback, or
# dpdk-testpmd in io forwarding with BACKEND=testpmd) on one CPU, then
# vhu-e2e-peer on the other CPU with DPDK's net_virtio_user as the guest
# side; the peer sends numbered, checksummed frames on every queue and
# passes only if each comes back verified, in order, exactly once. The
# backend must also survive the case and (vhu-loopback) exit cleanly on
# SIGTERM. This script owns the case matrix, process lifetimes and the
# private socket directory; everything it starts is stopped by PID on exit.
#
# Matrix: memory {no-huge, huge (only with VHU_TEST_HUGE=1)} x queue pairs
# {1, 4} x mrg_rxbuf {0, 1} x sizes {list of edge sizes, random 60-9000}
# on split rings, the random-size half again on packed rings (packed_vq=1)
# and with VIRTIO_F_IN_ORDER on both layouts (in_order=1),
# then a reconnect case (one backend, several peers in turn) and a client
# mode case (the backend connects, the peer listens); last, the reconnect
# sequence again with two worker lcores polling the queue pairs (device
# hand-over and retraction between threads), and an abort case: a peer is
# SIGKILLed mid-traffic, then a fresh peer must pass on the same backend.
#
# Usage: run.sh [--build DIR] [--loopback PATH] [--peer PATH] [--quick]
#               [--only PATTERN] [--list]
#   --build DIR      meson build dir (binaries and the work dir default there)
#   --loopback PATH  vhu-loopback binary
#   --peer PATH      vhu-e2e-peer binary
#   --quick          a tenth of the frames
#   --only PATTERN   run cases whose name matches the shell glob PATTERN
#   --list           print the case names and exit
# Environment:
#   BACKEND=vhu|testpmd  backend under test (default vhu)
#   VHU_TEST_HUGE=1      also run every case on hugepages
#   E2E_FRAMES           frames per case, all queues together (default 125000)
#   E2E_RATE             paced total frames per second (default 200000)
#   E2E_TIMEOUT          seconds one peer run may take (default 60)
#   E2E_BACKEND_CPU, E2E_PEER_CPU   CPUs to pin to (default 0 and 1)
#   E2E_KEEP=1           keep the work directory even when all passed
# Exit status: 0 all passed, 1 a case failed, 77 skipped (missing binaries).
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=""
loopback=""
peer=""
quick=0
only="*"
list=0
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift ;;
	--loopback) loopback=$2; shift ;;
	--peer) peer=$2; shift ;;
	--quick) quick=1 ;;
	--only) only=$2; shift ;;
	--list) list=1 ;;
	-h|--help) sed -n '3,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done

BACKEND=${BACKEND:-vhu}
FRAMES=${E2E_FRAMES:-125000}
RATE=${E2E_RATE:-200000}
TIMEOUT=${E2E_TIMEOUT:-60}
BCPU=${E2E_BACKEND_CPU:-0}
PCPU=${E2E_PEER_CPU:-1}
if [ "$(nproc)" -lt 2 ] && [ -z "${E2E_PEER_CPU:-}" ]; then
	PCPU=0
	echo "run.sh: one CPU only: backend and peer share it (slow)"
fi
[ "$quick" -eq 1 ] && FRAMES=$(( FRAMES / 10 ))
[ -n "$build" ] || build=$(cd "$here/../../.." && pwd)/build-e2e
if [ -z "$loopback" ]; then
	loopback=$build/examples/vhu-loopback
	[ -x "$loopback" ] || loopback=$build/examples/loopback/vhu-loopback
fi
[ -n "$peer" ] || peer=$build/app/test/e2e/vhu-e2e-peer

EDGE_SIZES=60,61,64,127,128,129,1514,1515,2035,2036,2037,2048,2049,4096,8999,9000
RANGE_SIZES=60-9000

mem_modes=(nohuge)
[ "${VHU_TEST_HUGE:-0}" = 1 ] && mem_modes+=(huge)

# Case names: MEM/qQ/mrgM/SIZES[/packed|/inorder|/packed-inorder], then
# MEM/reconnect and MEM/client.
cases=()
for mem in "${mem_modes[@]}"; do
	for q in 1 4; do
		for mrg in 0 1; do
			for sz in edge range; do
				cases+=("$mem/q$q/mrg$mrg/$sz")
			done
		done
	done
	# packed rings: the same echo checks over the random-size range
	for q in 1 4; do
		for mrg in 0 1; do
			cases+=("$mem/q$q/mrg$mrg/range/packed")
		done
	done
	# VIRTIO_F_IN_ORDER (virtio_user in_order=1), both ring layouts
	for q in 1 4; do
		for mrg in 0 1; do
			cases+=("$mem/q$q/mrg$mrg/range/inorder"
				"$mem/q$q/mrg$mrg/range/packed-inorder")
		done
	done
	cases+=("$mem/reconnect" "$mem/client")
done
cases+=(nohuge/workers nohuge/abort)
if [ "$list" -eq 1 ]; then
	printf '%s\n' "${cases[@]}"
	exit 0
fi

if [ "$BACKEND" = testpmd ]; then
	testpmd=$(command -v dpdk-testpmd) || {
		echo "run.sh: SKIP: BACKEND=testpmd but no dpdk-testpmd"; exit 77; }
elif [ "$BACKEND" != vhu ]; then
	echo "run.sh: BACKEND must be vhu or testpmd" >&2
	exit 2
elif [ ! -x "$loopback" ]; then
	echo "run.sh: SKIP: no $loopback"; exit 77
fi
[ -x "$peer" ] || { echo "run.sh: SKIP: no $peer"; exit 77; }

# A private directory: DPDK refuses plugin and socket paths under
# world-writable directories, and nobody else should reach our sockets.
mkdir -p "$build/e2e" || exit 1
work=$(mktemp -d "$build/e2e/run.XXXXXX") || exit 1
chmod 700 "$work"
tag="vhu-e2e-$$"
pids=()
failed=0

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		wait_pid "$p" 5 || kill -KILL "$p" 2>/dev/null
	done
	pids=()
	rm -rf /var/run/dpdk/"$tag"-* 2>/dev/null
	local m
	for m in $(awk '$3 == "hugetlbfs" { print $2 }' /proc/mounts); do
		rm -f "$m/$tag"-* 2>/dev/null
	done
	if [ "$failed" -eq 0 ] && [ "${E2E_KEEP:-0}" != 1 ]; then
		rm -rf "$work"
	else
		echo "run.sh: logs kept in $work"
	fi
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted"; failed=1; exit 1' INT TERM

# wait_pid PID SECONDS: wait for our child PID to exit; 0 if it did.
wait_pid() {
	local i
	for (( i = 0; i < $2 * 10; i++ )); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

forget_pid() {
	local p keep=()
	for p in "${pids[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	pids=("${keep[@]+"${keep[@]}"}")
}

# mem_args MEM WHO: EAL memory options. On hugepages the peer preallocates
# its memory, so the guest memory table is fixed before it connects; the
# backend's memory is private and may grow on demand.
mem_args() {
	if [ "$1" = nohuge ]; then
		echo "--no-huge -m 1024"
	elif [ "$2" = peer ]; then
		echo "-m 512"
	fi
}

# start_backend MEM SOCK LOG [--client]: sets backend_pid. With
# backend_workers=N the backend polls with N worker lcores (all on the
# backend CPU) instead of its main lcore alone.
backend_workers=0
start_backend() {
	local mem=$1 sock=$2 log=$3 client=${4:-}
	local prefix="$tag-be-$case_no" lcores="0@$BCPU" i
	for (( i = 1; i <= backend_workers; i++ )); do
		lcores="$lcores,$i@$BCPU"
	done
	if [ "$BACKEND" = testpmd ]; then
		local fifo="$work/testpmd-stdin.$case_no" cl="" fwd=1
		mkfifo "$fifo"
		[ -n "$client" ] && cl=",client=1"
		[ "$backend_workers" -gt 0 ] && fwd=$backend_workers
		# testpmd's main lcore only waits on stdin; it needs one more
		# lcore to forward.
		[ "$backend_workers" -eq 0 ] && lcores="$lcores,1@$BCPU"
		# testpmd exits at EOF on stdin; a FIFO opened read-write never
		# reaches it. Line-buffered so wait_ready sees its prompt.
		stdbuf -oL "$testpmd" --lcores="$lcores" \
			$(mem_args "$mem" backend) \
			--file-prefix="$prefix" --no-pci \
			--vdev "net_vhost0,iface=$sock,queues=4$cl" -- \
			--no-mlockall --total-num-mbufs=32768 \
			--forward-mode=io --auto-start --rxq=4 --txq=4 \
			--nb-cores="$fwd" >"$log" 2>&1 0<>"$fifo" &
	else
		"$loopback" --lcores="$lcores" $(mem_args "$mem" backend) \
			--file-prefix="$prefix" --no-pci -- \
			--socket "$sock" --queues 4 --stats 1 $client \
			>"$log" 2>&1 </dev/null &
	fi
	backend_pid=$!
	pids+=("$backend_pid")
}

# wait_socket PATH PID: until PATH is a socket, or PID died, or 15 s.
wait_socket() {
	local i
	for (( i = 0; i < 150; i++ )); do
		[ -S "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# wait_ready LOG PID: until the backend says it is serving, or PID died,
# or 15 s.
wait_ready() {
	local i re='^vhu-loopback: serving'
	[ "$BACKEND" = testpmd ] && re='^Press enter to exit'
	for (( i = 0; i < 150; i++ )); do
		grep -q "$re" "$1" 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# stop_backend: SIGTERM, then check it went away cleanly. Returns non-zero
# (with a reason in stop_reason) when it had died early or exited badly.
stop_backend() {
	local rc
	stop_reason=""
	if ! kill -0 "$backend_pid" 2>/dev/null; then
		wait "$backend_pid" 2>/dev/null
		rc=$?
		stop_reason="backend died during the case (exit $rc)"
		forget_pid "$backend_pid"
		return 1
	fi
	kill -TERM "$backend_pid"
	if ! wait_pid "$backend_pid" 10; then
		kill -KILL "$backend_pid" 2>/dev/null
		wait "$backend_pid" 2>/dev/null
		stop_reason="backend ignored SIGTERM for 10 s (killed)"
		forget_pid "$backend_pid"
		return 1
	fi
	wait "$backend_pid" 2>/dev/null
	rc=$?
	forget_pid "$backend_pid"
	# testpmd re-raises the signal after its own clean-up; vhu-loopback
	# must return 0.
	if [ "$BACKEND" = vhu ] && [ "$rc" -ne 0 ]; then
		stop_reason="backend exit status $rc after SIGTERM"
		return 1
	fi
	return 0
}

# run_peer MEM VDEV LOG PEER-ARGS...: runs the peer to completion; returns
# its exit status.
run_peer() {
	local mem=$1 vdev=$2 log=$3 rc
	shift 3
	timeout --kill-after=5 $(( TIMEOUT + 30 )) \
		"$peer" --lcores="0@$PCPU" $(mem_args "$mem" peer) \
		--single-file-segments --file-prefix="$tag-fe-$case_no" \
		--no-pci --vdev "$vdev" -- --timeout "$TIMEOUT" --rate "$RATE" \
		"$@" >>"$log" 2>&1 </dev/null &
	local p=$!
	pids+=("$p")
	wait "$p"
	rc=$?
	forget_pid "$p"
	return "$rc"
}

show_logs() {
	local f
	for f in "$@"; do
		echo "----- $(basename "$f") (last 25 lines)"
		tail -n 25 "$f" | grep -v '^EAL: \(Detected\|Selected\|Multi-process\)'
	done
	echo "-----"
}

peer_summary() {
	grep '^peer: [0-9]* queue' "$1" | tail -n 1 | sed 's/^peer: //'
}

# run_case NAME: echo matrix cases.
run_echo_case() {
	local name=$1 mem q mrg sz layout sizes packed=0 inorder=0
	IFS=/ read -r mem q mrg sz layout <<<"$name"
	case "$layout" in
	packed) packed=1 ;;
	inorder) inorder=1 ;;
	packed-inorder) packed=1 inorder=1 ;;
	esac
	q=${q#q}
	mrg=${mrg#mrg}
	if [ "$sz" = edge ]; then sizes=$EDGE_SIZES; else sizes=$RANGE_SIZES; fi
	local sock="$work/c$case_no.sock" blog="$work/c$case_no.backend.log"
	local plog="$work/c$case_no.peer.log"
	start_backend "$mem" "$sock" "$blog"
	if ! wait_socket "$sock" "$backend_pid" ||
	   ! wait_ready "$blog" "$backend_pid"; then
		stop_backend
		verdict "$name" 1 "backend did not start serving $sock" "$blog"
		return
	fi
	run_peer "$mem" "net_virtio_user0,path=$sock,queues=$q,mrg_rxbuf=$mrg,packed_vq=$packed,in_order=$inorder" \
		"$plog" --queues "$q" --frames $(( FRAMES / q )) --sizes "$sizes"
	local prc=$?
	local why="" feat
	[ "$prc" -eq 0 ] || why="peer exit status $prc"
	# virtio_user drops a feature the device does not offer silently:
	# an in-order case must have negotiated it (bit 35) to mean anything
	if [ "$inorder" = 1 ] && [ "$BACKEND" = vhu ] && [ -z "$why" ]; then
		feat=$(grep -o 'ready: features 0x[0-9a-f]*' "$blog" | head -n 1)
		feat=${feat##* }
		if [ -z "$feat" ] || (( (feat >> 35 & 1) == 0 )); then
			why="VIRTIO_F_IN_ORDER not negotiated (features ${feat:-unknown})"
		fi
	fi
	stop_backend || why="${why:+$why; }$stop_reason"
	verdict "$name" "${why:+1}" "${why:-$(peer_summary "$plog")}" \
		"$blog" "$plog"
}

# One backend, several peers in turn with different queue counts and
# mergeable settings: exercises destroy_device / new_device.
run_reconnect_case() {
	local name=$1 mem=${1%%/*} i why=""
	local sock="$work/c$case_no.sock" blog="$work/c$case_no.backend.log"
	local plog="$work/c$case_no.peer.log"
	start_backend "$mem" "$sock" "$blog"
	if ! wait_socket "$sock" "$backend_pid" ||
	   ! wait_ready "$blog" "$backend_pid"; then
		stop_backend
		verdict "$name" 1 "backend did not start serving $sock" "$blog"
		return
	fi
	local runs=("4 1" "1 0" "2 1" "4 0")
	for i in "${runs[@]}"; do
		local q=${i% *} mrg=${i#* }
		echo "=== peer run: queues $q mrg_rxbuf $mrg" >>"$plog"
		if ! run_peer "$mem" \
		   "net_virtio_user0,path=$sock,queues=$q,mrg_rxbuf=$mrg" \
		   "$plog" --queues "$q" --frames $(( FRAMES / 10 / q )) \
		   --sizes "$EDGE_SIZES"; then
			why="peer run (queues $q, mrg_rxbuf $mrg) failed"
			break
		fi
		if ! kill -0 "$backend_pid" 2>/dev/null; then
			break    # stop_backend reports it
		fi
	done
	stop_backend || why="${why:+$why; }$stop_reason"
	verdict "$name" "${why:+1}" "${why:-${#runs[@]} peers in turn}" \
		"$blog" "$plog"
}

# Two worker lcores; a peer killed mid-traffic (the backend sees the
# connection drop with frames in flight), then a clean run must pass.
run_abort_case() {
	local name=$1 mem=${1%%/*} why="" p i
	local sock="$work/c$case_no.sock" blog="$work/c$case_no.backend.log"
	local plog="$work/c$case_no.peer.log"
	start_backend "$mem" "$sock" "$blog"
	if ! wait_socket "$sock" "$backend_pid" ||
	   ! wait_ready "$blog" "$backend_pid"; then
		stop_backend
		verdict "$name" 1 "backend did not start serving $sock" "$blog"
		return
	fi
	echo "=== peer run to be killed" >>"$plog"
	"$peer" --lcores="0@$PCPU" $(mem_args "$mem" peer) \
		--single-file-segments --file-prefix="$tag-fe-$case_no-k" \
		--no-pci --vdev "net_virtio_user0,path=$sock,queues=4" -- \
		--queues 4 --frames 100000000 --rate "$RATE" \
		--sizes "$RANGE_SIZES" >>"$plog" 2>&1 </dev/null &
	p=$!
	pids+=("$p")
	# Kill once traffic flows (its port is up), at most 10 s from now.
	for (( i = 0; i < 100; i++ )); do
		grep -q '^peer: port .* up' "$plog" && break
		sleep 0.1
	done
	sleep 1
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	forget_pid "$p"
	rm -rf /var/run/dpdk/"$tag-fe-$case_no-k"
	echo "=== clean peer run" >>"$plog"
	run_peer "$mem" "net_virtio_user0,path=$sock,queues=4,mrg_rxbuf=1" \
		"$plog" --queues 4 --frames $(( FRAMES / 10 / 4 )) \
		--sizes "$EDGE_SIZES" || why="peer after the killed one failed"
	stop_backend || why="${why:+$why; }$stop_reason"
	verdict "$name" "${why:+1}" "${why:-$(peer_summary "$plog")}" \
		"$blog" "$plog"
}

# The backend is the client: the peer's virtio_user listens (server=1).
run_client_case() {
	local name=$1 mem=${1%%/*} why=""
	local sock="$work/c$case_no.sock" blog="$work/c$case_no.backend.log"
	local plog="$work/c$case_no.peer.log"
	start_backend "$mem" "$sock" "$blog" --client
	# Let the backend finish starting before the peer accepts it: testpmd's
	# net_vhost never forwards for a device that connected while its port
	# was still being configured (the echo cases wait for it too).
	if ! wait_ready "$blog" "$backend_pid"; then
		stop_backend
		verdict "$name" 1 "backend did not start" "$blog"
		return
	fi
	run_peer "$mem" \
		"net_virtio_user0,path=$sock,queues=2,mrg_rxbuf=1,server=1" \
		"$plog" --queues 2 --frames $(( FRAMES / 10 / 2 )) \
		--sizes "$RANGE_SIZES"
	local prc=$?
	[ "$prc" -eq 0 ] || why="peer exit status $prc"
	stop_backend || why="${why:+$why; }$stop_reason"
	verdict "$name" "${why:+1}" "${why:-$(peer_summary "$plog")}" \
		"$blog" "$plog"
}

n_pass=0
n_fail=0
# verdict NAME FAILED REASON LOGS...
verdict() {
	local name=$1 bad=$2 reason=$3 t
	shift 3
	t=$(( $(date +%s%N) / 1000000 - case_t0 ))
	t=$(printf '%d.%01d s' $(( t / 1000 )) $(( t % 1000 / 100 )))
	if [ -z "$bad" ]; then
		n_pass=$(( n_pass + 1 ))
		echo "PASS e2e $BACKEND $name ($t): $reason"
	else
		n_fail=$(( n_fail + 1 ))
		failed=1
		echo "FAIL e2e $BACKEND $name ($t): $reason"
		show_logs "$@"
	fi
}

echo "run.sh: backend $BACKEND, $FRAMES frames per case at $RATE pps," \
	"backend CPU $BCPU, peer CPU $PCPU, work dir $work"
t_start=$(date +%s)
case_no=0
for c in "${cases[@]}"; do
	# shellcheck disable=SC2053
	[[ $c == $only ]] || continue
	case_no=$(( case_no + 1 ))
	case_t0=$(( $(date +%s%N) / 1000000 ))
	case "$c" in
	*/reconnect) run_reconnect_case "$c" ;;
	*/workers)
		backend_workers=2
		run_reconnect_case "$c"
		backend_workers=0
		;;
	*/abort)
		backend_workers=2
		run_abort_case "$c"
		backend_workers=0
		;;
	*/client) run_client_case "$c" ;;
	*) run_echo_case "$c" ;;
	esac
done
echo "run.sh: $n_pass passed, $n_fail failed in $(( $(date +%s) - t_start )) s"
[ "$n_fail" -eq 0 ] && [ "$n_pass" -gt 0 ]
