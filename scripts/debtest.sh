#!/usr/bin/env bash
# Builds the Debian package and installs, uses and purges it in a throwaway root, never
# on this machine itself.
#
#   scripts/debtest.sh [--chroot] [--deb FILE]
#
# The root is an overlay (upper layer in a tmpfs, in a mount namespace of its own made by
# unshare -m) on a lower root that is not written to:
#   default   this machine's /: cheap (no download), what CI runs; the package's
#             dependencies are already there, so apt pulls nothing
#   --chroot  a minimal Debian made by debootstrap and kept in /var/cache/factuurfs-debtest
#             (made once, about a minute): apt pulls fuse3 and the libraries from the
#             Debian archive this machine's apt uses
# In the root: `apt-get install ./factuurfs_*.deb`, then factuurfs --version, man
# factuurfs, an fstab line mounted through the installed helper against the bundled fake
# (tests/fakeapi/fakeapi.py, run outside the root), the user unit (systemd-analyze
# verify), bash completion (tests/complete.sh) and `apt-get purge`, after which the
# files outside home, /tmp and the logs and caches of apt and dpkg must be the ones
# there before the install.
#
# Without --deb it builds the package first (dpkg-buildpackage -us -uc -b in a copy of
# this tree, build dependencies from scripts/deps.sh --deb). Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

mode=host deb=
while [ $# -gt 0 ]; do
	case $1 in
	--chroot) mode=chroot; shift ;;
	--deb) deb=$(realpath "$2"); shift 2 ;;
	*) echo "debtest.sh: unknown argument $1 (--chroot, --deb FILE)" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "debtest.sh: needs root (unshare, chroot, mount)" >&2; exit 1; }

say() { printf '== debtest: %s\n' "$*"; }
t0=$(date +%s)
work=$(mktemp -d /tmp/factuurfs-debtest.XXXXXX)
fake_pid=
cleanup() {
	local rc=$?
	if [ -n "$fake_pid" ]; then
		kill "$fake_pid" 2>/dev/null || :
		wait "$fake_pid" 2>/dev/null || :
	fi
	# Nothing is mounted here: the root's mounts lived in the namespace, gone with it.
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT

# ---- the package ----------------------------------------------------------------------
if [ -z "$deb" ]; then
	bash scripts/deps.sh --deb
	say "dpkg-buildpackage -us -uc -b (in a copy of the tree)"
	mkdir "$work/pkg"
	# The tree as it is (uncommitted changes too), without build directories; .git comes
	# along, so --version names the commit as a build from a checkout does.
	rsync -a --exclude='/build*' --exclude='/obj-*' --exclude='/debian/.debhelper' \
		--exclude='/debian/factuurfs' ./ "$work/pkg/factuurfs/"
	(cd "$work/pkg/factuurfs" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1 || {
		tail -40 "$work/build.log" >&2
		exit 1
	}
	grep -E '^(Ok|Fail|Skipped): ' "$work/build.log" | sed 's/^/   meson test: /'
	deb=$(echo "$work"/pkg/factuurfs_*_*.deb)
	say "lintian"
	lrc=0
	out=$(lintian --fail-on error,warning --pedantic -I "$work"/pkg/factuurfs_*.changes 2>&1) || lrc=$?
	out=$(grep -v '^running with root privileges' <<<"$out" || :)
	echo "   ${out:-no tags (errors, warnings, info and pedantic)}"
	[ "$lrc" -eq 0 ] || { echo "debtest.sh: lintian reports errors or warnings" >&2; exit 1; }
	say "built $(basename "$deb") in $(($(date +%s) - t0)) s"
fi
[ -f "$deb" ] || { echo "debtest.sh: no package $deb" >&2; exit 1; }

# ---- the lower root --------------------------------------------------------------------
# The tools the checks use, beside what the package pulls: in the cached root from the
# start, so that they are there before and after alike.
tools=(man-db bash-completion systemd)
if [ "$mode" = chroot ]; then
	command -v debootstrap >/dev/null || bash scripts/deps.sh --deb
	# The suite and archive this machine's apt uses (the first "deb" source).
	suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
	mirror=$(apt-get indextargets --format '$(REPO_URI)' 'Created-By: Packages' 2>/dev/null |
		grep -v -- '-security' | head -n 1)
	[ -n "$mirror" ] || { echo "debtest.sh: no Debian archive in apt's sources" >&2; exit 1; }
	cache=/var/cache/factuurfs-debtest
	lower=$cache/$suite-minbase-$(echo "${tools[*]}" | tr ' ' '+')
	mkdir -p "$cache"
	# One run at a time makes the cached root.
	exec 9>"$cache/lock"
	flock 9
	if [ ! -x "$lower/usr/bin/apt-get" ]; then
		say "debootstrap --variant=minbase $suite into $lower (once)"
		rm -rf "$lower.new"
		debootstrap --variant=minbase "$suite" "$lower.new" "$mirror" >"$work/debootstrap.log" 2>&1 || {
			tail -20 "$work/debootstrap.log" >&2
			exit 1
		}
		cp /etc/resolv.conf "$lower.new/etc/resolv.conf"
		unshare -m --propagation private bash -c '
			mount -t proc proc "$1/proc" && mount --rbind /dev "$1/dev"
			chroot "$1" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $2 >/dev/null"
		' - "$lower.new" "${tools[*]}"
		mv "$lower.new" "$lower"
	fi
else
	lower=/
fi

# ---- the fake service, outside the root -------------------------------------------------
/usr/bin/python3 tests/fakeapi/fakeapi.py --port 0 --generate clients=5,invoices=3,products=3 \
	--log "$work/requests.log" >"$work/fake.out" 2>"$work/fake.err" &
fake_pid=$!
line=
for _ in $(seq 200); do
	line=$(grep -m 1 '^fakeapi listening on ' "$work/fake.out" || :)
	[ -n "$line" ] || ! kill -0 "$fake_pid" 2>/dev/null && break
	sleep 0.1
done
[ -n "$line" ] || { cat "$work/fake.err" >&2; echo "debtest.sh: the fake did not start" >&2; exit 1; }
url=${line##* }

# ---- in the root ------------------------------------------------------------------------
mkdir "$work/share"
cp "$deb" "$work/share/"
cp tests/complete.sh "$work/share/"

# The checks, run by bash in the root as root; $1 the fake's URL, $2 the mode.
cat >"$work/share/inside.sh" <<'INSIDE'
set -euo pipefail
url=$1 mode=$2
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin
say() { printf '== debtest (in the root): %s\n' "$*"; }
fail() { echo "debtest.sh: $*" >&2; exit 1; }
# Every file and link of the system's directories, but what apt and dpkg keep for
# themselves (logs, caches, lists, the database: that is checked by name below); the
# names in / too, not below them (homes, /tmp, and on this machine's root the work
# trees of whoever else uses it).
files() {
	{
		find / -mindepth 1 -maxdepth 1
		find /etc /usr /var /opt /srv /boot -xdev \( -path /var/log -o -path /var/cache \
			-o -path /var/lib/apt -o -path /var/lib/dpkg -o -path /var/tmp \) -prune \
			-o -print 2>/dev/null
	} | sort
}
[ "$mode" = host ] || apt-get update -qq
files >/tmp/before

say "apt-get install ./$(basename /share/factuurfs_*.deb)"
apt-get install -y --no-install-recommends /share/factuurfs_*.deb >/tmp/apt.log 2>&1 ||
	{ cat /tmp/apt.log >&2; fail "apt-get install failed"; }
pulled=$(sed -n '/^The following NEW packages will be installed:/,/^[^ ]/p' /tmp/apt.log |
	sed '1d;$d' | tr -s ' \n' ' ')
echo "   new packages:${pulled}"
dpkg-query -W -f='   installed: ${Package} ${Version}, Depends: ${Depends}\n' factuurfs

say "factuurfs --version"
version=$(factuurfs --version)
echo "$version" | sed 's/^/   /'
grep -Eq '^factuurfs [0-9.]+( \(git [0-9a-f]+(-dirty)?\))?$' <<<"${version%%$'\n'*}" ||
	fail "--version says ${version%%$'\n'*}"

say "man factuurfs, man mount.fuse.factuurfs"
# (Read whole: grep -q would stop man with SIGPIPE, a failure under pipefail.)
page=$(MANPAGER=cat MANWIDTH=200 man factuurfs 2>&1) || fail "man factuurfs: $page"
grep -q 'factuurfs - mount a factuursturen.nl account as files' <<<"$page" ||
	fail "man factuurfs shows no page: $page"
page=$(MANPAGER=cat MANWIDTH=200 man 8 mount.fuse.factuurfs 2>&1) || fail "man mount.fuse.factuurfs: $page"
grep -q 'mount.factuurfs, mount.fuse.factuurfs - mount a factuursturen.nl account' <<<"$page" ||
	fail "man mount.fuse.factuurfs shows no page: $page"
echo "   both render"

say "an fstab line through /sbin/mount.fuse.factuurfs"
[ -x /sbin/mount.fuse.factuurfs ] || fail "no /sbin/mount.fuse.factuurfs"
mnt=/tmp/factuur
mkdir -p "$mnt"
printf '[work]\nusername = demo\napikey = demo-apikey-0123456789\n' >/root/.factuursturen_rc
chmod 600 /root/.factuursturen_rc
echo "factuurfs#work $mnt fuse.factuurfs url=$url,noauto,user,_netdev,ro 0 0" >/tmp/fstab
env -u HOME XDG_CACHE_HOME=/tmp/cache mount --fstab /tmp/fstab "$mnt"
findmnt -n -o SOURCE,TARGET,FSTYPE "$mnt" | sed 's/^/   mounted: /'
clients=$(ls "$mnt/clients")
grep -qx 1.json <<<"$clients" || fail "no clients/1.json in the mount: $clients"
echo "   clients/:" $clients

say "bash completion"
# The status command's completion offers this mount.
got=$(bash /share/complete.sh "factuurfs status /tmp/fa")
[ "$got" = "factuurfs status $mnt" ] || fail "completion of status offers '$got'"
got=$(bash /share/complete.sh "factuurfs -o ro,la")
[ "$(echo "$got" | head -n 1)" = "factuurfs -o ro,lang=" ] || fail "completion of -o offers '$got'"
echo "   factuurfs status /tmp/fa<TAB> -> factuurfs status $mnt"
echo "   factuurfs -o ro,la<TAB>       -> factuurfs -o ro,lang="
status=$(factuurfs status "$mnt")
echo "${status%%$'\n'*}" | sed 's/^/   /'
umount "$mnt"
! findmnt "$mnt" >/dev/null || fail "still mounted after umount"

say "the user unit: systemd-analyze verify --user"
mkdir -p /tmp/units /tmp/xdg-run
chmod 700 /tmp/xdg-run
ln -s /usr/lib/systemd/user/factuurfs@.service /tmp/units/factuurfs@work.service
out=$(XDG_RUNTIME_DIR=/tmp/xdg-run systemd-analyze verify --user --man=yes /tmp/units/factuurfs@work.service 2>&1) ||
	fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify says: $out"
echo "   no finding"

# Then what the install pulled in, by name (autoremove would take more on a root that
# is this machine's).
say "apt-get purge${pulled% }"
apt-get purge -y $pulled >/tmp/apt.log 2>&1 || { cat /tmp/apt.log >&2; fail "purge failed"; }
files >/tmp/after
if ! diff -u /tmp/before /tmp/after >/tmp/diff; then
	cat /tmp/diff >&2
	fail "the purge left files behind or took some away"
fi
! dpkg-query -W factuurfs >/dev/null 2>&1 || fail "dpkg still knows factuurfs"
! ls /var/lib/dpkg/info/factuurfs.* >/dev/null 2>&1 || fail "dpkg keeps factuurfs' files"
echo "   $(wc -l </tmp/before) files before the install and after the purge, the same"
INSIDE

say "the root: an overlay on ${lower} ($mode)"
mkdir "$work/ov"
unshare -m --propagation private bash -euo pipefail -c '
	work=$1 lower=$2 url=$3 mode=$4
	mount -t tmpfs -o mode=0755 debtest "$work/ov"
	mkdir "$work/ov/upper" "$work/ov/work" "$work/ov/root"
	mount -t overlay overlay \
		-o "lowerdir=$lower,upperdir=$work/ov/upper,workdir=$work/ov/work" "$work/ov/root"
	r=$work/ov/root
	mount -t proc proc "$r/proc"
	mount --rbind /sys "$r/sys"
	mount --rbind /dev "$r/dev"
	mount -t tmpfs tmpfs "$r/tmp"
	mount -t tmpfs tmpfs "$r/run"
	mkdir -p "$r/share"
	mount --bind "$work/share" "$r/share"
	[ "$mode" = host ] || cp /etc/resolv.conf "$r/etc/resolv.conf"
	chroot "$r" /bin/bash /share/inside.sh "$url" "$mode"
' - "$work" "$lower" "$url" "$mode" || { echo "debtest.sh: FAILED in the root" >&2; exit 1; }
say "passed in $(($(date +%s) - t0)) s"
