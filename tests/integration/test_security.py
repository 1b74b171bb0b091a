"""Secure by default: verified TLS, private files, a key that stays secret."""
import os
import signal
import stat
import subprocess
import time

import pytest

from harness import APIKEY, USER, Fake, FACTUURFS, Mount, is_mounted


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


def test_modes_are_private_and_others_are_kept_out(fake, mounts):
    m = mounts(fake)
    assert stat.S_IMODE(os.stat(m.mnt).st_mode) == 0o700
    for d in ("clients", "invoices", "taxes", ".factuurfs"):
        assert stat.S_IMODE(os.stat(m.path(d)).st_mode) == 0o700, d
    clients = sorted(os.listdir(m.path("clients")))
    assert stat.S_IMODE(os.stat(m.path("clients", clients[0])).st_mode) == 0o600
    pdf = [n for n in os.listdir(m.path("invoices")) if n.endswith(".pdf")][0]
    assert stat.S_IMODE(os.stat(m.path("invoices", pdf)).st_mode) == 0o400
    assert stat.S_IMODE(os.stat(m.path("taxes", os.listdir(m.path("taxes"))[0])).st_mode) == 0o400
    assert stat.S_IMODE(os.stat(m.path(".factuurfs", "status")).st_mode) == 0o400
    # a new file is private whatever mode its creator asks for
    fd = os.open(m.path("clients", "notes.txt"), os.O_WRONLY | os.O_CREAT, 0o666)
    os.close(fd)
    assert stat.S_IMODE(os.stat(m.path("clients", "notes.txt")).st_mode) == 0o600
    # the kernel checks the modes; nobody else is let in without allow_other
    opts = [l.split()[3] for l in open("/proc/self/mounts") if l.split()[1] == m.mnt][0]
    assert "default_permissions" in opts.split(",")
    assert "allow_other" not in opts.split(",")
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "ls", m.path("clients")], capture_output=True, text=True)
    assert r.returncode != 0 and "Permission denied" in r.stderr


def test_allow_other_only_when_asked_and_modes_then_hold(fake, mounts):
    m = mounts(fake, opts=["allow_other"])
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "ls", m.path("clients")], capture_output=True, text=True)
    # let through the mount, but the 0700 directory keeps the stranger out
    assert r.returncode != 0 and "Permission denied" in r.stderr


def test_the_key_is_not_in_a_crash(fake, workdir, tmp_path):
    t0 = time.time()
    m = Mount(fake, workdir, cwd=str(tmp_path))
    try:
        os.listdir(m.path("clients"))
        m.proc.send_signal(signal.SIGSEGV)
        assert m.proc.wait(60) != 0  # (ASan builds report the SEGV and exit)
        err = m.stderr()
        assert APIKEY not in err
        # no core file anywhere we can see: RLIMIT_CORE is 0 in the daemon
        assert not [p for p in os.listdir(tmp_path) if p.startswith("core")]
        with open(f"/proc/sys/kernel/core_pattern") as f:
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
