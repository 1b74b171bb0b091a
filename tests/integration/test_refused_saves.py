"""A refused save keeps the user's text, whatever saved it (docs/SEMANTICS.md, "Refused
writes lose nothing").

Each program saves text the service cannot take (not JSON) over clients/1.json.  Then:
the program got an error where it checks one, nothing was sent, the text reads back at
the record's name, and fixing the text and saving it again sends exactly one PUT.
"""
import json
import os
import shlex
import shutil
import subprocess

import pytest

from harness import DEADLINE, Fake, save, wait_for

# vim as a user runs it: its defaults (backup by rename, swap file), vim's backupskip
# cleared because the fixtures mount under /tmp (see test_editors.py).
VIM = ["vim", "-u", "DEFAULTS", "-i", "NONE", "--cmd", "set backupskip="]


@pytest.fixture
def acct(workdir):
    f = Fake(workdir, "--generate", "clients=3,invoices=2,products=2", "--rate-limit", "100000")
    yield f
    f.stop()


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def writes(fake, mark):
    return [(r["method"], r["path"].split("?")[0].replace("/api/v1/", ""))
            for r in fake.since(mark) if r["method"] != "GET"]


def bad_text(good):
    """The record's text with its first line broken: not JSON any more."""
    return good.replace("{", "{ oops", 1)


def sed_i(m, path, good, tmp):
    return subprocess.run(["sed", "-i", "1s/{/{ oops/", path], capture_output=True, text=True)


def cp(m, path, good, tmp):
    src = tmp / "bad.json"
    src.write_text(bad_text(good))
    return subprocess.run(["cp", str(src), path], capture_output=True, text=True)


def gio_save(m, path, good, tmp):
    return subprocess.run(["gio", "save", path], input=bad_text(good), capture_output=True,
                          text=True)


def mv_from_outside(m, path, good, tmp):
    src = tmp / "bad.json"
    src.write_text(bad_text(good))
    r = subprocess.run(["mv", str(src), path], capture_output=True, text=True)
    # mv copies across file systems and keeps its source when the copy fails
    assert src.exists() and src.read_text() == bad_text(good)
    return r


def mv_within(m, path, good, tmp):
    src = os.path.join(os.path.dirname(path), ".bad.json")
    with open(src, "w") as f:
        f.write(bad_text(good))
    return subprocess.run(["mv", src, path], capture_output=True, text=True)


def shell_redirect(m, path, good, tmp):
    return subprocess.run(["bash", "-c", f"printf '%s' {shlex.quote(bad_text(good))} > "
                           f"{shlex.quote(path)}"], capture_output=True, text=True)


# program, the check: does the program see the error (bash ignores close() errors of a
# redirection: that case is for the notification of test_notify.py)
WAYS = [(sed_i, True), (cp, True), (gio_save, True), (mv_from_outside, True),
        (mv_within, True), (shell_redirect, False)]


@pytest.mark.parametrize("way,sees_error", WAYS, ids=[w.__name__ for w, _ in WAYS])
def test_a_refused_save_keeps_the_text(acct, mounts, tmp_path, way, sees_error):
    m = mounts(acct)
    path = m.path("clients", "1.json")
    good = read(path)
    mark = acct.mark()
    r = way(m, path, good, tmp_path)
    if sees_error:
        assert r.returncode != 0, (r.stdout, r.stderr)
    else:
        assert r.returncode == 0
    assert writes(acct, mark) == []
    assert read(path) == bad_text(good)
    assert "1.json" in os.listdir(m.path("clients"))
    # marked as refused, with the reason, until fixed (docs/SEMANTICS.md)
    assert b"invalid JSON" in os.getxattr(path, "user.factuurfs.error")
    # fixed and saved again: one PUT
    rec = json.loads(good)
    rec["notes"] = "hersteld"
    assert save(path, json.dumps(rec, indent=2) + "\n") == 0
    assert writes(acct, mark) == [("PUT", "clients/1")]
    assert json.loads(read(path))["notes"] == "hersteld"
    assert "user.factuurfs.error" not in os.listxattr(path)


def test_nano_refused_save_keeps_the_text(acct, mounts, tmp_path):
    """nano writes in place: its 'Error writing' is on screen, the text stays."""
    if not shutil.which("nano") or not shutil.which("tmux"):
        pytest.fail("nano and tmux are test packages (scripts/deps.sh --test)")
    from test_editors import Tmux
    m = mounts(acct)
    path = m.path("clients", "1.json")
    good = read(path)
    mark = acct.mark()
    term = Tmux("nano --ignorercfiles " + shlex.quote(path))
    try:
        term.wait_screen("Read ")
        term.keys("M-\\")                # to the top
        term.type("oops")                # the first line becomes "oops{": not JSON
        term.keys("C-o")
        term.wait_screen("File Name to Write")
        term.keys("Enter")
        term.wait_screen("Error writing")
        assert read(path) == "oops" + good
        assert writes(acct, mark) == []
        term.keys("C-x")
        term.wait_screen("Save modified buffer")
        term.keys("n")
        assert term.wait_exit() == 0
    finally:
        term.kill()
    rec = json.loads(good)
    rec["notes"] = "hersteld"
    assert save(path, json.dumps(rec, indent=2) + "\n") == 0
    assert writes(acct, mark) == [("PUT", "clients/1")]


def test_vim_keeps_the_text_in_its_buffer_and_saves_it_once_fixed(acct, mounts):
    """vim writes a new file after renaming the old one to its backup; when the fsync of
    the new file is refused, it says so, restores its backup over the record (vim's own
    recovery: the record shows the service's text again) and keeps the user's text in
    its buffer and swap file.  Fixed there, :w sends one PUT."""
    if not shutil.which("vim") or not shutil.which("tmux"):
        pytest.fail("vim and tmux are test packages (scripts/deps.sh --test)")
    from test_editors import Tmux
    m = mounts(acct)
    path = m.path("clients", "1.json")
    good = read(path)
    mark = acct.mark()
    term = Tmux(" ".join(shlex.quote(a) for a in VIM + [path]))
    try:
        swap = m.path("clients", ".1.json.swp")
        wait_for(lambda: os.path.exists(swap), "vim's swap file in the mount")
        term.type(":1s/^/oops/")         # the first line becomes "oops{": not JSON
        term.keys("Enter")
        term.type(":w")
        term.keys("Enter")
        term.wait_screen("E667")          # "Fsync failed"
        assert writes(acct, mark) == []
        assert read(path) == good        # vim restored its backup
        term.keys("Enter")
        term.type(":1s/^oops//")         # fixed in vim's buffer
        term.keys("Enter")
        term.type(':%s/"notes": "[^"]*"/"notes": "hersteld"/')
        term.keys("Enter")
        term.type(":w")
        term.keys("Enter")
        wait_for(lambda: writes(acct, mark) == [("PUT", "clients/1")], "one PUT")
        term.type(":q")
        term.keys("Enter")
        assert term.wait_exit() == 0, term.screen()
    finally:
        term.kill()
    assert writes(acct, mark) == [("PUT", "clients/1")]
    assert json.loads(read(path))["notes"] == "hersteld"
