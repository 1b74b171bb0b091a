"""Unsaved text survives kill -9, unmount and reboot (docs/SEMANTICS.md, "Unsaved text
survives"): the journal in <cache>/factuurfs/<account>/state/journal/.

Each test mounts with a cache directory of its own, leaves a text the service does not
have (a refused save, a new file refused, a POST whose answer was lost), ends the daemon
(kill -9, then fusermount3 -u; or a clean unmount), mounts again on the same cache and
checks that the text is back under its name with its error, and that saving it sends
exactly what one mount would have sent: one PUT, and never a second POST.
"""
import errno
import json
import os
import stat
import subprocess
import threading

import pytest

from harness import FACTUURFS, Mount, is_mounted, save, wait_for


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def writes(fake, mark):
    return [(r["method"], r["path"].split("?")[0].replace("/api/v1/", ""))
            for r in fake.since(mark) if r["method"] != "GET"]


def posts(fake, mark=0):
    return [r["path"] for r in fake.since(mark) if r["method"] == "POST"]


def bad_text(good):
    return good.replace("{", "{ oops", 1)


def journal_dir(cache):
    dirs = [os.path.join(dp, d) for dp, ds, _ in os.walk(cache) for d in ds if d == "journal"]
    assert len(dirs) == 1, dirs
    return dirs[0]


def entries(cache):
    d = journal_dir(cache)
    return sorted(f for f in os.listdir(d) if f.endswith(".entry"))


class Daemon:
    """Mounts of one account on one cache directory, one after the other."""

    def __init__(self, fake, workdir, tmp_path, opts=()):
        self.fake, self.workdir, self.opts = fake, workdir, list(opts)
        self.cache = str(tmp_path / "cache")
        self.m = None

    def mount(self, mnt=None):
        self.m = Mount(self.fake, self.workdir, opts=self.opts,
                       env={"XDG_CACHE_HOME": self.cache}, mnt=mnt)
        return self.m

    def end(self, how, settle=None):
        """Ends the mount: "kill" (kill -9, then fusermount3 -u) or "unmount".
        settle: called once the daemon is dead and before the unmount, to let the
        threads whose calls it leaves hanging return and close what they hold open (an
        open file keeps the mount busy)."""
        m = self.m
        if how == "kill":
            m.proc.kill()
            m.proc.wait(30)
            if settle:
                settle()
            assert subprocess.run(["fusermount3", "-u", m.mnt]).returncode == 0
            assert not is_mounted(m.mnt)
            m.err.close()
            return m.mnt
        assert m.unmount() == 0, m.stderr()
        return None

    def close(self):
        if self.m and self.m.proc.poll() is None:
            self.m.unmount()


@pytest.fixture
def daemon(acct, workdir, tmp_path):
    d = Daemon(acct, workdir, tmp_path)
    yield d
    d.close()


def plain_write(path, bad):
    assert save(path, bad) == errno.EINVAL


def sed_i(path, bad):
    r = subprocess.run(["sed", "-i", "1s/{/{ oops/", path], capture_output=True, text=True)
    assert r.returncode != 0, r.stderr


@pytest.mark.parametrize("how", ["kill", "unmount"])
@pytest.mark.parametrize("way", [plain_write, sed_i], ids=["write", "sed-i"])
def test_a_refused_save_comes_back_after_the_daemon_ends(acct, daemon, way, how):
    m = daemon.mount()
    path = m.path("clients", "1.json")
    good = read(path)
    bad = bad_text(good)
    mark = acct.mark()
    way(path, bad)
    assert read(path) == bad and writes(acct, mark) == []
    # on disk before close() (or rename()) returned: 0600 in a 0700 directory
    [entry] = entries(daemon.cache)
    assert entry == "clients=1.json.entry"
    jdir = journal_dir(daemon.cache)
    assert stat.S_IMODE(os.stat(jdir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(jdir, entry)).st_mode) == 0o600

    m = daemon.mount(daemon.end(how))
    path = m.path("clients", "1.json")
    assert read(path) == bad
    assert b"invalid JSON" in os.getxattr(path, "user.factuurfs.error")
    assert any("clients/1.json" in e.get("operation", "") for e in m.status()["last_errors"])
    assert writes(acct, mark) == []
    # fixed and saved: one PUT, and the entry is gone
    rec = json.loads(good)
    rec["notes"] = "hersteld"
    assert save(path, json.dumps(rec, indent=2) + "\n") == 0
    assert writes(acct, mark) == [("PUT", "clients/1")]
    assert "user.factuurfs.error" not in os.listxattr(path)
    assert entries(daemon.cache) == []
    # and the next mount shows the record as the service has it
    m = daemon.mount(daemon.end(how))
    assert json.loads(read(m.path("clients", "1.json")))["notes"] == "hersteld"
    assert writes(acct, mark) == [("PUT", "clients/1")]


def test_a_refused_save_shows_on_an_offline_mount_and_saves_once_back_online(acct, daemon):
    """Reboot on a train: the next mount is offline.  The text is there, read-only, with
    its error; back online, fixing it sends one PUT."""
    m = daemon.mount()
    path = m.path("clients", "1.json")
    good = read(path)
    bad = bad_text(good)
    mark = acct.mark()
    plain_write(path, bad)
    # the clients listing is written to disk by a thread of its own: on disk before the
    # kill, so that the offline mount has the record's name to show the text under
    listings = os.path.join(os.path.dirname(journal_dir(daemon.cache)), "listings")
    wait_for(lambda: os.path.exists(os.path.join(listings, "clients")), "the listing kept")
    daemon.end("kill")

    daemon.opts = ["offline"]
    m = daemon.mount()
    path = m.path("clients", "1.json")
    assert m.status()["service"]["state"] == "offline"
    assert read(path) == bad
    assert b"invalid JSON" in os.getxattr(path, "user.factuurfs.error")
    assert save(path, good) == errno.EROFS
    assert read(path) == bad and entries(daemon.cache) == ["clients=1.json.entry"]
    assert acct.since(mark) == []
    # the status file and `factuurfs status` say where it is
    unsaved = m.status()["unsaved"]
    assert (unsaved["texts"], unsaved["directory"]) == (1, journal_dir(daemon.cache))
    out = subprocess.run([FACTUURFS, "status", m.mnt], capture_output=True, text=True,
                         timeout=60).stdout
    assert f"unsaved      1 text the service does not have, kept in {unsaved['directory']}" \
        in out, out

    daemon.opts = []
    m = daemon.mount(daemon.end("unmount"))
    path = m.path("clients", "1.json")
    assert read(path) == bad
    rec = json.loads(good)
    rec["notes"] = "hersteld"
    assert save(path, json.dumps(rec, indent=2) + "\n") == 0
    assert writes(acct, mark) == [("PUT", "clients/1")]
    assert entries(daemon.cache) == []
    assert m.status()["unsaved"]["texts"] == 0


def test_a_second_mount_of_the_account_keeps_its_state_in_memory(acct, workdir, tmp_path):
    """state/ is one mount's at a time (a lock): a second mount of the same account
    neither restores the first one's texts nor journals its own, and says so."""
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    first = Mount(acct, workdir, env=env)
    second = None
    try:
        second = Mount(acct, workdir, env=env)
        p1, p2 = first.path("clients", "1.json"), second.path("clients", "2.json")
        good1 = read(p1)
        plain_write(p1, bad_text(good1))
        plain_write(p2, bad_text(read(p2)))
        assert entries(env["XDG_CACHE_HOME"]) == ["clients=1.json.entry"]
        assert read(second.path("clients", "1.json")) == good1
        assert "another mount of this account holds it" in second.stderr()
        assert "unsaved" not in second.status() and first.status()["unsaved"]["texts"] == 1
    finally:
        for m in (second, first):
            if m:
                assert m.unmount() == 0, m.stderr()
    # the lock went with the first mount: the next one restores its text
    third = Mount(acct, workdir, env=env)
    try:
        assert read(third.path("clients", "1.json")) == bad_text(good1)
    finally:
        assert third.unmount() == 0


def test_a_refused_new_file_comes_back_and_rm_drops_it_for_good(acct, daemon):
    m = daemon.mount()
    path = m.path("products", "nieuw.json")
    body = json.dumps({"code": "NW", "name": "Nieuw", "price": 2}, indent=2) + "\n"
    before = len(acct.state("products"))
    acct.inject(fail={"status": 400, "body": "Field 'code' is invalid", "count": 1,
                      "path_prefix": "/api/v1/products"})
    mark = acct.mark()
    assert save(path, body) == errno.EINVAL
    assert posts(acct, mark) == ["/api/v1/products"]
    assert entries(daemon.cache) == ["products=nieuw.json.entry"]

    m = daemon.mount(daemon.end("kill"))
    path = m.path("products", "nieuw.json")
    assert "nieuw.json" in os.listdir(m.path("products"))
    assert read(path) == body
    assert b"Field 'code' is invalid" in os.getxattr(path, "user.factuurfs.error")
    os.unlink(path)
    assert entries(daemon.cache) == []
    assert "nieuw.json" not in os.listdir(m.path("products"))

    m = daemon.mount(daemon.end("unmount"))
    assert "nieuw.json" not in os.listdir(m.path("products"))
    assert posts(acct, mark) == ["/api/v1/products"]
    assert len(acct.state("products")) == before


def test_a_post_whose_answer_was_cut_is_never_sent_twice(acct, daemon):
    """The service made the record, its answer was cut; the daemon is killed; the next
    mount shows the file as unanswered, and saving it adopts the record it made."""
    m = daemon.mount()
    os.listdir(m.path("products"))
    path = m.path("products", "koek.json")
    body = json.dumps({"code": "KOEK", "name": "Koek", "price": 3.5}, indent=2) + "\n"
    before = len(acct.state("products"))
    acct.inject(cut={"count": 1, "path_prefix": "/api/v1/products"})
    mark = acct.mark()
    assert save(path, body) != 0
    assert len(acct.state("products")) == before + 1  # it did make it
    assert entries(daemon.cache) == ["products=koek.json.entry"]

    m = daemon.mount(daemon.end("kill"))
    path = m.path("products", "koek.json")
    assert read(path) == body
    assert b"may have made the record" in os.getxattr(path, "user.factuurfs.error")
    fd = os.open(path, os.O_WRONLY)
    os.fsync(fd)  # save again
    os.close(fd)
    assert posts(acct, mark) == ["/api/v1/products"]
    assert codes(acct).count("KOEK") == 1
    assert entries(daemon.cache) == []


def test_a_post_in_flight_when_the_daemon_is_killed_is_never_sent_twice(acct, daemon):
    """The entry is written before the POST leaves: killed while it is out (the service
    carries it out after), the next mount looks for the record before posting again."""
    m = daemon.mount()
    os.listdir(m.path("products"))
    path = m.path("products", "brood.json")
    body = json.dumps({"code": "BROOD", "name": "Brood", "price": 2.5}, indent=2) + "\n"
    before = len(acct.state("products"))
    acct.inject(hang={"count": 1, "seconds": 30, "path_prefix": "/api/v1/products"})
    sent = acct.status()["requests"]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, body.encode())
    closed = []
    closer = threading.Thread(target=lambda: closed.append(_errno_of(lambda: os.close(fd))))
    closer.start()
    wait_for(lambda: acct.status()["requests"] > sent, "the POST in flight")
    assert entries(daemon.cache) == ["products=brood.json.entry"]
    mnt = daemon.end("kill", settle=lambda: closer.join(60))
    assert closed and closed[0] != 0
    acct.reset()  # the hung POST is carried out now
    wait_for(lambda: len(acct.state("products")) == before + 1, "the POST carried out")

    m = daemon.mount(mnt)
    path = m.path("products", "brood.json")
    assert read(path) == body
    assert b"may have made the record" in os.getxattr(path, "user.factuurfs.error")
    fd = os.open(path, os.O_WRONLY)
    os.fsync(fd)
    os.close(fd)
    assert len(posts(acct)) == 1
    assert len(acct.state("products")) == before + 1
    assert entries(daemon.cache) == []


@pytest.mark.parametrize("when", ["held-before-acting", "held-after-acting",
                                  "headers-then-nothing", "answered"])
def test_kill_9_at_any_moment_of_a_post_never_posts_it_twice(acct, daemon, when):
    """kill -9 with the POST's answer held before or after the service acted, after its
    201's headers, or just after close() returned; then the same `cp` again on the next
    mount: one record, never a second POST.  Once the answer names the record, the
    journal keeps that the name is that record (products=<name>.made) before anything
    else, so the name comes back leading to it; before that, the POST's own entry
    brings the file back unanswered, and the save looks for the record first."""
    m = daemon.mount()
    os.listdir(m.path("products"))
    path = m.path("products", "taart.json")
    body = json.dumps({"code": "TAART", "name": "Taart", "price": 9}, indent=2) + "\n"
    before = len(acct.state("products"))
    fault = {"held-before-acting": {"hang": {"seconds": 60}},
             "held-after-acting": {"hang": {"seconds": 60, "after": True}},
             "headers-then-nothing": {"stall_body": {"seconds": 60}},
             "answered": {}}[when]
    for kind, spec in fault.items():
        acct.inject(**{kind: dict(spec, method="POST", path_prefix="/api/v1/products")})
    sent = acct.status()["requests"]
    if when == "answered":
        assert save(path, body) == 0
        assert "created products/" in m.stderr()
    else:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, body.encode())
        closed = []
        closer = threading.Thread(target=lambda: closed.append(_errno_of(lambda: os.close(fd))))
        closer.start()
        wait_for(lambda: acct.status()["requests"] > sent, "the POST in flight")
        if when != "held-before-acting":
            wait_for(lambda: len(acct.state("products")) == before + 1, "the service acted")
    if when != "answered":
        # The killed daemon's connection is aborted: the close() in flight returns an
        # error, and only then is nothing of the mount held open.
        mnt = daemon.end("kill", settle=lambda: closer.join(60))
        assert closed and closed[0] != 0
    else:
        mnt = daemon.end("kill")
    acct.reset()  # a held POST is carried out (or answered) now
    wait_for(lambda: len(acct.state("products")) == before + 1, "the record made")
    wait_for(lambda: len(posts(acct)) == 1, "the POST logged")

    m = daemon.mount(mnt)
    path = m.path("products", "taart.json")
    assert save(path, body) == 0  # `cp` again
    assert len(posts(acct)) == 1
    assert codes(acct).count("TAART") == 1
    [rec] = [r for r in acct.state("products") if r["code"] == "TAART"]
    assert json.loads(read(path))["id"] == int(rec["id"])  # the name leads to the record
    assert entries(daemon.cache) == []
    # killed again and mounted again: still that record's name
    m = daemon.mount(daemon.end("kill"))
    assert save(m.path("products", "taart.json"), body) == 0
    assert len(posts(acct)) == 1 and codes(acct).count("TAART") == 1
    # a clean unmount forgets it: the next mount has no such name
    m = daemon.mount(daemon.end("unmount"))
    assert not os.path.exists(m.path("products", "taart.json"))
    assert [f for f in os.listdir(journal_dir(daemon.cache)) if f.endswith(".made")] == []


def codes(fake):
    recs = fake.state("products")
    return [r["code"] for r in (recs.values() if isinstance(recs, dict) else recs)]


def _errno_of(fn):
    try:
        fn()
    except OSError as e:
        return e.errno
    return 0


def test_nodiskcache_journals_nothing(acct, workdir, tmp_path):
    d = Daemon(acct, workdir, tmp_path, opts=["nodiskcache"])
    try:
        m = d.mount()
        path = m.path("clients", "1.json")
        assert save(path, bad_text(read(path))) == errno.EINVAL
        assert not [dp for dp, ds, _ in os.walk(d.cache) if "journal" in ds]
        m = d.mount(d.end("unmount"))
        assert "user.factuurfs.error" not in os.listxattr(m.path("clients", "1.json"))
    finally:
        d.close()


def test_a_record_changed_on_the_service_meanwhile_keeps_the_users_text(acct, daemon):
    """The text is the user's: it comes back over the record's new version, and saving
    it changes only what the user changed, against the version the text started from
    (kept in the journal): what was changed meanwhile on the service stays."""
    m = daemon.mount()
    path = m.path("clients", "1.json")
    good = read(path)
    assert save(path, bad_text(good)) == errno.EINVAL
    mnt = daemon.end("kill")
    [rec] = [r for r in acct.state("clients") if str(r["clientnr"]) == "1"]
    acct.put_state("clients", "1", dict(rec, city="Elders"))
    mark = acct.mark()

    m = daemon.mount(mnt)
    path = m.path("clients", "1.json")
    assert read(path) == bad_text(good)
    fixed = json.loads(good)
    fixed["notes"] = "hersteld"
    assert save(path, json.dumps(fixed, indent=2) + "\n") == 0
    assert writes(acct, mark) == [("PUT", "clients/1")]
    [rec] = [r for r in acct.state("clients") if str(r["clientnr"]) == "1"]
    assert rec["notes"] == "hersteld" and rec["city"] == "Elders" != fixed["city"]
