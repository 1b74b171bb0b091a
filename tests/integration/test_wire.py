"""Writing back what the service sent: an edit goes back under the names and in the
forms the service used for that record (docs/API.md, "Values on the wire"), for every form the fake can serve (fakeapi --wire-forms)."""
import json
import os
import subprocess
import sys

import pytest

from harness import Fake

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "fakeapi"))
import fakeapi  # noqa: E402

# A client as the fake stores it (its own wire form: .NET names, "0"/"1", "" dates);
# --wire-forms dresses it on the way out.
CLIENT = {
    "clientnr": "900", "contact": "Sanne Bakker", "showcontact": "1",
    "company": "Bakkerij De Korst", "address": "Kerkstraat 1", "zipcode": "1011 AA",
    "city": "Amsterdam", "country": "146", "phone": "", "mobile": "",
    "email": "sanne@example.nl", "bankcode": "NL91ABNA0417164300", "biccode": "ABNANL2A",
    "taxnumber": "", "tax_shifted": "0", "sendmethod": "email", "paymentmethod": "bank",
    "top": "14", "stddiscount": "2.50", "mailintro": "", "reference": [], "notes": "",
    "notes_on_invoice": "0", "active": "1", "default_email": "0", "email_reminder": "",
    "defaultdoclang": "nl", "defaultcategory": "", "currency": "EUR",
    "mandateid": "MND-00900", "mandatedate": "", "collecttype": "", "taxtype": "extax",
    "lastinvoice": "", "timestamp": "2025-01-02",
}
# What the service computes: never sent back (factuurfs refuses a change to them).
READONLY = {"clientnr", "lastinvoice", "timestamp"}

# (wire forms, sed expression on the file, the field as the service names it, the value
# its PUT must carry).  Every other field must go back exactly as the fake sent it.
VARIANTS = [
    ("net", r's/"active": true/"active": false/', "active", "0"),
    ("net", r's/"top": 14/"top": 30/', "top", "30"),
    # the fake's default: the 2015 capture's forms
    ("", r's/"active": true/"active": false/', "active", "false"),
    ("live2015", r's/"active": true/"active": false/', "active", "false"),
    ("live2015", r's/"mandateid": "MND-00900"/"mandateid": "MND-00901"/', "mandate_id",
     "MND-00901"),
    ("live2015", r's/"mandatedate": null/"mandatedate": "2026-01-05"/', "mandate_date",
     "2026-01-05"),
    ("live2015", r's/"defaultdoclang": "nl"/"defaultdoclang": "en"/', "default_doclang", "en"),
    ("underscore", r's/"taxtype": "extax"/"taxtype": "incltax"/', "tax_type", "incltax"),
    ("truefalse", r's/"showcontact": true/"showcontact": false/', "showcontact", "false"),
    ("truefalse", r's/"default_email": 0/"default_email": 1/', "default_email", "1"),
    ("native", r's/"active": true/"active": false/', "active", False),
    ("native", r's/"stddiscount": 2.5/"stddiscount": 5/', "stddiscount", 5),
    ("zerodates", r's/"mandatedate": null/"mandatedate": "2026-01-05"/', "mandatedate",
     "2026-01-05"),
    ("zerodates", r's/"company": "Bakkerij De Korst"/"company": "De Korst"/', "company",
     "De Korst"),
]


def served(forms):
    """The client as the fake serves it under @forms ("": its default)."""
    return fakeapi.dress("clients", dict(CLIENT), fakeapi.parse_wire_forms(forms or "live2015"))


@pytest.mark.parametrize("forms,expr,field,want", VARIANTS,
                         ids=[f"{v[0] or 'default'}-{v[2]}" for v in VARIANTS])
def test_an_edit_goes_back_under_the_services_names_and_forms(workdir, mounts, forms, expr,
                                                               field, want):
    fake = Fake(workdir, "--generate", "clients=2,invoices=2,products=2",
                *(["--wire-forms", forms] if forms else []))
    try:
        fake.put_state("clients", "900", CLIENT)
        m = mounts(fake)
        path = m.path("clients", "900.json")
        before = open(path).read()
        mark = fake.mark()
        subprocess.run(["sed", "-i", expr, path], check=True)
        assert open(path).read() != before, "the sed expression changed nothing"
        puts = [r for r in fake.since(mark) if r["method"] != "GET"]
        assert [(r["method"], r["path"].split("?")[0]) for r in puts] == \
            [("PUT", "/api/v1/clients/900")]
        body = json.loads(puts[0]["body"])
        sent = served(forms)
        # Every field the service sent (bar what it computes) under its own name ...
        assert set(body) == set(sent) - READONLY
        # ... the edited one in the service's form, the others exactly as sent.
        assert body[field] == want and type(body[field]) is type(want)
        for k in body:
            if k != field:
                assert body[k] == sent[k] and type(body[k]) is type(sent[k]), k
    finally:
        fake.stop()


def test_an_edit_in_a_big_listing_goes_back_in_the_services_forms(workdir, mounts):
    """A listing page of 256 KiB or more keeps its body as its records' wire rather
    than a copy of each (store/pages.c): an edit there goes back under the service's
    names and forms all the same, as it does from the listing kept on disk."""
    fake = Fake(workdir, "--generate", "clients=3000,invoices=2,products=2",
                "--wire-forms", "live2015")
    try:
        fake.put_state("clients", "900", CLIENT)
        m = mounts(fake)
        assert len(os.listdir(m.path("clients"))) >= 3000
        page = [r for r in fake.requests() if r["path"].startswith("/api/v1/clients?")]
        assert page and page[-1]["bytes"] >= 256 << 10
        cache = m.cache
        assert m.unmount() == 0
        # First from the listing kept on disk (within the TTL: no listing call), then
        # from a page fetched anew.
        for run, env in enumerate(({"XDG_CACHE_HOME": cache}, None)):
            mark = fake.mark()
            m = mounts(fake, env=env)
            path = m.path("clients", "900.json")
            value = f"MND-0090{run + 1}"
            subprocess.run(["sed", "-i", f's/"mandateid": "[^"]*"/"mandateid": "{value}"/',
                            path], check=True)
            calls = fake.since(mark)
            listed = [r for r in calls if r["path"].startswith("/api/v1/clients?")]
            assert len(listed) == run, [r["path"] for r in calls]
            puts = [r for r in calls if r["method"] != "GET"]
            assert [r["method"] for r in puts] == ["PUT"]
            body = json.loads(puts[0]["body"])
            sent = served("live2015")
            assert set(body) == set(sent) - READONLY
            assert body["mandate_id"] == value
            for k in body:
                if k != "mandate_id":
                    assert body[k] == sent[k], k
            assert m.unmount() == 0
            fake.put_state("clients", "900", CLIENT)
    finally:
        fake.stop()


def test_the_live2015_forms_are_what_the_reference_describes():
    """The preset serves the five underscore names, "true"/"false" for the four client
    booleans, "0"/"1" for default_email, "" for no date (not a test of factuurfs: of
    the fake the tests above rely on)."""
    s = served("live2015")
    for php in ("mandate_id", "mandate_date", "tax_type", "default_doclang",
                "default_category"):
        assert php in s and php.replace("_", "") not in s
    assert [s[k] for k in ("showcontact", "tax_shifted", "notes_on_invoice", "active")] == \
        ["true", "false", "false", "true"]
    assert s["default_email"] == "0" and s["mandate_date"] == "" and s["lastinvoice"] == ""


def form(v):
    """The wire form of a value, as the service writes one: "1" and "true" are two."""
    if isinstance(v, bool):
        return "JSON boolean"
    if isinstance(v, (int, float)):
        return "JSON number"
    if isinstance(v, list):
        return "[]" if not v else "list"
    if isinstance(v, dict):
        return "{}" if not v else "object"
    if v is None:
        return "null"
    if v in ("0", "1"):
        return '"0"/"1"'
    if v.lower() in ("true", "false"):
        return '"true"/"false"'
    try:
        float(v)
        return "number as text"
    except ValueError:
        return "text"


@pytest.mark.parametrize("forms", ["", "net", "native"], ids=["default", "net", "native"])
def test_a_post_sends_each_field_in_the_form_a_put_of_the_collection_does(workdir, mounts,
                                                                          forms):
    """One form per field, the service's, for both: a client made from a copy of a
    record's file (one POST) and the same record edited (one PUT) send every field in
    one form, the one the service sends the collection's records in ("146" or 146,
    "1" or "true" or true, [] for an empty reference), whatever the fake's forms."""
    fake = Fake(workdir, "--generate", "clients=2,invoices=2,products=2",
                *(["--wire-forms", forms] if forms else []))
    try:
        fake.put_state("clients", "900", CLIENT)
        m = mounts(fake)
        path = m.path("clients", "900.json")
        rec = json.load(open(path))
        assert rec["reference"] == {} and rec["country"] == 146 and rec["active"] is True
        copy = dict(rec, company="Bakkerij Het Korstje")
        mark = fake.mark()
        with open(m.path("clients", "korstje.json"), "w") as f:
            f.write(json.dumps(copy, indent=2) + "\n")
        subprocess.run(["sed", "-i", 's/"company": "Bakkerij De Korst"/"company": "De Korst"/',
                        path], check=True)
        sent = [r for r in fake.since(mark) if r["method"] in ("POST", "PUT")]
        assert [r["method"] for r in sent] == ["POST", "PUT"]
        post, put = (json.loads(r["body"]) for r in sent)
        assert set(post) == set(put)
        differ = {k: (post[k], put[k]) for k in post if form(post[k]) != form(put[k])}
        assert differ == {}
        # and they are the service's forms: what it sent for this record
        have = served(forms)
        assert {k: form(put[k]) for k in put} == {k: form(have[k]) for k in put}
    finally:
        fake.stop()
