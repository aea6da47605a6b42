# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
#
# Library of the Linux-guest suite, sourced by run.sh and meant to be sourced
# by later suites that need real guests (lifecycle, migration). It owns the
# lifetime of every process a suite starts: QEMU guests (command line, serial
# log, command channel) and backends (vhu-loopback, dpdk-testpmd with the
# net_vhu plugin, vhu-vswitch). Everything is tracked by PID and stopped by
# PID, never by name; gl_cleanup (installed on EXIT by gl_init) stops what is
# left. It prints nothing on success except through gl_log; failures are
# returned, and the caller decides the verdict.
#
# The guest image (mkinitramfs.sh, init.sh) boots to a command loop: the host
# writes "<id> <command>" into the guest's second serial port (a FIFO pair,
# -serial pipe:), the guest runs it and prints "vhu-guest: done <id> rc=N" on
# its console, which QEMU writes to the serial log (-serial file:).
#
# Set before gl_init (run.sh does):
#   GL_WORK        private work directory (logs, sockets, FIFOs)
#   GL_KERNEL      kernel image to boot (vmlinux, or a bzImage)
#   GL_INITRD      the suite's initramfs
# Optional:
#   GL_QEMU_CPUS   CPU list QEMU is pinned to with taskset ('' = no pinning)
#   GL_BE_CPU      CPU the backends' lcores are pinned to (default 0)
#   GL_HUGE_DIR    hugetlbfs mount point for mem=huge guests
#   GL_LOOPBACK, GL_VSWITCH, GL_PLUGIN, GL_TESTPMD   backend binaries
#   GL_TELEMETRY   dpdk-telemetry.py, for be_telemetry
#   GL_PRELOAD     LD_PRELOAD for dpdk-testpmd (the ASan runtime when the
#                  plugin is instrumented)
#
# Guests (NAME: a short word, used in file names):
#   guest_start NAME KEY=VALUE...  start QEMU in the background; keys:
#       sock=PATH (vhost-user socket, required), queues=N (1), packed=on|off
#       (off), mrg=on|off (on), mtu=M (host_mtu, unset), mac=MAC, mem=memfd|
#       huge (memfd), ram=MiB (256; or with a unit: 262152K), server=1
#       (QEMU listens on sock: for a backend in client mode), reconnect=S,
#       reboot=1 (a reboot in the guest resets the machine instead of
#       ending QEMU), qemu="EXTRA ARGS", append="EXTRA KERNEL ARGS",
#       iommu=1 (a vIOMMU: intel-iommu with device-iotlb, the device behind
#       a PCIe root port with iommu_platform=on,ats=on, the guest booted
#       with intel_iommu=on), share=off (the memory backend maps its file
#       privately: a set-up mistake the backend must diagnose)
#   guest_wait NAME REGEX [SECS] [FROM-LINE]  wait for an extended regex in
#       the serial log (from line FROM-LINE on); 0 found, 1 timeout, 2 QEMU
#       exited
#   guest_ready NAME [SECS]        wait until the command channel is up
#   guest_cmd NAME SECS COMMAND    run COMMAND in the guest and wait; returns
#       its status (124 timeout, 125 QEMU exited); output in GL_OUT
#   guest_cmd_send NAME COMMAND    send it, return at once; its id in GL_ID
#   guest_cmd_wait NAME ID SECS    wait for a command sent with guest_cmd_send
#   guest_lines NAME               serial-log lines so far (a FROM-LINE mark)
#   guest_stop NAME [SECS]         power off ("!poweroff": at once, even
#       while a command runs), wait for QEMU to exit (SIGTERM, then SIGKILL,
#       when it does not); 0 when it powered off by itself
#   guest_kill NAME [SIG]          signal QEMU (default KILL) and reap it
#   guest_alive NAME
#   ${GL_SERIAL[NAME]}, ${GL_QLOG[NAME]}  its serial log and QEMU's output
# Processes (backends and anything else):
#   proc_start NAME LOG COMMAND... start in the background, output to LOG
#       (appended), stdin from GL_STDIN (default /dev/null)
#   proc_stop NAME [SECS]          SIGTERM, wait, SIGKILL; exit status in
#       GL_RC (-1 when it had to be killed); 0 when it exited by itself
#   proc_alive NAME, proc_pid NAME
#   wait_log LOG REGEX SECS [PID] [FROM-LINE]  wait for a line in any log
# Backends (on top of proc_*):
#   be_loopback_start NAME SOCK QUEUES [ARGS...]  vhu-loopback (ARGS such
#       as --client go to it), waits until it serves
#   be_testpmd_start NAME SOCK QUEUES [TESTPMD-ARGS...]  interactive
#       dpdk-testpmd with net_vhu (io forwarding), commands through a FIFO;
#       GL_TESTPMD_PMD=net_vhost uses DPDK's own PMD instead (no plugin),
#       GL_TESTPMD_DEVARGS (",client=1") is appended to the --vdev,
#       GL_TESTPMD_INIT holds commands (one a line) run before "start",
#       GL_TESTPMD_EAL (words) goes before the port's --vdev (DMA devices
#       its dmas= names must exist first)
#   be_testpmd_cmd NAME COMMAND END-REGEX [SECS]  one command; its output
#       in GL_OUT
#   be_testpmd_stats NAME          RX/TX-packets, RX-missed, TX-errors of
#       port 0 into GL_RX GL_TX GL_MISSED GL_TXERR
#   be_testpmd_quit NAME           'quit', wait for the exit
#   be_vswitch_start NAME SOCK...  vhu-vswitch, one port per socket, with
#       GL_VSWITCH_WORKERS polling lcores (default 1) and the options in
#       GL_VSWITCH_ARGS (words, e.g. "--offloads 1:no-guest")
#   be_res NAME                    "FDS MAPS GUEST-MAPS" of the process:
#       entries of /proc/PID/fd, lines of /proc/PID/maps, and of those the
#       mappings of guest memory (memfd or hugetlbfs files)
#   be_telemetry NAME COMMAND...   ask a backend's telemetry socket (its
#       EAL prefix from gl_eal) with dpdk-telemetry.py (GL_TELEMETRY): one
#       JSON line per command into GL_OUT; 1 when nothing answered

# Per name: PID, FIFO fds, serial log, QEMU log (stdout and stderr), next
# command id, process log. GL_OUT, GL_RX... are results for the caller.
# shellcheck disable=SC2034
declare -A GL_PID=() GL_FD=() GL_SERIAL=() GL_QLOG=() GL_NEXT=() GL_PLOG=()
# shellcheck disable=SC2034
GL_RX="" GL_TX="" GL_MISSED="" GL_TXERR=""
GL_OUT=""
GL_ID=""
GL_RC=0
GL_BE_CPU=${GL_BE_CPU:-0}
GL_QEMU_CPUS=${GL_QEMU_CPUS:-}

gl_log() { printf '[guest %(%T)T] %s\n' -1 "$*"; }

gl_init() {
	mkdir -p "$GL_WORK" && chmod 700 "$GL_WORK" || return 1
	trap gl_cleanup EXIT
}

# gl_wait_pid PID SECS: until our child PID has exited (0), or SECS (1).
gl_wait_pid() {
	local i
	for (( i = 0; i < $2 * 10; i++ )); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	! kill -0 "$1" 2>/dev/null
}

# ---- processes --------------------------------------------------------------

# gl_exec COMMAND...: exec COMMAND without the FIFO fds this shell holds
# open for other processes (a backend started after a guest must not keep
# the guest's command channel open, nor count it among its fds).
gl_exec() {
	local k fd
	for k in "${!GL_FD[@]}"; do
		fd=${GL_FD[$k]}
		exec {fd}>&-
	done
	exec "$@"
}

proc_start() {
	local name=$1 log=$2
	shift 2
	GL_PLOG[$name]=$log
	gl_exec "$@" >>"$log" 2>&1 <"${GL_STDIN:-/dev/null}" &
	GL_PID[$name]=$!
}

proc_pid() { echo "${GL_PID[$1]:-}"; }

proc_alive() {
	[ -n "${GL_PID[$1]:-}" ] && kill -0 "${GL_PID[$1]}" 2>/dev/null
}

proc_stop() {
	local name=$1 secs=${2:-10} pid=${GL_PID[$1]:-} rc=0
	GL_RC=0
	[ -n "$pid" ] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		if ! gl_wait_pid "$pid" "$secs"; then
			kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			GL_RC=-1
			unset "GL_PID[$name]"
			return 1
		fi
	fi
	wait "$pid" 2>/dev/null
	GL_RC=$?
	unset "GL_PID[$name]"
	[ "$GL_RC" -eq 0 ] || rc=1
	return $rc
}

# wait_log LOG REGEX SECS [PID] [FROM-LINE]: 0 when a line (CRs removed)
# matches, 1 on timeout, 2 when PID died first.
wait_log() {
	local log=$1 re=$2 secs=$3 pid=${4:-} from=${5:-1} end
	end=$(( $(date +%s%N) / 1000000 + secs * 1000 ))
	while :; do
		if [ -f "$log" ] &&
		   tail -n +"$from" "$log" | tr -d '\r' | grep -aEq -- "$re"; then
			return 0
		fi
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			tail -n +"$from" "$log" 2>/dev/null | tr -d '\r' |
				grep -aEq -- "$re" && return 0
			return 2
		fi
		[ "$(( $(date +%s%N) / 1000000 ))" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# ---- guests -----------------------------------------------------------------

guest_start() {
	local name=$1 kv k v
	shift
	local sock="" queues=1 packed=off mrg=on mtu="" mac="" mem=memfd
	local ram=256 server=0 reconnect="" qemu="" append="" iommu=0 share=on
	local noreboot=-no-reboot
	for kv in "$@"; do
		k=${kv%%=*}
		v=${kv#*=}
		case "$k" in
		sock) sock=$v ;;
		queues) queues=$v ;;
		packed) packed=$v ;;
		mrg) mrg=$v ;;
		mtu) mtu=$v ;;
		mac) mac=$v ;;
		mem) mem=$v ;;
		ram) ram=$v ;;  # MiB, or with a unit (262152K)
		server) server=$v ;;
		reconnect) reconnect=$v ;;
		reboot) [ "$v" = 1 ] && noreboot="" ;;
		qemu) qemu=$v ;;
		append) append=$v ;;
		iommu) iommu=$v ;;
		share) share=$v ;;
		*) gl_log "guest_start: unknown key $k"; return 2 ;;
		esac
	done
	[ -n "$sock" ] || { gl_log "guest_start: sock= is required"; return 2; }
	[[ $ram == *[0-9] ]] && ram=${ram}M
	[ -n "$mac" ] || mac=$(printf '52:54:00:%02x:%02x:%02x' \
		$(( RANDOM % 256 )) $(( RANDOM % 256 )) $(( RANDOM % 256 )))
	local serial=$GL_WORK/$name.serial.log qlog=$GL_WORK/$name.qemu.log
	local fifo=$GL_WORK/$name.cmd memobj chardev dev taskset=()
	case "$mem" in
	memfd) memobj="memory-backend-memfd,id=mem0,size=${ram},share=$share" ;;
	huge)
		[ -n "${GL_HUGE_DIR:-}" ] || { gl_log "guest_start: mem=huge without GL_HUGE_DIR"; return 2; }
		memobj="memory-backend-file,id=mem0,size=${ram},mem-path=$GL_HUGE_DIR,share=$share"
		;;
	*) gl_log "guest_start: mem=$mem?"; return 2 ;;
	esac
	chardev="socket,id=c0,path=$sock"
	[ "$server" = 1 ] && chardev="$chardev,server=on,wait=off"
	[ -n "$reconnect" ] && chardev="$chardev,reconnect=$reconnect"
	dev="virtio-net-pci,netdev=n0,mac=$mac,mq=on,packed=$packed,mrg_rxbuf=$mrg,vectors=0"
	[ -n "$mtu" ] && dev="$dev,host_mtu=$mtu"
	# vIOMMU: ATS needs a PCIe device, so a root port; QEMU 7.2's vhost
	# hears of guest unmaps only through device-IOTLB invalidations.
	local viommu=()
	if [ "$iommu" = 1 ]; then
		viommu=(-device intel-iommu,intremap=off,device-iotlb=on
			-device pcie-root-port,id=rp0,bus=pcie.0,chassis=1)
		dev="$dev,bus=rp0,iommu_platform=on,ats=on"
		append="intel_iommu=on $append"
	fi
	rm -f "$serial" "$qlog" "$fifo.in" "$fifo.out"
	mkfifo "$fifo.in" "$fifo.out" || return 1
	# Read-write opens never block and keep both FIFOs open for QEMU's
	# lifetime; QEMU opens them read-write too. Nothing reads .out: the
	# guest turns echo off and never writes to that port.
	exec {v}<>"$fifo.in"
	GL_FD[$name]=$v
	exec {v}<>"$fifo.out"
	GL_FD[$name.out]=$v
	GL_SERIAL[$name]=$serial
	GL_QLOG[$name]=$qlog
	GL_NEXT[$name]=1
	[ -n "$GL_QEMU_CPUS" ] && taskset=(taskset -c "$GL_QEMU_CPUS")
	# shellcheck disable=SC2086 # $qemu is a list of extra arguments
	gl_exec "${taskset[@]}" qemu-system-x86_64 \
		-name "vhu-guest-$name" \
		-machine q35,memory-backend=mem0 -accel tcg -cpu qemu64 \
		-smp 1 -m "$ram" -object "$memobj" \
		"${viommu[@]+"${viommu[@]}"}" \
		-chardev "$chardev" \
		-netdev "vhost-user,id=n0,chardev=c0,queues=$queues" \
		-device "$dev" \
		-nodefaults -display none -no-user-config \
		-serial "file:$serial" -serial "pipe:$fifo" \
		-kernel "$GL_KERNEL" -initrd "$GL_INITRD" \
		-append "console=ttyS0 ipv6.disable=1 panic=-1 quiet loglevel=4 $append" \
		$noreboot $qemu \
		>"$qlog" 2>&1 </dev/null &
	GL_PID[$name]=$!
	GL_PLOG[$name]=$qlog
}

guest_alive() { proc_alive "$1"; }

guest_lines() {
	if [ -f "${GL_SERIAL[$1]}" ]; then
		wc -l <"${GL_SERIAL[$1]}"
	else
		echo 0
	fi
}

guest_wait() {
	wait_log "${GL_SERIAL[$1]}" "$2" "${3:-60}" "${GL_PID[$1]:-}" "${4:-1}"
}

guest_ready() {
	guest_wait "$1" '^vhu-guest: ready' "${2:-60}"
}

guest_cmd_send() {
	local name=$1 id
	shift
	id=${GL_NEXT[$name]}
	GL_NEXT[$name]=$(( id + 1 ))
	printf '%s %s\n' "$id" "$*" >&"${GL_FD[$name]}"
	GL_ID=$id
}

# Output of command ID (the lines between its run and done markers).
guest_output() {
	tr -d '\r' <"${GL_SERIAL[$1]}" |
		sed -n "/^vhu-guest: run $2: /,/^vhu-guest: done $2 rc=/p" |
		sed '1d;$d'
}

guest_cmd_wait() {
	local name=$1 id=$2 secs=$3 rc
	GL_OUT=""
	guest_wait "$name" "^vhu-guest: done $id rc=" "$secs"
	rc=$?
	GL_OUT=$(guest_output "$name" "$id")
	case $rc in
	0) ;;
	1) return 124 ;;
	*) return 125 ;;
	esac
	rc=$(tr -d '\r' <"${GL_SERIAL[$name]}" |
		sed -n "s/^vhu-guest: done $id rc=\([0-9]*\).*/\1/p" | tail -n 1)
	return "${rc:-1}"
}

guest_cmd() {
	local name=$1 secs=$2
	shift 2
	guest_cmd_send "$name" "$@"
	guest_cmd_wait "$name" "$GL_ID" "$secs"
}

gl_close_fds() {
	local k fd
	for k in "$1" "$1.out"; do
		if [ -n "${GL_FD[$k]:-}" ]; then
			fd=${GL_FD[$k]}
			exec {fd}>&-
			unset "GL_FD[$k]"
		fi
	done
	rm -f "$GL_WORK/$1.cmd.in" "$GL_WORK/$1.cmd.out"
}

guest_stop() {
	local name=$1 secs=${2:-20} pid=${GL_PID[$1]:-} rc=0
	[ -n "$pid" ] || { gl_close_fds "$name"; return 0; }
	if kill -0 "$pid" 2>/dev/null; then
		# out of band: acts even while a command still runs
		guest_cmd_send "$name" '!poweroff'
		gl_wait_pid "$pid" "$secs" || rc=1
	fi
	proc_stop "$name" 5 || rc=1
	gl_close_fds "$name"
	return $rc
}

guest_kill() {
	local pid=${GL_PID[$1]:-}
	if [ -n "$pid" ]; then
		kill -"${2:-KILL}" "$pid" 2>/dev/null
		# (bash reports the signal as it reaps the job: not an error)
		{ gl_wait_pid "$pid" 10 || kill -KILL "$pid"; } 2>/dev/null
		wait "$pid" 2>/dev/null
		unset "GL_PID[$1]"
	fi
	gl_close_fds "$1"
}

# ---- backends ---------------------------------------------------------------

# EAL arguments shared by the backends: private memory, their own prefix.
gl_prefix() { echo "vhu-guest-$$-$1"; }
gl_eal() {
	echo "--no-huge -m ${2:-512} --no-pci --file-prefix=$(gl_prefix "$1")"
}

be_telemetry() {
	local name=$1
	shift
	GL_OUT=""
	[ -n "${GL_TELEMETRY:-}" ] || return 1
	GL_OUT=$(printf '%s\n' "$@" |
		timeout 10 python3 "$GL_TELEMETRY" -f "$(gl_prefix "$name")" 2>&1 |
		grep -a '^{')
}

be_loopback_start() {
	local name=$1 sock=$2 queues=$3 log=$GL_WORK/$1.log
	shift 3
	# shellcheck disable=SC2046
	proc_start "$name" "$log" "$GL_LOOPBACK" --lcores="0@$GL_BE_CPU" \
		$(gl_eal "$name") -- --socket "$sock" --queues "$queues" \
		--stats 1 "$@"
	wait_log "$log" '^vhu-loopback: serving' 20 "${GL_PID[$name]}"
}

be_vswitch_start() {
	local name=$1 log=$GL_WORK/$1.log s args=() lcores="0@$GL_BE_CPU" i
	shift
	for s in "$@"; do
		args+=(--socket "$s")
	done
	for (( i = 1; i <= ${GL_VSWITCH_WORKERS:-1}; i++ )); do
		lcores="$lcores,$i@$GL_BE_CPU"
	done
	# shellcheck disable=SC2046,SC2086 # GL_VSWITCH_ARGS: words
	proc_start "$name" "$log" "$GL_VSWITCH" \
		--lcores="$lcores" $(gl_eal "$name") -- "${args[@]}" \
		${GL_VSWITCH_ARGS:-}
	wait_log "$log" '^vswitch: [0-9]+ ports' 20 "${GL_PID[$name]}"
}

be_testpmd_start() {
	local name=$1 sock=$2 queues=$3 log=$GL_WORK/$1.log fifo=$GL_WORK/$1.in v
	shift 3
	rm -f "$fifo"
	mkfifo "$fifo" || return 1
	exec {v}<>"$fifo"
	GL_FD[$name]=$v
	: >"$log"
	# The main lcore reads commands, one more lcore forwards. Line-buffered
	# so the script sees command output at once.
	# An ASan build of the plugin needs the shared ASan runtime preloaded
	# (testpmd is not instrumented, so leak checks would only see EAL).
	local pre=() pmd=${GL_TESTPMD_PMD:-net_vhu} plugin=(-d "$GL_PLUGIN")
	# a second port (GL_TESTPMD_VDEV2: its --vdev value): io forwarding
	# then moves frames between the two ports
	local vdev2=()
	[ -n "${GL_TESTPMD_VDEV2:-}" ] && vdev2=(--vdev "$GL_TESTPMD_VDEV2")
	[ -n "${GL_PRELOAD:-}" ] && pre=(env LD_PRELOAD="$GL_PRELOAD"
		ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0")
	# net_vhu says at info level when a frontend comes and goes
	[ "$pmd" = net_vhu ] && plugin+=(--log-level=pmd.net.vhu:info)
	[ "$pmd" = net_vhu ] || plugin=()
	# shellcheck disable=SC2046,SC2086 # GL_TESTPMD_EAL: words
	GL_STDIN=$fifo proc_start "$name" "$log" "${pre[@]}" stdbuf -oL "$GL_TESTPMD" \
		--lcores="0@$GL_BE_CPU,1@$GL_BE_CPU" $(gl_eal "$name" 1024) \
		"${plugin[@]}" ${GL_TESTPMD_EAL:-} \
		--vdev "${pmd}0,iface=$sock,queues=$queues${GL_TESTPMD_DEVARGS:-}" \
		"${vdev2[@]+"${vdev2[@]}"}" -- \
		-i --rxq="$queues" --txq="$queues" --nb-cores=1 \
		--total-num-mbufs=32768 --forward-mode=io "$@"
	wait_log "$log" 'testpmd> ' 30 "${GL_PID[$name]}" || return 1
	local c
	while IFS= read -r c; do
		[ -z "$c" ] || be_testpmd_cmd "$name" "$c" 'testpmd> ' 10 || return 1
	done <<<"${GL_TESTPMD_INIT:-}"
	be_testpmd_cmd "$name" start 'forwards packets on|Packet forwarding already started' 10
}

be_testpmd_cmd() {
	local name=$1 cmd=$2 re=$3 secs=${4:-10} from rc
	from=$(( $(wc -l <"${GL_PLOG[$name]}") + 1 ))
	printf '%s\n' "$cmd" >&"${GL_FD[$name]}"
	wait_log "${GL_PLOG[$name]}" "$re" "$secs" "${GL_PID[$name]}" "$from"
	rc=$?
	sleep 0.2    # the rest of the output
	GL_OUT=$(tail -n +"$from" "${GL_PLOG[$name]}")
	return $rc
}

be_testpmd_stats() {
	be_testpmd_cmd "$1" "show port stats 0" 'Tx-pps' || return 1
	GL_RX=$(grep -ao 'RX-packets: *[0-9]*' <<<"$GL_OUT" | awk '{ print $2 }')
	GL_TX=$(grep -ao 'TX-packets: *[0-9]*' <<<"$GL_OUT" | awk '{ print $2 }')
	GL_MISSED=$(grep -ao 'RX-missed: *[0-9]*' <<<"$GL_OUT" | awk '{ print $2 }')
	GL_TXERR=$(grep -ao 'TX-errors: *[0-9]*' <<<"$GL_OUT" | awk '{ print $2 }')
	[ -n "$GL_RX" ] && [ -n "$GL_TX" ]
}

be_testpmd_quit() {
	local name=$1 pid=${GL_PID[$1]:-} rc=0 fd
	[ -n "$pid" ] || return 0
	printf 'quit\n' >&"${GL_FD[$name]}"
	if ! gl_wait_pid "$pid" 20; then
		rc=1
	fi
	proc_stop "$name" 5 || rc=1
	fd=${GL_FD[$name]}
	exec {fd}>&-
	unset "GL_FD[$name]"
	rm -f "$GL_WORK/$name.in"
	return $rc
}

be_res() {
	local pid=${GL_PID[$1]:-} fds maps l g=0
	if [ -z "$pid" ] || [ ! -d "/proc/$pid" ]; then
		echo "- - -"
		return 1
	fi
	fds=("/proc/$pid/fd/"*)
	mapfile -t maps <"/proc/$pid/maps"
	for l in "${maps[@]}"; do
		case "$l" in
		*/memfd:*) g=$(( g + 1 )) ;;
		*" ${GL_HUGE_DIR:-/dev/hugepages}/"*) g=$(( g + 1 )) ;;
		esac
	done
	echo "${#fds[@]} ${#maps[@]} $g"
}

# ---- clean-up ---------------------------------------------------------------

gl_cleanup() {
	local n fd
	for n in "${!GL_PID[@]}"; do
		kill -TERM "${GL_PID[$n]}" 2>/dev/null
	done
	for n in "${!GL_PID[@]}"; do
		gl_wait_pid "${GL_PID[$n]}" 5 || kill -KILL "${GL_PID[$n]}" 2>/dev/null
		wait "${GL_PID[$n]}" 2>/dev/null
		unset "GL_PID[$n]"
	done
	for n in "${!GL_FD[@]}"; do
		fd=${GL_FD[$n]}
		exec {fd}>&-
	done
	GL_FD=()
	rm -rf /var/run/dpdk/vhu-guest-$$-* 2>/dev/null
	[ "$(type -t gl_cleanup_hook)" = function ] && gl_cleanup_hook
	return 0
}
