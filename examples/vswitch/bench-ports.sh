#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# vhu-vswitch with many ports, most of them idle: the figures of
# doc/guide/interrupt-mode.md. Frontends are vhu-ports (one process, many
# vhost-user connections, app/test/bench/ports.c), not QEMU or testpmd.
#
#   alone     2 ports, port 0 sends to port 1 as fast as the switch takes
#             it, BUSY seconds: Mpps received
#   among     PORTS ports (default 256): the same pair among PORTS-2 idle
#             ports, then the ratio among / alone (target >= 0.9)
#   idle cpu  the switch's CPU over IDLE-1 s with all PORTS ports idle,
#             from /proc/PID/stat (utime + stime), % of one CPU
#   wake      WAKE times: port 0 idle for 20 ms (its queue parked, past
#             --idle-us), then one frame; kick to arrival at port 1, us
#   coalesce  the alone case with port 1 in interrupt mode (--irq), the
#             switch without and with --coalesce-us COAL_US (default
#             100): guest interrupts per second against frames per second
#   setup     one device with 4 queue pairs: ms from connect to the last
#             acknowledged set-up message (every message asks REPLY_ACK),
#             against vhu-vswitch, dpdk-testpmd with net_vhu (-d plugin)
#             and with DPDK's net_vhost (queues=4), SETUPS times each
#
# Usage: bench-ports.sh [BUILD_DIR]   (default: build)
# Knobs: PORTS=256 BUSY=3 IDLE=4 WAKE=20 SETUPS=3 COAL_US=100
#        CPUS="0 1" (frontend's
#        CPU, switch worker's CPU) IDLE_US (the switch's --idle-us)
# The machine should be otherwise quiet; figures from a shared machine
# are lower bounds for throughput and upper bounds for latency and CPU.
set -euo pipefail

BUILD=$(realpath "${1:-build}")
PORTS=${PORTS:-256}
BUSY=${BUSY:-3}
IDLE=${IDLE:-4}
WAKE=${WAKE:-20}
SETUPS=${SETUPS:-3}
COAL_US=${COAL_US:-100}
read -r FCPU WCPU <<<"${CPUS:-0 1}"
SW=$BUILD/examples/vhu-vswitch
PEER=$BUILD/app/test/bench/vhu-ports
PLUGIN=$BUILD/drivers/net/vhost/librte_net_vhu.so
for b in "$SW" "$PEER"; do
	[ -x "$b" ] || { echo "bench-ports: no $b (build first)" >&2; exit 2; }
done
idle_arg=()
[ -n "${IDLE_US:-}" ] && idle_arg=(--idle-us "$IDLE_US")

run=$(mktemp -d "$BUILD/bench-ports.XXXXXX")
chmod 700 "$run"
pids=()
cleanup() {
	for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$run" /var/run/dpdk/vhu-bp-$$-*
}
trap cleanup EXIT
log() { printf '[bench-ports %(%T)T] %s\n' -1 "$*"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
field() { grep -o "$2=[0-9.]*" <<<"$1" | head -n 1 | cut -d= -f2; }

# start_switch N [extra args]: serves $run/pN..., pid in $sw
start_switch() {
	local n=$1 args=() i
	shift
	rm -f "$run"/p*
	for (( i = 0; i < n; i++ )); do args+=(--socket "$run/p$i"); done
	"$SW" --lcores="0@$FCPU,1@$WCPU" --no-huge -m 512 --no-pci \
		--file-prefix="vhu-bp-$$-sw" -- "${args[@]}" --quiet \
		"${idle_arg[@]}" "$@" > "$run/sw.log" 2>&1 &
	sw=$!
	pids+=("$sw")
	for (( i = 0; i < 300; i++ )); do
		[ -S "$run/p$((n - 1))" ] && return
		sleep 0.1
	done
	log "FAIL: the switch did not serve $n sockets"; tail "$run/sw.log"; exit 1
}

stop_switch() {
	kill -INT "$sw" 2>/dev/null || true
	wait "$sw" 2>/dev/null || true
}

peer() { taskset -c "$FCPU" "$PEER" --prefix "$run/p" "$@"; }

# ---- 1 busy pair alone
start_switch 2
out=$(peer --ports 2 --learn --busy "$BUSY")
stop_switch
alone=$(field "$(grep '^busy:' <<<"$out")" mpps)
log "alone: 2 ports, busy pair: $alone Mpps"

# ---- the same pair among PORTS - 2 idle ports; idle CPU; wake-up
start_switch "$PORTS"
peer --ports "$PORTS" --learn --idle "$IDLE" --wake "$WAKE" --gap 20 \
	--busy "$BUSY" > "$run/peer.log" 2>&1 &
fe=$!
pids+=("$fe")
for (( i = 0; i < 600; i++ )); do
	grep -q '^idle:' "$run/peer.log" && break
	kill -0 "$fe" 2>/dev/null || break
	sleep 0.1
done
grep -q '^idle:' "$run/peer.log" || { log "FAIL: frontends"; cat "$run/peer.log"; exit 1; }
sleep 1
t0=$(ticks "$sw")
sleep $(( IDLE - 2 ))
t1=$(ticks "$sw")
hz=$(getconf CLK_TCK)
cpu=$(awk -v d=$(( t1 - t0 )) -v hz="$hz" -v s=$(( IDLE - 2 )) \
	'BEGIN { printf "%.1f", 100 * d / hz / s }')
wait "$fe" || { log "FAIL: vhu-ports"; cat "$run/peer.log"; exit 1; }
stop_switch
setup=$(grep '^setup:' "$run/peer.log")
wake=$(grep '^wake:' "$run/peer.log")
among=$(field "$(grep '^busy:' "$run/peer.log")" mpps)
log "$PORTS ports connect: $setup"
log "idle: switch CPU with $PORTS idle ports: $cpu % of a CPU over $(( IDLE - 2 )) s"
log "$wake"
log "among: busy pair among $(( PORTS - 2 )) idle ports: $among Mpps"
log "ratio among/alone: $(awk -v a="$among" -v b="$alone" \
	'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }') (target >= 0.9)"
grep 'idle queues' "$run/sw.log" | sed 's/^ */[switch] /'

# ---- interrupt coalescing: guest interrupts against frames
for co in 0 "$COAL_US"; do
	start_switch 2 --coalesce-us "$co"
	out=$(peer --ports 2 --learn --busy "$BUSY" --irq | grep '^busy:')
	stop_switch
	log "coalesce-us $co: $(field "$out" mpps) Mpps, $(field "$out" calls_per_s) interrupts/s, $(field "$out" frames_per_call) frames per interrupt"
done

# ---- set-up time of a 4-queue-pair device
setup_ms() { # prints the median total_ms of SETUPS connects
	local i v=()
	for (( i = 0; i < SETUPS; i++ )); do
		v+=("$(field "$(peer --ports 1 --queues 4 | grep '^setup:')" total_ms)")
		sleep 0.3
	done
	printf '%s\n' "${v[@]}" | sort -n | awk '{ a[NR] = $1 }
		END { printf "%s (runs: %d)", a[int((NR + 1) / 2)], NR }'
}
start_switch 2 --queues 4
log "setup 4 qp, vhu-vswitch: $(setup_ms) ms"
stop_switch
if command -v dpdk-testpmd >/dev/null; then
	for drv in vhu vhost; do
		dflag=()
		[ "$drv" = vhu ] && dflag=(-d "$PLUGIN")
		rm -f "$run/p0"
		dpdk-testpmd --lcores="0@$WCPU,1@$WCPU" --no-huge -m 1024 --no-pci \
			--file-prefix="vhu-bp-$$-tp" "${dflag[@]}" \
			--vdev "net_${drv}0,iface=$run/p0,queues=4" -- \
			--nb-cores=1 --rxq=4 --txq=4 --no-mlockall \
			--stats-period 100 \
			> "$run/tp-$drv.log" 2>&1 &
		tp=$!
		pids+=("$tp")
		for (( i = 0; i < 200; i++ )); do
			[ -S "$run/p0" ] && break
			sleep 0.1
		done
		log "setup 4 qp, testpmd net_$drv: $(setup_ms) ms"
		kill -INT "$tp" 2>/dev/null || true
		wait "$tp" 2>/dev/null || true
	done
else
	log "no dpdk-testpmd: PMD set-up times skipped"
fi
