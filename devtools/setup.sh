#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Prepares a Debian 12 machine (as root) to build and test vhu:
#   1. installs the Debian packages the build, the tests and the demo use;
#   2. puts DPDK's driver-SDK headers (not shipped by libdpdk-dev) into
#      <repo>/.sdk/include/, taken from Debian's dpdk source package of the
#      installed version, with a stamp file naming that version;
#   3. reserves 2 MiB hugepages and mounts hugetlbfs at /dev/hugepages when the
#      machine allows it, and says so when it does not;
#   4. for the Linux-guest suite (app/test/guest/): downloads the Debian kernel
#      package that linux-image-amd64 depends on (without installing it) and
#      unpacks it into a machine cache, /var/cache/vhu/guest/<version>/, with
#      modules.dep (depmod) and the decompressed vmlinux (PVH boot, faster
#      under TCG); /var/cache/vhu/guest/current points at it.
# Every step checks first and does nothing when its work is already done, so a
# second run takes well under a second and touches no network.
#
# Environment:
#   VHU_HUGEPAGES=N   2 MiB pages to reserve (default 1024; 0 leaves them alone)
#   VHU_GUEST_CACHE=DIR  where the guest kernel goes (default /var/cache/vhu/guest)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SDK_DIR="$REPO/.sdk"
SDK_INC="$SDK_DIR/include"
SDK_STAMP="$SDK_DIR/version"
HUGEPAGES_WANTED=${VHU_HUGEPAGES:-1024}
GUEST_CACHE=${VHU_GUEST_CACHE:-/var/cache/vhu/guest}

PACKAGES=(libdpdk-dev dpdk dpdk-dev meson ninja-build pkg-config libnuma-dev
          libcmocka-dev clang libclang-rt-14-dev dpkg-dev gcc libc6-dev xz-utils
          qemu-system-x86 busybox-static cpio kmod doxygen gnuplot-nox)

# Driver-SDK headers the PMD and the tests include. Headers they pull in that
# libdpdk-dev does not install are found and added by sdk_closure below.
SDK_HEADERS=(ethdev_driver.h ethdev_vdev.h bus_vdev_driver.h dev_driver.h
             bus_driver.h)

log() { printf 'setup: %s\n' "$*"; }
note() { printf 'setup: note: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and reserves hugepages)"

# Two runs at once (two engineers, or the demo and the tests) would fight over
# apt's lock and the header directory: take turns.
exec 9>/run/vhu-setup.lock
flock 9

export DEBIAN_FRONTEND=noninteractive
APT_UPDATED=0
apt_update() {
	if [ "$APT_UPDATED" -eq 0 ]; then
		log "apt-get update"
		apt-get update -qq
		APT_UPDATED=1
	fi
}

# --- 1. packages -----------------------------------------------------------
missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	apt_update
	log "installing ${missing[*]}"
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- 2. driver-SDK headers -------------------------------------------------
dpdk_version=$(dpkg-query -W -f='${Version}' libdpdk-dev)

sdk_present() {
	[ -f "$SDK_STAMP" ] && [ "$(cat "$SDK_STAMP")" = "$dpdk_version" ] || return 1
	local h
	for h in "${SDK_HEADERS[@]}"; do
		[ -f "$SDK_INC/$h" ] || return 1
	done
}

# Adds a deb-src twin of every deb entry apt already uses, in a file of our
# own, so the source comes from the same mirror (or snapshot) as the binaries.
add_deb_src() {
	local deb822=/etc/apt/sources.list.d/debian.sources
	local ours=/etc/apt/sources.list.d/vhu-deb-src.sources
	local legacy=/etc/apt/sources.list.d/vhu-deb-src.list
	if [ -f "$ours" ] || [ -f "$legacy" ]; then
		return 0
	fi
	if [ -f "$deb822" ] && grep -qi '^Types:.*deb-src' "$deb822"; then
		return 0
	fi
	if [ -f "$deb822" ]; then
		log "adding deb-src entries ($ours)"
		sed -E 's/^Types:[[:space:]]*deb([[:space:]].*)?$/Types: deb-src/I' \
			"$deb822" >"$ours"
	elif [ -f /etc/apt/sources.list ] && grep -q '^deb ' /etc/apt/sources.list; then
		if grep -q '^deb-src ' /etc/apt/sources.list; then
			return 0
		fi
		log "adding deb-src entries ($legacy)"
		sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >"$legacy"
	else
		die "no Debian apt source found to add a deb-src entry to"
	fi
	APT_UPDATED=0   # the new entries need a fresh index
}

# Prints the include names (<x.h>) of header $1, one a line.
includes_of() {
	sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]+)[>"].*/\1/p' "$1"
}

# Include directories the build searches without our SDK folder: DPDK's (from
# pkg-config) and the compiler's own.
search_dirs() {
	pkg-config --cflags-only-I libdpdk | tr ' ' '\n' | sed -n 's/^-I//p'
	cc -E -v -x c /dev/null 2>&1 >/dev/null |
		sed -n '/^#include <...> search starts here:/,/^End of search list./p' |
		sed -n 's/^ //p'
}

# True when the include name $1 resolves without our SDK folder.
installed_header() {
	local d
	for d in "${SEARCH_DIRS[@]}"; do
		[ -f "$d/$1" ] && return 0
	done
	return 1
}

# Copies the wanted headers and every non-installed header they include,
# transitively, from source tree $1 into $2.
sdk_closure() {
	local src=$1 dst=$2 queue=("${SDK_HEADERS[@]}") h path inc
	declare -A seen=()
	mapfile -t SEARCH_DIRS < <(search_dirs)
	while [ "${#queue[@]}" -gt 0 ]; do
		h=${queue[0]}
		queue=("${queue[@]:1}")
		[ -n "${seen[$h]:-}" ] && continue
		seen[$h]=1
		path=$(find "$src/lib" "$src/drivers" -name "$(basename "$h")" -type f \
			| head -n 1)
		[ -n "$path" ] || die "$h not found in the dpdk source"
		cp "$path" "$dst/$(basename "$h")"
		while read -r inc; do
			[ -n "${seen[$inc]:-}" ] && continue
			installed_header "$inc" && continue
			queue+=("$inc")
		done < <(includes_of "$path")
	done
}

fetch_sdk_headers() {
	local tmp srcdir patched
	add_deb_src
	apt_update
	tmp=$(mktemp -d)
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" EXIT
	log "fetching dpdk=$dpdk_version source"
	if ! (cd "$tmp" && apt-get source -qq --download-only "dpdk=$dpdk_version") \
		>"$tmp/apt-source.log" 2>&1; then
		cat "$tmp/apt-source.log" >&2
		die "apt-get source dpdk=$dpdk_version failed (is that version still on the mirror?)"
	fi

	local orig debian
	orig=$(ls "$tmp"/dpdk_*.orig.tar.* 2>/dev/null | head -n 1)
	debian=$(ls "$tmp"/dpdk_*.debian.tar.* 2>/dev/null | head -n 1)
	[ -n "$orig" ] || die "no orig tarball in the dpdk source package"

	# Does any Debian patch touch a header under lib/ or drivers/bus/? Then
	# unpack the whole package with its patches; else the orig tarball's
	# headers are the ones Debian built with, and unpacking just those is fast.
	patched=0
	if [ -n "$debian" ]; then
		mkdir "$tmp/deb"
		tar -xf "$debian" -C "$tmp/deb"
		if [ -f "$tmp/deb/debian/patches/series" ]; then
			local p
			while read -r p _; do
				case "$p" in ''|'#'*) continue ;; esac
				if grep -qE '^\+\+\+ [^ ]*/(lib|drivers/bus)/.*\.h' \
					"$tmp/deb/debian/patches/$p"; then
					patched=1
				fi
			done <"$tmp/deb/debian/patches/series"
		fi
	fi
	if [ "$patched" -eq 1 ]; then
		log "Debian patches touch headers: unpacking the full source"
		(cd "$tmp" && dpkg-source -q -x --no-check ./*.dsc src >/dev/null)
		srcdir="$tmp/src"
	else
		mkdir "$tmp/orig"
		tar -xf "$orig" -C "$tmp/orig" --wildcards --no-anchored \
			'lib/*.h' 'drivers/bus/*.h'
		srcdir=$(ls -d "$tmp"/orig/*/ | head -n 1)
	fi

	rm -rf "$SDK_DIR.new"
	mkdir -p "$SDK_DIR.new/include"
	sdk_closure "$srcdir" "$SDK_DIR.new/include"
	echo "$dpdk_version" >"$SDK_DIR.new/version"

	# Do the headers fit the installed DPDK? A syntax check catches a version
	# mismatch now rather than in the PMD's build.
	# shellcheck disable=SC2046 # pkg-config's flags are meant to split
	printf '#include <ethdev_driver.h>\n#include <ethdev_vdev.h>\n#include <bus_driver.h>\n' |
		cc -fsyntax-only -x c -DALLOW_INTERNAL_API -I"$SDK_DIR.new/include" \
			$(pkg-config --cflags libdpdk) - ||
		die "the fetched SDK headers do not compile against the installed DPDK"

	rm -rf "$SDK_DIR"
	mv "$SDK_DIR.new" "$SDK_DIR"
	rm -rf "$tmp"
	trap - EXIT
	log "SDK headers for DPDK $dpdk_version in $SDK_INC: $(cd "$SDK_INC" && ls | tr '\n' ' ')"
}

if ! sdk_present; then
	fetch_sdk_headers
fi

# --- 3. hugepages ------------------------------------------------------------
meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }

hugetlbfs_mounted() {
	awk '$3 == "hugetlbfs" { found = 1 } END { exit !found }' /proc/mounts
}

if [ "$HUGEPAGES_WANTED" -gt 0 ]; then
	total=$(meminfo HugePages_Total)
	pagesz=$(meminfo Hugepagesize)
	nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
	if [ ! -e "$nr" ]; then
		note "this kernel has no 2 MiB hugepages; tests run with --no-huge only"
	elif [ "${total:-0}" -lt "$HUGEPAGES_WANTED" ]; then
		# Leave at least 4 GiB of free memory to everything else.
		avail_kb=$(meminfo MemAvailable)
		want_kb=$(( (HUGEPAGES_WANTED - ${total:-0}) * 2048 ))
		if [ "$pagesz" != 2048 ] && [ "${total:-0}" -gt 0 ]; then
			note "default hugepage size is ${pagesz} kB; reserving 2 MiB pages anyway"
		fi
		if [ "$(( avail_kb - want_kb ))" -lt $(( 4 * 1024 * 1024 )) ]; then
			note "not enough free memory for $HUGEPAGES_WANTED hugepages; left at ${total:-0}"
		elif ! (echo "$HUGEPAGES_WANTED" >"$nr") 2>/dev/null; then
			note "cannot reserve hugepages here (read-only $nr); tests run with --no-huge only"
		else
			got=$(cat "$nr")
			log "hugepages: $got of 2 MiB reserved"
			[ "$got" -ge "$HUGEPAGES_WANTED" ] ||
				note "the kernel gave $got of $HUGEPAGES_WANTED hugepages (fragmented memory)"
		fi
	fi
	if ! hugetlbfs_mounted; then
		if mkdir -p /dev/hugepages 2>/dev/null &&
		   mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages 2>/dev/null; then
			log "hugetlbfs mounted at /dev/hugepages"
		else
			note "cannot mount hugetlbfs at /dev/hugepages; tests run with --no-huge only"
		fi
	fi
fi

# --- 4. guest kernel ---------------------------------------------------------
# The Linux-guest tests boot the kernel of linux-image-amd64's dependency with
# a busybox initramfs they build themselves; installing the package would run
# initramfs-tools for minutes, so it is only unpacked, into a cache of its own.

guest_kernel_ready() {
	[ -L "$GUEST_CACHE/current" ] && [ -f "$GUEST_CACHE/current/ready" ]
}

# Prints the versioned kernel package linux-image-amd64 depends on.
guest_kernel_package() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1
}

# Writes DIR/vmlinux from the bzImage DIR/boot/vmlinuz-VER when its payload is
# xz (Debian's choice): the decompressed ELF boots through QEMU's PVH entry,
# about 4 s faster per boot under TCG. Without it the tests boot vmlinuz.
extract_vmlinux() {
	local dir=$1 ver=$2 img off
	img=$dir/boot/vmlinuz-$ver
	off=$(LC_ALL=C grep -abo -m 1 $'\xfd7zXZ\x00' "$img" 2>/dev/null |
		head -n 1 | cut -d: -f1)
	if [ -z "$off" ]; then
		note "guest kernel: no xz payload in $img; tests boot the bzImage"
		return 0
	fi
	tail -c +"$((off + 1))" "$img" | xz -dc --single-stream >"$dir/vmlinux.tmp" 2>/dev/null || true
	if [ "$(head -c 4 "$dir/vmlinux.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
		mv "$dir/vmlinux.tmp" "$dir/vmlinux"
	else
		rm -f "$dir/vmlinux.tmp"
		note "guest kernel: could not decompress vmlinux; tests boot the bzImage"
	fi
}

fetch_guest_kernel() {
	local pkg ver tmp dest
	pkg=$(guest_kernel_package)
	if [ -z "$pkg" ]; then
		apt_update
		pkg=$(guest_kernel_package)
	fi
	[ -n "$pkg" ] || die "cannot resolve linux-image-amd64 to a versioned kernel package"
	ver=${pkg#linux-image-}
	mkdir -p "$GUEST_CACHE"
	tmp=$(mktemp -d "$GUEST_CACHE/.download.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" EXIT
	# apt drops privileges to _apt for downloads: let it write there
	chown _apt "$tmp" 2>/dev/null || true
	log "guest kernel: downloading $pkg"
	if ! (cd "$tmp" && apt-get download -qq "$pkg") >"$tmp/apt.log" 2>&1; then
		apt_update
		(cd "$tmp" && apt-get download -qq "$pkg") >"$tmp/apt.log" 2>&1 ||
			{ cat "$tmp/apt.log" >&2; die "apt-get download $pkg failed"; }
	fi
	dest=$tmp/tree
	dpkg-deb -x "$tmp"/"$pkg"_*.deb "$dest"
	[ -f "$dest/boot/vmlinuz-$ver" ] || die "$pkg has no boot/vmlinuz-$ver"
	# the package ships no modules.dep: installing it would run depmod
	depmod -b "$dest" "$ver"
	extract_vmlinux "$dest" "$ver"
	echo "$ver" >"$dest/ready"
	rm -rf "${GUEST_CACHE:?}/$ver"
	mv "$dest" "$GUEST_CACHE/$ver"
	ln -sfn "$ver" "$GUEST_CACHE/current"
	rm -rf "$tmp"
	trap - EXIT
	log "guest kernel $ver in $GUEST_CACHE/$ver$([ -f "$GUEST_CACHE/$ver/vmlinux" ] && echo " (with vmlinux)")"
}

if ! guest_kernel_ready; then
	fetch_guest_kernel
fi

log "ready (DPDK $dpdk_version, hugepages free: $(meminfo HugePages_Free), guest kernel $(cat "$GUEST_CACHE/current/ready"))"
