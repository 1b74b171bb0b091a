"""A service that fails: the mount degrades to its cache, reports, and never hangs."""
import errno
import os
import subprocess

import pytest

from harness import Fake, listing_calls, wait_for


@pytest.fixture
def lone(workdir):
    """A fake of its own: these tests inject faults into it."""
    f = Fake(workdir, "--generate", "clients=12,invoices=20,products=6")
    yield f
    f.stop()


def test_spent_budget_serves_the_cached_listing(lone, mounts):
    m = mounts(lone, opts=["ttl=1"])
    before = sorted(os.listdir(m.path("clients")))
    lone.inject(ratelimit_remaining=0)
    mark = lone.mark()
    # after the TTL the refresh meets a 403: the listing we had is served
    wait_for(lambda: listing_calls(lone.since(mark), "clients") or
             (os.listdir(m.path("clients")) and False), "a refresh attempt")
    assert sorted(os.listdir(m.path("clients"))) == before
    assert [r["status"] for r in lone.since(mark)] == [403]
    s = m.status()
    assert s["cache"]["ratelimited"] is True
    assert s["api"]["ratelimit_remaining"] == 0
    assert "403" in s["last_errors"][0]["message"]
    # and it does not keep asking while the budget is spent
    for _ in range(5):
        os.listdir(m.path("clients"))
    assert len(lone.since(mark)) == 1
    # a collection never listed cannot be served: EAGAIN, not a hang
    with pytest.raises(OSError) as e:
        os.listdir(m.path("products"))
    assert e.value.errno == errno.EAGAIN


def test_a_hanging_service_times_out(lone, mounts):
    m = mounts(lone, opts=["timeout=1"])
    lone.inject(hang={"count": 1, "seconds": 20, "path_prefix": "/api/v1/clients"})
    with pytest.raises(OSError) as e:
        os.listdir(m.path("clients"))
    assert e.value.errno == errno.ETIMEDOUT
    assert "clients" in m.status()["last_errors"][0]["operation"]
    # the next try works
    assert len(os.listdir(m.path("clients"))) == 12


def test_malformed_body_and_server_errors_are_eio(lone, mounts):
    m = mounts(lone)
    lone.inject(malformed={"count": 1, "path_prefix": "/api/v1/products"})
    with pytest.raises(OSError) as e:
        os.listdir(m.path("products"))
    assert e.value.errno == errno.EIO
    assert "not JSON" in m.status()["last_errors"][0]["message"]
    # the kernel retries a failed readahead with a read of its own: keep failing
    lone.inject(fail={"status": 500, "count": 100, "path_prefix": "/api/v1/invoices_pdf",
                      "body": "database on fire"})
    name = os.listdir(m.path("invoices"))[1]
    assert name.endswith(".pdf")
    r = subprocess.run(["cat", m.path("invoices", name)], capture_output=True, timeout=60)
    assert r.returncode != 0 and b"Input/output error" in r.stderr
    assert "database on fire" in m.status()["last_errors"][0]["message"]
    # once the service is well again, a later read fetches it
    lone.reset()
    assert open(m.path("invoices", name), "rb").read().startswith(b"%PDF-")


def test_dropped_connections_are_retried_then_reported(lone, mounts):
    m = mounts(lone)
    mark = lone.mark()
    # a GET whose connection drops is tried again (libcurl also retries once
    # by itself on a kept-alive connection): two drops cost nothing visible
    lone.inject(drop={"count": 2, "path_prefix": "/api/v1/clients"})
    assert len(os.listdir(m.path("clients"))) == 12
    assert len(listing_calls(lone.since(mark), "clients")) == 3
    # a service that keeps dropping: an error, not a hang
    lone.inject(drop={"count": 100, "path_prefix": "/api/v1/products"})
    with pytest.raises(OSError) as e:
        os.listdir(m.path("products"))
    assert e.value.errno == errno.ECONNRESET
