#!/usr/bin/env bash
# Installs the Debian packages factuurfs needs and that are missing.
#   scripts/deps.sh          what building and the demo need
#   scripts/deps.sh --test   also what the test suite drives (editors, pdfinfo, valgrind,
#                            archivers, a private session bus and a notification listener)
#   scripts/deps.sh --bench  also what scripts/bench.sh drives (gnuplot, curl)
#   scripts/deps.sh --fuzz   also clang and its libFuzzer runtime (scripts/fuzz.sh)
#   scripts/deps.sh --analyze also the static analysers (scripts/analyze.sh)
#   scripts/deps.sh --desktop also Xvfb and three file managers (tests/desktop/)
#   scripts/deps.sh --deb    also what building the Debian package and scripts/debtest.sh
#                            need (debhelper, lintian, debootstrap for --chroot)
set -euo pipefail

build_pkgs=(gcc meson ninja-build pkg-config libfuse3-dev fuse3 libcurl4-openssl-dev
	libcjson-dev libinih-dev uthash-dev zlib1g-dev libssl-dev libsystemd-dev libxlsxwriter-dev scdoc
	python3 ca-certificates bash-completion)
test_pkgs=(python3-pytest python3-pytest-xdist poppler-utils valgrind vim nano tmux libglib2.0-bin emacs-nox openssl
	rsync zip unzip cpio psmisc strace stress-ng
	libarchive-tools pax rdiff-backup rclone
	mount util-linux systemd man-db attr dbus-daemon python3-dbus python3-gi python3-openpyxl)

want=("${build_pkgs[@]}")
# rclone and sshfs (to an sshd of the bench's own on localhost) are the peers it is
# measured against.
bench_pkgs=(gnuplot-nox curl rclone sshfs openssh-server openssh-client)
# libclang-rt-dev pulls in the compiler-rt (libFuzzer) of Debian's default clang.
fuzz_pkgs=(clang libclang-rt-dev)
# clang-tidy and cppcheck; scan-build is in clang-tools and runs clang's analyzer.
analyze_pkgs=(clang clang-tidy clang-tools cppcheck)
# Thunar thumbnails through tumbler (its poppler plugin is in tumbler itself);
# PCManFM and Nautilus through evince's evince-thumbnailer (Nautilus inside bwrap).
# import/identify (imagemagick) take and check the screenshot; gio is libglib2.0-bin.
desktop_pkgs=(xvfb xauth imagemagick xdotool x11-utils dbus dbus-x11 thunar tumbler pcmanfm
	nautilus evince bubblewrap libglib2.0-bin python3-pytest)
[ "${1:-}" = "--test" ] && want+=("${test_pkgs[@]}")
[ "${1:-}" = "--bench" ] && want+=("${bench_pkgs[@]}")
[ "${1:-}" = "--fuzz" ] && want+=("${fuzz_pkgs[@]}")
[ "${1:-}" = "--analyze" ] && want+=("${analyze_pkgs[@]}")
[ "${1:-}" = "--desktop" ] && want+=("${desktop_pkgs[@]}")
# dpkg-buildpackage (dpkg-dev), dh (debhelper), lintian; rsync copies the tree to build
# in; debootstrap makes the root of `scripts/debtest.sh --chroot`; the checks in the
# other root (this machine's) use man-db and systemd's systemd-analyze.
deb_pkgs=(dpkg-dev debhelper lintian rsync debootstrap man-db systemd)
[ "${1:-}" = "--deb" ] && want+=("${deb_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "factuurfs: missing Debian packages: ${missing[*]}" >&2
	echo "factuurfs: run as root, or: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi
echo "factuurfs: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
