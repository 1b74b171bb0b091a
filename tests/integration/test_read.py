"""The read path: every collection of a generated account, through a real mount."""
import calendar
import errno
import json
import os
import shutil
import time

import pytest

from expected import expected, file_stem, invoice_day, load, quarter_of, record_id, same
from harness import run

COLLECTIONS = ["clients", "products", "invoices", "invoices_saved", "invoices_repeated",
               "profiles", "taxes", "countrylist", "quotations", "categories"]


def test_root_lists_every_collection(mnt):
    assert sorted(os.listdir(mnt.mnt)) == sorted(
        [".factuurfs", "balance.json", "invoices_payment", "invoices_reminder",
         "invoices_saved_send", "views", "exports", "templates", "search"]
        + COLLECTIONS)
    for c in COLLECTIONS:
        assert os.path.isdir(mnt.path(c))
    assert os.path.isfile(mnt.path("balance.json"))


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_collection_matches_fake(fake, mnt, collection):
    wire = fake.state(collection)
    assert wire, "the generated account has records in every collection"
    want = {file_stem(record_id(collection, w)) + ".json": w for w in wire}
    names = set(os.listdir(mnt.path(collection)))
    jsons = {n for n in names if n.endswith(".json")}
    assert jsons == set(want)
    if collection in ("invoices", "quotations"):
        assert names - jsons == {n[:-5] + ".pdf" for n in want}
    else:
        assert names == jsons
    for name, w in want.items():
        path = mnt.path(collection, name)
        with open(path, "rb") as f:
            raw = f.read()
        assert os.stat(path).st_size == len(raw)
        assert raw.endswith(b"}\n") and b'\n  "' in raw, "pretty-printed, 2-space indent"
        got = json.loads(raw)
        exp = expected(collection, w)
        for field in exp:
            assert field in got, f"{name}: {field} missing"
            assert same(got[field], exp[field]), f"{name}.{field}: {got[field]!r} != {exp[field]!r}"
        assert set(got) == set(exp), f"{name}: fields differ"


def test_balance_matches_fake(fake, mnt):
    assert load(mnt.path("balance.json")) == fake.state("balance")


def test_pythonic_types(fake, mnt):
    """Strings on the wire become numbers, booleans, null and arrays in files."""
    inv = next(w for w in fake.state("invoices") if isinstance(w["lines"], dict))
    got = load(mnt.path("invoices", file_stem(inv["invoicenr"]) + ".json"))
    assert isinstance(got["lines"], list) and len(got["lines"]) == len(inv["lines"])
    assert got["lines"][0]["description"] == inv["lines"]["line1"]["description"]
    assert isinstance(got["clientnr"], int) and not isinstance(got["clientnr"], bool)
    assert isinstance(got["collection"], bool)
    assert isinstance(got["totalintax"], (int, float))
    client = fake.state("clients")[0]
    c = load(mnt.path("clients", record_id("clients", client) + ".json"))
    assert isinstance(c["active"], bool) and isinstance(c["top"], int)
    empty_dates = [k for k, v in client.items() if v == "" and k in ("lastinvoice", "mandatedate")]
    for k in empty_dates:
        assert c[k] is None


def test_find_sees_every_file(fake, mnt):
    out = run("find", mnt.mnt, "-type", "f").stdout.split("\n")
    files = [l for l in out if l]
    total = sum(len(fake.state(c)) for c in COLLECTIONS) + len(fake.state("invoices")) \
        + len(fake.state("quotations"))  # their PDFs
    # balance.json, .factuurfs/status, .factuurfs/refresh, exports/ (invoices and clients,
    # and btw-YYYY-Qn for each quarter an invoice is dated in, as .csv and .xlsx),
    # templates/*.json (views hold symlinks)
    quarters = {quarter_of(invoice_day(i)) for i in fake.state("invoices") if invoice_day(i)}
    assert len(files) == total + 1 + 2 + 2 * (2 + len(quarters)) + 7


def test_pdfs_copy_out_exactly(fake, mnt, tmp_path):
    invoices = fake.state("invoices")
    dest = tmp_path / "pdf"
    dest.mkdir()
    r = run("sh", "-c", f'cp "{mnt.path("invoices")}"/*.pdf "{dest}"/')
    assert r.returncode == 0, r.stderr
    for inv in invoices:
        name = file_stem(inv["invoicenr"]) + ".pdf"
        data = (dest / name).read_bytes()
        assert data == fake.pdf(inv["invoicenr"]), name
        # once fetched, stat shows the true size
        assert os.stat(mnt.path("invoices", name)).st_size == len(data)
    for inv in invoices:
        name = file_stem(inv["invoicenr"]) + ".pdf"
        info = run("pdfinfo", str(dest / name))
        assert info.returncode == 0, info.stderr
        assert "Pages:" in info.stdout


def test_invoice_number_with_slash_round_trips(fake, mnt, tmp_path):
    inv = next(w for w in fake.state("invoices") if "/" in w["invoicenr"])
    stem = inv["invoicenr"].replace("/", "%2F")
    assert stem + ".json" in os.listdir(mnt.path("invoices"))
    assert load(mnt.path("invoices", stem + ".json"))["invoicenr"] == inv["invoicenr"]
    shutil.copy(mnt.path("invoices", stem + ".pdf"), tmp_path / "x.pdf")
    assert (tmp_path / "x.pdf").read_bytes() == fake.pdf(inv["invoicenr"])


def test_non_ascii_names_read_back(fake, mnt):
    clients = [c for c in fake.state("clients")
               if any(ord(ch) > 127 for ch in (c.get("company", "") + c.get("contact", "")))]
    assert clients, "the generated account has non-ASCII names"
    c = clients[0]
    text = open(mnt.path("clients", record_id("clients", c) + ".json"), encoding="utf-8").read()
    assert c["company"] in text and "\\u" not in text


@pytest.mark.parametrize("sent", [True, False], ids=["sent", "never-sent"])
def test_times_come_from_the_record_and_survive_remount(fake, mnt, mounts, sent):
    """An invoice file's time is the service's own change time (docs/SEMANTICS.md, "File
    times"): the end of the minute of its newest history event, read as UTC; the same on
    a mount of another cache.  Its PDF's time is the day it is dated ("Dates"): its
    `sent`, or for one never sent its first dated history event, at noon UTC."""
    invs = [i for i in fake.state("invoices") if "date" not in i and bool(i["sent"]) == sent
            and i["history"]]
    inv = invs[min(3, len(invs) - 1)]
    name = file_stem(inv["invoicenr"]) + ".json"
    st1 = os.stat(mnt.path("invoices", name))
    newest = max(calendar.timegm(time.strptime(e["date"] + " " + e["time"], "%Y-%m-%d %H:%M"))
                 for e in inv["history"].values() if e.get("date"))
    assert st1.st_mtime_ns == (newest + 60) * 10**9 - 1
    day = inv["sent"] if sent else inv["history"]["item1"]["date"]
    assert day == invoice_day(inv)
    noon = calendar.timegm(time.strptime(day, "%Y-%m-%d")) + 12 * 3600
    other = mounts(fake)
    st2 = os.stat(other.path("invoices", name))
    assert (st1.st_mtime_ns, st1.st_size) == (st2.st_mtime_ns, st2.st_size)
    pdf = os.stat(other.path("invoices", name[:-5] + ".pdf"))
    assert pdf.st_mtime == noon


@pytest.mark.parametrize("op,err", [
    (lambda m: os.mkdir(m.path("clients", "sub")), errno.EPERM),
    (lambda m: os.mkdir(m.path("newdir")), errno.EPERM),
    (lambda m: os.rmdir(m.path("clients")), errno.EPERM),
    (lambda m: os.symlink("x", m.path("clients", "link")), errno.EPERM),
    (lambda m: os.chown(m.path("clients", os.listdir(m.path("clients"))[0]), 4242, -1),
     errno.EPERM),
    (lambda m: os.link(m.path("clients", os.listdir(m.path("clients"))[0]),
                       m.path("clients", "hard.json")), errno.EPERM),
    (lambda m: os.mknod(m.path("clients", "fifo"), 0o600 | 0o010000), errno.EPERM),
])
def test_unsupported_operations_give_errno(mnt, op, err):
    with pytest.raises(OSError) as e:
        op(mnt)
    assert e.value.errno == err


def test_chmod_of_a_record_is_accepted_and_ignored(fake, mnt):
    """gio copy and cp -p chmod what they wrote: it succeeds, the mode stays."""
    p = mnt.path("clients", os.listdir(mnt.path("clients"))[0])
    mark = fake.mark()
    os.chmod(p, 0o644)
    os.utime(p, (0, 0))
    assert os.stat(p).st_mode & 0o777 == 0o600
    assert fake.since(mark) == []


def test_status_file(fake, mnt):
    os.listdir(mnt.path("clients"))
    s = mnt.status()
    assert s["api"]["requests"] == 2  # the mount's check and the clients listing
    assert s["api"]["ratelimit_remaining"] is not None
    assert s["cache"]["collections"]["clients"]["records"] == len(fake.state("clients"))
    assert s["cache"]["collections"]["invoices"]["state"] == "not listed"
    with open(mnt.path(".factuurfs", "status"), "rb") as f:
        raw = f.read()
        # the size of what this open reads (a later open may read a newer text)
        assert os.fstat(f.fileno()).st_size == len(raw)


PROBES = [".hidden", ".directory", ".Trash-0", ".Trash", ".git", "desktop.ini", "autorun.inf",
          ".xdg-volume-info", "Thumbs.db", "folder.jpg", ".DS_Store", "4913"]


def test_browsing_never_asks_for_names_that_are_not_records(fake, mnt):
    mark = fake.mark()
    # a file manager's browse: the root, each collection, every file
    run("ls", "-la", mnt.mnt)
    for c in COLLECTIONS:
        assert run("ls", "-la", mnt.path(c)).returncode == 0
        for n in os.listdir(mnt.path(c)):
            os.stat(mnt.path(c, n))
    # and the names desktops and shells probe
    for d in [mnt.mnt] + [mnt.path(c) for c in COLLECTIONS]:
        for p in PROBES + ["abc.json", "17.txt", "%41.json", "x.pdf~", "#1.json#", ".1.json.swp"]:
            assert not os.path.exists(os.path.join(d, p))
    reqs = fake.since(mark)
    # one listing per collection and nothing else
    assert sorted(r["path"].split("?")[0].rsplit("/", 1)[-1] for r in reqs) == sorted(COLLECTIONS)
    for r in reqs:
        for p in PROBES:
            assert p not in r["path"]


def test_missing_record_is_enoent_without_a_call(fake, mnt):
    os.listdir(mnt.path("clients"))
    mark = fake.mark()
    assert not os.path.exists(mnt.path("clients", "999999.json"))
    with pytest.raises(FileNotFoundError):
        open(mnt.path("clients", "999999.json"))
    assert fake.since(mark) == []
