"""Mounting: credentials, options, refusals."""
import os
import socket
import subprocess

import pytest

from harness import APIKEY, FACTUURFS, USER, is_mounted

TIMEOUT = 60


def start(fake_url, mnt, opts=(), env=None, cwd=None, user=USER, key=APIKEY):
    e = {k: v for k, v in os.environ.items() if not k.startswith("FACTUURSTUREN_")}
    e["HOME"] = cwd or "/nonexistent"
    if user:
        e["FACTUURSTUREN_USERNAME"] = user
    if key:
        e["FACTUURSTUREN_APIKEY"] = key
    e.update(env or {})
    args = [FACTUURFS, "-o", "url=" + fake_url]
    for o in opts:
        args += ["-o", o]
    return subprocess.run(args + [mnt], capture_output=True, text=True, env=e, cwd=cwd or "/",
                          timeout=TIMEOUT)


@pytest.fixture
def mp(tmp_path):
    d = tmp_path / "mnt"
    d.mkdir()
    yield str(d)
    if is_mounted(str(d)):
        subprocess.run(["fusermount3", "-u", str(d)])


def one_line(text):
    lines = [l for l in text.splitlines() if l.strip()]
    assert len(lines) == 1, text
    return lines[0]


def test_bad_credentials_refuse_to_mount(fake, mp):
    mark = fake.mark()
    r = start(fake.url, mp, key="wrong-key-zzz")
    assert r.returncode != 0
    line = one_line(r.stderr)
    assert "refused the credentials" in line and "wrong-key-zzz" not in line
    assert not is_mounted(mp)
    assert [q["status"] for q in fake.since(mark)] == [401]


def test_dead_url_refuses_to_mount(mp):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    r = start(f"http://127.0.0.1:{port}/api/v1/", mp)
    assert r.returncode != 0
    assert "cannot reach" in one_line(r.stderr)
    assert not is_mounted(mp)


def test_unknown_option_refuses_before_any_call(fake, mp):
    mark = fake.mark()
    r = start(fake.url, mp, opts=["no_such_option=1"])
    assert r.returncode != 0 and "no_such_option" in r.stderr
    assert fake.since(mark) == [] and not is_mounted(mp)


@pytest.mark.parametrize("opt", ["ttl=-1", "timeout=0", "page_size=0"])
def test_bad_option_values(fake, mp, opt):
    r = start(fake.url, mp, opts=[opt])
    assert r.returncode != 0 and r.stderr.strip()
    assert not is_mounted(mp)


def test_key_on_the_command_line_is_refused(fake, mp):
    r = start(fake.url, mp, opts=["apikey=" + APIKEY], key=None)
    assert r.returncode != 0
    assert APIKEY not in r.stderr and "apikey_file" in r.stderr


def test_missing_username(fake, mp):
    r = start(fake.url, mp, user=None)
    assert r.returncode != 0 and "no username" in one_line(r.stderr)


def test_help_and_version():
    h = subprocess.run([FACTUURFS, "--help"], capture_output=True, text=True, timeout=TIMEOUT)
    assert h.returncode == 0 and "apikey_file" in h.stdout and "ttl=" in h.stdout
    v = subprocess.run([FACTUURFS, "--version"], capture_output=True, text=True, timeout=TIMEOUT)
    assert v.returncode == 0 and "factuurfs" in v.stdout


def mounted_ok(fake, mounts, **kw):
    m = mounts(fake, **kw)
    assert os.path.isdir(m.path("clients"))
    return m


def test_rc_file_and_profiles(fake, mounts, tmp_path):
    rc = tmp_path / "home"
    rc.mkdir()
    (rc / ".factuursturen_rc").write_text(
        f"[default]\nusername = nobody\napikey = nope\n\n[work]\nusername = {USER}\n"
        f"apikey = {APIKEY}\n")
    (rc / ".factuursturen_rc").chmod(0o600)
    mounted_ok(fake, mounts, user=None, apikey=None, opts=["profile=work"],
               env={"HOME": str(rc)})
    # the rc file in the current directory, default profile, no section header
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / ".factuursturen_rc").write_text(f"username = {USER}\napikey = {APIKEY}\n")
    (cwd / ".factuursturen_rc").chmod(0o600)
    mounted_ok(fake, mounts, user=None, apikey=None, cwd=str(cwd), env={"HOME": "/nonexistent"})


def test_missing_profile_is_an_error(fake, mp, tmp_path):
    (tmp_path / ".factuursturen_rc").write_text("[default]\nusername = a\napikey = b\n")
    r = start(fake.url, mp, opts=["profile=nosuch"], user=None, key=None, cwd=str(tmp_path))
    assert r.returncode != 0 and "[nosuch]" in one_line(r.stderr)


def test_apikey_file(fake, mounts, tmp_path):
    kf = tmp_path / "key"
    kf.write_text(APIKEY + "\n")
    kf.chmod(0o600)
    mounted_ok(fake, mounts, apikey=None, opts=["apikey_file=" + str(kf)])


def test_key_never_in_argv_logs_or_environ(fake, mounts):
    m = mounts(fake)
    os.listdir(m.path("clients"))
    open(m.path("balance.json")).read()
    with open(f"/proc/{m.proc.pid}/cmdline", "rb") as f:
        assert APIKEY.encode() not in f.read()
    with open(f"/proc/{m.proc.pid}/environ", "rb") as f:
        assert APIKEY.encode() not in f.read()
    assert APIKEY not in m.stderr()
    assert APIKEY not in open(m.path(".factuurfs", "status")).read()


def test_debug_output_has_no_key(fake, mounts):
    """-d prints every FUSE request and a line per API call, never the key."""
    m = mounts(fake, extra_args=["-d"])
    os.listdir(m.path("clients"))
    open(m.path("balance.json")).read()
    assert m.unmount() == 0
    out = m.stderr()
    assert "GET clients" in out and APIKEY not in out


@pytest.mark.parametrize("name", ["with space", "tab\there", "back\\slash"])
def test_a_mount_point_with_a_space_is_seen_mounted(fake, mounts, tmp_path, name):
    """/proc/self/mountinfo writes a space, tab or backslash in a mount point as \\040,
    \\011, \\134: the harness reads those, or it would wait for a mount forever."""
    d = tmp_path / name
    d.mkdir()
    assert not is_mounted(str(d))
    m = mounts(fake, mnt=str(d))
    assert is_mounted(str(d))
    assert os.listdir(m.path("clients"))
    assert m.unmount() == 0
    assert not is_mounted(str(d))
