#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Linux-guest test suite: real QEMU guests (Debian's kernel, TCG, a busybox
# initramfs packed at test time by mkinitramfs.sh) on vhost-user sockets
# served by vhu. Each case boots its own guest and backend, runs the guest
# tool (guest_tool.c) through the guest's command channel, checks what the
# guest saw frame by frame and that the guest's per-queue counters and the
# backend's counters agree exactly, then powers the guest off, checks the
# backend survived and stops it (vhu-loopback must exit 0 on SIGTERM,
# dpdk-testpmd must quit cleanly). This script owns the case matrix and the
# verdicts; lib.sh owns the processes.
#
# Cases (--list prints them):
#   loopback/LAYOUT/qQ/mrgM[/mtu9000]  vhu-loopback echoes; the guest sends
#       numbered frames on every queue pair and verifies each echo (payload,
#       length, exactly once, on the receive queue of the pair it left on);
#       LAYOUT split|packed, Q queue pairs (1, 2, 4), M mrg_rxbuf (0, 1)
#   testpmd/LAYOUT/qQ/mrgM[/mtu9000]   the same against dpdk-testpmd with
#       the net_vhu plugin in io forwarding (one port echoes)
#   BACKEND/LAYOUT/qQ/channels         rounds of echo with 1, Q, 2, Q queue
#       pairs enabled in turn (ETHTOOL_SCHANNELS between rounds)
#   BACKEND/LAYOUT/qQ/reload           three rounds, the guest reloading
#       virtio_net between them (device reset and restart)
#   BACKEND/LAYOUT/qQ/reboot           two rounds, the guest rebooting
#       between them (reboot -f: QEMU resets the machine, the new kernel
#       sets the rings up again); the backend must log the device stopping
#       and becoming ready again
#   BACKEND/LAYOUT/qQ/kill             QEMU SIGKILLed while an echo runs;
#       the backend lives on and says the device went, then a new guest
#       on the same socket echoes
#   BACKEND/LAYOUT/qQ/restart          two rounds, the backend stopped and
#       started again under the running guest in between (QEMU reconnects:
#       reconnect=1)
#   BACKEND/LAYOUT/qQ/restart-client   the same with the backend in client
#       mode (--client, client=1) and QEMU listening (server=on)
#   BACKEND/LAYOUT/qQ/restart-reload   restart, then the guest reloads
#       virtio_net before its second round (packed rings need it)
#   vswitch/LAYOUT/qQ                  two guests on vhu-vswitch (two
#       workers with Q > 1): A sends half as many frames to B's MAC at 5000
#       frames/s round robin over its Q queue pairs, B verifies; every
#       frame is accounted for (B got it, or the switch counted it dropped
#       at B's full ring: both guests share one CPU, so B can fall behind);
#       A's flows (one UDP source port per queue pair) must each arrive on
#       one of B's receive queues, the one the switch's Toeplitz hash
#       picks; before the guests power off, vhu's telemetry
#       (dpdk-telemetry.py) must show both devices running on NUMA node 0,
#       with the guests' features, no diagnostic, and per-vring packet
#       counts equal to the guests' per-queue counters
#   vswitch/LAYOUT/q1/coalesce         guest B's receive interrupts
#       (its virtio INTx line in /proc/interrupts) while A sends to it at
#       2000 frames/s, once without and once with vhu-vswitch
#       --coalesce-us 5000 (two fresh guests each): B must read every
#       frame the switch gave it both times (no call held for good), and
#       with coalescing B takes at most one interrupt per 5000 us of
#       its window (+20) and per two frames; both rates are printed
#   testpmd/LAYOUT/qQ/mrgM[/mtu9000]/dma  the echo with net_vhu's copies
#       on DMA channels: dmas= binds every txq and rxq to a channel of its
#       own dma_skeleton (DPDK's software engine, one copy thread each,
#       not pinned); the backend must log each binding, and its
#       xstats must show engine copies on every queue, both ways
#   testpmd/split/q1/mrg1/coalesce     the echo through net_vhu with
#       coalesce-usecs=1000: it must pass (the guest waits for every echo,
#       so a call held for good stalls it), vhu makes at most one call per
#       1000 us of the echo on each vring (+20, its xstats), and the
#       guest's interrupts (one INTx line for both vrings) stay within
#       twice that; the rates are printed
#   loopback/split/q1/share-off        a guest whose memory backend maps
#       its memfd privately (share=off): vhu-loopback must log the
#       share=off warning and telemetry must list mem_invisible in the
#       device's and the socket's diag (no traffic: vhu cannot see it)
#   tcp/LAYOUT/mrgM/on/testpmd  the same (offloads on) through dpdk-testpmd
#       with two net_vhu ports (tso=1), io forwarding between them
#   tcp/LAYOUT/mrgM/OFFLOADS[/ipv6][/mtu9000][/q2][/legacy]  two guests
#       on vhu-vswitch, one queue pair each, guest A (port 0) sends
#       --tcp-bytes over TCP to guest B (port 1), which checks every byte
#       of the stream; both hash the content and the hashes must match.
#       OFFLOADS is what the switch's ports offer (--offloads): on (both
#       ports: checksum and segmentation offloads), recv-off (B's port
#       offers no guest receive offload, so vhu completes checksums and
#       segments A's GSO frames in software: its sw_segmented counter must
#       move), off (neither port offers any), csum-sw (A's port offers the
#       checksum offloads and no segmentation, B's none: vhu completes
#       every checksum for B), csum (both ports checksum offloads only).
#       Each guest must have negotiated exactly what its port offers (the
#       virtio feature bits in /sys/class/net/eth0/device/features), and
#       vhu must report the same (the switch logs what it negotiated);
#       neither guest may count a receive error or drop. The throughput
#       (Mbit/s at B) is printed, not checked. /ipv6: over IPv6 (TSO6)
#       instead of IPv4; /mtu9000: both guests with host_mtu=9000 and MTU
#       9000; /q2: two queue pairs, two switch workers, four TCP streams;
#       /legacy: the switch with --legacy-ol-flags (DPDK's legacy mbuf
#       offload flags). The combinations outside CI run by name only.
#   BACKEND/LAYOUT/qQ/mrgM/iommu[-strict]  the echo behind a vIOMMU
#       (intel-iommu, device IOTLB, ATS; the guest with intel_iommu=on, and
#       iommu.strict=1 for -strict): the backend offers ACCESS_PLATFORM and
#       translates through the IOTLB QEMU sends; a quarter of the frames
#       (the IOTLB round trips make it slow); the guest's device must be in
#       a translated IOMMU group and vhu must have counted IOTLB updates,
#       invalidates and misses
#   .../memfd                          (with VHU_TEST_HUGE=1) a few cases
#       again with memfd guest memory
# After every echo case the backend's fds and mappings of guest memory
# must be back to what they were before the first guest connected.
# BACKEND is loopback or testpmd; vhost (testpmd with DPDK's net_vhost)
# is a reference for the restart cases, run only when named exactly.
# Guest memory is a hugetlbfs file (memory-backend-file, share=on) with
# VHU_TEST_HUGE=1, else a memfd (memory-backend-memfd, share=on); the
# backends always run with --no-huge.
#
# Usage: run.sh [--build DIR] [--only PATTERN]... [--skip PATTERN]... [--list]
#               [--frames N] [--keep] [--selfcheck WHAT]
#   --build DIR      meson build dir (binaries; the work dir goes under it)
#   --only PATTERN   run the cases matching shell glob PATTERN (repeatable:
#                    a case runs when any pattern matches)
#   --skip PATTERN   but not the cases matching this glob (repeatable)
#   --list           print the case names (after --only) and exit
#   --frames N       frames per echo case (default 20000; jumbo cases half)
#   --tcp-bytes N    bytes per TCP case (default 32 MiB)
#   --keep           keep the work directory even when all passed
#   --selfcheck WHAT break the lifecycle cases on purpose; they must FAIL:
#                    noreconnect (the restarted backend serves another
#                    socket), noreboot (QEMU keeps -no-reboot: a reboot
#                    ends the guest); and the TCP cases: offloads (the
#                    switch's ports offer the opposite of what the case
#                    expects: on for off, off otherwise), content (B
#                    checks the stream of another seed); the diagnosis
#                    case: shareon (the share-off case boots its guest
#                    with share=on: no warning, no diag)
# Environment:
#   VHU_TEST_HUGE=1      guest memory on hugetlbfs (and a few memfd cases)
#   VHU_GUEST_KERNEL_DIR cached kernel (default /var/cache/vhu/guest/current)
#   GUEST_BOOT_TIMEOUT   seconds a guest may take to boot (default 90)
#   GUEST_QEMU_CPUS      CPUs QEMU is pinned to (default 1 when there are 2+)
#   GUEST_BE_CPU         CPU of the backends' lcores (default 0)
# Exit status: 0 all passed, 1 a case failed, 77 skipped (no QEMU or no
# cached kernel: run devtools/setup.sh), 2 usage.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=""
only=()
skip=()
list=0
frames=20000
tcp_bytes=$(( 32 << 20 ))
keep=0
selfcheck=""
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift ;;
	--only) only+=("$2"); shift ;;
	--skip) skip+=("$2"); shift ;;
	--list) list=1 ;;
	--frames) frames=$2; shift ;;
	--tcp-bytes) tcp_bytes=$2; shift ;;
	--keep) keep=1 ;;
	--selfcheck) selfcheck=$2; shift ;;
	-h|--help) sed -n '3,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done
[ "${#only[@]}" -gt 0 ] || only=("*")
[ -n "$build" ] || build=$(cd "$here/../../.." && pwd)/build
build=$(cd "$build" && pwd) || exit 2

# ---- the case matrix ----------------------------------------------------------
cases=()
for layout in split packed; do
	for q in 1 2 4; do
		for mrg in 1 0; do
			cases+=("loopback/$layout/q$q/mrg$mrg")
		done
	done
done
cases+=(loopback/split/q2/mrg1/mtu9000 loopback/packed/q2/mrg0/mtu9000)
for layout in split packed; do
	for q in 1 2; do
		for mrg in 1 0; do
			cases+=("testpmd/$layout/q$q/mrg$mrg")
		done
	done
	cases+=("testpmd/$layout/q4/mrg1")
done
cases+=(testpmd/split/q2/mrg1/mtu9000 testpmd/packed/q2/mrg1/mtu9000
	testpmd/split/q2/mrg0/mtu9000 testpmd/packed/q2/mrg0/mtu9000
	testpmd/split/q1/mrg0/mtu9000)
# The channel count changes at run time (rings enabled and disabled), and
# the guest reloads virtio_net (device reset and restart, same connection).
cases+=(loopback/split/q4/channels testpmd/packed/q4/channels
	loopback/packed/q2/reload testpmd/split/q2/reload)
# Lifecycle: the guest reboots, QEMU is killed mid-traffic and a new guest
# comes, the backend restarts under a running guest (vhu as server, QEMU
# reconnecting; vhu as client, QEMU listening).
cases+=(loopback/split/q2/reboot testpmd/packed/q2/reboot
	loopback/packed/q2/kill testpmd/split/q2/kill)
for be in testpmd loopback; do
	for q in 1 2; do
		cases+=("$be/split/q$q/restart" "$be/split/q$q/restart-client")
	done
done
cases+=(testpmd/packed/q2/restart-reload)
cases+=(vswitch/split/q1 vswitch/packed/q1 vswitch/split/q2 vswitch/packed/q2)
# Interrupt coalescing seen by a guest in interrupt mode.
cases+=(vswitch/split/q1/coalesce vswitch/packed/q1/coalesce
	testpmd/split/q1/mrg1/coalesce)
# Payload copies on DMA channels (dmas=, dma_skeleton): both layouts, one
# and two queue pairs, mergeable buffers on and off, and jumbo frames.
cases+=(testpmd/split/q1/mrg1/dma testpmd/packed/q1/mrg1/dma
	testpmd/split/q2/mrg0/dma testpmd/packed/q2/mrg0/dma
	testpmd/split/q1/mrg1/mtu9000/dma)
# A set-up mistake vhu must name: guest memory not shared.
cases+=(loopback/split/q1/share-off)
# TCP through the switch with offloads on, off for B's receive side only
# (over IPv4 and IPv6, with 9000-byte segments that span mbufs, and from
# two switch workers at once: vhu segments them all), off, checksum
# offloads only for A; and "big packet" receive buffers (packed, no
# mergeable buffers, TSO).
cases+=(tcp/split/mrg1/on/testpmd tcp/split/mrg1/on tcp/split/mrg1/recv-off tcp/split/mrg1/off
	tcp/packed/mrg0/on tcp/split/mrg1/recv-off/ipv6 tcp/split/mrg1/csum-sw
	tcp/split/mrg1/recv-off/mtu9000 tcp/split/mrg1/recv-off/q2)
# Behind a vIOMMU, lazy and strict IOTLB invalidation in turn.
cases+=(loopback/split/q1/mrg1/iommu loopback/split/q2/mrg0/iommu-strict
	loopback/packed/q1/mrg0/iommu-strict loopback/packed/q2/mrg1/iommu
	testpmd/split/q1/mrg0/iommu testpmd/split/q2/mrg1/iommu-strict
	testpmd/packed/q1/mrg1/iommu-strict testpmd/packed/q2/mrg0/iommu)
# Known to fail because of QEMU 7.2 (doc/guide/qemu.md, Reconnect): run
# only when an --only pattern names them exactly. vhost/... is DPDK's own
# net_vhost in testpmd, the reference.
known_bad=(testpmd/packed/q1/restart testpmd/packed/q2/restart
	vhost/packed/q1/restart vhost/packed/q2/restart
	vhost/split/q1/restart vhost/split/q2/restart)
# The other TCP combinations, for investigations: also run only when named
# exactly.
for layout in split packed; do
	for mrg in 1 0; do
		for m in on recv-off off csum csum-sw on/ipv6 recv-off/ipv6 \
			 off/ipv6 csum-sw/ipv6 on/legacy recv-off/legacy \
			 recv-off/ipv6/legacy csum-sw/legacy on/mtu9000 \
			 recv-off/mtu9000 off/mtu9000 csum-sw/mtu9000 on/q2 \
			 recv-off/q2 csum-sw/q2 recv-off/ipv6/q2; do
			c=tcp/$layout/mrg$mrg/$m
			[[ " ${cases[*]} " == *" $c "* ]] || known_bad+=("$c")
		done
	done
done
mem_default=memfd
if [ "${VHU_TEST_HUGE:-0}" = 1 ]; then
	mem_default=huge
	cases+=(loopback/split/q1/mrg1/memfd loopback/packed/q4/mrg0/memfd
		testpmd/packed/q2/mrg1/mtu9000/memfd vswitch/split/q1/memfd)
fi

selected=()
for c in "${cases[@]}"; do
	for p in "${skip[@]+"${skip[@]}"}"; do
		# shellcheck disable=SC2053
		[[ $c == $p ]] && continue 2
	done
	for p in "${only[@]}"; do
		# shellcheck disable=SC2053
		if [[ $c == $p ]]; then
			selected+=("$c")
			break
		fi
	done
done
for c in "${known_bad[@]}"; do
	for p in "${only[@]}"; do
		[ "$c" = "$p" ] && selected+=("$c")
	done
done
if [ "$list" -eq 1 ]; then
	printf '%s\n' "${selected[@]+"${selected[@]}"}"
	exit 0
fi
[ "${#selected[@]}" -gt 0 ] || { echo "run.sh: no case matches ${only[*]}" >&2; exit 2; }

# ---- what is needed, or skip ----------------------------------------------------
command -v qemu-system-x86_64 >/dev/null ||
	{ echo "run.sh: SKIP: no qemu-system-x86_64 (devtools/setup.sh installs it)"; exit 77; }
tool=$build/app/test/guest/vhu-guest-tool
GL_LOOPBACK=$build/examples/vhu-loopback
GL_VSWITCH=$build/examples/vhu-vswitch
GL_PLUGIN=$build/drivers/net/vhost/librte_net_vhu.so
GL_TESTPMD=$(command -v dpdk-testpmd || true)
GL_TELEMETRY=$(command -v dpdk-telemetry.py || true)
for f in "$tool" "$GL_LOOPBACK" "$GL_VSWITCH" "$GL_PLUGIN"; do
	[ -e "$f" ] || { echo "run.sh: missing $f (build first)" >&2; exit 1; }
done
[ -n "$GL_TESTPMD" ] || { echo "run.sh: no dpdk-testpmd (devtools/setup.sh installs it)" >&2; exit 1; }
[ -n "$GL_TELEMETRY" ] || { echo "run.sh: no dpdk-telemetry.py (package dpdk; devtools/setup.sh installs it)" >&2; exit 1; }
img=$build/app/test/guest/initramfs.cpio.gz
GL_INITRD=$img
GL_KERNEL=$("$here/mkinitramfs.sh" --tool "$tool" --out "$img")
case $? in
0) ;;
77) echo "run.sh: SKIP: no guest kernel or busybox (devtools/setup.sh)"; exit 77 ;;
*) echo "run.sh: building the guest image failed" >&2; exit 1 ;;
esac
# A sanitizer build of the plugin loads into the uninstrumented testpmd only
# with the shared ASan runtime preloaded (devtools/test.sh exports it).
GL_PRELOAD=""
if nm -D --undefined-only "$GL_PLUGIN" 2>/dev/null | grep '^ *U __asan_' >/dev/null; then
	GL_PRELOAD=${VHU_ASAN_PRELOAD:-$(clang -print-file-name=libclang_rt.asan-x86_64.so 2>/dev/null)}
	[ -f "$GL_PRELOAD" ] || { echo "run.sh: ASan plugin but no shared ASan runtime" >&2; exit 1; }
fi
GL_HUGE_DIR=$(awk '$3 == "hugetlbfs" { print $2; exit }' /proc/mounts)
if [ "$mem_default" = huge ] && [ -z "$GL_HUGE_DIR" ]; then
	echo "run.sh: VHU_TEST_HUGE=1 but no hugetlbfs mounted" >&2
	exit 1
fi
if [ "$(nproc)" -ge 2 ]; then
	GL_QEMU_CPUS=${GUEST_QEMU_CPUS:-1}
else
	GL_QEMU_CPUS=${GUEST_QEMU_CPUS:-}
fi
GL_BE_CPU=${GUEST_BE_CPU:-0}
BOOT_TIMEOUT=${GUEST_BOOT_TIMEOUT:-90}

# A private directory under the build dir: DPDK refuses plugins and sockets
# under world-writable trees, and nobody else should reach our sockets.
mkdir -p "$build/app/test/guest/work" || exit 1
GL_WORK=$(mktemp -d "$build/app/test/guest/work/run.XXXXXX") || exit 1
# shellcheck source=app/test/guest/lib.sh
. "$here/lib.sh"
failed=0
gl_cleanup_hook() {
	if [ "$failed" -eq 0 ] && [ "$keep" -eq 0 ]; then
		rm -rf "$GL_WORK"
	else
		echo "run.sh: logs kept in $GL_WORK"
	fi
}
gl_init || exit 1
trap 'echo "run.sh: interrupted"; failed=1; exit 1' INT TERM

# ---- helpers ------------------------------------------------------------------

# Frame sizes for a given MTU: edge sizes around buffer and page boundaries,
# then as many random sizes in [60, MTU + 14].
sizes_for() {
	local max=$(( $1 + 14 )) s out="" n=0 i
	for s in 60 61 64 127 128 129 255 256 257 511 512 513 1023 1024 1025 \
		 1513 1514 1515 1535 1536 1537 2047 2048 2049 4095 4096 4097 \
		 8191 8192 8193; do
		[ "$s" -le "$max" ] || continue
		out="$out${out:+,}$s"
		n=$(( n + 1 ))
	done
	[[ ",$out," == *",$max,"* ]] || { out="$out,$max"; n=$(( n + 1 )); }
	for (( i = 0; i < n; i++ )); do
		out="$out,60-$max"
	done
	echo "$out"
}

# trace [-k KEY] TEXT: a time-stamped progress line with GUEST_TRACE=1;
# with -k, also "KEY seconds" into the case's timeline, which every
# PASS/FAIL line ends with (so a slow case in CI says where its time went).
trace() {
	local key="" t
	if [ "$1" = -k ]; then
		key=$2
		shift 2
	fi
	t=$(( $(date +%s%N) / 1000000 - case_t0 ))
	[ -n "$key" ] && timeline="$timeline${timeline:+, }$key $(( t / 1000 )).$(( t % 1000 / 100 ))"
	[ "${GUEST_TRACE:-0}" = 1 ] || return 0
	printf '  %d.%03d s: %s\n' $(( t / 1000 )) $(( t % 1000 )) "$*"
}

# value KEY LINE: the value of key=value in LINE
value() { sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p" <<<"$2"; }

show_logs() {
	local f
	for f in "$@"; do
		[ -f "$f" ] || continue
		echo "----- $(basename "$f") (last 30 lines)"
		tail -n 30 "$f" | tr -d '\r' |
			grep -av '^EAL: \(Detected\|Selected\|Multi-process\)'
	done
	echo "-----"
}

n_pass=0
n_fail=0
# verdict NAME REASON LOGS...: REASON empty means pass.
verdict() {
	local name=$1 why=$2 t
	shift 2
	t=$(( $(date +%s%N) / 1000000 - case_t0 ))
	t=$(printf '%d.%01d s' $(( t / 1000 )) $(( t % 1000 / 100 )))
	if [ -z "$why" ]; then
		n_pass=$(( n_pass + 1 ))
		echo "PASS guest $name ($t): $detail [at s: $timeline]"
	else
		n_fail=$(( n_fail + 1 ))
		failed=1
		echo "FAIL guest $name ($t): $why [at s: $timeline]"
		show_logs "$@"
	fi
}

# Errors and warnings the backend logged (not a verdict by themselves);
# testpmd's xstats (NAME: VALUE, dma_check) are counters, not complaints.
backend_complaints() {
	grep -aiE 'error|refus|fail|broken|invalid' "$1" 2>/dev/null |
		grep -acvE '(RX|TX)-errors: *0|IOTLB: [0-9]+ updates|^[a-z0-9_]+: [0-9]+$' || true
}

# ---- echo cases (vhu-loopback, testpmd) ----------------------------------------
# An echo case is a list of steps (see run_echo_case). The helpers below work
# on the case's locals (bash scoping: they see the caller's variables): be
# (the backend's kind), b (the backend's process name), g (the guest's),
# sock, q, client, mtu, blog, why, and the counter epoch.
#
# Backend kinds: loopback (vhu-loopback), testpmd (dpdk-testpmd + net_vhu),
# vhost (dpdk-testpmd + DPDK's own net_vhost: a reference, never in CI).
# What each logs when the guest's device becomes ready and when it stops:
be_ready_re() {
	case "$be" in
	loopback) echo 'device [0-9]+ ready' ;;
	testpmd) echo 'net_vhu: port 0: frontend connected' ;;
	vhost) echo 'virtio is now ready for processing' ;;
	esac
}
be_gone_re() {
	case "$be" in
	loopback) echo 'device [0-9]+ stopped' ;;
	testpmd) echo 'net_vhu: port 0: frontend gone' ;;
	vhost) echo 'read message VHOST_USER_GET_VRING_BASE|vhost peer closed' ;;
	esac
}

# The next line of the backend's log (a FROM-LINE mark for wait_log).
blog_mark() { echo $(( $(wc -l <"$blog") + 1 )); }

echo_be_start() {
	local args=()
	if [ "$be" = loopback ]; then
		[ "$client" = 1 ] && args=(--client)
		args+=("${lb_args[@]+"${lb_args[@]}"}")
		be_loopback_start "$b" "$sock" "$q" "${args[@]+"${args[@]}"}"
		return
	fi
	[ "$mtu" -gt 1500 ] && args=(--max-pkt-len=$(( mtu + 18 )))
	GL_TESTPMD_PMD=$([ "$be" = vhost ] && echo net_vhost || echo net_vhu) \
	GL_TESTPMD_DEVARGS=$([ "$client" = 1 ] && echo ,client=1)$tp_devargs \
	GL_TESTPMD_INIT=$tp_init GL_TESTPMD_EAL=$tp_eal \
		be_testpmd_start "$b" "$sock" "$q" "${args[@]+"${args[@]}"}"
}

# echo_be_stop: stop the backend; vhu-loopback must exit 0 on SIGTERM and
# testpmd must quit cleanly. Adds to why.
echo_be_stop() {
	if [ "$be" = loopback ]; then
		proc_stop "$b" 10 || why="${why:+$why; }vhu-loopback exit status $GL_RC after SIGTERM"
	else
		be_testpmd_quit "$b" || why="${why:+$why; }dpdk-testpmd did not quit cleanly (status $GL_RC)"
	fi
}

# be_counters: the backend's totals so far into c_rx c_tx c_drop (frames
# it received from the guest, sent to it, and lost: vhu-loopback's drops,
# testpmd's RX-missed + TX-errors). vhu-loopback prints them every second
# while a device is connected: this waits for a fresh line.
be_counters() {
	local line
	if [ "$be" = loopback ]; then
		wait_log "$blog" 'total rx' 10 "$(proc_pid "$b")" "$(blog_mark)" || return 1
		line=$(grep -a 'total rx' "$blog" | tail -n 1)
		read -r c_rx c_tx c_drop < <(sed -n 's/.*total rx \([0-9]*\) tx \([0-9]*\) drops \([0-9]*\)).*/\1 \2 \3/p' <<<"$line")
	else
		be_testpmd_stats "$b" || return 1
		c_rx=$GL_RX c_tx=$GL_TX c_drop=$(( ${GL_MISSED:-0} + ${GL_TXERR:-0} ))
	fi
	[ -n "$c_rx" ]
}

# check_counters: the backend's counters moved by exactly what the guest's
# counters say it sent and received in this epoch (since the backend
# started, or since base_* was read), and it lost nothing.
check_counters() {
	local want_rx=$(( base_rx + ep_tx )) want_tx=$(( base_tx + ep_rx ))
	[ -z "$why" ] || return
	if [ "$be" = loopback ]; then
		if wait_log "$blog" "total rx $want_rx tx $want_tx drops $base_drop\)" 10 "$(proc_pid "$b")"; then
			detail="$detail; vhu-loopback rx $want_rx tx $want_tx drops $base_drop (since $epoch)"
			return
		fi
		be_counters
	elif be_counters && [ "$c_rx" = "$want_rx" ] && [ "$c_tx" = "$want_tx" ] &&
	     [ "$c_drop" = "$base_drop" ]; then
		detail="$detail; testpmd RX $c_rx TX $c_tx (since $epoch)"
		return
	fi
	why="backend counters rx ${c_rx:-?} tx ${c_tx:-?} lost ${c_drop:-?}, expected rx $want_rx tx $want_tx lost $base_drop (guest tx $ep_tx rx $ep_rx since $epoch)"
}

# new_epoch WHAT [read]: counters start again; with read, from the
# backend's current totals (a killed guest left some unaccounted frames),
# else from zero (a fresh backend).
new_epoch() {
	epoch=$1 ep_tx=0 ep_rx=0 base_rx=0 base_tx=0 base_drop=0 base_read=${2:-}
}

# fd_kinds NAME: what the process's fds are, counted by kind
# ("socket 3, anon_inode:[eventfd] 4, ...").
fd_kinds() {
	local f t
	local -A kinds=()
	for f in "/proc/$(proc_pid "$1")/fd/"*; do
		t=$(readlink "$f" 2>/dev/null) || continue
		t=${t%%:\[*}     # socket:[123] -> socket
		kinds[$t]=$(( ${kinds[$t]:-0} + 1 ))
	done
	for t in "${!kinds[@]}"; do
		printf '%s %s, ' "$t" "${kinds[$t]}"
	done | sed 's/, $//'
}

# res_back WHEN: the backend's fds and mappings of guest memory return to
# the baseline taken before the first guest connected (the backend
# releases them asynchronously: wait up to 15 s).
res_back() {
	local now i f m gm b_f b_m b_gm
	read -r b_f b_m b_gm <<<"$res0"
	for (( i = 0; i < 150; i++ )); do
		now=$(be_res "$b")
		read -r f m gm <<<"$now"
		[ "$f" = "$b_f" ] && [ "$gm" = "$b_gm" ] && break
		sleep 0.1
	done
	if [ "$f" != "$b_f" ] || [ "$gm" != "$b_gm" ]; then
		why="${why:+$why; }$1: backend holds $f fds and $gm mappings of guest memory, $b_f and $b_gm before the guest came (fds now: $(fd_kinds "$b"); before: $res0_fds)"
		return 1
	fi
	res_note="fds $f, guest maps $gm, maps $m (baseline $b_f, $b_gm, $b_m)"
}

# saw_stop_ready FROM WHAT: the backend logged, from line FROM on, the
# device stopping and then becoming ready again.
saw_stop_ready() {
	local gone_at
	if ! wait_log "$blog" "$(be_gone_re)" 20 "$(proc_pid "$b")" "$1"; then
		why="backend did not see the device stop ($2)"
		return 1
	fi
	gone_at=$(tail -n +"$1" "$blog" | grep -anE "$(be_gone_re)" | head -n 1 | cut -d: -f1)
	if ! wait_log "$blog" "$(be_ready_re)" 60 "$(proc_pid "$b")" $(( $1 + gone_at )); then
		why="backend did not see the device become ready again ($2)"
		return 1
	fi
}

# boot_guest: start guest g on the case's socket and wait for its command
# loop.
boot_guest() {
	guest_start "$g" sock="$sock" queues="$q" packed="$packed" mrg="$mrg_on" \
		mem="$mem" mac="$mac" "${gopts[@]+"${gopts[@]}"}"
	guest_ready "$g" "$BOOT_TIMEOUT" ||
		why="guest $g did not boot to its command loop in $BOOT_TIMEOUT s"
	glogs+=("$GL_WORK/$g.serial.log" "$GL_WORK/$g.qemu.log")
}

# echo_round R: setup with R queue pairs, then one echo run of fr frames;
# adds the guest's totals to the epoch's and the case's.
echo_round() {
	local r=$1 rc line
	# shellcheck disable=SC2086 # mtu_opt is empty or two words
	if ! guest_cmd "$g" 60 vhu-guest-tool setup --queues "$r" $mtu_opt; then
		why="guest: setup --queues $r failed: $(tail -n 1 <<<"$GL_OUT")"
		return 1
	fi
	trace "guest set up with $r queue pair(s)"
	if [ -n "$iommu" ] && [ "${#rounds[@]}" -eq 0 ]; then
		iommu_guest_check "$g" || return 1
	fi
	if [ "$base_read" = read ]; then
		be_counters || { why="no backend counters"; return 1; }
		base_rx=$c_rx base_tx=$c_tx base_drop=$c_drop base_read=""
	fi
	local irq0="" irq1="" calls0="" calls1=""
	[ -n "$coal" ] && coal_calls && calls0=$GL_CALLS
	# shellcheck disable=SC2016 # expanded in the guest
	[ -n "$coal" ] && guest_cmd "$g" 10 'echo "IRQ $(cut -d" " -f1 /proc/uptime) $(grep -E "virtio[0-9]+\$" /proc/interrupts | head -n 1)"' &&
		irq0=$(grep -a '^IRQ ' <<<"$GL_OUT" | head -n 1)
	guest_cmd "$g" 300 vhu-guest-tool echo --queues "$r" --frames "$fr" \
		--sizes "$sizes" --timeout "$echo_timeout"
	rc=$?
	line=$(grep -a '^RESULT ' <<<"$GL_OUT" | tail -n 1)
	# shellcheck disable=SC2016
	[ -n "$coal" ] && guest_cmd "$g" 10 'echo "IRQ $(cut -d" " -f1 /proc/uptime) $(grep -E "virtio[0-9]+\$" /proc/interrupts | head -n 1)"' &&
		irq1=$(grep -a '^IRQ ' <<<"$GL_OUT" | head -n 1)
	[ -n "$coal" ] && coal_calls && calls1=$GL_CALLS
	if [ -z "$line" ]; then
		why="guest: echo gave no result (status $rc)"
	elif [[ $line != "RESULT PASS "* ]]; then
		why="guest: $(grep -aE '^guest_tool: (echo: [0-9]+ sent|no |probe|queue|bad)' <<<"$GL_OUT" | head -n 4 | sed 's/^guest_tool: //' | tr '\n' ' ')| $line"
	fi
	trace "echo done"
	[ -z "$why" ] || return 1
	ep_tx=$(( ep_tx + $(value tx "$line") ))
	ep_rx=$(( ep_rx + $(value rx "$line") ))
	tx=$(( tx + $(value tx "$line") ))
	rx=$(( rx + $(value rx "$line") ))
	good=$(( good + $(value good "$line") ))
	last_line=$line
	rounds+=("$r")
	[ -z "$coal" ] || echo_coalesce_check
}

# coal_calls: "TIME_NS RXCALLS TXCALLS" in GL_CALLS: the host's clock and
# the calls libvhu made on queue pair 0's two vrings (net_vhu's xstats
# rx_q0/tx_q0_guest_notifications: the guest's transmit and receive
# vrings), read through testpmd's console.
coal_calls() {
	local t r x
	t=$(date +%s%N)
	be_testpmd_cmd "$b" "show port xstats 0" "tx_q0_guest_notifications" ||
		return 1
	r=$(grep -a "^rx_q0_guest_notifications: " <<<"$GL_OUT" | awk '{ print $2 }')
	x=$(grep -a "^tx_q0_guest_notifications: " <<<"$GL_OUT" | awk '{ print $2 }')
	[[ $r =~ ^[0-9]+$ && $x =~ ^[0-9]+$ ]] || return 1
	GL_CALLS="$t $r $x"
}

# echo_coalesce_check: .../coalesce (net_vhu with coalesce-usecs=$coal):
# the echo passed (so no held call was left unmade: the guest waits for
# every echo); libvhu made at most one call per interval on each vring
# over the echo's span (+20, its xstats); and the guest's interrupts stay
# within twice that: its one INTx line carries both vrings' calls,
# receive and transmit completions.
# Works on echo_round's locals; sets why, or adds to detail.
echo_coalesce_check() {
	local t0 i0 t1 i1 n ms secs h0 r0 x0 h1 r1 x1 hms max
	read -r _ t0 _ i0 _ <<<"$irq0"
	read -r _ t1 _ i1 _ <<<"$irq1"
	if ! [[ ${i0:-} =~ ^[0-9]+$ && ${i1:-} =~ ^[0-9]+$ ]]; then
		why="guest: no virtio interrupt line in /proc/interrupts ($irq0 / $irq1)"
		return
	fi
	if [ -z "$calls0" ] || [ -z "$calls1" ]; then
		why="backend: no guest_notifications xstats for queue 0"
		return
	fi
	read -r h0 r0 x0 <<<"$calls0"
	read -r h1 r1 x1 <<<"$calls1"
	n=$(( i1 - i0 ))
	ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
	hms=$(( (h1 - h0) / 1000000 ))
	secs=$(value secs "$line")
	detail="$detail; coalesce-usecs=$coal: $n interrupts in $ms ms for $(value good "$line") echoes, $(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }') interrupts/s at $(awk -v n="$(value good "$line")" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }') echoes/s; vhu calls in $hms ms: receive vring $(( x1 - x0 )), transmit vring $(( r1 - r0 ))"
	# the echo's own span, not the windows: those hold seconds of console
	# round trips without traffic, room enough to hide twice the calls
	max=$(awk -v s="$secs" -v c="$coal" 'BEGIN { printf "%d", s * 1000000 / c + 20 }')
	if [ $(( x1 - x0 )) -gt "$max" ] || [ $(( r1 - r0 )) -gt "$max" ]; then
		why="coalesce-usecs=$coal: vhu made $(( x1 - x0 )) receive and $(( r1 - r0 )) transmit calls for an echo of $secs s, at most $max each allowed"
	elif [ "$n" -gt $(( 2 * max )) ]; then
		why="coalesce-usecs=$coal: $n interrupts for an echo of $secs s, at most $(( 2 * max )) allowed (two vrings)"
	fi
}

# ---- lifecycle steps: what happens between echo rounds ----

# The guest reloads virtio_net: a device reset, then a fresh start on the
# same connection.
step_reload() {
	guest_cmd "$g" 60 "rmmod virtio_net && insmod /lib/modules/virtio_net.ko" ||
		why="guest: reloading virtio_net failed: $(tail -n 1 <<<"$GL_OUT")"
}

# The guest reboots (QEMU resets the machine): the rings stop, and the new
# kernel sets them up again on the same connection.
step_reboot() {
	local from_g from_b
	from_g=$(( $(guest_lines "$g") + 1 ))
	from_b=$(blog_mark)
	guest_cmd_send "$g" "reboot -f"
	guest_wait "$g" '^vhu-guest: ready' "$BOOT_TIMEOUT" "$from_g"
	case $? in
	0) ;;
	2) why="QEMU exited at the guest's reboot -f"; return 1 ;;
	*) why="guest did not come back from reboot -f in $BOOT_TIMEOUT s"; return 1 ;;
	esac
	trace -k reboot "guest rebooted"
	[ "$(grep -ac '^vhu-guest: booted' "${GL_SERIAL[$g]}")" -ge 2 ] ||
		{ why="guest: no second boot in its log"; return 1; }
	saw_stop_ready "$from_b" "reboot"
}

# QEMU is SIGKILLed while an echo runs (the backend took some of its
# frames); the backend must let go of everything the guest gave it, then
# serve a new guest on the same socket.
step_kill() {
	local from_b i
	# shellcheck disable=SC2086
	guest_cmd "$g" 60 vhu-guest-tool setup --queues "$q" $mtu_opt ||
		{ why="guest: setup failed: $(tail -n 1 <<<"$GL_OUT")"; return 1; }
	from_b=$(blog_mark)
	guest_cmd_send "$g" vhu-guest-tool echo --queues "$q" --frames 10000000 \
		--sizes "$sizes" --timeout 60
	# Kill it only once the backend has echoed frames of this run.
	for (( i = 0; i < 30; i++ )); do
		be_counters && [ "$c_rx" -gt 100 ] && break
		sleep 0.5
	done
	if [ "${c_rx:-0}" -le 100 ]; then
		why="no traffic reached the backend before the kill"
		return 1
	fi
	guest_kill "$g"
	trace -k kill "guest killed after the backend got $c_rx frames"
	proc_alive "$b" || { why="the backend died with the guest"; return 1; }
	wait_log "$blog" "$(be_gone_re)" 20 "$(proc_pid "$b")" "$from_b" ||
		{ why="backend did not see the killed guest go"; return 1; }
	res_back "after the kill" || return 1
	detail="$detail; killed at backend rx $c_rx, then $res_note"
	g=${g}k
	boot_guest
	new_epoch "the kill" read
}

# The backend stops under the running guest (QEMU keeps the device) and
# starts again on the same socket: QEMU reconnects to a server-mode vhu
# (reconnect=1), or client-mode vhu reconnects to QEMU (server=1).
step_restart() {
	check_counters
	[ -z "$why" ] || return 1
	echo_be_stop
	[ -z "$why" ] || return 1
	trace -k restart "backend stopped"
	b=${b}r
	blog=$GL_WORK/$b.log
	[ "$selfcheck" = noreconnect ] && sock=$GL_WORK/c$case_no-other.sock
	blogs+=("$blog")
	echo_be_start || { why="the backend did not start again"; return 1; }
	wait_log "$blog" "$(be_ready_re)" 60 "$(proc_pid "$b")" ||
		{ why="the guest's device did not come back to the restarted backend in 60 s"; return 1; }
	trace "device ready on the restarted backend"
	new_epoch "the restart"
}

# run_echo_case NAME: NAME is BACKEND/LAYOUT/qQ[/mrgM][/mtuN][/MODE][/memfd].
# The steps: "echo R" (setup with R queue pairs, one echo run) and the
# lifecycle events between them.
run_echo_case() {
	local name=$1 be layout q=1 mrg=1 mtu=1500 mem=$mem_default g=g$case_no
	local b=be$case_no why="" fr sizes part mode="" step client=0
	local steps=() rounds=() gopts=() glogs=() blogs=() good=0 tx=0 rx=0
	local iommu="" lb_args=() tp_devargs="" tp_init="" coal="" dma=0 tp_eal=""
	local epoch ep_tx ep_rx base_rx base_tx base_drop base_read c_rx c_tx c_drop
	local res0 res0_fds res_note="" last_line="" echo_timeout=10 n_echo=0 from_b
	IFS=/ read -r be layout _ <<<"$name"
	for part in ${name//\// }; do
		case "$part" in
		q[0-9]*) q=${part#q} ;;
		mrg[01]) mrg=${part#mrg} ;;
		mtu[0-9]*) mtu=${part#mtu} ;;
		memfd) mem=memfd ;;
		channels|reload|reboot|kill|restart*) mode=$part ;;
		iommu|iommu-strict) iommu=$part ;;
		coalesce) coal=$coal_pmd_us ;;
		dma) dma=1 ;;
		esac
	done
	case "$mode" in
	channels) steps=("echo 1" "echo $q" "echo 2" "echo $q") ;;
	reload) steps=("echo $q" reload "echo $q" reload "echo $q") ;;
	reboot) steps=("echo $q" reboot "echo $q")
		[ "$selfcheck" = noreboot ] || gopts=(reboot=1) ;;
	kill) steps=(kill "echo $q") ;;
	restart) steps=("echo $q" restart "echo $q"); gopts=(reconnect=1) ;;
	restart-client) steps=("echo $q" restart "echo $q"); client=1; gopts=(server=1) ;;
	# packed rings: the guest's driver restarts the rings after the
	# backend's restart (the workaround for QEMU's lost ring position)
	restart-reload) steps=("echo $q" restart reload "echo $q"); gopts=(reconnect=1) ;;
	*) steps=("echo $q") ;;
	esac
	# a guest whose backend restarts waits for it a while
	[[ $mode == restart* ]] && echo_timeout=30
	local sock=$GL_WORK/c$case_no.sock mtu_opt="" blog=$GL_WORK/$b.log
	# vIOMMU: backends offer ACCESS_PLATFORM and retry a burst up to
	# 1 s while vhu waits for QEMU's answer to an IOTLB miss.
	if [ -n "$iommu" ]; then
		gopts+=(iommu=1)
		[ "$iommu" = iommu-strict ] && gopts+=(append=iommu.strict=1)
		lb_args=(--iommu --tx-retry 1000)
		tp_devargs=",iommu-support=1"
		tp_init=$'set fwd io retry\nset burst tx delay 200 retry 5000'
	fi
	[ -n "$coal" ] && tp_devargs="$tp_devargs,coalesce-usecs=$coal"
	[ "$dma" = 1 ] && dma_devargs
	local packed=off mrg_on=off mac
	[ "$layout" = packed ] && packed=on
	[ "$mrg" = 1 ] && mrg_on=on
	mac=$(printf '52:54:00:00:%02x:01' "$case_no")
	blogs=("$blog")
	detail=""
	fr=$frames
	[ "$mtu" -gt 1500 ] && { fr=$(( frames / 2 )); gopts+=(mtu="$mtu"); mtu_opt="--mtu $mtu"; }
	for step in "${steps[@]}"; do
		[[ $step == echo* ]] && n_echo=$(( n_echo + 1 ))
	done
	fr=$(( fr / n_echo ))
	# behind a vIOMMU every receive buffer is an IOTLB miss: fewer frames
	[ -n "$iommu" ] && fr=$(( fr / 4 ))
	sizes=$(sizes_for "$mtu")

	if ! echo_be_start; then
		proc_stop "$b"
		verdict "$name" "the backend ($be) did not start" "$blog"
		return
	fi
	res0=$(be_res "$b")
	res0_fds=$(fd_kinds "$b")
	trace -k backend "backend up ($res0: $res0_fds)"
	new_epoch "the start"
	boot_guest
	trace -k boot "guest ready"
	for step in "${steps[@]}"; do
		[ -z "$why" ] || break
		case "$step" in
		echo*) echo_round "${step#echo }" ;;
		*) "step_$step" ;;
		esac
	done
	if [ -z "$why" ] && [ "${#steps[@]}" -eq 1 ]; then
		detail="$mem: guest ${last_line#RESULT PASS echo }$detail"
	elif [ -z "$why" ]; then
		detail="$mem: guest ${#rounds[@]} rounds (${mode}, queue pairs $(IFS=,; echo "${rounds[*]}")): $good frames back intact, tx $tx rx $rx$detail"
	fi
	check_counters
	trace -k traffic "counters checked"
	[ "$dma" = 1 ] && [ -z "$why" ] && dma_check
	guest_stop "$g" 30 || why="${why:+$why; }guest did not power off by itself"
	trace -k poweroff "guest stopped"
	# the device's last start must be followed by its stop
	from_b=$(grep -anE "$(be_ready_re)" "$blog" | tail -n 1 | cut -d: -f1)
	if ! proc_alive "$b"; then
		why="${why:+$why; }the backend died during the case"
	else
		if [ -n "$from_b" ] &&
		   ! wait_log "$blog" "$(be_gone_re)" 10 "$(proc_pid "$b")" $(( from_b + 1 )); then
			why="${why:+$why; }the backend did not see the guest go"
		fi
		res_back "at the end" && detail="$detail; back to baseline: $res_note"
	fi
	echo_be_stop
	trace -k end "backend stopped"
	[ -z "$iommu" ] || [ -n "$why" ] || iommu_backend_check "$blog"
	local nerr=0 f
	for f in "${blogs[@]}"; do
		nerr=$(( nerr + $(backend_complaints "$f") ))
	done
	[ "$nerr" -eq 0 ] || detail="$detail; backend log: $nerr error line(s)"
	verdict "$name" "$why" "${glogs[@]}" "${blogs[@]}"
}

# .../dma: one dma_skeleton per queue and direction (one channel each: the
# engine has one), created before the port; dmas= binds txqN to
# dma_skeleton(2N) and rxqN to dma_skeleton(2N+1). The copy threads are
# left unpinned: pinned (lcore=0) to the CPU of the busy forwarding lcore,
# every case stalled at the device start for 40 s and more (vhu's control
# thread waited in move_pages() for per-CPU kernel work on that CPU that
# did not get to run; doc/guide/dma.md). Sets tp_eal and adds to
# tp_devargs (run_echo_case's locals).
dma_devargs() {
	local i list=""
	tp_eal="--iova-mode=va"
	for (( i = 0; i < q; i++ )); do
		tp_eal="$tp_eal --vdev dma_skeleton$(( 2 * i ))"
		tp_eal="$tp_eal --vdev dma_skeleton$(( 2 * i + 1 ))"
		list="$list${list:+;}txq$i@dma_skeleton$(( 2 * i )):0"
		list="$list;rxq$i@dma_skeleton$(( 2 * i + 1 )):0"
	done
	tp_devargs="$tp_devargs,dmas=[$list]"
}

# dma_check: after the echo, with the guest still connected: the backend
# logged every binding, and the engine copied on every queue that takes
# it. Sets why, or adds the copy counts to detail.
dma_check() {
	local i dir v copies="" fb
	for (( i = 0; i < q; i++ )); do
		for dir in tx rx; do
			grep -aq "port 0: $dir queue $i copies on DMA" "$blog" ||
				{ why="backend: $dir queue $i was not bound to its DMA channel"; return; }
		done
	done
	be_testpmd_cmd "$b" "show port xstats 0" "tx_q$(( q - 1 ))_dma_fallbacks" ||
		{ why="backend: no dma xstats"; return; }
	for (( i = 0; i < q; i++ )); do
		for dir in tx rx; do
			v=$(grep -a "^${dir}_q${i}_dma_copies: " <<<"$GL_OUT" | awk '{ print $2 }')
			fb=$(grep -a "^${dir}_q${i}_dma_fallbacks: " <<<"$GL_OUT" | awk '{ print $2 }')
			[ -n "$v" ] || { why="backend: no ${dir}_q${i}_dma_copies xstat"; return; }
			copies="$copies${copies:+, }${dir}q$i $v (fallbacks ${fb:-?})"
			[ "$v" -gt 0 ] || why="backend: the engine copied nothing for ${dir}q$i"
		done
	done
	detail="$detail; DMA copies: $copies"
}

# vIOMMU cases: the guest's NIC must sit in a translated IOMMU domain
# (type DMA: strict, DMA-FQ: lazy; "identity" would bypass the IOTLB), and
# vhu must have gone through the IOTLB. Set why, or add to detail.
iommu_guest_check() {
	local t
	if ! guest_cmd "$1" 30 "cat /sys/class/net/eth0/device/../iommu_group/type; ls /sys/kernel/iommu_groups | wc -l"; then
		why="guest: no IOMMU group for eth0: $(tail -n 1 <<<"$GL_OUT")"
		return 1
	fi
	t=$(head -n 1 <<<"$GL_OUT")
	case "$t" in
	DMA|DMA-FQ) iommu_detail="IOMMU domain $t, $(tail -n 1 <<<"$GL_OUT") groups" ;;
	*) why="guest: eth0's IOMMU domain is '$t', not translated"; return 1 ;;
	esac
}

iommu_backend_check() {
	local line u inv m
	line=$(grep -a 'IOTLB: [0-9]* updates' "$1" | tail -n 1)
	read -r u inv m < <(sed -n 's/.*IOTLB: \([0-9]*\) updates, \([0-9]*\) invalidates.*, \([0-9]*\) misses sent.*/\1 \2 \3/p' <<<"$line")
	if [ -z "$line" ] || [ "${u:-0}" -eq 0 ] || [ "${inv:-0}" -eq 0 ] ||
	   [ "${m:-0}" -eq 0 ]; then
		why="vhu went through no IOTLB: ${line:-no IOTLB line in the backend log}"
	else
		detail="$detail; $iommu_detail; vhu ${line#*IOTLB: }"
	fi
}

# ---- vswitch case ---------------------------------------------------------------
# toeplitz SPORT DPORT: the flow hash vhu-vswitch computes for A's frames
# (10.11.0.1 -> 10.11.0.2, UDP): Toeplitz over source and destination
# address, source and destination port, with the switch's key, 0x6d5a
# repeated. That key has a 16-bit period, so the 32-bit window at input
# bit j is 0x6d5a6d5a rotated left by j mod 16.
toeplitz() {
	local w=(0x0a0b0001 0x0a0b0002 $(( ($1 << 16) | $2 ))) h=0 i b j k
	for (( i = 0; i < 3; i++ )); do
		for (( b = 31; b >= 0; b-- )); do
			(( (w[i] >> b) & 1 )) || continue
			j=$(( (32 * i + 31 - b) % 16 ))
			k=$(( ((0x6d5a6d5a << j) | (0x6d5a6d5a >> (32 - j))) & 0xffffffff ))
			h=$(( h ^ k ))
		done
	done
	echo "$h"
}

# vswitch_rss_check: every flow of A (one UDP source port per queue pair)
# arrived on one receive queue of B (recv fails otherwise), and with
# several queue pairs on the one the switch's hash picks (hash mod the
# enabled queue pairs). Works on run_vswitch_case's locals; sets why, or
# adds to detail.
vswitch_rss_check() {
	local flows f fq port rq want wrong="" n=0
	flows=$(value flows "$line_b")
	if [ -z "$flows" ] || [ "$flows" = - ]; then
		why="${why:+$why; }guest B: no flows in its result ($line_b)"
		return
	fi
	for f in ${flows//,/ }; do
		fq=${f%%:*}
		port=${f#*:}
		port=${port%@*}
		rq=${f#*@}
		n=$(( n + 1 ))
		[ "$q" -gt 1 ] || continue
		want=$(( $(toeplitz "$port" 9) % q ))
		[ "$rq" = "$want" ] ||
			wrong="$wrong flow $fq (UDP port $port) on rx queue $rq, the hash picks $want;"
	done
	if [ "$n" -ne "$q" ]; then
		why="guest B saw $n flow(s) from A, A sent $q: $flows"
	elif [ -n "$wrong" ]; then
		why="RSS steering:${wrong%;}"
	else
		detail="$detail; flows (A's queue:port@B's queue) $flows, as the switch's hash picks"
	fi
}

# vswitch_telemetry_check: vhu's telemetry of the switch, read while both
# guests are still up (after the traffic): /vhu/devices lists two
# devices, /vhu/sockets one device and no diagnostic on each socket; each
# device runs, negotiated what its guest's driver did (VERSION_1,
# mrg_rxbuf, the layout, the offloads), sits on NUMA node 0 with every
# vring (one node here: no remote polls), has no diagnostic, and its
# vrings' packet counters are the guests' per-queue counters: B's
# receive vrings (even) what B's queues counted, A's transmit vrings
# (odd) what A's queues sent (data and probes), nothing the other way.
# Sets why, or adds to detail.
vswitch_telemetry_check() {
	local fa fb devs ids id cmds=() res
	guest_cmd "$a" 30 vhu-guest-tool features
	fa=$(value bits "$(grep -a '^FEATURES ' <<<"$GL_OUT" | tail -n 1)")
	guest_cmd "$bg" 30 vhu-guest-tool features
	fb=$(value bits "$(grep -a '^FEATURES ' <<<"$GL_OUT" | tail -n 1)")
	if [ -z "$fa" ] || [ -z "$fb" ]; then
		why="${why:+$why; }a guest printed no FEATURES line"
		return
	fi
	if ! be_telemetry "$sw" /vhu/devices || [ -z "$GL_OUT" ]; then
		why="${why:+$why; }telemetry: no answer from vhu-vswitch (prefix $(gl_prefix "$sw")): $GL_OUT"
		return
	fi
	devs=$GL_OUT
	ids=$(python3 -c 'import json, sys
print(" ".join(str(i) for i in json.loads(sys.argv[1])["/vhu/devices"]))' "$devs")
	for id in $ids; do
		cmds+=("/vhu/device,$id")
	done
	be_telemetry "$sw" /vhu/sockets "${cmds[@]+"${cmds[@]}"}"
	res=$(python3 - "$sa" "$sb" "$q" "$layout" "$fa" "$fb" \
		"$(value txq "$line_a")" "$(value rxq "$line_b")" "$devs" \
		"$GL_OUT" <<'EOF'
import json, sys
sa, sb, q, layout, fa, fb, txq, rxq, devs, out = sys.argv[1:11]
q = int(q)
lines = [json.loads(l) for l in out.splitlines() if l.strip()]
errs, notes = [], []
socks = [l["/vhu/sockets"] for l in lines if "/vhu/sockets" in l]
dev = {}
for l in lines:
    d = l.get("/vhu/device")
    if d:
        dev[d.get("socket")] = d
if len(json.loads(devs)["/vhu/devices"]) != 2:
    errs.append("/vhu/devices %s, two wanted" % devs.strip())
if not socks:
    errs.append("no /vhu/sockets answer")
for s in (socks[0].values() if socks else []):
    if s.get("path") in (sa, sb) and (len(s.get("devices", [])) != 1 or s.get("diag")):
        errs.append("socket %s: devices %r diag %r" % (s["path"], s.get("devices"), s.get("diag")))
# feature bits compared with the guest's driver's: the offloads,
# mrg_rxbuf 15, indirect_desc 28, event_idx 29, version_1 32,
# ring_packed 34 (QEMU passes these to the backend as negotiated)
bits = (0, 1, 7, 8, 9, 11, 12, 13, 15, 28, 29, 32, 34)
counts = {"A": [int(x) for x in txq.split(",")], "B": [int(x) for x in rxq.split(",")]}
for who, path, gbits in (("A", sa, fa), ("B", sb, fb)):
    d = dev.get(path)
    if d is None:
        errs.append("no /vhu/device for %s's socket" % who)
        continue
    f = int(d.get("features", "0"), 16)
    diff = [b for b in bits if (f >> b) & 1 != (b < len(gbits) and gbits[b] == "1")]
    if diff:
        errs.append("%s: vhu features %s, the guest's bits %s differ at %s" % (who, d.get("features"), gbits, diff))
    if not (f >> 32) & 1 or (f >> 34) & 1 != (layout == "packed"):
        errs.append("%s: features %s (VERSION_1; ring_packed for %s)" % (who, d.get("features"), layout))
    for k, want in (("running", 1), ("numa_node", 0), ("diag", []), ("nr_vrings", 2 * q)):
        if d.get(k) != want:
            errs.append("%s: %s %r, want %r" % (who, k, d.get(k), want))
    pk = []
    for v in range(2 * q):
        r = d.get("vring%d" % v) or {}
        st = r.get("stats", {})
        state = (r.get("enabled"), r.get("live"), r.get("broken"), r.get("layout"), r.get("numa_node"), r.get("remote_polls"))
        if state != (1, 1, 0, layout, 0, 0):
            errs.append("%s vring%d: enabled, live, broken, layout, numa_node, remote_polls %r" % (who, v, state))
        # B receives on its even vrings, A sends on its odd ones
        mine = (who == "B") == (v % 2 == 0)
        want = counts[who][v // 2] if mine else 0
        if st.get("packets") != want:
            errs.append("%s vring%d: %r packets, the guest counted %d" % (who, v, st.get("packets"), want))
        pk.append(str(st.get("packets")))
    notes.append("%s node %s, features %s, vring packets %s" % (who, d.get("numa_node"), d.get("features"), "/".join(pk)))
print("ERR " + "; ".join(errs) if errs else "OK " + "; ".join(notes))
EOF
)
	if [[ $res == "OK "* ]]; then
		detail="$detail; telemetry: ${res#OK }"
	else
		why="${why:+$why; }telemetry: ${res#ERR }"
	fi
}

run_vswitch_case() {
	local name=$1 layout q mem=$mem_default a=a$case_no bg=b$case_no sw=sw$case_no
	local why="" packed line_a line_b rc run
	IFS=/ read -r _ layout q _ <<<"$name"
	q=${q#q}
	[[ $name == */memfd ]] && mem=memfd
	packed=$([ "$layout" = packed ] && echo on || echo off)
	local sa=$GL_WORK/c$case_no-a.sock sb=$GL_WORK/c$case_no-b.sock
	local mac_a mac_b
	mac_a=$(printf '52:54:00:00:%02x:0a' "$case_no")
	mac_b=$(printf '52:54:00:00:%02x:0b' "$case_no")
	local slog=$GL_WORK/$sw.log vs_frames=$(( frames / 2 ))
	detail=""
	run=$(( RANDOM * 32768 + RANDOM ))
	# With several queue pairs, two workers: frames cross from one
	# worker's queues to another's, under the switch's enqueue lock.
	GL_VSWITCH_WORKERS=$(( q > 1 ? 2 : 1 )) be_vswitch_start "$sw" "$sa" "$sb" ||
		{ proc_stop "$sw"; verdict "$name" "vhu-vswitch did not start" "$slog"; return; }
	trace -k backend "vswitch up"
	guest_start "$a" sock="$sa" queues="$q" packed="$packed" mem="$mem" mac="$mac_a"
	guest_start "$bg" sock="$sb" queues="$q" packed="$packed" mem="$mem" mac="$mac_b"
	if ! guest_ready "$a" "$BOOT_TIMEOUT" || ! guest_ready "$bg" "$BOOT_TIMEOUT"; then
		why="a guest did not boot to its command loop in $BOOT_TIMEOUT s"
	elif ! trace -k boot "guests ready" ||
	     ! guest_cmd "$a" 60 vhu-guest-tool setup --queues "$q" ||
	     ! guest_cmd "$bg" 60 vhu-guest-tool setup --queues "$q"; then
		why="guest setup failed: $(tail -n 1 <<<"$GL_OUT")"
	else
		local from
		from=$(guest_lines "$bg")
		# B gives up 3 s after the last frame, or when A would have
		# been done three times over.
		guest_cmd_send "$bg" vhu-guest-tool recv --src "$mac_a" \
			--frames "$vs_frames" --timeout $(( vs_frames / 5000 * 3 + 30 )) \
			--idle 3 --max-loss $(( vs_frames / 10 )) --run "$run" \
			--ready recv-ready --queues "$q"
		local rid=$GL_ID
		if ! guest_wait "$bg" 'guest_tool: recv-ready' 30 "$from"; then
			why="guest B: recv did not start"
		else
			guest_cmd "$a" 240 vhu-guest-tool send --dst "$mac_b" \
				--frames "$vs_frames" --sizes "$(sizes_for 1500)" \
				--rate 5000 --run "$run" --queues "$q"
			line_a=$(grep -a '^RESULT ' <<<"$GL_OUT" | tail -n 1)
			if [[ $line_a != "RESULT PASS "* ]]; then
				# B would wait for frames that never come: the
				# out-of-band stop below ends it.
				why="guest A: ${line_a:-no result} $(grep -a '^guest_tool: ' <<<"$GL_OUT" | grep -v 'send: [0-9]* frames to' | head -n 2 | tr '\n' ' ')"
			else
				guest_cmd_wait "$bg" "$rid" 60
				line_b=$(grep -a '^RESULT ' <<<"$GL_OUT" | tail -n 1)
				[[ $line_b == "RESULT PASS "* ]] ||
					why="guest B: ${line_b:-no result} $(grep -a '^guest_tool: bad' <<<"$GL_OUT" | head -n 2 | tr '\n' ' ')"
			fi
			detail="$mem: A ${line_a#RESULT PASS send }; B ${line_b#RESULT PASS recv }"
		fi
	fi
	trace -k traffic "traffic done"
	if [ -z "$why" ]; then
		vswitch_rss_check
		vswitch_telemetry_check
		trace -k telemetry "flows and telemetry checked"
	fi
	guest_stop "$a" 30 || why="${why:+$why; }guest A did not power off by itself"
	guest_stop "$bg" 30 || why="${why:+$why; }guest B did not power off by itself"
	trace -k poweroff "guests stopped"
	proc_alive "$sw" || why="${why:+$why; }vhu-vswitch died during the case"
	proc_stop "$sw" 10 || why="${why:+$why; }vhu-vswitch exit status $GL_RC after SIGTERM"
	trace -k end "vswitch stopped"
	# Exact accounting: port 0 got everything A's counters say it sent
	# (data and steering probes), port 1 delivered what B's counters say
	# it received and counted the rest as drops; nothing went from B to A.
	if [ -z "$why" ]; then
		local p0 p1 rx0 tx0 rx1 tx1 dr1 atx brx
		p0=$(grep -a '^  port 0 ' "$slog" | tail -n 1)
		p1=$(grep -a '^  port 1 ' "$slog" | tail -n 1)
		read -r rx0 tx0 _ < <(sed -n 's/.*rx \([0-9]*\) frames, tx \([0-9]*\) frames, drops \([0-9]*\).*/\1 \2 \3/p' <<<"$p0")
		read -r rx1 tx1 dr1 < <(sed -n 's/.*rx \([0-9]*\) frames, tx \([0-9]*\) frames, drops \([0-9]*\).*/\1 \2 \3/p' <<<"$p1")
		atx=$(value tx "$line_a")
		brx=$(value rx "$line_b")
		if [ -z "$rx0" ] || [ -z "$rx1" ]; then
			why="no vswitch summary"
		elif [ "$rx0" != "$atx" ] || [ "$tx1" != "$brx" ] ||
		     [ "$dr1" != $(( atx - brx )) ] || [ "$rx1" != 0 ] ||
		     [ "$tx0" != 0 ]; then
			why="counts disagree: A's tx counters $atx, switch port 0 rx $rx0 tx $tx0, port 1 rx $rx1 tx $tx1 drops $dr1, B's rx counters $brx"
		else
			detail="$detail; vswitch p0 rx $rx0, p1 tx $tx1 drops $dr1"
		fi
	fi
	rc=$(backend_complaints "$slog")
	[ "$rc" -eq 0 ] || detail="$detail; backend log: $rc error line(s)"
	verdict "$name" "$why" "$GL_WORK/$a.serial.log" "$GL_WORK/$bg.serial.log" \
		"$GL_WORK/$a.qemu.log" "$GL_WORK/$bg.qemu.log" "$slog"
}

# ---- interrupt coalescing ------------------------------------------------------
# run_coalesce_case NAME: vswitch/LAYOUT/q1/coalesce. Guest B's receive
# interrupts (virtio_net in interrupt mode with NAPI) without and with
# vhu-vswitch --coalesce-us $coal_us. Each run starts its own switch and
# two fresh guests; A sends $coal_frames frames to B at $coal_rate
# frames/s; B reads its device's line of /proc/interrupts and /proc/uptime
# just before and just after its recv. The devices have no MSI-X (QEMU 7.2
# under TCG crashes with it, doc/guide/qemu.md), so the line is the legacy
# INTx one, "virtioK", which also counts B's transmit and configuration
# interrupts (B sends nothing meanwhile): an upper bound on its receive
# interrupts, virtioK-input.0 with MSI-X. In both runs B must have read
# every frame the switch put in its ring (B's counters equal the switch's
# port 1 tx: a call held back and never made would leave B asleep with
# used buffers), and the switch must have counted the rest as ring-full
# drops, fewer than half (both guests and their QEMUs share one CPU with
# whatever else runs there, so B can fall behind: drops are counted and
# printed, not a verdict, as long as B's counters and the switch's agree;
# a stuck queue shows as frames given to B and never read). With
# coalescing, B may take at most one interrupt per interval of the time
# it measured (plus 20 for the edges) and at most one per two frames.
# The interval (5 ms, 10 frames) is long because both guests share one
# CPU: B runs in time slices of a few milliseconds and takes one
# interrupt per slice at most whatever the backend does (the eventfd
# sums the calls made while B's vCPU is out), about 1000 a second at
# 2000 frames/s here; a shorter interval would not bite. Both rates go
# into the PASS line; without coalescing nothing is asserted on them.
coal_us=5000
coal_pmd_us=1000
coal_rate=2000
coal_rates=()
coalesce_run() {
	local mode=$1 tag=$2 a=a$case_no$2 bg=b$case_no$2 sw=sw$case_no$2
	local sa=$GL_WORK/c$case_no$tag-a.sock sb=$GL_WORK/c$case_no$tag-b.sock
	local slog=$GL_WORK/$sw.log line_a line_b from rid p1 tx1 dr1 brx
	local i0 i1 t0 t1 irqs ms max_loss=$coal_frames run vstats="-" late="-"
	run=$(( RANDOM * 32768 + RANDOM ))
	local vs_args=""
	[ "$mode" = on ] && vs_args="--coalesce-us $coal_us"
	logs+=("$GL_WORK/$a.serial.log" "$GL_WORK/$bg.serial.log" "$slog")
	GL_VSWITCH_ARGS=$vs_args be_vswitch_start "$sw" "$sa" "$sb" ||
		{ proc_stop "$sw"; why="$mode: vhu-vswitch did not start"; return; }
	guest_start "$a" sock="$sa" packed="$packed" mem="$mem" mac="$mac_a"
	guest_start "$bg" sock="$sb" packed="$packed" mem="$mem" mac="$mac_b"
	if ! guest_ready "$a" "$BOOT_TIMEOUT" || ! guest_ready "$bg" "$BOOT_TIMEOUT"; then
		why="$mode: a guest did not boot to its command loop in $BOOT_TIMEOUT s"
	elif ! trace -k "boot-$mode" "guests ready" ||
	     ! guest_cmd "$a" 60 vhu-guest-tool setup --queues 1 ||
	     ! guest_cmd "$bg" 60 vhu-guest-tool setup --queues 1; then
		why="$mode: guest setup failed: $(tail -n 1 <<<"$GL_OUT")"
	else
		from=$(guest_lines "$bg")
		# shellcheck disable=SC2016 # expanded in the guest
		local irq='echo "IRQ $(cut -d" " -f1 /proc/uptime) $(grep -E "virtio[0-9]+(-input\.0)?\$" /proc/interrupts | head -n 1)"'
		guest_cmd_send "$bg" "$irq; vhu-guest-tool recv --src $mac_a" \
			"--frames $coal_frames --timeout $(( coal_frames / coal_rate * 3 + 30 ))" \
			"--idle 3 --max-loss $max_loss --run $run --ready recv-ready --queues 1; rc=\$?; $irq; exit \$rc"
		rid=$GL_ID
		if ! guest_wait "$bg" 'guest_tool: recv-ready' 30 "$from"; then
			why="$mode: guest B: recv did not start"
		else
			guest_cmd "$a" 240 vhu-guest-tool send --dst "$mac_b" \
				--frames "$coal_frames" --sizes 60-1514 \
				--rate "$coal_rate" --run "$run" --queues 1
			line_a=$(grep -a '^RESULT ' <<<"$GL_OUT" | tail -n 1)
			if [[ $line_a != "RESULT PASS "* ]]; then
				why="$mode: guest A: ${line_a:-no result}"
			else
				guest_cmd_wait "$bg" "$rid" 60
				line_b=$(grep -a '^RESULT ' <<<"$GL_OUT" | tail -n 1)
				[[ $line_b == "RESULT PASS "* ]] ||
					why="$mode: guest B: ${line_b:-no result} $(grep -a '^guest_tool: ' <<<"$GL_OUT" | tail -n 3 | tr '\n' ' ')"
				# IRQ UPTIME N: COUNT ... virtioK-input.0
				read -r _ t0 _ i0 _ < <(grep -a '^IRQ ' <<<"$GL_OUT" | head -n 1)
				read -r _ t1 _ i1 _ < <(grep -a '^IRQ ' <<<"$GL_OUT" | sed -n 2p)
				coalesce_vring_stats
			fi
		fi
	fi
	trace -k "traffic-$mode" "traffic done"
	guest_stop "$a" 30 || why="${why:+$why; }$mode: guest A did not power off by itself"
	guest_stop "$bg" 30 || why="${why:+$why; }$mode: guest B did not power off by itself"
	proc_alive "$sw" || why="${why:+$why; }$mode: vhu-vswitch died during the case"
	proc_stop "$sw" 10 || why="${why:+$why; }$mode: vhu-vswitch exit status $GL_RC after SIGTERM"
	[ -z "$why" ] || return
	if ! [[ ${i0:-} =~ ^[0-9]+$ && ${i1:-} =~ ^[0-9]+$ && ${t0:-} =~ ^[0-9.]+$ && ${t1:-} =~ ^[0-9.]+$ ]]; then
		why="$mode: no virtio interrupt line in B's /proc/interrupts: $(grep -a '^IRQ ' <<<"$GL_OUT" | tr '\n' ' ')"
		return
	fi
	p1=$(grep -a '^  port 1 ' "$slog" | tail -n 1)
	read -r tx1 dr1 < <(sed -n 's/.*tx \([0-9]*\) frames, drops \([0-9]*\).*/\1 \2/p' <<<"$p1")
	brx=$(value rx "$line_b")
	if [ -z "$tx1" ] || [ "$tx1" != "$brx" ] ||
	   [ "$dr1" != $(( $(value tx "$line_a") - brx )) ]; then
		why="$mode: frames unaccounted for: A's tx $(value tx "$line_a"), switch port 1 tx ${tx1:--} drops ${dr1:--}, B's rx $brx (vhu's vring 0 of B after the traffic: $vstats; B a second later: $late)"
		return
	fi
	if [ $(( brx * 2 )) -lt "$coal_frames" ]; then
		why="$mode: B received $brx of $coal_frames frames (the switch dropped $dr1 at B's full ring)"
		return
	fi
	irqs=$(( i1 - i0 ))
	# B's window in ms (uptime has centiseconds)
	ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
	[ "$ms" -gt 0 ] || ms=1
	local secs fps ips
	secs=$(value secs "$line_a")
	fps=$(awk -v n="$brx" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
	ips=$(awk -v n="$irqs" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
	detail="${detail:+$detail; }$mode: $irqs interrupts (vhu: $vstats) for $brx frames ($dr1 dropped at B's full ring) ($(awk -v i="$irqs" -v n="$brx" 'BEGIN { printf "%.2f", n ? i / n : 0 }') per frame) in ${ms} ms, $ips interrupts/s at $fps frames/s"
	coal_rates+=("$name $mode: $ips irq/s at $fps frames/s")
	if [ "$mode" = on ]; then
		local bound=$(( ms * 1000 / coal_us + 20 ))
		if [ "$irqs" -gt "$bound" ]; then
			why="on: $irqs interrupts in $ms ms, at most $bound allowed at one per $coal_us us"
		elif [ $(( irqs * 2 )) -gt "$brx" ]; then
			why="on: $irqs interrupts for $brx frames, more than one per two"
		fi
	fi
}

# coalesce_vring_stats: B's receive vring as vhu sees it (telemetry,
# while the guests are up): packets put in it and calls made to B, into
# vstats; then B's interrupt line and receive counter once more, a second
# later, into late (a frame left unread in B's ring shows here: whether a
# call came late or never). Works on coalesce_run's locals.
coalesce_vring_stats() {
	local ids id
	vstats="-"
	if be_telemetry "$sw" /vhu/devices && [ -n "$GL_OUT" ]; then
		ids=$(python3 -c 'import json, sys
print(" ".join("/vhu/device,%d" % i for i in json.loads(sys.argv[1])["/vhu/devices"]))' "$GL_OUT")
		# shellcheck disable=SC2086 # one command per word
		be_telemetry "$sw" $ids
		vstats=$(python3 -c 'import json, sys
for l in sys.argv[2].splitlines():
    d = json.loads(l).get("/vhu/device") or {}
    if d.get("socket") == sys.argv[1]:
        st = (d.get("vring0") or {}).get("stats", {})
        print("packets %s calls %s" % (st.get("packets"), st.get("calls")))' "$sb" "$GL_OUT")
	fi
	sleep 1
	# shellcheck disable=SC2016 # expanded in the guest
	guest_cmd "$bg" 10 'echo "LATE $(grep -E "virtio[0-9]+\$" /proc/interrupts | head -n 1) rx $(cat /sys/class/net/eth0/statistics/rx_packets)"'
	late=$(grep -a '^LATE ' <<<"$GL_OUT" | head -n 1)
}

run_coalesce_case() {
	local name=$1 layout packed mem=$mem_default why="" logs=() mac_a mac_b
	local coal_frames=$(( frames / 4 ))
	IFS=/ read -r _ layout _ <<<"$name"
	packed=$([ "$layout" = packed ] && echo on || echo off)
	mac_a=$(printf '52:54:00:00:%02x:0a' "$case_no")
	mac_b=$(printf '52:54:00:00:%02x:0b' "$case_no")
	detail=""
	coalesce_run off 0
	[ -n "$why" ] || coalesce_run on 1
	verdict "$name" "$why" "${logs[@]}"
}

# ---- set-up mistakes vhu diagnoses -----------------------------------------
# run_diag_case NAME: loopback/LAYOUT/qQ/share-off. The guest's memory
# backend maps its memfd privately (share=off): QEMU still sends the
# file, vhu maps it and the device starts, but every page the guest
# writes is a private copy vhu never sees. vhu-loopback must log the
# share=off warning when the device starts, and telemetry must list
# mem_invisible in the device's diag and in its socket's (sticky). The
# guest's traffic cannot work and is not tried. Then the usual end: the
# guest powers off, the backend sees the device stop, its fds and
# mappings of guest memory return to the baseline, and it exits 0.
# --selfcheck shareon boots the guest with share=on: the case must FAIL.
run_diag_case() {
	local name=$1 layout q g=g$case_no b=be$case_no why="" packed=off
	local be=loopback sock=$GL_WORK/c$case_no.sock blog res0 res0_fds res_note=""
	local share=off warn ids id out res rc
	IFS=/ read -r _ layout q _ <<<"$name"
	q=${q#q}
	[ "$layout" = packed ] && packed=on
	[ "$selfcheck" = shareon ] && share=on
	blog=$GL_WORK/$b.log
	detail=""
	warn='hold only zeros in the files the frontend shared'
	if ! be_loopback_start "$b" "$sock" "$q"; then
		proc_stop "$b"
		verdict "$name" "vhu-loopback did not start" "$blog"
		return
	fi
	res0=$(be_res "$b")
	res0_fds=$(fd_kinds "$b")
	trace -k backend "backend up ($res0)"
	guest_start "$g" sock="$sock" queues="$q" packed="$packed" mem=memfd \
		share="$share" mac="$(printf '52:54:00:00:%02x:01' "$case_no")"
	if ! guest_ready "$g" "$BOOT_TIMEOUT"; then
		why="guest $g did not boot to its command loop in $BOOT_TIMEOUT s"
	elif ! trace -k boot "guest ready" ||
	     ! guest_cmd "$g" 60 vhu-guest-tool setup --queues "$q"; then
		why="guest: setup --queues $q failed: $(tail -n 1 <<<"$GL_OUT")"
	elif ! wait_log "$blog" "$warn" 20 "$(proc_pid "$b")"; then
		why="vhu-loopback did not warn of share=off memory in 20 s (memory share=$share)"
	fi
	trace -k diag "warning seen"
	if [ -z "$why" ]; then
		# the warning comes before new_device: wait for the device
		wait_log "$blog" "$(be_ready_re)" 20 "$(proc_pid "$b")" >/dev/null
		be_telemetry "$b" /vhu/devices
		ids=$(python3 -c 'import json, sys
print(" ".join(str(i) for i in json.loads(sys.argv[1])["/vhu/devices"]))' "$GL_OUT" 2>/dev/null)
		out=""
		for id in $ids; do
			be_telemetry "$b" "/vhu/device,$id"
			out="$out$GL_OUT"$'\n'
		done
		be_telemetry "$b" /vhu/sockets
		out="$out$GL_OUT"
		res=$(python3 - "$sock" "$out" <<'EOF'
import json, sys
sock, out = sys.argv[1:3]
lines = [json.loads(l) for l in out.splitlines() if l.strip()]
devs = [l["/vhu/device"] for l in lines if l.get("/vhu/device")]
socks = [s for l in lines if "/vhu/sockets" in l for s in l["/vhu/sockets"].values() if s.get("path") == sock]
d = [x for x in devs if x.get("socket") == sock]
errs = []
if len(d) != 1:
    errs.append("%d device(s) on the socket in /vhu/device" % len(d))
elif "mem_invisible" not in (d[0].get("diag") or []):
    errs.append("device diag %r lacks mem_invisible" % d[0].get("diag"))
if len(socks) != 1 or "mem_invisible" not in (socks[0].get("diag") or []):
    errs.append("socket diag %r lacks mem_invisible" % [s.get("diag") for s in socks])
if errs:
    print("ERR " + "; ".join(errs))
else:
    print("OK device %s diag %s, running %s; socket diag %s" % (d[0].get("id"), d[0].get("diag"), d[0].get("running"), socks[0].get("diag")))
EOF
)
		if [[ $res == "OK "* ]]; then
			detail="memory share=$share: vhu warned ($(grep -ac "$warn" "$blog") line); telemetry: ${res#OK }"
		else
			why="telemetry: ${res#ERR }"
		fi
		trace -k telemetry "telemetry read"
	fi
	guest_stop "$g" 30 || why="${why:+$why; }guest did not power off by itself"
	trace -k poweroff "guest stopped"
	if ! proc_alive "$b"; then
		why="${why:+$why; }the backend died during the case"
	else
		if grep -aqE "$(be_ready_re)" "$blog" &&
		   ! wait_log "$blog" "$(be_gone_re)" 10 "$(proc_pid "$b")"; then
			why="${why:+$why; }the backend did not see the guest go"
		fi
		res_back "at the end" && detail="$detail; back to baseline: $res_note"
	fi
	proc_stop "$b" 10 || why="${why:+$why; }vhu-loopback exit status $GL_RC after SIGTERM"
	trace -k end "backend stopped"
	rc=$(backend_complaints "$blog")
	[ "$rc" -eq 0 ] || detail="$detail; backend log: $rc error line(s)"
	verdict "$name" "$why" "$GL_WORK/$g.serial.log" "$GL_WORK/$g.qemu.log" "$blog"
}

# ---- TCP cases (vhu-vswitch, offloads) ----------------------------------------
# The virtio-net offload bits the TCP cases check, by name (as the guest
# tool prints them and the switch logs them); the bit numbers are for the
# reader of a FEATURES line's bits=.
tcp_bits=(csum:0 guest_csum:1 guest_tso4:7 guest_tso6:8 guest_ecn:9
	host_tso4:11 host_tso6:12 host_ecn:13)

# tcp_expect MODE: "name=0|1 ..." a guest must have negotiated on a port
# offering MODE (vhu-vswitch --offloads); the guest's own device (QEMU's
# default virtio-net-pci) asks for all of them.
tcp_expect() {
	local nb n v out=""
	for nb in "${tcp_bits[@]}"; do
		n=${nb%%:*}
		case "$1:$n" in
		on:*) v=1 ;;
		no-guest:guest_*) v=0 ;;
		no-guest:*) v=1 ;;
		no-tso:csum|no-tso:guest_csum) v=1 ;;
		*) v=0 ;;
		esac
		out="$out $n=$v"
	done
	echo "${out# }"
}

# tcp_check_features WHO MODE PORT: the FEATURES line in GL_OUT (from
# `vhu-guest-tool features` in guest WHO on switch port PORT) against what
# MODE offers, the ring layout and mergeable buffers of the case, and what
# vhu-vswitch logged it negotiated; adds to why, and the guest's netdev
# offloads to detail.
tcp_check_features() {
	local who=$1 mode=$2 port=$3 line nd want got="" nb n kv wrong="" vs
	local vsw="" gn=""
	line=$(grep -a '^FEATURES ' <<<"$GL_OUT" | tail -n 1)
	nd=$(grep -a '^NETDEV' <<<"$GL_OUT" | tail -n 1)
	if [ -z "$line" ]; then
		why="${why:+$why; }guest $who: no FEATURES line: $(tail -n 1 <<<"$GL_OUT")"
		return
	fi
	want="$(tcp_expect "$mode") mrg_rxbuf=$([ "$mrg" = 1 ] && echo 1 || echo 0) ring_packed=$([ "$layout" = packed ] && echo 1 || echo 0)"
	for kv in $want; do
		n=${kv%%=*}
		got=$(value "$n" "$line")
		[ "$got" = "${kv#*=}" ] || wrong="$wrong $n=${got:-?}(want ${kv#*=})"
	done
	[ -z "$wrong" ] ||
		why="${why:+$why; }guest $who (port $port, offloads $mode) negotiated${wrong} [bits $(value bits "$line")]"
	# What vhu negotiated, as the switch logged it, for the same bits.
	if [ "$be" = testpmd ]; then
		for nb in "${tcp_bits[@]}"; do
			n=${nb%%:*}
			[ "$(value "$n" "$line")" = 1 ] && gn="$gn${gn:+,}$n"
		done
		detail="$detail; $who: ${gn:-no offloads} (netdev:${nd#NETDEV})"
		return
	fi
	vs=$(grep -a "^vswitch: port $port (.*): features " "$slog" | tail -n 1)
	vs=${vs##*offloads }
	for nb in "${tcp_bits[@]}"; do
		n=${nb%%:*}
		[ "$(value "$n" "$line")" = 1 ] && gn="$gn${gn:+,}$n"
		[[ ,$vs, == *,$n,* ]] && vsw="$vsw${vsw:+,}$n"
	done
	[ "$gn" = "$vsw" ] ||
		why="${why:+$why; }port $port: vhu negotiated offloads '${vsw:-none}' (switch log: '${vs:-no line}'), guest $who '${gn:-none}'"
	detail="$detail; $who: ${gn:-no offloads} (netdev:${nd#NETDEV})"
}

# tcp_counters PORT: the switch's "offload counters" line of PORT (logged
# when its guest went) into o_cks o_seg o_bad o_mtu o_nobuf.
tcp_counters() {
	local line
	line=$(grep -a "^vswitch: port $1 (.*): offload counters" "$slog" | tail -n 1)
	read -r o_cks o_seg o_bad o_mtu o_nobuf < <(sed -n 's/.*sw_cksums \([0-9]*\), sw_segmented \([0-9]*\), drops_bad_hdr \([0-9]*\), drops_mtu \([0-9]*\), drops_no_buf \([0-9]*\).*/\1 \2 \3 \4 \5/p' <<<"$line")
	[ -n "$o_nobuf" ]
}

# Mbit/s of the TCP cases that passed, for the last line.
tcp_rates=()

run_tcp_case() {
	local name=$1 layout mrg mode ma mb a=a$case_no bg=b$case_no sw=sw$case_no
	local why="" packed mrg_on line_a="" line_b="" rid from seed mem=$mem_default
	local ip_a ip_b rc ipv="" legacy="" gopts=() addr_a addr_b part
	IFS=/ read -r _ layout mrg mode _ <<<"$name"
	mrg=${mrg#mrg}
	local mtu_opt="" q=1 streams=1 be=vswitch
	for part in ${name//\// }; do
		case "$part" in
		testpmd) be=testpmd ;;
		q[0-9]*) q=${part#q}; streams=$(( 2 * q )) ;;
		ipv6) ipv=ipv6 ;;
		legacy) legacy=--legacy-ol-flags ;;
		mtu[0-9]*) gopts+=(mtu="${part#mtu}"); mtu_opt="--mtu ${part#mtu}" ;;
		esac
	done
	case "$mode" in
	on) ma=on mb=on ;;
	recv-off) ma=on mb=no-guest ;;
	off) ma=off mb=off ;;
	csum) ma=no-tso mb=no-tso ;;
	csum-sw) ma=no-tso mb=off ;;
	*) verdict "$name" "unknown offload mode $mode"; return ;;
	esac
	packed=$([ "$layout" = packed ] && echo on || echo off)
	mrg_on=$([ "$mrg" = 1 ] && echo on || echo off)
	local sa=$GL_WORK/c$case_no-a.sock sb=$GL_WORK/c$case_no-b.sock
	local mac_a mac_b slog=$GL_WORK/$sw.log
	mac_a=$(printf '52:54:00:00:%02x:0a' "$case_no")
	mac_b=$(printf '52:54:00:00:%02x:0b' "$case_no")
	ip_a=10.13.$case_no.1 ip_b=10.13.$case_no.2
	addr_a="ip addr add $ip_a/24 dev eth0"
	addr_b="ip addr add $ip_b/24 dev eth0"
	if [ "$ipv" = ipv6 ]; then
		# IPv6 on (the kernel takes the last ipv6.disable=), no
		# duplicate address detection (the addresses work at once)
		gopts+=(append=ipv6.disable=0)
		ip_a=fd13:$case_no::1 ip_b=fd13:$case_no::2
		addr_a="echo 0 >/proc/sys/net/ipv6/conf/eth0/accept_dad && ip -6 addr add $ip_a/64 dev eth0"
		addr_b="echo 0 >/proc/sys/net/ipv6/conf/eth0/accept_dad && ip -6 addr add $ip_b/64 dev eth0"
	fi
	seed=$(( RANDOM * 32768 + RANDOM ))
	detail="$mem, A port 0 offloads $ma, B port 1 offloads $mb"
	local sw_a=$ma sw_b=$mb
	if [ "$selfcheck" = offloads ]; then
		sw_a=$([ "$ma" = off ] && echo on || echo off)
		sw_b=$([ "$mb" = off ] && echo on || echo off)
	fi
	if [ "$be" = testpmd ]; then
		# dpdk-testpmd with two net_vhu ports, tso=1 (net_vhost's
		# devarg: HOST_TSO offered), io forwarding between them and
		# no Rx checksum offload: net_vhu completes the guests'
		# partial checksums, GSO frames pass whole
		[ "$mode" = on ] ||
			{ verdict "$name" "the testpmd variant takes offloads on only"; return; }
		detail="$mem, testpmd io forwarding between net_vhu0 and net_vhu1, tso=1"
		GL_TESTPMD_DEVARGS=",tso=1" \
		GL_TESTPMD_VDEV2="net_vhu1,iface=$sb,queues=$q,tso=1" \
			be_testpmd_start "$sw" "$sa" "$q" ||
			{ be_testpmd_quit "$sw"; verdict "$name" "testpmd did not start" "$slog"; return; }
		trace -k backend "testpmd up"
	else
		# With several queue pairs, two switch workers (as
		# vswitch/*/q2) and two streams per queue pair: the flow
		# hash spreads them.
		GL_VSWITCH_WORKERS=$(( q > 1 ? 2 : 1 )) \
		GL_VSWITCH_ARGS="--quiet --offloads 0:$sw_a --offloads 1:$sw_b $legacy" \
			be_vswitch_start "$sw" "$sa" "$sb" ||
			{ proc_stop "$sw"; verdict "$name" "vhu-vswitch did not start" "$slog"; return; }
		trace -k backend "vswitch up"
	fi
	guest_start "$a" sock="$sa" packed="$packed" mrg="$mrg_on" mem="$mem" \
		mac="$mac_a" queues="$q" "${gopts[@]+"${gopts[@]}"}"
	guest_start "$bg" sock="$sb" packed="$packed" mrg="$mrg_on" mem="$mem" \
		mac="$mac_b" queues="$q" "${gopts[@]+"${gopts[@]}"}"
	if ! guest_ready "$a" "$BOOT_TIMEOUT" || ! guest_ready "$bg" "$BOOT_TIMEOUT"; then
		why="a guest did not boot to its command loop in $BOOT_TIMEOUT s"
		guest_alive "$a" && guest_alive "$bg" ||
			why="QEMU exited before its guest booted: $(cat "${GL_QLOG[$a]}" "${GL_QLOG[$bg]}" 2>/dev/null | grep -a . | head -n 1)"
	elif ! trace -k boot "guests ready" ||
	     ! guest_cmd "$a" 60 "vhu-guest-tool setup --queues $q $mtu_opt && $addr_a" ||
	     ! guest_cmd "$bg" 60 "vhu-guest-tool setup --queues $q $mtu_opt && $addr_b"; then
		why="guest setup failed: $(tail -n 1 <<<"$GL_OUT")"
	else
		# What each guest negotiated: checked, but the transfer runs
		# anyway (its result and throughput say more about a failure).
		if guest_cmd "$a" 30 vhu-guest-tool features; then
			tcp_check_features A "$ma" 0
		else
			why="guest A: features: $(tail -n 1 <<<"$GL_OUT")"
		fi
		if guest_cmd "$bg" 30 vhu-guest-tool features; then
			tcp_check_features B "$mb" 1
		else
			why="${why:+$why; }guest B: features: $(tail -n 1 <<<"$GL_OUT")"
		fi
		trace -k features "features read"
		from=$(guest_lines "$bg")
		guest_cmd_send "$bg" vhu-guest-tool tcp-recv --port 5001 \
			--bytes "$tcp_bytes" --timeout 30 --streams "$streams" \
			--seed $(( seed + $([ "$selfcheck" = content ] && echo 1 || echo 0) )) \
			--ready tcp-recv-ready
		rid=$GL_ID
		if ! guest_wait "$bg" 'guest_tool: tcp-recv-ready' 30 "$from"; then
			why="${why:+$why; }guest B: tcp-recv did not start"
		else
			# (32 MiB at 2 Mbit/s: 134 s; the tool gives up after
			# 30 s without progress)
			guest_cmd "$a" 180 vhu-guest-tool tcp-send --dst "$ip_b" \
				--port 5001 --bytes "$tcp_bytes" --seed "$seed" \
				--timeout 30 --streams "$streams"
			line_a=$(grep -a '^RESULT ' <<<"$GL_OUT" | tail -n 1)
			[[ $line_a == "RESULT PASS "* ]] ||
				why="${why:+$why; }guest A: ${line_a:-no result} $(grep -a '^guest_tool: ' <<<"$GL_OUT" | grep -v 'tcp-send: [0-9]* bytes' | head -n 2 | tr '\n' ' ')"
			# B ends by itself: at EOF, or 30 s after its last data.
			guest_cmd_wait "$bg" "$rid" 60
			line_b=$(grep -a '^RESULT ' <<<"$GL_OUT" | tail -n 1)
			[[ $line_b == "RESULT PASS "* ]] ||
				why="${why:+$why; }guest B: ${line_b:-no result} $(grep -a '^guest_tool: \(bad\|got\|read\)' <<<"$GL_OUT" | head -n 2 | tr '\n' ' ')"
			if [ -n "$line_a" ] && [ -n "$line_b" ] &&
			   [ "$(value sum "$line_a")" != "$(value sum "$line_b")" ]; then
				why="${why:+$why; }content checksums differ: A sent sum $(value sum "$line_a"), B got $(value sum "$line_b")"
			fi
			# No frame vhu handed either guest may be one its
			# driver rejects (a bad GSO header, a short frame).
			local g l k
			for g in A B; do
				l=$line_a
				[ "$g" = B ] && l=$line_b
				[ -n "$l" ] || continue
				for k in rx_errors rx_dropped tx_errors; do
					[ "$(value "$k" "$l")" = 0 ] ||
						why="${why:+$why; }guest $g: $k $(value "$k" "$l") during the transfer"
				done
			done
		fi
	fi
	trace -k traffic "transfer done"
	guest_stop "$a" 30 || why="${why:+$why; }guest A did not power off by itself"
	guest_stop "$bg" 30 || why="${why:+$why; }guest B did not power off by itself"
	trace -k poweroff "guests stopped"
	if [ "$be" = testpmd ]; then
		proc_alive "$sw" || why="${why:+$why; }testpmd died during the case"
		be_testpmd_quit "$sw" || why="${why:+$why; }testpmd did not quit cleanly"
		rc=$(backend_complaints "$slog")
		[ "$rc" -eq 0 ] || detail="$detail; backend log: $rc error line(s)"
		[ -z "$line_b" ] ||
			detail="$detail; $(value bytes "$line_b") bytes A->B in $(value secs "$line_b") s: $(value mbps "$line_b") Mbit/s, sum $(value sum "$line_b"), retransmits $(value retrans "$line_a"); A sent $(value tx "$line_a") frames, B got $(value rx "$line_b")"
		[ -z "$why" ] && [ -n "$line_b" ] &&
			tcp_rates+=("$name $(value mbps "$line_b")")
		verdict "$name" "$why" "$GL_WORK/$a.serial.log" \
			"$GL_WORK/$bg.serial.log" "$GL_WORK/$a.qemu.log" \
			"$GL_WORK/$bg.qemu.log" "$slog"
		return
	fi
	# the switch logs each device's offload counters as it goes
	wait_log "$slog" '^vswitch: port 1 .*guest gone' 10 "$(proc_pid "$sw")" >/dev/null
	proc_alive "$sw" || why="${why:+$why; }vhu-vswitch died during the case"
	proc_stop "$sw" 10 || why="${why:+$why; }vhu-vswitch exit status $GL_RC after SIGTERM"
	trace -k end "vswitch stopped"
	# What vhu did in software: segmentation only where B's port does
	# not take A's GSO frames, checksums where B takes no partial
	# checksum from A (B's own frames to A need none), no drop.
	local o_cks o_seg o_bad o_mtu o_nobuf a_c="" b_c=""
	if tcp_counters 0; then
		a_c="A: sw_cksums $o_cks, sw_segmented $o_seg, drops_bad_hdr $o_bad, drops_mtu $o_mtu"
		[ $(( o_seg + o_cks + o_bad + o_mtu )) -eq 0 ] ||
			why="${why:+$why; }vhu on A's port: $a_c (expected no software offload and no drop)"
	else
		why="${why:+$why; }no offload counters for port 0 in the switch log"
	fi
	if tcp_counters 1; then
		b_c="B: sw_cksums $o_cks, sw_segmented $o_seg, drops_bad_hdr $o_bad, drops_mtu $o_mtu, ring full in vhu $o_nobuf"
		if [ "$mode" = recv-off ]; then
			[ "$o_seg" -gt 0 ] ||
				why="${why:+$why; }vhu on B's port: $b_c (A sends GSO frames, B takes none: expected software segmentation)"
		elif [ "$mode" = csum-sw ]; then
			[ "$o_seg" -eq 0 ] && [ "$o_cks" -gt 1000 ] ||
				why="${why:+$why; }vhu on B's port: $b_c (A sends partial checksums, no GSO; B takes neither: expected a checksum completed for each data frame)"
		else
			[ "$o_seg" -eq 0 ] ||
				why="${why:+$why; }vhu on B's port: $b_c (expected no software segmentation)"
		fi
		[ $(( o_bad + o_mtu )) -eq 0 ] ||
			why="${why:+$why; }vhu on B's port dropped frames: $b_c"
	else
		why="${why:+$why; }no offload counters for port 1 in the switch log"
	fi
	if [ -n "$line_b" ]; then
		local bytes tx_a rx_b mbps
		bytes=$(value bytes "$line_b")
		tx_a=$(value tx "$line_a")
		rx_b=$(value rx "$line_b")
		mbps=$(value mbps "$line_b")
		# frames for B the switch saw refused (B's ring full)
		local full_b
		full_b=$(sed -n 's/^  port 1 .*(ring full \([0-9]*\),.*/\1/p' "$slog" | tail -n 1)
		b_c="$b_c, switch ring full ${full_b:-?}"
		detail="$detail; $bytes bytes A->B ($(value streams "$line_b") stream(s)) in $(value secs "$line_b") s: $mbps Mbit/s, sum $(value sum "$line_b"), retransmits $(value retrans "$line_a"), mss $(value mss "$line_a"); A sent ${tx_a:-?} frames (${bytes} / ${tx_a:-0} = $(( bytes / ${tx_a:-1} )) bytes each), B got ${rx_b:-?} ($(( bytes / ${rx_b:-1} )) bytes each); vhu $a_c; $b_c"
		if [ "$q" -gt 1 ]; then
			# how the streams spread: frames per queue pair of A's
			# port (rx: from A) and B's (tx: into B)
			local qa qb
			qa=$(sed -n '/^  port 0 /,/^  port 1 /s/^    qp \([0-9]*\): rx \([0-9]*\).*/\1:\2/p' "$slog" | tr '\n' ' ')
			qb=$(sed -n '/^  port 1 /,/^  total/s/^    qp \([0-9]*\): rx [0-9]*, tx \([0-9]*\).*/\1:\2/p' "$slog" | tr '\n' ' ')
			detail="$detail; switch frames per queue pair, from A: ${qa% }, into B: ${qb% }"
		fi
		echo "tcp throughput $name: $mbps Mbit/s ($bytes bytes in $(value secs "$line_b") s)"
		[ -z "$why" ] && tcp_rates+=("$name $mbps")
	fi
	rc=$(backend_complaints "$slog")
	[ "$rc" -eq 0 ] || detail="$detail; backend log: $rc error line(s)"
	verdict "$name" "$why" "$GL_WORK/$a.serial.log" "$GL_WORK/$bg.serial.log" \
		"$GL_WORK/$a.qemu.log" "$GL_WORK/$bg.qemu.log" "$slog"
}

# Every process of a case must be gone when it ends: the ones lib.sh
# tracks, and any other child of this shell (read from /proc with builtins
# only, so the check itself forks nothing).
check_leftovers() {
	local n left="" d st rest
	for n in "${!GL_PID[@]}"; do
		left="$left $n(${GL_PID[$n]})"
	done
	for d in /proc/[0-9]*; do
		read -r st 2>/dev/null <"$d/stat" || continue
		rest=${st##*) }          # after "pid (comm) ": state ppid ...
		read -r _ n _ <<<"$rest"
		[ "$n" = "$$" ] && left="$left ${d#/proc/}:$(cut -d' ' -f2 <<<"$st")"
	done
	if [ -n "$left" ]; then
		echo "FAIL guest $1: processes left over:$left"
		n_fail=$(( n_fail + 1 ))
		failed=1
		gl_cleanup
	fi
}

# ---- main ---------------------------------------------------------------------
echo "run.sh: ${#selected[@]} case(s), $frames frames per echo case, guest memory $mem_default, kernel $GL_KERNEL," \
	"QEMU on CPU ${GL_QEMU_CPUS:-any}, backends on CPU $GL_BE_CPU, work dir $GL_WORK"
t_start=$(date +%s)
case_no=0
for c in "${selected[@]}"; do
	case_no=$(( case_no + 1 ))
	case_t0=$(( $(date +%s%N) / 1000000 ))
	timeline=""
	case "$c" in
	vswitch/*/coalesce) run_coalesce_case "$c" ;;
	vswitch/*) run_vswitch_case "$c" ;;
	*/share-off) run_diag_case "$c" ;;
	tcp/*) run_tcp_case "$c" ;;
	*) run_echo_case "$c" ;;
	esac
	check_leftovers "$c"
done
[ "${#coal_rates[@]}" -eq 0 ] ||
	echo "run.sh: guest B receive interrupts: $(printf '%s, ' "${coal_rates[@]}" | sed 's/, $//')"
[ "${#tcp_rates[@]}" -eq 0 ] ||
	echo "run.sh: TCP throughput (Mbit/s): $(printf '%s, ' "${tcp_rates[@]}" | sed 's/, $//')"
echo "run.sh: $n_pass passed, $n_fail failed in $(( $(date +%s) - t_start )) s"
[ "$n_fail" -eq 0 ]
