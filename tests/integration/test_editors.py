"""The write path as real editors and tools drive it, through a real mount.

Every test gets a fresh fake account (the tests change records) and checks the fake's
request log: an edit is exactly one PUT, a new file exactly one POST, and the scratch
files editors make on the way (vim's 4913 probe, swap and backup files, emacs' file~,
GIO's .goutputstream-XXXXXX, sed's sedXXXXXX) never reach the API.

Two deliberate non-defaults: vim gets `backupskip=` and emacs an always-true
`backup-enable-predicate`, because both skip backups for files under /tmp (where the
fixtures mount) and a user's ~/factuur would get them.  Everything else is the editor's
default: vim's writebackup/backupcopy=auto/swapfile, nano's write in place, emacs'
backup-by-rename.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import urllib.parse

import pytest

from expected import expected, load, record_id, same
from harness import DEADLINE, Fake, wait_for

EDITS = {
    # field, vim/sed/emacs regex of the old text, its replacement, the whole new line
    # (nano), the value in the file and the value the fake must then hold (wire form).
    "clients": dict(field="city", regex=r'"city": "[^"]*"', repl='"city": "Utrecht"',
                    line='  "city": "Utrecht",', value="Utrecht", wire="Utrecht"),
    "products": dict(field="price", regex=r'"price": [0-9.]*', repl='"price": 12.5',
                     line='  "price": 12.5,', value=12.5, wire="12.50"),
}
# Fields the server sets itself on a PUT.
SERVER_SET = {"clients": {"timestamp"}, "products": {"priceintax"}}
# What the name of a scratch file may contain; no request path may.
SCRATCH_MARKS = ("4913", ".swp", ".swx", "~", "goutputstream", "sed", "#", ".json.")
VIM = ["vim", "-u", "DEFAULTS", "-i", "NONE", "--cmd", "set backupskip="]


@pytest.fixture
def fake(workdir):
    """A fresh account per test: these tests change it."""
    f = Fake(workdir, "--generate", "clients=8,invoices=6,products=8")
    yield f
    f.stop()


def need(tool):
    path = shutil.which(tool)
    if not path:
        pytest.skip(f"{tool} is not installed")
    return path


def tool(mnt, *cmd, input=None):
    """Runs an editor or tool on the mount.  Should it hang in a FUSE request, the
    daemon is killed (so the kernel aborts the request and the tool can exit) and
    the test fails instead of hanging for ever."""
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(input, timeout=DEADLINE * 2)
    except subprocess.TimeoutExpired:
        stack = ""
        try:
            with open(f"/proc/{p.pid}/stack") as f:
                stack = f.read()
        except OSError:
            pass
        mnt.proc.kill()
        p.kill()
        p.communicate()
        raise AssertionError(f"{cmd[0]} hung (factuurfs killed); kernel stack:\n{stack}"
                             f"factuurfs stderr:\n{mnt.stderr()[-2000:]}") from None
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


# -- the request log ---------------------------------------------------------------
def settle(fake, mnt):
    """The requests factuurfs has made, once all it has started are in the fake's log."""
    n = mnt.status()["api"]["requests"]
    wait_for(lambda: len(fake.requests()) >= n, f"{n} requests in the fake's log")
    return fake.requests()


def url_path(r):
    return urllib.parse.unquote(urllib.parse.urlsplit(r["path"]).path)


def writes(reqs):
    return [(r["method"], url_path(r)) for r in reqs if r["method"] != "GET"]


def check_log(fake, mnt, reqs, want_writes):
    """Exactly want_writes were sent, all succeeded, and nothing else named a file
    that is not a record (every id in a path is a record the fake holds)."""
    info = f"requests: {reqs}\nfactuurfs stderr:\n{mnt.stderr()[-3000:]}"
    assert writes(reqs) == want_writes, info
    for r in reqs:
        assert 200 <= r["status"] < 300, info
        p = url_path(r)
        for mark in SCRATCH_MARKS:
            assert mark not in p, f"a scratch name reached the API: {p}\n{info}"
        m = re.fullmatch(r"/api/v1/(clients|products)/([^/]*)", p)
        if m:
            ids = {record_id(m.group(1), w) for w in fake.state(m.group(1))}
            assert m.group(2) in ids, f"request for a non-record {p}\n{info}"


# -- records -----------------------------------------------------------------------
def pick(fake, coll):
    """A record whose edited field does not already hold the new value."""
    e = EDITS[coll]
    for w in fake.state(coll):
        if w.get(e["field"]) != e["wire"]:
            return record_id(coll, w), w
    raise AssertionError(f"no {coll} record to edit")


def wire_of(fake, coll, ident):
    return next(w for w in fake.state(coll) if record_id(coll, w) == ident)


def check_edited(fake, mnt, coll, ident, before):
    """The fake holds the new value (wire form); nothing else changed; the file
    reads back with the new value."""
    e = EDITS[coll]
    after = wire_of(fake, coll, ident)
    assert after[e["field"]] == e["wire"]
    old, new = expected(coll, before), expected(coll, after)
    for k in old:
        if k != e["field"] and k not in SERVER_SET[coll]:
            assert same(new[k], old[k]), f"{k}: {after.get(k)!r} was {before[k]!r}"
    got = load(mnt.path(coll, ident + ".json"))
    assert same(got[e["field"]], e["value"]), got


def check_edit(fake, mnt, coll, ident, before, mark, names_before):
    reqs = settle(fake, mnt)[mark:]
    check_log(fake, mnt, reqs, [("PUT", f"/api/v1/{coll}/{ident}")])
    check_edited(fake, mnt, coll, ident, before)
    assert sorted(os.listdir(mnt.path(coll))) == names_before, "scratch files left behind"


def new_record(fake, coll, tag):
    """Content for a new record: an existing one without its id and read-only fields."""
    _, w = pick(fake, coll)
    rec = dict(expected(coll, w))
    if coll == "clients":
        for k in ("clientnr", "lastinvoice", "timestamp"):
            rec.pop(k)
        rec["company"] = f"Nieuw {tag} B.V."
        rec["city"] = "Zwolle"
    else:
        rec.pop("id")
        rec.pop("priceintax")
        rec["code"] = f"NEW-{tag}"
        rec["price"] = 12.5
    return rec


def check_created(fake, mnt, coll, name, posted, ids_before, mark):
    """One POST; the new record is listed under its id at once and holds what was
    posted; the name written stays usable but is not listed."""
    listing = os.listdir(mnt.path(coll))
    reqs = settle(fake, mnt)[mark:]
    check_log(fake, mnt, reqs, [("POST", f"/api/v1/{coll}")])
    new = [w for w in fake.state(coll) if record_id(coll, w) not in ids_before]
    assert len(new) == 1, new
    wire = new[0]
    newid = record_id(coll, wire)
    assert newid + ".json" in listing
    assert name not in listing
    for k, v in wire.items():
        assert isinstance(v, (str, list, dict)), f"wire {k} is {v!r}"
    if coll == "products":
        assert {k: wire[k] for k in posted} == {
            "code": posted["code"], "name": posted["name"], "price": "12.50",
            "taxes": str(posted["taxes"])}
    else:
        assert wire["company"] == posted["company"] and wire["city"] == "Zwolle"
        exp = expected(coll, wire)
        for k, v in posted.items():
            assert same(exp[k], v), f"{k}: wire {wire[k]!r}, posted {v!r}"
    got = load(mnt.path(coll, newid + ".json"))
    for k, v in posted.items():
        assert same(got[k], v), f"{newid}.json {k}: {got[k]!r} != {v!r}"
    # The written name still answers stat/chmod/utime, locally.
    mark2 = fake.mark()
    st = os.stat(mnt.path(coll, name))
    os.chmod(mnt.path(coll, name), st.st_mode & 0o7777)
    os.utime(mnt.path(coll, name), (st.st_atime, st.st_mtime))
    assert writes(settle(fake, mnt)[mark2:]) == []
    return newid


# -- tmux ----------------------------------------------------------------------------
class Tmux:
    """One editor in a detached tmux session on a private server."""

    def __init__(self, command):
        self.dir = tempfile.mkdtemp(prefix="edtmux-")
        self.sock = os.path.join(self.dir, "sock")
        conf = os.path.join(self.dir, "tmux.conf")
        with open(conf, "w") as f:
            f.write("set -g remain-on-exit on\nset -s escape-time 50\n")
        self.status = os.path.join(self.dir, "status")
        st = shlex.quote(self.status)
        wrapped = f"{command}; echo $? > {st}.new && mv {st}.new {st}"
        env = dict(os.environ, TERM="xterm-256color")
        r = subprocess.run(["tmux", "-S", self.sock, "-f", conf, "new-session", "-d",
                            "-x", "120", "-y", "40", "-s", "ed", wrapped],
                           capture_output=True, text=True, env=env, timeout=DEADLINE)
        assert r.returncode == 0, r.stderr

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock, *args], capture_output=True,
                              text=True, timeout=DEADLINE)

    def keys(self, *keys):
        assert self.tmux("send-keys", "-t", "ed", *keys).returncode == 0

    def type(self, text):
        assert self.tmux("send-keys", "-t", "ed", "-l", text).returncode == 0

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "ed").stdout

    def wait_screen(self, text):
        try:
            wait_for(lambda: text in self.screen(), f"{text!r} on screen", interval=0.05)
        except AssertionError as e:
            raise AssertionError(f"{e}\nscreen:\n{self.screen()}") from None

    def exit_status(self):
        """None while the editor runs, else its exit status (from the wrapper: tmux
        3.3's #{pane_dead_status} is sometimes left empty)."""
        try:
            with open(self.status) as f:
                return int(f.read())
        except FileNotFoundError:
            return None

    def wait_exit(self):
        try:
            wait_for(lambda: self.exit_status() is not None, "the editor to exit",
                     interval=0.05)
        except AssertionError as e:
            raise AssertionError(f"{e}\nscreen:\n{self.screen()}") from None
        return self.exit_status()

    def kill(self):
        self.tmux("kill-server")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def tmux():
    need("tmux")
    made = []

    def start(command):
        t = Tmux(command)
        made.append(t)
        return t

    yield start
    for t in made:
        t.kill()


def wait_put(fake, mark, coll, ident, term=None):
    def put():
        return any(r["method"] == "PUT" and url_path(r) == f"/api/v1/{coll}/{ident}"
                   for r in fake.since(mark))
    try:
        wait_for(put, f"PUT {coll}/{ident}")
    except AssertionError as e:
        raise AssertionError(f"{e}\nrequests: {fake.since(mark)}" +
                             (f"\nscreen:\n{term.screen()}" if term else "")) from None


# -- 1. vim ----------------------------------------------------------------------------
@pytest.mark.parametrize("coll", ["clients", "products"])
def test_vim_ex_mode_edit_is_one_put(fake, mnt, coll):
    need("vim")
    ident, before = pick(fake, coll)
    e = EDITS[coll]
    names = sorted(os.listdir(mnt.path(coll)))
    mark = fake.mark()
    r = tool(mnt, *VIM, "-es", "-c", f"%s/{e['regex']}/{e['repl']}/", "-c", "wq",
            mnt.path(coll, ident + ".json"))
    assert r.returncode == 0, r.stdout + r.stderr + mnt.stderr()[-2000:]
    check_edit(fake, mnt, coll, ident, before, mark, names)


def test_vim_write_unchanged_sends_nothing(fake, mnt):
    need("vim")
    ident, before = pick(fake, "clients")
    path = mnt.path("clients", ident + ".json")
    text = open(path, encoding="utf-8").read()
    mark = fake.mark()
    r = tool(mnt, *VIM, "-es", "-c", "wq", path)
    assert r.returncode == 0, r.stdout + r.stderr + mnt.stderr()[-2000:]
    assert settle(fake, mnt)[mark:] == []
    assert open(path, encoding="utf-8").read() == text
    assert wire_of(fake, "clients", ident) == before


@pytest.mark.parametrize("coll", ["clients", "products"])
def test_vim_interactive_edit_with_swap_file(fake, mnt, tmux, coll):
    need("vim")
    ident, before = pick(fake, coll)
    e = EDITS[coll]
    names = sorted(os.listdir(mnt.path(coll)))
    path = mnt.path(coll, ident + ".json")
    swap = mnt.path(coll, f".{ident}.json.swp")
    mark = fake.mark()
    term = tmux(" ".join(shlex.quote(a) for a in VIM + [path]))
    try:
        wait_for(lambda: os.path.exists(swap), "vim's swap file in the mount")
    except AssertionError as err:
        raise AssertionError(f"{err}\nscreen:\n{term.screen()}") from None
    term.type(f":%s/{e['regex']}/{e['repl']}/")
    term.keys("Enter")
    term.type(":wq")
    term.keys("Enter")
    wait_put(fake, mark, coll, ident, term)
    assert term.wait_exit() == 0, term.screen()
    assert not os.path.exists(swap)
    check_edit(fake, mnt, coll, ident, before, mark, names)


# -- 2. nano ---------------------------------------------------------------------------
@pytest.mark.parametrize("coll", ["clients", "products"])
def test_nano_edit_is_one_put(fake, mnt, tmux, coll):
    need("nano")
    ident, before = pick(fake, coll)
    e = EDITS[coll]
    names = sorted(os.listdir(mnt.path(coll)))
    path = mnt.path(coll, ident + ".json")
    nlines = len(open(path, encoding="utf-8").read().splitlines())
    mark = fake.mark()
    term = tmux("nano --ignorercfiles " + shlex.quote(path))
    term.wait_screen(f"Read {nlines} lines")
    term.keys("M-\\")                       # to the top
    term.keys("C-w")                        # Where Is
    term.type(e["line"].strip().split(":")[0] + ": ")
    term.keys("Enter")
    term.keys("C-k")                        # cut the matched line ...
    term.type(e["line"])                    # ... and type its replacement
    term.keys("Enter")
    term.keys("C-o")                        # Write Out
    term.wait_screen("File Name to Write")
    term.keys("Enter")
    term.wait_screen("Wrote")
    term.keys("C-x")
    wait_put(fake, mark, coll, ident, term)
    assert term.wait_exit() == 0, term.screen()
    check_edit(fake, mnt, coll, ident, before, mark, names)


# -- 3. emacs --------------------------------------------------------------------------
def elisp_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_emacs_batch_save_with_backup(fake, mnt):
    emacs = need("emacs")
    coll = "clients"
    ident, before = pick(fake, coll)
    e = EDITS[coll]
    names = sorted(os.listdir(mnt.path(coll)))
    path = mnt.path(coll, ident + ".json")
    old = open(path, encoding="utf-8").read()
    mark = fake.mark()
    edit = ("(progn (goto-char (point-min)) (re-search-forward %s) (replace-match %s t t)"
            " (save-buffer))" % (elisp_string(e["regex"]), elisp_string(e["repl"])))
    r = tool(mnt, emacs, "--batch", "-Q",
            "--eval", "(setq backup-enable-predicate (lambda (name) t))",
            path, "--eval", edit)
    assert r.returncode == 0, r.stdout + r.stderr + mnt.stderr()[-2000:]
    reqs = settle(fake, mnt)[mark:]
    check_log(fake, mnt, reqs, [("PUT", f"/api/v1/{coll}/{ident}")])
    check_edited(fake, mnt, coll, ident, before)
    # backup-by-rename kept the old text as a local file~ ...
    with open(path + "~", encoding="utf-8") as f:
        assert f.read() == old
    os.unlink(path + "~")
    # ... and nothing else is left (the lock .#N.json is gone or never was).
    assert sorted(os.listdir(mnt.path(coll))) == names
    assert writes(settle(fake, mnt)[mark:]) == [("PUT", f"/api/v1/{coll}/{ident}")]


# -- 4. sed -i -------------------------------------------------------------------------
@pytest.mark.parametrize("coll", ["clients", "products"])
def test_sed_in_place_is_one_put(fake, mnt, coll):
    ident, before = pick(fake, coll)
    e = EDITS[coll]
    names = sorted(os.listdir(mnt.path(coll)))
    mark = fake.mark()
    r = tool(mnt, "sed", "-i", f"s/{e['regex']}/{e['repl']}/", mnt.path(coll, ident + ".json"))
    assert r.returncode == 0, r.stderr + mnt.stderr()[-2000:]
    check_edit(fake, mnt, coll, ident, before, mark, names)


# -- 5. GIO ----------------------------------------------------------------------------
def edited_text(mnt, coll, ident):
    e = EDITS[coll]
    with open(mnt.path(coll, ident + ".json"), encoding="utf-8") as f:
        old = f.read()
    new, n = re.subn(e["regex"], e["repl"], old, count=1)
    assert n == 1
    return old, new


@pytest.mark.parametrize("coll", ["clients", "products"])
def test_gio_save_is_one_put(fake, mnt, coll):
    gio = need("gio")
    ident, before = pick(fake, coll)
    names = sorted(os.listdir(mnt.path(coll)))
    _, new = edited_text(mnt, coll, ident)
    mark = fake.mark()
    r = tool(mnt, gio, "save", mnt.path(coll, ident + ".json"), input=new)
    assert r.returncode == 0, r.stderr + mnt.stderr()[-2000:]
    check_edit(fake, mnt, coll, ident, before, mark, names)


def test_gio_save_with_backup_links_a_local_copy(fake, mnt):
    gio = need("gio")
    coll = "clients"
    ident, before = pick(fake, coll)
    old, new = edited_text(mnt, coll, ident)
    path = mnt.path(coll, ident + ".json")
    mark = fake.mark()
    r = tool(mnt, gio, "save", "-b", path, input=new)
    assert r.returncode == 0, r.stderr + mnt.stderr()[-2000:]
    reqs = settle(fake, mnt)[mark:]
    check_log(fake, mnt, reqs, [("PUT", f"/api/v1/{coll}/{ident}")])
    check_edited(fake, mnt, coll, ident, before)
    with open(path + "~", encoding="utf-8") as f:
        assert f.read() == old
    # the record reads back as saved, bar what the server sets on a PUT
    got, want = load(path), json.loads(new)
    for k in SERVER_SET[coll]:
        got.pop(k), want.pop(k)
    assert got == want
    os.unlink(path + "~")
    assert not os.path.exists(path + "~")
    assert writes(settle(fake, mnt)[mark:]) == [("PUT", f"/api/v1/{coll}/{ident}")]
    assert wire_of(fake, coll, ident)[EDITS[coll]["field"]] == EDITS[coll]["wire"]


def test_gio_copy_new_product_is_one_post(fake, mnt, tmp_path):
    gio = need("gio")
    coll = "products"
    posted = new_record(fake, coll, "GIO")
    src = tmp_path / "new-product.json"
    src.write_text(json.dumps(posted, indent=2) + "\n", encoding="utf-8")
    ids = {record_id(coll, w) for w in fake.state(coll)}
    os.listdir(mnt.path(coll))
    mark = fake.mark()
    r = tool(mnt, gio, "copy", str(src), mnt.path(coll) + "/")
    assert r.returncode == 0, r.stderr + mnt.stderr()[-2000:]
    check_created(fake, mnt, coll, "new-product.json", posted, ids, mark)


# -- 6. cp, cat >, tee -----------------------------------------------------------------
WRITERS = {
    "cp": ("cp", "{src}", "{dst}"),
    "cat": ("sh", "-c", 'cat "$1" > "$2"', "sh", "{src}", "{dst}"),
    "tee": ("sh", "-c", 'tee "$2" < "$1" > /dev/null', "sh", "{src}", "{dst}"),
}


@pytest.mark.parametrize("coll", ["clients", "products"])
@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_new_file_is_one_post(fake, mnt, tmp_path, writer, coll):
    posted = new_record(fake, coll, writer.upper())
    src = tmp_path / "src.json"
    src.write_text(json.dumps(posted, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    ids = {record_id(coll, w) for w in fake.state(coll)}
    os.listdir(mnt.path(coll))
    name = f"new-{writer}.json"
    mark = fake.mark()
    r = tool(mnt, *(a.format(src=src, dst=mnt.path(coll, name)) for a in WRITERS[writer]))
    assert r.returncode == 0, r.stderr + mnt.stderr()[-2000:]
    check_created(fake, mnt, coll, name, posted, ids, mark)


# -- 7. round trip -----------------------------------------------------------------------
@pytest.mark.parametrize("coll", ["clients", "products"])
def test_copy_out_and_back_sends_nothing(fake, mnt, tmp_path, coll):
    ident, before = pick(fake, coll)
    path = mnt.path(coll, ident + ".json")
    copy = str(tmp_path / "y.json")
    r = tool(mnt, "sh", "-c", 'cat "$1" > "$2"', "sh", path, copy)
    assert r.returncode == 0, r.stderr
    mark = fake.mark()
    r = tool(mnt, "cp", copy, path)
    assert r.returncode == 0, r.stderr + mnt.stderr()[-2000:]
    assert settle(fake, mnt)[mark:] == []
    assert wire_of(fake, coll, ident) == before
    with open(path, "rb") as a, open(copy, "rb") as b:
        assert a.read() == b.read()


# -- 8. the trash ------------------------------------------------------------------------
def test_gio_trash_is_refused_and_changes_nothing(fake, mnt, tmp_path):
    """There is no trash on this filesystem: `gio trash` (a file manager's Delete key)
    fails with GIO's own words and changes nothing; `rm` is the way to delete."""
    gio = need("gio")
    ident, before = pick(fake, "clients")
    inv = sorted(os.listdir(mnt.path("invoices")))[:2]  # an invoice's .json and .pdf
    paths = [mnt.path("clients", ident + ".json")] + [mnt.path("invoices", n) for n in inv]
    texts = {p: open(p, "rb").read() for p in paths}
    state = {c: fake.state(c) for c in ("clients", "invoices")}
    mark = fake.mark()
    for p in paths:
        r = tool(mnt, "env", f"HOME={tmp_path}", gio, "trash", p)
        assert r.returncode != 0, p
        assert "Unable to find or create trash directory" in r.stderr, r.stderr
        with open(p, "rb") as f:
            assert f.read() == texts[p], p
    assert writes(settle(fake, mnt)[mark:]) == []
    assert {c: fake.state(c) for c in state} == state
    assert not [n for n in os.listdir(mnt.mnt) if n.startswith(".Trash")]
    assert not os.path.exists(os.path.join(tmp_path, ".local", "share", "Trash", "files"))
