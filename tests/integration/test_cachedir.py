"""The cache directory as untrusted input (docs/SEMANTICS.md, "The cache directory"):
another user's directory is refused, one of ours open to others is closed, nothing
planted in it (a symlink, a FIFO) is followed or blocks the mount, a full disk's errno
reaches close(), and what the journal promised is fsynced into its directory.

Every planted symlink points at a file in the test's own directory.
"""
import errno
import json
import os
import re
import stat
import subprocess
import time

import pytest

from harness import DEADLINE, FACTUURFS, USER, Mount, is_mounted, save, wait_for

NOBODY = 65534


def account_dir(cache_home, fake):
    """<XDG_CACHE_HOME>/factuurfs/<user>@<host>, as the daemon names it."""
    host = fake.url.split("://", 1)[1]
    name = re.sub(r"[/: ]", "_", f"{USER}@{host}")
    return os.path.join(cache_home, "factuurfs", name)


def make_dirs(top, mode, uid=None):
    """The account's directories, each with @mode (and owner @uid)."""
    for sub in ("", "state", "state/listings", "state/journal", "state/deleted",
                "state/deleted/clients"):
        d = os.path.join(top, sub)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, mode)
        if uid is not None:
            os.chown(d, uid, uid)


def victim(tmp_path, name, data=b"root's own file\n"):
    """A private file of the test's, which nothing may write or show."""
    path = tmp_path / name
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def start(fake, workdir, cache_home, **kw):
    """A mount on @cache_home that may fail or hang: the caller waits, then calls
    finish()."""
    return Mount(fake, workdir, env={"XDG_CACHE_HOME": str(cache_home)}, wait=False, **kw)


def finish(m):
    """Ends a mount of start(), mounted, failed or hung (unless unmounted already)."""
    if m.err.closed:
        return
    if is_mounted(m.mnt):
        assert m.unmount() == 0, m.stderr()
        return
    if m.proc.poll() is None:
        m.proc.kill()
    m.proc.wait(DEADLINE)
    m.err.close()
    if is_mounted(m.mnt):
        subprocess.run(["fusermount3", "-uz", m.mnt], check=False)
    os.rmdir(m.mnt)


def test_another_users_cache_directory_is_refused(acct, workdir, tmp_path):
    """An account directory another user made first (0777, with a symlink planted
    where the copy of a deleted record is written): the mount fails, says which
    directory and why, and nothing is written through the symlink."""
    cache = tmp_path / "cache"
    top = account_dir(str(cache), acct)
    make_dirs(top, 0o777, uid=NOBODY)
    target = victim(tmp_path, "victim")
    os.symlink(target, os.path.join(top, "state", "deleted", "clients", ".1.json.tmp"))
    m = start(acct, workdir, cache)
    try:
        wait_for(lambda: is_mounted(m.mnt) or m.proc.poll() is not None, "the mount to end")
        if is_mounted(m.mnt):  # as it did: the attack goes through
            subprocess.run(["rm", "-f", m.path("clients", "1.json")], check=False)
        assert not is_mounted(m.mnt) and m.proc.wait(DEADLINE) != 0, "mounted on it"
        err = m.stderr()
        assert f"cache directory {top} is owned by another user" in err, err
        assert f"owned by uid {NOBODY}" in err, err
        assert acct.requests() == []
        assert target.read_bytes() == b"root's own file\n"
        assert stat.S_IMODE(os.stat(top).st_mode) == 0o777  # not ours to change
    finally:
        finish(m)


def test_an_open_directory_of_ours_is_closed_and_nothing_planted_is_followed(
        acct, workdir, tmp_path):
    """Our own directories left 0777 are made 0700 (one line each); symlinks planted
    meanwhile where the daemon writes a temporary file, keeps a listing, a PDF or the
    thumbnail count are never followed: the files they point at stay as they were and
    nothing of theirs is shown."""
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    top = account_dir(str(cache), acct)
    make_dirs(top, 0o777)
    invs = sorted(r["invoicenr"] for r in acct.state("invoices"))
    mine, other = invs[0], invs[1]
    targets = {
        "state/deleted/clients/.1.json.tmp": victim(tmp_path, "v-tmp"),
        "state/listings/clients": victim(tmp_path, "v-listing"),
        "background-calls": victim(tmp_path, "v-calls", b"%d\n" % int(time.time())),
        # another invoice's PDF: served as this one's if the link were followed
        mine + ".pdf": victim(tmp_path, "v-pdf", acct.pdf(other)),
    }
    before = {k: (v.read_bytes(), os.stat(v).st_mtime_ns) for k, v in targets.items()}
    for name, target in targets.items():
        os.symlink(target, os.path.join(top, name))
    m = start(acct, workdir, cache)
    try:
        wait_for(lambda: is_mounted(m.mnt) or m.proc.poll() is not None, "the mount")
        assert is_mounted(m.mnt), m.stderr()
        err = m.stderr()
        for sub in ("", "/state", "/state/listings", "/state/journal", "/state/deleted"):
            assert (f"{top}{sub}: was writable by group or others (mode 0777): made 0700"
                    in err), err
            assert stat.S_IMODE(os.stat(top + sub).st_mode) == 0o700
        assert len(os.listdir(m.path("clients"))) == 6
        assert open(m.path("invoices", mine + ".pdf"), "rb").read() == acct.pdf(mine)
        os.unlink(m.path("clients", "1.json"))
        assert [(r["method"], r["path"]) for r in acct.requests() if r["method"] != "GET"] \
            == [("DELETE", "/api/v1/clients/1")]
        kept = m.path(".factuurfs", "deleted", "clients", "1.json")
        assert json.load(open(kept))["clientnr"] == 1
        copy = os.path.join(top, "state", "deleted", "clients", "1.json")
        assert stat.S_ISREG(os.lstat(copy).st_mode)
        assert stat.S_IMODE(os.stat(os.path.dirname(copy)).st_mode) == 0o700
        assert m.unmount() == 0
        for k, v in targets.items():
            assert (v.read_bytes(), os.stat(v).st_mtime_ns) == before[k], k
    finally:
        finish(m)


def test_fifos_in_the_cache_never_hang_the_mount(acct, workdir, tmp_path):
    """A FIFO (no writer ever) wherever the daemon reads a file of its cache: the
    mount comes up, each is refused with a line saying what it is, and what it stood
    for is fetched (or counted) anew."""
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    top = account_dir(str(cache), acct)
    make_dirs(top, 0o700)
    inv = sorted(r["invoicenr"] for r in acct.state("invoices"))[0]
    stem = inv.replace("/", "%2F")
    fifos = ["background-calls", "state/listings/clients", "state/listings/invoices",
             "state/journal/clients=1.json.entry", "state/deleted/clients/1.json",
             stem + ".pdf", stem + ".sha256"]
    for f in fifos:
        os.mkfifo(os.path.join(top, f), 0o600)
    m = start(acct, workdir, cache)
    try:
        wait_for(lambda: is_mounted(m.mnt) or m.proc.poll() is not None,
                 "the mount (a FIFO opened to read waits for a writer for good)")
        assert is_mounted(m.mnt), m.stderr()
        assert len(os.listdir(m.path("clients"))) == 6
        assert open(m.path("invoices", stem + ".pdf"), "rb").read() == acct.pdf(inv)
        assert os.listdir(m.path(".factuurfs", "deleted", "clients")) == []
        assert open(m.path("clients", "1.json")).read().startswith("{")
        err = m.stderr()
        for f in ("background-calls", "state/listings/clients", "clients=1.json.entry"):
            assert re.search(re.escape(f) + r": a FIFO, not a file: not read", err), (f, err)
        assert m.status()["unsaved"]["texts"] == 0
    finally:
        finish(m)


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (root only) as the cache's file system, unmounted after."""
    if os.geteuid() != 0:
        pytest.fail("a tmpfs of its own needs root")
    d = tmp_path / "disk"
    d.mkdir(mode=0o700)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(d)],
                   check=True)
    yield d
    subprocess.run(["umount", "-l", str(d)], check=False)


def fill(disk):
    """Writes a file until @disk is full; returns its path."""
    path = os.path.join(disk, "filler")
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError as e:
            assert e.errno == errno.ENOSPC
    return path


def test_a_refused_save_on_a_full_disk_fails_with_enospc(acct, workdir, small_disk):
    """A refused text that cannot be journaled is not safe: close() says ENOSPC (the
    disk's errno), not EINVAL (the refusal's); once there is room, the next close
    journals it and says EINVAL."""
    m = Mount(acct, workdir, env={"XDG_CACHE_HOME": str(small_disk)})
    try:
        path = m.path("clients", "2.json")
        good = open(path).read()
        # The listings written first: a write failing on the full disk would remove
        # its temporary file, and so make room for the journal.
        listings = os.path.join(account_dir(str(small_disk), acct), "state", "listings")
        wait_for(lambda: {"balance", "clients"} <= set(os.listdir(listings)) and
                 not any(".tmp" in f for f in os.listdir(listings)), "the listings written")
        filler = fill(small_disk)
        assert save(path, good.replace("{", "{ oops", 1)) == errno.ENOSPC
        journal = os.path.join(account_dir(str(small_disk), acct), "state", "journal")
        assert [f for f in os.listdir(journal) if f.endswith(".entry")] == []
        os.unlink(filler)
        assert save(path, good.replace("{", "{ oops", 1)) == errno.EINVAL
        assert os.listdir(journal) == ["clients=2.json.entry"]
    finally:
        assert m.unmount() == 0


def test_journal_renames_and_removals_are_fsynced_into_their_directory(
        acct, workdir, tmp_path, monkeypatch):
    """A refused save is journaled before close() returns: its entry renamed into
    state/journal/ and that directory fsynced; the entry of a text the service then
    took is removed and the directory fsynced.  (strace -f watches the daemon.)"""
    import harness
    log = tmp_path / "strace.log"
    wrapper = tmp_path / "factuurfs-traced"
    wrapper.write_text(f"#!/bin/sh\nexec strace -f -qq -y -o {log} "
                       f"-e trace=renameat2,renameat,rename,unlinkat,unlink,fsync "
                       f"{FACTUURFS} \"$@\"\n")
    wrapper.chmod(0o700)
    monkeypatch.setattr(harness, "FACTUURFS", str(wrapper))
    cache = tmp_path / "cache"
    # (LeakSanitizer needs ptrace, which strace holds: the leak check is off here.)
    m = Mount(acct, workdir, env={"XDG_CACHE_HOME": str(cache),
                                  "ASAN_OPTIONS": "detect_leaks=0:exitcode=66"})
    try:
        path = m.path("clients", "3.json")
        good = open(path).read()
        assert save(path, good.replace("{", "{ oops", 1)) == errno.EINVAL
        assert save(path, good.replace('"city": "', '"city": "X', 1)) == 0
    finally:
        assert m.unmount() == 0
    journal = os.path.join(account_dir(str(cache), acct), "state", "journal")
    lines = log.read_text().splitlines()

    def after(pattern):
        """The index of the first line matching @pattern, then whether an fsync of the
        journal directory by the same thread follows it."""
        i = next((k for k, l in enumerate(lines) if re.search(pattern, l)), None)
        assert i is not None, (pattern, "\n".join(lines))
        tid = lines[i].split()[0]
        return any(l.split()[0] == tid and l.split()[1].startswith("fsync(") and
                   f"<{journal}>" in l for l in lines[i + 1:])

    assert after(r"rename.*clients=3\.json\.entry\.tmp\d+.*clients=3\.json\.entry\"")
    assert after(r"unlink.*clients=3\.json\.entry\"")
