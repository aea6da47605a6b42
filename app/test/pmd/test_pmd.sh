#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Integration test of the net_vhu PMD plugin with Debian's dpdk-testpmd on
# both ends: a backend testpmd loads the plugin (-d) and serves a socket,
# a frontend testpmd drives it with net_virtio_user. Both run interactive,
# fed through fifos, so the script can switch forwarding modes and read
# counters while they run.
#
# Checks devargs first: unknown keys, bad values, repeated keys and refused
# features fail the probe with a message naming them; tso=1,
# legacy-ol-flags=1 and the Rx chain options are accepted. Then offloads,
# with TCP frames replayed from a pcap (tcp_pcap.py) by net_pcap on one
# side and written to a pcap on the other, where their checksums and sizes
# are checked (see case_offload_rx and case_offload_tx):
#   - guest -> backend, testpmd's csum engine on virtio_user asking for TCP
#     checksum and TSO: tso=1 offers HOST_TSO4/6, HOST_ECN, HOST_USO and
#     tso=0 does not; with tso=1 the frames arrive whole, their checksums
#     completed by rx_burst (compliant flags) or left partial (legacy);
#     with tso=0 the TSO frames virtio_user sends anyway are dropped and
#     counted (rx_qN_dropped_bad_hdr, ierrors);
#   - backend -> guest, the csum engine on net_vhu asking for the same, to
#     a guest that negotiated no receive offload: libvhu segments and
#     checksums in software (tx_qN_sw_segmented).
# Then RSS steering (case_rss_steer): 64 UDP flows from a pcap reach a
# 4-queue net_vhu through all 4 of its Tx queues; with rss-steer=1 the
# 4-queue frontend sees each flow on exactly one of its Rx queues (and
# more than one queue used), with rss-steer=0 on all four. Then the Rx
# RSS_HASH offload (case_rx_rss_hash): every frame's hash.rss equals the
# hash tcp_pcap.py computes for its flow. Then the
# queue-count mismatch diagnostics (case_queue_mismatch): a guest with
# fewer queue pairs than the application configured, and an application
# with fewer than the guest enabled: the log line and the xstat each.
# Then, with 1 and with 4 queue pairs:
#   - frontend txonly -> backend rxonly: every backend Rx queue counts;
#   - backend txonly -> frontend rxonly: every backend Tx queue counts and
#     the frontend receives;
#   - link up / link down (LSC) and queue-state events on connect and
#     disconnect, and the link state ethdev reports.
# Then (net_vhu only), two ports on two sockets with a frontend each, both
# sending: one frontend is frozen (SIGSTOP) and its guest memory file cut
# to nothing through /proc/PID/fd (it is an unsealed memfd: --no-huge); the
# backend must survive the SIGBUS its polling lcore takes, log the fault,
# report that port link down, and keep receiving on the other port.
# Then, 4 queue pairs with traffic both ways (io forwarding on both ends,
# started with tx_first): the frontend is killed with SIGKILL mid-traffic
# and restarted KILLS times (default 20); traffic must resume every time,
# and the backend's fd count (/proc/PID/fd), mapping count (/proc/PID/maps)
# and mbufs in use (testpmd's dump_mempool) must come back to what they
# were after the first frontend went away.
#
# Usage: test_pmd.sh PLUGIN.so WORKDIR
# Env:   VHU_PMD_KILLS=N (default 20), VHU_PMD_QUEUES="1 4",
#        VHU_PMD_VDEV=net_vhu (net_vhost runs the same checks against DPDK's
#        own driver, for comparison; PLUGIN is then not loaded),
#        VHU_PMD_ONLY="case_rss_steer ..." (only the cases named).
# Exit:  0 pass, 1 fail, 77 skip (no dpdk-testpmd, or a sanitizer build whose
#        runtime cannot be loaded into testpmd). The offload cases need
#        python3 (tcp_pcap.py) and DPDK's net_pcap driver; without them
#        they fail.
# Only processes this script started are stopped, by PID.
set -uo pipefail

PLUGIN=$(realpath "${1:?usage: test_pmd.sh PLUGIN.so WORKDIR}")
WORK=${2:?usage: test_pmd.sh PLUGIN.so WORKDIR}
KILLS=${VHU_PMD_KILLS:-20}
QUEUE_CASES=${VHU_PMD_QUEUES:-1 4}
VDEV=${VHU_PMD_VDEV:-net_vhu}
TIMEOUT=40 # seconds for any one wait; a frontend start takes 0.3-2 s here

log() { printf '[pmd %(%T)T] %s\n' -1 "$*"; }
fail() { log "FAIL: $*"; FAILED=1; }
FAILED=0

command -v dpdk-testpmd >/dev/null || { log "SKIP: no dpdk-testpmd"; exit 77; }
[ -f "$PLUGIN" ] || { log "no plugin $PLUGIN"; exit 1; }

mkdir -p "$WORK"
WORK=$(realpath "$WORK")
SOCK=$WORK/vhu-pmd.sock
PREFIX=vhu-pmd-$$

# shared: PRELOAD, start, cmd, stop, alive, cleanup on exit
# shellcheck source=testpmd_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/testpmd_lib.sh"

# count NAME REGEX : matching lines in NAME's log
count() { grep -ac -- "$2" "${LOG[$1]}"; }

# wait_count NAME REGEX MIN : until the log has MIN matching lines
wait_count() {
	local end=$((SECONDS + TIMEOUT))
	while [ "$(count "$1" "$2")" -lt "$3" ]; do
		alive "$1" || { fail "$1 exited (see ${LOG[$1]})"; return 1; }
		[ $SECONDS -lt $end ] || return 1
		sleep 0.02 # a kill cycle waits here twice
	done
}

# xstat NAME XSTAT : current value of one xstat of port 0
xstat() {
	query "$1" "show port xstats 0" "tx_good_packets\|tx_q0_" >/dev/null
	sleep 0.2 # the rest of the listing
	tail -n 400 "${LOG[$1]}" | grep -a "^$2: " | tail -n 1 | awk '{ print $2 }'
}

# pstat NAME FIELD : RX-packets / TX-packets of port 0
pstat() {
	query "$1" "show port stats 0" "Tx-pps" |
		grep -ao "$2: *[0-9]*" | tail -n 1 | awk '{ print $2 }'
}

# wait_xstats NAME PREFIX SUFFIX N : every PREFIX<q>SUFFIX > 0, q < N
wait_xstats() {
	local end=$((SECONDS + TIMEOUT)) q v ok
	while :; do
		ok=1
		for ((q = 0; q < $4; q++)); do
			v=$(xstat "$1" "$2$q$3")
			[ "${v:-0}" -gt 0 ] || { ok=0; break; }
		done
		[ $ok -eq 1 ] && return 0
		[ $SECONDS -lt $end ] || { fail "$1: $2$q$3 stayed ${v:-unset}"; return 1; }
		sleep 0.5
	done
}

# mbufs NAME : mbufs in use in NAME's pools, from testpmd's dump_mempool
# (the awk is shared with soak.sh), or "n/a". `set verbose 0` behind the
# dump prints one known line once the whole dump is out.
MBUFS_AWK=$(dirname "$(realpath "${BASH_SOURCE[0]}")")/../testpmd_mbufs.awk
mbufs() {
	local name=$1 before end=$((SECONDS + 10))
	before=$(wc -l <"${LOG[$name]}")
	cmd "$name" dump_mempool
	cmd "$name" "set verbose 0"
	while ! tail -n +"$((before + 1))" "${LOG[$name]}" |
		grep -a '^Change verbose level from' >/dev/null; do
		alive "$name" && [ $SECONDS -lt $end ] || { echo n/a; return; }
		sleep 0.05
	done
	tail -n +"$((before + 1))" "${LOG[$name]}" | awk -f "$MBUFS_AWK"
}

nfds() { ls "/proc/$1/fd" | wc -l; }
# Mappings to compare with the baseline. The sanitizer runtime maps
# anonymous memory as its allocator grows (seen: one 6 MiB rw-p region
# after 20 kills), so with PRELOAD set only file-backed mappings count:
# guest memory (memfd, hugetlbfs) and the dirty log are all file-backed.
nmaps() {
	if [ -n "$PRELOAD" ]; then
		awk 'NF >= 6' "/proc/$1/maps" | wc -l
	else
		wc -l <"/proc/$1/maps"
	fi
}

# backend_args Q [DEVARGS [EAL-ARGS [APP-ARGS]]] : DEVARGS (",key=value...")
# are appended to the port's, EAL-ARGS (words) go after the port's --vdev
# (a --vdev there makes port 1), APP-ARGS (words) after testpmd's own.
# B_LCORES / B_CORES: other --lcores / --nb-cores (default 0@0,1@1 / 1)
backend_args() {
	local q=$1 more=${2:-} eal=${3:-} app=${4:-}
	local vdev="$VDEV"0,iface=$SOCK,queues=$q$more
	local plugin=()
	[ "$VDEV" = net_vhu ] && plugin=(-d "$PLUGIN")
	# shellcheck disable=SC2086
	echo --lcores="${B_LCORES:-0@0,1@1}" --no-huge -m 1024 --no-pci \
		--file-prefix="$PREFIX"-b "${plugin[@]}" --vdev "$vdev" $eal \
		-- -i --rxq="$q" --txq="$q" --total-num-mbufs=16384 \
		--disable-link-check --nb-cores="${B_CORES:-1}" $app
}

# frontend_args Q [EAL-ARGS [APP-ARGS]] : EAL-ARGS (words) go after the
# port's --vdev (a --vdev there makes port 1), APP-ARGS after testpmd's;
# F_DEVARGS (",key=value...") are appended to the virtio_user port's
frontend_args() {
	local q=$1 eal=${2:-} app=${3:-}
	# -m 128, not 1024: the backend maps all of it at every connect, and
	# EAL sets it up at every start (a kill cycle took 1 s more with 1024)
	# shellcheck disable=SC2086
	echo --lcores=0@1,1@0 --no-huge -m 128 --single-file-segments \
		--no-pci --file-prefix="$PREFIX"-f \
		--vdev net_virtio_user0,path="$SOCK",queues="$q"${F_DEVARGS:-} $eal \
		-- -i --rxq="$q" --txq="$q" --total-num-mbufs=16384 --nb-cores=1 \
		$app
}

LSC='Port 0: link state change event'
QSTATE='Port 0: queue state event'

# Traffic both ways, events, link state; with q queue pairs.
case_traffic() {
	local q=$1 lsc0 qs0 rx x v
	log "== $VDEV, $q queue pair(s): traffic both ways, events"
	rm -f "$WORK/b.log" "$WORK/f.log" "$SOCK"
	# shellcheck disable=SC2046
	start b $(backend_args "$q")
	cmd b "set fwd rxonly"
	cmd b start
	wait_count b "Start automatic packet forwarding\|forwards packets on" 1 ||
		{ fail "backend did not start (see ${LOG[b]})"; stop b; return; }
	for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
	lsc0=$(count b "$LSC")
	qs0=$(count b "$QSTATE")

	# shellcheck disable=SC2046
	start f $(frontend_args "$q")
	cmd f "set fwd txonly"
	cmd f start
	wait_count b "$LSC" $((lsc0 + 1)) || fail "no link-up LSC event"
	wait_count b "$QSTATE" $((qs0 + 2 * q)) ||
		fail "queue state events: $(($(count b "$QSTATE") - qs0)), want >= $((2 * q))"
	query b "show port info 0" "Link status" | grep -a "Link status: up" >/dev/null ||
		fail "link not up in 'show port info'"
	wait_xstats b rx_q _good_packets "$q" &&
		log "frontend txonly -> backend rxonly: every Rx queue counts"

	cmd f stop
	cmd b stop
	cmd b "set fwd txonly"
	cmd b start
	cmd f "set fwd rxonly"
	cmd f start
	wait_xstats b tx_q _good_packets "$q"
	if [ "$VDEV" = net_vhu ]; then
		# a well-behaved frontend never breaks a ring
		for x in rx_q0_broken tx_q0_broken; do
			v=$(xstat b "$x")
			[ "$v" = 0 ] || fail "$x is '${v:-missing}', want 0"
		done
		log "xstats rx_q0_broken, tx_q0_broken: 0"
	fi
	# per-queue xstats named as net_vhost names them (either VDEV):
	# testpmd's txonly frames are 64 bytes
	v=$(xstat b tx_q0_size_64_packets)
	[ "${v:-0}" -gt 0 ] || fail "tx_q0_size_64_packets is '${v:-missing}', want > 0"
	for x in tx_q0_undersize_packets tx_q0_size_65_127_packets \
		 tx_q0_size_1519_max_packets rx_q0_size_1024_1518_packets \
		 tx_q0_guest_notifications rx_q0_guest_notifications; do
		v=$(xstat b "$x")
		[ -n "$v" ] || fail "no xstat $x (net_vhost has one)"
	done
	log "xstats: net_vhost's size bucket and guest_notifications names, 64-byte frames counted"
	sleep 1
	rx=$(pstat f RX-packets)
	if [ "${rx:-0}" -gt 0 ]; then
		log "backend txonly -> frontend rxonly: frontend RX-packets $rx"
	else
		fail "frontend received nothing (RX-packets ${rx:-unset})"
	fi

	lsc0=$(count b "$LSC")
	qs0=$(count b "$QSTATE")
	stop f
	wait_count b "$LSC" $((lsc0 + 1)) || fail "no link-down LSC event"
	wait_count b "$QSTATE" $((qs0 + 1)) || fail "no queue state event at disconnect"
	query b "show port info 0" "Link status" | grep -a "Link status: down" >/dev/null ||
		fail "link not down in 'show port info'"
	log "events: $(count b "$LSC") LSC, $(count b "$QSTATE") queue state"
	stop b
}

# port_rx NAME PORT : RX-packets of one port
port_rx() {
	query "$1" "show port stats $2" "Tx-pps" |
		grep -ao "RX-packets: *[0-9]*" | tail -n 1 | awk '{ print $2 }'
}

# wait_port_rx NAME PORT : until the port has received something
wait_port_rx() {
	local end=$((SECONDS + TIMEOUT)) v
	while v=$(port_rx "$1" "$2"); [ "${v:-0}" -eq 0 ]; do
		[ $SECONDS -lt $end ] || { fail "$1: port $2 received nothing"; return 1; }
		sleep 0.5
	done
}

# A frontend shrinks its guest memory under the backend (issue #15 item 5).
case_shrunk_memory() {
	local sock2=$WORK/vhu-pmd2.sock lsc0 memfd l n rx1a rx1b
	local lsc1='Port 1: link state change event'
	log "== $VDEV: a frontend cuts its guest memory file: its port goes down, the other port goes on"
	rm -f "$WORK/b.log" "$WORK/f.log" "$WORK/g.log" "$SOCK" "$sock2"
	# shellcheck disable=SC2046
	start b $(backend_args 1 "" "--vdev net_vhu1,iface=$sock2,queues=1")
	cmd b "set fwd rxonly"
	cmd b start
	wait_count b "Start automatic packet forwarding\|forwards packets on" 1 ||
		{ fail "backend did not start (see ${LOG[b]})"; stop b; return; }
	for _ in $(seq 100); do [ -S "$SOCK" ] && [ -S "$sock2" ] && break; sleep 0.1; done
	lsc0=$(count b "$LSC")
	# shellcheck disable=SC2046
	start f $(frontend_args 1)
	start g --lcores=0@0,1@1 --no-huge -m 128 --single-file-segments \
		--no-pci --file-prefix="$PREFIX"-g \
		--vdev net_virtio_user0,path="$sock2",queues=1 \
		-- -i --total-num-mbufs=16384 --nb-cores=1
	for n in f g; do
		cmd $n "set fwd txonly"
		cmd $n start
	done
	wait_count b "$LSC" $((lsc0 + 1)) || fail "port 0: no link-up LSC event"
	wait_count b "$lsc1" 1 || fail "port 1: no link-up LSC event"
	wait_port_rx b 0 && wait_port_rx b 1 || { stop f 9; stop g 9; stop b; return; }
	# frozen, the frontend cannot die of its own cut first
	kill -STOP "${PID[f]}"
	memfd=
	for l in /proc/"${PID[f]}"/fd/*; do
		case $(readlink "$l") in /memfd:nohuge*) memfd=$l; break ;; esac
	done
	if [ -z "$memfd" ]; then
		fail "no memfd:nohuge in the frontend's fds"
	else
		truncate -s 0 "$memfd" || fail "truncate $memfd"
		wait_count b "became inaccessible (file truncated by the frontend?); closing the connection" 1 ||
			fail "backend logged no guest-memory fault"
		alive b || fail "backend died (see ${LOG[b]})"
		wait_count b "$LSC" $((lsc0 + 2)) || fail "port 0: no link-down LSC event"
		query b "show port info 0" "Link status" | grep -a "Link status: down" >/dev/null ||
			fail "port 0: link not down in 'show port info'"
		rx1a=$(port_rx b 1)
		sleep 1
		rx1b=$(port_rx b 1)
		if [ "${rx1b:-0}" -gt "${rx1a:-0}" ]; then
			log "port 0 closed after the fault; port 1 RX-packets ${rx1a} -> ${rx1b}"
		else
			fail "port 1 stopped receiving (${rx1a:-unset} -> ${rx1b:-unset})"
		fi
	fi
	stop f 9
	stop g
	stop b
}

# The frontend killed mid-traffic and restarted KILLS times.
case_kills() {
	local q=4 fds0=0 maps0=0 mb0=n/a fds1 maps1 mb1 i rx0 tx0 rx tx end lsc ok
	log "== $VDEV, $q queue pairs: frontend SIGKILLed mid-traffic, $KILLS restarts"
	rm -f "$WORK/b.log" "$WORK/f.log" "$SOCK"
	# shellcheck disable=SC2046
	start b $(backend_args "$q")
	cmd b "set fwd io"
	cmd b start
	wait_count b "forwards packets on" 1 ||
		{ fail "backend did not start"; stop b; return; }
	sleep 1
	log "backend before any frontend: $(nfds "${PID[b]}") fds, $(nmaps "${PID[b]}") mappings, $(mbufs b) mbufs in use"

	for ((i = 1; i <= KILLS; i++)); do
		lsc=$(count b "$LSC")
		rx0=$(pstat b RX-packets)
		tx0=$(pstat b TX-packets)
		# shellcheck disable=SC2046
		start f $(frontend_args "$q")
		cmd f "set fwd io"
		cmd f "start tx_first"
		wait_count b "$LSC" $((lsc + 1)) ||
			{ fail "kill $i: frontend did not connect"; stop f 9; break; }
		end=$((SECONDS + TIMEOUT))
		ok=0
		while [ $SECONDS -lt $end ]; do
			rx=$(pstat b RX-packets)
			tx=$(pstat b TX-packets)
			if [ "${rx:-0}" -gt $((rx0 + 1000)) ] && [ "${tx:-0}" -gt $((tx0 + 1000)) ]; then
				ok=1
				break
			fi
			sleep 0.05
		done
		if [ $ok -ne 1 ]; then
			fail "kill $i: traffic did not resume (RX $rx0 -> ${rx:-?}, TX $tx0 -> ${tx:-?})"
			stop f 9
			break
		fi
		stop f 9
		wait_count b "$LSC" $((lsc + 2)) ||
			{ fail "kill $i: no link-down event after SIGKILL"; break; }
		alive b || { fail "kill $i: backend died"; break; }
		log "kill $i: traffic resumed (RX +$((rx - rx0)), TX +$((tx - tx0))), frontend killed"
		if [ "$i" -eq 1 ]; then
			# The baseline is taken after the first connection: it
			# creates, once per process, a glibc malloc arena for
			# libvhu's control thread (64 MiB reserved, 2 mappings).
			sleep 1
			fds0=$(nfds "${PID[b]}")
			maps0=$(nmaps "${PID[b]}")
			mb0=$(mbufs b)
			log "backend baseline after the first connection: $fds0 fds, $maps0 mappings, $mb0 mbufs in use"
			ls -l "/proc/${PID[b]}/fd" >"$WORK/fds-before.txt"
			cp "/proc/${PID[b]}/maps" "$WORK/maps-before.txt"
		fi
	done

	# The backend frees a connection's fds and mappings on its own thread.
	# Mbufs: testpmd's io forwarding sends or frees a received burst in
	# the same pass, and net_vhu keeps none between bursts (libvhu
	# allocates them at dequeue), so once the link is down the count is
	# back to the baseline's exactly.
	end=$((SECONDS + 10))
	while :; do
		fds1=$(nfds "${PID[b]}")
		maps1=$(nmaps "${PID[b]}")
		mb1=$(mbufs b)
		[ "$fds1" -eq "$fds0" ] && [ "$maps1" -eq "$maps0" ] &&
			[ "$mb1" = "$mb0" ] && break
		[ $SECONDS -lt $end ] || break
		sleep 0.2
	done
	if [ "$mb0" = n/a ]; then
		fail "backend mbufs in use not readable (dump_mempool, see ${LOG[b]})"
	fi
	if [ "$fds1" -eq "$fds0" ] && [ "$maps1" -eq "$maps0" ] &&
		[ "$mb1" = "$mb0" ]; then
		log "backend after $KILLS kills: $fds1 fds, $maps1 mappings, $mb1 mbufs in use (baseline)"
	else
		fail "backend leaked: fds $fds0 -> $fds1, mappings $maps0 -> $maps1, mbufs in use $mb0 -> $mb1"
		ls -l "/proc/${PID[b]}/fd" >"$WORK/fds-after.txt"
		cp "/proc/${PID[b]}/maps" "$WORK/maps-after.txt"
		diff "$WORK/maps-before.txt" "$WORK/maps-after.txt" | head -n 20
		diff "$WORK/fds-before.txt" "$WORK/fds-after.txt" | head -n 20
	fi
	stop b
}

# Devargs the probe must refuse, each with a message naming the problem.
case_devargs() {
	local args want out
	[ "$VDEV" = net_vhu ] || return 0
	log "== net_vhu devargs"
	while IFS='|' read -r args want; do
		rm -f "$SOCK"
		out=$(LD_PRELOAD=$PRELOAD timeout 30 dpdk-testpmd -l 0 --no-huge -m 256 \
			--no-pci --file-prefix="$PREFIX"-b -d "$PLUGIN" \
			--vdev "net_vhu0,$args" -- --disable-link-check \
			</dev/null 2>&1)
		if ! grep -aq -- "$want" <<<"$out"; then
			fail "devargs '$args': no '$want' in the output"
			printf '%s\n' "$out" | grep -a "net_vhu\|EAL" | head -n 5
		elif grep -aq "Port 0: " <<<"$out"; then
			fail "devargs '$args': the port was created anyway"
		else
			log "devargs '$args' refused: $want"
		fi
	done <<EOF2
iface=$SOCK,bogus=1|unknown devarg 'bogus'
queues=1|iface=<socket path> is required
iface=$SOCK,queues=0|devarg queues=0: expected
iface=$SOCK,client=yes|devarg client=yes: expected 0 or 1
iface=$SOCK,iommu-support=yes|devarg iommu-support=yes: expected 0 or 1
iface=$SOCK,postcopy-support=2|devarg postcopy-support=2: expected 0 or 1
iface=$SOCK,queues=1,queues=2|devarg queues given 2 times
iface=$SOCK,ctrl-queue=on|devarg ctrl-queue=on: expected 0 or 1
iface=$SOCK,rss-steer=2|devarg rss-steer=2: expected 0 or 1
iface=$SOCK,coalesce-usecs=1ms|devarg coalesce-usecs=1ms: expected 0..1000000
iface=$SOCK,coalesce-frames=65537|devarg coalesce-frames=65537: expected 0..65536
iface=$SOCK,lazy-calls=2|devarg lazy-calls=2: expected 0 or 1
EOF2
	# accepted: tso=1, legacy-ol-flags=1 (no log line left saying either
	# is ignored); the Rx chain options; the IOMMU
	# (net_virtio_user has no vIOMMU: test_iotlb covers the IOTLB itself)
	rm -f "$SOCK"
	args="iface=$SOCK,queues=2,client=0,tso=1,linear-buffer=1,ext-buffer=1,legacy-ol-flags=1,iommu-support=1,postcopy-support=1,rss-steer=1,coalesce-usecs=50,coalesce-frames=32,lazy-calls=0"
	out=$(LD_PRELOAD=$PRELOAD timeout 30 dpdk-testpmd --lcores=0@0,1@1 \
		--no-huge -m 1024 --no-pci --file-prefix="$PREFIX"-b \
		-d "$PLUGIN" --vdev "net_vhu0,$args" -- --disable-link-check \
		--total-num-mbufs=16384 </dev/null 2>&1)
	if grep -aq "Port 0: 02:76:68:75:00:00" <<<"$out" &&
	   ! grep -aq "not supported yet\|no effect" <<<"$out"; then
		log "devargs '$args' accepted"
	else
		fail "devargs '$args' not accepted as expected"
		printf '%s\n' "$out" | grep -a "net_vhu\|EAL\|Port" | head -n 5
	fi
	# ctrl-queue=1: CTRL_VQ (17), CTRL_RX (18) and CTRL_VLAN (19) offered;
	# without it none of them (QEMU and virtio_user keep their own)
	for cq in 0 1; do
		rm -f "$SOCK"
		out=$(LD_PRELOAD=$PRELOAD timeout 30 dpdk-testpmd -l 0 --no-huge \
			-m 256 --no-pci --file-prefix="$PREFIX"-b -d "$PLUGIN" \
			--log-level=pmd.net.vhu:info \
			--vdev "net_vhu0,iface=$SOCK,ctrl-queue=$cq" -- \
			--disable-link-check </dev/null 2>&1)
		offered=$(grep -ao "features offered 0x[0-9a-f]*" <<<"$out" |
			  head -n 1 | awk '{ print $3 }')
		if [ -z "$offered" ]; then
			fail "ctrl-queue=$cq: no 'features offered' line"
		elif [ "$(fbit "$offered" 17)$(fbit "$offered" 18)$(fbit "$offered" 19)" != "$cq$cq$cq" ]; then
			fail "ctrl-queue=$cq: offered $offered (CTRL_VQ, CTRL_RX, CTRL_VLAN should be $cq)"
		else
			log "ctrl-queue=$cq: offered $offered"
		fi
	done
	rm -rf /var/run/dpdk/"$PREFIX"-b
}

# Offload cases: TCP frames from a pcap (tcp_pcap.py) through net_pcap.
PCAP_PY=$(dirname "$(realpath "${BASH_SOURCE[0]}")")/tcp_pcap.py
NB_FRAMES=32 # in the pcap: 1500 bytes, 1446 of TCP payload (2 segments)

# fbit FEATURES N : bit N of a hex feature word, 1 or 0
fbit() { echo $((($1 >> $2) & 1)); }

# pcap_check FILE : "frames N payload N largest N bad_ip N bad_tcp N"
pcap_check() { python3 "$PCAP_PY" check "$1"; }

# field LINE NAME : the number after NAME in a pcap_check line
field() { awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' <<<"$1"; }

# csum_tso NAME : testpmd NAME's csum engine asks port 0 for IPv4 and TCP
# checksums and TSO (800-byte segments) on Tx. Port 0 is stopped for it
# (a virtio_user port then negotiates the offloads again at start).
csum_tso() {
	cmd "$1" "port stop 0"
	cmd "$1" "csum set ip hw 0"
	cmd "$1" "csum set tcp hw 0"
	cmd "$1" "tso set 800 0"
	cmd "$1" "port start 0"
	cmd "$1" "set fwd csum"
}

# offload_pcaps : the source and an empty pcap in WORK
offload_pcaps() {
	python3 "$PCAP_PY" make "$WORK/tcp.pcap" "$NB_FRAMES" &&
		python3 "$PCAP_PY" empty "$WORK/empty.pcap"
}

# up_count NAME : how many times net_vhu's Rx queue 0 came up in NAME
up_count() { count "$1" "port 0: rx queue 0 enabled"; }

# renegotiation_refused : true (and failed) if libvhu refused the
# frontend's SET_FEATURES when it reconfigured its port: virtio_user
# negotiates again at dev_configure, after stopping its rings but without
# a SET_STATUS 0, and then runs with offloads libvhu does not know of
renegotiation_refused() {
	[ "$(count ob "SET_FEATURES changes .* refused")" -gt 0 ] || return 1
	fail "libvhu refused the frontend's new features: $(grep -a -m 1 "SET_FEATURES changes" "${LOG[ob]}")"
}

# Guest -> backend offloads, tso=TSO, legacy-ol-flags=LEGACY. The frontend
# (testpmd's csum engine, TCP checksum and TSO asked) sends the pcap's
# NB_FRAMES frames once; the backend forwards what it receives (io) to a
# pcap file, which is checked:
#   - offer (probe line): CSUM always; HOST_TSO4/6, HOST_ECN, HOST_USO
#     only with tso=1. Negotiated: CSUM, and HOST_TSO4 only with tso=1
#     (with tso=0 the frontend's `tso set` fails: no TCP_TSO capability);
#   - tso=1: every frame arrives whole (a TSO frame is not segmented on
#     Rx). Compliant flags (legacy 0): the backend application enabled no
#     Rx checksum offload, so rx_burst completes every partial checksum:
#     all right, rx_q0_sw_cksums = NB_FRAMES. Legacy flags: the frames
#     keep their partial checksum (a transmit request for a NIC): all
#     "wrong", rx_q0_sw_cksums = 0. No header refused;
#   - tso=0: testpmd keeps the segment size its `tso set` was refused
#     and virtio_user then sends TSO headers all the same, for a feature
#     it did not negotiate: libvhu drops every frame, counted in
#     rx_q0_dropped_bad_hdr and in ierrors (rx_errors).
case_offload_rx() {
	local tso=$1 legacy=$2 offered feat n res v want
	[ "$VDEV" = net_vhu ] || return 0
	log "== net_vhu offloads guest -> backend, tso=$tso legacy-ol-flags=$legacy"
	offload_pcaps || { fail "cannot write the pcaps"; return; }
	rm -f "$WORK/ob.log" "$WORK/of.log" "$WORK/ob-rx.pcap" "$SOCK"
	# shellcheck disable=SC2046
	start ob $(backend_args 1 ",tso=$tso,legacy-ol-flags=$legacy" \
		"--log-level=pmd.net.vhu:info --vdev net_pcap0,rx_pcap=$WORK/empty.pcap,tx_pcap=$WORK/ob-rx.pcap" \
		--no-flush-rx)
	cmd ob "set fwd io"
	cmd ob start
	wait_count ob "forwards packets on" 1 ||
		{ fail "backend did not start (see ${LOG[ob]})"; stop ob; return; }
	for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
	offered=$(grep -ao "features offered 0x[0-9a-f]*" "${LOG[ob]}" |
		tail -n 1 | awk '{ print $3 }')
	# CSUM 0, HOST_TSO4 11, HOST_TSO6 12, HOST_ECN 13, HOST_USO 56
	v="$(fbit "$offered" 11)$(fbit "$offered" 12)$(fbit "$offered" 13)$(fbit "$offered" 56)"
	if [ "$(fbit "$offered" 0)" = 1 ] && [ "$v" = "$tso$tso$tso$tso" ]; then
		log "offered $offered: CSUM; HOST_TSO4/6, HOST_ECN, HOST_USO $([ "$tso" = 1 ] && echo in || echo out)"
	else
		fail "offered ${offered:-nothing} with tso=$tso"
	fi

	# shellcheck disable=SC2046
	start of $(frontend_args 1 "--vdev net_pcap0,rx_pcap=$WORK/tcp.pcap" \
		--no-flush-rx)
	wait_count ob "port 0: rx queue 0 enabled" 1 ||
		{ fail "frontend did not connect"; stop of; stop ob; return; }
	n=$(up_count ob)
	csum_tso of
	wait_count ob "port 0: rx queue 0 enabled" $((n + 1)) ||
		fail "the frontend did not come back after its reconfiguration"
	sleep 1
	# the checks below would only time out
	if renegotiation_refused; then
		stop of
		stop ob
		return
	fi
	cmd of start
	if [ "$tso" = 1 ]; then
		wait_xstats ob rx_q _good_packets 1
	else
		wait_xstats ob rx_q _dropped_bad_hdr 1
	fi
	sleep 1
	feat=$(grep -ao "frontend connected on .*features 0x[0-9a-f]*" "${LOG[ob]}" |
		tail -n 1 | grep -ao "0x[0-9a-f]*$")
	if [ "$(fbit "${feat:-0}" 0)$(fbit "${feat:-0}" 11)" = "1$tso" ]; then
		log "negotiated $feat: CSUM, HOST_TSO4 $tso"
	else
		fail "negotiated ${feat:-nothing} with tso=$tso: want CSUM, HOST_TSO4 $tso"
	fi
	if [ "$tso" = 0 ] && [ "$(count of "TSO is not supported")" -eq 0 ]; then
		fail "tso=0: the frontend's 'tso set' did not fail"
	elif [ "$tso" = 1 ] && [ "$(count of "TSO is not supported\|TCP checksum offload is not supported")" -gt 0 ]; then
		fail "tso=1: the frontend could not enable TSO or TCP checksum (see ${LOG[of]})"
	fi

	res=$(pcap_check "$WORK/ob-rx.pcap")
	log "backend application received: $res"
	if [ "$tso" = 0 ]; then
		v="$(xstat ob rx_q0_dropped_bad_hdr) $(xstat ob rx_errors) $(field "$res" frames)"
		if [ "$v" = "$NB_FRAMES $NB_FRAMES 0" ]; then
			log "TSO frames without HOST_TSO4: rx_q0_dropped_bad_hdr $NB_FRAMES, rx_errors $NB_FRAMES"
		else
			fail "rx_q0_dropped_bad_hdr, rx_errors, frames received: $v; want $NB_FRAMES $NB_FRAMES 0"
		fi
		stop of
		stop ob
		return
	fi
	[ "$(field "$res" frames)" = "$NB_FRAMES" ] &&
		[ "$(field "$res" payload)" = $((NB_FRAMES * 1446)) ] &&
		[ "$(field "$res" largest)" = 1500 ] ||
		fail "want $NB_FRAMES whole frames of 1500 bytes"
	[ "$(field "$res" bad_ip)" = 0 ] || fail "wrong IPv4 header checksums"
	v=$(xstat ob rx_q0_sw_cksums)
	if [ "$legacy" = 0 ]; then
		want="bad_tcp 0, rx_q0_sw_cksums $NB_FRAMES"
	else
		want="bad_tcp $NB_FRAMES, rx_q0_sw_cksums 0"
	fi
	if [ "bad_tcp $(field "$res" bad_tcp), rx_q0_sw_cksums $v" = "$want" ]; then
		log "legacy-ol-flags=$legacy: $want"
	else
		fail "legacy-ol-flags=$legacy: bad_tcp $(field "$res" bad_tcp), rx_q0_sw_cksums ${v:-missing}; want $want"
	fi
	v=$(xstat ob rx_q0_dropped_bad_hdr)
	[ "$v" = 0 ] || fail "rx_q0_dropped_bad_hdr is '${v:-missing}', want 0"
	stop of
	stop ob
}

# Backend -> guest offloads: the backend's csum engine sends the pcap's
# frames once asking for TCP checksum and TSO; the frontend (no Rx
# offload enabled, so no GUEST_CSUM or GUEST_TSO4) forwards what it
# receives (io) to a pcap file. libvhu must segment and checksum in
# software: 2 right frames of at most 854 bytes per frame sent, the whole
# payload, tx_q0_sw_segmented = NB_FRAMES, nothing over an MTU.
case_offload_tx() {
	local res v feat
	[ "$VDEV" = net_vhu ] || return 0
	log "== net_vhu offloads backend -> guest: software segmentation and checksums"
	offload_pcaps || { fail "cannot write the pcaps"; return; }
	rm -f "$WORK/ob.log" "$WORK/of.log" "$WORK/of-rx.pcap" "$SOCK"
	# shellcheck disable=SC2046
	start ob $(backend_args 1 ",tso=1" \
		"--log-level=pmd.net.vhu:info --vdev net_pcap0,rx_pcap=$WORK/tcp.pcap" \
		--no-flush-rx)
	csum_tso ob
	wait_count ob "TSO segment size for non-tunneled packets is 800" 1 ||
		fail "backend: 'tso set 800 0' refused (see ${LOG[ob]})"
	for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
	# shellcheck disable=SC2046
	start of $(frontend_args 1 \
		"--vdev net_pcap0,rx_pcap=$WORK/empty.pcap,tx_pcap=$WORK/of-rx.pcap" \
		--no-flush-rx)
	cmd of "set fwd io"
	cmd of start
	wait_count of "forwards packets on" 1 ||
		{ fail "frontend did not start (see ${LOG[of]})"; stop of; stop ob; return; }
	wait_count ob "port 0: rx queue 0 enabled" 1 ||
		{ fail "frontend did not connect"; stop of; stop ob; return; }
	sleep 1
	cmd ob start
	wait_xstats ob tx_q _good_packets 1
	sleep 1
	feat=$(grep -ao "frontend connected on .*features 0x[0-9a-f]*" "${LOG[ob]}" |
		tail -n 1 | grep -ao "0x[0-9a-f]*$")
	# GUEST_CSUM 1, GUEST_TSO4 7
	[ "$(fbit "${feat:-0}" 1)$(fbit "${feat:-0}" 7)" = 00 ] ||
		fail "negotiated ${feat:-nothing}: the frontend took GUEST_CSUM or GUEST_TSO4"
	res=$(pcap_check "$WORK/of-rx.pcap")
	log "guest received: $res"
	[ "$(field "$res" frames)" = $((2 * NB_FRAMES)) ] &&
		[ "$(field "$res" payload)" = $((NB_FRAMES * 1446)) ] &&
		[ "$(field "$res" largest)" -le 854 ] ||
		fail "want $((2 * NB_FRAMES)) segments of at most 854 bytes, $((NB_FRAMES * 1446)) bytes of payload"
	[ "$(field "$res" bad_ip)$(field "$res" bad_tcp)" = 00 ] ||
		fail "the guest received wrong checksums"
	v=$(xstat ob tx_q0_sw_segmented)
	[ "$v" = "$NB_FRAMES" ] ||
		fail "tx_q0_sw_segmented is '${v:-missing}', want $NB_FRAMES"
	v=$(xstat ob tx_q0_dropped_mtu)
	[ "$v" = 0 ] || fail "tx_q0_dropped_mtu is '${v:-missing}', want 0"
	log "tx_q0_sw_segmented $NB_FRAMES, tx_q0_sw_cksums $(xstat ob tx_q0_sw_cksums), tx_q0_dropped_mtu 0"
	stop of
	stop ob
}

# RSS steering, rss-steer=STEER, 4 queue pairs. NB_FLOWS UDP flows from a
# pcap per queue (tcp_pcap.py flows, the queue's number in each frame),
# replayed by each of the 4 Rx queues of a net_pcap port in the backend,
# so every flow reaches net_vhu through all 4 of its Tx queues (io
# forwarding: pcap queue i -> net_vhu Tx queue i). In both modes the
# frames of one flow from one sending queue must arrive in order. With
# RETRY (rss-steer=1 only), 64-entry guest rings and testpmd's io retry:
# tx_burst returns frames, testpmd resends them, and they too must keep
# their flow's order; frames may be lost, flows not split.
# Two backend lcores forward, so with rss-steer=1 two lcores write the
# same guest queues. The frontend (virtio_user, 4 queues) writes what each of its Rx queues
# receives to its own pcap (io forwarding to a net_pcap port with 4 Tx
# queues), which tcp_pcap.py flowq reads:
#   - rss-steer=1: every flow on exactly one guest queue, more than one
#     queue used, every flow seen; the port reports its RSS key (the
#     symmetric default) and takes a new RETA;
#   - rss-steer=0: the old behaviour, Tx queue i into guest queue i: every
#     flow on all 4 queues.
NB_FLOWS=64
case_rss_steer() {
	local steer=$1 retry=${2:-} q=4 i rxs="" txs="" res v
	# two forwarding lcores: with rss-steer=1 both write the same guest
	# queues (through their own Tx queues), under the per-queue locks;
	# both on CPU 1, so the frontend's lcore (CPU 0) keeps up
	local B_LCORES=0@0,1@1,2@1 B_CORES=2
	# rings that hold a queue's share even when the hash is uneven; or,
	# with retry, small ones the backend overruns, resending what
	# tx_burst returned (the returned frames must come back in order)
	local F_DEVARGS=,queue_size=1024
	[ -n "$retry" ] && F_DEVARGS=,queue_size=64
	[ "$VDEV" = net_vhu ] || return 0
	log "== net_vhu rss-steer=$steer, $q queue pairs: $NB_FLOWS flows into a multiqueue guest${retry:+ (64-entry rings, io retry)}"
	for ((i = 0; i < q; i++)); do
		python3 "$PCAP_PY" flows "$WORK/flows-q$i.pcap" "$NB_FLOWS" 4 "$i" ||
			{ fail "cannot write the pcaps"; return; }
	done
	python3 "$PCAP_PY" empty "$WORK/empty.pcap" ||
		{ fail "cannot write the pcaps"; return; }
	rm -f "$WORK/sb.log" "$WORK/sf.log" "$WORK"/sf-q*.pcap "$WORK"/sb-q*.pcap "$SOCK"
	for ((i = 0; i < q; i++)); do
		rxs="$rxs,rx_pcap=$WORK/flows-q$i.pcap,tx_pcap=$WORK/sb-q$i.pcap"
		txs="$txs,rx_pcap=$WORK/empty.pcap,tx_pcap=$WORK/sf-q$i.pcap"
	done
	# shellcheck disable=SC2046
	start sb $(backend_args "$q" ",rss-steer=$steer" \
		"--log-level=pmd.net.vhu:info --vdev net_pcap0$rxs" --no-flush-rx)
	cmd sb "set fwd io${retry:+ retry}"
	for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
	# shellcheck disable=SC2046
	start sf $(frontend_args "$q" "--vdev net_pcap0$txs" --no-flush-rx)
	cmd sf "set fwd io"
	cmd sf start
	wait_count sf "forwards packets on" 1 ||
		{ fail "frontend did not start (see ${LOG[sf]})"; stop sf; stop sb; return; }
	wait_count sb "port 0: tx queue $((q - 1)) enabled" 1 ||
		{ fail "frontend did not connect"; stop sf; stop sb; return; }
	if [ "$steer" = 1 ]; then
		v=$(query sb "show port 0 rss-hash key" "RSS key" |
			grep -aio "^6D5A6D5A[0-9A-F]*" | head -n 1)
		[ "$v" = "$(printf '6D5A%.0s' $(seq 20))" ] ||
			fail "RSS key reported '${v:-nothing}', want the symmetric default (6D5A x 20)"
		# queues 1 and 2 only: the flows must still stay on one queue
		cmd sb "port config 0 rss reta (0,1),(1,2),(2,1),(3,2),(4,1),(5,2),(6,1),(7,2)"
		v=$(query sb "show port 0 rss reta 128 (0xff,0x0)" "hash index=7" |
			grep -ac "RSS RETA configuration: hash index=[0-7], queue=[12]$")
		[ "$v" = 8 ] || fail "RETA update not reported back ($v of 8 entries)"
		cmd sb "port config 0 rss reta $(for ((i = 0; i < 128; i++)); do printf '(%d,%d),' "$i" $((i % q)); done | sed 's/,$//')"
	fi
	sleep 1
	cmd sb start
	# 4 pcap queues x NB_FLOWS flows x 4 rounds, unless a guest ring was
	# full (testpmd's io drops what tx_burst returns): until all, or no
	# change for a second
	local last=-1 same=0
	for _ in $(seq 50); do
		v=$(pstat sf RX-packets)
		[ "${v:-0}" -ge $((4 * q * NB_FLOWS)) ] && break
		if [ "${v:-0}" = "$last" ]; then
			same=$((same + 1))
			[ $same -ge 5 ] && break
		else
			same=0
			last=${v:-0}
		fi
		sleep 0.2
	done
	log "frontend received ${v:-0} of $((4 * q * NB_FLOWS)) frames"
	stop sf # flushes its pcaps
	res=$(python3 "$PCAP_PY" flowq "$WORK"/sf-q{0,1,2,3}.pcap)
	log "guest queues: $res"
	# per flow and sending queue, frames must arrive in order
	[ "$(field "$res" reordered)" = 0 ] ||
		fail "rss-steer=$steer: frames of a flow reordered ($res)"
	if [ "$steer" = 1 ]; then
		# a full guest ring drops a flow's frames back to back (with
		# retry, most: the frontend shares a CPU with a busy lcore)
		if [ -n "$retry" ]; then
			# how often tx_burst returned frames (each retry counts)
			v=0
			for ((i = 0; i < q; i++)); do
				v=$((v + $(xstat sb "tx_q${i}_dropped_no_guest_buf")))
			done
			log "retry: guest rings refused frames $v times"
		elif [ "${v:-0}" -ge $((4 * q * NB_FLOWS)) ]; then
			[ "$(field "$res" flows)" = "$NB_FLOWS" ] ||
				fail "rss-steer=1: not every flow arrived ($res)"
		else
			[ "$(field "$res" flows)" -gt $((NB_FLOWS / 2)) ] ||
				fail "rss-steer=1: most flows lost ($res)"
		fi
		[ "$(field "$res" split)" = 0 ] ||
			fail "rss-steer=1: flows on more than one guest queue ($res)"
		[ "$(field "$res" queues)" -gt 1 ] ||
			fail "rss-steer=1: one guest queue took every flow ($res)"
	else
		if [ "$(field "$res" queues)" != "$q" ] ||
			[ "$(field "$res" split)" != "$NB_FLOWS" ]; then
			fail "rss-steer=0: want every flow on all $q queues (Tx queue i -> guest queue i): $res"
		fi
	fi
	stop sb
}

# RTE_ETH_RX_OFFLOAD_RSS_HASH: the frontend sends the flows pcap once
# (net_pcap -> virtio_user, io); the backend (2 Rx queues, so testpmd
# asks RSS, with --rss-udp: UDP addresses and ports; ethdev refuses the
# offload without RSS) turns the offload on and prints each frame
# (verbose 1). Every frame
# carries "RSS hash=", and each hash equals the one tcp_pcap.py computes
# on its own for that flow (the flow number is in the source MAC).
case_rx_rss_hash() {
	local bad n
	[ "$VDEV" = net_vhu ] || return 0
	log "== net_vhu Rx RSS_HASH offload: hash.rss of $NB_FLOWS flows"
	if ! python3 "$PCAP_PY" flows "$WORK/flows1.pcap" "$NB_FLOWS" 1 ||
		! python3 "$PCAP_PY" flowhash "$NB_FLOWS" >"$WORK/flowhash.txt"; then
		fail "cannot write the pcap"
		return
	fi
	rm -f "$WORK/hb.log" "$WORK/hf.log" "$SOCK"
	# shellcheck disable=SC2046
	start hb $(backend_args 2 "" "" --rss-udp)
	cmd hb "port stop 0"
	cmd hb "port config 0 rx_offload rss_hash on"
	cmd hb "port start 0"
	cmd hb "set fwd rxonly"
	cmd hb "set verbose 1"
	cmd hb start
	wait_count hb "forwards packets on" 1 ||
		{ fail "backend did not start (see ${LOG[hb]})"; stop hb; return; }
	for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
	# shellcheck disable=SC2046
	start hf $(frontend_args 1 "--vdev net_pcap0,rx_pcap=$WORK/flows1.pcap" 		--no-flush-rx)
	cmd hf "set fwd io"
	cmd hf start
	wait_count hb "RSS hash=" "$NB_FLOWS" ||
		fail "backend printed $(count hb "RSS hash=") frames with a hash, want $NB_FLOWS"
	# "src=02:00:00:00:HH:LL - ... - RSS hash=0x..." -> "flow 0xhash"
	grep -ao "src=02:00:00:00:[0-9A-Fa-f:]* .* RSS hash=0x[0-9a-f]*" "${LOG[hb]}" |
		sed 's/^src=02:00:00:00:\(..\):\(..\) .*RSS hash=\(0x[0-9a-f]*\)$/\1\2 \3/' |
		while read -r f h; do echo "$((16#$f)) $h"; done | sort -u >"$WORK/gothash.txt"
	n=$(wc -l <"$WORK/gothash.txt")
	bad=$(sort "$WORK/flowhash.txt" | comm -13 - "$WORK/gothash.txt" | wc -l)
	if [ "$n" -eq "$NB_FLOWS" ] && [ "$bad" -eq 0 ]; then
		log "hash.rss of all $NB_FLOWS flows as computed by tcp_pcap.py"
	else
		fail "hash.rss: $n flows seen, $bad with a hash other than tcp_pcap.py's (see $WORK/gothash.txt)"
	fi
	stop hf
	stop hb
}

# Queue-count mismatch, with net_vhu queues=4:
#   - the guest enables 2 (virtio_user queues=2) of the 4 the application
#     configured: one log line naming queues 2-3 idle and
#     guest_idle_queue_pairs = 2;
#   - the application configures 2 (--rxq=2 --txq=2) and the guest
#     enables 4: one line naming queue pairs 2-3 unread and
#     unpolled_guest_queue_pairs = 2.
case_queue_mismatch() {
	local fq=$1 aq=$2 want xs v
	[ "$VDEV" = net_vhu ] || return 0
	log "== net_vhu queues=4, application $aq queue pairs, guest $fq"
	rm -f "$WORK/mb.log" "$WORK/mf.log" "$SOCK"
	# shellcheck disable=SC2046
	start mb $(backend_args 4 "" "" "--rxq=$aq --txq=$aq")
	cmd mb "set fwd rxonly"
	cmd mb start
	wait_count mb "forwards packets on" 1 ||
		{ fail "backend did not start (see ${LOG[mb]})"; stop mb; return; }
	for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
	# shellcheck disable=SC2046
	start mf $(frontend_args "$fq")
	cmd mf start
	if [ "$fq" -lt "$aq" ]; then
		want="guest enabled 2 of 4 queue pairs; queues 2-3 will stay idle"
		xs=guest_idle_queue_pairs
	else
		want="guest enabled queue pairs 2-3 that the application does not poll"
		xs=unpolled_guest_queue_pairs
	fi
	if wait_count mb "$want" 1; then
		log "logged: $(grep -a -m 1 "$want" "${LOG[mb]}")"
	else
		fail "no '$want' in ${LOG[mb]}"
	fi
	v=$(xstat mb "$xs")
	[ "$v" = 2 ] || fail "$xs is '${v:-missing}', want 2"
	for x in guest_idle_queue_pairs unpolled_guest_queue_pairs; do
		[ "$x" = "$xs" ] && continue
		v=$(xstat mb "$x")
		[ "$v" = 0 ] || fail "$x is '${v:-missing}', want 0"
	done
	log "xstat $xs = 2"
	stop mf
	stop mb
}

# linear-buffer / ext-buffer: the frontend sends 9000-byte frames (one
# 9000-byte mbuf each, so one descriptor), the backend's mbufs have 2048
# bytes of data room. ext-buffer=1 alone or with linear-buffer=1: every
# frame arrives whole in one segment (testpmd's verbose rxonly prints
# nb_segs; in libvhu an external buffer since the PMD has no copy of its
# own left); linear-buffer=1 alone: every frame dropped and counted
# (rx_q0_dropped_not_linear); no devarg: chains of 5. No mbuf stays held.
case_linear_buffers() {
	local more=$1 want=$2 base n v got bad
	log "== $VDEV$more: 9000-byte frames from the guest"
	rm -f "$WORK/b.log" "$WORK/f.log" "$SOCK"
	# shellcheck disable=SC2046
	start b $(backend_args 1 "$more")
	cmd b "set fwd rxonly"
	cmd b start
	wait_count b "Start automatic packet forwarding\|forwards packets on" 1 ||
		{ fail "backend did not start (see ${LOG[b]})"; stop b; return; }
	for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
	base=$(mbufs b)
	cmd b "set verbose 1"
	# shellcheck disable=SC2046
	start f $(frontend_args 1 "" "--mbuf-size=9400 --total-num-mbufs=2048")
	cmd f "set txpkts 9000"
	cmd f "set fwd txonly"
	cmd f start
	n=0
	if [ "$want" = drop ]; then
		for _ in $(seq $((TIMEOUT * 2))); do
			n=$(xstat b rx_q0_dropped_not_linear)
			[ "${n:-0}" -gt 0 ] && break
			sleep 0.5
		done
		cmd f stop
		v=$(xstat b rx_q0_good_packets)
		[ "${n:-0}" -gt 0 ] && [ "${v:-1}" = 0 ] &&
			! grep -aq "length=9000" "${LOG[b]}" ||
			fail "linear-buffer=1: dropped_not_linear '${n:-}', good_packets '${v:-}' (want > 0 and 0)"
		log "dropped and counted: rx_q0_dropped_not_linear $n"
	else
		wait_count b "length=9000 - nb_segs=" 20 ||
			fail "no 9000-byte frame reached the backend"
		cmd f stop
		got=$(grep -ao "length=9000 - nb_segs=[0-9]*" "${LOG[b]}" |
		      sort | uniq -c | awk '{ printf "%s x %s; ", $1, $NF }')
		# a count, not grep -q: an early exit would SIGPIPE the first
		# grep, and pipefail would read that as "no other shape"
		bad=$(grep -ao "length=9000 - nb_segs=[0-9]*" "${LOG[b]}" |
		      grep -vc "nb_segs=$want\$")
		if [ "${bad:-0}" -gt 0 ]; then
			fail "frames of other shapes than nb_segs=$want: $got"
		else
			log "every frame in nb_segs=$want: $got"
		fi
		v=$(xstat b rx_q0_dropped_not_linear)
		[ "${v:-}" = 0 ] || fail "rx_q0_dropped_not_linear is '${v:-missing}', want 0"
	fi
	cmd b "set verbose 0"
	sleep 0.5
	v=$(mbufs b)
	[ "$v" = "$base" ] || fail "backend mbufs in use: $v, $base before"
	stop f
	stop b
}

ONLY=${VHU_PMD_ONLY:-}
# want CASE : true unless VHU_PMD_ONLY names other cases
want() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }

want case_devargs && case_devargs
want case_offload_rx && case_offload_rx 1 0
want case_offload_rx && case_offload_rx 1 1
want case_offload_rx && case_offload_rx 0 0
want case_offload_tx && case_offload_tx
want case_rss_steer && case_rss_steer 1
want case_rss_steer && case_rss_steer 0
want case_rss_steer && case_rss_steer 1 retry
want case_rx_rss_hash && case_rx_rss_hash
want case_queue_mismatch && case_queue_mismatch 2 4
if [ "$VDEV" = net_vhu ] && want case_linear_buffers; then
	case_linear_buffers ",linear-buffer=1,ext-buffer=1" 1
	case_linear_buffers ",ext-buffer=1" 1
	case_linear_buffers ",linear-buffer=1" drop
	case_linear_buffers "" 5
fi
want case_queue_mismatch && case_queue_mismatch 4 2
for q in $QUEUE_CASES; do
	want case_traffic && case_traffic "$q"
done
[ "$VDEV" = net_vhu ] && want case_shrunk_memory && case_shrunk_memory
[ "$KILLS" -gt 0 ] && want case_kills && case_kills

if [ $FAILED -ne 0 ]; then
	log "FAILED (logs in $WORK)"
	exit 1
fi
log "PASSED"
exit 0
