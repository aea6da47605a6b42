# SPDX-License-Identifier: BSD-3-Clause
#
# Sourced by the pmd suite's scripts (test_pmd.sh, test_pmd_dma.sh,
# test_telemetry.sh):
# interactive dpdk-testpmd processes driven through fifos, each known by a
# NAME (PID, FD, LOG tables), stopped and reaped only by the PID this
# script got; the sanitizer runtime preloaded when the plugin is an ASan
# build. The caller sets PLUGIN, WORK, SOCK, PREFIX (file prefixes are
# PREFIX-NAME) and defines log() before sourcing; it exits 77 here when an
# ASan plugin has no loadable runtime. cleanup() runs on exit. A script
# that sets STEP before each wait gets it logged, with the state and log
# tails of its testpmds, when it is killed (meson's timeout): a hang then
# says where it was. (meson signals the whole process group, so the
# testpmds may already be gone; their log tails still show where.) STEP
# must be set in the script's own shell, not in a $(...) subshell.

# A sanitizer build of the plugin needs the sanitizer runtime loaded first;
# testpmd itself is not instrumented.
PRELOAD=
# (grep reads all of nm's output: with -q it would quit early, nm would die
# of SIGPIPE and pipefail would turn the match into a failure)
if nm -D --undefined-only "$PLUGIN" 2>/dev/null | grep '^ *U __asan_' >/dev/null; then
	PRELOAD=${VHU_ASAN_PRELOAD:-}
	[ -n "$PRELOAD" ] || for cc in clang gcc; do
		for rt in libclang_rt.asan-x86_64.so libasan.so; do
			p=$($cc -print-file-name=$rt 2>/dev/null) || continue
			[ -f "$p" ] && { PRELOAD=$p; break 2; }
		done
	done
	[ -n "$PRELOAD" ] || { log "SKIP: ASan plugin but no shared ASan runtime"; exit 77; }
	# testpmd and EAL are not instrumented: only the plugin is checked
	export ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0
fi

declare -A PID FD LOG
cleanup() {
	local n
	for n in "${!PID[@]}"; do
		kill -9 "${PID[$n]}" 2>/dev/null
	done
	wait 2>/dev/null
	for n in "${!FD[@]}"; do
		eval "exec ${FD[$n]}>&-"
	done
	rm -f "$WORK"/*.in "$SOCK"
	rm -rf /var/run/dpdk/"$PREFIX"-*
}
trap cleanup EXIT

STEP=start
on_term() {
	local n
	trap - TERM INT
	log "killed while: $STEP"
	for n in "${!PID[@]}"; do
		log "--- $n (pid ${PID[$n]}): $(ps -o stat=,wchan:24= -p "${PID[$n]}" 2>/dev/null || echo gone)"
	done
	for n in "${!LOG[@]}"; do
		log "--- ${LOG[$n]}, last 20 lines:"
		tail -n 20 "${LOG[$n]}" 2>/dev/null
	done
	exit 1
}
trap on_term TERM INT

# start NAME ARGS... : a testpmd in interactive mode reading WORK/NAME.in
start() {
	local name=$1 fifo=$WORK/$1.in fd
	shift
	rm -f "$fifo"
	mkfifo "$fifo"
	# read-write open: does not block, and keeps the fifo open between
	# commands so testpmd never sees end of input
	exec {fd}<>"$fifo"
	FD[$name]=$fd
	LOG[$name]=$WORK/$name.log
	: >>"${LOG[$name]}"
	# line-buffered stdout so the script sees command output at once
	LD_PRELOAD=$PRELOAD stdbuf -oL dpdk-testpmd "$@" <"$fifo" \
		>>"${LOG[$name]}" 2>&1 &
	PID[$name]=$!
}

# cmd NAME LINE : one testpmd command
cmd() { printf '%s\n' "$2" >&"${FD[$1]}"; }

# query NAME COMMAND END-REGEX : the log lines a command added, once one
# matches END-REGEX (a grep pattern); returns 1 after 10 s without it or
# when the testpmd is gone. (grep reads all its input: with -q it could quit before
# tail's last write, and pipefail would read tail's SIGPIPE as no match.)
query() {
	local name=$1 before end=$((SECONDS + 10))
	before=$(wc -l <"${LOG[$name]}")
	cmd "$name" "$2"
	while ! tail -n +"$((before + 1))" "${LOG[$name]}" |
		grep -a -- "$3" >/dev/null; do
		alive "$name" && [ $SECONDS -lt $end ] || return 1
		sleep 0.05
	done
	tail -n +"$((before + 1))" "${LOG[$name]}"
}

# stop NAME [SIGNAL] : quit (see quit) or kill a testpmd, and reap it
stop() {
	local name=$1 sig=${2:-}
	[ -n "${PID[$name]:-}" ] || return 0
	[ -n "$sig" ] || { quit "$name"; return 0; }
	kill -"$sig" "${PID[$name]}" 2>/dev/null
	wait "${PID[$name]}" 2>/dev/null
	reaped "$name"
}

alive() { kill -0 "${PID[$1]}" 2>/dev/null; }

# reaped NAME : forget a testpmd that has been waited for
reaped() {
	unset "PID[$1]"
	eval "exec ${FD[$1]}>&-"
	unset "FD[$1]"
	rm -f "$WORK/$1.in"
}

# quit NAME : "quit" to a testpmd, killed after 10 s if still there, and
# reaped; its exit status in QUIT_RC (137: it had to be killed, logged)
QUIT_RC=0
quit() {
	local name=$1
	cmd "$name" quit
	for _ in $(seq 100); do
		alive "$name" || break
		sleep 0.1
	done
	if alive "$name"; then
		log "$name did not quit in 10 s: killed"
		kill -9 "${PID[$name]}" 2>/dev/null
	fi
	wait "${PID[$name]}" 2>/dev/null
	QUIT_RC=$?
	reaped "$name"
}
