#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# vhu-pump against dpdk-testpmd in io forwarding (every frame the pump
# sends comes back on its receive ring): with the net_vhu plugin on split
# and packed rings, then with DPDK's own net_vhost once, to show the pump
# works with any backend. Each case runs the pump for VHU_PUMP_SECONDS
# (default 2) and asserts frames flowed both ways with zero verification
# errors (the pump's exit status and its result line). The pump's line
# and testpmd's forwarding cycles/packet (--record-core-cycles) are
# logged: figures on a shared machine, not checked.
#
# Usage: pump.sh VHU-PUMP PLUGIN.so WORKDIR
# Env:   VHU_PUMP_SECONDS=S, VHU_PUMP_CASES="vhu:split vhu:packed vhost:split"
#        VHU_PUMP_CPUS="PUMP_CPU BACKEND_CPU" (default "0 1"),
#        VHU_PUMP_QUEUES=N (queue pairs, default 1),
#        VHU_PUMP_ARGS="..." (more vhu-pump options, e.g. --mrg 1)
# Exit:  0 pass, 1 fail, 77 skip (no dpdk-testpmd, or an ASan plugin whose
#        runtime cannot be preloaded). Stops only processes it started.
set -uo pipefail

PUMP=${1:?usage: pump.sh VHU-PUMP PLUGIN.so WORKDIR}
PLUGIN=$(realpath "${2:?usage: pump.sh VHU-PUMP PLUGIN.so WORKDIR}")
WORK=${3:?usage: pump.sh VHU-PUMP PLUGIN.so WORKDIR}
SECONDS_EACH=${VHU_PUMP_SECONDS:-2}
CASES=${VHU_PUMP_CASES:-vhu:split vhu:packed vhost:split}
QUEUES=${VHU_PUMP_QUEUES:-1}
read -r PCPU BCPU <<<"${VHU_PUMP_CPUS:-0 1}"

log() { printf '[pump %(%T)T] %s\n' -1 "$*"; }
FAILED=0
fail() { log "FAIL: $*"; FAILED=1; }

command -v dpdk-testpmd >/dev/null || { log "SKIP: no dpdk-testpmd"; exit 77; }

# An instrumented plugin needs the sanitizer runtime preloaded into the
# uninstrumented testpmd (as in app/test/pmd/test_pmd.sh).
PRELOAD=
if nm -D --undefined-only "$PLUGIN" 2>/dev/null | grep '^ *U __asan_' >/dev/null; then
	PRELOAD=${VHU_ASAN_PRELOAD:-}
	[ -n "$PRELOAD" ] || for rt in libclang_rt.asan-x86_64.so libasan.so; do
		for cc in clang gcc; do
			p=$($cc -print-file-name=$rt 2>/dev/null) || continue
			[ -f "$p" ] && { PRELOAD=$p; break 2; }
		done
	done
	[ -n "$PRELOAD" ] || { log "SKIP: ASan plugin, no shared ASan runtime"; exit 77; }
	export ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0
fi

# A private directory: DPDK refuses -d plugins and sockets under
# world-writable ones.
mkdir -p "$WORK"
WORK=$(realpath "$WORK")
chmod 700 "$WORK"
TP_PID=
cleanup() {
	if [ -n "$TP_PID" ] && kill -0 "$TP_PID" 2>/dev/null; then
		kill "$TP_PID" 2>/dev/null
		wait "$TP_PID" 2>/dev/null
	fi
}
trap cleanup EXIT

# run_case DRIVER LAYOUT
run_case() {
	local drv=$1 layout=$2 name="$1:$2" sock=$WORK/pump-$1-$2.sock
	local tlog=$WORK/testpmd-$1-$2.log plog=$WORK/pump-$1-$2.log
	local fifo=$WORK/testpmd-$1-$2.in vdev i rc line cpp
	local dflag=()

	rm -f "$sock" "$fifo"
	mkfifo "$fifo"
	: >"$tlog"
	if [ "$drv" = vhu ]; then
		dflag=(-d "$PLUGIN")
		vdev="net_vhu0,iface=$sock,queues=$QUEUES"
	else
		vdev="net_vhost0,iface=$sock,queues=$QUEUES"
	fi
	exec {tfd}<>"$fifo"
	LD_PRELOAD=$PRELOAD stdbuf -oL dpdk-testpmd \
		--lcores="0@$BCPU,1@$BCPU" --no-huge -m 1024 --no-pci \
		--file-prefix="vhu-pump-$$" "${dflag[@]}" --vdev "$vdev" -- -i \
		--nb-cores=1 --rxq="$QUEUES" --txq="$QUEUES" --forward-mode=io \
		--no-flush-rx --no-mlockall \
		--record-core-cycles <"$fifo" >"$tlog" 2>&1 &
	TP_PID=$!
	printf 'start\n' >&"$tfd"
	for (( i = 0; i < 200; i++ )); do
		grep -aq 'forwards packets on' "$tlog" && [ -S "$sock" ] && break
		kill -0 "$TP_PID" 2>/dev/null || break
		sleep 0.1
	done
	if ! [ -S "$sock" ]; then
		fail "$name: testpmd did not serve $sock (log $tlog)"
		kill "$TP_PID" 2>/dev/null; wait "$TP_PID" 2>/dev/null; TP_PID=
		exec {tfd}>&-
		return
	fi
	"$PUMP" --socket "$sock" --layout "$layout" --queues "$QUEUES" \
		--size 64 --ring 256 --cpu "$PCPU" --seconds "$SECONDS_EACH" ${VHU_PUMP_ARGS:-} >"$plog" 2>&1
	rc=$?
	line=$(grep -a '^pump:' "$plog")
	printf 'stop\n' >&"$tfd"
	for (( i = 0; i < 50; i++ )); do
		grep -aq 'CPU cycles/packet' "$tlog" && break
		sleep 0.1
	done
	cpp=$(grep -ao 'CPU cycles/packet=[0-9.]*' "$tlog" | tail -n 1)
	printf 'quit\n' >&"$tfd"
	for (( i = 0; i < 100; i++ )); do
		kill -0 "$TP_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill "$TP_PID" 2>/dev/null
	wait "$TP_PID" 2>/dev/null
	TP_PID=
	exec {tfd}>&-
	log "$name: ${line:-no result line} | backend ${cpp:-cycles/packet not shown}"
	# UBSan reports and goes on: a report is a failure here
	if grep -aq 'runtime error:\|Sanitizer' "$plog"; then
		fail "$name: sanitizer report"
		grep -a -m 3 'runtime error:\|Sanitizer' "$plog" | sed 's/^/    /'
	fi
	if [ "$rc" != 0 ]; then
		fail "$name: vhu-pump exit $rc"
		sed 's/^/    /' "$plog" | head -n 20
		return
	fi
	[[ "$line" =~ rx_frames=([0-9]+) ]] && (( BASH_REMATCH[1] > 0 )) ||
		fail "$name: no frame received"
	[[ "$line" =~ tx_frames=([0-9]+) ]] && (( BASH_REMATCH[1] > 0 )) ||
		fail "$name: no frame sent"
	[[ "$line" =~ errors=0$ ]] || fail "$name: verification errors"
	[[ "$line" =~ verified=([0-9]+) ]] && (( BASH_REMATCH[1] > 0 )) ||
		fail "$name: no frame verified"
}

for c in $CASES; do
	run_case "${c%%:*}" "${c##*:}"
done
[ "$FAILED" = 0 ] && log "PASS" || log "FAILED (logs in $WORK)"
exit "$FAILED"
