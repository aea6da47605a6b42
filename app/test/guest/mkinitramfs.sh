#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Packs the guest image of the Linux-guest suite: a gzip'd newc cpio with
# the static busybox, the suite's /init (init.sh), the guest tool and the
# virtio-net modules of the cached Debian kernel (devtools/setup.sh puts it
# in /var/cache/vhu/guest/). It owns the choice of modules: virtio_pci and
# virtio_net with everything modules.dep says they need, in load order,
# skipping what the kernel has built in and decompressing .ko.xz/.ko.zst/
# .ko.gz so busybox's insmod can load them. The image is rebuilt only when
# an input is newer than it (or --force).
#
# Usage: mkinitramfs.sh --tool PATH --out FILE [--kernel-dir DIR] [--force]
#   --tool PATH       the static guest tool (vhu-guest-tool)
#   --out FILE        the initramfs to write (its folder must exist)
#   --kernel-dir DIR  the cached kernel (default /var/cache/vhu/guest/current)
#   --force           rebuild even when up to date
# Prints the kernel to boot (vmlinux when there is one, else vmlinuz) on
# stdout. Exit status: 0 done, 1 error, 77 no cached kernel or no static
# busybox (run devtools/setup.sh).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tool=""
out=""
kdir=${VHU_GUEST_KERNEL_DIR:-/var/cache/vhu/guest/current}
force=0
while [ $# -gt 0 ]; do
	case "$1" in
	--tool) tool=$2; shift ;;
	--out) out=$2; shift ;;
	--kernel-dir) kdir=$2; shift ;;
	--force) force=1 ;;
	-h|--help) sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "mkinitramfs.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done
if [ -z "$tool" ] || [ -z "$out" ]; then
	echo "mkinitramfs.sh: --tool and --out are required" >&2
	exit 2
fi

die() { echo "mkinitramfs.sh: $*" >&2; exit 1; }
skip() { echo "mkinitramfs.sh: SKIP: $*" >&2; exit 77; }

[ -f "$kdir/ready" ] || skip "no guest kernel in $kdir (devtools/setup.sh fetches it)"
kdir=$(cd "$kdir" && pwd -P)
kver=$(cat "$kdir/ready")
mods=$kdir/lib/modules/$kver
[ -f "$mods/modules.dep" ] || die "no $mods/modules.dep (depmod did not run?)"
kernel=$kdir/vmlinux
[ -f "$kernel" ] || kernel=$kdir/boot/vmlinuz-$kver
[ -f "$kernel" ] || die "no kernel image in $kdir"
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || skip "no busybox (apt-get install busybox-static)"
if readelf -l "$busybox" 2>/dev/null | grep -q 'Requesting program interpreter'; then
	skip "$busybox is not static (apt-get install busybox-static)"
fi
[ -x "$tool" ] || die "no guest tool $tool"

inputs=("$tool" "$here/init.sh" "$busybox" "$mods/modules.dep" "$0")
if [ "$force" -eq 0 ] && [ -f "$out" ]; then
	fresh=1
	for f in "${inputs[@]}"; do
		[ "$f" -nt "$out" ] && fresh=0
	done
	[ "$(cat "$out.kernel" 2>/dev/null)" = "$kdir" ] || fresh=0
	if [ "$fresh" -eq 1 ]; then
		echo "$kernel"
		exit 0
	fi
fi

# Load order for one module: its dependencies as modules.dep lists them,
# deepest last, so they are loaded back to front, then the module itself.
declare -A seen=()
order=()
add_module() {
	local name=$1 line path deps i
	line=$(grep -m1 -E "(^|/)$name\.ko(\.[a-z]+)?:" "$mods/modules.dep" || true)
	if [ -z "$line" ]; then
		grep -qE "(^|/)$name\.ko" "$mods/modules.builtin" 2>/dev/null &&
			return 0    # built in
		die "module $name: neither in modules.dep nor built in"
	fi
	path=${line%%:*}
	read -r -a deps <<<"${line#*:}"
	for (( i = ${#deps[@]} - 1; i >= 0; i-- )); do
		if [ -z "${seen[${deps[$i]}]:-}" ]; then
			seen[${deps[$i]}]=1
			order+=("${deps[$i]}")
		fi
	done
	if [ -z "${seen[$path]:-}" ]; then
		seen[$path]=1
		order+=("$path")
	fi
}
add_module virtio_pci
add_module virtio_net

stage=$(mktemp -d "$(dirname "$out")/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,etc,lib/modules,proc,sys}
cp "$busybox" "$stage/bin/busybox"
cp "$tool" "$stage/bin/vhu-guest-tool"
cp "$here/init.sh" "$stage/init"
chmod 755 "$stage/init" "$stage/bin/busybox" "$stage/bin/vhu-guest-tool"
: >"$stage/etc/vhu-modules"
for m in "${order[@]}"; do
	base=$(basename "$m")
	case "$base" in
	*.ko) cp "$mods/$m" "$stage/lib/modules/$base" ;;
	*.ko.xz) xz -dc "$mods/$m" >"$stage/lib/modules/${base%.xz}"; base=${base%.xz} ;;
	*.ko.zst) zstd -qdc "$mods/$m" >"$stage/lib/modules/${base%.zst}"; base=${base%.zst} ;;
	*.ko.gz) gzip -dc "$mods/$m" >"$stage/lib/modules/${base%.gz}"; base=${base%.gz} ;;
	*) die "module $m: unknown file type" ;;
	esac
	echo "$base" >>"$stage/etc/vhu-modules"
done
(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
	gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
echo "$kdir" >"$out.kernel"
echo "mkinitramfs.sh: $out: kernel $kver, modules $(tr '\n' ' ' <"$stage/etc/vhu-modules")" >&2
echo "$kernel"
