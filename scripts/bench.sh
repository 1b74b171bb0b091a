#!/usr/bin/env bash
# Measures what a user gets from factuurfs -- its default options against the API over
# HTTPS (the bundled fake with a self-signed certificate, `-o cafile=`) -- against what
# FUSE itself allows on this machine, what its peers do and what the API costs, side by
# side in one run, and prints one table with the targets beside the figures (see README
# "Performance"):
#   - the archive completed by `factuurfs fetch` on a fresh mount;
#   - warm `cat` of invoices/*.json, read-write (the defaults) and -o ro, against the
#     floors of tools/fusefloor.c on as many files: `fusefloor N flush mt` for
#     read-write, `fusefloor N` for -o ro, `fusefloor N open` beside them (the floor if
#     factuurfs sees opens: a -d probe mount says whether it does), and against the
#     peers `rclone mount` and `sshfs` serving the same names from tmpfs;
#   - warm `ls -l invoices/` with the archive complete against the peers and tmpfs
#     holding the same 20,000 names, and with it not begun against `fusefloor N pdfs`
#     (the same GETATTRs answered from memory);
#   - the first `ls -l invoices/` of a fresh mount against curl fetching the same pages;
#   - `ls -l` every 0.5 s for 30 s with ttl=2 (listings refreshing): p99 against the warm
#     median, and the listings made;
#   - TLS handshakes, full and resumed, of the PDF runs and of a run of writes
#     (new clients: POSTs on fresh connections; edits: PUTs);
#   - a cold browse of every collection: API calls against the minimum;
#   - PDFs with 50 ms API latency: one by one, 8 in parallel, after a remount, and a
#     plain sequential curl loop over the API;
#   - the daemon's peak RSS against the listing's size on the wire;
#   - how cold time and memory grow with 1,000 / 10,000 / 50,000 invoices, written to
#     docs/bench/scaling.dat and plotted into docs/bench/scaling.png.
# Rows that count calls run with -o prefetch=0 (the archive kept, nothing fetched in the
# background), so that only their own calls are counted.
#
#   scripts/bench.sh [--quick] [NFILES] [RUNS]
#     NFILES  invoices (and floor files) for the warm rows       (default 10000; --quick 2000)
#     RUNS    runs per median                                    (default 5; --quick 3)
#   --quick: smaller everything (50 PDFs, a 10 s refresh run, scaling 500/2000/5000, one
#   run each); its scaling data and plot go to build/bench/, not docs/bench/.
# Takes about 8 minutes on a 2-core machine (--quick: about 2).  Needs root (tmpfs, sshd).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=()
args=()
for a in "$@"; do
	case $a in
	--quick) quick=(--quick) ;;
	-h | --help) sed -n '2,35p' "$0"; exit 0 ;;
	*) args+=("$a") ;;
	esac
done

bash scripts/deps.sh --bench  # the build, gnuplot for the plot, curl, rclone and sshfs
bash scripts/build.sh         # factuurfs, and the FUSE floor (tools/fusefloor.c)
mkdir -p build/bench
cp build/fusefloor build/bench/fusefloor
# Measure a private copy of the binary, so that a rebuild during the run does not
# change what is measured halfway through.
cp "${FACTUURFS_BIN:-build/factuurfs}" build/bench/factuurfs
export FACTUURFS_BIN=$PWD/build/bench/factuurfs
exec /usr/bin/python3 scripts/bench.py ${quick[@]+"${quick[@]}"} ${args[@]+"${args[@]}"}
