"""Record files' times (docs/SEMANTICS.md, "File times"): when the record last changed,
as well as factuurfs can know; the same across remounts of one cache; never in the
future; no earlier than a save through the mount.  `find -newer` and `rsync -a` (no -c)
see every change and nothing else."""
import calendar
import json
import os
import subprocess
import time

from harness import Mount, run, save

COLLS = ("clients", "products", "invoices")


def day_end_ns(day):
    """The end of day "YYYY-MM-DD" read as UTC, in ns (the last nanosecond of it)."""
    return (calendar.timegm(time.strptime(day, "%Y-%m-%d")) + 86400) * 10**9 - 1


def minute_end_ns(day, hhmm):
    t = calendar.timegm(time.strptime(day + " " + hhmm, "%Y-%m-%d %H:%M"))
    return (t + 60) * 10**9 - 1


def newest_event(inv):
    """The end of the newest dated event of an invoice's history (wire form), or None."""
    hist = inv.get("history") or {}
    ends = [minute_end_ns(e["date"], e["time"]) for e in hist.values() if e.get("date")]
    return max(ends) if ends else None


def json_files(root):
    """Every record file of COLLS under @root, relative: {path: mtime_ns}, each stat'ed."""
    out = {}
    for c in COLLS:
        for n in sorted(os.listdir(os.path.join(root, c))):
            if n.endswith(".json"):
                out[f"{c}/{n}"] = os.stat(os.path.join(root, c, n)).st_mtime_ns
    return out


def find_newer(root, stamp):
    r = run("find", *COLLS, "-name", "*.json", "-newer", stamp, cwd=root)
    assert r.returncode == 0, r.stderr
    return sorted(line[2:] if line.startswith("./") else line for line in r.stdout.split())


RSYNC_FILTER = ("--include=*/", "--include=*.json", "--exclude=*")


def rsync(root, dest, *flags):
    r = run("rsync", *flags, *RSYNC_FILTER, *[c for c in COLLS], dest + "/", cwd=root)
    assert r.returncode == 0, r.stderr
    return r.stdout


def itemized_files(out):
    """The files an `rsync -ai` would transfer: {path: its item code}."""
    got = {}
    for line in out.splitlines():
        code, _, path = line.partition(" ")
        if code.startswith(">f"):
            got[path] = code
    return got


def refresh(m):
    with open(m.path(".factuurfs", "refresh"), "w") as f:
        f.write("\n")


def client_text(m, n):
    with open(m.path("clients", f"{n}.json"), encoding="utf-8") as f:
        return json.load(f)


def test_find_newer_and_rsync_see_every_change_and_nothing_else(acct, mounts, tmp_path):
    """An edit through the mount (sed -i), a new client, and changes on the website (a
    client, a product, an invoice paid: a new history event) move the times of exactly
    those files: `find -newer stamp` lists them and nothing else, `rsync -ai --dry-run`
    (no -c) transfers them and nothing else, and a remount of the same cache changes no
    time."""
    cache = str(tmp_path / "cache")
    dest = str(tmp_path / "backup")
    os.mkdir(dest)
    m = mounts(acct, env={"XDG_CACHE_HOME": cache})
    before = json_files(m.mnt)
    rsync(m.mnt, dest, "-a")
    stamp = str(tmp_path / "stamp")
    open(stamp, "w").close()
    assert find_newer(m.mnt, stamp) == []
    assert itemized_files(rsync(m.mnt, dest, "-ai", "--dry-run")) == {}

    # An edit through the mount, of the same size, and a new client.
    r = subprocess.run(["sed", "-i", 's/"city": "[^"]*"/"city": "Zwolle-Zuid-Oost"/',
                        m.path("clients", "1.json")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert save(m.path("clients", "nieuw.json"),
                json.dumps({"company": "Nieuw BV", "city": "Goes"})) == 0
    [new] = [c["clientnr"] for c in acct.state("clients") if c["company"] == "Nieuw BV"]
    # Changes on the website: a client (its timestamp today, as the service keeps it),
    # a product (no time of its own), an invoice paid (a new event in its history).
    web = next(c for c in acct.state("clients") if str(c["clientnr"]) == "3")
    web["phone"] = "010-1234567"
    web["timestamp"] = time.strftime("%Y-%m-%d", time.gmtime())
    acct.put_state("clients", 3, web)
    prod = next(p for p in acct.state("products") if str(p["id"]) == "2")
    prod["price"] = "99.95"
    acct.put_state("products", 2, prod)
    inv = next(i for i in acct.state("invoices") if i.get("history"))
    hist = dict(inv["history"])
    hist[f"item{len(hist) + 1}"] = {"date": time.strftime("%Y-%m-%d", time.gmtime()),
                                    "time": time.strftime("%H:%M", time.gmtime()),
                                    "description": "Betaling ontvangen"}
    inv["history"] = hist
    acct.put_state("invoices", inv["invoicenr"], inv)
    refresh(m)

    changed = sorted(["clients/1.json", f"clients/{new}.json", "clients/3.json",
                      "products/2.json", f"invoices/{inv['invoicenr']}.json"])
    after = json_files(m.mnt)
    now = time.time_ns()
    assert find_newer(m.mnt, stamp) == changed
    print("find -newer stamp after the changes:", find_newer(m.mnt, stamp))
    items = rsync(m.mnt, dest, "-ai", "--dry-run")
    print("rsync -ai --dry-run after the changes:\n" + items)
    assert sorted(itemized_files(items)) == changed
    assert items.count(">f+++++++++") == 1  # the new client
    # Nothing else moved; nothing is in the future.
    assert {p: t for p, t in after.items() if p not in changed} == \
        {p: t for p, t in before.items() if p not in changed}
    assert max(after.values()) <= now

    # A remount of the same cache: the same times, whatever the listings say.
    rsync(m.mnt, dest, "-a")
    assert m.unmount() == 0
    again = mounts(acct, env={"XDG_CACHE_HOME": cache})
    assert json_files(again.mnt) == after
    assert find_newer(again.mnt, stamp) == changed
    items = rsync(again.mnt, dest, "-ai", "--dry-run")
    print("rsync -ai --dry-run after the remount:\n" + items)
    assert itemized_files(items) == {}


def test_times_are_the_services_own_where_it_says_them(acct, mounts, tmp_path):
    """A client's time is the end of its `timestamp` day, an invoice's the end of the
    minute of its newest history event (read as UTC: never early); a product, which
    carries no time, has the time the mount first saw it, kept: a remount of the same
    cache shows the same times, and a mount on another cache the service's times."""
    t0 = time.time_ns()
    cache = str(tmp_path / "cache")
    m = mounts(acct, env={"XDG_CACHE_HOME": cache})
    first = json_files(m.mnt)
    t1 = time.time_ns()
    for c in acct.state("clients"):
        assert first[f"clients/{c['clientnr']}.json"] == min(day_end_ns(c["timestamp"]), t1)
    dated = 0
    for i in acct.state("invoices"):
        end = newest_event(i)
        name = f"invoices/{i['invoicenr']}.json"
        if end is not None:
            dated += 1
            assert first[name] == end
        else:
            assert t0 - 10**9 <= first[name] <= t1
    assert dated >= 3
    for p in acct.state("products"):
        assert t0 - 10**9 <= first[f"products/{p['id']}.json"] <= t1
    assert m.unmount() == 0
    assert json_files(mounts(acct, env={"XDG_CACHE_HOME": cache}).mnt) == first
    other = json_files(mounts(acct).mnt)
    by_service = [p for p, t in first.items() if p.startswith("clients/") or t < t0 - 10**9]
    assert len(by_service) >= 6 + 3
    assert {p: other[p] for p in by_service} == {p: first[p] for p in by_service}


def test_no_time_is_in_the_future(acct, mounts):
    """A change time the service gives in the future (a clock ahead, a date typed
    wrong) is not shown: the time is at most now."""
    c = next(c for c in acct.state("clients") if str(c["clientnr"]) == "2")
    c["timestamp"] = "2099-01-01"
    acct.put_state("clients", 2, c)
    inv = next(i for i in acct.state("invoices") if i.get("history"))
    inv["history"] = {"item1": {"date": "2099-06-30", "time": "23:59", "description": "?"}}
    acct.put_state("invoices", inv["invoicenr"], inv)
    m = mounts(acct)
    times = json_files(m.mnt)
    now = time.time_ns()
    assert times["clients/2.json"] <= now
    assert times[f"invoices/{inv['invoicenr']}.json"] <= now
    assert max(times.values()) <= now


def test_a_save_through_the_mount_is_no_older_than_the_save(acct, mounts):
    """After a save the service took, the file's time is at least the save's: also for
    a product, which carries no time of its own, and across a refresh."""
    m = mounts(acct)
    json_files(m.mnt)
    path = m.path("products", "3.json")
    t0 = time.time_ns()
    r = subprocess.run(["sed", "-i", 's/"name": "\\([^"]*\\)"/"name": "\\1 (nieuw)"/', path],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    t1 = time.time_ns()
    assert "(nieuw)" in open(path).read()
    assert t0 <= os.stat(path).st_mtime_ns <= time.time_ns()
    refresh(m)
    assert t0 <= os.stat(path).st_mtime_ns <= t1 + 2 * 10**9


def test_kept_times_are_untrusted_input(acct, mounts, tmp_path):
    """state/times/ is read as untrusted input: a file that is not one of ours is set
    aside (said in the log) and the times are decided again; a symlink there is never
    followed nor written through."""
    cache = str(tmp_path / "cache")
    m = mounts(acct, env={"XDG_CACHE_HOME": cache})
    first = json_files(m.mnt)
    assert m.unmount() == 0
    [tdir] = [os.path.join(dp, d) for dp, ds, _ in os.walk(cache) for d in ds if d == "times"]
    with open(os.path.join(tdir, "clients"), "w") as f:
        f.write("factuurfs times 1 5 0\nhello")
    outside = tmp_path / "outside"
    outside.write_text("not yours\n")
    os.unlink(os.path.join(tdir, "products"))
    os.symlink(str(outside), os.path.join(tdir, "products"))
    again = mounts(acct, env={"XDG_CACHE_HOME": cache})
    times = json_files(again.mnt)
    # Clients are dated by the service: the same; invoices too.
    assert {p: t for p, t in times.items() if not p.startswith("products/")} == \
        {p: t for p, t in first.items() if not p.startswith("products/")}
    assert "not a whole file of ours" in again.stderr()
    assert again.unmount() == 0
    assert outside.read_text() == "not yours\n"
    assert not os.path.islink(os.path.join(tdir, "products"))
