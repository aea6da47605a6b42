#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Throughput of vhu-vswitch, 64-byte frames: a dpdk-testpmd guest sends
# (txonly) into port 0, another receives (rxonly) on port 1, each with one
# net_virtio_user port of Q queue pairs polled by one forwarding lcore.
# Every frame is flooded from port 0 to port 1 (its destination is never
# learned). Placement on a 2-CPU machine: the switch's first worker on
# CPU 0, its main lcore (and a second worker, --workers 2) on CPU 1 with
# both guests.
#
# A run reports medians over the last WINDOW seconds of testpmd's own
# per-second rates: "sent" is what the sending guest got into the switch
# (the switch's port 0 rx), "dropped" what it could not (ring full: the
# switch was not dequeuing fast enough), "received" what the receiving
# guest got (the switch's port 1 tx). When "dropped" is high the switch
# paced the run; when it is near zero the sender did. "worker CPUs" is the
# CPU time the switch's worker threads got over the window (from /proc:
# 1.00 is one whole CPU), and "sent Mpps per worker CPU" divides by it:
# on a machine shared with other work, where the switch gets a varying
# share of its CPU, that is the steadier figure when the switch paced.
#
# The switch runs on hugepages when 256 or more are free, else --no-huge;
# the guests always on --no-huge.
#
# Give several --vswitch binaries to compare builds: runs alternate
# between them (other load on the machine then hits all alike) and each
# row gives the median of its runs.
#
# Usage: examples/vswitch/bench.sh --vswitch BIN [--vswitch BIN2 ...]
#          [--queues Q] [--workers 1|2] [--window S] [--runs N]
#          [--switch-args "ARGS"]
set -euo pipefail

bins=()
queues=1
workers=1
window=5
warmup=3
runs=3
extra=
while [ $# -gt 0 ]; do
	case "$1" in
	--vswitch) bins+=("$2"); shift ;;
	--queues) queues=$2; shift ;;
	--workers) workers=$2; shift ;;
	--window) window=$2; shift ;;
	--runs) runs=$2; shift ;;
	--switch-args) extra=$2; shift ;;
	-h|--help) sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
[ ${#bins[@]} -gt 0 ] || { echo "bench.sh: --vswitch BIN required" >&2; exit 2; }

lcores=0@1,1@0
[ "$workers" = 2 ] && lcores=0@1,1@0,2@1
mem=(--no-huge -m 512)
if [ "$(awk '$1 == "HugePages_Free:" { print $2 }' /proc/meminfo)" -ge 256 ] 2>/dev/null &&
   grep -q hugetlbfs /proc/mounts; then
	mem=(-m 512 --in-memory)
fi
# DPDK refuses socket paths under world-writable trees such as /tmp
work=$(mktemp -d /run/vhu-vswbench.XXXXXX)
chmod 700 "$work"
pids=()
cleanup() {
	for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work" /var/run/dpdk/vhu-vswbench-$$-*
}
trap cleanup EXIT

guest() { # NAME SOCKET MODE SECONDS
	timeout -s INT -k 5 "$4" dpdk-testpmd --lcores=0@1,1@1 --no-huge -m 512 \
		--single-file-segments --file-prefix="vhu-vswbench-$$-$1" --no-pci \
		--vdev "net_virtio_user0,path=$2,queues=$queues,queue_size=1024" -- \
		--no-mlockall --total-num-mbufs=8192 --rxd=1024 --txd=1024 \
		--rxq="$queues" --txq="$queues" --forward-mode="$3" --txpkts=64 \
		--auto-start --stats-period 1 < /dev/null > "$work/$1.log" 2>&1 || true
}
# median of one testpmd rate (Rx-pps or Tx-pps) over the last $window samples
rate() { # LOG FIELD
	grep -o "$2: *[0-9]*" "$1" | awk '{ print $2 }' | tail -n "$((window + 1))" |
		head -n "$window" | sort -n | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : 0) / 1e6 }'
}
# TX-dropped per second of the sender over the whole run, from its totals
dropped() { # LOG SECONDS
	awk -v s="$2" '/Accumulated forward statistics/ { a = 1 }
		a && /TX-dropped:/ { for (i = 1; i < NF; i++) if ($i == "TX-dropped:") n = $(i + 1); a = 0 }
		END { printf "%.2f\n", n / s / 1e6 }' "$1"
}

# CPU time (clock ticks) the switch's worker lcores used so far
worker_ticks() { # PID
	local t n=0
	for t in /proc/"$1"/task/*; do
		grep -q '^rte-worker' "$t/comm" 2>/dev/null || continue
		n=$((n + $(awk '{ print $14 + $15 }' "$t/stat")))
	done
	echo "$n"
}

one_run() { # BIN -> "sent dropped received cpu"
	rm -f "$work/p0" "$work/p1"
	# shellcheck disable=SC2086
	"$1" --lcores=$lcores "${mem[@]}" --no-pci \
		--file-prefix="vhu-vswbench-$$-sw" -- --socket "$work/p0" \
		--socket "$work/p1" $extra > "$work/sw.log" 2>&1 &
	local sw=$!
	pids+=("$sw")
	for _ in $(seq 100); do [ -S "$work/p1" ] && break; sleep 0.1; done
	local secs=$((warmup + window + 2)) c0 c1 t0 t1
	guest rx "$work/p1" rxonly $((secs + 3)) &
	local rxp=$!
	sleep 2
	guest tx "$work/p0" txonly "$secs" &
	local txp=$!
	sleep "$warmup"
	c0=$(worker_ticks "$sw"); t0=$(date +%s.%N)
	sleep "$window"
	c1=$(worker_ticks "$sw"); t1=$(date +%s.%N)
	wait "$txp" "$rxp"
	kill -INT "$sw"; wait "$sw" || true
	echo "$(rate "$work/tx.log" Tx-pps) $(dropped "$work/tx.log" "$secs") $(rate "$work/rx.log" Rx-pps)" \
		"$(awk -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" -v a="$t0" -v b="$t1" 'BEGIN { print c / hz / (b - a) }')"
}

declare -A res
for ((r = 0; r < runs; r++)); do
	for b in "${bins[@]}"; do
		out=$(one_run "$b")
		res[$b]+="$out;"
		echo "run $((r + 1)) $b: sent/dropped/received Mpps, worker CPUs: $out (load $(cut -d' ' -f1 /proc/loadavg))" >&2
	done
done
echo "| vswitch | queue pairs | workers | sent Mpps | sender dropped Mpps | received Mpps | worker CPUs | sent Mpps per worker CPU | runs |"
echo "|---|---|---|---|---|---|---|---|---|"
for b in "${bins[@]}"; do
	echo "${res[$b]}" | tr ';' '\n' | awk -v b="$b" -v q="$queues" -v w="$workers" '
		NF == 4 { s[++n] = $1; d[n] = $2; r[n] = $3; c[n] = $4; e[n] = $4 > 0 ? $1 / $4 : 0 }
		function med(a,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			return a[int((n + 1) / 2)] }
		END { printf "| %s | %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %d |\n", b, q, w, med(s), med(d), med(r), med(c), med(e), n }'
done
