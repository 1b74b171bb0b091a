"""API economy, counted from the fake's request log."""
import json
import os
import threading

import pytest

from harness import Fake, listing_calls, run, wait_for

N_INVOICES = 2000


@pytest.fixture(scope="module")
def big(workdir):
    f = Fake(workdir, "--generate", f"clients=50,invoices={N_INVOICES},products=20",
             "--rate-limit", "100000")
    yield f
    f.stop()


def test_mount_makes_exactly_one_call(big, mounts):
    mark = big.mark()
    mounts(big)
    reqs = big.since(mark)
    assert len(reqs) == 1, reqs
    assert reqs[0]["status"] == 200


def test_listing_2000_invoices_is_one_call_then_none_within_ttl(big, mounts):
    m = mounts(big, opts=["ttl=3600"])
    mark = big.mark()
    r = run("ls", "-l", m.path("invoices"))
    assert r.returncode == 0
    assert len(r.stdout.splitlines()) == 1 + 2 * N_INVOICES  # "total" + json + pdf
    reqs = big.since(mark)
    assert len(reqs) == 1 and len(listing_calls(reqs, "invoices")) == 1, reqs

    mark = big.mark()
    assert run("ls", "-l", m.path("invoices")).stdout == r.stdout
    # reading every .json of the listed directory: the listing carried them whole
    d = m.path("invoices")
    for n in os.listdir(d):
        if n.endswith(".json"):
            with open(os.path.join(d, n), "rb") as f:
                assert f.read().startswith(b"{")
    assert big.since(mark) == []


def test_listing_refreshes_after_the_ttl(big, mounts):
    m = mounts(big, opts=["ttl=1"])
    mark = big.mark()
    run("ls", "-l", m.path("clients"))
    assert len(listing_calls(big.since(mark), "clients")) == 1
    # no sleeping: list until the log shows the refresh, with a deadline
    wait_for(lambda: run("ls", "-l", m.path("clients")) and
             len(listing_calls(big.since(mark), "clients")) >= 2, "a refresh after the TTL")


def test_an_expired_listing_is_answered_at_once_while_one_refresh_runs_behind(fakes, mounts):
    """No browse waits on a refresh: past the TTL the listing held answers at once (the
    service hangs: waiting would take 30 s), every reader meanwhile shares the one
    refresh, and what it brings reaches the files when it lands."""
    fake = fakes("--generate", "clients=4,invoices=3,products=2")
    m = mounts(fake, opts=["ttl=2"])
    names = sorted(os.listdir(m.path("clients")))
    name = names[0]
    rec = next(r for r in fake.state("clients") if r["clientnr"] + ".json" == name)
    fake.put_state("clients", rec["clientnr"], dict(rec, company="Changed behind our back"))
    wait_for(lambda: m.status()["cache"]["collections"]["clients"]["state"] == "expired",
             "the TTL to run out", interval=0.1)
    mark = fake.mark()
    failures = m.status()["api"]["failures"]
    # An hour's hang, released by the reset below: every read is answered while the
    # refresh is still out, neither answered (the fake logs a request once answered)
    # nor given up on (no failure counted).
    fake.inject(hang={"seconds": 3600, "path_prefix": "/api/v1/clients"})
    for _ in range(5):
        assert sorted(os.listdir(m.path("clients"))) == names
        with open(m.path("clients", name), encoding="utf-8") as f:
            assert json.load(f)["company"] == rec["company"]
    assert listing_calls(fake.since(mark), "clients") == [], "a reader waited for the refresh"
    assert m.status()["api"]["failures"] == failures, "a reader waited for the refresh"
    fake.reset()  # the hung refresh is answered now (the fake logs it then)

    def shows_the_change():
        with open(m.path("clients", name), encoding="utf-8") as f:
            return json.load(f)["company"] == "Changed behind our back"
    wait_for(shows_the_change, "the refresh's change in the file")
    # One refresh for all those readers (the next is a TTL away).
    assert len(listing_calls(fake.since(mark), "clients")) == 1
    assert m.status()["cache"]["collections"]["clients"]["records"] == len(names)


def test_a_refresh_of_an_unchanged_page_takes_its_records_again(fakes, mounts):
    """A page that comes back byte for byte as before is not converted again (its
    records are the ones held: .factuurfs/status counts it), and a page that changed
    is: the change shows."""
    fake = fakes("--generate", "clients=4,invoices=3,products=2")
    m = mounts(fake, opts=["ttl=1"])
    path = m.path("clients")
    names = sorted(os.listdir(path))
    before = {n: open(os.path.join(path, n), "rb").read() for n in names}

    def refreshed(since):
        os.listdir(path)
        st = m.status()["cache"]
        return st["collections"]["clients"]["fetched_at"] != since and st
    since = m.status()["cache"]["collections"]["clients"]["fetched_at"]
    st = wait_for(lambda: refreshed(since), "a refresh of the unchanged listing", interval=0.2)
    assert st["listing_pages_reused"] >= 1
    assert {n: open(os.path.join(path, n), "rb").read() for n in names} == before
    rec = next(r for r in fake.state("clients") if r["clientnr"] + ".json" == names[0])
    fake.put_state("clients", rec["clientnr"], dict(rec, company="Changed on the service"))
    reused = st["listing_pages_reused"]

    def shows_it():
        with open(os.path.join(path, names[0]), encoding="utf-8") as f:
            return json.load(f)["company"] == "Changed on the service"
    wait_for(shows_it, "the changed page converted", interval=0.2)
    # The other records read as before.
    for n in names[1:]:
        assert open(os.path.join(path, n), "rb").read() == before[n]
    assert m.status()["cache"]["listing_pages_reused"] >= reused


def test_a_write_of_ours_is_read_back_even_from_an_expired_listing(fakes, mounts):
    """Read-your-writes: a change we made is never answered from the listing held."""
    fake = fakes("--generate", "clients=4,invoices=3,products=2")
    m = mounts(fake, opts=["ttl=1", "nonotify"])
    name = sorted(os.listdir(m.path("clients")))[0]
    wait_for(lambda: m.status()["cache"]["collections"]["clients"]["state"] == "expired",
             "the TTL to run out", interval=0.1)
    with open(m.path("clients", name), encoding="utf-8") as f:
        rec = json.load(f)
    rec["company"] = "Written by us"
    with open(m.path("clients", name), "w", encoding="utf-8") as f:
        json.dump(rec, f)
    with open(m.path("clients", name), encoding="utf-8") as f:
        assert json.load(f)["company"] == "Written by us"
    assert any(r["method"] == "PUT" for r in fake.requests())


def test_every_page_is_read_when_the_service_pages(workdir, mounts):
    """A service that caps pages at 100: one call per page, nothing missed."""
    f = Fake(workdir, "--generate", f"clients=5,invoices={N_INVOICES},products=5",
             "--page-size", "100", "--max-count", "100")
    try:
        m = mounts(f, opts=["page_size=100"])
        mark = f.mark()
        names = os.listdir(m.path("invoices"))
        assert len(names) == 2 * N_INVOICES
        pages = listing_calls(f.since(mark), "invoices")
        # 20 full pages and the empty one that says there is no more
        assert len(pages) == N_INVOICES // 100 + 1, [p["path"] for p in pages]
        assert len(set(p["path"] for p in pages)) == len(pages)
    finally:
        f.stop()


def test_service_that_ignores_count_is_read_to_the_end(workdir, mounts):
    f = Fake(workdir, "--generate", "clients=5,invoices=250,products=5",
             "--page-size", "40", "--ignore-count")
    try:
        m = mounts(f, opts=["page_size=40"])
        assert len(os.listdir(m.path("invoices"))) == 2 * 250
        assert len(listing_calls(f.since(0), "invoices")) == 7  # 6 full pages, 1 short
    finally:
        f.stop()


def test_concurrent_readers_share_one_request(workdir, mounts):
    f = Fake(workdir, "--generate", "clients=30,invoices=30,products=5", "--latency-ms", "300")
    try:
        m = mounts(f)
        mark = f.mark()
        results = []

        def reader():
            results.append(sorted(os.listdir(m.path("clients"))))

        threads = [threading.Thread(target=reader) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 8 and all(r == results[0] for r in results)
        assert len(listing_calls(f.since(mark), "clients")) == 1
        # eight readers of one PDF never fetched before: one fetch
        inv = f.state("invoices")[0]["invoicenr"].replace("/", "%2F")
        pdf = m.path("invoices", inv + ".pdf")
        datas = []
        mark = f.mark()
        threads = [threading.Thread(target=lambda: datas.append(open(pdf, "rb").read()))
                   for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(datas) == 8 and all(d == f.pdf(f.state("invoices")[0]["invoicenr"])
                                       for d in datas)
        assert len([r for r in f.since(mark) if "invoices_pdf" in r["path"]]) == 1
    finally:
        f.stop()


def test_pdf_disk_cache_survives_remount(big, mounts):
    m = mounts(big)
    inv = big.state("invoices")[5]["invoicenr"].replace("/", "%2F")
    mark = big.mark()
    data = open(m.path("invoices", inv + ".pdf"), "rb").read()
    assert len([r for r in big.since(mark) if "invoices_pdf" in r["path"]]) == 1
    cache_home = m.cache
    assert m.unmount() == 0
    m2 = mounts(big, env={"XDG_CACHE_HOME": cache_home})
    mark = big.mark()
    assert os.stat(m2.path("invoices", inv + ".pdf")).st_size == len(data)
    assert open(m2.path("invoices", inv + ".pdf"), "rb").read() == data
    assert [r for r in big.since(mark) if "invoices_pdf" in r["path"]] == []
    cache_dir = [os.path.join(dp, fn) for dp, _, fns in os.walk(cache_home) for fn in fns]
    assert cache_dir and all(os.stat(p).st_mode & 0o077 == 0 for p in cache_dir)


def test_refresh_file_and_sighup_drop_listings(big, mounts):
    m = mounts(big, opts=["ttl=3600"])
    colls = ("products", "clients", "invoices")
    for c in colls:
        os.listdir(m.path(c))
    mark = big.mark()
    for c in colls:
        os.listdir(m.path(c))
    assert big.since(mark) == []
    # a write drops every listing: each is asked for again, once
    with open(m.path(".factuurfs", "refresh"), "w") as f:
        f.write("1\n")
    for c in colls:
        os.listdir(m.path(c))
        os.listdir(m.path(c))
    assert [len(listing_calls(big.since(mark), c)) for c in colls] == [1, 1, 1]
    # and so does SIGHUP (handled by a thread of its own: wait for its effect)
    mark = big.mark()
    m.proc.send_signal(1)  # SIGHUP
    wait_for(lambda: os.listdir(m.path("products")) and
             len(listing_calls(big.since(mark), "products")) == 1, "a refresh after SIGHUP")
    for c in colls:
        os.listdir(m.path(c))
    assert [len(listing_calls(big.since(mark), c)) for c in colls] == [1, 1, 1]
