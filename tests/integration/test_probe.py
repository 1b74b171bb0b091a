"""factuurfs probe: what the service does where docs/API.md is uncertain.

The probe takes the credentials a mount takes, asks with GETs only (at most 25
requests), and its report names no secret and no record's value.  Against the fake in
three of its readings, side by side, the reports must tell them apart.
"""
import json
import os
import subprocess

import pytest

from harness import APIKEY, FACTUURFS, USER, Fake

# Every reading starts with a default page shorter than countrylist (23 countries), so
# that count=-1 as "the whole list" and as "no count" answer differently.
COMMON = ["--generate", "clients=8,invoices=10,products=6", "--page-size", "10"]
READINGS = {
    # The fake's defaults: start pages, count=-1 is the whole list, [] for no match,
    # quotations_pdf/<id>, clients in the 2015 copies' forms (underscores,
    # "true"/"false"), a wrapped GET one; invoices without a date.
    "default": ([], False),
    # The other paging parameter, count=-1 ignored, a 404 for no match, another PDF
    # path, no countrylist/<lang>, the .NET spelling with "0"/"1"; invoices with a date.
    "offset": (["--paging", "offset", "--count-minus-one", "ignored", "--search-empty",
                "404", "--quotation-pdf-path", "quotations/{id}/pdf",
                "--no-countrylist-lang", "--wire-forms", "net"], True),
    # Neither parameter pages; the 2015 copies' forms, GET one bare; invoices without
    # a date.
    "none": (["--paging", "none", "--wire-forms", "live2015", "--bare-one"], False),
}


def start(workdir, reading):
    args, dated = READINGS[reading]
    f = Fake(workdir, *COMMON, *args)
    # The invoices as the live service's copies have them (no date), or with one.
    for inv in f.state("invoices"):
        if dated:
            inv.setdefault("date", inv.get("sent") or "2026-01-02")
        else:
            inv.pop("date", None)
        f.put_state("invoices", inv["invoicenr"], inv)
    return f


def probe(fake, *args, env=None, json_out=True):
    e = {k: v for k, v in os.environ.items() if not k.startswith("FACTUURSTUREN_")}
    e.update({"FACTUURSTUREN_USERNAME": USER, "FACTUURSTUREN_APIKEY": APIKEY, "HOME": fake.tmpdir})
    e.update(env or {})
    cmd = [FACTUURFS, "probe", "-o", "url=" + fake.url, *args] + (["--json"] if json_out else [])
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=e,
                          cwd=fake.tmpdir)


@pytest.fixture(scope="module")
def reports(workdir):
    """reading -> (report dict, text report, the requests it made, the fake's records)."""
    out = {}
    for reading in READINGS:
        f = start(workdir, reading)
        try:
            mark = f.mark()
            r = probe(f)
            assert r.returncode == 0, r.stderr
            reqs = f.since(mark)
            text = probe(f, json_out=False).stdout
            state = {c: f.state(c) for c in ("clients", "products", "invoices")}
            out[reading] = (json.loads(r.stdout), text, reqs, state)
        finally:
            f.stop()
    return out


def test_only_gets_and_at_most_25(reports):
    for reading, (_, _, reqs, _) in reports.items():
        assert reqs, reading
        assert {r["method"] for r in reqs} == {"GET"}, reading
        assert len(reqs) <= 25, (reading, len(reqs))


def test_the_readings_are_told_apart(reports):
    d, o, n = (reports[k][0] for k in ("default", "offset", "none"))
    assert d["paging"].startswith("start honoured; offset ignored (page 2 was page 1)")
    assert o["paging"].startswith("start ignored (page 2 was page 1); offset honoured")
    assert n["paging"].startswith("start ignored (page 2 was page 1); offset ignored")
    assert d["suggested options"].startswith("-o paging=start")
    assert o["suggested options"].startswith("-o paging=offset")
    assert n["suggested options"].startswith("-o paging=all")
    assert d["count=-1"].startswith("the whole list in one answer (countrylist: 23 records, 10")
    assert o["count=-1"].startswith("as without count (10 records)")
    assert n["count=-1"].startswith("the whole list in one answer")
    assert d["default page"] == "10 records (countrylist without count)"
    # Dates: the live service's copies have none.
    assert d["invoice date"].startswith("no date field")
    assert n["invoice date"].startswith("no date field")
    assert o["invoice date"].startswith("a date field")
    assert "date" not in d["invoice fields"].split()
    assert "date" in o["invoice fields"].split()
    # Booleans per field, and the client fields' spelling.
    assert 'clients: showcontact "0"/"1"' in o["booleans"]
    assert 'clients: showcontact "true"/"false"' in d["booleans"]
    assert 'clients: showcontact "true"/"false"' in n["booleans"]
    assert 'default_email' not in n["booleans"]
    assert 'invoices: collection "0"/"1"' in n["booleans"]
    assert o["client spelling"].startswith(".NET names")
    assert d["client spelling"].startswith("underscores")
    assert n["client spelling"].startswith("underscores")
    assert d["get one"] == 'wrapped in "client"'
    assert n["get one"] == "the bare record"
    assert d["get one missing"] == "404"
    # Quotation PDFs, countrylist/<lang>, search without a match.
    assert d["quotation pdf"] == "quotations_pdf/<id>"
    assert o["quotation pdf"].startswith("quotations/<id>/pdf (quotations_pdf/<id> HTTP 404")
    assert d["countrylist/<lang>"].startswith("answers a list")
    assert o["countrylist/<lang>"].startswith("not known (HTTP 404)")
    assert d["search, no match"] == "[] (an empty list, 200)"
    assert o["search, no match"] == "404"
    assert d["search, a match"].startswith("a list of")
    # The rate limit: the header, one spent per call.
    for rep in (d, o, n):
        assert rep["rate limit"].startswith("headers: x-ratelimit-remaining;")
        calls = int(rep["calls"].split(",")[0])
        assert f"fell by {calls - 1} over {calls - 1} calls" in rep["rate limit"]
    assert len({json.dumps(r, sort_keys=True) for r in (d, o, n)}) == 3


def test_the_report_names_no_secret(reports):
    for reading, (rep, text, _, state) in reports.items():
        assert APIKEY not in text and USER not in text, reading
        values = set()
        for recs in state.values():
            for rec in recs:
                for k in ("company", "contact", "email", "invoicenr", "address", "phone",
                          "code", "name"):
                    v = rec.get(k)
                    if isinstance(v, str) and len(v) >= 4:
                        values.add(v)
        leaked = [v for v in values if v in text]
        assert not leaked, (reading, leaked)
        assert text.startswith("factuurfs probe of http://127.0.0.1:")
        # One reading a line, as the JSON has them.
        assert len([ln for ln in text.splitlines() if ln.startswith("  ")]) == len(rep)


def test_the_probe_takes_the_credentials_a_mount_takes(workdir):
    f = Fake(workdir, *COMMON)
    try:
        # The rc file's profile, as -o profile= names it.
        rc = os.path.join(f.tmpdir, ".factuursturen_rc")
        with open(rc, "w") as fh:
            fh.write(f"[work]\nusername = {USER}\napikey = {APIKEY}\n")
        os.chmod(rc, 0o600)
        r = probe(f, "-o", "profile=work", env={"FACTUURSTUREN_USERNAME": "",
                                                "FACTUURSTUREN_APIKEY": ""})
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["credentials"].startswith("accepted")
        # A key file others may read is refused, as for a mount.
        os.chmod(rc, 0o644)
        r = probe(f, "-o", "profile=work", env={"FACTUURSTUREN_USERNAME": "",
                                                "FACTUURSTUREN_APIKEY": ""})
        assert r.returncode == 1 and "chmod 600" in r.stderr
        # A wrong key: refused, and nothing more asked.
        mark = f.mark()
        r = probe(f, env={"FACTUURSTUREN_APIKEY": "wrong"})
        assert r.returncode == 1
        rep = json.loads(r.stdout)
        assert rep["credentials"] == "refused: HTTP 401"
        assert len(f.since(mark)) == 1
        assert "wrong" not in r.stdout + r.stderr
        # The key on the command line is refused before any call.
        mark = f.mark()
        r = probe(f, "-o", "apikey=" + APIKEY)
        assert r.returncode == 1 and APIKEY not in r.stdout + r.stderr
        assert f.since(mark) == []
        # A mount's other options are no probe's.
        r = probe(f, "-o", "ttl=5")
        assert r.returncode == 2
    finally:
        f.stop()
