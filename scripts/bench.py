"""The measurements of scripts/bench.sh (run it, not this).

Every figure is measured side by side in one run: where two things are compared, both
are mounted at the same time and their timed runs alternate, and the figure is the
median of several runs.  API calls come from the fake's JSON-lines request log.
"""
import math
import shutil
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from harness import APIKEY, USER, Fake, Mount, is_mounted, listing_calls, wait_for  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "build", "bench")
QUICK = "--quick" in sys.argv[1:]
_pos = [a for a in sys.argv[1:] if a != "--quick"]
NFILES = int(_pos[0]) if len(_pos) > 0 else (2000 if QUICK else 10000)
RUNS = int(_pos[1]) if len(_pos) > 1 else (3 if QUICK else 5)
NPDF = 50 if QUICK else 200          # PDFs copied in the latency rows
PDF_RUNS = 1 if QUICK else 3         # runs of the PDF rows (each ~25 s at 200 PDFs)
COLD_RUNS = 1 if QUICK else 3        # runs of the cold browse
LATENCY_MS = 50
PARALLEL = 8
SCALE = (500, 2000, 5000) if QUICK else (1000, 10000, 50000)
PLOT_DIR = BENCH if QUICK else os.path.join(ROOT, "docs", "bench")
# The minimum a cold browse can cost: one listing per listable collection, plus the
# mount's credential check (whose answer is balance.json).
LISTABLE = ("clients", "products", "invoices", "invoices_saved", "invoices_repeated",
            "profiles", "taxes", "countrylist")
FAKE_OPTS = ("--rate-limit", "10000000", "--max-count", "100000")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL, **kw)


def timed(cmd):
    t = time.perf_counter()
    sh(cmd)
    return time.perf_counter() - t


def timed_ok(cmd):
    """(seconds, exit status): for runs whose failure must cost the row its verdict
    rather than end the benchmark."""
    t = time.perf_counter()
    rc = subprocess.run(cmd, shell=True, stdout=subprocess.DEVNULL).returncode
    return time.perf_counter() - t, rc


def failed_requests(reqs):
    """The API requests of a timed window that were not answered 200."""
    return [r for r in reqs if r["status"] != 200]


def cat_cmd(d, pattern="*"):
    return f"find {d} -maxdepth 1 -type f -name '{pattern}' -print0 | xargs -0 -r cat"


def side_by_side(cmds):
    """cmds: {name: shell command}.  Warms each up once, then alternates them RUNS
    times; returns {name: median seconds}."""
    for c in cmds.values():
        sh(c)
    times = {k: [] for k in cmds}
    for _ in range(RUNS):
        for k, c in cmds.items():
            times[k].append(timed(c))
    return {k: statistics.median(v) for k, v in times.items()}


def tmpfs(work):
    d = tempfile.mkdtemp(dir=work)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", d], check=True)
    return d


def umount(d):
    subprocess.run(["umount", d], check=True)


def fuse_ref(prog, args, work):
    d = tempfile.mkdtemp(dir=work)
    p = subprocess.Popen([os.path.join(BENCH, prog), d, *args])
    wait_for(lambda: is_mounted(d), prog)
    return d, p


def vmhwm_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def wire_bytes(reqs, coll="invoices"):
    return sum(r["bytes"] for r in listing_calls(reqs, coll))


def start_fake(work, n, *extra):
    t = time.perf_counter()
    f = Fake(work, "--generate", f"clients=100,invoices={n},products=50", *FAKE_OPTS, *extra)
    log(f"fake with {n} invoices up in {time.perf_counter() - t:.1f} s")
    return f


# -- the rows ---------------------------------------------------------------------------
def reference_rows(work):
    """ideal_fs and ideal_ll against 640-byte files on tmpfs, as in DESIGN.md."""
    src = tmpfs(work)
    for i in range(NFILES):
        with open(os.path.join(src, f"{i:05d}.json"), "w") as f:
            f.write("x" * 640)
    refs = {"tmpfs": (src, None)}
    refs["ideal_fs"] = fuse_ref("ideal_fs", ["-f", "-o", f"nfiles={NFILES}"], work)
    refs["ideal_ll"] = fuse_ref("ideal_ll", [str(NFILES)], work)
    cat = side_by_side({k: cat_cmd(d) for k, (d, _) in refs.items()})
    ls = side_by_side({k: f"ls -l {d}" for k, (d, _) in refs.items()})
    for k, (d, p) in refs.items():
        umount(d)
        if p:
            p.wait()
    return cat, ls


def warm_rows(fake, work):
    """invoices/ on factuurfs read-write and -o ro, against the same .json files (and
    empty same-named .pdf stand-ins) on tmpfs.  Also the rw daemon's peak RSS once
    every invoice's JSON has been read, against the listing's bytes on the wire."""
    m0 = fake.mark()
    rw = Mount(fake, work, opts=["ttl=3600"])
    names = sorted(os.listdir(rw.path("invoices")))
    rw_reqs = fake.since(m0)
    ro = Mount(fake, work, opts=["ttl=3600", "ro"])
    os.listdir(ro.path("invoices"))
    t = tmpfs(work)
    for n in names:
        with open(os.path.join(t, n), "wb") as out:
            if n.endswith(".json"):
                with open(ro.path("invoices", n), "rb") as f:
                    out.write(f.read())
    m1 = fake.mark()
    dirs = {"tmpfs": t, "rw": rw.path("invoices"), "ro": ro.path("invoices")}
    cat = side_by_side({k: cat_cmd(d, "*.json") for k, d in dirs.items()})
    ls = side_by_side({k: f"ls -l {d}" for k, d in dirs.items()})
    warm_reqs = fake.since(m1)
    warm_calls = len(warm_reqs)
    rss = vmhwm_mib(rw.proc.pid)
    # What was timed must have read the right bytes: every .json on both mounts equals
    # the copy on tmpfs, and no request failed (there should be none at all).
    wrong = 0
    for n in names:
        if n.endswith(".json"):
            with open(os.path.join(t, n), "rb") as f:
                want = f.read()
            for d in (rw.path("invoices"), ro.path("invoices")):
                with open(os.path.join(d, n), "rb") as f:
                    wrong += f.read() != want
    trouble = []
    if wrong:
        trouble.append(f"{wrong} files read back different")
    if failed_requests(rw_reqs + warm_reqs):
        trouble.append(f"{len(failed_requests(rw_reqs + warm_reqs))} API requests failed")
    njson = sum(n.endswith(".json") for n in names)
    jsize = sum(os.path.getsize(os.path.join(t, n)) for n in names if n.endswith(".json"))
    umount(t)
    assert rw.unmount() == 0
    assert ro.unmount() == 0
    return dict(cat=cat, ls=ls, warm_calls=warm_calls, rss=rss, names=names, trouble=trouble,
                wire=wire_bytes(rw_reqs), wire_calls=len(listing_calls(rw_reqs, "invoices")),
                njson=njson, jsize=jsize)


def cold_browse(fake, work):
    """A fresh mount, `ls -l` of every collection, every .json read: wall time from
    the mount's start, and the API calls it made."""
    times, calls = [], []
    for _ in range(COLD_RUNS):
        mark = fake.mark()
        t = time.perf_counter()
        m = Mount(fake, work)
        top = m.path()
        sh(f"ls -l {top} {top}/*/ && find {top} -mindepth 1 -maxdepth 2 -name '*.json' "
           f"-not -path '*/.*' -print0 | xargs -0 -r cat")
        times.append(time.perf_counter() - t)
        calls.append(fake.since(mark))
        assert m.unmount() == 0
    worst = max(calls, key=len)
    by = {}
    for r in worst:
        c = urllib.parse.urlsplit(r["path"]).path.split("/api/v1/")[-1].split("/")[0]
        by[c] = by.get(c, 0) + 1
    bad = sum(len(failed_requests(c)) for c in calls)
    return dict(time=statistics.median(times), calls=[len(c) for c in calls], by=by,
                trouble=[f"{bad} API requests failed"] if bad else [])


def pdf_rows(fake, work, names):
    """NPDF PDFs at LATENCY_MS per API call: one cp at a time, PARALLEL at a time (each
    on a fresh mount with an empty PDF cache), again after a remount that keeps the
    parallel mount's disk cache, and a plain sequential curl loop over the API.  Every
    copy is compared with the service's bytes, and every request of a timed window must
    have been answered 200: the third value lists what went wrong, per kind of run."""
    pdfs = [n for n in names if n.endswith(".pdf")][:NPDF]
    want = {n: fake.pdf(urllib.parse.unquote(n[:-4])) for n in pdfs}  # the service's bytes
    fake.inject(latency_ms=LATENCY_MS)
    res = {k: [] for k in ("seq", "par", "remount", "curl")}
    calls = {k: [] for k in res}
    trouble = {k: [] for k in res}
    listf = os.path.join(work, "pdfs.list")

    def check(key, dest, rc, reqs):
        if rc != 0:
            trouble[key].append(f"{key}: exit status {rc}")
        bad = failed_requests(reqs)
        if bad:
            trouble[key].append(f"{key}: {len(bad)} API requests failed ({bad[0]['status']})")
        differ = 0
        for n in pdfs:
            try:
                with open(os.path.join(dest, n), "rb") as f:
                    differ += f.read() != want[n]
            except FileNotFoundError:
                differ += 1
        if differ:
            trouble[key].append(f"{key}: {differ} of {len(pdfs)} copied PDFs differ from the API's bytes")

    def copy(m, key, par):
        os.listdir(m.path("invoices"))  # the listing: not part of the copy
        dest = tempfile.mkdtemp(dir=work)
        with open(listf, "wb") as f:
            f.write(b"".join(os.fsencode(m.path("invoices", n)) + b"\0" for n in pdfs))
        mark = fake.mark()
        secs, rc = timed_ok(f"xargs -0 -P{par} -n1 cp -t {dest} < {listf}")
        res[key].append(secs)
        reqs = fake.since(mark)
        calls[key].append(len(reqs))
        check(key, dest, rc, reqs)

    for run in range(PDF_RUNS):
        log(f"PDFs, run {run + 1}/{PDF_RUNS}")
        m = Mount(fake, work)
        copy(m, "seq", 1)
        assert m.unmount() == 0
        m = Mount(fake, work)
        copy(m, "par", PARALLEL)
        assert m.unmount() == 0
        m = Mount(fake, work, env={"XDG_CACHE_HOME": m.cache})
        copy(m, "remount", PARALLEL)
        assert m.unmount() == 0
        # The client-library way: one request per file, one after the other; the first
        # curl that fails (-f: an HTTP error too) ends the loop with its status.
        curl_dest = tempfile.mkdtemp(dir=work)
        script = "set -e\n" + "".join(
            f"curl -s -f -u {USER}:{APIKEY} {shlex.quote(fake.url + 'invoices_pdf/' + urllib.parse.quote(urllib.parse.unquote(n[:-4]), safe=''))}"
            f" -o {shlex.quote(os.path.join(curl_dest, n))}\n" for n in pdfs)
        with open(os.path.join(work, "curl.sh"), "w") as f:
            f.write(script)
        mark = fake.mark()
        secs, rc = timed_ok(f"bash {work}/curl.sh")
        res["curl"].append(secs)
        reqs = fake.since(mark)
        calls["curl"].append(len(reqs))
        check("curl", curl_dest, rc, reqs)
    fake.reset()
    return {k: statistics.median(v) for k, v in res.items()}, calls, trouble


def scaling(fakes_for, work):
    """Cold `ls -l invoices/` + read every invoice .json on a fresh mount: seconds,
    the daemon's VmHWM, and the listing's bytes on the wire, for each size; and what
    went wrong (a failed command or request, invoices missing)."""
    rows, trouble = [], []
    for n in SCALE:
        fake, own = fakes_for(n)
        runs = 1 if n >= 50000 else (1 if QUICK else 3)
        t_, rss_, wire_, calls_ = [], [], [], []
        for _ in range(runs):
            m = Mount(fake, work, opts=["ttl=3600"])
            inv = m.path("invoices")
            mark = fake.mark()
            secs, rc = timed_ok(f"ls -l {inv} && {cat_cmd(inv, '*.json')}")
            t_.append(secs)
            rss_.append(vmhwm_mib(m.proc.pid))
            reqs = fake.since(mark)
            wire_.append(wire_bytes(reqs) / 2**20)
            calls_.append(len(reqs))
            njson = sum(x.endswith(".json") for x in os.listdir(inv))
            if rc != 0 or failed_requests(reqs) or njson != n:
                trouble.append(f"{n} invoices: exit status {rc}, "
                               f"{len(failed_requests(reqs))} API requests failed, {njson} listed")
            assert m.unmount() == 0
        rows.append((n, statistics.median(t_), statistics.median(rss_), statistics.median(wire_),
                     max(calls_)))
        log(f"scaling {n}: {rows[-1][1]:.2f} s, {rows[-1][2]:.0f} MiB")
        if own:
            fake.stop()
    return rows, trouble


# -- the table --------------------------------------------------------------------------
def verdict(fig, target, op, unit="×", trouble=()):
    """"met" or "missed by ...": never for a run that read wrong bytes or whose requests
    failed (@trouble: what went wrong), which gets "no verdict" and the reason."""
    if trouble:
        return "no verdict: " + "; ".join(dict.fromkeys(trouble))
    if (op == "<=" and fig <= target) or (op == ">=" and fig >= target) or (op == "==" and fig == target):
        return "met"
    d = abs(fig - target)
    if unit == "×":
        return f"missed by {d:.2f}×"
    if unit == " calls":
        return f"missed by {d:g} call{'s' if d != 1 else ''}"
    return f"missed by {d:.2f}{unit}"


def slopes(rows, col):
    """Log-log slopes between successive sizes: 1.0 is linear (a fixed cost lowers it)."""
    return [math.log(b[col] / a[col]) / math.log(b[0] / a[0]) for a, b in zip(rows, rows[1:])]


def main():
    t_start = time.perf_counter()
    work = tempfile.mkdtemp(prefix="factuurfs-bench-")
    log(f"reference programs, {NFILES} files")
    rcat, rls = reference_rows(work)

    fake = start_fake(work, NFILES)
    log("warm invoices/: tmpfs, factuurfs rw, factuurfs -o ro")
    w = warm_rows(fake, work)
    log("cold browse")
    cold = cold_browse(fake, work)
    log(f"{NPDF} PDFs at {LATENCY_MS} ms latency")
    pdf, pcalls, pdf_trouble = pdf_rows(fake, work, w["names"])

    def fakes_for(n):
        return (fake, False) if n == NFILES else (start_fake(work, n), True)
    sc, sc_trouble = scaling(fakes_for, work)
    fake.stop()

    os.makedirs(PLOT_DIR, exist_ok=True)
    dat = os.path.join(PLOT_DIR, "scaling.dat")
    with open(dat, "w") as f:
        f.write("# scripts/bench.sh: cold `ls -l invoices/` + read every invoice .json on a fresh mount\n"
                "# invoices  seconds  vmhwm_MiB  listing_wire_MiB  api_calls\n")
        for r in sc:
            f.write(f"{r[0]:9d}  {r[1]:7.3f}  {r[2]:9.1f}  {r[3]:16.1f}  {r[4]:9d}\n")
    png = os.path.join(PLOT_DIR, "scaling.png")
    subprocess.run(["gnuplot", "-e", f"dat='{dat}'; out='{png}'",
                    os.path.join(ROOT, "docs", "bench", "scaling.gp")], check=True)

    # -- print ---------------------------------------------------------------------------
    rows = []

    def row(what, fig, target="", verd=""):
        rows.append((what, fig, target, verd))

    tc, tl = rcat["tmpfs"], rls["tmpfs"]
    for k, label in (("ideal_fs", "high-level API"), ("ideal_ll", "low-level, no-open")):
        row(f"{k} ({label}), 640 B files: warm cat", f"{rcat[k] / tc:.2f}× tmpfs", "reference")
        row(f"{k}: warm ls -l", f"{rls[k] / tl:.2f}× tmpfs", "reference")
    wc, wl = w["cat"], w["ls"]
    row(f"warm ls -l invoices/ ({len(w['names'])} files), rw",
        f"{wl['rw'] / wl['tmpfs']:.2f}× ({wl['rw']:.3f} s)", "≤ 1.0×", verdict(wl["rw"] / wl["tmpfs"], 1.0, "<=", trouble=w["trouble"]))
    row("warm ls -l invoices/, -o ro",
        f"{wl['ro'] / wl['tmpfs']:.2f}× ({wl['ro']:.3f} s)", "≤ 1.0×", verdict(wl["ro"] / wl["tmpfs"], 1.0, "<=", trouble=w["trouble"]))
    row(f"warm cat invoices/*.json ({w['njson']}, ~{w['jsize'] // max(w['njson'], 1)} B), rw",
        f"{wc['rw'] / wc['tmpfs']:.2f}× ({wc['rw']:.3f} s)", "≤ 1.3×", verdict(wc["rw"] / wc["tmpfs"], 1.3, "<=", trouble=w["trouble"]))
    row("warm cat invoices/*.json, -o ro",
        f"{wc['ro'] / wc['tmpfs']:.2f}× ({wc['ro']:.3f} s)", "≤ 1.3×", verdict(wc["ro"] / wc["tmpfs"], 1.3, "<=", trouble=w["trouble"]))
    row("  tmpfs itself: cat / ls -l", f"{wc['tmpfs']:.3f} s / {wl['tmpfs']:.3f} s", "", "")
    row("  API calls during all warm runs", f"{w['warm_calls']}", "0", verdict(w["warm_calls"], 0, "==", " calls", trouble=w["trouble"]))
    minimum = len(LISTABLE) + 1
    worst = max(cold["calls"])
    extra = ", ".join(f"{k} {v}" for k, v in sorted(cold["by"].items()) if v > 1)
    row("cold mount + ls -l all + read every .json: calls",
        f"{worst} (min {minimum}{'; ' + extra if extra else ''})", f"= {minimum}",
        verdict(worst, minimum, "==", " calls", trouble=cold["trouble"]))
    row("  ... wall time", f"{cold['time']:.2f} s", "", "")
    sp = pdf["seq"] / pdf["par"]
    row(f"{NPDF} PDFs @{LATENCY_MS} ms: cp one by one, fresh mount",
        f"{pdf['seq']:.2f} s, {max(pcalls['seq'])} calls", "", "")
    row(f"  cp {PARALLEL} in parallel, fresh mount",
        f"{pdf['par']:.2f} s, {max(pcalls['par'])} calls: {sp:.1f}× faster", "≥ 6×", verdict(sp, 6, ">=", trouble=pdf_trouble["seq"] + pdf_trouble["par"]))
    row(f"  cp {PARALLEL} in parallel after remount, disk cache",
        f"{pdf['remount']:.3f} s, {max(pcalls['remount'])} calls", "0 calls",
        verdict(max(pcalls["remount"]), 0, "==", " calls", trouble=pdf_trouble["remount"]))
    cr = pdf["curl"] / pdf["par"]
    row("  sequential curl loop (a process per PDF)",
        f"{pdf['curl']:.2f} s, {max(pcalls['curl'])} calls: parallel cp {cr:.1f}× faster", "≥ 5×",
        verdict(cr, 5, ">=", trouble=pdf_trouble["curl"] + pdf_trouble["par"]))
    wire = w["wire"] / 2**20
    rr = w["rss"] / wire
    row(f"peak RSS (VmHWM), rw, all {w['njson']} .json read",
        f"{w['rss']:.0f} MiB = {rr:.1f}× listing wire {wire:.1f} MiB ({w['wire_calls']} listing pages)",
        "≤ 4×", verdict(rr, 4, "<=", trouble=w["trouble"]))
    for r in sc:
        row(f"scaling {r[0]:>6}: cold ls -l + cat *.json",
            f"{r[1]:6.2f} s ({1e6 * r[1] / r[0]:.0f} µs/inv), {r[2]:4.0f} MiB ({r[2] / r[3]:.1f}× wire)", "", "")
    for col, what in ((1, "time"), (2, "memory")):
        sl = slopes(sc, col)
        row(f"  {what} growth, log-log slope per step", " → ".join(f"{x:.2f}" for x in sl),
            "linear (≤ 1.1)", verdict(max(sl), 1.1, "<=", "", trouble=sc_trouble))

    print(f"\nfactuurfs bench{' --quick' if QUICK else ''}: {NFILES} invoices, warm rows median of {RUNS}, "
          f"cold browse of {COLD_RUNS}, PDF rows of {PDF_RUNS}; {os.cpu_count()} CPUs; "
          f"{time.perf_counter() - t_start:.0f} s in all\n")
    wd = [max(len(r[i]) for r in rows) for i in range(3)]
    hdr = ("measurement", "figure (ratios: factuurfs / tmpfs)", "target", "verdict")
    wd = [max(wd[i], len(hdr[i])) for i in range(3)]
    print(f"{hdr[0]:{wd[0]}}  {hdr[1]:{wd[1]}}  {hdr[2]:{wd[2]}}  {hdr[3]}")
    print("-" * (sum(wd) + 6 + 12))
    for r in rows:
        print(f"{r[0]:{wd[0]}}  {r[1]:{wd[1]}}  {r[2]:{wd[2]}}  {r[3]}".rstrip())
    print(f"\nscaling data: {dat}\nplot: {png}")
    shutil.rmtree(work, ignore_errors=True)


main()
