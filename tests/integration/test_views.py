"""Views, spreadsheet exports and extended attributes (docs/SEMANTICS.md, "Views",
"Exports", "Extended attributes"), checked against the fake's own data."""
import csv
import datetime
import errno
import io
import os
import shutil
import sys

import pytest

from expected import file_stem
from harness import Fake, listing_calls, run

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "fakeapi"))
from fakeapi import WIRE, invoice_matches  # noqa: E402  the filters' one definition

FILTERS = WIRE["filters"]


def today():
    return datetime.date.today().isoformat()


def links(stems):
    return {s + ext for s in stems for ext in (".json", ".pdf")}


def status_of(inv):
    return ",".join(f for f in FILTERS if invoice_matches(inv, f, today()))


def client_dirname(nr, client):
    name = client.get("company") or client.get("contact") or ""
    return f"{nr} - {file_stem(name)}" if name else str(nr)


@pytest.fixture(scope="module")
def vmnt(fake, workdir):
    from harness import Mount
    m = Mount(fake, workdir, opts=["ttl=3600"])
    yield m
    assert m.unmount() == 0


def test_root_has_views_and_exports(vmnt):
    names = os.listdir(vmnt.mnt)
    assert "views" in names and "exports" in names
    assert sorted(os.listdir(vmnt.path("views"))) == ["client", "status", "year"]
    assert sorted(os.listdir(vmnt.path("exports"))) == ["clients.csv", "invoices.csv"]
    for d in ("views", "views/status", "views/year", "views/client", "exports"):
        assert os.stat(vmnt.path(d)).st_mode & 0o7777 == 0o700


def test_status_views_equal_the_api_filters(fake, vmnt):
    invoices = fake.state("invoices")
    assert sorted(os.listdir(vmnt.path("views", "status"))) == sorted(FILTERS)
    nonempty = 0
    for f in FILTERS:
        want = links(file_stem(i["invoicenr"]) for i in invoices if invoice_matches(i, f, today()))
        got = set(os.listdir(vmnt.path("views", "status", f)))
        assert got == want, f
        nonempty += bool(want)
    assert nonempty >= 3, "the generated account exercises several filters"


def test_year_views_group_by_invoice_date(fake, vmnt):
    invoices = fake.state("invoices")
    years = {}
    for i in invoices:
        if i.get("date"):
            years.setdefault(i["date"][:4], set()).add(file_stem(i["invoicenr"]))
    assert sorted(os.listdir(vmnt.path("views", "year"))) == sorted(years)
    for y, stems in years.items():
        assert set(os.listdir(vmnt.path("views", "year", y))) == links(stems)


def test_client_views_hold_each_clients_invoices(fake, vmnt):
    clients = {int(c["clientnr"]): c for c in fake.state("clients")}
    want = {client_dirname(nr, c): set() for nr, c in clients.items()}
    for i in fake.state("invoices"):
        nr = int(i["clientnr"])
        want.setdefault(client_dirname(nr, clients.get(nr, i)), set()).add(file_stem(i["invoicenr"]))
    assert sorted(os.listdir(vmnt.path("views", "client"))) == sorted(want)
    for d, stems in want.items():
        assert set(os.listdir(vmnt.path("views", "client", d))) == links(stems), d


def test_view_entries_are_relative_symlinks_that_cp_L_follows(fake, vmnt, tmp_path):
    inv = next(i for i in fake.state("invoices") if "/" in i["invoicenr"])
    stem = file_stem(inv["invoicenr"])
    d = vmnt.path("views", "year", inv["date"][:4])
    for ext in (".json", ".pdf"):
        p = os.path.join(d, stem + ext)
        st = os.lstat(p)
        assert st.st_mode == 0o120777
        target = f"../../../invoices/{stem}{ext}"
        assert os.readlink(p) == target and st.st_size == len(target)
        r = run("cp", "-L", p, str(tmp_path / ("x" + ext)))
        assert r.returncode == 0, r.stderr
    with open(vmnt.path("invoices", stem + ".json"), "rb") as f:
        assert (tmp_path / "x.json").read_bytes() == f.read()
    assert (tmp_path / "x.pdf").read_bytes() == fake.pdf(inv["invoicenr"])
    # every link of every view resolves to a record file
    for root, dirs, files in os.walk(vmnt.path("views")):
        for n in files:
            assert os.path.isfile(os.path.join(root, n)), os.path.join(root, n)


def test_views_refuse_changes(vmnt):
    d = vmnt.path("views", "status", "paid")
    name = sorted(os.listdir(d))[0]
    for op in (lambda: open(os.path.join(d, "new.json"), "w"),
               lambda: os.unlink(os.path.join(d, name)),
               lambda: os.mkdir(os.path.join(d, "x")),
               lambda: os.symlink("x", os.path.join(d, "y")),
               lambda: open(vmnt.path("exports", "invoices.csv"), "w")):
        with pytest.raises(OSError) as e:
            op()
        assert e.value.errno in (errno.EPERM, errno.EACCES), op


def read_csv(path):
    with open(path, "rb") as f:
        raw = f.read()
    assert os.stat(path).st_size == len(raw)
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 byte-order mark"
    body = raw[3:].decode("utf-8")
    assert body.endswith("\r\n") and "\n" not in body.replace("\r\n", ""), "CRLF line ends"
    return list(csv.reader(io.StringIO(body, newline="")))


def cell(v, text=False):
    v = "" if v is None else str(v)
    return "'" + v if text and v[:1] in ("=", "+", "-", "@") else v


def money(v):
    return "%.2f" % (float(v) + 0.0) if v not in ("", None) else ""


def test_invoices_csv_has_one_row_per_invoice(fake, vmnt):
    rows = read_csv(vmnt.path("exports", "invoices.csv"))
    assert rows[0] == ["invoicenr", "date", "duedate", "clientnr", "company", "contact",
                       "totalintax", "open", "paiddate", "sent", "status"]
    got = {r[0]: r for r in rows[1:]}
    invoices = fake.state("invoices")
    assert len(rows) - 1 == len(invoices) == len(got)
    for i in invoices:
        want = [cell(i["invoicenr"], True), i["date"], i["duedate"], str(int(i["clientnr"])),
                cell(i["company"], True), cell(i["contact"], True), money(i["totalintax"]),
                money(i["open"]), i["paiddate"], i["sent"], status_of(i)]
        assert got[i["invoicenr"]] == want, i["invoicenr"]


def test_clients_csv_has_one_row_per_client(fake, vmnt):
    rows = read_csv(vmnt.path("exports", "clients.csv"))
    cols = ["clientnr", "company", "contact", "address", "zipcode", "city", "country",
            "email", "phone", "mobile", "taxnumber", "lastinvoice"]
    assert rows[0] == cols
    clients = fake.state("clients")
    assert len(rows) - 1 == len(clients)
    got = {r[0]: r for r in rows[1:]}
    assert any("," in r[3] or '"' in r[1] or any(ord(ch) > 127 for ch in "".join(r))
               for r in rows[1:]), "the data exercises quoting or UTF-8"
    for c in clients:
        nr = str(int(c["clientnr"]))
        want = [nr] + [cell(c.get(k), True) for k in cols[1:6]] + [str(int(c["country"]))] + \
               [cell(c.get(k), True) for k in cols[7:11]] + [c.get("lastinvoice") or ""]
        assert got[nr] == want, nr


def test_csv_quotes_commas_quotes_and_line_breaks(acct, mounts):
    """RFC 4180 quoting, and no formula runs when a spreadsheet opens it."""
    c = acct.state("clients")[0]
    c.update(company='Bakker "De Gouden Korrel", Utrecht', contact="=HYPERLINK(1)",
             address="Straat 1\r\nAchterom")
    acct.put_state("clients", c["clientnr"], c)
    m = mounts(acct)
    raw = open(m.path("exports", "clients.csv"), "rb").read()
    assert b'"Bakker ""De Gouden Korrel"", Utrecht"' in raw
    assert b'"\'=HYPERLINK(1)"' in raw
    rows = read_csv(m.path("exports", "clients.csv"))
    row = next(r for r in rows if r[0] == str(int(c["clientnr"])))
    assert row[1:4] == [c["company"], "'=HYPERLINK(1)", "Straat 1\r\nAchterom"]


def test_xattrs_of_invoice_files(fake, vmnt):
    names = ["user.factuurfs." + n for n in ("status", "total", "duedate", "client", "fetched")]
    clients = {int(c["clientnr"]): c for c in fake.state("clients")}
    for i in fake.state("invoices")[:40]:
        for ext in (".json", ".pdf"):
            p = vmnt.path("invoices", file_stem(i["invoicenr"]) + ext)
            assert sorted(os.listxattr(p)) == sorted(names)
            x = {n[len("user.factuurfs."):]: os.getxattr(p, n).decode() for n in names}
            assert x["status"] == status_of(i)
            assert x["total"] == money(i["totalintax"])
            assert x["duedate"] == i["duedate"]
            nr = int(i["clientnr"])
            assert x["client"] == (f"{nr} - {i['company']}" if i["company"] else str(nr))
            assert nr in clients
            fetched = datetime.datetime.strptime(x["fetched"], "%Y-%m-%dT%H:%M:%SZ")
            age = datetime.datetime.utcnow() - fetched
            assert datetime.timedelta(0) <= age < datetime.timedelta(hours=1)


def test_xattrs_cannot_be_set_and_other_files_have_none(fake, vmnt):
    p = vmnt.path("invoices", file_stem(fake.state("invoices")[0]["invoicenr"]) + ".json")
    with pytest.raises(OSError) as e:
        os.setxattr(p, "user.factuurfs.status", b"paid")
    assert e.value.errno == errno.EPERM
    with pytest.raises(OSError) as e:
        os.removexattr(p, "user.factuurfs.status")
    assert e.value.errno == errno.EPERM
    with pytest.raises(OSError) as e:
        os.setxattr(p, "user.other", b"x")
    assert e.value.errno == errno.ENOTSUP
    client = vmnt.path("clients", str(int(fake.state("clients")[0]["clientnr"])) + ".json")
    for q in (client, vmnt.path("balance.json"), vmnt.path("exports", "invoices.csv"),
              vmnt.path("views")):
        assert os.listxattr(q) == []
        with pytest.raises(OSError) as e:
            os.getxattr(q, "user.factuurfs.status")
        assert e.value.errno == errno.ENODATA
    with pytest.raises(OSError) as e:
        os.getxattr(p, "user.factuurfs.nothing")
    assert e.value.errno == errno.ENODATA


def test_getfattr_and_setfattr(fake, vmnt):
    """The commands a user types: getfattr shows them, setfattr is refused clearly;
    names outside user.* are not supported (ls -l stops asking after one try)."""
    i = fake.state("invoices")[2]
    p = vmnt.path("invoices", file_stem(i["invoicenr"]) + ".pdf")
    r = run("getfattr", "-d", p)
    assert r.returncode == 0
    assert f'user.factuurfs.total="{money(i["totalintax"])}"' in r.stdout
    assert f'user.factuurfs.status="{status_of(i)}"' in r.stdout
    r = run("setfattr", "-n", "user.factuurfs.status", "-v", "paid", p)
    assert r.returncode != 0 and "Operation not permitted" in r.stderr
    with pytest.raises(OSError) as e:
        os.getxattr(p, "security.selinux")
    assert e.value.errno == errno.ENOTSUP


def test_xattrs_make_no_call(fake, vmnt):
    p = vmnt.path("invoices", file_stem(fake.state("invoices")[1]["invoicenr"]) + ".pdf")
    os.listdir(vmnt.path("invoices"))
    mark = fake.mark()
    for n in os.listxattr(p):
        os.getxattr(p, n)
    assert fake.since(mark) == []


def test_names_that_are_not_entries_cost_no_call(fake, mounts):
    m = mounts(fake)
    mark = fake.mark()
    for p in (("views", "nothing"), ("views", "status", "bogus"), ("views", "year", "20x4"),
              ("views", "year", "12345"), ("views", "client", "Acme"),
              ("views", "client", "17-Acme"), ("exports", "x.csv"),
              ("views", "status", "open", "x.txt"), ("views", "status", "open", ".hidden.json"),
              ("views", "status", "open", "desktop.ini")):
        assert not os.path.lexists(m.path(*p)), p
    assert fake.since(mark) == []
    # a listed root and a cold `ls -l views/status` are free too
    run("ls", "-l", m.mnt, m.path("views"), m.path("views", "status"))
    assert fake.since(mark) == []


def test_cold_browse_of_every_view_and_export_is_counted(workdir, mounts):
    """The whole of views/ and exports/: one call per status filter, one for the
    invoices listing and one for the clients listing, plus the mount's check."""
    f = Fake(workdir, "--generate", "clients=40,invoices=300,products=5")
    try:
        mark = f.mark()
        m = mounts(f)
        dirs = [m.path("views", "status", s) for s in FILTERS]
        for g in ("year", "client"):
            dirs += [m.path("views", g, d) for d in sorted(os.listdir(m.path("views", g)))]
        r = run("ls", "-l", *dirs)
        assert r.returncode == 0, r.stderr
        nlinks = 0
        for d in dirs:
            for n in os.listdir(d):
                assert os.readlink(os.path.join(d, n)).startswith("../../../invoices/")
                nlinks += 1
        for n in ("invoices.csv", "clients.csv"):
            read_csv(m.path("exports", n))
        reqs = f.since(mark)
        paths = sorted(r["path"] for r in reqs)
        assert len(reqs) == 1 + len(FILTERS) + 2 == 10, paths
        assert len(listing_calls(reqs, "invoices")) == 1 + len(FILTERS)
        assert len(listing_calls(reqs, "clients")) == 1
        assert sum("filter=" in p for p in paths) == len(FILTERS)
        assert nlinks > 2 * 300
        # and again within the TTL: nothing
        mark = f.mark()
        run("ls", "-lR", m.path("views"), m.path("exports"))
        assert f.since(mark) == []
    finally:
        f.stop()


def test_views_follow_a_change(acct, mounts):
    """A payment moves an invoice between status views, after the TTL or a refresh."""
    m = mounts(acct, opts=["ttl=3600"])
    inv = next(i for i in acct.state("invoices") if invoice_matches(i, "open", today()))
    stem = file_stem(inv["invoicenr"])
    assert stem + ".json" in os.listdir(m.path("views", "status", "open"))
    with open(m.path("invoices_payment", stem + ".json"), "w") as f:
        f.write('{"amount": %s, "date": "%s"}' % (inv["open"], today()))
    assert stem + ".json" in os.listdir(m.path("views", "status", "paid"))
    assert stem + ".json" not in os.listdir(m.path("views", "status", "open"))
    # xattrs show the listing held (no call of their own): list it again first
    os.listdir(m.path("invoices"))
    assert os.getxattr(m.path("invoices", stem + ".json"), "user.factuurfs.status") == b"paid"
