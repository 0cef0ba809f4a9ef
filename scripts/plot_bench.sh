#!/usr/bin/env bash
# Turns the CSV of `ipckit_bench --csv FILE` into PNG plots, log scale, one line per mechanism:
#   OUTDIR/bench_rtt.png          median round-trip time (pingpong) by message size
#   OUTDIR/bench_throughput.png   one-way throughput (stream) by message size: messages/s, MB/s
# with every row of the CSV's table: the ipckit rows (loans, node and mailbox included) thick, the reference ring
# and the one-copy bound (memcpy in one process) dashed, the peers thin.
#
# usage: scripts/plot_bench.sh FILE.csv [OUTDIR]      (OUTDIR: the CSV's directory by default)
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 || $1 == -h || $1 == --help ]]; then
  sed -n '2,8s/^# \{0,1\}//p' "$0"
  exit 2
fi
if ! command -v gnuplot >/dev/null 2>&1; then
  echo "plot_bench.sh: gnuplot is not installed: apt-get install gnuplot-nox" >&2
  exit 1
fi
csv=$1
out=${2:-$(dirname "$csv")}
if [[ "$(head -n 1 "$csv")" != "mechanism,pattern,size,metric,value" ]]; then
  echo "plot_bench.sh: $csv is not a CSV of ipckit_bench --csv (header mechanism,pattern,size,metric,value)" >&2
  exit 1
fi
mkdir -p "$out"
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT

# One file of "size value" lines per pattern, metric and mechanism, and the mechanisms of each
# pattern and metric in the order of the CSV (the order of the benchmark's table).
awk -F, -v dir="$data" '
  NR > 1 && $1 !~ /^ratio:/ {
    key = $2 "." $4
    print $3, $5 > (dir "/" key "." $1 ".dat")
    if (!((key, $1) in seen)) { seen[key, $1] = 1; print $1 > (dir "/" key ".list") }
  }' "$csv"

gnuplot <<EOF
dir = "$data"
set terminal pngcairo size 1100,700 font "sans,11" noenhanced
set logscale xy
set xrange [5:100000]
set xtics ("8 B" 8, "64 B" 64, "1 KiB" 1024, "64 KiB" 65536)
set grid xtics ytics mytics lc rgb "#dddddd"
set key outside right top
set xlabel "message size"
# The reference ring and the one-copy bound dashed, ipckit's queues thick, the peers thin.
style(m) = (m eq "reference-ring" || m eq "one-copy") ? 1 : (strstrt(m, "ipckit") == 1) ? 2 : 3
width(m) = style(m) == 2 ? 3 : style(m) == 1 ? 2.5 : 1.5
dash(m) = style(m) == 1 ? 2 : 1
list(key) = system("cat " . dir . "/" . key . ".list 2>/dev/null")
file(key, m) = dir . "/" . key . "." . m . ".dat"
# As many distinct colours as mechanisms (the table has 19: the node and mailbox rows too);
# point shapes vary too.
colours = "#000000 #d62728 #ff7f0e #e377c2 #1f77b4 #2ca02c #9467bd #8c564b #17becf #7f7f7f #bcbd22 #393b79 #ad494a #637939 #843c39 #5254a3 #e7969c #6b6ecf #b5cf6b #de9ed6"
do for [i = 1:words(colours)] { set linetype i lc rgb word(colours, i) pt (i % 13) + 1 }
set linetype cycle words(colours)

set output "$out/bench_rtt.png"
set title "Round trip between two processes (pingpong), median"
set ylabel "round-trip time (microseconds)"
set format y "%g"
ms = list("pingpong.rtt_median_ns")
plot for [i = 1:words(ms)] file("pingpong.rtt_median_ns", word(ms, i)) using 1:(\$2 / 1000) \
     with linespoints lt i lw width(word(ms, i)) dt dash(word(ms, i)) ps 0.9 title word(ms, i)

set output "$out/bench_throughput.png"
set terminal pngcairo size 1600,700 font "sans,11" noenhanced
set multiplot layout 1,2 title "One-way throughput between two processes (stream)"
unset key
set title "messages per second"
set ylabel "messages/s"
set format y "%.0s%c"
ms = list("stream.msgs_per_s")
plot for [i = 1:words(ms)] file("stream.msgs_per_s", word(ms, i)) using 1:2 \
     with linespoints lt i lw width(word(ms, i)) dt dash(word(ms, i)) ps 0.9 title word(ms, i)
set title "bytes per second"
set ylabel "MB/s (10^6 B)"
set format y "%g"
set key outside right top
ms = list("stream.mb_per_s")
plot for [i = 1:words(ms)] file("stream.mb_per_s", word(ms, i)) using 1:2 \
     with linespoints lt i lw width(word(ms, i)) dt dash(word(ms, i)) ps 0.9 title word(ms, i)
unset multiplot
EOF
echo "plot_bench.sh: wrote $out/bench_rtt.png and $out/bench_throughput.png"
