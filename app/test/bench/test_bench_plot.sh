#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# devtools/bench-plot.sh draws what bench.sh prints: both of its table
# shapes (backend-bound, 12 columns; closed loop, 8) go in, and the SVG
# must hold every measured configuration's label and each bar's value (vhu's
# series drawn first), a configuration met in two placements twice, and no
# row that was not measured; a table without figures is refused.
#
# Usage: test_bench_plot.sh REPO WORKDIR     Exit: 0 pass, 1 fail, 77 skip
set -uo pipefail
REPO=${1:?usage: test_bench_plot.sh REPO WORKDIR}
WORK=${2:?usage: test_bench_plot.sh REPO WORKDIR}
command -v gnuplot >/dev/null || { echo "SKIP: no gnuplot (devtools/setup.sh installs gnuplot-nox)"; exit 77; }
mkdir -p "$WORK"
plot=$REPO/devtools/bench-plot.sh
failed=0
fail() { echo "FAIL: $*"; failed=1; }

cat > "$WORK/pump.md" <<'T'
| configuration | placement | vhu Mpps | net_vhost Mpps | vhu/net_vhost | vhu cycles/pkt | net_vhost cycles/pkt | cycles vhu/net_vhost | pump cycles/frame vhu/net_vhost | limit vhu/net_vhost | vhu/copy bound | runs vhu/net_vhost |
|---|---|---|---|---|---|---|---|---|---|---|---|
| split in_order=1 mrg=0 64B | near | 12.345 | 10.111 | 1.22x | 187.5 | 253.25 | 0.74x | 60.1 / 52.3 | backend / backend | - | 3/3 |
| packed in_order=0 mrg=1 1518B | near | 2.468 | 1.579 | 1.56x | 845.5 | 1228.75 | 0.69x | 63.0 / 58.6 | backend / backend | 15% | 3/3 |
| packed in_order=0 mrg=1 1518B | far | 1.357 | 0.864 | 1.57x | 901.5 | 1300.5 | 0.69x | 63.0 / 58.6 | backend / backend | 8% | 3/3 |
| split in_order=0 mrg=0 64B | - | - | - | no comparable runs (vhu failed 6) | - | - | - | - | - | - | - |
T
if ! "$plot" "fixture" "$WORK/pump.svg" < "$WORK/pump.md"; then
	fail "bench-plot.sh refused the backend-bound table"
else
	svg=$WORK/pump.svg
	for want in "split in_order=1 mrg=0 64B" \
		    "packed in_order=0 mrg=1 1518B (near)" \
		    "packed in_order=0 mrg=1 1518B (far)" \
		    ">12.3<" ">10.1<" ">2.5<" ">1.6<" ">188<" ">253<" ">846<" ">1229<"; do
		grep -qF -- "$want" "$svg" || fail "pump chart lacks '$want'"
	done
	grep -qF "split in_order=0 mrg=0 64B" "$svg" &&
		fail "pump chart shows a row that was not measured"
	# vhu's bars and labels are drawn before net_vhost's: a swapped
	# column would put these pairs the other way round
	at() { grep -obF -- "$1" "$svg" | head -1 | cut -d: -f1; }
	for pair in ">12.3< >10.1<" ">188< >253<" ">2.5< >1.6<"; do
		read -r a b <<< "$pair"
		[ -n "$(at "$a")" ] && [ -n "$(at "$b")" ] &&
			[ "$(at "$a")" -lt "$(at "$b")" ] ||
			fail "pump chart: $a (vhu) not drawn before $b (net_vhost)"
	done
fi

cat > "$WORK/loop.md" <<'T'
| configuration | placement | vhu Mpps | net_vhost Mpps | vhu/net_vhost | vhu cycles/pkt | net_vhost cycles/pkt | runs vhu/net_vhost |
|---|---|---|---|---|---|---|---|
| split in_order=1 2qp mrg=1 64B | far | 3.21 | 2.91 | 1.10x | 101.2 | 160.7 | 3/3 |
T
if ! "$plot" "fixture" "$WORK/loop.png" < "$WORK/loop.md"; then
	fail "bench-plot.sh refused the closed-loop table"
else
	[ "$(head -c 4 "$WORK/loop.png" | tail -c 3)" = PNG ] || fail "loop.png is not a PNG"
fi

if head -2 "$WORK/pump.md" | "$plot" "fixture" "$WORK/empty.svg" 2>/dev/null; then
	fail "a table without figures was drawn"
fi
[ "$failed" = 0 ] && echo PASS
exit "$failed"
