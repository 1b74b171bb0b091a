"""Installing: `meson install` into a DESTDIR, then the installed files used as a system
uses them, in a scratch root.

The scratch root is a private mount namespace (`unshare -m`) in which the DESTDIR's
/usr/bin, /usr/sbin, /usr/share/man/man1 and /usr/lib/systemd/user are overlaid on the
real ones (read-only overlayfs; nothing outside the namespace changes). So mount(8)
finds /sbin/mount.fuse.factuurfs where it looks for helpers, and the unit's
/usr/bin/factuurfs is the one just installed.

- the man page renders with `man -l`, and its OPTIONS say what --help says;
- an fstab line of type fuse.factuurfs (`mount --fstab FILE MOUNTPOINT`) mounts through
  the installed helper, `ls clients/` works, `umount` unmounts and the daemon exits;
- `systemd-analyze verify` passes the user unit with no warning;
- the unit's own ExecStartPre/ExecStart/ExecStop/ExecStopPost lines, with %h and %i
  expanded, mount with READY=1 on $NOTIFY_SOCKET, and stop with STOPPING=1 and a clean
  unmount;
- `--version` names the version and the git commit of this checkout;
- bash completion is where bash-completion loads it from, and completes the options the
  binary parses (`--list-options`), their values (profiles from the rc file, languages,
  files, directories) and, for `status` and `refresh`, the mount points of factuurfs
  mounts (tests/complete.sh drives it as bash's TAB does).

The Debian package is checked by scripts/debtest.sh (built, installed, used and purged in
a throwaway root).
"""
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from harness import APIKEY, DEADLINE, ROOT, USER, Fake, Mount, wait_for

PREFIX = "/usr"
# The source tree to install from (this one; another for a snapshot of it).
SOURCE_TREE = os.environ.get("FACTUURFS_INSTALL_SRC", ROOT)
OVERLAID = ["usr/bin", "usr/sbin", "usr/share/man/man1", "usr/lib/systemd/user"]

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("meson") is None,
    reason="needs root, unshare(1) and meson")


def run(cmd, **kw):
    kw.setdefault("timeout", 600)
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def destdir(tmp_path_factory):
    """The source tree as it is, set up with --prefix=/usr, built and installed into a
    DESTDIR (only what `meson install` installs is built)."""
    top = tmp_path_factory.mktemp("install")
    build, dest = top / "build", top / "dest"
    r = run(["meson", "setup", "--prefix", PREFIX, str(build), SOURCE_TREE])
    assert r.returncode == 0, r.stdout + r.stderr
    r = run(["ninja", "-C", str(build), "factuurfs", "factuurfs.1", "mount.factuurfs.8"])
    assert r.returncode == 0, r.stdout + r.stderr
    r = run(["meson", "install", "-C", str(build), "--no-rebuild", "--destdir", str(dest)])
    assert r.returncode == 0, r.stdout + r.stderr
    return str(dest)


def installed(dest, *rel):
    return os.path.join(dest, PREFIX.lstrip("/"), *rel)


class ScratchRoot:
    """A process holding a private mount namespace with the DESTDIR overlaid on /usr."""

    def __init__(self, dest):
        self.holder = subprocess.Popen(["unshare", "-m", "--propagation", "private",
                                        "sleep", "3600"])
        wait_for(lambda: os.readlink(f"/proc/{self.holder.pid}/ns/mnt")
                 != os.readlink("/proc/self/ns/mnt"), "the new mount namespace")
        for d in OVERLAID:
            lower = os.path.join(dest, d)
            assert os.path.isdir(lower), f"meson install made no {d}"
            r = self.run(["mount", "-t", "overlay", "overlay", "-o",
                          f"lowerdir={lower}:/{d}", "/" + d])
            assert r.returncode == 0, r.stderr

    def cmd(self, argv):
        return ["nsenter", "-t", str(self.holder.pid), "-m", "--", *argv]

    def run(self, argv, **kw):
        kw.setdefault("timeout", DEADLINE * 2)
        return run(self.cmd(argv), **kw)

    def popen(self, argv, **kw):
        return subprocess.Popen(self.cmd(argv), **kw)

    def mounts(self):
        """(source, mount point, fstype) of every mount in the namespace."""
        with open(f"/proc/{self.holder.pid}/mountinfo") as f:
            out = []
            for line in f:
                left, right = line.split(" - ")
                unesc = lambda f: re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), f)
                out.append((unesc(right.split()[1]), unesc(left.split()[4]), right.split()[0]))
            return out

    def is_mounted(self, mnt):
        return any(m[1] == mnt for m in self.mounts())

    def close(self):
        for src, mnt, fstype in self.mounts():
            if fstype.startswith("fuse."):
                self.run(["umount", "-l", mnt])
        self.holder.kill()
        self.holder.wait()


@pytest.fixture(scope="module")
def scratch(destdir):
    s = ScratchRoot(destdir)
    yield s
    s.close()


@pytest.fixture
def world_tmp():
    """A scratch directory outside pytest's 0700 tree."""
    d = tempfile.mkdtemp(prefix="factuurfs-inst-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def daemons_on(mnt):
    """Pids of factuurfs processes whose command line names @mnt."""
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"factuurfs") and mnt.encode() in argv:
            pids.append(int(p))
    return pids


# ---- the man page ----------------------------------------------------------------------

def help_options(text):
    """{"-o url=URL": "API base URL (default ...)"} from --help's factuurfs options."""
    section = text.split("factuurfs options:\n", 1)[1].split("\n\n", 1)[0]
    opts, last = {}, None
    for line in section.splitlines():
        m = re.match(r"^    (-o \S+)\s+(.*)$", line)
        if m:
            last = m.group(1)
            opts[last] = m.group(2).strip()
        elif last and line.startswith(" " * 20):
            opts[last] += " " + line.strip()
    return opts


def rendered_man(path):
    r = run(["man", "-l", path], env={**os.environ, "MANWIDTH": "100", "LC_ALL": "C.UTF-8",
                                       "MAN_KEEP_FORMATTING": "", "MANPAGER": "cat",
                                       "PAGER": "cat"})
    assert r.returncode == 0 and r.stdout.strip(), r.stderr
    text = re.sub(r".\x08", "", r.stdout)            # overstrike bold/underline
    text = re.sub("\u2010\n\\s*", "", text)          # words hyphenated at a line end
    return text.replace("\u2010", "-").replace("\u2212", "-").replace("\u2019", "'")


def test_man_page_renders_and_says_what_help_says(destdir):
    page = installed(destdir, "share", "man", "man1", "factuurfs.1")
    assert os.path.isfile(page)
    text = rendered_man(page)
    assert "factuurfs - mount a factuursturen.nl account as files" in text
    for heading in ("SYNOPSIS", "OPTIONS", "MOUNTING FROM FSTAB", "SYSTEMD"):
        assert re.search(rf"^{heading}$", text, re.M), heading
    flat = " ".join(text.split())
    h = run([installed(destdir, "bin", "factuurfs"), "--help"])
    assert h.returncode == 0
    opts = help_options(h.stdout)
    assert len(opts) >= 14 and "-o apikey_file=FILE" in opts and "-o allow_other" in opts
    for opt, desc in opts.items():
        # The option's line, then its first sentence: the help's words, capitalised.
        want = f"{opt} {desc[0].upper()}{desc[1:]}."
        assert want in flat, f"man page lacks {want!r}"


# ---- mount(8) and /etc/fstab ------------------------------------------------------------

def test_installed_helper_names(destdir):
    sbin = installed(destdir, "sbin")
    helper = os.path.join(sbin, "mount.factuurfs")
    assert os.access(helper, os.X_OK)
    assert os.readlink(os.path.join(sbin, "mount.fuse.factuurfs")) == "mount.factuurfs"
    with open(helper) as f:
        assert f"{PREFIX}/bin/factuurfs" in f.read()


@pytest.fixture
def fake(world_tmp):
    f = Fake(world_tmp, "--generate", "clients=5,invoices=3,products=3")
    yield f
    f.stop()


def test_fstab_line_mounts_through_the_installed_helper(scratch, fake, world_tmp):
    home = os.path.join(world_tmp, "home")
    mnt = os.path.join(home, "factuur")
    os.makedirs(mnt)
    # The profile named by SOURCE gives the username; the key comes from apikey_file.
    rc = os.path.join(home, ".factuursturen_rc")
    with open(rc, "w") as f:
        f.write(f"[default]\nusername = nobody\n\n[work]\nusername = {USER}\n")
    key = os.path.join(world_tmp, "key")
    with open(key, "w") as f:
        f.write(APIKEY + "\n")
    os.chmod(key, 0o600)
    fstab = os.path.join(world_tmp, "fstab")
    opts = f"url={fake.url},apikey_file={key},noauto,user,_netdev,x-systemd.automount,ro"
    with open(fstab, "w") as f:
        f.write("# a scratch fstab\n"
                f"factuurfs#work  {mnt}  fuse.factuurfs  {opts}  0  0\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTUURSTUREN_")}
    env.update(XDG_CACHE_HOME=os.path.join(world_tmp, "cache"))
    # mount(8) drops $HOME: the helper finds root's home in passwd, which in the scratch
    # root is the scratch home.
    r = scratch.run(["mount", "--bind", home, "/root"])
    assert r.returncode == 0, r.stderr

    r = scratch.run(["mount", "--fstab", fstab, mnt], env=env, cwd="/")
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        (src, _, fstype), = [m for m in scratch.mounts() if m[1] == mnt]
        assert (src, fstype) == ("factuurfs#work", "fuse.factuurfs")
        r = scratch.run(["ls", os.path.join(mnt, "clients")])
        assert r.returncode == 0 and "1.json" in r.stdout.split(), r.stdout + r.stderr
        assert scratch.run(["touch", os.path.join(mnt, "x")]).returncode != 0   # ro passed
        # The helper went to the background: one daemon, not the mount(8) process.
        assert len(daemons_on(mnt)) == 1
        assert all(q["status"] == 200 for q in fake.requests())
    finally:
        r = scratch.run(["umount", mnt])
    assert r.returncode == 0, r.stderr
    assert not scratch.is_mounted(mnt)
    wait_for(lambda: not daemons_on(mnt), "the daemon to exit after umount")
    assert scratch.run(["umount", "/root"]).returncode == 0


def test_fstab_mount_with_wrong_key_fails_with_the_message(scratch, fake, world_tmp):
    mnt = os.path.join(world_tmp, "m")
    os.makedirs(mnt)
    key = os.path.join(world_tmp, "badkey")
    with open(key, "w") as f:
        f.write("wrong-key-zzz\n")
    os.chmod(key, 0o600)
    fstab = os.path.join(world_tmp, "fstab")
    with open(fstab, "w") as f:
        f.write(f"default {mnt} fuse.factuurfs "
                f"url={fake.url},username={USER},apikey_file={key},noauto 0 0\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTUURSTUREN_")}
    env.update(HOME=world_tmp, XDG_CACHE_HOME=os.path.join(world_tmp, "cache"))
    r = scratch.run(["mount", "-T", fstab, mnt], env=env, cwd="/")
    assert r.returncode != 0
    assert "refused the credentials" in r.stderr and "wrong-key-zzz" not in r.stderr
    assert not scratch.is_mounted(mnt) and not daemons_on(mnt)


# ---- the systemd user unit --------------------------------------------------------------

def unit_path(dest):
    return installed(dest, "lib", "systemd", "user", "factuurfs@.service")


def test_unit_passes_systemd_analyze_verify(scratch, destdir, world_tmp):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze missing")
    # An instance of the template, as the overlaid /usr/lib/systemd/user holds it.
    inst = os.path.join(world_tmp, "units")
    os.makedirs(inst)
    os.symlink("/usr/lib/systemd/user/factuurfs@.service",
               os.path.join(inst, "factuurfs@work.service"))
    rt = os.path.join(world_tmp, "run")
    os.makedirs(rt, mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": rt, "SYSTEMD_LOG_LEVEL": "info"}
    r = scratch.run(["systemd-analyze", "verify", "--user", "--man=yes",
                     os.path.join(inst, "factuurfs@work.service")], env=env)
    assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "", \
        r.stdout + r.stderr


def unit_commands(path, home, instance, environment):
    """{key: [argv, ...]} of the unit's Exec* lines: %h, %i and $VARS expanded (from
    Environment= and @environment, as systemd does for unquoted $VAR), and the
    `-` prefix (failure ignored) noted as ("-", argv)."""
    env, cmds = {}, {}
    with open(path) as f:
        lines = [l.strip() for l in f if l.strip() and not l.startswith(("#", ";"))]
    for l in lines:
        if l.startswith("Environment="):
            k, v = l.split("=", 1)[1].split("=", 1)
            env[k] = v
    env.update(environment)
    for l in lines:
        m = re.match(r"^(Exec\w+)=(.*)$", l)
        if not m:
            continue
        line = m.group(2).replace("%h", home).replace("%i", instance).replace("%%", "%")
        ignore = line.startswith("-")
        argv = []
        for word in shlex.split(line.lstrip("-")):
            if word.startswith("$") and word[1:] in env:
                argv += shlex.split(env[word[1:]])
            else:
                argv.append(word)
        cmds.setdefault(m.group(1), []).append((ignore, argv))
    return cmds


def recv_all(sock, want, timeout):
    """Datagrams received until one holds @want (a line); returns them all."""
    got, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            break
        got.append(msg)
        if want in msg.splitlines():
            return got
    raise AssertionError(f"no {want} on NOTIFY_SOCKET (got {got})")


def test_unit_commands_mount_notify_and_unmount(scratch, destdir, fake, world_tmp):
    home = os.path.join(world_tmp, "home")
    os.makedirs(home)
    rc = os.path.join(home, ".factuursturen_rc")
    with open(rc, "w") as f:
        f.write(f"[work]\nusername = {USER}\napikey = {APIKEY}\n")
    os.chmod(rc, 0o600)
    mnt = os.path.join(home, "factuur-work")
    # What a drop-in would say: the fake's URL.
    cmds = unit_commands(unit_path(destdir), home, "work",
                         {"FACTUURFS_OPTIONS": f"-ourl={fake.url}"})
    assert set(cmds) == {"ExecStartPre", "ExecStart", "ExecStop", "ExecStopPost"}
    (_, start), = cmds["ExecStart"]
    assert start[:2] == [f"{PREFIX}/bin/factuurfs", "-f"] and start[-2:] == ["work", mnt]
    with open(unit_path(destdir)) as f:
        unit = f.read()
    assert re.search(r"^Type=notify$", unit, re.M)

    sock_path = os.path.join(world_tmp, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTUURSTUREN_")}
    env.update(HOME=home, NOTIFY_SOCKET=sock_path, XDG_CACHE_HOME=os.path.join(home, ".cache"))
    proc = None
    try:
        for ignore, argv in cmds["ExecStartPre"]:
            r = scratch.run(argv, env=env, cwd=home)
            assert ignore or r.returncode == 0, r.stderr
        assert os.path.isdir(mnt)
        proc = scratch.popen(start, env=env, cwd=home, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        got = recv_all(sock, "READY=1", DEADLINE)
        assert scratch.is_mounted(mnt), got
        r = scratch.run(["ls", os.path.join(mnt, "clients")])
        assert r.returncode == 0 and "1.json" in r.stdout.split(), r.stderr
        assert proc.poll() is None   # -f: the daemon is the unit's main process

        for ignore, argv in cmds["ExecStop"]:
            r = scratch.run(argv, env=env, cwd=home)
            assert r.returncode == 0, r.stderr
        assert proc.wait(DEADLINE) == 0, proc.stderr.read()
        recv_all(sock, "STOPPING=1", 5)
        for ignore, argv in cmds["ExecStopPost"]:
            r = scratch.run(argv, env=env, cwd=home)
            assert ignore or r.returncode == 0, r.stderr
        assert not scratch.is_mounted(mnt)
    finally:
        sock.close()
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        if scratch.is_mounted(mnt):
            scratch.run(["umount", "-l", mnt])


# ---- --version -------------------------------------------------------------------------

def project_version():
    with open(os.path.join(SOURCE_TREE, "meson.build")) as f:
        return re.search(r"version : '([^']+)'", f.read()).group(1)


def test_version_names_the_commit_of_the_checkout(destdir):
    if not os.path.exists(os.path.join(SOURCE_TREE, ".git")):
        pytest.skip("the source tree is not a git checkout")
    commit = run(["git", "-C", SOURCE_TREE, "describe", "--always", "--dirty", "--abbrev=12",
                  "--exclude=*"]).stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{12}(-dirty)?", commit), commit
    r = run([installed(destdir, "bin", "factuurfs"), "--version"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"factuurfs {project_version()} (git {commit})"
    assert lines[1].startswith("libfuse ")


# ---- bash completion ---------------------------------------------------------------------

COMPLETE = os.path.join(ROOT, "tests", "complete.sh")


def list_options(dest):
    r = run([installed(dest, "bin", "factuurfs"), "--list-options"])
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return r.stdout.splitlines()


def test_list_options_is_what_help_documents(destdir):
    """--list-options (the parse table) and --help name the same options: the completion
    offers what the help says, and an option missing from either fails here."""
    h = run([installed(destdir, "bin", "factuurfs"), "--help"])
    documented = set()
    for m in re.finditer(r"^ {4}(-[^ ].*?)(?: {2,}|$)", h.stdout, re.M):
        for opt in m.group(1).split(", "):
            # "-o url=URL" -> "-o url=", "-o ro" stays.
            documented.add(re.sub(r"=\S+$", "=", opt))
    listed = list_options(destdir)
    assert len(listed) == len(set(listed))
    assert set(listed) == documented
    assert "-o apikey=" not in listed and "-o cainfo=" not in listed   # refused, old


def complete(dest, line, cwd, env=None):
    """The lines bash's TAB makes of @line with the installed completion, as loaded by
    bash-completion from the DESTDIR's share/ (and its factuurfs first in PATH)."""
    e = {**os.environ, "XDG_DATA_DIRS": installed(dest, "share"),
         "PATH": installed(dest, "bin") + ":" + os.environ["PATH"], **(env or {})}
    r = run(["bash", COMPLETE, line], cwd=cwd, env=e, timeout=DEADLINE)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_completion_is_installed_where_bash_completion_loads_it(destdir, world_tmp):
    path = installed(destdir, "share", "bash-completion", "completions", "factuurfs")
    assert os.path.isfile(path)
    # complete.sh fails unless the loader found it and it set `complete -F _factuurfs`.
    assert complete(destdir, "factuurfs -o la", world_tmp) == ["factuurfs -o lang=", "nospace"]


def test_completion_of_options_and_their_values(destdir, world_tmp):
    names = [o[3:] for o in list_options(destdir) if o.startswith("-o ")]
    got = complete(destdir, "factuurfs -o ", world_tmp)
    assert got[-1] == "nospace" and got[:-1] == [f"factuurfs -o {n}" for n in names]
    # After a comma, attached to -o, and a flag with a space after it.
    assert complete(destdir, "factuurfs -o ro,cache_m", world_tmp) == \
        ["factuurfs -o ro,cache_max=", "nospace"]
    assert complete(destdir, "factuurfs -oro,nodisk", world_tmp) == ["factuurfs -oro,nodiskcache"]
    dashes = complete(destdir, "factuurfs --", world_tmp)
    assert dashes == ["factuurfs --help", "factuurfs --version"]

    # lang=: the languages the binary accepts (its refusal lists them).
    r = run([installed(destdir, "bin", "factuurfs"), "-o", "lang=zz", world_tmp])
    known = re.search(r"the service knows (.*)$", r.stderr, re.M).group(1)
    langs = re.split(r", | and ", known)
    assert len(langs) >= 5
    assert complete(destdir, "factuurfs -o ro,lang=", world_tmp) == \
        [f"factuurfs -o ro,lang={l}" for l in langs]

    # paging=: the readings the binary accepts (its refusal lists them).
    r = run([installed(destdir, "bin", "factuurfs"), "-o", "paging=zz", world_tmp])
    known = re.search(r"paging=zz: use (.*)$", r.stderr, re.M).group(1)
    readings = re.split(r", | or ", known)
    assert len(readings) >= 4
    assert complete(destdir, "factuurfs -o paging=", world_tmp) == \
        [f"factuurfs -o paging={v}" for v in readings]

    # profile= and the first operand: the sections of ./.factuursturen_rc, else ~/'s.
    home = os.path.join(world_tmp, "home")
    os.makedirs(os.path.join(home, "sub"))
    with open(os.path.join(home, ".factuursturen_rc"), "w") as f:
        f.write("[default]\nusername = a\n\n[work]\napikey = secret-key\n [shop-2]\n")
    os.chmod(os.path.join(home, ".factuursturen_rc"), 0o600)
    env = {"HOME": home}
    assert complete(destdir, "factuurfs -o profile=", world_tmp, env) == \
        ["factuurfs -o profile=default", "factuurfs -o profile=work",
         "factuurfs -o profile=shop-2"]
    first = complete(destdir, "factuurfs ", home, env)
    assert first[:5] == ["factuurfs status", "factuurfs refresh", "factuurfs default",
                         "factuurfs work", "factuurfs shop-2"]
    assert "factuurfs sub" in first[5:]          # a mount point, too
    assert not any("secret-key" in l for l in first)
    with open(os.path.join(world_tmp, ".factuursturen_rc"), "w") as f:
        f.write("[here]\nusername = b\n")
    assert complete(destdir, "factuurfs -o profile=", world_tmp, env) == \
        ["factuurfs -o profile=here"]
    # Then (SOURCE given) the mount point: directories only.
    assert complete(destdir, "factuurfs -f work s", home, env) == ["factuurfs -f work sub"]

    # apikey_file= and cafile= a file; cache_dir= a directory.
    with open(os.path.join(home, "sub", "key.txt"), "w") as f:
        f.write("x\n")
    assert complete(destdir, "factuurfs -o apikey_file=sub/k", home, env) == \
        ["factuurfs -o apikey_file=sub/key.txt"]
    assert complete(destdir, "factuurfs -o cafile=s", home, env) == \
        ["factuurfs -o cafile=sub/", "nospace"]
    assert complete(destdir, "factuurfs -o cache_dir=sub/", home, env) == []


def factuurfs_mounts():
    """Mount points of fuse.factuurfs mounts, from /proc/self/mounts (\\040 unescaped)."""
    with open("/proc/self/mounts") as f:
        return {re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), l.split()[1])
                for l in f if l.split()[2] == "fuse.factuurfs"}


def test_completion_of_status_and_refresh_names_factuurfs_mounts(destdir, fake, world_tmp):
    plain = os.path.join(world_tmp, "plain")
    spaced = os.path.join(world_tmp, "with space")
    os.makedirs(plain)
    os.makedirs(spaced)
    m = Mount(fake, world_tmp, mnt=plain)
    # (harness.Mount reads mountinfo's escaped names: this one is mounted by hand.)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTUURSTUREN_")}
    env.update(FACTUURSTUREN_USERNAME=USER, FACTUURSTUREN_APIKEY=APIKEY,
               XDG_CACHE_HOME=os.path.join(world_tmp, "cache"))
    proc = subprocess.Popen([installed(destdir, "bin", "factuurfs"), "-f", "-o",
                             "url=" + fake.url, spaced], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: spaced in factuurfs_mounts() or proc.poll() is not None, "the mount")
        assert proc.poll() is None, proc.stderr.read()
        offered = complete(destdir, "factuurfs status " + world_tmp + "/", world_tmp)
        assert offered == [f"factuurfs status {plain}", f"factuurfs status {spaced}"]
        # From /: these among the others of the machine (which come and go), and no
        # directory that is not a mount.
        got = [l.split(" ", 2)[2] for l in complete(destdir, "factuurfs status /", world_tmp)]
        assert plain in got and spaced in got
        assert not {"/tmp", "/usr", world_tmp} & set(got)
        assert complete(destdir, f"factuurfs status {plain} --", world_tmp) == \
            [f"factuurfs status {plain} --json"]
        # refresh's PATH: the mount's directories, from its root.
        assert complete(destdir, f"factuurfs refresh {plain} cl", world_tmp) == \
            [f"factuurfs refresh {plain} clients/", "nospace"]
        assert complete(destdir, f"factuurfs refresh {plain} views/s", world_tmp) == \
            [f"factuurfs refresh {plain} views/status/", "nospace"]
    finally:
        assert m.unmount() == 0, m.stderr()
        if proc.poll() is None:
            run(["fusermount3", "-u", spaced])
        assert proc.wait(DEADLINE) == 0, proc.stderr.read()
