"""The measurements of scripts/bench.sh (run it, not this).

The headline rows are what a user gets: factuurfs with its default options (plus `cafile=`
for the fake's self-signed certificate) against the fake API over HTTPS.  Every figure is
measured side by side in one run: where two things are compared, both are mounted at the
same time and their timed runs alternate, and the figure is the median of several runs.
API calls and TLS handshakes come from the fake's JSON-lines request log.
"""
import math
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from harness import (APIKEY, USER, Fake, Mount, handshakes, is_mounted,  # noqa: E402
                     listing_calls, wait_for)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "build", "bench")
QUICK = "--quick" in sys.argv[1:]
_pos = [a for a in sys.argv[1:] if a != "--quick"]
NFILES = int(_pos[0]) if len(_pos) > 0 else (2000 if QUICK else 10000)
RUNS = int(_pos[1]) if len(_pos) > 1 else (3 if QUICK else 5)
NPDF = 50 if QUICK else 200          # PDFs copied in the latency rows
PDF_RUNS = 1 if QUICK else 2         # runs of the PDF rows (each ~40 s at 200 PDFs)
COLD_RUNS = 1 if QUICK else 2        # runs of the cold browse of every collection
LATENCY_MS = 50
PARALLEL = 8
POOL = 8                             # factuurfs' connection pool (HTTP_POOL_MAX)
NWRITES = 20                         # new clients, then edits, in the write row
REFRESH_TTL = 2
REFRESH_SECONDS = 10 if QUICK else 30
REFRESH_STEP = 0.5
SCALE = (500, 2000, 5000) if QUICK else (1000, 10000, 50000)
PLOT_DIR = BENCH if QUICK else os.path.join(ROOT, "docs", "bench")
# The minimum a cold browse can cost: one listing per listable collection, plus the
# mount's credential check (whose answer is balance.json).
LISTABLE = ("clients", "products", "invoices", "invoices_saved", "invoices_repeated",
            "profiles", "taxes", "countrylist", "quotations", "categories")
FAKE_OPTS = ("--rate-limit", "10000000", "--max-count", "100000")
# The peers' own cache options, set for speed: kernel caches of names and attributes for
# an hour, nothing polled, no modification times or checksums to look up (rclone); the
# kernel's page cache and sshfs' own caches for an hour, a fast cipher (sshfs).
RCLONE_OPTS = ("--read-only", "--attr-timeout", "1h", "--dir-cache-time", "1h",
               "--poll-interval", "0", "--no-modtime", "--no-checksum", "--vfs-cache-mode", "off")
SSHFS_OPTS = ("ro,kernel_cache,cache=yes,cache_timeout=3600,attr_timeout=3600,"
              "entry_timeout=3600,dir_cache=yes,dcache_timeout=3600,Compression=no,"
              "Ciphers=aes128-gcm@openssh.com")


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
    """The API requests of a timed window that were not answered 200 (201 for a POST)."""
    return [r for r in reqs if r["status"] != (201 if r["method"] == "POST" else 200)]


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


def refreshes(reqs, coll="invoices"):
    """The listings of @coll among @reqs: their first pages (offset 0 or none)."""
    n = 0
    for r in listing_calls(reqs, coll):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(r["path"]).query)
        n += q.get("offset", ["0"])[0] in ("", "0")
    return n


def conns(reqs):
    """The TLS connections that carried @reqs."""
    return len({r["conn"] for r in reqs if "conn" in r})


def curl_config(work):
    """A curl config file (-K) with the credentials: the key stays off command lines."""
    cfg = os.path.join(work, "curl.cfg")
    with open(cfg, "w") as f:
        f.write(f'user = "{USER}:{APIKEY}"\n')
    return cfg


def start_fake(work, n, *extra):
    t = time.perf_counter()
    f = Fake(work, "--generate", f"clients=100,invoices={n},products=50", *FAKE_OPTS, *extra, tls=True)
    log(f"fake with {n} invoices (HTTPS) up in {time.perf_counter() - t:.1f} s")
    return f


def defaults(fake, *more):
    """factuurfs' default options, as a user runs them: only the fake's CA added.  A mount
    made with them (mount()) keeps an archive and fetches it in the background."""
    return ["cafile=" + fake.cafile, *more]


def quiet(fake, *more):
    """The defaults but for the archive's background fetching (-o prefetch=0: the archive
    kept, nothing fetched unasked), for the rows that count calls or time a mount whose
    PDFs must stay as they are: what the archive would fetch meanwhile is no part of them."""
    return defaults(fake, "prefetch=0", *more)


def mount(fake, work, **kw):
    """A mount as a user has it (the harness's mounts keep no archive unless asked)."""
    return Mount(fake, work, archive=True, **kw)


# -- the rows ---------------------------------------------------------------------------
def probe_opens(work):
    """Whether factuurfs sees opens (the kernel's no-open mode off): a debug mount (-d) on
    a small fake cats 5 .json files twice; with no-open the daemon sees one OPEN (the
    first, answered ENOSYS).  Returns {"rw"|"ro": {opcode: count}}."""
    small = Fake(work, "--generate", "clients=3,invoices=5,products=3", tls=True)
    out = {}
    try:
        for kind, opts in (("rw", quiet(small)), ("ro", quiet(small, "ro"))):
            m = mount(small, work, opts=opts, extra_args=["-d"])
            inv = m.path("invoices")
            js = sorted(n for n in os.listdir(inv) if n.endswith(".json"))
            for _ in range(2):
                sh("cat " + " ".join(shlex.quote(os.path.join(inv, n)) for n in js))
            assert m.unmount() == 0
            with open(m.stderr_path, encoding="utf-8", errors="replace") as f:
                ops = re.findall(r"opcode: (\w+)", f.read())
            out[kind] = {op: ops.count(op) for op in ("OPEN", "FLUSH", "RELEASE")}
    finally:
        small.stop()
    return out


def rclone_peer(src, work):
    """`rclone mount` of directory @src (its local backend), with its cache options set
    for speed (RCLONE_OPTS): (mount point, process)."""
    d = tempfile.mkdtemp(dir=work)
    p = subprocess.Popen(["rclone", "--config", "/dev/null", "mount", src, d, *RCLONE_OPTS],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: is_mounted(d) or p.poll() is not None, "rclone mount")
    if p.poll() is not None:
        raise RuntimeError("rclone mount failed")
    return d, p


def sshfs_peer(src, work):
    """`sshfs` of directory @src through an sshd of its own on localhost (a fresh host
    key and client key, root by key only), with its cache options set for speed
    (SSHFS_OPTS): (mount point, the sshd process)."""
    keys = tempfile.mkdtemp(dir=work)
    for k in ("host", "id"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(keys, k)],
                       check=True)
    shutil.copy(os.path.join(keys, "id.pub"), os.path.join(keys, "authorized_keys"))
    port = 20000 + os.getpid() % 20000
    cfg = os.path.join(keys, "sshd_config")
    with open(cfg, "w") as f:
        f.write(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {keys}/host\n"
                f"AuthorizedKeysFile {keys}/authorized_keys\nPermitRootLogin prohibit-password\n"
                f"PasswordAuthentication no\nUsePAM no\nStrictModes no\nPidFile none\n"
                f"Subsystem sftp internal-sftp\n")
    os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
    sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", cfg],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    d = tempfile.mkdtemp(dir=work)
    opts = (f"IdentityFile={keys}/id,StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,"
            f"BatchMode=yes,{SSHFS_OPTS}")

    def up():
        if sshd.poll() is not None:
            raise RuntimeError("sshd did not start")
        subprocess.run(["sshfs", "-p", str(port), "-o", opts, f"root@127.0.0.1:{src}", d],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return is_mounted(d)
    wait_for(up, "sshfs to localhost", interval=0.3)
    return d, sshd


def warm_rows(fake, work, nfloor):
    """Warm `cat` and `ls -l` of invoices/ on factuurfs beside their floors and peers, all
    mounted at once, runs alternating:
      - factuurfs with the defaults, read-write, its archive completed first by
        `factuurfs fetch` (timed), and -o ro on the same PDF cache; and a mount whose
        archive is not begun (-o prefetch=0, an empty cache: every PDF of unknown size);
      - fusefloor (tools/fusefloor.c) with @nfloor 640-byte files: alone (the -o ro
        floor of cat), with FLUSH answered on the multithreaded loop (the read-write
        floor), seeing opens (extra); with 2×@nfloor names (the floor of `ls -l` when
        every size is known); and with @nfloor .pdf beside the files whose attributes are
        never cached (`pdfs mt`: the floor of `ls -l` answering the same GETATTRs as a
        mount whose archive is not complete);
      - tmpfs holding the same 20,000 names as invoices/: every .json with the mount's
        bytes, every .pdf a sparse file of its size (its content is never read: `ls -l`
        only stats it); and the peers serving that same tmpfs: `rclone mount` (its local
        backend) and `sshfs` to localhost.
    Warm: the listing fetched and every timed file read once before timing.  Also the
    rw daemon's peak RSS once every invoice's JSON has been read, against the listing's
    bytes on the wire."""
    m0 = fake.mark()
    rw = mount(fake, work, opts=defaults(fake))
    names = sorted(os.listdir(rw.path("invoices")))
    rw_reqs = fake.since(m0)
    mark = fake.mark()
    t0 = time.perf_counter()
    got = subprocess.run([os.environ["FACTUURFS_BIN"], "fetch", rw.mnt, "--quiet"],
                         capture_output=True, text=True)
    fetch = dict(secs=time.perf_counter() - t0, rc=got.returncode, out=got.stdout.strip())
    freqs = fake.since(mark)
    fetch["calls"] = len(freqs)
    fetch["pdfs"] = sum("/invoices_pdf/" in r["path"] for r in freqs)
    ro = mount(fake, work, opts=defaults(fake, "ro"), env={"XDG_CACHE_HOME": rw.cache})
    os.listdir(ro.path("invoices"))
    part = mount(fake, work, opts=quiet(fake))
    os.listdir(part.path("invoices"))
    t = tmpfs(work)
    for n in names:
        if n.endswith(".json"):
            with open(ro.path("invoices", n), "rb") as f, open(os.path.join(t, n), "wb") as out:
                out.write(f.read())
        else:
            with open(os.path.join(t, n), "wb") as out:
                out.truncate(os.stat(ro.path("invoices", n)).st_size)
    refs = {"fusefloor": fuse_ref("fusefloor", [str(nfloor)], work),
            "fusefloor flush mt": fuse_ref("fusefloor", [str(nfloor), "flush", "mt"], work),
            "fusefloor open": fuse_ref("fusefloor", [str(nfloor), "open"], work),
            "fusefloor 2N mt": fuse_ref("fusefloor", [str(2 * nfloor), "flush", "mt"], work),
            "fusefloor pdfs mt": fuse_ref("fusefloor", [str(nfloor), "pdfs", "flush", "mt"], work)}
    # The daemon's peak once every invoice's JSON has been read (and its archive
    # fetched), before the timed runs: those last minutes, and a refresh of the listing
    # meanwhile holds the old and the new one at once.
    sh(cat_cmd(rw.path("invoices"), "*.json"))
    rss = vmhwm_mib(rw.proc.pid)
    rc_dir, rc_proc = rclone_peer(t, work)
    ss_dir, sshd = sshfs_peer(t, work)
    m1 = fake.mark()
    t1 = time.perf_counter()
    cat = side_by_side({**{k: cat_cmd(d) for k, (d, _) in refs.items()
                           if k in ("fusefloor", "fusefloor flush mt", "fusefloor open")},
                        "tmpfs": cat_cmd(t, "*.json"),
                        "rclone": cat_cmd(rc_dir, "*.json"), "sshfs": cat_cmd(ss_dir, "*.json"),
                        "rw": cat_cmd(rw.path("invoices"), "*.json"),
                        "ro": cat_cmd(ro.path("invoices"), "*.json")})
    # Also the .json alone (the shell's glob names them): what the mount shows of a
    # record costs nothing past the listing.
    ls = side_by_side({"tmpfs": f"ls -l {t}", "rclone": f"ls -l {rc_dir}",
                       "sshfs": f"ls -l {ss_dir}",
                       "fusefloor 2N mt": f"ls -l {refs['fusefloor 2N mt'][0]}",
                       "fusefloor pdfs mt": f"ls -l {refs['fusefloor pdfs mt'][0]}",
                       "rw": f"ls -l {rw.path('invoices')}",
                       "ro": f"ls -l {ro.path('invoices')}",
                       "part": f"ls -l {part.path('invoices')}",
                       "tmpfs json": f"cd {t} && ls -l -- *.json",
                       "rw json": f"cd {rw.path('invoices')} && ls -l -- *.json"})
    warm_secs = time.perf_counter() - t1
    warm_reqs = fake.since(m1)
    for d, p in refs.values():
        umount(d)
        p.wait()
    for d in (rc_dir, ss_dir):
        subprocess.run(["fusermount3", "-u", d], check=True)
    rc_proc.wait()
    sshd.terminate()
    sshd.wait()
    # What was timed must have read the right bytes: every .json on both mounts equals
    # the copy on tmpfs, the archive's PDFs (a sample of 100) the service's, and no
    # request failed.
    wrong = 0
    for n in names:
        if n.endswith(".json"):
            with open(os.path.join(t, n), "rb") as f:
                want = f.read()
            for d in (rw.path("invoices"), ro.path("invoices")):
                with open(os.path.join(d, n), "rb") as f:
                    wrong += f.read() != want
    pdfs = [n for n in names if n.endswith(".pdf")]
    for n in pdfs[::max(1, len(pdfs) // 100)]:
        with open(rw.path("invoices", n), "rb") as f:
            wrong += f.read() != fake.pdf(urllib.parse.unquote(n[:-4]))
    trouble = []
    if wrong:
        trouble.append(f"{wrong} files read back different")
    if failed_requests(rw_reqs + freqs + warm_reqs):
        trouble.append(f"{len(failed_requests(rw_reqs + freqs + warm_reqs))} API requests failed")
    if fetch["rc"] != 0 or fetch["pdfs"] != len(pdfs):
        trouble.append(f"factuurfs fetch: exit status {fetch['rc']}, {fetch['pdfs']} of "
                       f"{len(pdfs)} PDFs fetched")
    njson = sum(n.endswith(".json") for n in names)
    jsize = sum(os.path.getsize(os.path.join(t, n)) for n in names if n.endswith(".json"))
    umount(t)
    for m in (rw, ro, part):
        assert m.unmount() == 0
    return dict(cat=cat, ls=ls, warm_reqs=warm_reqs, warm_secs=warm_secs, rss=rss, names=names,
                trouble=trouble, wire=wire_bytes(rw_reqs), fetch=fetch,
                wire_calls=len(listing_calls(rw_reqs, "invoices")), njson=njson, jsize=jsize)


def cold_ls_rows(fake, work, nnames):
    """The first `ls -l invoices/` of a fresh mount (its credential check done, its cache
    directory empty), against one `curl` fetching the same listing pages from the same
    fake (the URLs the mount asked for, from the log), alternating, RUNS times."""
    ls_t, curl_t, trouble, calls = [], [], [], []
    cfg = curl_config(work)
    for run in range(RUNS):
        m0 = fake.mark()
        m = mount(fake, work, opts=quiet(fake))
        mark = fake.mark()
        early = listing_calls(fake.since(m0), "invoices")
        inv = m.path("invoices")
        t = time.perf_counter()
        out = subprocess.run(["ls", "-l", inv], capture_output=True, text=True)
        ls_t.append(time.perf_counter() - t)
        reqs = fake.since(mark)
        pages = listing_calls(reqs, "invoices")
        calls.append(len(reqs))
        listed = len(out.stdout.splitlines()) - 1  # less the "total" line
        if out.returncode != 0 or listed != nnames:
            trouble.append(f"ls: exit status {out.returncode}, {listed} of {nnames} names")
        if early:
            trouble.append(f"{len(early)} invoices listing calls before the ls")
        if failed_requests(reqs):
            trouble.append(f"{len(failed_requests(reqs))} API requests failed")
        assert m.unmount() == 0
        # One curl, all pages on one connection, as the mount asked for them.
        args = ["curl", "-s", "-f", "--cacert", fake.cafile, "-K", cfg, "-w", "%{size_download}\\n"]
        for r in pages:
            args += [fake.base + r["path"], "-o", "/dev/null"]
        t = time.perf_counter()
        c = subprocess.run(args, capture_output=True, text=True)
        curl_t.append(time.perf_counter() - t)
        got = sum(int(x) for x in c.stdout.split())
        if c.returncode != 0 or got != sum(r["bytes"] for r in pages):
            trouble.append(f"curl: exit status {c.returncode}, {got} bytes of "
                           f"{sum(r['bytes'] for r in pages)}")
        log(f"cold ls -l, run {run + 1}/{RUNS}: {ls_t[-1]:.2f} s; curl {curl_t[-1]:.2f} s")
    return dict(ls=statistics.median(ls_t), curl=statistics.median(curl_t),
                pages=len(pages), calls=max(calls), trouble=trouble)


def p_nearest(xs, p):
    """The p-th percentile by nearest rank (of 60 samples, p99 is the largest)."""
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def refresh_rows(fake, work, nnames):
    """`ls -l invoices/` every REFRESH_STEP s for REFRESH_SECONDS on a mount with
    ttl=REFRESH_TTL (its listing fetched first), start times on the grid (one that runs
    long is followed at once by the next), against the warm median of `ls -l` on a
    mount with ttl=3600 measured just before (2·RUNS runs, no refresh in flight)."""
    trouble = []
    warm = mount(fake, work, opts=quiet(fake, "ttl=3600"))
    inv = warm.path("invoices")
    sh(f"ls -l {inv}")
    mark = fake.mark()
    wt = [timed(f"ls -l {inv}") for _ in range(2 * RUNS)]
    if fake.since(mark):
        trouble.append(f"{len(fake.since(mark))} API calls on the ttl=3600 mount")
    assert warm.unmount() == 0
    m = mount(fake, work, opts=quiet(fake, f"ttl={REFRESH_TTL}"))
    inv = m.path("invoices")
    sh(f"ls -l {inv}")
    mark = fake.mark()
    lat = []
    start = time.perf_counter()
    k = 0  # the grid point of the next run
    while True:
        due = start + k * REFRESH_STEP
        now = time.perf_counter()
        if max(now, due) - start >= REFRESH_SECONDS:
            break
        if now < due:
            time.sleep(due - now)
        t = time.perf_counter()
        out = subprocess.run(["ls", "-l", inv], capture_output=True, text=True)
        lat.append(time.perf_counter() - t)
        listed = len(out.stdout.splitlines()) - 1
        if out.returncode != 0 or listed != nnames:
            trouble.append(f"ls: exit status {out.returncode}, {listed} of {nnames} names")
        # A run that outlasted its slot: the grid points it covered are skipped and the
        # next run starts at once (its grid point is already past).
        k = max(k + 1, int((time.perf_counter() - start) / REFRESH_STEP))
    secs = time.perf_counter() - start
    reqs = fake.since(mark)
    if failed_requests(reqs):
        trouble.append(f"{len(failed_requests(reqs))} API requests failed")
    assert m.unmount() == 0
    return dict(warm=statistics.median(wt), p50=statistics.median(lat), p99=p_nearest(lat, 99),
                max=max(lat), n=len(lat), secs=secs, pages=len(listing_calls(reqs, "invoices")),
                listings=refreshes(reqs), calls=len(reqs), trouble=trouble)


def cold_browse(fake, work):
    """A fresh mount, `ls -l` of every collection, every .json read: wall time from
    the mount's start, and the API calls it made."""
    times, calls = [], []
    for _ in range(COLD_RUNS):
        mark = fake.mark()
        t = time.perf_counter()
        m = mount(fake, work, opts=quiet(fake))
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
    have been answered 200: `trouble` lists what went wrong, per kind of run.  `tls`:
    (full handshakes, resumed, connections) of each mount from its start to its unmount,
    and of the curl loop."""
    pdfs = [n for n in names if n.endswith(".pdf")][:NPDF]
    want = {n: fake.pdf(urllib.parse.unquote(n[:-4])) for n in pdfs}  # the service's bytes
    fake.inject(latency_ms=LATENCY_MS)
    res = {k: [] for k in ("seq", "par", "remount", "curl")}
    calls = {k: [] for k in res}
    trouble = {k: [] for k in res}
    tls = {k: [] for k in res}
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

    def copy(key, par, env=None):
        m0 = fake.mark()
        m = mount(fake, work, opts=quiet(fake), env=env)
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
        assert m.unmount() == 0
        every = fake.since(m0)
        tls[key].append((*handshakes(every), conns(every)))
        return m

    for run in range(PDF_RUNS):
        log(f"PDFs, run {run + 1}/{PDF_RUNS}")
        copy("seq", 1)
        m = copy("par", PARALLEL)
        copy("remount", PARALLEL, env={"XDG_CACHE_HOME": m.cache})
        # The client-library way: one request per file, one after the other; the first
        # curl that fails (-f: an HTTP error too) ends the loop with its status.
        curl_dest = tempfile.mkdtemp(dir=work)
        cfg = shlex.quote(curl_config(work))
        script = "set -e\n" + "".join(
            f"curl -s -f --cacert {shlex.quote(fake.cafile)} -K {cfg} "
            f"{shlex.quote(fake.url + 'invoices_pdf/' + urllib.parse.quote(urllib.parse.unquote(n[:-4]), safe=''))}"
            f" -o {shlex.quote(os.path.join(curl_dest, n))}\n" for n in pdfs)
        with open(os.path.join(work, "curl.sh"), "w") as f:
            f.write(script)
        mark = fake.mark()
        secs, rc = timed_ok(f"bash {work}/curl.sh")
        res["curl"].append(secs)
        reqs = fake.since(mark)
        calls["curl"].append(len(reqs))
        tls["curl"].append((*handshakes(reqs), conns(reqs)))
        check("curl", curl_dest, rc, reqs)
    fake.reset()
    return {k: statistics.median(v) for k, v in res.items()}, calls, trouble, tls


def write_rows(fake, work):
    """NWRITES new clients (`cp` of a new JSON into clients/: a POST each, which
    factuurfs sends on a fresh connection) and NWRITES edits (`cp` over a client: a PUT
    each), on one mount with the default options: the TLS handshakes from its start to
    its unmount."""
    m0 = fake.mark()
    m = mount(fake, work, opts=quiet(fake))
    cl = m.path("clients")
    existing = sorted(n for n in os.listdir(cl) if n.endswith(".json"))[:NWRITES]
    src = os.path.join(work, "new-client.json")
    trouble = []
    for i in range(NWRITES):
        with open(src, "w") as f:
            f.write(f'{{"company": "Bench {i} B.V.", "city": "Zwolle"}}\n')
        secs, rc = timed_ok(f"cp {src} {cl}/bench-{i}.json")
        if rc:
            trouble.append(f"cp of a new client: exit status {rc}")
    for n in existing:
        with open(os.path.join(cl, n), encoding="utf-8") as f:
            text = f.read()
        with open(src, "w", encoding="utf-8") as f:
            f.write(re.sub(r'("city": )"[^"]*"', r'\1"Kampen"', text, count=1))
        secs, rc = timed_ok(f"cp {src} {shlex.quote(os.path.join(cl, n))}")
        if rc:
            trouble.append(f"cp over a client: exit status {rc}")
    assert m.unmount() == 0
    reqs = fake.since(m0)
    posts = sum(r["method"] == "POST" for r in reqs)
    puts = sum(r["method"] == "PUT" for r in reqs)
    if failed_requests(reqs):
        trouble.append(f"{len(failed_requests(reqs))} API requests failed")
    made = sum(c.get("company", "").startswith("Bench ") for c in fake.state("clients"))
    if posts != NWRITES or puts != NWRITES or made < NWRITES:
        trouble.append(f"{posts} POSTs, {puts} PUTs, {made} new clients (want {NWRITES} each)")
    full, resumed = handshakes(reqs)
    return dict(full=full, resumed=resumed, conns=conns(reqs), posts=posts, puts=puts,
                calls=len(reqs), trouble=list(dict.fromkeys(trouble)))


def scaling(fakes_for, work):
    """Cold `ls -l invoices/` + read every invoice .json on a fresh mount (defaults,
    HTTPS): seconds, the daemon's VmHWM, and the listing's bytes on the wire, for each
    size; and what went wrong (a failed command or request, invoices missing)."""
    rows, trouble = [], []
    for n in SCALE:
        fake, own = fakes_for(n)
        runs = 1 if n >= 50000 else (1 if QUICK else 2)
        t_, rss_, wire_, calls_ = [], [], [], []
        for _ in range(runs):
            m = mount(fake, work, opts=quiet(fake))
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
    if unit == " full":
        return f"missed by {d:g} full handshake{'s' if d != 1 else ''}"
    return f"missed by {d:.2f}{unit}"


def plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


def slopes(rows, col):
    """Log-log slopes between successive sizes: 1.0 is linear (a fixed cost lowers it)."""
    return [math.log(b[col] / a[col]) / math.log(b[0] / a[0]) for a, b in zip(rows, rows[1:])]


def main():
    t_start = time.perf_counter()
    work = tempfile.mkdtemp(prefix="factuurfs-bench-")
    log("does factuurfs see opens? (a -d mount on a small fake)")
    opens = probe_opens(work)
    sees_opens = {k: v["OPEN"] > 1 for k, v in opens.items()}

    fake = start_fake(work, NFILES)
    log("warm invoices/: factuurfs (its archive completed, and not begun) beside tmpfs, fusefloor, rclone and sshfs")
    w = warm_rows(fake, work, NFILES)
    log("cold first ls -l against curl")
    cold = cold_ls_rows(fake, work, len(w["names"]))
    log(f"refresh: ttl={REFRESH_TTL}, ls -l every {REFRESH_STEP} s for {REFRESH_SECONDS} s")
    ref = refresh_rows(fake, work, len(w["names"]))
    log(f"writes: {NWRITES} new clients, {NWRITES} edits")
    wr = write_rows(fake, work)
    log("cold browse")
    browse = cold_browse(fake, work)
    log(f"{NPDF} PDFs at {LATENCY_MS} ms latency")
    pdf, pcalls, pdf_trouble, ptls = pdf_rows(fake, work, w["names"])

    def fakes_for(n):
        return (fake, False) if n == NFILES else (start_fake(work, n), True)
    sc, sc_trouble = scaling(fakes_for, work)
    fake.stop()

    os.makedirs(PLOT_DIR, exist_ok=True)
    dat = os.path.join(PLOT_DIR, "scaling.dat")
    with open(dat, "w") as f:
        f.write("# scripts/bench.sh: cold `ls -l invoices/` + read every invoice .json on a fresh mount\n"
                "# (default options, the fake over HTTPS)\n"
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

    wc, wl = w["cat"], w["ls"]
    nn = len(w["names"])
    row(f"tmpfs: cat {w['njson']} .json (~{w['jsize'] // max(w['njson'], 1)} B) / ls -l {nn} names",
        f"{wc['tmpfs']:.3f} s / {wl['tmpfs']:.3f} s", "reference")
    for k, what in (("fusefloor", "no-open, 1 thread: the -o ro floor"),
                    ("fusefloor flush mt", "FLUSH answered, multithreaded: the rw floor"),
                    ("fusefloor open", "sees opens (keep_cache, noflush)")):
        row(f"{k} ({what}): cat {NFILES} × 640 B", f"{wc[k]:.3f} s ({wc[k] / wc['tmpfs']:.2f}× tmpfs)",
            "floor" if "floor" in what else "reference")
    row(f"fusefloor {2 * NFILES} flush mt: ls -l {2 * NFILES} names, every size known",
        f"{wl['fusefloor 2N mt']:.3f} s ({wl['fusefloor 2N mt'] / wl['tmpfs']:.2f}× tmpfs)", "floor")
    row(f"fusefloor {NFILES} pdfs flush mt: ls -l {2 * NFILES} names, {NFILES} never cached",
        f"{wl['fusefloor pdfs mt']:.3f} s ({wl['fusefloor pdfs mt'] / wl['tmpfs']:.2f}× tmpfs)", "floor")
    for k, what in (("rclone", "rclone mount, local backend over the tmpfs"),
                    ("sshfs", "sshfs to localhost over the tmpfs")):
        row(f"peer: {what}: cat / ls -l",
            f"{wc[k]:.3f} s ({wc[k] / wc['tmpfs']:.2f}×) / {wl[k]:.3f} s ({wl[k] / wl['tmpfs']:.2f}× tmpfs)",
            "reference")
    fe = w["fetch"]
    row("the archive: factuurfs fetch of every PDF (fresh mount)",
        f"{fe['secs']:.1f} s, {fe['pdfs']} PDFs, {fe['calls']} calls ({fe['pdfs'] / max(fe['secs'], 1e-9):.0f}/s)",
        "", "")
    for kind, floor in (("rw", "fusefloor flush mt"), ("ro", "fusefloor")):
        if sees_opens[kind]:
            floor = "fusefloor open"  # factuurfs sees opens: the floor that does too
        label = "defaults, rw" if kind == "rw" else "-o ro"
        r = wc[kind] / wc[floor]
        row(f"warm cat invoices/*.json, {label}",
            f"{r:.2f}× {floor} ({wc[kind]:.3f} s; {wc[kind] / wc['tmpfs']:.2f}× tmpfs)",
            "≤ 1.1×", verdict(r, 1.1, "<=", trouble=w["trouble"]))
    best = min(wc["rclone"], wc["sshfs"])
    r = wc["rw"] / best
    row("  warm cat, defaults rw, against the faster peer",
        f"{r:.2f}× ({wc['rw']:.3f} s vs {best:.3f} s)", "≤ 1.0×", verdict(r, 1.0, "<=", trouble=w["trouble"]))
    for kind, label in (("rw", "defaults, rw"), ("ro", "-o ro")):
        r = wl[kind] / wl["rclone"]
        row(f"warm ls -l invoices/ ({nn} names), archive complete, {label}",
            f"{r:.2f}× rclone ({wl[kind]:.3f} s; {wl[kind] / wl['tmpfs']:.2f}× tmpfs, "
            f"{wl[kind] / wl['sshfs']:.2f}× sshfs)",
            "≤ 1.0×", verdict(r, 1.0, "<=", trouble=w["trouble"]))
    r = wl["part"] / wl["fusefloor pdfs mt"]
    row(f"warm ls -l invoices/, archive not begun ({NFILES} sizes unknown)",
        f"{r:.2f}× fusefloor pdfs ({wl['part']:.3f} s; {wl['part'] / wl['rclone']:.2f}× rclone)",
        "≤ 1.0×", verdict(r, 1.0, "<=", trouble=w["trouble"]))
    r = wl["rw json"] / wl["tmpfs json"]
    row(f"  ls -l of the {w['njson']} .json alone, rw", f"{r:.2f}× tmpfs "
        f"({wl['rw json']:.3f} s vs {wl['tmpfs json']:.3f} s)", "≤ 1.0×",
        verdict(r, 1.0, "<=", trouble=w["trouble"]))
    wr_ = w["warm_reqs"]
    row("  opens seen by the daemon (-d probe: OPENs for 10 opens)",
        f"rw {opens['rw']['OPEN']} (FLUSH {opens['rw']['FLUSH']}), ro {opens['ro']['OPEN']} "
        f"(FLUSH {opens['ro']['FLUSH']})", "", "")
    row(f"  API calls during the warm runs ({w['warm_secs']:.0f} s, ttl 60)",
        f"{len(wr_)}: {refreshes(wr_)} listings ({len(listing_calls(wr_, 'invoices'))} pages)", "", "")
    r = cold["ls"] / cold["curl"]
    row("cold first ls -l invoices/ (fresh mount) vs curl",
        f"{r:.2f}× ({cold['ls']:.2f} s vs {cold['curl']:.2f} s; {plural(cold['pages'], 'page')}, "
        f"{plural(cold['calls'], 'call')})", "≤ 1.3×", verdict(r, 1.3, "<=", trouble=cold["trouble"]))
    r = ref["p99"] / ref["warm"]
    row(f"ls -l every {REFRESH_STEP} s for {REFRESH_SECONDS} s, ttl={REFRESH_TTL}: p99",
        f"{r:.2f}× warm median ({ref['p99']:.3f} s vs {ref['warm']:.3f} s)", "≤ 3×",
        verdict(r, 3, "<=", trouble=ref["trouble"]))
    row(f"  p50 / max of {ref['n']} runs (p99: nearest rank); warm median: ttl=3600 mount, {2 * RUNS} runs",
        f"{ref['p50']:.3f} s / {ref['max']:.3f} s", "", "")
    row(f"  listings during the {ref['secs']:.0f} s",
        f"{ref['listings']} ({ref['pages']} pages, {ref['calls']} calls)",
        f"≈ {REFRESH_SECONDS / REFRESH_TTL:.0f}", "")
    minimum = len(LISTABLE) + 1
    worst = max(browse["calls"])
    extra = ", ".join(f"{k} {v}" for k, v in sorted(browse["by"].items()) if v > 1)
    row("cold mount + ls -l all + read every .json: calls",
        f"{worst} (min {minimum}{'; ' + extra if extra else ''}), {browse['time']:.2f} s", f"= {minimum}",
        verdict(worst, minimum, "==", " calls", trouble=browse["trouble"]))
    sp = pdf["seq"] / pdf["par"]
    row(f"{NPDF} PDFs @{LATENCY_MS} ms: cp one by one, fresh mount",
        f"{pdf['seq']:.2f} s, {max(pcalls['seq'])} calls", "", "")
    row(f"  cp {PARALLEL} in parallel, fresh mount",
        f"{pdf['par']:.2f} s, {max(pcalls['par'])} calls: {sp:.1f}× faster", "≥ 6×",
        verdict(sp, 6, ">=", trouble=pdf_trouble["seq"] + pdf_trouble["par"]))
    row(f"  cp {PARALLEL} in parallel after remount, disk cache",
        f"{pdf['remount']:.3f} s, {max(pcalls['remount'])} calls", "0 calls",
        verdict(max(pcalls["remount"]), 0, "==", " calls", trouble=pdf_trouble["remount"]))
    cr = pdf["curl"] / pdf["par"]
    row("  sequential curl loop (a process per PDF)",
        f"{pdf['curl']:.2f} s, {max(pcalls['curl'])} calls: parallel cp {cr:.1f}× faster", "≥ 5×",
        verdict(cr, 5, ">=", trouble=pdf_trouble["curl"] + pdf_trouble["par"]))

    def hs(t):
        return f"{t[0]} full, {t[1]} resumed, {t[2]} conns"
    for k, what in (("seq", "cp one by one"), ("par", f"cp {PARALLEL} in parallel"),
                    ("remount", "after remount")):
        worst = max(ptls[k])
        row(f"  TLS, mount start to unmount: {what}", hs(worst),
            f"full ≤ {POOL}, rest resumed",
            verdict(worst[0], POOL, "<=", " full", trouble=pdf_trouble[k]))
    row("  TLS: the curl loop", hs(max(ptls["curl"])), "reference")
    row(f"writes: {wr['posts']} new clients (POST, fresh connections) + {wr['puts']} edits (PUT)",
        f"{hs((wr['full'], wr['resumed'], wr['conns']))}, {wr['calls']} calls",
        f"full ≤ {POOL}, rest resumed",
        verdict(wr["full"], POOL, "<=", " full", trouble=wr["trouble"]))
    wire = w["wire"] / 2**20
    rr = w["rss"] / wire
    row(f"peak RSS (VmHWM), rw, the archive fetched, all {w['njson']} .json read",
        f"{w['rss']:.0f} MiB = {rr:.1f}× listing wire {wire:.1f} MiB ({plural(w['wire_calls'], 'listing page')})",
        "≤ 4×", verdict(rr, 4, "<=", trouble=w["trouble"]))
    for r in sc:
        row(f"scaling {r[0]:>6}: cold ls -l + cat *.json",
            f"{r[1]:6.2f} s ({1e6 * r[1] / r[0]:.0f} µs/inv), {r[2]:4.0f} MiB ({r[2] / r[3]:.1f}× wire)", "", "")
    for col, what in ((1, "time"), (2, "memory")):
        sl = slopes(sc, col)
        row(f"  {what} growth, log-log slope per step", " → ".join(f"{x:.2f}" for x in sl),
            "linear (≤ 1.1)", verdict(max(sl), 1.1, "<=", "", trouble=sc_trouble))

    print(f"\nfactuurfs bench{' --quick' if QUICK else ''}: {NFILES} invoices, the fake over HTTPS, "
          f"default options; warm rows median of {RUNS}, PDF rows of {PDF_RUNS}; "
          f"{os.cpu_count()} CPUs; {time.perf_counter() - t_start:.0f} s in all\n")
    wd = [max(len(r[i]) for r in rows) for i in range(3)]
    hdr = ("measurement", "figure", "target", "verdict")
    wd = [max(wd[i], len(hdr[i])) for i in range(3)]
    print(f"{hdr[0]:{wd[0]}}  {hdr[1]:{wd[1]}}  {hdr[2]:{wd[2]}}  {hdr[3]}")
    print("-" * (sum(wd) + 6 + 12))
    for r in rows:
        print(f"{r[0]:{wd[0]}}  {r[1]:{wd[1]}}  {r[2]:{wd[2]}}  {r[3]}".rstrip())
    print(f"\nscaling data: {dat}\nplot: {png}")
    shutil.rmtree(work, ignore_errors=True)


main()
