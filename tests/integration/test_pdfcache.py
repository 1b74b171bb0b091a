"""The PDF cache: bounded with LRU eviction, verified against the digest kept when each
PDF was fetched, only ever holding what is a whole PDF, or memory only."""
import errno
import os

import pytest

from harness import Fake, wait_for


def pdf_names(m):
    return sorted(n for n in os.listdir(m.path("invoices")) if n.endswith(".pdf"))


def fetches(fake, mark):
    return [r["path"] for r in fake.since(mark) if "invoices_pdf" in r["path"]]


def cached_files(cache_home):
    return {fn: os.path.getsize(os.path.join(dp, fn))
            for dp, _, fns in os.walk(cache_home) for fn in fns if fn.endswith(".pdf")}


def read(m, name):
    with open(m.path("invoices", name), "rb") as f:
        return f.read()


def test_cache_max_evicts_the_least_recently_used(workdir, mounts):
    fake = Fake(workdir, "--generate", "clients=4,invoices=12,products=2")
    try:
        m = mounts(fake, opts=["cache_max=20K"])
        names = pdf_names(m)
        sizes = {}
        for n in names:
            sizes[n] = len(read(m, n))
            assert sizes[n] > 2000
        on_disk = cached_files(m.cache)
        assert sum(on_disk.values()) <= 20 * 1024
        assert names[-1] in on_disk  # the newest stays
        assert names[0] not in on_disk  # the oldest went
        # a PDF read before stays readable: memory of the kernel aside, a read
        # that misses the evicted file fetches it again, correctly
        mark = fake.mark()
        assert m.unmount() == 0
        m2 = mounts(fake, opts=["cache_max=20K"], env={"XDG_CACHE_HOME": m.cache})
        assert read(m2, names[-1]) == fake.pdf(
            names[-1][:-4].replace("%2F", "/").replace("%25", "%"))
        assert fetches(fake, mark) == []
        assert len(read(m2, names[0])) == sizes[names[0]]
        assert len(fetches(fake, mark)) == 1
    finally:
        fake.stop()


def test_a_torn_cached_pdf_is_fetched_again(workdir, mounts):
    fake = Fake(workdir, "--generate", "clients=4,invoices=3,products=2")
    try:
        m = mounts(fake)
        name = pdf_names(m)[0]
        good = read(m, name)
        cache_home = m.cache
        assert m.unmount() == 0
        path = next(os.path.join(dp, fn) for dp, _, fns in os.walk(cache_home)
                    for fn in fns if fn == name)
        with open(path, "r+b") as f:
            f.truncate(len(good) // 2)  # as a full disk or a crash elsewhere leaves it
        mark = fake.mark()
        m2 = mounts(fake, env={"XDG_CACHE_HOME": cache_home})
        assert read(m2, name) == good
        assert len(fetches(fake, mark)) == 1
        assert os.path.getsize(path) == len(good)
    finally:
        fake.stop()


def cache_path(cache_home, name):
    return next(os.path.join(dp, fn) for dp, _, fns in os.walk(cache_home)
                for fn in fns if fn == name)


def swap(a, b):
    os.rename(a, a + ".swap")
    os.rename(b, a)
    os.rename(a + ".swap", b)


def test_swapped_cached_pdfs_are_fetched_again(workdir, mounts):
    """Two cached PDFs of the same size swapped by hand: each is fetched again at its
    first read (its bytes are not the ones its digest was kept for), said once each,
    and served right; swapped together with their digest files, the same (the digest
    names the invoice it was fetched for)."""
    fake = Fake(workdir, "--generate", "clients=4,invoices=3,products=2")
    try:
        a_nr, b_nr = sorted(r["invoicenr"] for r in fake.state("invoices"))[:2]
        for nr in (a_nr, b_nr):
            fake.set_pdf_size(nr, 40000)  # only their bytes tell them apart
        a, b = a_nr + ".pdf", b_nr + ".pdf"
        m = mounts(fake)
        assert read(m, a) == fake.pdf(a_nr) and read(m, b) == fake.pdf(b_nr)
        cache_home = m.cache
        assert m.unmount() == 0
        pa, pb = cache_path(cache_home, a), cache_path(cache_home, b)
        assert os.path.getsize(pa) == os.path.getsize(pb)
        for digests in (False, True):
            swap(pa, pb)
            if digests:
                swap(pa[:-4] + ".sha256", pb[:-4] + ".sha256")
            mark = fake.mark()
            m2 = mounts(fake, env={"XDG_CACHE_HOME": cache_home})
            assert read(m2, a) == fake.pdf(a_nr)
            assert read(m2, b) == fake.pdf(b_nr)
            assert sorted(fetches(fake, mark)) == ["/api/v1/invoices_pdf/" + a_nr,
                                                   "/api/v1/invoices_pdf/" + b_nr]
            assert read(m2, a) == fake.pdf(a_nr)  # checked once: no call, no second line
            assert len(fetches(fake, mark)) == 2
            assert m2.unmount() == 0
            err = m2.stderr()
            assert err.count("does not hold the bytes fetched for it") == 2, err
            assert open(pa, "rb").read() == fake.pdf(a_nr)
        # and the next mount serves them from the disk again
        mark = fake.mark()
        m3 = mounts(fake, env={"XDG_CACHE_HOME": cache_home})
        assert read(m3, a) == fake.pdf(a_nr) and read(m3, b) == fake.pdf(b_nr)
        assert fetches(fake, mark) == []
    finally:
        fake.stop()


# A maintenance page (a proxy's, a captive portal's) between the markers a PDF starts
# and ends with, even with a startxref: not where a cross-reference section starts.
PAGE = ("%PDF-1.4\n<!DOCTYPE html><html><body><h1>Down for maintenance</h1></body></html>\n"
        "startxref\n0\n%%EOF\n")


@pytest.mark.parametrize("ctype", ["text/html; charset=utf-8", "application/pdf"])
def test_an_error_page_between_pdf_markers_is_never_cached(workdir, mounts, ctype):
    """Answered 200 with that page (as HTML, or even as application/pdf): the read
    fails with EIO, nothing is kept; once the fault ends the real PDF is fetched,
    served and kept."""
    fake = Fake(workdir, "--generate", "clients=4,invoices=3,products=2")
    try:
        m = mounts(fake)
        nr = sorted(r["invoicenr"] for r in fake.state("invoices"))[0]
        fake.inject(fail={"status": 200, "body": PAGE, "headers": {"Content-Type": ctype},
                          "count": 1000, "path_prefix": "/api/v1/invoices_pdf/"})
        with pytest.raises(OSError) as e:
            read(m, nr + ".pdf")
        assert e.value.errno == errno.EIO
        assert cached_files(m.cache) == {}
        why = [x["message"] for x in m.status()["last_errors"]]
        assert any("not a PDF" in w or "startxref" in w for w in why), why
        fake.reset()

        def real():
            try:
                return read(m, nr + ".pdf") == fake.pdf(nr)
            except OSError:
                return False  # the failed fetch is held for a second
        wait_for(real, "the real PDF once the fault ended")
        assert open(cache_path(m.cache, nr + ".pdf"), "rb").read() == fake.pdf(nr)
    finally:
        fake.stop()


def test_nodiskcache_keeps_pdfs_in_memory_only(workdir, mounts):
    fake = Fake(workdir, "--generate", "clients=4,invoices=3,products=2")
    try:
        m = mounts(fake, opts=["nodiskcache"])
        name = pdf_names(m)[1]
        mark = fake.mark()
        data = read(m, name)
        assert cached_files(m.cache) == {}
        assert read(m, name) == data
        assert len(fetches(fake, mark)) == 1
    finally:
        fake.stop()


def test_bad_cache_max_is_refused(fake, mounts):
    import pytest
    with pytest.raises(AssertionError) as e:
        mounts(fake, opts=["cache_max=lots"])
    assert "not a size" in str(e.value)
