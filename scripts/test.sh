#!/usr/bin/env bash
# Every test of factuurfs: static analysis (scripts/analyze.sh), unit tests, the fake
# API's own tests, and the integration suite on real FUSE mounts, once with the normal
# build and once with AddressSanitizer+UBSan, its concurrency-heavy tests under
# ThreadSanitizer, plus a valgrind mount/unmount cycle, and three real file managers
# under Xvfb (tests/desktop).
# Installs what is missing first (needs root for that and for mounting).
set -euo pipefail
cd "$(dirname "$0")/.."

# Each stage's wall time, printed at its end and as a table when the run ends (however
# it ends), so that a CI log shows where the minutes go.  stage "name" starts a stage
# and ends the one before it.
STAGE_NAMES=() STAGE_SECS=() STAGE_NAME="" STAGE_T0=0 RUN_T0=$SECONDS
stage_end() {
	[ -n "$STAGE_NAME" ] || return 0
	local secs=$((SECONDS - STAGE_T0))
	STAGE_NAMES+=("$STAGE_NAME") STAGE_SECS+=("$secs")
	printf -- '-- %s: %dm%02ds\n' "$STAGE_NAME" $((secs / 60)) $((secs % 60))
	STAGE_NAME=""
}
stage() {
	stage_end
	STAGE_NAME=$1 STAGE_T0=$SECONDS
	echo "== $1"
}
stage_summary() {
	local rc=$? i total=$((SECONDS - RUN_T0))
	[ "$rc" -eq 0 ] || STAGE_NAME="$STAGE_NAME (failed)"
	stage_end
	echo "== wall time by stage"
	for i in "${!STAGE_NAMES[@]}"; do
		printf '%6dm%02ds  %s\n' $((STAGE_SECS[i] / 60)) $((STAGE_SECS[i] % 60)) "${STAGE_NAMES[i]}"
	done
	printf '%6dm%02ds  %s\n' $((total / 60)) $((total % 60)) "total"
}
trap stage_summary EXIT

stage "dependencies (scripts/deps.sh --test)"
bash scripts/deps.sh --test
stage "the tests the docs cite exist (scripts/claims.py)"
/usr/bin/python3 scripts/claims.py --self-test
/usr/bin/python3 scripts/claims.py
# Xvfb and three file managers for tests/desktop (about 250 MB, a minute to install)
stage "desktop dependencies (scripts/deps.sh --desktop)"
bash scripts/deps.sh --desktop
[ -e /dev/fuse ] || { echo "test.sh: /dev/fuse is missing: FUSE is needed" >&2; exit 1; }

stage "build (normal, ASan+UBSan, ThreadSanitizer)"
bash scripts/build.sh --asan --tsan

stage "static analysis (clang-tidy, cppcheck, scan-build)"
bash scripts/analyze.sh

# Every pytest run: a skip (or xfail) not listed in tests/allowed-skips.txt fails it,
# and the number of skips is printed (tests/skipguard.py).
PY="/usr/bin/python3"
PYTEST=("$PY" -m pytest -q -p no:cacheprovider -p skipguard -rsx)
# The integration tests spend most of their time waiting on mounts and the fake, so three
# pytest workers (python3-pytest-xdist) share the two cores: the suite takes half the
# time, and every test also runs beside two others, which is load it must stand.
PAR=(-n 3)
export PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$PWD/tests"

# meson test passes a test that exits 77 as skipped: a skipped C test fails too.
meson_test() {
	local out rc=0
	out=$(meson test -C "$1" --print-errorlogs 2>&1) || rc=$?
	echo "$out"
	[ "$rc" -eq 0 ] || return "$rc"
	if grep -Eq '^Skipped: +[1-9]' <<<"$out"; then
		echo "test.sh: a C test in $1 was skipped" >&2
		return 1
	fi
}

stage "unit tests"
meson_test build
meson_test build-asan
meson_test build-tsan

stage "fake API and HTTP client tests"
FACTUURFS_TEST_API_BIN="$PWD/build/test_api" "${PYTEST[@]}" \
	tests/fakeapi tests/unit/test_api.py

stage "integration tests (normal build)"
FACTUURFS_BIN="$PWD/build/factuurfs" "${PYTEST[@]}" "${PAR[@]}" tests/integration

stage "integration tests (ASan+UBSan build)"
FACTUURFS_BIN="$PWD/build-asan/factuurfs" FACTUURFS_SANITIZED=1 \
	"${PYTEST[@]}" "${PAR[@]}" -m "not slow" tests/integration

# The load (30 s here), the faults, the concurrent writers and the refreshes behind
# their readers: a race report stops the daemon and fails the test (tests/harness.py
# sets TSAN_OPTIONS).  -k selects the concurrent tests of test_write.py and the refresh
# tests of test_economy.py; the other two modules match by their names.
stage "concurrency-heavy integration tests (ThreadSanitizer build)"
FACTUURFS_BIN="$PWD/build-tsan/factuurfs" FACTUURFS_SANITIZED=1 FACTUURFS_LOAD_SECONDS=30 \
	"${PYTEST[@]}" -k "test_load or test_faults or concurrent or behind or unchanged_page" \
	tests/integration/test_load.py tests/integration/test_faults.py \
	tests/integration/test_write.py tests/integration/test_economy.py

stage "valgrind mount/unmount cycle"
FACTUURFS_BIN="$PWD/build/factuurfs" "${PYTEST[@]}" \
	tests/valgrind_cycle.py

stage "file managers under Xvfb (Thunar, PCManFM, Nautilus on 500 invoices)"
FACTUURFS_BIN="$PWD/build/factuurfs" "${PYTEST[@]}" tests/desktop

# Built with dpkg-buildpackage, checked by lintian, installed, used and purged in an
# overlay of this machine's root in a mount namespace of its own (about a minute).
stage "the Debian package (scripts/debtest.sh)"
bash scripts/deps.sh --deb
bash scripts/debtest.sh
