"""Secure by default: verified TLS, private files, a key that stays secret."""
import ctypes
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

import pytest

from harness import APIKEY, SANITIZED, USER, Fake, FACTUURFS, Mount, is_mounted


@pytest.fixture(scope="module")
def tls(workdir):
    """The fake over HTTPS with a self-signed certificate."""
    f = Fake(workdir, "--generate", "clients=3,invoices=3,products=3", tls=True)
    yield f
    f.stop()


def start(url, mnt, opts=(), env=None, cwd=None):
    """Runs factuurfs expecting it to refuse: returns the finished process."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("FACTUURSTUREN_")}
    e.update({"FACTUURSTUREN_USERNAME": USER, "FACTUURSTUREN_APIKEY": APIKEY})
    e.update(env or {})
    args = [FACTUURFS, "-f", "-o", "url=" + url]
    for o in opts:
        args += ["-o", o]
    return subprocess.run(args + [mnt], capture_output=True, text=True, env=e, cwd=cwd,
                          timeout=60)


def test_tls_is_verified_by_default(tls, workdir, tmp_path):
    assert tls.url.startswith("https://")
    mark = tls.mark()
    r = start(tls.url, str(tmp_path))
    assert r.returncode != 0
    assert "certificate" in r.stderr.lower(), r.stderr
    assert not is_mounted(str(tmp_path))
    # the handshake failed: no request was made at all
    assert tls.since(mark) == []


def test_tls_with_the_private_ca_works(tls, mounts):
    m = mounts(tls, opts=["cafile=" + tls.cafile])
    assert len(os.listdir(m.path("clients"))) == 3
    assert open(m.path("invoices", sorted(os.listdir(m.path("invoices")))[1]), "rb").read(5) \
        == b"%PDF-"


def test_a_wrong_cafile_is_refused(tls, tmp_path):
    other = tmp_path / "other.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=someone-else", "-keyout", str(tmp_path / "k.pem"),
                    "-out", str(other)], check=True, capture_output=True)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = start(tls.url, str(mnt), opts=["cafile=" + str(other)])
    assert r.returncode != 0 and "certificate" in r.stderr.lower(), r.stderr


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_file_others_can_read_is_refused(fake, tmp_path, mode):
    kf = tmp_path / "key"
    kf.write_text(APIKEY + "\n")
    kf.chmod(mode)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    mark = fake.mark()
    r = start(fake.url, str(mnt), opts=["apikey_file=" + str(kf)],
              env={"FACTUURSTUREN_APIKEY": ""})
    assert r.returncode != 0
    assert f"chmod 600 {kf}" in r.stderr, r.stderr
    assert fake.since(mark) == []
    assert APIKEY not in r.stderr + r.stdout


def test_an_rc_file_others_can_read_is_refused(fake, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    rc = home / ".factuursturen_rc"
    rc.write_text(f"[default]\nusername = {USER}\napikey = {APIKEY}\n")
    rc.chmod(0o644)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = start(fake.url, str(mnt), env={"HOME": str(home), "FACTUURSTUREN_APIKEY": "",
                                        "FACTUURSTUREN_USERNAME": ""}, cwd=str(tmp_path))
    assert r.returncode != 0 and f"chmod 600 {rc}" in r.stderr, r.stderr
    rc.chmod(0o600)
    r = subprocess.run(["fusermount3", "-u", str(mnt)], capture_output=True)  # not mounted
    assert not is_mounted(str(mnt))


STRANGER = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def mount_options(mnt):
    return [l.split()[3] for l in open("/proc/self/mounts") if l.split()[1] == mnt][0].split(",")


@pytest.fixture
def open_dir():
    """A directory any user may pass through (0711), for mount points a stranger can
    reach: the pytest directories are 0700, which would keep the stranger out before
    the mount is ever asked."""
    d = tempfile.mkdtemp(prefix="factuurfs-open-", dir="/tmp")
    os.chmod(d, 0o711)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_modes_are_private_and_others_are_kept_out(fake, open_dir):
    m = Mount(fake, open_dir)
    try:
        assert stat.S_IMODE(os.stat(m.mnt).st_mode) == 0o700
        for d in ("clients", "invoices", "taxes", ".factuurfs"):
            assert stat.S_IMODE(os.stat(m.path(d)).st_mode) == 0o700, d
        clients = sorted(os.listdir(m.path("clients")))
        assert stat.S_IMODE(os.stat(m.path("clients", clients[0])).st_mode) == 0o600
        pdf = [n for n in os.listdir(m.path("invoices")) if n.endswith(".pdf")][0]
        assert stat.S_IMODE(os.stat(m.path("invoices", pdf)).st_mode) == 0o400
        assert stat.S_IMODE(os.stat(m.path("taxes", os.listdir(m.path("taxes"))[0])).st_mode) \
            == 0o400
        assert stat.S_IMODE(os.stat(m.path(".factuurfs", "status")).st_mode) == 0o400
        # a new file is private whatever mode its creator asks for
        fd = os.open(m.path("clients", "notes.txt"), os.O_WRONLY | os.O_CREAT, 0o666)
        os.close(fd)
        assert stat.S_IMODE(os.stat(m.path("clients", "notes.txt")).st_mode) == 0o600
        # the kernel checks the modes; nobody else is let in without allow_other
        opts = mount_options(m.mnt)
        assert "default_permissions" in opts
        assert "allow_other" not in opts
        # the stranger reaches the mount point's directory, but not the mount: FUSE
        # refuses other users anything, even a stat of its root
        r = subprocess.run(STRANGER + ["stat", "-c", "%a", open_dir], capture_output=True,
                           text=True)
        assert r.returncode == 0 and r.stdout.strip() == "711", r.stderr
        r = subprocess.run(STRANGER + ["stat", "-c", "%a", m.mnt], capture_output=True,
                           text=True)
        assert r.returncode != 0 and "Permission denied" in r.stderr, r.stdout + r.stderr
    finally:
        assert m.unmount() == 0


def test_allow_other_only_when_asked_and_modes_then_hold(fake, open_dir):
    m = Mount(fake, open_dir, opts=["allow_other"])
    try:
        opts = mount_options(m.mnt)
        assert "allow_other" in opts and "default_permissions" in opts, opts
        # let through the mount: the stranger sees its root (mode 0700, ours) ...
        r = subprocess.run(STRANGER + ["stat", "-c", "%a %u", m.mnt], capture_output=True,
                           text=True)
        assert r.returncode == 0 and r.stdout.split() == ["700", str(os.getuid())], r.stderr
        # ... but the 0700 directories and 0600 files keep the stranger out of the rest
        for cmd in (["ls", m.mnt], ["ls", m.path("clients")],
                    ["cat", m.path("balance.json")]):
            r = subprocess.run(STRANGER + cmd, capture_output=True, text=True)
            assert r.returncode != 0 and "Permission denied" in r.stderr, (cmd, r.stderr)
    finally:
        assert m.unmount() == 0


PR_CAPBSET_DROP, CAP_SYS_PTRACE = 24, 19


def without_ptrace_and_with_cores():
    """In the child before exec: no CAP_SYS_PTRACE (so that the kernel's dumpable check
    decides who may read the process's memory), and core dumps allowed: whatever
    keeps the key out of a core or /proc/PID/mem is then the daemon's own doing."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_CAPBSET_DROP, CAP_SYS_PTRACE, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def core_limit(pid):
    with open(f"/proc/{pid}/limits") as f:
        line = next(l for l in f if l.startswith("Max core file size"))
    return line.split()[4:6]


def test_the_key_is_not_in_a_crash(fake, workdir, tmp_path):
    t0 = time.time()
    m = Mount(fake, workdir, cwd=str(tmp_path), preexec_fn=without_ptrace_and_with_cores)
    try:
        os.listdir(m.path("clients"))
        # started with cores allowed, the daemon has set its own limit to 0
        assert core_limit(m.proc.pid) == ["0", "0"], core_limit(m.proc.pid)
        # and another process of the same user (root without CAP_SYS_PTRACE, like the
        # daemon) cannot open its memory: it is not dumpable.  (ASan builds stay
        # dumpable: LeakSanitizer ptraces its own process.)
        r = subprocess.run([sys.executable, "-c", f"open('/proc/{m.proc.pid}/mem', 'rb')"],
                           capture_output=True, text=True, preexec_fn=without_ptrace_and_with_cores)
        if not SANITIZED:
            assert r.returncode != 0 and "Permission denied" in r.stderr, r.stderr
        m.proc.send_signal(signal.SIGSEGV)
        assert m.proc.wait(60) != 0  # (ASan builds report the SEGV and exit)
        err = m.stderr()
        assert APIKEY not in err
        # no core file anywhere we can see
        assert not [p for p in os.listdir(tmp_path) if p.startswith("core")]
        with open("/proc/sys/kernel/core_pattern") as f:
            pattern = f.read().strip()
        if pattern.startswith("/"):
            d = os.path.dirname(pattern)
            if os.path.isdir(d):
                for p in os.listdir(d):
                    full = os.path.join(d, p)
                    if os.path.isfile(full) and os.path.getmtime(full) >= t0:
                        assert APIKEY.encode() not in open(full, "rb").read()
    finally:
        # the mount of a dead daemon is cleaned up like any other
        subprocess.run(["fusermount3", "-u", m.mnt], check=False)
        if is_mounted(m.mnt):
            subprocess.run(["fusermount3", "-uz", m.mnt], check=False)
        m.err.close()
