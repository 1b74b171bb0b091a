"""The PDF cache: bounded with LRU eviction, verified on first use, or memory only."""
import os

from harness import Fake


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
