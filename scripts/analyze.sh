#!/usr/bin/env bash
# Static analysis: clang-tidy over every src/**/*.c (configuration: .clang-tidy), cppcheck
# over src/ (suppressions: scripts/cppcheck-suppressions.txt), and clang's analyzer through
# scan-build over a fresh meson build of everything (build-scan/).  Any finding of any of
# the three fails the run.  scripts/test.sh runs it after the build.
# Installs what is missing first (scripts/deps.sh --analyze).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh --analyze
bash scripts/build.sh # build/compile_commands.json, clang-tidy's compile database
jobs=$(nproc)
mapfile -t files < <(find src -name '*.c' | sort)
t0=$SECONDS

echo "== clang-tidy $(clang-tidy --version | sed -n 's/.*LLVM version \([0-9.]*\).*/\1/p') over ${#files[@]} files of src/ (.clang-tidy)"
# One file per clang-tidy: given several, clang-tidy 14's analyzer reports every va_start
# after the first file's as an uninitialized va_list (clang-analyzer-valist.Uninitialized).
out=$(printf '%s\n' "${files[@]}" |
	xargs -P "$jobs" -n 1 clang-tidy -p build --quiet 2>&1) || {
	# "N warnings generated" counts what the config filters out too: only findings matter.
	grep -v 'warnings\? generated\.$' <<<"$out" >&2
	echo "analyze.sh: clang-tidy found the above (fix it, or NOLINT(check) on its line saying why)" >&2
	exit 1
}
echo "clang-tidy: no findings ($((SECONDS - t0)) s)"

t0=$SECONDS
echo "== $(cppcheck --version) over src/ (scripts/cppcheck-suppressions.txt)"
# cppcheck models libc and POSIX with its posix and gnu libraries instead of reading the
# system's headers, but uthash's and cJSON's macros (HASH_ITER, cJSON_ArrayForEach) must be
# seen for the code to parse: only those two headers are offered to it.
inc=$(mktemp -d)
trap 'rm -rf "$inc"' EXIT
mkdir "$inc/cjson"
ln -s /usr/include/uthash.h "$inc/uthash.h"
ln -s /usr/include/cjson/cJSON.h "$inc/cjson/cJSON.h"
# uthash_fatal is exit(-1), and uthash's own HASH_ADD expansion goes on after it (code for
# its non-fatal mode): cppcheck would call that unreachable at every HASH_ADD of ours.  It
# sees uthash_fatal as an ordinary call instead; our code's unreachable code stays checked.
cppcheck --std=c11 --library=posix,gnu --enable=warning,style,performance,portability \
	-I src -I "$inc" -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 '-DFACTUURFS_VERSION="0"' \
	'-Duthash_fatal(msg)=uthash_out_of_memory()' \
	--inline-suppr --suppressions-list=scripts/cppcheck-suppressions.txt \
	--error-exitcode=1 --quiet -j "$jobs" \
	--template='{file}:{line}: {severity}: {message} [{id}]' "${files[@]}" || {
	echo "analyze.sh: cppcheck found the above" >&2
	exit 1
}
echo "cppcheck: no findings ($((SECONDS - t0)) s)"

t0=$SECONDS
echo "== scan-build (clang $(clang -dumpversion)'s analyzer) over a fresh meson build (build-scan/)"
rm -rf build-scan
out=$(scan-build meson setup build-scan 2>&1) || { echo "$out" >&2; exit 1; }
rc=0
out=$(scan-build --status-bugs -o build-scan/report meson compile -C build-scan 2>&1) || rc=$?
if [ "$rc" -ne 0 ]; then
	grep -E 'warning:|error:|scan-build:' <<<"$out" >&2
	echo "analyze.sh: scan-build found the above (reports in build-scan/report)" >&2
	exit 1
fi
grep -E '^scan-build: (No bugs found|[0-9]+ bugs? found)' <<<"$out"
echo "scan-build: no findings ($((SECONDS - t0)) s)"
