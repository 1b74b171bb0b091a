#!/usr/bin/python3
"""The trip of a read and of a save through src/'s modules, as the binary takes it.

For each commit named it builds the binary from that commit's tree (`git archive` into
build/trip/, kept for the next run) with -finstrument-functions and a small
hook library of its own, mounts it over the bundled fake service (tests/harness.py) and
records every function entered on the FUSE worker threads during

  read  a cold `cat clients/1.json` (a fresh mount, nothing fetched yet but the
        balance that checks the credentials);
  save  then one edit of that client's JSON: open(O_WRONLY|O_TRUNC), write, close.

Each function is mapped to its source file (addr2line on the built binary), the file to
its module and layer as scripts/layers.py has them (the measured commit's own LAYERS),
and it prints, as markdown for a note (a function the compiler inlined is entered too:
the instrumentation stays in its inlined copies):

  - per FUSE request (the operation libfuse called) the modules entered in order,
    consecutive repeats collapsed and a repeated run written once with its count;
  - the layers entered, the calls that cross a layer, the distinct layers, modules and
    files (headers included: a static inline of vec.h is in base/vec.h);
  - the calls back up: a call whose caller's layer is below its callee's, by the
    caller as the thread's shadow stack has it, so a function pointer called back from a
    lower layer counts, and so does one a library (curl, qsort) called back, by the
    module that handed it over.

Work on other threads (the persist thread, a refresh behind) is counted beside the
trip, not in it.

    scripts/trip.py [--clients N] [-o FILE] [COMMIT ...]      (default: HEAD)
    scripts/trip.py c01b5cb main -o docs/bench/trip.md       before and after, side by side

Needs root (FUSE), git, cc, meson, ninja and addr2line; the fake comes from this tree.
Takes about 20 s a commit to build (once) and 5 s to measure.
"""
import argparse
import collections
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import harness  # noqa: E402

HOOKS = r"""
/* -finstrument-functions hooks.  While the control byte (TRIP_CTL, mapped) is '1',
 * every function entry is one line "tid depth fn caller site" of TRIP_OUT: offsets in
 * the executable; caller is the innermost instrumented function still running on the
 * thread (0: none, libfuse called it); site is the return address, 0 when it is
 * outside the executable (a library called the function back). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NI __attribute__((no_instrument_function))
#define DEPTH 1024

static volatile const char *ctl;
static int out = -1;
static uintptr_t lo, hi;
static __thread uintptr_t stack[DEPTH];
static __thread int depth;
static __thread long tid;

NI static int phdr(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size; (void)data;
	if (info->dlpi_name && info->dlpi_name[0])
		return 0;  /* the executable is the entry without a name */
	lo = info->dlpi_addr;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		uintptr_t end = info->dlpi_addr + p->p_vaddr + p->p_memsz;
		if (p->p_type == PT_LOAD && end > hi)
			hi = end;
	}
	return 1;
}

NI __attribute__((constructor)) static void trip_init(void)
{
	const char *c = getenv("TRIP_CTL"), *o = getenv("TRIP_OUT");
	if (!c || !o)
		return;
	int fd = open(c, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	void *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return;
	out = open(o, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	dl_iterate_phdr(phdr, NULL);
	ctl = m;
}

NI void __cyg_profile_func_enter(void *fn, void *site)
{
	uintptr_t f = (uintptr_t)fn, s = (uintptr_t)site;
	uintptr_t caller = depth > 0 && depth <= DEPTH ? stack[depth - 1] : 0;
	if (ctl && ctl[0] == '1' && out >= 0) {
		if (!tid)
			tid = syscall(SYS_gettid);
		char line[96];
		int n = snprintf(line, sizeof line, "%ld %d %lx %lx %lx\n", tid, depth,
				 (unsigned long)(f - lo), (unsigned long)(caller ? caller - lo : 0),
				 (unsigned long)(s >= lo && s < hi ? s - lo : 0));
		if (write(out, line, (size_t)n) < 0)
			out = -1;
	}
	if (depth < DEPTH)
		stack[depth] = f;
	depth++;
}

NI void __cyg_profile_func_exit(void *fn, void *site)
{
	(void)fn; (void)site;
	if (depth > 0)
		depth--;
}
"""

OPS = [("read", "cold `cat clients/1.json`"),
       ("save", "`clients/1.json`: open(O_TRUNC), write, close")]


def git(*args):
    return subprocess.run(["git", "-C", ROOT, *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def build(commit, log):
    """The instrumented binary of @commit (a full hash) and its source tree; built once
    into build/trip/<commit>-<the hooks' hash>/."""
    hooks = hashlib.sha256(HOOKS.encode()).hexdigest()[:8]
    top = os.path.join(ROOT, "build", "trip", f"{commit}-{hooks}")
    src, bld = os.path.join(top, "src"), os.path.join(top, "build")
    binary = os.path.join(bld, "factuurfs")
    if os.path.exists(binary):
        return binary, src
    shutil.rmtree(top, ignore_errors=True)
    os.makedirs(src)
    with open(os.path.join(top, "hooks.c"), "w") as f:
        f.write(HOOKS)
    subprocess.run(["cc", "-O2", "-fPIC", "-shared", "-o", os.path.join(top, "libtriphooks.so"),
                    os.path.join(top, "hooks.c")], check=True)
    archive = subprocess.Popen(["git", "-C", ROOT, "archive", commit], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", src], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        sys.exit(f"trip: git archive {commit} failed")
    print(f"trip: building {commit[:12]} in {top}", file=log)
    with open(os.path.join(top, "build.log"), "w") as out:
        subprocess.run(["meson", "setup", bld, src,
                        "-Dc_args=-finstrument-functions "
                        "-finstrument-functions-exclude-file-list=/usr/include",
                        f"-Dc_link_args=-L{top} -ltriphooks -Wl,-rpath,{top}"],
                       check=True, stdout=out, stderr=subprocess.STDOUT)
        subprocess.run(["nice", "ninja", "-C", bld, "factuurfs"], check=True, stdout=out,
                       stderr=subprocess.STDOUT)
    return binary, src


def layers_of(src):
    """The LAYERS list of the tree's scripts/layers.py (this tree's when it has none)."""
    for path in (os.path.join(src, "scripts", "layers.py"),
                 os.path.join(ROOT, "scripts", "layers.py")):
        try:
            text = open(path, encoding="utf-8").read()
        except FileNotFoundError:
            continue
        m = re.search(r"^LAYERS = (\[[^\]]*\])", text, re.M)
        if m:
            return eval(m.group(1), {})  # a list of string literals
    sys.exit("trip: no LAYERS in scripts/layers.py")


class Symbols:
    """Function offsets of one binary -> (name, file under src/)."""

    def __init__(self, binary, src):
        self.binary, self.src = binary, os.path.realpath(src)
        self.known = {}

    def resolve(self, offsets):
        new = sorted({o for o in offsets if o and o not in self.known})
        if not new:
            return
        r = subprocess.run(["addr2line", "-f", "-e", self.binary, *[hex(o) for o in new]],
                           check=True, capture_output=True, text=True)
        lines = r.stdout.splitlines()
        for i, o in enumerate(new):
            name, where = lines[2 * i], lines[2 * i + 1].rsplit(":", 1)[0]
            self.known[o] = (name, self.rel(where))

    def rel(self, where):
        """'/…/build/trip/<c>/src/src/store/cache.c' -> 'store/cache.c'; None outside src/."""
        if where.startswith("??"):
            return None
        path = os.path.realpath(os.path.join(os.path.dirname(self.binary), where))
        base = os.path.join(self.src, "src") + os.sep
        return path[len(base):] if path.startswith(base) else None

    def __getitem__(self, off):
        return self.known.get(off, ("?", None))


def module_of(rel):
    return os.path.splitext(rel)[0] if rel else "?"


def layer_of(rel):
    if not rel:
        return "?"
    return rel.split("/")[0] if "/" in rel else "top"


def record(binary, nclients, log):
    """Mounts @binary over the fake, does the read and the save; returns
    {op: [(tid, depth, fn, caller, site)]} and the fake's requests for each."""
    work = tempfile.mkdtemp(prefix="factuurfs-trip-")
    ctl = os.path.join(work, "ctl")
    out = os.path.join(work, "trace")
    with open(ctl, "wb") as f:
        f.write(b"0" * 4096)
    fd = os.open(ctl, os.O_WRONLY)
    n = nclients
    fake = harness.Fake(work, "--generate", f"clients={n},invoices={n},products={n}",
                        "--rate-limit", "100000")
    events, calls = {}, {}
    harness.FACTUURFS = binary
    m = None
    try:
        # prefetch=0: nothing fetched in the background (a commit before noarchive has it).
        m = harness.Mount(fake, work, opts=["prefetch=0"],
                          env={"TRIP_CTL": ctl, "TRIP_OUT": out})
        path = m.path("clients", "1.json")

        def during(op, action):
            start = os.path.getsize(out) if os.path.exists(out) else 0
            mark = fake.mark()
            os.pwrite(fd, b"1", 0)
            try:
                action()
            finally:
                os.pwrite(fd, b"0", 0)
            with open(out) as f:
                f.seek(start)
                events[op] = [tuple(int(x, 16) if i > 1 else int(x)
                                    for i, x in enumerate(line.split()))
                              for line in f if line.endswith("\n")]
            calls[op] = [f"{r['method']} {r['path'].split('?')[0].replace('/api/v1/', '')}"
                         for r in fake.since(mark)]

        text = {}

        def read():
            r = subprocess.run(["cat", path], capture_output=True, text=True, check=True)
            text["read"] = r.stdout

        during("read", read)
        edited = text["read"].replace('"city": "', '"city": "Trip ', 1)
        assert edited != text["read"], "no city in clients/1.json"

        def save():
            err = harness.save(path, edited)
            assert err == 0, f"the save failed: {os.strerror(err)}"

        during("save", save)
        assert any(c.startswith("PUT ") for c in calls["save"]), calls["save"]
    finally:
        os.close(fd)
        if m is not None:
            rc = m.unmount()
            if rc != 0:
                print(f"trip: factuurfs exited {rc}: {m.stderr()}", file=log)
        fake.stop()
    shutil.rmtree(work, ignore_errors=True)
    return events, calls


def compress(seq, longest=24):
    """Consecutive repeats collapsed; a run repeated back to back written once, with its
    count: [a, b, a, b, a, b, c] -> ['(a → b) ×3', 'c']."""
    flat = [x for i, x in enumerate(seq) if i == 0 or seq[i - 1] != x]
    out, i = [], 0
    while i < len(flat):
        best = (1, 1)  # (period, times)
        for p in range(2, longest + 1):
            k = 1
            while flat[i + k * p:i + (k + 1) * p] == flat[i:i + p] and len(flat[i:i + p]) == p:
                k += 1
            if k > 1 and k * p > best[0] * best[1]:
                best = (p, k)
        p, k = best
        if k > 1:
            out.append("(" + " → ".join(flat[i:i + p]) + f") ×{k}")
        else:
            out.append(flat[i])
        i += p * k
    return out


class Trip:
    """One operation's recorded entries, split by FUSE request."""

    def __init__(self, events, syms, layers):
        self.layers = layers
        syms.resolve([e[2] for e in events] + [e[3] for e in events])
        self.syms = syms
        self.requests = []       # [(root function, [fn entered], [(caller, callee)])]
        self.other = collections.Counter()  # module -> entries on other threads
        current = {}             # tid -> the request being recorded on it
        for tid, depth, fn, caller, _site in events:
            name, rel = syms[fn]
            if depth == 0:
                if layer_of(rel) == "fuse":
                    current[tid] = (fn, [], [])
                    self.requests.append(current[tid])
                else:
                    current.pop(tid, None)
            req = current.get(tid)
            if req is None:
                self.other[module_of(rel)] += 1
                continue
            req[1].append(fn)
            if depth > 0 and caller:
                req[2].append((caller, fn))
        self.edges = [e for _, _, edges in self.requests for e in edges]

    def entered(self, req, of=module_of):
        """The modules (of=layer_of: layers) a request entered, in order: its root's,
        then the callee's of every call from another one."""
        root, _, edges = req
        seq = [of(self.syms[root][1])]
        for a, b in edges:
            if of(self.syms[a][1]) != of(self.syms[b][1]):
                seq.append(of(self.syms[b][1]))
        return compress(seq)

    def rank(self, rel):
        lay = layer_of(rel)
        return self.layers.index(lay) if lay in self.layers else -1

    def entries(self):
        return [fn for _, fns, _ in self.requests for fn in fns]

    def files(self):
        return {self.syms[fn][1] or "?" for fn in self.entries()}

    def modules(self):
        return {module_of(r) for r in self.files()}

    def layer_set(self):
        return {layer_of(r) for r in self.files()}

    def crossings(self):
        """(caller layer, callee layer) -> calls, for the calls between two layers."""
        c = collections.Counter()
        for a, b in self.edges:
            la, lb = layer_of(self.syms[a][1]), layer_of(self.syms[b][1])
            if la != lb:
                c[(la, lb)] += 1
        return c

    def calls_up(self):
        """(caller function, its module, callee function, its module) -> calls."""
        c = collections.Counter()
        for a, b in self.edges:
            (na, ra), (nb, rb) = self.syms[a], self.syms[b]
            if ra and rb and self.rank(ra) >= 0 and self.rank(rb) > self.rank(ra):
                c[(na, module_of(ra), nb, module_of(rb))] += 1
        return c

def report(label, subject, trips, calls, nclients, out):
    print(f"### {label}: {subject}\n", file=out)
    print(f"{nclients} clients in the fake's account; the layers, bottom up: "
          f"{', '.join(trips['read'].layers)}. A sequence names the request's own module, "
          f"then the callee's of every call into another module (layer), in time order: "
          f"returns are not shown.\n", file=out)
    for op, what in OPS:
        t = trips[op]
        print(f"#### {op}: {what}\n", file=out)
        print(f"API calls: {', '.join(calls[op]) or 'none'}.\n", file=out)
        print("| FUSE request | layers crossed | modules entered |", file=out)
        print("| --- | --- | --- |", file=out)
        for req in t.requests:
            print(f"| `{t.syms[req[0]][0]}` | {' → '.join(t.entered(req, layer_of))} "
                  f"| {' → '.join(t.entered(req))} |", file=out)
        print("", file=out)
        cross = t.crossings()
        print(f"- function entries: {len(t.entries())} on the FUSE worker threads "
              f"({sum(t.other.values())} on other threads"
              + (f": {', '.join(m for m, _ in t.other.most_common(6))}" if t.other else "")
              + ")", file=out)
        print(f"- {len(t.layer_set())} layers, {len(t.modules())} modules, "
              f"{len(t.files())} files: {', '.join(sorted(t.modules()))}", file=out)
        print(f"- calls between layers: {sum(cross.values())} ("
              + ", ".join(f"{a}→{b} {n}" for (a, b), n in sorted(cross.items())) + ")",
              file=out)
        up = t.calls_up()
        print(f"- calls back up: {sum(up.values())}"
              + ("".join(f"\n  - `{na}` ({ma}) → `{nb}` ({mb})" + (f" ×{n}" if n > 1 else "")
                         for (na, ma, nb, mb), n in sorted(up.items())) if up else ""),
              file=out)
        print("", file=out)


def side_by_side(results, out):
    print("| | " + " | ".join(f"{op}: {label}" for op, _ in OPS for label, _, _, _ in results)
          + " |", file=out)
    print("|---" * (1 + len(OPS) * len(results)) + "|", file=out)
    rows = [("FUSE requests", lambda t: len(t.requests)),
            ("function entries", lambda t: len(t.entries())),
            ("modules entered (the sequences' length)",
             lambda t: sum(len(t.entered(r)) for r in t.requests)),
            ("layers crossed (the sequences' length)",
             lambda t: sum(len(t.entered(r, layer_of)) for r in t.requests)),
            ("distinct layers", lambda t: len(t.layer_set())),
            ("distinct modules", lambda t: len(t.modules())),
            ("distinct files", lambda t: len(t.files())),
            ("calls between layers", lambda t: sum(t.crossings().values())),
            ("calls back up", lambda t: sum(t.calls_up().values()))]
    for name, f in rows:
        cells = " | ".join(str(f(trips[op])) for op, _ in OPS for _, _, trips, _ in results)
        print(f"| {name} | {cells} |", file=out)
    print("", file=out)


def main():
    ap = argparse.ArgumentParser(description="The trip of a read and of a save, per commit.")
    ap.add_argument("commits", nargs="*", default=["HEAD"])
    ap.add_argument("--clients", type=int, default=3, help="clients in the fake (default 3)")
    ap.add_argument("-o", "--output", help="write the markdown here (default: stdout)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("trip: needs root (FUSE mounts)")
    results = []
    for c in args.commits:
        full = git("rev-parse", "--verify", c + "^{commit}")
        binary, src = build(full, sys.stderr)
        layers = layers_of(src)
        events, calls = record(binary, args.clients, sys.stderr)
        syms = Symbols(binary, src)
        trips = {op: Trip(events[op], syms, layers) for op, _ in OPS}
        subject = git("log", "-1", "--format=%cd %s", "--date=short", full)
        label = c if full.startswith(c) else f"{c} ({full[:7]})"
        results.append((label, subject if len(subject) <= 90 else subject[:89] + "…",
                        trips, calls))
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    print(f"## The trip of a read and of a save (`scripts/trip.py "
          f"{' '.join(args.commits)}`)\n", file=out)
    if len(results) > 1:
        side_by_side(results, out)
    for label, subject, trips, calls in results:
        report(label, subject, trips, calls, args.clients, out)
    if out is not sys.stdout:
        out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
