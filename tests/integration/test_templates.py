"""templates/: a read-only example record per collection a user can create into, made
from the data dictionary; and docs/FIELDS.md, the field reference made from it too.

The lists of fields below are written out here from docs/API.md ("Fields"), not
read from src/: a template that gains or loses a field fails this test."""
import errno
import json
import os
import re
import subprocess

import pytest

from harness import FACTUURFS, ROOT, run, save

TEMPLATES = ["clients.json", "invoices.json", "invoices_payment.json", "invoices_reminder.json",
             "invoices_saved_send.json", "products.json", "quotations.json"]

# What a user may send when creating, in the order of the files (read-only fields,
# such as clientnr, id, priceintax, totals and the client copies on invoices, never).
CREATE_FIELDS = {
    # address_addon and addon: the official clients page
    "clients": ["contact", "showcontact", "company", "address", "address_addon", "addon",
                "zipcode", "city", "country",
                "phone", "mobile", "email", "email_reminder", "default_email", "bankcode",
                "biccode", "taxnumber", "tax_shifted", "taxtype", "sendmethod",
                "paymentmethod", "top", "stddiscount", "mailintro", "reference", "notes",
                "notes_on_invoice", "active", "defaultdoclang", "defaultcategory",
                "currency", "mandateid", "mandatedate", "collecttype"],
    "products": ["code", "name", "price", "taxes"],
    # no `date`: no invoice of the live service has one (docs/API.md, "The readings")
    "invoices": ["profile", "clientnr", "reference", "invoicenote", "lines",
                 "discounttype", "discount", "paymentcondition", "paymentperiod",
                 "collection", "category", "action", "sendmethod", "savename",
                 "overwrite_if_exist",
                 "convert_prices_to_euro", "initialdate", "finalsenddate", "frequency",
                 "repeattype"],
    # the official payment page: date (required), amount ("full" or a number), method
    "invoices_payment": ["amount", "date", "method"],
    # quotations: php Models/Quotation.php and the official quotation page
    "quotations": ["profile", "clientnr", "reference", "quotationreference", "category",
                   "date", "lines", "discounttype", "discount", "paymentcondition",
                   "quotationperiod", "showtotals", "notes", "customstatus", "approved",
                   "action", "sendmethod", "savename", "overwrite_if_exist",
                   "convert_prices_to_euro"],
    # a reminder names its invoice inside (php Models/invoicesReminder.php)
    "invoices_reminder": ["invoicenr", "attach_invoice"],
    # POST invoices_saved sends a draft: the file names it inside (our reading: `id`)
    "invoices_saved_send": ["id", "sendmethod"],
}
REFERENCE = ["line1", "line2", "line3"]
LINE = ["amount", "amount_desc", "description", "tax_rate", "price", "discount_pct"]
# The JSON type of each field as a file holds it: str, int, float (int or float),
# bool, date (str or None), dict, list.
TYPES = {
    "str": {"contact", "company", "address", "zipcode", "city", "phone", "mobile", "email",
            "email_reminder", "bankcode", "biccode", "taxnumber", "taxtype", "sendmethod",
            "paymentmethod", "mailintro", "notes", "defaultdoclang", "defaultcategory",
            "currency", "mandateid", "collecttype", "code", "name", "invoicenote",
            "discounttype", "paymentcondition", "action", "savename", "frequency",
            "repeattype", "amount_desc", "description", "line1", "line2", "line3",
            "category", "quotationreference", "customstatus", "invoicenr", "address_addon",
            "addon", "method"},
    "int": {"country", "default_email", "top", "taxes", "profile", "clientnr",
            "paymentperiod", "quotationperiod", "id"},
    # a payment's amount: a number, or the word "full"
    "float_or_full": {"amount"},
    "float": {"stddiscount", "price", "discount", "tax_rate", "discount_pct"},
    "bool": {"showcontact", "tax_shifted", "notes_on_invoice", "active", "collection",
             "overwrite_if_exist", "convert_prices_to_euro", "showtotals", "approved",
             "attach_invoice"},
    "date": {"mandatedate", "date", "initialdate", "finalsenddate"},
    "dict": {"reference"},
    "list": {"lines"},
}


def of_type(name, v):
    kind = next(k for k, names in TYPES.items() if name in names)
    return {"str": isinstance(v, str),
            "int": isinstance(v, int) and not isinstance(v, bool),
            "float": isinstance(v, (int, float)) and not isinstance(v, bool),
            "float_or_full": v == "full" or (isinstance(v, (int, float)) and not isinstance(v, bool)),
            "bool": isinstance(v, bool),
            "date": v is None or (isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d-\d\d", v)),
            "dict": isinstance(v, dict),
            "list": isinstance(v, list)}[kind]


def writes(fake, mark):
    """The non-GET requests since @mark, (method, path), after checking that the fake
    accepted each."""
    reqs = [r for r in fake.since(mark) if r["method"] != "GET"]
    assert all(200 <= r["status"] <= 299 for r in reqs), reqs
    return [(r["method"], r["path"].split("?")[0].replace("/api/v1/", "")) for r in reqs]


def last_error(m):
    errs = m.status()["last_errors"]
    return errs[0]["message"] if errs else ""


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def stem(ident):
    return ident.replace("%", "%25").replace("/", "%2F")


# ---- reading: no calls -------------------------------------------------------------------

def test_listing_and_reading_templates_costs_no_call(fake, mounts):
    m = mounts(fake)
    mark = fake.mark()
    assert "templates" in os.listdir(m.mnt)
    assert sorted(os.listdir(m.path("templates"))) == TEMPLATES
    st = os.stat(m.path("templates"))
    assert st.st_mode == 0o40700
    r = run("ls", "-la", m.path("templates"))
    assert r.returncode == 0 and all(t in r.stdout for t in TEMPLATES), r.stderr
    inos = {}
    for name in TEMPLATES:
        p = m.path("templates", name)
        st = os.stat(p)
        assert st.st_mode == 0o100400, name
        with open(p, "rb") as f:
            raw = f.read()
        assert st.st_size == len(raw) > 0
        inos[name] = st.st_ino
        # pretty-printed as every record file: two spaces, UTF-8, a trailing newline
        text = raw.decode("utf-8")
        assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"
    assert len(set(inos.values())) == len(TEMPLATES)
    assert fake.since(mark) == [], "templates are made locally"
    # fixed inode numbers, as the other fixed nodes: the same on the next mount
    m2 = mounts(fake)
    mark = fake.mark()
    assert {n: os.stat(m2.path("templates", n)).st_ino for n in TEMPLATES} == inos
    for name in ("product.json", "taxes.json", "balance.json", "x"):
        with pytest.raises(FileNotFoundError):
            os.stat(m.path("templates", name))
    assert fake.since(mark) == []


def test_each_template_holds_exactly_the_fields_a_create_may_send(fake, mounts):
    m = mounts(fake)
    for name in TEMPLATES:
        coll = name[:-len(".json")]
        rec = json.loads(read(m.path("templates", name)))
        assert list(rec) == CREATE_FIELDS[coll], coll
        for k, v in rec.items():
            assert of_type(k, v), (coll, k, v)
        if "reference" in rec:
            assert list(rec["reference"]) == REFERENCE
        if "lines" in rec:
            assert len(rec["lines"]) == 1 and list(rec["lines"][0]) == LINE
            for k, v in rec["lines"][0].items():
                assert of_type(k, v), (k, v)
    # Required fields hold example values that convert, and look like examples.
    p = json.loads(read(m.path("templates", "products.json")))
    assert p["name"] == "Example product" and p["code"] and p["price"] > 0
    inv = json.loads(read(m.path("templates", "invoices.json")))
    assert inv["action"] == "save" and inv["savename"] and inv["lines"][0]["description"]
    assert inv["clientnr"] == 0, "no client: a template left so reaches no one"
    pay = json.loads(read(m.path("templates", "invoices_payment.json")))
    assert pay["amount"] == "full" and pay["date"] is None, "the day is the user's to say"
    send = json.loads(read(m.path("templates", "invoices_saved_send.json")))
    assert send == {"id": 0, "sendmethod": "email"}, "names no draft: reaches no one"


# ---- writing: EPERM ------------------------------------------------------------------------

def test_templates_refuse_changes(fake, mounts):
    m = mounts(fake)
    t = m.path("templates", "products.json")
    before = read(t)
    mark = fake.mark()
    fd = os.open(t, os.O_WRONLY)
    try:
        with pytest.raises(OSError) as e:
            os.write(fd, b"{}")
        assert e.value.errno == errno.EPERM
    finally:
        os.close(fd)
    for op in (lambda: open(t, "w"),
               lambda: os.truncate(t, 0),
               lambda: open(m.path("templates", "mine.json"), "w"),
               lambda: open(m.path("templates", "notes.txt"), "w"),
               lambda: os.unlink(t),
               lambda: os.rename(t, m.path("templates", "p.json")),
               lambda: os.rename(t, m.path("products", "p.json")),
               lambda: os.link(t, m.path("templates", "p.json")),
               lambda: os.mkdir(m.path("templates", "d")),
               lambda: os.symlink("x", m.path("templates", "l")),
               lambda: os.chmod(m.path("templates"), 0o755),
               lambda: os.rmdir(m.path("templates"))):
        with pytest.raises(OSError) as e:
            op()
        assert e.value.errno in (errno.EPERM, errno.EXDEV), op
    assert sorted(os.listdir(m.path("templates"))) == TEMPLATES
    assert read(t) == before
    assert fake.since(mark) == []


# ---- from a template to a record -----------------------------------------------------------

def test_a_verbatim_copy_waits_for_its_edit_and_sends_nothing(acct, mounts):
    """The choice (docs/SEMANTICS.md, Templates): a template copied as it is into a
    collection is kept as a new file and not sent (cp succeeds: it is the first step of
    "cp, edit, save"), so its example values never reach the service; copied over an
    existing record it is refused with EINVAL."""
    m = mounts(acct)
    mark = acct.mark()
    new = m.path("products", "new.json")
    r = run("cp", m.path("templates", "products.json"), new)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert writes(acct, mark) == []
    # the copy stays, with its text, listed, and is its owner's to edit (cp asked for 0400)
    assert read(new) == read(m.path("templates", "products.json"))
    assert "new.json" in os.listdir(m.path("products"))
    assert os.stat(new).st_mode & 0o777 == 0o600
    # saving it unchanged again, or fsync, still sends nothing
    assert run("cp", m.path("templates", "products.json"), new).returncode == 0
    assert writes(acct, mark) == []
    # a template copied over a record is no edit of it
    rec = m.path("products", "1.json")
    r = run("cp", m.path("templates", "products.json"), rec)
    assert r.returncode != 0 and "Invalid argument" in r.stderr, r.stderr
    assert "templates/products.json unchanged" in last_error(m)
    assert writes(acct, mark) == []
    assert all(p["name"] != "Example product" for p in acct.state("products"))
    # and a payment from the template, even under a real invoice number, waits too
    nr = acct.state("invoices")[0]["invoicenr"]
    r = run("cp", m.path("templates", "invoices_payment.json"),
            m.path("invoices_payment", stem(nr) + ".json"))
    assert r.returncode == 0, r.stderr
    assert writes(acct, mark) == []


def test_cp_then_sed_makes_one_product(acct, mounts):
    m = mounts(acct)
    before = {p["id"] for p in acct.state("products")}
    mark = acct.mark()
    new = m.path("products", "new.json")
    run("cp", m.path("templates", "products.json"), new)  # refused: unchanged
    r = run("sed", "-i", "s/Example product/Widget 3000/", new)
    assert r.returncode == 0, r.stderr
    assert writes(acct, mark) == [("POST", "products")]
    made = [p for p in acct.state("products") if p["id"] not in before]
    assert len(made) == 1 and made[0]["name"] == "Widget 3000"
    assert made[0]["code"] == "EXAMPLE-1" and float(made[0]["price"]) == 10
    assert made[0]["id"] + ".json" in os.listdir(m.path("products"))


def test_cp_then_edit_makes_one_client(acct, mounts):
    m = mounts(acct)
    before = {c["clientnr"] for c in acct.state("clients")}
    mark = acct.mark()
    new = m.path("clients", "nieuw.json")
    run("cp", m.path("templates", "clients.json"), new)
    rec = json.loads(read(new))
    rec["company"] = "Sjabloon BV"
    assert save(new, json.dumps(rec, indent=2) + "\n") == 0
    assert writes(acct, mark) == [("POST", "clients")]
    made = [c for c in acct.state("clients") if c["clientnr"] not in before]
    assert len(made) == 1 and made[0]["company"] == "Sjabloon BV"
    assert made[0]["country"] == "146" and made[0]["active"] == "1"
    assert made[0]["clientnr"] + ".json" in os.listdir(m.path("clients"))


def test_cp_then_edit_makes_one_saved_invoice(acct, mounts):
    m = mounts(acct)
    client = acct.state("clients")[0]["clientnr"]
    before = {s["id"] for s in acct.state("invoices_saved")}
    mark = acct.mark()
    new = m.path("invoices", "concept.json")
    run("cp", m.path("templates", "invoices.json"), new)
    text = read(new)
    assert save(new, text.replace('"clientnr": 0,', f'"clientnr": {client},')) == 0
    assert writes(acct, mark) == [("POST", "invoices")]
    made = [s for s in acct.state("invoices_saved") if s["id"] not in before]
    assert len(made) == 1
    assert made[0]["clientnr"] == client and made[0]["savename"] == "Example invoice"
    assert made[0]["id"] + ".json" in os.listdir(m.path("invoices_saved"))


def test_cp_then_edit_registers_one_payment(acct, mounts):
    """The payment template pays what is open ("full"); the day must be given, a
    template left without one is refused before any call."""
    m = mounts(acct)
    inv = next(i for i in acct.state("invoices") if float(i["open"]) > 0)
    nr = inv["invoicenr"]
    mark = acct.mark()
    new = m.path("invoices_payment", stem(nr) + ".json")
    run("cp", m.path("templates", "invoices_payment.json"), new)
    text = read(new)
    assert save(new, text.replace('"method": ""', '"method": "cash"')) == errno.EINVAL
    assert "missing required field 'date'" in last_error(m)
    assert writes(acct, mark) == []
    assert save(new, text.replace('"date": null', '"date": "2025-06-01"')) == 0
    assert writes(acct, mark) == [("POST", "invoices_payment/" + stem(nr))]
    body = json.loads([r for r in acct.since(mark) if r["method"] == "POST"][0]["body"])
    assert body == {"amount": "full", "date": "2025-06-01", "method": ""}
    after = next(i for i in acct.state("invoices") if i["invoicenr"] == nr)
    assert float(after["open"]) == 0 and after["paiddate"] == "2025-06-01"


# ---- the field reference -------------------------------------------------------------------

def fields_tool():
    tool = os.path.join(os.path.dirname(FACTUURFS), "fields")
    assert os.access(tool, os.X_OK), f"{tool}: built beside factuurfs by meson"
    return tool


def test_fields_md_is_what_the_dictionary_says(fake, mounts):
    """docs/FIELDS.md is generated (meson test fields-doc fails when it drifts); here:
    it is the generator's output, and it shows each template as the mount serves it."""
    doc = os.path.join(ROOT, "docs", "FIELDS.md")
    r = subprocess.run([fields_tool(), "check", doc], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([fields_tool(), "check", os.devnull], capture_output=True, text=True)
    assert r.returncode == 1 and "differs" in r.stderr
    text = read(doc)
    m = mounts(fake)
    for name in TEMPLATES:
        coll = name[:-len(".json")]
        assert f"\n## {coll}\n" in text
        assert f"`templates/{name}`:\n\n```json\n" + read(m.path("templates", name)) + "```\n" \
            in text
        for field in CREATE_FIELDS[coll]:
            assert f"| `{field}` |" in text
    assert "| `action` | text |  |  | yes | one of `send`, `save`, `repeat`;" in text
    assert "| `price` | number | create, edit |" in text


def test_man_page_has_the_field_reference():
    page = os.path.join(os.path.dirname(FACTUURFS), "factuurfs.1")
    assert os.path.isfile(page), "built by meson with scdoc"
    r = run("man", "-l", page, env={**os.environ, "MANWIDTH": "100", "LC_ALL": "C.UTF-8",
                                    "MANPAGER": "cat", "PAGER": "cat"})
    assert r.returncode == 0, r.stderr
    text = re.sub(r".\x08", "", r.stdout)
    section = text.split("\nFIELDS\n", 1)[1].split("\nOPTIONS\n", 1)[0]
    for coll in CREATE_FIELDS:
        assert re.search(rf"^   {coll}$", section, re.M), coll
        assert f"templates/{coll}.json" in section
    assert re.search(r"^       convert_prices_to_euro\n\s+true/false; create only$", section, re.M)
    assert re.search(r"^       price\n\s+number; required on create, edit$", section, re.M)
