"""Test harness: the bundled fake API and a real factuurfs mount on it.

Shaped after libfuse's test/util.py: start the real binary on a temporary
mount point, wait for the mount with a deadline, always unmount in teardown.
"""
import contextlib
import glob
import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKEAPI = os.path.join(ROOT, "tests", "fakeapi", "fakeapi.py")
TSAN_SUPP = os.path.join(ROOT, "tests", "tsan.supp")
FACTUURFS = os.environ.get("FACTUURFS_BIN", os.path.join(ROOT, "build", "factuurfs"))
SANITIZED = os.environ.get("FACTUURFS_SANITIZED") == "1"
USER = "demo"
APIKEY = "demo-apikey-0123456789"
DEADLINE = 30.0 if not SANITIZED else 60.0


def wait_for(cond, what, timeout=DEADLINE, interval=0.02):
    """Polls cond() until it is true; fails the test after timeout seconds."""
    end = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def make_cert(directory, name="fakeapi"):
    """A self-signed certificate for 127.0.0.1 (SAN IP:127.0.0.1 and DNS:localhost, CN
    127.0.0.1, 2 days) made by the openssl command: returns (cert path, key path)."""
    cert = os.path.join(directory, name + "-cert.pem")
    key = os.path.join(directory, name + "-key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         # Strict verifiers (Python 3.13's default context) want the usages spelled out.
         "-addext", "keyUsage=critical,digitalSignature,keyCertSign",
         "-addext", "extendedKeyUsage=serverAuth"],
        check=True, capture_output=True, timeout=60)
    return cert, key


class Fake:
    """The fake API in a subprocess, with its request log.

    tls=True: served over HTTPS with a fresh self-signed certificate for 127.0.0.1;
    `cafile` is its path (None without tls) and the control calls here trust it.

    The service gone and back: stop() ends the process but keeps its port, start() runs
    the same command again on that port, appending to the same log; requests in between
    get "connection refused".  restart(down_seconds) does both; `with fake.down(): ...`
    keeps it stopped for the block.  A started fake is fresh: its --data/--generate
    account, a full rate-limit budget, no faults.  keep_state=True (stop, restart, down)
    keeps the account instead: it is dumped before the stop and loaded with --data
    (leniently: missing fields get defaults), with the PDF sizes set here.
    """

    def __init__(self, tmpdir, *args, tls=False):
        self.args = list(args)
        # A directory of its own for its log, stderr, certificate and dumps: a name made
        # from id(self) was reused by a later fake, which then appended to this one's
        # log (the fake opens it for appending, so that a restart keeps it).
        self.tmpdir = tempfile.mkdtemp(prefix="fakeapi-", dir=tmpdir)
        self.log_path = os.path.join(self.tmpdir, "requests.log")
        # stderr to a file: a pipe nobody reads fills up and stalls the fake.
        self.err_path = os.path.join(self.tmpdir, "stderr")
        self.cafile = self.keyfile = None
        self._ctx = None
        if tls:
            self.cafile, self.keyfile = make_cert(self.tmpdir, "fakeapi")
            self._ctx = ssl.create_default_context(cafile=self.cafile)
        self.port = 0
        self.proc = None
        self._data = None        # the dump a keep_state restart loads
        self._pdf_sizes = {}     # set_pdf_size calls, for keep_state restarts
        self.start()

    def command(self):
        args = list(self.args)
        if self._data:
            args = _without(args, ("--data", "--generate", "--seed")) + ["--data", self._data]
        if self.cafile:
            args += ["--tls-cert", self.cafile, "--tls-key", self.keyfile]
        return ["/usr/bin/python3", FAKEAPI, "--port", str(self.port), "--log", self.log_path, *args]

    def start(self):
        """Starts the fake (again: on the same port; retried while the port is taken)."""
        assert not self.running(), "the fake is running"
        end = time.monotonic() + 10
        while True:
            with open(self.err_path, "ab") as err:
                seen = err.tell()
                self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE,
                                             stderr=err, text=True)
            line = self.proc.stdout.readline()
            if line.startswith("fakeapi listening on "):
                break
            self.proc.kill()
            self.proc.wait()
            self.proc.stdout.close()
            msg = self._stderr(seen)
            if not ("Address already in use" in msg and time.monotonic() < end):
                raise RuntimeError("fakeapi did not start: " + line + msg)
            time.sleep(0.1)
        self.url = line.split()[-1]
        self.base = self.url.split("/api/")[0]
        self.port = int(self.base.rsplit(":", 1)[1])
        if self._data:
            for nr, n in self._pdf_sizes.items():
                try:
                    self.set_pdf_size(nr, n)
                except urllib.error.HTTPError:  # the invoice is gone
                    pass

    def stop(self, keep_state=False):
        """Ends the fake; the port and the log stay for start()."""
        if self.proc is None or self.proc.stdout.closed:
            return
        if keep_state and self.running():
            path = os.path.join(self.tmpdir, "state.json")
            with open(path, "wb") as f:
                f.write(self._get("/_fake/dump"))
            self._data = path
        else:
            self._data = None
            self._pdf_sizes = {}
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def restart(self, down_seconds=0, keep_state=False):
        self.stop(keep_state=keep_state)
        time.sleep(down_seconds)
        self.start()

    @contextlib.contextmanager
    def down(self, keep_state=False):
        """with fake.down(): ...  the service is gone for the block, back after it."""
        self.stop(keep_state=keep_state)
        try:
            yield self
        finally:
            self.start()

    def _stderr(self, offset=0):
        try:
            with open(self.err_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    # -- the request log --------------------------------------------------
    def requests(self):
        """Every API request so far, as dicts (method, path, status, bytes)."""
        try:
            with open(self.log_path, encoding="utf-8") as f:
                return [json.loads(l) for l in f if l.strip()]
        except FileNotFoundError:
            return []

    def mark(self):
        return len(self.requests())

    def since(self, mark):
        return self.requests()[mark:]

    # -- control endpoints (not logged) -----------------------------------
    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30, context=self._ctx) as r:
            return r.read()

    def _get(self, path):
        return self._call("GET", path)

    def state(self, collection):
        return json.loads(self._get("/_fake/state/" + collection))

    def put_state(self, collection, ident, record):
        """Stores @record as given (any JSON object) under @ident, behind the client's back."""
        self._call("PUT", f"/_fake/state/{collection}/{_esc(ident)}", record)

    def record(self, collection, ident):
        """The record as the fake stores it (its wire form), not logged."""
        return json.loads(self._get(f"/_fake/state/{collection}/{_esc(ident)}"))

    def web_edit(self, collection, ident, **fields):
        """Changes @fields of a record as the service's website does, behind every mount's
        back (no request is logged): the stored record with those fields set (the fake's
        wire form: text) and a client's `timestamp` moved to today, as a save on the
        service moves it.  Returns the record as stored now."""
        rec = self.record(collection, ident)
        rec.update({k: v for k, v in fields.items()})
        if collection == "clients":
            import datetime
            rec["timestamp"] = datetime.date.today().isoformat()
        self.put_state(collection, ident, rec)
        return rec

    def delete_state(self, collection, ident):
        self._call("DELETE", f"/_fake/state/{collection}/{_esc(ident)}")

    def pdf(self, invoicenr):
        return self._get("/_fake/pdf/" + _esc(invoicenr))

    def set_pdf_size(self, invoicenr, nbytes):
        """From now on the invoice's PDF is padded to @nbytes (0: its natural size)."""
        self._call("PUT", "/_fake/pdfsize/" + _esc(invoicenr), {"bytes": nbytes})
        self._pdf_sizes[invoicenr] = nbytes

    def status(self):
        return json.loads(self._get("/_fake/status"))

    def inject(self, **faults):
        self._call("POST", "/_fake/inject", faults)

    def reset(self):
        self._call("POST", "/_fake/reset", {})


def _esc(ident):
    return urllib.parse.quote(str(ident), safe="")


def _without(args, options):
    """@args without @options and their values (`--opt v` and `--opt=v`)."""
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a in options:
            skip = True
        elif a.split("=", 1)[0] not in options:
            out.append(a)
    return out


def mountinfo_unescape(field):
    """A path as /proc/self/mountinfo writes it, with the kernel's octal escapes of
    space, tab, newline and backslash (\\040, \\011, \\012, \\134) undone."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def is_mounted(mnt):
    real = os.path.realpath(mnt)
    with open("/proc/self/mountinfo") as f:
        return any(mountinfo_unescape(line.split(" ")[4]) == real for line in f)


def thread_stacks(pid):
    """Every thread's stack of process @pid, by gdb when it is installed, else each
    thread's kernel wait channel: "" when neither can be had."""
    try:
        r = subprocess.run(["gdb", "-p", str(pid), "-batch", "-nx",
                            "-ex", "thread apply all bt"],
                           capture_output=True, text=True, timeout=DEADLINE)
        if "Thread" in r.stdout:
            return r.stdout
    except (OSError, subprocess.TimeoutExpired):
        pass
    out = []
    for task in sorted(glob.glob(f"/proc/{pid}/task/*")):
        try:
            with open(task + "/comm") as c, open(task + "/wchan") as w:
                out.append(f"{os.path.basename(task)} {c.read().strip()}: {w.read()}")
        except OSError:
            pass
    return "\n".join(out)


class Mount:
    """factuurfs running in the foreground on a fresh mount point.

    env: variables set for it on top of the tests' environment; a value None unsets one.

    The archive (-o prefetch, on by default) fetches every PDF in the background, which
    would add calls to every test that counts them: a mount here keeps no archive
    (-o noarchive) unless the test asks for it, with archive=True (the defaults as a
    user has them) or with an option that names it (prefetch=N, noarchive)."""

    def __init__(self, fake, tmpdir, opts=(), env=None, user=USER, apikey=APIKEY,
                 wait=True, cwd=None, extra_args=(), mnt=None, preexec_fn=None, archive=False):
        """mnt: an existing empty directory to mount on (a remount on the same mount
        point) instead of a fresh one; preexec_fn: run in the child before the exec
        (resource limits)."""
        if not archive and not any(o.startswith(("prefetch", "noarchive")) for o in opts):
            opts = ("noarchive", *opts)
        self.mnt = mnt or tempfile.mkdtemp(prefix="mnt-", dir=tmpdir)
        self.cache = tempfile.mkdtemp(prefix="cache-", dir=tmpdir)
        fd, self.stderr_path = tempfile.mkstemp(prefix="factuurfs-", suffix=".err", dir=tmpdir)
        os.close(fd)
        e = {k: v for k, v in os.environ.items() if not k.startswith("FACTUURSTUREN_")}
        e["XDG_CACHE_HOME"] = self.cache
        # The suite's refused saves are not shown on the desktop of whoever runs it: no
        # session bus unless a test gives one (test_notify.py).
        e.pop("DBUS_SESSION_BUS_ADDRESS", None)
        e.pop("XDG_RUNTIME_DIR", None)
        e["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:exitcode=66"
        e["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1:exitcode=67"
        # A ThreadSanitizer build (build-tsan/) stops at its first report (exit 68) and
        # writes it to a file of its own, <tsan_log>.<pid>: stderr() shows it, unmount()
        # fails on it.  tests/tsan.supp names races inside libraries we do not build.
        self.tsan_log = self.stderr_path + ".tsan"
        e["TSAN_OPTIONS"] = (f"halt_on_error=1:exitcode=68:second_deadlock_stack=1:"
                             f"log_path={self.tsan_log}:suppressions={TSAN_SUPP}")
        # countrylist's language follows $LANG (-o lang): the Dutch the fake's state holds
        # unless a test asks for another.
        e["LANG"] = "C.UTF-8"
        if user is not None:
            e["FACTUURSTUREN_USERNAME"] = user
        if apikey is not None:
            e["FACTUURSTUREN_APIKEY"] = apikey
        if env:
            e.update(env)
            e = {k: v for k, v in e.items() if v is not None}
        args = [FACTUURFS, "-f", *extra_args, "-o", "url=" + fake.url]
        for o in opts:
            args += ["-o", o]
        args.append(self.mnt)
        self.args = args
        self.err = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.err,
                                     env=e, cwd=cwd or tmpdir, preexec_fn=preexec_fn)
        if wait:
            wait_for(lambda: is_mounted(self.mnt) or self.proc.poll() is not None,
                     "the mount")
            if self.proc.poll() is not None:
                raise AssertionError("factuurfs exited: " + self.stderr())

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    def stderr(self):
        """What factuurfs wrote to stderr, and after it any ThreadSanitizer report."""
        if not self.err.closed:
            self.err.flush()
        with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read() + self.tsan_reports()

    def tsan_reports(self):
        """The ThreadSanitizer reports of this mount's daemon ("" without any)."""
        out = ""
        for path in sorted(glob.glob(glob.escape(self.tsan_log) + ".*")):
            with open(path, encoding="utf-8", errors="replace") as f:
                out += f.read()
        return out

    def status(self):
        with open(self.path(".factuurfs", "status"), encoding="utf-8") as f:
            return json.load(f)

    def unmount(self):
        """Unmounts and returns factuurfs' exit status; asserts a clean exit."""
        busy = ""
        end = time.monotonic() + 10
        while self.proc.poll() is None and is_mounted(self.mnt):
            r = subprocess.run(["fusermount3", "-u", self.mnt], capture_output=True, text=True)
            if r.returncode == 0:
                break
            # Who holds it: a process with a file or its cwd inside (fuser -m).  A
            # desktop's volume monitor may look into a new mount for a moment: try
            # again for a while before calling it a failure.
            who = subprocess.run(["fuser", "-vm", self.mnt], capture_output=True,
                                 text=True, timeout=DEADLINE)
            busy = f"{r.stderr.strip()}\n{who.stderr}{who.stdout}"
            if time.monotonic() > end:
                break
            time.sleep(0.2)
        try:
            rc = self.proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            # What it waits on, before it goes: each thread's stack, for the report.
            stacks = thread_stacks(self.proc.pid)
            self.proc.kill()
            self.proc.wait()
            subprocess.run(["fusermount3", "-uz", self.mnt], check=False)
            raise AssertionError(f"factuurfs did not exit after unmount: {busy}\n"
                                 f"still mounted: {is_mounted(self.mnt)}\n{stacks}\n"
                                 f"{self.stderr()[-4000:]}")
        self.err.close()
        if is_mounted(self.mnt):
            subprocess.run(["fusermount3", "-uz", self.mnt], check=False)
        os.rmdir(self.mnt)
        err = self.stderr()
        assert "AddressSanitizer" not in err and "runtime error" not in err, err
        assert not self.tsan_reports(), err
        return rc


def save(path, data, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
    """Writes @data (bytes or str) to @path and closes it, as an editor saves: returns
    the errno of the first step that failed (open, write, or close, where factuurfs
    reports a refused save), 0 when none did."""
    if isinstance(data, str):
        data = data.encode()
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as e:
        return e.errno
    try:
        os.write(fd, data)
    except OSError as e:
        os.close(fd)
        return e.errno
    try:
        os.close(fd)
    except OSError as e:
        return e.errno
    return 0


def run(*cmd, **kw):
    """Runs a command; returns CompletedProcess with text output."""
    return subprocess.run(cmd, capture_output=True, text=True, timeout=DEADLINE * 4, **kw)


def listing_calls(reqs, collection):
    """The GET requests that listed @collection (any page)."""
    out = []
    for r in reqs:
        path = urllib.parse.urlsplit(r["path"]).path
        if r["method"] == "GET" and path.rstrip("/").endswith("/api/v1/" + collection):
            out.append(r)
    return out


def pdf_calls(reqs):
    """The requests of @reqs that fetched an invoice's PDF."""
    return [r for r in reqs if "/invoices_pdf/" in r["path"]]


def nr_of(req):
    """The invoice number a PDF request (pdf_calls) asked for."""
    return urllib.parse.unquote(req["path"].rsplit("/invoices_pdf/", 1)[1])


def scaled(hour):
    """The environment under which factuurfs counts an hour as @hour seconds (the
    archive's pace, and the budget's window: the fake's --hour-seconds to match)."""
    return {"FACTUURFS_HOUR_SECONDS": str(hour)}


def handshakes(reqs):
    """(full, resumed): the TLS handshakes of the connections that carried @reqs (log
    entries of a fake with tls=True), from the "tls" field the fake puts on each
    connection's first logged request.  Requests of a connection opened before @reqs
    begin carry no such field and are not counted."""
    full = sum(r.get("tls") == "full" for r in reqs)
    resumed = sum(r.get("tls") == "resumed" for r in reqs)
    return full, resumed


if __name__ == "__main__":
    sys.exit("harness.py is a library for the tests")
