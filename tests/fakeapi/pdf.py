"""Deterministic one-page invoice PDFs for the fake factuursturen.nl API.

Standard library only.  `invoice_pdf(invoice, client=None)` takes a stored wire
record of an invoice and returns the bytes of a small, valid PDF 1.4 file (uncompressed
content stream, the standard Helvetica fonts with WinAnsiEncoding, a correct xref
table).  The same record always gives the same bytes; different invoices give
different bytes (the invoice number, client and lines are printed as text, and the
trailer /ID is a hash of the content).
"""

import hashlib
import random

PAGE_W, PAGE_H = 595, 842  # A4 in points

SENDER = [
    "Demo Onderneming B.V.",
    "Keizersgracht 123",
    "1015 CJ  Amsterdam",
    "KvK 12345678  -  BTW NL001234567B01",
    "IBAN NL91 ABNA 0417 1643 00",
]

TERMS = [
    "Op al onze leveringen en diensten zijn de algemene voorwaarden van toepassing,",
    "gedeponeerd bij de Kamer van Koophandel. Bij betaling na de vervaldatum zijn wij",
    "gerechtigd de wettelijke handelsrente en incassokosten in rekening te brengen.",
    "Vragen over deze factuur? Neem binnen 8 dagen na dagtekening contact met ons op",
    "via administratie@demo-onderneming.nl of telefonisch via 020-1234567.",
]


def _pdf_text(s):
    """Escape a str as a PDF literal string in WinAnsi (cp1252) encoding."""
    raw = str(s).encode("cp1252", errors="replace")
    out = []
    for b in raw:
        if b in (0x28, 0x29, 0x5C):  # ( ) \
            out.append("\\" + chr(b))
        elif 32 <= b < 127:
            out.append(chr(b))
        else:
            out.append("\\%03o" % b)
    return "(" + "".join(out) + ")"


def _info_text(s):
    """A text string for the Info dictionary: UTF-16BE with BOM, as hex."""
    return "<FEFF" + str(s).encode("utf-16-be", errors="replace").hex().upper() + ">"


def _money(x):
    """Dutch money notation: 1234.5 -> 'EUR 1.234,50' with the euro sign."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        v = 0.0
    if v != v or v in (float("inf"), float("-inf")):
        v = 0.0
    sign = "-" if v < 0 else ""
    whole, frac = ("%.2f" % abs(v)).split(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return "\u20ac " + sign + ".".join(groups) + "," + frac


def _num(x):
    v = float(x)
    if v != v or v in (float("inf"), float("-inf")):
        return str(x)
    if v == int(v):
        return str(int(v))
    return ("%.2f" % v).replace(".", ",")


def _nl_date(d):
    d = "" if d is None else str(d)  # records stored behind the API's back may hold anything
    if len(d) != 10:
        return d or "-"
    return "%s-%s-%s" % (d[8:10], d[5:7], d[0:4])


class _Page:
    def __init__(self):
        self.ops = []

    def text(self, x, y, s, font="F1", size=10):
        self.ops.append("BT /%s %d Tf 1 0 0 1 %.2f %.2f Tm %s Tj ET" % (font, size, x, y, _pdf_text(s)))

    def rtext(self, xr, y, s, font="F1", size=10):
        # Right-aligned: approximate Helvetica width (0.5 em per glyph, digits 0.556).
        w = len(str(s)) * size * 0.53
        self.text(xr - w, y, s, font, size)

    def rect(self, x, y, w, h, gray):
        self.ops.append("q %.3f g %.2f %.2f %.2f %.2f re f Q" % (gray, x, y, w, h))

    def line(self, x1, y1, x2, y2, width=0.5):
        self.ops.append("q %.2f w %.2f %.2f m %.2f %.2f l S Q" % (width, x1, y1, x2, y2))

    def data(self):
        return ("\n".join(self.ops) + "\n").encode("latin-1")


def _lines_of(inv):
    lines = inv.get("lines")
    if isinstance(lines, dict):
        def key(k):
            digits = "".join(c for c in k if c.isdigit())
            return int(digits) if digits else 0
        return [lines[k] for k in sorted(lines, key=key) if isinstance(lines[k], dict)]
    if isinstance(lines, list):
        return [x for x in lines if isinstance(x, dict)]
    return []


def _taxes_of(inv):
    taxes = inv.get("taxes")
    if isinstance(taxes, dict):
        return [t for _, t in sorted(taxes.items()) if isinstance(t, dict)]
    return []


def render_content(inv):
    p = _Page()
    # Header band and logo block
    p.rect(0, PAGE_H - 90, PAGE_W, 90, 0.92)
    p.rect(50, PAGE_H - 75, 60, 60, 0.25)
    p.text(60, PAGE_H - 52, "DEMO", "F2", 16)
    p.text(130, PAGE_H - 45, "FACTUUR", "F2", 24)
    p.text(130, PAGE_H - 65, "Factuurnummer: %s" % inv.get("invoicenr", ""), "F1", 11)
    y = PAGE_H - 40
    for s in SENDER:
        p.rtext(545, y, s, "F1", 8)
        y -= 10

    # Client block
    y = PAGE_H - 130
    client_lines = [inv.get("company", ""), inv.get("contact", ""), inv.get("address", ""),
                    ("%s  %s" % (inv.get("zipcode", ""), inv.get("city", ""))).strip()]
    ref = inv.get("reference")
    for s in client_lines:
        if s:
            p.text(50, y, s, "F1", 11)
            y -= 14
    if inv.get("taxnumber"):
        p.text(50, y, "BTW-nummer: %s" % inv["taxnumber"], "F1", 9)
        y -= 12

    # Invoice facts
    facts = [
        ("Factuurnummer", inv.get("invoicenr_full") or inv.get("invoicenr", "")),
        ("Factuurdatum", _nl_date(inv.get("date", ""))),
        ("Vervaldatum", _nl_date(inv.get("duedate", ""))),
        ("Klantnummer", inv.get("clientnr", "")),
        ("Betalingstermijn", "%s dagen" % inv.get("paymentperiod", "")),
    ]
    fy = PAGE_H - 130
    for k, v in facts:
        p.text(340, fy, k + ":", "F2", 9)
        p.text(440, fy, str(v), "F1", 9)
        fy -= 13
    y = min(y, fy) - 20
    if isinstance(ref, dict):
        for k in ("line1", "line2", "line3"):
            if ref.get(k):
                p.text(50, y, "Referentie: %s" % ref[k], "F1", 9)
                y -= 12
        y -= 8

    # Lines table
    p.rect(45, y - 4, 505, 16, 0.85)
    p.text(50, y, "Omschrijving", "F2", 9)
    p.rtext(330, y, "Aantal", "F2", 9)
    p.rtext(410, y, "Prijs", "F2", 9)
    p.rtext(460, y, "BTW", "F2", 9)
    p.rtext(545, y, "Totaal", "F2", 9)
    y -= 20
    for ln in _lines_of(inv):
        desc = str(ln.get("description", ""))
        if len(desc) > 48:
            desc = desc[:47] + "..."
        amount = ln.get("amount", 0)
        try:
            amt = _num(amount)
        except (TypeError, ValueError):
            amt = str(amount)
        if ln.get("amount_desc"):
            amt += " " + str(ln["amount_desc"])
        p.text(50, y, desc, "F1", 9)
        p.rtext(330, y, amt, "F1", 9)
        p.rtext(410, y, _money(ln.get("price", 0)), "F1", 9)
        p.rtext(460, y, "%s%%" % ln.get("tax_rate", 0), "F1", 9)
        p.rtext(545, y, _money(ln.get("linetotal", 0)), "F1", 9)
        y -= 14
    p.line(45, y + 6, 550, y + 6)
    y -= 10

    # Totals
    try:
        tax = float(inv.get("tax", 0) or 0)
        total = float(inv.get("totalintax", 0) or 0)
    except (TypeError, ValueError):
        tax, total = 0.0, 0.0
    p.text(360, y, "Subtotaal excl. BTW", "F1", 9)
    p.rtext(545, y, _money(total - tax), "F1", 9)
    y -= 13
    taxes = _taxes_of(inv)
    for t in taxes:
        p.text(360, y, "BTW %s%% over %s" % (t.get("rate", ""), _money(t.get("sum_of", 0))), "F1", 9)
        p.rtext(545, y, _money(t.get("sum", 0)), "F1", 9)
        y -= 13
    if not taxes:
        p.text(360, y, "BTW verlegd" if inv.get("tax_shifted") == "1" else "BTW", "F1", 9)
        p.rtext(545, y, _money(tax), "F1", 9)
        y -= 13
    p.rect(355, y - 4, 195, 16, 0.85)
    p.text(360, y, "Totaal incl. BTW", "F2", 10)
    p.rtext(545, y, _money(total), "F2", 10)
    y -= 30

    if inv.get("invoicenote"):
        p.text(50, y, str(inv["invoicenote"])[:90], "F1", 9)
        y -= 16
    p.text(50, y, "Wij verzoeken u het bedrag van %s binnen %s dagen over te maken op" %
           (_money(total), inv.get("paymentperiod", "14")), "F1", 9)
    y -= 12
    p.text(50, y, "IBAN NL91 ABNA 0417 1643 00 o.v.v. factuurnummer %s." % inv.get("invoicenr", ""), "F1", 9)
    y -= 12
    if inv.get("payment_url"):
        p.text(50, y, "Direct betalen: %s" % inv["payment_url"], "F1", 9)
        y -= 12

    # Footer
    p.line(45, 95, 550, 95)
    fy = 82
    for s in TERMS:
        p.text(50, fy, s, "F1", 7)
        fy -= 9
    p.text(50, 30, "Pagina 1 van 1", "F1", 7)
    return p.data()


def invoice_pdf(inv, min_size=0):
    """The invoice's PDF; with min_size, padded to exactly (at worst just over) that many
    bytes by an unreferenced stream object that readers skip (see _padded)."""
    content = render_content(inv)
    date = str(inv.get("date") or "2000-01-01")
    pdfdate = "D:%s%s%s120000Z" % (date[0:4], date[5:7], date[8:10]) if len(date) == 10 else "D:20000101120000Z"
    title = "Factuur %s" % inv.get("invoicenr", "")
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        ("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] "
         "/Resources << /Font << /F1 4 0 R /F2 5 0 R >> /ProcSet [/PDF /Text] >> "
         "/Contents 6 0 R >>" % (PAGE_W, PAGE_H)).encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream",
        ("<< /Title %s /Author %s /Subject %s /Creator (factuursturen fakeapi) "
         "/Producer (fakeapi pdf.py) /CreationDate (%s) /ModDate (%s) >>" % (
             _info_text(title), _info_text(SENDER[0]),
             _info_text("Factuur voor %s" % (inv.get("company") or inv.get("contact") or "")),
             pdfdate, pdfdate)).encode(),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    # /ID hashes the objects and xref of the unpadded file (a padded one keeps it).
    xref0 = bytearray(b"xref\n0 %d\n" % (len(objs) + 1))
    xref0 += b"0000000000 65535 f \n"
    for off in offsets:
        xref0 += b"%010d 00000 n \n" % off
    fid = hashlib.md5(bytes(out + xref0)).hexdigest().upper()
    pad = _padded(len(out), len(objs), fid, min_size)
    if pad:
        offsets.append(len(out))
        objs.append(None)
    xref = len(out) + sum(len(p) for p in pad)
    tail = bytearray(b"xref\n0 %d\n" % (len(objs) + 1))
    tail += b"0000000000 65535 f \n"
    for off in offsets:
        tail += b"%010d 00000 n \n" % off
    tail += (b"trailer\n<< /Size %d /Root 1 0 R /Info 7 0 R /ID [<%s> <%s>] >>\n"
             % (len(objs) + 1, fid.encode(), fid.encode()))
    tail += b"startxref\n%d\n%%%%EOF\n" % xref
    # One join: a 50 MB PDF is copied once.
    return b"".join([bytes(out), *pad, bytes(tail)])


# Padding repeats a random block of a prime size, so no power-of-two chunk of a transfer
# lines up with it: a chunk written at the wrong offset changes the file.
PAD_BLOCK = 65521


def _padded(prefix_len, nobjs, fid, min_size):
    """Parts of one padding stream object (number nobjs + 1) that make the whole file
    min_size bytes long, or [] when the PDF is that long already.  Only lengths are
    computed here; the file is assembled once."""
    n = nobjs + 1
    # Bytes after the objects without padding: xref, trailer and startxref's digits.
    def tail_len(nentries, xref):
        return (len(b"xref\n0 %d\n" % (nentries + 1)) + 20 * (nentries + 1)
                + len(b"trailer\n<< /Size %d /Root 1 0 R /Info 7 0 R /ID [<%s> <%s>] >>\n"
                      % (nentries + 1, fid.encode(), fid.encode()))
                + len(b"startxref\n%d\n%%%%EOF\n" % xref))
    if min_size <= prefix_len + tail_len(nobjs, prefix_len):
        return []

    def head(length):
        return b"%d 0 obj\n<< /Length %d >>\nstream\n" % (n, length)
    foot = b"\nendstream\nendobj\n"

    def total(length):
        obj = len(head(length)) + length + len(foot)
        return prefix_len + obj + tail_len(n, prefix_len + obj)
    length = max(0, min_size - total(0))
    for _ in range(4):  # digits of /Length and startxref settle at once
        length = max(0, length + min_size - total(length))
    while total(length) < min_size:  # a digit boundary: at least, not exactly
        length += 1
    block = random.Random(fid).randbytes(PAD_BLOCK)
    whole, rest = divmod(length, PAD_BLOCK)
    return [head(length), *([block] * whole), block[:rest], foot]
