"""Listings kept on disk across mounts, and offline mounts served from them."""
import datetime
import errno
import json
import os
import re
import stat
import subprocess
import time
import zlib

import pytest

from harness import APIKEY, FACTUURFS, USER, is_mounted, listing_calls, save, wait_for

# What the root holds besides the collections.
NOT_COLLECTIONS = {".factuurfs", "views", "exports", "templates"}


def errno_of(fn):
    try:
        fn()
    except OSError as e:
        return e.errno
    return 0


def read(path):
    with open(path, "rb") as f:
        return f.read()


def collections(m):
    return sorted(n for n in os.listdir(m.mnt)
                  if n not in NOT_COLLECTIONS and os.path.isdir(m.path(n)))


def state_dir(cache_home):
    """<XDG_CACHE_HOME>/factuurfs/<account>/state/listings (one account per cache here)."""
    base = os.path.join(cache_home, "factuurfs")
    accounts = os.listdir(base)
    assert len(accounts) == 1, accounts
    return os.path.join(base, accounts[0], "state", "listings")


def calls_but_the_check(reqs):
    """Listing calls of collections: the mount's check (GET balance) is not one."""
    return [r for r in reqs if r["method"] == "GET" and "/balance" not in r["path"]
            and "_pdf" not in r["path"]]


def browse(m, invoices=5, pdfs=10):
    """ls of every collection, every client record, a few invoices and @pdfs PDFs:
    {relative path: bytes}."""
    seen = {}
    for c in collections(m):
        os.listdir(m.path(c))
    for n in sorted(os.listdir(m.path("clients"))):
        seen["clients/" + n] = read(m.path("clients", n))
    inv = sorted(os.listdir(m.path("invoices")))
    for n in [n for n in inv if n.endswith(".json")][:invoices]:
        seen["invoices/" + n] = read(m.path("invoices", n))
    for n in [n for n in inv if n.endswith(".pdf")][:pdfs]:
        seen["invoices/" + n] = read(m.path("invoices", n))
    seen["balance.json"] = read(m.path("balance.json"))
    return seen


def cli(*args):
    return subprocess.run([FACTUURFS, *args], capture_output=True, text=True, timeout=60)


def test_offline_mount_serves_what_was_read_and_goes_online_by_itself(fakes, mounts):
    fake = fakes("--generate", "clients=8,invoices=24,products=4")
    m = mounts(fake)
    seen = browse(m)
    assert sum(n.endswith(".pdf") for n in seen) == 10
    colls = [c for c, v in m.status()["cache"]["collections"].items()
             if v["state"] != "not listed"]
    assert {"clients", "invoices", "products", "balance"} <= set(colls)
    cache = m.cache
    assert m.unmount() == 0
    # state files 0600 in directories 0700
    sd = state_dir(cache)
    for d in (sd, os.path.dirname(sd)):
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    kept = sorted(os.listdir(sd))
    assert set(colls) == set(kept)
    for n in kept:
        assert stat.S_IMODE(os.stat(os.path.join(sd, n)).st_mode) == 0o600
    # one listing never kept: it must fail at once, not wait
    os.unlink(os.path.join(sd, "products"))

    fake.stop(keep_state=True)
    t0 = time.monotonic()
    m2 = mounts(fake, env={"XDG_CACHE_HOME": cache})
    print(f"offline mount in {time.monotonic() - t0:.2f} s")
    assert m2.proc.poll() is None and is_mounted(m2.mnt)
    s = m2.status()
    assert s["service"]["state"] == "offline"
    listed = {c: v for c, v in s["cache"]["collections"].items() if v["state"] != "not listed"}
    assert set(listed) == set(kept) - {"products"}
    for c, v in listed.items():
        assert v["state"] == "stale", (c, v)
        assert v["age_seconds"] >= 0 and v["fetched_at"].endswith("Z")
    out = cli("status", m2.mnt).stdout
    print(out)
    assert re.search(r"service +offline", out), out
    assert re.search(r"stale +.*clients \(since [\dT:-]+Z: offline; \d+ s old\)", out), out
    # every record and every PDF read before reads the same
    for rel, data in seen.items():
        assert read(m2.path(*rel.split("/"))) == data, rel
    # the fetch time of what is shown
    fetched = os.getxattr(m2.path("clients"), "user.factuurfs.fetched").decode()
    assert fetched == listed["clients"]["fetched_at"]
    client = sorted(n for n in seen if n.startswith("clients/"))[0]
    assert os.getxattr(m2.path(*client.split("/")), "user.factuurfs.fetched").decode() \
        == fetched
    age = datetime.datetime.utcnow() - datetime.datetime.strptime(fetched,
                                                                  "%Y-%m-%dT%H:%M:%SZ")
    assert datetime.timedelta(0) <= age < datetime.timedelta(minutes=10)
    # what was never fetched fails with EHOSTUNREACH, the errno of the service being
    # away (not a timeout's ETIMEDOUT)
    inv = sorted(os.listdir(m2.path("invoices")))
    cold = [n for n in inv if n.endswith(".pdf") and "invoices/" + n not in seen][0]
    assert errno_of(lambda: read(m2.path("invoices", cold))) == errno.EHOSTUNREACH
    assert errno_of(lambda: os.listdir(m2.path("products"))) == errno.EHOSTUNREACH
    # read-only: every change is EROFS
    cpath = m2.path(*client.split("/"))
    assert save(cpath, seen[client]) == errno.EROFS
    assert save(cpath, b"x", flags=os.O_WRONLY) == errno.EROFS
    assert save(m2.path("clients", "new.json"), "{}") == errno.EROFS
    assert errno_of(lambda: os.unlink(cpath)) == errno.EROFS
    assert errno_of(lambda: os.rename(cpath, m2.path("clients", "x.json"))) == errno.EROFS
    assert errno_of(lambda: os.utime(cpath)) == errno.EROFS
    assert errno_of(lambda: os.chmod(m2.path("views"), 0o755)) == errno.EROFS
    assert read(cpath) == seen[client]
    # but the refresh file changes nothing remote: its write (and the truncation of
    # open(..., "w")) is taken offline too
    with open(m2.path(".factuurfs", "refresh"), "w") as f:
        f.write("products\n")

    # the service back on the same port: online without a remount
    fake.start()
    t0 = time.monotonic()
    wait_for(lambda: m2.status()["service"]["state"] == "up", "the mount back online",
             timeout=90)
    print(f"online {time.monotonic() - t0:.1f} s after the service came back")
    rec = json.loads(seen[client])
    rec["notes"] = "written after coming back online"
    assert save(cpath, json.dumps(rec)) == 0
    nr = int(rec["clientnr"])
    assert [c for c in fake.state("clients") if int(c["clientnr"]) == nr][0]["notes"] \
        == "written after coming back online"
    # and listings are fetched again: products, which was never kept
    wait_for(lambda: errno_of(lambda: os.listdir(m2.path("products"))) == 0,
             "products listed online")


def test_remount_within_the_ttl_makes_no_listing_call(fakes, mounts):
    fake = fakes("--generate", "clients=6,invoices=10,products=3")
    m = mounts(fake)
    seen = browse(m, pdfs=0)
    names = {c: sorted(os.listdir(m.path(c))) for c in collections(m)}
    cache = m.cache
    assert m.unmount() == 0
    mark = fake.mark()
    m2 = mounts(fake, env={"XDG_CACHE_HOME": cache})
    seen2 = browse(m2, pdfs=0)
    assert {c: sorted(os.listdir(m2.path(c))) for c in collections(m2)} == names
    assert seen2 == seen
    reqs = fake.since(mark)
    print([r["path"] for r in reqs])
    assert calls_but_the_check(reqs) == []
    # the check of the credentials is made at every mount: one call
    assert len(listing_calls(reqs, "balance")) == 1
    assert m2.status()["cache"]["collections"]["clients"]["state"] == "fresh"


def test_invoices_listed_without_lines_are_kept_one_by_one(fakes, mounts):
    """A service whose invoice listing lacks `lines` (the fake's --list-without-lines):
    each invoice read is fetched with a GET of its own and kept on disk beside the
    listings, so a later mount reads it: within the TTL with no call, offline as it was;
    an invoice never read fails at once offline."""
    fake = fakes("--generate", "clients=3,invoices=6,products=2", "--list-without-lines")
    m = mounts(fake)
    inv = sorted(n for n in os.listdir(m.path("invoices")) if n.endswith(".json"))
    mark = fake.mark()
    seen = {n: read(m.path("invoices", n)) for n in inv[:3]}
    gets = [r for r in fake.since(mark) if re.search(r"/invoices/[^?]+$", r["path"])]
    assert len(gets) == 3, [r["path"] for r in fake.since(mark)]
    assert all("lines" in json.loads(data) for data in seen.values())
    cache = m.cache
    assert m.unmount() == 0
    sd = state_dir(cache)
    kept = sorted(n for n in os.listdir(sd) if n.startswith("invoices="))
    assert len(kept) == 3, os.listdir(sd)
    for n in kept:
        assert stat.S_IMODE(os.stat(os.path.join(sd, n)).st_mode) == 0o600
    # a remount within the TTL: read with no call at all
    mark = fake.mark()
    m2 = mounts(fake, env={"XDG_CACHE_HOME": cache})
    for n, data in seen.items():
        assert read(m2.path("invoices", n)) == data
    assert calls_but_the_check(fake.since(mark)) == []
    assert m2.unmount() == 0
    # offline: as they were; one never read fails with the errno of the service away
    fake.stop(keep_state=True)
    m3 = mounts(fake, env={"XDG_CACHE_HOME": cache})
    assert m3.status()["service"]["state"] == "offline"
    for n, data in seen.items():
        assert read(m3.path("invoices", n)) == data
    assert errno_of(lambda: read(m3.path("invoices", inv[3]))) == errno.EHOSTUNREACH


def test_a_record_kept_one_by_one_goes_when_its_listing_is_fetched_again(fakes, mounts):
    """Such a record is used only while no newer listing exists: when the listing is
    fetched again, the files of the records kept before it are removed (no file stays
    for good, a deleted invoice's included); one read again is kept again."""
    fake = fakes("--generate", "clients=3,invoices=6,products=2", "--list-without-lines")
    # The listing is fetched again when we say so (the refresh file), not when a short
    # TTL runs out: on a busy machine a TTL of a second ran out between the reads.
    m = mounts(fake)
    inv = sorted(n for n in os.listdir(m.path("invoices")) if n.endswith(".json"))
    for n in inv[:3]:
        read(m.path("invoices", n))
    sd = state_dir(m.cache)

    def kept():
        return sorted(n for n in os.listdir(sd) if n.startswith("invoices="))
    wait_for(lambda: len(kept()) == 3, "three records kept on disk")
    # Files are judged by their mtime in whole seconds: a listing fetched in the second
    # the records were kept in does not count as newer than them.
    newest = max(os.stat(os.path.join(sd, n)).st_mtime for n in kept())
    # The daemon's time(NULL) reads the coarse clock, which turns to the next second a
    # tick after time.time() does: waited for on that clock, so that the listing's fetch
    # time is surely the later second.
    coarse = getattr(time, "CLOCK_REALTIME_COARSE", 5)  # 5: Linux's, <linux/time.h>
    wait_for(lambda: time.clock_gettime(coarse) >= int(newest) + 1,
             "the next second", interval=0.05)
    mark = fake.mark()
    with open(m.path(".factuurfs", "refresh"), "w") as f:
        f.write("invoices\n")
    os.listdir(m.path("invoices"))
    assert len(listing_calls(fake.since(mark), "invoices")) == 1
    wait_for(lambda: kept() == [], "the records kept before it removed")
    read(m.path("invoices", inv[0]))
    wait_for(lambda: len(kept()) == 1, "the one read again kept again")


def test_a_listing_kept_past_its_ttl_is_listed_again(fakes, mounts):
    fake = fakes("--generate", "clients=4,invoices=3,products=2")
    m = mounts(fake, opts=["ttl=1"])
    os.listdir(m.path("clients"))
    cache = m.cache
    assert m.unmount() == 0
    kept = json.loads(read(os.path.join(state_dir(cache), "clients")).split(b"\n")[1])
    # past the TTL by the wall clock the file records
    wait_for(lambda: time.time() >= kept["fetched"] + 1.5, "the TTL to pass", interval=0.1)
    mark = fake.mark()
    m2 = mounts(fake, opts=["ttl=1"], env={"XDG_CACHE_HOME": cache})
    before = m2.status()["cache"]["collections"]["clients"]
    assert before["state"] == "expired"
    os.listdir(m2.path("clients"))
    # Answered from the kept listing at once, listed again behind it: one call.
    wait_for(lambda: m2.status()["cache"]["collections"]["clients"]["fetched_at"]
             != before["fetched_at"], "the refresh behind the answer")
    assert len(listing_calls(fake.since(mark), "clients")) == 1


def test_a_change_of_ours_is_not_hidden_by_the_kept_listing(fakes, mounts):
    """A PUT marks the kept listing not fresh: a remount within the TTL lists again and
    shows the change."""
    fake = fakes("--generate", "clients=4,invoices=3,products=2")
    m = mounts(fake, opts=["nonotify"])
    name = sorted(os.listdir(m.path("clients")))[0]
    rec = json.loads(read(m.path("clients", name)))
    rec["notes"] = "changed by us"
    assert save(m.path("clients", name), json.dumps(rec)) == 0
    cache = m.cache
    assert m.unmount() == 0
    mark = fake.mark()
    m2 = mounts(fake, env={"XDG_CACHE_HOME": cache})
    assert json.loads(read(m2.path("clients", name)))["notes"] == "changed by us"
    assert len(listing_calls(fake.since(mark), "clients")) == 1


def header(kind, version, payload):
    return b"factuurfs %s %d %d %08x\n" % (kind, version, len(payload), zlib.crc32(payload))


def damage(path, how):
    data = read(path)
    nl = data.index(b"\n")
    payload = data[nl + 1:]
    if how == "truncated":
        data = data[:len(data) // 2]
    elif how == "flipped":
        data = data[:-40] + bytes([data[-40] ^ 0x20]) + data[-39:]
    elif how == "other-version":
        data = header(b"listing", 99, payload) + payload
    elif how == "other-kind":
        data = header(b"journal", 1, payload) + payload
    elif how == "bad-payload":
        # whole by its header, but a record that is not what we would show
        bad = payload.replace(b'"whole":true', b'"whole":"yes"', 1)
        data = header(b"listing", 1, bad) + bad
    elif how == "other-listing":
        bad = payload.replace(b'"listing":"clients"', b'"listing":"products"', 1)
        data = header(b"listing", 1, bad) + bad
    elif how == "empty":
        data = b""
    with open(path, "wb") as f:
        f.write(data)


@pytest.mark.parametrize("how", ["truncated", "flipped", "other-version", "other-kind",
                                 "bad-payload", "other-listing", "empty"])
def test_a_damaged_state_file_is_listed_again(fakes, mounts, how):
    fake = fakes("--generate", "clients=4,invoices=3,products=2")
    m = mounts(fake)
    os.listdir(m.path("clients"))
    cache = m.cache
    assert m.unmount() == 0
    path = os.path.join(state_dir(cache), "clients")
    damage(path, how)
    # the service's data moved on meanwhile: what shows must be the service's
    c = fake.state("clients")[0]
    c["notes"] = "changed on the website"
    fake.put_state("clients", c["clientnr"], c)
    mark = fake.mark()
    m2 = mounts(fake, env={"XDG_CACHE_HOME": cache})
    nr = int(c["clientnr"])
    assert json.loads(read(m2.path("clients", f"{nr}.json")))["notes"] == \
        "changed on the website"
    assert len(listing_calls(fake.since(mark), "clients")) == 1
    assert "not whole or not of this version" in m2.stderr()
    assert m2.unmount() == 0
    # and the file is whole again
    assert read(path).startswith(b"factuurfs listing 1 ")


def start(fake, tmp_path, cache, key=APIKEY, opts=()):
    """factuurfs run as mount(8) would (it daemonizes once mounted): its exit status
    and stderr; unmounted again if it did mount."""
    mnt = tmp_path / "mnt"
    mnt.mkdir(exist_ok=True)
    e = {k: v for k, v in os.environ.items() if not k.startswith("FACTUURSTUREN_")}
    e.update(XDG_CACHE_HOME=cache, FACTUURSTUREN_USERNAME=USER, FACTUURSTUREN_APIKEY=key)
    args = [FACTUURFS, "-o", "url=" + fake.url]
    for o in opts:
        args += ["-o", o]
    r = subprocess.run(args + [str(mnt)], capture_output=True, text=True, env=e, timeout=60)
    mounted = is_mounted(str(mnt))
    if mounted:
        subprocess.run(["fusermount3", "-u", str(mnt)], check=True)
    return r, mounted


def daemon_gone(pid):
    """True once process @pid has ended (gone, or a zombie nobody reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_in_the_background_state_is_kept_and_the_daemon_ends_at_unmount(fakes, tmp_path):
    """As mount(8) runs it (no -f: it forks into the background, keeping only the thread
    that forks): the daemon writes the listings, ends at the unmount, and an offline
    mount goes online by itself when the service is back."""
    fake = fakes("--generate", "clients=4,invoices=3,products=2")
    cache = str(tmp_path / "cache")
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    e = {k: v for k, v in os.environ.items() if not k.startswith("FACTUURSTUREN_")}
    e.update(XDG_CACHE_HOME=cache, FACTUURSTUREN_USERNAME=USER, FACTUURSTUREN_APIKEY=APIKEY)

    def mount():
        r = subprocess.run([FACTUURFS, "-o", "url=" + fake.url, mnt], capture_output=True,
                           text=True, env=e, timeout=60)
        assert r.returncode == 0 and is_mounted(mnt), r.stderr
        with open(os.path.join(mnt, ".factuurfs", "status")) as f:
            return json.load(f)["pid"]

    def unmount(pid):
        subprocess.run(["fusermount3", "-u", mnt], check=True)
        wait_for(lambda: daemon_gone(pid), "the daemon to end after the unmount")

    pid = mount()
    records = {n: read(os.path.join(mnt, "clients", n)) for n in os.listdir(mnt + "/clients")}
    unmount(pid)
    assert "clients" in os.listdir(state_dir(cache))

    fake.stop(keep_state=True)
    pid = mount()
    status = os.path.join(mnt, ".factuurfs", "status")
    assert json.loads(read(status))["service"]["state"] == "offline"
    assert {n: read(os.path.join(mnt, "clients", n)) for n in records} == records
    fake.start()
    wait_for(lambda: json.loads(read(status))["service"]["state"] == "up",
             "the probe to find the service back", timeout=30)
    unmount(pid)


def test_bad_credentials_still_refuse_the_mount(fakes, mounts, tmp_path):
    fake = fakes("--generate", "clients=4,invoices=3,products=2")
    m = mounts(fake)
    os.listdir(m.path("clients"))
    cache = m.cache
    assert m.unmount() == 0
    # with a fresh listing on disk, a wrong key is still found out at mount
    mark = fake.mark()
    r, mounted = start(fake, tmp_path, cache, key="wrong-key-zzz")
    assert r.returncode != 0 and not mounted
    assert "refused the credentials" in r.stderr and "wrong-key-zzz" not in r.stderr
    assert [q["status"] for q in fake.since(mark)] == [401]


def test_an_unreachable_service_with_nothing_kept_refuses_the_mount(fakes, tmp_path):
    fake = fakes("--generate", "clients=2,invoices=1,products=1")
    fake.stop()
    r, mounted = start(fake, tmp_path, str(tmp_path / "cache"), opts=["timeout=3"])
    assert r.returncode != 0 and not mounted
    assert "cannot reach the service" in r.stderr, r.stderr


def test_option_offline_makes_no_call_at_all(fakes, mounts):
    fake = fakes("--generate", "clients=4,invoices=4,products=2")
    m = mounts(fake)
    seen = browse(m, pdfs=2)
    cache = m.cache
    assert m.unmount() == 0
    mark = fake.mark()
    m2 = mounts(fake, opts=["offline"], env={"XDG_CACHE_HOME": cache})
    for rel, data in seen.items():
        assert read(m2.path(*rel.split("/"))) == data, rel
    assert save(m2.path("clients", "new.json"), "{}") == errno.EROFS
    out = cli("status", m2.mnt).stdout
    assert "service      offline (-o offline: no call is made)" in out, out
    # well past the first probe's time (1 s): still offline, and not one call
    t0 = time.monotonic()
    wait_for(lambda: time.monotonic() - t0 > 3, "three seconds", interval=0.2)
    assert m2.status()["service"]["state"] == "offline"
    assert fake.since(mark) == []


def test_nodiskcache_keeps_no_listing_on_disk(fakes, mounts):
    fake = fakes("--generate", "clients=4,invoices=3,products=2")
    m = mounts(fake, opts=["nodiskcache"])
    os.listdir(m.path("clients"))
    cache = m.cache
    assert m.unmount() == 0
    files = [os.path.join(dp, f) for dp, _, fs in os.walk(cache) for f in fs]
    assert files == []
