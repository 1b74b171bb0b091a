"""No refusal goes unseen: a refused save (or rm) is a desktop notification on the session
bus, a structured journal entry under systemd, and a user.factuurfs.error attribute on the
file until it is fixed, even where close()'s error is ignored (a shell's `>`).

The session bus is private to each test (tests/sessionbus.py: dbus-daemon with a
configuration of its own, so no notification server of this machine is started), and
tests/notify_listener.py owns org.freedesktop.Notifications on it and records every Notify
call.
"""
import errno
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time

import pytest

from harness import APIKEY, DEADLINE, FACTUURFS, USER, mountinfo_unescape, wait_for
from sessionbus import SessionBus

XATTR = "user.factuurfs.error"

@pytest.fixture
def bus(workdir):
    b = SessionBus(workdir)
    yield b
    b.close()


def shell(m, command):
    """Runs @command with bash in the mount's root: the shell ignores close()'s error."""
    return subprocess.run(["bash", "-c", command], cwd=m.mnt, capture_output=True, text=True,
                          timeout=DEADLINE)


def save_in_child(path, text):
    """Saves @text to @path in a child process (a save that hung fails the test at the
    deadline instead of hanging it): the errno of open, write or close, 0 if none."""
    r = subprocess.run(["/usr/bin/python3", "-c", (
        "import os, sys\n"
        "try:\n"
        "    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)\n"
        "    os.write(fd, sys.argv[2].encode())\n"
        "    os.close(fd)\n"
        "except OSError as e:\n"
        "    print(e.errno)\n"
        "else:\n"
        "    print(0)\n"), path, text], capture_output=True, text=True, timeout=DEADLINE)
    return int(r.stdout)


def last_error(m):
    """(operation, message) of the status file's newest error."""
    e = m.status()["last_errors"][0]
    return e["operation"], e["message"]


def error_xattr(path):
    """user.factuurfs.error of @path, or None when it has none (listxattr agrees)."""
    try:
        value = os.getxattr(path, XATTR).decode()
    except OSError as e:
        assert e.errno == errno.ENODATA, e
        assert XATTR not in os.listxattr(path)
        return None
    assert XATTR in os.listxattr(path)
    return value


def product(code):
    return json.dumps({"code": code, "name": "Notified " + code, "price": 12.5})


# -- the desktop ---------------------------------------------------------------------------

def test_a_refused_save_through_a_shell_is_one_notification(acct, bus, mounts):
    m = mounts(acct, env=bus.env())
    # bash ignores the error of close() at the end of a `>` redirection: exit status 0
    r = shell(m, """echo '{"code": "P3"}' > products/p3.json""")
    assert r.returncode == 0, r.stderr
    what, reason = last_error(m)
    assert what == "products/p3.json" and "name" in reason
    notes = bus.wait_for_summary("products/p3.json was not saved")
    n = next(n for n in notes if n["summary"] == "products/p3.json was not saved")
    assert n["app_name"] == "factuurfs"
    assert n["body"] == reason
    assert n["sender_pid"] == m.proc.pid
    # marked where it is: listed under the name written, the reason as an attribute
    assert "p3.json" in os.listdir(m.path("products"))
    assert error_xattr(m.path("products", "p3.json")) == reason
    # Notifications leave in order: once a later one has arrived, every earlier one has.
    assert shell(m, """echo '{"code": "S1"}' > products/sentinel1.json""").returncode == 0
    notes = bus.wait_for_summary("products/sentinel1.json was not saved")
    assert [n["summary"] for n in notes] == ["products/p3.json was not saved",
                                             "products/sentinel1.json was not saved"]
    # fixed by saving again: nothing is notified for a save that went through
    assert shell(m, f"echo '{product('P3')}' > products/p3.json").returncode == 0
    assert any(p["code"] == "P3" for p in acct.state("products"))
    assert error_xattr(m.path("products", "p3.json")) is None
    assert shell(m, """echo '{"code": "S2"}' > products/sentinel2.json""").returncode == 0
    notes = bus.wait_for_summary("products/sentinel2.json was not saved")
    assert [n["summary"] for n in notes][2:] == ["products/sentinel2.json was not saved"]


def test_an_invalid_edit_is_notified_and_marked_until_fixed(acct, bus, mounts):
    m = mounts(acct, env=bus.env())
    path = m.path("clients", "1.json")
    good = json.load(open(path))
    assert error_xattr(path) is None
    r = shell(m, "echo '{not json' > clients/1.json")
    assert r.returncode == 0, r.stderr
    what, reason = last_error(m)
    assert what == "clients/1.json"
    notes = bus.wait_for_summary("clients/1.json was not saved")
    assert [n["body"] for n in notes] == [reason]
    assert error_xattr(path) == reason
    # the attribute is the service's to set, like the others
    for call in (lambda: os.setxattr(path, XATTR, b"fixed"), lambda: os.removexattr(path, XATTR)):
        with pytest.raises(OSError) as e:
            call()
        assert e.value.errno == errno.EPERM
    # fsync tries the refused text again: refused again, but not notified again (the
    # same file and reason within 10 s; the list of bodies below shows it)
    fd = os.open(path, os.O_RDONLY)
    with pytest.raises(OSError) as e:
        os.fsync(fd)
    os.close(fd)
    assert e.value.errno == errno.EINVAL
    assert m.status()["last_errors"][0].get("times") == 2
    # a good save clears it
    good["city"] = "Notifiedam"
    assert save_in_child(path, json.dumps(good)) == 0
    assert error_xattr(path) is None
    # refused again (another reason), then rm drops the text: the mark goes with it
    good = json.load(open(path))  # as the service has it now (its timestamp moved)
    good["top"] = "thirty"
    assert save_in_child(path, json.dumps(good)) == errno.EINVAL
    what, reason2 = last_error(m)
    assert reason2 != reason and "top" in reason2
    assert error_xattr(path) == reason2
    bus.wait_for_summary("clients/1.json was not saved")
    wait_for(lambda: [n["body"] for n in bus.notifications()] == [reason, reason2],
             "the second refusal's notification")
    os.unlink(path)
    assert error_xattr(path) is None
    assert json.load(open(path))["city"] == "Notifiedam"


def test_refused_new_and_payment_files_carry_the_error_until_fixed(acct, bus, mounts):
    m = mounts(acct, env=bus.env())
    inv = next(i for i in acct.state("invoices") if float(i["open"]) > 10)
    stem = inv["invoicenr"].replace("%", "%25").replace("/", "%2F")
    pay = m.path("invoices_payment", stem + ".json")
    assert save_in_child(pay, '{"amount": -5}') == errno.EINVAL
    _, reason = last_error(m)
    assert error_xattr(pay) == reason
    bus.wait_for_summary(f"invoices_payment/{stem}.json was not saved")
    # registered: the file is done with, and its name free again
    assert save_in_child(pay, '{"amount": 10, "date": "2025-06-01"}') == 0
    assert not os.path.exists(pay)
    # a new record refused, then dropped with rm
    new = m.path("products", "new.json")
    assert save_in_child(new, '{"code": "N", "name": "N", "price": "lots"}') == errno.EINVAL
    _, reason = last_error(m)
    assert error_xattr(new) == reason
    os.unlink(new)
    assert not os.path.exists(new)
    # invoices keep their own attributes beside it
    first = sorted(n for n in os.listdir(m.path("invoices")) if n.endswith(".json"))[0]
    names = os.listxattr(m.path("invoices", first))
    assert "user.factuurfs.status" in names and XATTR not in names


def test_a_refused_rm_is_notified(acct, bus, mounts):
    m = mounts(acct, env=bus.env())
    acct.inject(fail={"status": 403, "count": 1, "path_prefix": "/api/v1/clients/5",
                      "body": "Client has <b>invoices</b> & cannot be deleted"})
    r = shell(m, "rm clients/5.json")
    assert r.returncode != 0 and "Permission denied" in r.stderr
    what, reason = last_error(m)
    assert what == "clients/5.json" and "<b>invoices</b> & cannot" in reason
    notes = bus.wait_for_summary("clients/5.json was not deleted")
    # the body is plain text to a server that reads markup
    assert notes[0]["body"] == reason.replace("&", "&amp;").replace("<", "&lt;").replace(
        ">", "&gt;")
    # the file is as the service has it: nothing to fix in it
    assert error_xattr(m.path("clients", "5.json")) is None


def test_nonotify_sends_nothing(acct, bus, mounts):
    quiet = mounts(acct, opts=["nonotify"], env=bus.env())
    assert shell(quiet, """echo '{"code": "Q"}' > products/quiet.json""").returncode == 0
    what, reason = last_error(quiet)
    assert what == "products/quiet.json"
    assert error_xattr(quiet.path("products", "quiet.json")) == reason  # still marked
    # a mount that does notify, on the same bus, refused after it
    loud = mounts(acct, env=bus.env())
    assert shell(loud, """echo '{"code": "L"}' > products/loud.json""").returncode == 0
    notes = bus.wait_for_summary("products/loud.json was not saved")
    assert [n["sender_pid"] for n in notes] == [loud.proc.pid]
    pids = bus.connected_pids()
    assert loud.proc.pid in pids and quiet.proc.pid not in pids


NO_DESKTOP = {
    "no bus address": {"DBUS_SESSION_BUS_ADDRESS": None, "XDG_RUNTIME_DIR": None},
    "no bus socket": {"DBUS_SESSION_BUS_ADDRESS": None, "XDG_RUNTIME_DIR": "<empty dir>"},
    "a bus without a notification server": "bus",
    "a server that never answers": "hang",
}


@pytest.mark.parametrize("setup", NO_DESKTOP, ids=list(NO_DESKTOP))
def test_without_a_desktop_saves_fail_as_ever_and_nothing_waits(acct, mounts, workdir, setup):
    how = NO_DESKTOP[setup]
    b = None
    if isinstance(how, dict):
        env = dict(how)
        if env["XDG_RUNTIME_DIR"]:
            env["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="runtime-", dir=workdir)
    else:
        b = SessionBus(workdir, listener=False)
        if how == "hang":
            b.hang()
        env = b.env()
    try:
        m = mounts(acct, env=env, extra_args=["-d"])
        # Nothing waits for the server's answer: a save that did would come back only
        # after the Notify's 5 s call timeout, whose NoReply the daemon logs (-d).
        for i in range(2):
            assert save_in_child(m.path("products", f"x{i}.json"), '{"code": "X"}') == \
                errno.EINVAL
            assert error_xattr(m.path("products", f"x{i}.json")) == last_error(m)[1]
        if how == "hang":
            assert "NoReply" not in m.stderr(), "a save waited for the notification's answer"
        assert save_in_child(m.path("products", "ok.json"), product("OK")) == 0
        said = ("no session bus for desktop notifications" if b is None
                else "no desktop notification: org.freedesktop.DBus.Error.ServiceUnknown"
                if how == "bus" else None)
        if said:
            wait_for(lambda: said in m.stderr(), said)
        # unmounting does not wait for an answer (a Notify may wait 5 s for one, and
        # the daemon logs its NoReply when it gives up): the daemon is gone first
        assert m.unmount() == 0
        if how == "hang":
            assert "NoReply" not in m.stderr(), "the unmount waited for the bus"
    finally:
        if b:
            b.close()


# -- the journal -----------------------------------------------------------------------------

def journal_fields(datagram):
    """The fields of one native-protocol journal entry (KEY=value lines, or KEY, a
    little-endian 64-bit length and the bytes, for values with a newline)."""
    fields, i = {}, 0
    while i < len(datagram):
        nl = datagram.index(b"\n", i)
        line = datagram[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            k, (n,) = line, struct.unpack("<Q", datagram[nl + 1:nl + 9])
            v = datagram[nl + 9:nl + 9 + n]
            i = nl + 9 + n + 1
        fields[k.decode()] = v.decode()
    return fields


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None
                    or shutil.which("nsenter") is None, reason="needs root, unshare, nsenter")
def test_under_systemd_a_refusal_is_a_journal_entry_naming_the_file(acct, workdir):
    """systemd gives a unit's stderr to the journal and says so in $JOURNAL_STREAM (the
    stream's device:inode); libsystemd writes native entries to the fixed path
    /run/systemd/journal/socket.  Here stderr is a file named by $JOURNAL_STREAM, and in a
    scratch mount namespace that path is this test's datagram socket."""
    d = tempfile.mkdtemp(prefix="journal-", dir=workdir)
    sock_path = os.path.join(d, "journal.socket")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    holder = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sleep", "3600"])
    proc = None
    mnt = tempfile.mkdtemp(prefix="mnt-", dir=d)

    def ns(*argv):
        return ["nsenter", "-t", str(holder.pid), "-m", "--", *argv]

    def mounted():
        with open(f"/proc/{holder.pid}/mountinfo") as f:
            return any(mountinfo_unescape(line.split(" ")[4]) == mnt for line in f)

    try:
        wait_for(lambda: os.readlink(f"/proc/{holder.pid}/ns/mnt")
                 != os.readlink("/proc/self/ns/mnt"), "the new mount namespace")
        for argv in (["mount", "-t", "tmpfs", "tmpfs", "/run"],
                     ["mkdir", "-p", "/run/systemd/journal"],
                     ["touch", "/run/systemd/journal/socket"],
                     ["mount", "--bind", sock_path, "/run/systemd/journal/socket"]):
            r = subprocess.run(ns(*argv), capture_output=True, text=True, timeout=DEADLINE)
            assert r.returncode == 0, r.stderr
        err_path = os.path.join(d, "stderr")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("FACTUURSTUREN_", "DBUS_", "XDG_RUNTIME"))}
        env.update(FACTUURSTUREN_USERNAME=USER, FACTUURSTUREN_APIKEY=APIKEY,
                   XDG_CACHE_HOME=os.path.join(d, "cache"),
                   ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=66")
        with open(err_path, "w") as err:
            st = os.fstat(err.fileno())
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
            proc = subprocess.Popen(ns(FACTUURFS, "-f", "-o", "url=" + acct.url, mnt),
                                    stdout=subprocess.DEVNULL, stderr=err, env=env)
        wait_for(lambda: mounted() or proc.poll() is not None, "the mount")
        assert proc.poll() is None, open(err_path).read()
        inside = f"/proc/{holder.pid}/root{mnt}"
        r = subprocess.run(["bash", "-c", """echo '{"code": "P3"}' > products/p3.json"""],
                           cwd=inside, capture_output=True, text=True, timeout=DEADLINE)
        assert r.returncode == 0, r.stderr
        with open(os.path.join(inside, ".factuurfs", "status")) as f:
            reason = json.load(f)["last_errors"][0]["message"]

        entries, end = [], time.monotonic() + DEADLINE
        while not any("FACTUURFS_FILE" in e for e in entries):
            sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                entries.append(journal_fields(sock.recv(1 << 16)))
            except TimeoutError:
                raise AssertionError(f"no journal entry names the file: {entries}")
        refusal = next(e for e in entries if "FACTUURFS_FILE" in e)
        assert refusal["FACTUURFS_FILE"] == "products/p3.json"
        assert refusal["FACTUURFS_REASON"] == reason
        assert refusal["PRIORITY"] == "3"
        assert refusal["MESSAGE"] == "products/p3.json: " + reason
        assert refusal["SYSLOG_IDENTIFIER"] == "factuurfs"
        # the other lines are journal entries too, each with its priority
        assert any(e["MESSAGE"].startswith("mounted ") and e["PRIORITY"] == "6"
                   for e in entries)
        r = subprocess.run(ns("fusermount3", "-u", mnt), capture_output=True, text=True,
                           timeout=DEADLINE)
        assert r.returncode == 0, r.stderr
        assert proc.wait(DEADLINE) == 0
        # instead of the plain line: stderr has no copy of what the journal got
        assert "products/p3.json" not in open(err_path).read()
    finally:
        if proc and proc.poll() is None:
            subprocess.run(ns("umount", "-l", mnt), capture_output=True)
            proc.kill()
            proc.wait()
        holder.kill()
        holder.wait()
        sock.close()


def test_a_stderr_that_is_not_the_journal_gets_the_plain_line(acct, mounts):
    # $JOURNAL_STREAM inherited, but stderr redirected since: not the journal
    m = mounts(acct, env={"JOURNAL_STREAM": "1:1"})
    assert save_in_child(m.path("products", "p3.json"), '{"code": "P3"}') == errno.EINVAL
    assert "error: products/p3.json: " + last_error(m)[1] in m.stderr()
