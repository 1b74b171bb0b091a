"""Paging: where a listing page starts, in every reading of the service.

The official documentation names `start`, a public client sends `offset`; factuurfs sends
both with the same value (-o paging=both), so either reading pages.  A service that
honours neither sends its first page again: factuurfs stops there (no record twice, no
loop), asks count=-1 once, and says what it learned once, in the log and the status file.
"""
import os
import re
import urllib.parse

import pytest

from harness import Fake, listing_calls

N = 2500
PAGE = 1000


def invoice_names(m):
    """The invoice numbers listed, each once per .json (a duplicate would show twice)."""
    names = os.listdir(m.path("invoices"))
    stems = [n[:-5] for n in names if n.endswith(".json")]
    return names, stems


def queries(reqs):
    return [urllib.parse.parse_qs(urllib.parse.urlsplit(r["path"]).query) for r in reqs]


@pytest.mark.parametrize("reading,calls", [
    ("start", 3),   # 1000 + 1000 + 500
    ("offset", 3),
    ("both", 3),
    ("none", 3),    # 1000, the same 1000 again, then count=-1: all 2,500
])
def test_each_reading_lists_every_invoice_once(workdir, mounts, reading, calls):
    f = Fake(workdir, "--generate", f"clients=5,invoices={N},products=5", "--paging", reading)
    try:
        m = mounts(f, opts=[f"page_size={PAGE}"])
        mark = f.mark()
        names, stems = invoice_names(m)
        assert len(stems) == N
        assert len(set(stems)) == N, "an invoice listed twice"
        assert len(names) == 2 * N and len(set(names)) == 2 * N
        want = {r["invoicenr"] for r in f.state("invoices")}
        assert {urllib.parse.unquote(s) for s in stems} == want
        pages = listing_calls(f.since(mark), "invoices")
        assert len(pages) == calls, [p["path"] for p in pages]
        q = queries(pages)
        # What is sent: the count asked, and where the page starts as offset and start.
        assert q[0]["count"] == [str(PAGE)]
        assert q[1]["offset"] == q[1]["start"] == [str(PAGE)]
        status = m.status()["cache"]
        if reading == "none":
            assert q[2] == {"count": ["-1"]}
            assert "count=-1, everything in one answer" in status["paging"]
        else:
            assert "paging" not in status
            assert q[2]["offset"] == [str(2 * PAGE)]
    finally:
        f.stop()


def test_a_service_that_ignores_paging_is_said_once(workdir, mounts):
    """Neither offset nor start, and count=-1 taken as no count: the first page only,
    no record twice, bounded calls, said once in the log and in the status file."""
    f = Fake(workdir, "--generate", f"clients=5,invoices={N},products=5", "--paging", "none",
             "--count-minus-one", "ignored", "--page-size", "100")
    try:
        m = mounts(f, opts=[f"page_size={PAGE}"])
        mark = f.mark()
        names, stems = invoice_names(m)
        assert len(stems) == PAGE and len(set(stems)) == PAGE
        pages = listing_calls(f.since(mark), "invoices")
        # the first page, the same page again, count=-1 (a page of 100): no more
        assert len(pages) == 3, [p["path"] for p in pages]
        note = m.status()["cache"]["paging"]
        assert "ignores offset and start" in note
        assert f"first page only, {PAGE} records of invoices" in note
        # Later listings (another collection, the same one refreshed) ask one page.
        mark = f.mark()
        assert len(os.listdir(m.path("clients"))) == 5
        with open(m.path(".factuurfs", "refresh"), "w") as fh:
            fh.write("invoices\n")
        assert len(invoice_names(m)[1]) == PAGE
        reqs = f.since(mark)
        assert [queries([r])[0] for r in listing_calls(reqs, "invoices")] == \
            [{"count": [str(PAGE)]}]
        assert [queries([r])[0] for r in listing_calls(reqs, "clients")] == \
            [{"count": [str(PAGE)]}]
        err = m.stderr()
        assert len(re.findall(r"ignores offset and start", err)) == 1, err
        assert m.unmount() == 0
        assert len(re.findall(r"ignores offset and start", m.stderr())) == 1
    finally:
        f.stop()


def test_paging_option_sends_one_parameter(workdir, mounts):
    """-o paging=start|offset: only that parameter; -o paging=all: count=-1, one call."""
    f = Fake(workdir, "--generate", "clients=5,invoices=250,products=5", "--paging", "both")
    try:
        for opt, want in (("start", "start"), ("offset", "offset")):
            m = mounts(f, opts=["page_size=100", f"paging={opt}", "nodiskcache"])
            mark = f.mark()
            assert len(invoice_names(m)[1]) == 250
            q = queries(listing_calls(f.since(mark), "invoices"))
            assert len(q) == 3
            assert all(set(x) == {"count", want} for x in q[1:]), q
            assert m.unmount() == 0
        m = mounts(f, opts=["page_size=100", "paging=all", "nodiskcache"])
        mark = f.mark()
        assert len(invoice_names(m)[1]) == 250
        assert queries(listing_calls(f.since(mark), "invoices")) == [{"count": ["-1"]}]
    finally:
        f.stop()


def test_a_paging_option_that_is_no_reading_is_refused(workdir, mounts):
    f = Fake(workdir, "--generate", "clients=2,invoices=2,products=2")
    try:
        with pytest.raises(AssertionError) as e:
            mounts(f, opts=["paging=sideways"])
        assert "paging=sideways: use both, offset, start or all" in str(e.value)
    finally:
        f.stop()
