#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# vhu-vswitch with 256 ports, driven by vhu-ports (256 vhost-user
# frontends in one process). Behaviour, not speed:
#  - all 256 ports connect;
#  - with every port idle, the switch's CPU use over 2 s stays low (the
#    worker sleeps): a generous bound, 20 % of one CPU, so a loaded
#    machine does not fail it, while a polling worker (~100 %) does;
#  - a frame sent to the switch by a port that went idle (its queue
#    parked) is delivered: the kick wakes it, 3 times;
#  - 8 ports hang up and connect again while the others idle, and each
#    one's frame arrives;
#  - the switch's summary shows parked queues and kick wake-ups.
#
# Usage: ports.sh --vswitch BIN --ports BIN [--build DIR]
set -euo pipefail

vswitch= peer= build=$(pwd)
while [ $# -gt 0 ]; do
	case "$1" in
	--vswitch) vswitch=$2; shift ;;
	--ports) peer=$2; shift ;;
	--build) build=$2; shift ;;
	*) echo "ports.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$vswitch" ] && [ -x "$peer" ] ||
	{ echo "ports.sh: --vswitch BIN and --ports BIN required" >&2; exit 2; }

N=256
run=$(mktemp -d "$build/ports-test.XXXXXX")
chmod 700 "$run"
pids=()
cleanup() {
	for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$run" /var/run/dpdk/vhu-ports-$$-*
}
trap cleanup EXIT

fail() {
	echo "FAIL ports: $*"
	for f in "$run"/*.log; do echo "--- $f"; tail -30 "$f"; done
	exit 1
}

# CPU ticks (user + system) of a process, from /proc/PID/stat
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

args=()
for i in $(seq 0 $((N - 1))); do args+=(--socket "$run/p$i"); done
"$vswitch" --lcores='(0-1)@(0-1)' --no-huge -m 512 --no-pci \
	--file-prefix="vhu-ports-$$-sw" -- "${args[@]}" --quiet \
	--duration 60 > "$run/sw.log" 2>&1 &
sw=$!
pids+=("$sw")
for _ in $(seq 200); do [ -S "$run/p$((N - 1))" ] && break; sleep 0.1; done
[ -S "$run/p$((N - 1))" ] || fail "no sockets"

"$peer" --prefix "$run/p" --ports $N --learn --idle 4 --wake 3 --gap 30 \
	--churn 8 > "$run/peer.log" 2>&1 &
fe=$!
pids+=("$fe")
for _ in $(seq 300); do grep -q '^idle:' "$run/peer.log" && break; sleep 0.1; done
grep -q '^idle:' "$run/peer.log" || fail "the frontends did not all connect"
grep -q "^setup: ports=$N " "$run/peer.log" || fail "setup line missing"

# every queue had 1 ms to go idle; measure 2 s of the switch
sleep 1
t0=$(ticks "$sw")
sleep 2
t1=$(ticks "$sw")
hz=$(getconf CLK_TCK)
pct=$(( (t1 - t0) * 100 / (2 * hz) ))
echo "ports: switch CPU with $N idle ports: $pct % of a CPU over 2 s"
[ "$pct" -lt 20 ] || fail "switch used $pct % of a CPU with every port idle"

wait "$fe" || fail "vhu-ports failed (wake-up or churn)"
cat "$run/peer.log"
grep -q '^wake: n=3 ' "$run/peer.log" || fail "no wake-up line"
grep -q '^churn: ports=8 .* ok' "$run/peer.log" || fail "churn did not pass"

kill -INT "$sw"
wait "$sw" || fail "switch exit status"
line=$(grep 'idle queues' "$run/sw.log") || fail "no idle summary"
echo "$line"
parked=$(sed -E 's/.*: ([0-9]+) parked.*/\1/' <<< "$line")
woken=$(sed -E 's/.*, ([0-9]+) woken.*/\1/' <<< "$line")
[ "$parked" -ge "$N" ] || fail "only $parked queues parked"
[ "$woken" -ge 3 ] || fail "only $woken kick wake-ups"
echo "PASS ports"
