"""The bookkeeper's quarter and the spreadsheets (docs/SEMANTICS.md, "The VAT quarter",
"Exports"): views/quarter/YYYY-Qn/, exports/btw-YYYY-Qn.csv, and an .xlsx beside every
CSV, read back with openpyxl.

The VAT figures are held against a small account computed by hand below (rates 21, 9
and 0 %, one reverse-charge client, one EU client, one non-EU client, one credit line,
one invoice discount, and invoices on either side of the quarter's edges); the rules
they follow are written in docs/SEMANTICS.md, not read from src/.  The account is
served as the live service sends invoices (no `date`: dated by `sent`, and for one
never sent by its history), and in the older reading with a `date` that wins."""
import base64
import csv
import datetime
import io
import json
import os
import urllib.request

import openpyxl
import pytest

from expected import file_stem, invoice_day, quarter_of
from harness import APIKEY, USER, Fake, listing_calls

# -- the hand-computed account ------------------------------------------------------------
# Country ids are the service's (its countrylist: 146 Nederland, 18 België, 237
# Zwitserland).
CLIENTS = [
    {"clientnr": "1", "company": "Bakkerij Jansen B.V.", "country": "146", "tax_shifted": "0"},
    {"clientnr": "2", "company": "Bouwbedrijf Verlegd B.V.", "country": "146", "tax_shifted": "1"},
    {"clientnr": "3", "company": "Brasserie Bruxelles SA", "country": "18", "tax_shifted": "1"},
    {"clientnr": "4", "company": "Zürich Consulting AG", "country": "237", "tax_shifted": "0"},
]


def line(amount, price, rate, desc="werk"):
    return {"amount": amount, "description": desc, "tax_rate": rate, "price": price,
            "discount_pct": 0, "linetotal": round(amount * price, 2)}


def invoice(n, nr, date, client, lines, taxes, tax, total, **extra):
    """An invoice dated @date as the live service sends it: `sent` and a history event
    on that day, no `date` field."""
    c = CLIENTS[client - 1]
    rec = {"id": str(n), "invoicenr": nr, "clientnr": str(client),
           "sent": date, "duedate": date, "company": c["company"], "country": c["country"],
           "tax_shifted": c["tax_shifted"], "lines": lines,
           "history": {"item1": {"date": date, "time": "10:56",
                                 "description": "Factuur verstuurd via e-mail"}},
           "taxes": {"tax%d" % i: {"rate": r, "sum": s, "sum_of": so}
                     for i, (r, s, so) in enumerate(taxes, 1)} or [],
           "tax": tax, "totalintax": total, "open": total}
    rec.update(extra)
    return rec


INVOICES = [
    # Q3: 2 x 100.00 and a credit line of -40.00 at 21 %, 50.00 at 9 %, 30.00 at 0 %.
    #     21 %: 160.00, VAT 33.60; 9 %: 50.00, VAT 4.50; total 240.00 + 38.10 = 278.10
    invoice(1, "Q-001", "2025-07-01", 1,
            [line(2, 100.0, 21), line(1, 50.0, 9, "lunch"), line(1, 30.0, 0, "reiskosten"),
             line(-1, 40.0, 21, "creditering")],
            [(21, 33.60, 160.00), (9, 4.50, 50.00)], "38.10", "278.10"),
    # Q3: reverse charge to a Dutch client: 1000.00, no VAT
    invoice(2, "Q-002", "2025-08-15", 2, [line(1, 1000.0, 0)], [], "0.00", "1000.00"),
    # Q3: to a Belgian business (EU, reverse-charged): 500.00, no VAT
    invoice(3, "Q-003", "2025-09-30", 3, [line(1, 500.0, 0)], [], "0.00", "500.00"),
    # Q3: to Switzerland (outside the EU): 300.00, no VAT
    invoice(4, "Q-004", "2025-09-10", 4, [line(1, 300.0, 0)], [], "0.00", "300.00"),
    # Q3: 200.00 at 21 % less a 10 % invoice discount: 180.00, VAT 37.80
    invoice(5, "Q-005", "2025-07-20", 1, [line(1, 200.0, 21)], [(21, 37.80, 180.00)],
            "37.80", "217.80", discounttype="percentage", discount="10"),
    # Q2, the quarter's last day: 70.00 at 21 %, VAT 14.70
    invoice(6, "Q-006", "2025-06-30", 1, [line(1, 70.0, 21)], [(21, 14.70, 70.00)],
            "14.70", "84.70"),
    # Q4, its first day: 10.00 at 9 %, VAT 0.90
    invoice(7, "Q-007", "2025-10-01", 1, [line(1, 10.0, 9)], [(9, 0.90, 10.00)],
            "0.90", "10.90"),
    # No date at all (never sent, no history): in no quarter and no year, in the CSV
    # with an empty date.
    invoice(8, "Q-008", "", 1, [line(1, 999.0, 21)], [(21, 209.79, 999.00)],
            "209.79", "1208.79", history=[]),
]
# The readings the account is served in (docs/SEMANTICS.md, "Dates"):
#   sent     as the live service: `sent` and a history event, no `date`
#   history  the same, but never sent: dated by their first dated event
#            (an undated one before it)
#   date     the older reading: a `date` on every invoice, and a `sent` in another
#            quarter (a month later), which the `date` beats
READINGS = ("sent", "history", "date")


def account(reading):
    out = []
    for inv in INVOICES:
        rec = json.loads(json.dumps(inv))
        day = inv["sent"]
        if reading == "history" and rec["invoicenr"] in ("Q-004", "Q-006"):
            rec["sent"] = ""
            rec["history"] = {"item1": {"date": "", "time": "", "description": "Concept"},
                              "item2": {"date": day, "time": "09:00",
                                        "description": "Factuur aangemaakt"}}
        if reading == "date" and day:
            rec["date"] = day
            later = datetime.date.fromisoformat(day) + datetime.timedelta(days=31 + 30)
            rec["sent"] = later.isoformat()
            rec["history"] = {"item1": {"date": rec["sent"], "time": "10:56",
                                        "description": "Factuur verstuurd via e-mail"}}
        out.append(rec)
    return out

HEADER = ["category", "rate", "box", "turnover", "vat", "invoices"]
# Written out by hand from the rules in docs/SEMANTICS.md ("The VAT quarter").
EXPECTED = {
    "2025-Q3": [
        ["21%", "21", "1a", "340.00", "71.40", "2"],       # Q-001 160.00 + Q-005 180.00
        ["9%", "9", "1b", "50.00", "4.50", "1"],
        ["0%", "0", "1e", "30.00", "0.00", "1"],           # Q-001's 0 % line, a Dutch client
        ["reverse charge", "", "1e", "1000.00", "0.00", "1"],
        ["EU", "", "3b", "500.00", "0.00", "1"],
        ["non-EU", "", "3a", "300.00", "0.00", "1"],
        ["total", "", "", "2220.00", "75.90", "5"],
    ],
    "2025-Q2": [
        ["21%", "21", "1a", "70.00", "14.70", "1"],
        ["9%", "9", "1b", "0.00", "0.00", "0"],
        ["0%", "0", "1e", "0.00", "0.00", "0"],
        ["reverse charge", "", "1e", "0.00", "0.00", "0"],
        ["EU", "", "3b", "0.00", "0.00", "0"],
        ["non-EU", "", "3a", "0.00", "0.00", "0"],
        ["total", "", "", "70.00", "14.70", "1"],
    ],
    "2025-Q4": [
        ["21%", "21", "1a", "0.00", "0.00", "0"],
        ["9%", "9", "1b", "10.00", "0.90", "1"],
        ["0%", "0", "1e", "0.00", "0.00", "0"],
        ["reverse charge", "", "1e", "0.00", "0.00", "0"],
        ["EU", "", "3b", "0.00", "0.00", "0"],
        ["non-EU", "", "3a", "0.00", "0.00", "0"],
        ["total", "", "", "10.00", "0.90", "1"],
    ],
}
QUARTER_INVOICES = {"2025-Q2": {"Q-006"}, "2025-Q3": {"Q-001", "Q-002", "Q-003", "Q-004", "Q-005"},
                    "2025-Q4": {"Q-007"}}

# Column types of each export, as docs/SEMANTICS.md ("Exports") gives them.
MONEY, DATE, INT, NUMBER, TEXT = "money", "date", "int", "number", "text"
TYPES = {
    "invoices": [TEXT, DATE, DATE, INT, TEXT, TEXT, MONEY, MONEY, DATE, DATE, TEXT, TEXT],
    "clients": [INT] + [TEXT] * 5 + [INT] + [TEXT] * 4 + [DATE],
    "btw": [TEXT, NUMBER, TEXT, MONEY, MONEY, INT],
}


def read_csv(path):
    raw = open(path, "rb").read()
    assert raw.startswith(b"\xef\xbb\xbf") and os.stat(path).st_size == len(raw)
    return list(csv.reader(io.StringIO(raw[3:].decode("utf-8"), newline="")))


def read_xlsx(path):
    raw = open(path, "rb").read()
    assert os.stat(path).st_size == len(raw) and raw[:2] == b"PK", "a whole zip"
    wb = openpyxl.load_workbook(io.BytesIO(raw))
    assert len(wb.worksheets) == 1
    return wb.worksheets[0]


def csv_text(v, kind):
    """What the CSV shows for a typed cell as openpyxl reads it (None: blank)."""
    if v is None:
        return ""
    if kind == MONEY:
        return "%.2f" % v
    if kind == DATE:
        assert isinstance(v, datetime.datetime) and v.time() == datetime.time(0), v
        return v.date().isoformat()
    if kind in (INT, NUMBER):
        assert isinstance(v, (int, float)) and not isinstance(v, bool), v
        return "%d" % v if float(v).is_integer() else repr(v)
    assert isinstance(v, str), v
    return "'" + v if v[:1] in ("=", "+", "-", "@") else v


def check_xlsx_against_csv(xlsx, rows, types):
    """Every cell of the sheet equals the CSV's, typed as its column: amounts as
    numbers in a euro format, dates as dates, numbers as numbers; the header bold and
    kept in view; every column at least as wide as its header."""
    ws = read_xlsx(xlsx)
    got = [list(r) for r in ws.iter_rows(values_only=True)]
    assert len(got) == len(rows), xlsx
    assert got[0] == rows[0]
    for k, name in enumerate(rows[0]):
        c = ws.cell(row=1, column=k + 1)
        assert c.font.b, (xlsx, name)
        letter = c.column_letter
        assert ws.column_dimensions[letter].width >= len(name), (xlsx, name)
    assert ws.freeze_panes == "A2"
    for i, (want, have) in enumerate(zip(rows[1:], got[1:]), start=2):
        assert len(have) == len(want) == len(types)
        for k, (w, v, kind) in enumerate(zip(want, have, types)):
            cell = ws.cell(row=i, column=k + 1)
            if kind == MONEY and v is not None and not isinstance(v, str):
                assert "€" in cell.number_format and "0.00" in cell.number_format
            if kind == DATE and isinstance(v, datetime.datetime):
                assert cell.is_date and cell.number_format == "yyyy-mm-dd"
            if kind in (MONEY, DATE, INT, NUMBER) and isinstance(v, str):
                # a value that did not read as its type is shown as it came
                assert v == w, (xlsx, i, rows[0][k])
                continue
            assert csv_text(v, kind) == w, (xlsx, i, rows[0][k], v, w)
    return got


@pytest.fixture(scope="module", params=READINGS)
def hand(workdir, tmp_path_factory, request):
    path = tmp_path_factory.mktemp("quarter") / "hand.json"
    path.write_text(json.dumps({"clients": CLIENTS, "products": [],
                                "invoices": account(request.param)}))
    f = Fake(workdir, "--data", str(path))
    f.reading = request.param
    yield f
    f.stop()


def test_the_hand_computed_quarter(hand, mounts):
    """Every figure of the VAT export, in the CSV and the .xlsx, equals the figures
    written above; the quarter views hold the quarter's invoices; and all of it costs
    no call beyond the invoices and clients listings."""
    served = api_invoices(hand)
    assert ("date" in served[0]) == (hand.reading == "date")
    mark = hand.mark()
    m = mounts(hand)
    assert sorted(os.listdir(m.path("views", "quarter"))) == sorted(EXPECTED)
    # one year, every invoice in it that is dated
    assert os.listdir(m.path("views", "year")) == ["2025"]
    assert set(os.listdir(m.path("views", "year", "2025"))) == \
        {file_stem(i["invoicenr"]) + ext for i in INVOICES if i["sent"] for ext in (".json", ".pdf")}
    # the invoices CSV: each dated as the rules say, the undated one with an empty date
    rows = read_csv(m.path("exports", "invoices.csv"))
    dates = {r[0]: r[1] for r in rows[1:]}
    assert dates == {i["invoicenr"]: i["sent"] for i in INVOICES}
    for q, nrs in QUARTER_INVOICES.items():
        d = m.path("views", "quarter", q)
        assert set(os.listdir(d)) == {file_stem(nr) + ext for nr in nrs for ext in (".json", ".pdf")}
        for n in os.listdir(d):
            assert os.readlink(os.path.join(d, n)) == "../../../invoices/" + n
    names = os.listdir(m.path("exports"))
    assert sorted(names) == sorted(
        ["invoices.csv", "invoices.xlsx", "clients.csv", "clients.xlsx"] +
        [f"btw-{q}{ext}" for q in EXPECTED for ext in (".csv", ".xlsx")])
    for q, want in EXPECTED.items():
        rows = read_csv(m.path("exports", f"btw-{q}.csv"))
        assert rows == [HEADER] + want, q
        ws = read_xlsx(m.path("exports", f"btw-{q}.xlsx"))
        assert ws.title == f"btw {q}"
        got = [list(r) for r in ws.iter_rows(values_only=True)]
        assert got[0] == HEADER
        for w, have in zip(want, got[1:]):
            cat, rate, box, turnover, vat, count = have
            assert [cat, box or ""] == [w[0], w[2]], q
            assert rate == (int(w[1]) if w[1] else None), q
            assert round(turnover * 100) == round(float(w[3]) * 100), (q, w)
            assert round(vat * 100) == round(float(w[4]) * 100), (q, w)
            assert count == int(w[5]), (q, w)
        check_xlsx_against_csv(m.path("exports", f"btw-{q}.xlsx"), rows, TYPES["btw"])
    # the whole of it read again (every export, every view): still nothing more
    for n in names:
        open(m.path("exports", n), "rb").read()
    reqs = hand.since(mark)
    assert len(reqs) == 3, [r["path"] for r in reqs]
    assert len(listing_calls(reqs, "invoices")) == 1 and len(listing_calls(reqs, "clients")) == 1
    # names that cannot be quarters cost no call either
    mark = hand.mark()
    for p in (("views", "quarter", "2025-Q5"), ("views", "quarter", "2025Q3"),
              ("exports", "btw-2025-Q5.csv"), ("exports", "btw-2025-Q3.ods"),
              ("exports", "btw-2024-Q1.csv"), ("views", "quarter", "2024-Q1")):
        assert not os.path.lexists(m.path(*p)), p
    assert hand.since(mark) == []


def api_invoices(fake):
    """The invoices as the service serves them (asked over HTTP, as a client does)."""
    req = urllib.request.Request(fake.url + "invoices?count=1000", headers={
        "Authorization": "Basic " + base64.b64encode(f"{USER}:{APIKEY}".encode()).decode()})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def test_every_xlsx_holds_the_listing(fake, mounts):
    """Each .xlsx read back with openpyxl: every cell equals the service's record
    (invoices, clients) or the CSV beside it (the quarters), typed."""
    m = mounts(fake)
    names = sorted(os.listdir(m.path("exports")))
    xlsx = [n for n in names if n.endswith(".xlsx")]
    assert {n[:-5] + ".csv" for n in xlsx} == {n for n in names if n.endswith(".csv")}
    assert len(xlsx) > 4, "the generated account spans several quarters"
    invoices = {i["invoicenr"]: i for i in fake.state("invoices")}
    clients = {int(c["clientnr"]): c for c in fake.state("clients")}
    ledgers = {str(c["id"]): c["ledger"] for c in fake.state("categories")}
    for n in xlsx:
        base = n[:-5]
        rows = read_csv(m.path("exports", base + ".csv"))
        kind = "btw" if base.startswith("btw-") else base
        got = check_xlsx_against_csv(m.path("exports", n), rows, TYPES[kind])
        if kind == "invoices":
            assert len(got) - 1 == len(invoices)
            assert any(r[11] for r in got[1:]), "some invoice has a category with a ledger"
            for r in got[1:]:
                i = invoices[r[0]]
                # the day it is dated: sent, else its first dated event
                assert (r[1].date().isoformat() if r[1] else "") == invoice_day(i)
                assert r[2].date().isoformat() == i["duedate"]
                assert r[3] == int(i["clientnr"])
                assert (r[4] or "") == i["company"] and (r[5] or "") == i["contact"]
                assert round(r[6] * 100) == round(float(i["totalintax"]) * 100)
                assert round(r[7] * 100) == round(float(i["open"]) * 100)
                assert (r[8].date().isoformat() if r[8] else "") == i["paiddate"]
                assert (r[9].date().isoformat() if r[9] else "") == i["sent"]
                # the ledger of the invoice's category, as text
                assert (r[11] or "") == ledgers.get(str(i.get("category") or ""), "")
        elif kind == "clients":
            assert len(got) - 1 == len(clients)
            for r in got[1:]:
                c = clients[r[0]]
                for k, f in enumerate(rows[0]):
                    if f in ("clientnr", "country"):
                        assert r[k] == int(c[f]), f
                    elif f == "lastinvoice":
                        assert (r[k].date().isoformat() if r[k] else "") == (c[f] or ""), f
                    else:
                        assert (r[k] or "") == (c.get(f) or ""), f
        else:
            q = base[len("btw-"):]
            total = [r for r in got[1:] if r[0] == "total"]
            inq = [i for i in invoices.values() if quarter_of(invoice_day(i)) == q]
            assert total and total[0][5] == len(inq) > 0, q
            # the quarter's turnover and VAT are its invoices' totals
            want_vat = sum(round(float(i["tax"]) * 100) for i in inq)
            want_turnover = sum(round(float(i["totalintax"]) * 100) for i in inq) - want_vat
            assert round(total[0][4] * 100) == want_vat, q
            assert abs(round(total[0][3] * 100) - want_turnover) <= len(inq), q

