"""The measurements of scripts/bench.sh (run it, not this)."""
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from harness import Fake, Mount, is_mounted, wait_for  # noqa: E402

NFILES, RUNS = int(sys.argv[1]), int(sys.argv[2])
BENCH = os.path.abspath("build/bench")


def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def measure(d):
    """Warm medians: cat of every file, ls -l of the directory."""
    cat = f"find {d} -maxdepth 1 -type f -print0 | xargs -0 cat"
    ls = f"ls -l {d}"
    timed(cat), timed(ls)  # warm up: everything cached from here on
    return (statistics.median(timed(cat) for _ in range(RUNS)),
            statistics.median(timed(ls) for _ in range(RUNS)))


def tmpfs_copy(src, work):
    d = tempfile.mkdtemp(dir=work)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", d], check=True)
    subprocess.run(f"cp -a {src}/. {d}/", shell=True, check=True)
    return d


def fuse_ref(prog, args, work):
    d = tempfile.mkdtemp(dir=work)
    p = subprocess.Popen([os.path.join(BENCH, prog), d, *args])
    wait_for(lambda: is_mounted(d), prog)
    return d, p


def umount(d):
    subprocess.run(["umount", d], check=True)


def main():
    work = tempfile.mkdtemp(prefix="factuurfs-bench-")
    rows = []
    # The reference programs: 640-byte files, as in DESIGN.md's measurements.
    ref_src = tempfile.mkdtemp(dir=work)
    for i in range(NFILES):
        with open(os.path.join(ref_src, f"{i:05d}.json"), "w") as f:
            f.write("x" * 640)
    t640 = tmpfs_copy(ref_src, work)
    base = measure(t640)
    for prog, args in (("ideal_fs", ["-f", "-o", f"nfiles={NFILES}"]),
                       ("ideal_ll", [str(NFILES)])):
        d, p = fuse_ref(prog, args, work)
        rows.append((prog + " (640 B files)", base, measure(d)))
        umount(d)
        p.wait()
    umount(t640)

    # factuurfs: NFILES clients from the fake, against the same files on tmpfs;
    # read-write (every close() is a FLUSH round trip, so that close() can
    # report a refused save) and read-only (-o ro: no FLUSH at all).
    fake = Fake(work, "--generate", f"clients={NFILES},invoices=1,products=1",
                "--rate-limit", "1000000")
    calls = []
    tcl = None
    for label, opts in (("", ["ttl=3600"]), (", -o ro", ["ttl=3600", "ro"])):
        mark = fake.mark()
        m = Mount(fake, work, opts=opts)
        clients = m.path("clients")
        os.listdir(clients)
        if tcl is None:
            tcl = tmpfs_copy(clients, work)
            size = sum(os.path.getsize(os.path.join(tcl, n)) for n in os.listdir(tcl)) // NFILES
            base = measure(tcl)
        rows.append((f"factuurfs{label} (~{size} B)", base, measure(clients)))
        calls.append(len(fake.since(mark)))
        m.unmount()
    umount(tcl)
    fake.stop()

    print(f"\n{NFILES} files, warm, median of {RUNS} runs; ratio = time / same files on tmpfs\n")
    print(f"{'filesystem':34} {'cat all (s)':>12} {'ratio':>7} {'ls -l (s)':>11} {'ratio':>7}")
    for name, (bc, bl), (c, l) in rows:
        print(f"{name:34} {c:12.3f} {c / bc:7.2f} {l:11.3f} {l / bl:7.2f}")
    print(f"\nAPI calls per factuurfs mount, benchmark included: {calls} "
          "(the mount's check, then the listing: a full page and the empty one after it)")


main()
