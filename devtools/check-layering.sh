#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Checks the layering rule by #include lines (CONTRIBUTING.md, "Layering"):
#
#   lib/vhost/virtqueue/  the hot layer: its own headers, common/ and the
#                         public headers; never protocol/
#   lib/vhost/common/     its own headers and the public headers
#   lib/vhost/protocol/   anything in lib/vhost/
#   lib/vhost/*.h         the public headers: only each other
#   drivers/, examples/,  only the public headers (vhu.h, vhu_burst.h, and
#   devtools/             the PMD's rte_pmd_vhu.h), plus their own folder's
#                         headers; never a library-internal header
#
# app/test/ is white-box and not checked. The library's include path is
# flat (lib/vhost, common, protocol, virtqueue: lib/vhost/meson.build), so
# an include names a file by its base name: each "x.h" or <x.h> is resolved
# to the repository header it names, first in the including file's own
# folder, then in that search order; a name no repository file has (libc,
# DPDK, the generated vhu_config.h) is outside the rule.
#
# Prints each offending line with the header it reaches and the rule it
# breaks, and exits 1 if there was any; 0 otherwise.
# Usage: devtools/check-layering.sh [FILE...] (default: every tracked or
# new C file of the repository).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

# list_files: the repository's files (devtools/repo-files.sh)
. devtools/repo-files.sh

mapfile -t all < <(list_files)
if [ $# -gt 0 ]; then
	files=("$@")
else
	files=()
	for f in "${all[@]}"; do
		case "$f" in *.c|*.h) [ -f "$f" ] && files+=("$f") ;; esac
	done
fi

# The rules, most specific prefix first. Fields (tab-separated): the
# including files (path prefix), what they may include (path prefixes;
# SELF is the including file's folder), why. Lines starting with # are
# comments.
LIB_API="lib/vhost/vhu.h lib/vhost/vhu_burst.h"
PMD_API="drivers/net/vhost/rte_pmd_vhu.h"
rules=$(mktemp)
headers=$(mktemp)
trap 'rm -f "$rules" "$headers"' EXIT
cat > "$rules" <<EOF
lib/vhost/virtqueue/	SELF lib/vhost/common/ $LIB_API	the hot layer sees no protocol state; protocol/ drives it through vq.h
lib/vhost/common/	SELF $LIB_API	common/ sits below both layers
lib/vhost/protocol/	lib/vhost/	the protocol layer may use the whole library
lib/vhost/	$LIB_API	a public header must not expose internal ones
drivers/	SELF $LIB_API	the PMD uses the library through its public headers only
examples/	SELF $LIB_API $PMD_API	examples use the library through its public headers only
devtools/	SELF $LIB_API $PMD_API	devtools programs use the library through its public headers only
# Symbol-level rules (which protocol floor a file may rely on) are not
# include rules: they live in devtools/check-ladder.sh.
EOF
for f in "${all[@]}"; do
	case "$f" in *.h) echo "$f" ;; esac
done > "$headers"

# awk reads the rules, then the header list, then the C files.
LC_ALL=C awk -v rules="$rules" -v headers="$headers" '
function dirname(p,    d) {
	d = p
	if (sub(/\/[^\/]*$/, "", d) == 0)
		return "."
	return d
}
# Collapses "a/./b" and "a/x/../b".
function normalize(p,    n, i, k, part, out) {
	n = split(p, part, "/")
	k = 0
	for (i = 1; i <= n; i++) {
		if (part[i] == "." || part[i] == "")
			continue
		if (part[i] == ".." && k > 0) {
			k--
			continue
		}
		out[++k] = part[i]
	}
	p = ""
	for (i = 1; i <= k; i++)
		p = p (i > 1 ? "/" : "") out[i]
	return p
}
# The repository header an include names, or "" if none does.
function resolve(name, from,    i, p) {
	p = normalize(dirname(from) "/" name)
	if (p in is_header)
		return p
	for (i = 1; i <= nsearch; i++) {
		p = normalize(search[i] "/" name)
		if (p in is_header)
			return p
	}
	return ""
}
function starts(s, prefix) {
	return substr(s, 1, length(prefix)) == prefix
}
BEGIN {
	FS = "\t"
	nsearch = split("lib/vhost lib/vhost/common lib/vhost/protocol " \
			"lib/vhost/virtqueue drivers/net/vhost", search, " ")
}
FILENAME == rules && /^#/ { next }
FILENAME == rules { nrules++; prefix[nrules] = $1; allow[nrules] = $2; why[nrules] = $3; next }
FILENAME == headers { is_header[$0] = 1; next }
FNR == 1 {
	rule = 0
	for (i = 1; i <= nrules; i++)
		if (starts(FILENAME, prefix[i])) {
			rule = i
			break
		}
}
rule && /^[ \t]*#[ \t]*include[ \t]*["<]/ {
	name = $0
	sub(/^[ \t]*#[ \t]*include[ \t]*["<]/, "", name)
	sub(/[">].*$/, "", name)
	target = resolve(name, FILENAME)
	if (target == "" || target == FILENAME)
		next
	n = split(allow[rule], ok, " ")
	for (i = 1; i <= n; i++) {
		a = ok[i] == "SELF" ? dirname(FILENAME) "/" : ok[i]
		if (a ~ /\/$/ ? starts(target, a) : target == a)
			next
	}
	printf "%s:%d: %s\n", FILENAME, FNR, $0
	list = allow[rule]
	sub(/^SELF/, "its own folder,", list)
	printf "\t%s is %s, but %s may include only %s (%s)\n", name,
	       target, prefix[rule], list, why[rule]
	nbad++
}
END { exit nbad > 0 }
' "$rules" "$headers" "${files[@]}" || {
	echo "check-layering: FAILED (rules: devtools/check-layering.sh, CONTRIBUTING.md)" >&2
	exit 1
}
echo "check-layering: ${#files[@]} files OK"
