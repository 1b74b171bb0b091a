"""The documented conversion from wire records to file content (README,
"Content"), written independently of src/model/schema.c as the tests' oracle."""
import json
import math
import re

INT, FLOAT, BOOL, DATE, STR, OBJ, KEYED = "int", "float", "bool", "date", "str", "obj", "keyed"

LINE = {"amount": FLOAT, "amount_desc": STR, "description": STR, "tax_rate": FLOAT,
        "price": FLOAT, "discount_pct": FLOAT, "linetotal": FLOAT}
TAX = {"rate": FLOAT, "sum": FLOAT, "sum_of": FLOAT}
HIST = {"date": DATE, "time": STR, "description": STR}
REF = {"line1": STR, "line2": STR, "line3": STR}

CLIENT = {"clientnr": INT, "showcontact": BOOL, "tax_shifted": BOOL, "lastinvoice": DATE,
          "top": INT, "stddiscount": FLOAT, "notes_on_invoice": BOOL, "active": BOOL,
          "default_email": INT, "timestamp": DATE, "country": INT, "mandatedate": DATE,
          "reference": (OBJ, REF)}
PRODUCT = {"id": INT, "price": FLOAT, "taxes": INT, "priceintax": FLOAT}
INVOICE = {"id": INT, "clientnr": INT, "reference": (OBJ, REF), "lines": (KEYED, LINE),
           "taxes": (KEYED, TAX), "history": (KEYED, HIST), "profile": INT, "discount": FLOAT,
           "paymentperiod": INT, "collection": BOOL, "tax": FLOAT, "totalintax": FLOAT,
           "country": INT, "date": DATE, "sent": DATE, "uncollectible": DATE,
           "lastreminder": DATE, "open": FLOAT, "paiddate": DATE, "duedate": DATE,
           "tax_shifted": BOOL}
SAVED = {**INVOICE, "id": INT, "profile": INT, "discount": FLOAT, "paymentperiod": INT,
         "totaldiscount": FLOAT, "totalintax": FLOAT, "clientnr": INT, "lines": (KEYED, LINE),
         "alreadypaid": FLOAT, "datesaved": DATE, "initialdate": DATE, "nextsenddate": DATE, "finalsenddate": DATE}
QUOTATION = {"id": INT, "clientnr": INT, "reference": (OBJ, REF), "profile": INT,
             "discount": FLOAT, "quotationperiod": INT, "showtotals": BOOL, "date": DATE,
             "approved": BOOL, "lines": (KEYED, LINE), "taxes": (KEYED, TAX), "tax": FLOAT,
             "totalintax": FLOAT}
TYPES = {
    "clients": CLIENT, "products": PRODUCT, "invoices": INVOICE,
    "invoices_saved": SAVED, "invoices_repeated": SAVED,
    "profiles": {"id": INT, "default": BOOL},
    "taxes": {"percentage": INT, "default": BOOL},
    "countrylist": {"id": INT},
    "balance": {},
    "quotations": QUOTATION,
    "categories": {"id": INT},
}
ID = {"clients": "clientnr", "products": "id", "invoices": "invoicenr",
      "invoices_saved": "id", "invoices_repeated": "id", "profiles": "id",
      "countrylist": "id", "quotations": "id", "categories": "id"}


def record_id(collection, wire):
    if collection == "taxes":
        return f"{wire['percentage']}-{wire['type']}"
    v = wire[ID[collection]]
    return str(int(float(v))) if collection != "invoices" else str(v)


DATE_RE = re.compile(r"^\d{4}-\d\d-\d\d$")


def invoice_day(wire):
    """The day an invoice is dated, as docs/SEMANTICS.md ("Dates") says: its `date` if it
    has one, else `sent`, else its first history event that has a date; "" for none."""
    for v in (wire.get("date"), wire.get("sent")):
        if isinstance(v, str) and DATE_RE.match(v) and v != "0000-00-00":
            return v
    hist = wire.get("history")
    if isinstance(hist, dict):
        hist = [hist[k] for k in sorted(hist, key=lambda s: int(re.sub(r"\D", "", s) or 0))]
    for ev in hist if isinstance(hist, list) else []:
        v = ev.get("date") if isinstance(ev, dict) else None
        if isinstance(v, str) and DATE_RE.match(v) and v != "0000-00-00":
            return v
    return ""


def natural(s):
    """A sort key that orders the numbers in @s by value ("F2" before "F10")."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", s)]


def newest_first(invoices):
    """The invoice numbers of @invoices (wire records), newest first: by the day each is
    dated (docs/SEMANTICS.md, "Dates"), then number (as factuurfs orders them)."""
    return [i["invoicenr"] for i in
            sorted(invoices, key=lambda i: (invoice_day(i), natural(i["invoicenr"])),
                   reverse=True)]


def quarter_of(day):
    """"2025-Q3" of "2025-08-15", None for no day."""
    return "%s-Q%d" % (day[:4], (int(day[5:7]) - 1) // 3 + 1) if day else None


def file_stem(ident):
    s = ident.replace("%", "%25").replace("/", "%2F")
    return "%2E" + s[1:] if s.startswith(".") else s


def scalar(t, v):
    if t == STR or v is None:
        return v
    if v == "":
        return None
    try:
        if t == INT:
            return int(float(v)) if isinstance(v, str) else int(v)
        if t == FLOAT:
            return float(str(v).replace(",", "."))
        if t == BOOL:
            return {"0": False, "1": True, "true": True, "false": False, 0: False, 1: True,
                    True: True, False: False}[v]
        if t == DATE:
            return None if v == "0000-00-00" else v
    except (ValueError, KeyError, TypeError):
        return v
    return v


def convert(types, wire):
    out = {}
    for k, v in wire.items():
        t = types.get(k, STR if not isinstance(v, (dict, list)) else None)
        if isinstance(t, tuple):
            kind, sub = t
            if kind == OBJ:
                out[k] = convert(sub, v) if isinstance(v, dict) else {}
            else:
                if isinstance(v, dict):
                    items = [v[key] for key in sorted(
                        v, key=lambda s: int(re.sub(r"\D", "", s) or 0))]
                else:
                    items = list(v)
                out[k] = [convert(sub, i) for i in items]
        elif t is None:
            out[k] = v
        else:
            out[k] = scalar(t, v)
    return out


# Fields the fake keeps for itself and never serves (its English country names).
FAKE_ONLY = {"countrylist": {"name_en", "name_de", "name_fr", "name_es"}}


def expected(collection, wire):
    wire = {k: v for k, v in wire.items() if k not in FAKE_ONLY.get(collection, ())}
    return convert(TYPES[collection], wire)


def same(a, b):
    """Equality with floats compared as floats (10.9 == 10.90)."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and \
            not isinstance(a, bool) and not isinstance(b, bool) and math.isclose(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
