#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Checks the layout rules of every source file git knows about (tracked, or
# new and not ignored), without clang-format: the same answer on every
# machine and every compiler version, in well under a second.
#
#   every text file    no trailing whitespace, no CR (CRLF line ends), a
#                      final newline
#   C (.c, .h)         first line "/* SPDX-License-Identifier: ... */";
#                      indentation is tabs, then at most 7 spaces of
#                      alignment (no run of 8 spaces, no space before a
#                      tab); at most 100 columns with tabs of 8, unless the
#                      line holds a string literal (log formats are not
#                      split, so they can be grepped)
#   shell, awk, Python SPDX line first, or second after a "#!" line
#   meson              SPDX line first; indentation is spaces, no tabs
#
# 80 columns is the target (.editorconfig, .clang-format): 99% of the C
# lines fit, and the rest are mostly log calls. 100 is where this check
# fails, as in DPDK's checkpatch.
#
# Prints one "path:line: problem" per violation and exits 1 if there was
# any, 0 otherwise. Usage: devtools/check-format.sh [FILE...]
# (default: every file of the repository).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

MAX_COLUMNS=100

# list_files: the repository's files (devtools/repo-files.sh)
. devtools/repo-files.sh

if [ $# -gt 0 ]; then
	files=("$@")
else
	mapfile -t files < <(list_files)
fi

# Sort into the kinds checked below. Fuzzer inputs are binary; other
# files of no known kind get the whitespace checks only if they are text.
text=() c=() script=() meson=()
for f in "${files[@]}"; do
	[ -f "$f" ] || continue     # deleted in the work tree
	case "$f" in
	app/test/fuzz/corpus/*|app/test/fuzz/regressions/*/*) continue ;;
	*.c|*.h) c+=("$f") ;;
	*.sh|*.awk|*.py|.ci/run) script+=("$f") ;;
	meson.build|*/meson.build|meson_options.txt) meson+=("$f") ;;
	*.md|*.map|*.txt|.gitignore|.clang-format|.editorconfig|LICENSE) ;;
	*) grep -qI '' "$f" 2>/dev/null || continue ;;   # skip binary files
	esac
	text+=("$f")
done

bad=0
report() {
	echo "$1"
	bad=1
}

# Final newline: awk cannot see it, tail can.
for f in "${text[@]}"; do
	if [ -s "$f" ] && [ -n "$(tail -c 1 "$f")" ]; then
		report "$f:$(( $(wc -l < "$f") + 1 )): no newline at the end of the file"
	fi
done

# Everything else in one awk pass. The kind of each file is passed as a
# list of "kind<TAB>path" lines read first (FILENAME is the list).
kinds=$(mktemp)
trap 'rm -f "$kinds"' EXIT
{
	for f in "${c[@]}"; do printf 'c\t%s\n' "$f"; done
	for f in "${script[@]}"; do printf 'script\t%s\n' "$f"; done
	for f in "${meson[@]}"; do printf 'meson\t%s\n' "$f"; done
} > "$kinds"

if [ ${#text[@]} -gt 0 ]; then
	# Plain POSIX awk (Debian's default is mawk: no {n} intervals).
	LC_ALL=C awk -F '\t' -v kinds="$kinds" -v maxcol="$MAX_COLUMNS" '
	# Width of a line with tabs every 8 columns (bytes, not characters:
	# a UTF-8 "§" counts 2; close enough for a 100-column limit).
	function width(s,    i, n, ch) {
		n = 0
		for (i = 1; i <= length(s); i++) {
			ch = substr(s, i, 1)
			if (ch == "\t")
				n += 8 - n % 8
			else
				n++
		}
		return n
	}
	function bad(msg) {
		printf "%s:%d: %s\n", FILENAME, FNR, msg
		nbad++
	}
	BEGIN {
		spdx_c = "^/\\* SPDX-License-Identifier: [^ ]+ \\*/$"
		spdx_hash = "^# SPDX-License-Identifier: [^ ]+$"
	}
	FILENAME == kinds { kind[$2] = $1; next }
	FNR == 1 {
		k = kind[FILENAME]
		shebang = 0
	}
	{
		line = $0
		if (line ~ /\r$/) {
			bad("CR at the end of the line (CRLF)")
			sub(/\r$/, "", line)
		}
		if (line ~ /[ \t]$/)
			bad("trailing whitespace")
	}
	# SPDX: first line, or second after a shebang
	k != "" && (FNR == 1 || (FNR == 2 && shebang)) {
		if (FNR == 1 && k == "script" && line ~ /^#!/) {
			shebang = 1
		} else if (!(k == "c" && line ~ spdx_c) &&
			   !(k != "c" && line ~ spdx_hash)) {
			bad("the first line must be the SPDX-License-Identifier line")
		}
	}
	k == "c" {
		if (line ~ /^\t*        /)
			bad("indented with spaces (tabs, then at most 7 spaces)")
		else if (line ~ /^\t* +\t/)
			bad("space before a tab in the indentation")
		if (length(line) > maxcol / 8 && index(line, "\"") == 0 &&
		    (w = width(line)) > maxcol)
			bad("line of " w " columns (at most " maxcol \
			    " unless it holds a string literal)")
	}
	k == "meson" && line ~ /^ *\t/ {
		bad("tab in the indentation (meson files use spaces)")
	}
	END { exit nbad > 0 }
	' "$kinds" "${text[@]}" || bad=1
fi

# An empty file has no first line for the SPDX check above.
for f in "${c[@]}" "${script[@]}" "${meson[@]}"; do
	if [ ! -s "$f" ]; then
		report "$f:1: empty file (no SPDX-License-Identifier line)"
	fi
done

if [ "$bad" -ne 0 ]; then
	echo "check-format: FAILED (rules: devtools/check-format.sh, CONTRIBUTING.md)" >&2
	exit 1
fi
echo "check-format: ${#text[@]} files OK"
