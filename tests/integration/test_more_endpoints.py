"""The rest of the API: quotations/ (and their PDFs), categories/ (and the ledger column
of exports/invoices.csv), invoices_reminder/ (deliberate files only), countrylist in the
user's language, and the other readings of these endpoints, through real mounts; every
call counted in the fake's log."""
import csv
import datetime
import errno
import json
import os
import subprocess
import urllib.parse

import pytest

from expected import expected, file_stem, same
from harness import Fake, listing_calls, run, save

REMINDERS = "invoices_reminder"


def api_path(r):
    """The request's path under /api/v1/, without its query."""
    return urllib.parse.urlsplit(r["path"]).path.split("/api/v1/", 1)[1]


def writes(fake, mark):
    """(method, path) of the requests since @mark that were not GETs."""
    return [(r["method"], api_path(r)) for r in fake.since(mark) if r["method"] != "GET"]


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def last_error(m):
    errs = m.status()["last_errors"]
    return errs[0]["message"] if errs else ""


def first_invoice(fake):
    """An invoice of the account whose number needs no escaping in a file name."""
    return next(i for i in fake.state("invoices") if file_stem(i["invoicenr"]) == i["invoicenr"]
                and "+" not in i["invoicenr"] and " " not in i["invoicenr"])


# ---- quotations and categories: listed with one call each --------------------------------

def test_quotations_and_categories_are_listed_with_one_call_each(fake, mounts):
    m = mounts(fake)
    mark = fake.mark()
    for coll in ("quotations", "categories"):
        wire = fake.state(coll)
        assert wire, f"the generated account has {coll}"
        names = sorted(os.listdir(m.path(coll)))
        jsons = {str(int(w["id"])) + ".json": w for w in wire}
        pdfs = {n[:-5] + ".pdf" for n in jsons} if coll == "quotations" else set()
        assert set(names) == set(jsons) | pdfs
        for name, w in jsons.items():
            got = json.loads(read(m.path(coll, name)))
            exp = expected(coll, w)
            assert set(got) == set(exp), name
            assert all(same(got[k], exp[k]) for k in exp), name
        assert len(listing_calls(fake.since(mark), coll)) == 1, coll
    # one listing call each, and nothing else: no PDF, no GET of one record
    assert [api_path(r) for r in fake.since(mark)] == ["quotations", "categories"]
    # read-only lookup: nothing may be written into categories/
    assert save(m.path("categories", "9.json"), '{"id": 9, "name": "x", "ledger": "1"}') \
        == errno.EPERM
    with pytest.raises(PermissionError):
        os.unlink(m.path("categories", "1.json"))
    assert writes(fake, mark) == []


# ---- a quotation made, edited and deleted -----------------------------------------------

def test_quotation_created_with_cp_edited_with_sed_deleted_with_rm(acct, mounts, tmp_path):
    m = mounts(acct)
    client = acct.state("clients")[0]["clientnr"]
    before = {q["id"] for q in acct.state("quotations")}
    os.listdir(m.path("quotations"))
    src = tmp_path / "offerte.json"
    src.write_text(json.dumps({
        "clientnr": int(client), "quotationreference": "OFF-TEST-1", "category": "2",
        "quotationperiod": 14, "notes": "",
        "lines": [{"amount": 3, "description": "Montage keuken", "tax_rate": 21, "price": 250}],
        "action": "save", "savename": "Keuken"}, indent=2) + "\n")

    # cp: one POST, and the new quotation is listed under its id at once
    mark = acct.mark()
    r = run("cp", str(src), m.path("quotations", "new.json"))
    assert r.returncode == 0, r.stderr
    assert writes(acct, mark) == [("POST", "quotations")]
    made = [q for q in acct.state("quotations") if q["id"] not in before]
    assert len(made) == 1 and made[0]["quotationreference"] == "OFF-TEST-1"
    qid = made[0]["id"]
    assert made[0]["lines"]["line1"]["description"] == "Montage keuken"
    assert made[0]["totalintax"] == "907.50" and made[0]["category"] == "2"
    assert qid + ".json" in os.listdir(m.path("quotations"))
    assert "new.json" not in os.listdir(m.path("quotations"))
    path = m.path("quotations", qid + ".json")
    rec = json.loads(read(path))
    assert rec["id"] == int(qid) and rec["notes"] == "" and rec["totalintax"] == 907.5

    # sed -i: one PUT, carrying the change; the file then shows the service's record
    mark = acct.mark()
    r = run("sed", "-i", 's/"notes": ""/"notes": "Inclusief afvoer oude keuken"/', path)
    assert r.returncode == 0, r.stderr
    assert writes(acct, mark) == [("PUT", "quotations/" + qid)]
    stored = next(q for q in acct.state("quotations") if q["id"] == qid)
    assert stored["notes"] == "Inclusief afvoer oude keuken"
    assert stored["quotationreference"] == "OFF-TEST-1", "the rest of the record kept"
    assert json.loads(read(path))["notes"] == "Inclusief afvoer oude keuken"

    # rm: one DELETE; gone from the service and the directory
    mark = acct.mark()
    os.unlink(path)
    assert writes(acct, mark) == [("DELETE", "quotations/" + qid)]
    assert qid not in {q["id"] for q in acct.state("quotations")}
    assert qid + ".json" not in os.listdir(m.path("quotations"))
    assert qid + ".pdf" not in os.listdir(m.path("quotations"))


def test_quotation_template_as_it_is_sends_nothing(acct, mounts):
    m = mounts(acct)
    os.listdir(m.path("quotations"))
    mark = acct.mark()
    r = run("cp", m.path("templates", "quotations.json"), m.path("quotations", "draft.json"))
    assert r.returncode == 0, r.stderr
    assert writes(acct, mark) == [], "an example is never sent"


# ---- quotation PDFs ---------------------------------------------------------------------

def pdf_ok(path):
    """pdfinfo's verdict (poppler-utils is in scripts/deps.sh)."""
    r = run("pdfinfo", path)
    return r.returncode == 0 and "Pages:" in r.stdout


def test_quotation_pdf_copies_out_as_a_valid_pdf(fake, mounts, tmp_path):
    m = mounts(fake)
    qid = fake.state("quotations")[0]["id"]
    os.listdir(m.path("quotations"))
    mark = fake.mark()
    out = tmp_path / "offerte.pdf"
    r = run("cp", m.path("quotations", qid + ".pdf"), str(out))
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    assert data == fake._get("/_fake/quotation_pdf/" + qid)
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert pdf_ok(str(out))
    assert [(r["method"], api_path(r)) for r in fake.since(mark)] == \
        [("GET", "quotations_pdf/" + qid)]
    # kept: a second copy costs nothing
    mark = fake.mark()
    assert read(m.path("quotations", qid + ".pdf"), "rb") == data
    assert fake.since(mark) == []
    assert os.stat(m.path("quotations", qid + ".pdf")).st_size == len(data)


@pytest.mark.parametrize("where", ["quotations/{id}/pdf", "quotation_pdf/{id}"])
def test_a_quotation_pdf_at_another_path_is_found_once(workdir, mounts, tmp_path, where):
    """The PDF's path is in no source: quotations_pdf/<id> is our reading; a service that
    keeps them elsewhere is found by trying the others, once per mount."""
    f = Fake(workdir, "--generate", "clients=4,invoices=4,products=4,quotations=3",
             "--quotation-pdf-path", where)
    try:
        m = mounts(f)
        ids = [q["id"] for q in f.state("quotations")]
        os.listdir(m.path("quotations"))
        mark = f.mark()
        first = read(m.path("quotations", ids[0] + ".pdf"), "rb")
        assert first == f._get("/_fake/quotation_pdf/" + ids[0])
        other = [p.format(id=ids[0]) for p in ("quotations_pdf/{id}", "quotations/{id}/pdf",
                                                "quotation_pdf/{id}")]
        tried = [(r["status"], api_path(r)) for r in f.since(mark)]
        right = where.format(id=ids[0])
        assert tried[-1] == (200, right)
        assert all(s == 404 for s, _ in tried[:-1]) and tried[0][1] == other[0]
        mark = f.mark()
        second = read(m.path("quotations", ids[1] + ".pdf"), "rb")
        assert second == f._get("/_fake/quotation_pdf/" + ids[1])
        assert [(r["status"], api_path(r)) for r in f.since(mark)] == \
            [(200, where.format(id=ids[1]))], "the path found is kept"
        out = tmp_path / "q.pdf"
        out.write_bytes(second)
        assert pdf_ok(str(out))
        assert last_error(m) == "", "probing is no error"
    finally:
        f.stop()


# ---- reminders ----------------------------------------------------------------------------

def test_a_reminder_from_a_deliberate_file_is_one_request(acct, mounts):
    m = mounts(acct)
    inv = first_invoice(acct)
    nr = inv["invoicenr"]
    assert os.listdir(m.path(REMINDERS)) == [], "write-only: nothing is listed"
    mark = acct.mark()
    body = json.dumps({"invoicenr": nr, "attach_invoice": True}) + "\n"
    r = subprocess.run(["sh", "-c", 'printf %s "$1" > "$2"', "sh", body,
                        m.path(REMINDERS, nr + ".json")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    reqs = acct.since(mark)
    assert [(q["method"], api_path(q), q["status"]) for q in reqs] == \
        [("PUT", f"{REMINDERS}/{nr}", 200)], "one request"
    today = datetime.date.today().isoformat()
    after = next(i for i in acct.state("invoices") if i["invoicenr"] == nr)
    assert after["lastreminder"] == today
    assert any("Herinnering verstuurd met factuur" == h["description"]
               for h in after["history"].values())
    # the name is free again, and the invoice shows its new lastreminder
    assert os.listdir(m.path(REMINDERS)) == []
    assert json.loads(read(m.path("invoices", nr + ".json")))["lastreminder"] == today
    changes = [c["change"] for c in m.status()["last_changes"]]
    assert any(f"sent a reminder of invoice {nr}" in c for c in changes), changes


def test_an_accidental_copy_is_refused_without_a_request(acct, mounts, tmp_path):
    """A reminder e-mails the client: `cp invoices/X.json invoices_reminder/` (which names
    the invoice too) is refused, and so is any file that does not name its invoice."""
    m = mounts(acct)
    inv = first_invoice(acct)
    nr = inv["invoicenr"]
    other = next(i["invoicenr"] for i in acct.state("invoices") if i["invoicenr"] != nr)
    src = m.path("invoices", nr + ".json")
    read(src)  # the invoices listing, before counting
    target = m.path(REMINDERS, nr + ".json")
    mark = acct.mark()
    r = run("cp", src, m.path(REMINDERS) + "/")
    assert r.returncode != 0 and "Invalid argument" in r.stderr, r.stderr
    assert acct.since(mark) == [], "0 requests"
    assert "a copy of another record is never taken for a reminder" in last_error(m)
    os.unlink(target)  # drops the refused text, sends nothing
    for text in ('{"attach_invoice": true}',                               # names none
                 json.dumps({"invoicenr": other, "attach_invoice": True}),   # names another
                 json.dumps({"invoicenr": nr, "attach_invoice": True, "amount": 5})):
        assert save(target, text) == errno.EINVAL, text
        os.unlink(target)
    # the template as it is: kept, not sent
    r = run("cp", m.path("templates", REMINDERS + ".json"), target)
    assert r.returncode == 0, r.stderr
    os.unlink(target)
    assert acct.since(mark) == [], "0 requests"
    after = next(i for i in acct.state("invoices") if i["invoicenr"] == nr)
    assert after["lastreminder"] == inv["lastreminder"] and after["history"] == inv["history"]


@pytest.mark.parametrize("method", ["post", "put"])
def test_the_reminder_as_post_or_put(workdir, mounts, method):
    """The other reading: a service that takes POST invoices_reminder {invoicenr} only
    answers the PUT 405, and the POST follows (answered 201, as every POST); from then on
    the mount sends the POST alone.  One that takes PUT only gets one PUT each time."""
    f = Fake(workdir, "--generate", "clients=4,invoices=6,products=4", "--reminder-method", method)
    try:
        m = mounts(f)
        nr = first_invoice(f)["invoicenr"]
        mark = f.mark()
        for _ in range(2):
            assert save(m.path(REMINDERS, nr + ".json"),
                        json.dumps({"invoicenr": nr, "attach_invoice": False})) == 0
        got = [(r["method"], api_path(r), r["status"]) for r in f.since(mark)
               if r["method"] != "GET"]
        if method == "post":
            assert got == [("PUT", f"{REMINDERS}/{nr}", 405), ("POST", REMINDERS, 201),
                           ("POST", REMINDERS, 201)]
        else:
            assert got == [("PUT", f"{REMINDERS}/{nr}", 200)] * 2
        after = next(i for i in f.state("invoices") if i["invoicenr"] == nr)
        assert after["lastreminder"] == datetime.date.today().isoformat()
    finally:
        f.stop()


# ---- countrylist in the user's language ----------------------------------------------------

def country_name(m, cid):
    return json.loads(read(m.path("countrylist", cid + ".json")))["name"]


def test_countrylist_in_the_users_language(fake, mounts):
    m = mounts(fake, opts=["lang=de"])
    mark = fake.mark()
    assert country_name(m, "50") == "Deutschland"
    assert country_name(m, "1") == "Afghanistan", "a name the language lacks: the service's"
    assert [api_path(r) for r in fake.since(mark)] == ["countrylist/de"]
    # the default comes from $LANG
    m = mounts(fake, env={"LANG": "fr_BE.UTF-8"})
    assert country_name(m, "146") == "Pays-Bas"
    m = mounts(fake, env={"LANG": "en_GB.UTF-8"})
    assert country_name(m, "146") == "Netherlands"
    # a $LANG the service has no list for: its own (Dutch)
    m = mounts(fake, env={"LANG": "pt_PT.UTF-8"})
    mark = fake.mark()
    assert country_name(m, "146") == "Nederland"
    assert [api_path(r) for r in fake.since(mark)] == ["countrylist"]
    # -o lang= outside the list is refused at mount
    with pytest.raises(AssertionError) as e:
        mounts(fake, opts=["lang=pt"])
    assert "lang=pt: the service knows nl, en, de, fr and es" in str(e.value)


def test_countrylist_falls_back_to_the_services_language(workdir, mounts):
    f = Fake(workdir, "--generate", "clients=2,invoices=2,products=2", "--no-countrylist-lang")
    try:
        m = mounts(f, opts=["lang=de"])
        mark = f.mark()
        assert country_name(m, "50") == "Duitsland"
        assert [(api_path(r), r["status"]) for r in f.since(mark)] == \
            [("countrylist/de", 404), ("countrylist", 200)]
        assert last_error(m) == ""
        # for the rest of the mount it asks in the service's language only
        mark = f.mark()
        with open(m.path(".factuurfs", "refresh"), "w") as fh:
            fh.write("\n")
        assert country_name(m, "50") == "Duitsland"
        assert [api_path(r) for r in f.since(mark)] == ["countrylist"]
    finally:
        f.stop()


# ---- the ledger column ---------------------------------------------------------------------

def test_invoices_csv_has_the_ledger_of_each_invoices_category(acct, mounts):
    inv = acct.state("invoices")
    # one invoice names its category by name (the other reading), one an unknown id
    named = dict(inv[0], category="Overige opbrengsten")
    unknown = dict(inv[1], category="99")
    acct.put_state("invoices", named["invoicenr"], named)
    acct.put_state("invoices", unknown["invoicenr"], unknown)
    m = mounts(acct)
    mark = acct.mark()
    with open(m.path("exports", "invoices.csv"), newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert [api_path(r) for r in acct.since(mark)] == ["invoices", "categories"]
    ledgers = {c["id"]: c["ledger"] for c in acct.state("categories")}
    want = {i["invoicenr"]: ledgers.get(i.get("category", ""), "") for i in acct.state("invoices")}
    want[named["invoicenr"]] = "0840"
    want[unknown["invoicenr"]] = ""
    assert {r["invoicenr"]: r["ledger"] for r in rows} == want
    assert any(v for v in want.values()), "the account has invoices with a category"
    assert list(rows[0])[-1] == "ledger"


# ---- the other readings ----------------------------------------------------------------------

def test_bare_answers_wrapped_lists_and_records_fetched_one_by_one(workdir, mounts):
    """GET one answered bare (net's reading), lists wrapped in the collection's name,
    quotations listed without their lines (so each is fetched by GET one)."""
    f = Fake(workdir, "--generate", "clients=4,invoices=4,products=4,quotations=3",
             "--bare-one", "--wrapped-lists", "--list-without-lines")
    try:
        m = mounts(f)
        mark = f.mark()
        for coll in ("quotations", "categories"):
            wire = f.state(coll)
            assert sorted(n for n in os.listdir(m.path(coll)) if n.endswith(".json")) == \
                sorted(str(int(w["id"])) + ".json" for w in wire)
            for w in wire:
                got = json.loads(read(m.path(coll, str(int(w["id"])) + ".json")))
                exp = expected(coll, w)
                assert set(got) == set(exp) and all(same(got[k], exp[k]) for k in exp)
        paths = [api_path(r) for r in f.since(mark)]
        assert paths.count("quotations") == 1 and paths.count("categories") == 1
        assert sorted(p for p in paths if p.startswith("quotations/")) == \
            sorted("quotations/" + w["id"] for w in f.state("quotations"))
    finally:
        f.stop()


def test_empty_quotations_and_categories(workdir, mounts, tmp_path):
    """[] for none: empty directories, one call each; invoices without a category ask for
    no categories, and their ledger column is empty."""
    data = tmp_path / "empty.json"
    data.write_text(json.dumps({
        "clients": [{"clientnr": "1", "company": "Leeg B.V."}],
        "invoices": [{"id": "1", "invoicenr": "2025-0001", "clientnr": "1", "sent": "2025-02-03",
                      "lines": [{"description": "Werk", "price": 100, "tax_rate": 21}]}],
        "quotations": [], "categories": []}))
    f = Fake(workdir, "--data", str(data))
    try:
        m = mounts(f)
        mark = f.mark()
        assert os.listdir(m.path("quotations")) == []
        assert os.listdir(m.path("categories")) == []
        with open(m.path("exports", "invoices.csv"), newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
        assert [r["ledger"] for r in rows] == [""]
        assert sorted(api_path(r) for r in f.since(mark)) == ["categories", "invoices",
                                                             "quotations"]
    finally:
        f.stop()
