#!/usr/bin/env bash
# Measures factuurfs against what FUSE itself allows on this machine: the same
# warm workloads on tmpfs, on the two reference FUSE programs of shared/tools
# (ideal_fs: high-level API; ideal_ll: low-level, no-open) and on factuurfs,
# side by side in one run.  Prints medians and ratios to tmpfs.
#   scripts/bench.sh [NFILES] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh

shared=${FACTUURFS_SHARED:-$(cd .. && pwd)/shared}
[ -f "$shared/tools/ideal_ll.c" ] || { echo "bench: $shared/tools not found (set FACTUURFS_SHARED)" >&2; exit 1; }
mkdir -p build/bench
for t in ideal_fs ideal_ll; do
	cc -O2 -Wall -o "build/bench/$t" "$shared/tools/$t.c" $(pkg-config --cflags --libs fuse3)
done
exec /usr/bin/python3 scripts/bench.py "${1:-10000}" "${2:-7}"
