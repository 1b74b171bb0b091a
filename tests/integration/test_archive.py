"""The archive: every invoice's PDF on disk by default, kept for good, completed on
request by `factuurfs fetch`, and a remount of a complete one makes no PDF call, offline
too (docs/SEMANTICS.md, "The archive").

The hour is scaled for these tests: factuurfs under FACTUURFS_HOUR_SECONDS=H and the fake
under --hour-seconds H count an hour as H seconds (the pace, and the rate limit's window).
"""
import os
import pty
import re
import select
import statistics
import subprocess
import time

from expected import file_stem, newest_first
from harness import DEADLINE, FACTUURFS, Fake, nr_of, pdf_calls, scaled, wait_for

USER_SHARE = 100  # PREFETCH_USER_SHARE (src/feat/prefetch.h)
THUMBS = 50       # -o background_calls' default
FLOOR = USER_SHARE + THUMBS
AT_BUDGET = 3     # CLI_FETCH_AT_BUDGET (src/cli_fetch.h)


def cli(*args):
    return subprocess.run([FACTUURFS, *args], capture_output=True, text=True,
                          timeout=DEADLINE * 4)


def archive(m):
    return m.status()["prefetch"]


def done(m):
    pf = archive(m)
    return pf["state"] == "done" and pf


def cached_pdfs(cache_home):
    return {fn for _, _, fns in os.walk(cache_home) for fn in fns if fn.endswith(".pdf")}


def check_exact(dest, fake, order):
    for nr in order:
        assert (dest / (file_stem(nr) + ".pdf")).read_bytes() == fake.pdf(nr), nr


def test_the_archive_is_on_by_default_at_the_pace_the_budget_spares(workdir, mounts):
    hour, limit, n, q = 30, 400, 120, 40
    spare = round((limit - FLOOR) * 0.9)        # 225 calls an hour (PREFETCH_AUTO_SHARE)
    interval = hour / spare                     # 0.133 s between two calls
    fake = Fake(workdir, "--generate", f"invoices={n},quotations={q}", "--rate-limit",
                str(limit), "--hour-seconds", str(hour))
    try:
        m = mounts(fake, archive=True, env=scaled(hour))
        pf = wait_for(lambda: (lambda p: p.get("local", 0) >= 5 and p)(archive(m)),
                      "the archive under way")
        assert (pf["pace"], pf["per_hour"], pf["budget_floor"]) == ("auto", spare, FLOOR)
        assert re.search(rf"archive +\d+ of {n} invoices' PDFs on disk \(\d+%\); about \d+ s "
                         rf"left at {spare}/h", cli("status", m.mnt).stdout)
        # Once the invoices' PDFs are all on disk, the time left is the quotations' (40
        # of them at the pace: at least 4.8 s to see it), said on their line.
        wait_for(lambda: re.search(
            rf"{n} of {n} invoices' PDFs on disk \(100%\); complete\n +and \d+ of {q} "
            rf"quotations' PDFs \(kept within cache_max\); about \d+ s left at {spare}/h\n",
            cli("status", m.mnt).stdout), "the quotations' time left on their line",
            timeout=(n + q) * interval * 4 + DEADLINE)
        pf = wait_for(lambda: done(m), "the archive complete",
                      timeout=(n + q) * interval * 4 + DEADLINE)
        assert (pf["local"], pf["total"], pf["fetched"], pf["failed"]) == (n, n, n + q, 0)
        assert (pf["others_local"], pf["others_total"]) == (q, q)
        assert f"archive      {n} of {n} invoices' PDFs on disk (100%); complete" in \
            cli("status", m.mnt).stdout
        reqs = fake.requests()
        calls = pdf_calls(reqs)
        assert [nr_of(r) for r in calls] == newest_first(fake.state("invoices"))
        # the quotations' PDFs too, after the invoices'
        quotes = [r for r in reqs if "/quotations_pdf/" in r["path"]]
        assert len(quotes) == q and min(r["t"] for r in quotes) > calls[-1]["t"]
        assert all(r["status"] == 200 for r in reqs)
        assert min(r["remaining"] for r in reqs) > FLOOR
        gaps = [b["t"] - a["t"] for a, b in zip(calls, calls[1:])]
        med = statistics.median(gaps)
        # never faster than the budget spares (how much slower is bench.sh's to say)
        assert 0.9 * interval <= med, (med, interval)
        print(f"archive: {n} PDFs at the pace the budget spares ({spare}/h of {limit}/h): "
              f"median gap {med:.3f} s for {interval:.3f} s")
    finally:
        fake.stop()


def test_invoices_pdfs_are_kept_beyond_cache_max_and_the_rest_is_not(workdir, mounts):
    """With the archive, cache_max bounds what can be fetched again (quotations' PDFs);
    every invoice's PDF stays on disk, and a remount reads them all with no call."""
    hour = 30
    fake = Fake(workdir, "--generate", "invoices=30,quotations=8", "--rate-limit", "100000",
                "--hour-seconds", str(hour))
    try:
        m = mounts(fake, opts=["cache_max=16K"], archive=True, env=scaled(hour))
        wait_for(lambda: done(m), "the archive complete", timeout=DEADLINE * 2)
        invoices = {file_stem(nr) + ".pdf" for nr in newest_first(fake.state("invoices"))}
        assert invoices <= cached_pdfs(m.cache)
        # the quotations' PDFs: an ordinary cache, the least recently used dropped
        quotations = sorted(x for x in os.listdir(m.path("quotations")) if x.endswith(".pdf"))
        for q in quotations:
            with open(m.path("quotations", q), "rb") as f:
                assert f.read().startswith(b"%PDF-")
        on_disk = {fn: os.path.getsize(os.path.join(dp, fn))
                   for dp, _, fns in os.walk(m.cache) for fn in fns if fn.endswith(".pdf")}
        kept = {fn: size for fn, size in on_disk.items() if fn.startswith(".quotations=")}
        assert 0 < len(kept) < len(quotations)
        assert sum(kept.values()) <= 16 * 1024
        assert invoices <= set(on_disk), "an invoice's PDF was evicted"
        cache = m.cache
        assert m.unmount() == 0
        mark = fake.mark()
        m2 = mounts(fake, opts=["cache_max=16K"], archive=True,
                    env={**scaled(hour), "XDG_CACHE_HOME": cache})
        wait_for(lambda: done(m2), "the archive complete again")
        for nr in newest_first(fake.state("invoices")):
            with open(m2.path("invoices", file_stem(nr) + ".pdf"), "rb") as f:
                assert f.read() == fake.pdf(nr)
        assert pdf_calls(fake.since(mark)) == []
    finally:
        fake.stop()


def test_noarchive_is_a_cache_that_warns_and_fetches_nothing_unread(workdir, mounts):
    fake = Fake(workdir, "--generate", "invoices=12")
    try:
        m = mounts(fake, opts=["noarchive", "cache_max=20K"])
        names = sorted(x for x in os.listdir(m.path("invoices")) if x.endswith(".pdf"))
        assert m.status()["prefetch"] == {"state": "off"}
        assert "archive      off: PDFs are fetched when read" in cli("status", m.mnt).stdout
        r = cli("fetch", m.mnt)
        assert r.returncode == 1 and "keeps no archive" in r.stderr, r
        for x in names:
            with open(m.path("invoices", x), "rb") as f:
                f.read()
        assert sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(m.cache)
                   for fn in fns if fn.endswith(".pdf")) <= 20 * 1024
        assert names[0] not in cached_pdfs(m.cache)  # the oldest read went
        assert "noarchive: invoices' PDFs are a cache like the rest" in m.stderr()
        assert sorted(file_stem(nr_of(r)) + ".pdf" for r in pdf_calls(fake.requests())) == names
    finally:
        fake.stop()


def run_in_pty(args, timeout):
    """Runs @args with a terminal for its output: (exit status, what it wrote)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(args[0], args)
    out, end = b"", time.monotonic() + timeout
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def test_fetch_completes_the_archive_in_the_foreground(workdir, mounts, tmp_path):
    n, q = 200, 4
    fake = Fake(workdir, "--generate", f"invoices={n},quotations={q}", "--rate-limit", "100000")
    try:
        # prefetch=0: nothing in the background, all by the command
        m = mounts(fake, opts=["prefetch=0"], archive=True)
        os.listdir(m.path("invoices"))
        wait_for(lambda: archive(m)["state"].startswith("idle"), "the archive idle")
        assert pdf_calls(fake.requests()) == []
        t0 = time.monotonic()
        rc, out = run_in_pty([FACTUURFS, "fetch", m.mnt], DEADLINE * 4)
        secs = time.monotonic() - t0
        assert rc == 0, out
        # a progress bar redrawn in place, then the summary
        assert "\r" in out and re.search(r"archive \[[#.]{30}\] [\d,]+ of 200 PDFs", out), out
        assert (f"archive complete: {n} of {n} invoices' PDFs on disk (and {q} of {q} "
                f"quotations'); {n + q} fetched in") in out, out
        calls = pdf_calls(fake.requests())
        assert sorted(nr_of(r) for r in calls) == sorted(newest_first(fake.state("invoices")))
        assert all(r["status"] == 200 for r in fake.requests())
        pf = done(m)
        assert pf and (pf["local"], pf["total"]) == (n, n)
        print(f"factuurfs fetch: {n} PDFs in {secs:.1f} s")
        # done: the command says so at once, and makes no call
        mark = fake.mark()
        r = cli("fetch", m.mnt)
        assert r.returncode == 0 and f"archive complete: {n} of {n}" in r.stdout, r
        assert pdf_calls(fake.since(mark)) == []
        dest = tmp_path / "copy"
        r = subprocess.run(["rsync", "-a", m.path("invoices") + "/", str(dest) + "/"],
                           capture_output=True, text=True, timeout=DEADLINE * 4)
        assert r.returncode == 0, r.stderr
        check_exact(dest, fake, newest_first(fake.state("invoices")))
        assert pdf_calls(fake.since(mark)) == []
    finally:
        fake.stop()


def test_fetch_stops_cleanly_at_the_budget(workdir, mounts):
    limit = 300
    fake = Fake(workdir, "--generate", "invoices=400", "--rate-limit", str(limit))
    try:
        m = mounts(fake, opts=["prefetch=0"], archive=True)
        r = cli("fetch", m.mnt)
        assert r.returncode == AT_BUDGET, (r.stdout, r.stderr)
        assert re.search(r"stopped at the budget: the \d+ calls left this hour are kept for "
                         r"you and the thumbnailers", r.stdout), r.stdout
        got = re.search(r"archive: (\d+) of 400 PDFs on disk; (\d+) left, about [\d.]+ h at "
                        r"the service's rate \(150 an hour\)", r.stdout)
        assert got and int(got[1]) + int(got[2]) == 400, r.stdout
        reqs = fake.requests()
        # the service refused nothing, and the budget kept above the floor
        assert all(r["status"] == 200 for r in reqs)
        assert min(r["remaining"] for r in reqs) >= FLOOR
        assert len(pdf_calls(reqs)) == int(got[1]) >= limit - FLOOR - 10
        # the user's reads are served from what is kept for them
        mine = newest_first(fake.state("invoices"))[-1]
        with open(m.path("invoices", file_stem(mine) + ".pdf"), "rb") as f:
            assert f.read() == fake.pdf(mine)
        assert archive(m)["state"] == "paused: budget low"
    finally:
        fake.stop()


def test_a_complete_archive_remounts_with_no_pdf_call_offline_too(workdir, mounts, tmp_path):
    n = 60
    fake = Fake(workdir, "--generate", f"invoices={n}", "--rate-limit", "100000")
    try:
        m = mounts(fake, opts=["prefetch=0"], archive=True)
        assert cli("fetch", m.mnt).returncode == 0
        cache = m.cache
        order = newest_first(fake.state("invoices"))
        pdfs = {nr: fake.pdf(nr) for nr in order}
        assert m.unmount() == 0
        mark = fake.mark()
        m2 = mounts(fake, archive=True, env={"XDG_CACHE_HOME": cache})
        dest = tmp_path / "again"
        r = subprocess.run(["rsync", "-a", m2.path("invoices") + "/", str(dest) + "/"],
                           capture_output=True, text=True, timeout=DEADLINE * 4)
        assert r.returncode == 0, r.stderr
        check_exact(dest, fake, order)
        wait_for(lambda: done(m2), "the archive complete on the remount")
        assert pdf_calls(fake.since(mark)) == []
        assert m2.unmount() == 0
        fake.stop()
        m3 = mounts(fake, opts=["offline"], archive=True, env={"XDG_CACHE_HOME": cache})
        dest = tmp_path / "offline"
        r = subprocess.run(["rsync", "-a", m3.path("invoices") + "/", str(dest) + "/"],
                           capture_output=True, text=True, timeout=DEADLINE * 4)
        assert r.returncode == 0, r.stderr
        for nr in order:
            assert (dest / (file_stem(nr) + ".pdf")).read_bytes() == pdfs[nr], nr
        wait_for(lambda: done(m3), "the archive complete offline")
    finally:
        fake.stop()


def test_new_invoices_are_fetched_as_they_are_listed(workdir, mounts):
    hour = 30
    fake = Fake(workdir, "--generate", "invoices=10", "--rate-limit", "100000",
                "--hour-seconds", str(hour))
    try:
        m = mounts(fake, archive=True, env=scaled(hour))
        wait_for(lambda: done(m), "the archive complete")
        new = dict(fake.state("invoices")[0], invoicenr="2099-0001", id="9999")
        fake.put_state("invoices", "2099-0001", new)
        assert cli("refresh", m.mnt, "invoices").returncode == 0
        assert "2099-0001.json" in os.listdir(m.path("invoices"))
        wait_for(lambda: "2099-0001" in [nr_of(r) for r in pdf_calls(fake.requests())],
                 "the new invoice's PDF fetched", timeout=DEADLINE * 2)
        pf = wait_for(lambda: (lambda p: p["state"] == "done" and p["local"] == 11 and p)(
            archive(m)), "the archive complete again")
        assert pf["total"] == 11
    finally:
        fake.stop()
