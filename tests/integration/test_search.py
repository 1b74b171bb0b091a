"""search/: the service's search as directories (docs/SEMANTICS.md, "Search").

search/<area>/<query>/ asks every field, search/<area>/<field>=<query>/ one; its
entries are symlinks to the records found (../../../<area>/<stem>.json, and .pdf for
invoices).  One call per query and TTL; a name that can be no query is never sent; the
records found open without listing their collection.  The oracle for what matches is
the fake's own search (its reading: a case-insensitive substring), asked over HTTP.
"""
import base64
import errno
import json
import os
import urllib.parse
import urllib.request

import pytest

from harness import APIKEY, USER, Fake, listing_calls, save, wait_for

AREAS = ["clients", "products", "invoices", "invoices_saved", "invoices_repeated"]


def api_get(fake, path):
    req = urllib.request.Request(fake.url + path, headers={
        "Authorization": "Basic " + base64.b64encode(f"{USER}:{APIKEY}".encode()).decode()})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def searches(reqs):
    """The paths (decoded no further) of the search calls among @reqs."""
    return [r["path"][len("/api/v1/"):] for r in reqs
            if r["method"] == "GET" and r["path"].startswith("/api/v1/search/")]


def stem(ident):
    """The file-name stem of an identifier (base/names.h): '/' and '%' escaped."""
    s = ident.replace("%", "%25").replace("/", "%2F")
    return "%2E" + s[1:] if s.startswith(".") else s


@pytest.fixture
def big(workdir):
    """Thousands of clients: finding one must not list them."""
    f = Fake(workdir, "--generate", "clients=3000,invoices=60,products=10")
    yield f
    f.stop()


def test_search_dir_lists_areas_and_queries_made(fake, mounts):
    m = mounts(fake)
    assert sorted(os.listdir(m.path("search"))) == sorted(AREAS)
    assert "search" in os.listdir(m.mnt)
    # Nothing asked yet: no query to show, and listing it costs no call.
    mark = fake.mark()
    assert os.listdir(m.path("search", "clients")) == []
    assert fake.since(mark) == []
    os.listdir(m.path("search", "clients", "zwolle"))
    os.listdir(m.path("search", "clients", "city=Arnhem"))
    assert sorted(os.listdir(m.path("search", "clients"))) == ["city=Arnhem", "zwolle"]
    assert os.listdir(m.path("search", "products")) == []


def test_a_query_is_one_call_and_its_links_open_the_records(big, mounts):
    m = mounts(big)
    client = big.state("clients")[1234]
    who = client["company"] or client["contact"]
    want = {r["clientnr"] for r in api_get(big, "search/clients/all/" +
                                           urllib.parse.quote(who, safe=""))}
    assert client["clientnr"] in want
    mark = big.mark()
    d = m.path("search", "clients", stem(who))
    names = os.listdir(d)
    assert sorted(names) == sorted(f"{nr}.json" for nr in want)
    for n in names:
        assert os.readlink(os.path.join(d, n)) == f"../../../clients/{n}"
    # Follow one: the record's own file, as clients/ shows it.
    with open(os.path.join(d, f"{client['clientnr']}.json"), encoding="utf-8") as fh:
        rec = json.load(fh)
    assert rec["clientnr"] == int(client["clientnr"])
    assert (rec["company"] or rec["contact"]) == who
    os.stat(m.path("clients", f"{client['clientnr']}.json"))
    # Again, in the other spelling, and ls -l: still one call, and no listing of 3,000.
    assert sorted(os.listdir(m.path("search", "clients", "all=" + stem(who)))) == sorted(names)
    for n in names:
        os.lstat(os.path.join(d, n))
    reqs = big.since(mark)
    assert searches(reqs) == ["search/clients/all/" + urllib.parse.quote(who, safe="")]
    assert listing_calls(reqs, "clients") == []
    assert [r for r in reqs if r["path"].startswith("/api/v1/clients")] == []


def test_field_queries_and_invoice_pdfs(fake, mounts):
    m = mounts(fake)
    inv = next(i for i in fake.state("invoices") if "/" in i["invoicenr"])
    nr = inv["invoicenr"]
    want = {i["invoicenr"] for i in
            api_get(fake, "search/invoices/invoicenr/" + urllib.parse.quote(nr, safe=""))}
    mark = fake.mark()
    d = m.path("search", "invoices", "invoicenr=" + stem(nr))
    names = set(os.listdir(d))
    assert names == {stem(x) + ext for x in want for ext in (".json", ".pdf")}
    assert os.readlink(os.path.join(d, stem(nr) + ".pdf")) == f"../../../invoices/{stem(nr)}.pdf"
    with open(os.path.join(d, stem(nr) + ".pdf"), "rb") as fh:
        assert fh.read(5) == b"%PDF-"
    with open(os.path.join(d, stem(nr) + ".json"), encoding="utf-8") as fh:
        assert json.load(fh)["invoicenr"] == nr
    reqs = fake.since(mark)
    # The '/' of the number went as %2F; the PDF is its own call; no listing at all.
    assert searches(reqs) == ["search/invoices/invoicenr/" + nr.replace("/", "%2F")]
    assert [r["path"] for r in reqs if "invoices_pdf" in r["path"]] == \
        ["/api/v1/invoices_pdf/" + urllib.parse.quote(nr, safe="")]
    assert listing_calls(reqs, "invoices") == []


@pytest.mark.parametrize("name,sent", [
    ("a b", "search/clients/all/a%20b"),
    ("100%25", "search/clients/all/100%25"),
    ("Çelik", "search/clients/all/%C3%87elik"),
    ("%2Enet", "search/clients/all/.net"),
    ("all=x=y", "search/clients/all/x%3Dy"),
    ("email=pete@acme.com", "search/clients/email/pete%40acme.com"),
])
def test_queries_are_escaped_for_the_url(fake, mounts, name, sent):
    m = mounts(fake)
    mark = fake.mark()
    os.listdir(m.path("search", "clients", name))
    assert searches(fake.since(mark)) == [sent]


def test_decimals_go_with_a_dot(fake, mounts):
    m = mounts(fake)
    inv = fake.state("invoices")[3]
    total = inv["totalintax"]
    mark = fake.mark()
    names = os.listdir(m.path("search", "invoices", "totalintax=" + total.replace(".", ",")))
    assert stem(inv["invoicenr"]) + ".json" in names
    assert searches(fake.since(mark)) == ["search/invoices/totalintax/" + total]


@pytest.mark.parametrize("name", [
    ".hidden", ".git", ".Trash-1000", "desktop.ini", "autorun.inf", "Thumbs.db",
    "folder.jpg", "4913", "notes.txt~", "x.swp", "#x#",
    "nosuchfield=x", "city=", "=x", "50%", "%2e", "%09",
    "x" * 101,
])
def test_names_that_are_no_query_are_never_sent(fake, mounts, name):
    m = mounts(fake)
    assert os.path.isdir(m.path("search", "clients"))
    mark = fake.mark()
    for _ in range(2):
        with pytest.raises(FileNotFoundError):
            os.stat(m.path("search", "clients", name))
    assert fake.since(mark) == []


def test_a_field_of_another_area_is_no_query(fake, mounts):
    m = mounts(fake)
    mark = fake.mark()
    with pytest.raises(FileNotFoundError):
        os.listdir(m.path("search", "products", "city=Zwolle"))
    os.listdir(m.path("search", "products", "code=P"))
    assert searches(fake.since(mark)) == ["search/products/code/P"]


@pytest.mark.parametrize("reading", ["list", "404"])
def test_no_match_is_an_empty_directory_either_way(workdir, mounts, reading):
    f = Fake(workdir, "--generate", "clients=6,invoices=6,products=6", "--search-empty", reading)
    try:
        m = mounts(f)
        mark = f.mark()
        d = m.path("search", "clients", "zzqx-no-such-client")
        assert os.listdir(d) == []
        assert os.path.isdir(d)
        assert len(searches(f.since(mark))) == 1
        assert m.status()["errors_total"] == 0
    finally:
        f.stop()


def test_search_is_read_only(fake, mounts):
    m = mounts(fake)
    d = m.path("search", "clients", "zwolle")
    os.listdir(d)
    # A name to make there is a query already (one call, as any lookup of it).
    with pytest.raises(FileExistsError):
        os.mkdir(m.path("search", "clients", "new"))
    mark = fake.mark()
    for fn in (lambda: os.mkdir(m.path("search", "clients", "new")),
               lambda: os.rmdir(m.path("search", "clients", "new")),
               lambda: os.mkdir(os.path.join(d, "x")),
               lambda: open(os.path.join(d, "x.json"), "w"),
               lambda: os.symlink("../../../clients/1.json", os.path.join(d, "1.json"))):
        with pytest.raises(OSError) as e:
            fn()
        assert e.value.errno in (errno.EPERM, errno.EACCES, errno.EEXIST, errno.EROFS)
    assert fake.since(mark) == []


def test_a_found_record_saves_through_its_link(acct, mounts):
    m = mounts(acct)
    client = acct.state("clients")[2]
    d = m.path("search", "clients", "clientnr=" + client["clientnr"])
    path = os.path.join(d, client["clientnr"] + ".json")
    with open(path, encoding="utf-8") as fh:
        rec = json.load(fh)
    rec["city"] = "Gevonden"
    assert save(path, json.dumps(rec)) == 0
    puts = [r for r in acct.requests() if r["method"] == "PUT"]
    assert puts and puts[-1]["path"] == "/api/v1/clients/" + client["clientnr"]
    assert acct.state("clients")[2]["city"] == "Gevonden"
    # What the file shows now is the service's new record.
    with open(m.path("clients", client["clientnr"] + ".json"), encoding="utf-8") as fh:
        assert json.load(fh)["city"] == "Gevonden"


def test_the_answer_is_kept_for_the_ttl(workdir, mounts):
    f = Fake(workdir, "--generate", "clients=20,invoices=6,products=6")
    try:
        m = mounts(f, opts=["ttl=1"])
        d = m.path("search", "clients", "city=Zwolle")
        mark = f.mark()
        os.listdir(d)
        os.listdir(d)
        assert len(searches(f.since(mark))) == 1
        # A client moved to Zwolle behind our back shows once the TTL is over.
        c = f.state("clients")[0]
        c["city"] = "Zwolle"
        f.put_state("clients", c["clientnr"], c)
        wait_for(lambda: c["clientnr"] + ".json" in os.listdir(d), "the next answer")
        assert len(searches(f.since(mark))) >= 2
    finally:
        f.stop()
