"""Views, spreadsheet exports and extended attributes (docs/SEMANTICS.md, "Views",
"Exports", "Extended attributes").

The oracles are independent of src/ and of the fake's own filter table: what the
status views must hold on a generated account is what the service answers to
`invoices?filter=<f>` (asked here over HTTP), and the filters' definitions themselves are
checked on a small fixed account whose results are written out by hand below."""
import base64
import csv
import datetime
import errno
import io
import json
import os
import shutil
import urllib.request

import pytest

from expected import file_stem, invoice_day
from harness import APIKEY, USER, Fake, Mount, listing_calls, run

# The API's filters (net's InvoiceFilters), in the order the status
# xattr and the CSV list them.
FILTERS = ("open", "overdue", "sent", "partly", "toomuch", "paid", "uncollectible")


def today():
    return datetime.date.today().isoformat()


def links(stems):
    return {s + ext for s in stems for ext in (".json", ".pdf")}


def api_get(fake, path):
    """An API call of our own, as a client library makes it."""
    req = urllib.request.Request(fake.url + path, headers={
        "Authorization": "Basic " + base64.b64encode(f"{USER}:{APIKEY}".encode()).decode()})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def service_filters(fake):
    """{filter: set of invoicenr} as the service answers `invoices?filter=<f>`."""
    return {f: {i["invoicenr"] for i in api_get(fake, f"invoices?filter={f}&count=100000")}
            for f in FILTERS}


def status_in(filters, nr):
    return ",".join(f for f in FILTERS if nr in filters[f])


def client_dirname(nr, client):
    name = client.get("company") or client.get("contact") or ""
    return f"{nr} - {file_stem(name)}" if name else str(nr)


@pytest.fixture(scope="module")
def vmnt(fake, workdir):
    m = Mount(fake, workdir, opts=["ttl=3600"])
    yield m
    assert m.unmount() == 0


@pytest.fixture(scope="module")
def filters(fake):
    return service_filters(fake)


def test_root_has_views_and_exports(vmnt):
    names = os.listdir(vmnt.mnt)
    assert "views" in names and "exports" in names
    assert sorted(os.listdir(vmnt.path("views"))) == ["client", "quarter", "status", "year"]
    # the quarters' exports are test_quarter.py's
    assert sorted(n for n in os.listdir(vmnt.path("exports")) if not n.startswith("btw-")) == \
        ["clients.csv", "clients.xlsx", "invoices.csv", "invoices.xlsx"]
    for d in ("views", "views/status", "views/year", "views/client", "views/quarter", "exports"):
        assert os.stat(vmnt.path(d)).st_mode & 0o7777 == 0o700


def test_status_views_equal_the_api_filters(fake, vmnt, filters):
    assert sorted(os.listdir(vmnt.path("views", "status"))) == sorted(FILTERS)
    nonempty = 0
    for f in FILTERS:
        want = links(file_stem(nr) for nr in filters[f])
        got = set(os.listdir(vmnt.path("views", "status", f)))
        assert got == want, f
        nonempty += bool(want)
    assert nonempty >= 3, "the generated account exercises several filters"


# -- the filters' definitions, on a fixed account ---------------------------------------
# One invoice per case, total 100.00 (J: a credit note), due long ago (2020) or far ahead
# (2099), so that "overdue" does not depend on the day the test runs.
#   nr  sent        open    due         uncollectible
FIXED = [
    ("A", "2024-01-10", "100.00", "2020-01-24", ""),            # open, overdue, sent
    ("B", "2024-01-10", "100.00", "2099-12-31", ""),            # open, sent
    ("C", "",           "100.00", "2099-12-31", ""),            # open
    ("D", "2024-01-10", "40.00",  "2099-12-31", ""),            # open, partly
    ("E", "2024-01-10", "40.00",  "2020-01-24", ""),            # open, overdue, partly
    ("F", "2024-01-10", "0.00",   "2020-01-24", ""),            # paid
    ("G", "2024-01-10", "-5.00",  "2020-01-24", ""),            # toomuch
    ("H", "2024-01-10", "100.00", "2020-01-24", "2024-03-01"),  # uncollectible
    ("I", "2024-01-10", "0.00",   "2020-01-24", "2024-03-01"),  # uncollectible
    ("J", "2024-01-10", "-50.00", "2099-12-31", ""),            # toomuch (total -50.00)
]
# Written out by hand from the definitions in docs/SEMANTICS.md ("Views"):
FIXED_EXPECTED = {
    "open": {"A", "B", "C", "D", "E"},
    "overdue": {"A", "E"},
    "sent": {"A", "B"},
    "partly": {"D", "E"},
    "toomuch": {"G", "J"},
    "paid": {"F"},
    "uncollectible": {"H", "I"},
}
FIXED_STATUS = {"A": "open,overdue,sent", "B": "open,sent", "C": "open", "D": "open,partly",
                "E": "open,overdue,partly", "F": "paid", "G": "toomuch", "H": "uncollectible",
                "I": "uncollectible", "J": "toomuch"}


def fixed_account(path):
    invoices = []
    for n, (nr, sent, open_, due, unc) in enumerate(FIXED, 1):
        total = "-50.00" if nr == "J" else "100.00"
        invoices.append({"id": str(n), "invoicenr": "F-" + nr, "clientnr": "1",
                         "company": "Vast B.V.", "date": "2024-01-10", "sent": sent,
                         "open": open_, "totalintax": total, "duedate": due,
                         "uncollectible": unc,
                         "paiddate": "2024-02-01" if open_ == "0.00" else "",
                         "lines": [{"amount": 1, "description": "x", "tax_rate": 0,
                                    "price": float(total)}]})
    with open(path, "w") as f:
        json.dump({"clients": [{"clientnr": "1", "company": "Vast B.V."}],
                   "products": [], "invoices": invoices}, f)
    return path


def test_filters_by_hand_on_a_fixed_account(workdir, tmp_path, mounts):
    """Each filter's directory (the service's answer), each invoice's status xattr and
    its CSV status column (factuurfs' own reading) against results written by hand."""
    f = Fake(workdir, "--data", fixed_account(str(tmp_path / "fixed.json")))
    try:
        assert {i["invoicenr"] for i in f.state("invoices")} == {"F-" + n for n, *_ in FIXED}
        m = mounts(f)
        for flt, want in FIXED_EXPECTED.items():
            assert {nr for nr, st in FIXED_STATUS.items() if flt in st.split(",")} == want
            assert set(os.listdir(m.path("views", "status", flt))) == \
                links("F-" + n for n in want), flt
        for nr, want in FIXED_STATUS.items():
            got = os.getxattr(m.path("invoices", f"F-{nr}.json"), "user.factuurfs.status")
            assert got.decode() == want, nr
        rows = read_csv(m.path("exports", "invoices.csv"))
        col = rows[0].index("status")
        status = {r[0]: r[col] for r in rows[1:]}
        assert status == {"F-" + nr: want for nr, want in FIXED_STATUS.items()}
    finally:
        f.stop()


def test_year_views_group_by_invoice_date(fake, vmnt):
    """The invoices of a year are those dated in it (docs/SEMANTICS.md, "Dates"): the
    fake's invoices carry no `date`, as the live service's: `sent`, else the first
    dated event of `history`.  One with neither is in no year."""
    invoices = fake.state("invoices")
    assert not any("date" in i for i in invoices)
    assert any(not i["sent"] and invoice_day(i) for i in invoices), "one dated by its history"
    years = {}
    for i in invoices:
        if invoice_day(i):
            years.setdefault(invoice_day(i)[:4], set()).add(file_stem(i["invoicenr"]))
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
    d = vmnt.path("views", "year", invoice_day(inv)[:4])
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
    csv_ = vmnt.path("exports", "invoices.csv")
    ops = {"create": lambda: open(os.path.join(d, "new.json"), "w"),
           "create a scratch name": lambda: open(os.path.join(d, "notes.txt"), "w"),
           "unlink": lambda: os.unlink(os.path.join(d, name)),
           "rename": lambda: os.rename(os.path.join(d, name), os.path.join(d, "x.json")),
           "rename out": lambda: os.rename(os.path.join(d, name), vmnt.path("invoices", name)),
           "link": lambda: os.link(vmnt.path("invoices", name), os.path.join(d, "l.json")),
           "mkdir": lambda: os.mkdir(os.path.join(d, "x")),
           "rmdir": lambda: os.rmdir(d),
           "symlink": lambda: os.symlink("x", os.path.join(d, "y")),
           "mkdir in views/status": lambda: os.mkdir(vmnt.path("views", "status", "mine")),
           "write an export": lambda: open(csv_, "w"),
           "unlink an export": lambda: os.unlink(csv_),
           "rename an export": lambda: os.rename(csv_, vmnt.path("exports", "x.csv"))}
    for what, op in ops.items():
        with pytest.raises(OSError) as e:
            op()
        assert e.value.errno == errno.EPERM, what
    assert name in os.listdir(d) and os.path.getsize(csv_) > 0


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


def test_invoices_csv_has_one_row_per_invoice(fake, vmnt, filters):
    rows = read_csv(vmnt.path("exports", "invoices.csv"))
    assert rows[0] == ["invoicenr", "date", "duedate", "clientnr", "company", "contact",
                       "totalintax", "open", "paiddate", "sent", "status", "ledger"]
    got = {r[0]: r for r in rows[1:]}
    invoices = fake.state("invoices")
    # ledger: the general-ledger account of the invoice's category (categories/)
    ledger = {c["id"]: c["ledger"] for c in fake.state("categories")}
    assert len(rows) - 1 == len(invoices) == len(got)
    for i in invoices:
        want = [cell(i["invoicenr"], True), invoice_day(i), i["duedate"], str(int(i["clientnr"])),
                cell(i["company"], True), cell(i["contact"], True), money(i["totalintax"]),
                money(i["open"]), i["paiddate"], i["sent"], status_in(filters, i["invoicenr"]),
                ledger.get(i["category"], "")]
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


def test_xattrs_of_invoice_files(fake, vmnt, filters):
    names = ["user.factuurfs." + n for n in ("status", "total", "duedate", "client", "fetched")]
    clients = {int(c["clientnr"]): c for c in fake.state("clients")}
    for i in fake.state("invoices")[:40]:
        for ext in (".json", ".pdf"):
            p = vmnt.path("invoices", file_stem(i["invoicenr"]) + ext)
            assert sorted(os.listxattr(p)) == sorted(names)
            x = {n[len("user.factuurfs."):]: os.getxattr(p, n).decode() for n in names}
            assert x["status"] == status_in(filters, i["invoicenr"])
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
    # records and collection directories carry only when they were listed
    fetched = ["user.factuurfs.fetched"]
    for q, names in ((client, fetched), (vmnt.path("balance.json"), fetched),
                     (vmnt.path("clients"), fetched),
                     (vmnt.path("exports", "invoices.csv"), []), (vmnt.path("views"), [])):
        assert os.listxattr(q) == names, q
        with pytest.raises(OSError) as e:
            os.getxattr(q, "user.factuurfs.status")
        assert e.value.errno == errno.ENODATA
    with pytest.raises(OSError) as e:
        os.getxattr(p, "user.factuurfs.nothing")
    assert e.value.errno == errno.ENODATA


def test_getfattr_and_setfattr(fake, vmnt, filters):
    """The commands a user types: getfattr shows them, setfattr is refused clearly;
    names outside user.* are not supported (ls -l stops asking after one try)."""
    i = fake.state("invoices")[2]
    p = vmnt.path("invoices", file_stem(i["invoicenr"]) + ".pdf")
    r = run("getfattr", "-d", p)
    assert r.returncode == 0
    assert f'user.factuurfs.total="{money(i["totalintax"])}"' in r.stdout
    assert f'user.factuurfs.status="{status_in(filters, i["invoicenr"])}"' in r.stdout
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
              ("views", "client", "17-Acme"), ("exports", "x.csv"), ("exports", "x.xlsx"),
              ("views", "quarter", "2024-Q0"), ("exports", "btw-2024-Q9.csv"),
              ("views", "status", "open", "x.txt"), ("views", "status", "open", ".hidden.json"),
              ("views", "status", "open", "desktop.ini")):
        assert not os.path.lexists(m.path(*p)), p
    assert fake.since(mark) == []
    # a listed root and a cold `ls -l views/status` are free too
    run("ls", "-l", m.mnt, m.path("views"), m.path("views", "status"))
    assert fake.since(mark) == []


def test_cold_browse_of_every_view_and_export_is_counted(workdir, mounts):
    """The whole of views/ and exports/ (every .csv and .xlsx, the quarters' too): one
    call per status filter, one for the invoices listing, one for the clients listing
    and one for the categories (the ledger column of invoices.csv), plus the mount's
    check."""
    f = Fake(workdir, "--generate", "clients=40,invoices=300,products=5")
    try:
        mark = f.mark()
        m = mounts(f)
        dirs = [m.path("views", "status", s) for s in FILTERS]
        for g in ("year", "client", "quarter"):
            dirs += [m.path("views", g, d) for d in sorted(os.listdir(m.path("views", g)))]
        r = run("ls", "-l", *dirs)
        assert r.returncode == 0, r.stderr
        nlinks = 0
        for d in dirs:
            for n in os.listdir(d):
                assert os.readlink(os.path.join(d, n)).startswith("../../../invoices/")
                nlinks += 1
        for n in os.listdir(m.path("exports")):
            open(m.path("exports", n), "rb").read()
        reqs = f.since(mark)
        paths = sorted(r["path"] for r in reqs)
        # (+ categories: the ledger column of invoices.csv)
        assert len(reqs) == 1 + len(FILTERS) + 3 == 11, paths
        assert len(listing_calls(reqs, "invoices")) == 1 + len(FILTERS)
        assert len(listing_calls(reqs, "clients")) == 1
        assert len(listing_calls(reqs, "categories")) == 1
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
    is_open = service_filters(acct)["open"]
    inv = next(i for i in acct.state("invoices") if i["invoicenr"] in is_open)
    stem = file_stem(inv["invoicenr"])
    assert stem + ".json" in os.listdir(m.path("views", "status", "open"))
    with open(m.path("invoices_payment", stem + ".json"), "w") as f:
        f.write('{"amount": %s, "date": "%s"}' % (inv["open"], today()))
    assert stem + ".json" in os.listdir(m.path("views", "status", "paid"))
    assert stem + ".json" not in os.listdir(m.path("views", "status", "open"))
    # xattrs show the listing held (no call of their own): list it again first
    os.listdir(m.path("invoices"))
    assert os.getxattr(m.path("invoices", stem + ".json"), "user.factuurfs.status") == b"paid"
