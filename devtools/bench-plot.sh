#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Draws a devtools/bench.sh table as bars: one group per configuration
# (and placement, when a configuration met both), vhu beside net_vhost.
# Top panel Mpps, bottom panel the backend's CPU cycles per packet (lower
# is better), each bar labelled with its value. gnuplot (Debian's
# gnuplot-nox, installed by devtools/setup.sh) writes an SVG, or a PNG
# when OUT ends in .png.
#
# Usage: devtools/bench-plot.sh TITLE OUT.svg|OUT.png < TABLE
#   TABLE is the markdown table bench.sh prints (header, separator, rows;
#   columns 1-7 as in both of its tables: configuration, placement, vhu
#   Mpps, net_vhost Mpps, ratio, vhu cycles/pkt, net_vhost cycles/pkt).
#   Rows without figures (not measured) are left out.
set -euo pipefail

title=${1:?usage: bench-plot.sh TITLE OUT.svg < TABLE}
out=${2:?usage: bench-plot.sh TITLE OUT.svg < TABLE}
command -v gnuplot >/dev/null || { echo "bench-plot.sh: gnuplot missing (apt-get install gnuplot-nox)" >&2; exit 1; }

data=$(mktemp)
trap 'rm -f "$data"' EXIT
# "label" vhu_mpps vhost_mpps vhu_cycles vhost_cycles; the label gets the
# placement only when a configuration has rows for both.
awk -F'|' '
	function trim(s) { gsub(/^ +| +$/, "", s); return s }
	/^\|/ && $2 !~ /configuration|---/ {
		name = trim($2); pl = trim($3)
		v = trim($4); h = trim($5); vc = trim($7); hc = trim($8)
		if (v !~ /^[0-9.]+$/ || h !~ /^[0-9.]+$/) next
		if (vc !~ /^[0-9.]+$/) vc = 0
		if (hc !~ /^[0-9.]+$/) hc = 0
		n++; names[n] = name; pls[n] = pl; seen[name]++
		row[n] = v " " h " " vc " " hc
	}
	END {
		for (i = 1; i <= n; i++) {
			l = names[i]
			if (seen[l] > 1) l = l " (" pls[i] ")"
			printf "\"%s\" %s\n", l, row[i]
		}
	}' > "$data"
rows=$(wc -l < "$data")
[ "$rows" -gt 0 ] || { echo "bench-plot.sh: no rows with figures in the table" >&2; exit 1; }
width=$((300 + rows * 70))
term="svg size $width,900 dynamic enhanced font \"sans,11\" background rgb \"white\""
[[ $out == *.png ]] && term="pngcairo size $width,900 enhanced font \"sans,10\" background rgb \"white\""

gnuplot <<EOF
set terminal $term
set output "$out"
set multiplot layout 2,1 title "$title"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key outside top center horizontal
set xtics rotate by -35 left nomirror noenhanced
set yrange [0:*]
set rmargin 14
set offsets 0, 0, graph 0.08, 0
set title "throughput (Mpps, higher is better)"
set ylabel "Mpps"
plot "$data" using 2:xtic(1) title "vhu (net\\\\_vhu)" lc rgb "#1f77b4", \
     "" using 3 title "DPDK 22.11 net\\\\_vhost" lc rgb "#ff7f0e", \
     "" using (\$0 - 0.17):2:(sprintf("%.1f", \$2)) with labels offset 0,0.6 font ",8" notitle, \
     "" using (\$0 + 0.17):3:(sprintf("%.1f", \$3)) with labels offset 0,0.6 font ",8" notitle
set title "backend CPU cycles per packet (lower is better)"
set ylabel "cycles/packet"
plot "$data" using 4:xtic(1) title "vhu (net\\\\_vhu)" lc rgb "#1f77b4", \
     "" using 5 title "DPDK 22.11 net\\\\_vhost" lc rgb "#ff7f0e", \
     "" using (\$0 - 0.17):4:(sprintf("%.0f", \$4)) with labels offset 0,0.6 font ",8" notitle, \
     "" using (\$0 + 0.17):5:(sprintf("%.0f", \$5)) with labels offset 0,0.6 font ",8" notitle
unset multiplot
EOF
# gnuplot ends some SVG lines with a blank; the repository has none
[[ $out == *.svg ]] && sed -i 's/[[:space:]]*$//' "$out"
echo "bench-plot.sh: $rows configurations drawn into $out"
