#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Loopback throughput of vhu's net_vhu PMD against DPDK's net_vhost, measured
# side by side in one run, in two harnesses that differ in the frontend.
#
# 1. Backend-bound (the first table; --pump alone):
#   backend  dpdk-testpmd, io forwarding, --record-core-cycles, forwarding
#            lcore pinned to CPU $BACKEND_CPU, port = net_vhu (-d plugin) or
#            DPDK's net_vhost, same devargs;
#   frontend build/app/test/bench/vhu-pump on CPU $FRONTEND_CPU: a frontend
#            that only recycles descriptors and touches one cache line per
#            frame (doc/guide/benchmark.md), rings of $BENCH_RING
#            descriptors (default 256, what QEMU gives a Linux guest), guest memory on
#            hugetlbfs when the backend has hugepages. It fills the
#            backend's receive side and takes back what it forwards.
#   Rows add both backends' cycles/packet ratio, the pump's own cycles per
#   frame (both directions, busy polls) and which side was the limit:
#   "backend" when the backend lcore's busy cycles (Mpps x cycles/packet)
#   filled at least 85% of the clock, "pump" when the pump's busy polls
#   took at least 85% of its time and the backend's did not; "-" neither
#   (a shared machine). 1518-byte rows give vhu's Mpps against the copy
#   bound printed in the header (build/devtools/vhu-memcpy-bound: two
#   rte_memcpy of 1518 B per looped frame, buffers in the backend's cache;
#   the bound for buffers the other CPU wrote is printed beside it).
#
# 2. Closed loop (the second table; --loop alone):
#   backend  dpdk-testpmd, io forwarding, --record-core-cycles, forwarding
#            lcore pinned to CPU $BACKEND_CPU, port = net_vhu (-d plugin) or
#            DPDK's net_vhost, same devargs;
#   frontend dpdk-testpmd, net_virtio_user, io forwarding, forwarding lcore
#            pinned to CPU $FRONTEND_CPU, --single-file-segments,
#            "start tx_first 32": frames circulate between the two.
#
# For each configuration of the matrix {split, packed} x {mergeable off, on}
# x {64, 1518 bytes} x {VIRTIO_F_IN_ORDER off, on (virtio_user in_order=1)},
# plus two-queue-pair runs (queues=2 both sides, --rxq=2 --txq=2, one
# forwarding lcore per side polling both; names "... 2qp ...") and any
# BENCH_EXTRA configurations, vhu and
# net_vhost runs alternate. A run measures the backend's received packets
# over a $WINDOW-second window after a $WARMUP-second warm-up, and reads
# testpmd's CPU cycles/packet of the backend forwarding lcore (22.11 counts
# only polls that received something: the cost of a packet, not of idling).
# "in_order off" rows pass in_order=0: virtio_user asks for IN_ORDER unless
# told not to.
#
# Placement. Every ring index and descriptor crosses between the two CPUs,
# so throughput follows the cost of moving a cache line between them, and
# in a virtual machine the host decides that and changes it between runs
# (here: ~55 ns round trip when the vCPUs share a core complex, ~325 ns
# when not; loopback Mpps differ by 2-3x between the two). So once a second
# during the window build/devtools/vhu-core-latency measures it for 20 ms
# (under SCHED_FIFO, pausing both forwarding lcores for that long: 0.4%)
# and the run is labelled "near" (every probe < $NEAR_NS ns) or "far"
# (every probe above); a run whose probes disagree is dropped. Backends are
# compared only within one state: a configuration alternates until one
# state holds $RUNS runs of each, or 2 x $RUNS attempts each. One table row
# per configuration and state: median Mpps of each, the ratio
# vhu/net_vhost, backend cycles per packet, runs kept.
#
# Memory: hugepages when 2 GiB of 2 MiB pages are free (each testpmd takes
# -m 1024), else --no-huge (4 KiB pages: TLB misses halve throughput, so
# the two are not comparable). BENCH_HUGE=0|1 forces one.
#
# --stream measures each direction on its own instead (open loop, nothing
# circulates): "guest tx" rows have the frontend in txonly mode and the
# backend in rxonly (vhu's dequeue), "guest rx" rows the backend in txonly
# and the frontend in rxonly (vhu's enqueue), each counted at the receiving
# port. The closed loop settles into throughput plateaus a factor of two
# apart (how the circulating frames bunch into bursts) for both backends
# alike, so its single runs jump; the open-loop rows do not.
#
# --tso measures TCP segmentation offload instead, open loop as --stream,
# with build/app/test/bench/vhu-bench-tso (bench_tso.c) on both sides in
# place of testpmd, which has no TCP generator: backend port net_vhu or
# net_vhost with tso=1 (same devargs), frontend net_virtio_user with
# mrg_rxbuf=1 (a 64 KiB frame needs many receive buffers). The generator
# sends 65226-byte TCP/IPv4 frames (45 x 1448 payload bytes, a Linux
# guest's bulk TCP) flagged RTE_MBUF_F_TX_TCP_SEG with tso_segsz 1448; the
# virtio_user port enables TCP_TSO | TCP_CKSUM (tx) and TCP_LRO | TCP_CKSUM
# (rx), so it asks for HOST_TSO4/6 + CSUM and GUEST_TSO4/6 + GUEST_CSUM.
# "TSO guest tx": frontend --tx, backend --rx (dequeue of whole GSO
# frames); "TSO guest rx": backend --tx, frontend --rx (enqueue of whole
# GSO frames). The receiver counts frames, TCP payload bytes and frames
# that arrived whole with a segmentation flag (RX_LRO or TX_TCP_SEG); rows
# give payload Gbit/s, kframes/s, payload Gbit/s per CPU second the
# backend thread got (CLOCK_THREAD_CPUTIME_ID: on a machine shared with
# other jobs the wall-clock figures follow the scheduler), the backend
# lcore's TSC cycles per frame (busy loop iterations only, as
# --record-core-cycles; preemption inside one counts), the share of
# frames that arrived whole as GSO frames, and whether the backend's log
# shows the offload features negotiated (vhu: its "features" line;
# net_vhost: "negotiated Virtio features"). A row where either is not so
# says it: its figures then measure something else (software segmentation,
# plain 64 KiB frames). Placement, alternation and runs as above.
#
# Usage: devtools/bench.sh [--build DIR] [--runs N] [--window S] [--stream]
#                          [--tso] [--pump|--loop] [--quick] [--only REGEX]
#                          [--out FILE] [--plot FILE.svg]
#   --pump, --loop only that harness's table (default: both, pump first)
#   --dma          the backend-bound harness with net_vhu alone, its
#                  guest-receive copies on the CPU and then on a DMA
#                  channel (dmas=[txq0@dma_skeleton:0]: DPDK's software
#                  engine, whose copy thread runs on the pump's CPU),
#                  split and packed in_order=1 mrg=0 at 64 and 1518 B:
#                  the backend lcore's cycles per packet with and without
#   --plot FILE    also draw the tables as bars (devtools/bench-plot.sh,
#                  gnuplot), one chart per table: FILE, FILE-loop.svg
#                  (--dma: the polling core's cost with the channel)
#   --quick        1 run each, 3 s windows (a smoke check, not a result)
#   --only REGEX   only configurations whose name matches (e.g. 'split')
#   --out FILE     also write the tables (markdown) to FILE
#   BENCH_VERBOSE=1 prints every run on stderr, with the frontend's cycles/packet
#                   (Mpps x cycles/packet near the clock: that side paced)
#   BENCH_PLUGIN=SO the net_vhu plugin to load (default: the build's)
#   BENCH_LOGS=DIR  keeps each --tso run's two logs (features, offloads
#                   enabled, counters, the PMD's xstats) in DIR
#   BENCH_PERF=DIR  records both forwarding CPUs with perf during each
#                   window into DIR/<config>.<backend>.<run>.data (cpu-clock
#                   samples; perf report --cpu N picks one side; figures
#                   of such runs are perturbed)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$REPO/build
runs=3
window=5
warmup=2
only=.
out=
stream=0
tso=0
harness=both
pump_ring=${BENCH_RING:-256}
plot=
BACKEND_CPU=${BACKEND_CPU:-1}
FRONTEND_CPU=${FRONTEND_CPU:-0}

while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$(cd "$2" && pwd); shift ;;
	--runs) runs=$2; shift ;;
	--window) window=$2; shift ;;
	--quick) runs=1; window=3; warmup=1 ;;
	--stream) stream=1 ;;
	--tso) tso=1 ;;
	--pump) harness=pump ;;
	--dma) harness=dma ;;
	--loop) harness=loop ;;
	--plot) plot=$2; shift ;;
	--only) only=$2; shift ;;
	--out) out=$2; shift ;;
	-h|--help) sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

plugin=${BENCH_PLUGIN:-$build/drivers/net/vhost/librte_net_vhu.so}
tso_app=$build/app/test/bench/vhu-bench-tso
pump=$build/app/test/bench/vhu-pump
membound=$build/devtools/vhu-memcpy-bound
# --stream and --tso are closed-loop style harnesses of their own
[ "$stream" = 0 ] && [ "$tso" = 0 ] || harness=loop
if [ "$harness" != loop ]; then
	for x in "$pump" "$membound"; do
		[ -x "$x" ] || { echo "bench.sh: $x not built (meson setup with -Dtests=true, the default; ninja -C $build)" >&2; exit 1; }
	done
fi
if [ -n "$plot" ]; then
	command -v gnuplot >/dev/null || { echo "bench.sh: --plot needs gnuplot (devtools/setup.sh installs gnuplot-nox)" >&2; exit 1; }
fi
[ "$tso" = 0 ] || [ -x "$tso_app" ] || { echo "bench.sh: $tso_app not built (meson -Dtests=true; ninja -C $build)" >&2; exit 1; }
[ -f "$plugin" ] || { echo "bench.sh: $plugin not built (run: ninja -C $build)" >&2; exit 1; }
command -v dpdk-testpmd >/dev/null || { echo "bench.sh: dpdk-testpmd missing (devtools/setup.sh)" >&2; exit 1; }

# Sockets live in a private directory: DPDK refuses -d plugins from
# world-writable trees, and other users must not reach our sockets.
work=$(mktemp -d "$build/bench.XXXXXX")
chmod 700 "$work"
pids=()
cleanup() {
	for p in "${pids[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$work" /var/run/dpdk/vhubench-be-$$ /var/run/dpdk/vhubench-fe-$$
	# a testpmd that had to be killed leaves its hugepage files behind
	rm -f /dev/hugepages/vhubench-be-$$* /dev/hugepages/vhubench-fe-$$*
}
trap cleanup EXIT

if [ -n "${BENCH_PERF:-}" ]; then
	command -v perf >/dev/null || { echo "bench.sh: BENCH_PERF needs perf (apt-get install linux-perf)" >&2; exit 1; }
	mkdir -p "$BENCH_PERF"
	BENCH_PERF=$(cd "$BENCH_PERF" && pwd)
fi

NEAR_NS=${NEAR_NS:-150}
probe=$build/devtools/vhu-core-latency
[ -x "$probe" ] || { echo "bench.sh: $probe not built (run: ninja -C $build)" >&2; exit 1; }

huge=${BENCH_HUGE:-auto}
if [ "$huge" = auto ]; then
	free_pages=$(awk '/HugePages_Free/ { print $2 }' /proc/meminfo)
	page_kb=$(awk '/Hugepagesize/ { print $2 }' /proc/meminfo)
	huge=0
	if [ "$page_kb" = 2048 ] && [ "${free_pages:-0}" -ge 1024 ] &&
	   grep -q hugetlbfs /proc/mounts; then
		huge=1
	fi
fi
mem_args=(--no-huge -m 1024)
[ "$huge" = 1 ] && mem_args=(-m 1024)

# near|far from one 20 ms probe of the two forwarding CPUs, taken while
# both run: real-time priority so that the probe's two threads run at once
# (chrt needs root; without it the probe shares the CPUs and reads high).
placement() {
	local ns
	ns=$(timeout 5 chrt -f 50 "$probe" "$BACKEND_CPU" "$FRONTEND_CPU" 20 2>/dev/null ||
	     timeout 5 "$probe" "$BACKEND_CPU" "$FRONTEND_CPU" 20 2>/dev/null) || { echo unknown; return; }
	if [ "$ns" -lt "$NEAR_NS" ]; then echo near; else echo far; fi
}

# Start an interactive testpmd reading commands from a fifo.
# $1 name, rest: testpmd arguments. Sets TP_PID, TP_IN (fd), TP_LOG.
start_testpmd() {
	local name=$1; shift
	local fifo=$work/$name.in
	mkfifo "$fifo"
	TP_LOG=$work/$name.log
	dpdk-testpmd "$@" < "$fifo" > "$TP_LOG" 2>&1 &
	TP_PID=$!
	pids+=("$TP_PID")
	exec {TP_IN}>"$fifo"
}

wait_for() { # file regex seconds
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

stop_testpmd() { # pid fd
	echo quit >&"$2" 2>/dev/null || true
	eval "exec $2>&-" 2>/dev/null || true
	local i
	for ((i = 0; i < 50; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# One measurement. $1 backend (vhu|vhost) $2 packed $3 mrg $4 size
# $5 extra virtio_user devargs $6 queue pairs. Prints "mpps cycles" or
# "fail". With several queue pairs each side still has one forwarding
# lcore (2 CPUs: one per side), which polls all its queues in turn.
measure() {
	local be=$1 packed=$2 mrg=$3 size=$4 extra=$5 q=${6:-1} mode=${7:-loop}
	local bfwd=io ffwd=io
	case $mode in
	gtx) bfwd=rxonly; ffwd=txonly ;;
	grx) bfwd=txonly; ffwd=rxonly ;;
	esac
	local sock=$work/s.$RANDOM
	local bargs fargs bpid bin fpid fin blog flog
	local qargs=(--rxq="$q" --txq="$q" --nb-cores=1)
	if [ "$be" = vhu ]; then
		bargs=(-d "$plugin" --vdev "net_vhu0,iface=$sock,queues=$q")
	else
		bargs=(--vdev "net_vhost0,iface=$sock,queues=$q")
	fi
	start_testpmd be "--lcores=0@$FRONTEND_CPU,1@$BACKEND_CPU" "${mem_args[@]}" \
		--file-prefix="vhubench-be-$$" --no-pci "${bargs[@]}" -- \
		-i --no-mlockall --total-num-mbufs=32768 --forward-mode=$bfwd \
		--record-core-cycles --rxd=1024 --txd=1024 "${qargs[@]}"
	bpid=$TP_PID; bin=$TP_IN; blog=$TP_LOG
	wait_for "$blog" 'testpmd>' 20 || { echo fail; stop_testpmd "$bpid" "$bin"; rm -f "$work"/*.in; return; }
	[ "$mode" = grx ] && echo "set txpkts $size" >&"$bin"
	echo start >&"$bin"
	start_testpmd fe "--lcores=0@$BACKEND_CPU,1@$FRONTEND_CPU" "${mem_args[@]}" \
		--single-file-segments --file-prefix="vhubench-fe-$$" --no-pci \
		--vdev "net_virtio_user0,path=$sock,queues=$q,queue_size=1024,packed_vq=$packed,mrg_rxbuf=$mrg$extra" \
		-- -i --no-mlockall --total-num-mbufs=32768 --forward-mode=$ffwd \
		--record-core-cycles --rxd=1024 --txd=1024 "${qargs[@]}"
	fpid=$TP_PID; fin=$TP_IN; flog=$TP_LOG
	if ! wait_for "$flog" 'testpmd>' 20; then
		echo fail
		stop_testpmd "$fpid" "$fin"; stop_testpmd "$bpid" "$bin"
		rm -f "$work"/*.in; return
	fi
	case $mode in
	loop) echo "set txpkts $size" >&"$fin"; echo "start tx_first 32" >&"$fin" ;;
	gtx) echo "set txpkts $size" >&"$fin"; echo start >&"$fin" ;;
	grx) echo start >&"$fin" ;;
	esac
	sleep "$warmup"
	# the receiving side counts: the guest's port for grx
	local rlog=$blog rin=$bin
	[ "$mode" = grx ] && { rlog=$flog; rin=$fin; }
	# Two readings of the port's counters frame the window: "clear port
	# stats" is not used, as a PMD may lose a reset racing its lcore.
	echo "clear fwd stats all" >&"$bin" 2>/dev/null || true
	echo "clear fwd stats all" >&"$fin" 2>/dev/null || true
	echo "show port stats all" >&"$rin"
	local t0 states=" " s perfpid=
	if [ -n "${BENCH_PERF:-}" ]; then
		perf record -q -C "$BACKEND_CPU,$FRONTEND_CPU" -o "$BENCH_PERF/$perf_tag.$be.$perf_run.data" \
			-- sleep "$window" >/dev/null 2>&1 &
		perfpid=$!
	fi
	t0=$(date +%s.%N)
	for ((s = 0; s < window; s++)); do
		sleep 0.9
		states+="$(placement) "
	done
	# the window is what passed, probes included
	local elapsed
	elapsed=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
	if [ -n "$perfpid" ] && ! wait "$perfpid"; then
		echo "bench.sh: perf record failed for $perf_tag.$be.$perf_run" >&2
	fi
	echo "show port stats all" >&"$rin"
	echo "stop" >&"$bin"
	echo "stop" >&"$fin"
	sleep 1
	stop_testpmd "$fpid" "$fin"
	stop_testpmd "$bpid" "$bin"
	rm -f "$work"/*.in
	# RX-packets of the receiving port, last reading minus the one before
	local rxp cyc fcyc
	rxp=$(grep -E 'RX-packets:.*RX-missed' "$rlog" | tail -2 |
	      awk '{ v[NR] = $2 } END { if (NR == 2) print v[2] - v[1] }')
	cyc=$(grep -E 'CPU cycles/packet' "$blog" | tail -1 |
	      sed -E 's/.*CPU cycles\/packet=([0-9.]+).*/\1/')
	# the frontend's own cost, to tell which side paced the run
	fcyc=$(grep -E 'CPU cycles/packet' "$flog" | tail -1 |
	       sed -E 's/.*CPU cycles\/packet=([0-9.]+).*/\1/')
	if [ -z "$rxp" ] || [ "$rxp" = 0 ]; then echo fail; return; fi
	local state=mixed
	[[ $states =~ unknown ]] && echo "bench.sh: placement probe failed ($probe)" >&2
	[[ $states =~ ^( near)+\ $ ]] && state=near
	[[ $states =~ ^( far)+\ $ ]] && state=far
	awk -v p="$rxp" -v w="$elapsed" -v c="${cyc:-nan}" -v s="$state" \
		-v f="${fcyc:-nan}" \
		'BEGIN { printf "%.3f %s %s %s\n", p / w / 1e6, c, s, f }'
}

# One backend-bound measurement: vhu-pump against the backend testpmd.
# $1 backend (vhu|vhost) $2 packed $3 mrg $4 size $5 in_order $6 queue
# pairs. Prints "mpps cycles placement pump-cycles pump-busy limit" or
# "fail".
measure_pump() {
	local be=$1 packed=$2 mrg=$3 size=$4 io=$5 q=$6
	local sock=$work/s.$RANDOM bargs bpid bin blog plog=$work/pump.log
	local layout=split hugeargs=() ppid
	[ "$packed" = 1 ] && layout=packed
	[ "$huge" = 1 ] && hugeargs=(--huge /dev/hugepages)
	case $be in
	vhu) bargs=(-d "$plugin" --vdev "net_vhu0,iface=$sock,queues=$q") ;;
	vhudma)
		# the engine's copy thread on lcore 0, the pump's CPU
		bargs=(-d "$plugin" --iova-mode=va --vdev dma_skeleton,lcore=0
		       --vdev "net_vhu0,iface=$sock,queues=$q,dmas=[txq0@dma_skeleton:0]") ;;
	*) bargs=(--vdev "net_vhost0,iface=$sock,queues=$q") ;;
	esac
	start_testpmd be "--lcores=0@$FRONTEND_CPU,1@$BACKEND_CPU" "${mem_args[@]}" \
		--file-prefix="vhubench-be-$$" --no-pci "${bargs[@]}" -- \
		-i --no-mlockall --total-num-mbufs=32768 --forward-mode=io \
		--record-core-cycles --rxd=1024 --txd=1024 --no-flush-rx \
		--rxq="$q" --txq="$q" --nb-cores=1
	bpid=$TP_PID; bin=$TP_IN; blog=$TP_LOG
	wait_for "$blog" 'testpmd>' 20 || { echo fail; stop_testpmd "$bpid" "$bin"; rm -f "$work"/*.in; return; }
	echo start >&"$bin"
	wait_for "$blog" 'forwards packets on' 10 || true
	"$pump" --socket "$sock" --layout "$layout" --queues "$q" --mrg "$mrg" \
		--in-order "$io" --size "$size" --ring "$pump_ring" --cpu "$FRONTEND_CPU" \
		--seconds $((warmup + window + 3)) "${hugeargs[@]}" >"$plog" 2>&1 &
	ppid=$!
	pids+=("$ppid")
	sleep "$warmup"
	echo "clear fwd stats all" >&"$bin"
	echo "show port stats all" >&"$bin"
	local t0 states=" " s elapsed perfpid=
	if [ -n "${BENCH_PERF:-}" ]; then
		perf record -q -C "$BACKEND_CPU,$FRONTEND_CPU" -o "$BENCH_PERF/$perf_tag.$be.$perf_run.data" \
			-- sleep "$window" >/dev/null 2>&1 &
		perfpid=$!
	fi
	t0=$(date +%s.%N)
	for ((s = 0; s < window; s++)); do
		sleep 0.9
		states+="$(placement) "
	done
	elapsed=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
	if [ -n "$perfpid" ] && ! wait "$perfpid"; then
		echo "bench.sh: perf record failed for $perf_tag.$be.$perf_run" >&2
	fi
	echo "show port stats all" >&"$bin"
	echo "stop" >&"$bin"
	wait "$ppid" 2>/dev/null
	local prc=$?
	sleep 0.5
	stop_testpmd "$bpid" "$bin"
	rm -f "$work"/*.in
	local rxp cyc line
	rxp=$(grep -E 'RX-packets:.*RX-missed' "$blog" | tail -2 |
	      awk '{ v[NR] = $2 } END { if (NR == 2) print v[2] - v[1] }')
	cyc=$(grep -E 'CPU cycles/packet' "$blog" | tail -1 |
	      sed -E 's/.*CPU cycles\/packet=([0-9.]+).*/\1/')
	line=$(grep -a '^pump:' "$plog")
	if [ "$prc" != 0 ] || [ -z "$line" ] || [ -z "$rxp" ] || [ "$rxp" = 0 ]; then
		[ -n "${BENCH_VERBOSE:-}" ] && { echo "  pump exit $prc:"; tail -3 "$plog"; } >&2
		echo fail; return
	fi
	local state=mixed
	[[ $states =~ unknown ]] && echo "bench.sh: placement probe failed ($probe)" >&2
	[[ $states =~ ^( near)+\ $ ]] && state=near
	[[ $states =~ ^( far)+\ $ ]] && state=far
	local pc pb
	pc=$(sed -E 's/.*pump_cycles_per_frame=([0-9.]+).*/\1/' <<< "$line")
	pb=$(sed -E 's/.* busy=([0-9.]+).*/\1/' <<< "$line")
	awk -v p="$rxp" -v w="$elapsed" -v c="${cyc:-nan}" -v s="$state" \
		-v pc="$pc" -v pb="$pb" -v hz="$tsc_mhz" 'BEGIN {
		m = p / w / 1e6
		lim = "-"
		if (c != "nan" && m * c >= 0.85 * hz) lim = "backend"
		else if (pb >= 0.85) lim = "pump"
		printf "%.3f %s %s %s %s %s\n", m, c, s, pc, pb, lim }'
}

# ---- --tso: vhu-bench-tso on both sides ----

# Start vhu-bench-tso in the background. $1 name, rest: its arguments.
# Sets AP_PID, AP_LOG.
start_app() {
	local name=$1; shift
	AP_LOG=$work/$name.log
	"$tso_app" "$@" > "$AP_LOG" 2>&1 &
	AP_PID=$!
	pids+=("$AP_PID")
}

stop_app() { # pid: SIGINT makes it print its totals and xstats, then exit
	kill -INT "$1" 2>/dev/null || true
	local i
	for ((i = 0; i < 50; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# "first last" values of field $2 in the last two mark lines of log $1
mark_field() {
	grep '^mark ' "$1" | tail -2 | sed -E "s/.* $2=([0-9]+).*/\1/" | paste -sd' '
}

# Whether the backend's log shows bits $2 (hex mask) in the features the
# frontend last set: "yes" or "no".
negotiated() { # log mask
	local f
	f=$(grep -oE '(features|negotiated Virtio features:) 0x[0-9a-f]+' "$1" |
	    tail -1 | grep -oE '0x[0-9a-f]+')
	if [ -n "$f" ] && (( (f & $2) == $2 )); then echo yes; else echo no; fi
}

keep_logs() { # backend backend-log frontend-log: into $BENCH_LOGS, if set
	[ -n "${BENCH_LOGS:-}" ] || return 0
	mkdir -p "$BENCH_LOGS"
	cp "$2" "$BENCH_LOGS/$perf_tag.$1.$perf_run.backend.log" 2>/dev/null || true
	cp "$3" "$BENCH_LOGS/$perf_tag.$1.$perf_run.frontend.log" 2>/dev/null || true
}

# One --tso measurement. $1 backend (vhu|vhost) $2 packed $3 gtx|grx.
# Prints "gbit/s kframes/s cycles/frame placement gso% negotiated
# gbit/s-per-backend-cpu-second backend-cpu-share" or "fail".
measure_tso() {
	local be=$1 packed=$2 dir=$3
	local sock=$work/s.$RANDOM brole=--rx frole=--tx mask=0x801
	# gtx: CSUM (0) + HOST_TSO4 (11); grx: GUEST_CSUM (1) + GUEST_TSO4 (7)
	[ "$dir" = grx ] && { brole=--tx; frole=--rx; mask=0x82; }
	local bargs bpid blog fpid flog
	if [ "$be" = vhu ]; then
		bargs=(-d "$plugin" --vdev "net_vhu0,iface=$sock,tso=1"
		       --log-level=pmd.net.vhu:info)
	else
		bargs=(--vdev "net_vhost0,iface=$sock,tso=1"
		       --log-level=lib.vhost.config:info)
	fi
	start_app be "--lcores=0@$BACKEND_CPU" "${mem_args[@]}" \
		--file-prefix="vhubench-be-$$" --no-pci "${bargs[@]}" -- "$brole"
	bpid=$AP_PID; blog=$AP_LOG; flog=$work/fe.log
	rm -f "$flog"
	if ! wait_for "$blog" '^ready' 20; then
		echo fail; stop_app "$bpid"; keep_logs "$be" "$blog" "$flog"
		return
	fi
	start_app fe "--lcores=0@$FRONTEND_CPU" "${mem_args[@]}" \
		--single-file-segments --file-prefix="vhubench-fe-$$" --no-pci \
		--vdev "net_virtio_user0,path=$sock,queues=1,queue_size=1024,packed_vq=$packed,mrg_rxbuf=1,in_order=1" \
		-- "$frole"
	fpid=$AP_PID; flog=$AP_LOG
	if ! wait_for "$flog" '^ready' 20; then
		echo fail; stop_app "$fpid"; stop_app "$bpid"
		keep_logs "$be" "$blog" "$flog"
		return
	fi
	sleep "$warmup"
	kill -USR1 "$bpid" "$fpid"
	local s states=" "
	for ((s = 0; s < window; s++)); do
		sleep 0.9
		states+="$(placement) "
	done
	kill -USR1 "$bpid" "$fpid"
	sleep 0.3
	stop_app "$fpid"
	stop_app "$bpid"
	keep_logs "$be" "$blog" "$flog"
	local rlog=$blog
	[ "$dir" = grx ] && rlog=$flog
	local ns frames payload gso busy bframes bns bcpu
	read -r -a ns <<< "$(mark_field "$rlog" ns)"
	read -r -a frames <<< "$(mark_field "$rlog" frames)"
	read -r -a payload <<< "$(mark_field "$rlog" payload)"
	read -r -a gso <<< "$(mark_field "$rlog" gso)"
	read -r -a busy <<< "$(mark_field "$blog" busy)"
	read -r -a bframes <<< "$(mark_field "$blog" frames)"
	read -r -a bns <<< "$(mark_field "$blog" ns)"
	read -r -a bcpu <<< "$(mark_field "$blog" cpu_ns)"
	if [ "${#ns[@]}" != 2 ] || [ "${#bcpu[@]}" != 2 ] ||
	   [ "${frames[1]}" = "${frames[0]}" ]; then
		echo fail; return
	fi
	local state=mixed neg
	[[ $states =~ unknown ]] && echo "bench.sh: placement probe failed ($probe)" >&2
	[[ $states =~ ^( near)+\ $ ]] && state=near
	[[ $states =~ ^( far)+\ $ ]] && state=far
	neg=$(negotiated "$blog" "$mask")
	awk -v t0="${ns[0]}" -v t1="${ns[1]}" -v f0="${frames[0]}" \
	    -v f1="${frames[1]}" -v p0="${payload[0]}" -v p1="${payload[1]}" \
	    -v g0="${gso[0]}" -v g1="${gso[1]}" -v b0="${busy[0]}" \
	    -v b1="${busy[1]}" -v c0="${bframes[0]}" -v c1="${bframes[1]}" \
	    -v s="$state" -v n="$neg" -v bt0="${bns[0]}" -v bt1="${bns[1]}" \
	    -v u0="${bcpu[0]}" -v u1="${bcpu[1]}" 'BEGIN {
		t = (t1 - t0) / 1e9; f = f1 - f0; c = c1 - c0; u = (u1 - u0) / 1e9
		printf "%.2f %.1f %s %s %.0f %s %s %.0f%%\n",
		       (p1 - p0) * 8 / t / 1e9, f / t / 1e3,
		       (c > 0 ? sprintf("%.0f", (b1 - b0) / c) : "nan"),
		       s, 100 * (g1 - g0) / f, n,
		       (u > 0 ? sprintf("%.2f", (p1 - p0) * 8 / u / 1e9) : "nan"),
		       100 * u * 1e9 / (bt1 - bt0) }'
}

# The distinct words of $1, comma-separated ("-" for none)
note_list() {
	local l
	l=$(tr ' ' '\n' <<< "$1" | grep . | sort -u | paste -sd' ')
	echo "${l:--}"
}

# The --tso rows: name|packed|direction
tso_rows() {
	local tso_table="| configuration | placement | vhu Gbit/s | net_vhost Gbit/s | vhu/net_vhost | vhu kframes/s | net_vhost kframes/s | vhu Gbit/s per backend CPU s | net_vhost Gbit/s per backend CPU s | vhu/net_vhost per CPU s | vhu cycles/frame | net_vhost cycles/frame | whole GSO frames at the receiver, vhu/net_vhost | runs vhu/net_vhost |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	local c name packed dir r be res g k cy st gp ng line rows
	table=$tso_table
	echo "$tso_table"
	for c in "split|0|gtx" "split|0|grx" "packed|1|gtx" "packed|1|grx"; do
		IFS='|' read -r name packed dir <<< "$c"
		name="$name in_order=1 mrg=1 TSO 65226B guest $([ "$dir" = gtx ] && echo tx || echo rx)"
		[[ $name =~ $only ]] || continue
		if [ "$packed" = 1 ] && [ "$vhu_has_packed" = 0 ]; then
			line="| $name | - | - | - | vhu: packed ring not offered by this build | - | - | - | - | - | - | - | - | - |"
			echo "$line"; table+=$'\n'"$line"
			continue
		fi
		declare -A results=() notes=()
		perf_tag=$(tr ' =' '_-' <<< "$name")
		for ((r = 0; r < 2 * runs; r++)); do
			perf_run=$r
			for be in vhu vhost; do
				res=$(measure_tso $be "$packed" "$dir")
				[ "$res" = fail ] && continue
				read -r g k cy st gp ng gc share <<< "$res"
				[ -n "${BENCH_VERBOSE:-}" ] && echo "  $name: $be $g Gbit/s, $k kframes/s, $cy cycles/frame, $gc Gbit/s per backend CPU second (backend got $share of a CPU), $st, ${gp}% whole GSO frames, offloads negotiated: $ng" >&2
				notes[$be]+="$gp%$([ "$ng" = yes ] || echo ',offloads-not-negotiated') "
				if [ "$st" = mixed ]; then
					dropped_total=$((dropped_total + 1))
					continue
				fi
				results[$be.$st]+="$g:$k:$gc:$cy "
			done
			local done_state= st2 nv nh
			for st2 in far near; do
				nv=$(wc -w <<< "${results[vhu.$st2]:-}")
				nh=$(wc -w <<< "${results[vhost.$st2]:-}")
				[ "$nv" -ge "$runs" ] && [ "$nh" -ge "$runs" ] && done_state=$st2
			done
			[ -n "$done_state" ] && break
		done
		rows=0
		for st in far near; do
			local vr=(${results[vhu.$st]:-}) hr=(${results[vhost.$st]:-})
			[ ${#vr[@]} -gt 0 ] && [ ${#hr[@]} -gt 0 ] || continue
			local v h vk hk vc hc cratio vcy hcy ratio x
			v=$(med "${vr[@]%%:*}"); h=$(med "${hr[@]%%:*}")
			vk=$(for x in "${vr[@]}"; do cut -d: -f2 <<< "$x"; done | median)
			hk=$(for x in "${hr[@]}"; do cut -d: -f2 <<< "$x"; done | median)
			vc=$(for x in "${vr[@]}"; do cut -d: -f3 <<< "$x"; done | grep -v nan | median)
			hc=$(for x in "${hr[@]}"; do cut -d: -f3 <<< "$x"; done | grep -v nan | median)
			cratio=$(awk -v a="$vc" -v b="$hc" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')
			vcy=$(med "${vr[@]##*:}"); hcy=$(med "${hr[@]##*:}")
			ratio=$(awk -v a="$v" -v b="$h" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')
			line="| $name | $st | $v | $h | $ratio | $vk | $hk | $vc | $hc | $cratio | ${vcy:--} | ${hcy:--} | $(note_list "${notes[vhu]:-}") / $(note_list "${notes[vhost]:-}") | ${#vr[@]}/${#hr[@]} |"
			echo "$line"; table+=$'\n'"$line"
			rows=$((rows + 1))
		done
		if [ $rows = 0 ]; then
			line="| $name | - | - | - | no comparable runs | - | - | - | - | - | - | - | $(note_list "${notes[vhu]:-}") / $(note_list "${notes[vhost]:-}") | - |"
			echo "$line"; table+=$'\n'"$line"
		fi
		unset results notes
	done
}

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# name|packed|mrg|size|extra virtio_user devargs|queue pairs
configs=()
for io in 1 0; do
	for layout in split packed; do
		for mrg in 0 1; do
			for size in 64 1518; do
				configs+=("$layout in_order=$io mrg=$mrg ${size}B|$([ $layout = packed ] && echo 1 || echo 0)|$mrg|$size|,in_order=$io|1")
			done
		done
	done
done
# two queue pairs: both polled by the one forwarding lcore of each side
for layout in split packed; do
	configs+=("$layout in_order=1 2qp mrg=1 64B|$([ $layout = packed ] && echo 1 || echo 0)|1|64|,in_order=1|2")
done
for extra in ${BENCH_EXTRA:-}; do configs+=("$extra"); done

# A build that does not offer VIRTIO_F_RING_PACKED would make virtio_user
# fall back to a split ring silently; VHU_HAS_PACKED=0 marks packed rows
# as not measured for such a build instead of measuring the wrong thing.
vhu_has_packed=${VHU_HAS_PACKED:-1}
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
tsc_mhz=$(awk '/^cpu MHz/ { printf "%.0f\n", $4; exit }' /proc/cpuinfo)
printf 'vhu loopback benchmark: %s, %s CPUs, %s runs x %ss, %s memory\n' \
	"$cpu" "$(nproc)" "$runs" "$window" "${mem_args[*]}"
bound_line=
if [ "$harness" != loop ]; then
	bound=$("$membound" 1518 256 "$BACKEND_CPU" "$FRONTEND_CPU")
	bound_mpps=$(sed -E 's/.* bound_mpps=([0-9.]+).*/\1/' <<< "$bound")
	bound_line="copy bound at 1518 B: $bound_mpps Mpps (2 x rte_memcpy of $(sed -E 's/.*local_cycles=([0-9.]+).*/\1/' <<< "$bound") cycles, buffers in the backend's cache; $(sed -E 's/.*cross_bound_mpps=([0-9.]+).*/\1/' <<< "$bound") Mpps for buffers the other CPU wrote, $(sed -E 's/.*cross_cycles=([0-9.]+).*/\1/' <<< "$bound") cycles a copy)"
fi
if [ "$stream" = 1 ]; then
	expanded=()
	for c in "${configs[@]}"; do
		IFS='|' read -r name rest <<< "$c"
		expanded+=("$name guest tx|$rest|gtx" "$name guest rx|$rest|grx")
	done
	configs=("${expanded[@]}")
fi
med() { printf '%s\n' "$@" | grep -v nan | grep . | median; }
# field N (1-based) of colon-separated entries, median
fmed() { local n=$1 x; shift; for x in "$@"; do cut -d: -f"$n" <<< "$x"; done | grep -v nan | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
dropped_total=0
if [ "$tso" = 1 ]; then
	tso_rows
	configs=()
fi

# One table: $1 pump|loop. Appends to $tables, sets $last_table.
matrix() {
	local h=$1 table line c name packed mrg size extra q mode r be res
	local m cy st fcy pc pb lim rows nv nh done_state vfail
	local bes=(vhu vhost) mode_h=$h
	if [ "$h" = dma ]; then
		bes=(vhu vhudma)
		h=pump
		echo "DMA: net_vhu without and with dmas=[txq0@dma_skeleton:0], vhu-pump frontend on CPU $FRONTEND_CPU (with the engine's copy thread), backend on CPU $BACKEND_CPU"
		table="| configuration | placement | vhu Mpps | vhu+DMA Mpps | CPU/DMA copies | vhu cycles/pkt | vhu+DMA cycles/pkt | cycles CPU/DMA copies | pump cycles/frame CPU/DMA | limit CPU/DMA | vhu/copy bound | runs CPU/DMA |
|---|---|---|---|---|---|---|---|---|---|---|---|"
	elif [ "$h" = pump ]; then
		echo "Backend-bound: vhu-pump frontend on CPU $FRONTEND_CPU, backend testpmd io forwarding on CPU $BACKEND_CPU"
		echo "$bound_line"
		table="| configuration | placement | vhu Mpps | net_vhost Mpps | vhu/net_vhost | vhu cycles/pkt | net_vhost cycles/pkt | cycles vhu/net_vhost | pump cycles/frame vhu/net_vhost | limit vhu/net_vhost | vhu/copy bound | runs vhu/net_vhost |
|---|---|---|---|---|---|---|---|---|---|---|---|"
	else
		echo "Closed loop: testpmd + net_virtio_user frontend on CPU $FRONTEND_CPU, backend on CPU $BACKEND_CPU"
		table="| configuration | placement | vhu Mpps | net_vhost Mpps | vhu/net_vhost | vhu cycles/pkt | net_vhost cycles/pkt | runs vhu/net_vhost |
|---|---|---|---|---|---|---|---|"
	fi
	echo "$table"
	for c in "${configs[@]}"; do
		IFS='|' read -r name packed mrg size extra q mode <<< "$c"
		[[ $name =~ $only ]] || continue
		if [ "$packed" = 1 ] && [ "$vhu_has_packed" = 0 ]; then
			line="| $name | - | - | - | vhu: packed ring not offered by this build |$([ "$h" = pump ] && echo ' - | - | - | - | - | - |') - | - | - |"
			echo "$line"; table+=$'\n'"$line"
			continue
		fi
		# results[be.state] = space-separated colon-joined figures of kept runs
		declare -A results=()
		vfail=0
		perf_tag=$(tr ' =' '_-' <<< "$h $name")
		for ((r = 0; r < 2 * runs; r++)); do
			perf_run=$r
			for be in "${bes[@]}"; do
				if [ "$h" = pump ]; then
					res=$(measure_pump $be "$packed" "$mrg" "$size" "${extra##*=}" "$q")
				else
					res=$(measure $be "$packed" "$mrg" "$size" "$extra" "$q" "${mode:-loop}")
				fi
				if [ "$res" = fail ]; then
					[ $be = vhu ] && vfail=$((vfail + 1))
					continue
				fi
				if [ "$h" = pump ]; then
					read -r m cy st pc pb lim <<< "$res"
					[ -n "${BENCH_VERBOSE:-}" ] && echo "  $name: $be $m Mpps, $cy cycles/pkt (pump $pc cycles/frame, busy $pb), limit $lim, $st" >&2
				else
					read -r m cy st fcy <<< "$res"
					[ -n "${BENCH_VERBOSE:-}" ] && echo "  $name: $be $m Mpps, $cy cycles/pkt (frontend $fcy), $st" >&2
				fi
				if [ "$st" = mixed ]; then
					dropped_total=$((dropped_total + 1))
					continue
				fi
				if [ "$h" = pump ]; then
					results[$be.$st]+="$m:$cy:$pc:$lim "
				else
					results[$be.$st]+="$m:$cy "
				fi
			done
			done_state=
			for st in far near; do
				nv=$(wc -w <<< "${results[vhu.$st]:-}")
				nh=$(wc -w <<< "${results[${bes[1]}.$st]:-}")
				[ "$nv" -ge "$runs" ] && [ "$nh" -ge "$runs" ] && done_state=$st
			done
			[ -n "$done_state" ] && break
		done
		rows=0
		for st in far near; do
			local vr=(${results[vhu.$st]:-}) hr=(${results[${bes[1]}.$st]:-})
			[ ${#vr[@]} -gt 0 ] && [ ${#hr[@]} -gt 0 ] || continue
			local v hh vcy hcy
			v=$(fmed 1 "${vr[@]}"); hh=$(fmed 1 "${hr[@]}")
			vcy=$(fmed 2 "${vr[@]}"); hcy=$(fmed 2 "${hr[@]}")
			if [ "$h" = pump ]; then
				local vpc hpc vl hl cb=-
				vpc=$(fmed 3 "${vr[@]}"); hpc=$(fmed 3 "${hr[@]}")
				# the limit most of the runs met
				vl=$(for x in "${vr[@]}"; do cut -d: -f4 <<< "$x"; done | sort | uniq -c | sort -rn | awk 'NR == 1 { print $2 }')
				hl=$(for x in "${hr[@]}"; do cut -d: -f4 <<< "$x"; done | sort | uniq -c | sort -rn | awk 'NR == 1 { print $2 }')
				[ "$size" = 1518 ] && cb=$(awk -v a="$v" -v b="$bound_mpps" 'BEGIN { printf "%.0f%%", 100 * a / b }')
				line="| $name | $st | $v | $hh | $(ratio "$v" "$hh") | ${vcy:--} | ${hcy:--} | $(ratio "$vcy" "$hcy") | $vpc / $hpc | $vl / $hl | $cb | ${#vr[@]}/${#hr[@]} |"
			else
				line="| $name | $st | $v | $hh | $(ratio "$v" "$hh") | ${vcy:--} | ${hcy:--} | ${#vr[@]}/${#hr[@]} |"
			fi
			echo "$line"; table+=$'\n'"$line"
			rows=$((rows + 1))
		done
		if [ $rows = 0 ]; then
			line="| $name | - | - | - | no comparable runs (vhu failed $vfail) |$([ "$h" = pump ] && echo ' - | - | - | - | - | - |') - | - | - |"
			echo "$line"; table+=$'\n'"$line"
		fi
		unset results
	done
	last_table=$table
}

tables=
if [ "$harness" = dma ]; then
	# the DMA rows: one guest-receive copy per frame on the channel
	dma_configs=()
	for c in "${configs[@]}"; do
		[[ $c =~ ^(split|packed)\ in_order=1\ mrg=0\ (64|1518)B ]] && dma_configs+=("$c")
	done
	configs=("${dma_configs[@]}")
	matrix dma
	tables+="### Backend-bound, net_vhu with its receive copies on a DMA channel"$'\n\n'"$last_table"$'\n\n'
	pump_table=$last_table
	configs=()
fi
if [ "$harness" != loop ] && [ "${#configs[@]}" -gt 0 ]; then
	matrix pump
	tables+="### Backend-bound: vhu-pump frontend"$'\n\n'"$bound_line"$'\n\n'"$last_table"$'\n\n'
	pump_table=$last_table
fi
if [ "$harness" != pump ] && [ "${#configs[@]}" -gt 0 ]; then
	matrix loop
	tables+="### Closed loop: testpmd + net_virtio_user frontend"$'\n\n'"$last_table"$'\n'
	loop_table=$last_table
fi
[ "$tso" = 1 ] && tables+="$table"$'\n'
echo "runs dropped because the placement changed during them: $dropped_total"
if [ -n "$out" ]; then
	{
		echo "Measured $(date -u +%Y-%m-%d) on: $cpu, $(nproc) CPUs, $(free -g | awk '/Mem:/ {print $2}') GiB,"
		echo "$(uname -r), DPDK $(pkg-config --modversion libdpdk), up to $runs alternating runs x ${window}s per placement, ${mem_args[*]}."
		echo "Runs dropped because the placement changed during them: $dropped_total."
		echo
		printf '%s' "$tables"
	} > "$out"
fi
if [ -n "$plot" ]; then
	if [ -n "${pump_table:-}" ]; then
		"$REPO/devtools/bench-plot.sh" "backend-bound (vhu-pump frontend), $cpu" "$plot" <<< "$pump_table"
	fi
	if [ -n "${loop_table:-}" ]; then
		p=$plot
		[ -n "${pump_table:-}" ] && p=${plot%.svg}-loop.svg
		"$REPO/devtools/bench-plot.sh" "closed loop (testpmd frontend), $cpu" "$p" <<< "$loop_table"
	fi
fi
