"""Test harness: the bundled fake API and a real factuurfs mount on it.

Shaped after libfuse's test/util.py: start the real binary on a temporary
mount point, wait for the mount with a deadline, always unmount in teardown.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKEAPI = os.path.join(ROOT, "tests", "fakeapi", "fakeapi.py")
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


class Fake:
    """The fake API in a subprocess, with its request log."""

    def __init__(self, tmpdir, *args):
        self.tmpdir = tmpdir
        self.log_path = os.path.join(tmpdir, f"fakeapi-{os.getpid()}-{id(self)}.log")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", FAKEAPI, "--port", "0", "--log", self.log_path, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("fakeapi listening on "):
            self.proc.kill()
            raise RuntimeError("fakeapi did not start: " + line + self.proc.stderr.read())
        self.url = line.split()[-1]
        self.base = self.url.split("/api/")[0]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()

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
    def _get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=30) as r:
            return r.read()

    def state(self, collection):
        return json.loads(self._get("/_fake/state/" + collection))

    def pdf(self, invoicenr):
        return self._get("/_fake/pdf/" + urllib.parse.quote(invoicenr, safe=""))

    def inject(self, **faults):
        req = urllib.request.Request(self.base + "/_fake/inject",
                                     data=json.dumps(faults).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()

    def reset(self):
        req = urllib.request.Request(self.base + "/_fake/reset", data=b"{}", method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()


def is_mounted(mnt):
    real = os.path.realpath(mnt)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == real for line in f)


class Mount:
    """factuurfs running in the foreground on a fresh mount point."""

    def __init__(self, fake, tmpdir, opts=(), env=None, user=USER, apikey=APIKEY,
                 wait=True, cwd=None, extra_args=()):
        self.mnt = tempfile.mkdtemp(prefix="mnt-", dir=tmpdir)
        self.cache = tempfile.mkdtemp(prefix="cache-", dir=tmpdir)
        self.stderr_path = os.path.join(tmpdir, f"factuurfs-{id(self)}.err")
        e = {k: v for k, v in os.environ.items() if not k.startswith("FACTUURSTUREN_")}
        e["XDG_CACHE_HOME"] = self.cache
        e["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:exitcode=66"
        e["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1:exitcode=67"
        if user is not None:
            e["FACTUURSTUREN_USERNAME"] = user
        if apikey is not None:
            e["FACTUURSTUREN_APIKEY"] = apikey
        if env:
            e.update(env)
        args = [FACTUURFS, "-f", *extra_args, "-o", "url=" + fake.url]
        for o in opts:
            args += ["-o", o]
        args.append(self.mnt)
        self.args = args
        self.err = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.err,
                                     env=e, cwd=cwd or tmpdir)
        if wait:
            wait_for(lambda: is_mounted(self.mnt) or self.proc.poll() is not None,
                     "the mount")
            if self.proc.poll() is not None:
                raise AssertionError("factuurfs exited: " + self.stderr())

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    def stderr(self):
        if not self.err.closed:
            self.err.flush()
        with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def status(self):
        with open(self.path(".factuurfs", "status"), encoding="utf-8") as f:
            return json.load(f)

    def unmount(self):
        """Unmounts and returns factuurfs' exit status; asserts a clean exit."""
        if self.proc.poll() is None and is_mounted(self.mnt):
            subprocess.run(["fusermount3", "-u", self.mnt], check=False)
        try:
            rc = self.proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            subprocess.run(["fusermount3", "-uz", self.mnt], check=False)
            raise AssertionError("factuurfs did not exit after unmount")
        self.err.close()
        if is_mounted(self.mnt):
            subprocess.run(["fusermount3", "-uz", self.mnt], check=False)
        os.rmdir(self.mnt)
        err = self.stderr()
        assert "AddressSanitizer" not in err and "runtime error" not in err, err
        return rc


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


if __name__ == "__main__":
    sys.exit("harness.py is a library for the tests")
