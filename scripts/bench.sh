#!/usr/bin/env bash
# Measures factuurfs against what FUSE itself allows on this machine, and against the
# API it stands for, side by side in one run, and prints one table of ratios with the
# targets beside them (see README "Performance"):
#   - warm `ls -l` / `cat` on tmpfs, on the two reference FUSE programs of shared/tools
#     (ideal_fs: high-level API; ideal_ll: low-level, no-open) and on factuurfs'
#     invoices/ (read-write and -o ro);
#   - a cold browse of every collection: API calls against the minimum;
#   - PDFs with 50 ms API latency: one by one, 8 in parallel, after a remount, and a
#     plain sequential curl loop over the API;
#   - the daemon's peak RSS against the listing's size on the wire;
#   - how cold time and memory grow with 1,000 / 10,000 / 50,000 invoices, written to
#     docs/bench/scaling.dat and plotted into docs/bench/scaling.png.
#
#   scripts/bench.sh [--quick] [NFILES] [RUNS]
#     NFILES  invoices (and reference files) for the warm rows   (default 10000; --quick 2000)
#     RUNS    runs per median                                    (default 5; --quick 3)
#   --quick: smaller everything (50 PDFs, scaling 500/2000/5000, one run each); its
#   scaling data and plot go to build/bench/, not docs/bench/.
# Takes about 5 minutes on a 2-core machine (--quick: about one).  Needs root (tmpfs).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=()
args=()
for a in "$@"; do
	case $a in
	--quick) quick=(--quick) ;;
	-h | --help) sed -n '2,20p' "$0"; exit 0 ;;
	*) args+=("$a") ;;
	esac
done

bash scripts/deps.sh --bench  # the build, plus gnuplot for the plot and curl for the script baseline
bash scripts/build.sh

shared=${FACTUURFS_SHARED:-$(cd .. && pwd)/shared}
[ -f "$shared/tools/ideal_ll.c" ] || { echo "bench: $shared/tools not found (set FACTUURFS_SHARED)" >&2; exit 1; }
mkdir -p build/bench
for t in ideal_fs ideal_ll; do
	cc -O2 -Wall -o "build/bench/$t" "$shared/tools/$t.c" $(pkg-config --cflags --libs fuse3)
done
# Measure a private copy of the binary, so that a rebuild during the run does not
# change what is measured halfway through.
cp "${FACTUURFS_BIN:-build/factuurfs}" build/bench/factuurfs
export FACTUURFS_BIN=$PWD/build/bench/factuurfs
exec /usr/bin/python3 scripts/bench.py ${quick[@]+"${quick[@]}"} ${args[@]+"${args[@]}"}
