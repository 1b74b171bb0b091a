"""Exact files for every program people use (docs/SEMANTICS.md, "PDF sizes").

Each program runs on a fresh mount with an empty PDF cache, over an account whose PDFs
include a 5 MB and a 50 MB one (larger than the placeholder an unfetched PDF shows):
every copy must hold exactly the service's bytes, and the program must see the true size.
"""
import filecmp
import mmap
import os
import shlex
import shutil
import stat
import subprocess

import pytest

from harness import DEADLINE, Fake, listing_calls, run

PLACEHOLDER = 32 * 1024  # what an unfetched PDF shows (src/vfs/coll.c, VFS_PDF_PLACEHOLDER)


@pytest.fixture(scope="module")
def account(workdir):
    """A small account, two of whose PDFs are padded past the placeholder; the truth is
    each PDF as the fake serves it."""
    f = Fake(workdir, "--generate", "clients=3,invoices=5,products=2", "--rate-limit", "100000")
    invs = sorted(r["invoicenr"] for r in f.state("invoices"))
    f.set_pdf_size(invs[1], 5_000_000)
    f.set_pdf_size(invs[2], 50_000_000)
    truth = {nr: f.pdf(nr) for nr in invs}
    assert len(truth[invs[2]]) == 50_000_000 and truth[invs[0]].startswith(b"%PDF-")
    yield f, invs, truth
    f.stop()


@pytest.fixture
def fresh(account, mounts):
    """A fresh mount (its own, empty PDF cache) on the account."""
    f, invs, truth = account
    m = mounts(f)
    return m, f, invs, truth


def pdf_calls(reqs):
    return [r for r in reqs if "/invoices_pdf/" in r["path"]]


def check_copies(where, invs, truth):
    """Every <nr>.pdf under @where equals the service's bytes."""
    for nr in invs:
        path = os.path.join(where, nr + ".pdf")
        assert os.path.getsize(path) == len(truth[nr]), f"{path}: size"
        with open(path, "rb") as fh:
            assert fh.read() == truth[nr], f"{path}: bytes differ"


def test_tar_archives_exact_pdfs(fresh, tmp_path):
    m, f, invs, truth = fresh
    archive = tmp_path / "x.tar"
    r = run("tar", "cf", str(archive), "-C", m.mnt, "invoices")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    out = tmp_path / "out"
    out.mkdir()
    r = run("tar", "xf", str(archive), "-C", str(out))
    assert r.returncode == 0 and r.stderr == ""
    check_copies(out / "invoices", invs, truth)
    assert len(pdf_calls(f.requests())) >= len(invs)


def test_rsync_of_the_whole_mount_is_exact_and_a_second_copies_nothing(fresh, tmp_path):
    m, f, invs, truth = fresh
    dest = tmp_path / "backup"
    r = run("rsync", "-a", m.mnt + "/", str(dest) + "/")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    check_copies(dest / "invoices", invs, truth)
    for name in os.listdir(m.path("clients")):
        assert filecmp.cmp(m.path("clients", name), dest / "clients" / name, shallow=False)
    mark = f.mark()
    r = run("rsync", "-a", "--itemize-changes", "--exclude", ".factuurfs",
            m.mnt + "/", str(dest) + "/")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    # -i prints a line per file it transferred (">f...") or changed: none.
    assert r.stdout == "", r.stdout
    assert pdf_calls(f.since(mark)) == []


def test_cp_a_copies_exact_pdfs(fresh, tmp_path):
    m, f, invs, truth = fresh
    r = run("cp", "-a", m.path("invoices"), str(tmp_path / "inv"))
    assert r.returncode == 0 and r.stderr == "", r.stderr
    check_copies(tmp_path / "inv", invs, truth)


def test_zip_and_unzip_t(fresh, tmp_path):
    m, f, invs, truth = fresh
    z = tmp_path / "x.zip"
    r = run("zip", "-r", "-q", str(z), "invoices", cwd=m.mnt)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    r = run("unzip", "-t", str(z))
    assert r.returncode == 0 and "No errors detected" in r.stdout, r.stdout
    out = tmp_path / "out"
    r = run("unzip", "-q", str(z), "-d", str(out))
    assert r.returncode == 0
    check_copies(out / "invoices", invs, truth)


def test_python_read_copy2_copytree(account, mounts, tmp_path):
    f, invs, truth = account
    m = mounts(f)
    for nr in invs:
        with open(m.path("invoices", nr + ".pdf"), "rb") as fh:
            assert fh.read() == truth[nr]
    m = mounts(f)
    (tmp_path / "c2").mkdir()
    for nr in invs:
        shutil.copy2(m.path("invoices", nr + ".pdf"), tmp_path / "c2")
    check_copies(tmp_path / "c2", invs, truth)
    m = mounts(f)
    shutil.copytree(m.path("invoices"), tmp_path / "tree")
    check_copies(tmp_path / "tree", invs, truth)


def test_mmap_after_fstat_and_lseek_end(account, mounts):
    f, invs, truth = account
    m = mounts(f)
    for nr in invs:
        with open(m.path("invoices", nr + ".pdf"), "rb") as fh:
            n = os.fstat(fh.fileno()).st_size
            assert n == len(truth[nr])
            with mmap.mmap(fh.fileno(), n, prot=mmap.PROT_READ) as mm:
                assert mm[:] == truth[nr]
    m = mounts(f)
    for nr in invs:
        fd = os.open(m.path("invoices", nr + ".pdf"), os.O_RDONLY)
        try:
            end = os.lseek(fd, 0, os.SEEK_END)
            assert end == len(truth[nr])
            os.lseek(fd, end - 6, os.SEEK_SET)
            assert os.read(fd, 6) == truth[nr][-6:]
        finally:
            os.close(fd)


def test_pdfinfo_and_pdftotext_on_the_mount(account, mounts):
    f, invs, truth = account
    m = mounts(f)
    for nr in invs:
        r = run("pdfinfo", m.path("invoices", nr + ".pdf"))
        assert r.returncode == 0, r.stderr
        size = [line.split()[2:] for line in r.stdout.splitlines()
                if line.startswith("File size:")]
        assert size == [[str(len(truth[nr])), "bytes"]], r.stdout
    m = mounts(f)
    for nr in invs:
        r = run("pdftotext", m.path("invoices", nr + ".pdf"), "-")
        assert r.returncode == 0 and nr in r.stdout, (r.stderr, r.stdout[:200])


def test_gio_copy(fresh, tmp_path):
    m, f, invs, truth = fresh
    (tmp_path / "g").mkdir()
    for nr in invs:
        r = run("gio", "copy", m.path("invoices", nr + ".pdf"), str(tmp_path / "g"))
        assert r.returncode == 0 and r.stderr == "", r.stderr
    check_copies(tmp_path / "g", invs, truth)


def test_looking_fetches_no_pdf(fresh):
    """ls -l, stat, find -size, du and what a file manager asks (gio list/info with every
    attribute) fetch no PDF: the calls are the listing's and nothing else."""
    m, f, invs, truth = fresh
    mark = f.mark()
    for cmd in (["ls", "-l", m.path("invoices")],
                ["stat", *[m.path("invoices", nr + ".pdf") for nr in invs]],
                ["find", m.path("invoices"), "-size", "+1k"],
                ["du", "-s", m.path("invoices")],
                ["gio", "list", "-a", "*", m.path("invoices")],
                ["gio", "info", m.path("invoices", invs[0] + ".pdf")]):
        r = run(*cmd)
        assert r.returncode == 0, (cmd, r.stderr)
    reqs = f.since(mark)
    assert pdf_calls(reqs) == []
    assert len(reqs) == len(listing_calls(reqs, "invoices")) == 1
    st = os.stat(m.path("invoices", invs[2] + ".pdf"))
    assert (st.st_size, st.st_blocks) == (PLACEHOLDER, PLACEHOLDER // 512)


def test_blocks_follow_the_true_size(fresh, tmp_path):
    m, f, invs, truth = fresh
    path = m.path("invoices", invs[0] + ".pdf")
    shutil.copyfile(path, tmp_path / "a.pdf")
    st = os.stat(path)
    assert st.st_size == len(truth[invs[0]])
    assert st.st_blocks == (st.st_size + 511) // 512
    assert stat.S_ISREG(st.st_mode)


def test_du_of_unfetched_invoices_is_near_the_truth(workdir, mounts):
    """du -s and a file manager's folder total (the sum of sizes) for 1,000 unfetched
    invoices stay within 10x of the true total."""
    f = Fake(workdir, "--generate", "clients=50,invoices=1000,products=2",
             "--rate-limit", "100000")
    try:
        m = mounts(f)
        mark = f.mark()
        r = run("du", "-s", "-B1", m.path("invoices"))
        assert r.returncode == 0
        du = int(r.stdout.split()[0])
        shown = sum(os.stat(m.path("invoices", n)).st_size
                    for n in os.listdir(m.path("invoices")) if n.endswith(".pdf"))
        assert pdf_calls(f.since(mark)) == []
        jsons = sum(os.path.getsize(m.path("invoices", n))
                    for n in os.listdir(m.path("invoices")) if n.endswith(".json"))
        true_pdfs = sum(len(f.pdf(r["invoicenr"])) for r in f.state("invoices"))
        print(f"du -s invoices/: {du} bytes; PDFs shown {shown}, true {true_pdfs}; "
              f"JSON {jsons}")
        assert shown <= 10 * true_pdfs and true_pdfs <= 10 * shown
        assert du <= 10 * (true_pdfs + jsons)
    finally:
        f.stop()


def test_looking_at_1000_unfetched_pdfs_costs_no_call(workdir, mounts):
    """What only looks -- ls -l, find, du, stat, tree-like listings, a file manager's
    folder view (gio list with every attribute), shell completion, `rclone lsl` -- costs
    no call on 1,000 PDFs not fetched yet, on a mount that keeps an archive."""
    f = Fake(workdir, "--generate", "clients=20,invoices=1000,products=2",
             "--rate-limit", "100000")
    try:
        m = mounts(f, opts=["prefetch=0"], archive=True)
        inv = m.path("invoices")
        os.listdir(inv)
        mark = f.mark()
        pdfs = sorted(n for n in os.listdir(inv) if n.endswith(".pdf"))
        assert len(pdfs) == 1000
        for cmd in (["ls", "-l", inv], ["ls", "-lR", m.mnt], ["find", inv, "-ls"],
                    ["find", inv, "-size", "+1k"], ["du", "-a", inv],
                    ["stat", "--", *[os.path.join(inv, n) for n in pdfs]],
                    ["gio", "list", "-a", "*", inv],
                    ["bash", "-c", f"compgen -f {shlex.quote(inv)}/ | wc -l"],
                    ["rclone", "--config", "/dev/null", "lsl", inv],
                    ["rclone", "--config", "/dev/null", "size", inv]):
            r = run(*cmd)
            assert r.returncode == 0, (cmd, r.stderr)
        reqs = f.since(mark)
        assert pdf_calls(reqs) == [], len(pdf_calls(reqs))
        # (ls -lR lists every collection once)
        assert all(r["method"] == "GET" and "_pdf" not in r["path"] for r in reqs)
    finally:
        f.stop()
