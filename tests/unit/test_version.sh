#!/bin/sh
# test_version.sh FACTUURFS SRCDIR VERSION: the first line of `factuurfs --version` names
# VERSION, and the git commit exactly when SRCDIR is a git checkout of its own (a build
# from a release tarball has no commit to name).
set -eu
bin=$1 src=$2 version=$3
line=$("$bin" --version | head -n 1)
# What meson.build's vcs_tag runs; no commit without git, as there.
commit=
if [ -e "$src/.git" ]; then
	commit=$(git -C "$src" describe --always --dirty --abbrev=12 --exclude='*' 2>/dev/null) || commit=
fi
want="factuurfs $version${commit:+ (git $commit)}"
if [ "$line" != "$want" ]; then
	echo "factuurfs --version says '$line', expected '$want'" >&2
	exit 1
fi
