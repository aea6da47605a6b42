#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# doc-api test: runs doxygen on the public headers (into its own output
# directory, not the doc target's) and fails if it exits non-zero or prints
# anything on stderr, where every warning goes (undocumented symbol,
# undocumented parameter, unknown command).
# Usage: check-doc.sh DOXYGEN DOXYFILE | --skip
if [ "$1" = --skip ]; then
	echo "doxygen not found; run devtools/setup.sh"
	exit 77
fi
log=$(mktemp) || exit 1
trap 'rm -f "$log"' EXIT
"$1" "$2" 2>"$log" >/dev/null
rc=$?
n=$(grep -c . "$log")
cat "$log" >&2
echo "doxygen exit $rc, $n line(s) of warnings"
[ "$rc" -eq 0 ] && [ "$n" -eq 0 ]
