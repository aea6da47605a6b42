#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Checks that the index of memory-ordering edges in doc/guide/threading.md
# and the labels in the code agree.
#
# In the code (lib/, drivers/; *.c, *.h) an edge is labelled where it
# happens by a comment that starts with the label and a colon, e.g.
#     /* A3: pairs with the driver's barrier before its avail->idx store */
# A label is a letter of A (acquire), R (release), F (full fence),
# D (dirty-log fence), P (PMD publication) and a number. Not L: L2, L3
# and L4 are network layers in the offload code. The site belongs to
# the function whose body holds the comment, or to the function defined
# right after it when the comment sits above one (kernel style: the name
# starts a line, the body's braces are in column 0). Any other mention of a
# label ("pairs with R1") must name a label defined somewhere.
#
# In the doc, the rows between <!-- ordering-index:begin --> and
# <!-- ordering-index:end --> are | label | ... | where |, where the last
# column lists `file.c: function()` for every site, file by base name.
#
# Prints every discrepancy and exits 1 if there is one, 0 otherwise.
# Usage: devtools/check-ordering-index.sh [DOC] (default: the repository's)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DOC=${1:-$REPO/doc/guide/threading.md}
LABEL='[ADFPR][0-9]+'

cd "$REPO"
mapfile -t files < <(find lib drivers -name '*.[ch]' | sort)

# Base names must be unique, or the doc's `file.c: fn()` is ambiguous.
dups=$(printf '%s\n' "${files[@]##*/}" | sort | uniq -d)
if [[ -n $dups ]]; then
	echo "check-ordering-index: ambiguous base names: $dups" >&2
	exit 2
fi

# code sites: "label file function", and mentioned labels: "label"
code_sites=$(awk -v LABEL="$LABEL" '
	function flush() {
		for (i = 0; i < npend; i++) print pend[i], base, "-"
		npend = 0
	}
	FNR == 1 { flush(); base = FILENAME; sub(/.*\//, "", base)
		   infn = 0; cand = "" }
	match($0, "^[A-Za-z_][A-Za-z0-9_]*\\(") {
		cand = substr($0, 1, RLENGTH - 1)
	}
	/^\{/ { infn = 1; fn = cand
		for (i = 0; i < npend; i++) print pend[i], base, fn
		npend = 0 }
	/^\}/ { infn = 0 }
	match($0, "(/\\*|^[ \t]*\\*)[ \t]*" LABEL ":") {
		s = substr($0, RSTART, RLENGTH)
		match(s, LABEL); l = substr(s, RSTART, RLENGTH)
		if (infn) print l, base, fn
		else pend[npend++] = l
	}
	END { flush() }
' "${files[@]}" | sort -u)

mentions=$(grep -ohwE "$LABEL" "${files[@]}" | sort -u)

if [[ ! -f $DOC ]]; then
	echo "check-ordering-index: no $DOC" >&2
	exit 2
fi
doc_sites=$(awk -v LABEL="$LABEL" '
	/<!-- ordering-index:begin -->/ { on = 1; next }
	/<!-- ordering-index:end -->/ { on = 0 }
	on && /^\|/ {
		n = split($0, c, "|")
		l = c[2]; gsub(/[ *`]/, "", l)
		if (l !~ "^" LABEL "$") next
		w = c[n - 1]; found = 0
		while (match(w, "[A-Za-z0-9_.]+\\.[ch]: *[A-Za-z0-9_]+\\(\\)")) {
			s = substr(w, RSTART, RLENGTH); w = substr(w, RSTART + RLENGTH)
			split(s, p, ":"); f = p[2]; gsub(/[ ()]/, "", f)
			print l, p[1], f; found = 1
		}
		if (!found) print l, "?", "?"
	}
' "$DOC" | sort -u)

fail=0
if [[ -z $doc_sites ]]; then
	echo "no index rows between the ordering-index markers in $DOC"
	fail=1
fi
while read -r l f fn; do
	[[ -z $l ]] && continue
	echo "in the code, not in the index: $l in $f: $fn()"
	fail=1
done < <(comm -23 <(echo "$code_sites") <(echo "$doc_sites"))
while read -r l f fn; do
	[[ -z $l ]] && continue
	if [[ $f == "?" ]]; then
		echo "index row $l names no \`file: function()\`"
	else
		echo "in the index, not in the code: $l in $f: $fn()"
	fi
	fail=1
done < <(comm -13 <(echo "$code_sites") <(echo "$doc_sites"))
defined=$(awk '{ print $1 }' <<<"$code_sites" | sort -u)
while read -r l; do
	[[ -z $l ]] && continue
	echo "mentioned in the code but labelled nowhere: $l ($(grep -lwE "$l" "${files[@]}" | tr '\n' ' '))"
	fail=1
done < <(comm -13 <(echo "$defined") <(echo "$mentions"))

if ((fail)); then
	echo "check-ordering-index: the index in ${DOC#"$REPO"/} and the code disagree"
	exit 1
fi
echo "check-ordering-index: $(wc -l <<<"$code_sites") sites of $(wc -l <<<"$defined") labels, index and code agree"
