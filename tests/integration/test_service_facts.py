"""What the official v1 pages and the records captured from the live service say (the API
reference's last section), through real mounts: payments POSTed with "full" and a method,
drafts sent from a deliberate file, the clients' new fields and a country by name, a
product note the dictionary does not know, the quotations' read-only names and the lines'
input-only tax_country, a GET of a missing record answered with the whole list, and the
2015 capture's booleans.  Every call is counted in the fake's log."""
import datetime
import errno
import json
import os
import subprocess
import urllib.parse

import pytest

from expected import file_stem
from harness import Fake, save

SEND = "invoices_saved_send"


def api_path(r):
    """The request's path under /api/v1/, without its query."""
    return urllib.parse.urlsplit(r["path"]).path.split("/api/v1/", 1)[1]


def writes(fake, mark):
    """(method, path, status) of the requests since @mark that were not GETs."""
    return [(r["method"], api_path(r), r["status"]) for r in fake.since(mark)
            if r["method"] != "GET"]


def bodies(fake, mark):
    return [json.loads(r["body"]) for r in fake.since(mark) if r["method"] != "GET"]


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def last_error(m):
    errs = m.status()["last_errors"]
    return errs[0]["message"] if errs else ""


def changes(m):
    return [c["change"] for c in m.status()["last_changes"]]


def open_invoice(fake):
    """An invoice with something open whose number needs no escaping."""
    return next(i for i in fake.state("invoices") if float(i["open"]) > 1
                and not i["uncollectible"] and file_stem(i["invoicenr"]) == i["invoicenr"])


def today():
    return datetime.date.today().isoformat()


# ---- payments ---------------------------------------------------------------------------

def test_a_payment_of_full_with_a_method_is_one_post(acct, mounts):
    """POST invoices_payment/<invoicenr> (the official payment page): `amount` "full"
    pays what is open, `method` goes along, `date` as given; answered 201; the invoice
    shows it paid at once, in its file and in views/status/paid/."""
    m = mounts(acct)
    inv = open_invoice(acct)
    nr = inv["invoicenr"]
    assert json.loads(read(m.path("invoices", nr + ".json")))["open"] > 0
    mark = acct.mark()
    assert save(m.path("invoices_payment", nr + ".json"),
                '{"amount": "full", "date": "2025-06-01", "method": "cash"}') == 0
    assert writes(acct, mark) == [("POST", f"invoices_payment/{nr}", 201)], "one request"
    assert bodies(acct, mark) == [{"amount": "full", "date": "2025-06-01", "method": "cash"}]
    after = next(i for i in acct.state("invoices") if i["invoicenr"] == nr)
    assert after["open"] == "0.00" and after["paiddate"] == "2025-06-01"
    assert any("(cash)" in h["description"] for h in after["history"].values())
    got = json.loads(read(m.path("invoices", nr + ".json")))
    assert got["open"] == 0 and got["paiddate"] == "2025-06-01"
    assert nr + ".json" in os.listdir(m.path("views", "status", "paid"))
    assert os.listdir(m.path("invoices_payment")) == [], "the name is free again"
    assert any(f"registered a payment on invoice {nr}" in c for c in changes(m))


def test_a_payment_amount_goes_as_text_and_a_word_is_checked(acct, mounts):
    """The amount is a string on the wire ("12.5"); a word other than "full" is refused
    before any call, and so is a payment without its date."""
    m = mounts(acct)
    inv = open_invoice(acct)
    nr = inv["invoicenr"]
    path = m.path("invoices_payment", nr + ".json")
    m.status()
    mark = acct.mark()
    for text, why in (('{"amount": "veel", "date": "2025-06-01"}', 'expected a number or "full"'),
                      ('{"amount": 12.5}', "missing required field 'date'")):
        assert save(path, text) == errno.EINVAL, text
        assert why in last_error(m)
        assert why in os.getxattr(path, "user.factuurfs.error").decode()
        os.unlink(path)
    assert writes(acct, mark) == []
    assert save(path, '{"amount": 12.5, "date": "2025-06-01"}') == 0
    assert bodies(acct, mark) == [{"amount": "12.5", "date": "2025-06-01"}]
    after = next(i for i in acct.state("invoices") if i["invoicenr"] == nr)
    assert float(after["open"]) == pytest.approx(float(inv["open"]) - 12.5)


def test_a_service_that_takes_only_put_is_learned_once(workdir, mounts):
    """py v0's reading, PUT invoices_payment/<nr>: the POST answers 405, the PUT follows,
    and every later payment of the mount is the PUT alone."""
    f = Fake(workdir, "--generate", "clients=4,invoices=8,products=4", "--payment-method", "put")
    try:
        m = mounts(f)
        invs = [i for i in f.state("invoices") if float(i["open"]) > 2 and not i["uncollectible"]
                and file_stem(i["invoicenr"]) == i["invoicenr"]][:2]
        mark = f.mark()
        for inv in invs:
            assert save(m.path("invoices_payment", inv["invoicenr"] + ".json"),
                        '{"amount": 1, "date": "2025-06-01"}') == 0
        a, b = (i["invoicenr"] for i in invs)
        assert writes(f, mark) == [("POST", f"invoices_payment/{a}", 405),
                                   ("PUT", f"invoices_payment/{a}", 200),
                                   ("PUT", f"invoices_payment/{b}", 200)]
        for inv in invs:
            after = next(i for i in f.state("invoices") if i["invoicenr"] == inv["invoicenr"])
            assert float(after["open"]) == pytest.approx(float(inv["open"]) - 1)
    finally:
        f.stop()


# ---- sending a draft --------------------------------------------------------------------

def test_a_draft_sent_from_a_deliberate_file_is_one_request(acct, mounts):
    """invoices_saved_send/<id>.json holding {"id": "<id>", "sendmethod": "email"}: one
    POST invoices_saved; the draft leaves invoices_saved/ and is an invoice with a new
    number in invoices/, dated the day it was sent."""
    m = mounts(acct)
    draft = acct.state("invoices_saved")[0]
    did = draft["id"]
    assert os.listdir(m.path(SEND)) == [], "write-only: nothing is listed"
    drafts = set(os.listdir(m.path("invoices_saved")))
    invoices = set(os.listdir(m.path("invoices")))
    assert did + ".json" in drafts
    mark = acct.mark()
    assert save(m.path(SEND, did + ".json"),
                json.dumps({"id": did, "sendmethod": "email"}) + "\n") == 0
    assert writes(acct, mark) == [("POST", "invoices_saved", 201)], "one request"
    assert bodies(acct, mark) == [{"id": int(did), "sendmethod": "email"}]
    assert did not in {d["id"] for d in acct.state("invoices_saved")}
    new = {i["invoicenr"] for i in acct.state("invoices")} - {n[:-5] for n in invoices}
    assert len(new) == 1
    nr = new.pop()
    # the directories show it at once: the draft gone, the invoice there
    assert set(os.listdir(m.path("invoices_saved"))) == drafts - {did + ".json"}
    assert {nr + ".json", nr + ".pdf"} <= set(os.listdir(m.path("invoices")))
    got = json.loads(read(m.path("invoices", nr + ".json")))
    assert got["clientnr"] == int(draft["clientnr"]) and got["sent"] == today()
    assert got["totalintax"] == pytest.approx(float(draft["totalintax"]))
    assert nr + ".json" in os.listdir(m.path("views", "year", today()[:4]))
    assert os.listdir(m.path(SEND)) == []
    assert any(f"sent as an invoice: draft {did}" in c for c in changes(m))


def test_sending_a_draft_is_refused_without_a_request(acct, mounts):
    """Nothing accidental sends mail: a copy of the draft's own file, a file naming
    another draft or none, a draft that is not ours, a name that cannot be a draft:
    refused before any request, the reason in the status file and the xattr."""
    m = mounts(acct)
    drafts = acct.state("invoices_saved")
    did, other = drafts[0]["id"], drafts[1]["id"]
    src = m.path("invoices_saved", did + ".json")
    read(src)  # the drafts listing is held: from here on, 0 requests
    mark = acct.mark()
    target = m.path(SEND, did + ".json")
    r = subprocess.run(["cp", src, m.path(SEND) + "/"], capture_output=True, text=True)
    assert r.returncode != 0 and "Invalid argument" in r.stderr, r.stderr
    assert "a copy of another record is never taken for sending a draft" in last_error(m)
    os.unlink(target)
    for text in ('{"sendmethod": "email"}',                             # names none
                 json.dumps({"id": other, "sendmethod": "email"}),       # names another
                 json.dumps({"id": did, "sendmethod": "email", "x": 1})):
        assert save(target, text) == errno.EINVAL, text
        assert "e-mails the client" in os.getxattr(target, "user.factuurfs.error").decode() \
            or "never taken" in last_error(m)
        os.unlink(target)
    # a draft that is not ours: ENOENT, and why
    missing = m.path(SEND, "999.json")
    assert save(missing, '{"id": 999, "sendmethod": "email"}') == errno.ENOENT
    why = "invoices_saved/ has no record 999"
    assert why in last_error(m) and why in os.getxattr(missing, "user.factuurfs.error").decode()
    os.unlink(missing)
    # a name no draft can have
    odd = m.path(SEND, "abc.json")
    assert save(odd, '{"id": "abc", "sendmethod": "email"}') == errno.EINVAL
    assert "cannot name a record of invoices_saved/" in last_error(m)
    os.unlink(odd)
    # the template as it is: kept, not sent
    r = subprocess.run(["cp", m.path("templates", SEND + ".json"), target],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    os.unlink(target)
    assert acct.since(mark) == [], "0 requests"
    assert {d["id"] for d in acct.state("invoices_saved")} == {d["id"] for d in drafts}


@pytest.mark.parametrize("field", ["ids", "invoicenr"])
def test_a_service_naming_drafts_otherwise_is_learned_once(workdir, mounts, field):
    """Which body field names the draft is not on the readable page: `id` first, then a
    list `ids`, then `invoicenr`, each tried after a 400; the one taken is the one sent
    for the rest of the mount."""
    f = Fake(workdir, "--generate", "clients=4,invoices=4,products=4",
             "--draft-send-field", field)
    try:
        m = mounts(f)
        a, b = (d["id"] for d in f.state("invoices_saved")[:2])
        os.listdir(m.path("invoices_saved"))
        mark = f.mark()
        for did in (a, b):
            assert save(m.path(SEND, did + ".json"),
                        json.dumps({"id": did, "sendmethod": "mail"})) == 0
        tried = writes(f, mark)
        first = [("POST", "invoices_saved", 400)] * (1 if field == "ids" else 2)
        assert tried == first + [("POST", "invoices_saved", 201)] * 2, tried
        sent = bodies(f, mark)
        want = {"ids": [int(b)]} if field == "ids" else {"invoicenr": int(b)}
        assert sent[-1] == dict(want, sendmethod="mail")
        assert not {a, b} & {d["id"] for d in f.state("invoices_saved")}
    finally:
        f.stop()


def test_drafts_show_their_read_only_fields(acct, mounts):
    """name, alreadypaid, alreadypaidmethod and datesaved (the saved-invoices page) are
    shown in the dictionary's order, as known fields."""
    m = mounts(acct)
    d = acct.state("invoices_saved")[0]
    path = m.path("invoices_saved", d["id"] + ".json")
    got = json.loads(read(path))
    assert got["name"] == d["name"] and got["alreadypaid"] == 0
    assert got["alreadypaidmethod"] == "" and got["datesaved"] == d["datesaved"]
    assert list(got).index("name") < list(got).index("profile"), "known fields, in order"


# ---- fields -----------------------------------------------------------------------------

def test_a_client_by_country_name_with_the_new_address_fields(acct, mounts):
    """The clients page: `country` may be a name (sent as written; the service finds
    the id), `address_addon`, `addon` and `email_reminder` go both ways."""
    m = mounts(acct)
    before = {c["clientnr"] for c in acct.state("clients")}
    mark = acct.mark()
    assert save(m.path("clients", "nieuw.json"), json.dumps({
        "company": "Brasserie Köln GmbH", "country": "Duitsland", "address": "Domplatz 1",
        "address_addon": "Hinterhaus", "addon": "Einkauf",
        "email_reminder": "mahnung@koeln.de"})) == 0
    assert writes(acct, mark) == [("POST", "clients", 201)]
    body = bodies(acct, mark)[0]
    assert body["country"] == "Duitsland"
    made = [c for c in acct.state("clients") if c["clientnr"] not in before]
    assert len(made) == 1 and made[0]["country"] == "50"
    got = json.loads(read(m.path("clients", made[0]["clientnr"] + ".json")))
    assert (got["country"], got["address_addon"], got["addon"], got["email_reminder"]) == \
        (50, "Hinterhaus", "Einkauf", "mahnung@koeln.de")
    # an edit of one of them is one PUT carrying it
    path = m.path("clients", made[0]["clientnr"] + ".json")
    mark = acct.mark()
    subprocess.run(["sed", "-i", 's/"Einkauf"/"Buchhaltung"/', path], check=True)
    assert [w[:2] for w in writes(acct, mark)] == [("PUT", "clients/" + made[0]["clientnr"])]
    assert bodies(acct, mark)[0]["addon"] == "Buchhaltung"
    assert json.loads(read(path))["addon"] == "Buchhaltung"


def test_a_product_note_the_dictionary_does_not_know_goes_back_as_it_came(acct, mounts):
    """The product note field (changelog 1.0.3) has no known name: factuurfs shows it as
    an unknown field, after the known ones, and an edit sends it back (changed or not)."""
    m = mounts(acct)
    p = next(p for p in acct.state("products") if p.get("notes"))
    path = m.path("products", p["id"] + ".json")
    got = json.loads(read(path))
    assert got["notes"] == p["notes"] and list(got)[-1] == "notes"
    mark = acct.mark()
    subprocess.run(["sed", "-i", f's/"{p["notes"]}"/"Op voorraad"/', path], check=True)
    assert bodies(acct, mark)[0]["notes"] == "Op voorraad"
    assert next(x for x in acct.state("products") if x["id"] == p["id"])["notes"] == "Op voorraad"
    mark = acct.mark()
    subprocess.run(["sed", "-i", 's/"price": [0-9.]*/"price": 99/', path], check=True)
    body = bodies(acct, mark)[0]
    # (the price in the form the service sent it: "7.95", so "99.00")
    assert body["notes"] == "Op voorraad" and body["price"] == "99.00"


def test_quotation_names_are_read_only_and_tax_country_is_input_only(acct, mounts):
    """Quotations carry read-only profile_name and category_name; a line may carry
    tax_country on the way in, which the service does not send back."""
    m = mounts(acct)
    q = acct.state("quotations")[0]
    path = m.path("quotations", q["id"] + ".json")
    got = json.loads(read(path))
    assert got["profile_name"] == q["profile_name"] and got["profile_name"]
    mark = acct.mark()
    assert save(path, read(path).replace(f'"profile_name": "{q["profile_name"]}"',
                                         '"profile_name": "Anders"')) == errno.EINVAL
    assert "field 'profile_name' is set by the service" in last_error(m)
    assert writes(acct, mark) == []
    client = acct.state("clients")[0]["clientnr"]
    before = {x["id"] for x in acct.state("quotations")}
    assert save(m.path("quotations", "nieuw.json"), json.dumps({
        "clientnr": int(client), "action": "save",
        "lines": [{"description": "Levering België", "price": 100, "tax_rate": 21,
                   "tax_country": "18"}]})) == 0
    body = [b for b in bodies(acct, mark)][-1]
    assert body["lines"]["line1"]["tax_country"] == "18"
    made = [x for x in acct.state("quotations") if x["id"] not in before]
    assert len(made) == 1
    back = json.loads(read(m.path("quotations", made[0]["id"] + ".json")))
    assert "tax_country" not in back["lines"][0]


# ---- statuses and quirks ----------------------------------------------------------------

def test_a_missing_record_answered_with_the_whole_list_is_not_found(workdir, mounts):
    """A GET of one record the service does not have may answer the whole list (rb
    fs_api): factuurfs never takes the list, or its first record, for the record."""
    f = Fake(workdir, "--generate", "clients=3,invoices=6,products=3", "--list-without-lines",
             "--missing-one-lists")
    try:
        m = mounts(f)
        invs = [i for i in f.state("invoices") if file_stem(i["invoicenr"]) == i["invoicenr"]]
        keep, gone = invs[0], invs[1]
        names = os.listdir(m.path("invoices"))
        assert gone["invoicenr"] + ".json" in names
        f.delete_state("invoices", gone["invoicenr"])  # behind the listing's back
        mark = f.mark()
        with pytest.raises(FileNotFoundError):
            read(m.path("invoices", gone["invoicenr"] + ".json"))
        asked = [(r["method"], api_path(r), r["status"]) for r in f.since(mark)]
        assert ("GET", "invoices/" + gone["invoicenr"], 200) in asked, "answered with the list"
        assert "answered with a list, not the record: not found" in last_error(m)
        got = json.loads(read(m.path("invoices", keep["invoicenr"] + ".json")))
        assert got["invoicenr"] == keep["invoicenr"] and got["lines"]
    finally:
        f.stop()


def test_booleans_both_ways_in_one_record_go_back_in_their_forms(acct, mounts):
    """The fake's default is the 2015 capture: "true"/"false" for `active`, "0"/"1" for
    `default_email` in the same record, php's underscore names; an edit of both sends
    each back in its own form."""
    m = mounts(acct)
    c = acct.state("clients")[0]
    path = m.path("clients", c["clientnr"] + ".json")
    got = json.loads(read(path))
    assert isinstance(got["active"], bool) and got["default_email"] == 0
    text = read(path).replace('"default_email": 0', '"default_email": 1')
    text = text.replace('"active": %s' % json.dumps(got["active"]),
                        '"active": %s' % json.dumps(not got["active"]))
    mark = acct.mark()
    assert save(path, text) == 0
    body = bodies(acct, mark)[0]
    assert body["active"] == ("false" if got["active"] else "true")
    assert body["default_email"] == "1"
    assert "default_doclang" in body and "defaultdoclang" not in body
