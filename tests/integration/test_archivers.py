"""Archivers and whole-tree readers at three points of the archive: a fresh mount (no
PDF on disk), half-way (half the PDFs on disk, from an earlier mount) and complete.
Each copies every PDF exactly or fails loudly (an exit status other than 0 and a message),
never exits 0 with a padded, cut or missing PDF; a copier makes one call per PDF it did
not have, and none when run again (docs/SEMANTICS.md, "PDF sizes").

The mounts keep an archive but fetch nothing in the background (-o prefetch=0), so that
the state does not move during a run.  With -s the table the README shows is printed.
"""
import os
import shutil
import subprocess

import pytest

from expected import file_stem
from harness import DEADLINE, FACTUURFS, Fake, Mount

STATES = ("fresh", "half", "complete")

# name: (the run, in the mount's root, writing into {w}; how to unpack its output into
# {w}/out; where the copies of invoices/ are then), None for a reader that copies nothing.
TOOLS = {
    "rdiff-backup": ("rdiff-backup backup invoices {w}/rd", None, "{w}/rd"),
    "bsdtar": ("bsdtar -cf {w}/x.tar invoices", "bsdtar -xf {w}/x.tar", "{w}/out/invoices"),
    "pax": ("pax -w -f {w}/x.tar invoices", "pax -r -f {w}/x.tar", "{w}/out/invoices"),
    "python tarfile": ("/usr/bin/python3 -c \"import tarfile; t = tarfile.open('{w}/x.tar', "
                       "'w'); t.add('invoices'); t.close()\"",
                       "tar xf {w}/x.tar", "{w}/out/invoices"),
    "rclone copy": ("rclone --config /dev/null copy invoices {w}/rc", None, "{w}/rc"),
    "cpio -o": ("find invoices | cpio -o > {w}/x.cpio", "cpio -id < {w}/x.cpio",
                "{w}/out/invoices"),
    "grep -r": ("grep -r -l %PDF- .", None, None),
    "GNU tar": ("tar cf {w}/x.tar invoices", "tar xf {w}/x.tar", "{w}/out/invoices"),
    "rsync -a": ("rsync -a invoices/ {w}/rs/", None, "{w}/rs"),
    "zip -r": ("zip -r -q {w}/x.zip invoices", "unzip -q {w}/x.zip", "{w}/out/invoices"),
}
# Those that take a file's size from a stat by path and store that many bytes, and that
# factuurfs knows by name (src/base/who.c): exact in every state.  Python's tarfile is
# one too, but it runs as python3, which says nothing of what it does: it fails loudly
# ("unexpected end of data") until the archive is complete.
COPIERS = {"rdiff-backup", "bsdtar", "pax", "rclone copy", "cpio -o", "GNU tar",
           "rsync -a", "zip -r"}

TABLE = {}


def pdf_calls(reqs):
    return [r for r in reqs if "/invoices_pdf/" in r["path"]]


@pytest.fixture(scope="module")
def account(workdir):
    """Ten invoices, two of whose PDFs are bigger than the placeholder (32 KiB), and a
    cache directory for each state: none, half the PDFs, all of them."""
    f = Fake(workdir, "--generate", "clients=3,invoices=10,products=2", "--rate-limit", "100000")
    invs = sorted(r["invoicenr"] for r in f.state("invoices"))
    f.set_pdf_size(invs[3], 100_000)
    f.set_pdf_size(invs[8], 1_000_000)
    truth = {nr: f.pdf(nr) for nr in invs}
    caches = {}
    for state in ("half", "complete"):
        m = Mount(f, workdir, opts=["prefetch=0"], archive=True)
        if state == "half":
            for nr in invs[::2]:
                with open(m.path("invoices", file_stem(nr) + ".pdf"), "rb") as fh:
                    assert fh.read() == truth[nr]
        else:
            r = subprocess.run([FACTUURFS, "fetch", m.mnt], capture_output=True, text=True,
                               timeout=DEADLINE * 4)
            assert r.returncode == 0, r
        assert m.unmount() == 0
        caches[state] = m.cache
    yield f, invs, truth, caches
    f.stop()
    print_table()


def print_table():
    if not TABLE:
        return
    print("\n| program | fresh mount | half-way | archive complete |")
    print("| --- | --- | --- | --- |")
    for tool in TOOLS:
        cells = [TABLE.get((tool, s), "") for s in STATES]
        print(f"| {tool} | " + " | ".join(cells) + " |")


def run_tool(tool, m, f, invs, truth, tmp_path):
    """Runs @tool on mount @m: (exit status, stdout, stderr, PDFs exact, PDF calls, calls
    again)."""
    make, unpack, where = TOOLS[tool]
    w = tmp_path / "w"
    (w / "out").mkdir(parents=True)
    os.listdir(m.path("invoices"))  # the listing, before: not the tool's calls
    mark = f.mark()
    r = subprocess.run(make.format(w=w), shell=True, cwd=m.mnt, capture_output=True,
                       text=True, timeout=DEADLINE * 4)
    calls = len(pdf_calls(f.since(mark)))
    if unpack:
        subprocess.run(unpack.format(w=w), shell=True, cwd=w / "out", capture_output=True,
                       timeout=DEADLINE * 4)
    exact = None
    if where:
        d = where.format(w=w)
        exact = 0
        for nr in invs:
            p = os.path.join(d, file_stem(nr) + ".pdf")
            if os.path.exists(p):
                with open(p, "rb") as fh:
                    exact += fh.read() == truth[nr]
    w2 = tmp_path / "again"
    (w2 / "out").mkdir(parents=True)
    mark = f.mark()
    subprocess.run(make.format(w=w2), shell=True, cwd=m.mnt, capture_output=True,
                   timeout=DEADLINE * 4)
    again = len(pdf_calls(f.since(mark)))
    return r.returncode, r.stdout, r.stderr, exact, calls, again


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("tool", list(TOOLS))
def test_exact_or_loud(account, mounts, tmp_path, tool, state):
    f, invs, truth, caches = account
    env = {}
    if state != "fresh":
        cache = tmp_path / "cache"
        shutil.copytree(caches[state], cache)
        env["XDG_CACHE_HOME"] = str(cache)
    m = mounts(f, opts=["prefetch=0"], archive=True, env=env)
    missing = {"fresh": len(invs), "half": len(invs) // 2, "complete": 0}[state]
    rc, out, err, exact, calls, again = run_tool(tool, m, f, invs, truth, tmp_path)
    n = len(invs)
    TABLE[(tool, state)] = (f"exit {rc}, " + (f"{exact}/{n} exact, " if exact is not None else "")
                            + f"{calls} PDF call{'s' if calls != 1 else ''}"
                            + (f", again {again}" if again else ""))
    # the rule: exact, or a failure that says so
    if exact is not None and exact < n:
        assert rc != 0 and err.strip(), (tool, state, rc, err)
    assert again == 0 or tool == "python tarfile", (tool, state, again)
    if tool in COPIERS:
        assert (rc, exact, calls) == (0, n, missing), (tool, state, rc, exact, calls, err)
    elif tool == "python tarfile":
        if state == "complete":
            assert (rc, exact, calls) == (0, n, 0), (state, rc, exact, calls, err)
        else:
            assert rc != 0 and "unexpected end of data" in err, (state, rc, err)
    elif tool == "grep -r":
        # A text searcher never fetches a PDF: those not on disk are refused, each named
        # with the reason, and grep exits 2; once the archive is complete they are searched.
        assert calls == 0, (state, calls)
        # (the quotations' PDFs too, which the archive fetches after the invoices')
        refused = [line for line in err.splitlines() if line.startswith("grep: ./invoices/")
                   and line.endswith(".pdf: Resource temporarily unavailable")]
        assert len(refused) == missing, (state, err)
        assert rc == (0 if state == "complete" else 2), (state, rc, err)
        # the PDFs on disk are searched: each holds what grep looks for
        found = {line for line in out.splitlines() if line.startswith("./invoices/")}
        assert len(found) == n - missing, (state, out)
