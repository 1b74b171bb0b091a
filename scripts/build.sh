#!/usr/bin/env bash
# Builds factuurfs into build/; with --asan also an ASan+UBSan build into build-asan/, with
# --tsan a ThreadSanitizer build into build-tsan/ (TSan and ASan cannot share a build).
#   scripts/build.sh [--asan] [--tsan]
set -euo pipefail
cd "$(dirname "$0")/.."

setup() { # dir, extra meson options...
	local dir=$1; shift
	local out
	if [ ! -f "$dir/build.ninja" ]; then
		out=$(meson setup "$dir" "$@" 2>&1) || { echo "$out" >&2; exit 1; }
	fi
	out=$(meson compile -C "$dir" 2>&1) || { echo "$out" >&2; exit 1; }
}

setup build
for arg in "$@"; do
	case "$arg" in
	--asan) setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug ;;
	--tsan) setup build-tsan -Db_sanitize=thread -Db_lundef=false -Dbuildtype=debug ;;
	*) echo "build.sh: unknown option $arg (--asan, --tsan)" >&2; exit 2 ;;
	esac
done
