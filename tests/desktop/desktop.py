"""Real file managers (Thunar, PCManFM, Nautilus) on a factuurfs mount, under Xvfb.

Each file manager runs in its own `dbus-run-session` with a fresh HOME and
XDG_RUNTIME_DIR (0700), on an Xvfb display of its own, with its view set to icons
with thumbnails.  While it runs, /proc is sampled so that the pids factuurfs' debug
output (`-d`) shows on READ requests can be named (comm, exe) afterwards.

Used by test_filemanagers.py; `python3 tests/desktop/desktop.py thunar|pcmanfm|nautilus`
runs one by hand and prints the figures.
"""
import collections
import hashlib
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

FILE_MANAGERS = ("thunar", "pcmanfm", "nautilus")
TOOLS = ("Xvfb", "dbus-run-session", "import", "identify", "xdotool")

# Per file manager: settings written into the fresh HOME, commands run inside the
# session before it starts, the command line (the folder is appended).
THUNAR_XML = """<?xml version="1.0" encoding="UTF-8"?>
<channel name="thunar" version="1.0">
  <property name="last-view" type="string" value="ThunarIconView"/>
  <property name="last-icon-view-zoom-level" type="string" value="THUNAR_ZOOM_LEVEL_150_PERCENT"/>
  <property name="misc-thumbnail-mode" type="string" value="THUNAR_THUMBNAIL_MODE_ALWAYS"/>
  <property name="last-window-width" type="int" value="1200"/>
  <property name="last-window-height" type="int" value="900"/>
  <property name="last-window-maximized" type="bool" value="true"/>
</channel>
"""
PCMANFM_CONF = """[config]
bm_open_method=0

[ui]
win_width=1200
win_height=900
maximized=1
view_mode=thumbnail
show_hidden=0
"""
LIBFM_CONF = """[config]
single_click=0
show_thumbnail=1
thumbnail_local=1
thumbnail_max=0
"""
NAUTILUS_SETTINGS = [
    ("org.gnome.nautilus.preferences", "default-folder-viewer", "icon-view"),
    ("org.gnome.nautilus.preferences", "show-image-thumbnails", "always"),
    ("org.gnome.nautilus.icon-view", "default-zoom-level", "small"),
    ("org.gnome.nautilus.window-state", "initial-size", "'(1200, 900)'"),
]


def missing_tools(fm=None):
    want = list(TOOLS) + ([fm] if fm else [])
    return [t for t in want if shutil.which(t) is None]


def prepare_home(home, fm):
    """Settings for @fm in @home (idempotent: a second run keeps the thumbnail cache)."""
    os.makedirs(home, exist_ok=True)
    cfg = os.path.join(home, ".config")
    if fm == "thunar":
        d = os.path.join(cfg, "xfce4", "xfconf", "xfce-perchannel-xml")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "thunar.xml"), "w") as f:
            f.write(THUNAR_XML)
    elif fm == "pcmanfm":
        d = os.path.join(cfg, "pcmanfm", "default")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "pcmanfm.conf"), "w") as f:
            f.write(PCMANFM_CONF)
        d = os.path.join(cfg, "libfm")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "libfm.conf"), "w") as f:
            f.write(LIBFM_CONF)


def fm_command(fm, folder):
    if fm == "thunar":
        return ["thunar", folder]
    if fm == "pcmanfm":
        return ["pcmanfm", "--no-desktop", folder]
    if fm == "nautilus":
        sets = "; ".join(f"gsettings set {s} {k} \"{v}\"" for s, k, v in NAUTILUS_SETTINGS)
        return ["sh", "-c", sets + '; exec nautilus --new-window "$0"', folder]
    raise ValueError(fm)


class ProcSampler(threading.Thread):
    """Records pid -> (comm, exe, ppid) for every process seen, every @interval s."""

    def __init__(self, interval=0.05):
        super().__init__(daemon=True)
        self.interval = interval
        self.seen = {}
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            # FUSE shows the calling thread's id: list every task, not just processes.
            for name in os.listdir("/proc"):
                if not name.isdigit():
                    continue
                try:
                    tids = os.listdir(f"/proc/{name}/task")
                except OSError:
                    continue
                for tid in tids:
                    # Described again each pass: a forked child shows its parent's
                    # name until it execs (PCManFM's "loader" thread -> evince-thumbnailer).
                    d = describe(int(tid))
                    if d:
                        d["tgid"] = int(name)
                        if tid != name:
                            d["process"] = (self.seen.get(int(name)) or {}).get("comm")
                        self.seen[int(tid)] = d
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join(5)


def describe(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            comm = f.read().strip()
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            exe = "?"
        with open(f"/proc/{pid}/stat") as f:
            ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        with open(f"/proc/{pid}/status") as f:
            nspid = next((l.split()[1:] for l in f if l.startswith("NSpid:")), [])
        return {"comm": comm, "exe": exe, "ppid": ppid, "nspid": nspid}
    except (OSError, IndexError, ValueError):
        return None


def start_xvfb(size="1280x1024x24"):
    """Xvfb on a free display (-displayfd): returns (proc, ':N')."""
    r, w = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", size, "-nolisten", "tcp",
                             "-noreset"], pass_fds=(w,), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    os.close(w)
    buf = b""
    end = time.monotonic() + 20
    while not buf.endswith(b"\n") and time.monotonic() < end:
        chunk = os.read(r, 16)
        if not chunk:
            break
        buf += chunk
    os.close(r)
    if not buf.strip():
        proc.kill()
        raise RuntimeError("Xvfb did not start")
    return proc, ":" + buf.decode().strip()


def session_env(home, display):
    runtime = os.path.join(home, ".runtime")
    os.makedirs(runtime, mode=0o700, exist_ok=True)
    os.chmod(runtime, 0o700)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("XDG_", "DBUS_", "FACTUURSTUREN_", "WAYLAND", "DISPLAY"))}
    env.update(HOME=home, XDG_RUNTIME_DIR=runtime, DISPLAY=display,
               XDG_CONFIG_HOME=os.path.join(home, ".config"),
               XDG_CACHE_HOME=os.path.join(home, ".cache"),
               XDG_DATA_HOME=os.path.join(home, ".local", "share"),
               NO_AT_BRIDGE="1", LANG="C.UTF-8")
    return env


def kill_session(proc):
    """Ends @proc's session (dbus-run-session, its bus, the services it activated)."""
    sid = proc.pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = []
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    if os.getsid(int(name)) == sid:
                        pids.append(int(name))
                except OSError:
                    pass
        if not pids:
            break
        for p in pids:
            try:
                os.kill(p, sig)
            except OSError:
                pass
        end = time.monotonic() + 5
        while proc.poll() is None and time.monotonic() < end:
            time.sleep(0.05)
        time.sleep(0.3)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass


def window_ids(env, name=None):
    args = ["xdotool", "search", "--onlyvisible"] + (["--name", name] if name else ["--name", "."])
    r = subprocess.run(args, env=env, capture_output=True, text=True, timeout=10)
    return r.stdout.split()


def screenshot(env, path):
    subprocess.run(["import", "-window", "root", path], env=env, check=True,
                   capture_output=True, timeout=60)
    r = subprocess.run(["identify", "-format", "%k", path], capture_output=True, text=True,
                       timeout=60, check=True)
    return int(r.stdout.strip() or 0)


def read_from(path, offset):
    with open(path, encoding="utf-8", errors="replace") as f:
        f.seek(offset)
        return f.read()


def file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


# -- what the run cost ---------------------------------------------------------------
READ_RE = re.compile(r"opcode: (\w+) \(\d+\), nodeid: (\d+), insize: \d+, pid: (\d+)")


def fuse_ops(debug_text, names=None):
    """(opcode counts, {pid: Counter of READs by file suffix}) from libfuse's -d output;
    @names maps node ids (inode numbers) to file names."""
    ops = collections.Counter()
    reads = collections.defaultdict(collections.Counter)
    names = names or {}
    for m in READ_RE.finditer(debug_text):
        ops[m.group(1)] += 1
        if m.group(1) == "READ":
            name = names.get(int(m.group(2)), "?")
            reads[int(m.group(3))][os.path.splitext(name)[1] or name] += 1
    return ops, reads


def inode_names(folder):
    try:
        return {e.inode(): e.name for e in os.scandir(folder)}
    except OSError:
        return {}


# -- thumbnails and thumbnailers --------------------------------------------------------
def file_uri(path):
    """The URI GLib makes of a local path (g_filename_to_uri)."""
    return "file://" + urllib.parse.quote(path, safe="/!$&'()*+,;=:@~")


def thumbnails(home, folder, names=None):
    """The files of @folder (@names, if given: listing the folder is a request to the
    mount) the thumbnail cache in @home holds a thumbnail of: by the freedesktop.org
    spec, ~/.cache/thumbnails/<size>/<md5 of the file's URI>.png (PCManFM writes no
    Thumb::URI into them, so the name is what tells).  Failures (fail/) are not
    thumbnails.  Returns {file name: thumbnail path}."""
    root = os.path.join(home, ".cache", "thumbnails")
    have = {}
    for size in ("normal", "large", "x-large", "xx-large"):
        try:
            for n in os.listdir(os.path.join(root, size)):
                have[n[:-4]] = os.path.join(root, size, n)
        except OSError:
            pass
    out = {}
    for name in os.listdir(folder) if names is None else names:
        h = hashlib.md5(file_uri(os.path.join(folder, name)).encode()).hexdigest()
        if h in have:
            out[name] = have[h]
    return out


def descendants(pid):
    """The pids of @pid's descendants (a session's bus activates its services, and
    the file manager its thumbnailers, as children)."""
    children = collections.defaultdict(list)
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children[ppid].append(int(name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def session(pid):
    """The processes of the session @pid leads (start_new_session) and its descendants:
    a service the bus activates is reparented to init but stays in the session."""
    out = set(descendants(pid))
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.getsid(int(name)) == pid:
                    out.add(int(name))
            except OSError:
                pass
    return sorted(out)


def thumbnailers(pid):
    """The thumbnailer processes running in @pid's session: one per file, started by
    tumblerd (Thunar), PCManFM (evince-thumbnailer) or Nautilus (the same, inside
    bwrap).  (tumblerd itself is a service that stays.)"""
    out = []
    for p in session(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        state = stat[stat.rindex(")") + 2]
        if ("thumbnai" in comm or comm == "bwrap") and state != "Z":
            out.append((p, comm))
    return out


def pdf_names(paths):
    """The file names (invoices/<name>) of the PDFs fetched, from the fake's log paths."""
    return {urllib.parse.unquote(p.split("/", 1)[1]).replace("%", "%25").replace("/", "%2F")
            + ".pdf" for p in paths if p.startswith("invoices_pdf/")}


def classify(reqs):
    """Counts of the fake's log lines: pdf fetches, listings, records, other."""
    out = collections.Counter()
    paths = []
    for r in reqs:
        path = urllib.parse.urlsplit(r["path"]).path
        rest = path.split("/api/v1/", 1)[-1].strip("/")
        paths.append(rest)
        if rest.startswith("invoices_pdf/"):
            out["pdf"] += 1
        elif "/" not in rest:
            out["listing:" + rest] += 1
        else:
            out["record:" + rest.split("/")[0]] += 1
    out["total"] = len(reqs)
    return out, paths


# How long an open may take to come to rest (Nautilus on a loaded 2-CPU machine: ~4 min).
DEADLINE = float(os.environ.get("FACTUURFS_DESKTOP_DEADLINE", "600"))


def run_file_manager(fm, fake, mount, home, outdir, expect_thumbs=(), check=2.0,
                     deadline=DEADLINE, tag=""):
    """Opens mount's invoices/ in @fm until it has come to rest (or @deadline); then
    screenshots it.  At rest, checked every @check seconds: the folder was read (a
    READDIR reached factuurfs) and so was every .json in it (each file manager reads
    them all to tell their type), thumbnailing began (a PDF was read; only when
    @expect_thumbs is empty, as on a first open), no thumbnailer
    process is running, every PDF fetched in this run and every name in @expect_thumbs
    has its thumbnail in the cache, and neither the fake's log nor factuurfs' -d output
    grew since the last check.  Returns a dict of figures."""
    prepare_home(home, fm)
    xvfb, display = start_xvfb()
    env = session_env(home, display)
    sampler = ProcSampler()
    sampler.start()
    mark = fake.mark()
    dbg0 = file_size(mount.stderr_path)
    folder = mount.path("invoices")
    log = open(os.path.join(outdir, f"{fm}{tag}.session.log"), "w")
    t0 = time.monotonic()
    proc = subprocess.Popen(["dbus-run-session", "--"] + fm_command(fm, folder), env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    res = {"fm": fm, "display": display}
    try:
        end = t0 + deadline
        win = None
        while time.monotonic() < end and proc.poll() is None:
            ids = window_ids(env)
            if ids:
                win = time.monotonic() - t0
                break
            time.sleep(0.2)
        res["window_after_s"] = win
        listed = None
        last = None
        waiting = "the folder to be read"
        timeline = res["timeline"] = []  # (seconds, what it was waiting for), as it changed
        names = None
        while time.monotonic() < end and proc.poll() is None:
            time.sleep(check)
            dbg = read_from(mount.stderr_path, dbg0)
            if listed is None and dbg.find("opcode: READDIR") >= 0:
                listed = round(time.monotonic() - t0, 1)
                names = inode_names(folder)
            now = (fake.mark(), file_size(mount.stderr_path))
            read = {names.get(int(m.group(2)), "?") for m in READ_RE.finditer(dbg)
                    if m.group(1) == "READ"} if names else set()
            njson = sum(n.endswith(".json") for n in names.values()) if names else 0
            busy = thumbnailers(proc.pid)
            have = set(thumbnails(home, folder, names.values() if names else ()))
            want = pdf_names(classify(fake.since(mark))[1]) | set(expect_thumbs)
            if listed is None:
                waiting = "the folder to be read"
            elif sum(n.endswith(".json") for n in read) < njson:
                waiting = f"the .json files to be read ({sum(n.endswith('.json') for n in read)} of {njson})"
            elif not expect_thumbs and not any(n.endswith(".pdf") for n in read):
                # Only on a first open: on the next one the thumbnails are in the cache
                # and a file manager may rightly read no PDF at all (Nautilus sometimes
                # does, sometimes not; waiting for it hung a CI run to the deadline).
                waiting = "thumbnailing to begin"
            elif busy:
                waiting = f"{len(busy)} thumbnailers to end ({busy[0][1]})"
            elif want - have:
                waiting = f"the thumbnails of {len(want - have)} PDFs"
            elif now != last:
                waiting = "the fake's log and factuurfs' requests to stop growing"
            else:
                waiting = None
                break
            if not timeline or timeline[-1][1] != waiting:
                timeline.append((round(time.monotonic() - t0, 1), waiting))
            last = now
        res["listed_after_s"] = listed
        res["quiet_after_s"] = round(time.monotonic() - t0, 1)
        res["timed_out"] = waiting is not None
        res["waiting_for"] = waiting
        res["fm_exited"] = proc.poll()
        png = os.path.join(outdir, f"{fm}{tag}.png")
        res["screenshot"] = png
        res["colours"] = screenshot(env, png)
        res["windows"] = len(window_ids(env))
    finally:
        kill_session(proc)
        log.close()
        xvfb.terminate()
        try:
            xvfb.wait(10)
        except subprocess.TimeoutExpired:
            xvfb.kill()
        sampler.stop()
    reqs = fake.since(mark)
    res["calls"], res["paths"] = classify(reqs)
    res["thumbnails"] = sorted(thumbnails(home, folder, names.values() if names else None))
    with open(mount.stderr_path, encoding="utf-8", errors="replace") as f:
        f.seek(dbg0)
        dbg = f.read()
    res["ops"], reads = fuse_ops(dbg, inode_names(folder))
    res["readers"] = {pid: (sampler.seen.get(pid) or {"comm": "?", "exe": "?"}, dict(n))
                      for pid, n in reads.items()}
    res["debug_tail"] = dbg[-2000:]
    return res


def summary(res):
    c = res["calls"]
    lines = [f"{res['fm']}: {c['total']} API calls ({c['pdf']} PDFs, "
             + ", ".join(f"{k} {v}" for k, v in sorted(c.items()) if k not in ("total", "pdf"))
             + f"); window after {res['window_after_s']} s, at rest after {res['quiet_after_s']} s"
             + f", {len(res['thumbnails'])} thumbnails"
             + f", screenshot {res['colours']} colours"]
    lines.append("  waited for: " + "; ".join(f"{w} ({t} s)" for t, w in res.get("timeline", [])))
    lines.append("  FUSE ops: " + ", ".join(f"{k} {v}" for k, v in res["ops"].most_common()))
    for pid, (d, n) in sorted(res["readers"].items()):
        lines.append(f"  READs {n} from pid {pid}: {d.get('comm')} {d.get('exe')} "
                     f"(process {d.get('tgid')} {d.get('process') or ''}) "
                     f"nspid={d.get('nspid')} ppid={d.get('ppid')}")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys
    import tempfile
    sys.path.insert(0, os.path.dirname(HERE))
    from harness import Fake, Mount  # noqa: E402
    fm = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="desk-")
    fake = Fake(tmp, "--generate", "clients=20,invoices=500,products=5", "--rate-limit", "100000")
    m = Mount(fake, tmp, opts=sys.argv[2:], extra_args=["-d"])
    try:
        r = run_file_manager(fm, fake, m, os.path.join(tmp, "home"), tmp)
        print(summary(r))
        print("out:", tmp)
    finally:
        m.unmount()
        fake.stop()
