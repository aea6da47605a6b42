#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# libvhu's rte_telemetry endpoints, read with Debian's dpdk-telemetry.py
# from a backend dpdk-testpmd that loads net_vhu (-d), while a frontend
# dpdk-testpmd drives it with net_virtio_user (2 queue pairs):
#   - "/" lists /vhu/sockets, /vhu/devices, /vhu/device and /vhu/vring;
#   - /vhu/sockets names the socket path, server mode, one device;
#   - /vhu/devices gives that device's id; /vhu/device,<id> its socket,
#     features (VERSION_1 negotiated, as net_virtio_user does), running,
#     4 vrings, each live, not broken, split, with a size and every
#     counter of struct vhu_vring_stats;
#   - after traffic both ways (txonly on each end in turn), the packet
#     and byte counters of vrings 0 and 1 grew (testpmd polls on both
#     ends: no kick, no call, so those stay 0 here; the unit suites count
#     them);
#   - /vhu/device with an unknown id answers null.
# The PMD's xstats are read too: guest_notifications per queue as
# net_vhost names it, and our kicks, kick_latency_ns, ring_full names.
#
# Usage: test_telemetry.sh PLUGIN.so WORKDIR
# Exit:  0 pass, 1 fail, 77 skip (no dpdk-testpmd or dpdk-telemetry.py,
#        or an ASan plugin without a loadable runtime).
# Only processes this script started are stopped, by PID.
set -uo pipefail

PLUGIN=$(realpath "${1:?usage: test_telemetry.sh PLUGIN.so WORKDIR}")
WORK=${2:?usage: test_telemetry.sh PLUGIN.so WORKDIR}
TIMEOUT=40

log() { printf '[telemetry %(%T)T] %s\n' -1 "$*"; }
fail() { log "FAIL: $*"; FAILED=1; }
FAILED=0

command -v dpdk-testpmd >/dev/null || { log "SKIP: no dpdk-testpmd"; exit 77; }
TEL=$(command -v dpdk-telemetry.py) || { log "SKIP: no dpdk-telemetry.py"; exit 77; }
command -v python3 >/dev/null || { log "SKIP: no python3"; exit 77; }
[ -f "$PLUGIN" ] || { log "no plugin $PLUGIN"; exit 1; }

mkdir -p "$WORK"
WORK=$(realpath "$WORK")
SOCK=$WORK/vhu-tel.sock
PREFIX=vhu-tel-$$

# shared: PRELOAD, start, cmd, stop, alive, cleanup on exit
# shellcheck source=testpmd_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/testpmd_lib.sh"

wait_log() {
	local end=$((SECONDS + TIMEOUT))
	until grep -aq -- "$2" "${LOG[$1]}"; do
		alive "$1" || return 1
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}

# tel COMMAND... : one JSON line per command, from the backend
tel() {
	printf '%s\n' "$@" | timeout 10 python3 "$TEL" -f "$PREFIX"-b 2>&1
}

# jq_py JSON EXPR : evaluate a python expression on the parsed JSON (j)
jq_py() {
	python3 -c 'import json, sys
j = json.loads(sys.argv[1])
print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null
}

# xstat NAME : the backend's xstat NAME of port 0
xstat() {
	local before
	before=$(wc -l <"${LOG[b]}")
	cmd b "show port xstats 0"
	sleep 0.5
	tail -n +"$((before + 1))" "${LOG[b]}" | grep -a "^$1: " | tail -n 1 |
		awk '{ print $2 }'
}

Q=2
rm -f "$SOCK"
start b --lcores=0@0,1@1 --no-huge -m 1024 --no-pci \
	--file-prefix="$PREFIX"-b -d "$PLUGIN" \
	--vdev "net_vhu0,iface=$SOCK,queues=$Q" \
	-- -i --rxq=$Q --txq=$Q --total-num-mbufs=16384 \
	--disable-link-check --nb-cores=1
cmd b "set fwd rxonly"
cmd b start
wait_log b "forwards packets on" || { fail "backend did not start"; exit 1; }
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done

# before any frontend: the endpoints exist, no device yet
out=$(tel / /vhu/devices)
for c in /vhu/sockets /vhu/devices /vhu/device /vhu/vring; do
	grep -q "\"$c\"" <<<"$out" || fail "'/' does not list $c: $out"
done
devs=$(grep -o '{"/vhu/devices": \[[^]]*\]}' <<<"$out")
[ "$devs" = '{"/vhu/devices": []}' ] || fail "/vhu/devices before a frontend: '$devs'"
log "endpoints listed; no device before the frontend"

start f --lcores=0@1,1@0 --no-huge -m 128 --single-file-segments --no-pci \
	--file-prefix="$PREFIX"-f \
	--vdev net_virtio_user0,path="$SOCK",queues=$Q \
	-- -i --rxq=$Q --txq=$Q --total-num-mbufs=16384 --nb-cores=1
cmd f "set fwd txonly"
cmd f start
wait_log b "Port 0: link state change event" ||
	{ fail "frontend did not connect (see ${LOG[b]}, ${LOG[f]})"; exit 1; }
sleep 2

sockets=$(tel /vhu/sockets | grep '"/vhu/sockets"')
v=$(jq_py "$sockets" "[(s['mode'], s['started'], len(s['devices'])) for s in j['/vhu/sockets'].values() if s['path'] == '$SOCK']")
v=${v#[}
v=${v%]}
[ "$v" = "('server', 1, 1)" ] || fail "/vhu/sockets for $SOCK: '$v' ($sockets)"
log "/vhu/sockets: $SOCK server, started, 1 device"

devs=$(tel /vhu/devices | grep '"/vhu/devices"')
id=$(jq_py "$devs" "j['/vhu/devices'][0]")
[ -n "$id" ] || { fail "/vhu/devices gave no id: $devs"; exit 1; }
log "/vhu/devices: [$id]"

# device JSON, with 'vring0'..: everything as one python check
check_device() {
	python3 - "$1" "$SOCK" "$Q" "$2" <<'EOF'
import json, sys
j = json.loads(sys.argv[1])
sock, q, phase = sys.argv[2], int(sys.argv[3]), sys.argv[4]
d = list(j.values())[0]
errs = []
names = ("packets bytes drops_no_buf desc_errors kicks calls broken "
         "drops_mtu drops_bad_hdr sw_cksums sw_segmented enqueue_full "
         "iotlb_misses last_kick_latency_ns").split()
if d.get("socket") != sock:
    errs.append("socket %r" % d.get("socket"))
f = int(d.get("features", "0"), 16)
if not (f >> 32) & 1:
    errs.append("features %s lack VERSION_1" % d.get("features"))
if d.get("running") != 1:
    errs.append("running %r" % d.get("running"))
if d.get("nr_vrings") != 2 * q:
    errs.append("nr_vrings %r" % d.get("nr_vrings"))
for v in range(2 * q):
    r = d.get("vring%d" % v)
    if r is None:
        errs.append("no vring%d" % v)
        continue
    if (r.get("enabled"), r.get("live"), r.get("broken"), r.get("layout")) != (1, 1, 0, "split"):
        errs.append("vring%d state %r" % (v, r))
    if not r.get("size"):
        errs.append("vring%d size %r" % (v, r.get("size")))
    st = r.get("stats", {})
    missing = [n for n in names if n not in st]
    if missing:
        errs.append("vring%d lacks %s" % (v, missing))
if phase == "traffic":
    for v in (0, 1):
        st = d["vring%d" % v]["stats"]
        if st["packets"] <= 0 or st["bytes"] <= 0:
            errs.append("vring%d packets %r bytes %r" % (v, st["packets"], st["bytes"]))
print("; ".join(errs) if errs else "ok")
EOF
}

dev=$(tel "/vhu/device,$id" | grep '"/vhu/device"')
v=$(check_device "$dev" idle)
[ "$v" = ok ] && log "/vhu/device,$id: socket, features, running, $((2 * Q)) live split vrings, every counter" ||
	fail "/vhu/device,$id: $v"

# frontend txonly -> backend: vring 1 (guest transmit) counts; then back
sleep 1
cmd f stop
cmd b stop
cmd b "set fwd txonly"
cmd b start
cmd f "set fwd rxonly"
cmd f start
sleep 2
dev=$(tel "/vhu/device,$id" | grep '"/vhu/device"')
v=$(check_device "$dev" traffic)
if [ "$v" = ok ]; then
	log "/vhu/device,$id after traffic: vring0 $(jq_py "$dev" "j['/vhu/device']['vring0']['stats']['packets']") packets, vring1 $(jq_py "$dev" "j['/vhu/device']['vring1']['stats']['packets']") packets, counters grew"
else
	fail "/vhu/device,$id after traffic: $v"
fi

out=$(tel "/vhu/device,63" "/vhu/device,x")
if [ "$(grep -c '{"/vhu/device": null}' <<<"$out")" = 2 ]; then
	log "/vhu/device with an unknown or bad id: null"
else
	fail "/vhu/device,63 and ,x: $out"
fi

# PMD xstats: net_vhost's guest_notifications, and ours
# (the polling virtio_user asks for no notification: the values are 0)
for x in tx_q0_guest_notifications rx_q0_guest_notifications \
	 rx_q1_guest_notifications rx_q0_kicks rx_q0_kick_latency_ns \
	 tx_q0_ring_full tx_q1_ring_full rx_q0_iotlb_misses; do
	v=$(xstat "$x")
	[[ "$v" =~ ^[0-9]+$ ]] || fail "xstat $x is '${v:-missing}'"
done
log "xstats: guest_notifications (net_vhost's name), kicks, kick_latency_ns, ring_full, iotlb_misses"

stop f
stop b
if [ $FAILED -ne 0 ]; then
	log "FAILED (logs in $WORK)"
	exit 1
fi
log "PASSED"
exit 0
