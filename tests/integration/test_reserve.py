"""The budget reserve: thumbnailers and indexers may spend only their share."""
import os
import shutil
import subprocess

import pytest

from harness import FACTUURFS


@pytest.fixture
def thumbnailer(tmp_path):
    """`cat` under the name of Thunar's thumbnail service, as the kernel sees it."""
    path = tmp_path / "tumblerd"
    shutil.copy("/bin/cat", path)
    return str(path)


def pdfs(m):
    return sorted(n for n in os.listdir(m.path("invoices")) if n.endswith(".pdf"))


def fetches(reqs):
    return [r for r in reqs if "/invoices_pdf/" in r["path"]]


def test_thumbnailers_get_their_share_and_no_more(lone, mounts, thumbnailer):
    m = mounts(lone, opts=["background_calls=5"])
    names = pdfs(m)
    mark = lone.mark()
    results = [subprocess.run([thumbnailer, m.path("invoices", n)], capture_output=True)
               for n in names]
    ok = [r for r in results if r.returncode == 0]
    refused = [r for r in results if r.returncode != 0]
    assert len(ok) == 5 and len(refused) == 15
    assert all(b"Resource temporarily unavailable" in r.stderr for r in refused)
    assert len(fetches(lone.since(mark))) == 5
    # what the user asks for is not refused: one call each
    mark = lone.mark()
    assert open(m.path("invoices", names[-1]), "rb").read()[:5] == b"%PDF-"
    assert len(fetches(lone.since(mark))) == 1
    # PDFs already fetched are served to the thumbnailer from the disk cache, free
    mark = lone.mark()
    r = subprocess.run([thumbnailer, m.path("invoices", names[0]),
                        m.path("invoices", names[-1])], capture_output=True)
    assert r.returncode == 0 and lone.since(mark) == []
    bg = m.status()["api"]["background"]
    # (the kernel tries a failed readahead once more: two refused reads a file)
    assert (bg["calls_last_hour"], bg["per_hour"]) == (5, 5) and bg["refused"] >= 15
    out = subprocess.run([FACTUURFS, "status", m.mnt], capture_output=True, text=True).stdout
    assert "thumbnails   5 of 5 calls this hour used by thumbnailers and indexers, " \
           f"{bg['refused']} reads refused" in out


def test_no_limit_when_asked(lone, mounts, thumbnailer):
    m = mounts(lone, opts=["background_calls=-1"])
    mark = lone.mark()
    for n in pdfs(m):
        assert subprocess.run([thumbnailer, m.path("invoices", n)],
                              capture_output=True).returncode == 0
    assert len(fetches(lone.since(mark))) == 20


def test_the_share_holds_across_remounts(lone, mounts, thumbnailer):
    m = mounts(lone, opts=["background_calls=4"])
    names = pdfs(m)
    for n in names[:6]:
        subprocess.run([thumbnailer, m.path("invoices", n)], capture_output=True)
    cache = m.cache
    assert m.unmount() == 0
    # a new mount of the same account, same cache: the hour's share is spent
    m2 = mounts(lone, opts=["background_calls=4"], env={"XDG_CACHE_HOME": cache})
    mark = lone.mark()
    for n in names[6:]:
        r = subprocess.run([thumbnailer, m2.path("invoices", n)], capture_output=True)
        assert r.returncode != 0
    assert fetches(lone.since(mark)) == []
    assert m2.status()["api"]["background"]["calls_last_hour"] == 4
    # the count is a private file beside the PDFs
    counts = [os.path.join(d, n) for d, _, fs in os.walk(cache) for n in fs
              if n == "background-calls"]
    assert len(counts) == 1 and os.stat(counts[0]).st_mode & 0o077 == 0
    assert len(open(counts[0]).read().split()) == 4
