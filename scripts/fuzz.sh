#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz/ (names, parse, schema, jsontext, listing, journal)
# for a while each.
#   scripts/fuzz.sh [--seconds N] [TARGET...]     N: per target, default $FUZZ_SECONDS or 60
# Installs what is missing (clang, its libFuzzer runtime, the build's packages), builds
# build-fuzz/ with clang, ASan, UBSan and -Dfuzz=true, and runs each target on a scratch
# copy of its seed corpus and regressions.  An input that crashes, leaks, hangs or breaks
# an invariant is copied to tests/fuzz/regressions/<target>/ (every `meson test` replays
# it from then on) and the script exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
targets=()
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
	--seconds=*) seconds=${1#*=}; shift ;;
	-h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	names | parse | schema | jsontext | listing | journal) targets+=("$1"); shift ;;
	*) echo "fuzz.sh: unknown argument '$1' (targets: names parse schema jsontext listing journal)" >&2; exit 2 ;;
	esac
done
[ ${#targets[@]} -gt 0 ] || targets=(names parse schema jsontext listing journal)
case $seconds in '' | *[!0-9]*) echo "fuzz.sh: --seconds wants a whole number" >&2; exit 2 ;; esac

# Longest input per target: records and texts fit in a few KiB, names in a few hundred bytes,
# a listing file of a few records in 8 KiB.
declare -A max_len=([names]=256 [parse]=4096 [schema]=4096 [jsontext]=4096 [listing]=8192
	[journal]=4096)
declare -A dict=([names]=tests/fuzz/names.dict [parse]=tests/fuzz/json.dict
	[schema]=tests/fuzz/json.dict [jsontext]=tests/fuzz/json.dict [listing]=tests/fuzz/json.dict
	[journal]=tests/fuzz/journal.dict)

# What the build needs, then clang and its libFuzzer runtime (scripts/deps.sh decides).
bash scripts/deps.sh --fuzz

# A build-fuzz/ that some other compiler configured cannot become a clang build.
if [ -f build-fuzz/meson-info/intro-compilers.json ] &&
	! grep -q '"id": "clang"' build-fuzz/meson-info/intro-compilers.json; then
	rm -rf build-fuzz
fi
if [ ! -f build-fuzz/build.ninja ]; then
	CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false >/dev/null
fi
meson configure build-fuzz -Dfuzz=true
meson compile -C build-fuzz "${targets[@]/#/fuzz_}" >/dev/null

scratch=$(mktemp -d "${TMPDIR:-/tmp}/factuurfs-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
# UBSan findings are crashes here, not log lines.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

failed=0
summary=()
for t in "${targets[@]}"; do
	dir=$scratch/$t
	mkdir -p "$dir/corpus" "$dir/artifacts"
	cp tests/fuzz/corpus/"$t"/* "$dir/corpus/"
	find tests/fuzz/regressions/"$t" -maxdepth 1 -type f ! -name '.*' \
		-exec cp {} "$dir/corpus/" \;
	echo "== fuzz_$t: ${seconds}s, -max_len=${max_len[$t]}" >&2
	rc=0
	build-fuzz/tests/fuzz/fuzz_"$t" "$dir/corpus" -max_total_time="$seconds" \
		-max_len="${max_len[$t]}" -dict="${dict[$t]}" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
		>"$dir/log" 2>&1 || rc=$?
	# "#123 DONE cov: 456 ft: 789 corp: ..." (or the last status line before a crash).
	status=$(grep -E '^#[0-9]+' "$dir/log" | tail -n 1 || true)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log")
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
	corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$status")
	result=ok
	for a in "$dir"/artifacts/*; do
		[ -f "$a" ] || continue
		mkdir -p tests/fuzz/regressions/"$t"
		cp "$a" tests/fuzz/regressions/"$t"/
		echo "fuzz_$t: saved tests/fuzz/regressions/$t/$(basename "$a")" >&2
		result=FAILED
	done
	if [ "$rc" -ne 0 ]; then
		result=FAILED
		# The report: the invariant or sanitizer message and the stack.
		grep -E -A 20 'invariant broken|ERROR: (Address|Leak)Sanitizer|runtime error|ERROR: libFuzzer' \
			"$dir/log" | head -n 40 >&2 || tail -n 40 "$dir/log" >&2
	fi
	[ "$result" = ok ] || failed=1
	summary+=("$(printf '%-8s %12s %10s %8s %8s %8s  %s' "$t" "${runs:-?}" "${rate:-?}" \
		"${cov:-?}" "${ft:-?}" "${corp:-?}" "$result")")
done

printf '%-8s %12s %10s %8s %8s %8s  %s\n' target executions exec/s cov ft corpus result
printf '%s\n' "${summary[@]}"
exit "$failed"
