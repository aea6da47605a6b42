#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Instructions per packet of the real loopback (devtools/bench.sh's
# setup: testpmd io forwarding over net_vhu or net_vhost, against a
# testpmd net_virtio_user guest), counted by callgrind in the backend:
# only vhu_{dequeue,enqueue}_burst or rte_vhost_{dequeue,enqueue}_burst
# and what they call. Counters are zeroed when traffic starts.
#
# Enqueue is called only with frames, so its Ir/packet is exact. Dequeue
# also counts empty polls (the backend under valgrind is slow, but a
# starved guest on a busy machine still leaves it polling nothing): the
# "deq calls" column says how many polls there were; compare dequeue
# figures only between runs with few empty polls (calls near pkts/32).
#
# Usage: app/test/bench/callgrind-pmd.sh [BUILD_DIR] [SECONDS]
# Environment: PACKED=1 packed rings, IN_ORDER=1 virtio_user in_order=1,
#   SIZES (default "64 1518"), MRGS (default "0 1"), BACKENDS
#   (default "vhu vhost") narrow or change the matrix; PUMP=PATH uses that
#   vhu-pump as the guest instead of testpmd (it keeps the rings full, so
#   dequeue polls are never empty and both columns are exact); CG_KEEP=DIR keeps
#   each run's callgrind output as DIR/BACKEND.MRG.SIZE.cg.out (with a
#   build configured -Ddebug=true, callgrind_annotate then shows the
#   lines).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=$(cd "${1:-$REPO/build}" && pwd)
secs=${2:-10}
plugin=$build/drivers/net/vhost/librte_net_vhu.so
[ -f "$plugin" ] || { echo "callgrind-pmd.sh: $plugin not built" >&2; exit 1; }
work=$(mktemp -d "$build/cgpmd.XXXXXX")
chmod 700 "$work"
pids=()
cleanup() {
	for p in "${pids[@]:-}"; do
		if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; fi
	done
	wait 2>/dev/null || true
	rm -rf "$work" /var/run/dpdk/cgpmd-be-$$ /var/run/dpdk/cgpmd-fe-$$
}
trap cleanup EXIT

wait_for() { # file regex seconds
	local i
	for ((i = 0; i < $3 * 2; i++)); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.5
	done
	return 1
}

# callgrind calls= lines: how often each burst function was entered
count_calls() { # cg.out function
	awk -v f="$2" '
		/^c?fn=\(/ {
			id = $1; sub(/^c?fn=/, "", id)
			if (NF > 1) name[id] = $2
			cur = ($0 ~ /^cfn=/) ? name[id] : ""
			next
		}
		/^calls=/ && cur == f { split($0, a, /[= ]/); n += a[2]; cur = "" }
		END { print n + 0 }' "$1"
}

run() { # backend mrg size
	local be=$1 mrg=$2 size=$3 d=$work/$1.$2.$3
	local bargs deq enq ready bpid fpid bin fin
	mkdir "$d"
	if [ "$be" = vhu ]; then
		bargs=(-d "$plugin" --vdev "net_vhu0,iface=$d/s,queues=1")
		deq=vhu_dequeue_burst enq=vhu_enqueue_burst ready='vring 1 enabled'
	else
		bargs=(--vdev "net_vhost0,iface=$d/s,queues=1")
		deq=rte_vhost_dequeue_burst enq=rte_vhost_enqueue_burst
		ready='now ready for processing'
	fi
	mkfifo "$d/be.in" "$d/fe.in"
	valgrind --tool=callgrind --callgrind-out-file="$d/cg.out" \
		--toggle-collect=$deq --toggle-collect=$enq \
		dpdk-testpmd --lcores=0@1,1@1 --no-huge -m 512 \
		--file-prefix="cgpmd-be-$$" --no-pci "${bargs[@]}" -- \
		-i --no-mlockall --total-num-mbufs=16384 --forward-mode=io \
		--rxd=1024 --txd=1024 < "$d/be.in" > "$d/be.log" 2>&1 &
	bpid=$!; pids+=("$bpid")
	exec {bin}>"$d/be.in"
	wait_for "$d/be.log" 'testpmd>' 300 || { echo "$be: backend did not start" >&2; kill "$bpid"; return 1; }
	echo start >&"$bin"
	if [ -n "${PUMP:-}" ]; then
		local layout=split
		[ "${PACKED:-0}" = 1 ] && layout=packed
		callgrind_control -z "$bpid" > /dev/null 2>&1 || true
		chrt -f 10 "$PUMP" --socket "$d/s" --layout $layout --mrg "$mrg" \
			--in-order "${IN_ORDER:-0}" --size "$size" --ring 1024 \
			--cpu 0 --seconds "$secs" > "$d/fe.log" 2>&1 ||
			echo "$be: vhu-pump failed: $(tail -1 "$d/fe.log")" >&2
		echo stop >&"$bin"
		sleep 3
		echo "show port stats all" >&"$bin"
		sleep 1
		echo quit >&"$bin"; exec {bin}>&-
		wait "$bpid" || true
	else
		dpdk-testpmd --lcores=0@0,1@0 --no-huge -m 512 --single-file-segments \
			--file-prefix="cgpmd-fe-$$" --no-pci \
			--vdev "net_virtio_user0,path=$d/s,queues=1,queue_size=1024,packed_vq=${PACKED:-0},in_order=${IN_ORDER:-0},mrg_rxbuf=$mrg" \
			-- -i --no-mlockall --total-num-mbufs=16384 --forward-mode=io \
			--rxd=1024 --txd=1024 < "$d/fe.in" > "$d/fe.log" 2>&1 &
		fpid=$!; pids+=("$fpid")
		exec {fin}>"$d/fe.in"
		# the guest's handshake waits for the backend, which valgrind slows
		if ! wait_for "$d/fe.log" 'testpmd>' 300 ||
		   ! wait_for "$d/be.log" "$ready" 300; then
			echo "$be: guest or device not ready" >&2
			kill "$fpid" "$bpid" 2>/dev/null || true
			wait "$fpid" "$bpid" 2>/dev/null || true
			return 1
	fi
	sleep 3
	echo "set txpkts $size" >&"$fin"
	callgrind_control -z "$bpid" > /dev/null 2>&1 || true
	echo "start tx_first 32" >&"$fin"
	sleep "$secs"
	echo stop >&"$bin"
	sleep 3
	echo "show port stats all" >&"$bin"
	echo quit >&"$fin"; exec {fin}>&-
	sleep 2
	echo quit >&"$bin"; exec {bin}>&-
	wait "$bpid" || true
	wait "$fpid" 2>/dev/null || true
	fi
	local pkts ann dIr eIr dcalls
	if [ -n "${CG_KEEP:-}" ]; then
		mkdir -p "$CG_KEEP"
		cp "$d/cg.out" "$CG_KEEP/$be.$mrg.$size.cg.out"
	fi
	pkts=$(grep -E 'RX-packets:' "$d/be.log" | tail -1 | awk '{print $2}')
	ann=$(callgrind_annotate --inclusive=yes "$d/cg.out" 2>/dev/null)
	dIr=$(grep -E "[ :]$deq( |\$)" <<< "$ann" | head -1 | awk '{gsub(",", "", $1); print $1}')
	eIr=$(grep -E "[ :]$enq( |\$)" <<< "$ann" | head -1 | awk '{gsub(",", "", $1); print $1}')
	dcalls=$(count_calls "$d/cg.out" "$deq")
	awk -v b="$be" -v m="$mrg" -v s="$size" -v p="${pkts:-0}" -v d="${dIr:-0}" \
	    -v e="${eIr:-0}" -v c="$dcalls" 'BEGIN {
		if (p == 0) { printf "%-6s %-4s %-5s %10s\n", b, m, s, "no traffic"; exit }
		printf "%-6s %-4s %-5s %10d %10d %10.1f %10.1f\n",
		       b, m, s, p, c, d / p, e / p }'
}

printf '%-6s %-4s %-5s %10s %10s %10s %10s\n' backend mrg size pkts \
	'deq calls' 'deq Ir/pkt' 'enq Ir/pkt'
echo "packed_vq=${PACKED:-0} in_order=${IN_ORDER:-0}"
for size in ${SIZES:-64 1518}; do
	for mrg in ${MRGS:-0 1}; do
		for be in ${BACKENDS:-vhu vhost}; do
			run "$be" "$mrg" "$size" || true
		done
	done
done
