#!/bin/busybox sh
# SPDX-License-Identifier: BSD-3-Clause
#
# /init of the guest image of the Linux-guest suite (app/test/guest/, packed
# by mkinitramfs.sh). It owns the guest's start-up and its command channel:
# it mounts /proc, /sys and /dev, loads the virtio-net modules listed in
# /etc/vhu-modules (in that order), waits for eth0, then reads commands from
# the second serial port (/dev/ttyS1, which the host feeds through a FIFO)
# and runs them one at a time, their output going to the console (ttyS0, the
# serial log the host reads). The protocol, one line each way:
#   host writes   "<id> <shell command>"             on ttyS1
#   guest prints  "vhu-guest: run <id>: <command>"   then the command's output
#                 "vhu-guest: done <id> rc=<status>"  on the console
# "vhu-guest: ready ..." says commands may be sent. The command "!poweroff"
# is not queued: it powers the guest off at once, even while another command
# runs. Should this script end, the kernel panics and, with panic=-1 and
# -no-reboot, QEMU exits.

/bin/busybox mkdir -p /proc /sys /dev /sbin /usr/bin /usr/sbin /tmp
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

echo "vhu-guest: booted, kernel $(uname -r), uptime $(cut -d' ' -f1 /proc/uptime) s"
while read -r m; do
	[ -n "$m" ] || continue
	insmod "/lib/modules/$m" || echo "vhu-guest: insmod $m failed"
done </etc/vhu-modules

i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 200 ]; do
	sleep 0.1
	i=$((i + 1))
done
if [ -e /sys/class/net/eth0 ]; then
	eth0="eth0 $(cat /sys/class/net/eth0/address)"
else
	eth0="no eth0"
fi

exec 3</dev/ttyS1
stty raw -echo <&3
mkfifo /tmp/vhu-cmds
# The reader acts on "!poweroff" at once, even while a command runs (a
# stuck command cannot keep the guest up), and queues everything else for
# the runner below, which runs one command at a time.
(
	while read -r id cmd <&3; do
		case "$cmd" in
		'!poweroff')
			echo "vhu-guest: power off ($id)" >/dev/console
			poweroff -f
			;;
		*) printf '%s %s\n' "$id" "$cmd" ;;
		esac
	done
) >/tmp/vhu-cmds &
echo "vhu-guest: ready, $eth0, uptime $(cut -d' ' -f1 /proc/uptime) s"
while read -r id cmd; do
	[ -n "$id" ] || continue
	echo "vhu-guest: run $id: $cmd"
	sh -c "$cmd" </dev/null
	echo "vhu-guest: done $id rc=$?"
done </tmp/vhu-cmds
echo "vhu-guest: command channel closed"
poweroff -f
