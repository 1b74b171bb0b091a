#!/usr/bin/env bash
# Builds factuurfs into build/ (and, with --asan, an ASan+UBSan build into build-asan/).
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
if [ "${1:-}" = "--asan" ]; then
	setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
fi
