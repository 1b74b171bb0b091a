"""Load: 8 processes doing mixed reads, copies and edits for 60 s against a generated
account: zero unexpected errors, every write landed once, daemon memory flat after
warm-up.

FACTUURFS_LOAD_SECONDS shortens (or lengthens) the run; FACTUURFS_LOAD_SEED repeats one.
scripts/test.sh runs it for 60 s on the normal build and for 30 s under ThreadSanitizer
(FACTUURFS_SANITIZED=1), where everything but the memory bound is asserted: TSan's shadow
memory and access history grow with the run, and are not the daemon's.
Each worker is a real OS process (forked) that loops over a random mix until the
deadline:

  list    os.listdir of a collection, os.stat of up to 32 entries; the listing must hold
          every record the account started with (nothing is ever deleted) and every
          product this worker created
  read    a random record file: JSON whose identifier matches its name; for a client the
          worker owns, the last marker it wrote (read-your-writes)
  pdf     shutil.copyfile of a random PDF out of the mount: the fake's bytes, and stat
          shows their size afterwards
  status  .factuurfs/status and balance.json parse as JSON
  edit    one of the worker's own clients gets a unique marker in `notes` (and sometimes
          a new `address`), saved in place (open/write/close), by `cp` or
          shutil.copyfile of a temp file outside the mount, or GIO-style by renaming a
          `.goutputstream-*` scratch file onto it; the file then shows the marker
  create  a new product file `new-w<i>-<n>.json` (written in place or by `cp`); it is
          listed under its new id at once
  pedit   a product this worker created gets a new name (open/write/close)

Afterwards the fake's request log must hold exactly one PUT per edit (per record), one
POST per created product, no failed request, no DELETE and no scratch or new-file name,
and the fake's records must hold the last marker/name written.
"""
import collections
import faulthandler
import json
import multiprocessing
import os
import random
import re
import shutil
import subprocess
import tempfile
import threading
import time
import traceback
import urllib.parse
import urllib.request

import pytest

from harness import DEADLINE, SANITIZED, Fake, save, wait_for

LOAD_SECONDS = float(os.environ.get("FACTUURFS_LOAD_SECONDS", "60"))
WORKERS = 8
GENERATE = "clients=240,invoices=300,products=120"
TTL = 2
SAMPLE_EVERY = 0.5
WARMUP = 0.25  # of the run
# "Flat": the peak RSS of the last half may exceed the RSS at the end of the warm-up by
# 15% + 8 MiB.  What legitimately moves the figure: a listing refresh holds the old and
# the new listing of a collection at once (invoices: ~1 MiB of wire, a few MiB parsed);
# PDFs in flight; the products the run creates (a few hundred, well under 1 MiB); and
# above all glibc's per-thread arenas, which keep freed memory: on this machine RSS
# creeps from ~27 MiB at the end of the warm-up to ~34 MiB at 60 s, yet the same run
# with MALLOC_ARENA_MAX=1 stays at 17-18.5 MiB, and a malloc_trim() (store/pages.c trims
# after parsing a listing of more than 1000 records) drops it back to ~24 MiB at once: freed,
# not leaked.  The creates are kept rare so that products stays under those 1000
# records and every run measures the untrimmed case.  What the bound catches: in the
# last half (~7,000 operations, ~1,200 listings) a leak of more than ~1 KiB per
# operation or ~7 KiB per listing; smaller leaks are valgrind's job.
MARGIN_PCT = 0.15
MARGIN_ABS = 8 << 20

ID = {"clients": "clientnr", "products": "id", "invoices": "invoicenr",
      "invoices_saved": "id", "invoices_repeated": "id", "profiles": "id",
      "countrylist": "id"}
LISTED = ["clients", "products", "invoices", "invoices_saved", "invoices_repeated",
          "profiles", "countrylist", "taxes"]
# What the request log must never show: names that are not records.
SCRATCH = "goutputstream"
NEWNAME = "new-w"
OPS = {"list": 18, "read": 32, "pdf": 14, "status": 3, "edit": 20, "create": 3, "pedit": 7}


def stem(ident):
    """The file stem of a record identifier (README, "Names")."""
    s = str(ident).replace("%", "%25").replace("/", "%2F")
    return "%2E" + s[1:] if s.startswith(".") else s


def unstem(s):
    return s.replace("%2E", ".").replace("%2F", "/").replace("%25", "%") \
        if "%" in s else s


def tax_name(t):
    return f"{t['percentage']}-{t['type']}.json"


def is_record_name(coll, name, known):
    """A name the fs lists for a record (not a scratch or new file)."""
    return name in known.get(coll, ())


def error_kind(e):
    """An error's message with its numbers and quoted values blotted out, to count
    errors by kind."""
    msg = re.sub(r"'[^']*'", "'…'", f"{type(e).__name__}: {e}")
    return re.sub(r"\d+", "N", msg)[:200]


def write_all(path, text, flags=os.O_WRONLY | os.O_TRUNC | os.O_CREAT):
    """open/write/close; close() is the commit and raises its errno."""
    data = text.encode()
    fd = os.open(path, flags, 0o644)
    try:
        off = 0
        while off < len(data):
            off += os.write(fd, data[off:])
    except BaseException:
        try:
            os.close(fd)
        except OSError:
            pass
        raise
    os.close(fd)


def fake_get(base, path):
    with urllib.request.urlopen(base + path, timeout=30) as r:
        return r.read()


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


# -- one worker process -------------------------------------------------------------------

class Worker:
    def __init__(self, idx, seed, mnt, fake_base, known, own_clients, deadline, scratch,
                 out):
        self.idx, self.seed, self.mnt, self.base = idx, seed, mnt, fake_base
        self.known = known  # collection -> set of file names the account started with
        self.readable = {c: sorted(n for n in known[c] if n.endswith(".json"))
                         for c in LISTED}
        self.own = own_clients  # clientnr strings this worker alone edits
        self.own_set = set(own_clients)
        self.deadline = deadline
        self.scratch = scratch  # a private directory outside the mount
        self.out = out
        self.rnd = random.Random(seed)
        self.counts = collections.Counter()
        self.ways = collections.Counter()
        self.errors = []  # the first 20, with their tracebacks
        self.nerrors = 0
        self.kinds = collections.Counter()  # every error, by kind
        self.puts = collections.Counter()  # "clients/12" -> edits made
        self.last_notes = {}  # clientnr -> last marker written
        self.created = {}  # code -> {"id": .., "name": last name written}
        self.pdfs = {}  # invoicenr -> bytes (the fake's)
        self.n = 0
        self.t0 = time.monotonic()

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    def fail(self, msg):
        raise AssertionError(f"worker {self.idx}: {msg}")

    # -- reads ---------------------------------------------------------------------------
    def op_list(self):
        coll = self.rnd.choice(LISTED)
        names = os.listdir(self.path(coll))
        have = set(names)
        missing = self.known[coll] - have
        if coll == "products":
            missing |= {c["id"] + ".json" for c in self.created.values()} - have
        if missing:
            self.fail(f"listing of {coll} lacks {sorted(missing)[:5]} "
                      f"({len(missing)} records; {len(names)} listed)")
        for name in self.rnd.sample(names, min(32, len(names))):
            try:
                st = os.stat(self.path(coll, name))
            except FileNotFoundError:
                # another worker's scratch or new file can go between readdir and
                # stat; a record's name never may
                if is_record_name(coll, name, self.known):
                    raise
                continue
            # (a client another worker is saving is empty between its O_TRUNC and its
            # write, as on a local disk; the other records are never written)
            if coll != "clients" and is_record_name(coll, name, self.known) and \
                    st.st_size <= 0:
                self.fail(f"{coll}/{name} has size {st.st_size}")

    def op_read(self):
        coll = self.rnd.choice(LISTED + ["clients"] * 2)
        if coll == "clients" and self.own and self.rnd.random() < 0.4:
            name = self.rnd.choice(self.own) + ".json"
        else:
            name = self.rnd.choice(self.readable[coll])
        with open(self.path(coll, name), "rb") as f:
            raw = f.read()
        if not raw and coll == "clients" and name[:-len(".json")] not in self.own_set:
            # another worker's save between its O_TRUNC and its write, as on a local
            # disk (each save writes its text with one write())
            self.ways["read-mid-save"] += 1
            return
        try:
            rec = json.loads(raw)
        except ValueError as e:
            self.fail(f"{coll}/{name} is not JSON ({e}): {raw[:200]!r}...{raw[-80:]!r}")
        if coll == "taxes":
            if tax_name(rec) != name:
                self.fail(f"taxes/{name} holds {rec}")
            return
        if str(rec.get(ID[coll])) != unstem(name[:-len(".json")]):
            self.fail(f"{coll}/{name} has {ID[coll]}={rec.get(ID[coll])!r}")
        if coll == "clients":
            nr = name[:-len(".json")]
            want = self.last_notes.get(nr)
            if want is not None and rec.get("notes") != want:
                self.fail(f"clients/{name}: notes {rec.get('notes')!r}, "
                          f"last written {want!r}")

    def op_pdf(self):
        nr = self.rnd.choice(sorted(self.known["invoices_nr"]))
        src = self.path("invoices", stem(nr) + ".pdf")
        dst = os.path.join(self.scratch, "copy.pdf")
        shutil.copyfile(src, dst)
        with open(dst, "rb") as f:
            got = f.read()
        want = self.pdfs.get(nr)
        if want is None:
            want = self.pdfs[nr] = fake_get(self.base, "/_fake/pdf/" +
                                            urllib.parse.quote(nr, safe=""))
        if got != want:
            self.fail(f"invoices/{stem(nr)}.pdf: {len(got)} bytes, fake has {len(want)}"
                      f" (equal prefix: {got[:len(want)] == want[:len(got)]})")
        size = os.stat(src).st_size
        if size != len(want):
            self.fail(f"invoices/{stem(nr)}.pdf: stat size {size} after a copy of "
                      f"{len(want)} bytes")

    def op_status(self):
        with open(self.path(".factuurfs", "status"), "rb") as f:
            json.loads(f.read())
        with open(self.path("balance.json"), "rb") as f:
            json.loads(f.read())

    # -- writes --------------------------------------------------------------------------
    def save(self, coll, name, text, ways):
        """Saves text as coll/name one of @ways; returns the way taken."""
        way = self.rnd.choice(ways)
        dest = self.path(coll, name)
        if way == "inplace":
            write_all(dest, text)
        elif way in ("cp", "copyfile"):
            tmp = os.path.join(self.scratch, f"edit-{self.n}.json")
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
            if way == "cp":
                r = subprocess.run(["cp", tmp, dest], capture_output=True, text=True,
                                   timeout=DEADLINE * 2)
                if r.returncode != 0:
                    self.fail(f"cp {tmp} {dest}: exit {r.returncode}: {r.stderr.strip()}")
            else:
                shutil.copyfile(tmp, dest)
            os.unlink(tmp)
        elif way == "rename":
            tmp = self.path(coll, f".goutputstream-w{self.idx}n{self.n}")
            write_all(tmp, text, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            os.rename(tmp, dest)
        else:
            raise ValueError(way)
        self.ways[way] += 1
        return way

    def op_edit(self):
        if not self.own:
            return
        nr = self.rnd.choice(self.own)
        name = nr + ".json"
        with open(self.path("clients", name), "rb") as f:
            rec = json.loads(f.read())
        marker = f"load w{self.idx} n{self.n} s{self.seed}"
        rec["notes"] = marker
        if self.rnd.random() < 0.3:
            rec["address"] = f"Laststraat {self.rnd.randint(1, 99999)}"
        text = json.dumps(rec, indent=2, ensure_ascii=False) + "\n"
        way = self.save("clients", name, text, ["inplace", "inplace", "cp", "copyfile",
                                                "rename"])
        # counted once the save succeeded: a refused save sends nothing (SEMANTICS.md),
        # so one that reached the service anyway shows as a PUT too many
        self.puts["clients/" + nr] += 1
        self.last_notes[nr] = marker
        with open(self.path("clients", name), "rb") as f:
            back = json.loads(f.read())
        if back.get("notes") != marker:
            self.fail(f"clients/{name} after a save ({way}): notes "
                      f"{back.get('notes')!r}, wrote {marker!r}")

    def op_create(self):
        code = f"LOAD-{self.idx}-{self.n}-{self.seed}"
        pname = f"Laadproduct {self.idx}.{self.n}"
        text = json.dumps({"code": code, "name": pname,
                           "price": round(self.rnd.uniform(1, 500), 2), "taxes": 21}) + "\n"
        fname = f"{NEWNAME}{self.idx}-{self.n}.json"
        self.save("products", fname, text, ["inplace", "inplace", "cp"])
        self.created[code] = {"id": None, "name": pname}
        recs = json.loads(fake_get(self.base, "/_fake/state/products"))
        ids = [p["id"] for p in recs if p["code"] == code]
        if len(ids) != 1:
            self.fail(f"products/{fname} ({code}) made {len(ids)} records")
        self.created[code]["id"] = ids[0]
        if ids[0] + ".json" not in os.listdir(self.path("products")):
            self.fail(f"products/{ids[0]}.json ({code}) not listed after its POST")
        with open(self.path("products", ids[0] + ".json"), "rb") as f:
            if json.loads(f.read()).get("code") != code:
                self.fail(f"products/{ids[0]}.json is not {code}")

    def op_pedit(self):
        mine = [c for c, v in self.created.items() if v["id"]]
        if not mine:
            return self.op_create()
        code = self.rnd.choice(mine)
        pid = self.created[code]["id"]
        path = self.path("products", pid + ".json")
        with open(path, "rb") as f:
            rec = json.loads(f.read())
        pname = f"Laadproduct {self.idx}.{self.n} herzien"
        rec["name"] = pname
        write_all(path, json.dumps(rec, indent=2) + "\n")
        self.puts["products/" + pid] += 1
        self.created[code]["name"] = pname
        with open(path, "rb") as f:
            got = json.loads(f.read()).get("name")
        if got != pname:
            self.fail(f"products/{pid}.json after a save: name {got!r}, wrote {pname!r}")

    # -- the loop ------------------------------------------------------------------------
    def run(self):
        kinds = list(OPS)
        weights = [OPS[k] for k in kinds]
        while time.monotonic() < self.deadline:
            kind = self.rnd.choices(kinds, weights)[0]
            self.n += 1
            self.counts[kind] += 1
            try:
                getattr(self, "op_" + kind)()
            except Exception as e:
                self.nerrors += 1
                self.kinds[kind + ": " + error_kind(e)] += 1
                if len(self.errors) < 20:
                    self.errors.append({"worker": self.idx, "op": kind, "n": self.n,
                                        "t": round(time.monotonic() - self.t0, 2),
                                        "trace": traceback.format_exc()})
        result = {"idx": self.idx, "seed": self.seed, "counts": self.counts,
                  "ways": self.ways, "errors": self.errors, "nerrors": self.nerrors,
                  "kinds": self.kinds, "puts": self.puts,
                  "last_notes": self.last_notes, "created": self.created}
        tmp = self.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(result, f)
        os.replace(tmp, self.out)


def worker_main(*args):
    out = args[-1]
    # a hung worker dumps its stack (where it hangs in the mount) and exits
    dump = open(out + ".stack", "w")
    faulthandler.dump_traceback_later(LOAD_SECONDS + DEADLINE * 3, exit=True, file=dump)
    try:
        Worker(*args).run()
    except BaseException:
        traceback.print_exc(file=dump)
        dump.flush()
        os._exit(3)
    faulthandler.cancel_dump_traceback_later()
    os._exit(0)


# -- the test --------------------------------------------------------------------------------

@pytest.fixture
def loadfake(workdir):
    f = Fake(workdir, "--generate", GENERATE, "--rate-limit", "100000000",
             "--latency-ms", "2")
    yield f
    f.stop()


def api_path(r):
    return urllib.parse.urlsplit(r["path"]).path.replace("/api/v1/", "", 1)


@pytest.mark.slow
def test_eight_processes_of_mixed_load(loadfake, mounts, tmp_path):
    fake = loadfake
    base_seed = int(os.environ.get("FACTUURFS_LOAD_SEED") or random.randrange(1 << 30))
    seeds = [base_seed * 100 + i for i in range(WORKERS)]
    print(f"\nload: {LOAD_SECONDS:g} s, {WORKERS} workers, base seed {base_seed} "
          f"(FACTUURFS_LOAD_SEED={base_seed} repeats it), worker seeds {seeds}")

    state = {c: fake.state(c) for c in LISTED}
    known = {c: {stem(r[ID[c]]) + ".json" for r in state[c]} for c in LISTED if c != "taxes"}
    known["taxes"] = {tax_name(t) for t in state["taxes"]}
    known["invoices_nr"] = {r["invoicenr"] for r in state["invoices"]}
    known["invoices"] |= {stem(nr) + ".pdf" for nr in known["invoices_nr"]}
    clients = sorted((c["clientnr"] for c in state["clients"]), key=int)
    own = [clients[i::WORKERS] for i in range(WORKERS)]

    m = mounts(fake, opts=[f"ttl={TTL}"])
    pid = m.proc.pid
    mark = fake.mark()

    ctx = multiprocessing.get_context("fork")
    outs = [str(tmp_path / f"worker{i}.json") for i in range(WORKERS)]
    start = time.monotonic()
    deadline = start + LOAD_SECONDS
    procs = []
    for i in range(WORKERS):
        scratch = tempfile.mkdtemp(prefix=f"w{i}-", dir=tmp_path)
        p = ctx.Process(target=worker_main, name=f"load-{i}",
                        args=(i, seeds[i], m.mnt, fake.base, known, own[i], deadline,
                              scratch, outs[i]))
        p.start()
        procs.append(p)

    # the daemon's RSS every SAMPLE_EVERY s while the workers run
    samples = []
    next_t = start
    hard_end = deadline + DEADLINE * 3 + 10
    while any(p.is_alive() for p in procs) and time.monotonic() < hard_end:
        if m.proc.poll() is not None:
            break
        samples.append((time.monotonic() - start, rss_bytes(pid)))
        next_t += SAMPLE_EVERY
        time.sleep(max(0.0, next_t - time.monotonic()))
    for p in procs:
        p.join(max(0.1, hard_end - time.monotonic()))
    hung = [p.name for p in procs if p.is_alive()]
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join()
    daemon_alive = m.proc.poll() is None

    # -- the workers' own findings ------------------------------------------------------
    problems = []
    if not daemon_alive:
        problems.append(f"factuurfs exited with {m.proc.returncode}: {m.stderr()[-3000:]}")
    if hung:
        problems.append(f"workers hung: {hung}")
    results = []
    for i, (p, out) in enumerate(zip(procs, outs)):
        if os.path.exists(out):
            with open(out) as f:
                results.append(json.load(f))
        else:
            stack = open(out + ".stack").read() if os.path.exists(out + ".stack") else ""
            problems.append(f"worker {i} (seed {seeds[i]}) left no result, exit "
                            f"{p.exitcode}:\n{stack}")
    errors = [e for r in results for e in r["errors"]]
    nerrors = sum(r["nerrors"] for r in results)
    kinds = collections.Counter()
    for r in results:
        kinds.update(r["kinds"])
    if nerrors:
        problems.append(f"{nerrors} errors in the workers, by kind:\n" + "\n".join(
            f"{n:6d}  {k}" for k, n in kinds.most_common()))
    for e in sorted(errors, key=lambda e: e["t"])[:8]:
        problems.append(f"worker {e['worker']} (seed {seeds[e['worker']]}) op {e['op']} "
                        f"#{e['n']} at {e['t']} s:\n{e['trace']}")

    counts = collections.Counter()
    ways = collections.Counter()
    for r in results:
        counts.update(r["counts"])
        ways.update(r["ways"])

    # -- what reached the service -------------------------------------------------------
    reqs = fake.since(mark)
    methods = collections.Counter(r["method"] for r in reqs)
    bad = [r for r in reqs if not (200 <= r["status"] < 300)]
    if bad:
        problems.append(f"{len(bad)} API requests failed: {bad[:5]}")
    leaked = [r["path"] for r in reqs
              if SCRATCH in r["path"] or NEWNAME in r["path"] or ".json" in r["path"]
              or "~" in r["path"]]
    if leaked:
        problems.append(f"requests name scratch/new files: {leaked[:5]}")
    if methods["DELETE"]:
        problems.append(f"{methods['DELETE']} DELETEs were sent")

    want_puts = collections.Counter()
    for r in results:
        want_puts.update(r["puts"])
    got_puts = collections.Counter(api_path(r) for r in reqs if r["method"] == "PUT")
    if got_puts != want_puts:
        diff = {k: (got_puts[k], want_puts[k]) for k in set(got_puts) | set(want_puts)
                if got_puts[k] != want_puts[k]}
        problems.append(f"PUTs (sent, edits made) differ for {len(diff)} records: "
                        f"{dict(sorted(diff.items())[:10])}")

    created = {code: v for r in results for code, v in r["created"].items()}
    posts = [api_path(r) for r in reqs if r["method"] == "POST"]
    if posts != ["products"] * len(created):
        problems.append(f"{len(posts)} POSTs for {len(created)} created products: "
                        f"{collections.Counter(posts)}")
    products = fake.state("products")
    by_code = collections.defaultdict(list)
    for p in products:
        by_code[p["code"]].append(p)
    for code, v in created.items():
        recs = by_code.get(code, [])
        if len(recs) != 1:
            problems.append(f"product {code}: {len(recs)} records")
        elif recs[0]["name"] != v["name"]:
            problems.append(f"product {code}: name {recs[0]['name']!r}, "
                            f"last written {v['name']!r}")
    stray = [c for c in by_code if c.startswith("LOAD-") and c not in created]
    if stray:
        problems.append(f"products nobody created: {stray[:5]}")

    final = {c["clientnr"]: c for c in fake.state("clients")}
    for r in results:
        for nr, marker in r["last_notes"].items():
            if final[nr]["notes"] != marker:
                problems.append(f"client {nr}: the fake holds notes "
                                f"{final[nr]['notes']!r}, last written {marker!r}")

    # -- memory ---------------------------------------------------------------------------
    mem = None
    if samples:
        warm_t = WARMUP * LOAD_SECONDS
        warm = [s for s in samples if s[0] <= warm_t]
        late = [s for s in samples if s[0] >= LOAD_SECONDS / 2]
        at_warm = (warm or samples[:1])[-1][1]
        peak_late = max(s[1] for s in late) if late else None
        limit = at_warm * (1 + MARGIN_PCT) + MARGIN_ABS
        rss = [s[1] for s in samples]
        mem = (min(rss), max(rss), at_warm, peak_late, rss[-1], limit)
        with open(tmp_path / "rss.txt", "w") as f:
            f.writelines(f"{t:.2f} {b}\n" for t, b in samples)
        if peak_late is not None and peak_late > limit and not SANITIZED:
            problems.append(
                f"RSS not flat after warm-up: peak {peak_late / 2**20:.1f} MiB in the last "
                f"half > {limit / 2**20:.1f} MiB (at warm-up {at_warm / 2**20:.1f} MiB "
                f"+ {MARGIN_PCT:.0%} + {MARGIN_ABS >> 20} MiB); samples in "
                f"{tmp_path / 'rss.txt'}")

    status = {}
    if daemon_alive:
        status = m.status()
    mib = (lambda b: f"{b / 2**20:.1f}" if b is not None else "-")
    print("load summary: ops " + " ".join(f"{k}={counts[k]}" for k in OPS)
          + f" (total {sum(counts.values())}; saves " + " ".join(
              f"{k}={v}" for k, v in sorted(ways.items())) + ")"
          + f" | errors {nerrors} | PUT {methods['PUT']} (edits "
          f"{sum(want_puts.values())}) POST {methods['POST']} (creates {len(created)})"
          f" GET {methods['GET']} | API calls {len(reqs)}"
          f" (daemon: {status.get('api', {}).get('requests')} requests,"
          f" {status.get('errors_total')} errors)"
          + (" | RSS MiB min/max/at-warm-up/peak-last-half/end/limit "
             + "/".join(mib(x) for x in mem) if mem else "")
          + f" | {len(samples)} samples")
    listings = collections.Counter(api_path(r) for r in reqs if r["method"] == "GET"
                                   and "/" not in api_path(r))
    print("load listings: " + " ".join(f"{k}={v}" for k, v in sorted(listings.items())))
    if problems:
        unusual = [line for line in m.stderr().splitlines()
                   if not re.match(r"factuurfs: (updated|created) ", line)]
        problems.append("daemon log, without its routine 'updated'/'created' lines "
                        "(last 40):\n" + "\n".join(unusual[-40:]))
    assert not problems, "\n\n".join(problems)


# -- listings that hold what this mount made, whatever reads beside them ----------------

class GateProxy:
    """An HTTP proxy in front of the fake whose gates hold the requests that start with
    a prefix until the test opens them, each gate on its own (the fake's hang has one
    release for all)."""

    def __init__(self, fake):
        import http.client
        import http.server
        proxy = self
        self.fake = fake
        self.gates = {}  # path prefix -> threading.Event
        self.held = collections.Counter()  # path prefix -> requests waiting at it
        self.lock = threading.Lock()
        host, port = fake.base.split("//", 1)[1].rsplit(":", 1)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def relay(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy.lock:
                    gate = next((p for p in proxy.gates if self.path.startswith(p)), None)
                    if gate:
                        proxy.held[gate] += 1
                if gate:
                    proxy.gates[gate].wait(DEADLINE * 4)
                    with proxy.lock:
                        proxy.held[gate] -= 1
                conn = http.client.HTTPConnection(host, int(port), timeout=DEADLINE * 4)
                conn.request(self.command, self.path, body=body or None,
                             headers={k: v for k, v in self.headers.items()
                                      if k.lower() not in ("connection", "host")})
                r = conn.getresponse()
                data = r.read()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("connection", "content-length",
                                         "transfer-encoding", "date", "server"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = relay

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = self.base + fake.url[len(fake.base):]

    def gate(self, prefix):
        with self.lock:
            self.gates[prefix] = threading.Event()
        return self.gates[prefix]

    def close(self):
        for ev in self.gates.values():
            ev.set()
        self.server.shutdown()
        self.server.server_close()


def received(m, opcode, tid):
    """The daemon (run with -d) has received a request @opcode from thread @tid."""
    return any(f"opcode: {opcode} " in line and line.endswith(f"pid: {tid}")
               for line in m.stderr().splitlines())


def waits_in(t, where):
    """Thread @t sleeps in kernel function @where (its wchan)."""
    try:
        with open(f"/proc/self/task/{t.tid}/wchan") as f:
            return f.read().strip() == where
    except OSError:
        return False


def in_thread(fn):
    """Runs @fn in a thread: the thread (its tid in .tid once it runs), and its result
    or exception in .out once joined."""
    t = threading.Thread(target=lambda: _run(t, fn), daemon=True)
    t.tid, t.out = None, None
    t.start()
    wait_for(lambda: t.tid, "the thread to start")
    return t


def _run(t, fn):
    t.tid = threading.get_native_id()
    try:
        t.out = fn()
    except Exception as e:  # the test looks at it
        t.out = e


def test_a_listing_has_what_this_mount_made_despite_a_slower_reader(acct, mounts):
    """The kernel caches a directory (no-opendir) from whichever reader's reply it takes
    first, keyed by the directory's mtime when a reader started on it, and sends one
    READDIR of a directory at a time.  A reader whose READDIR was answered from the
    listing before our create, and taken in after we started to list with the new
    mtime, filled that cache with the old listing: from then on our own listing lacked
    the record we made (the load test's "listing of products lacks ['129.json']").
    Here the slower reader's READDIR waits on a PDF fetch the proxy holds, while we
    save a new invoice and start to list: every listing of ours after that save must
    hold the new invoice."""
    proxy = GateProxy(acct)

    class Via:
        url, base = proxy.url, proxy.base
    try:
        m = mounts(Via, opts=["ttl=60"], extra_args=["-d"])
        inv = m.path("invoices")
        first = sorted(n for n in os.listdir(inv) if n.endswith(".pdf"))[0]
        pdf = "/api/v1/invoices_pdf/" + urllib.parse.quote(unstem(first[:-4]), safe="")
        scenario = False
        for attempt in range(3):
            # our new file, made (a create needs the directory to itself) but not sent
            new = {"clientnr": 1, "action": "send", "sendmethod": "email",
                   "lines": [{"amount": 1, "description": f"Race {attempt}", "price": 10,
                              "tax_rate": 21}]}
            fd = os.open(os.path.join(inv, f"race-{attempt}.json"),
                         os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.write(fd, json.dumps(new).encode())
            # the slower reader: its READDIR waits on a PDF fetch that is held
            hold = proxy.gate(pdf)
            tx = in_thread(lambda: open(os.path.join(inv, first), "rb").read())
            wait_for(lambda: proxy.held[pdf] == 1, "the PDF fetch held")
            with open(m.path(".factuurfs", "refresh"), "w") as f:
                f.write("invoices")  # the kernel lists the directory anew
            y = in_thread(lambda: sorted(os.listdir(inv)))
            wait_for(lambda: received(m, "READDIRPLUS", y.tid) and
                     waits_in(y, "request_wait_answer"), "the slower reader's READDIR")
            # our save (the POST), then our listing: it starts, and waits for the
            # slower one's READDIR
            os.close(fd)
            made = [c["change"] for c in m.status()["last_changes"]
                    if c["change"].endswith(f"from invoices/race-{attempt}.json")]
            nr = made[0].split()[1].split("/", 1)[1]
            name = stem(nr) + ".json"
            w = in_thread(lambda: sorted(os.listdir(inv)))
            wait_for(lambda: waits_in(w, "fuse_lock_inode"), "our listing behind it")
            hold.set()
            for t in (y, w, tx):
                t.join(DEADLINE)
                assert not isinstance(t.out, Exception), t.out
            scenario = name not in y.out  # the slower one listed from before the save
            assert name in w.out
            # and every listing after: the kernel's cache must not be the slower one's
            for _ in range(3):
                assert name in os.listdir(inv), f"{name} missing after its save"
            if scenario:
                break
        print(f"attempts: {attempt + 1}, the slower reader listed before the save: "
              f"{scenario}")
    finally:
        proxy.close()


def getdents(fd, size):
    """One getdents64(2) of at most @size bytes on directory @fd: its names."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(size)
    n = libc.syscall(217, fd, buf, size)  # SYS_getdents64 on x86-64
    if n < 0:
        raise OSError(ctypes.get_errno(), "getdents64")
    names, off, raw = [], 0, buf.raw[:n]
    while off < n:
        reclen = int.from_bytes(raw[off + 16:off + 18], "little")
        names.append(raw[off + 19:off + reclen].split(b"\0", 1)[0].decode())
        off += reclen
    return names


def test_a_directory_read_in_pieces_keeps_the_listing_it_began_with(acct, mounts):
    """A directory is read with one READDIR after another (here two names each), and
    its listing may be replaced in between.  Counted in the new listing, a position
    skipped a name (one removed before it) or gave one twice: a record this mount had
    just created went missing from a listing that began after it was made.  A read goes
    on in the listing it began with; the next one shows the new."""
    m = mounts(acct, opts=["ttl=60"])
    coll = m.path("products")
    body = {"code": "MINE", "name": "Mine", "price": 1, "taxes": 21}
    assert save(os.path.join(coll, "mine.json"), json.dumps(body)) == 0
    mine = [p for p in acct.state("products") if p["code"] == "MINE"][0]["id"]
    began = sorted(os.listdir(coll))
    assert f"{mine}.json" == began[-1]
    fd = os.open(coll, os.O_RDONLY | os.O_DIRECTORY)
    try:
        got = []
        while not got or got[-1] != began[-2]:  # up to the name before ours
            got += getdents(fd, 64)
        # another record goes on the service, and the listing is fetched anew
        gone = began[0]
        acct.delete_state("products", gone[:-len(".json")])
        with open(m.path(".factuurfs", "refresh"), "w") as f:
            f.write("products")
        now = sorted(os.listdir(coll))
        assert gone not in now and f"{mine}.json" in now
        while True:
            more = getdents(fd, 64)
            if not more:
                break
            got += more
    finally:
        os.close(fd)
    got = [n for n in got if n not in (".", "..")]
    assert got == began, f"read in pieces: {got}, listed when it began: {began}"
    assert sorted(os.listdir(coll)) == now
