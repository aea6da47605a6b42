#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The main job, end to end: sets the machine up (devtools/setup.sh: packages,
# QEMU, Debian's guest kernel, hugepages), builds vhu, and runs the vswitch
# example (build/examples/vhu-vswitch, an L2 learning switch) between two
# Linux guests under QEMU (TCG: no KVM needed), each on its own vhost-user
# port with two queue pairs. The guests (Debian's kernel and a busybox
# initramfs built here, the same image as the guest test suite) get
# link-local addresses; guest A pings guest B, then fetches a file from B's
# web server over TCP and the rate is reported. The screen shows the
# switch's live view (one line per second per port), the guests' results
# and the switch's summary; QEMU's, EAL's and the guests' consoles go to log
# files. Passes when the ping and the transfer both worked.
#
# Usage: devtools/run-demo.sh [--testpmd] [--mib N] [--no-huge] [--keep]
#   --testpmd  DPDK testpmd processes with net_virtio_user stand in for the
#              guests (devtools/demo-testpmd.sh: no QEMU, about 20 s)
#   --mib N    size of the TCP transfer (default 32)
#   --no-huge  guest memory on memfd even when hugepages are usable
#   --keep     keep the work directory (logs are kept in any case)
#
# Logs of the last run stay in build/demo/. Two cores: the switch polls on
# CPU 0, both guests share CPU 1. Guests under TCG are slow, so the rates are
# the guests' (emulated CPUs), not the switch's; the switch's own throughput
# is measured by examples/vswitch/bench.sh and devtools/bench.sh.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

mib=32
use_huge=auto
keep=0
rest=()
testpmd=0
for arg in "$@"; do
	if [ "$arg" = --testpmd ]; then testpmd=1; else rest+=("$arg"); fi
done
[ "$testpmd" -eq 0 ] || exec devtools/demo-testpmd.sh "${rest[@]+"${rest[@]}"}"
while [ $# -gt 0 ]; do
	case "$1" in
	--mib) mib=${2:?--mib needs a number}; shift ;;
	--no-huge) use_huge=0 ;;
	--keep) keep=1 ;;
	-h|--help) sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "run-demo.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done

say() { printf 'run-demo: %s\n' "$*"; }
die() { printf 'run-demo: FAILED: %s\n' "$*" >&2; exit 1; }

say "setting up the machine (devtools/setup.sh)"
devtools/setup.sh >/dev/null

# Same configuration as devtools/test.sh's first build, so the two share it.
build=build
if [ -f "$build/meson-private/coredata.dat" ]; then
	meson setup --reconfigure "$build" --buildtype=release --werror >/dev/null
else
	rm -rf "$build"
	CC=gcc meson setup "$build" --buildtype=release --werror >/dev/null
fi
say "building vhu (meson compile -C $build)"
meson compile -C "$build" >/dev/null ||
	die "build failed; run 'meson compile -C $build' to see why"

guest_dir=app/test/guest
tool=$build/$guest_dir/vhu-guest-tool
GL_VSWITCH=$build/examples/vhu-vswitch
for f in "$tool" "$GL_VSWITCH"; do
	[ -x "$f" ] || die "$f was not built"
done
logs=$REPO/$build/demo
mkdir -p "$logs"
GL_INITRD=$logs/initramfs.cpio.gz
GL_KERNEL=$("$guest_dir/mkinitramfs.sh" --tool "$tool" --out "$GL_INITRD") ||
	die "cannot build the guest image (is the kernel cached? devtools/setup.sh)"

if [ "$use_huge" = auto ]; then
	use_huge=0
	free_pages=$(awk '$1 == "HugePages_Free:" { print $2 }' /proc/meminfo)
	if [ "${free_pages:-0}" -ge 512 ] &&
	   awk '$3 == "hugetlbfs" { f = 1 } END { exit !f }' /proc/mounts; then
		use_huge=1
	fi
fi
mem=memfd
mode_msg="guest memory on memfd"
GL_HUGE_DIR=""
if [ "$use_huge" -eq 1 ]; then
	mem=huge
	mode_msg="guest memory on hugepages"
	GL_HUGE_DIR=$(awk '$3 == "hugetlbfs" { print $2; exit }' /proc/mounts)
fi
GL_BE_CPU=0
GL_QEMU_CPUS=""
[ "$(nproc)" -ge 2 ] && GL_QEMU_CPUS=1

# lib.sh owns every process it starts (by PID) and stops them on exit.
GL_WORK=$(mktemp -d "$logs/run.XXXXXX")
# shellcheck source=app/test/guest/lib.sh
. "$guest_dir/lib.sh"
sw_pid=""
gl_cleanup_hook() {
	cp "$GL_WORK"/*.log "$logs/" 2>/dev/null || true
	if [ -n "$sw_pid" ] && kill -0 "$sw_pid" 2>/dev/null; then
		kill -INT "$sw_pid" 2>/dev/null || true
		gl_wait_pid "$sw_pid" 5 || kill -KILL "$sw_pid" 2>/dev/null || true
	fi
	rm -rf /var/run/dpdk/vhu-demo-$$-* 2>/dev/null || true
	[ "$keep" -eq 1 ] || rm -rf "$GL_WORK"
}
gl_init || die "cannot create $GL_WORK"
trap 'exit 130' INT TERM

# ---- the switch: its live view on screen, everything in its log -------------
sock_a=$GL_WORK/guest-a.sock
sock_b=$GL_WORK/guest-b.sock
sw_log=$logs/vswitch.log
say "vhu-vswitch with two ports ($mode_msg), live view below; logs in $logs/"
# main lcore (the live view, mostly asleep) on CPU 1, the worker on CPU 0
stdbuf -oL -eL "$GL_VSWITCH" --lcores="0@${GL_QEMU_CPUS:-0},1@$GL_BE_CPU" \
	--no-huge -m 512 --no-pci --file-prefix="vhu-demo-$$-sw" -- \
	--socket "$sock_a" --socket "$sock_b" --queues 2 </dev/null \
	> >(tee "$sw_log" | grep --line-buffered -aE '^(vswitch:| )' || true) 2>&1 &
sw_pid=$!
wait_log "$sw_log" '^vswitch: [0-9]+ ports' 20 "$sw_pid" ||
	die "vhu-vswitch did not start (see $sw_log)"

# ---- two guests ---------------------------------------------------------------
mac_a=52:54:00:76:68:0a
mac_b=52:54:00:76:68:0b
ip_a=169.254.76.1
ip_b=169.254.76.2
guest_start guest-a sock="$sock_a" queues=2 mac="$mac_a" mem="$mem" ||
	die "QEMU for guest A did not start"
guest_start guest-b sock="$sock_b" queues=2 mac="$mac_b" mem="$mem" ||
	die "QEMU for guest B did not start"
say "booting two Linux guests under QEMU (TCG, 2 queue pairs each)"
guest_ready guest-a 120 || die "guest A did not boot (see $GL_WORK/guest-a.serial.log)"
guest_ready guest-b 120 || die "guest B did not boot (see $GL_WORK/guest-b.serial.log)"
net_up() { # GUEST IP
	guest_cmd "$1" 60 "vhu-guest-tool setup --queues 2 && ip addr add $2/16 dev eth0"
}
net_up guest-a "$ip_a" || die "guest A: eth0 did not come up: $GL_OUT"
net_up guest-b "$ip_b" || die "guest B: eth0 did not come up: $GL_OUT"
say "guest A $ip_a ($mac_a) and guest B $ip_b ($mac_b) are up"

# ---- ping ---------------------------------------------------------------------
if guest_cmd guest-a 60 "ping -c 5 -W 5 $ip_b"; then
	say "ping A -> B: $(grep -aE 'packets transmitted|round-trip' <<<"$GL_OUT" | tr -d '\r' | paste -sd ' ')"
else
	die "ping A -> B failed: $(tr -d '\r' <<<"$GL_OUT" | tail -3 | paste -sd ' ')"
fi

# ---- a TCP transfer: B serves a file, A fetches it -----------------------------
guest_cmd guest-b 60 "mkdir -p /www && dd if=/dev/urandom of=/www/blob bs=1M count=$mib 2>/dev/null && md5sum /www/blob && httpd -p 8080 -h /www" ||
	die "guest B: web server did not start: $GL_OUT"
sum_b=$(grep -aoE '^[0-9a-f]{32}' <<<"$GL_OUT" | head -1)
t0=$(date +%s%N)
guest_cmd guest-a 300 "wget -q -O - http://$ip_b:8080/blob | md5sum" ||
	die "TCP transfer failed: $(tr -d '\r' <<<"$GL_OUT" | tail -3 | paste -sd ' ')"
t1=$(date +%s%N)
sum_a=$(grep -aoE '^[0-9a-f]{32}' <<<"$GL_OUT" | head -1)
[ -n "$sum_a" ] && [ "$sum_a" = "$sum_b" ] ||
	die "the file guest A received differs from guest B's ($sum_a vs $sum_b)"
ms=$(( (t1 - t0) / 1000000 ))
say "TCP A <- B: $mib MiB in $(( ms / 1000 )).$(( ms % 1000 / 100 )) s, $(( mib * 8 * 1000 / (ms > 0 ? ms : 1) )) Mbit/s, content verified (md5 $sum_a)"

# ---- the end ------------------------------------------------------------------
guest_stop guest-a 30 || true
guest_stop guest-b 30 || true
kill -INT "$sw_pid"
gl_wait_pid "$sw_pid" 10 || die "vhu-vswitch did not exit on SIGINT"
wait "$sw_pid" 2>/dev/null || true
sw_pid=""
say "OK: two Linux guests exchanged traffic through vhu-vswitch (logs in $logs/)"
