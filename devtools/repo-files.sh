# SPDX-License-Identifier: BSD-3-Clause
# Sourced by the source checks (check-format.sh, check-layering.sh):
# list_files prints the repository's files, one a line, sorted: tracked or
# new and not ignored; without git (a release tarball), every file but
# build output and the fetched SDK headers.
list_files() {
	if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
		git ls-files --cached --others --exclude-standard
	else
		find . -path ./.git -prune -o -path './build*' -prune \
			-o -path ./.sdk -prune -o -type f -print | sed 's|^\./||'
	fi | LC_ALL=C sort -u
}
