"""-o prefetch=N: the archive's PDFs not local yet fetched in the background, newest
first, at most N calls an hour, the user served first, the budget never spent by it
(the archive as the default state, and `factuurfs fetch`: test_archive.py).

The hour is scaled for these tests: factuurfs under FACTUURFS_HOUR_SECONDS=H and the fake
under --hour-seconds H count an hour as H seconds (the pace, and the rate limit's window).
"""
import os
import re
import statistics
import subprocess

from expected import file_stem, newest_first
from harness import DEADLINE, FACTUURFS, Fake, nr_of, pdf_calls, scaled, wait_for

# factuurfs' constants (src/feat/prefetch.h)
QUIET = 2.0          # PREFETCH_QUIET: seconds without a call of the user's
USER_SHARE = 100     # PREFETCH_USER_SHARE: calls of the hour kept for the user


def status_cli(m):
    return subprocess.run([FACTUURFS, "status", m.mnt], capture_output=True, text=True,
                          timeout=DEADLINE).stdout


def test_prefetch_paces_newest_first_serves_the_user_first_and_ends_local(workdir, mounts,
                                                                          tmp_path):
    hour, per_hour = 60, 600
    interval = hour / per_hour          # 0.1 s between two calls at the most
    fake = Fake(workdir, "--generate", "invoices=300,quotations=0", "--rate-limit", "100000",
                "--hour-seconds", str(hour))
    try:
        order = newest_first(fake.state("invoices"))
        # ttl: the listing stays fresh for the whole test, so the rsync below needs none
        m = mounts(fake, opts=[f"prefetch={per_hour}", "ttl=3600"], env=scaled(hour))
        seen = []

        def progress(at_least):
            pf = m.status()["prefetch"]
            seen.append(pf)
            return pf.get("local", 0) >= at_least and pf

        pf = wait_for(lambda: progress(30), "30 PDFs prefetched", timeout=DEADLINE * 2)
        assert pf["total"] == 300 and pf["per_hour"] == per_hour and pf["eta_seconds"] > 0
        assert re.search(r"archive +\d+ of 300 invoices' PDFs on disk \(\d+%\); about \d+ "
                         r"(s|min) left at 600/h", status_cli(m))
        # the user reads the oldest invoice's PDF, the last the prefetch would fetch
        oldest = order[-1]
        with open(m.path("invoices", file_stem(oldest) + ".pdf"), "rb") as f:
            assert f.read() == fake.pdf(oldest)
        pf = wait_for(lambda: (lambda p: p["state"] == "done" and p)(m.status()["prefetch"]),
                      "the prefetch done", timeout=300 * interval * 4 + 60)
        assert (pf["local"], pf["total"], pf["fetched"], pf["failed"]) == (300, 300, 299, 0)
        assert "eta_seconds" not in pf
        locals_seen = [p["local"] for p in seen if "local" in p]
        assert len(set(locals_seen)) >= 2 and locals_seen == sorted(locals_seen)
        assert "300 of 300 invoices' PDFs on disk (100%); complete" in status_cli(m)

        reqs = fake.requests()
        calls = pdf_calls(reqs)
        # every PDF fetched once: the user's read, and 299 by the prefetch
        assert sorted(nr_of(r) for r in calls) == sorted(order)
        assert all(r["status"] == 200 for r in reqs), [r for r in reqs if r["status"] != 200]
        user = next(r for r in calls if nr_of(r) == oldest)
        ahead = [r for r in calls if r is not user]
        # newest first
        assert [nr_of(r) for r in ahead] == [n for n in order if n != oldest]
        # the user's read went first: the prefetch held back for QUIET seconds after it
        # (one call may have been on its way already when the user came)
        held = [r for r in ahead if user["t"] < r["t"] < user["t"] + QUIET * 0.9]
        assert len(held) <= 1, held
        # spaced as asked: the median gap never shorter than 0.9 of the interval (how
        # much longer is for scripts/bench.sh), the gap with the user's read left out
        gaps = [b["t"] - a["t"] for a, b in zip(ahead, ahead[1:])
                if not a["t"] < user["t"] < b["t"]]
        med = statistics.median(gaps)
        assert 0.9 * interval <= med, (med, interval)
        # and on the whole no faster than N an hour
        span = ahead[-1]["t"] - ahead[0]["t"]
        assert (len(ahead) - 1) / span <= per_hour / hour * 1.05
        print(f"prefetch: median gap {med:.4f} s for {interval:.3f} s asked; "
              f"{(len(ahead) - 1) / span * hour:.0f}/h over the run for {per_hour}/h")

        # all local: rsync of invoices/ makes no call, and copies the fake's bytes
        mark = fake.mark()
        dest = tmp_path / "dest"
        r = subprocess.run(["rsync", "-a", m.path("invoices") + "/", str(dest) + "/"],
                           capture_output=True, text=True, timeout=DEADLINE * 4)
        assert r.returncode == 0, r.stderr
        assert fake.since(mark) == []
        for nr in order:
            assert (dest / (file_stem(nr) + ".pdf")).read_bytes() == fake.pdf(nr), nr

        # and offline: the same rsync from the disk alone
        pdfs = {nr: fake.pdf(nr) for nr in order}
        cache = m.cache
        assert m.unmount() == 0
        fake.stop()
        m2 = mounts(fake, opts=["offline"], env={**scaled(hour), "XDG_CACHE_HOME": cache})
        dest2 = tmp_path / "offline"
        r = subprocess.run(["rsync", "-a", m2.path("invoices") + "/", str(dest2) + "/"],
                           capture_output=True, text=True, timeout=DEADLINE * 4)
        assert r.returncode == 0, r.stderr
        for nr in order:
            assert (dest2 / (file_stem(nr) + ".pdf")).read_bytes() == pdfs[nr], nr
        assert sorted(os.listdir(dest2)) == sorted(os.listdir(dest))
    finally:
        fake.stop()


def test_prefetch_never_spends_the_budget_and_resumes_when_the_hour_turns(workdir, mounts):
    hour, limit = 8, 160
    fake = Fake(workdir, "--generate", "invoices=300,quotations=0", "--rate-limit", str(limit),
                "--hour-seconds", str(hour))
    try:
        # no thumbnail share: the floor is the user's share alone
        m = mounts(fake, opts=["prefetch=36000", "background_calls=0"], env=scaled(hour))
        floor = USER_SHARE
        per_window = limit - floor       # at most this many calls of the prefetch a window

        def state():
            return m.status()["prefetch"]

        wait_for(lambda: state()["state"] == "paused: budget low", "a pause for the budget")
        assert state()["budget_floor"] == floor
        # the user is served while the prefetch waits: from the calls kept for them (the
        # oldest invoice's PDF, the last the prefetch would fetch)
        mark = fake.mark()
        mine = newest_first(fake.state("invoices"))[-1]
        with open(m.path("invoices", file_stem(mine) + ".pdf"), "rb") as f:
            assert f.read() == fake.pdf(mine)
        assert [r["status"] for r in pdf_calls(fake.since(mark))] == [200]
        # the hour turns: the prefetch goes on, in the next window too
        wait_for(lambda: state().get("fetched", 0) > per_window + 10,
                 "the prefetch going on after the hour turned", timeout=hour * 4 + DEADLINE)
        reqs = fake.requests()
        assert all(r["status"] == 200 for r in reqs), [r for r in reqs if r["status"] != 200]
        assert min(r["remaining"] for r in pdf_calls(reqs)) >= floor - 1
        # the prefetch's own calls never took the budget below the floor
        assert min(r["remaining"] for r in pdf_calls(reqs) if nr_of(r) != mine) >= floor
    finally:
        fake.stop()


def test_a_remount_fetches_only_the_missing(workdir, mounts):
    hour = 60
    fake = Fake(workdir, "--generate", "invoices=300,quotations=0", "--rate-limit", "100000",
                "--hour-seconds", str(hour))
    try:
        m = mounts(fake, opts=["prefetch=7200"], env=scaled(hour))
        wait_for(lambda: m.status()["prefetch"].get("local", 0) >= 100, "100 PDFs local")
        cache = m.cache
        assert m.unmount() == 0
        before = {nr_of(r) for r in pdf_calls(fake.requests())}
        assert len(before) == len(pdf_calls(fake.requests())) >= 100
        # The unmount cuts off the one transfer the archive may still have had under
        # way (the daemon waits for no call at exit): that PDF was asked for but never
        # kept, so it is missing too.
        kept = {fn[:-len(".pdf")] for _, _, fns in os.walk(cache) for fn in fns
                if fn.endswith(".pdf")}
        cut = [nr for nr in before if file_stem(nr) not in kept]
        assert len(kept) >= 100 and len(cut) <= 1, cut
        m2 = mounts(fake, opts=["prefetch=7200"], env={**scaled(hour), "XDG_CACHE_HOME": cache})
        pf = wait_for(lambda: (lambda p: p["state"] == "done" and p)(m2.status()["prefetch"]),
                      "the prefetch done", timeout=DEADLINE * 3)
        assert pf["fetched"] == 300 - (len(before) - len(cut))
        calls = pdf_calls(fake.requests())
        # over both mounts each PDF once, and the one cut off twice
        assert sorted(nr_of(r) for r in calls) == \
            sorted(newest_first(fake.state("invoices")) + cut)
    finally:
        fake.stop()


def test_prefetch_0_fetches_nothing_unasked(workdir, mounts):
    """-o prefetch=0 keeps the archive (nothing evicted) but fetches only when
    `factuurfs fetch` asks (test_archive.py); a mount that fetches at its pace beside it
    shows the time that passed."""
    idle = Fake(workdir, "--generate", "invoices=300,quotations=0")
    busy = Fake(workdir, "--generate", "invoices=300,quotations=0", "--hour-seconds", "60")
    try:
        m = mounts(idle, opts=["prefetch=0"])
        assert len(os.listdir(m.path("invoices"))) == 600
        pf = wait_for(lambda: (lambda p: p["state"].startswith("idle") and "total" in p and p)(
            m.status()["prefetch"]), "the archive idle, its PDFs counted")
        assert (pf["per_hour"], pf["local"], pf["total"]) == (0, 0, 300)
        # time for a prefetch to have fetched 20 PDFs, shown by a mount that has one
        p = mounts(busy, opts=["prefetch=3600"], env=scaled(60))
        wait_for(lambda: p.status()["prefetch"].get("local", 0) >= 20, "20 PDFs prefetched")
        assert pdf_calls(idle.requests()) == []
        assert "archive      0 of 300 invoices' PDFs on disk (0%); idle" in status_cli(m)
    finally:
        idle.stop()
        busy.stop()
