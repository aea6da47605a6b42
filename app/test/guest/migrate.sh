#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Live-migration tests with real guests (see doc/guide/guest-tests.md,
# "Migration"). One guest boots on vhost-user socket A; each migration
# starts a fresh destination QEMU (same machine and device options,
# -incoming defer) on the other socket, migrates the running guest to it
# over a unix socket through QMP (qmp.py) and quits the source, so the guest
# goes A -> B -> A ... with the sockets served either by ONE backend process
# (both sockets) or by one backend per socket. During every migration the
# guest runs back-to-back echo runs of the guest tool (every frame numbered
# and verified); the loop stops two runs after the guest received the RARP
# frame the backend produces for SEND_RARP (the guest's rx_dropped
# counter: Linux has no handler for ethertype 0x8035 and counts such frames
# there; nothing else in these tests moves it). After each migration: the destination
# runs, a fresh echo run passes, its serial log has no Oops/panic/BUG, and
# (testpmd) the backend printed a RARP frame from the guest's MAC. This
# script owns the case matrix, the migration sequence and the verdicts;
# lib.sh owns the processes.
#
# Cases: BACKEND/LAYOUT/qQ[/MEM][/idle]
#   BACKEND  lb1  one vhu-loopback serving both sockets
#            lb2  one vhu-loopback per socket
#            tp1  one dpdk-testpmd, two net_vhu ports, --port-topology=loop
#                 (each port echoes to itself)
#            tp2  one dpdk-testpmd with net_vhu per socket
#            nv1  one dpdk-testpmd with DPDK's own net_vhost (a reference:
#                 DPDK offers GUEST_ANNOUNCE, so QEMU sends no SEND_RARP
#                 and the guest announces itself with a gratuitous ARP)
#            nv2  one dpdk-testpmd with net_vhost per socket
#            pc1  tp1 with postcopy-support=1; postcopy-ram on both sides,
#                 migrate-start-postcopy 50 ms after migrate, postcopy
#                 bandwidth (precopy and postcopy) limited to
#                 MIGRATE_PC_BW bytes/s (32 MiB/s)
#   LAYOUT split|packed, Q queue pairs (1|2), MEM memfd, or huge too with
#   VHU_TEST_HUGE=1; idle: no traffic during the migration; cpu: no
#   traffic, the guest forks busybox commands in a loop instead (the vCPU
#   writes kernel memory, the backend writes nothing); memwalk: no
#   traffic, the guest tool rewrites 64 pages in rounds and checks that
#   each round finds the last one's writes (a write the hypervisor's dirty
#   tracking lost comes back older on the destination).
#
# Frames lost: the first GET_VRING_BASE (RX 0) stops every ring of the
# source device (vhu_dev_stop). A burst the backend took from the transmit
# ring just before that, and had not yet enqueued, has nowhere to go: the
# guest sent it before the switch and never gets it back. It is at most one
# burst per queue pair, and the guest never has more than --window (32)
# frames in flight per queue pair, so more than 32 * Q per migration is a
# failure (--max-lost N changes the bound). With testpmd the loss must
# also equal what the source testpmd counted as TX-dropped in that
# migration. A frame corrupted, duplicated or arriving on another queue
# pair is always a failure.
#
# Usage: migrate.sh [--build DIR] [--only PATTERN]... [--count N] [--list]
#                   [--frames N] [--keep] [--selfcheck rarp|echo]
#   --count N      migrations per case (default 1; the guest ping-pongs)
#   --frames N     frames per echo run (default 2000)
#   --selfcheck    prove the checks can fail: 'rarp' stops QEMU announcing
#                  (announce-rounds 0, so no SEND_RARP, no RARP frame);
#                  'echo' runs testpmd in mac mode (frames come back with
#                  other MAC addresses)
#   --max-lost N   frames a migration may lose (default 32 * queue pairs)
#   --memcheck     the destination starts paused (-S); once the migration
#                  completed, both QEMUs dump guest RAM (pmemsave) and the
#                  4 KiB pages that differ are reported (a page the source
#                  side wrote that never reached the destination: a write
#                  the dirty log missed, or one after the final sync), then
#                  the destination continues
#   --only, --list, --keep, --build: as run.sh
# Environment: VHU_TEST_HUGE, VHU_GUEST_KERNEL_DIR, GUEST_BOOT_TIMEOUT,
# GUEST_QEMU_CPUS, GUEST_BE_CPU as run.sh; MIGRATE_RAM guest MiB, or KiB
# with a K suffix (default 262152K on memfd, 256 on hugetlbfs: see ram_k).
# Output: one "MIG" line per migration, one PASS/FAIL line per case.
# Exit status: 0 all passed, 1 a case failed, 77 skipped, 2 usage.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=""
only=()
list=0
frames=2000
keep=0
count=1
selfcheck=""
memcheck=0
max_lost=""
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift ;;
	--only) only+=("$2"); shift ;;
	--list) list=1 ;;
	--frames) frames=$2; shift ;;
	--count) count=$2; shift ;;
	--keep) keep=1 ;;
	--selfcheck) selfcheck=$2; shift ;;
	--memcheck) memcheck=1 ;;
	--max-lost) max_lost=$2; shift ;;
	-h|--help) sed -n '3,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "migrate.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done
case "$selfcheck" in ""|rarp|echo) ;; *) echo "migrate.sh: --selfcheck rarp|echo" >&2; exit 2 ;; esac
[[ $count =~ ^[1-9][0-9]*$ ]] || { echo "migrate.sh: bad --count $count" >&2; exit 2; }
[ "${#only[@]}" -gt 0 ] || only=("*")
[ -n "$build" ] || build=$(cd "$here/../../.." && pwd)/build
build=$(cd "$build" && pwd) || exit 2

# Every case on memfd; with VHU_TEST_HUGE=1 on hugetlbfs as well, which
# QEMU 7.2's TCG migrates with a known bug (see ram_k below).
mem_default=memfd
mems=(memfd)
[ "${VHU_TEST_HUGE:-0}" = 1 ] && { mem_default=huge; mems+=(huge); }
cases=()
for mem in "${mems[@]}"; do
	for be in tp1 lb1 lb2 tp2 nv1 nv2; do
		for layout in split packed; do
			for q in 1 2; do
				cases+=("$be/$layout/q$q/$mem")
			done
		done
	done
	cases+=(tp1/split/q1/$mem/idle nv1/split/q1/$mem/idle
		tp1/split/q1/$mem/cpu nv1/split/q1/$mem/cpu
		tp1/split/q1/$mem/memwalk tp1/packed/q2/$mem/memwalk
		pc1/split/q1/$mem pc1/packed/q2/$mem)
done
selected=()
for c in "${cases[@]}"; do
	for p in "${only[@]}"; do
		# shellcheck disable=SC2053
		if [[ $c == $p ]]; then
			selected+=("$c")
			break
		fi
	done
done
if [ "$list" -eq 1 ]; then
	printf '%s\n' "${selected[@]+"${selected[@]}"}"
	exit 0
fi
[ "${#selected[@]}" -gt 0 ] || { echo "migrate.sh: no case matches ${only[*]}" >&2; exit 2; }

command -v qemu-system-x86_64 >/dev/null ||
	{ echo "migrate.sh: SKIP: no qemu-system-x86_64"; exit 77; }
command -v python3 >/dev/null || { echo "migrate.sh: SKIP: no python3"; exit 77; }
tool=$build/app/test/guest/vhu-guest-tool
GL_LOOPBACK=$build/examples/vhu-loopback
GL_PLUGIN=$build/drivers/net/vhost/librte_net_vhu.so
GL_TESTPMD=$(command -v dpdk-testpmd || true)
for f in "$tool" "$GL_LOOPBACK" "$GL_PLUGIN"; do
	[ -e "$f" ] || { echo "migrate.sh: missing $f (build first)" >&2; exit 1; }
done
[ -n "$GL_TESTPMD" ] || { echo "migrate.sh: no dpdk-testpmd" >&2; exit 1; }
img=$build/app/test/guest/initramfs.cpio.gz
GL_INITRD=$img
GL_KERNEL=$("$here/mkinitramfs.sh" --tool "$tool" --out "$img")
case $? in
0) ;;
77) echo "migrate.sh: SKIP: no guest kernel or busybox (devtools/setup.sh)"; exit 77 ;;
*) echo "migrate.sh: building the guest image failed" >&2; exit 1 ;;
esac
GL_HUGE_DIR=$(awk '$3 == "hugetlbfs" { print $2; exit }' /proc/mounts)
if [ "$mem_default" = huge ] && [ -z "$GL_HUGE_DIR" ]; then
	echo "migrate.sh: VHU_TEST_HUGE=1 but no hugetlbfs mounted" >&2
	exit 1
fi
if [ "$(nproc)" -ge 2 ]; then
	GL_QEMU_CPUS=${GUEST_QEMU_CPUS:-1}
else
	GL_QEMU_CPUS=${GUEST_QEMU_CPUS:-}
fi
GL_BE_CPU=${GUEST_BE_CPU:-0}
BOOT_TIMEOUT=${GUEST_BOOT_TIMEOUT:-90}
# Guest RAM. QEMU 7.2's TCG loses vCPU writes during migration when a RAM
# block is a whole number of 64-page words (it clears dirty bits a word at a
# time and does not re-arm its TLB write tracking; fixed in QEMU 9.0): the
# destination guest then crashes now and then (doc/guide/guest-tests.md,
# Migration). 256 MiB + 8 KiB takes QEMU's page-by-page path, which is
# exact; hugetlbfs memory comes in 2 MiB steps and keeps 256 MiB.
# MIGRATE_RAM overrides both: MiB, or KiB with a K suffix.
ram_k() {
	local r=${MIGRATE_RAM:-}
	if [ -z "$r" ]; then
		[ "$1" = huge ] && echo $(( 256 * 1024 )) || echo $(( 256 * 1024 + 8 ))
	elif [[ $r == *K ]]; then
		echo "${r%K}"
	else
		echo $(( r * 1024 ))
	fi
}
QMP=$here/qmp.py
WINDOW=32

mkdir -p "$build/app/test/guest/work" || exit 1
GL_WORK=$(mktemp -d "$build/app/test/guest/work/mig.XXXXXX") || exit 1
# shellcheck source=app/test/guest/lib.sh
. "$here/lib.sh"
failed=0
gl_cleanup_hook() {
	if [ "$failed" -eq 0 ] && [ "$keep" -eq 0 ]; then
		rm -rf "$GL_WORK"
	else
		echo "migrate.sh: logs kept in $GL_WORK"
	fi
}
gl_init || exit 1
trap 'echo "migrate.sh: interrupted"; failed=1; exit 1' INT TERM

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
value() { sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p" <<<" $2"; }

# ---- backends ---------------------------------------------------------------

# mg_testpmd NAME VDEV-ARGS... : interactive testpmd, io forwarding, every
# port echoing to itself; commands through a FIFO (be_testpmd_cmd works on
# it). MG_PLUGIN=0 runs without the net_vhu plugin (DPDK's net_vhost).
mg_testpmd() {
	local name=$1 log=$GL_WORK/$1.log fifo=$GL_WORK/$1.in v nq=$MG_Q
	local fwd=io plugin=(-d "$GL_PLUGIN")
	shift
	[ "${MG_PLUGIN:-1}" = 0 ] && plugin=()
	[ "$selfcheck" = echo ] && fwd=mac
	rm -f "$fifo"
	mkfifo "$fifo" || return 1
	exec {v}<>"$fifo"
	GL_FD[$name]=$v
	: >"$log"
	# shellcheck disable=SC2046,SC2086
	GL_STDIN=$fifo proc_start "$name" "$log" stdbuf -oL "$GL_TESTPMD" \
		--lcores="0@$GL_BE_CPU,1@$GL_BE_CPU" $(gl_eal "$name" 1024) \
		"${plugin[@]}" ${MG_TESTPMD_EAL:-} "$@" -- \
		-i --rxq="$nq" --txq="$nq" --nb-cores=1 --port-topology=loop \
		--total-num-mbufs=32768 --forward-mode=$fwd
	wait_log "$log" 'testpmd> ' 30 "${GL_PID[$name]}" || return 1
	be_testpmd_cmd "$name" start 'forwards packets on|Packet forwarding already started' 10
}

# mg_backends CASE-BACKEND: start what serves sockets A and B; sets BE_A,
# BE_B (process names, with the case number: logs are per process), BE_KIND
# (lb|tp).
mg_backends() {
	local be=$1 sa=$GL_WORK/a.sock sb=$GL_WORK/b.sock pc="" n=$case_no
	rm -f "$sa" "$sb"
	case "$be" in
	lb1)
		BE_KIND=lb BE_A=lb$n BE_B=lb$n
		# shellcheck disable=SC2046
		proc_start "$BE_A" "$GL_WORK/$BE_A.log" "$GL_LOOPBACK" --lcores="0@$GL_BE_CPU" \
			$(gl_eal "$BE_A") -- --socket "$sa" --socket "$sb" --queues "$MG_Q" --stats 1
		wait_log "$GL_WORK/$BE_A.log" '^vhu-loopback: serving' 20 "$(proc_pid "$BE_A")"
		;;
	lb2)
		BE_KIND=lb BE_A=lb${n}a BE_B=lb${n}b
		be_loopback_start "$BE_A" "$sa" "$MG_Q" && be_loopback_start "$BE_B" "$sb" "$MG_Q"
		;;
	tp1|pc1)
		BE_KIND=tp BE_A=tp$n BE_B=tp$n
		[ "$be" = pc1 ] && pc=",postcopy-support=1"
		mg_testpmd "$BE_A" --vdev "net_vhu0,iface=$sa,queues=$MG_Q$pc" \
			--vdev "net_vhu1,iface=$sb,queues=$MG_Q$pc"
		;;
	tp2)
		BE_KIND=tp BE_A=tp${n}a BE_B=tp${n}b
		mg_testpmd "$BE_A" --vdev "net_vhu0,iface=$sa,queues=$MG_Q" &&
			mg_testpmd "$BE_B" --vdev "net_vhu0,iface=$sb,queues=$MG_Q"
		;;
	nv1)
		BE_KIND=tp BE_A=tp$n BE_B=tp$n
		MG_PLUGIN=0 mg_testpmd "$BE_A" --vdev "net_vhost0,iface=$sa,queues=$MG_Q" \
			--vdev "net_vhost1,iface=$sb,queues=$MG_Q"
		;;
	nv2)
		BE_KIND=tp BE_A=tp${n}a BE_B=tp${n}b
		MG_PLUGIN=0 mg_testpmd "$BE_A" --vdev "net_vhost0,iface=$sa,queues=$MG_Q" &&
			MG_PLUGIN=0 mg_testpmd "$BE_B" --vdev "net_vhost0,iface=$sb,queues=$MG_Q"
		;;
	esac
}

# Stops the backends; what went wrong in MG_STOP.
mg_backends_stop() {
	local n
	MG_STOP=""
	for n in "$BE_A" "$BE_B"; do
		[ -n "${GL_PID[$n]:-}" ] || continue
		if ! proc_alive "$n"; then
			MG_STOP="${MG_STOP:+$MG_STOP; }backend $n died"
			proc_stop "$n" 1
		elif [ "$BE_KIND" = tp ]; then
			be_testpmd_quit "$n" || MG_STOP="${MG_STOP:+$MG_STOP; }testpmd $n did not quit cleanly"
		else
			proc_stop "$n" 10 || MG_STOP="${MG_STOP:+$MG_STOP; }vhu-loopback $n exit status $GL_RC"
		fi
	done
	[ -z "$MG_STOP" ]
}

# ---- guests -----------------------------------------------------------------

# mg_guest NAME SOCK [incoming]: QEMU with a QMP socket; the incoming one
# waits for migrate-incoming (-incoming defer).
mg_guest() {
	local name=$1 sock=$2 extra="-qmp unix:$GL_WORK/$1.qmp,server=on,wait=off"
	rm -f "$GL_WORK/$name.qmp"
	[ "${3:-}" = incoming ] && extra="$extra -incoming defer"
	[ "${3:-}" = incoming ] && [ "$memcheck" = 1 ] && extra="$extra -S"
	# investigation: e.g. MG_QEMU_ARGS='-trace vhost_user_postcopy*'
	extra="$extra ${MG_QEMU_ARGS:-}"
	guest_start "$name" sock="$sock" queues="$MG_Q" packed="$MG_PACKED" \
		mem="$MG_MEM" mac="$MG_MAC" ram="${MG_RAM_K}K" qemu="$extra"
}

qmp() { timeout 60 python3 "$QMP" "$GL_WORK/$1.qmp" "${@:2}"; }

# Waits for the QMP socket of guest NAME (QEMU creates it at start-up).
qmp_ready() {
	local i
	for (( i = 0; i < 300; i++ )); do
		[ -S "$GL_WORK/$1.qmp" ] && qmp "$1" query-status >/dev/null 2>&1 && return 0
		guest_alive "$1" || return 1
		sleep 0.1
	done
	return 1
}

# RARP frames the guest received, into NH: Linux has no handler for
# ethertype 0x8035 and counts such a frame in rx_dropped (nothing else
# moves that counter in these tests). Not in a subshell: guest_cmd keeps
# the command ids in GL_NEXT.
nohandler() {
	NH=""
	guest_cmd "$1" 30 "cat /sys/class/net/eth0/statistics/rx_dropped" || return 1
	NH=$(tail -n 1 <<<"$GL_OUT" | tr -dc 0-9)
	[ -n "$NH" ]
}

# The echo loop the guest runs during a migration: runs of 5 * --frames
# (about 1.2 s each under TCG, so the switch-over, about 0.5 s after the
# first run ended, lands inside a run, not in the gap between two), until
# two runs after rx_dropped moved past BASE (the RARP came back), at most
# MAX s of guest uptime.
echo_loop() {
	local base=$1 max=$2
	echo "b=$base; end=\$((\$(cut -d. -f1 /proc/uptime) + $max)); post=0; n=0;" \
		"while [ \$(cut -d. -f1 /proc/uptime) -lt \$end ]; do" \
		"vhu-guest-tool echo --queues $MG_Q --frames $(( frames * 5 )) --timeout 5; n=\$((n + 1));" \
		"[ \$(cat /sys/class/net/eth0/statistics/rx_dropped) -gt \$b ] && post=\$((post + 1));" \
		"[ \$post -ge 2 ] && break; done; echo mig-loop runs=\$n post=\$post"
}

# memdiff SRC DST: guest RAM of both (pmemsave), the 4 KiB pages that
# differ into MEMDIFF ("N pages: GPA..." or "0").
memdiff() {
	local fa=$GL_WORK/$1.ram fb=$GL_WORK/$2.ram size=$(( MG_RAM_K << 10 ))
	MEMDIFF="?"
	qmp "$1" pmemsave "{\"val\":0,\"size\":$size,\"filename\":\"$fa\"}" >/dev/null &&
	qmp "$2" pmemsave "{\"val\":0,\"size\":$size,\"filename\":\"$fb\"}" >/dev/null &&
	MEMDIFF=$(python3 -c '
import sys
a = open(sys.argv[1], "rb"); b = open(sys.argv[2], "rb")
diff = []; off = 0
while True:
    x = a.read(4096); y = b.read(4096)
    if not x and not y: break
    if x != y: diff.append(off)
    off += 4096
print(("%d pages: " % len(diff)) + " ".join("%#x" % d for d in diff[:12]) if diff else "0")
' "$fa" "$fb")
	# kept for a look when they differ (a 256 MiB pair per migration)
	[ "$MEMDIFF" = 0 ] && rm -f "$fa" "$fb"
}

# vqstate NAME: QEMU's view of every virtqueue of the virtio-net device
# into VQSTATE, "vqN=LAST_AVAIL/USED_IDX ...": with a vhost backend stopped
# (GET_VRING_BASE answered), a split ring whose last_avail_idx is ahead of
# the used index in guest memory has descriptors the backend took and never
# returned; the destination backend starts at last_avail_idx and the
# guest would read the used slots in between as completions (stale ids).
vqstate() {
	local path
	VQSTATE="?"
	path=$(qmp "$1" x-query-virtio | python3 -c '
import json, sys
for d in json.load(sys.stdin):
    if d.get("name") == "virtio-net":
        print(d["path"]); break')
	[ -n "$path" ] || return 1
	VQSTATE=$(for (( i = 0; i < 2 * MG_Q; i++ )); do
		qmp "$1" x-query-virtio-queue-status "{\"path\":\"$path\",\"queue\":$i}"
	done | python3 -c '
import json, sys
out = []
for line in sys.stdin:
    r = json.loads(line)
    out.append("vq%d=%d/%d@%#x,%#x,%#x" % (r["queue-index"], r["last-avail-idx"], r["used-idx"],
               r["vring-desc"], r["vring-avail"], r["vring-used"]))
print(" ".join(out))')
}

# tp_dropped NAME: testpmd's accumulated TX-dropped (frames forwarding
# took from a port and could not place) into DROPPED.
tp_dropped() {
	DROPPED=""
	be_testpmd_cmd "$1" "show fwd stats all" 'Accumulated forward statistics' 10 || return 1
	DROPPED=$(grep -ao 'TX-dropped: *[0-9]*' <<<"$GL_OUT" | tail -n 1 | tr -dc 0-9)
	[ -n "$DROPPED" ]
}

crash_lines() {
	tr -d '\r' <"$1" | grep -aE 'Oops|Kernel panic|BUG:|Call Trace|general protection|segfault|WARNING:' || true
}

# ---- one case ---------------------------------------------------------------

run_case() {
	local name=$1 be layout part why="" idle=0 pc=0 k cur nxt cur_sock nxt_sock
	local i st mig_st line total down lost bad dup good runs base nh t0 mig_ms cpu=0
	local sum_lost=0 sum_bad=0 sum_good=0 downs="" crashes=0 id stream
	IFS=/ read -r be layout _ <<<"$name"
	MG_Q=1 MG_MEM=$mem_default
	for part in ${name//\// }; do
		case "$part" in
		q[0-9]*) MG_Q=${part#q} ;;
		memfd|huge) MG_MEM=$part ;;
		idle) idle=1 ;;
		cpu) idle=1 cpu=1 ;;
		memwalk) idle=1 cpu=2 ;;
		esac
	done
	MG_RAM_K=$(ram_k "$MG_MEM")
	[ "$be" = pc1 ] && pc=1
	# DPDK's net_vhost offers GUEST_ANNOUNCE: the guest announces itself
	# (gratuitous ARP) and QEMU sends no SEND_RARP.
	local announce=rarp
	[[ $be == nv* ]] && announce=guest
	MG_PACKED=$([ "$layout" = packed ] && echo on || echo off)
	MG_MAC=52:54:00:00:$(printf '%02x' "$case_no"):01
	local mac_re
	mac_re=$(tr a-f A-F <<<"$MG_MAC")
	detail=""
	if ! mg_backends "$be"; then
		verdict "$name" "backend did not start" "$GL_WORK"/*.log
		mg_backends_stop
		return
	fi
	local sock=("$GL_WORK/a.sock" "$GL_WORK/b.sock") bename=("$BE_A" "$BE_B")
	cur=g${case_no}_0
	mg_guest "$cur" "${sock[0]}"
	if ! guest_ready "$cur" "$BOOT_TIMEOUT"; then
		why="guest did not boot in $BOOT_TIMEOUT s"
	elif ! guest_cmd "$cur" 60 vhu-guest-tool setup --queues "$MG_Q"; then
		why="guest setup failed: $(tail -n 1 <<<"$GL_OUT")"
	elif ! guest_cmd "$cur" 120 vhu-guest-tool echo --queues "$MG_Q" --frames "$frames" ||
	     ! grep -aq '^RESULT PASS' <<<"$GL_OUT"; then
		why="echo before migrating failed: $(grep -a '^RESULT' <<<"$GL_OUT")"
	fi
	for (( k = 1; k <= count && ${#why} == 0; k++ )); do
		nxt=g${case_no}_$k
		cur_sock=${sock[$(( (k - 1) % 2 ))]}
		nxt_sock=${sock[$(( k % 2 ))]}
		local tpb=${bename[$(( k % 2 ))]}
		mg_guest "$nxt" "$nxt_sock" incoming
		if ! qmp_ready "$nxt" || ! qmp_ready "$cur"; then
			why="migration $k: no QMP"
			break
		fi
		if [ "$pc" = 1 ]; then
			qmp "$cur" migrate-set-capabilities '{"capabilities":[{"capability":"postcopy-ram","state":true}]}' >/dev/null &&
			qmp "$nxt" migrate-set-capabilities '{"capabilities":[{"capability":"postcopy-ram","state":true}]}' >/dev/null ||
				{ why="migration $k: postcopy-ram refused"; break; }
			# Postcopy must outlast the destination's vhost start: QEMU
			# 7.2 sends POSTCOPY_END from the migration thread while the
			# main thread may be in the middle of ADD_MEM_REG, and the
			# two then read each other's replies (see the doc).
			# Precopy is limited as well: unlimited, it sometimes
			# completed (0.7 s) before migrate-start-postcopy got
			# through QMP, and the case then tested no postcopy.
			qmp "$cur" migrate-set-parameters "{\"max-postcopy-bandwidth\":${MIGRATE_PC_BW:-33554432},\"max-bandwidth\":${MIGRATE_PC_BW:-33554432}}" >/dev/null
		fi
		[ "$selfcheck" = rarp ] &&
			qmp "$nxt" migrate-set-parameters '{"announce-rounds":0}' >/dev/null
		qmp "$nxt" migrate-incoming "{\"uri\":\"unix:$GL_WORK/mig.sock\"}" >/dev/null ||
			{ why="migration $k: migrate-incoming refused"; break; }
		nohandler "$cur" || { why="migration $k: guest did not answer"; break; }
		base=$NH
		local from_cur
		from_cur=$(guest_lines "$cur")
		if [ "$idle" = 0 ]; then
			guest_cmd_send "$cur" "$(echo_loop "$base" $([ "$announce" = guest ] && echo 25 || echo 120))"
			id=$GL_ID
			# traffic flows: the first run has ended
			guest_wait "$cur" '^RESULT ' 120 "$from_cur" ||
				{ why="migration $k: no echo run before migrating"; break; }
		fi
		# testpmd prints what it receives from here on (the RARP frame)
		local tp_from=0 drop0=0 dropped=- pc_listen=-
		local tpa=${bename[$(( (k - 1) % 2 ))]}
		if [ "$BE_KIND" = tp ]; then
			tp_dropped "$tpa" && drop0=$DROPPED
			tp_from=$(( $(wc -l <"$GL_WORK/$tpb.log") + 1 ))
			be_testpmd_cmd "$tpb" "set verbose 1" 'testpmd> ' 10 >/dev/null
		fi
		if [ "$cpu" = 1 ]; then
			guest_cmd_send "$cur" "end=\$((\$(cut -d. -f1 /proc/uptime) + 6)); n=0; while [ \$(cut -d. -f1 /proc/uptime) -lt \$end ]; do ls -R /sys/class/net >/dev/null; n=\$((n + 1)); done; echo cpu-loop runs=\$n"
			id=$GL_ID
			sleep 1
		elif [ "$cpu" = 2 ]; then
			guest_cmd_send "$cur" vhu-guest-tool memwalk --pages 64 --seconds 8
			id=$GL_ID
			sleep 1
		fi
		t0=$(now_ms)
		qmp "$cur" migrate "{\"uri\":\"unix:$GL_WORK/mig.sock\"}" >/dev/null ||
			{ why="migration $k: migrate refused"; break; }
		local t_pc="" pc_ms=-
		if [ "$pc" = 1 ]; then
			sleep "${MIGRATE_PC_DELAY:-0.05}"
			qmp "$cur" migrate-start-postcopy >/dev/null ||
				{ why="migration $k: migrate-start-postcopy refused"; }
			t_pc=$(now_ms)
		fi
		line=$(qmp "$cur" wait 240)
		mig_ms=$(( $(now_ms) - t0 ))
		# postcopy time: from the switch request to "completed" (wall
		# clock here, 50 ms polling; it includes the last precopy round)
		[ -n "$t_pc" ] && pc_ms=$(( $(now_ms) - t_pc ))
		st=$(value status "$line")
		total=$(value total "$line")
		down=$(value downtime "$line")
		if [ "$st" != completed ]; then
			why="${why:+$why; }migration $k: $line"
			break
		fi
		MEMDIFF=-
		VQSRC=- VQDST=-
		if [ "$memcheck" = 1 ]; then
			vqstate "$cur"; VQSRC=${VQSTATE// /,}
			vqstate "$nxt"; VQDST=${VQSTATE// /,}
			memdiff "$cur" "$nxt"
			[ "$MEMDIFF" = 0 ] || cp "${GL_SERIAL[$cur]}" "$GL_WORK/memdiff-$nxt.src-serial.log"
			qmp "$nxt" cont >/dev/null
		fi
		# The destination owns the guest now: its command channel goes on
		# with the same ids, its serial log continues the source's.
		GL_NEXT[$nxt]=${GL_NEXT[$cur]}
		qmp "$cur" quit >/dev/null 2>&1
		proc_stop "$cur" 20 >/dev/null
		gl_close_fds "$cur"
		mig_st=$st
		st=$(qmp "$nxt" query-status | sed -n 's/.*"status": "\([a-z-]*\)".*/\1/p')
		lost=0 bad=0 dup=0 good=0 runs=0
		if [ "$st" != running ]; then
			why="migration $k: destination is $st"
		elif [ "$idle" = 0 ] || [ "$cpu" != 0 ]; then
			if ! guest_wait "$nxt" "^vhu-guest: done $id rc=|Oops|BUG:|Kernel panic" 240 ||
			   ! guest_wait "$nxt" "^vhu-guest: done $id rc=" 1; then
				why="migration $k: the echo loop did not end on the destination"
			fi
			stream=$( { tail -n +"$from_cur" "${GL_SERIAL[$cur]}"; cat "${GL_SERIAL[$nxt]}"; } | tr -d '\r')
			# echo runs (lost, bad, dup, good) and memwalk (bad)
			while read -r line; do
				runs=$(( runs + 1 ))
				lost=$(( lost + $(value lost "$line" | grep . || echo 0) ))
				bad=$(( bad + $(value bad "$line" | grep . || echo 0) ))
				dup=$(( dup + $(value dup "$line" | grep . || echo 0) ))
				good=$(( good + $(value good "$line" | grep . || echo 0) ))
			done < <(grep -a '^RESULT ' <<<"$stream")
			grep -aE '^guest_tool: (bad|probe|no |memwalk)' <<<"$stream" | head -n 5 >>"$GL_WORK/bad-frames.txt"
		fi
		# RARP: the guest got the backend's RARP frame back.
		NH=""
		[ -z "$why" ] && nohandler "$nxt"
		nh=$NH
		local rarp_be=-
		if [ "$BE_KIND" = tp ]; then
			be_testpmd_cmd "$tpb" "set verbose 0" 'testpmd> ' 10 >/dev/null
			tp_dropped "$tpa" && dropped=$(( DROPPED - drop0 ))
			rarp_be=$(tail -n +"$tp_from" "$GL_WORK/$tpb.log" |
				grep -ac "src=$mac_re - dst=FF:FF:FF:FF:FF:FF .*type=0x8035")
			# did the destination really run in postcopy?
			[ "$pc" = 1 ] && pc_listen=$(tail -n +"$tp_from" "$GL_WORK/$tpb.log" |
				grep -ac 'postcopy listening')
		fi
		# A fresh echo run on the destination.
		local fresh=FAIL
		[ -z "$why" ] && guest_cmd "$nxt" 120 vhu-guest-tool echo --queues "$MG_Q" --frames "$frames" &&
			grep -aq '^RESULT PASS' <<<"$GL_OUT" && fresh=PASS
		local cr
		cr=$(crash_lines "${GL_SERIAL[$nxt]}" | wc -l)
		[ "$cr" -gt 0 ] && crashes=$(( crashes + 1 ))
		echo "MIG $name #$k ${cur_sock##*/}->${nxt_sock##*/}: postcopy=$pc_listen status=$mig_st dest=$st total=${total}ms downtime=${down}ms wall=${mig_ms}ms pc_time=${pc_ms}ms runs=$runs good=$good lost=$lost bad=$bad dup=$dup rarp_guest=$(( ${nh:-0} - base )) rarp_backend=$rarp_be be_dropped=$dropped fresh_echo=$fresh crash_lines=$cr memdiff=$MEMDIFF vq_src=$VQSRC vq_dst=$VQDST"
		downs="$downs${downs:+,}$down"
		sum_lost=$(( sum_lost + lost ))
		sum_bad=$(( sum_bad + bad + dup ))
		sum_good=$(( sum_good + good ))
		[ "$cr" -gt 0 ] &&
			why="migration $k: destination guest crashed: $(crash_lines "${GL_SERIAL[$nxt]}" | head -n 3 | tr '\n' ' ')"
		[ -z "$why" ] || break
		if [ "$cr" -gt 0 ]; then
			why="migration $k: destination guest crashed: $(crash_lines "${GL_SERIAL[$nxt]}" | head -n 3 | tr '\n' ' ')"
		elif [ "$pc" = 1 ] && [ "$pc_listen" = 0 ]; then
			why="migration $k: completed before postcopy started (no POSTCOPY_LISTEN)"
		elif [ "$fresh" != PASS ]; then
			why="migration $k: echo on the destination failed: $(grep -a '^RESULT' <<<"$GL_OUT")"
		elif [ "$cpu" = 2 ] && [ "$bad" -gt 0 ]; then
			why="migration $k: memwalk: $bad vCPU write(s) lost (QEMU's dirty tracking, see the doc)"
		elif [ $(( bad + dup )) -gt 0 ]; then
			why="migration $k: $bad frames corrupted/misrouted, $dup duplicated"
		elif [ "$lost" -gt "${max_lost:-$(( WINDOW * MG_Q ))}" ]; then
			why="migration $k: $lost frames lost (bound ${max_lost:-$(( WINDOW * MG_Q ))})"
		elif [ "$BE_KIND" = tp ] && [ "$idle" = 0 ] && [ "$lost" != "$dropped" ]; then
			why="migration $k: the guest lost $lost frames, the source testpmd dropped $dropped"
		elif [ "$idle" = 0 ] && [ "$runs" -lt 2 ]; then
			why="migration $k: the echo loop ran $runs time(s)"
		elif [ "$announce" = rarp ] && [ $(( ${nh:-0} - base )) -lt 1 ]; then
			why="migration $k: no RARP frame came back to the guest (rx_dropped $base -> $nh)"
		elif [ "$announce" = rarp ] && [ "$BE_KIND" = tp ] && [ "$rarp_be" -lt 1 ]; then
			why="migration $k: testpmd saw no RARP frame from $MG_MAC"
		fi
		cur=$nxt
	done
	if [ -z "$why" ]; then
		guest_stop "$cur" 30 || why="guest did not power off by itself"
	else
		guest_kill "$cur"
		[ -n "${nxt:-}" ] && guest_kill "$nxt"
	fi
	mg_backends_stop || why="${why:+$why; }$MG_STOP"
	detail="$MG_MEM: $(( k - 1 )) migration(s), downtime ms $downs; $sum_good frames back intact, $sum_lost lost, $sum_bad corrupted/duplicated; $crashes destination crash(es)"
	verdict "$name" "$why" "$GL_WORK/$cur.serial.log" "$GL_WORK/$cur.qemu.log" "$GL_WORK/$BE_A.log" "$GL_WORK/$BE_B.log"
}

n_pass=0
n_fail=0
verdict() {
	local name=$1 why=$2 t
	shift 2
	t=$(( ($(now_ms) - case_t0) / 1000 ))
	if [ -z "$why" ]; then
		n_pass=$(( n_pass + 1 ))
		echo "PASS migrate $name (${t} s): $detail"
	else
		n_fail=$(( n_fail + 1 ))
		failed=1
		echo "FAIL migrate $name (${t} s): $why ($detail)"
		local f
		for f in "$@"; do
			[ -f "$f" ] || continue
			echo "----- $(basename "$f") (last 15 lines)"
			tail -n 15 "$f" | tr -d '\r' | grep -av '^EAL: \(Detected\|Selected\|Multi-process\)'
		done
	fi
}

echo "migrate.sh: ${#selected[@]} case(s), $count migration(s) each, $frames frames per echo run," \
	"guest memory $mem_default $(ram_k "$mem_default") KiB, QEMU on CPU ${GL_QEMU_CPUS:-any}, backends on CPU $GL_BE_CPU${selfcheck:+, selfcheck $selfcheck}, work dir $GL_WORK"
t_start=$(date +%s)
case_no=0
for c in "${selected[@]}"; do
	case_no=$(( case_no + 1 ))
	case_t0=$(now_ms)
	run_case "$c"
done
echo "migrate.sh: $n_pass passed, $n_fail failed in $(( $(date +%s) - t_start )) s"
[ "$n_fail" -eq 0 ]
