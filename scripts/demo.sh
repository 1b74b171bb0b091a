#!/usr/bin/env bash
# Mounts a demo factuursturen.nl account, served by the bundled fake API, at ./mnt.
#   scripts/demo.sh         install what is missing, build, start the fake, mount
#   scripts/demo.sh stop    unmount and stop the fake
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
mnt=$top/mnt
state=$top/build/demo
mounted() { grep -qs " $mnt " /proc/self/mounts; }

stop() {
	if mounted; then fusermount3 -u "$mnt" && echo "unmounted $mnt"; fi
	if [ -f "$state/fakeapi.pid" ]; then
		kill "$(cat "$state/fakeapi.pid")" 2>/dev/null && echo "stopped the fake API" || true
		rm -f "$state/fakeapi.pid"
	fi
}

if [ "${1:-}" = "stop" ]; then
	stop
	exit 0
fi

bash scripts/deps.sh
bash scripts/build.sh
mkdir -p "$state" "$mnt"
stop >/dev/null 2>&1 || true

# The fake API, in the background, on a free port of 127.0.0.1.
/usr/bin/python3 tests/fakeapi/fakeapi.py --port 0 --data tests/data/demo.json \
	--log "$state/requests.log" >"$state/fakeapi.out" 2>&1 &
echo $! >"$state/fakeapi.pid"
for _ in $(seq 100); do
	grep -q "listening on" "$state/fakeapi.out" 2>/dev/null && break
	sleep 0.1
done
url=$(awk '/listening on/ {print $NF}' "$state/fakeapi.out")
[ -n "$url" ] || { echo "demo: the fake API did not start:" >&2; cat "$state/fakeapi.out" >&2; exit 1; }

# The demo account's credentials (tests/data/demo.json), passed the way a
# real key should be: in the environment, never on the command line.
FACTUURSTUREN_USERNAME=demo FACTUURSTUREN_APIKEY=demo-apikey-0123456789 \
	XDG_CACHE_HOME="$state/cache" build/factuurfs -o url="$url" "$mnt"

cat <<MSG
factuurfs: the demo account is mounted at $mnt
(fake API at $url)

  cd $mnt
  ls . invoices                       every collection is a directory
  cat clients/1.json                  a record, as pythonic JSON
  cp invoices/*.pdf /tmp/             the invoices' PDFs (tar, rsync and zip copy them exactly)
  vim clients/1.json                  :wq: one GET and one PUT to the (fake) service
  cp templates/products.json products/new.json
                                      a new record from a template: edit it, save: one POST
  $top/build/factuurfs status .
                                      API calls made, rate limit left, cache, errors
  cat $state/requests.log
                                      what reached the (fake) service

Unmount with: scripts/demo.sh stop    (or: fusermount3 -u $mnt)
MSG
