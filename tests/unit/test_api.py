"""src/net/api.c and src/net/http.c against a throwaway HTTP server.

Runs the already-built test_api binary named by FACTUURFS_TEST_API_BIN (see
tests/unit/test_api.c for its arguments and output); builds nothing.
"""
import base64
import email.utils
import gzip
import json
import os
import re
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

BIN = os.environ.get("FACTUURFS_TEST_API_BIN")
pytestmark = pytest.mark.skipif(not BIN, reason="FACTUURFS_TEST_API_BIN is not set")

USER = "me@example.com"
KEY = "s3cr3t:K3y/+=xyz"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse shows

    def setup(self):
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def log_message(self, *args):
        pass

    def _reply(self, status, body=b"", headers=None, ctype="application/json"):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _dispatch(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        seen = {
            "method": self.command,
            "path": self.path,
            "auth": self.headers.get("Authorization"),
            "accept": self.headers.get("Accept"),
            "content_type": self.headers.get("Content-Type"),
            "user_agent": self.headers.get("User-Agent"),
            "accept_encoding": self.headers.get("Accept-Encoding"),
            "body": body.decode(errors="replace"),
        }
        with self.server.lock:
            self.server.requests.append(seen)
        name = self.path.rsplit("/", 1)[-1]
        limit = {"X-RateLimit-Remaining": "42"}
        if name == "echo":
            self._reply(200, json.dumps(seen), limit)
        elif name == "spaced":
            self._reply(200, "{}", {"x-ratelimit-REMAINING": "  7  "})
        elif name == "nolimit":
            self._reply(200, "[]")
        elif name == "bad":
            self._reply(400, "  Invalid field:\tnaam\x01 \nsecond line\n", limit, "text/plain")
        elif name == "jsonerr":
            self._reply(422, '{"code": 5, "error": "ignored", "message": "Klant niet gevonden \\u00e9"}', limit)
        elif name == "longerr":
            self._reply(500, "x" * 1000, limit, "text/plain")
        elif name == "empty404":
            self._reply(404, "", limit, None)
        elif name == "limited":
            self._reply(403, "Rate limit exceeded", {"X-RateLimit-Remaining": "0"}, "text/plain")
        elif name == "forbidden":
            self._reply(403, "Forbidden", {"X-RateLimit-Remaining": "10"}, "text/plain")
        elif name == "leaky":
            self._reply(401, "wrong key " + KEY + " for " + USER, limit, "text/plain")
        elif name == "redirect":
            self._reply(302, "", {"Location": "http://elsewhere.invalid/x"}, None)
        elif name == "gzip":
            data = json.dumps({"zipped": True, "pad": "a" * 2000}).encode()
            if "gzip" in (self.headers.get("Accept-Encoding") or ""):
                self._reply(200, gzip.compress(data), {"Content-Encoding": "gzip"})
            else:
                self._reply(200, data)
        elif name in ("flaky", "retryafter"):
            # 503 for the first two requests (one for retryafter), then 200.
            with self.server.lock:
                self.server.hits[name] = self.server.hits.get(name, 0) + 1
                n = self.server.hits[name]
            if n <= (2 if name == "flaky" else 1):
                self._reply(503, "busy, try again", {"Retry-After": "1"} if name == "retryafter" else {},
                            "text/plain")
            else:
                self._reply(200, '{"ok": %d}' % n, limit)
        elif name == "always503":
            self._reply(503, "down for maintenance", limit, "text/plain")
        elif name == "busy5":
            self._reply(503, "down for maintenance", dict(limit, **{"Retry-After": "5"}), "text/plain")
        elif name == "oops500":
            self._reply(500, "one bad record", limit, "text/plain")
        elif name == "dropper":
            # Read the request, answer nothing, hang up: it may have been acted on.
            self.close_connection = True
        elif name.startswith("rate-"):
            # A spent budget, with a Retry-After of each form (or garbage).
            when = {"rate-date": email.utils.formatdate(time.time() + 120, usegmt=True),
                    "rate-past": email.utils.formatdate(time.time() - 3600, usegmt=True),
                    "rate-year": "31536000", "rate-garbage": "soon, really",
                    "rate-huge": "99999999999999999999999"}[name]
            self._reply(429, "Too Many Requests", {"Retry-After": when}, "text/plain")
        elif name == "liar":
            # Announce 60 MiB (under the 64 MiB cap), send ten bytes, hang up.
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(60 << 20))
            self.end_headers()
            self.wfile.write(b'[{"id": 1}')
            self.wfile.flush()
            self.close_connection = True
        elif name == "trickle":
            # A byte every 0.2 s of a 200-byte body: never silent for long, slower
            # than any timeout in total.
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "200")
            self.end_headers()
            try:
                for _ in range(200):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
            self.close_connection = True
        elif name == "headers-then-nothing":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.flush()
            time.sleep(8)
            self.close_connection = True
        elif name == "huge":
            # Announce more than the 64 MiB cap, send nothing, hang up.
            self.send_response(200)
            self.send_header("Content-Length", str(100 << 20))
            self.end_headers()
            self.close_connection = True
        else:
            self._reply(404, "no such thing", limit, "text/plain")

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.lock = threading.Lock()
    srv.requests = []
    srv.connections = 0
    srv.hits = {}
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    srv.url = "http://127.0.0.1:%d/api/v1" % srv.server_address[1]  # no trailing '/': api adds it
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


PEAK_KIB = [0]  # the last run's peak resident memory (VmHWM, KiB)


def run(url, method, path, body=None, user=USER, key=KEY, timeout_ms=None, repeat=None, debug=False,
        call=False):
    """One run of the test binary: its results, its stats line and its stderr."""
    env = dict(os.environ)
    if call:
        env["FACTUURFS_TEST_CALL"] = "1"
    env["FACTUURFS_TEST_TIMEOUT_MS"] = str(timeout_ms or 5000)
    if repeat:
        env["FACTUURFS_TEST_REPEAT"] = str(repeat)
    if debug:
        env["FACTUURFS_TEST_DEBUG"] = "1"
    args = [BIN, url, user, key, method, path] + ([body] if body is not None else [])
    p = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.split("\n")
    results, i = [], 0
    while i < len(lines) and lines[i].startswith("status="):
        r = dict(kv.split("=", 1) for kv in lines[i].split())
        r = {k: int(v) for k, v in r.items()}
        # The body may span lines: it ends where the error= line starts.
        j = i + 1
        while not lines[j].startswith("error="):
            j += 1
        r["body"] = "\n".join(lines[i + 1:j])
        r["error"] = lines[j][len("error="):]
        r["content_type"] = lines[j + 1][len("content_type="):]
        results.append(r)
        i = j + 2
    stats = dict(kv.split("=", 1) for kv in lines[i].split()[1:])
    stats = {k: int(v) for k, v in stats.items()}
    # Its own peak memory, kept apart so that tests may compare the call figures whole.
    PEAK_KIB[0] = stats.pop("hwm_kib")
    return results, stats, p.stderr


def basic(user, key):
    return "Basic " + base64.b64encode(("%s:%s" % (user, key)).encode()).decode()


def test_self_test():
    p = subprocess.run([BIN, "--self-test"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr


def test_get_sends_basic_auth_and_accept(server):
    (r,), stats, _ = run(server.url, "GET", "echo")
    assert (r["status"], r["rc"], r["remaining"]) == (200, 0, 42)
    assert r["content_type"] == "application/json"
    seen = json.loads(r["body"])
    assert r["len"] == len(r["body"])
    assert seen["method"] == "GET"
    assert seen["path"] == "/api/v1/echo"
    assert seen["auth"] == basic(USER, KEY)
    assert seen["accept"] == "application/json"
    assert seen["content_type"] is None
    assert seen["body"] == ""
    assert seen["user_agent"].startswith("factuurfs/")
    assert KEY not in seen["path"]
    assert stats == {"requests": 1, "failures": 0, "bytes_in": r["len"], "remaining": 42,
                     "retries": 0, "failed_fast": 0, "health": 0}


def test_leading_slash_in_path_is_not_doubled(server):
    (r,), _, _ = run(server.url + "/", "GET", "/echo")
    assert json.loads(r["body"])["path"] == "/api/v1/echo"


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_body_methods_send_json(server, method):
    body = '{"clientnr": 7, "naam": "Ösl\\u00f6"}'
    (r,), _, _ = run(server.url, method, "echo", body)
    seen = json.loads(r["body"])
    assert seen["method"] == method
    assert seen["content_type"] == "application/json"
    assert seen["body"] == body
    assert seen["auth"] == basic(USER, KEY)


def test_delete(server):
    (r,), _, _ = run(server.url, "DELETE", "echo")
    seen = json.loads(r["body"])
    assert (r["status"], seen["method"], seen["body"]) == (200, "DELETE", "")


def test_handle_reused_after_put_is_a_plain_get(server):
    (put, get), _, _ = run(server.url, "PUT,GET", "echo", '{"a": 1}')
    assert json.loads(put["body"])["method"] == "PUT"
    seen = json.loads(get["body"])
    assert (seen["method"], seen["body"], seen["content_type"]) == ("GET", "", None)
    assert server.connections == 1


def test_keep_alive_reuses_one_connection(server):
    res, stats, _ = run(server.url, "GET", "echo", repeat=3)
    assert [r["status"] for r in res] == [200, 200, 200]
    assert len(server.requests) == 3
    assert server.connections == 1
    assert stats["requests"] == 3


def test_ratelimit_absent_is_minus_one(server):
    (r,), stats, _ = run(server.url, "GET", "nolimit")
    assert (r["status"], r["remaining"], r["body"]) == (200, -1, "[]")
    assert stats["remaining"] == -1


def test_ratelimit_header_case_and_spaces(server):
    (r,), _, _ = run(server.url, "GET", "spaced")
    assert r["remaining"] == 7


def test_plain_text_error_first_line(server):
    (r,), stats, _ = run(server.url, "POST", "bad", "{}")
    assert (r["status"], r["rc"], r["remaining"]) == (400, 0, 42)
    assert r["error"] == "Invalid field: naam?"
    assert stats["failures"] == 1


def test_json_error_message(server):
    (r,), _, _ = run(server.url, "GET", "jsonerr")
    assert r["status"] == 422
    assert r["error"] == "Klant niet gevonden \u00e9"


def test_long_error_is_capped(server):
    (r,), _, _ = run(server.url, "GET", "longerr")
    assert r["status"] == 500
    assert r["error"] == "x" * 200


def test_empty_error_body(server):
    (r,), _, _ = run(server.url, "GET", "empty404")
    assert (r["status"], r["error"], r["body"], r["len"]) == (404, "HTTP 404", "", 0)


def test_rate_limited_and_forbidden_403(server):
    (r,), _, _ = run(server.url, "GET", "limited")
    assert (r["status"], r["remaining"], r["error"]) == (403, 0, "Rate limit exceeded")
    (r,), _, _ = run(server.url, "GET", "forbidden")
    assert (r["status"], r["remaining"]) == (403, 10)


def test_key_never_in_error_or_log(server):
    (r,), _, err = run(server.url, "GET", "leaky", debug=True)
    assert r["status"] == 401
    assert KEY not in r["error"] and "***" in r["error"]
    assert "debug: GET leaky -> 401" in err
    for text in (err, r["error"]):
        assert KEY not in text
        assert basic(USER, KEY).split()[1] not in text


def test_redirect_not_followed(server):
    (r,), stats, _ = run(server.url, "GET", "redirect")
    assert (r["status"], r["rc"]) == (302, 0)
    assert "not followed" in r["error"] and "elsewhere.invalid" in r["error"]
    assert len(server.requests) == 1
    assert stats["failures"] == 1


def test_gzip_is_decoded(server):
    (r,), _, _ = run(server.url, "GET", "gzip")
    assert "gzip" in server.requests[0]["accept_encoding"]
    assert json.loads(r["body"])["zipped"] is True


def test_oversized_response_is_refused(server):
    (r,), _, _ = run(server.url, "GET", "huge")
    assert (r["rc"], r["status"], r["len"]) == (-27, 0, 0)  # -EFBIG
    assert r["error"]


def test_a_lying_content_length_reserves_no_giant_buffer(server):
    """60 MiB announced, ten bytes sent: no answer, and no 60 MiB taken for it (on
    each of the GET's four tries)."""
    (r,), stats, _ = run(server.url, "GET", "liar")
    assert r["rc"] < 0 and r["status"] == 0 and r["error"]
    assert stats["requests"] == 4
    assert 0 < PEAK_KIB[0] < 40 << 10, PEAK_KIB  # well under the 60 MiB announced


@pytest.mark.parametrize("path", ["trickle", "headers-then-nothing"])
def test_a_slow_or_stalled_body_ends_at_the_deadline(server, path):
    """A body that trickles (never silent for long, too slow in total) or stops after
    the headers: the call ends at its deadline, not at curl's 30 s stall guard (curl
    says which: "Operation timed out after N milliseconds" for the deadline, "Operation
    too slow" for the guard)."""
    (r,), stats, _ = run(server.url, "GET", path, timeout_ms=1500)
    assert (r["rc"], r["status"]) == (-110, 0)  # -ETIMEDOUT
    assert re.search(r"Operation timed out after \d+ milliseconds", r["error"]), r["error"]
    assert stats["failures"] >= 1


@pytest.mark.parametrize("path,wait", [
    ("rate-date", (110, 121)),     # an HTTP-date two minutes on
    ("rate-year", (3600, 3600)),   # a year: an hour at most (api.c, API_RATELIMIT_WAIT_MAX)
    ("rate-huge", (3600, 3600)),   # more digits than a long holds
    ("rate-garbage", (60, 60)),    # unreadable: as without one
    ("rate-past", (60, 60)),       # a date gone by: as without one
])
def test_retry_after_forms_and_cap(server, path, wait):
    (a, b), stats, _ = run(server.url, "GET,GET", path, call=True)
    assert (a["rc"], a["status"]) == (-11, 429)  # -EAGAIN
    assert stats["health"] == 2 and len(server.requests) == 1  # API_RATELIMITED
    m = re.match(r"not sent: the hourly API budget is spent; next try in (\d+) s", b["error"])
    assert m and wait[0] <= int(m.group(1)) <= wait[1], b["error"]


def test_silent_server_times_out():
    with socket.socket() as s:
        # Listening without accepting: the kernel completes the handshake, nobody answers.
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        url = "http://127.0.0.1:%d/" % s.getsockname()[1]
        (r,), stats, _ = run(url, "GET", "x", timeout_ms=1000)
    assert (r["rc"], r["status"]) == (-110, 0)  # -ETIMEDOUT
    assert re.search(r"timed out after \d+ milliseconds", r["error"]), r["error"]
    assert stats["failures"] == 1


def test_refused_port_is_unreachable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (r,), _, _ = run("http://127.0.0.1:%d/" % port, "GET", "x", timeout_ms=2000)
    assert (r["rc"], r["status"]) == (-113, 0)  # -EHOSTUNREACH
    assert r["error"] and KEY not in r["error"]


def test_bad_method_and_url():
    (r,), _, _ = run("http://127.0.0.1:9/", "PATCH", "x")
    assert r["rc"] == -22
    p = subprocess.run([BIN, "ftp://127.0.0.1/", USER, KEY, "GET", "x"], capture_output=True, text=True)
    assert p.returncode == 1 and "rc=-22" in p.stdout


# -- retries and health (the table in src/net/api.c) ------------------------------

def test_get_is_retried_on_503_until_it_works(server):
    (r,), stats, _ = run(server.url, "GET", "flaky")
    assert (r["rc"], r["status"], r["body"]) == (0, 200, '{"ok": 3}')
    assert len(server.requests) == 3
    assert (stats["requests"], stats["retries"], stats["health"]) == (3, 2, 0)


def test_retry_after_is_honoured(server):
    t0 = time.monotonic()
    (r,), stats, _ = run(server.url, "GET", "retryafter")
    assert r["status"] == 200 and stats["retries"] == 1
    assert time.monotonic() - t0 >= 1.0


def test_retries_end_at_the_deadline(server):
    (r,), stats, _ = run(server.url, "GET", "always503", timeout_ms=1500)
    assert (r["rc"], r["status"], r["error"]) == (0, 503, "down for maintenance")
    assert 2 <= len(server.requests) <= 4
    # A retry whose wait (a Retry-After of 5 s) would end past the 1.5 s deadline is
    # not made: the one answer is the call's.
    server.requests.clear()
    (r,), stats, _ = run(server.url, "GET", "busy5", timeout_ms=1500)
    assert (r["rc"], r["status"], r["error"]) == (0, 503, "down for maintenance")
    assert len(server.requests) == 1 and stats["retries"] == 0


@pytest.mark.parametrize("method,expect", [("POST", 1), ("DELETE", 1), ("PUT", 4), ("GET", 4)])
def test_a_lost_answer_is_retried_only_when_idempotent(server, method, expect):
    (r,), stats, _ = run(server.url, method, "dropper", body="{}")
    assert r["rc"] == -104 and r["status"] == 0  # -ECONNRESET
    assert len(server.requests) == expect
    assert all(q["method"] == method for q in server.requests)


def test_a_500_is_not_the_service_being_down(server):
    (a, b), stats, _ = run(server.url, "GET,GET", "oops500")
    assert a["status"] == b["status"] == 500
    assert stats["failed_fast"] == 0 and stats["health"] == 0


def test_down_service_fails_fast_then_is_tried_again():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (a, b), stats, _ = run("http://127.0.0.1:%d/" % port, "POST,GET", "x", body="{}", timeout_ms=3000)
    # the POST never left (refused), so it was tried again; then the
    # service counts as down and the GET is not sent at all
    assert a["rc"] == b["rc"] == -113
    assert stats["retries"] >= 1
    assert b["error"].startswith("not sent: the service is unreachable; next try in")
    assert (stats["failed_fast"], stats["health"]) == (1, 1)


def test_spent_budget_fails_fast_with_eagain(server):
    (a, b), stats, _ = run(server.url, "GET,GET", "limited")
    assert a["status"] == 403 and b["rc"] == -11  # -EAGAIN
    assert b["error"].startswith("not sent: the hourly API budget is spent; next try in 60 s")
    assert len(server.requests) == 1
    assert (stats["failed_fast"], stats["health"]) == (1, 2)


# -- api_call: one errno and one message per answer ----------------------------

def test_call_success_gives_the_body_and_no_message(server):
    (r,), stats, _ = run(server.url, "GET", "echo", call=True)
    assert (r["rc"], r["status"], r["error"], r["remaining"]) == (0, 200, "", 42)
    assert json.loads(r["body"])["path"] == "/api/v1/echo"


@pytest.mark.parametrize("path,rc,message", [
    ("jsonerr", -22, "HTTP 422: Klant niet gevonden \u00e9"),  # -EINVAL
    ("bad", -22, "HTTP 400: Invalid field: naam?"),
    ("empty404", -2, "HTTP 404"),  # -ENOENT
    ("forbidden", -13, "HTTP 403: Forbidden"),  # -EACCES
    ("limited", -11, "HTTP 403: Rate limit exceeded"),  # -EAGAIN
    ("redirect", -5, "HTTP 302: redirect to http://elsewhere.invalid/x not followed"),  # -EIO
    ("leaky", -13, "HTTP 401: wrong key *** for " + USER),
])
def test_call_errno_and_message(server, path, rc, message):
    (r,), _, _ = run(server.url, "GET", path, call=True)
    assert (r["rc"], r["error"], r["body"]) == (rc, message, "")


def test_call_no_answer_and_not_sent(server):
    (r,), _, _ = run(server.url, "POST", "dropper", body="{}", call=True)
    assert r["rc"] == -104 and r["error"].startswith("no answer: ")  # -ECONNRESET
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (a, b), _, _ = run("http://127.0.0.1:%d/" % port, "POST,GET", "x", body="{}", timeout_ms=3000,
                       call=True)
    assert a["rc"] == b["rc"] == -113  # -EHOSTUNREACH
    assert a["error"].startswith("not sent: ") and KEY not in a["error"]
    assert b["error"].startswith("not sent: the service is unreachable; next try in")
