"""Tests of the fake factuursturen.nl API (tests/fakeapi/fakeapi.py).

Run: /usr/bin/python3 -m pytest tests/fakeapi -q
"""

import base64
import http.client
import json
import os
import re
import select
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import harness  # noqa: E402  (tests/harness.py: its Fake is tested at the end)
import pdf as pdfgen  # noqa: E402
import fakeapi  # noqa: E402
FAKEAPI = os.path.join(HERE, "fakeapi.py")
DEMO = os.path.join(HERE, "..", "data", "demo.json")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
USER, KEY = "demo", "demo-apikey-0123456789"
TODAY = "2025-12-31"


class Fake:
    """A running fakeapi subprocess and a few helpers to talk to it."""

    def __init__(self, *args, user=USER, key=KEY, cafile=None, default_forms=False):
        # Most tests here read records in the forms the fake stores them (.NET names,
        # "0"/"1"): "net".  default_forms=True: the fake's own default (live2015).
        if not default_forms and "--wire-forms" not in args:
            args = ("--wire-forms", "net") + args
        self.args = args
        self.user, self.key = user, key
        # cafile: the server runs --tls-cert; requests go over HTTPS trusting it.
        self.tls = ssl.create_default_context(cafile=cafile) if cafile else None
        self.proc = subprocess.Popen([PYTHON, FAKEAPI, "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        line = ""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0, deadline - time.monotonic()))
            if ready:
                line = self.proc.stdout.readline()
                break
        m = re.fullmatch(r"fakeapi listening on %s://127\.0\.0\.1:(\d+)/api/v1/\n"
                         % ("https" if self.tls else "http"), line)
        if not m:
            self.proc.kill()
            raise RuntimeError("fakeapi did not start: %r %s" % (line, self.proc.stderr.read()))
        self.port = int(m.group(1))
        self.conn = None

    def close(self):
        if self.conn:
            self.conn.close()
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()

    def auth(self, user=None, key=None):
        tok = base64.b64encode(("%s:%s" % (user or self.user, key or self.key)).encode()).decode()
        return "Basic " + tok

    def raw(self, method, path, body=None, headers=None, auth=True, conn=None):
        """One request; returns (status, headers dict (lower-case keys), body bytes)."""
        h = {"Accept": "application/json"}
        if auth is True:
            h["Authorization"] = self.auth()
        elif isinstance(auth, str):
            h["Authorization"] = auth
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        elif isinstance(body, str):
            body = body.encode()
        h.update(headers or {})
        c = conn or self.connect()
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            if conn is None:
                c.close()

    def connect(self, timeout=10):
        if self.tls:
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=self.tls)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def api(self, method, rel, body=None, **kw):
        return self.raw(method, "/api/v1/" + rel, body, **kw)

    def get_json(self, rel):
        st, h, b = self.api("GET", rel)
        assert st == 200, (rel, st, b)
        assert h["content-type"] == "application/json"
        return json.loads(b)

    def state(self, coll):
        st, _, b = self.raw("GET", "/_fake/state/" + coll, auth=False)
        assert st == 200
        return json.loads(b)

    def control(self, what, spec=None):
        st, _, b = self.raw("POST", "/_fake/" + what, spec if spec is not None else {}, auth=False)
        assert st == 200, b
        return json.loads(b)


@pytest.fixture(scope="module")
def demo():
    f = Fake("--data", DEMO, "--today", TODAY, "--rate-limit", "100000")
    yield f
    f.close()


@pytest.fixture
def fresh():
    """A private server per test (for mutating tests)."""
    made = []

    def make(*args, **kw):
        f = Fake(*args, **kw)
        made.append(f)
        return f
    yield make
    for f in made:
        f.close()


def php_encode(obj):
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode()


def esc(s):
    return urllib.parse.quote(s, safe="")


# ------------------------------------------------------------------------------ startup
def test_listening_line_and_loopback(demo):
    assert 0 < demo.port < 65536
    st, h, b = demo.api("GET", "balance")
    assert st == 200


def test_demo_counts(demo):
    counts = {c: len(demo.state(c)) for c in ("clients", "products", "invoices", "invoices_saved",
                                              "invoices_repeated", "profiles", "taxes", "countrylist")}
    assert 10 <= counts["clients"] <= 15
    assert 20 <= counts["invoices"] <= 30
    assert 8 <= counts["products"] <= 12
    assert counts["invoices_saved"] >= 1 and counts["invoices_repeated"] >= 1
    assert 2 <= counts["profiles"] <= 3
    assert isinstance(demo.state("balance"), dict)


# ------------------------------------------------------------------------------ auth
def test_auth(demo):
    st, h, b = demo.api("GET", "clients", auth=False)
    assert st == 401
    assert h["www-authenticate"] == 'Basic realm="factuursturen"'
    assert h["content-type"].startswith("text/plain")
    assert "x-ratelimit-remaining" in h
    st, h, _ = demo.api("GET", "clients", auth=demo.auth(key="wrong"))
    assert st == 401 and "x-ratelimit-remaining" in h
    st, h, _ = demo.api("GET", "clients", auth=demo.auth(user="other"))
    assert st == 401
    st, h, _ = demo.api("GET", "clients", auth="Basic !!!notbase64")
    assert st == 401
    st, h, _ = demo.api("GET", "clients")
    assert st == 200


def test_custom_credentials(fresh):
    f = fresh("--user", "alice", "--apikey", "s3cret", user="alice", key="s3cret")
    assert f.api("GET", "profiles")[0] == 200
    assert f.api("GET", "profiles", auth=f.auth("demo", "demo-apikey-0123456789"))[0] == 401


# ------------------------------------------------------------------------------ rate limit
def test_rate_limit(fresh):
    f = fresh("--rate-limit", "4")
    seen = []
    for rel, auth in (("clients", True), ("nosuch", True), ("clients", False), ("clients/999999", True)):
        st, h, _ = f.api("GET", rel, auth=auth)
        seen.append((st, h["x-ratelimit-remaining"]))
    assert seen == [(200, "3"), (404, "2"), (401, "1"), (404, "0")]
    st, h, b = f.api("GET", "clients")
    assert st == 403 and h["x-ratelimit-remaining"] == "0"
    assert h["content-type"].startswith("text/plain") and b
    st, h, _ = f.api("GET", "clients", auth=False)
    assert st == 403 and h["x-ratelimit-remaining"] == "0"
    # control endpoints are free and not limited
    assert f.raw("GET", "/_fake/state/clients", auth=False)[0] == 200
    f.control("reset")
    st, h, _ = f.api("GET", "clients")
    assert st == 200 and h["x-ratelimit-remaining"] == "3"
    f.control("inject", {"ratelimit_remaining": 1})
    assert f.api("GET", "taxes")[1]["x-ratelimit-remaining"] == "0"
    assert f.api("GET", "taxes")[0] == 403
    f.control("reset")
    assert f.api("GET", "taxes")[0] == 200


def test_default_rate_limit_500(fresh):
    f = fresh()
    st, h, _ = f.api("GET", "taxes")
    assert h["x-ratelimit-remaining"] == "499"


# ------------------------------------------------------------------------------ encodings
def test_php_json_encoding(demo):
    for coll in ("clients", "invoices", "products", "invoices_saved", "invoices_repeated",
                 "profiles", "taxes", "countrylist", "balance"):
        st, h, b = demo.api("GET", coll)
        assert st == 200 and h["content-type"] == "application/json"
        assert int(h["content-length"]) == len(b)
        assert b == php_encode(json.loads(b)), coll  # compact, \uXXXX, \/
        assert all(c < 128 for c in b)
    _, _, b = demo.api("GET", "clients")
    assert b"\\u00" in b  # non-ASCII names are escaped
    _, _, b = demo.api("GET", "invoices")
    assert b"\\/" in b and b'/' not in b.replace(b"\\/", b"")


def test_json_without_accept(demo):
    st, h, b = demo.api("GET", "taxes", headers={"Accept": ""})
    assert st == 200 and h["content-type"] == "application/json"
    json.loads(b)


DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})?$")


def test_client_wire_form(demo):
    clients = demo.get_json("clients")
    names = ("clientnr contact showcontact company address zipcode city country phone mobile "
             "email bankcode biccode taxnumber tax_shifted sendmethod paymentmethod top "
             "stddiscount mailintro reference notes notes_on_invoice active default_email "
             "defaultdoclang defaultcategory currency mandateid mandatedate collecttype taxtype "
             "lastinvoice timestamp").split()
    nonascii = False
    for c in clients:
        for n in names:
            assert n in c, n
        for k, v in c.items():
            if k == "reference":
                assert v == [] or (isinstance(v, dict) and sorted(v) == ["line1", "line2", "line3"])
            else:
                assert isinstance(v, str), (k, v)
        for b in ("showcontact", "tax_shifted", "notes_on_invoice", "active"):
            assert c[b] in ("0", "1")
        assert re.fullmatch(r"\d+", c["clientnr"]) and re.fullmatch(r"\d+", c["top"])
        assert DATE.match(c["lastinvoice"]) and DATE.match(c["timestamp"])
        if c["country"] == "146":
            assert re.fullmatch(r"\d{4} [A-Z]{2}", c["zipcode"])
        nonascii |= any(ord(ch) > 127 for ch in c["contact"] + c["company"])
    assert nonascii
    assert any(c["country"] == "146" for c in clients)
    assert any(c["reference"] == [] for c in clients)


def test_invoice_wire_form(demo):
    invs = demo.get_json("invoices")
    assert any("/" in i["invoicenr"] for i in invs)
    assert any(" " in i["invoicenr"] for i in invs)
    assert any(i["reference"] == [] for i in invs)
    assert any(i["history"] == [] for i in invs) and any(i["history"] != [] for i in invs)
    assert any(i["taxes"] == [] for i in invs) and any(i["taxes"] != [] for i in invs)
    # As the captured live invoices: no `date`; dated by `sent` ("" when never sent)
    # and by the dated events of `history`.
    assert not any("date" in i for i in invs)
    years = {i["sent"][:4] for i in invs if i["sent"]}
    assert years == {"2023", "2024", "2025"}
    unsent = [i for i in invs if not i["sent"]]
    assert unsent and all(i["history"] == [] or "verstuurd" not in json.dumps(i["history"])
                          for i in unsent)
    for i in invs:
        assert i["id"] != i["invoicenr"]
        for k in ("id", "clientnr", "profile", "paymentperiod", "tax", "totalintax", "open",
                  "company", "sent", "paiddate", "duedate", "collection", "tax_shifted",
                  "invoicenr_full", "payment_url", "language", "tax_type", "uncollectible",
                  "lastreminder", "discount", "discounttype", "paymentcondition", "invoicenote"):
            assert isinstance(i[k], str), k
        for k in ("sent", "paiddate", "duedate", "uncollectible", "lastreminder"):
            assert DATE.match(i[k])
        assert re.fullmatch(r"-?\d+\.\d\d", i["totalintax"])
        lines = i["lines"]
        assert isinstance(lines, dict) and 1 <= len(lines) <= 5
        assert list(lines) == ["line%d" % n for n in range(1, len(lines) + 1)]
        total = 0
        for ln in lines.values():
            assert set(ln) == {"amount", "amount_desc", "description", "tax_rate", "price",
                               "discount_pct", "linetotal"}
            for n in ("amount", "tax_rate", "price", "discount_pct", "linetotal"):
                assert isinstance(ln[n], (int, float)) and not isinstance(ln[n], bool)
            assert abs(ln["linetotal"] - ln["amount"] * ln["price"] * (1 - ln["discount_pct"] / 100)) < 0.01
            total += ln["linetotal"]
        if i["taxes"]:
            assert list(i["taxes"]) == ["tax%d" % n for n in range(1, len(i["taxes"]) + 1)]
            for t in i["taxes"].values():
                assert set(t) == {"rate", "sum", "sum_of"}
            assert abs(sum(t["sum"] for t in i["taxes"].values()) - float(i["tax"])) < 0.01
        if i["history"]:
            assert list(i["history"])[0] == "item1"
            for it in i["history"].values():
                assert set(it) == {"date", "time", "description"}
        if i["discount"] == "0":
            assert abs(total + float(i["tax"]) - float(i["totalintax"])) < 0.011


def test_lookups(demo):
    taxes = demo.get_json("taxes")
    assert [(t["percentage"], t["type"]) for t in taxes] == [("21", "H"), ("9", "L"), ("0", "Z"), ("0", "N")]
    assert all(t["default"] in ("0", "1") for t in taxes)
    profiles = demo.get_json("profiles")
    assert 2 <= len(profiles) <= 3 and all(set(p) >= {"id", "name", "default"} for p in profiles)
    cl = demo.get_json("countrylist")
    assert {"id": "146", "name": "Nederland"} in cl and len(cl) >= 18
    assert all(set(c) == {"id", "name"} for c in cl)
    en = demo.get_json("countrylist/en")
    assert {"id": "146", "name": "Netherlands"} in en
    assert demo.get_json("countrylist/nl") == cl
    bal = demo.get_json("balance")
    assert isinstance(bal, dict) and bal and all(isinstance(v, str) for v in bal.values())
    float(bal["balance"])


# ------------------------------------------------------------------------------ GET one / errors
def test_get_one(demo):
    c = demo.state("clients")[0]
    assert demo.get_json("clients/" + c["clientnr"]) == {"client": c}
    p = demo.state("products")[0]
    assert demo.get_json("products/" + p["id"]) == {"product": p}
    i = demo.state("invoices")[0]
    assert demo.get_json("invoices/" + esc(i["invoicenr"])) == {"invoice": i}
    s = demo.state("invoices_saved")[0]
    assert demo.get_json("invoices_saved/" + s["id"]) == {"invoices_saved": s}
    r = demo.state("invoices_repeated")[0]
    assert demo.get_json("invoices_repeated/" + r["id"]) == {"invoices_saved": r}
    assert "frequency" in r and "nextsenddate" in r and "frequency" not in s


def test_not_found_and_method_errors(demo):
    for rel in ("clients/999999", "products/999999", "invoices/nope", "invoices_pdf/nope",
                "invoices_saved/999999", "invoices_repeated/999999", "nosuchthing", "profiles/1"):
        st, h, b = demo.api("GET", rel)
        assert st == 404, rel
        assert h["content-type"].startswith("text/plain") and b and "x-ratelimit-remaining" in h
    for method, rel in (("PUT", "invoices/2023-0001"), ("POST", "taxes"), ("DELETE", "balance"),
                        ("POST", "clients/1"), ("PUT", "clients"), ("GET", "invoices_payment"),
                        ("POST", "invoices_pdf/2023-0001"), ("PATCH", "clients/1")):
        st, h, b = demo.api(method, rel, body={} if method in ("PUT", "POST", "PATCH") else None)
        assert st == 405, (method, rel, st)
        assert h["content-type"].startswith("text/plain") and b


def test_keep_alive(demo):
    conn = http.client.HTTPConnection("127.0.0.1", demo.port, timeout=10)
    try:
        for rel in ("clients", "nosuch", "invoices?count=1", "clients/999999", "taxes"):
            st, h, b = demo.api("GET", rel, conn=conn)
            assert int(h["content-length"]) == len(b)
        # an error answer to a request with a body leaves the connection usable
        st, _, _ = demo.api("PUT", "products/999999", body={"code": "x" * 5000}, conn=conn)
        assert st == 404
        st, _, _ = demo.api("POST", "taxes", body="a=" + "b" * 3000, conn=conn,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert st == 405
        assert demo.api("GET", "profiles", conn=conn)[0] == 200
        assert demo.api("GET", "profiles", conn=conn, auth=False)[0] == 401
        assert demo.api("GET", "profiles", conn=conn)[0] == 200
    finally:
        conn.close()


# ------------------------------------------------------------------------------ paging
def test_paging(fresh):
    # Both paging parameters honoured (--paging both), to check each of them here.
    f = fresh("--generate", "clients=30,invoices=250,products=5", "--page-size", "100",
              "--max-count", "150", "--paging", "both")
    all_inv = f.state("invoices")
    assert len(all_inv) == 250
    nrs = [i["invoicenr"] for i in all_inv]

    def got(q):
        return [i["invoicenr"] for i in f.get_json("invoices" + q)]
    assert got("") == nrs[:100]
    assert got("?offset=100") == nrs[100:200]
    assert got("?offset=200") == nrs[200:]
    assert got("?count=10") == nrs[:10]
    assert got("?count=10&offset=5") == nrs[5:15]
    assert got("?count=10&start=7") == nrs[7:17]
    assert got("?count=1000") == nrs[:150]  # clamped to --max-count
    assert got("?count=20&offset=245") == nrs[245:]
    assert got("?offset=999") == []
    assert len(f.get_json("clients?count=7")) == 7
    assert len(f.get_json("clients")) == 30
    assert got("?count=-1&start=240") == nrs[240:]  # --count-minus-one all: no page limit
    for bad in ("count=abc", "count=-2", "offset=x", "start=x"):
        st, _, b = f.api("GET", "invoices?" + bad)
        assert st == 400 and bad.split("=")[0].encode() in b


def test_paging_ignore_count(fresh):
    f = fresh("--generate", "clients=5,invoices=60,products=2", "--page-size", "25", "--ignore-count")
    nrs = [i["invoicenr"] for i in f.state("invoices")]
    assert [i["invoicenr"] for i in f.get_json("invoices?count=5")] == nrs[:25]
    assert [i["invoicenr"] for i in f.get_json("invoices?count=50&start=50")] == nrs[50:]


def test_invoice_filters(demo):
    allinv = demo.state("invoices")
    got = {}
    for flt in ("open", "overdue", "sent", "partly", "toomuch", "paid", "uncollectible"):
        got[flt] = demo.get_json("invoices?count=1000&filter=" + flt)
        assert got[flt], flt  # the demo has every state
    for i in got["paid"]:
        assert float(i["open"]) == 0 and i["paiddate"] and not i["uncollectible"]
    for i in got["open"]:
        assert float(i["open"]) > 0 and not i["uncollectible"]
    for i in got["overdue"]:
        assert float(i["open"]) > 0 and i["duedate"] < TODAY
    assert len(got["overdue"]) < len(got["open"])  # --today makes some not yet due
    for i in got["partly"]:
        assert 0 < float(i["open"]) < float(i["totalintax"])
    for i in got["toomuch"]:
        assert float(i["open"]) < 0
    for i in got["uncollectible"]:
        assert i["uncollectible"]
    for i in got["sent"]:
        assert i["sent"] and i["open"] == i["totalintax"]
    n = lambda k: {i["invoicenr"] for i in got[k]}  # noqa: E731
    assert n("paid") | n("open") | n("uncollectible") | n("toomuch") == {i["invoicenr"] for i in allinv}
    # since/until: by the day the invoice is dated (sent, else its first dated event)
    day = fakeapi.invoice_day
    s = demo.get_json("invoices?count=1000&since=2024-01-01&until=2024-12-31")
    assert s and all("2024-01-01" <= day(i) <= "2024-12-31" for i in s)
    assert len(s) == sum(1 for i in allinv if day(i)[:4] == "2024")
    s = demo.get_json("invoices?count=1000&since=2023-01-01&until=2023-12-31")
    assert any(not i["sent"] for i in s), "an invoice never sent is dated by its history"
    s = demo.get_json("invoices?count=1000&since=2025-01-01&filter=paid")
    assert all(day(i) >= "2025-01-01" and i["open"] == "0.00" for i in s)
    nr = allinv[0]["clientnr"]
    s = demo.get_json("invoices?count=1000&clientnr=" + nr)
    assert s and all(i["clientnr"] == nr for i in s)
    for bad in ("filter=bogus", "since=2024-13-01", "until=yesterday"):
        st, _, b = demo.api("GET", "invoices?" + bad)
        assert st == 400 and bad.split("=")[0].encode() in b


# ------------------------------------------------------------------------------ ids in paths
def test_id_escapings(demo):
    invs = demo.state("invoices")
    slash = next(i for i in invs if "/" in i["invoicenr"])
    space = next(i for i in invs if " " in i["invoicenr"])
    nr = slash["invoicenr"]
    for rel in ("invoices/" + esc(nr), "invoices/" + urllib.parse.quote_plus(nr), "invoices/" + nr,
                "invoices/" + nr.replace("/", "%2f")):
        assert demo.get_json(rel) == {"invoice": slash}, rel
    nr = space["invoicenr"]
    for rel in ("invoices/" + esc(nr), "invoices/" + urllib.parse.quote_plus(nr)):
        assert demo.get_json(rel) == {"invoice": space}, rel
    st, h, b = demo.api("GET", "invoices_pdf/" + slash["invoicenr"])
    assert st == 200 and b.startswith(b"%PDF")


def test_plus_and_percent_invoice_numbers(fresh):
    f = fresh("--generate", "clients=20,invoices=120,products=5")
    invs = f.state("invoices")
    plus = next(i for i in invs if "+" in i["invoicenr"])
    pct = next(i for i in invs if "%" in i["invoicenr"])
    amp = next(i for i in invs if "&" in i["invoicenr"])
    for i in (plus, pct, amp):
        assert f.get_json("invoices/" + esc(i["invoicenr"])) == {"invoice": i}
    # a raw '+' (net sends ids unescaped) still finds the record
    assert f.get_json("invoices/" + plus["invoicenr"]) == {"invoice": plus}
    assert sum("/" in i["invoicenr"] for i in invs) in range(12, 22)  # roughly every 7th


# ------------------------------------------------------------------------------ POST clients / products
def test_post_client_three_forms(fresh):
    f = fresh("--today", TODAY)
    before = len(f.state("clients"))
    obj = {"company": "Zeilmakerij Ærø & Zoon", "contact": "Jörg Ünal", "top": 30,
           "active": True, "showcontact": 0, "stddiscount": 2.5, "country": 146,
           "reference": {"line1": "PO 7/8", "line2": "", "line3": ""},
           "default_doclang": "en", "mandate_id": "M-1", "tax_type": "intax", "email": "a@b.nl"}
    st, h, b = f.api("POST", "clients", obj)
    assert st == 201 and h["content-type"] == "application/json"
    assert re.fullmatch(rb"\d+", b)
    nr1 = json.loads(b)
    st, _, b = f.api("POST", "clients", [{"contact": "Array Form", "notes_on_invoice": "true"}])
    assert st == 201
    nr2 = json.loads(b)
    form = "contact=Form+Klant&company=Form%20BV&top=8&active=0&reference%5Bline1%5D=ref%2F1&default_category=Cat"
    st, _, b = f.api("POST", "clients", form, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert st == 201
    nr3 = json.loads(b)
    assert len({nr1, nr2, nr3}) == 3 and len(f.state("clients")) == before + 3

    c = f.get_json("clients/%d" % nr1)["client"]
    assert c["clientnr"] == str(nr1) and c["company"] == "Zeilmakerij Ærø & Zoon"
    assert (c["top"], c["active"], c["showcontact"], c["stddiscount"], c["country"]) == ("30", "1", "0", "2.5", "146")
    assert c["reference"] == {"line1": "PO 7/8", "line2": "", "line3": ""}
    assert (c["defaultdoclang"], c["mandateid"], c["taxtype"]) == ("en", "M-1", "intax")
    assert "default_doclang" not in c and "mandate_id" not in c
    assert c["timestamp"] == TODAY and c["lastinvoice"] == ""
    assert f.get_json("clients/%d" % nr2)["client"]["notes_on_invoice"] == "1"
    c3 = f.get_json("clients/%d" % nr3)["client"]
    assert (c3["contact"], c3["company"], c3["top"], c3["active"]) == ("Form Klant", "Form BV", "8", "0")
    assert c3["reference"]["line1"] == "ref/1" and c3["defaultcategory"] == "Cat"
    _, _, raw = f.api("GET", "clients/%d" % nr1)
    assert b"\\u00c6r\\u00f8" in raw and b"PO 7\\/8" in raw


def test_post_client_errors(fresh):
    f = fresh()
    for body, field in (({"email": "x@y.nl"}, b"company"), ({"company": "A", "top": "abc"}, b"top"),
                        ({"company": "A", "active": "maybe"}, b"active"),
                        ({"company": "A", "stddiscount": "5%"}, b"stddiscount"),
                        ({"company": "A", "reference": "x"}, b"reference")):
        st, h, b = f.api("POST", "clients", body)
        assert st == 400 and field in b and h["content-type"].startswith("text/plain"), (body, b)
    st, _, b = f.api("POST", "clients", "{not json", headers={"Content-Type": "application/json"})
    assert st == 400
    st, _, b = f.api("POST", "clients", [{"company": "a"}, {"company": "b"}])
    assert st == 400


def test_unknown_fields(fresh):
    f = fresh()
    st, _, b = f.api("POST", "clients", {"company": "A", "frobnicate": 1})
    assert st == 201  # ignored by default (WIRE choice)
    assert "frobnicate" not in f.get_json("clients/%s" % b.decode())["client"]
    g = fresh("--strict-fields")
    st, _, b = g.api("POST", "clients", {"company": "A", "frobnicate": 1})
    assert st == 400 and b"frobnicate" in b
    c = g.state("clients")[0]
    assert g.api("PUT", "clients/" + c["clientnr"], c)[0] == 200  # read-only fields are known


def test_put_client(fresh):
    f = fresh("--today", "2026-01-02")
    c = f.state("clients")[1]
    nr = c["clientnr"]
    new = dict(c, company="Nieuwe Naam B.V.", top=45, active=False, clientnr="77777")
    st, h, b = f.api("PUT", "clients/" + nr, new)
    assert st == 200 and b == b""
    got = f.get_json("clients/" + nr)["client"]
    assert got["clientnr"] == nr and got["company"] == "Nieuwe Naam B.V."
    assert (got["top"], got["active"], got["timestamp"]) == ("45", "0", "2026-01-02")
    assert f.api("GET", "clients/77777")[0] == 404
    # php spelling on PUT too
    php = {k: v for k, v in got.items() if k != "defaultcategory"}
    assert f.api("PUT", "clients/" + nr, dict(php, default_category="X"))[0] == 200
    assert f.get_json("clients/" + nr)["client"]["defaultcategory"] == "X"
    # both spellings: the .NET one wins
    got = f.get_json("clients/" + nr)["client"]
    assert f.api("PUT", "clients/" + nr, dict(got, default_category="Y"))[0] == 200
    assert f.get_json("clients/" + nr)["client"]["defaultcategory"] == "X"
    for body, field in ((dict(got, top="veertig"), b"top"), (dict(got, showcontact="ja"), b"showcontact"),
                        ({k: v for k, v in got.items() if k not in ("company", "contact")}, b"company")):
        st, _, b = f.api("PUT", "clients/" + nr, body)
        assert st == 400 and field in b, b
    assert f.get_json("clients/" + nr)["client"]["top"] == "45"  # failed PUTs change nothing
    assert f.api("PUT", "clients/999999", got)[0] == 404


def test_products(fresh):
    f = fresh()
    st, _, b = f.api("POST", "products", {"code": "NEW-1", "name": "Koffie ☕", "price": 10, "taxes": 9})
    assert st == 201
    pid = json.loads(b)
    p = f.get_json("products/%d" % pid)["product"]
    assert p == {"id": str(pid), "code": "NEW-1", "name": "Koffie ☕", "price": "10.00",
                 "taxes": "9", "priceintax": "10.90"}
    st, _, b = f.api("POST", "products", "code=F&name=Form&price=1.5", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert st == 201 and f.get_json("products/" + b.decode())["product"]["price"] == "1.50"
    st, _, b = f.api("PUT", "products/%d" % pid, dict(p, price="12.5", id="1"))
    assert st == 200 and b == b""
    p2 = f.get_json("products/%d" % pid)["product"]
    assert (p2["price"], p2["priceintax"], p2["id"]) == ("12.50", "13.63", str(pid))
    for body, field in ((dict(p, price="duur"), b"price"), (dict(p, taxes="x"), b"taxes"),
                        ({"code": "a", "name": "b"}, b"price"), ({"name": "b", "price": 1}, b"code")):
        st, _, b = f.api("PUT", "products/%d" % pid, body)
        assert st == 400 and field in b, b
    assert f.api("POST", "products", {"code": "a", "price": 1})[0] == 400
    assert f.api("DELETE", "products/%d" % pid)[0] == 200
    assert f.api("GET", "products/%d" % pid)[0] == 404
    assert f.api("DELETE", "products/%d" % pid)[0] == 404


# ------------------------------------------------------------------------------ invoices
def test_post_invoice_send(fresh):
    f = fresh("--today", "2026-03-04")
    client = next(c for c in f.state("clients") if c["stddiscount"] == "0" and c["tax_shifted"] == "0")
    body = {"clientnr": int(client["clientnr"]), "action": "send", "sendmethod": "email",
            "reference": {"line1": "Order 5"},
            "lines": [{"amount": 2, "description": "Werk", "price": 50, "tax_rate": 21, "amount_desc": "uur"},
                      {"amount": "1", "description": "Boek", "price": "10.00", "tax_rate": "9"}]}
    st, h, b = f.api("POST", "invoices", body)
    assert st == 201 and h["content-type"].startswith("text/plain")
    nr = b.decode()
    assert nr == "2026-0001"
    inv = f.get_json("invoices/" + esc(nr))["invoice"]
    for k in ("company", "contact", "address", "zipcode", "city", "country", "email", "taxnumber"):
        assert inv[k] == client[k]
    assert inv["clientnr"] == client["clientnr"] and inv["sent"] == "2026-03-04"
    assert "date" not in inv and inv["history"]["item1"]["date"] == "2026-03-04"
    assert list(inv["lines"]) == ["line1", "line2"]
    assert inv["lines"]["line1"]["linetotal"] == 100 and inv["lines"]["line2"]["tax_rate"] == 9
    assert (inv["tax"], inv["totalintax"], inv["open"]) == ("21.90", "131.90", "131.90")
    assert inv["taxes"] == {"tax1": {"rate": 21, "sum": 21, "sum_of": 100},
                            "tax2": {"rate": 9, "sum": 0.9, "sum_of": 10}}
    assert inv["reference"]["line1"] == "Order 5"
    assert inv["id"] != nr and inv["paiddate"] == ""
    assert f.get_json("clients/" + client["clientnr"])["client"]["lastinvoice"] == "2026-03-04"
    # form-encoded, php-style flattened keys (v0 used 0-based lines)
    form = urllib.parse.urlencode({"clientnr": client["clientnr"], "action": "send", "sendmethod": "mail",
                                   "lines[0][amount]": "3", "lines[0][description]": "A",
                                   "lines[0][price]": "1.5", "lines[1][amount]": "1",
                                   "lines[1][description]": "B", "lines[1][price]": "2"})
    st, _, b = f.api("POST", "invoices", form, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert st == 201 and b == b"2026-0002"
    inv = f.get_json("invoices/2026-0002")["invoice"]
    assert [ln["description"] for ln in inv["lines"].values()] == ["A", "B"]
    # net: one-element array, lines keyed line1..
    st, _, b = f.api("POST", "invoices", [{"clientnr": client["clientnr"], "action": "send", "sendmethod": "printcenter",
                                           "lines": {"line1": {"amount": 1, "description": "C", "price": 3}}}])
    assert st == 201 and b == b"2026-0003"


def test_post_invoice_errors(fresh):
    f = fresh()
    nr = f.state("clients")[0]["clientnr"]
    line = [{"amount": 1, "description": "x", "price": 1}]
    cases = [({"action": "send", "sendmethod": "email", "lines": line}, b"clientnr"),
             ({"clientnr": 999999, "action": "send", "sendmethod": "email", "lines": line}, b"clientnr"),
             ({"clientnr": nr, "action": "send", "sendmethod": "email"}, b"lines"),
             ({"clientnr": nr, "action": "send", "sendmethod": "email", "lines": []}, b"lines"),
             ({"clientnr": nr, "action": "send", "sendmethod": "fax", "lines": line}, b"sendmethod"),
             ({"clientnr": nr, "action": "send", "lines": line}, b"sendmethod"),
             ({"clientnr": nr, "action": "frobnicate", "lines": line}, b"action"),
             ({"clientnr": nr, "action": "send", "sendmethod": "email",
               "lines": [{"amount": "x", "description": "x", "price": 1}]}, b"amount"),
             ({"clientnr": nr, "action": "send", "sendmethod": "email",
               "lines": [{"amount": 1, "description": "x", "price": "gratis"}]}, b"price"),
             ({"clientnr": nr, "action": "save", "lines": line}, b"savename"),
             ({"clientnr": nr, "action": "repeat", "savename": "x", "lines": line,
               "initialdate": "2026-01-01", "frequency": "monthly", "repeattype": "auto"}, b"finalsenddate")]
    n = len(f.state("invoices"))
    for body, field in cases:
        st, _, b = f.api("POST", "invoices", body)
        assert st == 400 and field in b, (body, b)
    assert len(f.state("invoices")) == n


def test_post_invoice_save_and_repeat(fresh):
    f = fresh("--today", "2026-03-04")
    nr = f.state("clients")[0]["clientnr"]
    line = {"line1": {"amount": 1, "description": "Hosting", "price": 7.95, "tax_rate": 21}}
    ids = {s["id"] for s in f.state("invoices_saved") + f.state("invoices_repeated")}
    st, h, b = f.api("POST", "invoices", {"clientnr": nr, "action": "save", "savename": "Concept", "lines": line,
                                          "discount": 0})
    assert st == 201 and h["content-type"].startswith("text/plain")
    sid = b.decode()
    assert sid not in ids
    s = f.get_json("invoices_saved/" + sid)["invoices_saved"]
    assert s["savename"] == "Concept" and s["clientnr"] == nr and s["totalintax"] == "9.62"
    body = {"clientnr": nr, "action": "repeat", "savename": "Maandelijks", "lines": line,
            "initialdate": "2026-04-01", "finalsenddate": "2027-04-01", "frequency": "monthly",
            "repeattype": "auto"}
    st, _, b = f.api("POST", "invoices", body)
    assert st == 201
    rid = b.decode()
    assert rid != sid
    r = f.get_json("invoices_repeated/" + rid)["invoices_saved"]
    assert (r["initialdate"], r["nextsenddate"], r["finalsenddate"], r["frequency"], r["repeattype"],
            r["datesaved"]) == ("2026-04-01", "2026-04-01", "2027-04-01", "monthly", "auto", "2026-03-04")
    assert f.api("GET", "invoices_saved/" + rid)[0] == 404  # separate collections
    assert f.api("DELETE", "invoices_saved/" + sid)[0] == 200
    assert f.api("DELETE", "invoices_saved/" + sid)[0] == 404
    assert f.api("DELETE", "invoices_repeated/" + rid)[0] == 200
    assert f.api("GET", "invoices_repeated/" + rid)[0] == 404


def test_payments(fresh):
    """The official payment page: POST invoices_payment/<id or invoicenr> with `date`
    (required), `amount` a string or "full", `method`; answered 201."""
    f = fresh("--today", TODAY)
    cands = [i for i in f.state("invoices") if float(i["open"]) > 10 and not i["uncollectible"]]
    inv = sorted(cands, key=lambda i: "/" not in i["invoicenr"])[0]  # prefer one with a '/'
    nr, total = inv["invoicenr"], float(inv["open"])
    nhist = len(inv["history"]) if inv["history"] else 0
    st, h, b = f.api("POST", "invoices_payment/" + esc(nr), {"amount": "5.00", "date": "2025-12-01",
                                                             "method": "cash"})
    assert st == 201 and b == b""
    got = f.get_json("invoices/" + esc(nr))["invoice"]
    assert got["open"] == "%.2f" % (total - 5) and got["paiddate"] == ""
    assert len(got["history"]) == nhist + 1
    ev = got["history"]["item%d" % (nhist + 1)]
    assert ev["date"] == "2025-12-01" and "(cash)" in ev["description"]
    # "full" pays what is open; the invoice is named by its id here
    st, _, _ = f.api("POST", "invoices_payment/" + inv["id"], {"amount": "full", "date": "2025-12-02"})
    assert st == 201
    got = f.get_json("invoices/" + esc(nr))["invoice"]
    assert got["open"] == "0.00" and got["paiddate"] == "2025-12-02"
    assert nr in {i["invoicenr"] for i in f.get_json("invoices?count=1000&filter=paid")}
    st, _, b = f.api("POST", "invoices_payment/" + esc(nr), {"amount": "full", "date": "2025-12-03"})
    assert st == 400 and b"nothing open" in b
    for body, field in (({"amount": "veel", "date": "2025-12-01"}, b"amount"),
                        ({"amount": -3, "date": "2025-12-01"}, b"amount"),
                        ({"date": "2025-12-01"}, b"amount"),
                        ({"amount": "1"}, b"date"),
                        ({"amount": 1, "date": "01-12-2025"}, b"date"),
                        ({"amount": 1, "date": "2025-02-30"}, b"date")):
        st, _, b = f.api("POST", "invoices_payment/" + esc(nr), body)
        assert st == 400 and field in b, b
    assert f.api("POST", "invoices_payment/nope", {"amount": "1", "date": "2025-12-01"})[0] == 404
    # php's reading: the invoicenr in the body
    other = [i for i in cands if i["invoicenr"] != nr][0]
    st, _, _ = f.api("POST", "invoices_payment", {"invoicenr": other["invoicenr"], "amount": "1.00",
                                                  "date": "2025-12-02"})
    assert st == 201
    assert f.api("POST", "invoices_payment", {"invoicenr": "nope", "amount": 1, "date": "2025-12-02"})[0] == 404
    assert f.api("POST", "invoices_payment", {"amount": 1})[0] == 400
    # py v0's PUT is not this reading's: 405, nothing paid
    st, h, _ = f.api("PUT", "invoices_payment/" + esc(other["invoicenr"]), {"amount": "1", "date": "2025-12-02"})
    assert st == 405 and "POST" in h["allow"]


@pytest.mark.parametrize("how,put,post", [("put", 200, 405), ("both", 200, 201), ("post", 405, 201)])
def test_payment_method_switch(fresh, how, put, post):
    f = fresh("--today", TODAY, "--payment-method", how)
    inv = [i for i in f.state("invoices") if float(i["open"]) > 10 and not i["uncollectible"]][0]
    body = {"amount": "1.00", "date": "2025-12-01"}
    assert f.api("PUT", "invoices_payment/" + esc(inv["invoicenr"]), body)[0] == put
    assert f.api("POST", "invoices_payment/" + esc(inv["invoicenr"]), body)[0] == post
    paid = (put < 300) + (post < 300)
    got = f.get_json("invoices/" + esc(inv["invoicenr"]))["invoice"]
    assert got["open"] == "%.2f" % (float(inv["open"]) - paid)


@pytest.mark.parametrize("field", ["id", "invoicenr", "ids"])
def test_sending_a_draft(fresh, field):
    """POST invoices_saved sends a draft: it becomes an invoice with a new number, sent
    today, and leaves invoices_saved.  The body field naming it is --draft-send-field."""
    f = fresh("--today", "2026-03-04", *(["--draft-send-field", field] if field != "id" else []))
    draft = f.state("invoices_saved")[0]
    before = {i["invoicenr"] for i in f.state("invoices")}
    others = {"id", "invoicenr", "ids"} - {field}
    for wrong in sorted(others):
        st, _, b = f.api("POST", "invoices_saved", {wrong: draft["id"] if wrong != "ids" else [draft["id"]]})
        assert st == 400 and field.encode() in b, (wrong, b)
    assert f.api("POST", "invoices_saved", {field: ["999"] if field == "ids" else "999"})[0] == 404
    assert f.api("POST", "invoices_saved", {field: [draft["id"]] if field == "ids" else draft["id"],
                                            "sendmethod": "fax"})[0] == 400
    assert len(f.state("invoices_saved")) == len(f.get_json("invoices_saved"))
    st, h, b = f.api("POST", "invoices_saved", {field: [draft["id"]] if field == "ids" else draft["id"],
                                                "sendmethod": "email"})
    assert st == 201 and h["content-type"].startswith("text/plain")
    nr = b.decode()
    assert nr == "2026-0001" and nr not in before
    assert draft["id"] not in {d["id"] for d in f.state("invoices_saved")}
    inv = f.get_json("invoices/" + esc(nr))["invoice"]
    assert inv["sent"] == "2026-03-04" and inv["clientnr"] == draft["clientnr"]
    assert inv["totalintax"] == draft["totalintax"] and inv["open"] == draft["totalintax"]
    assert [ln["description"] for ln in inv["lines"].values()] == \
        [ln["description"] for ln in draft["lines"].values()]
    assert f.api("GET", "invoices_saved/" + draft["id"])[0] == 404


def test_drafts_read_back_fields(demo):
    """The saved-invoices page's read-only fields: name, alreadypaid, alreadypaidmethod,
    and datesaved."""
    for d in demo.get_json("invoices_saved"):
        assert d["name"] == d["savename"] and d["alreadypaid"] == "0.00"
        assert d["alreadypaidmethod"] == "" and DATE.match(d["datesaved"]) and d["datesaved"]


def test_invoice_date_switch(fresh):
    f = fresh("--invoice-date", "--generate", "clients=3,invoices=5,products=2", "--today", "2026-03-04")
    invs = f.get_json("invoices")
    assert invs and all(i["date"] == (i["sent"] or i["history"]["item1"]["date"]) for i in invs
                        if i["history"] or i["sent"])
    c = f.state("clients")[0]
    st, _, nr = f.api("POST", "invoices", {"clientnr": c["clientnr"], "action": "send",
                                           "sendmethod": "email",
                                           "lines": [{"description": "x", "price": 1}]})
    assert st == 201
    assert f.get_json("invoices/" + esc(nr.decode()))["invoice"]["date"] == "2026-03-04"


def test_missing_one_answers_the_list(fresh):
    f = fresh("--missing-one-lists", "--generate", "clients=3,invoices=4,products=2")
    st, _, b = f.api("GET", "clients/999")
    assert st == 200 and isinstance(json.loads(b), list) and len(json.loads(b)) == 3
    assert f.api("GET", "invoices/nope")[0] == 200
    assert "client" in f.get_json("clients/" + f.state("clients")[0]["clientnr"])
    g = fresh("--generate", "clients=3,invoices=4,products=2")
    assert g.api("GET", "clients/999")[0] == 404


def test_clients_country_by_name_and_the_new_fields(fresh):
    """The clients page: `country` an id or a name (the service finds the id),
    address_addon, addon, email_reminder."""
    f = fresh()
    for name, want in (("Belgi\u00eb", "18"), ("belgium", "18"), ("Duitsland", "50"), ("146", "146")):
        st, _, b = f.api("POST", "clients", {"company": "X " + name, "country": name,
                                             "address_addon": "2e etage", "addon": "Inkoop",
                                             "email_reminder": "herinnering@x.nl"})
        assert st == 201, b
        c = f.get_json("clients/%d" % json.loads(b))["client"]
        assert (c["country"], c["address_addon"], c["addon"], c["email_reminder"]) == \
            (want, "2e etage", "Inkoop", "herinnering@x.nl")
    st, _, b = f.api("POST", "clients", {"company": "Y", "country": "Atlantis"})
    assert st == 400 and b"country" in b


def test_product_note_and_quotation_names(demo):
    prods = demo.get_json("products")
    noted = [p for p in prods if "notes" in p]
    assert noted and len(noted) < len(prods) and all(p["notes"] for p in noted)
    profiles = {p["id"]: p["name"] for p in demo.get_json("profiles")}
    cats = {c["id"]: c["name"] for c in demo.get_json("categories")}
    for q in demo.get_json("quotations"):
        assert q["profile_name"] == profiles[q["profile"]]
        assert q["category_name"] == cats.get(q["category"], "")


def test_tax_country_is_input_only(fresh):
    f = fresh()
    c = f.state("clients")[0]
    st, _, b = f.api("POST", "quotations", {"clientnr": c["clientnr"], "action": "save",
                                            "lines": [{"description": "x", "price": 10,
                                                       "tax_country": "18"}]})
    assert st == 201
    q = f.get_json("quotations/%d" % json.loads(b))["quotation"]
    assert "tax_country" not in q["lines"]["line1"]


def test_the_default_forms_are_the_2015_captures(fresh):
    """Without --wire-forms the fake serves what the 2015 capture shows: php's
    underscore names, "true"/"false" beside "0"/"1" in one record."""
    f = fresh("--generate", "clients=3,invoices=2,products=2", default_forms=True)
    c = f.get_json("clients")[0]
    assert "default_doclang" in c and "defaultdoclang" not in c
    assert c["active"] in ("true", "false") and c["default_email"] in ("0", "1")
    assert f.get_json("invoices")[0]["collection"] in ("0", "1")


def test_deletes(fresh):
    f = fresh()
    c = f.state("clients")[-1]["clientnr"]
    i = next(x["invoicenr"] for x in f.state("invoices") if "/" in x["invoicenr"])
    st, _, b = f.api("DELETE", "clients/" + c)
    assert st == 200 and b == b""
    assert f.api("GET", "clients/" + c)[0] == 404
    assert f.api("DELETE", "clients/" + c)[0] == 404
    st, _, b = f.api("DELETE", "invoices/" + i)  # raw slash
    assert st == 200 and b == b""
    assert i not in {x["invoicenr"] for x in f.state("invoices")}
    assert f.api("DELETE", "invoices/" + esc(i))[0] == 404
    assert f.api("GET", "invoices_pdf/" + esc(i))[0] == 404


def test_chunked_request_body(fresh):
    f = fresh()
    conn = http.client.HTTPConnection("127.0.0.1", f.port, timeout=10)
    try:
        body = iter([b'{"code":"CH","na', b'me":"Chunked","price":"3"}'])
        conn.request("POST", "/api/v1/products", body=body, encode_chunked=True,
                     headers={"Authorization": f.auth(), "Content-Type": "application/json",
                              "Transfer-Encoding": "chunked"})
        r = conn.getresponse()
        pid = r.read()
        assert r.status == 201
        assert f.get_json("products/" + pid.decode())["product"]["name"] == "Chunked"
        conn.request("GET", "/api/v1/taxes", headers={"Authorization": f.auth()})
        r = conn.getresponse()
        assert r.status == 200 and json.loads(r.read())
    finally:
        conn.close()


# ------------------------------------------------------------------------------ PDF
@pytest.mark.skipif(shutil.which("pdfinfo") is None, reason="poppler-utils not installed")
def test_pdf(demo, tmp_path):
    invs = demo.state("invoices")
    a = next(i for i in invs if "/" in i["invoicenr"])
    b_ = invs[0]
    st, h, pdf1 = demo.api("GET", "invoices_pdf/" + esc(a["invoicenr"]))
    assert st == 200 and h["content-type"] == "application/pdf"
    assert int(h["content-length"]) == len(pdf1) and "x-ratelimit-remaining" in h
    assert pdf1.startswith(b"%PDF-1.") and pdf1.rstrip().endswith(b"%%EOF")
    assert 2000 < len(pdf1) < 20000
    _, _, pdf2 = demo.api("GET", "invoices_pdf/" + esc(a["invoicenr"]))
    assert pdf1 == pdf2
    st, _, pdf3 = demo.raw("GET", "/_fake/pdf/" + esc(a["invoicenr"]), auth=False)
    assert st == 200 and pdf3 == pdf1
    _, _, other = demo.api("GET", "invoices_pdf/" + esc(b_["invoicenr"]))
    assert other != pdf1
    path = tmp_path / "a.pdf"
    path.write_bytes(pdf1)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, timeout=10)
    assert info.returncode == 0, info.stderr
    assert info.stderr == ""  # no xref repair warnings
    assert re.search(r"^Pages:\s+1$", info.stdout, re.M)
    assert a["invoicenr"] in info.stdout  # Title
    if shutil.which("pdftotext"):
        txt = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, timeout=10)
        assert txt.returncode == 0 and txt.stderr == ""
        assert a["invoicenr"] in txt.stdout
        assert (a["company"] or a["contact"]) in txt.stdout
        for ln in a["lines"].values():
            assert ln["description"][:40] in txt.stdout
    # the xref offsets point at the objects
    xref = int(re.search(rb"startxref\n(\d+)", pdf1).group(1))
    assert pdf1[xref:xref + 4] == b"xref"
    offs = [int(m) for m in re.findall(rb"(\d{10}) 00000 n", pdf1)]
    for n, off in enumerate(offs, start=1):
        assert pdf1[off:].startswith(b"%d 0 obj" % n)


# ------------------------------------------------------------------------------ log
def test_request_log(fresh, tmp_path):
    log = tmp_path / "req.log"
    f = fresh("--log", str(log))
    f.api("GET", "clients?count=10")
    f.api("GET", "clients", auth=False)
    f.api("POST", "products", {"code": "L", "name": "Log", "price": 1})
    f.state("clients")
    f.control("reset")
    deadline = time.monotonic() + 5
    lines = []
    while time.monotonic() < deadline:  # read while the server runs
        lines = log.read_text().splitlines()
        if len(lines) >= 3:
            break
        time.sleep(0.02)
    recs = [json.loads(x) for x in lines]
    assert len(recs) == 3  # control endpoints are not logged
    assert [(r["method"], r["path"], r["status"]) for r in recs] == [
        ("GET", "/api/v1/clients?count=10", 200), ("GET", "/api/v1/clients", 401),
        ("POST", "/api/v1/products", 201)]
    assert recs[0]["bytes"] > 100 and recs[0]["req_bytes"] == 0
    assert recs[2]["req_bytes"] == len(json.dumps({"code": "L", "name": "Log", "price": 1}))
    assert recs[2]["bytes"] == len(b"%d" % max(int(p["id"]) for p in f.state("products")))
    assert all(isinstance(r["t"], float) and abs(r["t"] - time.time()) < 60 for r in recs)


# ------------------------------------------------------------------------------ generate
def test_generate_deterministic(fresh):
    a = fresh("--generate", "clients=15,invoices=40,products=6")
    b = fresh("--generate", "clients=15,invoices=40,products=6")
    for coll in ("clients", "products", "invoices", "invoices_saved", "invoices_repeated",
                 "profiles", "taxes", "countrylist", "balance"):
        sa, sb = a.state(coll), b.state(coll)
        assert sa == sb, coll
        assert sa, coll
    assert len(a.state("clients")) == 15 and len(a.state("invoices")) == 40
    assert len(a.state("products")) == 6
    c = fresh("--generate", "clients=15,invoices=40,products=6", "--seed", "2")
    assert c.state("clients") != a.state("clients")


def test_generate_large(fresh):
    f = fresh("--generate", "clients=300,invoices=2000,products=40", "--page-size", "500")
    invs = f.state("invoices")
    assert len(invs) == 2000 and len({i["invoicenr"] for i in invs}) == 2000
    assert len({i["id"] for i in invs}) == 2000
    assert len(f.get_json("invoices")) == 500
    assert len(f.get_json("invoices?count=2000")) == 2000
    assert 0.08 < sum("/" in i["invoicenr"] for i in invs) / 2000 < 0.2
    assert sum(bool(re.search(r"[ +#&%]", i["invoicenr"])) for i in invs) >= 5


def test_data_file_roundtrip(fresh, tmp_path):
    data = {"clients": [{"clientnr": 5, "company": "Minimal", "active": True}],
            "invoices": [{"id": 1, "invoicenr": "X/1", "clientnr": 5, "date": "2024-01-01",
                          "lines": [{"amount": 1, "description": "a", "price": 2, "tax_rate": 0, "linetotal": 2}]}]}
    p = tmp_path / "acct.json"
    p.write_text(json.dumps(data))
    f = fresh("--data", str(p))
    c = f.get_json("clients/5")["client"]
    assert c["active"] == "1" and c["clientnr"] == "5" and c["reference"] == [] and c["country"] == "146"
    i = f.get_json("invoices/X%2F1")["invoice"]
    assert i["lines"] == {"line1": {"amount": 1, "amount_desc": "", "description": "a", "tax_rate": 0,
                                    "price": 2, "discount_pct": 0, "linetotal": 2}}
    assert i["taxes"] == [] and i["history"] == []
    assert f.get_json("taxes") and f.get_json("countrylist")  # defaults filled in
    assert f.api("POST", "clients", {"company": "N"})[2] == b"6"


# ------------------------------------------------------------------------------ control / faults
def test_control_state_mutation(fresh):
    f = fresh()
    c = f.state("clients")[0]
    c2 = dict(c, company="Changed behind your back")
    st, _, _ = f.raw("PUT", "/_fake/state/clients/" + c["clientnr"], c2, auth=False)
    assert st == 200
    assert f.get_json("clients/" + c["clientnr"])["client"]["company"] == "Changed behind your back"
    assert f.raw("DELETE", "/_fake/state/clients/" + c["clientnr"], auth=False)[0] == 200
    assert f.api("GET", "clients/" + c["clientnr"])[0] == 404
    assert f.raw("GET", "/_fake/state/bogus", auth=False)[0] == 404
    st, _, b = f.raw("GET", "/_fake/status", auth=False)
    assert st == 200 and json.loads(b)["remaining"] == 498  # two API calls above


def test_fault_fail(fresh):
    f = fresh()
    f.control("inject", {"fail": {"status": 503, "count": 2, "path_prefix": "/api/v1/invoices", "body": "busy"}})
    assert f.api("GET", "clients")[0] == 200  # not matching
    for _ in range(2):
        st, h, b = f.api("GET", "invoices?count=1")
        assert st == 503 and b == b"busy" and "x-ratelimit-remaining" in h
    assert f.api("GET", "invoices?count=1")[0] == 200
    f.control("inject", {"fail": {"status": 500, "count": 5}})
    assert f.api("GET", "taxes")[0] == 500
    f.control("reset")
    assert f.api("GET", "taxes")[0] == 200


def test_fault_drop(fresh):
    f = fresh()
    f.control("inject", {"drop": {"count": 1, "path_prefix": "/api/v1/clients"}})
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError, http.client.BadStatusLine)):
        f.api("GET", "clients")
    assert f.api("GET", "clients")[0] == 200


def test_fault_malformed(fresh):
    f = fresh()
    f.control("inject", {"malformed": {"count": 1}})
    st, h, b = f.api("GET", "clients")
    assert st == 200 and int(h["content-length"]) == len(b) and b
    with pytest.raises(ValueError):
        json.loads(b)
    assert json.loads(f.api("GET", "clients")[2])


def test_fault_hang_and_latency(fresh):
    f = fresh("--latency-ms", "150")
    t0 = time.monotonic()
    assert f.api("GET", "taxes")[0] == 200
    assert time.monotonic() - t0 >= 0.15
    # Control endpoints are not delayed: with an hour of latency they answer at all
    # (the connection's own 10 s timeout would raise), with no claim on how fast.
    f.control("inject", {"latency_ms": 3600_000})
    assert f.state("taxes")
    # A hang on one path holds that path only: an hour of it, and another path answers.
    f.control("inject", {"latency_ms": 0, "hang": {"count": 1, "seconds": 3600, "path_prefix": "/api/v1/taxes"}})
    assert f.api("GET", "profiles")[0] == 200
    assert b'"hang"' in f.raw("GET", "/_fake/status", auth=False)[2]  # still pending
    f.control("inject", {"hang": {"count": 1, "seconds": 0.6, "path_prefix": "/api/v1/taxes"}})
    t0 = time.monotonic()
    assert f.api("GET", "taxes")[0] == 200
    assert time.monotonic() - t0 >= 0.6
    # a client timeout on a hang
    f.control("inject", {"hang": {"count": 1, "seconds": 5}})
    conn = http.client.HTTPConnection("127.0.0.1", f.port, timeout=0.3)
    with pytest.raises(TimeoutError):
        f.api("GET", "taxes", conn=conn)
    conn.close()
    f.control("reset")  # releases the hung request and restores --latency-ms
    t0 = time.monotonic()
    assert f.api("GET", "taxes")[0] == 200
    assert time.monotonic() - t0 >= 0.15


def test_inject_bad_spec(fresh):
    f = fresh()
    st, _, _ = f.raw("POST", "/_fake/inject", "not json", auth=False)
    assert st == 400
    st, _, _ = f.raw("POST", "/_fake/inject", {"fail": "x"}, auth=False)
    assert st == 400


def log_lines(path, n, timeout=5):
    """The request log once it has at least n lines (it is written before each answer)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []
        if len(lines) >= n or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)


def test_fault_fail_headers(fresh):
    f = fresh()
    f.control("inject", {"fail": {"status": 503, "count": 1, "body": "later",
                                  "headers": {"Retry-After": "1", "X-RateLimit-Remaining": "7"}}})
    st, h, b = f.api("GET", "taxes")
    assert (st, b, h["retry-after"], h["x-ratelimit-remaining"]) == (503, b"later", "1", "7")
    st, h, b = f.api("GET", "taxes")
    assert st == 200 and "retry-after" not in h and h["x-ratelimit-remaining"] == "498"
    for bad in ({"headers": "x"}, {"headers": {"A": "b\r\nX-Evil: 1"}}):
        assert f.raw("POST", "/_fake/inject", {"fail": bad}, auth=False)[0] == 400


def test_fault_ratelimit(fresh, tmp_path):
    log = tmp_path / "req.log"
    f = fresh("--log", str(log))
    assert f.api("GET", "taxes")[0] == 200
    f.control("inject", {"ratelimit": {"count": 2, "path_prefix": "/api/v1/invoices", "retry_after": 3}})
    assert f.api("GET", "clients?count=1")[2]  # not matching: served
    st, h, b = f.api("GET", "invoices?count=1", auth=False)  # before auth, like the real one
    assert st == 403 and h["x-ratelimit-remaining"] == "0" and h["retry-after"] == "3"
    assert h["content-type"].startswith("text/plain") and b"Rate limit" in b
    f.control("inject", {"ratelimit": {"count": 1, "status": 429}})
    st, h, _ = f.api("GET", "taxes")
    assert st == 429 and h["x-ratelimit-remaining"] == "0" and "retry-after" not in h
    st, h, _ = f.api("GET", "invoices?count=1")  # the new spec replaced the first one
    assert st == 200
    # the real budget: spent by the four served requests only
    st, h, _ = f.api("GET", "taxes")
    assert st == 200 and h["x-ratelimit-remaining"] == "496"
    status = json.loads(f.raw("GET", "/_fake/status", auth=False)[2])
    assert status["remaining"] == 496 and status["requests"] == 6 and status["faults"] == []
    recs = log_lines(log, 6)
    assert [r["status"] for r in recs] == [200, 200, 403, 429, 200, 200]


def read_cut(f, method, rel, body=None):
    """A request on a raw socket: (status line, headers, body bytes until the close)."""
    s = socket.create_connection(("127.0.0.1", f.port), timeout=10)
    data = json.dumps(body).encode() if body is not None else b""
    s.sendall(("%s /api/v1/%s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Type: "
               "application/json\r\nContent-Length: %d\r\n\r\n" % (method, rel, f.auth(), len(data))).encode() + data)
    got = b""
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        got += chunk
    s.close()
    head, _, rest = got.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    return lines[0], headers, rest


def test_fault_cut(fresh, tmp_path):
    log = tmp_path / "req.log"
    f = fresh("--log", str(log))
    whole = f.api("GET", "clients")[2]
    nr = f.state("invoices")[0]["invoicenr"]
    pdf = f.raw("GET", "/_fake/pdf/" + esc(nr), auth=False)[2]
    f.control("inject", {"cut": {"count": 3}})
    line, h, body = read_cut(f, "GET", "clients")
    assert line == "HTTP/1.1 200 OK" and int(h["content-length"]) == len(whole)
    assert body == whole[:len(whole) // 2]
    line, h, body = read_cut(f, "GET", "invoices_pdf/" + esc(nr))
    assert int(h["content-length"]) == len(pdf) and h["content-type"] == "application/pdf"
    assert body == pdf[:len(pdf) // 2]
    # http.client sees a short read; the POST itself was carried out
    with pytest.raises(http.client.IncompleteRead):
        f.api("POST", "products", {"code": "C", "name": "Cut", "price": 1})
    assert any(p["name"] == "Cut" for p in f.state("products"))
    assert f.api("GET", "clients")[2] == whole
    recs = log_lines(log, 5)
    assert [(r["status"], r["bytes"]) for r in recs] == [
        (200, len(whole)), (0, len(whole) // 2), (0, len(pdf) // 2), (0, 1), (200, len(whole))]


def products_named(f, name):
    return [p for p in f.state("products") if p["name"] == name]


@pytest.mark.parametrize("after", [False, True])
def test_fault_after_acting_or_not(fresh, tmp_path, after):
    """"after": the request carried out (the POST makes its record) before the bad
    answer, or not at all; the answer is the same either way."""
    log = tmp_path / "req.log"
    f = fresh("--log", str(log))
    page = "<!DOCTYPE html>\n<html><body>Onderhoud</body></html>"
    f.control("inject", {"fail": {"status": 200, "ctype": "text/html", "body": page,
                                  "after": after, "path_prefix": "/api/v1/products"}})
    st, h, b = f.api("POST", "products", {"code": "H", "name": "Html", "price": 1})
    assert (st, h["content-type"], b.decode()) == (200, "text/html", page)
    assert len(products_named(f, "Html")) == (1 if after else 0)
    f.control("inject", {"fail": {"status": 502, "body": "Bad Gateway", "after": after}})
    assert f.api("POST", "products", {"code": "G", "name": "Gateway", "price": 1})[:3:2] == \
        (502, b"Bad Gateway")
    assert len(products_named(f, "Gateway")) == (1 if after else 0)
    f.control("inject", {"drop": {"after": after}})
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError, http.client.BadStatusLine)):
        f.api("POST", "products", {"code": "D", "name": "Dropped", "price": 1})
    assert len(products_named(f, "Dropped")) == (1 if after else 0)
    f.control("inject", {"hang": {"seconds": 0.5, "after": after}})
    assert f.api("POST", "products", {"code": "W", "name": "Waited", "price": 1})[0] == 201
    assert len(products_named(f, "Waited")) == 1
    recs = log_lines(log, 4)
    assert [(r["method"], r["status"]) for r in recs] == [
        ("POST", 200), ("POST", 502), ("POST", 0), ("POST", 201)]


def test_fault_of_one_method(fresh):
    f = fresh()
    f.control("inject", {"fail": {"status": 503, "method": "post", "path_prefix": "/api/v1/products"}})
    assert f.api("GET", "products")[0] == 200  # not a POST: left pending
    assert f.api("POST", "products", {"code": "M", "name": "Method", "price": 1})[0] == 503
    assert f.api("POST", "products", {"code": "M", "name": "Method", "price": 1})[0] == 201


def test_fault_hang_after_acting_is_carried_out_while_it_hangs(fresh):
    f = fresh()
    f.control("inject", {"hang": {"seconds": 20, "after": True, "path_prefix": "/api/v1/products"}})
    got = {}
    th = threading.Thread(target=lambda: got.update(
        st=f.api("POST", "products", {"code": "H", "name": "Hung", "price": 1})[0]))
    th.start()
    deadline = time.monotonic() + 5
    while not products_named(f, "Hung") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert products_named(f, "Hung") and th.is_alive()  # made, not answered
    f.control("reset")
    th.join(5)
    assert got["st"] == 201


def test_fault_redirect(fresh):
    f = fresh()
    f.control("inject", {"redirect": {"status": 303, "location": "http://127.0.0.1:9/x",
                                      "after": True, "path_prefix": "/api/v1/products"}})
    st, h, b = f.api("POST", "products", {"code": "R", "name": "Redirected", "price": 1})
    assert (st, h["location"], h["content-type"]) == (303, "http://127.0.0.1:9/x", "text/html")
    assert b"moved" in b and len(products_named(f, "Redirected")) == 1
    f.control("inject", {"redirect": {}})  # 302 elsewhere, before acting
    st, h, _ = f.api("GET", "clients")
    assert (st, h["location"]) == (302, "http://127.0.0.1:9/elsewhere")


def test_fault_trickle_and_stall_body(fresh):
    f = fresh()
    whole = f.api("GET", "taxes")[2]
    f.control("inject", {"trickle": {"bytes": 2, "ms": 30, "path_prefix": "/api/v1/taxes"}})
    s = socket.create_connection(("127.0.0.1", f.port), timeout=10)
    s.sendall(("GET /api/v1/taxes HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n\r\n"
               % f.auth()).encode())
    got, reads, t0 = b"", 0, time.monotonic()
    while not got.endswith(whole):
        chunk = s.recv(65536)
        assert chunk
        got += chunk
        reads += 1
    s.close()
    head, _, body = got.partition(b"\r\n\r\n")
    assert body == whole and int(dict(
        (k.lower(), v.strip()) for k, _, v in (x.partition(":") for x in head.decode().split("\r\n")[1:])
    )["content-length"]) == len(whole)
    assert reads > len(whole) // 4  # it came in small pieces
    assert time.monotonic() - t0 >= (len(whole) // 2 - 1) * 0.03
    # the headers, then nothing until the reset
    f.control("inject", {"stall_body": {"seconds": 20}})
    conn = http.client.HTTPConnection("127.0.0.1", f.port, timeout=0.5)
    conn.request("GET", "/api/v1/taxes", headers={"Authorization": f.auth()})
    r = conn.getresponse()
    assert r.status == 200 and int(r.getheader("Content-Length")) == len(whole)
    with pytest.raises(TimeoutError):
        r.read()
    conn.close()
    f.control("reset")
    assert f.api("GET", "taxes")[2] == whole


def test_fault_length(fresh, tmp_path):
    log = tmp_path / "req.log"
    f = fresh("--log", str(log))
    f.control("inject", {"length": {"path_prefix": "/api/v1/products"}})
    line, h, posted = read_cut(f, "POST", "products", {"code": "L", "name": "Lied", "price": 1})
    assert line.startswith("HTTP/1.1 201") and int(h["content-length"]) == len(posted) + 100
    assert len(products_named(f, "Lied")) == 1  # carried out
    f.control("inject", {"length": {"announce": 1 << 40, "status": 200, "body": "[]",
                                    "after": False}})
    line, h, body = read_cut(f, "GET", "clients")
    assert (line, h["content-length"], body) == ("HTTP/1.1 200 OK", str(1 << 40), b"[]")
    recs = log_lines(log, 2)
    assert [(r["status"], r["bytes"]) for r in recs] == [(0, len(posted)), (0, 2)]
    assert f.raw("POST", "/_fake/inject", {"length": {"announce": -1}}, auth=False)[0] == 400


def test_fault_spike(fresh):
    f = fresh()
    # An hour's spike on one path: another answers at all (within the connection's
    # 10 s timeout) and leaves the spike pending.
    f.control("inject", {"spike": {"count": 1, "ms": 3600_000, "path_prefix": "/api/v1/invoices"}})
    assert f.api("GET", "taxes")[0] == 200
    assert b'"spike"' in f.raw("GET", "/_fake/status", auth=False)[2]
    f.control("inject", {"spike": {"count": 2, "ms": 500, "path_prefix": "/api/v1/invoices"}})
    for _ in range(2):
        t0 = time.monotonic()
        assert f.api("GET", "invoices?count=1")[0] == 200
        assert time.monotonic() - t0 >= 0.5
    status = json.loads(f.raw("GET", "/_fake/status", auth=False)[2])
    assert "spike" not in json.dumps(status)  # used up: the next one is not spiked
    assert status["latency_ms"] == 0  # a spike is not the global latency
    assert f.api("GET", "invoices?count=1")[0] == 200


def test_fault_latin1(fresh):
    f = fresh()
    f.raw("PUT", "/_fake/state/clients/900", {"clientnr": "900", "company": "Café Zoë € \u0142 / x\\u00e9"}, auth=False)
    utf = f.api("GET", "clients/900")[2]
    nr = f.state("invoices")[0]["invoicenr"]
    f.control("inject", {"latin1": {"count": 1, "path_prefix": "/api/v1/clients"}})
    assert f.api("GET", "invoices_pdf/" + esc(nr))[2].startswith(b"%PDF")  # not matching
    st, h, b = f.api("GET", "clients/900")
    assert st == 200 and h["content-type"] == "application/json" and int(h["content-length"]) == len(b)
    with pytest.raises(UnicodeDecodeError):
        b.decode("utf-8")
    assert b"Caf\xe9 Zo\xeb \\u20ac \\u0142 \\/ x\\\\u00e9" in b  # only Latin-1 goes raw
    assert json.loads(b.decode("latin-1")) == json.loads(utf)
    assert f.api("GET", "clients/900")[2] == utf  # count used up
    # PDFs and plain text do not use the count up
    f.control("inject", {"latin1": {"count": 1}})
    assert f.api("GET", "invoices_pdf/" + esc(nr))[2].startswith(b"%PDF")
    assert f.api("PUT", "clients/900", {"company": "Café"})[0] == 200
    assert b'"latin1"' in f.raw("GET", "/_fake/status", auth=False)[2]
    assert b'"Caf\xe9"' in f.api("GET", "clients/900")[2]
    assert b'"latin1"' not in f.raw("GET", "/_fake/status", auth=False)[2]


def test_faults_at_once_and_hang_elsewhere(fresh):
    """A hung request holds its own connection only; kinds of fault are independent."""
    f = fresh()
    # The hang is an hour and every other request has the connection's 10 s timeout:
    # one held up by the hung request fails with TimeoutError.
    f.control("inject", {"hang": {"count": 1, "seconds": 3600, "path_prefix": "/api/v1/invoices"},
                         "fail": {"count": 1, "status": 502, "path_prefix": "/api/v1/products"},
                         "spike": {"count": 1, "ms": 200, "path_prefix": "/api/v1/taxes"}})
    hung = {}

    def slow():
        hung["status"] = f.api("GET", "invoices?count=1", conn=f.connect(timeout=harness.DEADLINE))[0]
    th = threading.Thread(target=slow)
    th.start()
    deadline = time.monotonic() + 5
    while b'"hang"' in f.raw("GET", "/_fake/status", auth=False)[2] and time.monotonic() < deadline:
        time.sleep(0.02)  # the hang is taken: that request waits
    assert f.api("GET", "clients?count=1")[0] == 200
    assert f.api("GET", "products")[0] == 502
    assert f.api("GET", "taxes")[0] == 200
    assert f.api("GET", "invoices?count=1")[0] == 200  # same path, new connection
    assert th.is_alive()
    f.control("reset")  # releases it: an answer, not the hour
    th.join(harness.DEADLINE * 2)
    assert hung["status"] == 200


# ------------------------------------------------------------------------------ big PDFs
@pytest.mark.skipif(shutil.which("pdfinfo") is None, reason="poppler-utils not installed")
def test_pdfsize(fresh, tmp_path):
    f = fresh("--generate", "clients=4,invoices=8,products=3")
    invs = f.state("invoices")
    nr, other = invs[6]["invoicenr"], invs[1]["invoicenr"]  # invs[6]: a '/' in its number
    small = f.raw("GET", "/_fake/pdf/" + esc(nr), auth=False)[2]
    plain_other = f.api("GET", "invoices_pdf/" + esc(other))[2]
    n = 50_000_000
    assert len(pdfgen.invoice_pdf(invs[6], n)) == n
    st, _, _ = f.raw("PUT", "/_fake/pdfsize/" + esc(nr), {"bytes": n}, auth=False)
    assert st == 200
    st, h, big = f.api("GET", "invoices_pdf/" + esc(nr))
    assert st == 200 and len(big) == n and int(h["content-length"]) == n
    assert big.startswith(small[:small.index(b"xref")]) and big.endswith(b"%%EOF\n")
    assert f.raw("GET", "/_fake/pdf/" + esc(nr), auth=False)[2] == big  # cached
    path = tmp_path / "big.pdf"
    path.write_bytes(big)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, timeout=30)
    assert info.returncode == 0 and info.stderr == "", info.stderr
    assert re.search(r"^Pages:\s+1$", info.stdout, re.M) and nr in info.stdout
    assert re.search(r"^File size:\s+%d bytes$" % n, info.stdout, re.M)
    assert f.api("GET", "invoices_pdf/" + esc(other))[2] == plain_other
    for size in (6000, 9999, 10000, 123457):
        f.raw("PUT", "/_fake/pdfsize/" + esc(other), {"bytes": size}, auth=False)
        b = f.api("GET", "invoices_pdf/" + esc(other))[2]
        assert len(b) == size
        path.write_bytes(b)
        assert subprocess.run(["pdfinfo", str(path)], capture_output=True).returncode == 0
    f.raw("PUT", "/_fake/pdfsize/" + esc(other), {"bytes": 0}, auth=False)
    assert f.api("GET", "invoices_pdf/" + esc(other))[2] == plain_other
    f.raw("PUT", "/_fake/pdfsize/" + esc(other), {"bytes": 100}, auth=False)  # smaller: as is
    assert f.api("GET", "invoices_pdf/" + esc(other))[2] == plain_other
    # a payment changes the invoice: the padded PDF follows it
    f.api("PUT", "invoices_payment/" + esc(nr), {"amount": 1})
    assert len(f.api("GET", "invoices_pdf/" + esc(nr))[2]) == n
    assert f.raw("PUT", "/_fake/pdfsize/" + esc(nr), {"bytes": "x"}, auth=False)[0] == 400
    assert f.raw("PUT", "/_fake/pdfsize/" + esc(nr), "[]", auth=False)[0] == 400
    assert f.raw("PUT", "/_fake/pdfsize/nope", {"bytes": 1}, auth=False)[0] == 404
    # malformed on a big PDF: half of it
    f.control("inject", {"malformed": {"count": 1, "path_prefix": "/api/v1/invoices_pdf"}})
    assert f.api("GET", "invoices_pdf/" + esc(nr))[2] == big[:n // 2]


# ------------------------------------------------------------------------------ bad server data
BAD_INVOICES = {
    "2024/07%B": {"invoicenr": "2024/07%B"},  # nearly nothing
    "2024/08%2F": {"invoicenr": 2024, "id": {"x": 1}, "clientnr": None, "date": 20240101,
                   "duedate": 5, "open": [1], "totalintax": {"a": "b"}, "tax": "lots",
                   "lines": "line1", "taxes": {"tax1": "x"}, "reference": "ref",
                   "history": 7, "company": {"name": "Obj"}, "uncollectible": False,
                   "sent": 1, "paymentperiod": "veertien", "invoicenote": ["a", 1]},
    "100%": {"invoicenr": "100%", "lines": {"line1": {"amount": "veel", "price": None,
                                                      "description": {"d": 1}},
                                            "line2": "not a line"},
             "taxes": [{"rate": "x"}], "date": "31-12-2024", "tax": 1e300,
             "totalintax": "NaN", "company": "Café \u0000 \U0001F600 \ud800"},
}


def test_bad_records_served_as_stored(fresh, tmp_path):
    f = fresh("--generate", "clients=3,invoices=3,products=3", "--today", TODAY)
    for key, rec in BAD_INVOICES.items():
        assert f.raw("PUT", "/_fake/state/invoices/" + esc(key), rec, auth=False)[0] == 200
    bad_client = {"clientnr": 77, "company": 12, "top": {"x": 1}, "stddiscount": "veel",
                  "reference": "r", "active": 2}
    assert f.raw("PUT", "/_fake/state/clients/a%2Fb%25c", bad_client, auth=False)[0] == 200
    assert f.raw("PUT", "/_fake/state/products/5", {"price": "gratis", "id": None}, auth=False)[0] == 200
    assert f.raw("PUT", "/_fake/state/products/6", {}, auth=False)[0] == 200
    listed = f.get_json("invoices?count=100")
    for key, rec in BAD_INVOICES.items():
        assert rec in listed
        assert f.get_json("invoices/" + esc(key)) == {"invoice": rec}, key
        st, h, b = f.api("GET", "invoices_pdf/" + esc(key))
        assert st == 200 and b.startswith(b"%PDF") and b.endswith(b"%%EOF\n"), key
        if shutil.which("pdfinfo"):
            path = tmp_path / "bad.pdf"
            path.write_bytes(b)
            assert subprocess.run(["pdfinfo", str(path)], capture_output=True).returncode == 0
    assert f.get_json("invoices/2024%2F07%25B") == {"invoice": BAD_INVOICES["2024/07%B"]}
    assert f.api("GET", "invoices_pdf/2024%2F07%25B")[0] == 200
    for flt in ("filter=open", "filter=overdue", "filter=sent", "filter=partly", "filter=paid",
                "filter=toomuch", "filter=uncollectible", "since=2024-01-01", "until=2030-01-01",
                "clientnr=1"):
        assert f.api("GET", "invoices?" + flt)[0] == 200, flt
    assert f.get_json("clients/a%2Fb%25c") == {"client": bad_client}
    assert bad_client in f.get_json("clients")
    prods = f.get_json("products")
    assert {"price": "gratis", "id": None} in prods and {} in prods
    assert f.get_json("products/6") == {"product": {}}
    assert f.raw("GET", "/_fake/dump", auth=False)[0] == 200


# ------------------------------------------------------------------------------ HTTPS
def test_tls(fresh, tmp_path):
    cert, key = harness.make_cert(str(tmp_path))
    f = fresh("--tls-cert", cert, "--tls-key", key, cafile=cert)
    # a client that connects and never says hello stalls nobody
    # (each request below has the connection's 10 s timeout: held up, it raises)
    silent = socket.create_connection(("127.0.0.1", f.port))
    assert f.get_json("taxes")
    assert f.api("GET", "taxes", auth=False)[0] == 401
    assert f.state("clients")
    assert f.control("inject", {"fail": {"count": 1, "status": 503}}) == {"ok": True}
    assert f.api("GET", "taxes")[0] == 503
    st, h, b = f.api("GET", "invoices_pdf/" + esc(f.state("invoices")[0]["invoicenr"]))
    assert st == 200 and b.startswith(b"%PDF") and int(h["content-length"]) == len(b)
    # keep-alive over TLS
    conn = f.connect()
    for _ in range(3):
        assert f.api("GET", "profiles", conn=conn)[0] == 200
    conn.close()
    silent.close()
    # plain HTTP to a TLS port gets no HTTP answer
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        c = http.client.HTTPConnection("127.0.0.1", f.port, timeout=5)
        c.request("GET", "/api/v1/taxes")
        c.getresponse().read()
    # an untrusting client refuses the certificate
    with pytest.raises(ssl.SSLCertVerificationError):
        c = http.client.HTTPSConnection("127.0.0.1", f.port, timeout=5, context=ssl.create_default_context())
        c.request("GET", "/api/v1/taxes")


def test_tls_handshakes_counted(fresh, tmp_path):
    """Every TLS connection has a serial number in the log; its first logged request says
    whether its handshake was full or resumed a session of an earlier connection, and
    /_fake/status counts both (control connections included)."""
    cert, key = harness.make_cert(str(tmp_path))
    log = tmp_path / "requests.log"
    f = fresh("--tls-cert", cert, "--tls-key", key, "--log", str(log), cafile=cert)
    ctx = ssl.create_default_context(cafile=cert)

    def connection(session=None):
        """Two keep-alive requests on one connection (closed after them): returns whether
        the client saw its session resumed, and the session for the next one."""
        sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", f.port), timeout=10),
                               server_hostname="127.0.0.1", session=session)
        c = http.client.HTTPSConnection("127.0.0.1", f.port, timeout=10, context=ctx)
        c.sock = sock
        for _ in range(2):
            assert f.api("GET", "taxes", conn=c)[0] == 200
        # TLS 1.3: the session (its ticket) arrives after the handshake; read by now.
        reused, sess = sock.session_reused, sock.session
        assert sess is not None
        c.close()
        return reused, sess

    def logged():
        with open(log, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh]

    def status():
        return json.loads(f.raw("GET", "/_fake/status", auth=False)[2])["tls"]

    before = status()
    reused, first = connection()
    assert not reused
    reused, _ = connection(first)
    assert reused
    # a fresh client that offers nothing gets a full handshake again
    reused, third = connection()
    assert not reused
    reqs = logged()
    assert [(r["conn"], r.get("tls")) for r in reqs] == [
        (reqs[0]["conn"], "full"), (reqs[0]["conn"], None),
        (reqs[2]["conn"], "resumed"), (reqs[2]["conn"], None),
        (reqs[4]["conn"], "full"), (reqs[4]["conn"], None)]
    assert reqs[0]["conn"] < reqs[2]["conn"] < reqs[4]["conn"]
    assert harness.handshakes(reqs) == (2, 1)
    assert harness.handshakes(reqs[1:]) == (1, 1)  # a connection begun earlier: not counted
    after = status()
    # two full API handshakes, one resumed, and this status call's own connection
    assert after == {"full": before["full"] + 3, "resumed": before["resumed"] + 1}
    # a handshake without a request is counted too, but not logged (the socket stays
    # open until it is: closed at once, the server's ticket write could fail it)
    idle = ctx.wrap_socket(socket.create_connection(("127.0.0.1", f.port), timeout=10),
                           server_hostname="127.0.0.1", session=third)
    try:
        assert idle.session_reused
        harness.wait_for(lambda: status()["resumed"] == after["resumed"] + 1,
                         "the resumed handshake counted", timeout=10)
    finally:
        idle.close()
    assert len(logged()) == 6
    # plain HTTP: no connection fields, no handshakes
    plog = tmp_path / "plain.log"
    p = fresh("--log", str(plog))
    assert p.get_json("taxes")
    assert json.loads(p.raw("GET", "/_fake/status", auth=False)[2])["tls"] == {"full": 0, "resumed": 0}
    with open(plog, encoding="utf-8") as fh:
        (entry,) = [json.loads(line) for line in fh]
    assert "conn" not in entry and "tls" not in entry


# ------------------------------------------------------------------------------ large listings
def test_100000_products(fresh):
    # How fast the fake makes and serves them is the bench's to measure, not a test's.
    f = fresh("--generate", "clients=10,invoices=10,products=100000")
    seen = 0
    for off in range(0, 100000, 10000):
        recs = f.get_json("products?count=100000&start=%d" % off)  # clamped to 10000
        assert len(recs) == 10000 and recs[0]["id"] == str(off + 1)
        seen += len(recs)
    assert seen == 100000 and f.get_json("products?count=10&start=100000") == []


# ------------------------------------------------------------------------------ tests/harness.py
def test_harness_tls(tmp_path):
    fake = harness.Fake(str(tmp_path), "--generate", "clients=3,invoices=3,products=3", tls=True)
    try:
        assert fake.url.startswith("https://127.0.0.1:") and os.path.exists(fake.cafile)
        cert = subprocess.run(["openssl", "x509", "-in", fake.cafile, "-noout", "-text"],
                              capture_output=True, text=True).stdout
        assert "IP Address:127.0.0.1" in cert and "DNS:localhost" in cert and "CN = 127.0.0.1" in cert
        nr = fake.state("invoices")[0]["invoicenr"]
        fake.inject(fail={"count": 1})
        assert fake.status()["faults"][0]["kind"] == "fail"
        fake.reset()
        fake.set_pdf_size(nr, 20000)
        assert len(fake.pdf(nr)) == 20000
        fake.put_state("clients", "a/b%", {"company": "x"})
        assert {"company": "x"} in fake.state("clients")
        fake.delete_state("clients", "a/b%")
        assert {"company": "x"} not in fake.state("clients")
    finally:
        fake.stop()
    plain = harness.Fake(str(tmp_path))
    try:
        assert plain.url.startswith("http://") and plain.cafile is None and plain.state("taxes")
    finally:
        plain.stop()


def test_harness_restart(tmp_path):
    fake = harness.Fake(str(tmp_path), "--generate", "clients=3,invoices=3,products=3")
    auth = {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (USER, KEY)).encode()).decode()}

    def get(rel, conn=None):
        c = conn or http.client.HTTPConnection("127.0.0.1", fake.port, timeout=10)
        c.request("GET", "/api/v1/" + rel, headers=auth)
        r = c.getresponse()
        return r.status, r.read()
    try:
        port = fake.port
        kept = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        assert get("taxes", kept)[0] == 200  # a keep-alive connection stays open on the port
        for i in range(3):  # again and again, right after the stop
            fake.stop()
            with pytest.raises(ConnectionRefusedError):
                get("taxes")
            fake.start()
            assert fake.port == port and get("taxes")[0] == 200
        kept.close()
        assert [r["status"] for r in fake.requests()] == [200] * 4  # one log, appended
        with fake.down():
            with pytest.raises(ConnectionRefusedError):
                get("taxes")
        assert get("taxes")[0] == 200
        # a fresh start forgets changes; keep_state keeps them
        fake.put_state("products", "42", {"id": "42", "code": "K", "name": "Kept", "price": "1.00"})
        fake.set_pdf_size(fake.state("invoices")[0]["invoicenr"], 12345)
        fake.restart(keep_state=True)
        assert get("products/42")[0] == 200
        assert len(fake.pdf(fake.state("invoices")[0]["invoicenr"])) == 12345
        t0 = time.monotonic()
        fake.restart(down_seconds=0.3)
        assert time.monotonic() - t0 >= 0.3
        assert get("products/42")[0] == 404
    finally:
        fake.stop()
    fake.stop()  # twice is fine
