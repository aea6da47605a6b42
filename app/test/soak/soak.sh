#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Soak test: many short vhost-user connections against one long-lived
# backend, which must end with the fds, mappings and mbufs it had before.
# For each backend (vhu-loopback; dpdk-testpmd with the net_vhu plugin,
# queues=2, io forwarding on its one port so every frame is echoed), this
# script starts the backend once, runs a warm-up connection per ring
# layout, takes the
# baseline (fds in /proc/PID/fd, lines of /proc/PID/maps, mbufs in use),
# then runs CYCLES connections of soak_peer, a frontend without DPDK that
# starts in about a millisecond. Each cycle varies, with coprime periods:
#   - split or packed rings (alternating), 1 or 2 queue pairs,
#     MRG_RXBUF or not, SET_MEM_TABLE or ADD_MEM_REG, interrupts on or off,
#     packed ring size 256 or 200, packed base in full or low half only;
#   - the ending, over every 20 cycles: 6 SIGKILLed mid-traffic, 6 abrupt
#     exits with frames in flight (no GET_VRING_BASE), 6 polite ones
#     (drain, every frame back exactly once, GET_VRING_BASE checked),
#     2 mid-handshake (one SIGKILLed after a step's reply, one exiting
#     right after sending a step; the step moves from cycle to cycle).
# Every cycle but the mid-handshake ones must get echoed frames checked
# (content, order, length) before its ending. Against testpmd, a few
# frames of the previous connection may arrive first (its forwarding lcore
# can hold a burst received from a dying connection while the next one
# comes up, then send it there): the peer accepts up to 64 per queue, before
# its own, content checked, and the script counts them; vhu-loopback
# dequeues and enqueues with one device handle, so there none is allowed.
# After the cycles a final peer per ring layout (2 queue pairs, polite,
# many frames) must pass, then the backend's fds and mappings must equal
# the baseline, no mapping of the peers' guest memory may remain, and its
# mbufs in use must equal the baseline: testpmd's from its interactive `dump_mempool`; vhu-loopback's
# from a "vhu-loopback: mbufs in use: N of M" stats line if it prints one
# (the check is reported as unavailable otherwise). Last, the backend must
# stop cleanly. This script owns the cycle plan, the processes' lifetimes
# and the private work directory; everything it starts is stopped by PID.
#
# Usage: soak.sh [--build DIR] [--peer PATH] [--loopback PATH]
#                [--plugin PATH] [--cycles N] [--backend vhu|testpmd|both]
#                [--sanitized]
#   --build DIR      meson build dir (binaries and work dir default there)
#   --peer PATH      soak_peer binary
#   --loopback PATH  vhu-loopback binary
#   --plugin PATH    librte_net_vhu.so for dpdk-testpmd -d
#   --cycles N       cycles per backend (default 1000)
#   --backend B      vhu, testpmd or both (default both)
#   --sanitized      a sanitizer build: the total mapping count is only
#                    reported (the sanitizer's allocator maps as it goes);
#                    fds, guest-memory mappings and mbufs stay strict
# Environment:
#   VHU_SOAK_CYCLES=N    overrides --cycles
#   VHU_SOAK_KEEP=1      keep the work directory even when all passed
#   VHU_ASAN_PRELOAD     shared ASan runtime for testpmd (devtools/test.sh)
#   SOAK_BACKEND_CPU, SOAK_PEER_CPU   CPUs to pin to (default 0 and 1)
# Exit status: 0 passed, 1 failed, 77 skipped (nothing could run).
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=""
peer=""
loopback=""
plugin=""
cycles=1000
backends=both
sanitized=0
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift ;;
	--peer) peer=$2; shift ;;
	--loopback) loopback=$2; shift ;;
	--plugin) plugin=$2; shift ;;
	--cycles) cycles=$2; shift ;;
	--backend) backends=$2; shift ;;
	--sanitized) sanitized=1 ;;
	-h|--help) sed -n '3,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "soak.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done
cycles=${VHU_SOAK_CYCLES:-$cycles}
case "$cycles" in
''|*[!0-9]*) echo "soak.sh: bad cycle count '$cycles'" >&2; exit 2 ;;
esac
case "$backends" in
both) backends="vhu testpmd" ;;
vhu|testpmd) ;;
*) echo "soak.sh: --backend must be vhu, testpmd or both" >&2; exit 2 ;;
esac
[ -n "$build" ] || build=$(cd "$here/../../.." && pwd)/build
[ -n "$peer" ] || peer=$build/app/test/soak/soak_peer
[ -n "$loopback" ] || loopback=$build/examples/vhu-loopback
[ -n "$plugin" ] || plugin=$build/drivers/net/vhost/librte_net_vhu.so

BCPU=${SOAK_BACKEND_CPU:-0}
PCPU=${SOAK_PEER_CPU:-1}
[ "$(nproc)" -ge 2 ] || PCPU=${SOAK_PEER_CPU:-0}
QUEUES=2           # queue pairs the backend serves
PEER_TIMEOUT=10    # seconds: bound on one peer (it exits by itself then)
SETTLE=10          # seconds: for the backend to release a connection

log() { printf '[soak %(%T)T] %s\n' -1 "$*"; }

[ -x "$peer" ] || { log "SKIP: no soak_peer at $peer"; exit 77; }

# A private directory: DPDK refuses plugins and sockets under
# world-writable trees, and nobody else should reach our sockets.
mkdir -p "$build/soak" || exit 1
work=$(mktemp -d "$build/soak/run.XXXXXX") || exit 1
chmod 700 "$work"
work=$(realpath "$work")
tag="vhu-soak-$$"
failed=0

# Processes we started: the backend and at most one peer at a time.
backend_pid=""
backend_fd=""
peer_pid=""
peer_fd=""

# shellcheck disable=SC2317 # (a trap handler)
cleanup() {
	[ -n "$peer_pid" ] && kill -KILL "$peer_pid" 2>/dev/null
	[ -n "$backend_pid" ] && kill -KILL "$backend_pid" 2>/dev/null
	wait 2>/dev/null
	[ -n "$peer_fd" ] && eval "exec $peer_fd<&-"
	[ -n "$backend_fd" ] && eval "exec $backend_fd>&-"
	rm -rf /var/run/dpdk/"$tag"-* 2>/dev/null
	if [ "$failed" -eq 0 ] && [ "${VHU_SOAK_KEEP:-0}" != 1 ]; then
		rm -rf "$work"
	else
		log "logs kept in $work"
	fi
}
trap cleanup EXIT
trap 'log "interrupted"; failed=1; exit 1' INT TERM

# ---- the backend ----------------------------------------------------------

# An instrumented plugin needs the sanitizer runtime preloaded into the
# uninstrumented testpmd (as in app/test/pmd/test_pmd.sh).
testpmd_preload() {
	local cc rt p
	# grep reads all of nm's output (with -q nm could die of SIGPIPE)
	nm -D --undefined-only "$plugin" 2>/dev/null |
		grep '^ *U __asan_' >/dev/null || return 0
	p=${VHU_ASAN_PRELOAD:-}
	[ -n "$p" ] || for cc in clang gcc; do
		for rt in libclang_rt.asan-x86_64.so libasan.so; do
			p=$($cc -print-file-name=$rt 2>/dev/null) || continue
			[ -f "$p" ] && break 2
			p=""
		done
	done
	[ -n "$p" ] || return 1
	PRELOAD=$p
	export ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0
}

# start_backend KIND: sets backend_pid, blog, sock; 0 once it serves.
start_backend() {
	local kind=$1 i ready
	sock=$work/$kind.sock
	blog=$work/$kind.backend.log
	rm -f "$sock"
	: >"$blog"
	if [ "$kind" = vhu ]; then
		# --stats 1: a pool line, if this vhu-loopback prints one
		"$loopback" --lcores="0@$BCPU" --no-huge -m 512 --no-pci \
			--file-prefix="$tag-lb" -- --socket "$sock" \
			--queues "$QUEUES" --stats 1 >"$blog" 2>&1 </dev/null &
		backend_pid=$!
		ready='^vhu-loopback: serving'
	else
		local fifo=$work/testpmd.in
		rm -f "$fifo"
		mkfifo "$fifo"
		# read-write: never blocks, and testpmd never sees end of input
		exec {backend_fd}<>"$fifo"
		# Its main lcore only reads commands: both lcores on one CPU.
		# --no-flush-rx: by default `start` drains every Rx queue on
		# the main lcore (twice, 10 ms apart) before forwarding; a peer
		# connecting then would lose its first frames (seen: the
		# warm-up peer stalled with 127 frames out, none back).
		LD_PRELOAD=$PRELOAD stdbuf -oL dpdk-testpmd \
			--lcores="0@$BCPU,1@$BCPU" --no-huge -m 1024 --no-pci \
			--file-prefix="$tag-tp" -d "$plugin" \
			--vdev "net_vhu0,iface=$sock,queues=$QUEUES" -- -i \
			--rxq="$QUEUES" --txq="$QUEUES" --nb-cores=1 \
			--total-num-mbufs=16384 --forward-mode=io --no-flush-rx \
			--no-mlockall <"$fifo" >"$blog" 2>&1 &
		backend_pid=$!
		tp_cmd start
		ready='forwards packets on'
	fi
	for (( i = 0; i < 300; i++ )); do
		grep -aq "$ready" "$blog" && [ -S "$sock" ] && return 0
		kill -0 "$backend_pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

tp_cmd() { printf '%s\n' "$1" >&"$backend_fd"; }

# tp_query COMMAND REGEX: testpmd's output for COMMAND, once a line
# matching REGEX shows (at most 5 s; the rest of a listing 0.2 s later).
tp_query() {
	local from i
	from=$(( $(wc -l <"$blog") + 1 ))
	tp_cmd "$1"
	for (( i = 0; i < 50; i++ )); do
		tail -n +"$from" "$blog" | grep -aq -- "$2" && break
		sleep 0.1
	done
	sleep 0.2
	tail -n +"$from" "$blog"
}

# stop_backend KIND: quit (testpmd) or SIGTERM (vhu-loopback); 0 if it
# exited by itself with status 0.
stop_backend() {
	local kind=$1 rc i
	stop_reason=""
	if ! kill -0 "$backend_pid" 2>/dev/null; then
		wait "$backend_pid" 2>/dev/null
		stop_reason="backend had died (exit $?)"
		backend_pid=""
		return 1
	fi
	if [ "$kind" = vhu ]; then
		kill -TERM "$backend_pid"
	else
		tp_cmd quit
	fi
	for (( i = 0; i < 100; i++ )); do
		kill -0 "$backend_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$backend_pid" 2>/dev/null; then
		kill -KILL "$backend_pid"
		stop_reason="backend did not stop within 10 s (killed)"
	fi
	wait "$backend_pid"
	rc=$?
	backend_pid=""
	if [ -n "$backend_fd" ]; then
		eval "exec $backend_fd>&-"
		backend_fd=""
	fi
	[ -z "$stop_reason" ] && [ "$rc" -ne 0 ] &&
		stop_reason="backend exit status $rc"
	[ -z "$stop_reason" ]
}

nfds() { local f=(/proc/"$backend_pid"/fd/*); echo "${#f[@]}"; }
nmaps() { local m; mapfile -t m </proc/"$backend_pid"/maps; echo "${#m[@]}"; }
# mappings of the peers' guest memory (memfd "soak-guest")
nguest() { grep -c 'memfd:soak-guest' /proc/"$backend_pid"/maps; }

# mbufs KIND: mbufs in use in the backend's pool(s), or "n/a".
mbufs() {
	local kind=$1 from i
	from=$(( $(wc -l <"$blog") + 1 ))
	if [ "$kind" = testpmd ]; then
		tp_cmd dump_mempool
		# per pool: size=, then total_cache_count=, common_pool_count=
		for (( i = 0; i < 50; i++ )); do
			if tail -n +"$from" "$blog" | grep -aq 'common_pool_count='; then
				tail -n +"$from" "$blog" | awk -f "$here/../testpmd_mbufs.awk"
				return
			fi
			kill -0 "$backend_pid" 2>/dev/null || break
			sleep 0.1
		done
		echo "n/a"
		return
	fi
	# vhu-loopback: the first pool line printed after now (stats every 1 s)
	for (( i = 0; i < 25; i++ )); do
		local l
		l=$(tail -n +"$from" "$blog" |
			grep -a -m 1 '^vhu-loopback: mbufs in use: [0-9]* of ')
		if [ -n "$l" ]; then
			l=${l#vhu-loopback: mbufs in use: }
			echo "${l%% *}"
			return
		fi
		kill -0 "$backend_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "n/a"
}

# ---- one cycle ------------------------------------------------------------

# peer_start ARGS...: soak_peer with its stdout on peer_fd
peer_start() {
	exec {peer_fd}< <(exec "$peer" --socket "$sock" --cpu "$PCPU" \
		--timeout "$PEER_TIMEOUT" "${peer_extra[@]}" "$@" 2>>"$plog")
	peer_pid=$!
}

# peer_wait: reap the peer; its exit status
peer_wait() {
	local rc
	wait "$peer_pid"
	rc=$?
	eval "exec $peer_fd<&-"
	peer_pid=""
	peer_fd=""
	return "$rc"
}

# peer_read: next stdout line of the peer in $line; non-zero at EOF or
# after PEER_TIMEOUT + 5 s (the peer bounds itself by PEER_TIMEOUT).
peer_read() {
	IFS= read -r -t $(( PEER_TIMEOUT + 5 )) -u "$peer_fd" line
}

# cycle_plan I: the options of cycle I in plan_args, its ending in plan_end
cycle_plan() {
	local i=$1 e
	plan_args=(--cycle "$i" --verify 32 --queues $(( 1 + (i / 20) % QUEUES )))
	if (( i % 2 )); then
		plan_args+=(--packed)
		(( (i / 11) % 2 )) && plan_args+=(--ring 200)
		(( (i / 13) % 2 )) && plan_args+=(--half-base)
	fi
	(( (i / 3) % 2 )) && plan_args+=(--mrg)
	(( (i / 5) % 2 )) && plan_args+=(--mem-slots)
	(( (i / 7) % 2 )) && plan_args+=(--irq)
	e=$(( (i / 2) % 10 ))
	case $e in
	0|3|6) plan_end="kill" ;;
	1|4|7) plan_end="abrupt" ;;
	2|5|8) plan_end=polite; plan_args+=(--frames 256) ;;
	9)
		# the step moves from cycle to cycle; the peer takes it modulo
		# its number of handshake steps (23 to 38 here)
		if (( i % 2 )); then plan_end=hs-abrupt; else plan_end=hs-kill; fi
		plan_args+=(--stop-at $(( 1 + i * 5 )))
		;;
	esac
	case $plan_end in
	kill|hs-kill) plan_args+=(--end kill) ;;
	abrupt|hs-abrupt) plan_args+=(--end abrupt) ;;
	*) plan_args+=(--end polite) ;;
	esac
}

# run_cycle I: one connection; 0 if it went as planned, else why is set.
run_cycle() {
	local i=$1 rc saw_traffic=0 saw_stop=0 last=""
	why=""
	cycle_plan "$i"
	echo "=== cycle $i: ${plan_args[*]}" >>"$plog"
	peer_start "${plan_args[@]}"
	while peer_read; do
		echo "$line" >>"$plog"
		last=$line
		case "$line" in
		"soak_peer: traffic verified:"*) saw_traffic=1 ;;
		"soak_peer: paused after step"*|"soak_peer: exiting after sending step"*)
			saw_stop=1 ;;
		esac
		# kill endings: SIGKILL as soon as the peer is where we want it
		if [ "$plan_end" = kill ] && [ $saw_traffic -eq 1 ]; then
			break
		fi
		if [ "$plan_end" = hs-kill ] && [ $saw_stop -eq 1 ]; then
			break
		fi
	done
	case $plan_end in
	kill|hs-kill)
		# mid-traffic, land the kill 0, 5, 10 or 15 ms after the first
		# checked echoes (the peer prints nothing more: read times out)
		if [ "$plan_end" = kill ] && (( (i / 7) % 4 )); then
			read -r -t "0.0$(( (i / 7) % 4 * 5 ))" -u "$peer_fd" line
		fi
		kill -KILL "$peer_pid" 2>/dev/null
		peer_wait
		rc=$?
		if [ $rc -ne 137 ]; then
			why="peer exited with $rc before the SIGKILL"
		elif [ "$plan_end" = kill ] && [ $saw_traffic -eq 0 ]; then
			why="killed without verified traffic"
		elif [ "$plan_end" = hs-kill ] && [ $saw_stop -eq 0 ]; then
			why="no handshake stop before the SIGKILL"
		fi
		;;
	*)
		peer_wait
		rc=$?
		if [ $rc -ne 0 ]; then
			why="peer exit status $rc"
		elif [ "$plan_end" = hs-abrupt ] && [ $saw_stop -eq 0 ]; then
			why="no handshake stop"
		elif [ "$plan_end" != hs-abrupt ] && [ $saw_traffic -eq 0 ]; then
			why="no verified traffic"
		elif [ "$plan_end" = polite ] && [[ $last != "soak_peer: done:"* ]]; then
			why="polite ending did not finish"
		fi
		;;
	esac
	[ -z "$why" ] && return 0
	why="cycle $i ($plan_end: ${plan_args[*]}): $why"
	return 1
}

# polite_peer LABEL split|packed FRAMES: a well-behaved peer on every
# queue pair that must get all FRAMES per queue pair back; 0 if it did
# (its last line in $last).
polite_peer() {
	local a=(--cycle 999999 --queues "$QUEUES" --verify 64 --frames "$3"
		 --end polite)
	[ "$2" = packed ] && a+=(--packed)
	echo "=== $1 peer: ${a[*]}" >>"$plog"
	peer_start "${a[@]}"
	last=""
	while peer_read; do
		echo "$line" >>"$plog"
		last=$line
	done
	peer_wait && [[ $last == "soak_peer: done:"* ]]
}

# ---- one backend ----------------------------------------------------------

# counts: "fds maps guest mbufs" now
counts() { echo "$(nfds) $(nmaps) $(nguest) $(mbufs "$1")"; }

soak_backend() {
	local kind=$1 name i l t0 n_kill=0 n_abrupt=0 n_polite=0 n_hs=0
	local fds0 maps0 guest0 mb0 fds1 maps1 guest1 mb1 end settled why_all=""
	plog=$work/$kind.peer.log
	: >"$plog"
	PRELOAD=
	peer_extra=()
	if [ "$kind" = vhu ]; then
		name=vhu-loopback
		[ -x "$loopback" ] || { log "SKIP $name: no $loopback"; return 77; }
	else
		name="dpdk-testpmd + net_vhu"
		command -v dpdk-testpmd >/dev/null ||
			{ log "SKIP $name: no dpdk-testpmd"; return 77; }
		[ -f "$plugin" ] || { log "SKIP $name: no $plugin"; return 77; }
		testpmd_preload ||
			{ log "SKIP $name: ASan plugin but no shared ASan runtime"; return 77; }
		peer_extra=(--stale-ok)
	fi
	log "== $name: $cycles cycles"
	if ! start_backend "$kind"; then
		log "FAIL $name: backend did not start serving (see $blog)"
		tail -n 20 "$blog"
		stop_backend "$kind"
		return 1
	fi

	# warm-up: the first connection's one-time allocations (libvhu's
	# control thread's malloc arena, the ethdev's queue state, ...). With
	# net_vhu, peers keep coming for 2.5 s: the PMD's queue-count check
	# (an EAL alarm 1 s after the guest's queues last changed) then fires
	# while they still change and re-arms from the EAL alarm thread, whose
	# first malloc maps that thread's arena (2 mappings, once); then 1.5 s
	# for the last check to run.
	t0=$SECONDS
	i=0
	while :; do
		for l in split packed; do
			if ! polite_peer "warm-up $l" "$l" 256; then
				log "FAIL $name: the warm-up $l peer failed:"
				tail -n 3 "$plog"
				stop_backend "$kind"
				return 1
			fi
		done
		i=$((i + 1))
		[ "$kind" = vhu ] || [ $((SECONDS - t0)) -ge 3 ] && break
	done
	[ "$kind" = vhu ] && sleep 0.5 || sleep 1.5
	read -r fds0 maps0 guest0 mb0 <<<"$(counts "$kind")"
	ls -l /proc/"$backend_pid"/fd >"$work/$kind.fds-before.txt" 2>/dev/null
	cp /proc/"$backend_pid"/maps "$work/$kind.maps-before.txt"
	log "$name baseline after warm-up: $fds0 fds, $maps0 mappings" \
		"($guest0 of guest memory), mbufs in use: $mb0"

	t0=$(date +%s%N)
	for (( i = 1; i <= cycles; i++ )); do
		if ! run_cycle "$i"; then
			why_all=$why
			break
		fi
		case $plan_end in
		kill) n_kill=$(( n_kill + 1 )) ;;
		abrupt) n_abrupt=$(( n_abrupt + 1 )) ;;
		polite) n_polite=$(( n_polite + 1 )) ;;
		*) n_hs=$(( n_hs + 1 )) ;;
		esac
		if ! kill -0 "$backend_pid" 2>/dev/null; then
			why_all="backend died in cycle $i"
			break
		fi
		if (( i % 100 == 0 )); then
			log "$name: $i cycles: $(nfds) fds, $(nmaps) mappings" \
				"($(nguest) of guest memory)"
		fi
	done
	t0=$(( ($(date +%s%N) - t0) / 1000000 ))
	if [ -n "$why_all" ]; then
		log "FAIL $name: $why_all"
		echo "----- peer log (last 15 lines)"
		tail -n 15 "$plog"
		echo "----- backend log (last 15 lines)"
		tail -n 15 "$blog"
		stop_backend "$kind"
		return 1
	fi
	log "$name: $cycles cycles in $(( t0 / 1000 )).$(( t0 % 1000 / 100 )) s" \
		"($n_kill killed mid-traffic, $n_abrupt abrupt, $n_polite polite," \
		"$n_hs mid-handshake)"
	if [ ${#peer_extra[@]} -gt 0 ]; then
		local stale
		stale=$(grep -ao '(+[0-9]* stale)' "$plog" | tr -dc '0-9\n' |
			awk '{ n++; s += $1 } END { printf "%d frames in %d queue starts", s, n }')
		log "$name: frames of the previous connection that arrived first: $stale"
	fi

	# the backend must still serve a peer properly, both layouts
	for i in split packed; do
		if ! polite_peer "final $i" "$i" 20000; then
			log "FAIL $name: the final $i peer failed:"
			tail -n 3 "$plog"
			stop_backend "$kind"
			return 1
		fi
		log "$name: final $i peer: ${last#soak_peer: done: }"
	done

	# the backend releases a connection on its own thread: let it settle
	end=$(( SECONDS + SETTLE ))
	while :; do
		read -r fds1 maps1 guest1 mb1 <<<"$(counts "$kind")"
		settled=1
		[ "$fds1" -eq "$fds0" ] && [ "$guest1" -eq 0 ] &&
			[ "$mb1" = "$mb0" ] || settled=0
		[ $sanitized -eq 1 ] || [ "$maps1" -eq "$maps0" ] || settled=0
		[ $settled -eq 1 ] && break
		[ $SECONDS -lt $end ] || break
		sleep 0.3
	done
	log "$name after $cycles cycles and 2 final peers: $fds1 fds, $maps1" \
		"mappings ($guest1 of guest memory), mbufs in use: $mb1"
	local bad=""
	[ "$fds1" -eq "$fds0" ] || bad="fds $fds0 -> $fds1"
	if [ "$maps1" -ne "$maps0" ]; then
		if [ $sanitized -eq 1 ]; then
			log "note: mappings $maps0 -> $maps1 (sanitizer build: not checked)"
		else
			bad="${bad:+$bad, }mappings $maps0 -> $maps1"
		fi
	fi
	[ "$guest1" -eq 0 ] || bad="${bad:+$bad, }$guest1 mappings of guest memory left"
	if [ "$mb0" = n/a ] || [ "$mb1" = n/a ]; then
		log "note: $name: mbufs in use not available (no pool line in its output)"
	elif [ "$mb1" != "$mb0" ]; then
		bad="${bad:+$bad, }mbufs in use $mb0 -> $mb1"
	fi
	if [ "$kind" = testpmd ]; then
		# a well-behaved peer never breaks a ring: net_vhu's
		# rx_qN_broken / tx_qN_broken must all be 0
		local xs broken
		xs=$(tp_query "show port xstats 0" '^tx_q[0-9]*_broken' |
			grep -a '^[rt]x_q[0-9]*_broken: ')
		broken=$(grep -av ': 0$' <<<"$xs" | tr '\n' ' ')
		if [ -z "$xs" ]; then
			bad="${bad:+$bad, }no rx/tx_qN_broken xstats from net_vhu"
		elif [ -n "$broken" ]; then
			bad="${bad:+$bad, }broken rings: $broken"
		else
			log "$name: xstats: $(wc -l <<<"$xs") rx/tx_qN_broken, all 0"
		fi
	fi
	if [ -n "$bad" ]; then
		log "FAIL $name: $bad"
		ls -l /proc/"$backend_pid"/fd >"$work/$kind.fds-after.txt" 2>/dev/null
		cp /proc/"$backend_pid"/maps "$work/$kind.maps-after.txt"
		diff "$work/$kind.fds-before.txt" "$work/$kind.fds-after.txt" |
			grep '^[<>]' | sed 's/^\(.\) .* \([0-9]* -> \)/\1 fd \2/' | head -n 10
		diff "$work/$kind.maps-before.txt" "$work/$kind.maps-after.txt" |
			grep '^[<>]' | head -n 10
		stop_backend "$kind"
		return 1
	fi
	if ! stop_backend "$kind"; then
		log "FAIL $name: $stop_reason"
		tail -n 10 "$blog"
		return 1
	fi
	log "PASS $name: $cycles cycles, no fd, mapping or mbuf growth"
	return 0
}

log "peer $peer, cycles $cycles, backend CPU $BCPU, peer CPU $PCPU, work $work"
n_pass=0
n_fail=0
n_skip=0
t_start=$SECONDS
for b in $backends; do
	soak_backend "$b"
	case $? in
	0) n_pass=$(( n_pass + 1 )) ;;
	77) n_skip=$(( n_skip + 1 )) ;;
	*) n_fail=$(( n_fail + 1 )); failed=1 ;;
	esac
done
log "$n_pass passed, $n_fail failed, $n_skip skipped in $(( SECONDS - t_start )) s"
[ $n_fail -eq 0 ] || exit 1
[ $n_pass -gt 0 ] || exit 77
exit 0
