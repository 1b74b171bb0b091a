"""`factuurfs status` and `factuurfs refresh`: a running mount, seen and steered."""
import errno
import json
import os
import re
import subprocess

import pytest

from harness import FACTUURFS, listing_calls, wait_for


def cli(*args):
    return subprocess.run([FACTUURFS, *args], capture_output=True, text=True, timeout=60)


def test_status_tells_a_person_what_the_status_file_holds(lone, mounts):
    m = mounts(lone)
    os.listdir(m.path("clients"))
    os.listdir(m.path("clients"))
    pdf = sorted(n for n in os.listdir(m.path("invoices")) if n.endswith(".pdf"))[0]
    open(m.path("invoices", pdf), "rb").read()
    lone.inject(fail={"status": 500, "count": 10, "path_prefix": "/api/v1/products",
                      "body": "database on fire"})
    with pytest.raises(OSError):
        os.listdir(m.path("products"))
    r = cli("status", m.mnt)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    print(out)
    sent = len(lone.requests())
    remaining = lone.status()["remaining"]
    assert f"  API calls    {sent} in the last hour, {sent} since mounting" in out
    assert f"  budget left  {remaining} calls this hour" in out
    assert "  service      up" in out
    # every collection of the status file counts, listed or not (14 with quotations,
    # categories, invoices_reminder and invoices_saved_send)
    ncoll = len(m.status()["cache"]["collections"])
    assert ncoll == 14
    assert re.search(rf"cache +3 of {ncoll} collections listed, 33 records", out), out
    assert re.search(r"PDFs: \d+(\.\d)? KiB on disk", out)
    assert "list products: HTTP 500: database on fire" in out
    assert re.search(r"hit rate +listings \d+% \(\d+ of \d+\), PDFs 0% \(0 of 1\)", out)


def test_status_json_is_the_status_file(lone, mounts):
    m = mounts(lone)
    os.listdir(m.path("clients"))
    r = cli("status", m.mnt, "--json")
    assert r.returncode == 0
    got = json.loads(r.stdout)
    want = m.status()
    for key in ("version", "url", "username", "mounted_at", "errors_total"):
        assert got[key] == want[key]
    assert got["api"]["requests"] == want["api"]["requests"] == len(lone.requests())
    assert set(got["cache"]["collections"]) == set(want["cache"]["collections"])


def test_status_shows_stale_listings_and_the_service_down(lone, mounts):
    m = mounts(lone, opts=["ttl=1", "timeout=3"])
    os.listdir(m.path("clients"))
    with lone.down():
        wait_for(lambda: m.status()["cache"]["collections"]["clients"]["state"] == "stale"
                 if os.listdir(m.path("clients")) else False, "clients stale")
        out = cli("status", m.mnt).stdout
        print(out)
        assert re.search(r"service +down: next try in \d+ s \(.*connect", out, re.I), out
        assert re.search(r"stale +clients \(since \d{4}-\d\d-\d\dT[\d:]+Z: ", out), out


def test_refresh_drops_cached_listings(lone, mounts):
    m = mounts(lone)
    os.listdir(m.path("clients"))
    os.listdir(m.path("products"))
    mark = lone.mark()
    assert cli("refresh", m.mnt).returncode == 0
    os.listdir(m.path("clients"))
    os.listdir(m.path("products"))
    assert len(listing_calls(lone.since(mark), "clients")) == 1
    assert len(listing_calls(lone.since(mark), "products")) == 1


def test_refresh_of_a_path_drops_its_collection_only(lone, mounts):
    m = mounts(lone)
    os.listdir(m.path("clients"))
    os.listdir(m.path("products"))
    mark = lone.mark()
    assert cli("refresh", m.mnt, m.path("clients", "1.json")).returncode == 0
    assert cli("refresh", m.mnt, "balance.json").returncode == 0
    os.listdir(m.path("clients"))
    os.listdir(m.path("products"))
    open(m.path("balance.json")).read()
    assert len(listing_calls(lone.since(mark), "clients")) == 1
    assert listing_calls(lone.since(mark), "products") == []
    assert len(listing_calls(lone.since(mark), "balance")) == 1
    r = cli("refresh", m.mnt, "nonsense")
    assert r.returncode == 1 and "refresh nonsense: No such file or directory" in r.stderr


def states(m):
    return {c: v["state"] for c, v in m.status()["cache"]["collections"].items()}


def test_status_calls_the_listings_a_refresh_dropped_expired(lone, mounts):
    """Right after a refresh the status file does not call the dropped listings fresh:
    they are `expired` (the next access lists them again) until listed again."""
    m = mounts(lone, opts=["ttl=3600"])
    os.listdir(m.path("clients"))
    os.listdir(m.path("products"))
    s = states(m)
    assert (s["clients"], s["products"]) == ("fresh", "fresh")
    assert cli("refresh", m.mnt, "clients").returncode == 0
    s = states(m)
    assert (s["clients"], s["products"]) == ("expired", "fresh")
    assert cli("refresh", m.mnt).returncode == 0
    s = states(m)
    assert (s["clients"], s["products"], s["invoices"]) == ("expired", "expired", "not listed")
    mark = lone.mark()
    os.listdir(m.path("clients"))
    assert len(listing_calls(lone.since(mark), "clients")) == 1
    # (the status file's figures may be up to a second old; a refresh shows at once)
    wait_for(lambda: states(m)["clients"] == "fresh", "clients fresh again", timeout=3)
    assert states(m)["products"] == "expired"


def test_refresh_works_on_a_read_only_mount(lone, mounts):
    """-o ro: the kernel refuses every write, the refresh file's too; the command
    still drops the listings (through an ioctl on .factuurfs/)."""
    m = mounts(lone, opts=["ro", "ttl=3600"])
    os.listdir(m.path("clients"))
    os.listdir(m.path("products"))
    with pytest.raises(OSError) as e:
        open(m.path(".factuurfs", "refresh"), "w")
    assert e.value.errno == errno.EROFS
    mark = lone.mark()
    r = cli("refresh", m.mnt, "clients")
    assert r.returncode == 0, r.stderr
    os.listdir(m.path("clients"))
    os.listdir(m.path("products"))
    assert len(listing_calls(lone.since(mark), "clients")) == 1
    assert listing_calls(lone.since(mark), "products") == []
    mark = lone.mark()
    r = cli("refresh", m.mnt)
    assert r.returncode == 0, r.stderr
    os.listdir(m.path("clients"))
    os.listdir(m.path("products"))
    assert len(listing_calls(lone.since(mark), "clients")) == 1
    assert len(listing_calls(lone.since(mark), "products")) == 1


def test_commands_refuse_what_is_not_a_mount(tmp_path):
    r = cli("status", str(tmp_path))
    assert r.returncode == 1 and "is not a factuurfs mount" in r.stderr
    r = cli("refresh", str(tmp_path))
    assert r.returncode == 1 and "is not a factuurfs mount" in r.stderr
    assert cli("status").returncode == 2
    assert "usage: factuurfs status MOUNTPOINT" in cli("refresh").stderr


def test_help_names_the_commands_and_each_option_once():
    r = cli("--help")
    assert r.returncode == 0
    assert re.search(r"^\s+\S*factuurfs status MOUNTPOINT", r.stdout, re.M), r.stdout
    assert re.search(r"^\s+\S*factuurfs refresh MOUNTPOINT \[PATH\]", r.stdout, re.M)
    opts = re.findall(r"^ {4}(-o \w+|-\w|--\w+)", r.stdout, re.M)
    assert "-o allow_other" in opts and "-o ro" in opts and "-f" in opts
    dup = sorted({o for o in opts if opts.count(o) > 1})
    assert dup == [], f"listed more than once: {dup}"
