# Plots the scaling data of scripts/bench.sh: cold `ls -l invoices/` + read every
# invoice .json on a fresh mount, time (left) and the daemon's peak RSS (right)
# against the number of invoices, each with a least-squares straight line a + b*N:
# points on the line mean linear growth.
#   gnuplot -e "dat='docs/bench/scaling.dat'; out='docs/bench/scaling.png'" docs/bench/scaling.gp
if (!exists("dat")) dat = "scaling.dat"
if (!exists("out")) out = "scaling.png"
set terminal pngcairo size 1100,460 font "DejaVu Sans,11"
set output out
set fit quiet nolog
set grid
set key top left box opaque
set xlabel "invoices"
set format x "%.0f"
set xtics rotate by -30
set offsets graph 0.02, graph 0.02, graph 0.05, 0
set yrange [0:*]
set xrange [0:*]
stats dat using 1 nooutput
set xrange [0:STATS_max * 1.05]

set multiplot layout 1,2 title "factuurfs, default options, API over HTTPS: cold ls -l invoices/ + read every invoice .json (scripts/bench.sh)"

ta = 0.1; tb = 1e-4
t(x) = ta + tb * x
fit t(x) dat using 1:2 via ta, tb
set ylabel "seconds"
set title "time"
plot dat using 1:2 with points pt 7 ps 1.5 lc rgb "#1f77b4" title "measured", \
     t(x) with lines dt 2 lc rgb "#1f77b4" title sprintf("fit %.2f s + %.0f µs × N", ta, tb * 1e6)

ma = 10; mb = 0.01
m(x) = ma + mb * x
fit m(x) dat using 1:3 via ma, mb
wa = 0.1; wb = 0.001
w(x) = wa + wb * x
fit w(x) dat using 1:4 via wa, wb
set ylabel "MiB"
set title "memory"
plot dat using 1:3 with points pt 7 ps 1.5 lc rgb "#d62728" title "peak RSS (VmHWM)", \
     m(x) with lines dt 2 lc rgb "#d62728" title sprintf("fit %.0f MiB + %.1f KiB × N", ma, mb * 1024), \
     dat using 1:4 with linespoints pt 5 lc rgb "#7f7f7f" title "listing on the wire"
unset multiplot
