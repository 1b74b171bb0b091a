"""A service that fails: the mount degrades to its cache, reports, and never hangs."""
import errno
import json
import os
import subprocess
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import DEADLINE, is_mounted, listing_calls, save, wait_for


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
    # the refresh runs behind the listing: its 403 is in once the status says so
    def taken_in():
        s = m.status()
        return s if s["cache"]["ratelimited"] and s["last_errors"] else None
    s = wait_for(taken_in, "the mount to take the 403 in")
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
    # a try within a second gets the same answer at once (readers the kernel
    # queued behind the first must not wait out a timeout each); then it works
    wait_for(lambda: errno_of(lambda: os.listdir(m.path("clients"))) == 0, "a listing")
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
    wait_for(lambda: errno_of(lambda: open(m.path("invoices", name), "rb").read()) == 0,
             "the PDF")
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


# -- every fault through a real mount ---------------------------------------------

def status_of(m, coll):
    return m.status()["cache"]["collections"][coll]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_transient_server_errors_are_retried(lone, mounts, status):
    m = mounts(lone)
    mark = lone.mark()
    lone.inject(fail={"status": status, "count": 2, "path_prefix": "/api/v1/clients",
                      "body": "try later"})
    assert len(os.listdir(m.path("clients"))) == 12
    assert [r["status"] for r in listing_calls(lone.since(mark), "clients")] == \
        [status, status, 200]
    s = m.status()
    assert s["api"]["retries"] == 2 and s["service"]["state"] == "up"


def test_retry_after_on_a_503_is_honoured(lone, mounts):
    m = mounts(lone)
    mark = lone.mark()
    lone.inject(fail={"status": 503, "count": 1, "path_prefix": "/api/v1/products",
                      "headers": {"Retry-After": "1"}})
    t0 = time.monotonic()
    assert len(os.listdir(m.path("products"))) == 6
    assert time.monotonic() - t0 >= 1.0
    assert len(listing_calls(lone.since(mark), "products")) == 2


@pytest.mark.parametrize("status", [403, 429])
def test_budget_running_out_mid_browse(lone, mounts, status):
    m = mounts(lone)
    os.listdir(m.path("clients"))
    mark = lone.mark()
    lone.inject(ratelimit={"count": 1000, "status": status})
    # the next listing meets the spent budget: EAGAIN, asked once, not retried
    with pytest.raises(OSError) as e:
        os.listdir(m.path("products"))
    assert e.value.errno == errno.EAGAIN
    assert [r["status"] for r in lone.since(mark)] == [status]
    # from now on nothing is asked: uncached reads fail fast, cached ones are served
    for _ in range(3):
        with pytest.raises(OSError) as e:
            os.listdir(m.path("invoices"))
        assert e.value.errno == errno.EAGAIN
    assert len(os.listdir(m.path("clients"))) == 12
    assert len(lone.since(mark)) == 1
    s = m.status()
    assert s["service"]["state"] == "ratelimited"
    assert 0 < s["service"]["next_try_seconds"] <= 60
    assert s["api"]["not_sent"] >= 1


def test_a_cut_body_is_retried_and_never_shown(lone, mounts):
    m = mounts(lone)
    mark = lone.mark()
    lone.inject(cut={"count": 1, "path_prefix": "/api/v1/clients"})
    names = os.listdir(m.path("clients"))
    assert len(names) == 12
    assert [r["status"] for r in listing_calls(lone.since(mark), "clients")] == [0, 200]
    # a PDF cut mid-body: the same, and the disk cache holds the whole file
    inv = sorted(n for n in os.listdir(m.path("invoices")) if n.endswith(".pdf"))[0]
    lone.inject(cut={"count": 1, "path_prefix": "/api/v1/invoices_pdf"})
    data = open(m.path("invoices", inv), "rb").read()
    assert data == lone.pdf(urllib.parse.unquote(inv[:-4]))
    cached = [os.path.join(dp, f) for dp, _, fs in os.walk(m.cache) for f in fs
              if f.endswith(".pdf")]
    assert len(cached) == 1 and open(cached[0], "rb").read() == data


def test_a_truncated_pdf_is_never_cached_or_shown(lone, mounts):
    m = mounts(lone)
    inv = sorted(n for n in os.listdir(m.path("invoices")) if n.endswith(".pdf"))[2]
    nr = urllib.parse.unquote(inv[:-4])
    # a body cut short behind a matching Content-Length: only the missing
    # %%EOF tells, and every try of this read gets it
    lone.inject(malformed={"count": 100, "path_prefix": "/api/v1/invoices_pdf"})
    r = subprocess.run(["cat", m.path("invoices", inv)], capture_output=True, timeout=60)
    assert r.returncode != 0 and r.stdout == b""
    assert "%%EOF" in m.status()["last_errors"][0]["message"]
    assert not [f for _, _, fs in os.walk(m.cache) for f in fs if f.endswith(".pdf")]
    lone.reset()
    wait_for(lambda: errno_of(lambda: open(m.path("invoices", inv), "rb").read()) == 0,
             "the PDF")
    assert open(m.path("invoices", inv), "rb").read() == lone.pdf(nr)


def test_a_latency_spike_is_waited_out_and_a_long_one_times_out(lone, mounts):
    m = mounts(lone, opts=["timeout=2"])
    lone.inject(spike={"count": 1, "ms": 700, "path_prefix": "/api/v1/clients"})
    assert len(os.listdir(m.path("clients"))) == 12
    # The whole operation, retries included, is kept to the timeout: the spike holds
    # the one request far past it, and the reader gets ETIMEDOUT with no call answered
    # (the spiked one still waits, uncounted; a retry would be answered at once).
    lone.inject(spike={"count": 1, "ms": 60_000, "path_prefix": "/api/v1/products"})
    sent = lone.status()["requests"]
    with pytest.raises(OSError) as e:
        os.listdir(m.path("products"))
    assert e.value.errno == errno.ETIMEDOUT
    st = lone.status()
    assert "spike" not in json.dumps(st["faults"]) and st["requests"] == sent


def test_a_server_that_never_answers_blocks_no_one_past_the_timeout(lone, mounts):
    m = mounts(lone, opts=["timeout=2"])
    # An hour's hang, released only by the reset below.
    lone.inject(hang={"count": 100, "seconds": 3600, "path_prefix": "/api/v1/invoices"})
    # (a hung request is logged only once answered: count what the fake received)
    sent = lone.status()["requests"]
    mark = lone.mark()
    t0 = time.monotonic()
    # eight readers at once: each is answered (ETIMEDOUT) while the server still holds
    # the request, with one call for all of them
    with ThreadPoolExecutor(8) as ex:
        errs = list(ex.map(lambda _: errno_of(lambda: os.listdir(m.path("invoices"))),
                           range(8)))
    assert errs == [errno.ETIMEDOUT] * 8
    assert not lone.since(mark), "a reader waited for the hung server's answer"
    assert lone.status()["requests"] - sent == 1, "one call for the eight readers"
    # The failed fetch is not repeated within a second (CACHE_FAIL_HOLD): a reader then
    # gets the same errno without a call of its own.  The fetch began after t0 and
    # failed at the 2 s timeout, so a reader starting before t0 + 3 is inside that
    # second whatever the machine's load; one starting later may rightly ask again.
    t1 = time.monotonic()
    assert errno_of(lambda: os.listdir(m.path("invoices"))) == errno.ETIMEDOUT
    if t1 < t0 + 2 + 1:
        assert lone.status()["requests"] - sent == 1, "a failed fetch repeated at once"
    lone.reset()
    wait_for(lambda: lone.since(mark), "the hung request answered and logged")
    # after that second it is: the next reader asks again, once, and is answered
    mark = lone.mark()
    wait_for(lambda: errno_of(lambda: os.listdir(m.path("invoices"))) == 0, "the listing")
    assert len(os.listdir(m.path("invoices"))) == 40
    assert len(listing_calls(lone.since(mark), "invoices")) == 1


def errno_of(fn):
    try:
        fn()
    except OSError as e:
        return e.errno
    return 0


def test_the_service_gone_and_back(lone, mounts):
    m = mounts(lone, opts=["ttl=1", "timeout=5"])
    clients = sorted(os.listdir(m.path("clients")))
    invs = sorted(n for n in os.listdir(m.path("invoices")) if n.endswith(".pdf"))
    first_pdf = open(m.path("invoices", invs[0]), "rb").read()
    with lone.down():
        # cached data keeps being served after its TTL, marked stale
        wait_for(lambda: status_of(m, "clients")["state"] == "stale"
                 if sorted(os.listdir(m.path("clients"))) == clients else False,
                 "the clients listing served stale")
        s = m.status()
        assert s["service"]["state"] == "down"
        assert "refused" in s["service"]["reason"].lower() or "connect" in \
            s["service"]["reason"].lower()
        assert status_of(m, "clients")["stale_because"]
        assert json.load(open(m.path("clients", clients[0])))["clientnr"]
        assert open(m.path("invoices", invs[0]), "rb").read() == first_pdf
        # what was never fetched fails with the errno of an unreachable host (a
        # refused connection, not the 5 s timeout's ETIMEDOUT)
        for name in invs[1:4]:
            assert errno_of(lambda: open(m.path("invoices", name), "rb").read()) == \
                errno.EHOSTUNREACH
        assert errno_of(lambda: os.listdir(m.path("products"))) == errno.EHOSTUNREACH
    # back: the mount recovers by itself on the next reads
    wait_for(lambda: errno_of(lambda: os.listdir(m.path("products"))) == 0,
             "products listed once the service is back")
    wait_for(lambda: status_of(m, "clients")["state"] == "fresh" if os.listdir(m.path("clients"))
             else False, "clients fresh again")
    assert m.status()["service"]["state"] == "up"
    assert open(m.path("invoices", invs[1]), "rb").read()[:5] == b"%PDF-"


def refuse(m, n):
    """@n saves the mount refuses (not JSON), each an error of its own in the status file
    (no call: a text that does not parse is never sent)."""
    for i in range(n):
        assert save(m.path("products", f"refused-{i}-{time.monotonic_ns()}.json"),
                    b"{not json") == errno.EINVAL


def read_open(fd, chunk):
    """Everything left in @fd, read @chunk bytes at a time."""
    out = b""
    while True:
        b = os.read(fd, chunk)
        if not b:
            return out
        out += b


def test_an_open_status_file_is_one_document(lone, mounts):
    """What one open of .factuurfs/status reads is one document, whatever is recorded
    and rendered while it is open: errors added meanwhile (the text grows past a
    512-byte step) show in the next open, never in the middle of this one."""
    m = mounts(lone)
    p = m.path(".factuurfs", "status")
    fd = os.open(p, os.O_RDONLY)
    try:
        head = os.read(fd, 100)
        size = os.fstat(fd).st_size
        refuse(m, 6)
        # the next open shows them: a longer text, rendered since
        wait_for(lambda: len(open(p, "rb").read()) >= size + 512, "a longer status")
        text = head + read_open(fd, 100)
        assert os.fstat(fd).st_size == size == len(text)
    finally:
        os.close(fd)
    before = json.loads(text)
    assert before["errors_total"] == 0
    assert m.status()["errors_total"] == 6


def test_concurrent_readers_each_read_one_status_document(lone, mounts):
    """Four readers open, read in small pieces and parse the status file over and over
    while saves are refused beside them (every refusal renders it anew): every read is
    one document, of the size its open file has."""
    m = mounts(lone)
    p = m.path(".factuurfs", "status")
    stop = threading.Event()
    bad, reads = [], []

    def reader(chunk):
        mine = 0
        while not stop.is_set() or mine < 3:
            mine += 1
            fd = os.open(p, os.O_RDONLY)
            try:
                text = read_open(fd, chunk)
                size = os.fstat(fd).st_size
            finally:
                os.close(fd)
            try:
                json.loads(text)
                assert len(text) == size, (len(text), size)
            except (ValueError, AssertionError) as e:
                bad.append(f"{e}: {text[:60]!r}...{text[-60:]!r}")
            reads.append(len(text))

    threads = [threading.Thread(target=reader, args=(c,)) for c in (7, 64, 512, 4096)]
    for t in threads:
        t.start()
    try:
        for _ in range(8):
            refuse(m, 3)
        grown = len(json.dumps(m.status()))
    finally:
        stop.set()
        for t in threads:
            t.join(DEADLINE)
    assert not bad, bad[:3]
    assert len(reads) >= 12 and grown > 2048


def test_posts_are_never_repeated(lone, mounts):
    m = mounts(lone, opts=["timeout=3"])
    os.listdir(m.path("products"))
    body = json.dumps({"code": "X1", "name": "Once only", "price": 5}).encode()
    # the answer is lost (the connection drops after the service acted)
    mark = lone.mark()
    lone.inject(drop={"count": 1, "path_prefix": "/api/v1/products"})
    p = m.path("products", "once.json")
    err = write_and_close(p, body)
    assert err == errno.ECONNRESET
    posts = [r for r in lone.since(mark) if r["method"] == "POST"]
    assert len(posts) == 1
    # a 503 to a POST: reported, not repeated
    lone.inject(fail={"status": 503, "count": 5, "path_prefix": "/api/v1/products"})
    mark = lone.mark()
    assert write_and_close(m.path("products", "twice.json"),
                           json.dumps({"code": "X2", "name": "Two", "price": 1}).encode()) \
        == errno.EIO
    assert len([r for r in lone.since(mark) if r["method"] == "POST"]) == 1
    lone.reset()


def test_a_post_while_the_service_is_gone_is_kept_and_sent_once_later(lone, mounts):
    m = mounts(lone, opts=["timeout=3"])
    before = len(lone.state("products"))
    p = m.path("products", "later.json")
    body = json.dumps({"code": "L1", "name": "Later", "price": 7}).encode()
    with lone.down(keep_state=True):
        assert write_and_close(p, body) == errno.EHOSTUNREACH
        assert open(p, "rb").read() == body  # the text is kept
    mark = lone.mark()
    # saving again once it is back: one POST, one record
    wait_for(lambda: errno_of(lambda: os.listdir(m.path("clients"))) == 0, "service back")
    fd = os.open(p, os.O_WRONLY)
    os.fsync(fd)
    os.close(fd)
    assert len([r for r in lone.since(mark) if r["method"] == "POST"]) == 1
    assert len(lone.state("products")) == before + 1


write_and_close = save


def cache_files(cache):
    return sorted(os.path.join(dp, f) for dp, _, fs in os.walk(cache) for f in fs)


def writes_in(reqs):
    return [r for r in reqs if r["method"] in ("POST", "PUT", "DELETE")]


def test_kill_9_leaves_nothing_torn_or_duplicated(lone, workdir, tmp_path):
    """kill -9 mid-work (PDF fetches and a POST in flight), then a writer that dies
    mid-write: the mount is cleanable, a restart on the same mount point works, no
    record is doubled, the PDF cache holds only whole files, and the dead writer's
    temporary file is removed by the next mount once it is over a minute old."""
    import resource
    import signal
    from harness import Mount
    cache = str(tmp_path / "cache")
    env = {"XDG_CACHE_HOME": cache}
    m = Mount(lone, workdir, env=env)
    dead = [m]  # killed daemons: their mounts are cleaned up whatever happens
    try:
        invs = sorted(n for n in os.listdir(m.path("invoices")) if n.endswith(".pdf"))
        for name in invs[:5]:
            open(m.path("invoices", name), "rb").read()
        products = len(lone.state("products"))
        assert write_and_close(m.path("products", "k.json"),
                               json.dumps({"code": "K", "name": "Kill", "price": 1}).encode()) == 0
        os.listdir(m.path("products"))
        # every call from now on hangs: PDFs and a POST are in flight when the daemon dies
        lone.inject(hang={"count": 100, "seconds": 30, "path_prefix": "/api/v1/"})
        sent = lone.status()["requests"]
        readers = [subprocess.Popen(["cat", m.path("invoices", n)], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL) for n in invs[5:12]]
        # a second new record, whose close() sends the POST (opened after the forks above:
        # a child's copy of the descriptor would flush it first, at its exec)
        fd = os.open(m.path("products", "k2.json"), os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, json.dumps({"code": "K2", "name": "Kill two", "price": 2}).encode())
        closed = []
        closer = threading.Thread(target=lambda: closed.append(errno_of(lambda: os.close(fd))))
        closer.start()
        wait_for(lambda: lone.status()["requests"] >= sent + 8,
                 "seven PDF requests and a POST in flight")
        m.proc.kill()
        m.proc.wait(30)
        for r in readers:
            r.wait(60)  # they get ENOTCONN/ECONNABORTED, none hangs
        closer.join(60)
        assert closed and closed[0] != 0, "the close() of the POST in flight cannot succeed"
        lone.reset()  # the hung requests are answered now: the POST is carried out
        assert subprocess.run(["fusermount3", "-u", m.mnt]).returncode == 0
        assert not is_mounted(m.mnt)
        m.err.close()
        posts = lambda: [r["path"] for r in lone.since(0) if r["method"] == "POST"]  # noqa: E731
        wait_for(lambda: len(posts()) >= 2, "the POST in flight carried out")
        assert posts() == ["/api/v1/products"] * 2, "one POST per new record"
        # every cached PDF is whole: equal to the service's bytes
        cached = [p for p in cache_files(cache) if p.endswith(".pdf")]
        assert len(cached) == 5
        for path in cached:
            nr = urllib.parse.unquote(os.path.basename(path)[:-4])
            assert open(path, "rb").read() == lone.pdf(nr), path

        # A writer that dies halfway through writing a PDF into the cache: a file size
        # limit of 64 KiB kills the daemon (SIGXFSZ) inside its write of a 1 MB PDF.
        big = invs[12]
        big_nr = urllib.parse.unquote(big[:-4])
        lone.set_pdf_size(big_nr, 1_000_000)

        def limit():
            resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, 64 << 10))
        b = Mount(lone, workdir, env=env, preexec_fn=limit)
        dead.append(b)
        r = subprocess.run(["cat", b.path("invoices", big)], capture_output=True, timeout=60)
        assert r.returncode != 0
        assert b.proc.wait(30) == -signal.SIGXFSZ, b.stderr()
        assert subprocess.run(["fusermount3", "-u", b.mnt]).returncode == 0
        b.err.close()
        # only whole PDFs under a .pdf name: the torn bytes are under the temporary name
        for path in cache_files(cache):
            if path.endswith(".pdf"):
                nr = urllib.parse.unquote(os.path.basename(path)[:-4])
                assert open(path, "rb").read() == lone.pdf(nr), "a torn PDF under its name"
        left = [p for p in cache_files(cache) if ".pdf.tmp" in os.path.basename(p)]
        assert len(left) == 1 and os.path.getsize(left[0]) == 64 << 10, left
        assert os.path.basename(left[0]).startswith(big + ".tmp")
        # A temporary file younger than a minute may be another mount's, writing right
        # now: it stays.  The dead writer's, aged past the minute, goes at the next mount.
        young = os.path.join(os.path.dirname(left[0]), invs[13] + ".tmp999999")
        with open(young, "wb") as f:
            f.write(b"%PDF-1.4 being written")
        old = time.time() - 120
        os.utime(left[0], (old, old))
    finally:
        for d in dead:
            if is_mounted(d.mnt):
                subprocess.run(["fusermount3", "-uz", d.mnt], check=False)
            if not d.err.closed:
                d.err.close()

    # A restart on the same mount point works and shows each record once.
    m2 = Mount(lone, workdir, env=env, mnt=m.mnt)
    try:
        assert not os.path.exists(left[0]), "a dead writer's leftover survived the mount"
        assert os.path.exists(young), "a young temporary file was removed"
        os.listdir(m2.path("invoices"))
        mark = lone.mark()
        for name in invs[:5]:
            assert open(m2.path("invoices", name), "rb").read()[:5] == b"%PDF-"
        assert lone.since(mark) == [], "cached PDFs fetched again"
        assert open(m2.path("invoices", big), "rb").read() == lone.pdf(big_nr)
        assert [r["path"] for r in lone.since(mark)] == ["/api/v1/invoices_pdf/" + big[:-4]]
        # both records made before the kill exist once, and are listed once
        state = lone.state("products")
        assert len(state) == products + 2
        assert sorted(p["code"] for p in state if p["code"] in ("K", "K2")) == ["K", "K2"]
        listed = [n for n in os.listdir(m2.path("products")) if n.endswith(".json")]
        # k2.json, whose POST was out at the kill, is back from the journal
        # (test_journal.py), unanswered: its records and it, each once
        assert "k2.json" in listed
        assert len(listed) == len(set(listed)) == products + 3
        # and the new daemon repeats nothing the old one sent: saving k2.json again
        # finds the record its POST made and adopts it
        assert b"may have made the record" in os.getxattr(m2.path("products", "k2.json"),
                                                          "user.factuurfs.error")
        fd = os.open(m2.path("products", "k2.json"), os.O_WRONLY)
        os.fsync(fd)
        os.close(fd)
        assert writes_in(lone.since(mark)) == []
        assert len(lone.state("products")) == products + 2
        listed = [n for n in os.listdir(m2.path("products")) if n.endswith(".json")]
        assert len(listed) == len(set(listed)) == products + 2
    finally:
        os.unlink(young)
        assert m2.unmount() == 0


def test_an_unmount_ends_a_refresh_behind_its_readers_between_pages(lone, mounts):
    # The invoices' listing in pages of two: a refresh behind the readers that is
    # still reading them when the mount ends asks for no page after the unmount (the
    # daemon waited for every page of it before exiting, each within its own timeout).
    m = mounts(lone, opts=["ttl=1", "timeout=5", "page_size=2"])
    mark = lone.mark()
    assert len(os.listdir(m.path("invoices"))) == 40
    pages = len(listing_calls(lone.since(mark), "invoices"))
    assert pages > 5
    listed = time.monotonic()
    # every page answered slowly, within the timeout
    lone.inject(spike={"count": 1000, "ms": 1500, "path_prefix": "/api/v1/invoices"})
    sent = lone.status()["requests"]
    # past the TTL: the listing held is served at once, its refresh runs behind
    wait_for(lambda: time.monotonic() > listed + 1.2 and
             len(os.listdir(m.path("invoices"))) == 40 and
             lone.status()["requests"] > sent, "a refresh behind the listing")
    assert m.unmount() == 0
    # (the fake counts a request when it arrives: the one the unmount cut off included)
    assert lone.status()["requests"] - sent < pages, "the refresh read every page"
