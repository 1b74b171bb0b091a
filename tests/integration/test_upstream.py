"""A misbehaving upstream: what reaches the service when the answer to a save is not a
clear one (docs/SEMANTICS.md, "Refused writes lose nothing" and "Unsaved text survives").

The bad answers are the fake's faults (tests/fakeapi/fakeapi.py, the top of the file),
each either before the service acts ("after": false: the request is not carried out) or
after it ("after": true: a POST has made its record, then the bad answer comes): 5xx,
maintenance pages and garbage with a 2xx, redirects elsewhere, dropped and cut
connections, hangs, bodies that trickle or stop after the headers, a Content-Length
bigger than the body or absurdly big.  A client cannot tell from such an answer whether
the service acted, so factuurfs never takes it for success and never posts again
without looking for the record first: only a 4xx is a refusal.

test_posts_per_record is the matrix: for every answer x timing x collection one new file
is saved under the fault, saved again as the user retrying would (`cp` again), the
daemon is killed and mounted again on the same cache, and the file is saved once more.
Every cell must end with exactly one record made from the file.  The matrix is printed
(`pytest -s`, or read it in the test's captured output).
"""
import errno
import json
import os
import socket
import subprocess
import threading
import time

import pytest

from harness import FACTUURFS, Mount, is_mounted, save, wait_for

PAGE = ("<!DOCTYPE html>\n<html><head><title>Onderhoud</title></head>"
        "<body>We zijn zo terug.</body></html>\n")

# The answers: name -> (fault kind, spec, whether it may come before acting).  A spec's
# "status"/"body" is the answer the fault gives (before acting, also of the shaping kinds:
# trickle, stall_body, length, cut); after acting those shape the real answer.
ANSWERS = {
    "500": ("fail", {"status": 500, "body": "Internal Server Error"}),
    "502": ("fail", {"status": 502, "body": "Bad Gateway"}),
    "503": ("fail", {"status": 503, "body": "Service Unavailable"}),
    "html 200": ("fail", {"status": 200, "ctype": "text/html", "body": PAGE}),
    "garbage 201": ("fail", {"status": 201, "ctype": "application/json", "body": "}{ ok"}),
    "empty 200": ("fail", {"status": 200, "body": ""}),
    "redirect 302": ("redirect", {"status": 302}),
    "redirect 303": ("redirect", {"status": 303}),
    "reset": ("drop", {}),
    "cut": ("cut", {"status": 201, "body": "4242"}),
    "hang": ("hang", {"seconds": 60}),
    "stall after headers": ("stall_body", {"seconds": 60, "status": 201, "body": "4242"}),
    "trickle": ("trickle", {"bytes": 1, "ms": 1200, "status": 201, "body": "4242"}),
    "short body": ("length", {"status": 201, "body": "4242"}),
    "absurd length": ("length", {"announce": 1 << 40, "status": 201, "body": "4242"}),
}
# Clear refusals: only before acting, and the user saves again once it is fixed.
REFUSALS = {
    "400": ("fail", {"status": 400, "body": "Field 'name' is invalid"}),
    "429": ("ratelimit", {"status": 429, "retry_after": 1}),
}
TIMEOUT = 2  # -o timeout: the longest one call takes (hangs, stalls, trickles)


def marker_text(coll, marker):
    if coll == "products":
        rec = {"code": marker, "name": "Matrix " + marker, "price": 1}
    elif coll == "clients":
        rec = {"company": "Matrix " + marker}
    else:
        rec = {"clientnr": 1, "action": "send", "sendmethod": "email",
               "lines": [{"amount": 1, "description": "Matrix " + marker, "tax_rate": 21,
                          "price": 10}]}
    return json.dumps(rec, indent=2) + "\n"


def made(fake, coll, marker):
    """Records of @coll made from the file of @marker."""
    return sum(1 for r in fake.state(coll) if ("Matrix " + marker) in json.dumps(r))


def posts(fake, coll, marker, mark=0):
    """POSTs of the file of @marker the service received (acted on or not)."""
    return [r for r in fake.since(mark) if r["method"] == "POST"
            and r["path"].split("?")[0] == "/api/v1/" + coll
            and ("Matrix " + marker) in r.get("body", "")]


def errno_of(fn):
    try:
        fn()
    except OSError as e:
        return e.errno
    return 0


class Elsewhere:
    """A listener where redirects point: it must never be asked anything."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.url = "http://127.0.0.1:%d/elsewhere" % self.sock.getsockname()[1]
        self.hits = 0
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.hits += 1
            c.close()

    def close(self):
        self.stop = True
        self.t.join(5)
        self.sock.close()


@pytest.fixture
def elsewhere():
    e = Elsewhere()
    yield e
    e.close()


def inject(fake, coll, kind, spec, after, elsewhere):
    spec = dict(spec, count=1, method="POST", path_prefix="/api/v1/" + coll, after=after)
    if kind == "redirect":
        spec["location"] = elsewhere.url
    fake.inject(**{kind: spec})


def settle(fake, m, coll, marker, path):
    """After the fault: released, and the service done with what it got (a request is
    logged once the fake has acted on it)."""
    fake.reset()
    wait_for(lambda: len(posts(fake, coll, marker)) >= 1, "the POST logged")
    os.listdir(m.path(coll))  # the listing held again (a refusal's wait may need a try)


def save_again(m, coll, path, body, within=10):
    """The user saving again until the mount sends (a fast failure of a service that
    seemed down or out of budget sends nothing): the errno of the last try, 0 or
    (an invoice, which cannot be edited) EPERM when it was sent."""
    ok = (0, errno.EPERM) if coll == "invoices" else (0,)
    end = time.monotonic() + within
    while True:
        rc = save(path, body)
        if rc in ok or time.monotonic() > end:
            return rc
        time.sleep(0.1)


def end_by_kill(m):
    m.proc.kill()
    m.proc.wait(30)
    assert subprocess.run(["fusermount3", "-u", m.mnt]).returncode == 0
    assert not is_mounted(m.mnt)
    m.err.close()
    return m.mnt


MATRIX = {}


def print_matrix(capsys):
    colls = [c for c in ("products", "clients", "invoices") if any(k[1] == c for k in MATRIX)]
    names = list(ANSWERS) + list(REFUSALS) + ["201 (no fault)"]
    head = "%-22s" % "answer" + "".join("%-22s" % ("%s %s" % (c, t)) for c in colls
                                         for t in ("before", "after"))
    lines = ["records made per file (POSTs the service received): save under the fault,",
             "save again, kill -9, mount again, save again", head]
    for n in names:
        row = "%-22s" % n
        for c in colls:
            for t in ("before", "after"):
                v = MATRIX.get((n, c, t))
                row += "%-22s" % ("-" if v is None else "%d (%d)" % v)
        lines.append(row)
    with capsys.disabled():
        print("\n" + "\n".join(lines))


@pytest.mark.parametrize("coll", ["products", "clients", "invoices"])
def test_posts_per_record(acct, workdir, tmp_path, elsewhere, capsys, coll):
    cache = str(tmp_path / "cache")
    env = {"XDG_CACHE_HOME": cache}
    opts = [f"timeout={TIMEOUT}", "ttl=3600"]
    m = Mount(acct, workdir, opts=opts, env=env)
    cells = []  # (name, timing, marker, path, body)
    bad = []    # what went wrong, per cell: collected, so that the whole matrix shows
    try:
        os.listdir(m.path(coll))
        plan = [(n, k, s, t) for n, (k, s) in ANSWERS.items() for t in ("before", "after")]
        plan += [(n, k, s, "before") for n, (k, s) in REFUSALS.items()]
        plan += [("201 (no fault)", None, None, "after")]
        for i, (name, kind, spec, timing) in enumerate(plan):
            marker = "%s-%02d" % (coll[:3].upper(), i)  # (no marker holds another)
            path = m.path(coll, "m%d.json" % i)
            body = marker_text(coll, marker)
            os.listdir(m.path(coll))  # (a lookup's listing call must not take the fault)
            if kind:
                inject(acct, coll, kind, spec, timing == "after", elsewhere)
            first = save(path, body)
            # Only a clear answer is a success; a refusal and an unclear one both fail.
            # (After acting, a 2xx that names no record is looked for in the listing at
            # once, and found; a slow trickle of a short answer may still be whole.)
            maybe = timing == "after" and (kind == "trickle" or
                                           kind == "fail" and spec["status"] < 300)
            if kind and not maybe and first == 0:
                bad.append((name, timing, "taken for a success"))
            if first != 0 and not (os.path.exists(path) and open(path).read() == body):
                bad.append((name, timing, "the text was not kept"))
            settle(acct, m, coll, marker, path)
            rc = save_again(m, coll, path, body)
            if rc not in (0, errno.EPERM):
                bad.append((name, timing, "saved again: %s" % errno.errorcode.get(rc, rc)))
            cells.append((name, timing, marker, path, body))
        assert m.proc.poll() is None, m.stderr()
        mnt = end_by_kill(m)
        m = Mount(acct, workdir, opts=opts, env=env, mnt=mnt)
        os.listdir(m.path(coll))
        for name, timing, marker, path, body in cells:
            rc = save_again(m, coll, m.path(coll, os.path.basename(path)), body)
            if rc not in (0, errno.EPERM):
                bad.append((name, timing, "saved after the remount: %s"
                            % errno.errorcode.get(rc, rc)))
        for name, timing, marker, path, body in cells:
            cell = (made(acct, coll, marker), len(posts(acct, coll, marker)))
            MATRIX[(name, coll, timing)] = cell
            if cell[0] != 1:
                bad.append((name, timing, cell))
        print_matrix(capsys)
        assert not bad, bad
        assert elsewhere.hits == 0, "a redirect was followed"
    finally:
        if m.proc.poll() is None:
            assert m.unmount() == 0, m.stderr()


# -- single faults, each through the mount -------------------------------------------------

@pytest.fixture
def up(acct, mounts):
    return mounts(acct, opts=[f"timeout={TIMEOUT}"])


@pytest.mark.parametrize("after", [False, True], ids=["before-acting", "after-acting"])
def test_a_maintenance_page_answering_a_post_is_no_success(acct, up, after):
    """A 200 text/html page (maintenance, captive portal, a proxy's error page): close()
    fails with EIO, the file and its text stay, unanswered, with the page's words in its
    error; nothing is created under the page's first line.  Saved again: one record."""
    m = up
    os.listdir(m.path("products"))
    path = m.path("products", "page.json")
    body = marker_text("products", "PAGE")
    acct.inject(fail={"status": 200, "ctype": "text/html", "body": PAGE, "method": "POST",
                      "path_prefix": "/api/v1/products", "after": after})
    st = m.status()
    if after:
        # the page names no record; the fresh listing shows the one the POST made
        assert save(path, body) == 0
        [rec] = [r for r in acct.state("products") if r["code"] == "PAGE"]
        assert json.loads(open(m.path("products", rec["id"] + ".json")).read())["code"] == "PAGE"
    else:
        assert save(path, body) == errno.EIO
        assert open(path).read() == body
        err = os.getxattr(path, "user.factuurfs.error").decode()
        assert "not the API's answer: HTTP 200, text/html: \"<!DOCTYPE html>\"" in err, err
        assert "may have made the record" in err
        st = m.status()
        assert any("not the API's answer" in e["message"] for e in st["last_errors"])
        assert made(acct, "products", "PAGE") == 0
    assert not any("DOCTYPE" in c.get("change", "") for c in st.get("last_changes", []))
    mark = acct.mark()
    assert save(path, body) == 0  # saved again (`cp` again): one record, one POST in all
    assert made(acct, "products", "PAGE") == 1
    assert len(posts(acct, "products", "PAGE", mark)) == (0 if after else 1)


@pytest.mark.parametrize("status", [500, 502])
def test_a_post_answered_with_a_5xx_after_acting_is_not_sent_twice(acct, up, status):
    m = up
    os.listdir(m.path("clients"))
    path = m.path("clients", "vijf.json")
    body = marker_text("clients", "5XX")
    acct.inject(fail={"status": status, "body": "oops", "method": "POST",
                      "path_prefix": "/api/v1/clients", "after": True})
    assert save(path, body) == errno.EIO
    assert b"may have made the record" in os.getxattr(path, "user.factuurfs.error")
    assert made(acct, "clients", "5XX") == 1
    mark = acct.mark()
    assert save(path, body) == 0  # `cp` again: looked for, adopted
    assert posts(acct, "clients", "5XX", mark) == []
    assert made(acct, "clients", "5XX") == 1


def test_a_redirect_is_not_followed_and_a_post_is_not_resent(acct, up, elsewhere):
    """A 3xx elsewhere (a login page, a moved service): never followed, for a GET nor a
    POST (the credentials would go along); EIO with the Location in the message; a POST
    so answered may have been acted on (303 See Other is how a service says it was)."""
    m = up
    os.listdir(m.path("products"))
    acct.inject(redirect={"status": 303, "location": elsewhere.url, "method": "POST",
                          "path_prefix": "/api/v1/products", "after": True})
    path = m.path("products", "weg.json")
    body = marker_text("products", "303")
    assert save(path, body) == errno.EIO
    err = os.getxattr(path, "user.factuurfs.error").decode()
    assert "HTTP 303: redirect to " + elsewhere.url + " not followed" in err, err
    mark = acct.mark()
    assert save(path, body) == 0
    assert posts(acct, "products", "303", mark) == [] and made(acct, "products", "303") == 1
    acct.inject(redirect={"status": 302, "location": elsewhere.url, "count": 5,
                          "path_prefix": "/api/v1/invoices"})
    assert errno_of(lambda: os.listdir(m.path("invoices"))) == errno.EIO
    assert elsewhere.hits == 0


def test_a_maintenance_page_answering_a_listing_serves_the_stale_one(acct, mounts):
    """A 200 HTML page (or any 2xx that is not a listing) where a listing should be: an
    error in the status file, and the listing held is served, never an empty one."""
    m = mounts(acct, opts=[f"timeout={TIMEOUT}"])
    want = sorted(os.listdir(m.path("clients")))
    assert want
    for body in (PAGE, "", "[]x", "null", '"x"'):
        # `factuurfs refresh`: the next ls lists again
        subprocess.run([FACTUURFS, "refresh", m.mnt, "clients"], check=True, timeout=60,
                       capture_output=True)
        acct.inject(fail={"status": 200, "ctype": "text/html", "body": body, "count": 1,
                          "path_prefix": "/api/v1/clients"})
        mark = acct.mark()
        assert sorted(os.listdir(m.path("clients"))) == want, repr(body)
        assert [r["status"] for r in acct.since(mark)] == [200]  # the page was asked for
        assert not acct.status()["faults"]
        assert open(m.path("clients", want[0])).read()
        errs = m.status()["last_errors"]
        assert errs and errs[-1]["operation"] == "list clients", errs


def test_a_huge_or_lying_content_length_is_no_answer(acct, up):
    m = up
    os.listdir(m.path("products"))
    for i, spec in enumerate([{"announce": 1 << 40}, {}]):
        path = m.path("products", "lang%d.json" % i)
        marker = "LEN%d" % i
        acct.inject(length=dict(spec, method="POST", path_prefix="/api/v1/products"))
        rc = save(path, marker_text("products", marker))
        assert rc in (errno.EIO, errno.EFBIG, errno.ECONNRESET), rc
        assert b"may have made the record" in os.getxattr(path, "user.factuurfs.error")
        mark = acct.mark()
        assert save(path, marker_text("products", marker)) == 0
        assert posts(acct, "products", marker, mark) == [] and made(acct, "products", marker) == 1
    # a listing that announces a terabyte: an error, and the mount goes on
    acct.inject(length={"announce": 1 << 40, "count": 4, "path_prefix": "/api/v1/taxes"})
    assert errno_of(lambda: os.listdir(m.path("taxes"))) != 0
    assert os.listdir(m.path("products"))


@pytest.mark.parametrize("kind", ["trickle", "stall_body"])
def test_a_body_that_trickles_or_stalls_ends_at_the_timeout(acct, up, kind):
    """Never silent for long (trickle) or silent after the headers: the save ends within
    the timeout, unanswered, and saving again looks for the record first."""
    m = up
    os.listdir(m.path("products"))
    spec = {"bytes": 1, "ms": 1500} if kind == "trickle" else {"seconds": 60}
    acct.inject(**{kind: dict(spec, method="POST", path_prefix="/api/v1/products")})
    path = m.path("products", kind + ".json")
    body = marker_text("products", kind.upper())
    rc = save(path, body)
    acct.reset()
    assert rc == errno.ETIMEDOUT or (kind == "trickle" and rc == 0), rc
    wait_for(lambda: made(acct, "products", kind.upper()) == 1, "the POST carried out")
    mark = acct.mark()
    assert save(path, body) == 0
    assert posts(acct, "products", kind.upper(), mark) == []


NOT_RECORDS = ["{}", "[1,2]", '["a"]', "[null]", '[{"clientnr": "1"}, 2]', "[[]]",
               '{"clients": [1]}', '{"0": 1}', "true", "0"]


@pytest.mark.parametrize("body", NOT_RECORDS)
def test_a_listing_that_is_not_a_list_of_records_is_an_error_not_an_empty_directory(
        acct, mounts, body):
    """A 2xx application/json whose body is not a list of records ({} or [1,2]: the
    service sends an empty listing as []): ls fails with EIO and the status file says
    why; never an empty (or shorter) directory taken as the truth.  With a listing held,
    that one is served, stale."""
    m = mounts(acct, opts=[f"timeout={TIMEOUT}"])
    acct.inject(fail={"status": 200, "ctype": "application/json", "body": body,
                      "count": 1, "path_prefix": "/api/v1/clients"})
    mark = acct.mark()
    assert errno_of(lambda: os.listdir(m.path("clients"))) == errno.EIO
    assert [r["status"] for r in acct.since(mark)] == [200]
    errs = m.status()["last_errors"]
    assert errs and errs[-1]["operation"] == "list clients", errs
    assert "not a list of records" in errs[-1]["message"], errs
    # the next ls asks again (after the failure's hold) and lists the real ones
    want = sorted(r["clientnr"] + ".json" for r in acct.state("clients"))
    wait_for(lambda: errno_of(lambda: os.listdir(m.path("clients"))) == 0, "the listing")
    assert sorted(n for n in os.listdir(m.path("clients")) if n.endswith(".json")) == want
    # held: served stale, not replaced by nothing
    subprocess.run([FACTUURFS, "refresh", m.mnt, "clients"], check=True, timeout=60,
                   capture_output=True)
    acct.inject(fail={"status": 200, "ctype": "application/json", "body": body,
                      "count": 1, "path_prefix": "/api/v1/clients"})
    mark = acct.mark()
    assert sorted(n for n in os.listdir(m.path("clients")) if n.endswith(".json")) == want
    assert [r["status"] for r in acct.since(mark)] == [200]
    assert "not a list of records" in m.status()["last_errors"][-1]["message"]


# -- actions: once only ----------------------------------------------------------------------
# A payment, a reminder, a draft sent: write-only, not idempotent (a second payment is a
# second payment; a second reminder a second e-mail), and nothing lists them, so a lost
# answer cannot be looked for as a new record's can.  Sent once: never repeated by the
# HTTP layer once it left, and after an answer that is not a clear one the same text is
# never sent again by itself (EALREADY, no call), not by a second save, an fsync or the
# next mount; the user is told to check the service.

ACTIONS = {
    # name: (fake options, directory, the request's method and path prefix)
    "payment": ((), "invoices_payment", "POST", "/api/v1/invoices_payment"),
    "payment as PUT": (("--payment-method", "put"), "invoices_payment", "PUT",
                       "/api/v1/invoices_payment"),
    "reminder": ((), "invoices_reminder", "PUT", "/api/v1/invoices_reminder"),
    "draft sent": ((), "invoices_saved_send", "POST", "/api/v1/invoices_saved"),
}
UNCLEAR = {
    "500 after acting": ("fail", {"status": 500, "body": "Internal Server Error", "after": True}),
    "502 after acting": ("fail", {"status": 502, "body": "Bad Gateway", "after": True}),
    # (a cut halves the body, and an action's answer may have none: the Content-Length
    # announcing more than comes is the cut connection for every answer)
    "cut after acting": ("length", {}),
    "503 before acting": ("fail", {"status": 503, "body": "Service Unavailable"}),
}


def action_file(fake, action):
    """(file name, text) of a new file of @action about a record of @fake."""
    if action == "draft sent":
        did = fake.state("invoices_saved")[0]["id"]
        return did + ".json", json.dumps({"id": did, "sendmethod": "email"}) + "\n"
    nr = next(i["invoicenr"] for i in fake.state("invoices")
              if float(i["open"]) > 2 and not i["uncollectible"]
              and all(ch.isalnum() or ch == "-" for ch in i["invoicenr"]))
    if action == "reminder":
        return nr + ".json", json.dumps({"invoicenr": nr, "attach_invoice": True}) + "\n"
    return nr + ".json", json.dumps({"amount": 1, "date": "2025-06-01"}) + "\n"


def action_calls(fake, method, prefix, mark):
    return [r for r in fake.since(mark) if r["method"] == method
            and r["path"].split("?")[0].startswith(prefix)]


def fsync_of(path):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.fsync(fd)
    except OSError as e:
        return e.errno
    finally:
        os.close(fd)
    return 0


@pytest.mark.parametrize("answer", UNCLEAR, ids=list(UNCLEAR))
@pytest.mark.parametrize("action", ACTIONS, ids=list(ACTIONS))
def test_an_action_is_sent_once_whatever_the_answer(fakes, mounts, tmp_path, action, answer):
    opts, coll, method, prefix = ACTIONS[action]
    fake = fakes("--generate", "clients=4,invoices=8,products=2", "--rate-limit", "100000",
                 *opts)
    cache = str(tmp_path / "cache")
    m = mounts(fake, opts=[f"timeout={TIMEOUT}"], env={"XDG_CACHE_HOME": cache})
    os.listdir(m.path("invoices"))
    os.listdir(m.path("invoices_saved"))
    name, text = action_file(fake, action)
    path = m.path(coll, name)
    kind, spec = UNCLEAR[answer]
    # count 1: a retry by the HTTP layer would be answered, and close() would succeed
    fake.inject(**{kind: dict(spec, count=1, method=method, path_prefix=prefix)})
    mark = fake.mark()
    rc = save(path, text)
    assert rc in (errno.EIO, errno.ECONNRESET), (rc, m.stderr()[-2000:])
    assert len(action_calls(fake, method, prefix, mark)) == 1, "sent once, not retried"
    err = os.getxattr(path, "user.factuurfs.error").decode()
    assert "the service may have carried it out" in err, err
    assert any("may have carried it out" in e["message"] for e in m.status()["last_errors"])
    assert open(path).read() == text  # the user's text stays
    # the same text again, as a second `cp`, an editor's fsync: refused without a call
    mark = fake.mark()
    again = save(path, text)
    assert again == errno.EALREADY or (action == "draft sent" and again == errno.ENOENT), again
    assert fsync_of(path) in (errno.EALREADY, errno.ENOENT)
    assert action_calls(fake, method, prefix, mark) == []
    if again == errno.EALREADY:
        err = os.getxattr(path, "user.factuurfs.error").decode()
        assert "not sent again" in err and "check " in err, err
        assert "not sent again" in m.status()["last_errors"][0]["message"]
    # nor by the next mount: the file comes back with the same text, and stays unsent
    assert m.unmount() == 0, m.stderr()
    m = mounts(fake, opts=[f"timeout={TIMEOUT}"], env={"XDG_CACHE_HOME": cache})
    path = m.path(coll, name)
    assert open(path).read() == text
    mark = fake.mark()
    assert save(path, text) != 0
    assert action_calls(fake, method, prefix, mark) == []
    # the user's own decision: the file removed and written again is a new request
    if action != "draft sent" or answer == "503 before acting":
        os.unlink(path)
        mark = fake.mark()
        assert save(path, text) == 0, m.stderr()[-2000:]
        assert len(action_calls(fake, method, prefix, mark)) == 1


@pytest.mark.parametrize("action", ["payment", "reminder"])
def test_an_action_out_when_the_daemon_is_killed_is_not_sent_again(fakes, mounts, workdir,
                                                                  tmp_path, action):
    """kill -9 while the answer is held after the service acted: the next mount brings
    the file back with its text (journaled before the request left), and saving the
    same text again sends nothing (EALREADY) and says to check the service."""
    opts, coll, method, prefix = ACTIONS[action]
    fake = fakes("--generate", "clients=4,invoices=8,products=2", "--rate-limit", "100000",
                 *opts)
    cache = str(tmp_path / "cache")
    m = Mount(fake, workdir, env={"XDG_CACHE_HOME": cache})  # killed: not the fixture's
    try:
        os.listdir(m.path("invoices"))
        name, text = action_file(fake, action)
        path = m.path(coll, name)
        fake.inject(hang={"seconds": 3600, "after": True, "method": method,
                          "path_prefix": prefix})
        sent = fake.status()["requests"]
        closed = []
        saver = threading.Thread(target=lambda: closed.append(save(path, text)))
        saver.start()
        wait_for(lambda: fake.status()["requests"] > sent, "the request carried out and held")
        m.proc.kill()
        m.proc.wait(30)
        # its close() fails once the daemon is gone; until it returns it holds the mount
        saver.join(60)
        assert not saver.is_alive() and closed and closed[0] != 0
    finally:
        if m.proc.poll() is None:
            m.proc.kill()
            m.proc.wait(30)
        subprocess.run(["fusermount3", "-u", m.mnt], check=False)
        m.err.close()
    assert not is_mounted(m.mnt)
    mark = fake.mark()
    fake.reset()
    wait_for(lambda: action_calls(fake, method, prefix, mark), "the held request logged")
    m = mounts(fake, mnt=m.mnt, env={"XDG_CACHE_HOME": cache})
    path = m.path(coll, name)
    assert open(path).read() == text
    err = os.getxattr(path, "user.factuurfs.error").decode()
    assert "may have carried it out" in err, err
    mark = fake.mark()
    assert save(path, text) == errno.EALREADY
    assert fsync_of(path) == errno.EALREADY
    assert action_calls(fake, method, prefix, mark) == []
    assert "not sent again" in m.status()["last_errors"][0]["message"]
