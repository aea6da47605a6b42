#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The call ladder of libvhu (doc/guide/architecture.md, "The ladder"):
# every object file of the library sits on one floor, and a function may
# call only functions of a lower floor (or of its own file). Read from the
# built objects' symbol tables, so a call hidden behind a macro or an
# inline helper counts as well. Files on one floor do not call each other.
# Callbacks (a function pointer a higher floor registers, such as an
# event-loop handler) are not calls up: the lower floor never names them.
#
# Usage: devtools/check-ladder.sh [BUILD_DIR]   (default: build)
# Prints each call that goes up or sideways and exits 1; silent and 0 when
# the ladder holds.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$REPO/build}
objdir=$build/lib/vhost/libvhu_internal.a.p

# floor  object (source path with / as _)
floors='
0  common_vhu_log
0  common_vhu_numa
1  virtqueue_vq
1  virtqueue_pkt_offload
1  virtqueue_extbuf
2  virtqueue_net_hdr
3  virtqueue_split
3  virtqueue_packed
3  virtqueue_ctrl
4  virtqueue_offload
5  virtqueue_burst
5  virtqueue_async
6  protocol_unix_io
6  protocol_loop
6  protocol_memguard
7  protocol_mem
8  protocol_msg
9  protocol_iotlb
9  protocol_postcopy
9  protocol_net_ctrl
10 protocol_dev
11 protocol_handlers
12 protocol_lifecycle
13 protocol_registry
14 protocol_telemetry
15 protocol_entry
'

if [ ! -d "$objdir" ]; then
	echo "check-ladder: no objects in $objdir (build first)" >&2
	exit 2
fi

status=0
declare -A floor_of
while read -r f o; do
	[ -n "${o:-}" ] && floor_of[$o]=$f
done <<< "$floors"

# every object must have a floor: a new file is placed on purpose
for obj in "$objdir"/*.o; do
	name=$(basename "$obj" .c.o)
	if [ -z "${floor_of[$name]:-}" ]; then
		echo "check-ladder: $name has no floor: add it to $0" >&2
		status=1
	fi
done

# symbol -> defining object
declare -A def
while read -r obj sym; do
	def[$sym]=$obj
done < <(for obj in "$objdir"/*.o; do
		nm --defined-only "$obj" |
		awk -v o="$(basename "$obj" .c.o)" \
			'$2 ~ /^[TDRB]$/ { print o, $3 }'
	done)

for obj in "$objdir"/*.o; do
	me=$(basename "$obj" .c.o)
	myfloor=${floor_of[$me]:-}
	[ -n "$myfloor" ] || continue
	for sym in $(nm --undefined-only "$obj" | awk '{ print $2 }'); do
		callee=${def[$sym]:-}
		[ -n "$callee" ] || continue          # DPDK, libc
		[ "$callee" = "$me" ] && continue
		cf=${floor_of[$callee]:-}
		[ -n "$cf" ] || continue
		if [ "$cf" -ge "$myfloor" ]; then
			echo "check-ladder: ${me} (floor $myfloor) uses $sym of ${callee} (floor $cf)"
			status=1
		fi
	done
done
exit $status
